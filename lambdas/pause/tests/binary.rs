//! The pause binary under a stand-in Lambda Runtime API, against moto's DynamoDB: the wiring of
//! main.rs (environment, clients, runtime), JSON logs at the most verbose level Lambda allows, and
//! no task token in them.

use aws_adapters::{create_table, DynamoDbStore, DEFAULT_STATUS_INDEX};
use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ports::ExecutionStore;
use execution_core::status::ExecutionStatus;
use serde_json::{json, Value};
use workspace_tests::runtime_api::run_function;

const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAbinary+test/token==";

fn dynamodb() -> aws_sdk_dynamodb::Client {
    workspace_tests::moto::dynamodb_client()
}

#[tokio::test]
async fn pause_holds_the_token_and_never_logs_it() {
    let table = format!("pause-binary-{}", uuid::Uuid::new_v4().simple());
    let client = dynamodb();
    create_table(&client, &table, DEFAULT_STATUS_INDEX)
        .await
        .expect("a table in moto");
    let store = DynamoDbStore::new(client, table.clone(), DEFAULT_STATUS_INDEX.to_owned());
    let mut execution = fixtures::execution(&[1, 1]);
    execution.waves[0].pause_before_wave = true;
    store.create(&execution, &[]).await.expect("the execution");

    let api_event = json!({
        "httpMethod": "POST", "path": format!("/executions/{E}/resume"), "pathParameters": {"executionId": E},
        "body": json!({"planId": P}).to_string(), "isBase64Encoded": false
    });
    let events = vec![
        json!({"operation": "pause", "executionId": E, "planId": P, "taskToken": TOKEN}),
        api_event,
        json!("not an object"),
    ];
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
    ];
    let run = run_function(env!("CARGO_BIN_EXE_pause"), &env, events);

    let answers = run.answers();
    assert_eq!(answers.len(), 3, "{}", run.output);
    assert_eq!(
        answers[0],
        json!({"statusCode": 200, "executionId": E, "status": "PAUSED", "pausedBeforeWave": 0, "pauseReason": "PLANNED"})
    );
    assert_eq!(
        answers[1]["statusCode"], 400,
        "the pause function refuses /resume"
    );
    assert!(answers[1]["body"]
        .as_str()
        .unwrap()
        .contains("this function serves pause"));
    assert_eq!(answers[2]["statusCode"], 400);

    let stored = store
        .load(execution.id())
        .await
        .unwrap()
        .expect("still there");
    assert_eq!(stored.status(), ExecutionStatus::Paused);
    assert_eq!(
        stored
            .header
            .task_token
            .expect("the token is held")
            .token
            .expose(),
        TOKEN
    );

    assert!(
        !run.output.contains(TOKEN) && !run.output.contains("binary+test"),
        "the token reached the log:\n{}",
        run.output
    );
    let answered: Vec<Value> = run
        .output
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "answered")
        .collect();
    assert_eq!(
        answered.len(),
        3,
        "one JSON line per invocation:\n{}",
        run.output
    );
    assert_eq!(answered[0]["fields"]["execution_id"], E);
    assert_eq!(answered[1]["fields"]["source"], "api-gateway");
}
