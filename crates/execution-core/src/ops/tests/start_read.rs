//! start (a plan becomes an execution and its run), the API's reads, and a finalize larger than
//! one transaction.

use serde_json::json;

use super::exec;
use crate::api::{EventsRequest, PageRequest, Request, StartRequest};
use crate::audit::{Actor, StatusChange};
use crate::fixtures::{self, plan};
use crate::ids::TaskToken;
use crate::model::HeldToken;
use crate::ops::testing::*;
use crate::ports::mocks::MockWorkflow;
use crate::ports::{ServiceError, WorkflowError, MAX_COMMIT_ITEMS};
use crate::status::{ExecutionStatus as E, WaveStatus as W};

const RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-waves:run-1";

fn start_request(sizes: &[usize]) -> Request {
    Request::Start(StartRequest {
        plan: Box::new(plan(sizes)),
        execution_id: Some(fixtures::execution_id()),
        poll_interval_seconds: None,
    })
}

fn starting(answer: Result<String, WorkflowError>) -> MockWorkflow {
    let mut wf = MockWorkflow::new();
    wf.expect_start_run()
        .times(1)
        .withf(|input, name| {
            input.execution_id == fixtures::execution_id() && name == input.execution_id.to_string()
        })
        .return_once(move |_, _| answer);
    wf
}

#[tokio::test]
async fn start_creates_the_execution_and_starts_its_run_named_after_it() {
    let w = World::empty()
        .with_drs(healthy_drs())
        .with_workflow(starting(Ok(RUN.into())));
    let answer = w.run(100, start_request(&[2, 1])).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["executionId"], json!(fixtures::execution_id()));
    assert_eq!(answer["status"], "PENDING");
    assert_eq!(answer["workflowRun"], RUN);
    let r = w.record();
    assert_eq!(
        r.header.workflow_run.as_deref(),
        Some(RUN),
        "find knows the run"
    );
    let events = w.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].operation, "start");
    assert_eq!(
        events[0].execution,
        Some(StatusChange {
            from: None,
            to: E::Pending
        })
    );
}

#[tokio::test]
async fn a_start_whose_run_cannot_start_leaves_nothing_running_and_says_so() {
    let refused = WorkflowError::Service(ServiceError::Rejected("AccessDenied".into()));
    let w = World::empty()
        .with_drs(healthy_drs())
        .with_workflow(starting(Err(refused)));
    let answer = w.run(100, start_request(&[1, 1])).await;
    assert_eq!(answer["statusCode"], 500, "{answer}");
    let message = answer["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("was cancelled and nothing was launched"),
        "{message}"
    );
    let r = w.record();
    assert_eq!(r.status(), E::Cancelled, "nothing find would start later");
    assert!(r.waves.iter().all(|w| w.status == W::Cancelled));
    let moves: Vec<_> = w
        .events()
        .iter()
        .filter_map(|e| e.execution.clone())
        .collect();
    assert_eq!(
        moves.iter().map(|c| c.to).collect::<Vec<_>>(),
        vec![E::Pending, E::Cancelling, E::Cancelled]
    );
}

#[tokio::test]
async fn a_plan_that_cannot_run_is_refused_and_nothing_is_written() {
    let w = World::empty();
    let answer = w.run(100, start_request(&[1, 0])).await;
    assert_eq!(
        (answer["statusCode"].clone(), answer["error"].clone()),
        (json!(400), json!("INVALID_PARAMETER")),
        "{answer}"
    );
    assert!(w.events().is_empty());
    assert!(w.state().lock().unwrap().record.is_none());
}

#[tokio::test]
async fn get_answers_the_record_without_its_task_token() {
    let mut e = exec(E::Paused, &[W::Completed, W::Pending]);
    e.header.paused_before_wave = Some(1);
    e.waves[1].pause_before_wave = true;
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse("AAAA-the-secret-token").unwrap(),
        release_pending: false,
    });
    let w = World::new(e);
    let answer = w.run(100, Request::Get(w.target)).await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["workflowWaiting"], true);
    assert_eq!(answer["execution"]["status"], "PAUSED");
    assert!(!answer.to_string().contains("the-secret-token"), "{answer}");
    assert!(answer["execution"].get("taskToken").is_none());
}

#[tokio::test]
async fn events_answer_the_trail_and_a_foreign_plan_is_not_found() {
    let w = World::new(exec(E::Pending, &[W::Pending]));
    w.cancel().await.unwrap();
    let answer = w
        .run(
            100,
            Request::Events(EventsRequest {
                target: w.target,
                next_token: None,
            }),
        )
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["events"][0]["operation"], "cancel");
    assert_eq!(
        answer["events"][0]["actor"],
        json!(Actor::Cli("operator".into()))
    );
    let mut other = w.target;
    other.plan_id = crate::ids::PlanId::parse("00000000-0000-4000-8000-000000000009").unwrap();
    let answer = w
        .run(
            100,
            Request::Events(EventsRequest {
                target: other,
                next_token: None,
            }),
        )
        .await;
    assert_eq!(answer["statusCode"], 404, "{answer}");
}

#[tokio::test]
async fn list_answers_the_active_executions() {
    let w = World::new(exec(E::Polling, &[W::Started]));
    let answer = w
        .run(100, Request::List(PageRequest { next_token: None }))
        .await;
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["executions"][0]["status"], "POLLING");
    assert!(answer.get("nextToken").is_none());
}

#[tokio::test]
async fn a_cancel_before_any_launch_of_99_waves_finalizes_in_transactions_that_fit() {
    let mut e = fixtures::execution(&[1; 99]);
    e.header.status = E::Cancelling;
    let w = World::new(e);
    let answer = w.finalize(5000).await.unwrap();
    assert_eq!(answer.status, E::Cancelled);
    let r = w.record();
    assert!(r.waves.iter().all(|w| w.status == W::Cancelled));
    let commits = w.commits();
    assert_eq!(
        commits.len(),
        2,
        "the waves beyond one transaction first, then the rest"
    );
    assert!(commits.iter().all(|c| c.items() <= MAX_COMMIT_ITEMS));
    assert!(commits[0].header.is_none());
    assert!(crate::audit::check_trail(&r, &w.events()).is_empty());
}
