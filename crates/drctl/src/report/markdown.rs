//! The report as Markdown (CommonMark with GitHub's tables): for a ticket, a wiki or a pull
//! request. Every name and message from the record goes through [`md`], which escapes what
//! Markdown (and GitHub's autolinks) would read as markup, and the control and bidi characters
//! [`clean`] escapes for a terminal.

use std::fmt::Write as _;

use execution_core::actions::ActionWhen;
use execution_core::report::{
    is_action_mark, ActionReport, Bar, Outcome, RecoveryTime, Report, TimePoint, Verdict,
};

use super::{
    action_consequence, action_kind, action_result, action_time_text, boundary_label,
    decision_text, duration, offset, pause_end_text, pause_text, source_name, utc, wave_label,
    when_text, wire, Document, ACTIONS_DEFINITION, BOUNDARIES_DEFINITION,
};
use crate::text::clean;

/// `raw` as literal Markdown text, fit for a table cell or a heading: control and bidi
/// characters escaped as [`clean`] shows them, then every character Markdown gives a meaning
/// (emphasis, code, links, HTML, tables, headings, entities, autolinks) backslash-escaped.
pub fn md(raw: &str) -> String {
    let cleaned = clean(raw);
    let mut out = String::with_capacity(cleaned.len() + 8);
    for c in cleaned.chars() {
        let www = c == '.'
            && out
                .get(out.len().saturating_sub(3)..)
                .is_some_and(|end| end.eq_ignore_ascii_case("www"));
        // `www.` would be linked by GitHub's extended autolinks, `x://` and `a@b` by others.
        if www
            || matches!(
                c,
                '\\' | '`'
                    | '*'
                    | '_'
                    | '['
                    | ']'
                    | '<'
                    | '>'
                    | '|'
                    | '#'
                    | '!'
                    | '~'
                    | '&'
                    | ':'
                    | '@'
                    | '{'
                    | '}'
                    | '('
                    | ')'
                    | '$'
            )
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub fn render(doc: &Document) -> String {
    let r = &doc.report;
    let mut out = String::new();
    let kind = if r.is_drill { "Drill" } else { "Recovery" };
    let title = r
        .plan_name
        .as_deref()
        .map_or_else(|| r.plan_id.to_string(), md);
    let _ = writeln!(out, "# {kind} report: {title}\n");
    if let Some(note) = doc.partial_note() {
        let _ = writeln!(out, "> **{}**\n", md(&note));
    }
    let _ = writeln!(out, "| | |\n|---|---|");
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "| {k} | {v} |");
    };
    row(&mut out, "Execution", format!("`{}`", r.execution_id));
    row(
        &mut out,
        "Plan",
        match &r.plan_name {
            Some(n) => format!("{} (`{}`)", md(n), r.plan_id),
            None => format!("`{}`", r.plan_id),
        },
    );
    row(&mut out, "Kind", wire(&r.kind));
    row(&mut out, "Status", format!("**{}**", r.status));
    row(&mut out, "Created", utc(r.created_time));
    if let Some(t) = r.start_time {
        row(&mut out, "Started", utc(t));
    }
    if let Some(t) = r.end_time {
        row(&mut out, "Ended", utc(t));
    }
    row(&mut out, "Report as of", utc(r.as_of));
    if let Some(m) = &r.status_message {
        row(&mut out, "Note", md(m));
    }

    let _ = writeln!(out, "\n## Recovery time against the objective\n");
    let _ = writeln!(
        out,
        "| Scope | Target | Achieved | Verdict | Measured on | From | To | Paused | Running | Engine's record |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    objective_row(&mut out, "**Execution**", &r.recovery);
    for w in &r.waves {
        objective_row(
            &mut out,
            &md(&wave_label(w.wave_number, w.wave_name.as_deref())),
            &w.recovery,
        );
    }
    let notes: Vec<String> = std::iter::once(("Execution".to_owned(), &r.recovery))
        .chain(r.waves.iter().map(|w| {
            (
                wave_label(w.wave_number, w.wave_name.as_deref()),
                &w.recovery,
            )
        }))
        .filter_map(|(scope, rt)| {
            rt.note
                .as_deref()
                .map(|n| format!("- {}: {}", md(&scope), md(n)))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n{}", notes.join("\n"));
    }
    let _ = writeln!(
        out,
        "\nTimes are DRS's job creation and EC2's instance launch times where the services gave them (*DRS*), else the engine's (*engine*); time paused is included in the achieved time."
    );
    if let Some(t) = &r.action_time {
        let within = r
            .recovery
            .action_seconds
            .filter(|_| r.recovery.start.is_some())
            .map(|s| {
                if r.recovery.seconds.is_some() {
                    format!(
                        "; {} of it within the execution's recovery time",
                        duration(s)
                    )
                } else {
                    format!("; {} of it since the first launch", duration(s))
                }
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "\nWave actions: {}{within}. {}",
            action_time_text(t),
            md(ACTIONS_DEFINITION)
        );
    }

    boundaries(&mut out, r);
    timeline(&mut out, r);
    pauses(&mut out, r);
    decisions(&mut out, r);
    actions(&mut out, r);
    waves(&mut out, r);
    failures(&mut out, r);
    instances(&mut out, r);
    cleanup(&mut out, r);
    trail(&mut out, r);
    if let Some(sim) = &doc.simulation {
        let _ = writeln!(out, "\n## Simulation\n");
        let get = |k: &str| sim.get(k).map(ToString::to_string).unwrap_or_default();
        let _ = writeln!(
            out,
            "Seed {}, {} polls, {} simulated seconds in {} s of wall time.",
            md(&get("seed")),
            md(&get("polls")),
            md(&get("simulatedSeconds")),
            md(&get("wallSeconds"))
        );
    }
    out
}

fn figure(secs: Option<u64>) -> String {
    secs.map_or_else(|| "–".to_owned(), duration)
}

fn verdict(v: Verdict) -> String {
    match v {
        Verdict::Met => "✅ **MET**".to_owned(),
        Verdict::Missed => "❌ **MISSED**".to_owned(),
        other => other.as_str().to_owned(),
    }
}

/// The error or the answer of a run, with what a failure did, as Markdown.
fn action_result_md(a: &ActionReport) -> String {
    let mut cell = action_result(a).map_or_else(|| "–".to_owned(), md);
    if let Some(c) = action_consequence(a) {
        let _ = write!(cell, " (**{}**)", md(c));
    }
    cell
}

fn actions(out: &mut String, r: &Report) {
    if r.action_time.is_none() && r.actions.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Wave actions\n");
    if r.actions.is_empty() {
        let _ = writeln!(out, "None has run.");
        return;
    }
    let _ = writeln!(
        out,
        "Every run, in the order they ran. {}\n",
        md(ACTIONS_DEFINITION)
    );
    let _ = writeln!(
        out,
        "| Wave | Action | When | Type | Target | Attempt | Status | Started | Ended | Took | On failure | Automation execution | Answer or error |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for a in &r.actions {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            a.wave_number,
            md(&a.name),
            a.when.as_str(),
            action_kind(a),
            a.target.as_deref().map_or_else(|| "–".to_owned(), md),
            a.attempt,
            match a.status {
                s if s.is_failure() => format!("**{s}**"),
                s => s.to_string(),
            },
            utc(a.start_time),
            a.end_time.map_or_else(|| "still running".to_owned(), utc),
            if a.end_time.is_some() {
                duration(a.seconds)
            } else {
                format!("{} so far", duration(a.seconds))
            },
            a.on_failure.map_or_else(|| "–".to_owned(), |p| wire(&p)),
            a.automation_execution_id
                .as_deref()
                .map_or_else(|| "–".to_owned(), md),
            action_result_md(a),
        );
    }
}

/// `2026-01-01T00:09:10Z (DRS job endDateTime)`, or `–`.
fn point(p: Option<&TimePoint>) -> String {
    p.map_or_else(
        || "–".to_owned(),
        |p| format!("{} ({})", utc(p.time), md(p.field)),
    )
}

/// The gap at each wave boundary: a row each, what of it was paused, in actions and the engine's
/// wait.
fn boundaries(out: &mut String, r: &Report) {
    if r.boundaries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Wave boundaries\n");
    let _ = writeln!(
        out,
        "| Boundary | From: last server launched | To: next wave's first StartRecovery | Gap | Paused | In actions | Engine wait |\n|---|---|---|---|---|---|---|"
    );
    for b in &r.boundaries {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | **{}** |",
            md(&boundary_label(b)),
            point(Some(&b.from)),
            point(Some(&b.to)),
            duration(b.gap_seconds),
            duration(b.paused_seconds),
            duration(b.action_seconds),
            duration(b.wait_seconds),
        );
    }
    let _ = writeln!(out, "\n{}", md(BOUNDARIES_DEFINITION));
}

fn objective_row(out: &mut String, scope: &str, rt: &RecoveryTime) {
    let point = |p: &Option<TimePoint>| point(p.as_ref());
    let _ = writeln!(
        out,
        "| {scope} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        figure(rt.target_rto_seconds),
        figure(rt.seconds),
        verdict(rt.verdict),
        rt.source.map_or_else(|| "–".to_owned(), |s| wire(&s)),
        point(&rt.start),
        point(&rt.end),
        figure(rt.paused_seconds),
        figure(rt.running_seconds),
        figure(rt.record_seconds),
    );
}

fn timeline(out: &mut String, r: &Report) {
    let t = &r.timeline;
    let Some(origin) = t.start else {
        return;
    };
    let _ = writeln!(out, "\n## Timeline\n\nT+0 is {}.\n", utc(origin));
    let _ = writeln!(
        out,
        "| Wave / server | From | To | Took | Outcome |\n|---|---|---|---|---|"
    );
    let cells = |bar: &Bar| {
        let from = bar
            .start
            .as_ref()
            .map_or_else(|| "–".to_owned(), |p| offset(origin, p.time));
        let to = bar
            .end
            .as_ref()
            .map_or_else(|| "–".to_owned(), |p| offset(origin, p.time));
        let took = match (&bar.start, &bar.end) {
            (Some(s), Some(e)) => duration(e.time.secs_since(s.time)),
            _ => "–".to_owned(),
        };
        let outcome = match bar.outcome {
            Outcome::Launched => "launched",
            Outcome::Failed => "**FAILED**",
            Outcome::InProgress => "in progress",
            Outcome::NotStarted => "not started",
        };
        format!("{from} | {to} | {took} | {outcome}")
    };
    let run_row = |out: &mut String, a: &ActionReport| {
        let to = a
            .end_time
            .map_or_else(|| "–".to_owned(), |e| offset(origin, e));
        let took = if a.end_time.is_some() {
            duration(a.seconds)
        } else {
            "–".to_owned()
        };
        let status = match a.status {
            s if s.is_failure() => format!("**{s}**"),
            s => s.to_string(),
        };
        let _ = writeln!(
            out,
            "| ↳ action {} ({}, attempt {}) | {} | {to} | {took} | {status} |",
            md(&a.name),
            when_text(a.when),
            a.attempt,
            offset(origin, a.start_time),
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
            "| **{}** | {} |",
            md(&wave_label(w.wave_number, w.wave_name.as_deref())),
            cells(&w.bar)
        );
        for a in runs(w.wave_number, ActionWhen::BeforeLaunch) {
            run_row(out, a);
        }
        for s in &w.servers {
            let name = s
                .server_name
                .as_deref()
                .map(|n| format!(" {}", md(n)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| ↳ `{}`{name} | {} |",
                s.source_server_id,
                cells(&s.bar)
            );
        }
        for a in runs(w.wave_number, ActionWhen::AfterComplete) {
            run_row(out, a);
        }
    }
    // An action run's marks are its row under its wave.
    for m in t.marks.iter().filter(|m| !is_action_mark(m)) {
        let _ = writeln!(out, "\n{}: {}", offset(origin, m.time), md(&m.label));
    }
}

fn pauses(out: &mut String, r: &Report) {
    let _ = writeln!(out, "\n## Time paused\n");
    if r.pauses.is_empty() {
        let _ = writeln!(out, "The execution never stood paused.");
        return;
    }
    let _ = writeln!(
        out,
        "| From | To | Paused | Why | Paused by | Ended by |\n|---|---|---|---|---|---|"
    );
    for p in &r.pauses {
        let why = match &p.reason {
            Some(m) => format!("{}: {}", md(&pause_text(p)), md(m)),
            None => md(&pause_text(p)),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {why} | {} | {} |",
            p.start.map_or_else(|| "(before the trail)".to_owned(), utc),
            p.end.map_or_else(|| "still paused".to_owned(), utc),
            figure(p.seconds),
            p.paused_by.as_deref().map_or_else(|| "–".to_owned(), md),
            md(&pause_end_text(p)),
        );
    }
    if let (Some(paused), Some(running)) = (r.recovery.paused_seconds, r.recovery.running_seconds) {
        let _ = writeln!(
            out,
            "\nWithin the recovery: {} paused, {} running.",
            duration(paused),
            duration(running)
        );
    }
}

fn decisions(out: &mut String, r: &Report) {
    let d = &r.timeline.decisions;
    if d.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## Decisions\n\n| Time | Waited for | Operation | By | What happened |\n|---|---|---|---|---|"
    );
    for m in d {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}{} | {} |",
            utc(m.time),
            m.decision.map_or("–", decision_text),
            md(&m.operation),
            md(&m.actor),
            if m.by_person { " (person)" } else { "" },
            md(&m.summary)
        );
    }
}

fn waves(out: &mut String, r: &Report) {
    let _ = writeln!(out, "\n## Waves");
    for w in &r.waves {
        let attempts = if w.attempts > 1 {
            format!(", {} attempts", w.attempts)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "\n### Wave {}{}: {}{attempts}\n",
            w.wave_number,
            w.wave_name
                .as_deref()
                .map(|n| format!(" {}", md(n)))
                .unwrap_or_default(),
            w.status
        );
        if !w.jobs.is_empty() {
            let jobs: Vec<String> = w
                .jobs
                .iter()
                .map(|j| {
                    format!(
                        "`{}` (attempt {}, part {}, {} servers{})",
                        j.job_id,
                        j.attempt,
                        j.part,
                        j.servers,
                        j.created_time
                            .map(|t| format!(", created {}", utc(t)))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let _ = writeln!(out, "DRS jobs: {}\n", jobs.join(", "));
        }
        if let Some(t) = &w.action_time {
            let _ = writeln!(
                out,
                "Wave actions: {}, outside the wave's recovery time.\n",
                action_time_text(t)
            );
        }
        if let Some(e) = &w.last_launch_error {
            let _ = writeln!(
                out,
                "{} StartRecovery calls; DRS's last refusal: {}\n",
                w.launch_attempts,
                md(e)
            );
        }
        let _ = writeln!(
            out,
            "| Source server | Name | Impact | Status | Instance | Private IP | Hostname | Type |\n|---|---|---|---|---|---|---|---|"
        );
        for s in &w.servers {
            let opt = |v: Option<&str>| v.map_or_else(|| "–".to_owned(), md);
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} | {} | {} |",
                s.source_server_id,
                opt(s.server_name.as_deref()),
                wire(&s.impact),
                md(s.launch_status.as_str()),
                s.instance
                    .instance_id
                    .as_ref()
                    .map_or_else(|| "–".to_owned(), |i| format!("`{i}`")),
                opt(s.instance.private_ip.as_deref()),
                opt(s.instance.hostname.as_deref()),
                opt(s.instance.instance_type.as_deref()),
            );
        }
    }
}

fn failures(out: &mut String, r: &Report) {
    let _ = writeln!(out, "\n## Failures\n");
    if r.failures.is_empty() && r.failed_servers.is_empty() && r.failed_actions.is_empty() {
        let _ = writeln!(
            out,
            "None: no wave failed and every server that was launched launched.{}",
            if r.action_time.is_some() {
                " No wave action failed."
            } else {
                ""
            }
        );
        return;
    }
    for f in &r.failures {
        let _ = writeln!(
            out,
            "- **{}** {}{}: {}{}",
            md(&wave_label(f.wave_number, f.wave_name.as_deref())),
            f.status,
            if f.attempts > 1 {
                format!(" after {} attempts", f.attempts)
            } else {
                String::new()
            },
            f.reason.map(|x| wire(&x)).unwrap_or_default(),
            f.message
                .as_deref()
                .map(|m| format!(" — {}", md(m)))
                .unwrap_or_default()
        );
    }
    if !r.failed_servers.is_empty() {
        let _ = writeln!(
            out,
            "\n| Wave | Source server | Name | Impact | DRS job | Failed at | Reason |\n|---|---|---|---|---|---|---|"
        );
        for s in &r.failed_servers {
            let _ = writeln!(
                out,
                "| {} | `{}` | {} | {} | {} | {} | {} |",
                s.wave_number,
                s.source_server_id,
                s.server_name.as_deref().map_or_else(|| "–".to_owned(), md),
                wire(&s.impact),
                s.job_id
                    .as_ref()
                    .map_or_else(|| "–".to_owned(), |j| format!("`{j}`")),
                s.failed_at.as_ref().map_or_else(
                    || "–".to_owned(),
                    |p| format!("{} ({})", utc(p.time), source_name(p.source))
                ),
                md(&s.reason)
            );
        }
    }
    if !r.failed_actions.is_empty() {
        let _ = writeln!(
            out,
            "\n| Wave | Action | When | Attempt | Status | Failed at | Error | What it did |\n|---|---|---|---|---|---|---|---|"
        );
        for a in &r.failed_actions {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | **{}** | {} | {} | {} |",
                a.wave_number,
                md(&a.name),
                a.when.as_str(),
                a.attempt,
                a.status,
                a.end_time.map_or_else(|| "–".to_owned(), utc),
                a.error.as_deref().map_or_else(|| "–".to_owned(), md),
                action_consequence(a).map_or_else(|| "–".to_owned(), md),
            );
        }
    }
}

fn instances(out: &mut String, r: &Report) {
    if r.instances.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## Instances\n\n| Wave | Source server | Name | Recovery instance | EC2 instance | Private IP | Hostname | Type | Launched (EC2) |\n|---|---|---|---|---|---|---|---|---|"
    );
    let opt = |v: Option<&str>| v.map_or_else(|| "–".to_owned(), md);
    for i in &r.instances {
        let id = |v: Option<&execution_core::ids::InstanceId>| {
            v.map_or_else(|| "–".to_owned(), |i| format!("`{i}`"))
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} |",
            i.wave_number,
            i.source_server_id,
            opt(i.server_name.as_deref()),
            id(i.instance.recovery_instance_id.as_ref()),
            id(i.instance.instance_id.as_ref()),
            opt(i.instance.private_ip.as_deref()),
            opt(i.instance.hostname.as_deref()),
            opt(i.instance.instance_type.as_deref()),
            i.instance.launch_time.map_or_else(|| "–".to_owned(), utc),
        );
    }
}

fn cleanup(out: &mut String, r: &Report) {
    let c = &r.cleanup;
    let _ = writeln!(out, "\n## Cleanup\n\n{}", md(&c.summary.text));
    if c.servers.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n| Wave | Source server | Recovery instance | State | DRS TERMINATE job | Asked | Gone |\n|---|---|---|---|---|---|---|"
    );
    for s in &c.servers {
        let _ = writeln!(
            out,
            "| {} | `{}` | `{}` | {} | {} | {} | {} |",
            s.wave_number,
            s.source_server_id,
            s.recovery_instance_id,
            wire(&s.state),
            s.job_id
                .as_ref()
                .map_or_else(|| "–".to_owned(), |j| format!("`{j}`")),
            utc(s.requested_time),
            s.terminated_time.map_or_else(|| "–".to_owned(), utc),
        );
    }
}

fn trail(out: &mut String, r: &Report) {
    if r.events.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n## Audit trail\n\n{} events, oldest first.\n\n| Time (UTC) | Actor | Operation | What happened |\n|---|---|---|---|",
        r.events.len()
    );
    for e in &r.events {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            utc(e.time),
            md(&e.actor.to_string()),
            md(&e.operation),
            md(&execution_core::report::short_summary(e))
        );
    }
}
