//! `drctl drill`: a plan run end to end in the simulator, as the state machine would run it.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use drs_sim::driver::{drive, DriverConfig, OnFailure, Resume};
use drs_sim::{FaultScript, Sim, SimConfig};
use execution_core::api::Target;
use execution_core::ops;
use execution_core::rules::Policy;
use execution_core::status::ExecutionStatus;
use serde_json::json;

use crate::cli::DrillArgs;
use crate::exit::{print_json, CliError, Exit};
use crate::report::{duration, Report};
use crate::{plan_file, progress};

/// The simulated Retry-After of a scripted throttle.
const THROTTLE_RETRY_AFTER: Duration = Duration::from_secs(1);

pub async fn run(args: DrillArgs, json: bool) -> Result<Exit, CliError> {
    let plan = plan_file::load(&args.plan)?;
    let problems = plan.problems();
    if !problems.is_empty() {
        return Err(plan_file::problems_error(&args.plan, &problems));
    }
    let in_plan: HashSet<_> = plan
        .waves
        .iter()
        .flat_map(|w| &w.servers)
        .map(|s| &s.source_server_id)
        .collect();
    let named = args
        .fail_servers
        .iter()
        .map(|f| ("--fail-server", &f.server))
        .chain(args.omit_servers.iter().map(|s| ("--omit-server", s)));
    for (option, server) in named {
        if !in_plan.contains(server) {
            return Err(CliError::invalid(format!(
                "{option} {server}: no wave of the plan has this server"
            )));
        }
    }
    let policy = Policy::with_limits(args.max_servers_per_job, args.max_wave_attempts)
        .map_err(|e| CliError::invalid(e.to_string()))?;

    let faults = FaultScript {
        failing_servers: args
            .fail_servers
            .iter()
            .filter(|f| f.first_attempts.is_none())
            .map(|f| f.server.clone())
            .collect(),
        flaky_servers: args
            .fail_servers
            .iter()
            .filter_map(|f| f.first_attempts.map(|n| (f.server.clone(), n)))
            .collect(),
        omitted_servers: args.omit_servers.iter().cloned().collect(),
        job_server_quota: args.job_quota,
        quota_refusals: args.quota_exceeded.unwrap_or_default(),
        conflict_refusals: args.conflict.unwrap_or_default(),
        ec2_unknown_polls: args.ec2_unknown_polls,
        job_missing_polls: args.job_missing_polls,
        omit_recovery_instance_ids: args.no_recovery_instance_ids,
    };
    let sim = Sim::new(SimConfig {
        seed: args.seed,
        faults,
        policy,
        ..SimConfig::default()
    });
    for &(api, n) in &args.throttle {
        sim.calls.throttle(api, n, Some(THROTTLE_RETRY_AFTER));
    }
    for &(api, n) in &args.drs_5xx {
        sim.calls.fail_with_5xx(api, n);
    }

    let execution_id = Sim::execution_id_for_seed(args.seed);
    let execution =
        ops::create_execution(sim.store.as_ref(), sim.clock.as_ref(), &plan, execution_id)
            .await
            .map_err(|e| CliError::invalid(format!("cannot create the execution: {e}")))?;
    let target = Target {
        execution_id: execution.id(),
        plan_id: plan.plan_id,
    };

    let resume_after = args.resume_after.unwrap_or(120);
    let on_failure = OnFailure::from(args.on_failure);
    let decision = match on_failure {
        OnFailure::Retry => "retry",
        OnFailure::Skip => "skip",
        OnFailure::Stop => "cancel",
    };
    let (resume, hints) = if args.resume_on_key {
        (
            Resume::OnSignal(key_presses()),
            progress::Hints {
                resume: "press Enter to resume".to_owned(),
                decision: format!("press Enter to {decision}"),
            },
        )
    } else {
        let after = format!("after {} (simulated)", duration(resume_after));
        (
            Resume::After(resume_after),
            progress::Hints {
                resume: format!("resuming {after}"),
                decision: format!("{decision} {after}"),
            },
        )
    };
    let config = DriverConfig {
        poll_interval_secs: args.poll_interval,
        speed: (args.speed > 0.0).then_some(args.speed),
        resume,
        on_failure,
        ..DriverConfig::default()
    };

    let mut progress = progress::for_output(json, hints);
    let wall = Instant::now();
    let outcome = drive(&sim, target, config, progress.as_mut()).await;
    progress.finish();
    let outcome = outcome
        .map_err(|e| CliError::infrastructure(format!("the drill could not finish: {e}")))?;

    let mut report = Report::of(&outcome.execution);
    report.simulation = Some(json!({
        "seed": args.seed,
        "polls": outcome.polls,
        "simulatedSeconds": outcome.simulated_secs,
        "launchRefusals": outcome.launch_refusals,
        "launchWaitSeconds": outcome.launch_wait_secs,
        "wallSeconds": (wall.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        "calls": sim.calls.counts(),
        "store": sim.store.counts(),
    }));
    if json {
        print_json(&report);
    } else {
        print!("{}", report.to_text());
        let calls: Vec<String> = sim
            .calls
            .counts()
            .iter()
            .map(|(api, n)| format!("{api} {n}"))
            .collect();
        let refused = if outcome.launch_refusals > 0 {
            format!(
                "; DRS refused StartRecovery {} times for now ({} waited)",
                outcome.launch_refusals,
                duration(outcome.launch_wait_secs)
            )
        } else {
            String::new()
        };
        println!(
            "\nSimulated {} in {:.1}s of wall time (seed {}): {} polls{refused}; service calls: {}",
            duration(outcome.simulated_secs),
            wall.elapsed().as_secs_f64(),
            args.seed,
            outcome.polls,
            calls.join(", ")
        );
    }
    Ok(match outcome.execution.status() {
        ExecutionStatus::Completed => Exit::Success,
        ExecutionStatus::CompletedWithErrors => Exit::CompletedWithErrors,
        _ => Exit::Failed,
    })
}

/// One signal per line on standard input; the channel closes with the input.
fn key_presses() -> tokio::sync::mpsc::UnboundedReceiver<()> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
            if tx.send(()).is_err() {
                return;
            }
        }
    });
    rx
}
