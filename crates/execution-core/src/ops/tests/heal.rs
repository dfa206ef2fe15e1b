//! find's healing and the restart it shares with `drctl restart`.

use super::exec;
use crate::api::{PollInterval, WorkflowInput};
use crate::error::{OperationError, Refusal};
use crate::model::{Execution, Timestamp};
use crate::ops::heal::{operator_needed_message, RestartBy, Restarted};
use crate::ops::testing::*;
use crate::ports::mocks::{MockDispatch, MockWorkflow};
use crate::ports::{RunRef, RunState};
use crate::status::{ExecutionStatus as E, WaveStatus as W};

const RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-0";
const NEW: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:new";

/// Two waves, wave 0 in flight (or, finished, as the execution ended), run by `RUN`, which last
/// polled at `polled`; restarted at `restarts`.
fn conducted(status: E, polled: i64, restarts: &[i64]) -> World {
    let waves = match status {
        E::Completed => [W::Completed, W::Completed],
        E::CompletedWithErrors => [W::Completed, W::Skipped],
        E::Failed => [W::Failed, W::Cancelled],
        E::Cancelled => [W::Completed, W::Cancelled],
        _ => [W::Started, W::Pending],
    };
    let mut e = exec(status, &waves);
    e.header.workflow_run = Some(RUN.into());
    e.header.workflow_polled_time = Some(Timestamp(polled));
    e.header.last_polled_time = Some(Timestamp(polled));
    e.header.restarts = restarts.iter().copied().map(Timestamp).collect();
    world(e)
}

/// `e` in the store, and find's polls of it answering fine.
fn world(e: Execution) -> World {
    let mut polls = MockDispatch::new();
    polls.expect_poll().returning(|_, _| Ok(E::Polling));
    World::new(e).with_dispatch(polls)
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
    let mut w = conducted(E::Polling, 1000, &[]);
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().returning(|_| {
        Ok(RunState::Ended {
            status: "FAILED".into(),
            poll_interval_seconds: Some(45),
            run: None,
            run_prefix: None,
        })
    });
    let id = w.record().id();
    wf.expect_start_run()
        .times(1)
        .withf(move |input: &WorkflowInput, name: &str| {
            name == format!("{id}-h1200")
                && input.run_prefix.as_deref() == Some(name)
                && input.poll_interval_seconds == PollInterval::new(45).ok()
                && input.execution_id == id
        })
        .returning(|_, _| Ok(NEW.into()));
    w.set_workflow(wf);
    let answer = w.find(1200).await.unwrap();
    assert_eq!(answer.executions_restarted, 1);
    assert_eq!(answer.restarts[0].workflow_run.as_deref(), Some(NEW));
    let r = w.record();
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
    let w = conducted(E::Polling, 1000, &[]).with_workflow(workflow(RunState::Running, 0));
    let before = w.record();
    let answer = w.find(1200).await.unwrap();
    assert_eq!(answer.executions_restarted, 0);
    assert!(answer.restarts.is_empty());
    let after = w.record();
    assert_eq!(after.header.version, before.header.version);
    assert_eq!(after.header.workflow_run.as_deref(), Some(RUN));

    // Polled 30 s ago: the workflow is not even asked.
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().times(0);
    wf.expect_start_run().times(0);
    let w = conducted(E::Polling, 1170, &[]).with_workflow(wf);
    w.find(1200).await.unwrap();
}

#[tokio::test]
async fn at_most_three_restarts_an_hour_then_the_record_says_an_operator_is_needed() {
    let ended = || RunState::Ended {
        status: "TIMED_OUT".into(),
        poll_interval_seconds: None,
        run: None,
        run_prefix: None,
    };
    let mut w =
        conducted(E::Polling, 2000, &[1000, 1500, 2000]).with_workflow(workflow(ended(), 0));
    let answer = w.find(2200).await.unwrap();
    assert_eq!(answer.executions_restarted, 0);
    assert_eq!(answer.restarts[0].outcome, "OPERATOR_NEEDED");
    let r = w.record();
    assert_eq!(
        r.header.status_message.as_deref(),
        Some(operator_needed_message("TIMED_OUT").as_str())
    );
    assert_eq!(r.header.workflow_run.as_deref(), Some(RUN), "no new run");
    let version = r.header.version;
    // The trail says an operator is needed, once: the notice that pages someone.
    let decisions: Vec<_> = w.events().iter().filter_map(|e| e.decision).collect();
    assert_eq!(decisions, vec![crate::audit::Decision::NotHealed]);

    // The next tick says so again without writing again.
    w.set_workflow(workflow(ended(), 0));
    w.find(2260).await.unwrap();
    assert_eq!(w.record().header.version, version);
    assert_eq!(w.events().len(), 1, "nothing written, nothing recorded");

    // An hour after the first restart, find may restart it again; the hour's list is kept short.
    w.set_workflow(workflow(ended(), 1));
    let answer = w.find(4600).await.unwrap();
    assert_eq!(answer.executions_restarted, 1);
    assert_eq!(
        w.record().header.restarts,
        vec![Timestamp(1500), Timestamp(2000), Timestamp(4600)]
    );
}

#[tokio::test]
async fn an_operator_may_restart_past_the_limit() {
    let w = conducted(E::Paused, 2000, &[1000, 1500, 2000])
        .with_workflow(workflow(RunState::Missing, 1));
    let done = w.restart(2200, RestartBy::Operator).await.unwrap();
    assert!(
        matches!(done, Restarted::Run { ref run, .. } if run == NEW),
        "{done:?}"
    );
    let r = w.record();
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
    let w = conducted(E::Polling, 1000, &[]).with_workflow(workflow(RunState::Running, 0));
    let err = w.restart(1200, RestartBy::Operator).await.unwrap_err();
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
        let mut wf = MockWorkflow::new();
        wf.expect_run_state().times(0);
        wf.expect_start_run().times(0);
        let w = conducted(status, 1000, &[]).with_workflow(wf);
        let err = w.restart(1200, RestartBy::Operator).await.unwrap_err();
        assert!(
            matches!(err, OperationError::InvalidState(Refusal::Finished { .. })),
            "{err:?}"
        );
        // find never lists it, so never heals it.
        let answer = w.find(9999).await.unwrap();
        assert_eq!(answer.executions_found, 0);
        assert_eq!(w.record().header.version, 0);
    }
}

#[tokio::test]
async fn a_record_no_run_has_named_is_asked_about_by_its_first_run() {
    let mut e = exec(E::Pending, &[W::Pending]);
    e.header.workflow_run = None;
    let id = e.id();
    let mut wf = MockWorkflow::new();
    wf.expect_run_state()
        .withf(move |r| *r == RunRef::FirstOf(id))
        .returning(|_| Ok(RunState::Missing));
    wf.expect_start_run()
        .times(1)
        .returning(|_, _| Ok(NEW.into()));
    let w = World::new(e).with_workflow(wf);
    let done = w.restart(1200, RestartBy::Find).await.unwrap();
    assert!(matches!(done, Restarted::Run { .. }));
    assert_eq!(w.record().header.workflow_run.as_deref(), Some(NEW));
}

#[tokio::test]
async fn a_new_execution_is_not_a_silent_one_until_it_has_waited_as_long() {
    // Created at 1150 and no run has polled it yet: its first run may be starting right now, so
    // find neither asks about it nor starts a second run beside it.
    let mut e = exec(E::Pending, &[W::Pending]);
    e.header.created_time = Timestamp(1150);
    e.header.workflow_run = None;
    e.header.workflow_polled_time = None;
    let id = e.id();
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().times(0);
    wf.expect_start_run().times(0);
    let mut w = world(e).with_workflow(wf);
    let answer = w.find(1200).await.unwrap();
    assert!(answer.restarts.is_empty());

    // 120 s after its creation nothing has polled it: its first run is asked about (from the
    // index, then again from the record before acting), and as there is none, one is started.
    let mut wf = MockWorkflow::new();
    wf.expect_run_state()
        .times(2)
        .withf(move |r| *r == RunRef::FirstOf(id))
        .returning(|_| Ok(RunState::Missing));
    wf.expect_start_run()
        .times(1)
        .returning(|_, _| Ok(NEW.into()));
    w.set_workflow(wf);
    let answer = w.find(1270).await.unwrap();
    assert_eq!(answer.executions_restarted, 1);
    assert_eq!(w.record().header.workflow_run.as_deref(), Some(NEW));
}

#[tokio::test]
async fn a_silent_live_run_costs_one_question_and_no_read_of_the_record() {
    let mut wf = MockWorkflow::new();
    wf.expect_run_state()
        .times(1)
        .withf(|r| *r == RunRef::Id(RUN.into()))
        .returning(|_| Ok(RunState::Running));
    wf.expect_start_run().times(0);
    let w = conducted(E::Polling, 1000, &[]).with_workflow(wf);
    let loads = w.state().lock().unwrap().loads;
    let answer = w.find(1200).await.unwrap();
    assert!(answer.restarts.is_empty());
    assert_eq!(
        w.state().lock().unwrap().loads,
        loads,
        "find read the record of a live run"
    );
}

/// A run that handed over (SUCCEEDED) before its successor's first poll named the successor on
/// the record: the successor is asked about, and a live one is left alone; one that is not there
/// is replaced.
#[tokio::test]
async fn a_handed_over_run_is_followed_to_the_run_it_started() {
    let handed_over = || {
        Ok(RunState::Ended {
            status: "SUCCEEDED".into(),
            poll_interval_seconds: Some(30),
            run: Some(2),
            run_prefix: Some("prefix".into()),
        })
    };
    for (successor, restarts) in [(RunState::Running, 0), (RunState::Missing, 1)] {
        let mut wf = MockWorkflow::new();
        wf.expect_run_state()
            .withf(|r| *r == RunRef::Id(RUN.into()))
            .returning(move |_| handed_over());
        let next = successor.clone();
        wf.expect_run_state()
            .withf(|r| *r == RunRef::Named("prefix-r3".into()))
            .returning(move |_| Ok(next.clone()));
        wf.expect_start_run()
            .times(restarts)
            .returning(|_, _| Ok(NEW.into()));
        let w = conducted(E::Polling, 1000, &[]).with_workflow(wf);
        let answer = w.find(1200).await.unwrap();
        assert_eq!(answer.executions_restarted, restarts, "{successor:?}");
    }
}

#[tokio::test]
async fn a_paused_run_is_silent_after_its_heartbeat_and_the_usual_margin() {
    use crate::ops::heal::PAUSED_STALE_AFTER_SECS;
    // Paused, its run last polled at 1000: it waits at its pause until its heartbeat, then
    // polls again, so it is not asked about before PAUSED_STALE_AFTER_SECS.
    let mut wf = MockWorkflow::new();
    wf.expect_run_state().times(0);
    let mut w = conducted(E::Paused, 1000, &[]).with_workflow(wf);
    w.find(1000 + PAUSED_STALE_AFTER_SECS - 1).await.unwrap();
    w.set_workflow(workflow(RunState::Running, 0));
    let answer = w.find(1000 + PAUSED_STALE_AFTER_SECS).await.unwrap();
    assert!(answer.restarts.is_empty(), "a live run is left alone");
}
