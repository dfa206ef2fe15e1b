//! Faults: every fault the simulator plays (throttling with a retry-after hint and 5xx on each
//! API, a wave action's start or invocation whose answer is lost, EC2 not knowing an instance
//! yet, a job missing from DescribeJobs, recoveryInstanceID missing from the job, a server that
//! fails to launch) and a failing store, × every operation: the seed's five, launch (fresh, and
//! settling a dead launcher's claim), act (a Lambda action, an SSM action), poll following a
//! runbook, cancel, an operator's retry and skip of the failed wave an execution is paused
//! for, and advance (DRS's launch result for a wave in flight: its job, then a poll).
//!
//! For each case: the answer is defined (200 with the fault-free run's result, 200 with a launch
//! deferred for a refusal that clears, or the seed's error shape: 500 INTERNAL_ERROR for a
//! transient fault); the record loads, is consistent (it breaks no rule of `invariants::check`, a
//! STARTED wave has a job of its attempt, a LAUNCHING one servers left to launch, one DRS job per
//! part of an attempt at most, the jobs a wave records are DRS's, ...), moved only along the
//! lifecycle's wave table, and did not change on an error beyond the operation's documented
//! partial progress; and once a transient fault clears, a retry reaches what the fault-free run
//! reached.
//!
//! drs-sim's `Api` covers the services only; the store is faulted here by [`FaultyStore`].
//! The matrix runs on the simulator's MemoryStore; a selection runs on moto's DynamoDB.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_adapters::{create_table, DynamoDbStore};
use drs_sim::{Api, Progression, Sim, SimConfig, Spread, Timings, TokenState};
use execution_core::actions::{ActionRun, ActionStatus, PlanAction};
use execution_core::api::{LaunchResult, PauseRequest, PollRequest, Request, Target, WaveTarget};
use execution_core::audit::AuditEvent;
use execution_core::fixtures;
use execution_core::ids::{ExecutionId, TaskToken};
use execution_core::invariants;
use execution_core::lifecycle::WAVE_TABLE;
use execution_core::model::{Execution, FailurePolicy, PauseReason, Timestamp, WaveFailure};
use execution_core::ops::{self, FindConfig, Ports};
use execution_core::plan::Plan;
use execution_core::ports::EventPage;
use execution_core::ports::{
    ActivePage, Clock, Commit, ExecutionStore, ServiceError, StoreError, Touch, TAG_ATTEMPT,
    TAG_EXECUTION_ID, TAG_PART, TAG_WAVE_NUMBER,
};
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use serde_json::{json, Value};
use workspace_tests::moto;

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StoreCall {
    Load,
    Commit,
    /// The commit lands, but its answer is lost (a timeout after DynamoDB applied it).
    CommitAnswerLost,
    Touch,
    ListActive,
}

/// One ingredient of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Atom {
    /// The next call of the API is throttled, with a retry-after hint.
    Throttle(Api),
    /// The next call of the API answers 5xx.
    Fail5xx(Api),
    /// The next call of the API acts, then its answer is lost (a timeout after the service acted).
    LoseAnswer(Api),
    /// A new instance stays unknown to EC2 for two DescribeInstances calls.
    Ec2Unknown,
    /// A new job is missing from three DescribeJobs calls.
    JobMissing,
    /// DescribeJobs never names recoveryInstanceID.
    RecoveryIdsMissing,
    /// The first server of each wave fails to launch.
    FailingServers,
    /// The store's next call of this kind fails (a 5xx, or throttling).
    Store(StoreCall, bool),
}

impl Atom {
    fn is_world(self) -> bool {
        matches!(
            self,
            Self::Ec2Unknown | Self::JobMissing | Self::RecoveryIdsMissing | Self::FailingServers
        )
    }
    fn api(self) -> Option<Api> {
        match self {
            Self::Throttle(api) | Self::Fail5xx(api) | Self::LoseAnswer(api) => Some(api),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
struct Fault(Vec<Atom>);

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.0.iter().map(|a| format!("{a:?}")).collect();
        f.write_str(&names.join("+"))
    }
}

impl Fault {
    fn has(&self, atom: Atom) -> bool {
        self.0.contains(&atom)
    }

    /// World faults: scripted before the jobs and instances they shape exist.
    fn arm_world(&self, sim: &Sim) {
        for atom in self.0.iter().filter(|a| a.is_world()) {
            sim.world.script_faults(|f| match atom {
                Atom::Ec2Unknown => f.ec2_unknown_polls = 2,
                Atom::JobMissing => f.job_missing_polls = 3,
                Atom::RecoveryIdsMissing => f.omit_recovery_instance_ids = true,
                _ => {
                    f.failing_servers = [fixtures::server(0), fixtures::server(2)].into();
                }
            });
        }
    }

    /// Per-call faults: armed just before the operation under test.
    fn arm_calls(&self, w: &World) {
        for atom in &self.0 {
            match *atom {
                Atom::Throttle(api) => {
                    w.sim
                        .calls
                        .throttle(api, 1, Some(Duration::from_secs(RETRY_AFTER_SECS)));
                }
                Atom::Fail5xx(api) => w.sim.calls.fail_with_5xx(api, 1),
                Atom::LoseAnswer(api) => w.sim.calls.lose_answers(api, 1),
                Atom::Store(call, throttled) => w.store.arm(call, throttled),
                _ => {}
            }
        }
    }
}

const RETRY_AFTER_SECS: u64 = 7;

/// Every fault of the matrix.
fn all_faults() -> Vec<Fault> {
    let mut faults = Vec::new();
    for api in Api::ALL {
        faults.push(Fault(vec![Atom::Throttle(api)]));
        faults.push(Fault(vec![Atom::Fail5xx(api)]));
    }
    // The wave actions' calls that act on the world: a function that ran, a runbook that started.
    for api in [Api::Invoke, Api::StartAutomationExecution] {
        faults.push(Fault(vec![Atom::LoseAnswer(api)]));
    }
    for atom in [
        Atom::Ec2Unknown,
        Atom::JobMissing,
        Atom::RecoveryIdsMissing,
        Atom::FailingServers,
    ] {
        faults.push(Fault(vec![atom]));
    }
    for call in [
        StoreCall::Load,
        StoreCall::Commit,
        StoreCall::CommitAnswerLost,
        StoreCall::Touch,
        StoreCall::ListActive,
    ] {
        faults.push(Fault(vec![Atom::Store(call, false)]));
    }
    faults.push(Fault(vec![Atom::Store(StoreCall::Commit, true)]));
    // Without recoveryInstanceID poll asks DescribeRecoveryInstances, which then fails.
    faults.push(Fault(vec![
        Atom::RecoveryIdsMissing,
        Atom::Fail5xx(Api::DescribeRecoveryInstances),
    ]));
    faults
}

/// A store whose next call of one kind fails; counts the faults it played.
struct FaultyStore {
    inner: Arc<dyn ExecutionStore>,
    armed: Mutex<Option<(StoreCall, bool)>>,
    tripped: AtomicUsize,
}

impl FaultyStore {
    fn new(inner: Arc<dyn ExecutionStore>) -> Self {
        Self {
            inner,
            armed: Mutex::default(),
            tripped: AtomicUsize::new(0),
        }
    }

    fn arm(&self, call: StoreCall, throttled: bool) {
        *self.armed.lock().expect("armed") = Some((call, throttled));
    }

    fn clear(&self) {
        *self.armed.lock().expect("armed") = None;
    }

    fn trip(&self, call: StoreCall) -> Result<(), StoreError> {
        let mut armed = self.armed.lock().expect("armed");
        match *armed {
            Some((c, throttled)) if c == call => {
                *armed = None;
                self.tripped.fetch_add(1, Ordering::SeqCst);
                Err(StoreError::Service(if throttled {
                    ServiceError::Throttled {
                        retry_after: None,
                        message: format!("simulated: store {call:?} throttled"),
                    }
                } else {
                    ServiceError::unavailable(format!("simulated: store {call:?} answered 500"))
                }))
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl ExecutionStore for FaultyStore {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        self.trip(StoreCall::Load)?;
        self.inner.load(id).await
    }
    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.inner.create(execution, events).await
    }
    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.inner.events(id, cursor).await
    }
    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.trip(StoreCall::ListActive)?;
        self.inner.list_active(cursor).await
    }
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.trip(StoreCall::Commit)?;
        self.inner.commit(commit).await?;
        self.trip(StoreCall::CommitAnswerLost)
    }
    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        self.trip(StoreCall::Touch)?;
        self.inner.touch(id, touch).await
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios: an operation on the record it is meant for
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// find (SimDispatch's in-process poll) over one execution with a wave in flight.
    Find,
    Poll,
    /// The first wave's launch.
    Launch,
    /// A launch finishing a claim whose launcher died (FindTaggedJob, then StartRecovery).
    LaunchStaleClaim,
    PauseByOperator,
    /// The workflow's pause at a wave boundary: holds its token.
    PauseParks,
    /// The workflow's token arrives while a wave is in flight: released at once.
    PauseMoot,
    Resume,
    Cancel,
    Finalize,
    /// An operator's retry of the failed wave the execution is paused for.
    Retry,
    /// An operator's skip of it.
    Skip,
    /// act: wave 0's BEFORE_LAUNCH Lambda action (invoked, answered, recorded).
    ActLambda,
    /// act: wave 0's BEFORE_LAUNCH SSM action (the runbook started and recorded).
    ActRunbook,
    /// poll of a running runbook that has ended: the action SUCCEEDED, the wave may launch.
    PollRunbook,
    /// advance: DRS's launch result for wave 0's job (its servers settled): the job read, the
    /// execution polled; the planned pause before wave 1 is left to the workflow.
    Advance,
}

const SCENARIOS: [Scenario; 16] = [
    Scenario::Find,
    Scenario::Poll,
    Scenario::Launch,
    Scenario::LaunchStaleClaim,
    Scenario::PauseByOperator,
    Scenario::PauseParks,
    Scenario::PauseMoot,
    Scenario::Resume,
    Scenario::Cancel,
    Scenario::Finalize,
    Scenario::Retry,
    Scenario::Skip,
    Scenario::ActLambda,
    Scenario::ActRunbook,
    Scenario::PollRunbook,
    Scenario::Advance,
];

/// Where the record stands before the operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    /// Wave 0 STARTED, its servers settled in DRS, not polled since.
    InFlight,
    /// Wave 0 LAUNCHING past the claim grace, no job in DRS.
    StaleClaim,
    /// Wave 0 COMPLETED; wave 1 waits for its planned pause.
    BeforeWave1,
    PausedWithToken,
    /// Wave 0 FAILED (its policy PAUSE); the workflow waits with its token (WAVE_FAILED).
    FailedWaiting,
    /// Both waves COMPLETED.
    AllDone,
    /// PENDING; wave 0's BEFORE_LAUNCH Lambda action is due.
    LambdaDue,
    /// PENDING; wave 0's BEFORE_LAUNCH SSM action is due.
    RunbookDue,
    /// Wave 0's SSM action started its runbook, which has ended since (not polled yet).
    RunbookRan,
}

impl Scenario {
    fn state(self) -> State {
        match self {
            Self::Find | Self::Poll | Self::PauseByOperator | Self::PauseMoot | Self::Advance => {
                State::InFlight
            }
            Self::Launch => State::Pending,
            Self::LaunchStaleClaim => State::StaleClaim,
            Self::PauseParks => State::BeforeWave1,
            Self::Resume | Self::Cancel => State::PausedWithToken,
            Self::Finalize => State::AllDone,
            Self::Retry | Self::Skip => State::FailedWaiting,
            Self::ActLambda => State::LambdaDue,
            Self::ActRunbook => State::RunbookDue,
            Self::PollRunbook => State::RunbookRan,
        }
    }

    fn polls(self) -> bool {
        matches!(
            self,
            Self::Find | Self::Poll | Self::PollRunbook | Self::Advance
        )
    }

    fn acts(self) -> bool {
        matches!(self, Self::ActLambda | Self::ActRunbook)
    }

    /// The action the scenario runs or follows.
    fn action(self) -> &'static str {
        match self {
            Self::ActLambda => LAMBDA_ACTION,
            _ => SSM_ACTION,
        }
    }

    /// What the fault-free run answers (a subset of its fields).
    fn baseline(self) -> Value {
        match self {
            Self::Find => json!({"executionsFound": 1, "executionsPolled": 1}),
            Self::Poll => json!({"status": "POLLING", "nextAction": "PAUSE"}),
            Self::Launch | Self::LaunchStaleClaim => {
                json!({"status": "POLLING", "waveNumber": 0, "waveStatus": "STARTED", "recovered": false})
            }
            Self::PauseByOperator | Self::PauseParks => {
                json!({"status": "PAUSED", "pausedBeforeWave": 1})
            }
            Self::PauseMoot => json!({"status": "POLLING"}),
            Self::Resume => json!({"status": "POLLING", "workflowReleased": true}),
            Self::Cancel => json!({"status": "CANCELLING", "workflowReleased": true}),
            Self::Finalize => {
                json!({"status": "COMPLETED", "totalWaves": 2, "alreadyFinalized": false})
            }
            Self::Retry => json!({
                "status": "POLLING", "waveNumber": 0, "waveStatus": "LAUNCHING", "attempt": 2,
                "workflowReleased": true
            }),
            Self::Skip => json!({
                "status": "POLLING", "waveNumber": 0, "waveStatus": "SKIPPED", "attempt": 1,
                "workflowReleased": true
            }),
            Self::ActLambda => json!({
                "status": "POLLING", "waveNumber": 0, "waveStatus": "PENDING",
                "action": LAMBDA_ACTION, "actionStatus": "SUCCEEDED", "attempt": 1
            }),
            Self::ActRunbook => json!({
                "status": "POLLING", "waveNumber": 0, "waveStatus": "PENDING",
                "action": SSM_ACTION, "actionStatus": "RUNNING", "attempt": 1
            }),
            Self::PollRunbook => json!({"status": "POLLING", "nextAction": "LAUNCH"}),
            Self::Advance => json!({"outcome": "POLLED", "nextAction": "PAUSE", "waveNumber": 0}),
        }
    }
}

const LAMBDA_ACTION: &str = "db-check";
const SSM_ACTION: &str = "dns-switch";
/// The Lambda action's timeout: a run whose invoker died times out after it and the grace.
const LAMBDA_TIMEOUT_SECS: u64 = 120;

fn plan_action(name: &str, kind: &str, target: &str, timeout: u64) -> PlanAction {
    PlanAction {
        name: name.to_owned(),
        when: "BEFORE_LAUNCH".to_owned(),
        kind: kind.to_owned(),
        target: target.to_owned(),
        parameters: None,
        timeout_seconds: i64::try_from(timeout).ok(),
        on_failure: None,
    }
}

/// The plan every case runs: two waves of two servers, a planned pause before the second; a
/// failed wave stops the execution, but for the decisions' cases, where wave 0 waits for one.
fn plan(state: State) -> Plan {
    let mut plan = fixtures::plan(&[2, 2]);
    plan.waves[1].pause_before_wave = true;
    if state == State::FailedWaiting {
        plan.waves[0].on_failure = Some(FailurePolicy::Pause);
    }
    plan.waves[0].actions = match state {
        State::LambdaDue => vec![plan_action(
            LAMBDA_ACTION,
            "LAMBDA",
            "db-health-check",
            LAMBDA_TIMEOUT_SECS,
        )],
        State::RunbookDue | State::RunbookRan => vec![plan_action(
            SSM_ACTION,
            "SSM_AUTOMATION",
            "dns-switch-to-recovery",
            600,
        )],
        _ => Vec::new(),
    };
    plan
}

/// Jobs settle within two minutes: well inside the job-not-found grace (300 s).
const SETTLE_SECS: u64 = 150;

fn sim() -> Sim {
    Sim::new(SimConfig {
        seed: 7,
        progression: Progression::Timed(Timings {
            job_start: Spread::new(5, 10),
            server_start: Spread::new(5, 20),
            server_launch: Spread::new(30, 90),
            job_complete_lag_secs: 5,
        }),
        ..SimConfig::default()
    })
}

/// One case's world: the simulator, the store under test (faultable), the execution.
struct World {
    sim: Sim,
    store: FaultyStore,
    target: Target,
}

#[derive(Clone)]
enum Kind {
    Memory,
    Moto(DynamoDbStore),
}

impl World {
    fn new(kind: &Kind, id: ExecutionId) -> Self {
        let sim = sim();
        let inner: Arc<dyn ExecutionStore> = match kind {
            Kind::Memory => sim.store.clone(),
            Kind::Moto(store) => Arc::new(store.clone()),
        };
        Self {
            sim,
            store: FaultyStore::new(inner),
            target: Target {
                execution_id: id,
                plan_id: fixtures::plan_id(),
            },
        }
    }

    fn clock(&self) -> &dyn Clock {
        self.sim.clock.as_ref()
    }

    /// The record, read past the faulty wrapper: it must load.
    async fn load(&self) -> Result<Execution, String> {
        self.store
            .inner
            .load(self.target.execution_id)
            .await
            .map_err(|e| format!("the record does not load: {e}"))?
            .ok_or_else(|| "the record vanished".to_owned())
    }

    fn clear_faults(&self) {
        for api in Api::ALL {
            self.sim.calls.throttle(api, 0, None);
            self.sim.calls.fail_with_5xx(api, 0);
            self.sim.calls.lose_answers(api, 0);
        }
        self.store.clear();
    }

    /// Runs `scenario`'s operation and answers as the Lambda would: its request through
    /// `ops::run`, with every port the simulator has.
    async fn run(&self, scenario: Scenario, token: Option<&TaskToken>) -> Value {
        let (sim, target) = (&self.sim, self.target);
        let clock = self.clock();
        let dispatch = sim.dispatch();
        let config = FindConfig {
            concurrency: 4,
            deadline_millis: clock.now_millis() + 3_600_000,
            poll_budget_millis: 1_000,
        };
        let ports = Ports::new(&self.store, clock, &sim.policy)
            .with_drs(&sim.drs)
            .with_ec2(&sim.ec2)
            .with_workflow(sim.workflow.as_ref())
            .with_actions(&sim.functions, &sim.automation)
            .with_find(&dispatch, &config);
        let wave_0 = WaveTarget {
            target,
            wave_number: 0,
        };
        let request = match scenario {
            Scenario::Find => Request::Find,
            Scenario::ActLambda | Scenario::ActRunbook => Request::Act(target),
            Scenario::Poll | Scenario::PollRunbook => Request::Poll(PollRequest {
                target,
                summary: false,
                workflow_run: None,
            }),
            Scenario::Launch | Scenario::LaunchStaleClaim => Request::Launch(target),
            Scenario::PauseByOperator | Scenario::PauseParks | Scenario::PauseMoot => {
                Request::Pause(PauseRequest {
                    target,
                    task_token: token.cloned(),
                })
            }
            Scenario::Resume => Request::Resume(target),
            Scenario::Cancel => Request::Cancel(target),
            Scenario::Finalize => Request::Finalize(target),
            Scenario::Retry => Request::Retry(wave_0),
            Scenario::Skip => Request::Skip(wave_0),
            Scenario::Advance => {
                let job = self
                    .load()
                    .await
                    .ok()
                    .and_then(|e| e.waves[0].jobs.first().map(|j| j.job_id.clone()))
                    .unwrap_or_else(|| fixtures::job(99));
                Request::Advance(LaunchResult {
                    job_id: job,
                    state: Some("RECOVERY_LAUNCH_SUCCEEDED".into()),
                    source_server_id: None,
                    event_id: None,
                })
            }
        };
        let actor = drs_sim::driver::actor(request.operation());
        ops::run(&ports, request, actor).await
    }

    /// Brings a new execution to `state`, arming the world faults before what they shape.
    async fn reach(&self, state: State, fault: &Fault) -> Result<(), String> {
        let sim = &self.sim;
        ops::create_execution(
            &self.store,
            self.clock(),
            &plan(state),
            self.target.execution_id,
        )
        .await
        .map_err(|e| format!("setup create: {e}"))?;
        let step = |what: &'static str, answer: Value, wanted: u16| {
            let code = answer["statusCode"].as_u64();
            if code == Some(u64::from(wanted)) {
                Ok(answer)
            } else {
                Err(format!("setup {what} answered {answer}"))
            }
        };
        match state {
            State::Pending | State::LambdaDue | State::RunbookDue => {}
            State::RunbookRan => {
                step("act", self.run(Scenario::ActRunbook, None).await, 200)?;
                // The runbook runs a few minutes at most.
                sim.clock.advance_secs(300);
            }
            State::StaleClaim => {
                // The launcher dies once its claim has landed, before StartRecovery.
                self.store.arm(StoreCall::CommitAnswerLost, false);
                step("launch", self.run(Scenario::Launch, None).await, 500)?;
                sim.clock
                    .advance_secs(sim.policy.launch_claim_grace_secs + 10);
            }
            _ => {
                if state == State::InFlight {
                    fault.arm_world(sim);
                }
                if state == State::FailedWaiting {
                    // Server 0 does not launch in the wave's first attempt (a retry launches it).
                    sim.world.script_faults(|f| {
                        f.flaky_servers.insert(fixtures::server(0), 1);
                    });
                }
                step("launch", self.run(Scenario::Launch, None).await, 200)?;
                sim.clock.advance_secs(SETTLE_SECS);
                if state == State::InFlight {
                    return Ok(());
                }
                step("poll", self.run(Scenario::Poll, None).await, 200)?;
                if state != State::BeforeWave1 {
                    let token = sim.workflow.issue_token();
                    step(
                        "pause",
                        self.run(Scenario::PauseParks, Some(&token)).await,
                        200,
                    )?;
                }
                if state == State::AllDone {
                    step("resume", self.run(Scenario::Resume, None).await, 200)?;
                    step("launch", self.run(Scenario::Launch, None).await, 200)?;
                    sim.clock.advance_secs(SETTLE_SECS);
                    step("poll", self.run(Scenario::Poll, None).await, 200)?;
                }
            }
        }
        fault.arm_world(sim);
        Ok(())
    }
}

/// One run of a scenario under a fault (or none).
struct Played {
    world: World,
    fault: Fault,
    before: Execution,
    answer: Value,
    after: Execution,
    /// The task token the case is about (held by the record, or the workflow's request).
    token: Option<TaskToken>,
    /// Per-call faults the operation ran into, and whether the store's fault fired.
    hit: Vec<Api>,
    store_hit: bool,
}

async fn play(
    kind: &Kind,
    scenario: Scenario,
    fault: &Fault,
    id: ExecutionId,
) -> Result<Played, String> {
    let world = World::new(kind, id);
    world.reach(scenario.state(), fault).await?;
    let before = world.load().await?;
    let request_token = matches!(scenario, Scenario::PauseParks | Scenario::PauseMoot)
        .then(|| world.sim.workflow.issue_token());
    let token = request_token
        .clone()
        .or_else(|| before.header.task_token.as_ref().map(|t| t.token.clone()));
    let tripped = world.store.tripped.load(Ordering::SeqCst);
    fault.arm_calls(&world);
    let counts = world.sim.calls.counts();
    let answer = world.run(scenario, request_token.as_ref()).await;
    let hit = fault
        .0
        .iter()
        .filter_map(|a| a.api())
        .filter(|api| world.sim.calls.count(*api) > counts.get(api).copied().unwrap_or(0))
        .collect();
    let store_hit = world.store.tripped.load(Ordering::SeqCst) > tripped;
    let after = world.load().await?;
    Ok(Played {
        world,
        fault: fault.clone(),
        before,
        answer,
        after,
        token,
        hit,
        store_hit,
    })
}

// ---------------------------------------------------------------------------------------------
// Expectations and checks
// ---------------------------------------------------------------------------------------------

/// What a case must show, decided by the operation, the fault and whether the fault was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Expect {
    /// The fault did not touch the operation: the fault-free answer and record, exactly.
    Same,
    /// A transient failure: 500 INTERNAL_ERROR, nothing written (`false`) or only the progress
    /// the operation documents (`true`); a retry once the fault clears reaches the fault-free
    /// record.
    Error500(bool),
    /// find answers 200 and reports the execution's poll as failed; a retry polls it.
    FindReportsFailure,
    /// poll tolerates it (200, details missing); repeated polls reach the fault-free record.
    Converges,
    /// The wave fails, as the rules say, and finalize then writes FAILED.
    ServersFail,
    /// A write landed but the operation heard a failure: 500, a consistent record, and retries
    /// (as the state machine makes them) reach the fault-free record.
    AnswerLost,
    /// DRS refused StartRecovery for now, or its answer was lost: launch answers 200 with the
    /// time of its next try, the wave stays LAUNCHING with no job and the refusal recorded; the
    /// launch after that time reaches the fault-free record, one StartRecovery call more.
    Deferred,
    /// act's call was refused for now and ran nothing (throttled; a runbook start SSM did not
    /// answer): act answers 200 RUNNING with when to send again, the run keeps its attempt; act
    /// is refused until then, and after it reaches the fault-free record, the action run once.
    ActDeferred,
    /// The function may have run (a 5xx, a lost answer): the run FAILED, failing the wave
    /// (ACTION_FAILED), and the function is never invoked again for that attempt.
    ActionFails,
    /// act took the Lambda run and died before it invoked (its answer lost): nothing is invoked
    /// for that attempt; poll fails the run TIMED_OUT past its timeout and grace.
    RunLost,
}

fn expect(scenario: Scenario, fault: &Fault, p: &Played) -> Expect {
    const TOLERATED: [Api; 3] = [
        Api::DescribeRecoveryInstances,
        Api::DescribeInstances,
        Api::GetAutomationExecution,
    ];
    if p.store_hit {
        return if p.fault.has(Atom::Store(StoreCall::CommitAnswerLost, false)) {
            // A Lambda run taken and never invoked stays so; a runbook start is sent again.
            if scenario == Scenario::ActLambda {
                Expect::RunLost
            } else {
                Expect::AnswerLost
            }
        } else if scenario == Scenario::Find
            && !p.fault.has(Atom::Store(StoreCall::ListActive, false))
        {
            // find answers 200 whatever one execution's poll or healing met.
            Expect::FindReportsFailure
        } else {
            Expect::Error500(false)
        };
    }
    if !p.hit.is_empty() && scenario.acts() {
        let may_have_run = fault.0.iter().any(|a| {
            matches!(
                a,
                Atom::Fail5xx(Api::Invoke) | Atom::LoseAnswer(Api::Invoke)
            )
        });
        return if may_have_run {
            Expect::ActionFails
        } else {
            Expect::ActDeferred
        };
    }
    if !p.hit.is_empty() {
        return if scenario.polls() && p.hit.iter().all(|a| TOLERATED.contains(a)) {
            Expect::Converges
        } else if scenario == Scenario::Find {
            Expect::FindReportsFailure
        } else if p.hit.contains(&Api::StartRecovery) {
            Expect::Deferred
        } else {
            Expect::Error500(false)
        };
    }
    // Nothing is in flight for a runbook's poll: DRS's and EC2's faults do not meet it.
    if !scenario.polls() || scenario == Scenario::PollRunbook {
        Expect::Same
    } else if fault.has(Atom::FailingServers) {
        Expect::ServersFail
    } else if fault.has(Atom::Ec2Unknown) || fault.has(Atom::JobMissing) {
        Expect::Converges
    } else {
        Expect::Same
    }
}

/// 200, or the seed's error shape `{statusCode, error, message}` with a code of its status.
fn check_answer_shape(answer: &Value) -> Result<(), String> {
    let code = answer["statusCode"].as_u64();
    if code == Some(200) {
        return Ok(());
    }
    let fields = answer.as_object().ok_or("the answer is not an object")?;
    let error = answer["error"].as_str().unwrap_or_default();
    let known = match code {
        Some(400) => ["MISSING_PARAMETER", "INVALID_PARAMETER", "INVALID_STATE"].contains(&error),
        Some(404) => error == "NOT_FOUND",
        Some(409) => ["CONFLICT", "TOKEN_REJECTED"].contains(&error),
        Some(500) => error == "INTERNAL_ERROR",
        _ => false,
    };
    let message = answer["message"].as_str().unwrap_or_default();
    if fields.len() != 3 || !known || message.is_empty() {
        return Err(format!("not the seed's error shape: {answer}"));
    }
    Ok(())
}

/// Every key of `wanted` has that value in `answer`.
fn check_fields(answer: &Value, wanted: &Value) -> Result<(), String> {
    let wanted = wanted.as_object().ok_or("wanted fields are an object")?;
    match wanted.iter().find(|(k, v)| &answer[k.as_str()] != *v) {
        Some((k, v)) => Err(format!(
            "{k} is {} (wanted {v}) in {answer}",
            answer[k.as_str()]
        )),
        None => Ok(()),
    }
}

/// The record is one the engine can write: it breaks no rule of `invariants::check` (the rules the
/// use-case, fault and race tests share) nor one that checker does not have
/// ([`check_beyond_invariants`]), and DRS agrees with it.
fn check_consistent(e: &Execution, sim: &Sim) -> Result<(), String> {
    let broken = invariants::check(e);
    if !broken.is_empty() {
        let rules: Vec<String> = broken.iter().map(ToString::to_string).collect();
        return Err(format!("the record breaks: {}", rules.join("; ")));
    }
    check_beyond_invariants(e)?;
    check_drs_agrees(e, sim)
}

/// Rules of a record that `invariants::check` does not check: a PAUSED execution stands before a
/// wave or for a failed one; a wave in flight has a job of its attempt (STARTED) or servers left
/// to launch (LAUNCHING), and STARTED has a launch time; a settled wave has its end, a job of its
/// attempt when COMPLETED, its reason when FAILED or SKIPPED, and none when CANCELLED; EC2
/// details come with an instance.
fn check_beyond_invariants(e: &Execution) -> Result<(), String> {
    let h = &e.header;
    match e.pause_reason() {
        Some(PauseReason::WaveFailed) | None => {}
        Some(_) => {
            h.paused_before_wave.ok_or("PAUSED before no wave")?;
        }
    }
    for w in &e.waves {
        let n = w.wave_number;
        let has_job = w.current_jobs().next().is_some();
        let problem = match w.status {
            WaveStatus::Completed if !has_job || w.end_time.is_none() => "lacks its job or its end",
            WaveStatus::Failed | WaveStatus::Skipped
                if w.end_time.is_none() || w.failure_reason.is_none() =>
            {
                "lacks its end or its reason"
            }
            WaveStatus::Cancelled if has_job || w.end_time.is_none() => "has a job or no end",
            _ => "",
        };
        if !problem.is_empty() {
            return Err(format!("wave {n} is {} and {problem}", w.status));
        }
    }
    Ok(())
}

/// DRS agrees with the record.
fn check_drs_agrees(e: &Execution, sim: &Sim) -> Result<(), String> {
    // DRS's side: at most one job per part of an attempt of a wave, and the jobs a wave records
    // are the ones DRS ran for those parts (a job not recorded yet only for a part still claimed).
    let mine = e.id().to_string();
    let mut jobs: BTreeMap<(u32, u32, u32), Vec<String>> = BTreeMap::new();
    for job in sim.world.jobs() {
        if job.tags.get(TAG_EXECUTION_ID) != Some(&mine) {
            continue;
        }
        let tag = |key: &str| -> Result<u32, String> {
            job.tags
                .get(key)
                .and_then(|t| t.parse().ok())
                .ok_or(format!("a job of this execution without a {key} tag"))
        };
        let part = (tag(TAG_WAVE_NUMBER)?, tag(TAG_ATTEMPT)?, tag(TAG_PART)?);
        jobs.entry(part).or_default().push(job.job_id.to_string());
    }
    for (&(n, attempt, part), ids) in &jobs {
        if ids.len() > 1 {
            return Err(format!(
                "wave {n} attempt {attempt} part {part} has {} DRS jobs: {ids:?}",
                ids.len()
            ));
        }
        let w = e
            .wave(n)
            .ok_or(format!("a DRS job for wave {n}, which does not exist"))?;
        let recorded = w
            .jobs
            .iter()
            .find(|j| (j.attempt, j.part) == (attempt, part))
            .map(|j| j.job_id.to_string());
        let claimed = w.status == WaveStatus::Launching
            && w.attempt == attempt
            && w.claim.as_ref().is_some_and(|c| c.part == part);
        if recorded.as_ref() != ids.first() && !claimed {
            return Err(format!(
                "wave {n} is {} with job {recorded:?} for attempt {attempt} part {part}; DRS ran {ids:?}",
                w.status
            ));
        }
    }
    for w in &e.waves {
        for j in &w.jobs {
            let ran = jobs.get(&(w.wave_number, j.attempt, j.part));
            if ran.and_then(|ids| ids.first()) != Some(&j.job_id.to_string()) {
                return Err(format!(
                    "wave {} records {} (attempt {} part {}), which DRS never ran for it",
                    w.wave_number, j.job_id, j.attempt, j.part
                ));
            }
        }
    }
    Ok(())
}

/// Nothing moved backwards between two reads of the record.
fn check_forward(before: &Execution, after: &Execution) -> Result<(), String> {
    if before.status().is_terminal() && before.header != after.header {
        return Err(format!("terminal {} was rewritten", before.status()));
    }
    if after.header.version < before.header.version {
        return Err("the header's version went back".into());
    }
    for (b, a) in before.waves.iter().zip(&after.waves) {
        if !reachable(b.status, a.status) || a.version < b.version {
            return Err(format!(
                "wave {} went {} v{} → {} v{}",
                a.wave_number, b.status, b.version, a.status, a.version
            ));
        }
    }
    Ok(())
}

/// Whether a wave can go from `from` to `to` in any number of the moves of the lifecycle's wave
/// table.
fn reachable(from: WaveStatus, to: WaveStatus) -> bool {
    let mut seen = vec![from];
    let mut i = 0;
    while let Some(&s) = seen.get(i) {
        for &(_, f, next) in WAVE_TABLE {
            if f == s && !seen.contains(&next) {
                seen.push(next);
            }
        }
        i += 1;
    }
    seen.contains(&to)
}

/// After an error answer: the record is as it was (`Ok(false)`), or shows exactly the progress
/// the operation documents for that failure (`Ok(true)`).
fn check_unchanged_or_documented(
    scenario: Scenario,
    p: &Played,
    base_after: &Execution,
) -> Result<bool, String> {
    let (before, after) = (&p.before, &p.after);
    if before == after {
        return Ok(false);
    }
    let hit = |api| p.hit.contains(&api);
    let store_fault = |call| {
        p.store_hit
            && p.fault
                .0
                .iter()
                .any(|a| matches!(a, Atom::Store(c, _) if *c == call))
    };
    let same_but = |f: &dyn Fn(&mut Execution)| {
        let mut expected = before.clone();
        f(&mut expected);
        expected == *after
    };
    let documented = match scenario {
        // The record says POLLING (or CANCELLING) with the token's release pending: the next
        // resume, retry, skip or cancel completes it. A decision's wave is written with it, as
        // the fault-free run writes it.
        Scenario::Resume | Scenario::Cancel | Scenario::Retry | Scenario::Skip
            if hit(Api::SendTaskSuccess) =>
        {
            let to = if scenario == Scenario::Cancel {
                ExecutionStatus::Cancelling
            } else {
                ExecutionStatus::Polling
            };
            let h = &after.header;
            let decided = !matches!(scenario, Scenario::Retry | Scenario::Skip)
                || after.waves == base_after.waves;
            decided
                && h.status == to
                && h.version == before.header.version + 1
                && h.task_token.as_ref().map(|t| (&t.token, t.release_pending))
                    == before.header.task_token.as_ref().map(|t| (&t.token, true))
        }
        // poll's wave commit and its touch run side by side: one may land without the other.
        Scenario::Poll | Scenario::PollRunbook | Scenario::Advance
            if store_fault(StoreCall::Touch) =>
        {
            after.header == before.header && after.waves == base_after.waves
        }
        Scenario::Poll | Scenario::PollRunbook | Scenario::Advance
            if store_fault(StoreCall::Commit) =>
        {
            same_but(&|e| e.header.last_polled_time = after.header.last_polled_time)
        }
        _ => false,
    };
    if documented {
        Ok(true)
    } else {
        Err(format!(
            "the answer was {} but the record changed:\nbefore {}\nafter  {}",
            p.answer,
            json!(before),
            json!(after)
        ))
    }
}

/// The record without what legitimately differs between two runs that reach the same outcome:
/// versions (extra writes bump them), lastPolledTime, and when the retry had to wait, every time
/// and the launch's count of its tries and its last refusal (a claim or a StartRecovery more).
fn normalised(e: &Execution, strip_times: bool) -> Value {
    fn strip(v: &mut Value, times: bool) {
        match v {
            Value::Object(m) => {
                m.retain(|k, _| {
                    !(k == "version"
                        || k == "lastPolledTime"
                        || (times
                            && (k.ends_with("Time")
                                || k.ends_with("TimeSeconds")
                                || k == "launchAttempts"
                                || k == "lastLaunchError")))
                });
                m.values_mut().for_each(|v| strip(v, times));
            }
            Value::Array(a) => a.iter_mut().for_each(|v| strip(v, times)),
            _ => {}
        }
    }
    let mut v = json!(e);
    strip(&mut v, strip_times);
    v
}

/// The workflow's task: still waiting after an error (no resume or decision lost, none
/// invented), released once resume, retry, skip, cancel or a moot pause has answered 200.
fn check_token(scenario: Scenario, p: &Played, succeeded: bool) -> Result<(), String> {
    let Some(token) = &p.token else {
        return Ok(());
    };
    let wanted = match scenario {
        Scenario::Resume
        | Scenario::Cancel
        | Scenario::Retry
        | Scenario::Skip
        | Scenario::PauseMoot
            if succeeded =>
        {
            TokenState::Succeeded
        }
        _ => TokenState::Waiting,
    };
    match p.world.sim.workflow.state(token) {
        Some(state) if state == wanted => Ok(()),
        other => Err(format!(
            "the workflow's task is {other:?}, wanted {wanted:?}"
        )),
    }
}

fn request_token(scenario: Scenario, p: &Played) -> Option<&TaskToken> {
    matches!(scenario, Scenario::PauseParks | Scenario::PauseMoot)
        .then_some(p.token.as_ref())
        .flatten()
}

fn check_find_result(answer: &Value, success: bool) -> Result<(), String> {
    let result = &answer["results"][0];
    let error = result["error"].as_str().unwrap_or_default();
    if result["success"] != json!(success) || (!success && error.is_empty()) {
        return Err(format!(
            "find's result should say success {success}: {answer}"
        ));
    }
    Ok(())
}

/// Once the fault clears, the same call again (a state machine's or a find tick's retry) answers
/// 200 and the record is the fault-free run's.
async fn retry(scenario: Scenario, p: &Played, base: &Played) -> Result<(), String> {
    let w = &p.world;
    w.clear_faults();
    // A claim kept after a 5xx on StartRecovery (DRS may have started the job) is finished by
    // the launch that finds it stale.
    let waits = p
        .after
        .waves
        .iter()
        .any(|w| w.status == WaveStatus::Launching && w.launch_time.is_some());
    if waits {
        w.sim
            .clock
            .advance_secs(w.sim.policy.launch_claim_grace_secs + 1);
    }
    let again = w.run(scenario, request_token(scenario, p)).await;
    check_fields(&again, &json!({"statusCode": 200})).map_err(|e| format!("retry: {e}"))?;
    if scenario == Scenario::Find {
        check_find_result(&again, true)?;
    }
    let record = w.load().await?;
    check_consistent(&record, &w.sim)?;
    check_forward(&p.after, &record)?;
    if normalised(&record, waits) != normalised(&base.after, waits) {
        return Err(format!(
            "after the retry the record is not the fault-free run's:\n{}\n{}",
            normalised(&record, waits),
            normalised(&base.after, waits)
        ));
    }
    check_token(scenario, p, true)
}

/// The operation's write landed though it answered 500: retried as the state machine would (a
/// launch refused while its own claim is in flight is retried once the claim is stale), it
/// answers 200 and the record is the fault-free run's.
async fn retry_after_lost_answer(
    scenario: Scenario,
    p: &Played,
    base: &Played,
) -> Result<(), String> {
    let w = &p.world;
    w.clear_faults();
    let mut waited = false;
    for _ in 0..3 {
        let again = w.run(scenario, request_token(scenario, p)).await;
        check_answer_shape(&again)?;
        let record = w.load().await?;
        check_consistent(&record, &w.sim)?;
        check_forward(&p.after, &record)?;
        // A launcher's claim, or a runbook start SSM has not answered: sent again once stale.
        let claimed = record.waves.iter().any(|w| {
            w.status == WaveStatus::Launching
                || w.action_runs.iter().any(|r| {
                    r.status == ActionStatus::Running && r.automation_execution_id.is_none()
                })
        });
        match again["statusCode"].as_u64() {
            Some(200) => {
                if normalised(&record, waited) != normalised(&base.after, waited) {
                    return Err(format!(
                        "after the retry the record is not the fault-free run's:\n{}\n{}",
                        normalised(&record, waited),
                        normalised(&base.after, waited)
                    ));
                }
                return check_token(scenario, p, true);
            }
            Some(400) if claimed && again["error"] == "INVALID_STATE" => {
                w.sim
                    .clock
                    .advance_secs(w.sim.policy.launch_claim_grace_secs + 1);
                waited = true;
            }
            _ => return Err(format!("retry answered {again}")),
        }
    }
    Err("three retries did not answer 200".into())
}

/// poll answered without some details: they are missing (never invented), the rest is right.
fn check_degraded(scenario: Scenario, p: &Played) -> Result<(), String> {
    let wave = &p.after.waves[0];
    let launched: Vec<_> = wave
        .server_statuses
        .iter()
        .filter(|s| s.launch_status == LaunchStatus::Launched)
        .collect();
    let fault = &p.fault;
    if fault.has(Atom::JobMissing) && wave.status != WaveStatus::Started {
        return Err(format!(
            "a wave whose job DRS does not list yet is {}",
            wave.status
        ));
    }
    let ec2 = fault.has(Atom::Ec2Unknown) || p.hit.contains(&Api::DescribeInstances);
    if ec2
        && (wave.status != WaveStatus::Completed
            || launched
                .iter()
                .any(|s| s.instance_id.is_none() || s.private_ip.is_some()))
    {
        return Err(format!(
            "EC2 details should be missing, nothing else: {wave:?}"
        ));
    }
    if p.hit.contains(&Api::DescribeRecoveryInstances)
        && (wave.status != WaveStatus::Completed
            || launched.iter().any(|s| s.recovery_instance_id.is_some()))
    {
        return Err(format!("recovery instances should be missing: {wave:?}"));
    }
    if scenario == Scenario::Poll {
        // Missing details hold back FINALIZE only; a pause or a launch need not wait for them.
        let next = if wave.status == WaveStatus::Started {
            "WAIT"
        } else {
            "PAUSE"
        };
        check_fields(&p.answer, &json!({"statusCode": 200, "nextAction": next}))?;
        let warned = p.answer["warnings"]
            .as_array()
            .is_some_and(|w| !w.is_empty());
        if !p.hit.is_empty() && !warned {
            return Err(format!(
                "a tolerated failure should be a warning: {}",
                p.answer
            ));
        }
    } else if scenario == Scenario::Advance {
        // A job DRS does not list yet is one advance cannot place (its poll would not see it
        // either); details missing hold back nothing but FINALIZE.
        let wanted = if wave.status == WaveStatus::Started {
            json!({"statusCode": 200, "outcome": "IGNORED", "reason": "JOB_NOT_FOUND"})
        } else {
            json!({"statusCode": 200, "outcome": "POLLED", "nextAction": "PAUSE"})
        };
        check_fields(&p.answer, &wanted)?;
    } else {
        check_find_result(&p.answer, true)?;
    }
    Ok(())
}

/// Repeated polls (world faults play out by themselves) reach the fault-free record. After an
/// advance they are the workflow's polls: the fallback that never waits for an event.
async fn converge(scenario: Scenario, p: &Played, base: &Played) -> Result<(), String> {
    let w = &p.world;
    w.clear_faults();
    let scenario = if scenario == Scenario::Advance {
        Scenario::Poll
    } else {
        scenario
    };
    let wanted = normalised(&base.after, false);
    let mut last = p.after.clone();
    for _ in 0..5 {
        if normalised(&last, false) == wanted {
            return Ok(());
        }
        let again = w.run(scenario, None).await;
        check_fields(&again, &json!({"statusCode": 200}))?;
        let record = w.load().await?;
        check_consistent(&record, &w.sim)?;
        check_forward(&last, &record)?;
        last = record;
    }
    Err(format!(
        "five more polls did not reach the fault-free record:\n{}\n{wanted}",
        normalised(&last, false)
    ))
}

/// launch met a refusal that clears (throttled) or a lost answer (5xx): it answered 200 with
/// when to try again, and recorded the try; no job is recorded, and a 5xx's claim stays, so that
/// the next launch looks for its job first. That next launch, once the fault has cleared and the
/// time has come, reaches the fault-free record with one try more.
async fn deferred(scenario: Scenario, p: &Played, base: &Played) -> Result<(), String> {
    let lost = p.fault.0.iter().any(|a| matches!(a, Atom::Fail5xx(_)));
    let (before, after) = (&p.before.waves[0], &p.after.waves[0]);
    let wait = p.answer["retryAfterSeconds"]
        .as_u64()
        .ok_or(format!("no retryAfterSeconds in {}", p.answer))?;
    check_fields(
        &p.answer,
        &json!({"statusCode": 200, "status": "POLLING", "waveNumber": 0, "waveStatus": "LAUNCHING"}),
    )?;
    if !lost && wait != RETRY_AFTER_SECS {
        return Err(format!(
            "DRS's retry-after hint was not honoured: {}",
            p.answer
        ));
    }
    let claim_kept = after.claim.as_ref().is_some_and(|c| !c.held && c.uncertain);
    // A lost answer may have started the job; so may the dead launcher whose stale claim was taken
    // over: either way the part stays uncertain and the next launch looks for its job first.
    let lost = lost || scenario == Scenario::LaunchStaleClaim;
    if after.status != WaveStatus::Launching
        || after.current_jobs().next().is_some()
        || after.launch_attempts != before.launch_attempts + 1
        || after.next_launch_time.is_none()
        || after.last_launch_error.is_none()
        || p.answer["lastLaunchError"].as_str() != after.last_launch_error.as_deref()
        || claim_kept != lost
    {
        return Err(format!("the deferred launch recorded {}", json!(after)));
    }
    let w = &p.world;
    w.clear_faults();
    let early = w.run(scenario, None).await;
    check_fields(
        &early,
        &json!({"statusCode": 400, "error": "INVALID_STATE"}),
    )
    .map_err(|e| format!("a launch before the time it named: {e}"))?;
    w.sim.clock.advance_secs(wait);
    let again = w.run(scenario, None).await;
    // The simulated 5xx comes before DRS starts anything: the tagged job is looked for, and is not
    // there.
    let wanted = json!({"statusCode": 200, "waveStatus": "STARTED", "recovered": false});
    check_fields(&again, &wanted).map_err(|e| format!("the launch after the wait: {e}"))?;
    let record = w.load().await?;
    check_consistent(&record, &w.sim)?;
    check_forward(&p.after, &record)?;
    if normalised(&record, true) != normalised(&base.after, true)
        || record.waves[0].launch_attempts != base.after.waves[0].launch_attempts + 1
    {
        return Err(format!(
            "after the wait the record is not the fault-free run's with one try more:\n{}\n{}",
            json!(record),
            json!(base.after)
        ));
    }
    Ok(())
}

/// No attempt of an action ran twice: one invocation, or one automation started (a repeated
/// client token starts nothing), per action and attempt.
fn check_actions_ran_once(sim: &Sim) -> Result<(), String> {
    let mut runs: BTreeMap<(Option<String>, Option<u32>), usize> = BTreeMap::new();
    for call in sim
        .calls
        .action_calls()
        .into_iter()
        .filter(|c| c.effect.ran())
    {
        *runs.entry((call.action, call.attempt)).or_default() += 1;
    }
    match runs.into_iter().find(|(_, n)| *n > 1) {
        Some(((action, attempt), n)) => Err(format!(
            "action {action:?} attempt {attempt:?} ran {n} times"
        )),
        None => Ok(()),
    }
}

/// The one run of wave 0 (what the act scenarios take).
fn the_run(e: &Execution) -> Result<&ActionRun, String> {
    match e.waves[0].action_runs.as_slice() {
        [run] => Ok(run),
        runs => Err(format!("wave 0 has {} runs: {runs:?}", runs.len())),
    }
}

/// act was refused for now: nothing ran, the run waits with the refusal and when to send again;
/// act before then is refused, after it reaches the fault-free record (times aside).
async fn act_deferred(scenario: Scenario, p: &Played, base: &Played) -> Result<(), String> {
    let wait = p.answer["retryAfterSeconds"]
        .as_u64()
        .ok_or(format!("no retryAfterSeconds in {}", p.answer))?;
    check_fields(
        &p.answer,
        &json!({"statusCode": 200, "status": "POLLING", "waveStatus": "PENDING",
                "actionStatus": "RUNNING", "attempt": 1}),
    )?;
    let throttled = p.fault.0.iter().any(|a| matches!(a, Atom::Throttle(_)));
    if throttled && wait != RETRY_AFTER_SECS {
        return Err(format!(
            "the retry-after hint was not honoured: {}",
            p.answer
        ));
    }
    let run = the_run(&p.after)?;
    if run.status != ActionStatus::Running
        || run.retry_time.is_none()
        || run.error.is_none()
        || run.automation_execution_id.is_some()
    {
        return Err(format!("the refused run recorded {run:?}"));
    }
    let w = &p.world;
    w.clear_faults();
    let early = w.run(scenario, None).await;
    check_fields(
        &early,
        &json!({"statusCode": 400, "error": "INVALID_STATE"}),
    )
    .map_err(|e| format!("act before the time it named: {e}"))?;
    w.sim.clock.advance_secs(wait);
    let again = w.run(scenario, None).await;
    check_fields(&again, &scenario.baseline()).map_err(|e| format!("act after the wait: {e}"))?;
    let record = w.load().await?;
    check_consistent(&record, &w.sim)?;
    check_forward(&p.after, &record)?;
    if normalised(&record, true) != normalised(&base.after, true) {
        return Err(format!(
            "after the wait the record is not the fault-free run's:\n{}\n{}",
            normalised(&record, true),
            normalised(&base.after, true)
        ));
    }
    if w.sim.calls.action_runs(scenario.action(), 1) != 1 {
        return Err("the action did not run exactly once".into());
    }
    Ok(())
}

/// The function may have run: the run FAILED and failed its wave, and act never invokes it again
/// for that attempt.
async fn action_fails(scenario: Scenario, p: &Played) -> Result<(), String> {
    check_fields(
        &p.answer,
        &json!({"statusCode": 200, "waveStatus": "FAILED", "actionStatus": "FAILED",
                "attempt": 1}),
    )?;
    let wave = &p.after.waves[0];
    let run = the_run(&p.after)?;
    if wave.status != WaveStatus::Failed
        || wave.failure_reason != Some(WaveFailure::ActionFailed)
        || !run
            .error
            .as_deref()
            .is_some_and(|e| e.contains("may have run"))
    {
        return Err(format!("the wave recorded {}", json!(wave)));
    }
    let w = &p.world;
    let ran = w.sim.calls.action_runs(scenario.action(), 1);
    w.clear_faults();
    let again = w.run(scenario, None).await;
    check_fields(
        &again,
        &json!({"statusCode": 400, "error": "INVALID_STATE"}),
    )
    .map_err(|e| format!("act after the failed run: {e}"))?;
    if w.sim.calls.action_runs(scenario.action(), 1) != ran {
        return Err("the function was invoked again for the same attempt".into());
    }
    Ok(())
}

/// act took the Lambda run and its answer was lost before it invoked anything: the run stays
/// taken, act refuses to invoke it again, and poll times it out past its timeout and grace.
async fn run_lost(scenario: Scenario, p: &Played) -> Result<(), String> {
    check_fields(
        &p.answer,
        &json!({"statusCode": 500, "error": "INTERNAL_ERROR"}),
    )?;
    let run = the_run(&p.after)?;
    if run.status != ActionStatus::Running {
        return Err(format!("the taken run is {run:?}"));
    }
    let w = &p.world;
    w.clear_faults();
    let again = w.run(scenario, None).await;
    check_fields(
        &again,
        &json!({"statusCode": 400, "error": "INVALID_STATE"}),
    )
    .map_err(|e| format!("act while the run is taken: {e}"))?;
    w.sim
        .clock
        .advance_secs(LAMBDA_TIMEOUT_SECS + execution_core::actions::ANSWER_GRACE_SECS + 1);
    let polled = w.run(Scenario::Poll, None).await;
    check_fields(&polled, &json!({"statusCode": 200}))?;
    let record = w.load().await?;
    check_consistent(&record, &w.sim)?;
    check_forward(&p.after, &record)?;
    let run = the_run(&record)?;
    if run.status != ActionStatus::TimedOut
        || record.waves[0].failure_reason != Some(WaveFailure::ActionFailed)
    {
        return Err(format!("the lost run ended {}", json!(record.waves[0])));
    }
    if w.sim.calls.action_runs(scenario.action(), 1) != 0 {
        return Err("the function of a lost run was invoked".into());
    }
    Ok(())
}

/// poll could not read the runbook: the run is still RUNNING, nothing else changed, and the
/// answer waits with a warning.
fn check_runbook_unread(p: &Played) -> Result<(), String> {
    check_fields(&p.answer, &json!({"statusCode": 200, "nextAction": "WAIT"}))?;
    let warned = p.answer["warnings"].as_array().is_some_and(|w| {
        w.iter()
            .any(|m| m.as_str().is_some_and(|m| m.contains("automation")))
    });
    if !warned || the_run(&p.after)?.status != ActionStatus::Running {
        return Err(format!(
            "an unread runbook should wait with a warning: {}",
            p.answer
        ));
    }
    Ok(())
}

/// A server that fails to launch fails its wave; finalize then writes FAILED.
async fn check_servers_fail(scenario: Scenario, p: &Played) -> Result<(), String> {
    let wave = &p.after.waves[0];
    let message = wave.status_message.as_deref().unwrap_or_default();
    if wave.status != WaveStatus::Failed
        || !message.contains("1 of 2 critical servers did not launch")
    {
        return Err(format!("wave 0 should fail for its server: {wave:?}"));
    }
    if scenario == Scenario::Poll {
        check_fields(
            &p.answer,
            &json!({"nextAction": "FINALIZE", "status": "POLLING"}),
        )?;
    }
    let done = p.world.run(Scenario::Finalize, None).await;
    check_fields(&done, &json!({"statusCode": 200, "status": "FAILED"}))?;
    let record = p.world.load().await?;
    check_consistent(&record, &p.world.sim)?;
    check_forward(&p.after, &record)?;
    if record.waves[1].status != WaveStatus::Cancelled {
        return Err("the wave after a failed one should end CANCELLED".into());
    }
    Ok(())
}

/// One case of the matrix; answers what it showed.
async fn case(
    kind: &Kind,
    scenario: Scenario,
    fault: &Fault,
    base: &Played,
) -> Result<Expect, String> {
    let p = play(kind, scenario, fault, base.world.target.execution_id).await?;
    check_answer_shape(&p.answer)?;
    check_consistent(&p.after, &p.world.sim)?;
    check_forward(&p.before, &p.after)?;
    let mut expect = expect(scenario, fault, &p);
    match expect {
        Expect::Same => {
            if p.answer != base.answer {
                return Err(format!("answered {}\nnot {}", p.answer, base.answer));
            }
            if p.after != base.after {
                return Err(format!(
                    "recorded {}\nnot {}",
                    json!(p.after),
                    json!(base.after)
                ));
            }
            check_token(scenario, &p, true)?;
        }
        Expect::Error500(_) => {
            check_fields(
                &p.answer,
                &json!({"statusCode": 500, "error": "INTERNAL_ERROR"}),
            )?;
            expect = Expect::Error500(check_unchanged_or_documented(scenario, &p, &base.after)?);
            check_token(scenario, &p, false)?;
            retry(scenario, &p, base).await?;
        }
        Expect::FindReportsFailure => {
            check_fields(&p.answer, &json!({"statusCode": 200, "executionsFound": 1}))?;
            // The fault met either the poll or the healing that follows it (this world's run
            // never polls, so find asks about it): each reports its own failure.
            let healing_failed = p.answer["restarts"].as_array().is_some_and(|r| {
                r.iter().any(|x| {
                    x["outcome"] == "FAILED" && x["error"].as_str().is_some_and(|e| !e.is_empty())
                })
            });
            if healing_failed {
                if p.after != base.after {
                    return Err("a failed healing wrote to the record".into());
                }
            } else {
                check_fields(&p.answer, &json!({"executionsPolled": 0}))?;
                check_find_result(&p.answer, false)?;
                if p.after != p.before {
                    return Err("a failed poll wrote to the record".into());
                }
            }
            retry(scenario, &p, base).await?;
        }
        Expect::Converges if scenario == Scenario::PollRunbook => {
            check_runbook_unread(&p)?;
            converge(scenario, &p, base).await?;
        }
        Expect::Converges => {
            check_degraded(scenario, &p)?;
            converge(scenario, &p, base).await?;
        }
        Expect::ActDeferred => act_deferred(scenario, &p, base).await?,
        Expect::ActionFails => action_fails(scenario, &p).await?,
        Expect::RunLost => run_lost(scenario, &p).await?,
        Expect::ServersFail => check_servers_fail(scenario, &p).await?,
        Expect::AnswerLost => {
            check_fields(
                &p.answer,
                &json!({"statusCode": 500, "error": "INTERNAL_ERROR"}),
            )?;
            retry_after_lost_answer(scenario, &p, base).await?;
        }
        Expect::Deferred => deferred(scenario, &p, base).await?,
    }
    check_actions_ran_once(&p.world.sim)?;
    Ok(expect)
}

/// The fault-free run, checked against what the scenario is for.
async fn baseline(kind: &Kind, scenario: Scenario, id: ExecutionId) -> Played {
    let base = play(kind, scenario, &Fault(vec![]), id)
        .await
        .unwrap_or_else(|e| panic!("{scenario:?} fault-free: {e}"));
    let mut wanted = scenario.baseline();
    wanted["statusCode"] = json!(200);
    check_fields(&base.answer, &wanted)
        .and_then(|()| check_consistent(&base.after, &base.world.sim))
        .and_then(|()| check_token(scenario, &base, true))
        .unwrap_or_else(|e| panic!("{scenario:?} fault-free: {e}"));
    base
}

#[tokio::test]
async fn every_fault_on_every_operation_has_a_defined_answer_and_leaves_the_record_whole() {
    let id = fixtures::execution_id();
    let (mut failures, mut seen, mut table) = (Vec::new(), BTreeMap::new(), String::new());
    for scenario in SCENARIOS {
        let base = baseline(&Kind::Memory, scenario, id).await;
        table.push_str(&format!("{scenario:?}:"));
        for fault in all_faults() {
            match case(&Kind::Memory, scenario, &fault, &base).await {
                Ok(e) => {
                    *seen.entry(e).or_insert(0) += 1;
                    table.push_str(&format!(" {fault}={e:?}"));
                }
                Err(e) => failures.push(format!("{scenario:?} × {fault}: {e}")),
            }
        }
        table.push('\n');
    }
    eprintln!("{table}{seen:?}");
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert_eq!(
        seen.len(),
        11,
        "every kind of outcome is exercised, partial progress included: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_through_moto_dynamodb_keep_the_record_whole() {
    let client = moto::dynamodb_client();
    let table = format!("faults-{}", uuid::Uuid::new_v4());
    create_table(&client, &table, aws_adapters::DEFAULT_STATUS_INDEX)
        .await
        .expect("create the table in moto");
    let store = DynamoDbStore::new(
        client.clone(),
        table.clone(),
        aws_adapters::DEFAULT_STATUS_INDEX.into(),
    );
    let one = |a| Fault(vec![a]);
    let cases = [
        (
            Scenario::Poll,
            one(Atom::Throttle(Api::DescribeJobs)),
            Expect::Error500(false),
        ),
        (Scenario::Poll, one(Atom::Ec2Unknown), Expect::Converges),
        (
            Scenario::Poll,
            one(Atom::Store(StoreCall::Touch, false)),
            Expect::Error500(true),
        ),
        (
            Scenario::Launch,
            one(Atom::Fail5xx(Api::StartRecovery)),
            Expect::Deferred,
        ),
        (
            Scenario::LaunchStaleClaim,
            one(Atom::Throttle(Api::StartRecovery)),
            Expect::Deferred,
        ),
        (
            Scenario::LaunchStaleClaim,
            one(Atom::Fail5xx(Api::FindTaggedJob)),
            Expect::Error500(false),
        ),
        (
            Scenario::PauseByOperator,
            one(Atom::Throttle(Api::DescribeJobs)),
            Expect::Same,
        ),
        (
            Scenario::PauseParks,
            one(Atom::Store(StoreCall::Commit, true)),
            Expect::Error500(false),
        ),
        (
            Scenario::PauseMoot,
            one(Atom::Fail5xx(Api::SendTaskSuccess)),
            Expect::Error500(false),
        ),
        (
            Scenario::Resume,
            one(Atom::Fail5xx(Api::SendTaskSuccess)),
            Expect::Error500(true),
        ),
        (
            Scenario::Cancel,
            one(Atom::Throttle(Api::SendTaskSuccess)),
            Expect::Error500(true),
        ),
        (
            Scenario::Finalize,
            one(Atom::Store(StoreCall::Commit, false)),
            Expect::Error500(false),
        ),
        (
            Scenario::Retry,
            one(Atom::Fail5xx(Api::SendTaskSuccess)),
            Expect::Error500(true),
        ),
        (
            Scenario::Retry,
            one(Atom::Store(StoreCall::Commit, true)),
            Expect::Error500(false),
        ),
        (
            Scenario::Skip,
            one(Atom::Store(StoreCall::CommitAnswerLost, false)),
            Expect::AnswerLost,
        ),
        (
            Scenario::Skip,
            one(Atom::Throttle(Api::SendTaskSuccess)),
            Expect::Error500(true),
        ),
        (
            Scenario::ActLambda,
            one(Atom::Store(StoreCall::CommitAnswerLost, false)),
            Expect::RunLost,
        ),
        (
            Scenario::ActRunbook,
            one(Atom::LoseAnswer(Api::StartAutomationExecution)),
            Expect::ActDeferred,
        ),
        (
            Scenario::PollRunbook,
            one(Atom::Throttle(Api::GetAutomationExecution)),
            Expect::Converges,
        ),
    ];
    let mut failures = Vec::new();
    for (scenario, fault, wanted) in cases {
        let id = ExecutionId::new_random();
        // The fault-free run in memory: DynamoDB must give the same answers and records.
        let base = baseline(&Kind::Memory, scenario, id).await;
        match case(&Kind::Moto(store.clone()), scenario, &fault, &base).await {
            Ok(e) if e == wanted => {}
            Ok(e) => failures.push(format!(
                "{scenario:?} × {fault}: showed {e:?}, not {wanted:?}"
            )),
            Err(e) => failures.push(format!("{scenario:?} × {fault}: {e}")),
        }
    }
    // moto keeps every table in memory.
    let _ = client.delete_table().table_name(&table).send().await;
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Each check fails on a record or answer that breaks what it checks.
#[tokio::test]
async fn the_checks_catch_what_they_check() {
    let p = baseline(&Kind::Memory, Scenario::Launch, fixtures::execution_id()).await;
    let sim = &p.world.sim;
    let started = p.after.clone();
    assert_eq!(check_consistent(&started, sim), Ok(()));
    let broken = |f: &dyn Fn(&mut Execution)| {
        let mut e = started.clone();
        f(&mut e);
        e
    };
    for (what, e) in [
        (
            "STARTED without its job",
            broken(&|e| e.waves[0].jobs.clear()),
        ),
        (
            "LAUNCHING with every server in a job",
            broken(&|e| e.waves[0].status = WaveStatus::Launching),
        ),
        (
            "a job DRS never ran",
            broken(&|e| e.waves[0].jobs[0].job_id = fixtures::job(9)),
        ),
        (
            "a job of another part",
            broken(&|e| e.waves[0].jobs[0].part = 1),
        ),
        (
            "a server in a job the wave does not record",
            broken(&|e| e.waves[0].server_statuses[1].job_id = Some(fixtures::job(9))),
        ),
        (
            "PAUSED for a wave that did not fail",
            broken(&|e| {
                e.header.status = ExecutionStatus::Paused;
                e.header.pause_reason = Some(PauseReason::WaveFailed);
                e.header.failed_wave = Some(0);
            }),
        ),
        (
            "a terminal status without an end",
            broken(&|e| e.header.status = ExecutionStatus::Completed),
        ),
        (
            "a second wave in flight",
            broken(&|e| e.waves[1].status = WaveStatus::Launching),
        ),
        (
            "PAUSED before nothing",
            broken(&|e| e.header.status = ExecutionStatus::Paused),
        ),
        (
            "a wave launched before the execution was created",
            broken(&|e| {
                let created = e.header.created_time.0;
                e.waves[0].launch_time = Some(Timestamp(created - 1));
            }),
        ),
    ] {
        assert!(check_consistent(&e, sim).is_err(), "{what} passed");
    }
    assert!(
        check_forward(&started, &p.before).is_err(),
        "STARTED → PENDING passed"
    );
    let mut older = started.clone();
    older.header.version -= 1;
    assert!(
        check_forward(&started, &older).is_err(),
        "a version going back passed"
    );

    // A second DRS job for the wave.
    let job = sim.world.jobs()[0].clone();
    let mut twin = job.clone();
    twin.job_id = fixtures::job(10);
    sim.world.add_job(twin);
    assert!(check_consistent(&started, sim)
        .unwrap_err()
        .contains("2 DRS jobs"));

    // An error answer that wrote something it does not document.
    let mut wrote = p.world.load().await.unwrap();
    wrote.header.version += 1;
    let err = Played {
        answer: json!({"statusCode": 500, "error": "INTERNAL_ERROR", "message": "x"}),
        before: started.clone(),
        after: wrote,
        ..p
    };
    assert!(check_unchanged_or_documented(Scenario::Finalize, &err, &started).is_err());

    for bad in [
        json!({"statusCode": 500, "error": "BOOM", "message": "x"}),
        json!({"statusCode": 500, "error": "INTERNAL_ERROR", "message": "x", "trace": "..."}),
        json!({"statusCode": 400, "error": "INTERNAL_ERROR", "message": "x"}),
        json!({"statusCode": 404, "error": "NOT_FOUND", "message": ""}),
        json!("500"),
    ] {
        assert!(check_answer_shape(&bad).is_err(), "{bad} passed");
    }
}
