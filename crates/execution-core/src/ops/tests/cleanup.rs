//! cleanup: what it refuses, what it leaves alone, and what it records.

use super::exec;
use crate::api::Request;
use crate::error::{OperationError, Refusal};
use crate::fixtures::{instance, job, server};
use crate::model::{CleanupState, Execution};
use crate::ops::testing::*;
use crate::ports::mocks::MockDrs;
use crate::ports::RecoveryInstance;
use crate::status::{ExecutionStatus as E, LaunchStatus, WaveStatus as W};

/// A finished drill of one wave of 2 servers, each LAUNCHED with recovery instance 100 + n.
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

fn current(n: usize, recovery_instance: usize) -> RecoveryInstance {
    RecoveryInstance {
        recovery_instance_id: instance(recovery_instance),
        ec2_instance_id: Some(instance(recovery_instance)),
        source_server_id: server(n),
        job_id: Some(job(77)),
        is_drill: Some(true),
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
        .returning(|_| Ok(vec![current(0, 555)]));
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
        .returning(|_| Ok(vec![current(0, 100), current(1, 999)]));
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
}

#[tokio::test]
async fn cleanup_is_reached_through_the_one_dispatch_and_unknown_executions_are_404() {
    let w = World::empty().with_drs(MockDrs::new());
    let answer = w.run(100, Request::Cleanup(target())).await;
    assert_eq!(answer["statusCode"], 404, "{answer}");
}
