//! `list_active`: the status index, one partition per active status, one Query per page; then
//! the page's poll marks from the table.
//!
//! The cursor is `STATUS` (start that status's partition) or `STATUS|createdTime|executionId`
//! (resume after that index entry). POLLING is read first, then CANCELLING, PAUSED and PENDING
//! (find polls the first two and watches the runs of all four); the page that ends one status
//! says the next, so a page may be short (or empty) and still have a cursor.
//!
//! The index gives who is active (status, createdTime, executionId, planId, workflowRun); the
//! poll marks (`polledTime`, `workflowSeenTime`) are not projected into it, so that a poll's touch
//! does not write the index, and are read from the listed headers with BatchGetItem: eventually
//! consistent, projected to the marks, at most 100 keys a call. An execution whose header that
//! read did not return (just created, or deleted meanwhile) keeps its entry without marks.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::model::Timestamp;
use execution_core::ports::{ActiveExecution, ActivePage, ServiceError, StoreError};
use execution_core::status::ExecutionStatus;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::batch::{BatchRead, MAX_BATCH_GET_KEYS};
use super::codec::{
    self, Item, PollMarks, CREATED_TIME, HEADER_SK, MARK_ATTRIBUTES, PK, PLAN_ID, SK, STATUS,
    WORKFLOW_RUN,
};
use super::store::store_error;
use super::DynamoDbStore;

const ACTIVE: [ExecutionStatus; 4] = ExecutionStatus::LISTED;
/// BatchGetItem calls of one page's marks at once (a page of 500 is 5 of them).
const MARK_READ_CONCURRENCY: usize = 5;

impl DynamoDbStore {
    pub(super) async fn list_page(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        let (status, start) = match cursor.as_deref() {
            None => (ACTIVE[0], None),
            Some(raw) => parse_cursor(raw)?,
        };
        // Every attribute the index holds (a ProjectionExpression would save no read units, and
        // an index that does not project `workflowRun`, version 1's during an upgrade, might
        // refuse one naming it); `decode_entry` ignores the index's copies of the poll marks.
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(&self.index)
            .key_condition_expression("#status = :status")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":status", codec::s(status.as_str()))
            .limit(self.page_size)
            .set_exclusive_start_key(start.map(|(created, id)| start_key(status, created, id)))
            .send()
            .await
            .map_err(|e| store_error("DynamoDB Query (status index)", &e))?;
        let entries = out
            .items
            .unwrap_or_default()
            .iter()
            .map(decode_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let mut marks = self
            .poll_marks(entries.iter().map(|e| e.execution_id))
            .await?;
        // A header the eventually consistent read did not return (one just created, or gone)
        // keeps its entry without poll marks: never polled, so find polls it first, and not
        // silent, as it was just created; a poll of one that is gone answers 404.
        let executions = entries
            .into_iter()
            .map(|entry| match marks.remove(&entry.execution_id) {
                Some(m) => with_marks(entry, m),
                None => {
                    tracing::debug!(execution_id = %entry.execution_id, "listed by the status index; its header was not read back");
                    entry
                }
            })
            .collect();
        let next_cursor = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(resume_cursor(status, &key)?),
            _ => ACTIVE
                .iter()
                .skip_while(|s| **s != status)
                .nth(1)
                .map(|s| s.as_str().to_owned()),
        };
        Ok(ActivePage {
            executions,
            next_cursor,
        })
    }

    /// The poll marks of each execution's header, read eventually consistently (0.5 read units
    /// per header up to 4 KB) in BatchGetItems of at most 100 keys; an execution without a
    /// header is absent from the answer.
    async fn poll_marks(
        &self,
        ids: impl Iterator<Item = ExecutionId>,
    ) -> Result<HashMap<ExecutionId, PollMarks>, StoreError> {
        // BatchGetItem refuses a key twice.
        let ids: Vec<ExecutionId> = ids.collect::<BTreeSet<_>>().into_iter().collect();
        let mut names = HashMap::from([("#pk".to_owned(), PK.to_owned())]);
        let mut projected = vec!["#pk".to_owned()];
        for (i, name) in MARK_ATTRIBUTES.iter().enumerate() {
            names.insert(format!("#m{i}"), (*name).to_owned());
            projected.push(format!("#m{i}"));
        }
        let read = BatchRead {
            consistent: false,
            projection: Some((projected.join(", "), names)),
        };
        let read = &read;
        // The futures are built first, so that the stream over them is `Send` (a closure over
        // borrowed chunks is not general enough for async_trait's boxed future).
        let calls: Vec<_> = ids
            .chunks(MAX_BATCH_GET_KEYS)
            .map(|chunk| {
                let keys = chunk.iter().map(|id| codec::header_key(*id)).collect();
                self.batch_get("DynamoDB BatchGetItem (poll marks)", keys, read)
            })
            .collect();
        let items: Vec<Vec<Item>> = stream::iter(calls)
            .buffer_unordered(MARK_READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut marks = HashMap::with_capacity(ids.len());
        for item in items.iter().flatten() {
            let id = match item.get(PK) {
                Some(AttributeValue::S(pk)) => ExecutionId::parse(pk).map_err(|e| {
                    StoreError::Corrupt(format!("a header read for its poll marks: {e}"))
                })?,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "a header read for its poll marks has no string {PK}: {other:?}"
                    )))
                }
            };
            marks.insert(id, codec::poll_marks(item)?);
        }
        Ok(marks)
    }
}

/// An index entry with its header's marks: the times, and the run as the header holds it beside
/// its time (the index's copy, written with it, only if the header has none).
fn with_marks(entry: ActiveExecution, marks: PollMarks) -> ActiveExecution {
    ActiveExecution {
        last_polled_time: marks.polled.map(Timestamp),
        workflow_polled_time: marks.seen.map(Timestamp),
        workflow_run: marks.run.or(entry.workflow_run),
        ..entry
    }
}

/// An index entry: everything but the poll times, which the index does not hold fresh.
fn decode_entry(item: &Item) -> Result<ActiveExecution, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.as_str()),
        _ => Err(StoreError::Corrupt(format!(
            "status index entry without {name}: {item:?}"
        ))),
    };
    let bad = |e: &dyn std::fmt::Display| StoreError::Corrupt(format!("status index entry: {e}"));
    let status = ExecutionStatus::parse(text(STATUS)?)
        .ok_or_else(|| bad(&format!("status {:?}", item.get(STATUS))))?;
    let time = |name: &str| match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(|t| Some(Timestamp(t)))
            .map_err(|_| bad(&format!("{name} '{n}'"))),
        Some(other) => Err(bad(&format!("{name} {other:?}"))),
    };
    let created_time = time(CREATED_TIME)?.ok_or_else(|| bad(&format!("no {CREATED_TIME}")))?;
    let workflow_run = match item.get(WORKFLOW_RUN) {
        None => None,
        Some(AttributeValue::S(run)) => Some(run.clone()),
        Some(other) => return Err(bad(&format!("{WORKFLOW_RUN} {other:?}"))),
    };
    Ok(ActiveExecution {
        execution_id: ExecutionId::parse(text(PK)?).map_err(|e| bad(&e))?,
        plan_id: PlanId::parse(text(PLAN_ID)?).map_err(|e| bad(&e))?,
        status,
        created_time,
        last_polled_time: None,
        workflow_run,
        workflow_polled_time: None,
    })
}

fn start_key(status: ExecutionStatus, created: i64, id: ExecutionId) -> Item {
    HashMap::from([
        (PK.to_owned(), codec::s(id.to_string())),
        (SK.to_owned(), codec::s(HEADER_SK)),
        (STATUS.to_owned(), codec::s(status.as_str())),
        (
            CREATED_TIME.to_owned(),
            AttributeValue::N(created.to_string()),
        ),
    ])
}

fn resume_cursor(status: ExecutionStatus, key: &Item) -> Result<String, StoreError> {
    match (key.get(CREATED_TIME), key.get(PK)) {
        (Some(AttributeValue::N(created)), Some(AttributeValue::S(id))) => {
            Ok(format!("{status}|{created}|{id}"))
        }
        _ => Err(StoreError::Corrupt(format!(
            "status index page ended on an unexpected key: {key:?}"
        ))),
    }
}

type Start = Option<(i64, ExecutionId)>;

fn parse_cursor(raw: &str) -> Result<(ExecutionStatus, Start), StoreError> {
    let invalid = || {
        StoreError::Service(ServiceError::Rejected(format!(
            "'{raw}' is not a list_active cursor of this store"
        )))
    };
    let mut parts = raw.split('|');
    let status = parts
        .next()
        .and_then(ExecutionStatus::parse)
        .filter(|s| ACTIVE.contains(s))
        .ok_or_else(invalid)?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Ok((status, None)),
        (Some(created), Some(id), None) => {
            let created = created.parse().map_err(|_| invalid())?;
            let id = ExecutionId::parse(id).map_err(|_| invalid())?;
            Ok((status, Some((created, id))))
        }
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let id = execution_core::fixtures::execution_id();
        let key = start_key(ExecutionStatus::Cancelling, 1234, id);
        let cursor = resume_cursor(ExecutionStatus::Cancelling, &key).unwrap();
        assert_eq!(
            parse_cursor(&cursor).unwrap(),
            (ExecutionStatus::Cancelling, Some((1234, id)))
        );
        assert_eq!(
            parse_cursor("POLLING").unwrap(),
            (ExecutionStatus::Polling, None)
        );
        for bad in [
            "",
            "COMPLETED",
            "POLLING|x|y",
            "POLLING|12",
            "POLLING|12|not-a-uuid",
            "POLLING|1|6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00|x",
        ] {
            assert!(
                matches!(
                    parse_cursor(bad),
                    Err(StoreError::Service(ServiceError::Rejected(_)))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn index_entries_decode_or_are_corrupt() {
        let id = execution_core::fixtures::execution_id();
        let mut item = start_key(ExecutionStatus::Polling, 5, id);
        item.insert(PLAN_ID.into(), codec::s(execution_core::fixtures::PLAN_ID));
        // The index's copies of the marks, frozen since this version: never read.
        item.insert(
            codec::OLD_POLLED_TIME.into(),
            AttributeValue::N("77".into()),
        );
        item.insert(
            codec::OLD_WORKFLOW_SEEN_TIME.into(),
            AttributeValue::N("70".into()),
        );
        item.insert(WORKFLOW_RUN.into(), codec::s("run-1"));
        let entry = decode_entry(&item).unwrap();
        assert_eq!(
            (
                entry.execution_id,
                entry.status,
                entry.last_polled_time,
                entry.workflow_polled_time,
                entry.workflow_run.as_deref()
            ),
            (id, ExecutionStatus::Polling, None, None, Some("run-1"))
        );
        item.remove(PLAN_ID);
        assert!(matches!(decode_entry(&item), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn the_headers_marks_fill_the_entry_and_its_run_wins() {
        let id = execution_core::fixtures::execution_id();
        let mut item = start_key(ExecutionStatus::Polling, 5, id);
        item.insert(PLAN_ID.into(), codec::s(execution_core::fixtures::PLAN_ID));
        item.insert(WORKFLOW_RUN.into(), codec::s("run-1"));
        let entry = decode_entry(&item).unwrap();
        let fresh = PollMarks {
            polled: Some(300),
            run: Some("run-2".into()),
            seen: Some(290),
        };
        let listed = with_marks(entry.clone(), fresh);
        assert_eq!(
            (
                listed.last_polled_time,
                listed.workflow_run.as_deref(),
                listed.workflow_polled_time,
                listed.created_time
            ),
            (
                Some(Timestamp(300)),
                Some("run-2"),
                Some(Timestamp(290)),
                Timestamp(5)
            )
        );
        let listed = with_marks(entry, PollMarks::default());
        assert_eq!(
            (
                listed.last_polled_time,
                listed.workflow_run.as_deref(),
                listed.workflow_polled_time
            ),
            (None, Some("run-1"), None)
        );
    }
}
