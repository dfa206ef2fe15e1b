//! start: a plan becomes a PENDING execution and the workflow run that conducts it.

use super::{cancel, create_execution, finalize, release_holds};
use crate::api::{StartRequest, StartResponse, Target, WorkflowInput, OK};
use crate::error::OperationError;
use crate::ids::ExecutionId;
use crate::ports::{now, Clock, Drs, ExecutionStore, ServerLocks, Touch, Workflow, WorkflowMark};
use crate::rules::Policy;

/// What start runs against.
#[derive(Clone, Copy)]
pub struct StartPorts<'a> {
    pub store: &'a dyn ExecutionStore,
    pub locks: &'a dyn ServerLocks,
    pub drs: &'a dyn Drs,
    pub workflow: &'a dyn Workflow,
    pub clock: &'a dyn Clock,
    pub policy: &'a Policy,
}

/// Checks the plan (its structure, then the pre-flight: every server known to DRS, replicating
/// healthily, in no running DRS job, held by no other active execution), takes the holds on its
/// servers, creates the execution and starts its first run, named after the execution (a start
/// that is retried with the same `executionId` cannot start a second run). A refusal writes
/// nothing (holds taken are given back). When the run cannot start, the execution is cancelled
/// and finalized at once, so nothing is left that find would later start (and its holds bind no
/// one), and the answer says so; should that fail too, it says how to clear the execution by hand.
pub async fn start(
    ports: StartPorts<'_>,
    request: &StartRequest,
) -> Result<StartResponse, OperationError> {
    let StartPorts {
        store,
        locks,
        drs,
        workflow,
        clock,
        policy,
    } = ports;
    let plan = &request.plan;
    let problems = plan.problems();
    if !problems.is_empty() {
        return Err(super::create::plan_problems(&problems));
    }
    let execution_id = request.execution_id.unwrap_or_else(ExecutionId::new_random);
    if store.load(execution_id).await?.is_some() {
        return Err(OperationError::Conflict(format!(
            "execution {execution_id} already exists"
        )));
    }
    let (verdict, held) = super::preflight::gather(
        Some((store, locks)),
        Some(drs),
        clock,
        policy,
        plan,
        Some(execution_id),
    )
    .await?;
    if !verdict.passed() {
        return Err(OperationError::Preflight(verdict));
    }
    super::preflight::take(store, locks, clock, policy, plan, execution_id, Some(held)).await?;
    let execution = match create_execution(store, clock, plan, execution_id).await {
        Ok(execution) => execution,
        Err(e) => {
            // Give the holds back only when the execution surely does not exist: a create whose
            // answer was lost may have landed, and its execution must keep its servers (a hold of
            // one that never came to exist binds no one after the grace period anyway).
            let absent = !matches!(e, OperationError::Conflict(_))
                && matches!(store.load(execution_id).await, Ok(None));
            if absent {
                release_holds(locks, plan, execution_id).await;
            }
            return Err(e);
        }
    };
    let target = Target {
        execution_id,
        plan_id: request.plan.plan_id,
    };
    let input = WorkflowInput {
        execution_id,
        plan_id: target.plan_id,
        poll_interval_seconds: request.poll_interval_seconds,
        run_prefix: None,
    };
    let run = match workflow.start_run(&input, &execution_id.to_string()).await {
        Ok(run) => run,
        Err(e) => return Err(abandon(store, workflow, clock, &target, &e.to_string()).await),
    };
    let mark = Touch {
        polled_at: None,
        workflow: Some(WorkflowMark::started(run.clone(), now(clock))),
    };
    if let Err(e) = store.touch(execution_id, &mark).await {
        // The run names itself on its first poll; find only learns of it a little later.
        tracing::warn!(%execution_id, error = %e, "could not record the new run");
    }
    Ok(StartResponse {
        status_code: OK,
        execution_id,
        plan_id: target.plan_id,
        status: execution.status(),
        workflow_run: run,
        warnings: verdict.warnings,
    })
}

/// The run did not start: cancel and finalize the new execution, and say what happened.
async fn abandon(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    target: &Target,
    why: &str,
) -> OperationError {
    let id = target.execution_id;
    let cleared = match cancel(store, workflow, target).await {
        Ok(_) => finalize(store, clock, target).await.map(|_| ()),
        Err(e) => Err(e),
    };
    OperationError::Internal(match cleared {
        Ok(()) => format!(
            "the workflow could not start (Step Functions: {why}); execution {id} was cancelled and nothing was launched: start again once the cause is fixed"
        ),
        Err(e) => format!(
            "the workflow could not start (Step Functions: {why}) and execution {id} could not be cancelled ({e}): it is PENDING without a workflow, and find will start one within minutes: if it must not run, cancel it with `drctl cancel {id} --plan {plan}` (or POST /executions/{id}/cancel)",
            plan = target.plan_id
        ),
    })
}
