//! Crashes: a run of launch, resume or finalize dies at each port call in turn (before or after
//! the call takes effect; every later call fails too, as in a dead Lambda), then is retried the
//! way the workflow or an operator would. The outcome must equal the run that did not crash.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use super::exec;
use crate::fixtures::drs_job;
use crate::ids::{ExecutionId, JobId, SourceServerId, TaskToken};
use crate::model::{Execution, HeldToken, Timestamp};
use crate::ops::testing::*;
use crate::ops::{finalize, launch, resume};
use crate::ports::mocks::FixedClock;
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
    at: usize,
    mode: Mode,
    dead: AtomicBool,
}

impl Crash {
    fn new(at: usize, mode: Mode) -> Self {
        Self {
            calls: AtomicUsize::new(0),
            at,
            mode,
            dead: AtomicBool::new(false),
        }
    }
    fn never() -> Self {
        Self::new(usize::MAX, Mode::Before)
    }
    /// Whether the call about to happen may take effect.
    fn before(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        if n == self.at && self.mode == Mode::Before {
            self.dead.store(true, Ordering::SeqCst);
        }
        !self.dead.load(Ordering::SeqCst)
    }
    /// Whether the run survives the call that just happened.
    fn after(&self) -> bool {
        if self.calls.load(Ordering::SeqCst) - 1 == self.at && self.mode == Mode::After {
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

struct CrashStore<'a>(&'a dyn ExecutionStore, &'a Crash);
#[async_trait]
impl ExecutionStore for CrashStore<'_> {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        guarded!(self.1, self.0.load(id).await, StoreError::Service(died()))
    }
    async fn create(&self, e: &Execution) -> Result<(), StoreError> {
        guarded!(self.1, self.0.create(e).await, StoreError::Service(died()))
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

struct CrashDrs<'a>(&'a Jobs, &'a Crash);
#[async_trait]
impl Drs for CrashDrs<'_> {
    async fn describe_jobs(&self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError> {
        guarded!(
            self.1,
            Ok(self
                .0
                 .0
                .lock()
                .unwrap()
                .iter()
                .filter(|j| ids.contains(&j.0.job_id))
                .map(|j| j.0.clone())
                .collect()),
            died()
        )
    }
    async fn describe_recovery_instances(
        &self,
        _: &[SourceServerId],
    ) -> Result<Vec<RecoveryInstance>, ServiceError> {
        guarded!(self.1, Ok(vec![]), died())
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

struct CrashWorkflow<'a>(&'a Tokens, &'a Crash);
#[async_trait]
impl Workflow for CrashWorkflow<'_> {
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

// ---- launch ----------------------------------------------------------------------------------

/// Drives the execution as the state machine would until wave 0 has a job: LAUNCH → launch,
/// WAIT → 30 s pass.
async fn drive_launch(state: &Shared, jobs: &Jobs, clock: &FixedClock, policy: &Policy) {
    let store = store(state);
    let ok = Crash::never();
    for _ in 0..20 {
        let r = record(state);
        if r.waves[0].status == W::Started {
            return;
        }
        match next_action(&r, crate::ports::now(clock), policy) {
            NextAction::Launch => {
                let _ = launch(
                    &CrashStore(&store, &ok),
                    &CrashDrs(jobs, &ok),
                    clock,
                    policy,
                    &target(),
                )
                .await;
            }
            NextAction::Wait => clock.advance_secs(30),
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
    let clean_calls = {
        let (state, jobs, crash) = (
            shared(exec(E::Pending, &[W::Pending, W::Pending])),
            Jobs::default(),
            Crash::never(),
        );
        launch(
            &CrashStore(&store(&state), &crash),
            &CrashDrs(&jobs, &crash),
            &clock(2000),
            &Policy::default(),
            &target(),
        )
        .await
        .unwrap();
        crash.calls.load(Ordering::SeqCst)
    };
    assert!(
        clean_calls >= 4,
        "load, claim, StartRecovery, record...: {clean_calls}"
    );
    for (k, mode) in modes(clean_calls) {
        let (state, jobs, crash, clock) = (
            shared(exec(E::Pending, &[W::Pending, W::Pending])),
            Jobs::default(),
            Crash::new(k, mode),
            FixedClock::at_secs(2000),
        );
        let first = launch(
            &CrashStore(&store(&state), &crash),
            &CrashDrs(&jobs, &crash),
            &clock,
            &Policy::default(),
            &target(),
        )
        .await;
        assert!(first.is_err(), "crash at {k} {mode:?} went unnoticed");
        drive_launch(&state, &jobs, &clock, &Policy::default()).await;

        let r = record(&state);
        assert_eq!(jobs.0.lock().unwrap().len(), 1, "crash at {k} {mode:?}");
        one_job_per_server(&r, &jobs, &format!("crash at {k} {mode:?}"));
        assert_eq!(
            (r.status(), r.waves[1].status),
            (E::Polling, W::Pending),
            "crash at {k} {mode:?}"
        );
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
        let clean_calls = {
            let (state, jobs, crash) = (shared(start.clone()), Jobs::default(), Crash::never());
            let answer = launch(
                &CrashStore(&store(&state), &crash),
                &CrashDrs(&jobs, &crash),
                &clock(2000),
                &policy,
                &target(),
            )
            .await
            .unwrap();
            assert_eq!(answer.job_ids.len(), parts, "{name}");
            crash.calls.load(Ordering::SeqCst)
        };
        for (k, mode) in modes(clean_calls) {
            let (state, jobs, crash, clock) = (
                shared(start.clone()),
                Jobs::default(),
                Crash::new(k, mode),
                FixedClock::at_secs(2000),
            );
            let first = launch(
                &CrashStore(&store(&state), &crash),
                &CrashDrs(&jobs, &crash),
                &clock,
                &policy,
                &target(),
            )
            .await;
            assert!(
                first.is_err(),
                "{name}: crash at {k} {mode:?} went unnoticed"
            );
            drive_launch(&state, &jobs, &clock, &policy).await;
            let r = record(&state);
            let context = format!("{name}: crash at {k} {mode:?}");
            assert_eq!(jobs.0.lock().unwrap().len(), parts, "{context}");
            one_job_per_server(&r, &jobs, &context);
            assert!(r.waves[0].server_statuses[0].job_id.is_some(), "{context}");
            assert_eq!(r.waves[0].servers_without_job().count(), 0, "{context}");
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
    let tokens = || Tokens(Mutex::new(HashMap::from([("tok".to_owned(), "WAITING")])));
    let clean_calls = {
        let (state, t, crash) = (shared(paused_with("tok")), tokens(), Crash::never());
        resume(
            &CrashStore(&store(&state), &crash),
            &CrashWorkflow(&t, &crash),
            &target(),
        )
        .await
        .unwrap();
        crash.calls.load(Ordering::SeqCst)
    };
    for (k, mode) in modes(clean_calls) {
        let (state, t, crash) = (shared(paused_with("tok")), tokens(), Crash::new(k, mode));
        let first = resume(
            &CrashStore(&store(&state), &crash),
            &CrashWorkflow(&t, &crash),
            &target(),
        )
        .await;
        assert!(first.is_err(), "crash at {k} {mode:?} went unnoticed");
        // Right after the crash: never PAUSED in DynamoDB while the workflow already runs.
        let r = record(&state);
        let released = t.0.lock().unwrap()["tok"] == "SUCCEEDED";
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
        let ok = Crash::never();
        match resume(
            &CrashStore(&store(&state), &ok),
            &CrashWorkflow(&t, &ok),
            &target(),
        )
        .await
        {
            Ok(again) => assert_eq!(again.status, E::Polling, "crash at {k} {mode:?}"),
            // The first run had finished everything before it died.
            Err(e) => assert!(
                e.code() == "INVALID_STATE" && e.to_string().contains("POLLING"),
                "crash at {k} {mode:?}: {e}"
            ),
        }
        let r = record(&state);
        assert_eq!(r.status(), E::Polling);
        assert!(
            r.header.task_token.is_none(),
            "crash at {k} {mode:?}: token left behind"
        );
        assert!(r.waves[1].pause_approved, "crash at {k} {mode:?}");
        assert_eq!(
            t.0.lock().unwrap()["tok"],
            "SUCCEEDED",
            "crash at {k} {mode:?}: the workflow still waits"
        );
    }
}

// ---- finalize --------------------------------------------------------------------------------

#[tokio::test]
async fn finalize_that_dies_anywhere_writes_the_terminal_status_once() {
    let start = || exec(E::Polling, &[W::Completed, W::Failed, W::Pending]);
    let clean_calls = {
        let (state, crash) = (shared(start()), Crash::never());
        finalize(&CrashStore(&store(&state), &crash), &clock(3000), &target())
            .await
            .unwrap();
        crash.calls.load(Ordering::SeqCst)
    };
    for (k, mode) in modes(clean_calls) {
        let (state, crash) = (shared(start()), Crash::new(k, mode));
        let first = finalize(&CrashStore(&store(&state), &crash), &clock(3000), &target()).await;
        assert!(first.is_err(), "crash at {k} {mode:?} went unnoticed");
        let ok = Crash::never();
        let again = finalize(&CrashStore(&store(&state), &ok), &clock(3100), &target())
            .await
            .unwrap();
        assert_eq!(again.status, E::Failed);
        let r = record(&state);
        let statuses: Vec<_> = r.waves.iter().map(|w| w.status).collect();
        assert_eq!(
            (r.status(), statuses),
            (E::Failed, vec![W::Completed, W::Failed, W::Cancelled]),
            "crash at {k} {mode:?}"
        );
        let terminal_writes = state.lock().unwrap().commits.iter().filter(|c| matches!(&c.header, Some(HeaderWrite::Put { header, .. }) if header.status.is_terminal())).count();
        assert_eq!(terminal_writes, 1, "crash at {k} {mode:?}");
        assert_eq!(
            again.already_finalized,
            mode == Mode::After && k + 1 == clean_calls
        );
    }
}

// ---- retry and skip --------------------------------------------------------------------------

async fn decide(
    skipping: bool,
    store: &dyn ExecutionStore,
    wf: &dyn Workflow,
    target: &crate::api::WaveTarget,
) -> Result<crate::api::DecisionResponse, crate::OperationError> {
    if skipping {
        crate::ops::skip(store, wf, target).await
    } else {
        crate::ops::retry(store, wf, &clock(2000), &Policy::default(), target).await
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
    let tokens = || Tokens(Mutex::new(HashMap::from([("tok".to_owned(), "WAITING")])));
    let target = crate::api::WaveTarget {
        target: target(),
        wave_number: 1,
    };
    for skipping in [false, true] {
        let clean_calls = {
            let (state, t, crash) = (shared(failed_waiting("tok")), tokens(), Crash::never());
            decide(
                skipping,
                &CrashStore(&store(&state), &crash),
                &CrashWorkflow(&t, &crash),
                &target,
            )
            .await
            .unwrap();
            crash.calls.load(Ordering::SeqCst)
        };
        for (k, mode) in modes(clean_calls) {
            let context = format!("skip {skipping}: crash at {k} {mode:?}");
            let (state, t, crash) = (shared(failed_waiting("tok")), tokens(), Crash::new(k, mode));
            let first = decide(
                skipping,
                &CrashStore(&store(&state), &crash),
                &CrashWorkflow(&t, &crash),
                &target,
            )
            .await;
            assert!(first.is_err(), "{context} went unnoticed");
            // The operator got an error and decides again.
            let ok = Crash::never();
            let again = decide(
                skipping,
                &CrashStore(&store(&state), &ok),
                &CrashWorkflow(&t, &ok),
                &target,
            )
            .await
            .unwrap_or_else(|e| panic!("{context}: {e}"));
            assert_eq!(again.status, E::Polling, "{context}");
            let r = record(&state);
            assert_eq!(r.status(), E::Polling, "{context}");
            assert!(
                r.header.task_token.is_none(),
                "{context}: token left behind"
            );
            assert_eq!(
                t.0.lock().unwrap()["tok"],
                "SUCCEEDED",
                "{context}: workflow waits"
            );
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
        }
    }
}
