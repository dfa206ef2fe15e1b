//! Benchmark 2: the bytes one poll writes and the DynamoDB write units they cost (on the table and
//! on the status index), beside what the single-item design (the whole execution as one item,
//! rewritten every poll) would cost; and what find pays per tick to read the poll marks back.

use execution_core::model::{Execution, HeldToken, PauseReason, Timestamp};
use execution_core::ports::{now, ExecutionStore, Touch, WorkflowMark};
use execution_core::status::ExecutionStatus;
use serde::Serialize;
use serde_json::json;

use crate::report::{verdict, Report};
use crate::shapes::{finished, Fixture, Moment, Shape, SHAPES};
use crate::sizes::{self, eventual_read_units, read_units, write_units, MAX_ITEM_BYTES};

/// The run the record names (the state machine's execution ARN).
const RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00";
/// The run that continued it as new.
const NEXT_RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00-c1";

/// Who sends the measured poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Poller {
    /// find (names no run): the touch writes the poll time.
    Find,
    /// The run the record names: the poll time and the run's.
    Run,
    /// A run the record does not name yet (one that continued as new, or a restart's): its first
    /// poll also writes the run, which the status index projects.
    NewRun,
}

impl Poller {
    pub const fn name(self) -> &'static str {
        match self {
            Self::Find => "find",
            Self::Run => "the recorded run",
            Self::NewRun => "a new run (first poll)",
        }
    }
}

/// The polls measured per shape: the no-change poll by each poller, then the two launches.
pub const CASES: [(Moment, Poller); 5] = [
    (Moment::Steady, Poller::Find),
    (Moment::Steady, Poller::Run),
    (Moment::Steady, Poller::NewRun),
    (Moment::Launch, Poller::Find),
    (Moment::LaunchLackingIds, Poller::Find),
];

/// What one poll wrote and what it costs on the executions table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PollWrites {
    pub waves_written: usize,
    /// Size of the wave items written.
    pub wave_bytes: usize,
    /// PutItem for one wave, a transaction (twice the units) for several.
    pub wave_units: u64,
    /// The header item's size (after the poll).
    pub header_bytes: usize,
    /// The touch's UpdateItem on the header (billed on the header's whole size).
    pub touch_units: u64,
    /// The status index entry the touch rewrites: only when an attribute the index projects
    /// changes (the run; the poll times are stored outside the projection).
    pub index_units: u64,
    /// Strongly consistent Query of every item of the execution.
    pub read_units: u64,
    /// find's read of this execution's poll marks, once per tick: an eventually consistent
    /// BatchGetItem of its header.
    pub find_read_units: f64,
    /// The whole execution as one item.
    pub single_item_bytes: usize,
}

impl PollWrites {
    pub fn table_units(&self) -> u64 {
        self.wave_units + self.touch_units
    }

    pub fn total_units(&self) -> u64 {
        self.table_units() + self.index_units
    }

    /// A single-item poll rewrites the whole item (an update is billed on the item's full size),
    /// plus the index entry; `None` when the item cannot exist (over 400 KB).
    pub fn single_item_units(&self) -> Option<u64> {
        (self.single_item_bytes <= MAX_ITEM_BYTES).then(|| write_units(self.single_item_bytes) + 1)
    }
}

pub async fn measure(shape: Shape, moment: Moment, poller: Poller) -> Result<PollWrites, String> {
    let mut f = Fixture::new(shape, moment).await?;
    if poller != Poller::Find {
        // The run the state machine started, as start records it.
        let id = f.request.target.execution_id;
        let started = Touch {
            polled_at: None,
            workflow: Some(WorkflowMark::started(RUN.into(), now(f.sim.clock.as_ref()))),
        };
        f.sim
            .store
            .touch(id, &started)
            .await
            .map_err(|e| format!("record the run: {e}"))?;
        let run = if poller == Poller::Run { RUN } else { NEXT_RUN };
        f.request.workflow_run = Some(run.into());
    }
    let before = f.stored()?;
    let touches = f.sim.store.counts().touches;
    f.poll().await.map_err(|e| format!("poll: {e}"))?;
    let after = f.stored()?;
    let touches = f.sim.store.counts().touches - touches;

    let id = after.id();
    let written: Vec<(usize, usize)> = before
        .waves
        .iter()
        .zip(&after.waves)
        .filter(|(old, new)| old.version != new.version)
        .map(|(old, new)| (sizes::wave_item(id, old), sizes::wave_item(id, new)))
        .collect();
    // A Put is billed on the larger of the item it replaces and the new one.
    let units: u64 = written.iter().map(|&(o, n)| write_units(o.max(n))).sum();
    let transaction = if written.len() > 1 { 2 } else { 1 };
    let header = |e: &Execution| sizes::header_item(&e.header, e.waves.len());
    // Only the touch writes the header here; it rewrites the index entry only when what the
    // index projects changed.
    let (entry_before, entry_after) = (
        sizes::index_entry(&before.header),
        sizes::index_entry(&after.header),
    );
    let index_units = if entry_before == entry_after {
        0
    } else {
        write_units(
            sizes::index_entry_size(&entry_before).max(sizes::index_entry_size(&entry_after)),
        )
    };
    Ok(PollWrites {
        waves_written: written.len(),
        wave_bytes: written.iter().map(|&(_, n)| n).sum(),
        wave_units: units * transaction,
        header_bytes: header(&after),
        touch_units: touches * write_units(header(&before).max(header(&after))),
        index_units,
        read_units: read_units(sizes::execution_items(&before)),
        find_read_units: eventual_read_units(header(&after)),
        single_item_bytes: sizes::single_item(&before).max(sizes::single_item(&after)),
    })
}

/// The largest header of a POLLING execution: a 255-character plan name (the most validation
/// lets through), the longest run ARN Step Functions makes (80-character state machine and
/// execution names), a restart's note and three restarts.
fn largest_polling_header_bytes() -> Result<usize, String> {
    let mut e = finished(SHAPES[3])?;
    let h = &mut e.header;
    let run = format!(
        "arn:aws:states:us-east-1:123456789012:execution:{}:{}",
        "s".repeat(80),
        "e".repeat(80)
    );
    let at = h.created_time.0 + 3600;
    h.status = ExecutionStatus::Polling;
    h.plan_name = Some("p".repeat(255));
    h.status_message = Some(format!(
        "the workflow run ended (FAILED); restarted by find as {}",
        "e".repeat(80)
    ));
    h.restarts = vec![
        Timestamp(at - 1800),
        Timestamp(at - 1200),
        Timestamp(at - 600),
    ];
    h.last_polled_time = Some(Timestamp(at));
    h.workflow_run = Some(run);
    h.workflow_polled_time = Some(Timestamp(at));
    Ok(sizes::header_item(&e.header, e.waves.len()))
}

/// The header of a PAUSED execution whose run waits on a task token of the longest length Step
/// Functions gives (2,048 characters): the largest header a touch rewrites.
fn paused_header_bytes() -> Result<usize, String> {
    let mut e = finished(SHAPES[3])?;
    let h = &mut e.header;
    h.status = ExecutionStatus::Paused;
    h.paused_before_wave = Some(25);
    h.pause_reason = Some(PauseReason::Operator);
    h.status_message = Some("paused by operator before wave 25".into());
    h.task_token = Some(HeldToken {
        token: execution_core::ids::TaskToken::parse(&"A".repeat(2048))
            .map_err(|e| e.to_string())?,
        release_pending: false,
    });
    h.last_polled_time = Some(Timestamp(h.created_time.0 + 3600));
    h.workflow_run = Some(RUN.into());
    h.workflow_polled_time = h.last_polled_time;
    Ok(sizes::header_item(&e.header, e.waves.len()))
}

pub async fn run() -> Result<Report, String> {
    let mut report = Report::new(
        "writes",
        "2. Write units per poll",
        &[
            "execution",
            "poll",
            "polled by",
            "waves written",
            "wave bytes",
            "wave WCU",
            "header bytes",
            "touch WCU (table + index)",
            "total WCU",
            "RCU (load)",
            "find RCU/tick (marks)",
            "single item: size",
            "single item: WCU/poll",
            "target",
            "verdict",
        ],
    );
    let mut data = Vec::new();
    for shape in SHAPES {
        for (moment, poller) in CASES {
            let w = measure(shape, moment, poller).await?;
            let (target, met) = match (moment, poller) {
                // A new run is a change of what the index projects: one index write, then none.
                (Moment::Steady, Poller::NewRun) => (
                    "index only when the run changes: 1 + 1",
                    (w.touch_units, w.index_units, w.waves_written) == (1, 1, 0),
                ),
                (Moment::Steady, _) => ("≤ 1 WCU", w.total_units() <= 1),
                // Only the waves that changed (those in flight), nothing else.
                _ => ("changed waves only", w.waves_written == shape.in_flight),
            };
            report.row(vec![
                shape.name.into(),
                moment.name().into(),
                poller.name().into(),
                w.waves_written.to_string(),
                w.wave_bytes.to_string(),
                w.wave_units.to_string(),
                w.header_bytes.to_string(),
                format!("{} + {}", w.touch_units, w.index_units),
                w.total_units().to_string(),
                w.read_units.to_string(),
                format!("{:.1}", w.find_read_units),
                format!("{:.1} KB", w.single_item_bytes as f64 / 1024.0),
                w.single_item_units()
                    .map_or_else(|| "impossible (> 400 KB)".into(), |u| u.to_string()),
                target.into(),
                verdict(met),
            ]);
            data.push(json!({
                "shape": shape, "moment": moment, "poller": poller, "measured": w,
                "tableUnits": w.table_units(), "totalUnits": w.total_units(),
                "singleItemUnits": w.single_item_units(), "target": target, "met": met,
            }));
        }
    }
    report.note(
        "Sizes by DynamoDB's accounting of the items aws-adapters writes (crates/bench/src/sizes.rs, \
         checked against moto by crates/bench/tests/item_sizes.rs). WCU: 1 per KB per item, rounded \
         up, on the larger of the old and new item; several waves go in one TransactWriteItems (2×). \
         The touch is an UpdateItem of the header's poll marks (polledTime, and the run's \
         workflowSeenTime), billed on the header's size; neither is projected into the status \
         index, so the index entry is rewritten (1 WCU) only when a projected attribute changes: \
         the run (workflowRun), on a new run's first poll. The ≤ 1 target is judged on the total, \
         table + index.",
    );
    let (largest, paused) = (largest_polling_header_bytes()?, paused_header_bytes()?);
    report.note(format!(
        "find reads the poll marks of every listed execution once per tick (every minute): an \
         eventually consistent BatchGetItem of its header, 0.5 RCU per header up to 4 KB, 100 \
         headers a call, besides the status index Query it always made. The largest POLLING \
         header (a 255-character plan name, the longest run ARN, a restart's note and three \
         restarts) is {largest} bytes: its touch costs {} WCU. A PAUSED execution holding a \
         2,048-character task token has a header of {paused} bytes: its run's heartbeat poll \
         (every 120 s) costs {} WCU on the table and none on the index, and find reads it for \
         {:.1} RCU.",
        write_units(largest),
        write_units(paused),
        eventual_read_units(paused),
    ));
    // The single item only grows: what it would be when every wave is described.
    let end: Vec<_> = SHAPES
        .iter()
        .map(|&shape| finished(shape).map(|e| (shape.name, sizes::single_item(&e))))
        .collect::<Result<_, _>>()?;
    report.note(format!(
        "At the end of each execution (every wave described) the single item would be: {}.",
        end.iter()
            .map(|(name, bytes)| {
                let fits = if *bytes > MAX_ITEM_BYTES {
                    "impossible"
                } else {
                    "fits"
                };
                format!("{name} {:.1} KB ({fits})", *bytes as f64 / 1024.0)
            })
            .collect::<Vec<_>>()
            .join(", ")
    ));
    report.data = json!({
        "polls": data,
        "singleItemAtEnd": end.iter().map(|(n, b)| json!({"shape": n, "bytes": b})).collect::<Vec<_>>(),
    });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_no_change_poll_writes_the_table_alone_and_a_launch_poll_only_the_changed_wave() {
        for poller in [Poller::Find, Poller::Run] {
            let steady = measure(SHAPES[3], Moment::Steady, poller).await.unwrap();
            assert_eq!((steady.waves_written, steady.wave_units), (0, 0));
            assert_eq!(
                (steady.touch_units, steady.index_units),
                (1, 0),
                "{poller:?}"
            );
            assert!(steady.header_bytes <= 1024, "{steady:?}");
            assert_eq!(steady.find_read_units, 0.5);
        }
        // A new run is written, and the index with it.
        let new_run = measure(SHAPES[3], Moment::Steady, Poller::NewRun)
            .await
            .unwrap();
        assert_eq!((new_run.touch_units, new_run.index_units), (1, 1));
        let end = sizes::single_item(&finished(SHAPES[3]).unwrap());
        assert!(
            end > MAX_ITEM_BYTES,
            "a finished 50 × 200 cannot be one item: {end}"
        );

        let launch = measure(SHAPES[3], Moment::Launch, Poller::Find)
            .await
            .unwrap();
        assert_eq!(launch.waves_written, 1);
        assert_eq!(launch.wave_units, write_units(launch.wave_bytes));
        assert_eq!(launch.index_units, 0);
        // A described wave of 200, gzip-compressed: ~10 KB (docs/storage.md's budget is 24 KB).
        assert!(
            launch.wave_bytes > 8_000 && launch.wave_bytes < 24_000,
            "{launch:?}"
        );
    }

    #[test]
    fn the_largest_polling_header_is_one_write_unit() {
        let bytes = largest_polling_header_bytes().unwrap();
        assert!(bytes > 600 && bytes <= 1024, "{bytes}");
    }

    #[test]
    fn a_paused_header_with_the_longest_token_is_a_few_kilobytes() {
        let bytes = paused_header_bytes().unwrap();
        assert!(bytes > 2048 && bytes < 4096, "{bytes}");
    }
}
