//! The report a DR engineer hands an auditor: what an execution achieved, measured on DRS's and
//! EC2's own clocks, against the plan's recovery time objectives, with its pauses, decisions,
//! failures, instances, cleanup and trail. One model, built from the record and its audit trail
//! alone ([`Report::build`]): no I/O and no clock, so a report of the same record and trail is the
//! same report wherever it is built (a drill's end, `drctl report` on AWS or on a world file).
//! drctl renders it as text, JSON (this model, serde's camelCase), Markdown and HTML.
//!
//! Recovery times are taken from the services' own timestamps, not from when a poll noticed: a
//! wave's recovery runs from the earliest DRS `creationDateTime` of its first attempt's jobs to
//! the latest EC2 `launchTime` of its CRITICAL servers. Where a service's time is missing, the
//! engine's own time stands in and the figure says so (`source: "engine"`).
//!
//! Wave actions (a Lambda function, an SSM Automation runbook) run outside every wave's recovery
//! time: BEFORE_LAUNCH ones before the wave's first DRS job, AFTER_COMPLETE ones after its
//! instances launched. The execution's recovery time (first wave's start to last wave's end)
//! holds those that ran between its waves ([`RecoveryTime::action_seconds`]); every run falls
//! within the execution's end-to-end time (created to ended). Each run is in
//! [`Report::actions`], on the timeline as two marks (its start and its end), and a failed run in
//! [`Report::failed_actions`], with its error.
//!
//! Between two waves the engine waits: from the last server of a wave launched in DRS to the next
//! wave's first StartRecovery. Each such wave-boundary gap is in [`Report::boundaries`], with the
//! parts of it that were not the engine's own latency (time paused, wave actions' runs).

use serde::Serialize;

use crate::actions::{ActionKind, ActionOnFailure, ActionRun, ActionStatus, ActionWhen};
use crate::audit::{Actor, AuditEvent, Decision};
use crate::ids::{ExecutionId, InstanceId, JobId, PlanId, SourceServerId};
use crate::model::{
    CleanupState, Execution, Impact, PauseReason, ServerStatus, Timestamp, Wave, WaveFailure,
    WaveJob,
};
use crate::rules::lacks_details;
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// What the report says when DRS's job log named no reason for a failed server.
pub const NO_DRS_REASON: &str = "DRS gave no reason";

/// Whose clock a time was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TimeSource {
    /// DRS's own time (a job's `creationDateTime` or `endDateTime`).
    #[serde(rename = "DRS")]
    Drs,
    /// EC2's own time (an instance's `launchTime`).
    #[serde(rename = "EC2")]
    Ec2,
    /// The engine's time: when an operation recorded or noticed something.
    #[serde(rename = "engine")]
    Engine,
}

/// Where a recovery time figure comes from: the services' own clocks (`DRS`: DRS's job times and
/// EC2's launch times) or, when one of its ends is missing there, the engine's (`engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FigureSource {
    #[serde(rename = "DRS")]
    Drs,
    #[serde(rename = "engine")]
    Engine,
}

/// One end of a measured interval, with whose clock it is and which field it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimePoint {
    pub time: Timestamp,
    pub source: TimeSource,
    /// The field read, in words (`DRS job creationDateTime`, `EC2 launchTime`, ...).
    pub field: &'static str,
}

impl TimePoint {
    fn new(time: Timestamp, source: TimeSource, field: &'static str) -> Self {
        Self {
            time,
            source,
            field,
        }
    }
}

/// A recovery time against its objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// Recovered within the target.
    Met,
    /// Recovered after the target, not recovered at all, or already past the target.
    Missed,
    /// The plan sets no target.
    NoTarget,
    /// Not recovered yet, and not past the target as far as the record knows.
    NotFinished,
}

impl Verdict {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Met => "MET",
            Self::Missed => "MISSED",
            Self::NoTarget => "NO_TARGET",
            Self::NotFinished => "NOT_FINISHED",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recovery time achieved (of a wave or of the execution), how it was measured, the time
/// paused and running within it, and the verdict on the plan's target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryTime {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<TimePoint>,
    /// Set once recovered (every critical server launched; for the execution, every wave passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<TimePoint>,
    /// `end - start`, pauses included (a recovery time objective is elapsed time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<FigureSource>,
    /// What the engine's record says (measured from the engine's claim to the poll that noticed),
    /// for comparison.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_seconds: Option<u64>,
    /// Seconds the execution stood PAUSED between `start` and `end` (or the report's `asOf`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_seconds: Option<u64>,
    /// The rest: seconds the execution ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_seconds: Option<u64>,
    /// Seconds between `start` and `end` (or the report's `asOf`) in which a wave action ran
    /// (part of the whole, like `pausedSeconds`; an action may run while the execution stands
    /// paused). Absent when the plan has no action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_rto_seconds: Option<u64>,
    pub verdict: Verdict,
    /// Why the verdict is what it is, when the figures alone do not say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// DRILL or RECOVERY.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Kind {
    Drill,
    Recovery,
}

/// The report of one execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_name: Option<String>,
    pub is_drill: bool,
    pub kind: Kind,
    pub status: ExecutionStatus,
    /// The execution is terminal: nothing will change what the report measures (cleanup aside).
    pub finished: bool,
    pub created_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// The latest time the record and its trail know of: the report is the execution as of then.
    pub as_of: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Why a PAUSED execution is paused, and the wave it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<PauseReason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_wave: Option<u32>,
    /// The execution's achieved recovery time (`recovery.seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    /// Seconds paused within it (`recovery.pausedSeconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_seconds: Option<u64>,
    /// First wave's start to last wave's end, against the plan's `targetRtoSeconds`.
    pub recovery: RecoveryTime,
    pub waves: Vec<WaveReport>,
    /// The gap at every boundary between a COMPLETED wave and the next wave, once that one
    /// launched, in wave order ([`BoundaryReport`]).
    pub boundaries: Vec<BoundaryReport>,
    /// Every interval the execution stood PAUSED, from the trail, oldest first.
    pub pauses: Vec<Pause>,
    pub timeline: Timeline,
    /// The waves that FAILED, and those SKIPPED after they failed.
    pub failures: Vec<FailureReport>,
    /// Every server whose launch FAILED (OPTIONAL ones of completed waves included), with DRS's
    /// own reason.
    pub failed_servers: Vec<FailedServer>,
    /// Every run of every wave action, in the order they started.
    pub actions: Vec<ActionReport>,
    /// The time spent in them over every wave; absent when the plan has no action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_time: Option<ActionTime>,
    /// Every run that FAILED or TIMED_OUT, in the order they started, with its error: those that
    /// failed their wave (`onFailure: FAIL`) and those the execution went on after (`CONTINUE`).
    pub failed_actions: Vec<ActionReport>,
    /// The recovery instance and EC2 instance of every server that has one.
    pub instances: Vec<InstanceReport>,
    pub cleanup: CleanupReport,
    /// LAUNCHED servers whose instance EC2 has not described (no private IP, hostname, type).
    pub servers_without_ec2_details: Vec<SourceServerId>,
    /// The audit trail, oldest first: who changed what, when (as the API's `events` answers).
    pub events: Vec<AuditEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The wave's achieved recovery time (`recovery.seconds`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    /// First attempt's first DRS job created to every critical server's instance launched.
    pub recovery: RecoveryTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<WaveFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// OPTIONAL servers that did not launch (the wave completed without them).
    pub optional_not_launched: Vec<ServerReport>,
    pub servers: Vec<ServerReport>,
    /// The time spent in the wave's actions (outside its recovery time); absent when it has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_time: Option<ActionTime>,
}

/// The wave-boundary gap between a COMPLETED wave and the next wave: from the last server of
/// `fromWave` launched in DRS to `toWave`'s first StartRecovery, and what of it was not the engine
/// waiting. There is one only when both ends are known: `fromWave` COMPLETED (a skipped wave's
/// next launch waited for a person's decision) and `toWave` launched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BoundaryReport {
    pub from_wave: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_wave_name: Option<String>,
    pub to_wave: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_wave_name: Option<String>,
    /// When `fromWave`'s last server launched: the latest DRS `endDateTime` of the jobs of its
    /// last attempt, once DRS ended every one (a job ends when its last server's launch ends);
    /// else (DRS had not ended a job when the engine moved on) the latest EC2 `launchTime` of its
    /// LAUNCHED servers; else the engine's end of the wave.
    pub from: TimePoint,
    /// `toWave`'s first StartRecovery: where its recovery starts (the earliest DRS
    /// `creationDateTime` of its first attempt's jobs, else, or when the launch was held up, the
    /// engine's launch of the wave).
    pub to: TimePoint,
    /// `DRS` when both ends are the services' times (DRS's or EC2's), else `engine`.
    pub source: FigureSource,
    /// `to - from` (0 when `toWave` launched before `fromWave`'s last job ended: its OPTIONAL
    /// servers still launching, say).
    pub gap_seconds: u64,
    /// Seconds of the gap the execution stood PAUSED (a planned pause before `toWave`, an
    /// operator's).
    pub paused_seconds: u64,
    /// Seconds of the gap in which a wave action ran (`fromWave`'s AFTER_COMPLETE actions,
    /// `toWave`'s BEFORE_LAUNCH ones); it may overlap `pausedSeconds` (a run goes on while the
    /// execution stands paused).
    pub action_seconds: u64,
    /// The rest: seconds of the gap neither paused nor in an action, the engine's own latency
    /// between the waves.
    pub wait_seconds: u64,
}

/// One run of one wave action: what ran, when, how it ended, and what it did to its wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionReport {
    pub wave_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    pub name: String,
    pub when: ActionWhen,
    /// LAMBDA or SSM_AUTOMATION, the function or document run, the action's timeout and policy,
    /// as the plan set them (absent only if the record no longer lists the action).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ActionKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<ActionOnFailure>,
    /// 1 for the action's first run, +1 for each run a retry asked for.
    pub attempt: u32,
    pub status: ActionStatus,
    /// When the engine took the run, and when it recorded its end (the engine's clock).
    pub start_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// `endTime - startTime`; while it runs, up to the report's `asOf`.
    pub seconds: u64,
    /// SSM's id of the automation execution.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation_execution_id: Option<String>,
    /// A RUNNING run whose start was refused for now: sent again from this time on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_time: Option<Timestamp>,
    /// The answer (clipped), or the runbook's final status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Why it failed (or the last refusal of a run still RUNNING).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// It FAILED or TIMED_OUT and its action's `onFailure` is FAIL: it failed the wave
    /// (ACTION_FAILED).
    pub failed_the_wave: bool,
}

/// The time spent in wave actions (of a wave, or of every wave): every run of every attempt, a run
/// still RUNNING counted up to the report's `asOf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionTime {
    pub runs: usize,
    /// Runs that FAILED or TIMED_OUT.
    pub failed_runs: usize,
    /// Runs still RUNNING.
    pub running_runs: usize,
    pub before_launch_seconds: u64,
    pub after_complete_seconds: u64,
    /// Both.
    pub seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobReport {
    pub job_id: JobId,
    pub attempt: u32,
    pub part: u32,
    /// Servers of the wave whose latest job this is.
    pub servers: usize,
    /// When launch recorded it (the engine's time).
    pub recorded_time: Timestamp,
    /// DRS's `creationDateTime`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// DRS's `endDateTime`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_time: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// DRS's own reason it did not launch, from its job's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drs_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    #[serde(flatten)]
    pub instance: InstanceFacts,
}

/// A server's recovery instance and the EC2 instance behind it, as the record knows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_instance_id: Option<InstanceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<InstanceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_state: Option<String>,
    /// EC2's `launchTime` of the instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<Timestamp>,
}

impl InstanceFacts {
    fn of(s: &ServerStatus) -> Self {
        Self {
            recovery_instance_id: s.recovery_instance_id.clone(),
            instance_id: s.instance_id.clone(),
            private_ip: s.private_ip.clone(),
            hostname: s.hostname.clone(),
            instance_type: s.instance_type.clone(),
            instance_state: s.instance_state.clone(),
            launch_time: s.launch_time,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// The action run that failed the wave (`reason` ACTION_FAILED), with its error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionReport>,
}

/// A server whose launch FAILED, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedServer {
    pub wave_number: u32,
    pub source_server_id: SourceServerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub impact: Impact,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// DRS's own reason, from its job's log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drs_reason: Option<String>,
    /// DRS's reason, or the engine's when DRS did not say (`statusMessage`), or
    /// [`NO_DRS_REASON`].
    pub reason: String,
    /// When it failed: its job's end (DRS), else the wave's (engine).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<TimePoint>,
}

/// One interval the execution stood PAUSED.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pause {
    /// When the execution moved to PAUSED (absent when the trail begins inside the pause).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// When it moved out of PAUSED; absent while it stands paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    /// `end - start` (while it stands: up to the report's `asOf`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    /// Why it waited for a person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_wave: Option<u32>,
    /// The failed wave's message, or the execution's, when the pause began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who paused it (the workflow for a planned or failure pause, an operator for theirs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_by: Option<String>,
    /// Who ended it, with which operation (resume, retry, skip, cancel), and where it went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_with: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_to: Option<ExecutionStatus>,
}

/// What a timeline bar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// A server's instance launched; a wave's critical servers all launched.
    Launched,
    /// It failed (a wave FAILED or SKIPPED, a server FAILED).
    Failed,
    /// Under way as of the report.
    InProgress,
    /// Never launched (a wave cancelled or not reached, a server no job took).
    NotStarted,
}

/// The achieved timeline: a row per wave and per server, the pauses (in [`Report::pauses`]), the
/// decisions and any other marks, on one time axis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    /// The axis: the earliest and latest time shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    pub waves: Vec<TimelineWave>,
    /// Each time the execution waited for a person, and each person's answer.
    pub decisions: Vec<DecisionMark>,
    /// Other points in time worth a mark, oldest first: the execution's end, and each wave
    /// action run's start and end.
    pub marks: Vec<Mark>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineWave {
    pub wave_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    pub status: WaveStatus,
    pub bar: Bar,
    pub servers: Vec<TimelineServer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TimelineServer {
    pub source_server_id: SourceServerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub impact: Impact,
    pub launch_status: LaunchStatus,
    pub bar: Bar,
}

/// A bar from launch to launched (or failed); an open bar (no `end`) is under way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bar {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<TimePoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<TimePoint>,
    pub outcome: Outcome,
}

/// A decision on the timeline: the execution waited for a person (`needed`), or a person acted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionMark {
    pub time: Timestamp,
    pub event_id: String,
    /// Set when the execution waited for a person; absent on a person's answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    pub operation: String,
    pub actor: String,
    /// Made by a person (an IAM principal or drctl's caller), not the engine.
    pub by_person: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_number: Option<u32>,
    /// What happened, in one sentence.
    pub summary: String,
}

/// Any other point in time worth a mark on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    pub time: Timestamp,
    /// What kind of mark, for renderers to style: `EXECUTION_ENDED`, or of a wave action's run
    /// ([`action_mark_kind`]): `BEFORE_LAUNCH_ACTION_STARTED`, `AFTER_COMPLETE_ACTION_SUCCEEDED`,
    /// `…_ACTION_FAILED`, `…_ACTION_TIMED_OUT`.
    pub kind: String,
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_number: Option<u32>,
    /// The wave action of a run's mark, and the run's attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

/// The mark kind of an action run's start (`ended: None`) or end: `BEFORE_LAUNCH_ACTION_STARTED`,
/// `AFTER_COMPLETE_ACTION_FAILED`, ...
pub fn action_mark_kind(when: ActionWhen, ended: Option<ActionStatus>) -> String {
    match ended {
        None => format!("{}_ACTION_STARTED", when.as_str()),
        Some(status) => format!("{}_ACTION_{}", when.as_str(), status.as_str()),
    }
}

/// Whether a mark is of an action run (not the execution's end).
pub fn is_action_mark(mark: &Mark) -> bool {
    mark.action.is_some()
}

/// A server's recovery instance and the EC2 instance behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceReport {
    pub wave_number: u32,
    pub source_server_id: SourceServerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub launch_status: LaunchStatus,
    #[serde(flatten)]
    pub instance: InstanceFacts,
}

/// What cleanup did with a drill's recovery instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupReport {
    /// The plan's `cleanupAfterSeconds` (a drill's instances are terminated this long after it
    /// ends); absent when it asks for none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_seconds: Option<u64>,
    pub servers: Vec<CleanupServer>,
    pub summary: CleanupSummary,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupServer {
    pub wave_number: u32,
    pub source_server_id: SourceServerId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    pub recovery_instance_id: InstanceId,
    pub state: CleanupState,
    /// The DRS TERMINATE job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    pub requested_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminated_time: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupSummary {
    /// Servers with a recovery instance (the instances cleanup is about).
    pub instances: usize,
    pub requesting: usize,
    pub requested: usize,
    pub terminated: usize,
    pub gone: usize,
    /// Instances cleanup has not touched.
    pub untouched: usize,
    /// Every instance is terminated or gone.
    pub complete: bool,
    /// One sentence.
    pub text: String,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Report {
    /// The report of `execution` with its `trail` (oldest first; empty when none is known).
    pub fn build(execution: &Execution, trail: &[AuditEvent]) -> Report {
        let h = &execution.header;
        let as_of = as_of(execution, trail);
        let pauses = pauses(trail, as_of);
        let runs = action_intervals(execution, as_of);
        let spans = Spans {
            pauses: &pauses,
            actions: runs.as_deref(),
            as_of,
        };
        let waves: Vec<WaveReport> = execution
            .waves
            .iter()
            .map(|w| wave_report(execution, w, &spans))
            .collect();
        let recovery = execution_recovery(execution, &waves, &spans);
        let boundaries = boundaries(execution, &spans);
        let actions = action_reports(execution, as_of);
        let timeline = timeline(execution, &waves, &pauses, &actions, trail, as_of);
        Report {
            execution_id: h.execution_id,
            plan_id: h.plan_id,
            plan_name: h.plan_name.clone(),
            is_drill: h.is_drill,
            kind: if h.is_drill {
                Kind::Drill
            } else {
                Kind::Recovery
            },
            status: h.status,
            finished: h.status.is_terminal(),
            created_time: h.created_time,
            start_time: h.start_time,
            end_time: h.end_time,
            as_of,
            status_message: h.status_message.clone(),
            pause_reason: execution.pause_reason(),
            paused_before_wave: h.paused_before_wave,
            failed_wave: h.failed_wave,
            recovery_time_seconds: recovery.seconds,
            paused_seconds: recovery.paused_seconds,
            recovery,
            failures: execution
                .waves
                .iter()
                .filter(|w| matches!(w.status, WaveStatus::Failed | WaveStatus::Skipped))
                .map(|w| failure_report(w, as_of))
                .collect(),
            failed_servers: failed_servers(execution),
            action_time: has_actions(execution).then(|| action_time(&actions)),
            failed_actions: actions
                .iter()
                .filter(|a| a.status.is_failure())
                .cloned()
                .collect(),
            actions,
            instances: instances(execution),
            cleanup: cleanup(execution),
            servers_without_ec2_details: execution
                .waves
                .iter()
                .flat_map(|w| &w.server_statuses)
                .filter(|s| lacks_details(s))
                .map(|s| s.source_server_id.clone())
                .collect(),
            waves,
            boundaries,
            pauses,
            timeline,
            events: trail.to_vec(),
        }
    }

    /// The name of a server of the report, if it has one.
    pub fn server_name(&self, id: &SourceServerId) -> Option<&str> {
        self.waves
            .iter()
            .flat_map(|w| &w.servers)
            .find(|s| &s.source_server_id == id)
            .and_then(|s| s.server_name.as_deref())
    }
}

/// The latest time the record and the trail know of.
fn as_of(execution: &Execution, trail: &[AuditEvent]) -> Timestamp {
    let h = &execution.header;
    let header = [
        Some(h.created_time),
        h.start_time,
        h.end_time,
        h.last_polled_time,
    ];
    let waves = execution.waves.iter().flat_map(|w| {
        let jobs = w
            .jobs
            .iter()
            .flat_map(|j| [Some(j.recorded_time), j.created_time, j.ended_time]);
        let servers = w.server_statuses.iter().flat_map(|s| {
            [
                s.launch_time,
                s.cleanup.as_ref().map(|c| c.requested_time),
                s.cleanup.as_ref().and_then(|c| c.terminated_time),
            ]
        });
        let runs = w
            .action_runs
            .iter()
            .flat_map(|r| [Some(r.start_time), Some(r.claimed_time), r.end_time]);
        [w.launch_time, w.attempt_time, w.end_time]
            .into_iter()
            .chain(jobs)
            .chain(servers)
            .chain(runs)
    });
    header
        .into_iter()
        .chain(waves)
        .flatten()
        .chain(trail.iter().map(|e| e.time))
        .max()
        .unwrap_or(h.created_time)
}

/// The job a server's status was last read from.
fn job_of<'a>(wave: &'a Wave, server: &ServerStatus) -> Option<&'a WaveJob> {
    let id = server.job_id.as_ref()?;
    wave.jobs.iter().find(|j| &j.job_id == id)
}

/// Where a wave's recovery starts: the earliest DRS `creationDateTime` of its first attempt's
/// jobs, else the engine's start of its first attempt.
fn wave_start(w: &Wave) -> Option<TimePoint> {
    // The first attempt's jobs, as DRS dated them.
    let drs = w
        .jobs
        .iter()
        .filter(|j| j.attempt == 1)
        .filter_map(|j| j.created_time)
        .min();
    let engine = w
        .launch_time
        .map(|t| TimePoint::new(t, TimeSource::Engine, "engine: wave launchTime"))
        .or_else(|| {
            w.attempt_time
                .map(|t| TimePoint::new(t, TimeSource::Engine, "engine: wave attemptTime"))
        });
    match (drs, &engine) {
        // The recovery runs from the first attempt: when DRS created its first job, unless the
        // launch was held up before it (refusals that cleared, a retry's first job): then from
        // when the engine first asked.
        (Some(t), Some(e)) if t.secs_since(e.time) > HELD_UP_SECS => engine,
        (Some(t), _) => Some(TimePoint::new(
            t,
            TimeSource::Drs,
            "DRS job creationDateTime",
        )),
        (None, _) => engine,
    }
}

/// A first job created this long after the engine first asked means the launch was held up (DRS
/// refused for a while, or the first attempt started no job): the recovery is timed from the ask.
const HELD_UP_SECS: u64 = 60;

/// The latest DRS `endDateTime` of `jobs` (a wave's, or its current attempt's).
fn last_job_end<'a>(jobs: impl IntoIterator<Item = &'a WaveJob>) -> Option<TimePoint> {
    jobs.into_iter()
        .filter_map(|j| j.ended_time)
        .max()
        .map(|t| TimePoint::new(t, TimeSource::Drs, "DRS job endDateTime"))
}

fn engine_end(w: &Wave) -> Option<TimePoint> {
    w.end_time
        .map(|t| TimePoint::new(t, TimeSource::Engine, "engine: wave endTime"))
}

/// Where a COMPLETED wave's recovery ends: the latest EC2 `launchTime` of its CRITICAL LAUNCHED
/// servers, else its jobs' latest DRS `endDateTime`, else the engine's end of the wave.
fn wave_end(w: &Wave) -> Option<TimePoint> {
    if w.status != WaveStatus::Completed {
        return None;
    }
    last_launch(
        w.server_statuses
            .iter()
            .filter(|s| s.impact == Impact::Critical && s.launch_status == LaunchStatus::Launched),
    )
    .or_else(|| last_job_end(&w.jobs))
    .or_else(|| engine_end(w))
}

/// The latest EC2 `launchTime` of `servers`, when EC2 gave every one of them its time (and there
/// is one).
fn last_launch<'a>(servers: impl IntoIterator<Item = &'a ServerStatus>) -> Option<TimePoint> {
    servers
        .into_iter()
        .map(|s| s.launch_time)
        .collect::<Option<Vec<Timestamp>>>()?
        .into_iter()
        .max()
        .map(|t| TimePoint::new(t, TimeSource::Ec2, "EC2 launchTime"))
}

/// When a COMPLETED wave's last server launched: the latest DRS `endDateTime` of its last
/// attempt's jobs once DRS ended every one (a job ends when its last server's launch ends), else
/// the latest EC2 `launchTime` of its LAUNCHED servers, else the engine's end of the wave.
fn last_server_launched(w: &Wave) -> Option<TimePoint> {
    let all_ended = w.current_jobs().all(|j| j.ended_time.is_some());
    all_ended
        .then(|| last_job_end(w.current_jobs()))
        .flatten()
        .or_else(|| {
            last_launch(
                w.server_statuses
                    .iter()
                    .filter(|s| s.launch_status == LaunchStatus::Launched),
            )
        })
        .or_else(|| engine_end(w))
}

fn figure_source(start: &TimePoint, end: &TimePoint) -> FigureSource {
    if start.source == TimeSource::Engine || end.source == TimeSource::Engine {
        FigureSource::Engine
    } else {
        FigureSource::Drs
    }
}

/// What a measured interval is broken down by: the pauses, the wave actions' runs (`None` when
/// the plan has no action), and the report's `asOf` that open ones run to.
struct Spans<'a> {
    pauses: &'a [Pause],
    actions: Option<&'a [(Timestamp, Timestamp)]>,
    as_of: Timestamp,
}

/// When a pause ran: its start to its end (one still standing: to `as_of`); `None` when the
/// trail begins inside it.
fn pause_span(p: &Pause, as_of: Timestamp) -> Option<(Timestamp, Timestamp)> {
    Some((p.start?, p.end.unwrap_or(as_of)))
}

/// Seconds of the pauses that fall within `from..to`.
fn paused_within(pauses: &[Pause], from: Timestamp, to: Timestamp, as_of: Timestamp) -> u64 {
    pauses
        .iter()
        .filter_map(|p| {
            let (start, end) = pause_span(p, as_of)?;
            let overlap = end.0.min(to.0).saturating_sub(start.0.max(from.0));
            u64::try_from(overlap).ok()
        })
        .sum()
}

/// `start`/`end` measured, with the time paused and running within, as far as known: up to `end`,
/// else up to `stopped` (a wave that settled without recovering, an execution that ended), else
/// up to the report's `as_of`.
fn measure(
    start: Option<TimePoint>,
    end: Option<TimePoint>,
    stopped: Option<Timestamp>,
    spans: &Spans<'_>,
) -> RecoveryTime {
    let (pauses, as_of) = (spans.pauses, spans.as_of);
    let seconds = match (&start, &end) {
        (Some(s), Some(e)) => Some(e.time.secs_since(s.time)),
        _ => None,
    };
    let source = match (&start, &end) {
        (Some(s), Some(e)) => Some(figure_source(s, e)),
        _ => None,
    };
    let (paused_seconds, running_seconds, action_seconds) = match &start {
        Some(s) => {
            let until = end.as_ref().map(|e| e.time).or(stopped).unwrap_or(as_of);
            let total = until.secs_since(s.time);
            let paused = paused_within(pauses, s.time, until, as_of).min(total);
            let actions = spans
                .actions
                .map(|runs| covered_within(runs, s.time, until).min(total));
            (Some(paused), Some(total - paused), actions)
        }
        None => (None, None, spans.actions.map(|_| 0)),
    };
    RecoveryTime {
        start,
        end,
        seconds,
        source,
        record_seconds: None,
        paused_seconds,
        running_seconds,
        action_seconds,
        target_rto_seconds: None,
        verdict: Verdict::NoTarget,
        note: None,
    }
}

/// Where a recovery stands, for its verdict.
enum Standing {
    /// Recovered, in this many seconds.
    Recovered(u64),
    /// Will not be recovered (within this execution): why.
    Unrecovered(String),
    /// Not recovered yet; started at this time, if it has.
    Underway(Option<Timestamp>),
}

fn judge(target: Option<u64>, standing: Standing, as_of: Timestamp) -> (Verdict, Option<String>) {
    let Some(target) = target else {
        let note = match standing {
            Standing::Unrecovered(why) => Some(why),
            _ => None,
        };
        return (Verdict::NoTarget, note);
    };
    match standing {
        Standing::Recovered(secs) if secs <= target => (Verdict::Met, None),
        Standing::Recovered(secs) => (
            Verdict::Missed,
            Some(format!("{}s over the target", secs - target)),
        ),
        Standing::Unrecovered(why) => (Verdict::Missed, Some(why)),
        Standing::Underway(Some(start)) if as_of.secs_since(start) > target => (
            Verdict::Missed,
            Some(format!(
                "not recovered yet, and already {}s past its start as of the report",
                as_of.secs_since(start)
            )),
        ),
        Standing::Underway(_) => (Verdict::NotFinished, None),
    }
}

fn wave_report(execution: &Execution, w: &Wave, spans: &Spans<'_>) -> WaveReport {
    let as_of = spans.as_of;
    let stopped = w
        .status
        .is_settled()
        .then(|| {
            last_job_end(&w.jobs)
                .or_else(|| engine_end(w))
                .map(|p| p.time)
        })
        .flatten();
    let mut recovery = measure(wave_start(w), wave_end(w), stopped, spans);
    recovery.record_seconds = w.recovery_time_seconds;
    recovery.target_rto_seconds = w.target_rto_seconds;
    let terminal = execution.status().is_terminal();
    let standing = match (w.status, recovery.seconds) {
        (WaveStatus::Completed, Some(secs)) => Standing::Recovered(secs),
        (WaveStatus::Skipped, _) => Standing::Unrecovered(match action_failure(w) {
            Some(why) => format!("{why}, and was skipped"),
            None => "the wave failed and was skipped".into(),
        }),
        (WaveStatus::Failed, _) if terminal => Standing::Unrecovered(
            action_failure(w)
                .unwrap_or_else(|| "the wave failed: its servers were not recovered".into()),
        ),
        (WaveStatus::Cancelled | WaveStatus::Pending, _) if terminal => {
            Standing::Unrecovered(format!(
                "the execution ended {} before the wave recovered",
                execution.status()
            ))
        }
        _ => Standing::Underway(recovery.start.as_ref().map(|s| s.time)),
    };
    (recovery.verdict, recovery.note) = judge(w.target_rto_seconds, standing, as_of);
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
            recorded_time: j.recorded_time,
            created_time: j.created_time,
            ended_time: j.ended_time,
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
        recovery_time_seconds: recovery.seconds,
        recovery,
        failure_reason: w.failure_reason,
        status_message: w.status_message.clone(),
        optional_not_launched,
        servers: w.server_statuses.iter().map(server_report).collect(),
        action_time: (!w.actions.is_empty() || !w.action_runs.is_empty()).then(|| {
            action_time(
                &w.action_runs
                    .iter()
                    .map(|r| action_report(w, r, as_of))
                    .collect::<Vec<_>>(),
            )
        }),
    }
}

/// `the wave failed: its AFTER_COMPLETE action smoke-test FAILED (attempt 1)`, for a wave an
/// action failed.
fn action_failure(w: &Wave) -> Option<String> {
    if w.failure_reason != Some(WaveFailure::ActionFailed) {
        return None;
    }
    let (_, run) = w.failed_action()?;
    Some(format!(
        "the wave failed: its {} action {} {} (attempt {})",
        run.when.as_str(),
        run.name,
        run.status,
        run.attempt
    ))
}

/// The execution's recovery: the first wave's start to the last wave's end, once every wave has
/// passed (COMPLETED or SKIPPED) and the execution has ended.
fn execution_recovery(
    execution: &Execution,
    waves: &[WaveReport],
    spans: &Spans<'_>,
) -> RecoveryTime {
    let as_of = spans.as_of;
    let start = waves
        .iter()
        .filter_map(|w| w.recovery.start.clone())
        .min_by_key(|p| p.time);
    let status = execution.status();
    let recovered = status.is_terminal() && execution.all_waves_complete();
    let end = if recovered {
        waves
            .iter()
            .filter_map(|w| w.recovery.end.clone())
            .max_by_key(|p| p.time)
    } else {
        None
    };
    let stopped = status
        .is_terminal()
        .then_some(execution.header.end_time)
        .flatten();
    let mut recovery = measure(start, end, stopped, spans);
    recovery.record_seconds = execution.header.recovery_time_seconds;
    recovery.target_rto_seconds = execution.header.target_rto_seconds;
    let skipped: Vec<String> = waves
        .iter()
        .filter(|w| w.status == WaveStatus::Skipped)
        .map(|w| w.wave_number.to_string())
        .collect();
    let standing = match (status, recovery.seconds) {
        _ if !skipped.is_empty() && status.is_terminal() => Standing::Unrecovered(format!(
            "wave{} {} skipped: the plan was not wholly recovered",
            if skipped.len() == 1 { "" } else { "s" },
            skipped.join(", ")
        )),
        (ExecutionStatus::Completed | ExecutionStatus::CompletedWithErrors, Some(secs)) => {
            Standing::Recovered(secs)
        }
        (ExecutionStatus::Failed | ExecutionStatus::Cancelled, _) => {
            Standing::Unrecovered(format!("the execution ended {status}: not recovered"))
        }
        _ => Standing::Underway(recovery.start.as_ref().map(|s| s.time)),
    };
    (recovery.verdict, recovery.note) = judge(recovery.target_rto_seconds, standing, as_of);
    if recovery.note.is_none()
        && status == ExecutionStatus::CompletedWithErrors
        && waves.iter().any(|w| !w.optional_not_launched.is_empty())
    {
        recovery.note =
            Some("OPTIONAL servers did not launch; they do not count in the recovery time".into());
    }
    recovery
}

/// The gap at each boundary between consecutive waves: from a COMPLETED wave's last server
/// launched ([`last_server_launched`]) to the next wave's start (where its recovery time starts,
/// [`wave_start`]), once it launched.
fn boundaries(execution: &Execution, spans: &Spans<'_>) -> Vec<BoundaryReport> {
    execution
        .waves
        .windows(2)
        .filter_map(|pair| {
            let [done, next] = pair else {
                return None;
            };
            if done.status != WaveStatus::Completed {
                return None;
            }
            let from = last_server_launched(done)?;
            let to = wave_start(next)?;
            let (start, end) = (from.time, to.time);
            let gap = end.secs_since(start);
            let paused = paused_within(spans.pauses, start, end, spans.as_of).min(gap);
            let runs = spans.actions.unwrap_or_default();
            let actions = covered_within(runs, start, end).min(gap);
            // A run that went on while the execution stood paused is not the engine's wait
            // either, and counts once.
            let not_waiting: Vec<(Timestamp, Timestamp)> = spans
                .pauses
                .iter()
                .filter_map(|p| pause_span(p, spans.as_of))
                .chain(runs.iter().copied())
                .collect();
            let wait = gap.saturating_sub(covered_within(&not_waiting, start, end));
            Some(BoundaryReport {
                from_wave: done.wave_number,
                from_wave_name: done.wave_name.clone(),
                to_wave: next.wave_number,
                to_wave_name: next.wave_name.clone(),
                source: figure_source(&from, &to),
                from,
                to,
                gap_seconds: gap,
                paused_seconds: paused,
                action_seconds: actions,
                wait_seconds: wait,
            })
        })
        .collect()
}

/// The intervals the execution stood PAUSED, from the trail's status moves.
fn pauses(trail: &[AuditEvent], as_of: Timestamp) -> Vec<Pause> {
    let mut out: Vec<Pause> = Vec::new();
    let mut open: Option<Pause> = None;
    for e in trail {
        let Some(change) = &e.execution else {
            // A new decision while it stands paused (an operator's pause became a planned one).
            if let Some(p) = open.as_mut() {
                if p.decision.is_none() && e.decision.is_some() {
                    p.decision = e.decision;
                    p.paused_before_wave = p.paused_before_wave.or(e.paused_before_wave);
                    p.failed_wave = p.failed_wave.or(e.failed_wave);
                }
            }
            continue;
        };
        let into = change.to == ExecutionStatus::Paused;
        let from = change.from == Some(ExecutionStatus::Paused);
        if into && !from {
            if let Some(mut p) = open.take() {
                // Never closed (a trail that skipped an event): it ends where the next begins.
                p.end = Some(e.time);
                p.seconds = p.start.map(|s| e.time.secs_since(s));
                out.push(p);
            }
            let reason = e
                .failed_wave
                .and_then(|n| e.waves.iter().find(|w| w.wave_number == n))
                .and_then(|w| w.reason.clone())
                .or_else(|| e.reason.clone());
            open = Some(Pause {
                start: Some(e.time),
                end: None,
                seconds: None,
                decision: e.decision,
                paused_before_wave: e.paused_before_wave,
                failed_wave: e.failed_wave,
                reason,
                paused_by: Some(e.actor.to_string()),
                ended_by: None,
                ended_with: None,
                ended_to: None,
            });
        } else if from && !into {
            let mut p = open.take().unwrap_or(Pause {
                start: None,
                end: None,
                seconds: None,
                decision: None,
                paused_before_wave: None,
                failed_wave: None,
                reason: None,
                paused_by: None,
                ended_by: None,
                ended_with: None,
                ended_to: None,
            });
            p.end = Some(e.time);
            p.seconds = p.start.map(|s| e.time.secs_since(s));
            p.ended_by = Some(e.actor.to_string());
            p.ended_with = Some(e.operation.clone());
            p.ended_to = Some(change.to);
            out.push(p);
        }
    }
    if let Some(mut p) = open {
        p.seconds = p.start.map(|s| as_of.secs_since(s));
        out.push(p);
    }
    out
}

fn failure_report(w: &Wave, as_of: Timestamp) -> FailureReport {
    FailureReport {
        action: (w.failure_reason == Some(WaveFailure::ActionFailed))
            .then(|| w.failed_action())
            .flatten()
            .map(|(_, run)| action_report(w, run, as_of)),
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
        drs_reason: s.drs_reason.clone(),
        job_id: s.job_id.clone(),
        instance: InstanceFacts::of(s),
    }
}

/// When a failed server failed: its job's end (DRS), else the wave's end (engine).
fn failed_at(w: &Wave, s: &ServerStatus) -> Option<TimePoint> {
    job_of(w, s)
        .and_then(|j| j.ended_time)
        .map(|t| TimePoint::new(t, TimeSource::Drs, "DRS job endDateTime"))
        .or_else(|| engine_end(w))
}

/// DRS's reason, else the engine's, else [`NO_DRS_REASON`].
pub fn failure_reason_of(drs_reason: Option<&str>, status_message: Option<&str>) -> String {
    let given = |r: Option<&str>| {
        r.map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
    };
    given(drs_reason)
        .or_else(|| given(status_message).map(|m| format!("{NO_DRS_REASON}; the engine: {m}")))
        .unwrap_or_else(|| NO_DRS_REASON.to_owned())
}

fn failed_servers(execution: &Execution) -> Vec<FailedServer> {
    execution
        .waves
        .iter()
        .flat_map(|w| {
            w.server_statuses
                .iter()
                .filter(|s| s.launch_status == LaunchStatus::Failed)
                .map(move |s| FailedServer {
                    wave_number: w.wave_number,
                    source_server_id: s.source_server_id.clone(),
                    server_name: s.server_name.clone(),
                    impact: s.impact,
                    job_id: s.job_id.clone(),
                    drs_reason: s.drs_reason.clone(),
                    reason: failure_reason_of(s.drs_reason.as_deref(), s.status_message.as_deref()),
                    failed_at: failed_at(w, s),
                })
        })
        .collect()
}

fn instances(execution: &Execution) -> Vec<InstanceReport> {
    execution
        .waves
        .iter()
        .flat_map(|w| {
            w.server_statuses
                .iter()
                .filter(|s| {
                    s.recovery_instance_id.is_some()
                        || s.instance_id.is_some()
                        || s.launch_status == LaunchStatus::Launched
                })
                .map(move |s| InstanceReport {
                    wave_number: w.wave_number,
                    source_server_id: s.source_server_id.clone(),
                    server_name: s.server_name.clone(),
                    launch_status: s.launch_status.clone(),
                    instance: InstanceFacts::of(s),
                })
        })
        .collect()
}

fn cleanup(execution: &Execution) -> CleanupReport {
    let servers: Vec<CleanupServer> = execution
        .waves
        .iter()
        .flat_map(|w| {
            w.server_statuses.iter().filter_map(move |s| {
                let c = s.cleanup.as_ref()?;
                Some(CleanupServer {
                    wave_number: w.wave_number,
                    source_server_id: s.source_server_id.clone(),
                    server_name: s.server_name.clone(),
                    recovery_instance_id: c.recovery_instance_id.clone(),
                    state: c.state,
                    job_id: c.job_id.clone(),
                    requested_time: c.requested_time,
                    terminated_time: c.terminated_time,
                })
            })
        })
        .collect();
    let with_instance = execution
        .waves
        .iter()
        .flat_map(|w| &w.server_statuses)
        .filter(|s| s.recovery_instance_id.is_some() || s.cleanup.is_some())
        .count();
    let count = |state: CleanupState| servers.iter().filter(|s| s.state == state).count();
    let (requesting, requested, terminated, gone) = (
        count(CleanupState::Requesting),
        count(CleanupState::Requested),
        count(CleanupState::Terminated),
        count(CleanupState::Gone),
    );
    let untouched = with_instance.saturating_sub(servers.len());
    let complete = with_instance > 0 && terminated + gone == with_instance;
    let after_seconds = execution.header.cleanup_after_seconds;
    let text = if !execution.header.is_drill {
        "A recovery's instances are production: cleanup never touches them.".to_owned()
    } else if with_instance == 0 {
        "No recovery instance to clean up.".to_owned()
    } else if servers.is_empty() {
        match after_seconds {
            Some(after) => format!(
                "Cleanup has not run yet: the plan asks for it {after}s after the drill ends; {} left running.",
                instances_word(with_instance)
            ),
            None => format!(
                "The plan asks for no cleanup: {} left running.",
                instances_word(with_instance)
            ),
        }
    } else if complete {
        format!(
            "Cleanup is complete: {terminated} terminated, {gone} already gone, of {}.",
            instances_word(with_instance)
        )
    } else {
        format!(
            "Cleanup is under way: {terminated} terminated, {gone} already gone, {} asked of DRS, {untouched} not yet touched, of {}.",
            requesting + requested,
            instances_word(with_instance)
        )
    };
    CleanupReport {
        after_seconds,
        servers,
        summary: CleanupSummary {
            instances: with_instance,
            requesting,
            requested,
            terminated,
            gone,
            untouched,
            complete,
            text,
        },
    }
}

fn instances_word(n: usize) -> String {
    format!("{n} recovery instance{}", if n == 1 { "" } else { "s" })
}

/// Whether an actor is a person (an operator), not the engine.
fn is_person(actor: &Actor) -> bool {
    matches!(
        actor,
        Actor::Iam(_) | Actor::Cli(_) | Actor::Anonymous | Actor::Invoker
    )
}

/// The operations by which a person decides.
const DECIDING: [&str; 6] = ["pause", "resume", "retry", "skip", "cancel", "restart"];

/// An event's summary, its `Execution ID (plan ID)` shortened to `Execution` (the report is about
/// one execution, named above).
pub fn short_summary(event: &AuditEvent) -> String {
    let summary = event.summary();
    let named = format!("Execution {} (plan {})", event.execution_id, event.plan_id);
    summary
        .strip_prefix(&named)
        .map_or_else(|| summary.clone(), |rest| format!("Execution{rest}"))
}

fn decisions(trail: &[AuditEvent]) -> Vec<DecisionMark> {
    trail
        .iter()
        .filter(|e| {
            // A person's answer is the event that moved a status (a resume's release of the
            // workflow is an event of its own, not another decision).
            let moved = e.execution.is_some() || e.waves.iter().any(|w| w.status.is_some());
            e.decision.is_some()
                || (moved && is_person(&e.actor) && DECIDING.contains(&e.operation.as_str()))
        })
        .map(|e| DecisionMark {
            time: e.time,
            event_id: e.event_id.clone(),
            decision: e.decision,
            operation: e.operation.clone(),
            actor: e.actor.to_string(),
            by_person: is_person(&e.actor),
            wave_number: e
                .failed_wave
                .or(e.paused_before_wave)
                .or_else(|| e.waves.first().map(|w| w.wave_number)),
            summary: short_summary(e),
        })
        .collect()
}

fn timeline(
    execution: &Execution,
    waves: &[WaveReport],
    pauses: &[Pause],
    actions: &[ActionReport],
    trail: &[AuditEvent],
    as_of: Timestamp,
) -> Timeline {
    let rows: Vec<TimelineWave> = execution
        .waves
        .iter()
        .zip(waves)
        .map(|(w, report)| TimelineWave {
            wave_number: w.wave_number,
            wave_name: w.wave_name.clone(),
            status: w.status,
            bar: wave_bar(w, report),
            servers: w
                .server_statuses
                .iter()
                .map(|s| TimelineServer {
                    source_server_id: s.source_server_id.clone(),
                    server_name: s.server_name.clone(),
                    impact: s.impact,
                    launch_status: s.launch_status.clone(),
                    bar: server_bar(w, s, report.recovery.start.as_ref()),
                })
                .collect(),
        })
        .collect();
    let decisions = decisions(trail);
    let mut marks: Vec<Mark> = actions.iter().flat_map(action_marks).collect();
    if let (Some(end), true) = (execution.header.end_time, execution.status().is_terminal()) {
        marks.push(Mark {
            time: end,
            kind: "EXECUTION_ENDED".to_owned(),
            label: format!("ended {}", execution.status()),
            wave_number: None,
            action: None,
            attempt: None,
        });
    }
    // Oldest first; at the same second, in the order above (a run's start before its end, the
    // execution's end last).
    marks.sort_by_key(|m| m.time);
    let bars = rows
        .iter()
        .flat_map(|w| std::iter::once(&w.bar).chain(w.servers.iter().map(|s| &s.bar)));
    let mut open = false;
    let mut times: Vec<Timestamp> = Vec::new();
    for bar in bars {
        if let Some(s) = &bar.start {
            times.push(s.time);
            match &bar.end {
                Some(e) => times.push(e.time),
                None => open |= bar.outcome == Outcome::InProgress,
            }
        }
    }
    for p in pauses {
        times.extend(p.start);
        match p.end {
            Some(end) => times.push(end),
            None => open = true,
        }
    }
    times.extend(decisions.iter().map(|d| d.time));
    times.extend(marks.iter().map(|m| m.time));
    open |= actions.iter().any(|a| a.status == ActionStatus::Running);
    if open {
        times.push(as_of);
    }
    Timeline {
        start: times.iter().min().copied(),
        end: times.iter().max().copied(),
        waves: rows,
        decisions,
        marks,
    }
}

/// Whether any wave of the execution lists an action or has run one.
fn has_actions(execution: &Execution) -> bool {
    execution
        .waves
        .iter()
        .any(|w| !w.actions.is_empty() || !w.action_runs.is_empty())
}

/// A run as the report shows it, with what the plan said of its action.
fn action_report(w: &Wave, run: &ActionRun, as_of: Timestamp) -> ActionReport {
    let action = w.actions.iter().find(|a| a.name == run.name);
    let until = match (run.end_time, run.status) {
        (Some(end), _) => end,
        (None, ActionStatus::Running) => as_of,
        (None, _) => run.start_time,
    };
    ActionReport {
        wave_number: w.wave_number,
        wave_name: w.wave_name.clone(),
        name: run.name.clone(),
        when: run.when,
        kind: action.map(|a| a.kind),
        target: action.map(|a| a.target.clone()),
        timeout_seconds: action.map(|a| a.timeout_seconds),
        on_failure: action.map(|a| a.on_failure),
        attempt: run.attempt,
        status: run.status,
        start_time: run.start_time,
        end_time: run.end_time,
        seconds: until.secs_since(run.start_time),
        automation_execution_id: run.automation_execution_id.clone(),
        retry_time: run.retry_time,
        summary: run.summary.clone(),
        error: run.error.clone(),
        // An action the record no longer lists is taken at its default policy (FAIL).
        failed_the_wave: run.status.is_failure()
            && action.map_or(ActionOnFailure::default(), |a| a.on_failure) == ActionOnFailure::Fail,
    }
}

/// Every run of every wave, in the order they started (a wave's in the order they were taken).
fn action_reports(execution: &Execution, as_of: Timestamp) -> Vec<ActionReport> {
    let mut runs: Vec<ActionReport> = execution
        .waves
        .iter()
        .flat_map(|w| {
            w.action_runs
                .iter()
                .map(move |r| action_report(w, r, as_of))
        })
        .collect();
    runs.sort_by_key(|r| r.start_time);
    runs
}

fn action_time(runs: &[ActionReport]) -> ActionTime {
    let mut t = ActionTime::default();
    for r in runs {
        t.runs += 1;
        t.failed_runs += usize::from(r.status.is_failure());
        t.running_runs += usize::from(r.status == ActionStatus::Running);
        match r.when {
            ActionWhen::BeforeLaunch => t.before_launch_seconds += r.seconds,
            ActionWhen::AfterComplete => t.after_complete_seconds += r.seconds,
        }
    }
    t.seconds = t.before_launch_seconds + t.after_complete_seconds;
    t
}

/// When each run of the execution ran (a run still RUNNING up to `as_of`); `None` when the plan
/// has no action.
fn action_intervals(
    execution: &Execution,
    as_of: Timestamp,
) -> Option<Vec<(Timestamp, Timestamp)>> {
    has_actions(execution).then(|| {
        execution
            .waves
            .iter()
            .flat_map(|w| &w.action_runs)
            .map(|r| {
                let end = match (r.end_time, r.status) {
                    (Some(end), _) => end,
                    (None, ActionStatus::Running) => as_of,
                    (None, _) => r.start_time,
                };
                (r.start_time, end.max(r.start_time))
            })
            .collect()
    })
}

/// Seconds of `from..to` that at least one of `spans` covers (overlapping spans count once).
fn covered_within(spans: &[(Timestamp, Timestamp)], from: Timestamp, to: Timestamp) -> u64 {
    let mut clipped: Vec<(i64, i64)> = spans
        .iter()
        .map(|(s, e)| (s.0.max(from.0), e.0.min(to.0)))
        .filter(|(s, e)| s < e)
        .collect();
    clipped.sort_unstable();
    let mut total: i64 = 0;
    let mut reach = i64::MIN;
    for (s, e) in clipped {
        let s = s.max(reach);
        if e > s {
            total += e - s;
            reach = e;
        }
    }
    u64::try_from(total).unwrap_or(0)
}

/// A run's marks: its start, and its end once it ended.
fn action_marks(a: &ActionReport) -> Vec<Mark> {
    let mark = |time: Timestamp, ended: Option<ActionStatus>, label: String| Mark {
        time,
        kind: action_mark_kind(a.when, ended),
        label,
        wave_number: Some(a.wave_number),
        action: Some(a.name.clone()),
        attempt: Some(a.attempt),
    };
    let what = format!(
        "wave {}: {} action {}",
        a.wave_number,
        a.when.as_str(),
        a.name
    );
    let mut marks = vec![mark(
        a.start_time,
        None,
        format!("{what} started (attempt {})", a.attempt),
    )];
    if let (Some(end), true) = (a.end_time, a.status != ActionStatus::Running) {
        let policy = match (a.status.is_failure(), a.failed_the_wave) {
            (true, true) => "; it failed the wave",
            (true, false) => "; onFailure CONTINUE: the execution went on",
            _ => "",
        };
        let error = a
            .error
            .as_deref()
            .filter(|_| a.status.is_failure())
            .map(|e| format!(": {}", crate::text::clip(e, 120)))
            .unwrap_or_default();
        marks.push(mark(
            end,
            Some(a.status),
            format!("{what} {} (attempt {}{policy}){error}", a.status, a.attempt),
        ));
    }
    marks
}

fn wave_bar(w: &Wave, report: &WaveReport) -> Bar {
    let start = report.recovery.start.clone();
    if start.is_none() {
        return Bar {
            start: None,
            end: None,
            outcome: Outcome::NotStarted,
        };
    }
    match w.status {
        WaveStatus::Completed => Bar {
            start,
            end: report.recovery.end.clone(),
            outcome: Outcome::Launched,
        },
        WaveStatus::Failed | WaveStatus::Skipped | WaveStatus::Cancelled => Bar {
            start,
            end: last_job_end(&w.jobs).or_else(|| engine_end(w)),
            outcome: Outcome::Failed,
        },
        WaveStatus::Pending | WaveStatus::Launching | WaveStatus::Started => Bar {
            start,
            end: None,
            outcome: Outcome::InProgress,
        },
    }
}

fn server_bar(w: &Wave, s: &ServerStatus, wave_start: Option<&TimePoint>) -> Bar {
    let job = job_of(w, s);
    let start = job
        .and_then(|j| {
            j.created_time
                .map(|t| TimePoint::new(t, TimeSource::Drs, "DRS job creationDateTime"))
                .or(Some(TimePoint::new(
                    j.recorded_time,
                    TimeSource::Engine,
                    "engine: job recordedTime",
                )))
        })
        .or_else(|| {
            // Launched without a job of its own on record (a version-1 record): the wave's start.
            (s.launch_status == LaunchStatus::Launched)
                .then(|| wave_start.cloned())
                .flatten()
        });
    let Some(start) = start else {
        return Bar {
            start: None,
            end: None,
            outcome: Outcome::NotStarted,
        };
    };
    let job_end = || {
        job.and_then(|j| j.ended_time)
            .map(|t| TimePoint::new(t, TimeSource::Drs, "DRS job endDateTime"))
    };
    let (end, outcome) = match s.launch_status {
        LaunchStatus::Launched => (
            s.launch_time
                .map(|t| TimePoint::new(t, TimeSource::Ec2, "EC2 launchTime"))
                .or_else(job_end)
                .or_else(|| engine_end(w)),
            Outcome::Launched,
        ),
        LaunchStatus::Failed | LaunchStatus::Terminated => {
            (job_end().or_else(|| engine_end(w)), Outcome::Failed)
        }
        _ if w.status.is_settled() => (job_end().or_else(|| engine_end(w)), Outcome::Failed),
        _ => (None, Outcome::InProgress),
    };
    Bar {
        start: Some(start),
        end,
        outcome,
    }
}

#[cfg(test)]
mod tests;
