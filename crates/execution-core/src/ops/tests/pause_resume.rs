use mockall::Sequence;

use super::exec;
use crate::api::PauseRequest;
use crate::ids::TaskToken;
use crate::model::HeldToken;
use crate::ops::testing::*;
use crate::ops::{pause, resume};
use crate::ports::mocks::MockWorkflow;
use crate::ports::{ServiceError, WorkflowError};
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus as E, WaveStatus as W};

fn token(s: &str) -> TaskToken {
    TaskToken::parse(s).unwrap()
}

fn operator() -> PauseRequest {
    PauseRequest {
        target: target(),
        task_token: None,
    }
}

fn workflow_pause(t: &str) -> PauseRequest {
    PauseRequest {
        target: target(),
        task_token: Some(token(t)),
    }
}

fn accepting(expected: &'static str, times: usize) -> MockWorkflow {
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(times)
        .withf(move |t, _| t.expose() == expected)
        .returning(|_, _| Ok(()));
    wf
}

// ---- pause -----------------------------------------------------------------------------------

#[tokio::test]
async fn operator_pause_stands_before_the_next_pending_wave_and_lets_the_flight_run() {
    let state = shared(exec(E::Polling, &[W::Completed, W::Started, W::Pending]));
    let answer = pause(&store(&state), &no_workflow(), &operator())
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.paused_before_wave),
        (E::Paused, Some(2))
    );
    let r = record(&state);
    assert_eq!(r.status(), E::Paused);
    assert_eq!(r.header.paused_before_wave, Some(2));
    assert_eq!(r.waves[1].status, W::Started, "the wave in flight runs on");
    assert_eq!(
        next_action(&r, crate::model::Timestamp(1100), &Policy::default()),
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
        let state = shared(e);
        let err = pause(&store(&state), &no_workflow(), &operator())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_STATE");
        assert!(err.to_string().contains(why), "{err}");
        assert!(state.lock().unwrap().commits.is_empty());
    }
}

#[tokio::test]
async fn a_repeated_operator_pause_writes_nothing() {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.header.paused_before_wave = Some(1);
    let state = shared(e);
    let answer = pause(&store(&state), &no_workflow(), &operator())
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.paused_before_wave),
        (E::Paused, Some(1))
    );
    assert!(state.lock().unwrap().commits.is_empty());
}

#[tokio::test]
async fn the_workflow_parks_its_token_at_a_planned_pause() {
    let mut e = exec(E::Polling, &[W::Completed, W::Pending]);
    e.waves[1].pause_before_wave = true;
    let state = shared(e);
    let answer = pause(&store(&state), &no_workflow(), &workflow_pause("tok-1"))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.paused_before_wave),
        (E::Paused, Some(1))
    );
    let r = record(&state);
    assert_eq!(
        r.header.task_token,
        Some(HeldToken {
            token: token("tok-1"),
            release_pending: false
        })
    );
    // The answer never carries the token.
    assert!(!serde_json::to_string(&answer).unwrap().contains("tok-1"));
}

#[tokio::test]
async fn a_new_token_replaces_one_whose_wait_timed_out() {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.header.task_token = Some(HeldToken {
        token: token("old"),
        release_pending: false,
    });
    let state = shared(e);
    pause(&store(&state), &no_workflow(), &workflow_pause("new"))
        .await
        .unwrap();
    assert_eq!(
        record(&state).header.task_token.unwrap().token,
        token("new")
    );
}

#[tokio::test]
async fn resume_before_the_token_arrives_releases_the_token_at_once() {
    // SPEC §4: the operator paused during wave 0 and resumed before the workflow reached the
    // boundary; the workflow's token must not wait for a resume that already happened.
    let state = shared(exec(E::Polling, &[W::Completed, W::Started, W::Pending]));
    pause(&store(&state), &no_workflow(), &operator())
        .await
        .unwrap();
    let resumed = resume(&store(&state), &no_workflow(), &target())
        .await
        .unwrap();
    assert_eq!(resumed.status, E::Polling);
    assert!(!resumed.workflow_released, "no token was held yet");
    // Wave 1 completes; the workflow, which had seen PAUSE earlier, now arrives with its token.
    state.lock().unwrap().record.as_mut().unwrap().waves[1].status = W::Completed;
    let writes_before = state.lock().unwrap().commits.len();
    let answer = pause(
        &store(&state),
        &accepting("late", 1),
        &workflow_pause("late"),
    )
    .await
    .unwrap();
    assert_eq!(answer.status, E::Polling);
    let r = record(&state);
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.is_none());
    assert_eq!(
        state.lock().unwrap().commits.len(),
        writes_before,
        "nothing written"
    );
}

#[tokio::test]
async fn a_pause_decided_before_a_launch_claim_stands_before_the_following_wave() {
    let mut base = exec(E::Polling, &[W::Completed, W::Pending, W::Pending]);
    base.header.start_time = Some(crate::model::Timestamp(1000));
    // What launch writes, captured from a run on a copy of the record...
    let launched = shared(base.clone());
    let mut drs = crate::ports::mocks::MockDrs::new();
    drs.expect_start_recovery().returning(|_| {
        Ok(crate::fixtures::drs_job(
            1,
            crate::status::JobStatus::Pending,
            &[],
        ))
    });
    crate::ops::launch(
        &store(&launched),
        &drs,
        &clock(1100),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap();
    let launch_writes = launched.lock().unwrap().commits.clone();
    // ...lands between pause's read and pause's write.
    let state = shared(base);
    state
        .lock()
        .unwrap()
        .before_commit
        .push_back(Box::new(move |r| {
            for c in &launch_writes {
                apply(r, c).unwrap();
            }
        }));
    let answer = pause(&store(&state), &no_workflow(), &operator())
        .await
        .unwrap();
    assert_eq!(
        answer.paused_before_wave,
        Some(2),
        "wave 1 was already launched when the pause took effect"
    );
    assert_eq!(record(&state).header.paused_before_wave, Some(2));
}

// ---- resume ----------------------------------------------------------------------------------

fn paused_with_token(t: &str) -> crate::model::Execution {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.waves[1].pause_before_wave = true;
    e.header.paused_before_wave = Some(1);
    e.header.task_token = Some(HeldToken {
        token: token(t),
        release_pending: false,
    });
    e
}

#[tokio::test]
async fn resume_approves_the_wave_releases_the_token_and_clears_it() {
    let state = shared(paused_with_token("tok"));
    let st2 = state.clone();
    let mut wf = MockWorkflow::new();
    // When the workflow is released the record already says POLLING (the write comes first).
    wf.expect_send_task_success()
        .times(1)
        .returning(move |t, _| {
            let r = st2.lock().unwrap().record.clone().unwrap();
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
    let answer = resume(&store(&state), &wf, &target()).await.unwrap();
    assert_eq!(
        (
            answer.status,
            answer.resumed_before_wave,
            answer.workflow_released
        ),
        (E::Polling, Some(1), true)
    );
    let r = record(&state);
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.is_none());
    assert!(r.header.paused_before_wave.is_none());
    assert!(r.waves[1].pause_approved);
    assert_eq!(
        next_action(&r, crate::model::Timestamp(2000), &Policy::default()),
        NextAction::Launch
    );
}

#[tokio::test]
async fn resume_without_a_token_only_writes_the_record() {
    let mut e = exec(E::Paused, &[W::Started, W::Pending]);
    e.header.paused_before_wave = Some(1);
    let state = shared(e);
    let answer = resume(&store(&state), &no_workflow(), &target())
        .await
        .unwrap();
    assert!(!answer.workflow_released);
    assert_eq!(record(&state).status(), E::Polling);
}

#[tokio::test]
async fn resume_is_refused_unless_paused() {
    for status in [E::Pending, E::Polling, E::Cancelling, E::Completed] {
        let state = shared(exec(status, &[W::Pending]));
        let err = resume(&store(&state), &no_workflow(), &target())
            .await
            .unwrap_err();
        assert_eq!(
            (err.status_code(), err.code()),
            (400, "INVALID_STATE"),
            "{status}"
        );
        assert!(state.lock().unwrap().commits.is_empty());
    }
}

#[tokio::test]
async fn a_token_the_workflow_no_longer_accepts_is_a_clear_error_and_the_record_says_so() {
    for dead in [
        WorkflowError::TaskTimedOut,
        WorkflowError::InvalidToken,
        WorkflowError::TaskDoesNotExist,
    ] {
        let state = shared(paused_with_token("stale"));
        let mut wf = MockWorkflow::new();
        let d = dead.clone();
        wf.expect_send_task_success()
            .times(1)
            .returning(move |_, _| Err(d.clone()));
        let err = resume(&store(&state), &wf, &target()).await.unwrap_err();
        assert_eq!(
            (err.status_code(), err.code()),
            (409, "TOKEN_REJECTED"),
            "{dead:?}"
        );
        let r = record(&state);
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
    let state = shared(paused_with_token("tok"));
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .returning(|_, _| Err(WorkflowError::Service(ServiceError::unavailable("503"))));
    let err = resume(&store(&state), &wf, &target()).await.unwrap_err();
    assert_eq!(err.status_code(), 500);
    let r = record(&state);
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.as_ref().unwrap().release_pending);
    // The operator retries: the release is finished, not refused as "not PAUSED".
    let answer = resume(&store(&state), &accepting("tok", 1), &target())
        .await
        .unwrap();
    assert!(answer.workflow_released);
    assert!(record(&state).header.task_token.is_none());
}

#[tokio::test]
async fn a_resume_that_died_after_releasing_is_finished_by_the_next_one() {
    // Crash between SendTaskSuccess and clearing the token: the workflow already moved on, so a
    // second send is refused; that is success for a retry.
    let mut e = paused_with_token("tok");
    e.header.status = E::Polling;
    e.header.task_token.as_mut().unwrap().release_pending = true;
    let state = shared(e);
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .returning(|_, _| Err(WorkflowError::TaskTimedOut));
    let answer = resume(&store(&state), &wf, &target()).await.unwrap();
    assert_eq!(answer.status, E::Polling);
    assert!(record(&state).header.task_token.is_none());
}

#[tokio::test]
async fn pause_and_resume_race_on_the_header_and_neither_is_lost() {
    let state = shared(paused_with_token("tok"));
    // Between resume's read and its write, the workflow re-arms its pause with a new token.
    state.lock().unwrap().before_commit.push_back(Box::new(|r| {
        r.header.task_token = Some(HeldToken {
            token: TaskToken::parse("newer").unwrap(),
            release_pending: false,
        });
        r.header.version += 1;
    }));
    let mut seq = Sequence::new();
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .in_sequence(&mut seq)
        .withf(|t, _| t.expose() == "newer")
        .returning(|_, _| Ok(()));
    let answer = resume(&store(&state), &wf, &target()).await.unwrap();
    assert!(
        answer.workflow_released,
        "the token the workflow waits on now is the one released"
    );
    assert!(record(&state).header.task_token.is_none());
}

// ---- v2: pause reasons, failure pauses, the bugs of version 1 -------------------------------

/// Bug: an operator's pause and resume while a wave was in flight approved the next wave's
/// planned pause, so the approval gate the plan asked for never happened.
#[tokio::test]
async fn resuming_an_operator_pause_does_not_approve_a_planned_one() {
    let mut e = exec(E::Polling, &[W::Completed, W::Started, W::Pending]);
    e.waves[2].pause_before_wave = true;
    let state = shared(e);
    let paused = pause(&store(&state), &no_workflow(), &operator())
        .await
        .unwrap();
    assert_eq!(
        (paused.pause_reason, paused.paused_before_wave),
        (Some(crate::model::PauseReason::Operator), Some(2))
    );
    resume(&store(&state), &no_workflow(), &target())
        .await
        .unwrap();
    let mut r = record(&state);
    assert!(!r.waves[2].pause_approved, "the planned pause still stands");
    r.waves[1].status = W::Completed;
    assert_eq!(
        next_action(&r, crate::model::Timestamp(1200), &Policy::default()),
        NextAction::Pause
    );
    state.lock().unwrap().record = Some(r);
    let parked = pause(&store(&state), &no_workflow(), &workflow_pause("tok"))
        .await
        .unwrap();
    assert_eq!(
        parked.pause_reason,
        Some(crate::model::PauseReason::Planned)
    );
    let resumed = resume(&store(&state), &accepting("tok", 1), &target())
        .await
        .unwrap();
    assert_eq!(resumed.resumed_before_wave, Some(2));
    assert!(record(&state).waves[2].pause_approved);
}

/// A record of version 1 kept no pause reason: a PAUSED record standing at an unapproved planned
/// pause reads as PLANNED (its resume approves it), any other as OPERATOR.
#[tokio::test]
async fn a_version_1_pause_without_a_reason_reads_as_what_it_was() {
    let state = shared(paused_with_token("tok"));
    assert_eq!(
        record(&state).pause_reason(),
        Some(crate::model::PauseReason::Planned)
    );
    resume(&store(&state), &accepting("tok", 1), &target())
        .await
        .unwrap();
    assert!(record(&state).waves[1].pause_approved);
}

fn failed_with_pause_policy(status: E) -> crate::model::Execution {
    let mut e = exec(status, &[W::Completed, W::Failed, W::Pending]);
    e.waves[1].on_failure = Some(crate::model::FailurePolicy::Pause);
    e
}

#[tokio::test]
async fn a_failed_wave_with_policy_pause_parks_the_workflow_with_its_reason() {
    let state = shared(failed_with_pause_policy(E::Polling));
    assert_eq!(
        next_action(
            &record(&state),
            crate::model::Timestamp(1100),
            &Policy::default()
        ),
        NextAction::Pause
    );
    let answer = pause(&store(&state), &no_workflow(), &workflow_pause("tok"))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.pause_reason, answer.failed_wave),
        (
            E::Paused,
            Some(crate::model::PauseReason::WaveFailed),
            Some(1)
        )
    );
    let r = record(&state);
    assert_eq!(
        r.header.pause_reason,
        Some(crate::model::PauseReason::WaveFailed)
    );
    assert_eq!(r.header.failed_wave, Some(1));
    assert!(r.header.task_token.is_some());

    // resume does not apply: it names retry, skip and cancel, and changes nothing.
    let err = resume(&store(&state), &no_workflow(), &target())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        crate::OperationError::InvalidState(crate::error::Refusal::WaitsForDecision { wave: 1 })
    );
    let msg = err.to_string();
    assert!(
        msg.contains("retry") && msg.contains("skip") && msg.contains("cancel"),
        "{msg}"
    );
    assert_eq!(record(&state), r);
}

#[tokio::test]
async fn a_failed_wave_takes_over_an_operators_pause() {
    let mut e = failed_with_pause_policy(E::Paused);
    e.header.pause_reason = Some(crate::model::PauseReason::Operator);
    e.header.paused_before_wave = Some(2);
    let state = shared(e);
    let answer = pause(&store(&state), &no_workflow(), &workflow_pause("tok"))
        .await
        .unwrap();
    assert_eq!(
        answer.pause_reason,
        Some(crate::model::PauseReason::WaveFailed)
    );
}

/// Bug: a resume that finished a crashed resume's pending release answered 200 and left the
/// execution PAUSED when a pause had come in between, and answered 200 on a CANCELLING execution.
#[tokio::test]
async fn a_resume_finishing_a_pending_release_then_answers_for_the_execution_as_it_stands() {
    // A pause came in between: this resume resumes it.
    let mut e = paused_with_token("tok");
    e.header.task_token.as_mut().unwrap().release_pending = true;
    e.header.pause_reason = Some(crate::model::PauseReason::Operator);
    let state = shared(e);
    let answer = resume(&store(&state), &accepting("tok", 1), &target())
        .await
        .unwrap();
    assert_eq!(answer.status, E::Polling);
    let r = record(&state);
    assert_eq!(r.status(), E::Polling);
    assert!(r.header.task_token.is_none());

    // A cancel came in between: the release is finished, and the resume is refused.
    let mut e = paused_with_token("tok");
    e.header.status = E::Cancelling;
    e.header.task_token.as_mut().unwrap().release_pending = true;
    let state = shared(e);
    let err = resume(&store(&state), &accepting("tok", 1), &target())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        crate::OperationError::InvalidState(crate::error::Refusal::NotPaused {
            status: E::Cancelling
        })
    );
    assert!(
        record(&state).header.task_token.is_none(),
        "the release was finished"
    );
}
