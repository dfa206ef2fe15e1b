//! Wave actions (SPEC §11): the checks and changes a plan runs between waves — a Lambda function
//! invoked synchronously, or an SSM Automation runbook started and followed — what a plan may say
//! of them, what each run records, and the pure rules of which action runs when.
//!
//! BEFORE_LAUNCH actions run in order on a PENDING wave, once its planned pause is approved and
//! before its first StartRecovery; AFTER_COMPLETE actions run in order on a COMPLETED wave, once
//! EC2 has described its instances, before the next wave (and before its planned pause). An action
//! is *done* when its latest run SUCCEEDED, or failed with `onFailure: CONTINUE`. A failed run with
//! `onFailure: FAIL` fails the wave (ACTION_FAILED); the wave's own policy then applies, and a retry
//! runs the failed action again as its next attempt.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::model::{Execution, ServerStatus, Timestamp, Wave};
use crate::status::{ExecutionStatus, WaveStatus};

/// The most actions a wave may list.
pub const MAX_ACTIONS_PER_WAVE: usize = 10;
/// A Lambda action is invoked synchronously by the `act` function, whose own limit is Lambda's
/// 900 s: the action must answer within 840 s so that act can still record the answer.
pub const MAX_LAMBDA_TIMEOUT_SECONDS: u64 = 840;
/// An action's `parameters`, as JSON: ten of them keep a wave item of 1,000 servers far below
/// DynamoDB's 400 KB.
pub const MAX_PARAMETERS_BYTES: usize = 4 * 1024;
/// How deep `parameters` may nest (DynamoDB stores at most 32 levels in an item).
pub const MAX_PARAMETERS_DEPTH: usize = 8;
/// The most runs of one action (a retry past it is refused, whatever `maxWaveAttempts` allows):
/// ten actions of ten runs each stay a small part of a wave item.
pub const MAX_RUNS_PER_ACTION: u32 = 10;
/// Action names: short, and safe in a trail line, a tag and a command line.
pub const MAX_ACTION_NAME_CHARS: usize = 64;
/// Lambda's `FunctionName` (a name, a partial or a full ARN, with an optional qualifier).
pub const MAX_FUNCTION_CHARS: usize = 170;
/// SSM's `DocumentName`: 3 to 128 of `a-zA-Z0-9_-.:/` (a name or an ARN).
pub const DOCUMENT_CHARS: std::ops::RangeInclusive<usize> = 3..=128;
/// SSM's limits on StartAutomationExecution's `Parameters`: a name of 1 to 50 characters, at most
/// 50 values, each of 1 to 512 characters.
pub const SSM_PARAMETER_NAME_CHARS: usize = 50;
pub const SSM_PARAMETER_VALUES: usize = 50;
pub const SSM_PARAMETER_VALUE_CHARS: usize = 512;
/// What a run keeps of an answer or an error.
pub const SUMMARY_MAX_CHARS: usize = 300;
/// A Lambda run that has no recorded answer this long after its timeout lost its invoker (act
/// crashed or timed out): it failed, and it is never invoked again for the same attempt.
pub const ANSWER_GRACE_SECS: u64 = 60;

/// When an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionWhen {
    /// After the wave's planned pause is approved, before its first StartRecovery.
    BeforeLaunch,
    /// After the wave COMPLETED, before the next wave.
    AfterComplete,
}

impl ActionWhen {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BeforeLaunch => "BEFORE_LAUNCH",
            Self::AfterComplete => "AFTER_COMPLETE",
        }
    }

    /// The wave status its actions run in.
    pub const fn wave_status(self) -> WaveStatus {
        match self {
            Self::BeforeLaunch => WaveStatus::Pending,
            Self::AfterComplete => WaveStatus::Completed,
        }
    }
}

/// What runs an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionKind {
    /// A Lambda function, invoked synchronously.
    Lambda,
    /// An SSM Automation runbook, started and followed.
    SsmAutomation,
}

impl ActionKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Lambda => "LAMBDA",
            Self::SsmAutomation => "SSM_AUTOMATION",
        }
    }
}

/// What a failed run does to its wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionOnFailure {
    /// The wave fails (ACTION_FAILED) and its own failure policy applies.
    #[default]
    Fail,
    /// The failure is recorded and the execution goes on.
    Continue,
}

/// One action of a wave, as the execution holds it (checked when the plan was).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveAction {
    pub name: String,
    pub when: ActionWhen,
    #[serde(rename = "type")]
    pub kind: ActionKind,
    /// A function name or ARN (LAMBDA), an automation document name or ARN (SSM_AUTOMATION).
    pub target: String,
    /// LAMBDA: any JSON object, passed on as `parameters`. SSM_AUTOMATION: the runbook's
    /// parameters, each a string or a list of strings, where `${...}` names what the execution
    /// knows ([`automation_parameters`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    pub timeout_seconds: u64,
    #[serde(default)]
    pub on_failure: ActionOnFailure,
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionStatus {
    /// act took it (a Lambda being invoked; a runbook being started, or started and followed).
    Running,
    Succeeded,
    Failed,
    /// No end within `timeoutSeconds` (a runbook still running is stopped).
    TimedOut,
}

impl ActionStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
        }
    }

    pub const fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::TimedOut)
    }
}

impl std::fmt::Display for ActionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One run of one action: what the wave records of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRun {
    pub name: String,
    pub when: ActionWhen,
    /// 1 for the action's first run, +1 for each run a retry asks for.
    pub attempt: u32,
    pub status: ActionStatus,
    /// When act took the run.
    pub start_time: Timestamp,
    /// When act last sent it (the claim a dead act leaves behind ages from here).
    pub claimed_time: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp>,
    /// SSM's id of the automation execution, once SSM has answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_execution_id: Option<String>,
    /// The start was refused for now and nothing ran (throttled, a quota): act sends it again
    /// from this time on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_time: Option<Timestamp>,
    /// Refusals in a row of this run that cleared on their own (each doubles the next backoff);
    /// back to 0 once the run goes through.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refusals: u32,
    /// A runbook's parameters as first sent, kept until SSM answers with the automation's id: a
    /// start sent again sends exactly these (SSM refuses the same token with other parameters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_parameters: Option<BTreeMap<String, Vec<String>>>,
    /// The answer (clipped), or the runbook's final status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Why it failed, or the last refusal that clears on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl ActionRun {
    /// Whether the run counts as done for its action (given the action's policy).
    pub fn passes(&self, on_failure: ActionOnFailure) -> bool {
        self.status == ActionStatus::Succeeded
            || (self.status.is_failure() && on_failure == ActionOnFailure::Continue)
    }
}

// ---------------------------------------------------------------------------------------------
// Plan documents
// ---------------------------------------------------------------------------------------------

/// An action as a plan document writes it. Kept as written (enums as text) so that every problem
/// of every action is reported at once, as a plan problem, not as the first parse error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanAction {
    pub name: String,
    pub when: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
}

/// What is wrong with one action of a plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionFault {
    #[error("has no name")]
    EmptyName,
    #[error("has a name of {0} characters; at most {MAX_ACTION_NAME_CHARS} are allowed")]
    NameTooLong(usize),
    #[error("has a name with characters other than letters, digits, '-', '_' and '.'")]
    NameCharacters,
    #[error("has the same name as another action of the wave")]
    DuplicateName,
    #[error("has an unknown when '{0}' (BEFORE_LAUNCH or AFTER_COMPLETE)")]
    UnknownWhen(String),
    #[error("has an unknown type '{0}' (LAMBDA or SSM_AUTOMATION)")]
    UnknownType(String),
    #[error("has an unknown onFailure '{0}' (FAIL or CONTINUE)")]
    UnknownOnFailure(String),
    #[error("has an empty target")]
    EmptyTarget,
    #[error("has a target that is not a Lambda function name or ARN (1 to {MAX_FUNCTION_CHARS} of a-z A-Z 0-9 - _ . : $)")]
    BadFunction,
    #[error("has a target that is not an automation document name or ARN (3 to 128 of a-z A-Z 0-9 - _ . : /)")]
    BadDocument,
    #[error("has no timeoutSeconds")]
    MissingTimeout,
    #[error("has a timeoutSeconds of {value}; it must be 1 to {max} ({why})")]
    TimeoutOutOfRange {
        value: i64,
        max: u64,
        why: &'static str,
    },
    #[error("has parameters that are not a JSON object")]
    ParametersNotObject,
    #[error("has parameter '{0}' that is neither a string nor a list of strings (SSM Automation takes only those)")]
    ParameterNotStrings(String),
    #[error("has parameter '{name}' naming '${{{placeholder}}}', which is not one of {known}")]
    UnknownPlaceholder {
        name: String,
        placeholder: String,
        known: &'static str,
    },
    #[error("has parameters of {0} bytes as JSON; at most {MAX_PARAMETERS_BYTES} are allowed")]
    ParametersTooLarge(usize),
    #[error("has parameters nested {0} levels deep; at most {MAX_PARAMETERS_DEPTH} are allowed")]
    ParametersTooDeep(usize),
    #[error(
        "has parameter '{0}' whose name SSM refuses (1 to {SSM_PARAMETER_NAME_CHARS} characters)"
    )]
    SsmParameterName(String),
    #[error("has parameter '{0}' with a value SSM refuses (1 to {SSM_PARAMETER_VALUE_CHARS} characters)")]
    SsmParameterValue(String),
    #[error("has parameter '{name}' of up to {count} values (one per server of the wave for a list placeholder); SSM takes at most {SSM_PARAMETER_VALUES}")]
    SsmParameterValues { name: String, count: usize },
    #[error("has parameter '{name}' naming '${{{placeholder}}}' in a BEFORE_LAUNCH action: the wave's servers have no instances before it launches")]
    ListBeforeLaunch {
        name: String,
        placeholder: &'static str,
    },
}

impl PlanAction {
    /// The action as an execution holds it, or every fault it has. `wave_timeout` is the wave's
    /// own timeout (an action may not outlast its wave).
    pub fn check(
        &self,
        wave_timeout: u64,
        wave_servers: usize,
    ) -> Result<WaveAction, Vec<ActionFault>> {
        let mut faults = Vec::new();
        let name_chars = self.name.chars().count();
        if self.name.is_empty() {
            faults.push(ActionFault::EmptyName);
        } else if name_chars > MAX_ACTION_NAME_CHARS {
            faults.push(ActionFault::NameTooLong(name_chars));
        } else if !self
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            faults.push(ActionFault::NameCharacters);
        }
        let when = match self.when.as_str() {
            "BEFORE_LAUNCH" => Some(ActionWhen::BeforeLaunch),
            "AFTER_COMPLETE" => Some(ActionWhen::AfterComplete),
            other => {
                faults.push(ActionFault::UnknownWhen(crate::text::clip(other, 40)));
                None
            }
        };
        let kind = match self.kind.as_str() {
            "LAMBDA" => Some(ActionKind::Lambda),
            "SSM_AUTOMATION" => Some(ActionKind::SsmAutomation),
            other => {
                faults.push(ActionFault::UnknownType(crate::text::clip(other, 40)));
                None
            }
        };
        let on_failure = match self.on_failure.as_deref() {
            None | Some("FAIL") => Some(ActionOnFailure::Fail),
            Some("CONTINUE") => Some(ActionOnFailure::Continue),
            Some(other) => {
                faults.push(ActionFault::UnknownOnFailure(crate::text::clip(other, 40)));
                None
            }
        };
        if self.target.trim().is_empty() {
            faults.push(ActionFault::EmptyTarget);
        } else {
            match kind {
                Some(ActionKind::Lambda) if !is_function(&self.target) => {
                    faults.push(ActionFault::BadFunction);
                }
                Some(ActionKind::SsmAutomation) if !is_document(&self.target) => {
                    faults.push(ActionFault::BadDocument);
                }
                _ => {}
            }
        }
        let (max, why) = match kind {
            Some(ActionKind::Lambda) if MAX_LAMBDA_TIMEOUT_SECONDS < wave_timeout => (
                MAX_LAMBDA_TIMEOUT_SECONDS,
                "a Lambda action answers within the act function's own 900 s",
            ),
            _ => (wave_timeout, "no longer than the wave's timeout"),
        };
        let timeout = match self.timeout_seconds {
            None => {
                faults.push(ActionFault::MissingTimeout);
                None
            }
            Some(value) => match u64::try_from(value).ok().filter(|v| (1..=max).contains(v)) {
                Some(v) => Some(v),
                None => {
                    faults.push(ActionFault::TimeoutOutOfRange { value, max, why });
                    None
                }
            },
        };
        check_parameters(
            self.parameters.as_ref(),
            kind,
            when,
            wave_servers,
            &mut faults,
        );
        match (when, kind, on_failure, timeout) {
            (Some(when), Some(kind), Some(on_failure), Some(timeout_seconds))
                if faults.is_empty() =>
            {
                Ok(WaveAction {
                    name: self.name.clone(),
                    when,
                    kind,
                    target: self.target.clone(),
                    parameters: self.parameters.clone(),
                    timeout_seconds,
                    on_failure,
                })
            }
            _ => Err(faults),
        }
    }
}

fn is_function(target: &str) -> bool {
    (1..=MAX_FUNCTION_CHARS).contains(&target.chars().count())
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '$'))
}

fn is_document(target: &str) -> bool {
    DOCUMENT_CHARS.contains(&target.chars().count())
        && target
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))
}

fn check_parameters(
    parameters: Option<&Value>,
    kind: Option<ActionKind>,
    when: Option<ActionWhen>,
    wave_servers: usize,
    faults: &mut Vec<ActionFault>,
) {
    let Some(parameters) = parameters else {
        return;
    };
    let Some(object) = parameters.as_object() else {
        faults.push(ActionFault::ParametersNotObject);
        return;
    };
    let bytes = parameters.to_string().len();
    if bytes > MAX_PARAMETERS_BYTES {
        faults.push(ActionFault::ParametersTooLarge(bytes));
    }
    let deep = depth(parameters);
    if deep > MAX_PARAMETERS_DEPTH {
        faults.push(ActionFault::ParametersTooDeep(deep));
    }
    if kind != Some(ActionKind::SsmAutomation) {
        return;
    }
    for (name, value) in object {
        let values: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) if items.iter().all(Value::is_string) => {
                items.iter().filter_map(Value::as_str).collect()
            }
            _ => {
                faults.push(ActionFault::ParameterNotStrings(crate::text::clip(
                    name, 60,
                )));
                continue;
            }
        };
        if name.is_empty() || name.chars().count() > SSM_PARAMETER_NAME_CHARS {
            faults.push(ActionFault::SsmParameterName(crate::text::clip(name, 60)));
        }
        // As many values as SSM will get: a list placeholder gives one per server at most.
        let mut count = 0;
        for value in values {
            match placeholder(value).map(|p| (p, Placeholder::parse(p))) {
                Some((_, Some(p))) if p.is_list() => {
                    count += wave_servers;
                    if when == Some(ActionWhen::BeforeLaunch) {
                        // The wave's own servers have no instances before it launches.
                        faults.push(ActionFault::ListBeforeLaunch {
                            name: crate::text::clip(name, 60),
                            placeholder: p.name(),
                        });
                    }
                }
                Some((_, Some(_))) => count += 1,
                Some((unknown, None)) => {
                    count += 1;
                    faults.push(ActionFault::UnknownPlaceholder {
                        name: crate::text::clip(name, 60),
                        placeholder: crate::text::clip(unknown, 40),
                        known: Placeholder::KNOWN,
                    });
                }
                None => {
                    count += 1;
                    if value.is_empty() || value.chars().count() > SSM_PARAMETER_VALUE_CHARS {
                        faults.push(ActionFault::SsmParameterValue(crate::text::clip(name, 60)));
                    }
                }
            }
        }
        if count > SSM_PARAMETER_VALUES {
            faults.push(ActionFault::SsmParameterValues {
                name: crate::text::clip(name, 60),
                count,
            });
        }
    }
}

/// How many levels of objects and arrays `value` nests (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// The name inside a value that is exactly `${name}`.
fn placeholder(value: &str) -> Option<&str> {
    value.strip_prefix("${").and_then(|v| v.strip_suffix('}'))
}

/// What an SSM parameter value may name: a value that is exactly `${name}` is replaced by what the
/// execution knows (a list placeholder by one value per server that has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    ExecutionId,
    PlanId,
    IsDrill,
    WaveNumber,
    WaveName,
    InstanceIds,
    PrivateIps,
    Hostnames,
}

impl Placeholder {
    const KNOWN: &'static str = "${executionId}, ${planId}, ${isDrill}, ${waveNumber}, ${waveName}, ${instanceIds}, ${privateIps}, ${hostnames}";

    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "executionId" => Self::ExecutionId,
            "planId" => Self::PlanId,
            "isDrill" => Self::IsDrill,
            "waveNumber" => Self::WaveNumber,
            "waveName" => Self::WaveName,
            "instanceIds" => Self::InstanceIds,
            "privateIps" => Self::PrivateIps,
            "hostnames" => Self::Hostnames,
            _ => return None,
        })
    }

    const fn name(self) -> &'static str {
        match self {
            Self::ExecutionId => "executionId",
            Self::PlanId => "planId",
            Self::IsDrill => "isDrill",
            Self::WaveNumber => "waveNumber",
            Self::WaveName => "waveName",
            Self::InstanceIds => "instanceIds",
            Self::PrivateIps => "privateIps",
            Self::Hostnames => "hostnames",
        }
    }

    /// One value per server that has one.
    fn is_list(self) -> bool {
        matches!(self, Self::InstanceIds | Self::PrivateIps | Self::Hostnames)
    }

    fn values(self, execution: &Execution, wave: &Wave) -> Vec<String> {
        let each = |f: fn(&ServerStatus) -> Option<String>| -> Vec<String> {
            wave.server_statuses.iter().filter_map(f).collect()
        };
        match self {
            Self::ExecutionId => vec![execution.id().to_string()],
            Self::PlanId => vec![execution.header.plan_id.to_string()],
            Self::IsDrill => vec![execution.header.is_drill.to_string()],
            Self::WaveNumber => vec![wave.wave_number.to_string()],
            // SSM takes no empty value: an unnamed wave is "wave N".
            Self::WaveName => vec![wave
                .wave_name
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("wave {}", wave.wave_number))],
            Self::InstanceIds => each(|s| s.instance_id.as_ref().map(ToString::to_string)),
            Self::PrivateIps => each(|s| s.private_ip.clone()),
            Self::Hostnames => each(|s| s.hostname.clone()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What an action is given
// ---------------------------------------------------------------------------------------------

/// The event a Lambda action is invoked with: the execution, the wave, its servers (with their
/// instance ids, private IPs and hostnames, as far as known) and the action's own `parameters`.
pub fn lambda_input(
    execution: &Execution,
    wave: &Wave,
    action: &WaveAction,
    attempt: u32,
) -> Value {
    let servers: Vec<Value> = wave
        .server_statuses
        .iter()
        .map(|s| {
            let mut server = Map::new();
            server.insert("sourceServerId".into(), json!(s.source_server_id));
            let mut put = |key: &str, value: Option<String>| {
                if let Some(v) = value {
                    server.insert(key.into(), Value::String(v));
                }
            };
            put("serverName", s.server_name.clone());
            put("launchStatus", Some(s.launch_status.as_str().to_owned()));
            put(
                "instanceId",
                s.instance_id.as_ref().map(ToString::to_string),
            );
            put("privateIp", s.private_ip.clone());
            put("hostname", s.hostname.clone());
            Value::Object(server)
        })
        .collect();
    json!({
        "executionId": execution.id(),
        "planId": execution.header.plan_id,
        "isDrill": execution.header.is_drill,
        "waveNumber": wave.wave_number,
        "waveName": wave.wave_name,
        "action": {
            "name": action.name,
            "when": action.when,
            "attempt": attempt,
        },
        "servers": servers,
        "parameters": action.parameters.clone().unwrap_or_else(|| json!({})),
    })
}

/// An SSM action's parameters with every `${...}` replaced: each parameter is a list of strings,
/// as StartAutomationExecution takes them.
pub fn automation_parameters(
    execution: &Execution,
    wave: &Wave,
    action: &WaveAction,
) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Some(object) = action.parameters.as_ref().and_then(Value::as_object) else {
        return out;
    };
    for (name, value) in object {
        let raw: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        let mut values = Vec::new();
        for v in raw {
            match placeholder(v).and_then(Placeholder::parse) {
                Some(p) => values.extend(p.values(execution, wave)),
                None => values.push(v.to_owned()),
            }
        }
        out.insert(name.clone(), values);
    }
    out
}

/// The idempotency token of one run of one action (SSM's `ClientToken`: a UUID): the same for
/// every start of that run, whichever act sends it, and different for every other run.
pub fn client_token(execution: &Execution, wave: u32, action: &str, attempt: u32) -> String {
    let name = format!("drs-waves/{}/{wave}/{action}/{attempt}", execution.id());
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// The tags an automation execution carries (SSM allows 5 at start): who started it and for what.
pub fn automation_tags(
    execution: &Execution,
    wave: u32,
    action: &str,
    attempt: u32,
) -> Vec<(String, String)> {
    vec![
        ("drs-waves:executionId".into(), execution.id().to_string()),
        ("drs-waves:waveNumber".into(), wave.to_string()),
        ("drs-waves:action".into(), action.to_owned()),
        ("drs-waves:attempt".into(), attempt.to_string()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

/// How a run ended, as act or poll found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    Succeeded {
        summary: Option<String>,
    },
    Failed {
        error: String,
    },
    TimedOut {
        error: String,
    },
    /// Given up because the execution was cancelled: FAILED, and the wave left to the cancel.
    Abandoned {
        error: String,
    },
}

/// What a Lambda action's synchronous answer means: a function error fails it; an answer that is
/// not JSON fails it, quoting the answer's first bytes; `{"ok": false, ...}` fails it with its
/// `message` (or `error`); anything else succeeds, its summary the answer itself, clipped.
pub fn judge_lambda_answer(function_error: Option<&str>, payload: &[u8]) -> RunEnd {
    let text = String::from_utf8_lossy(payload);
    let first_bytes = || crate::text::clip(text.trim(), SUMMARY_MAX_CHARS);
    if let Some(kind) = function_error {
        let message = serde_json::from_slice::<Value>(payload)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_else(first_bytes);
        return RunEnd::Failed {
            error: crate::text::clip(
                &format!("function error ({kind}): {message}"),
                SUMMARY_MAX_CHARS,
            ),
        };
    }
    let answer: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(_) => {
            return RunEnd::Failed {
                error: format!("the function's answer is not JSON: {}", first_bytes()),
            }
        }
    };
    if answer.get("ok") == Some(&Value::Bool(false)) {
        let why = ["message", "error", "reason"]
            .iter()
            .find_map(|k| answer.get(*k).and_then(Value::as_str))
            .map_or_else(|| answer.to_string(), str::to_owned);
        return RunEnd::Failed {
            error: crate::text::clip(
                &format!("the function answered ok: false: {why}"),
                SUMMARY_MAX_CHARS,
            ),
        };
    }
    RunEnd::Succeeded {
        summary: Some(crate::text::clip(&answer.to_string(), SUMMARY_MAX_CHARS)),
    }
}

/// What an automation execution's status says (GetAutomationExecution's
/// `AutomationExecutionStatus`): `Some(true)` succeeded, `Some(false)` ended without succeeding,
/// `None` still running (or waiting for an approval), including any status SSM adds later.
pub fn automation_ended(status: &str) -> Option<bool> {
    match status {
        "Success" | "CompletedWithSuccess" => Some(true),
        "Failed"
        | "TimedOut"
        | "Cancelled"
        | "Rejected"
        | "CompletedWithFailure"
        | "Exited"
        | "ChangeCalendarOverrideRejected" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Which action runs when
// ---------------------------------------------------------------------------------------------

impl Wave {
    /// The latest run of the action named `name`.
    pub fn latest_run(&self, name: &str) -> Option<&ActionRun> {
        self.action_runs.iter().rev().find(|r| r.name == name)
    }

    /// The run of this wave that is RUNNING, if any (actions run one at a time).
    pub fn running_action(&self) -> Option<&ActionRun> {
        self.action_runs
            .iter()
            .find(|r| r.status == ActionStatus::Running)
    }

    /// The first action of `when` that is not done, with its latest run: the one that runs next
    /// (or runs now, when that run is RUNNING).
    pub fn next_action_of(
        &self,
        when: ActionWhen,
    ) -> Option<(usize, &WaveAction, Option<&ActionRun>)> {
        self.actions.iter().enumerate().find_map(|(i, a)| {
            let latest = self.latest_run(&a.name);
            let done = latest.is_some_and(|r| r.passes(a.on_failure));
            (a.when == when && !done).then_some((i, a, latest))
        })
    }

    /// The action whose failed run failed this wave (ACTION_FAILED): what a retry runs again.
    pub fn failed_action(&self) -> Option<(&WaveAction, &ActionRun)> {
        self.actions.iter().find_map(|a| {
            let run = self.latest_run(&a.name)?;
            (a.on_failure == ActionOnFailure::Fail && run.status.is_failure()).then_some((a, run))
        })
    }
}

/// Where an execution's actions stand: what `nextAction` and act need to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionStep {
    /// A run is under way (an invocation in progress, a runbook followed by poll).
    Running { wave: u32 },
    /// A run waits to be sent (again) while the execution is PAUSED: an operator's pause holds
    /// it (nothing new starts), and the pause comes first.
    Held { wave: u32 },
    /// act must take this action now: its first run, the next attempt after a retry, or a run to
    /// send again (refused for now, or a runbook start whose answer was lost).
    Due {
        wave: u32,
        index: usize,
        when: ActionWhen,
        /// The run to send again, when there is one (its attempt is kept).
        resend: bool,
    },
}

/// The action step of `execution` now, if any. A RUNNING run comes first (whatever the execution's
/// status, so that what was started is followed to its end); otherwise, when nothing is in flight
/// and the execution is POLLING or PENDING: the AFTER_COMPLETE actions of a COMPLETED wave whose
/// instances EC2 has described (or whose details grace has passed), then — when `before_launch`
/// — the BEFORE_LAUNCH actions of the next PENDING wave.
pub fn action_step(
    execution: &Execution,
    now: Timestamp,
    claim_grace_secs: u64,
    details_grace_secs: u64,
    before_launch: bool,
) -> Option<ActionStep> {
    for wave in &execution.waves {
        if let Some(run) = wave.running_action() {
            let action = wave.actions.iter().position(|a| a.name == run.name);
            if execution.status() == ExecutionStatus::Paused
                && action.is_some_and(|i| awaits_send(&wave.actions[i], run))
            {
                return Some(ActionStep::Held {
                    wave: wave.wave_number,
                });
            }
            let resend =
                action.is_some_and(|i| resend_due(&wave.actions[i], run, now, claim_grace_secs));
            return Some(match action {
                Some(index) if resend => ActionStep::Due {
                    wave: wave.wave_number,
                    index,
                    when: run.when,
                    resend: true,
                },
                _ => ActionStep::Running {
                    wave: wave.wave_number,
                },
            });
        }
    }
    if !matches!(
        execution.status(),
        ExecutionStatus::Polling | ExecutionStatus::Pending
    ) || execution.in_flight().next().is_some()
    {
        return None;
    }
    let due = |wave: &Wave, when: ActionWhen| {
        wave.next_action_of(when)
            .map(|(index, _, _)| ActionStep::Due {
                wave: wave.wave_number,
                index,
                when,
                resend: false,
            })
    };
    if let Some(step) = execution
        .waves
        .iter()
        .filter(|w| w.status == WaveStatus::Completed)
        .find_map(|w| due(w, ActionWhen::AfterComplete))
    {
        let ActionStep::Due { wave, .. } = step else {
            return Some(step);
        };
        let described = execution.wave(wave).is_some_and(|w| {
            !w.server_statuses.iter().any(crate::rules::lacks_details)
                || w.end_time
                    .is_none_or(|end| now.secs_since(end) > details_grace_secs)
        });
        // EC2 has not described every instance yet: the action waits for its IPs and hostnames.
        return Some(if described {
            step
        } else {
            ActionStep::Running { wave }
        });
    }
    if before_launch {
        if let Some(next) = execution.next_pending() {
            return due(next, ActionWhen::BeforeLaunch);
        }
    }
    None
}

/// Whether a RUNNING run waits to be sent (again) rather than runs: refused for now, or a runbook
/// start with no answer yet.
pub fn awaits_send(action: &WaveAction, run: &ActionRun) -> bool {
    run.status == ActionStatus::Running
        && (run.retry_time.is_some()
            || (action.kind == ActionKind::SsmAutomation && run.automation_execution_id.is_none()))
}

/// Whether a RUNNING run should be sent again now: it was refused for now and its backoff is over;
/// or it is a runbook start with no answer recorded whose act has held it past the claim grace
/// (sending it again with the same client token starts nothing new). A Lambda run without an answer
/// is never sent again: poll fails it once its time is up.
fn resend_due(action: &WaveAction, run: &ActionRun, now: Timestamp, claim_grace_secs: u64) -> bool {
    if let Some(at) = run.retry_time {
        return now >= at;
    }
    action.kind == ActionKind::SsmAutomation
        && run.automation_execution_id.is_none()
        && now.secs_since(run.claimed_time) > claim_grace_secs
}

/// Whether a RUNNING run has run past its time: its timeout, and for a Lambda run being invoked
/// (no backoff pending) the grace in which its invoker records the answer.
pub fn run_overdue(action: &WaveAction, run: &ActionRun, now: Timestamp) -> bool {
    let limit = match action.kind {
        ActionKind::Lambda if run.retry_time.is_none() => {
            action.timeout_seconds + ANSWER_GRACE_SECS
        }
        _ => action.timeout_seconds,
    };
    run.status == ActionStatus::Running && now.secs_since(run.start_time) > limit
}

/// Records `end` on the RUNNING run `attempt` of action `name`; when it fails an action whose
/// policy is FAIL, the wave fails with it (ACTION_FAILED). Returns the wave status the change
/// leads to, or `None` when there is no such RUNNING run (someone recorded it first).
pub fn settle_run(
    wave: &mut Wave,
    name: &str,
    attempt: u32,
    end: &RunEnd,
    at: Timestamp,
) -> Option<WaveStatus> {
    let on_failure = wave.actions.iter().find(|a| a.name == name)?.on_failure;
    let run = wave
        .action_runs
        .iter_mut()
        .find(|r| r.name == name && r.attempt == attempt && r.status == ActionStatus::Running)?;
    run.end_time = Some(at);
    run.retry_time = None;
    run.refusals = 0;
    let (status, error) = match end {
        RunEnd::Succeeded { summary } => {
            run.summary.clone_from(summary);
            (ActionStatus::Succeeded, None)
        }
        RunEnd::Failed { error } | RunEnd::Abandoned { error } => {
            (ActionStatus::Failed, Some(error))
        }
        RunEnd::TimedOut { error } => (ActionStatus::TimedOut, Some(error)),
    };
    let abandoned = matches!(end, RunEnd::Abandoned { .. });
    run.status = status;
    run.error = error.map(|e| crate::text::clip(e, SUMMARY_MAX_CHARS));
    let when = run.when;
    if status.is_failure() && on_failure == ActionOnFailure::Fail && !abandoned {
        wave.failure_reason = Some(crate::model::WaveFailure::ActionFailed);
        wave.status_message = Some(crate::text::clip(
            &format!(
                "{} action {name} {} (attempt {attempt}): {}",
                when.as_str(),
                status,
                error.map_or("", String::as_str)
            ),
            crate::rules::REASON_MAX_CHARS * 2,
        ));
        if wave.end_time.is_none() {
            wave.end_time = Some(at);
        }
        return Some(WaveStatus::Failed);
    }
    Some(wave.status)
}

#[cfg(test)]
mod tests;
