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
    ServiceError::Unavailable("the Lambda died here".into())
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
    async fn touch(&self, id: ExecutionId, at: Timestamp) -> Result<(), StoreError> {
        guarded!(
            self.1,
            self.0.touch(id, at).await,
            StoreError::Service(died())
        )
    }
}

/// DRS as a job table that tags jobs and finds them by tag.
#[derive(Default)]
struct Jobs(Mutex<Vec<(DrsJob, ExecutionId, u32)>>);

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
                let job = drs_job(500 + jobs.len(), JobStatus::Pending, &[]);
                jobs.push((job.clone(), req.execution_id, req.wave_number));
                Ok(job)
            },
            died()
        )
    }
    async fn find_tagged_job(
        &self,
        id: ExecutionId,
        wave: u32,
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
                .find(|j| j.1 == id && j.2 == wave)
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
    async fn send_task_failure(
        &self,
        _: &TaskToken,
        _: &str,
        _: &str,
    ) -> Result<(), WorkflowError> {
        unreachable!("nothing here fails a task")
    }
}

/// How many port calls a clean run makes, and a sanity check that it succeeds.
fn modes(calls: usize) -> impl Iterator<Item = (usize, Mode)> {
    (0..calls).flat_map(|k| [(k, Mode::Before), (k, Mode::After)])
}

// ---- launch ----------------------------------------------------------------------------------

/// Drives the execution as the state machine would until wave 0 has a job: LAUNCH → launch,
/// WAIT → 30 s pass.
async fn drive_launch(state: &Shared, jobs: &Jobs, clock: &FixedClock) {
    let store = store(state);
    let ok = Crash::never();
    for _ in 0..20 {
        let r = record(state);
        if r.waves[0].status == W::Started {
            return;
        }
        match next_action(&r, crate::ports::now(clock), &Policy::default()) {
            NextAction::Launch => {
                let _ = launch(
                    &CrashStore(&store, &ok),
                    &CrashDrs(jobs, &ok),
                    clock,
                    &Policy::default(),
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
        drive_launch(&state, &jobs, &clock).await;

        let r = record(&state);
        let jobs = jobs.0.lock().unwrap();
        assert_eq!(
            jobs.len(),
            1,
            "crash at {k} {mode:?}: {} DRS jobs",
            jobs.len()
        );
        assert_eq!(
            r.waves[0].job_id.as_ref(),
            Some(&jobs[0].0.job_id),
            "crash at {k} {mode:?}"
        );
        assert_eq!(
            (r.status(), r.waves[1].status),
            (E::Polling, W::Pending),
            "crash at {k} {mode:?}"
        );
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
