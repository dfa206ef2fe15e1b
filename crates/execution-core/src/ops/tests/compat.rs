//! Records written by version 1 (a wave with one `jobId`, no impact, no failure policy, no pause
//! reason) load and run on with the behaviour they were created with.

use serde_json::json;

use crate::fixtures::{drs_job, job, server, EXECUTION_ID, PLAN_ID};
use crate::model::{Execution, FailurePolicy, Impact, Timestamp};
use crate::ops::testing::*;
use crate::ports::mocks::MockDrs;
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus, WaveStatus as W};

/// A version-1 record: wave 0 STARTED with its one job, wave 1 PENDING.
fn version_1(wave_0: serde_json::Value) -> Execution {
    serde_json::from_value(json!({
        "executionId": EXECUTION_ID,
        "planId": PLAN_ID,
        "isDrill": true,
        "status": "POLLING",
        "createdTime": 900,
        "startTime": 1000,
        "version": 3,
        "waves": [
            wave_0,
            {"waveNumber": 1, "status": "PENDING", "timeoutSeconds": 3600, "version": 0,
             "serverStatuses": [{"sourceServerId": server(2).to_string(), "launchStatus": "PENDING"}]}
        ]
    }))
    .unwrap()
}

fn started_v1() -> serde_json::Value {
    json!({"waveNumber": 0, "status": "STARTED", "timeoutSeconds": 3600, "version": 2,
           "jobId": job(1).to_string(), "launchTime": 1000,
           "serverStatuses": [
               {"sourceServerId": server(0).to_string(), "launchStatus": "IN_PROGRESS"},
               {"sourceServerId": server(1).to_string(), "launchStatus": "PENDING"}]})
}

#[test]
fn a_version_1_wave_reads_as_one_job_of_critical_servers_that_stops_on_failure() {
    let e = version_1(started_v1());
    let w = &e.waves[0];
    assert_eq!((w.attempt, w.jobs.len()), (1, 1));
    assert_eq!((w.jobs[0].job_id.clone(), w.jobs[0].part), (job(1), 0));
    assert_eq!(w.attempt_time, Some(Timestamp(1000)));
    assert!(w
        .server_statuses
        .iter()
        .all(|s| s.impact == Impact::Critical && s.job_id == Some(job(1))));
    assert_eq!(w.failure_policy(), FailurePolicy::Stop);
    assert_eq!(e.waves[1].failure_policy(), FailurePolicy::Stop);
    // Written back, it is a wave of this version, and reads back the same.
    let again: Execution = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
    assert_eq!(again, e);
}

#[tokio::test]
async fn a_version_1_execution_polls_fails_and_finalizes_as_it_was_created_to() {
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .withf(|ids| ids == [job(1)])
        .returning(|_| {
            Ok(vec![drs_job(
                1,
                JobStatus::Completed,
                &[
                    (server(0), LaunchStatus::Launched),
                    (server(1), LaunchStatus::Failed),
                ],
            )])
        });
    drs.expect_job_log().times(1).returning(|_| Ok(vec![]));
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    let w = World::new(version_1(started_v1())).with_drs(drs);
    let answer = w.poll_summary(1100).await.unwrap();
    assert_eq!(answer.status, E::Polling);
    let r = w.record();
    assert_eq!(r.waves[0].status, W::Failed);
    // Once the launched server's details had their chance to arrive: a failed wave STOPs.
    assert_eq!(
        next_action(&r, Timestamp(1100 + 121), &Policy::default()),
        NextAction::Finalize
    );
    let done = w.finalize(1100).await.unwrap();
    assert_eq!(done.status, E::Failed);
}

#[tokio::test]
async fn a_version_1_launch_claim_is_settled_by_its_tagged_job() {
    // Version 1 died between its claim and recording the job: LAUNCHING, no job, and a job tagged
    // only with executionId and waveNumber.
    let mut e = version_1(
        json!({"waveNumber": 0, "status": "LAUNCHING", "timeoutSeconds": 3600,
        "version": 1, "launchTime": 1000,
        "serverStatuses": [
            {"sourceServerId": server(0).to_string(), "launchStatus": "PENDING"},
            {"sourceServerId": server(1).to_string(), "launchStatus": "PENDING"}]}),
    );
    e.header.status = E::Pending;
    let claim = e.waves[0].claim.clone().unwrap();
    assert!(claim.held && claim.uncertain && claim.part == 0 && claim.size == 2);
    assert_eq!(
        next_action(&e, Timestamp(1121), &Policy::default()),
        NextAction::Launch
    );
    let mut drs = MockDrs::new();
    drs.expect_find_tagged_job()
        .withf(|tag, _| (tag.wave_number, tag.attempt, tag.part) == (0, 1, 0))
        .returning(|_, _| Ok(Some(drs_job(4, JobStatus::Started, &[]))));
    drs.expect_start_recovery().never();
    let w = World::new(e).with_drs(drs);
    let answer = w.launch(1121).await.unwrap();
    assert!(answer.recovered);
    let r = w.record();
    assert_eq!((r.status(), r.waves[0].status), (E::Polling, W::Started));
    assert!(r.waves[0]
        .server_statuses
        .iter()
        .all(|s| s.job_id == Some(job(4))));
}

#[test]
fn a_version_1_job_without_attempt_and_part_tags_is_attempt_1_part_0() {
    let tag = crate::ports::JobTag {
        execution_id: crate::fixtures::execution_id(),
        wave_number: 0,
        attempt: 1,
        part: 0,
    };
    let v1 = |k: &str| match k {
        "executionId" => Some(EXECUTION_ID.to_owned()),
        "waveNumber" => Some("0".to_owned()),
        _ => None,
    };
    assert!(tag.matches(v1));
    assert!(!crate::ports::JobTag { part: 1, ..tag }.matches(v1));
    assert!(!crate::ports::JobTag { attempt: 2, ..tag }.matches(v1));
    let garbled = |k: &str| match k {
        "attempt" => Some("x".to_owned()),
        other => v1(other),
    };
    assert!(!tag.matches(garbled));
}
