use serde_json::json;

use super::{load_target, put_header, with_retries, Failure};
use crate::api::{PauseRequest, PauseResponse, OK};
use crate::error::OperationError;
use crate::lifecycle::{self, Transition};
use crate::model::{Execution, HeldToken};
use crate::ports::{now, Clock, Commit, ExecutionStore, Workflow};
use crate::rules::{next_action, NextAction, Policy};
use crate::status::ExecutionStatus;

/// pause. Without a token (an operator): POLLING → PAUSED before the next PENDING wave; the wave in
/// flight runs on. With a token (the workflow at a wave boundary): hold the token and stand PAUSED,
/// unless the pause is moot (already resumed, cancelled): then complete the token at once.
pub async fn pause(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    policy: &Policy,
    request: &PauseRequest,
) -> Result<PauseResponse, OperationError> {
    with_retries("pause", || attempt(store, workflow, clock, policy, request)).await
}

async fn attempt(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    policy: &Policy,
    request: &PauseRequest,
) -> Result<PauseResponse, Failure> {
    let execution = load_target(store, &request.target).await?;
    let status = execution.status();
    if status.is_terminal() {
        return Err(OperationError::InvalidState(format!(
            "execution is {status}; a finished execution cannot be paused"
        ))
        .into());
    }
    match &request.task_token {
        None => operator_pause(store, &execution).await,
        Some(token) => {
            if next_action(&execution, now(clock), policy) != NextAction::Pause {
                // The operator resumed (or cancelled) before the workflow's token arrived: let the
                // workflow go on at once rather than wait for a resume that already happened.
                let output =
                    json!({"executionId": execution.id(), "status": status, "releasedBy": "pause"});
                workflow
                    .send_task_success(token, &output)
                    .await
                    .map_err(OperationError::from)?;
                return Ok(answer(&execution, status, None));
            }
            let before = execution.next_pending().map(|w| w.wave_number);
            lifecycle::check(Transition::Pause, status, ExecutionStatus::Paused)?;
            let mut header = execution.header.clone();
            header.status = ExecutionStatus::Paused;
            header.paused_before_wave = before;
            header.task_token = Some(HeldToken {
                token: token.clone(),
                release_pending: false,
            });
            commit_header(store, &execution, header).await?;
            Ok(answer(&execution, ExecutionStatus::Paused, before))
        }
    }
}

async fn operator_pause(
    store: &dyn ExecutionStore,
    execution: &Execution,
) -> Result<PauseResponse, Failure> {
    let status = execution.status();
    if status == ExecutionStatus::Paused {
        // Idempotent: a repeated pause changes nothing.
        return Ok(answer(
            execution,
            status,
            execution.header.paused_before_wave,
        ));
    }
    if status != ExecutionStatus::Polling {
        return Err(OperationError::InvalidState(format!(
            "execution is {status}; only a POLLING execution can be paused"
        ))
        .into());
    }
    let Some(next) = execution.next_pending() else {
        return Err(OperationError::InvalidState("no wave is left to pause before".into()).into());
    };
    lifecycle::check(Transition::Pause, status, ExecutionStatus::Paused)?;
    let mut header = execution.header.clone();
    header.status = ExecutionStatus::Paused;
    header.paused_before_wave = Some(next.wave_number);
    commit_header(store, execution, header).await?;
    Ok(answer(
        execution,
        ExecutionStatus::Paused,
        Some(next.wave_number),
    ))
}

async fn commit_header(
    store: &dyn ExecutionStore,
    execution: &Execution,
    header: crate::model::ExecutionHeader,
) -> Result<(), Failure> {
    let commit = Commit {
        execution_id: execution.id(),
        header: Some(put_header(&execution.header, header)),
        waves: vec![],
    };
    Ok(store.commit(&commit).await?)
}

fn answer(
    execution: &Execution,
    status: ExecutionStatus,
    paused_before_wave: Option<u32>,
) -> PauseResponse {
    PauseResponse {
        status_code: OK,
        execution_id: execution.id(),
        status,
        paused_before_wave,
    }
}
