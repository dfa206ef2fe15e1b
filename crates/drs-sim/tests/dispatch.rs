//! find over the simulator: every page of active executions, each polled in-process.

use drs_sim::{Api, Sim, SimConfig};
use execution_core::api::Target;
use execution_core::fixtures;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::ops::{self, FindConfig};
use execution_core::ports::{DispatchError, ExecutionStore, PollDispatch};
use execution_core::status::ExecutionStatus;

async fn launched(sim: &Sim) -> Target {
    let plan = fixtures::plan(&[2]);
    let target = sim.create(&plan, ExecutionId::new_random()).await.unwrap();
    ops::launch(
        sim.store.as_ref(),
        &sim.drs,
        sim.clock.as_ref(),
        &sim.policy,
        &target,
    )
    .await
    .unwrap();
    target
}

#[tokio::test]
async fn find_polls_every_active_execution_across_pages() {
    let sim = Sim::new(SimConfig {
        store_page_size: 2,
        ..SimConfig::default()
    });
    let mut targets = Vec::new();
    for _ in 0..5 {
        targets.push(launched(&sim).await);
    }
    // A PENDING execution is not active: find does not poll it.
    let idle = fixtures::plan(&[1]);
    sim.create(&idle, ExecutionId::new_random()).await.unwrap();
    sim.clock.advance_secs(30);

    let config = FindConfig {
        concurrency: 4,
        deadline_millis: i64::MAX,
        poll_budget_millis: 0,
    };
    let found = ops::find(
        sim.store.as_ref(),
        &sim.dispatch(),
        sim.clock.as_ref(),
        &config,
    )
    .await
    .unwrap();
    assert_eq!((found.executions_found, found.executions_polled), (5, 5));
    assert_eq!(sim.calls.count(Api::InvokePoll), 5);
    assert_eq!(
        sim.store.counts().list_active_pages,
        3,
        "5 executions, 2 per page"
    );
    for t in &targets {
        let e = sim.store.get(t.execution_id).unwrap();
        assert_eq!(e.header.last_polled_time, Some(sim.clock.now()));
    }
}

#[tokio::test]
async fn a_failed_poll_is_reported_with_its_answer() {
    let sim = Sim::new(SimConfig::default());
    let dispatch = sim.dispatch();
    let err = dispatch
        .poll(ExecutionId::new_random(), PlanId::new_random())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DispatchError::PollFailed(m) if m.starts_with("404 NOT_FOUND")),
        "{err:?}"
    );

    let t = launched(&sim).await;
    assert_eq!(
        dispatch.poll(t.execution_id, t.plan_id).await,
        Ok(ExecutionStatus::Polling)
    );
    sim.calls.fail_with_5xx(Api::InvokePoll, 1);
    assert!(matches!(
        dispatch.poll(t.execution_id, t.plan_id).await,
        Err(DispatchError::Service(_))
    ));
    assert!(sim.store.load(t.execution_id).await.unwrap().is_some());
}
