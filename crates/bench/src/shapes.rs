//! The executions the poll benchmarks measure, built directly in the simulator: a record in the
//! memory store whose waves in flight are STARTED with a DRS job, and a static world (jobs,
//! recovery instances, EC2 instances) that says exactly what each moment needs.

use std::collections::BTreeMap;
use std::ops::Range;

use drs_sim::{Job, Progression, Sim, SimConfig};
use execution_core::api::{PollRequest, PollResponse, Target};
use execution_core::ids::{ExecutionId, InstanceId, JobId, PlanId, SourceServerId};
use execution_core::model::{Execution, Impact, ServerStatus, Timestamp, WaveJob};
use execution_core::ops;
use execution_core::plan::{Plan, PlanServer, PlanWave};
use execution_core::ports::{Ec2Instance, ExecutionStore, ParticipatingServer, RecoveryInstance};
use execution_core::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};
use execution_core::OperationError;
use serde::Serialize;

/// When the waves in flight were launched; every poll runs ten minutes later.
pub const LAUNCHED_AT: i64 = SimConfig::DEFAULT_START_SECS;
const POLLED_AT: i64 = LAUNCHED_AT + 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Shape {
    pub name: &'static str,
    pub waves: usize,
    pub servers_per_wave: usize,
    pub in_flight: usize,
}

/// The four shapes.
pub const SHAPES: [Shape; 4] = [
    Shape::new("1x10", 1, 10, 1),
    Shape::new("1x200", 1, 200, 1),
    Shape::new("5x200, 5 in flight", 5, 200, 5),
    Shape::new("50x200, 1 in flight", 50, 200, 1),
];

impl Shape {
    pub const fn new(
        name: &'static str,
        waves: usize,
        servers_per_wave: usize,
        in_flight: usize,
    ) -> Self {
        Self {
            name,
            waves,
            servers_per_wave,
            in_flight,
        }
    }

    /// The waves in flight, in the middle: those before are COMPLETED and fully described (so
    /// poll must leave them alone), those after PENDING.
    pub fn in_flight_waves(&self) -> Range<usize> {
        let first = (self.waves - self.in_flight) / 2;
        first..first + self.in_flight
    }

    pub fn servers_in_flight(&self) -> usize {
        self.in_flight * self.servers_per_wave
    }
}

/// Which poll of a wave's life is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Moment {
    /// Nothing changes: half the servers in flight launched and were described by the poll
    /// before, the other half are still converting; DRS and EC2 say what the record holds.
    Steady,
    /// Every server in flight launches, and every job entry names its recovery instance.
    Launch,
    /// Every server in flight launches, and a quarter of the job entries lack the recovery
    /// instance id (DRS fills it in later): poll asks DescribeRecoveryInstances for those.
    LaunchLackingIds,
}

impl Moment {
    pub const ALL: [Moment; 3] = [Self::Steady, Self::Launch, Self::LaunchLackingIds];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Steady => "steady (no change)",
            Self::Launch => "servers launch",
            Self::LaunchLackingIds => "servers launch, 1/4 without id in job",
        }
    }

    /// Server `j` of a wave in flight has launched when the measured poll runs.
    pub const fn launched(self, j: usize) -> bool {
        !matches!(self, Self::Steady) || j.is_multiple_of(2)
    }

    /// DescribeJobs names server `j`'s recovery instance.
    pub const fn job_names_instance(self, j: usize) -> bool {
        !matches!(self, Self::LaunchLackingIds) || j % 4 != 3
    }
}

/// A simulator holding one execution of a shape, ready for the measured poll.
pub struct Fixture {
    pub sim: Sim,
    pub request: PollRequest,
}

impl Fixture {
    /// The record and world of `shape` at `moment`. For [`Moment::Steady`] a first poll has
    /// already run (it describes the launched half), so the next poll changes nothing.
    pub async fn new(shape: Shape, moment: Moment) -> Result<Self, String> {
        let sim = Sim::new(SimConfig {
            start_secs: POLLED_AT,
            progression: Progression::Static,
            ..SimConfig::default()
        });
        let execution = record(shape, shape.in_flight_waves())?;
        for w in shape.in_flight_waves() {
            add_job(&sim, shape, w, &execution.waves[w].server_statuses, moment);
        }
        sim.store
            .create(&execution, &[])
            .await
            .map_err(|e| format!("create: {e}"))?;
        let fixture = Self {
            request: PollRequest {
                target: Target {
                    execution_id: execution.id(),
                    plan_id: execution.header.plan_id,
                },
                summary: true,
                workflow_run: None,
            },
            sim,
        };
        if moment == Moment::Steady {
            fixture
                .poll()
                .await
                .map_err(|e| format!("first poll: {e}"))?;
        }
        Ok(fixture)
    }

    pub async fn poll(&self) -> Result<PollResponse, OperationError> {
        let s = &self.sim;
        ops::poll(
            s.store.as_ref(),
            &s.drs,
            &s.ec2,
            None,
            s.clock.as_ref(),
            &s.policy,
            &self.request,
        )
        .await
    }

    /// The execution as stored now.
    pub fn stored(&self) -> Result<Execution, String> {
        self.sim
            .store
            .get(self.request.target.execution_id)
            .ok_or_else(|| "the execution is gone from the store".to_owned())
    }
}

/// `shape` at its end: every wave COMPLETED, every server launched and described.
pub fn finished(shape: Shape) -> Result<Execution, String> {
    record(shape, shape.waves..shape.waves)
}

/// The plan of `shape`: `waves` waves of `servers_per_wave` CRITICAL servers each, a drill, with
/// the ids every benchmark uses (server `n` of the plan is always the same source server).
pub fn plan(shape: Shape) -> Result<Plan, String> {
    Ok(Plan {
        cleanup_after_seconds: None,
        target_rto_seconds: None,
        plan_id: PlanId::parse("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
            .map_err(|e| e.to_string())?,
        plan_name: Some(format!("benchmark {}", shape.name)),
        is_drill: true,
        wave_timeout_seconds: Some(3600),
        on_wave_failure: None,
        waves: (0..shape.waves)
            .map(|w| PlanWave {
                target_rto_seconds: None,
                wave_name: Some(format!("tier-{w:02}")),
                pause_before_wave: false,
                timeout_seconds: None,
                on_failure: None,
                actions: Vec::new(),
                servers: (0..shape.servers_per_wave)
                    .map(|j| PlanServer {
                        source_server_id: server_id(w * shape.servers_per_wave + j),
                        server_name: Some(format!("app-{w:02}-{j:03}.corp.example.com")),
                        impact: Impact::Critical,
                    })
                    .collect(),
            })
            .collect(),
    })
}

/// POLLING, waves before `in_flight` COMPLETED and described, those in it STARTED with every
/// server IN_PROGRESS, the rest PENDING.
fn record(shape: Shape, in_flight: Range<usize>) -> Result<Execution, String> {
    let plan = plan(shape)?;
    let id =
        ExecutionId::parse("6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00").map_err(|e| e.to_string())?;
    let mut e = plan
        .new_execution(id, Timestamp(LAUNCHED_AT - 60))
        .map_err(|p| format!("{p:?}"))?;
    e.header.status = ExecutionStatus::Polling;
    e.header.start_time = Some(Timestamp(LAUNCHED_AT - 3600));
    for (w, wave) in e.waves.iter_mut().enumerate() {
        if w >= in_flight.end {
            continue;
        }
        // One job for the wave's servers (launch's one part with `maxServersPerJob` 200).
        wave.attempt = 1;
        wave.launch_time = Some(Timestamp(LAUNCHED_AT));
        wave.attempt_time = Some(Timestamp(LAUNCHED_AT));
        wave.jobs = vec![WaveJob {
            created_time: None,
            ended_time: None,
            job_id: job_id(w),
            attempt: 1,
            part: 0,
            recorded_time: Timestamp(LAUNCHED_AT),
        }];
        for s in &mut wave.server_statuses {
            s.job_id = Some(job_id(w));
        }
        if in_flight.contains(&w) {
            wave.status = WaveStatus::Started;
            for s in &mut wave.server_statuses {
                s.launch_status = LaunchStatus::InProgress;
            }
        } else {
            wave.status = WaveStatus::Completed;
            wave.end_time = Some(Timestamp(LAUNCHED_AT + 540));
            wave.recovery_time_seconds = Some(540);
            for (j, s) in wave.server_statuses.iter_mut().enumerate() {
                describe(s, w * shape.servers_per_wave + j);
            }
        }
    }
    Ok(e)
}

/// The DRS job of wave `w` at `moment`, and the recovery and EC2 instances of its launched servers.
fn add_job(sim: &Sim, shape: Shape, w: usize, servers: &[ServerStatus], moment: Moment) {
    let mut participating = Vec::with_capacity(servers.len());
    for (j, s) in servers.iter().enumerate() {
        let n = w * shape.servers_per_wave + j;
        let launched = moment.launched(j);
        if launched {
            sim.world.add_recovery_instance(RecoveryInstance {
                recovery_instance_id: instance_id(n),
                ec2_instance_id: Some(instance_id(n)),
                source_server_id: s.source_server_id.clone(),
                job_id: Some(job_id(w)),
                is_drill: Some(true),
            });
            sim.world.add_instance(ec2_instance(n));
        }
        participating.push(ParticipatingServer {
            source_server_id: s.source_server_id.clone(),
            launch_status: if launched {
                LaunchStatus::Launched
            } else {
                LaunchStatus::InProgress
            },
            recovery_instance_id: (launched && moment.job_names_instance(j))
                .then(|| instance_id(n)),
        });
    }
    sim.world.add_job(Job::fixed(
        job_id(w),
        JobStatus::Started,
        Timestamp(LAUNCHED_AT),
        participating,
        BTreeMap::new(),
    ));
}

/// A launched server with everything DRS and EC2 say of it.
fn describe(s: &mut ServerStatus, n: usize) {
    let ec2 = ec2_instance(n);
    s.launch_status = LaunchStatus::Launched;
    s.recovery_instance_id = Some(ec2.instance_id.clone());
    s.instance_id = Some(ec2.instance_id);
    s.private_ip = ec2.private_ip;
    s.hostname = ec2.private_dns_name;
    s.instance_type = ec2.instance_type;
    s.instance_state = ec2.state;
    s.launch_time = ec2.launch_time;
}

fn ec2_instance(n: usize) -> Ec2Instance {
    let [a, b, c, ..] = scramble(n, 3).to_le_bytes();
    let ip = format!("10.{a}.{b}.{c}");
    Ec2Instance {
        instance_id: instance_id(n),
        private_dns_name: Some(format!("ip-{}.ec2.internal", ip.replace('.', "-"))),
        private_ip: Some(ip),
        instance_type: Some("m5.large".into()),
        state: Some("running".into()),
        launch_time: Some(Timestamp(LAUNCHED_AT + 420)),
    }
}

// Ids and addresses look random, as AWS's do: sequential ones would compress far better than
// real ones, and stored server lists are gzip-compressed (docs/storage.md).
fn server_id(n: usize) -> SourceServerId {
    SourceServerId::parse(&format!("s-{:017x}", scramble(n, 1)))
        .unwrap_or_else(|e| unreachable!("{e}"))
}

fn instance_id(n: usize) -> InstanceId {
    InstanceId::parse(&format!("i-{:017x}", scramble(n, 2))).unwrap_or_else(|e| unreachable!("{e}"))
}

fn job_id(w: usize) -> JobId {
    JobId::parse(&format!("drsjob-{:017x}", scramble(w, 4))).unwrap_or_else(|e| unreachable!("{e}"))
}

/// splitmix64 of `n` in its own `stream`: a bijection, so distinct `n` give distinct ids.
fn scramble(n: usize, stream: u64) -> u64 {
    let mut z = (n as u64)
        .wrapping_add(stream << 56)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
