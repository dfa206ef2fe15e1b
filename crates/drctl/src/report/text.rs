//! The report for a terminal: the execution, its recovery time against its objective, a table per
//! wave, the pauses and decisions, the timeline, the failures, cleanup, and the trail last. Every
//! name and message from the record is shown with its control and bidi characters escaped
//! ([`clean`]).

use std::fmt::Write as _;

use execution_core::actions::ActionWhen;
use execution_core::audit::AuditEvent;
use execution_core::ids::{InstanceId, SourceServerId};
use execution_core::model::{Impact, PauseReason, WaveFailure};
use execution_core::report::{
    is_action_mark, ActionReport, Bar, FigureSource, Outcome, RecoveryTime, Report, ServerReport,
    Verdict,
};
use execution_core::status::WaveStatus;

use super::{
    action_consequence, action_kind, action_result, action_time_text, boundary_clocks,
    boundary_label, decision_text, offset, pause_end_text, pause_text, utc, wave_label, when_text,
    wire, Document, ACTIONS_DEFINITION, BOUNDARIES_DEFINITION,
};
use crate::text::{clean, count, pad, width};

pub fn render(doc: &Document) -> String {
    let r = &doc.report;
    let mut out = String::new();
    // A drill that stopped says so first; a report of an execution still under way (`status`)
    // says so under its title.
    let note = doc.partial_note();
    if let (Some(note), Some(_)) = (&note, &doc.stopped) {
        let _ = writeln!(out, "{}", clean(note));
    }
    let kind = if r.is_drill { "drill" } else { "RECOVERY" };
    let plan = r
        .plan_name
        .as_deref()
        .map_or_else(|| r.plan_id.to_string(), |n| format!("'{}'", clean(n)));
    let _ = writeln!(
        out,
        "Execution {} of plan {plan} ({kind}): {}",
        r.execution_id, r.status
    );
    if let (Some(note), None) = (&note, &doc.stopped) {
        let _ = writeln!(out, "{}", clean(note));
    }
    header(&mut out, r);
    for w in &r.waves {
        let _ = writeln!(out);
        let time = w
            .recovery_time_seconds
            .map(|t| format!("  recovery time {}", duration(t)))
            .unwrap_or_default();
        let attempts = if w.attempts > 1 {
            format!("  {} attempts", w.attempts)
        } else {
            String::new()
        };
        let jobs = match w.jobs.as_slice() {
            [] => String::new(),
            [one] => format!("  job {}", one.job_id),
            many => format!(
                "  jobs {}",
                many.iter()
                    .map(|j| j.job_id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            out,
            "Wave {}{}: {}{time}{attempts}{jobs}",
            w.wave_number,
            name(&w.wave_name),
            w.status
        );
        if let Some(line) = measured(&w.recovery) {
            let _ = writeln!(out, "  {line}");
        }
        if let Some(line) = objective(&w.recovery) {
            let _ = writeln!(out, "  {line}");
        }
        if let Some(t) = &w.action_time {
            let _ = writeln!(
                out,
                "  Wave actions: {}, outside the wave's recovery time",
                action_time_text(t)
            );
        }
        if let Some(e) = &w.last_launch_error {
            let _ = writeln!(
                out,
                "  {}; last refusal: {}",
                count(
                    u64::from(w.launch_attempts),
                    "StartRecovery call",
                    "StartRecovery calls"
                ),
                clean(e)
            );
        }
        if !w.optional_not_launched.is_empty() {
            let ids: Vec<String> = w
                .optional_not_launched
                .iter()
                .map(|s| s.source_server_id.to_string())
                .collect();
            let _ = writeln!(
                out,
                "  {} not launched: {}",
                count(ids.len() as u64, "OPTIONAL server", "OPTIONAL servers"),
                ids.join(", ")
            );
        }
        server_table(&mut out, &w.servers);
    }
    boundaries(&mut out, r);
    pauses(&mut out, r);
    actions(&mut out, r);
    timeline(&mut out, r);
    failures(&mut out, r);
    cleanup(&mut out, r);
    if !r.events.is_empty() {
        let _ = writeln!(
            out,
            "\nTrail ({}, oldest first):",
            count(r.events.len() as u64, "event", "events")
        );
        for e in &r.events {
            let _ = writeln!(out, "  {}", trail_line(&utc(e.time), e));
        }
    }
    out
}

/// The lines under the title: recovery time, objective, times, notes, what a pause waits for.
fn header(out: &mut String, r: &Report) {
    if let Some(t) = r.recovery.seconds {
        let _ = writeln!(
            out,
            "Total recovery time: {} (first launch to last wave settled, time paused included)",
            duration(t)
        );
    }
    if let Some(line) = measured(&r.recovery) {
        let _ = writeln!(out, "  {line}");
    }
    if let (Some(paused), Some(_)) = (
        r.recovery.paused_seconds.filter(|p| *p > 0),
        r.recovery.seconds,
    ) {
        let _ = writeln!(
            out,
            "Time paused: {}; recovery time without pauses {}",
            duration(paused),
            duration(r.recovery.running_seconds.unwrap_or_default())
        );
    } else if let (Some(paused), None) = (r.recovery.paused_seconds, r.recovery.seconds) {
        let _ = writeln!(
            out,
            "So far: {} running, {} paused (as of {})",
            duration(r.recovery.running_seconds.unwrap_or_default()),
            duration(paused),
            utc(r.as_of)
        );
    }
    if let Some(line) = objective(&r.recovery) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(t) = &r.action_time {
        let within = r
            .recovery
            .action_seconds
            .filter(|_| r.recovery.start.is_some())
            .map(|s| {
                if r.recovery.seconds.is_some() {
                    format!("; {} of it within the recovery time", duration(s))
                } else {
                    format!("; {} of it since the first launch", duration(s))
                }
            })
            .unwrap_or_default();
        let _ = writeln!(out, "Wave actions: {}{within}", action_time_text(t));
    }
    match (r.start_time, r.end_time) {
        (Some(start), Some(end)) => {
            let _ = writeln!(out, "Started {}, ended {}", utc(start), utc(end));
        }
        (Some(start), None) => {
            let _ = writeln!(out, "Started {}", utc(start));
        }
        _ => {}
    }
    if let Some(m) = &r.status_message {
        let _ = writeln!(out, "Note: {}", clean(m));
    }
    if !r.servers_without_ec2_details.is_empty() {
        // Names by id once: a report of 10,000 servers may list many.
        let names: std::collections::HashMap<&SourceServerId, &str> = r
            .waves
            .iter()
            .flat_map(|w| &w.servers)
            .filter_map(|s| s.server_name.as_deref().map(|n| (&s.source_server_id, n)))
            .collect();
        let servers: Vec<String> = r
            .servers_without_ec2_details
            .iter()
            .map(|id| format!("{id}{}", name(&names.get(id).map(|n| (*n).to_owned()))))
            .collect();
        let (have, not) = if servers.len() == 1 {
            ("has", "its instance")
        } else {
            ("have", "their instances")
        };
        let _ = writeln!(
            out,
            "Note: {} launched but {have} no EC2 details (EC2 did not describe {not}: no private IP, hostname or type): {}",
            count(servers.len() as u64, "server", "servers"),
            servers.join(", ")
        );
    }
    match (r.pause_reason, r.failed_wave, r.paused_before_wave) {
        (Some(PauseReason::WaveFailed), Some(n), _) => {
            let _ = writeln!(
                out,
                "Waiting for a decision on failed wave {n}: drctl retry|skip {id} --plan {plan} --wave {n}, or drctl cancel",
                id = r.execution_id,
                plan = r.plan_id
            );
        }
        (Some(reason), _, Some(n)) => {
            let why = match reason {
                PauseReason::Operator => "an operator's pause",
                _ => "the plan's pause",
            };
            let _ = writeln!(
                out,
                "Paused before wave {n} ({why}): drctl resume continues"
            );
        }
        _ => {}
    }
}

/// `measured on DRS's and EC2's clocks from … to …; the engine's record says …`, when there is a
/// figure.
fn measured(rt: &RecoveryTime) -> Option<String> {
    let (start, end, _) = (rt.start.as_ref()?, rt.end.as_ref()?, rt.seconds?);
    let clocks = match rt.source {
        Some(FigureSource::Drs) => "measured on DRS's and EC2's own clocks",
        _ => "measured partly on the engine's clock (a service's time is missing)",
    };
    let record = rt
        .record_seconds
        .filter(|r| Some(*r) != rt.seconds)
        .map(|r| format!("; the engine's record says {}", duration(r)))
        .unwrap_or_default();
    Some(format!(
        "{clocks}: from {} [{}] to {} [{}]{record}",
        utc(start.time),
        clean(start.field),
        utc(end.time),
        clean(end.field)
    ))
}

/// `Recovery time objective 15m 00s: MET`, when the plan sets one or the verdict has a note.
fn objective(rt: &RecoveryTime) -> Option<String> {
    let note = rt
        .note
        .as_deref()
        .map(|n| format!(" ({})", clean(n)))
        .unwrap_or_default();
    match (rt.target_rto_seconds, rt.verdict) {
        (Some(target), verdict) => Some(format!(
            "Recovery time objective {}: {verdict}{note}",
            duration(target)
        )),
        (None, Verdict::NoTarget) if !note.is_empty() => {
            Some(format!("No recovery time objective set{note}"))
        }
        _ => None,
    }
}

/// The gap at each wave boundary, and what of it was paused, in actions and the engine's wait.
fn boundaries(out: &mut String, r: &Report) {
    if r.boundaries.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nWave boundaries (last server launched in DRS to the next wave's first StartRecovery):"
    );
    let header = [
        "BOUNDARY",
        "GAP",
        "PAUSED",
        "IN ACTIONS",
        "ENGINE WAIT",
        "CLOCKS",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 6]> = r
        .boundaries
        .iter()
        .map(|b| {
            [
                clean(&boundary_label(b)).into_owned(),
                duration(b.gap_seconds),
                duration(b.paused_seconds),
                duration(b.action_seconds),
                duration(b.wait_seconds),
                boundary_clocks(b),
            ]
        })
        .collect();
    for line in table_lines(&header, &rows) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "  {BOUNDARIES_DEFINITION}");
}

fn pauses(out: &mut String, r: &Report) {
    if r.pauses.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nPauses:");
    for p in &r.pauses {
        let from = p.start.map_or_else(|| "(before the trail)".to_owned(), utc);
        let to = p.end.map_or_else(|| "now".to_owned(), utc);
        let long = p
            .seconds
            .map(|s| format!(" ({})", duration(s)))
            .unwrap_or_default();
        let by = p
            .paused_by
            .as_deref()
            .map(|b| format!(", paused by {}", clean(b)))
            .unwrap_or_default();
        let why = p
            .reason
            .as_deref()
            .map(|m| format!(": {}", clean(m)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {from} to {to}{long}: {}{why}{by}; {}",
            pause_text(p),
            clean(&pause_end_text(p))
        );
    }
}

/// Every run of every wave action, in the order they ran: a row each, and under it what it ran
/// and what came of it.
fn actions(out: &mut String, r: &Report) {
    if r.actions.is_empty() {
        if r.action_time.is_some() {
            let _ = writeln!(out, "\nWave actions: none has run.");
        }
        return;
    }
    let _ = writeln!(out, "\nWave actions (in the order they ran):");
    let header = [
        "WAVE",
        "ACTION",
        "WHEN",
        "TYPE",
        "ATTEMPT",
        "STATUS",
        "STARTED",
        "TOOK",
        "ON FAILURE",
    ]
    .map(str::to_owned);
    let rows: Vec<[String; 9]> = r
        .actions
        .iter()
        .map(|a| {
            [
                a.wave_number.to_string(),
                clean(&a.name).into_owned(),
                a.when.as_str().to_owned(),
                action_kind(a).to_owned(),
                a.attempt.to_string(),
                a.status.as_str().to_owned(),
                utc(a.start_time),
                if a.end_time.is_some() {
                    duration(a.seconds)
                } else {
                    format!("{} so far", duration(a.seconds))
                },
                a.on_failure.map_or_else(|| "-".to_owned(), |p| wire(&p)),
            ]
        })
        .collect();
    let mut lines = table_lines(&header, &rows).into_iter();
    if let Some(head) = lines.next() {
        let _ = writeln!(out, "{head}");
    }
    for (a, line) in r.actions.iter().zip(lines) {
        let _ = writeln!(out, "{line}");
        let _ = writeln!(out, "      {}", action_detail(a));
    }
    let _ = writeln!(out, "  {ACTIONS_DEFINITION}");
}

/// `target fn-x; automation ID; ended …: result (consequence)`, escaped.
fn action_detail(a: &ActionReport) -> String {
    let mut parts = vec![format!(
        "target {}",
        a.target.as_deref().map_or_else(|| "-".into(), clean)
    )];
    if let Some(id) = &a.automation_execution_id {
        parts.push(format!("automation {}", clean(id)));
    }
    match a.end_time {
        Some(end) => parts.push(format!("ended {}", utc(end))),
        None => parts.push("still running".to_owned()),
    }
    if let (Some(at), None) = (a.retry_time, a.end_time) {
        parts.push(format!("refused for now, sent again from {}", utc(at)));
    }
    let mut text = parts.join("; ");
    if let Some(result) = action_result(a) {
        let what = match (a.status.is_failure(), a.end_time, &a.summary) {
            (true, _, _) => "error",
            (false, None, None) => "last refusal",
            _ => "answer",
        };
        let _ = write!(text, "; {what}: {}", clean(result));
    }
    if let Some(c) = action_consequence(a) {
        let _ = write!(text, " ({c})");
    }
    text
}

/// Beyond this many servers the text timeline has a line per wave only (the HTML report draws
/// them all).
const TIMELINE_SERVERS: usize = 50;

/// A line per wave and per server: from launch to launched (or failed), offsets from the
/// timeline's start; then the decisions.
fn timeline(out: &mut String, r: &Report) {
    let t = &r.timeline;
    let Some(origin) = t.start else {
        return;
    };
    let servers: usize = t.waves.iter().map(|w| w.servers.len()).sum();
    let per_server = servers <= TIMELINE_SERVERS;
    let _ = writeln!(
        out,
        "\nTimeline (T+0 = {}{}):",
        utc(origin),
        if per_server {
            ""
        } else {
            "; waves only: the HTML report has every server"
        }
    );
    let span = |bar: &Bar| -> String {
        let Some(start) = &bar.start else {
            return format!("{:<25}", "not started");
        };
        let end = bar
            .end
            .as_ref()
            .map_or_else(|| "…".to_owned(), |e| offset(origin, e.time));
        let long = bar
            .end
            .as_ref()
            .map(|e| format!(" ({})", duration(e.time.secs_since(start.time))))
            .unwrap_or_default();
        format!("{} → {end}{long}", offset(origin, start.time))
    };
    let run = |out: &mut String, a: &ActionReport| {
        let end = a
            .end_time
            .map_or_else(|| "…".to_owned(), |e| offset(origin, e));
        let long = if a.end_time.is_some() {
            format!(" ({})", duration(a.seconds))
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "    {} → {end}{long}  action {} ({}, attempt {}) {}{}",
            offset(origin, a.start_time),
            clean(&a.name),
            when_text(a.when),
            a.attempt,
            a.status,
            action_consequence(a)
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        );
    };
    let runs = |number: u32, when: ActionWhen| {
        r.actions
            .iter()
            .filter(move |a| a.wave_number == number && a.when == when)
    };
    for w in &t.waves {
        let _ = writeln!(
            out,
            "  {}  {} {}",
            span(&w.bar),
            clean(&wave_label(w.wave_number, w.wave_name.as_deref())),
            outcome(w.bar.outcome)
        );
        for a in runs(w.wave_number, ActionWhen::BeforeLaunch) {
            run(out, a);
        }
        for s in w.servers.iter().filter(|_| per_server) {
            let _ = writeln!(
                out,
                "    {}  {}{} {}",
                span(&s.bar),
                s.source_server_id,
                name(&s.server_name),
                outcome(s.bar.outcome)
            );
        }
        for a in runs(w.wave_number, ActionWhen::AfterComplete) {
            run(out, a);
        }
    }
    for d in &t.decisions {
        let what = d
            .decision
            .map(|d| format!(" [{}]", decision_text(d)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} decision{what}: {} by {}",
            offset(origin, d.time),
            clean(&d.operation),
            clean(&d.actor)
        );
    }
    // An action run's marks are its line under its wave.
    for m in t.marks.iter().filter(|m| !is_action_mark(m)) {
        let _ = writeln!(out, "  {} {}", offset(origin, m.time), clean(&m.label));
    }
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Launched => "launched",
        Outcome::Failed => "FAILED",
        Outcome::InProgress => "in progress",
        Outcome::NotStarted => "not started",
    }
}

fn failures(out: &mut String, r: &Report) {
    if r.failures.is_empty() && r.failed_servers.is_empty() && r.failed_actions.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nFailures:");
    for f in &r.failures {
        let reason = f.reason.map(failure_name).unwrap_or_default();
        let skipped = if f.status == WaveStatus::Skipped {
            " (SKIPPED)"
        } else {
            ""
        };
        let attempts = if f.attempts > 1 {
            format!(" after {} attempts", f.attempts)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  wave {}{}{skipped}{attempts}: {reason} {}",
            f.wave_number,
            name(&f.wave_name),
            clean(f.message.as_deref().unwrap_or(""))
        );
        for s in &f.servers {
            let why = s
                .status_message
                .as_deref()
                .map(|m| format!(" ({})", clean(m)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {} {}{why}",
                s.source_server_id,
                clean(s.launch_status.as_str())
            );
        }
    }
    for s in &r.failed_servers {
        let _ = writeln!(
            out,
            "  server {}{} of wave {} FAILED: {}",
            s.source_server_id,
            name(&s.server_name),
            s.wave_number,
            clean(&s.reason)
        );
    }
    for a in &r.failed_actions {
        let _ = writeln!(
            out,
            "  action {} of wave {} ({}, attempt {}) {}: {} ({})",
            clean(&a.name),
            a.wave_number,
            a.when.as_str(),
            a.attempt,
            a.status,
            clean(a.error.as_deref().unwrap_or("no error recorded")),
            action_consequence(a).unwrap_or_default()
        );
    }
}

fn cleanup(out: &mut String, r: &Report) {
    let c = &r.cleanup;
    if !r.is_drill || c.summary.instances == 0 {
        return;
    }
    let _ = writeln!(out, "\nCleanup: {}", clean(&c.summary.text));
    for s in &c.servers {
        let job = s
            .job_id
            .as_ref()
            .map(|j| format!(" job {j}"))
            .unwrap_or_default();
        let done = s
            .terminated_time
            .map(|t| format!(", gone at {}", utc(t)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}{} of wave {}: {}, recovery instance {}{job}, asked at {}{done}",
            s.source_server_id,
            name(&s.server_name),
            s.wave_number,
            wire(&s.state),
            s.recovery_instance_id,
            utc(s.requested_time)
        );
    }
}

fn server_table(out: &mut String, servers: &[ServerReport]) {
    let dash = |v: Option<&str>| v.map_or_else(|| "-".to_owned(), |v| clean(v).into_owned());
    let rows: Vec<[String; 7]> = servers
        .iter()
        .map(|s| {
            [
                s.source_server_id.to_string(),
                match (s.server_name.as_deref(), s.impact) {
                    (Some(n), Impact::Optional) => format!("{} (optional)", clean(n)),
                    (None, Impact::Optional) => "(optional)".to_owned(),
                    (n, Impact::Critical) => dash(n),
                },
                clean(s.launch_status.as_str()).into_owned(),
                dash(s.instance.instance_id.as_ref().map(InstanceId::as_str)),
                dash(s.instance.private_ip.as_deref()),
                dash(s.instance.hostname.as_deref()),
                dash(s.instance.instance_type.as_deref()),
            ]
        })
        .collect();
    let header = [
        "SOURCE SERVER",
        "NAME",
        "STATUS",
        "INSTANCE",
        "PRIVATE IP",
        "HOSTNAME",
        "TYPE",
    ]
    .map(str::to_owned);
    for line in table_lines(&header, &rows) {
        let _ = writeln!(out, "{line}");
    }
}

/// A table's lines, the header first, indented by two spaces, each column as wide as its widest
/// cell in display columns, not bytes (a CJK name takes two columns a character).
fn table_lines<const N: usize>(header: &[String; N], rows: &[[String; N]]) -> Vec<String> {
    let mut widths = header.clone().map(|h| width(&h));
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    std::iter::once(header)
        .chain(rows)
        .map(|row| {
            let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
            format!("  {}", cells.join("  ").trim_end())
        })
        .collect()
}

/// An event of the trail on one line: `WHEN [operation by actor] summary`, every part from the
/// record escaped. The lines are about one execution, named above them, so the summary's
/// `Execution ID (plan PLAN_ID)` is shortened to `Execution`.
pub fn trail_line(when: &str, event: &AuditEvent) -> String {
    format!(
        "{when} [{} by {}] {}",
        clean(&event.operation),
        clean(&event.actor.to_string()),
        clean(&execution_core::report::short_summary(event))
    )
}

/// The wire name (`SERVERS_FAILED`), as the record and the JSON report spell it.
pub fn failure_name(f: WaveFailure) -> String {
    wire(&f)
}

/// ` (name)` with its control and bidi characters escaped, or nothing.
pub fn name(n: &Option<String>) -> String {
    n.as_deref()
        .map(|n| format!(" ({})", clean(n)))
        .unwrap_or_default()
}

/// `9m 05s`, `1h 02m 03s`, `42s`.
pub fn duration(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s:02}s"),
        _ => format!("{h}h {m:02}m {s:02}s"),
    }
}
