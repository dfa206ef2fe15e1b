//! The cancel binary under a stand-in Lambda Runtime API, against moto's DynamoDB: the wiring of
//! main.rs and its API route.

use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::model::PauseReason;
use execution_core::ports::ExecutionStore;
use execution_core::status::ExecutionStatus;
use serde_json::json;
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::{proxy_body, run_function};

#[tokio::test]
async fn cancel_stops_an_execution_through_the_api() {
    // Paused by an operator before wave 1 (no workflow holds a token).
    let mut execution = fixtures::execution(&[1, 1]);
    execution.header.status = ExecutionStatus::Paused;
    execution.header.pause_reason = Some(PauseReason::Operator);
    execution.header.paused_before_wave = Some(0);

    let (table, store) = store_holding("cancel-binary", &execution).await;

    let event = |plan: &str| {
        json!({
            "version": "2.0", "rawPath": format!("/v1/executions/{E}/cancel"),
            "requestContext": {"http": {"method": "POST", "path": format!("/v1/executions/{E}/cancel")}},
            "pathParameters": {"executionId": E}, "queryStringParameters": {"planId": plan},
            "body": "{}", "isBase64Encoded": false
        })
    };
    let other_plan = "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00";
    let env = [("EXECUTIONS_TABLE", table.as_str())];
    let run = run_function(
        env!("CARGO_BIN_EXE_cancel"),
        &env,
        vec![event(other_plan), event(P), event(P)],
    );
    let answers = run.answers();
    assert_eq!(answers.len(), 3, "{}", run.output);
    let body = proxy_body;
    assert_eq!(
        (
            answers[0]["statusCode"].clone(),
            body(&answers[0])["error"].clone()
        ),
        (json!(404), json!("NOT_FOUND")),
        "another plan's id finds nothing: {}",
        answers[0]
    );
    for (n, answer) in answers[1..].iter().enumerate() {
        assert_eq!(answer["statusCode"], 200, "cancel {n}: {answer}");
        assert_eq!(body(answer)["status"], "CANCELLING", "cancel {n}");
    }
    let stored = store.load(fixtures::execution_id()).await.unwrap().unwrap();
    assert_eq!(stored.status(), ExecutionStatus::Cancelling);
    assert_eq!(stored.header.pause_reason, None);
}
