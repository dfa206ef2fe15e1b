//! Each handler in-process over mocked ports: its event shapes, its malformed events, its logs.

use std::io::Write;
use std::sync::{Arc, Mutex};

use execution_core::api::Operation;
use execution_core::fixtures::{self, EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ids::TaskToken;
use execution_core::model::{Execution, HeldToken, Timestamp};
use execution_core::ops::FindConfig;
use execution_core::ports::mocks::{
    FixedClock, MockDispatch, MockDrs, MockEc2, MockStore, MockWorkflow,
};
use execution_core::ports::{ActivePage, HeaderWrite};
use execution_core::rules::Policy;
use execution_core::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};
use serde_json::{json, Value};

use super::*;
use crate::event::tests::{http_event, rest_event, scheduled_event};

const NOW: i64 = 2_000;
const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAfake+task/token==";

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
    e.waves[0].job_id = Some(fixtures::job(0));
    e.waves[0].launch_time = Some(Timestamp(1_500));
    e
}

fn proxy_body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().expect("a proxy response")).unwrap()
}

/// Runs the handler of `op` on `event` with ports that refuse every call.
async fn untouched(op: Operation, event: &Value) -> Value {
    let (store, drs, ec2, dispatch, workflow, policy) = (
        MockStore::new(),
        MockDrs::new(),
        MockEc2::new(),
        MockDispatch::new(),
        MockWorkflow::new(),
        Policy::default(),
    );
    match op {
        Operation::Find => find(&store, &dispatch, &clock(), &config(), event).await,
        Operation::Poll => poll(&store, &drs, &ec2, &clock(), &policy, event).await,
        Operation::Finalize => finalize(&store, &clock(), event).await,
        Operation::Pause => pause(&store, &workflow, &clock(), &policy, event).await,
        Operation::Resume => resume(&store, &workflow, event).await,
        Operation::Launch => launch(&store, &drs, &clock(), &policy, event).await,
        Operation::Cancel => unreachable!("no cancel function"),
    }
}

const FUNCTIONS: [Operation; 6] = [
    Operation::Find,
    Operation::Poll,
    Operation::Finalize,
    Operation::Pause,
    Operation::Resume,
    Operation::Launch,
];

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
            bad.extend([
                json!({"executionId": E}),
                json!({"executionId": "nope", "planId": P}),
                scheduled_event(),
            ]);
        }
        for event in &bad {
            let answer = untouched(op, event).await;
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
            let answer = untouched(op, &event).await;
            assert_eq!(answer["statusCode"], 400, "{op}: {answer}");
            assert_eq!(proxy_body(&answer)["error"], "INVALID_PARAMETER");
        }
    }
}

#[tokio::test]
async fn find_runs_from_a_direct_payload_and_from_the_schedule() {
    for event in [json!({"operation": "find"}), scheduled_event()] {
        let mut store = MockStore::new();
        store
            .expect_list_active()
            .times(1)
            .returning(|_| Ok(ActivePage::default()));
        let answer = find(&store, &MockDispatch::new(), &clock(), &config(), &event).await;
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
    let answer = poll(&store, &drs, &ec2, &clock(), &Policy::default(), &event).await;
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
async fn poll_of_an_unknown_execution_is_a_404() {
    let mut store = MockStore::new();
    store.expect_load().returning(|_| Ok(None));
    let event = json!({"executionId": E, "planId": P});
    let answer = poll(
        &store,
        &MockDrs::new(),
        &MockEc2::new(),
        &clock(),
        &Policy::default(),
        &event,
    )
    .await;
    assert_eq!(
        (answer["statusCode"].clone(), answer["error"].clone()),
        (json!(404), json!("NOT_FOUND"))
    );
}

#[tokio::test]
async fn finalize_is_idempotent_and_refuses_unfinished_executions() {
    let mut done = fixtures::execution(&[1]);
    done.header.status = ExecutionStatus::Completed;
    let answer = finalize(
        &store_holding(done),
        &clock(),
        &json!({"operation": "finalize", "executionId": E, "planId": P}),
    )
    .await;
    assert_eq!(
        (answer["status"].clone(), answer["alreadyFinalized"].clone()),
        (json!("COMPLETED"), json!(true))
    );

    let answer = finalize(
        &store_holding(polling()),
        &clock(),
        &json!({"executionId": E, "planId": P}),
    )
    .await;
    assert_eq!(
        (answer["statusCode"].clone(), answer["error"].clone()),
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
        .withf(|c| matches!(&c.header, Some(HeaderWrite::Put { header, .. }) if header.task_token.as_ref().is_some_and(|t| t.token.expose() == TOKEN)))
        .times(1)
        .returning(|_| Ok(()));
    let event = json!({"operation": "pause", "executionId": E, "planId": P, "taskToken": TOKEN});
    let answer = pause(
        &store,
        &MockWorkflow::new(),
        &clock(),
        &Policy::default(),
        &event,
    )
    .await;
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": E, "status": "PAUSED", "pausedBeforeWave": 0})
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
        let answer = pause(
            &store,
            &MockWorkflow::new(),
            &clock(),
            &Policy::default(),
            &event,
        )
        .await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        assert_eq!(
            proxy_body(&answer),
            json!({"statusCode": 200, "executionId": E, "status": "PAUSED", "pausedBeforeWave": 1})
        );
    }
}

fn paused_with_token() -> Execution {
    let mut e = fixtures::execution(&[1, 1]);
    e.header.status = ExecutionStatus::Paused;
    e.header.paused_before_wave = Some(0);
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse(TOKEN).unwrap(),
        release_pending: false,
    });
    e
}

#[tokio::test]
async fn resume_through_the_api_releases_the_workflow() {
    for event in [
        http_event("resume", Some(json!({"planId": P})), None),
        rest_event("resume", None, Some(json!({"planId": P}))),
    ] {
        let mut store = store_holding(paused_with_token());
        store.expect_commit().times(1..).returning(|_| Ok(()));
        let mut workflow = MockWorkflow::new();
        workflow
            .expect_send_task_success()
            .withf(|t, _| t.expose() == TOKEN)
            .times(1)
            .returning(|_, _| Ok(()));
        let answer = resume(&store, &workflow, &event).await;
        assert_eq!(answer["statusCode"], 200, "{answer}");
        let body = proxy_body(&answer);
        assert_eq!(
            (body["status"].clone(), body["workflowReleased"].clone()),
            (json!("POLLING"), json!(true))
        );
    }
}

#[tokio::test]
async fn resume_of_a_running_execution_is_a_proxied_400() {
    let answer = resume(
        &store_holding(polling()),
        &MockWorkflow::new(),
        &rest_event("resume", Some(json!({"planId": P})), None),
    )
    .await;
    assert_eq!(answer["statusCode"], 400);
    assert_eq!(proxy_body(&answer)["error"], "INVALID_STATE");
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
    let answer = launch(
        &store,
        &drs,
        &clock(),
        &Policy::default(),
        &json!({"operation": "launch", "executionId": E, "planId": P}),
    )
    .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(
        (answer["waveStatus"].clone(), answer["jobId"].clone()),
        (json!("STARTED"), json!(fixtures::job(9).to_string()))
    );
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
    let answer = pause(
        &store,
        &MockWorkflow::new(),
        &clock(),
        &Policy::default(),
        &event,
    )
    .await;
    assert_eq!(answer["status"], "PAUSED");
    // resume hands the stored token to Step Functions.
    let mut store = store_holding(paused_with_token());
    store.expect_commit().returning(|_| Ok(()));
    let mut workflow = MockWorkflow::new();
    workflow.expect_send_task_success().returning(|_, _| Ok(()));
    resume(&store, &workflow, &json!({"executionId": E, "planId": P})).await;
    // What lambda_runtime logs at TRACE: the raw event.
    tracing::trace!(target: "lambda_runtime::layers::api_response", body = %event, "raw JSON event received from Lambda");

    let text = logs.text();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON log lines"))
        .collect();
    assert_eq!(lines.len(), 2, "one line per invocation: {text}");
    assert_eq!(lines[0]["fields"]["operation"], "pause");
    assert_eq!(lines[0]["fields"]["execution_id"], E);
    assert_eq!(lines[0]["fields"]["status_code"], 200);
    assert_eq!(lines[1]["fields"]["operation"], "resume");
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
