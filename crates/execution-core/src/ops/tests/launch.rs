use mockall::predicate::always;

use super::exec;
use crate::fixtures::{drs_job, job, server};
use crate::model::{Timestamp, WaveFailure};
use crate::ops::launch;
use crate::ops::testing::*;
use crate::ports::mocks::MockDrs;
use crate::ports::{HeaderWrite, RecoveryRequest, ServiceError, TAG_EXECUTION_ID, TAG_WAVE_NUMBER};
use crate::rules::Policy;
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus, WaveStatus as W};

fn drs_starting(job_no: usize) -> MockDrs {
    let mut drs = MockDrs::new();
    drs.expect_start_recovery()
        .times(1)
        .returning(move |req: &RecoveryRequest| {
            let servers: Vec<_> = req
                .source_servers
                .iter()
                .map(|s| (s.clone(), LaunchStatus::Pending))
                .collect();
            Ok(drs_job(job_no, JobStatus::Pending, &servers))
        });
    drs
}

#[tokio::test]
async fn first_launch_claims_starts_once_and_records_the_job() {
    let state = shared(exec(E::Pending, &[W::Pending, W::Pending]));
    let mut drs = MockDrs::new();
    drs.expect_start_recovery()
        .times(1)
        .withf(|req| {
            req.wave_number == 0
                && req.is_drill
                && req.source_servers == vec![server(0), server(1)]
                && req.tags()
                    == [
                        (TAG_EXECUTION_ID, crate::fixtures::EXECUTION_ID.to_string()),
                        (TAG_WAVE_NUMBER, "0".into()),
                    ]
        })
        .returning(|_| Ok(drs_job(7, JobStatus::Pending, &[])));
    let answer = launch(
        &store(&state),
        &drs,
        &clock(2000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap();

    assert_eq!(
        (answer.wave_number, answer.wave_status, answer.status),
        (0, W::Started, E::Polling)
    );
    assert_eq!(answer.job_id, Some(job(7)));
    assert!(!answer.recovered);
    let r = record(&state);
    assert_eq!(r.status(), E::Polling);
    assert_eq!(r.header.start_time, Some(Timestamp(2000)));
    assert_eq!(r.waves[0].status, W::Started);
    assert_eq!(r.waves[0].job_id, Some(job(7)));
    assert_eq!(r.waves[0].launch_time, Some(Timestamp(2000)));
    assert_eq!(r.waves[1].status, W::Pending);
    // The claim was conditional on the header and moved its version on, so a pause that answered
    // first wins, and a pause decided before the claim loses and re-reads.
    let commits = &state.lock().unwrap().commits;
    assert!(
        matches!(&commits[0].header, Some(HeaderWrite::Put { expected_version: 0, header }) if header.version == 1 && header.status == E::Pending)
    );
    assert_eq!(commits[0].waves[0].wave.status, W::Launching);
}

#[tokio::test]
async fn a_later_wave_keeps_the_execution_polling() {
    let state = shared(exec(E::Polling, &[W::Completed, W::Pending]));
    let answer = launch(
        &store(&state),
        &drs_starting(3),
        &clock(5000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap();
    assert_eq!((answer.wave_number, answer.status), (1, E::Polling));
    assert_eq!(record(&state).waves[1].job_id, Some(job(3)));
}

#[tokio::test]
async fn refused_unless_next_action_is_launch() {
    let cases = [
        exec(E::Polling, &[W::Started, W::Pending]),
        exec(E::Polling, &[W::Launching, W::Pending]),
        exec(E::Paused, &[W::Completed, W::Pending]),
        exec(E::Cancelling, &[W::Completed, W::Pending]),
        exec(E::Polling, &[W::Completed, W::Completed]),
        exec(E::Completed, &[W::Completed]),
        {
            let mut e = exec(E::Polling, &[W::Completed, W::Pending]);
            e.waves[1].pause_before_wave = true;
            e
        },
    ];
    for e in cases {
        let state = shared(e.clone());
        let err = launch(
            &store(&state),
            &no_drs(),
            &clock(1010),
            &Policy::default(),
            &target(),
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.code(),
            "INVALID_STATE",
            "{:?}",
            e.waves.iter().map(|w| w.status).collect::<Vec<_>>()
        );
        assert!(err.to_string().contains("nextAction is"), "{err}");
        assert!(state.lock().unwrap().commits.is_empty());
    }
}

#[tokio::test]
async fn a_pause_that_wins_the_race_stops_the_launch() {
    let state = shared(exec(E::Polling, &[W::Completed, W::Pending]));
    state.lock().unwrap().before_commit.push_back(Box::new(|r| {
        r.header.status = E::Paused;
        r.header.paused_before_wave = Some(1);
        r.header.version += 1;
    }));
    let err = launch(
        &store(&state),
        &no_drs(),
        &clock(5000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE");
    assert!(err.to_string().contains("PAUSE"), "{err}");
    assert_eq!(record(&state).waves[1].status, W::Pending);
}

#[tokio::test]
async fn two_launchers_start_one_job() {
    // Another launcher claims the wave between our read and our claim.
    let state = shared(exec(E::Polling, &[W::Completed, W::Pending]));
    state.lock().unwrap().before_commit.push_back(Box::new(|r| {
        r.waves[1].status = W::Launching;
        r.waves[1].launch_time = Some(Timestamp(4999));
        r.waves[1].version += 1;
    }));
    let err = launch(
        &store(&state),
        &no_drs(),
        &clock(5000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE");
    assert!(err.to_string().contains("WAIT"), "{err}");
}

#[tokio::test]
async fn a_retried_launch_finds_the_tagged_job_instead_of_starting_another() {
    // The first launch died after StartRecovery succeeded: the wave is still LAUNCHING.
    let mut e = exec(E::Pending, &[W::Launching, W::Pending]);
    e.waves[0].launch_time = Some(Timestamp(1000));
    let state = shared(e);
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job()
        .times(1)
        .withf(|id, wave, since| {
            *id == crate::fixtures::execution_id() && *wave == 0 && *since == Timestamp(1000)
        })
        .returning(|_, _, _| Ok(Some(drs_job(9, JobStatus::Started, &[]))));
    drs.expect_start_recovery().never();
    let policy = Policy::default();
    let answer = launch(&store(&state), &drs, &clock(1000 + 121), &policy, &target())
        .await
        .unwrap();
    assert!(answer.recovered);
    assert_eq!(answer.job_id, Some(job(9)));
    let r = record(&state);
    assert_eq!((r.status(), r.waves[0].status), (E::Polling, W::Started));
    assert_eq!(
        r.waves[0].launch_time,
        Some(Timestamp(1000)),
        "the wave's clock runs from the first claim"
    );
}

#[tokio::test]
async fn a_stale_claim_without_a_job_is_taken_over_and_started_once() {
    let state = shared(exec(E::Polling, &[W::Completed, W::Launching]));
    let mut drs = drs_starting(4);
    drs.expect_find_tagged_job()
        .times(1)
        .returning(|_, _, _| Ok(None));
    let answer = launch(
        &store(&state),
        &drs,
        &clock(2000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap();
    assert_eq!(
        (answer.wave_number, answer.wave_status, answer.recovered),
        (1, W::Started, false)
    );
    assert_eq!(record(&state).waves[1].launch_time, Some(Timestamp(2000)));
}

#[tokio::test]
async fn a_stale_claim_of_a_cancelled_execution_is_cancelled_not_started() {
    let state = shared(exec(E::Cancelling, &[W::Completed, W::Launching]));
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job().returning(|_, _, _| Ok(None));
    drs.expect_start_recovery().never();
    let answer = launch(
        &store(&state),
        &drs,
        &clock(2000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap();
    assert_eq!(answer.wave_status, W::Cancelled);
    assert_eq!(record(&state).waves[1].status, W::Cancelled);
}

#[tokio::test]
async fn drs_refusing_the_launch_fails_the_wave() {
    let state = shared(exec(E::Polling, &[W::Completed, W::Pending]));
    let mut drs = MockDrs::new();
    drs.expect_start_recovery().times(1).returning(|_| {
        Err(ServiceError::Rejected(
            "source server s-1 is not ready".into(),
        ))
    });
    let answer = launch(
        &store(&state),
        &drs,
        &clock(2000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap();
    assert_eq!(answer.wave_status, W::Failed);
    let w = &record(&state).waves[1];
    assert_eq!(w.failure_reason, Some(WaveFailure::LaunchRejected));
    assert!(w.status_message.as_deref().unwrap().contains("not ready"));
}

#[tokio::test]
async fn throttled_launch_releases_its_claim_so_the_retry_goes_at_once() {
    let state = shared(exec(E::Polling, &[W::Completed, W::Pending]));
    let mut drs = MockDrs::new();
    drs.expect_start_recovery().times(1).returning(|_| {
        Err(ServiceError::Throttled {
            retry_after: Some(std::time::Duration::from_secs(5)),
            message: "slow down".into(),
        })
    });
    let err = launch(
        &store(&state),
        &drs,
        &clock(2000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status_code(), 500);
    assert!(err.to_string().contains("retry after 5 s"), "{err}");
    let w = &record(&state).waves[1];
    assert_eq!((w.status, w.launch_time), (W::Launching, None));

    // The retry, one second later: finds no tagged job (none was started) and starts one.
    let mut drs = drs_starting(5);
    drs.expect_find_tagged_job()
        .times(1)
        .returning(|_, _, _| Ok(None));
    let answer = launch(
        &store(&state),
        &drs,
        &clock(2001),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap();
    assert_eq!(answer.wave_status, W::Started);
}

#[tokio::test]
async fn an_unknown_outcome_keeps_the_claim_until_it_is_stale() {
    let state = shared(exec(E::Polling, &[W::Completed, W::Pending]));
    let mut drs = MockDrs::new();
    drs.expect_start_recovery()
        .times(1)
        .returning(|_| Err(ServiceError::Unavailable("timeout".into())));
    let err = launch(
        &store(&state),
        &drs,
        &clock(2000),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status_code(), 500);
    assert_eq!(record(&state).waves[1].launch_time, Some(Timestamp(2000)));
    // Within the grace period nothing is started again (DRS may have the job).
    let err = launch(
        &store(&state),
        &no_drs(),
        &clock(2060),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "INVALID_STATE");
}

#[tokio::test]
async fn not_found_and_foreign_plan_are_404() {
    let state = shared(exec(E::Pending, &[W::Pending]));
    let mut t = target();
    t.plan_id = crate::ids::PlanId::new_random();
    let err = launch(&store(&state), &no_drs(), &clock(1), &Policy::default(), &t)
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 404);
    let mut t = target();
    t.execution_id = crate::ids::ExecutionId::new_random();
    let err = launch(&store(&state), &no_drs(), &clock(1), &Policy::default(), &t)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}

#[tokio::test]
async fn store_failures_are_internal_errors_and_start_nothing() {
    let state = shared(exec(E::Pending, &[W::Pending]));
    state
        .lock()
        .unwrap()
        .fail_commits
        .push_back(crate::ports::StoreError::Service(
            ServiceError::Unavailable("dynamodb 503".into()),
        ));
    let mut drs = MockDrs::new();
    drs.expect_start_recovery().with(always()).never();
    let err = launch(
        &store(&state),
        &drs,
        &clock(1),
        &Policy::default(),
        &target(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.status_code(), 500);
    assert_eq!(record(&state).waves[0].status, W::Pending);
}
