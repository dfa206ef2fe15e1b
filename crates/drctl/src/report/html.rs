//! The report as one self-contained HTML page: no external asset (inline CSS, the timeline as
//! inline SVG), readable on a screen and printed. Built with maud, whose templates escape every
//! value they splice in, in text and in attributes alike: every name and message from the record
//! stays text. The only unescaped strings are this file's own constants (the style sheet).

use maud::{html, Markup, PreEscaped, DOCTYPE};

use execution_core::actions::{ActionStatus, ActionWhen};
use execution_core::audit::Decision;
use execution_core::model::Timestamp;
use execution_core::report::{
    is_action_mark, ActionReport, Bar, DecisionMark, FigureSource, Kind, Mark, Outcome, Pause,
    RecoveryTime, Report, TimePoint, Verdict,
};

use super::{
    action_consequence, action_kind, action_result, action_time_text, boundary_label,
    decision_text, duration, offset, pause_end_text, pause_text, source_name, utc, wave_label,
    when_text, wire, Document, ACTIONS_DEFINITION, BOUNDARIES_DEFINITION,
};

/// Names longer than this are cut in the timeline's labels (the whole name is in its tooltip).
const LABEL_CHARS: usize = 34;

pub fn render(doc: &Document) -> String {
    let r = &doc.report;
    let kind = if r.is_drill { "Drill" } else { "Recovery" };
    let plan = r.plan_name.clone().unwrap_or_else(|| r.plan_id.to_string());
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (kind) " report: " (plan) " (" (r.execution_id) ")" }
                style { (PreEscaped(CSS)) }
            }
            body {
                header {
                    h1 { (kind) " report: " span.plan-name { (plan) } }
                    @if let Some(note) = doc.partial_note() {
                        p.partial role="alert" { (note) }
                    }
                    (summary(r))
                }
                (objectives(r))
                (boundaries(r))
                (timeline_section(r))
                (pauses(r))
                (decisions(r))
                (actions(r))
                (waves(r))
                (failures(r))
                (instances(r))
                (cleanup(r))
                (trail(r))
                @if let Some(sim) = &doc.simulation {
                    section #simulation {
                        h2 { "Simulation" }
                        p {
                            "Simulated by drctl's DRS simulator: seed " (field(sim, "seed"))
                            ", " (field(sim, "polls")) " polls, "
                            (field(sim, "simulatedSeconds")) " simulated seconds in "
                            (field(sim, "wallSeconds")) " s of wall time."
                        }
                    }
                }
                footer {
                    "Execution " (r.execution_id) " of plan " (r.plan_id)
                    ". Times are UTC. Report as of " (utc(r.as_of)) ", made by drctl."
                }
            }
        }
    };
    page.into_string()
}

/// `Wave 1 (app)`.
fn wave_title(number: u32, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("Wave {number} ({n})"),
        None => format!("Wave {number}"),
    }
}

fn field(v: &serde_json::Value, k: &str) -> String {
    v.get(k).map(ToString::to_string).unwrap_or_default()
}

fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Met => "verdict met",
        Verdict::Missed => "verdict missed",
        Verdict::NoTarget => "verdict none",
        Verdict::NotFinished => "verdict open",
    }
}

fn figure(secs: Option<u64>) -> String {
    secs.map_or_else(|| "–".to_owned(), duration)
}

fn summary(r: &Report) -> Markup {
    html! {
        dl.summary {
            dt { "Execution" } dd { code { (r.execution_id) } }
            dt { "Plan" } dd {
                @if let Some(n) = &r.plan_name { (n) " " }
                code { (r.plan_id) }
            }
            dt { "Kind" } dd { (wire(&r.kind)) }
            dt { "Status" } dd { strong.status { (r.status) } }
            dt { "Created" } dd { (utc(r.created_time)) }
            @if let Some(t) = r.start_time { dt { "Started" } dd { (utc(t)) } }
            @if let Some(t) = r.end_time { dt { "Ended" } dd { (utc(t)) } }
            dt { "Recovery time" } dd {
                strong #recovery-time { (figure(r.recovery.seconds)) }
                @if let Some(src) = r.recovery.source { " (" (source_words(src)) ")" }
            }
            dt { "Objective" } dd {
                span #verdict class=(verdict_class(r.recovery.verdict)) data-verdict=(r.recovery.verdict.as_str()) {
                    (r.recovery.verdict.as_str())
                }
                @if let Some(t) = r.recovery.target_rto_seconds { " (target " (duration(t)) ")" }
                @if let Some(n) = &r.recovery.note { " " (n) }
            }
            dt { "Paused / running" } dd {
                (figure(r.recovery.paused_seconds)) " paused, "
                (figure(r.recovery.running_seconds)) " running"
            }
            @if let Some(t) = &r.action_time {
                dt { "Wave actions" } dd #action-time {
                    (action_time_text(t))
                    @if let (Some(s), Some(_)) = (r.recovery.action_seconds, &r.recovery.start) {
                        "; " (duration(s))
                        @if r.recovery.seconds.is_some() { " of it within the recovery time" } @else { " of it since the first launch" }
                    }
                }
            }
            @if r.kind == Kind::Drill {
                dt { "Cleanup" } dd #cleanup-summary { (r.cleanup.summary.text) }
            }
            @if let Some(m) = &r.status_message { dt { "Note" } dd { (m) } }
            @if !r.servers_without_ec2_details.is_empty() {
                dt { "No EC2 details" } dd {
                    @for (i, id) in r.servers_without_ec2_details.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (id) }
                    }
                }
            }
        }
    }
}

fn source_words(src: FigureSource) -> &'static str {
    match src {
        FigureSource::Drs => "DRS's and EC2's own times",
        FigureSource::Engine => "partly the engine's times: a service's time is missing",
    }
}

fn point(p: Option<&TimePoint>) -> Markup {
    html! {
        @if let Some(p) = p {
            span.nowrap { (utc(p.time)) } br; small title=(source_name(p.source)) { (p.field) }
        } @else { "–" }
    }
}

fn objective_row(scope: &str, rt: &RecoveryTime) -> Markup {
    html! {
        tr {
            th scope="row" { (scope) }
            td { (figure(rt.target_rto_seconds)) }
            td { (figure(rt.seconds)) }
            td {
                span class=(verdict_class(rt.verdict)) { (rt.verdict.as_str()) }
                @if let Some(n) = &rt.note { br; small { (n) } }
            }
            td { (point(rt.start.as_ref())) }
            td { (point(rt.end.as_ref())) }
            td { (figure(rt.paused_seconds)) }
            td { (figure(rt.record_seconds)) }
        }
    }
}

fn objectives(r: &Report) -> Markup {
    html! {
        section #objectives {
            h2 { "Recovery time against the objective" }
            table {
                thead { tr {
                    th { "Scope" } th { "Target" } th { "Achieved" } th { "Verdict" }
                    th { "From" } th { "To" } th { "Paused within" } th { "Engine's record" }
                } }
                tbody {
                    (objective_row("Execution", &r.recovery))
                    @for w in &r.waves {
                        (objective_row(&wave_title(w.wave_number, w.wave_name.as_deref()), &w.recovery))
                    }
                }
            }
            p.hint {
                "Achieved times run from DRS's creation of a wave's first job to EC2's launch of its last critical instance (the execution's: first wave to last), pauses included; where a service gave no time the engine's stands in and the row says so. The engine's record measures from its own launch to the poll that noticed."
                @if r.action_time.is_some() { " " (ACTIONS_DEFINITION) }
            }
        }
    }
}

/// The gap at each wave boundary: from the last server of a wave launched to the next wave's
/// first StartRecovery, and what of it was paused, in actions and the engine's own wait.
fn boundaries(r: &Report) -> Markup {
    html! {
        @if !r.boundaries.is_empty() {
            section #boundaries {
                h2 { "Wave boundaries" }
                table.boundaries {
                    thead { tr {
                        th { "Boundary" } th { "From: last server launched" }
                        th { "To: next wave's first StartRecovery" } th { "Gap" } th { "Paused" }
                        th { "In actions" } th { "Engine wait" }
                    } }
                    tbody {
                        @for b in &r.boundaries {
                            tr data-from-wave=(b.from_wave) data-to-wave=(b.to_wave) data-source=(wire(&b.source)) {
                                th scope="row" { (boundary_label(b)) }
                                td { (point(Some(&b.from))) }
                                td { (point(Some(&b.to))) }
                                td.gap { (duration(b.gap_seconds)) }
                                td.paused { (duration(b.paused_seconds)) }
                                td.in-actions { (duration(b.action_seconds)) }
                                td.wait { strong { (duration(b.wait_seconds)) } }
                            }
                        }
                    }
                }
                p.hint { (BOUNDARIES_DEFINITION) }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The timeline, as inline SVG
// ---------------------------------------------------------------------------------------------

const WIDTH: f64 = 1000.0;
const LABEL_W: f64 = 270.0;
const RIGHT_PAD: f64 = 24.0;
const TOP: f64 = 44.0;
const ROW_H: f64 = 22.0;
const AXIS_H: f64 = 36.0;

/// Maps times to x on the chart.
struct Scale {
    origin: i64,
    span: f64,
}

impl Scale {
    fn x(&self, t: Timestamp) -> f64 {
        let chart = WIDTH - LABEL_W - RIGHT_PAD;
        let at = (t.secs() - self.origin) as f64;
        LABEL_W + (at / self.span).clamp(0.0, 1.0) * chart
    }
}

fn num(v: f64) -> String {
    format!("{v:.1}")
}

/// The step between axis ticks, in minutes: at most about ten ticks.
fn tick_minutes(span_secs: f64) -> u64 {
    let minutes = span_secs / 60.0;
    [1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 360, 720, 1440]
        .into_iter()
        .find(|step| minutes / *step as f64 <= 10.0)
        .unwrap_or(2880)
}

fn clip(s: &str) -> String {
    execution_core::text::clip(s, LABEL_CHARS)
}

fn bar_class(kind: &str, outcome: Outcome) -> String {
    let state = match outcome {
        Outcome::Launched => "launched",
        Outcome::Failed => "failed",
        Outcome::InProgress => "running",
        Outcome::NotStarted => "not-started",
    };
    format!("bar {kind} {state}")
}

fn bar_tip(label: &str, bar: &Bar, origin: Timestamp) -> String {
    let end = |p: &TimePoint| {
        format!(
            "{} ({}, {})",
            offset(origin, p.time),
            source_name(p.source),
            p.field
        )
    };
    match (&bar.start, &bar.end) {
        (Some(s), Some(e)) => format!(
            "{label}: launch {} → {} {} — {}",
            end(s),
            match bar.outcome {
                Outcome::Failed => "failed",
                _ => "launched",
            },
            end(e),
            duration(e.time.secs_since(s.time))
        ),
        (Some(s), None) => format!("{label}: launch {}, still in progress", end(s)),
        _ => format!("{label}: not started"),
    }
}

/// One row of the chart: its label, and its bar or its action's runs.
struct Row<'a> {
    label: String,
    tip_label: String,
    wave_number: u32,
    content: RowContent<'a>,
}

enum RowContent<'a> {
    Wave(&'a Bar),
    Server {
        bar: &'a Bar,
        id: String,
    },
    /// One wave action: a segment per run, with its marks.
    Action {
        name: &'a str,
        runs: Vec<&'a ActionReport>,
    },
}

impl Row<'_> {
    fn label_class(&self) -> &'static str {
        match self.content {
            RowContent::Wave(_) => "label wave",
            RowContent::Server { .. } => "label server",
            RowContent::Action { .. } => "label action",
        }
    }

    fn is_action(&self, wave: Option<u32>, action: Option<&str>) -> bool {
        Some(self.wave_number) == wave
            && matches!(&self.content, RowContent::Action { name, .. } if Some(*name) == action)
    }
}

/// The rows of wave `number`'s actions that run `when`: one per action, in the order they first
/// ran.
fn action_rows(r: &Report, number: u32, when: ActionWhen) -> Vec<Row<'_>> {
    let mut rows: Vec<Row<'_>> = Vec::new();
    for a in r
        .actions
        .iter()
        .filter(|a| a.wave_number == number && a.when == when)
    {
        if let Some(Row {
            content: RowContent::Action { runs, .. },
            ..
        }) = rows
            .iter_mut()
            .find(|row| row.is_action(Some(number), Some(&a.name)))
        {
            runs.push(a);
            continue;
        }
        rows.push(Row {
            label: clip(&format!("{}: {}", short_when(when), a.name)),
            tip_label: format!("action {} of wave {number} ({})", a.name, when_text(when)),
            wave_number: number,
            content: RowContent::Action {
                name: &a.name,
                runs: vec![a],
            },
        });
    }
    rows
}

/// `before`, `after`: a short label for a row.
fn short_when(when: ActionWhen) -> &'static str {
    match when {
        ActionWhen::BeforeLaunch => "before",
        ActionWhen::AfterComplete => "after",
    }
}

/// `before-launch`, `after-complete`: a class.
fn when_class(when: ActionWhen) -> &'static str {
    match when {
        ActionWhen::BeforeLaunch => "before-launch",
        ActionWhen::AfterComplete => "after-complete",
    }
}

/// `action-run before-launch failed continued`.
fn run_class(a: &ActionReport) -> String {
    let state = match a.status {
        ActionStatus::Running => "running",
        ActionStatus::Succeeded => "succeeded",
        ActionStatus::Failed => "failed",
        ActionStatus::TimedOut => "timed-out",
    };
    let continued = if a.status.is_failure() && !a.failed_the_wave {
        " continued"
    } else {
        ""
    };
    format!("action-run {} {state}{continued}", when_class(a.when))
}

fn run_tip(a: &ActionReport, origin: Timestamp) -> String {
    let mut tip = format!(
        "action {} of wave {} ({}, {} {}, attempt {}): {} → ",
        a.name,
        a.wave_number,
        a.when.as_str(),
        action_kind(a),
        a.target.as_deref().unwrap_or("–"),
        a.attempt,
        offset(origin, a.start_time),
    );
    match a.end_time {
        Some(end) => tip.push_str(&format!(
            "{} {} — {}",
            offset(origin, end),
            a.status,
            duration(a.seconds)
        )),
        None => tip.push_str(&format!("still running ({} so far)", duration(a.seconds))),
    }
    if let Some(result) = action_result(a) {
        tip.push_str(&format!(": {result}"));
    }
    if let Some(c) = action_consequence(a) {
        tip.push_str(&format!(" ({c})"));
    }
    tip
}

/// `action-mark before-launch-action-started`: a mark's kind as a class.
fn mark_class(m: &Mark) -> String {
    format!(
        "action-mark {}",
        m.kind.to_ascii_lowercase().replace('_', "-")
    )
}

/// An action run's start or end on its row: a triangle (before launch) or a circle (after
/// complete) where it started, a bar where it succeeded, a cross where it failed.
fn action_mark(m: &Mark, x: f64, y: f64, origin: Timestamp) -> Markup {
    let mid = y + ROW_H * 0.5;
    let started = m.kind.ends_with("_STARTED");
    let before = m.kind.starts_with("BEFORE_LAUNCH");
    let succeeded = m.kind.ends_with("_SUCCEEDED");
    html! {
        g class=(mark_class(m)) data-kind=(m.kind) data-wave=[m.wave_number]
            data-action=[m.action.as_deref()] data-attempt=[m.attempt] {
            title { (offset(origin, m.time)) " " (m.label) }
            @if started && before {
                path d=(format!("M{} {}l6 4-6 4z", num(x), num(mid - 4.0))) {}
            } @else if started {
                circle cx=(num(x)) cy=(num(mid)) r="3.5" {}
            } @else if succeeded {
                line x1=(num(x)) x2=(num(x)) y1=(num(mid - 6.0)) y2=(num(mid + 6.0)) {}
            } @else {
                path d=(format!("M{} {}l7 7m0-7l-7 7", num(x - 3.5), num(mid - 3.5))) {}
            }
        }
    }
}

fn timeline_section(r: &Report) -> Markup {
    let t = &r.timeline;
    let (Some(start), Some(end)) = (t.start, t.end) else {
        return html! {
            section #timeline { h2 { "Timeline" } p { "Nothing was launched." } }
        };
    };
    let scale = Scale {
        origin: start.secs(),
        span: (end.secs() - start.secs()).max(60) as f64,
    };
    let mut rows: Vec<Row<'_>> = Vec::new();
    for w in &t.waves {
        let label = wave_label(w.wave_number, w.wave_name.as_deref());
        rows.push(Row {
            label: clip(&wave_title(w.wave_number, w.wave_name.as_deref())),
            tip_label: label,
            wave_number: w.wave_number,
            content: RowContent::Wave(&w.bar),
        });
        rows.extend(action_rows(r, w.wave_number, ActionWhen::BeforeLaunch));
        for s in &w.servers {
            let label = match &s.server_name {
                Some(n) => n.clone(),
                None => s.source_server_id.to_string(),
            };
            rows.push(Row {
                label: clip(&label),
                tip_label: format!("{} ({})", label, s.source_server_id),
                wave_number: w.wave_number,
                content: RowContent::Server {
                    bar: &s.bar,
                    id: s.source_server_id.to_string(),
                },
            });
        }
        rows.extend(action_rows(r, w.wave_number, ActionWhen::AfterComplete));
    }
    // Each action run's marks go on its action's row.
    let action_marks: Vec<(usize, &Mark)> = t
        .marks
        .iter()
        .filter(|m| is_action_mark(m))
        .filter_map(|m| {
            rows.iter()
                .position(|row| row.is_action(m.wave_number, m.action.as_deref()))
                .map(|i| (i, m))
        })
        .collect();

    let height = TOP + rows.len() as f64 * ROW_H + AXIS_H;
    let chart_bottom = TOP + rows.len() as f64 * ROW_H;
    let step = tick_minutes(scale.span);
    let ticks: Vec<u64> = (0..)
        .map(|k| k * step)
        .take_while(|m| (*m * 60) as f64 <= scale.span)
        .collect();
    let open_end = Timestamp(start.secs() + scale.span as i64).max(end);
    html! {
        section #timeline {
            h2 { "Timeline" }
            p.hint {
                "One row per wave and per server: a bar from launch (DRS's job created) to launched (EC2's instance launched), failures in red, time paused shaded, decisions marked"
                @if !r.actions.is_empty() { "; a row per wave action, a segment per run from its start to its end" }
                ". T+0 is " (utc(start)) "."
            }
            svg.timeline xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {WIDTH} {}", num(height)))
                role="img" aria-label="Timeline of the execution" {
                title { "Timeline: launch to launched per wave and server, pauses and decisions" }
                // The axis: a gridline and a label per tick, in minutes.
                g.axis {
                    @for m in &ticks {
                        @let x = scale.x(Timestamp(start.secs() + (*m * 60) as i64));
                        line.grid x1=(num(x)) x2=(num(x)) y1=(num(TOP - 4.0)) y2=(num(chart_bottom)) {}
                        text.tick x=(num(x)) y=(num(chart_bottom + 16.0)) text-anchor="middle" { (m) " min" }
                    }
                    text.axis-title x=(num(WIDTH - RIGHT_PAD)) y=(num(chart_bottom + 31.0)) text-anchor="end" {
                        "minutes from T+0"
                    }
                }
                // Every other row striped, under everything else.
                @for i in (1..rows.len()).step_by(2) {
                    rect.stripe x="0" y=(num(TOP + i as f64 * ROW_H)) width=(num(WIDTH)) height=(num(ROW_H)) {}
                }
                // Time paused, shaded across every row.
                @for p in &r.pauses {
                    @if let Some(from) = p.start {
                        @let to = p.end.unwrap_or(r.as_of);
                        @let x = scale.x(from);
                        rect.pause x=(num(x)) y=(num(TOP - 4.0))
                            width=(num((scale.x(to) - x).max(1.5))) height=(num(chart_bottom - TOP + 4.0)) {
                            title { (pause_tip(p)) }
                        }
                        text.pause-label x=(num(x + 3.0)) y=(num(chart_bottom - 4.0)) { "paused" }
                    }
                }
                // A row per wave, per server and per wave action.
                @for (i, row) in rows.iter().enumerate() {
                    @let y = TOP + i as f64 * ROW_H;
                    text class=(row.label_class())
                        x=(if matches!(row.content, RowContent::Wave(_)) { "6" } else { "20" }) y=(num(y + ROW_H * 0.68)) {
                        title { (row.tip_label) }
                        (row.label)
                    }
                    @match &row.content {
                        RowContent::Wave(bar) | RowContent::Server { bar, .. } => {
                            @let wave = matches!(row.content, RowContent::Wave(_));
                            @let server = match &row.content { RowContent::Server { id, .. } => Some(id.as_str()), _ => None };
                            @match (&bar.start, bar.outcome) {
                                (Some(s), outcome) => {
                                    @let x1 = scale.x(s.time);
                                    @let x2 = scale.x(bar.end.as_ref().map_or(open_end, |e| e.time));
                                    rect class=(bar_class(if wave { "wave" } else { "server" }, outcome))
                                        data-wave=(row.wave_number)
                                        data-server=[server]
                                        x=(num(x1)) y=(num(y + if wave { 4.0 } else { 6.0 }))
                                        width=(num((x2 - x1).max(2.0))) height=(num(if wave { 14.0 } else { 10.0 }))
                                        rx="2" {
                                        title { (bar_tip(&row.tip_label, bar, start)) }
                                    }
                                }
                                (None, _) => {
                                    text.not-started x=(num(LABEL_W + 4.0)) y=(num(y + ROW_H * 0.68)) { "not started" }
                                }
                            }
                        }
                        RowContent::Action { runs, .. } => {
                            @for a in runs {
                                @let x1 = scale.x(a.start_time);
                                @let x2 = scale.x(a.end_time.unwrap_or(open_end));
                                rect class=(run_class(a)) data-wave=(a.wave_number) data-action=(a.name)
                                    data-attempt=(a.attempt)
                                    x=(num(x1)) y=(num(y + 7.0)) width=(num((x2 - x1).max(2.0))) height="8" rx="1" {
                                    title { (run_tip(a, start)) }
                                }
                            }
                        }
                    }
                }
                // Each action run's start and end, on its action's row.
                @for (i, m) in &action_marks {
                    (action_mark(m, scale.x(m.time), TOP + *i as f64 * ROW_H, start))
                }
                // Decisions and other marks.
                @for (i, d) in t.decisions.iter().enumerate() {
                    (decision_mark(d, i, &scale, chart_bottom, start))
                }
                @for m in t.marks.iter().filter(|m| !is_action_mark(m)) {
                    @let x = scale.x(m.time);
                    g.mark {
                        line x1=(num(x)) x2=(num(x)) y1=(num(TOP - 4.0)) y2=(num(chart_bottom)) {}
                        text x=(num(x - 3.0)) y=(num(TOP - 8.0)) text-anchor="end" {
                            title { (offset(start, m.time)) " " (m.label) }
                            (clip(&m.label))
                        }
                    }
                }
            }
            ul.legend {
                li { span.swatch.launched {} "launch → launched" }
                li { span.swatch.failed {} "failed" }
                li { span.swatch.running {} "in progress" }
                li { span.swatch.paused {} "paused" }
                li { span.swatch.person {} "a person's decision" }
                li { span.swatch.engine {} "waiting for a decision" }
                @if !r.actions.is_empty() {
                    li.action-legend { span.swatch.act-before {} "wave action before launch (▶ start)" }
                    li.action-legend { span.swatch.act-after {} "wave action after complete (● start)" }
                    li.action-legend { span.swatch.act-failed {} "action failed or timed out (✕ end; paler: onFailure CONTINUE)" }
                }
            }
        }
    }
}

fn pause_tip(p: &Pause) -> String {
    let reason = p
        .reason
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    format!(
        "Paused {}: {}{reason}; {}",
        figure(p.seconds),
        pause_text(p),
        pause_end_text(p)
    )
}

fn decision_mark(
    d: &DecisionMark,
    index: usize,
    scale: &Scale,
    bottom: f64,
    origin: Timestamp,
) -> Markup {
    let x = scale.x(d.time);
    // Labels alternate between two lines so that neighbours do not overlap.
    let label_y = if index.is_multiple_of(2) { 14.0 } else { 28.0 };
    let class = if d.by_person {
        "decision person"
    } else {
        "decision engine"
    };
    let label = match (d.decision, d.wave_number) {
        (Some(Decision::PlannedPause), _) => "planned pause".to_owned(),
        (Some(Decision::OperatorPause), _) => format!("paused by {}", d.actor),
        (Some(Decision::WaveFailed), Some(n)) => format!("wave {n} failed: decide"),
        (Some(Decision::WaveFailed), None) => "wave failed: decide".to_owned(),
        (Some(Decision::NotHealed), _) => "workflow not restarted".to_owned(),
        (None, _) => d.operation.clone(),
    };
    let tip = format!(
        "{} {} by {}{}: {}",
        offset(origin, d.time),
        d.operation,
        d.actor,
        d.decision
            .map(|k| format!(" ({})", decision_text(k)))
            .unwrap_or_default(),
        d.summary
    );
    html! {
        g class=(class) data-operation=(d.operation) {
            title { (tip) }
            line x1=(num(x)) x2=(num(x)) y1=(num(label_y + 3.0)) y2=(num(bottom)) {}
            path d=(format!("M{} {}l4 4-4 4-4-4z", num(x), num(label_y + 2.0))) {}
            text x=(num(x + 6.0)) y=(num(label_y)) { (clip(&label)) }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------------------------

fn pauses(r: &Report) -> Markup {
    html! {
        section #pauses {
            h2 { "Time paused" }
            @if r.pauses.is_empty() {
                p { "The execution never stood paused." }
            } @else {
                table {
                    thead { tr { th { "From" } th { "To" } th { "Paused" } th { "Why" } th { "Paused by" } th { "Ended by" } } }
                    tbody {
                        @for p in &r.pauses {
                            tr {
                                td { (p.start.map_or_else(|| "(before the trail)".to_owned(), utc)) }
                                td { (p.end.map_or_else(|| "still paused".to_owned(), utc)) }
                                td { (figure(p.seconds)) }
                                td { (pause_text(p)) @if let Some(m) = &p.reason { ": " (m) } }
                                td { (p.paused_by.as_deref().unwrap_or("–")) }
                                td { (pause_end_text(p)) }
                            }
                        }
                    }
                }
                p {
                    "Within the recovery: " (figure(r.recovery.paused_seconds)) " paused, "
                    (figure(r.recovery.running_seconds)) " running."
                }
            }
        }
    }
}

fn decisions(r: &Report) -> Markup {
    html! {
        @if !r.timeline.decisions.is_empty() {
            section #decisions {
                h2 { "Decisions" }
                table {
                    thead { tr { th { "Time" } th { "Waited for" } th { "Operation" } th { "By" } th { "What happened" } } }
                    tbody {
                        @for d in &r.timeline.decisions {
                            tr class=(if d.by_person { "person" } else { "engine" }) {
                                td.nowrap { (utc(d.time)) }
                                td { (d.decision.map_or("–", decision_text)) }
                                td { (d.operation) }
                                td { (d.actor) }
                                td { (d.summary) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Every run of every wave action, in the order they ran.
fn actions(r: &Report) -> Markup {
    html! {
        @if r.action_time.is_some() || !r.actions.is_empty() {
            section #actions {
                h2 { "Wave actions" }
                p.hint { (ACTIONS_DEFINITION) }
                @if let Some(t) = &r.action_time { p { "In all: " (action_time_text(t)) "." } }
                @if r.actions.is_empty() {
                    p { "None has run." }
                } @else {
                    table.actions {
                        thead { tr {
                            th { "Wave" } th { "Action" } th { "When" } th { "Type and target" }
                            th { "Status" } th { "Started" } th { "Took" } th { "Answer or error" }
                            th { "On failure" }
                        } }
                        tbody {
                            @for a in &r.actions {
                                tr class=(format!("action {}", a.status.as_str().to_ascii_lowercase()))
                                    data-wave=(a.wave_number) data-action=(a.name) data-attempt=(a.attempt) {
                                    td { (a.wave_number) }
                                    td.wrap { (a.name) }
                                    td { (when_text(a.when)) }
                                    td.target {
                                        span.nowrap { (action_kind(a)) } br;
                                        span.mono.wrap { (dash(a.target.as_deref())) }
                                    }
                                    td {
                                        @if a.status.is_failure() {
                                            span.status-failed { (a.status.as_str()) }
                                        } @else {
                                            (a.status.as_str())
                                        }
                                        br; small { "attempt " (a.attempt) }
                                        @if a.failed_the_wave {
                                            br; span.fails-wave { "failed the wave" }
                                        } @else if a.status.is_failure() {
                                            br; span.continued { "CONTINUE: went on" }
                                        }
                                    }
                                    td.nowrap {
                                        (utc(a.start_time))
                                        @if let Some(end) = a.end_time { br; small { "to " (utc(end)) } }
                                    }
                                    td.nowrap {
                                        (duration(a.seconds))
                                        @if a.end_time.is_none() { br; small { "so far" } }
                                    }
                                    td.wrap.result {
                                        @if let Some(result) = action_result(a) { (result) } @else { "–" }
                                        @if let Some(id) = &a.automation_execution_id {
                                            br; small { "automation " span.mono { (id) } }
                                        }
                                        @if let (Some(at), None) = (a.retry_time, a.end_time) {
                                            br; small { "refused for now; sent again from " (utc(at)) }
                                        }
                                    }
                                    td { (a.on_failure.map_or_else(|| "–".to_owned(), |p| wire(&p))) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn dash(v: Option<&str>) -> &str {
    v.unwrap_or("–")
}

fn waves(r: &Report) -> Markup {
    html! {
        section #waves {
            h2 { "Waves" }
            @for w in &r.waves {
                article.wave data-wave=(w.wave_number) {
                    h3 {
                        "Wave " (w.wave_number)
                        @if let Some(n) = &w.wave_name { ": " span.wave-name { (n) } }
                        " — " (w.status)
                        @if w.attempts > 1 { ", " (w.attempts) " attempts" }
                    }
                    p {
                        "Recovery time " (figure(w.recovery.seconds))
                        @if let Some(t) = w.recovery.target_rto_seconds { " against a target of " (duration(t)) }
                        ": " span class=(verdict_class(w.recovery.verdict)) { (w.recovery.verdict.as_str()) }
                        @if !w.jobs.is_empty() {
                            ". DRS jobs: "
                            @for (i, j) in w.jobs.iter().enumerate() {
                                @if i > 0 { ", " }
                                code { (j.job_id) } " (attempt " (j.attempt) ", part " (j.part) ")"
                            }
                        }
                        "."
                    }
                    @if let Some(e) = &w.last_launch_error {
                        p { (w.launch_attempts) " StartRecovery calls; DRS's last refusal: " (e) }
                    }
                    @if let Some(t) = &w.action_time {
                        p.wave-actions { "Wave actions: " (action_time_text(t)) ", outside the wave's recovery time." }
                    }
                    table.servers {
                        thead { tr {
                            th { "Source server" } th { "Name" } th { "Impact" } th { "Status" }
                            th { "Instance" } th { "Private IP" } th { "Hostname" } th { "Type" }
                        } }
                        tbody {
                            @for s in &w.servers {
                                tr data-server=(s.source_server_id) {
                                    td { code { (s.source_server_id) } }
                                    td.server-name { (dash(s.server_name.as_deref())) }
                                    td { (wire(&s.impact)) }
                                    td { (s.launch_status.as_str()) }
                                    td { (dash(s.instance.instance_id.as_ref().map(|i| i.as_str()))) }
                                    td { (dash(s.instance.private_ip.as_deref())) }
                                    td { (dash(s.instance.hostname.as_deref())) }
                                    td { (dash(s.instance.instance_type.as_deref())) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn failures(r: &Report) -> Markup {
    html! {
        section #failures {
            h2 { "Failures" }
            @if r.failures.is_empty() && r.failed_servers.is_empty() && r.failed_actions.is_empty() {
                p {
                    "None: no wave failed and no server failed to launch."
                    @if r.action_time.is_some() { " No wave action failed." }
                }
            }
            @if !r.failures.is_empty() {
                ul {
                    @for f in &r.failures {
                        li.failure {
                            strong { (wave_title(f.wave_number, f.wave_name.as_deref())) }
                            " " (f.status)
                            @if f.attempts > 1 { " after " (f.attempts) " attempts" }
                            @if let Some(reason) = f.reason { ": " code { (wire(&reason)) } }
                            @if let Some(m) = &f.message { " — " (m) }
                        }
                    }
                }
            }
            @if !r.failed_servers.is_empty() {
                table {
                    thead { tr { th { "Wave" } th { "Source server" } th { "Name" } th { "Impact" } th { "DRS job" } th { "Failed at" } th { "Reason" } } }
                    tbody {
                        @for s in &r.failed_servers {
                            tr {
                                td { (s.wave_number) }
                                td { code { (s.source_server_id) } }
                                td { (dash(s.server_name.as_deref())) }
                                td { (wire(&s.impact)) }
                                td { (dash(s.job_id.as_ref().map(|j| j.as_str()))) }
                                td { (point(s.failed_at.as_ref())) }
                                td { (s.reason) }
                            }
                        }
                    }
                }
            }
            @if !r.failed_actions.is_empty() {
                table.failed-actions {
                    thead { tr {
                        th { "Wave" } th { "Action" } th { "When" } th { "Attempt" } th { "Status" }
                        th { "Failed at" } th { "Error" } th { "What it did" }
                    } }
                    tbody {
                        @for a in &r.failed_actions {
                            tr data-wave=(a.wave_number) data-action=(a.name) data-attempt=(a.attempt) {
                                td { (a.wave_number) }
                                td.wrap { (a.name) }
                                td { (a.when.as_str()) }
                                td { (a.attempt) }
                                td { span.status-failed { (a.status.as_str()) } }
                                td.nowrap { (a.end_time.map_or_else(|| "–".to_owned(), utc)) }
                                td.wrap { (dash(a.error.as_deref())) }
                                td { (dash(action_consequence(a))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn instances(r: &Report) -> Markup {
    html! {
        @if !r.instances.is_empty() {
            section #instances {
                h2 { "Instances" }
                table {
                    thead { tr {
                        th { "Wave" } th { "Source server" } th { "Name" } th { "Recovery instance / EC2 instance" }
                        th { "Private IP" } th { "Hostname" } th { "Type" } th { "Launched (EC2)" }
                    } }
                    tbody {
                        @for i in &r.instances {
                            tr {
                                td { (i.wave_number) }
                                td { code { (i.source_server_id) } }
                                td { (dash(i.server_name.as_deref())) }
                                td {
                                    @let recovery = i.instance.recovery_instance_id.as_ref().map(|x| x.as_str());
                                    @let ec2 = i.instance.instance_id.as_ref().map(|x| x.as_str());
                                    // DRS's recovery instance is an EC2 instance: one id, unless the
                                    // record says otherwise.
                                    @if recovery == ec2 {
                                        code { (dash(recovery)) }
                                    } @else {
                                        code { (dash(recovery)) } br; small { "EC2 " } code { (dash(ec2)) }
                                    }
                                }
                                td { (dash(i.instance.private_ip.as_deref())) }
                                td { (dash(i.instance.hostname.as_deref())) }
                                td { (dash(i.instance.instance_type.as_deref())) }
                                td.nowrap { (i.instance.launch_time.map_or_else(|| "–".to_owned(), utc)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn cleanup(r: &Report) -> Markup {
    let c = &r.cleanup;
    html! {
        section #cleanup {
            h2 { "Cleanup" }
            p { (c.summary.text) }
            @if !c.servers.is_empty() {
                table {
                    thead { tr { th { "Wave" } th { "Source server" } th { "Recovery instance" } th { "State" } th { "DRS TERMINATE job" } th { "Asked" } th { "Gone" } } }
                    tbody {
                        @for s in &c.servers {
                            tr {
                                td { (s.wave_number) }
                                td { code { (s.source_server_id) } }
                                td { (s.recovery_instance_id) }
                                td { (wire(&s.state)) }
                                td { (dash(s.job_id.as_ref().map(|j| j.as_str()))) }
                                td { (utc(s.requested_time)) }
                                td { (s.terminated_time.map_or_else(|| "–".to_owned(), utc)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn trail(r: &Report) -> Markup {
    html! {
        @if !r.events.is_empty() {
            section #trail {
                h2 { "Audit trail" }
                p.hint { (r.events.len()) " events, oldest first: who changed what, when." }
                table {
                    thead { tr { th { "Time (UTC)" } th { "Actor" } th { "Operation" } th { "What happened" } } }
                    tbody {
                        @for e in &r.events {
                            tr {
                                td.nowrap { (utc(e.time)) }
                                td { (e.actor.to_string()) }
                                td { (e.operation) }
                                td { (execution_core::report::short_summary(e)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

const CSS: &str = r#"
:root { --ink: #1d2430; --muted: #5b6676; --line: #d5dbe3; --ok: #2f8f4e; --bad: #c62828;
        --run: #2f6fb3; --pause: #f2b84b; --person: #6a3fb5; --engine: #8a94a3;
        --act-before: #0f7f8a; --act-after: #8a5a2b; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; max-width: 1100px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
small, .hint { color: var(--muted); }
.hint { font-size: 12px; }
.partial { background: #fff4d6; border: 1px solid var(--pause); padding: 8px 12px; font-weight: 600; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 12px 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 6px; text-align: left; vertical-align: top; }
thead th { background: #f1f4f8; }
td.nowrap, td code, .nowrap { white-space: nowrap; }
.verdict { font-weight: 700; padding: 1px 6px; border-radius: 3px; }
.verdict.met { color: #fff; background: var(--ok); }
.verdict.missed { color: #fff; background: var(--bad); }
.verdict.none, .verdict.open { background: #eef1f5; }
svg.timeline { width: 100%; height: auto; display: block; border: 1px solid var(--line); }
svg .label { font-size: 11px; fill: var(--ink); }
svg .label.wave { font-weight: 700; }
svg .tick, svg .axis-title, svg .not-started, svg .pause-label { font-size: 10px; fill: var(--muted); }
svg .grid { stroke: #e6eaf0; stroke-width: 1; }
svg .stripe { fill: #f7f9fb; }
svg .bar.launched { fill: var(--ok); }
svg .bar.failed { fill: var(--bad); }
svg .bar.running { fill: var(--run); }
svg .bar.wave { opacity: 0.85; }
svg .pause { fill: var(--pause); fill-opacity: 0.28; stroke: var(--pause); stroke-dasharray: 3 2; }
svg .decision line { stroke-width: 1.2; }
svg .decision.person line, svg .decision.person path { stroke: var(--person); fill: var(--person); }
svg .decision.engine line { stroke: var(--engine); stroke-dasharray: 4 3; }
svg .decision.engine path { fill: var(--engine); }
svg .decision text { font-size: 10px; fill: var(--ink); }
svg .mark line { stroke: var(--ink); stroke-dasharray: 1 3; }
svg .mark text { font-size: 10px; fill: var(--muted); }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 14px; font-size: 12px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 5px; vertical-align: -1px; }
.swatch.launched { background: var(--ok); } .swatch.failed { background: var(--bad); }
.swatch.running { background: var(--run); } .swatch.paused { background: var(--pause); opacity: .6; }
.swatch.person { background: var(--person); width: 3px; } .swatch.engine { background: var(--engine); width: 3px; }
tr.person td { background: #f6f1fd; }
svg .label.action { font-style: italic; fill: var(--muted); }
svg .action-run.before-launch { fill: var(--act-before); }
svg .action-run.after-complete { fill: var(--act-after); }
svg .action-run.failed, svg .action-run.timed-out { fill: var(--bad); }
svg .action-run.continued { fill-opacity: 0.5; }
svg .action-run.running { fill-opacity: 0.45; stroke: var(--run); stroke-dasharray: 3 2; }
svg .action-mark path, svg .action-mark circle { fill: var(--ink); }
svg .action-mark.before-launch-action-started path { fill: var(--act-before); stroke: #fff; stroke-width: .8; }
svg .action-mark.after-complete-action-started circle { fill: var(--act-after); stroke: #fff; stroke-width: .8; }
svg .action-mark line { stroke: var(--ink); stroke-width: 1.6; }
svg .action-mark.before-launch-action-failed path, svg .action-mark.before-launch-action-timed-out path,
svg .action-mark.after-complete-action-failed path, svg .action-mark.after-complete-action-timed-out path {
  fill: none; stroke: var(--bad); stroke-width: 2; }
.swatch.act-before { background: var(--act-before); } .swatch.act-after { background: var(--act-after); }
.swatch.act-failed { background: var(--bad); opacity: .75; }
td.wrap, .wrap { overflow-wrap: anywhere; word-break: break-word; }
td .mono { font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table.actions td.target { min-width: 11em; }
table.actions td.result { min-width: 14em; }
.status-failed { color: var(--bad); font-weight: 700; }
.fails-wave { color: #fff; background: var(--bad); padding: 0 4px; border-radius: 3px; font-size: 11px; white-space: nowrap; }
.continued { color: var(--muted); font-size: 11px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@page { margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  h2 { break-after: avoid; }
  tr, svg.timeline, dl.summary { break-inside: avoid; }
  table { font-size: 7.5pt; }
  th, td { padding: 2px 3px; }
  code, td .mono { font-size: 7pt; }
  /* An A4 page is narrower than a screen: ids, times and names break where they must. */
  td code, td .mono { white-space: normal; overflow-wrap: anywhere; }
  td.nowrap, td .nowrap { white-space: normal; }
  table.actions td.target, table.actions td.result { min-width: 0; }
}
"#;
