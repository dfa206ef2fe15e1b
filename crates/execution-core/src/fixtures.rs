//! Record builders for tests (this crate's and, with the `test-support` feature, other crates').

use crate::ids::{ExecutionId, InstanceId, JobId, PlanId, SourceServerId};
use crate::model::{Execution, FailurePolicy, Impact, Timestamp, Wave, WaveJob};
use crate::plan::{Plan, PlanServer, PlanWave};
use crate::ports::{DrsJob, ParticipatingServer};
use crate::status::{JobStatus, LaunchStatus};

pub const EXECUTION_ID: &str = "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00";
pub const PLAN_ID: &str = "0d9b7c6a-1111-4222-8333-944455556666";

pub fn execution_id() -> ExecutionId {
    ExecutionId::parse(EXECUTION_ID).unwrap_or_else(|_| unreachable!())
}

pub fn plan_id() -> PlanId {
    PlanId::parse(PLAN_ID).unwrap_or_else(|_| unreachable!())
}

/// Source server number `n` (`s-` and 17 digits).
pub fn server(n: usize) -> SourceServerId {
    SourceServerId::parse(&format!("s-{n:017}")).unwrap_or_else(|_| unreachable!())
}

pub fn job(n: usize) -> JobId {
    JobId::parse(&format!("drsjob-{n:017}")).unwrap_or_else(|_| unreachable!())
}

pub fn instance(n: usize) -> InstanceId {
    InstanceId::parse(&format!("i-{n:017x}")).unwrap_or_else(|_| unreachable!())
}

/// A plan with `sizes[i]` servers in wave `i`, numbered consecutively from 0; a failed wave STOPs.
pub fn plan(sizes: &[usize]) -> Plan {
    let mut next = 0;
    let waves = sizes
        .iter()
        .map(|&size| {
            let servers = (next..next + size)
                .map(|n| PlanServer {
                    source_server_id: server(n),
                    server_name: Some(format!("host-{n}")),
                    impact: Impact::Critical,
                })
                .collect();
            next += size;
            PlanWave {
                target_rto_seconds: None,
                wave_name: None,
                pause_before_wave: false,
                timeout_seconds: None,
                on_failure: None,
                actions: Vec::new(),
                servers,
            }
        })
        .collect();
    Plan {
        target_rto_seconds: None,
        cleanup_after_seconds: None,
        plan_id: plan_id(),
        plan_name: Some("test plan".into()),
        is_drill: true,
        wave_timeout_seconds: Some(3600),
        // A failed wave stops the execution, so that tests of other rules need no decision; the
        // tests of failure pauses say PAUSE.
        on_wave_failure: Some(FailurePolicy::Stop),
        waves,
    }
}

/// A fresh PENDING execution of [`plan`]`(sizes)` created at t = 1000.
pub fn execution(sizes: &[usize]) -> Execution {
    plan(sizes)
        .new_execution(execution_id(), Timestamp(1000))
        .unwrap_or_else(|_| unreachable!())
}

/// A DRS job with the given launch statuses for the given servers, no recovery instances.
pub fn drs_job(id: usize, status: JobStatus, servers: &[(SourceServerId, LaunchStatus)]) -> DrsJob {
    DrsJob {
        created_time: None,
        ended_time: None,
        tag: None,
        job_id: job(id),
        status,
        participating_servers: servers
            .iter()
            .map(|(s, l)| ParticipatingServer {
                source_server_id: s.clone(),
                launch_status: l.clone(),
                recovery_instance_id: None,
            })
            .collect(),
    }
}

/// Gives `wave` one job of its first attempt for all its servers, recorded at `at`, as launch does
/// (the wave's status is the caller's).
pub fn give_job(wave: &mut Wave, job_id: JobId, at: Timestamp) {
    wave.attempt = wave.attempt.max(1);
    wave.launch_time.get_or_insert(at);
    wave.attempt_time.get_or_insert(at);
    for server in &mut wave.server_statuses {
        server.job_id = Some(job_id.clone());
    }
    wave.jobs.push(WaveJob {
        created_time: None,
        ended_time: None,
        job_id,
        attempt: wave.attempt,
        part: 0,
        recorded_time: at,
    });
}
