//! SPEC §5 (v2): records written by version 1 load and run on with the behaviour they were
//! created with. The items here are written raw, in version 1's exact shape (a header without
//! `pauseReason`/`failedWave`, a wave with one `jobId` and no `attempt`/`jobs`/`onFailure`,
//! servers without `impact`/`jobId`), straight into a moto table, then read through the store.

use std::collections::HashMap;
use std::io::Write;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::api::{PollRequest, Target};
use execution_core::fixtures;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::model::{Execution, FailurePolicy, Impact, PauseReason, Timestamp, WaveJob};
use execution_core::ports::mocks::{FixedClock, MockDrs, MockEc2};
use execution_core::ports::{Commit, ExecutionStore};
use execution_core::rules::Policy;
use execution_core::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};

use crate::dynamodb::{apply, header_put, wave_write, Item, Table};

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

/// Version 1's `serverStatuses`: gzip-compressed JSON in a binary attribute.
fn gzip_json(value: &serde_json::Value) -> AttributeValue {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(value.to_string().as_bytes()).unwrap();
    AttributeValue::B(Blob::new(gz.finish().unwrap()))
}

/// A POLLING execution of version 1: wave 0 STARTED with its one DRS job (two servers, one
/// launched), wave 1 PENDING.
fn version_1_items(id: ExecutionId, plan: PlanId) -> Vec<Item> {
    let key = |sk: &str| {
        HashMap::from([
            ("executionId".to_owned(), s(&id.to_string())),
            ("sk".to_owned(), s(sk)),
        ])
    };
    let mut header = key("EXECUTION");
    header.extend([
        ("planId".to_owned(), s(&plan.to_string())),
        ("planName".to_owned(), s("v1 plan")),
        ("isDrill".to_owned(), AttributeValue::Bool(true)),
        ("status".to_owned(), s("POLLING")),
        ("createdTime".to_owned(), n(1000)),
        ("startTime".to_owned(), n(1100)),
        ("lastPolledTime".to_owned(), n(1150)),
        ("version".to_owned(), n(2)),
        ("waveCount".to_owned(), n(2)),
    ]);

    let mut wave0 = key("WAVE#0000");
    wave0.extend([
        ("waveNumber".to_owned(), n(0)),
        ("waveName".to_owned(), s("databases")),
        ("waveStatus".to_owned(), s("STARTED")),
        ("pauseBeforeWave".to_owned(), AttributeValue::Bool(false)),
        ("pauseApproved".to_owned(), AttributeValue::Bool(false)),
        ("timeoutSeconds".to_owned(), n(3600)),
        ("jobId".to_owned(), s(fixtures::job(1).as_str())),
        ("launchTime".to_owned(), n(1100)),
        ("version".to_owned(), n(3)),
        (
            "serverStatuses".to_owned(),
            gzip_json(&serde_json::json!([
                {
                    "sourceServerId": fixtures::server(0).as_str(),
                    "serverName": "db-1",
                    "launchStatus": "LAUNCHED",
                    "recoveryInstanceId": fixtures::instance(0).to_string(),
                    "instanceId": fixtures::instance(0).to_string(),
                    "privateIp": "10.0.0.10",
                    "instanceState": "running"
                },
                {
                    "sourceServerId": fixtures::server(1).as_str(),
                    "serverName": "db-2",
                    "launchStatus": "IN_PROGRESS"
                }
            ])),
        ),
    ]);

    let mut wave1 = key("WAVE#0001");
    wave1.extend([
        ("waveNumber".to_owned(), n(1)),
        ("waveStatus".to_owned(), s("PENDING")),
        ("pauseBeforeWave".to_owned(), AttributeValue::Bool(true)),
        ("pauseApproved".to_owned(), AttributeValue::Bool(false)),
        ("timeoutSeconds".to_owned(), n(1800)),
        ("version".to_owned(), n(0)),
        (
            "serverStatuses".to_owned(),
            gzip_json(&serde_json::json!([
                {"sourceServerId": fixtures::server(2).as_str(), "serverName": "app-1", "launchStatus": "PENDING"}
            ])),
        ),
    ]);
    vec![header, wave0, wave1]
}

async fn put_raw(table: &Table, items: Vec<Item>) {
    for item in items {
        table
            .client
            .put_item()
            .table_name(&table.name)
            .set_item(Some(item))
            .send()
            .await
            .unwrap();
    }
}

async fn version_1_execution(table: &Table) -> Execution {
    let id = ExecutionId::new_random();
    put_raw(table, version_1_items(id, fixtures::plan_id())).await;
    table
        .store()
        .load(id)
        .await
        .unwrap()
        .expect("a version-1 execution loads")
}

#[tokio::test]
async fn a_version_1_record_loads_with_the_behaviour_it_was_created_with() {
    let table = Table::new().await;
    let exec = version_1_execution(&table).await;
    let job = fixtures::job(1);

    assert_eq!(exec.status(), ExecutionStatus::Polling);
    assert_eq!(exec.header.version, 2);
    assert_eq!(exec.header.pause_reason, None);
    assert_eq!(exec.header.failed_wave, None);
    assert_eq!(exec.header.last_polled_time, Some(Timestamp(1150)));

    let wave = &exec.waves[0];
    assert_eq!(wave.status, WaveStatus::Started);
    assert_eq!(wave.version, 3);
    assert_eq!(wave.attempt, 1, "version 1 ran one attempt");
    assert_eq!(
        wave.jobs,
        [WaveJob {
            job_id: job.clone(),
            attempt: 1,
            part: 0,
            recorded_time: Timestamp(1100),
            created_time: None,
            ended_time: None,
        }],
        "the one jobId is the one job of attempt 1, part 0"
    );
    assert_eq!(wave.claim, None);
    assert_eq!(wave.on_failure, None);
    assert_eq!(
        wave.failure_policy(),
        FailurePolicy::Stop,
        "a failed wave STOPs"
    );
    assert_eq!(wave.server_statuses.len(), 2);
    for server in &wave.server_statuses {
        assert_eq!(server.impact, Impact::Critical, "{server:?}");
        assert_eq!(server.job_id.as_ref(), Some(&job), "{server:?}");
    }
    assert_eq!(
        wave.server_statuses[0].launch_status,
        LaunchStatus::Launched
    );
    assert_eq!(
        wave.server_statuses[0].private_ip.as_deref(),
        Some("10.0.0.10")
    );

    let pending = &exec.waves[1];
    assert_eq!(pending.status, WaveStatus::Pending);
    assert_eq!((pending.attempt, pending.jobs.len()), (0, 0));
    assert_eq!(pending.failure_policy(), FailurePolicy::Stop);
    assert!(pending.pause_before_wave && !pending.pause_approved);
    assert_eq!(pending.server_statuses[0].impact, Impact::Critical);
    assert_eq!(pending.server_statuses[0].job_id, None);
}

#[tokio::test]
async fn a_version_1_record_commits_in_the_new_shape_and_round_trips() {
    let table = Table::new().await;
    let store = table.store();
    let mut exec = version_1_execution(&table).await;
    let id = exec.id();

    // A wave write (the second server launched) and a header write (an operator pause, with the
    // reason version 2 keeps), in one commit.
    let old = exec.waves[0].clone();
    let mut launched = old.clone();
    launched.server_statuses[1].launch_status = LaunchStatus::Launched;
    let commit = Commit {
        execution_id: id,
        header: Some(header_put(&exec, |h| {
            h.status = ExecutionStatus::Paused;
            h.paused_before_wave = Some(1);
            h.pause_reason = Some(PauseReason::Operator);
        })),
        waves: vec![wave_write(&old, launched)],
        events: vec![],
    };
    store.commit(&commit).await.unwrap();
    apply(&mut exec, &commit);
    assert_eq!(store.load(id).await.unwrap().as_ref(), Some(&exec));

    let raw = table.raw(id).await;
    let wave = &raw["WAVE#0000"];
    assert!(!wave.contains_key("jobId"), "rewritten in the new shape");
    assert!(matches!(wave.get("jobs"), Some(AttributeValue::L(jobs)) if jobs.len() == 1));
    assert_eq!(wave.get("attempt"), Some(&n(1)));
    assert!(
        !wave.contains_key("onFailure"),
        "the wave keeps version 1's policy (none: STOP)"
    );
    assert_eq!(raw["EXECUTION"].get("pauseReason"), Some(&s("OPERATOR")));
    assert_eq!(
        raw["EXECUTION"].get("lastPolledTime"),
        Some(&n(1150)),
        "a header write leaves lastPolledTime alone"
    );

    // Resumed: the reason goes, and so does its attribute.
    let resume = Commit {
        execution_id: id,
        header: Some(header_put(&exec, |h| {
            h.status = ExecutionStatus::Polling;
            h.paused_before_wave = None;
            h.pause_reason = None;
        })),
        waves: vec![],
        events: vec![],
    };
    store.commit(&resume).await.unwrap();
    apply(&mut exec, &resume);
    assert_eq!(store.load(id).await.unwrap().as_ref(), Some(&exec));
    let header = &table.raw(id).await["EXECUTION"];
    assert!(
        !header.contains_key("pauseReason") && !header.contains_key("pausedBeforeWave"),
        "{header:?}"
    );
}

/// The core's own poll on the version-1 record: its job is read, the wave completes, and the
/// execution runs on to the next wave's planned pause.
#[tokio::test]
async fn a_version_1_record_runs_on_through_the_core() {
    let table = Table::new().await;
    let store = table.store();
    let exec = version_1_execution(&table).await;
    let servers: Vec<_> = exec.waves[0]
        .source_server_ids()
        .cloned()
        .map(|s| (s, LaunchStatus::Launched))
        .collect();
    let job = fixtures::drs_job(1, JobStatus::Completed, &servers);
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .withf(|ids| ids == [fixtures::job(1)])
        .returning(move |_| Ok(vec![job.clone()]));
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    drs.expect_start_recovery().never();
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().returning(|_| Ok(vec![]));
    let request = PollRequest {
        target: Target {
            execution_id: exec.id(),
            plan_id: exec.header.plan_id,
        },
        summary: true,
        workflow_run: None,
    };
    let clock = FixedClock::at_secs(1300);
    let answer = execution_core::ops::poll(
        &store,
        &drs,
        &ec2,
        None,
        &clock,
        &Policy::default(),
        &request,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, ExecutionStatus::Polling);
    let stored = store.load(exec.id()).await.unwrap().unwrap();
    assert_eq!(stored.waves[0].status, WaveStatus::Completed);
    assert!(stored.waves[0]
        .server_statuses
        .iter()
        .all(|s| s.launch_status == LaunchStatus::Launched));
    assert_eq!(stored.waves[1].status, WaveStatus::Pending);
}
