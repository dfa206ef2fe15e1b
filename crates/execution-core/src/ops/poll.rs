use std::collections::HashMap;

use futures::stream::{self, StreamExt, TryStreamExt};

use super::{load_target, with_retries, Failure};
use crate::actions::{automation_ended, run_overdue, settle_run, ActionKind, RunEnd};
use crate::api::{PollRequest, PollResponse, PollWaves, WaveSummary, OK};
use crate::error::OperationError;
use crate::ids::{InstanceId, JobId, SourceServerId};
use crate::lifecycle::{wave_write, WaveTransition};
use crate::model::{Execution, ServerStatus, Timestamp, Wave};
use crate::ports::{
    now, AutomationRunner, Clock, Commit, Drs, Ec2, Ec2Instance, ExecutionStore, RecoveryInstance,
    Touch, WaveWrite, DRS_FILTER_MAX, EC2_FILTER_MAX,
};
use crate::rules::{
    apply_job, apply_verdict, judge_wave, lacks_details, lacks_reason, next_action, JobsById,
    Policy,
};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// How many DescribeRecoveryInstances / DescribeInstances batches run at once.
const BATCH_CONCURRENCY: usize = 8;
/// The most job logs one poll reads (a wave of 1,000 servers has at most 10 jobs at 100 each; a
/// later poll reads the rest).
const JOB_LOGS_PER_POLL: usize = 10;

/// DRS's own reason for every server of a refreshed wave that FAILED and has none yet, from its
/// job's log (DescribeJobLogItems): read once per server, and only for failed servers, so a
/// healthy poll never pays for it. A log that cannot be read now (or past the per-poll cap) is
/// read by a later poll: a settled wave with such a server is refreshed, and finalize waits for
/// it as for EC2's details (the details grace).
async fn explain_failures(
    drs: &dyn Drs,
    execution: &mut Execution,
    refreshed: &[u32],
    warnings: &mut Vec<String>,
) {
    let mut jobs: Vec<JobId> = Vec::new();
    for server in waves_mut(execution, refreshed)
        .flat_map(|w| w.server_statuses.iter())
        .filter(|s| lacks_reason(s))
    {
        if let Some(job) = &server.job_id {
            if !jobs.contains(job) {
                jobs.push(job.clone());
            }
        }
    }
    for job in jobs.into_iter().take(JOB_LOGS_PER_POLL) {
        let log = match drs.job_log(&job).await {
            Ok(log) => log,
            Err(e) => {
                warnings.push(format!("could not read the log of DRS job {job}: {e}"));
                continue;
            }
        };
        for server in waves_mut(execution, refreshed)
            .flat_map(|w| w.server_statuses.iter_mut())
            .filter(|s| lacks_reason(s) && s.job_id.as_ref() == Some(&job))
        {
            server.drs_reason = Some(crate::rules::failure_reason(
                &log,
                &server.source_server_id,
                &job,
            ));
        }
    }
}

/// poll: refresh the waves in flight from DRS and EC2, apply the wave rules, write only the waves
/// that changed (and `lastPolledTime`), answer with `nextAction`. Never changes the execution's
/// status and never finalizes.
///
/// poll also follows the wave actions that run: a runbook's state (GetAutomationExecution, when an
/// SSM client is given), and the time of every run (a run past its timeout ends TIMED_OUT; a
/// runbook still running then is stopped).
pub async fn poll(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    ec2: &dyn Ec2,
    automation: Option<&dyn AutomationRunner>,
    clock: &dyn Clock,
    policy: &Policy,
    request: &PollRequest,
) -> Result<PollResponse, OperationError> {
    with_retries("poll", || {
        attempt(store, drs, ec2, automation, clock, policy, request)
    })
    .await
}

async fn attempt(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    ec2: &dyn Ec2,
    automation: Option<&dyn AutomationRunner>,
    clock: &dyn Clock,
    policy: &Policy,
    request: &PollRequest,
) -> Result<PollResponse, Failure> {
    let mut execution = load_target(store, &request.target).await?;
    let at = now(clock);
    let mut warnings = Vec::new();

    if !execution.status().is_terminal() {
        let changed = refresh(
            drs,
            ec2,
            automation,
            &mut execution,
            at,
            policy,
            &mut warnings,
        )
        .await?;
        // The touch races with nothing, so it runs beside the wave commit: one round trip.
        let commit = Commit {
            execution_id: execution.id(),
            header: None,
            waves: changed,
            events: vec![],
        };
        // The run's name is written only when it is not the record's (the status index projects
        // it): the workflow's poll of its own run moves its poll time alone.
        let touch = Touch::poll_of(
            at,
            request.workflow_run.as_deref(),
            execution.header.workflow_run.as_deref(),
        );
        let (written, touched) = futures::join!(
            async {
                if commit.is_empty() {
                    Ok(())
                } else {
                    store.commit(&commit).await
                }
            },
            store.touch(execution.id(), &touch)
        );
        written?;
        touched?;
        execution.header.last_polled_time = Some(at);
        if let Some(run) = &request.workflow_run {
            execution.header.workflow_run = Some(run.clone());
            execution.header.workflow_polled_time = Some(at);
        }
    }
    Ok(answer(&execution, at, policy, request.summary, warnings))
}

/// Updates the waves worth refreshing in place and returns the writes for those that changed:
/// the waves in flight (their current jobs), and settled waves with a launched server whose
/// recovery instance or EC2 details are not known yet (EC2 is eventually consistent: a wave may
/// complete before EC2 knows its last instance, and its details still arrive on a later poll).
async fn refresh(
    drs: &dyn Drs,
    ec2: &dyn Ec2,
    automation: Option<&dyn AutomationRunner>,
    execution: &mut Execution,
    at: Timestamp,
    policy: &Policy,
    warnings: &mut Vec<String>,
) -> Result<Vec<WaveWrite>, Failure> {
    let refreshed: Vec<u32> = execution
        .waves
        .iter()
        .filter(|w| worth_refreshing(w))
        .map(|w| w.wave_number)
        .collect();
    if refreshed.is_empty() && !crate::rules::action_running(execution) {
        return Ok(Vec::new());
    }
    let job_ids: Vec<JobId> = execution
        .in_flight()
        .flat_map(Wave::jobs_to_follow)
        .collect();
    // One DescribeJobs for every job in flight (the adapter batches by the filter's limit).
    let jobs: JobsById = if job_ids.is_empty() {
        JobsById::new()
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
        .filter(|w| w.status.is_in_flight())
    {
        for job in wave.jobs_to_follow().iter().filter_map(|id| jobs.get(id)) {
            for stranger in apply_job(wave, job) {
                warnings.push(format!(
                    "DRS job {} lists server {stranger} which is not in wave {}",
                    job.job_id, wave.wave_number
                ));
            }
        }
    }
    if !refreshed.is_empty() {
        explain_failures(drs, execution, &refreshed, warnings).await;
        enrich_recovery_instances(drs, execution, &refreshed, warnings).await;
        enrich_ec2(ec2, execution, &refreshed, warnings).await;
    }
    let settled = follow_actions(automation, execution, at, warnings).await;

    let mut writes = Vec::new();
    for (old, new) in before.iter().zip(execution.waves.iter_mut()) {
        let verdict = judge_wave(new, &jobs, at, policy);
        apply_verdict(new, &verdict, at);
        if old != new {
            let changed = new.clone();
            // A wave action's end is the action's change (it may fail the wave); the rest is
            // the wave rules'.
            let (transition, to) = match settled.iter().find(|(n, _)| *n == old.wave_number) {
                Some((_, to)) if verdict.status == old.status => (WaveTransition::Act, *to),
                _ => (WaveTransition::Judge, verdict.status),
            };
            let write = wave_write(old, transition, to, |w| *w = changed)?;
            *new = write.wave.clone();
            writes.push(write);
        }
    }
    Ok(writes)
}

/// Follows every RUNNING wave action: a runbook's state from SSM, and every run's time. Ends the
/// runs that ended (a failed one with policy FAIL fails its wave) and returns, per wave changed,
/// the status that leads to. A runbook past its timeout is stopped; an SSM error only warns.
async fn follow_actions(
    automation: Option<&dyn AutomationRunner>,
    execution: &mut Execution,
    at: Timestamp,
    warnings: &mut Vec<String>,
) -> Vec<(u32, WaveStatus)> {
    let mut settled = Vec::new();
    let execution_status = execution.status();
    for wave in &mut execution.waves {
        let Some(run) = wave.running_action().cloned() else {
            continue;
        };
        let Some(action) = wave.actions.iter().find(|a| a.name == run.name).cloned() else {
            continue;
        };
        let overdue = run_overdue(&action, &run, at);
        let mut end = None;
        let mut stopped = false;
        if let (Some(id), ActionKind::SsmAutomation) = (&run.automation_execution_id, action.kind) {
            match automation {
                None => warnings.push(format!(
                    "automation {id} of action {} is not followed: this function has no SSM client",
                    run.name
                )),
                Some(ssm) => match ssm.automation(id).await {
                    Ok(Some(state)) => {
                        end = automation_ended(&state.status).map(|ok| {
                            if ok {
                                RunEnd::Succeeded {
                                    summary: Some(format!("automation {id}: {}", state.status)),
                                }
                            } else {
                                RunEnd::Failed {
                                    error: format!(
                                        "automation {id} ended {}{}",
                                        state.status,
                                        state
                                            .failure_message
                                            .as_deref()
                                            .map(|m| format!(": {m}"))
                                            .unwrap_or_default()
                                    ),
                                }
                            }
                        });
                    }
                    Ok(None) => warnings.push(format!("SSM does not know automation {id} (yet)")),
                    Err(e) => warnings.push(format!("could not read automation {id}: {e}")),
                },
            }
            if end.is_none() && overdue {
                stopped = match automation {
                    Some(ssm) => match ssm.stop_automation(id).await {
                        Ok(()) => true,
                        Err(e) => {
                            warnings.push(format!("could not stop automation {id}: {e}"));
                            false
                        }
                    },
                    None => false,
                };
            }
        }
        if end.is_none() && overdue {
            let cancelling = execution_status == ExecutionStatus::Cancelling;
            let error = match (action.kind, &run.automation_execution_id) {
                    (ActionKind::Lambda, _) if run.retry_time.is_none() => format!(
                        "no answer recorded within {} s: its invoker stopped; the function may have run, so it is not invoked again for this attempt",
                        action.timeout_seconds
                    ),
                    (ActionKind::SsmAutomation, Some(id)) => format!(
                        "automation {id} still running after {} s; {}",
                        action.timeout_seconds,
                        if stopped { "stopped" } else { "it could not be stopped" }
                    ),
                    _ => format!(
                        "not started within {} s{}",
                        action.timeout_seconds,
                        run.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
                    ),
            };
            // A cancel ends the execution; a run it cut short does not fail the wave.
            end = Some(if cancelling {
                RunEnd::Abandoned { error }
            } else {
                RunEnd::TimedOut { error }
            });
        }
        if let Some(end) = end {
            if let Some(to) = settle_run(wave, &run.name, run.attempt, &end, at) {
                settled.push((wave.wave_number, to));
            }
        }
    }
    settled
}

fn worth_refreshing(wave: &Wave) -> bool {
    match wave.status {
        WaveStatus::Started | WaveStatus::Launching => true,
        WaveStatus::Completed | WaveStatus::Failed => wave
            .server_statuses
            .iter()
            .any(|s| lacks_details(s) || lacks_reason(s)),
        _ => false,
    }
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
    let by_server: HashMap<&SourceServerId, Vec<&RecoveryInstance>> =
        found.iter().flatten().fold(HashMap::new(), |mut m, ri| {
            m.entry(&ri.source_server_id).or_default().push(ri);
            m
        });
    let is_drill = execution.header.is_drill;
    for wave in waves_mut(execution, refreshed) {
        for entry in wave
            .server_statuses
            .iter_mut()
            .filter(|s| s.recovery_instance_id.is_none())
        {
            // The recovery instance the server's own job launched, not an older one of the server.
            // One that names no job is taken only when it is of the execution's kind: a drill's
            // server must not report a real recovery's instance (or the other way round).
            let Some(ri) = by_server.get(&entry.source_server_id).and_then(|all| {
                all.iter()
                    .find(|ri| ri.job_id.is_some() && ri.job_id == entry.job_id)
                    .or_else(|| {
                        all.iter()
                            .find(|ri| ri.job_id.is_none() && ri.is_drill == Some(is_drill))
                    })
            }) else {
                continue;
            };
            entry.instance_id = Some(
                ri.ec2_instance_id
                    .clone()
                    .unwrap_or_else(|| ri.recovery_instance_id.clone()),
            );
            entry.recovery_instance_id = Some(ri.recovery_instance_id.clone());
        }
    }
}

/// DescribeInstances for every known instance of the refreshed waves, in batches of 200. An
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
