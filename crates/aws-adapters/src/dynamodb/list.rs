//! `list_active`: the status index, one partition per active status, one Query per page.
//!
//! The cursor is `STATUS` (start that status's partition) or `STATUS|createdTime|executionId`
//! (resume after that index entry). POLLING is read first, then CANCELLING, PAUSED and PENDING
//! (find polls the first two and watches the runs of all four); the page that ends one status
//! says the next, so a page may be short (or empty) and still have a cursor.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::model::Timestamp;
use execution_core::ports::{ActiveExecution, ActivePage, ServiceError, StoreError};
use execution_core::status::ExecutionStatus;

use super::codec::{
    self, Item, CREATED_TIME, HEADER_SK, LAST_POLLED_TIME, PK, PLAN_ID, SK, STATUS,
    WORKFLOW_POLLED_TIME, WORKFLOW_RUN,
};
use super::store::store_error;
use super::DynamoDbStore;

const ACTIVE: [ExecutionStatus; 4] = ExecutionStatus::LISTED;

impl DynamoDbStore {
    pub(super) async fn list_page(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        let (status, start) = match cursor.as_deref() {
            None => (ACTIVE[0], None),
            Some(raw) => parse_cursor(raw)?,
        };
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
        let executions = out
            .items
            .unwrap_or_default()
            .iter()
            .map(decode_entry)
            .collect::<Result<Vec<_>, _>>()?;
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
}

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
    let last_polled_time = time(LAST_POLLED_TIME)?;
    let workflow_polled_time = time(WORKFLOW_POLLED_TIME)?;
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
        last_polled_time,
        workflow_run,
        workflow_polled_time,
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
        item.insert(LAST_POLLED_TIME.into(), AttributeValue::N("77".into()));
        let entry = decode_entry(&item).unwrap();
        assert_eq!(
            (entry.execution_id, entry.status, entry.last_polled_time),
            (id, ExecutionStatus::Polling, Some(Timestamp(77)))
        );
        item.remove(PLAN_ID);
        assert!(matches!(decode_entry(&item), Err(StoreError::Corrupt(_))));
    }
}
