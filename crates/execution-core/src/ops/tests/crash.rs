//! Crashes: a run of launch, resume or finalize dies at each port call in turn (before or after
//! the call takes effect; every later call fails too, as in a dead Lambda), then is retried the
//! way the workflow or an operator would. The outcome must equal the run that did not crash.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use super::exec;
use crate::audit::AuditEvent;
use crate::fixtures::drs_job;
use crate::ids::{ExecutionId, JobId, SourceServerId, TaskToken};
use crate::model::{Execution, HeldToken, Timestamp};
use crate::ops::testing::*;
use crate::ports::*;
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus as E, JobStatus, WaveStatus as W};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// The Lambda dies just before call k: it never happens.
    Before,
    /// Call k happens, then the Lambda dies: its answer is lost.
    After,
}

/// Counts port calls across every wrapped port and kills the run at call `at`.
struct Crash {
    calls: AtomicUsize,
    at: AtomicUsize,
    mode: Mode,
    dead: AtomicBool,
}

impl Crash {
    fn new(at: usize, mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            at: AtomicUsize::new(at),
            mode,
            dead: AtomicBool::new(false),
        })
    }
    fn never() -> Arc<Self> {
        Self::new(usize::MAX, Mode::Before)
    }
    /// The next run (a new Lambda) lives: no call dies from now on.
    fn recover(&self) {
        self.at.store(usize::MAX, Ordering::SeqCst);
        self.dead.store(false, Ordering::SeqCst);
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
    /// Whether the call about to happen may take effect.
    fn before(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n == self.at.load(Ordering::SeqCst) && self.mode == Mode::Before {
            self.dead.store(true, Ordering::SeqCst);
        }
        !self.dead.load(Ordering::SeqCst)
    }
    /// Whether the run survives the call that just happened.
    fn after(&self) -> bool {
        if self.calls() - 1 == self.at.load(Ordering::SeqCst) && self.mode == Mode::After {
            self.dead.store(true, Ordering::SeqCst);
        }
        !self.dead.load(Ordering::SeqCst)
    }
}

fn died() -> ServiceError {
    ServiceError::unavailable("the Lambda died here")
}

macro_rules! guarded {
    ($crash:expr, $call:expr, $err:expr) => {{
        if !$crash.before() {
            return Err($err);
        }
        let out = $call;
        if !$crash.after() {
            return Err($err);
        }
        out
    }};
}

struct CrashStore(Box<dyn ExecutionStore>, Arc<Crash>);
#[async_trait]
impl ExecutionStore for CrashStore {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        guarded!(self.1, self.0.load(id).await, StoreError::Service(died()))
    }
    async fn create(&self, e: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        guarded!(
            self.1,
            self.0.create(e, events).await,
            StoreError::Service(died())
        )
    }
    async fn events(&self, id: ExecutionId, c: Option<String>) -> Result<EventPage, StoreError> {
        guarded!(
            self.1,
            self.0.events(id, c).await,
            StoreError::Service(died())
        )
    }
    async fn list_active(&self, c: Option<String>) -> Result<ActivePage, StoreError> {
        guarded!(
            self.1,
            self.0.list_active(c).await,
            StoreError::Service(died())
        )
    }
    async fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        guarded!(self.1, self.0.commit(c).await, StoreError::Service(died()))
    }
    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        guarded!(
            self.1,
            self.0.touch(id, touch).await,
            StoreError::Service(died())
        )
    }
}

/// DRS as a job table that tags jobs and finds them by tag.
#[derive(Default)]
struct Jobs(Mutex<Vec<(DrsJob, JobTag)>>);

/// DRS's recovery instances and the TERMINATE jobs asked for them (each job naming its
/// instances, as DRS's do). A TERMINATE job terminates its instances at once, unless it is one of
/// the next `failing`: those end (COMPLETED) without terminating anything.
#[derive(Default)]
struct Fleet {
    instances: Mutex<Vec<RecoveryInstance>>,
    terminations: Mutex<Vec<(DrsJob, Vec<crate::ids::InstanceId>)>>,
    failing: AtomicUsize,
}

struct CrashDrs(Arc<Jobs>, Arc<Crash>, Arc<Fleet>);
#[async_trait]
impl Drs for CrashDrs {
    async fn describe_jobs(&self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError> {
        guarded!(
            self.1,
            Ok(self
                .0
                 .0
                .lock()
                .unwrap()
                .iter()
                .map(|j| &j.0)
                .chain(self.2.terminations.lock().unwrap().iter().map(|t| &t.0))
                .filter(|j| ids.contains(&j.job_id))
                .cloned()
                .collect()),
            died()
        )
    }
    async fn describe_recovery_instances(
        &self,
        servers: &[SourceServerId],
    ) -> Result<Vec<RecoveryInstance>, ServiceError> {
        guarded!(
            self.1,
            Ok(self
                .2
                .instances
                .lock()
                .unwrap()
                .iter()
                .filter(|i| servers.contains(&i.source_server_id))
                .cloned()
                .collect()),
            died()
        )
    }
    async fn describe_source_servers(
        &self,
        _: &[SourceServerId],
    ) -> Result<Vec<SourceServer>, ServiceError> {
        unreachable!("nothing here starts an execution")
    }
    async fn job_log(&self, _: &JobId) -> Result<Vec<JobLogEntry>, ServiceError> {
        guarded!(self.1, Ok(vec![]), died())
    }
    async fn terminate_recovery_instances(
        &self,
        ids: &[crate::ids::InstanceId],
    ) -> Result<DrsJob, ServiceError> {
        guarded!(
            self.1,
            {
                let mut terminations = self.2.terminations.lock().unwrap();
                let mut instances = self.2.instances.lock().unwrap();
                let fails = self
                    .2
                    .failing
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let (status, launch) = if fails {
                    (JobStatus::Completed, crate::status::LaunchStatus::Failed)
                } else {
                    (JobStatus::Pending, crate::status::LaunchStatus::Pending)
                };
                let mut job = drs_job(900 + terminations.len(), status, &[]);
                job.participating_servers = instances
                    .iter()
                    .filter(|i| ids.contains(&i.recovery_instance_id))
                    .map(|i| ParticipatingServer {
                        source_server_id: i.source_server_id.clone(),
                        launch_status: launch.clone(),
                        recovery_instance_id: Some(i.recovery_instance_id.clone()),
                    })
                    .collect();
                terminations.push((job.clone(), ids.to_vec()));
                if !fails {
                    instances.retain(|i| !ids.contains(&i.recovery_instance_id));
                }
                Ok(job)
            },
            died()
        )
    }
    async fn find_terminate_job(
        &self,
        ids: &[crate::ids::InstanceId],
        _since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        guarded!(
            self.1,
            Ok(self
                .2
                .terminations
                .lock()
                .unwrap()
                .iter()
                .find(|(_, terminated)| terminated.iter().any(|i| ids.contains(i)))
                .map(|(job, _)| job.clone())),
            died()
        )
    }
    async fn start_recovery(&self, req: &RecoveryRequest) -> Result<DrsJob, ServiceError> {
        guarded!(
            self.1,
            {
                let mut jobs = self.0 .0.lock().unwrap();
                let servers: Vec<_> = req
                    .source_servers
                    .iter()
                    .map(|s| (s.clone(), crate::status::LaunchStatus::Pending))
                    .collect();
                let job = drs_job(500 + jobs.len(), JobStatus::Pending, &servers);
                jobs.push((job.clone(), req.tag()));
                Ok(job)
            },
            died()
        )
    }
    async fn find_tagged_job(
        &self,
        tag: &JobTag,
        _since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        guarded!(
            self.1,
            Ok(self
                .0
                 .0
                .lock()
                .unwrap()
                .iter()
                .find(|j| j.1 == *tag)
                .map(|j| j.0.clone())),
            died()
        )
    }
}

/// Step Functions tokens: WAITING until completed once; a second completion is TaskTimedOut.
#[derive(Default)]
struct Tokens(Mutex<HashMap<String, &'static str>>);

struct CrashWorkflow(Arc<Tokens>, Arc<Crash>);
#[async_trait]
impl Workflow for CrashWorkflow {
    async fn send_task_success(&self, token: &TaskToken, _: &Value) -> Result<(), WorkflowError> {
        guarded!(
            self.1,
            match self.0 .0.lock().unwrap().get_mut(token.expose()) {
                Some(s) if *s == "WAITING" => {
                    *s = "SUCCEEDED";
                    Ok(())
                }
                Some(_) => Err(WorkflowError::TaskTimedOut),
                None => Err(WorkflowError::InvalidToken),
            },
            WorkflowError::Service(died())
        )
    }
    async fn run_state(&self, _: &RunRef) -> Result<RunState, WorkflowError> {
        unreachable!("nothing here asks about runs")
    }
    async fn start_run(
        &self,
        _: &crate::api::WorkflowInput,
        _: &str,
    ) -> Result<String, WorkflowError> {
        unreachable!("nothing here starts runs")
    }
}

/// How many port calls a clean run makes, and a sanity check that it succeeds.
fn modes(calls: usize) -> impl Iterator<Item = (usize, Mode)> {
    (0..calls).flat_map(|k| [(k, Mode::Before), (k, Mode::After)])
}

/// `start` in the store behind ports that die as `crash` says, DRS a job table, Step Functions a
/// table where task token "tok" is WAITING.
struct Dying {
    w: World,
    crash: Arc<Crash>,
    jobs: Arc<Jobs>,
    tokens: Arc<Tokens>,
    fleet: Arc<Fleet>,
}

impl Dying {
    fn new(start: Execution, crash: Arc<Crash>) -> Self {
        let jobs = Arc::new(Jobs::default());
        let fleet = Arc::new(Fleet::default());
        let tokens = Arc::new(Tokens(Mutex::new(HashMap::from([(
            "tok".to_owned(),
            "WAITING",
        )]))));
        let w = World::new(start)
            .with_store(|store| CrashStore(store, crash.clone()))
            .with_drs(CrashDrs(jobs.clone(), crash.clone(), fleet.clone()))
            .with_workflow(CrashWorkflow(tokens.clone(), crash.clone()));
        Self {
            w,
            crash,
            jobs,
            tokens,
            fleet,
        }
    }

    fn token(&self) -> &'static str {
        self.tokens.0.lock().unwrap()["tok"]
    }
}

/// The trail is the record's: every change that landed has its event (the fake store refuses a
/// commit whose events do not match its change), and the status moves the trail records chain to
/// the record as it stands, whatever died where.
fn trail_matches(w: &World, context: &str) {
    let problems = crate::audit::check_trail(&w.record(), &w.events());
    assert!(problems.is_empty(), "{context}: {problems:?}");
}

// ---- launch ----------------------------------------------------------------------------------

/// Drives the execution as the state machine would, from `at`, until wave 0 has a job:
/// LAUNCH → launch, WAIT → 30 s pass.
async fn drive_launch(w: &World, mut at: i64) {
    for _ in 0..20 {
        let r = w.record();
        if r.waves[0].status == W::Started {
            return;
        }
        match next_action(&r, Timestamp(at), &w.policy) {
            NextAction::Launch => {
                let _ = w.launch(at).await;
            }
            NextAction::Wait => at += 30,
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("wave 0 never started");
}

/// Every server of wave 0 has exactly one job of the wave's current attempt, every DRS job of
/// that attempt is recorded, and no two jobs hold the same server.
fn one_job_per_server(r: &Execution, jobs: &Jobs, context: &str) {
    let jobs = jobs.0.lock().unwrap();
    let w = &r.waves[0];
    let attempt_jobs: Vec<_> = jobs.iter().filter(|j| j.1.attempt == w.attempt).collect();
    let recorded: Vec<_> = w.current_jobs().map(|j| j.job_id.clone()).collect();
    assert_eq!(
        attempt_jobs.len(),
        recorded.len(),
        "{context}: {} DRS jobs, {} recorded",
        attempt_jobs.len(),
        recorded.len()
    );
    let mut seen = std::collections::HashSet::new();
    for (job, _) in &attempt_jobs {
        assert!(
            recorded.contains(&job.job_id),
            "{context}: {} not recorded",
            job.job_id
        );
        for p in &job.participating_servers {
            assert!(
                seen.insert(p.source_server_id.clone()),
                "{context}: {} in two jobs",
                p.source_server_id
            );
            let entry = w
                .server_statuses
                .iter()
                .find(|s| s.source_server_id == p.source_server_id)
                .unwrap();
            assert_eq!(entry.job_id.as_ref(), Some(&job.job_id), "{context}");
        }
    }
}

#[tokio::test]
async fn launch_that_dies_anywhere_ends_with_one_job_per_wave() {
    let start = || exec(E::Pending, &[W::Pending, W::Pending]);
    let clean_calls = {
        let run = Dying::new(start(), Crash::never());
        run.w.launch(2000).await.unwrap();
        run.crash.calls()
    };
    assert!(
        clean_calls >= 4,
        "load, claim, StartRecovery, record...: {clean_calls}"
    );
    for (k, mode) in modes(clean_calls) {
        let run = Dying::new(start(), Crash::new(k, mode));
        let first = run.w.launch(2000).await;
        assert!(first.is_err(), "crash at {k} {mode:?} went unnoticed");
        run.crash.recover();
        drive_launch(&run.w, 2000).await;

        let r = run.w.record();
        assert_eq!(run.jobs.0.lock().unwrap().len(), 1, "crash at {k} {mode:?}");
        one_job_per_server(&r, &run.jobs, &format!("crash at {k} {mode:?}"));
        assert_eq!(
            (r.status(), r.waves[1].status),
            (E::Polling, W::Pending),
            "crash at {k} {mode:?}"
        );
        trail_matches(&run.w, &format!("crash at {k} {mode:?}"));
    }
}

/// A wave of 5 servers in jobs of 2 (three parts), first attempt or a retry (attempt 2, where one
/// server launched in attempt 1 keeps its job): a crash at every port call ends as the run that
/// did not crash, never two jobs for the same servers of one attempt.
#[tokio::test]
async fn a_multi_job_launch_or_retry_that_dies_anywhere_ends_as_the_clean_run() {
    let policy = Policy {
        max_servers_per_job: 2,
        ..Policy::default()
    };
    let first_attempt = || {
        let mut e = crate::fixtures::execution(&[5, 1]);
        e.header.status = E::Polling;
        e
    };
    let retry_attempt = || {
        let mut e = first_attempt();
        let w = &mut e.waves[0];
        w.status = W::Launching;
        crate::fixtures::give_job(w, crate::fixtures::job(1), Timestamp(1000));
        w.attempt = 2;
        w.attempt_time = Some(Timestamp(1900));
        for s in &mut w.server_statuses[1..] {
            s.job_id = None;
        }
        w.server_statuses[0].launch_status = crate::status::LaunchStatus::Launched;
        e
    };
    for (name, start, parts) in [("first", first_attempt(), 3), ("retry", retry_attempt(), 2)] {
        let dying = |crash| {
            let mut run = Dying::new(start.clone(), crash);
            run.w.policy = policy.clone();
            run
        };
        let clean_calls = {
            let run = dying(Crash::never());
            let answer = run.w.launch(2000).await.unwrap();
            assert_eq!(answer.job_ids.len(), parts, "{name}");
            run.crash.calls()
        };
        for (k, mode) in modes(clean_calls) {
            let run = dying(Crash::new(k, mode));
            let first = run.w.launch(2000).await;
            assert!(
                first.is_err(),
                "{name}: crash at {k} {mode:?} went unnoticed"
            );
            run.crash.recover();
            drive_launch(&run.w, 2000).await;
            let r = run.w.record();
            let context = format!("{name}: crash at {k} {mode:?}");
            assert_eq!(run.jobs.0.lock().unwrap().len(), parts, "{context}");
            one_job_per_server(&r, &run.jobs, &context);
            assert!(r.waves[0].server_statuses[0].job_id.is_some(), "{context}");
            assert_eq!(r.waves[0].servers_without_job().count(), 0, "{context}");
            trail_matches(&run.w, &context);
        }
    }
}

// ---- resume ----------------------------------------------------------------------------------

fn paused_with(token: &str) -> Execution {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.waves[1].pause_before_wave = true;
    e.header.paused_before_wave = Some(1);
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse(token).unwrap(),
        release_pending: false,
    });
    e
}

#[tokio::test]
async fn resume_that_dies_anywhere_never_strands_the_workflow() {
    let clean_calls = {
        let run = Dying::new(paused_with("tok"), Crash::never());
        run.w.resume().await.unwrap();
        run.crash.calls()
    };
    for (k, mode) in modes(clean_calls) {
        let run = Dying::new(paused_with("tok"), Crash::new(k, mode));
        let first = run.w.resume().await;
        assert!(first.is_err(), "crash at {k} {mode:?} went unnoticed");
        // Right after the crash: never PAUSED in DynamoDB while the workflow already runs.
        let r = run.w.record();
        let released = run.token() == "SUCCEEDED";
        assert!(
            !(r.status() == E::Paused && released),
            "crash at {k} {mode:?}: PAUSED but the workflow runs"
        );
        if r.status() == E::Polling && !released {
            assert!(
                r.header
                    .task_token
                    .as_ref()
                    .is_some_and(|h| h.release_pending),
                "crash at {k} {mode:?}: POLLING, workflow waiting, nothing to finish it"
            );
        }
        // The operator got an error and resumes again.
        run.crash.recover();
        match run.w.resume().await {
            Ok(again) => assert_eq!(again.status, E::Polling, "crash at {k} {mode:?}"),
            // The first run had finished everything before it died.
            Err(e) => assert!(
                e.code() == "INVALID_STATE" && e.to_string().contains("POLLING"),
                "crash at {k} {mode:?}: {e}"
            ),
        }
        let r = run.w.record();
        assert_eq!(r.status(), E::Polling);
        assert!(
            r.header.task_token.is_none(),
            "crash at {k} {mode:?}: token left behind"
        );
        assert!(r.waves[1].pause_approved, "crash at {k} {mode:?}");
        assert_eq!(
            run.token(),
            "SUCCEEDED",
            "crash at {k} {mode:?}: the workflow still waits"
        );
        trail_matches(&run.w, &format!("crash at {k} {mode:?}"));
        let resumed = run
            .w
            .events()
            .iter()
            .filter(|e| e.execution.as_ref().is_some_and(|c| c.to == E::Polling))
            .count();
        assert_eq!(resumed, 1, "crash at {k} {mode:?}: one resume, one event");
    }
}

// ---- finalize --------------------------------------------------------------------------------

#[tokio::test]
async fn finalize_that_dies_anywhere_writes_the_terminal_status_once() {
    let start = || exec(E::Polling, &[W::Completed, W::Failed, W::Pending]);
    let clean_calls = {
        let run = Dying::new(start(), Crash::never());
        run.w.finalize(3000).await.unwrap();
        run.crash.calls()
    };
    for (k, mode) in modes(clean_calls) {
        let run = Dying::new(start(), Crash::new(k, mode));
        let first = run.w.finalize(3000).await;
        assert!(first.is_err(), "crash at {k} {mode:?} went unnoticed");
        run.crash.recover();
        let again = run.w.finalize(3100).await.unwrap();
        assert_eq!(again.status, E::Failed);
        let r = run.w.record();
        let statuses: Vec<_> = r.waves.iter().map(|w| w.status).collect();
        assert_eq!(
            (r.status(), statuses),
            (E::Failed, vec![W::Completed, W::Failed, W::Cancelled]),
            "crash at {k} {mode:?}"
        );
        let terminal_writes = run.w.commits().iter().filter(|c| matches!(&c.header, Some(HeaderWrite { header, .. }) if header.status.is_terminal())).count();
        assert_eq!(terminal_writes, 1, "crash at {k} {mode:?}");
        trail_matches(&run.w, &format!("crash at {k} {mode:?}"));
        let ends: Vec<_> = run
            .w
            .events()
            .iter()
            .filter_map(|e| e.execution.clone())
            .collect();
        assert_eq!(
            ends.len(),
            1,
            "crash at {k} {mode:?}: one end, one event: {ends:?}"
        );
        assert_eq!(
            again.already_finalized,
            mode == Mode::After && k + 1 == clean_calls
        );
    }
}

// ---- retry and skip --------------------------------------------------------------------------

async fn decide(
    w: &World,
    skipping: bool,
) -> Result<crate::api::DecisionResponse, crate::OperationError> {
    if skipping {
        w.skip(1).await
    } else {
        w.retry(2000, 1).await
    }
}

fn failed_waiting(token: &str) -> Execution {
    let mut e = exec(E::Paused, &[W::Completed, W::Failed, W::Pending]);
    for w in &mut e.waves {
        w.on_failure = Some(crate::model::FailurePolicy::Pause);
    }
    e.waves[1].server_statuses[1].launch_status = crate::status::LaunchStatus::Failed;
    e.header.pause_reason = Some(crate::model::PauseReason::WaveFailed);
    e.header.failed_wave = Some(1);
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse(token).unwrap(),
        release_pending: false,
    });
    e
}

#[tokio::test]
async fn a_retry_or_skip_that_dies_anywhere_is_finished_by_the_next_one_and_taken_once() {
    for skipping in [false, true] {
        let clean_calls = {
            let run = Dying::new(failed_waiting("tok"), Crash::never());
            decide(&run.w, skipping).await.unwrap();
            run.crash.calls()
        };
        for (k, mode) in modes(clean_calls) {
            let context = format!("skip {skipping}: crash at {k} {mode:?}");
            let run = Dying::new(failed_waiting("tok"), Crash::new(k, mode));
            let first = decide(&run.w, skipping).await;
            assert!(first.is_err(), "{context} went unnoticed");
            // The operator got an error and decides again.
            run.crash.recover();
            let again = decide(&run.w, skipping)
                .await
                .unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(again.status, E::Polling, "{context}");
            let r = run.w.record();
            assert_eq!(r.status(), E::Polling, "{context}");
            assert!(
                r.header.task_token.is_none(),
                "{context}: token left behind"
            );
            assert_eq!(run.token(), "SUCCEEDED", "{context}: workflow waits");
            let w = &r.waves[1];
            if skipping {
                assert_eq!(w.status, W::Skipped, "{context}");
            } else {
                assert_eq!(
                    (w.status, w.attempt),
                    (W::Launching, 2),
                    "{context}: one new attempt"
                );
            }
            trail_matches(&run.w, &context);
            let decided: Vec<_> = run
                .w
                .events()
                .iter()
                .filter(|e| e.operation == if skipping { "skip" } else { "retry" })
                .filter(|e| e.execution.is_some())
                .map(|e| e.actor.clone())
                .collect();
            assert_eq!(
                decided,
                vec![crate::audit::Actor::Cli("operator".into())],
                "{context}: one decision, recorded once, as the operator's"
            );
        }
    }
}

// ---- cleanup ---------------------------------------------------------------------------------

/// A COMPLETED drill of 2 + 2 servers, each LAUNCHED with the recovery instance its job launched,
/// and DRS holding those instances; the record never learned the last server's (the execution
/// ended before poll described it): cleanup finds it by its job.
fn finished_drill(fleet: &Fleet) -> Execution {
    let mut e = exec(E::Completed, &[W::Completed, W::Completed]);
    let mut n = 100;
    for wave in &mut e.waves {
        for server in &mut wave.server_statuses {
            n += 1;
            server.launch_status = crate::status::LaunchStatus::Launched;
            let instance = crate::fixtures::instance(n);
            fleet.instances.lock().unwrap().push(RecoveryInstance {
                recovery_instance_id: instance.clone(),
                ec2_instance_id: Some(crate::fixtures::instance(n + 500)),
                source_server_id: server.source_server_id.clone(),
                job_id: server.job_id.clone(),
                is_drill: Some(true),
            });
            if n < 104 {
                server.recovery_instance_id = Some(instance);
                server.instance_id = Some(crate::fixtures::instance(n + 500));
            }
        }
    }
    e
}

/// Every instance was asked for exactly `times` (the TERMINATE jobs that failed, and the one that
/// terminated it), and every server records the last job asked for its instance.
fn terminated_times(r: &Execution, fleet: &Fleet, times: usize, context: &str) {
    let terminations = fleet.terminations.lock().unwrap();
    for server in r.waves.iter().flat_map(|w| &w.server_statuses) {
        let cleanup = server
            .cleanup
            .as_ref()
            .unwrap_or_else(|| panic!("{context}: {} no cleanup", server.source_server_id));
        let instance = &cleanup.recovery_instance_id;
        let asked: Vec<_> = terminations
            .iter()
            .filter(|(_, ids)| ids.contains(instance))
            .map(|(job, _)| job.job_id.clone())
            .collect();
        assert_eq!(asked.len(), times, "{context}: {instance} asked {asked:?}");
        assert_eq!(
            cleanup.job_id.as_ref(),
            asked.last(),
            "{context}: {instance}"
        );
        assert_eq!(
            cleanup.state,
            crate::model::CleanupState::Terminated,
            "{context}"
        );
    }
    let asked: usize = terminations.iter().map(|(_, ids)| ids.len()).sum();
    assert_eq!(asked, 4 * times, "{context}: an instance no server records");
    assert!(fleet.instances.lock().unwrap().is_empty(), "{context}");
}

/// Calls cleanup (a minute apart, from `at`) until it says it is complete.
async fn clean_up_until_complete(
    w: &World,
    mut at: i64,
    context: &str,
) -> crate::api::CleanupResponse {
    for _ in 0..12 {
        let answer = w
            .cleanup(at)
            .await
            .unwrap_or_else(|e| panic!("{context}: {e}"));
        if answer.complete {
            return answer;
        }
        at += 60;
    }
    panic!("{context}: cleanup never completes");
}

#[tokio::test]
async fn cleanup_that_dies_anywhere_terminates_every_instance_once() {
    let clean_calls = {
        let probe = Arc::new(Fleet::default());
        let run = Dying::new(finished_drill(&probe), Crash::never());
        *run.fleet.instances.lock().unwrap() =
            std::mem::take(&mut *probe.instances.lock().unwrap());
        let answer = run.w.cleanup(5000).await.unwrap();
        assert_eq!(answer.requested.len(), 4);
        assert_eq!(
            run.w.commits().len(),
            4,
            "per wave: the marks, then the job"
        );
        let calls = run.crash.calls();
        let last = clean_up_until_complete(&run.w, 5060, "clean run").await;
        assert_eq!(last.terminated.len(), 4);
        terminated_times(&run.w.record(), &run.fleet, 1, "clean run");
        trail_matches(&run.w, "clean run");
        calls
    };
    assert!(
        clean_calls >= 8,
        "load, describe (twice), commit (twice), terminate, commit (twice): {clean_calls}"
    );
    for (k, mode) in modes(clean_calls) {
        let context = format!("crash at {k} {mode:?}");
        let probe = Arc::new(Fleet::default());
        let run = Dying::new(finished_drill(&probe), Crash::new(k, mode));
        *run.fleet.instances.lock().unwrap() =
            std::mem::take(&mut *probe.instances.lock().unwrap());
        assert!(
            run.w.cleanup(5000).await.is_err(),
            "{context} went unnoticed"
        );
        // The workflow (or the operator) calls cleanup again, a minute apart, until complete: a
        // mark the dead call left is in flight for the lease, then settled by its job.
        run.crash.recover();
        let last = clean_up_until_complete(&run.w, 5060, &context).await;
        assert_eq!(last.terminated.len(), 4, "{context}: {last:?}");
        terminated_times(&run.w.record(), &run.fleet, 1, &context);
        trail_matches(&run.w, &context);
    }
}

#[tokio::test]
async fn a_terminate_job_that_ends_without_terminating_is_asked_again() {
    let probe = Arc::new(Fleet::default());
    let run = Dying::new(finished_drill(&probe), Crash::never());
    *run.fleet.instances.lock().unwrap() = std::mem::take(&mut *probe.instances.lock().unwrap());
    run.fleet.failing.store(1, Ordering::SeqCst);
    let first = run.w.cleanup(5000).await.unwrap();
    assert_eq!(
        first.job_ids,
        [drs_job(900, JobStatus::Pending, &[]).job_id]
    );
    let again = run.w.cleanup(5060).await.unwrap();
    assert!(
        again.message.contains("asked for again"),
        "{}",
        again.message
    );
    let last = clean_up_until_complete(&run.w, 5120, "failed job").await;
    assert_eq!(last.terminated.len(), 4);
    terminated_times(&run.w.record(), &run.fleet, 2, "failed job");
    trail_matches(&run.w, "failed job");
}
