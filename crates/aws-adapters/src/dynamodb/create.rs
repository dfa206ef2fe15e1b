//! `create`: the header and every wave, guarded by the header's absence.

use std::ops::Range;

use execution_core::model::Execution;
use execution_core::ports::StoreError;

use super::codec;
use super::expression::Expression;
use super::write::sized;
use super::{DynamoDbStore, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS};

impl DynamoDbStore {
    /// One transaction when the execution fits (header Put `attribute_not_exists` + every wave);
    /// otherwise waves in chunks, each guarded by a ConditionCheck that the header is absent, and
    /// the header last. Wave Puts are unconditional: the header guard decides, and leftovers of an
    /// interrupted create are overwritten.
    pub(super) async fn create_items(&self, execution: &Execution) -> Result<(), StoreError> {
        let id = execution.id();
        let header = sized(
            codec::header_item(&execution.header, execution.waves.len())?,
            "header",
        )?;
        let waves = execution
            .waves
            .iter()
            .map(|w| sized(codec::wave_item(id, w)?, &format!("wave {}", w.wave_number)))
            .collect::<Result<Vec<_>, _>>()?;
        let sizes: Vec<usize> = waves.iter().map(codec::item_size).collect();
        let chunks = create_chunks(codec::item_size(&header), &sizes);
        let last = chunks.len() - 1;
        for (i, range) in chunks.into_iter().enumerate() {
            let mut actions = waves[range]
                .iter()
                .map(|w| self.put(w.clone(), None))
                .collect::<Result<Vec<_>, _>>()?;
            actions.push(if i == last {
                self.put(header.clone(), Some(Expression::absent()))?
            } else {
                self.condition_check(id, Expression::absent())?
            });
            self.transact(actions).await?;
        }
        Ok(())
    }
}

/// Splits a create's waves into transactions: each leaves one action for the header (its Put, or a
/// check that it is absent) and stays under the transaction's item and byte limits. Always at
/// least one chunk (the header's), possibly with no waves.
fn create_chunks(header_bytes: usize, wave_bytes: &[usize]) -> Vec<Range<usize>> {
    let max_waves = MAX_TRANSACTION_ITEMS - 1;
    let budget = MAX_TRANSACTION_BYTES.saturating_sub(header_bytes);
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &size) in wave_bytes.iter().enumerate() {
        if i > start && (i - start == max_waves || bytes + size > budget) {
            chunks.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    chunks.push(start..wave_bytes.len());
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_of_99_waves_creates_in_one_transaction() {
        assert_eq!(create_chunks(500, &[16_000; 99]), vec![0..99]);
        assert_eq!(create_chunks(500, &[]), vec![0..0]);
    }

    #[test]
    fn chunks_respect_item_and_byte_limits() {
        assert_eq!(create_chunks(500, &[100; 150]), vec![0..99, 99..150]);
        let big = [400 * 1024; 25];
        let chunks = create_chunks(1000, &big);
        assert!(chunks.len() > 2, "{chunks:?}");
        for c in &chunks {
            assert!(
                big[c.clone()].iter().sum::<usize>() + 1000 <= MAX_TRANSACTION_BYTES,
                "{c:?}"
            );
        }
        assert_eq!(chunks.first().map(|c| c.start), Some(0));
        assert_eq!(chunks.last().map(|c| c.end), Some(25));
        assert!(chunks.windows(2).all(|w| w[0].end == w[1].start));
    }
}
