//! infra/statemachine.asl.json executed by moto's Step Functions. moto answers each Lambda task
//! with the next reply queued for its region (each test runs in a region of its own), so:
//!
//! - the first tests queue canned replies in the functions' real answer shapes (built from
//!   execution-core's types), to drive the definition through its error paths;
//! - the recovery scenarios queue the answers of the functions themselves: lambda-shell's handler
//!   over the ports each function's main builds, against drs-sim's DRS, EC2 and store. The test
//!   works out the calls the run will make (poll, then what nextAction says: the definition's
//!   dispatch), runs each function on them in that order, queues the answers, runs the state
//!   machine, and checks that it made exactly those calls and took the path they imply. At a
//!   pause the real token is handed to the real pause handler, and an operator's retry or skip
//!   releases the run through aws-adapters' Step Functions client. A drill whose plan sets
//!   `cleanupAfterSeconds` is cleaned up by the run after finalize, that long after. A plan's wave
//!   actions are run by the real act (poll's ACT), against stand-ins of the Lambda functions and
//!   SSM Automation runbooks they name, which count what they are asked.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_adapters::StepFunctionsWorkflow;
use aws_sdk_sfn::types::{ExecutionStatus as SfnStatus, HistoryEvent, HistoryEventType};
use aws_sdk_sfn::Client;
use drs_sim::{Api, FaultScript, Progression, Refusals, Sim, SimConfig, Spread, Timings};
use execution_core::api::{
    CleanupResponse, FinalizeResponse, LaunchResponse, Operation, PauseResponse, PollResponse,
    PollWaves,
};
use execution_core::audit::Actor;
use execution_core::fixtures::{self, execution_id, job, plan_id, server};
use execution_core::ids::TaskToken;
use execution_core::model::{CleanupState, Execution, FailurePolicy, PauseReason};
use execution_core::ops::Ports;
use execution_core::ports::{
    AutomationRequest, AutomationRunner, AutomationState, ExecutionStore, FunctionInvoker,
    InvokeAnswer, ServiceError, Workflow, WorkflowError,
};
use execution_core::rules::NextAction;
use execution_core::status::{ExecutionStatus, WaveStatus};
use execution_core::OperationError;
use lambda_shell::handlers;
use serde_json::{json, Value};
use workspace_tests::cfn::definition_text;
use workspace_tests::moto::{queue_lambda_replies, sfn_client};

const FUNCTIONS: [&str; 6] = [
    "PollFunctionArn",
    "LaunchFunctionArn",
    "PauseFunctionArn",
    "FinalizeFunctionArn",
    "CleanupFunctionArn",
    "ActFunctionArn",
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
        job_ids: vec![job(wave as usize)],
        recovered: false,
        retry_after_seconds: None,
        last_launch_error: None,
    })
    .unwrap()
}

fn paused(before: u32) -> Value {
    serde_json::to_value(PauseResponse {
        status_code: 200,
        execution_id: execution_id(),
        status: ExecutionStatus::Paused,
        paused_before_wave: Some(before),
        pause_reason: Some(PauseReason::Planned),
        failed_wave: None,
    })
    .unwrap()
}

fn finalized(status: ExecutionStatus) -> Value {
    finalized_drill(status, None)
}

/// finalize's answer for a drill whose plan sets `cleanupAfterSeconds` (`None`: it does not).
fn finalized_drill(status: ExecutionStatus, cleanup_after_seconds: Option<u64>) -> Value {
    serde_json::to_value(FinalizeResponse {
        status_code: 200,
        execution_id: execution_id(),
        status,
        total_waves: 3,
        already_finalized: false,
        recovery_time_seconds: None,
        cleanup_after_seconds,
    })
    .unwrap()
}

/// cleanup's answer: DRS is terminating the drill's instances.
/// cleanup's answer: DRS asked to terminate server 0's instance, or (`complete`) it is gone.
fn cleaned_up(complete: bool) -> Value {
    let (requested, terminated) = if complete {
        (vec![], vec![server(0)])
    } else {
        (vec![server(0)], vec![])
    };
    serde_json::to_value(CleanupResponse {
        status_code: 200,
        execution_id: execution_id(),
        status: ExecutionStatus::Completed,
        requested,
        terminated,
        gone: vec![],
        job_ids: vec![job(9)],
        complete,
        message: "DRS is terminating 1 recovery instance".into(),
    })
    .unwrap()
}

/// act's answer: wave 1's BEFORE_LAUNCH action ran and succeeded.
fn acted() -> Value {
    use execution_core::actions::{ActionKind, ActionStatus, ActionWhen};
    serde_json::to_value(execution_core::api::ActResponse {
        status_code: 200,
        execution_id: execution_id(),
        status: ExecutionStatus::Polling,
        wave_number: 1,
        wave_status: WaveStatus::Pending,
        action: "warm-up".into(),
        when: ActionWhen::BeforeLaunch,
        kind: ActionKind::Lambda,
        attempt: 1,
        action_status: ActionStatus::Succeeded,
        automation_execution_id: None,
        retry_after_seconds: None,
        error: None,
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

/// The run options' defaults (maxCyclesPerRun, run, runPrefix), one Init visit each.
const RUN_OPTIONS: [&str; 8] = [
    "Init",
    "DefaultMaxCyclesPerRun",
    "Init",
    "DefaultRun",
    "Init",
    "DefaultRunPrefix",
    "Init",
    "InitRun",
];
const START: [&str; 11] = [
    "CheckInput",
    "RoundPollInterval",
    "CheckWholePollInterval",
    "Init",
    "DefaultMaxCyclesPerRun",
    "Init",
    "DefaultRun",
    "Init",
    "DefaultRunPrefix",
    "Init",
    "InitRun",
];
const POLL: [&str; 3] = ["Poll", "CheckPollAnswer", "RouteNextAction"];
const LAUNCH: [&str; 5] = [
    "Launch",
    "CheckLaunchAnswer",
    "WaitThenPoll",
    "CountCycle",
    "HandOverDue",
];
const WAIT: [&str; 3] = ["WaitThenPoll", "CountCycle", "HandOverDue"];
/// act answered: poll again at once (no wait), the cycle counted.
const ACT: [&str; 4] = ["Act", "CheckActAnswer", "CountCycle", "HandOverDue"];
const PAUSE: [&str; 3] = ["CountPauseCycle", "PauseHandOverDue", "Pause"];
/// Finalize for an execution that is not cleaned up (no `cleanupAfterSeconds` in the answer).
const FINALIZE: [&str; 4] = [
    "Finalize",
    "CheckFinalizeAnswer",
    "CleanupDue",
    "RouteOutcome",
];
/// Finalize for a drill that is: the wait its plan asks for, then cleanup, then the outcome.
const FINALIZE_THEN_CLEAN_UP: [&str; 3] = ["Finalize", "CheckFinalizeAnswer", "CleanupDue"];
const CLEANUP: [&str; 7] = [
    "StartCleanup",
    "StartCleanupRounds",
    "WaitBeforeCleanup",
    "Cleanup",
    "CheckCleanupAnswer",
    "CleanupConfirmed",
    "RouteOutcome",
];
/// A cleanup that answered "not yet complete": a confirming call a poll interval later.
const CLEANUP_AGAIN: [&str; 7] = [
    "CleanupRecovered",
    "CountCleanupRound",
    "CleanupRoundsLeft",
    "WaitThenConfirmCleanup",
    "Cleanup",
    "CheckCleanupAnswer",
    "CleanupConfirmed",
];

fn path(parts: &[&[&str]]) -> Vec<String> {
    parts
        .iter()
        .flat_map(|p| p.iter().map(|s| (*s).to_owned()))
        .collect()
}

// ---- running one execution ---------------------------------------------------------------------

/// A state machine of the definition, its functions named in `region`.
/// The scenarios poll without waiting: for them the definition's shortest interval (5 s) is
/// lowered to 0, and only for them (`the_poll_interval_is_whole_seconds_from_5` runs the definition
/// as it is).
async fn create_machine(sfn: &Client, region: &str) -> String {
    create_machine_of(sfn, region, lowest_poll_interval(&definition_text(), 0)).await
}

/// The definition with CheckInput's shortest poll interval set to `secs`: the one
/// `NumericGreaterThanEquals` on `$.pollIntervalSeconds`, or the test fails. Edited as text:
/// moto's parser does not take every serialisation of the definition (a re-serialised one fails).
fn lowest_poll_interval(definition: &str, secs: u64) -> String {
    const BOUND: &str = "\"NumericGreaterThanEquals\": 5";
    let at: Vec<usize> = definition
        .match_indices(BOUND)
        .map(|(i, _)| i)
        .filter(|&i| definition[i.saturating_sub(100)..i].contains("\"$.pollIntervalSeconds\""))
        .collect();
    assert_eq!(
        at.len(),
        1,
        "CheckInput bounds pollIntervalSeconds from below once"
    );
    let edited = format!(
        "{}\"NumericGreaterThanEquals\": {secs}{}",
        &definition[..at[0]],
        &definition[at[0] + BOUND.len()..]
    );
    let parsed: Value = serde_json::from_str(&edited).expect("still JSON");
    assert!(
        parsed["States"]["CheckInput"]
            .to_string()
            .contains(&format!("\"NumericGreaterThanEquals\":{secs}")),
        "the bound edited is CheckInput's"
    );
    edited
}

async fn create_machine_of(sfn: &Client, region: &str, mut definition: String) -> String {
    for f in FUNCTIONS {
        definition = definition.replace(
            &format!("${{{f}}}"),
            &format!("arn:aws:lambda:{region}:123456789012:function:{f}"),
        );
    }
    let definition = definition.replace("${Partition}", "aws");
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

/// A workflow input with no wait between polls (below what `WorkflowInput` accepts: see
/// `create_machine`).
fn workflow_input() -> Value {
    json!({"executionId": execution_id(), "planId": plan_id(), "pollIntervalSeconds": 0})
}

async fn history(sfn: &Client, execution: &str) -> Vec<HistoryEvent> {
    sfn.get_execution_history()
        .execution_arn(execution)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .expect("GetExecutionHistory")
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
    let payload = pause_payload(sfn, execution).await;
    payload["taskToken"]
        .as_str()
        .expect("the pause payload carries $$.Task.Token")
        .to_owned()
}

/// Waits for the run to park at its (first) pause and returns the payload the pause function got.
async fn pause_payload(sfn: &Client, execution: &str) -> Value {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let events = history(sfn, execution).await;
        if let Some((_, params)) = task_parameters(&events)
            .into_iter()
            .find(|(resource, _)| resource == "invoke.waitForTaskToken")
        {
            return params["Payload"].clone();
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
        &PAUSE,
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
            Some("poll") => {
                assert_eq!(
                    p["Payload"]["summary"], true,
                    "the state machine asks for the summary"
                );
                assert_eq!(
                    p["Payload"]["workflowRun"],
                    run.as_str(),
                    "the run names itself to poll"
                );
            }
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
        "CountCycle",
        "HandOverDue",
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
        "CountCycle",
        "HandOverDue",
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

/// ACT: act is called, a transient failure waits and calls it again (counted; the count starts
/// over at its answer), and its answer polls again at once. A refusal that retrying cannot fix
/// ends the run.
#[tokio::test]
async fn act_is_retried_after_a_transient_failure_and_its_answer_polls_again_at_once() {
    let region = "il-central-1";
    let sfn = sfn_client(region);
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Act),
            internal_error(),
            acted(),
            poll(NextAction::Finalize),
            finalized(ExecutionStatus::Completed),
        ],
    )
    .await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None), "{entered:?}");
    let retried = [
        "Act",
        "CheckActAnswer",
        "CountActFailure",
        "ActRetryAllowed",
        "WaitThenAct",
    ];
    let recovered = [
        "Act",
        "CheckActAnswer",
        "ActRecovered",
        "CountCycle",
        "HandOverDue",
    ];
    assert_eq!(
        entered,
        path(&[
            &START,
            &POLL,
            &retried,
            &recovered,
            &POLL,
            &FINALIZE,
            &["RecoveryCompleted"]
        ])
    );
    let ops: Vec<String> = payloads_sent(&sfn, &run)
        .await
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    assert_eq!(ops, ["poll", "act", "act", "poll", "finalize"]);
    let scheduled = task_parameters(&history(&sfn, &run).await);
    let (resource, act) = &scheduled[1];
    assert_eq!(resource, "invoke");
    assert_eq!(
        act["FunctionName"],
        format!("arn:aws:lambda:{region}:123456789012:function:ActFunctionArn")
    );

    let refused =
        serde_json::to_value(OperationError::NotFound("execution not found".into()).body())
            .unwrap();
    queue_lambda_replies(region, &[poll(NextAction::Act), refused]).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!(
        (status, error.as_deref()),
        (SfnStatus::Failed, Some("ActRejected"))
    );
    assert_eq!(
        entered,
        path(&[&START, &POLL, &["Act", "CheckActAnswer", "ActRejected"]])
    );
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
        "CountCycle",
        "HandOverDue",
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

/// `pollIntervalSeconds` is whole seconds from 5 (`execution_core::api::PollInterval`): a
/// fraction, 0 or 4 is InvalidInput before the run polls; 5 and 30.0 are taken.
#[tokio::test]
async fn the_poll_interval_is_whole_seconds_from_5() {
    let region = "ap-southeast-1";
    let sfn = sfn_client(region);
    let machine = create_machine_of(&sfn, region, definition_text()).await;
    for bad in [json!(1.5), json!(0), json!(4), json!(5.5), json!(86_401)] {
        let input =
            json!({"executionId": execution_id(), "planId": plan_id(), "pollIntervalSeconds": bad});
        let run = start(&sfn, &machine, &input).await;
        let (status, error, entered) = outcome(&sfn, &run).await;
        assert_eq!(
            (status, error.as_deref()),
            (SfnStatus::Failed, Some("InvalidInput")),
            "{bad}: {entered:?}"
        );
        assert!(!entered.iter().any(|s| s == "Poll"), "{bad}: {entered:?}");
    }
    // A good interval passes CheckInput; poll then answers 404 and the run ends.
    let not_found =
        serde_json::to_value(OperationError::NotFound("execution not found".into()).body())
            .unwrap();
    queue_lambda_replies(region, &[not_found.clone(), not_found]).await;
    for good in [json!(5), json!(30.0)] {
        let input = json!({"executionId": execution_id(), "planId": plan_id(), "pollIntervalSeconds": good});
        let run = start(&sfn, &machine, &input).await;
        let (_, error, entered) = outcome(&sfn, &run).await;
        assert_eq!(
            error.as_deref(),
            Some("PollRejected"),
            "{good}: {entered:?}"
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
            &["CheckInput", "DefaultPollInterval"],
            &RUN_OPTIONS,
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

/// A drill whose plan sets `cleanupAfterSeconds`: finalize's answer carries it, the run waits that
/// long after finalize, then calls cleanup (retried after a transient failure, with a count of its
/// own), then ends with the drill's outcome, a failed one included. The same drill without it ends
/// at finalize, as before, and calls no cleanup.
#[tokio::test]
async fn a_drill_is_cleaned_up_after_finalize_when_its_plan_says_when() {
    let region = "eu-south-1";
    let sfn = sfn_client(region);
    let machine = create_machine(&sfn, region).await;
    let cleanup_payload = json!({"operation": "cleanup", "invokedBy": "workflow",
                                 "executionId": execution_id(), "planId": plan_id()});

    // Cleaned up one second after it completed; cleanup's first answer is a 500.
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Finalize),
            finalized_drill(ExecutionStatus::Completed, Some(1)),
            internal_error(),
            cleaned_up(false),
            cleaned_up(true),
        ],
    )
    .await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None), "{entered:?}");
    // A 500, then DRS asked (not yet complete), then a confirming call finds it complete.
    let retried = [
        "StartCleanup",
        "StartCleanupRounds",
        "WaitBeforeCleanup",
        "Cleanup",
        "CheckCleanupAnswer",
        "CountCleanupFailure",
        "CleanupRetryAllowed",
        "WaitThenCleanup",
        "Cleanup",
        "CheckCleanupAnswer",
        "CleanupConfirmed",
        "CleanupRecovered",
        "CountCleanupRound",
        "CleanupRoundsLeft",
        "WaitThenConfirmCleanup",
        "Cleanup",
        "CheckCleanupAnswer",
        "CleanupConfirmed",
        "RouteOutcome",
    ];
    assert_eq!(
        entered,
        path(&[
            &START,
            &POLL,
            &FINALIZE_THEN_CLEAN_UP,
            &retried,
            &["RecoveryCompleted"]
        ])
    );
    let sent = payloads_sent(&sfn, &run).await;
    let ops: Vec<&str> = sent.iter().map(|(op, _)| op.as_str()).collect();
    assert_eq!(ops, ["poll", "finalize", "cleanup", "cleanup", "cleanup"]);
    for (_, payload) in &sent[2..] {
        assert_eq!(payload, &cleanup_payload);
    }
    // The wait is the one finalize answered.
    let events = history(&sfn, &run).await;
    let waited = events
        .iter()
        .filter_map(|e| e.state_entered_event_details.as_ref())
        .find(|d| d.name == "WaitBeforeCleanup")
        .and_then(|d| d.input.as_deref())
        .map(|input| serde_json::from_str::<Value>(input).expect("JSON"))
        .expect("WaitBeforeCleanup entered with its input");
    assert_eq!(waited["finalize"]["answer"]["cleanupAfterSeconds"], 1);
    let entered_at = |name: &str| {
        events
            .iter()
            .find(|e| {
                e.state_entered_event_details
                    .as_ref()
                    .is_some_and(|d| d.name == name)
            })
            .map(|e| e.timestamp.to_millis().unwrap_or_default())
            .unwrap_or_else(|| panic!("{name} entered"))
    };
    assert!(
        entered_at("Cleanup") - entered_at("WaitBeforeCleanup") >= 1_000,
        "the run waited cleanupAfterSeconds before cleanup"
    );

    // A failed drill is cleaned up too (here at once), and still ends as a failure.
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Finalize),
            finalized_drill(ExecutionStatus::Failed, Some(0)),
            cleaned_up(true),
        ],
    )
    .await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!(
        (status, error.as_deref()),
        (SfnStatus::Failed, Some("RecoveryFailed")),
        "{entered:?}"
    );
    assert_eq!(
        entered,
        path(&[
            &START,
            &POLL,
            &FINALIZE_THEN_CLEAN_UP,
            &CLEANUP,
            &["RecoveryFailed"]
        ])
    );

    // Without cleanupAfterSeconds the run ends at finalize: no cleanup, no wait. The reply queued
    // after finalize's is left for no one.
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Finalize),
            finalized_drill(ExecutionStatus::Completed, None),
            cleaned_up(true),
        ],
    )
    .await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None));
    assert_eq!(
        entered,
        path(&[&START, &POLL, &FINALIZE, &["RecoveryCompleted"]])
    );
    let ops: Vec<String> = payloads_sent(&sfn, &run)
        .await
        .into_iter()
        .map(|(op, _)| op)
        .collect();
    assert_eq!(ops, ["poll", "finalize"]);

    // A cleanup refused for good fails the run (the execution has ended; an operator cleans up).
    let refused =
        serde_json::to_value(OperationError::NotFound("execution not found".into()).body())
            .unwrap();
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Finalize),
            finalized_drill(ExecutionStatus::Completed, Some(0)),
            refused,
        ],
    )
    .await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, _) = outcome(&sfn, &run).await;
    assert_eq!(
        (status, error.as_deref()),
        (SfnStatus::Failed, Some("CleanupRejected"))
    );
}

/// Continue as new, executed as deployed: each run's HandOver starts the next run itself
/// (`states:startExecution`, which scripts/moto_server.py teaches moto to name as Step Functions
/// does), and the execution completes in its third run.
#[tokio::test]
async fn an_execution_spans_three_runs_each_handing_over_to_the_next() {
    let region = "sa-east-1";
    let sfn = sfn_client(region);
    // One cycle back to poll per run: run 0 launches, run 1 waits, run 2 finalizes. A run makes
    // no Lambda call after its handover, so the next run's calls take the next replies.
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Launch),
            launched(0),
            poll(NextAction::Wait),
            poll(NextAction::Finalize),
            finalized(ExecutionStatus::Completed),
        ],
    )
    .await;
    let definition = lowest_poll_interval(&definition_text(), 0);
    let machine = create_machine_of(&sfn, region, definition).await;
    let mut input = workflow_input();
    input["maxCyclesPerRun"] = json!(1);
    let mut run = start(&sfn, &machine, &input).await;

    let hand_over = ["NextRun", "HandOver", "HandedOver"];
    let mut paths = Vec::new();
    for n in 0..3 {
        let (status, error, entered) = outcome(&sfn, &run).await;
        assert_eq!((status, error), (SfnStatus::Succeeded, None), "run {n}");
        let events = history(&sfn, &run).await;
        // The record names the run that conducts it: each run's polls carry its own id.
        let scheduled = scheduled_inputs(&events);
        for p in &scheduled {
            if p["Payload"]["operation"] == "poll" {
                assert_eq!(p["Payload"]["workflowRun"], run.as_str(), "run {n}");
            }
        }
        let after = entered
            .iter()
            .position(|s| s == "InitRun")
            .expect("InitRun");
        paths.push(entered[after + 1..].to_vec());
        if n == 2 {
            break;
        }
        // What HandOver asked Step Functions for: this state machine, the next name, same input.
        let ask = scheduled
            .iter()
            .find(|p| p.get("StateMachineArn").is_some())
            .unwrap_or_else(|| panic!("run {n} did not hand over: {entered:?}"));
        assert_eq!(ask["StateMachineArn"], machine.as_str());
        let name = format!("{}-r{}", execution_id(), n + 1);
        assert_eq!(ask["Name"], name.as_str());
        // The run it started, with that input.
        let next = format!(
            "{}:{name}",
            machine.replace(":stateMachine:", ":execution:")
        );
        let described = sfn
            .describe_execution()
            .execution_arn(&next)
            .send()
            .await
            .unwrap_or_else(|e| panic!("run {n} started no run {next}: {e:?}"));
        let next_input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
        for field in [
            "executionId",
            "planId",
            "pollIntervalSeconds",
            "maxCyclesPerRun",
        ] {
            assert_eq!(next_input[field], input[field], "{field}");
        }
        assert_eq!(next_input["run"], n + 1);
        assert_eq!(next_input["runPrefix"], execution_id().to_string());
        assert_eq!(
            next_input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"],
            run.as_str()
        );
        run = next;
    }
    assert_eq!(
        paths,
        [
            path(&[&POLL, &LAUNCH, &hand_over]),
            path(&[&POLL, &WAIT, &hand_over]),
            path(&[&POLL, &FINALIZE, &["RecoveryCompleted"]]),
        ],
        "each run hands over after one cycle; the third completes the execution"
    );
}

/// find does not poll PENDING executions; healing is all this test's find does.
struct NoPolls;

#[async_trait]
impl execution_core::ports::PollDispatch for NoPolls {
    async fn poll(
        &self,
        execution_id: execution_core::ids::ExecutionId,
        _plan_id: execution_core::ids::PlanId,
    ) -> Result<ExecutionStatus, execution_core::ports::DispatchError> {
        panic!("find polled {execution_id}, which is not POLLING")
    }
}

/// A run that ends mid-execution (here an operator's StopExecution while it waits at a pause) is
/// noticed by find once it has been silent for a while, and a new run of the definition as
/// deployed carries the execution on: the record names it and says why.
#[tokio::test]
async fn find_heals_an_execution_whose_run_was_stopped() {
    use aws_adapters::{create_table, DynamoDbStore, DEFAULT_STATUS_INDEX};
    use execution_core::model::Timestamp;
    use execution_core::ops::FindConfig;
    use execution_core::ports::{mocks::FixedClock, Touch};

    let region = "ca-central-1";
    let sfn = sfn_client(region);
    // Each run parks at its pause: poll says PAUSE and the pause task waits for its token.
    queue_lambda_replies(
        region,
        &[
            poll(NextAction::Pause),
            paused(1),
            poll(NextAction::Pause),
            paused(1),
        ],
    )
    .await;
    let machine = create_machine_of(&sfn, region, definition_text()).await;
    let dynamodb = workspace_tests::moto::dynamodb_client();
    let table = format!("heal-{}", uuid::Uuid::new_v4().simple());
    create_table(&dynamodb, &table, DEFAULT_STATUS_INDEX)
        .await
        .expect("CreateTable");
    let store = DynamoDbStore::new(dynamodb, table, DEFAULT_STATUS_INDEX.into());
    let clock = FixedClock::at_secs(10_000);
    let id = execution_id();
    execution_core::ops::create_execution(&store, &clock, &fixtures::plan(&[2, 2]), id)
        .await
        .expect("create");

    // The first run, named as `drctl start` names it; its poll names it on the record.
    let first = sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name(id.to_string())
        .input(
            json!({"executionId": id, "planId": plan_id(), "pollIntervalSeconds": 30}).to_string(),
        )
        .send()
        .await
        .expect("StartExecution")
        .execution_arn;
    wait_for_state(&sfn, &first, "Pause").await;
    store
        .touch(id, &Touch::poll(Timestamp(10_000), Some(&first)))
        .await
        .expect("touch");
    sfn.stop_execution()
        .execution_arn(&first)
        .send()
        .await
        .expect("StopExecution");

    let workflow = StepFunctionsWorkflow::new(sfn.clone()).with_state_machine(&machine);
    let policy = execution_core::rules::Policy::default();
    let config = FindConfig {
        concurrency: 4,
        deadline_millis: i64::MAX,
        poll_budget_millis: 0,
    };
    let find = |clock| {
        let ports = Ports::new(&store, clock, &policy)
            .with_workflow(&workflow)
            .with_find(&NoPolls, &config);
        async move { handlers::serve(Operation::Find, &ports, &json!({})).await }
    };

    // A minute later the run is not yet silent enough to be asked about.
    clock.set_secs(10_060);
    let answer = find(&clock).await;
    assert!(answer.get("restarts").is_none(), "{answer}");

    // Two minutes after its last poll it is: it has ended, so find starts a new run.
    clock.set_secs(10_120);
    eprintln!(
        "DEBUG state {:?}",
        workflow
            .run_state(&execution_core::ports::RunRef::Id(first.clone()))
            .await
    );
    eprintln!("DEBUG list {:?}", store.list_active(None).await);
    let answer = find(&clock).await;
    assert_eq!(answer["executionsRestarted"], 1, "{answer}");
    let new_run = answer["restarts"][0]["workflowRun"]
        .as_str()
        .unwrap_or_else(|| panic!("no new run: {answer}"))
        .to_owned();
    let name = format!("{id}-h10120");
    assert_eq!(
        new_run,
        format!(
            "{}:{name}",
            machine.replace(":stateMachine:", ":execution:")
        )
    );
    let described = sfn
        .describe_execution()
        .execution_arn(&new_run)
        .send()
        .await
        .expect("DescribeExecution");
    assert_eq!(described.status, SfnStatus::Running);
    let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(
        (
            &input["executionId"],
            &input["planId"],
            &input["runPrefix"],
            &input["pollIntervalSeconds"]
        ),
        (&json!(id), &json!(plan_id()), &json!(name), &json!(30)),
        "the new run carries the execution on from its record"
    );
    wait_for_state(&sfn, &new_run, "Pause").await;

    let record = store.load(id).await.unwrap().unwrap();
    assert_eq!(
        record.header.workflow_run.as_deref(),
        Some(new_run.as_str())
    );
    assert_eq!(record.header.restarts, [Timestamp(10_120)]);
    let message = record.header.status_message.unwrap_or_default();
    assert!(
        message.contains("ABORTED") && message.contains("restarted by find"),
        "{message}"
    );

    // The new run is alive and has just been named: the next find leaves it alone.
    clock.set_secs(10_180);
    let answer = find(&clock).await;
    assert!(answer.get("restarts").is_none(), "{answer}");
    assert_eq!(
        store.load(id).await.unwrap().unwrap().header.restarts.len(),
        1
    );
}

/// Waits until the run has entered `state` (and not left the run).
async fn wait_for_state(sfn: &Client, run: &str, state: &str) {
    let deadline = Instant::now() + LIMIT;
    while Instant::now() < deadline {
        let events = history(sfn, run).await;
        if states_entered(&events).iter().any(|s| s == state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{run} did not reach {state}");
}

/// The input of every task a run scheduled: a service integration's parameters.
fn scheduled_inputs(events: &[HistoryEvent]) -> Vec<Value> {
    events
        .iter()
        .filter_map(|e| {
            e.task_scheduled_event_details
                .as_ref()
                .map(|d| d.parameters.clone())
        })
        .map(|raw| serde_json::from_str(&raw).expect("JSON parameters"))
        .collect()
}

// ---- the functions themselves ------------------------------------------------------------------

/// Seconds of simulated time a `WaitThenPoll` stands for.
const STEP_SECS: u64 = 20;

/// Releases of a parked run (retry, skip), held until the test has queued the answers of what the
/// run does next, then delivered to moto by [`Stack::deliver`].
#[derive(Default)]
struct Held(Mutex<Vec<(TaskToken, Value)>>);

#[async_trait]
impl Workflow for Held {
    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &Value,
    ) -> Result<(), WorkflowError> {
        self.0.lock().unwrap().push((token.clone(), output.clone()));
        Ok(())
    }

    async fn run_state(
        &self,
        run: &execution_core::ports::RunRef,
    ) -> Result<execution_core::ports::RunState, WorkflowError> {
        panic!("no function here asks about a run: {run:?}")
    }

    async fn start_run(
        &self,
        _input: &execution_core::api::WorkflowInput,
        name: &str,
    ) -> Result<String, WorkflowError> {
        panic!("no function here starts a run: {name}")
    }
}

/// What the run does once it has asked the functions what the script says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// It parks at the pause (poll said PAUSE).
    Parked,
    /// finalize answered with this status.
    Finished(String),
}

/// The calls a run makes, in order, with the functions' answers.
#[derive(Debug)]
struct Script {
    calls: Vec<(Operation, Value, Value)>,
    end: End,
}

impl Script {
    fn answers(&self) -> Vec<Value> {
        self.calls.iter().map(|(_, _, a)| a.clone()).collect()
    }

    /// The states the definition enters for these answers (after START, or after a pause).
    fn path(&self) -> Vec<String> {
        let mut parts: Vec<&[&str]> = Vec::new();
        let mut outcome: &[&str] = &[];
        let mut cleaned = false;
        for (op, _, answer) in &self.calls {
            match op {
                Operation::Poll => {
                    parts.push(&POLL);
                    match answer["nextAction"].as_str() {
                        Some("WAIT") => parts.push(&WAIT),
                        Some("PAUSE") => parts.push(&PAUSE),
                        _ => {}
                    }
                }
                Operation::Launch => parts.push(&LAUNCH),
                Operation::Act => parts.push(&ACT),
                Operation::Finalize => {
                    outcome = match answer["status"].as_str() {
                        Some("COMPLETED") => &["RecoveryCompleted"],
                        Some("COMPLETED_WITH_ERRORS") => &["RecoveryCompletedWithErrors"],
                        Some("FAILED") => &["RecoveryFailed"],
                        Some("CANCELLED") => &["RecoveryCancelled"],
                        other => panic!("finalize answered {other:?}"),
                    };
                    if answer.get("cleanupAfterSeconds").is_some() {
                        // The outcome is routed once cleanup has answered.
                        parts.push(&FINALIZE_THEN_CLEAN_UP);
                    } else {
                        parts.push(&FINALIZE);
                        parts.push(outcome);
                    }
                }
                Operation::Cleanup => {
                    parts.push(if cleaned {
                        &CLEANUP_AGAIN
                    } else {
                        &CLEANUP[..6]
                    });
                    cleaned = true;
                    if answer["complete"] != json!(false) {
                        parts.push(&["RouteOutcome"]);
                        parts.push(outcome);
                    }
                }
                other => panic!("the run does not call {other}"),
            }
        }
        path(&parts)
    }
}

/// The states a run enters from its start through `scripts`, one after the other.
fn run_path(scripts: &[&Script]) -> Vec<String> {
    let mut entered = path(&[&START]);
    for s in scripts {
        entered.extend(s.path());
    }
    entered
}

/// The plan's Lambda functions as act invokes them: every invocation recorded (function, input),
/// each answered with the next queued answer, `{"ok": true}` when none is queued.
#[derive(Default)]
struct Functions {
    calls: Mutex<Vec<(String, Value)>>,
    answers: Mutex<VecDeque<Value>>,
}

#[async_trait]
impl FunctionInvoker for Functions {
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        _timeout: Duration,
    ) -> Result<InvokeAnswer, ServiceError> {
        let input: Value = serde_json::from_slice(payload).expect("act invokes with JSON");
        self.calls
            .lock()
            .unwrap()
            .push((function.to_owned(), input));
        let answer = self
            .answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| json!({"ok": true}));
        Ok(InvokeAnswer {
            function_error: None,
            payload: answer.to_string().into_bytes(),
        })
    }
}

/// SSM Automation as act starts runbooks and poll follows them: every start recorded and given a
/// new id; each automation has succeeded by the time poll asks; nothing is stopped.
#[derive(Default)]
struct Runbooks {
    started: Mutex<Vec<AutomationRequest>>,
    stopped: Mutex<Vec<String>>,
}

#[async_trait]
impl AutomationRunner for Runbooks {
    async fn start_automation(&self, request: &AutomationRequest) -> Result<String, ServiceError> {
        let mut started = self.started.lock().unwrap();
        started.push(request.clone());
        Ok(format!("auto-{}", started.len()))
    }

    async fn automation(&self, id: &str) -> Result<Option<AutomationState>, ServiceError> {
        let started = self.started.lock().unwrap().len();
        let known = (1..=started).any(|n| format!("auto-{n}") == id);
        Ok(known.then(|| AutomationState {
            status: "Success".into(),
            failure_message: None,
        }))
    }

    async fn stop_automation(&self, id: &str) -> Result<(), ServiceError> {
        self.stopped.lock().unwrap().push(id.to_owned());
        Ok(())
    }
}

/// The stack's functions in-process, over one simulated DRS/EC2 world and one store; the wave
/// actions' functions and runbooks are [`Functions`] and [`Runbooks`].
struct Stack {
    sim: Sim,
    held: Held,
    functions: Functions,
    runbooks: Runbooks,
}

impl Stack {
    /// An execution of `sizes[i]` servers in wave `i` whose failed waves wait for a decision,
    /// created in the store; DRS jobs take about a minute and a half.
    async fn new(sizes: &[usize], faults: FaultScript) -> Self {
        Self::of_plan(fixtures::plan(sizes), faults).await
    }

    /// An execution of `plan` (its failed waves wait for a decision), created in the store.
    async fn of_plan(mut plan: execution_core::plan::Plan, faults: FaultScript) -> Self {
        let sim = Sim::new(SimConfig {
            progression: Progression::Timed(Timings {
                job_start: Spread::fixed(10),
                server_start: Spread::fixed(10),
                server_launch: Spread::fixed(60),
                job_complete_lag_secs: 10,
            }),
            faults,
            ..SimConfig::default()
        });
        plan.on_wave_failure = Some(FailurePolicy::Pause);
        let execution = plan
            .new_execution(execution_id(), sim.clock.now())
            .expect("a valid plan");
        sim.store.create(&execution, &[]).await.expect("created");
        Self {
            sim,
            held: Held::default(),
            functions: Functions::default(),
            runbooks: Runbooks::default(),
        }
    }

    /// The ports the function that serves `op` is built with (`lambdas/<op>/src/main.rs`).
    fn ports(&self, op: Operation) -> Ports<'_> {
        let sim = &self.sim;
        let ports = Ports::new(sim.store.as_ref(), sim.clock.as_ref(), &sim.policy);
        match op {
            // poll follows the runbooks act started (and stops one that outlived its timeout);
            // advance polls, then launches, with poll's clients.
            Operation::Poll | Operation::Advance => Ports {
                automation: Some(&self.runbooks),
                ..ports.with_drs(&sim.drs).with_ec2(&sim.ec2)
            },
            Operation::Launch | Operation::Cleanup => ports.with_drs(&sim.drs),
            Operation::Act => ports.with_actions(&self.functions, &self.runbooks),
            // The holds are kept by the store, as on AWS.
            Operation::Start => ports
                .with_drs(&sim.drs)
                .with_locks(sim.store.as_ref())
                .with_workflow(&self.held),
            Operation::Pause
            | Operation::Resume
            | Operation::Cancel
            | Operation::Retry
            | Operation::Skip => ports.with_workflow(&self.held),
            Operation::Finalize
            | Operation::Find
            | Operation::List
            | Operation::Get
            | Operation::Events => ports,
        }
    }

    /// The function that serves `op`, invoked with `event`.
    async fn invoke(&self, op: Operation, event: &Value) -> Value {
        handlers::serve(op, &self.ports(op), event).await
    }

    fn record(&self) -> Execution {
        self.sim.store.get(execution_id()).expect("the execution")
    }

    /// The run from its next poll until it parks or ends, as the definition dispatches: poll, then
    /// LAUNCH → launch and wait, ACT → act and poll at once, WAIT → wait, PAUSE → park, FINALIZE →
    /// finalize (then, for a drill whose plan sets `cleanupAfterSeconds`, that long later,
    /// cleanup) and end. A wait moves the simulated clock on by [`STEP_SECS`].
    async fn script(&self) -> Script {
        let target = json!({"executionId": execution_id(), "planId": plan_id()});
        let payload = |op: Operation| {
            let mut p = target.clone();
            p["operation"] = json!(op.as_str());
            p[Actor::FIELD] = json!("workflow");
            if op == Operation::Poll {
                p["summary"] = json!(true);
            }
            p
        };
        let mut calls = Vec::new();
        let mut call = async |op: Operation| {
            let p = payload(op);
            let answer = self.invoke(op, &p).await;
            assert_eq!(answer["statusCode"], 200, "{op}: {answer}");
            calls.push((op, p, answer.clone()));
            answer
        };
        for _ in 0..200 {
            let poll = call(Operation::Poll).await;
            match poll["nextAction"].as_str() {
                Some("WAIT") => self.sim.clock.advance_secs(STEP_SECS),
                Some("LAUNCH") => {
                    call(Operation::Launch).await;
                    self.sim.clock.advance_secs(STEP_SECS);
                }
                Some("ACT") => {
                    call(Operation::Act).await;
                }
                Some("PAUSE") => {
                    return Script {
                        calls,
                        end: End::Parked,
                    }
                }
                Some("FINALIZE") => {
                    let answer = call(Operation::Finalize).await;
                    let status = answer["status"].as_str().unwrap_or_default().to_owned();
                    // A drill whose plan says when: the run waits that long, then cleans up.
                    if let Some(delay) = answer["cleanupAfterSeconds"].as_u64() {
                        self.sim.clock.advance_secs(delay);
                        // Again a poll interval later until it is complete (at most 21 calls).
                        for _ in 0..21 {
                            let cleanup = call(Operation::Cleanup).await;
                            if cleanup["complete"] != json!(false) {
                                break;
                            }
                            self.sim.clock.advance_secs(STEP_SECS);
                        }
                    }
                    return Script {
                        calls,
                        end: End::Finished(status),
                    };
                }
                other => panic!("nextAction {other:?}: {poll}"),
            }
        }
        panic!("the execution neither parks nor ends after 200 polls")
    }

    /// Delivers the releases the functions made to moto, through the adapter the functions use.
    async fn deliver(&self, sfn: &Client) {
        let held = std::mem::take(&mut *self.held.0.lock().unwrap());
        assert_eq!(held.len(), 1, "one release per decision");
        let workflow = StepFunctionsWorkflow::new(sfn.clone());
        for (token, output) in held {
            workflow
                .send_task_success(&token, &output)
                .await
                .expect("moto takes the token the run parked with");
        }
    }
}

/// The IAM principal of [`api_call`]'s operator.
const OPERATOR_ARN: &str = "arn:aws:sts::123456789012:assumed-role/DrOperator/ana";

/// An operator's decision (retry or skip) on the failed wave 0, through the API: the answer's body.
async fn decide_wave_0(stack: &Stack, op: Operation) -> Value {
    let verb = op.as_str();
    let answer = stack
        .invoke(
            op,
            &api_call(verb, json!({"planId": plan_id(), "waveNumber": 0})),
        )
        .await;
    proxy_body(&answer)
}

/// An operator's call through the API: `POST /executions/{executionId}/{action}` (REST API),
/// signed by [`OPERATOR_ARN`].
fn api_call(action: &str, body: Value) -> Value {
    let path = format!("/executions/{}/{action}", execution_id());
    json!({
        "resource": format!("/executions/{{executionId}}/{action}"),
        "path": path,
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "requestContext": {"identity": {"userArn": OPERATOR_ARN}},
        "pathParameters": {"executionId": execution_id().to_string()},
        "queryStringParameters": null,
        "body": body.to_string(),
        "isBase64Encoded": false
    })
}

fn proxy_body(answer: &Value) -> Value {
    assert_eq!(answer["statusCode"], 200, "{answer}");
    workspace_tests::runtime_api::proxy_body(answer)
}

/// The payloads the run sent its tasks, with their operation. A poll's `workflowRun` (the run
/// naming itself, which the scripts, run before the run exists, cannot know) is checked here and
/// left out.
async fn payloads_sent(sfn: &Client, run: &str) -> Vec<(String, Value)> {
    task_parameters(&history(sfn, run).await)
        .into_iter()
        .map(|(_, p)| {
            let op = p["Payload"]["operation"].as_str().unwrap_or_default();
            let mut payload = p["Payload"].clone();
            if op == "poll" {
                let named = payload
                    .as_object_mut()
                    .and_then(|o| o.remove("workflowRun"));
                assert_eq!(named, Some(json!(run)), "poll names the run");
            }
            (op.to_owned(), payload)
        })
        .collect()
}

/// The scenario of a failed wave whose policy is PAUSE, up to the operator's decision: the run
/// parks, the real pause handler takes the real token and the record stands PAUSED for
/// WAVE_FAILED. Returns the payload the pause function got.
async fn park_on_failed_wave(sfn: &Client, stack: &Stack, run: &str, first: &Script) -> Value {
    let pause = pause_payload(sfn, run).await;
    let answer = stack.invoke(Operation::Pause, &pause).await;
    assert_eq!(
        (
            answer["statusCode"].clone(),
            answer["status"].clone(),
            answer["pauseReason"].clone(),
            answer["failedWave"].clone()
        ),
        (json!(200), json!("PAUSED"), json!("WAVE_FAILED"), json!(0)),
        "{answer}"
    );
    let record = stack.record();
    assert_eq!(record.status(), ExecutionStatus::Paused);
    assert_eq!(record.header.pause_reason, Some(PauseReason::WaveFailed));
    assert_eq!(record.header.failed_wave, Some(0));
    assert_eq!(record.waves[0].status, WaveStatus::Failed);
    assert_eq!(
        record.header.task_token.as_ref().map(|t| t.token.expose()),
        pause["taskToken"].as_str(),
        "the record holds the token the run parked with"
    );
    // While it waits for a decision, a resume is refused and the run stays parked.
    let resumed = stack
        .invoke(
            Operation::Resume,
            &api_call("resume", json!({"planId": plan_id()})),
        )
        .await;
    assert_eq!(resumed["statusCode"], 400, "{resumed}");
    let (status, _, entered) = describe(sfn, run).await;
    assert_eq!(status, SfnStatus::Running);
    assert_eq!(entered, run_path(&[first]));
    pause
}

async fn describe(sfn: &Client, run: &str) -> (SfnStatus, Option<String>, Vec<String>) {
    let out = sfn
        .describe_execution()
        .execution_arn(run)
        .send()
        .await
        .expect("DescribeExecution");
    let entered = states_entered(&history(sfn, run).await);
    (out.status, out.error, entered)
}

/// The run asked the functions exactly what the scripts say, the pause between them.
async fn assert_calls(sfn: &Client, run: &str, first: &Script, pause: &Value, second: &Script) {
    let want: Vec<(String, Value)> = first
        .calls
        .iter()
        .map(|(op, p, _)| (op.as_str().to_owned(), p.clone()))
        .chain([("pause".to_owned(), pause.clone())])
        .chain(
            second
                .calls
                .iter()
                .map(|(op, p, _)| (op.as_str().to_owned(), p.clone())),
        )
        .collect();
    assert_eq!(payloads_sent(sfn, run).await, want);
}

#[tokio::test]
async fn a_failed_wave_parks_the_run_until_an_operator_retries_it() {
    let region = "us-west-1";
    let sfn = sfn_client(region);
    // Wave 0's second server fails until the operator has seen to it.
    let mut faults = FaultScript::default();
    faults.failing_servers.insert(server(1));
    let stack = Stack::new(&[2, 1], faults).await;

    let first = stack.script().await;
    assert_eq!(first.end, End::Parked);
    queue_lambda_replies(region, &first.answers()).await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let pause = park_on_failed_wave(&sfn, &stack, &run, &first).await;

    // The operator fixes the server and retries the wave through the API.
    stack.sim.world.script_faults(|f| f.failing_servers.clear());
    let decided = decide_wave_0(&stack, Operation::Retry).await;
    assert_eq!(
        (
            decided["status"].clone(),
            decided["waveStatus"].clone(),
            decided["attempt"].clone(),
            decided["workflowReleased"].clone()
        ),
        (json!("POLLING"), json!("LAUNCHING"), json!(2), json!(true)),
        "{decided}"
    );
    assert_eq!(stack.record().header.task_token, None, "released");

    let second = stack.script().await;
    assert_eq!(second.end, End::Finished("COMPLETED".into()));
    assert_eq!(
        second.calls[0].2["nextAction"], "LAUNCH",
        "the retried wave is launched first"
    );
    queue_lambda_replies(region, &second.answers()).await;
    stack.deliver(&sfn).await;

    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None));
    assert_eq!(entered, run_path(&[&first, &second]));
    assert_calls(&sfn, &run, &first, &pause, &second).await;

    let record = stack.record();
    assert_eq!(record.status(), ExecutionStatus::Completed);
    assert!(record
        .waves
        .iter()
        .all(|w| w.status == WaveStatus::Completed));
    assert_eq!(
        record.waves[0].attempt, 2,
        "wave 0 completed on its second attempt"
    );
    assert_eq!(
        stack.sim.calls.count(Api::StartRecovery),
        3,
        "wave 0 twice (the retry for its failed server only), wave 1 once"
    );
    // The trail names who did what: the operator's retry by its IAM principal, the rest by the
    // workflow, and it chains to the record.
    let trail = stack.sim.store.trail(execution_id());
    assert!(execution_core::audit::check_trail(&record, &trail).is_empty());
    let by: Vec<(String, Actor)> = trail
        .iter()
        .filter(|e| e.operation != "start")
        .map(|e| (e.operation.clone(), e.actor.clone()))
        .collect();
    assert!(
        by.contains(&("retry".into(), Actor::Iam(OPERATOR_ARN.into()))),
        "{by:?}"
    );
    assert!(
        by.iter()
            .all(|(op, actor)| (op == "retry") == (*actor != Actor::Workflow)),
        "{by:?}"
    );
    let decisions: Vec<_> = trail.iter().filter_map(|e| e.decision).collect();
    assert_eq!(decisions, vec![execution_core::audit::Decision::WaveFailed]);
}

#[tokio::test]
async fn a_skipped_wave_lets_the_run_finish_completed_with_errors() {
    let region = "us-west-2";
    let sfn = sfn_client(region);
    let mut faults = FaultScript::default();
    faults.failing_servers.insert(server(0));
    let stack = Stack::new(&[1, 1], faults).await;

    let first = stack.script().await;
    assert_eq!(first.end, End::Parked);
    queue_lambda_replies(region, &first.answers()).await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let pause = park_on_failed_wave(&sfn, &stack, &run, &first).await;

    let decided = decide_wave_0(&stack, Operation::Skip).await;
    assert_eq!(
        (
            decided["status"].clone(),
            decided["waveStatus"].clone(),
            decided["workflowReleased"].clone()
        ),
        (json!("POLLING"), json!("SKIPPED"), json!(true)),
        "{decided}"
    );

    let second = stack.script().await;
    assert_eq!(second.end, End::Finished("COMPLETED_WITH_ERRORS".into()));
    queue_lambda_replies(region, &second.answers()).await;
    stack.deliver(&sfn).await;

    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!(
        (status, error),
        (SfnStatus::Succeeded, None),
        "the run reached the end: not a workflow failure"
    );
    assert_eq!(
        entered.last().map(String::as_str),
        Some("RecoveryCompletedWithErrors")
    );
    assert_eq!(entered, run_path(&[&first, &second]));
    assert_calls(&sfn, &run, &first, &pause, &second).await;

    let record = stack.record();
    assert_eq!(record.status(), ExecutionStatus::CompletedWithErrors);
    assert_eq!(
        record.waves.iter().map(|w| w.status).collect::<Vec<_>>(),
        [WaveStatus::Skipped, WaveStatus::Completed]
    );
}

#[tokio::test]
async fn a_launch_refused_for_now_is_ridden_out() {
    let region = "eu-north-1";
    let sfn = sfn_client(region);
    // StartRecovery is throttled once (DRS says when to come back), then refused once for a
    // quota of concurrent jobs (no time named: launch backs off on its own), then starts.
    let faults = FaultScript {
        quota_refusals: Refusals::new(1, None),
        ..FaultScript::default()
    };
    let stack = Stack::new(&[1, 1], faults).await;
    stack
        .sim
        .calls
        .throttle(Api::StartRecovery, 1, Some(Duration::from_secs(45)));

    let script = stack.script().await;
    assert_eq!(script.end, End::Finished("COMPLETED".into()));
    let launches: Vec<&Value> = script
        .calls
        .iter()
        .filter(|(op, _, _)| *op == Operation::Launch)
        .map(|(_, _, answer)| answer)
        .collect();
    assert_eq!(launches.len(), 4, "two refused, then one per wave");
    for refused in &launches[..2] {
        assert_eq!(refused["waveStatus"], "LAUNCHING", "{refused}");
        assert!(refused["retryAfterSeconds"].as_u64().is_some(), "{refused}");
    }
    assert_eq!(launches[0]["retryAfterSeconds"], 45, "DRS's own hint");
    assert_eq!(launches[2]["waveStatus"], "STARTED");
    // Between the refusal and the time it names, poll says WAIT.
    let after_first = script
        .calls
        .iter()
        .skip_while(|(op, _, _)| *op != Operation::Launch)
        .nth(1)
        .expect("a poll after the refused launch");
    assert_eq!(after_first.2["nextAction"], "WAIT", "{}", after_first.2);

    queue_lambda_replies(region, &script.answers()).await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None));
    assert_eq!(
        entered,
        run_path(&[&script]),
        "a refused launch is a 200: wait, poll, launch again; no retry counted, no failure"
    );
    let sent: Vec<(String, Value)> = payloads_sent(&sfn, &run).await;
    let want: Vec<(String, Value)> = script
        .calls
        .iter()
        .map(|(op, p, _)| (op.as_str().to_owned(), p.clone()))
        .collect();
    assert_eq!(sent, want);

    let record = stack.record();
    assert_eq!(record.status(), ExecutionStatus::Completed);
    assert_eq!(record.waves[0].launch_attempts, 3);
}

/// The functions themselves: a drill whose plan sets `cleanupAfterSeconds` is launched, polled and
/// finalized, and the run then waits and calls the real cleanup, which asks the simulated DRS to
/// terminate every recovery instance the drill launched and records it. The same drill without
/// the setting ends at finalize with its instances left running.
#[tokio::test]
async fn the_workflow_cleans_up_a_drill_with_the_real_functions_and_only_when_asked() {
    let region = "me-south-1";
    let sfn = sfn_client(region);
    let machine = create_machine(&sfn, region).await;
    for delay in [Some(1), None] {
        let mut plan = fixtures::plan(&[2, 1]);
        plan.cleanup_after_seconds = delay;
        let stack = Stack::of_plan(plan, FaultScript::default()).await;

        let script = stack.script().await;
        assert_eq!(script.end, End::Finished("COMPLETED".into()), "{delay:?}");
        let finalize = script
            .calls
            .iter()
            .find(|(op, _, _)| *op == Operation::Finalize)
            .map(|(_, _, answer)| answer.clone())
            .expect("finalized");
        assert_eq!(
            finalize["cleanupAfterSeconds"].as_i64(),
            delay,
            "finalize says when: {finalize}"
        );
        queue_lambda_replies(region, &script.answers()).await;
        let run = start(&sfn, &machine, &workflow_input()).await;
        let (status, error, entered) = outcome(&sfn, &run).await;
        assert_eq!((status, error), (SfnStatus::Succeeded, None), "{delay:?}");
        assert_eq!(entered, run_path(&[&script]), "{delay:?}");
        let sent = payloads_sent(&sfn, &run).await;
        let want: Vec<(String, Value)> = script
            .calls
            .iter()
            .map(|(op, p, _)| (op.as_str().to_owned(), p.clone()))
            .collect();
        assert_eq!(sent, want, "{delay:?}");

        let cleanups: Vec<&Value> = script
            .calls
            .iter()
            .filter(|(op, _, _)| *op == Operation::Cleanup)
            .map(|(_, _, answer)| answer)
            .collect();
        let record = stack.record();
        assert_eq!(record.status(), ExecutionStatus::Completed);
        let servers: Vec<_> = record
            .waves
            .iter()
            .flat_map(|w| &w.server_statuses)
            .collect();
        assert!(
            servers.iter().all(|s| s.recovery_instance_id.is_some()),
            "every server launched an instance: {servers:?}"
        );
        if delay.is_some() {
            assert!(
                cleanups.len() >= 2,
                "cleanup asks, then confirms: {cleanups:?}"
            );
            assert_eq!(
                sent.last().map(|(op, _)| op.as_str()),
                Some("cleanup"),
                "the last call"
            );
            let answer = cleanups[0];
            assert_eq!(
                answer["requested"].as_array().map(Vec::len),
                Some(3),
                "{answer}"
            );
            let last = cleanups[cleanups.len() - 1];
            assert_eq!(last["complete"], true, "{last}");
            assert_eq!(
                last["terminated"].as_array().map(Vec::len),
                Some(3),
                "{last}"
            );
            for server in &servers {
                let cleanup = server
                    .cleanup
                    .as_ref()
                    .unwrap_or_else(|| panic!("{} was not cleaned up", server.source_server_id));
                assert_eq!(cleanup.state, CleanupState::Terminated);
                assert!(cleanup.job_id.is_some(), "the TERMINATE job is recorded");
                assert!(
                    cleanup.terminated_time.is_some(),
                    "and when it was confirmed"
                );
                assert_eq!(
                    Some(&cleanup.recovery_instance_id),
                    server.recovery_instance_id.as_ref()
                );
            }
            let trail = stack.sim.store.trail(execution_id());
            assert!(
                trail
                    .iter()
                    .any(|e| e.operation == "cleanup" && e.actor == Actor::Workflow),
                "the cleanup is recorded as the workflow's"
            );
            assert!(execution_core::audit::check_trail(&record, &trail).is_empty());
        } else {
            assert!(cleanups.is_empty());
            assert!(sent.iter().all(|(op, _)| op != "cleanup"));
            assert!(
                servers.iter().all(|s| s.cleanup.is_none()),
                "a drill that does not ask keeps its instances"
            );
        }
    }
}

// ---- wave actions ------------------------------------------------------------------------------

const DNS_SWITCH: &str = "arn:aws:lambda:us-east-2:123456789012:function:dns-switch";

/// A wave action as a plan writes it.
fn plan_action(
    name: &str,
    when: &str,
    kind: &str,
    target: &str,
    parameters: Value,
    on_failure: &str,
) -> execution_core::actions::PlanAction {
    execution_core::actions::PlanAction {
        name: name.into(),
        when: when.into(),
        kind: kind.into(),
        target: target.into(),
        parameters: Some(parameters),
        timeout_seconds: Some(300),
        on_failure: Some(on_failure.into()),
    }
}

/// Two waves of one server: wave 0 switches DNS (a Lambda function) once it COMPLETED, with the
/// given policy; wave 1 warms its caches (an SSM runbook) before it launches.
fn plan_with_actions(dns_on_failure: &str) -> execution_core::plan::Plan {
    let mut plan = fixtures::plan(&[1, 1]);
    plan.waves[0].actions = vec![plan_action(
        "switch-dns",
        "AFTER_COMPLETE",
        "LAMBDA",
        DNS_SWITCH,
        json!({"zone": "corp.example"}),
        dns_on_failure,
    )];
    plan.waves[1].actions = vec![plan_action(
        "warm-up",
        "BEFORE_LAUNCH",
        "SSM_AUTOMATION",
        "DrsWarmUp",
        json!({"ExecutionId": "${executionId}"}),
        "FAIL",
    )];
    plan
}

/// The operations of the calls, in order, with the wave each launch and act answered for (and
/// when the act's action runs).
fn launches_and_acts(script: &Script) -> Vec<String> {
    script
        .calls
        .iter()
        .filter_map(|(op, _, answer)| match op {
            Operation::Launch => Some(format!("launch wave {}", answer["waveNumber"])),
            Operation::Act => Some(format!(
                "act wave {} {} {}",
                answer["waveNumber"],
                answer["when"].as_str().unwrap_or_default(),
                answer["action"].as_str().unwrap_or_default()
            )),
            _ => None,
        })
        .collect()
}

/// The definition as deployed runs a plan's wave actions where the plan puts them: poll says ACT,
/// the run calls act and polls again at once. Wave 0's AFTER_COMPLETE action runs once wave 0
/// completed (its servers launched), wave 1's BEFORE_LAUNCH action before wave 1's StartRecovery;
/// each runs exactly once (the runbook followed by poll until it succeeded), and the execution
/// completes.
#[tokio::test]
async fn wave_actions_run_after_their_wave_completed_and_before_the_next_launches() {
    let region = "af-south-1";
    let sfn = sfn_client(region);
    let stack = Stack::of_plan(plan_with_actions("FAIL"), FaultScript::default()).await;

    let script = stack.script().await;
    assert_eq!(script.end, End::Finished("COMPLETED".into()));
    assert_eq!(
        launches_and_acts(&script),
        [
            "launch wave 0",
            "act wave 0 AFTER_COMPLETE switch-dns",
            "act wave 1 BEFORE_LAUNCH warm-up",
            "launch wave 1",
        ],
        "each action where its plan puts it"
    );
    let acts: Vec<&Value> = script
        .calls
        .iter()
        .filter(|(op, _, _)| *op == Operation::Act)
        .map(|(_, _, answer)| answer)
        .collect();
    assert_eq!(
        (
            &acts[0]["waveStatus"],
            &acts[0]["type"],
            &acts[0]["actionStatus"]
        ),
        (&json!("COMPLETED"), &json!("LAMBDA"), &json!("SUCCEEDED")),
        "{}",
        acts[0]
    );
    assert_eq!(
        (
            &acts[1]["waveStatus"],
            &acts[1]["type"],
            &acts[1]["actionStatus"]
        ),
        (
            &json!("PENDING"),
            &json!("SSM_AUTOMATION"),
            &json!("RUNNING")
        ),
        "a runbook is started, then followed by poll: {}",
        acts[1]
    );
    assert_eq!(acts[1]["automationExecutionId"], "auto-1");

    queue_lambda_replies(region, &script.answers()).await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None), "{entered:?}");
    assert_eq!(entered, run_path(&[&script]));
    // The run's history: act between wave 0's launch and wave 1's, poll again at once after it.
    let sent = payloads_sent(&sfn, &run).await;
    let want: Vec<(String, Value)> = script
        .calls
        .iter()
        .map(|(op, p, _)| (op.as_str().to_owned(), p.clone()))
        .collect();
    assert_eq!(sent, want);
    let ops: Vec<&str> = sent.iter().map(|(op, _)| op.as_str()).collect();
    let at = |op: &str, nth: usize| {
        ops.iter()
            .enumerate()
            .filter(|(_, o)| **o == op)
            .nth(nth)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {op} #{nth} in {ops:?}"))
    };
    assert!(at("launch", 0) < at("act", 0), "{ops:?}");
    assert!(at("act", 0) < at("act", 1), "{ops:?}");
    assert!(at("act", 1) < at("launch", 1), "{ops:?}");
    assert_eq!(ops.iter().filter(|o| **o == "act").count(), 2, "{ops:?}");
    for (op, payload) in &sent {
        if op == "act" {
            assert_eq!(
                payload,
                &json!({"operation": "act", "invokedBy": "workflow",
                        "executionId": execution_id(), "planId": plan_id()})
            );
        }
    }
    let entered_acts: Vec<usize> = entered
        .iter()
        .enumerate()
        .filter(|(_, s)| *s == "Act")
        .map(|(i, _)| i)
        .collect();
    for i in entered_acts {
        assert_eq!(
            entered[i..i + 5],
            ["Act", "CheckActAnswer", "CountCycle", "HandOverDue", "Poll"],
            "poll again at once, no wait"
        );
    }

    // Each action ran exactly once, with what the execution knew then.
    let invoked = stack.functions.calls.lock().unwrap().clone();
    assert_eq!(invoked.len(), 1, "{invoked:?}");
    let (function, input) = &invoked[0];
    assert_eq!(function, DNS_SWITCH);
    assert_eq!(input["waveNumber"], 0);
    assert_eq!(
        input["action"],
        json!({"name": "switch-dns", "when": "AFTER_COMPLETE", "attempt": 1})
    );
    assert_eq!(input["parameters"], json!({"zone": "corp.example"}));
    assert!(
        input["servers"][0]["instanceId"].is_string(),
        "wave 0's server had launched: {input}"
    );
    let started = stack.runbooks.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1, "{started:?}");
    assert_eq!(started[0].document, "DrsWarmUp");
    assert_eq!(
        started[0].parameters.get("ExecutionId"),
        Some(&vec![execution_id().to_string()])
    );
    assert!(started[0]
        .tags
        .contains(&("drs-waves:action".to_owned(), "warm-up".to_owned())));
    assert!(stack.runbooks.stopped.lock().unwrap().is_empty());
    assert_eq!(
        stack.sim.calls.count(Api::StartRecovery),
        2,
        "one launch per wave"
    );

    let record = stack.record();
    assert_eq!(record.status(), ExecutionStatus::Completed);
    for (wave, name) in [(0, "switch-dns"), (1, "warm-up")] {
        let runs = &record.waves[wave].action_runs;
        assert_eq!(runs.len(), 1, "wave {wave}: {runs:?}");
        assert_eq!(runs[0].name, name);
        assert_eq!(
            runs[0].status,
            execution_core::actions::ActionStatus::Succeeded,
            "wave {wave}"
        );
    }
    assert_eq!(
        record.waves[1].action_runs[0]
            .automation_execution_id
            .as_deref(),
        Some("auto-1")
    );
    // The wave-1 runbook ran before the wave's launch: it ended before the wave started.
    let warmed = record.waves[1].action_runs[0]
        .end_time
        .expect("the runbook's end");
    let launched = record.waves[1].launch_time.expect("wave 1 launched");
    assert!(warmed <= launched, "{warmed:?} then {launched:?}");
}

/// An action whose policy is FAIL fails its wave (ACTION_FAILED): the run parks on the failed
/// wave as on any other (the wave's policy here is PAUSE) until an operator decides. A retry runs
/// the failed action again (its second attempt: the wave is not launched again), and the run goes
/// on to complete.
#[tokio::test]
async fn a_failed_action_parks_the_run_until_a_retry_runs_it_again() {
    let region = "ap-south-1";
    let sfn = sfn_client(region);
    let stack = Stack::of_plan(plan_with_actions("FAIL"), FaultScript::default()).await;
    stack
        .functions
        .answers
        .lock()
        .unwrap()
        .push_back(json!({"ok": false, "message": "the DNS zone is locked"}));

    let first = stack.script().await;
    assert_eq!(first.end, End::Parked);
    assert_eq!(
        launches_and_acts(&first),
        ["launch wave 0", "act wave 0 AFTER_COMPLETE switch-dns"]
    );
    let failed = first
        .calls
        .iter()
        .find(|(op, _, _)| *op == Operation::Act)
        .map(|(_, _, answer)| answer)
        .expect("act");
    assert_eq!(
        failed["statusCode"], 200,
        "the action failed, not act: {failed}"
    );
    assert_eq!(failed["actionStatus"], "FAILED", "{failed}");
    queue_lambda_replies(region, &first.answers()).await;
    let machine = create_machine(&sfn, region).await;
    let run = start(&sfn, &machine, &workflow_input()).await;
    let pause = park_on_failed_wave(&sfn, &stack, &run, &first).await;
    let record = stack.record();
    assert_eq!(
        record.waves[0].failure_reason,
        Some(execution_core::model::WaveFailure::ActionFailed)
    );
    assert_eq!(stack.sim.calls.count(Api::StartRecovery), 1, "wave 1 waits");

    let decided = decide_wave_0(&stack, Operation::Retry).await;
    assert_eq!(
        (
            decided["status"].clone(),
            decided["waveStatus"].clone(),
            decided["workflowReleased"].clone()
        ),
        (json!("POLLING"), json!("COMPLETED"), json!(true)),
        "back to where the action ran: {decided}"
    );

    let second = stack.script().await;
    assert_eq!(second.end, End::Finished("COMPLETED".into()));
    assert_eq!(
        launches_and_acts(&second),
        [
            "act wave 0 AFTER_COMPLETE switch-dns",
            "act wave 1 BEFORE_LAUNCH warm-up",
            "launch wave 1"
        ]
    );
    assert_eq!(
        second.calls[0].2["nextAction"], "ACT",
        "the retried action first"
    );
    queue_lambda_replies(region, &second.answers()).await;
    stack.deliver(&sfn).await;

    let (status, error, entered) = outcome(&sfn, &run).await;
    assert_eq!((status, error), (SfnStatus::Succeeded, None));
    assert_eq!(entered, run_path(&[&first, &second]));
    assert_calls(&sfn, &run, &first, &pause, &second).await;

    let invoked = stack.functions.calls.lock().unwrap().clone();
    let attempts: Vec<&Value> = invoked
        .iter()
        .map(|(_, input)| &input["action"]["attempt"])
        .collect();
    assert_eq!(attempts, [&json!(1), &json!(2)], "once per attempt");
    assert_eq!(stack.runbooks.started.lock().unwrap().len(), 1);
    assert_eq!(
        stack.sim.calls.count(Api::StartRecovery),
        2,
        "wave 0 is not launched again"
    );
    let record = stack.record();
    assert_eq!(record.status(), ExecutionStatus::Completed);
    let runs: Vec<(u32, execution_core::actions::ActionStatus)> = record.waves[0]
        .action_runs
        .iter()
        .map(|r| (r.attempt, r.status))
        .collect();
    assert_eq!(
        runs,
        [
            (1, execution_core::actions::ActionStatus::Failed),
            (2, execution_core::actions::ActionStatus::Succeeded)
        ]
    );
}
