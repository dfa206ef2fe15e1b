//! How the simulated DRS behaves: how long things take, and which faults it plays.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use execution_core::ids::SourceServerId;
use rand::Rng;

/// A duration drawn uniformly from `min_secs..=max_secs` (the seeded random spread).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    pub min_secs: u64,
    pub max_secs: u64,
}

impl Spread {
    pub const fn new(min_secs: u64, max_secs: u64) -> Self {
        Self { min_secs, max_secs }
    }

    pub const fn fixed(secs: u64) -> Self {
        Self {
            min_secs: secs,
            max_secs: secs,
        }
    }

    pub(crate) fn sample(self, rng: &mut impl Rng) -> i64 {
        let (lo, hi) = (
            self.min_secs.min(self.max_secs),
            self.max_secs.max(self.min_secs),
        );
        i64::try_from(rng.random_range(lo..=hi)).unwrap_or(i64::MAX)
    }
}

/// How long a StartRecovery job takes, stage by stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timings {
    /// Job PENDING → STARTED, from StartRecovery.
    pub job_start: Spread,
    /// Job STARTED → a server's IN_PROGRESS (conversion and launch begin).
    pub server_start: Spread,
    /// A server's IN_PROGRESS → LAUNCHED (or FAILED).
    pub server_launch: Spread,
    /// Every server settled → job COMPLETED.
    pub job_complete_lag_secs: u64,
}

impl Default for Timings {
    /// Roughly a DRS drill of small servers: 7 to 11 minutes from StartRecovery to launched.
    fn default() -> Self {
        Self {
            job_start: Spread::new(15, 45),
            server_start: Spread::new(30, 90),
            server_launch: Spread::new(360, 540),
            job_complete_lag_secs: 20,
        }
    }
}

/// Whether DRS jobs move on with the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progression {
    /// Jobs stay exactly as they are (the `invoke` world: what the file says is what DRS says).
    Static,
    /// Jobs progress with simulated time.
    Timed(Timings),
}

/// Faults of the DRS and EC2 world; per-call faults (throttling, 5xx) are scripted on
/// [`crate::Calls`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultScript {
    /// These servers end FAILED in every job that launches them.
    pub failing_servers: HashSet<SourceServerId>,
    /// These servers end FAILED in the first N attempts of their wave (the value), then launch: a
    /// retry that succeeds.
    pub flaky_servers: HashMap<SourceServerId, u32>,
    /// A job started for these servers does not list them among its participating servers; it
    /// completes without them.
    pub omitted_servers: HashSet<SourceServerId>,
    /// The account's "Max source servers in a single Job" quota (L-B827C881, not adjustable):
    /// StartRecovery for more servers is refused, and asking again will not help. `None`: only
    /// the API's own limit of 200 holds.
    pub job_server_quota: Option<u32>,
    /// The next StartRecovery calls are refused with `ServiceQuotaExceededException` (concurrent
    /// jobs, or servers in all jobs): a refusal that clears on its own.
    pub quota_refusals: Refusals,
    /// The next StartRecovery calls are refused with `ConflictException` (a server is still in
    /// another job): a refusal that clears on its own.
    pub conflict_refusals: Refusals,
    /// A new recovery instance stays unknown to EC2 for this many DescribeInstances calls that ask for it.
    pub ec2_unknown_polls: u32,
    /// A new job is absent from this many DescribeJobs calls that ask for it.
    pub job_missing_polls: u32,
    /// DescribeJobs never names `recoveryInstanceID` in its participating servers.
    pub omit_recovery_instance_ids: bool,
}

/// Refusals of StartRecovery that clear on their own: the next `calls` calls are refused. DRS names
/// no retry time for a quota or conflict refusal; `retry_after_secs` plays one that it would.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    pub calls: u32,
    pub retry_after_secs: Option<u64>,
}

impl Refusals {
    pub const fn new(calls: u32, retry_after_secs: Option<u64>) -> Self {
        Self {
            calls,
            retry_after_secs,
        }
    }

    /// Uses up one refusal, if any is left: the retry hint it carries.
    pub(crate) fn take(&mut self) -> Option<Option<Duration>> {
        (self.calls > 0).then(|| {
            self.calls -= 1;
            self.retry_after_secs.map(Duration::from_secs)
        })
    }
}

impl FaultScript {
    /// Whether `server` ends FAILED in attempt `attempt` (1 for the first) of its wave.
    pub fn fails(&self, server: &SourceServerId, attempt: u32) -> bool {
        self.failing_servers.contains(server)
            || self
                .flaky_servers
                .get(server)
                .is_some_and(|first_attempts| attempt <= *first_attempts)
    }
}
