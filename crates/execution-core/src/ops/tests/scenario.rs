//! A 3-wave execution walked operation by operation, as the state machine drives it, asserting
//! the record after every step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::fixtures::{instance, job, plan};
use crate::ids::JobId;
use crate::model::Timestamp;
use crate::ops::testing::*;
use crate::ports::mocks::{MockDrs, MockEc2, MockWorkflow};
use crate::ports::{DrsJob, Ec2Instance, ParticipatingServer};
use crate::rules::NextAction;
use crate::status::{ExecutionStatus as E, JobStatus, LaunchStatus as L, WaveStatus as W};

type Jobs = Arc<Mutex<HashMap<JobId, DrsJob>>>;

/// DRS as a shared job table the test moves forward by hand.
fn drs(jobs: &Jobs) -> MockDrs {
    let mut drs = MockDrs::new();
    let j = jobs.clone();
    drs.expect_start_recovery().returning(move |req| {
        let mut jobs = j.lock().unwrap();
        let id = job(100 + jobs.len());
        let servers = req
            .source_servers
            .iter()
            .map(|s| ParticipatingServer {
                source_server_id: s.clone(),
                launch_status: L::Pending,
                recovery_instance_id: None,
            })
            .collect();
        let new = DrsJob {
            created_time: None,
            ended_time: None,
            tag: None,
            job_id: id.clone(),
            status: JobStatus::Pending,
            participating_servers: servers,
        };
        jobs.insert(id, new.clone());
        Ok(new)
    });
    let j = jobs.clone();
    drs.expect_describe_jobs().returning(move |ids| {
        let jobs = j.lock().unwrap();
        Ok(ids.iter().filter_map(|id| jobs.get(id).cloned()).collect())
    });
    drs
}

/// Moves every server of the job to `status` (recovery instance ids once launched).
fn progress(jobs: &Jobs, id: &JobId, job_status: JobStatus, status: L) {
    let mut jobs = jobs.lock().unwrap();
    let job = jobs.get_mut(id).unwrap();
    job.status = job_status;
    for (i, s) in job.participating_servers.iter_mut().enumerate() {
        s.launch_status = status.clone();
        if status == L::Launched {
            s.recovery_instance_id = Some(instance(0x1000 + i + 10 * id.as_str().len()));
        }
    }
}

fn ec2() -> MockEc2 {
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().returning(|ids| {
        Ok(ids
            .iter()
            .map(|id| Ec2Instance {
                instance_id: id.clone(),
                private_ip: Some("10.1.2.3".into()),
                private_dns_name: Some("ip-10-1-2-3.ec2.internal".into()),
                instance_type: Some("m5.large".into()),
                state: Some("running".into()),
                launch_time: None,
            })
            .collect())
    });
    ec2
}

/// poll, asserting it changed neither the execution's status nor its header version.
async fn poll(w: &World, at: i64, expected: NextAction) -> crate::api::PollResponse {
    let before = w.record();
    let answer = w.poll(at).await.unwrap();
    let after = w.record();
    assert_eq!(
        after.status(),
        before.status(),
        "poll changed the execution status"
    );
    assert_eq!(
        after.header.version, before.header.version,
        "poll wrote the header"
    );
    assert_eq!(answer.status, before.status());
    assert_eq!(answer.next_action, expected, "at t={at}");
    assert_eq!(after.header.last_polled_time, Some(Timestamp(at)));
    answer
}

fn statuses(w: &World) -> (E, Vec<W>) {
    let r = w.record();
    (r.status(), r.waves.iter().map(|w| w.status).collect())
}

#[tokio::test]
async fn three_waves_with_a_pause_before_wave_2() {
    let jobs: Jobs = Arc::default();
    let mut w = World::empty().with_drs(drs(&jobs)).with_ec2(ec2());
    let mut p = plan(&[2, 3, 2]);
    p.waves[2].pause_before_wave = true;

    // Create: PENDING throughout.
    w.create(1000, &p).await.unwrap();
    assert_eq!(statuses(&w), (E::Pending, vec![W::Pending; 3]));
    poll(&w, 1005, NextAction::Launch).await;

    // Wave 0.
    let l = w.launch(1010).await.unwrap();
    assert_eq!((l.wave_number, l.status), (0, E::Polling));
    assert_eq!(
        statuses(&w),
        (E::Polling, vec![W::Started, W::Pending, W::Pending])
    );
    let job0 = w.record().waves[0].jobs[0].job_id.clone();
    progress(&jobs, &job0, JobStatus::Started, L::InProgress);
    poll(&w, 1040, NextAction::Wait).await;
    assert!(w.record().waves[0]
        .server_statuses
        .iter()
        .all(|s| s.launch_status == L::InProgress));
    progress(&jobs, &job0, JobStatus::Started, L::Launched);
    let a = poll(&w, 1100, NextAction::Launch).await;
    assert!(!a.all_waves_complete);
    let r = w.record();
    assert_eq!(
        (r.waves[0].status, r.waves[0].recovery_time_seconds),
        (W::Completed, Some(90))
    );
    assert!(r.waves[0]
        .server_statuses
        .iter()
        .all(|s| s.private_ip.as_deref() == Some("10.1.2.3")));

    // Wave 1.
    assert_eq!(w.launch(1110).await.unwrap().wave_number, 1);
    let job1 = w.record().waves[1].jobs[0].job_id.clone();
    assert_ne!(job0, job1);
    progress(&jobs, &job1, JobStatus::Completed, L::Launched);
    poll(&w, 1200, NextAction::Pause).await;
    assert_eq!(
        statuses(&w),
        (E::Polling, vec![W::Completed, W::Completed, W::Pending])
    );
    // Nobody may launch wave 2 before the pause is approved.
    let refused = w.launch(1201).await.unwrap_err();
    assert_eq!(refused.code(), "INVALID_STATE");

    // The workflow parks its token; the operator resumes.
    let paused = w.park("AAAA-workflow-token").await.unwrap();
    assert_eq!(
        (paused.status, paused.paused_before_wave),
        (E::Paused, Some(2))
    );
    assert_eq!(statuses(&w).0, E::Paused);
    poll(&w, 1300, NextAction::Pause).await;
    let mut wf = MockWorkflow::new();
    wf.expect_send_task_success()
        .times(1)
        .withf(|t, _| t.expose() == "AAAA-workflow-token")
        .returning(|_, _| Ok(()));
    w.set_workflow(wf);
    let resumed = w.resume().await.unwrap();
    assert_eq!(
        (
            resumed.status,
            resumed.resumed_before_wave,
            resumed.workflow_released
        ),
        (E::Polling, Some(2), true)
    );
    let r = w.record();
    assert!(r.waves[2].pause_approved && r.header.task_token.is_none());
    poll(&w, 1310, NextAction::Launch).await;

    // Wave 2, then finalize.
    assert_eq!(w.launch(1400).await.unwrap().wave_number, 2);
    let job2 = w.record().waves[2].jobs[0].job_id.clone();
    progress(&jobs, &job2, JobStatus::Completed, L::Launched);
    let a = poll(&w, 1500, NextAction::Finalize).await;
    assert!(a.all_waves_complete);
    assert_eq!(
        statuses(&w),
        (E::Polling, vec![W::Completed; 3]),
        "poll did not finalize"
    );

    let f = w.finalize(1510).await.unwrap();
    assert_eq!(
        (
            f.status,
            f.total_waves,
            f.already_finalized,
            f.recovery_time_seconds
        ),
        (E::Completed, 3, false, Some(490))
    );
    assert_eq!(statuses(&w), (E::Completed, vec![W::Completed; 3]));
    let again = w.finalize(1510).await.unwrap();
    assert!(again.already_finalized);

    // A terminal execution is only read from now on.
    let writes = w.commits().len();
    let a = w.poll_summary(1600).await.unwrap();
    assert_eq!(a.status, E::Completed);
    assert_eq!(w.commits().len(), writes);
    assert_eq!(jobs.lock().unwrap().len(), 3, "one DRS job per wave");
}
