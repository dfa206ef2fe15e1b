//! Races against a real DynamoDB protocol (the moto server), with the simulator as DRS and EC2:
//! seeded random interleavings of poll ×2, pause, resume, cancel, finalize ×2 and launch ×2 on one
//! execution, run concurrently, with every invariant checked after every step. A failure prints
//! its seed; `RACE_SEED=<n>` replays from that seed, `RACE_INTERLEAVINGS=<n>` runs more.
//!
//! moto applies concurrent DynamoDB requests without isolation (two conditional transactions can
//! both succeed); `scripts/moto_server.py` serialises them, as DynamoDB's own request atomicity
//! does. Without it this test finds "two DRS jobs for one wave": moto's race, not the engine's.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_adapters::{create_table, DynamoDbStore};
use drs_sim::{Progression, Sim, SimConfig, Spread, Timings};
use execution_core::api::{PauseRequest, PollRequest, Target};
use execution_core::ids::{ExecutionId, PlanId, SourceServerId};
use execution_core::model::{Execution, Timestamp};
use execution_core::ops;
use execution_core::plan::{Plan, PlanServer, PlanWave};
use execution_core::ports::{ExecutionStore, TAG_EXECUTION_ID, TAG_WAVE_NUMBER};
use execution_core::status::{ExecutionStatus, WaveStatus};
use execution_core::OperationError;
use futures::stream::{self, StreamExt};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use workspace_tests::moto;

const STEPS: usize = 8;
const INDEX: &str = "status-index";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Poll,
    Launch,
    Pause,
    PauseWithToken,
    Resume,
    Cancel,
    Finalize,
}

/// Two of each racing writer, as the issue lists them; cancel once, so most runs get far.
const OPS: [Op; 10] = [
    Op::Poll,
    Op::Poll,
    Op::Launch,
    Op::Launch,
    Op::Pause,
    Op::PauseWithToken,
    Op::Resume,
    Op::Finalize,
    Op::Finalize,
    Op::Cancel,
];

/// What an operation answered: its status code, and for pause and resume what they said.
#[derive(Debug, Clone)]
struct Answer {
    op: Op,
    code: u16,
    paused_before: Option<u32>,
    status: Option<ExecutionStatus>,
}

fn answer<T>(
    op: Op,
    r: &Result<T, OperationError>,
    f: impl Fn(&T) -> (Option<u32>, Option<ExecutionStatus>),
) -> Answer {
    match r {
        Ok(t) => {
            let (paused_before, status) = f(t);
            Answer {
                op,
                code: 200,
                paused_before,
                status,
            }
        }
        Err(e) => Answer {
            op,
            code: e.status_code(),
            paused_before: None,
            status: None,
        },
    }
}

async fn run(op: Op, store: &DynamoDbStore, sim: &Sim, target: Target) -> Answer {
    let clock = sim.clock.as_ref();
    match op {
        Op::Poll => {
            let r = ops::poll(
                store,
                &sim.drs,
                &sim.ec2,
                clock,
                &sim.policy,
                &PollRequest {
                    target,
                    summary: true,
                },
            )
            .await;
            answer(op, &r, |a| (None, Some(a.status)))
        }
        Op::Launch => {
            let r = ops::launch(store, &sim.drs, clock, &sim.policy, &target).await;
            answer(op, &r, |a| (None, Some(a.status)))
        }
        Op::Pause | Op::PauseWithToken => {
            let task_token = (op == Op::PauseWithToken).then(|| sim.workflow.issue_token());
            let r = ops::pause(
                store,
                sim.workflow.as_ref(),
                clock,
                &sim.policy,
                &PauseRequest { target, task_token },
            )
            .await;
            answer(op, &r, |a| (a.paused_before_wave, Some(a.status)))
        }
        Op::Resume => answer(
            op,
            &ops::resume(store, sim.workflow.as_ref(), &target).await,
            |a| (None, Some(a.status)),
        ),
        Op::Cancel => answer(
            op,
            &ops::cancel(store, sim.workflow.as_ref(), &target).await,
            |a| (None, Some(a.status)),
        ),
        Op::Finalize => answer(op, &ops::finalize(store, clock, &target).await, |a| {
            (None, Some(a.status))
        }),
    }
}

/// The invariants, checked against the record after every step.
#[derive(Default)]
struct Checker {
    previous: Option<Execution>,
    /// The terminal header as first seen: status, version, end time.
    terminal: Option<(ExecutionStatus, u64, Option<Timestamp>)>,
    /// A pause answered 200 before this wave; no resume answered since.
    pause_holds_before: Option<u32>,
}

impl Checker {
    fn after_step(
        &mut self,
        answers: &[Answer],
        record: &Execution,
        sim: &Sim,
    ) -> Result<(), String> {
        for a in answers {
            if a.code == 500 {
                return Err(format!(
                    "{:?} answered 500 without any injected fault",
                    a.op
                ));
            }
        }
        let h = &record.header;
        // A terminal status never changes and is written once.
        if let Some((status, version, end)) = self.terminal {
            if (h.status, h.version, h.end_time) != (status, version, end) {
                return Err(format!(
                    "terminal {status} v{version} became {} v{}",
                    h.status, h.version
                ));
            }
        } else if h.status.is_terminal() {
            self.terminal = Some((h.status, h.version, h.end_time));
        }
        // Wave statuses only move forward.
        if let Some(prev) = &self.previous {
            for (p, w) in prev.waves.iter().zip(&record.waves) {
                let forward = p.status == w.status || (p.status.rank() < w.status.rank());
                if !forward || (p.status.is_settled() && p.status != w.status) {
                    return Err(format!(
                        "wave {} moved {} → {}",
                        w.wave_number, p.status, w.status
                    ));
                }
            }
        }
        // At most one DRS job per wave.
        let mut jobs: BTreeMap<String, usize> = BTreeMap::new();
        for job in sim
            .world
            .jobs()
            .iter()
            .filter(|j| j.tags.get(TAG_EXECUTION_ID) == Some(&record.id().to_string()))
        {
            *jobs
                .entry(job.tags.get(TAG_WAVE_NUMBER).cloned().unwrap_or_default())
                .or_default() += 1;
        }
        if let Some((wave, n)) = jobs.iter().find(|(_, n)| **n > 1) {
            return Err(format!("wave {wave} has {n} DRS jobs"));
        }
        for w in &record.waves {
            if let Some(job) = &w.job_id {
                if !sim.world.jobs().iter().any(|j| &j.job_id == job) {
                    return Err(format!(
                        "wave {} records job {job}, which DRS never started",
                        w.wave_number
                    ));
                }
            }
        }
        // A pause that answered 200 holds until a resume: the wave it stands before is not launched.
        let resumed = answers.iter().any(|a| a.op == Op::Resume && a.code == 200);
        if let (Some(n), false) = (self.pause_holds_before, resumed) {
            let w = record
                .wave(n)
                .ok_or("paused before a wave that does not exist")?;
            if !matches!(w.status, WaveStatus::Pending | WaveStatus::Cancelled) {
                return Err(format!(
                    "wave {n} is {} although a pause before it answered 200 and no resume did",
                    w.status
                ));
            }
        }
        let paused = answers.iter().find(|a| {
            matches!(a.op, Op::Pause | Op::PauseWithToken)
                && a.code == 200
                && a.status == Some(ExecutionStatus::Paused)
        });
        self.pause_holds_before = match (resumed, paused) {
            (true, _) => None, // order within the step unknown: be lenient
            (false, Some(p)) => p.paused_before.or(self.pause_holds_before),
            (false, None) => self.pause_holds_before,
        };
        self.previous = Some(record.clone());
        Ok(())
    }
}

fn plan(rng: &mut ChaCha8Rng) -> Plan {
    let waves = (0..3)
        .map(|w| PlanWave {
            wave_name: None,
            pause_before_wave: w > 0 && rng.random_bool(0.4),
            timeout_seconds: None,
            servers: (0..2)
                .map(|s| PlanServer {
                    source_server_id: SourceServerId::parse(&format!("s-{:017}", w * 10 + s))
                        .unwrap(),
                    server_name: None,
                })
                .collect(),
        })
        .collect();
    Plan {
        plan_id: PlanId::from_uuid(uuid::Uuid::from_u128(rng.random())),
        plan_name: None,
        is_drill: true,
        wave_timeout_seconds: None,
        waves,
    }
}

async fn interleaving(store: Arc<DynamoDbStore>, seed: u64) -> Result<(), String> {
    one_interleaving(store, seed)
        .await
        .map_err(|e| format!("seed {seed}: {e}"))
}

async fn one_interleaving(store: Arc<DynamoDbStore>, seed: u64) -> Result<(), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Fast jobs: a wave launches within a step or two of simulated time.
    let timings = Timings {
        job_start: Spread::new(0, 20),
        server_start: Spread::new(0, 20),
        server_launch: Spread::new(10, 60),
        job_complete_lag_secs: 5,
    };
    let sim = Sim::new(SimConfig {
        seed,
        progression: Progression::Timed(timings),
        ..SimConfig::default()
    });
    let plan = plan(&mut rng);
    let id = ExecutionId::from_uuid(uuid::Uuid::from_u128(rng.random()));
    ops::create_execution(store.as_ref(), sim.clock.as_ref(), &plan, id)
        .await
        .map_err(|e| e.to_string())?;
    let target = Target {
        execution_id: id,
        plan_id: plan.plan_id,
    };
    let mut checker = Checker::default();
    for step in 0..STEPS {
        let chosen: Vec<(Op, u64)> = (0..rng.random_range(1..=4))
            .map(|_| (OPS[rng.random_range(0..OPS.len())], rng.random_range(0..4)))
            .collect();
        let answers = futures::future::join_all(chosen.iter().map(|&(op, delay_ms)| {
            let (store, sim) = (store.clone(), sim.clone());
            async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                run(op, &store, &sim, target).await
            }
        }))
        .await;
        sim.clock.advance_secs(rng.random_range(0..90));
        let record = store
            .load(id)
            .await
            .map_err(|e| format!("step {step}: the record does not read back: {e}"))?
            .ok_or(format!("step {step}: the record vanished"))?;
        checker
            .after_step(&answers, &record, &sim)
            .map_err(|e| format!("step {step} after {chosen:?}: {e}"))?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_interleavings_keep_every_invariant() {
    let client = moto::dynamodb_client();
    let table = format!("races-{}", uuid::Uuid::new_v4());
    create_table(&client, &table, INDEX)
        .await
        .expect("create the table in moto");
    let store = Arc::new(DynamoDbStore::new(client, table, INDEX.into()));
    let base: u64 = std::env::var("RACE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0000);
    let count: u64 = std::env::var("RACE_INTERLEAVINGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let failures: Vec<String> = stream::iter(base..base + count)
        .map(|seed| interleaving(store.clone(), seed))
        .buffer_unordered(8)
        .filter_map(|r| async move { r.err() })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {count} interleavings broke an invariant:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
