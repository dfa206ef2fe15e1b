//! Pre-flight: whether a plan's servers can be launched now, from what DRS says of them and who
//! holds them. Pure: the facts are gathered by [`crate::ops::preflight`]; this module decides.
//!
//! A problem refuses the start (every one is listed); a warning is shown and the start goes on.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::ids::{ExecutionId, InstanceId, JobId, SourceServerId};
use crate::plan::Plan;
use crate::ports::SourceServer;
use crate::rules::MAX_SERVERS_PER_JOB;
use crate::status::{ExecutionStatus, LaunchStatus};

/// How long a hold may name an execution that does not exist before it binds no one: a start
/// takes its holds before it creates the record, so a start in progress looks like this for a
/// moment; a start that died between the two leaves such a hold behind.
pub const HOLD_GRACE_SECS: u64 = 900;

/// What DRS's replication state means for a launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication {
    /// CONTINUOUS: the recovery point is current.
    Healthy,
    /// Replicating, but behind or busy (BACKLOG, CREATING_SNAPSHOT, RESCAN): a launch works from
    /// an older recovery point.
    Behind,
    /// A launch cannot be trusted (STALLED, DISCONNECTED, PAUSED, STOPPED) or has nothing to
    /// launch from yet (INITIATING, INITIAL_SYNC).
    Unhealthy,
    /// A state DRS added after this engine was written, or none at all.
    Unknown,
}

/// DRS's `dataReplicationState`, judged.
pub fn replication(state: Option<&str>) -> Replication {
    match state {
        Some("CONTINUOUS") => Replication::Healthy,
        Some("BACKLOG" | "CREATING_SNAPSHOT" | "RESCAN") => Replication::Behind,
        Some("STALLED" | "DISCONNECTED" | "PAUSED" | "STOPPED" | "INITIATING" | "INITIAL_SYNC") => {
            Replication::Unhealthy
        }
        _ => Replication::Unknown,
    }
}

/// Where the execution that holds a server stands, as the start found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// Its record exists and is not terminal: the hold binds.
    Active(ExecutionStatus),
    /// Its record is terminal: the hold binds no one.
    Ended,
    /// No record, and the hold is this old (seconds): it binds until [`HOLD_GRACE_SECS`].
    Missing { age_secs: u64 },
}

impl Holder {
    pub fn binds(self) -> bool {
        match self {
            Self::Active(_) => true,
            Self::Ended => false,
            Self::Missing { age_secs } => age_secs < HOLD_GRACE_SECS,
        }
    }
}

/// Why a plan's servers cannot be launched now. Each is data; its `Display` is the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PreflightProblem {
    #[error("source server {source_server_id} does not exist in DRS (this account and region)")]
    #[serde(rename_all = "camelCase")]
    NotInDrs { source_server_id: SourceServerId },
    #[error("source server {source_server_id} replication is {state}{}: {}", error.as_ref().map(|e| format!(" ({e})")).unwrap_or_default(), unhealthy_why(state))]
    #[serde(rename_all = "camelCase")]
    ReplicationUnhealthy {
        source_server_id: SourceServerId,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    #[error("source server {source_server_id} is in a running DRS job{}: launch it again once that job has ended", job_id.as_ref().map(|j| format!(" ({j})")).unwrap_or_default())]
    #[serde(rename_all = "camelCase")]
    InRunningJob {
        source_server_id: SourceServerId,
        #[serde(skip_serializing_if = "Option::is_none")]
        job_id: Option<JobId>,
    },
    #[error("{} held by execution {execution_id} ({}): {}", servers_are(source_server_ids), holder_state(*status), list(source_server_ids))]
    #[serde(rename_all = "camelCase")]
    HeldByExecution {
        execution_id: ExecutionId,
        /// The holder's status; `None` while its start is still creating it.
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<ExecutionStatus>,
        source_server_ids: Vec<SourceServerId>,
    },
    #[error("maxServersPerJob is {max}; DRS takes 1 to {MAX_SERVERS_PER_JOB} servers per job")]
    #[serde(rename_all = "camelCase")]
    JobSize { max: u32 },
}

/// Something worth a second look before launching; the start goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "warning", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PreflightWarning {
    #[error("source server {source_server_id} replication is {state}: the launch uses the latest recovery point, which may be older than you expect")]
    #[serde(rename_all = "camelCase")]
    ReplicationBehind {
        source_server_id: SourceServerId,
        state: String,
    },
    #[error("source server {source_server_id} replication state is {}, which this engine does not know: check it in the DRS console", state.as_deref().unwrap_or("not reported"))]
    #[serde(rename_all = "camelCase")]
    ReplicationUnknown {
        source_server_id: SourceServerId,
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<String>,
    },
    #[error("source server {source_server_id} already has recovery instance {recovery_instance_id} from an earlier launch; launching again replaces it")]
    #[serde(rename_all = "camelCase")]
    HasRecoveryInstance {
        source_server_id: SourceServerId,
        recovery_instance_id: InstanceId,
    },
    #[error("wave {wave_number} ({servers} servers) goes out as {jobs} DRS jobs of at most {max} servers each")]
    #[serde(rename_all = "camelCase")]
    SeveralJobs {
        wave_number: u32,
        servers: usize,
        jobs: usize,
        max: u32,
    },
}

impl PreflightProblem {
    /// The server is busy elsewhere (another execution, a running DRS job): the same start works
    /// once that has ended.
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            Self::HeldByExecution { .. } | Self::InRunningJob { .. }
        )
    }
}

fn unhealthy_why(state: &str) -> &'static str {
    match state {
        "INITIATING" | "INITIAL_SYNC" => {
            "replication has not finished its first sync, so there is no recovery point to launch"
        }
        "PAUSED" | "STOPPED" => {
            "replication is not running, so the recovery point is not kept current"
        }
        _ => "a launch from it cannot be trusted until replication is healthy again",
    }
}

fn servers_are(ids: &[SourceServerId]) -> &'static str {
    if ids.len() == 1 {
        "source server is"
    } else {
        "source servers are"
    }
}

fn holder_state(status: Option<ExecutionStatus>) -> String {
    match status {
        Some(s) => format!("{s}; cancel it or wait for it to end"),
        None => "still starting".to_owned(),
    }
}

fn list(ids: &[SourceServerId]) -> String {
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verdict: every problem and every warning, in plan order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preflight {
    #[serde(serialize_with = "with_messages")]
    pub problems: Vec<PreflightProblem>,
    #[serde(serialize_with = "with_messages")]
    pub warnings: Vec<PreflightWarning>,
}

/// Each item as its data plus `message`: its `Display`, the sentence a person reads.
pub fn with_messages<S, T>(items: &[T], serializer: S) -> Result<S::Ok, S::Error>
where
    S: serde::Serializer,
    T: Serialize + std::fmt::Display,
{
    use serde::ser::{Error, SerializeSeq};
    let mut seq = serializer.serialize_seq(Some(items.len()))?;
    for item in items {
        let mut value = serde_json::to_value(item).map_err(S::Error::custom)?;
        if let Some(fields) = value.as_object_mut() {
            fields.insert(
                "message".into(),
                serde_json::Value::String(item.to_string()),
            );
        }
        seq.serialize_element(&value)?;
    }
    seq.end()
}

impl Preflight {
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// "2 problems: …; …", for messages.
    pub fn summary(&self) -> String {
        let n = self.problems.len();
        format!(
            "{n} problem{}: {}",
            if n == 1 { "" } else { "s" },
            self.problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    }
}

/// What the start knows of one held server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldServer {
    pub source_server_id: SourceServerId,
    pub execution_id: ExecutionId,
    pub holder: Holder,
}

/// Judges `plan` from DRS's `servers` (those DRS knows; any order) and the `held` servers (their
/// holders other than the execution being started). `drs` is false when DRS was not asked (no
/// DRS facts: only holds and job sizes are judged).
pub fn check(
    plan: &Plan,
    max_servers_per_job: u32,
    servers: Option<&[SourceServer]>,
    held: &[HeldServer],
) -> Preflight {
    let mut out = Preflight::default();
    if max_servers_per_job == 0 || max_servers_per_job > MAX_SERVERS_PER_JOB {
        out.problems.push(PreflightProblem::JobSize {
            max: max_servers_per_job,
        });
    }
    let known: Option<HashMap<&SourceServerId, &SourceServer>> =
        servers.map(|all| all.iter().map(|s| (&s.source_server_id, s)).collect());
    for (n, wave) in (0u32..).zip(&plan.waves) {
        if let Some(known) = &known {
            for planned in &wave.servers {
                let id = &planned.source_server_id;
                let Some(server) = known.get(id) else {
                    out.problems.push(PreflightProblem::NotInDrs {
                        source_server_id: id.clone(),
                    });
                    continue;
                };
                judge(server, &mut out);
            }
        }
        let max = max_servers_per_job.clamp(1, MAX_SERVERS_PER_JOB) as usize;
        let jobs = wave.servers.len().div_ceil(max);
        if jobs > 1 {
            out.warnings.push(PreflightWarning::SeveralJobs {
                wave_number: n,
                servers: wave.servers.len(),
                jobs,
                max: max_servers_per_job,
            });
        }
    }
    // One problem per holder, naming its servers in plan order.
    let mut by_holder: BTreeMap<ExecutionId, (Option<ExecutionStatus>, Vec<SourceServerId>)> =
        BTreeMap::new();
    let binding: HashMap<&SourceServerId, &HeldServer> = held
        .iter()
        .filter(|h| h.holder.binds())
        .map(|h| (&h.source_server_id, h))
        .collect();
    for planned in plan.waves.iter().flat_map(|w| &w.servers) {
        if let Some(h) = binding.get(&planned.source_server_id) {
            let status = match h.holder {
                Holder::Active(s) => Some(s),
                _ => None,
            };
            by_holder
                .entry(h.execution_id)
                .or_insert_with(|| (status, vec![]))
                .1
                .push(planned.source_server_id.clone());
        }
    }
    for (execution_id, (status, source_server_ids)) in by_holder {
        out.problems.push(PreflightProblem::HeldByExecution {
            execution_id,
            status,
            source_server_ids,
        });
    }
    out
}

fn judge(server: &SourceServer, out: &mut Preflight) {
    let id = || server.source_server_id.clone();
    match replication(server.replication_state.as_deref()) {
        Replication::Healthy => {}
        Replication::Behind => out.warnings.push(PreflightWarning::ReplicationBehind {
            source_server_id: id(),
            state: server.replication_state.clone().unwrap_or_default(),
        }),
        Replication::Unhealthy => out.problems.push(PreflightProblem::ReplicationUnhealthy {
            source_server_id: id(),
            state: server.replication_state.clone().unwrap_or_default(),
            error: server.replication_error.clone(),
        }),
        Replication::Unknown => out.warnings.push(PreflightWarning::ReplicationUnknown {
            source_server_id: id(),
            state: server.replication_state.clone(),
        }),
    }
    if let Some(last) = &server.last_launch {
        if matches!(
            last.status,
            Some(LaunchStatus::Pending | LaunchStatus::InProgress)
        ) {
            out.problems.push(PreflightProblem::InRunningJob {
                source_server_id: id(),
                job_id: last.job_id.clone(),
            });
            return;
        }
    }
    if let Some(instance) = &server.recovery_instance_id {
        out.warnings.push(PreflightWarning::HasRecoveryInstance {
            source_server_id: id(),
            recovery_instance_id: instance.clone(),
        });
    }
}
