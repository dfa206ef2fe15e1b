//! advance: a DRS launch result, through `ops::run` as the advance function runs it.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::exec;
use crate::api::{LaunchResult, Request};
use crate::audit::Actor;
use crate::fixtures::{drs_job, execution_id, instance, job, server};
use crate::ids::{ExecutionId, JobId, SourceServerId};
use crate::model::{Execution, Timestamp};
use crate::ops::testing::*;
use crate::ports::mocks::{MockDrs, MockEc2};
use crate::ports::{DrsJob, Ec2Instance, JobTag, RecoveryRequest};
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus as L, WaveStatus as W};

/// Wave `wave`'s job of `e` as DescribeJobs answers it: tagged as the engine tags it, its servers
/// in these launch statuses (a recovery instance for each launched one).
fn tagged_job(e: &Execution, wave: usize, launch: &[L]) -> DrsJob {
    let w = &e.waves[wave];
    let servers: Vec<(SourceServerId, L)> = w
        .server_statuses
        .iter()
        .zip(launch)
        .map(|(s, l)| (s.source_server_id.clone(), l.clone()))
        .collect();
    let mut j = drs_job(0, JobStatus::Started, &servers);
    j.job_id = w.jobs[0].job_id.clone();
    for (p, (_, l)) in j.participating_servers.iter_mut().zip(&servers) {
        if *l == L::Launched {
            p.recovery_instance_id = Some(instance(0x100 + server_number(&p.source_server_id)));
        }
    }
    j.tag = Some(JobTag {
        execution_id: e.id(),
        wave_number: w.wave_number,
        attempt: w.jobs[0].attempt,
        part: 0,
    });
    j
}

fn server_number(s: &SourceServerId) -> usize {
    s.as_str()[2..].parse().unwrap()
}

/// A DRS whose DescribeJobs answers `jobs` (any number of times), and which starts a job for
/// whatever it is asked (at most `starts` times), keeping the requests.
fn drs(jobs: Vec<DrsJob>, starts: usize) -> (MockDrs, Arc<Mutex<Vec<RecoveryRequest>>>) {
    let mut m = MockDrs::new();
    m.expect_describe_jobs().returning(move |ids| {
        Ok(jobs
            .iter()
            .filter(|j| ids.contains(&j.job_id))
            .cloned()
            .collect())
    });
    m.expect_job_log().returning(|_| Ok(vec![]));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    m.expect_start_recovery()
        .times(0..=starts)
        .returning(move |req: &RecoveryRequest| {
            let mut log = log.lock().unwrap();
            log.push(req.clone());
            let servers: Vec<_> = req
                .source_servers
                .iter()
                .map(|s| (s.clone(), L::Pending))
                .collect();
            Ok(drs_job(50 + log.len(), JobStatus::Pending, &servers))
        });
    (m, seen)
}

fn ec2() -> MockEc2 {
    let mut m = MockEc2::new();
    m.expect_describe_instances().returning(|ids| {
        Ok(ids
            .iter()
            .map(|id| Ec2Instance {
                instance_id: id.clone(),
                private_ip: Some("10.0.1.50".into()),
                private_dns_name: None,
                instance_type: Some("t3.medium".into()),
                state: Some("running".into()),
                launch_time: Some(Timestamp(1100)),
            })
            .collect())
    });
    m
}

/// The launch result DRS sends for `server` of job `job`.
fn event(job: JobId, server: Option<SourceServerId>) -> Request {
    Request::Advance(LaunchResult {
        job_id: job,
        state: Some("RECOVERY_LAUNCH_SUCCEEDED".into()),
        source_server_id: server,
        event_id: None,
    })
}

fn outcome(answer: &Value) -> (&str, Option<&str>) {
    assert_eq!(answer["statusCode"], 200, "{answer}");
    (
        answer["outcome"].as_str().unwrap(),
        answer["reason"].as_str(),
    )
}

/// Two waves of two servers; wave 0 STARTED with its job since t = 1000, wave 1 PENDING.
fn two_waves() -> Execution {
    exec(E::Polling, &[W::Started, W::Pending])
}

#[tokio::test]
async fn the_last_servers_event_completes_the_wave_and_launches_the_next() {
    let e = two_waves();
    let (drs, started) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::Launched])], 1);
    let w = World::new(e.clone()).with_drs(drs).with_ec2(ec2());

    let answer = w.run(1300, event(job(0), Some(server(1)))).await;

    assert_eq!(outcome(&answer), ("LAUNCHED", None));
    assert_eq!(answer["executionId"], e.id().to_string());
    assert_eq!(answer["waveNumber"], 0);
    assert_eq!(answer["nextAction"], "LAUNCH");
    assert_eq!(answer["launch"]["waveNumber"], 1);
    let requests = started.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].wave_number, 1);
    assert_eq!(requests[0].source_servers, vec![server(2), server(3)]);
    let r = w.record();
    assert_eq!(r.waves[0].status, W::Completed);
    assert_eq!(r.waves[1].status, W::Started);
    // The changes are the event's in the trail.
    let events = w.events();
    assert!(!events.is_empty());
    assert!(events
        .iter()
        .all(|ev| ev.actor == Actor::Event && ev.operation == "advance"));
}

#[tokio::test]
async fn a_repeated_event_after_the_next_wave_launched_is_late_and_writes_nothing() {
    let e = two_waves();
    let (drs, started) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::Launched])], 1);
    let w = World::new(e).with_drs(drs).with_ec2(ec2());
    let first = w.run(1300, event(job(0), Some(server(1)))).await;
    assert_eq!(outcome(&first).0, "LAUNCHED");
    let (commits, touches, record) = (w.commits().len(), w.touches().len(), w.record());

    let again = w.run(1302, event(job(0), Some(server(1)))).await;

    assert_eq!(outcome(&again), ("IGNORED", Some("LATE_EVENT")));
    assert_eq!(w.commits().len(), commits);
    assert_eq!(w.touches().len(), touches);
    assert_eq!(w.record(), record);
    assert_eq!(started.lock().unwrap().len(), 1, "StartRecovery once");
}

#[tokio::test]
async fn an_event_of_an_older_attempt_is_late() {
    let mut e = two_waves();
    // Wave 0 was retried: attempt 2 runs with a new job; the event is about attempt 1's job.
    let old = tagged_job(&e, 0, &[L::Failed, L::Launched]);
    e.waves[0].attempt = 2;
    crate::fixtures::give_job(&mut e.waves[0], job(7), Timestamp(1200));
    let (drs, _) = drs(vec![old], 0);
    let w = World::new(e.clone()).with_drs(drs);

    let answer = w.run(1300, event(job(0), Some(server(0)))).await;

    assert_eq!(outcome(&answer), ("IGNORED", Some("LATE_EVENT")));
    assert!(w.commits().is_empty() && w.touches().is_empty());
    assert_eq!(w.record(), e);
}

#[tokio::test]
async fn an_event_of_a_completed_wave_is_late() {
    let mut e = exec(E::Polling, &[W::Completed, W::Started]);
    e.waves[1].jobs[0].job_id = job(1);
    let (drs, _) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::Launched])], 0);
    let w = World::new(e).with_drs(drs);

    let answer = w.run(1300, event(job(0), None)).await;

    assert_eq!(outcome(&answer), ("IGNORED", Some("LATE_EVENT")));
    assert!(w.commits().is_empty() && w.touches().is_empty());
}

#[tokio::test]
async fn a_job_this_engine_did_not_start_is_foreign_and_reads_no_record() {
    let e = two_waves();
    let mut foreign = tagged_job(&e, 0, &[L::Launched, L::Launched]);
    foreign.tag = None;
    let (drs, _) = drs(vec![foreign], 0);
    let w = World::new(e).with_drs(drs);

    let answer = w.run(1300, event(job(0), Some(server(0)))).await;

    assert_eq!(outcome(&answer), ("IGNORED", Some("FOREIGN_JOB")));
    assert_eq!(w.state().lock().unwrap().loads, 0);
    assert!(w.commits().is_empty() && w.touches().is_empty());
}

#[tokio::test]
async fn a_job_drs_does_not_know_is_ignored() {
    let (drs, _) = drs(vec![], 0);
    let w = World::new(two_waves()).with_drs(drs);

    let answer = w.run(1300, event(job(9), None)).await;

    assert_eq!(outcome(&answer), ("IGNORED", Some("JOB_NOT_FOUND")));
    assert_eq!(answer["jobId"], job(9).to_string());
    assert_eq!(w.state().lock().unwrap().loads, 0);
}

#[tokio::test]
async fn a_job_of_an_execution_not_in_the_table_is_ignored() {
    let e = two_waves();
    let mut other = tagged_job(&e, 0, &[L::Launched, L::Launched]);
    let stranger = ExecutionId::parse("11111111-2222-4333-8444-555555555555").unwrap();
    assert_ne!(stranger, execution_id());
    other.tag = Some(JobTag {
        execution_id: stranger,
        wave_number: 0,
        attempt: 1,
        part: 0,
    });
    let (drs, _) = drs(vec![other], 0);
    let w = World::new(e).with_drs(drs);

    let answer = w.run(1300, event(job(0), None)).await;

    assert_eq!(outcome(&answer), ("IGNORED", Some("UNKNOWN_EXECUTION")));
    assert!(w.commits().is_empty() && w.touches().is_empty());
}

#[tokio::test]
async fn an_event_for_a_finished_execution_changes_nothing() {
    for (status, last) in [
        (E::Completed, W::Completed),
        (E::Failed, W::Failed),
        (E::Cancelled, W::Cancelled),
    ] {
        let mut e = exec(status, &[W::Completed, last]);
        if e.waves[1].jobs.is_empty() {
            crate::fixtures::give_job(&mut e.waves[1], job(1), Timestamp(1000));
        }
        let (drs, _) = drs(vec![tagged_job(&e, 1, &[L::Launched, L::Launched])], 0);
        let w = World::odd_or_new(e.clone()).with_drs(drs);

        let answer = w.run(5000, event(job(1), None)).await;

        assert_eq!(
            outcome(&answer),
            ("IGNORED", Some("EXECUTION_FINISHED")),
            "{status}"
        );
        assert!(w.commits().is_empty() && w.touches().is_empty());
        assert_eq!(w.record(), e);
    }
}

#[tokio::test]
async fn while_other_servers_of_the_job_launch_nothing_is_polled() {
    let e = two_waves();
    let (drs, _) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::InProgress])], 0);
    let w = World::new(e.clone()).with_drs(drs);

    let answer = w.run(1300, event(job(0), Some(server(0)))).await;

    assert_eq!(outcome(&answer), ("IGNORED", Some("JOB_STILL_LAUNCHING")));
    assert!(w.commits().is_empty() && w.touches().is_empty());
    assert_eq!(w.record(), e);
    // Decided on the job alone: most of a wave's events never read the record.
    assert_eq!(w.state().lock().unwrap().loads, 0);
}

#[tokio::test]
async fn an_event_after_another_poll_completed_the_wave_launches_the_next_at_once() {
    // find's poll saw wave 0 complete before the last server's event came: the event launches
    // wave 1 (it is due) without polling again.
    let mut e = exec(E::Polling, &[W::Started, W::Pending]);
    super::complete(&mut e.waves[0]);
    e.waves[0].end_time = Some(Timestamp(1290));
    e.waves[0].recovery_time_seconds = Some(290);
    let (drs, started) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::Launched])], 1);
    let w = World::new(e).with_drs(drs);

    let answer = w.run(1300, event(job(0), Some(server(1)))).await;

    assert_eq!(outcome(&answer), ("LAUNCHED", None));
    assert_eq!(answer["nextAction"], "LAUNCH");
    assert_eq!(answer["launch"]["waveNumber"], 1);
    assert_eq!(started.lock().unwrap().len(), 1);
    assert!(w.touches().is_empty(), "not polled again");
    assert_eq!(w.record().waves[1].status, W::Started);
}

#[tokio::test]
async fn an_event_after_another_poll_completed_the_wave_leaves_a_planned_pause_alone() {
    let mut e = exec(E::Polling, &[W::Started, W::Pending]);
    super::complete(&mut e.waves[0]);
    e.waves[0].end_time = Some(Timestamp(1290));
    e.waves[1].pause_before_wave = true;
    let (drs, started) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::Launched])], 0);
    let w = World::new(e.clone()).with_drs(drs);

    let answer = w.run(1300, event(job(0), Some(server(1)))).await;

    assert_eq!(outcome(&answer), ("IGNORED", Some("LATE_EVENT")));
    assert!(started.lock().unwrap().is_empty());
    assert!(w.commits().is_empty() && w.touches().is_empty());
    assert_eq!(w.record(), e);
}

#[tokio::test]
async fn the_events_own_server_counts_as_ended_whatever_describe_jobs_still_says() {
    let e = two_waves();
    // DescribeJobs has not caught up with server 1, whose launch the event reports.
    let (drs, _) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::InProgress])], 1);
    let w = World::new(e).with_drs(drs).with_ec2(ec2());

    let answer = w.run(1300, event(job(0), Some(server(1)))).await;

    // poll ran (it reads DRS itself, which still says IN_PROGRESS): the wave waits.
    assert_eq!(outcome(&answer), ("POLLED", None));
    assert_eq!(answer["nextAction"], "WAIT");
    assert_eq!(w.touches(), vec![Timestamp(1300)]);
}

#[tokio::test]
async fn a_planned_pause_before_the_next_wave_is_left_to_the_workflow() {
    let mut e = two_waves();
    e.waves[1].pause_before_wave = true;
    let (drs, started) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::Launched])], 0);
    let w = World::new(e).with_drs(drs).with_ec2(ec2());

    let answer = w.run(1300, event(job(0), Some(server(1)))).await;

    assert_eq!(outcome(&answer), ("POLLED", None));
    assert_eq!(answer["nextAction"], "PAUSE");
    assert_eq!(w.record().waves[0].status, W::Completed);
    assert_eq!(w.record().status(), E::Polling);
    assert!(started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_launch_that_fails_the_wave_is_polled_not_launched() {
    let e = two_waves();
    let (drs, started) = drs(vec![tagged_job(&e, 0, &[L::Launched, L::Failed])], 0);
    let w = World::new(e).with_drs(drs).with_ec2(ec2());

    let answer = w.run(1300, event(job(0), Some(server(1)))).await;

    assert_eq!(outcome(&answer), ("POLLED", None));
    assert_eq!(w.record().waves[0].status, W::Failed);
    assert!(started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_drs_failure_is_a_5xx_answer_that_wrote_nothing() {
    let mut m = MockDrs::new();
    m.expect_describe_jobs().returning(|_| {
        Err(crate::ports::ServiceError::Throttled {
            retry_after: None,
            message: "ThrottlingException".into(),
        })
    });
    let w = World::new(two_waves()).with_drs(m);

    let answer = w.run(1300, event(job(0), None)).await;

    assert!(answer["statusCode"].as_u64().unwrap() >= 500, "{answer}");
    assert!(w.commits().is_empty() && w.touches().is_empty());
}
