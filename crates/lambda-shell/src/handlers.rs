//! One handler per function: decode the event, run the core's use case over the ports given,
//! encode the answer for whoever asked, log one line. Handlers never fail: every outcome,
//! including a malformed event, is an answer with a `statusCode`.

use std::future::Future;

use execution_core::api::{answer, status_code_of, Operation, Request};
use execution_core::ids::ExecutionId;
use execution_core::ops::{self, FindConfig};
use execution_core::ports::{Clock, Drs, Ec2, ExecutionStore, PollDispatch, Workflow};
use execution_core::rules::Policy;
use execution_core::OperationError;
use serde_json::Value;

use crate::event::{decode, encode};

pub async fn find(
    store: &dyn ExecutionStore,
    dispatch: &dyn PollDispatch,
    clock: &dyn Clock,
    config: &FindConfig,
    event: &Value,
) -> Value {
    serve(Operation::Find, event, |request| async move {
        match request {
            Request::Find => answer(&ops::find(store, dispatch, clock, config).await),
            other => mismatch(Operation::Find, &other),
        }
    })
    .await
}

pub async fn poll(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    ec2: &dyn Ec2,
    clock: &dyn Clock,
    policy: &Policy,
    event: &Value,
) -> Value {
    serve(Operation::Poll, event, |request| async move {
        match request {
            Request::Poll(r) => answer(&ops::poll(store, drs, ec2, clock, policy, &r).await),
            other => mismatch(Operation::Poll, &other),
        }
    })
    .await
}

pub async fn finalize(store: &dyn ExecutionStore, clock: &dyn Clock, event: &Value) -> Value {
    serve(Operation::Finalize, event, |request| async move {
        match request {
            Request::Finalize(t) => answer(&ops::finalize(store, clock, &t).await),
            other => mismatch(Operation::Finalize, &other),
        }
    })
    .await
}

pub async fn pause(
    store: &dyn ExecutionStore,
    workflow: &dyn Workflow,
    clock: &dyn Clock,
    policy: &Policy,
    event: &Value,
) -> Value {
    serve(Operation::Pause, event, |request| async move {
        match request {
            Request::Pause(r) => answer(&ops::pause(store, workflow, clock, policy, &r).await),
            other => mismatch(Operation::Pause, &other),
        }
    })
    .await
}

pub async fn resume(store: &dyn ExecutionStore, workflow: &dyn Workflow, event: &Value) -> Value {
    serve(Operation::Resume, event, |request| async move {
        match request {
            Request::Resume(t) => answer(&ops::resume(store, workflow, &t).await),
            other => mismatch(Operation::Resume, &other),
        }
    })
    .await
}

pub async fn launch(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    clock: &dyn Clock,
    policy: &Policy,
    event: &Value,
) -> Value {
    serve(Operation::Launch, event, |request| async move {
        match request {
            Request::Launch(t) => answer(&ops::launch(store, drs, clock, policy, &t).await),
            other => mismatch(Operation::Launch, &other),
        }
    })
    .await
}

/// Decodes `event`, runs `run` on a well-formed request, encodes the answer and logs it. The
/// log line names the operation, execution and outcome only: never the event, which may hold a
/// task token.
async fn serve<F, Fut>(serves: Operation, event: &Value, run: F) -> Value
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Value>,
{
    let decoded = decode(serves, event);
    let execution_id = decoded.request.as_ref().ok().and_then(execution_of);
    let answer = match decoded.request {
        Ok(request) => run(request).await,
        Err(e) => answer::<()>(&Err(e)),
    };
    let status_code = status_code_of(&answer);
    let error = answer.get("error").and_then(Value::as_str);
    let execution_id = execution_id.map(tracing::field::display);
    let source = decoded.source.as_str();
    if status_code >= 500 {
        tracing::warn!(operation = %serves, source, execution_id, status_code, error, "answered");
    } else {
        tracing::info!(operation = %serves, source, execution_id, status_code, error, "answered");
    }
    encode(decoded.source, answer)
}

fn execution_of(request: &Request) -> Option<ExecutionId> {
    match request {
        Request::Find => None,
        Request::Poll(r) => Some(r.target.execution_id),
        Request::Pause(r) => Some(r.target.execution_id),
        Request::Finalize(t) | Request::Resume(t) | Request::Launch(t) | Request::Cancel(t) => {
            Some(t.execution_id)
        }
    }
}

/// `decode` only yields requests of the operation it was given; this answers the impossible case
/// rather than panicking.
fn mismatch(serves: Operation, request: &Request) -> Value {
    let e = OperationError::Internal(format!(
        "the {serves} function decoded a {} request",
        request.operation()
    ));
    answer::<()>(&Err(e))
}

#[cfg(test)]
mod tests;
