use serde_json::json;

use super::{commit_header, load_target, with_retries, Failure};
use crate::api::{PauseRequest, PauseResponse, OK};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::{header_write, Transition};
use crate::model::{Execution, HeldToken, PauseReason};
use crate::ports::{ExecutionStore, Workflow};
use crate::rules::{pause_due, PauseDue};
use crate::status::ExecutionStatus;

/// pause. Without a token (an operator): POLLING → PAUSED (`OPERATOR`) before the next PENDING
/// wave; the wave in flight runs on. With a token (the workflow, when nextAction is PAUSE): hold
/// the token and stand PAUSED with the reason that is due (`WAVE_FAILED` before `OPERATOR` before
/// `PLANNED`), unless the pause is moot (already resumed, retried, skipped, cancelled): then
/// complete the token at once.
pub async fn pause(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    request: &PauseRequest,
) -> Result<PauseResponse, OperationError> {
    with_retries("pause", || attempt(store, workflow, request)).await
}

async fn attempt(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    request: &PauseRequest,
) -> Result<PauseResponse, Failure> {
    let execution = load_target(store, &request.target).await?;
    let status = execution.status();
    if status.is_terminal() {
        return Err(Refusal::Finished {
            status,
            verb: "paused",
        }
        .into());
    }
    let Some(token) = &request.task_token else {
        return operator_pause(store, &execution).await;
    };
    let Some(due) = pause_due(&execution) else {
        // The operator decided (resumed, retried, skipped, cancelled) before the workflow's token
        // arrived: let the workflow go on at once rather than wait for a decision already made.
        let output =
            json!({"executionId": execution.id(), "status": status, "releasedBy": "pause"});
        workflow
            .send_task_success(token, &output)
            .await
            .map_err(OperationError::from)?;
        return Ok(answer(&execution, status, None));
    };
    let write = header_write(
        &execution.header,
        Transition::Pause,
        ExecutionStatus::Paused,
        |h| {
            h.paused_before_wave = due.before_wave;
            h.pause_reason = Some(due.reason);
            h.failed_wave = due.failed_wave;
            h.task_token = Some(HeldToken {
                token: token.clone(),
                release_pending: false,
            });
        },
    )?;
    commit_header(store, &execution, write).await?;
    Ok(answer(&execution, ExecutionStatus::Paused, Some(due)))
}

async fn operator_pause(
    store: &dyn ExecutionStore,
    execution: &Execution,
) -> Result<PauseResponse, Failure> {
    let status = execution.status();
    if status == ExecutionStatus::Paused {
        // Idempotent: a repeated pause changes nothing.
        return Ok(answer(execution, status, pause_due(execution)));
    }
    if status != ExecutionStatus::Polling {
        return Err(Refusal::CannotPause { status }.into());
    }
    let next = execution
        .next_pending()
        .ok_or(Refusal::NothingToPauseBefore)?
        .wave_number;
    let write = header_write(
        &execution.header,
        Transition::Pause,
        ExecutionStatus::Paused,
        |h| {
            h.paused_before_wave = Some(next);
            h.pause_reason = Some(PauseReason::Operator);
            h.failed_wave = None;
        },
    )?;
    commit_header(store, execution, write).await?;
    Ok(answer(
        execution,
        ExecutionStatus::Paused,
        Some(PauseDue {
            reason: PauseReason::Operator,
            before_wave: Some(next),
            failed_wave: None,
        }),
    ))
}

fn answer(execution: &Execution, status: ExecutionStatus, due: Option<PauseDue>) -> PauseResponse {
    PauseResponse {
        status_code: OK,
        execution_id: execution.id(),
        status,
        paused_before_wave: due.and_then(|d| d.before_wave),
        pause_reason: due.map(|d| d.reason),
        failed_wave: due.and_then(|d| d.failed_wave),
    }
}
