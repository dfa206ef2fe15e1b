//! Event decoding and answer encoding. Decoding is total: every JSON value gives a request or a
//! 400 error, and the error is answered in the shape the caller understands. API Gateway events
//! are read by the route of the function that serves them ([`API_ROUTES`]); the caller they
//! record is the IAM principal of the request context, or [`Actor::Anonymous`] without one.
//! EventBridge events are read by the function they are meant for: find's one-minute schedule
//! (recorded as [`Actor::Find`]) and DRS's launch results, advance's (recorded as
//! [`Actor::Event`]); every other function refuses both.

use execution_core::api::{
    parse_request, LaunchResult, Operation, Request, DRS_EVENT_SOURCE, LAUNCH_RESULT_DETAIL_TYPE,
};
use execution_core::audit::Actor;
use execution_core::OperationError;
use serde_json::{Map, Value};

use crate::apigw;

pub use crate::apigw::{Route, API_ROUTES, MAX_BODY_BYTES, START_MAX_BODY_BYTES};

/// The operations served through the API, one route each ([`API_ROUTES`]): start, the reads, the
/// operators' decisions and a drill's cleanup. Every other function refuses a proxy event, in a
/// proxy answer.
pub const API_OPERATIONS: [Operation; 10] = [
    Operation::Start,
    Operation::List,
    Operation::Get,
    Operation::Events,
    Operation::Pause,
    Operation::Resume,
    Operation::Cancel,
    Operation::Retry,
    Operation::Skip,
    Operation::Cleanup,
];

/// Who invoked the function, which decides the shape of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `{"operation": ..., ...}` from Step Functions, find, the CLI or `aws lambda invoke`.
    Direct,
    /// An EventBridge event that is not DRS's (find's one-minute schedule when the rule sends no
    /// Input).
    Schedule,
    /// An EventBridge event from DRS (`source` `aws.drs`): a launch result, advance's.
    DrsEvent,
    /// An API Gateway proxy event (REST or HTTP API); answered with a proxy response.
    ApiGateway,
}

impl Source {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Schedule => "schedule",
            Self::DrsEvent => "drs-event",
            Self::ApiGateway => "api-gateway",
        }
    }
}

/// An event, understood (or not) by the function that serves `serves`, and who sent it.
#[derive(Debug)]
pub struct Decoded {
    pub source: Source,
    pub request: Result<Request, OperationError>,
    pub actor: Actor,
}

/// Reads `event` as a request for the function that serves `serves`.
pub fn decode(serves: Operation, event: &Value) -> Decoded {
    let Some(fields) = event.as_object() else {
        // parse_request words the "not an object" refusal.
        return Decoded {
            source: Source::Direct,
            request: parse_request(serves, event),
            actor: Actor::Invoker,
        };
    };
    if apigw::is_proxy_event(fields) {
        let request = if API_OPERATIONS.contains(&serves) {
            apigw::payload(serves, fields).and_then(|payload| parse_request(serves, &payload))
        } else {
            Err(OperationError::invalid(
                "event",
                format!("the {serves} function is not served through API Gateway"),
            ))
        };
        return Decoded {
            source: Source::ApiGateway,
            request,
            actor: apigw::actor(fields),
        };
    }
    if is_eventbridge_event(fields) {
        if text_of(fields, "source") == DRS_EVENT_SOURCE {
            return Decoded {
                source: Source::DrsEvent,
                request: drs_event(serves, event, fields),
                actor: Actor::Event,
            };
        }
        return Decoded {
            source: Source::Schedule,
            request: scheduled(serves, fields),
            actor: Actor::Find,
        };
    }
    Decoded {
        source: Source::Direct,
        request: parse_request(serves, event),
        // The engine's own callers say who they are; whoever else could invoke the function is
        // recorded as a direct invocation.
        actor: Actor::invoked_by(fields.get(Actor::FIELD).and_then(Value::as_str)),
    }
}

/// The answer as `source` expects it: the answer itself, or an API Gateway proxy response.
pub fn encode(source: Source, answer: Value) -> Value {
    match source {
        Source::Direct | Source::Schedule | Source::DrsEvent => answer,
        Source::ApiGateway => apigw::response(&answer),
    }
}

/// EventBridge events carry `source` and `detail-type`; direct payloads never do.
fn is_eventbridge_event(fields: &Map<String, Value>) -> bool {
    fields.contains_key("detail-type") && fields.contains_key("source")
}

/// A string field of an event, or "" when it is absent or not a string.
fn text_of<'a>(fields: &'a Map<String, Value>, key: &str) -> &'a str {
    fields.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Only find runs on the schedule, and only the schedule's own event starts it.
fn scheduled(serves: Operation, fields: &Map<String, Value>) -> Result<Request, OperationError> {
    let (source, detail_type) = (text_of(fields, "source"), text_of(fields, "detail-type"));
    if source == "aws.events" && detail_type == "Scheduled Event" {
        if serves == Operation::Find {
            return Ok(Request::Find);
        }
        return Err(OperationError::invalid(
            "event",
            format!("the {serves} function does not run on a schedule"),
        ));
    }
    if serves == Operation::Advance {
        return Err(advance_takes_only_launch_results(detail_type, source));
    }
    Err(OperationError::invalid(
        "event",
        format!(
            "unsupported EventBridge event '{}' from '{}'",
            clip(detail_type),
            clip(source)
        ),
    ))
}

/// Only advance takes DRS's events, and of them only the launch results; the event itself is read
/// by the core ([`LaunchResult::from_event`]), which refuses one without a DRS job id.
fn drs_event(
    serves: Operation,
    event: &Value,
    fields: &Map<String, Value>,
) -> Result<Request, OperationError> {
    let detail_type = text_of(fields, "detail-type");
    if serves != Operation::Advance {
        return Err(OperationError::invalid(
            "event",
            format!(
                "the {serves} function does not take DRS events ('{}'): the advance function does",
                clip(detail_type)
            ),
        ));
    }
    if detail_type != LAUNCH_RESULT_DETAIL_TYPE {
        return Err(advance_takes_only_launch_results(
            detail_type,
            DRS_EVENT_SOURCE,
        ));
    }
    LaunchResult::from_event(event).map(Request::Advance)
}

fn advance_takes_only_launch_results(detail_type: &str, source: &str) -> OperationError {
    OperationError::invalid(
        "event",
        format!(
            "the {} function takes only '{LAUNCH_RESULT_DETAIL_TYPE}' events from '{DRS_EVENT_SOURCE}', not '{}' from '{}'",
            Operation::Advance,
            clip(detail_type),
            clip(source)
        ),
    )
}

pub(crate) fn clip(raw: &str) -> String {
    execution_core::text::clip(raw, execution_core::text::QUOTE_CHARS)
}

#[cfg(test)]
pub(crate) mod tests;
