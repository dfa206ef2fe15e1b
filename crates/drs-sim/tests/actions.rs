//! Wave actions in the simulator: the Lambda and SSM ports on their own (durations on the sim
//! clock, SSM's client token, scripted failures, per-call faults, every call kept), and whole
//! drills through the driver (order, a retry of a failed action, crashes after the call).

use std::collections::BTreeMap;
use std::time::Duration;

use drs_sim::driver::{drive, DriverConfig, Event, OnFailure, Outcome};
use drs_sim::{
    ActionOutcome, ActionScript, ActionScripts, Api, CallEffect, Sim, SimConfig, GARBAGE_STATUS,
};
use execution_core::actions::{judge_lambda_answer, ActionStatus, ActionWhen, RunEnd};
use execution_core::fixtures;
use execution_core::ids::ExecutionId;
use execution_core::model::{FailurePolicy, Timestamp, WaveFailure};
use execution_core::plan::Plan;
use execution_core::ports::{AutomationRequest, AutomationRunner, FunctionInvoker, ServiceError};
use execution_core::status::{ExecutionStatus, WaveStatus};
use serde_json::{json, Value};

type Events = Vec<(Timestamp, Event)>;

const CHECK: &str = "arn:aws:lambda:us-east-1:111122223333:function:db-health-check";
const RUNBOOK: &str = "dns-switch-to-recovery";

fn sim_with(actions: ActionScripts) -> Sim {
    Sim::new(SimConfig {
        actions,
        ..SimConfig::default()
    })
}

/// A Lambda action's payload, as act builds it (the fields the simulator reads).
fn payload(action: &str, attempt: u32) -> Vec<u8> {
    json!({
        "executionId": "e-1",
        "waveNumber": 1,
        "action": {"name": action, "when": "BEFORE_LAUNCH", "attempt": attempt},
        "servers": [{"sourceServerId": "s-1"}, {"sourceServerId": "s-2"}],
        "parameters": {},
    })
    .to_string()
    .into_bytes()
}

fn request(token: &str, record: &str) -> AutomationRequest {
    AutomationRequest {
        document: RUNBOOK.to_owned(),
        parameters: BTreeMap::from([("RecordName".to_owned(), vec![record.to_owned()])]),
        client_token: token.to_owned(),
        tags: vec![
            ("drs-waves:action".into(), "dns-switch".into()),
            ("drs-waves:attempt".into(), "1".into()),
        ],
    }
}

const TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// The ports
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_function_answers_ok_after_its_time_on_the_sim_clock_and_the_call_is_kept() {
    let sim = sim_with(ActionScripts::default());
    let before = sim.clock.now();
    let answer = sim
        .functions
        .invoke(CHECK, &payload("db-health-check", 1), TIMEOUT)
        .await
        .unwrap();
    let took = sim.clock.now().secs_since(before);
    assert!((2..=6).contains(&took), "took {took} s");
    assert_eq!(answer.function_error, None);
    let body: Value = serde_json::from_slice(&answer.payload).unwrap();
    assert_eq!(body, json!({"ok": true, "servers": 2}));
    assert_eq!(
        judge_lambda_answer(None, &answer.payload),
        RunEnd::Succeeded {
            summary: Some(r#"{"ok":true,"servers":2}"#.into())
        }
    );

    let calls = sim.calls.action_calls();
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(
        (
            c.api,
            c.target.as_str(),
            c.action.as_deref(),
            c.attempt,
            c.wave_number,
            c.at,
            &c.effect
        ),
        (
            Api::Invoke,
            CHECK,
            Some("db-health-check"),
            Some(1),
            Some(1),
            before,
            &CallEffect::Ran
        )
    );
    assert_eq!(sim.calls.action_runs("db-health-check", 1), 1);
    assert_eq!(sim.calls.action_runs("db-health-check", 2), 0);
    assert_eq!(sim.calls.count(Api::Invoke), 1);
}

#[tokio::test]
async fn a_runbook_goes_pending_in_progress_success_on_the_sim_clock() {
    let sim = sim_with(ActionScripts {
        automation_start: drs_sim::Spread::fixed(5),
        automation_duration: drs_sim::Spread::fixed(60),
        ..ActionScripts::default()
    });
    let id = sim
        .automation
        .start_automation(&request("tok-1", "app.example.com"))
        .await
        .unwrap();
    let status = |sim: &Sim, id: &str| {
        let id = id.to_owned();
        let ssm = sim.automation.clone();
        async move { ssm.automation(&id).await.unwrap().unwrap().status }
    };
    assert_eq!(status(&sim, &id).await, "Pending");
    sim.clock.advance_secs(5);
    assert_eq!(status(&sim, &id).await, "InProgress");
    sim.clock.advance_secs(54);
    assert_eq!(status(&sim, &id).await, "InProgress");
    sim.clock.advance_secs(1);
    assert_eq!(status(&sim, &id).await, "Success");
    assert_eq!(sim.automation.automation("nope").await.unwrap(), None);
    let kept = &sim.world.automations()[0];
    assert_eq!(kept.ended, Some(Timestamp(kept.started.secs() + 60)));
    assert_eq!(sim.calls.count(Api::GetAutomationExecution), 5);
}

#[tokio::test]
async fn the_same_client_token_starts_one_automation_and_other_parameters_are_refused() {
    let sim = sim_with(ActionScripts::default());
    let first = sim
        .automation
        .start_automation(&request("tok-1", "app.example.com"))
        .await
        .unwrap();
    let again = sim
        .automation
        .start_automation(&request("tok-1", "app.example.com"))
        .await
        .unwrap();
    assert_eq!(again, first);
    let other = sim
        .automation
        .start_automation(&request("tok-1", "www.example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&other, ServiceError::Rejected(m) if m.starts_with("IdempotentParameterMismatch")),
        "{other:?}"
    );
    let second = sim
        .automation
        .start_automation(&request("tok-2", "app.example.com"))
        .await
        .unwrap();
    assert_ne!(second, first);
    assert_eq!(sim.world.automations().len(), 2);
    let effects: Vec<CallEffect> = sim
        .calls
        .action_calls()
        .into_iter()
        .map(|c| c.effect)
        .collect();
    assert!(matches!(&effects[..], [
        CallEffect::Started(a),
        CallEffect::Repeated(b),
        CallEffect::Refused(_),
        CallEffect::Started(c),
    ] if *a == first && *b == first && *c == second));
    // The repeat and the refusal started nothing: one run of attempt 1 per token.
    assert_eq!(sim.calls.action_runs("dns-switch", 1), 2);
}

#[tokio::test]
async fn scripted_functions_fail_answer_garbage_refuse_and_throttle() {
    let script = |outcome| ActionScript::ending(outcome, "db unreachable on 5432");
    let sim = sim_with(
        ActionScripts::default()
            .with_function("fails", script(ActionOutcome::Fail))
            .with_function("not-ok", script(ActionOutcome::NotOk))
            .with_function("garbage", script(ActionOutcome::Garbage))
            .with_function("missing", script(ActionOutcome::Reject))
            .with_function(
                "busy",
                ActionScript {
                    throttled_calls: 2,
                    ..ActionScript::default()
                },
            )
            .with_function("flaky", script(ActionOutcome::Fail).first_runs(1)),
    );
    let invoke = |f: &'static str| {
        let functions = sim.functions.clone();
        async move { functions.invoke(f, &payload("a", 1), TIMEOUT).await }
    };
    let judged = |answer: Result<execution_core::ports::InvokeAnswer, ServiceError>| {
        let a = answer.unwrap();
        judge_lambda_answer(a.function_error.as_deref(), &a.payload)
    };
    assert!(
        matches!(judged(invoke("fails").await), RunEnd::Failed { error } if error == "function error (Unhandled): db unreachable on 5432")
    );
    assert!(
        matches!(judged(invoke("not-ok").await), RunEnd::Failed { error } if error.contains("ok: false: db unreachable"))
    );
    assert!(
        matches!(judged(invoke("garbage").await), RunEnd::Failed { error } if error.starts_with("the function's answer is not JSON"))
    );
    assert!(matches!(
        invoke("missing").await,
        Err(ServiceError::Rejected(m)) if m.starts_with("ResourceNotFoundException")
    ));
    for _ in 0..2 {
        assert!(matches!(
            invoke("busy").await,
            Err(ServiceError::Throttled { .. })
        ));
    }
    assert!(invoke("busy").await.is_ok());
    assert!(matches!(
        judged(invoke("flaky").await),
        RunEnd::Failed { .. }
    ));
    assert!(matches!(
        judged(invoke("flaky").await),
        RunEnd::Succeeded { .. }
    ));
    // Throttled and refused calls ran nothing.
    let ran: Vec<(String, bool)> = sim
        .calls
        .action_calls()
        .into_iter()
        .map(|c| (c.target, c.effect.ran()))
        .collect();
    let busy: Vec<bool> = ran
        .iter()
        .filter(|(t, _)| t == "busy")
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(busy, [false, false, true]);
    assert!(ran.iter().any(|(t, r)| t == "missing" && !r));
}

#[tokio::test]
async fn a_function_slower_than_the_timeout_is_not_answered_and_takes_the_whole_timeout() {
    let sim = sim_with(ActionScripts::default().with_function(
        CHECK,
        ActionScript {
            duration_seconds: Some(300),
            ..ActionScript::default()
        },
    ));
    let before = sim.clock.now();
    let err = sim
        .functions
        .invoke(CHECK, &payload("db-health-check", 1), TIMEOUT)
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable { .. }), "{err:?}");
    assert_eq!(sim.clock.now().secs_since(before), 120);
    // It may have run: the call counts as a run.
    assert_eq!(sim.calls.action_runs("db-health-check", 1), 1);
}

#[tokio::test]
async fn scripted_runbooks_fail_answer_garbage_and_are_stopped() {
    let sim = sim_with(
        ActionScripts {
            automation_start: drs_sim::Spread::fixed(1),
            automation_duration: drs_sim::Spread::fixed(10),
            ..ActionScripts::default()
        }
        .with_document(
            "fails",
            ActionScript::ending(ActionOutcome::Fail, "step UpdateRecord failed"),
        )
        .with_document("garbage", ActionScript::default())
        .with_document(
            "slow",
            ActionScript {
                duration_seconds: Some(3600),
                ..ActionScript::default()
            },
        ),
    );
    sim.world.script_actions(|a| {
        a.documents.insert(
            "garbage".into(),
            ActionScript::ending(ActionOutcome::Garbage, ""),
        );
    });
    let start = |doc: &str, token: &str| {
        let mut r = request(token, "x");
        r.document = doc.to_owned();
        let ssm = sim.automation.clone();
        async move { ssm.start_automation(&r).await.unwrap() }
    };
    let (fails, garbage, slow) = (
        start("fails", "t1").await,
        start("garbage", "t2").await,
        start("slow", "t3").await,
    );
    sim.clock.advance_secs(20);
    let state = |id: String| {
        let ssm = sim.automation.clone();
        async move { ssm.automation(&id).await.unwrap().unwrap() }
    };
    let failed = state(fails).await;
    assert_eq!(
        (failed.status.as_str(), failed.failure_message.as_deref()),
        ("Failed", Some("step UpdateRecord failed"))
    );
    assert_eq!(state(garbage.clone()).await.status, GARBAGE_STATUS);
    assert_eq!(state(slow.clone()).await.status, "InProgress");
    sim.automation.stop_automation(&slow).await.unwrap();
    sim.automation.stop_automation(&garbage).await.unwrap();
    assert_eq!(state(slow.clone()).await.status, "Cancelled");
    assert_eq!(state(garbage).await.status, "Cancelled");
    // Stopping one that ended is no error and changes nothing.
    sim.automation.stop_automation(&slow).await.unwrap();
    assert!(matches!(
        sim.automation.stop_automation("unknown").await,
        Err(ServiceError::Rejected(_))
    ));
}

#[tokio::test]
async fn per_call_faults_cover_the_action_calls_and_a_lost_start_is_resent_safely() {
    let sim = sim_with(ActionScripts::default());
    sim.calls.throttle(Api::Invoke, 1, None);
    assert!(matches!(
        sim.functions
            .invoke(CHECK, &payload("db-health-check", 1), TIMEOUT)
            .await,
        Err(ServiceError::Throttled { .. })
    ));
    assert_eq!(sim.calls.action_runs("db-health-check", 1), 0);

    sim.calls.fail_with_5xx(Api::StartAutomationExecution, 1);
    assert!(sim
        .automation
        .start_automation(&request("tok", "a"))
        .await
        .is_err());
    assert!(sim.world.automations().is_empty(), "a 5xx before acting");

    // Started, then the answer is lost: the same token again answers the same automation.
    sim.calls.lose_answers(Api::StartAutomationExecution, 1);
    assert!(sim
        .automation
        .start_automation(&request("tok", "a"))
        .await
        .is_err());
    let id = sim
        .automation
        .start_automation(&request("tok", "a"))
        .await
        .unwrap();
    assert_eq!(sim.world.automations().len(), 1);
    assert_eq!(sim.world.automations()[0].id, id);
    assert_eq!(sim.calls.action_runs("dns-switch", 1), 1);

    sim.calls.fail_with_5xx(Api::GetAutomationExecution, 1);
    assert!(sim.automation.automation(&id).await.is_err());
    assert!(sim.automation.automation(&id).await.is_ok());
    assert_eq!(sim.calls.count(Api::StartAutomationExecution), 3);
}

// ---------------------------------------------------------------------------------------------
// Drills
// ---------------------------------------------------------------------------------------------

fn action(
    name: &str,
    when: &str,
    kind: &str,
    target: &str,
    timeout: i64,
) -> execution_core::actions::PlanAction {
    execution_core::actions::PlanAction {
        name: name.to_owned(),
        when: when.to_owned(),
        kind: kind.to_owned(),
        target: target.to_owned(),
        parameters: None,
        timeout_seconds: Some(timeout),
        on_failure: Some("FAIL".to_owned()),
    }
}

/// Two waves of two servers: an SSM runbook after wave 0, a Lambda check before wave 1; a failed
/// wave pauses for the operator.
fn plan_with_actions() -> Plan {
    let mut plan = fixtures::plan(&[2, 2]);
    plan.on_wave_failure = Some(FailurePolicy::Pause);
    let mut after = action(
        "dns-switch",
        "AFTER_COMPLETE",
        "SSM_AUTOMATION",
        RUNBOOK,
        600,
    );
    after.parameters = Some(json!({"InstanceIds": "${instanceIds}"}));
    plan.waves[0].actions = vec![after];
    plan.waves[1].actions = vec![action(
        "db-health-check",
        "BEFORE_LAUNCH",
        "LAMBDA",
        CHECK,
        120,
    )];
    plan
}

async fn drill(sim: &Sim, plan: &Plan, on_failure: OnFailure) -> (Outcome, Events) {
    let target = sim.create(plan, ExecutionId::new_random()).await.unwrap();
    let mut events = Events::new();
    let config = DriverConfig {
        on_failure,
        ..DriverConfig::default()
    };
    let outcome = drive(sim, target, config, &mut events).await.unwrap();
    (outcome, events)
}

fn runs_of(outcome: &Outcome, wave: u32) -> Vec<(String, u32, ActionStatus)> {
    outcome
        .execution
        .wave(wave)
        .unwrap()
        .action_runs
        .iter()
        .map(|r| (r.name.clone(), r.attempt, r.status))
        .collect()
}

#[tokio::test]
async fn a_before_and_an_after_action_run_once_each_in_order_and_the_drill_completes() {
    let sim = sim_with(ActionScripts::default());
    let (outcome, events) = drill(&sim, &plan_with_actions(), OnFailure::Stop).await;
    let e = &outcome.execution;
    assert_eq!(e.status(), ExecutionStatus::Completed);

    let calls = sim.calls.action_calls();
    let order: Vec<(Api, Option<&str>, Option<u32>, bool)> = calls
        .iter()
        .map(|c| (c.api, c.action.as_deref(), c.attempt, c.effect.ran()))
        .collect();
    assert_eq!(
        order,
        [
            (
                Api::StartAutomationExecution,
                Some("dns-switch"),
                Some(1),
                true
            ),
            (Api::Invoke, Some("db-health-check"), Some(1), true),
        ]
    );
    let (w0, w1) = (e.wave(0).unwrap(), e.wave(1).unwrap());
    let runbook = w0.latest_run("dns-switch").unwrap();
    let check = w1.latest_run("db-health-check").unwrap();
    // The runbook starts once wave 0 completed, gets its instance ids, and ends before the check
    // of wave 1 runs; the check runs before wave 1's first StartRecovery.
    assert!(calls[0].at >= w0.end_time.unwrap());
    let started = &sim.world.automations()[0];
    let ids: Vec<String> = w0
        .server_statuses
        .iter()
        .filter_map(|s| s.instance_id.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(started.parameters["InstanceIds"], ids);
    assert_eq!(
        runbook.automation_execution_id.as_deref(),
        Some(started.id.as_str())
    );
    assert_eq!(runbook.status, ActionStatus::Succeeded);
    assert!(runbook.end_time.unwrap() <= calls[1].at);
    assert_eq!(check.status, ActionStatus::Succeeded);
    assert!(check.end_time.unwrap() <= w1.launch_time.unwrap());
    assert_eq!(check.summary.as_deref(), Some(r#"{"ok":true,"servers":2}"#));
    // The check's time passed on the sim clock.
    let took = check.end_time.unwrap().secs_since(check.start_time);
    assert!((2..=6).contains(&took), "{took}");

    // The driver told of each run's start and end.
    let changes: Vec<(String, ActionStatus)> = events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ActionChanged { run, .. } => Some((run.name.clone(), run.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("dns-switch".to_owned(), ActionStatus::Running),
            ("dns-switch".to_owned(), ActionStatus::Succeeded),
            ("db-health-check".to_owned(), ActionStatus::Succeeded),
        ]
    );
    assert_eq!(
        events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Acted(_)))
            .count(),
        2
    );
}

#[tokio::test]
async fn a_failed_action_fails_its_wave_and_the_operator_s_retry_runs_it_again_as_attempt_2() {
    let sim = sim_with(ActionScripts::default().with_function(
        CHECK,
        ActionScript::ending(ActionOutcome::NotOk, "replication lag 900 s").first_runs(1),
    ));
    let (outcome, events) = drill(&sim, &plan_with_actions(), OnFailure::Retry).await;
    assert_eq!(outcome.execution.status(), ExecutionStatus::Completed);
    assert_eq!(
        runs_of(&outcome, 1),
        [
            ("db-health-check".into(), 1, ActionStatus::Failed),
            ("db-health-check".into(), 2, ActionStatus::Succeeded),
        ]
    );
    assert_eq!(sim.calls.action_runs("db-health-check", 1), 1);
    assert_eq!(sim.calls.action_runs("db-health-check", 2), 1);
    let failed = events.iter().find_map(|(_, e)| match e {
        Event::WaveChanged { wave, .. } if wave.status == WaveStatus::Failed => Some(wave.clone()),
        _ => None,
    });
    let failed = failed.expect("wave 1 failed");
    assert_eq!(failed.wave_number, 1);
    assert_eq!(failed.failure_reason, Some(WaveFailure::ActionFailed));
    assert_eq!(failed.attempt, 0, "the wave never launched");
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        Event::Decided {
            wave_number: 1,
            decision: execution_core::api::Operation::Retry,
            ..
        }
    )));
    // Wave 1 launched once, after the second run.
    let w1 = outcome.execution.wave(1).unwrap();
    assert_eq!(w1.attempt, 1);
    assert!(w1.launch_time.unwrap() >= w1.action_runs[1].end_time.unwrap());
}

#[tokio::test]
async fn a_crash_after_the_invoke_never_invokes_the_function_again_for_that_attempt() {
    let sim = sim_with(ActionScripts::default());
    sim.calls.crash_after(Api::Invoke, 1);
    let (outcome, events) = drill(&sim, &plan_with_actions(), OnFailure::Retry).await;
    assert_eq!(outcome.execution.status(), ExecutionStatus::Completed);
    // act died after the invoke: the driver saw its Lambda die and retried, and act was then
    // refused (the run is taken); poll failed the run past its timeout and grace.
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        Event::Retrying { error, .. } if error.error == "LAMBDA_DIED"
    )));
    assert_eq!(sim.calls.action_runs("db-health-check", 1), 1);
    assert_eq!(sim.calls.action_runs("db-health-check", 2), 1);
    let w1 = outcome.execution.wave(1).unwrap();
    let first = &w1.action_runs[0];
    assert_eq!((first.attempt, first.status), (1, ActionStatus::TimedOut));
    let held = first.end_time.unwrap().secs_since(first.start_time);
    assert!(
        held > 120 + execution_core::actions::ANSWER_GRACE_SECS,
        "timed out after {held} s"
    );
    assert_eq!(w1.action_runs[1].status, ActionStatus::Succeeded);
    // The wave failed (ACTION_FAILED) and paused for the operator before the retry.
    assert!(events.iter().any(|(_, e)| matches!(
        e,
        Event::Paused {
            failed_wave: Some(1),
            ..
        }
    )));
}

#[tokio::test]
async fn a_crash_after_the_runbook_start_resends_the_token_and_starts_nothing_new() {
    let sim = sim_with(ActionScripts::default());
    sim.calls.crash_after(Api::StartAutomationExecution, 1);
    let (outcome, _) = drill(&sim, &plan_with_actions(), OnFailure::Stop).await;
    assert_eq!(outcome.execution.status(), ExecutionStatus::Completed);
    let automations = sim.world.automations();
    assert_eq!(automations.len(), 1, "one automation for the attempt");
    let id = &automations[0].id;
    let effects: Vec<CallEffect> = sim
        .calls
        .action_calls()
        .into_iter()
        .filter(|c| c.api == Api::StartAutomationExecution)
        .map(|c| c.effect)
        .collect();
    assert_eq!(
        effects,
        [
            CallEffect::Started(id.clone()),
            CallEffect::Repeated(id.clone())
        ]
    );
    let run = outcome
        .execution
        .wave(0)
        .unwrap()
        .latest_run("dns-switch")
        .unwrap()
        .clone();
    assert_eq!(
        (
            run.attempt,
            run.status,
            run.automation_execution_id.as_ref()
        ),
        (1, ActionStatus::Succeeded, Some(id))
    );
    // Sent again only once the claim grace had passed.
    assert!(run.claimed_time.secs_since(run.start_time) > sim.policy.launch_claim_grace_secs);
}

#[tokio::test]
async fn a_runbook_past_its_timeout_is_stopped_and_a_continue_action_lets_the_drill_go_on() {
    let sim = sim_with(ActionScripts::default().with_document(
        RUNBOOK,
        ActionScript {
            duration_seconds: Some(3600),
            ..ActionScript::default()
        },
    ));
    let mut plan = plan_with_actions();
    plan.waves[0].actions[0].on_failure = Some("CONTINUE".into());
    let (outcome, events) = drill(&sim, &plan, OnFailure::Stop).await;
    assert_eq!(outcome.execution.status(), ExecutionStatus::Completed);
    let run = outcome.execution.wave(0).unwrap().action_runs[0].clone();
    assert_eq!(run.status, ActionStatus::TimedOut);
    assert!(run.error.as_deref().unwrap().contains("stopped"), "{run:?}");
    assert_eq!(sim.calls.count(Api::StopAutomationExecution), 1);
    assert_eq!(sim.world.automations()[0].status, "Cancelled");
    assert!(!events.iter().any(|(_, e)| matches!(
        e,
        Event::WaveChanged { wave, .. } if wave.status == WaveStatus::Failed
    )));
    assert_eq!(
        runs_of(&outcome, 1),
        [("db-health-check".into(), 1, ActionStatus::Succeeded)]
    );
    assert_eq!(run.when, ActionWhen::AfterComplete);
}

/// An operator pauses while a wave's BEFORE_LAUNCH runbook runs; the runbook then fails (FAIL)
/// and fails the wave the pause stands before: the record stays one the engine can write, and
/// the failed wave's decision takes the pause over.
#[tokio::test]
async fn a_runbook_that_fails_after_an_operator_pause_leaves_a_record_that_can_be() {
    use execution_core::api::{PauseRequest, PollRequest, Request};
    let sim = sim_with(ActionScripts::default().with_document(
        RUNBOOK,
        ActionScript::ending(ActionOutcome::Fail, "step UpdateRecord failed"),
    ));
    let mut plan = fixtures::plan(&[1, 1]);
    plan.on_wave_failure = Some(FailurePolicy::Pause);
    plan.waves[0].actions = vec![action(
        "dns-switch",
        "BEFORE_LAUNCH",
        "SSM_AUTOMATION",
        RUNBOOK,
        600,
    )];
    let target = sim.create(&plan, ExecutionId::new_random()).await.unwrap();
    let run = |request| {
        let sim = sim.clone();
        async move {
            let operation = Request::operation(&request);
            execution_core::ops::run(&sim.ports(), request, drs_sim::driver::actor(operation)).await
        }
    };
    let acted = run(Request::Act(target)).await;
    assert_eq!(acted["actionStatus"], "RUNNING", "{acted}");
    let paused = run(Request::Pause(PauseRequest {
        target,
        task_token: None,
    }))
    .await;
    assert_eq!(paused["pausedBeforeWave"], 0, "{paused}");
    sim.clock.advance_secs(300);
    let polled = run(Request::Poll(PollRequest {
        target,
        summary: true,
        workflow_run: None,
    }))
    .await;
    assert_eq!(polled["statusCode"], 200, "{polled}");
    let record = sim.store.get(target.execution_id).unwrap();
    assert_eq!(record.waves[0].status, WaveStatus::Failed);
    assert_eq!(execution_core::invariants::check(&record), []);
    assert_eq!(polled["nextAction"], "PAUSE", "{polled}");
    let parked = run(Request::Pause(PauseRequest {
        target,
        task_token: Some(sim.workflow.issue_token()),
    }))
    .await;
    assert_eq!(parked["pauseReason"], "WAVE_FAILED", "{parked}");
    assert_eq!(parked["failedWave"], 0, "{parked}");
}
