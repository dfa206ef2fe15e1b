//! The services of wave actions: Lambda functions that answer as their scripts say, taking their
//! time on the simulated clock, and SSM automation executions that run with it (Pending →
//! InProgress → Success, or as scripted), started once per client token.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use execution_core::actions::automation_ended;
use execution_core::model::Timestamp;
use execution_core::ports::{AutomationRequest, AutomationState, InvokeAnswer, ServiceError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use super::{State, World};
use crate::calls::{ActionCall, Api, CallEffect};
use crate::config::{ActionOutcome, ActionScript, ActionScripts};
use crate::lock;

/// The status GetAutomationExecution answers for a runbook scripted to answer garbage: none SSM
/// documents.
pub const GARBAGE_STATUS: &str = "SimulatedUnknownStatus";
/// What a function scripted to answer garbage answers: not JSON.
pub const GARBAGE_PAYLOAD: &[u8] = b"\xde\xad\xbe\xef simulated garbage: not JSON";

/// An SSM automation execution as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Automation {
    /// `AutomationExecutionId`.
    pub id: String,
    /// `DocumentName`.
    pub document: String,
    pub parameters: BTreeMap<String, Vec<String>>,
    /// The client token it was started with (SSM does not report it; the simulator keeps it to
    /// answer a repeated start).
    pub client_token: Option<String>,
    pub tags: Vec<(String, String)>,
    /// `ExecutionStartTime`.
    pub started: Timestamp,
    /// `AutomationExecutionStatus`, as SSM words it.
    pub status: String,
    /// `FailureMessage`.
    pub failure_message: Option<String>,
    /// `ExecutionEndTime`.
    pub ended: Option<Timestamp>,
    /// When it runs and how it ends, in a world that moves with the clock; `None`: it stands as
    /// it is.
    pub(crate) schedule: Option<Schedule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    runs_at: i64,
    ends_at: i64,
    end: End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Success,
    Failed(String),
    /// A status SSM does not document, from the time it runs until it is stopped.
    Garbage,
}

impl Automation {
    /// An automation standing still in the given status (a world loaded from a file).
    pub fn fixed(id: String, document: String, status: String, started: Timestamp) -> Self {
        Self {
            id,
            document,
            parameters: BTreeMap::new(),
            client_token: None,
            tags: Vec::new(),
            started,
            status,
            failure_message: None,
            ended: None,
            schedule: None,
        }
    }

    fn advance(&mut self, now: i64) {
        let Some(schedule) = &self.schedule else {
            return;
        };
        if self.status == "Pending" && now >= schedule.runs_at {
            self.status = match schedule.end {
                End::Garbage => GARBAGE_STATUS.to_owned(),
                _ => "InProgress".to_owned(),
            };
        }
        if now >= schedule.ends_at && self.status == "InProgress" {
            match &schedule.end {
                End::Success => self.status = "Success".to_owned(),
                End::Failed(message) => {
                    self.status = "Failed".to_owned();
                    self.failure_message = Some(message.clone());
                }
                End::Garbage => return,
            }
            self.ended = Some(Timestamp(schedule.ends_at));
            self.schedule = None;
        }
    }
}

/// The wave actions' part of the world.
#[derive(Debug)]
pub(crate) struct ActionState {
    scripts: ActionScripts,
    /// Its own random numbers, so that a plan's actions do not change its DRS timings.
    rng: ChaCha8Rng,
    /// Calls received by target, `function NAME` or `document NAME` (what scripted throttling
    /// counts).
    calls: HashMap<String, u32>,
    /// Runs by target, keyed as `calls` (what a script's `firstRuns` counts).
    runs: HashMap<String, u32>,
    automations: Vec<Automation>,
}

impl ActionState {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            scripts: ActionScripts::default(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0x6163_7469_6f6e_7321),
            calls: HashMap::new(),
            runs: HashMap::new(),
            automations: Vec::new(),
        }
    }

    pub(crate) fn advance(&mut self, now: i64) {
        for a in &mut self.automations {
            a.advance(now);
        }
    }

    /// Counts a call of `target` (a key of [`Self::calls`]); `Some` (the refusal) while its
    /// script throttles it.
    fn throttled(&mut self, target: String, script: &ActionScript, what: &str) -> Option<String> {
        let calls = self.calls.entry(target).or_default();
        *calls += 1;
        (*calls <= script.throttled_calls).then(|| format!("simulated: {what}"))
    }

    /// Counts a run of `target`: how it ends.
    fn run(&mut self, target: String, script: &ActionScript) -> ActionOutcome {
        let runs = self.runs.entry(target).or_default();
        *runs += 1;
        script.outcome_of(*runs)
    }

    /// One synchronous invocation: how long it took, what it answered, and what it did.
    fn invoke(
        &mut self,
        function: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> (u64, Result<InvokeAnswer, ServiceError>, CallEffect) {
        let script = self
            .scripts
            .functions
            .get(function)
            .cloned()
            .unwrap_or_default();
        let key = format!("function {function}");
        if let Some(message) = self.throttled(
            key.clone(),
            &script,
            &format!("TooManyRequestsException: Rate exceeded for function {function}"),
        ) {
            return (
                0,
                Err(ServiceError::Throttled {
                    retry_after: None,
                    message: message.clone(),
                }),
                CallEffect::Refused(message),
            );
        }
        let outcome = self.run(key, &script);
        if outcome == ActionOutcome::Reject {
            let message = format!(
                "ResourceNotFoundException: {}",
                script.message_or(&format!("Function not found: {function}"))
            );
            return (
                0,
                Err(ServiceError::Rejected(message.clone())),
                CallEffect::Refused(message),
            );
        }
        let took = script.duration_seconds.unwrap_or_else(|| {
            u64::try_from(self.scripts.function_duration.sample(&mut self.rng)).unwrap_or(0)
        });
        if took > timeout.as_secs() {
            let error = ServiceError::unavailable(format!(
                "simulated: {function} did not answer within {} s (the invocation timed out; the function may still be running)",
                timeout.as_secs()
            ));
            return (timeout.as_secs(), Err(error), CallEffect::Ran);
        }
        let message = |default: &str| script.message_or(default);
        let answer = match outcome {
            ActionOutcome::Succeed => InvokeAnswer {
                function_error: None,
                payload: script
                    .answer
                    .clone()
                    .unwrap_or_else(|| {
                        let servers = serde_json::from_slice::<Value>(payload)
                            .ok()
                            .and_then(|p| p.get("servers").and_then(Value::as_array).map(Vec::len))
                            .unwrap_or(0);
                        json!({"ok": true, "servers": servers})
                    })
                    .to_string()
                    .into_bytes(),
            },
            ActionOutcome::Fail => InvokeAnswer {
                function_error: Some("Unhandled".to_owned()),
                payload: json!({
                    "errorType": "Error",
                    "errorMessage": message("simulated: the function failed"),
                })
                .to_string()
                .into_bytes(),
            },
            ActionOutcome::NotOk => InvokeAnswer {
                function_error: None,
                payload:
                    json!({"ok": false, "message": message("simulated: the check did not pass")})
                        .to_string()
                        .into_bytes(),
            },
            ActionOutcome::Garbage | ActionOutcome::Reject => InvokeAnswer {
                function_error: None,
                payload: GARBAGE_PAYLOAD.to_vec(),
            },
        };
        (took, Ok(answer), CallEffect::Ran)
    }

    /// One StartAutomationExecution at `now`; `timed`: the automation runs with the clock.
    fn start(
        &mut self,
        request: &AutomationRequest,
        now: Timestamp,
        timed: bool,
    ) -> (Result<String, ServiceError>, CallEffect) {
        let token = &request.client_token;
        if let Some(first) = self
            .automations
            .iter()
            .find(|a| a.client_token.as_ref() == Some(token))
        {
            if first.document == request.document && first.parameters == request.parameters {
                return (Ok(first.id.clone()), CallEffect::Repeated(first.id.clone()));
            }
            let message = format!(
                "IdempotentParameterMismatch: client token {token} started automation {} with other parameters",
                first.id
            );
            return (
                Err(ServiceError::Rejected(message.clone())),
                CallEffect::Refused(message),
            );
        }
        let document = &request.document;
        let script = self
            .scripts
            .documents
            .get(document)
            .cloned()
            .unwrap_or_default();
        let key = format!("document {document}");
        if let Some(message) = self.throttled(
            key.clone(),
            &script,
            "AutomationExecutionLimitExceededException: the account runs as many automations as it may",
        ) {
            return (
                Err(ServiceError::Throttled {
                    retry_after: None,
                    message: message.clone(),
                }),
                CallEffect::Refused(message),
            );
        }
        let outcome = self.run(key, &script);
        if outcome == ActionOutcome::Reject {
            let message = format!(
                "InvalidDocument: {}",
                script.message_or(&format!("document {document} does not exist"))
            );
            return (
                Err(ServiceError::Rejected(message.clone())),
                CallEffect::Refused(message),
            );
        }
        // A world loaded from a file draws the same numbers on every load: an id it holds is
        // drawn again.
        let id = loop {
            let id = uuid::Builder::from_random_bytes(self.rng.random())
                .into_uuid()
                .to_string();
            if !self.automations.iter().any(|a| a.id == id) {
                break id;
            }
        };
        let schedule = timed.then(|| {
            let runs_at = now.secs() + self.scripts.automation_start.sample(&mut self.rng);
            let took = script.duration_seconds.map_or_else(
                || self.scripts.automation_duration.sample(&mut self.rng),
                |d| i64::try_from(d).unwrap_or(i64::MAX),
            );
            let failed = || script.message_or("simulated: a step of the runbook failed");
            Schedule {
                runs_at,
                ends_at: now.secs().saturating_add(took).max(runs_at),
                end: match outcome {
                    ActionOutcome::Succeed | ActionOutcome::Reject => End::Success,
                    ActionOutcome::Fail | ActionOutcome::NotOk => End::Failed(failed()),
                    ActionOutcome::Garbage => End::Garbage,
                },
            }
        });
        let mut automation = Automation {
            id: id.clone(),
            document: document.clone(),
            parameters: request.parameters.clone(),
            client_token: Some(token.clone()),
            tags: request.tags.clone(),
            started: now,
            status: "Pending".to_owned(),
            failure_message: None,
            ended: None,
            schedule,
        };
        automation.advance(now.secs());
        self.automations.push(automation);
        (Ok(id.clone()), CallEffect::Started(id))
    }

    /// The scripts less what the calls so far used up: the throttled calls made, and the runs
    /// of `firstRuns` made.
    fn remaining(&self) -> ActionScripts {
        let used = |kind: &str, scripts: &BTreeMap<String, ActionScript>| {
            scripts
                .iter()
                .map(|(target, script)| {
                    let key = format!("{kind} {target}");
                    let calls = self.calls.get(&key).copied().unwrap_or(0);
                    let runs = self.runs.get(&key).copied().unwrap_or(0);
                    let mut left = script.clone();
                    left.throttled_calls = left.throttled_calls.saturating_sub(calls);
                    left.first_runs = left.first_runs.map(|n| n.saturating_sub(runs));
                    (target.clone(), left)
                })
                .collect()
        };
        ActionScripts {
            functions: used("function", &self.scripts.functions),
            documents: used("document", &self.scripts.documents),
            ..self.scripts.clone()
        }
    }

    fn state_of(&self, id: &str) -> Option<AutomationState> {
        self.automations
            .iter()
            .find(|a| a.id == id)
            .map(|a| AutomationState {
                status: a.status.clone(),
                failure_message: a.failure_message.clone(),
            })
    }

    fn stop(&mut self, id: &str, now: Timestamp) -> Result<(), ServiceError> {
        let a = self
            .automations
            .iter_mut()
            .find(|a| a.id == id)
            .ok_or_else(|| {
                ServiceError::Rejected(format!(
                    "AutomationExecutionNotFoundException: no automation execution {id}"
                ))
            })?;
        if automation_ended(&a.status).is_none() {
            a.status = "Cancelled".to_owned();
            a.failure_message = Some("stopped (StopAutomationExecution)".to_owned());
            a.ended = Some(now);
            a.schedule = None;
        }
        Ok(())
    }
}

/// A call of `api` on `target` received at `at`, naming no action yet.
fn call_of(api: Api, target: &str, at: Timestamp) -> ActionCall {
    ActionCall {
        api,
        target: target.to_owned(),
        execution_id: None,
        wave_number: None,
        action: None,
        attempt: None,
        client_token: None,
        at,
        effect: CallEffect::Ran,
    }
}

fn number(v: Option<&Value>) -> Option<u32> {
    v.and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

impl World {
    /// Replaces how the wave actions' functions and runbooks behave; runs from now on follow it.
    pub fn script_actions(&self, change: impl FnOnce(&mut ActionScripts)) {
        change(&mut lock(&self.state).actions.scripts);
    }

    /// Every automation execution SSM knows, in the order they started, as they stand at the
    /// clock's time.
    pub fn automations(&self) -> Vec<Automation> {
        let mut s = lock(&self.state);
        s.advance(self.clock.now().secs());
        s.actions.automations.clone()
    }

    /// The actions' scripts as the calls so far left them: what they still throttle, and the
    /// runs of `firstRuns` still to come.
    pub fn action_scripts(&self) -> ActionScripts {
        lock(&self.state).actions.remaining()
    }

    pub fn add_automation(&self, automation: Automation) {
        lock(&self.state).actions.automations.push(automation);
    }

    /// Lambda Invoke: counted and faulted as every call, then the function runs for its time on
    /// the simulated clock (at most `timeout`) and answers.
    pub(crate) async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<InvokeAnswer, ServiceError> {
        let mut call = call_of(Api::Invoke, function, self.clock.now());
        if let Ok(p) = serde_json::from_slice::<Value>(payload) {
            call.execution_id = p
                .get("executionId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            call.wave_number = number(p.get("waveNumber"));
            call.action = p
                .pointer("/action/name")
                .and_then(Value::as_str)
                .map(str::to_owned);
            call.attempt = number(p.pointer("/action/attempt"));
        }
        if let Err(e) = self.calls.enter(Api::Invoke).await {
            call.effect = CallEffect::Refused(e.to_string());
            self.calls.record_action_call(call);
            return Err(e);
        }
        let (took, answer, effect) = {
            let mut s = lock(&self.state);
            s.advance(self.clock.now().secs());
            s.actions.invoke(function, payload, timeout)
        };
        call.effect = effect;
        self.calls.record_action_call(call);
        self.clock.advance_secs(took);
        self.calls.crash_point(Api::Invoke).await;
        match self.calls.lose_answer(Api::Invoke) {
            Some(lost) => Err(lost),
            None => answer,
        }
    }

    /// StartAutomationExecution: idempotent on the client token.
    pub(crate) async fn start_automation(
        &self,
        request: &AutomationRequest,
    ) -> Result<String, ServiceError> {
        let now = self.clock.now();
        let mut call = call_of(Api::StartAutomationExecution, &request.document, now);
        let tag = |key: &str| {
            request
                .tags
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        call.execution_id = tag("drs-waves:executionId");
        call.wave_number = tag("drs-waves:waveNumber").and_then(|v| v.parse().ok());
        call.action = tag("drs-waves:action");
        call.attempt = tag("drs-waves:attempt").and_then(|v| v.parse().ok());
        call.client_token = Some(request.client_token.clone());
        if let Err(e) = self.calls.enter(Api::StartAutomationExecution).await {
            call.effect = CallEffect::Refused(e.to_string());
            self.calls.record_action_call(call);
            return Err(e);
        }
        let (answer, effect) = {
            let mut s = lock(&self.state);
            s.advance(now.secs());
            let timed = matches!(s.progression, crate::config::Progression::Timed(_));
            s.actions.start(request, now, timed)
        };
        call.effect = effect;
        self.calls.record_action_call(call);
        self.calls.crash_point(Api::StartAutomationExecution).await;
        match self.calls.lose_answer(Api::StartAutomationExecution) {
            Some(lost) => Err(lost),
            None => answer,
        }
    }
}

impl State {
    pub(crate) fn automation(&self, id: &str) -> Option<AutomationState> {
        self.actions.state_of(id)
    }

    pub(crate) fn stop_automation(&mut self, id: &str, now: Timestamp) -> Result<(), ServiceError> {
        self.actions.stop(id, now)
    }

    pub(crate) fn set_action_scripts(&mut self, scripts: ActionScripts) {
        self.actions.scripts = scripts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timed_automation_runs_then_ends() {
        let mut a = Automation::fixed("a".into(), "doc".into(), "Pending".into(), Timestamp(0));
        a.schedule = Some(Schedule {
            runs_at: 5,
            ends_at: 50,
            end: End::Failed("boom".into()),
        });
        a.advance(4);
        assert_eq!(a.status, "Pending");
        a.advance(5);
        assert_eq!(a.status, "InProgress");
        a.advance(60);
        assert_eq!(
            (a.status.as_str(), a.failure_message.as_deref(), a.ended),
            ("Failed", Some("boom"), Some(Timestamp(50)))
        );
    }
}
