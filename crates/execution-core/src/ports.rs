//! The ports: everything the core needs from the outside world, as small async traits.
//! Contracts live here, on the traits; adapters translate and never decide.

use std::time::Duration;

use async_trait::async_trait;

use crate::audit::{AuditEvent, Notice, Page};
use crate::ids::{ExecutionId, InstanceId, JobId, PlanId, SourceServerId, TaskToken};
use crate::model::{Execution, ExecutionHeader, Timestamp, Wave};
use crate::status::{ExecutionStatus, JobStatus, LaunchStatus};

/// DRS filters (`jobIDs`, `sourceServerIDs`, `recoveryInstanceIDs`) take at most this many ids.
pub const DRS_FILTER_MAX: usize = 200;
/// EC2 filter values per DescribeInstances call (EC2 answers `FilterLimitExceeded` past 200).
pub const EC2_FILTER_MAX: usize = 200;

/// A failure of an AWS service call, as the core needs to tell them apart.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// Refused for now, for a reason that clears on its own, and nothing was done: throttling, and
    /// DRS's quota and conflict refusals (`ServiceQuotaExceededException`: concurrent jobs or
    /// servers in all jobs; `ConflictException`: a server is in another job). Retry after the
    /// hint when the service gave one (DRS's `retryAfterSeconds`).
    #[error("throttled{}: {message}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    Throttled {
        retry_after: Option<Duration>,
        message: String,
    },
    /// 5xx, timeouts, connection failures, a transaction still in progress: worth retrying. For
    /// a call that changes something (StartRecovery) it is not known whether it took effect.
    /// Retry after the hint when the service gave one (DRS's `InternalServerException` carries
    /// `retryAfterSeconds`).
    #[error("service unavailable{}: {message}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs())).unwrap_or_default())]
    Unavailable {
        retry_after: Option<Duration>,
        message: String,
    },
    /// The request was refused (validation, access denied, missing resource): retrying the same
    /// request will not help.
    #[error("request rejected: {0}")]
    Rejected(String),
}

impl ServiceError {
    /// `Unavailable` without a hint of when to retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable {
            retry_after: None,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Execution store
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A conditional write lost a race: some expected version (or existence) did not hold.
    /// Nothing of the commit was written.
    #[error("lost a race with another writer")]
    Conflict,
    /// A stored record could not be read back into the domain (a bug or a hand edit).
    #[error("stored record is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// One execution the status index lists as active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveExecution {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    pub status: ExecutionStatus,
    /// When the execution was created (the status index's sort key).
    pub created_time: Timestamp,
    pub last_polled_time: Option<Timestamp>,
    /// The run that conducts the execution and when it last polled (find's healing asks the
    /// workflow only about executions whose run has not polled for a while).
    pub workflow_run: Option<String>,
    pub workflow_polled_time: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivePage {
    pub executions: Vec<ActiveExecution>,
    /// Opaque; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A commit's new header: the stored header's version must still be `expected_version`, and
/// `header.version` is `expected_version + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderWrite {
    pub expected_version: u64,
    pub header: ExecutionHeader,
}

/// Replace one wave; the stored wave's version must be `expected_version`, and `wave.version`
/// is `expected_version + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct WaveWrite {
    pub expected_version: u64,
    pub wave: Wave,
}

/// A set of conditional writes to one execution and the audit events that record them, applied
/// all or nothing: a change is never stored without its events, nor an event without its change.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub execution_id: ExecutionId,
    pub header: Option<HeaderWrite>,
    pub waves: Vec<WaveWrite>,
    /// Appended to the execution's trail; an event id already in it is a `Conflict`.
    pub events: Vec<AuditEvent>,
}

impl Commit {
    /// The writes of a change; its events are added by the audit ([`crate::ops::Audited`]).
    pub fn new(
        execution_id: ExecutionId,
        header: Option<HeaderWrite>,
        waves: Vec<WaveWrite>,
    ) -> Self {
        Self {
            execution_id,
            header,
            waves,
            events: vec![],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.header.is_none() && self.waves.is_empty() && self.events.is_empty()
    }

    /// Items the commit writes: a store holds a commit in one transaction of at most
    /// [`MAX_COMMIT_ITEMS`].
    pub fn items(&self) -> usize {
        usize::from(self.header.is_some()) + self.waves.len() + self.events.len()
    }
}

/// The most items one commit may write (DynamoDB's transaction limit): use cases keep under it
/// and stores refuse more (never split: a commit is atomic).
pub const MAX_COMMIT_ITEMS: usize = 100;

/// One page of an execution's trail, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventPage {
    pub events: Vec<AuditEvent>,
    /// Opaque; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Where executions live (DynamoDB in AWS, memory in the simulator).
#[async_trait]
pub trait ExecutionStore: Send + Sync {
    /// The execution with every wave, in wave order, strongly consistent; `Ok(None)` when no
    /// execution has this id.
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError>;

    /// Stores a new execution (header and every wave) and the events of its creation, all or
    /// nothing. MUST return `Conflict` and write nothing when an execution with this id exists.
    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// One page of the executions whose status is in [`ExecutionStatus::LISTED`] (POLLING,
    /// CANCELLING, PAUSED, PENDING, in that order), read from a status index (never a scan),
    /// executions only. `cursor` is `None` for the first page, then the previous page's
    /// `next_cursor`. A page may be empty and still have a next cursor.
    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError>;

    /// Applies every write of `commit` and appends its events, atomically. MUST return `Conflict`
    /// and write nothing when the execution is missing, any expected version does not match, or
    /// an event id is already in the trail; `Rejected` (written nothing) when the commit holds
    /// more than [`MAX_COMMIT_ITEMS`] items.
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError>;

    /// One page of the execution's audit trail, oldest first (strongly consistent). `cursor` is
    /// `None` for the first page, then the previous page's `next_cursor`; a cursor this store did
    /// not give is `Rejected`. An execution without events (or none at all) is an empty page.
    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError>;

    /// Sets what `touch` says: the execution's `lastPolledTime`, and (when the workflow polled,
    /// or a start or restart started a run) `workflowPolledTime`, with `workflowRun` when the
    /// mark names a new run ([`WorkflowMark::new_run`]; a mark of the recorded run leaves the
    /// stored run as it is, and a record without a run gets the mark's). A write of one small
    /// item, no version change: it races with nothing, and header writes never remove or
    /// overwrite these attributes. MUST NOT create an execution that does not exist (then
    /// `Conflict`). A touch that sets nothing writes nothing.
    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError>;
}

/// What a `touch` records.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Touch {
    /// `lastPolledTime`: when the execution was last polled, by anyone.
    pub polled_at: Option<Timestamp>,
    /// `workflowRun` and `workflowPolledTime`: the run that conducts the execution.
    pub workflow: Option<WorkflowMark>,
}

impl Touch {
    /// A poll at `at`; `run` when the workflow itself polled, which is written as a new run
    /// (use [`Touch::poll_of`] when the record's run is known).
    pub fn poll(at: Timestamp, run: Option<&str>) -> Self {
        Self::poll_of(at, run, None)
    }

    /// A poll at `at` of an execution whose record names `recorded` as its run; `run` when the
    /// workflow itself polled. The mark is a new run only when `run` is not `recorded` (a run
    /// that continued as new, or one a restart started, polling for the first time): a store
    /// then writes the run's name, else only when it was seen.
    pub fn poll_of(at: Timestamp, run: Option<&str>, recorded: Option<&str>) -> Self {
        Self {
            polled_at: Some(at),
            workflow: run.map(|run| WorkflowMark {
                run: run.to_owned(),
                at,
                new_run: recorded != Some(run),
            }),
        }
    }
}

/// The run that conducts an execution (its Step Functions execution ARN), and when it was last
/// seen alive (it polled, or a start or restart started it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowMark {
    pub run: String,
    pub at: Timestamp,
    /// `run` is not the run the record named when the mark was decided: a store writes the run's
    /// name (`workflowRun`) and when it was seen. When `false` the store writes only when it was
    /// seen and leaves the stored name alone (the status index projects the name, so rewriting
    /// an unchanged one would cost an index write per poll), except that a record holding no
    /// run gets `run`: a record never holds a time without its run.
    pub new_run: bool,
}

impl WorkflowMark {
    /// A run started at `at` (by start, or by a restart): a new run, whose name is written.
    pub fn started(run: String, at: Timestamp) -> Self {
        Self {
            run,
            at,
            new_run: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// DRS
// ---------------------------------------------------------------------------------------------

/// A DRS job as DescribeJobs returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrsJob {
    pub job_id: JobId,
    pub status: JobStatus,
    pub participating_servers: Vec<ParticipatingServer>,
    /// DRS's `creationDateTime` (absent when DRS did not say).
    pub created_time: Option<Timestamp>,
    /// DRS's `endDateTime`: set once the job has ended.
    pub ended_time: Option<Timestamp>,
    /// Which part of which execution's wave the job is, read from its tags ([`JobTag::read`]);
    /// absent on a job this engine did not start.
    pub tag: Option<JobTag>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipatingServer {
    pub source_server_id: SourceServerId,
    pub launch_status: LaunchStatus,
    /// DRS fills this in some time after the launch; absent until then.
    pub recovery_instance_id: Option<InstanceId>,
}

/// A DRS recovery instance (DescribeRecoveryInstances).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryInstance {
    pub recovery_instance_id: InstanceId,
    pub ec2_instance_id: Option<InstanceId>,
    pub source_server_id: SourceServerId,
    pub job_id: Option<JobId>,
    /// DRS's `isDrill`: whether a drill or a recovery launched it (`None`: DRS did not say). An
    /// instance without a `jobID` is matched to a server only when this is the execution's kind:
    /// a drill must never report the instance of a real recovery, nor the other way round.
    pub is_drill: Option<bool>,
}

/// What launch asks DRS for: one job for one part of one attempt of a wave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryRequest {
    pub execution_id: ExecutionId,
    pub wave_number: u32,
    pub attempt: u32,
    pub part: u32,
    pub is_drill: bool,
    pub source_servers: Vec<SourceServerId>,
}

/// Which job of which execution a tagged job is: what a launcher looks for after a crash or an
/// answer it did not get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobTag {
    pub execution_id: ExecutionId,
    pub wave_number: u32,
    pub attempt: u32,
    pub part: u32,
}

impl RecoveryRequest {
    pub fn tag(&self) -> JobTag {
        JobTag {
            execution_id: self.execution_id,
            wave_number: self.wave_number,
            attempt: self.attempt,
            part: self.part,
        }
    }

    /// The job tags that let a later launch find the job of a launch that died.
    pub fn tags(&self) -> [(&'static str, String); 4] {
        self.tag().tags()
    }
}

impl JobTag {
    pub fn tags(&self) -> [(&'static str, String); 4] {
        [
            (TAG_EXECUTION_ID, self.execution_id.to_string()),
            (TAG_WAVE_NUMBER, self.wave_number.to_string()),
            (TAG_ATTEMPT, self.attempt.to_string()),
            (TAG_PART, self.part.to_string()),
        ]
    }

    /// Whether a job with these tags is this one.
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        Self::read(get) == Some(*self)
    }

    /// The engine's tag on a job with these tags: `None` when the job is not one of its jobs (no
    /// or an unreadable `executionId` or `waveNumber`, or an attempt or part that is not a
    /// number). A job of version 1 has no attempt and no part tag: it is attempt 1, part 0.
    pub fn read(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let number = |key: &str| get(key).map_or(Some(None), |v| v.parse::<u32>().ok().map(Some));
        Some(Self {
            execution_id: ExecutionId::parse(&get(TAG_EXECUTION_ID)?).ok()?,
            wave_number: number(TAG_WAVE_NUMBER)??,
            attempt: number(TAG_ATTEMPT)?.unwrap_or(1),
            part: number(TAG_PART)?.unwrap_or(0),
        })
    }
}

pub const TAG_EXECUTION_ID: &str = "executionId";
pub const TAG_WAVE_NUMBER: &str = "waveNumber";
pub const TAG_ATTEMPT: &str = "attempt";
pub const TAG_PART: &str = "part";

/// A source server as DescribeSourceServers returns it: what the pre-flight checks read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceServer {
    pub source_server_id: SourceServerId,
    /// `sourceProperties.identificationHints.hostname`.
    pub hostname: Option<String>,
    /// `dataReplicationInfo.dataReplicationState`, as DRS says it (STOPPED, INITIATING,
    /// INITIAL_SYNC, BACKLOG, CREATING_SNAPSHOT, CONTINUOUS, PAUSED, RESCAN, STALLED,
    /// DISCONNECTED, or a value DRS adds later); `None` when DRS did not say.
    pub replication_state: Option<String>,
    /// `dataReplicationInfo.dataReplicationError.error` (and its `rawError`), when DRS reports one.
    pub replication_error: Option<String>,
    /// `lifeCycle.lastLaunch`: the job of the server's last launch and its `status` (a status of
    /// PENDING or IN_PROGRESS means the server is in a running job).
    pub last_launch: Option<LastLaunch>,
    /// `recoveryInstanceId`: the server's current recovery instance, if it has one.
    pub recovery_instance_id: Option<InstanceId>,
}

/// A source server's last launch (`lifeCycle.lastLaunch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastLaunch {
    /// `initiated.jobID`.
    pub job_id: Option<JobId>,
    /// `initiated.type`: RECOVERY or DRILL.
    pub kind: Option<String>,
    /// `status`: PENDING, IN_PROGRESS, LAUNCHED, FAILED, TERMINATED.
    pub status: Option<LaunchStatus>,
}

/// One entry of a DRS job's log (DescribeJobLogItems).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobLogEntry {
    /// `event`: JOB_START, LAUNCH_START, LAUNCH_FAILED, CONVERSION_FAIL, SNAPSHOT_FAIL, ...
    pub event: String,
    /// `eventData.sourceServerID`.
    pub source_server_id: Option<SourceServerId>,
    /// `eventData.rawError`: DRS's own words.
    pub raw_error: Option<String>,
    /// `logDateTime`.
    pub time: Option<Timestamp>,
}

#[async_trait]
pub trait Drs: Send + Sync {
    /// The jobs with these ids (at most [`DRS_FILTER_MAX`]), following every page. A job DRS
    /// does not return (eventual consistency, expiry) is simply absent from the answer.
    async fn describe_jobs(&self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError>;

    /// The recovery instances of these source servers (at most [`DRS_FILTER_MAX`]), every page.
    /// Servers without one are absent.
    async fn describe_recovery_instances(
        &self,
        servers: &[SourceServerId],
    ) -> Result<Vec<RecoveryInstance>, ServiceError>;

    /// StartRecovery for the request's servers, drill or not, with the job tagged by
    /// [`RecoveryRequest::tags`]. Returns the new job. StartRecovery has no idempotency token, so
    /// it MUST go out at most once per call (no retry of its own): an answer that did not arrive
    /// is `Unavailable`, and the caller settles it with [`Drs::find_tagged_job`]. A refusal that
    /// clears on its own (throttling, quota, conflict) MUST be `Throttled`.
    async fn start_recovery(&self, request: &RecoveryRequest) -> Result<DrsJob, ServiceError>;

    /// The job tagged as `tag` ([`JobTag::matches`]), created at or after `since` (less the clock
    /// skew between hosts), if DRS lists one; the first created when there are several.
    async fn find_tagged_job(
        &self,
        tag: &JobTag,
        since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError>;

    /// The source servers with these ids (at most [`DRS_FILTER_MAX`]), every page. A server DRS
    /// does not know is absent from the answer.
    async fn describe_source_servers(
        &self,
        ids: &[SourceServerId],
    ) -> Result<Vec<SourceServer>, ServiceError>;

    /// Every entry of the job's log, oldest first, every page.
    async fn job_log(&self, job: &JobId) -> Result<Vec<JobLogEntry>, ServiceError>;

    /// TerminateRecoveryInstances for these recovery instances (1 to [`DRS_FILTER_MAX`]): returns
    /// the TERMINATE job. Like StartRecovery it MUST go out at most once per call (no retry of
    /// its own): an answer that did not arrive is `Unavailable`, settled with
    /// [`Drs::find_terminate_job`]. Throttling and conflicts MUST be `Throttled`.
    async fn terminate_recovery_instances(
        &self,
        instances: &[InstanceId],
    ) -> Result<DrsJob, ServiceError>;

    /// The first TERMINATE job created at or after `since` (less the clock skew between hosts)
    /// whose participating servers name one of these recovery instances, if DRS lists one.
    async fn find_terminate_job(
        &self,
        instances: &[InstanceId],
        since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError>;
}

// ---------------------------------------------------------------------------------------------
// Server holds (one active execution per source server)
// ---------------------------------------------------------------------------------------------

/// An execution's hold on a source server: no other active execution may launch it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHold {
    pub source_server_id: SourceServerId,
    pub execution_id: ExecutionId,
    /// When the hold was taken.
    pub since: Timestamp,
}

/// Take a hold: the server must be held by no one, by `hold.execution_id` already (a retried
/// start), or by `replaces` (a hold the caller found free: its execution has ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldClaim {
    pub hold: ServerHold,
    pub replaces: Option<ExecutionId>,
}

/// Where holds live (items of the executions table on AWS; memory in the simulator). A hold is a
/// record of who last took a server, not a lease: whether it still binds is decided by the core
/// from the holder's execution ([`crate::ops::holds`]), so an execution that ends releases its
/// servers without a write, and a crash never leaves one held by an execution that has ended.
#[async_trait]
pub trait ServerLocks: Send + Sync {
    /// The holds on these servers, strongly consistent (any number of servers; one without a
    /// hold is absent).
    async fn holds(&self, servers: &[SourceServerId]) -> Result<Vec<ServerHold>, StoreError>;

    /// Takes every claim, all or nothing (at most [`MAX_COMMIT_ITEMS`]). MUST return `Conflict`
    /// and write nothing when a server is held by an execution other than the claimant and the
    /// claim's `replaces`.
    async fn hold(&self, claims: &[HoldClaim]) -> Result<(), StoreError>;

    /// Drops `execution`'s holds on these servers (a refused start gives back what it took);
    /// a hold of another execution is left as it is, a missing one is no error.
    async fn release(
        &self,
        execution: ExecutionId,
        servers: &[SourceServerId],
    ) -> Result<(), StoreError>;
}

// ---------------------------------------------------------------------------------------------
// EC2
// ---------------------------------------------------------------------------------------------

/// The EC2 facts poll copies onto a server entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Instance {
    pub instance_id: InstanceId,
    pub private_ip: Option<String>,
    pub private_dns_name: Option<String>,
    pub instance_type: Option<String>,
    /// `State.Name`: pending, running, stopping, ...
    pub state: Option<String>,
    pub launch_time: Option<Timestamp>,
}

#[async_trait]
pub trait Ec2: Send + Sync {
    /// The instances with these ids (at most [`EC2_FILTER_MAX`]). An id EC2 does not know (yet)
    /// is absent from the answer; it MUST NOT fail the call.
    async fn describe_instances(
        &self,
        ids: &[InstanceId],
    ) -> Result<Vec<Ec2Instance>, ServiceError>;
}

// ---------------------------------------------------------------------------------------------
// Wave actions (Lambda functions, SSM Automation)
// ---------------------------------------------------------------------------------------------

/// A Lambda function's answer to a synchronous invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeAnswer {
    /// `X-Amz-Function-Error` (`Unhandled`, `Handled`): the function failed; the payload says how.
    pub function_error: Option<String>,
    /// The answer's bytes as the function returned them (not necessarily JSON).
    pub payload: Vec<u8>,
}

#[async_trait]
pub trait FunctionInvoker: Send + Sync {
    /// Invokes `function` (a name or ARN) once, synchronously (`RequestResponse`), with `payload`,
    /// waiting at most `timeout` for the answer. MUST NOT retry: a second attempt could run the
    /// function twice. `Throttled` MUST mean that the function did not run (Lambda refused the
    /// invocation: throttled, or the function not ready); any other error means it may have.
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<InvokeAnswer, ServiceError>;
}

/// A StartAutomationExecution request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationRequest {
    /// The document's name or ARN.
    pub document: String,
    pub parameters: std::collections::BTreeMap<String, Vec<String>>,
    /// SSM's idempotency token (a UUID): a second start with the same token and parameters
    /// starts nothing and answers the first one's id.
    pub client_token: String,
    pub tags: Vec<(String, String)>,
}

/// What GetAutomationExecution says of an automation execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomationState {
    /// `AutomationExecutionStatus` as SSM words it (`InProgress`, `Success`, `Failed`, ...).
    pub status: String,
    pub failure_message: Option<String>,
}

#[async_trait]
pub trait AutomationRunner: Send + Sync {
    /// Starts the runbook; answers the automation execution id. Idempotent on the client token.
    /// `Throttled` means nothing was started (a quota of running automations, throttling).
    async fn start_automation(&self, request: &AutomationRequest) -> Result<String, ServiceError>;

    /// The automation execution's state; `Ok(None)` when SSM does not know the id.
    async fn automation(&self, id: &str) -> Result<Option<AutomationState>, ServiceError>;

    /// Asks SSM to stop the automation execution (`Cancel`); stopping one that ended is no error.
    async fn stop_automation(&self, id: &str) -> Result<(), ServiceError>;
}

// ---------------------------------------------------------------------------------------------
// Poll dispatch (find → poll)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// poll ran and answered with an error (`statusCode` ≠ 200) or failed (a function error).
    #[error("poll failed: {0}")]
    PollFailed(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

#[async_trait]
pub trait PollDispatch: Send + Sync {
    /// Runs poll for one execution and waits for its answer; returns the execution status poll
    /// reported.
    async fn poll(
        &self,
        execution_id: ExecutionId,
        plan_id: PlanId,
    ) -> Result<ExecutionStatus, DispatchError>;
}

// ---------------------------------------------------------------------------------------------
// Workflow (Step Functions task tokens)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The task's wait ended (timed out, or it was already completed).
    #[error("the workflow task timed out or was already completed")]
    TaskTimedOut,
    /// The token is not a token of this workflow service.
    #[error("the task token is invalid")]
    InvalidToken,
    /// The execution the task belonged to no longer exists.
    #[error("the workflow task does not exist")]
    TaskDoesNotExist,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Which workflow run to ask about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunRef {
    /// The run the record names (`workflowRun`: a Step Functions execution ARN).
    Id(String),
    /// The first run of an execution, named after its id (a record no run has named yet).
    FirstOf(ExecutionId),
    /// The run of this state machine with this name (the run a handover started).
    Named(String),
}

/// Where a workflow run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Running,
    /// The run ended: `status` as the workflow service says it (SUCCEEDED, FAILED, TIMED_OUT,
    /// ABORTED, ...), and what its input said: the poll interval, and the run's number and name
    /// prefix (`run`, `runPrefix`), which name the run it hands over to.
    Ended {
        status: String,
        poll_interval_seconds: Option<u64>,
        run: Option<u64>,
        run_prefix: Option<String>,
    },
    /// No such run (never started, or expired).
    Missing,
}

#[async_trait]
pub trait Workflow: Send + Sync {
    /// Where the run stands (DescribeExecution).
    async fn run_state(&self, run: &RunRef) -> Result<RunState, WorkflowError>;

    /// Starts a new run of the state machine named `name` with `input`; returns its id. A run of
    /// that name that exists already was started by someone else for the same purpose (names are
    /// derived, never reused): its id is returned too.
    async fn start_run(
        &self,
        input: &crate::api::WorkflowInput,
        name: &str,
    ) -> Result<String, WorkflowError>;

    /// Completes the waiting task with `output` (a JSON document).
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError>;
}

// ---------------------------------------------------------------------------------------------
// Notifications (the trail, published)
// ---------------------------------------------------------------------------------------------

/// Where the trail's notices go (an EventBridge bus on AWS). Delivery is at least once: whoever
/// publishes publishes again after an error, and consumers de-duplicate on each notice's
/// `detail.notificationId`, which a re-published notice carries unchanged.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Publishes every notice, in order, with source [`crate::audit::SOURCE`], detail type
    /// `notice.kind.detail_type()` and `notice.detail` as the detail. All or error: `Ok` means
    /// every notice was accepted; after an error some may have been published and some not, and
    /// the caller publishes them all again. A notice the service refuses for what it is (too
    /// large, malformed) MUST be `Rejected` (the publisher then sends it alone, and in its place
    /// a small fallback if it is refused again: [`crate::ops::publish`]); throttling `Throttled`.
    /// No notice publishes nothing.
    async fn publish(&self, notices: &[Notice]) -> Result<(), ServiceError>;
}

/// Where pages go: the people who must hear of an event ([`AuditEvent::pages`]), through the
/// stack's SNS topic and its subscriptions (e-mail). A port of its own, not a method of
/// [`Notifier`]: another service with another contract (one message, text, no de-duplication),
/// and optional (a deployment without a topic pages no one). Delivery is at least once, like the
/// notices': an event published again is paged again.
#[async_trait]
pub trait Pager: Send + Sync {
    /// Sends `page` as it is: `page.subject` as the subject (it is within the service's limits:
    /// [`crate::audit::MAX_SUBJECT_CHARS`] printable ASCII characters), `page.message` as the
    /// text, its line breaks and quotes unchanged. `Ok` means the service accepted it. Throttling
    /// MUST be `Throttled`; a refusal that will not clear (no such topic, access denied, a key
    /// the topic cannot use) `Rejected`.
    async fn page(&self, page: &Page) -> Result<(), ServiceError>;
}

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

/// The only source of time in the core.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_millis(&self) -> i64;
}

/// The current time in whole seconds, as records keep it.
pub fn now(clock: &dyn Clock) -> Timestamp {
    Timestamp(clock.now_millis().div_euclid(1000))
}

#[cfg(any(test, feature = "test-support"))]
pub mod mocks {
    //! mockall mocks of every async port, for this crate's tests and for other crates' tests.
    use super::*;

    mockall::mock! {
        pub Store {}
        #[async_trait]
        impl ExecutionStore for Store {
            async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError>;
            async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError>;
            async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError>;
            async fn commit(&self, commit: &Commit) -> Result<(), StoreError>;
            async fn events(&self, id: ExecutionId, cursor: Option<String>) -> Result<EventPage, StoreError>;
            async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError>;
        }
    }

    mockall::mock! {
        pub Drs {}
        #[async_trait]
        impl Drs for Drs {
            async fn describe_jobs(&self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError>;
            async fn describe_recovery_instances(&self, servers: &[SourceServerId]) -> Result<Vec<RecoveryInstance>, ServiceError>;
            async fn start_recovery(&self, request: &RecoveryRequest) -> Result<DrsJob, ServiceError>;
            async fn find_tagged_job(&self, tag: &JobTag, since: Timestamp) -> Result<Option<DrsJob>, ServiceError>;
            async fn describe_source_servers(&self, ids: &[SourceServerId]) -> Result<Vec<SourceServer>, ServiceError>;
            async fn job_log(&self, job: &JobId) -> Result<Vec<JobLogEntry>, ServiceError>;
            async fn terminate_recovery_instances(&self, instances: &[InstanceId]) -> Result<DrsJob, ServiceError>;
            async fn find_terminate_job(&self, instances: &[InstanceId], since: Timestamp) -> Result<Option<DrsJob>, ServiceError>;
        }
    }

    mockall::mock! {
        pub Locks {}
        #[async_trait]
        impl ServerLocks for Locks {
            async fn holds(&self, servers: &[SourceServerId]) -> Result<Vec<ServerHold>, StoreError>;
            async fn hold(&self, claims: &[HoldClaim]) -> Result<(), StoreError>;
            async fn release(&self, execution: ExecutionId, servers: &[SourceServerId]) -> Result<(), StoreError>;
        }
    }

    mockall::mock! {
        pub Ec2 {}
        #[async_trait]
        impl Ec2 for Ec2 {
            async fn describe_instances(&self, ids: &[InstanceId]) -> Result<Vec<Ec2Instance>, ServiceError>;
        }
    }

    mockall::mock! {
        pub Invoker {}
        #[async_trait]
        impl FunctionInvoker for Invoker {
            async fn invoke(&self, function: &str, payload: &[u8], timeout: Duration) -> Result<InvokeAnswer, ServiceError>;
        }
    }

    mockall::mock! {
        pub Automation {}
        #[async_trait]
        impl AutomationRunner for Automation {
            async fn start_automation(&self, request: &AutomationRequest) -> Result<String, ServiceError>;
            async fn automation(&self, id: &str) -> Result<Option<AutomationState>, ServiceError>;
            async fn stop_automation(&self, id: &str) -> Result<(), ServiceError>;
        }
    }

    mockall::mock! {
        pub Dispatch {}
        #[async_trait]
        impl PollDispatch for Dispatch {
            async fn poll(&self, execution_id: ExecutionId, plan_id: PlanId) -> Result<ExecutionStatus, DispatchError>;
        }
    }

    mockall::mock! {
        pub Workflow {}
        #[async_trait]
        impl Workflow for Workflow {
            async fn send_task_success(&self, token: &TaskToken, output: &serde_json::Value) -> Result<(), WorkflowError>;
            async fn run_state(&self, run: &RunRef) -> Result<RunState, WorkflowError>;
            async fn start_run(&self, input: &crate::api::WorkflowInput, name: &str) -> Result<String, WorkflowError>;
        }
    }

    mockall::mock! {
        pub Notifier {}
        #[async_trait]
        impl Notifier for Notifier {
            async fn publish(&self, notices: &[Notice]) -> Result<(), ServiceError>;
        }
    }

    mockall::mock! {
        pub Pager {}
        #[async_trait]
        impl Pager for Pager {
            async fn page(&self, page: &Page) -> Result<(), ServiceError>;
        }
    }

    /// A clock that says what the test tells it to.
    #[derive(Debug, Default)]
    pub struct FixedClock(pub std::sync::atomic::AtomicI64);

    impl FixedClock {
        pub fn at_secs(secs: i64) -> Self {
            Self(std::sync::atomic::AtomicI64::new(secs * 1000))
        }
        pub fn set_secs(&self, secs: i64) {
            self.0
                .store(secs * 1000, std::sync::atomic::Ordering::SeqCst);
        }
        pub fn advance_secs(&self, secs: i64) {
            self.0
                .fetch_add(secs * 1000, std::sync::atomic::Ordering::SeqCst);
        }
    }

    impl Clock for FixedClock {
        fn now_millis(&self) -> i64 {
            self.0.load(std::sync::atomic::Ordering::SeqCst)
        }
    }
}

#[cfg(test)]
mod tag_tests {
    use std::collections::HashMap;

    use super::*;
    use crate::fixtures::execution_id;

    fn read(tags: &[(&str, &str)]) -> Option<JobTag> {
        let tags: HashMap<String, String> = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        JobTag::read(|k| tags.get(k).cloned())
    }

    #[test]
    fn a_job_is_the_engines_when_it_names_an_execution_and_a_wave() {
        let id = execution_id().to_string();
        let tag = JobTag {
            execution_id: execution_id(),
            wave_number: 2,
            attempt: 3,
            part: 1,
        };
        let written: Vec<(&str, String)> = tag.tags().into_iter().collect();
        let as_strs: Vec<(&str, &str)> = written.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(read(&as_strs), Some(tag));
        assert!(tag.matches(|k| written
            .iter()
            .find(|(w, _)| *w == k)
            .map(|(_, v)| v.clone())));
        // Version 1 tagged the execution and the wave only: attempt 1, part 0.
        assert_eq!(
            read(&[("executionId", &id), ("waveNumber", "0")]),
            Some(JobTag {
                execution_id: execution_id(),
                wave_number: 0,
                attempt: 1,
                part: 0
            })
        );
        // Upper case is the same UUID.
        assert!(read(&[("executionId", &id.to_uppercase()), ("waveNumber", "0")]).is_some());
    }

    #[test]
    fn a_job_without_readable_tags_is_not_the_engines() {
        let id = execution_id().to_string();
        assert_eq!(read(&[]), None);
        assert_eq!(read(&[("waveNumber", "0")]), None);
        assert_eq!(read(&[("executionId", &id)]), None);
        assert_eq!(
            read(&[("executionId", "exec-1"), ("waveNumber", "0")]),
            None
        );
        assert_eq!(read(&[("executionId", &id), ("waveNumber", "-1")]), None);
        assert_eq!(
            read(&[("executionId", &id), ("waveNumber", "0"), ("attempt", "x")]),
            None
        );
        assert_eq!(
            read(&[("executionId", &id), ("waveNumber", "0"), ("part", "")]),
            None
        );
    }
}
