//! The events binary under a stand-in Lambda Runtime API, against moto's DynamoDB: the wiring of
//! main.rs and its API route, over a trail written through the audit.

use execution_core::audit::Actor;
use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ids::ExecutionId;
use execution_core::model::Timestamp;
use execution_core::ops::Audited;
use execution_core::plan::Plan;
use execution_core::ports::mocks::FixedClock;
use execution_core::ports::ExecutionStore;
use serde_json::{json, Value};
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::{proxy_body, run_function};

const CALLER: &str = "arn:aws:iam::123456789012:user/operator";
const AUDITED: &str = "11111111-2222-4333-8444-555555555555";

/// `GET /executions/{id}/events` through a REST API.
fn events_event(id: &str, query: Value) -> Value {
    json!({
        "resource": "/executions/{executionId}/events",
        "path": format!("/executions/{id}/events"), "httpMethod": "GET",
        "pathParameters": {"executionId": id}, "queryStringParameters": query,
        "requestContext": {"identity": {"userArn": CALLER}},
        "isBase64Encoded": false
    })
}

#[tokio::test]
async fn events_answer_the_trail() {
    // The fixture's execution as version 1 wrote it (no trail), and one created through the audit.
    let (table, store) = store_holding("events-binary", &fixtures::execution(&[1])).await;
    let plan: &Plan = &fixtures::plan(&[1]);
    let audited = plan
        .new_execution(ExecutionId::parse(AUDITED).unwrap(), Timestamp(1000))
        .unwrap();
    let clock = FixedClock::at_secs(1_000);
    Audited::new(&store, &clock, Actor::Iam(CALLER.into()), "start")
        .create(&audited, &[])
        .await
        .expect("created with its event");

    let events = vec![
        events_event(AUDITED, json!({"planId": P})),
        events_event(E, json!({"planId": P})),
        events_event(AUDITED, json!({"planId": P, "nextToken": "not/a/token"})),
        events_event(
            AUDITED,
            json!({"planId": "22222222-3333-4444-8555-666666666666"}),
        ),
    ];
    let env = [("EXECUTIONS_TABLE", table.as_str())];
    let run = run_function(env!("CARGO_BIN_EXE_events"), &env, events);
    let answers = run.answers();
    assert_eq!(answers.len(), 4, "{}", run.output);

    assert_eq!(answers[0]["statusCode"], 200, "{}", answers[0]);
    let body = proxy_body(&answers[0]);
    let trail = body["events"].as_array().unwrap();
    assert_eq!(trail.len(), 1, "{body}");
    assert_eq!(trail[0]["actor"], json!({"type": "iam", "id": CALLER}));
    assert_eq!(trail[0]["operation"], "start");
    assert_eq!(trail[0]["execution"], json!({"to": "PENDING"}));
    assert_eq!(body.get("nextToken"), None);

    assert_eq!(answers[1]["statusCode"], 200, "{}", answers[1]);
    assert_eq!(
        proxy_body(&answers[1])["events"],
        json!([]),
        "a version-1 record has no trail"
    );

    assert_eq!(answers[2]["statusCode"], 400, "a foreign nextToken");
    assert_eq!(proxy_body(&answers[2])["error"], "INVALID_PARAMETER");
    assert_eq!(answers[3]["statusCode"], 404, "another plan");
}
