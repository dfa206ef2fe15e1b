//! The one handler every function runs: decode the event for the operation the function serves,
//! run the core's use case over the ports the function was built with ([`ops::run`]), encode the
//! answer for whoever asked, log one line. It never fails: every outcome, a malformed event
//! included, is an answer with a `statusCode`.

use execution_core::api::{answer, status_code_of, Operation, Request};
use execution_core::ops::{self, Ports};
use execution_core::OperationError;
use serde_json::Value;

use crate::event::{decode, encode};

/// Answers `event` for the function that serves `serves`, over `ports`. The log line names the
/// operation, the execution and the outcome only: never the event, which may hold a task token.
/// Why an event was refused is logged when its decoding refused it (`why`: the refusal's own
/// words, which quote outside text only clipped and never a token); advance's line also names the
/// job, what it did with the launch result (`outcome`), why it ignored one (`reason`) and why it
/// failed (`why`).
pub async fn serve(serves: Operation, ports: &Ports<'_>, event: &Value) -> Value {
    let decoded = decode(serves, event);
    let execution_id = decoded
        .request
        .as_ref()
        .ok()
        .and_then(Request::execution_id);
    let job_id = match &decoded.request {
        Ok(Request::Advance(launch_result)) => Some(launch_result.job_id.to_string()),
        _ => None,
    };
    let refused = decoded.request.is_err();
    let answer = match decoded.request {
        Ok(request) if request.operation() == serves => {
            ops::run(ports, request, decoded.actor.clone()).await
        }
        Ok(request) => mismatch(serves, &request),
        Err(e) => answer::<()>(&Err(e)),
    };
    let status_code = status_code_of(&answer);
    let error = answer.get("error").and_then(Value::as_str);
    let advance = serves == Operation::Advance;
    let field = |name: &str| answer.get(name).and_then(Value::as_str);
    let (outcome, reason) = if advance {
        (field("outcome"), field("reason"))
    } else {
        (None, None)
    };
    let why = if error.is_some() && (refused || advance) {
        field("message")
    } else {
        None
    };
    // start names a new execution in its answer only.
    let execution_id = execution_id.map(|id| id.to_string()).or_else(|| {
        answer
            .get("executionId")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let source = decoded.source.as_str();
    let execution_id = execution_id.as_deref();
    let job_id = job_id.as_deref();
    if status_code >= 500 {
        tracing::warn!(operation = %serves, source, execution_id, job_id, status_code, error, why, outcome, reason, "answered");
    } else {
        tracing::info!(operation = %serves, source, execution_id, job_id, status_code, error, why, outcome, reason, "answered");
    }
    encode(decoded.source, answer)
}

/// `decode` only yields requests of the operation it was given; this answers the impossible case
/// rather than running another operation than the function's.
fn mismatch(serves: Operation, request: &Request) -> Value {
    let e = OperationError::Internal(format!(
        "the {serves} function decoded a {} request",
        request.operation()
    ));
    answer::<()>(&Err(e))
}

#[cfg(test)]
mod tests;
