//! `LambdaInvoker`: one synchronous invocation, never repeated by the SDK, within the caller's
//! timeout; Invoke's errors as the core tells them apart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_adapters::LambdaInvoker;
use aws_sdk_lambda::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::timeout::TimeoutConfig;
use aws_sdk_lambda::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::error::TooManyRequestsException;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use execution_core::ports::{FunctionInvoker, InvokeAnswer, ServiceError};

use crate::common::meta;

const PAYLOAD: &[u8] = br#"{"executionId":"e-1","action":{"name":"pre-check","attempt":1}}"#;

/// The client every production function has (`sdk_config()`'s retries and time limits).
fn production(rules: &[&Rule]) -> LambdaInvoker {
    LambdaInvoker::new(mocked_client!(
        aws_sdk_lambda,
        RuleMode::Sequential,
        rules.iter().copied(),
        aws_adapters::retry_config(),
        aws_adapters::timeout_config()
    ))
}

fn answering(function_error: Option<&'static str>, body: &'static [u8]) -> Rule {
    mock!(Client::invoke).then_output(move || {
        InvokeOutput::builder()
            .status_code(200)
            .set_function_error(function_error.map(str::to_owned))
            .payload(Blob::new(body))
            .build()
    })
}

#[tokio::test]
async fn invokes_the_function_synchronously_with_the_payload_as_given() {
    let rule = mock!(Client::invoke)
        .match_requests(|r| {
            r.function_name() == Some("arn:aws:lambda:us-east-1:123456789012:function:check:live")
                && r.invocation_type() == Some(&InvocationType::RequestResponse)
                && r.payload().map(|b| b.as_ref()) == Some(PAYLOAD)
                && r.qualifier().is_none()
        })
        .then_output(|| {
            InvokeOutput::builder()
                .status_code(200)
                .payload(Blob::new(r#"{"ok":true}"#))
                .executed_version("7")
                .build()
        });
    let invoker = production(&[&rule]);
    let answer = invoker
        .invoke(
            "arn:aws:lambda:us-east-1:123456789012:function:check:live",
            PAYLOAD,
            Duration::from_secs(30),
        )
        .await;
    assert_eq!(
        answer,
        Ok(InvokeAnswer {
            function_error: None,
            payload: br#"{"ok":true}"#.to_vec(),
        })
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_function_error_and_its_payload_are_passed_on_as_they_came() {
    // Not JSON, and a function error: judging it is the core's business.
    let unhandled = answering(Some("Unhandled"), b"Task timed out after 30.03 seconds");
    let handled = answering(
        Some("Handled"),
        br#"{"errorType":"ValueError","errorMessage":"no DNS"}"#,
    );
    let empty =
        mock!(Client::invoke).then_output(|| InvokeOutput::builder().status_code(200).build());
    let invoker = production(&[&unhandled, &handled, &empty]);
    let call = || invoker.invoke("check", b"{}", Duration::from_secs(5));
    assert_eq!(
        call().await,
        Ok(InvokeAnswer {
            function_error: Some("Unhandled".into()),
            payload: b"Task timed out after 30.03 seconds".to_vec(),
        })
    );
    assert_eq!(
        call().await,
        Ok(InvokeAnswer {
            function_error: Some("Handled".into()),
            payload: br#"{"errorType":"ValueError","errorMessage":"no DNS"}"#.to_vec(),
        })
    );
    assert_eq!(
        call().await,
        Ok(InvokeAnswer {
            function_error: None,
            payload: vec![],
        }),
        "no payload is an empty one"
    );
}

/// What the core must tell apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Throttled,
    Unavailable,
    Rejected,
}

fn class(e: &ServiceError) -> Class {
    match e {
        ServiceError::Throttled { .. } => Class::Throttled,
        ServiceError::Unavailable { .. } => Class::Unavailable,
        ServiceError::Rejected(_) => Class::Rejected,
    }
}

/// An error answer as Lambda sends it: the status the API reference gives the error, its code and
/// message in the body.
fn lambda_error(status: u16, code: &str) -> Rule {
    let body = format!(r#"{{"__type":"{code}","message":"{code} says why"}}"#);
    mock!(Client::invoke)
        .sequence()
        .http_status(status, Some(body))
        .build()
}

#[tokio::test]
async fn every_invoke_error_maps_to_what_it_means_for_the_function() {
    use Class::{Rejected, Throttled, Unavailable};
    // (HTTP status, code, class): statuses as Lambda's API reference gives them for Invoke.
    let cases: &[(u16, &str, Class)] = &[
        // Lambda refused the invocation for now: the function did not run.
        (429, "TooManyRequestsException", Throttled),
        (502, "ResourceNotReadyException", Throttled),
        (409, "ResourceConflictException", Throttled),
        (502, "EC2ThrottledException", Throttled),
        (502, "ENINotReadyException", Throttled),
        (409, "SnapStartNotReadyException", Throttled),
        (409, "CodeArtifactUserPendingException", Throttled),
        (402, "ServiceQuotaExceededException", Throttled),
        (429, "ThrottlingException", Throttled),
        // Lambda's own failures, and failures that may pass: the function may have run.
        (500, "ServiceException", Unavailable),
        (502, "EC2UnexpectedException", Unavailable),
        (410, "EFSIOException", Unavailable),
        (408, "EFSMountTimeoutException", Unavailable),
        (408, "EFSMountConnectivityException", Unavailable),
        (408, "SnapStartTimeoutException", Unavailable),
        (503, "SomethingLambdaAddsLater", Unavailable),
        // Refusals that waiting does not clear (most come with a 5xx: the status does not decide).
        (404, "ResourceNotFoundException", Rejected),
        (400, "InvalidRequestContentException", Rejected),
        (400, "InvalidParameterValueException", Rejected),
        (413, "RequestTooLargeException", Rejected),
        (415, "UnsupportedMediaTypeException", Rejected),
        (400, "RecursiveInvocationException", Rejected),
        (403, "AccessDeniedException", Rejected),
        (403, "EFSMountFailureException", Rejected),
        (502, "KMSAccessDeniedException", Rejected),
        (502, "KMSDisabledException", Rejected),
        (502, "EC2AccessDeniedException", Rejected),
        (502, "ENILimitReachedException", Rejected),
        (502, "SubnetIPAddressLimitReachedException", Rejected),
        (502, "InvalidSubnetIDException", Rejected),
        (502, "InvalidSecurityGroupIDException", Rejected),
        (502, "InvalidZipFileException", Rejected),
        (502, "InvalidRuntimeException", Rejected),
        (400, "SnapStartException", Rejected),
    ];
    for &(status, code, want) in cases {
        let rule = lambda_error(status, code);
        let err = production(&[&rule])
            .invoke("check", PAYLOAD, Duration::from_secs(5))
            .await
            .expect_err(code);
        assert_eq!(class(&err), want, "{code} (HTTP {status}): {err}");
        assert!(
            err.to_string().contains(code) && err.to_string().contains(&status.to_string()),
            "the service's words travel with it: {err}"
        );
        assert!(err.to_string().contains("says why"), "{err}");
        assert_eq!(
            rule.num_calls(),
            1,
            "{code}: Invoke was sent more than once"
        );
    }
}

#[tokio::test]
async fn a_throttled_invocation_carries_lambdas_retry_after() {
    let rule = mock!(Client::invoke).then_error(|| {
        InvokeError::TooManyRequestsException(
            TooManyRequestsException::builder()
                .message("Rate exceeded")
                .retry_after_seconds("7")
                .meta(meta("TooManyRequestsException", "Rate exceeded"))
                .build(),
        )
    });
    let err = production(&[&rule])
        .invoke("check", PAYLOAD, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Throttled { retry_after: Some(t), message } if *t == Duration::from_secs(7) && message.contains("Rate exceeded")),
        "{err:?}"
    );
}

/// With the retry policy every production client has: whatever comes back, Invoke goes out once.
/// (Were it retried, the second attempt would run the function again and succeed.)
#[tokio::test]
async fn with_production_retries_invoke_goes_out_once() {
    assert!(aws_adapters::retry_config().max_attempts() > 1);
    for (status, body) in [
        (500, None),
        (503, None),
        (
            502,
            Some(r#"{"__type":"ServiceException","message":"internal"}"#),
        ),
        (
            429,
            Some(r#"{"__type":"TooManyRequestsException","message":"Rate exceeded"}"#),
        ),
    ] {
        let rule = mock!(Client::invoke)
            .sequence()
            .http_status(status, body.map(str::to_owned))
            .output(|| {
                InvokeOutput::builder()
                    .status_code(200)
                    .payload(Blob::new(r#"{"ok":true}"#))
                    .build()
            })
            .build();
        let invoker = production(&[&rule]);
        let r = invoker
            .invoke("check", PAYLOAD, Duration::from_secs(5))
            .await;
        assert!(r.is_err(), "HTTP {status}: {r:?}");
        assert_eq!(rule.num_calls(), 1, "HTTP {status}: Invoke was retried");
    }
}

/// One call's operation timeout, attempt timeout and attempts.
type Limits = (Option<Duration>, Option<Duration>, u32);

/// The time limits and retry policy each call runs with, as the SDK's orchestrator sees them.
#[derive(Debug, Clone, Default)]
struct Seen(Arc<Mutex<Vec<Limits>>>);

impl Intercept for Seen {
    fn name(&self) -> &'static str {
        "Seen"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let timeouts = cfg.load::<TimeoutConfig>();
        let attempts = cfg
            .load::<RetryConfig>()
            .map_or(0, RetryConfig::max_attempts);
        self.0.lock().unwrap().push((
            timeouts.and_then(TimeoutConfig::operation_timeout),
            timeouts.and_then(TimeoutConfig::operation_attempt_timeout),
            attempts,
        ));
        Ok(())
    }
}

#[tokio::test]
async fn each_invocation_waits_as_long_as_its_caller_says_and_no_longer() {
    let seen = Seen::default();
    let first = answering(None, b"{}");
    let second = answering(None, b"{}");
    let interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
        .rule_mode(RuleMode::Sequential)
        .with_rule(&first)
        .with_rule(&second);
    let conf = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "test", "test", None, None, "mock",
        ))
        .retry_config(aws_adapters::retry_config())
        .timeout_config(aws_adapters::timeout_config())
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .interceptor(seen.clone())
        .build();
    let invoker = LambdaInvoker::new(Client::from_conf(conf));
    // Longer than the client's own limits (an action may take minutes), then shorter.
    for timeout in [Duration::from_secs(840), Duration::from_secs(2)] {
        invoker.invoke("check", PAYLOAD, timeout).await.unwrap();
    }
    assert!(aws_adapters::timeout_config().operation_timeout() < Some(Duration::from_secs(840)));
    assert_eq!(
        *seen.0.lock().unwrap(),
        [
            (
                Some(Duration::from_secs(840)),
                Some(Duration::from_secs(840)),
                1
            ),
            (
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(2)),
                1
            ),
        ],
        "(operation timeout, attempt timeout, attempts) per call"
    );
}

/// A function that does not answer in time: the call ends at the caller's timeout (not the
/// client's) as `Unavailable` (it may have run), after one attempt.
#[tokio::test]
async fn an_answer_that_does_not_come_in_time_is_unavailable_at_the_callers_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let connections = Arc::new(Mutex::new(Vec::new()));
    let held = Arc::clone(&connections);
    // Accepts and never answers (the connections are kept open until the test ends).
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            held.lock().unwrap().push(stream);
        }
    });
    let conf = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(format!("http://{address}"))
        .retry_config(aws_adapters::retry_config())
        .timeout_config(aws_adapters::timeout_config())
        .build();
    let invoker = LambdaInvoker::new(Client::from_conf(conf));
    let started = Instant::now();
    let err = invoker
        .invoke("check", PAYLOAD, Duration::from_millis(500))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(matches!(&err, ServiceError::Unavailable { .. }), "{err:?}");
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        connections.lock().unwrap().len(),
        1,
        "one attempt, one connection"
    );
}
