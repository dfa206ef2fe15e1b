use std::sync::{Arc, Mutex};

use super::exec;
use crate::api::{PollRequest, PollWaves, Request};
use crate::fixtures::{instance, job, server};
use crate::ids::{InstanceId, SourceServerId};
use crate::model::{Execution, Timestamp, WaveFailure};
use crate::ops::poll;
use crate::ops::testing::*;
use crate::ports::mocks::{MockDrs, MockEc2};
use crate::ports::{DrsJob, Ec2Instance, ParticipatingServer, RecoveryInstance, ServiceError};
use crate::rules::{NextAction, Policy};
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus as L, WaveStatus as W};

/// The job of wave `wave` with these launch statuses, recovery instance ids filled when launched.
fn job_of(e: &Execution, wave: usize, status: JobStatus, launch: &[L], with_ids: bool) -> DrsJob {
    let w = &e.waves[wave];
    DrsJob {
        created_time: None,
        ended_time: None,
        tag: None,
        job_id: w.jobs[0].job_id.clone(),
        status,
        participating_servers: w
            .server_statuses
            .iter()
            .zip(launch)
            .map(|(s, l)| ParticipatingServer {
                source_server_id: s.source_server_id.clone(),
                launch_status: l.clone(),
                recovery_instance_id: (with_ids && *l == L::Launched)
                    .then(|| instance_for(&s.source_server_id)),
            })
            .collect(),
    }
}

fn instance_for(s: &SourceServerId) -> InstanceId {
    instance(s.as_str()[2..].parse::<usize>().unwrap() + 0x100)
}

fn ec2_knowing_all() -> MockEc2 {
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances()
        .returning(|ids| Ok(ids.iter().map(ec2_instance).collect()));
    ec2
}

fn ec2_instance(id: &InstanceId) -> Ec2Instance {
    Ec2Instance {
        instance_id: id.clone(),
        private_ip: Some("10.0.1.50".into()),
        private_dns_name: Some(format!("ip-10-0-1-50.{id}.internal")),
        instance_type: Some("t3.medium".into()),
        state: Some("running".into()),
        launch_time: Some(Timestamp(1100)),
    }
}

fn drs_answering(jobs: Vec<DrsJob>) -> MockDrs {
    let mut drs = MockDrs::new();
    drs.expect_job_log().returning(|_| Ok(vec![]));
    drs.expect_describe_jobs().times(1).returning(move |ids| {
        Ok(jobs
            .iter()
            .filter(|j| ids.contains(&j.job_id))
            .cloned()
            .collect())
    });
    drs
}

/// `e` in the store, and a DRS that answers one DescribeJobs with wave 0's job in these launch
/// statuses (recovery instance ids filled for the launched servers).
fn reporting(e: &Execution, status: JobStatus, launch: &[L]) -> World {
    World::new(e.clone()).with_drs(drs_answering(vec![job_of(e, 0, status, launch, true)]))
}

/// Waves of these sizes, every one STARTED with its job since t = 1000: with more than one, waves
/// in flight at once (never written by this engine, but a record of many servers to poll).
fn in_flight(sizes: &[usize]) -> Execution {
    let mut e = crate::fixtures::execution(sizes);
    e.header.status = E::Polling;
    for (i, w) in e.waves.iter_mut().enumerate() {
        w.status = W::Started;
        crate::fixtures::give_job(w, job(i), Timestamp(1000));
    }
    e
}

#[tokio::test]
async fn a_wave_whose_servers_all_launched_completes_with_ec2_details() {
    let e = exec(E::Polling, &[W::Started, W::Pending]);
    let w =
        reporting(&e, JobStatus::Started, &[L::Launched, L::Launched]).with_ec2(ec2_knowing_all());
    let answer = w.poll(1300).await.unwrap();

    assert_eq!(answer.next_action, NextAction::Launch);
    assert!(!answer.all_waves_complete);
    let r = w.record();
    let wave = &r.waves[0];
    assert_eq!(wave.status, W::Completed);
    assert_eq!(wave.end_time, Some(Timestamp(1300)));
    assert_eq!(wave.recovery_time_seconds, Some(300));
    let s = &wave.server_statuses[0];
    assert_eq!(s.launch_status, L::Launched);
    assert_eq!(s.recovery_instance_id, Some(instance_for(&server(0))));
    assert_eq!(s.instance_id, s.recovery_instance_id);
    assert_eq!(s.private_ip.as_deref(), Some("10.0.1.50"));
    assert_eq!(s.instance_type.as_deref(), Some("t3.medium"));
    assert_eq!(s.instance_state.as_deref(), Some("running"));
    assert!(s.hostname.is_some() && s.launch_time.is_some());
    // Only the changed wave was written, and lastPolledTime was touched once.
    let commits = w.commits();
    assert_eq!(commits.len(), 1);
    assert!(commits[0].header.is_none(), "poll never writes the header");
    assert_eq!(commits[0].waves.len(), 1);
    assert_eq!(w.touches(), vec![Timestamp(1300)]);
}

/// A log entry of DRS's about `server`.
fn logged(event: &str, server: &SourceServerId, raw: Option<&str>) -> crate::ports::JobLogEntry {
    crate::ports::JobLogEntry {
        event: event.into(),
        source_server_id: Some(server.clone()),
        raw_error: raw.map(Into::into),
        time: Some(Timestamp(1200)),
    }
}

#[tokio::test]
async fn a_failed_server_gets_drs_reason_from_the_job_log_once_and_a_healthy_poll_never_asks() {
    // Healthy: the job log is never read.
    let e = exec(E::Polling, &[W::Started, W::Pending]);
    let mut drs = MockDrs::new();
    let mut job = job_of(
        &e,
        0,
        JobStatus::Started,
        &[L::Launched, L::InProgress],
        true,
    );
    job.created_time = Some(Timestamp(990));
    let answer = vec![job.clone()];
    drs.expect_describe_jobs()
        .returning(move |_| Ok(answer.clone()));
    drs.expect_job_log().times(0);
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    let w = World::new(e.clone())
        .with_drs(drs)
        .with_ec2(ec2_knowing_all());
    w.poll(1100).await.unwrap();
    let r = w.record();
    assert_eq!(
        r.waves[0].jobs[0].created_time,
        Some(Timestamp(990)),
        "DRS's own creation time is kept for the report"
    );

    // One server fails: its job's log is read once, and DRS's words are kept.
    let mut drs = MockDrs::new();
    let mut failed = job_of(&r, 0, JobStatus::Completed, &[L::Launched, L::Failed], true);
    failed.ended_time = Some(Timestamp(1190));
    let answer = vec![failed];
    drs.expect_describe_jobs()
        .returning(move |_| Ok(answer.clone()));
    let (s0, s1) = (server(0), server(1));
    drs.expect_job_log().times(1).returning(move |_| {
        Ok(vec![
            logged("LAUNCH_START", &s1, None),
            logged("LAUNCH_START", &s0, None),
            logged(
                "LAUNCH_FAILED",
                &s1,
                Some("Failed to launch instance: InsufficientInstanceCapacity"),
            ),
        ])
    });
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    let mut w = w;
    w.set_drs(drs);
    w.poll(1200).await.unwrap();
    let r = w.record();
    let wave = &r.waves[0];
    assert_eq!(wave.status, W::Failed);
    assert_eq!(
        wave.server_statuses[1].drs_reason.as_deref(),
        Some("LAUNCH_FAILED: Failed to launch instance: InsufficientInstanceCapacity")
    );
    assert_eq!(
        wave.server_statuses[0].drs_reason, None,
        "launched: no reason asked"
    );
    assert_eq!(wave.jobs[0].ended_time, Some(Timestamp(1190)));
    assert!(
        w.events()
            .iter()
            .flat_map(|e| &e.waves)
            .flat_map(|c| &c.notes)
            .any(|n| n.contains("DRS's reason")),
        "the trail says the reason was read"
    );
}

#[tokio::test]
async fn a_job_log_drs_would_not_give_is_read_by_a_later_poll_and_finalize_waits_for_it() {
    let e = exec(E::Polling, &[W::Started]);
    let failed = job_of(&e, 0, JobStatus::Completed, &[L::Launched, L::Failed], true);
    let mut drs = MockDrs::new();
    let answer = vec![failed];
    drs.expect_describe_jobs()
        .returning(move |_| Ok(answer.clone()));
    drs.expect_job_log().times(1).returning(|_| {
        Err(crate::ports::ServiceError::Throttled {
            retry_after: None,
            message: "Rate exceeded".into(),
        })
    });
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    let w = World::new(e).with_drs(drs).with_ec2(ec2_knowing_all());
    let settled = w.poll(1200).await.unwrap();
    let r = w.record();
    assert_eq!(r.waves[0].status, W::Failed);
    assert_eq!(r.waves[0].server_statuses[1].drs_reason, None);
    assert_eq!(
        settled.next_action,
        NextAction::Wait,
        "finalize waits for the reason as for EC2's details"
    );

    // The next poll reads it, though the wave has settled.
    let mut drs = MockDrs::new();
    let s1 = server(1);
    drs.expect_job_log().times(1).returning(move |_| {
        Ok(vec![logged(
            "CONVERSION_FAIL",
            &s1,
            Some("Failed to convert the boot volume"),
        )])
    });
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    let mut w = w;
    w.set_drs(drs);
    let later = w.poll(1230).await.unwrap();
    let r = w.record();
    assert_eq!(
        r.waves[0].server_statuses[1].drs_reason.as_deref(),
        Some("CONVERSION_FAIL: Failed to convert the boot volume")
    );
    assert_eq!(later.next_action, NextAction::Finalize);
}

#[test]
fn the_failure_that_stopped_the_launch_is_kept_over_what_followed_it() {
    let s1 = server(1);
    let log = vec![
        logged("LAUNCH_FAILED", &s1, Some("InsufficientInstanceCapacity")),
        logged(
            "CLEANUP_FAIL",
            &s1,
            Some("could not delete the conversion server"),
        ),
    ];
    assert_eq!(
        crate::rules::failure_reason(&log, &s1, &job(3)),
        "LAUNCH_FAILED: InsufficientInstanceCapacity"
    );
    let only_cleanup = vec![logged("CLEANUP_FAIL", &s1, Some("no delete"))];
    assert_eq!(
        crate::rules::failure_reason(&only_cleanup, &s1, &job(3)),
        "CLEANUP_FAIL: no delete"
    );
}

#[test]
fn a_job_log_without_a_reason_says_so() {
    let log = vec![logged("LAUNCH_START", &server(1), None)];
    let reason = crate::rules::failure_reason(&log, &server(1), &job(3));
    assert!(reason.contains("gives no reason"), "{reason}");
    let long = "x".repeat(500);
    let log = vec![logged("CONVERSION_FAIL", &server(1), Some(&long))];
    let reason = crate::rules::failure_reason(&log, &server(1), &job(3));
    assert!(reason.starts_with("CONVERSION_FAIL: xxx"));
    assert!(reason.chars().count() <= crate::rules::REASON_MAX_CHARS + 1);
}

#[tokio::test]
async fn poll_never_changes_the_execution_status() {
    for status in [E::Polling, E::Paused, E::Cancelling] {
        for outcome in [[L::Launched, L::Launched], [L::Failed, L::Launched]] {
            let e = exec(status, &[W::Started, W::Pending]);
            let w = reporting(&e, JobStatus::Completed, &outcome).with_ec2(ec2_knowing_all());
            let answer = w.poll_summary(1300).await.unwrap();
            assert_eq!(answer.status, status);
            let r = w.record();
            assert_eq!(r.status(), status);
            assert_eq!(
                r.header.version, e.header.version,
                "header untouched but for lastPolledTime"
            );
            assert_eq!(
                answer.next_action,
                expected_after(status, outcome[0].clone())
            );
        }
    }
}

/// What the answer must say once wave 0 settled: FINALIZE after a failure or a cancel, PAUSE when
/// paused, else LAUNCH.
fn expected_after(status: E, first: L) -> NextAction {
    match (status, first) {
        (_, L::Failed) | (E::Cancelling, _) => NextAction::Finalize,
        (E::Paused, _) => NextAction::Pause,
        _ => NextAction::Launch,
    }
}

#[tokio::test]
async fn a_poll_that_sees_no_change_writes_only_last_polled_time() {
    let e = exec(E::Polling, &[W::Started, W::Pending]);
    let w = reporting(&e, JobStatus::Started, &[L::Pending, L::Pending]);
    let answer = w.poll(1060).await.unwrap();
    assert_eq!(answer.next_action, NextAction::Wait);
    assert_eq!(answer.last_polled_time, Some(Timestamp(1060)));
    assert!(w.commits().is_empty());
    assert_eq!(w.touches().len(), 1);
}

#[tokio::test]
async fn the_workflows_poll_names_its_run_in_the_same_touch_and_find_s_does_not() {
    let e = exec(E::Polling, &[W::Started, W::Pending]);
    let pending = || {
        drs_answering(vec![job_of(
            &e,
            0,
            JobStatus::Started,
            &[L::Pending, L::Pending],
            true,
        )])
    };
    let mut w = World::new(e.clone()).with_drs(pending());
    let run = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-1";
    w.poll_by_run(1060, run).await.unwrap();
    let r = w.record();
    assert_eq!(r.header.workflow_run.as_deref(), Some(run));
    assert_eq!(r.header.workflow_polled_time, Some(Timestamp(1060)));
    assert_eq!(r.header.last_polled_time, Some(Timestamp(1060)));
    assert_eq!(r.header.version, e.header.version, "no header write");

    // find's poll (no run) moves lastPolledTime only: the run and its poll time stand.
    w.set_drs(pending());
    w.poll_summary(1090).await.unwrap();
    let r = w.record();
    assert_eq!(r.header.workflow_run.as_deref(), Some(run));
    assert_eq!(r.header.workflow_polled_time, Some(Timestamp(1060)));
    assert_eq!(r.header.last_polled_time, Some(Timestamp(1090)));
    assert!(w.commits().is_empty());
    assert_eq!(w.touches(), vec![Timestamp(1060), Timestamp(1090)]);
}

#[tokio::test]
async fn one_describe_jobs_for_every_wave_in_flight() {
    // Waves run one at a time, but the record may hold several STARTED waves (a hand-repaired
    // record, an older engine); poll still asks DRS once.
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .times(1)
        .withf(|ids| ids == [job(0), job(1), job(2)])
        .returning(|_| Ok(vec![]));
    let w = World::odd(exec(E::Polling, &[W::Started, W::Started, W::Started])).with_drs(drs);
    w.poll_summary(1010).await.unwrap();
}

#[tokio::test]
async fn recovery_instances_only_for_launched_servers_without_one_in_batches_of_200() {
    // Two waves of 150 in flight: 300 servers, 150 launched with no id in the job, 150 pending.
    let e = in_flight(&[150, 150]);
    let jobs = vec![
        job_of(&e, 0, JobStatus::Started, &vec![L::Launched; 150], false),
        job_of(
            &e,
            1,
            JobStatus::Started,
            &[&vec![L::Launched; 50][..], &vec![L::InProgress; 100][..]].concat(),
            false,
        ),
    ];
    let mut drs = drs_answering(jobs);
    let asked: Arc<Mutex<Vec<usize>>> = Arc::default();
    let log = asked.clone();
    drs.expect_describe_recovery_instances()
        .times(1)
        .returning(move |servers| {
            log.lock().unwrap().push(servers.len());
            Ok(servers
                .iter()
                .map(|s| RecoveryInstance {
                    recovery_instance_id: instance_for(s),
                    ec2_instance_id: Some(instance_for(s)),
                    source_server_id: s.clone(),
                    job_id: None,
                    is_drill: Some(true),
                })
                .collect())
        });
    let w = World::odd(e).with_drs(drs).with_ec2(ec2_knowing_all());
    w.poll_summary(1010).await.unwrap();
    assert_eq!(*asked.lock().unwrap(), vec![200]);
    let r = w.record();
    assert!(r.waves[0]
        .server_statuses
        .iter()
        .all(|s| s.instance_id.is_some() && s.private_ip.is_some()));
    assert!(r.waves[1].server_statuses[..50]
        .iter()
        .all(|s| s.instance_id.is_some()));
    assert!(r.waves[1].server_statuses[50..]
        .iter()
        .all(|s| s.instance_id.is_none()));
}

/// A recovery instance that names no job is the server's only when it is of the execution's
/// kind: a drill must not take the instance a real recovery of the same server launched.
#[tokio::test]
async fn an_instance_without_a_job_is_taken_only_when_its_drill_kind_matches() {
    let e = in_flight(&[2]);
    assert!(e.header.is_drill);
    let jobs = vec![job_of(
        &e,
        0,
        JobStatus::Started,
        &[L::Launched, L::Launched],
        false,
    )];
    let mut drs = drs_answering(jobs);
    drs.expect_describe_recovery_instances()
        .times(1)
        .returning(move |servers| {
            let ri = |s: &SourceServerId, n: usize, is_drill: Option<bool>| RecoveryInstance {
                recovery_instance_id: crate::fixtures::instance(n),
                ec2_instance_id: Some(crate::fixtures::instance(n)),
                source_server_id: s.clone(),
                job_id: None,
                is_drill,
            };
            // Server 0: a real recovery's instance listed first, then the drill's.
            // Server 1: only a recovery's instance, and one whose kind DRS did not say.
            Ok(vec![
                ri(&servers[0], 10, Some(false)),
                ri(&servers[0], 11, Some(true)),
                ri(&servers[1], 12, Some(false)),
                ri(&servers[1], 13, None),
            ])
        });
    let w = World::new(e).with_drs(drs).with_ec2(ec2_knowing_all());
    w.poll_summary(1010).await.unwrap();
    let r = w.record();
    let servers = &r.waves[0].server_statuses;
    assert_eq!(
        servers[0].recovery_instance_id,
        Some(crate::fixtures::instance(11))
    );
    assert_eq!(servers[1].recovery_instance_id, None, "not the recovery's");
}

#[tokio::test]
async fn recovery_instances_batch_past_200() {
    let e = in_flight(&[200, 100]);
    let jobs = vec![
        job_of(&e, 0, JobStatus::Started, &vec![L::Launched; 200], false),
        job_of(&e, 1, JobStatus::Started, &vec![L::Launched; 100], false),
    ];
    let mut drs = drs_answering(jobs);
    let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
    let log = sizes.clone();
    drs.expect_describe_recovery_instances()
        .times(2)
        .returning(move |s| {
            log.lock().unwrap().push(s.len());
            Ok(vec![])
        });
    let w = World::odd(e).with_drs(drs);
    let answer = w.poll_summary(1010).await.unwrap();
    assert_eq!(*sizes.lock().unwrap(), vec![200, 100]);
    // Launched but no instance known yet: the wave completes, EC2 fields stay empty.
    assert!(answer.all_waves_complete);
}

#[tokio::test]
async fn ec2_is_asked_in_batches_of_200() {
    let e = in_flight(&[200; 6]);
    let jobs = (0..6)
        .map(|i| job_of(&e, i, JobStatus::Started, &vec![L::Launched; 200], true))
        .collect();
    let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
    let log = sizes.clone();
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances()
        .times(6)
        .returning(move |ids| {
            log.lock().unwrap().push(ids.len());
            Ok(ids.iter().map(ec2_instance).collect())
        });
    let w = World::odd(e).with_drs(drs_answering(jobs)).with_ec2(ec2);
    w.poll_summary(1010).await.unwrap();
    assert_eq!(
        *sizes.lock().unwrap(),
        vec![200; 6],
        "EC2 takes at most 200 filter values"
    );
    assert_eq!(
        w.commits()[0].waves.len(),
        6,
        "six waves changed, one atomic commit"
    );
}

#[tokio::test]
async fn an_instance_ec2_does_not_know_yet_leaves_its_fields_empty_and_fails_nothing() {
    let e = exec(E::Polling, &[W::Started]);
    let mut ec2 = MockEc2::new();
    let known = instance_for(&server(0));
    ec2.expect_describe_instances()
        .times(1)
        .returning(move |ids| {
            assert_eq!(ids.len(), 2);
            Ok(ids
                .iter()
                .filter(|i| **i == known)
                .map(ec2_instance)
                .collect())
        });
    let w = reporting(&e, JobStatus::Started, &[L::Launched, L::Launched]).with_ec2(ec2);
    let answer = w.poll(1010).await.unwrap();
    assert!(answer.warnings.is_empty());
    let wave = &w.record().waves[0];
    assert_eq!(wave.status, W::Completed);
    assert!(wave.server_statuses[0].private_ip.is_some());
    let s1 = &wave.server_statuses[1];
    assert!(s1.instance_id.is_some(), "DRS's id is kept");
    assert!(
        s1.private_ip.is_none() && s1.instance_type.is_none() && s1.hostname.is_none(),
        "never invented"
    );
    // The answer omits unknown fields rather than inventing them.
    let json = serde_json::to_value(&answer).unwrap();
    assert!(json["waves"][0]["serverStatuses"][1]
        .get("privateIp")
        .is_none());
}

#[tokio::test]
async fn an_ec2_failure_only_warns() {
    let e = exec(E::Polling, &[W::Started]);
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().returning(|_| {
        Err(ServiceError::Throttled {
            retry_after: None,
            message: "Rate exceeded".into(),
        })
    });
    let w = reporting(&e, JobStatus::Started, &[L::Launched, L::InProgress]).with_ec2(ec2);
    let answer = w.poll_summary(1010).await.unwrap();
    assert_eq!(answer.warnings.len(), 1);
    assert!(answer.warnings[0].contains("EC2"));
    assert_eq!(
        w.record().waves[0].server_statuses[0].launch_status,
        L::Launched,
        "DRS progress still recorded"
    );
}

#[tokio::test]
async fn a_drs_failure_fails_the_poll_and_writes_nothing() {
    for err in [
        ServiceError::Throttled {
            retry_after: Some(std::time::Duration::from_secs(3)),
            message: "ThrottlingException".into(),
        },
        ServiceError::unavailable("500"),
    ] {
        let mut drs = MockDrs::new();
        drs.expect_describe_jobs()
            .returning(move |_| Err(err.clone()));
        let w = World::new(exec(E::Polling, &[W::Started])).with_drs(drs);
        let answer = w.poll_summary(1010).await.unwrap_err();
        assert_eq!(
            (answer.status_code(), answer.code()),
            (500, "INTERNAL_ERROR")
        );
        assert!(w.commits().is_empty() && w.touches().is_empty());
    }
}

#[tokio::test]
async fn a_job_drs_does_not_return_waits_for_the_grace_period_then_fails() {
    let policy = Policy {
        job_not_found_grace_secs: 300,
        ..Policy::default()
    };
    let mut w = World::new(exec(E::Polling, &[W::Started, W::Pending]))
        .with_policy(policy)
        .with_drs(drs_answering(vec![]));
    let answer = w.poll_summary(1200).await.unwrap();
    assert_eq!(answer.next_action, NextAction::Wait);
    assert!(w.commits().is_empty());
    w.set_drs(drs_answering(vec![]));
    let answer = w.poll_summary(1301).await.unwrap();
    assert_eq!(answer.next_action, NextAction::Finalize);
    assert_eq!(
        w.record().waves[0].failure_reason,
        Some(WaveFailure::JobNotFound)
    );
}

#[tokio::test]
async fn a_wave_past_its_timeout_fails_timed_out() {
    let mut e = exec(E::Polling, &[W::Started]);
    e.waves[0].timeout_seconds = 600;
    let w = reporting(&e, JobStatus::Started, &[L::InProgress, L::Launched])
        .with_ec2(ec2_knowing_all());
    w.poll_summary(1601).await.unwrap();
    let wave = &w.record().waves[0];
    assert_eq!(
        (wave.status, wave.failure_reason),
        (W::Failed, Some(WaveFailure::TimedOut))
    );
}

#[tokio::test]
async fn a_lost_race_re_reads_and_writes_on_the_fresh_record() {
    let e = exec(E::Polling, &[W::Started]);
    let job = job_of(&e, 0, JobStatus::Started, &[L::Launched, L::Launched], true);
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .times(2)
        .returning(move |_| Ok(vec![job.clone()]));
    let w = World::new(e.clone())
        .with_drs(drs)
        .with_ec2(ec2_knowing_all());
    // Another poll wrote the wave first (same observation, one launched).
    let mut other = e.waves[0].clone();
    other.server_statuses[0].launch_status = L::InProgress;
    other.version += 1;
    w.race(move |r| r.waves[0] = other);
    let answer = w.poll_summary(1010).await.unwrap();
    assert!(answer.all_waves_complete);
    let r = w.record();
    assert_eq!(r.waves[0].status, W::Completed);
    assert_eq!(
        r.waves[0].version,
        e.waves[0].version + 2,
        "both writes kept, none reversed"
    );
}

#[tokio::test]
async fn a_terminal_execution_is_only_read() {
    let w = World::new(exec(E::Completed, &[W::Completed]));
    let answer = w.poll(5000).await.unwrap();
    assert_eq!(
        (answer.status, answer.next_action, answer.all_waves_complete),
        (E::Completed, NextAction::Finalize, true)
    );
    assert!(w.commits().is_empty() && w.touches().is_empty());
}

/// The answer as the poll Lambda gives it: the request through the one dispatch, `ops::run`.
#[tokio::test]
async fn the_answer_has_the_seed_fields_in_camel_case() {
    let e = exec(E::Polling, &[W::Started, W::Pending]);
    let w =
        reporting(&e, JobStatus::Started, &[L::Launched, L::Launched]).with_ec2(ec2_knowing_all());
    let request = Request::Poll(PollRequest {
        target: target(),
        summary: false,
        workflow_run: None,
    });
    let json = w.run(1300, request).await;
    for field in [
        "statusCode",
        "executionId",
        "status",
        "allWavesComplete",
        "waves",
        "nextAction",
    ] {
        assert!(json.get(field).is_some(), "{field} missing");
    }
    assert_eq!(json["statusCode"], 200);
    assert_eq!(json["nextAction"], "LAUNCH");
    assert_eq!(json["waves"][0]["waveNumber"], 0);
    let s = &json["waves"][0]["serverStatuses"][0];
    for field in [
        "sourceServerId",
        "serverName",
        "launchStatus",
        "recoveryInstanceId",
        "instanceId",
        "privateIp",
        "hostname",
        "instanceType",
        "instanceState",
        "launchTime",
    ] {
        assert!(
            s.get(field).is_some(),
            "server field {field} missing in {s}"
        );
    }
    assert!(json.to_string().find("taskToken").is_none());
}

#[tokio::test]
async fn summary_answers_count_servers_instead_of_listing_them() {
    let e = exec(E::Polling, &[W::Started]);
    let w =
        reporting(&e, JobStatus::Started, &[L::Launched, L::Failed]).with_ec2(ec2_knowing_all());
    let answer = w.poll_summary(1010).await.unwrap();
    let PollWaves::Summary(waves) = &answer.waves else {
        panic!("expected a summary")
    };
    assert_eq!(
        (
            waves[0].servers_total,
            waves[0].servers_launched,
            waves[0].servers_failed
        ),
        (2, 1, 1)
    );
    assert_eq!(waves[0].status, W::Failed);
}

#[tokio::test]
async fn a_server_drs_lists_outside_the_wave_is_reported_not_added() {
    let e = exec(E::Polling, &[W::Started]);
    let mut j = job_of(
        &e,
        0,
        JobStatus::Started,
        &[L::InProgress, L::InProgress],
        false,
    );
    j.participating_servers.push(ParticipatingServer {
        source_server_id: server(99),
        launch_status: L::Launched,
        recovery_instance_id: None,
    });
    let w = World::new(e).with_drs(drs_answering(vec![j]));
    let answer = w.poll_summary(1010).await.unwrap();
    assert!(answer.warnings[0].contains("s-00000000000000099"));
    assert_eq!(w.record().waves[0].server_statuses.len(), 2);
}

#[tokio::test]
async fn not_found_is_404_and_nothing_is_asked() {
    let mut w = World::new(exec(E::Polling, &[W::Started]));
    w.target.execution_id = crate::ids::ExecutionId::new_random();
    let err = w.poll(1).await.unwrap_err();
    assert_eq!(err.status_code(), 404);
}

#[tokio::test]
async fn a_wave_that_completed_before_ec2_knew_its_instance_gets_the_details_later() {
    let e = exec(E::Polling, &[W::Started, W::Pending]);
    let late = instance_for(&server(1));
    // Poll 1: EC2 does not know server 1's instance yet; the wave completes all the same.
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances()
        .times(1)
        .returning(move |ids| {
            Ok(ids
                .iter()
                .filter(|i| **i != late)
                .map(ec2_instance)
                .collect())
        });
    let mut w = reporting(&e, JobStatus::Completed, &[L::Launched, L::Launched]).with_ec2(ec2);
    w.poll_summary(1300).await.unwrap();
    let wave = w.record().waves[0].clone();
    assert_eq!(wave.status, W::Completed);
    assert!(wave.server_statuses[1].private_ip.is_none());

    // Poll 2: no DRS job call (nothing in flight), EC2 asked again, the details land.
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs().never();
    w.set_drs(drs);
    w.set_ec2(ec2_knowing_all());
    let answer = w.poll_summary(1360).await.unwrap();
    assert_eq!(answer.next_action, NextAction::Launch);
    let wave = &w.record().waves[0];
    assert_eq!(
        wave.status,
        W::Completed,
        "still completed; only details changed"
    );
    assert_eq!(
        wave.server_statuses[1].private_ip.as_deref(),
        Some("10.0.1.50")
    );
    assert_eq!(
        wave.end_time,
        Some(Timestamp(1300)),
        "the wave's times are not rewritten"
    );

    // Poll 3: everything known: no AWS call at all, no wave write.
    let writes = w.commits().len();
    w.set_drs(no_drs());
    w.set_ec2(no_ec2());
    w.poll_summary(1420).await.unwrap();
    assert_eq!(w.commits().len(), writes);
}

/// Lambda runtimes and `#[async_trait]` ports need Send futures; this does not compile otherwise.
#[test]
fn every_operation_future_is_send() {
    fn send<T: Send>(_: T) {}
    let (store, drs, ec2, wf, clock, policy) = (
        crate::ports::mocks::MockStore::new(),
        no_drs(),
        no_ec2(),
        no_workflow(),
        clock(0),
        Policy::default(),
    );
    let t = target();
    let p = PollRequest {
        target: t,
        summary: true,
        workflow_run: None,
    };
    let pause_req = crate::api::PauseRequest {
        target: t,
        task_token: None,
    };
    send(poll(&store, &drs, &ec2, None, &clock, &policy, &p));
    send(crate::ops::launch(&store, &drs, &clock, &policy, &t));
    send(crate::ops::finalize(&store, &clock, &t));
    send(crate::ops::pause(&store, &wf, &pause_req));
    send(crate::ops::resume(&store, &wf, &t));
    send(crate::ops::cancel(&store, &wf, &t));
    let w = crate::api::WaveTarget {
        target: t,
        wave_number: 0,
    };
    send(crate::ops::retry(&store, &wf, &clock, &policy, &w));
    send(crate::ops::skip(&store, &wf, &w));
    // The one dispatch, find included.
    let polls = crate::ports::mocks::MockDispatch::new();
    let config = crate::ops::FindConfig {
        concurrency: 1,
        deadline_millis: 0,
        poll_budget_millis: 0,
    };
    let ports = crate::ops::Ports::new(&store, &clock, &policy)
        .with_drs(&drs)
        .with_ec2(&ec2)
        .with_workflow(&wf)
        .with_find(&polls, &config);
    send(crate::ops::run(
        &ports,
        crate::api::Request::Find,
        crate::audit::Actor::Find,
    ));
}

// ---- v2: several jobs per wave, values DRS adds later, a launch that never gets through -------

#[tokio::test]
async fn a_launch_status_drs_adds_later_is_kept_and_fails_nothing() {
    let e = exec(E::Polling, &[W::Started, W::Pending]);
    let mut job = job_of(&e, 0, JobStatus::Started, &[L::Launched, L::Launched], true);
    job.participating_servers[1].launch_status = L::Other("RECOVERY_PAUSED".into());
    let w = World::new(e)
        .with_drs(drs_answering(vec![job]))
        .with_ec2(ec2_knowing_all());
    let answer = w.poll(1300).await.unwrap();
    assert_eq!(answer.next_action, NextAction::Wait, "not settled");
    let wave = &w.record().waves[0];
    assert_eq!(wave.status, W::Started);
    assert_eq!(
        wave.server_statuses[1].launch_status,
        L::Other("RECOVERY_PAUSED".into())
    );
    let PollWaves::Full(waves) = answer.waves else {
        panic!("full answer")
    };
    let json = serde_json::to_value(&waves[0].server_statuses[1]).unwrap();
    assert_eq!(json["launchStatus"], "RECOVERY_PAUSED");
    assert_eq!(json["impact"], "CRITICAL");
}

#[tokio::test]
async fn every_job_of_a_wave_is_asked_for_in_one_describe_jobs() {
    let mut e = crate::fixtures::execution(&[250, 1]);
    e.header.status = E::Polling;
    let w = &mut e.waves[0];
    w.status = W::Started;
    w.attempt = 1;
    w.launch_time = Some(Timestamp(1000));
    w.attempt_time = Some(Timestamp(1000));
    for (i, s) in w.server_statuses.iter_mut().enumerate() {
        s.job_id = Some(job(i / 100));
    }
    for part in 0..3 {
        w.jobs.push(crate::model::WaveJob {
            created_time: None,
            ended_time: None,
            job_id: job(part),
            attempt: 1,
            part: part as u32,
            recorded_time: Timestamp(1000),
        });
    }
    let jobs: Vec<DrsJob> = (0..3)
        .map(|part| DrsJob {
            created_time: None,
            ended_time: None,
            tag: None,
            job_id: job(part),
            status: JobStatus::Completed,
            participating_servers: e.waves[0]
                .server_statuses
                .iter()
                .filter(|s| s.job_id == Some(job(part)))
                .map(|s| ParticipatingServer {
                    source_server_id: s.source_server_id.clone(),
                    launch_status: L::Launched,
                    recovery_instance_id: Some(instance_for(&s.source_server_id)),
                })
                .collect(),
        })
        .collect();
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .times(1)
        .withf(|ids| ids == [job(0), job(1), job(2)])
        .return_once(move |_| Ok(jobs));
    let w = World::new(e).with_drs(drs).with_ec2(ec2_knowing_all());
    let answer = w.poll_summary(1300).await.unwrap();
    assert_eq!(answer.next_action, NextAction::Launch);
    assert_eq!(w.record().waves[0].status, W::Completed);
}

#[tokio::test]
async fn a_launch_that_drs_keeps_refusing_fails_launch_blocked_at_its_timeout() {
    let mut e = exec(E::Polling, &[W::Launching, W::Pending]);
    let w = &mut e.waves[0];
    w.claim = None;
    w.timeout_seconds = 600;
    w.launch_attempts = 12;
    w.last_launch_error = Some("ConflictException: s-1 is in another job".into());
    w.next_launch_time = Some(Timestamp(1590));
    let w = World::new(e);
    let answer = w.poll_summary(1601).await.unwrap();
    let wave = &w.record().waves[0];
    assert_eq!(
        (wave.status, wave.failure_reason),
        (W::Failed, Some(WaveFailure::LaunchBlocked))
    );
    assert!(wave
        .status_message
        .as_deref()
        .unwrap()
        .contains("in another job"));
    assert_eq!(
        answer.next_action,
        NextAction::Finalize,
        "the fixture's policy is STOP"
    );
}
