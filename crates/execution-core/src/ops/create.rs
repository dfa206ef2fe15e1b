use crate::error::OperationError;
use crate::ids::ExecutionId;
use crate::model::Execution;
use crate::plan::{Plan, PlanProblem};
use crate::ports::{now, Clock, ExecutionStore, StoreError};

/// Creates a PENDING execution of `plan` (every wave PENDING). A plan that cannot run is a 400
/// that lists every problem; an id already taken is a 409.
pub async fn create_execution(
    store: &dyn ExecutionStore,
    clock: &dyn Clock,
    plan: &Plan,
    execution_id: ExecutionId,
) -> Result<Execution, OperationError> {
    let execution = plan
        .new_execution(execution_id, now(clock))
        .map_err(|problems| plan_problems(&problems))?;
    match store.create(&execution, &[]).await {
        Ok(()) => Ok(execution),
        Err(StoreError::Conflict) => Err(OperationError::Conflict(format!(
            "execution {execution_id} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// A plan that cannot run: a 400 that lists every problem.
pub(crate) fn plan_problems(problems: &[PlanProblem]) -> OperationError {
    OperationError::invalid(
        "plan",
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
    )
}
