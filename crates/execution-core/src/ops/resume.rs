use super::token::{leave_pause, release_pending_token, Released};
use super::{after_write, load_target, with_retries, Failure};
use crate::api::{ResumeResponse, Target, OK};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::{header_write, wave_write, Transition, WaveTransition};
use crate::model::PauseReason;
use crate::ports::{Commit, ExecutionStore, Workflow};
use crate::status::{ExecutionStatus, WaveStatus};

/// resume: PAUSED (PLANNED or OPERATOR) → POLLING, approving the planned pause it stood at (an
/// operator's pause approves nothing: a planned pause after it still stands), then releasing the
/// workflow's token if one is held. The record is written first (token marked for release), the
/// token completed second and cleared third, so a crash anywhere is finished by the next resume.
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

    // A resume (or cancel) that died after its write: finish its release, then answer for the
    // execution as it stands.
    if execution
        .header
        .task_token
        .as_ref()
        .is_some_and(|t| t.release_pending)
    {
        let released = release_pending_token(store, workflow, &execution, "resume").await?;
        return match status {
            // The crashed resume's own answer.
            ExecutionStatus::Polling => Ok(ResumeResponse {
                status_code: OK,
                execution_id: execution.id(),
                status,
                resumed_before_wave: None,
                workflow_released: released == Released::Workflow,
            }),
            // A pause came in between: this resume is for it; decide again on the fresh record.
            ExecutionStatus::Paused => Err(Failure::Lost),
            _ => Err(Refusal::NotPaused { status }.into()),
        };
    }

    let reason = execution.pause_reason();
    if reason.is_none() {
        return Err(Refusal::NotPaused { status }.into());
    }
    // A failed wave waits on a decision, whatever the pause's stored reason (an operator's pause
    // may have come first): resume does not make it.
    let failed = crate::rules::awaiting_decision(&execution).map(|w| w.wave_number);
    if let Some(wave) = failed.or(execution
        .header
        .failed_wave
        .filter(|_| reason == Some(PauseReason::WaveFailed)))
    {
        return Err(Refusal::WaitsForDecision { wave }.into());
    }
    let before = execution
        .header
        .paused_before_wave
        .or_else(|| execution.next_pending().map(|w| w.wave_number));
    let header_write = header_write(
        &execution.header,
        Transition::Resume,
        ExecutionStatus::Polling,
        leave_pause,
    )?;
    // Only the planned pause the execution stood at is approved.
    let approve = before
        .filter(|_| reason == Some(PauseReason::Planned))
        .and_then(|n| execution.wave(n))
        .filter(|w| w.status == WaveStatus::Pending && !w.pause_approved)
        .map(|w| {
            wave_write(w, WaveTransition::Approve, WaveStatus::Pending, |w| {
                w.pause_approved = true;
            })
        })
        .transpose()?;
    let written = after_write(&execution, &header_write);
    let commit = Commit {
        execution_id: execution.id(),
        header: Some(header_write),
        waves: approve.into_iter().collect(),
        events: vec![],
    };
    store.commit(&commit).await?;

    // A token the workflow no longer accepts (its pause wait timed out at the heartbeat, and the
    // run is polling again) does not undo the resume: the record is POLLING, and the run goes on
    // from it at its next poll. The answer says the workflow was not released; the record's
    // statusMessage says why.
    let released = release_pending_token(store, workflow, &written, "resume").await?;
    Ok(ResumeResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: ExecutionStatus::Polling,
        resumed_before_wave: before,
        workflow_released: released == Released::Workflow,
    })
}
