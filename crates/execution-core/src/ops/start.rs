//! start: a plan becomes a PENDING execution and the workflow run that conducts it.

use super::{cancel, create_execution, finalize};
use crate::api::{StartRequest, StartResponse, Target, WorkflowInput, OK};
use crate::error::OperationError;
use crate::ids::ExecutionId;
use crate::ports::{now, Clock, ExecutionStore, Touch, Workflow, WorkflowMark};

/// Creates the execution (the plan's structure is checked first: a plan that cannot run is a 400
/// and nothing is written), then starts its first run, named after the execution (a start that is
/// retried with the same `executionId` cannot start a second run). When the run cannot start, the
/// execution is cancelled and finalized at once, so nothing is left that find would later start,
/// and the answer says so; should that fail too, it says how to clear the execution by hand.
pub async fn start(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    request: &StartRequest,
) -> Result<StartResponse, OperationError> {
    let execution_id = request.execution_id.unwrap_or_else(ExecutionId::new_random);
    let execution = create_execution(store, clock, &request.plan, execution_id).await?;
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
        workflow: Some(WorkflowMark {
            run: run.clone(),
            at: now(clock),
        }),
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
