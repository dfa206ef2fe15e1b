//! retry and skip: an operator's decision on the failed wave an execution waits on (SPEC §8).
//! Both write the decision and the execution's POLLING in one commit, with the workflow's token
//! marked for release, then release it, as resume does.

use super::token::{leave_pause, release_pending_token, Released};
use super::{after_write, load_target, with_retries, Failure};
use crate::api::{DecisionResponse, WaveTarget, OK};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::{header_write, wave_write, Transition, WaveTransition};
use crate::model::{Execution, Wave, WaveFailure};
use crate::ports::{now, Clock, Commit, ExecutionStore, WaveWrite, Workflow};
use crate::rules::{awaiting_decision, Policy};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// retry: a new attempt of the failed wave for its servers that did not launch (FAILED →
/// LAUNCHING; launch starts its jobs); servers already LAUNCHED keep their instances. At most
/// `maxWaveAttempts` attempts per wave.
pub async fn retry(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    policy: &Policy,
    request: &WaveTarget,
) -> Result<DecisionResponse, OperationError> {
    with_retries("retry", || {
        decide(store, workflow, request, Decision::Retry { clock, policy })
    })
    .await
}

/// skip: the failed wave → SKIPPED; the execution goes on with the next wave (whose own planned
/// pause still applies) and ends COMPLETED_WITH_ERRORS at best.
pub async fn skip(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    request: &WaveTarget,
) -> Result<DecisionResponse, OperationError> {
    with_retries("skip", || decide(store, workflow, request, Decision::Skip)).await
}

#[derive(Clone, Copy)]
enum Decision<'a> {
    Retry {
        clock: &'a dyn Clock,
        policy: &'a Policy,
    },
    Skip,
}

impl Decision<'_> {
    fn name(self) -> &'static str {
        match self {
            Self::Retry { .. } => "retry",
            Self::Skip => "skip",
        }
    }

    /// Whether `wave` shows this decision taken and nothing since: SKIPPED, or a retried attempt
    /// still under way.
    fn already_made(self, wave: &Wave) -> bool {
        match self {
            Self::Retry { .. } => {
                // A new launch attempt under way; or a failed action sent back to where it runs
                // and not run again yet, or running again now.
                (wave.attempt > 1 && wave.status.is_in_flight())
                    || (wave.status != WaveStatus::Failed
                        && wave
                            .failed_action()
                            .is_some_and(|(a, _)| wave.status == a.when.wave_status()))
                    || wave.running_action().is_some_and(|r| r.attempt > 1)
            }
            Self::Skip => wave.status == WaveStatus::Skipped,
        }
    }
}

async fn decide(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    request: &WaveTarget,
    decision: Decision<'_>,
) -> Result<DecisionResponse, Failure> {
    let execution = load_target(store, &request.target).await?;
    let number = request.wave_number;
    let wave = execution
        .wave(number)
        .ok_or(Refusal::NoSuchWave { wave: number })?;
    let waits_on_it = awaiting_decision(&execution).is_some_and(|w| w.wave_number == number);
    // A decision (or resume, or cancel) that died after its write: finish its release first.
    let released = if execution
        .header
        .task_token
        .as_ref()
        .is_some_and(|t| t.release_pending)
    {
        let released = release_pending_token(store, workflow, &execution, decision.name()).await?;
        if waits_on_it {
            return Err(Failure::Lost); // decide on the record as the release left it
        }
        released
    } else {
        Released::Nothing
    };
    if !waits_on_it {
        // The same decision again (a retried call, a double click): it stands, nothing more.
        if decision.already_made(wave) {
            return Ok(DecisionResponse {
                status_code: OK,
                execution_id: execution.id(),
                status: execution.status(),
                wave_number: number,
                wave_status: wave.status,
                attempt: wave.attempt,
                action: rerun(wave).map(|(a, _)| a),
                action_attempt: rerun(wave).map(|(_, n)| n),
                workflow_released: released == Released::Workflow,
            });
        }
        return Err(Refusal::NoDecisionPending {
            operation: decision.name(),
            wave: number,
            waiting: waiting_for(&execution),
        }
        .into());
    }
    let (transition, wave_write) = match decision {
        Decision::Retry { policy, .. }
            if wave.failure_reason == Some(WaveFailure::ActionFailed) =>
        {
            (Transition::Retry, rerun_action(wave, policy)?)
        }
        Decision::Retry { clock, policy } => {
            if !crate::rules::retry_left(wave, policy) {
                return Err(Refusal::AttemptsExhausted {
                    wave: number,
                    attempts: wave.attempt,
                    max: policy.max_wave_attempts,
                }
                .into());
            }
            (Transition::Retry, next_attempt(wave, now(clock))?)
        }
        Decision::Skip => (
            Transition::Skip,
            wave_write(wave, WaveTransition::Skip, WaveStatus::Skipped, |_| {})?,
        ),
    };
    let wave_status = wave_write.wave.status;
    let attempt = wave_write.wave.attempt;
    let rerun = rerun(&wave_write.wave);
    let header = header_write(
        &execution.header,
        transition,
        ExecutionStatus::Polling,
        leave_pause,
    )?;
    let written = after_write(&execution, &header);
    store
        .commit(&Commit {
            execution_id: execution.id(),
            header: Some(header),
            waves: vec![wave_write],
            events: vec![],
        })
        .await?;
    // A token the workflow no longer takes is not an error here: the decision is recorded, and
    // the workflow re-reads the record when its wait ends.
    let released = release_pending_token(store, workflow, &written, decision.name()).await?;
    Ok(DecisionResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: ExecutionStatus::Polling,
        wave_number: number,
        wave_status,
        attempt,
        action: rerun.clone().map(|(a, _)| a),
        action_attempt: rerun.map(|(_, n)| n),
        workflow_released: released == Released::Workflow,
    })
}

/// The failed action a retried wave runs again, and the attempt it runs as (none when the wave
/// failed for another reason, or has been skipped).
fn rerun(wave: &Wave) -> Option<(String, u32)> {
    if !matches!(wave.status, WaveStatus::Pending | WaveStatus::Completed) {
        return None;
    }
    wave.failed_action()
        .map(|(action, run)| (action.name.clone(), run.attempt + 1))
}

/// The failed wave's next attempt: LAUNCHING with no job yet, for the servers that did not launch
/// (their DRS fields are those of a server not launched yet); the timeout runs from now, the
/// recovery time still from the first attempt.
fn next_attempt(wave: &Wave, at: crate::model::Timestamp) -> Result<WaveWrite, Failure> {
    Ok(wave_write(
        wave,
        WaveTransition::Retry,
        WaveStatus::Launching,
        |w| {
            w.attempt = w.attempt.max(1) + 1;
            w.attempt_time = Some(at);
            w.end_time = None;
            w.failure_reason = None;
            w.status_message = None;
            w.claim = None;
            w.next_launch_time = None;
            w.last_launch_error = None;
            w.recovery_time_seconds = None;
            w.optional_not_launched = 0;
            // A server its earlier job still launches keeps that job (poll follows it): starting
            // it again would race its own recovery instance. The others start over.
            for server in w.server_statuses.iter_mut().filter(|s| {
                s.launch_status != LaunchStatus::Launched
                    && (s.job_id.is_none() || s.launch_status.is_settled())
            }) {
                *server = crate::model::ServerStatus {
                    impact: server.impact,
                    ..crate::model::ServerStatus::new(
                        server.source_server_id.clone(),
                        server.server_name.clone(),
                    )
                };
            }
        },
    )?)
}

/// A wave failed by an action: back to where the action ran (PENDING before the launch, COMPLETED
/// after it), so that act runs the failed action again as its next attempt. At most
/// `maxWaveAttempts` runs of one action.
fn rerun_action(wave: &Wave, policy: &Policy) -> Result<WaveWrite, Failure> {
    let Some((action, run)) = wave.failed_action() else {
        return Err(OperationError::Internal(format!(
            "wave {} failed by an action, but no action's run failed",
            wave.wave_number
        ))
        .into());
    };
    if !crate::rules::retry_left(wave, policy) {
        return Err(Refusal::ActionRunsExhausted {
            wave: wave.wave_number,
            action: action.name.clone(),
            runs: run.attempt,
            max: policy
                .max_wave_attempts
                .min(crate::actions::MAX_RUNS_PER_ACTION),
        }
        .into());
    }
    let to = action.when.wave_status();
    Ok(wave_write(wave, WaveTransition::Retry, to, |w| {
        w.failure_reason = None;
        w.status_message = (w.optional_not_launched > 0).then(|| {
            format!(
                "{} optional servers did not launch",
                w.optional_not_launched
            )
        });
        if to == WaveStatus::Pending {
            w.end_time = None;
        }
    })?)
}

/// What the execution waits for, for a refusal's message.
fn waiting_for(execution: &Execution) -> String {
    let status = execution.status();
    if let Some(w) = execution.in_flight().next() {
        return format!(
            "the execution is {status} with wave {} {}; no wave waits on a decision",
            w.wave_number, w.status
        );
    }
    if let Some(failed) = awaiting_decision(execution) {
        return format!(
            "the execution waits on a decision about wave {} (FAILED), not this one",
            failed.wave_number
        );
    }
    match execution.pause_reason() {
        Some(reason) => format!(
            "the execution is PAUSED ({}); resume goes on, and no wave waits on a decision",
            serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
        None => format!("the execution is {status}; no wave waits on a decision"),
    }
}
