//! Benchmark 3: poll's wall time when every AWS call (and every store call) takes L, against the
//! critical path of 4·L: read → DRS jobs ∥ recovery instances → EC2 → write.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::report::{median, ms, verdict, Report};
use crate::shapes::{Fixture, Moment, Shape};

/// 10, 200 and 1000 servers in flight.
const SHAPES: [Shape; 3] = [
    Shape::new("10 servers (1x10)", 1, 10, 1),
    Shape::new("200 servers (1x200)", 1, 200, 1),
    Shape::new("1000 servers (5x200)", 5, 200, 5),
];
const TARGET_RATIO: f64 = 1.25;

/// The median wall time of `runs` polls, each on a fresh fixture with latency `l` per call.
pub async fn measure(
    shape: Shape,
    moment: Moment,
    l: Duration,
    runs: usize,
) -> Result<Duration, String> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let f = Fixture::new(shape, moment).await?;
        f.sim.set_latency(Some(l));
        let start = Instant::now();
        f.poll().await.map_err(|e| format!("poll: {e}"))?;
        samples.push(start.elapsed());
    }
    Ok(median(samples))
}

pub async fn run(l: Duration, runs: usize) -> Result<Report, String> {
    let mut report = Report::new(
        "latency",
        format!(
            "3. Poll latency at the critical path (L = {} ms per call, median of {runs})",
            ms(l)
        ),
        &[
            "servers in flight",
            "poll",
            "wall ms",
            "wall / 4·L",
            "target",
            "verdict",
        ],
    );
    let mut data = Vec::new();
    for shape in SHAPES {
        for moment in Moment::ALL {
            let wall = measure(shape, moment, l, runs).await?;
            let ratio = wall.as_secs_f64() / (4.0 * l.as_secs_f64());
            let met = ratio <= TARGET_RATIO;
            report.row(vec![
                shape.name.into(),
                moment.name().into(),
                ms(wall),
                format!("{ratio:.2}"),
                format!("≤ {TARGET_RATIO}"),
                verdict(met),
            ]);
            data.push(json!({
                "shape": shape, "moment": moment, "latencyMs": l.as_secs_f64() * 1000.0,
                "runs": runs, "wallMs": wall.as_secs_f64() * 1000.0, "ratio": ratio, "met": met,
            }));
        }
    }
    report.note(
        "drs-sim's `Sim::set_latency(L)`: every DRS, EC2 and store call sleeps L (tokio timer, ~1 ms \
         granularity) before answering. A steady poll's chain is load → DescribeJobs → \
         DescribeInstances → touch; a launch poll's adds the wave commit, beside the touch. When job \
         entries lack recovery instance ids, poll calls DescribeRecoveryInstances after \
         DescribeJobs (it asks only for the servers the job reports launched without an id), so \
         that chain is 5·L.",
    );
    report.data = json!(data);
    Ok(report)
}
