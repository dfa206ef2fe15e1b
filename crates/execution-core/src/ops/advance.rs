//! advance: the event-driven wave transition. DRS reports that a server's launch ended (an
//! EventBridge "DRS Source Server Launch Result", best effort); advance finds the execution that
//! owns the job by the job's tags (one DescribeJobs, no table scan), polls it, and when
//! `nextAction` is LAUNCH launches its next wave — so the next wave starts seconds after DRS
//! reports the last server of a wave, not at the next poll.
//!
//! It decides nothing of its own: poll applies the wave rules and launch is the launcher every
//! driver uses (safe against the workflow's launcher racing it). An event for a job this engine
//! did not start, for an execution that has ended, or for a wave no longer in flight (a late or
//! repeated event) is answered IGNORED, having written nothing. Polling stays the fallback: an
//! event lost changes only how soon the next wave starts.

use serde::Serialize;

use crate::api::{
    AdvanceOutcome, AdvanceResponse, LaunchResponse, LaunchResult, PollRequest, Target, OK,
};
use crate::error::{OperationError, Refusal};
use crate::ids::{ExecutionId, JobId};
use crate::ports::{now, AutomationRunner, Clock, Drs, Ec2, ExecutionStore};
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus, WaveStatus};

/// Why a launch result changed nothing. `Display` is the answer's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("DRS does not know job {0}")]
    JobNotFound(JobId),
    #[error("job {0} was not started by this engine (it has no executionId and waveNumber tags)")]
    ForeignJob(JobId),
    /// The tags name an execution this stack does not hold (another stack's, in the same account
    /// and Region: every stack's rule sees every DRS event).
    #[error("execution {0}, which job's tags name, is not in this stack's table")]
    UnknownExecution(ExecutionId),
    #[error("execution {execution_id} is {status}: it has ended")]
    Finished {
        execution_id: ExecutionId,
        status: ExecutionStatus,
    },
    /// The job's wave (or the job's attempt of it) is no longer in flight: a late or repeated
    /// event, whose news a poll already recorded.
    #[error("wave {wave} is {status} (attempt {current}); the job is of attempt {attempt}: a late or repeated event")]
    Late {
        wave: u32,
        status: WaveStatus,
        attempt: u32,
        current: u32,
    },
    /// Other servers of the job are still launching: the wave cannot be complete yet, and the
    /// event about the job's last server will come (or the next poll will see it).
    #[error("{pending} other server(s) of job {job} are still launching")]
    JobStillLaunching { job: JobId, pending: usize },
}

impl Ignored {
    pub const fn code(&self) -> &'static str {
        match self {
            Self::JobNotFound(_) => "JOB_NOT_FOUND",
            Self::ForeignJob(_) => "FOREIGN_JOB",
            Self::UnknownExecution(_) => "UNKNOWN_EXECUTION",
            Self::Finished { .. } => "EXECUTION_FINISHED",
            Self::Late { .. } => "LATE_EVENT",
            Self::JobStillLaunching { .. } => "JOB_STILL_LAUNCHING",
        }
    }
}

impl Serialize for Ignored {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

/// The ports advance uses: poll's and launch's.
#[derive(Clone, Copy)]
pub struct AdvancePorts<'a> {
    pub store: &'a dyn ExecutionStore,
    pub drs: &'a dyn Drs,
    pub ec2: &'a dyn Ec2,
    pub automation: Option<&'a dyn AutomationRunner>,
    pub clock: &'a dyn Clock,
    pub policy: &'a Policy,
}

/// advance: see the module's documentation.
pub async fn advance(
    ports: AdvancePorts<'_>,
    event: &LaunchResult,
) -> Result<AdvanceResponse, OperationError> {
    let AdvancePorts {
        store,
        drs,
        ec2,
        automation,
        clock,
        policy,
    } = ports;
    let job_id = &event.job_id;
    // The function's one log line names the job, the outcome and the reason.
    let ignored = |reason: Ignored, target: Option<Target>, wave: Option<u32>| AdvanceResponse {
        status_code: OK,
        job_id: job_id.clone(),
        outcome: AdvanceOutcome::Ignored,
        message: reason.to_string(),
        reason: Some(reason),
        execution_id: target.map(|t| t.execution_id),
        plan_id: target.map(|t| t.plan_id),
        wave_number: wave,
        next_action: None,
        launch: None,
    };

    let jobs = drs.describe_jobs(std::slice::from_ref(job_id)).await?;
    let Some(job) = jobs.into_iter().find(|j| &j.job_id == job_id) else {
        return Ok(ignored(Ignored::JobNotFound(job_id.clone()), None, None));
    };
    let Some(tag) = job.tag else {
        return Ok(ignored(Ignored::ForeignJob(job_id.clone()), None, None));
    };
    // Before the record is read (most of a wave's events end here): the event's own server has
    // ended its launch, whatever DescribeJobs still says of it.
    let pending = job
        .participating_servers
        .iter()
        .filter(|s| Some(&s.source_server_id) != event.source_server_id.as_ref())
        .filter(|s| !s.launch_status.is_settled())
        .count();
    if pending > 0 {
        let reason = Ignored::JobStillLaunching {
            job: job_id.clone(),
            pending,
        };
        return Ok(ignored(reason, None, Some(tag.wave_number)));
    }
    let Some(execution) = store.load(tag.execution_id).await? else {
        return Ok(ignored(
            Ignored::UnknownExecution(tag.execution_id),
            None,
            Some(tag.wave_number),
        ));
    };
    let target = Target {
        execution_id: execution.id(),
        plan_id: execution.header.plan_id,
    };
    let wave_number = Some(tag.wave_number);
    let status = execution.status();
    if status.is_terminal() {
        let reason = Ignored::Finished {
            execution_id: target.execution_id,
            status,
        };
        return Ok(ignored(reason, Some(target), wave_number));
    }
    let Some(wave) = execution.wave(tag.wave_number) else {
        // Tags that name a wave the execution lacks are not this execution's job.
        return Ok(ignored(
            Ignored::ForeignJob(job_id.clone()),
            Some(target),
            None,
        ));
    };
    let late = Ignored::Late {
        wave: wave.wave_number,
        status: wave.status,
        attempt: tag.attempt,
        current: wave.attempt,
    };
    let answer = |outcome, message: String, next_action, launch| AdvanceResponse {
        status_code: OK,
        job_id: job_id.clone(),
        outcome,
        reason: None,
        message,
        execution_id: Some(target.execution_id),
        plan_id: Some(target.plan_id),
        wave_number,
        next_action: Some(next_action),
        launch,
    };
    if wave.attempt != tag.attempt {
        return Ok(ignored(late, Some(target), wave_number));
    }
    if !wave.status.is_in_flight() {
        // Another poll (find's, the workflow's) saw the wave complete before the event came: the
        // next wave is launched now if it is due, as it would have been after this poll.
        let due = next_action(&execution, now(clock), policy);
        if wave.status != WaveStatus::Completed || due != NextAction::Launch {
            return Ok(ignored(late, Some(target), wave_number));
        }
        return Ok(
            match launch_now(store, drs, clock, policy, &target).await? {
                Some(launched) => {
                    let message = format!(
                        "wave {} was complete already; launched wave {}",
                        wave.wave_number, launched.wave_number
                    );
                    answer(AdvanceOutcome::Launched, message, due, Some(launched))
                }
                None => ignored(late, Some(target), wave_number),
            },
        );
    }

    let poll = PollRequest {
        target,
        summary: true,
        workflow_run: None,
    };
    let polled = super::poll(store, drs, ec2, automation, clock, policy, &poll).await?;
    let due = polled.next_action;
    if due != NextAction::Launch {
        let message = format!("polled; nextAction is {}", due.as_str());
        return Ok(answer(AdvanceOutcome::Polled, message, due, None));
    }
    Ok(
        match launch_now(store, drs, clock, policy, &target).await? {
            Some(launched) => {
                let message = format!("polled, and launched wave {}", launched.wave_number);
                answer(AdvanceOutcome::Launched, message, due, Some(launched))
            }
            None => answer(
                AdvanceOutcome::Polled,
                "polled; another launcher (the workflow) came first".to_owned(),
                due,
                None,
            ),
        },
    )
}

/// launch, as the workflow's launcher would; `None` when another launcher came first (launch is
/// no longer due), which leaves what it did as it stands.
async fn launch_now(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    clock: &dyn Clock,
    policy: &Policy,
    target: &Target,
) -> Result<Option<LaunchResponse>, OperationError> {
    match super::launch(store, drs, clock, policy, target).await {
        Ok(launched) => Ok(Some(launched)),
        Err(OperationError::InvalidState(
            Refusal::LaunchNotDue { .. } | Refusal::NothingToLaunch,
        )) => Ok(None),
        Err(e) => Err(e),
    }
}
