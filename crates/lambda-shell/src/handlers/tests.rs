//! The one handler in-process over mocked ports, for every function: its event shapes, its
//! malformed events, its logs.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use drs_sim::MemoryStore;
use execution_core::actions::{
    ActionKind, ActionOnFailure, ActionRun, ActionStatus, ActionWhen, WaveAction,
};
use execution_core::api::{Operation, WorkflowInput};
use execution_core::audit::Actor;
use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ids::{ExecutionId, TaskToken};
use execution_core::model::{Execution, FailurePolicy, HeldToken, PauseReason, Timestamp};
use execution_core::ops::{FindConfig, Ports};
use execution_core::ports::mocks::{
    FixedClock, MockAutomation, MockDispatch, MockDrs, MockEc2, MockInvoker, MockLocks, MockStore,
    MockWorkflow,
};
use execution_core::ports::{
    ActivePage, AutomationState, ExecutionStore, HeaderWrite, InvokeAnswer, ServerLocks,
    ServiceError, WorkflowError,
};
use execution_core::rules::Policy;
use execution_core::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};
use serde_json::{json, Value};

use super::*;
use crate::event::tests::{
    drs_sample_event, http_event, http_request, launch_result, rest_event, rest_request,
    scheduled_event, signed, CALLER, OTHER_ID,
};
use crate::event::{Route, API_OPERATIONS, API_ROUTES};

const NOW: i64 = 2_000;
const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAfake+task/token==";

/// The functions deployed, and so the operations [`serve`] is run for: one per operation.
const FUNCTIONS: [Operation; 16] = Operation::ALL;

fn clock() -> FixedClock {
    FixedClock::at_secs(NOW)
}

fn config() -> FindConfig {
    FindConfig {
        concurrency: 4,
        deadline_millis: NOW * 1000 + 60_000,
        poll_budget_millis: 1_000,
    }
}

/// Where a store's server holds live: the store itself when it keeps them (as the DynamoDB store
/// does, and start's main wires it), else `None` and the clients' [`MockLocks`] stand in.
trait HoldsOf {
    fn own_locks(&self) -> Option<&dyn ServerLocks>;
}

impl HoldsOf for MockStore {
    fn own_locks(&self) -> Option<&dyn ServerLocks> {
        None
    }
}

impl HoldsOf for MemoryStore {
    fn own_locks(&self) -> Option<&dyn ServerLocks> {
        Some(self)
    }
}

/// A function's clients, each refusing every call unless the test says otherwise (the store may
/// be a [`MemoryStore`] instead, for tests that read back what was written).
struct Clients<S = MockStore> {
    store: S,
    locks: MockLocks,
    drs: MockDrs,
    ec2: MockEc2,
    dispatch: MockDispatch,
    workflow: MockWorkflow,
    invoker: MockInvoker,
    automation: MockAutomation,
    clock: FixedClock,
    policy: Policy,
    config: FindConfig,
}

impl Clients {
    fn untouched() -> Self {
        Self::new(MockStore::new())
    }
}

impl<S: ExecutionStore + HoldsOf> Clients<S> {
    fn new(store: S) -> Self {
        Self {
            store,
            locks: MockLocks::new(),
            drs: MockDrs::new(),
            ec2: MockEc2::new(),
            dispatch: MockDispatch::new(),
            workflow: MockWorkflow::new(),
            invoker: MockInvoker::new(),
            automation: MockAutomation::new(),
            clock: clock(),
            policy: Policy::default(),
            config: config(),
        }
    }

    fn with_drs(self, drs: MockDrs) -> Self {
        Self { drs, ..self }
    }

    fn with_ec2(self, ec2: MockEc2) -> Self {
        Self { ec2, ..self }
    }

    fn with_workflow(self, workflow: MockWorkflow) -> Self {
        Self { workflow, ..self }
    }

    fn with_invoker(self, invoker: MockInvoker) -> Self {
        Self { invoker, ..self }
    }

    fn with_automation(self, automation: MockAutomation) -> Self {
        Self { automation, ..self }
    }

    /// The ports the Lambda function that serves `op` is built with (`lambdas/<op>/src/main.rs`):
    /// only the clients its operation uses.
    fn ports(&self, op: Operation) -> Ports<'_> {
        let ports = Ports::new(&self.store, &self.clock, &self.policy);
        match op {
            Operation::Find => ports.with_find(&self.dispatch, &self.config),
            // advance polls, then launches: poll's clients (launch's DRS among them).
            Operation::Poll | Operation::Advance => ports
                .with_drs(&self.drs)
                .with_ec2(&self.ec2)
                .with_automation(&self.automation),
            Operation::Launch | Operation::Cleanup => ports.with_drs(&self.drs),
            Operation::Start => ports
                .with_drs(&self.drs)
                .with_locks(self.store.own_locks().unwrap_or(&self.locks))
                .with_workflow(&self.workflow),
            Operation::Pause
            | Operation::Resume
            | Operation::Cancel
            | Operation::Retry
            | Operation::Skip => ports.with_workflow(&self.workflow),
            Operation::Act => ports.with_actions(&self.invoker, &self.automation),
            Operation::Finalize | Operation::List | Operation::Get | Operation::Events => ports,
        }
    }

    async fn serve(&self, op: Operation, event: &Value) -> Value {
        serve(op, &self.ports(op), event).await
    }
}

fn store_holding(execution: Execution) -> MockStore {
    let mut store = MockStore::new();
    store
        .expect_load()
        .returning(move |_| Ok(Some(execution.clone())));
    store
}

/// Three waves of one server; wave 0 in flight with job 0.
fn polling() -> Execution {
    let mut e = fixtures::execution(&[1, 1, 1]);
    e.header.status = ExecutionStatus::Polling;
    e.waves[0].status = WaveStatus::Started;
    fixtures::give_job(&mut e.waves[0], fixtures::job(0), Timestamp(1_500));
    e
}

fn held_token() -> Option<HeldToken> {
    Some(HeldToken {
        token: TaskToken::parse(TOKEN).unwrap(),
        release_pending: false,
    })
}

fn paused_with_token() -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    e.header.status = ExecutionStatus::Paused;
    e.header.paused_before_wave = Some(0);
    e.header.pause_reason = Some(PauseReason::Operator);
    e.header.task_token = held_token();
    e
}

/// Two waves whose policy is PAUSE; wave 0 FAILED (its one server did not launch) with nothing in
/// flight, the execution POLLING: poll says PAUSE.
fn wave_0_failed() -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    for w in &mut e.waves {
        w.on_failure = Some(FailurePolicy::Pause);
    }
    e.header.status = ExecutionStatus::Polling;
    let w = &mut e.waves[0];
    fixtures::give_job(w, fixtures::job(0), Timestamp(1_500));
    w.status = WaveStatus::Failed;
    w.end_time = Some(Timestamp(1_900));
    w.server_statuses[0].launch_status = LaunchStatus::Failed;
    e
}

/// [`wave_0_failed`], parked by the workflow: PAUSED for WAVE_FAILED, its token held.
fn paused_on_failed_wave() -> Execution {
    let mut e = wave_0_failed();
    e.header.status = ExecutionStatus::Paused;
    e.header.pause_reason = Some(PauseReason::WaveFailed);
    e.header.failed_wave = Some(0);
    e.header.task_token = held_token();
    e
}

fn proxy_body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().expect("a proxy response")).unwrap()
}

fn code_and_error(answer: &Value) -> (Value, Value) {
    (answer["statusCode"].clone(), answer["error"].clone())
}

/// A workflow that expects the held token to be released once.
fn releasing_workflow() -> MockWorkflow {
    let mut workflow = MockWorkflow::new();
    workflow
        .expect_send_task_success()
        .withf(|t, _| t.expose() == TOKEN)
        .times(1)
        .returning(|_, _| Ok(()));
    workflow
}

#[tokio::test]
async fn every_function_answers_malformed_events_with_a_400_and_touches_nothing() {
    for op in FUNCTIONS {
        let other = if op == Operation::Poll {
            "launch"
        } else {
            "poll"
        };
        let mut bad = vec![
            json!(null),
            json!([op.as_str()]),
            json!("{\"operation\":\"find\"}"),
            json!({"operation": 7}),
            json!({"operation": "explode"}),
            json!({"operation": other, "executionId": E, "planId": P}),
        ];
        if op != Operation::Find {
            bad.push(scheduled_event());
        }
        if op == Operation::Advance {
            // Another DRS event, and launch results that do not name a DRS job.
            let mut stalled = drs_sample_event();
            stalled["detail-type"] = json!("DRS Source Server Data Replication Stalled Change");
            let mut no_detail = drs_sample_event();
            no_detail.as_object_mut().map(|o| o.remove("detail"));
            bad.extend([
                stalled,
                no_detail,
                launch_result(
                    "drsjob-nope",
                    "s-00000000000000000",
                    "RECOVERY_LAUNCH_SUCCEEDED",
                ),
                json!({"jobId": "drsjob-nope"}),
            ]);
        } else {
            // DRS's events are advance's.
            bad.push(drs_sample_event());
        }
        if !matches!(op, Operation::Find | Operation::List) {
            bad.extend([
                json!({"executionId": E}),
                json!({"executionId": "nope", "planId": P}),
            ]);
        }
        match op {
            Operation::List => bad.extend([json!({"nextToken": ""}), json!({"nextToken": 7})]),
            // A plan that does not parse, and one that cannot run: refused before any write.
            Operation::Start => bad.extend([
                json!({"plan": [1]}),
                json!({"plan": {"planId": P, "waves": []}}),
                json!({"plan": fixtures::plan(&[1]), "executionId": "nope"}),
            ]),
            _ => {}
        }
        if matches!(op, Operation::Retry | Operation::Skip) {
            bad.extend([
                json!({"executionId": E, "planId": P}),
                json!({"executionId": E, "planId": P, "waveNumber": "0"}),
                json!({"executionId": E, "planId": P, "waveNumber": -1}),
            ]);
        }
        for event in &bad {
            let answer = Clients::untouched().serve(op, event).await;
            assert_eq!(answer["statusCode"], 400, "{op} {event}: {answer}");
            assert!(
                answer["error"].is_string() && answer["message"].is_string(),
                "{answer}"
            );
            assert_eq!(
                answer.as_object().unwrap().len(),
                3,
                "the seed's error shape: {answer}"
            );
        }
        // An API Gateway event: the 400 comes back as a proxy response.
        let wrong = if op == Operation::Pause {
            "resume"
        } else {
            "pause"
        };
        for event in [
            rest_event(wrong, Some(json!({"planId": P})), None),
            http_event(wrong, Some(json!({"planId": P})), None),
        ] {
            let answer = Clients::untouched().serve(op, &event).await;
            assert_eq!(answer["statusCode"], 400, "{op}: {answer}");
            assert_eq!(proxy_body(&answer)["error"], "INVALID_PARAMETER");
        }
    }
}

#[tokio::test]
async fn a_function_built_without_a_client_its_operation_needs_answers_500() {
    // retry over the ports of finalize (no Step Functions client): a wiring mistake, never a panic.
    let clients = Clients::new(store_holding(paused_on_failed_wave()));
    let event = json!({"executionId": E, "planId": P, "waveNumber": 0});
    let answer = serve(
        Operation::Retry,
        &clients.ports(Operation::Finalize),
        &event,
    )
    .await;
    assert_eq!(
        code_and_error(&answer),
        (json!(500), json!("INTERNAL_ERROR"))
    );
}

#[tokio::test]
async fn find_runs_from_a_direct_payload_and_from_the_schedule() {
    for event in [json!({"operation": "find"}), scheduled_event()] {
        let mut store = MockStore::new();
        store
            .expect_list_active()
            .times(1)
            .returning(|_| Ok(ActivePage::default()));
        let answer = Clients::new(store).serve(Operation::Find, &event).await;
        assert_eq!(
            answer,
            json!({"statusCode": 200, "executionsFound": 0, "executionsPolled": 0, "executionsSkipped": 0, "results": []})
        );
    }
}

#[tokio::test]
async fn poll_refreshes_the_wave_in_flight_and_says_what_comes_next() {
    let mut store = store_holding(polling());
    store.expect_commit().times(1..).returning(|_| Ok(()));
    store.expect_touch().times(1).returning(|_, _| Ok(()));
    let mut drs = MockDrs::new();
    let done = fixtures::drs_job(
        0,
        JobStatus::Completed,
        &[(fixtures::server(0), LaunchStatus::Launched)],
    );
    drs.expect_describe_jobs()
        .returning(move |_| Ok(vec![done.clone()]));
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().returning(|_| Ok(vec![]));
    let event = json!({"operation": "poll", "executionId": E, "planId": P, "summary": true});
    let answer = Clients::new(store)
        .with_drs(drs)
        .with_ec2(ec2)
        .serve(Operation::Poll, &event)
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        answer["status"], "POLLING",
        "poll never changes the execution's status"
    );
    assert_eq!(answer["nextAction"], "LAUNCH");
    assert_eq!(answer["waves"][0]["status"], "COMPLETED");
    assert_eq!(answer["waves"][0]["serversLaunched"], 1);
}

#[tokio::test]
async fn poll_of_a_failed_wave_whose_policy_is_pause_says_pause() {
    let mut store = store_holding(wave_0_failed());
    store.expect_commit().returning(|_| Ok(()));
    store.expect_touch().returning(|_, _| Ok(()));
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().returning(|_| Ok(vec![]));
    let mut drs = MockDrs::new();
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    // The failed servers' reasons are read from their job's log (none here).
    drs.expect_job_log().returning(|_| Ok(vec![]));
    drs.expect_describe_jobs().returning(|_| Ok(vec![]));
    let event = json!({"executionId": E, "planId": P, "summary": true});
    let answer = Clients::new(store)
        .with_drs(drs)
        .with_ec2(ec2)
        .serve(Operation::Poll, &event)
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (answer["status"].clone(), answer["nextAction"].clone()),
        (json!("POLLING"), json!("PAUSE"))
    );
}

#[tokio::test]
async fn poll_of_an_unknown_execution_is_a_404() {
    let mut store = MockStore::new();
    store.expect_load().returning(|_| Ok(None));
    let event = json!({"executionId": E, "planId": P});
    let answer = Clients::new(store).serve(Operation::Poll, &event).await;
    assert_eq!(code_and_error(&answer), (json!(404), json!("NOT_FOUND")));
}

#[tokio::test]
async fn finalize_is_idempotent_and_refuses_unfinished_executions() {
    let mut done = fixtures::execution(&[1]);
    done.header.status = ExecutionStatus::Completed;
    let answer = Clients::new(store_holding(done))
        .serve(
            Operation::Finalize,
            &json!({"operation": "finalize", "executionId": E, "planId": P}),
        )
        .await;
    assert_eq!(
        (answer["status"].clone(), answer["alreadyFinalized"].clone()),
        (json!("COMPLETED"), json!(true))
    );

    let answer = Clients::new(store_holding(polling()))
        .serve(Operation::Finalize, &json!({"executionId": E, "planId": P}))
        .await;
    assert_eq!(
        code_and_error(&answer),
        (json!(400), json!("INVALID_STATE"))
    );
}

#[tokio::test]
async fn pause_from_the_state_machine_holds_its_token() {
    let mut at_boundary = fixtures::execution(&[1, 1]);
    at_boundary.waves[0].pause_before_wave = true;
    let mut store = store_holding(at_boundary);
    store
        .expect_commit()
        .withf(|c| matches!(&c.header, Some(HeaderWrite { header, .. }) if header.task_token.as_ref().is_some_and(|t| t.token.expose() == TOKEN)))
        .times(1)
        .returning(|_| Ok(()));
    let event = json!({"operation": "pause", "executionId": E, "planId": P, "taskToken": TOKEN});
    let answer = Clients::new(store).serve(Operation::Pause, &event).await;
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": E, "status": "PAUSED", "pausedBeforeWave": 0, "pauseReason": "PLANNED"})
    );
}

#[tokio::test]
async fn pause_from_the_state_machine_on_a_failed_wave_waits_for_a_decision() {
    let mut store = store_holding(wave_0_failed());
    store
        .expect_commit()
        .withf(|c| {
            matches!(&c.header, Some(HeaderWrite { header, .. })
                if header.status == ExecutionStatus::Paused
                    && header.pause_reason == Some(PauseReason::WaveFailed)
                    && header.failed_wave == Some(0)
                    && header.task_token.as_ref().is_some_and(|t| t.token.expose() == TOKEN))
        })
        .times(1)
        .returning(|_| Ok(()));
    let event = json!({"operation": "pause", "executionId": E, "planId": P, "taskToken": TOKEN});
    let answer = Clients::new(store).serve(Operation::Pause, &event).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (
            answer["status"].clone(),
            answer["pauseReason"].clone(),
            answer["failedWave"].clone()
        ),
        (json!("PAUSED"), json!("WAVE_FAILED"), json!(0))
    );
}

#[tokio::test]
async fn pause_from_an_operator_through_either_api() {
    for event in [
        rest_event("pause", Some(json!({"planId": P})), None),
        http_event("pause", None, Some(json!({"planId": P}))),
    ] {
        let mut store = store_holding(polling());
        store.expect_commit().times(1..).returning(|_| Ok(()));
        let answer = Clients::new(store).serve(Operation::Pause, &event).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        assert_eq!(
            proxy_body(&answer),
            json!({"statusCode": 200, "executionId": E, "status": "PAUSED", "pausedBeforeWave": 1, "pauseReason": "OPERATOR"})
        );
    }
}

#[tokio::test]
async fn resume_through_the_api_releases_the_workflow() {
    for event in [
        http_event("resume", Some(json!({"planId": P})), None),
        rest_event("resume", None, Some(json!({"planId": P}))),
    ] {
        let mut store = store_holding(paused_with_token());
        store.expect_commit().times(1..).returning(|_| Ok(()));
        let answer = Clients::new(store)
            .with_workflow(releasing_workflow())
            .serve(Operation::Resume, &event)
            .await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let body = proxy_body(&answer);
        assert_eq!(
            (body["status"].clone(), body["workflowReleased"].clone()),
            (json!("POLLING"), json!(true))
        );
    }
}

#[tokio::test]
async fn resume_of_a_running_execution_or_of_a_failed_wave_is_a_proxied_400() {
    for held in [polling(), paused_on_failed_wave()] {
        let answer = Clients::new(store_holding(held))
            .serve(
                Operation::Resume,
                &rest_event("resume", Some(json!({"planId": P})), None),
            )
            .await;
        assert_eq!(answer["statusCode"], 400);
        assert_eq!(proxy_body(&answer)["error"], "INVALID_STATE");
    }
    let answer = Clients::new(store_holding(paused_on_failed_wave()))
        .serve(Operation::Resume, &json!({"executionId": E, "planId": P}))
        .await;
    let message = answer["message"].as_str().unwrap();
    assert!(
        message.contains("retry") && message.contains("skip") && message.contains("cancel"),
        "resume names the decisions that apply: {message}"
    );
}

#[tokio::test]
async fn retry_through_either_api_starts_a_new_attempt_and_releases_the_workflow() {
    for event in [
        rest_event("retry", Some(json!({"planId": P, "waveNumber": 0})), None),
        http_event(
            "retry",
            Some(json!({"waveNumber": 0})),
            Some(json!({"planId": P})),
        ),
    ] {
        let mut store = store_holding(paused_on_failed_wave());
        store
            .expect_commit()
            .withf(|c| {
                c.waves.first().is_some_and(|w| {
                    w.wave.wave_number == 0
                        && w.wave.status == WaveStatus::Launching
                        && w.wave.attempt == 2
                })
            })
            .times(1)
            .returning(|_| Ok(()));
        // The token's release is recorded after it.
        store.expect_commit().returning(|_| Ok(()));
        let answer = Clients::new(store)
            .with_workflow(releasing_workflow())
            .serve(Operation::Retry, &event)
            .await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        assert_eq!(
            proxy_body(&answer),
            json!({"statusCode": 200, "executionId": E, "status": "POLLING", "waveNumber": 0,
                   "waveStatus": "LAUNCHING", "attempt": 2, "workflowReleased": true})
        );
    }
}

#[tokio::test]
async fn skip_passes_the_failed_wave_and_releases_the_workflow() {
    let mut store = store_holding(paused_on_failed_wave());
    store
        .expect_commit()
        .withf(|c| {
            c.waves
                .first()
                .is_some_and(|w| w.wave.status == WaveStatus::Skipped)
        })
        .times(1)
        .returning(|_| Ok(()));
    store.expect_commit().returning(|_| Ok(()));
    let answer = Clients::new(store)
        .with_workflow(releasing_workflow())
        .serve(
            Operation::Skip,
            &json!({"operation": "skip", "executionId": E, "planId": P, "waveNumber": 0}),
        )
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (
            answer["status"].clone(),
            answer["waveStatus"].clone(),
            answer["workflowReleased"].clone()
        ),
        (json!("POLLING"), json!("SKIPPED"), json!(true))
    );
}

#[tokio::test]
async fn retry_and_skip_of_a_wave_that_waits_on_nothing_are_400s() {
    for op in [Operation::Retry, Operation::Skip] {
        for (held, wave) in [(polling(), 0), (paused_on_failed_wave(), 1)] {
            let event = http_event(
                op.as_str(),
                Some(json!({"planId": P, "waveNumber": wave})),
                None,
            );
            let answer = Clients::new(store_holding(held)).serve(op, &event).await;
            assert_eq!(answer["statusCode"], 400, "{op}: {answer}");
            assert_eq!(proxy_body(&answer)["error"], "INVALID_STATE");
        }
    }
}

#[tokio::test]
async fn launch_starts_the_next_wave() {
    let mut store = store_holding(fixtures::execution(&[2, 1]));
    // The claim, then the job's record (how many commits that takes is the core's business).
    store.expect_commit().times(1..).returning(|_| Ok(()));
    let mut drs = MockDrs::new();
    drs.expect_start_recovery()
        .withf(|r| r.wave_number == 0 && r.source_servers.len() == 2 && r.is_drill)
        .times(1)
        .returning(|_| Ok(fixtures::drs_job(9, JobStatus::Pending, &[])));
    let answer = Clients::new(store)
        .with_drs(drs)
        .serve(
            Operation::Launch,
            &json!({"operation": "launch", "executionId": E, "planId": P}),
        )
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (answer["waveStatus"].clone(), answer["jobIds"].clone()),
        (json!("STARTED"), json!([fixtures::job(9).to_string()]))
    );
}

#[tokio::test]
async fn launch_refused_for_now_is_a_200_that_says_when_to_ask_again() {
    let mut store = store_holding(fixtures::execution(&[2, 1]));
    store.expect_commit().times(1..).returning(|_| Ok(()));
    let mut drs = MockDrs::new();
    drs.expect_start_recovery().times(1).returning(|_| {
        Err(ServiceError::Throttled {
            retry_after: Some(Duration::from_secs(45)),
            message: "ServiceQuotaExceededException: concurrent jobs".into(),
        })
    });
    let answer = Clients::new(store)
        .with_drs(drs)
        .serve(Operation::Launch, &json!({"executionId": E, "planId": P}))
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (
            answer["waveStatus"].clone(),
            answer["retryAfterSeconds"].clone()
        ),
        (json!("LAUNCHING"), json!(45))
    );
    assert!(
        answer["lastLaunchError"]
            .as_str()
            .is_some_and(|e| e.contains("ServiceQuotaExceeded")),
        "{answer}"
    );
}

/// Two PENDING waves of one server; wave 0 runs one action of `kind` on `target` before its launch.
fn with_action_before_wave_0(kind: ActionKind, target: &str) -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    e.waves[0].actions = vec![WaveAction {
        name: "pre-check".into(),
        when: ActionWhen::BeforeLaunch,
        kind,
        target: target.into(),
        parameters: Some(json!({"Ticket": "CHG-1"})),
        timeout_seconds: 60,
        on_failure: ActionOnFailure::Fail,
    }];
    e
}

/// The runs the store holds of wave `wave`.
fn runs_of(store: &MemoryStore, wave: usize) -> Vec<ActionRun> {
    store
        .get(id(E))
        .map(|e| e.waves[wave].action_runs.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn act_invokes_the_due_function_once_and_records_its_answer() {
    let store = memory(vec![with_action_before_wave_0(
        ActionKind::Lambda,
        "check-dns",
    )]);
    let mut invoker = MockInvoker::new();
    invoker
        .expect_invoke()
        .withf(|function, payload, timeout| {
            let input: Value = serde_json::from_slice(payload).unwrap_or_default();
            function == "check-dns"
                && *timeout == Duration::from_secs(60)
                && input["executionId"] == E
                && input["action"]["name"] == "pre-check"
                && input["parameters"] == json!({"Ticket": "CHG-1"})
        })
        .times(1)
        .returning(|_, _, _| {
            Ok(InvokeAnswer {
                function_error: None,
                payload: br#"{"ok": true, "checked": 1}"#.to_vec(),
            })
        });
    let clients = Clients::new(store).with_invoker(invoker);
    let answer = clients
        .serve(
            Operation::Act,
            &json!({"operation": "act", "executionId": E, "planId": P}),
        )
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (
            answer["action"].clone(),
            answer["type"].clone(),
            answer["attempt"].clone(),
            answer["actionStatus"].clone()
        ),
        (
            json!("pre-check"),
            json!("LAMBDA"),
            json!(1),
            json!("SUCCEEDED")
        )
    );
    let runs = runs_of(&clients.store, 0);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, ActionStatus::Succeeded);
}

#[tokio::test]
async fn act_starts_the_runbook_and_poll_follows_it_to_its_end() {
    let execution = with_action_before_wave_0(ActionKind::SsmAutomation, "AWS-RestartEC2Instance");
    let token = execution_core::actions::client_token(&execution, 0, "pre-check", 1);
    let store = memory(vec![execution]);
    let mut automation = MockAutomation::new();
    automation
        .expect_start_automation()
        .withf(move |r| {
            r.document == "AWS-RestartEC2Instance"
                && r.parameters.get("Ticket") == Some(&vec!["CHG-1".to_owned()])
                && r.client_token == token
                && r.tags
                    .iter()
                    .any(|(k, v)| k == "drs-waves:executionId" && v == E)
        })
        .times(1)
        .returning(|_| Ok("0a1b2c3d-0000-4000-8000-000000000001".into()));
    automation
        .expect_automation()
        .withf(|id| id == "0a1b2c3d-0000-4000-8000-000000000001")
        .times(1)
        .returning(|_| {
            Ok(Some(AutomationState {
                status: "Success".into(),
                failure_message: None,
            }))
        });
    let clients = Clients::new(store).with_automation(automation);
    let answer = clients
        .serve(Operation::Act, &json!({"executionId": E, "planId": P}))
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (
            answer["type"].clone(),
            answer["actionStatus"].clone(),
            answer["automationExecutionId"].clone()
        ),
        (
            json!("SSM_AUTOMATION"),
            json!("RUNNING"),
            json!("0a1b2c3d-0000-4000-8000-000000000001")
        )
    );

    // poll's function is built with the SSM client: it reads the runbook's end.
    let answer = clients
        .serve(Operation::Poll, &json!({"executionId": E, "planId": P}))
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    let runs = runs_of(&clients.store, 0);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].status, ActionStatus::Succeeded, "{runs:?}");
}

#[tokio::test]
async fn act_is_not_served_through_the_api() {
    assert!(!API_OPERATIONS.contains(&Operation::Act));
    assert!(API_ROUTES.iter().all(|r| r.operation != Operation::Act));
    // Whatever the route, a proxy event to act is a 400 in a proxy answer, and nothing is run.
    let clients = Clients::untouched();
    for event in [
        http_event("act", Some(json!({"planId": P})), None),
        rest_event("act", Some(json!({"planId": P})), None),
        rest_event("launch", Some(json!({"planId": P})), None),
    ] {
        let answer = clients.serve(Operation::Act, &event).await;
        assert_eq!(answer["statusCode"], 400, "{answer}");
        let body = proxy_body(&answer);
        assert_eq!(body["error"], "INVALID_PARAMETER", "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("not served through API Gateway")),
            "{body}"
        );
    }
}

/// A proxy event builder: [`rest_request`] or [`http_request`].
type Request = fn(&str, &str, Option<&str>, Option<Value>) -> Value;
const SHAPES: [Request; 2] = [rest_request, http_request];

/// An in-memory store that checks every record written.
fn memory(executions: Vec<Execution>) -> MemoryStore {
    let store = MemoryStore::with_executions(executions).expect("distinct ids");
    store.check_invariants();
    store
}

/// DRS as start's pre-flight finds a plan's servers: each known, replicating continuously, in no
/// running job.
fn replicating_drs() -> MockDrs {
    use execution_core::ports::SourceServer;
    let mut drs = MockDrs::new();
    drs.expect_describe_source_servers().returning(|ids| {
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
    drs
}

fn run_of(id: &str) -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:drs-executions-execution:{id}")
}

/// A workflow that starts `times` runs, each named after its execution, polling every `secs`.
fn starting_workflow(times: usize, secs: Option<u64>) -> MockWorkflow {
    let mut workflow = MockWorkflow::new();
    workflow
        .expect_start_run()
        .withf(move |input: &WorkflowInput, name: &str| {
            name == input.execution_id.to_string()
                && input.plan_id == fixtures::plan_id()
                && input.poll_interval_seconds.map(|p| p.secs()) == secs
        })
        .times(times)
        .returning(|input, _| Ok(run_of(&input.execution_id.to_string())));
    workflow
}

fn plan_body() -> String {
    serde_json::to_string(&fixtures::plan(&[2, 1])).unwrap()
}

fn id(raw: &str) -> ExecutionId {
    ExecutionId::parse(raw).unwrap()
}

/// Who each event of the trail of `execution` says made it, with its operation.
fn authors(store: &MemoryStore, execution: ExecutionId) -> Vec<(Actor, String)> {
    store
        .trail(execution)
        .into_iter()
        .map(|e| (e.actor, e.operation))
        .collect()
}

#[tokio::test]
async fn start_through_either_api_creates_the_execution_and_starts_its_run() {
    let caller = Actor::Iam(CALLER.into());
    for (make, chosen) in [
        (rest_request as Request, Some(OTHER_ID)),
        (http_request, None),
    ] {
        let query = chosen.map(|id| json!({"executionId": id, "pollIntervalSeconds": "10"}));
        let event = signed(
            make("POST", "/executions", Some(&plan_body()), query),
            CALLER,
        );
        let clients = Clients::new(memory(vec![]))
            .with_drs(replicating_drs())
            .with_workflow(starting_workflow(1, chosen.map(|_| 10)));
        let answer = clients.serve(Operation::Start, &event).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let body = proxy_body(&answer);
        let started = body["executionId"]
            .as_str()
            .expect("the new execution's id");
        if let Some(chosen) = chosen {
            assert_eq!(
                started, chosen,
                "the caller's id, so that a retried start is safe"
            );
        }
        assert_eq!(
            body,
            json!({"statusCode": 200, "executionId": started, "planId": P, "status": "PENDING",
                   "workflowRun": run_of(started)})
        );
        let stored = clients.store.get(id(started)).expect("created");
        assert_eq!(stored.status(), ExecutionStatus::Pending);
        assert_eq!(stored.waves.len(), 2);
        assert_eq!(
            stored.header.workflow_run.as_deref(),
            Some(run_of(started).as_str()),
            "the run is recorded, so find knows it from the start"
        );
        assert_eq!(
            authors(&clients.store, id(started)),
            [(caller.clone(), "start".to_owned())]
        );
        assert_eq!(clients.store.violations(), []);
        // The plan's servers are held for it, in the store (start's locks port).
        let servers: Vec<_> = (0..3).map(fixtures::server).collect();
        let held = clients.store.holds(&servers).await.expect("the holds");
        assert_eq!(held.len(), 3, "{held:?}");
        assert!(
            held.iter().all(|h| h.execution_id == id(started)),
            "{held:?}"
        );
    }
}

/// A start whose servers another active execution holds is refused by the pre-flight (409: the
/// same start works once that execution has ended), before anything is created or started.
#[tokio::test]
async fn a_start_of_servers_another_execution_holds_is_a_409_and_creates_nothing() {
    let clients = Clients::new(memory(vec![]))
        .with_drs(replicating_drs())
        .with_workflow(starting_workflow(1, None));
    let start = |chosen: &str| {
        signed(
            rest_request(
                "POST",
                "/executions",
                Some(&plan_body()),
                Some(json!({"executionId": chosen})),
            ),
            CALLER,
        )
    };
    let first = clients.serve(Operation::Start, &start(OTHER_ID)).await;
    assert_eq!(first["statusCode"], 200, "{first}");
    let second_id = "22222222-3333-4444-8555-666666666666";
    let second = clients.serve(Operation::Start, &start(second_id)).await;
    assert_eq!(second["statusCode"], 409, "{second}");
    let body = proxy_body(&second);
    assert_eq!(body["error"], "PREFLIGHT_FAILED", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(OTHER_ID),
        "names the holder: {body}"
    );
    assert!(
        clients.store.get(id(second_id)).is_none(),
        "nothing created"
    );
    let held = clients
        .store
        .holds(&[fixtures::server(0)])
        .await
        .expect("the holds");
    assert_eq!(
        held.iter().map(|h| h.execution_id).collect::<Vec<_>>(),
        [id(OTHER_ID)],
        "the first start's holds stand"
    );
}

#[tokio::test]
async fn a_request_without_iam_identity_is_recorded_as_anonymous() {
    for make in SHAPES {
        let event = make(
            "POST",
            "/executions",
            Some(&plan_body()),
            Some(json!({"executionId": OTHER_ID})),
        );
        let clients = Clients::new(memory(vec![]))
            .with_drs(replicating_drs())
            .with_workflow(starting_workflow(1, None));
        let answer = clients.serve(Operation::Start, &event).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        assert_eq!(
            authors(&clients.store, id(OTHER_ID)),
            [(Actor::Anonymous, "start".to_owned())]
        );
    }
}

#[tokio::test]
async fn a_start_whose_workflow_cannot_start_leaves_nothing_running() {
    for make in SHAPES {
        let mut workflow = MockWorkflow::new();
        workflow.expect_start_run().times(1).returning(|_, _| {
            Err(WorkflowError::Service(ServiceError::Rejected(
                "StateMachineDoesNotExist: no such state machine".into(),
            )))
        });
        let clients = Clients::new(memory(vec![]))
            .with_drs(replicating_drs())
            .with_workflow(workflow);
        let event = signed(
            make(
                "POST",
                "/executions",
                Some(&plan_body()),
                Some(json!({"executionId": OTHER_ID})),
            ),
            CALLER,
        );
        let answer = clients.serve(Operation::Start, &event).await;
        assert_eq!(answer["statusCode"], 500, "{answer}");
        let body = proxy_body(&answer);
        assert_eq!(body["error"], "INTERNAL_ERROR");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("StateMachineDoesNotExist")
                && message.contains(&format!("execution {OTHER_ID} was cancelled"))
                && message.contains("nothing was launched"),
            "{message}"
        );
        // Nothing find would pick up: the record is finished, and says who ended it.
        let stored = clients.store.get(id(OTHER_ID)).expect("recorded");
        assert_eq!(stored.status(), ExecutionStatus::Cancelled);
        let trail = authors(&clients.store, id(OTHER_ID));
        assert!(trail.len() >= 2, "{trail:?}");
        assert!(
            trail
                .iter()
                .all(|(actor, _)| *actor == Actor::Iam(CALLER.into())),
            "{trail:?}"
        );
        assert_eq!(clients.store.violations(), []);
    }
}

#[tokio::test]
async fn an_invalid_plan_is_a_400_that_lists_every_problem_and_writes_nothing() {
    let mut plan = fixtures::plan(&[1, 1, 1]);
    plan.waves[1].servers = plan.waves[0].servers.clone();
    plan.waves[2].servers.clear();
    let plan = serde_json::to_string(&plan).unwrap();
    for make in SHAPES {
        // Untouched clients: a store or workflow call would fail the test.
        let answer = Clients::untouched()
            .serve(
                Operation::Start,
                &make("POST", "/executions", Some(&plan), None),
            )
            .await;
        assert_eq!(answer["statusCode"], 400, "{answer}");
        let body = proxy_body(&answer);
        assert_eq!(body["error"], "INVALID_PARAMETER");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("wave 2 has no servers")
                && message.contains(&format!(
                    "server {} is in wave 0 and again in wave 1",
                    fixtures::server(0)
                )),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_second_start_with_the_same_execution_id_is_a_409_and_starts_nothing() {
    let clients = Clients::new(memory(vec![]))
        .with_drs(replicating_drs())
        .with_workflow(starting_workflow(1, None));
    let event = signed(
        rest_request(
            "POST",
            "/executions",
            Some(&plan_body()),
            Some(json!({"executionId": OTHER_ID})),
        ),
        CALLER,
    );
    let first = clients.serve(Operation::Start, &event).await;
    assert_eq!(first["statusCode"], 200, "{first}");
    let again = clients.serve(Operation::Start, &event).await;
    assert_eq!(again["statusCode"], 409, "{again}");
    assert_eq!(proxy_body(&again)["error"], "CONFLICT");
    assert_eq!(authors(&clients.store, id(OTHER_ID)).len(), 1);
}

/// A PENDING execution of the fixture plan named `raw`.
fn pending(raw: &str) -> Execution {
    fixtures::plan(&[1])
        .new_execution(id(raw), Timestamp(1000))
        .unwrap()
}

#[tokio::test]
async fn list_pages_the_active_executions_through_either_api() {
    let mut done = pending("22222222-3333-4444-8555-666666666666");
    done.header.status = ExecutionStatus::Completed;
    for make in SHAPES {
        let store = MemoryStore::with_page_size(1);
        for e in [polling(), pending(OTHER_ID), done.clone()] {
            store.create(&e, &[]).await.unwrap();
        }
        let clients = Clients::new(store);
        let mut listed = Vec::new();
        let mut token: Option<String> = None;
        for page in 0.. {
            assert!(page < 5, "the pages end");
            let query = token.as_ref().map(|t| json!({"nextToken": t}));
            let event = signed(make("GET", "/executions", None, query), CALLER);
            let answer = clients.serve(Operation::List, &event).await;
            assert_eq!(answer["statusCode"], 200, "{answer}");
            let body = proxy_body(&answer);
            for e in body["executions"].as_array().unwrap() {
                listed.push((e["executionId"].clone(), e["status"].clone()));
            }
            match body["nextToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        listed.sort_by_key(|(id, _)| id.to_string());
        assert_eq!(
            listed,
            [
                (json!(OTHER_ID), json!("PENDING")),
                (json!(E), json!("POLLING"))
            ],
            "the active executions, each once; not the finished one"
        );
        // A token this API did not give is the caller's mistake.
        let event = make(
            "GET",
            "/executions",
            None,
            Some(json!({"nextToken": "POLLING|1700000000|someone-elses"})),
        );
        let answer = clients.serve(Operation::List, &event).await;
        assert_eq!(answer["statusCode"], 400, "{answer}");
        let body = proxy_body(&answer);
        assert_eq!(body["error"], "INVALID_PARAMETER");
        assert!(
            body["message"].as_str().unwrap().contains("nextToken"),
            "{body}"
        );
        assert!(
            authors(&clients.store, fixtures::execution_id()).is_empty(),
            "reads record nothing"
        );
    }
}

#[tokio::test]
async fn get_answers_the_record_and_never_its_task_token() {
    for make in SHAPES {
        let clients = Clients::new(memory(vec![paused_with_token()]));
        let event = signed(
            make(
                "GET",
                "/executions/{executionId}",
                None,
                Some(json!({"planId": P})),
            ),
            CALLER,
        );
        let answer = clients.serve(Operation::Get, &event).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let text = answer["body"].as_str().unwrap();
        assert!(
            !text.contains(TOKEN) && !text.contains("taskToken"),
            "the token is the workflow's alone: {text}"
        );
        let body = proxy_body(&answer);
        assert_eq!(body["workflowWaiting"], true, "{body}");
        assert_eq!(
            (
                body["execution"]["executionId"].clone(),
                body["execution"]["status"].clone()
            ),
            (json!(E), json!("PAUSED"))
        );
        assert_eq!(body["execution"]["waves"].as_array().map(Vec::len), Some(2));
        // Another plan's id, or an execution that does not exist: 404.
        for (path, plan) in [
            ("/executions/{executionId}", OTHER_ID),
            ("/executions/{executionId}", P),
        ] {
            let mut event = make("GET", path, None, Some(json!({"planId": plan})));
            if plan == P {
                event["pathParameters"]["executionId"] = json!(OTHER_ID);
            }
            let answer = clients.serve(Operation::Get, &event).await;
            assert_eq!(answer["statusCode"], 404, "{answer}");
            assert_eq!(proxy_body(&answer)["error"], "NOT_FOUND");
        }
    }
}

#[tokio::test]
async fn events_answer_the_trail_and_who_made_each_change() {
    for make in SHAPES {
        let store = MemoryStore::with_page_size(1);
        store.create(&polling(), &[]).await.unwrap();
        let clients = Clients::new(store);
        let pause = signed(
            make(
                "POST",
                "/executions/{executionId}/pause",
                Some(r#"{}"#),
                Some(json!({"planId": P})),
            ),
            CALLER,
        );
        let answer = clients.serve(Operation::Pause, &pause).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let cancel = make(
            "POST",
            "/executions/{executionId}/cancel",
            None,
            Some(json!({"planId": P})),
        );
        let answer = clients.serve(Operation::Cancel, &cancel).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");

        let mut events = Vec::new();
        let mut token: Option<String> = None;
        for page in 0.. {
            assert!(page < 5, "the pages end");
            let mut query = json!({"planId": P});
            if let Some(t) = &token {
                query["nextToken"] = json!(t);
            }
            let event = signed(
                make("GET", "/executions/{executionId}/events", None, Some(query)),
                CALLER,
            );
            let answer = clients.serve(Operation::Events, &event).await;
            assert_eq!(answer["statusCode"], 200, "{answer}");
            let body = proxy_body(&answer);
            assert_eq!(body["executionId"], E);
            events.extend(body["events"].as_array().unwrap().iter().cloned());
            match body["nextToken"].as_str() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        let who: Vec<(Value, Value)> = events
            .iter()
            .map(|e| (e["operation"].clone(), e["actor"].clone()))
            .collect();
        assert_eq!(
            who,
            [
                (json!("pause"), json!({"type": "iam", "id": CALLER})),
                (json!("cancel"), json!({"type": "anonymous"}))
            ]
        );
        assert_eq!(
            events[1]["execution"],
            json!({"from": "PAUSED", "to": "CANCELLING"})
        );
        // A foreign page token, another plan: refused, and nothing is read for it.
        let foreign = make(
            "GET",
            "/executions/{executionId}/events",
            None,
            Some(json!({"planId": P, "nextToken": "1700000000000-x"})),
        );
        let answer = clients.serve(Operation::Events, &foreign).await;
        assert_eq!(answer["statusCode"], 400, "{answer}");
        assert!(proxy_body(&answer)["message"]
            .as_str()
            .unwrap()
            .contains("nextToken"));
        let other_plan = make(
            "GET",
            "/executions/{executionId}/events",
            None,
            Some(json!({"planId": OTHER_ID})),
        );
        let answer = clients.serve(Operation::Events, &other_plan).await;
        assert_eq!(answer["statusCode"], 404, "{answer}");
    }
}

#[tokio::test]
async fn every_operator_route_records_its_caller() {
    type Case = (Operation, fn() -> Execution, bool, &'static str);
    let cases: [Case; 5] = [
        (Operation::Pause, polling, false, "{}"),
        (Operation::Resume, paused_with_token, true, "{}"),
        (Operation::Cancel, polling, false, "{}"),
        (
            Operation::Retry,
            paused_on_failed_wave,
            true,
            r#"{"waveNumber": 0}"#,
        ),
        (
            Operation::Skip,
            paused_on_failed_wave,
            true,
            r#"{"waveNumber": 0}"#,
        ),
    ];
    for (op, held, releases, body) in cases {
        let route = Route::of(op).unwrap();
        for make in SHAPES {
            for caller in [Some(CALLER), None] {
                let event = make(
                    route.method,
                    route.path,
                    Some(body),
                    Some(json!({"planId": P})),
                );
                let event = match caller {
                    Some(arn) => signed(event, arn),
                    None => event,
                };
                let workflow = if releases {
                    releasing_workflow()
                } else {
                    MockWorkflow::new()
                };
                let clients = Clients::new(memory(vec![held()])).with_workflow(workflow);
                let answer = clients.serve(op, &event).await;
                assert_eq!(answer["statusCode"], 200, "{op}: {answer}");
                let want = caller.map_or(Actor::Anonymous, |arn| Actor::Iam(arn.into()));
                let trail = authors(&clients.store, fixtures::execution_id());
                assert!(!trail.is_empty(), "{op}: a change is recorded");
                assert!(
                    trail
                        .iter()
                        .all(|(actor, operation)| *actor == want && operation == op.as_str()),
                    "{op}: {trail:?}"
                );
                assert_eq!(clients.store.violations(), [], "{op}");
            }
        }
    }
}

#[tokio::test]
async fn every_api_function_refuses_bad_requests_in_the_seeds_shape_and_touches_nothing() {
    for op in API_OPERATIONS {
        let route = Route::of(op).unwrap();
        let body = if op == Operation::Start {
            plan_body()
        } else {
            "{}".to_owned()
        };
        let query = (op != Operation::Start).then(|| json!({"planId": P}));
        for make in SHAPES {
            let mut bad = vec![
                (
                    "unknown route",
                    make(
                        route.method,
                        "/executions/{executionId}/explode",
                        Some(&body),
                        query.clone(),
                    ),
                ),
                (
                    "wrong method",
                    make("DELETE", route.path, Some(&body), query.clone()),
                ),
                (
                    "not JSON",
                    make(
                        route.method,
                        route.path,
                        Some("{planId: oops"),
                        query.clone(),
                    ),
                ),
            ];
            // Every other function's route.
            for other in API_ROUTES.iter().filter(|r| r.operation != op) {
                bad.push((
                    "another route",
                    make(other.method, other.path, Some(&body), query.clone()),
                ));
            }
            let mut not_uuid = make(route.method, route.path, Some(&body), query.clone());
            if op == Operation::Start {
                not_uuid["queryStringParameters"] = json!({"executionId": "nope"});
                not_uuid["multiValueQueryStringParameters"] = Value::Null;
                not_uuid["rawQueryString"] = json!("executionId=nope");
                bad.push(("no UUID", not_uuid));
            } else if route.path.contains("{executionId}") {
                not_uuid["pathParameters"] = json!({"executionId": "nope"});
                bad.push(("no UUID", not_uuid));
            }
            for (what, event) in bad {
                let answer = Clients::untouched().serve(op, &signed(event, CALLER)).await;
                assert_eq!(answer["statusCode"], 400, "{op} {what}: {answer}");
                let body = proxy_body(&answer);
                assert_eq!(body["error"], "INVALID_PARAMETER", "{op} {what}: {body}");
                // Sorted: serde_json keeps insertion order when a crate of the build asks it to.
                assert_eq!(
                    body.as_object().map(|b| {
                        let mut keys = b.keys().cloned().collect::<Vec<_>>();
                        keys.sort();
                        keys
                    }),
                    Some(vec![
                        "error".to_owned(),
                        "message".to_owned(),
                        "statusCode".to_owned()
                    ]),
                    "the seed's error shape"
                );
            }
        }
    }
}

/// Collects what a subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn a_task_token_never_reaches_the_log() {
    let logs = Captured::default();
    let sink = logs.clone();
    // The most verbose configuration Lambda allows.
    let _guard = tracing::subscriber::set_default(crate::logging::subscriber(
        Some("JSON"),
        Some("TRACE"),
        move || sink.clone(),
    ));

    let mut at_boundary = fixtures::execution(&[1, 1]);
    at_boundary.waves[0].pause_before_wave = true;
    let mut store = store_holding(at_boundary);
    store.expect_commit().returning(|_| Ok(()));
    let event = json!({"operation": "pause", "executionId": E, "planId": P, "taskToken": TOKEN});
    let answer = Clients::new(store).serve(Operation::Pause, &event).await;
    assert_eq!(answer["status"], "PAUSED");
    // resume and retry hand the stored token to Step Functions.
    let mut store = store_holding(paused_with_token());
    store.expect_commit().returning(|_| Ok(()));
    Clients::new(store)
        .with_workflow(releasing_workflow())
        .serve(Operation::Resume, &json!({"executionId": E, "planId": P}))
        .await;
    let mut store = store_holding(paused_on_failed_wave());
    store.expect_commit().returning(|_| Ok(()));
    let answer = Clients::new(store)
        .with_workflow(releasing_workflow())
        .serve(
            Operation::Retry,
            &json!({"executionId": E, "planId": P, "waveNumber": 0}),
        )
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    // What lambda_runtime logs at TRACE: the raw event.
    tracing::trace!(target: "lambda_runtime::layers::api_response", body = %event, "raw JSON event received from Lambda");

    let text = logs.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log lines"))
        .collect();
    let answered: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "answered")
        .collect();
    assert_eq!(answered.len(), 3, "one line per invocation: {text}");
    assert_eq!(answered[0]["fields"]["operation"], "pause");
    assert_eq!(answered[0]["fields"]["execution_id"], E);
    assert_eq!(answered[0]["fields"]["status_code"], 200);
    assert_eq!(answered[1]["fields"]["operation"], "resume");
    assert_eq!(answered[2]["fields"]["operation"], "retry");
    assert!(
        !text.contains(TOKEN) && !text.contains("fake+task"),
        "token in the log: {text}"
    );
}

#[test]
fn the_log_level_follows_lambda_but_stops_at_debug() {
    let cases = [
        (None, ["error", "warn", "info"].as_slice()),
        (Some("WARN"), &["error", "warn"]),
        (Some("debug"), &["error", "warn", "info", "debug"]),
        (Some("TRACE"), &["error", "warn", "info", "debug"]),
        (Some("nonsense"), &["error", "warn", "info"]),
    ];
    for (level, shown) in cases {
        let logs = Captured::default();
        let sink = logs.clone();
        tracing::subscriber::with_default(
            crate::logging::subscriber(None, level, move || sink.clone()),
            || {
                tracing::error!("at-error");
                tracing::warn!("at-warn");
                tracing::info!("at-info");
                tracing::debug!("at-debug");
                tracing::trace!("at-trace");
            },
        );
        let text = logs.text();
        for l in ["error", "warn", "info", "debug", "trace"] {
            assert_eq!(
                text.contains(&format!("at-{l}")),
                shown.contains(&l),
                "level {level:?}, {l}: {text}"
            );
        }
        assert!(
            !text.starts_with('{'),
            "text format unless JSON is asked for"
        );
    }
}

/// A drill that completed: wave 0's one server launched recovery instance 0.
fn completed_drill() -> Execution {
    let mut e = fixtures::execution(&[1]);
    e.header.status = ExecutionStatus::Completed;
    e.header.start_time = Some(Timestamp(1_100));
    e.header.end_time = Some(Timestamp(1_900));
    let wave = &mut e.waves[0];
    fixtures::give_job(wave, fixtures::job(0), Timestamp(1_100));
    wave.status = WaveStatus::Completed;
    wave.end_time = Some(Timestamp(1_900));
    for server in &mut wave.server_statuses {
        server.launch_status = LaunchStatus::Launched;
        server.recovery_instance_id = Some(fixtures::instance(0));
        server.instance_id = Some(fixtures::instance(0));
    }
    e
}

/// DRS as cleanup finds it: the drill's instance is still its server's, and the one call to
/// TerminateRecoveryInstances answers with job 9.
fn terminating_drs() -> MockDrs {
    use execution_core::ports::{DrsJob, RecoveryInstance};
    let mut drs = MockDrs::new();
    drs.expect_describe_recovery_instances().returning(|_| {
        Ok(vec![RecoveryInstance {
            recovery_instance_id: fixtures::instance(0),
            ec2_instance_id: Some(fixtures::instance(0)),
            source_server_id: fixtures::server(0),
            job_id: Some(fixtures::job(0)),
            is_drill: Some(true),
        }])
    });
    drs.expect_terminate_recovery_instances()
        .withf(|instances| instances == [fixtures::instance(0)])
        .times(1)
        .returning(|_| {
            Ok(DrsJob {
                job_id: fixtures::job(9),
                status: JobStatus::Pending,
                participating_servers: vec![],
                created_time: Some(Timestamp(NOW)),
                ended_time: None,
                tag: None,
            })
        });
    drs
}

#[tokio::test]
async fn cleanup_through_either_api_terminates_an_ended_drills_instances_for_its_caller() {
    let route = Route::of(Operation::Cleanup).expect("cleanup has a route");
    assert_eq!(
        (route.method, route.path),
        ("POST", "/executions/{executionId}/cleanup")
    );
    for make in SHAPES {
        let event = signed(
            make(route.method, route.path, None, Some(json!({"planId": P}))),
            CALLER,
        );
        let clients = Clients::new(memory(vec![completed_drill()])).with_drs(terminating_drs());
        let answer = clients.serve(Operation::Cleanup, &event).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let body = proxy_body(&answer);
        assert_eq!(
            (
                body["status"].clone(),
                body["requested"].clone(),
                body["jobIds"].clone(),
                body["complete"].clone()
            ),
            (
                json!("COMPLETED"),
                json!([fixtures::server(0)]),
                json!([fixtures::job(9)]),
                json!(false)
            ),
            "{body}"
        );
        let trail = authors(&clients.store, fixtures::execution_id());
        assert!(
            trail.contains(&(Actor::Iam(CALLER.into()), "cleanup".to_owned())),
            "{trail:?}"
        );
        assert_eq!(clients.store.violations(), []);
    }
}

#[tokio::test]
async fn cleanup_refuses_a_recovery_and_a_drill_still_running_before_asking_drs() {
    let mut recovery = completed_drill();
    recovery.header.is_drill = false;
    for execution in [recovery, polling()] {
        let status = execution.status();
        // Untouched DRS: a call would fail the test.
        let clients = Clients::new(memory(vec![execution]));
        let event = signed(
            rest_event("cleanup", Some(json!({"planId": P})), None),
            CALLER,
        );
        let answer = clients.serve(Operation::Cleanup, &event).await;
        assert_eq!(answer["statusCode"], 400, "{status}: {answer}");
        assert_eq!(proxy_body(&answer)["error"], "INVALID_STATE", "{status}");
        assert!(
            authors(&clients.store, fixtures::execution_id())
                .iter()
                .all(|(_, op)| op != "cleanup"),
            "{status}: nothing recorded"
        );
    }
}

// ---- advance: DRS's launch results -------------------------------------------------------------

/// `job` with the tags launch puts on the job of `wave`'s attempt `attempt` of the fixture
/// execution.
fn tagged(
    mut job: execution_core::ports::DrsJob,
    wave: u32,
    attempt: u32,
) -> execution_core::ports::DrsJob {
    job.tag = Some(execution_core::ports::JobTag {
        execution_id: fixtures::execution_id(),
        wave_number: wave,
        attempt,
        part: 0,
    });
    job
}

/// DRS's launch result for server `server` of job `job`.
fn launched(job: usize, server: usize) -> Value {
    launch_result(
        &fixtures::job(job).to_string(),
        &fixtures::server(server).to_string(),
        "RECOVERY_LAUNCH_SUCCEEDED",
    )
}

/// DRS answering DescribeJobs (advance's, then poll's) with `job`, and nothing else but what poll
/// reads of recovery instances (none); StartRecovery is refused unless the test expects it.
fn describing(job: execution_core::ports::DrsJob) -> MockDrs {
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .returning(move |_| Ok(vec![job.clone()]));
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    drs
}

fn no_instances() -> MockEc2 {
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().returning(|_| Ok(vec![]));
    ec2
}

/// Job 0 of wave 0 (attempt 1) of [`polling`], its one server launched.
fn wave_0_job_launched() -> execution_core::ports::DrsJob {
    tagged(
        fixtures::drs_job(
            0,
            JobStatus::Completed,
            &[(fixtures::server(0), LaunchStatus::Launched)],
        ),
        0,
        1,
    )
}

/// Clients over a checked in-memory store holding [`polling`] (wave 0 in flight with job 0), DRS
/// saying job 0's one server launched, and launch's StartRecovery expected once, for wave 1.
fn advancing() -> Clients<MemoryStore> {
    let mut drs = describing(wave_0_job_launched());
    drs.expect_start_recovery()
        .withf(|r| {
            r.execution_id == fixtures::execution_id()
                && r.wave_number == 1
                && r.attempt == 1
                && r.source_servers == [fixtures::server(1)]
        })
        .times(1)
        .returning(|_| {
            Ok(fixtures::drs_job(
                1,
                JobStatus::Pending,
                &[(fixtures::server(1), LaunchStatus::Pending)],
            ))
        });
    Clients::new(memory(vec![polling()]))
        .with_drs(drs)
        .with_ec2(no_instances())
}

/// The answer's `outcome` and `reason` codes.
fn outcome(answer: &Value) -> (Value, Value) {
    assert_eq!(answer["statusCode"], 200, "{answer}");
    (answer["outcome"].clone(), answer["reason"].clone())
}

fn ignored(reason: &str) -> (Value, Value) {
    (json!("IGNORED"), json!(reason))
}

#[tokio::test]
async fn advance_on_a_waves_last_launch_result_polls_and_launches_the_next_wave() {
    let clients = advancing();
    let answer = clients.serve(Operation::Advance, &launched(0, 0)).await;
    assert_eq!(outcome(&answer), (json!("LAUNCHED"), Value::Null));
    assert_eq!(
        (
            answer["executionId"].clone(),
            answer["jobId"].clone(),
            answer["waveNumber"].clone(),
            answer["nextAction"].clone(),
        ),
        (json!(E), json!(fixtures::job(0)), json!(0), json!("LAUNCH")),
        "{answer}"
    );
    assert_eq!(answer["launch"]["waveNumber"], 1, "{answer}");
    assert_eq!(
        answer["launch"]["jobIds"],
        json!([fixtures::job(1)]),
        "{answer}"
    );
    let stored = clients.store.get(id(E)).expect("the execution");
    assert_eq!(stored.waves[0].status, WaveStatus::Completed);
    assert!(
        stored.waves[1].status.is_in_flight(),
        "{:?}",
        stored.waves[1].status
    );
    assert_eq!(
        stored.waves[1]
            .jobs
            .iter()
            .map(|j| j.job_id.clone())
            .collect::<Vec<_>>(),
        [fixtures::job(1)]
    );
    // Every change is recorded as the DRS event's, by advance.
    let authors = authors(&clients.store, id(E));
    assert!(!authors.is_empty());
    assert!(
        authors
            .iter()
            .all(|a| *a == (Actor::Event, "advance".to_owned())),
        "{authors:?}"
    );
}

#[tokio::test]
async fn the_same_launch_result_twice_launches_once_and_the_second_is_late() {
    let clients = advancing();
    let event = launched(0, 0);
    let first = clients.serve(Operation::Advance, &event).await;
    assert_eq!(outcome(&first).0, json!("LAUNCHED"));
    let (record, trail, counts) = (
        clients.store.get(id(E)),
        clients.store.trail(id(E)).len(),
        clients.store.counts(),
    );
    // StartRecovery is expected once (advancing): a second launch would fail the mock.
    let second = clients.serve(Operation::Advance, &event).await;
    assert_eq!(outcome(&second), ignored("LATE_EVENT"));
    assert_eq!(second["waveNumber"], 0, "{second}");
    assert_eq!(clients.store.get(id(E)), record, "nothing written");
    assert_eq!(clients.store.trail(id(E)).len(), trail);
    let after = clients.store.counts();
    assert_eq!(
        (after.commits, after.touches),
        (counts.commits, counts.touches),
        "no commit, no touch"
    );
}

#[tokio::test]
async fn advance_polls_but_leaves_what_is_not_a_launch_to_the_workflow() {
    // The next wave pauses first (the workflow parks for the operator), or there is none (the
    // execution has finished; finalize once its instances' details are in): poll's news is
    // written, nothing is launched.
    let mut pausing = polling();
    pausing.waves[1].pause_before_wave = true;
    let mut last = fixtures::execution(&[1]);
    last.header.status = ExecutionStatus::Polling;
    last.waves[0].status = WaveStatus::Started;
    fixtures::give_job(&mut last.waves[0], fixtures::job(0), Timestamp(1_500));
    for (execution, next) in [(pausing, "PAUSE"), (last, "WAIT")] {
        let mut drs = describing(wave_0_job_launched());
        drs.expect_start_recovery().never();
        let clients = Clients::new(memory(vec![execution]))
            .with_drs(drs)
            .with_ec2(no_instances());
        let answer = clients.serve(Operation::Advance, &launched(0, 0)).await;
        assert_eq!(outcome(&answer), (json!("POLLED"), Value::Null), "{next}");
        assert_eq!(answer["nextAction"], next, "{answer}");
        assert!(answer.get("launch").is_none(), "{answer}");
        let stored = clients.store.get(id(E)).expect("the execution");
        assert_eq!(
            stored.waves[0].status,
            WaveStatus::Completed,
            "poll's news is written"
        );
        assert_eq!(stored.status(), ExecutionStatus::Polling, "{next}");
    }
}

/// A store that answers `load` with `execution` (or nothing) and expects no write: a commit or a
/// touch would fail the test.
fn read_only(execution: Option<Execution>) -> MockStore {
    let mut store = MockStore::new();
    store
        .expect_load()
        .times(1)
        .returning(move |_| Ok(execution.clone()));
    store.expect_commit().never();
    store.expect_touch().never();
    store
}

/// DRS knowing only `job`: advance's one DescribeJobs; nothing is launched.
fn knowing(job: Option<execution_core::ports::DrsJob>) -> MockDrs {
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .times(1)
        .returning(move |_| Ok(job.clone().into_iter().collect()));
    drs.expect_start_recovery().never();
    drs
}

#[tokio::test]
async fn a_job_this_engine_did_not_start_or_drs_does_not_know_is_ignored_and_reads_no_record() {
    let untagged = fixtures::drs_job(
        0,
        JobStatus::Completed,
        &[(fixtures::server(0), LaunchStatus::Launched)],
    );
    for (job, reason) in [(Some(untagged), "FOREIGN_JOB"), (None, "JOB_NOT_FOUND")] {
        // The store expects nothing at all: not even a load.
        let mut store = MockStore::new();
        store.expect_load().never();
        store.expect_commit().never();
        store.expect_touch().never();
        let answer = Clients::new(store)
            .with_drs(knowing(job))
            .serve(Operation::Advance, &launched(0, 0))
            .await;
        assert_eq!(outcome(&answer), ignored(reason), "{answer}");
        assert_eq!(answer["jobId"], json!(fixtures::job(0)));
        assert!(answer.get("executionId").is_none(), "{answer}");
    }
}

#[tokio::test]
async fn a_job_of_an_execution_not_in_this_stacks_table_is_ignored() {
    let mut job = wave_0_job_launched();
    if let Some(tag) = job.tag.as_mut() {
        tag.execution_id = id(OTHER_ID);
    }
    let mut store = MockStore::new();
    store
        .expect_load()
        .withf(|asked| *asked == id(OTHER_ID))
        .times(1)
        .returning(|_| Ok(None));
    store.expect_commit().never();
    store.expect_touch().never();
    let answer = Clients::new(store)
        .with_drs(knowing(Some(job)))
        .serve(Operation::Advance, &launched(0, 0))
        .await;
    assert_eq!(outcome(&answer), ignored("UNKNOWN_EXECUTION"), "{answer}");
}

#[tokio::test]
async fn a_late_launch_result_writes_nothing() {
    // Wave 0 completed already (a poll saw it), wave 1 in flight.
    let mut completed = polling();
    completed.waves[0].status = WaveStatus::Completed;
    completed.waves[0].end_time = Some(Timestamp(1_800));
    completed.waves[0].server_statuses[0].launch_status = LaunchStatus::Launched;
    completed.waves[1].status = WaveStatus::Started;
    fixtures::give_job(&mut completed.waves[1], fixtures::job(1), Timestamp(1_900));
    // Wave 0 on its second attempt: the job is of the first.
    let mut retried = polling();
    retried.waves[0].attempt = 2;
    for execution in [completed, retried] {
        let answer = Clients::new(read_only(Some(execution)))
            .with_drs(knowing(Some(wave_0_job_launched())))
            .serve(Operation::Advance, &launched(0, 0))
            .await;
        assert_eq!(outcome(&answer), ignored("LATE_EVENT"), "{answer}");
        assert_eq!(
            (answer["executionId"].clone(), answer["waveNumber"].clone()),
            (json!(E), json!(0))
        );
    }
}

#[tokio::test]
async fn a_launch_result_for_an_execution_that_has_ended_writes_nothing() {
    for status in [
        ExecutionStatus::Completed,
        ExecutionStatus::Cancelled,
        ExecutionStatus::Failed,
        ExecutionStatus::CompletedWithErrors,
    ] {
        let mut ended = polling();
        ended.header.status = status;
        ended.header.end_time = Some(Timestamp(1_900));
        let answer = Clients::new(read_only(Some(ended)))
            .with_drs(knowing(Some(wave_0_job_launched())))
            .serve(Operation::Advance, &launched(0, 0))
            .await;
        assert_eq!(
            outcome(&answer),
            ignored("EXECUTION_FINISHED"),
            "{status}: {answer}"
        );
    }
}

#[tokio::test]
async fn while_other_servers_of_the_job_launch_nothing_is_polled() {
    // Two servers in one job: the event's has ended (DescribeJobs may lag and still say
    // PENDING), the other is still launching.
    let job = tagged(
        fixtures::drs_job(
            0,
            JobStatus::Started,
            &[
                (fixtures::server(0), LaunchStatus::Pending),
                (fixtures::server(1), LaunchStatus::InProgress),
            ],
        ),
        0,
        1,
    );
    // Decided on the job alone: the record is not even read.
    let answer = Clients::untouched()
        .with_drs(knowing(Some(job)))
        .serve(Operation::Advance, &launched(0, 0))
        .await;
    assert_eq!(outcome(&answer), ignored("JOB_STILL_LAUNCHING"), "{answer}");
}

#[tokio::test]
async fn malformed_launch_results_are_400s_and_reach_no_port() {
    let sample = drs_sample_event();
    let mut no_detail = sample.clone();
    no_detail.as_object_mut().map(|o| o.remove("detail"));
    let mut detail_text = sample.clone();
    detail_text["detail"] = json!("drsjob-04ca7d0d3fb6afa3e");
    let mut no_job = sample.clone();
    no_job["detail"] = json!({"state": "RECOVERY_LAUNCH_SUCCEEDED"});
    let mut job_number = sample.clone();
    job_number["detail"]["job-id"] = json!(4);
    let mut not_a_job = sample.clone();
    not_a_job["detail"]["job-id"] = json!("i-0123456789abcdef0");
    let mut huge = sample.clone();
    huge["detail"]["job-id"] = json!("drsjob-".repeat(50_000));
    for (event, code) in [
        (no_detail, "MISSING_PARAMETER"),
        (detail_text, "INVALID_PARAMETER"),
        (no_job, "MISSING_PARAMETER"),
        (job_number, "INVALID_PARAMETER"),
        (not_a_job, "INVALID_PARAMETER"),
        (huge, "INVALID_PARAMETER"),
    ] {
        // Every client refuses every call: a port reached would fail the test.
        let answer = Clients::untouched().serve(Operation::Advance, &event).await;
        assert_eq!(
            code_and_error(&answer),
            (json!(400), json!(code)),
            "{answer:.300}"
        );
        assert_eq!(
            answer.as_object().map(|o| o.len()),
            Some(3),
            "{answer:.300}"
        );
    }
}

#[tokio::test]
async fn advances_log_line_says_why_without_the_event() {
    let logs = Captured::default();
    let sink = logs.clone();
    let _guard = tracing::subscriber::set_default(crate::logging::subscriber(
        Some("JSON"),
        Some("DEBUG"),
        move || sink.clone(),
    ));
    // Refused: no job id in the detail.
    let mut no_job = drs_sample_event();
    no_job["detail"] = json!({"state": "RECOVERY_LAUNCH_SUCCEEDED", "is-drill": "FALSE"});
    Clients::untouched()
        .serve(Operation::Advance, &no_job)
        .await;
    // Ignored: a job this engine did not start.
    let untagged = fixtures::drs_job(0, JobStatus::Completed, &[]);
    Clients::untouched()
        .with_drs(knowing(Some(untagged)))
        .serve(Operation::Advance, &launched(0, 0))
        .await;
    // Refused by another function: a pause whose token does not read.
    Clients::untouched()
        .serve(
            Operation::Pause,
            &json!({"executionId": E, "planId": P, "taskToken": format!("{TOKEN} with spaces")}),
        )
        .await;

    let text = logs.text();
    let answered: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "answered")
        .map(|l| l["fields"].clone())
        .collect();
    assert_eq!(answered.len(), 3, "{text}");
    let refused = &answered[0];
    assert_eq!(
        (
            refused["operation"].clone(),
            refused["source"].clone(),
            refused["status_code"].clone(),
            refused["error"].clone(),
        ),
        (
            json!("advance"),
            json!("drs-event"),
            json!(400),
            json!("MISSING_PARAMETER")
        )
    );
    assert!(
        refused["why"]
            .as_str()
            .is_some_and(|m| m.contains("detail.job-id")),
        "the line says why: {refused}"
    );
    let foreign = &answered[1];
    assert_eq!(
        (
            foreign["job_id"].clone(),
            foreign["status_code"].clone(),
            foreign["outcome"].clone(),
            foreign["reason"].clone(),
        ),
        (
            json!(fixtures::job(0)),
            json!(200),
            json!("IGNORED"),
            json!("FOREIGN_JOB")
        )
    );
    assert_eq!(answered[2]["operation"], "pause");
    assert_eq!(answered[2]["error"], "INVALID_PARAMETER");
    // Never the event itself: not its id, its account, its resources; never a token.
    for leaked in [
        "9da9af57-9253-4406-87cb-7cc400e43465",
        "111122223333",
        "arn:aws:drs",
        "is-drill",
        TOKEN,
        "fake+task",
    ] {
        assert!(!text.contains(leaked), "{leaked} in the log: {text}");
    }
}
