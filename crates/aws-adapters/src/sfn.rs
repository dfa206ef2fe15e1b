//! `Workflow` on Step Functions task tokens, and starting a state machine run per execution.
//! The token is a bearer credential: it goes into the request and nowhere else (no log, no error).

use async_trait::async_trait;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::Client;
use execution_core::api::WorkflowInput;
use execution_core::ids::TaskToken;
use execution_core::ports::{RunRef, RunState, ServiceError, Workflow, WorkflowError};

use crate::errors::{build_error, classify};

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
    /// The state machine whose runs `run_state` and `start_run` are about (find, restart).
    state_machine_arn: Option<String>,
}

impl StepFunctionsWorkflow {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            state_machine_arn: None,
        }
    }

    /// The workflow of this state machine: what `run_state` and `start_run` need.
    pub fn with_state_machine(mut self, arn: impl Into<String>) -> Self {
        self.state_machine_arn = Some(arn.into());
        self
    }

    fn machine(&self) -> Result<&str, WorkflowError> {
        self.state_machine_arn.as_deref().ok_or_else(|| {
            WorkflowError::Service(ServiceError::Rejected(
                "no state machine configured (STATE_MACHINE_ARN)".into(),
            ))
        })
    }

    /// The ARN of the run of this state machine named `name`:
    /// `arn:<partition>:states:<region>:<account>:execution:<machine name>:<name>`.
    fn run_arn(&self, name: &str) -> Result<String, WorkflowError> {
        let machine = self.machine()?;
        match machine.split_once(":stateMachine:") {
            Some((head, machine_name)) => Ok(format!("{head}:execution:{machine_name}:{name}")),
            None => Err(WorkflowError::Service(ServiceError::Rejected(format!(
                "'{machine}' is not a state machine ARN"
            )))),
        }
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
    /// DescribeExecution. A run Step Functions does not know is `Missing`; the poll interval of
    /// an ended run is read from its input, when that input says one.
    async fn run_state(&self, run: &RunRef) -> Result<RunState, WorkflowError> {
        let what = "Step Functions DescribeExecution";
        let arn = match run {
            RunRef::Id(arn) => arn.clone(),
            RunRef::FirstOf(execution) => self.run_arn(&execution.to_string())?,
            RunRef::Named(name) => self.run_arn(name)?,
        };
        let out = match self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return match e.as_service_error() {
                    Some(DescribeExecutionError::ExecutionDoesNotExist(_)) => Ok(RunState::Missing),
                    _ => Err(WorkflowError::Service(classify(what, &e))),
                }
            }
        };
        if out.status == ExecutionStatus::Running {
            return Ok(RunState::Running);
        }
        let input = out
            .input
            .as_deref()
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok())
            .unwrap_or_default();
        Ok(RunState::Ended {
            status: out.status.as_str().to_owned(),
            poll_interval_seconds: input.get("pollIntervalSeconds").and_then(|v| v.as_u64()),
            run: input.get("run").and_then(|v| v.as_u64()),
            run_prefix: input
                .get("runPrefix")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        })
    }

    /// StartExecution of this state machine. `ExecutionAlreadyExists` (a run of that name whose
    /// input differs, or which has ended): the names are derived and never reused, so someone else
    /// already started it, and its ARN is the answer.
    async fn start_run(&self, input: &WorkflowInput, name: &str) -> Result<String, WorkflowError> {
        let what = "Step Functions StartExecution";
        let machine = self.machine()?;
        let body = serde_json::to_string(input)
            .map_err(|e| WorkflowError::Service(build_error(what, e)))?;
        let sent = self
            .client
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(body)
            .send()
            .await;
        if let Err(e) = &sent {
            if let Some(StartExecutionError::ExecutionAlreadyExists(_)) = e.as_service_error() {
                return self.run_arn(name);
            }
        }
        let out = sent.map_err(|e| match e.as_service_error() {
            Some(StartExecutionError::ExecutionLimitExceeded(x)) => {
                WorkflowError::Service(ServiceError::Throttled {
                    retry_after: None,
                    message: format!(
                        "{what}: ExecutionLimitExceeded: {}",
                        x.message().unwrap_or_default()
                    ),
                })
            }
            _ => WorkflowError::Service(classify(what, &e)),
        })?;
        Ok(out.execution_arn)
    }

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
}
