//! The report of an execution (`execution_core::report::Report`, built from the record and its
//! trail) and its four renderings: text for a terminal ([`text`]), JSON (the model as serde writes
//! it), Markdown ([`markdown`]) and one self-contained HTML file ([`html`]). The same report ends
//! a drill (`drctl drill`, `--report FILE`) and answers `drctl report` (on AWS through the same
//! `get` and `events` as `drctl status`, or on a world file).
//!
//! Every name and message in a report comes from outside (the plan, DRS, EC2, an operator) and
//! each rendering escapes it for its medium: control and bidi characters for a terminal
//! ([`crate::text::clean`]), Markdown's significant characters, HTML by maud's auto-escaping.

mod html;
mod markdown;
mod source;
mod text;

use std::path::{Path, PathBuf};

use execution_core::actions::{ActionKind, ActionWhen};
use execution_core::audit::Decision;
use execution_core::model::Timestamp;
use execution_core::report::{ActionReport, ActionTime, BoundaryReport, Report, TimeSource};
use serde::Serialize;
use serde_json::Value;

#[cfg(feature = "aws")]
pub use source::{record_and_trail, whole_trail, Loaded};
pub use text::{duration, name, trail_line};

use crate::cli::ReportArgs;
use crate::exit::{CliError, Exit};

/// A report as drctl hands it out: the core's model, and what only drctl knows (why a drill
/// stopped early, what the simulation cost). Serialized flat: the model's fields, then
/// `partial`/`error`/`exitCode`/`message` when the drill stopped, then `simulation`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Document {
    #[serde(flatten)]
    pub report: Report,
    /// Set when a drill stopped before its execution finished: the report is the record as it
    /// stood then.
    #[serde(flatten)]
    pub stopped: Option<Stopped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulation: Option<Value>,
}

impl Document {
    pub fn of(report: Report) -> Self {
        Self {
            report,
            stopped: None,
            simulation: None,
        }
    }

    /// The report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Text => text::render(self),
            Format::Json => match serde_json::to_string_pretty(self) {
                Ok(mut json) => {
                    json.push('\n');
                    json
                }
                // Every field is a string, a number, a list or a map: serde cannot fail here.
                Err(e) => format!("{{\"error\": \"cannot encode the report: {e}\"}}\n"),
            },
            Format::Markdown => markdown::render(self),
            Format::Html => html::render(self),
        }
    }

    /// `partial` with why, when the report is not of a finished execution.
    fn partial_note(&self) -> Option<String> {
        if let Some(stopped) = &self.stopped {
            return Some(format!(
                "PARTIAL REPORT ({}): the execution as it stood when the drill stopped",
                stopped.message
            ));
        }
        (!self.report.finished).then(|| {
            format!(
                "PARTIAL REPORT: the execution has not finished ({}); this is its record as of {}",
                self.report.status,
                utc(self.report.as_of)
            )
        })
    }
}

/// Why a drill stopped early, in the fields of drctl's JSON error document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    /// Always true.
    pub partial: bool,
    /// `INTERRUPTED` (Ctrl-C) or `INFRASTRUCTURE_ERROR` (the drill could not finish).
    pub error: &'static str,
    pub exit_code: u8,
    pub message: String,
}

/// A rendering of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a terminal: names with control and bidi characters escaped.
    Text,
    /// The report's model, as `--json` prints it.
    Json,
    /// Tables, for a ticket or a wiki.
    Markdown,
    /// One self-contained page (inline CSS and SVG timeline), readable printed.
    Html,
}

impl Format {
    /// The format a file's extension names: `.html`/`.htm`, `.md`/`.markdown`, `.json`,
    /// `.txt`/`.text`.
    pub fn of_path(path: &Path) -> Result<Self, CliError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("html" | "htm") => Ok(Self::Html),
            Some("md" | "markdown") => Ok(Self::Markdown),
            Some("json") => Ok(Self::Json),
            Some("txt" | "text") => Ok(Self::Text),
            _ => Err(CliError::invalid(format!(
                "{}: cannot tell the report's format from the file's extension: name it .html, .md, .json or .txt (drctl report also takes --format)",
                path.display()
            ))),
        }
    }
}

/// Writes `text` to `path` (created or replaced). A file that cannot be created is the caller's
/// to fix (exit 2); a write that fails part-way (a full disk) may pass on a retry (exit 4).
pub fn write_file(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut file = std::fs::File::create(path).map_err(|e| {
        CliError::invalid(format!(
            "cannot write the report to {}: {e}",
            path.display()
        ))
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            CliError::infrastructure(format!(
                "cannot write the report to {}: {e}",
                path.display()
            ))
        })
}

/// `drctl report`: the report of one execution, from AWS (`get` and `events`, as `drctl status`
/// reads them, `--api` included) or from a world file, in the format asked, on standard output
/// or in `--output FILE`. Exit 0 whatever the execution's status.
pub async fn run(args: ReportArgs, api: Option<&str>, json: bool) -> Result<Exit, CliError> {
    let format = chosen_format(args.format, json, args.output.as_deref())?;
    let loaded = match &args.world {
        Some(world) => source::from_world(world, args.execution_id, args.plan_id).await?,
        None => from_aws(&args, api).await?,
    };
    let (execution, trail) = match loaded {
        Ok(found) => found,
        Err(answer) => return source::refused(&answer, json),
    };
    let document = Document::of(Report::build(&execution, &trail));
    let rendered = document.render(format);
    match &args.output {
        Some(path) => write_file(path, &rendered)?,
        None => crate::output::print(&rendered).map_err(|e| CliError::output(&e))?,
    }
    Ok(Exit::Success)
}

#[cfg(feature = "aws")]
async fn from_aws(args: &ReportArgs, api: Option<&str>) -> Result<source::Loaded, CliError> {
    let plan_id = args
        .plan_id
        .ok_or_else(|| CliError::invalid("drctl report needs --plan PLAN_ID (or --world FILE)"))?;
    crate::aws::fetch(
        execution_core::api::Target {
            execution_id: args.execution_id,
            plan_id,
        },
        api,
    )
    .await
}

#[cfg(not(feature = "aws"))]
async fn from_aws(_: &ReportArgs, _: Option<&str>) -> Result<source::Loaded, CliError> {
    Err(crate::exit::aws_left_out("report"))
}

/// `--format`, else `--json`, else the output file's extension, else text.
fn chosen_format(
    format: Option<Format>,
    json: bool,
    output: Option<&Path>,
) -> Result<Format, CliError> {
    match (format, json, output) {
        (Some(f), _, _) => Ok(f),
        (None, true, _) => Ok(Format::Json),
        (None, false, Some(path)) => Format::of_path(path),
        (None, false, None) => Ok(Format::Text),
    }
}

/// A drill's `--report FILE`: the format its extension names, checked before the drill runs.
pub fn drill_report_file(path: Option<&PathBuf>) -> Result<Option<(PathBuf, Format)>, CliError> {
    path.map(|p| Format::of_path(p).map(|f| (p.clone(), f)))
        .transpose()
}

// -------------------------------------------------------------------------------------------
// What the renderings share
// -------------------------------------------------------------------------------------------

/// `2026-01-01T00:09:05Z`.
pub fn utc(t: Timestamp) -> String {
    drs_sim::time_fmt::format_utc(t.secs())
}

/// `T+00:09:05`: how long after `origin` (the timeline's start).
pub fn offset(origin: Timestamp, t: Timestamp) -> String {
    let secs = t.secs_since(origin);
    format!(
        "T+{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Whose clock: `DRS`, `EC2`, `engine`.
pub fn source_name(source: TimeSource) -> &'static str {
    match source {
        TimeSource::Drs => "DRS",
        TimeSource::Ec2 => "EC2",
        TimeSource::Engine => "engine",
    }
}

/// Why the execution waited for a person, in words.
pub fn decision_text(d: Decision) -> &'static str {
    match d {
        Decision::PlannedPause => "the plan's pause before a wave",
        Decision::OperatorPause => "an operator's pause",
        Decision::WaveFailed => "a failed wave waits for retry, skip or cancel",
        Decision::NotHealed => "the workflow ended and was not restarted",
    }
}

/// What a pause was, in words: `the plan's pause before wave 1`.
pub fn pause_text(p: &execution_core::report::Pause) -> String {
    match (p.decision, p.paused_before_wave, p.failed_wave) {
        (Some(Decision::WaveFailed), _, Some(n)) => {
            format!("wave {n} failed; waited for a decision")
        }
        (Some(Decision::PlannedPause), Some(n), _) => format!("the plan's pause before wave {n}"),
        (Some(Decision::OperatorPause), Some(n), _) => {
            format!("an operator's pause before wave {n}")
        }
        (Some(d), _, _) => decision_text(d).to_owned(),
        (None, Some(n), _) => format!("paused before wave {n}"),
        (None, None, _) => "paused".to_owned(),
    }
}

/// How a pause ended: `resume by drctl as …`, or that it still stands.
pub fn pause_end_text(p: &execution_core::report::Pause) -> String {
    match (&p.ended_with, &p.ended_by) {
        (Some(op), Some(by)) => format!("{op} by {by}"),
        _ => "still paused".to_owned(),
    }
}

/// How wave actions' time relates to the recovery times, for every rendering's definitions.
pub const ACTIONS_DEFINITION: &str = "Wave actions run outside each wave's recovery time: a wave's BEFORE_LAUNCH actions before its first DRS job, its AFTER_COMPLETE actions after its instances launched. The execution's recovery time holds the runs between its waves (one wave's AFTER_COMPLETE actions, the next wave's BEFORE_LAUNCH ones); every run falls within the execution's end-to-end time, from its creation to its end. A run is timed on the engine's clock, from when it was taken to when its end was recorded.";

/// `before launch`, `after complete`.
pub fn when_text(when: ActionWhen) -> &'static str {
    match when {
        ActionWhen::BeforeLaunch => "before launch",
        ActionWhen::AfterComplete => "after complete",
    }
}

/// What a failed run did: it failed its wave, or the execution went on (`CONTINUE`); `None` for
/// a run that did not fail.
pub fn action_consequence(a: &ActionReport) -> Option<&'static str> {
    match (a.status.is_failure(), a.failed_the_wave) {
        (true, true) => Some("failed the wave"),
        (true, false) => Some("onFailure CONTINUE: the execution went on"),
        (false, _) => None,
    }
}

/// `4 runs, 3m 20s (before launch 50s, after complete 2m 30s), 1 failed, 1 running`.
pub fn action_time_text(t: &ActionTime) -> String {
    let mut text = format!(
        "{}, {} (before launch {}, after complete {})",
        crate::text::count(t.runs as u64, "run", "runs"),
        duration(t.seconds),
        duration(t.before_launch_seconds),
        duration(t.after_complete_seconds)
    );
    if t.failed_runs > 0 {
        text.push_str(&format!(", {} failed", t.failed_runs));
    }
    if t.running_runs > 0 {
        text.push_str(&format!(", {} running", t.running_runs));
    }
    text
}

/// `LAMBDA`, `SSM_AUTOMATION`, or `–` when the record no longer lists the action.
pub fn action_kind(a: &ActionReport) -> &'static str {
    a.kind.map_or("–", ActionKind::as_str)
}

/// What a run answered or why it failed, without escaping (the caller escapes): the error of a
/// failed run (or the refusal a RUNNING run waits out), else its summary.
pub fn action_result(a: &ActionReport) -> Option<&str> {
    match (
        a.status.is_failure(),
        a.error.as_deref(),
        a.summary.as_deref(),
    ) {
        (true, Some(e), _) => Some(e),
        (_, _, Some(s)) => Some(s),
        (_, e, None) => e,
    }
}

/// An enum's wire name (`SERVERS_FAILED`, `TERMINATED`), as the record and the JSON spell it.
pub fn wire(value: &impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// What a wave boundary's figures are, for every rendering.
pub const BOUNDARIES_DEFINITION: &str = "A wave boundary's gap runs from the last server of a completed wave launched (the latest DRS endDateTime of its last attempt's jobs; where DRS had not ended one, the latest EC2 launchTime of its servers) to the next wave's first StartRecovery (where its recovery time starts: the earliest DRS creationDateTime of its first attempt's jobs); where the services gave no time the engine's stands in. Of the gap: the time paused, the time wave actions ran (the wave's AFTER_COMPLETE actions, the next wave's BEFORE_LAUNCH ones), and the rest, the engine's own wait between the waves (an action that ran while paused counts once).";

/// `0 (database) → 1 (app)` without escaping: the caller escapes for its medium.
pub fn boundary_label(b: &BoundaryReport) -> String {
    let end = |n: u32, name: Option<&str>| match name {
        Some(name) => format!("{n} ({name})"),
        None => n.to_string(),
    };
    format!(
        "{} → {}",
        end(b.from_wave, b.from_wave_name.as_deref()),
        end(b.to_wave, b.to_wave_name.as_deref())
    )
}

/// Whose clocks a boundary's ends were read on: `DRS → DRS`, `engine → engine`.
pub fn boundary_clocks(b: &BoundaryReport) -> String {
    format!(
        "{} → {}",
        source_name(b.from.source),
        source_name(b.to.source)
    )
}

/// `wave 1 (app)` without escaping: the caller escapes for its medium.
pub fn wave_label(number: u32, name: Option<&str>) -> String {
    match name {
        Some(n) => format!("wave {number} ({n})"),
        None => format!("wave {number}"),
    }
}

#[cfg(test)]
mod tests;
