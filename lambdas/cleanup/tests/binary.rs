//! The cleanup binary under a stand-in Lambda Runtime API, against moto's DynamoDB and a stand-in
//! DRS: the wiring of main.rs (the store and the DRS client) and its API route.

use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ids::ExecutionId;
use execution_core::model::{CleanupState, Execution, Timestamp};
use execution_core::ports::ExecutionStore;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use serde_json::{json, Value};
use workspace_tests::drs_stub::{self, DrsStub};
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::{proxy_body, run_function};

/// A drill cancelled before it launched anything: ended, no recovery instance to terminate.
fn cancelled_drill() -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    e.header.status = ExecutionStatus::Cancelled;
    e.header.end_time = Some(Timestamp(2_000));
    for wave in &mut e.waves {
        wave.status = WaveStatus::Cancelled;
        wave.end_time = Some(Timestamp(2_000));
    }
    e
}

/// A drill that completed: server 0 launched recovery instance 0, still its server's in DRS.
fn completed_drill(id: ExecutionId) -> Execution {
    let mut e = fixtures::plan(&[1])
        .new_execution(id, Timestamp(1_000))
        .expect("a valid plan");
    e.header.status = ExecutionStatus::Completed;
    e.header.start_time = Some(Timestamp(1_100));
    e.header.end_time = Some(Timestamp(2_000));
    let wave = &mut e.waves[0];
    fixtures::give_job(wave, fixtures::job(0), Timestamp(1_100));
    wave.status = WaveStatus::Completed;
    wave.end_time = Some(Timestamp(2_000));
    for server in &mut wave.server_statuses {
        server.launch_status = LaunchStatus::Launched;
        server.recovery_instance_id = Some(fixtures::instance(0));
        server.instance_id = Some(fixtures::instance(0));
    }
    e
}

/// The same plan run as a real recovery, ended: its instances are production.
fn completed_recovery(id: ExecutionId) -> Execution {
    let mut e = completed_drill(id);
    e.header.is_drill = false;
    e
}

/// A drill still running.
fn running_drill(id: ExecutionId) -> Execution {
    let mut e = fixtures::plan(&[1])
        .new_execution(id, Timestamp(1_000))
        .expect("a valid plan");
    e.header.status = ExecutionStatus::Polling;
    e
}

/// DRS as cleanup finds the completed drill: server 0's recovery instance is instance 0, and
/// TerminateRecoveryInstances answers with TERMINATE job 9.
/// The TERMINATE job DRS started for `instance`, still running.
fn terminate_job(instance: &Value) -> Value {
    json!({
        "jobID": fixtures::job(9).to_string(), "type": "TERMINATE", "status": "PENDING",
        "initiatedBy": "TERMINATE_RECOVERY_INSTANCES",
        "creationDateTime": "2025-01-01T00:00:00Z",
        "participatingServers": [{
            "sourceServerID": fixtures::server(0).to_string(),
            "recoveryInstanceID": instance,
            "launchStatus": "PENDING"
        }]
    })
}

fn drs() -> DrsStub {
    DrsStub::serve(|operation, request| match operation {
        // A later cleanup reads its TERMINATE job: still running, so it waits.
        "DescribeJobs" => (
            200,
            json!({"items": [terminate_job(&json!(fixtures::instance(0).to_string()))]}),
        ),
        "DescribeRecoveryInstances" => {
            let items: Vec<Value> = drs_stub::filtered_servers(request)
                .into_iter()
                .filter(|s| *s == fixtures::server(0).to_string())
                .map(|s| {
                    json!({"recoveryInstanceID": fixtures::instance(0).to_string(),
                           "ec2InstanceID": fixtures::instance(0).to_string(),
                           "sourceServerID": s, "jobID": fixtures::job(0).to_string(),
                           "isDrill": true})
                })
                .collect();
            (200, json!({"items": items}))
        }
        "TerminateRecoveryInstances" => (
            200,
            json!({"job": terminate_job(&request["recoveryInstanceIDs"][0])}),
        ),
        other => drs_stub::unexpected(other),
    })
}

/// `POST /v1/executions/{id}/cleanup` through an HTTP API; `planId` in the query string or the body.
fn cleanup_event(id: &str, plan_in_query: Option<&str>, body: Value) -> Value {
    let path = format!("/v1/executions/{id}/cleanup");
    json!({
        "version": "2.0", "rawPath": path,
        "rawQueryString": plan_in_query.map(|p| format!("planId={p}")).unwrap_or_default(),
        "requestContext": {"http": {"method": "POST", "path": path},
                           "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/operator"}}},
        "pathParameters": {"executionId": id},
        "queryStringParameters": plan_in_query.map(|p| json!({"planId": p})),
        "body": body.to_string(), "isBase64Encoded": false
    })
}

#[tokio::test]
async fn cleanup_terminates_only_an_ended_drills_instances_through_the_api() {
    let (table, store) = store_holding("cleanup-binary", &cancelled_drill()).await;
    let recovery = ExecutionId::parse("11111111-2222-4333-8444-555555555555").unwrap();
    let running = ExecutionId::parse("22222222-3333-4444-8555-666666666666").unwrap();
    let completed = ExecutionId::parse("33333333-4444-4555-8666-777777777777").unwrap();
    for e in [
        completed_recovery(recovery),
        running_drill(running),
        completed_drill(completed),
    ] {
        store.create(&e, &[]).await.expect("created");
    }
    let other_plan = "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00";
    let events = vec![
        // The cancelled drill launched nothing: complete at once, DRS never asked.
        cleanup_event(E, Some(P), json!({})),
        cleanup_event(E, Some(other_plan), json!({})),
        cleanup_event(&recovery.to_string(), Some(P), json!({})),
        cleanup_event(&running.to_string(), None, json!({"planId": P})),
        // The completed drill's instance is terminated, once: the second call finds the request
        // recorded and does not ask again.
        cleanup_event(&completed.to_string(), None, json!({"planId": P})),
        // A direct invocation, as the state machine makes it.
        json!({"operation": "cleanup", "invokedBy": "workflow",
               "executionId": completed, "planId": P}),
    ];
    let drs = drs();
    let drs_endpoint = drs.endpoint();
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL_DRS", drs_endpoint.as_str()),
    ];
    let run = run_function(env!("CARGO_BIN_EXE_cleanup"), &env, events);
    let answers = run.answers();
    assert_eq!(answers.len(), 6, "{}", run.output);

    assert_eq!(answers[0]["statusCode"], 200, "{}", answers[0]);
    let nothing = proxy_body(&answers[0]);
    assert_eq!(
        (
            nothing["status"].clone(),
            nothing["complete"].clone(),
            nothing["requested"].clone()
        ),
        (json!("CANCELLED"), json!(true), json!([])),
        "{nothing}"
    );
    let refused: Vec<(Value, Value)> = answers[1..4]
        .iter()
        .map(|a| (a["statusCode"].clone(), proxy_body(a)["error"].clone()))
        .collect();
    assert_eq!(
        refused,
        [
            (json!(404), json!("NOT_FOUND")),
            (json!(400), json!("INVALID_STATE")),
            (json!(400), json!("INVALID_STATE")),
        ],
        "another plan's id finds nothing; a recovery's instances are production; a drill still \
         running is not cleaned up"
    );

    assert_eq!(answers[4]["statusCode"], 200, "{}", answers[4]);
    let asked = proxy_body(&answers[4]);
    assert_eq!(
        (
            asked["status"].clone(),
            asked["requested"].clone(),
            asked["jobIds"].clone(),
            asked["complete"].clone()
        ),
        (
            json!("COMPLETED"),
            json!([fixtures::server(0)]),
            json!([fixtures::job(9)]),
            json!(false)
        ),
        "{asked}"
    );
    let again = &answers[5];
    assert_eq!(
        (again["statusCode"].clone(), again["requested"].clone()),
        (json!(200), json!([fixtures::server(0)])),
        "{again}"
    );
    let terminations = drs.requests_of("TerminateRecoveryInstances");
    assert_eq!(
        terminations,
        [json!({"recoveryInstanceIDs": [fixtures::instance(0)]})],
        "one request for the one instance, never two"
    );
    // The second call reads the TERMINATE job of its request (running: nothing to do).
    let ops: Vec<String> = drs.requests().into_iter().map(|(op, _)| op).collect();
    assert_eq!(
        ops,
        [
            "DescribeRecoveryInstances",
            "TerminateRecoveryInstances",
            "DescribeRecoveryInstances",
            "DescribeJobs"
        ],
        "{:?}",
        drs.requests()
    );

    // The request is recorded on the drill, by the caller; nothing else was written.
    let stored = store.load(completed).await.unwrap().unwrap();
    let cleanup = stored.waves[0].server_statuses[0]
        .cleanup
        .clone()
        .expect("the server's cleanup is recorded");
    assert_eq!(
        (cleanup.state, cleanup.job_id, cleanup.recovery_instance_id),
        (
            CleanupState::Requested,
            Some(fixtures::job(9)),
            fixtures::instance(0)
        )
    );
    let trail = store
        .events(completed, None)
        .await
        .expect("the trail")
        .events;
    assert!(trail.iter().any(|e| e.operation == "cleanup"), "{trail:?}");
    for (id, status) in [
        (recovery, ExecutionStatus::Completed),
        (running, ExecutionStatus::Polling),
    ] {
        let stored = store.load(id).await.unwrap().unwrap();
        assert_eq!(stored.status(), status, "{id}");
        assert!(
            stored
                .waves
                .iter()
                .flat_map(|w| &w.server_statuses)
                .all(|s| s.cleanup.is_none()),
            "{id}: {:?}",
            stored.waves
        );
        let trail = store.events(id, None).await.expect("the trail").events;
        assert!(trail.iter().all(|e| e.operation != "cleanup"), "{id}");
    }
}
