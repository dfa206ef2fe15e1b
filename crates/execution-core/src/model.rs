//! The execution record: what DynamoDB keeps, what a UI reads, what poll answers with.
//! Serde shapes follow the seed (camelCase, `waveNumber` 0-based, times in epoch seconds).

use serde::{Deserialize, Serialize};

pub use crate::actions::{ActionRun, WaveAction};
use crate::ids::{ExecutionId, InstanceId, JobId, PlanId, SourceServerId, TaskToken};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// Seconds since the Unix epoch. Every time in a record is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const fn secs(self) -> i64 {
        self.0
    }

    /// Whole seconds from `earlier` to `self`, never negative (clocks on different hosts drift).
    pub fn secs_since(self, earlier: Timestamp) -> u64 {
        u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0)
    }
}

/// One run of a recovery plan: its header and its waves, in wave order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    #[serde(flatten)]
    pub header: ExecutionHeader,
    pub waves: Vec<Wave>,
}

/// Everything of an execution but its waves: the part that status changes write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionHeader {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    pub is_drill: bool,
    pub status: ExecutionStatus,
    pub created_time: Timestamp,
    /// When the first wave was launched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// When finalize wrote the terminal status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_polled_time: Option<Timestamp>,
    /// The Step Functions run (its execution ARN) that conducts this execution: the run that
    /// polled last, or the run a restart started. Written only by `touch`, like
    /// `lastPolledTime`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_run: Option<String>,
    /// When `workflowRun` last polled (or was started by a restart). Written only by `touch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_polled_time: Option<Timestamp>,
    /// When the workflow was restarted because its run had ended (find's healing or `drctl
    /// restart`), oldest first; only the last hour's are kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<Timestamp>,
    /// The wave a pause stands before (set by pause, cleared by resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    /// Why a PAUSED execution is paused. A record of version 1 has none: see
    /// [`Execution::pause_reason`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<PauseReason>,
    /// The failed wave a `WAVE_FAILED` pause waits on a decision for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_wave: Option<u32>,
    /// The workflow's task token while it waits at a pause; never part of an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<HeldToken>,
    /// The latest thing an operator should know about this execution (a rejected token, why it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// First wave launched → last wave's servers all launched, when the execution COMPLETED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    /// The plan's recovery time objective for the whole execution (first launch → every wave
    /// settled), held for the report; absent when the plan sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rto_seconds: Option<u64>,
    /// A drill's plan asks the workflow to clean up (terminate the drill's recovery instances)
    /// this long after the execution ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_after_seconds: Option<u64>,
    /// Optimistic-concurrency version of the header; every header write bumps it by one.
    #[serde(default)]
    pub version: u64,
}

/// A task token held for the workflow, and whether its release (SendTaskSuccess) has been decided
/// but not yet confirmed. A held token whose release is pending is completed by the next resume
/// or cancel that sees it, so a crash between the write and the call loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldToken {
    pub token: TaskToken,
    #[serde(default)]
    pub release_pending: bool,
}

/// Why a PAUSED execution is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PauseReason {
    /// The next wave's `pauseBeforeWave`: resume approves it.
    Planned,
    /// An operator asked: resume goes on (a planned pause after it still stands).
    Operator,
    /// A wave failed and its policy is to wait: retry, skip or cancel decides.
    WaveFailed,
}

/// What happens when a wave fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailurePolicy {
    /// The execution stands PAUSED (`WAVE_FAILED`) until an operator retries, skips or cancels.
    #[default]
    Pause,
    /// The execution finalizes FAILED (version 1's only behaviour).
    Stop,
}

/// How much a server matters to its wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Impact {
    /// The wave completes only when it launched.
    #[default]
    Critical,
    /// The wave completes once it settled, launched or not; not launching is counted.
    Optional,
}

/// Why a wave ended FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WaveFailure {
    /// Every server settled and at least one did not launch.
    ServersFailed,
    /// DRS says the job completed while servers had not launched (or it had none).
    JobIncomplete,
    /// DRS did not return the job for longer than the grace period.
    JobNotFound,
    /// The wave ran past its timeout.
    TimedOut,
    /// The wave ran past its timeout while DRS kept refusing StartRecovery for reasons that clear
    /// (quotas, conflicts, throttling): no job of the attempt was ever started.
    LaunchBlocked,
    /// DRS refused StartRecovery for a reason that will not clear (validation, access).
    LaunchRejected,
    /// The execution was cancelled before the wave's retry reached DRS: it stays failed.
    RetryCancelled,
    /// A wave action with `onFailure: FAIL` failed or timed out (SPEC §11).
    ActionFailed,
}

/// One DRS job of a wave: which attempt and part of the wave it launched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveJob {
    pub job_id: JobId,
    /// 1 for the wave's first attempt, 2 for its first retry, ...
    pub attempt: u32,
    /// 0-based part of the attempt (a part holds at most `maxServersPerJob` servers).
    pub part: u32,
    /// When launch recorded it (the job-not-found grace runs from here).
    pub recorded_time: Timestamp,
    /// DRS's own `creationDateTime` of the job (the report's clock starts here, not at a poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// DRS's own `endDateTime` of the job, once DRS has ended it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_time: Option<Timestamp>,
}

/// A launcher's hold on the next part of a wave's attempt: the first `size` servers of the attempt
/// that have no job yet, to be started as part `part`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchClaim {
    pub part: u32,
    pub size: u32,
    /// When the launcher took it (a held claim older than the grace period is a dead launcher's).
    pub claimed_time: Timestamp,
    /// When the first claim of this part whose job may exist was taken: the tagged-job look-up
    /// searches from here, however often the part is claimed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_claimed_time: Option<Timestamp>,
    /// A launcher is calling DRS for it now (false: the call ended without a job).
    pub held: bool,
    /// A StartRecovery for this part may have started a job (the answer was lost, or the
    /// launcher died): the next launcher looks for the tagged job before starting one.
    #[serde(default)]
    pub uncertain: bool,
}

/// One wave of the plan and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "StoredWave")]
pub struct Wave {
    pub wave_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    pub status: WaveStatus,
    #[serde(default)]
    pub pause_before_wave: bool,
    /// A resume approved the pause before this wave.
    #[serde(default)]
    pub pause_approved: bool,
    pub timeout_seconds: u64,
    /// What a failure of this wave does; absent in a record of version 1, which means STOP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<FailurePolicy>,
    /// The current attempt: 0 before the first launch, 1 for the first, +1 per retry.
    #[serde(default)]
    pub attempt: u32,
    /// Every DRS job of every attempt, in the order they were recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<WaveJob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<LaunchClaim>,
    /// StartRecovery calls made for this wave (refused ones included).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub launch_attempts: u32,
    /// The last refusal of StartRecovery, as DRS worded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_launch_error: Option<String>,
    /// After a refusal that clears on its own: not before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_launch_time: Option<Timestamp>,
    /// When the wave's first attempt began: its recovery time runs from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<Timestamp>,
    /// When the current attempt began: its timeout runs from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_time: Option<Timestamp>,
    /// When the wave settled (COMPLETED, FAILED or CANCELLED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// First attempt → every critical server launched: the wave's achieved recovery time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    /// The plan's recovery time objective for this wave (first attempt → every critical server
    /// launched), held for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rto_seconds: Option<u64>,
    /// OPTIONAL servers that did not launch when the wave COMPLETED.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub optional_not_launched: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<WaveFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// The plan's actions for this wave, in order (absent in a record of an older version).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<WaveAction>,
    /// Every run of those actions, in the order act took them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub action_runs: Vec<ActionRun>,
    /// Optimistic-concurrency version of this wave; every write of it bumps it by one.
    #[serde(default)]
    pub version: u64,
    pub server_statuses: Vec<ServerStatus>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A wave as stored by this version or by version 1, whose wave had one `jobId` and whose servers
/// had no impact (every one CRITICAL) nor job of their own. Reading one makes it a wave of this
/// version that behaves as it was created to: one job (attempt 1, part 0) for every server, no
/// failure policy (STOP).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredWave {
    wave_number: u32,
    #[serde(default)]
    wave_name: Option<String>,
    status: WaveStatus,
    #[serde(default)]
    pause_before_wave: bool,
    #[serde(default)]
    pause_approved: bool,
    timeout_seconds: u64,
    #[serde(default)]
    on_failure: Option<FailurePolicy>,
    /// Always written by this version; absent in a record of version 1.
    #[serde(default)]
    attempt: Option<u32>,
    #[serde(default)]
    jobs: Vec<WaveJob>,
    /// Version 1's one job.
    #[serde(default)]
    job_id: Option<JobId>,
    #[serde(default)]
    claim: Option<LaunchClaim>,
    #[serde(default)]
    launch_attempts: u32,
    #[serde(default)]
    last_launch_error: Option<String>,
    #[serde(default)]
    next_launch_time: Option<Timestamp>,
    #[serde(default)]
    launch_time: Option<Timestamp>,
    #[serde(default)]
    attempt_time: Option<Timestamp>,
    #[serde(default)]
    end_time: Option<Timestamp>,
    #[serde(default)]
    recovery_time_seconds: Option<u64>,
    #[serde(default)]
    target_rto_seconds: Option<u64>,
    #[serde(default)]
    optional_not_launched: u32,
    #[serde(default)]
    failure_reason: Option<WaveFailure>,
    #[serde(default)]
    status_message: Option<String>,
    #[serde(default)]
    actions: Vec<WaveAction>,
    #[serde(default)]
    action_runs: Vec<ActionRun>,
    #[serde(default)]
    version: u64,
    server_statuses: Vec<ServerStatus>,
}

impl From<StoredWave> for Wave {
    fn from(w: StoredWave) -> Self {
        let mut wave = Wave {
            wave_number: w.wave_number,
            wave_name: w.wave_name,
            status: w.status,
            pause_before_wave: w.pause_before_wave,
            pause_approved: w.pause_approved,
            timeout_seconds: w.timeout_seconds,
            on_failure: w.on_failure,
            attempt: w.attempt.unwrap_or(0),
            jobs: w.jobs,
            claim: w.claim,
            launch_attempts: w.launch_attempts,
            last_launch_error: w.last_launch_error,
            next_launch_time: w.next_launch_time,
            launch_time: w.launch_time,
            attempt_time: w.attempt_time,
            end_time: w.end_time,
            recovery_time_seconds: w.recovery_time_seconds,
            target_rto_seconds: w.target_rto_seconds,
            optional_not_launched: w.optional_not_launched,
            failure_reason: w.failure_reason,
            status_message: w.status_message,
            actions: w.actions,
            action_runs: w.action_runs,
            version: w.version,
            server_statuses: w.server_statuses,
        };
        // Version 1 cancelled only waves that never ran; every other wave it had begun was its one
        // attempt.
        if w.attempt.is_none()
            && !matches!(wave.status, WaveStatus::Pending | WaveStatus::Cancelled)
        {
            // Version 1: one attempt, begun at the claim.
            wave.attempt = 1;
            wave.attempt_time = wave.attempt_time.or(wave.launch_time);
            match (w.job_id, wave.status) {
                (Some(job_id), _) => {
                    for server in &mut wave.server_statuses {
                        server.job_id.get_or_insert_with(|| job_id.clone());
                    }
                    wave.jobs.push(WaveJob {
                        job_id,
                        attempt: 1,
                        part: 0,
                        recorded_time: wave.launch_time.unwrap_or(Timestamp(0)),
                        created_time: None,
                        ended_time: None,
                    });
                }
                // A version-1 claim: its launcher may have started the job and died.
                (None, WaveStatus::Launching) => {
                    wave.claim = Some(LaunchClaim {
                        part: 0,
                        size: u32::try_from(wave.server_statuses.len()).unwrap_or(u32::MAX),
                        claimed_time: wave.launch_time.unwrap_or(Timestamp(0)),
                        first_claimed_time: None,
                        held: true,
                        uncertain: true,
                    });
                }
                (None, _) => {}
            }
        }
        wave
    }
}

impl Wave {
    pub fn source_server_ids(&self) -> impl Iterator<Item = &SourceServerId> {
        self.server_statuses.iter().map(|s| &s.source_server_id)
    }

    /// The wave's failure policy; a wave of version 1 has none and STOPs.
    pub fn failure_policy(&self) -> FailurePolicy {
        self.on_failure.unwrap_or(FailurePolicy::Stop)
    }

    /// The jobs of the current attempt.
    pub fn current_jobs(&self) -> impl Iterator<Item = &WaveJob> {
        self.jobs.iter().filter(move |j| j.attempt == self.attempt)
    }

    /// The jobs poll follows: those of the current attempt, and those of servers an earlier
    /// attempt started that have not settled (a retry does not launch them again).
    pub fn jobs_to_follow(&self) -> Vec<JobId> {
        let mut ids: Vec<JobId> = self.current_jobs().map(|j| j.job_id.clone()).collect();
        for server in &self.server_statuses {
            if let Some(id) = &server.job_id {
                if !server.launch_status.is_settled() && !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        }
        ids
    }

    /// Where the tagged-job look-up for `claim` starts.
    pub fn lookup_since(claim: &LaunchClaim) -> Timestamp {
        claim.first_claimed_time.unwrap_or(claim.claimed_time)
    }

    /// The servers of the current attempt that no job has taken yet (they are launched in order).
    pub fn servers_without_job(&self) -> impl Iterator<Item = &ServerStatus> {
        self.server_statuses
            .iter()
            .filter(|s| s.job_id.is_none() && s.launch_status != LaunchStatus::Launched)
    }
}

/// One source server of a wave, as DRS and EC2 last described it. A field not known yet is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    pub source_server_id: SourceServerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default)]
    pub impact: Impact,
    pub launch_status: LaunchStatus,
    /// The job of the latest attempt that took this server (its status is read from that job).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// Why the server did not launch, when DRS did not say (not in its job, never started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_instance_id: Option<InstanceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<Timestamp>,
    /// DRS's own reason a FAILED server did not launch, from its job's log (DescribeJobLogItems,
    /// read once, for failed servers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drs_reason: Option<String>,
    /// What cleanup did with the server's recovery instance (drills only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<ServerCleanup>,
}

/// Where the cleanup of one server's recovery instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CleanupState {
    /// Cleanup is about to ask DRS to terminate the instance (or asked, and its answer was lost).
    /// A lease: another cleanup leaves a young mark alone, and on an old one looks for the
    /// TERMINATE job before asking again.
    Requesting,
    /// DRS accepted `TerminateRecoveryInstances` for it (`jobId` is the TERMINATE job).
    Requested,
    /// A later cleanup found the instance gone from DRS after the request: terminated.
    Terminated,
    /// The instance was no longer this execution's when cleanup looked (terminated by someone
    /// else, or replaced by a later launch of the server): nothing was terminated.
    Gone,
}

impl CleanupState {
    /// Nothing is left for cleanup to do for the server.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Terminated | Self::Gone)
    }
}

/// One server's cleanup: which recovery instance, which DRS job terminated it, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerCleanup {
    pub state: CleanupState,
    pub recovery_instance_id: InstanceId,
    /// The DRS TERMINATE job, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// When cleanup last marked it (or found it gone).
    pub requested_time: Timestamp,
    /// When cleanup saw the instance gone after its request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminated_time: Option<Timestamp>,
}

impl ServerStatus {
    pub fn new(source_server_id: SourceServerId, server_name: Option<String>) -> Self {
        Self {
            source_server_id,
            server_name,
            impact: Impact::Critical,
            launch_status: LaunchStatus::Pending,
            job_id: None,
            status_message: None,
            recovery_instance_id: None,
            instance_id: None,
            private_ip: None,
            hostname: None,
            instance_type: None,
            instance_state: None,
            launch_time: None,
            drs_reason: None,
            cleanup: None,
        }
    }
}

impl Execution {
    pub fn id(&self) -> ExecutionId {
        self.header.execution_id
    }

    pub fn status(&self) -> ExecutionStatus {
        self.header.status
    }

    pub fn wave(&self, number: u32) -> Option<&Wave> {
        self.waves.iter().find(|w| w.wave_number == number)
    }

    /// The wave launched and not yet settled, if any (waves run one at a time).
    pub fn in_flight(&self) -> impl Iterator<Item = &Wave> {
        self.waves.iter().filter(|w| w.status.is_in_flight())
    }

    /// The first wave that has not been launched.
    pub fn next_pending(&self) -> Option<&Wave> {
        self.waves.iter().find(|w| w.status == WaveStatus::Pending)
    }

    /// `allWavesComplete`: true exactly when every wave is COMPLETED or SKIPPED.
    pub fn all_waves_complete(&self) -> bool {
        !self.waves.is_empty() && self.waves.iter().all(|w| w.status.is_passed())
    }

    /// Why the execution is paused: the stored reason, or for a record of version 1 (which kept
    /// none) PLANNED when the wave it stands before has an unapproved planned pause, else OPERATOR.
    pub fn pause_reason(&self) -> Option<PauseReason> {
        if self.status() != ExecutionStatus::Paused {
            return None;
        }
        self.header.pause_reason.or_else(|| {
            let planned = self
                .header
                .paused_before_wave
                .and_then(|n| self.wave(n))
                .is_some_and(|w| w.pause_before_wave && !w.pause_approved);
            Some(if planned {
                PauseReason::Planned
            } else {
                PauseReason::Operator
            })
        })
    }

    pub fn total_servers(&self) -> usize {
        self.waves.iter().map(|w| w.server_statuses.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_status_omits_what_is_not_known() {
        let s = ServerStatus::new(SourceServerId::parse("s-1234567890abcdef0").unwrap(), None);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"sourceServerId": "s-1234567890abcdef0", "impact": "CRITICAL", "launchStatus": "PENDING"})
        );
    }

    #[test]
    fn a_wave_that_never_ran_reads_back_as_it_was_written() {
        let mut e = crate::fixtures::execution(&[1]);
        e.waves[0].status = WaveStatus::Cancelled;
        let json = serde_json::to_value(&e.waves[0]).unwrap();
        let back: Wave = serde_json::from_value(json).unwrap();
        assert_eq!(back, e.waves[0]);
        assert_eq!(back.attempt, 0);
    }

    #[test]
    fn secs_since_never_goes_negative() {
        assert_eq!(Timestamp(10).secs_since(Timestamp(4)), 6);
        assert_eq!(Timestamp(4).secs_since(Timestamp(10)), 0);
    }
}
