//! The audit trail: one item per event, in a partition of its own per execution
//! (`executionId` = `EVENTS#<id>`, `sk` = the event id), so that `load` (a Query on the
//! execution's partition) never reads the trail and a trail of any length costs polls nothing.
//! Events are Put with `attribute_not_exists`, in the same transaction as the change they record:
//! append-only, and never one without the other.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::audit::AuditEvent;
use execution_core::ids::ExecutionId;
use execution_core::ports::{EventPage, ServiceError, StoreError};

use super::codec::{self, Item, PK, SK};
use super::store::store_error;
use super::write::sized;
use super::DynamoDbStore;

/// The partition key of every trail: `EVENTS#` + the execution id.
pub const TRAIL_PREFIX: &str = "EVENTS#";
/// The attribute that holds the event (a map of its JSON shape).
pub const EVENT: &str = "event";
/// Events per `events` page.
pub const EVENTS_PAGE_SIZE: i32 = 100;
/// The longest event id accepted in a cursor (ids are `{12 digits}-{stamp}`).
const MAX_EVENT_ID_CHARS: usize = 64;

/// `EVENTS#<id>`: the trail's partition.
pub fn trail_key(id: ExecutionId) -> String {
    format!("{TRAIL_PREFIX}{id}")
}

/// The item of `event`: its keys and the event as a map. It carries neither `status` nor
/// `createdTime` at the top level, so it never enters the status index.
pub(crate) fn event_item(event: &AuditEvent) -> Result<Item, StoreError> {
    let value = serde_json::to_value(event)
        .map_err(|e| StoreError::Corrupt(format!("audit event does not serialise: {e}")))?;
    let item = HashMap::from([
        (PK.to_owned(), codec::s(trail_key(event.execution_id))),
        (SK.to_owned(), codec::s(event.event_id.clone())),
        (EVENT.to_owned(), codec::to_attr(&value)),
    ]);
    sized(item, &format!("audit event {}", event.event_id))
}

/// The event an item of a trail holds (a table item, or a stream record's `NewImage` converted to
/// attribute values); `None` for any other item (a header or a wave).
pub fn decode_event_item(item: &Item) -> Option<Result<AuditEvent, StoreError>> {
    match item.get(PK) {
        Some(AttributeValue::S(pk)) if pk.starts_with(TRAIL_PREFIX) => {}
        _ => return None,
    }
    let corrupt = |why: String| StoreError::Corrupt(format!("audit event item: {why}"));
    Some(
        item.get(EVENT)
            .ok_or_else(|| corrupt(format!("no '{EVENT}' attribute")))
            .and_then(|attr| codec::from_attr(attr).map_err(corrupt))
            .and_then(|value| serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))),
    )
}

impl DynamoDbStore {
    /// One strongly consistent Query page of the trail, oldest first.
    pub(super) async fn events_page(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        let start = match cursor {
            None => None,
            Some(after) => {
                let valid = !after.is_empty()
                    && after.len() <= MAX_EVENT_ID_CHARS
                    && after
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if !valid {
                    return Err(StoreError::Service(ServiceError::Rejected(format!(
                        "'{}' is not an events cursor of this store",
                        execution_core::text::clip(&after, execution_core::text::QUOTE_CHARS)
                    ))));
                }
                Some(HashMap::from([
                    (PK.to_owned(), codec::s(trail_key(id))),
                    (SK.to_owned(), codec::s(after)),
                ]))
            }
        };
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", codec::s(trail_key(id)))
            .consistent_read(true)
            .limit(self.events_page_size)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| store_error("DynamoDB Query (events)", &e))?;
        let events = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(decode_event_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => match key.get(SK) {
                Some(AttributeValue::S(sk)) => Some(sk.clone()),
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "events page ended on an unexpected key: {key:?}"
                    )))
                }
            },
            _ => None,
        };
        Ok(EventPage {
            events,
            next_cursor,
        })
    }
}
