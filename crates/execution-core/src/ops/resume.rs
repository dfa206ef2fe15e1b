use super::token::{release_pending_token, Released};
use super::{after_write, load_target, put_header, put_wave, with_retries, Failure};
use crate::api::{ResumeResponse, Target, OK};
use crate::error::OperationError;
use crate::lifecycle::{self, Transition};
use crate::ports::{Commit, ExecutionStore, Workflow};
use crate::status::ExecutionStatus;

/// resume: PAUSED → POLLING, approving the wave it paused before, then releasing the workflow's
/// token if one is held. The record is written first (token marked for release), the token
/// completed second and cleared third, so a crash anywhere is finished by the next resume.
pub async fn resume(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    target: &Target,
) -> Result<ResumeResponse, OperationError> {
    with_retries("resume", || attempt(store, workflow, target)).await
}

async fn attempt(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    target: &Target,
) -> Result<ResumeResponse, Failure> {
    let execution = load_target(store, target).await?;
    let status = execution.status();

    // A resume (or cancel) that died after its write: finish its release.
    if execution
        .header
        .task_token
        .as_ref()
        .is_some_and(|t| t.release_pending)
    {
        let released = release_pending_token(store, workflow, &execution, "resume").await?;
        return Ok(ResumeResponse {
            status_code: OK,
            execution_id: execution.id(),
            status,
            resumed_before_wave: None,
            workflow_released: released == Released::Workflow,
        });
    }

    if status != ExecutionStatus::Paused {
        return Err(OperationError::InvalidState(format!(
            "execution is {status}; only a PAUSED execution can be resumed"
        ))
        .into());
    }
    lifecycle::check(Transition::Resume, status, ExecutionStatus::Polling)?;
    let before = execution
        .header
        .paused_before_wave
        .or_else(|| execution.next_pending().map(|w| w.wave_number));

    let mut header = execution.header.clone();
    header.status = ExecutionStatus::Polling;
    header.paused_before_wave = None;
    header.status_message = None;
    if let Some(held) = header.task_token.as_mut() {
        held.release_pending = true;
    }
    let approve = before
        .and_then(|n| execution.wave(n))
        .filter(|w| !w.pause_approved)
        .map(|w| {
            let mut approved = w.clone();
            approved.pause_approved = true;
            put_wave(w, approved)
        });
    let header_write = put_header(&execution.header, header);
    let written = after_write(&execution, &header_write);
    let commit = Commit {
        execution_id: execution.id(),
        header: Some(header_write),
        waves: approve.into_iter().collect(),
    };
    store.commit(&commit).await?;

    let released = release_pending_token(store, workflow, &written, "resume").await?;
    if let Released::Rejected(reason) = released {
        return Err(OperationError::TokenRejected(format!(
            "execution resumed (POLLING), but the workflow no longer accepted its task token ({reason}); \
             the state machine picks the execution up when its pause wait ends"
        ))
        .into());
    }
    Ok(ResumeResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: ExecutionStatus::Polling,
        resumed_before_wave: before,
        workflow_released: released == Released::Workflow,
    })
}
