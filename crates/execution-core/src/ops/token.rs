//! Releasing a held task token: shared by resume and cancel, and safe to repeat after a crash.

use serde_json::json;

use super::{Failure, MAX_ATTEMPTS};
use crate::error::OperationError;
use crate::ids::TaskToken;
use crate::lifecycle::annotate;
use crate::model::Execution;
use crate::ports::{Commit, ExecutionStore, StoreError, Workflow, WorkflowError};

/// The header edit of every decision that ends a pause (resume, retry, skip): the pause's fields
/// go, and a held token is marked for release, so the write comes before the release.
pub(crate) fn leave_pause(h: &mut crate::model::ExecutionHeader) {
    h.paused_before_wave = None;
    h.pause_reason = None;
    h.failed_wave = None;
    h.status_message = None;
    if let Some(held) = h.task_token.as_mut() {
        held.release_pending = true;
    }
}

/// What became of a token whose release was pending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Released {
    /// No token was waiting for release.
    Nothing,
    /// SendTaskSuccess was accepted: the workflow moves on.
    Workflow,
    /// The workflow no longer accepted the token (its wait ended); the record now says so.
    Rejected(String),
}

/// Completes the token of `execution` if its release is pending, then clears it from the record.
/// The caller wrote `release_pending` before calling, and the token is cleared only after the
/// call, so a crash at any point leaves a pending release that the next resume or cancel finishes.
pub(crate) async fn release_pending_token(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    execution: &Execution,
    why: &str,
) -> Result<Released, Failure> {
    let Some(held) = execution
        .header
        .task_token
        .as_ref()
        .filter(|t| t.release_pending)
    else {
        return Ok(Released::Nothing);
    };
    let output =
        json!({"executionId": execution.id(), "status": execution.status(), "releasedBy": why});
    let outcome = match workflow.send_task_success(&held.token, &output).await {
        Ok(()) => Released::Workflow,
        Err(
            e @ (WorkflowError::TaskTimedOut
            | WorkflowError::InvalidToken
            | WorkflowError::TaskDoesNotExist),
        ) => Released::Rejected(e.to_string()),
        // Not known whether the workflow got it: keep the release pending for a retry.
        Err(WorkflowError::Service(e)) => {
            return Err(OperationError::Internal(format!("Step Functions: {e}")).into())
        }
    };
    let note = match &outcome {
        Released::Rejected(reason) => Some(format!(
            "{why}: the workflow no longer accepted its task token ({reason}); the record is {} and the workflow re-reads it when its wait ends",
            execution.status()
        )),
        _ => None,
    };
    clear_token(store, execution, &held.token, note).await?;
    Ok(outcome)
}

/// Removes `token` from the record (re-reading after lost races, never sending again).
async fn clear_token(
    store: &dyn ExecutionStore,
    first_read: &Execution,
    token: &TaskToken,
    note: Option<String>,
) -> Result<(), Failure> {
    let mut current = first_read.clone();
    for _ in 0..MAX_ATTEMPTS {
        if current.header.task_token.as_ref().map(|t| &t.token) != Some(token) {
            return Ok(()); // someone else cleared or replaced it
        }
        let write = annotate(&current.header, |h| {
            h.task_token = None;
            if note.is_some() {
                h.status_message.clone_from(&note);
            }
        })?;
        let commit = Commit {
            execution_id: current.id(),
            header: Some(write),
            waves: vec![],
            events: vec![],
        };
        match store.commit(&commit).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict) => match store.load(current.id()).await? {
                Some(e) => current = e,
                None => return Ok(()),
            },
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::Lost)
}
