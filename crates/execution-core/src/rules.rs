//! The wave rules and `nextAction` of SPEC §3: pure functions of a record, DRS's jobs and the time.

use std::collections::HashMap;

use serde::Serialize;

use crate::actions::{action_step, ActionStep, ActionWhen};
use crate::ids::{JobId, SourceServerId};
use crate::model::{
    Execution, FailurePolicy, Impact, PauseReason, ServerStatus, Timestamp, Wave, WaveFailure,
};
use crate::ports::{DrsJob, ParticipatingServer};
use crate::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};

/// Tunables of the rules that are not part of a plan (deployment settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// How long a launched wave's job may be missing from DescribeJobs (DRS is eventually
    /// consistent) before the wave fails.
    pub job_not_found_grace_secs: u64,
    /// How long a launcher may hold a wave's claim (between taking it and recording the job)
    /// before launch is asked again to finish it (find the tagged job, or start it).
    pub launch_claim_grace_secs: u64,
    /// How long FINALIZE waits after the last wave settled for EC2 to describe instances it did
    /// not know yet (EC2 is eventually consistent), so the final record has every server's
    /// details. Past it the execution finalizes with those fields empty.
    pub details_grace_secs: u64,
    /// Servers per DRS job (`maxServersPerJob`): a wave is launched as as many jobs as it needs.
    pub max_servers_per_job: u32,
    /// Attempts per wave, the first included (`maxWaveAttempts`): retry refuses past it.
    pub max_wave_attempts: u32,
    /// The first wait after StartRecovery was refused for a reason that clears on its own, when
    /// DRS named none; it doubles with each refusal up to [`Self::launch_backoff_max_secs`].
    pub launch_backoff_secs: u64,
    pub launch_backoff_max_secs: u64,
}

/// DRS's quota of source servers in one job.
pub const MAX_SERVERS_PER_JOB: u32 = 200;
pub const DEFAULT_MAX_SERVERS_PER_JOB: u32 = 100;
pub const DEFAULT_MAX_WAVE_ATTEMPTS: u32 = 3;

impl Default for Policy {
    fn default() -> Self {
        Self {
            job_not_found_grace_secs: 300,
            launch_claim_grace_secs: 120,
            details_grace_secs: 120,
            max_servers_per_job: DEFAULT_MAX_SERVERS_PER_JOB,
            max_wave_attempts: DEFAULT_MAX_WAVE_ATTEMPTS,
            launch_backoff_secs: 10,
            launch_backoff_max_secs: 120,
        }
    }
}

/// A deployment setting outside what DRS or the engine allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyProblem {
    #[error("maxServersPerJob must be 1 to {MAX_SERVERS_PER_JOB} (DRS's per-job quota), got {0}")]
    MaxServersPerJob(u64),
    #[error("maxWaveAttempts must be 1 to 100, got {0}")]
    MaxWaveAttempts(u64),
}

impl Policy {
    /// The default policy with the two settings a deployment may set, each checked.
    pub fn with_limits(
        max_servers_per_job: Option<u64>,
        max_wave_attempts: Option<u64>,
    ) -> Result<Self, PolicyProblem> {
        let mut policy = Self::default();
        if let Some(n) = max_servers_per_job {
            policy.max_servers_per_job = u32::try_from(n)
                .ok()
                .filter(|n| (1..=MAX_SERVERS_PER_JOB).contains(n))
                .ok_or(PolicyProblem::MaxServersPerJob(n))?;
        }
        if let Some(n) = max_wave_attempts {
            policy.max_wave_attempts = u32::try_from(n)
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or(PolicyProblem::MaxWaveAttempts(n))?;
        }
        Ok(policy)
    }

    /// How long to wait before the next StartRecovery after `refusals` refusals in a row, when
    /// DRS named no time of its own (`retry_after` wins when it did).
    pub fn launch_backoff(&self, refusals: u32, retry_after: Option<u64>) -> u64 {
        retry_after.unwrap_or_else(|| {
            let doublings = refusals.saturating_sub(1).min(16);
            self.launch_backoff_secs
                .saturating_mul(1 << doublings)
                .min(self.launch_backoff_max_secs)
        })
    }
}

/// What a wave is, given what DRS says of its jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub status: WaveStatus,
    pub failure: Option<WaveFailure>,
    pub message: Option<String>,
    /// OPTIONAL servers that did not launch (on a COMPLETED verdict).
    pub optional_not_launched: u32,
}

impl Verdict {
    fn stays(wave: &Wave) -> Self {
        Self {
            status: wave.status,
            failure: None,
            message: None,
            optional_not_launched: 0,
        }
    }
    fn completed(optional_not_launched: u32) -> Self {
        Self {
            status: WaveStatus::Completed,
            failure: None,
            message: (optional_not_launched > 0)
                .then(|| format!("{optional_not_launched} optional servers did not launch")),
            optional_not_launched,
        }
    }
    fn failed(failure: WaveFailure, message: String) -> Self {
        Self {
            status: WaveStatus::Failed,
            failure: Some(failure),
            message: Some(message),
            optional_not_launched: 0,
        }
    }
}

/// DescribeJobs' answer, by job id. A job DRS did not return is absent.
pub type JobsById = HashMap<JobId, DrsJob>;

/// Copies DRS's view of each server of `job` onto the wave's entries of that job. A server the
/// job was asked for and does not list is not launched: once the job is COMPLETED it is FAILED
/// ("not in the DRS job"). Returns the servers the job lists that the wave does not hold.
pub fn apply_job(wave: &mut Wave, job: &DrsJob) -> Vec<SourceServerId> {
    // DRS's own clock for the report: when the job was created, and when it ended.
    if let Some(recorded) = wave.jobs.iter_mut().find(|j| j.job_id == job.job_id) {
        recorded.created_time = recorded.created_time.or(job.created_time);
        if job.ended_time.is_some() {
            recorded.ended_time = job.ended_time;
        }
    }
    let listed: HashMap<&SourceServerId, &ParticipatingServer> = job
        .participating_servers
        .iter()
        .map(|p| (&p.source_server_id, p))
        .collect();
    let mut seen = 0;
    for entry in wave
        .server_statuses
        .iter_mut()
        .filter(|s| s.job_id.as_ref() == Some(&job.job_id))
    {
        match listed.get(&entry.source_server_id) {
            Some(p) => {
                seen += 1;
                entry.launch_status = p.launch_status.clone();
                if let Some(ri) = &p.recovery_instance_id {
                    // In DRS a recovery instance id is its EC2 instance id.
                    if entry.recovery_instance_id.as_ref() != Some(ri) {
                        entry.recovery_instance_id = Some(ri.clone());
                        entry.instance_id = Some(ri.clone());
                    }
                }
            }
            None if job.status == JobStatus::Completed => {
                entry.launch_status = LaunchStatus::Failed;
                entry.status_message = Some(format!("not in the DRS job {}", job.job_id));
            }
            None => {}
        }
    }
    if seen == listed.len() {
        return Vec::new();
    }
    let held: std::collections::HashSet<&SourceServerId> = wave.source_server_ids().collect();
    job.participating_servers
        .iter()
        .map(|p| &p.source_server_id)
        .filter(|s| !held.contains(s))
        .cloned()
        .collect()
}

/// Where a server of the current attempt stands, for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    Launched,
    /// Settled without launching; the failure it stands for.
    NotLaunched(WaveFailure),
    Running,
}

fn standing(
    server: &ServerStatus,
    wave: &Wave,
    jobs: &JobsById,
    now: Timestamp,
    policy: &Policy,
) -> Standing {
    if server.launch_status == LaunchStatus::Launched {
        return Standing::Launched;
    }
    let Some(job_id) = &server.job_id else {
        // Not started in this attempt (yet): running while the wave launches.
        return if server.launch_status.is_settled() {
            Standing::NotLaunched(WaveFailure::ServersFailed)
        } else {
            Standing::Running
        };
    };
    match jobs.get(job_id) {
        Some(job) if job.status == JobStatus::Completed => {
            let listed = job
                .participating_servers
                .iter()
                .any(|p| p.source_server_id == server.source_server_id);
            if listed && server.launch_status.is_settled() {
                Standing::NotLaunched(WaveFailure::ServersFailed)
            } else {
                Standing::NotLaunched(WaveFailure::JobIncomplete)
            }
        }
        Some(_) if server.launch_status.is_settled() => {
            Standing::NotLaunched(WaveFailure::ServersFailed)
        }
        Some(_) => Standing::Running,
        None => {
            let recorded = wave
                .jobs
                .iter()
                .find(|j| &j.job_id == job_id)
                .map_or(wave.attempt_time, |j| Some(j.recorded_time));
            let age = recorded.map_or(0, |t| now.secs_since(t));
            if server.launch_status.is_settled() {
                Standing::NotLaunched(WaveFailure::ServersFailed)
            } else if age > policy.job_not_found_grace_secs {
                Standing::NotLaunched(WaveFailure::JobNotFound)
            } else {
                Standing::Running
            }
        }
    }
}

/// The wave rules of SPEC §3, in order, for a wave whose servers carry what DRS said of their jobs
/// ([`apply_job`]). A STARTED wave is judged by every rule; a LAUNCHING wave only by its timeout,
/// and not while a launcher holds a fresh claim on it; any other wave stays as it is.
pub fn judge_wave(wave: &Wave, jobs: &JobsById, now: Timestamp, policy: &Policy) -> Verdict {
    let age = wave.attempt_time.map_or(0, |t| now.secs_since(t));
    let timed_out = age > wave.timeout_seconds;
    let standings: Vec<(Impact, Standing)> = wave
        .server_statuses
        .iter()
        .map(|s| (s.impact, standing(s, wave, jobs, now, policy)))
        .collect();
    let critical_launched = standings
        .iter()
        .all(|(i, s)| *i == Impact::Optional || *s == Standing::Launched);
    let optional_not_launched = || {
        let n = standings
            .iter()
            .filter(|(i, s)| *i == Impact::Optional && *s != Standing::Launched)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    };
    match wave.status {
        WaveStatus::Started => {}
        WaveStatus::Launching => {
            // A claim that is held, or whose StartRecovery answer was lost, may have a job: launch
            // settles it by the job's tags (and applies the timeout) before anything is judged.
            let job_may_exist = wave.claim.as_ref().is_some_and(|c| c.held || c.uncertain);
            if !timed_out || job_may_exist {
                return Verdict::stays(wave);
            }
            if critical_launched {
                return Verdict::completed(optional_not_launched());
            }
            return if wave.current_jobs().next().is_none() {
                Verdict::failed(
                    WaveFailure::LaunchBlocked,
                    format!(
                        "DRS did not start the wave within its timeout ({} s, {} StartRecovery calls); last refusal: {}",
                        wave.timeout_seconds,
                        wave.launch_attempts,
                        wave.last_launch_error.as_deref().unwrap_or("none recorded")
                    ),
                )
            } else {
                timed_out_verdict(wave, age, &standings)
            };
        }
        _ => return Verdict::stays(wave),
    }

    // Rule 1: every critical server launched and every optional one settled.
    let running = standings
        .iter()
        .filter(|(_, s)| *s == Standing::Running)
        .count();
    if critical_launched && running == 0 {
        return Verdict::completed(optional_not_launched());
    }
    // Rules 3 and 4: a job that completed without launching a critical server of it, or a job DRS
    // has not returned for longer than the grace period.
    let lost = |failure: WaveFailure| {
        standings
            .iter()
            .filter(|(i, s)| *i == Impact::Critical && *s == Standing::NotLaunched(failure))
            .count()
    };
    let incomplete = lost(WaveFailure::JobIncomplete);
    if incomplete > 0 {
        let message = if wave.current_jobs().any(|j| {
            jobs.get(&j.job_id)
                .is_some_and(|d| d.participating_servers.is_empty())
        }) {
            format!("DRS job completed with no participating servers; {incomplete} servers did not launch")
        } else {
            format!("DRS job completed but {incomplete} servers did not launch")
        };
        return Verdict::failed(WaveFailure::JobIncomplete, message);
    }
    let missing = lost(WaveFailure::JobNotFound);
    if missing > 0 {
        let ids: Vec<String> = wave
            .jobs_to_follow()
            .into_iter()
            .filter(|j| !jobs.contains_key(j))
            .map(|j| j.to_string())
            .collect();
        return Verdict::failed(
            WaveFailure::JobNotFound,
            format!(
                "DRS job {} not found for more than {} s; {missing} servers unaccounted for",
                ids.join(", "),
                policy.job_not_found_grace_secs
            ),
        );
    }
    // Rule 2: every server settled, a critical one not launched.
    if running == 0 {
        let count = |l: LaunchStatus| {
            wave.server_statuses
                .iter()
                .filter(|s| s.impact == Impact::Critical && s.launch_status == l)
                .count()
        };
        let critical = standings
            .iter()
            .filter(|(i, _)| *i == Impact::Critical)
            .count();
        let not_launched = standings
            .iter()
            .filter(|(i, s)| *i == Impact::Critical && *s != Standing::Launched)
            .count();
        return Verdict::failed(
            WaveFailure::ServersFailed,
            format!(
                "{not_launched} of {critical} critical servers did not launch ({} FAILED, {} TERMINATED)",
                count(LaunchStatus::Failed),
                count(LaunchStatus::Terminated)
            ),
        );
    }
    // Rule 5: the wave's own deadline, unless every critical server made it.
    if timed_out {
        return if critical_launched {
            Verdict::completed(optional_not_launched())
        } else {
            timed_out_verdict(wave, age, &standings)
        };
    }
    // Rule 6.
    Verdict::stays(wave)
}

/// Writes `verdict` onto `wave` when it changes the wave's status: when it settled, why, and (for
/// COMPLETED) the recovery time from the first attempt. The status itself is the gate's to write.
pub fn apply_verdict(wave: &mut Wave, verdict: &Verdict, at: Timestamp) {
    if verdict.status == wave.status {
        return;
    }
    wave.end_time = Some(at);
    wave.failure_reason = verdict.failure;
    wave.status_message.clone_from(&verdict.message);
    wave.optional_not_launched = verdict.optional_not_launched;
    wave.claim = None;
    if verdict.status == WaveStatus::Completed {
        wave.recovery_time_seconds = wave.launch_time.map(|t| at.secs_since(t));
    }
}

fn timed_out_verdict(wave: &Wave, age: u64, standings: &[(Impact, Standing)]) -> Verdict {
    let critical = standings.iter().filter(|(i, _)| *i == Impact::Critical);
    let launched = critical
        .clone()
        .filter(|(_, s)| *s == Standing::Launched)
        .count();
    Verdict::failed(
        WaveFailure::TimedOut,
        format!(
            "wave timed out after {age} s (timeout {} s); {launched} of {} critical servers launched",
            wave.timeout_seconds,
            critical.count()
        ),
    )
}

/// The next step of an execution: what the state machine (or any local driver) does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NextAction {
    Launch,
    Wait,
    Pause,
    /// A wave action must start (or be sent again): call act.
    Act,
    Finalize,
}

impl NextAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Launch => "LAUNCH",
            Self::Wait => "WAIT",
            Self::Pause => "PAUSE",
            Self::Act => "ACT",
            Self::Finalize => "FINALIZE",
        }
    }
}

/// SPEC §3's `nextAction`: the first of FINALIZE, WAIT, PAUSE, ACT, LAUNCH that applies. A wave in
/// flight asks for LAUNCH while it still has servers to start and no launcher holds it (after a
/// refusal's backoff, or when its launcher died), so launch can carry on where it stopped. A wave
/// action running counts as in flight (WAIT; ACT when its start must be sent again). A wave's
/// AFTER_COMPLETE actions belong to it: they run before the next wave's planned pause; an
/// operator's pause or a failed wave waiting on a decision stops them like anything new.
pub fn next_action(execution: &Execution, now: Timestamp, policy: &Policy) -> NextAction {
    if execution.status().is_terminal() {
        return NextAction::Finalize;
    }
    if finished(execution).is_some() {
        return if awaiting_details(execution, now, policy) {
            NextAction::Wait
        } else {
            NextAction::Finalize
        };
    }
    if let Some(wave) = execution.in_flight().next() {
        return if launch_due(wave, execution.status(), now, policy) {
            NextAction::Launch
        } else {
            NextAction::Wait
        };
    }
    let step = |before_launch| {
        action_step(
            execution,
            now,
            policy.launch_claim_grace_secs,
            policy.details_grace_secs,
            before_launch,
        )
    };
    match step(false) {
        Some(ActionStep::Running { .. }) => return NextAction::Wait,
        Some(ActionStep::Due { resend: true, .. }) => return NextAction::Act,
        _ => {}
    }
    if pause_due(execution).is_some() {
        return NextAction::Pause;
    }
    if matches!(step(true), Some(ActionStep::Due { .. })) {
        return NextAction::Act;
    }
    match execution.next_pending() {
        // Not reachable for a well-formed record (nothing pending, in flight or waiting means
        // finished); finalize will say what is wrong.
        None => NextAction::Finalize,
        Some(_) => NextAction::Launch,
    }
}

/// Whether an operator may still retry this FAILED wave: a wave an action failed runs that action
/// at most `maxWaveAttempts` times (and never more than 10); any other failed wave has at most
/// `maxWaveAttempts` attempts. The one answer retry and every driver share.
pub fn retry_left(wave: &Wave, policy: &Policy) -> bool {
    match wave.failure_reason {
        Some(WaveFailure::ActionFailed) => wave.failed_action().is_some_and(|(_, run)| {
            run.attempt
                < policy
                    .max_wave_attempts
                    .min(crate::actions::MAX_RUNS_PER_ACTION)
        }),
        _ => wave.attempt < policy.max_wave_attempts,
    }
}

/// A wave action runs somewhere in the execution: a RUNNING run that is not held by an
/// operator's pause (one that waits to be sent again does not run while the execution is PAUSED).
pub fn action_running(execution: &Execution) -> bool {
    let paused = execution.status() == ExecutionStatus::Paused;
    execution.waves.iter().any(|w| {
        w.running_action().is_some_and(|run| {
            let held = paused
                && w.actions
                    .iter()
                    .find(|a| a.name == run.name)
                    .is_some_and(|a| crate::actions::awaits_send(a, run));
            !held
        })
    })
}

/// A COMPLETED wave has AFTER_COMPLETE actions still to run.
pub fn after_actions_pending(execution: &Execution) -> bool {
    execution.waves.iter().any(|w| {
        w.status == WaveStatus::Completed && w.next_action_of(ActionWhen::AfterComplete).is_some()
    })
}

/// The outcome when the execution has nothing left to do, the one definition of "finished" that
/// `nextAction` and finalize share: every wave passed (COMPLETED, or COMPLETED_WITH_ERRORS when a
/// wave was skipped or an optional server did not launch); nothing in flight and a wave FAILED that
/// stops the execution (policy STOP, or a cancel) → FAILED; cancelled with nothing in flight →
/// CANCELLED. `None` while anything is in flight or a failed wave waits for a decision.
pub fn finished(execution: &Execution) -> Option<ExecutionStatus> {
    if execution.status().is_terminal() {
        return Some(execution.status());
    }
    let cancelling = execution.status() == ExecutionStatus::Cancelling;
    if execution.in_flight().next().is_some()
        || action_running(execution)
        || (!cancelling && after_actions_pending(execution))
    {
        return None;
    }
    if execution.all_waves_complete() {
        // Cancelled before the last waves' AFTER_COMPLETE actions ran (a DNS switch that never
        // happened): not a completed recovery.
        if cancelling && after_actions_pending(execution) {
            return Some(ExecutionStatus::Cancelled);
        }
        let with_errors = execution
            .waves
            .iter()
            .any(|w| w.status == WaveStatus::Skipped || w.optional_not_launched > 0);
        return Some(if with_errors {
            ExecutionStatus::CompletedWithErrors
        } else {
            ExecutionStatus::Completed
        });
    }
    let failed = execution
        .waves
        .iter()
        .find(|w| w.status == WaveStatus::Failed);
    match failed {
        Some(w) if cancelling || w.failure_policy() == FailurePolicy::Stop => {
            Some(ExecutionStatus::Failed)
        }
        Some(_) => None,
        None if cancelling => Some(ExecutionStatus::Cancelled),
        None => None,
    }
}

/// The FAILED wave an operator must decide on (retry, skip or cancel): nothing in flight, not
/// cancelling, and the wave's policy is PAUSE.
pub fn awaiting_decision(execution: &Execution) -> Option<&Wave> {
    if execution.status().is_terminal()
        || execution.status() == ExecutionStatus::Cancelling
        || execution.in_flight().next().is_some()
        || action_running(execution)
    {
        return None;
    }
    execution
        .waves
        .iter()
        .find(|w| w.status == WaveStatus::Failed && w.failure_policy() == FailurePolicy::Pause)
}

/// A pause that is due now, with nothing in flight: why, and the wave it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseDue {
    pub reason: PauseReason,
    /// The wave the pause stands before (PLANNED, OPERATOR).
    pub before_wave: Option<u32>,
    /// The failed wave that waits on a decision (WAVE_FAILED).
    pub failed_wave: Option<u32>,
}

/// Whether the execution must stand paused now: a failed wave waits on a decision (that comes
/// first), an operator's pause stands, or the next wave's planned pause is not approved yet (once
/// the AFTER_COMPLETE actions of the wave before it have run).
pub fn pause_due(execution: &Execution) -> Option<PauseDue> {
    if execution.status() == ExecutionStatus::Cancelling
        || execution.in_flight().next().is_some()
        || action_running(execution)
        || finished(execution).is_some()
    {
        return None;
    }
    if let Some(failed) = awaiting_decision(execution) {
        return Some(PauseDue {
            reason: PauseReason::WaveFailed,
            before_wave: None,
            failed_wave: Some(failed.wave_number),
        });
    }
    let next = execution.next_pending();
    if let Some(reason) = execution.pause_reason() {
        return Some(PauseDue {
            reason,
            before_wave: execution
                .header
                .paused_before_wave
                .or(next.map(|w| w.wave_number)),
            failed_wave: None,
        });
    }
    if after_actions_pending(execution) {
        return None;
    }
    next.filter(|w| w.pause_before_wave && !w.pause_approved)
        .map(|w| PauseDue {
            reason: PauseReason::Planned,
            before_wave: Some(w.wave_number),
            failed_wave: None,
        })
}

/// A wave in flight that launch should be called for now: it is LAUNCHING with servers to start,
/// and either its launcher has held the claim past the grace period (it died), or no launcher
/// holds it and the backoff after a refusal is over (at once when the execution is cancelling).
pub fn launch_due(wave: &Wave, status: ExecutionStatus, now: Timestamp, policy: &Policy) -> bool {
    if wave.status != WaveStatus::Launching {
        return false;
    }
    match &wave.claim {
        Some(c) if c.held => now.secs_since(c.claimed_time) > policy.launch_claim_grace_secs,
        _ => {
            status == ExecutionStatus::Cancelling || wave.next_launch_time.is_none_or(|t| now >= t)
        }
    }
}

/// A launched server whose recovery instance, or the EC2 facts of it, are not known yet.
pub fn lacks_details(server: &ServerStatus) -> bool {
    server.launch_status == LaunchStatus::Launched
        && (server.instance_id.is_none() || server.instance_state.is_none())
}

/// A FAILED server whose reason DRS's job log has not given yet (poll reads it once).
pub fn lacks_reason(server: &ServerStatus) -> bool {
    server.launch_status == LaunchStatus::Failed
        && server.job_id.is_some()
        && server.drs_reason.is_none()
}

/// Some wave settled less than the details grace ago with a launched server still lacking details,
/// or a failed one its reason: one more poll may fill them in.
fn awaiting_details(execution: &Execution, now: Timestamp, policy: &Policy) -> bool {
    execution.waves.iter().any(|w| {
        w.end_time
            .is_some_and(|end| now.secs_since(end) <= policy.details_grace_secs)
            && w.server_statuses
                .iter()
                .any(|s| lacks_details(s) || lacks_reason(s))
    })
}

/// What finalize would write, or the waves that keep it from finalizing (those not settled, and
/// a failed wave that waits on a decision).
pub fn outcome(execution: &Execution) -> Result<ExecutionStatus, Vec<u32>> {
    finished(execution).ok_or_else(|| {
        execution
            .waves
            .iter()
            .filter(|w| {
                !w.status.is_settled()
                    || w.status == WaveStatus::Failed
                    || w.running_action().is_some()
                    || (w.status == WaveStatus::Completed
                        && w.next_action_of(ActionWhen::AfterComplete).is_some())
            })
            .map(|w| w.wave_number)
            .collect()
    })
}

#[cfg(test)]
mod tests;

/// DRS's reason a server did not launch, from its job's log: the last entry about the server that
/// reports a failure (an event ending in `_FAIL` or `_FAILED`, `SERVER_SKIPPED`, or any raw error),
/// as "EVENT: rawError"; when the log has none, a sentence that says so (the log is read once).
pub fn failure_reason(
    log: &[crate::ports::JobLogEntry],
    server: &SourceServerId,
    job: &crate::ids::JobId,
) -> String {
    let failed = |e: &crate::ports::JobLogEntry| {
        e.raw_error.is_some()
            || e.event.ends_with("_FAIL")
            || e.event.ends_with("_FAILED")
            || e.event == "SERVER_SKIPPED"
    };
    // What stopped the launch first: a launch, conversion or snapshot failure (or the server
    // skipped) over what followed it (a CLEANUP_FAIL, a fallback to a previous snapshot).
    let rank = |e: &crate::ports::JobLogEntry| match e.event.as_str() {
        "LAUNCH_FAILED" | "CONVERSION_FAIL" | "SNAPSHOT_FAIL" | "SERVER_SKIPPED" => 0,
        _ => 1,
    };
    let about: Vec<&crate::ports::JobLogEntry> = log
        .iter()
        .filter(|e| e.source_server_id.as_ref() == Some(server) && failed(e))
        .collect();
    let best = about.iter().map(|e| rank(e)).min();
    match about.iter().rev().find(|e| Some(rank(e)) == best).copied() {
        Some(entry) => match &entry.raw_error {
            Some(raw) => crate::text::clip(&format!("{}: {raw}", entry.event), REASON_MAX_CHARS),
            None => entry.event.clone(),
        },
        None => format!("DRS job {job}'s log gives no reason for this server"),
    }
}

/// The longest reason kept from a job log (DRS's raw errors can be long; 1,000 failed servers
/// of one wave must fit one wave item).
pub const REASON_MAX_CHARS: usize = 200;
