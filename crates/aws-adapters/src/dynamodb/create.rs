//! `create`: the header and every wave, guarded by the header's absence.

use std::ops::Range;

use execution_core::audit::AuditEvent;
use execution_core::model::Execution;
use execution_core::ports::{ServiceError, StoreError};

use super::codec;
use super::events::event_item;
use super::expression::Expression;
use super::write::sized;
use super::{DynamoDbStore, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS};

impl DynamoDbStore {
    /// One transaction when the execution fits (header Put `attribute_not_exists` + every wave +
    /// the creation's events); otherwise waves in chunks, each guarded by a ConditionCheck that
    /// the header is absent, and the header with the events last (an execution is never without
    /// the event that created it). Wave Puts are unconditional: the header guard decides, and
    /// leftovers of an interrupted create are overwritten.
    pub(super) async fn create_items(
        &self,
        execution: &Execution,
        events: &[AuditEvent],
    ) -> Result<(), StoreError> {
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
        let events = events
            .iter()
            .map(event_item)
            .collect::<Result<Vec<_>, _>>()?;
        let last_items = 1 + events.len();
        let last_bytes =
            codec::item_size(&header) + events.iter().map(codec::item_size).sum::<usize>();
        if last_items >= MAX_TRANSACTION_ITEMS || last_bytes > MAX_TRANSACTION_BYTES {
            return Err(StoreError::Service(ServiceError::Rejected(format!(
                "a create with {} events does not fit one transaction",
                events.len()
            ))));
        }
        let sizes: Vec<usize> = waves.iter().map(codec::item_size).collect();
        let chunks = create_chunks(last_items, last_bytes, &sizes);
        let last = chunks.len() - 1;
        for (i, range) in chunks.into_iter().enumerate() {
            let mut actions = waves[range]
                .iter()
                .map(|w| self.put(w.clone(), None))
                .collect::<Result<Vec<_>, _>>()?;
            if i == last {
                actions.push(self.put(header.clone(), Some(Expression::absent()))?);
                for e in &events {
                    actions.push(self.put(e.clone(), Some(Expression::absent()))?);
                }
            } else {
                actions.push(self.condition_check(id, Expression::absent())?);
            }
            self.transact(actions).await?;
        }
        Ok(())
    }
}

/// Splits a create's waves into transactions: each leaves room for the last one's `reserved_items`
/// (the header's Put and the events, or in the others a check that the header is absent) and
/// stays under the transaction's item and byte limits. Always at least one chunk (the header's),
/// possibly with no waves.
fn create_chunks(
    reserved_items: usize,
    reserved_bytes: usize,
    wave_bytes: &[usize],
) -> Vec<Range<usize>> {
    let max_waves = MAX_TRANSACTION_ITEMS - reserved_items.max(1);
    let budget = MAX_TRANSACTION_BYTES.saturating_sub(reserved_bytes);
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
        // The header and its creation event leave room for 98 waves in the first transaction.
        assert_eq!(create_chunks(2, 900, &[16_000; 99]), vec![0..98, 98..99]);
        assert_eq!(create_chunks(1, 500, &[16_000; 99]), vec![0..99]);
        assert_eq!(create_chunks(2, 900, &[]), vec![0..0]);
    }

    #[test]
    fn chunks_respect_item_and_byte_limits() {
        assert_eq!(create_chunks(1, 500, &[100; 150]), vec![0..99, 99..150]);
        let big = [400 * 1024; 25];
        let chunks = create_chunks(1, 1000, &big);
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
