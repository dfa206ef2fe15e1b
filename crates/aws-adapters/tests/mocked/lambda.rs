use std::time::Duration;

use aws_adapters::LambdaPollDispatch;
use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::error::{ResourceNotFoundException, TooManyRequestsException};
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use execution_core::fixtures::{execution_id, plan_id};
use execution_core::ports::{DispatchError, PollDispatch, ServiceError};
use execution_core::status::ExecutionStatus;
use serde_json::{json, Value};

use crate::common::meta;

fn answering(function_error: Option<&'static str>, body: Value) -> Rule {
    mock!(Client::invoke).then_output(move || {
        InvokeOutput::builder()
            .status_code(200)
            .set_function_error(function_error.map(str::to_owned))
            .payload(Blob::new(body.to_string()))
            .build()
    })
}

fn dispatch(rules: &[&Rule]) -> LambdaPollDispatch {
    LambdaPollDispatch::new(
        mocked_client!(aws_sdk_lambda, RuleMode::Sequential, rules.iter().copied()),
        "poll-fn".into(),
    )
}

#[tokio::test]
async fn invokes_poll_synchronously_as_find_and_decodes_its_status() {
    let rule = mock!(Client::invoke)
        .match_requests(|r| {
            let payload: Value = serde_json::from_slice(r.payload().map(|b| b.as_ref()).unwrap_or_default()).unwrap();
            r.function_name() == Some("poll-fn")
                && r.invocation_type() == Some(&InvocationType::RequestResponse)
                && payload == json!({"operation": "poll", "executionId": execution_id(), "planId": plan_id(), "summary": true, "invokedBy": "find"})
        })
        .then_output(|| {
            InvokeOutput::builder().status_code(200).payload(Blob::new(json!({"statusCode": 200, "status": "POLLING", "waves": []}).to_string())).build()
        });
    let d = dispatch(&[&rule]).with_invoke_timeout(Duration::from_secs(30));
    assert_eq!(
        d.poll(execution_id(), plan_id()).await,
        Ok(ExecutionStatus::Polling)
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_function_error_is_a_failed_poll_with_its_message() {
    let rule = answering(
        Some("Unhandled"),
        json!({"errorType": "Runtime.ExitError", "errorMessage": "process exited: boom"}),
    );
    let err = dispatch(&[&rule])
        .poll(execution_id(), plan_id())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DispatchError::PollFailed(
            "function error (Unhandled): Runtime.ExitError: process exited: boom".into()
        )
    );
}

#[tokio::test]
async fn an_error_answer_is_a_failed_poll_with_code_and_message() {
    let rule = answering(
        None,
        json!({"statusCode": 404, "error": "NOT_FOUND", "message": "execution not found in plan"}),
    );
    let err = dispatch(&[&rule])
        .poll(execution_id(), plan_id())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DispatchError::PollFailed("statusCode 404: NOT_FOUND: execution not found in plan".into())
    );
}

#[tokio::test]
async fn lambda_errors_map_to_service_errors() {
    let throttled = mock!(Client::invoke).then_error(|| {
        InvokeError::TooManyRequestsException(
            TooManyRequestsException::builder()
                .message("Rate exceeded")
                .retry_after_seconds("3")
                .meta(meta("TooManyRequestsException", "Rate exceeded"))
                .build(),
        )
    });
    let server = mock!(Client::invoke)
        .sequence()
        .http_status(500, None)
        .build();
    let missing = mock!(Client::invoke).then_error(|| {
        InvokeError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Function not found")
                .meta(meta("ResourceNotFoundException", "Function not found"))
                .build(),
        )
    });
    let d = dispatch(&[&throttled, &server, &missing]);
    assert!(matches!(
        d.poll(execution_id(), plan_id()).await,
        Err(DispatchError::Service(ServiceError::Throttled { retry_after: Some(t), .. })) if t == Duration::from_secs(3)
    ));
    assert!(matches!(
        d.poll(execution_id(), plan_id()).await,
        Err(DispatchError::Service(ServiceError::Unavailable { .. }))
    ));
    assert!(
        matches!(d.poll(execution_id(), plan_id()).await, Err(DispatchError::Service(ServiceError::Rejected(m))) if m.contains("Function not found"))
    );
}
