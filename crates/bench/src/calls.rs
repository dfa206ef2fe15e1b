//! Benchmark 1: every AWS call one poll makes, by API, against the targets.

use drs_sim::Api;
use execution_core::ports::{DRS_FILTER_MAX, EC2_FILTER_MAX};
use serde::Serialize;
use serde_json::json;

use crate::report::{verdict, Report};
use crate::shapes::{Fixture, Moment, Shape, SHAPES};

/// The calls of one poll, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PollCalls {
    /// Store loads (one DynamoDB Query, every page, on AWS).
    pub reads: u64,
    pub describe_jobs: u64,
    pub describe_recovery_instances: u64,
    pub describe_instances: u64,
    /// Wave items written.
    pub wave_writes: u64,
    /// `lastPolledTime` updates.
    pub touches: u64,
    /// Any other simulated API (StartRecovery, task tokens...): a poll should make none.
    pub other: u64,
}

impl PollCalls {
    /// What the issue asks of this poll (`touches` and `other` are not targets: 1 and 0 here).
    pub fn target(shape: Shape, moment: Moment) -> Self {
        let per_wave = |f: &dyn Fn(usize) -> bool| {
            (0..shape.servers_per_wave).filter(|&j| f(j)).count() * shape.in_flight
        };
        let instances = per_wave(&|j| moment.launched(j));
        let lacking = per_wave(&|j| moment.launched(j) && !moment.job_names_instance(j));
        Self {
            reads: 1,
            describe_jobs: 1,
            describe_recovery_instances: lacking.div_ceil(DRS_FILTER_MAX) as u64,
            describe_instances: instances.div_ceil(EC2_FILTER_MAX) as u64,
            wave_writes: if moment == Moment::Steady {
                0
            } else {
                shape.in_flight as u64
            },
            touches: 1,
            other: 0,
        }
    }
}

/// Runs the poll of `shape` at `moment` and counts what it called.
pub async fn measure(shape: Shape, moment: Moment) -> Result<PollCalls, String> {
    let f = Fixture::new(shape, moment).await?;
    let (calls, store) = (f.sim.calls.counts(), f.sim.store.counts());
    f.poll().await.map_err(|e| format!("poll: {e}"))?;
    let (calls_after, store_after) = (f.sim.calls.counts(), f.sim.store.counts());
    let called = |api: Api| calls_after.get(&api).unwrap_or(&0) - calls.get(&api).unwrap_or(&0);
    let counted = [
        Api::DescribeJobs,
        Api::DescribeRecoveryInstances,
        Api::DescribeInstances,
    ];
    Ok(PollCalls {
        reads: store_after.loads - store.loads,
        describe_jobs: called(Api::DescribeJobs),
        describe_recovery_instances: called(Api::DescribeRecoveryInstances),
        describe_instances: called(Api::DescribeInstances),
        wave_writes: store_after.wave_writes - store.wave_writes,
        touches: store_after.touches - store.touches,
        other: Api::ALL
            .into_iter()
            .filter(|a| !counted.contains(a))
            .map(called)
            .sum(),
    })
}

pub async fn run() -> Result<Report, String> {
    let mut report = Report::new(
        "calls",
        "1. Calls per poll, by API",
        &[
            "execution",
            "poll",
            "reads",
            "DescribeJobs",
            "DescribeRecoveryInstances",
            "DescribeInstances",
            "wave writes",
            "touch",
            "other",
            "target (reads/DJ/DRI/EC2/writes)",
            "verdict",
        ],
    );
    let mut data = Vec::new();
    for shape in SHAPES {
        for moment in Moment::ALL {
            let got = measure(shape, moment).await?;
            let want = PollCalls::target(shape, moment);
            let met = got == want;
            report.row(vec![
                shape.name.into(),
                moment.name().into(),
                got.reads.to_string(),
                got.describe_jobs.to_string(),
                got.describe_recovery_instances.to_string(),
                got.describe_instances.to_string(),
                got.wave_writes.to_string(),
                got.touches.to_string(),
                got.other.to_string(),
                format!(
                    "{}/{}/{}/{}/{}",
                    want.reads,
                    want.describe_jobs,
                    want.describe_recovery_instances,
                    want.describe_instances,
                    want.wave_writes
                ),
                verdict(met),
            ]);
            data.push(json!({"shape": shape, "moment": moment, "measured": got, "target": want, "met": met}));
        }
    }
    report.note(format!(
        "Counted by drs-sim (`Calls`, `MemoryStore::counts`) around one `ops::poll`. Targets: reads 1; \
         DescribeJobs 1 whatever the waves in flight; DescribeRecoveryInstances ceil(launched servers \
         whose job entry lacks the id / {DRS_FILTER_MAX}); DescribeInstances ceil(known instances / \
         {EC2_FILTER_MAX}); wave writes 0 when nothing changed, else the changed waves. `touch` \
         (lastPolledTime) runs on every poll.",
    ));
    report.data = json!(data);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(dj: u64, dri: u64, ec2: u64, writes: u64) -> PollCalls {
        PollCalls {
            reads: 1,
            describe_jobs: dj,
            describe_recovery_instances: dri,
            describe_instances: ec2,
            wave_writes: writes,
            touches: 1,
            other: 0,
        }
    }

    // The numbers are written out by hand so that a broken count or a broken target shows.
    #[tokio::test]
    async fn counts_the_calls_of_one_wave_of_ten() {
        let shape = SHAPES[0];
        // 5 of 10 launched and described: EC2 once, no DRI, nothing written.
        assert_eq!(
            measure(shape, Moment::Steady).await.unwrap(),
            calls(1, 0, 1, 0)
        );
        // All launch, servers 3 and 7 without an id in the job: one DRI batch, the wave written.
        assert_eq!(
            measure(shape, Moment::LaunchLackingIds).await.unwrap(),
            calls(1, 1, 1, 1)
        );
        assert_eq!(
            measure(shape, Moment::Launch).await.unwrap(),
            calls(1, 0, 1, 1)
        );
    }

    #[tokio::test]
    async fn five_waves_in_flight_share_one_describe_jobs_and_batch_the_rest() {
        // 1000 servers launch; 250 lack an id: two DRI batches of at most 200; five EC2 batches
        // of 200.
        let got = measure(SHAPES[2], Moment::LaunchLackingIds).await.unwrap();
        assert_eq!(got, calls(1, 2, 5, 5));
        assert_eq!(PollCalls::target(SHAPES[2], Moment::LaunchLackingIds), got);
        // Steady: the 500 launched of them, three batches.
        assert_eq!(
            measure(SHAPES[2], Moment::Steady).await.unwrap(),
            calls(1, 0, 3, 0)
        );
    }

    #[tokio::test]
    async fn settled_waves_of_a_long_execution_cost_nothing() {
        let got = measure(SHAPES[3], Moment::Steady).await.unwrap();
        assert_eq!(got, calls(1, 0, 1, 0));
    }
}
