//! The API's reads: active executions (list), one record (get), one trail (events). They change
//! nothing and record nothing.

use super::{load_target, with_retries};
use crate::api::{
    EventsRequest, EventsResponse, GetResponse, ListResponse, ListedExecution, PageRequest, Target,
    OK,
};
use crate::error::OperationError;
use crate::ports::{ExecutionStore, ServiceError, StoreError};

/// One page of the active executions (POLLING, CANCELLING, PAUSED, PENDING), from the status
/// index: never a scan.
pub async fn list(
    store: &dyn ExecutionStore,
    page: &PageRequest,
) -> Result<ListResponse, OperationError> {
    let found = store
        .list_active(page.next_token.clone())
        .await
        .map_err(token_error)?;
    Ok(ListResponse {
        status_code: OK,
        executions: found
            .executions
            .into_iter()
            .map(|e| ListedExecution {
                execution_id: e.execution_id,
                plan_id: e.plan_id,
                status: e.status,
                created_time: e.created_time,
                last_polled_time: e.last_polled_time,
            })
            .collect(),
        next_token: found.next_cursor,
    })
}

/// The record of `target`, without its task token.
pub async fn get(
    store: &dyn ExecutionStore,
    target: &Target,
) -> Result<GetResponse, OperationError> {
    let mut execution = with_retries("get", || load_target(store, target)).await?;
    let workflow_waiting = execution.header.task_token.take().is_some();
    Ok(GetResponse {
        status_code: OK,
        execution,
        workflow_waiting,
    })
}

/// One page of the trail of `request.target`, oldest first. The events name their plan, so a page
/// answers for itself; an execution with no events yet (created by version 1) is read to check
/// that it exists in that plan.
pub async fn events(
    store: &dyn ExecutionStore,
    request: &EventsRequest,
) -> Result<EventsResponse, OperationError> {
    let target = request.target;
    let page = store
        .events(target.execution_id, request.next_token.clone())
        .await
        .map_err(token_error)?;
    match page.events.first() {
        Some(e) if e.plan_id != target.plan_id => {
            return Err(OperationError::NotFound(format!(
                "execution {} not found in plan {}",
                target.execution_id, target.plan_id
            )))
        }
        Some(_) => {}
        None => {
            with_retries("events", || load_target(store, &target)).await?;
        }
    }
    Ok(EventsResponse {
        status_code: OK,
        execution_id: target.execution_id,
        events: page.events,
        next_token: page.next_cursor,
    })
}

/// A cursor the store did not give is the caller's mistake (400), not a failure of the store.
fn token_error(e: StoreError) -> OperationError {
    match e {
        StoreError::Service(ServiceError::Rejected(reason)) => {
            OperationError::invalid(crate::api::NEXT_TOKEN, reason)
        }
        other => other.into(),
    }
}
