use super::{load_target, put_header, put_wave, with_retries, Failure};
use crate::api::{LaunchResponse, Target, OK};
use crate::error::OperationError;
use crate::lifecycle::{self, Transition};
use crate::model::{Execution, Timestamp, Wave, WaveFailure};
use crate::ports::{
    now, Clock, Commit, Drs, DrsJob, ExecutionStore, RecoveryRequest, ServiceError, StoreError,
};
use crate::rules::{is_stale_claim, next_action, NextAction, Policy};
use crate::status::{ExecutionStatus, WaveStatus};

/// launch: claim the next PENDING wave (PENDING → LAUNCHING, conditional on the wave and on the
/// header, so a pause or cancel that answered first wins), call StartRecovery once with the job
/// tagged by execution and wave, record the job (→ STARTED; the execution PENDING → POLLING).
///
/// A wave left LAUNCHING by a launcher that died is finished by a later launch: it looks for the
/// tagged job first and starts one only when DRS has none, so one wave never gets two jobs.
pub async fn launch(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    clock: &dyn Clock,
    policy: &Policy,
    target: &Target,
) -> Result<LaunchResponse, OperationError> {
    with_retries("launch", || attempt(store, drs, clock, policy, target)).await
}

async fn attempt(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    clock: &dyn Clock,
    policy: &Policy,
    target: &Target,
) -> Result<LaunchResponse, Failure> {
    let execution = load_target(store, target).await?;
    let at = now(clock);
    let action = next_action(&execution, at, policy);
    if action != NextAction::Launch {
        let status = execution.status();
        let why = match execution.in_flight().next() {
            Some(w) => format!("wave {} is {}", w.wave_number, w.status),
            None => format!("execution is {status}"),
        };
        return Err(OperationError::InvalidState(format!(
            "launch refused: nextAction is {} ({why})",
            action.as_str()
        ))
        .into());
    }

    // A stale claim: its launcher died between claim and record.
    if let Some(claimed) = execution
        .in_flight()
        .find(|w| is_stale_claim(w, at, policy))
    {
        let since = claimed.launch_time.unwrap_or(execution.header.created_time);
        if let Some(job) = drs
            .find_tagged_job(execution.id(), claimed.wave_number, since)
            .await?
        {
            return record_job(store, &execution, claimed, job, at, true).await;
        }
        if execution.status() == ExecutionStatus::Cancelling {
            return cancel_claim(store, &execution, claimed, at).await;
        }
        // DRS has no job for it: take the claim over (conditional, so only one launcher does).
        let mut reclaimed = claimed.clone();
        reclaimed.launch_time = Some(at);
        let reclaim = put_wave(claimed, reclaimed.clone());
        reclaimed.version = reclaim.wave.version;
        store
            .commit(&Commit {
                execution_id: execution.id(),
                header: None,
                waves: vec![reclaim],
            })
            .await?;
        return start(store, drs, &execution, &reclaimed, at).await;
    }

    let Some(next) = execution.next_pending() else {
        return Err(OperationError::InvalidState("no wave is left to launch".into()).into());
    };
    lifecycle::check(
        Transition::Launch,
        execution.status(),
        ExecutionStatus::Polling,
    )?;
    let mut claimed = next.clone();
    claimed.status = WaveStatus::Launching;
    claimed.launch_time = Some(at);
    let claim = put_wave(next, claimed.clone());
    claimed.version = claim.wave.version;
    let commit = Commit {
        execution_id: execution.id(),
        // The claim moves the header's version on, so a pause or cancel decided on the record
        // before the claim loses its write, re-reads, and sees this wave in flight.
        header: Some(put_header(&execution.header, execution.header.clone())),
        waves: vec![claim],
    };
    store.commit(&commit).await?;
    start(store, drs, &execution, &claimed, at).await
}

/// StartRecovery for a wave this call has claimed.
async fn start(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    execution: &Execution,
    claimed: &Wave,
    at: Timestamp,
) -> Result<LaunchResponse, Failure> {
    let request = RecoveryRequest {
        execution_id: execution.id(),
        wave_number: claimed.wave_number,
        is_drill: execution.header.is_drill,
        source_servers: claimed.source_server_ids().cloned().collect(),
    };
    match drs.start_recovery(&request).await {
        Ok(job) => record_job(store, execution, claimed, job, at, false).await,
        Err(ServiceError::Rejected(reason)) => {
            let mut failed = claimed.clone();
            failed.status = WaveStatus::Failed;
            failed.end_time = Some(at);
            failed.failure_reason = Some(WaveFailure::LaunchRejected);
            failed.status_message = Some(format!("DRS refused StartRecovery: {reason}"));
            store
                .commit(&Commit {
                    execution_id: execution.id(),
                    header: None,
                    waves: vec![put_wave(claimed, failed)],
                })
                .await?;
            Ok(answer(
                execution,
                execution.status(),
                claimed.wave_number,
                WaveStatus::Failed,
                None,
                false,
            ))
        }
        Err(e @ ServiceError::Throttled { .. }) => {
            // Throttled calls start nothing: release the claim so the retry starts at once.
            let mut released = claimed.clone();
            released.launch_time = None;
            store
                .commit(&Commit {
                    execution_id: execution.id(),
                    header: None,
                    waves: vec![put_wave(claimed, released)],
                })
                .await?;
            Err(OperationError::Internal(format!("DRS StartRecovery: {e}")).into())
        }
        // Unknown whether DRS started the job: keep the claim; a retry looks for the tagged job
        // once the claim is stale.
        Err(e) => Err(OperationError::Internal(format!("DRS StartRecovery: {e}")).into()),
    }
}

/// LAUNCHING → STARTED with the job id and, in the same atomic commit, the execution PENDING →
/// POLLING (with its start time) for its first wave. The job exists now, so a lost race (a pause
/// or cancel moved the header on) re-reads the header and records again instead of giving up.
async fn record_job(
    store: &dyn ExecutionStore,
    execution: &Execution,
    claimed: &Wave,
    job: DrsJob,
    at: Timestamp,
    recovered: bool,
) -> Result<LaunchResponse, Failure> {
    let mut header = execution.header.clone();
    for _ in 0..super::MAX_ATTEMPTS {
        let mut started = claimed.clone();
        started.status = WaveStatus::Started;
        started.job_id = Some(job.job_id.clone());
        // The wave's clock runs from the claim, which is when the launch began.
        started.launch_time = claimed.launch_time.or(Some(at));
        let mut running = header.clone();
        if header.status == ExecutionStatus::Pending {
            lifecycle::check(Transition::Launch, header.status, ExecutionStatus::Polling)?;
            running.status = ExecutionStatus::Polling;
        }
        running.start_time = header.start_time.or(Some(at));
        let header_write = (running != header).then(|| put_header(&header, running.clone()));
        let commit = Commit {
            execution_id: execution.id(),
            header: header_write,
            waves: vec![put_wave(claimed, started)],
        };
        match store.commit(&commit).await {
            Ok(()) => {
                return Ok(answer(
                    execution,
                    running.status,
                    claimed.wave_number,
                    WaveStatus::Started,
                    Some(job),
                    recovered,
                ))
            }
            Err(StoreError::Conflict) => {
                let fresh = store.load(execution.id()).await?.ok_or_else(|| {
                    OperationError::NotFound(format!("execution {} disappeared", execution.id()))
                })?;
                let wave = fresh
                    .wave(claimed.wave_number)
                    .ok_or_else(|| OperationError::Internal("claimed wave disappeared".into()))?;
                if wave.version != claimed.version {
                    // Another launcher took the claim over; its record stands.
                    return Err(OperationError::Conflict(format!(
                        "wave {} was recorded by another launch",
                        claimed.wave_number
                    ))
                    .into());
                }
                header = fresh.header;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Lost)
}

/// A cancelled execution's stale claim that never reached DRS: the wave never ran.
async fn cancel_claim(
    store: &dyn ExecutionStore,
    execution: &Execution,
    claimed: &Wave,
    at: Timestamp,
) -> Result<LaunchResponse, Failure> {
    let mut cancelled = claimed.clone();
    cancelled.status = WaveStatus::Cancelled;
    cancelled.end_time = Some(at);
    cancelled.status_message = Some("cancelled before its launch reached DRS".into());
    store
        .commit(&Commit {
            execution_id: execution.id(),
            header: None,
            waves: vec![put_wave(claimed, cancelled)],
        })
        .await?;
    Ok(answer(
        execution,
        execution.status(),
        claimed.wave_number,
        WaveStatus::Cancelled,
        None,
        false,
    ))
}

fn answer(
    execution: &Execution,
    status: ExecutionStatus,
    wave_number: u32,
    wave_status: WaveStatus,
    job: Option<DrsJob>,
    recovered: bool,
) -> LaunchResponse {
    LaunchResponse {
        status_code: OK,
        execution_id: execution.id(),
        status,
        wave_number,
        wave_status,
        job_id: job.map(|j| j.job_id),
        recovered,
    }
}
