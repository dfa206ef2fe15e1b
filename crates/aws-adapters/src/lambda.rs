//! `PollDispatch` on Lambda: find invokes the poll function synchronously for each execution.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use execution_core::audit::Actor;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::ports::{DispatchError, PollDispatch};
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
