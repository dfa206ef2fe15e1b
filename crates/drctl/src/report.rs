//! The end-of-run report: per wave its servers, instances, addresses and recovery time; the
//! execution's total; the failures and why. Built from the execution record alone.

use std::fmt::Write as _;

use drs_sim::time_fmt::format_utc;
use execution_core::ids::{ExecutionId, InstanceId, JobId, PlanId, SourceServerId};
use execution_core::model::{Execution, ServerStatus, Wave, WaveFailure};
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    pub is_drill: bool,
    pub status: ExecutionStatus,
    /// First launch → last wave settled, when the execution COMPLETED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    pub waves: Vec<WaveReport>,
    pub failures: Vec<FailureReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulation: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveReport {
    pub wave_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    pub status: WaveStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// Launch → every server launched: the wave's achieved recovery time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    pub servers: Vec<ServerReport>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerReport {
    pub source_server_id: SourceServerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub launch_status: LaunchStatus,
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
            start_time: h.start_time.map(|t| format_utc(t.secs())),
            end_time: h.end_time.map(|t| format_utc(t.secs())),
            status_message: h.status_message.clone(),
            waves: execution.waves.iter().map(wave_report).collect(),
            failures: execution
                .waves
                .iter()
                .filter(|w| w.status == WaveStatus::Failed)
                .map(failure_report)
                .collect(),
            simulation: None,
        }
    }

    /// The report for people: a table per wave, then the failures.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let kind = if self.is_drill { "drill" } else { "RECOVERY" };
        let plan = self
            .plan_name
            .as_deref()
            .map_or_else(|| self.plan_id.to_string(), |n| format!("'{n}'"));
        let _ = writeln!(
            out,
            "Execution {} of plan {plan} ({kind}): {}",
            self.execution_id, self.status
        );
        if let Some(t) = self.recovery_time_seconds {
            let _ = writeln!(
                out,
                "Total recovery time: {} (first launch to last wave launched)",
                duration(t)
            );
        }
        if let (Some(start), Some(end)) = (&self.start_time, &self.end_time) {
            let _ = writeln!(out, "Started {start}, ended {end}");
        }
        if let Some(m) = &self.status_message {
            let _ = writeln!(out, "Note: {m}");
        }
        for w in &self.waves {
            let _ = writeln!(out);
            let time = w
                .recovery_time_seconds
                .map(|t| format!("  recovery time {}", duration(t)))
                .unwrap_or_default();
            let job = w
                .job_id
                .as_ref()
                .map(|j| format!("  job {j}"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "Wave {}{}: {}{time}{job}",
                w.wave_number,
                name(&w.wave_name),
                w.status
            );
            server_table(&mut out, &w.servers);
        }
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nFailures:");
            for f in &self.failures {
                let reason = f.reason.map(failure_name).unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  wave {}{}: {reason} {}",
                    f.wave_number,
                    name(&f.wave_name),
                    f.message.as_deref().unwrap_or("")
                );
                for s in &f.servers {
                    let _ = writeln!(out, "    {} {}", s.source_server_id, s.launch_status);
                }
            }
        }
        out
    }
}

fn wave_report(w: &Wave) -> WaveReport {
    WaveReport {
        wave_number: w.wave_number,
        wave_name: w.wave_name.clone(),
        status: w.status,
        job_id: w.job_id.clone(),
        recovery_time_seconds: w.recovery_time_seconds,
        servers: w.server_statuses.iter().map(server_report).collect(),
    }
}

fn failure_report(w: &Wave) -> FailureReport {
    FailureReport {
        wave_number: w.wave_number,
        wave_name: w.wave_name.clone(),
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
        launch_status: s.launch_status,
        instance_id: s.instance_id.clone(),
        private_ip: s.private_ip.clone(),
        hostname: s.hostname.clone(),
        instance_type: s.instance_type.clone(),
    }
}

fn server_table(out: &mut String, servers: &[ServerReport]) {
    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
    let rows: Vec<[String; 6]> = servers
        .iter()
        .map(|s| {
            [
                s.source_server_id.to_string(),
                dash(s.server_name.clone()),
                s.launch_status.to_string(),
                dash(s.instance_id.as_ref().map(ToString::to_string)),
                dash(s.private_ip.clone()),
                dash(s.instance_type.clone()),
            ]
        })
        .collect();
    let header = [
        "SOURCE SERVER",
        "NAME",
        "STATUS",
        "INSTANCE",
        "PRIVATE IP",
        "TYPE",
    ]
    .map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
    }
}

/// The wire name (`SERVERS_FAILED`), as the record and the JSON report spell it.
pub fn failure_name(f: WaveFailure) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn name(n: &Option<String>) -> String {
    n.as_deref().map(|n| format!(" ({n})")).unwrap_or_default()
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
