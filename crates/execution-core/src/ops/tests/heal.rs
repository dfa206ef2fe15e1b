//! find's healing and the restart it shares with `drctl restart`.

use super::exec;
use crate::api::{PollInterval, WorkflowInput};
use crate::error::{OperationError, Refusal};
use crate::model::Timestamp;
use crate::ops::heal::{operator_needed_message, restart, RestartBy, Restarted};
use crate::ops::testing::*;
use crate::ops::{find_and_heal, FindConfig};
use crate::ports::mocks::{MockDispatch, MockWorkflow};
use crate::ports::{RunRef, RunState};
use crate::status::{ExecutionStatus as E, WaveStatus as W};

const RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-0";
const NEW: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:new";

fn conducted(status: E, polled: i64, restarts: &[i64]) -> Shared {
    let mut e = exec(status, &[W::Started, W::Pending]);
    e.header.workflow_run = Some(RUN.into());
    e.header.workflow_polled_time = Some(Timestamp(polled));
    e.header.last_polled_time = Some(Timestamp(polled));
    e.header.restarts = restarts.iter().copied().map(Timestamp).collect();
    shared(e)
}

fn polls_fine() -> MockDispatch {
    let mut d = MockDispatch::new();
    d.expect_poll().returning(|_, _| Ok(E::Polling));
    d
}

fn config() -> FindConfig {
    FindConfig {
        concurrency: 4,
        deadline_millis: i64::MAX,
        poll_budget_millis: 0,
    }
}

/// A workflow whose recorded run stands as `state`, and which starts runs as `NEW` (counting them).
fn workflow(state: RunState, starts: usize) -> MockWorkflow {
    let mut w = MockWorkflow::new();
    w.expect_run_state()
        .withf(|r| *r == RunRef::Id(RUN.into()))
        .returning(move |_| Ok(state.clone()));
    w.expect_start_run()
        .times(starts)
        .returning(|_, _| Ok(NEW.into()));
    w
}

#[tokio::test]
async fn find_restarts_an_execution_whose_run_has_ended() {
    let state = conducted(E::Polling, 1000, &[]);
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().returning(|_| {
        Ok(RunState::Ended {
            status: "FAILED".into(),
            poll_interval_seconds: Some(45),
        })
    });
    let id = record(&state).id();
    wf.expect_start_run()
        .times(1)
        .withf(move |input: &WorkflowInput, name: &str| {
            name == format!("{id}-h1200")
                && input.run_prefix.as_deref() == Some(name)
                && input.poll_interval_seconds == PollInterval::new(45).ok()
                && input.execution_id == id
        })
        .returning(|_, _| Ok(NEW.into()));
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&wf),
        &clock(1200),
        &config(),
    )
    .await
    .unwrap();
    assert_eq!(answer.executions_restarted, 1);
    assert_eq!(answer.restarts[0].workflow_run.as_deref(), Some(NEW));
    let r = record(&state);
    assert_eq!(r.status(), E::Polling, "a restart never changes the status");
    assert_eq!(r.header.restarts, vec![Timestamp(1200)]);
    assert!(
        r.header
            .status_message
            .as_deref()
            .is_some_and(|m| m.contains("FAILED") && m.contains("-h1200")),
        "{:?}",
        r.header.status_message
    );
    assert_eq!(
        r.header.workflow_run.as_deref(),
        Some(NEW),
        "the new run is named"
    );
    assert_eq!(r.header.workflow_polled_time, Some(Timestamp(1200)));
}

#[tokio::test]
async fn find_leaves_a_running_run_alone_and_does_not_ask_about_a_fresh_one() {
    // Polled 200 s ago: asked about, still running.
    let state = conducted(E::Polling, 1000, &[]);
    let before = record(&state);
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&workflow(RunState::Running, 0)),
        &clock(1200),
        &config(),
    )
    .await
    .unwrap();
    assert_eq!(answer.executions_restarted, 0);
    assert!(answer.restarts.is_empty());
    let after = record(&state);
    assert_eq!(after.header.version, before.header.version);
    assert_eq!(after.header.workflow_run.as_deref(), Some(RUN));

    // Polled 30 s ago: the workflow is not even asked.
    let state = conducted(E::Polling, 1170, &[]);
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().times(0);
    wf.expect_start_run().times(0);
    find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&wf),
        &clock(1200),
        &config(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn at_most_three_restarts_an_hour_then_the_record_says_an_operator_is_needed() {
    let ended = || RunState::Ended {
        status: "TIMED_OUT".into(),
        poll_interval_seconds: None,
    };
    let state = conducted(E::Polling, 2000, &[1000, 1500, 2000]);
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&workflow(ended(), 0)),
        &clock(2200),
        &config(),
    )
    .await
    .unwrap();
    assert_eq!(answer.executions_restarted, 0);
    assert_eq!(answer.restarts[0].outcome, "OPERATOR_NEEDED");
    let r = record(&state);
    assert_eq!(
        r.header.status_message.as_deref(),
        Some(operator_needed_message("TIMED_OUT").as_str())
    );
    assert_eq!(r.header.workflow_run.as_deref(), Some(RUN), "no new run");
    let version = r.header.version;

    // The next tick says so again without writing again.
    find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&workflow(ended(), 0)),
        &clock(2260),
        &config(),
    )
    .await
    .unwrap();
    assert_eq!(record(&state).header.version, version);

    // An hour after the first restart, find may restart it again; the hour's list is kept short.
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&workflow(ended(), 1)),
        &clock(4600),
        &config(),
    )
    .await
    .unwrap();
    assert_eq!(answer.executions_restarted, 1);
    assert_eq!(
        record(&state).header.restarts,
        vec![Timestamp(1500), Timestamp(2000), Timestamp(4600)]
    );
}

#[tokio::test]
async fn an_operator_may_restart_past_the_limit() {
    let state = conducted(E::Paused, 2000, &[1000, 1500, 2000]);
    let done = restart(
        &store(&state),
        &workflow(RunState::Missing, 1),
        &clock(2200),
        &target(),
        RestartBy::Operator,
    )
    .await
    .unwrap();
    assert!(
        matches!(done, Restarted::Run { ref run, .. } if run == NEW),
        "{done:?}"
    );
    let r = record(&state);
    assert_eq!(r.status(), E::Paused);
    assert_eq!(r.header.restarts.len(), 4);
    assert!(r
        .header
        .status_message
        .as_deref()
        .is_some_and(|m| m.contains("an operator")));
}

#[tokio::test]
async fn a_restart_is_refused_while_the_run_runs_and_for_a_finished_execution() {
    let state = conducted(E::Polling, 1000, &[]);
    let err = restart(
        &store(&state),
        &workflow(RunState::Running, 0),
        &clock(1200),
        &target(),
        RestartBy::Operator,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        OperationError::InvalidState(Refusal::RunStillRunning { run: RUN.into() })
    );
    assert_eq!(err.status_code(), 400);

    for status in [
        E::Completed,
        E::Failed,
        E::Cancelled,
        E::CompletedWithErrors,
    ] {
        let state = conducted(status, 1000, &[]);
        let mut wf = MockWorkflow::new();
        wf.expect_run_state().times(0);
        wf.expect_start_run().times(0);
        let err = restart(
            &store(&state),
            &wf,
            &clock(1200),
            &target(),
            RestartBy::Operator,
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, OperationError::InvalidState(Refusal::Finished { .. })),
            "{err:?}"
        );
        // find never lists it, so never heals it.
        let answer = find_and_heal(
            &store(&state),
            &polls_fine(),
            Some(&wf),
            &clock(9999),
            &config(),
        )
        .await
        .unwrap();
        assert_eq!(answer.executions_found, 0);
        assert_eq!(record(&state).header.version, 0);
    }
}

#[tokio::test]
async fn a_record_no_run_has_named_is_asked_about_by_its_first_run() {
    let mut e = exec(E::Pending, &[W::Pending]);
    e.header.workflow_run = None;
    let state = shared(e);
    let id = record(&state).id();
    let mut wf = MockWorkflow::new();
    wf.expect_run_state()
        .withf(move |r| *r == RunRef::FirstOf(id))
        .returning(|_| Ok(RunState::Missing));
    wf.expect_start_run()
        .times(1)
        .returning(|_, _| Ok(NEW.into()));
    let done = restart(
        &store(&state),
        &wf,
        &clock(1200),
        &target(),
        RestartBy::Find,
    )
    .await
    .unwrap();
    assert!(matches!(done, Restarted::Run { .. }));
    assert_eq!(record(&state).header.workflow_run.as_deref(), Some(NEW));
}

#[tokio::test]
async fn a_new_execution_is_not_a_silent_one_until_it_has_waited_as_long() {
    // Created at 1150 and no run has polled it yet: its first run may be starting right now, so
    // find neither asks about it nor starts a second run beside it.
    let mut e = exec(E::Pending, &[W::Pending]);
    e.header.created_time = Timestamp(1150);
    e.header.workflow_run = None;
    e.header.workflow_polled_time = None;
    let state = shared(e);
    let id = record(&state).id();
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().times(0);
    wf.expect_start_run().times(0);
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&wf),
        &clock(1200),
        &config(),
    )
    .await
    .unwrap();
    assert!(answer.restarts.is_empty());

    // 120 s after its creation nothing has polled it: its first run is asked about, and as there
    // is none, one is started.
    let mut wf = MockWorkflow::new();
    wf.expect_run_state()
        .times(1)
        .withf(move |r| *r == RunRef::FirstOf(id))
        .returning(|_| Ok(RunState::Missing));
    wf.expect_start_run()
        .times(1)
        .returning(|_, _| Ok(NEW.into()));
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&wf),
        &clock(1270),
        &config(),
    )
    .await
    .unwrap();
    assert_eq!(answer.executions_restarted, 1);
    assert_eq!(record(&state).header.workflow_run.as_deref(), Some(NEW));
}

#[tokio::test]
async fn a_silent_run_is_asked_about_once_per_find() {
    // The record's run is asked about once: find does not check it twice before restarting.
    let state = conducted(E::Polling, 1000, &[]);
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().times(1).returning(|_| {
        Ok(RunState::Ended {
            status: "ABORTED".into(),
            poll_interval_seconds: None,
        })
    });
    wf.expect_start_run()
        .times(1)
        .returning(|_, _| Ok(NEW.into()));
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&wf),
        &clock(1200),
        &config(),
    )
    .await
    .unwrap();
    assert_eq!(answer.executions_restarted, 1);
}

#[tokio::test]
async fn a_paused_run_is_silent_after_its_heartbeat_and_the_usual_margin() {
    use crate::ops::heal::PAUSED_STALE_AFTER_SECS;
    // Paused, its run last polled at 1000: it waits at its pause until its heartbeat, then
    // polls again, so it is not asked about before PAUSED_STALE_AFTER_SECS.
    let state = conducted(E::Paused, 1000, &[]);
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().times(0);
    find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&wf),
        &clock(1000 + PAUSED_STALE_AFTER_SECS - 1),
        &config(),
    )
    .await
    .unwrap();
    let answer = find_and_heal(
        &store(&state),
        &polls_fine(),
        Some(&workflow(RunState::Running, 0)),
        &clock(1000 + PAUSED_STALE_AFTER_SECS),
        &config(),
    )
    .await
    .unwrap();
    assert!(answer.restarts.is_empty(), "a live run is left alone");
}
