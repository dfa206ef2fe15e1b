//! The list binary under a stand-in Lambda Runtime API, against moto's DynamoDB: the wiring of
//! main.rs and its API route, page by page.

use execution_core::fixtures::{self, EXECUTION_ID as E};
use serde_json::{json, Value};
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::{proxy_body, run_function};

/// `GET /executions` through a REST API, signed.
fn list_event(next_token: Option<&str>) -> Value {
    json!({
        "resource": "/executions", "path": "/executions", "httpMethod": "GET",
        "queryStringParameters": next_token.map(|t| json!({"nextToken": t})),
        "multiValueQueryStringParameters": next_token.map(|t| json!({"nextToken": [t]})),
        "requestContext": {"identity": {"userArn": "arn:aws:iam::123456789012:user/operator"}},
        "body": null, "isBase64Encoded": false
    })
}

#[tokio::test]
async fn list_pages_through_the_active_executions() {
    let (table, _store) = store_holding("list-binary", &fixtures::execution(&[1])).await;
    let env = [("EXECUTIONS_TABLE", table.as_str())];
    let mut listed = Vec::new();
    let mut token: Option<String> = None;
    // One page per status at least: POLLING, CANCELLING, PAUSED, PENDING.
    for _ in 0..6 {
        let run = run_function(
            env!("CARGO_BIN_EXE_list"),
            &env,
            vec![list_event(token.as_deref())],
        );
        let answers = run.answers();
        assert_eq!(answers.len(), 1, "{}", run.output);
        assert_eq!(answers[0]["statusCode"], 200, "{}", answers[0]);
        let body = proxy_body(&answers[0]);
        listed.extend(body["executions"].as_array().unwrap().iter().cloned());
        match body["nextToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => {
                token = None;
                break;
            }
        }
    }
    assert_eq!(token, None, "the pages end");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            listed[0]["executionId"].clone(),
            listed[0]["status"].clone()
        ),
        (json!(E), json!("PENDING"))
    );

    let run = run_function(
        env!("CARGO_BIN_EXE_list"),
        &env,
        vec![
            list_event(Some("NOT_A_STATUS")),
            json!({"httpMethod": "POST", "path": "/executions"}),
        ],
    );
    let answers = run.answers();
    assert_eq!(answers.len(), 2, "{}", run.output);
    for answer in &answers {
        assert_eq!(answer["statusCode"], 400, "{answer}");
        assert_eq!(proxy_body(answer)["error"], "INVALID_PARAMETER");
    }
}
