//! The start binary under a stand-in Lambda Runtime API, against moto's DynamoDB and Step
//! Functions and a stand-in DRS: the wiring of main.rs (the state machine from STATE_MACHINE_ARN,
//! the DRS client of the pre-flight, the holds in the executions table) and its API route.

use execution_core::audit::Actor;
use execution_core::fixtures::{self, PLAN_ID as P};
use execution_core::ids::ExecutionId;
use execution_core::ports::{ExecutionStore, ServerLocks};
use execution_core::status::ExecutionStatus;
use serde_json::{json, Value};
use workspace_tests::drs_stub::{self, DrsStub};
use workspace_tests::moto::{sfn_client, store_holding};
use workspace_tests::runtime_api::{proxy_body, run_function};

/// DRS as the pre-flight finds the plan's servers: replicating, in no job.
fn drs() -> DrsStub {
    DrsStub::serve(|operation, request| match operation {
        "DescribeSourceServers" => drs_stub::replicating(request),
        other => drs_stub::unexpected(other),
    })
}

const CALLER: &str = "arn:aws:iam::123456789012:user/operator";
const CHOSEN: &str = "11111111-2222-4333-8444-555555555555";

/// `POST /executions` through an HTTP API, signed by [`CALLER`], with the plan as the body.
fn start_event(plan: &Value, query: &str) -> Value {
    json!({
        "version": "2.0", "routeKey": "POST /executions", "rawPath": "/v1/executions",
        "rawQueryString": query,
        "queryStringParameters": if query.is_empty() { Value::Null } else {
            let (k, v) = query.split_once('=').unwrap();
            json!({k: v})
        },
        "requestContext": {"http": {"method": "POST", "path": "/v1/executions"},
                           "authorizer": {"iam": {"userArn": CALLER}}},
        "body": plan.to_string(), "isBase64Encoded": false
    })
}

fn plan() -> Value {
    serde_json::to_value(fixtures::plan(&[2, 1])).unwrap()
}

async fn state_machine() -> String {
    sfn_client("us-east-1")
        .create_state_machine()
        .name(format!("start-binary-{}", ExecutionId::new_random()))
        .definition(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/start-binary")
        .send()
        .await
        .expect("a state machine in moto")
        .state_machine_arn
}

#[tokio::test]
async fn start_creates_the_execution_and_starts_its_run() {
    let (table, store) = store_holding("start-binary", &fixtures::execution(&[1])).await;
    let machine = state_machine().await;
    let mut invalid = plan();
    invalid["waves"][1]["servers"] = json!([]);
    let events = vec![
        start_event(&plan(), &format!("executionId={CHOSEN}")),
        start_event(&plan(), &format!("executionId={CHOSEN}")),
        start_event(&invalid, ""),
        start_event(&plan(), ""),
    ];
    let drs = drs();
    let drs_endpoint = drs.endpoint();
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("STATE_MACHINE_ARN", machine.as_str()),
        ("AWS_ENDPOINT_URL_DRS", drs_endpoint.as_str()),
    ];
    let run = run_function(env!("CARGO_BIN_EXE_start"), &env, events);
    let answers = run.answers();
    assert_eq!(answers.len(), 4, "{}", run.output);
    let statuses: Vec<Value> = answers.iter().map(|a| a["statusCode"].clone()).collect();
    assert_eq!(
        statuses,
        [json!(200), json!(409), json!(400), json!(409)],
        "{answers:?}"
    );
    // The pre-flight asked DRS about the plan's servers (the invalid plan never got that far).
    let servers: Vec<String> = (0..3).map(|n| fixtures::server(n).to_string()).collect();
    let asked = drs.requests_of("DescribeSourceServers");
    assert!(!asked.is_empty(), "{:?}", drs.requests());
    for request in &asked {
        let mut filtered = drs_stub::filtered_servers(request);
        filtered.sort();
        assert_eq!(filtered, servers, "{request}");
    }
    assert_eq!(
        drs.requests().len(),
        asked.len(),
        "nothing else asked of DRS"
    );

    let first = proxy_body(&answers[0]);
    assert_eq!(
        (
            first["executionId"].clone(),
            first["planId"].clone(),
            first["status"].clone()
        ),
        (json!(CHOSEN), json!(P), json!("PENDING"))
    );
    let run_arn = first["workflowRun"].as_str().expect("the run");
    let described = sfn_client("us-east-1")
        .describe_execution()
        .execution_arn(run_arn)
        .send()
        .await
        .expect("the run exists");
    assert_eq!(described.name(), Some(CHOSEN), "named after the execution");
    let input: Value = serde_json::from_str(described.input().unwrap_or_default()).unwrap();
    assert_eq!(input, json!({"executionId": CHOSEN, "planId": P}));

    let chosen = ExecutionId::parse(CHOSEN).unwrap();
    let stored = store.load(chosen).await.unwrap().expect("created");
    assert_eq!(stored.status(), ExecutionStatus::Pending);
    assert_eq!(stored.header.workflow_run.as_deref(), Some(run_arn));
    let trail = store.events(chosen, None).await.unwrap().events;
    assert_eq!(trail.len(), 1, "created once: {trail:?}");
    assert_eq!(
        (trail[0].actor.clone(), trail[0].operation.as_str()),
        (Actor::Iam(CALLER.into()), "start")
    );

    assert_eq!(proxy_body(&answers[1])["error"], "CONFLICT");
    let refused = proxy_body(&answers[2]);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("wave 1 has no servers"),
        "{refused}"
    );
    // The servers are held for the first execution, in the table: another start of them is
    // refused while it is active.
    let held = store
        .holds(&(0..3).map(fixtures::server).collect::<Vec<_>>())
        .await
        .expect("the holds");
    assert_eq!(held.len(), 3, "{held:?}");
    assert!(held.iter().all(|h| h.execution_id == chosen), "{held:?}");
    let busy = proxy_body(&answers[3]);
    assert_eq!(busy["error"], "PREFLIGHT_FAILED", "{busy}");
    assert!(
        busy["message"]
            .as_str()
            .unwrap_or_default()
            .contains(CHOSEN),
        "names the holder: {busy}"
    );
}

#[tokio::test]
async fn a_start_whose_run_cannot_start_leaves_the_execution_cancelled() {
    let (table, store) = store_holding("start-binary", &fixtures::execution(&[1])).await;
    let missing = "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine";
    let drs = drs();
    let drs_endpoint = drs.endpoint();
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("STATE_MACHINE_ARN", missing),
        ("AWS_ENDPOINT_URL_DRS", drs_endpoint.as_str()),
    ];
    let events = vec![start_event(&plan(), &format!("executionId={CHOSEN}"))];
    let run = run_function(env!("CARGO_BIN_EXE_start"), &env, events);
    let answers = run.answers();
    assert_eq!(answers.len(), 1, "{}", run.output);
    assert_eq!(answers[0]["statusCode"], 500, "{}", answers[0]);
    let message = proxy_body(&answers[0])["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("was cancelled"), "{message}");
    let stored = store
        .load(ExecutionId::parse(CHOSEN).unwrap())
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(stored.status(), ExecutionStatus::Cancelled);
}

#[test]
fn start_will_not_run_without_its_state_machine() {
    let run = run_function(
        env!("CARGO_BIN_EXE_start"),
        &[("EXECUTIONS_TABLE", "t")],
        vec![json!({})],
    );
    let exited = run.exited.expect("the function ends at init");
    assert!(!exited.success());
    assert!(run.output.contains("STATE_MACHINE_ARN"), "{}", run.output);
}
