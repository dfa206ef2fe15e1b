//! Benchmark 2: the bytes one poll writes and the DynamoDB write units they cost, beside what the
//! single-item design (the whole execution as one item, rewritten every poll) would cost.

use serde::Serialize;
use serde_json::json;

use crate::report::{verdict, Report};
use crate::shapes::{finished, Fixture, Moment, Shape, SHAPES};
use crate::sizes::{self, read_units, write_units, MAX_ITEM_BYTES};

/// What one poll wrote and what it costs on the executions table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PollWrites {
    pub waves_written: usize,
    /// Size of the wave items written.
    pub wave_bytes: usize,
    /// PutItem for one wave, a transaction (twice the units) for several.
    pub wave_units: u64,
    /// The `lastPolledTime` UpdateItem on the header (billed on the header's whole size).
    pub touch_units: u64,
    /// The status index entry the touch rewrites (`lastPolledTime` is projected into it).
    pub index_units: u64,
    /// Strongly consistent Query of every item of the execution.
    pub read_units: u64,
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

pub async fn measure(shape: Shape, moment: Moment) -> Result<PollWrites, String> {
    let f = Fixture::new(shape, moment).await?;
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
    let header =
        |e: &execution_core::model::Execution| sizes::header_item(&e.header, e.waves.len());
    Ok(PollWrites {
        waves_written: written.len(),
        wave_bytes: written.iter().map(|&(_, n)| n).sum(),
        wave_units: units * transaction,
        touch_units: touches * write_units(header(&before).max(header(&after))),
        index_units: touches,
        read_units: read_units(sizes::execution_items(&before)),
        single_item_bytes: sizes::single_item(&before).max(sizes::single_item(&after)),
    })
}

pub async fn run() -> Result<Report, String> {
    let mut report = Report::new(
        "writes",
        "2. Write units per poll",
        &[
            "execution",
            "poll",
            "waves written",
            "wave bytes",
            "wave WCU",
            "touch WCU (table + index)",
            "total WCU",
            "RCU (load)",
            "single item: size",
            "single item: WCU/poll",
            "target",
            "verdict",
        ],
    );
    let mut data = Vec::new();
    for shape in SHAPES {
        for moment in Moment::ALL {
            let w = measure(shape, moment).await?;
            let (target, met) = if moment == Moment::Steady {
                ("≤ 1 WCU", w.total_units() <= 1)
            } else {
                // Only the waves that changed (those in flight), nothing else.
                ("changed waves only", w.waves_written == shape.in_flight)
            };
            report.row(vec![
                shape.name.into(),
                moment.name().into(),
                w.waves_written.to_string(),
                w.wave_bytes.to_string(),
                w.wave_units.to_string(),
                format!("{} + {}", w.touch_units, w.index_units),
                w.total_units().to_string(),
                w.read_units.to_string(),
                format!("{:.1} KB", w.single_item_bytes as f64 / 1024.0),
                w.single_item_units()
                    .map_or_else(|| "impossible (> 400 KB)".into(), |u| u.to_string()),
                target.into(),
                verdict(met),
            ]);
            data.push(json!({
                "shape": shape, "moment": moment, "measured": w,
                "tableUnits": w.table_units(), "totalUnits": w.total_units(),
                "singleItemUnits": w.single_item_units(), "target": target, "met": met,
            }));
        }
    }
    report.note(
        "Sizes by DynamoDB's accounting of the items aws-adapters writes (crates/bench/src/sizes.rs, \
         checked against moto by crates/bench/tests/item_sizes.rs). WCU: 1 per KB per item, rounded \
         up, on the larger of the old and new item; several waves go in one TransactWriteItems (2×). \
         The touch is an UpdateItem of lastPolledTime, billed on the header's size (1 WCU), and \
         rewrites the status index entry (lastPolledTime is projected): 1 more WCU. A no-change poll \
         therefore costs 1 WCU on the table and 2 in all; the ≤ 1 target is judged on the total.",
    );
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
    async fn a_no_change_poll_writes_no_wave_and_a_launch_poll_only_the_changed_one() {
        let steady = measure(SHAPES[3], Moment::Steady).await.unwrap();
        assert_eq!((steady.waves_written, steady.wave_units), (0, 0));
        assert_eq!((steady.touch_units, steady.index_units), (1, 1));
        let end = sizes::single_item(&finished(SHAPES[3]).unwrap());
        assert!(
            end > MAX_ITEM_BYTES,
            "a finished 50 × 200 cannot be one item: {end}"
        );

        let launch = measure(SHAPES[3], Moment::Launch).await.unwrap();
        assert_eq!(launch.waves_written, 1);
        assert_eq!(launch.wave_units, write_units(launch.wave_bytes));
        // A described wave of 200, gzip-compressed: ~10 KB (docs/storage.md's budget is 24 KB).
        assert!(
            launch.wave_bytes > 8_000 && launch.wave_bytes < 24_000,
            "{launch:?}"
        );
    }
}
