//! cleanup: a drill that has ended terminates the recovery instances it launched.
//!
//! Crash-safe in two writes around each DRS call, as launch is: the servers are marked
//! REQUESTING before `TerminateRecoveryInstances` goes out, and REQUESTED with the job after it
//! answered. A cleanup that finds a REQUESTING server (its predecessor died, or DRS's answer was
//! lost) looks for the TERMINATE job first and asks again only when there is none, so an instance
//! is never asked twice for one cleanup. Only instances that are still this execution's are
//! touched: the server's current recovery instance in DRS must be the one the execution recorded.

use std::collections::HashMap;

use super::{load_target, with_retries, Failure};
use crate::api::{CleanupResponse, Target, OK};
use crate::error::{OperationError, Refusal};
use crate::ids::{InstanceId, JobId, SourceServerId};
use crate::lifecycle::{wave_write, WaveTransition};
use crate::model::{CleanupState, Execution, ServerCleanup, Timestamp};
use crate::ports::{
    now, Clock, Commit, Drs, ExecutionStore, RecoveryInstance, ServiceError, DRS_FILTER_MAX,
};

/// What cleanup decided for one server before calling DRS.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Ask DRS to terminate the instance.
    Terminate,
    /// An earlier request's job was found: record it.
    Found(JobId),
    /// The instance left DRS after this execution's request: terminated.
    Terminated,
    /// The instance is not this execution's (any more) and was never asked for: nothing to do.
    Gone,
}

pub async fn cleanup(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    clock: &dyn Clock,
    target: &Target,
) -> Result<CleanupResponse, OperationError> {
    let execution = with_retries("cleanup", || async {
        let execution = load_target(store, target).await?;
        refuse(&execution)?;
        let steps = decide(&execution, drs).await?;
        let at = now(clock);
        // First write: every decision, and REQUESTING for the servers about to be asked for.
        let marked = record(&execution, &steps, at, &HashMap::new())?;
        if let Some(commit) = &marked.1 {
            store.commit(commit).await?;
        }
        Ok((marked.0, steps))
    })
    .await?;
    let (execution, steps) = execution;
    let asked: Vec<(SourceServerId, InstanceId)> = steps
        .iter()
        .filter(|(_, step)| *step == Step::Terminate)
        .filter_map(|(server, _)| {
            instance_of(&execution, server).map(|instance| (server.clone(), instance))
        })
        .collect();
    let mut jobs: HashMap<SourceServerId, JobId> = HashMap::new();
    let mut failure: Option<ServiceError> = None;
    for batch in asked.chunks(DRS_FILTER_MAX) {
        let instances: Vec<InstanceId> = batch.iter().map(|(_, i)| i.clone()).collect();
        match drs.terminate_recovery_instances(&instances).await {
            Ok(job) => {
                for (server, _) in batch {
                    jobs.insert(server.clone(), job.job_id.clone());
                }
            }
            Err(e) => {
                // The servers stay REQUESTING: the next cleanup looks for the job, then asks.
                tracing::warn!(execution_id = %target.execution_id, error = %e, "TerminateRecoveryInstances failed");
                failure = Some(e);
                break;
            }
        }
    }
    // Second write: the jobs DRS answered with.
    let execution = if jobs.is_empty() {
        execution
    } else {
        let jobs = &jobs;
        with_retries("cleanup", || async move {
            let execution = load_target(store, target).await?;
            let steps: Vec<(SourceServerId, Step)> = jobs
                .iter()
                .map(|(server, job)| (server.clone(), Step::Found(job.clone())))
                .collect();
            let (after, commit) = record(&execution, &steps, now(clock), jobs)?;
            if let Some(commit) = &commit {
                store.commit(commit).await?;
            }
            Ok(after)
        })
        .await?
    };
    if let Some(e) = failure {
        return Err(OperationError::Internal(format!(
            "cleanup could not ask DRS to terminate every instance ({e}); what was asked is recorded: run cleanup again"
        )));
    }
    Ok(answer(&execution))
}

fn refuse(execution: &Execution) -> Result<(), Failure> {
    if !execution.header.is_drill {
        return Err(Refusal::CleanupOfRecovery.into());
    }
    if !execution.status().is_terminal() {
        return Err(Refusal::CleanupBeforeEnd {
            status: execution.status(),
        }
        .into());
    }
    Ok(())
}

/// The recovery instance the execution recorded for `server`.
fn instance_of(execution: &Execution, server: &SourceServerId) -> Option<InstanceId> {
    execution
        .waves
        .iter()
        .flat_map(|w| &w.server_statuses)
        .find(|s| &s.source_server_id == server)
        .and_then(|s| {
            s.cleanup
                .as_ref()
                .map(|c| c.recovery_instance_id.clone())
                .or_else(|| s.recovery_instance_id.clone())
        })
}

/// For every server with work left, what to do, from DRS as it stands.
async fn decide(
    execution: &Execution,
    drs: &dyn Drs,
) -> Result<Vec<(SourceServerId, Step)>, Failure> {
    let open: Vec<(&SourceServerId, InstanceId, Option<&ServerCleanup>)> = execution
        .waves
        .iter()
        .flat_map(|w| &w.server_statuses)
        .filter(|s| !s.cleanup.as_ref().is_some_and(|c| c.state.is_done()))
        .filter_map(|s| {
            instance_of(execution, &s.source_server_id)
                .map(|instance| (&s.source_server_id, instance, s.cleanup.as_ref()))
        })
        .collect();
    let mut current: HashMap<SourceServerId, RecoveryInstance> = HashMap::new();
    for chunk in open.chunks(DRS_FILTER_MAX) {
        let servers: Vec<SourceServerId> = chunk.iter().map(|(s, _, _)| (*s).clone()).collect();
        for instance in drs.describe_recovery_instances(&servers).await? {
            current.insert(instance.source_server_id.clone(), instance);
        }
    }
    let mut steps = Vec::with_capacity(open.len());
    for (server, instance, cleanup) in open {
        let ours = current
            .get(server)
            .is_some_and(|ri| ri.recovery_instance_id == instance);
        let step = match cleanup.map(|c| c.state) {
            None if ours => Step::Terminate,
            None => Step::Gone,
            Some(CleanupState::Requested) if ours => continue,
            Some(CleanupState::Requested) => Step::Terminated,
            Some(CleanupState::Requesting) => {
                let since = cleanup.map_or(Timestamp(0), |c| c.requested_time);
                match drs
                    .find_terminate_job(std::slice::from_ref(&instance), since)
                    .await?
                {
                    Some(job) => Step::Found(job.job_id),
                    None if ours => Step::Terminate,
                    None => Step::Gone,
                }
            }
            Some(CleanupState::Terminated | CleanupState::Gone) => continue,
        };
        steps.push((server.clone(), step));
    }
    Ok(steps)
}

/// The commit that records `steps` (none when nothing changes), and the execution after it.
fn record(
    execution: &Execution,
    steps: &[(SourceServerId, Step)],
    at: Timestamp,
    jobs: &HashMap<SourceServerId, JobId>,
) -> Result<(Execution, Option<Commit>), Failure> {
    let by_server: HashMap<&SourceServerId, &Step> = steps.iter().map(|(s, st)| (s, st)).collect();
    let mut after = execution.clone();
    let mut writes = vec![];
    for (index, wave) in execution.waves.iter().enumerate() {
        let touched = wave
            .server_statuses
            .iter()
            .any(|s| by_server.contains_key(&s.source_server_id));
        if !touched {
            continue;
        }
        let write = wave_write(wave, WaveTransition::CleanUp, wave.status, |w| {
            for server in &mut w.server_statuses {
                let Some(step) = by_server.get(&server.source_server_id) else {
                    continue;
                };
                let Some(instance) = server
                    .cleanup
                    .as_ref()
                    .map(|c| c.recovery_instance_id.clone())
                    .or_else(|| server.recovery_instance_id.clone())
                else {
                    continue;
                };
                let requested_time = server.cleanup.as_ref().map_or(at, |c| c.requested_time);
                let job_id = server.cleanup.as_ref().and_then(|c| c.job_id.clone());
                server.cleanup = Some(match step {
                    Step::Terminate => ServerCleanup {
                        state: CleanupState::Requesting,
                        recovery_instance_id: instance,
                        job_id: None,
                        requested_time,
                        terminated_time: None,
                    },
                    Step::Found(job) => ServerCleanup {
                        state: CleanupState::Requested,
                        recovery_instance_id: instance,
                        job_id: Some(jobs.get(&server.source_server_id).unwrap_or(job).clone()),
                        requested_time,
                        terminated_time: None,
                    },
                    Step::Terminated => ServerCleanup {
                        state: CleanupState::Terminated,
                        recovery_instance_id: instance,
                        job_id,
                        requested_time,
                        terminated_time: Some(at),
                    },
                    Step::Gone => ServerCleanup {
                        state: CleanupState::Gone,
                        recovery_instance_id: instance,
                        job_id: None,
                        requested_time,
                        terminated_time: None,
                    },
                });
            }
        })?;
        if write.wave == *wave {
            continue;
        }
        after.waves[index] = write.wave.clone();
        writes.push(write);
    }
    let commit = (!writes.is_empty()).then(|| Commit::new(execution.id(), None, writes));
    Ok((after, commit))
}

fn answer(execution: &Execution) -> CleanupResponse {
    let mut requested = vec![];
    let mut terminated = vec![];
    let mut gone = vec![];
    let mut job_ids: Vec<JobId> = vec![];
    let mut with_instance = 0usize;
    for server in execution.waves.iter().flat_map(|w| &w.server_statuses) {
        if server.recovery_instance_id.is_some() || server.cleanup.is_some() {
            with_instance += 1;
        }
        let Some(cleanup) = &server.cleanup else {
            continue;
        };
        let id = server.source_server_id.clone();
        match cleanup.state {
            CleanupState::Requesting | CleanupState::Requested => requested.push(id),
            CleanupState::Terminated => terminated.push(id),
            CleanupState::Gone => gone.push(id),
        }
        if let Some(job) = &cleanup.job_id {
            if !job_ids.contains(job) {
                job_ids.push(job.clone());
            }
        }
    }
    let done = terminated.len() + gone.len();
    let complete = done == with_instance;
    let message = if with_instance == 0 {
        "the drill launched no recovery instance: nothing to clean up".to_owned()
    } else if complete && terminated.is_empty() {
        format!(
            "none of the drill's {with_instance} recovery instances is this execution's any more (terminated or replaced elsewhere): nothing was terminated"
        )
    } else if complete {
        format!(
            "cleanup is complete: {} terminated, {} already gone",
            terminated.len(),
            gone.len()
        )
    } else {
        format!(
            "DRS is terminating {} recovery instance{} (jobs {}); {} terminated, {} already gone; run cleanup again to confirm",
            requested.len(),
            if requested.len() == 1 { "" } else { "s" },
            job_ids
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            terminated.len(),
            gone.len()
        )
    };
    CleanupResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: execution.status(),
        requested,
        terminated,
        gone,
        job_ids,
        complete,
        message,
    }
}
