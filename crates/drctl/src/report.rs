//! The end-of-run report: per wave its attempts, DRS jobs, servers, instances, addresses and
//! recovery time; the execution's total; the failures (and skipped waves) and why. Built from the
//! execution record; a drill adds what only it knows (time paused, why it stopped early).
//!
//! The text report shows every name and message from the record with its control and bidi
//! characters escaped ([`clean`]); the JSON report is escaped by serde.

use std::fmt::Write as _;

use drs_sim::time_fmt::format_utc;
use execution_core::audit::AuditEvent;
use execution_core::ids::{ExecutionId, InstanceId, JobId, PlanId, SourceServerId};
use execution_core::model::{Execution, Impact, PauseReason, ServerStatus, Wave, WaveFailure};
use execution_core::rules::lacks_details;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use serde::Serialize;

use crate::text::{clean, count, pad, width};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    pub is_drill: bool,
    pub status: ExecutionStatus,
    /// First launch → last wave settled, when the execution COMPLETED; pauses included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    /// How much of the recovery time the execution stood paused (a drill knows it; the record
    /// does not keep it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Why a PAUSED execution is paused, and the wave it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<PauseReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_wave: Option<u32>,
    pub waves: Vec<WaveReport>,
    /// The waves that FAILED, and the waves an operator SKIPPED after they failed.
    pub failures: Vec<FailureReport>,
    /// LAUNCHED servers whose instance EC2 has not described (no private IP, hostname, type).
    pub servers_without_ec2_details: Vec<SourceServerId>,
    /// Set when a drill stopped before its execution finished: the report is the record as it
    /// stood then.
    #[serde(flatten)]
    pub stopped: Option<Stopped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulation: Option<serde_json::Value>,
    /// The execution's audit trail, oldest first: who changed what, when (the API's `events`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<AuditEvent>,
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

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveReport {
    pub wave_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    pub status: WaveStatus,
    /// Attempts so far (1 unless the wave was retried; 0 if it never launched).
    pub attempts: u32,
    /// Every DRS job of every attempt, in the order they were recorded.
    pub jobs: Vec<JobReport>,
    /// StartRecovery calls for the wave, refused ones included, and DRS's last refusal.
    #[serde(skip_serializing_if = "is_zero")]
    pub launch_attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_launch_error: Option<String>,
    /// First attempt → every critical server launched: the wave's achieved recovery time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<WaveFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// OPTIONAL servers that did not launch (the wave completed without them).
    pub optional_not_launched: Vec<ServerReport>,
    pub servers: Vec<ServerReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    pub job_id: JobId,
    pub attempt: u32,
    pub part: u32,
    /// Servers of the wave whose latest job this is.
    pub servers: usize,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerReport {
    pub source_server_id: SourceServerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub impact: Impact,
    pub launch_status: LaunchStatus,
    /// Why it did not launch, when DRS did not say (not in its job, never started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureReport {
    pub wave_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    /// FAILED, or SKIPPED by an operator after it failed.
    pub status: WaveStatus,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<WaveFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The servers that did not launch.
    pub servers: Vec<ServerReport>,
}

impl Report {
    pub fn of(execution: &Execution) -> Self {
        let h = &execution.header;
        Self {
            execution_id: h.execution_id,
            plan_id: h.plan_id,
            plan_name: h.plan_name.clone(),
            is_drill: h.is_drill,
            status: h.status,
            recovery_time_seconds: h.recovery_time_seconds,
            paused_seconds: None,
            start_time: h.start_time.map(|t| format_utc(t.secs())),
            end_time: h.end_time.map(|t| format_utc(t.secs())),
            status_message: h.status_message.clone(),
            pause_reason: execution.pause_reason(),
            paused_before_wave: h.paused_before_wave,
            failed_wave: h.failed_wave,
            waves: execution.waves.iter().map(wave_report).collect(),
            failures: execution
                .waves
                .iter()
                .filter(|w| matches!(w.status, WaveStatus::Failed | WaveStatus::Skipped))
                .map(failure_report)
                .collect(),
            servers_without_ec2_details: execution
                .waves
                .iter()
                .flat_map(|w| &w.server_statuses)
                .filter(|s| lacks_details(s))
                .map(|s| s.source_server_id.clone())
                .collect(),
            stopped: None,
            simulation: None,
            events: Vec::new(),
        }
    }

    /// `s-… (name)` for a server of the report.
    fn server_label(&self, id: &SourceServerId) -> String {
        let server_name = self
            .waves
            .iter()
            .flat_map(|w| &w.servers)
            .find(|s| &s.source_server_id == id)
            .and_then(|s| s.server_name.clone());
        format!("{id}{}", name(&server_name))
    }

    /// The report for people: a table per wave, then the failures.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(stopped) = &self.stopped {
            let _ = writeln!(
                out,
                "PARTIAL REPORT ({}): the execution as it stood when the drill stopped",
                clean(&stopped.message)
            );
        }
        let kind = if self.is_drill { "drill" } else { "RECOVERY" };
        let plan = self
            .plan_name
            .as_deref()
            .map_or_else(|| self.plan_id.to_string(), |n| format!("'{}'", clean(n)));
        let _ = writeln!(
            out,
            "Execution {} of plan {plan} ({kind}): {}",
            self.execution_id, self.status
        );
        if let Some(t) = self.recovery_time_seconds {
            let _ = writeln!(
                out,
                "Total recovery time: {} (first launch to last wave settled, time paused included)",
                duration(t)
            );
        }
        if let Some(paused) = self.paused_seconds.filter(|p| *p > 0) {
            let without = self
                .recovery_time_seconds
                .map(|t| {
                    format!(
                        "; recovery time without pauses {}",
                        duration(t.saturating_sub(paused))
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(out, "Time paused: {}{without}", duration(paused));
        }
        match (&self.start_time, &self.end_time) {
            (Some(start), Some(end)) => {
                let _ = writeln!(out, "Started {start}, ended {end}");
            }
            (Some(start), None) => {
                let _ = writeln!(out, "Started {start}");
            }
            _ => {}
        }
        if let Some(m) = &self.status_message {
            let _ = writeln!(out, "Note: {}", clean(m));
        }
        if !self.servers_without_ec2_details.is_empty() {
            let servers: Vec<String> = self
                .servers_without_ec2_details
                .iter()
                .map(|id| self.server_label(id))
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
        match (self.pause_reason, self.failed_wave, self.paused_before_wave) {
            (Some(PauseReason::WaveFailed), Some(n), _) => {
                let _ = writeln!(
                    out,
                    "Waiting for a decision on failed wave {n}: drctl retry|skip {id} --plan {plan} --wave {n}, or drctl cancel",
                    id = self.execution_id,
                    plan = self.plan_id
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
        for w in &self.waves {
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
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nFailures:");
            for f in &self.failures {
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
                        clean(&s.launch_status.to_string())
                    );
                }
            }
        }
        if !self.events.is_empty() {
            let _ = writeln!(
                out,
                "\nTrail ({}, oldest first):",
                count(self.events.len() as u64, "event", "events")
            );
            for e in &self.events {
                let _ = writeln!(out, "  {}", trail_line(&format_utc(e.time.secs()), e));
            }
        }
        out
    }
}

fn wave_report(w: &Wave) -> WaveReport {
    let jobs = w
        .jobs
        .iter()
        .map(|j| JobReport {
            job_id: j.job_id.clone(),
            attempt: j.attempt,
            part: j.part,
            servers: w
                .server_statuses
                .iter()
                .filter(|s| s.job_id.as_ref() == Some(&j.job_id))
                .count(),
        })
        .collect();
    let optional_not_launched = if w.status == WaveStatus::Completed {
        w.server_statuses
            .iter()
            .filter(|s| s.impact == Impact::Optional && s.launch_status != LaunchStatus::Launched)
            .map(server_report)
            .collect()
    } else {
        Vec::new()
    };
    WaveReport {
        wave_number: w.wave_number,
        wave_name: w.wave_name.clone(),
        status: w.status,
        attempts: w.attempt,
        jobs,
        launch_attempts: w.launch_attempts,
        last_launch_error: w.last_launch_error.clone(),
        recovery_time_seconds: w.recovery_time_seconds,
        failure_reason: w.failure_reason,
        status_message: w.status_message.clone(),
        optional_not_launched,
        servers: w.server_statuses.iter().map(server_report).collect(),
    }
}

fn failure_report(w: &Wave) -> FailureReport {
    FailureReport {
        wave_number: w.wave_number,
        wave_name: w.wave_name.clone(),
        status: w.status,
        attempts: w.attempt,
        reason: w.failure_reason,
        message: w.status_message.clone(),
        servers: w
            .server_statuses
            .iter()
            .filter(|s| s.launch_status != LaunchStatus::Launched)
            .map(server_report)
            .collect(),
    }
}

fn server_report(s: &ServerStatus) -> ServerReport {
    ServerReport {
        source_server_id: s.source_server_id.clone(),
        server_name: s.server_name.clone(),
        impact: s.impact,
        launch_status: s.launch_status.clone(),
        status_message: s.status_message.clone(),
        instance_id: s.instance_id.clone(),
        private_ip: s.private_ip.clone(),
        hostname: s.hostname.clone(),
        instance_type: s.instance_type.clone(),
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
                clean(&s.launch_status.to_string()).into_owned(),
                dash(s.instance_id.as_ref().map(InstanceId::as_str)),
                dash(s.private_ip.as_deref()),
                dash(s.hostname.as_deref()),
                dash(s.instance_type.as_deref()),
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
    // Display columns, not bytes: a CJK name takes two columns a character.
    let mut widths = header.clone().map(|h| width(&h));
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row.iter().zip(widths).map(|(c, w)| pad(c, w)).collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
}

/// An event of the trail on one line: `WHEN [operation by actor] summary`, every part from the
/// record escaped. The lines are about one execution, named above them, so the summary's
/// `Execution ID (plan PLAN_ID)` is shortened to `Execution`.
pub fn trail_line(when: &str, event: &AuditEvent) -> String {
    let summary = event.summary();
    let named = format!("Execution {} (plan {})", event.execution_id, event.plan_id);
    let summary = summary
        .strip_prefix(&named)
        .map_or_else(|| summary.clone(), |rest| format!("Execution{rest}"));
    format!(
        "{when} [{} by {}] {}",
        clean(&event.operation),
        clean(&event.actor.to_string()),
        clean(&summary)
    )
}

/// The wire name (`SERVERS_FAILED`), as the record and the JSON report spell it.
pub fn failure_name(f: WaveFailure) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(42), "42s");
        assert_eq!(duration(545), "9m 05s");
        assert_eq!(duration(3723), "1h 02m 03s");
    }
}
