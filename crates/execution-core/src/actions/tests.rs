use serde_json::json;

use super::*;
use crate::fixtures;
use crate::model::{Execution, FailurePolicy, WaveFailure};
use crate::plan::{Plan, PlanProblem};
use crate::rules::{next_action, NextAction, Policy};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

fn plan_action(raw: serde_json::Value) -> PlanAction {
    serde_json::from_value(raw).expect("an action document")
}

fn lambda_doc() -> serde_json::Value {
    json!({"name": "db-check", "when": "BEFORE_LAUNCH", "type": "LAMBDA",
           "target": "arn:aws:lambda:us-east-1:111122223333:function:db-check",
           "timeoutSeconds": 60})
}

/// A plan of `sizes` whose wave `wave` carries `actions` (documents).
fn plan_with(sizes: &[usize], wave: usize, actions: Vec<serde_json::Value>) -> Plan {
    let mut plan = fixtures::plan(sizes);
    plan.waves[wave].actions = actions.into_iter().map(plan_action).collect();
    plan
}

pub(crate) fn action(
    name: &str,
    when: ActionWhen,
    kind: ActionKind,
    on_failure: ActionOnFailure,
) -> WaveAction {
    WaveAction {
        name: name.into(),
        when,
        kind,
        target: match kind {
            ActionKind::Lambda => format!("fn-{name}"),
            ActionKind::SsmAutomation => format!("doc-{name}"),
        },
        parameters: None,
        timeout_seconds: 300,
        on_failure,
    }
}

#[test]
fn a_good_action_is_checked_into_what_the_execution_holds() {
    let checked = plan_action(lambda_doc()).check(3600, 2).unwrap();
    assert_eq!(checked.when, ActionWhen::BeforeLaunch);
    assert_eq!(checked.kind, ActionKind::Lambda);
    assert_eq!(checked.on_failure, ActionOnFailure::Fail, "FAIL by default");
    let e = plan_with(&[1, 1], 1, vec![lambda_doc()])
        .new_execution(fixtures::execution_id(), Timestamp(1000))
        .unwrap();
    assert_eq!(e.waves[1].actions, vec![checked]);
    assert!(e.waves[0].actions.is_empty());
}

#[test]
fn every_fault_of_every_action_is_a_plan_problem() {
    let bad = |patch: serde_json::Value| {
        let mut doc = lambda_doc();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                doc.as_object_mut().unwrap().remove(k);
            } else {
                doc[k] = v.clone();
            }
        }
        plan_action(doc).check(600, 2).unwrap_err()
    };
    assert_eq!(
        bad(json!({"when": "AFTER_LAUNCH"})),
        [ActionFault::UnknownWhen("AFTER_LAUNCH".into())]
    );
    assert_eq!(
        bad(json!({"type": "STEP_FUNCTION"})),
        [ActionFault::UnknownType("STEP_FUNCTION".into())]
    );
    assert_eq!(
        bad(json!({"onFailure": "IGNORE"})),
        [ActionFault::UnknownOnFailure("IGNORE".into())]
    );
    assert_eq!(bad(json!({"target": "  "})), [ActionFault::EmptyTarget]);
    assert_eq!(
        bad(json!({"target": "has space"})),
        [ActionFault::BadFunction]
    );
    assert_eq!(
        bad(json!({"type": "SSM_AUTOMATION", "target": "x"})),
        [ActionFault::BadDocument]
    );
    assert_eq!(
        bad(json!({"timeoutSeconds": null})),
        [ActionFault::MissingTimeout]
    );
    assert!(matches!(
        bad(json!({"timeoutSeconds": 0}))[..],
        [ActionFault::TimeoutOutOfRange {
            value: 0,
            max: 600,
            ..
        }]
    ));
    // Longer than the wave allows.
    assert!(matches!(
        bad(json!({"type": "SSM_AUTOMATION", "target": "dns-switch", "timeoutSeconds": 601}))[..],
        [ActionFault::TimeoutOutOfRange {
            value: 601,
            max: 600,
            ..
        }]
    ));
    // A Lambda action answers within act's own 900 s, whatever the wave allows.
    assert!(matches!(
        plan_action(json!({"name": "x", "when": "BEFORE_LAUNCH", "type": "LAMBDA", "target": "f", "timeoutSeconds": 841}))
            .check(3600, 2)
            .unwrap_err()[..],
        [ActionFault::TimeoutOutOfRange { value: 841, max: MAX_LAMBDA_TIMEOUT_SECONDS, .. }]
    ));
    assert_eq!(bad(json!({"name": ""})), [ActionFault::EmptyName]);
    assert_eq!(bad(json!({"name": "a b"})), [ActionFault::NameCharacters]);
    assert_eq!(
        bad(json!({"parameters": [1]})),
        [ActionFault::ParametersNotObject]
    );
    assert_eq!(
        bad(json!({"type": "SSM_AUTOMATION", "target": "dns-switch", "parameters": {"N": 5}})),
        [ActionFault::ParameterNotStrings("N".into())]
    );
    assert!(matches!(
        bad(
            json!({"type": "SSM_AUTOMATION", "target": "dns-switch", "parameters": {"Ids": "${instanceId}"}})
        )[..],
        [ActionFault::UnknownPlaceholder { .. }]
    ));
    assert_eq!(
        bad(
            json!({"parameters": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": 1}}}}}}}}}})
        ),
        [ActionFault::ParametersTooDeep(9)]
    );
    // SSM's own limits on parameters.
    let ssm = |params: serde_json::Value, servers: usize| {
        plan_action(
            json!({"name": "dns", "when": "AFTER_COMPLETE", "type": "SSM_AUTOMATION",
            "target": "dns-switch", "timeoutSeconds": 60, "parameters": params}),
        )
        .check(600, servers)
    };
    assert!(ssm(json!({"InstanceIds": "${instanceIds}"}), 50).is_ok());
    assert_eq!(
        ssm(json!({"InstanceIds": "${instanceIds}"}), 51).unwrap_err(),
        [ActionFault::SsmParameterValues {
            name: "InstanceIds".into(),
            count: 51
        }]
    );
    assert_eq!(
        ssm(json!({"Ids": ["${hostnames}", "extra"]}), 50).unwrap_err(),
        [ActionFault::SsmParameterValues {
            name: "Ids".into(),
            count: 51
        }]
    );
    assert_eq!(
        ssm(json!({"Zone": ""}), 1).unwrap_err(),
        [ActionFault::SsmParameterValue("Zone".into())]
    );
    assert_eq!(
        ssm(json!({"Zone": "z".repeat(513)}), 1).unwrap_err(),
        [ActionFault::SsmParameterValue("Zone".into())]
    );
    assert_eq!(
        ssm(json!({"N".repeat(51): "x"}), 1).unwrap_err(),
        [ActionFault::SsmParameterName("N".repeat(51))]
    );
    // A wave's own instances exist only after it launched.
    let before = plan_action(
        json!({"name": "x", "when": "BEFORE_LAUNCH", "type": "SSM_AUTOMATION",
        "target": "dns-switch", "timeoutSeconds": 60, "parameters": {"Ids": "${privateIps}"}}),
    )
    .check(600, 2);
    assert_eq!(
        before.unwrap_err(),
        [ActionFault::ListBeforeLaunch {
            name: "Ids".into(),
            placeholder: "privateIps"
        }]
    );
    let big = "x".repeat(MAX_PARAMETERS_BYTES);
    assert!(matches!(
        bad(json!({"parameters": {"blob": big}}))[..],
        [ActionFault::ParametersTooLarge(_)]
    ));
    // Everything wrong at once is said at once.
    assert_eq!(
        bad(json!({"when": "x", "type": "y", "onFailure": "z", "target": "", "timeoutSeconds": null})).len(),
        5
    );
}

#[test]
fn plans_report_action_problems_with_the_wave_and_the_action() {
    let mut docs: Vec<serde_json::Value> = (0..11)
        .map(|i| json!({"name": format!("a{i}"), "when": "BEFORE_LAUNCH", "type": "LAMBDA", "target": "f", "timeoutSeconds": 10}))
        .collect();
    docs.push(json!({"name": "a0", "when": "NEVER", "type": "LAMBDA", "target": "f", "timeoutSeconds": 10}));
    let problems = plan_with(&[1, 1], 1, docs).problems();
    assert!(problems.contains(&PlanProblem::TooManyActions { wave: 1, count: 12 }));
    assert!(problems.contains(&PlanProblem::Action {
        wave: 1,
        action: "'a0'".into(),
        fault: ActionFault::DuplicateName
    }));
    assert!(problems.contains(&PlanProblem::Action {
        wave: 1,
        action: "'a0'".into(),
        fault: ActionFault::UnknownWhen("NEVER".into())
    }));
    assert_eq!(
        problems
            .iter()
            .find(|p| matches!(
                p,
                PlanProblem::Action {
                    fault: ActionFault::UnknownWhen(_),
                    ..
                }
            ))
            .unwrap()
            .to_string(),
        "action 'a0' of wave 1 has an unknown when 'NEVER' (BEFORE_LAUNCH or AFTER_COMPLETE)"
    );
    // The wave's own timeout bounds its actions (here the plan's default).
    let mut plan = plan_with(
        &[1],
        0,
        vec![
            json!({"name": "slow", "when": "AFTER_COMPLETE", "type": "SSM_AUTOMATION", "target": "runbook", "timeoutSeconds": 900}),
        ],
    );
    plan.wave_timeout_seconds = Some(600);
    assert!(matches!(
        plan.problems()[..],
        [PlanProblem::Action { wave: 0, .. }]
    ));
    assert!(plan
        .new_execution(fixtures::execution_id(), Timestamp(0))
        .is_err());
    // An unknown field of an action is refused by the document's parse.
    assert!(serde_json::from_value::<PlanAction>(json!({"name": "x", "when": "BEFORE_LAUNCH", "type": "LAMBDA", "target": "f", "timeoutSeconds": 1, "retries": 3})).is_err());
}

#[test]
fn a_lambda_answer_is_judged_without_trusting_it() {
    assert!(
        matches!(judge_lambda_answer(None, br#"{"ok": true, "latencyMs": 3}"#), RunEnd::Succeeded { summary: Some(s) } if s.contains("latencyMs"))
    );
    assert!(matches!(
        judge_lambda_answer(None, b"null"),
        RunEnd::Succeeded { .. }
    ));
    match judge_lambda_answer(None, br#"{"ok": false, "message": "replica lag 40 s"}"#) {
        RunEnd::Failed { error } => assert!(error.contains("replica lag 40 s"), "{error}"),
        other => panic!("{other:?}"),
    }
    match judge_lambda_answer(
        Some("Unhandled"),
        br#"{"errorMessage": "boom", "errorType": "Error"}"#,
    ) {
        RunEnd::Failed { error } => assert_eq!(error, "function error (Unhandled): boom"),
        other => panic!("{other:?}"),
    }
    // Garbage: the answer's first bytes, clipped, never a panic.
    let garbage: Vec<u8> = b"<html>502 Bad Gateway</html>"
        .iter()
        .copied()
        .chain(std::iter::repeat_n(b'x', 10_000))
        .chain([0xff, 0xfe])
        .collect();
    match judge_lambda_answer(None, &garbage) {
        RunEnd::Failed { error } => {
            assert!(
                error.starts_with("the function's answer is not JSON: <html>502 Bad Gateway"),
                "{error}"
            );
            assert!(error.chars().count() < 400);
        }
        other => panic!("{other:?}"),
    }
    match judge_lambda_answer(Some("Unhandled"), &[0xff, 0x00, 0x41]) {
        RunEnd::Failed { error } => {
            assert!(error.starts_with("function error (Unhandled): "), "{error}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn automation_statuses_are_read_as_ssm_names_them() {
    for ok in ["Success", "CompletedWithSuccess"] {
        assert_eq!(automation_ended(ok), Some(true));
    }
    for failed in [
        "Failed",
        "TimedOut",
        "Cancelled",
        "Rejected",
        "CompletedWithFailure",
        "Exited",
    ] {
        assert_eq!(automation_ended(failed), Some(false), "{failed}");
    }
    for running in [
        "Pending",
        "InProgress",
        "Waiting",
        "Cancelling",
        "PendingApproval",
        "Scheduled",
        "SomethingNew",
    ] {
        assert_eq!(automation_ended(running), None, "{running}");
    }
}

/// Wave 0 COMPLETED with its servers described; wave 1 PENDING; the execution POLLING.
fn after_wave_0() -> Execution {
    let mut e = fixtures::execution(&[2, 1]);
    e.header.status = ExecutionStatus::Polling;
    e.header.start_time = Some(Timestamp(1000));
    let w = &mut e.waves[0];
    fixtures::give_job(w, fixtures::job(0), Timestamp(1000));
    w.status = WaveStatus::Completed;
    w.end_time = Some(Timestamp(1200));
    w.recovery_time_seconds = Some(200);
    for (i, s) in w.server_statuses.iter_mut().enumerate() {
        s.launch_status = LaunchStatus::Launched;
        s.instance_id = Some(fixtures::instance(i));
        s.recovery_instance_id = Some(fixtures::instance(i));
        s.instance_state = Some("running".into());
        s.private_ip = Some(format!("10.0.0.{i}"));
        s.hostname = Some(format!("ip-10-0-0-{i}.ec2.internal"));
    }
    e
}

fn run(name: &str, when: ActionWhen, attempt: u32, status: ActionStatus, at: i64) -> ActionRun {
    ActionRun {
        name: name.into(),
        when,
        attempt,
        status,
        start_time: Timestamp(at),
        claimed_time: Timestamp(at),
        end_time: (status != ActionStatus::Running).then_some(Timestamp(at + 5)),
        automation_execution_id: None,
        retry_time: None,
        sent_parameters: None,
        refusals: 0,
        summary: None,
        error: None,
    }
}

#[test]
fn after_complete_actions_run_before_the_next_waves_planned_pause() {
    let policy = Policy::default();
    let mut e = after_wave_0();
    e.waves[1].pause_before_wave = true;
    e.waves[0].actions = vec![action(
        "dns",
        ActionWhen::AfterComplete,
        ActionKind::SsmAutomation,
        ActionOnFailure::Fail,
    )];
    let at = Timestamp(1300);
    assert_eq!(next_action(&e, at, &policy), NextAction::Act);
    assert_eq!(
        crate::rules::pause_due(&e),
        None,
        "the planned pause waits for wave 0's actions"
    );
    assert!(crate::rules::finished(&e).is_none());

    // Running: WAIT, and still no pause.
    e.waves[0].action_runs.push(run(
        "dns",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Running,
        1300,
    ));
    assert_eq!(next_action(&e, Timestamp(1310), &policy), NextAction::Wait);
    assert_eq!(crate::rules::pause_due(&e), None);

    // Done: now the planned pause.
    e.waves[0].action_runs[0] = run(
        "dns",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Succeeded,
        1300,
    );
    assert_eq!(next_action(&e, Timestamp(1400), &policy), NextAction::Pause);

    // An operator's pause stops an action that has not started.
    let mut paused = after_wave_0();
    paused.waves[0].actions = e.waves[0].actions.clone();
    paused.header.status = ExecutionStatus::Paused;
    paused.header.pause_reason = Some(crate::model::PauseReason::Operator);
    paused.header.paused_before_wave = Some(1);
    assert_eq!(next_action(&paused, at, &policy), NextAction::Pause);
}

#[test]
fn after_complete_actions_wait_for_the_instances_details_then_the_grace() {
    let policy = Policy::default();
    let mut e = after_wave_0();
    e.waves[0].actions = vec![action(
        "dns",
        ActionWhen::AfterComplete,
        ActionKind::Lambda,
        ActionOnFailure::Fail,
    )];
    e.waves[0].server_statuses[1].private_ip = None;
    e.waves[0].server_statuses[1].instance_state = None;
    assert_eq!(next_action(&e, Timestamp(1210), &policy), NextAction::Wait);
    assert_eq!(
        next_action(
            &e,
            Timestamp(1200 + policy.details_grace_secs as i64 + 1),
            &policy
        ),
        NextAction::Act,
        "past the details grace the action runs with what is known"
    );
}

#[test]
fn before_launch_actions_come_after_the_planned_pause_and_before_the_launch() {
    let policy = Policy::default();
    let mut e = fixtures::execution(&[1, 1]);
    e.waves[0].pause_before_wave = true;
    e.waves[0].actions = vec![
        action(
            "check-a",
            ActionWhen::BeforeLaunch,
            ActionKind::Lambda,
            ActionOnFailure::Fail,
        ),
        action(
            "check-b",
            ActionWhen::BeforeLaunch,
            ActionKind::SsmAutomation,
            ActionOnFailure::Continue,
        ),
    ];
    let at = Timestamp(1000);
    assert_eq!(next_action(&e, at, &policy), NextAction::Pause);
    e.waves[0].pause_approved = true;
    assert_eq!(next_action(&e, at, &policy), NextAction::Act);
    assert!(matches!(
        action_step(&e, at, 120, 120, true),
        Some(ActionStep::Due {
            wave: 0,
            index: 0,
            resend: false,
            ..
        })
    ));
    e.waves[0].action_runs.push(run(
        "check-a",
        ActionWhen::BeforeLaunch,
        1,
        ActionStatus::Succeeded,
        1000,
    ));
    assert!(matches!(
        action_step(&e, at, 120, 120, true),
        Some(ActionStep::Due { index: 1, .. })
    ));
    // A CONTINUE action that failed is done.
    e.waves[0].action_runs.push(run(
        "check-b",
        ActionWhen::BeforeLaunch,
        1,
        ActionStatus::TimedOut,
        1010,
    ));
    assert_eq!(
        next_action(&e, Timestamp(1100), &policy),
        NextAction::Launch
    );
}

#[test]
fn a_run_to_send_again_is_due_after_its_backoff_or_a_lost_runbook_start_after_the_grace() {
    let policy = Policy::default();
    let mut e = fixtures::execution(&[1]);
    e.header.status = ExecutionStatus::Polling;
    e.waves[0].actions = vec![action(
        "fn",
        ActionWhen::BeforeLaunch,
        ActionKind::Lambda,
        ActionOnFailure::Fail,
    )];
    let mut r = run(
        "fn",
        ActionWhen::BeforeLaunch,
        1,
        ActionStatus::Running,
        1000,
    );
    r.retry_time = Some(Timestamp(1010));
    e.waves[0].action_runs = vec![r];
    assert_eq!(next_action(&e, Timestamp(1005), &policy), NextAction::Wait);
    assert_eq!(next_action(&e, Timestamp(1010), &policy), NextAction::Act);
    // A Lambda being invoked (no backoff) is never sent again, however old.
    e.waves[0].action_runs[0].retry_time = None;
    assert_eq!(
        next_action(&e, Timestamp(99_999), &policy),
        NextAction::Wait
    );
    // A runbook whose start has no recorded answer: sent again once the claim grace passed.
    e.waves[0].actions[0].kind = ActionKind::SsmAutomation;
    assert_eq!(
        next_action(&e, Timestamp(1000 + 120), &policy),
        NextAction::Wait
    );
    assert_eq!(
        next_action(&e, Timestamp(1000 + 121), &policy),
        NextAction::Act
    );
    // One that SSM answered is followed by poll.
    e.waves[0].action_runs[0].automation_execution_id = Some("auto-1".into());
    assert_eq!(
        next_action(&e, Timestamp(99_999), &policy),
        NextAction::Wait
    );
}

#[test]
fn a_running_action_holds_off_finalize_even_when_cancelling() {
    let policy = Policy::default();
    let mut e = after_wave_0();
    e.waves[0].actions = vec![action(
        "dns",
        ActionWhen::AfterComplete,
        ActionKind::SsmAutomation,
        ActionOnFailure::Fail,
    )];
    e.waves[0].action_runs.push(run(
        "dns",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Running,
        1300,
    ));
    e.header.status = ExecutionStatus::Cancelling;
    assert_eq!(crate::rules::finished(&e), None);
    assert_eq!(next_action(&e, Timestamp(1310), &policy), NextAction::Wait);
    assert_eq!(crate::rules::outcome(&e), Err(vec![0, 1]));
    // Ended: the cancel finalizes; an action that never started does not hold it.
    e.waves[0].action_runs[0] = run(
        "dns",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Failed,
        1300,
    );
    assert_eq!(crate::rules::finished(&e), Some(ExecutionStatus::Cancelled));
}

#[test]
fn settling_a_failed_fail_action_fails_its_wave_and_a_continue_one_does_not() {
    let mut e = after_wave_0();
    e.waves[0].on_failure = Some(FailurePolicy::Pause);
    e.waves[0].actions = vec![
        action(
            "dns",
            ActionWhen::AfterComplete,
            ActionKind::SsmAutomation,
            ActionOnFailure::Fail,
        ),
        action(
            "ticket",
            ActionWhen::AfterComplete,
            ActionKind::Lambda,
            ActionOnFailure::Continue,
        ),
    ];
    let w = &mut e.waves[0];
    w.action_runs.push(run(
        "ticket",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Running,
        1300,
    ));
    let end = RunEnd::Failed {
        error: "ticketing down".into(),
    };
    assert_eq!(
        settle_run(w, "ticket", 1, &end, Timestamp(1310)),
        Some(WaveStatus::Completed)
    );
    assert_eq!(w.action_runs[0].status, ActionStatus::Failed);
    assert_eq!(w.action_runs[0].end_time, Some(Timestamp(1310)));
    // Settled already: nothing to settle.
    assert_eq!(settle_run(w, "ticket", 1, &end, Timestamp(1320)), None);

    w.action_runs.push(run(
        "dns",
        ActionWhen::AfterComplete,
        1,
        ActionStatus::Running,
        1320,
    ));
    let end = RunEnd::TimedOut {
        error: "automation a-1 still running after 300 s; stopped".into(),
    };
    assert_eq!(
        settle_run(w, "dns", 1, &end, Timestamp(1700)),
        Some(WaveStatus::Failed)
    );
    assert_eq!(w.failure_reason, Some(WaveFailure::ActionFailed));
    assert_eq!(
        w.end_time,
        Some(Timestamp(1200)),
        "the wave's servers settled when they did"
    );
    assert!(w
        .status_message
        .as_deref()
        .unwrap()
        .contains("AFTER_COMPLETE action dns TIMED_OUT (attempt 1)"));
    assert_eq!(w.failed_action().map(|(a, _)| a.name.as_str()), Some("dns"));
}

#[test]
fn what_an_action_is_given() {
    let mut e = after_wave_0();
    e.waves[0].wave_name = Some("web".into());
    let mut a = action(
        "dns",
        ActionWhen::AfterComplete,
        ActionKind::SsmAutomation,
        ActionOnFailure::Fail,
    );
    a.parameters = Some(
        json!({"InstanceIds": "${instanceIds}", "Ips": ["${privateIps}", "extra"], "Zone": "corp.example.com", "Wave": "${waveNumber}", "Literal": "${notAPlaceholder"}),
    );
    let params = automation_parameters(&e, &e.waves[0], &a);
    assert_eq!(
        params["InstanceIds"],
        vec![
            fixtures::instance(0).to_string(),
            fixtures::instance(1).to_string()
        ]
    );
    assert_eq!(params["Ips"], vec!["10.0.0.0", "10.0.0.1", "extra"]);
    assert_eq!(params["Zone"], vec!["corp.example.com"]);
    assert_eq!(params["Wave"], vec!["0"]);
    assert_eq!(params["Literal"], vec!["${notAPlaceholder"]);
    // SSM takes no empty value: an unnamed wave is named by its number.
    let mut unnamed = e.clone();
    unnamed.waves[0].wave_name = None;
    a.parameters = Some(json!({"Wave": "${waveName}"}));
    assert_eq!(
        automation_parameters(&unnamed, &unnamed.waves[0], &a)["Wave"],
        vec!["wave 0"]
    );
    a.parameters = Some(
        json!({"InstanceIds": "${instanceIds}", "Ips": ["${privateIps}", "extra"], "Zone": "corp.example.com"}),
    );

    let input = lambda_input(&e, &e.waves[0], &a, 2);
    assert_eq!(input["executionId"], json!(e.id()));
    assert_eq!(input["planId"], json!(e.header.plan_id));
    assert_eq!(input["isDrill"], json!(true));
    assert_eq!(input["waveNumber"], json!(0));
    assert_eq!(input["waveName"], json!("web"));
    assert_eq!(
        input["action"],
        json!({"name": "dns", "when": "AFTER_COMPLETE", "attempt": 2})
    );
    assert_eq!(input["servers"][1]["privateIp"], json!("10.0.0.1"));
    assert_eq!(
        input["servers"][1]["hostname"],
        json!("ip-10-0-0-1.ec2.internal")
    );
    assert_eq!(
        input["servers"][0]["instanceId"],
        json!(fixtures::instance(0))
    );
    assert_eq!(input["parameters"]["Zone"], json!("corp.example.com"));
}

#[test]
fn the_client_token_is_a_uuid_of_the_run_and_differs_for_every_other_run() {
    let e = fixtures::execution(&[1]);
    let t = client_token(&e, 0, "dns", 1);
    assert!(uuid::Uuid::parse_str(&t).is_ok());
    assert_eq!(t, client_token(&e, 0, "dns", 1));
    for other in [
        client_token(&e, 1, "dns", 1),
        client_token(&e, 0, "dns2", 1),
        client_token(&e, 0, "dns", 2),
    ] {
        assert_ne!(t, other);
    }
    let mut other_execution = e.clone();
    other_execution.header.execution_id =
        crate::ids::ExecutionId::parse("00000000-0000-4000-8000-000000000009").unwrap();
    assert_ne!(t, client_token(&other_execution, 0, "dns", 1));
    assert!(
        automation_tags(&e, 0, "dns", 1).len() <= 5,
        "SSM takes at most 5 tags at start"
    );
}

#[test]
fn placeholder_names_are_known() {
    assert_eq!(
        Placeholder::parse("instanceIds"),
        Some(Placeholder::InstanceIds)
    );
    assert_eq!(Placeholder::parse("nope"), None);
}
