//! The world file of `drctl invoke`: executions, DRS, EC2 and Step Functions as one JSON document,
//! in each service's own field names (see docs/world-file.md).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use execution_core::ids::{InstanceId, JobId, SourceServerId};
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::{Ec2Instance, ParticipatingServer, RecoveryInstance};
use execution_core::rules::Policy;
use execution_core::status::{JobStatus, LaunchStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::{FaultScript, Progression};
use crate::time_fmt::{format_utc, parse_utc};
use crate::{Calls, Job, MemoryStore, Sim, SimClock, TokenState, World};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorldFile {
    /// The clock, in epoch seconds; it does not move during an `invoke`.
    pub now: i64,
    #[serde(default)]
    pub executions: Vec<Execution>,
    #[serde(default)]
    pub drs: DrsWorld,
    #[serde(default)]
    pub ec2: Ec2World,
    #[serde(default)]
    pub sfn: SfnWorld,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DrsWorld {
    #[serde(default)]
    pub jobs: Vec<JobItem>,
    #[serde(default)]
    pub recovery_instances: Vec<RecoveryInstanceItem>,
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("world file: {0}")]
pub struct WorldFileError(pub String);

impl WorldFile {
    pub fn parse(text: &str) -> Result<Self, WorldFileError> {
        serde_json::from_str(text).map_err(|e| WorldFileError(e.to_string()))
    }

    /// A sim standing exactly as the file says: the clock stopped at `now`, DRS jobs that do not
    /// move on their own (a job StartRecovery creates stays PENDING).
    pub fn to_sim(&self) -> Result<Sim, WorldFileError> {
        let clock = Arc::new(SimClock::at_secs(self.now));
        let calls = Arc::new(Calls::default());
        let store = MemoryStore::with_executions(self.executions.clone())
            .map_err(|id| WorldFileError(format!("execution {id} appears more than once")))?;
        let world = World::new(
            clock.clone(),
            calls.clone(),
            0,
            Progression::Static,
            FaultScript::default(),
        );
        let mut job_ids = HashSet::new();
        for (i, item) in self.drs.jobs.iter().enumerate() {
            if !job_ids.insert(&item.job_id) {
                return Err(WorldFileError(format!(
                    "drs.jobs[{i}]: job {} appears more than once",
                    item.job_id
                )));
            }
            let created = match &item.creation_date_time {
                None => self.now,
                Some(raw) => parse_utc(raw).ok_or_else(|| {
                    WorldFileError(format!(
                        "drs.jobs[{i}].creationDateTime: '{raw}' is not an RFC 3339 time"
                    ))
                })?,
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
            world.add_job(Job::fixed(
                item.job_id.clone(),
                item.status.clone(),
                Timestamp(created),
                servers,
                item.tags.clone(),
            ));
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
                Some(raw) => Some(Timestamp(parse_utc(raw).ok_or_else(|| {
                    WorldFileError(format!(
                        "ec2.instances[{i}].launchTime: '{raw}' is not an RFC 3339 time"
                    ))
                })?)),
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
        Ok(Sim::assemble(
            clock,
            calls,
            store,
            world,
            self.sfn.tokens.clone(),
            Policy::default(),
        ))
    }

    /// This file as `sim` (built by [`WorldFile::to_sim`]) leaves it: executions as stored, the
    /// jobs started since appended, every token's state.
    pub fn updated(&self, sim: &Sim) -> WorldFile {
        let mut out = self.clone();
        out.executions = sim.store.executions();
        out.drs.jobs.extend(
            sim.world
                .jobs()
                .iter()
                .skip(self.drs.jobs.len())
                .map(job_item),
        );
        out.sfn.tokens = sim.workflow.tokens();
        out
    }
}

fn job_item(job: &Job) -> JobItem {
    let initiated_by = if job.is_drill {
        "START_DRILL"
    } else {
        "START_RECOVERY"
    };
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
        other: Map::from_iter([
            ("type".to_owned(), Value::from("LAUNCH")),
            ("initiatedBy".to_owned(), Value::from(initiated_by)),
        ]),
    }
}
