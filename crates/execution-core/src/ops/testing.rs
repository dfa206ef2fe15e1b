//! Test harness: mockall mocks of the ports wired to a small shared state that honours the port
//! contracts, plus hooks to lose races on purpose, and [`World`]: the use cases as one-line calls
//! on that state, each followed by a check of the record against [`invariants::check`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::api::{
    CancelResponse, DecisionResponse, FinalizeResponse, FindResponse, LaunchResponse, Operation,
    PauseRequest, PauseResponse, PollRequest, PollResponse, Request, ResumeResponse, Target,
    WaveTarget,
};
use crate::audit::{Actor, AuditEvent};
use crate::error::OperationError;
use crate::fixtures;
use crate::ids::{ExecutionId, SourceServerId, TaskToken};
use crate::invariants::{self, Violation};
use crate::model::{Execution, Timestamp};
use crate::ops::heal::{RestartBy, Restarted};
use crate::ops::{Audited, FindConfig, Ports};
use crate::plan::Plan;
use crate::ports::mocks::{FixedClock, MockDispatch, MockDrs, MockEc2, MockStore, MockWorkflow};
use crate::ports::{
    ActiveExecution, ActivePage, AutomationRunner, Commit, Drs, Ec2, ExecutionStore,
    FunctionInvoker, HeaderWrite, HoldClaim, PollDispatch, ServerHold, ServerLocks, ServiceError,
    SourceServer, StoreError, Workflow, MAX_COMMIT_ITEMS,
};
use crate::rules::Policy;

/// A racing writer's change, applied to the stored record just before a commit is checked.
pub type RacingWrite = Box<dyn FnOnce(&mut Execution) + Send>;

/// What the fake store holds and what was written to it.
#[derive(Default)]
pub struct StoreState {
    pub record: Option<Execution>,
    pub commits: Vec<Commit>,
    pub touches: Vec<Timestamp>,
    /// Run before each commit is checked: lets a test change the record as a racing writer would.
    pub before_commit: VecDeque<RacingWrite>,
    /// Errors to return from the next commits instead of applying them.
    pub fail_commits: VecDeque<StoreError>,
    /// How many times the record was loaded.
    pub loads: usize,
    /// The trail: every event the creates and commits carried.
    pub events: Vec<AuditEvent>,
    /// The server holds ([`TestLocks`]).
    pub holds: Vec<ServerHold>,
}

/// The holds of the fake store, kept beside its record.
pub struct TestLocks(pub Shared);

#[async_trait::async_trait]
impl ServerLocks for TestLocks {
    async fn holds(&self, servers: &[SourceServerId]) -> Result<Vec<ServerHold>, StoreError> {
        let state = self.0.lock().unwrap();
        Ok(state
            .holds
            .iter()
            .filter(|h| servers.contains(&h.source_server_id))
            .cloned()
            .collect())
    }

    async fn hold(&self, claims: &[HoldClaim]) -> Result<(), StoreError> {
        let mut state = self.0.lock().unwrap();
        if claims.len() > MAX_COMMIT_ITEMS {
            return Err(StoreError::Service(ServiceError::Rejected(
                "too many claims".into(),
            )));
        }
        for claim in claims {
            let held = state
                .holds
                .iter()
                .find(|h| h.source_server_id == claim.hold.source_server_id);
            if let Some(h) = held {
                if h.execution_id != claim.hold.execution_id
                    && Some(h.execution_id) != claim.replaces
                {
                    return Err(StoreError::Conflict);
                }
            }
        }
        for claim in claims {
            state
                .holds
                .retain(|h| h.source_server_id != claim.hold.source_server_id);
            state.holds.push(claim.hold.clone());
        }
        Ok(())
    }

    async fn release(
        &self,
        execution: ExecutionId,
        servers: &[SourceServerId],
    ) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap()
            .holds
            .retain(|h| h.execution_id != execution || !servers.contains(&h.source_server_id));
        Ok(())
    }
}

/// Step Functions that starts any run it is asked for.
pub fn starts_any_run() -> MockWorkflow {
    let mut m = MockWorkflow::new();
    m.expect_start_run().returning(|_, name| {
        Ok(format!(
            "arn:aws:states:us-east-1:123456789012:execution:drs-waves:{name}"
        ))
    });
    m
}

/// DRS that knows every server asked about, replicating healthily, in no job.
pub fn healthy_drs() -> MockDrs {
    let mut m = MockDrs::new();
    m.expect_describe_source_servers().returning(|ids| {
        Ok(ids
            .iter()
            .map(|id| SourceServer {
                source_server_id: id.clone(),
                hostname: None,
                replication_state: Some("CONTINUOUS".into()),
                replication_error: None,
                last_launch: None,
                recovery_instance_id: None,
            })
            .collect())
    });
    m
}

pub type Shared = Arc<Mutex<StoreState>>;

pub fn empty() -> Shared {
    Arc::default()
}

pub fn shared(record: Execution) -> Shared {
    Arc::new(Mutex::new(StoreState {
        record: Some(record),
        ..StoreState::default()
    }))
}

/// Applies `commit` as the port contract says: all or nothing, Conflict on any version mismatch.
pub fn apply(record: &mut Execution, commit: &Commit) -> Result<(), StoreError> {
    if let Some(write) = &commit.header {
        if write.expected_version != record.header.version {
            return Err(StoreError::Conflict);
        }
    }
    for w in &commit.waves {
        let stored = record
            .wave(w.wave.wave_number)
            .ok_or(StoreError::Conflict)?;
        if stored.version != w.expected_version {
            return Err(StoreError::Conflict);
        }
        assert_eq!(
            w.wave.version,
            w.expected_version + 1,
            "wave writes bump the version by one"
        );
        assert!(
            crate::lifecycle::WAVE_TABLE
                .iter()
                .any(|&(_, from, to)| from == stored.status && to == w.wave.status),
            "wave {} moved {} → {}",
            stored.wave_number,
            stored.status,
            w.wave.status
        );
    }
    if let Some(HeaderWrite {
        expected_version,
        header,
    }) = &commit.header
    {
        assert_eq!(
            header.version,
            expected_version + 1,
            "header writes bump the version by one"
        );
        assert!(
            !record.header.status.is_terminal(),
            "a terminal execution was written"
        );
        let kept = record.header.clone();
        record.header = header.clone();
        // touch owns lastPolledTime, workflowRun and workflowPolledTime
        record.header.last_polled_time = kept.last_polled_time;
        record.header.workflow_run = kept.workflow_run;
        record.header.workflow_polled_time = kept.workflow_polled_time;
    }
    for w in &commit.waves {
        let i = record
            .waves
            .iter()
            .position(|x| x.wave_number == w.wave.wave_number)
            .unwrap_or_else(|| unreachable!());
        record.waves[i] = w.wave.clone();
    }
    Ok(())
}

/// Whether `commit` changes `record` in anything but versions (and the touch-owned attributes,
/// which a header write never moves).
fn changes(record: &Execution, commit: &Commit) -> bool {
    let header = commit.header.as_ref().is_some_and(|w| {
        let mut written = w.header.clone();
        written.version = record.header.version;
        written.last_polled_time = record.header.last_polled_time;
        written.workflow_run = record.header.workflow_run.clone();
        written.workflow_polled_time = record.header.workflow_polled_time;
        written != record.header
    });
    header
        || commit.waves.iter().any(|w| {
            record.wave(w.wave.wave_number).is_some_and(|stored| {
                let mut written = w.wave.clone();
                written.version = stored.version;
                &written != stored
            })
        })
}

/// A MockStore whose every method reads and writes `state`.
pub fn store(state: &Shared) -> MockStore {
    let mut m = MockStore::new();
    let s = state.clone();
    m.expect_load().returning(move |id| {
        let mut st = s.lock().unwrap();
        st.loads += 1;
        Ok(st.record.clone().filter(|r| r.id() == id))
    });
    let s = state.clone();
    m.expect_commit().returning(move |commit| {
        let mut st = s.lock().unwrap();
        if let Some(e) = st.fail_commits.pop_front() {
            return Err(e);
        }
        let hook = st.before_commit.pop_front();
        let record = st.record.as_mut().ok_or(StoreError::Conflict)?;
        if let Some(hook) = hook {
            hook(record);
        }
        let changes = changes(record, commit);
        apply(record, commit)?;
        assert_eq!(
            commit.events.len(),
            usize::from(changes),
            "a commit that changes {} carries {} event(s): {commit:#?}",
            if changes {
                "the record"
            } else {
                "nothing but versions"
            },
            commit.events.len()
        );
        if let Some(token) = &record.header.task_token {
            let trail = serde_json::to_string(&commit.events).unwrap_or_default();
            assert!(
                !trail.contains(&format!("{:?}", token.token.expose())),
                "an event holds the task token"
            );
        }
        st.events.extend(commit.events.iter().cloned());
        st.commits.push(commit.clone());
        Ok(())
    });
    let s = state.clone();
    m.expect_create().returning(move |e, events| {
        let mut st = s.lock().unwrap();
        if st.record.as_ref().is_some_and(|r| r.id() == e.id()) {
            return Err(StoreError::Conflict);
        }
        st.record = Some(e.clone());
        st.events.extend(events.iter().cloned());
        Ok(())
    });
    let s = state.clone();
    m.expect_events().returning(move |id, cursor| {
        let st = s.lock().unwrap();
        assert!(cursor.is_none(), "the fake store answers one page");
        Ok(crate::ports::EventPage {
            events: st
                .events
                .iter()
                .filter(|e| e.execution_id == id)
                .cloned()
                .collect(),
            next_cursor: None,
        })
    });
    let s = state.clone();
    m.expect_touch().returning(move |id, touch| {
        let mut st = s.lock().unwrap();
        let StoreState {
            record, touches, ..
        } = &mut *st;
        match record.as_mut().filter(|r| r.id() == id) {
            Some(r) => {
                if let Some(at) = touch.polled_at {
                    r.header.last_polled_time = Some(at);
                    touches.push(at);
                }
                if let Some(mark) = &touch.workflow {
                    // The port's contract: the run's name only for a new run (or a record
                    // without one).
                    if mark.new_run || r.header.workflow_run.is_none() {
                        r.header.workflow_run = Some(mark.run.clone());
                    }
                    r.header.workflow_polled_time = Some(mark.at);
                }
                Ok(())
            }
            None => Err(StoreError::Conflict),
        }
    });
    let s = state.clone();
    m.expect_list_active().returning(move |_| {
        let st = s.lock().unwrap();
        let executions = st
            .record
            .iter()
            .filter(|r| crate::status::ExecutionStatus::LISTED.contains(&r.status()))
            .map(|r| ActiveExecution {
                execution_id: r.id(),
                plan_id: r.header.plan_id,
                status: r.status(),
                created_time: r.header.created_time,
                last_polled_time: r.header.last_polled_time,
                workflow_run: r.header.workflow_run.clone(),
                workflow_polled_time: r.header.workflow_polled_time,
            })
            .collect();
        Ok(ActivePage {
            executions,
            next_cursor: None,
        })
    });
    m
}

/// A DRS that must not be called.
pub fn no_drs() -> MockDrs {
    MockDrs::new()
}

/// An EC2 that must not be called.
pub fn no_ec2() -> MockEc2 {
    MockEc2::new()
}

/// A workflow that must not be called.
pub fn no_workflow() -> MockWorkflow {
    MockWorkflow::new()
}

pub fn clock(secs: i64) -> FixedClock {
    FixedClock::at_secs(secs)
}

pub fn target() -> crate::api::Target {
    crate::api::Target {
        execution_id: fixtures::execution_id(),
        plan_id: fixtures::plan_id(),
    }
}

pub fn record(state: &Shared) -> Execution {
    state.lock().unwrap().record.clone().unwrap()
}

/// One execution in the fake store ([`store`]), the ports the use cases run against (by default
/// mocks that must not be called), the clock and the policy: each use case is one call, at a time
/// where it reads the clock, and after each the record is checked against [`invariants::check`]
/// (the test fails listing the rules it breaks).
///
/// A test that needs a special port gives it with `with_*` (or `set_*` between calls: the mock
/// replaced is checked as it is dropped); one that needs a special store wraps the fake one
/// ([`World::with_store`]).
pub struct World {
    state: Shared,
    store: Box<dyn ExecutionStore>,
    drs: Box<dyn Drs>,
    ec2: Box<dyn Ec2>,
    workflow: Box<dyn Workflow>,
    dispatch: Box<dyn PollDispatch>,
    invoker: Option<Box<dyn FunctionInvoker>>,
    automation: Option<Box<dyn AutomationRunner>>,
    locks: TestLocks,
    pub clock: FixedClock,
    pub policy: Policy,
    pub target: Target,
    pub find_config: FindConfig,
    /// What the record broke when the test gave it ([`World::odd`]): only other violations fail.
    given: Vec<Violation>,
}

impl World {
    /// `record` in the store; it must pass [`invariants::check`] (see [`World::odd`]).
    pub fn new(record: Execution) -> Self {
        let found = invariants::check(&record);
        assert!(
            found.is_empty(),
            "the given record breaks {} (World::odd takes a record that does so on purpose)",
            listed(&found)
        );
        Self::with_state(shared(record), Vec::new())
    }

    /// A record that breaks rules of [`invariants::check`] on purpose (an older engine's, a
    /// hand-repaired one): the operations must not break any other.
    pub fn odd(record: Execution) -> Self {
        let given = invariants::check(&record);
        assert!(
            !given.is_empty(),
            "the record breaks no rule: use World::new"
        );
        Self::with_state(shared(record), given)
    }

    /// `record` in the store, whether or not it passes [`invariants::check`].
    pub fn odd_or_new(record: Execution) -> Self {
        let given = invariants::check(&record);
        Self::with_state(shared(record), given)
    }

    /// The fake store, unaudited.
    pub fn store(&self) -> &dyn ExecutionStore {
        &*self.store
    }

    /// An empty store, for [`World::create`].
    pub fn empty() -> Self {
        Self::with_state(empty(), Vec::new())
    }

    fn with_state(state: Shared, given: Vec<Violation>) -> Self {
        Self {
            store: Box::new(store(&state)),
            locks: TestLocks(state.clone()),
            state,
            drs: Box::new(no_drs()),
            ec2: Box::new(no_ec2()),
            workflow: Box::new(no_workflow()),
            dispatch: Box::new(MockDispatch::new()),
            invoker: None,
            automation: None,
            clock: FixedClock::at_secs(0),
            policy: Policy::default(),
            target: target(),
            find_config: FindConfig {
                concurrency: 4,
                deadline_millis: i64::MAX,
                poll_budget_millis: 0,
            },
            given,
        }
    }

    pub fn with_drs(mut self, drs: impl Drs + 'static) -> Self {
        self.set_drs(drs);
        self
    }

    pub fn with_ec2(mut self, ec2: impl Ec2 + 'static) -> Self {
        self.set_ec2(ec2);
        self
    }

    pub fn with_workflow(mut self, workflow: impl Workflow + 'static) -> Self {
        self.set_workflow(workflow);
        self
    }

    pub fn with_dispatch(mut self, dispatch: impl PollDispatch + 'static) -> Self {
        self.dispatch = Box::new(dispatch);
        self
    }

    /// Lambda functions for wave actions (none by default: act answers 500 for a LAMBDA action).
    pub fn with_invoker(mut self, invoker: impl FunctionInvoker + 'static) -> Self {
        self.invoker = Some(Box::new(invoker));
        self
    }

    /// SSM Automation for wave actions (none by default; poll then follows no runbook).
    pub fn with_automation(mut self, automation: impl AutomationRunner + 'static) -> Self {
        self.automation = Some(Box::new(automation));
        self
    }

    pub fn with_policy(self, policy: Policy) -> Self {
        Self { policy, ..self }
    }

    /// The fake store seen through `wrap` (a store that fails, or dies, on purpose).
    pub fn with_store<S: ExecutionStore + 'static>(
        self,
        wrap: impl FnOnce(Box<dyn ExecutionStore>) -> S,
    ) -> Self {
        let store = Box::new(wrap(self.store));
        Self { store, ..self }
    }

    pub fn set_drs(&mut self, drs: impl Drs + 'static) {
        self.drs = Box::new(drs);
    }

    pub fn set_ec2(&mut self, ec2: impl Ec2 + 'static) {
        self.ec2 = Box::new(ec2);
    }

    pub fn set_workflow(&mut self, workflow: impl Workflow + 'static) {
        self.workflow = Box::new(workflow);
    }

    // ---- the use cases -------------------------------------------------------------------

    /// The store as `operation` writes to it: every change with its event, as `ops::run` does.
    pub fn audited(&self, operation: Operation) -> Audited<'_> {
        let actor = match operation {
            Operation::Resume | Operation::Retry | Operation::Skip | Operation::Cancel => {
                Actor::Cli("operator".to_owned())
            }
            Operation::Find => Actor::Find,
            Operation::Advance => Actor::Event,
            _ => Actor::Workflow,
        };
        Audited::new(&*self.store, &self.clock, actor, operation.as_str())
    }

    pub async fn create(&self, at: i64, plan: &Plan) -> Result<Execution, OperationError> {
        self.clock.set_secs(at);
        let id = self.target.execution_id;
        let store = self.audited(Operation::Start);
        let r = crate::ops::create_execution(&store, &self.clock, plan, id).await;
        self.checked("create", r)
    }

    /// The full answer, as an operator asks.
    pub async fn poll(&self, at: i64) -> Result<PollResponse, OperationError> {
        self.poll_request(at, false, None).await
    }

    /// The summary answer, as find and the workflow ask.
    pub async fn poll_summary(&self, at: i64) -> Result<PollResponse, OperationError> {
        self.poll_request(at, true, None).await
    }

    /// The workflow's poll, naming its run.
    pub async fn poll_by_run(&self, at: i64, run: &str) -> Result<PollResponse, OperationError> {
        self.poll_request(at, true, Some(run)).await
    }

    async fn poll_request(
        &self,
        at: i64,
        summary: bool,
        run: Option<&str>,
    ) -> Result<PollResponse, OperationError> {
        self.clock.set_secs(at);
        let request = PollRequest {
            target: self.target,
            summary,
            workflow_run: run.map(Into::into),
        };
        let audited = self.audited(Operation::Poll);
        let (store, drs, ec2) = (&audited, &*self.drs, &*self.ec2);
        let automation = self.automation.as_deref();
        let r = crate::ops::poll(
            store,
            drs,
            ec2,
            automation,
            &self.clock,
            &self.policy,
            &request,
        )
        .await;
        self.checked("poll", r)
    }

    /// The workflow's act.
    pub async fn act(&self, at: i64) -> Result<crate::api::ActResponse, OperationError> {
        self.clock.set_secs(at);
        let audited = self.audited(Operation::Act);
        let ports = crate::ops::ActionPorts {
            invoker: self.invoker.as_deref(),
            automation: self.automation.as_deref(),
        };
        let r = crate::ops::act(&audited, ports, &self.clock, &self.policy, &self.target).await;
        self.checked("act", r)
    }

    pub async fn launch(&self, at: i64) -> Result<LaunchResponse, OperationError> {
        self.clock.set_secs(at);
        let audited = self.audited(Operation::Launch);
        let (store, drs) = (&audited, &*self.drs);
        let r = crate::ops::launch(store, drs, &self.clock, &self.policy, &self.target).await;
        self.checked("launch", r)
    }

    /// An operator's pause.
    pub async fn pause(&self) -> Result<PauseResponse, OperationError> {
        self.pause_request(None).await
    }

    /// The workflow's pause, parking its task token `token`.
    pub async fn park(&self, token: &str) -> Result<PauseResponse, OperationError> {
        let token = TaskToken::parse(token).unwrap_or_else(|e| panic!("{token}: {e}"));
        self.pause_request(Some(token)).await
    }

    async fn pause_request(
        &self,
        task_token: Option<TaskToken>,
    ) -> Result<PauseResponse, OperationError> {
        let request = PauseRequest {
            target: self.target,
            task_token,
        };
        let store = self.audited(Operation::Pause);
        let r = crate::ops::pause(&store, &*self.workflow, &request).await;
        self.checked("pause", r)
    }

    pub async fn resume(&self) -> Result<ResumeResponse, OperationError> {
        let store = self.audited(Operation::Resume);
        let r = crate::ops::resume(&store, &*self.workflow, &self.target).await;
        self.checked("resume", r)
    }

    pub async fn cancel(&self) -> Result<CancelResponse, OperationError> {
        let store = self.audited(Operation::Cancel);
        let r = crate::ops::cancel(&store, &*self.workflow, &self.target).await;
        self.checked("cancel", r)
    }

    pub async fn finalize(&self, at: i64) -> Result<FinalizeResponse, OperationError> {
        self.clock.set_secs(at);
        let store = self.audited(Operation::Finalize);
        let r = crate::ops::finalize(&store, &self.clock, &self.target).await;
        self.checked("finalize", r)
    }

    pub async fn cleanup(&self, at: i64) -> Result<crate::api::CleanupResponse, OperationError> {
        self.clock.set_secs(at);
        let audited = self.audited(Operation::Cleanup);
        let r = crate::ops::cleanup(&audited, &*self.drs, &self.clock, &self.target).await;
        self.checked("cleanup", r)
    }

    pub async fn retry(&self, at: i64, wave: u32) -> Result<DecisionResponse, OperationError> {
        self.clock.set_secs(at);
        let audited = self.audited(Operation::Retry);
        let (store, workflow) = (&audited, &*self.workflow);
        let wave = self.wave(wave);
        let r = crate::ops::retry(store, workflow, &self.clock, &self.policy, &wave).await;
        self.checked("retry", r)
    }

    pub async fn skip(&self, wave: u32) -> Result<DecisionResponse, OperationError> {
        let store = self.audited(Operation::Skip);
        let r = crate::ops::skip(&store, &*self.workflow, &self.wave(wave)).await;
        self.checked("skip", r)
    }

    /// find, with its healing.
    pub async fn find(&self, at: i64) -> Result<FindResponse, OperationError> {
        self.clock.set_secs(at);
        let store = self.audited(Operation::Find);
        let r = crate::ops::find_and_heal(
            &store,
            &*self.dispatch,
            Some(&*self.workflow),
            &self.clock,
            &self.find_config,
        )
        .await;
        self.checked("find", r)
    }

    pub async fn restart(&self, at: i64, by: RestartBy) -> Result<Restarted, OperationError> {
        self.clock.set_secs(at);
        let audited = self.audited(Operation::Find);
        let (store, workflow) = (&audited, &*self.workflow);
        let r = crate::ops::heal::restart(store, workflow, &self.clock, &self.target, by).await;
        self.checked("restart", r)
    }

    /// `request` as a Lambda function runs it: through [`crate::ops::run`], with every port,
    /// answering its JSON.
    pub async fn run(&self, at: i64, request: Request) -> Value {
        self.clock.set_secs(at);
        let what = format!("{:?}", request.operation());
        let ports = Ports::new(&*self.store, &self.clock, &self.policy)
            .with_drs(&*self.drs)
            .with_ec2(&*self.ec2)
            .with_workflow(&*self.workflow)
            .with_find(&*self.dispatch, &self.find_config)
            .with_locks(&self.locks);
        let ports = Ports {
            invoker: self.invoker.as_deref(),
            automation: self.automation.as_deref(),
            ..ports
        };
        let actor = self.audited(request.operation()).actor().clone();
        let answer = crate::ops::run(&ports, request, actor).await;
        self.check(&what);
        answer
    }

    fn wave(&self, wave_number: u32) -> WaveTarget {
        WaveTarget {
            target: self.target,
            wave_number,
        }
    }

    fn checked<T>(&self, what: &str, answer: T) -> T {
        self.check(what);
        answer
    }

    /// The record (if any) breaks no rule of [`invariants::check`] but those it was given with.
    pub fn check(&self, after: &str) {
        let Some(r) = self.state.lock().unwrap().record.clone() else {
            return;
        };
        let found: Vec<Violation> = invariants::check(&r)
            .into_iter()
            .filter(|v| !self.given.contains(v))
            .collect();
        assert!(
            found.is_empty(),
            "after {after} the record breaks {}\nrecord: {r:#?}",
            listed(&found)
        );
    }

    // ---- the store -----------------------------------------------------------------------

    pub fn record(&self) -> Execution {
        record(&self.state)
    }

    /// Every commit the store took.
    pub fn commits(&self) -> Vec<Commit> {
        self.state.lock().unwrap().commits.clone()
    }

    /// The trail: every event stored, in the order written.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.state.lock().unwrap().events.clone()
    }

    /// Every lastPolledTime touched.
    pub fn touches(&self) -> Vec<Timestamp> {
        self.state.lock().unwrap().touches.clone()
    }

    /// Changes the record as something outside the operations under test would (the next
    /// operation's check covers the change).
    pub fn edit(&self, change: impl FnOnce(&mut Execution)) {
        let mut st = self.state.lock().unwrap();
        change(st.record.as_mut().expect("a record to edit"));
    }

    /// A racing writer's change, applied just before the next commit is checked.
    pub fn race(&self, write: impl FnOnce(&mut Execution) + Send + 'static) {
        let mut st = self.state.lock().unwrap();
        st.before_commit.push_back(Box::new(write));
    }

    /// The next commit fails with `error` instead of landing.
    pub fn fail_next_commit(&self, error: StoreError) {
        self.state.lock().unwrap().fail_commits.push_back(error);
    }

    /// The shared state, for a mock that reads the record.
    pub fn state(&self) -> Shared {
        self.state.clone()
    }
}

fn listed(found: &[Violation]) -> String {
    let lines: Vec<String> = found.iter().map(|v| format!("\n  - {v}")).collect();
    format!("{} rule(s):{}", found.len(), lines.concat())
}
