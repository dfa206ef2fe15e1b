//! The skip binary under a stand-in Lambda Runtime API, against moto's DynamoDB and Step
//! Functions: the wiring of main.rs and its API route.

use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::model::{FailurePolicy, PauseReason, Timestamp};
use execution_core::ports::ExecutionStore;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use serde_json::json;
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::{proxy_body, run_function};

#[tokio::test]
async fn skip_passes_the_failed_wave_through_the_api() {
    // Wave 0 FAILED with policy PAUSE; the execution PAUSED for it (no workflow holds a token).
    let mut execution = fixtures::execution(&[1, 1]);
    for w in &mut execution.waves {
        w.on_failure = Some(FailurePolicy::Pause);
    }
    let w = &mut execution.waves[0];
    fixtures::give_job(w, fixtures::job(0), Timestamp(1_500));
    w.status = WaveStatus::Failed;
    w.end_time = Some(Timestamp(1_900));
    w.server_statuses[0].launch_status = LaunchStatus::Failed;
    execution.header.status = ExecutionStatus::Paused;
    execution.header.pause_reason = Some(PauseReason::WaveFailed);
    execution.header.failed_wave = Some(0);

    let (table, store) = store_holding("skip-binary", &execution).await;

    let event = |wave: u32| {
        json!({
            "version": "2.0", "rawPath": format!("/v1/executions/{E}/skip"),
            "requestContext": {"http": {"method": "POST", "path": format!("/v1/executions/{E}/skip")}},
            "pathParameters": {"executionId": E}, "queryStringParameters": {"planId": P},
            "body": json!({"waveNumber": wave}).to_string(), "isBase64Encoded": false
        })
    };
    let env = [("EXECUTIONS_TABLE", table.as_str())];
    let run = run_function(env!("CARGO_BIN_EXE_skip"), &env, vec![event(1), event(0)]);
    let answers = run.answers();
    assert_eq!(answers.len(), 2, "{}", run.output);
    let body = proxy_body;
    assert_eq!(
        (
            answers[0]["statusCode"].clone(),
            body(&answers[0])["error"].clone()
        ),
        (json!(400), json!("INVALID_STATE")),
        "wave 1 did not fail: {}",
        answers[0]
    );
    assert_eq!(answers[1]["statusCode"], 200, "{}", answers[1]);
    assert_eq!(
        (
            body(&answers[1])["status"].clone(),
            body(&answers[1])["waveStatus"].clone()
        ),
        (json!("POLLING"), json!("SKIPPED"))
    );
    let stored = store.load(fixtures::execution_id()).await.unwrap().unwrap();
    assert_eq!(
        (stored.status(), stored.waves[0].status),
        (ExecutionStatus::Polling, WaveStatus::Skipped)
    );
}
