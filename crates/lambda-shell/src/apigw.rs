//! API Gateway proxy events (REST API payload 1.0 and HTTP API payload 2.0) for the API's routes
//! ([`API_ROUTES`]), and the proxy response.
//!
//! - `POST /executions` (start): the body is the plan document, as a plan file holds it; the query
//!   string may add `executionId` (a UUID the caller chooses, so that a retried start cannot start
//!   twice) and `pollIntervalSeconds`.
//! - `GET /executions` (list): `nextToken` in the query string.
//! - `GET /executions/{executionId}` (get) and `GET /executions/{executionId}/events` (events):
//!   `planId` (and for events `nextToken`) in the query string.
//! - `POST /executions/{executionId}/pause|resume|cancel|retry|skip|cleanup`: the body is the
//!   operation's direct payload without `executionId` (the path names it): `planId` (or in the
//!   query string) and, for retry and skip, `waveNumber`. cleanup terminates an ended drill's
//!   recovery instances (the state machine also calls it, directly, when the plan says when).
//!
//! Every route but start reads its body, when it has one, as the direct payload (a GET may send
//! `planId` there too); a field the path or the query string also gives must agree. `taskToken`
//! and `invokedBy` are refused in bodies: the caller is the IAM principal API Gateway
//! authenticated. Each function serves its own route only: another function's route, a path that
//! is no route, or another method is a 400 (INVALID_PARAMETER, final, as any malformed request).

use aws_smithy_types::base64;
use execution_core::api::{status_code_of, Operation, PollInterval, NEXT_TOKEN};
use execution_core::audit::Actor;
use execution_core::ids::{ExecutionId, PlanId, TaskToken};
use execution_core::OperationError;
use serde_json::{json, Map, Value};

use crate::event::clip;

/// Largest request body accepted (decoded) by every route but start: the operators' bodies are a
/// few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest plan document start accepts: Lambda's synchronous payload limit (6 MB, the whole
/// event), so that no plan the API can deliver is refused for its size. A plan of 99 waves of
/// 1,000 servers is megabytes of JSON.
pub const START_MAX_BODY_BYTES: usize = 6 * 1024 * 1024;

/// One route of the API: the function that serves it, its method and its path (as the template
/// declares it), and the query parameters it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub operation: Operation,
    pub method: &'static str,
    pub path: &'static str,
    pub query: &'static [&'static str],
}

const ID: &str = "{executionId}";
const PLAN: &[&str] = &[PlanId::FIELD];

/// Every route of the API, one per function that serves one.
pub static API_ROUTES: [Route; 10] = [
    route(
        Operation::Start,
        "POST",
        "/executions",
        &[ExecutionId::FIELD, PollInterval::FIELD],
    ),
    route(Operation::List, "GET", "/executions", &[NEXT_TOKEN]),
    route(Operation::Get, "GET", "/executions/{executionId}", PLAN),
    route(
        Operation::Events,
        "GET",
        "/executions/{executionId}/events",
        &[PlanId::FIELD, NEXT_TOKEN],
    ),
    route(
        Operation::Pause,
        "POST",
        "/executions/{executionId}/pause",
        PLAN,
    ),
    route(
        Operation::Resume,
        "POST",
        "/executions/{executionId}/resume",
        PLAN,
    ),
    route(
        Operation::Cancel,
        "POST",
        "/executions/{executionId}/cancel",
        PLAN,
    ),
    route(
        Operation::Retry,
        "POST",
        "/executions/{executionId}/retry",
        PLAN,
    ),
    route(
        Operation::Skip,
        "POST",
        "/executions/{executionId}/skip",
        PLAN,
    ),
    route(
        Operation::Cleanup,
        "POST",
        "/executions/{executionId}/cleanup",
        PLAN,
    ),
];

const fn route(
    operation: Operation,
    method: &'static str,
    path: &'static str,
    query: &'static [&'static str],
) -> Route {
    Route {
        operation,
        method,
        path,
        query,
    }
}

impl Route {
    /// The route `operation` is served on, if any.
    pub fn of(operation: Operation) -> Option<&'static Route> {
        API_ROUTES.iter().find(|r| r.operation == operation)
    }

    fn pattern(&self) -> impl Iterator<Item = &'static str> {
        self.path.split('/').filter(|s| !s.is_empty())
    }

    /// Whether `segments` end with this route's path, and the execution id they name there. The
    /// path is matched from its end: what comes before is the stage or a custom domain's base
    /// path (an HTTP API's `rawPath` carries the stage).
    fn matches<'p>(&self, segments: &[&'p str]) -> Option<Option<&'p str>> {
        let pattern: Vec<&str> = self.pattern().collect();
        let tail = segments.get(segments.len().checked_sub(pattern.len())?..)?;
        let mut id = None;
        for (p, s) in pattern.iter().zip(tail) {
            if *p == ID {
                id = Some(*s);
            } else if p != s {
                return None;
            }
        }
        Some(id)
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// REST API events carry `httpMethod`; HTTP API events carry `requestContext.http`.
pub(crate) fn is_proxy_event(fields: &Map<String, Value>) -> bool {
    fields.contains_key("httpMethod")
        || fields
            .get("requestContext")
            .and_then(|c| c.get("http"))
            .is_some()
}

/// The direct payload the proxy event stands for, for the function that serves `serves`.
pub(crate) fn payload(
    serves: Operation,
    fields: &Map<String, Value>,
) -> Result<Value, OperationError> {
    let http = Http::read(fields)?;
    let (route, path_id) = routed(serves, &http)?;
    if serves == Operation::Start {
        return start_payload(&http);
    }
    let mut body = body_object(http.body, http.base64)?;
    for field in [TaskToken::FIELD, Actor::FIELD] {
        if body.contains_key(field) {
            // Only the state machine holds task tokens, and it calls pause directly; an API
            // caller is the IAM principal API Gateway authenticated, whatever the body says.
            return Err(OperationError::invalid(
                field,
                "not accepted through the API",
            ));
        }
    }
    if let Some(segment) = path_id {
        let id = match http.path_parameters.and_then(|p| p.get(ExecutionId::FIELD)) {
            Some(id) => id.as_str().ok_or_else(|| {
                OperationError::invalid(ExecutionId::FIELD, "path parameter is not a string")
            })?,
            None => segment,
        };
        agree(&mut body, ExecutionId::FIELD, Some(id), "the path")?;
    }
    for field in route.query {
        let value = http.query.get(field)?;
        agree(&mut body, field, value.as_deref(), "the query string")?;
    }
    Ok(Value::Object(body))
}

/// start's payload: the body is the plan; `executionId` and `pollIntervalSeconds` come from the
/// query string (a query parameter is text: the interval is read here as whole seconds).
fn start_payload(http: &Http<'_>) -> Result<Value, OperationError> {
    let mut payload = Map::new();
    // No body: the core answers that the plan is missing.
    if let Some(plan) = body_value(http.body, http.base64, START_MAX_BODY_BYTES)? {
        payload.insert("plan".to_owned(), plan);
    }
    if let Some(id) = http.query.get(ExecutionId::FIELD)? {
        payload.insert(ExecutionId::FIELD.to_owned(), Value::String(id));
    }
    if let Some(raw) = http.query.get(PollInterval::FIELD)? {
        let interval: PollInterval = raw.parse()?;
        payload.insert(PollInterval::FIELD.to_owned(), json!(interval.secs()));
    }
    Ok(Value::Object(payload))
}

/// The route of the event, which must be `serves`'s, and the execution id its path names.
fn routed<'a>(
    serves: Operation,
    http: &Http<'a>,
) -> Result<(&'static Route, Option<&'a str>), OperationError> {
    let own = Route::of(serves).ok_or_else(|| {
        OperationError::invalid(
            "event",
            format!("the {serves} function is not served through API Gateway"),
        )
    })?;
    let segments: Vec<&str> = http.path.split('/').filter(|s| !s.is_empty()).collect();
    let matched: Vec<(&Route, Option<&str>)> = API_ROUTES
        .iter()
        .filter_map(|r| r.matches(&segments).map(|id| (r, id)))
        .collect();
    // The longest route that matches: `/executions/executions` is the execution named
    // "executions" (refused as no UUID), not the list.
    let longest = matched.iter().map(|(r, _)| r.pattern().count()).max();
    let on_path = matched
        .iter()
        .filter(|(r, _)| Some(r.pattern().count()) == longest);
    let mut another_functions = false;
    for (route, id) in on_path {
        if route.operation != serves {
            another_functions = true;
            continue;
        }
        if route.method.eq_ignore_ascii_case(http.method) {
            return Ok((route, *id));
        }
        return Err(OperationError::invalid(
            "httpMethod",
            format!(
                "only {} is served on {} by this function, not {}",
                route.method,
                route.path,
                clip(http.method)
            ),
        ));
    }
    let what = if another_functions {
        "is not this function's route"
    } else {
        "is not a route of this API"
    };
    Err(OperationError::invalid(
        "path",
        format!(
            "'{}' {what}: this function serves {serves} ({own})",
            clip(http.path)
        ),
    ))
}

/// Puts `value` (from `place`) into `body[field]`, refusing a body that says otherwise.
fn agree(
    body: &mut Map<String, Value>,
    field: &str,
    value: Option<&str>,
    place: &str,
) -> Result<(), OperationError> {
    let Some(value) = value else { return Ok(()) };
    match body.get(field) {
        None | Some(Value::Null) => {
            body.insert(field.to_owned(), Value::String(value.to_owned()));
            Ok(())
        }
        Some(Value::String(s)) if s == value => Ok(()),
        Some(_) => Err(OperationError::invalid(
            field,
            format!("the body and {place} name different values"),
        )),
    }
}

/// The body as a JSON object (at most [`MAX_BODY_BYTES`]); no body is an empty object.
fn body_object(
    body: Option<&str>,
    base64_encoded: bool,
) -> Result<Map<String, Value>, OperationError> {
    match body_value(body, base64_encoded, MAX_BODY_BYTES)? {
        None => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(OperationError::invalid("body", "expected a JSON object")),
    }
}

/// The body as JSON, if there is one, refused when larger than `limit` bytes once decoded.
fn body_value(
    body: Option<&str>,
    base64_encoded: bool,
    limit: usize,
) -> Result<Option<Value>, OperationError> {
    let Some(raw) = body.filter(|b| !b.trim().is_empty()) else {
        return Ok(None);
    };
    let too_large = || OperationError::invalid("body", format!("larger than {limit} bytes"));
    let decoded;
    let bytes = if base64_encoded {
        if raw.len() > base64::encoded_length(limit) {
            return Err(too_large());
        }
        decoded = base64::decode(raw).map_err(|_| {
            OperationError::invalid(
                "body",
                "isBase64Encoded is true but the body is not valid base64",
            )
        })?;
        decoded.as_slice()
    } else {
        raw.as_bytes()
    };
    if bytes.len() > limit {
        return Err(too_large());
    }
    serde_json::from_slice::<Value>(bytes)
        .map(Some)
        .map_err(|e| OperationError::invalid("body", format!("not JSON: {e}")))
}

/// The parts of a proxy event the routes read, from either payload version.
struct Http<'a> {
    method: &'a str,
    path: &'a str,
    path_parameters: Option<&'a Map<String, Value>>,
    query: Query<'a>,
    body: Option<&'a str>,
    base64: bool,
}

impl<'a> Http<'a> {
    fn read(fields: &'a Map<String, Value>) -> Result<Self, OperationError> {
        let v2 = fields.get("version").and_then(Value::as_str) == Some("2.0");
        let (method, path) = if v2 {
            let http = fields.get("requestContext").and_then(|c| c.get("http"));
            (http.and_then(|h| h.get("method")), fields.get("rawPath"))
        } else {
            (fields.get("httpMethod"), fields.get("path"))
        };
        Ok(Self {
            method: text(method, "httpMethod")?
                .ok_or(OperationError::MissingParameter("httpMethod"))?,
            path: text(path, "path")?.ok_or(OperationError::MissingParameter("path"))?,
            path_parameters: object(fields, "pathParameters")?,
            query: Query {
                single: object(fields, "queryStringParameters")?,
                multi: object(fields, "multiValueQueryStringParameters")?,
                raw: if v2 {
                    text(fields.get("rawQueryString"), "rawQueryString")?
                } else {
                    None
                },
            },
            body: text(fields.get("body"), "body")?,
            base64: match fields.get("isBase64Encoded") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(OperationError::invalid(
                        "isBase64Encoded",
                        "expected true or false",
                    ))
                }
            },
        })
    }
}

/// The query string as API Gateway hands it over: `queryStringParameters` (decoded; the last of
/// repeated values in a REST API event, all of them joined by commas in an HTTP API event),
/// `multiValueQueryStringParameters` (REST API) and `rawQueryString` (HTTP API).
struct Query<'a> {
    single: Option<&'a Map<String, Value>>,
    multi: Option<&'a Map<String, Value>>,
    raw: Option<&'a str>,
}

impl Query<'_> {
    /// The one value of `key`. A parameter given more than once is refused (which one was meant?);
    /// `rawQueryString` is read only to tell that, or when the event has no decoded parameters.
    fn get(&self, key: &str) -> Result<Option<String>, OperationError> {
        let repeated = || {
            OperationError::invalid(
                key,
                "given more than once in the query string; give it once",
            )
        };
        let multi = match self.multi.and_then(|m| m.get(key)) {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(values)) => values.iter().collect(),
            Some(_) => return Err(not_a_string(key)),
        };
        let raw = self.raw.map(|r| raw_values(r, key)).unwrap_or_default();
        if multi.len() > 1 || raw.len() > 1 {
            return Err(repeated());
        }
        match self.single.and_then(|m| m.get(key)) {
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(Value::Null) | None => {}
            Some(_) => return Err(not_a_string(key)),
        }
        if self.single.is_some() {
            return Ok(None);
        }
        match multi.first() {
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(_) => return Err(not_a_string(key)),
            None => {}
        }
        raw.into_iter().next().transpose()
    }
}

fn not_a_string(key: &str) -> OperationError {
    OperationError::invalid(key, "query parameter is not a string")
}

/// The values `key` has in a raw query string (`a=1&b=2`), percent-decoded.
fn raw_values(raw: &str, key: &str) -> Vec<Result<String, OperationError>> {
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decoded(k).as_deref() == Ok(key)).then(|| {
                percent_decoded(v).map_err(|()| {
                    OperationError::invalid(key, "query parameter is not percent-encoded UTF-8")
                })
            })
        })
        .collect()
}

/// `%XX` escapes decoded; anything else is taken as it is.
fn percent_decoded(raw: &str) -> Result<String, ()> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let hex = |b: &u8| (*b as char).to_digit(16);
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = bytes.get(i + 1).and_then(hex);
            let low = bytes.get(i + 2).and_then(hex);
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ())
}

fn text<'a>(
    value: Option<&'a Value>,
    field: &'static str,
) -> Result<Option<&'a str>, OperationError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(OperationError::invalid(field, "expected a string")),
    }
}

fn object<'a>(
    fields: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a Map<String, Value>>, OperationError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(OperationError::invalid(field, "expected an object")),
    }
}

/// Who called the API: the IAM principal API Gateway authenticated (REST:
/// `requestContext.identity.userArn`; HTTP API: `requestContext.authorizer.iam.userArn`), or
/// [`Actor::Anonymous`] when the request carries none (a route deployed without IAM
/// authorization). Nothing in the body can say otherwise.
pub(crate) fn actor(fields: &Map<String, Value>) -> Actor {
    let context = fields.get("requestContext");
    let arn = context
        .and_then(|c| c.pointer("/identity/userArn"))
        .or_else(|| context.and_then(|c| c.pointer("/authorizer/iam/userArn")))
        .and_then(Value::as_str)
        .filter(|arn| arn.starts_with("arn:"));
    match arn {
        Some(arn) => Actor::Iam(clip_arn(arn)),
        None => Actor::Anonymous,
    }
}

/// An ARN as recorded: IAM ARNs are at most 2,048 characters; anything longer is cut there.
fn clip_arn(arn: &str) -> String {
    arn.chars().take(2048).collect()
}

/// The proxy response: HTTP status = the answer's `statusCode`, body = the answer as JSON.
pub(crate) fn response(answer: &Value) -> Value {
    json!({
        "statusCode": status_code_of(answer),
        "headers": {"content-type": "application/json"},
        "body": answer.to_string(),
        "isBase64Encoded": false,
    })
}
