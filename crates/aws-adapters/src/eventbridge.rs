//! `Notifier` on EventBridge PutEvents: each notice one entry on the stack's bus, `Source`
//! [`audit::SOURCE`], `DetailType` its kind's, `Detail` its JSON.
//!
//! PutEvents takes at most [`MAX_ENTRIES_PER_CALL`] entries and less than
//! [`MAX_REQUEST_BYTES`] of them (EventBridge API Reference, PutEvents; User Guide, "Calculating
//! PutEvents event entry size"): notices are sent in as few calls as that allows, in order. A
//! call can succeed and still refuse entries (`FailedEntryCount`): that is an error too, so the
//! caller publishes the notices again (consumers de-duplicate on `notificationId`).

use async_trait::async_trait;
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use aws_sdk_eventbridge::Client;
use execution_core::audit::{self, Notice};
use execution_core::ports::{Notifier, ServiceError};

use crate::errors::{build_error, by_code, classify};

/// Entries per PutEvents call (the API's `Entries`: 1 to 10 items).
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// The entries of one PutEvents call must total less than 256 KB.
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

const WHAT: &str = "EventBridge PutEvents";

/// What EventBridge counts of an entry: the UTF-8 bytes of `Source`, `DetailType` and `Detail`
/// (no `Time`, no `Resources` are sent).
pub fn entry_size(detail_type: &str, detail: &str) -> usize {
    audit::SOURCE.len() + detail_type.len() + detail.len()
}

#[derive(Debug, Clone)]
pub struct EventBridgeNotifier {
    client: Client,
    bus: String,
}

impl EventBridgeNotifier {
    /// Publishes on the bus named `bus` (a name or an ARN).
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// The notifier of a deployed stack: a client from `sdk`, the bus `EVENT_BUS_NAME` names.
    pub fn from_settings(
        sdk: &aws_config::SdkConfig,
        settings: &crate::Settings,
    ) -> Result<Self, crate::ConfigError> {
        Ok(Self::new(Client::new(sdk), settings.require_event_bus()?))
    }

    pub fn bus(&self) -> &str {
        &self.bus
    }

    async fn put(&self, batch: &[(String, String, &str)]) -> Result<(), ServiceError> {
        let entries: Vec<PutEventsRequestEntry> = batch
            .iter()
            .map(|(detail_type, detail, _)| {
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(audit::SOURCE)
                    .detail_type(detail_type)
                    .detail(detail)
                    .build()
            })
            .collect();
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify(WHAT, &e))?;
        if out.failed_entry_count() == 0 {
            return Ok(());
        }
        Err(failed_entries(
            batch,
            out.failed_entry_count(),
            out.entries(),
        ))
    }
}

#[async_trait]
impl Notifier for EventBridgeNotifier {
    async fn publish(&self, notices: &[Notice]) -> Result<(), ServiceError> {
        let mut entries = Vec::with_capacity(notices.len());
        for notice in notices {
            let detail = serde_json::to_string(&notice.detail)
                .map_err(|e| build_error(WHAT, format!("a notice does not serialise: {e}")))?;
            let id = notice.detail["notificationId"].as_str().unwrap_or("?");
            entries.push((notice.kind.detail_type().to_owned(), detail, id));
        }
        for batch in batches(&entries)? {
            self.put(&entries[batch]).await?;
        }
        Ok(())
    }
}

/// The entries split, in order, into calls within both limits. An entry that is over the size
/// limit alone is refused before anything is sent.
fn batches(
    entries: &[(String, String, &str)],
) -> Result<Vec<std::ops::Range<usize>>, ServiceError> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (detail_type, detail, id)) in entries.iter().enumerate() {
        let size = entry_size(detail_type, detail);
        if size >= MAX_REQUEST_BYTES {
            return Err(build_error(
                WHAT,
                format!("notice {id} is {size} bytes; an entry must be under {MAX_REQUEST_BYTES}"),
            ));
        }
        if i - start == MAX_ENTRIES_PER_CALL || bytes + size >= MAX_REQUEST_BYTES {
            batches.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < entries.len() {
        batches.push(start..entries.len());
    }
    Ok(batches)
}

/// The error of a call that refused some entries: each refused notice with its code. Throttled
/// when every refusal is throttling, rejected when every one will not clear (a malformed detail,
/// access), else unavailable: worth publishing again.
fn failed_entries(
    batch: &[(String, String, &str)],
    failed: i32,
    results: &[PutEventsResultEntry],
) -> ServiceError {
    let refused: Vec<(&str, String)> = results
        .iter()
        .zip(batch)
        .filter_map(|(r, (_, _, id))| {
            let code = r.error_code()?;
            let message = r.error_message().unwrap_or_default();
            Some((
                code,
                format!("{id}: {code} {message}").trim_end().to_owned(),
            ))
        })
        .collect();
    let message = format!(
        "{WHAT}: {failed} of {} entries failed: {}",
        batch.len(),
        if refused.is_empty() {
            "EventBridge named none".to_owned()
        } else {
            refused
                .iter()
                .map(|(_, m)| m.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        }
    );
    let kinds: Vec<ServiceError> = refused
        .iter()
        .map(|(code, _)| by_code(code, String::new()))
        .collect();
    if !kinds.is_empty()
        && kinds
            .iter()
            .all(|k| matches!(k, ServiceError::Throttled { .. }))
    {
        ServiceError::Throttled {
            retry_after: None,
            message,
        }
    } else if kinds.is_empty()
        || kinds
            .iter()
            .any(|k| !matches!(k, ServiceError::Rejected(_)))
    {
        ServiceError::unavailable(message)
    } else {
        ServiceError::Rejected(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(sizes: &[usize]) -> Vec<(String, String, &'static str)> {
        sizes
            .iter()
            .map(|&n| {
                let overhead = entry_size("t", "");
                ("t".to_owned(), "x".repeat(n - overhead), "id")
            })
            .collect()
    }

    #[test]
    fn batches_hold_at_most_ten_entries_and_less_than_256_kb() {
        assert_eq!(
            batches(&entries(&[100; 25])).unwrap(),
            [0..10, 10..20, 20..25]
        );
        let half = MAX_REQUEST_BYTES / 2;
        // Two halves make exactly the limit, which is one byte too many.
        assert_eq!(
            batches(&entries(&[half, half, half - 1, half])).unwrap(),
            [0..1, 1..3, 3..4]
        );
        assert_eq!(batches(&[]).unwrap(), Vec::<std::ops::Range<usize>>::new());
        let err = batches(&entries(&[100, MAX_REQUEST_BYTES])).unwrap_err();
        assert!(
            matches!(&err, ServiceError::Rejected(m) if m.contains("262144")),
            "{err:?}"
        );
    }
}
