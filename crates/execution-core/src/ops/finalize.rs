use super::{describe_waves, load_target, with_retries, Failure};
use crate::api::{FinalizeResponse, Target, OK};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::{header_write, wave_write, Transition, WaveTransition};
use crate::model::Execution;
use crate::ports::{now, Clock, Commit, ExecutionStore, MAX_COMMIT_ITEMS};
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
    let to = outcome(&execution).map_err(|unfinished| Refusal::Unfinished {
        waves: describe_waves(&execution, &unfinished),
    })?;
    let at = now(clock);
    let recovery_time_seconds = matches!(
        to,
        ExecutionStatus::Completed | ExecutionStatus::CompletedWithErrors
    )
    .then(|| recovery_time(&execution))
    .flatten();
    let header = header_write(&execution.header, Transition::Finalize, to, |h| {
        h.end_time = Some(at);
        h.paused_before_wave = None;
        h.pause_reason = None;
        h.failed_wave = None;
        // The workflow cannot be waiting at a pause while it finalizes; a token left here is dead.
        h.task_token = None;
        h.recovery_time_seconds = recovery_time_seconds;
    })?;
    // Waves that never ran end CANCELLED.
    let mut never_ran = execution
        .waves
        .iter()
        .filter(|w| w.status == WaveStatus::Pending)
        .map(|w| {
            wave_write(w, WaveTransition::Cancel, WaveStatus::Cancelled, |w| {
                w.end_time = Some(at);
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // One transaction holds the header, its event and 98 waves. Only a cancel before any launch
    // leaves more (99 never-run waves): the waves beyond are cancelled first, on their own (a
    // CANCELLING execution's never-run waves may be CANCELLED before its end), then the next
    // attempt re-reads and writes the rest with the header.
    let room = MAX_COMMIT_ITEMS - 2;
    if never_ran.len() > room {
        let beyond = never_ran.split_off(room);
        store
            .commit(&Commit::new(execution.id(), None, beyond))
            .await?;
        return Err(Failure::Lost);
    }
    let commit = Commit {
        execution_id: execution.id(),
        header: Some(header),
        waves: never_ran,
        events: vec![],
    };
    store.commit(&commit).await?;
    Ok(answer(&execution, to, false, recovery_time_seconds))
}

/// First wave's first attempt → last wave settled.
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
        cleanup_after_seconds: execution
            .header
            .cleanup_after_seconds
            .filter(|_| execution.header.is_drill),
    }
}
