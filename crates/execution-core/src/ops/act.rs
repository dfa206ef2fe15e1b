//! act: run the wave action that is due (SPEC §11), once per attempt whatever crashes.
//!
//! act takes the action with a conditional write before it calls anyone (a RUNNING run, which
//! also moves the header's version on, so that a pause or cancel decided before it wins), then
//! invokes the Lambda function or starts the runbook, then records what came back. A crash
//! between the two writes leaves a RUNNING run behind, and what happens to it keeps the promise
//! that nothing runs twice for one attempt:
//! - a Lambda run is never invoked again: once its time and a grace are up, poll fails it (the
//!   function may or may not have run; a retry runs the action as its next attempt);
//! - a runbook start is sent again with the same client token, which SSM answers with the
//!   automation it started the first time, or starts it if it never did.
//!
//! A start refused for now (Lambda throttling, SSM's quota of running automations) started
//! nothing: the run keeps its attempt and is sent again after a backoff.

use std::time::Duration;

use super::{load_target, with_retries, Failure};
use crate::actions::{
    action_step, automation_parameters, automation_tags, client_token, judge_lambda_answer,
    lambda_input, settle_run, ActionKind, ActionRun, ActionStatus, ActionStep, RunEnd, WaveAction,
};
use crate::api::{ActResponse, Target, OK};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::{header_write, wave_write, Transition, WaveTransition};
use crate::model::{Execution, Timestamp, Wave};
use crate::ports::{
    now, AutomationRequest, AutomationRunner, Clock, Commit, ExecutionStore, FunctionInvoker,
    ServiceError,
};
use crate::rules::{next_action, NextAction, Policy};
use crate::status::ExecutionStatus;

/// The clients act calls: a function shell builds both.
#[derive(Clone, Copy)]
pub struct ActionPorts<'a> {
    pub invoker: Option<&'a dyn FunctionInvoker>,
    pub automation: Option<&'a dyn AutomationRunner>,
}

/// act: refused (400) unless `nextAction` is ACT. Takes the wave action that is due (or the run
/// that must be sent again), runs it, and records its run on the wave.
pub async fn act(
    store: &dyn ExecutionStore,
    ports: ActionPorts<'_>,
    clock: &dyn Clock,
    policy: &Policy,
    target: &Target,
) -> Result<ActResponse, OperationError> {
    match with_retries("act", || take(store, ports, clock, policy, target)).await? {
        Taken::Answered(answer) => Ok(*answer),
        Taken::Send(sent) => {
            let outcome = send(ports, clock, policy, &sent).await;
            with_retries("act", || record(store, clock, target, &sent, &outcome)).await
        }
    }
}

/// A run act has taken and must send.
struct Sent {
    execution: Execution,
    wave: u32,
    action: WaveAction,
    attempt: u32,
    /// When the run was first taken: its timeout runs from here, however often it is sent.
    started: Timestamp,
    at: Timestamp,
}

enum Taken {
    Send(Box<Sent>),
    /// Nothing to send (a cancelled execution's lost start, settled): the answer.
    Answered(Box<ActResponse>),
}

/// What came of sending the run.
enum Outcome {
    Ended(RunEnd),
    /// SSM started (or had started) the automation.
    Started(String),
    /// Refused for now; nothing ran. Send again from `retry_time`.
    Refused {
        retry_time: Timestamp,
        error: String,
    },
}

async fn take(
    store: &dyn ExecutionStore,
    ports: ActionPorts<'_>,
    clock: &dyn Clock,
    policy: &Policy,
    target: &Target,
) -> Result<Taken, Failure> {
    let execution = load_target(store, target).await?;
    let at = now(clock);
    let next = next_action(&execution, at, policy);
    let step = action_step(
        &execution,
        at,
        policy.launch_claim_grace_secs,
        policy.details_grace_secs,
        true,
    );
    let (
        Some(ActionStep::Due {
            wave: number,
            index,
            resend,
            ..
        }),
        NextAction::Act,
    ) = (step, next)
    else {
        return Err(Refusal::ActNotDue {
            next_action: next.as_str(),
            why: format!("execution is {}", execution.status()),
        }
        .into());
    };
    let wave = execution
        .wave(number)
        .ok_or(Refusal::NoSuchWave { wave: number })?;
    let action =
        wave.actions.get(index).cloned().ok_or_else(|| {
            OperationError::Internal(format!("wave {number} has no action {index}"))
        })?;
    // A missing client is a wiring mistake: refuse before anything is taken.
    match action.kind {
        ActionKind::Lambda if ports.invoker.is_none() => {
            return Err(OperationError::Internal(
                "this function was deployed without a Lambda client".into(),
            )
            .into())
        }
        ActionKind::SsmAutomation if ports.automation.is_none() => {
            return Err(OperationError::Internal(
                "this function was deployed without an SSM client".into(),
            )
            .into())
        }
        _ => {}
    }
    let (attempt, started) = match (resend, wave.running_action()) {
        (true, Some(run)) => (run.attempt, run.start_time),
        _ => (
            wave.latest_run(&action.name).map_or(1, |r| r.attempt + 1),
            at,
        ),
    };
    if resend && execution.status() == ExecutionStatus::Cancelling {
        // Cancelled while the run waits to be sent again: it is not (that could start it now);
        // the run ends failed without failing the wave, which the cancel ends.
        let error = match action.kind {
            ActionKind::Lambda => "the execution was cancelled while Lambda refused the invocation for now; it was not invoked".to_owned(),
            ActionKind::SsmAutomation => format!(
                "the execution was cancelled before SSM confirmed the start; it was not sent again (client token {})",
                client_token(&execution, number, &action.name, attempt)
            ),
        };
        let end = RunEnd::Abandoned { error };
        let answer = settle(store, &execution, number, &action, attempt, &end, at).await?;
        return Ok(Taken::Answered(Box::new(answer)));
    }
    let header = &execution.header;
    let to = match header.status {
        ExecutionStatus::Pending => ExecutionStatus::Polling,
        other => other,
    };
    let header = header_write(header, Transition::Act, to, |_| {})?;
    let name = action.name.clone();
    let when = action.when;
    // A runbook's parameters are fixed when it is first taken: a start sent again sends them.
    let sent_parameters = (action.kind == ActionKind::SsmAutomation)
        .then(|| automation_parameters(&execution, wave, &action));
    let claim = wave_write(wave, WaveTransition::Act, wave.status, |w| {
        match w
            .action_runs
            .iter_mut()
            .find(|r| resend && r.name == name && r.status == ActionStatus::Running)
        {
            Some(run) => {
                run.claimed_time = at;
                run.retry_time = None;
            }
            None => w.action_runs.push(ActionRun {
                name,
                when,
                attempt,
                status: ActionStatus::Running,
                start_time: at,
                claimed_time: at,
                end_time: None,
                automation_execution_id: None,
                retry_time: None,
                refusals: 0,
                sent_parameters,
                summary: None,
                error: None,
            }),
        }
    })?;
    let mut taken = super::after_write(&execution, &header);
    if let Some(w) = taken.waves.iter_mut().find(|w| w.wave_number == number) {
        *w = claim.wave.clone();
    }
    store
        .commit(&Commit::new(execution.id(), Some(header), vec![claim]))
        .await?;
    Ok(Taken::Send(Box::new(Sent {
        execution: taken,
        wave: number,
        action,
        attempt,
        started,
        at,
    })))
}

/// Sends the run: one invocation, or one StartAutomationExecution.
async fn send(ports: ActionPorts<'_>, clock: &dyn Clock, policy: &Policy, sent: &Sent) -> Outcome {
    let Some(wave) = sent.execution.wave(sent.wave) else {
        return Outcome::Ended(RunEnd::Failed {
            error: "the wave vanished from the record".into(),
        });
    };
    // The backoff doubles with each refusal in a row of this run (DRS's launch backoff), unless
    // the service named a time.
    let refusals = sent
        .execution
        .wave(sent.wave)
        .and_then(Wave::running_action)
        .map_or(0, |r| r.refusals)
        .saturating_add(1);
    let refused = |retry_after: Option<Duration>, message: &str| Outcome::Refused {
        retry_time: Timestamp(
            sent.at.secs().saturating_add(
                i64::try_from(policy.launch_backoff(refusals, retry_after.map(|d| d.as_secs())))
                    .unwrap_or(i64::MAX),
            ),
        ),
        error: crate::text::clip(message, crate::actions::SUMMARY_MAX_CHARS),
    };
    match sent.action.kind {
        ActionKind::Lambda => {
            let Some(invoker) = ports.invoker else {
                return Outcome::Ended(RunEnd::Failed {
                    error: "no Lambda client".into(),
                });
            };
            // The run's time is counted from its first take: a run sent again after a throttle
            // gets what is left, so poll never times out an invocation still under way.
            let left = sent
                .action
                .timeout_seconds
                .saturating_sub(sent.at.secs_since(sent.started));
            if left == 0 {
                return Outcome::Ended(RunEnd::TimedOut {
                    error: format!(
                        "not invoked within {} s: Lambda kept refusing the invocation for now",
                        sent.action.timeout_seconds
                    ),
                });
            }
            let input = lambda_input(&sent.execution, wave, &sent.action, sent.attempt);
            let payload = input.to_string().into_bytes();
            let timeout = Duration::from_secs(left);
            match invoker.invoke(&sent.action.target, &payload, timeout).await {
                Ok(answer) => Outcome::Ended(judge_lambda_answer(
                    answer.function_error.as_deref(),
                    &answer.payload,
                )),
                Err(ServiceError::Throttled {
                    retry_after,
                    message,
                }) => refused(
                    retry_after,
                    &format!("Lambda refused the invocation for now: {message}"),
                ),
                // Refused outright (no such function, access denied, a bad request): it did not
                // run, and sending it again will not help.
                Err(ServiceError::Rejected(message)) => Outcome::Ended(RunEnd::Failed {
                    error: format!("Lambda refused to invoke {}: {message}", sent.action.target),
                }),
                Err(e) => {
                    let took = now(clock).secs_since(sent.started);
                    let error = format!(
                        "the invocation failed ({e}); the function may have run, so it is not invoked again for this attempt"
                    );
                    Outcome::Ended(if took >= sent.action.timeout_seconds {
                        RunEnd::TimedOut {
                            error: format!(
                                "no answer within {} s; the function may have run, so it is not invoked again for this attempt",
                                sent.action.timeout_seconds
                            ),
                        }
                    } else {
                        RunEnd::Failed { error }
                    })
                }
            }
        }
        ActionKind::SsmAutomation => {
            let Some(automation) = ports.automation else {
                return Outcome::Ended(RunEnd::Failed {
                    error: "no SSM client".into(),
                });
            };
            let sent_before = wave
                .running_action()
                .filter(|r| r.name == sent.action.name && r.attempt == sent.attempt)
                .and_then(|r| r.sent_parameters.clone());
            let request = AutomationRequest {
                document: sent.action.target.clone(),
                parameters: sent_before
                    .unwrap_or_else(|| automation_parameters(&sent.execution, wave, &sent.action)),
                client_token: client_token(
                    &sent.execution,
                    sent.wave,
                    &sent.action.name,
                    sent.attempt,
                ),
                tags: automation_tags(&sent.execution, sent.wave, &sent.action.name, sent.attempt),
            };
            match automation.start_automation(&request).await {
                Ok(id) => Outcome::Started(id),
                // Nothing started, or the answer was lost: the same token is sent again later.
                Err(ServiceError::Throttled {
                    retry_after,
                    message,
                })
                | Err(ServiceError::Unavailable {
                    retry_after,
                    message,
                }) => refused(
                    retry_after,
                    &format!("SSM did not start the automation now: {message}"),
                ),
                Err(ServiceError::Rejected(message)) => Outcome::Ended(RunEnd::Failed {
                    error: format!("SSM refused to start {}: {message}", sent.action.target),
                }),
            }
        }
    }
}

/// Records `outcome` on the run, on the record as it stands (a poll may have written the wave, or
/// already settled the run: then it stands as poll wrote it).
async fn record(
    store: &dyn ExecutionStore,
    clock: &dyn Clock,
    target: &Target,
    sent: &Sent,
    outcome: &Outcome,
) -> Result<ActResponse, Failure> {
    let execution = load_target(store, target).await?;
    let at = now(clock);
    let wave = execution
        .wave(sent.wave)
        .ok_or(Refusal::NoSuchWave { wave: sent.wave })?;
    let running = wave.action_runs.iter().any(|r| {
        r.name == sent.action.name && r.attempt == sent.attempt && r.status == ActionStatus::Running
    });
    if !running {
        return Ok(response(&execution, wave, &sent.action, sent.attempt, at));
    }
    match outcome {
        Outcome::Ended(end) => {
            settle(
                store,
                &execution,
                sent.wave,
                &sent.action,
                sent.attempt,
                end,
                at,
            )
            .await
        }
        Outcome::Started(_) | Outcome::Refused { .. } => {
            let (name, attempt) = (sent.action.name.clone(), sent.attempt);
            let write = wave_write(wave, WaveTransition::Act, wave.status, |w| {
                let Some(run) = w
                    .action_runs
                    .iter_mut()
                    .find(|r| r.name == name && r.attempt == attempt)
                else {
                    return;
                };
                match outcome {
                    Outcome::Started(id) => {
                        run.automation_execution_id = Some(id.clone());
                        run.retry_time = None;
                        run.refusals = 0;
                        run.error = None;
                        run.sent_parameters = None;
                    }
                    Outcome::Refused { retry_time, error } => {
                        run.refusals = run.refusals.saturating_add(1);
                        run.retry_time = Some(*retry_time);
                        run.error = Some(error.clone());
                    }
                    Outcome::Ended(_) => {}
                }
            })?;
            let written = write.wave.clone();
            store
                .commit(&Commit::new(execution.id(), None, vec![write]))
                .await?;
            Ok(response(
                &execution,
                &written,
                &sent.action,
                sent.attempt,
                at,
            ))
        }
    }
}

/// Writes the end of the RUNNING run `attempt` of `action` (failing the wave when its policy says
/// so) and answers with it.
async fn settle(
    store: &dyn ExecutionStore,
    execution: &Execution,
    number: u32,
    action: &WaveAction,
    attempt: u32,
    end: &RunEnd,
    at: Timestamp,
) -> Result<ActResponse, Failure> {
    let wave = execution
        .wave(number)
        .ok_or(Refusal::NoSuchWave { wave: number })?;
    let mut settled = wave.clone();
    let Some(to) = settle_run(&mut settled, &action.name, attempt, end, at) else {
        return Ok(response(execution, wave, action, attempt, at));
    };
    let write = wave_write(wave, WaveTransition::Act, to, |w| *w = settled)?;
    let written = write.wave.clone();
    store
        .commit(&Commit::new(execution.id(), None, vec![write]))
        .await?;
    Ok(response(execution, &written, action, attempt, at))
}

fn response(
    execution: &Execution,
    wave: &Wave,
    action: &WaveAction,
    attempt: u32,
    at: Timestamp,
) -> ActResponse {
    let run = wave
        .action_runs
        .iter()
        .find(|r| r.name == action.name && r.attempt == attempt);
    ActResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: execution.status(),
        wave_number: wave.wave_number,
        wave_status: wave.status,
        action: action.name.clone(),
        when: action.when,
        kind: action.kind,
        attempt,
        action_status: run.map_or(ActionStatus::Running, |r| r.status),
        automation_execution_id: run.and_then(|r| r.automation_execution_id.clone()),
        retry_after_seconds: run.and_then(|r| r.retry_time).map(|t| t.secs_since(at)),
        error: run.and_then(|r| r.error.clone()),
    }
}
