//! cleanup: what it refuses, what it leaves alone, and what it records.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{complete, exec};
use crate::api::Request;
use crate::error::{OperationError, Refusal};
use crate::fixtures::{give_job, instance, job, server};
use crate::ids::{InstanceId, JobId, SourceServerId};
use crate::model::{CleanupState, Execution, ServerCleanup, Timestamp};
use crate::ops::cleanup::{LEASE_SECS, MAX_SERVERS_PER_CALL, RETRY_FAILED_AFTER_SECS};
use crate::ops::testing::*;
use crate::ports::mocks::MockDrs;
use crate::ports::{
    DrsJob, JobLogEntry, JobTag, ParticipatingServer, RecoveryInstance, RecoveryRequest,
    ServiceError, SourceServer, DRS_FILTER_MAX,
};
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus, WaveStatus as W};

/// A finished drill of one wave of 2 servers, each LAUNCHED with recovery instance 100 + n by
/// the wave's job (job 0).
fn finished(status: E, drill: bool) -> Execution {
    let mut e = exec(status, &[W::Completed]);
    e.header.is_drill = drill;
    for (n, s) in e.waves[0].server_statuses.iter_mut().enumerate() {
        s.launch_status = LaunchStatus::Launched;
        s.recovery_instance_id = Some(instance(100 + n));
        s.instance_id = Some(instance(100 + n));
    }
    e
}

/// DRS's recovery instance `recovery_instance` of server `n`, launched as a drill by `job`.
fn listed(n: usize, recovery_instance: usize, job: JobId, drill: Option<bool>) -> RecoveryInstance {
    RecoveryInstance {
        recovery_instance_id: instance(recovery_instance),
        ec2_instance_id: Some(instance(recovery_instance)),
        source_server_id: server(n),
        job_id: Some(job),
        is_drill: drill,
    }
}

/// DRS's current recovery instance of server `n`, launched by this drill's job (job 0).
fn current(n: usize, recovery_instance: usize) -> RecoveryInstance {
    listed(n, recovery_instance, job(0), Some(true))
}

fn mark(state: CleanupState, n: usize, job_id: Option<JobId>, at: i64) -> ServerCleanup {
    ServerCleanup {
        state,
        recovery_instance_id: instance(100 + n),
        job_id,
        requested_time: Timestamp(at),
        terminated_time: None,
    }
}

/// Every commit changed the record (none moved only versions), and every event names at most one
/// wave's servers.
fn every_write_changed_something(w: &World) {
    for commit in w.commits() {
        assert!(!commit.events.is_empty(), "a write of nothing: {commit:?}");
        assert_eq!(commit.waves.len(), 1, "one wave a commit");
    }
    for event in w.events() {
        assert!(event.waves.len() <= 1, "{event:?}");
    }
}

#[tokio::test]
async fn a_recovery_and_a_running_drill_are_refused_before_drs_is_asked() {
    // A mock DRS with no expectations: any call fails the test.
    let w = World::new(finished(E::Completed, false)).with_drs(MockDrs::new());
    let e = w.cleanup(2000).await.unwrap_err();
    assert_eq!(e, OperationError::InvalidState(Refusal::CleanupOfRecovery));
    assert!(e.to_string().contains("production"));
    assert!(w.commits().is_empty());

    let mut running = exec(E::Polling, &[W::Completed, W::Pending]);
    running.header.is_drill = true;
    let w = World::new(running).with_drs(MockDrs::new());
    let e = w.cleanup(2000).await.unwrap_err();
    assert_eq!(
        e,
        OperationError::InvalidState(Refusal::CleanupBeforeEnd { status: E::Polling })
    );
    assert!(w.commits().is_empty());
}

#[tokio::test]
async fn another_execution_s_instance_is_never_terminated_and_gone_ones_are_recorded() {
    // Server 0's recovery instance was replaced by a later launch (another execution's drill);
    // server 1's is gone from DRS. Nothing is terminated.
    let mut drs = MockDrs::new();
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![listed(0, 555, job(55), Some(true))]));
    drs.expect_terminate_recovery_instances().times(0);
    let w = World::new(finished(E::Completed, true)).with_drs(drs);
    let answer = w.cleanup(2000).await.unwrap();
    assert_eq!(answer.gone, [server(0), server(1)]);
    assert!(answer.requested.is_empty() && answer.terminated.is_empty());
    assert!(answer.complete, "{answer:?}");
    assert!(
        answer.message.contains("nothing was terminated"),
        "{}",
        answer.message
    );
    let r = w.record();
    for s in &r.waves[0].server_statuses {
        let c = s.cleanup.as_ref().unwrap();
        assert_eq!(c.state, CleanupState::Gone);
        assert_eq!(c.job_id, None);
    }
    assert_eq!(r.status(), E::Completed, "cleanup never changes a status");

    // A second cleanup has nothing left to do: it asks DRS nothing and writes nothing.
    let mut w = w;
    w.set_drs(MockDrs::new());
    let commits = w.commits().len();
    let again = w.cleanup(2100).await.unwrap();
    assert!(again.complete);
    assert_eq!(w.commits().len(), commits);
}

#[tokio::test]
async fn only_this_execution_s_instances_are_asked_for_in_one_call_and_recorded_with_the_job() {
    let mut drs = MockDrs::new();
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![current(0, 100), listed(1, 999, job(55), Some(true))]));
    drs.expect_terminate_recovery_instances()
        .times(1)
        .withf(|ids| ids == [instance(100)])
        .returning(|_| {
            Ok(crate::fixtures::drs_job(
                9,
                crate::status::JobStatus::Pending,
                &[],
            ))
        });
    let w = World::new(finished(E::Completed, true)).with_drs(drs);
    let answer = w.cleanup(2000).await.unwrap();
    assert_eq!(answer.requested, [server(0)]);
    assert_eq!(answer.gone, [server(1)]);
    assert_eq!(answer.job_ids, [job(9)]);
    assert!(!answer.complete);
    let r = w.record();
    let c = r.waves[0].server_statuses[0].cleanup.as_ref().unwrap();
    assert_eq!(
        (c.state, c.job_id.clone(), c.requested_time.0),
        (CleanupState::Requested, Some(job(9)), 2000)
    );
    // The trail says what cleanup did, as the workflow's or the operator's change.
    let moves: Vec<_> = w
        .events()
        .iter()
        .flat_map(|e| e.waves.iter().flat_map(|c| c.cleanup.clone()))
        .map(|c| (c.state, c.source_server_ids))
        .collect();
    assert!(
        moves.contains(&(CleanupState::Requested, vec![server(0)])),
        "{moves:?}"
    );
    assert!(
        moves.contains(&(CleanupState::Gone, vec![server(1)])),
        "{moves:?}"
    );
    every_write_changed_something(&w);
}

#[tokio::test]
async fn cleanup_is_reached_through_the_one_dispatch_and_unknown_executions_are_404() {
    let w = World::empty().with_drs(MockDrs::new());
    let answer = w.run(100, Request::Cleanup(target())).await;
    assert_eq!(answer["statusCode"], 404, "{answer}");
}

// ---- a DRS that takes its time -----------------------------------------------------------------

/// DRS's recovery instances and the TERMINATE jobs asked of it, as a fake that answers each call
/// after giving way to other tasks (TerminateRecoveryInstances after longer): two cleanups joined
/// on one thread interleave at every DRS call, as two Lambdas would.
#[derive(Default)]
struct Lab {
    instances: Mutex<Vec<RecoveryInstance>>,
    /// Every TERMINATE job, with the instances it was asked for.
    terminations: Mutex<Vec<(DrsJob, Vec<InstanceId>)>>,
    /// Every call, by name.
    calls: Mutex<Vec<&'static str>>,
}

impl Lab {
    fn with(instances: Vec<RecoveryInstance>) -> Arc<Self> {
        Arc::new(Self {
            instances: Mutex::new(instances),
            ..Self::default()
        })
    }

    /// How many times each instance was asked for.
    fn asked(&self) -> Vec<(InstanceId, usize)> {
        let mut counts: Vec<(InstanceId, usize)> = vec![];
        for (_, ids) in self.terminations.lock().unwrap().iter() {
            for id in ids {
                match counts.iter_mut().find(|(i, _)| i == id) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((id.clone(), 1)),
                }
            }
        }
        counts
    }

    fn calls(&self, name: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == name)
            .count()
    }

    async fn call(&self, name: &'static str, turns: usize) {
        self.calls.lock().unwrap().push(name);
        for _ in 0..turns {
            tokio::task::yield_now().await;
        }
    }
}

struct LabDrs(Arc<Lab>);

#[async_trait]
impl crate::ports::Drs for LabDrs {
    async fn describe_jobs(&self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError> {
        assert!(ids.len() <= DRS_FILTER_MAX);
        self.0.call("DescribeJobs", 1).await;
        Ok(self
            .0
            .terminations
            .lock()
            .unwrap()
            .iter()
            .filter(|(j, _)| ids.contains(&j.job_id))
            .map(|(j, _)| j.clone())
            .collect())
    }
    async fn describe_recovery_instances(
        &self,
        servers: &[SourceServerId],
    ) -> Result<Vec<RecoveryInstance>, ServiceError> {
        assert!(servers.len() <= DRS_FILTER_MAX);
        self.0.call("DescribeRecoveryInstances", 1).await;
        Ok(self
            .0
            .instances
            .lock()
            .unwrap()
            .iter()
            .filter(|i| servers.contains(&i.source_server_id))
            .cloned()
            .collect())
    }
    async fn start_recovery(&self, _: &RecoveryRequest) -> Result<DrsJob, ServiceError> {
        unreachable!("cleanup starts nothing")
    }
    async fn find_tagged_job(
        &self,
        _: &JobTag,
        _: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        unreachable!("cleanup looks for no launch")
    }
    async fn describe_source_servers(
        &self,
        _: &[SourceServerId],
    ) -> Result<Vec<SourceServer>, ServiceError> {
        unreachable!("cleanup reads no source server")
    }
    async fn job_log(&self, _: &JobId) -> Result<Vec<JobLogEntry>, ServiceError> {
        unreachable!("cleanup reads no job log")
    }
    async fn terminate_recovery_instances(
        &self,
        ids: &[InstanceId],
    ) -> Result<DrsJob, ServiceError> {
        assert!(!ids.is_empty() && ids.len() <= DRS_FILTER_MAX);
        self.0.call("TerminateRecoveryInstances", 5).await;
        let mut instances = self.0.instances.lock().unwrap();
        let participants = instances
            .iter()
            .filter(|i| ids.contains(&i.recovery_instance_id))
            .map(|i| ParticipatingServer {
                source_server_id: i.source_server_id.clone(),
                launch_status: LaunchStatus::Pending,
                recovery_instance_id: Some(i.recovery_instance_id.clone()),
            })
            .collect();
        let mut terminations = self.0.terminations.lock().unwrap();
        let mut job = crate::fixtures::drs_job(900 + terminations.len(), JobStatus::Pending, &[]);
        job.participating_servers = participants;
        terminations.push((job.clone(), ids.to_vec()));
        instances.retain(|i| !ids.contains(&i.recovery_instance_id));
        Ok(job)
    }
    async fn find_terminate_job(
        &self,
        ids: &[InstanceId],
        _: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        self.0.call("FindTerminateJob", 1).await;
        Ok(self
            .0
            .terminations
            .lock()
            .unwrap()
            .iter()
            .find(|(_, asked)| asked.iter().any(|i| ids.contains(i)))
            .map(|(job, _)| job.clone()))
    }
}

/// The drill of [`finished`], DRS holding its two instances.
fn lab_drill() -> (Execution, Arc<Lab>) {
    let lab = Lab::with(vec![current(0, 100), current(1, 101)]);
    (finished(E::Completed, true), lab)
}

#[tokio::test]
async fn two_cleanups_at_once_ask_for_each_instance_once() {
    // The workflow's cleanup and an operator's, or a call API Gateway gave up on and its retry.
    let (record, lab) = lab_drill();
    let w = World::new(record).with_drs(LabDrs(lab.clone()));
    let (a, b) = futures::join!(w.cleanup(5000), w.cleanup(5000));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        lab.asked(),
        [(instance(100), 1), (instance(101), 1)],
        "one TerminateRecoveryInstances per instance"
    );
    assert_eq!(lab.calls("TerminateRecoveryInstances"), 1);
    // The loser found the winner's marks and left them alone: termination is in progress.
    for answer in [&a, &b] {
        assert_eq!(answer.requested, [server(0), server(1)], "{answer:?}");
        assert!(!answer.complete);
    }
    assert!(
        [&a, &b]
            .iter()
            .any(|x| x.message.contains("may still be asking DRS")),
        "{a:?} {b:?}"
    );
    every_write_changed_something(&w);

    // Later cleanups confirm, and ask nothing again.
    let last = w.cleanup(5060).await.unwrap();
    assert!(last.complete, "{last:?}");
    assert_eq!(last.terminated, [server(0), server(1)]);
    assert_eq!(lab.calls("TerminateRecoveryInstances"), 1);
}

#[tokio::test]
async fn two_cleanups_that_find_a_stale_mark_ask_again_once() {
    // A cleanup marked both servers at t = 1000 and died before it called DRS.
    let (mut record, lab) = lab_drill();
    for (n, s) in record.waves[0].server_statuses.iter_mut().enumerate() {
        s.cleanup = Some(mark(CleanupState::Requesting, n, None, 1000));
    }
    let w = World::new(record).with_drs(LabDrs(lab.clone()));
    let (a, b) = futures::join!(w.cleanup(5000), w.cleanup(5000));
    a.unwrap();
    b.unwrap();
    assert_eq!(lab.asked(), [(instance(100), 1), (instance(101), 1)]);
    let r = w.record();
    for s in &r.waves[0].server_statuses {
        let c = s.cleanup.as_ref().unwrap();
        assert_eq!(
            (c.state, c.job_id.clone(), c.requested_time),
            (CleanupState::Requested, Some(job(900)), Timestamp(5000)),
            "asked again under a fresh mark"
        );
    }
    every_write_changed_something(&w);
}

#[tokio::test]
async fn a_mark_younger_than_the_lease_is_left_alone_then_settled_by_its_job() {
    // A cleanup marked server 0 at t = 5000 and is still running (its caller gave up waiting).
    let (mut record, lab) = lab_drill();
    record.waves[0].server_statuses[0].cleanup =
        Some(mark(CleanupState::Requesting, 0, None, 5000));
    record.waves[0].server_statuses[1].cleanup = Some(ServerCleanup {
        terminated_time: Some(Timestamp(5100)),
        ..mark(CleanupState::Terminated, 1, Some(job(8)), 5000)
    });
    lab.instances
        .lock()
        .unwrap()
        .retain(|i| i.recovery_instance_id == instance(100));
    let w = World::new(record).with_drs(LabDrs(lab.clone()));
    let answer = w.cleanup(5000 + LEASE_SECS - 1).await.unwrap();
    assert!(!answer.complete);
    assert_eq!(answer.requested, [server(0)]);
    assert!(
        answer.message.contains("may still be asking DRS"),
        "{}",
        answer.message
    );
    assert!(lab.calls.lock().unwrap().is_empty(), "DRS asked nothing");
    assert!(w.commits().is_empty(), "nothing written");

    // The marker called DRS after all, and died before it recorded the job.
    {
        let asked = vec![instance(100)];
        let mut job = crate::fixtures::drs_job(77, JobStatus::Pending, &[]);
        job.participating_servers = vec![ParticipatingServer {
            source_server_id: server(0),
            launch_status: LaunchStatus::Pending,
            recovery_instance_id: Some(instance(100)),
        }];
        lab.terminations.lock().unwrap().push((job, asked));
    }
    let answer = w.cleanup(5000 + LEASE_SECS).await.unwrap();
    assert_eq!(lab.calls("FindTerminateJob"), 1);
    assert_eq!(
        lab.calls("TerminateRecoveryInstances"),
        0,
        "its job was found"
    );
    assert_eq!(answer.job_ids, [job(77), job(8)]);
    let c = w.record().waves[0].server_statuses[0]
        .cleanup
        .clone()
        .unwrap();
    assert_eq!(
        (c.state, c.job_id),
        (CleanupState::Requested, Some(job(77)))
    );
}

#[tokio::test]
async fn every_instance_drs_lists_for_a_server_is_weighed() {
    // Server 0: DRS lists this drill's instance and a recovery's. Server 1: the recorded id, but
    // DRS says another execution's job launched it. Server 2: the recorded id, but a recovery's.
    // Server 3: this drill's.
    let mut record = exec(E::Completed, &[W::Completed, W::Completed]);
    for (n, s) in record
        .waves
        .iter_mut()
        .flat_map(|w| &mut w.server_statuses)
        .enumerate()
    {
        s.recovery_instance_id = Some(instance(100 + n));
        s.instance_id = Some(instance(100 + n));
    }
    let lab = Lab::with(vec![
        current(0, 100),
        listed(0, 500, job(0), Some(false)),
        listed(1, 101, job(66), Some(true)),
        listed(2, 102, job(1), Some(false)),
        listed(3, 103, job(1), None),
    ]);
    let w = World::new(record).with_drs(LabDrs(lab.clone()));
    let answer = w.cleanup(5000).await.unwrap();
    assert_eq!(lab.asked(), [(instance(100), 1), (instance(103), 1)]);
    assert_eq!(answer.requested, [server(0), server(3)]);
    assert_eq!(answer.gone, [server(1), server(2)]);
    assert_eq!(
        lab.instances.lock().unwrap().len(),
        3,
        "the recovery's instances and the other execution's are left alone"
    );
    let again = w.cleanup(5060).await.unwrap();
    assert!(again.complete, "{again:?}");
    assert_eq!(again.terminated, [server(0), server(3)]);
}

#[tokio::test]
async fn instances_the_record_never_learned_are_found_by_their_job_and_terminated() {
    // Wave 1 timed out while DRS still launched: servers 2 and 3 have the wave's job (job 1) and
    // no recovery instance in the record. DRS launched server 2's after all; server 3's instance
    // is another execution's.
    let mut record = exec(E::Failed, &[W::Completed, W::Failed]);
    for (n, s) in record.waves[0].server_statuses.iter_mut().enumerate() {
        s.recovery_instance_id = Some(instance(100 + n));
        s.instance_id = Some(instance(100 + n));
    }
    let lab = Lab::with(vec![
        current(0, 100),
        current(1, 101),
        listed(2, 202, job(1), Some(true)),
        listed(3, 303, job(88), Some(true)),
    ]);
    let w = World::new(record).with_drs(LabDrs(lab.clone()));
    let answer = w.cleanup(5000).await.unwrap();
    assert_eq!(
        lab.asked(),
        [(instance(100), 1), (instance(101), 1), (instance(202), 1)]
    );
    assert_eq!(answer.requested, [server(0), server(1), server(2)]);
    assert!(!answer.complete);
    let r = w.record();
    let found = r.waves[1].server_statuses[0].cleanup.clone().unwrap();
    assert_eq!(found.recovery_instance_id, instance(202), "recorded");
    assert_eq!(r.waves[1].server_statuses[1].cleanup, None);

    let again = w.cleanup(5060).await.unwrap();
    assert!(again.complete, "{again:?}");
    assert_eq!(again.terminated, [server(0), server(1), server(2)]);
    assert_eq!(
        lab.instances.lock().unwrap().len(),
        1,
        "another's left alone"
    );

    // Done: a cleanup with nothing left to do asks DRS nothing and writes nothing.
    lab.calls.lock().unwrap().clear();
    let commits = w.commits().len();
    let last = w.cleanup(5120).await.unwrap();
    assert!(last.complete);
    assert!(lab.calls.lock().unwrap().is_empty(), "DRS asked nothing");
    assert_eq!(w.commits().len(), commits);
    every_write_changed_something(&w);
}

#[tokio::test]
async fn a_termination_that_failed_is_asked_again_once_its_job_is_old_enough() {
    // Server 0's TERMINATE job (9) ended without terminating it; server 1's (8) terminated its
    // instance, which DRS still lists a moment longer.
    let mut record = finished(E::Completed, true);
    record.waves[0].server_statuses[0].cleanup =
        Some(mark(CleanupState::Requested, 0, Some(job(9)), 2000));
    record.waves[0].server_statuses[1].cleanup =
        Some(mark(CleanupState::Requested, 1, Some(job(8)), 2000));
    let ended = |id: usize, status: LaunchStatus, n: usize| {
        let mut j = crate::fixtures::drs_job(id, JobStatus::Completed, &[(server(n), status)]);
        j.participating_servers[0].recovery_instance_id = Some(instance(100 + n));
        j.created_time = Some(Timestamp(2000));
        j.ended_time = Some(Timestamp(2200));
        j
    };
    let drs = |terminations: usize| {
        let mut drs = MockDrs::new();
        drs.expect_describe_recovery_instances()
            .returning(|_| Ok(vec![current(0, 100), current(1, 101)]));
        drs.expect_describe_jobs()
            .withf(|ids| ids == [job(9), job(8)])
            .returning(move |_| {
                Ok(vec![
                    ended(9, LaunchStatus::Failed, 0),
                    ended(8, LaunchStatus::Terminated, 1),
                ])
            });
        drs.expect_terminate_recovery_instances()
            .times(terminations)
            .withf(|ids| ids == [instance(100)])
            .returning(|_| Ok(crate::fixtures::drs_job(10, JobStatus::Pending, &[])));
        drs
    };
    // Too soon: the failed job could still be taken for a new request's.
    let mut w = World::new(record).with_drs(drs(0));
    let answer = w.cleanup(2000 + RETRY_FAILED_AFTER_SECS - 1).await.unwrap();
    assert!(!answer.complete);
    assert!(w.commits().is_empty());

    w.set_drs(drs(1));
    let at = 2000 + RETRY_FAILED_AFTER_SECS;
    let answer = w.cleanup(at).await.unwrap();
    assert!(
        answer.message.contains("asked for again") && answer.message.contains(job(9).as_str()),
        "{}",
        answer.message
    );
    let r = w.record();
    let c = r.waves[0].server_statuses[0].cleanup.clone().unwrap();
    assert_eq!(
        (c.state, c.job_id, c.requested_time),
        (CleanupState::Requested, Some(job(10)), Timestamp(at))
    );
    let c = r.waves[0].server_statuses[1].cleanup.clone().unwrap();
    assert_eq!(
        (c.state, c.job_id),
        (CleanupState::Requested, Some(job(8))),
        "a job that terminated its instance is not asked again"
    );
    // The trail says it was asked for again.
    let moves: Vec<_> = w
        .events()
        .iter()
        .flat_map(|e| e.waves.iter().flat_map(|c| c.cleanup.clone()))
        .map(|c| (c.state, c.job_id))
        .collect();
    assert_eq!(
        moves,
        [
            (CleanupState::Requesting, None),
            (CleanupState::Requested, Some(job(10)))
        ]
    );
}

/// A COMPLETED drill of waves of these sizes, every server LAUNCHED with its recovery instance
/// (100,000 + n) by its wave's job, and DRS holding every instance.
fn large_drill(sizes: &[usize]) -> (Execution, Arc<Lab>) {
    let mut e = crate::fixtures::execution(sizes);
    e.header.status = E::Completed;
    e.header.end_time = Some(Timestamp(1000));
    let mut instances = vec![];
    let mut n = 0;
    for (i, w) in e.waves.iter_mut().enumerate() {
        give_job(w, job(i), Timestamp(1000));
        complete(w);
        for s in &mut w.server_statuses {
            s.recovery_instance_id = Some(instance(100_000 + n));
            s.instance_id = Some(instance(100_000 + n));
            instances.push(listed(n, 100_000 + n, job(i), Some(true)));
            n += 1;
        }
    }
    (e, Lab::with(instances))
}

#[tokio::test]
async fn a_large_drill_is_cleaned_up_in_bounded_calls_one_wave_a_commit() {
    let (record, lab) = large_drill(&[834, 833, 833]);
    let total = 2500;
    let w = World::new(record).with_drs(LabDrs(lab.clone()));
    let mut calls = 0;
    let mut at = 5000;
    let last = loop {
        calls += 1;
        assert!(calls <= 12, "cleanup never completes");
        lab.calls.lock().unwrap().clear();
        let before = lab.terminations.lock().unwrap().len();
        let answer = w.cleanup(at).await.unwrap();
        let asked: usize = lab.terminations.lock().unwrap()[before..]
            .iter()
            .map(|(_, ids)| ids.len())
            .sum();
        assert!(asked <= MAX_SERVERS_PER_CALL, "{asked} asked in one call");
        let per_call = MAX_SERVERS_PER_CALL.div_ceil(DRS_FILTER_MAX);
        for name in ["TerminateRecoveryInstances", "DescribeRecoveryInstances"] {
            assert!(lab.calls(name) <= per_call, "{name}: {}", lab.calls(name));
        }
        if answer.complete {
            break answer;
        }
        assert!(
            answer.message.contains("left for the next cleanup") || !answer.requested.is_empty(),
            "{}",
            answer.message
        );
        at += 30;
    };
    assert!(calls >= 3, "{total} servers in {calls} calls");
    assert_eq!(last.terminated.len(), total);
    let asked = lab.asked();
    assert_eq!(asked.len(), total);
    assert!(
        asked.iter().all(|(_, n)| *n == 1),
        "each instance asked once"
    );
    // An event names at most one wave's servers: it fits an item whatever the plan's size.
    for event in w.events() {
        let named: usize = event
            .waves
            .iter()
            .flat_map(|c| &c.cleanup)
            .map(|c| c.source_server_ids.len())
            .sum();
        assert!(named <= 1000, "{named} servers in one event");
    }
    every_write_changed_something(&w);
}
