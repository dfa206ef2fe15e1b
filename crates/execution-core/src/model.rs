//! The execution record: what DynamoDB keeps, what a UI reads, what poll answers with.
//! Serde shapes follow the seed (camelCase, `waveNumber` 0-based, times in epoch seconds).

use serde::{Deserialize, Serialize};

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
    /// The wave a pause stands before (set by pause, cleared by resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    /// The workflow's task token while it waits at a pause; never part of an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<HeldToken>,
    /// The latest thing an operator should know about this execution (a rejected token, why it failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// First wave launched → last wave's servers all launched, when the execution COMPLETED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
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
    /// DRS refused StartRecovery.
    LaunchRejected,
}

/// One wave of the plan and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// When launch claimed the wave (LAUNCHING); the wave's clock starts here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<Timestamp>,
    /// When the wave settled (COMPLETED, FAILED or CANCELLED).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// Launch → every server launched: the wave's achieved recovery time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<WaveFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Optimistic-concurrency version of this wave; every write of it bumps it by one.
    #[serde(default)]
    pub version: u64,
    pub server_statuses: Vec<ServerStatus>,
}

impl Wave {
    pub fn source_server_ids(&self) -> impl Iterator<Item = &SourceServerId> {
        self.server_statuses.iter().map(|s| &s.source_server_id)
    }
}

/// One source server of a wave, as DRS and EC2 last described it. A field not known yet is absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerStatus {
    pub source_server_id: SourceServerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub launch_status: LaunchStatus,
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
}

impl ServerStatus {
    pub fn new(source_server_id: SourceServerId, server_name: Option<String>) -> Self {
        Self {
            source_server_id,
            server_name,
            launch_status: LaunchStatus::Pending,
            recovery_instance_id: None,
            instance_id: None,
            private_ip: None,
            hostname: None,
            instance_type: None,
            instance_state: None,
            launch_time: None,
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

    /// `allWavesComplete`: true exactly when every wave is COMPLETED.
    pub fn all_waves_complete(&self) -> bool {
        !self.waves.is_empty() && self.waves.iter().all(|w| w.status == WaveStatus::Completed)
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
            serde_json::json!({"sourceServerId": "s-1234567890abcdef0", "launchStatus": "PENDING"})
        );
    }

    #[test]
    fn secs_since_never_goes_negative() {
        assert_eq!(Timestamp(10).secs_since(Timestamp(4)), 6);
        assert_eq!(Timestamp(4).secs_since(Timestamp(10)), 0);
    }
}
