use std::collections::HashSet;

use futures::stream::{self, StreamExt};

use crate::api::{FindResponse, FindRestart, FindResult, OK};
use crate::error::OperationError;
use crate::ports::{now, ActiveExecution, Clock, ExecutionStore, PollDispatch, Workflow};
use crate::status::ExecutionStatus;

use super::heal::{self, Restarted, MAX_CHECKS_PER_FIND};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindConfig {
    /// Polls in flight at once.
    pub concurrency: usize,
    /// Epoch milliseconds by which find must have answered (the Lambda's own deadline, less a margin).
    pub deadline_millis: i64,
    /// A poll is not started when less than this remains before the deadline.
    pub poll_budget_millis: i64,
}

impl FindConfig {
    pub const DEFAULT_CONCURRENCY: usize = 16;
}

/// find: every active execution (POLLING or CANCELLING, every page of the status index) gets one
/// poll, least recently polled first, with bounded concurrency. One failing poll never stops the
/// others; polls that would start too close to the deadline are skipped and reported, and the next
/// tick (which starts with them, as they are now the least recently polled) picks them up.
pub async fn find(
    store: &dyn ExecutionStore,
    dispatch: &dyn PollDispatch,
    clock: &dyn Clock,
    config: &FindConfig,
) -> Result<FindResponse, OperationError> {
    find_and_heal(store, dispatch, None, clock, config).await
}

/// find, then (with a workflow) healing: of the listed executions whose run has not polled for a
/// while ([`heal::stale`]), the [`MAX_CHECKS_PER_FIND`] silent the longest have their run asked
/// about, and one whose run has ended gets a new run ([`heal::heal`]), within find's deadline.
pub async fn find_and_heal(
    store: &dyn ExecutionStore,
    dispatch: &dyn PollDispatch,
    workflow: Option<&dyn Workflow>,
    clock: &dyn Clock,
    config: &FindConfig,
) -> Result<FindResponse, OperationError> {
    let listed = list_all_active(store).await?;
    // PAUSED and PENDING executions are listed for healing only: find polls the others.
    let active: Vec<ActiveExecution> = listed
        .iter()
        .filter(|e| ExecutionStatus::ACTIVE.contains(&e.status))
        .cloned()
        .collect();
    let concurrency = config.concurrency.max(1);
    // Unordered: a slow poll must not hold the slots of the quick ones behind it (ordered
    // buffering would); the answer is put back in dispatch order afterwards.
    let mut results: Vec<(usize, FindResult, Outcome)> =
        stream::iter(active.iter().cloned().enumerate())
            .map(|(i, e)| poll_one(i, e, dispatch, clock, config))
            .buffer_unordered(concurrency)
            .collect()
            .await;
    results.sort_by_key(|(i, _, _)| *i);
    let restarts = match workflow {
        Some(workflow) => heal_all(store, workflow, clock, config, &listed).await,
        None => Vec::new(),
    };
    let count = |o: Outcome| results.iter().filter(|(_, _, x)| *x == o).count();
    Ok(FindResponse {
        status_code: OK,
        executions_found: active.len(),
        executions_polled: count(Outcome::Polled),
        executions_skipped: count(Outcome::Skipped),
        results: results.into_iter().map(|(_, r, _)| r).collect(),
        executions_restarted: restarts.iter().filter(|r| r.outcome == RESTARTED).count(),
        restarts,
    })
}

const RESTARTED: &str = "RESTARTED";

/// Healing, one execution at a time (it is rare, and DescribeExecution's quota is shared). The
/// executions polled just now keep their `workflowPolledTime`: only the workflow's own polls move
/// it.
async fn heal_all(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    config: &FindConfig,
    active: &[ActiveExecution],
) -> Vec<FindRestart> {
    let at = now(clock);
    let mut silent: Vec<&ActiveExecution> = active.iter().filter(|e| heal::stale(e, at)).collect();
    silent.sort_by_key(|e| e.workflow_polled_time.unwrap_or(e.created_time));
    let mut out = Vec::new();
    for e in silent.into_iter().take(MAX_CHECKS_PER_FIND) {
        if clock.now_millis().saturating_add(config.poll_budget_millis) > config.deadline_millis {
            break;
        }
        let entry = |outcome, workflow_run, error| FindRestart {
            execution_id: e.execution_id,
            outcome,
            workflow_run,
            error,
        };
        match heal::heal(store, workflow, clock, e).await {
            Ok(None) => {}
            Ok(Some(Restarted::Run { run, .. })) => out.push(entry(RESTARTED, Some(run), None)),
            Ok(Some(Restarted::OperatorNeeded)) => out.push(entry("OPERATOR_NEEDED", None, None)),
            Err(err) => {
                tracing::warn!(execution_id = %e.execution_id, error = %err, "healing failed");
                out.push(entry("FAILED", None, Some(err.to_string())));
            }
        }
    }
    out
}

/// One execution's poll, or its skip when find's deadline is too near. A named function rather than
/// a closure's async block, and over an owned item, so that find's future (and `ops::run`'s) is
/// `Send`.
async fn poll_one(
    i: usize,
    e: ActiveExecution,
    dispatch: &dyn PollDispatch,
    clock: &dyn Clock,
    config: &FindConfig,
) -> (usize, FindResult, Outcome) {
    if clock.now_millis().saturating_add(config.poll_budget_millis) > config.deadline_millis {
        let r = FindResult {
            execution_id: e.execution_id,
            success: false,
            status: None,
            error: Some("skipped: find's deadline came first; the next tick polls it".into()),
        };
        return (i, r, Outcome::Skipped);
    }
    match dispatch.poll(e.execution_id, e.plan_id).await {
        Ok(status) => (
            i,
            FindResult {
                execution_id: e.execution_id,
                success: true,
                status: Some(status),
                error: None,
            },
            Outcome::Polled,
        ),
        Err(err) => {
            tracing::warn!(execution_id = %e.execution_id, error = %err, "poll failed");
            (
                i,
                FindResult {
                    execution_id: e.execution_id,
                    success: false,
                    status: None,
                    error: Some(err.to_string()),
                },
                Outcome::Failed,
            )
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Polled,
    Failed,
    Skipped,
}

/// Every page of the status index, each execution once (one that changed status between pages
/// can be listed twice), least recently polled first.
async fn list_all_active(
    store: &dyn ExecutionStore,
) -> Result<Vec<ActiveExecution>, OperationError> {
    let mut all = Vec::new();
    let mut seen = HashSet::new();
    let mut cursor = None;
    loop {
        let page = store.list_active(cursor).await?;
        all.extend(
            page.executions
                .into_iter()
                .filter(|e| seen.insert(e.execution_id)),
        );
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Stable: executions never polled (None) first, then oldest poll first.
    all.sort_by_key(|e| e.last_polled_time);
    Ok(all)
}
