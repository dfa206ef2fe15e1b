//! How the simulated DRS behaves: how long things take, and which faults it plays.

use std::collections::HashSet;

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
    /// A new recovery instance stays unknown to EC2 for this many DescribeInstances calls that ask for it.
    pub ec2_unknown_polls: u32,
    /// A new job is absent from this many DescribeJobs calls that ask for it.
    pub job_missing_polls: u32,
    /// DescribeJobs never names `recoveryInstanceID` in its participating servers.
    pub omit_recovery_instance_ids: bool,
}
