//! How the simulated DRS behaves: how long things take, and which faults it plays.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use execution_core::ids::SourceServerId;
use rand::Rng;

/// A duration drawn uniformly from `min_secs..=max_secs` (the seeded random spread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub min_secs: u64,
    pub max_secs: u64,
}

impl Spread {
    pub const fn new(min_secs: u64, max_secs: u64) -> Self {
        Self { min_secs, max_secs }
    }

    pub const fn fixed(secs: u64) -> Self {
        Self {
            min_secs: secs,
            max_secs: secs,
        }
    }

    pub(crate) fn sample(self, rng: &mut impl Rng) -> i64 {
        let (lo, hi) = (
            self.min_secs.min(self.max_secs),
            self.max_secs.max(self.min_secs),
        );
        i64::try_from(rng.random_range(lo..=hi)).unwrap_or(i64::MAX)
    }
}

/// How long a StartRecovery job takes, stage by stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Job PENDING → STARTED, from StartRecovery.
    pub job_start: Spread,
    /// Job STARTED → a server's IN_PROGRESS (conversion and launch begin).
    pub server_start: Spread,
    /// A server's IN_PROGRESS → LAUNCHED (or FAILED).
    pub server_launch: Spread,
    /// Every server settled → job COMPLETED.
    pub job_complete_lag_secs: u64,
}

impl Default for Timings {
    /// Roughly a DRS drill of small servers: 7 to 11 minutes from StartRecovery to launched.
    fn default() -> Self {
        Self {
            job_start: Spread::new(15, 45),
            server_start: Spread::new(30, 90),
            server_launch: Spread::new(360, 540),
            job_complete_lag_secs: 20,
        }
    }
}

/// Whether DRS jobs move on with the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progression {
    /// Jobs stay exactly as they are (the `invoke` world: what the file says is what DRS says).
    Static,
    /// Jobs progress with simulated time.
    Timed(Timings),
}

/// The DRS launch results the simulated world sends: when a server's launch in a StartRecovery job
/// ends (LAUNCHED or FAILED), DRS puts a "DRS Source Server Launch Result" event on EventBridge
/// (best effort), which delivers it a little later, or never. Each event's delay and whether it is
/// lost are drawn from the world's seed and the event's job and server (not from the order of
/// anything), so one seed gives the same events whatever else is asked of the world. TERMINATE
/// jobs (cleanup) send none; neither does a world that does not move with the clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventConfig {
    pub enabled: bool,
    /// The shortest delivery delay after the launch ended, in milliseconds.
    pub delay_min_millis: u64,
    /// The longest (drawn uniformly between the two, to the millisecond).
    pub delay_max_millis: u64,
    /// The chance, from 0 to 1, that an event is lost on the way.
    pub loss: f64,
    /// Every event is sent twice, each copy with its own delay and chance of loss (EventBridge
    /// delivers at least once): the second copy must change nothing.
    pub duplicate: bool,
}

impl EventConfig {
    /// EventBridge delivers DRS's events within a few seconds.
    pub const DEFAULT_DELAY_MIN_MILLIS: u64 = 1_000;
    pub const DEFAULT_DELAY_MAX_MILLIS: u64 = 3_000;

    /// Events on: delivered 1 to 3 s after the launch ended, none lost, none twice.
    pub const fn on() -> Self {
        Self {
            enabled: true,
            ..Self::off()
        }
    }

    /// No events (the default): the engine learns of a launch's end only by polling.
    pub const fn off() -> Self {
        Self {
            enabled: false,
            delay_min_millis: Self::DEFAULT_DELAY_MIN_MILLIS,
            delay_max_millis: Self::DEFAULT_DELAY_MAX_MILLIS,
            loss: 0.0,
            duplicate: false,
        }
    }

    /// Delivered `min_millis` to `max_millis` after the launch ended.
    pub const fn with_delay_millis(self, min_millis: u64, max_millis: u64) -> Self {
        Self {
            delay_min_millis: min_millis,
            delay_max_millis: max_millis,
            ..self
        }
    }

    /// Each event lost with probability `loss` (taken as 0 to 1).
    pub const fn with_loss(self, loss: f64) -> Self {
        Self { loss, ..self }
    }

    /// The delay's bounds, lowest first.
    pub(crate) fn delay_range(&self) -> (u64, u64) {
        (
            self.delay_min_millis.min(self.delay_max_millis),
            self.delay_max_millis.max(self.delay_min_millis),
        )
    }

    /// The chance of loss, within 0 to 1 (anything else, NaN included, is taken at its nearest).
    pub(crate) fn loss(&self) -> f64 {
        if self.loss.is_nan() {
            0.0
        } else {
            self.loss.clamp(0.0, 1.0)
        }
    }
}

impl Default for EventConfig {
    fn default() -> Self {
        Self::off()
    }
}

/// Faults of the DRS and EC2 world; per-call faults (throttling, 5xx) are scripted on
/// [`crate::Calls`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultScript {
    /// These servers end FAILED in every job that launches them.
    pub failing_servers: HashSet<SourceServerId>,
    /// These servers end FAILED in the first N attempts of their wave (the value), then launch: a
    /// retry that succeeds.
    pub flaky_servers: HashMap<SourceServerId, u32>,
    /// A job started for these servers does not list them among its participating servers; it
    /// completes without them.
    pub omitted_servers: HashSet<SourceServerId>,
    /// The account's "Max source servers in a single Job" quota (L-B827C881, not adjustable):
    /// StartRecovery for more servers is refused, and asking again will not help. `None`: only
    /// the API's own limit of 200 holds.
    pub job_server_quota: Option<u32>,
    /// The next StartRecovery calls are refused with `ServiceQuotaExceededException` (concurrent
    /// jobs, or servers in all jobs): a refusal that clears on its own.
    pub quota_refusals: Refusals,
    /// The next StartRecovery calls are refused with `ConflictException` (a server is still in
    /// another job): a refusal that clears on its own.
    pub conflict_refusals: Refusals,
    /// A new recovery instance stays unknown to EC2 for this many DescribeInstances calls that ask for it.
    pub ec2_unknown_polls: u32,
    /// A new job is absent from this many DescribeJobs calls that ask for it.
    pub job_missing_polls: u32,
    /// DescribeJobs never names `recoveryInstanceID` in its participating servers.
    pub omit_recovery_instance_ids: bool,
}

/// Refusals of StartRecovery that clear on their own: the next `calls` calls are refused. DRS names
/// no retry time for a quota or conflict refusal; `retry_after_secs` plays one that it would.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    pub calls: u32,
    pub retry_after_secs: Option<u64>,
}

impl Refusals {
    pub const fn new(calls: u32, retry_after_secs: Option<u64>) -> Self {
        Self {
            calls,
            retry_after_secs,
        }
    }

    /// Uses up one refusal, if any is left: the retry hint it carries.
    pub(crate) fn take(&mut self) -> Option<Option<Duration>> {
        (self.calls > 0).then(|| {
            self.calls -= 1;
            self.retry_after_secs.map(Duration::from_secs)
        })
    }
}

impl FaultScript {
    /// Whether `server` ends FAILED in attempt `attempt` (1 for the first) of its wave.
    pub fn fails(&self, server: &SourceServerId, attempt: u32) -> bool {
        self.failure(server, attempt, &SourceServers::default())
            .is_some()
    }

    /// The `rawError` with which `server` ends FAILED in attempt `attempt` of its wave, if it
    /// does: `servers`' launch error for it, else the default of its kind of failure.
    pub fn failure(
        &self,
        server: &SourceServerId,
        attempt: u32,
        servers: &SourceServers,
    ) -> Option<String> {
        let default = if self.failing_servers.contains(server) {
            DEFAULT_LAUNCH_ERROR
        } else if self
            .flaky_servers
            .get(server)
            .is_some_and(|first_attempts| attempt <= *first_attempts)
        {
            DEFAULT_TRANSIENT_LAUNCH_ERROR
        } else {
            return None;
        };
        Some(
            servers
                .launch_errors
                .get(server)
                .cloned()
                .unwrap_or_else(|| default.to_owned()),
        )
    }
}

/// The replication states from which DRS cannot launch a server: no consistent point in time to
/// launch from, or replication not running (the states the engine's pre-flight refuses).
pub const UNHEALTHY_REPLICATION: [&str; 6] = [
    "STALLED",
    "DISCONNECTED",
    "INITIATING",
    "PAUSED",
    "STOPPED",
    "INITIAL_SYNC",
];

/// A source server's replication as DescribeSourceServers reports it (`dataReplicationInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication {
    /// `dataReplicationState`: STOPPED, INITIATING, INITIAL_SYNC, BACKLOG, CREATING_SNAPSHOT,
    /// CONTINUOUS, PAUSED, RESCAN, STALLED, DISCONNECTED.
    pub state: String,
    /// `dataReplicationError` (its `error`, and `rawError` after a colon), when DRS reports one.
    pub error: Option<String>,
}

impl Replication {
    /// What every server DRS knows replicates unless told otherwise.
    pub const CONTINUOUS: &'static str = "CONTINUOUS";

    pub fn new(state: impl Into<String>, error: Option<String>) -> Self {
        Self {
            state: state.into(),
            error,
        }
    }

    pub fn continuous() -> Self {
        Self::new(Self::CONTINUOUS, None)
    }

    /// Whether DRS can launch the server from it (not one of [`UNHEALTHY_REPLICATION`]).
    pub fn launchable(&self) -> bool {
        !UNHEALTHY_REPLICATION.contains(&self.state.as_str())
    }
}

impl Default for Replication {
    fn default() -> Self {
        Self::continuous()
    }
}

/// The source servers as DRS knows them, server by server: what DescribeSourceServers says of
/// them, and the words a scripted failure of their launch logs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceServers {
    /// Replication by server; every other server DRS knows replicates CONTINUOUS. A server whose
    /// replication is unhealthy ([`UNHEALTHY_REPLICATION`]) ends FAILED in any job that launches
    /// it, its job log saying why.
    pub replication: BTreeMap<SourceServerId, Replication>,
    /// Servers DRS does not know: absent from DescribeSourceServers, FAILED in a job asked to
    /// launch them.
    pub unknown: BTreeSet<SourceServerId>,
    /// The `rawError` a scripted failure of the server logs (`LAUNCH_FAILED`) in place of the
    /// default: an EC2 vCPU limit for [`FaultScript::failing_servers`], a capacity shortage for
    /// [`FaultScript::flaky_servers`].
    pub launch_errors: BTreeMap<SourceServerId, String>,
}

impl SourceServers {
    /// `server` replicates `state` (with `error`, if any).
    pub fn replicating(mut self, server: SourceServerId, state: &str, error: Option<&str>) -> Self {
        self.replication
            .insert(server, Replication::new(state, error.map(str::to_owned)));
        self
    }

    /// The server's replication (CONTINUOUS unless set).
    pub fn replication_of(&self, server: &SourceServerId) -> Replication {
        self.replication.get(server).cloned().unwrap_or_default()
    }
}

/// How long a TERMINATE job (TerminateRecoveryInstances) takes, when the world moves with the
/// clock ([`Progression::Timed`]); a static world's TERMINATE job stays PENDING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminateTimings {
    /// Job PENDING → STARTED.
    pub job_start: Spread,
    /// Job STARTED → one instance terminated: gone from DRS and EC2.
    pub terminate: Spread,
    /// Every instance gone → job COMPLETED.
    pub job_complete_lag_secs: u64,
}

impl Default for TerminateTimings {
    /// Roughly what DRS takes to terminate small drill instances: one to three minutes.
    fn default() -> Self {
        Self {
            job_start: Spread::new(5, 20),
            terminate: Spread::new(45, 150),
            job_complete_lag_secs: 10,
        }
    }
}

/// The `rawError` of a server [`FaultScript::failing_servers`] fails, unless
/// [`SourceServers::launch_errors`] says another.
pub const DEFAULT_LAUNCH_ERROR: &str = "Failed to launch recovery instance: VcpuLimitExceeded: You have requested more vCPU capacity than your current vCPU limit of 32 allows for the instance bucket that the specified instance type belongs to. Please visit http://aws.amazon.com/contact-us/ec2-request to request an adjustment to this limit.";

/// The `rawError` of a server [`FaultScript::flaky_servers`] fails in its first attempts, unless
/// [`SourceServers::launch_errors`] says another: a shortage that passes.
pub const DEFAULT_TRANSIENT_LAUNCH_ERROR: &str = "Failed to launch recovery instance: InsufficientInstanceCapacity: We currently do not have sufficient capacity for the requested instance type in the Availability Zone you requested. Our system will be working on provisioning additional capacity.";

/// How the wave actions' Lambda functions and SSM Automation runbooks behave in the simulator: how
/// long they take, and per target what they do. A target without a script succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionScripts {
    /// How long a function runs before it answers, unless its script says.
    pub function_duration: Spread,
    /// How long an automation stays `Pending` before it runs (`InProgress`).
    pub automation_start: Spread,
    /// How long an automation runs from its start to its end, unless its script says.
    pub automation_duration: Spread,
    /// By function name or ARN, exactly as the action names it.
    pub functions: BTreeMap<String, ActionScript>,
    /// By automation document name or ARN, exactly as the action names it.
    pub documents: BTreeMap<String, ActionScript>,
}

impl Default for ActionScripts {
    /// A quick health-check function (2 to 6 s), a runbook of a minute or two.
    fn default() -> Self {
        Self {
            function_duration: Spread::new(2, 6),
            automation_start: Spread::new(2, 8),
            automation_duration: Spread::new(45, 150),
            functions: BTreeMap::new(),
            documents: BTreeMap::new(),
        }
    }
}

impl ActionScripts {
    /// Functions answer at once and runbooks end as soon as they start: a world whose clock moves
    /// only when told to ([`Progression::Static`]).
    pub fn instant() -> Self {
        Self {
            function_duration: Spread::fixed(0),
            automation_start: Spread::fixed(0),
            automation_duration: Spread::fixed(0),
            functions: BTreeMap::new(),
            documents: BTreeMap::new(),
        }
    }

    /// This script for the function `function`.
    pub fn with_function(mut self, function: impl Into<String>, script: ActionScript) -> Self {
        self.functions.insert(function.into(), script);
        self
    }

    /// This script for the automation document `document`.
    pub fn with_document(mut self, document: impl Into<String>, script: ActionScript) -> Self {
        self.documents.insert(document.into(), script);
        self
    }
}

/// What one function or runbook does when a wave action runs it. The default succeeds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionScript {
    /// How a run ends.
    #[serde(default)]
    pub outcome: ActionOutcome,
    /// The error or failure message of a run that does not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Only the first this many runs end as `outcome`; the runs after them succeed (absent: every
    /// run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_runs: Option<u32>,
    /// How long a run takes, in simulated seconds, in place of the default. A function that takes
    /// longer than the action's timeout is not answered within it (the invocation times out); a
    /// runbook that does is stopped by poll.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<u64>,
    /// The first this many calls are refused for now (Lambda `TooManyRequestsException`, SSM
    /// `AutomationExecutionLimitExceededException`): nothing runs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_calls: u32,
    /// What a function that succeeds answers, in place of `{"ok": true, ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<serde_json::Value>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ActionScript {
    /// Runs that end as `outcome`, with `message` (every run).
    pub fn ending(outcome: ActionOutcome, message: &str) -> Self {
        Self {
            outcome,
            message: Some(message.to_owned()),
            ..Self::default()
        }
    }

    /// Only the first `runs` runs end as scripted.
    pub fn first_runs(self, runs: u32) -> Self {
        Self {
            first_runs: Some(runs),
            ..self
        }
    }

    /// How run number `run` (1 for the target's first) ends.
    pub fn outcome_of(&self, run: u32) -> ActionOutcome {
        match self.first_runs {
            Some(first) if run > first => ActionOutcome::Succeed,
            _ => self.outcome,
        }
    }

    /// The message of a run that does not succeed.
    pub fn message_or(&self, default: &str) -> String {
        self.message.clone().unwrap_or_else(|| default.to_owned())
    }
}

/// How a scripted run ends.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionOutcome {
    #[default]
    Succeed,
    /// A function error (`Unhandled`, `{"errorMessage": message}`); a runbook ends `Failed` with
    /// the message.
    Fail,
    /// The function answers `{"ok": false, "message": message}`; a runbook ends `Failed`.
    NotOk,
    /// The function answers bytes that are not JSON; GetAutomationExecution answers a status SSM
    /// does not document until the runbook is stopped.
    Garbage,
    /// The call is refused for what it is (Lambda `ResourceNotFoundException`, SSM
    /// `InvalidDocument`): nothing runs.
    Reject,
}
