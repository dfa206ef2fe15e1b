use super::{describe_waves, load_target, put_header, put_wave, with_retries, Failure};
use crate::api::{FinalizeResponse, Target, OK};
use crate::error::OperationError;
use crate::lifecycle::{self, Transition};
use crate::model::Execution;
use crate::ports::{now, Clock, Commit, ExecutionStore};
use crate::rules::outcome;
use crate::status::{ExecutionStatus, WaveStatus};

/// finalize: the only writer of a terminal status. Idempotent (a terminal execution answers
/// `alreadyFinalized: true` and nothing is written); the terminal write is conditional on the
/// header's version, so two finalizes at once write once.
pub async fn finalize(
    store: &dyn ExecutionStore,
    clock: &dyn Clock,
    target: &Target,
) -> Result<FinalizeResponse, OperationError> {
    with_retries("finalize", || attempt(store, clock, target)).await
}

async fn attempt(
    store: &dyn ExecutionStore,
    clock: &dyn Clock,
    target: &Target,
) -> Result<FinalizeResponse, Failure> {
    let execution = load_target(store, target).await?;
    let from = execution.status();
    if from.is_terminal() {
        return Ok(answer(
            &execution,
            from,
            true,
            execution.header.recovery_time_seconds,
        ));
    }
    let to = outcome(&execution).map_err(|unfinished| {
        OperationError::InvalidState(format!(
            "cannot finalize: not every wave is finished: {}",
            describe_waves(&execution, &unfinished)
        ))
    })?;
    lifecycle::check(Transition::Finalize, from, to)?;
    let at = now(clock);

    let mut header = execution.header.clone();
    header.status = to;
    header.end_time = Some(at);
    header.paused_before_wave = None;
    // The workflow cannot be waiting at a pause while it finalizes; a token left here is dead.
    header.task_token = None;
    header.recovery_time_seconds = (to == ExecutionStatus::Completed)
        .then(|| recovery_time(&execution))
        .flatten();
    // Waves that never ran end CANCELLED.
    let never_ran = execution
        .waves
        .iter()
        .filter(|w| w.status == WaveStatus::Pending)
        .map(|w| {
            let mut cancelled = w.clone();
            cancelled.status = WaveStatus::Cancelled;
            cancelled.end_time = Some(at);
            put_wave(w, cancelled)
        });
    let commit = Commit {
        execution_id: execution.id(),
        header: Some(put_header(&execution.header, header.clone())),
        waves: never_ran.collect(),
    };
    store.commit(&commit).await?;
    Ok(answer(&execution, to, false, header.recovery_time_seconds))
}

/// First wave launched → last wave settled.
fn recovery_time(execution: &Execution) -> Option<u64> {
    let first = execution.waves.iter().filter_map(|w| w.launch_time).min()?;
    let last = execution.waves.iter().filter_map(|w| w.end_time).max()?;
    Some(last.secs_since(first))
}

fn answer(
    execution: &Execution,
    status: ExecutionStatus,
    already_finalized: bool,
    recovery_time_seconds: Option<u64>,
) -> FinalizeResponse {
    FinalizeResponse {
        status_code: OK,
        execution_id: execution.id(),
        status,
        total_waves: execution.waves.len(),
        already_finalized,
        recovery_time_seconds,
    }
}
