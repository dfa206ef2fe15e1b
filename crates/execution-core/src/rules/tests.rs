use super::*;
use crate::fixtures::{drs_job, execution, give_job, job, server};
use crate::model::{Execution, FailurePolicy, Impact, LaunchClaim};
use crate::ports::DrsJob;
use crate::status::ExecutionStatus as E;
use crate::status::WaveStatus as W;

const LAUNCHED_AT: i64 = 10_000;

fn started_wave(servers: usize, timeout: u64) -> Wave {
    let mut e = execution(&[servers]);
    let mut w = e.waves.remove(0);
    w.status = W::Started;
    give_job(&mut w, job(1), Timestamp(LAUNCHED_AT));
    w.timeout_seconds = timeout;
    w
}

fn job_with(status: JobStatus, launch: &[LaunchStatus]) -> DrsJob {
    let servers: Vec<_> = launch
        .iter()
        .enumerate()
        .map(|(i, l)| (server(i), l.clone()))
        .collect();
    drs_job(1, status, &servers)
}

fn at(secs_after_launch: i64) -> Timestamp {
    Timestamp(LAUNCHED_AT + secs_after_launch)
}

/// What poll does: apply what DRS says of each job to the wave, then judge it.
fn judge(wave: &Wave, jobs: &[DrsJob], now: Timestamp) -> Verdict {
    let mut w = wave.clone();
    for j in jobs {
        apply_job(&mut w, j);
    }
    let by_id: JobsById = jobs.iter().map(|j| (j.job_id.clone(), j.clone())).collect();
    judge_wave(&w, &by_id, now, &Policy::default())
}

const STATUSES: [LaunchStatus; 5] = [
    LaunchStatus::Pending,
    LaunchStatus::InProgress,
    LaunchStatus::Launched,
    LaunchStatus::Failed,
    LaunchStatus::Terminated,
];

// ---- wave rules -----------------------------------------------------------------------------

/// Every job status × every pair of server launch statuses (one value DRS might add later
/// included) × every pair of impacts, within the timeout: the verdict is what SPEC §3's rules 1,
/// 2, 3 and 6 say, stated here independently of the implementation.
#[test]
fn exhaustive_job_status_by_server_statuses_and_impacts() {
    let unknown = LaunchStatus::Other("RECOVERING".into());
    let statuses: Vec<LaunchStatus> = STATUSES.iter().cloned().chain([unknown]).collect();
    let jobs = [
        JobStatus::Pending,
        JobStatus::Started,
        JobStatus::Completed,
        JobStatus::Other("PAUSED".into()),
    ];
    let impacts = [Impact::Critical, Impact::Optional];
    for job_status in &jobs {
        for a in &statuses {
            for b in &statuses {
                for ia in impacts {
                    for ib in impacts {
                        let mut wave = started_wave(2, 3600);
                        wave.server_statuses[0].impact = ia;
                        wave.server_statuses[1].impact = ib;
                        let pair = [(a, ia), (b, ib)];
                        let v = judge(
                            &wave,
                            &[job_with(job_status.clone(), &[a.clone(), b.clone()])],
                            at(60),
                        );
                        let done = *job_status == JobStatus::Completed;
                        let launched = |s: &LaunchStatus| *s == LaunchStatus::Launched;
                        // Settled, or not going to move (its job completed).
                        let settled = |s: &LaunchStatus| s.is_settled() || done;
                        let critical_ok = pair
                            .iter()
                            .all(|(s, i)| *i == Impact::Optional || launched(s));
                        let all_settled = pair.iter().all(|(s, _)| settled(s));
                        let critical_stuck = done
                            && pair
                                .iter()
                                .any(|(s, i)| *i == Impact::Critical && !s.is_settled());
                        let expected = if critical_ok && all_settled {
                            W::Completed
                        } else if all_settled || critical_stuck {
                            W::Failed
                        } else {
                            W::Started
                        };
                        let case = format!("job {job_status} servers {a}/{ia:?} {b}/{ib:?}");
                        assert_eq!(v.status, expected, "{case}");
                        assert_eq!(v.failure.is_some(), expected == W::Failed, "{case}");
                        if expected == W::Completed {
                            let optional_lost = pair
                                .iter()
                                .filter(|(s, i)| *i == Impact::Optional && !launched(s))
                                .count();
                            assert_eq!(v.optional_not_launched as usize, optional_lost, "{case}");
                        }
                        if expected == W::Failed {
                            let reason = if critical_stuck {
                                WaveFailure::JobIncomplete
                            } else {
                                WaveFailure::ServersFailed
                            };
                            assert_eq!(v.failure, Some(reason), "{case}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn all_launched_completes_before_the_job_says_so() {
    let v = judge(
        &started_wave(3, 3600),
        &[job_with(
            JobStatus::Started,
            &vec![LaunchStatus::Launched; 3],
        )],
        at(5),
    );
    assert_eq!(v, Verdict::completed(0));
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
    let v = judge(&started_wave(4, 3600), &[j], at(5));
    assert_eq!(v.status, W::Failed);
    assert_eq!(
        v.message.as_deref(),
        Some("3 of 4 critical servers did not launch (2 FAILED, 1 TERMINATED)")
    );
}

#[test]
fn optional_servers_that_did_not_launch_are_counted_not_failed() {
    let mut wave = started_wave(3, 3600);
    wave.server_statuses[2].impact = Impact::Optional;
    let j = job_with(
        JobStatus::Started,
        &[
            LaunchStatus::Launched,
            LaunchStatus::Launched,
            LaunchStatus::Failed,
        ],
    );
    let v = judge(&wave, &[j], at(5));
    assert_eq!((v.status, v.optional_not_launched), (W::Completed, 1));
    assert_eq!(
        v.message.as_deref(),
        Some("1 optional servers did not launch")
    );
    // An optional server still running holds the wave until it settles (rule 1).
    let j = job_with(
        JobStatus::Started,
        &[
            LaunchStatus::Launched,
            LaunchStatus::Launched,
            LaunchStatus::InProgress,
        ],
    );
    assert_eq!(judge(&wave, &[j], at(5)).status, W::Started);
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
    let v = judge(&started_wave(3, 3600), &[j], at(5));
    assert_eq!(v.failure, Some(WaveFailure::JobIncomplete));
    assert_eq!(
        v.message.as_deref(),
        Some("DRS job completed but 2 servers did not launch")
    );
}

#[test]
fn completed_job_without_servers_fails() {
    let v = judge(
        &started_wave(1, 3600),
        &[job_with(JobStatus::Completed, &[])],
        at(5),
    );
    assert_eq!(v.failure, Some(WaveFailure::JobIncomplete));
    assert!(v.message.unwrap().contains("no participating servers"));
    // A job not yet completed that lists no servers yet is still starting.
    let v = judge(
        &started_wave(1, 3600),
        &[job_with(JobStatus::Pending, &[])],
        at(5),
    );
    assert_eq!(v.status, W::Started);
}

#[test]
fn a_server_its_job_does_not_list_is_not_launched_once_the_job_completed() {
    let mut wave = started_wave(3, 3600);
    // DRS started the job for servers 0..3 but lists only 0 and 1.
    let omitting = |status| {
        drs_job(
            1,
            status,
            &[
                (server(0), LaunchStatus::Launched),
                (server(1), LaunchStatus::Launched),
            ],
        )
    };
    assert_eq!(
        judge(&wave, &[omitting(JobStatus::Started)], at(5)).status,
        W::Started,
        "the job may still list it"
    );
    let v = judge(&wave, &[omitting(JobStatus::Completed)], at(5));
    assert_eq!(v.failure, Some(WaveFailure::JobIncomplete));
    let mut w = wave.clone();
    apply_job(&mut w, &omitting(JobStatus::Completed));
    assert_eq!(w.server_statuses[2].launch_status, LaunchStatus::Failed);
    assert_eq!(
        w.server_statuses[2].status_message.as_deref(),
        Some("not in the DRS job drsjob-00000000000000001")
    );
    // An OPTIONAL server left out does not fail the wave.
    wave.server_statuses[2].impact = Impact::Optional;
    let v = judge(&wave, &[omitting(JobStatus::Completed)], at(5));
    assert_eq!((v.status, v.optional_not_launched), (W::Completed, 1));
}

#[test]
fn each_server_is_read_from_its_own_job() {
    let mut wave = started_wave(4, 3600);
    wave.jobs.clear();
    for (i, s) in wave.server_statuses.iter_mut().enumerate() {
        s.job_id = Some(job(1 + i / 2));
    }
    for (n, part) in [(1, 0), (2, 1)] {
        wave.jobs.push(crate::model::WaveJob {
            created_time: None,
            ended_time: None,
            job_id: job(n),
            attempt: 1,
            part,
            recorded_time: Timestamp(LAUNCHED_AT),
        });
    }
    let first = drs_job(
        1,
        JobStatus::Completed,
        &[
            (server(0), LaunchStatus::Launched),
            (server(1), LaunchStatus::Launched),
        ],
    );
    let second = |l: LaunchStatus| {
        drs_job(
            2,
            JobStatus::Started,
            &[(server(2), LaunchStatus::Launched), (server(3), l)],
        )
    };
    assert_eq!(
        judge(
            &wave,
            &[first.clone(), second(LaunchStatus::InProgress)],
            at(5)
        )
        .status,
        W::Started
    );
    assert_eq!(
        judge(
            &wave,
            &[first.clone(), second(LaunchStatus::Launched)],
            at(5)
        )
        .status,
        W::Completed
    );
    // A server of job 1 listed by job 2 is not taken from job 2.
    let mut w = wave.clone();
    let stray = drs_job(2, JobStatus::Started, &[(server(0), LaunchStatus::Failed)]);
    apply_job(&mut w, &stray);
    assert_eq!(w.server_statuses[0].launch_status, LaunchStatus::Pending);
}

#[test]
fn a_server_launched_in_an_earlier_attempt_stays_launched() {
    let mut wave = started_wave(2, 3600);
    wave.server_statuses[0].launch_status = LaunchStatus::Launched;
    wave.attempt = 2;
    wave.server_statuses[1].job_id = Some(job(2));
    wave.jobs.push(crate::model::WaveJob {
        created_time: None,
        ended_time: None,
        job_id: job(2),
        attempt: 2,
        part: 0,
        recorded_time: Timestamp(LAUNCHED_AT),
    });
    let retry = drs_job(
        2,
        JobStatus::Started,
        &[(server(1), LaunchStatus::Launched)],
    );
    assert_eq!(judge(&wave, &[retry], at(5)).status, W::Completed);
}

#[test]
fn job_not_found_is_started_within_grace_then_failed() {
    let policy = Policy {
        job_not_found_grace_secs: 300,
        ..Policy::default()
    };
    let wave = started_wave(1, 3600);
    let none = JobsById::new();
    assert_eq!(judge_wave(&wave, &none, at(0), &policy).status, W::Started);
    assert_eq!(
        judge_wave(&wave, &none, at(300), &policy).status,
        W::Started,
        "grace is inclusive"
    );
    let v = judge_wave(&wave, &none, at(301), &policy);
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
        judge(&wave, std::slice::from_ref(&j), at(600)).status,
        W::Started
    );
    let v = judge(&wave, &[j], at(601));
    assert_eq!(v.failure, Some(WaveFailure::TimedOut));
    assert!(v
        .message
        .unwrap()
        .contains("1 of 2 critical servers launched"));
}

#[test]
fn at_the_timeout_a_wave_whose_critical_servers_launched_completes() {
    let mut wave = started_wave(2, 600);
    wave.server_statuses[1].impact = Impact::Optional;
    let j = job_with(
        JobStatus::Started,
        &[LaunchStatus::Launched, LaunchStatus::InProgress],
    );
    assert_eq!(
        judge(&wave, std::slice::from_ref(&j), at(600)).status,
        W::Started
    );
    let v = judge(&wave, &[j], at(601));
    assert_eq!((v.status, v.optional_not_launched), (W::Completed, 1));
}

#[test]
fn success_after_the_timeout_still_counts() {
    // Rules apply in order: all launched wins over an expired timeout.
    let v = judge(
        &started_wave(1, 60),
        &[job_with(JobStatus::Started, &[LaunchStatus::Launched])],
        at(9999),
    );
    assert_eq!(v.status, W::Completed);
}

#[test]
fn the_timeout_runs_from_the_current_attempt() {
    let mut wave = started_wave(1, 600);
    wave.attempt_time = Some(at(1000));
    let j = job_with(JobStatus::Started, &[LaunchStatus::InProgress]);
    assert_eq!(judge(&wave, &[j], at(1500)).status, W::Started);
}

fn launching_wave(timeout: u64) -> Wave {
    let mut e = execution(&[2]);
    let mut w = e.waves.remove(0);
    w.status = W::Launching;
    w.attempt = 1;
    w.launch_time = Some(Timestamp(LAUNCHED_AT));
    w.attempt_time = Some(Timestamp(LAUNCHED_AT));
    w.timeout_seconds = timeout;
    w.launch_attempts = 7;
    w.last_launch_error = Some("ServiceQuotaExceededException: 20 concurrent jobs".into());
    w.next_launch_time = Some(at(timeout as i64 + 30));
    w
}

/// Bug: a wave whose launch DRS kept refusing never timed out (only STARTED waves were judged, and
/// each retry stamped a fresh launch time).
#[test]
fn a_launch_drs_keeps_refusing_times_out_as_launch_blocked() {
    let wave = launching_wave(600);
    assert_eq!(judge(&wave, &[], at(600)).status, W::Launching);
    let v = judge(&wave, &[], at(601));
    assert_eq!(v.failure, Some(WaveFailure::LaunchBlocked));
    let message = v.message.unwrap();
    assert!(message.contains("7 StartRecovery calls"), "{message}");
    assert!(message.contains("20 concurrent jobs"), "{message}");
}

#[test]
fn a_launching_wave_is_not_judged_while_its_claim_may_have_a_job() {
    let mut wave = launching_wave(600);
    wave.claim = Some(LaunchClaim {
        part: 0,
        size: 2,
        claimed_time: at(590),
        first_claimed_time: None,
        held: true,
        uncertain: false,
    });
    assert_eq!(judge(&wave, &[], at(601)).status, W::Launching);
    // A dead launcher's claim too: its job may exist, and launch looks for it first.
    assert_eq!(judge(&wave, &[], at(711)).status, W::Launching);
    let claim = wave.claim.as_mut().unwrap();
    claim.held = false;
    claim.uncertain = true;
    assert_eq!(
        judge(&wave, &[], at(711)).status,
        W::Launching,
        "an answer lost"
    );
}

#[test]
fn a_partly_launched_wave_that_times_out_is_timed_out_not_blocked() {
    let mut wave = launching_wave(600);
    give_job(&mut wave, job(1), Timestamp(LAUNCHED_AT));
    wave.server_statuses[1].job_id = None;
    let v = judge(
        &wave,
        &[drs_job(
            1,
            JobStatus::Completed,
            &[(server(0), LaunchStatus::Launched)],
        )],
        at(601),
    );
    assert_eq!(v.failure, Some(WaveFailure::TimedOut));
}

#[test]
fn a_wave_clock_behind_the_host_clock_is_not_negative() {
    let v = judge_wave(
        &started_wave(1, 60),
        &JobsById::new(),
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
        if s.is_in_flight() {
            w.launch_time = Some(Timestamp(LAUNCHED_AT));
            w.attempt_time = Some(Timestamp(LAUNCHED_AT));
        }
        if *s == W::Launching {
            w.claim = Some(LaunchClaim {
                part: 0,
                size: 1,
                claimed_time: Timestamp(LAUNCHED_AT),
                first_claimed_time: None,
                held: true,
                uncertain: false,
            });
        }
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
        (E::Polling, &[W::Skipped, W::Completed], Finalize),
        (E::Polling, &[W::Skipped, W::Pending], Launch),
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
fn a_failed_wave_with_policy_pause_waits_for_a_decision() {
    use NextAction::*;
    let with_pause = |status: E, waves: &[W]| {
        let mut e = exec_with(status, waves);
        for w in &mut e.waves {
            w.on_failure = Some(FailurePolicy::Pause);
        }
        e
    };
    for (status, waves, expected) in [
        (E::Polling, &[W::Failed, W::Pending][..], Pause),
        (E::Polling, &[W::Completed, W::Failed][..], Pause),
        (E::Paused, &[W::Failed, W::Pending][..], Pause),
        (E::Cancelling, &[W::Failed, W::Pending][..], Finalize),
    ] {
        let e = with_pause(status, waves);
        assert_eq!(next(&e), expected, "{status} {waves:?}");
        let decision = awaiting_decision(&e).map(|w| w.wave_number);
        assert_eq!(decision.is_some(), expected == Pause, "{status} {waves:?}");
    }
    let e = with_pause(E::Polling, &[W::Completed, W::Failed, W::Pending]);
    assert_eq!(
        pause_due(&e),
        Some(PauseDue {
            reason: PauseReason::WaveFailed,
            before_wave: None,
            failed_wave: Some(1)
        })
    );
    assert_eq!(
        outcome(&e),
        Err(vec![1, 2]),
        "finalize names the failed wave too"
    );
    // Version 1's records have no policy: a failed wave STOPs.
    let mut v1 = e.clone();
    v1.waves[1].on_failure = None;
    assert_eq!(next(&v1), Finalize);
    assert_eq!(outcome(&v1), Ok(E::Failed));
}

#[test]
fn a_launch_refused_for_now_is_launched_again_after_its_backoff() {
    let mut e = exec_with(E::Polling, &[W::Launching, W::Pending]);
    e.waves[0].claim = None;
    e.waves[0].next_launch_time = Some(at(30));
    let p = Policy::default();
    assert_eq!(next_action(&e, at(29), &p), NextAction::Wait);
    assert_eq!(next_action(&e, at(30), &p), NextAction::Launch);
    // A cancelled execution does not wait out the backoff to stop the launch.
    e.header.status = E::Cancelling;
    assert_eq!(next_action(&e, at(0), &p), NextAction::Launch);
}

#[test]
fn pause_before_wave_holds_until_approved() {
    let mut e = exec_with(E::Polling, &[W::Completed, W::Pending]);
    e.waves[1].pause_before_wave = true;
    assert_eq!(next(&e), NextAction::Pause);
    assert_eq!(pause_due(&e).map(|d| d.reason), Some(PauseReason::Planned));
    e.waves[1].pause_approved = true;
    assert_eq!(next(&e), NextAction::Launch);
    // Still waits for the wave in flight first.
    let mut e = exec_with(E::Polling, &[W::Started, W::Pending]);
    e.waves[1].pause_before_wave = true;
    assert_eq!(next(&e), NextAction::Wait);
    // And after a skipped wave.
    let mut e = exec_with(E::Polling, &[W::Skipped, W::Pending]);
    e.waves[1].pause_before_wave = true;
    assert_eq!(next(&e), NextAction::Pause);
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
fn all_waves_complete_only_when_every_wave_passed() {
    assert!(exec_with(E::Polling, &[W::Completed, W::Completed]).all_waves_complete());
    assert!(exec_with(E::Polling, &[W::Skipped, W::Completed]).all_waves_complete());
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
            &[W::Completed, W::Skipped],
            E::CompletedWithErrors,
        ),
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
        (
            E::Polling,
            &[W::Failed, W::Launching, W::Pending],
            &[0, 1, 2],
        ),
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
    // An optional server that did not launch: COMPLETED_WITH_ERRORS.
    let mut e = exec_with(E::Polling, &[W::Completed, W::Completed]);
    e.waves[1].optional_not_launched = 1;
    assert_eq!(outcome(&e), Ok(E::CompletedWithErrors));
}

/// nextAction says FINALIZE exactly when finalize would write an outcome (one definition of
/// "finished"), for every combination of execution status and two wave statuses and policies.
#[test]
fn next_action_and_finalize_agree_on_finished() {
    for status in E::ALL {
        for a in W::ALL {
            for b in W::ALL {
                for policy in [FailurePolicy::Pause, FailurePolicy::Stop] {
                    let mut e = exec_with(*status, &[*a, *b]);
                    for w in &mut e.waves {
                        w.on_failure = Some(policy);
                    }
                    let finalize = next(&e) == NextAction::Finalize;
                    let ends = outcome(&e).is_ok();
                    if status.is_terminal() || ends {
                        assert!(finalize, "{status} {a} {b} {policy:?}");
                    }
                    if finalize && !status.is_terminal() {
                        // FINALIZE with nothing to finalize only for impossible records
                        // (nothing pending, in flight, or waiting).
                        assert!(
                            ends || e.next_pending().is_none(),
                            "{status} {a} {b} {policy:?}"
                        );
                    }
                }
            }
        }
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

#[test]
fn deployment_limits_are_checked() {
    assert!(Policy::with_limits(Some(200), Some(1)).is_ok());
    assert_eq!(
        Policy::with_limits(Some(201), None),
        Err(PolicyProblem::MaxServersPerJob(201))
    );
    assert_eq!(
        Policy::with_limits(Some(0), None),
        Err(PolicyProblem::MaxServersPerJob(0))
    );
    assert_eq!(
        Policy::with_limits(None, Some(0)),
        Err(PolicyProblem::MaxWaveAttempts(0))
    );
    let p = Policy::with_limits(Some(50), None).unwrap();
    assert_eq!((p.max_servers_per_job, p.max_wave_attempts), (50, 3));
}
