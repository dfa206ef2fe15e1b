//! Lambda `Invoke`: `PollDispatch` (find invokes the poll function synchronously for each
//! execution) and `FunctionInvoker` (act invokes a wave action's function, once).

use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use execution_core::audit::Actor;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::ports::{
    DispatchError, FunctionInvoker, InvokeAnswer, PollDispatch, ServiceError,
};
use execution_core::status::ExecutionStatus;
use execution_core::text::clip;
use serde_json::{json, Value};

use crate::config::CONNECT_TIMEOUT;
use crate::errors::{classify, http_status, throttled};

/// How long one poll may run before find stops waiting for it; covers a poll of the largest
/// execution, not a hung one. Overrides the SDK-wide attempt timeout for `Invoke` only.
pub const DEFAULT_INVOKE_TIMEOUT: Duration = Duration::from_secs(120);

/// How much of a failed poll's answer goes into the error.
const SUMMARY_CHARS: usize = 300;

#[derive(Debug, Clone)]
pub struct LambdaPollDispatch {
    client: Client,
    function_name: String,
    invoke_timeout: Duration,
}

impl LambdaPollDispatch {
    pub fn new(client: Client, function_name: String) -> Self {
        Self {
            client,
            function_name,
            invoke_timeout: DEFAULT_INVOKE_TIMEOUT,
        }
    }

    #[must_use]
    pub fn with_invoke_timeout(mut self, timeout: Duration) -> Self {
        self.invoke_timeout = timeout;
        self
    }
}

#[async_trait]
impl PollDispatch for LambdaPollDispatch {
    async fn poll(
        &self,
        execution_id: ExecutionId,
        plan_id: PlanId,
    ) -> Result<ExecutionStatus, DispatchError> {
        let what = "Lambda Invoke (poll)";
        // find's polls are recorded as find's (the poll function reads who invoked it from here).
        let payload = json!({
            "operation": "poll",
            "executionId": execution_id,
            "planId": plan_id,
            "summary": true,
            (Actor::FIELD): "find",
        });
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(self.invoke_timeout)
            .operation_timeout(self.invoke_timeout)
            .build();
        let out = self
            .client
            .invoke()
            .function_name(&self.function_name)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload.to_string()))
            .customize()
            .config_override(aws_sdk_lambda::config::Builder::default().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(InvokeError::TooManyRequestsException(t)) => throttled(
                    what,
                    "TooManyRequestsException",
                    t.message(),
                    t.retry_after_seconds(),
                    http_status(&e).unwrap_or(429),
                ),
                _ => classify(what, &e),
            })?;
        let body = out.payload.as_ref().map(|b| b.as_ref()).unwrap_or_default();
        if let Some(kind) = out.function_error.as_deref() {
            return Err(DispatchError::PollFailed(format!(
                "function error ({kind}): {}",
                summary(body)
            )));
        }
        decode_answer(body)
    }
}

/// `FunctionInvoker` on Lambda `Invoke` (`RequestResponse`): one attempt, no SDK retry, within
/// the caller's timeout.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    client: Client,
}

impl LambdaInvoker {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl FunctionInvoker for LambdaInvoker {
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<InvokeAnswer, ServiceError> {
        let what = "Lambda Invoke";
        // The client's attempt and operation limits are the SDK-wide ones (seconds); an action
        // may take minutes. No retry: a second attempt after a 5xx or a lost answer could run the
        // function twice.
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(timeout)
            .operation_timeout(timeout)
            .build();
        let out = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .customize()
            .config_override(
                aws_sdk_lambda::config::Builder::default()
                    .timeout_config(timeouts)
                    .retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| invoke_error(what, &e))?;
        Ok(InvokeAnswer {
            function_error: out.function_error,
            payload: out.payload.map(Blob::into_inner).unwrap_or_default(),
        })
    }
}

/// Invoke's errors as the core needs them. `Throttled`: Lambda refused the invocation for now and
/// the function did not run (throttling, a quota, a function not ready yet: Pending, Inactive, its
/// network interface, SnapStart snapshot or code artifact user being prepared). `Unavailable`:
/// Lambda's own failures, set-up failures that may pass, a file system error while the function
/// ran, other 5xx, timeouts, lost connections. `Rejected`: refusals that waiting does not clear (no
/// such function, a bad request, the function's VPC, KMS, code, runtime or recursion settings),
/// whatever their HTTP status. A code this SDK does not know goes by its status ([`classify`]).
fn invoke_error(what: &str, err: &SdkError<InvokeError, HttpResponse>) -> ServiceError {
    let Some(e) = err.as_service_error() else {
        return classify(what, err);
    };
    // A service error comes with an answer; should its status be missing, 429 stands in.
    let status = http_status(err).unwrap_or(429);
    let code = e.code().unwrap_or_default();
    match e {
        InvokeError::TooManyRequestsException(t) => {
            throttled(what, code, e.message(), t.retry_after_seconds(), status)
        }
        InvokeError::ResourceNotReadyException(_)
        | InvokeError::ResourceConflictException(_)
        | InvokeError::Ec2ThrottledException(_)
        | InvokeError::EniNotReadyException(_)
        | InvokeError::SnapStartNotReadyException(_)
        | InvokeError::CodeArtifactUserPendingException(_)
        | InvokeError::ServiceQuotaExceededException(_) => {
            throttled(what, code, e.message(), None, status)
        }
        InvokeError::ServiceException(_)
        | InvokeError::Ec2UnexpectedException(_)
        | InvokeError::EfsioException(_)
        | InvokeError::EfsMountConnectivityException(_)
        | InvokeError::EfsMountTimeoutException(_)
        | InvokeError::S3FilesMountConnectivityException(_)
        | InvokeError::S3FilesMountTimeoutException(_)
        | InvokeError::SnapStartTimeoutException(_) => {
            ServiceError::unavailable(message(what, err))
        }
        InvokeError::CodeArtifactUserDeletedException(_)
        | InvokeError::CodeArtifactUserFailedException(_)
        | InvokeError::DurableExecutionAlreadyStartedException(_)
        | InvokeError::Ec2AccessDeniedException(_)
        | InvokeError::EfsMountFailureException(_)
        | InvokeError::EniLimitReachedException(_)
        | InvokeError::InvalidParameterValueException(_)
        | InvokeError::InvalidRequestContentException(_)
        | InvokeError::InvalidRuntimeException(_)
        | InvokeError::InvalidSecurityGroupIdException(_)
        | InvokeError::InvalidSubnetIdException(_)
        | InvokeError::InvalidZipFileException(_)
        | InvokeError::KmsAccessDeniedException(_)
        | InvokeError::KmsDisabledException(_)
        | InvokeError::KmsInvalidStateException(_)
        | InvokeError::KmsNotFoundException(_)
        | InvokeError::ModeNotSupportedException(_)
        | InvokeError::NoPublishedVersionException(_)
        | InvokeError::RecursiveInvocationException(_)
        | InvokeError::RequestTooLargeException(_)
        | InvokeError::ResourceNotFoundException(_)
        | InvokeError::S3FilesMountFailureException(_)
        | InvokeError::SerializedRequestEntityTooLargeException(_)
        | InvokeError::SnapStartException(_)
        | InvokeError::SnapStartRegenerationFailureException(_)
        | InvokeError::SubnetIpAddressLimitReachedException(_)
        | InvokeError::UnsupportedMediaTypeException(_) => {
            ServiceError::Rejected(message(what, err))
        }
        _ => classify(what, err),
    }
}

/// The service's words for an error: `what: code: message (HTTP status)`.
fn message(what: &str, err: &SdkError<InvokeError, HttpResponse>) -> String {
    match classify(what, err) {
        ServiceError::Rejected(m)
        | ServiceError::Throttled { message: m, .. }
        | ServiceError::Unavailable { message: m, .. } => m,
    }
}

/// poll's answer: `{"statusCode": 200, "status": ...}`, or the core's error shape.
fn decode_answer(body: &[u8]) -> Result<ExecutionStatus, DispatchError> {
    let answer: Value = serde_json::from_slice(body).map_err(|e| {
        DispatchError::PollFailed(format!("answer is not JSON ({e}): {}", summary(body)))
    })?;
    match answer.get("statusCode").and_then(Value::as_u64) {
        Some(200) => {}
        code => {
            let field = |name: &str| {
                answer
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_owned()
            };
            let code = code.map_or_else(|| "none".to_owned(), |c| c.to_string());
            let text = format!(
                "statusCode {code}: {}: {}",
                field("error"),
                field("message")
            );
            return Err(DispatchError::PollFailed(clip(&text, SUMMARY_CHARS)));
        }
    }
    answer
        .get("status")
        .and_then(Value::as_str)
        .and_then(ExecutionStatus::parse)
        .ok_or_else(|| {
            DispatchError::PollFailed(format!(
                "answer without a readable status: {}",
                summary(body)
            ))
        })
}

/// `errorType: errorMessage` of a Lambda error document, else the start of the body.
fn summary(body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let text = match parsed.as_ref().map(|v| {
        (
            v.get("errorType").and_then(Value::as_str),
            v.get("errorMessage").and_then(Value::as_str),
        )
    }) {
        Some((Some(t), Some(m))) => format!("{t}: {m}"),
        Some((None, Some(m))) => m.to_owned(),
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    clip(&text, SUMMARY_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_decode_to_a_status_or_a_failed_poll() {
        assert_eq!(
            decode_answer(br#"{"statusCode":200,"status":"CANCELLING"}"#),
            Ok(ExecutionStatus::Cancelling)
        );
        let err = decode_answer(
            br#"{"statusCode":404,"error":"NOT_FOUND","message":"execution x not found"}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            DispatchError::PollFailed("statusCode 404: NOT_FOUND: execution x not found".into())
        );
        assert!(
            matches!(decode_answer(b"null"), Err(DispatchError::PollFailed(m)) if m.starts_with("statusCode none"))
        );
        assert!(
            matches!(decode_answer(b"<html>"), Err(DispatchError::PollFailed(m)) if m.contains("not JSON"))
        );
        assert!(
            matches!(decode_answer(br#"{"statusCode":200,"status":"RUNNING"}"#), Err(DispatchError::PollFailed(m)) if m.contains("readable status"))
        );
    }

    #[test]
    fn summaries_are_short() {
        assert_eq!(
            summary(br#"{"errorType":"Panic","errorMessage":"boom"}"#),
            "Panic: boom"
        );
        let long = "x".repeat(1000);
        assert_eq!(summary(long.as_bytes()).chars().count(), SUMMARY_CHARS + 1);
    }
}
