//! `Workflow` on Step Functions task tokens, and starting a state machine run per execution.
//! The token is a bearer credential: it goes into the request and nowhere else (no log, no error).

use async_trait::async_trait;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::Client;
use execution_core::api::WorkflowInput;
use execution_core::ids::TaskToken;
use execution_core::ports::{ServiceError, Workflow, WorkflowError};

use crate::errors::{build_error, classify};

/// Step Functions limits on SendTaskFailure's `error` and `cause`.
const ERROR_MAX_CHARS: usize = 256;
const CAUSE_MAX_CHARS: usize = 32_768;

/// The task-token errors the core acts on, whichever operation returned them.
macro_rules! token_error {
    ($what:expr, $err:expr, $kind:ident) => {
        match $err.as_service_error() {
            Some($kind::TaskTimedOut(_)) => WorkflowError::TaskTimedOut,
            Some($kind::InvalidToken(_)) => WorkflowError::InvalidToken,
            Some($kind::TaskDoesNotExist(_)) => WorkflowError::TaskDoesNotExist,
            _ => WorkflowError::Service(classify($what, &$err)),
        }
    };
}

#[derive(Debug, Clone)]
pub struct StepFunctionsWorkflow {
    client: Client,
}

impl StepFunctionsWorkflow {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Starts the state machine for one execution, named after the executionId: Step Functions
    /// refuses a second run of that name (`ExecutionAlreadyExists` → `Rejected`), so an execution
    /// never gets two workflows; a retry with the same input while the run is live answers with
    /// the same run. Returns the run's ARN.
    pub async fn start_execution(
        &self,
        state_machine_arn: &str,
        input: &WorkflowInput,
    ) -> Result<String, ServiceError> {
        let what = "Step Functions StartExecution";
        let name = input.execution_id.to_string();
        let input = serde_json::to_string(input).map_err(|e| build_error(what, e))?;
        let out = self
            .client
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                // A quota on running executions: later, it may pass.
                Some(StartExecutionError::ExecutionLimitExceeded(x)) => ServiceError::Throttled {
                    retry_after: None,
                    message: format!(
                        "{what}: ExecutionLimitExceeded: {}",
                        x.message().unwrap_or_default()
                    ),
                },
                _ => classify(what, &e),
            })?;
        Ok(out.execution_arn)
    }
}

#[async_trait]
impl Workflow for StepFunctionsWorkflow {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError> {
        let what = "Step Functions SendTaskSuccess";
        self.client
            .send_task_success()
            .task_token(token.expose())
            .output(output.to_string())
            .send()
            .await
            .map_err(|e| token_error!(what, e, SendTaskSuccessError))?;
        Ok(())
    }

    async fn send_task_failure(
        &self,
        token: &TaskToken,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        let what = "Step Functions SendTaskFailure";
        self.client
            .send_task_failure()
            .task_token(token.expose())
            .error(clip(error, ERROR_MAX_CHARS))
            .cause(clip(cause, CAUSE_MAX_CHARS))
            .send()
            .await
            .map_err(|e| token_error!(what, e, SendTaskFailureError))?;
        Ok(())
    }
}

fn clip(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
