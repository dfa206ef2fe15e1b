//! `drctl drill`: a plan run end to end in the simulator, as the state machine would run it.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use drs_sim::driver::{drive, DriverConfig, Event, Observer, OnFailure, Resume};
use drs_sim::{
    ActionOutcome, ActionScript, ActionScripts, EventConfig, FaultScript, Sim, SimConfig,
    SourceServers,
};
use execution_core::audit::AuditEvent;
use execution_core::error::OperationError;
use execution_core::ids::ExecutionId;
use execution_core::model::Timestamp;
use execution_core::preflight::Preflight;
use execution_core::report::Report;
use execution_core::rules::Policy;
use execution_core::status::ExecutionStatus;
use serde_json::json;
use tokio::sync::{oneshot, Notify};

use crate::cli::{DrillArgs, Switch};
use crate::exit::{CliError, Exit};
use crate::progress::Progress;
use crate::report::{self, duration, Document, Format, Stopped};
use crate::text::{clean, count};
use crate::{output, plan_file, progress};

/// The simulated Retry-After of a scripted throttle.
const THROTTLE_RETRY_AFTER: Duration = Duration::from_secs(1);

pub async fn run(args: DrillArgs, json: bool) -> Result<Exit, CliError> {
    if args.resume_on_key && plan_file::is_stdin(&args.plan) {
        return Err(CliError::invalid(
            "--resume-on-key waits for Enter on standard input, which `-` reads the plan from: give the plan as a file",
        ));
    }
    let mut plan = plan_file::load(&args.plan)?;
    if args.cleanup {
        if !plan.is_drill {
            return Err(CliError::invalid(
                "--cleanup: this plan is a recovery (isDrill false); a recovery's instances are production and are never cleaned up",
            ));
        }
        // As soon as it ends, unless the plan says when.
        plan.cleanup_after_seconds.get_or_insert(0);
    }
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
        .chain(args.omit_servers.iter().map(|s| ("--omit-server", s)))
        .chain(args.replication.iter().map(|(s, _)| ("--replication", s)));
    for (option, server) in named {
        if !in_plan.contains(server) {
            return Err(CliError::invalid(format!(
                "{option} {server}: no wave of the plan has this server"
            )));
        }
    }
    let actions = failing_actions(&plan, &args.fail_actions)?;
    let events = launch_events(&args)?;
    let policy = Policy::with_limits(args.max_servers_per_job, args.max_wave_attempts)
        .map_err(|e| CliError::invalid(e.to_string()))?;
    // Before the drill: a file whose format cannot be told is refused at once.
    let report_file = report::drill_report_file(args.report.as_ref())?;

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
    let source_servers = args
        .replication
        .iter()
        .fold(SourceServers::default(), |servers, (id, state)| {
            servers.replicating(id.clone(), state, None)
        });
    let sim = Sim::new(SimConfig {
        seed: args.seed,
        faults,
        policy,
        source_servers,
        actions,
        events,
        ..SimConfig::default()
    });
    for &(api, n) in &args.throttle {
        sim.calls.throttle(api, n, Some(THROTTLE_RETRY_AFTER));
    }
    for &(api, n) in &args.drs_5xx {
        sim.calls.fail_with_5xx(api, n);
    }

    let execution_id = Sim::execution_id_for_seed(args.seed);
    // As the API's start: the pre-flight against the simulated DRS, the holds, the execution.
    let target = match sim.start(&plan, execution_id).await {
        Ok(target) => target,
        Err(OperationError::Preflight(found)) => return refused(&found, json),
        Err(e) => {
            return Err(CliError::invalid(format!(
                "cannot start the execution: {e}"
            )))
        }
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

    // The drill runs on a thread of its own, so that Ctrl-C or a closed output stops it at once
    // whatever its speed (at --speed 0 the driver never waits, so it would not notice).
    let interrupted = interrupts();
    let stop = Arc::new(Notify::new());
    let watch = Arc::new(Mutex::new(Watch {
        progress: progress::for_output(json, hints, stop.clone()),
        tally: Tally::default(),
        trail: TrailWatch::new(sim.clone(), target.execution_id),
        silenced: false,
    }));
    let started = sim.clock.now();
    let wall = Instant::now();
    let (done, finished) = oneshot::channel();
    let (drill_sim, mut observer) = (sim.clone(), Shared(watch.clone()));
    std::thread::Builder::new()
        .name("drill".to_owned())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|e| format!("cannot start the simulator's runtime: {e}"))
                .and_then(|rt| {
                    rt.block_on(drive(&drill_sim, target, config, &mut observer))
                        .map_err(|e| e.to_string())
                });
            let _ = done.send(result);
        })
        .map_err(|e| CliError::infrastructure(format!("cannot start the drill: {e}")))?;

    let ending = tokio::select! {
        biased;
        () = interrupted => Err(Stop::interrupted()),
        () = stop.notified() => Err(Stop::output_failed()),
        result = finished => match result {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(e)) => Err(Stop::gave_up(&e)),
            Err(_) => Err(Stop::gave_up("the simulator stopped unexpectedly")),
        },
    };
    // The events the last operation recorded, then nothing: from here on the drill, if it still
    // runs, shows nothing.
    let tally = {
        let mut w = lock(&watch);
        w.show_new_events();
        w.silenced = true;
        w.progress.finish();
        if let Some(e) = w.progress.output_error() {
            return Ok(output::failed(e));
        }
        w.tally.clone()
    };

    let (mut report, exit) = match &ending {
        Ok(outcome) => {
            let trail = sim.store.trail(target.execution_id);
            let report = Document::of(Report::build(&outcome.execution, &trail));
            let exit = match outcome.execution.status() {
                ExecutionStatus::Completed => Exit::Success,
                ExecutionStatus::CompletedWithErrors => Exit::CompletedWithErrors,
                _ => Exit::Failed,
            };
            (report, exit)
        }
        Err(stop) => {
            let execution = sim.store.get(target.execution_id).ok_or_else(|| {
                CliError::infrastructure(format!("{}; the execution is gone", stop.message))
            })?;
            let trail = sim.store.trail(target.execution_id);
            let mut report = Document::of(Report::build(&execution, &trail));
            report.stopped = Some(Stopped {
                partial: true,
                error: stop.error,
                exit_code: stop.exit as u8,
                message: stop.message.clone(),
            });
            (report, stop.exit)
        }
    };
    let (polls, launch_refusals, launch_wait_secs) = match &ending {
        Ok(o) => (o.polls, o.launch_refusals, o.launch_wait_secs),
        Err(_) => (tally.polls, tally.launch_refusals, tally.launch_wait_secs),
    };
    // Lost events are not seen by the drill's observer: a drill that stopped early counts the
    // delivered ones only.
    let (delivered, lost, launched) = match &ending {
        Ok(o) => (o.events_delivered, Some(o.events_lost), o.events_launched),
        Err(_) => (tally.events_delivered, None, tally.events_launched),
    };
    let events_summary = events.enabled.then(|| {
        json!({
            "delayMinSeconds": events.delay_min_millis as f64 / 1000.0,
            "delayMaxSeconds": events.delay_max_millis as f64 / 1000.0,
            "loss": events.loss,
            "delivered": delivered,
            "lost": lost,
            "launchedWaves": launched,
        })
    });
    let simulated_secs = ending.as_ref().map_or_else(
        |_| sim.clock.now().secs_since(started),
        |o| o.simulated_secs,
    );
    let wall_secs = wall.elapsed().as_secs_f64();
    report.simulation = Some(json!({
        "seed": args.seed,
        "polls": polls,
        "simulatedSeconds": simulated_secs,
        "launchRefusals": launch_refusals,
        "launchWaitSeconds": launch_wait_secs,
        "launchResults": events_summary,
        "wallSeconds": (wall_secs * 100.0).round() / 100.0,
        "calls": sim.calls.counts(),
        "store": sim.store.counts(),
    }));
    // The report file before standard output, which may be a pipe already closed; also when the
    // drill stopped early (the report says it is partial).
    let file_error = report_file
        .as_ref()
        .and_then(|(path, format)| report::write_file(path, &report.render(*format)).err());
    let printed = if json {
        output::print_json(&report)
    } else {
        let calls: Vec<String> = sim
            .calls
            .counts()
            .iter()
            .map(|(api, n)| format!("{api} {n}"))
            .collect();
        let refused = if launch_refusals > 0 {
            format!(
                "; DRS refused StartRecovery {} for now ({} waited)",
                count(u64::from(launch_refusals), "time", "times"),
                duration(launch_wait_secs)
            )
        } else {
            String::new()
        };
        let events_line = if events.enabled {
            let lost = lost.map_or_else(String::new, |n| format!(", {n} lost"));
            format!("; DRS launch results: {delivered} delivered{lost}, {launched} launched a wave")
        } else {
            String::new()
        };
        output::print(&format!(
            "{}\nSimulated {} in {wall_secs:.1}s of wall time (seed {}): {}{refused}{events_line}; service calls: {}\n",
            report.render(Format::Text),
            duration(simulated_secs),
            args.seed,
            count(polls, "poll", "polls"),
            calls.join(", ")
        ))
    };
    if let Err(e) = printed {
        return Ok(output::failed(&e));
    }
    if let (Err(stop), false) = (&ending, json) {
        let _ = writeln!(std::io::stderr(), "drctl: {}", stop.message);
    }
    // A report file that could not be written fails a drill that otherwise succeeded (exit 2 or
    // 4, as the error says).
    if let Some(e) = file_error {
        let _ = writeln!(std::io::stderr(), "drctl: {}", e.message);
        if matches!(exit, Exit::Success | Exit::CompletedWithErrors) {
            return Ok(e.exit);
        }
    }
    Ok(exit)
}

/// The simulated functions and runbooks of `--fail-action`: each named action's target fails
/// (every run, or its first N).
fn failing_actions(
    plan: &execution_core::plan::Plan,
    failing: &[crate::cli::FailAction],
) -> Result<ActionScripts, CliError> {
    let mut scripts = ActionScripts::default();
    for f in failing {
        let named: Vec<_> = plan
            .waves
            .iter()
            .flat_map(|w| &w.actions)
            .filter(|a| a.name == f.name)
            .collect();
        if named.is_empty() {
            return Err(CliError::invalid(format!(
                "--fail-action {}: no wave of the plan has this action",
                clean(&f.name)
            )));
        }
        for action in named {
            // The simulator scripts a target, not an action: an action that shares its target
            // with another would fail that one too.
            if let Some(other) = plan
                .waves
                .iter()
                .flat_map(|w| &w.actions)
                .find(|o| o.target == action.target && o.name != action.name)
            {
                return Err(CliError::invalid(format!(
                    "--fail-action {}: its target is also action {}'s, which would fail with it",
                    clean(&f.name),
                    clean(&other.name)
                )));
            }
            let script = ActionScript {
                first_runs: f.first_runs,
                ..ActionScript::ending(
                    ActionOutcome::Fail,
                    &format!("simulated failure of action {}", action.name),
                )
            };
            let target = action.target.clone();
            if action.kind == "SSM_AUTOMATION" {
                scripts.documents.insert(target, script);
            } else {
                scripts.functions.insert(target, script);
            }
        }
    }
    Ok(scripts)
}

/// The DRS launch results of `--events`, `--event-delay` and `--event-loss`: delivered 1 to 3 s
/// after each launch ends, none lost, unless they say otherwise. A delay or a loss for events
/// that are off is refused: it would change nothing.
fn launch_events(args: &DrillArgs) -> Result<EventConfig, CliError> {
    if args.events == Switch::Off {
        let given = [
            args.event_delay.map(|_| "--event-delay"),
            args.event_loss.map(|_| "--event-loss"),
        ];
        if let Some(flag) = given.into_iter().flatten().next() {
            return Err(CliError::invalid(format!(
                "{flag} needs DRS events, which --events off turns off"
            )));
        }
        return Ok(EventConfig::off());
    }
    let mut events = EventConfig::on();
    if let Some(delay) = args.event_delay {
        events = events.with_delay_millis(delay.min_millis, delay.max_millis);
    }
    Ok(events.with_loss(args.event_loss.unwrap_or(0.0)))
}

/// The start's pre-flight refused the drill: every problem (and warning), nothing launched.
fn refused(found: &Preflight, json: bool) -> Result<Exit, CliError> {
    if json {
        // The API's answer to the same start: {statusCode, error, message, problems, warnings}.
        if let Err(e) = output::print_json(&OperationError::Preflight(found.clone()).body()) {
            return Ok(output::failed(&e));
        }
    } else {
        let mut text = format!(
            "The start's pre-flight refused the drill ({}); nothing was created or launched:\n",
            count(found.problems.len() as u64, "problem", "problems")
        );
        for p in &found.problems {
            text.push_str(&format!("  problem: {}\n", clean(&p.to_string())));
        }
        for w in &found.warnings {
            text.push_str(&format!("  warning: {}\n", clean(&w.to_string())));
        }
        if let Err(e) = output::print(&text) {
            return Ok(output::failed(&e));
        }
    }
    Ok(Exit::Invalid)
}

/// Resolves on Ctrl-C. The handler is in place from the call on (not from the first poll, as
/// with `tokio::signal::ctrl_c`), so that a Ctrl-C once the drill runs is always the drill's.
/// Without a handler (it could not be set up), Ctrl-C ends drctl as it always does.
#[cfg(unix)]
fn interrupts() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let sigint = signal(SignalKind::interrupt());
    async move {
        match sigint {
            Ok(mut sigint) => {
                if sigint.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            }
            Err(_) => std::future::pending::<()>().await,
        }
    }
}

#[cfg(not(unix))]
fn interrupts() -> impl std::future::Future<Output = ()> {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Why a drill stopped before its execution finished.
struct Stop {
    exit: Exit,
    /// As drctl's JSON error documents name it.
    error: &'static str,
    message: String,
}

impl Stop {
    fn interrupted() -> Self {
        Self {
            exit: Exit::Interrupted,
            error: "INTERRUPTED",
            message: "interrupted by Ctrl-C".to_owned(),
        }
    }

    fn gave_up(why: &str) -> Self {
        Self {
            exit: Exit::Infrastructure,
            error: "INFRASTRUCTURE_ERROR",
            message: format!("the drill could not finish: {why}"),
        }
    }

    /// Standard output failed; its error is the progress's (see `Progress::output_error`).
    fn output_failed() -> Self {
        Self {
            exit: Exit::Infrastructure,
            error: "INFRASTRUCTURE_ERROR",
            message: "cannot write to standard output".to_owned(),
        }
    }
}

/// What the drill counts from the driver's events, for a report of a drill that stopped early
/// (the driver's own counts come with its outcome only). Time paused comes from the trail.
#[derive(Debug, Default, Clone)]
struct Tally {
    polls: u64,
    launch_refusals: u32,
    launch_wait_secs: u64,
    events_delivered: u32,
    events_launched: u32,
}

impl Tally {
    fn count(&mut self, event: &Event) {
        match event {
            Event::Polled { .. } => self.polls += 1,
            Event::LaunchDeferred {
                retry_after_secs, ..
            } => {
                self.launch_refusals += 1;
                self.launch_wait_secs += retry_after_secs;
            }
            Event::LaunchResult { launched_wave, .. } => {
                self.events_delivered += 1;
                self.events_launched += u32::from(launched_wave.is_some());
            }
            _ => {}
        }
    }
}

/// The progress, the tally and the trail seen so far, shared by the drill's thread and the
/// command, which silences them when it stops waiting for the drill.
struct Watch {
    progress: Box<dyn Progress + Send>,
    tally: Tally,
    trail: TrailWatch,
    silenced: bool,
}

impl Watch {
    fn show_new_events(&mut self) {
        for event in self.trail.new_events() {
            self.progress.trail(&event);
        }
    }
}

struct Shared(Arc<Mutex<Watch>>);

impl Observer for Shared {
    /// The driver tells what it saw after each operation it ran: the events that operation
    /// recorded are shown first (they happened first), except that the drill's title line comes
    /// before the creation's event.
    fn observe(&mut self, at: Timestamp, event: &Event) {
        let mut w = lock(&self.0);
        if w.silenced {
            return;
        }
        w.tally.count(event);
        if matches!(event, Event::Started { .. }) {
            w.progress.observe(at, event);
            w.show_new_events();
        } else {
            w.show_new_events();
            w.progress.observe(at, event);
        }
    }
}

/// The execution's trail in the simulator's store, and which of its events were shown. Only a
/// create or a commit appends events, so the trail is read again only when the store counted
/// one more (the driver tells of every server that changed: reading the trail each time would
/// cost as much as the trail is long).
struct TrailWatch {
    sim: Sim,
    execution_id: ExecutionId,
    writes: u64,
    shown: HashSet<String>,
}

impl TrailWatch {
    fn new(sim: Sim, execution_id: ExecutionId) -> Self {
        Self {
            sim,
            execution_id,
            writes: 0,
            shown: HashSet::new(),
        }
    }

    /// The events recorded since the last call, in trail order.
    fn new_events(&mut self) -> Vec<AuditEvent> {
        let counts = self.sim.store.counts();
        let writes = counts.creates + counts.commits;
        if writes == self.writes {
            return Vec::new();
        }
        self.writes = writes;
        self.sim
            .store
            .trail(self.execution_id)
            .into_iter()
            .filter(|e| self.shown.insert(e.event_id.clone()))
            .collect()
    }
}

/// The watch, even if a panic left its lock poisoned (what it holds stays usable).
fn lock(watch: &Mutex<Watch>) -> MutexGuard<'_, Watch> {
    watch.lock().unwrap_or_else(PoisonError::into_inner)
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
