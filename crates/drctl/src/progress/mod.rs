//! Live progress of a drill: plain lines (a pipe, a log, `--json`'s stderr) or bars per wave on a
//! terminal. Both tell the same story, written by [`Narrator`]: what the driver saw, and each new
//! event of the execution's audit trail as it is recorded.

mod bars;

use std::io::{self, IsTerminal, Write};
use std::sync::Arc;

use drs_sim::driver::{Event, Observer};
use execution_core::actions::{ActionKind, ActionOnFailure, ActionRun, ActionStatus, WaveAction};
use execution_core::api::Operation;
use execution_core::audit::AuditEvent;
use execution_core::model::{PauseReason, ServerStatus, Timestamp, WaveFailure};
use execution_core::status::{LaunchStatus, WaveStatus};
use tokio::sync::Notify;

use crate::report::{duration, name};
use crate::text::{clean, count};

/// An observer that also has something to tidy at the end (bars to close).
pub trait Progress: Observer {
    /// A new event of the execution's trail, as it was recorded.
    fn trail(&mut self, event: &AuditEvent);

    fn finish(&mut self);

    /// Why progress could not be written to standard output (a closed pipe, a full disk), if so:
    /// the drill's report cannot be printed either.
    fn output_error(&self) -> Option<&io::Error> {
        None
    }
}

/// What the operator should do at a pause, as the drill will play it.
#[derive(Debug, Default, Clone)]
pub struct Hints {
    /// At a planned or operator pause: "resuming after 2m 00s (simulated)", "press Enter to resume".
    pub resume: String,
    /// At a failed wave's pause: "retry after 2m 00s (simulated)", "press Enter to cancel".
    pub decision: String,
}

/// Bars on a terminal; otherwise lines on stdout, or on stderr when stdout carries JSON. When a
/// line cannot be written to stdout, `stop` is notified (stderr's lines are best effort).
pub fn for_output(json: bool, hints: Hints, stop: Arc<Notify>) -> Box<dyn Progress + Send> {
    let narrator = Narrator {
        hints,
        ..Narrator::default()
    };
    if json {
        Box::new(Plain::new(io::stderr(), narrator, None))
    } else if io::stdout().is_terminal() {
        Box::new(bars::Bars::new(narrator))
    } else {
        Box::new(Plain::new(io::stdout(), narrator, Some(stop)))
    }
}

/// Per-wave counts, kept from server changes.
#[derive(Debug, Default, Clone)]
struct WaveTally {
    label: String,
    total: u64,
    in_progress: u64,
    launched: u64,
    failed: u64,
    /// Counts changed since the last progress line.
    dirty: bool,
    /// The action whose failed run failed the wave, and that run's attempt: what a retry runs
    /// again.
    failed_action: Option<(String, u32)>,
}

/// Turns events into lines of text, and keeps the counts the lines (and bars) show.
#[derive(Debug, Default)]
pub struct Narrator {
    start: Option<Timestamp>,
    waves: Vec<WaveTally>,
    hints: Hints,
}

impl Narrator {
    /// The lines `event` deserves; server and count lines only with `detail` (bars show those).
    fn lines(&mut self, at: Timestamp, event: &Event, detail: bool) -> Vec<String> {
        let t = self.clock(at);
        let mut lines = Vec::new();
        match event {
            Event::Started { execution } => {
                self.start = Some(at);
                self.waves = execution
                    .waves
                    .iter()
                    .map(|w| WaveTally {
                        label: format!("wave {}{}", w.wave_number, name(&w.wave_name)),
                        total: w.server_statuses.len() as u64,
                        ..WaveTally::default()
                    })
                    .collect();
                let plan = execution.header.plan_name.as_deref().map_or_else(
                    || execution.header.plan_id.to_string(),
                    |n| format!("'{}'", clean(n)),
                );
                let kind = if execution.header.is_drill {
                    "Drill"
                } else {
                    "Recovery"
                };
                lines.push(format!(
                    "{kind} of plan {plan}: {}, {} (execution {})",
                    count(execution.waves.len() as u64, "wave", "waves"),
                    count(execution.total_servers() as u64, "server", "servers"),
                    execution.id()
                ));
            }
            Event::WaveLaunched {
                wave_number,
                wave_status,
                job_ids,
                recovered,
            } => {
                let how = if *recovered {
                    "found by its tags"
                } else {
                    "StartRecovery"
                };
                let jobs = match job_ids.as_slice() {
                    [one] => format!("job {one}"),
                    many => format!(
                        "{} jobs: {}",
                        many.len(),
                        many.iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                let rest = if *wave_status == WaveStatus::Launching {
                    "; more servers to start"
                } else {
                    ""
                };
                lines.push(format!(
                    "{t} {}: launched ({how}, {jobs}){rest}",
                    self.label(*wave_number)
                ));
            }
            // What act did shows in the record, as a run that changed (the line below).
            Event::Acted(_) => {}
            Event::ActionChanged {
                wave_number,
                action,
                run,
                previous,
            } => {
                if let Some(line) = action_line(action, run, previous.as_deref(), at) {
                    lines.push(format!("{t} {}: {line}", self.label(*wave_number)));
                }
            }
            Event::LaunchDeferred {
                wave_number,
                retry_after_secs,
                error,
            } => lines.push(format!(
                "{t} {}: {}; launching again in {}",
                self.label(*wave_number),
                clean(
                    error
                        .as_deref()
                        .unwrap_or("DRS refused StartRecovery for now")
                ),
                duration(*retry_after_secs)
            )),
            Event::ServerChanged {
                wave_number,
                server,
                previous,
            } => {
                self.count(*wave_number, previous, server);
                if detail {
                    lines.extend(
                        server_line(server, previous)
                            .map(|l| format!("{t}   {}: {l}", self.label(*wave_number))),
                    );
                }
            }
            Event::WaveChanged { wave, previous } => {
                if let Some(w) = self
                    .waves
                    .get_mut(wave.wave_number as usize)
                    .filter(|_| wave.status.is_settled())
                {
                    w.dirty = false; // the settled line below says it all
                    w.failed_action = (wave.failure_reason == Some(WaveFailure::ActionFailed))
                        .then(|| wave.failed_action())
                        .flatten()
                        .map(|(a, r)| (a.name.clone(), r.attempt));
                }
                let label = self.label(wave.wave_number);
                match wave.status {
                    // A retried AFTER_COMPLETE action: the wave is back where the action runs (the
                    // decision's line said so).
                    WaveStatus::Completed if *previous == WaveStatus::Failed => {}
                    WaveStatus::Completed => {
                        let time = wave
                            .recovery_time_seconds
                            .map(|s| format!(", recovery time {}", duration(s)))
                            .unwrap_or_default();
                        let optional = match wave.optional_not_launched {
                            0 => String::new(),
                            n => format!(
                                ", {} did not launch",
                                count(u64::from(n), "OPTIONAL server", "OPTIONAL servers")
                            ),
                        };
                        lines.push(format!("{t} {label}: COMPLETED{time}{optional}"));
                    }
                    WaveStatus::Failed => lines.push(format!(
                        "{t} {label}: FAILED: {}",
                        clean(wave.status_message.as_deref().unwrap_or("no reason given"))
                    )),
                    WaveStatus::Skipped => lines.push(format!("{t} {label}: SKIPPED")),
                    WaveStatus::Cancelled => {
                        lines.push(format!("{t} {label}: CANCELLED (never ran)"))
                    }
                    WaveStatus::Pending | WaveStatus::Launching | WaveStatus::Started => {}
                }
            }
            Event::Polled { .. } if detail => {
                for w in self.waves.iter_mut().filter(|w| w.dirty) {
                    w.dirty = false;
                    lines.push(format!(
                        "{t} {}: {}/{} launched, {} in progress, {} failed",
                        w.label, w.launched, w.total, w.in_progress, w.failed
                    ));
                }
            }
            Event::Polled { .. } => {}
            Event::Warning { message } => {
                lines.push(format!("{t} warning: {}", clean(message)));
            }
            Event::Paused {
                reason: PauseReason::WaveFailed,
                failed_wave,
                ..
            } => {
                let wave = failed_wave
                    .map(|n| format!(": {} FAILED", self.label(n)))
                    .unwrap_or_default();
                lines.push(format!(
                    "{t} PAUSED{wave}, waiting for a decision: {}",
                    self.hints.decision
                ));
            }
            Event::Paused { before_wave, .. } => {
                let before = before_wave
                    .map(|n| format!(" before {}", self.label(n)))
                    .unwrap_or_default();
                lines.push(format!("{t} PAUSED{before}: {}", self.hints.resume));
            }
            Event::Resumed { paused_secs, .. } => lines.push(format!(
                "{t} resumed after {} paused",
                duration(*paused_secs)
            )),
            Event::Decided {
                wave_number,
                decision,
                attempt,
                paused_secs,
            } => {
                let failed_action = self
                    .waves
                    .get(*wave_number as usize)
                    .and_then(|w| w.failed_action.clone());
                let what = match (decision, attempt, failed_action) {
                    (Operation::Retry, _, Some((action, run))) => format!(
                        "retried: action {} runs again (attempt {})",
                        clean(&action),
                        run + 1
                    ),
                    (Operation::Retry, Some(a), None) => format!("retried (attempt {a})"),
                    (Operation::Skip, _, _) => "skipped".to_owned(),
                    (Operation::Cancel, _, _) => "cancelled the execution".to_owned(),
                    (other, _, _) => other.to_string(),
                };
                lines.push(format!(
                    "{t} {}: {what} after {} paused",
                    self.label(*wave_number),
                    duration(*paused_secs)
                ));
            }
            Event::Retrying {
                operation,
                failures,
                error,
                backoff_secs,
            } => {
                lines.push(format!(
                    "{t} {operation} answered {} {} ({}); retry {failures} in {backoff_secs}s",
                    error.status_code,
                    clean(&error.error),
                    clean(&error.message)
                ));
            }
            Event::Finalized {
                status,
                recovery_time_seconds,
            } => {
                let total = recovery_time_seconds
                    .map(|s| format!(", total recovery time {}", duration(s)))
                    .unwrap_or_default();
                lines.push(format!("{t} finalized: {status}{total}"));
            }
            Event::CleanedUp(cleanup) => {
                lines.push(format!("{t} cleanup: {}", clean(&cleanup.message)));
            }
            // A DRS launch result that launched the next wave: the wave boundary it closed. The
            // others (a wave not yet complete, a late or repeated event) change nothing to tell.
            Event::LaunchResult {
                launched_wave: Some(next),
                wave_number,
                last_server_at,
                ..
            } => {
                let after = match (wave_number, last_server_at) {
                    (Some(n), Some(last)) => format!(
                        ", {} after the last server of {}",
                        duration(at.secs_since(*last)),
                        self.label(*n)
                    ),
                    _ => String::new(),
                };
                lines.push(format!(
                    "{t} {}: launched on a DRS event{after}",
                    self.label(*next)
                ));
            }
            Event::LaunchResult { .. } => {}
        }
        lines
    }

    fn count(&mut self, wave_number: u32, previous: &ServerStatus, now: &ServerStatus) {
        let Some(w) = self.waves.get_mut(wave_number as usize) else {
            return;
        };
        for (status, delta) in [(&previous.launch_status, -1i64), (&now.launch_status, 1)] {
            let slot = match status {
                LaunchStatus::InProgress => &mut w.in_progress,
                LaunchStatus::Launched => &mut w.launched,
                LaunchStatus::Failed | LaunchStatus::Terminated => &mut w.failed,
                LaunchStatus::Pending | LaunchStatus::Other(_) => continue,
            };
            *slot = slot.saturating_add_signed(delta);
        }
        w.dirty |= previous.launch_status != now.launch_status;
    }

    /// One line for an event of the trail: when (as the drill shows times), which operation of
    /// whom, and what happened. `[T+00:06:00] [pause by the workflow] Execution … is paused …`
    pub(crate) fn trail_line(&self, event: &AuditEvent) -> String {
        crate::report::trail_line(&self.clock(event.time), event)
    }

    fn label(&self, wave_number: u32) -> String {
        self.waves
            .get(wave_number as usize)
            .map_or_else(|| format!("wave {wave_number}"), |w| w.label.clone())
    }

    /// `[T+00:12:30]`: simulated time since the drill began.
    fn clock(&self, at: Timestamp) -> String {
        let s = self.start.map_or(0, |start| at.secs_since(start));
        format!("[T+{:02}:{:02}:{:02}]", s / 3600, s % 3600 / 60, s % 60)
    }
}

/// The most of an action's answer a progress line shows.
const ANSWER_CHARS: usize = 160;

/// A run's line when it was taken, started, refused for now, sent again or ended (`None` when
/// nothing worth a line changed). `at`: when the driver saw it.
/// `action db-health-check (BEFORE_LAUNCH, LAMBDA) SUCCEEDED in 4s: {"ok":true,"servers":3}`
fn action_line(
    action: &WaveAction,
    run: &ActionRun,
    previous: Option<&ActionRun>,
    at: Timestamp,
) -> Option<String> {
    let attempt = if run.attempt > 1 {
        format!(", attempt {}", run.attempt)
    } else {
        String::new()
    };
    let head = format!(
        "action {} ({}, {}{attempt})",
        clean(&run.name),
        run.when.as_str(),
        action.kind.as_str()
    );
    let target = clean(&action.target);
    let took = || duration(run.end_time.unwrap_or(at).secs_since(run.start_time));
    let error = || clean(run.error.as_deref().unwrap_or("no reason given")).into_owned();
    match run.status {
        ActionStatus::Running => {
            let was = |f: fn(&ActionRun) -> bool| previous.is_some_and(f);
            if let Some(again) = run
                .retry_time
                .filter(|t| previous.is_none_or(|p| p.retry_time != Some(*t)))
            {
                return Some(format!(
                    "{head} refused for now, nothing ran: {}; sending again in {}",
                    error(),
                    duration(again.secs_since(at))
                ));
            }
            if let Some(id) = &run.automation_execution_id {
                return (!was(|p| p.automation_execution_id.is_some()))
                    .then(|| format!("{head} started automation {} ({target})", clean(id)));
            }
            match (previous, action.kind) {
                (None, ActionKind::Lambda) => {
                    Some(format!("{head} invoking {target}; no answer recorded yet"))
                }
                (None, ActionKind::SsmAutomation) => Some(format!(
                    "{head} starting {target}; SSM has not answered yet"
                )),
                (Some(p), ActionKind::SsmAutomation) if p.claimed_time != run.claimed_time => {
                    Some(format!(
                        "{head} sent again (the same client token: SSM starts it at most once)"
                    ))
                }
                (Some(p), ActionKind::Lambda) if p.claimed_time != run.claimed_time => Some(
                    format!("{head} invoked again (Lambda had refused it for now: nothing ran)"),
                ),
                _ => None,
            }
        }
        ActionStatus::Succeeded => {
            let answer = run
                .summary
                .as_deref()
                .map(|s| format!(": {}", clean(&execution_core::text::clip(s, ANSWER_CHARS))))
                .unwrap_or_default();
            Some(format!("{head} SUCCEEDED in {}{answer}", took()))
        }
        ActionStatus::Failed | ActionStatus::TimedOut => {
            let goes_on = if action.on_failure == ActionOnFailure::Continue {
                " (onFailure CONTINUE: the execution goes on)"
            } else {
                ""
            };
            Some(format!(
                "{head} {} after {}: {}{goes_on}",
                run.status,
                took(),
                error()
            ))
        }
    }
}

/// A server's line when it settled, or when EC2 first described its instance.
fn server_line(now: &ServerStatus, previous: &ServerStatus) -> Option<String> {
    let who = format!("{}{}", now.source_server_id, name(&now.server_name));
    let ec2 = || match (&now.instance_id, &now.private_ip) {
        (Some(i), Some(ip)) => format!(
            " as {i} {} {}",
            clean(ip),
            clean(now.instance_type.as_deref().unwrap_or(""))
        ),
        (Some(i), None) => format!(" as {i} (EC2 does not describe it yet)"),
        _ => String::new(),
    };
    match &now.launch_status {
        s if *s == previous.launch_status => (now.private_ip.is_some()
            && previous.private_ip.is_none())
        .then(|| format!("{who}{}", ec2())),
        LaunchStatus::Launched => Some(format!("{who} LAUNCHED{}", ec2())),
        LaunchStatus::Failed | LaunchStatus::Terminated => {
            let why = now
                .status_message
                .as_deref()
                .map(|m| format!(" ({})", clean(m)))
                .unwrap_or_default();
            Some(format!("{who} {}{why}", now.launch_status))
        }
        LaunchStatus::Pending | LaunchStatus::InProgress | LaunchStatus::Other(_) => None,
    }
}

/// Lines, one per event worth telling.
struct Plain<W: Write> {
    out: W,
    narrator: Narrator,
    /// Notified when a line cannot be written, for standard output; on stderr (beside `--json`'s
    /// report) progress is best effort and the drill goes on without it.
    stop: Option<Arc<Notify>>,
    /// The first failed write: nothing is written after it.
    error: Option<io::Error>,
}

impl<W: Write> Plain<W> {
    fn new(out: W, narrator: Narrator, stop: Option<Arc<Notify>>) -> Self {
        Self {
            out,
            narrator,
            stop,
            error: None,
        }
    }

    fn write(&mut self, line: &str) {
        if self.error.is_some() {
            return;
        }
        if let Err(e) = writeln!(self.out, "{line}").and_then(|()| self.out.flush()) {
            self.error = Some(e);
            if let Some(stop) = &self.stop {
                stop.notify_one();
            }
        }
    }
}

impl<W: Write> Observer for Plain<W> {
    fn observe(&mut self, at: Timestamp, event: &Event) {
        for line in self.narrator.lines(at, event, true) {
            self.write(line.trim_end());
        }
    }
}

impl<W: Write> Progress for Plain<W> {
    fn trail(&mut self, event: &AuditEvent) {
        let line = self.narrator.trail_line(event);
        self.write(&line);
    }

    fn finish(&mut self) {
        self.write("");
    }

    fn output_error(&self) -> Option<&io::Error> {
        self.stop.as_ref().and(self.error.as_ref())
    }
}
