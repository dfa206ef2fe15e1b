//! The operations' payloads and answers, as the seed defines them. Parsing is total: any JSON
//! value gives either a request or a 400 error, and nothing is read or written before it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::OperationError;
use crate::ids::{ExecutionId, JobId, PlanId, SourceServerId, TaskToken};
use crate::model::{PauseReason, Timestamp, Wave, WaveFailure};
use crate::rules::NextAction;
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// The operations the engine serves: the seed's five, launch (the workflow's wave launcher),
/// cancel, an operator's decision on a failed wave (retry or skip), and the API's start and
/// reads (list, get, events).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Find,
    Poll,
    Finalize,
    Pause,
    Resume,
    Launch,
    Cancel,
    Retry,
    Skip,
    Start,
    List,
    Get,
    Events,
    Cleanup,
    Act,
    Advance,
}

impl Operation {
    pub const ALL: [Operation; 16] = [
        Self::Find,
        Self::Poll,
        Self::Finalize,
        Self::Pause,
        Self::Resume,
        Self::Launch,
        Self::Cancel,
        Self::Retry,
        Self::Skip,
        Self::Start,
        Self::List,
        Self::Get,
        Self::Events,
        Self::Cleanup,
        Self::Act,
        Self::Advance,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Find => "find",
            Self::Poll => "poll",
            Self::Finalize => "finalize",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Launch => "launch",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
            Self::Skip => "skip",
            Self::Start => "start",
            Self::List => "list",
            Self::Get => "get",
            Self::Events => "events",
            Self::Cleanup => "cleanup",
            Self::Act => "act",
            Self::Advance => "advance",
        }
    }

    /// Whether the operation only reads: it changes no execution and records no event.
    pub const fn reads_only(self) -> bool {
        matches!(self, Self::List | Self::Get | Self::Events)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str() == raw)
    }
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `executionId` + `planId`: how every per-execution operation names its execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
}

/// An execution and one of its waves: what retry and skip decide on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveTarget {
    pub target: Target,
    pub wave_number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    pub target: Target,
    /// Answer with per-wave counts instead of every server (for find and the state machine,
    /// whose payload limits a 10,000-server answer would break).
    pub summary: bool,
    /// The workflow run that asks (`$$.Execution.Id`, sent by the state machine): poll records
    /// it as the run that conducts the execution. Absent when find or an operator polls.
    pub workflow_run: Option<String>,
}

/// The longest `workflowRun` accepted (a Step Functions execution ARN is far shorter).
pub const WORKFLOW_RUN_MAX_CHARS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PauseRequest {
    pub target: Target,
    /// Present when the workflow parks at a wave boundary (`waitForTaskToken`).
    pub task_token: Option<TaskToken>,
}

/// start: a plan, run as a new execution.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    pub plan: Box<crate::plan::Plan>,
    /// Chosen by the caller to make a retried start safe (a second start with it is a 409);
    /// a new random id when absent.
    pub execution_id: Option<ExecutionId>,
    pub poll_interval_seconds: Option<PollInterval>,
}

/// A page of a listing: `nextToken` from the previous page's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub next_token: Option<String>,
}

/// events: one page of an execution's trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsRequest {
    pub target: Target,
    pub next_token: Option<String>,
}

/// advance: DRS says a server's launch ended ("DRS Source Server Launch Result" on EventBridge,
/// best effort), or a direct `{"operation": "advance", "jobId": ...}`. Only the job matters: the
/// rest is kept for the log and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchResult {
    pub job_id: JobId,
    /// `detail.state` as DRS spelled it (`RECOVERY_LAUNCH_SUCCEEDED`, `RECOVERY_LAUNCH_FAILED`).
    pub state: Option<String>,
    /// The source server whose launch ended (the event's `resources`).
    pub source_server_id: Option<SourceServerId>,
    /// EventBridge's id of the event.
    pub event_id: Option<String>,
}

/// The EventBridge `source` and `detail-type` of a DRS launch result.
pub const DRS_EVENT_SOURCE: &str = "aws.drs";
pub const LAUNCH_RESULT_DETAIL_TYPE: &str = "DRS Source Server Launch Result";

impl LaunchResult {
    pub const JOB_FIELD: &'static str = "jobId";

    /// A direct payload: `jobId`, and optionally `state` and `sourceServerId`.
    fn from_payload(fields: &Map<String, Value>) -> Result<Self, OperationError> {
        let job_id = JobId::parse(required_string(fields, Self::JOB_FIELD)?)?;
        let state = optional_string(fields, "state")?.map(clip);
        let source_server_id = match optional_string(fields, SourceServerId::FIELD)? {
            Some(raw) => Some(SourceServerId::parse(raw)?),
            None => None,
        };
        Ok(Self {
            job_id,
            state,
            source_server_id,
            event_id: None,
        })
    }

    /// A DRS launch result as EventBridge delivers it:
    /// `{"source": "aws.drs", "detail-type": "DRS Source Server Launch Result", "id": ...,
    /// "resources": ["arn:aws:drs:...:source-server/s-..."], "detail": {"state": ...,
    /// "job-id": "drsjob-..."}}`. Anything else is a 400 naming what is wrong; a source server
    /// ARN that does not read is left out (the job alone decides).
    pub fn from_event(event: &Value) -> Result<Self, OperationError> {
        let fields = as_object(event)?;
        let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or("");
        if text("source") != DRS_EVENT_SOURCE || text("detail-type") != LAUNCH_RESULT_DETAIL_TYPE {
            return Err(OperationError::invalid(
                "detail-type",
                format!(
                    "expected a '{LAUNCH_RESULT_DETAIL_TYPE}' event from '{DRS_EVENT_SOURCE}', got '{}' from '{}'",
                    clip(text("detail-type")),
                    clip(text("source"))
                ),
            ));
        }
        let detail = match fields.get("detail") {
            Some(Value::Object(d)) => d,
            Some(other) => {
                return Err(OperationError::invalid(
                    "detail",
                    format!("expected an object, got {}", kind(other)),
                ))
            }
            None => return Err(OperationError::MissingParameter("detail")),
        };
        let job_id = match detail.get("job-id") {
            Some(Value::String(raw)) if !raw.is_empty() => JobId::parse(raw)?,
            None | Some(Value::Null) | Some(Value::String(_)) => {
                return Err(OperationError::MissingParameter("detail.job-id"))
            }
            Some(other) => {
                return Err(OperationError::invalid(
                    "detail.job-id",
                    format!("expected a string, got {}", kind(other)),
                ))
            }
        };
        let state = detail.get("state").and_then(Value::as_str).map(clip);
        let source_server_id = fields
            .get("resources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter_map(|arn| arn.rsplit_once(":source-server/").map(|(_, id)| id))
            .find_map(|id| SourceServerId::parse(id).ok());
        let event_id = fields.get("id").and_then(Value::as_str).map(clip);
        Ok(Self {
            job_id,
            state,
            source_server_id,
            event_id,
        })
    }
}

/// The field that carries a page's cursor, in payloads, query strings and answers.
pub const NEXT_TOKEN: &str = "nextToken";
/// The longest `nextToken` accepted (the stores' cursors are far shorter).
pub const NEXT_TOKEN_MAX_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Find,
    Poll(PollRequest),
    Finalize(Target),
    Pause(PauseRequest),
    Resume(Target),
    Launch(Target),
    Cancel(Target),
    Retry(WaveTarget),
    Skip(WaveTarget),
    Start(StartRequest),
    List(PageRequest),
    Get(Target),
    Events(EventsRequest),
    Cleanup(Target),
    Act(Target),
    Advance(LaunchResult),
}

impl Request {
    pub fn operation(&self) -> Operation {
        match self {
            Self::Find => Operation::Find,
            Self::Poll(_) => Operation::Poll,
            Self::Finalize(_) => Operation::Finalize,
            Self::Pause(_) => Operation::Pause,
            Self::Resume(_) => Operation::Resume,
            Self::Launch(_) => Operation::Launch,
            Self::Cancel(_) => Operation::Cancel,
            Self::Retry(_) => Operation::Retry,
            Self::Skip(_) => Operation::Skip,
            Self::Start(_) => Operation::Start,
            Self::List(_) => Operation::List,
            Self::Get(_) => Operation::Get,
            Self::Events(_) => Operation::Events,
            Self::Cleanup(_) => Operation::Cleanup,
            Self::Act(_) => Operation::Act,
            Self::Advance(_) => Operation::Advance,
        }
    }

    /// The execution the request is about (find is about none).
    pub fn execution_id(&self) -> Option<ExecutionId> {
        match self {
            // advance learns its execution from the job's tags.
            Self::Find | Self::List(_) | Self::Advance(_) => None,
            Self::Start(r) => r.execution_id,
            Self::Get(t) => Some(t.execution_id),
            Self::Events(r) => Some(r.target.execution_id),
            Self::Poll(r) => Some(r.target.execution_id),
            Self::Pause(r) => Some(r.target.execution_id),
            Self::Finalize(t)
            | Self::Resume(t)
            | Self::Launch(t)
            | Self::Cancel(t)
            | Self::Cleanup(t)
            | Self::Act(t) => Some(t.execution_id),
            Self::Retry(w) | Self::Skip(w) => Some(w.target.execution_id),
        }
    }
}

/// Parses the direct payload of a function that serves `serves`. `operation` may be absent; when
/// present it must name `serves`.
pub fn parse_request(serves: Operation, payload: &Value) -> Result<Request, OperationError> {
    let fields = as_object(payload)?;
    if let Some(op) = fields.get("operation") {
        let named = operation_field(op)?;
        if named != serves {
            return Err(OperationError::invalid(
                "operation",
                format!("this function serves '{serves}', not '{named}'"),
            ));
        }
    }
    build(serves, fields)
}

/// Parses a payload that must say its operation (the command line's `invoke`, one router for all).
pub fn parse_any_request(payload: &Value) -> Result<Request, OperationError> {
    let fields = as_object(payload)?;
    let op = fields
        .get("operation")
        .ok_or(OperationError::MissingParameter("operation"))?;
    build(operation_field(op)?, fields)
}

fn as_object(payload: &Value) -> Result<&Map<String, Value>, OperationError> {
    payload.as_object().ok_or_else(|| {
        OperationError::invalid(
            "payload",
            format!("expected a JSON object, got {}", kind(payload)),
        )
    })
}

fn operation_field(op: &Value) -> Result<Operation, OperationError> {
    let raw = op.as_str().ok_or_else(|| {
        OperationError::invalid("operation", format!("expected a string, got {}", kind(op)))
    })?;
    Operation::parse(raw).ok_or_else(|| {
        let known: Vec<_> = Operation::ALL.iter().map(|o| o.as_str()).collect();
        OperationError::invalid(
            "operation",
            format!(
                "unknown operation '{}' (known: {})",
                clip(raw),
                known.join(", ")
            ),
        )
    })
}

fn build(op: Operation, fields: &Map<String, Value>) -> Result<Request, OperationError> {
    Ok(match op {
        Operation::Find => Request::Find,
        Operation::Poll => Request::Poll(PollRequest {
            target: target(fields)?,
            summary: optional_bool(fields, "summary")?.unwrap_or(false),
            workflow_run: workflow_run(fields)?,
        }),
        Operation::Finalize => Request::Finalize(target(fields)?),
        Operation::Pause => {
            let target = target(fields)?;
            let task_token = match optional_string(fields, TaskToken::FIELD)? {
                Some(raw) => Some(TaskToken::parse(raw)?),
                None => None,
            };
            Request::Pause(PauseRequest { target, task_token })
        }
        Operation::Resume => Request::Resume(target(fields)?),
        Operation::Launch => Request::Launch(target(fields)?),
        Operation::Cancel => Request::Cancel(target(fields)?),
        Operation::Retry => Request::Retry(wave_target(fields)?),
        Operation::Skip => Request::Skip(wave_target(fields)?),
        Operation::Start => Request::Start(start(fields)?),
        Operation::List => Request::List(PageRequest {
            next_token: next_token(fields)?,
        }),
        Operation::Get => Request::Get(target(fields)?),
        Operation::Events => Request::Events(EventsRequest {
            target: target(fields)?,
            next_token: next_token(fields)?,
        }),
        Operation::Cleanup => Request::Cleanup(target(fields)?),
        Operation::Act => Request::Act(target(fields)?),
        Operation::Advance => Request::Advance(LaunchResult::from_payload(fields)?),
    })
}

fn start(fields: &Map<String, Value>) -> Result<StartRequest, OperationError> {
    const PLAN: &str = "plan";
    let plan = match fields.get(PLAN) {
        None | Some(Value::Null) => return Err(OperationError::MissingParameter(PLAN)),
        Some(raw @ Value::Object(_)) => crate::plan::Plan::deserialize(raw)
            .map_err(|e| OperationError::invalid(PLAN, e.to_string()))?,
        Some(other) => {
            return Err(OperationError::invalid(
                PLAN,
                format!(
                    "expected the plan document (a JSON object), got {}",
                    kind(other)
                ),
            ))
        }
    };
    let execution_id = match optional_string(fields, ExecutionId::FIELD)? {
        Some(raw) => Some(ExecutionId::parse(raw)?),
        None => None,
    };
    let poll_interval_seconds = match fields.get(PollInterval::FIELD) {
        None | Some(Value::Null) => None,
        Some(raw) => Some(
            PollInterval::deserialize(raw)
                .map_err(|e| OperationError::invalid(PollInterval::FIELD, e.to_string()))?,
        ),
    };
    Ok(StartRequest {
        plan: Box::new(plan),
        execution_id,
        poll_interval_seconds,
    })
}

fn next_token(fields: &Map<String, Value>) -> Result<Option<String>, OperationError> {
    let Some(raw) = optional_string(fields, NEXT_TOKEN)? else {
        return Ok(None);
    };
    if raw.is_empty() || raw.chars().count() > NEXT_TOKEN_MAX_CHARS {
        return Err(OperationError::invalid(
            NEXT_TOKEN,
            "not a token this API gave (pass the previous page's nextToken as it was)",
        ));
    }
    Ok(Some(raw.to_owned()))
}

fn wave_target(fields: &Map<String, Value>) -> Result<WaveTarget, OperationError> {
    const FIELD: &str = "waveNumber";
    let target = target(fields)?;
    let wave_number = match fields.get(FIELD) {
        None | Some(Value::Null) => return Err(OperationError::MissingParameter(FIELD)),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (*n as usize) < crate::plan::MAX_WAVES)
            .ok_or_else(|| {
                OperationError::invalid(
                    FIELD,
                    format!(
                        "expected a wave number from 0 to {}, got {n}",
                        crate::plan::MAX_WAVES - 1
                    ),
                )
            })?,
        Some(other) => {
            return Err(OperationError::invalid(
                FIELD,
                format!("expected a whole number, got {}", kind(other)),
            ))
        }
    };
    Ok(WaveTarget {
        target,
        wave_number,
    })
}

fn target(fields: &Map<String, Value>) -> Result<Target, OperationError> {
    let execution_id = required_string(fields, ExecutionId::FIELD)?;
    let plan_id = required_string(fields, PlanId::FIELD)?;
    Ok(Target {
        execution_id: ExecutionId::parse(execution_id)?,
        plan_id: PlanId::parse(plan_id)?,
    })
}

fn required_string<'a>(
    fields: &'a Map<String, Value>,
    name: &'static str,
) -> Result<&'a str, OperationError> {
    optional_string(fields, name)?.ok_or(OperationError::MissingParameter(name))
}

/// `null` counts as absent, as API Gateway and hand-written payloads often send it.
fn optional_string<'a>(
    fields: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, OperationError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Err(OperationError::MissingParameter(name)),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(OperationError::invalid(
            name,
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

/// `workflowRun`: a Step Functions execution ARN, checked for shape only (it is recorded, and
/// later asked about, never trusted for anything else).
fn workflow_run(fields: &Map<String, Value>) -> Result<Option<String>, OperationError> {
    const NAME: &str = "workflowRun";
    let Some(raw) = optional_string(fields, NAME)? else {
        return Ok(None);
    };
    if raw.chars().count() > WORKFLOW_RUN_MAX_CHARS
        || !raw.starts_with("arn:")
        || raw.chars().any(char::is_whitespace)
    {
        return Err(OperationError::invalid(
            NAME,
            format!(
                "expected a Step Functions execution ARN, got '{}'",
                clip(raw)
            ),
        ));
    }
    Ok(Some(raw.to_owned()))
}

fn optional_bool(
    fields: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<bool>, OperationError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(OperationError::invalid(
            name,
            format!("expected true or false, got {}", kind(other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn clip(raw: &str) -> String {
    crate::text::clip(raw, crate::text::QUOTE_CHARS)
}

/// The input of one state machine execution (one per recovery execution).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowInput {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    /// Seconds between polls while a wave is in flight; the state machine defaults it to 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub poll_interval_seconds: Option<PollInterval>,
    /// How the run's handovers are named (`{runPrefix}-r{n}`); the state machine defaults it to
    /// the executionId. A restarted run carries its own name here, so its handovers never
    /// collide with an earlier run's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_prefix: Option<String>,
}

/// Seconds between the state machine's polls: a whole number from [`Self::MIN_SECS`] to
/// [`Self::MAX_SECS`]. The definition's CheckInput refuses anything else (InvalidInput), so a
/// value this type refuses never reaches a run: shorter polls only spend history events and Lambda
/// calls, a fraction is not a Wait's whole seconds, and States.MathAdd (which checks wholeness
/// there) takes 32-bit integers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct PollInterval(u64);

impl PollInterval {
    pub const FIELD: &'static str = "pollIntervalSeconds";
    pub const MIN_SECS: u64 = 5;
    pub const MAX_SECS: u64 = 86_400;

    pub fn new(secs: u64) -> Result<Self, OperationError> {
        if (Self::MIN_SECS..=Self::MAX_SECS).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(Self::out_of_range(&secs.to_string()))
        }
    }

    pub fn secs(self) -> u64 {
        self.0
    }

    fn out_of_range(got: &str) -> OperationError {
        OperationError::invalid(
            Self::FIELD,
            format!(
                "expected whole seconds from {} to {}, got {}",
                Self::MIN_SECS,
                Self::MAX_SECS,
                clip(got)
            ),
        )
    }
}

impl std::str::FromStr for PollInterval {
    type Err = OperationError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.trim()
            .parse::<u64>()
            .map_err(|_| Self::out_of_range(raw))
            .and_then(Self::new)
    }
}

impl<'de> Deserialize<'de> for PollInterval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // As the definition's CheckInput reads it: any JSON number of whole seconds (5.0 too).
        let n = serde_json::Number::deserialize(d)?;
        n.as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..=Self::MAX_SECS as f64).contains(f))
                    .map(|f| f as u64)
            })
            .ok_or_else(|| Self::out_of_range(&n.to_string()))
            .and_then(Self::new)
            .map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// An operation's answer as the Lambda returns it: the success document or the error shape.
pub fn answer<T: Serialize>(result: &Result<T, OperationError>) -> Value {
    match result {
        Ok(body) => serde_json::to_value(body).unwrap_or_else(|e| {
            serde_json::to_value(
                OperationError::Internal(format!("answer not serialisable: {e}")).body(),
            )
            .unwrap_or(Value::Null)
        }),
        Err(e) => serde_json::to_value(e.body()).unwrap_or(Value::Null),
    }
}

/// `statusCode` of an answer produced by [`answer`].
pub fn status_code_of(answer: &Value) -> u16 {
    answer
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .unwrap_or(500)
}

pub(crate) const OK: u16 = 200;

/// What a caller does with an operation's answer: the one decision the state machine's Choice
/// states, the drill driver and `drctl`'s exit codes all follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerClass {
    /// 2xx: the operation did its work; act on the answer.
    Done,
    /// A transient failure (5xx; 409 CONFLICT: the record kept changing under the call): call the
    /// same operation again after a backoff.
    RetryLater,
    /// 400 INVALID_STATE: the record has moved on since the caller decided to call; poll again and
    /// follow `nextAction`.
    PollAgain,
    /// Anything else (a malformed request, 404, a task token the workflow refused): calling again
    /// will not help.
    Final,
}

impl AnswerClass {
    /// The class of an answer with this `statusCode` and `error` code.
    pub fn of(status_code: u16, error: Option<&str>) -> Self {
        match (status_code, error) {
            (200..=299, _) => Self::Done,
            (500..=599, _) | (409, Some("CONFLICT")) => Self::RetryLater,
            (400, Some("INVALID_STATE")) => Self::PollAgain,
            _ => Self::Final,
        }
    }

    /// The class of an answer as [`answer`] makes it (no `statusCode`: final).
    pub fn of_answer(answer: &Value) -> Self {
        match answer.get("statusCode").and_then(Value::as_u64) {
            Some(code) => Self::of(
                u16::try_from(code).unwrap_or(u16::MAX),
                answer.get("error").and_then(Value::as_str),
            ),
            None => Self::Final,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindResponse {
    pub status_code: u16,
    pub executions_found: usize,
    pub executions_polled: usize,
    /// Not dispatched because find's deadline came first; the next tick takes them.
    pub executions_skipped: usize,
    pub results: Vec<FindResult>,
    /// Executions whose workflow run had ended and that got a new one (healing, SPEC §9); absent
    /// when none.
    #[serde(skip_serializing_if = "is_no_count")]
    pub executions_restarted: usize,
    /// What healing did or could not do, one entry per execution it acted on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<FindRestart>,
}

fn is_no_count(n: &usize) -> bool {
    *n == 0
}

/// One execution find's healing acted on.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindRestart {
    pub execution_id: ExecutionId,
    /// RESTARTED, OPERATOR_NEEDED or FAILED.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_run: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindResult {
    pub execution_id: ExecutionId,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<ExecutionStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PollResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    pub all_waves_complete: bool,
    pub waves: PollWaves,
    pub next_action: NextAction,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_polled_time: Option<Timestamp>,
    /// Things that did not stop the poll but an operator may want to know (EC2 throttled, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PollWaves {
    Full(Vec<Wave>),
    Summary(Vec<WaveSummary>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveSummary {
    pub wave_number: u32,
    pub status: WaveStatus,
    /// The DRS jobs of the wave's current attempt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub job_ids: Vec<JobId>,
    #[serde(skip_serializing_if = "is_zero")]
    pub attempt: u32,
    pub servers_total: usize,
    pub servers_launched: usize,
    pub servers_failed: usize,
    #[serde(skip_serializing_if = "is_zero")]
    pub optional_not_launched: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<WaveFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_launch_error: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl WaveSummary {
    pub fn of(wave: &Wave) -> Self {
        let count = |f: fn(&LaunchStatus) -> bool| {
            wave.server_statuses
                .iter()
                .filter(|s| f(&s.launch_status))
                .count()
        };
        Self {
            wave_number: wave.wave_number,
            status: wave.status,
            job_ids: wave.current_jobs().map(|j| j.job_id.clone()).collect(),
            attempt: wave.attempt,
            servers_total: wave.server_statuses.len(),
            servers_launched: count(|s| *s == LaunchStatus::Launched),
            servers_failed: count(|s| matches!(s, LaunchStatus::Failed | LaunchStatus::Terminated)),
            optional_not_launched: wave.optional_not_launched,
            failure_reason: wave.failure_reason,
            last_launch_error: wave.last_launch_error.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FinalizeResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    pub total_waves: usize,
    pub already_finalized: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_time_seconds: Option<u64>,
    /// A drill whose plan asks for it: the workflow cleans up this long after the end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup_after_seconds: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    /// PAUSED; POLLING when the workflow's token arrived after the operator had already resumed
    /// (the token was completed at once).
    pub status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_reason: Option<PauseReason>,
    /// The failed wave a `WAVE_FAILED` pause waits on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_wave: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_before_wave: Option<u32>,
    /// Whether a waiting workflow task was released.
    pub workflow_released: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    pub wave_number: u32,
    pub wave_status: WaveStatus,
    /// The jobs this call recorded (started, or found by their tags).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub job_ids: Vec<JobId>,
    /// A job was found by its tags (a launch that died, or an answer that was lost), not started
    /// by this call.
    pub recovered: bool,
    /// DRS refused for now (throttling, quota, conflict): launch is asked again after this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_launch_error: Option<String>,
}

/// What advance did with a DRS launch result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdvanceOutcome {
    /// Nothing to do: `reason` says why. Nothing was written.
    Ignored,
    /// The execution was polled; `nextAction` was not LAUNCH (or another launcher came first).
    Polled,
    /// The execution was polled and its next wave launched (`launch` is launch's answer).
    Launched,
}

/// advance's answer. Every event is answered 200 unless it does not read (400) or a call failed
/// (5xx): an event that changes nothing is an answer, not an error, so EventBridge and Lambda
/// never retry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdvanceResponse {
    pub status_code: u16,
    pub job_id: JobId,
    pub outcome: AdvanceOutcome,
    /// Why an IGNORED event changed nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<crate::ops::Ignored>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<ExecutionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<PlanId>,
    /// The wave the job belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wave_number: Option<u32>,
    /// poll's `nextAction`, when advance polled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<NextAction>,
    /// launch's answer, when advance launched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch: Option<LaunchResponse>,
}

/// act's answer: the action it ran (or sent again), and where its run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    pub wave_number: u32,
    pub wave_status: WaveStatus,
    pub action: String,
    pub when: crate::actions::ActionWhen,
    #[serde(rename = "type")]
    pub kind: crate::actions::ActionKind,
    pub attempt: u32,
    pub action_status: crate::actions::ActionStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automation_execution_id: Option<String>,
    /// The start was refused for now: act is asked again after this long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// retry's and skip's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    pub wave_number: u32,
    pub wave_status: WaveStatus,
    /// The wave's attempt after the decision (a retry starts the next one).
    pub attempt: u32,
    /// A retry of a wave an action failed: the action that runs again, and the attempt it runs as.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_attempt: Option<u32>,
    pub workflow_released: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    pub workflow_released: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    pub status: ExecutionStatus,
    /// The Step Functions run that conducts the execution.
    pub workflow_run: String,
    /// What the pre-flight found worth a second look (the start went on).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "crate::preflight::with_messages"
    )]
    pub warnings: Vec<crate::preflight::PreflightWarning>,
}

/// cleanup's answer: what it did with each recovery instance of the drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub status: ExecutionStatus,
    /// Servers whose instance DRS was asked to terminate (by this call, an earlier one, or another
    /// cleanup still asking) and is not yet confirmed gone.
    pub requested: Vec<SourceServerId>,
    /// Servers whose instance is confirmed gone after a request (this call or an earlier one).
    pub terminated: Vec<SourceServerId>,
    /// Servers whose instance was no longer this execution's: nothing was terminated.
    pub gone: Vec<SourceServerId>,
    /// The TERMINATE jobs of this execution's cleanup.
    pub job_ids: Vec<JobId>,
    /// Every instance of the execution, recorded or found by its job, is terminated or gone, and
    /// no server was left for a later call.
    pub complete: bool,
    /// A plain sentence: what happened and what is left.
    pub message: String,
}

/// One active execution, as the status index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedExecution {
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    pub status: ExecutionStatus,
    pub created_time: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_polled_time: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse {
    pub status_code: u16,
    pub executions: Vec<ListedExecution>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The record as the API shows it: every field but the task token (`workflowWaiting` says
/// whether one is held).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetResponse {
    pub status_code: u16,
    pub execution: crate::model::Execution,
    pub workflow_waiting: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventsResponse {
    pub status_code: u16,
    pub execution_id: ExecutionId,
    pub events: Vec<crate::audit::AuditEvent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const E: &str = "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00";
    const P: &str = "0d9b7c6a-1111-4222-8333-944455556666";

    fn err(op: Operation, payload: Value) -> (u16, &'static str, String) {
        let e = parse_request(op, &payload).unwrap_err();
        (e.status_code(), e.code(), e.to_string())
    }

    #[test]
    fn poll_takes_the_workflow_run_and_refuses_anything_else() {
        let run = "arn:aws:states:us-east-1:123456789012:execution:m:run-1";
        let parsed = |extra: Value| {
            let mut p = json!({"operation": "poll", "executionId": E, "planId": P});
            if let (Some(p), Value::Object(extra)) = (p.as_object_mut(), extra) {
                p.extend(extra);
            }
            parse_request(Operation::Poll, &p)
        };
        match parsed(json!({"workflowRun": run})) {
            Ok(Request::Poll(p)) => assert_eq!(p.workflow_run.as_deref(), Some(run)),
            other => panic!("{other:?}"),
        }
        match parsed(json!({})) {
            Ok(Request::Poll(p)) => assert_eq!(p.workflow_run, None),
            other => panic!("{other:?}"),
        }
        for bad in [
            json!("not an arn"),
            json!(7),
            json!(format!("arn:{}", "x".repeat(WORKFLOW_RUN_MAX_CHARS))),
            json!("arn:aws:states with spaces"),
        ] {
            assert_eq!(
                parsed(json!({"workflowRun": bad}))
                    .map(|_| ())
                    .unwrap_err()
                    .code(),
                "INVALID_PARAMETER",
                "{bad}"
            );
        }
    }

    #[test]
    fn parses_the_seed_payloads() {
        assert_eq!(
            parse_request(Operation::Find, &json!({"operation": "find"})).unwrap(),
            Request::Find
        );
        let r = parse_request(
            Operation::Poll,
            &json!({"operation": "poll", "executionId": E, "planId": P}),
        )
        .unwrap();
        let Request::Poll(p) = r else { panic!("{r:?}") };
        assert_eq!(p.target.execution_id.to_string(), E);
        assert!(!p.summary);
        for op in [
            Operation::Finalize,
            Operation::Pause,
            Operation::Resume,
            Operation::Launch,
            Operation::Cancel,
        ] {
            let r = parse_request(
                op,
                &json!({"operation": op.as_str(), "executionId": E, "planId": P}),
            )
            .unwrap();
            assert_eq!(r.operation(), op);
        }
    }

    #[test]
    fn operation_is_optional_but_must_match() {
        assert!(parse_request(Operation::Resume, &json!({"executionId": E, "planId": P})).is_ok());
        let (code, error, msg) = err(
            Operation::Resume,
            json!({"operation": "pause", "executionId": E, "planId": P}),
        );
        assert_eq!((code, error), (400, "INVALID_PARAMETER"));
        assert!(msg.contains("serves 'resume', not 'pause'"), "{msg}");
        let (_, error, msg) = err(Operation::Find, json!({"operation": "explode"}));
        assert_eq!(error, "INVALID_PARAMETER");
        assert!(msg.contains("unknown operation 'explode'"), "{msg}");
        assert_eq!(
            err(Operation::Find, json!({"operation": 7})).1,
            "INVALID_PARAMETER"
        );
    }

    #[test]
    fn missing_and_malformed_parameters() {
        assert_eq!(
            err(Operation::Poll, json!({"planId": P})),
            (
                400,
                "MISSING_PARAMETER",
                "missing required parameter 'executionId'".into()
            )
        );
        assert_eq!(
            err(Operation::Poll, json!({"executionId": E})).1,
            "MISSING_PARAMETER"
        );
        assert_eq!(
            err(Operation::Poll, json!({"executionId": "", "planId": P})).1,
            "MISSING_PARAMETER"
        );
        assert_eq!(
            err(Operation::Poll, json!({"executionId": null, "planId": P})).1,
            "MISSING_PARAMETER"
        );
        let (code, error, msg) = err(Operation::Poll, json!({"executionId": "uuid", "planId": P}));
        assert_eq!(
            (code, error),
            (400, "INVALID_PARAMETER"),
            "a non-UUID id is a 400, not a 404"
        );
        assert!(msg.contains("executionId"));
        assert_eq!(
            err(Operation::Poll, json!({"executionId": 12, "planId": P})).1,
            "INVALID_PARAMETER"
        );
        assert_eq!(
            err(
                Operation::Poll,
                json!({"executionId": E, "planId": P, "summary": "yes"})
            )
            .1,
            "INVALID_PARAMETER"
        );
        assert_eq!(
            err(
                Operation::Pause,
                json!({"executionId": E, "planId": P, "taskToken": 5})
            )
            .1,
            "INVALID_PARAMETER"
        );
    }

    #[test]
    fn retry_and_skip_name_a_wave() {
        for op in [Operation::Retry, Operation::Skip] {
            let r = parse_request(op, &json!({"executionId": E, "planId": P, "waveNumber": 2}))
                .unwrap();
            assert_eq!(r.operation(), op);
            let (Request::Retry(w) | Request::Skip(w)) = r else {
                panic!("{r:?}")
            };
            assert_eq!(w.wave_number, 2);
            assert_eq!(
                err(op, json!({"executionId": E, "planId": P})).1,
                "MISSING_PARAMETER"
            );
            for bad in [
                json!(-1),
                json!(1.5),
                json!("2"),
                json!(99),
                json!(u64::MAX),
            ] {
                let (code, error, msg) = err(
                    op,
                    json!({"executionId": E, "planId": P, "waveNumber": bad}),
                );
                assert_eq!((code, error), (400, "INVALID_PARAMETER"), "{bad}");
                assert!(msg.contains("waveNumber"), "{msg}");
            }
        }
    }

    #[test]
    fn payload_must_be_an_object() {
        for v in [json!(null), json!([1]), json!("find"), json!(3)] {
            assert_eq!(err(Operation::Find, v).1, "INVALID_PARAMETER");
        }
    }

    #[test]
    fn pause_takes_an_optional_token() {
        let r = parse_request(
            Operation::Pause,
            &json!({"executionId": E, "planId": P, "taskToken": "tok"}),
        )
        .unwrap();
        let Request::Pause(p) = r else { panic!() };
        assert_eq!(p.task_token.unwrap().expose(), "tok");
    }

    #[test]
    fn messages_do_not_echo_huge_input() {
        let (_, _, msg) = err(Operation::Find, json!({"operation": "x".repeat(100_000)}));
        assert!(msg.len() < 300, "{}", msg.len());
    }

    #[test]
    fn any_request_needs_an_operation() {
        assert_eq!(
            parse_any_request(&json!({})).unwrap_err().code(),
            "MISSING_PARAMETER"
        );
        assert_eq!(
            parse_any_request(&json!({"operation": "cancel", "executionId": E, "planId": P}))
                .unwrap()
                .operation(),
            Operation::Cancel
        );
    }

    #[test]
    fn the_poll_interval_is_whole_seconds_from_5() {
        let parse = |v: Value| {
            serde_json::from_value::<WorkflowInput>(json!({
                "executionId": E, "planId": P, "pollIntervalSeconds": v
            }))
            .map(|i| i.poll_interval_seconds.map(PollInterval::secs))
        };
        assert_eq!(parse(json!(5)).unwrap(), Some(5));
        assert_eq!(parse(json!(30.0)).unwrap(), Some(30));
        assert_eq!(parse(json!(86_400)).unwrap(), Some(86_400));
        for bad in [
            json!(1.5),
            json!(0),
            json!(4),
            json!(-5),
            json!(86_401),
            json!("30"),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        let none: WorkflowInput =
            serde_json::from_value(json!({"executionId": E, "planId": P})).unwrap();
        assert_eq!(none.poll_interval_seconds, None);
        assert_eq!("15".parse::<PollInterval>().unwrap().secs(), 15);
        for bad in ["0", "1.5", "4", "-1", "x"] {
            let e = bad.parse::<PollInterval>().unwrap_err();
            assert_eq!(e.code(), "INVALID_PARAMETER", "{bad}");
        }
        assert_eq!(
            serde_json::to_value(PollInterval::new(15).unwrap()).unwrap(),
            json!(15)
        );
    }

    #[test]
    fn every_error_has_one_answer_class() {
        use crate::error::Refusal;
        let cases = [
            (OperationError::MissingParameter("x"), AnswerClass::Final),
            (OperationError::invalid("x", "y"), AnswerClass::Final),
            (OperationError::NotFound("x".into()), AnswerClass::Final),
            (
                OperationError::InvalidState(Refusal::NothingToLaunch),
                AnswerClass::PollAgain,
            ),
            (
                OperationError::Conflict("x".into()),
                AnswerClass::RetryLater,
            ),
            (
                OperationError::TokenRejected("x".into()),
                AnswerClass::Final,
            ),
            (
                OperationError::Internal("x".into()),
                AnswerClass::RetryLater,
            ),
        ];
        for (e, class) in cases {
            let a = answer::<()>(&Err(e.clone()));
            assert_eq!(AnswerClass::of_answer(&a), class, "{}", e.code());
        }
        assert_eq!(
            AnswerClass::of_answer(&json!({"statusCode": 200})),
            AnswerClass::Done
        );
        assert_eq!(
            AnswerClass::of_answer(&json!({"nothing": 1})),
            AnswerClass::Final
        );
        assert_eq!(AnswerClass::of(502, None), AnswerClass::RetryLater);
    }

    #[test]
    fn answers_carry_their_status_code() {
        let ok: Result<CancelResponse, OperationError> = Ok(CancelResponse {
            status_code: 200,
            execution_id: ExecutionId::parse(E).unwrap(),
            status: ExecutionStatus::Cancelling,
            workflow_released: false,
        });
        assert_eq!(status_code_of(&answer(&ok)), 200);
        let e: Result<CancelResponse, _> = Err(OperationError::NotFound("x".into()));
        assert_eq!(
            answer(&e),
            json!({"statusCode": 404, "error": "NOT_FOUND", "message": "x"})
        );
    }

    /// DRS's own sample of the event (EventBridge's "Sample events for Elastic Disaster
    /// Recovery").
    fn drs_event() -> Value {
        json!({
            "version": "0",
            "id": "9da9af57-9253-4406-87cb-7cc400e43465",
            "detail-type": "DRS Source Server Launch Result",
            "source": "aws.drs",
            "account": "111122223333",
            "time": "2016-08-22T20:12:19Z",
            "region": "us-west-2",
            "resources": ["arn:aws:drs:us-west-2:111122223333:source-server/s-12345678901234567"],
            "detail": {
                "state": "RECOVERY_LAUNCH_SUCCEEDED",
                "job-id": "drsjob-04ca7d0d3fb6afa3e",
                "is-drill": "FALSE"
            }
        })
    }

    #[test]
    fn a_drs_launch_result_reads_its_job_state_server_and_id() {
        let r = LaunchResult::from_event(&drs_event()).unwrap();
        assert_eq!(r.job_id.as_str(), "drsjob-04ca7d0d3fb6afa3e");
        assert_eq!(r.state.as_deref(), Some("RECOVERY_LAUNCH_SUCCEEDED"));
        assert_eq!(
            r.source_server_id.as_ref().map(SourceServerId::as_str),
            Some("s-12345678901234567")
        );
        assert_eq!(
            r.event_id.as_deref(),
            Some("9da9af57-9253-4406-87cb-7cc400e43465")
        );
        // The server is for the log only: an unreadable ARN leaves it out.
        let mut odd = drs_event();
        odd["resources"] = json!(["arn:aws:drs:us-west-2:1:recovery-instance/i-1", 7]);
        let r = LaunchResult::from_event(&odd).unwrap();
        assert_eq!(r.source_server_id, None);
        assert_eq!(r.job_id.as_str(), "drsjob-04ca7d0d3fb6afa3e");
    }

    #[test]
    fn a_malformed_launch_result_is_a_400_naming_what_is_wrong() {
        let with = |change: &dyn Fn(&mut Value)| {
            let mut e = drs_event();
            change(&mut e);
            let err = LaunchResult::from_event(&e).unwrap_err();
            assert_eq!(err.status_code(), 400, "{err}");
            err.to_string()
        };
        assert!(
            with(&|e| e["detail-type"] = json!("DRS PIT Snapshot Taken"))
                .contains("DRS Source Server Launch Result")
        );
        assert!(with(&|e| e["source"] = json!("aws.mgn")).contains("aws.mgn"));
        assert!(with(&|e| {
            e.as_object_mut().unwrap().remove("detail");
        })
        .contains("detail"));
        assert!(with(&|e| e["detail"] = json!("drsjob-04ca7d0d3fb6afa3e")).contains("detail"));
        assert!(with(&|e| {
            e["detail"].as_object_mut().unwrap().remove("job-id");
        })
        .contains("detail.job-id"));
        assert!(with(&|e| e["detail"]["job-id"] = json!("")).contains("detail.job-id"));
        assert!(with(&|e| e["detail"]["job-id"] = json!(42)).contains("detail.job-id"));
        assert!(
            with(&|e| e["detail"]["job-id"] = json!("mgnjob-04ca7d0d3fb6afa3e")).contains("jobId")
        );
        assert_eq!(
            LaunchResult::from_event(&json!([1]))
                .unwrap_err()
                .status_code(),
            400
        );
    }

    #[test]
    fn advance_reads_a_direct_payload_by_its_job() {
        let r = parse_request(
            Operation::Advance,
            &json!({"operation": "advance", "jobId": "drsjob-04ca7d0d3fb6afa3e", "sourceServerId": "s-12345678901234567"}),
        )
        .unwrap();
        let Request::Advance(r) = r else {
            panic!("not advance: {r:?}")
        };
        assert_eq!(r.job_id.as_str(), "drsjob-04ca7d0d3fb6afa3e");
        assert!(r.source_server_id.is_some());
        assert_eq!(r.state, None);
        assert_eq!(err(Operation::Advance, json!({})).1, "MISSING_PARAMETER");
        assert_eq!(
            err(Operation::Advance, json!({"jobId": "job-1"})).1,
            "INVALID_PARAMETER"
        );
    }
}
