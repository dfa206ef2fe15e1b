//! The driver against the simulated world: each fault script ends as SPEC §3 says.

use std::collections::{HashMap, HashSet};

use drs_sim::driver::{drive, DriveError, DriverConfig, Event, OnFailure, Outcome, Resume};
use drs_sim::{Api, FaultScript, Refusals, Sim, SimConfig, TokenState};
use execution_core::api::{Operation, Target};
use execution_core::fixtures;
use execution_core::ids::ExecutionId;
use execution_core::model::{FailurePolicy, Impact, PauseReason, Timestamp, WaveFailure};
use execution_core::plan::Plan;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};

type Events = Vec<(Timestamp, Event)>;

/// Three tiers: 2, 3 and 2 servers, with a pause before the second.
fn three_tier() -> Plan {
    let mut plan = fixtures::plan(&[2, 3, 2]);
    plan.waves[1].pause_before_wave = true;
    plan
}

async fn start(sim: &Sim, plan: &Plan) -> Target {
    sim.create(plan, ExecutionId::new_random()).await.unwrap()
}

async fn run_with(
    sim: &Sim,
    plan: &Plan,
    config: DriverConfig,
) -> (Result<Outcome, DriveError>, Events) {
    let target = start(sim, plan).await;
    let mut events = Events::new();
    let result = drive(sim, target, config, &mut events).await;
    (result, events)
}

async fn run(faults: FaultScript, script: impl FnOnce(&Sim)) -> (Outcome, Events, Sim) {
    let sim = Sim::new(SimConfig {
        faults,
        ..SimConfig::default()
    });
    script(&sim);
    let (result, events) = run_with(&sim, &three_tier(), DriverConfig::default()).await;
    (result.unwrap(), events, sim)
}

fn assert_completed_with_every_instance(outcome: &Outcome) {
    let e = &outcome.execution;
    assert_eq!(
        e.status(),
        ExecutionStatus::Completed,
        "{:?}",
        e.header.status_message
    );
    assert!(e.header.recovery_time_seconds.is_some_and(|t| t > 0));
    for wave in &e.waves {
        assert_eq!(
            wave.status,
            WaveStatus::Completed,
            "wave {}",
            wave.wave_number
        );
        assert!(wave.recovery_time_seconds.is_some_and(|t| t > 0));
        for s in &wave.server_statuses {
            assert_eq!(s.launch_status, LaunchStatus::Launched);
            assert!(
                s.recovery_instance_id.is_some() && s.instance_id.is_some(),
                "{s:?}"
            );
            assert!(
                s.private_ip.is_some() && s.hostname.is_some() && s.instance_type.is_some(),
                "{s:?}"
            );
            assert_eq!(s.instance_state.as_deref(), Some("running"));
        }
    }
}

fn count(events: &Events, pred: impl Fn(&Event) -> bool) -> usize {
    events.iter().filter(|(_, e)| pred(e)).count()
}

#[tokio::test]
async fn a_three_tier_drill_pauses_resumes_and_completes() {
    let (outcome, events, sim) = run(FaultScript::default(), |_| {}).await;
    assert_completed_with_every_instance(&outcome);
    assert_eq!(
        count(&events, |e| matches!(e, Event::WaveLaunched { .. })),
        3
    );

    let at = |pred: &dyn Fn(&Event) -> bool| {
        events
            .iter()
            .find(|(_, e)| pred(e))
            .map(|(t, _)| *t)
            .unwrap()
    };
    let paused = at(&|e| {
        matches!(
            e,
            Event::Paused {
                reason: PauseReason::Planned,
                before_wave: Some(1),
                failed_wave: None,
            }
        )
    });
    let resumed = at(&|e| {
        matches!(
            e,
            Event::Resumed {
                before_wave: Some(1),
                paused_secs: 120
            }
        )
    });
    let wave0_done = at(
        &|e| matches!(e, Event::WaveChanged { wave, .. } if wave.wave_number == 0 && wave.status == WaveStatus::Completed),
    );
    let wave1_launched = at(&|e| matches!(e, Event::WaveLaunched { wave_number: 1, .. }));
    assert!(wave0_done <= paused && paused < resumed && resumed <= wave1_launched);
    let e = &outcome.execution;
    assert!(
        e.waves[1]
            .launch_time
            .unwrap()
            .secs_since(e.waves[0].end_time.unwrap())
            >= 120,
        "wave 1 waited for the resume"
    );

    // The pause parked a task token and the resume released it.
    let tokens = sim.workflow.tokens();
    assert_eq!(tokens.len(), 1);
    assert!(tokens.values().all(|s| *s == TokenState::Succeeded));
    assert_eq!(sim.calls.count(Api::StartRecovery), 3);
    assert!(matches!(
        events.last(),
        Some((
            _,
            Event::Finalized {
                status: ExecutionStatus::Completed,
                recovery_time_seconds: Some(_)
            }
        ))
    ));
}

#[tokio::test]
async fn the_driver_names_itself_as_the_run_that_conducts_the_execution() {
    let (outcome, _, _) = run(FaultScript::default(), |_| {}).await;
    let header = &outcome.execution.header;
    assert_eq!(
        header.workflow_run.as_deref(),
        Some(drs_sim::sim_run_id(&header.execution_id.to_string()).as_str()),
        "the record names the run whose polls touched it"
    );
    assert!(header.workflow_polled_time.is_some());
}

#[tokio::test]
async fn one_seed_one_run() {
    let (a, _, _) = run(FaultScript::default(), |_| {}).await;
    let (b, _, _) = run(FaultScript::default(), |_| {}).await;
    let strip = |o: &Outcome| o.execution.waves.clone();
    assert_eq!(strip(&a), strip(&b));
    assert_eq!(a.simulated_secs, b.simulated_secs);
}

#[tokio::test]
async fn a_server_that_fails_to_launch_fails_its_wave_and_the_execution() {
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(3)]),
        ..FaultScript::default()
    };
    let (outcome, events, _) = run(faults, |_| {}).await;
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::Failed);
    assert_eq!(e.waves[0].status, WaveStatus::Completed);
    let failed = &e.waves[1];
    assert_eq!(
        (failed.status, failed.failure_reason),
        (WaveStatus::Failed, Some(WaveFailure::ServersFailed))
    );
    assert!(
        failed
            .status_message
            .as_deref()
            .unwrap()
            .contains("1 of 3 critical servers did not launch"),
        "{:?}",
        failed.status_message
    );
    assert_eq!(
        e.waves[2].status,
        WaveStatus::Cancelled,
        "the wave after a failure never runs"
    );
    assert_eq!(
        count(&events, |e| matches!(e, Event::WaveLaunched { .. })),
        2
    );
    assert!(matches!(
        events.last(),
        Some((
            _,
            Event::Finalized {
                status: ExecutionStatus::Failed,
                ..
            }
        ))
    ));
}

#[tokio::test]
async fn throttling_is_retried_and_the_drill_completes() {
    let (outcome, events, sim) = run(FaultScript::default(), |sim| {
        sim.calls.throttle(
            Api::DescribeJobs,
            3,
            Some(std::time::Duration::from_secs(2)),
        );
        sim.calls.throttle(Api::StartRecovery, 2, None);
    })
    .await;
    assert_completed_with_every_instance(&outcome);
    let retried: HashSet<Operation> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Retrying { operation, .. } => Some(*operation),
            _ => None,
        })
        .collect();
    assert_eq!(
        retried,
        HashSet::from([Operation::Poll]),
        "a throttled StartRecovery is not a failed launch: launch answers when to try again"
    );
    assert_eq!(
        count(&events, |e| matches!(
            e,
            Event::LaunchDeferred { wave_number: 0, .. }
        )),
        2
    );
    assert_eq!(
        (outcome.launch_refusals, outcome.launch_wait_secs),
        (2, 10 + 20),
        "the engine's backoff, doubled, as DRS named no time"
    );
    assert_eq!(
        sim.calls.count(Api::StartRecovery),
        5,
        "two throttled, then one per wave"
    );
}

#[tokio::test]
async fn drs_5xx_answers_are_retried_and_the_drill_completes() {
    let (outcome, events, _) = run(FaultScript::default(), |sim| {
        sim.calls.fail_with_5xx(Api::DescribeJobs, 2)
    })
    .await;
    assert_completed_with_every_instance(&outcome);
    assert_eq!(
        count(&events, |e| matches!(
            e,
            Event::Retrying {
                operation: Operation::Poll,
                ..
            }
        )),
        2
    );
}

#[tokio::test]
async fn a_5xx_on_start_recovery_keeps_the_claim_and_launch_finishes_it_without_a_second_job() {
    let (outcome, _, sim) = run(FaultScript::default(), |sim| {
        sim.calls.fail_with_5xx(Api::StartRecovery, 1)
    })
    .await;
    assert_completed_with_every_instance(&outcome);
    assert!(
        sim.calls.count(Api::FindTaggedJob) >= 1,
        "the stale claim was looked up by its tags"
    );
    assert_eq!(sim.world.jobs().len(), 3, "one job per wave");
}

#[tokio::test]
async fn a_job_missing_from_describe_jobs_within_the_grace_period_still_completes() {
    // 4 polls 30 s apart: well within the 300 s grace.
    let faults = FaultScript {
        job_missing_polls: 4,
        ..FaultScript::default()
    };
    let (outcome, _, _) = run(faults, |_| {}).await;
    assert_completed_with_every_instance(&outcome);
}

#[tokio::test]
async fn a_job_missing_past_the_grace_period_fails_the_wave() {
    let faults = FaultScript {
        job_missing_polls: 20,
        ..FaultScript::default()
    };
    let (outcome, _, _) = run(faults, |_| {}).await;
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::Failed);
    assert_eq!(e.waves[0].failure_reason, Some(WaveFailure::JobNotFound));
    assert!(e.waves[1..]
        .iter()
        .all(|w| w.status == WaveStatus::Cancelled));
}

#[tokio::test]
async fn an_instance_unknown_to_ec2_leaves_its_fields_empty_then_filled() {
    let faults = FaultScript {
        ec2_unknown_polls: 2,
        ..FaultScript::default()
    };
    let (_, events, _) = run(faults, |_| {}).await;
    let mut empty_then_filled = 0;
    for (_, event) in &events {
        if let Event::ServerChanged {
            server, previous, ..
        } = event
        {
            if previous.instance_id.is_some()
                && previous.private_ip.is_none()
                && server.private_ip.is_some()
            {
                empty_then_filled += 1;
            }
        }
    }
    let launched_without_ec2 = count(
        &events,
        |e| matches!(e, Event::ServerChanged { server, .. } if server.launch_status == LaunchStatus::Launched && server.instance_id.is_some() && server.private_ip.is_none()),
    );
    assert!(
        launched_without_ec2 > 0,
        "some poll saw a launched server EC2 did not know yet"
    );
    assert!(empty_then_filled > 0, "a later poll filled its fields");
}

#[tokio::test]
async fn every_instance_unknown_to_ec2_at_first_ends_with_its_fields() {
    let faults = FaultScript {
        ec2_unknown_polls: 2,
        ..FaultScript::default()
    };
    let (outcome, _, _) = run(faults, |_| {}).await;
    assert_completed_with_every_instance(&outcome);
}

#[tokio::test]
async fn recovery_instance_ids_missing_from_the_job_come_from_describe_recovery_instances() {
    let faults = FaultScript {
        omit_recovery_instance_ids: true,
        ..FaultScript::default()
    };
    let (outcome, _, sim) = run(faults, |_| {}).await;
    assert_completed_with_every_instance(&outcome);
    assert!(sim.calls.count(Api::DescribeRecoveryInstances) >= 3);
    let known: HashSet<_> = sim
        .world
        .recovery_instances()
        .into_iter()
        .map(|ri| (ri.source_server_id, ri.recovery_instance_id))
        .collect();
    for s in outcome
        .execution
        .waves
        .iter()
        .flat_map(|w| &w.server_statuses)
    {
        assert!(known.contains(&(
            s.source_server_id.clone(),
            s.recovery_instance_id.clone().unwrap()
        )));
    }
}

#[tokio::test]
async fn a_pause_waits_for_the_signal() {
    let sim = Sim::new(SimConfig::default());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tx.send(()).unwrap();
    let config = DriverConfig {
        resume: Resume::OnSignal(rx),
        ..DriverConfig::default()
    };
    let (result, events) = run_with(&sim, &three_tier(), config).await;
    assert_eq!(
        result.unwrap().execution.status(),
        ExecutionStatus::Completed
    );
    assert!(
        count(&events, |e| matches!(
            e,
            Event::Resumed { paused_secs: 0, .. }
        )) == 1,
        "without a speed, no simulated time passes while waiting"
    );
}

#[tokio::test]
async fn a_service_that_keeps_failing_makes_the_driver_give_up() {
    let sim = Sim::new(SimConfig::default());
    sim.calls.fail_with_5xx(Api::DescribeJobs, 1000);
    let (result, _) = run_with(&sim, &three_tier(), DriverConfig::default()).await;
    assert!(
        matches!(
            result,
            Err(DriveError::GaveUp {
                operation: Operation::Poll,
                failures: 7,
                ..
            })
        ),
        "{result:?}"
    );
}

/// SPEC §9: the retry budget bounds every operation's retry-later answers in a row, launch's too:
/// a poll that answers in between does not start the count over. StartRecovery's answer is lost
/// (5xx), so the next launch must first look for the job by its tags, and that DescribeJobs
/// keeps failing: launch answers 500 every time. The backoffs pass on the simulated clock.
#[tokio::test]
async fn a_launch_that_keeps_failing_makes_the_driver_give_up() {
    let sim = Sim::new(SimConfig::default());
    sim.calls.fail_with_5xx(Api::StartRecovery, 1000);
    sim.calls.fail_with_5xx(Api::FindTaggedJob, 1000);
    let started = sim.clock.now();
    let (result, events) = run_with(&sim, &three_tier(), DriverConfig::default()).await;
    assert!(
        matches!(
            result,
            Err(DriveError::GaveUp {
                operation: Operation::Launch,
                failures: 7,
                ..
            })
        ),
        "{result:?}"
    );
    let retries: Vec<u64> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Retrying {
                operation: Operation::Launch,
                backoff_secs,
                ..
            } => Some(*backoff_secs),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [2, 4, 8, 16, 32, 60], "six retries, each waited");
    assert!(
        sim.clock.now().secs_since(started) >= retries.iter().sum::<u64>(),
        "the waits are simulated time"
    );
}

#[tokio::test]
async fn large_plans_run_through() {
    let sim = Sim::new(SimConfig::default());
    let plan = fixtures::plan(&[200, 150, 100]);
    let (result, _) = run_with(&sim, &plan, DriverConfig::default()).await;
    let outcome = result.unwrap();
    assert_completed_with_every_instance(&outcome);
    assert_eq!(outcome.execution.total_servers(), 450);
}

/// A plan whose failed waves wait for a decision (the default for plans; the fixtures STOP).
fn pausing(mut plan: Plan) -> Plan {
    plan.on_wave_failure = Some(FailurePolicy::Pause);
    plan
}

async fn run_plan(
    plan: &Plan,
    faults: FaultScript,
    on_failure: OnFailure,
) -> (Outcome, Events, Sim) {
    let sim = Sim::new(SimConfig {
        faults,
        ..SimConfig::default()
    });
    let config = DriverConfig {
        on_failure,
        ..DriverConfig::default()
    };
    let (result, events) = run_with(&sim, plan, config).await;
    (result.unwrap(), events, sim)
}

fn decisions(events: &Events) -> Vec<(u32, Operation, Option<u32>)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Decided {
                wave_number,
                decision,
                attempt,
                ..
            } => Some((*wave_number, *decision, *attempt)),
            _ => None,
        })
        .collect()
}

fn servers_by_job(wave: &execution_core::model::Wave) -> HashMap<String, usize> {
    let mut by_job = HashMap::new();
    for s in &wave.server_statuses {
        *by_job
            .entry(
                s.job_id
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
            )
            .or_insert(0) += 1;
    }
    by_job
}

#[tokio::test]
async fn a_wave_of_250_servers_is_launched_as_three_jobs_of_at_most_100() {
    let sim = Sim::new(SimConfig::default());
    assert_eq!(sim.policy.max_servers_per_job, 100);
    let (result, events) =
        run_with(&sim, &fixtures::plan(&[250, 2]), DriverConfig::default()).await;
    let outcome = result.unwrap();
    assert_completed_with_every_instance(&outcome);
    let wave = &outcome.execution.waves[0];
    let parts: Vec<(u32, u32)> = wave.jobs.iter().map(|j| (j.attempt, j.part)).collect();
    assert_eq!(parts, [(1, 0), (1, 1), (1, 2)]);
    let mut sizes: Vec<usize> = servers_by_job(wave).into_values().collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100, 100]);
    assert_eq!(
        sim.world.jobs().len(),
        4,
        "three jobs for wave 0, one for wave 1"
    );
    assert!(sim.world.jobs().iter().all(|j| j.servers.len() <= 100));
    let launched: Vec<usize> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::WaveLaunched {
                wave_number: 0,
                job_ids,
                ..
            } => Some(job_ids.len()),
            _ => None,
        })
        .collect();
    assert_eq!(launched, [3], "one launch started every part");
}

#[tokio::test]
async fn a_smaller_max_servers_per_job_makes_more_jobs() {
    let sim = Sim::new(SimConfig {
        policy: execution_core::rules::Policy::with_limits(Some(40), None).unwrap(),
        ..SimConfig::default()
    });
    let (result, _) = run_with(&sim, &fixtures::plan(&[100]), DriverConfig::default()).await;
    let outcome = result.unwrap();
    assert_completed_with_every_instance(&outcome);
    assert_eq!(outcome.execution.waves[0].jobs.len(), 3);
}

#[tokio::test]
async fn quota_and_conflict_refusals_clear_and_the_drill_completes() {
    let faults = FaultScript {
        quota_refusals: Refusals::new(2, None),
        conflict_refusals: Refusals::new(1, Some(15)),
        ..FaultScript::default()
    };
    let (outcome, events, sim) = run(faults, |_| {}).await;
    assert_completed_with_every_instance(&outcome);
    assert_eq!(
        (outcome.launch_refusals, outcome.launch_wait_secs),
        (3, 10 + 20 + 15),
        "the engine's backoff for the quota, DRS's own hint for the conflict"
    );
    let deferred: Vec<(u64, String)> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::LaunchDeferred {
                retry_after_secs,
                error,
                ..
            } => Some((*retry_after_secs, error.clone().unwrap_or_default())),
            _ => None,
        })
        .collect();
    assert_eq!(deferred.len(), 3);
    assert!(
        deferred[0].1.contains("ServiceQuotaExceededException"),
        "{deferred:?}"
    );
    assert!(deferred[2].1.contains("ConflictException"), "{deferred:?}");
    let wave = &outcome.execution.waves[0];
    assert_eq!(wave.launch_attempts, 4, "three refused, one started");
    assert!(wave
        .last_launch_error
        .as_deref()
        .is_some_and(|e| e.contains("ConflictException")));
    assert_eq!(sim.calls.count(Api::StartRecovery), 6);
    // The wave waited for DRS: its recovery time runs from its first launch attempt.
    assert!(wave.recovery_time_seconds.unwrap() >= 45);
}

#[tokio::test]
async fn a_quota_that_never_clears_blocks_the_launch_until_the_wave_times_out() {
    let mut plan = fixtures::plan(&[2]);
    plan.wave_timeout_seconds = Some(600);
    let faults = FaultScript {
        quota_refusals: Refusals::new(1000, None),
        ..FaultScript::default()
    };
    let (outcome, _, sim) = run_plan(&plan, faults, OnFailure::Stop).await;
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::Failed);
    assert_eq!(e.waves[0].failure_reason, Some(WaveFailure::LaunchBlocked));
    assert!(sim.world.jobs().is_empty());
    assert!(outcome.launch_wait_secs >= 600);
}

#[tokio::test]
async fn a_job_over_the_per_job_quota_is_rejected() {
    let faults = FaultScript {
        job_server_quota: Some(50),
        ..FaultScript::default()
    };
    let (outcome, _, sim) = run_plan(&fixtures::plan(&[60]), faults, OnFailure::Stop).await;
    let wave = &outcome.execution.waves[0];
    assert_eq!(outcome.execution.status(), ExecutionStatus::Failed);
    assert_eq!(wave.failure_reason, Some(WaveFailure::LaunchRejected));
    assert!(wave
        .status_message
        .as_deref()
        .is_some_and(|m| m.contains("L-B827C881")));
    assert_eq!(sim.calls.count(Api::StartRecovery), 1, "not asked again");
}

#[tokio::test]
async fn a_retry_after_a_failed_wave_succeeds() {
    let plan = pausing(three_tier());
    let faults = FaultScript {
        flaky_servers: HashMap::from([(fixtures::server(3), 1)]),
        ..FaultScript::default()
    };
    let (outcome, events, sim) = run_plan(&plan, faults, OnFailure::Retry).await;
    assert_completed_with_every_instance(&outcome);
    assert_eq!(decisions(&events), [(1, Operation::Retry, Some(2))]);
    assert_eq!(
        count(&events, |e| matches!(
            e,
            Event::Paused {
                reason: PauseReason::WaveFailed,
                failed_wave: Some(1),
                ..
            }
        )),
        1
    );
    let wave = &outcome.execution.waves[1];
    assert_eq!(wave.attempt, 2);
    let attempts: Vec<u32> = wave.jobs.iter().map(|j| j.attempt).collect();
    assert_eq!(attempts, [1, 2]);
    // Only the server that did not launch was launched again.
    let retry_job = &wave.jobs[1].job_id;
    let relaunched: Vec<_> = wave
        .server_statuses
        .iter()
        .filter(|s| s.job_id.as_ref() == Some(retry_job))
        .map(|s| s.source_server_id.clone())
        .collect();
    assert_eq!(relaunched, [fixtures::server(3)]);
    // The wave's recovery time runs from its first attempt, across the pause.
    assert!(wave.recovery_time_seconds.unwrap() > 120);
    // Two pauses (the planned one and the failure's), two tokens, both released.
    let tokens = sim.workflow.tokens();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.values().all(|s| *s == TokenState::Succeeded));
}

#[tokio::test]
async fn retries_stop_at_max_wave_attempts_and_the_execution_fails() {
    let plan = pausing(fixtures::plan(&[2, 1]));
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(1)]),
        ..FaultScript::default()
    };
    let (outcome, events, _) = run_plan(&plan, faults, OnFailure::Retry).await;
    assert_eq!(
        decisions(&events),
        [
            (0, Operation::Retry, Some(2)),
            (0, Operation::Retry, Some(3)),
            (0, Operation::Cancel, None)
        ]
    );
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::Failed);
    assert_eq!(e.waves[0].attempt, 3);
    assert_eq!(e.waves[1].status, WaveStatus::Cancelled);
}

#[tokio::test]
async fn a_skipped_wave_ends_completed_with_errors() {
    let plan = pausing(three_tier());
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(0)]),
        ..FaultScript::default()
    };
    let (outcome, events, _) = run_plan(&plan, faults, OnFailure::Skip).await;
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::CompletedWithErrors);
    assert_eq!(decisions(&events), [(0, Operation::Skip, Some(1))]);
    assert_eq!(e.waves[0].status, WaveStatus::Skipped);
    assert_eq!(e.waves[0].failure_reason, Some(WaveFailure::ServersFailed));
    assert!(e.waves[1..]
        .iter()
        .all(|w| w.status == WaveStatus::Completed));
    // The next wave's planned pause still applied after the skip.
    assert_eq!(
        count(&events, |e| matches!(
            e,
            Event::Paused {
                reason: PauseReason::Planned,
                before_wave: Some(1),
                ..
            }
        )),
        1
    );
    assert!(matches!(
        events.last(),
        Some((
            _,
            Event::Finalized {
                status: ExecutionStatus::CompletedWithErrors,
                ..
            }
        ))
    ));
}

#[tokio::test]
async fn a_failed_wave_that_pauses_is_cancelled_by_default_and_the_execution_fails() {
    let plan = pausing(three_tier());
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(3)]),
        ..FaultScript::default()
    };
    let (outcome, events, sim) = run_plan(&plan, faults, OnFailure::default()).await;
    assert_eq!(decisions(&events), [(1, Operation::Cancel, None)]);
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::Failed);
    assert_eq!(e.waves[1].status, WaveStatus::Failed);
    assert_eq!(e.waves[2].status, WaveStatus::Cancelled);
    assert!(sim
        .workflow
        .tokens()
        .values()
        .all(|s| *s == TokenState::Succeeded));
}

#[tokio::test]
async fn an_optional_server_that_fails_ends_completed_with_errors() {
    let mut plan = three_tier();
    plan.waves[1].servers[1].impact = Impact::Optional; // server 3
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(3)]),
        ..FaultScript::default()
    };
    let (outcome, events, _) = run_plan(&plan, faults, OnFailure::Stop).await;
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::CompletedWithErrors);
    assert!(e.waves.iter().all(|w| w.status == WaveStatus::Completed));
    assert_eq!(e.waves[1].optional_not_launched, 1);
    assert!(e.header.recovery_time_seconds.is_some());
    assert_eq!(decisions(&events), []);
    let optional = &e.waves[1].server_statuses[1];
    assert_eq!(
        (optional.impact, &optional.launch_status),
        (Impact::Optional, &LaunchStatus::Failed)
    );
}

#[tokio::test]
async fn a_server_its_job_omits_fails_the_wave_as_not_in_the_job() {
    let faults = FaultScript {
        omitted_servers: HashSet::from([fixtures::server(4)]),
        ..FaultScript::default()
    };
    let (outcome, _, _) = run(faults, |_| {}).await;
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::Failed);
    let wave = &e.waves[1];
    assert_eq!(wave.failure_reason, Some(WaveFailure::JobIncomplete));
    let omitted = wave
        .server_statuses
        .iter()
        .find(|s| s.source_server_id == fixtures::server(4))
        .unwrap();
    assert_eq!(omitted.launch_status, LaunchStatus::Failed);
    assert!(
        omitted
            .status_message
            .as_deref()
            .is_some_and(|m| m.contains("not in the DRS job")),
        "{omitted:?}"
    );
    assert!(wave
        .server_statuses
        .iter()
        .filter(|s| s.source_server_id != fixtures::server(4))
        .all(|s| s.launch_status == LaunchStatus::Launched));
}

// ---------------------------------------------------------------------------------------------
// Cleanup after a drill whose plan asks for it
// ---------------------------------------------------------------------------------------------

fn cleaning_up(after: i64) -> Plan {
    let mut plan = three_tier();
    plan.cleanup_after_seconds = Some(after);
    plan
}

fn terminate_jobs(sim: &Sim) -> Vec<drs_sim::Job> {
    sim.world
        .jobs()
        .into_iter()
        .filter(|j| j.job_type == drs_sim::JobType::Terminate)
        .collect()
}

#[tokio::test]
async fn a_drill_that_asks_for_cleanup_terminates_its_instances_after_the_delay() {
    let sim = Sim::new(SimConfig::default());
    sim.store.check_invariants();
    let (result, events) = run_with(&sim, &cleaning_up(900), DriverConfig::default()).await;
    let outcome = result.unwrap();
    assert_completed_with_every_instance(&outcome);
    let finalized = events
        .iter()
        .find(|(_, e)| matches!(e, Event::Finalized { .. }))
        .map(|(t, _)| *t)
        .unwrap();
    let terminations = terminate_jobs(&sim);
    assert_eq!(
        terminations.len(),
        1,
        "one TERMINATE job for the 7 instances"
    );
    assert_eq!(
        terminations[0].created.secs_since(finalized),
        900,
        "cleanup waits cleanupAfterSeconds on the simulated clock"
    );
    assert_eq!(terminations[0].servers.len(), 7);
    assert!(
        sim.world.recovery_instances().is_empty() && sim.world.instances().is_empty(),
        "every instance of the drill is gone from DRS and EC2"
    );
    let cleanup = outcome.cleanup.clone().unwrap();
    assert!(cleanup.complete, "{cleanup:?}");
    assert_eq!(cleanup.terminated.len(), 7);
    assert_eq!(cleanup.job_ids, [terminations[0].job_id.clone()]);
    let rounds = count(&events, |e| matches!(e, Event::CleanedUp(_)));
    assert!(rounds >= 2, "asked, then confirmed: {rounds}");
    assert!(matches!(
        events.last(),
        Some((_, Event::CleanedUp(c))) if c.complete
    ));
    let record = sim.store.get(outcome.execution.id()).unwrap();
    assert!(record
        .waves
        .iter()
        .flat_map(|w| &w.server_statuses)
        .all(|s| s
            .cleanup
            .as_ref()
            .is_some_and(|c| c.state == execution_core::model::CleanupState::Terminated)));
    assert_eq!(
        outcome.execution, record,
        "the outcome is the record as cleanup left it"
    );
    assert_eq!(sim.store.violations(), []);
    for n in 0..7 {
        let server = sim.world.source_server(&fixtures::server(n)).unwrap();
        assert_eq!(server.recovery_instance_id, None);
        assert_eq!(
            server.last_launch.and_then(|l| l.status),
            Some(LaunchStatus::Terminated)
        );
    }
}

#[tokio::test]
async fn a_drill_without_cleanup_leaves_its_instances_running() {
    let sim = Sim::new(SimConfig::default());
    let (result, events) = run_with(&sim, &three_tier(), DriverConfig::default()).await;
    let outcome = result.unwrap();
    assert_eq!(outcome.cleanup, None);
    assert_eq!(count(&events, |e| matches!(e, Event::CleanedUp(_))), 0);
    assert_eq!(sim.calls.count(Api::TerminateRecoveryInstances), 0);
    assert_eq!(sim.world.recovery_instances().len(), 7);
}

#[tokio::test]
async fn a_lost_terminate_answer_is_settled_by_the_job_it_started() {
    let sim = Sim::new(SimConfig::default());
    sim.calls.lose_answers(Api::TerminateRecoveryInstances, 1);
    let (result, events) = run_with(&sim, &cleaning_up(60), DriverConfig::default()).await;
    let outcome = result.unwrap();
    assert!(outcome.cleanup.as_ref().is_some_and(|c| c.complete));
    assert_eq!(
        terminate_jobs(&sim).len(),
        1,
        "the job of the lost answer was found, not asked for again"
    );
    assert!(sim.calls.count(Api::FindTerminateJob) >= 1);
    assert!(sim.world.recovery_instances().is_empty());
    assert!(
        count(&events, |e| matches!(
            e,
            Event::Retrying {
                operation: Operation::Cleanup,
                ..
            }
        )) >= 1,
        "the lost answer made cleanup answer an error worth retrying"
    );
}

#[tokio::test]
async fn cleanup_that_never_completes_ends_the_drive_with_its_last_answer() {
    let sim = Sim::new(SimConfig {
        terminate_timings: drs_sim::TerminateTimings {
            job_start: drs_sim::Spread::fixed(5),
            terminate: drs_sim::Spread::fixed(100_000),
            job_complete_lag_secs: 5,
        },
        ..SimConfig::default()
    });
    let config = DriverConfig {
        max_cleanup_rounds: 3,
        ..DriverConfig::default()
    };
    let (result, events) = run_with(&sim, &cleaning_up(0), config).await;
    let outcome = result.expect("the drive ends as the run does");
    let last = outcome.cleanup.expect("cleanup's last answer");
    assert!(!last.complete);
    assert_eq!(last.requested.len(), 7);
    assert_eq!(count(&events, |e| matches!(e, Event::CleanedUp(_))), 3);
}

#[tokio::test]
async fn a_failed_server_s_reason_comes_from_its_job_log() {
    let sim = Sim::new(SimConfig {
        faults: FaultScript {
            failing_servers: HashSet::from([fixtures::server(3)]),
            ..FaultScript::default()
        },
        ..SimConfig::default()
    });
    let (result, _) = run_with(&sim, &three_tier(), DriverConfig::default()).await;
    result.unwrap();
    let job = sim
        .world
        .jobs()
        .into_iter()
        .find(|j| {
            j.servers
                .iter()
                .any(|s| s.source_server_id == fixtures::server(3))
        })
        .unwrap();
    let failed: Vec<_> = job
        .log
        .iter()
        .filter(|e| e.event == "LAUNCH_FAILED")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].source_server_id, Some(fixtures::server(3)));
    assert_eq!(
        failed[0].raw_error.as_deref(),
        Some(drs_sim::DEFAULT_LAUNCH_ERROR)
    );
}

// ---------------------------------------------------------------------------------------------
// The operator's start: pre-flight against the simulated DRS, and holds
// ---------------------------------------------------------------------------------------------

fn problems(
    e: &execution_core::OperationError,
) -> Vec<execution_core::preflight::PreflightProblem> {
    match e {
        execution_core::OperationError::Preflight(p) => p.problems.clone(),
        other => panic!("not a pre-flight refusal: {other:?}"),
    }
}

#[tokio::test]
async fn start_refuses_servers_drs_does_not_know_or_cannot_launch() {
    use execution_core::preflight::PreflightProblem as P;
    let sim = Sim::new(SimConfig {
        source_servers: drs_sim::SourceServers {
            unknown: [fixtures::server(0)].into(),
            ..drs_sim::SourceServers::default()
        }
        .replicating(fixtures::server(1), "DISCONNECTED", Some("AGENT_NOT_SEEN"))
        .replicating(fixtures::server(2), "INITIAL_SYNC", None),
        ..SimConfig::default()
    });
    let refused = sim
        .start(&three_tier(), ExecutionId::new_random())
        .await
        .unwrap_err();
    let found = problems(&refused);
    assert!(found.contains(&P::NotInDrs {
        source_server_id: fixtures::server(0)
    }));
    assert!(found.contains(&P::ReplicationUnhealthy {
        source_server_id: fixtures::server(1),
        state: "DISCONNECTED".into(),
        error: Some("AGENT_NOT_SEEN".into()),
    }));
    assert!(found.iter().any(|p| matches!(
        p,
        P::ReplicationUnhealthy { source_server_id, state, .. }
            if *source_server_id == fixtures::server(2) && state == "INITIAL_SYNC"
    )));
    assert!(sim.store.executions().is_empty(), "nothing was created");
    assert!(sim.store.all_holds().is_empty(), "nor held");
    assert_eq!(sim.calls.count(Api::DescribeSourceServers), 1);
}

#[tokio::test]
async fn a_started_drill_holds_its_servers_until_it_ends() {
    let sim = Sim::new(SimConfig::default());
    let first = sim
        .start(&three_tier(), ExecutionId::new_random())
        .await
        .unwrap();
    assert_eq!(sim.store.all_holds().len(), 7);
    // Another plan over one of its servers is refused while the first is active.
    let overlapping = fixtures::plan(&[3]);
    let refused = sim
        .start(&overlapping, ExecutionId::new_random())
        .await
        .unwrap_err();
    assert!(
        problems(&refused).iter().any(|p| matches!(
            p,
            execution_core::preflight::PreflightProblem::HeldByExecution { execution_id, .. }
                if *execution_id == first.execution_id
        )),
        "{refused:?}"
    );
    let mut events = Events::new();
    let outcome = drive(&sim, first, DriverConfig::default(), &mut events)
        .await
        .unwrap();
    assert_completed_with_every_instance(&outcome);
    // Once it has ended its holds no longer bind: the next start takes them over.
    let second = sim
        .start(&overlapping, ExecutionId::new_random())
        .await
        .unwrap();
    let holds = sim.store.all_holds();
    assert_eq!(
        holds
            .iter()
            .filter(|h| h.execution_id == second.execution_id)
            .count(),
        3
    );
    assert_eq!(holds.len(), 7);
}
