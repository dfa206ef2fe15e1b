//! The advance binary under a stand-in Lambda Runtime API, against moto's DynamoDB and a stand-in
//! DRS, fed DRS's launch results as EventBridge delivers them: the wiring of main.rs (the store,
//! the DRS client poll and launch share) and the events it takes and refuses.

use execution_core::audit::Actor;
use execution_core::fixtures::{self, EXECUTION_ID as E};
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::ExecutionStore;
use execution_core::status::{ExecutionStatus, WaveStatus};
use serde_json::{json, Value};
use workspace_tests::drs_stub::{self, DrsStub};
use workspace_tests::moto::store_holding;
use workspace_tests::runtime_api::run_function;

/// Two waves of one server; wave 0 in flight with job 0 (attempt 1).
fn wave_0_in_flight() -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    e.header.status = ExecutionStatus::Polling;
    e.waves[0].status = WaveStatus::Started;
    fixtures::give_job(&mut e.waves[0], fixtures::job(0), Timestamp(1_500));
    e
}

/// A DRS job as DescribeJobs and StartRecovery answer it.
fn job(n: usize, status: &str, server: usize, launch: &str, tags: Option<Value>) -> Value {
    let mut job = json!({
        "jobID": fixtures::job(n).to_string(), "type": "LAUNCH", "status": status,
        "initiatedBy": "START_RECOVERY", "creationDateTime": "2025-01-01T00:00:00Z",
        "participatingServers": [{
            "sourceServerID": fixtures::server(server).to_string(), "launchStatus": launch
        }]
    });
    if let Some(tags) = tags {
        job["tags"] = tags;
    }
    job
}

/// The foreign job: no engine tag (started by hand, or by another tool).
const FOREIGN: usize = 7;

/// DRS: job 0 (wave 0's, tagged by launch) has launched its one server; job 7 is someone else's;
/// StartRecovery starts job 1.
fn drs() -> DrsStub {
    DrsStub::serve(|operation, request| match operation {
        "DescribeJobs" => {
            let asked: Vec<&str> = request["filters"]["jobIDs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let tags = json!({"executionId": E, "waveNumber": "0", "attempt": "1", "part": "0"});
            let mut items = Vec::new();
            if asked.contains(&fixtures::job(0).as_str()) {
                items.push(job(0, "COMPLETED", 0, "LAUNCHED", Some(tags)));
            }
            if asked.contains(&fixtures::job(FOREIGN).as_str()) {
                items.push(job(FOREIGN, "COMPLETED", 5, "LAUNCHED", None));
            }
            (200, json!({"items": items}))
        }
        "DescribeRecoveryInstances" => (200, json!({"items": []})),
        "StartRecovery" => (
            200,
            json!({"job": job(1, "PENDING", 1, "PENDING", Some(request["tags"].clone()))}),
        ),
        other => drs_stub::unexpected(other),
    })
}

/// DRS's "DRS Source Server Launch Result" for server `server` of job `job`, as delivered.
fn launch_result(job: usize, server: usize) -> Value {
    json!({
        "version": "0", "id": format!("9da9af57-9253-4406-87cb-7cc400e4346{job}"),
        "detail-type": "DRS Source Server Launch Result", "source": "aws.drs",
        "account": "123456789012", "time": "2025-01-01T00:05:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:drs:us-east-1:123456789012:source-server/{}", fixtures::server(server))],
        "detail": {"state": "RECOVERY_LAUNCH_SUCCEEDED", "job-id": fixtures::job(job).to_string(), "is-drill": "TRUE"}
    })
}

#[tokio::test]
async fn advance_launches_the_next_wave_on_drs_launch_result_once() {
    let (table, store) = store_holding("advance-binary", &wave_0_in_flight()).await;
    let drs = drs();
    let drs_endpoint = drs.endpoint();
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL_DRS", drs_endpoint.as_str()),
    ];
    let mut no_detail = launch_result(0, 0);
    no_detail.as_object_mut().map(|o| o.remove("detail"));
    let schedule = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let run = run_function(
        env!("CARGO_BIN_EXE_advance"),
        &env,
        vec![
            launch_result(0, 0),
            // The same event again (EventBridge delivers at least once).
            launch_result(0, 0),
            launch_result(FOREIGN, 5),
            no_detail,
            schedule,
        ],
    );
    let answers = run.answers();
    assert_eq!(answers.len(), 5, "{}", run.output);
    let outcome = |a: &Value| {
        (
            a["statusCode"].clone(),
            a["outcome"].clone(),
            a["reason"].clone(),
        )
    };
    assert_eq!(
        outcome(&answers[0]),
        (json!(200), json!("LAUNCHED"), Value::Null),
        "{}",
        answers[0]
    );
    assert_eq!(answers[0]["launch"]["waveNumber"], 1, "{}", answers[0]);
    assert_eq!(
        outcome(&answers[1]),
        (json!(200), json!("IGNORED"), json!("LATE_EVENT"))
    );
    assert_eq!(
        outcome(&answers[2]),
        (json!(200), json!("IGNORED"), json!("FOREIGN_JOB"))
    );
    for (answer, error) in [
        (&answers[3], "MISSING_PARAMETER"),
        (&answers[4], "INVALID_PARAMETER"),
    ] {
        assert_eq!(
            (answer["statusCode"].clone(), answer["error"].clone()),
            (json!(400), json!(error)),
            "{answer}"
        );
    }

    // One StartRecovery, for wave 1, tagged as launch tags it.
    let starts = drs.requests_of("StartRecovery");
    assert_eq!(starts.len(), 1, "{:?}", drs.requests());
    assert_eq!(
        starts[0]["sourceServers"],
        json!([{"sourceServerID": fixtures::server(1).to_string()}])
    );
    assert_eq!(starts[0]["tags"]["executionId"], E);
    assert_eq!(starts[0]["tags"]["waveNumber"], "1");

    let stored = store
        .load(fixtures::execution_id())
        .await
        .expect("a load")
        .expect("the execution");
    assert_eq!(stored.waves[0].status, WaveStatus::Completed);
    assert_eq!(
        stored.waves[1]
            .jobs
            .iter()
            .map(|j| j.job_id.clone())
            .collect::<Vec<_>>(),
        [fixtures::job(1)]
    );
    // Every change is the DRS event's, made by advance.
    let trail = store
        .events(fixtures::execution_id(), None)
        .await
        .expect("the trail")
        .events;
    let by_advance: Vec<&Actor> = trail
        .iter()
        .filter(|e| e.operation == "advance")
        .map(|e| &e.actor)
        .collect();
    assert!(!by_advance.is_empty(), "{trail:?}");
    assert!(by_advance.iter().all(|a| **a == Actor::Event), "{trail:?}");
    // The log line says why an event was ignored or refused.
    let answered = |code: &str| {
        run.output
            .lines()
            .any(|l| l.contains("answered") && l.contains(code))
    };
    assert!(answered("LATE_EVENT"), "{}", run.output);
    assert!(answered("FOREIGN_JOB"), "{}", run.output);
    assert!(
        run.output
            .lines()
            .any(|l| l.contains("MISSING_PARAMETER") && l.contains("why=")),
        "{}",
        run.output
    );
}

#[tokio::test]
async fn advance_refuses_to_start_without_its_table() {
    let run = run_function(
        env!("CARGO_BIN_EXE_advance"),
        &[],
        vec![launch_result(0, 0)],
    );
    let status = run.exited.expect("advance exits at start-up");
    assert!(!status.success());
    assert!(run.replies.is_empty());
    assert!(
        run.output.contains("EXECUTIONS_TABLE"),
        "the failure names EXECUTIONS_TABLE:\n{}",
        run.output
    );
}
