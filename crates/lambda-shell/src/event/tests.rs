//! Decoding every event shape, well-formed and not, and encoding the answers.

use execution_core::api::{EventsRequest, Operation, PageRequest, Request, Target};
use execution_core::audit::Actor;
use execution_core::fixtures::{EXECUTION_ID as E, PLAN_ID as P};
use serde_json::{json, Map, Value};

use super::*;

pub(crate) const OTHER_ID: &str = "11111111-2222-4333-8444-555555555555";

/// The IAM principal the signed test requests come from.
pub(crate) const CALLER: &str = "arn:aws:sts::123456789012:assumed-role/dr-operator/alice";

/// A REST API (payload 1.0) proxy event for `POST /executions/{id}/{action}`.
pub(crate) fn rest_event(action: &str, body: Option<Value>, query: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    rest_request(
        "POST",
        &format!("/executions/{{executionId}}/{action}"),
        body.as_deref(),
        query,
    )
}

/// An HTTP API (payload 2.0) proxy event for `POST /executions/{id}/{action}`.
pub(crate) fn http_event(action: &str, body: Option<Value>, query: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    http_request(
        "POST",
        &format!("/executions/{{executionId}}/{action}"),
        body.as_deref(),
        query,
    )
}

/// `route` (`/executions/{executionId}/...`) with [`E`] for the execution.
fn concrete(route: &str) -> String {
    route.replace("{executionId}", E)
}

fn path_parameters(route: &str) -> Value {
    if route.contains("{executionId}") {
        json!({"executionId": E})
    } else {
        Value::Null
    }
}

/// A REST API (payload 1.0) proxy event for `method` on `route` (as the template declares it),
/// without caller identity (see [`signed`]), with the query string in both its forms.
pub(crate) fn rest_request(
    method: &str,
    route: &str,
    body: Option<&str>,
    query: Option<Value>,
) -> Value {
    let multi = query.as_ref().and_then(Value::as_object).map(|q| {
        q.iter()
            .map(|(k, v)| (k.clone(), json!([v])))
            .collect::<Map<_, _>>()
    });
    json!({
        "resource": route,
        "path": concrete(route),
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi,
        "pathParameters": path_parameters(route),
        "requestContext": {"resourcePath": route, "httpMethod": method, "stage": "prod", "identity": {"sourceIp": "192.0.2.1"}},
        "body": body,
        "isBase64Encoded": false
    })
}

/// An HTTP API (payload 2.0) proxy event; its raw path carries the stage.
pub(crate) fn http_request(
    method: &str,
    route: &str,
    body: Option<&str>,
    query: Option<Value>,
) -> Value {
    let raw_query = query
        .as_ref()
        .and_then(Value::as_object)
        .map(|q| {
            q.iter()
                .map(|(k, v)| format!("{k}={}", encoded(v.as_str().unwrap_or_default())))
                .collect::<Vec<_>>()
                .join("&")
        })
        .unwrap_or_default();
    let path = format!("/prod{}", concrete(route));
    json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"content-type": "application/json"},
        "queryStringParameters": query,
        "pathParameters": path_parameters(route),
        "requestContext": {"http": {"method": method, "path": path}, "stage": "prod"},
        "body": body,
        "isBase64Encoded": false
    })
}

/// `event` as API Gateway hands it over for a request signed by `arn` (IAM authorization).
pub(crate) fn signed(mut event: Value, arn: &str) -> Value {
    if event.get("version").and_then(Value::as_str) == Some("2.0") {
        event["requestContext"]["authorizer"] =
            json!({"iam": {"userArn": arn, "accountId": "123456789012"}});
    } else {
        event["requestContext"]["identity"]["userArn"] = json!(arn);
    }
    event
}

/// Percent-encoding of a query value, as a client sends it.
fn encoded(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn scheduled_event() -> Value {
    json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": "2025-01-01T00:00:00Z",
        "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:123456789012:rule/find"], "detail": {}
    })
}

/// DRS's own sample "DRS Source Server Launch Result" event (EventBridge, "Sample events for
/// Elastic Disaster Recovery"), as delivered.
pub(crate) const DRS_SAMPLE_EVENT: &str = r#"{"version":"0","id":"9da9af57-9253-4406-87cb-7cc400e43465","detail-type":"DRS Source Server Launch Result","source":"aws.drs","account":"111122223333","time":"2016-08-22T20:12:19Z","region":"us-west-2","resources":["arn:aws:drs:us-west-2:111122223333:source-server/s-12345678901234567"],"detail":{"state":"RECOVERY_LAUNCH_SUCCEEDED","job-id":"drsjob-04ca7d0d3fb6afa3e","is-drill":"FALSE"}}"#;

pub(crate) fn drs_sample_event() -> Value {
    serde_json::from_str(DRS_SAMPLE_EVENT).expect("DRS's sample event is JSON")
}

/// A DRS launch result in DRS's shape: `server`'s launch in `job` ended in `state`.
pub(crate) fn launch_result(job: &str, server: &str, state: &str) -> Value {
    let mut event = drs_sample_event();
    event["id"] = json!(format!("event-{job}-{server}"));
    event["resources"] = json!([format!(
        "arn:aws:drs:us-east-1:123456789012:source-server/{server}"
    )]);
    event["detail"] = json!({"state": state, "job-id": job, "is-drill": "TRUE"});
    event
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
        Request::Resume(t) | Request::Cancel(t) | Request::Cleanup(t) => {
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

/// `POST /executions/{executionId}/cleanup`: the plan in the body or the query string (as cancel),
/// never a caller's name; only POST, only on the cleanup function.
#[test]
fn cleanup_is_served_on_its_route_with_the_plan_in_the_body_or_the_query() {
    for make in [rest_event, http_event] {
        for (body, query) in [
            (Some(json!({"planId": P})), None),
            (None, Some(json!({"planId": P}))),
            (
                Some(json!({"planId": P, "executionId": E})),
                Some(json!({"planId": P})),
            ),
        ] {
            let d = decode(Operation::Cleanup, &make("cleanup", body, query));
            assert_eq!(d.source, Source::ApiGateway);
            assert_eq!(d.request.unwrap(), Request::Cleanup(target()));
        }
        let d = decode(
            Operation::Cleanup,
            &signed(make("cleanup", Some(json!({"planId": P})), None), CALLER),
        );
        assert_eq!(
            d.actor,
            Actor::Iam(CALLER.into()),
            "the caller is the signer"
        );

        let (source, code, _) = refused(Operation::Cleanup, make("cleanup", None, None));
        assert_eq!((source, code), (Source::ApiGateway, "MISSING_PARAMETER"));
        let (_, code, msg) = refused(
            Operation::Cleanup,
            make(
                "cleanup",
                Some(json!({"planId": P})),
                Some(json!({"planId": OTHER_ID})),
            ),
        );
        assert_eq!(code, "INVALID_PARAMETER");
        assert!(msg.contains("planId") && msg.contains("different"), "{msg}");
        let (_, code, msg) = refused(
            Operation::Cleanup,
            make(
                "cleanup",
                Some(json!({"planId": P, "invokedBy": "workflow"})),
                None,
            ),
        );
        assert_eq!(code, "INVALID_PARAMETER");
        assert!(
            msg.contains("invokedBy") && msg.contains("not accepted through the API"),
            "{msg}"
        );
        // Another function's route, and cleanup's route on another function.
        assert!(refused(
            Operation::Cleanup,
            make("cancel", Some(json!({"planId": P})), None)
        )
        .2
        .contains("this function serves cleanup (POST /executions/{executionId}/cleanup)"));
        assert!(refused(
            Operation::Cancel,
            make("cleanup", Some(json!({"planId": P})), None)
        )
        .2
        .contains("is not this function's route"));
    }
    let mut get = rest_event("cleanup", Some(json!({"planId": P})), None);
    get["httpMethod"] = json!("GET");
    assert!(refused(Operation::Cleanup, get).2.contains("only POST"));
    let mut not_uuid = http_event("cleanup", Some(json!({"planId": P})), None);
    not_uuid["pathParameters"] = json!({"executionId": "i-0123456789abcdef0"});
    assert!(refused(Operation::Cleanup, not_uuid)
        .2
        .contains("executionId"));
    // The state machine calls it directly, naming itself.
    let d = decode(
        Operation::Cleanup,
        &json!({"operation": "cleanup", "invokedBy": "workflow", "executionId": E, "planId": P}),
    );
    assert_eq!(
        (d.source, d.request.unwrap(), d.actor),
        (Source::Direct, Request::Cleanup(target()), Actor::Workflow)
    );
    assert_eq!(
        Route::of(Operation::Cleanup)
            .map(ToString::to_string)
            .as_deref(),
        Some("POST /executions/{executionId}/cleanup")
    );
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
fn only_the_api_operations_are_served_through_the_api() {
    for op in Operation::ALL {
        let route = Route::of(op).map_or("/executions/{executionId}/find", |r| r.path);
        let method = Route::of(op).map_or("POST", |r| r.method);
        let body = match op {
            Operation::Start => fixture_plan(),
            Operation::Retry | Operation::Skip => json!({"planId": P, "waveNumber": 1}),
            Operation::List => json!({}),
            _ => json!({"planId": P}),
        };
        let event = http_request(method, route, Some(&body.to_string()), None);
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
fn every_api_operation_has_one_route_and_every_route_one_function() {
    let served: Vec<Operation> = API_ROUTES.iter().map(|r| r.operation).collect();
    assert_eq!(served, API_OPERATIONS);
    for (i, a) in API_ROUTES.iter().enumerate() {
        for b in &API_ROUTES[i + 1..] {
            assert!(
                (a.method, a.path) != (b.method, b.path),
                "{a} is served twice"
            );
        }
        assert!(a.path.starts_with("/executions"), "{a}");
        assert_eq!(
            a.path.contains("{executionId}"),
            a.query.contains(&"planId"),
            "{a}: a route that names an execution names its plan too"
        );
    }
}

/// The plan of [`execution_core::fixtures::plan`] as a plan file holds it.
fn fixture_plan() -> Value {
    serde_json::to_value(execution_core::fixtures::plan(&[2, 1])).unwrap()
}

#[test]
fn every_route_decodes_from_rest_and_http_api_events() {
    for make in [rest_request, http_request] {
        // start: the body is the plan; the query names the execution and the interval.
        let plan = fixture_plan().to_string();
        let d = decode(
            Operation::Start,
            &make(
                "POST",
                "/executions",
                Some(&plan),
                Some(json!({"executionId": OTHER_ID, "pollIntervalSeconds": "15"})),
            ),
        );
        assert_eq!(d.source, Source::ApiGateway);
        let Ok(Request::Start(start)) = d.request else {
            panic!("{:?}", d.request)
        };
        assert_eq!(*start.plan, execution_core::fixtures::plan(&[2, 1]));
        assert_eq!(
            start.execution_id.map(|id| id.to_string()).as_deref(),
            Some(OTHER_ID)
        );
        assert_eq!(start.poll_interval_seconds.map(|p| p.secs()), Some(15));
        let d = decode(
            Operation::Start,
            &make("POST", "/executions", Some(&plan), None),
        );
        let Ok(Request::Start(start)) = d.request else {
            panic!("{:?}", d.request)
        };
        assert_eq!(
            (start.execution_id, start.poll_interval_seconds),
            (None, None)
        );

        // list: the first page, then the next.
        let d = decode(Operation::List, &make("GET", "/executions", None, None));
        assert_eq!(
            d.request.unwrap(),
            Request::List(PageRequest { next_token: None })
        );
        let d = decode(
            Operation::List,
            &make(
                "GET",
                "/executions",
                None,
                Some(json!({"nextToken": "POLLING|5|a b"})),
            ),
        );
        assert_eq!(
            d.request.unwrap(),
            Request::List(PageRequest {
                next_token: Some("POLLING|5|a b".into())
            })
        );

        // get and events: the execution from the path, the plan (and page) from the query.
        let d = decode(
            Operation::Get,
            &make(
                "GET",
                "/executions/{executionId}",
                None,
                Some(json!({"planId": P})),
            ),
        );
        assert_eq!(d.request.unwrap(), Request::Get(target()));
        let d = decode(
            Operation::Events,
            &make(
                "GET",
                "/executions/{executionId}/events",
                None,
                Some(json!({"planId": P, "nextToken": "after:x"})),
            ),
        );
        assert_eq!(
            d.request.unwrap(),
            Request::Events(EventsRequest {
                target: target(),
                next_token: Some("after:x".into())
            })
        );
        // A GET may carry the plan in a body too, as the POST routes do.
        let d = decode(
            Operation::Get,
            &make(
                "get",
                "/executions/{executionId}",
                Some(r#"{"planId":"0d9b7c6a-1111-4222-8333-944455556666"}"#),
                None,
            ),
        );
        assert_eq!(d.request.unwrap(), Request::Get(target()));
    }
}

fn target() -> Target {
    Target {
        execution_id: execution_core::fixtures::execution_id(),
        plan_id: execution_core::fixtures::plan_id(),
    }
}

#[test]
fn each_function_serves_its_own_route_only() {
    for serves in API_OPERATIONS {
        for route in API_ROUTES.iter().filter(|r| r.operation != serves) {
            for make in [rest_request, http_request] {
                let event = make(route.method, route.path, Some("{}"), None);
                let (source, code, msg) = refused(serves, event);
                assert_eq!((source, code), (Source::ApiGateway, "INVALID_PARAMETER"));
                let own = Route::of(serves).unwrap();
                if own.path == route.path {
                    // The same path, another method: GET /executions to start, POST to list.
                    assert!(
                        msg.contains(&format!("only {} is served on {}", own.method, own.path)),
                        "{serves} <- {route}: {msg}"
                    );
                } else {
                    assert!(
                        msg.contains("is not this function's route")
                            && msg.contains(&format!("this function serves {serves} ({own})")),
                        "{serves} <- {route}: {msg}"
                    );
                }
            }
        }
    }
}

#[test]
fn unknown_routes_and_methods_are_400s() {
    for serves in API_OPERATIONS {
        let own = Route::of(serves).unwrap();
        for make in [rest_request, http_request] {
            for path in [
                "/executions/{executionId}/explode",
                "/plans",
                "/",
                "/executions/{executionId}/events/more",
            ] {
                let (_, code, msg) = refused(serves, make(own.method, path, None, None));
                assert_eq!(code, "INVALID_PARAMETER");
                assert!(msg.contains("is not a route of this API"), "{path}: {msg}");
            }
            for method in ["DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"] {
                let (_, code, msg) = refused(serves, make(method, own.path, None, None));
                assert_eq!(code, "INVALID_PARAMETER");
                assert!(
                    msg.contains(&format!("only {} is served", own.method)) && msg.contains(method),
                    "{serves} {method}: {msg}"
                );
            }
        }
    }
}

#[test]
fn start_takes_the_plan_document_as_its_body() {
    let start = |body: Option<&str>, query: Option<Value>| {
        refused(
            Operation::Start,
            rest_request("POST", "/executions", body, query),
        )
    };
    let plan = fixture_plan().to_string();
    let (_, code, msg) = start(Some("{\"planId\": oops"), None);
    assert_eq!(code, "INVALID_PARAMETER");
    assert!(msg.contains("'body'") && msg.contains("not JSON"), "{msg}");
    let (_, code, msg) = start(Some("[1, 2]"), None);
    assert_eq!(code, "INVALID_PARAMETER");
    assert!(msg.contains("plan document"), "{msg}");
    assert_eq!(start(None, None).1, "MISSING_PARAMETER");
    // Plans as code: a field no plan has is refused, the engine's own fields included.
    for extra in ["taskToken", "invokedBy", "plan"] {
        let mut doc = fixture_plan();
        doc[extra] = json!("x");
        let (_, code, msg) = start(Some(&doc.to_string()), None);
        assert_eq!(code, "INVALID_PARAMETER", "{extra}");
        assert!(msg.contains(extra), "{msg}");
    }
    let (_, code, msg) = start(Some(&plan), Some(json!({"executionId": "not-a-uuid"})));
    assert_eq!(code, "INVALID_PARAMETER");
    assert!(msg.contains("executionId"), "{msg}");
    for bad in ["4", "1.5", "soon", "86401"] {
        let (_, code, msg) = start(Some(&plan), Some(json!({"pollIntervalSeconds": bad})));
        assert_eq!(code, "INVALID_PARAMETER", "{bad}");
        assert!(msg.contains("pollIntervalSeconds"), "{msg}");
    }
    // Base64 bodies are decoded, as for the other routes.
    let mut ev = http_request("POST", "/executions", None, None);
    ev["body"] = json!(aws_smithy_types::base64::encode(&plan));
    ev["isBase64Encoded"] = json!(true);
    assert!(decode(Operation::Start, &ev).request.is_ok());
}

#[test]
fn the_largest_plan_fits_starts_body_and_only_starts() {
    // 99 waves of 1,000 servers, each named by its id alone: far beyond what the operators'
    // routes take, within what Lambda delivers even once escaped into the event.
    let mut plan = serde_json::to_value(execution_core::fixtures::plan(&[1000; 99])).unwrap();
    for wave in plan["waves"].as_array_mut().unwrap() {
        for server in wave["servers"].as_array_mut().unwrap() {
            let id = server["sourceServerId"].clone();
            *server = json!({"sourceServerId": id});
        }
    }
    let plan = plan.to_string();
    let event = http_request("POST", "/executions", Some(&plan), None);
    let event_bytes = event.to_string().len();
    assert!(
        plan.len() > 50 * MAX_BODY_BYTES && event_bytes < START_MAX_BODY_BYTES,
        "plan {} bytes, event {event_bytes} bytes",
        plan.len()
    );
    let d = decode(Operation::Start, &event);
    let Ok(Request::Start(start)) = d.request else {
        panic!("{:?}", d.request.map(|_| ()))
    };
    assert_eq!(start.plan.waves.len(), 99);
    // Beyond Lambda's payload limit nothing can arrive; a body that says so is refused unread.
    let huge = format!("{{\"pad\": \"{}\"}}", "x".repeat(START_MAX_BODY_BYTES));
    let (_, code, msg) = refused(
        Operation::Start,
        rest_request("POST", "/executions", Some(&huge), None),
    );
    assert_eq!(code, "INVALID_PARAMETER");
    assert!(
        msg.contains(&format!("larger than {START_MAX_BODY_BYTES} bytes")),
        "{msg}"
    );
    // The other routes keep their small limit.
    let padded = json!({"planId": P, "pad": "x".repeat(MAX_BODY_BYTES)}).to_string();
    let (_, _, msg) = refused(
        Operation::Get,
        rest_request("GET", "/executions/{executionId}", Some(&padded), None),
    );
    assert!(msg.contains("larger than 65536 bytes"), "{msg}");
}

#[test]
fn reads_refuse_malformed_requests() {
    for make in [rest_request, http_request] {
        let mut not_uuid = make(
            "GET",
            "/executions/{executionId}",
            None,
            Some(json!({"planId": P})),
        );
        not_uuid["pathParameters"] = json!({"executionId": "not-a-uuid"});
        let (_, code, msg) = refused(Operation::Get, not_uuid);
        assert_eq!(code, "INVALID_PARAMETER");
        assert!(msg.contains("executionId"), "{msg}");
        let (_, code, msg) = refused(
            Operation::Events,
            make(
                "GET",
                "/executions/{executionId}/events",
                None,
                Some(json!({"planId": "12"})),
            ),
        );
        assert_eq!(code, "INVALID_PARAMETER");
        assert!(msg.contains("planId"), "{msg}");
        assert_eq!(
            refused(
                Operation::Get,
                make("GET", "/executions/{executionId}", None, None)
            )
            .1,
            "MISSING_PARAMETER",
            "no planId anywhere"
        );
        let (_, code, msg) = refused(
            Operation::List,
            make(
                "GET",
                "/executions",
                None,
                Some(json!({"nextToken": "x".repeat(2000)})),
            ),
        );
        assert_eq!(code, "INVALID_PARAMETER");
        assert!(msg.contains("nextToken"), "{msg}");
        let (_, _, msg) = refused(
            Operation::Get,
            make("GET", "/executions/{executionId}", Some("planId="), None),
        );
        assert!(msg.contains("not JSON"), "{msg}");
        let (_, _, msg) = refused(
            Operation::Get,
            make(
                "GET",
                "/executions/{executionId}",
                Some(r#"{"taskToken": "t"}"#),
                Some(json!({"planId": P})),
            ),
        );
        assert!(
            msg.contains("taskToken") && msg.contains("not accepted"),
            "{msg}"
        );
    }
}

#[test]
fn query_strings_are_read_from_either_shape_and_a_repeated_parameter_is_refused() {
    let route = "/executions/{executionId}/events";
    // REST: API Gateway keeps the last of repeated values in queryStringParameters, all of them
    // in multiValueQueryStringParameters.
    let mut rest = rest_request(
        "GET",
        route,
        None,
        Some(json!({"planId": P, "nextToken": "b"})),
    );
    rest["multiValueQueryStringParameters"]["nextToken"] = json!(["a", "b"]);
    let (_, code, msg) = refused(Operation::Events, rest);
    assert_eq!(code, "INVALID_PARAMETER");
    assert!(
        msg.contains("nextToken") && msg.contains("more than once"),
        "{msg}"
    );
    // HTTP API: it joins them with commas; rawQueryString says what was sent.
    let mut http = http_request(
        "GET",
        route,
        None,
        Some(json!({"planId": P, "nextToken": "a,b"})),
    );
    http["rawQueryString"] = json!(format!("planId={P}&nextToken=a&nextToken=b"));
    let (_, _, msg) = refused(Operation::Events, http);
    assert!(
        msg.contains("nextToken") && msg.contains("more than once"),
        "{msg}"
    );
    // An HTTP API event without the decoded parameters: rawQueryString, percent-decoded.
    let mut http = http_request("GET", route, None, None);
    http["rawQueryString"] = json!(format!("planId={P}&nextToken=POLLING%7C17%7Cx%20y"));
    let Ok(Request::Events(r)) = decode(Operation::Events, &http).request else {
        panic!()
    };
    assert_eq!(r.next_token.as_deref(), Some("POLLING|17|x y"));
    // A REST event without the single-valued map: the one value of the multi-valued one.
    let mut rest = rest_request("GET", route, None, Some(json!({"planId": P})));
    rest["queryStringParameters"] = Value::Null;
    assert!(decode(Operation::Events, &rest).request.is_ok());
    for bad in [json!({"planId": 7}), json!({"planId": [P]})] {
        let mut ev = rest_request("GET", route, None, None);
        ev["queryStringParameters"] = bad;
        assert_eq!(refused(Operation::Events, ev).1, "INVALID_PARAMETER");
    }
}

#[test]
fn the_caller_is_the_iam_principal_or_anonymous() {
    for make in [rest_request, http_request] {
        let event = make("GET", "/executions", None, None);
        assert_eq!(decode(Operation::List, &event).actor, Actor::Anonymous);
        let d = decode(Operation::List, &signed(event, CALLER));
        assert_eq!(d.actor, Actor::Iam(CALLER.into()));
        // A body cannot name another caller.
        let event = signed(
            make(
                "POST",
                "/executions/{executionId}/cancel",
                Some(
                    r#"{"planId": "0d9b7c6a-1111-4222-8333-944455556666", "invokedBy": "workflow"}"#,
                ),
                None,
            ),
            CALLER,
        );
        let d = decode(Operation::Cancel, &event);
        assert_eq!(d.actor, Actor::Iam(CALLER.into()));
        assert!(d.request.unwrap_err().to_string().contains("invokedBy"));
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

// ---- DRS's launch results: advance's, and no other function's ---------------------------------

/// Which parameter a refusal names, and whether it was missing or invalid: the typed refusal, not
/// its words.
fn refusal_of(serves: Operation, event: &Value) -> (Source, &'static str, String) {
    let d = decode(serves, event);
    let e = d.request.expect_err("a refusal");
    assert_eq!(e.status_code(), 400, "{e}");
    let field = match &e {
        OperationError::MissingParameter(field) => (*field).to_owned(),
        OperationError::InvalidParameter { field, .. } => field.clone(),
        other => panic!("{serves}: {other:?}"),
    };
    (d.source, e.code(), field)
}

#[test]
fn drs_launch_results_are_advances_and_recorded_as_a_drs_event() {
    use execution_core::ids::{JobId, SourceServerId};
    let d = decode(Operation::Advance, &drs_sample_event());
    assert_eq!((d.source, d.actor), (Source::DrsEvent, Actor::Event));
    assert_eq!(
        d.request.expect("DRS's sample event reads"),
        Request::Advance(LaunchResult {
            job_id: JobId::parse("drsjob-04ca7d0d3fb6afa3e").unwrap(),
            state: Some("RECOVERY_LAUNCH_SUCCEEDED".into()),
            source_server_id: Some(SourceServerId::parse("s-12345678901234567").unwrap()),
            event_id: Some("9da9af57-9253-4406-87cb-7cc400e43465".into()),
        })
    );
    // A failed launch is news too: the wave may have settled.
    let failed = launch_result(
        "drsjob-0000000000000000a",
        "s-00000000000000001",
        "RECOVERY_LAUNCH_FAILED",
    );
    let Ok(Request::Advance(r)) = decode(Operation::Advance, &failed).request else {
        panic!("a failed launch reads")
    };
    assert_eq!(r.state.as_deref(), Some("RECOVERY_LAUNCH_FAILED"));
    // The job alone decides: resources that do not name a source server are left out.
    for resources in [
        json!([]),
        json!("s-1"),
        json!([7, "arn:aws:drs:x:y:recovery-instance/i-1"]),
    ] {
        let mut event = drs_sample_event();
        event["resources"] = resources.clone();
        let Ok(Request::Advance(r)) = decode(Operation::Advance, &event).request else {
            panic!("{resources}")
        };
        assert_eq!(r.source_server_id, None, "{resources}");
        assert_eq!(r.job_id.as_str(), "drsjob-04ca7d0d3fb6afa3e");
    }
    // The direct payload of the same request (drctl, a test): the caller is whoever says so.
    let d = decode(
        Operation::Advance,
        &json!({"operation": "advance", "jobId": "drsjob-04ca7d0d3fb6afa3e", "invokedBy": "event"}),
    );
    assert_eq!((d.source, d.actor), (Source::Direct, Actor::Event));
    assert!(
        matches!(d.request, Ok(Request::Advance(_))),
        "{:?}",
        d.request
    );
    assert_eq!(
        encode(Source::DrsEvent, json!({"statusCode": 200})),
        json!({"statusCode": 200}),
        "answered as it is: EventBridge reads no answer"
    );
}

#[test]
fn every_other_function_refuses_a_drs_event() {
    for op in Operation::ALL
        .into_iter()
        .filter(|op| *op != Operation::Advance)
    {
        assert_eq!(
            refusal_of(op, &drs_sample_event()),
            (Source::DrsEvent, "INVALID_PARAMETER", "event".to_owned()),
            "{op}"
        );
    }
    // find is started by its schedule only.
    let (_, _, msg) = refused(Operation::Find, drs_sample_event());
    assert!(
        msg.contains("advance"),
        "the refusal names who takes it: {msg}"
    );
}

#[test]
fn advance_refuses_the_schedule_and_every_other_event() {
    assert_eq!(
        refusal_of(Operation::Advance, &scheduled_event()),
        (Source::Schedule, "INVALID_PARAMETER", "event".to_owned())
    );
    let (_, _, msg) = refused(Operation::Advance, scheduled_event());
    assert!(msg.contains("does not run on a schedule"), "{msg}");
    let mut stalled = drs_sample_event();
    stalled["detail-type"] = json!("DRS Source Server Data Replication Stalled Change");
    stalled["detail"] = json!({"state": "STALLED"});
    let mut ec2 = scheduled_event();
    ec2["source"] = json!("aws.ec2");
    ec2["detail-type"] = json!("EC2 Instance State-change Notification");
    ec2["detail"] = json!({"instance-id": "i-0123456789abcdef0", "state": "running"});
    // A launch result that claims another source is not DRS's.
    let mut forged = drs_sample_event();
    forged["source"] = json!("my.app");
    for (event, source) in [
        (stalled, Source::DrsEvent),
        (ec2, Source::Schedule),
        (forged, Source::Schedule),
    ] {
        assert_eq!(
            refusal_of(Operation::Advance, &event),
            (source, "INVALID_PARAMETER", "event".to_owned()),
            "{event}"
        );
        let (_, _, msg) = refused(Operation::Advance, event);
        assert!(
            msg.contains(LAUNCH_RESULT_DETAIL_TYPE),
            "says what it takes: {msg}"
        );
    }
}

/// DRS's sample event with `detail` replaced (`None`: left out).
fn with_detail(detail: Option<Value>) -> Value {
    let mut event = drs_sample_event();
    match detail {
        Some(d) => event["detail"] = d,
        None => {
            event.as_object_mut().map(|o| o.remove("detail"));
        }
    }
    event
}

/// DRS's sample event with `detail.job-id` replaced.
fn with_job(job: Value) -> Value {
    let mut event = drs_sample_event();
    event["detail"]["job-id"] = job;
    event
}

#[test]
fn malformed_drs_events_are_400s_naming_what_is_wrong() {
    let missing = |field: &str| (Source::DrsEvent, "MISSING_PARAMETER", field.to_owned());
    let invalid = |field: &str| (Source::DrsEvent, "INVALID_PARAMETER", field.to_owned());
    let cases = [
        (with_detail(None), missing("detail")),
        (with_detail(Some(json!(null))), invalid("detail")),
        (
            with_detail(Some(json!("drsjob-04ca7d0d3fb6afa3e"))),
            invalid("detail"),
        ),
        (
            with_detail(Some(json!(["drsjob-04ca7d0d3fb6afa3e"]))),
            invalid("detail"),
        ),
        (with_detail(Some(json!(7))), invalid("detail")),
        (with_detail(Some(json!({}))), missing("detail.job-id")),
        (
            with_detail(Some(json!({"jobId": "drsjob-04ca7d0d3fb6afa3e"}))),
            missing("detail.job-id"),
        ),
        (with_job(json!(null)), missing("detail.job-id")),
        (with_job(json!("")), missing("detail.job-id")),
        (with_job(json!(7)), invalid("detail.job-id")),
        (
            with_job(json!(["drsjob-04ca7d0d3fb6afa3e"])),
            invalid("detail.job-id"),
        ),
        (
            with_job(json!({"id": "drsjob-04ca7d0d3fb6afa3e"})),
            invalid("detail.job-id"),
        ),
        // Not a DRS job id: the parse refuses it (its field is the job id's own).
        (with_job(json!("drsjob-short")), invalid("jobId")),
        (with_job(json!("i-0123456789abcdef0")), invalid("jobId")),
        (
            with_job(json!("drsjob-04ca7d0d3fb6afa3e ")),
            invalid("jobId"),
        ),
        (
            with_job(json!("drsjob-04ca7d0d3fb6afa3é")),
            invalid("jobId"),
        ),
        (
            with_job(json!(format!("drsjob-{}", "0".repeat(100_000)))),
            invalid("jobId"),
        ),
    ];
    for (event, want) in cases {
        assert_eq!(refusal_of(Operation::Advance, &event), want, "{event:.300}");
    }
    // Without a detail-type it is no EventBridge event: read as a direct payload, without a jobId.
    let mut bare = drs_sample_event();
    bare.as_object_mut().map(|o| o.remove("detail-type"));
    assert_eq!(
        refusal_of(Operation::Advance, &bare),
        (Source::Direct, "MISSING_PARAMETER", "jobId".to_owned())
    );
    let mut numbered = drs_sample_event();
    numbered["detail-type"] = json!(7);
    assert_eq!(refusal_of(Operation::Advance, &numbered), invalid("event"));
}

mod drs_events {
    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            ".{0,24}".prop_map(Value::String),
            "drsjob-[0-9a-f]{15,19}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("(job-id|state|detail|[a-z-]{1,8})", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever DRS (or anyone on the bus) puts in `detail` and `resources`, advance reads a
        /// request or refuses with a 400; it reads one exactly when the job id is a DRS job id.
        #[test]
        fn any_drs_event_reads_or_is_a_400(detail in any_json(), resources in any_json()) {
            let mut event = drs_sample_event();
            event["detail"] = detail.clone();
            event["resources"] = resources;
            let d = decode(Operation::Advance, &event);
            let job = detail.get("job-id").and_then(Value::as_str);
            let valid = job.is_some_and(|j| execution_core::ids::JobId::parse(j).is_ok());
            match d.request {
                Ok(Request::Advance(r)) => {
                    prop_assert!(valid);
                    prop_assert_eq!(Some(r.job_id.as_str()), job);
                }
                Ok(other) => prop_assert!(false, "{:?}", other),
                Err(e) => {
                    prop_assert!(!valid, "{}", e);
                    prop_assert_eq!(e.status_code(), 400);
                }
            }
        }
    }
}
