use aws_adapters::StepFunctionsWorkflow;
use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessError, SendTaskSuccessOutput};
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
use aws_sdk_sfn::types::error::{
    ExecutionAlreadyExists, InvalidOutput, InvalidToken, TaskDoesNotExist, TaskTimedOut,
};
use aws_sdk_sfn::Client;
use aws_smithy_mocks::{mock, RuleMode};
use aws_smithy_types::DateTime;
use execution_core::api::WorkflowInput;
use execution_core::fixtures::{execution_id, plan_id};
use execution_core::ids::TaskToken;
use execution_core::ports::{ServiceError, Workflow, WorkflowError};
use serde_json::{json, Value};

use crate::common::meta;

const SECRET: &str = "AAAAKgAAAAIAAAAAAAAAAsecret-token-value";

fn token() -> TaskToken {
    TaskToken::parse(SECRET).unwrap()
}

#[tokio::test]
async fn send_task_success_hands_over_token_and_output() {
    let rule = mock!(Client::send_task_success)
        .match_requests(|r| {
            r.task_token() == Some(SECRET)
                && r.output()
                    .map(|o| serde_json::from_str::<Value>(o).unwrap())
                    == Some(json!({"resumed": true}))
        })
        .then_output(|| SendTaskSuccessOutput::builder().build());
    let wf = StepFunctionsWorkflow::new(mocked_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]));
    wf.send_task_success(&token(), &json!({"resumed": true}))
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn dead_tokens_map_to_distinct_errors() {
    let timed_out = mock!(Client::send_task_success)
        .then_error(|| SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().build()));
    let invalid = mock!(Client::send_task_success)
        .then_error(|| SendTaskSuccessError::InvalidToken(InvalidToken::builder().build()));
    let gone = mock!(Client::send_task_success)
        .then_error(|| SendTaskSuccessError::TaskDoesNotExist(TaskDoesNotExist::builder().build()));
    let wf = StepFunctionsWorkflow::new(mocked_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&timed_out, &invalid, &gone]
    ));
    let out = json!({});
    assert_eq!(
        wf.send_task_success(&token(), &out).await,
        Err(WorkflowError::TaskTimedOut)
    );
    assert_eq!(
        wf.send_task_success(&token(), &out).await,
        Err(WorkflowError::InvalidToken)
    );
    assert_eq!(
        wf.send_task_success(&token(), &out).await,
        Err(WorkflowError::TaskDoesNotExist)
    );
}

#[tokio::test]
async fn other_failures_are_service_errors_that_never_show_the_token() {
    let server = mock!(Client::send_task_success)
        .sequence()
        .http_status(500, None)
        .build();
    let invalid = mock!(Client::send_task_success).then_error(|| {
        SendTaskSuccessError::InvalidOutput(
            InvalidOutput::builder()
                .message("bad output")
                .meta(meta("InvalidOutput", "bad output"))
                .build(),
        )
    });
    let wf = StepFunctionsWorkflow::new(mocked_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&server, &invalid]
    ));
    let e1 = wf
        .send_task_success(&token(), &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(e1, WorkflowError::Service(ServiceError::Unavailable { .. })),
        "{e1:?}"
    );
    let e2 = wf
        .send_task_success(&token(), &json!({}))
        .await
        .unwrap_err();
    assert!(
        matches!(e2, WorkflowError::Service(ServiceError::Rejected(_))),
        "{e2:?}"
    );
    for e in [e1, e2] {
        assert!(!format!("{e} {e:?}").contains("secret-token"), "{e}");
    }
}

#[tokio::test]
async fn start_execution_is_named_after_the_execution() {
    let rule = mock!(Client::start_execution)
        .match_requests(|r| {
            let input: Value = serde_json::from_str(r.input().unwrap_or("null")).unwrap();
            r.state_machine_arn() == Some("arn:aws:states:us-east-1:123456789012:stateMachine:drs")
                && r.name() == Some(execution_id().to_string().as_str())
                && input == json!({"executionId": execution_id(), "planId": plan_id(), "pollIntervalSeconds": 15})
        })
        .then_output(|| {
            StartExecutionOutput::builder().execution_arn("arn:aws:states:us-east-1:123456789012:execution:drs:run").start_date(DateTime::from_secs(0)).build().unwrap()
        });
    let exists = mock!(Client::start_execution).then_error(|| {
        StartExecutionError::ExecutionAlreadyExists(
            ExecutionAlreadyExists::builder()
                .message("exists")
                .meta(meta("ExecutionAlreadyExists", "exists"))
                .build(),
        )
    });
    let wf = StepFunctionsWorkflow::new(mocked_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&rule, &exists]
    ));
    let input = WorkflowInput {
        execution_id: execution_id(),
        plan_id: plan_id(),
        poll_interval_seconds: Some(execution_core::api::PollInterval::new(15).unwrap()),
        run_prefix: None,
    };
    let arn = wf
        .start_execution(
            "arn:aws:states:us-east-1:123456789012:stateMachine:drs",
            &input,
        )
        .await
        .unwrap();
    assert_eq!(
        arn,
        "arn:aws:states:us-east-1:123456789012:execution:drs:run"
    );
    let err = wf
        .start_execution(
            "arn:aws:states:us-east-1:123456789012:stateMachine:drs",
            &input,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Rejected(m) if m.contains("ExecutionAlreadyExists")));
}

const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:drs";

#[tokio::test]
async fn run_state_describes_the_recorded_run_or_the_first_run_of_the_execution() {
    use aws_sdk_sfn::operation::describe_execution::{
        DescribeExecutionError, DescribeExecutionOutput,
    };
    use aws_sdk_sfn::types::error::ExecutionDoesNotExist;
    use aws_sdk_sfn::types::ExecutionStatus;
    use execution_core::ports::{RunRef, RunState};

    let described = |status: ExecutionStatus, input: &'static str| {
        move || {
            DescribeExecutionOutput::builder()
                .execution_arn("arn")
                .state_machine_arn(MACHINE)
                .status(status.clone())
                .start_date(DateTime::from_secs(0))
                .input(input)
                .build()
                .unwrap()
        }
    };
    let running = mock!(Client::describe_execution)
        .match_requests(|r| {
            r.execution_arn() == Some("arn:aws:states:us-east-1:123456789012:execution:drs:run-1")
        })
        .then_output(described(ExecutionStatus::Running, "{}"));
    let first = format!(
        "arn:aws:states:us-east-1:123456789012:execution:drs:{}",
        execution_id()
    );
    let failed = mock!(Client::describe_execution)
        .match_requests(move |r| r.execution_arn() == Some(first.as_str()))
        .then_output(described(
            ExecutionStatus::Failed,
            r#"{"executionId":"x","pollIntervalSeconds":45,"run":2,"runPrefix":"p"}"#,
        ));
    let missing = mock!(Client::describe_execution)
        .match_requests(|r| {
            r.execution_arn() == Some("arn:aws:states:us-east-1:123456789012:execution:drs:p-r3")
        })
        .then_error(|| {
            DescribeExecutionError::ExecutionDoesNotExist(
                ExecutionDoesNotExist::builder()
                    .message("no such run")
                    .meta(meta("ExecutionDoesNotExist", "no such run"))
                    .build(),
            )
        });
    let wf = StepFunctionsWorkflow::new(mocked_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&running, &failed, &missing]
    ))
    .with_state_machine(MACHINE);
    let run = RunRef::Id("arn:aws:states:us-east-1:123456789012:execution:drs:run-1".into());
    assert_eq!(wf.run_state(&run).await, Ok(RunState::Running));
    assert_eq!(
        wf.run_state(&RunRef::FirstOf(execution_id())).await,
        Ok(RunState::Ended {
            status: "FAILED".into(),
            poll_interval_seconds: Some(45),
            run: Some(2),
            run_prefix: Some("p".into()),
        })
    );
    assert_eq!(
        wf.run_state(&RunRef::Named("p-r3".into())).await,
        Ok(RunState::Missing)
    );
}

#[tokio::test]
async fn start_run_names_the_run_and_takes_an_existing_one_as_started() {
    let name = format!("{}-h1200", execution_id());
    let expected_name = name.clone();
    let started = mock!(Client::start_execution)
        .match_requests(move |r| {
            let input: Value = serde_json::from_str(r.input().unwrap_or("null")).unwrap();
            r.state_machine_arn() == Some(MACHINE)
                && r.name() == Some(expected_name.as_str())
                && input
                    == json!({"executionId": execution_id(), "planId": plan_id(), "runPrefix": expected_name})
        })
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:drs:new")
                .start_date(DateTime::from_secs(0))
                .build()
                .unwrap()
        });
    let exists = mock!(Client::start_execution).then_error(|| {
        StartExecutionError::ExecutionAlreadyExists(
            ExecutionAlreadyExists::builder()
                .message("exists")
                .meta(meta("ExecutionAlreadyExists", "exists"))
                .build(),
        )
    });
    let wf = StepFunctionsWorkflow::new(mocked_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&started, &exists]
    ))
    .with_state_machine(MACHINE);
    let input = WorkflowInput {
        execution_id: execution_id(),
        plan_id: plan_id(),
        poll_interval_seconds: None,
        run_prefix: Some(name.clone()),
    };
    assert_eq!(
        wf.start_run(&input, &name).await,
        Ok("arn:aws:states:us-east-1:123456789012:execution:drs:new".to_owned())
    );
    // Someone else started it (a find that overlapped): the run of that name is the answer.
    assert_eq!(
        wf.start_run(&input, &name).await,
        Ok(format!(
            "arn:aws:states:us-east-1:123456789012:execution:drs:{name}"
        ))
    );
    // Without a state machine it cannot start anything.
    let bare = StepFunctionsWorkflow::new(mocked_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&started]
    ));
    assert!(matches!(
        bare.start_run(&input, &name).await,
        Err(WorkflowError::Service(ServiceError::Rejected(_)))
    ));
}
