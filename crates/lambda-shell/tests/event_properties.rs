//! Bad input, as property tests over the functions' one handler (`handlers::serve`), for each
//! operation a function serves: arbitrary JSON, EventBridge-like
//! and API-Gateway-like events with random fields, arbitrary bodies (base64 and not), oversize
//! payloads, wrong types, unknown operations, another function's operation, non-UUID ids and huge
//! strings. Whatever the event: no panic; a refusal is a 400 with an error code of the seed's,
//! in the shape its caller understands; and no port is called (every mock has no expectation, so
//! any call panics and fails the case).
//!
//! (Lambda itself refuses an Invoke whose payload is not JSON, so a function only ever sees JSON
//! values; API Gateway bodies are where arbitrary bytes arrive.)

use std::sync::OnceLock;

use aws_smithy_types::base64;
use execution_core::api::Operation;
use execution_core::fixtures::{EXECUTION_ID as E, PLAN_ID as P};
use execution_core::ids::ExecutionId;
use execution_core::ops::{FindConfig, Ports};
use execution_core::ports::mocks::{
    FixedClock, MockDispatch, MockDrs, MockEc2, MockLocks, MockStore, MockWorkflow,
};
use execution_core::rules::Policy;
use lambda_shell::event::{decode, Source, API_OPERATIONS};
use lambda_shell::handlers;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Map, Value};

/// The operations a function is deployed for.
const FUNCTIONS: [Operation; 8] = [
    Operation::Find,
    Operation::Poll,
    Operation::Finalize,
    Operation::Pause,
    Operation::Resume,
    Operation::Launch,
    Operation::Retry,
    Operation::Skip,
];

/// The 400 codes of the seed's set.
const BAD_INPUT: [&str; 2] = ["MISSING_PARAMETER", "INVALID_PARAMETER"];

/// Whatever a caller sends, an error message stays short (no echo of huge input).
const MAX_MESSAGE: usize = 1024;

/// The API's body limit (`apigw::MAX_BODY_BYTES`, private to the crate).
const MAX_BODY_BYTES: usize = 64 * 1024;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
}

/// Runs the handler for `op` with every port, each failing the test on any call.
fn untouched(op: Operation, event: &Value) -> Value {
    let (store, drs, ec2) = (MockStore::new(), MockDrs::new(), MockEc2::new());
    let locks = MockLocks::new();
    let (dispatch, workflow) = (MockDispatch::new(), MockWorkflow::new());
    let (clock, policy) = (FixedClock::at_secs(2_000), Policy::default());
    let config = FindConfig {
        concurrency: 4,
        deadline_millis: 2_060_000,
        poll_budget_millis: 1_000,
    };
    let ports = Ports::new(&store, &clock, &policy)
        .with_drs(&drs)
        .with_ec2(&ec2)
        .with_locks(&locks)
        .with_workflow(&workflow)
        .with_find(&dispatch, &config);
    runtime().block_on(handlers::serve(op, &ports, event))
}

/// What the function does with `event`: a request of its own operation (not run here: the
/// properties are about refusals), or a 400 answered without touching a port. Returns the error
/// code of a refusal.
fn served(op: Operation, event: &Value) -> Result<Option<&'static str>, TestCaseError> {
    let decoded = decode(op, event);
    let code = match &decoded.request {
        Ok(request) => {
            prop_assert_eq!(request.operation(), op);
            return Ok(None);
        }
        Err(e) => {
            prop_assert_eq!(e.status_code(), 400, "{}", e);
            prop_assert!(BAD_INPUT.contains(&e.code()), "{}", e.code());
            e.code()
        }
    };
    let answer = untouched(op, event);
    let body = if decoded.source == Source::ApiGateway {
        prop_assert_eq!(&answer["statusCode"], &json!(400), "{}", answer);
        let raw = answer["body"].as_str().unwrap_or_default();
        serde_json::from_str(raw).map_err(|e| TestCaseError::fail(format!("{e}: {raw}")))?
    } else {
        answer
    };
    let fields = body.as_object().map_or(0, Map::len);
    let message = body["message"].as_str().unwrap_or_default();
    prop_assert_eq!(fields, 3, "the seed's error shape: {}", body);
    prop_assert_eq!(&body["statusCode"], &json!(400));
    prop_assert_eq!(&body["error"], &json!(code));
    prop_assert!(
        !message.is_empty() && message.len() <= MAX_MESSAGE,
        "{}",
        message.len()
    );
    Ok(Some(code))
}

/// Every function refuses `event`; returns the refusals' codes.
fn refused_by_all(event: &Value) -> Result<Vec<&'static str>, TestCaseError> {
    let mut codes = Vec::new();
    for op in FUNCTIONS {
        match served(op, event)? {
            Some(code) => codes.push(code),
            None => return Err(TestCaseError::fail(format!("{op} accepted {event}"))),
        }
    }
    Ok(codes)
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop::sample::select(vec![E, P, "POST", "aws.events", "Scheduled Event", "2.0"])
            .prop_map(|s| json!(s)),
        prop::sample::select(Operation::ALL.to_vec()).prop_map(|o| json!(o.as_str())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..7)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Keys biased towards the ones the decoders read.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "operation",
            "executionId",
            "planId",
            "taskToken",
            "summary",
            "waveNumber",
            "httpMethod",
            "path",
            "body",
            "isBase64Encoded",
            "pathParameters",
            "queryStringParameters",
            "requestContext",
            "version",
            "rawPath",
            "source",
            "detail-type",
            "detail",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z-]{0,12}",
    ]
}

fn object(fields: Vec<(String, Value)>) -> Value {
    Value::Object(fields.into_iter().collect())
}

/// A string that is not an execution or plan id.
fn not_an_id() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        "[0-9a-f-]{30,40}",
        Just(E.to_uppercase() + "0"),
        Just(E[..35].to_owned()),
        Just(format!("{{{E}}}")),
    ]
    .prop_filter("not an id", |s| ExecutionId::parse(s).is_err())
}

/// A value of the wrong JSON type for a string field or a boolean one.
fn wrong_type(for_bool: bool) -> impl Strategy<Value = Value> {
    let mut kinds = vec![
        any::<i64>().prop_map(|n| json!(n)).boxed(),
        prop::collection::vec(any::<u8>(), 0..3)
            .prop_map(|v| json!(v))
            .boxed(),
        Just(json!({"S": E})).boxed(),
    ];
    kinds.push(if for_bool {
        "[a-z]{0,6}".prop_map(Value::String).boxed()
    } else {
        any::<bool>().prop_map(Value::Bool).boxed()
    });
    prop::strategy::Union::new(kinds)
}

/// Arbitrary bytes as a body: as they are (lossily text, as API Gateway passes text) or base64.
fn arb_body() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| (String::from_utf8_lossy(&b).into_owned(), false)),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|b| (base64::encode(b), true)),
        // Not base64 at all, though the event says it is.
        "[^A-Za-z0-9+/=]{1,40}".prop_map(|s| (s, true)),
        arb_json().prop_map(|v| (v.to_string(), false)),
        arb_json().prop_map(|v| (base64::encode(v.to_string()), true)),
    ]
}

/// A REST API (1.0) or HTTP API (2.0) proxy event for `POST /executions/E/<action>`.
fn proxy_event(v2: bool, action: &str, body: Option<String>, base64: bool) -> Value {
    let path = format!("/executions/{E}/{action}");
    let mut event = if v2 {
        json!({
            "version": "2.0",
            "rawPath": format!("/prod{path}"),
            "requestContext": {"http": {"method": "POST", "path": format!("/prod{path}")}},
        })
    } else {
        json!({"httpMethod": "POST", "path": path, "resource": "/executions/{executionId}/x"})
    };
    event["pathParameters"] = json!({"executionId": E});
    event["body"] = json!(body);
    event["isBase64Encoded"] = json!(base64);
    event
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any JSON value: a request of the function's own operation, or a 400 that touches nothing.
    #[test]
    fn any_json_event_is_served_or_refused_with_a_400(event in arb_json()) {
        for op in FUNCTIONS {
            served(op, &event)?;
        }
    }

    /// Random fields around the markers that make an event look like EventBridge's.
    #[test]
    fn eventbridge_like_events_start_find_only_from_the_schedule(
        source in prop_oneof![Just(json!("aws.events")), arb_json()],
        detail_type in prop_oneof![Just(json!("Scheduled Event")), arb_json()],
        extra in prop::collection::vec((key(), arb_json()), 0..6),
    ) {
        let mut fields = extra;
        fields.push(("source".into(), source.clone()));
        fields.push(("detail-type".into(), detail_type.clone()));
        let event = object(fields);
        let schedule = source == json!("aws.events") && detail_type == json!("Scheduled Event");
        let proxy = event.get("httpMethod").is_some()
            || event.get("requestContext").and_then(|c| c.get("http")).is_some();
        for op in FUNCTIONS {
            let accepted = served(op, &event)?.is_none();
            if proxy {
                prop_assert!(!accepted || API_OPERATIONS.contains(&op));
            } else {
                prop_assert_eq!(accepted, op == Operation::Find && schedule, "{} {}", op, event);
            }
        }
    }

    /// Random proxy-event fields, in either payload version.
    #[test]
    fn api_gateway_like_events_with_random_fields_are_served_or_refused(
        v2 in any::<bool>(),
        action in prop_oneof![
            prop::sample::select(API_OPERATIONS.to_vec()).prop_map(|op| op.as_str().to_owned()),
            "[a-z/]{0,12}",
        ],
        method in prop_oneof![Just(json!("POST")), Just(json!("GET")), arb_json()],
        path_parameters in prop_oneof![Just(json!({"executionId": E})), arb_json()],
        query in prop_oneof![Just(json!({"planId": P})), Just(Value::Null), arb_json()],
        body in prop_oneof![
            Just(json!({"planId": P}).to_string()),
            Just(json!({"planId": P, "waveNumber": 1}).to_string()),
            arb_body().prop_map(|b| b.0),
        ],
        base64_flag in prop_oneof![Just(json!(false)), Just(json!(true)), arb_json()],
        extra in prop::collection::vec((key(), arb_json()), 0..4),
    ) {
        let mut event = proxy_event(v2, &action, Some(body), false);
        event["pathParameters"] = path_parameters;
        event["queryStringParameters"] = query;
        event["isBase64Encoded"] = base64_flag;
        if v2 {
            event["requestContext"]["http"]["method"] = method;
        } else {
            event["httpMethod"] = method;
        }
        for (k, v) in extra {
            if !["httpMethod", "requestContext", "version"].contains(&k.as_str()) {
                event[k] = v;
            }
        }
        for op in FUNCTIONS {
            let accepted = served(op, &event)?.is_none();
            prop_assert!(!accepted || API_OPERATIONS.contains(&op),
                "{} is not served through API Gateway but ran from {}", op, event);
        }
    }

    /// Arbitrary bytes as the body of the operator routes' proxy events.
    #[test]
    fn arbitrary_proxy_bodies_are_served_or_refused(v2 in any::<bool>(), (body, b64) in arb_body()) {
        for op in API_OPERATIONS {
            let event = proxy_event(v2, op.as_str(), Some(body.clone()), b64);
            served(op, &event)?;
        }
    }

    /// Bodies over the limit are refused before parsing, base64 or not.
    #[test]
    fn oversize_bodies_are_refused(v2 in any::<bool>(), extra in 1..200_000usize, b64 in any::<bool>()) {
        let pad = "x".repeat(MAX_BODY_BYTES + extra);
        let body = json!({"planId": P, "pad": pad}).to_string();
        let body = if b64 { base64::encode(body) } else { body };
        for op in API_OPERATIONS {
            let event = proxy_event(v2, op.as_str(), Some(body.clone()), b64);
            prop_assert_eq!(served(op, &event)?, Some("INVALID_PARAMETER"));
        }
    }

    /// Huge strings anywhere a string is read: refused, with a short message.
    #[test]
    fn huge_strings_are_refused_with_short_messages(
        len in 10_000..400_000usize,
        field in prop::sample::select(vec!["operation", "executionId", "planId"]),
    ) {
        let huge = "é".repeat(len / 2);
        let mut event = json!({"executionId": E, "planId": P, "waveNumber": 0});
        event[field] = json!(huge);
        for op in FUNCTIONS {
            let reads = field == "operation" || op != Operation::Find;
            let code = served(op, &event)?;
            prop_assert_eq!(code.is_some(), reads, "{} with a huge {}", op, field);
        }
    }

    /// A field of the wrong type is refused by every function that reads it, naming it.
    #[test]
    fn wrong_types_are_refused(
        field in prop::sample::select(vec!["operation", "executionId", "planId", "taskToken", "summary", "waveNumber"]),
        value in prop_oneof![wrong_type(false), wrong_type(true)],
    ) {
        // A string for a boolean is wrong; a boolean-looking string for a string field is not.
        prop_assume!(field == "summary" || !value.is_string());
        prop_assume!(field != "summary" || !value.is_boolean());
        // A wave number is a whole number from 0 to 98: any other value is of the wrong kind.
        prop_assume!(field != "waveNumber" || value.as_u64().is_none_or(|n| n >= 99));
        for op in FUNCTIONS {
            let mut event = json!({"operation": op.as_str(), "executionId": E, "planId": P, "waveNumber": 0});
            event[field] = value.clone();
            let reads = match field {
                "operation" => true,
                "taskToken" => op == Operation::Pause,
                "summary" => op == Operation::Poll,
                "waveNumber" => matches!(op, Operation::Retry | Operation::Skip),
                _ => op != Operation::Find,
            };
            prop_assert_eq!(served(op, &event)?, reads.then_some("INVALID_PARAMETER"), "{} {}", op, event);
            if reads {
                let message = decode(op, &event).request.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
                prop_assert!(message.contains(field), "{}", message);
            }
        }
    }

    /// Unknown operations and other functions' operations are refused by every function.
    #[test]
    fn unknown_and_foreign_operations_are_refused(
        unknown in "[a-zA-Z_ ]{0,30}".prop_filter("unknown", |s| Operation::parse(s).is_none()),
        other in prop::sample::select(Operation::ALL.to_vec()),
    ) {
        let codes = refused_by_all(&json!({"operation": unknown, "executionId": E, "planId": P}))?;
        prop_assert!(codes.iter().all(|c| *c == "INVALID_PARAMETER"));
        for op in FUNCTIONS.into_iter().filter(|op| *op != other) {
            let event = json!({"operation": other.as_str(), "executionId": E, "planId": P});
            prop_assert_eq!(served(op, &event)?, Some("INVALID_PARAMETER"));
            let message = decode(op, &event).request.err().map(|e| e.to_string()).unwrap_or_default();
            prop_assert!(message.contains(&format!("serves '{op}'")), "{}", message);
        }
    }

    /// Ids that are not UUIDs are a 400, never a lookup.
    #[test]
    fn non_uuid_ids_are_refused(bad in not_an_id(), in_plan in any::<bool>()) {
        let (e, p) = if in_plan { (E.to_owned(), bad) } else { (bad, P.to_owned()) };
        for op in FUNCTIONS.into_iter().filter(|op| *op != Operation::Find) {
            let event = json!({"operation": op.as_str(), "executionId": e, "planId": p});
            prop_assert!(served(op, &event)?.is_some(), "{} looked up {}", op, event);
        }
        for op in API_OPERATIONS {
            let body = json!({"planId": p, "waveNumber": 0}).to_string();
            let mut event = proxy_event(false, op.as_str(), Some(body), false);
            event["pathParameters"] = json!({"executionId": e});
            event["path"] = json!(format!("/executions/{}/{}", e.replace('/', ""), op.as_str()));
            prop_assert!(served(op, &event)?.is_some(), "{} looked up {}", op, event);
        }
    }
}
