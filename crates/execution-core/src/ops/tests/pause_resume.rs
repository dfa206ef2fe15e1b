use mockall::Sequence;

use super::{complete, exec};
use crate::ids::TaskToken;
use crate::model::{HeldToken, PauseReason, Timestamp};
use crate::ops::testing::*;
use crate::ports::mocks::MockWorkflow;
use crate::ports::{ServiceError, WorkflowError};
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus as E, WaveStatus as W};

fn token(s: &str) -> TaskToken {
    TaskToken::parse(s).unwrap()
}

fn held(t: &str) -> Option<HeldToken> {
    Some(HeldToken {
        token: token(t),
        release_pending: false,
    })
}

fn accepting(expected: &'static str, times: usize) -> MockWorkflow {
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(times)
        .withf(move |t, _| t.expose() == expected)
        .returning(|_, _| Ok(()));
    wf
}

/// A workflow whose SendTaskSuccess fails once with `error`.
fn refusing(error: WorkflowError) -> MockWorkflow {
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .returning(move |_, _| Err(error.clone()));
    wf
}

// ---- pause -----------------------------------------------------------------------------------

#[tokio::test]
async fn operator_pause_stands_before_the_next_pending_wave_and_lets_the_flight_run() {
    let w = World::new(exec(E::Polling, &[W::Completed, W::Started, W::Pending]));
    let answer = w.pause().await.unwrap();
    assert_eq!(
        (answer.status, answer.paused_before_wave),
        (E::Paused, Some(2))
    );
    let r = w.record();
    assert_eq!(r.status(), E::Paused);
    assert_eq!(r.header.paused_before_wave, Some(2));
    assert_eq!(r.waves[1].status, W::Started, "the wave in flight runs on");
    assert_eq!(
        next_action(&r, Timestamp(1100), &Policy::default()),
        NextAction::Wait
    );
}

#[tokio::test]
async fn operator_pause_is_refused_where_the_spec_says() {
    let cases = [
        (
            exec(E::Polling, &[W::Completed, W::Started]),
            "no wave is left",
        ),
        (exec(E::Pending, &[W::Pending]), "only a POLLING execution"),
        (
            exec(E::Cancelling, &[W::Started, W::Pending]),
            "only a POLLING execution",
        ),
        (exec(E::Completed, &[W::Completed]), "finished execution"),
        (exec(E::Failed, &[W::Failed]), "finished execution"),
    ];
    for (e, why) in cases {
        let w = World::new(e);
        let err = w.pause().await.unwrap_err();
        assert_eq!(err.code(), "INVALID_STATE");
        assert!(err.to_string().contains(why), "{err}");
        assert!(w.commits().is_empty());
    }
}

#[tokio::test]
async fn a_repeated_operator_pause_writes_nothing() {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.header.paused_before_wave = Some(1);
    let w = World::new(e);
    let answer = w.pause().await.unwrap();
    assert_eq!(
        (answer.status, answer.paused_before_wave),
        (E::Paused, Some(1))
    );
    assert!(w.commits().is_empty());
}

#[tokio::test]
async fn the_workflow_parks_its_token_at_a_planned_pause() {
    let mut e = exec(E::Polling, &[W::Completed, W::Pending]);
    e.waves[1].pause_before_wave = true;
    let w = World::new(e);
    let answer = w.park("tok-1").await.unwrap();
    assert_eq!(
        (answer.status, answer.paused_before_wave),
        (E::Paused, Some(1))
    );
    assert_eq!(w.record().header.task_token, held("tok-1"));
    // The answer never carries the token.
    assert!(!serde_json::to_string(&answer).unwrap().contains("tok-1"));
}

#[tokio::test]
async fn a_new_token_replaces_one_whose_wait_timed_out() {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.header.task_token = held("old");
    let w = World::new(e);
    w.park("new").await.unwrap();
    assert_eq!(w.record().header.task_token.unwrap().token, token("new"));
}

#[tokio::test]
async fn resume_before_the_token_arrives_releases_the_token_at_once() {
    // SPEC §4: the operator paused during wave 0 and resumed before the workflow reached the
    // boundary; the workflow's token must not wait for a resume that already happened.
    let mut w = World::new(exec(E::Polling, &[W::Completed, W::Started, W::Pending]));
    w.pause().await.unwrap();
    let resumed = w.resume().await.unwrap();
    assert_eq!(resumed.status, E::Polling);
    assert!(!resumed.workflow_released, "no token was held yet");
    // Wave 1 completes; the workflow, which had seen PAUSE earlier, now arrives with its token.
    w.edit(|r| complete(&mut r.waves[1]));
    let writes_before = w.commits().len();
    w.set_workflow(accepting("late", 1));
    let answer = w.park("late").await.unwrap();
    assert_eq!(answer.status, E::Polling);
    let r = w.record();
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.is_none());
    assert_eq!(w.commits().len(), writes_before, "nothing written");
}

#[tokio::test]
async fn a_pause_decided_before_a_launch_claim_stands_before_the_following_wave() {
    let mut base = exec(E::Polling, &[W::Completed, W::Pending, W::Pending]);
    base.header.start_time = Some(Timestamp(1000));
    // What launch writes, captured from a run on a copy of the record...
    let mut drs = crate::ports::mocks::MockDrs::new();
    drs.expect_start_recovery().returning(|_| {
        Ok(crate::fixtures::drs_job(
            1,
            crate::status::JobStatus::Pending,
            &[],
        ))
    });
    let launched = World::new(base.clone()).with_drs(drs);
    launched.launch(1100).await.unwrap();
    let launch_writes = launched.commits();
    // ...lands between pause's read and pause's write.
    let w = World::new(base);
    w.race(move |r| {
        for c in &launch_writes {
            apply(r, c).unwrap();
        }
    });
    let answer = w.pause().await.unwrap();
    assert_eq!(
        answer.paused_before_wave,
        Some(2),
        "wave 1 was already launched when the pause took effect"
    );
    assert_eq!(w.record().header.paused_before_wave, Some(2));
}

// ---- resume ----------------------------------------------------------------------------------

fn paused_with_token(t: &str) -> crate::model::Execution {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.waves[1].pause_before_wave = true;
    e.header.paused_before_wave = Some(1);
    e.header.task_token = held(t);
    e
}

#[tokio::test]
async fn resume_approves_the_wave_releases_the_token_and_clears_it() {
    let mut w = World::new(paused_with_token("tok"));
    let state = w.state();
    let mut wf = MockWorkflow::new();
    // When the workflow is released the record already says POLLING (the write comes first).
    wf.expect_send_task_success()
        .times(1)
        .returning(move |t, _| {
            let r = state.lock().unwrap().record.clone().unwrap();
            assert_eq!(r.status(), E::Polling);
            assert_eq!(
                r.header
                    .task_token
                    .as_ref()
                    .map(|h| (h.token.expose().to_owned(), h.release_pending)),
                Some((t.expose().to_owned(), true))
            );
            Ok(())
        });
    w.set_workflow(wf);
    let answer = w.resume().await.unwrap();
    assert_eq!(
        (
            answer.status,
            answer.resumed_before_wave,
            answer.workflow_released
        ),
        (E::Polling, Some(1), true)
    );
    let r = w.record();
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.is_none());
    assert!(r.header.paused_before_wave.is_none());
    assert!(r.waves[1].pause_approved);
    assert_eq!(
        next_action(&r, Timestamp(2000), &Policy::default()),
        NextAction::Launch
    );
}

#[tokio::test]
async fn resume_without_a_token_only_writes_the_record() {
    let mut e = exec(E::Paused, &[W::Started, W::Pending]);
    e.header.paused_before_wave = Some(1);
    let w = World::new(e);
    let answer = w.resume().await.unwrap();
    assert!(!answer.workflow_released);
    assert_eq!(w.record().status(), E::Polling);
}

#[tokio::test]
async fn resume_is_refused_unless_paused() {
    for status in [E::Pending, E::Polling, E::Cancelling, E::Completed] {
        let wave = if status == E::Completed {
            W::Completed
        } else {
            W::Pending
        };
        let w = World::new(exec(status, &[wave]));
        let err = w.resume().await.unwrap_err();
        assert_eq!(
            (err.status_code(), err.code()),
            (400, "INVALID_STATE"),
            "{status}"
        );
        assert!(w.commits().is_empty());
    }
}

#[tokio::test]
async fn a_token_the_workflow_no_longer_accepts_still_resumes_and_the_record_says_so() {
    // A resume racing the pause's heartbeat timeout: the execution is resumed all the same (the
    // run polls again and goes on from the record), and the answer says nothing was released.
    for dead in [
        WorkflowError::TaskTimedOut,
        WorkflowError::InvalidToken,
        WorkflowError::TaskDoesNotExist,
    ] {
        let w = World::new(paused_with_token("stale")).with_workflow(refusing(dead.clone()));
        let answer = w.resume().await.unwrap();
        assert_eq!(
            (answer.status, answer.workflow_released),
            (E::Polling, false),
            "{dead:?}"
        );
        let r = w.record();
        assert_eq!(
            r.status(),
            E::Polling,
            "resumed: the workflow re-reads the record when its wait ends"
        );
        assert!(r.header.task_token.is_none(), "a dead token is not kept");
        assert!(r
            .header
            .status_message
            .as_deref()
            .unwrap()
            .contains("no longer accepted"));
    }
}

#[tokio::test]
async fn a_workflow_outage_keeps_the_release_pending_and_a_retry_finishes_it() {
    let outage = WorkflowError::Service(ServiceError::unavailable("503"));
    let mut w = World::new(paused_with_token("tok")).with_workflow(refusing(outage));
    let err = w.resume().await.unwrap_err();
    assert_eq!(err.status_code(), 500);
    let r = w.record();
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.as_ref().unwrap().release_pending);
    // The operator retries: the release is finished, not refused as "not PAUSED".
    w.set_workflow(accepting("tok", 1));
    let answer = w.resume().await.unwrap();
    assert!(answer.workflow_released);
    assert!(w.record().header.task_token.is_none());
}

#[tokio::test]
async fn a_resume_that_died_after_releasing_is_finished_by_the_next_one() {
    // Crash between SendTaskSuccess and clearing the token: the workflow already moved on, so a
    // second send is refused; that is success for a retry.
    let mut e = paused_with_token("tok");
    // What the resume wrote before it released the token.
    e.header.status = E::Polling;
    e.header.paused_before_wave = None;
    e.waves[1].pause_approved = true;
    e.header.task_token.as_mut().unwrap().release_pending = true;
    let w = World::new(e).with_workflow(refusing(WorkflowError::TaskTimedOut));
    let answer = w.resume().await.unwrap();
    assert_eq!(answer.status, E::Polling);
    assert!(w.record().header.task_token.is_none());
}

#[tokio::test]
async fn pause_and_resume_race_on_the_header_and_neither_is_lost() {
    let mut seq = Sequence::new();
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .in_sequence(&mut seq)
        .withf(|t, _| t.expose() == "newer")
        .returning(|_, _| Ok(()));
    let w = World::new(paused_with_token("tok")).with_workflow(wf);
    // Between resume's read and its write, the workflow re-arms its pause with a new token.
    w.race(|r| {
        r.header.task_token = held("newer");
        r.header.version += 1;
    });
    let answer = w.resume().await.unwrap();
    assert!(
        answer.workflow_released,
        "the token the workflow waits on now is the one released"
    );
    assert!(w.record().header.task_token.is_none());
}

// ---- v2: pause reasons, failure pauses, the bugs of version 1 -------------------------------

/// Bug: an operator's pause and resume while a wave was in flight approved the next wave's
/// planned pause, so the approval gate the plan asked for never happened.
#[tokio::test]
async fn resuming_an_operator_pause_does_not_approve_a_planned_one() {
    let mut e = exec(E::Polling, &[W::Completed, W::Started, W::Pending]);
    e.waves[2].pause_before_wave = true;
    let mut w = World::new(e);
    let paused = w.pause().await.unwrap();
    assert_eq!(
        (paused.pause_reason, paused.paused_before_wave),
        (Some(PauseReason::Operator), Some(2))
    );
    w.resume().await.unwrap();
    let mut r = w.record();
    assert!(!r.waves[2].pause_approved, "the planned pause still stands");
    complete(&mut r.waves[1]);
    assert_eq!(
        next_action(&r, Timestamp(1200), &Policy::default()),
        NextAction::Pause
    );
    w.edit(|stored| *stored = r);
    let parked = w.park("tok").await.unwrap();
    assert_eq!(parked.pause_reason, Some(PauseReason::Planned));
    w.set_workflow(accepting("tok", 1));
    let resumed = w.resume().await.unwrap();
    assert_eq!(resumed.resumed_before_wave, Some(2));
    assert!(w.record().waves[2].pause_approved);
}

/// A record of version 1 kept no pause reason: a PAUSED record standing at an unapproved planned
/// pause reads as PLANNED (its resume approves it), any other as OPERATOR.
#[tokio::test]
async fn a_version_1_pause_without_a_reason_reads_as_what_it_was() {
    let w = World::new(paused_with_token("tok")).with_workflow(accepting("tok", 1));
    assert_eq!(w.record().pause_reason(), Some(PauseReason::Planned));
    w.resume().await.unwrap();
    assert!(w.record().waves[1].pause_approved);
}

fn failed_with_pause_policy(status: E) -> crate::model::Execution {
    let mut e = exec(status, &[W::Completed, W::Failed, W::Pending]);
    e.waves[1].on_failure = Some(crate::model::FailurePolicy::Pause);
    e
}

#[tokio::test]
async fn a_failed_wave_with_policy_pause_parks_the_workflow_with_its_reason() {
    let w = World::new(failed_with_pause_policy(E::Polling));
    assert_eq!(
        next_action(&w.record(), Timestamp(1100), &Policy::default()),
        NextAction::Pause
    );
    let answer = w.park("tok").await.unwrap();
    assert_eq!(
        (answer.status, answer.pause_reason, answer.failed_wave),
        (E::Paused, Some(PauseReason::WaveFailed), Some(1))
    );
    let r = w.record();
    assert_eq!(r.header.pause_reason, Some(PauseReason::WaveFailed));
    assert_eq!(r.header.failed_wave, Some(1));
    assert!(r.header.task_token.is_some());

    // resume does not apply: it names retry, skip and cancel, and changes nothing.
    let err = w.resume().await.unwrap_err();
    assert_eq!(
        err,
        crate::OperationError::InvalidState(crate::error::Refusal::WaitsForDecision { wave: 1 })
    );
    let msg = err.to_string();
    assert!(
        msg.contains("retry") && msg.contains("skip") && msg.contains("cancel"),
        "{msg}"
    );
    assert_eq!(w.record(), r);
}

#[tokio::test]
async fn a_failed_wave_takes_over_an_operators_pause() {
    let mut e = failed_with_pause_policy(E::Paused);
    e.header.pause_reason = Some(PauseReason::Operator);
    e.header.paused_before_wave = Some(2);
    let w = World::new(e);
    let answer = w.park("tok").await.unwrap();
    assert_eq!(answer.pause_reason, Some(PauseReason::WaveFailed));
}

/// Bug: a resume that finished a crashed resume's pending release answered 200 and left the
/// execution PAUSED when a pause had come in between, and answered 200 on a CANCELLING execution.
#[tokio::test]
async fn a_resume_finishing_a_pending_release_then_answers_for_the_execution_as_it_stands() {
    // A pause came in between: this resume resumes it.
    let mut e = paused_with_token("tok");
    e.header.task_token.as_mut().unwrap().release_pending = true;
    e.header.pause_reason = Some(PauseReason::Operator);
    let w = World::new(e).with_workflow(accepting("tok", 1));
    let answer = w.resume().await.unwrap();
    assert_eq!(answer.status, E::Polling);
    let r = w.record();
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.is_none());

    // A cancel came in between: the release is finished, and the resume is refused.
    let mut e = paused_with_token("tok");
    // What the cancel wrote before it released the token.
    e.header.status = E::Cancelling;
    e.header.paused_before_wave = None;
    e.header.task_token.as_mut().unwrap().release_pending = true;
    let w = World::new(e).with_workflow(accepting("tok", 1));
    let err = w.resume().await.unwrap_err();
    assert_eq!(
        err,
        crate::OperationError::InvalidState(crate::error::Refusal::NotPaused {
            status: E::Cancelling
        })
    );
    assert!(
        w.record().header.task_token.is_none(),
        "the release was finished"
    );
}
