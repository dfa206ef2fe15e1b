use super::exec;
use crate::model::Timestamp;
use crate::ops::testing::*;
use crate::status::{ExecutionStatus as E, WaveStatus as W};

#[tokio::test]
async fn all_waves_completed_finalizes_completed_with_the_recovery_time() {
    let mut e = exec(E::Polling, &[W::Completed, W::Completed]);
    e.waves[0].launch_time = Some(Timestamp(1000));
    e.waves[1].end_time = Some(Timestamp(1900));
    let w = World::new(e);
    let answer = w.finalize(2000).await.unwrap();
    assert_eq!(
        (answer.status, answer.total_waves, answer.already_finalized),
        (E::Completed, 2, false)
    );
    assert_eq!(answer.recovery_time_seconds, Some(900));
    let r = w.record();
    assert_eq!(
        (
            r.status(),
            r.header.end_time,
            r.header.recovery_time_seconds
        ),
        (E::Completed, Some(Timestamp(2000)), Some(900))
    );
}

#[tokio::test]
async fn finalize_twice_writes_once() {
    let w = World::new(exec(E::Polling, &[W::Completed]));
    w.finalize(2000).await.unwrap();
    let again = w.finalize(2500).await.unwrap();
    assert_eq!(
        (again.status, again.already_finalized),
        (E::Completed, true)
    );
    assert_eq!(w.commits().len(), 1);
    assert_eq!(w.record().header.end_time, Some(Timestamp(2000)));
}

#[tokio::test]
async fn two_finalizes_at_once_write_once() {
    let w = World::new(exec(E::Polling, &[W::Completed]));
    // The other finalize commits between this one's read and its write.
    w.race(|r| {
        r.header.status = E::Completed;
        r.header.end_time = Some(Timestamp(1999));
        r.header.version += 1;
    });
    let answer = w.finalize(2000).await.unwrap();
    assert!(answer.already_finalized);
    assert_eq!(answer.status, E::Completed);
    assert!(w.commits().is_empty(), "the loser wrote nothing");
    assert_eq!(w.record().header.end_time, Some(Timestamp(1999)));
}

#[tokio::test]
async fn a_failed_wave_fails_the_execution_and_cancels_the_waves_that_never_ran() {
    let w = World::new(exec(
        E::Polling,
        &[W::Completed, W::Failed, W::Pending, W::Pending],
    ));
    let answer = w.finalize(2000).await.unwrap();
    assert_eq!(answer.status, E::Failed);
    assert!(answer.recovery_time_seconds.is_none());
    let r = w.record();
    let statuses: Vec<_> = r.waves.iter().map(|w| w.status).collect();
    assert_eq!(
        statuses,
        [W::Completed, W::Failed, W::Cancelled, W::Cancelled]
    );
    // One atomic write: header and both cancelled waves.
    let commits = w.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].waves.len(), 2);
}

#[tokio::test]
async fn a_cancelled_execution_ends_cancelled() {
    let w = World::new(exec(E::Cancelling, &[W::Completed, W::Pending]));
    let answer = w.finalize(2000).await.unwrap();
    assert_eq!(answer.status, E::Cancelled);
    assert_eq!(w.record().waves[1].status, W::Cancelled);
}

#[tokio::test]
async fn a_held_token_does_not_survive_finalize() {
    let mut e = exec(E::Paused, &[W::Failed, W::Pending]);
    e.header.task_token = Some(crate::model::HeldToken {
        token: crate::ids::TaskToken::parse("t").unwrap(),
        release_pending: false,
    });
    let w = World::new(e);
    assert_eq!(w.finalize(2000).await.unwrap().status, E::Failed);
    assert!(w.record().header.task_token.is_none());
}

#[tokio::test]
async fn unfinished_waves_are_a_400_that_names_them() {
    let w = World::new(exec(E::Polling, &[W::Completed, W::Started, W::Pending]));
    let err = w.finalize(2000).await.unwrap_err();
    assert_eq!((err.status_code(), err.code()), (400, "INVALID_STATE"));
    assert!(
        err.to_string().contains("1 (STARTED), 2 (PENDING)"),
        "{err}"
    );
    assert!(w.commits().is_empty());
}

#[tokio::test]
async fn finalize_of_an_unknown_execution_is_404() {
    let mut w = World::new(exec(E::Polling, &[W::Completed]));
    w.target.plan_id = crate::ids::PlanId::new_random();
    assert_eq!(w.finalize(1).await.unwrap_err().code(), "NOT_FOUND");
}

#[tokio::test]
async fn a_store_outage_is_a_500() {
    let w = World::new(exec(E::Polling, &[W::Completed]));
    w.fail_next_commit(crate::ports::StoreError::Service(
        crate::ports::ServiceError::unavailable("x"),
    ));
    assert_eq!(w.finalize(1).await.unwrap_err().status_code(), 500);
    assert_eq!(w.record().status(), E::Polling);
}
