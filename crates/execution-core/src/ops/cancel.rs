use super::token::{release_pending_token, Released};
use super::{after_write, load_target, with_retries, Failure};
use crate::api::{CancelResponse, Target, OK};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::{self, header_write, Transition};
use crate::ports::{Commit, ExecutionStore, Workflow};
use crate::status::ExecutionStatus;

/// cancel: PENDING/POLLING/PAUSED → CANCELLING. No new wave is launched; the wave in flight settles
/// and finalize writes CANCELLED. A held token is released so a paused workflow moves on.
pub async fn cancel(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    target: &Target,
) -> Result<CancelResponse, OperationError> {
    with_retries("cancel", || attempt(store, workflow, target)).await
}

async fn attempt(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    target: &Target,
) -> Result<CancelResponse, Failure> {
    let execution = load_target(store, target).await?;
    let status = execution.status();
    if status == ExecutionStatus::Cancelling {
        // Idempotent; finish a release a crashed cancel left pending.
        let released = release_pending_token(store, workflow, &execution, "cancel").await?;
        return Ok(CancelResponse {
            status_code: OK,
            execution_id: execution.id(),
            status,
            workflow_released: released == Released::Workflow,
        });
    }
    if !lifecycle::allowed_from(Transition::Cancel, status) {
        return Err(Refusal::CannotCancel { status }.into());
    }
    let header_write = header_write(
        &execution.header,
        Transition::Cancel,
        ExecutionStatus::Cancelling,
        |h| {
            h.paused_before_wave = None;
            h.pause_reason = None;
            h.failed_wave = None;
            if let Some(held) = h.task_token.as_mut() {
                held.release_pending = true;
            }
        },
    )?;
    let written = after_write(&execution, &header_write);
    let commit = Commit {
        execution_id: execution.id(),
        header: Some(header_write),
        waves: vec![],
        events: vec![],
    };
    store.commit(&commit).await?;

    // A dead token is not an error here: the workflow re-reads the record when its wait ends.
    let released = release_pending_token(store, workflow, &written, "cancel").await?;
    Ok(CancelResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: ExecutionStatus::Cancelling,
        workflow_released: released == Released::Workflow,
    })
}
