//! retry and skip: an operator's decision on a failed wave.

use super::exec;
use crate::error::{OperationError, Refusal};
use crate::fixtures::{drs_job, job};
use crate::ids::TaskToken;
use crate::model::{Execution, FailurePolicy, HeldToken, PauseReason, Timestamp, WaveFailure};
use crate::ops::testing::*;
use crate::ports::mocks::{MockDrs, MockWorkflow};
use crate::rules::{next_action, outcome, NextAction, Policy};
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus, WaveStatus as W};

/// Wave 1 of three FAILED (server 2 launched, server 3 did not), policy PAUSE, the workflow parked
/// with token "tok".
fn waiting_on_wave_1() -> Execution {
    let mut e = exec(E::Paused, &[W::Completed, W::Failed, W::Pending]);
    for w in &mut e.waves {
        w.on_failure = Some(FailurePolicy::Pause);
    }
    let w = &mut e.waves[1];
    w.failure_reason = Some(WaveFailure::ServersFailed);
    w.status_message = Some("1 of 2 critical servers did not launch".into());
    w.end_time = Some(Timestamp(1500));
    w.server_statuses[0].launch_status = LaunchStatus::Launched;
    w.server_statuses[0].instance_id = Some(crate::fixtures::instance(2));
    w.server_statuses[1].launch_status = LaunchStatus::Failed;
    e.header.pause_reason = Some(PauseReason::WaveFailed);
    e.header.failed_wave = Some(1);
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse("tok").unwrap(),
        release_pending: false,
    });
    e
}

fn releasing(times: usize) -> MockWorkflow {
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(times)
        .withf(|t, _| t.expose() == "tok")
        .returning(|_, _| Ok(()));
    wf
}

#[tokio::test]
async fn retry_starts_a_new_attempt_for_the_servers_that_did_not_launch() {
    let mut w = World::new(waiting_on_wave_1()).with_workflow(releasing(1));
    let answer = w.retry(2000, 1).await.unwrap();
    assert_eq!(
        (
            answer.status,
            answer.wave_status,
            answer.attempt,
            answer.workflow_released
        ),
        (E::Polling, W::Launching, 2, true)
    );
    let r = w.record();
    assert_eq!(r.status(), E::Polling);
    assert_eq!((r.header.pause_reason, r.header.failed_wave), (None, None));
    assert!(r.header.task_token.is_none());
    let wave = &r.waves[1];
    assert_eq!((wave.status, wave.attempt), (W::Launching, 2));
    assert_eq!(
        wave.attempt_time,
        Some(Timestamp(2000)),
        "the timeout runs from the retry"
    );
    assert_eq!(
        wave.launch_time,
        Some(Timestamp(1000)),
        "recovery time from the first attempt"
    );
    assert_eq!(wave.end_time, None);
    // The launched server keeps its instance and job; the other starts over.
    let servers = &wave.server_statuses;
    assert_eq!(servers[0].launch_status, LaunchStatus::Launched);
    assert!(servers[0].instance_id.is_some() && servers[0].job_id.is_some());
    assert_eq!(servers[1].launch_status, LaunchStatus::Pending);
    assert_eq!(servers[1].job_id, None);
    assert_eq!(
        next_action(&r, Timestamp(2000), &Policy::default()),
        NextAction::Launch
    );

    // launch starts the new attempt for that one server, tagged attempt 2.
    let mut drs = MockDrs::new();
    drs.expect_start_recovery()
        .times(1)
        .withf(|req| req.attempt == 2 && req.part == 0 && req.source_servers.len() == 1)
        .returning(|_| Ok(drs_job(8, JobStatus::Pending, &[])));
    w.set_drs(drs);
    w.launch(2001).await.unwrap();
    let wave = &w.record().waves[1];
    assert_eq!(wave.status, W::Started);
    assert_eq!(
        wave.current_jobs()
            .map(|j| j.job_id.clone())
            .collect::<Vec<_>>(),
        [job(8)]
    );
    assert_eq!(wave.jobs.len(), 2, "the first attempt's job is kept");
}

#[tokio::test]
async fn skip_lets_the_next_wave_run_and_the_execution_ends_with_errors() {
    let mut e = waiting_on_wave_1();
    e.waves[2].pause_before_wave = true;
    let w = World::new(e).with_workflow(releasing(1));
    let answer = w.skip(1).await.unwrap();
    assert_eq!(
        (answer.status, answer.wave_status),
        (E::Polling, W::Skipped)
    );
    let mut r = w.record();
    assert_eq!(r.waves[1].status, W::Skipped);
    assert_eq!(
        next_action(&r, Timestamp(2000), &Policy::default()),
        NextAction::Pause,
        "the next wave's own planned pause still applies"
    );
    r.waves[2].status = W::Completed;
    assert_eq!(outcome(&r), Ok(E::CompletedWithErrors));
}

#[tokio::test]
async fn cancel_of_a_failure_pause_finalizes_failed() {
    let w = World::new(waiting_on_wave_1()).with_workflow(releasing(1));
    w.cancel().await.unwrap();
    assert_eq!(
        next_action(&w.record(), Timestamp(2000), &Policy::default()),
        NextAction::Finalize
    );
    let done = w.finalize(2000).await.unwrap();
    assert_eq!(done.status, E::Failed);
    let r = w.record();
    assert_eq!(
        r.waves.iter().map(|w| w.status).collect::<Vec<_>>(),
        [W::Completed, W::Failed, W::Cancelled]
    );
}

#[tokio::test]
async fn a_decision_before_the_workflow_parked_releases_its_token_at_once() {
    // The wave failed; the operator retried before the workflow's pause arrived.
    let mut e = waiting_on_wave_1();
    e.header.status = E::Polling;
    e.header.pause_reason = None;
    e.header.failed_wave = None;
    e.header.task_token = None;
    let mut w = World::new(e);
    w.retry(2000, 1).await.unwrap();
    w.set_workflow(releasing(1));
    let answer = w.park("tok").await.unwrap();
    assert_eq!(answer.status, E::Polling);
    assert!(w.record().header.task_token.is_none());
}

fn refusal(e: OperationError) -> Refusal {
    match e {
        OperationError::InvalidState(r) => r,
        other => panic!("not a refusal: {other}"),
    }
}

#[tokio::test]
async fn decisions_are_refused_unless_the_execution_waits_on_that_wave() {
    let in_flight = {
        let mut e = waiting_on_wave_1();
        e.header.status = E::Polling;
        e.header.pause_reason = None;
        e.header.failed_wave = None;
        e.header.task_token = None;
        let w = &mut e.waves[1];
        w.status = W::Started;
        w.end_time = None;
        w.failure_reason = None;
        e
    };
    // Cancelled, the workflow released; then finalized.
    let cancelling = {
        let mut e = waiting_on_wave_1();
        e.header.status = E::Cancelling;
        e.header.pause_reason = None;
        e.header.failed_wave = None;
        e.header.task_token = None;
        e
    };
    let failed = {
        let mut e = cancelling.clone();
        e.header.status = E::Failed;
        e.header.end_time = Some(Timestamp(2000));
        e.waves[2].status = W::Cancelled;
        e.waves[2].end_time = Some(Timestamp(2000));
        e
    };
    let planned = {
        let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
        e.waves[1].pause_before_wave = true;
        e.header.paused_before_wave = Some(1);
        e
    };
    let stop_policy = {
        let mut e = waiting_on_wave_1();
        e.waves[1].on_failure = Some(FailurePolicy::Stop);
        e
    };
    let cases: Vec<(Execution, u32)> = vec![
        (waiting_on_wave_1(), 0), // a COMPLETED wave
        (waiting_on_wave_1(), 2), // a PENDING wave
        (in_flight, 1),           // nothing failed (yet)
        (planned, 1),             // a planned pause: resume decides
        (stop_policy, 1),         // STOP: the execution finalizes
        (cancelling, 1),
        (failed, 1),
    ];
    for (e, n) in cases {
        for op in ["retry", "skip"] {
            let w = World::new(e.clone());
            let err = match op {
                "retry" => w.retry(2000, n).await,
                _ => w.skip(n).await,
            }
            .unwrap_err();
            let r = refusal(err);
            assert!(
                matches!(r, Refusal::NoDecisionPending { wave, .. } if wave == n),
                "{op} wave {n} on {} {:?}: {r}",
                e.status(),
                e.waves.iter().map(|w| w.status).collect::<Vec<_>>()
            );
            assert!(w.commits().is_empty(), "{op}: nothing written");
        }
    }
    let err = World::new(waiting_on_wave_1()).skip(7).await.unwrap_err();
    assert_eq!(refusal(err), Refusal::NoSuchWave { wave: 7 });
}

#[tokio::test]
async fn retry_is_bounded_by_max_wave_attempts() {
    let mut e = waiting_on_wave_1();
    e.waves[1].attempt = 3;
    let mut w = World::new(e);
    let err = w.retry(2000, 1).await.unwrap_err();
    assert_eq!(
        refusal(err.clone()),
        Refusal::AttemptsExhausted {
            wave: 1,
            attempts: 3,
            max: 3
        }
    );
    assert!(err.to_string().contains("skip or cancel"), "{err}");
    assert!(w.commits().is_empty());
    // Skip still decides.
    w.set_workflow(releasing(1));
    w.skip(1).await.unwrap();
}

#[tokio::test]
async fn a_decision_whose_token_the_workflow_no_longer_takes_still_stands() {
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .returning(|_, _| Err(crate::ports::WorkflowError::TaskTimedOut));
    let w = World::new(waiting_on_wave_1()).with_workflow(wf);
    let answer = w.skip(1).await.unwrap();
    assert!(!answer.workflow_released);
    let r = w.record();
    assert_eq!((r.status(), r.waves[1].status), (E::Polling, W::Skipped));
    assert!(r.header.task_token.is_none());
    assert!(r
        .header
        .status_message
        .unwrap()
        .contains("no longer accepted"));
}

/// Review: a retry reset servers still launching in the failed attempt's job, and a later
/// attempt started them again. They keep their job; poll follows it; launch starts the others.
#[tokio::test]
async fn a_retry_leaves_a_server_its_earlier_job_still_launches_alone() {
    let mut e = waiting_on_wave_1();
    // Timed out with server 3 still IN_PROGRESS in its job.
    e.waves[1].failure_reason = Some(WaveFailure::TimedOut);
    e.waves[1].server_statuses[1].launch_status = LaunchStatus::InProgress;
    e.waves[1].server_statuses.push(crate::model::ServerStatus {
        launch_status: LaunchStatus::Failed,
        job_id: Some(job(1)),
        ..crate::model::ServerStatus::new(crate::fixtures::server(9), None)
    });
    let mut w = World::new(e).with_workflow(releasing(1));
    w.retry(2000, 1).await.unwrap();
    let wave = w.record().waves[1].clone();
    assert_eq!(
        wave.server_statuses[1].job_id,
        Some(job(1)),
        "still launching: kept"
    );
    assert_eq!(
        wave.server_statuses[1].launch_status,
        LaunchStatus::InProgress
    );
    assert_eq!(wave.server_statuses[2].job_id, None, "failed: starts over");
    assert!(
        wave.jobs_to_follow().contains(&job(1)),
        "poll follows the earlier job"
    );

    let mut drs = MockDrs::new();
    drs.expect_start_recovery()
        .times(1)
        .withf(|req| req.source_servers == [crate::fixtures::server(9)])
        .returning(|_| Ok(drs_job(8, JobStatus::Pending, &[])));
    w.set_drs(drs);
    w.launch(2001).await.unwrap();
    let wave = w.record().waves[1].clone();
    assert_eq!(wave.status, W::Started);
    assert_eq!(wave.jobs_to_follow(), [job(8), job(1)]);
}

/// Review: an operator's pause stored first let resume go on past a failed wave that waits on a
/// decision.
#[tokio::test]
async fn resume_is_refused_while_a_failed_wave_waits_whatever_the_pause_reason() {
    let mut e = waiting_on_wave_1();
    e.header.pause_reason = Some(PauseReason::Operator);
    e.header.failed_wave = None;
    let w = World::new(e);
    let err = w.resume().await.unwrap_err();
    assert_eq!(refusal(err), Refusal::WaitsForDecision { wave: 1 });
    assert!(w.commits().is_empty());
}
