//! Every simulated service call is counted by API, and any API can be scripted to answer its next
//! calls with throttling or a 5xx (before acting), to lose its answer after acting, or to take a
//! fixed time.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use execution_core::ports::ServiceError;
use serde::Serialize;

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
}

impl Api {
    pub const ALL: [Api; 11] = [
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

/// Call counts and per-call faults, shared by every simulated service.
#[derive(Debug, Default)]
pub struct Calls(std::sync::Mutex<CallState>);

#[derive(Debug, Default)]
struct CallState {
    counts: BTreeMap<Api, u64>,
    throttled: HashMap<Api, (u32, Option<Duration>)>,
    unavailable: HashMap<Api, u32>,
    lost: HashMap<Api, u32>,
    latency: Option<Duration>,
}

impl Calls {
    /// The next `calls` calls of `api` are throttled, with `retry_after` as the service's hint.
    pub fn throttle(&self, api: Api, calls: u32, retry_after: Option<Duration>) {
        lock(&self.0).throttled.insert(api, (calls, retry_after));
    }

    /// The next `calls` calls of `api` fail as a 5xx would.
    pub fn fail_with_5xx(&self, api: Api, calls: u32) {
        lock(&self.0).unavailable.insert(api, calls);
    }

    /// The next `calls` calls of `api` act, then their answer is lost (a timeout after the
    /// service acted): they fail as a 5xx would, with whatever they did done. DRS and EC2 calls
    /// only (the calls that go through the simulated world).
    pub fn lose_answers(&self, api: Api, calls: u32) {
        lock(&self.0).lost.insert(api, calls);
    }

    /// Every call waits this long (real time) before answering; `None` (the default) answers at once.
    pub fn set_latency(&self, latency: Option<Duration>) {
        lock(&self.0).latency = latency;
    }

    pub fn count(&self, api: Api) -> u64 {
        lock(&self.0).counts.get(&api).copied().unwrap_or(0)
    }

    /// Calls so far, by API (only APIs called at least once).
    pub fn counts(&self) -> BTreeMap<Api, u64> {
        lock(&self.0).counts.clone()
    }

    pub fn total(&self) -> u64 {
        lock(&self.0).counts.values().sum()
    }

    /// Counts one call of `api`, waits the scripted latency and answers with a scripted fault, if any.
    pub(crate) async fn enter(&self, api: Api) -> Result<(), ServiceError> {
        let (latency, fault) = {
            let mut s = lock(&self.0);
            *s.counts.entry(api).or_default() += 1;
            let fault = take_fault(&mut s, api);
            (s.latency, fault)
        };
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
        fault.map_or(Ok(()), Err)
    }

    /// Uses up one lost answer of `api`, if any is scripted: the error the caller gets in place of
    /// the answer.
    pub(crate) fn lose_answer(&self, api: Api) -> Option<ServiceError> {
        let mut s = lock(&self.0);
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
