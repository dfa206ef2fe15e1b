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
    /// the creation's events); otherwise the first waves in chunks, each guarded by a
    /// ConditionCheck that the header is absent, and the header with the events and the last
    /// waves last (an execution is never without the event that created it). Wave Puts are
    /// unconditional: the header guard decides, and leftovers of an interrupted create are
    /// overwritten.
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
        if last_items > MAX_TRANSACTION_ITEMS || last_bytes > MAX_TRANSACTION_BYTES {
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

/// Splits a create's waves into transactions. The last holds the header's Put and the events
/// (`reserved_items`, `reserved_bytes`) and as many of the last waves as still fit, possibly none;
/// the waves before it go in transactions of at most 99 waves and a check that the header is
/// absent, each under the byte limit. Always at least one chunk (the header's).
fn create_chunks(
    reserved_items: usize,
    reserved_bytes: usize,
    wave_bytes: &[usize],
) -> Vec<Range<usize>> {
    let mut chunks = Vec::new();
    let mut room = (
        MAX_TRANSACTION_ITEMS.saturating_sub(reserved_items),
        MAX_TRANSACTION_BYTES.saturating_sub(reserved_bytes),
    );
    // From the last wave back: the header's transaction is filled first.
    let mut end = wave_bytes.len();
    loop {
        let (mut start, mut bytes) = (end, 0);
        while start > 0 && end - start < room.0 && bytes + wave_bytes[start - 1] <= room.1 {
            start -= 1;
            bytes += wave_bytes[start];
        }
        if start == end && !chunks.is_empty() {
            // Only a wave over the transaction's byte limit gets here (`sized` refuses it first):
            // a transaction of its own, which DynamoDB refuses.
            start -= 1;
        }
        chunks.push(start..end);
        if start == 0 {
            break;
        }
        end = start;
        room = (MAX_TRANSACTION_ITEMS - 1, MAX_TRANSACTION_BYTES);
    }
    chunks.reverse();
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `chunks` cover every wave once, in order, and each transaction keeps DynamoDB's limits: the
    /// last with the header and the events, the others with the check that the header is absent.
    fn assert_fit(reserved_items: usize, reserved_bytes: usize, waves: &[usize]) {
        let chunks = create_chunks(reserved_items, reserved_bytes, waves);
        assert_eq!(chunks.first().map(|c| c.start), Some(0), "{chunks:?}");
        assert_eq!(
            chunks.last().map(|c| c.end),
            Some(waves.len()),
            "{chunks:?}"
        );
        assert!(
            chunks.windows(2).all(|w| w[0].end == w[1].start),
            "{chunks:?}"
        );
        let last = chunks.len() - 1;
        for (i, c) in chunks.iter().enumerate() {
            let (items, bytes) = if i == last {
                (reserved_items, reserved_bytes)
            } else {
                (1, 0)
            };
            assert!(
                c.len() + items <= MAX_TRANSACTION_ITEMS,
                "{c:?} of {chunks:?}"
            );
            assert!(
                waves[c.clone()].iter().sum::<usize>() + bytes <= MAX_TRANSACTION_BYTES,
                "{c:?} of {chunks:?}"
            );
            assert!(i == last || !c.is_empty(), "{chunks:?}");
        }
    }

    #[test]
    fn a_plan_of_99_waves_and_its_event_create_in_two_transactions() {
        // Header + event + 99 waves is 101 items: the header's transaction takes 98 waves, the
        // first takes wave 0 and the check that the header is absent.
        assert_eq!(create_chunks(2, 900, &[16_000; 99]), vec![0..1, 1..99]);
        assert_fit(2, 900, &[16_000; 99]);
        // Without an event, header + 99 waves is one transaction of 100.
        assert_eq!(create_chunks(1, 500, &[16_000; 99]), vec![0..99]);
        assert_eq!(create_chunks(2, 900, &[]), vec![0..0]);
    }

    #[test]
    fn chunks_respect_item_and_byte_limits() {
        assert_eq!(create_chunks(1, 500, &[100; 150]), vec![0..51, 51..150]);
        assert_fit(1, 500, &[100; 150]);
        assert_fit(2, 900, &[100; 300]);
        let big = [400 * 1024; 25];
        assert_fit(1, 1000, &big);
        assert!(create_chunks(1, 1000, &big).len() > 2);
        // The header's transaction takes no wave when the reserved items leave no room.
        assert_eq!(
            create_chunks(MAX_TRANSACTION_ITEMS, 5000, &[100; 3]),
            vec![0..3, 3..3]
        );
        assert_fit(MAX_TRANSACTION_ITEMS, 5000, &[100; 3]);
        // Nor when its bytes leave no room for a wave (waves first, each under the limit).
        let reserved = MAX_TRANSACTION_BYTES - 100_000;
        assert_eq!(create_chunks(2, reserved, &[300_000; 3]), vec![0..3, 3..3]);
        assert_fit(2, reserved, &[300_000; 3]);
    }
}
