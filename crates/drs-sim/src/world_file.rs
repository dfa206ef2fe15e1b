//! The world file of `drctl invoke`: executions, DRS, EC2, Step Functions and the wave actions'
//! Lambda functions and SSM automations as one JSON document, in each service's own field names
//! (see docs/world-file.md).
//!
//! A world file is read strictly: an execution record may hold only the fields of
//! `execution_core::model` (a typo is an error, at any depth), must be a record the engine could
//! have written (`execution_core::invariants`), its audit trail (`events`, optional) must be the
//! record's own and in event-id order, and no time in the world may lie outside 1970..9999 or
//! after `now`. The DRS and EC2 items keep whatever other fields AWS's own output has. The model
//! types themselves stay lenient: the store and the Lambda payloads must keep reading records of
//! other versions. Every section and field added since the first version is optional, so an older
//! world file loads as it was.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use execution_core::audit::{self, AuditEvent, TrailProblem};
use execution_core::ids::{ExecutionId, InstanceId, JobId, SourceServerId};
use execution_core::invariants::{self, Violation};
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::{
    Ec2Instance, JobLogEntry, LastLaunch, ParticipatingServer, RecoveryInstance, ServerHold,
};
use execution_core::rules::Policy;
use execution_core::status::{JobStatus, LaunchStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{
    ActionScript, ActionScripts, FaultScript, Progression, Replication, SourceServers,
};
use crate::time_fmt::{format_utc, parse_utc};
use crate::{Automation, Calls, Job, JobType, MemoryStore, Sim, SimClock, TokenState, World};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldFile {
    /// The clock, in epoch seconds; it does not move during an `invoke`.
    pub now: i64,
    #[serde(default)]
    pub executions: Vec<ExecutionEntry>,
    /// The source servers' holds: which execution last took each server (the store keeps them
    /// beside the executions). Absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<HoldItem>,
    #[serde(default)]
    pub drs: DrsWorld,
    #[serde(default)]
    pub ec2: Ec2World,
    #[serde(default)]
    pub sfn: SfnWorld,
    /// The wave actions' Lambda functions: how each behaves. Absent when none is scripted.
    #[serde(default, skip_serializing_if = "LambdaWorld::is_empty")]
    pub lambda: LambdaWorld,
    /// The wave actions' SSM Automation: how each document behaves, and the automation
    /// executions. Absent when empty.
    #[serde(default, skip_serializing_if = "SsmWorld::is_empty")]
    pub ssm: SsmWorld,
}

/// An execution as a world file holds it: the record's fields, and beside them its audit trail,
/// oldest first. `events` is optional (absent when empty), so a world written before trails
/// loads unchanged; it derefs to the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionEntry {
    #[serde(flatten)]
    pub record: Execution,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<AuditEvent>,
}

impl ExecutionEntry {
    /// The field of an execution record that holds its trail.
    pub const EVENTS: &'static str = "events";
}

impl From<Execution> for ExecutionEntry {
    fn from(record: Execution) -> Self {
        Self {
            record,
            events: Vec::new(),
        }
    }
}

impl Deref for ExecutionEntry {
    type Target = Execution;

    fn deref(&self) -> &Execution {
        &self.record
    }
}

impl DerefMut for ExecutionEntry {
    fn deref_mut(&mut self) -> &mut Execution {
        &mut self.record
    }
}

/// A hold on a source server (`execution_core::ports::ServerHold`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HoldItem {
    pub source_server_id: SourceServerId,
    pub execution_id: ExecutionId,
    /// When the hold was taken, in epoch seconds.
    pub since: Timestamp,
}

impl From<&HoldItem> for ServerHold {
    fn from(h: &HoldItem) -> Self {
        ServerHold {
            source_server_id: h.source_server_id.clone(),
            execution_id: h.execution_id,
            since: h.since,
        }
    }
}

impl From<ServerHold> for HoldItem {
    fn from(h: ServerHold) -> Self {
        HoldItem {
            source_server_id: h.source_server_id,
            execution_id: h.execution_id,
            since: h.since,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrsWorld {
    #[serde(default)]
    pub jobs: Vec<JobItem>,
    #[serde(default)]
    pub recovery_instances: Vec<RecoveryInstanceItem>,
    /// DescribeSourceServers items. When present, DRS knows exactly these servers; absent (a world
    /// written before source servers), it knows every server, each replicating CONTINUOUS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_servers: Option<Vec<SourceServerItem>>,
    /// DescribeJobLogItems items by job id, oldest first.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub job_log_items: BTreeMap<JobId, Vec<JobLogItem>>,
}

/// A DescribeSourceServers item. Fields this tool does not use are kept as they are (`other`);
/// the hostname is read from `sourceProperties.identificationHints.hostname`. An `isArchived`
/// that an older world file may carry (never a DRS field) is one of those: kept, and read as
/// nothing; a disconnected server replicates DISCONNECTED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceServerItem {
    #[serde(rename = "sourceServerID")]
    pub source_server_id: SourceServerId,
    #[serde(
        rename = "dataReplicationInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_replication_info: Option<DataReplicationInfoItem>,
    #[serde(rename = "lifeCycle", default, skip_serializing_if = "Option::is_none")]
    pub life_cycle: Option<LifeCycleItem>,
    /// The server's current recovery instance: what the world's recovery instances say (written
    /// back from them; read, it is not used).
    #[serde(
        rename = "recoveryInstanceId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_instance_id: Option<InstanceId>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DataReplicationInfoItem {
    /// Absent: CONTINUOUS.
    #[serde(
        rename = "dataReplicationState",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_replication_state: Option<String>,
    #[serde(
        rename = "dataReplicationError",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_replication_error: Option<ReplicationErrorItem>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicationErrorItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(rename = "rawError", default, skip_serializing_if = "Option::is_none")]
    pub raw_error: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LifeCycleItem {
    #[serde(
        rename = "lastLaunch",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_launch: Option<LastLaunchItem>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LastLaunchItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated: Option<LaunchInitiatedItem>,
    /// PENDING, IN_PROGRESS, LAUNCHED, FAILED, TERMINATED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LaunchStatus>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchInitiatedItem {
    #[serde(rename = "jobID", default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    /// RECOVERY or DRILL.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl SourceServerItem {
    /// What the item says of the server's replication (CONTINUOUS when it does not say).
    pub fn replication(&self) -> Replication {
        let info = self.data_replication_info.as_ref();
        let state = info
            .and_then(|i| i.data_replication_state.clone())
            .unwrap_or_else(|| Replication::CONTINUOUS.to_owned());
        let error = info
            .and_then(|i| i.data_replication_error.as_ref())
            .and_then(|e| match (&e.error, &e.raw_error) {
                (Some(error), Some(raw)) => Some(format!("{error}: {raw}")),
                (Some(one), None) | (None, Some(one)) => Some(one.clone()),
                (None, None) => None,
            });
        Replication::new(state, error)
    }

    pub fn hostname(&self) -> Option<String> {
        Value::Object(self.other.clone())
            .pointer("/sourceProperties/identificationHints/hostname")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }

    pub fn last_launch(&self) -> Option<LastLaunch> {
        let last = self.life_cycle.as_ref()?.last_launch.as_ref()?;
        Some(LastLaunch {
            job_id: last.initiated.as_ref().and_then(|i| i.job_id.clone()),
            kind: last.initiated.as_ref().and_then(|i| i.kind.clone()),
            status: last.status.clone(),
        })
    }

    /// Writes `last` as the item's `lifeCycle.lastLaunch`, keeping the item's other fields.
    fn set_last_launch(&mut self, last: Option<LastLaunch>) {
        let Some(last) = last else {
            if let Some(life) = self.life_cycle.as_mut() {
                life.last_launch = None;
            }
            return;
        };
        let life = self.life_cycle.get_or_insert_with(LifeCycleItem::default);
        let item = life.last_launch.get_or_insert_with(LastLaunchItem::default);
        let initiated = item
            .initiated
            .get_or_insert_with(LaunchInitiatedItem::default);
        if initiated.job_id != last.job_id {
            // Another launch: what the item said of the previous one no longer holds.
            initiated.other.clear();
        }
        initiated.job_id = last.job_id;
        initiated.kind = last.kind;
        item.status = last.status;
    }
}

/// A DescribeJobLogItems item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLogItem {
    /// JOB_START, LAUNCH_START, LAUNCH_FAILED, JOB_END, ...
    pub event: String,
    #[serde(rename = "eventData", default, skip_serializing_if = "Option::is_none")]
    pub event_data: Option<JobLogEventDataItem>,
    /// RFC 3339.
    #[serde(
        rename = "logDateTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub log_date_time: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobLogEventDataItem {
    #[serde(
        rename = "sourceServerID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_server_id: Option<SourceServerId>,
    #[serde(rename = "rawError", default, skip_serializing_if = "Option::is_none")]
    pub raw_error: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl From<&JobLogEntry> for JobLogItem {
    fn from(e: &JobLogEntry) -> Self {
        let data =
            (e.source_server_id.is_some() || e.raw_error.is_some()).then(|| JobLogEventDataItem {
                source_server_id: e.source_server_id.clone(),
                raw_error: e.raw_error.clone(),
                other: Map::new(),
            });
        JobLogItem {
            event: e.event.clone(),
            event_data: data,
            log_date_time: e.time.map(|t| format_utc(t.secs())),
            other: Map::new(),
        }
    }
}

/// A DescribeJobs item. Fields this tool does not use are kept as they are (`other`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    #[serde(rename = "jobID")]
    pub job_id: JobId,
    pub status: JobStatus,
    #[serde(rename = "participatingServers", default)]
    pub participating_servers: Vec<ParticipatingServerItem>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// RFC 3339; a job without one counts as created at `now`.
    #[serde(
        rename = "creationDateTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_date_time: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParticipatingServerItem {
    #[serde(rename = "sourceServerID")]
    pub source_server_id: SourceServerId,
    #[serde(rename = "launchStatus")]
    pub launch_status: LaunchStatus,
    #[serde(
        rename = "recoveryInstanceID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_instance_id: Option<InstanceId>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// A DescribeRecoveryInstances item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryInstanceItem {
    #[serde(rename = "recoveryInstanceID")]
    pub recovery_instance_id: InstanceId,
    #[serde(
        rename = "ec2InstanceID",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ec2_instance_id: Option<InstanceId>,
    #[serde(rename = "sourceServerID")]
    pub source_server_id: SourceServerId,
    #[serde(rename = "jobID", default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    #[serde(rename = "isDrill", default, skip_serializing_if = "Option::is_none")]
    pub is_drill: Option<bool>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ec2World {
    #[serde(default)]
    pub instances: Vec<InstanceItem>,
}

/// A DescribeInstances instance (`state` is `State.Name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceItem {
    pub instance_id: InstanceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_time: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SfnWorld {
    /// Task token → WAITING, SUCCEEDED or FAILED.
    #[serde(default)]
    pub tokens: BTreeMap<String, TokenState>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LambdaWorld {
    /// By function name or ARN, as the actions name them; any other function answers
    /// `{"ok": true, ...}` at once.
    #[serde(default)]
    pub functions: BTreeMap<String, ActionScript>,
}

impl LambdaWorld {
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SsmWorld {
    /// By document name or ARN, as the actions name them; any other document starts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub documents: BTreeMap<String, ActionScript>,
    /// GetAutomationExecution's `AutomationExecution`s, in SSM's field names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub automation_executions: Vec<AutomationExecutionItem>,
}

impl SsmWorld {
    pub fn is_empty(&self) -> bool {
        self.documents.is_empty() && self.automation_executions.is_empty()
    }
}

/// An automation execution, in GetAutomationExecution's field names (and `ClientToken`, which SSM
/// does not report: the token it was started with, which the simulator answers a repeated start
/// by).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutomationExecutionItem {
    #[serde(rename = "AutomationExecutionId")]
    pub automation_execution_id: String,
    #[serde(rename = "DocumentName")]
    pub document_name: String,
    /// `Pending`, `InProgress`, `Waiting`, `Success`, `TimedOut`, `Cancelling`, `Cancelled`,
    /// `Failed`, ...
    #[serde(rename = "AutomationExecutionStatus")]
    pub automation_execution_status: String,
    #[serde(
        rename = "FailureMessage",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub failure_message: Option<String>,
    /// RFC 3339; absent means `now`.
    #[serde(
        rename = "ExecutionStartTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_start_time: Option<String>,
    #[serde(
        rename = "ExecutionEndTime",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub execution_end_time: Option<String>,
    #[serde(
        rename = "Parameters",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub parameters: BTreeMap<String, Vec<String>>,
    #[serde(
        rename = "ClientToken",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_token: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Why a world file was refused. Paths are JSON paths in the file (`executions[0].waves[1].status`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldFileError {
    /// Not JSON, or not of the world file's shape (serde's own words, with line and column).
    #[error("world file: {0}")]
    Shape(String),
    /// A field an execution record does not have.
    #[error("world file: {path}: unknown field (not a field of an execution record)")]
    UnknownField { path: String },
    #[error(
        "world file: {path}: {value} is outside {}..={} (epoch seconds of 1970 to 9999)",
        invariants::EARLIEST.0,
        invariants::LATEST.0
    )]
    TimeOutOfRange { path: String, value: i64 },
    /// A time that was the clock's when it was written, yet lies ahead of the clock.
    #[error("world file: {path}: {at} is after now ({now})")]
    AfterNow { path: String, at: i64, now: i64 },
    #[error("world file: {path}: '{raw}' is not an RFC 3339 time")]
    NotATime { path: String, raw: String },
    /// A record the engine could not have written.
    #[error("world file: executions[{index}] (execution {execution_id}) cannot be: {}", join(.violations))]
    ImpossibleRecord {
        index: usize,
        execution_id: ExecutionId,
        violations: Vec<Violation>,
    },
    #[error("world file: execution {0} appears more than once")]
    DuplicateExecution(ExecutionId),
    #[error("world file: drs.jobs[{index}]: job {job_id} appears more than once")]
    DuplicateJob { index: usize, job_id: JobId },
    #[error("world file: drs.sourceServers[{index}]: source server {source_server_id} appears more than once")]
    DuplicateSourceServer {
        index: usize,
        source_server_id: SourceServerId,
    },
    #[error(
        "world file: ssm.automationExecutions[{index}]: automation {id} appears more than once"
    )]
    DuplicateAutomation { index: usize, id: String },
    #[error("world file: holds[{index}]: source server {source_server_id} is held more than once")]
    DuplicateHold {
        index: usize,
        source_server_id: SourceServerId,
    },
    /// A job log of a job the world does not list.
    #[error("world file: {path}: no job {job_id} in drs.jobs")]
    UnknownJob { path: String, job_id: JobId },
    /// A trail that cannot be its record's ([`audit::check_trail`]): an event of another
    /// execution or plan, ids that do not increase, status moves that do not chain to the record.
    #[error("world file: {path} (the trail of execution {execution_id}) cannot be: {problem}")]
    ImpossibleTrail {
        path: String,
        execution_id: ExecutionId,
        problem: TrailProblem,
    },
}

fn join(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl WorldFile {
    /// Reads a world file: its shape, then no unknown field in any execution record, then
    /// [`WorldFile::check`].
    pub fn parse(text: &str) -> Result<Self, WorldFileError> {
        let file: WorldFile =
            serde_json::from_str(text).map_err(|e| WorldFileError::Shape(e.to_string()))?;
        let raw: Value =
            serde_json::from_str(text).map_err(|e| WorldFileError::Shape(e.to_string()))?;
        if let Some(records) = raw.get("executions").and_then(Value::as_array) {
            for (i, (record, entry)) in records.iter().zip(&file.executions).enumerate() {
                let path = format!("executions[{i}]");
                // The trail is read on its own: the record's fields without it, each event by
                // the event's fields.
                let mut fields = record.clone();
                let events = fields
                    .as_object_mut()
                    .and_then(|o| o.remove(ExecutionEntry::EVENTS))
                    .unwrap_or_default();
                let mut unknown = unknown_fields(&fields, &entry.record, &path)?;
                if let Some(raw_events) = events.as_array() {
                    for (j, (raw_event, event)) in raw_events.iter().zip(&entry.events).enumerate()
                    {
                        unknown.extend(unknown_fields(
                            raw_event,
                            event,
                            &format!("{path}.{}[{j}]", ExecutionEntry::EVENTS),
                        )?);
                    }
                }
                if let Some(path) = unknown.into_iter().next() {
                    return Err(WorldFileError::UnknownField { path });
                }
            }
        }
        file.check()?;
        Ok(file)
    }

    /// Whether this world can be: `now` in range, every execution once and a record the engine
    /// could have written ([`invariants::check`]) whose trail is its own and in event-id order,
    /// every time in range and none after `now` (except a wave's `nextLaunchTime`), every DRS job,
    /// source server and hold once, every job log a listed job's.
    pub fn check(&self) -> Result<(), WorldFileError> {
        let now = Timestamp(self.now);
        in_range("now", now)?;
        let mut ids = HashSet::new();
        for (index, execution) in self.executions.iter().enumerate() {
            if !ids.insert(execution.id()) {
                return Err(WorldFileError::DuplicateExecution(execution.id()));
            }
            let violations = invariants::check(execution);
            if !violations.is_empty() {
                return Err(WorldFileError::ImpossibleRecord {
                    index,
                    execution_id: execution.id(),
                    violations,
                });
            }
            for t in invariants::times(execution)
                .into_iter()
                .filter(|t| !t.scheduled)
            {
                not_after(&format!("executions[{index}].{}", t.field), t.at, now)?;
            }
            check_trail(index, execution, now)?;
        }
        let mut job_ids = HashSet::new();
        for (i, item) in self.drs.jobs.iter().enumerate() {
            if !job_ids.insert(&item.job_id) {
                return Err(WorldFileError::DuplicateJob {
                    index: i,
                    job_id: item.job_id.clone(),
                });
            }
            if let Some(raw) = &item.creation_date_time {
                let path = format!("drs.jobs[{i}].creationDateTime");
                not_after(&path, time(&path, raw)?, now)?;
            }
            if let Some(raw) = item.other.get(END_DATE_TIME).and_then(Value::as_str) {
                let path = format!("drs.jobs[{i}].{END_DATE_TIME}");
                not_after(&path, time(&path, raw)?, now)?;
            }
        }
        for (job_id, items) in &self.drs.job_log_items {
            let path = format!("drs.jobLogItems.{job_id}");
            if !job_ids.contains(job_id) {
                return Err(WorldFileError::UnknownJob {
                    path,
                    job_id: job_id.clone(),
                });
            }
            for (j, item) in items.iter().enumerate() {
                if let Some(raw) = &item.log_date_time {
                    let path = format!("{path}[{j}].logDateTime");
                    not_after(&path, time(&path, raw)?, now)?;
                }
            }
        }
        let mut servers = HashSet::new();
        for (index, item) in self.drs.source_servers.iter().flatten().enumerate() {
            if !servers.insert(&item.source_server_id) {
                return Err(WorldFileError::DuplicateSourceServer {
                    index,
                    source_server_id: item.source_server_id.clone(),
                });
            }
        }
        let mut held = HashSet::new();
        for (index, hold) in self.holds.iter().enumerate() {
            if !held.insert(&hold.source_server_id) {
                return Err(WorldFileError::DuplicateHold {
                    index,
                    source_server_id: hold.source_server_id.clone(),
                });
            }
            let path = format!("holds[{index}].since");
            in_range(&path, hold.since)?;
            not_after(&path, hold.since, now)?;
        }
        for (i, item) in self.ec2.instances.iter().enumerate() {
            if let Some(raw) = &item.launch_time {
                let path = format!("ec2.instances[{i}].launchTime");
                not_after(&path, time(&path, raw)?, now)?;
            }
        }
        let mut automations = HashSet::new();
        for (index, item) in self.ssm.automation_executions.iter().enumerate() {
            if !automations.insert(&item.automation_execution_id) {
                return Err(WorldFileError::DuplicateAutomation {
                    index,
                    id: item.automation_execution_id.clone(),
                });
            }
            automation_times(index, item, now)?;
        }
        Ok(())
    }

    /// A sim standing exactly as the file says: the clock stopped at `now`, DRS jobs that do not
    /// move on their own (a job StartRecovery or TerminateRecoveryInstances creates stays
    /// PENDING). A source server whose item says no last launch has the one its jobs say.
    /// Refused unless [`WorldFile::check`] passes.
    pub fn to_sim(&self) -> Result<Sim, WorldFileError> {
        self.check()?;
        let clock = Arc::new(SimClock::at_secs(self.now));
        let calls = Arc::new(Calls::default());
        let store = MemoryStore::with_executions(
            self.executions.iter().map(|e| e.record.clone()).collect(),
        )
        .map_err(WorldFileError::DuplicateExecution)?;
        for entry in self.executions.iter().filter(|e| !e.events.is_empty()) {
            store.set_trail(entry.id(), entry.events.clone());
        }
        store.set_holds(self.holds.iter().map(ServerHold::from).collect());
        let mut servers = SourceServers::default();
        for item in self.drs.source_servers.iter().flatten() {
            servers
                .replication
                .insert(item.source_server_id.clone(), item.replication());
        }
        let world = World::new(
            clock.clone(),
            calls.clone(),
            0,
            Progression::Static,
            FaultScript::default(),
        )
        .with_source_servers(servers)
        .with_actions(ActionScripts {
            functions: self.lambda.functions.clone(),
            documents: self.ssm.documents.clone(),
            ..ActionScripts::instant()
        });
        for (index, item) in self.ssm.automation_executions.iter().enumerate() {
            let (started, ended) = automation_times(index, item, Timestamp(self.now))?;
            let mut automation = Automation::fixed(
                item.automation_execution_id.clone(),
                item.document_name.clone(),
                item.automation_execution_status.clone(),
                started,
            );
            automation.failure_message.clone_from(&item.failure_message);
            automation.ended = ended;
            automation.parameters.clone_from(&item.parameters);
            automation.client_token.clone_from(&item.client_token);
            world.add_automation(automation);
        }
        if let Some(items) = &self.drs.source_servers {
            world.set_known_servers(Some(
                items
                    .iter()
                    .map(|i| i.source_server_id.clone())
                    .collect::<BTreeSet<_>>(),
            ));
            for item in items {
                world.set_source_server_facts(
                    item.source_server_id.clone(),
                    item.hostname(),
                    item.last_launch(),
                );
            }
        }
        for (i, item) in self.drs.jobs.iter().enumerate() {
            let created = match &item.creation_date_time {
                None => Timestamp(self.now),
                Some(raw) => time(&format!("drs.jobs[{i}].creationDateTime"), raw)?,
            };
            let servers = item
                .participating_servers
                .iter()
                .map(|p| ParticipatingServer {
                    source_server_id: p.source_server_id.clone(),
                    launch_status: p.launch_status.clone(),
                    recovery_instance_id: p.recovery_instance_id.clone(),
                })
                .collect();
            let mut job = Job::fixed(
                item.job_id.clone(),
                item.status.clone(),
                created,
                servers,
                item.tags.clone(),
            );
            let text = |key: &str| item.other.get(key).and_then(Value::as_str);
            if text(TYPE) == Some(JobType::Terminate.as_str()) {
                job.job_type = JobType::Terminate;
                job.is_drill = false;
            }
            if text(INITIATED_BY) == Some("START_RECOVERY") {
                job.is_drill = false;
            }
            if let Some(raw) = text(END_DATE_TIME) {
                job.ended = Some(time(&format!("drs.jobs[{i}].{END_DATE_TIME}"), raw)?);
            }
            for (j, log) in self
                .drs
                .job_log_items
                .get(&item.job_id)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = match &log.log_date_time {
                    None => None,
                    Some(raw) => Some(time(
                        &format!("drs.jobLogItems.{}[{j}].logDateTime", item.job_id),
                        raw,
                    )?),
                };
                let data = log.event_data.as_ref();
                job.log.push(JobLogEntry {
                    event: log.event.clone(),
                    source_server_id: data.and_then(|d| d.source_server_id.clone()),
                    raw_error: data.and_then(|d| d.raw_error.clone()),
                    time: at,
                });
            }
            world.add_job(job);
        }
        for ri in &self.drs.recovery_instances {
            world.add_recovery_instance(RecoveryInstance {
                recovery_instance_id: ri.recovery_instance_id.clone(),
                ec2_instance_id: ri.ec2_instance_id.clone(),
                source_server_id: ri.source_server_id.clone(),
                job_id: ri.job_id.clone(),
                is_drill: ri.is_drill,
            });
        }
        for (i, item) in self.ec2.instances.iter().enumerate() {
            let launch_time = match &item.launch_time {
                None => None,
                Some(raw) => Some(time(&format!("ec2.instances[{i}].launchTime"), raw)?),
            };
            world.add_instance(Ec2Instance {
                instance_id: item.instance_id.clone(),
                private_ip: item.private_ip_address.clone(),
                private_dns_name: item.private_dns_name.clone(),
                instance_type: item.instance_type.clone(),
                state: item.state.clone(),
                launch_time,
            });
        }
        world.derive_last_launches();
        Ok(Sim::assemble(
            clock,
            calls,
            store,
            world,
            self.sfn.tokens.clone(),
            Policy::default(),
        ))
    }

    /// This file as `sim` (built by [`WorldFile::to_sim`]) leaves it: executions as stored with
    /// their trails, the holds, the jobs started since appended (with their logs, and the logs
    /// the file's jobs have grown), the last launch of every listed source server a job moved,
    /// the recovery and EC2 instances still there (and new ones), every token's state.
    pub fn updated(&self, sim: &Sim) -> WorldFile {
        let mut out = self.clone();
        out.executions = sim
            .store
            .executions()
            .into_iter()
            .map(|record| ExecutionEntry {
                events: sim.store.trail(record.id()),
                record,
            })
            .collect();
        let mut holds: Vec<HoldItem> = sim
            .store
            .all_holds()
            .into_iter()
            .map(HoldItem::from)
            .collect();
        let mut before = self.holds.clone();
        before.sort_by(|a, b| a.source_server_id.cmp(&b.source_server_id));
        if holds != before {
            holds.sort_by(|a, b| a.source_server_id.cmp(&b.source_server_id));
            out.holds = holds;
        }
        let jobs = sim.world.jobs();
        out.drs
            .jobs
            .extend(jobs.iter().skip(self.drs.jobs.len()).map(job_item));
        for job in &jobs {
            let written = self.drs.job_log_items.get(&job.job_id).map_or(0, Vec::len);
            if job.log.len() > written {
                out.drs
                    .job_log_items
                    .entry(job.job_id.clone())
                    .or_default()
                    .extend(job.log.iter().skip(written).map(JobLogItem::from));
            }
        }
        if let Some(items) = out.drs.source_servers.as_mut() {
            let changed = sim.world.changed_source_servers();
            for item in items
                .iter_mut()
                .filter(|i| changed.contains(&i.source_server_id))
            {
                if let Some(now) = sim.world.source_server(&item.source_server_id) {
                    item.set_last_launch(now.last_launch);
                    item.recovery_instance_id = now.recovery_instance_id;
                }
            }
        }
        let recovery_instances = sim.world.recovery_instances();
        let listed: HashSet<&InstanceId> = self
            .drs
            .recovery_instances
            .iter()
            .map(|i| &i.recovery_instance_id)
            .collect();
        out.drs.recovery_instances.retain(|item| {
            recovery_instances
                .iter()
                .any(|ri| ri.recovery_instance_id == item.recovery_instance_id)
        });
        out.drs.recovery_instances.extend(
            recovery_instances
                .iter()
                .filter(|ri| !listed.contains(&ri.recovery_instance_id))
                .map(recovery_instance_item),
        );
        let instances = sim.world.instances();
        let listed: HashSet<&InstanceId> =
            self.ec2.instances.iter().map(|i| &i.instance_id).collect();
        out.ec2
            .instances
            .retain(|item| instances.iter().any(|i| i.instance_id == item.instance_id));
        out.ec2.instances.extend(
            instances
                .iter()
                .filter(|i| !listed.contains(&i.instance_id))
                .map(instance_item),
        );
        out.sfn.tokens = sim.workflow.tokens();
        let scripts = sim.world.action_scripts();
        out.lambda.functions = scripts.functions;
        out.ssm.documents = scripts.documents;
        let automations = sim.world.automations();
        for item in &mut out.ssm.automation_executions {
            if let Some(a) = automations
                .iter()
                .find(|a| a.id == item.automation_execution_id)
            {
                item.automation_execution_status.clone_from(&a.status);
                item.failure_message.clone_from(&a.failure_message);
                if a.ended.is_some() {
                    item.execution_end_time = a.ended.map(|t| format_utc(t.secs()));
                }
            }
        }
        let listed: HashSet<&str> = self
            .ssm
            .automation_executions
            .iter()
            .map(|i| i.automation_execution_id.as_str())
            .collect();
        out.ssm.automation_executions.extend(
            automations
                .iter()
                .filter(|a| !listed.contains(a.id.as_str()))
                .map(automation_item),
        );
        // A function's scripted time moved the clock on: what the operation recorded happened then.
        out.now = self.now.max(sim.clock.now().secs());
        out
    }
}

/// The trail of `executions[index]`: the record's own, in event-id order, its status moves
/// chaining to the record ([`audit::check_trail`]; the first problem, named by the event's path);
/// every event's time in range and none after `now`.
fn check_trail(index: usize, entry: &ExecutionEntry, now: Timestamp) -> Result<(), WorldFileError> {
    let events = &entry.events;
    let path = |j: Option<usize>| match j {
        Some(j) => format!("executions[{index}].{}[{j}]", ExecutionEntry::EVENTS),
        None => format!("executions[{index}].{}", ExecutionEntry::EVENTS),
    };
    if let Some(problem) = audit::check_trail(&entry.record, events).into_iter().next() {
        let at = |id: &str| events.iter().position(|e| e.event_id == id);
        let j = match &problem {
            // The event that follows the one it does not come after (an id given twice: the second).
            TrailProblem::OutOfOrder { event, previous } => (1..events.len())
                .find(|&j| events[j].event_id == *event && events[j - 1].event_id == *previous),
            TrailProblem::Foreign { event, .. }
            | TrailProblem::ExecutionBroken { event, .. }
            | TrailProblem::WaveBroken { event, .. } => at(event),
            TrailProblem::ExecutionEnds { .. } | TrailProblem::WaveEnds { .. } => None,
        };
        return Err(WorldFileError::ImpossibleTrail {
            path: path(j),
            execution_id: entry.id(),
            problem,
        });
    }
    for (j, event) in events.iter().enumerate() {
        let at = format!("{}.time", path(Some(j)));
        in_range(&at, event.time)?;
        not_after(&at, event.time, now)?;
    }
    Ok(())
}

/// An automation's start (`now` when absent) and end, each in range and not after `now`.
fn automation_times(
    index: usize,
    item: &AutomationExecutionItem,
    now: Timestamp,
) -> Result<(Timestamp, Option<Timestamp>), WorldFileError> {
    let at = |field: &str, raw: &Option<String>| -> Result<Option<Timestamp>, WorldFileError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let path = format!("ssm.automationExecutions[{index}].{field}");
        let t = time(&path, raw)?;
        not_after(&path, t, now)?;
        Ok(Some(t))
    };
    let started = at("ExecutionStartTime", &item.execution_start_time)?.unwrap_or(now);
    let ended = at("ExecutionEndTime", &item.execution_end_time)?;
    Ok((started, ended))
}

fn automation_item(a: &Automation) -> AutomationExecutionItem {
    AutomationExecutionItem {
        automation_execution_id: a.id.clone(),
        document_name: a.document.clone(),
        automation_execution_status: a.status.clone(),
        failure_message: a.failure_message.clone(),
        execution_start_time: Some(format_utc(a.started.secs())),
        execution_end_time: a.ended.map(|t| format_utc(t.secs())),
        parameters: a.parameters.clone(),
        client_token: a.client_token.clone(),
        other: Map::new(),
    }
}

/// `raw` as a time, in range.
fn time(path: &str, raw: &str) -> Result<Timestamp, WorldFileError> {
    let at = parse_utc(raw)
        .map(Timestamp)
        .ok_or_else(|| WorldFileError::NotATime {
            path: path.to_owned(),
            raw: raw.to_owned(),
        })?;
    in_range(path, at)?;
    Ok(at)
}

fn in_range(path: &str, at: Timestamp) -> Result<(), WorldFileError> {
    if invariants::in_range(at) {
        Ok(())
    } else {
        Err(WorldFileError::TimeOutOfRange {
            path: path.to_owned(),
            value: at.0,
        })
    }
}

fn not_after(path: &str, at: Timestamp, now: Timestamp) -> Result<(), WorldFileError> {
    if at <= now {
        Ok(())
    } else {
        Err(WorldFileError::AfterNow {
            path: path.to_owned(),
            at: at.0,
            now: now.0,
        })
    }
}

/// The fields of `raw` (an execution record, or an event of its trail, as the file has it) that
/// the model does not read, as paths under `path`. `read` is the value as read from `raw`:
/// written back, it carries every field the model read, but for those it leaves out (absent
/// options, empty lists, zero counters, fields of version 1 read into others). A field `read`
/// does not carry is unknown when `raw` reads the same whatever it holds: replaced by values no
/// field of the model takes both of (`{}` and `0`), it still reads.
fn unknown_fields<T: Serialize + DeserializeOwned>(
    raw: &Value,
    read: &T,
    path: &str,
) -> Result<Vec<String>, WorldFileError> {
    let written = serde_json::to_value(read).map_err(|e| WorldFileError::Shape(e.to_string()))?;
    let mut missing = Vec::new();
    absent_keys(raw, &written, String::new(), path.to_owned(), &mut missing);
    Ok(missing
        .into_iter()
        .filter(|(pointer, _)| ignored::<T>(raw, pointer))
        .map(|(_, path)| path)
        .collect())
}

/// The keys of `raw` that `written` does not have, at any depth, as (JSON pointer, path).
fn absent_keys(
    raw: &Value,
    written: &Value,
    pointer: String,
    path: String,
    out: &mut Vec<(String, String)>,
) {
    match (raw, written) {
        (Value::Object(raw), Value::Object(written)) => {
            for (key, value) in raw {
                let pointer = format!("{pointer}/{}", key.replace('~', "~0").replace('/', "~1"));
                let path = format!("{path}.{key}");
                match written.get(key) {
                    Some(w) => absent_keys(value, w, pointer, path, out),
                    None => out.push((pointer, path)),
                }
            }
        }
        (Value::Array(raw), Value::Array(written)) => {
            for (i, (value, w)) in raw.iter().zip(written).enumerate() {
                absent_keys(
                    value,
                    w,
                    format!("{pointer}/{i}"),
                    format!("{path}[{i}]"),
                    out,
                );
            }
        }
        _ => {}
    }
}

/// Whether `raw`, read as a `T`, reads whatever the field at `pointer` holds.
fn ignored<T: DeserializeOwned>(raw: &Value, pointer: &str) -> bool {
    [Value::Object(Map::new()), Value::from(0)]
        .into_iter()
        .all(|probe| {
            let mut changed = raw.clone();
            match changed.pointer_mut(pointer) {
                Some(slot) => *slot = probe,
                None => return false,
            }
            serde_json::from_value::<T>(changed).is_ok()
        })
}

/// DescribeJobs' fields that the job items keep among their other fields.
const TYPE: &str = "type";
const INITIATED_BY: &str = "initiatedBy";
const END_DATE_TIME: &str = "endDateTime";

fn job_item(job: &Job) -> JobItem {
    let mut other = Map::from_iter([
        (TYPE.to_owned(), Value::from(job.job_type.as_str())),
        (INITIATED_BY.to_owned(), Value::from(job.initiated_by())),
    ]);
    if let Some(ended) = job.ended {
        other.insert(
            END_DATE_TIME.to_owned(),
            Value::from(format_utc(ended.secs())),
        );
    }
    JobItem {
        job_id: job.job_id.clone(),
        status: job.status.clone(),
        participating_servers: job
            .servers
            .iter()
            .map(|s| ParticipatingServerItem {
                source_server_id: s.source_server_id.clone(),
                launch_status: s.launch_status.clone(),
                recovery_instance_id: s.recovery_instance_id.clone(),
                other: Map::new(),
            })
            .collect(),
        tags: job.tags.clone(),
        creation_date_time: Some(format_utc(job.created.secs())),
        other,
    }
}

fn recovery_instance_item(ri: &RecoveryInstance) -> RecoveryInstanceItem {
    RecoveryInstanceItem {
        recovery_instance_id: ri.recovery_instance_id.clone(),
        ec2_instance_id: ri.ec2_instance_id.clone(),
        source_server_id: ri.source_server_id.clone(),
        job_id: ri.job_id.clone(),
        is_drill: ri.is_drill,
        other: Map::new(),
    }
}

fn instance_item(i: &Ec2Instance) -> InstanceItem {
    InstanceItem {
        instance_id: i.instance_id.clone(),
        private_ip_address: i.private_ip.clone(),
        private_dns_name: i.private_dns_name.clone(),
        instance_type: i.instance_type.clone(),
        state: i.state.clone(),
        launch_time: i.launch_time.map(|t| format_utc(t.secs())),
        other: Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use execution_core::status::WaveStatus;
    use serde_json::json;

    use super::*;

    /// examples/world.json as JSON, to edit.
    fn example() -> Value {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/world.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    fn parse(doc: &Value) -> Result<WorldFile, WorldFileError> {
        WorldFile::parse(&doc.to_string())
    }

    fn unknown(doc: &Value) -> String {
        match parse(doc) {
            Err(WorldFileError::UnknownField { path }) => path,
            other => panic!("not refused as an unknown field: {other:?}"),
        }
    }

    fn violations(doc: &Value) -> Vec<Violation> {
        match parse(doc) {
            Err(WorldFileError::ImpossibleRecord { violations, .. }) => violations,
            other => panic!("not refused as an impossible record: {other:?}"),
        }
    }

    #[test]
    fn a_typo_anywhere_in_an_execution_record_is_refused_with_its_path() {
        let cases = [
            (
                "/executions/0/waves/1",
                "pauseBeforWave",
                json!(true),
                "executions[0].waves[1]",
            ),
            (
                "/executions/0/waves/1",
                "pauseBeforWave",
                Value::Null,
                "executions[0].waves[1]",
            ),
            (
                "/executions/0",
                "planNmae",
                json!("payments"),
                "executions[0]",
            ),
            (
                "/executions/0/waves/0/serverStatuses/1",
                "serverNmae",
                json!("x"),
                "executions[0].waves[0].serverStatuses[1]",
            ),
            (
                "/executions/0/waves/0/jobs/0",
                "recordTime",
                json!(1),
                "executions[0].waves[0].jobs[0]",
            ),
            (
                "/executions/1/taskToken",
                "relasePending",
                json!(true),
                "executions[1].taskToken",
            ),
            // A field of the DRS item is not a field of the record.
            (
                "/executions/0/waves/0/serverStatuses/0",
                "sourceServerID",
                json!("s-1"),
                "executions[0].waves[0].serverStatuses[0]",
            ),
        ];
        for (at, key, value, path) in cases {
            let mut doc = example();
            doc.pointer_mut(at)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .insert(key.to_owned(), value);
            assert_eq!(unknown(&doc), format!("{path}.{key}"));
        }
    }

    #[test]
    fn fields_written_back_without_their_value_are_not_unknown() {
        let mut doc = example();
        let record = &mut doc["executions"][0];
        record["planName"] = Value::Null;
        record["endTime"] = Value::Null;
        record["restarts"] = json!([]);
        record["workflowRun"] = Value::Null;
        let wave = &mut record["waves"][1];
        wave["launchAttempts"] = json!(0);
        wave["optionalNotLaunched"] = json!(0);
        wave["jobs"] = json!([]);
        wave["claim"] = Value::Null;
        wave["nextLaunchTime"] = Value::Null;
        record["waves"][0]["serverStatuses"][0]["privateIp"] = Value::Null;
        // Version 1's one job of a wave.
        let v1 = &mut doc["executions"][2]["waves"][0];
        v1.as_object_mut().unwrap().remove("jobs");
        v1.as_object_mut().unwrap().remove("attempt");
        v1["jobId"] = json!("drsjob-2c3d4e5f6a7b8c9d0");
        let file = parse(&doc).unwrap();
        assert_eq!(file.executions[2].waves[0].jobs.len(), 1);
    }

    #[test]
    fn drs_and_ec2_items_keep_the_fields_of_aws_output() {
        let mut doc = example();
        let job = &mut doc["drs"]["jobs"][0];
        job["arn"] = json!("arn:aws:drs:eu-west-1:123456789012:job/drsjob-0a1b2c3d4e5f6a7b8");
        job["endDateTime"] = Value::Null;
        job["participatingServers"][0]["launchConfigurationStatus"] = json!("ACTIVE");
        job["participatingServers"][0]["launchActionsStatus"] =
            json!({"runs": [], "ssmAgentDiscoveryDatetime": "x"});
        doc["drs"]["recoveryInstances"][0]["dataReplicationInfo"] =
            json!({"dataReplicationState": "STOPPED"});
        doc["ec2"]["instances"][0]["State"] = json!({"Code": 16, "Name": "running"});
        let file = parse(&doc).unwrap();
        let saved = serde_json::to_value(&file).unwrap();
        assert_eq!(saved["drs"], doc["drs"]);
        assert_eq!(saved["ec2"], doc["ec2"]);
    }

    #[test]
    fn records_that_cannot_be_are_refused_with_the_reason() {
        let mut doc = example();
        doc["executions"][0]["waves"] = json!([]);
        assert_eq!(violations(&doc), [Violation::NoWaves]);

        let mut doc = example();
        let server = doc["executions"][0]["waves"][0]["serverStatuses"][0].clone();
        doc["executions"][0]["waves"][1]["serverStatuses"]
            .as_array_mut()
            .unwrap()
            .push(server);
        assert!(violations(&doc).iter().any(|v| matches!(
            v,
            Violation::ServerInTwoWaves {
                first: 0,
                again: 1,
                ..
            }
        )));

        let mut doc = example();
        let waves = doc["executions"][4]["waves"].as_array_mut().unwrap();
        waves.swap(1, 2);
        assert!(violations(&doc)
            .iter()
            .any(|v| matches!(v, Violation::WaveOutOfOrder { index: 1, .. })));

        let mut doc = example();
        doc["executions"][2]["endTime"] = json!(1_767_222_000);
        assert!(violations(&doc)
            .iter()
            .any(|v| matches!(v, Violation::EndTimeWhileRunning { .. })));
    }

    #[test]
    fn times_are_checked_against_their_range_and_now() {
        let refusal = |edit: &dyn Fn(&mut Value)| {
            let mut doc = example();
            edit(&mut doc);
            parse(&doc).unwrap_err()
        };
        for now in [json!(i64::MAX), json!(-1), json!(253_402_300_800_i64)] {
            assert!(matches!(
                refusal(&|d| d["now"] = now.clone()),
                WorldFileError::TimeOutOfRange { path, .. } if path == "now"
            ));
        }
        // `now` before the records were created: every time of a record was the clock's.
        assert_eq!(
            refusal(&|d| d["now"] = json!(1_767_222_000)),
            WorldFileError::AfterNow {
                path: "executions[0].createdTime".into(),
                at: 1_767_228_000,
                now: 1_767_222_000
            }
        );
        assert!(matches!(
            refusal(&|d| d["executions"][0]["createdTime"] = json!(i64::MAX)),
            WorldFileError::ImpossibleRecord { violations, .. }
                if matches!(&violations[..], [Violation::TimeOutOfRange { field, .. }, ..] if field == "createdTime")
        ));
        assert!(matches!(
            refusal(&|d| d["drs"]["jobs"][0]["creationDateTime"] = json!("0001-01-01T00:00:00Z")),
            WorldFileError::TimeOutOfRange { path, .. } if path == "drs.jobs[0].creationDateTime"
        ));
        assert!(matches!(
            refusal(&|d| d["drs"]["jobs"][0]["creationDateTime"] = json!("2027-01-01T00:00:00Z")),
            WorldFileError::AfterNow { path, .. } if path == "drs.jobs[0].creationDateTime"
        ));
        assert!(matches!(
            refusal(&|d| d["ec2"]["instances"][1]["launchTime"] = json!("yesterday")),
            WorldFileError::NotATime { path, .. } if path == "ec2.instances[1].launchTime"
        ));

        // A wave's nextLaunchTime is when it may be launched again: ahead of now is what it is for.
        let mut doc = example();
        doc["executions"][0]["waves"][0]["nextLaunchTime"] = json!(1_767_229_260);
        assert!(parse(&doc).is_ok());
    }

    /// examples/world.json after `resume` and `launch` of its execution B (index 1, paused
    /// before wave 1), run as `drctl invoke` runs them: B's trail holds their events.
    async fn with_a_trail() -> Value {
        use execution_core::api::{Request, Target};
        use execution_core::audit::Actor;
        let file = parse(&example()).unwrap();
        let sim = file.to_sim().unwrap();
        let b = &file.executions[1];
        let target = Target {
            execution_id: b.id(),
            plan_id: b.header.plan_id,
        };
        for request in [Request::Resume(target), Request::Launch(target)] {
            let answer =
                execution_core::ops::run(&sim.ports(), request, Actor::Cli("local".to_owned()))
                    .await;
            assert_eq!(answer["statusCode"], 200, "{answer}");
        }
        serde_json::to_value(file.updated(&sim)).unwrap()
    }

    #[tokio::test]
    async fn a_trail_is_saved_with_its_record_and_loads_into_the_store() {
        let doc = with_a_trail().await;
        let events = doc["executions"][1]["events"].as_array().unwrap();
        assert!(events.len() >= 2, "{events:?}");
        assert_eq!(events[0]["operation"], "resume");
        assert_eq!(events[0]["actor"], json!({"type": "cli", "id": "local"}));
        assert!(
            doc["executions"][0].get("events").is_none(),
            "a record without events is written as before"
        );
        let file = parse(&doc).unwrap();
        assert_eq!(serde_json::to_value(&file).unwrap(), doc);
        let sim = file.to_sim().unwrap();
        assert_eq!(
            sim.store.trail(file.executions[1].id()),
            file.executions[1].events
        );
        assert_eq!(
            file.updated(&sim),
            file,
            "an unchanged world keeps its trails"
        );
    }

    #[tokio::test]
    async fn a_trail_that_is_not_the_record_s_own_or_not_in_order_is_refused() {
        let doc = with_a_trail().await;
        let refusal = |edit: &dyn Fn(&mut Value)| {
            let mut doc = doc.clone();
            edit(&mut doc);
            parse(&doc).unwrap_err()
        };
        let other = doc["executions"][0]["executionId"].clone();
        let other_plan = doc["executions"][0]["planId"].clone();
        for (field, value) in [("executionId", other), ("planId", other_plan)] {
            let e = refusal(&|d| d["executions"][1]["events"][1][field] = value.clone());
            assert!(
                matches!(&e, WorldFileError::ImpossibleTrail { path, problem: TrailProblem::Foreign { .. }, .. } if path == "executions[1].events[1]"),
                "{e:?}"
            );
            assert!(
                e.to_string().starts_with(
                    "world file: executions[1].events[1] (the trail of execution 1b8f7c2d-4e3a-4b6c-8d9e-0f1a2b3c4d5e) cannot be: event "
                ),
                "{e}"
            );
        }
        let swapped = refusal(&|d| {
            d["executions"][1]["events"]
                .as_array_mut()
                .unwrap()
                .swap(0, 1)
        });
        assert!(
            matches!(&swapped, WorldFileError::ImpossibleTrail { path, problem: TrailProblem::OutOfOrder { .. }, .. } if path == "executions[1].events[1]"),
            "{swapped:?}"
        );
        let twice = refusal(&|d| {
            let first = d["executions"][1]["events"][0].clone();
            d["executions"][1]["events"]
                .as_array_mut()
                .unwrap()
                .insert(1, first)
        });
        assert!(
            matches!(&twice, WorldFileError::ImpossibleTrail { path, problem: TrailProblem::OutOfOrder { .. }, .. } if path == "executions[1].events[1]"),
            "{twice:?}"
        );
        // A trail whose status moves do not lead to the record as it stands.
        let unchained = refusal(&|d| d["executions"][1]["status"] = json!("CANCELLING"));
        assert!(
            matches!(&unchained, WorldFileError::ImpossibleTrail { path, problem: TrailProblem::ExecutionEnds { .. }, .. } if path == "executions[1].events"),
            "{unchained:?}"
        );
        let later = refusal(&|d| d["executions"][1]["events"][0]["time"] = json!(1_767_229_201));
        assert!(
            matches!(&later, WorldFileError::AfterNow { path, .. } if path == "executions[1].events[0].time"),
            "{later:?}"
        );
    }

    #[tokio::test]
    async fn a_typo_in_an_event_is_refused_with_its_path() {
        let mut doc = with_a_trail().await;
        doc["executions"][1]["events"][0]["actr"] = json!("me");
        assert_eq!(unknown(&doc), "executions[1].events[0].actr");
        let mut doc = with_a_trail().await;
        doc["executions"][1]["events"][0]["execution"]["form"] = json!("PAUSED");
        assert_eq!(unknown(&doc), "executions[1].events[0].execution.form");
        let mut doc = with_a_trail().await;
        doc["executions"][1]["events"] = json!("none");
        assert!(matches!(parse(&doc), Err(WorldFileError::Shape(_))));
    }

    #[test]
    fn to_sim_checks_a_world_edited_after_it_was_read() {
        let mut file = parse(&example()).unwrap();
        file.executions[3].waves[0].status = WaveStatus::Completed;
        assert!(matches!(
            file.to_sim().unwrap_err(),
            WorldFileError::ImpossibleRecord { index: 3, .. }
        ));
    }

    // -----------------------------------------------------------------------------------------
    // Source servers, holds, TERMINATE jobs, job logs
    // -----------------------------------------------------------------------------------------

    use execution_core::ports::{Drs, HoldClaim, ServerLocks};

    fn server(raw: &str) -> SourceServerId {
        SourceServerId::parse(raw).unwrap()
    }

    fn instance(raw: &str) -> InstanceId {
        InstanceId::parse(raw).unwrap()
    }

    fn job(raw: &str) -> JobId {
        JobId::parse(raw).unwrap()
    }

    const HELD_BY: &str = "2c9a8d3e-5f4b-4c7d-9e0f-1a2b3c4d5e6f";

    /// examples/world.json with what DRS says of two servers, a hold, a finished TERMINATE job of
    /// one instance and the logs of two jobs.
    fn with_drs_state() -> Value {
        let mut doc = example();
        doc["drs"]["sourceServers"] = json!([
            {
                "sourceServerID": "s-1a2b3c4d5e6f7a8b9",
                "arn": "arn:aws:drs:eu-west-1:123456789012:source-server/s-1a2b3c4d5e6f7a8b9",
                "dataReplicationInfo": {
                    "dataReplicationState": "STALLED",
                    "dataReplicationError": {"error": "SNAPSHOTS_FAILURE", "rawError": "EBS snapshot quota reached"},
                    "lagDuration": "PT2H"
                },
                "lifeCycle": {
                    "lastLaunch": {
                        "initiated": {"jobID": "drsjob-0a1b2c3d4e5f6a7b8", "type": "DRILL", "apiCallDateTime": "2026-01-01T00:50:00Z"},
                        "status": "LAUNCHED"
                    },
                    "addedToServiceDateTime": "2025-06-01T00:00:00Z"
                },
                "recoveryInstanceId": "i-0123456789abcdef0",
                "sourceProperties": {"identificationHints": {"hostname": "db-primary.corp"}}
            },
            {"sourceServerID": "s-2b3c4d5e6f7a8b9c0"},
            {"sourceServerID": "s-7a8b9c0d1e2f3a4b5", "dataReplicationInfo": {"dataReplicationState": "DISCONNECTED"}}
        ]);
        doc["holds"] = json!([
            {"sourceServerId": "s-7a8b9c0d1e2f3a4b5", "executionId": HELD_BY, "since": 1_767_228_000}
        ]);
        doc["drs"]["jobs"].as_array_mut().unwrap().push(json!({
            "jobID": "drsjob-7c8d9e0f1a2b3c4d5",
            "type": "TERMINATE",
            "initiatedBy": "TERMINATE_RECOVERY_INSTANCES",
            "status": "COMPLETED",
            "creationDateTime": "2026-01-01T00:40:00Z",
            "endDateTime": "2026-01-01T00:42:00Z",
            "participatingServers": [
                {"sourceServerID": "s-bb2c3d4e5f6a70819", "launchStatus": "TERMINATED", "recoveryInstanceID": "i-0f2a3b4c5d6e70859"}
            ]
        }));
        doc["drs"]["jobLogItems"] = json!({
            "drsjob-6b7c8d9e0f1a2b3c4": [
                {"event": "JOB_START", "logDateTime": "2026-01-01T00:18:10Z"},
                {"event": "LAUNCH_FAILED", "logDateTime": "2026-01-01T00:26:00Z",
                 "eventData": {"sourceServerID": "s-cc3d4e5f6a7b8192a", "rawError": "InsufficientInstanceCapacity", "conversionServerID": "i-0abcdef0123456789"}},
                {"event": "JOB_END", "logDateTime": "2026-01-01T00:27:00Z"}
            ],
            "drsjob-7c8d9e0f1a2b3c4d5": [
                {"event": "JOB_START", "logDateTime": "2026-01-01T00:40:05Z"},
                {"event": "JOB_END", "logDateTime": "2026-01-01T00:42:00Z"}
            ]
        });
        doc
    }

    #[tokio::test]
    async fn an_older_world_knows_every_server_and_takes_last_launches_from_its_jobs() {
        let file = parse(&example()).unwrap();
        assert_eq!(file.drs.source_servers, None);
        let sim = file.to_sim().unwrap();
        let db = sim
            .world
            .source_server(&server("s-1a2b3c4d5e6f7a8b9"))
            .unwrap();
        assert_eq!(db.replication_state.as_deref(), Some("CONTINUOUS"));
        assert_eq!(
            db.last_launch,
            Some(LastLaunch {
                job_id: Some(job("drsjob-0a1b2c3d4e5f6a7b8")),
                kind: Some("DRILL".into()),
                status: Some(LaunchStatus::Launched),
            })
        );
        assert_eq!(
            db.recovery_instance_id,
            Some(instance("i-0123456789abcdef0"))
        );
        let failed = sim
            .world
            .source_server(&server("s-cc3d4e5f6a7b8192a"))
            .unwrap();
        assert_eq!(
            failed.last_launch.and_then(|l| l.status),
            Some(LaunchStatus::Failed)
        );
        assert_eq!(failed.recovery_instance_id, None);
        let never = sim
            .world
            .source_server(&server("s-0000000000000000a"))
            .unwrap();
        assert_eq!(never.last_launch, None, "a server no job names");
        assert!(sim.store.all_holds().is_empty());
        assert_eq!(
            sim.drs
                .job_log(&job("drsjob-0a1b2c3d4e5f6a7b8"))
                .await
                .unwrap(),
            []
        );
        assert!(sim.world.changed_source_servers().is_empty());
    }

    #[tokio::test]
    async fn source_servers_holds_terminate_jobs_and_logs_load_and_round_trip() {
        let doc = with_drs_state();
        let file = parse(&doc).unwrap();
        let written = serde_json::to_value(&file).unwrap();
        assert!(written["drs"] == doc["drs"], "DRS's items keep every field");
        assert!(written["holds"] == doc["holds"]);
        assert!(parse(&written).unwrap() == file);
        let sim = file.to_sim().unwrap();
        let db = sim
            .world
            .source_server(&server("s-1a2b3c4d5e6f7a8b9"))
            .unwrap();
        assert_eq!(
            (
                db.replication_state.as_deref(),
                db.replication_error.as_deref(),
                db.hostname.as_deref(),
            ),
            (
                Some("STALLED"),
                Some("SNAPSHOTS_FAILURE: EBS snapshot quota reached"),
                Some("db-primary.corp"),
            )
        );
        assert_eq!(
            db.last_launch.and_then(|l| l.job_id),
            Some(job("drsjob-0a1b2c3d4e5f6a7b8"))
        );
        let replica = sim
            .world
            .source_server(&server("s-2b3c4d5e6f7a8b9c0"))
            .unwrap();
        assert_eq!(replica.replication_state.as_deref(), Some("CONTINUOUS"));
        assert_eq!(
            replica.last_launch.and_then(|l| l.status),
            Some(LaunchStatus::Launched),
            "an item that says no last launch has its job's"
        );
        assert_eq!(
            sim.world
                .source_server(&server("s-7a8b9c0d1e2f3a4b5"))
                .unwrap()
                .replication_state
                .as_deref(),
            Some("DISCONNECTED")
        );
        assert_eq!(
            sim.world.source_server(&server("s-3c4d5e6f7a8b9c0d1")),
            None,
            "a world that lists its source servers knows only those"
        );
        assert_eq!(
            sim.store
                .holds(&[server("s-7a8b9c0d1e2f3a4b5")])
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.execution_id.to_string(), h.since))
                .collect::<Vec<_>>(),
            [(HELD_BY.to_owned(), Timestamp(1_767_228_000))]
        );
        let log = sim
            .drs
            .job_log(&job("drsjob-6b7c8d9e0f1a2b3c4"))
            .await
            .unwrap();
        assert_eq!(log.len(), 3);
        assert_eq!(
            (
                log[1].event.as_str(),
                log[1].source_server_id.clone(),
                log[1].raw_error.as_deref(),
                log[1].time
            ),
            (
                "LAUNCH_FAILED",
                Some(server("s-cc3d4e5f6a7b8192a")),
                Some("InsufficientInstanceCapacity"),
                Some(Timestamp(1_767_227_160))
            )
        );
        let terminate = sim
            .drs
            .find_terminate_job(&[instance("i-0f2a3b4c5d6e70859")], Timestamp(0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(terminate.job_id, job("drsjob-7c8d9e0f1a2b3c4d5"));
        assert_eq!(terminate.ended_time, Some(Timestamp(1_767_228_120)));
        assert_eq!(
            sim.world.source_server(&server("s-bb2c3d4e5f6a70819")),
            None,
            "a world that lists its source servers does not know this one"
        );
        assert!(
            file.updated(&sim) == file,
            "an unchanged world is saved as it was"
        );
    }

    #[test]
    fn an_older_world_s_is_archived_loads_is_kept_and_means_nothing() {
        // DRS's SourceServer has no `isArchived`; world files written before that was known may
        // carry it.
        let mut doc = with_drs_state();
        doc["drs"]["sourceServers"][1]["isArchived"] = json!(true);
        let file = parse(&doc).unwrap();
        let sim = file.to_sim().unwrap();
        let replica = sim
            .world
            .source_server(&server("s-2b3c4d5e6f7a8b9c0"))
            .unwrap();
        assert_eq!(replica.replication_state.as_deref(), Some("CONTINUOUS"));
        let saved = serde_json::to_value(file.updated(&sim)).unwrap();
        assert_eq!(saved["drs"]["sourceServers"][1]["isArchived"], json!(true));
    }

    #[test]
    fn a_terminate_job_in_an_open_world_makes_its_server_s_last_launch_terminated() {
        let mut doc = with_drs_state();
        doc["drs"].as_object_mut().unwrap().remove("sourceServers");
        let sim = parse(&doc).unwrap().to_sim().unwrap();
        assert_eq!(
            sim.world
                .source_server(&server("s-bb2c3d4e5f6a70819"))
                .unwrap()
                .last_launch
                .and_then(|l| l.status),
            Some(LaunchStatus::Terminated)
        );
    }

    #[tokio::test]
    async fn a_launch_moves_the_saved_last_launch_of_the_listed_servers() {
        let mut doc = with_drs_state();
        doc["drs"]["sourceServers"]
            .as_array_mut()
            .unwrap()
            .extend([
                json!({"sourceServerID": "s-8b9c0d1e2f3a4b5c6", "lifeCycle": {"lastLaunch": {"initiated": {"jobID": "drsjob-0000000000000000a", "type": "RECOVERY", "apiCallDateTime": "2025-01-01T00:00:00Z"}, "status": "TERMINATED"}}}),
                json!({"sourceServerID": "s-9c0d1e2f3a4b5c6d7"}),
            ]);
        let file = parse(&doc).unwrap();
        let sim = file.to_sim().unwrap();
        let target = execution_core::api::Target {
            execution_id: ExecutionId::parse("3d0b9e4f-6a5c-4d8e-8f1a-2b3c4d5e6f70").unwrap(),
            plan_id: execution_core::ids::PlanId::parse("8f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c")
                .unwrap(),
        };
        let answer = execution_core::ops::run(
            &sim.ports(),
            execution_core::api::Request::Launch(target),
            execution_core::audit::Actor::Cli("local".to_owned()),
        )
        .await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let new_job = answer["jobIds"][0].as_str().unwrap().to_owned();
        let saved = serde_json::to_value(file.updated(&sim)).unwrap();
        let items = saved["drs"]["sourceServers"].as_array().unwrap();
        for item in &items[3..] {
            assert_eq!(
                item["lifeCycle"]["lastLaunch"],
                json!({"initiated": {"jobID": new_job, "type": "DRILL"}, "status": "PENDING"}),
                "{item}"
            );
        }
        assert_eq!(
            items[..3],
            doc["drs"]["sourceServers"].as_array().unwrap()[..3]
        );
        let jobs = saved["drs"]["jobs"].as_array().unwrap();
        assert_eq!(jobs.len(), 5);
        assert_eq!(
            (&jobs[4]["type"], &jobs[4]["initiatedBy"]),
            (&json!("LAUNCH"), &json!("START_DRILL"))
        );
        assert!(jobs[4].get("endDateTime").is_none());
        // Loaded again, the servers are in a running job.
        let again = parse(&saved).unwrap().to_sim().unwrap();
        let described = again
            .drs
            .describe_source_servers(&[server("s-8b9c0d1e2f3a4b5c6")])
            .await
            .unwrap();
        assert_eq!(
            described[0]
                .last_launch
                .as_ref()
                .and_then(|l| l.status.clone()),
            Some(LaunchStatus::Pending)
        );
    }

    #[tokio::test]
    async fn a_terminate_and_a_hold_are_saved_and_load_again() {
        let file = parse(&with_drs_state()).unwrap();
        let sim = file.to_sim().unwrap();
        let asked = instance("i-0fedcba9876543210");
        let started = sim
            .drs
            .terminate_recovery_instances(std::slice::from_ref(&asked))
            .await
            .unwrap();
        let a = ExecutionId::parse("0a7e6b1c-3d2f-4e5a-9b8c-7d6e5f4a3b21").unwrap();
        sim.store
            .hold(&[HoldClaim {
                hold: ServerHold {
                    source_server_id: server("s-1a2b3c4d5e6f7a8b9"),
                    execution_id: a,
                    since: Timestamp(file.now),
                },
                replaces: None,
            }])
            .await
            .unwrap();
        let saved = file.updated(&sim);
        let doc = serde_json::to_value(&saved).unwrap();
        assert_eq!(
            doc["holds"],
            json!([
                {"sourceServerId": "s-1a2b3c4d5e6f7a8b9", "executionId": a.to_string(), "since": file.now},
                {"sourceServerId": "s-7a8b9c0d1e2f3a4b5", "executionId": HELD_BY, "since": 1_767_228_000}
            ])
        );
        let item = doc["drs"]["jobs"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .clone();
        assert_eq!(
            (
                &item["jobID"],
                &item["type"],
                &item["initiatedBy"],
                &item["status"]
            ),
            (
                &json!(started.job_id.as_str()),
                &json!("TERMINATE"),
                &json!("TERMINATE_RECOVERY_INSTANCES"),
                &json!("PENDING")
            )
        );
        assert_eq!(
            item["participatingServers"],
            json!([{"sourceServerID": "s-2b3c4d5e6f7a8b9c0", "launchStatus": "PENDING", "recoveryInstanceID": asked.as_str()}])
        );
        assert_eq!(
            doc["drs"]["recoveryInstances"],
            with_drs_state()["drs"]["recoveryInstances"],
            "an invoke world terminates nothing on its own"
        );
        let again = parse(&doc).unwrap();
        assert!(again == saved, "the saved world loads as it was saved");
        let sim = again.to_sim().unwrap();
        assert_eq!(sim.store.all_holds().len(), 2);
        assert_eq!(
            sim.drs
                .find_terminate_job(std::slice::from_ref(&asked), Timestamp(file.now))
                .await
                .unwrap()
                .map(|j| j.job_id),
            Some(started.job_id)
        );
        assert!(
            matches!(
                sim.drs.terminate_recovery_instances(&[asked]).await,
                Err(execution_core::ports::ServiceError::Throttled { message, .. }) if message.starts_with("ConflictException")
            ),
            "the saved TERMINATE job still runs"
        );
    }

    #[test]
    fn bad_source_servers_holds_and_logs_are_refused_with_their_path() {
        let refusal = |edit: &dyn Fn(&mut Value)| {
            let mut doc = with_drs_state();
            edit(&mut doc);
            parse(&doc).unwrap_err()
        };
        assert!(matches!(
            refusal(&|d| {
                let first = d["drs"]["sourceServers"][0].clone();
                d["drs"]["sourceServers"]
                    .as_array_mut()
                    .unwrap()
                    .push(first);
            }),
            WorldFileError::DuplicateSourceServer { index: 3, .. }
        ));
        assert!(matches!(
            refusal(&|d| {
                let first = d["holds"][0].clone();
                d["holds"].as_array_mut().unwrap().push(first);
            }),
            WorldFileError::DuplicateHold { index: 1, .. }
        ));
        assert_eq!(
            refusal(&|d| d["holds"][0]["since"] = json!(1_767_229_201)),
            WorldFileError::AfterNow {
                path: "holds[0].since".into(),
                at: 1_767_229_201,
                now: 1_767_229_200
            }
        );
        assert!(matches!(
            refusal(&|d| d["holds"][0]["sinse"] = json!(1)),
            WorldFileError::Shape(m) if m.contains("sinse")
        ));
        assert_eq!(
            refusal(&|d| d["drs"]["jobLogItems"]["drsjob-9999999999999999a"] = json!([])),
            WorldFileError::UnknownJob {
                path: "drs.jobLogItems.drsjob-9999999999999999a".into(),
                job_id: job("drsjob-9999999999999999a")
            }
        );
        assert!(matches!(
            refusal(&|d| d["drs"]["jobLogItems"]["drsjob-6b7c8d9e0f1a2b3c4"][1]["logDateTime"] = json!("2027-01-01T00:00:00Z")),
            WorldFileError::AfterNow { path, .. } if path == "drs.jobLogItems.drsjob-6b7c8d9e0f1a2b3c4[1].logDateTime"
        ));
        assert!(matches!(
            refusal(&|d| d["drs"]["jobs"][3]["endDateTime"] = json!("soon")),
            WorldFileError::NotATime { path, .. } if path == "drs.jobs[3].endDateTime"
        ));
        assert!(matches!(
            refusal(
                &|d| d["drs"]["sourceServers"][0]["lifeCycle"]["lastLaunch"]["status"] = json!(7)
            ),
            WorldFileError::Shape(_)
        ));
    }
}
