//! Healing: an active execution whose workflow run has ended (failed, timed out, aborted) gets a
//! new run that carries on from the record as it stands. find does it for the executions whose run
//! has not polled for a while ([`stale`]); `drctl restart` does it by hand ([`restart`]).

use crate::api::{PollInterval, Target, WorkflowInput};
use crate::error::{OperationError, Refusal};
use crate::lifecycle::annotate;
use crate::model::{Execution, Timestamp};
use crate::ports::{
    now, ActiveExecution, Clock, ExecutionStore, RunRef, RunState, Touch, Workflow, WorkflowMark,
};

use super::{commit_header, load_target, with_retries, Failure};

/// A run that has not polled for this long is asked about (DescribeExecution): two missed polls
/// at the default 30 s, and more than a launch's or a finalize's retries take.
pub const STALE_AFTER_SECS: i64 = 120;
/// The state machine's pause task heartbeat (`HeartbeatSeconds`): a paused run polls again this
/// often, so that find notices a paused execution whose run has ended within five minutes.
pub const PAUSE_HEARTBEAT_SECS: i64 = 120;
/// The same as [`STALE_AFTER_SECS`] for a PAUSED execution, whose run waits at its pause task for
/// up to [`PAUSE_HEARTBEAT_SECS`] without polling.
pub const PAUSED_STALE_AFTER_SECS: i64 = PAUSE_HEARTBEAT_SECS + STALE_AFTER_SECS;
/// At most this many runs are asked about per find (the oldest silent first): DescribeExecution's
/// quota is shared, and the next tick takes the rest.
pub const MAX_CHECKS_PER_FIND: usize = 100;
/// Restarts per execution per hour, find's and an operator's alike; past that, find leaves the
/// execution to an operator.
pub const MAX_RESTARTS_PER_HOUR: usize = 3;
const HOUR_SECS: i64 = 3600;

/// Who restarts a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestartBy {
    /// find's healing: limited to [`MAX_RESTARTS_PER_HOUR`].
    Find,
    /// `drctl restart`: the operator decides, so no limit applies (the restart is recorded).
    Operator,
}

/// What a restart did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restarted {
    /// A new run carries the execution on.
    Run { run: String, name: String },
    /// The run had ended but the execution was restarted [`MAX_RESTARTS_PER_HOUR`] times in the
    /// last hour: the record says an operator is needed, and find restarts it no more.
    OperatorNeeded,
}

/// Whether find should ask the workflow about this execution's run: its run has not polled for
/// a while, or no run has polled it for that long since it was created (the window between
/// creating a record and starting its first run is not a silence).
pub fn stale(e: &ActiveExecution, at: Timestamp) -> bool {
    let after = match e.status {
        crate::status::ExecutionStatus::Paused => PAUSED_STALE_AFTER_SECS,
        _ => STALE_AFTER_SECS,
    };
    let heard = e.workflow_polled_time.unwrap_or(e.created_time);
    at.0.saturating_sub(heard.0) >= after
}

/// The run the record names, or the first run of the execution when none has named itself.
pub fn run_of(execution_id: crate::ids::ExecutionId, run: Option<&str>) -> RunRef {
    match run {
        Some(run) => RunRef::Id(run.to_owned()),
        None => RunRef::FirstOf(execution_id),
    }
}

/// Handovers followed at most, from the recorded run to the one that conducts the execution now.
const MAX_HANDOVERS_FOLLOWED: usize = 5;

/// Where the run that conducts the execution stands, starting from `run`: a run that SUCCEEDED
/// while the execution is unfinished has handed over (the definition's only such end), so the run
/// it started, `{runPrefix}-r{run + 1}`, is asked about in its place (its first poll may not have
/// named it on the record yet). Answers that run and its state.
async fn conductor(
    workflow: &dyn Workflow,
    execution_id: crate::ids::ExecutionId,
    mut run: RunRef,
) -> Result<(RunRef, RunState), OperationError> {
    for _ in 0..MAX_HANDOVERS_FOLLOWED {
        let state = workflow.run_state(&run).await.map_err(workflow_error)?;
        match &state {
            RunState::Ended {
                status,
                run: number,
                run_prefix,
                ..
            } if status == "SUCCEEDED" => {
                let prefix = run_prefix
                    .clone()
                    .unwrap_or_else(|| execution_id.to_string());
                run = RunRef::Named(format!("{prefix}-r{}", number.unwrap_or(0) + 1));
            }
            _ => return Ok((run, state)),
        }
    }
    let state = workflow.run_state(&run).await.map_err(workflow_error)?;
    Ok((run, state))
}

fn run_name(run: RunRef) -> String {
    match run {
        RunRef::Id(id) | RunRef::Named(id) => id,
        RunRef::FirstOf(id) => id.to_string(),
    }
}

/// The operator's note once find has restarted an execution as often as it may.
pub fn operator_needed_message(status: &str) -> String {
    format!(
        "the workflow run ended ({status}) and was restarted {MAX_RESTARTS_PER_HOUR} times in the last hour{OPERATOR_NEEDED}read the run's history, then `drctl restart`)"
    )
}

const OPERATOR_NEEDED: &str = ": an operator is needed (";

/// Whether `message` is [`operator_needed_message`]'s: find has given the execution up.
pub fn says_operator_needed(message: &str) -> bool {
    message.starts_with("the workflow run ended (") && message.contains(OPERATOR_NEEDED)
}

/// Starts a new run for the execution `target` when its run has ended: the restart is recorded on
/// the header (`restarts`, `statusMessage`) before the run is started, and the new run is named
/// on the record (`workflowRun`) once started. Refused for a finished execution and while the run
/// is still running.
pub async fn restart(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    target: &Target,
    by: RestartBy,
) -> Result<Restarted, OperationError> {
    let execution = with_retries("restart", || async { load_target(store, target).await }).await?;
    if execution.status().is_terminal() {
        return Err(Refusal::Finished {
            status: execution.status(),
            verb: "restarted",
        }
        .into());
    }
    let run = run_of(execution.id(), execution.header.workflow_run.as_deref());
    let (run, state) = conductor(workflow, execution.id(), run).await?;
    let (status, interval) = match state {
        RunState::Running => return Err(Refusal::RunStillRunning { run: run_name(run) }.into()),
        RunState::Ended {
            status,
            poll_interval_seconds,
            ..
        } => (status, poll_interval_seconds),
        RunState::Missing => ("NOT_FOUND".to_owned(), None),
    };
    let at = now(clock);
    let name = format!("{}-h{}", execution.id(), at.0);
    let recorded =
        with_retries("restart", || record(store, target, at, &status, &name, by)).await?;
    if !recorded {
        return Ok(Restarted::OperatorNeeded);
    }
    let input = WorkflowInput {
        execution_id: execution.id(),
        plan_id: execution.header.plan_id,
        poll_interval_seconds: interval.and_then(|s| PollInterval::new(s).ok()),
        run_prefix: Some(name.clone()),
    };
    let started = workflow
        .start_run(&input, &name)
        .await
        .map_err(workflow_error)?;
    store
        .touch(
            execution.id(),
            &Touch {
                polled_at: None,
                workflow: Some(WorkflowMark::started(started.clone(), at)),
            },
        )
        .await?;
    tracing::warn!(execution_id = %execution.id(), run = %started, ended = %status, "workflow restarted");
    Ok(Restarted::Run { run: started, name })
}

/// Records the restart on the header (the last hour's restarts and a note), or, for find past
/// its limit, that an operator is needed (then `false`). Re-read on every attempt: a lost race
/// decides again on the fresh record.
async fn record(
    store: &dyn ExecutionStore,
    target: &Target,
    at: Timestamp,
    status: &str,
    name: &str,
    by: RestartBy,
) -> Result<bool, Failure> {
    let execution = load_target(store, target).await?;
    if execution.status().is_terminal() {
        return Err(Refusal::Finished {
            status: execution.status(),
            verb: "restarted",
        }
        .into());
    }
    let recent = recent_restarts(&execution, at);
    if by == RestartBy::Find && recent.len() >= MAX_RESTARTS_PER_HOUR {
        let message = operator_needed_message(status);
        if execution.header.status_message.as_deref() != Some(message.as_str())
            || execution.header.restarts != recent
        {
            let write = annotate(&execution.header, |h| {
                h.restarts = recent.clone();
                h.status_message = Some(message.clone());
            })?;
            commit_header(store, &execution, write).await?;
        }
        return Ok(false);
    }
    let write = annotate(&execution.header, |h| {
        h.restarts = recent.iter().copied().chain([at]).collect();
        h.status_message = Some(format!(
            "the workflow run ended ({status}); restarted by {} as {name}",
            match by {
                RestartBy::Find => "find",
                RestartBy::Operator => "an operator",
            }
        ));
    })?;
    commit_header(store, &execution, write).await?;
    Ok(true)
}

/// The restarts of the last hour, oldest first.
fn recent_restarts(execution: &Execution, at: Timestamp) -> Vec<Timestamp> {
    execution
        .header
        .restarts
        .iter()
        .copied()
        .filter(|t| at.0.saturating_sub(t.0) < HOUR_SECS)
        .collect()
}

fn workflow_error(e: crate::ports::WorkflowError) -> OperationError {
    OperationError::Internal(format!("Step Functions: {e}"))
}

/// find's healing of one listed execution whose run has not polled for a while ([`stale`]): the
/// run the index names is asked about (a live one costs that one call, and no read of the record);
/// when it has ended, [`restart`] reads the record, asks again about the run it names, and starts
/// a new run. `Ok(None)`: the run is alive (or the execution has finished, or another writer
/// acted first).
pub async fn heal(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    e: &ActiveExecution,
) -> Result<Option<Restarted>, OperationError> {
    let run = run_of(e.execution_id, e.workflow_run.as_deref());
    if let (_, RunState::Running) = conductor(workflow, e.execution_id, run).await? {
        return Ok(None);
    }
    let target = Target {
        execution_id: e.execution_id,
        plan_id: e.plan_id,
    };
    match restart(store, workflow, clock, &target, RestartBy::Find).await {
        Ok(done) => Ok(Some(done)),
        Err(OperationError::InvalidState(
            Refusal::Finished { .. } | Refusal::RunStillRunning { .. },
        )) => Ok(None),
        Err(other) => Err(other),
    }
}
