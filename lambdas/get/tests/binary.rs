//! The get binary under a stand-in Lambda Runtime API, against moto's DynamoDB: the wiring of
//! main.rs and its API route; the record's task token never leaves the table.

use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ids::TaskToken;
use execution_core::model::{HeldToken, PauseReason};
use execution_core::status::ExecutionStatus;
use serde_json::{json, Value};
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::{proxy_body, run_function};

const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAget+binary/token==";

/// `GET /executions/{id}?planId=` through an HTTP API.
fn get_event(id: &str, plan: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "GET /executions/{executionId}",
        "rawPath": format!("/v1/executions/{id}"), "rawQueryString": format!("planId={plan}"),
        "pathParameters": {"executionId": id}, "queryStringParameters": {"planId": plan},
        "requestContext": {"http": {"method": "GET", "path": format!("/v1/executions/{id}")}},
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn get_answers_the_record_without_its_token() {
    let mut execution = fixtures::execution(&[1, 1]);
    execution.header.status = ExecutionStatus::Paused;
    execution.header.paused_before_wave = Some(0);
    execution.header.pause_reason = Some(PauseReason::Planned);
    execution.header.task_token = Some(HeldToken {
        token: TaskToken::parse(TOKEN).unwrap(),
        release_pending: false,
    });
    let (table, _store) = store_holding("get-binary", &execution).await;
    let other = "11111111-2222-4333-8444-555555555555";
    let events = vec![get_event(E, P), get_event(E, other), get_event("nope", P)];
    let env = [("EXECUTIONS_TABLE", table.as_str())];
    let run = run_function(env!("CARGO_BIN_EXE_get"), &env, events);
    let answers = run.answers();
    assert_eq!(answers.len(), 3, "{}", run.output);

    assert_eq!(answers[0]["statusCode"], 200, "{}", answers[0]);
    let text = answers[0]["body"].as_str().unwrap();
    assert!(
        !text.contains(TOKEN) && !text.contains("taskToken"),
        "{text}"
    );
    let body = proxy_body(&answers[0]);
    assert_eq!(body["workflowWaiting"], true);
    assert_eq!(
        (
            body["execution"]["executionId"].clone(),
            body["execution"]["status"].clone()
        ),
        (json!(E), json!("PAUSED"))
    );
    assert!(!run.output.contains(TOKEN), "nor in the logs");

    assert_eq!(
        answers[1]["statusCode"], 404,
        "another plan's id finds nothing"
    );
    assert_eq!(answers[2]["statusCode"], 400, "an id that is no UUID");
    assert_eq!(proxy_body(&answers[2])["error"], "INVALID_PARAMETER");
}
