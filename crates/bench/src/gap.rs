//! Benchmark 8: the wave-boundary gap, from the end of the last server launch of wave n in DRS
//! (the exact time the simulator scheduled it) to the first StartRecovery of wave n+1 (its job's
//! creation, to the millisecond), over many seeded drills driven as the state machine drives
//! them: without DRS events (only the poll every 30 s sees the wave complete), and with DRS's
//! launch results delivered 1–3 s after each launch ends (advance launches the next wave), without
//! and with 50% of them lost. The plan has no pause and no wave action: what is measured is the
//! engine's own latency at the boundary.

use drs_sim::driver::{drive, DriverConfig};
use drs_sim::{EventConfig, Sim, SimConfig};
use execution_core::status::{ExecutionStatus, WaveStatus};
use serde_json::json;

use crate::report::{verdict, Report};
use crate::shapes::{plan, Shape};

/// Four waves of ten servers (one DRS job each), no pause, no action.
const SHAPE: Shape = Shape::new("4x10", 4, 10, 1);
/// The seeds of one case: every boundary of every run is one sample.
pub const SEEDS: u64 = 200;
/// With events, the median gap is at most this.
const TARGET_WITH_EVENTS_SECS: f64 = 5.0;
/// Without, the median is about half the poll interval (the wave completes at a uniformly random
/// moment between two polls): met within this share of it.
const TOLERANCE_WITHOUT: f64 = 0.2;

/// One way the boundaries are crossed.
#[derive(Debug, Clone, Copy)]
struct Case {
    name: &'static str,
    events: EventConfig,
}

const CASES: [Case; 3] = [
    Case {
        name: "events off (polling only)",
        events: EventConfig::off(),
    },
    Case {
        name: "events on, delay 1–3 s",
        events: EventConfig::on(),
    },
    Case {
        name: "events on, delay 1–3 s, 50% lost",
        events: EventConfig::on().with_loss(0.5),
    },
];

/// What the runs of one case measured.
#[derive(Debug, Default)]
struct Samples {
    /// Every boundary's gap, in milliseconds.
    gaps: Vec<i64>,
    /// Boundaries whose next wave an event launched.
    launched_by_event: u64,
    delivered: u64,
    lost: u64,
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 1) of sorted samples, in seconds.
fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

async fn measure(case: Case, seeds: u64, poll_interval_secs: u64) -> Result<Samples, String> {
    let plan = plan(SHAPE)?;
    if plan
        .waves
        .iter()
        .any(|w| w.pause_before_wave || !w.actions.is_empty())
    {
        return Err("the plan must have no pause and no wave action".into());
    }
    let mut samples = Samples::default();
    for seed in 0..seeds {
        let sim = Sim::new(SimConfig {
            seed,
            events: case.events,
            ..SimConfig::default()
        });
        let target = sim
            .create(&plan, Sim::execution_id_for_seed(seed))
            .await
            .map_err(|e| format!("seed {seed}: create: {e}"))?;
        let config = DriverConfig {
            poll_interval_secs,
            ..DriverConfig::default()
        };
        let outcome = drive(&sim, target, config, &mut ())
            .await
            .map_err(|e| format!("{}, seed {seed}: {e}", case.name))?;
        let e = &outcome.execution;
        let clean = e.status() == ExecutionStatus::Completed
            && e.waves
                .iter()
                .all(|w| w.status == WaveStatus::Completed && w.attempt == 1);
        if !clean {
            return Err(format!(
                "{}, seed {seed}: the drill ended {} (every wave should complete at once)",
                case.name,
                e.status()
            ));
        }
        let boundaries = sim.world.wave_boundaries(e.id());
        if boundaries.len() != SHAPE.waves - 1 {
            return Err(format!(
                "{}, seed {seed}: {} boundaries, expected {}",
                case.name,
                boundaries.len(),
                SHAPE.waves - 1
            ));
        }
        samples
            .gaps
            .extend(boundaries.iter().map(|b| b.gap_millis()));
        samples.launched_by_event += u64::from(outcome.events_launched);
        samples.delivered += u64::from(outcome.events_delivered);
        samples.lost += u64::from(outcome.events_lost);
    }
    samples.gaps.sort_unstable();
    Ok(samples)
}

pub async fn run(seeds: u64) -> Result<Report, String> {
    let poll_interval_secs = DriverConfig::default().poll_interval_secs;
    let half_poll = poll_interval_secs as f64 / 2.0;
    let mut report = Report::new(
        "gap",
        format!(
            "8. Wave-boundary gap: last server launched in DRS → next wave's first StartRecovery ({seeds} seeds × {} boundaries of a {} × {} plan, poll every {poll_interval_secs} s)",
            SHAPE.waves - 1,
            SHAPE.waves,
            SHAPE.servers_per_wave
        ),
        &[
            "case",
            "boundaries",
            "launched by an event",
            "median s",
            "p95 s",
            "max s",
            "target",
            "verdict",
        ],
    );
    let mut data = Vec::new();
    for case in CASES {
        let s = measure(case, seeds, poll_interval_secs).await?;
        let (median, p95) = (percentile(&s.gaps, 0.5), percentile(&s.gaps, 0.95));
        let max = percentile(&s.gaps, 1.0);
        let mean = s.gaps.iter().sum::<i64>() as f64 / s.gaps.len().max(1) as f64 / 1000.0;
        let (target, met) = if case.events.enabled {
            (
                format!("median ≤ {TARGET_WITH_EVENTS_SECS} s"),
                median <= TARGET_WITH_EVENTS_SECS,
            )
        } else {
            (
                format!("median ≈ {half_poll} s (half the poll interval)"),
                (median - half_poll).abs() <= half_poll * TOLERANCE_WITHOUT,
            )
        };
        report.row(vec![
            case.name.into(),
            s.gaps.len().to_string(),
            s.launched_by_event.to_string(),
            format!("{median:.1}"),
            format!("{p95:.1}"),
            format!("{max:.1}"),
            target.clone(),
            verdict(met),
        ]);
        data.push(json!({
            "case": case.name,
            "events": {
                "enabled": case.events.enabled,
                "delayMinMillis": case.events.delay_min_millis,
                "delayMaxMillis": case.events.delay_max_millis,
                "loss": case.events.loss,
            },
            "seeds": seeds,
            "boundaries": s.gaps.len(),
            "launchedByEvent": s.launched_by_event,
            "eventsDelivered": s.delivered,
            "eventsLost": s.lost,
            "medianSeconds": median,
            "p95Seconds": p95,
            "maxSeconds": max,
            "meanSeconds": mean,
            "target": target,
            "met": met,
            "gapsMillis": s.gaps,
        }));
    }
    report.note(format!(
        "Each run is `drs_sim::driver::drive` (as the state machine: poll, launch, wait {poll_interval_secs} s) on a fresh \
         simulator with the default DRS timings (job start 15–45 s, server start 30–90 s, launch 6–9 min), seeds 0 to {}; \
         the gap of each boundary is `World::wave_boundaries`: the exact end of the wave's last server launch to the \
         creation of the next wave's first job, in simulated milliseconds. With events, each server's launch result is \
         delivered 1–3 s (uniform, to the millisecond, drawn from the seed, the job and the server) after its launch ended, \
         and handed to advance, which polls and launches the next wave; the workflow's polls go on as before. \
         \"launched by an event\" counts the boundaries whose next wave advance launched; the others the poll crossed.",
        seeds.saturating_sub(1)
    ));
    report.data = json!(data);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<i64> = (1..=20).map(|s| s * 1000).collect();
        assert_eq!(percentile(&sorted, 0.5), 10.0);
        assert_eq!(percentile(&sorted, 0.95), 19.0);
        assert_eq!(percentile(&sorted, 1.0), 20.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    /// A few seeds: with events the gaps are the delay, without they are the wait for a poll.
    #[tokio::test]
    async fn events_shorten_the_gap_to_the_delay() {
        let off = measure(CASES[0], 5, 30).await.unwrap();
        let on = measure(CASES[1], 5, 30).await.unwrap();
        assert_eq!((off.gaps.len(), on.gaps.len()), (15, 15));
        assert!(on.gaps.iter().all(|g| (0..=3_000).contains(g)), "{on:?}");
        assert!(off.gaps.iter().all(|g| (0..=30_000).contains(g)), "{off:?}");
        assert!(percentile(&off.gaps, 0.5) > percentile(&on.gaps, 0.5));
        assert_eq!((off.launched_by_event, off.delivered), (0, 0));
        assert!(on.launched_by_event >= 10, "{on:?}");
    }
}
