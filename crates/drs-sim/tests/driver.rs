//! The driver against the simulated world: each fault script ends as SPEC §3 says.

use std::collections::HashSet;

use drs_sim::driver::{drive, DriveError, DriverConfig, Event, Outcome, Resume};
use drs_sim::{Api, FaultScript, Sim, SimConfig, TokenState};
use execution_core::api::{Operation, Target};
use execution_core::fixtures;
use execution_core::ids::ExecutionId;
use execution_core::model::{Timestamp, WaveFailure};
use execution_core::ops;
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
    let execution = ops::create_execution(
        sim.store.as_ref(),
        sim.clock.as_ref(),
        plan,
        ExecutionId::new_random(),
    )
    .await
    .unwrap();
    Target {
        execution_id: execution.id(),
        plan_id: plan.plan_id,
    }
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
                before_wave: Some(1)
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
            .contains("1 of 3 servers did not launch"),
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
    assert_eq!(retried, HashSet::from([Operation::Poll, Operation::Launch]));
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

#[tokio::test]
async fn large_plans_run_through() {
    let sim = Sim::new(SimConfig::default());
    let plan = fixtures::plan(&[200, 150, 100]);
    let (result, _) = run_with(&sim, &plan, DriverConfig::default()).await;
    let outcome = result.unwrap();
    assert_completed_with_every_instance(&outcome);
    assert_eq!(outcome.execution.total_servers(), 450);
}
