//! Decoding every event shape, well-formed and not, and encoding the answers.

use execution_core::api::{Operation, Request};
use execution_core::fixtures::{EXECUTION_ID as E, PLAN_ID as P};
use serde_json::{json, Value};

use super::*;
use crate::apigw::MAX_BODY_BYTES;

pub(crate) const OTHER_ID: &str = "11111111-2222-4333-8444-555555555555";

/// A REST API (payload 1.0) proxy event for `POST /executions/{id}/{action}`.
pub(crate) fn rest_event(action: &str, body: Option<Value>, query: Option<Value>) -> Value {
    json!({
        "resource": format!("/executions/{{executionId}}/{action}"),
        "path": format!("/executions/{E}/{action}"),
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "queryStringParameters": query,
        "pathParameters": {"executionId": E},
        "requestContext": {"resourcePath": format!("/executions/{{executionId}}/{action}"), "httpMethod": "POST", "stage": "prod"},
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

/// An HTTP API (payload 2.0) proxy event; its raw path carries the stage.
pub(crate) fn http_event(action: &str, body: Option<Value>, query: Option<Value>) -> Value {
    json!({
        "version": "2.0",
        "routeKey": format!("POST /executions/{{executionId}}/{action}"),
        "rawPath": format!("/prod/executions/{E}/{action}"),
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "queryStringParameters": query,
        "pathParameters": {"executionId": E},
        "requestContext": {"http": {"method": "POST", "path": format!("/prod/executions/{E}/{action}")}, "stage": "prod"},
        "body": body.map(|b| b.to_string()),
        "isBase64Encoded": false
    })
}

pub(crate) fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2025-01-01T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/find"], "detail": {}
    })
}

fn refused(serves: Operation, event: Value) -> (Source, &'static str, String) {
    let d = decode(serves, &event);
    let e = d.request.expect_err("a refusal");
    assert_eq!(e.status_code(), 400, "{e}");
    (d.source, e.code(), e.to_string())
}

fn target_of(request: &Request) -> (String, String) {
    match request {
        Request::Pause(p) => (
            p.target.execution_id.to_string(),
            p.target.plan_id.to_string(),
        ),
        Request::Resume(t) | Request::Cancel(t) => {
            (t.execution_id.to_string(), t.plan_id.to_string())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn direct_payloads_are_the_seeds() {
    let d = decode(
        Operation::Poll,
        &json!({"operation": "poll", "executionId": E, "planId": P, "summary": true}),
    );
    assert_eq!(d.source, Source::Direct);
    let Ok(Request::Poll(p)) = d.request else {
        panic!("{:?}", d.request)
    };
    assert!(p.summary);
    assert_eq!(
        decode(Operation::Find, &json!({"operation": "find"}))
            .request
            .unwrap(),
        Request::Find
    );
    assert_eq!(
        decode(Operation::Find, &json!({})).request.unwrap(),
        Request::Find,
        "operation is optional"
    );
}

#[test]
fn malformed_direct_payloads_are_400s() {
    for bad in [
        json!(null),
        json!([1, 2]),
        json!("poll"),
        json!(42),
        json!(true),
    ] {
        let (source, code, msg) = refused(Operation::Poll, bad);
        assert_eq!((source, code), (Source::Direct, "INVALID_PARAMETER"));
        assert!(msg.contains("JSON object"), "{msg}");
    }
    let (_, code, msg) = refused(
        Operation::Poll,
        json!({"operation": "finalize", "executionId": E, "planId": P}),
    );
    assert_eq!(code, "INVALID_PARAMETER");
    assert!(msg.contains("serves 'poll', not 'finalize'"), "{msg}");
    assert!(refused(Operation::Poll, json!({"operation": "explode"}))
        .2
        .contains("unknown operation"));
    assert_eq!(
        refused(Operation::Poll, json!({"operation": ["poll"]})).1,
        "INVALID_PARAMETER"
    );
    assert_eq!(
        refused(Operation::Poll, json!({"executionId": E})).1,
        "MISSING_PARAMETER"
    );
    assert_eq!(
        refused(Operation::Poll, json!({"executionId": 7, "planId": P})).1,
        "INVALID_PARAMETER"
    );
}

#[test]
fn the_schedule_starts_find_and_nothing_else() {
    let d = decode(Operation::Find, &scheduled_event());
    assert_eq!(
        (d.source, d.request.unwrap()),
        (Source::Schedule, Request::Find)
    );
    for op in Operation::ALL
        .into_iter()
        .filter(|op| *op != Operation::Find)
    {
        let (source, code, msg) = refused(op, scheduled_event());
        assert_eq!((source, code), (Source::Schedule, "INVALID_PARAMETER"));
        assert!(msg.contains("does not run on a schedule"), "{msg}");
    }
    let mut other = scheduled_event();
    other["detail-type"] = json!("EC2 Instance State-change Notification");
    other["source"] = json!("aws.ec2");
    assert!(refused(Operation::Find, other).2.contains(
        "unsupported EventBridge event 'EC2 Instance State-change Notification' from 'aws.ec2'"
    ));
}

#[test]
fn rest_and_http_api_events_name_the_execution_in_the_path() {
    for make in [rest_event, http_event] {
        // planId in the body
        let d = decode(
            Operation::Pause,
            &make("pause", Some(json!({"planId": P})), None),
        );
        assert_eq!(d.source, Source::ApiGateway);
        assert_eq!(target_of(&d.request.unwrap()), (E.to_owned(), P.to_owned()));
        // planId in the query string, no body
        let d = decode(
            Operation::Resume,
            &make("resume", None, Some(json!({"planId": P}))),
        );
        assert_eq!(target_of(&d.request.unwrap()), (E.to_owned(), P.to_owned()));
        // the same in both places is fine
        let d = decode(
            Operation::Resume,
            &make(
                "resume",
                Some(json!({"planId": P, "executionId": E})),
                Some(json!({"planId": P})),
            ),
        );
        assert!(d.request.is_ok());
    }
}

#[test]
fn an_api_token_never_reaches_pause() {
    let (source, code, msg) = refused(
        Operation::Pause,
        rest_event(
            "pause",
            Some(json!({"planId": P, "taskToken": "secret-token"})),
            None,
        ),
    );
    assert_eq!((source, code), (Source::ApiGateway, "INVALID_PARAMETER"));
    assert!(
        msg.contains("taskToken") && !msg.contains("secret-token"),
        "{msg}"
    );
}

#[test]
fn the_path_must_name_this_functions_action() {
    let (source, _, msg) = refused(
        Operation::Pause,
        rest_event("resume", Some(json!({"planId": P})), None),
    );
    assert_eq!(source, Source::ApiGateway);
    assert!(msg.contains("this function serves pause"), "{msg}");
    assert!(refused(
        Operation::Resume,
        http_event("pause", Some(json!({"planId": P})), None)
    )
    .2
    .contains("serves resume"));
    let mut get = rest_event("pause", Some(json!({"planId": P})), None);
    get["httpMethod"] = json!("GET");
    assert!(refused(Operation::Pause, get).2.contains("only POST"));
    let mut no_path = http_event("resume", None, Some(json!({"planId": P})));
    no_path.as_object_mut().unwrap().remove("rawPath");
    assert_eq!(refused(Operation::Resume, no_path).1, "MISSING_PARAMETER");
}

#[test]
fn the_execution_id_falls_back_to_the_path_and_must_agree() {
    let mut ev = rest_event("pause", Some(json!({"planId": P})), None);
    ev["pathParameters"] = Value::Null;
    assert_eq!(
        target_of(&decode(Operation::Pause, &ev).request.unwrap()).0,
        E
    );
    let (_, _, msg) = refused(
        Operation::Pause,
        rest_event(
            "pause",
            Some(json!({"planId": P, "executionId": OTHER_ID})),
            None,
        ),
    );
    assert!(
        msg.contains("executionId") && msg.contains("different"),
        "{msg}"
    );
    let (_, _, msg) = refused(
        Operation::Resume,
        http_event(
            "resume",
            Some(json!({"planId": P})),
            Some(json!({"planId": OTHER_ID})),
        ),
    );
    assert!(msg.contains("planId") && msg.contains("different"), "{msg}");
    let mut bad = rest_event("pause", Some(json!({"planId": P})), None);
    bad["pathParameters"] = json!({"executionId": "not-a-uuid"});
    assert!(refused(Operation::Pause, bad).2.contains("executionId"));
}

#[test]
fn proxy_bodies_are_checked() {
    assert_eq!(
        refused(Operation::Resume, rest_event("resume", None, None)).1,
        "MISSING_PARAMETER",
        "no planId anywhere"
    );
    let mut not_json = rest_event("pause", None, None);
    not_json["body"] = json!("{planId: oops");
    assert!(refused(Operation::Pause, not_json).2.contains("not JSON"));
    assert!(refused(
        Operation::Pause,
        rest_event("pause", Some(json!([P])), None)
    )
    .2
    .contains("JSON object"));
    let mut big = rest_event("pause", None, None);
    big["body"] = json!(json!({"planId": P, "pad": "x".repeat(MAX_BODY_BYTES)}).to_string());
    assert!(refused(Operation::Pause, big)
        .2
        .contains("larger than 65536 bytes"));
    let mut wrong_types = http_event("resume", None, None);
    wrong_types["queryStringParameters"] = json!(["planId"]);
    assert_eq!(
        refused(Operation::Resume, wrong_types).1,
        "INVALID_PARAMETER"
    );
}

#[test]
fn base64_bodies_are_decoded_and_bad_ones_refused() {
    let mut ev = http_event("pause", None, None);
    ev["body"] = json!(aws_smithy_types::base64::encode(
        json!({"planId": P}).to_string()
    ));
    ev["isBase64Encoded"] = json!(true);
    assert_eq!(
        target_of(&decode(Operation::Pause, &ev).request.unwrap()).1,
        P
    );
    ev["body"] = json!("%%% not base64 %%%");
    assert!(refused(Operation::Pause, ev.clone())
        .2
        .contains("not valid base64"));
    ev["body"] = json!(aws_smithy_types::base64::encode(
        "x".repeat(MAX_BODY_BYTES + 1)
    ));
    assert!(refused(Operation::Pause, ev.clone())
        .2
        .contains("larger than"));
    ev["isBase64Encoded"] = json!("yes");
    assert_eq!(refused(Operation::Pause, ev).1, "INVALID_PARAMETER");
}

#[test]
fn only_the_operator_operations_are_served_through_the_api() {
    for op in Operation::ALL {
        let event = http_event(
            op.as_str(),
            Some(json!({"planId": P, "waveNumber": 1})),
            None,
        );
        let d = decode(op, &event);
        assert_eq!(
            d.source,
            Source::ApiGateway,
            "answered as a proxy response, so API Gateway relays a 400"
        );
        if API_OPERATIONS.contains(&op) {
            assert_eq!(d.request.expect("served").operation(), op);
        } else {
            let msg = d.request.expect_err("not served").to_string();
            assert!(msg.contains("not served through API Gateway"), "{msg}");
        }
    }
}

#[test]
fn retry_and_skip_take_the_wave_from_the_body() {
    for op in [Operation::Retry, Operation::Skip] {
        for make in [rest_event, http_event] {
            // planId in the body or in the query string, like pause and resume.
            for (body, query) in [
                (json!({"planId": P, "waveNumber": 3}), None),
                (json!({"waveNumber": 3}), Some(json!({"planId": P}))),
            ] {
                let d = decode(op, &make(op.as_str(), Some(body), query));
                assert_eq!(d.source, Source::ApiGateway);
                let (Ok(Request::Retry(w)) | Ok(Request::Skip(w))) = d.request else {
                    panic!("{op}: {:?}", d.request)
                };
                assert_eq!(
                    (
                        w.target.execution_id.to_string(),
                        w.target.plan_id.to_string(),
                        w.wave_number
                    ),
                    (E.to_owned(), P.to_owned(), 3)
                );
            }
            let (source, code, msg) =
                refused(op, make(op.as_str(), None, Some(json!({"planId": P}))));
            assert_eq!((source, code), (Source::ApiGateway, "MISSING_PARAMETER"));
            assert!(msg.contains("waveNumber"), "{msg}");
            // Query parameters are strings: the wave goes in the body, as a number.
            for body in [
                json!({"planId": P, "waveNumber": "3"}),
                json!({"planId": P, "waveNumber": 3.5}),
            ] {
                let (_, code, msg) = refused(op, make(op.as_str(), Some(body), None));
                assert_eq!(code, "INVALID_PARAMETER");
                assert!(msg.contains("waveNumber"), "{msg}");
            }
        }
        let other = if op == Operation::Retry {
            "skip"
        } else {
            "retry"
        };
        let (_, _, msg) = refused(
            op,
            rest_event(other, Some(json!({"planId": P, "waveNumber": 0})), None),
        );
        assert!(msg.contains(&format!("this function serves {op}")), "{msg}");
    }
}

#[test]
fn proxy_answers_carry_the_status_and_the_same_json() {
    let answer =
        json!({"statusCode": 404, "error": "NOT_FOUND", "message": "execution x not found"});
    let r = encode(Source::ApiGateway, answer.clone());
    assert_eq!(r["statusCode"], 404);
    assert_eq!(r["headers"]["content-type"], "application/json");
    assert_eq!(r["isBase64Encoded"], false);
    assert_eq!(
        serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap(),
        answer
    );
    assert_eq!(encode(Source::Direct, answer.clone()), answer);
    assert_eq!(encode(Source::Schedule, answer.clone()), answer);
}
