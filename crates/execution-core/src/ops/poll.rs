use std::collections::HashMap;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::{load_target, put_wave, with_retries, Failure};
use crate::api::{PollRequest, PollResponse, PollWaves, WaveSummary, OK};
use crate::error::OperationError;
use crate::ids::{InstanceId, JobId, SourceServerId};
use crate::model::{Execution, ServerStatus, Timestamp, Wave};
use crate::ports::{
    now, Clock, Commit, Drs, DrsJob, Ec2, Ec2Instance, ExecutionStore, RecoveryInstance,
    DRS_FILTER_MAX, EC2_FILTER_MAX,
};
use crate::rules::{judge_wave, lacks_details, next_action, Policy};
use crate::status::{LaunchStatus, WaveStatus};

/// How many DescribeRecoveryInstances / DescribeInstances batches run at once.
const BATCH_CONCURRENCY: usize = 8;

/// poll: refresh the waves in flight from DRS and EC2, apply the wave rules, write only the waves
/// that changed (and `lastPolledTime`), answer with `nextAction`. Never changes the execution's
/// status and never finalizes.
pub async fn poll(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    ec2: &dyn Ec2,
    clock: &dyn Clock,
    policy: &Policy,
    request: &PollRequest,
) -> Result<PollResponse, OperationError> {
    with_retries("poll", || attempt(store, drs, ec2, clock, policy, request)).await
}

async fn attempt(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    ec2: &dyn Ec2,
    clock: &dyn Clock,
    policy: &Policy,
    request: &PollRequest,
) -> Result<PollResponse, Failure> {
    let mut execution = load_target(store, &request.target).await?;
    let at = now(clock);
    let mut warnings = Vec::new();

    if !execution.status().is_terminal() {
        let changed = refresh(drs, ec2, &mut execution, at, policy, &mut warnings).await?;
        // The touch races with nothing, so it runs beside the wave commit: one round trip.
        let commit = Commit {
            execution_id: execution.id(),
            header: None,
            waves: changed,
        };
        let (written, touched) = futures::join!(
            async {
                if commit.is_empty() {
                    Ok(())
                } else {
                    store.commit(&commit).await
                }
            },
            store.touch(execution.id(), at)
        );
        written?;
        touched?;
        execution.header.last_polled_time = Some(at);
    }
    Ok(answer(&execution, at, policy, request.summary, warnings))
}

/// Updates the waves worth refreshing in place and returns the writes for those that changed:
/// the STARTED waves, and settled waves with a launched server whose recovery instance or EC2
/// details are not known yet (EC2 is eventually consistent: a wave may complete before EC2 knows
/// its last instance, and its details still arrive on a later poll).
async fn refresh(
    drs: &dyn Drs,
    ec2: &dyn Ec2,
    execution: &mut Execution,
    at: Timestamp,
    policy: &Policy,
    warnings: &mut Vec<String>,
) -> Result<Vec<crate::ports::WaveWrite>, Failure> {
    let refreshed: Vec<u32> = execution
        .waves
        .iter()
        .filter(|w| worth_refreshing(w))
        .map(|w| w.wave_number)
        .collect();
    if refreshed.is_empty() {
        return Ok(Vec::new());
    }
    let job_ids: Vec<JobId> = execution
        .waves
        .iter()
        .filter(|w| w.status == WaveStatus::Started)
        .filter_map(|w| w.job_id.clone())
        .collect();
    // One DescribeJobs for every wave in flight (waves ≤ 99 < the filter's limit).
    let jobs: HashMap<JobId, DrsJob> = if job_ids.is_empty() {
        HashMap::new()
    } else {
        drs.describe_jobs(&job_ids)
            .await?
            .into_iter()
            .map(|j| (j.job_id.clone(), j))
            .collect()
    };

    let before: Vec<Wave> = execution.waves.clone();
    for wave in execution
        .waves
        .iter_mut()
        .filter(|w| w.status == WaveStatus::Started)
    {
        if let Some(job) = wave.job_id.as_ref().and_then(|id| jobs.get(id)) {
            merge_job(wave, job, warnings);
        }
    }
    enrich_recovery_instances(drs, execution, &refreshed, warnings).await;
    enrich_ec2(ec2, execution, &refreshed, warnings).await;

    for wave in execution
        .waves
        .iter_mut()
        .filter(|w| w.status == WaveStatus::Started)
    {
        let job = wave.job_id.as_ref().and_then(|id| jobs.get(id));
        let verdict = judge_wave(wave, job, at, policy);
        if verdict.status != WaveStatus::Started {
            wave.status = verdict.status;
            wave.end_time = Some(at);
            wave.failure_reason = verdict.failure;
            wave.status_message = verdict.message;
            if verdict.status == WaveStatus::Completed {
                wave.recovery_time_seconds = wave.launch_time.map(|t| at.secs_since(t));
            }
        }
    }

    let mut writes = Vec::new();
    for (old, new) in before.iter().zip(execution.waves.iter_mut()) {
        if old != new {
            debug_assert!(old.status.may_become(new.status));
            let write = put_wave(old, new.clone());
            new.version = write.wave.version;
            writes.push(write);
        }
    }
    Ok(writes)
}

fn worth_refreshing(wave: &Wave) -> bool {
    match wave.status {
        WaveStatus::Started => true,
        WaveStatus::Completed | WaveStatus::Failed => {
            wave.server_statuses.iter().any(lacks_details)
        }
        _ => false,
    }
}

/// Copies DRS's view of each participating server onto the wave's server entries.
fn merge_job(wave: &mut Wave, job: &DrsJob, warnings: &mut Vec<String>) {
    let index: HashMap<SourceServerId, usize> = wave
        .server_statuses
        .iter()
        .enumerate()
        .map(|(i, s)| (s.source_server_id.clone(), i))
        .collect();
    for p in &job.participating_servers {
        let Some(&i) = index.get(&p.source_server_id) else {
            warnings.push(format!(
                "DRS job {} lists server {} which is not in wave {}",
                job.job_id, p.source_server_id, wave.wave_number
            ));
            continue;
        };
        let entry = &mut wave.server_statuses[i];
        entry.launch_status = p.launch_status;
        if let Some(ri) = &p.recovery_instance_id {
            set_recovery_instance(entry, ri.clone(), None);
        }
    }
}

/// In DRS a recovery instance id is its EC2 instance id; DescribeRecoveryInstances may name the
/// EC2 id separately.
fn set_recovery_instance(
    entry: &mut ServerStatus,
    recovery_instance_id: InstanceId,
    ec2_instance_id: Option<InstanceId>,
) {
    entry.instance_id = Some(ec2_instance_id.unwrap_or_else(|| recovery_instance_id.clone()));
    entry.recovery_instance_id = Some(recovery_instance_id);
}

/// The waves of `execution` named in `numbers`.
fn waves_mut<'a>(
    execution: &'a mut Execution,
    numbers: &'a [u32],
) -> impl Iterator<Item = &'a mut Wave> {
    execution
        .waves
        .iter_mut()
        .filter(|w| numbers.contains(&w.wave_number))
}

fn servers<'a>(
    execution: &'a Execution,
    numbers: &'a [u32],
) -> impl Iterator<Item = &'a ServerStatus> {
    execution
        .waves
        .iter()
        .filter(|w| numbers.contains(&w.wave_number))
        .flat_map(|w| w.server_statuses.iter())
}

/// DescribeRecoveryInstances, only for launched servers whose job entry named no recovery
/// instance, in batches of 200. A failure leaves those fields empty for this poll.
async fn enrich_recovery_instances(
    drs: &dyn Drs,
    execution: &mut Execution,
    refreshed: &[u32],
    warnings: &mut Vec<String>,
) {
    let missing: Vec<SourceServerId> = servers(execution, refreshed)
        .filter(|s| s.launch_status == LaunchStatus::Launched && s.recovery_instance_id.is_none())
        .map(|s| s.source_server_id.clone())
        .collect();
    if missing.is_empty() {
        return;
    }
    // The futures are built before they are buffered so that poll's future stays Send.
    let calls: Vec<_> = missing
        .chunks(DRS_FILTER_MAX)
        .map(|chunk| drs.describe_recovery_instances(chunk))
        .collect();
    let found: Result<Vec<Vec<RecoveryInstance>>, _> = stream::iter(calls)
        .buffered(BATCH_CONCURRENCY)
        .try_collect()
        .await;
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            warnings.push(format!(
                "DRS DescribeRecoveryInstances failed ({e}); recovery instances not refreshed"
            ));
            return;
        }
    };
    for wave in waves_mut(execution, refreshed) {
        // Prefer the recovery instance this wave's job launched over an older one of the server.
        let by_server: HashMap<&SourceServerId, &RecoveryInstance> = found
            .iter()
            .flatten()
            .filter(|ri| ri.job_id.is_none() || ri.job_id == wave.job_id)
            .map(|ri| (&ri.source_server_id, ri))
            .collect();
        for entry in wave
            .server_statuses
            .iter_mut()
            .filter(|s| s.recovery_instance_id.is_none())
        {
            if let Some(ri) = by_server.get(&entry.source_server_id) {
                set_recovery_instance(
                    entry,
                    ri.recovery_instance_id.clone(),
                    ri.ec2_instance_id.clone(),
                );
            }
        }
    }
}

/// DescribeInstances for every known instance of the refreshed waves, in batches of 1000. An
/// instance EC2 does not know yet keeps its fields as they were; a failed call only warns.
async fn enrich_ec2(
    ec2: &dyn Ec2,
    execution: &mut Execution,
    refreshed: &[u32],
    warnings: &mut Vec<String>,
) {
    let ids: Vec<InstanceId> = servers(execution, refreshed)
        .filter_map(|s| s.instance_id.clone())
        .collect();
    if ids.is_empty() {
        return;
    }
    let calls: Vec<_> = ids
        .chunks(EC2_FILTER_MAX)
        .map(|chunk| ec2.describe_instances(chunk))
        .collect();
    let found: Result<Vec<Vec<Ec2Instance>>, _> = stream::iter(calls)
        .buffered(BATCH_CONCURRENCY)
        .try_collect()
        .await;
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            warnings.push(format!(
                "EC2 DescribeInstances failed ({e}); instance details not refreshed"
            ));
            return;
        }
    };
    let by_id: HashMap<&InstanceId, &Ec2Instance> = found
        .iter()
        .flatten()
        .map(|i| (&i.instance_id, i))
        .collect();
    for wave in waves_mut(execution, refreshed) {
        for entry in &mut wave.server_statuses {
            let Some(instance) = entry.instance_id.as_ref().and_then(|id| by_id.get(id)) else {
                continue;
            };
            entry.private_ip.clone_from(&instance.private_ip);
            entry.hostname.clone_from(&instance.private_dns_name);
            entry.instance_type.clone_from(&instance.instance_type);
            entry.instance_state.clone_from(&instance.state);
            entry.launch_time = instance.launch_time;
        }
    }
}

fn answer(
    execution: &Execution,
    at: Timestamp,
    policy: &Policy,
    summary: bool,
    warnings: Vec<String>,
) -> PollResponse {
    PollResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: execution.status(),
        all_waves_complete: execution.all_waves_complete(),
        waves: if summary {
            PollWaves::Summary(execution.waves.iter().map(WaveSummary::of).collect())
        } else {
            PollWaves::Full(execution.waves.clone())
        },
        next_action: next_action(execution, at, policy),
        paused_before_wave: execution.header.paused_before_wave,
        last_polled_time: execution.header.last_polled_time,
        warnings,
    }
}
