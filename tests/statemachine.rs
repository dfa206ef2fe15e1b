//! infra/statemachine.asl.json executed by moto's Step Functions, its Lambda tasks answered by
//! canned replies in the functions' real answer shapes (built from execution-core's types). Each
//! test runs in a region of its own: moto's canned-reply queue is per region.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus as SfnStatus, HistoryEvent, HistoryEventType};
use aws_sdk_sfn::Client;
use execution_core::api::{
    FinalizeResponse, LaunchResponse, PauseResponse, PollResponse, PollWaves, WorkflowInput,
};
use execution_core::fixtures::{execution_id, job, plan_id};
use execution_core::rules::NextAction;
use execution_core::status::{ExecutionStatus, WaveStatus};
use execution_core::OperationError;
use serde_json::Value;
use workspace_tests::cfn::definition_text;
use workspace_tests::moto::{queue_lambda_replies, sfn_client};

const FUNCTIONS: [&str; 4] = [
    "PollFunctionArn",
    "LaunchFunctionArn",
    "PauseFunctionArn",
    "FinalizeFunctionArn",
];
const LIMIT: Duration = Duration::from_secs(60);

// ---- the functions' answers --------------------------------------------------------------------

fn poll(next: NextAction) -> Value {
    let status = if next == NextAction::Pause {
        ExecutionStatus::Paused
    } else {
        ExecutionStatus::Polling
    };
    serde_json::to_value(PollResponse {
        status_code: 200,
        execution_id: execution_id(),
        status,
        all_waves_complete: next == NextAction::Finalize,
        waves: PollWaves::Summary(vec![]),
        next_action: next,
        paused_before_wave: None,
        last_polled_time: None,
        warnings: vec![],
    })
    .unwrap()
}

fn launched(wave: u32) -> Value {
    serde_json::to_value(LaunchResponse {
        status_code: 200,
        execution_id: execution_id(),
        status: ExecutionStatus::Polling,
        wave_number: wave,
        wave_status: WaveStatus::Started,
        job_id: Some(job(wave as usize)),
        recovered: false,
    })
    .unwrap()
}

fn paused(before: u32) -> Value {
    serde_json::to_value(PauseResponse {
        status_code: 200,
        execution_id: execution_id(),
        status: ExecutionStatus::Paused,
        paused_before_wave: Some(before),
    })
    .unwrap()
}

fn finalized(status: ExecutionStatus) -> Value {
    serde_json::to_value(FinalizeResponse {
        status_code: 200,
        execution_id: execution_id(),
        status,
        total_waves: 3,
        already_finalized: false,
        recovery_time_seconds: None,
    })
    .unwrap()
}

fn internal_error() -> Value {
    serde_json::to_value(
        OperationError::Internal("execution store: service unavailable: 503".into()).body(),
    )
    .unwrap()
}

// ---- the paths ---------------------------------------------------------------------------------

const START: [&str; 2] = ["CheckInput", "Init"];
const POLL: [&str; 3] = ["Poll", "CheckPollAnswer", "RouteNextAction"];
const LAUNCH: [&str; 3] = ["Launch", "CheckLaunchAnswer", "WaitThenPoll"];
const WAIT: [&str; 1] = ["WaitThenPoll"];
const FINALIZE: [&str; 3] = ["Finalize", "CheckFinalizeAnswer", "RouteOutcome"];

fn path(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter().map(|s| (*s).to_owned()))
        .collect()
}

// ---- running one execution ---------------------------------------------------------------------

/// A state machine of the definition, its functions named in `region`.
async fn create_machine(sfn: &Client, region: &str) -> String {
    let mut definition = definition_text();
    for f in FUNCTIONS {
        definition = definition.replace(
            &format!("${{{f}}}"),
            &format!("arn:aws:lambda:{region}:123456789012:function:{f}"),
        );
    }
    let out = sfn
        .create_state_machine()
        .name(format!("execution-{}", uuid::Uuid::new_v4().simple()))
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/state-machine")
        .send()
        .await
        .expect("moto accepts the definition");
    out.state_machine_arn
}

async fn start(sfn: &Client, machine: &str, input: &Value) -> String {
    // Named, as StepFunctionsWorkflow names runs (moto also needs a name to tell runs apart).
    let name = uuid::Uuid::new_v4().to_string();
    let out = sfn
        .start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .expect("StartExecution");
    out.execution_arn
}

fn workflow_input() -> Value {
    serde_json::to_value(WorkflowInput {
        execution_id: execution_id(),
        plan_id: plan_id(),
        poll_interval_seconds: Some(0),
    })
    .unwrap()
}

async fn history(sfn: &Client, execution: &str) -> Vec<HistoryEvent> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let out = sfn
            .get_execution_history()
            .execution_arn(execution)
            .set_next_token(token)
            .send()
            .await
            .expect("GetExecutionHistory");
        events.extend(out.events);
        match out.next_token {
            Some(t) => token = Some(t),
            None => return events,
        }
    }
}

/// The names of the states entered, in order.
fn states_entered(events: &[HistoryEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| e.state_entered_event_details.as_ref())
        .map(|d| d.name.clone())
        .collect()
}

/// The parameters Step Functions handed to each Lambda task, in order.
fn task_parameters(events: &[HistoryEvent]) -> Vec<(String, Value)> {
    events
        .iter()
        .filter(|e| e.r#type == HistoryEventType::TaskScheduled)
        .filter_map(|e| e.task_scheduled_event_details.as_ref())
        .map(|d| {
            (
                d.resource.clone(),
                serde_json::from_str(&d.parameters).expect("JSON parameters"),
            )
        })
        .collect()
}

/// Waits for the run to park at the pause and returns the token its pause task carries.
async fn token_at_pause(sfn: &Client, execution: &str) -> String {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let events = history(sfn, execution).await;
        if let Some((_, params)) = task_parameters(&events)
            .into_iter()
            .find(|(resource, _)| resource == "invoke.waitForTaskToken")
        {
            return params["Payload"]["taskToken"]
                .as_str()
                .expect("the pause payload carries $$.Task.Token")
                .to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the run never reached its pause: {:?}",
        states_entered(&history(sfn, execution).await)
    );
}

/// Waits for the run to end; its status, error and path.
async fn outcome(sfn: &Client, execution: &str) -> (SfnStatus, Option<String>, Vec<String>) {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let out = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .expect("DescribeExecution");
        if out.status != SfnStatus::Running {
            let events = history(sfn, execution).await;
            return (out.status, out.error, states_entered(&events));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the run did not end within {LIMIT:?}: {:?}",
        states_entered(&history(sfn, execution).await)
    );
}

// ---- scenarios ---------------------------------------------------------------------------------

#[tokio::test]
async fn three_waves_with_a_pause_before_wave_2() {
    let region = "eu-west-1";
    let sfn = sfn_client(region);
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Launch),
            launched(0),
            poll(NextAction::Wait),
            poll(NextAction::Launch),
            launched(1),
            poll(NextAction::Pause),
            paused(2), // pause's own answer: the task waits for its token regardless
            poll(NextAction::Launch),
            launched(2),
            poll(NextAction::Finalize),
            finalized(ExecutionStatus::Completed),
        ],
    )
    .await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;

    // What resume does: complete the token pause stored.
    let token = token_at_pause(&sfn, &run).await;
    let output = serde_json::json!({"executionId": execution_id(), "status": "POLLING", "releasedBy": "resume"});
    sfn.send_task_success()
        .task_token(&token)
        .output(output.to_string())
        .send()
        .await
        .expect("SendTaskSuccess");

    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None));
    let want = path(&[
        &START,
        &POLL,
        &LAUNCH,
        &POLL,
        &WAIT,
        &POLL,
        &LAUNCH,
        &POLL,
        &["Pause"],
        &POLL,
        &LAUNCH,
        &POLL,
        &FINALIZE,
        &["RecoveryCompleted"],
    ]);
    assert_eq!(entered, want);

    // The functions were asked what their contracts say.
    let tasks = task_parameters(&history(&sfn, &run).await);
    let ops: Vec<&str> = tasks
        .iter()
        .map(|(_, p)| p["Payload"]["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "poll", "launch", "poll", "poll", "launch", "poll", "pause", "poll", "launch", "poll",
            "finalize"
        ]
    );
    for (resource, p) in &tasks {
        assert_eq!(p["Payload"]["executionId"], execution_id().to_string());
        assert_eq!(p["Payload"]["planId"], plan_id().to_string());
        match p["Payload"]["operation"].as_str() {
            Some("poll") => assert_eq!(
                p["Payload"]["summary"], true,
                "the state machine asks for the summary"
            ),
            Some("pause") => assert_eq!(resource, "invoke.waitForTaskToken"),
            _ => assert_eq!(resource, "invoke"),
        }
    }
}

#[tokio::test]
async fn a_failed_wave_ends_in_recovery_failed() {
    let region = "eu-west-2";
    let sfn = sfn_client(region);
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Launch),
            launched(0),
            poll(NextAction::Wait),
            poll(NextAction::Finalize),
            finalized(ExecutionStatus::Failed),
        ],
    )
    .await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!(
        (status, error.as_deref()),
        (SfnStatus::Failed, Some("RecoveryFailed"))
    );
    assert_eq!(
        entered,
        path(&[
            &START,
            &POLL,
            &LAUNCH,
            &POLL,
            &WAIT,
            &POLL,
            &FINALIZE,
            &["RecoveryFailed"]
        ])
    );
}

#[tokio::test]
async fn transient_500s_are_retried_and_the_count_starts_over_after_a_success() {
    let region = "eu-west-3";
    let sfn = sfn_client(region);
    queue_lambda_replies(
        region,
        &[
            internal_error(),
            poll(NextAction::Launch),
            internal_error(),
            internal_error(),
            launched(0),
            poll(NextAction::Finalize),
            internal_error(),
            finalized(ExecutionStatus::Completed),
        ],
    )
    .await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None));
    let poll_retry = [
        "Poll",
        "CheckPollAnswer",
        "CountPollFailure",
        "PollRetryAllowed",
        "WaitThenPoll",
    ];
    let poll_recovered = [
        "Poll",
        "CheckPollAnswer",
        "PollRecovered",
        "RouteNextAction",
    ];
    let launch_retry = [
        "Launch",
        "CheckLaunchAnswer",
        "CountLaunchFailure",
        "LaunchRetryAllowed",
        "WaitThenLaunch",
    ];
    let launch_recovered = [
        "Launch",
        "CheckLaunchAnswer",
        "LaunchRecovered",
        "WaitThenPoll",
    ];
    let finalize_retry = [
        "Finalize",
        "CheckFinalizeAnswer",
        "CountFinalizeFailure",
        "FinalizeRetryAllowed",
        "WaitThenFinalize",
    ];
    let want = path(&[
        &START,
        &poll_retry,
        &poll_recovered,
        &launch_retry,
        &launch_retry,
        &launch_recovered,
        &POLL,
        &finalize_retry,
        &FINALIZE,
        &["RecoveryCompleted"],
    ]);
    assert_eq!(entered, want);
}

#[tokio::test]
async fn a_500_that_persists_ends_the_run_after_three_retries() {
    let region = "eu-central-1";
    let sfn = sfn_client(region);
    // Five queued: the run must stop after the fourth, leaving one.
    queue_lambda_replies(region, &vec![internal_error(); 5]).await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!(
        (status, error.as_deref()),
        (SfnStatus::Failed, Some("PollKeptFailing"))
    );
    let retry = [
        "Poll",
        "CheckPollAnswer",
        "CountPollFailure",
        "PollRetryAllowed",
        "WaitThenPoll",
    ];
    let last = [
        "Poll",
        "CheckPollAnswer",
        "CountPollFailure",
        "PollRetryAllowed",
        "PollKeptFailing",
    ];
    assert_eq!(entered, path(&[&START, &retry, &retry, &retry, &last]));
}

#[tokio::test]
async fn a_rejected_request_fails_at_once_and_bad_input_is_refused() {
    let region = "ap-northeast-1";
    let sfn = sfn_client(region);
    let not_found =
        serde_json::to_value(OperationError::NotFound("execution not found".into()).body())
            .unwrap();
    queue_lambda_replies(region, &[not_found]).await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!(
        (status, error.as_deref()),
        (SfnStatus::Failed, Some("PollRejected")),
        "a 404 is not retried"
    );
    assert_eq!(
        entered,
        path(&[&START, &["Poll", "CheckPollAnswer", "PollRejected"]])
    );

    for input in [
        serde_json::json!({"planId": plan_id()}),
        serde_json::json!({"executionId": execution_id(), "planId": plan_id(), "pollIntervalSeconds": "soon"}),
    ] {
        let run = start(&sfn, &machine, &input).await;
        let (status, error, entered) = outcome(&sfn, &run).await;
        assert_eq!(
            (status, error.as_deref(), entered),
            (
                SfnStatus::Failed,
                Some("InvalidInput"),
                path(&[&["CheckInput", "InvalidInput"]])
            )
        );
    }
}

#[tokio::test]
async fn the_poll_interval_defaults_to_30_seconds() {
    let region = "ap-northeast-2";
    let sfn = sfn_client(region);
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Finalize),
            finalized(ExecutionStatus::Cancelled),
        ],
    )
    .await;
    let machine = create_machine(&sfn, region).await;
    let input = serde_json::json!({"executionId": execution_id(), "planId": plan_id()});
    let run = start(&sfn, &machine, &input).await;
    let (status, _, entered) = outcome(&sfn, &run).await;
    assert_eq!(
        status,
        SfnStatus::Succeeded,
        "a cancelled recovery is not a workflow failure"
    );
    assert_eq!(
        entered,
        path(&[
            &["CheckInput", "DefaultPollInterval", "Init"],
            &POLL,
            &FINALIZE,
            &["RecoveryCancelled"]
        ])
    );
    let events = history(&sfn, &run).await;
    let init = events
        .iter()
        .find_map(|e| {
            e.state_exited_event_details
                .as_ref()
                .filter(|d| d.name == "Init")
        })
        .expect("Init exited");
    let state: Value = serde_json::from_str(init.output.as_deref().unwrap()).unwrap();
    assert_eq!(state["pollIntervalSeconds"], 30);
}
