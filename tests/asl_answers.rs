//! SPEC §9: whether an answer is worth retrying, worth a new poll, or final is decided in one place
//! (`execution_core::api::AnswerClass`), and the state machine follows it. This test reads
//! infra/statemachine.asl.json and runs each Check*Answer Choice state, with a small evaluator of
//! the Choice and Pass rules the definition uses, on every answer the functions can give: every
//! `OperationError`'s status and code, 2xx, a 502 from Lambda's side, an answer without a
//! statusCode. It follows the route (through Pass, Choice and Wait states) to where it leads and
//! says which class that route is; a changed Choice rule that breaks the agreement fails here.
//!
//! What a route means, starting with one transient failure already counted:
//! - a Fail state: Final;
//! - the failure count went up and the route leads back to the same task: RetryLater (and with
//!   the count at its bound, the same answer must end in a Fail state: the retry is bounded);
//! - the count was reset, or the route reached a Choice on the answer's content (`nextAction`,
//!   the outcome): Done;
//! - back to Poll with the count as it was: PollAgain.

use std::collections::BTreeMap;

use execution_core::api::AnswerClass;
use execution_core::error::{OperationError, Refusal};
use execution_core::fixtures;
use execution_core::preflight::{Preflight, PreflightProblem};
use serde_json::{json, Map, Value};
use workspace_tests::cfn::definition_text;

/// The task answers the definition checks: (task state, its Choice state, ResultPath).
const CHECKS: [(&str, &str, &str); 5] = [
    ("Poll", "CheckPollAnswer", "poll"),
    ("Launch", "CheckLaunchAnswer", "launch"),
    ("Act", "CheckActAnswer", "act"),
    ("Finalize", "CheckFinalizeAnswer", "finalize"),
    ("Cleanup", "CheckCleanupAnswer", "cleanup"),
];

/// The consecutive transient failures after which the definition gives up (its Fail states say
/// "four times in a row").
const MAX_COUNTED: i64 = 4;

// ---- every answer the engine can give --------------------------------------------------------

/// One of each `OperationError`. The match is exhaustive: a new variant does not compile here
/// until it is added to the answers this test checks.
fn every_operation_error() -> Vec<OperationError> {
    let all = vec![
        OperationError::MissingParameter("executionId"),
        OperationError::invalid("planId", "not a UUID"),
        OperationError::NotFound("execution not found".into()),
        OperationError::InvalidState(Refusal::NothingToLaunch),
        OperationError::Conflict("the record changed".into()),
        OperationError::TokenRejected("token timed out".into()),
        OperationError::Internal("store 503".into()),
        // start's refusals, 409 when a server is busy elsewhere, else 400: final either way.
        OperationError::Preflight(Preflight {
            problems: vec![PreflightProblem::InRunningJob {
                source_server_id: fixtures::server(0),
                job_id: None,
            }],
            warnings: vec![],
        }),
        OperationError::Preflight(Preflight {
            problems: vec![PreflightProblem::ReplicationUnhealthy {
                source_server_id: fixtures::server(0),
                state: "STALLED".into(),
                error: None,
            }],
            warnings: vec![],
        }),
    ];
    for e in &all {
        match e {
            OperationError::MissingParameter(_)
            | OperationError::InvalidParameter { .. }
            | OperationError::NotFound(_)
            | OperationError::InvalidState(_)
            | OperationError::Conflict(_)
            | OperationError::TokenRejected(_)
            | OperationError::Internal(_)
            | OperationError::Preflight(_) => {}
        }
    }
    all
}

/// (statusCode, error) of every answer to check; `None` status: the answer has no statusCode.
fn answers() -> Vec<(Option<u16>, Option<String>)> {
    let mut out: Vec<(Option<u16>, Option<String>)> = every_operation_error()
        .iter()
        .map(|e| (Some(e.status_code()), Some(e.code().to_owned())))
        .collect();
    out.extend([
        (Some(200), None),
        (Some(201), None),
        (Some(502), None),
        (Some(503), Some("INTERNAL_ERROR".to_owned())),
        (Some(409), None),
        (Some(400), None),
        (Some(400), Some("SOMETHING_ELSE".to_owned())),
        (Some(404), Some("INVALID_STATE".to_owned())),
        (None, None),
        (None, Some("INTERNAL_ERROR".to_owned())),
    ]);
    out
}

fn answer_value(status: Option<u16>, error: Option<&str>) -> Value {
    let mut a = Map::new();
    if let Some(s) = status {
        a.insert("statusCode".into(), json!(s));
    }
    if let Some(e) = error {
        a.insert("error".into(), json!(e));
        a.insert("message".into(), json!("why"));
    }
    Value::Object(a)
}

// ---- a small evaluator of the definition's Choice and Pass rules -----------------------------

/// The value at a `$.a.b` path; `None` when any part is missing.
fn at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let rest = path
        .strip_prefix('$')
        .unwrap_or_else(|| panic!("not a path: {path}"));
    rest.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(doc, |v, key| v.get(key))
}

fn set(doc: &mut Value, path: &str, value: Value) {
    let parts: Vec<&str> = path
        .strip_prefix("$.")
        .unwrap_or_else(|| panic!("not a settable path: {path}"))
        .split('.')
        .collect();
    let mut v = doc;
    for p in &parts[..parts.len() - 1] {
        v = v
            .as_object_mut()
            .expect("an object on the way")
            .entry(*p)
            .or_insert_with(|| json!({}));
    }
    v.as_object_mut()
        .expect("an object to set into")
        .insert(parts[parts.len() - 1].to_owned(), value);
}

/// What a Choice rule reads: a value at `Variable`; reading a missing one with anything but
/// IsPresent is a runtime error in Step Functions (States.Runtime), so it fails the test.
fn evaluate(rule: &Value, doc: &Value, state: &str) -> bool {
    if let Some(all) = rule.get("And").and_then(Value::as_array) {
        // No short-circuit assumed: every operand must be safe to evaluate.
        let results: Vec<bool> = all.iter().map(|r| evaluate(r, doc, state)).collect();
        return results.iter().all(|b| *b);
    }
    if let Some(any) = rule.get("Or").and_then(Value::as_array) {
        let results: Vec<bool> = any.iter().map(|r| evaluate(r, doc, state)).collect();
        return results.iter().any(|b| *b);
    }
    if let Some(not) = rule.get("Not") {
        return !evaluate(not, doc, state);
    }
    let variable = rule["Variable"]
        .as_str()
        .unwrap_or_else(|| panic!("{state}: a rule without Variable: {rule}"));
    let value = at(doc, variable);
    let ops: Vec<(&String, &Value)> = rule
        .as_object()
        .expect("a rule is an object")
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment"))
        .collect();
    assert_eq!(ops.len(), 1, "{state}: one operator per rule: {rule}");
    let (op, operand) = ops[0];
    if op == "IsPresent" {
        return value.is_some() == operand.as_bool().expect("IsPresent takes a boolean");
    }
    let value = value.unwrap_or_else(|| {
        panic!("{state}: {op} reads {variable}, which is missing: a States.Runtime error")
    });
    if op == "IsNumeric" {
        return value.is_number() == operand.as_bool().expect("IsNumeric takes a boolean");
    }
    let (op, operand) = match op.strip_suffix("Path") {
        Some(base) => (
            base,
            at(doc, operand.as_str().expect("a path"))
                .unwrap_or_else(|| panic!("{state}: {op} reads a missing {operand}")),
        ),
        None => (op.as_str(), operand),
    };
    if let Some(cmp) = op.strip_prefix("Numeric") {
        let x = value
            .as_f64()
            .unwrap_or_else(|| panic!("{state}: {variable} is not a number: {value}"));
        let y = operand.as_f64().expect("a numeric operand");
        return match cmp {
            "Equals" => x == y,
            "GreaterThan" => x > y,
            "GreaterThanEquals" => x >= y,
            "LessThan" => x < y,
            "LessThanEquals" => x <= y,
            other => panic!("{state}: Numeric{other} is not evaluated here; add it"),
        };
    }
    if op == "StringEquals" {
        let x = value
            .as_str()
            .unwrap_or_else(|| panic!("{state}: {variable} is not a string: {value}"));
        return Some(x) == operand.as_str();
    }
    if op == "BooleanEquals" {
        let x = value
            .as_bool()
            .unwrap_or_else(|| panic!("{state}: {variable} is not a boolean: {value}"));
        return Some(x) == operand.as_bool();
    }
    panic!("{state}: {op} is not evaluated here; add it")
}

/// A Pass state's effect: `Result`, or `Parameters` of constants, paths and States.MathAdd, put
/// at `ResultPath`.
fn pass(state: &Value, doc: &mut Value, name: &str) {
    let result = if let Some(r) = state.get("Result") {
        r.clone()
    } else if let Some(params) = state.get("Parameters").and_then(Value::as_object) {
        let mut out = Map::new();
        for (k, v) in params {
            match k.strip_suffix(".$") {
                Some(key) => {
                    out.insert(
                        key.to_owned(),
                        expression(v.as_str().expect("text"), doc, name),
                    );
                }
                None => {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Value::Object(out)
    } else {
        doc.clone()
    };
    match state.get("ResultPath") {
        Some(Value::String(p)) => set(doc, p, result),
        None => *doc = result,
        Some(other) => panic!("{name}: ResultPath {other} is not evaluated here"),
    }
}

fn expression(text: &str, doc: &Value, state: &str) -> Value {
    if let Some(args) = text
        .strip_prefix("States.MathAdd(")
        .and_then(|a| a.strip_suffix(')'))
    {
        let (a, b) = args.split_once(',').expect("two arguments");
        let num = |t: &str| -> i64 {
            let t = t.trim();
            if t.starts_with('$') {
                at(doc, t)
                    .and_then(Value::as_i64)
                    .unwrap_or_else(|| panic!("{state}: MathAdd reads {t}: missing or not whole"))
            } else {
                t.parse().expect("an integer literal")
            }
        };
        return json!(num(a) + num(b));
    }
    if text.starts_with('$') {
        return at(doc, text)
            .cloned()
            .unwrap_or_else(|| panic!("{state}: reads a missing {text}"));
    }
    panic!("{state}: {text} is not evaluated here; add it")
}

/// Where a route from a Check state ends.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    states: Vec<String>,
    end: String,
    end_type: String,
    failures: i64,
}

/// Follows the definition from `from` until a Task, Fail or Succeed state, or a Choice that reads
/// more than the answer's status and the run's counters (nextAction, the outcome).
fn follow(states: &Map<String, Value>, from: &str, mut doc: Value) -> Route {
    let mut name = from.to_owned();
    let mut path = Vec::new();
    for _ in 0..50 {
        let state = states
            .get(&name)
            .unwrap_or_else(|| panic!("no state {name}"));
        path.push(name.clone());
        let kind = state["Type"].as_str().expect("a Type");
        let next = match kind {
            "Choice" => {
                let rules = state["Choices"].as_array().expect("Choices");
                let reads_content = rules.iter().any(reads_beyond_status);
                if name != from && reads_content {
                    break;
                }
                rules
                    .iter()
                    .find(|r| evaluate(r, &doc, &name))
                    .map(|r| r["Next"].clone())
                    .or_else(|| state.get("Default").cloned())
                    .and_then(|n| n.as_str().map(str::to_owned))
                    .unwrap_or_else(|| panic!("{name}: no rule matched and no Default"))
            }
            "Pass" => {
                pass(state, &mut doc, &name);
                state["Next"].as_str().expect("Next").to_owned()
            }
            "Wait" => state["Next"].as_str().expect("Next").to_owned(),
            _ => break,
        };
        name = next;
    }
    let end = path.last().cloned().expect("a state");
    Route {
        end_type: states[&end]["Type"].as_str().unwrap_or_default().to_owned(),
        end,
        failures: at(&doc, "$.transientFailures.count")
            .and_then(Value::as_i64)
            .expect("the run keeps its failure count"),
        states: path,
    }
}

/// A Choice rule that reads the answer beyond `statusCode` and `error`, or the run beyond its
/// counters: where the dispatch on the answer's content begins.
fn reads_beyond_status(rule: &Value) -> bool {
    let mut vars = Vec::new();
    collect_variables(rule, &mut vars);
    vars.iter().any(|v| {
        v.contains(".answer.")
            && !v.ends_with(".answer.statusCode")
            && !v.ends_with(".answer.error")
    })
}

fn collect_variables(rule: &Value, out: &mut Vec<String>) {
    if let Some(v) = rule.get("Variable").and_then(Value::as_str) {
        out.push(v.to_owned());
    }
    for key in ["And", "Or"] {
        for r in rule
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_variables(r, out);
        }
    }
    if let Some(n) = rule.get("Not") {
        collect_variables(n, out);
    }
}

/// The run's state as the definition keeps it, with `failures` consecutive transient failures
/// counted and the task's answer at `$.{result}.answer`.
fn run_state(result: &str, answer: Value, failures: i64) -> Value {
    let mut doc = json!({
        "executionId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
        "planId": "0d9b7c6a-1111-4222-8333-944455556666",
        "pollIntervalSeconds": 30,
        "maxCyclesPerRun": 800,
        "run": 0,
        "runPrefix": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
        "transientFailures": {"count": failures},
        "cycles": {"count": 0},
    });
    set(
        &mut doc,
        &format!("$.{result}"),
        json!({ "answer": answer }),
    );
    doc
}

fn classify(task: &str, route: &Route, failures_before: i64) -> AnswerClass {
    let end_is = |t: &str| route.end_type == t;
    if end_is("Fail") {
        AnswerClass::Final
    } else if route.failures > failures_before {
        assert!(
            end_is("Task") && route.end == task,
            "{task}: a counted failure must lead back to {task}: {:?}",
            route.states
        );
        assert!(
            route.states.iter().any(|s| s.starts_with("WaitThen")),
            "{task}: a retry waits first: {:?}",
            route.states
        );
        AnswerClass::RetryLater
    } else if route.failures == 0 || end_is("Choice") {
        AnswerClass::Done
    } else if end_is("Task") && route.end == "Poll" && route.failures == failures_before {
        AnswerClass::PollAgain
    } else {
        panic!("{task}: a route of no known class: {route:?}")
    }
}

fn definition_states() -> Map<String, Value> {
    let definition: Value =
        serde_json::from_str(&definition_text()).expect("the definition is JSON");
    definition["States"].as_object().expect("States").clone()
}

/// Every Task state that answers with a statusCode (every `lambda:invoke` but pause, which parks
/// the run on its token) hands its answer to a Check state this test knows: a task added to the
/// definition without its check in [`CHECKS`] fails here.
#[test]
fn every_answering_task_is_checked() {
    let states = definition_states();
    let answering: Vec<&String> = states
        .iter()
        .filter(|(_, s)| {
            s["Type"] == "Task"
                && s["Resource"]
                    .as_str()
                    .is_some_and(|r| r.ends_with(":states:::lambda:invoke"))
        })
        .map(|(name, _)| name)
        .collect();
    let checked: Vec<&str> = CHECKS.iter().map(|(task, _, _)| *task).collect();
    let mut answering: Vec<&str> = answering.iter().map(|s| s.as_str()).collect();
    answering.sort_unstable();
    let mut checked_sorted = checked.clone();
    checked_sorted.sort_unstable();
    assert_eq!(answering, checked_sorted);
    for (task, _, result) in CHECKS {
        assert_eq!(states[task]["ResultPath"], format!("$.{result}"), "{task}");
        assert_eq!(
            states[task]["ResultSelector"],
            json!({"answer.$": "$.Payload"}),
            "{task}"
        );
    }
}

#[test]
fn every_check_state_follows_the_answer_class() {
    let states = definition_states();
    let mut seen: BTreeMap<&str, Vec<AnswerClass>> = BTreeMap::new();
    for (task, check, result) in CHECKS {
        assert_eq!(
            states[task]["Next"], check,
            "{task} hands its answer to {check}"
        );
        for (status, error) in answers() {
            let answer = answer_value(status, error.as_deref());
            let want = AnswerClass::of_answer(&answer);
            let route = follow(&states, check, run_state(result, answer.clone(), 1));
            let got = classify(task, &route, 1);
            assert_eq!(
                got, want,
                "{check} on {answer}: routes {:?}, which is {got:?}; AnswerClass says {want:?}",
                route.states
            );
            // The count before the answer changes nothing but the bound.
            let fresh = follow(&states, check, run_state(result, answer.clone(), 0));
            assert_eq!(
                fresh.end, route.end,
                "{check} on {answer}: with no failure counted the route ends elsewhere: {:?}",
                fresh.states
            );
            if want == AnswerClass::RetryLater {
                let last = follow(
                    &states,
                    check,
                    run_state(result, answer.clone(), MAX_COUNTED - 1),
                );
                assert_eq!(
                    last.end_type, "Fail",
                    "{check} on {answer}: the retries are bounded: {:?}",
                    last.states
                );
            }
            seen.entry(task).or_default().push(got);
        }
    }
    // Every class is reachable from every check (the answers above cover each).
    for (task, classes) in seen {
        for class in [
            AnswerClass::Done,
            AnswerClass::RetryLater,
            AnswerClass::PollAgain,
            AnswerClass::Final,
        ] {
            assert!(classes.contains(&class), "{task} never routes {class:?}");
        }
    }
}

/// 409 is two answers: CONFLICT is retried, TOKEN_REJECTED is final (it was retried once).
#[test]
fn a_rejected_token_is_final_and_a_conflict_is_retried() {
    let states = definition_states();
    for (task, check, result) in CHECKS {
        let rejected = follow(
            &states,
            check,
            run_state(result, answer_value(Some(409), Some("TOKEN_REJECTED")), 0),
        );
        assert_eq!(rejected.end_type, "Fail", "{task}: {:?}", rejected.states);
        let conflict = follow(
            &states,
            check,
            run_state(result, answer_value(Some(409), Some("CONFLICT")), 0),
        );
        assert_eq!(conflict.end, task, "{task}: {:?}", conflict.states);
    }
}

/// The evaluator itself: a rule that reads a missing field is an error, as in Step Functions.
#[test]
#[should_panic(expected = "missing")]
fn reading_a_missing_field_is_an_error() {
    evaluate(
        &json!({"Variable": "$.poll.answer.error", "StringEquals": "CONFLICT"}),
        &json!({"poll": {"answer": {"statusCode": 409}}}),
        "test",
    );
}

/// A paused run polls again every heartbeat; find counts a paused execution silent after that
/// plus its usual margin. The two must agree, or find restarts live paused runs (a shorter
/// stale time) or notices dead ones late (a longer heartbeat).
#[test]
fn the_pause_heartbeat_is_the_one_find_counts_on() {
    let definition: Value = serde_json::from_str(&definition_text()).expect("JSON");
    let heartbeat = definition["States"]["Pause"]["HeartbeatSeconds"].as_i64();
    assert_eq!(
        heartbeat,
        Some(execution_core::ops::heal::PAUSE_HEARTBEAT_SECS)
    );
    // find ticks every minute: a dead paused run is noticed within five minutes.
    const { assert!(execution_core::ops::heal::PAUSED_STALE_AFTER_SECS + 60 <= 300) };
}

/// finalize's answer, as the finalize function serialises it, for a drill whose plan sets
/// `cleanupAfterSeconds` (or not).
fn finalized(cleanup_after_seconds: Option<u64>) -> Value {
    use execution_core::api::FinalizeResponse;
    use execution_core::status::ExecutionStatus;
    serde_json::to_value(FinalizeResponse {
        status_code: 200,
        execution_id: fixtures::execution_id(),
        status: ExecutionStatus::Completed,
        total_waves: 1,
        already_finalized: false,
        recovery_time_seconds: None,
        cleanup_after_seconds,
    })
    .expect("an answer")
}

/// After finalize (2xx), a drill whose answer carries `cleanupAfterSeconds` waits that long (the
/// Wait reads it from the answer), then calls cleanup with its own count of failures; any other
/// answer routes the outcome at once, as before cleanup existed. A malformed delay is final.
#[test]
fn finalize_hands_a_drill_to_cleanup_after_its_delay_and_nothing_else() {
    let states = definition_states();
    // 2xx: on to CleanupDue, where the dispatch on the answer's content begins.
    let done = follow(
        &states,
        "CheckFinalizeAnswer",
        run_state("finalize", finalized(Some(60)), 2),
    );
    assert_eq!(done.end, "CleanupDue", "{:?}", done.states);

    let route = |answer: Value| follow(&states, "CleanupDue", run_state("finalize", answer, 2));
    let drill = route(finalized(Some(60)));
    assert_eq!(
        (drill.states.clone(), drill.failures),
        (
            [
                "CleanupDue",
                "StartCleanup",
                "StartCleanupRounds",
                "WaitBeforeCleanup",
                "Cleanup"
            ]
            .map(String::from)
            .to_vec(),
            0
        ),
        "the cleanup's failures are counted from 0"
    );
    assert_eq!(
        states["WaitBeforeCleanup"]["SecondsPath"], "$.finalize.answer.cleanupAfterSeconds",
        "the delay is the one finalize answered"
    );
    let kept = route(finalized(None));
    assert_eq!(
        (kept.states.clone(), kept.failures),
        (["CleanupDue", "RouteOutcome"].map(String::from).to_vec(), 2),
        "no cleanupAfterSeconds: the outcome at once"
    );
    let mut malformed = finalized(None);
    malformed["cleanupAfterSeconds"] = json!("soon");
    assert_eq!(route(malformed).end, "FinalizeRejected");

    // cleanup is called as the other tasks are, and only from there.
    let cleanup = &states["Cleanup"];
    assert_eq!(
        cleanup["Parameters"]["FunctionName"],
        "${CleanupFunctionArn}"
    );
    assert_eq!(
        cleanup["Parameters"]["Payload"],
        json!({"operation": "cleanup", "invokedBy": "workflow",
               "executionId.$": "$.executionId", "planId.$": "$.planId"})
    );
    assert_eq!(cleanup["Retry"], states["Launch"]["Retry"]);
    assert_eq!(cleanup["ResultPath"], "$.cleanup");
    let into = |target: &str| -> Vec<&String> {
        states
            .iter()
            .filter(|(_, s)| {
                s.get("Next").and_then(Value::as_str) == Some(target)
                    || s.get("Default").and_then(Value::as_str) == Some(target)
                    || s.get("Choices")
                        .and_then(Value::as_array)
                        .is_some_and(|rules| {
                            rules
                                .iter()
                                .any(|r| r.get("Next").and_then(Value::as_str) == Some(target))
                        })
            })
            .map(|(name, _)| name)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(into("StartCleanup"), ["CleanupDue"]);
    assert_eq!(
        into("Cleanup"),
        [
            "WaitBeforeCleanup",
            "WaitThenCleanup",
            "WaitThenConfirmCleanup"
        ]
    );
    // A 2xx cleanup answer goes on to CleanupConfirmed, where its content is read: complete (or
    // silent on it) routes the outcome, as a drill without cleanup does.
    let done = follow(
        &states,
        "CheckCleanupAnswer",
        run_state("cleanup", json!({"statusCode": 200}), 0),
    );
    assert_eq!(done.end, "CleanupConfirmed", "{:?}", done.states);
    for answer in [
        json!({"statusCode": 200, "complete": true}),
        json!({"statusCode": 200}),
    ] {
        let cleaned = follow(&states, "CleanupConfirmed", run_state("cleanup", answer, 0));
        assert_eq!(cleaned.end, "RouteOutcome", "{:?}", cleaned.states);
    }
    // Not yet complete: cleanup again a poll interval later (it only confirms then), its failures
    // counted from 0, at most 20 rounds; past them the outcome is routed anyway.
    let mut pending = run_state("cleanup", json!({"statusCode": 200, "complete": false}), 2);
    set(&mut pending, "$.cleanupRounds", json!({"count": 3}));
    let again = follow(&states, "CleanupConfirmed", pending.clone());
    assert_eq!(
        again.states,
        [
            "CleanupConfirmed",
            "CleanupRecovered",
            "CountCleanupRound",
            "CleanupRoundsLeft",
            "WaitThenConfirmCleanup",
            "Cleanup"
        ]
        .map(String::from)
        .to_vec()
    );
    assert_eq!(again.failures, 0);
    set(&mut pending, "$.cleanupRounds", json!({"count": 20}));
    let past = follow(&states, "CleanupConfirmed", pending);
    assert_eq!(past.end, "RouteOutcome", "{:?}", past.states);
}

/// Every `nextAction` poll can answer is routed to what it asks for: WAIT to the wait, the others
/// to their task (PAUSE through the cycle count that hands a long pause over). The match is
/// exhaustive: a new `NextAction` does not compile here until the definition routes it.
#[test]
fn every_next_action_is_routed_to_its_task() {
    use execution_core::rules::NextAction;
    let states = definition_states();
    let all = [
        NextAction::Launch,
        NextAction::Wait,
        NextAction::Pause,
        NextAction::Act,
        NextAction::Finalize,
    ];
    for next in all {
        let want = match next {
            NextAction::Launch => "Launch",
            NextAction::Wait => "WaitThenPoll",
            NextAction::Pause => "CountPauseCycle",
            NextAction::Act => "Act",
            NextAction::Finalize => "Finalize",
        };
        let rules = states["RouteNextAction"]["Choices"]
            .as_array()
            .expect("Choices");
        let routed: Vec<&Value> = rules
            .iter()
            .filter(|r| r["StringEquals"] == next.as_str())
            .collect();
        assert_eq!(routed.len(), 1, "{}: one rule", next.as_str());
        assert_eq!(routed[0]["Variable"], "$.poll.answer.nextAction");
        assert_eq!(routed[0]["Next"], want, "{}", next.as_str());
    }
}

/// act (nextAction ACT): called as launch is, waited for longer than the act function may run (a
/// Lambda action is invoked synchronously: act may take its full 900 s), retried as launch is on
/// Lambda's own failures. Its answer: 2xx polls again at once (no wait: the action finished, or
/// poll follows it and says WAIT itself), counting the cycle, so that many actions cannot fill the
/// history; 400 INVALID_STATE polls again after the interval (never a loop without a wait); a
/// transient failure waits and calls act again, at most three times.
#[test]
fn act_is_called_like_launch_and_its_done_answer_polls_again_at_once() {
    let states = definition_states();
    let act = &states["Act"];
    assert_eq!(act["Resource"], "arn:${Partition}:states:::lambda:invoke");
    assert_eq!(act["Parameters"]["FunctionName"], "${ActFunctionArn}");
    assert_eq!(
        act["Parameters"]["Payload"],
        json!({"operation": "act", "invokedBy": "workflow",
               "executionId.$": "$.executionId", "planId.$": "$.planId"})
    );
    let launch_payload = &states["Launch"]["Parameters"]["Payload"];
    for field in ["invokedBy", "executionId.$", "planId.$"] {
        assert_eq!(
            act["Parameters"]["Payload"][field], launch_payload[field],
            "{field}"
        );
    }
    let timeout = act["TimeoutSeconds"].as_u64().expect("a TimeoutSeconds");
    let template = workspace_tests::cfn::template();
    let function_timeout = workspace_tests::cfn::properties(&template, "ActFunction")["Timeout"]
        .as_u64()
        .expect("ActFunction's Timeout");
    assert!(
        timeout > function_timeout,
        "the run waits longer ({timeout} s) than act may run ({function_timeout} s)"
    );
    const { assert!(execution_core::actions::MAX_LAMBDA_TIMEOUT_SECONDS < 900) };
    assert_eq!(
        function_timeout, 900,
        "Lambda's maximum: a Lambda action may take 840 s"
    );
    // Launch's retries, and the timeouts of a long synchronous call (act is safe to call again:
    // nothing is sent twice for one attempt).
    let retries = act["Retry"].as_array().expect("Retry");
    for launch_retry in states["Launch"]["Retry"].as_array().expect("Retry") {
        let errors = launch_retry["ErrorEquals"].as_array().expect("ErrorEquals");
        let covered = retries.iter().find(|r| {
            let mine = r["ErrorEquals"].as_array().expect("ErrorEquals");
            errors.iter().all(|e| mine.contains(e))
        });
        let covered = covered.unwrap_or_else(|| panic!("act does not retry {errors:?}"));
        for key in ["IntervalSeconds", "MaxAttempts", "BackoffRate"] {
            assert_eq!(covered[key], launch_retry[key], "{key} for {errors:?}");
        }
    }
    assert!(
        retries.iter().any(|r| r["ErrorEquals"]
            .as_array()
            .is_some_and(|e| e.contains(&json!("States.Timeout")))),
        "a timed-out act is called again (it answers INVALID_STATE while its run is recorded)"
    );

    let route = |answer: Value, failures: i64| {
        follow(
            &states,
            "CheckActAnswer",
            run_state("act", answer, failures),
        )
    };
    let at_once = ["CheckActAnswer", "CountCycle", "HandOverDue", "Poll"].map(String::from);
    let done = route(json!({"statusCode": 200, "actionStatus": "SUCCEEDED"}), 0);
    assert_eq!(
        done.states, at_once,
        "2xx: poll again at once, the cycle counted"
    );
    let recovered = route(json!({"statusCode": 200, "actionStatus": "RUNNING"}), 2);
    assert_eq!(
        (recovered.states.clone(), recovered.failures),
        (
            [
                "CheckActAnswer",
                "ActRecovered",
                "CountCycle",
                "HandOverDue",
                "Poll"
            ]
            .map(String::from)
            .to_vec(),
            0
        ),
        "2xx after failures: the count starts over"
    );
    // A done answer that also says why its action failed is still done (the error is the
    // action's, recorded; the wave's policy applies through poll).
    let failed_action = route(
        json!({"statusCode": 200, "actionStatus": "FAILED", "error": "dns not ready"}),
        0,
    );
    assert_eq!(failed_action.states, at_once);
    let refused_for_now = route(json!({"statusCode": 200, "retryAfterSeconds": 45}), 0);
    assert_eq!(
        refused_for_now.states, at_once,
        "a start refused for now is poll's to wait out (WAIT until then)"
    );
    let moved_on = route(answer_value(Some(400), Some("INVALID_STATE")), 1);
    assert_eq!(
        (moved_on.states, moved_on.failures),
        (
            [
                "CheckActAnswer",
                "WaitThenPoll",
                "CountCycle",
                "HandOverDue",
                "Poll"
            ]
            .map(String::from)
            .to_vec(),
            1
        )
    );
    let transient = route(answer_value(Some(503), Some("INTERNAL_ERROR")), 0);
    assert_eq!(
        transient.states,
        [
            "CheckActAnswer",
            "CountActFailure",
            "ActRetryAllowed",
            "WaitThenAct",
            "Act"
        ]
        .map(String::from)
        .to_vec()
    );
    let gave_up = route(answer_value(Some(503), Some("INTERNAL_ERROR")), 3);
    assert_eq!(gave_up.end, "ActKeptFailing");
    let rejected = route(answer_value(Some(404), Some("NOT_FOUND")), 0);
    assert_eq!(rejected.end, "ActRejected");
}
