//! launch: start the wave that is due, as as many DRS jobs as it needs, each part once.
//!
//! A wave's attempt is launched part by part: a launcher claims the next part (the first
//! `maxServersPerJob` servers of the attempt without a job) with a conditional write that also
//! moves the header's version on, calls StartRecovery once, and records the job (its servers take
//! its id; the wave is STARTED when no server is left without one). A claim that outlives its
//! launcher, or whose StartRecovery answer was lost, is settled by the job's tags first, so one
//! part of one attempt never gets two jobs.

use super::{load_target, with_retries, Failure, MAX_ATTEMPTS};
use crate::api::{LaunchResponse, Target, OK};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::{header_write, wave_write, Transition, WaveTransition};
use crate::model::{Execution, LaunchClaim, Timestamp, Wave, WaveFailure, WaveJob};
use crate::ports::{
    now, Clock, Commit, Drs, DrsJob, ExecutionStore, JobTag, RecoveryRequest, ServiceError,
    StoreError,
};
use crate::rules::{apply_verdict, judge_wave, next_action, JobsById, NextAction, Policy};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// launch: refused (400) unless `nextAction` is LAUNCH. Takes the wave in flight that is due for
/// launch, or else the next PENDING one, and starts its parts until every server has a job or DRS
/// refuses: a refusal that clears on its own (throttling, quotas, conflicts) or a lost answer is
/// recorded on the wave with the time of the next try (`retryAfterSeconds` in the answer); one
/// that will not clear fails the wave (LAUNCH_REJECTED).
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
        let why = match execution.in_flight().next() {
            Some(w) => format!("wave {} is {}", w.wave_number, w.status),
            None => format!("execution is {}", execution.status()),
        };
        return Err(Refusal::LaunchNotDue {
            next_action: action.as_str(),
            why,
        }
        .into());
    }
    let wave = match execution.in_flight().next() {
        Some(w) => w.clone(),
        None => execution
            .next_pending()
            .cloned()
            .ok_or(Refusal::NothingToLaunch)?,
    };
    let mut launcher = Launcher {
        store,
        drs,
        policy,
        execution,
        at,
        job_ids: Vec::new(),
        recovered: false,
    };
    launcher.run(wave).await
}

struct Launcher<'a> {
    store: &'a dyn ExecutionStore,
    drs: &'a dyn Drs,
    policy: &'a Policy,
    /// The record as this launcher last wrote or read it.
    execution: Execution,
    at: Timestamp,
    job_ids: Vec<crate::ids::JobId>,
    recovered: bool,
}

impl Launcher<'_> {
    async fn run(&mut self, mut wave: Wave) -> Result<LaunchResponse, Failure> {
        loop {
            // A claim left by a launcher that died, or whose answer was lost: its job may exist.
            if let Some(claim) = wave.claim.clone().filter(|c| c.held || c.uncertain) {
                let tag = self.tag(&wave, claim.part);
                let since = Wave::lookup_since(&claim);
                if let Some(job) = self.drs.find_tagged_job(&tag, since).await? {
                    self.recovered = true;
                    wave = self.record(&wave, &claim, job).await?;
                    continue;
                }
            }
            if wave.status != WaveStatus::Launching && wave.status != WaveStatus::Pending {
                return Ok(self.answer(&wave, None));
            }
            if self.execution.status() == ExecutionStatus::Cancelling {
                return self.stop_for_cancel(&wave).await;
            }
            // Past its timeout, with no job found for a claim that might have had one: the wave
            // is judged (LAUNCH_BLOCKED, or COMPLETED if its critical servers launched), not
            // started again.
            if wave.status == WaveStatus::Launching {
                let mut unclaimed = wave.clone();
                unclaimed.claim = None;
                let verdict = judge_wave(&unclaimed, &JobsById::new(), self.at, self.policy);
                if verdict.status != WaveStatus::Launching {
                    let at = self.at;
                    let write = wave_write(&wave, WaveTransition::Judge, verdict.status, |w| {
                        apply_verdict(w, &verdict, at);
                    })?;
                    let judged = self.commit_wave(write).await?;
                    return Ok(self.answer(&judged, None));
                }
            }
            let size = wave
                .servers_without_job()
                .count()
                .min(self.policy.max_servers_per_job as usize);
            if size == 0 {
                return Err(OperationError::Internal(format!(
                    "wave {} is LAUNCHING with no server left to launch",
                    wave.wave_number
                ))
                .into());
            }
            let claimed = self.claim(&wave, size).await?;
            wave = self.start(claimed).await?;
            if let Some(next) = wave.next_launch_time {
                // Refused for now: the answer says when to try again.
                return Ok(self.answer(&wave, Some(next.secs_since(self.at))));
            }
        }
    }

    fn tag(&self, wave: &Wave, part: u32) -> JobTag {
        JobTag {
            execution_id: self.execution.id(),
            wave_number: wave.wave_number,
            attempt: wave.attempt.max(1),
            part,
        }
    }

    /// Takes the next part of `wave` for one StartRecovery call. Conditional on the wave and on the
    /// header (whose version it moves on), so a pause or cancel decided before it wins; the first
    /// claim of an execution moves it from PENDING to POLLING.
    async fn claim(&mut self, wave: &Wave, size: usize) -> Result<Wave, Failure> {
        let at = self.at;
        let header = &self.execution.header;
        let to = match header.status {
            ExecutionStatus::Pending => ExecutionStatus::Polling,
            other => other,
        };
        let header = header_write(header, Transition::Launch, to, |h| {
            h.start_time.get_or_insert(at);
        })?;
        let part = u32::try_from(wave.current_jobs().count()).unwrap_or(u32::MAX);
        // A claim of this part that a launcher held, or whose answer was lost, may have a job the
        // look-up has not seen yet (DRS is eventually consistent): the part stays uncertain, and
        // the look-up keeps searching from the first such claim.
        let carried = wave
            .claim
            .as_ref()
            .filter(|c| c.part == part && (c.held || c.uncertain));
        let uncertain = carried.is_some();
        let first_claimed_time = carried.map(Wave::lookup_since);
        let claim = wave_write(wave, WaveTransition::Claim, WaveStatus::Launching, |w| {
            if w.attempt == 0 {
                w.attempt = 1;
            }
            w.launch_time.get_or_insert(at);
            w.attempt_time.get_or_insert(at);
            w.launch_attempts = w.launch_attempts.saturating_add(1);
            w.next_launch_time = None;
            w.claim = Some(LaunchClaim {
                part,
                size: u32::try_from(size).unwrap_or(u32::MAX),
                claimed_time: at,
                first_claimed_time,
                held: true,
                uncertain,
            });
        })?;
        let claimed = claim.wave.clone();
        let written = super::after_write(&self.execution, &header);
        let commit = Commit {
            execution_id: self.execution.id(),
            header: Some(header),
            waves: vec![claim],
            events: vec![],
        };
        self.store.commit(&commit).await?;
        self.execution = written;
        self.replace(&claimed);
        Ok(claimed)
    }

    /// StartRecovery, once, for the part `wave`'s claim holds.
    async fn start(&mut self, wave: Wave) -> Result<Wave, Failure> {
        let claim = wave
            .claim
            .clone()
            .ok_or_else(|| OperationError::Internal("a claimed wave without its claim".into()))?;
        let request = RecoveryRequest {
            execution_id: self.execution.id(),
            wave_number: wave.wave_number,
            attempt: wave.attempt,
            part: claim.part,
            is_drill: self.execution.header.is_drill,
            source_servers: wave
                .servers_without_job()
                .take(claim.size as usize)
                .map(|s| s.source_server_id.clone())
                .collect(),
        };
        match self.drs.start_recovery(&request).await {
            Ok(job) => self.record(&wave, &claim, job).await,
            Err(ServiceError::Rejected(reason)) => self.reject(&wave, &reason).await,
            Err(ServiceError::Throttled {
                retry_after,
                message,
            }) => {
                // DRS did nothing: no job to look for, unless an earlier answer was lost.
                let keep = claim.uncertain.then(|| LaunchClaim {
                    held: false,
                    ..claim.clone()
                });
                let wait = retry_after.map(|d| d.as_secs());
                self.back_off(
                    &wave,
                    keep,
                    wait,
                    format!("DRS refused StartRecovery for now: {message}"),
                )
                .await
            }
            Err(ServiceError::Unavailable {
                retry_after,
                message: reason,
            }) => {
                // DRS may have started the job: the next launch looks for it first. DRS's
                // InternalServerException names when to come back; sooner only meets it again.
                let keep = Some(LaunchClaim {
                    held: false,
                    uncertain: true,
                    ..claim.clone()
                });
                self.back_off(
                    &wave,
                    keep,
                    retry_after.map(|d| d.as_secs()),
                    format!("DRS StartRecovery did not answer: {reason}"),
                )
                .await
            }
        }
    }

    /// Records `job` as the part `claim` held: its servers take the job's id, the claim is gone,
    /// and the wave is STARTED when no server is left without a job. The job exists, so a lost
    /// race re-reads and records on the fresh wave, unless that wave no longer waits for it.
    async fn record(
        &mut self,
        wave: &Wave,
        claim: &LaunchClaim,
        job: DrsJob,
    ) -> Result<Wave, Failure> {
        let mut current = wave.clone();
        for _ in 0..MAX_ATTEMPTS {
            if current.jobs.iter().any(|j| j.job_id == job.job_id) {
                return Ok(current); // another launcher recorded it
            }
            if current.status != WaveStatus::Launching
                || current.claim.as_ref().map(|c| (c.part, c.claimed_time))
                    != Some((claim.part, claim.claimed_time))
            {
                return Err(OperationError::Conflict(format!(
                    "wave {} moved on while DRS job {} was being recorded (it is tagged with its part)",
                    wave.wave_number, job.job_id
                ))
                .into());
            }
            let at = self.at;
            let mut taken = 0;
            let left = current.servers_without_job().count();
            let to = if left <= claim.size as usize {
                WaveStatus::Started
            } else {
                WaveStatus::Launching
            };
            let write = wave_write(&current, WaveTransition::Record, to, |w| {
                for server in w
                    .server_statuses
                    .iter_mut()
                    .filter(|s| s.job_id.is_none() && s.launch_status != LaunchStatus::Launched)
                    .take(claim.size as usize)
                {
                    server.job_id = Some(job.job_id.clone());
                    server.launch_status = LaunchStatus::Pending;
                    server.status_message = None;
                    taken += 1;
                }
                w.jobs.push(WaveJob {
                    job_id: job.job_id.clone(),
                    attempt: w.attempt,
                    part: claim.part,
                    recorded_time: at,
                    created_time: job.created_time,
                    ended_time: job.ended_time,
                });
                w.claim = None;
                w.next_launch_time = None;
            })?;
            let recorded = write.wave.clone();
            let header = self.start_header()?;
            let commit = Commit {
                execution_id: self.execution.id(),
                header: header.clone(),
                waves: vec![write],
                events: vec![],
            };
            match self.store.commit(&commit).await {
                Ok(()) => {
                    debug_assert!(taken > 0);
                    if let Some(h) = &header {
                        self.execution = super::after_write(&self.execution, h);
                    }
                    self.replace(&recorded);
                    self.job_ids.push(job.job_id.clone());
                    return Ok(recorded);
                }
                Err(StoreError::Conflict) => {
                    self.execution =
                        self.store.load(self.execution.id()).await?.ok_or_else(|| {
                            OperationError::NotFound(format!(
                                "execution {} disappeared",
                                self.execution.id()
                            ))
                        })?;
                    current = self
                        .execution
                        .wave(wave.wave_number)
                        .cloned()
                        .ok_or_else(|| {
                            OperationError::Internal("claimed wave disappeared".into())
                        })?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Failure::Lost)
    }

    /// A refusal that clears on its own, or a lost answer: the wave stays LAUNCHING, no launcher
    /// holds it, and the next try is due after the backoff (DRS's own hint when it gave one).
    async fn back_off(
        &mut self,
        wave: &Wave,
        claim: Option<LaunchClaim>,
        retry_after: Option<u64>,
        error: String,
    ) -> Result<Wave, Failure> {
        // Calls that started no job on the record: the refusals so far.
        let refusals = wave
            .launch_attempts
            .saturating_sub(u32::try_from(wave.jobs.len()).unwrap_or(u32::MAX));
        let wait = self.policy.launch_backoff(refusals, retry_after);
        let next = Timestamp(
            self.at
                .secs()
                .saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)),
        );
        let write = wave_write(wave, WaveTransition::Refuse, WaveStatus::Launching, |w| {
            w.claim = claim;
            w.next_launch_time = Some(next);
            w.last_launch_error = Some(error);
        })?;
        self.commit_wave(write).await
    }

    /// A refusal that will not clear. With no job of the attempt started, the wave FAILS
    /// (LAUNCH_REJECTED); with some parts running, those run on and the servers left never launch.
    async fn reject(&mut self, wave: &Wave, reason: &str) -> Result<Wave, Failure> {
        let at = self.at;
        let message = format!("DRS refused StartRecovery: {reason}");
        let write = if wave.current_jobs().next().is_none() {
            wave_write(wave, WaveTransition::Refuse, WaveStatus::Failed, |w| {
                w.claim = None;
                w.end_time = Some(at);
                w.failure_reason = Some(WaveFailure::LaunchRejected);
                w.status_message = Some(message.clone());
                w.last_launch_error = Some(message);
            })?
        } else {
            wave_write(wave, WaveTransition::Record, WaveStatus::Started, |w| {
                w.claim = None;
                w.last_launch_error = Some(message.clone());
                never_launched(w, &message);
            })?
        };
        self.commit_wave(write).await
    }

    /// A cancelled execution's wave whose launch has not finished: what reached DRS runs on, the
    /// rest never launches. A wave nothing of which reached DRS never ran (CANCELLED), or, for a
    /// retry, stays the failure it was.
    async fn stop_for_cancel(&mut self, wave: &Wave) -> Result<LaunchResponse, Failure> {
        let at = self.at;
        let write = if wave.current_jobs().next().is_some() {
            wave_write(wave, WaveTransition::Cancel, WaveStatus::Started, |w| {
                w.claim = None;
                never_launched(w, "not launched: the execution was cancelled");
            })?
        } else if wave.attempt > 1 {
            wave_write(wave, WaveTransition::Cancel, WaveStatus::Failed, |w| {
                w.claim = None;
                w.end_time = Some(at);
                w.failure_reason = Some(WaveFailure::RetryCancelled);
                w.status_message = Some("cancelled before its retry reached DRS".into());
            })?
        } else {
            wave_write(wave, WaveTransition::Cancel, WaveStatus::Cancelled, |w| {
                w.claim = None;
                w.end_time = Some(at);
                w.status_message = Some("cancelled before its launch reached DRS".into());
            })?
        };
        let wave = self.commit_wave(write).await?;
        Ok(self.answer(&wave, None))
    }

    /// A claim of version 1 may have left the execution PENDING with its wave launched: whatever
    /// launch writes of that wave then moves the execution to POLLING in the same commit (else a
    /// judged wave would leave a PENDING execution that finalize cannot end).
    fn start_header(
        &self,
    ) -> Result<Option<crate::ports::HeaderWrite>, crate::lifecycle::InvalidTransition> {
        let at = self.at;
        (self.execution.status() == ExecutionStatus::Pending)
            .then(|| {
                header_write(
                    &self.execution.header,
                    Transition::Launch,
                    ExecutionStatus::Polling,
                    |h| {
                        h.start_time.get_or_insert(at);
                    },
                )
            })
            .transpose()
    }

    async fn commit_wave(&mut self, write: crate::ports::WaveWrite) -> Result<Wave, Failure> {
        let written = write.wave.clone();
        let header = self.start_header()?;
        self.store
            .commit(&Commit {
                execution_id: self.execution.id(),
                header: header.clone(),
                waves: vec![write],
                events: vec![],
            })
            .await?;
        if let Some(h) = &header {
            self.execution = super::after_write(&self.execution, h);
        }
        self.replace(&written);
        Ok(written)
    }

    fn replace(&mut self, wave: &Wave) {
        if let Some(w) = self
            .execution
            .waves
            .iter_mut()
            .find(|w| w.wave_number == wave.wave_number)
        {
            *w = wave.clone();
        }
    }

    fn answer(&self, wave: &Wave, retry_after_seconds: Option<u64>) -> LaunchResponse {
        LaunchResponse {
            status_code: OK,
            execution_id: self.execution.id(),
            status: self.execution.status(),
            wave_number: wave.wave_number,
            wave_status: wave.status,
            job_ids: self.job_ids.clone(),
            recovered: self.recovered,
            retry_after_seconds,
            last_launch_error: retry_after_seconds.and(wave.last_launch_error.clone()),
        }
    }
}

/// The servers of the attempt that no job took: they will not launch in it.
fn never_launched(wave: &mut Wave, why: &str) {
    for server in wave
        .server_statuses
        .iter_mut()
        .filter(|s| s.job_id.is_none() && s.launch_status != LaunchStatus::Launched)
    {
        server.launch_status = LaunchStatus::Failed;
        server.status_message = Some(why.to_owned());
    }
}
