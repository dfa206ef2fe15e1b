//! The commands that operate executions on AWS, through the same use cases the Lambdas run.
//! Configuration: the standard AWS environment, plus EXECUTIONS_TABLE (and STATUS_INDEX_NAME,
//! STATE_MACHINE_ARN for `start`).

use aws_adapters::{sdk_config, DynamoDbStore, Settings, StepFunctionsWorkflow, SystemClock};
use execution_core::api::{self, PauseRequest, Target, WorkflowInput};
use execution_core::error::OperationError;
use execution_core::ids::ExecutionId;
use execution_core::model::Execution;
use execution_core::ops;
use execution_core::ports::ExecutionStore;
use execution_core::rules::Policy;
use serde_json::{json, Value};

use crate::cli::{StartArgs, TargetArgs};
use crate::exit::{print_json, CliError, Exit};
use crate::plan_file;
use crate::report::Report;

/// The clients a command needs, built once.
struct Aws {
    settings: Settings,
    store: DynamoDbStore,
    workflow: StepFunctionsWorkflow,
}

async fn connect() -> Result<Aws, CliError> {
    let settings =
        Settings::from_env().map_err(|e| CliError::invalid(format!("configuration: {e}")))?;
    let config = sdk_config().await;
    let store = DynamoDbStore::from_settings(&config, &settings);
    let workflow = StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&config));
    Ok(Aws {
        settings,
        store,
        workflow,
    })
}

/// A refusal is the caller's to fix (exit 2); an internal error may pass on a retry (exit 4).
fn op_error(e: OperationError) -> CliError {
    let message = format!("{} {}: {e}", e.status_code(), e.code());
    if e.status_code() >= 500 {
        CliError::infrastructure(message)
    } else {
        CliError::invalid(message)
    }
}

pub async fn start(args: StartArgs, json: bool) -> Result<Exit, CliError> {
    let plan = plan_file::load(&args.plan)?;
    let problems = plan.problems();
    if !problems.is_empty() {
        return Err(plan_file::problems_error(&args.plan, &problems));
    }
    let aws = connect().await?;
    let arn = aws.settings.state_machine_arn.clone().ok_or_else(|| {
        CliError::invalid("configuration: environment variable STATE_MACHINE_ARN is not set")
    })?;
    let execution =
        ops::create_execution(&aws.store, &SystemClock, &plan, ExecutionId::new_random())
            .await
            .map_err(op_error)?;
    let input = WorkflowInput {
        execution_id: execution.id(),
        plan_id: plan.plan_id,
        poll_interval_seconds: args.poll_interval,
    };
    let run_arn = aws.workflow.start_execution(&arn, &input).await.map_err(|e| {
        CliError::infrastructure(format!(
            "execution {} was created (PENDING) but its state machine did not start: {e}; cancel it with `drctl cancel {} --plan {}` and start again",
            execution.id(),
            execution.id(),
            plan.plan_id
        ))
    })?;
    if json {
        print_json(
            &json!({"executionId": execution.id(), "planId": plan.plan_id, "status": execution.status(), "stateMachineExecutionArn": run_arn}),
        );
    } else {
        println!(
            "Started execution {} of plan {} ({} waves): {run_arn}",
            execution.id(),
            plan.plan_id,
            plan.waves.len()
        );
        println!(
            "Follow it with: drctl status {} --plan {}",
            execution.id(),
            plan.plan_id
        );
    }
    Ok(Exit::Success)
}

pub async fn status(args: TargetArgs, json: bool) -> Result<Exit, CliError> {
    let aws = connect().await?;
    let execution: Execution = aws
        .store
        .load(args.execution_id)
        .await
        .map_err(|e| op_error(e.into()))?
        .filter(|e| e.header.plan_id == args.plan_id)
        .ok_or_else(|| {
            CliError::invalid(format!(
                "404 NOT_FOUND: execution {} not found in plan {}",
                args.execution_id, args.plan_id
            ))
        })?;
    let report = Report::of(&execution);
    if json {
        print_json(&report);
    } else {
        print!("{}", report.to_text());
    }
    Ok(Exit::Success)
}

#[derive(Debug, Clone, Copy)]
pub enum Op {
    Pause,
    Resume,
    Cancel,
}

/// pause, resume or cancel, answered exactly as the Lambda (or API) would answer.
pub async fn operate(op: Op, args: TargetArgs, json: bool) -> Result<Exit, CliError> {
    let aws = connect().await?;
    let target = Target {
        execution_id: args.execution_id,
        plan_id: args.plan_id,
    };
    let answer: Value = match op {
        Op::Pause => {
            let request = PauseRequest {
                target,
                task_token: None,
            };
            api::answer(
                &ops::pause(
                    &aws.store,
                    &aws.workflow,
                    &SystemClock,
                    &Policy::default(),
                    &request,
                )
                .await,
            )
        }
        Op::Resume => api::answer(&ops::resume(&aws.store, &aws.workflow, &target).await),
        Op::Cancel => api::answer(&ops::cancel(&aws.store, &aws.workflow, &target).await),
    };
    let code = api::status_code_of(&answer);
    if json {
        print_json(&answer);
    } else if code == 200 {
        let before = answer
            .get("pausedBeforeWave")
            .or_else(|| answer.get("resumedBeforeWave"))
            .and_then(Value::as_u64);
        let before = before
            .map(|n| format!(" (before wave {n})"))
            .unwrap_or_default();
        println!(
            "Execution {}: {}{before}",
            args.execution_id,
            answer["status"].as_str().unwrap_or("?")
        );
    } else {
        eprintln!(
            "drctl: {} {}: {}",
            code,
            answer["error"].as_str().unwrap_or("ERROR"),
            answer["message"].as_str().unwrap_or("")
        );
    }
    Ok(Exit::for_status_code(code))
}
