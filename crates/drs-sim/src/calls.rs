//! Every simulated service call is counted by API, and any API can be scripted to answer its next
//! calls with throttling or a 5xx (before acting), to lose its answer after acting, to crash its
//! caller after acting, or to take a fixed time. The calls of wave actions (a function invoked, a
//! runbook started) are also kept one by one ([`ActionCall`]), so that a test can tell how often
//! an action ran.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use execution_core::model::Timestamp;
use execution_core::ports::ServiceError;
use serde::Serialize;
use tokio::sync::Notify;

use crate::lock;

/// The simulated service APIs, as their services name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Api {
    DescribeJobs,
    DescribeRecoveryInstances,
    StartRecovery,
    /// DescribeJobs filtered by the launch's tags (the launch's crash recovery).
    FindTaggedJob,
    DescribeInstances,
    SendTaskSuccess,
    /// find's Lambda Invoke of poll.
    InvokePoll,
    DescribeSourceServers,
    DescribeJobLogItems,
    TerminateRecoveryInstances,
    /// DescribeJobs searched for the TERMINATE job of some recovery instances (cleanup's crash
    /// recovery).
    FindTerminateJob,
    /// Lambda Invoke (RequestResponse) of a wave action's function.
    Invoke,
    /// SSM StartAutomationExecution of a wave action's runbook.
    StartAutomationExecution,
    GetAutomationExecution,
    StopAutomationExecution,
}

impl Api {
    pub const ALL: [Api; 15] = [
        Self::DescribeJobs,
        Self::DescribeRecoveryInstances,
        Self::StartRecovery,
        Self::FindTaggedJob,
        Self::DescribeInstances,
        Self::SendTaskSuccess,
        Self::InvokePoll,
        Self::DescribeSourceServers,
        Self::DescribeJobLogItems,
        Self::TerminateRecoveryInstances,
        Self::FindTerminateJob,
        Self::Invoke,
        Self::StartAutomationExecution,
        Self::GetAutomationExecution,
        Self::StopAutomationExecution,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::DescribeJobs => "DescribeJobs",
            Self::DescribeRecoveryInstances => "DescribeRecoveryInstances",
            Self::StartRecovery => "StartRecovery",
            Self::FindTaggedJob => "FindTaggedJob",
            Self::DescribeInstances => "DescribeInstances",
            Self::SendTaskSuccess => "SendTaskSuccess",
            Self::InvokePoll => "InvokePoll",
            Self::DescribeSourceServers => "DescribeSourceServers",
            Self::DescribeJobLogItems => "DescribeJobLogItems",
            Self::TerminateRecoveryInstances => "TerminateRecoveryInstances",
            Self::FindTerminateJob => "FindTerminateJob",
            Self::Invoke => "Invoke",
            Self::StartAutomationExecution => "StartAutomationExecution",
            Self::GetAutomationExecution => "GetAutomationExecution",
            Self::StopAutomationExecution => "StopAutomationExecution",
        }
    }

    /// Case-insensitive, so `describejobs` on a command line works too.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(raw))
    }
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One call of a wave action's service (Lambda Invoke, SSM StartAutomationExecution) as the
/// simulated service received it, and what it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionCall {
    pub api: Api,
    /// The function (Invoke) or the document (StartAutomationExecution).
    pub target: String,
    /// The execution, wave, action and attempt the call names (the function's payload, the
    /// automation's tags), when it names them.
    pub execution_id: Option<String>,
    pub wave_number: Option<u32>,
    pub action: Option<String>,
    pub attempt: Option<u32>,
    /// SSM's idempotency token.
    pub client_token: Option<String>,
    /// When the service received the call.
    pub at: Timestamp,
    pub effect: CallEffect,
}

/// What one call of a wave action's service did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CallEffect {
    /// The function ran (its answer may still have been lost, or its caller crashed).
    Ran,
    /// A new automation execution started, with this id.
    Started(String),
    /// The client token had started this automation already: nothing new started.
    Repeated(String),
    /// Nothing ran: a scripted fault, throttling, or a refusal (the reason).
    Refused(String),
}

impl CallEffect {
    /// Whether the call ran the function or started a runbook.
    pub fn ran(&self) -> bool {
        matches!(self, Self::Ran | Self::Started(_))
    }
}

/// Call counts and per-call faults, shared by every simulated service.
#[derive(Debug, Default)]
pub struct Calls {
    state: std::sync::Mutex<CallState>,
    /// Told when a call crashed its caller ([`Calls::crash_after`]).
    crash: Notify,
}

#[derive(Debug, Default)]
struct CallState {
    counts: BTreeMap<Api, u64>,
    throttled: HashMap<Api, (u32, Option<Duration>)>,
    unavailable: HashMap<Api, u32>,
    lost: HashMap<Api, u32>,
    crash_after: HashMap<Api, u32>,
    latency: Option<Duration>,
    action_calls: Vec<ActionCall>,
}

impl Calls {
    /// The next `calls` calls of `api` are throttled, with `retry_after` as the service's hint.
    pub fn throttle(&self, api: Api, calls: u32, retry_after: Option<Duration>) {
        lock(&self.state)
            .throttled
            .insert(api, (calls, retry_after));
    }

    /// The next `calls` calls of `api` fail as a 5xx would.
    pub fn fail_with_5xx(&self, api: Api, calls: u32) {
        lock(&self.state).unavailable.insert(api, calls);
    }

    /// The next `calls` calls of `api` act, then their answer is lost (a timeout after the
    /// service acted): they fail as a 5xx would, with whatever they did done. DRS, EC2, Lambda
    /// and SSM calls only (the calls that go through the simulated world).
    pub fn lose_answers(&self, api: Api, calls: u32) {
        lock(&self.state).lost.insert(api, calls);
    }

    /// The next `calls` calls of `api` act, then their caller crashes (a Lambda that dies right
    /// after the call, before it can record anything): the call never answers, and
    /// [`Calls::crashed`] resolves. Whoever runs the calling operation must race it against
    /// `crashed` (the drill driver does, as the state machine sees its Lambda die) and drop it.
    pub fn crash_after(&self, api: Api, calls: u32) {
        lock(&self.state).crash_after.insert(api, calls);
    }

    /// Resolves when a call crashed its caller ([`Calls::crash_after`]), once per crash.
    pub async fn crashed(&self) {
        self.crash.notified().await;
    }

    /// Every call of a wave action's service so far, in order.
    pub fn action_calls(&self) -> Vec<ActionCall> {
        lock(&self.state).action_calls.clone()
    }

    /// The calls that ran action `action`'s attempt `attempt` (a function invoked, a runbook
    /// started; a repeated token starts nothing and is not counted).
    pub fn action_runs(&self, action: &str, attempt: u32) -> usize {
        lock(&self.state)
            .action_calls
            .iter()
            .filter(|c| {
                c.action.as_deref() == Some(action) && c.attempt == Some(attempt) && c.effect.ran()
            })
            .count()
    }

    /// Every call waits this long (real time) before answering; `None` (the default) answers at once.
    pub fn set_latency(&self, latency: Option<Duration>) {
        lock(&self.state).latency = latency;
    }

    pub fn count(&self, api: Api) -> u64 {
        lock(&self.state).counts.get(&api).copied().unwrap_or(0)
    }

    /// Calls so far, by API (only APIs called at least once).
    pub fn counts(&self) -> BTreeMap<Api, u64> {
        lock(&self.state).counts.clone()
    }

    pub fn total(&self) -> u64 {
        lock(&self.state).counts.values().sum()
    }

    /// Counts one call of `api`, waits the scripted latency and answers with a scripted fault, if any.
    pub(crate) async fn enter(&self, api: Api) -> Result<(), ServiceError> {
        let (latency, fault) = {
            let mut s = lock(&self.state);
            *s.counts.entry(api).or_default() += 1;
            let fault = take_fault(&mut s, api);
            (s.latency, fault)
        };
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
        fault.map_or(Ok(()), Err)
    }

    pub(crate) fn record_action_call(&self, call: ActionCall) {
        lock(&self.state).action_calls.push(call);
    }

    /// After `api` acted: when a crash is scripted for it, the caller dies here (this never
    /// returns, and [`Calls::crashed`] resolves).
    pub(crate) async fn crash_point(&self, api: Api) {
        let crash = {
            let mut s = lock(&self.state);
            s.crash_after
                .get_mut(&api)
                .filter(|left| **left > 0)
                .map(|left| *left -= 1)
                .is_some()
        };
        if crash {
            self.crash.notify_one();
            std::future::pending::<()>().await;
        }
    }

    /// Uses up one lost answer of `api`, if any is scripted: the error the caller gets in place of
    /// the answer.
    pub(crate) fn lose_answer(&self, api: Api) -> Option<ServiceError> {
        let mut s = lock(&self.state);
        let left = s.lost.get_mut(&api).filter(|left| **left > 0)?;
        *left -= 1;
        Some(ServiceError::unavailable(format!(
            "simulated: {api} acted, but its answer was lost (timed out)"
        )))
    }
}

fn take_fault(s: &mut CallState, api: Api) -> Option<ServiceError> {
    if let Some((left, retry_after)) = s.throttled.get_mut(&api).filter(|(left, _)| *left > 0) {
        *left -= 1;
        return Some(ServiceError::Throttled {
            retry_after: *retry_after,
            message: format!("simulated: {api} rate exceeded"),
        });
    }
    if let Some(left) = s.unavailable.get_mut(&api).filter(|left| **left > 0) {
        *left -= 1;
        return Some(ServiceError::unavailable(format!(
            "simulated: {api} answered 503"
        )));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scripted_faults_hit_exactly_the_next_n_calls_of_their_api() {
        let calls = Calls::default();
        calls.throttle(Api::DescribeJobs, 2, Some(Duration::from_secs(3)));
        calls.fail_with_5xx(Api::DescribeInstances, 1);
        let first = calls.enter(Api::DescribeJobs).await.unwrap_err();
        assert_eq!(
            first,
            ServiceError::Throttled {
                retry_after: Some(Duration::from_secs(3)),
                message: "simulated: DescribeJobs rate exceeded".into()
            }
        );
        assert!(
            calls.enter(Api::DescribeRecoveryInstances).await.is_ok(),
            "other APIs are not affected"
        );
        assert!(calls.enter(Api::DescribeJobs).await.is_err());
        assert!(calls.enter(Api::DescribeJobs).await.is_ok());
        assert!(matches!(
            calls.enter(Api::DescribeInstances).await,
            Err(ServiceError::Unavailable { .. })
        ));
        assert!(calls.enter(Api::DescribeInstances).await.is_ok());
        assert_eq!(calls.count(Api::DescribeJobs), 3);
        assert_eq!(calls.total(), 6);
        assert_eq!(calls.count(Api::StartRecovery), 0);
    }

    #[test]
    fn api_names_parse_case_insensitively() {
        for api in Api::ALL {
            assert_eq!(Api::parse(api.name()), Some(api));
        }
        assert_eq!(Api::parse("describejobs"), Some(Api::DescribeJobs));
        assert_eq!(Api::parse("Nope"), None);
    }
}
