use super::exec;
use crate::ids::TaskToken;
use crate::model::{HeldToken, Timestamp};
use crate::ops::testing::*;
use crate::ports::mocks::MockWorkflow;
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus as E, WaveStatus as W};

#[tokio::test]
async fn cancel_moves_active_executions_to_cancelling() {
    for status in [E::Pending, E::Polling, E::Paused] {
        let first = if status == E::Pending {
            W::Pending
        } else {
            W::Completed
        };
        let w = World::new(exec(status, &[first, W::Pending]));
        let answer = w.cancel().await.unwrap();
        assert_eq!(
            (answer.status, answer.workflow_released),
            (E::Cancelling, false)
        );
        let r = w.record();
        assert_eq!(r.status(), E::Cancelling);
        assert_eq!(
            next_action(&r, Timestamp(2000), &Policy::default()),
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
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .withf(|t, _| t.expose() == "tok")
        .returning(|_, _| Ok(()));
    let w = World::new(e).with_workflow(wf);
    let answer = w.cancel().await.unwrap();
    assert!(answer.workflow_released);
    assert!(w.record().header.task_token.is_none());
}

#[tokio::test]
async fn cancel_waits_for_the_wave_in_flight() {
    let w = World::new(exec(E::Polling, &[W::Started, W::Pending]));
    w.cancel().await.unwrap();
    assert_eq!(
        next_action(&w.record(), Timestamp(1010), &Policy::default()),
        NextAction::Wait
    );
}

#[tokio::test]
async fn cancel_is_idempotent_and_refused_when_finished() {
    let w = World::new(exec(E::Cancelling, &[W::Started]));
    assert_eq!(w.cancel().await.unwrap().status, E::Cancelling);
    assert!(w.commits().is_empty());
    for (status, wave) in [
        (E::Completed, W::Completed),
        (E::Failed, W::Failed),
        (E::Cancelled, W::Cancelled),
    ] {
        let w = World::new(exec(status, &[wave]));
        let err = w.cancel().await.unwrap_err();
        assert_eq!(err.code(), "INVALID_STATE", "{status}");
    }
}
