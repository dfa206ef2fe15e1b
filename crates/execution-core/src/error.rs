//! The one error shape every operation answers with: `{statusCode, error, message}`.

use serde::Serialize;

use crate::ids::InvalidId;
use crate::lifecycle::InvalidTransition;
use crate::ports::{DispatchError, ServiceError, StoreError, WorkflowError};
use crate::preflight::{Preflight, PreflightProblem};
use crate::status::ExecutionStatus;

/// An operation's refusal or failure. Each case maps to one `statusCode` and one `error` code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationError {
    #[error("missing required parameter '{0}'")]
    MissingParameter(&'static str),
    #[error("invalid parameter '{field}': {reason}")]
    InvalidParameter { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidState(Refusal),
    #[error("{0}")]
    Conflict(String),
    /// The workflow refused a task token (timed out, invalid, gone). 409: the record already says
    /// what happened; retrying the same call will not help.
    #[error("{0}")]
    TokenRejected(String),
    /// Infrastructure failed (store, DRS, EC2, Lambda, Step Functions); retrying may help.
    #[error("{0}")]
    Internal(String),
    /// The pre-flight checks found problems: nothing was created or launched. 409 when a server
    /// is busy elsewhere (held by another execution, in a running DRS job): the same start works
    /// once that has ended; 400 otherwise.
    #[error("pre-flight refused the start: {}", .0.summary())]
    Preflight(Preflight),
}

impl OperationError {
    pub fn status_code(&self) -> u16 {
        match self {
            Self::MissingParameter(_) | Self::InvalidParameter { .. } | Self::InvalidState(_) => {
                400
            }
            Self::NotFound(_) => 404,
            Self::Conflict(_) | Self::TokenRejected(_) => 409,
            Self::Internal(_) => 500,
            Self::Preflight(p) if p.problems.iter().any(PreflightProblem::is_busy) => 409,
            Self::Preflight(_) => 400,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingParameter(_) => "MISSING_PARAMETER",
            Self::InvalidParameter { .. } => "INVALID_PARAMETER",
            Self::NotFound(_) => "NOT_FOUND",
            Self::InvalidState(_) => "INVALID_STATE",
            Self::Conflict(_) => "CONFLICT",
            Self::TokenRejected(_) => "TOKEN_REJECTED",
            Self::Internal(_) => "INTERNAL_ERROR",
            Self::Preflight(_) => "PREFLIGHT_FAILED",
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            status_code: self.status_code(),
            error: self.code(),
            message: self.to_string(),
            preflight: match self {
                Self::Preflight(p) => Some(p.clone()),
                _ => None,
            },
        }
    }

    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidParameter {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Why an operation refused to act on the execution as it stands (400 INVALID_STATE). Each reason
/// is data a test can match; its `Display` is the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("execution is {status}; a finished execution cannot be {verb}")]
    Finished {
        status: ExecutionStatus,
        verb: &'static str,
    },
    #[error("execution is {status}; only a PAUSED execution can be resumed")]
    NotPaused { status: ExecutionStatus },
    #[error("execution is paused because wave {wave} failed: decide with retry, skip or cancel (resume does not apply)")]
    WaitsForDecision { wave: u32 },
    #[error("execution is {status}; only a POLLING execution can be paused")]
    CannotPause { status: ExecutionStatus },
    #[error("no wave is left to pause before")]
    NothingToPauseBefore,
    #[error("execution is {status}; it can no longer be cancelled")]
    CannotCancel { status: ExecutionStatus },
    #[error("cannot finalize: not every wave is finished: {waves}")]
    Unfinished { waves: String },
    #[error("launch refused: nextAction is {next_action} ({why})")]
    LaunchNotDue {
        next_action: &'static str,
        why: String,
    },
    #[error("no wave is left to launch")]
    NothingToLaunch,
    #[error("act refused: nextAction is {next_action} ({why}); no wave action is due")]
    ActNotDue {
        next_action: &'static str,
        why: String,
    },
    /// retry of a failed action that has run as often as a wave may be attempted.
    #[error("action {action} of wave {wave} has run {runs} times; at most {max} runs are allowed (maxWaveAttempts, and never more than 10)")]
    ActionRunsExhausted {
        wave: u32,
        action: String,
        runs: u32,
        max: u32,
    },
    /// retry or skip while the execution does not wait on a decision about that wave.
    #[error("cannot {operation} wave {wave}: {waiting}")]
    NoDecisionPending {
        operation: &'static str,
        wave: u32,
        waiting: String,
    },
    #[error("wave {wave} has had {attempts} attempts, the most allowed (maxWaveAttempts {max}); skip or cancel it")]
    AttemptsExhausted { wave: u32, attempts: u32, max: u32 },
    #[error("execution has no wave {wave}")]
    NoSuchWave { wave: u32 },
    /// A restart while the workflow run that conducts the execution is still running.
    #[error("the workflow run {run} is still running; only an execution whose run has ended can be restarted")]
    RunStillRunning { run: String },
    /// cleanup of a real recovery: its instances are production now.
    #[error("execution is a recovery, not a drill: its recovery instances are production and cleanup never terminates them")]
    CleanupOfRecovery,
    /// cleanup before the execution ended.
    #[error("execution is {status}; cleanup terminates a drill's instances only once it has ended (cancel it first to stop it)")]
    CleanupBeforeEnd { status: ExecutionStatus },
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
}

/// The seed's error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub status_code: u16,
    pub error: &'static str,
    pub message: String,
    /// A refused start: every problem and warning, as data.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub preflight: Option<Preflight>,
}

impl From<Refusal> for OperationError {
    fn from(r: Refusal) -> Self {
        Self::InvalidState(r)
    }
}

impl From<InvalidTransition> for OperationError {
    fn from(e: InvalidTransition) -> Self {
        Self::InvalidState(Refusal::Transition(e))
    }
}

impl From<InvalidId> for OperationError {
    fn from(e: InvalidId) -> Self {
        Self::InvalidParameter {
            field: e.field.to_owned(),
            reason: format!("not a valid {}: {}", e.kind, e.reason),
        }
    }
}

impl From<ServiceError> for OperationError {
    fn from(e: ServiceError) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<StoreError> for OperationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => {
                Self::Conflict("the execution changed while this operation ran; retry".into())
            }
            StoreError::Corrupt(m) => Self::Internal(format!("execution record unreadable: {m}")),
            StoreError::Service(s) => Self::Internal(format!("execution store: {s}")),
        }
    }
}

impl From<WorkflowError> for OperationError {
    fn from(e: WorkflowError) -> Self {
        match e {
            WorkflowError::Service(s) => Self::Internal(format!("Step Functions: {s}")),
            dead => Self::TokenRejected(format!("Step Functions refused the task token: {dead}")),
        }
    }
}

impl From<DispatchError> for OperationError {
    fn from(e: DispatchError) -> Self {
        Self::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_its_code_and_status() {
        let cases = [
            (
                OperationError::MissingParameter("executionId"),
                400,
                "MISSING_PARAMETER",
            ),
            (
                OperationError::invalid("planId", "x"),
                400,
                "INVALID_PARAMETER",
            ),
            (OperationError::NotFound("x".into()), 404, "NOT_FOUND"),
            (
                OperationError::InvalidState(Refusal::NothingToLaunch),
                400,
                "INVALID_STATE",
            ),
            (OperationError::Conflict("x".into()), 409, "CONFLICT"),
            (
                OperationError::TokenRejected("x".into()),
                409,
                "TOKEN_REJECTED",
            ),
            (OperationError::Internal("x".into()), 500, "INTERNAL_ERROR"),
        ];
        for (e, status, code) in cases {
            let body = serde_json::to_value(e.body()).unwrap();
            assert_eq!(body["statusCode"], status);
            assert_eq!(body["error"], code);
            assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert_eq!(body.as_object().unwrap().len(), 3);
        }
    }

    #[test]
    fn invalid_ids_name_their_field() {
        let e: OperationError = crate::ids::ExecutionId::parse("nope").unwrap_err().into();
        assert_eq!(e.code(), "INVALID_PARAMETER");
        assert!(e.to_string().contains("executionId"));
    }

    #[test]
    fn dead_tokens_and_service_failures_map_apart() {
        assert_eq!(
            OperationError::from(WorkflowError::TaskTimedOut).code(),
            "TOKEN_REJECTED"
        );
        assert_eq!(
            OperationError::from(WorkflowError::InvalidToken).code(),
            "TOKEN_REJECTED"
        );
        let svc = WorkflowError::Service(ServiceError::unavailable("503"));
        assert_eq!(OperationError::from(svc).code(), "INTERNAL_ERROR");
        assert_eq!(
            OperationError::from(StoreError::Conflict).status_code(),
            409
        );
    }
}
