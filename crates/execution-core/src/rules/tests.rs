use super::*;
use crate::fixtures::{drs_job, execution, job, server};
use crate::model::Execution;
use crate::ports::DrsJob;
use crate::status::ExecutionStatus as E;
use crate::status::WaveStatus as W;

const LAUNCHED_AT: i64 = 10_000;

fn started_wave(servers: usize, timeout: u64) -> Wave {
    let mut e = execution(&[servers]);
    let mut w = e.waves.remove(0);
    w.status = W::Started;
    w.job_id = Some(job(1));
    w.launch_time = Some(Timestamp(LAUNCHED_AT));
    w.timeout_seconds = timeout;
    w
}

fn job_with(status: JobStatus, launch: &[LaunchStatus]) -> DrsJob {
    let servers: Vec<_> = launch
        .iter()
        .enumerate()
        .map(|(i, l)| (server(i), *l))
        .collect();
    drs_job(1, status, &servers)
}

fn at(secs_after_launch: i64) -> Timestamp {
    Timestamp(LAUNCHED_AT + secs_after_launch)
}

// ---- wave rules -----------------------------------------------------------------------------

/// Every job status × every pair of server launch statuses, within the timeout: the verdict is
/// what SPEC §3's rules 1, 2, 3 and 6 say, stated here independently of the implementation.
#[test]
fn exhaustive_job_status_by_server_statuses() {
    let policy = Policy::default();
    let wave = started_wave(2, 3600);
    for job_status in JobStatus::ALL {
        for a in LaunchStatus::ALL {
            for b in LaunchStatus::ALL {
                let statuses = [*a, *b];
                let v = judge_wave(
                    &wave,
                    Some(&job_with(*job_status, &statuses)),
                    at(60),
                    &policy,
                );
                let all_launched = statuses.iter().all(|s| *s == LaunchStatus::Launched);
                let all_settled = statuses.iter().all(|s| s.is_settled());
                let expected = if all_launched {
                    W::Completed
                } else if all_settled || *job_status == JobStatus::Completed {
                    W::Failed
                } else {
                    W::Started
                };
                assert_eq!(v.status, expected, "job {job_status} servers {a} {b}");
                assert_eq!(
                    v.failure.is_some(),
                    expected == W::Failed,
                    "job {job_status} servers {a} {b}"
                );
                if expected == W::Failed {
                    let reason = if all_settled {
                        WaveFailure::ServersFailed
                    } else {
                        WaveFailure::JobIncomplete
                    };
                    assert_eq!(v.failure, Some(reason), "job {job_status} servers {a} {b}");
                }
            }
        }
    }
}

#[test]
fn all_launched_completes_before_the_job_says_so() {
    let v = judge_wave(
        &started_wave(3, 3600),
        Some(&job_with(JobStatus::Started, &[LaunchStatus::Launched; 3])),
        at(5),
        &Policy::default(),
    );
    assert_eq!(v, Verdict::completed());
}

#[test]
fn failed_message_counts_the_servers() {
    let j = job_with(
        JobStatus::Started,
        &[
            LaunchStatus::Launched,
            LaunchStatus::Failed,
            LaunchStatus::Terminated,
            LaunchStatus::Failed,
        ],
    );
    let v = judge_wave(&started_wave(4, 3600), Some(&j), at(5), &Policy::default());
    assert_eq!(v.status, W::Failed);
    assert_eq!(
        v.message.as_deref(),
        Some("3 of 4 servers did not launch (2 FAILED, 1 TERMINATED)")
    );
}

#[test]
fn completed_job_with_servers_still_running_fails_and_says_how_many() {
    let j = job_with(
        JobStatus::Completed,
        &[
            LaunchStatus::Launched,
            LaunchStatus::InProgress,
            LaunchStatus::Pending,
        ],
    );
    let v = judge_wave(&started_wave(3, 3600), Some(&j), at(5), &Policy::default());
    assert_eq!(v.failure, Some(WaveFailure::JobIncomplete));
    assert_eq!(
        v.message.as_deref(),
        Some("DRS job completed but 2 servers did not launch")
    );
}

#[test]
fn completed_job_without_servers_fails() {
    let v = judge_wave(
        &started_wave(1, 3600),
        Some(&job_with(JobStatus::Completed, &[])),
        at(5),
        &Policy::default(),
    );
    assert_eq!(v.failure, Some(WaveFailure::JobIncomplete));
    // A job not yet completed that lists no servers yet is still starting.
    let v = judge_wave(
        &started_wave(1, 3600),
        Some(&job_with(JobStatus::Pending, &[])),
        at(5),
        &Policy::default(),
    );
    assert_eq!(v.status, W::Started);
}

#[test]
fn job_not_found_is_started_within_grace_then_failed() {
    let policy = Policy {
        job_not_found_grace_secs: 300,
        ..Policy::default()
    };
    let wave = started_wave(1, 3600);
    assert_eq!(judge_wave(&wave, None, at(0), &policy).status, W::Started);
    assert_eq!(
        judge_wave(&wave, None, at(300), &policy).status,
        W::Started,
        "grace is inclusive"
    );
    let v = judge_wave(&wave, None, at(301), &policy);
    assert_eq!(v.failure, Some(WaveFailure::JobNotFound));
    assert!(v.message.unwrap().contains("drsjob-00000000000000001"));
}

#[test]
fn timeout_fails_a_wave_still_in_progress() {
    let wave = started_wave(2, 600);
    let j = job_with(
        JobStatus::Started,
        &[LaunchStatus::Launched, LaunchStatus::InProgress],
    );
    assert_eq!(
        judge_wave(&wave, Some(&j), at(600), &Policy::default()).status,
        W::Started
    );
    let v = judge_wave(&wave, Some(&j), at(601), &Policy::default());
    assert_eq!(v.failure, Some(WaveFailure::TimedOut));
    assert!(v.message.unwrap().contains("1 of 2 servers launched"));
}

#[test]
fn success_after_the_timeout_still_counts() {
    // Rules apply in order: all launched wins over an expired timeout.
    let v = judge_wave(
        &started_wave(1, 60),
        Some(&job_with(JobStatus::Started, &[LaunchStatus::Launched])),
        at(9999),
        &Policy::default(),
    );
    assert_eq!(v.status, W::Completed);
}

#[test]
fn a_wave_clock_behind_the_host_clock_is_not_negative() {
    let v = judge_wave(
        &started_wave(1, 60),
        None,
        Timestamp(LAUNCHED_AT - 500),
        &Policy::default(),
    );
    assert_eq!(v.status, W::Started);
}

// ---- nextAction ----------------------------------------------------------------------------

fn exec_with(status: E, waves: &[W]) -> Execution {
    let mut e = execution(&vec![1; waves.len()]);
    e.header.status = status;
    for (w, s) in e.waves.iter_mut().zip(waves) {
        w.status = *s;
        w.launch_time = s.is_in_flight().then_some(Timestamp(LAUNCHED_AT));
    }
    e
}

fn next(e: &Execution) -> NextAction {
    next_action(e, at(10), &Policy::default())
}

#[test]
fn next_action_table() {
    use NextAction::*;
    let cases: &[(E, &[W], NextAction)] = &[
        (E::Pending, &[W::Pending, W::Pending], Launch),
        (E::Polling, &[W::Launching, W::Pending], Wait),
        (E::Polling, &[W::Started, W::Pending], Wait),
        (E::Polling, &[W::Completed, W::Pending], Launch),
        (E::Polling, &[W::Completed, W::Completed], Finalize),
        (E::Polling, &[W::Failed, W::Pending], Finalize),
        (E::Polling, &[W::Completed, W::Failed], Finalize),
        (E::Paused, &[W::Started, W::Pending], Wait),
        (E::Paused, &[W::Completed, W::Pending], Pause),
        (E::Paused, &[W::Failed, W::Pending], Finalize),
        (E::Cancelling, &[W::Started, W::Pending], Wait),
        (E::Cancelling, &[W::Completed, W::Pending], Finalize),
        (E::Cancelling, &[W::Pending, W::Pending], Finalize),
        (E::Cancelling, &[W::Completed, W::Completed], Finalize),
        (E::Completed, &[W::Completed, W::Completed], Finalize),
        (E::Failed, &[W::Failed, W::Cancelled], Finalize),
        (E::Cancelled, &[W::Completed, W::Cancelled], Finalize),
    ];
    for (status, waves, expected) in cases {
        assert_eq!(
            next(&exec_with(*status, waves)),
            *expected,
            "{status} {waves:?}"
        );
    }
}

#[test]
fn pause_before_wave_holds_until_approved() {
    let mut e = exec_with(E::Polling, &[W::Completed, W::Pending]);
    e.waves[1].pause_before_wave = true;
    assert_eq!(next(&e), NextAction::Pause);
    e.waves[1].pause_approved = true;
    assert_eq!(next(&e), NextAction::Launch);
    // Still waits for the wave in flight first.
    let mut e = exec_with(E::Polling, &[W::Started, W::Pending]);
    e.waves[1].pause_before_wave = true;
    assert_eq!(next(&e), NextAction::Wait);
}

#[test]
fn pause_before_the_first_wave() {
    let mut e = exec_with(E::Pending, &[W::Pending]);
    e.waves[0].pause_before_wave = true;
    assert_eq!(next(&e), NextAction::Pause);
}

#[test]
fn a_stale_launch_claim_asks_for_launch_again() {
    let policy = Policy {
        launch_claim_grace_secs: 120,
        ..Policy::default()
    };
    let e = exec_with(E::Polling, &[W::Launching, W::Pending]);
    assert_eq!(next_action(&e, at(120), &policy), NextAction::Wait);
    assert_eq!(next_action(&e, at(121), &policy), NextAction::Launch);
}

#[test]
fn all_waves_complete_only_when_every_wave_is() {
    assert!(exec_with(E::Polling, &[W::Completed, W::Completed]).all_waves_complete());
    assert!(!exec_with(E::Polling, &[W::Completed, W::Started]).all_waves_complete());
    assert!(!exec_with(E::Cancelled, &[W::Completed, W::Cancelled]).all_waves_complete());
}

// ---- finalize outcome ----------------------------------------------------------------------

#[test]
fn outcome_table() {
    let ok: &[(E, &[W], E)] = &[
        (E::Polling, &[W::Completed, W::Completed], E::Completed),
        (
            E::Polling,
            &[W::Completed, W::Failed, W::Pending],
            E::Failed,
        ),
        (E::Paused, &[W::Failed, W::Pending], E::Failed),
        (E::Cancelling, &[W::Completed, W::Pending], E::Cancelled),
        (E::Cancelling, &[W::Completed, W::Completed], E::Completed),
        (E::Cancelling, &[W::Failed, W::Pending], E::Failed),
        (E::Failed, &[W::Failed, W::Cancelled], E::Failed),
    ];
    for (status, waves, expected) in ok {
        assert_eq!(
            outcome(&exec_with(*status, waves)),
            Ok(*expected),
            "{status} {waves:?}"
        );
    }
    let refused: &[(E, &[W], &[u32])] = &[
        (E::Polling, &[W::Completed, W::Pending], &[1]),
        (E::Polling, &[W::Completed, W::Started, W::Pending], &[1, 2]),
        (E::Polling, &[W::Failed, W::Launching, W::Pending], &[1, 2]),
        (E::Cancelling, &[W::Started, W::Pending], &[0, 1]),
        (E::Pending, &[W::Pending], &[0]),
        (E::Paused, &[W::Completed, W::Pending], &[1]),
    ];
    for (status, waves, unfinished) in refused {
        assert_eq!(
            outcome(&exec_with(*status, waves)),
            Err(unfinished.to_vec()),
            "{status} {waves:?}"
        );
    }
}

#[test]
fn finalize_waits_briefly_for_instance_details_ec2_did_not_know_yet() {
    let policy = Policy {
        details_grace_secs: 120,
        ..Policy::default()
    };
    let mut e = exec_with(E::Polling, &[W::Completed, W::Completed]);
    e.waves[1].end_time = Some(Timestamp(LAUNCHED_AT));
    let s = &mut e.waves[1].server_statuses[0];
    s.launch_status = LaunchStatus::Launched;
    s.instance_id = Some(crate::fixtures::instance(1));
    assert_eq!(
        next_action(&e, Timestamp(LAUNCHED_AT + 60), &policy),
        NextAction::Wait
    );
    assert_eq!(
        next_action(&e, Timestamp(LAUNCHED_AT + 121), &policy),
        NextAction::Finalize,
        "not forever"
    );
    e.waves[1].server_statuses[0].instance_state = Some("running".into());
    assert_eq!(
        next_action(&e, Timestamp(LAUNCHED_AT + 60), &policy),
        NextAction::Finalize,
        "details known"
    );
    // A server that never launched has no details to wait for.
    let mut f = exec_with(E::Polling, &[W::Failed]);
    f.waves[0].end_time = Some(Timestamp(LAUNCHED_AT));
    f.waves[0].server_statuses[0].launch_status = LaunchStatus::Failed;
    assert_eq!(
        next_action(&f, Timestamp(LAUNCHED_AT + 1), &policy),
        NextAction::Finalize
    );
}
