//! The wave rules and `nextAction` of SPEC §3: pure functions of a record, a DRS job and the time.

use serde::Serialize;

use crate::model::{Execution, ServerStatus, Timestamp, Wave, WaveFailure};
use crate::ports::DrsJob;
use crate::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};

/// Tunables of the rules that are not part of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How long a launched wave's job may be missing from DescribeJobs (DRS is eventually
    /// consistent) before the wave fails.
    pub job_not_found_grace_secs: u64,
    /// How long a wave may stay LAUNCHING (claimed, job not recorded) before launch is asked again
    /// to finish the claim (find the tagged job, or start it).
    pub launch_claim_grace_secs: u64,
    /// How long FINALIZE waits after the last wave settled for EC2 to describe instances it did
    /// not know yet (EC2 is eventually consistent), so the final record has every server's
    /// details. Past it the execution finalizes with those fields empty.
    pub details_grace_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            job_not_found_grace_secs: 300,
            launch_claim_grace_secs: 120,
            details_grace_secs: 120,
        }
    }
}

/// What a STARTED wave is, given what DRS says of its job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: WaveStatus,
    pub failure: Option<WaveFailure>,
    pub message: Option<String>,
}

impl Verdict {
    fn started() -> Self {
        Self {
            status: WaveStatus::Started,
            failure: None,
            message: None,
        }
    }
    fn completed() -> Self {
        Self {
            status: WaveStatus::Completed,
            failure: None,
            message: None,
        }
    }
    fn failed(failure: WaveFailure, message: String) -> Self {
        Self {
            status: WaveStatus::Failed,
            failure: Some(failure),
            message: Some(message),
        }
    }
}

/// The wave rules, in order; the first that applies decides. `job` is `None` when DescribeJobs
/// did not return the wave's job.
pub fn judge_wave(wave: &Wave, job: Option<&DrsJob>, now: Timestamp, policy: &Policy) -> Verdict {
    let age = wave.launch_time.map_or(0, |t| now.secs_since(t));
    let Some(job) = job else {
        // Rule 4: DRS is eventually consistent; give a fresh job time to appear.
        return if age <= policy.job_not_found_grace_secs {
            Verdict::started()
        } else {
            let id = wave
                .job_id
                .as_ref()
                .map_or_else(|| "(none recorded)".to_owned(), |j| j.to_string());
            Verdict::failed(
                WaveFailure::JobNotFound,
                format!("DRS job {id} not found {age} s after launch"),
            )
        };
    };
    let servers = &job.participating_servers;
    let count = |s: LaunchStatus| servers.iter().filter(|p| p.launch_status == s).count();
    let launched = count(LaunchStatus::Launched);
    let unsettled = servers
        .iter()
        .filter(|p| !p.launch_status.is_settled())
        .count();

    // Rule 1: every participating server launched.
    if !servers.is_empty() && launched == servers.len() {
        return Verdict::completed();
    }
    // Rule 2: all settled, some not launched.
    if !servers.is_empty() && unsettled == 0 {
        let (failed, terminated) = (count(LaunchStatus::Failed), count(LaunchStatus::Terminated));
        return Verdict::failed(
            WaveFailure::ServersFailed,
            format!(
                "{} of {} servers did not launch ({failed} FAILED, {terminated} TERMINATED)",
                servers.len() - launched,
                servers.len()
            ),
        );
    }
    // Rule 3: DRS finished the job without launching everything.
    if job.status == JobStatus::Completed {
        let message = if servers.is_empty() {
            "DRS job completed with no participating servers".to_owned()
        } else {
            format!(
                "DRS job completed but {} servers did not launch",
                servers.len() - launched
            )
        };
        return Verdict::failed(WaveFailure::JobIncomplete, message);
    }
    // Rule 5: the wave's own deadline.
    if age > wave.timeout_seconds {
        return Verdict::failed(
            WaveFailure::TimedOut,
            format!(
                "wave timed out after {age} s (timeout {} s); {launched} of {} servers launched",
                wave.timeout_seconds,
                servers.len()
            ),
        );
    }
    // Rule 6.
    Verdict::started()
}

/// The next step of an execution: what the state machine (or any local driver) does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NextAction {
    Launch,
    Wait,
    Pause,
    Finalize,
}

impl NextAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Launch => "LAUNCH",
            Self::Wait => "WAIT",
            Self::Pause => "PAUSE",
            Self::Finalize => "FINALIZE",
        }
    }
}

/// SPEC §3's `nextAction`: the first of FINALIZE, WAIT, PAUSE, LAUNCH that applies. One
/// refinement: a wave stuck LAUNCHING past the claim grace period (its launcher died) asks for
/// LAUNCH again, so that launch can finish the claim instead of the workflow waiting forever.
pub fn next_action(execution: &Execution, now: Timestamp, policy: &Policy) -> NextAction {
    let status = execution.status();
    let in_flight: Vec<&Wave> = execution.in_flight().collect();
    let any_failed = execution
        .waves
        .iter()
        .any(|w| w.status == WaveStatus::Failed);

    if status.is_terminal() {
        return NextAction::Finalize;
    }
    if execution.all_waves_complete()
        || (in_flight.is_empty() && (any_failed || status == ExecutionStatus::Cancelling))
    {
        return if awaiting_details(execution, now, policy) {
            NextAction::Wait
        } else {
            NextAction::Finalize
        };
    }
    if let Some(wave) = in_flight.first() {
        return if is_stale_claim(wave, now, policy) {
            NextAction::Launch
        } else {
            NextAction::Wait
        };
    }
    match execution.next_pending() {
        // Not reachable for a well-formed record (no wave pending, none in flight, none failed
        // means all complete); finalize will say what is wrong.
        None => NextAction::Finalize,
        Some(next)
            if status == ExecutionStatus::Paused
                || (next.pause_before_wave && !next.pause_approved) =>
        {
            NextAction::Pause
        }
        Some(_) => NextAction::Launch,
    }
}

/// A launched server whose recovery instance, or the EC2 facts of it, are not known yet.
pub fn lacks_details(server: &ServerStatus) -> bool {
    server.launch_status == LaunchStatus::Launched
        && (server.instance_id.is_none() || server.instance_state.is_none())
}

/// Some wave settled less than the details grace ago with a launched server still lacking details:
/// one more poll may fill them in.
fn awaiting_details(execution: &Execution, now: Timestamp, policy: &Policy) -> bool {
    execution.waves.iter().any(|w| {
        w.end_time
            .is_some_and(|end| now.secs_since(end) <= policy.details_grace_secs)
            && w.server_statuses.iter().any(lacks_details)
    })
}

/// A LAUNCHING wave whose launcher has had more than the grace period to record its job.
pub fn is_stale_claim(wave: &Wave, now: Timestamp, policy: &Policy) -> bool {
    wave.status == WaveStatus::Launching
        && wave
            .launch_time
            .is_none_or(|t| now.secs_since(t) > policy.launch_claim_grace_secs)
}

/// What finalize would write, or the waves that keep it from finalizing.
pub fn outcome(execution: &Execution) -> Result<ExecutionStatus, Vec<u32>> {
    if execution.status().is_terminal() {
        return Ok(execution.status());
    }
    if execution.all_waves_complete() {
        return Ok(ExecutionStatus::Completed);
    }
    let in_flight: Vec<u32> = execution.in_flight().map(|w| w.wave_number).collect();
    if in_flight.is_empty() {
        if execution
            .waves
            .iter()
            .any(|w| w.status == WaveStatus::Failed)
        {
            return Ok(ExecutionStatus::Failed);
        }
        if execution.status() == ExecutionStatus::Cancelling {
            return Ok(ExecutionStatus::Cancelled);
        }
    }
    Err(execution
        .waves
        .iter()
        .filter(|w| !w.status.is_settled())
        .map(|w| w.wave_number)
        .collect())
}

#[cfg(test)]
mod tests;
