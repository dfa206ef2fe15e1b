use std::sync::{Arc, Mutex};
use std::time::Duration;

use mockall::predicate::always;

use super::exec;
use crate::error::{OperationError, Refusal};
use crate::fixtures::{drs_job, execution, give_job, job, server};
use crate::model::{Execution, Timestamp, WaveFailure};
use crate::ops::testing::*;
use crate::ports::mocks::MockDrs;
use crate::ports::{
    HeaderWrite, RecoveryRequest, ServiceError, TAG_ATTEMPT, TAG_EXECUTION_ID, TAG_PART,
    TAG_WAVE_NUMBER,
};
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus, WaveStatus as W};

/// A DRS that starts `times` jobs, numbered from `first`, for whatever servers it is asked, and
/// keeps every request.
fn drs_starting(first: usize, times: usize) -> (MockDrs, Arc<Mutex<Vec<RecoveryRequest>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut drs = MockDrs::new();
    let log = seen.clone();
    drs.expect_start_recovery()
        .times(times)
        .returning(move |req: &RecoveryRequest| {
            let mut log = log.lock().unwrap();
            log.push(req.clone());
            let servers: Vec<_> = req
                .source_servers
                .iter()
                .map(|s| (s.clone(), LaunchStatus::Pending))
                .collect();
            Ok(drs_job(first + log.len() - 1, JobStatus::Pending, &servers))
        });
    (drs, seen)
}

/// A DRS whose StartRecovery answers `answer` once.
fn drs_answering(answer: Result<crate::ports::DrsJob, ServiceError>) -> MockDrs {
    let mut drs = MockDrs::new();
    drs.expect_start_recovery()
        .times(1)
        .return_once(move |_| answer);
    drs
}

/// A DRS that finds no tagged job, and then answers StartRecovery `answer` once.
fn drs_finding_nothing_then(answer: Result<crate::ports::DrsJob, ServiceError>) -> MockDrs {
    let mut drs = drs_answering(answer);
    drs.expect_find_tagged_job()
        .times(1)
        .returning(|_, _| Ok(None));
    drs
}

fn conflict() -> ServiceError {
    ServiceError::Throttled {
        retry_after: None,
        message: "ConflictException: s-1 is in another job".into(),
    }
}

fn policy_with_jobs_of(n: u32) -> Policy {
    Policy {
        max_servers_per_job: n,
        ..Policy::default()
    }
}

/// A fresh execution of waves of these sizes, already POLLING (a later wave's launch).
fn polling(sizes: &[usize]) -> Execution {
    let mut e = execution(sizes);
    e.header.status = E::Polling;
    e
}

#[tokio::test]
async fn first_launch_claims_starts_once_and_records_the_job() {
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
                        (TAG_ATTEMPT, "1".into()),
                        (TAG_PART, "0".into()),
                    ]
        })
        .returning(|_| Ok(drs_job(7, JobStatus::Pending, &[])));
    let w = World::new(exec(E::Pending, &[W::Pending, W::Pending])).with_drs(drs);
    let answer = w.launch(2000).await.unwrap();

    assert_eq!(
        (answer.wave_number, answer.wave_status, answer.status),
        (0, W::Started, E::Polling)
    );
    assert_eq!(answer.job_ids, vec![job(7)]);
    assert!(!answer.recovered);
    let r = w.record();
    assert_eq!(r.status(), E::Polling);
    assert_eq!(r.header.start_time, Some(Timestamp(2000)));
    let wave = &r.waves[0];
    assert_eq!(wave.status, W::Started);
    assert_eq!(wave.jobs.len(), 1);
    assert_eq!((wave.jobs[0].attempt, wave.jobs[0].part), (1, 0));
    assert!(wave
        .server_statuses
        .iter()
        .all(|s| s.job_id == Some(job(7))));
    assert_eq!(wave.launch_time, Some(Timestamp(2000)));
    assert_eq!(wave.launch_attempts, 1);
    assert!(wave.claim.is_none());
    assert_eq!(r.waves[1].status, W::Pending);
    // The claim was conditional on the header and moved its version on, so a pause that answered
    // first wins, and a pause decided before the claim loses and re-reads. The first claim moves
    // the execution out of PENDING.
    let commits = w.commits();
    assert!(
        matches!(&commits[0].header, Some(HeaderWrite { expected_version: 0, header }) if header.version == 1 && header.status == E::Polling)
    );
    assert_eq!(commits[0].waves[0].wave.status, W::Launching);
}

#[tokio::test]
async fn a_later_wave_keeps_the_execution_polling() {
    let (drs, _) = drs_starting(3, 1);
    let w = World::new(exec(E::Polling, &[W::Completed, W::Pending])).with_drs(drs);
    let answer = w.launch(5000).await.unwrap();
    assert_eq!((answer.wave_number, answer.status), (1, E::Polling));
    assert_eq!(w.record().waves[1].jobs[0].job_id, job(3));
}

#[tokio::test]
async fn a_wave_larger_than_a_job_is_launched_as_several_tagged_jobs() {
    let mut e = execution(&[250, 1]);
    e.header.status = E::Pending;
    let (drs, seen) = drs_starting(10, 3);
    let w = World::new(e)
        .with_drs(drs)
        .with_policy(policy_with_jobs_of(100));
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(answer.wave_status, W::Started);
    assert_eq!(answer.job_ids, vec![job(10), job(11), job(12)]);
    let requests = seen.lock().unwrap();
    let shape: Vec<_> = requests
        .iter()
        .map(|r| (r.attempt, r.part, r.source_servers.len()))
        .collect();
    assert_eq!(shape, vec![(1, 0, 100), (1, 1, 100), (1, 2, 50)]);
    assert_eq!(
        requests[1].source_servers[0],
        server(100),
        "parts in plan order"
    );
    let wave = &w.record().waves[0];
    for (i, s) in wave.server_statuses.iter().enumerate() {
        assert_eq!(s.job_id, Some(job(10 + i / 100)), "server {i}");
    }
    assert_eq!(
        wave.jobs.iter().map(|j| j.part).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert_eq!(wave.launch_attempts, 3);
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
        {
            // Refused for now, and the backoff is not over.
            let mut e = exec(E::Polling, &[W::Completed, W::Launching]);
            e.waves[1].claim = None;
            e.waves[1].next_launch_time = Some(Timestamp(1020));
            e
        },
    ];
    for e in cases {
        let w = World::new(e.clone());
        let err = w.launch(1010).await.unwrap_err();
        assert!(
            matches!(
                err,
                OperationError::InvalidState(Refusal::LaunchNotDue { .. })
            ),
            "{:?}: {err}",
            e.waves.iter().map(|w| w.status).collect::<Vec<_>>()
        );
        assert!(w.commits().is_empty());
    }
}

#[tokio::test]
async fn a_pause_that_wins_the_race_stops_the_launch() {
    let w = World::new(exec(E::Polling, &[W::Completed, W::Pending]));
    w.race(|r| {
        r.header.status = E::Paused;
        r.header.paused_before_wave = Some(1);
        r.header.version += 1;
    });
    let err = w.launch(5000).await.unwrap_err();
    assert!(
        matches!(
            &err,
            OperationError::InvalidState(Refusal::LaunchNotDue {
                next_action: "PAUSE",
                ..
            })
        ),
        "{err}"
    );
    assert_eq!(w.record().waves[1].status, W::Pending);
}

#[tokio::test]
async fn two_launchers_start_one_job() {
    // Another launcher claims the wave between our read and our claim.
    let w = World::new(exec(E::Polling, &[W::Completed, W::Pending]));
    w.race(|r| {
        let claimed = exec(E::Polling, &[W::Completed, W::Launching]).waves[1].clone();
        r.waves[1] = crate::model::Wave {
            version: r.waves[1].version + 1,
            claim: claimed.claim.map(|c| crate::model::LaunchClaim {
                claimed_time: Timestamp(4999),
                ..c
            }),
            ..claimed
        };
    });
    let err = w.launch(5000).await.unwrap_err();
    assert!(
        matches!(
            &err,
            OperationError::InvalidState(Refusal::LaunchNotDue {
                next_action: "WAIT",
                ..
            })
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_retried_launch_finds_the_tagged_job_instead_of_starting_another() {
    // The first launch died after StartRecovery succeeded: the wave is still LAUNCHING, claimed.
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job()
        .times(1)
        .withf(|tag, since| {
            tag.execution_id == crate::fixtures::execution_id()
                && (tag.wave_number, tag.attempt, tag.part) == (0, 1, 0)
                && *since == Timestamp(1000)
        })
        .returning(|_, _| Ok(Some(drs_job(9, JobStatus::Started, &[]))));
    drs.expect_start_recovery().never();
    let w = World::new(exec(E::Polling, &[W::Launching, W::Pending])).with_drs(drs);
    let answer = w.launch(1000 + 121).await.unwrap();
    assert!(answer.recovered);
    assert_eq!(answer.job_ids, vec![job(9)]);
    let r = w.record();
    assert_eq!((r.status(), r.waves[0].status), (E::Polling, W::Started));
    assert_eq!(
        r.waves[0].launch_time,
        Some(Timestamp(1000)),
        "the wave's clock runs from the first claim"
    );
}

#[tokio::test]
async fn a_stale_claim_without_a_job_is_taken_over_and_started_once() {
    let (mut drs, seen) = drs_starting(4, 1);
    drs.expect_find_tagged_job()
        .times(1)
        .returning(|_, _| Ok(None));
    let w = World::new(exec(E::Polling, &[W::Completed, W::Launching])).with_drs(drs);
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(
        (answer.wave_number, answer.wave_status, answer.recovered),
        (1, W::Started, false)
    );
    assert_eq!(seen.lock().unwrap()[0].part, 0, "the same part, again");
    let r = w.record();
    assert_eq!(
        r.waves[1].launch_time,
        Some(Timestamp(1000)),
        "first attempt"
    );
    // The takeover moved the header's version on, like a fresh claim.
    assert!(matches!(w.commits()[0].header, Some(HeaderWrite { .. })));
}

/// Bug: the takeover of a stale claim was conditional on the wave only, so a cancel that had
/// answered 200 was overtaken by a StartRecovery, and the execution could finalize COMPLETED.
#[tokio::test]
async fn a_cancel_decided_before_a_takeover_wins() {
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job().returning(|_, _| Ok(None));
    drs.expect_start_recovery().never();
    let w = World::new(exec(E::Polling, &[W::Completed, W::Launching])).with_drs(drs);
    // The cancel lands between the launcher's read and its takeover.
    w.race(|r| {
        r.header.status = E::Cancelling;
        r.header.version += 1;
    });
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(answer.wave_status, W::Cancelled);
    let r = w.record();
    assert_eq!(
        (r.status(), r.waves[1].status),
        (E::Cancelling, W::Cancelled)
    );
}

#[tokio::test]
async fn a_stale_claim_of_a_cancelled_execution_is_cancelled_not_started() {
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job().returning(|_, _| Ok(None));
    drs.expect_start_recovery().never();
    let w = World::new(exec(E::Cancelling, &[W::Completed, W::Launching])).with_drs(drs);
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(answer.wave_status, W::Cancelled);
    assert_eq!(w.record().waves[1].status, W::Cancelled);
}

/// Bug: a first wave refused by DRS went FAILED while the execution stayed PENDING, which finalize
/// could not move and find never polled. The first claim moves it to POLLING, so a refused first
/// wave follows its failure policy like any other.
#[tokio::test]
async fn drs_refusing_the_first_wave_fails_it_on_a_running_execution() {
    let drs = drs_answering(Err(ServiceError::Rejected(
        "ValidationException: source server s-1 is not ready".into(),
    )));
    let w = World::new(exec(E::Pending, &[W::Pending, W::Pending])).with_drs(drs);
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(answer.wave_status, W::Failed);
    let r = w.record();
    assert_eq!(r.status(), E::Polling);
    let wave = &r.waves[0];
    assert_eq!(wave.failure_reason, Some(WaveFailure::LaunchRejected));
    assert!(wave
        .status_message
        .as_deref()
        .unwrap()
        .contains("not ready"));
    // The fixture's policy is STOP: the workflow finalizes it FAILED.
    assert_eq!(
        next_action(&r, Timestamp(2000), &Policy::default()),
        NextAction::Finalize
    );
    assert_eq!(crate::rules::outcome(&r), Ok(E::Failed));
}

#[tokio::test]
async fn refusals_that_clear_back_off_and_record_what_drs_said() {
    for (retry_after, message) in [
        (
            Some(30),
            "ServiceQuotaExceededException: 20 concurrent jobs",
        ),
        (None, "ConflictException: s-1 is in job drsjob-1"),
        (Some(5), "ThrottlingException: slow down"),
    ] {
        let mut w = World::new(exec(E::Polling, &[W::Completed, W::Pending])).with_drs(
            drs_answering(Err(ServiceError::Throttled {
                retry_after: retry_after.map(Duration::from_secs),
                message: message.into(),
            })),
        );
        let policy = w.policy.clone();
        let answer = w.launch(2000).await.unwrap();
        let wait = retry_after.unwrap_or(policy.launch_backoff_secs);
        assert_eq!(
            (answer.wave_status, answer.retry_after_seconds),
            (W::Launching, Some(wait)),
            "{message}"
        );
        let r = w.record();
        let wave = &r.waves[1];
        assert_eq!(wave.status, W::Launching);
        assert_eq!((wave.launch_attempts, wave.claim.as_ref()), (1, None));
        assert!(wave.last_launch_error.as_deref().unwrap().contains(message));
        assert_eq!(wave.next_launch_time, Some(Timestamp(2000 + wait as i64)));
        // WAIT until the backoff is over, then LAUNCH: DRS did nothing, so no look-up.
        let at = |s| Timestamp(2000 + s);
        assert_eq!(
            next_action(&r, at(wait as i64 - 1), &policy),
            NextAction::Wait
        );
        assert_eq!(
            next_action(&r, at(wait as i64), &policy),
            NextAction::Launch
        );
        w.set_drs(drs_starting(5, 1).0);
        let answer = w.launch(2000 + wait as i64).await.unwrap();
        assert_eq!(answer.wave_status, W::Started);
        let wave = &w.record().waves[1];
        assert_eq!(wave.launch_attempts, 2);
        assert_eq!(
            wave.launch_time,
            Some(Timestamp(2000)),
            "clock from the first try"
        );
    }
}

#[tokio::test]
async fn backoff_doubles_without_a_hint_and_is_capped() {
    let p = Policy::default();
    assert_eq!(p.launch_backoff(1, None), 10);
    assert_eq!(p.launch_backoff(2, None), 20);
    assert_eq!(p.launch_backoff(4, None), 80);
    assert_eq!(p.launch_backoff(9, None), 120);
    assert_eq!(p.launch_backoff(u32::MAX, None), 120);
    assert_eq!(p.launch_backoff(9, Some(600)), 600, "DRS's own hint wins");
}

/// Bug: a StartRecovery whose answer was lost (5xx, timeout) was sent again by the retry, making a
/// second job for the same servers. The part stays claimed as uncertain and the next launch looks
/// for its tagged job first.
#[tokio::test]
async fn an_unknown_outcome_is_settled_by_the_tagged_job_before_any_new_start() {
    let drs = drs_answering(Err(ServiceError::unavailable(
        "503 InternalServerException",
    )));
    let mut w = World::new(exec(E::Polling, &[W::Completed, W::Pending])).with_drs(drs);
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(answer.wave_status, W::Launching);
    let wave = w.record().waves[1].clone();
    let claim = wave.claim.clone().unwrap();
    assert!(claim.uncertain && !claim.held);

    // The job had been created after all: the next launch records it and starts nothing.
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job()
        .times(1)
        .withf(|tag, _| (tag.attempt, tag.part) == (1, 0))
        .returning(|_, _| Ok(Some(drs_job(6, JobStatus::Started, &[]))));
    drs.expect_start_recovery().never();
    w.set_drs(drs);
    let answer = w
        .launch(wave.next_launch_time.unwrap().secs())
        .await
        .unwrap();
    assert!(answer.recovered);
    assert_eq!(answer.wave_status, W::Started);
    assert_eq!(w.record().waves[1].jobs.len(), 1);
}

/// DRS's InternalServerException names when to come back (`retryAfterSeconds`): a lost
/// StartRecovery answer that carries it waits that long, not the policy's own backoff.
#[tokio::test]
async fn a_lost_answer_waits_as_long_as_drs_says() {
    let drs = drs_answering(Err(ServiceError::Unavailable {
        retry_after: Some(std::time::Duration::from_secs(300)),
        message: "InternalServerException".into(),
    }));
    let w = World::new(exec(E::Polling, &[W::Completed, W::Pending])).with_drs(drs);
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(answer.wave_status, W::Launching);
    assert_eq!(answer.retry_after_seconds, Some(300));
    let wave = w.record().waves[1].clone();
    assert_eq!(wave.next_launch_time.map(|t| t.secs()), Some(2300));
    assert!(wave.claim.is_some_and(|c| c.uncertain), "the job may exist");

    // Without a hint, the policy's backoff.
    let drs = drs_answering(Err(ServiceError::unavailable("503")));
    let w = World::new(exec(E::Polling, &[W::Completed, W::Pending])).with_drs(drs);
    w.launch(2000).await.unwrap();
    assert_eq!(
        w.record().waves[1].next_launch_time.map(|t| t.secs()),
        Some(2000 + w.policy.launch_backoff(1, None) as i64)
    );
}

#[tokio::test]
async fn an_uncertain_part_stays_uncertain_through_a_conflict() {
    // The lost answer's job is not listed yet (DRS is eventually consistent); the new start is
    // refused because the servers are in that job. The next launch must still look first.
    let mut e = exec(E::Polling, &[W::Completed, W::Launching]);
    let claim = e.waves[1].claim.as_mut().unwrap();
    claim.held = false;
    claim.uncertain = true;
    let drs = drs_finding_nothing_then(Err(ServiceError::Throttled {
        retry_after: None,
        message: "ConflictException".into(),
    }));
    let w = World::new(e).with_drs(drs);
    w.launch(2000).await.unwrap();
    let claim = w.record().waves[1].claim.clone().unwrap();
    assert!(claim.uncertain && !claim.held);
}

#[tokio::test]
async fn a_refusal_part_way_keeps_the_parts_that_started_and_goes_on_from_there() {
    let calls = Arc::new(Mutex::new(0));
    let mut drs = MockDrs::new();
    let n = calls.clone();
    drs.expect_start_recovery().times(2).returning(move |req| {
        let mut n = n.lock().unwrap();
        *n += 1;
        if *n == 1 {
            Ok(drs_job(1, JobStatus::Pending, &[]))
        } else {
            assert_eq!(req.part, 1);
            Err(ServiceError::Throttled {
                retry_after: Some(Duration::from_secs(60)),
                message: "ServiceQuotaExceededException: servers in all jobs".into(),
            })
        }
    });
    let mut w = World::new(polling(&[5]))
        .with_drs(drs)
        .with_policy(policy_with_jobs_of(2));
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(
        (answer.wave_status, answer.retry_after_seconds),
        (W::Launching, Some(60))
    );
    let wave = w.record().waves[0].clone();
    assert_eq!(wave.jobs.len(), 1);
    assert_eq!(wave.servers_without_job().count(), 3);

    let (drs, seen) = drs_starting(2, 2);
    w.set_drs(drs);
    let answer = w.launch(2060).await.unwrap();
    assert_eq!(answer.wave_status, W::Started);
    let parts: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.part, r.source_servers.clone()))
        .collect();
    assert_eq!(
        parts,
        vec![(1, vec![server(2), server(3)]), (2, vec![server(4)])]
    );
}

#[tokio::test]
async fn a_rejection_part_way_lets_the_started_parts_run_and_fails_the_rest() {
    let mut drs = MockDrs::new();
    let mut first = true;
    drs.expect_start_recovery().times(2).returning(move |_| {
        if std::mem::take(&mut first) {
            Ok(drs_job(1, JobStatus::Pending, &[]))
        } else {
            Err(ServiceError::Rejected("AccessDeniedException".into()))
        }
    });
    let w = World::new(polling(&[3]))
        .with_drs(drs)
        .with_policy(policy_with_jobs_of(2));
    let answer = w.launch(2000).await.unwrap();
    assert_eq!(answer.wave_status, W::Started);
    let wave = &w.record().waves[0];
    assert_eq!(wave.server_statuses[2].launch_status, LaunchStatus::Failed);
    assert!(wave.server_statuses[2]
        .status_message
        .as_deref()
        .unwrap()
        .contains("AccessDenied"));
    assert_eq!(wave.server_statuses[0].job_id, Some(job(1)));
}

#[tokio::test]
async fn a_retry_attempt_launches_only_the_servers_that_did_not_launch() {
    let mut e = exec(E::Polling, &[W::Launching]);
    let w = &mut e.waves[0];
    w.claim = None;
    w.attempt = 2;
    w.jobs.clear();
    give_job(w, job(1), Timestamp(1000));
    w.jobs[0].attempt = 1;
    w.server_statuses[0].launch_status = LaunchStatus::Launched;
    w.server_statuses[1].job_id = None;
    let (drs, seen) = drs_starting(2, 1);
    let w = World::new(e).with_drs(drs);
    let answer = w.launch(3000).await.unwrap();
    assert_eq!(answer.wave_status, W::Started);
    let req = seen.lock().unwrap()[0].clone();
    assert_eq!((req.attempt, req.part), (2, 0));
    assert_eq!(req.source_servers, vec![server(1)]);
    let wave = &w.record().waves[0];
    assert_eq!(wave.server_statuses[0].job_id, Some(job(1)), "kept");
    assert_eq!(wave.server_statuses[1].job_id, Some(job(2)));
    assert_eq!(wave.current_jobs().count(), 1);
}

#[tokio::test]
async fn not_found_and_foreign_plan_are_404() {
    let mut w = World::new(exec(E::Pending, &[W::Pending]));
    w.target.plan_id = crate::ids::PlanId::new_random();
    let err = w.launch(1).await.unwrap_err();
    assert_eq!(err.status_code(), 404);
    w.target = target();
    w.target.execution_id = crate::ids::ExecutionId::new_random();
    let err = w.launch(1).await.unwrap_err();
    assert_eq!(err.code(), "NOT_FOUND");
}

#[tokio::test]
async fn store_failures_are_internal_errors_and_start_nothing() {
    let mut drs = MockDrs::new();
    drs.expect_start_recovery().with(always()).never();
    let w = World::new(exec(E::Pending, &[W::Pending])).with_drs(drs);
    w.fail_next_commit(crate::ports::StoreError::Service(
        ServiceError::unavailable("dynamodb 503"),
    ));
    let err = w.launch(1).await.unwrap_err();
    assert_eq!(err.status_code(), 500);
    assert_eq!(w.record().waves[0].status, W::Pending);
}

#[tokio::test]
async fn a_retry_cancelled_before_it_reached_drs_stays_a_failure_with_its_reason() {
    let mut e = exec(E::Cancelling, &[W::Launching]);
    let w = &mut e.waves[0];
    w.claim = None;
    w.attempt = 2;
    let w = World::new(e);
    let answer = w.launch(3000).await.unwrap();
    assert_eq!(answer.wave_status, W::Failed);
    let wave = &w.record().waves[0];
    assert_eq!(wave.failure_reason, Some(WaveFailure::RetryCancelled));
    assert_eq!(wave.end_time, Some(Timestamp(3000)));
}

/// Review: a wave past its timeout whose claim may have a job was failed by poll without looking
/// for the job. Launch looks first, and only then applies the timeout.
#[tokio::test]
async fn a_timed_out_launch_looks_for_its_job_before_it_is_judged() {
    for found in [true, false] {
        let mut e = exec(E::Polling, &[W::Launching]);
        e.waves[0].timeout_seconds = 600;
        let claim = e.waves[0].claim.as_mut().unwrap();
        claim.held = false;
        claim.uncertain = true;
        e.waves[0].next_launch_time = Some(Timestamp(1590));
        let mut drs = MockDrs::new();
        drs.expect_find_tagged_job()
            .times(1)
            .returning(move |_, _| Ok(found.then(|| drs_job(3, JobStatus::Started, &[]))));
        drs.expect_start_recovery().never();
        let w = World::new(e).with_drs(drs);
        let answer = w.launch(1700).await.unwrap();
        let wave = &w.record().waves[0];
        if found {
            assert_eq!((answer.wave_status, wave.jobs.len()), (W::Started, 1));
        } else {
            assert_eq!(
                (wave.status, wave.failure_reason),
                (W::Failed, Some(WaveFailure::LaunchBlocked))
            );
        }
    }
}

/// Review: a claim of version 1 left the execution PENDING with its wave LAUNCHING; judged past
/// its timeout, the wave failed and the execution stayed PENDING, which finalize cannot end.
#[tokio::test]
async fn a_version_1_claim_judged_past_its_timeout_moves_the_execution_on() {
    let mut e = exec(E::Pending, &[W::Launching]);
    e.header.start_time = None;
    e.waves[0].timeout_seconds = 600;
    let claim = e.waves[0].claim.as_mut().unwrap();
    claim.held = false;
    claim.uncertain = true;
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job()
        .times(1)
        .returning(|_, _| Ok(None));
    drs.expect_start_recovery().never();
    let w = World::new(e).with_drs(drs);
    let answer = w.launch(1700).await.unwrap();
    let r = w.record();
    assert_eq!(
        (answer.status, r.status(), r.waves[0].status),
        (E::Polling, E::Polling, W::Failed)
    );
    assert_eq!(r.header.start_time, Some(Timestamp(1700)));
}

/// Review: every new claim of an uncertain part restarted the look-up window, so a lost job
/// that ran longer than the window was never found again.
#[tokio::test]
async fn the_look_up_searches_from_the_first_claim_that_may_have_a_job() {
    let mut e = exec(E::Polling, &[W::Launching]);
    let claim = e.waves[0].claim.as_mut().unwrap();
    claim.held = false;
    claim.uncertain = true; // claimed at t = 1000, answer lost
    let mut w = World::new(e);
    for now in [2000, 3000] {
        let mut drs = drs_answering(Err(conflict()));
        drs.expect_find_tagged_job()
            .times(1)
            .withf(|_, since| *since == Timestamp(1000))
            .returning(|_, _| Ok(None));
        w.set_drs(drs);
        w.launch(now).await.unwrap();
        let claim = w.record().waves[0].claim.clone().unwrap();
        assert!(claim.uncertain && !claim.held);
        assert_eq!(claim.first_claimed_time, Some(Timestamp(1000)));
    }
}

/// A held claim whose launcher died is carried as uncertain into the next claim, so a refusal
/// that follows does not drop the look-up.
#[tokio::test]
async fn a_dead_launchers_claim_stays_uncertain_through_a_refusal() {
    let drs = drs_finding_nothing_then(Err(ServiceError::Throttled {
        retry_after: None,
        message: "ConflictException".into(),
    }));
    // Held since t = 1000.
    let w = World::new(exec(E::Polling, &[W::Launching])).with_drs(drs);
    w.launch(2000).await.unwrap();
    let claim = w.record().waves[0].claim.clone().unwrap();
    assert!(
        claim.uncertain,
        "the dead launcher's StartRecovery may have gone out"
    );
    assert_eq!(claim.first_claimed_time, Some(Timestamp(1000)));
}
