use super::exec;
use crate::ids::TaskToken;
use crate::model::HeldToken;
use crate::ops::cancel;
use crate::ops::testing::*;
use crate::ports::mocks::MockWorkflow;
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus as E, WaveStatus as W};

#[tokio::test]
async fn cancel_moves_active_executions_to_cancelling() {
    for status in [E::Pending, E::Polling, E::Paused] {
        let state = shared(exec(status, &[W::Completed, W::Pending]));
        let answer = cancel(&store(&state), &no_workflow(), &target())
            .await
            .unwrap();
        assert_eq!(
            (answer.status, answer.workflow_released),
            (E::Cancelling, false)
        );
        let r = record(&state);
        assert_eq!(r.status(), E::Cancelling);
        assert_eq!(
            next_action(&r, crate::model::Timestamp(2000), &Policy::default()),
            NextAction::Finalize
        );
    }
}

#[tokio::test]
async fn cancel_releases_a_paused_workflow() {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse("tok").unwrap(),
        release_pending: false,
    });
    let state = shared(e);
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .withf(|t, _| t.expose() == "tok")
        .returning(|_, _| Ok(()));
    let answer = cancel(&store(&state), &wf, &target()).await.unwrap();
    assert!(answer.workflow_released);
    assert!(record(&state).header.task_token.is_none());
}

#[tokio::test]
async fn cancel_waits_for_the_wave_in_flight() {
    let state = shared(exec(E::Polling, &[W::Started, W::Pending]));
    cancel(&store(&state), &no_workflow(), &target())
        .await
        .unwrap();
    assert_eq!(
        next_action(
            &record(&state),
            crate::model::Timestamp(1010),
            &Policy::default()
        ),
        NextAction::Wait
    );
}

#[tokio::test]
async fn cancel_is_idempotent_and_refused_when_finished() {
    let state = shared(exec(E::Cancelling, &[W::Started]));
    assert_eq!(
        cancel(&store(&state), &no_workflow(), &target())
            .await
            .unwrap()
            .status,
        E::Cancelling
    );
    assert!(state.lock().unwrap().commits.is_empty());
    for status in [E::Completed, E::Failed, E::Cancelled] {
        let state = shared(exec(status, &[W::Completed]));
        let err = cancel(&store(&state), &no_workflow(), &target())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_STATE", "{status}");
    }
}
