//! Pre-flight (what DRS says of each server, who holds it) and the holds a start takes.

use crate::api::{Request, StartRequest};
use crate::error::OperationError;
use crate::fixtures::{self, plan, server};
use crate::ids::ExecutionId;
use crate::model::Timestamp;
use crate::ops::testing::*;
use crate::ports::mocks::MockDrs;
use crate::ports::{LastLaunch, ServerHold, ServerLocks, SourceServer};
use crate::preflight::{
    check, replication, HeldServer, Holder, PreflightProblem, PreflightWarning, Replication,
    HOLD_GRACE_SECS,
};
use crate::rules::Policy;
use crate::status::{ExecutionStatus as E, LaunchStatus};

fn described(n: usize, state: &str) -> SourceServer {
    SourceServer {
        source_server_id: server(n),
        hostname: None,
        replication_state: Some(state.to_owned()),
        replication_error: None,
        last_launch: None,
        recovery_instance_id: None,
    }
}

fn other() -> ExecutionId {
    ExecutionId::parse("0b9c3a52-64b0-4d87-9d1a-6f0f4f2b7c11").unwrap()
}

#[test]
fn every_replication_state_drs_documents_is_judged() {
    let cases = [
        ("CONTINUOUS", Replication::Healthy),
        ("BACKLOG", Replication::Behind),
        ("CREATING_SNAPSHOT", Replication::Behind),
        ("RESCAN", Replication::Behind),
        ("STALLED", Replication::Unhealthy),
        ("DISCONNECTED", Replication::Unhealthy),
        ("INITIATING", Replication::Unhealthy),
        ("INITIAL_SYNC", Replication::Unhealthy),
        ("PAUSED", Replication::Unhealthy),
        ("STOPPED", Replication::Unhealthy),
        ("PENDING_SNAPSHOT_SHIPPING", Replication::Unknown),
    ];
    for (state, verdict) in cases {
        assert_eq!(replication(Some(state)), verdict, "{state}");
        let p = plan(&[1]);
        let found = check(&p, 100, Some(&[described(0, state)]), &[]);
        match verdict {
            Replication::Healthy => assert!(found.problems.is_empty() && found.warnings.is_empty()),
            Replication::Behind => assert!(
                matches!(
                    found.warnings[..],
                    [PreflightWarning::ReplicationBehind { .. }]
                ),
                "{state}: {found:?}"
            ),
            Replication::Unhealthy => assert!(
                matches!(&found.problems[..], [PreflightProblem::ReplicationUnhealthy { state: s, .. }] if s == state),
                "{state}: {found:?}"
            ),
            Replication::Unknown => assert!(
                matches!(
                    found.warnings[..],
                    [PreflightWarning::ReplicationUnknown { .. }]
                ),
                "{state}: {found:?}"
            ),
        }
    }
    assert_eq!(replication(None), Replication::Unknown);
}

#[test]
fn every_problem_is_listed_not_only_the_first() {
    let p = plan(&[3, 2]);
    let mut disconnected = described(2, "DISCONNECTED");
    disconnected.replication_error = Some("AGENT_NOT_SEEN".into());
    let mut busy = described(3, "CONTINUOUS");
    busy.last_launch = Some(LastLaunch {
        job_id: Some(fixtures::job(7)),
        kind: Some("DRILL".into()),
        status: Some(LaunchStatus::InProgress),
    });
    let drs = [
        described(0, "STALLED"),
        described(1, "CONTINUOUS"),
        disconnected,
        busy,
    ];
    let held = [HeldServer {
        source_server_id: server(1),
        execution_id: other(),
        holder: Holder::Active(E::Polling),
    }];
    let found = check(&p, 100, Some(&drs), &held);
    assert_eq!(found.problems.len(), 5, "{found:?}");
    assert!(
        matches!(&found.problems[0], PreflightProblem::ReplicationUnhealthy { source_server_id, .. } if *source_server_id == server(0))
    );
    assert_eq!(
        found.problems[1],
        PreflightProblem::ReplicationUnhealthy {
            source_server_id: server(2),
            state: "DISCONNECTED".into(),
            error: Some("AGENT_NOT_SEEN".into()),
        }
    );
    assert!(
        matches!(&found.problems[2], PreflightProblem::InRunningJob { job_id: Some(j), .. } if *j == fixtures::job(7))
    );
    assert!(
        matches!(&found.problems[3], PreflightProblem::NotInDrs { source_server_id } if *source_server_id == server(4))
    );
    assert_eq!(
        found.problems[4],
        PreflightProblem::HeldByExecution {
            execution_id: other(),
            status: Some(E::Polling),
            source_server_ids: vec![server(1)],
        }
    );
    assert!(found.problems[4].to_string().contains(&other().to_string()));
}

#[test]
fn a_hold_binds_only_while_its_execution_runs_or_may_still_be_starting() {
    assert!(Holder::Active(E::Paused).binds());
    assert!(!Holder::Ended.binds());
    assert!(
        Holder::Missing { age_secs: 10 }.binds(),
        "a start in progress"
    );
    assert!(
        !Holder::Missing {
            age_secs: HOLD_GRACE_SECS
        }
        .binds(),
        "a start that died before creating its record"
    );
}

#[test]
fn job_sizes_past_drs_quota_are_a_problem_and_several_jobs_a_warning() {
    let p = plan(&[250]);
    let found = check(&p, 201, None, &[]);
    assert!(matches!(
        found.problems[..],
        [PreflightProblem::JobSize { max: 201 }]
    ));
    let found = check(&p, 100, None, &[]);
    assert!(found.problems.is_empty());
    assert!(matches!(
        found.warnings[..],
        [PreflightWarning::SeveralJobs {
            jobs: 3,
            servers: 250,
            ..
        }]
    ));
}

fn start(id: ExecutionId) -> Request {
    Request::Start(StartRequest {
        plan: Box::new(plan(&[2, 1])),
        execution_id: Some(id),
        poll_interval_seconds: None,
    })
}

#[tokio::test]
async fn a_refused_start_writes_nothing_and_lists_every_problem() {
    let mut drs = MockDrs::new();
    // DRS knows server 1 only, and its replication is disconnected.
    drs.expect_describe_source_servers()
        .returning(|_| Ok(vec![described(1, "DISCONNECTED")]));
    let w = World::empty().with_drs(drs);
    let answer = w.run(100, start(fixtures::execution_id())).await;
    assert_eq!(answer["statusCode"], 400, "{answer}");
    assert_eq!(answer["error"], "PREFLIGHT_FAILED");
    let problems = answer["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{answer}");
    assert_eq!(problems[0]["problem"], "NOT_IN_DRS");
    assert_eq!(problems[1]["problem"], "REPLICATION_UNHEALTHY");
    assert!(
        w.state().lock().unwrap().record.is_none(),
        "nothing created"
    );
    assert!(w.state().lock().unwrap().holds.is_empty(), "nothing held");
}

#[tokio::test]
async fn a_start_holds_its_servers_and_a_second_start_is_refused_naming_the_holder() {
    let w = World::empty()
        .with_drs(healthy_drs())
        .with_workflow(starts_any_run());
    let first = w.run(100, start(fixtures::execution_id())).await;
    assert_eq!(first["statusCode"], 200, "{first}");
    assert_eq!(w.state().lock().unwrap().holds.len(), 3);

    let second = w.run(110, start(other())).await;
    assert_eq!(second["statusCode"], 409, "{second}");
    assert_eq!(second["error"], "PREFLIGHT_FAILED");
    let problem = &second["problems"][0];
    assert_eq!(problem["problem"], "HELD_BY_EXECUTION");
    assert_eq!(problem["executionId"], fixtures::execution_id().to_string());
    assert_eq!(problem["sourceServerIds"].as_array().unwrap().len(), 3);
    let holds = w.state().lock().unwrap().holds.clone();
    assert!(holds
        .iter()
        .all(|h| h.execution_id == fixtures::execution_id()));
}

/// The holds themselves: a hold of an ended execution, or of one that never came to exist past the
/// grace period, is taken over; an active one refuses, and a refused take gives back what it took.
#[tokio::test]
async fn holds_of_ended_or_long_missing_executions_are_taken_over() {
    let policy = Policy::default();
    let p = plan(&[2]);
    let me = other();
    for (holder_record, age, taken) in [
        (Some(E::Completed), 10, true),
        (Some(E::Cancelled), 10, true),
        (None, HOLD_GRACE_SECS as i64, true),
        (None, 10, false),
        (Some(E::Paused), 10_000, false),
    ] {
        let context = format!("{holder_record:?} {age}");
        let w = match holder_record {
            Some(status) => {
                let mut e = crate::fixtures::execution(&[2]);
                e.header.status = status;
                if status.is_terminal() {
                    e.header.end_time = Some(Timestamp(50));
                    e.waves[0].status = crate::status::WaveStatus::Cancelled;
                }
                World::odd_or_new(e)
            }
            None => World::empty(),
        };
        let now = 20_000;
        w.state().lock().unwrap().holds = vec![ServerHold {
            source_server_id: server(1),
            execution_id: fixtures::execution_id(),
            since: Timestamp(now - age),
        }];
        w.clock.set_secs(now);
        let locks = TestLocks(w.state());
        let store = w.store();
        let result = crate::ops::take_holds(store, &locks, &w.clock, &policy, &p, me).await;
        let holds = locks.holds(&[server(0), server(1)]).await.unwrap();
        if taken {
            assert!(result.is_ok(), "{context}: {result:?}");
            assert!(
                holds.iter().all(|h| h.execution_id == me),
                "{context}: {holds:?}"
            );
            assert_eq!(holds.len(), 2, "{context}");
        } else {
            assert!(
                matches!(&result, Err(OperationError::Preflight(p)) if matches!(p.problems[..], [PreflightProblem::HeldByExecution { .. }])),
                "{context}: {result:?}"
            );
            assert!(
                holds
                    .iter()
                    .all(|h| h.execution_id == fixtures::execution_id()),
                "{context}: nothing taken: {holds:?}"
            );
        }
    }
}

/// A store whose create lands but whose answer is lost.
struct LostCreate(Box<dyn crate::ports::ExecutionStore>);

#[async_trait::async_trait]
impl crate::ports::ExecutionStore for LostCreate {
    async fn load(
        &self,
        id: ExecutionId,
    ) -> Result<Option<crate::model::Execution>, crate::ports::StoreError> {
        self.0.load(id).await
    }
    async fn create(
        &self,
        e: &crate::model::Execution,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), crate::ports::StoreError> {
        self.0.create(e, events).await?;
        Err(crate::ports::StoreError::Service(
            crate::ports::ServiceError::unavailable("the answer was lost"),
        ))
    }
    async fn list_active(
        &self,
        c: Option<String>,
    ) -> Result<crate::ports::ActivePage, crate::ports::StoreError> {
        self.0.list_active(c).await
    }
    async fn commit(&self, c: &crate::ports::Commit) -> Result<(), crate::ports::StoreError> {
        self.0.commit(c).await
    }
    async fn events(
        &self,
        id: ExecutionId,
        c: Option<String>,
    ) -> Result<crate::ports::EventPage, crate::ports::StoreError> {
        self.0.events(id, c).await
    }
    async fn touch(
        &self,
        id: ExecutionId,
        t: &crate::ports::Touch,
    ) -> Result<(), crate::ports::StoreError> {
        self.0.touch(id, t).await
    }
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_keeps_the_holds_of_the_execution_it_may_have_made() {
    let w = World::empty()
        .with_drs(healthy_drs())
        .with_store(LostCreate);
    let answer = w.run(100, start(fixtures::execution_id())).await;
    assert_eq!(answer["statusCode"], 500, "{answer}");
    assert!(
        w.state().lock().unwrap().record.is_some(),
        "the create landed"
    );
    let holds = w.state().lock().unwrap().holds.clone();
    assert_eq!(holds.len(), 3, "its servers stay held: {holds:?}");
    assert!(holds
        .iter()
        .all(|h| h.execution_id == fixtures::execution_id()));
}

/// An execution started before holds existed holds nothing: the backfill takes its free servers,
/// reports the one another execution holds, and changes nothing when run again.
#[tokio::test]
async fn the_backfill_gives_an_older_active_execution_its_holds() {
    let mut e = crate::fixtures::execution(&[2]);
    e.header.status = E::Polling;
    let w = World::new(e);
    w.clock.set_secs(1000);
    w.state().lock().unwrap().holds = vec![ServerHold {
        source_server_id: server(1),
        execution_id: other(),
        since: Timestamp(990),
    }];
    let locks = TestLocks(w.state());
    let done = crate::ops::backfill_holds(w.store(), &locks, &w.clock)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!((done[0].taken, done[0].held, done[0].raced), (1, 0, false));
    assert_eq!(done[0].held_by_others, [(server(1), other())]);
    let holds = locks.holds(&[server(0), server(1)]).await.unwrap();
    assert!(holds
        .iter()
        .any(|h| h.source_server_id == server(0) && h.execution_id == fixtures::execution_id()));

    let again = crate::ops::backfill_holds(w.store(), &locks, &w.clock)
        .await
        .unwrap();
    assert_eq!((again[0].taken, again[0].held), (0, 1), "nothing changes");
}
