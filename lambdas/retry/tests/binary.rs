//! The retry binary under a stand-in Lambda Runtime API, against moto's DynamoDB and Step
//! Functions: the wiring of main.rs (the store, the workflow, MAX_WAVE_ATTEMPTS), the API route,
//! and a clear start-up failure on a limit the engine does not allow.

use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ids::TaskToken;
use execution_core::model::{Execution, FailurePolicy, HeldToken, PauseReason, Timestamp};
use execution_core::ports::ExecutionStore;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use serde_json::{json, Value};
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::run_function;

const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAretry+binary/token==";

/// Two waves whose policy is PAUSE; wave 0 FAILED on its first attempt, and the workflow parked
/// on it (PAUSED for WAVE_FAILED, its token held).
fn waiting_on_wave_0() -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    for w in &mut e.waves {
        w.on_failure = Some(FailurePolicy::Pause);
    }
    let w = &mut e.waves[0];
    fixtures::give_job(w, fixtures::job(0), Timestamp(1_500));
    w.status = WaveStatus::Failed;
    w.end_time = Some(Timestamp(1_900));
    w.server_statuses[0].launch_status = LaunchStatus::Failed;
    e.header.status = ExecutionStatus::Paused;
    e.header.pause_reason = Some(PauseReason::WaveFailed);
    e.header.failed_wave = Some(0);
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse(TOKEN).unwrap(),
        release_pending: false,
    });
    e
}

fn api_event(action: &str, body: Value) -> Value {
    json!({
        "httpMethod": "POST", "path": format!("/executions/{E}/{action}"),
        "pathParameters": {"executionId": E}, "body": body.to_string(), "isBase64Encoded": false
    })
}

#[tokio::test]
async fn retry_counts_attempts_from_its_setting_and_starts_the_next_one() {
    let (table, store) = store_holding("retry-binary", &waiting_on_wave_0()).await;
    let retry = json!({"operation": "retry", "executionId": E, "planId": P, "waveNumber": 0});

    // One attempt allowed: the wave has had it.
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("MAX_WAVE_ATTEMPTS", "1"),
    ];
    let run = run_function(env!("CARGO_BIN_EXE_retry"), &env, vec![retry.clone()]);
    let refused = run.answers();
    assert_eq!(refused.len(), 1, "{}", run.output);
    assert_eq!(
        (
            refused[0]["statusCode"].clone(),
            refused[0]["error"].clone()
        ),
        (json!(400), json!("INVALID_STATE")),
        "{}",
        refused[0]
    );
    let unchanged = store.load(fixtures::execution_id()).await.unwrap().unwrap();
    assert_eq!(unchanged.waves[0].status, WaveStatus::Failed);

    // The default (3), through the API: the wave's second attempt; the held token goes to Step
    // Functions (moto does not know it: the decision stands all the same). Another route is
    // refused.
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ];
    let events = vec![
        api_event("retry", json!({"planId": P, "waveNumber": 0})),
        api_event("skip", json!({"planId": P, "waveNumber": 0})),
    ];
    let run = run_function(env!("CARGO_BIN_EXE_retry"), &env, events);
    let answers = run.answers();
    assert_eq!(answers.len(), 2, "{}", run.output);
    assert_eq!(answers[0]["statusCode"], 200, "{}", answers[0]);
    let body = workspace_tests::runtime_api::proxy_body(&answers[0]);
    assert_eq!(
        (
            body["status"].clone(),
            body["waveStatus"].clone(),
            body["attempt"].clone()
        ),
        (json!("POLLING"), json!("LAUNCHING"), json!(2)),
        "{body}"
    );
    assert_eq!(answers[1]["statusCode"], 400);
    assert!(answers[1]["body"]
        .as_str()
        .unwrap()
        .contains("this function serves retry"));
    let stored = store.load(fixtures::execution_id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), ExecutionStatus::Polling);
    assert_eq!(
        (stored.waves[0].status, stored.waves[0].attempt),
        (WaveStatus::Launching, 2)
    );
    assert!(
        !run.output.contains(TOKEN) && !run.output.contains("retry+binary"),
        "the token reached the log:\n{}",
        run.output
    );
}

#[tokio::test]
async fn retry_refuses_to_start_with_a_limit_the_engine_does_not_allow() {
    for bad in ["0", "101", "three"] {
        let env = [("EXECUTIONS_TABLE", "t"), ("MAX_WAVE_ATTEMPTS", bad)];
        let run = run_function(
            env!("CARGO_BIN_EXE_retry"),
            &env,
            vec![json!({"operation": "retry"})],
        );
        let status = run.exited.expect("retry exits at start-up");
        assert!(!status.success());
        assert!(run.replies.is_empty());
        assert!(
            run.output.contains("MAX_WAVE_ATTEMPTS"),
            "the failure names the variable:\n{}",
            run.output
        );
    }
}
