//! act and the runs poll follows: a Lambda invoked once per attempt whatever happens, a runbook
//! started once per attempt (its start sent again with the same client token), failures and the
//! wave's policy, retry of a failed action, and a crash at every port call.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::actions::{ActionKind, ActionOnFailure, ActionStatus, ActionWhen, WaveAction};
use crate::audit::NoticeKind;
use crate::error::{OperationError, Refusal};
use crate::fixtures;
use crate::model::{Execution, FailurePolicy, Timestamp, WaveFailure};
use crate::ops::testing::*;
use crate::ports::*;
use crate::rules::NextAction;
use crate::status::{ExecutionStatus as E, WaveStatus as W};

fn action(
    name: &str,
    when: ActionWhen,
    kind: ActionKind,
    on_failure: ActionOnFailure,
) -> WaveAction {
    WaveAction {
        name: name.into(),
        when,
        kind,
        target: format!("target-{name}"),
        parameters: Some(serde_json::json!({"port": "5432"})),
        timeout_seconds: 300,
        on_failure,
    }
}

/// A fresh execution of two waves of one server; wave 0 has `actions`; failed waves PAUSE.
fn plan_with(actions: Vec<WaveAction>) -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    for w in &mut e.waves {
        w.on_failure = Some(FailurePolicy::Pause);
    }
    e.waves[0].actions = actions;
    e
}

/// What runs inside an invocation.
type Hook = Box<dyn Fn() + Send>;

/// Lambda as a script of answers (the last one repeats), recording every invocation.
#[derive(Clone, Default)]
struct Functions {
    script: Arc<Mutex<VecDeque<Result<InvokeAnswer, ServiceError>>>>,
    calls: Arc<Mutex<Vec<(String, Value)>>>,
    /// The time each invocation was given.
    timeouts: Arc<Mutex<Vec<Duration>>>,
    /// Runs inside each invocation (a store that dies right after it, say).
    during: Arc<Mutex<Option<Hook>>>,
}

impl Functions {
    fn answering(answers: Vec<Result<InvokeAnswer, ServiceError>>) -> Self {
        let f = Self::default();
        *f.script.lock().unwrap() = answers.into();
        f
    }
    fn ok() -> Result<InvokeAnswer, ServiceError> {
        Ok(InvokeAnswer {
            function_error: None,
            payload: br#"{"ok": true, "replicaLagSeconds": 0}"#.to_vec(),
        })
    }
    fn calls(&self) -> Vec<(String, Value)> {
        self.calls.lock().unwrap().clone()
    }
    fn attempts(&self) -> Vec<u64> {
        self.calls()
            .iter()
            .map(|(_, input)| input["action"]["attempt"].as_u64().unwrap())
            .collect()
    }
}

#[async_trait]
impl FunctionInvoker for Functions {
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<InvokeAnswer, ServiceError> {
        self.timeouts.lock().unwrap().push(timeout);
        let input: Value = serde_json::from_slice(payload).expect("act sends JSON");
        self.calls
            .lock()
            .unwrap()
            .push((function.to_owned(), input));
        if let Some(during) = self.during.lock().unwrap().as_ref() {
            during();
        }
        let mut script = self.script.lock().unwrap();
        if script.len() > 1 {
            script.pop_front().unwrap()
        } else {
            script.front().cloned().unwrap_or_else(Self::ok)
        }
    }
}

/// SSM Automation with client-token idempotency: one automation per token.
#[derive(Clone, Default)]
struct Automations {
    by_token: Arc<Mutex<HashMap<String, String>>>,
    status: Arc<Mutex<HashMap<String, String>>>,
    starts: Arc<Mutex<Vec<AutomationRequest>>>,
    stops: Arc<Mutex<Vec<String>>>,
    refuse: Arc<Mutex<VecDeque<ServiceError>>>,
}

impl Automations {
    fn set(&self, id: &str, status: &str) {
        self.status.lock().unwrap().insert(id.into(), status.into());
    }
    fn started(&self) -> usize {
        self.by_token.lock().unwrap().len()
    }
}

#[async_trait]
impl AutomationRunner for Automations {
    async fn start_automation(&self, request: &AutomationRequest) -> Result<String, ServiceError> {
        self.starts.lock().unwrap().push(request.clone());
        if let Some(e) = self.refuse.lock().unwrap().pop_front() {
            return Err(e);
        }
        let mut tokens = self.by_token.lock().unwrap();
        let n = tokens.len();
        let id = tokens
            .entry(request.client_token.clone())
            .or_insert_with(|| format!("auto-{n}"))
            .clone();
        self.status
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_insert_with(|| "InProgress".into());
        Ok(id)
    }
    async fn automation(&self, id: &str) -> Result<Option<AutomationState>, ServiceError> {
        Ok(self
            .status
            .lock()
            .unwrap()
            .get(id)
            .map(|s| AutomationState {
                status: s.clone(),
                failure_message: (s == "Failed").then(|| "Step failed: UpdateRecord".into()),
            }))
    }
    async fn stop_automation(&self, id: &str) -> Result<(), ServiceError> {
        self.stops.lock().unwrap().push(id.into());
        self.set(id, "Cancelled");
        Ok(())
    }
}

/// Wave 0 COMPLETED, its instances described by EC2; wave 1 PENDING; POLLING.
fn wave_0_done() -> Execution {
    let mut e = super::exec(E::Polling, &[W::Completed, W::Pending]);
    for (i, s) in e.waves[0].server_statuses.iter_mut().enumerate() {
        s.recovery_instance_id = Some(fixtures::instance(i));
        s.instance_id = Some(fixtures::instance(i));
        s.instance_state = Some("running".into());
    }
    e
}

/// A fresh execution whose wave 0 checks the database first (a Lambda action).
fn db_check(on_failure: ActionOnFailure) -> Execution {
    plan_with(vec![action(
        "db-check",
        ActionWhen::BeforeLaunch,
        ActionKind::Lambda,
        on_failure,
    )])
}

/// act at `at`, dying right after the function answered (the store is gone from then on: its
/// record is lost); the next Lambda lives.
async fn dies_after_invoking(w: &World, f: &Functions, at: i64) {
    let state = w.state();
    *f.during.lock().unwrap() = Some(Box::new(move || {
        let mut st = state.lock().unwrap();
        for _ in 0..8 {
            st.fail_commits
                .push_back(StoreError::Service(ServiceError::unavailable(
                    "the Lambda died here",
                )));
        }
    }));
    assert!(w.act(at).await.is_err());
    w.state().lock().unwrap().fail_commits.clear();
    *f.during.lock().unwrap() = None;
}

async fn next(w: &World, at: i64) -> NextAction {
    w.poll_summary(at).await.expect("poll").next_action
}

#[tokio::test]
async fn a_before_launch_lambda_runs_once_with_the_wave_then_the_wave_launches() {
    let f = Functions::default();
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    assert_eq!(next(&w, 1000).await, NextAction::Act);
    // launch is refused while the action is due.
    let refused = w.launch(1000).await.unwrap_err();
    assert!(
        matches!(
            refused,
            OperationError::InvalidState(Refusal::LaunchNotDue {
                next_action: "ACT",
                ..
            })
        ),
        "{refused}"
    );

    let r = w.act(1001).await.unwrap();
    assert_eq!(
        (r.action.as_str(), r.action_status, r.attempt),
        ("db-check", ActionStatus::Succeeded, 1)
    );
    assert_eq!(
        r.status,
        E::Polling,
        "the first action moves the execution out of PENDING"
    );
    let calls = f.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].0, "target-db-check");
    assert_eq!(calls[0].1["waveNumber"], 0);
    assert_eq!(calls[0].1["parameters"]["port"], "5432");
    assert_eq!(
        calls[0].1["servers"][0]["sourceServerId"],
        fixtures::server(0).to_string()
    );

    let record = w.record();
    let run = &record.waves[0].action_runs[0];
    assert_eq!(
        (run.status, run.start_time, run.end_time),
        (
            ActionStatus::Succeeded,
            Timestamp(1001),
            Some(Timestamp(1001))
        )
    );
    assert!(run
        .summary
        .as_deref()
        .unwrap()
        .contains("replicaLagSeconds"));
    assert_eq!(record.waves[0].status, W::Pending);
    assert_eq!(next(&w, 1002).await, NextAction::Launch);
    // act again: nothing is due.
    let again = w.act(1003).await.unwrap_err();
    assert!(
        matches!(
            again,
            OperationError::InvalidState(Refusal::ActNotDue {
                next_action: "LAUNCH",
                ..
            })
        ),
        "{again}"
    );
    assert_eq!(f.calls().len(), 1);

    // The trail says so, and the notices carry it.
    let events = w.events();
    let taken = events.iter().find(|e| e.operation == "act").unwrap();
    assert_eq!(taken.waves[0].actions[0].status, ActionStatus::Running);
    let ended = events
        .iter()
        .filter(|e| e.operation == "act")
        .nth(1)
        .unwrap();
    assert_eq!(ended.waves[0].actions[0].status, ActionStatus::Succeeded);
    assert!(ended.notice_kinds().contains(&NoticeKind::ActionStatus));
    assert!(!ended.pages());
}

#[tokio::test]
async fn a_failed_fail_action_fails_the_wave_and_a_retry_runs_it_again_as_attempt_2() {
    let garbage = Ok(InvokeAnswer {
        function_error: None,
        payload: b"\x00\x01<html>oops".to_vec(),
    });
    let f = Functions::answering(vec![garbage, Functions::ok()]);
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    let r = w.act(1000).await.unwrap();
    assert_eq!(
        (r.action_status, r.wave_status),
        (ActionStatus::Failed, W::Failed)
    );
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .starts_with("the function's answer is not JSON"),
        "{r:?}"
    );
    let record = w.record();
    assert_eq!(
        record.waves[0].failure_reason,
        Some(WaveFailure::ActionFailed)
    );
    assert_eq!(record.waves[0].attempt, 0, "never launched");
    assert_eq!(next(&w, 1001).await, NextAction::Pause);
    let failed = w
        .events()
        .into_iter()
        .find(|e| {
            e.waves
                .iter()
                .any(|c| c.status.as_ref().is_some_and(|s| s.to == W::Failed))
        })
        .unwrap();
    assert!(failed.pages());
    assert!(
        failed
            .summary()
            .contains("action db-check (BEFORE_LAUNCH, attempt 1) FAILED"),
        "{}",
        failed.summary()
    );

    let mut wf = crate::ports::mocks::MockWorkflow::new();
    wf.expect_send_task_success().never();
    let mut w = w;
    w.set_workflow(wf);
    let decided = w.retry(1100, 0).await.unwrap();
    assert_eq!(decided.wave_status, W::Pending);
    assert_eq!(
        (decided.action.as_deref(), decided.action_attempt),
        (Some("db-check"), Some(2))
    );
    // The same retry again (a double click) stands and changes nothing.
    assert_eq!(w.retry(1100, 0).await.unwrap().wave_status, W::Pending);
    assert_eq!(next(&w, 1101).await, NextAction::Act);
    let r = w.act(1102).await.unwrap();
    assert_eq!((r.attempt, r.action_status), (2, ActionStatus::Succeeded));
    assert_eq!(f.attempts(), vec![1, 2]);
    assert_eq!(next(&w, 1103).await, NextAction::Launch);
    // Once the action ran again, a retry is a mistake: refused, and nothing re-runs.
    assert!(matches!(
        w.retry(1104, 0).await.unwrap_err(),
        OperationError::InvalidState(Refusal::NoDecisionPending { wave: 0, .. })
    ));
    assert_eq!(f.calls().len(), 2);
}

#[tokio::test]
async fn retries_of_an_action_stop_at_max_wave_attempts() {
    let f = Functions::answering(vec![Ok(InvokeAnswer {
        function_error: Some("Unhandled".into()),
        payload: br#"{"errorMessage": "db unreachable"}"#.to_vec(),
    })]);
    let mut w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    let mut wf = crate::ports::mocks::MockWorkflow::new();
    wf.expect_send_task_success().never();
    w.set_workflow(wf);
    for attempt in 1..=3 {
        let r = w.act(1000 + attempt * 10).await.unwrap();
        assert_eq!(
            (r.attempt, r.action_status),
            (attempt as u32, ActionStatus::Failed)
        );
        assert_eq!(
            r.error.as_deref(),
            Some("function error (Unhandled): db unreachable")
        );
        if attempt < 3 {
            w.retry(1005 + attempt * 10, 0).await.unwrap();
        }
    }
    let refused = w.retry(1100, 0).await.unwrap_err();
    assert!(
        matches!(
            refused,
            OperationError::InvalidState(Refusal::ActionRunsExhausted {
                wave: 0,
                runs: 3,
                max: 3,
                ..
            })
        ),
        "{refused}"
    );
    assert_eq!(f.calls().len(), 3);
}

#[tokio::test]
async fn a_continue_action_that_fails_is_recorded_and_the_wave_goes_on() {
    let f = Functions::answering(vec![Ok(InvokeAnswer {
        function_error: None,
        payload: br#"{"ok": false, "message": "ticket system down"}"#.to_vec(),
    })]);
    let w = World::new(plan_with(vec![action(
        "ticket",
        ActionWhen::BeforeLaunch,
        ActionKind::Lambda,
        ActionOnFailure::Continue,
    )]))
    .with_invoker(f);
    let r = w.act(1000).await.unwrap();
    assert_eq!(
        (r.action_status, r.wave_status),
        (ActionStatus::Failed, W::Pending)
    );
    assert_eq!(next(&w, 1001).await, NextAction::Launch);
    let ended = w.events().into_iter().last().unwrap();
    assert!(
        ended.pages(),
        "a failed action pages even when the plan goes on"
    );
}

#[tokio::test]
async fn a_throttled_invocation_ran_nothing_and_is_sent_again_as_the_same_attempt() {
    let throttled = Err(ServiceError::Throttled {
        retry_after: Some(Duration::from_secs(20)),
        message: "Rate exceeded".into(),
    });
    let f = Functions::answering(vec![throttled, Functions::ok()]);
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    let r = w.act(1000).await.unwrap();
    assert_eq!(
        (r.action_status, r.retry_after_seconds),
        (ActionStatus::Running, Some(20))
    );
    assert_eq!(next(&w, 1010).await, NextAction::Wait);
    assert_eq!(next(&w, 1020).await, NextAction::Act);
    let r = w.act(1020).await.unwrap();
    assert_eq!((r.action_status, r.attempt), (ActionStatus::Succeeded, 1));
    assert_eq!(f.attempts(), vec![1, 1]);
    assert_eq!(w.record().waves[0].action_runs.len(), 1);
}

#[tokio::test]
async fn an_invocation_that_may_have_run_is_never_sent_again() {
    let f = Functions::answering(vec![Err(ServiceError::unavailable("connection reset"))]);
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    let r = w.act(1000).await.unwrap();
    assert_eq!(r.action_status, ActionStatus::Failed);
    assert!(
        r.error.as_deref().unwrap().contains("may have run"),
        "{r:?}"
    );
    assert_eq!(f.calls().len(), 1);
}

#[tokio::test]
async fn a_lambda_whose_invoker_died_after_the_call_is_failed_by_poll_not_run_again() {
    let f = Functions::default();
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    // The store is gone from the moment the function answers: act's record is lost.
    dies_after_invoking(&w, &f, 1000).await;
    assert_eq!(
        w.record().waves[0].action_runs[0].status,
        ActionStatus::Running
    );
    // Within its timeout and the grace: WAIT, never ACT (an invocation is never sent twice).
    for at in [1001, 1300, 1360] {
        assert_eq!(next(&w, at).await, NextAction::Wait, "at {at}");
    }
    assert!(matches!(
        w.act(1360).await.unwrap_err(),
        OperationError::InvalidState(Refusal::ActNotDue { .. })
    ));
    // Past them: poll ends it TIMED_OUT, and the wave fails (its policy: a decision).
    assert_eq!(next(&w, 1361).await, NextAction::Pause);
    let record = w.record();
    let run = &record.waves[0].action_runs[0];
    assert_eq!(run.status, ActionStatus::TimedOut);
    assert!(run.error.as_deref().unwrap().contains("not invoked again"));
    assert_eq!(record.waves[0].status, W::Failed);
    assert_eq!(f.calls().len(), 1);
}

#[tokio::test]
async fn a_runbook_is_started_with_its_token_followed_by_poll_and_ends_with_ssm() {
    let ssm = Automations::default();
    // Wave 0 is done.
    let mut e = wave_0_done();
    e.waves[1].on_failure = Some(FailurePolicy::Pause);
    e.waves[1].actions = vec![action(
        "dns",
        ActionWhen::BeforeLaunch,
        ActionKind::SsmAutomation,
        ActionOnFailure::Fail,
    )];
    let w = World::new(e).with_automation(ssm.clone());
    let r = w.act(2000).await.unwrap();
    assert_eq!(
        (r.action_status, r.automation_execution_id.as_deref()),
        (ActionStatus::Running, Some("auto-0"))
    );
    let sent = ssm.starts.lock().unwrap()[0].clone();
    assert_eq!(sent.document, "target-dns");
    assert_eq!(sent.parameters["port"], vec!["5432"]);
    assert_eq!(
        sent.client_token,
        crate::actions::client_token(&w.record(), 1, "dns", 1)
    );
    assert!(sent
        .tags
        .iter()
        .any(|(k, v)| k == "drs-waves:executionId" && *v == w.record().id().to_string()));
    assert_eq!(next(&w, 2010).await, NextAction::Wait);
    ssm.set("auto-0", "Success");
    assert_eq!(next(&w, 2020).await, NextAction::Launch);
    let run = &w.record().waves[1].action_runs[0];
    assert_eq!(
        (run.status, run.end_time),
        (ActionStatus::Succeeded, Some(Timestamp(2020)))
    );
    assert_eq!(ssm.started(), 1);
}

#[tokio::test]
async fn a_runbook_that_fails_or_runs_too_long_fails_the_wave_and_is_stopped() {
    for (status, at, expect) in [
        ("Failed", 2100, ActionStatus::Failed),
        ("InProgress", 2000 + 301, ActionStatus::TimedOut),
    ] {
        let ssm = Automations::default();
        let mut e = wave_0_done();
        e.waves[1].on_failure = Some(FailurePolicy::Stop);
        e.waves[1].actions = vec![action(
            "dns",
            ActionWhen::BeforeLaunch,
            ActionKind::SsmAutomation,
            ActionOnFailure::Fail,
        )];
        let w = World::new(e).with_automation(ssm.clone());
        w.act(2000).await.unwrap();
        ssm.set("auto-0", status);
        assert_eq!(next(&w, at).await, NextAction::Finalize, "{status}");
        let record = w.record();
        let run = &record.waves[1].action_runs[0];
        assert_eq!(run.status, expect);
        assert_eq!(record.waves[1].status, W::Failed);
        if expect == ActionStatus::TimedOut {
            assert_eq!(*ssm.stops.lock().unwrap(), vec!["auto-0".to_owned()]);
        } else {
            assert!(
                run.error
                    .as_deref()
                    .unwrap()
                    .contains("Step failed: UpdateRecord"),
                "{run:?}"
            );
            assert!(ssm.stops.lock().unwrap().is_empty());
        }
        assert_eq!(w.finalize(at + 1).await.unwrap().status, E::Failed);
    }
}

#[tokio::test]
async fn a_lost_runbook_start_is_sent_again_with_the_same_token_and_starts_nothing_new() {
    let ssm = Automations::default();
    let mut e = wave_0_done();
    e.waves[1].actions = vec![action(
        "dns",
        ActionWhen::BeforeLaunch,
        ActionKind::SsmAutomation,
        ActionOnFailure::Fail,
    )];
    e.waves[1].actions[0].parameters = Some(serde_json::json!({"Wave": "${waveName}"}));
    let w = World::new(e).with_automation(ssm.clone());
    // SSM started it, and act's answer was lost (a dead act): no id recorded.
    ssm.refuse
        .lock()
        .unwrap()
        .push_back(ServiceError::unavailable("read timeout"));
    let r = w.act(2000).await.unwrap();
    assert_eq!(
        (r.action_status, r.automation_execution_id.clone()),
        (ActionStatus::Running, None)
    );
    assert!(r.retry_after_seconds.is_some());
    // What the parameters are made of changes before the start is sent again.
    w.edit(|e| e.waves[1].wave_name = Some("renamed".into()));
    // Sent again after the backoff, with the same token and parameters: the automation SSM knows.
    let due = 2000 + i64::try_from(r.retry_after_seconds.unwrap()).unwrap();
    assert_eq!(next(&w, due - 1).await, NextAction::Wait);
    assert_eq!(next(&w, due).await, NextAction::Act);
    let r = w.act(due).await.unwrap();
    assert_eq!(
        (r.attempt, r.automation_execution_id.as_deref()),
        (1, Some("auto-0"))
    );
    let starts = ssm.starts.lock().unwrap().clone();
    assert_eq!(starts[0].parameters["Wave"], vec!["wave 1"]);
    assert_eq!(
        starts[0].parameters, starts[1].parameters,
        "SSM refuses a token with other parameters"
    );
    assert_eq!(
        w.record().waves[1].action_runs[0].sent_parameters,
        None,
        "kept only until SSM answers"
    );
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0].client_token, starts[1].client_token);
    assert_eq!(ssm.started(), 1);
}

#[tokio::test]
async fn a_cancel_does_not_send_a_doubtful_runbook_start_again() {
    let ssm = Automations::default();
    let mut e = wave_0_done();
    e.waves[1].actions = vec![action(
        "dns",
        ActionWhen::BeforeLaunch,
        ActionKind::SsmAutomation,
        ActionOnFailure::Fail,
    )];
    let w = World::new(e)
        .with_automation(ssm.clone())
        .with_workflow(crate::ports::mocks::MockWorkflow::new());
    ssm.refuse
        .lock()
        .unwrap()
        .push_back(ServiceError::unavailable("read timeout"));
    w.act(2000).await.unwrap();
    w.cancel().await.unwrap();
    assert_eq!(
        next(&w, 2005).await,
        NextAction::Wait,
        "the run holds finalize off"
    );
    assert_eq!(next(&w, 2100).await, NextAction::Act);
    let r = w.act(2100).await.unwrap();
    assert_eq!(r.action_status, ActionStatus::Failed);
    assert!(
        r.error.as_deref().unwrap().contains("client token"),
        "{r:?}"
    );
    assert_eq!(ssm.starts.lock().unwrap().len(), 1);
    assert_eq!(next(&w, 2101).await, NextAction::Finalize);
    assert_eq!(w.finalize(2102).await.unwrap().status, E::Cancelled);
}

#[tokio::test]
async fn a_pause_or_cancel_decided_before_acts_claim_wins() {
    let f = Functions::default();
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    w.race(|e| {
        e.header.status = E::Cancelling;
        e.header.version += 1;
    });
    let refused = w.act(1000).await.unwrap_err();
    assert!(
        matches!(
            refused,
            OperationError::InvalidState(Refusal::ActNotDue { .. })
        ),
        "{refused}"
    );
    assert!(f.calls().is_empty());
}

#[tokio::test]
async fn act_without_its_client_refuses_before_taking_anything() {
    let w = World::new(db_check(ActionOnFailure::Fail));
    assert!(matches!(
        w.act(1000).await.unwrap_err(),
        OperationError::Internal(_)
    ));
    assert!(w.record().waves[0].action_runs.is_empty());
}

/// A store that dies at its k-th call (before or after it takes effect), with every later call
/// failing too, until the next Lambda (the test recovers it).
struct DyingStore {
    inner: Box<dyn ExecutionStore>,
    calls: Arc<Mutex<usize>>,
    die_at: Arc<Mutex<Option<(usize, bool)>>>,
    dead: Arc<Mutex<bool>>,
}

impl DyingStore {
    fn gate(&self, after: bool) -> bool {
        if *self.dead.lock().unwrap() {
            return false;
        }
        let n = *self.calls.lock().unwrap();
        if *self.die_at.lock().unwrap() == Some((n, after)) {
            *self.dead.lock().unwrap() = true;
            return false;
        }
        true
    }
}

fn died() -> StoreError {
    StoreError::Service(ServiceError::unavailable("the Lambda died here"))
}

#[async_trait]
impl ExecutionStore for DyingStore {
    async fn load(&self, id: crate::ids::ExecutionId) -> Result<Option<Execution>, StoreError> {
        self.inner.load(id).await
    }
    async fn create(
        &self,
        e: &Execution,
        events: &[crate::audit::AuditEvent],
    ) -> Result<(), StoreError> {
        self.inner.create(e, events).await
    }
    async fn list_active(&self, c: Option<String>) -> Result<ActivePage, StoreError> {
        self.inner.list_active(c).await
    }
    async fn commit(&self, c: &Commit) -> Result<(), StoreError> {
        if !self.gate(false) {
            return Err(died());
        }
        let out = self.inner.commit(c).await;
        let ok = self.gate(true);
        *self.calls.lock().unwrap() += 1;
        if !ok {
            return Err(died());
        }
        out
    }
    async fn events(
        &self,
        id: crate::ids::ExecutionId,
        c: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.inner.events(id, c).await
    }
    async fn touch(&self, id: crate::ids::ExecutionId, t: &Touch) -> Result<(), StoreError> {
        self.inner.touch(id, t).await
    }
}

/// act dies at each of its commits in turn (the claim, the record), before or after it lands;
/// then the workflow goes on polling and acting. The action runs at most once for its attempt
/// (a Lambda), or starts one automation (a runbook), and the execution always moves on.
#[tokio::test]
async fn a_crash_at_every_commit_never_runs_an_action_twice_for_one_attempt() {
    for kind in [ActionKind::Lambda, ActionKind::SsmAutomation] {
        for die_at in 0..2usize {
            for after in [false, true] {
                let f = Functions::default();
                let ssm = Automations::default();
                let calls = Arc::new(Mutex::new(0));
                let die = Arc::new(Mutex::new(Some((die_at, after))));
                let dead = Arc::new(Mutex::new(false));
                let (c, d, x) = (calls.clone(), die.clone(), dead.clone());
                let w = World::new(plan_with(vec![action(
                    "step",
                    ActionWhen::BeforeLaunch,
                    kind,
                    ActionOnFailure::Fail,
                )]))
                .with_invoker(f.clone())
                .with_automation(ssm.clone())
                .with_store(move |inner| DyingStore {
                    inner,
                    calls: c,
                    die_at: d,
                    dead: x,
                });
                let case = format!(
                    "{kind:?} dying at commit {die_at} {}",
                    if after { "after" } else { "before" }
                );
                let _ = w.act(1000).await;
                // The next Lambda lives.
                *die.lock().unwrap() = None;
                *dead.lock().unwrap() = false;
                let mut at = 1001;
                let outcome = loop {
                    assert!(at < 5000, "{case}: stuck");
                    match next(&w, at).await {
                        NextAction::Act => {
                            w.act(at).await.unwrap_or_else(|e| panic!("{case}: {e}"));
                            // Every runbook started ends at once.
                            let ids: Vec<String> =
                                ssm.status.lock().unwrap().keys().cloned().collect();
                            for id in ids {
                                ssm.set(&id, "Success");
                            }
                        }
                        NextAction::Wait => at += 30,
                        other => break other,
                    }
                };
                let runs = w.record().waves[0].action_runs.clone();
                match kind {
                    ActionKind::Lambda => {
                        assert!(
                            f.calls().len() <= 1,
                            "{case}: invoked {} times",
                            f.calls().len()
                        );
                        // Invoked and its answer lost (or taken and never sent): failed after
                        // its time (a decision), never invoked again.
                        match runs.last().map(|r| r.status) {
                            Some(ActionStatus::Succeeded) => {
                                assert_eq!(outcome, NextAction::Launch, "{case}")
                            }
                            Some(ActionStatus::TimedOut) => {
                                assert_eq!(outcome, NextAction::Pause, "{case}")
                            }
                            other => panic!("{case}: {other:?}"),
                        }
                        if die_at == 0 && !after {
                            // Nothing was taken: a clean run.
                            assert_eq!(
                                (f.calls().len(), runs[0].status),
                                (1, ActionStatus::Succeeded),
                                "{case}"
                            );
                        }
                    }
                    ActionKind::SsmAutomation => {
                        assert_eq!(ssm.started(), 1, "{case}");
                        assert_eq!(runs.len(), 1, "{case}");
                        assert_eq!(
                            runs[0].automation_execution_id.as_deref(),
                            Some("auto-0"),
                            "{case}"
                        );
                    }
                }
                assert_eq!(
                    runs.iter().filter(|r| r.attempt == 1).count(),
                    1,
                    "{case}: one run of attempt 1"
                );
            }
        }
    }
}

#[tokio::test]
async fn an_after_complete_failure_is_retried_on_the_completed_wave_or_skipped() {
    for skip in [false, true] {
        let f = Functions::answering(vec![
            Ok(InvokeAnswer {
                function_error: None,
                payload: br#"{"ok": false, "error": "Route 53 throttled"}"#.to_vec(),
            }),
            Functions::ok(),
        ]);
        let mut e = wave_0_done();
        e.waves[0].on_failure = Some(FailurePolicy::Pause);
        e.waves[0].end_time = Some(Timestamp(1500));
        e.waves[0].actions = vec![action(
            "dns",
            ActionWhen::AfterComplete,
            ActionKind::Lambda,
            ActionOnFailure::Fail,
        )];
        let mut wf = crate::ports::mocks::MockWorkflow::new();
        wf.expect_send_task_success().never();
        let w = World::new(e).with_invoker(f.clone()).with_workflow(wf);
        assert_eq!(next(&w, 2000).await, NextAction::Act);
        let r = w.act(2000).await.unwrap();
        assert_eq!(
            (r.action_status, r.wave_status),
            (ActionStatus::Failed, W::Failed)
        );
        let failed = w.record();
        assert_eq!(
            failed.waves[0].end_time,
            Some(Timestamp(1500)),
            "its servers settled when they did"
        );
        assert_eq!(next(&w, 2001).await, NextAction::Pause);
        if skip {
            assert_eq!(w.skip(0).await.unwrap().wave_status, W::Skipped);
            assert_eq!(next(&w, 2002).await, NextAction::Launch);
            assert_eq!(f.calls().len(), 1);
            continue;
        }
        let decided = w.retry(2002, 0).await.unwrap();
        assert_eq!(decided.wave_status, W::Completed);
        assert_eq!(
            (decided.action.as_deref(), decided.action_attempt),
            (Some("dns"), Some(2))
        );
        assert_eq!(
            decided.attempt, 1,
            "no new launch attempt: its servers keep their instances"
        );
        let record = w.record();
        assert_eq!(record.waves[0].failure_reason, None);
        assert_eq!(record.waves[0].jobs.len(), 1);
        assert_eq!(next(&w, 2003).await, NextAction::Act);
        let r = w.act(2003).await.unwrap();
        assert_eq!((r.attempt, r.action_status), (2, ActionStatus::Succeeded));
        assert_eq!(next(&w, 2004).await, NextAction::Launch);
        assert_eq!(f.attempts(), vec![1, 2]);
    }
}

fn throttled() -> Result<InvokeAnswer, ServiceError> {
    Err(ServiceError::Throttled {
        retry_after: Some(Duration::from_secs(100)),
        message: "Rate exceeded".into(),
    })
}

#[tokio::test]
async fn a_run_sent_again_gets_what_is_left_of_its_time_never_more() {
    let f = Functions::answering(vec![throttled(), throttled(), Functions::ok()]);
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    w.act(1000).await.unwrap();
    w.act(1100).await.unwrap();
    let r = w.act(1250).await.unwrap();
    assert_eq!(r.action_status, ActionStatus::Succeeded);
    let timeouts: Vec<u64> = f
        .timeouts
        .lock()
        .unwrap()
        .iter()
        .map(Duration::as_secs)
        .collect();
    assert_eq!(
        timeouts,
        vec![300, 200, 50],
        "the timeout runs from the first take"
    );

    // Throttled past the whole timeout: timed out without an invocation.
    let f = Functions::answering(vec![throttled(), throttled(), throttled(), throttled()]);
    let w = World::new(db_check(ActionOnFailure::Continue)).with_invoker(f.clone());
    w.act(1000).await.unwrap();
    w.act(1100).await.unwrap();
    w.act(1200).await.unwrap();
    let r = w.act(1300).await.unwrap();
    assert_eq!(r.action_status, ActionStatus::TimedOut);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("not invoked within 300 s"),
        "{r:?}"
    );
    assert_eq!(f.calls().len(), 3);
}

#[tokio::test]
async fn an_operators_pause_holds_a_run_that_waits_to_be_sent_again() {
    let f = Functions::answering(vec![throttled(), Functions::ok()]);
    let w = World::new(db_check(ActionOnFailure::Fail))
        .with_invoker(f.clone())
        .with_workflow(crate::ports::mocks::MockWorkflow::new());
    w.act(1000).await.unwrap();
    w.pause().await.unwrap();
    // Its backoff is over, but the pause stands: the workflow parks, nothing is invoked.
    assert_eq!(next(&w, 1200).await, NextAction::Pause);
    assert!(matches!(
        w.act(1200).await.unwrap_err(),
        OperationError::InvalidState(Refusal::ActNotDue { .. })
    ));
    assert_eq!(f.calls().len(), 1);
    w.resume().await.unwrap();
    assert_eq!(next(&w, 1210).await, NextAction::Act);
    let r = w.act(1210).await.unwrap();
    assert_eq!((r.attempt, r.action_status), (1, ActionStatus::Succeeded));
    assert_eq!(next(&w, 1211).await, NextAction::Launch);
}

#[tokio::test]
async fn a_before_launch_failure_under_an_operators_pause_hands_the_pause_to_the_decision() {
    let f = Functions::answering(vec![Ok(InvokeAnswer {
        function_error: None,
        payload: br#"{"ok": false}"#.to_vec(),
    })]);
    let w = World::new(db_check(ActionOnFailure::Fail))
        .with_invoker(f.clone())
        .with_workflow(crate::ports::mocks::MockWorkflow::new());
    // The operator pauses while the check runs (the pause races act's record).
    let state = w.state();
    *f.during.lock().unwrap() = Some(Box::new(move || {
        let mut st = state.lock().unwrap();
        let e = st.record.as_mut().unwrap();
        e.header.status = E::Paused;
        e.header.pause_reason = Some(crate::model::PauseReason::Operator);
        e.header.paused_before_wave = Some(0);
        e.header.version += 1;
    }));
    let r = w.act(1000).await.unwrap();
    assert_eq!(r.wave_status, W::Failed);
    // The record is one the rules allow (checked by World), and the failed wave's decision comes
    // first when the workflow parks again.
    assert_eq!(next(&w, 1001).await, NextAction::Pause);
    assert_eq!(
        crate::rules::pause_due(&w.record()).map(|p| p.reason),
        Some(crate::model::PauseReason::WaveFailed)
    );
}

#[tokio::test]
async fn a_cancel_before_the_last_waves_after_actions_ran_ends_cancelled() {
    let f = Functions::default();
    let mut e = wave_0_done();
    e.waves.truncate(1);
    e.waves[0].actions = vec![action(
        "dns",
        ActionWhen::AfterComplete,
        ActionKind::Lambda,
        ActionOnFailure::Fail,
    )];
    let w = World::new(e)
        .with_invoker(f.clone())
        .with_workflow(crate::ports::mocks::MockWorkflow::new());
    assert_eq!(next(&w, 2000).await, NextAction::Act);
    w.cancel().await.unwrap();
    assert_eq!(next(&w, 2001).await, NextAction::Finalize);
    assert_eq!(w.finalize(2002).await.unwrap().status, E::Cancelled);
    assert!(f.calls().is_empty());
}

#[tokio::test]
async fn a_lambda_run_cut_short_by_a_cancel_does_not_fail_its_wave() {
    let f = Functions::default();
    let w = World::new(db_check(ActionOnFailure::Fail))
        .with_invoker(f.clone())
        .with_workflow(crate::ports::mocks::MockWorkflow::new());
    // act dies after invoking; then the operator cancels.
    dies_after_invoking(&w, &f, 1000).await;
    w.cancel().await.unwrap();
    assert_eq!(
        next(&w, 1100).await,
        NextAction::Wait,
        "the run holds finalize off"
    );
    assert_eq!(next(&w, 1361).await, NextAction::Finalize);
    let record = w.record();
    assert_eq!(record.waves[0].action_runs[0].status, ActionStatus::Failed);
    assert_eq!(record.waves[0].status, W::Pending);
    assert_eq!(w.finalize(1362).await.unwrap().status, E::Cancelled);
}

#[tokio::test]
async fn refusals_without_a_hint_back_off_longer_each_time() {
    let no_hint = || {
        Err(ServiceError::Throttled {
            retry_after: None,
            message: "Rate exceeded".into(),
        })
    };
    let f = Functions::answering(vec![no_hint(), no_hint(), no_hint(), Functions::ok()]);
    let w = World::new(db_check(ActionOnFailure::Fail)).with_invoker(f.clone());
    let mut at = 1000;
    let mut waits = Vec::new();
    for _ in 0..3 {
        let r = w.act(at).await.unwrap();
        let wait = r.retry_after_seconds.unwrap();
        waits.push(wait);
        at += i64::try_from(wait).unwrap();
    }
    assert_eq!(waits, vec![10, 20, 40]);
    assert_eq!(w.record().waves[0].action_runs[0].refusals, 3);
    assert_eq!(
        w.act(at).await.unwrap().action_status,
        ActionStatus::Succeeded
    );
    assert_eq!(
        w.record().waves[0].action_runs[0].refusals,
        0,
        "counted while in a row"
    );
}
