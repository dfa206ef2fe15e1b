//! SDK failures → the core's [`ServiceError`]: throttled, worth retrying, or refused.

use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use execution_core::ports::ServiceError;

/// Error codes that mean "slow down" across the services used here.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "KMSThrottlingException",
    // SNS: its own throttling, and KMS throttling on an encrypted topic.
    "Throttled",
    "KMSThrottling",
    "SlowDown",
];

/// Error codes of transient server-side failures sent with a 4xx status (or none).
const TRANSIENT_CODES: &[&str] = &[
    "InternalServerError",
    "InternalServerException",
    "InternalFailure",
    "InternalError",
    "ServiceException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
    // DynamoDB (HTTP 400): a transaction with the same client token is still being applied, as
    // when the SDK retries a TransactWriteItems whose first try is in flight. Whether it commits
    // is not yet known; a retry (a re-read, then a new commit) finds out.
    "TransactionInProgressException",
];

/// Classifies any SDK error: throttling codes and HTTP 429 → `Throttled`; 5xx, transient codes,
/// timeouts, connection failures and unreadable responses → `Unavailable`; everything else (4xx:
/// validation, access, missing resource) → `Rejected`. `what` names the call ("DRS DescribeJobs").
pub(crate) fn classify<E>(what: &str, err: &SdkError<E, HttpResponse>) -> ServiceError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let e = ctx.err();
            let code = e.code().unwrap_or_default();
            let message = service_message(what, code, e.message(), status);
            if status == 429 || THROTTLING_CODES.contains(&code) {
                ServiceError::Throttled {
                    retry_after: None,
                    message,
                }
            } else if status >= 500 || TRANSIENT_CODES.contains(&code) {
                ServiceError::unavailable(message)
            } else {
                ServiceError::Rejected(message)
            }
        }
        // A request this code could not even build will not build on a retry either.
        SdkError::ConstructionFailure(_) => {
            ServiceError::Rejected(format!("{what}: {}", DisplayErrorContext(err)))
        }
        // Timeouts, connection failures, responses that could not be read; and future kinds.
        _ => ServiceError::unavailable(format!("{what}: {}", DisplayErrorContext(err))),
    }
}

/// `Throttled` (refused for now, nothing done) with the service's own hint when it gave one (DRS
/// and Lambda send `retryAfterSeconds`). `status` is the answer's HTTP status, for the message.
pub(crate) fn throttled(
    what: &str,
    code: &str,
    message: Option<&str>,
    retry_after_seconds: Option<&str>,
    status: u16,
) -> ServiceError {
    let retry_after = retry_after_seconds
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    ServiceError::Throttled {
        retry_after,
        message: service_message(what, code, message, status),
    }
}

/// The HTTP status of the answer an error came with, if one came.
pub(crate) fn http_status<E>(err: &SdkError<E, HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

fn service_message(what: &str, code: &str, message: Option<&str>, status: u16) -> String {
    let code = if code.is_empty() { "error" } else { code };
    match message {
        Some(m) if !m.is_empty() => format!("{what}: {code}: {m} (HTTP {status})"),
        _ => format!("{what}: {code} (HTTP {status})"),
    }
}

/// An answer the service gave that this code cannot read (an id that does not parse, a missing
/// field). Reported as `Unavailable`, not `Rejected`: the request was accepted (a StartRecovery
/// may have started a job), so the caller must not act as if it had been refused.
pub(crate) fn unreadable(what: &str, detail: impl std::fmt::Display) -> ServiceError {
    ServiceError::unavailable(format!("{what}: unreadable answer: {detail}"))
}

/// A request this code refused to send (over a service limit): a caller's bug, never retried.
pub(crate) fn build_error(what: &str, err: impl std::fmt::Display) -> ServiceError {
    ServiceError::Rejected(format!("{what}: could not build the request: {err}"))
}

/// An error a service reported by code inside a successful answer (a failed entry of a batch
/// call): throttling codes → `Throttled`, transient codes → `Unavailable`, anything else →
/// `Rejected`, as [`classify`] does for a failed call.
pub(crate) fn by_code(code: &str, message: String) -> ServiceError {
    if THROTTLING_CODES.contains(&code) {
        ServiceError::Throttled {
            retry_after: None,
            message,
        }
    } else if TRANSIENT_CODES.contains(&code) {
        ServiceError::unavailable(message)
    } else {
        ServiceError::Rejected(message)
    }
}
