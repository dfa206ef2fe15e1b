//! The cost of one poll decision on the largest execution we support: 50 waves × 200 servers.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use execution_core::fixtures;
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::{DrsJob, ParticipatingServer};
use execution_core::rules::{judge_wave, next_action, outcome, JobsById, Policy};
use execution_core::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};

/// 50 × 200, waves 0..25 completed, wave 25 in flight, the rest pending.
fn big_execution() -> Execution {
    let mut e = fixtures::execution(&[200; 50]);
    e.header.status = ExecutionStatus::Polling;
    for (i, w) in e.waves.iter_mut().enumerate() {
        w.status = match i {
            0..25 => WaveStatus::Completed,
            25 => WaveStatus::Started,
            _ => WaveStatus::Pending,
        };
        if i <= 25 {
            fixtures::give_job(w, fixtures::job(i), Timestamp(1000));
        }
    }
    e
}

fn job_for(e: &Execution, wave: usize) -> DrsJob {
    let w = &e.waves[wave];
    DrsJob {
        created_time: None,
        ended_time: None,
        tag: None,
        job_id: fixtures::job(wave),
        status: JobStatus::Started,
        participating_servers: w
            .server_statuses
            .iter()
            .enumerate()
            .map(|(i, s)| ParticipatingServer {
                source_server_id: s.source_server_id.clone(),
                launch_status: if i % 3 == 0 {
                    LaunchStatus::InProgress
                } else {
                    LaunchStatus::Launched
                },
                recovery_instance_id: None,
            })
            .collect(),
    }
}

fn decision(c: &mut Criterion) {
    let e = big_execution();
    let job = job_for(&e, 25);
    let jobs: JobsById = [(job.job_id.clone(), job)].into();
    let policy = Policy::default();
    let now = Timestamp(1500);
    c.bench_function(
        "poll decision 50x200 (every wave judged + nextAction + outcome)",
        |b| {
            b.iter(|| {
                // The worst case: judge every wave as if all were in flight, then decide.
                for w in &e.waves {
                    black_box(judge_wave(w, &jobs, now, &policy));
                }
                black_box(next_action(&e, now, &policy));
                black_box(outcome(&e).ok());
            })
        },
    );
    c.bench_function("nextAction 50x200", |b| {
        b.iter(|| black_box(next_action(black_box(&e), now, &policy)))
    });
    c.bench_function("judge_wave 200 servers", |b| {
        b.iter(|| black_box(judge_wave(&e.waves[25], &jobs, now, &policy)))
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
