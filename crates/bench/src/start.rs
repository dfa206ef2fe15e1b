//! Benchmark 7: what a start costs before its execution exists. Every start runs a pre-flight
//! (DRS DescribeSourceServers for every server of the plan, 200 ids a call; the holds on the
//! servers read, and each distinct holder execution loaded), then takes a hold on every server
//! (transactions of at most 100 claims, in server order), then creates the execution and starts
//! its workflow run (`crates/execution-core/src/ops/preflight.rs`, `ops/start.rs`). Measured on
//! plans of 10, 1,000 and 10,000 servers: a start on a free pool, a second start of the same
//! servers while the first is active (refused: it must write nothing), and a start that takes over
//! the holds of an ended execution.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use drs_sim::driver::SIMULATED_OPERATOR;
use drs_sim::{Api, Progression, Sim, SimConfig, SimWorkflow, StoreCounts};
use execution_core::api::{Operation, StartRequest, Target, WorkflowInput};
use execution_core::audit::Actor;
use execution_core::ids::{ExecutionId, SourceServerId, TaskToken};
use execution_core::ops::{self, Audited, StartPorts};
use execution_core::plan::Plan;
use execution_core::ports::{
    RunRef, RunState, Workflow, WorkflowError, DRS_FILTER_MAX, MAX_COMMIT_ITEMS,
};
use execution_core::preflight::PreflightProblem;
use execution_core::status::ExecutionStatus;
use execution_core::OperationError;
use serde::Serialize;
use serde_json::json;

use crate::report::{median, ms, verdict, Report};
use crate::shapes::{self, Shape, LAUNCHED_AT};

/// 10, 1,000 and 10,000 servers, in waves of at most 1,000 (the plan's limit per wave).
pub const SIZES: [Shape; 3] = [
    Shape::new("10 (1x10)", 1, 10, 0),
    Shape::new("1,000 (1x1000)", 1, 1000, 0),
    Shape::new("10,000 (10x1000)", 10, 1000, 0),
];

/// On AWS, each read of the holds is one BatchGetItem per 100 servers (aws-adapters'
/// `dynamodb/holds.rs`); the simulator's store answers any number in one call.
const BATCH_GET_KEYS: usize = 100;

/// The first start's execution, and the second's (refused, or taking over the first's holds).
const FIRST: &str = "7a000000-0000-4000-8000-000000000001";
const SECOND: &str = "7a000000-0000-4000-8000-000000000002";

/// Which start is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Case {
    /// No server is held.
    Free,
    /// Every server is held by an active (PENDING) execution: the start is refused.
    Refused,
    /// Every server is held by an execution that has been cancelled and finalized: the start
    /// takes the holds over.
    Takeover,
}

impl Case {
    pub const ALL: [Case; 3] = [Self::Free, Self::Refused, Self::Takeover];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Free => "free pool",
            Self::Refused => "second start, first active (refused)",
            Self::Takeover => "takeover from an ended execution",
        }
    }
}

/// The calls of one start, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartCalls {
    pub describe_source_servers: u64,
    /// `ServerLocks::holds` calls (on AWS, each is ceil(N/100) BatchGetItem).
    pub hold_reads: u64,
    /// `ServerLocks::hold` and `release` calls (each `hold` one TransactWriteItems on AWS).
    pub hold_writes: u64,
    /// Execution loads: whether the start's own id exists, then each distinct holder once per
    /// read of the holds.
    pub loads: u64,
    pub creates: u64,
    /// Step Functions StartExecution (the workflow run).
    pub start_executions: u64,
    /// The touch that records the new run on the execution.
    pub touches: u64,
    /// Any other simulated API or store call (commits, listings, DRS launches...): none.
    pub other: u64,
}

impl StartCalls {
    /// The formulas, for a plan of `servers` servers (the holder, when there is one, is one
    /// execution).
    pub fn expected(servers: usize, case: Case) -> Self {
        let describe = servers.div_ceil(DRS_FILTER_MAX) as u64;
        let hold_writes = servers.div_ceil(MAX_COMMIT_ITEMS) as u64;
        match case {
            // own id; pre-flight (DSS and the holds at once); claims (decided on the pre-flight's
            // read); create; run; touch.
            Case::Free => Self {
                describe_source_servers: describe,
                hold_reads: 1,
                hold_writes,
                loads: 1,
                creates: 1,
                start_executions: 1,
                touches: 1,
                other: 0,
            },
            // own id; pre-flight (DSS, holds, the holder's load): refused, nothing written.
            Case::Refused => Self {
                describe_source_servers: describe,
                hold_reads: 1,
                loads: 2,
                ..Self::default()
            },
            // As on a free pool, plus the ended holder's load after the read of the holds.
            Case::Takeover => Self {
                loads: 2,
                ..Self::expected(servers, Case::Free)
            },
        }
    }

    /// Every call the start makes.
    pub fn total(&self) -> u64 {
        self.describe_source_servers
            + self.hold_reads
            + self.hold_writes
            + self.loads
            + self.creates
            + self.start_executions
            + self.touches
            + self.other
    }

    /// The same start's requests on AWS: each read of the holds is ceil(N/100) BatchGetItem there.
    pub fn aws_requests(&self, servers: usize) -> u64 {
        self.total() + self.hold_reads * (servers.div_ceil(BATCH_GET_KEYS) as u64 - 1)
    }

    /// The calls on the start's critical path, where each waits for the one before: the own-id
    /// load; then DescribeSourceServers ([`DESCRIBE_AT_ONCE`] at a time) beside the read of the
    /// holds and the holders' loads; the hold transactions, one after another in server order;
    /// create, StartExecution, touch. With a latency of L each, a start takes at least
    /// `rounds()`·L.
    pub fn rounds(&self) -> u64 {
        let loads_after_read = self.loads.saturating_sub(1);
        let facts = self
            .describe_source_servers
            .div_ceil(DESCRIBE_AT_ONCE)
            .max(self.hold_reads + loads_after_read);
        1 + facts
            + self.hold_writes
            + self.creates
            + self.start_executions
            + self.touches
            + self.other
    }

    /// "DSS/holds read/holds written/loads/creates/StartExecution/touch".
    fn short(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}/{}/{}",
            self.describe_source_servers,
            self.hold_reads,
            self.hold_writes,
            self.loads,
            self.creates,
            self.start_executions,
            self.touches
        )
    }
}

/// The simulator's workflow, with what the simulator leaves out for a start: StartExecution
/// counted, and taking the same latency as every other call.
struct TimedWorkflow {
    inner: Arc<SimWorkflow>,
    latency: Option<Duration>,
    starts: AtomicU64,
}

#[async_trait]
impl Workflow for TimedWorkflow {
    async fn run_state(&self, run: &RunRef) -> Result<RunState, WorkflowError> {
        self.inner.run_state(run).await
    }

    async fn start_run(&self, input: &WorkflowInput, name: &str) -> Result<String, WorkflowError> {
        self.starts.fetch_add(1, Ordering::SeqCst);
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        self.inner.start_run(input, name).await
    }

    async fn send_task_success(
        &self,
        token: &TaskToken,
        output: &serde_json::Value,
    ) -> Result<(), WorkflowError> {
        self.inner.send_task_success(token, output).await
    }
}

fn id(raw: &str) -> Result<ExecutionId, String> {
    ExecutionId::parse(raw).map_err(|e| e.to_string())
}

fn audited<'a>(sim: &'a Sim, operation: Operation) -> Audited<'a> {
    Audited::new(
        sim.store.as_ref(),
        sim.clock.as_ref(),
        Actor::Cli(SIMULATED_OPERATOR.to_owned()),
        operation.as_str(),
    )
}

/// `ops::start` as the simulated operator's start runs it (`Sim::start`), on `workflow`.
async fn start(
    sim: &Sim,
    workflow: &dyn Workflow,
    request: &StartRequest,
) -> Result<(), OperationError> {
    let store = audited(sim, Operation::Start);
    let ports = StartPorts {
        store: &store,
        locks: sim.store.as_ref(),
        drs: &sim.drs,
        workflow,
        clock: sim.clock.as_ref(),
        policy: &sim.policy,
    };
    ops::start(ports, request).await.map(|_| ())
}

fn request(plan: &Plan, execution_id: ExecutionId) -> StartRequest {
    StartRequest {
        plan: Box::new(plan.clone()),
        execution_id: Some(execution_id),
        poll_interval_seconds: None,
    }
}

/// A simulator where every server of `plan` is known to DRS and replicates CONTINUOUS, with the
/// holds `case` needs: none, the first execution's (PENDING), or the first execution's after it
/// was cancelled and finalized.
async fn world(plan: &Plan, case: Case) -> Result<Sim, String> {
    let sim = Sim::new(SimConfig {
        start_secs: LAUNCHED_AT,
        progression: Progression::Static,
        ..SimConfig::default()
    });
    if case == Case::Free {
        return Ok(sim);
    }
    let first = id(FIRST)?;
    start(&sim, sim.workflow.as_ref(), &request(plan, first))
        .await
        .map_err(|e| format!("the first start: {e}"))?;
    if case == Case::Takeover {
        let target = Target {
            execution_id: first,
            plan_id: plan.plan_id,
        };
        ops::cancel(
            &audited(&sim, Operation::Cancel),
            sim.workflow.as_ref(),
            &target,
        )
        .await
        .map_err(|e| format!("cancel: {e}"))?;
        ops::finalize(
            &audited(&sim, Operation::Finalize),
            sim.clock.as_ref(),
            &target,
        )
        .await
        .map_err(|e| format!("finalize: {e}"))?;
        let status = sim.store.get(first).map(|e| e.status());
        if status != Some(ExecutionStatus::Cancelled) {
            return Err(format!(
                "the first execution is {status:?} after cancel and finalize, not CANCELLED"
            ));
        }
    }
    Ok(sim)
}

/// One measured start.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub calls: StartCalls,
    pub wall: Duration,
}

fn counted(
    before: &(BTreeMap<Api, u64>, StoreCounts),
    after: &(BTreeMap<Api, u64>, StoreCounts),
    start_executions: u64,
) -> StartCalls {
    let called = |api: Api| after.0.get(&api).unwrap_or(&0) - before.0.get(&api).unwrap_or(&0);
    let (s, t) = (&before.1, &after.1);
    StartCalls {
        describe_source_servers: called(Api::DescribeSourceServers),
        hold_reads: t.hold_reads - s.hold_reads,
        hold_writes: t.hold_writes - s.hold_writes,
        loads: t.loads - s.loads,
        creates: t.creates - s.creates,
        start_executions,
        touches: t.touches - s.touches,
        other: Api::ALL
            .into_iter()
            .filter(|a| *a != Api::DescribeSourceServers)
            .map(called)
            .sum::<u64>()
            + (t.commits - s.commits)
            + (t.list_active_pages - s.list_active_pages),
    }
}

/// Every server of `plan`, sorted.
fn servers_of(plan: &Plan) -> Vec<SourceServerId> {
    let mut servers: Vec<SourceServerId> = plan
        .waves
        .iter()
        .flat_map(|w| &w.servers)
        .map(|s| s.source_server_id.clone())
        .collect();
    servers.sort();
    servers
}

/// Whether the start did what `case` expects: the execution created (PENDING, its run started)
/// and every server held by it; or, refused, nothing written and every server still the first's.
fn check_outcome(
    sim: &Sim,
    plan: &Plan,
    case: Case,
    measured: ExecutionId,
    outcome: Result<(), OperationError>,
) -> Result<(), String> {
    let holder = if case == Case::Refused {
        id(FIRST)?
    } else {
        measured
    };
    match (case, outcome) {
        (Case::Refused, Ok(())) => {
            return Err("the second start of held servers was not refused".into())
        }
        (Case::Refused, Err(OperationError::Preflight(verdict))) => {
            let named_first = verdict.problems.iter().all(|p| {
                matches!(p, PreflightProblem::HeldByExecution { execution_id, .. } if *execution_id == holder)
            });
            if !named_first || verdict.problems.is_empty() {
                return Err(format!("refused for another reason: {}", verdict.summary()));
            }
            if sim.store.get(measured).is_some() {
                return Err("the refused start created its execution".into());
            }
        }
        (Case::Refused, Err(e)) => return Err(format!("refused with {e}, not a pre-flight")),
        (_, Err(e)) => return Err(format!("start: {e}")),
        (_, Ok(())) => {
            let status = sim.store.get(measured).map(|e| e.status());
            if status != Some(ExecutionStatus::Pending) {
                return Err(format!("the started execution is {status:?}, not PENDING"));
            }
        }
    }
    let holds = sim.store.all_holds();
    let held: Vec<SourceServerId> = holds
        .iter()
        .filter(|h| h.execution_id == holder)
        .map(|h| h.source_server_id.clone())
        .collect();
    if holds.len() != held.len() || held != servers_of(plan) {
        return Err(format!(
            "after the start, {} of {} holds are {holder}'s; every server of the plan should be",
            held.len(),
            holds.len()
        ));
    }
    Ok(())
}

/// One start of `shape`'s plan in `case`, on a fresh world, every call taking `latency`.
pub async fn measure(
    shape: Shape,
    case: Case,
    latency: Option<Duration>,
) -> Result<Sample, String> {
    let plan = shapes::plan(shape)?;
    let sim = world(&plan, case).await?;
    let measured = id(if case == Case::Free { FIRST } else { SECOND })?;
    let request = request(&plan, measured);
    let workflow = TimedWorkflow {
        inner: sim.workflow.clone(),
        latency,
        starts: AtomicU64::new(0),
    };
    sim.set_latency(latency);
    let before = (sim.calls.counts(), sim.store.counts());
    let clock = Instant::now();
    let outcome = start(&sim, &workflow, &request).await;
    let wall = clock.elapsed();
    let after = (sim.calls.counts(), sim.store.counts());
    sim.set_latency(None);
    check_outcome(&sim, &plan, case, measured, outcome)
        .map_err(|e| format!("{} servers, {}: {e}", shape.name, case.name()))?;
    Ok(Sample {
        calls: counted(&before, &after, workflow.starts.load(Ordering::SeqCst)),
        wall,
    })
}

/// What one size and case measured.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub servers: usize,
    pub waves: usize,
    pub case: Case,
    pub calls: StartCalls,
    pub expected: StartCalls,
    pub calls_met: bool,
    pub latency_ms: f64,
    pub runs: usize,
    /// Median wall time with every call taking L.
    pub wall_ms: f64,
    pub wall_samples_ms: Vec<f64>,
    /// The expected calls on the critical path ([`StartCalls::rounds`]), L each.
    pub critical_path_ms: f64,
    pub ratio: f64,
    /// Median wall time without latency: the core's own work.
    pub wall_no_latency_ms: f64,
    pub wall_no_latency_samples_ms: Vec<f64>,
    /// The same start's requests on AWS, one after another (holds read in BatchGetItems of 100).
    pub aws_requests: u64,
}

/// DescribeSourceServers calls a pre-flight sends at once (`ops/preflight.rs`).
pub const DESCRIBE_AT_ONCE: u64 = 4;

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `runs` starts with latency `l` and `runs` without, each on a fresh world; every one's calls
/// must equal the formulas.
pub async fn outcome(
    shape: Shape,
    case: Case,
    l: Duration,
    runs: usize,
    drift: &mut Vec<String>,
) -> Result<Outcome, String> {
    let servers = shape.waves * shape.servers_per_wave;
    let expected = StartCalls::expected(servers, case);
    let mut with_l = Vec::with_capacity(runs);
    let mut without = Vec::with_capacity(runs);
    let mut calls = None;
    for latency in [Some(l), None] {
        for _ in 0..runs {
            let sample = measure(shape, case, latency).await?;
            if sample.calls != expected {
                drift.push(format!(
                    "{} servers, {} ({}): counted {:?}, the formulas say {:?}",
                    shape.name,
                    case.name(),
                    if latency.is_some() {
                        "with latency"
                    } else {
                        "no latency"
                    },
                    sample.calls,
                    expected
                ));
            }
            calls.get_or_insert(sample.calls);
            match latency {
                Some(_) => with_l.push(sample.wall),
                None => without.push(sample.wall),
            }
        }
    }
    let calls = calls.unwrap_or_default();
    let bound = l * u32::try_from(expected.rounds()).unwrap_or(u32::MAX);
    let wall = median(with_l.clone());
    Ok(Outcome {
        servers,
        waves: shape.waves,
        case,
        calls,
        expected,
        calls_met: calls == expected,
        latency_ms: millis(l),
        runs,
        wall_ms: millis(wall),
        wall_samples_ms: with_l.into_iter().map(millis).collect(),
        critical_path_ms: millis(bound),
        ratio: wall.as_secs_f64() / bound.as_secs_f64(),
        wall_no_latency_ms: millis(median(without.clone())),
        wall_no_latency_samples_ms: without.into_iter().map(millis).collect(),
        aws_requests: expected.aws_requests(servers),
    })
}

pub async fn run(l: Duration, runs: usize) -> Result<Report, String> {
    let mut report = Report::new(
        "start",
        format!(
            "7. Start: pre-flight and holds (L = {} ms per call, median of {runs})",
            ms(l)
        ),
        &[
            "servers (waves)",
            "start",
            "DescribeSourceServers",
            "hold reads",
            "hold writes",
            "loads",
            "creates",
            "StartExecution",
            "touch",
            "other",
            "formulas (DSS/HR/HW/loads/creates/SE/touch)",
            "calls",
            "wall ms",
            "critical path ms",
            "wall / bound",
            "wall ms, no latency",
        ],
    );
    let mut data = Vec::new();
    let mut drift = Vec::new();
    for shape in SIZES {
        for case in Case::ALL {
            let o = outcome(shape, case, l, runs, &mut drift).await?;
            let c = o.calls;
            report.row(vec![
                shape.name.into(),
                case.name().into(),
                c.describe_source_servers.to_string(),
                c.hold_reads.to_string(),
                c.hold_writes.to_string(),
                c.loads.to_string(),
                c.creates.to_string(),
                c.start_executions.to_string(),
                c.touches.to_string(),
                c.other.to_string(),
                o.expected.short(),
                verdict(o.calls_met),
                format!("{:.1}", o.wall_ms),
                format!("{:.1}", o.critical_path_ms),
                format!("{:.2}", o.ratio),
                format!("{:.2}", o.wall_no_latency_ms),
            ]);
            data.push(json!(o));
        }
    }
    report.note(format!(
        "Counted by drs-sim (`Calls`, `MemoryStore::counts`) around one `ops::start`, run as \
         `Sim::start` runs it; StartExecution is counted (and delayed by L) by the bench's \
         wrapper of the simulator's workflow, which neither counts nor delays it. Formulas, for N \
         servers: DescribeSourceServers ceil(N/{DRS_FILTER_MAX}); hold writes ceil(N/{MAX_COMMIT_ITEMS}) \
         (transactions, one after another in server order) on a free pool or a takeover, 0 when \
         refused; hold reads 1 (the pre-flight's, on which the claims are decided), followed by one \
         load per distinct holder; creates, StartExecution and touch 1 each (0 when refused). \
         DescribeSourceServers go {DESCRIBE_AT_ONCE} at a time beside the read of the holds, so the \
         bound is the critical path's calls·L. On AWS each read of the holds is \
         ceil(N/{BATCH_GET_KEYS}) BatchGetItem, 8 at a time: see `awsRequests` in the JSON.",
    ));
    report.data = json!(data);
    if !drift.is_empty() {
        return Err(format!(
            "{}\nthe calls of a start drifted from the formulas:\n  {}",
            report.table(),
            drift.join("\n  ")
        ));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Written out by hand, so that a broken count or a broken formula shows.
    #[tokio::test]
    async fn a_start_of_ten_servers_reads_and_writes_what_the_formulas_say() {
        let free = measure(SIZES[0], Case::Free, None).await.unwrap().calls;
        let want = StartCalls {
            describe_source_servers: 1,
            hold_reads: 1,
            hold_writes: 1,
            loads: 1,
            creates: 1,
            start_executions: 1,
            touches: 1,
            other: 0,
        };
        assert_eq!(free, want);
        assert_eq!(StartCalls::expected(10, Case::Free), want);
        let refused = measure(SIZES[0], Case::Refused, None).await.unwrap().calls;
        assert_eq!(
            refused,
            StartCalls {
                describe_source_servers: 1,
                hold_reads: 1,
                loads: 2,
                ..StartCalls::default()
            }
        );
        let takeover = measure(SIZES[0], Case::Takeover, None).await.unwrap().calls;
        assert_eq!(takeover, StartCalls { loads: 2, ..want });
    }

    #[tokio::test]
    async fn a_thousand_servers_take_five_describes_and_ten_transactions() {
        let free = measure(SIZES[1], Case::Free, None).await.unwrap().calls;
        assert_eq!(free.describe_source_servers, 5);
        assert_eq!(free.hold_writes, 10);
        assert_eq!(free, StartCalls::expected(1000, Case::Free));
        let refused = measure(SIZES[1], Case::Refused, None).await.unwrap().calls;
        assert_eq!(refused, StartCalls::expected(1000, Case::Refused));
        assert_eq!(refused.hold_writes + refused.creates + refused.touches, 0);
    }

    #[test]
    fn ten_thousand_servers_on_aws_read_the_holds_in_batches_of_a_hundred() {
        let free = StartCalls::expected(10_000, Case::Free);
        assert_eq!(
            (free.describe_source_servers, free.hold_writes, free.total()),
            (50, 100, 155)
        );
        // 1 load + 50 DSS + 100 BatchGetItem + 100 transactions + create, run, touch.
        assert_eq!(free.aws_requests(10_000), 254);
        // load; 13 rounds of DSS beside the read; 100 transactions; create, run, touch.
        assert_eq!(free.rounds(), 1 + 13 + 100 + 3);
    }
}
