//! `SsmAutomation`: the start as the core asks for it (document, parameters, client token, tags),
//! the state of an automation, its stop, and SSM's errors as the core tells them apart.

use std::collections::{BTreeMap, HashMap};

use aws_adapters::SsmAutomation;
use aws_sdk_ssm::operation::get_automation_execution::{
    GetAutomationExecutionError, GetAutomationExecutionOutput,
};
use aws_sdk_ssm::operation::start_automation_execution::StartAutomationExecutionOutput;
use aws_sdk_ssm::operation::stop_automation_execution::StopAutomationExecutionOutput;
use aws_sdk_ssm::types::error::AutomationExecutionNotFoundException;
use aws_sdk_ssm::types::{AutomationExecution, AutomationExecutionStatus, StopType, Tag};
use aws_sdk_ssm::Client;
use aws_smithy_mocks::{mock, Rule, RuleMode};
use execution_core::ports::{AutomationRequest, AutomationRunner, AutomationState, ServiceError};

use crate::common::meta;

const TOKEN: &str = "5f0c2a55-3c1e-5b8e-9d7a-2b4c6d8e0f12";
const ID: &str = "0a1b2c3d-0000-4000-8000-000000000001";

fn request() -> AutomationRequest {
    AutomationRequest {
        document: "arn:aws:ssm:us-east-1:123456789012:document/Restart-App".into(),
        parameters: BTreeMap::from([
            (
                "InstanceIds".to_owned(),
                vec![
                    "i-0123456789abcdef0".to_owned(),
                    "i-0fedcba9876543210".to_owned(),
                ],
            ),
            ("WaveName".to_owned(), vec!["databases".to_owned()]),
        ]),
        client_token: TOKEN.into(),
        tags: vec![
            ("drs-waves:executionId".into(), "e-1".into()),
            ("drs-waves:waveNumber".into(), "0".into()),
            ("drs-waves:action".into(), "restart".into()),
            ("drs-waves:attempt".into(), "2".into()),
        ],
    }
}

fn ssm(rules: &[&Rule]) -> SsmAutomation {
    SsmAutomation::new(mocked_client!(
        aws_sdk_ssm,
        RuleMode::Sequential,
        rules.iter().copied()
    ))
}

fn started() -> StartAutomationExecutionOutput {
    StartAutomationExecutionOutput::builder()
        .automation_execution_id(ID)
        .build()
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build().unwrap()
}

#[tokio::test]
async fn start_sends_the_document_parameters_client_token_and_tags_as_given() {
    let rule = mock!(Client::start_automation_execution)
        .match_requests(|r| {
            let parameters: HashMap<String, Vec<String>> = HashMap::from([
                (
                    "InstanceIds".to_owned(),
                    vec![
                        "i-0123456789abcdef0".to_owned(),
                        "i-0fedcba9876543210".to_owned(),
                    ],
                ),
                ("WaveName".to_owned(), vec!["databases".to_owned()]),
            ]);
            r.document_name() == Some("arn:aws:ssm:us-east-1:123456789012:document/Restart-App")
                && r.parameters() == Some(&parameters)
                && r.client_token() == Some(TOKEN)
                && r.tags()
                    == [
                        tag("drs-waves:executionId", "e-1"),
                        tag("drs-waves:waveNumber", "0"),
                        tag("drs-waves:action", "restart"),
                        tag("drs-waves:attempt", "2"),
                    ]
                && r.document_version().is_none()
                && r.targets().is_empty()
                && r.mode().is_none()
        })
        .then_output(started);
    assert_eq!(
        ssm(&[&rule]).start_automation(&request()).await,
        Ok(ID.to_owned())
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_start_without_parameters_sends_none() {
    let rule = mock!(Client::start_automation_execution)
        .match_requests(|r| r.parameters().is_none() && r.client_token() == Some(TOKEN))
        .then_output(started);
    let bare = AutomationRequest {
        parameters: BTreeMap::new(),
        ..request()
    };
    assert_eq!(
        ssm(&[&rule]).start_automation(&bare).await,
        Ok(ID.to_owned())
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_start_answered_without_an_id_is_unavailable_never_rejected() {
    // SSM accepted the request (it may have started the runbook): the caller sends the same
    // token again rather than fail the run.
    let rule = mock!(Client::start_automation_execution)
        .then_output(|| StartAutomationExecutionOutput::builder().build());
    let err = ssm(&[&rule])
        .start_automation(&request())
        .await
        .unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable { .. }), "{err:?}");
}

/// An error answer as SSM (JSON 1.1) sends it.
fn ssm_error(status: u16, code: &str) -> Rule {
    let body = format!(r#"{{"__type":"{code}","Message":"{code} says why"}}"#);
    mock!(Client::start_automation_execution)
        .sequence()
        .http_status(status, Some(body))
        .build()
}

#[tokio::test]
async fn start_errors_map_to_throttled_unavailable_or_rejected() {
    #[derive(Debug, PartialEq)]
    enum Class {
        Throttled,
        Unavailable,
        Rejected,
    }
    let cases: &[(u16, &str, Class)] = &[
        // Nothing started; clears as running automations end, or by waiting.
        (
            400,
            "AutomationExecutionLimitExceededException",
            Class::Throttled,
        ),
        (400, "ThrottlingException", Class::Throttled),
        (500, "InternalServerError", Class::Unavailable),
        (503, "ServiceUnavailable", Class::Unavailable),
        // Refusals: the run fails with SSM's words.
        (
            400,
            "AutomationDefinitionNotFoundException",
            Class::Rejected,
        ),
        (
            400,
            "AutomationDefinitionVersionNotFoundException",
            Class::Rejected,
        ),
        (
            400,
            "InvalidAutomationExecutionParametersException",
            Class::Rejected,
        ),
        (400, "IdempotentParameterMismatch", Class::Rejected),
        (400, "InvalidTarget", Class::Rejected),
        (400, "AccessDeniedException", Class::Rejected),
        (400, "ValidationException", Class::Rejected),
    ];
    for (status, code, want) in cases {
        let rule = ssm_error(*status, code);
        let err = ssm(&[&rule])
            .start_automation(&request())
            .await
            .unwrap_err();
        let got = match &err {
            ServiceError::Throttled { .. } => Class::Throttled,
            ServiceError::Unavailable { .. } => Class::Unavailable,
            ServiceError::Rejected(_) => Class::Rejected,
        };
        assert_eq!(&got, want, "{code}: {err}");
        let text = err.to_string();
        assert!(
            text.contains("StartAutomationExecution")
                && text.contains(code)
                && text.contains("says why"),
            "{text}"
        );
    }
}

/// A start carries its client token, so the client's retries are kept: the retry carries the same
/// token, and SSM answers it with the automation of the first.
#[tokio::test]
async fn with_production_retries_a_start_is_retried_with_the_same_token() {
    let rule = mock!(Client::start_automation_execution)
        .match_requests(|r| r.client_token() == Some(TOKEN))
        .sequence()
        .http_status(500, None)
        .output(started)
        .build();
    let runner = SsmAutomation::new(mocked_client!(
        aws_sdk_ssm,
        RuleMode::Sequential,
        [&rule],
        aws_adapters::retry_config(),
        aws_adapters::timeout_config()
    ));
    assert_eq!(runner.start_automation(&request()).await, Ok(ID.to_owned()));
    assert_eq!(rule.num_calls(), 2);
}

fn execution(
    status: AutomationExecutionStatus,
    failure: Option<&str>,
) -> GetAutomationExecutionOutput {
    GetAutomationExecutionOutput::builder()
        .automation_execution(
            AutomationExecution::builder()
                .automation_execution_id(ID)
                .automation_execution_status(status)
                .set_failure_message(failure.map(str::to_owned))
                .build(),
        )
        .build()
}

#[tokio::test]
async fn the_state_is_ssms_status_as_it_spells_it_and_its_failure_message() {
    let running = mock!(Client::get_automation_execution)
        .match_requests(|r| r.automation_execution_id() == Some(ID))
        .then_output(|| execution(AutomationExecutionStatus::Inprogress, None));
    let failed = mock!(Client::get_automation_execution).then_output(|| {
        execution(
            AutomationExecutionStatus::Failed,
            Some("Step fails when it is verifying the instance. No instance found."),
        )
    });
    let success = mock!(Client::get_automation_execution)
        .then_output(|| execution(AutomationExecutionStatus::CompletedWithSuccess, Some("")));
    let later = mock!(Client::get_automation_execution)
        .then_output(|| execution(AutomationExecutionStatus::from("PausedForever"), None));
    let runner = ssm(&[&running, &failed, &success, &later]);
    let state = |status: &str, failure: Option<&str>| {
        Ok(Some(AutomationState {
            status: status.to_owned(),
            failure_message: failure.map(str::to_owned),
        }))
    };
    assert_eq!(runner.automation(ID).await, state("InProgress", None));
    assert_eq!(
        runner.automation(ID).await,
        state(
            "Failed",
            Some("Step fails when it is verifying the instance. No instance found.")
        )
    );
    assert_eq!(
        runner.automation(ID).await,
        state("CompletedWithSuccess", None),
        "an empty message is none"
    );
    assert_eq!(
        runner.automation(ID).await,
        state("PausedForever", None),
        "a status SSM adds later is passed on as it is"
    );
}

#[tokio::test]
async fn an_automation_ssm_does_not_know_is_none_and_other_errors_are_errors() {
    let missing = mock!(Client::get_automation_execution).then_error(|| {
        GetAutomationExecutionError::AutomationExecutionNotFoundException(
            AutomationExecutionNotFoundException::builder()
                .message("not found")
                .meta(meta("AutomationExecutionNotFoundException", "not found"))
                .build(),
        )
    });
    let parsed = mock!(Client::get_automation_execution)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"AutomationExecutionNotFoundException","Message":"gone"}"#.into()),
        )
        .build();
    let internal = mock!(Client::get_automation_execution)
        .sequence()
        .http_status(
            500,
            Some(r#"{"__type":"InternalServerError","Message":"oops"}"#.into()),
        )
        .build();
    let throttled = mock!(Client::get_automation_execution)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#.into()),
        )
        .build();
    let denied = mock!(Client::get_automation_execution)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"AccessDeniedException","Message":"no"}"#.into()),
        )
        .build();
    let no_status = mock!(Client::get_automation_execution).then_output(|| {
        GetAutomationExecutionOutput::builder()
            .automation_execution(
                AutomationExecution::builder()
                    .automation_execution_id(ID)
                    .build(),
            )
            .build()
    });
    let runner = ssm(&[
        &missing, &parsed, &internal, &throttled, &denied, &no_status,
    ]);
    assert_eq!(runner.automation(ID).await, Ok(None));
    assert_eq!(runner.automation(ID).await, Ok(None));
    let r = runner.automation(ID).await;
    assert!(matches!(&r, Err(ServiceError::Unavailable { .. })), "{r:?}");
    let r = runner.automation(ID).await;
    assert!(matches!(&r, Err(ServiceError::Throttled { .. })), "{r:?}");
    let r = runner.automation(ID).await;
    assert!(
        matches!(&r, Err(ServiceError::Rejected(m)) if m.contains("AccessDenied")),
        "{r:?}"
    );
    let r = runner.automation(ID).await;
    assert!(
        matches!(&r, Err(ServiceError::Unavailable { message, .. }) if message.contains("unreadable")),
        "{r:?}"
    );
}

#[tokio::test]
async fn stop_cancels_the_automation_and_one_that_ended_is_no_error() {
    let stop = mock!(Client::stop_automation_execution)
        .match_requests(|r| {
            r.automation_execution_id() == Some(ID) && r.r#type() == Some(&StopType::Cancel)
        })
        .then_output(|| StopAutomationExecutionOutput::builder().build());
    let ended = mock!(Client::stop_automation_execution)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"InvalidAutomationStatusUpdateException","Message":"The automation execution is already in a terminal state"}"#
                    .into(),
            ),
        )
        .build();
    let missing = mock!(Client::stop_automation_execution)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"AutomationExecutionNotFoundException","Message":"gone"}"#.into()),
        )
        .build();
    let internal = mock!(Client::stop_automation_execution)
        .sequence()
        .http_status(500, None)
        .build();
    let runner = ssm(&[&stop, &ended, &missing, &internal]);
    assert_eq!(runner.stop_automation(ID).await, Ok(()));
    assert_eq!(runner.stop_automation(ID).await, Ok(()));
    let r = runner.stop_automation(ID).await;
    assert!(
        matches!(&r, Err(ServiceError::Rejected(m)) if m.contains("AutomationExecutionNotFoundException")),
        "{r:?}"
    );
    let r = runner.stop_automation(ID).await;
    assert!(matches!(&r, Err(ServiceError::Unavailable { .. })), "{r:?}");
    assert_eq!(stop.num_calls(), 1);
}

#[test]
fn the_sdk_spells_statuses_as_ssm_does() {
    // What the core's `automation_ended` reads.
    for (status, spelled) in [
        (AutomationExecutionStatus::Success, "Success"),
        (AutomationExecutionStatus::Inprogress, "InProgress"),
        (AutomationExecutionStatus::Timedout, "TimedOut"),
        (AutomationExecutionStatus::Cancelled, "Cancelled"),
        (AutomationExecutionStatus::Exited, "Exited"),
    ] {
        assert_eq!(status.as_str(), spelled);
    }
}
