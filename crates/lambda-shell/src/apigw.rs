//! API Gateway proxy events (REST API payload 1.0 and HTTP API payload 2.0) for the operator
//! routes `POST /executions/{executionId}/pause|resume|cancel|retry|skip`, and the proxy response.
//! The body is the operation's direct payload without `executionId` (the path names it): `planId`
//! (or in the query string) and, for retry and skip, `waveNumber`.

use aws_smithy_types::base64;
use execution_core::api::{status_code_of, Operation};
use execution_core::audit::Actor;
use execution_core::ids::{ExecutionId, PlanId, TaskToken};
use execution_core::OperationError;
use serde_json::{json, Map, Value};

use crate::event::clip;

/// Largest request body accepted (decoded); the operators' bodies are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// REST API events carry `httpMethod`; HTTP API events carry `requestContext.http`.
pub(crate) fn is_proxy_event(fields: &Map<String, Value>) -> bool {
    fields.contains_key("httpMethod")
        || fields
            .get("requestContext")
            .and_then(|c| c.get("http"))
            .is_some()
}

/// The direct payload the proxy event stands for: the JSON body, with `executionId` from the
/// path and `planId` from the body or the query string.
pub(crate) fn payload(
    serves: Operation,
    fields: &Map<String, Value>,
) -> Result<Value, OperationError> {
    let http = Http::read(fields)?;
    if !http.method.eq_ignore_ascii_case("POST") {
        return Err(OperationError::invalid(
            "httpMethod",
            format!("only POST is served, not {}", clip(http.method)),
        ));
    }
    let segments: Vec<&str> = http.path.split('/').filter(|s| !s.is_empty()).collect();
    let (action, rest) = segments
        .split_last()
        .ok_or_else(|| OperationError::invalid("path", "empty path"))?;
    if *action != serves.as_str() {
        return Err(OperationError::invalid(
            "path",
            format!(
                "'{}' does not end in /{serves}: this function serves {serves}",
                clip(http.path)
            ),
        ));
    }
    let path_id = match http.path_parameters.and_then(|p| p.get(ExecutionId::FIELD)) {
        Some(id) => id.as_str().ok_or_else(|| {
            OperationError::invalid(ExecutionId::FIELD, "path parameter is not a string")
        })?,
        None => rest
            .last()
            .copied()
            .ok_or(OperationError::MissingParameter(ExecutionId::FIELD))?,
    };

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
    agree(&mut body, ExecutionId::FIELD, Some(path_id), "the path")?;
    let query_plan = match http.query.and_then(|q| q.get(PlanId::FIELD)) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(OperationError::invalid(
                PlanId::FIELD,
                "query parameter is not a string",
            ))
        }
    };
    agree(&mut body, PlanId::FIELD, query_plan, "the query string")?;
    Ok(Value::Object(body))
}

/// Puts `value` (from `place`) into `body[field]`, refusing a body that says otherwise.
fn agree(
    body: &mut Map<String, Value>,
    field: &'static str,
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

/// The body as a JSON object; no body is an empty object.
fn body_object(
    body: Option<&str>,
    base64_encoded: bool,
) -> Result<Map<String, Value>, OperationError> {
    let Some(raw) = body.filter(|b| !b.trim().is_empty()) else {
        return Ok(Map::new());
    };
    let too_large =
        || OperationError::invalid("body", format!("larger than {MAX_BODY_BYTES} bytes"));
    let bytes = if base64_encoded {
        if raw.len() > base64::encoded_length(MAX_BODY_BYTES) {
            return Err(too_large());
        }
        base64::decode(raw).map_err(|_| {
            OperationError::invalid(
                "body",
                "isBase64Encoded is true but the body is not valid base64",
            )
        })?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(OperationError::invalid("body", "expected a JSON object")),
        Err(e) => Err(OperationError::invalid("body", format!("not JSON: {e}"))),
    }
}

/// The parts of a proxy event the operator routes read, from either payload version.
struct Http<'a> {
    method: &'a str,
    path: &'a str,
    path_parameters: Option<&'a Map<String, Value>>,
    query: Option<&'a Map<String, Value>>,
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
            query: object(fields, "queryStringParameters")?,
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
