//! The `ExecutionStore` contract on the table: reads here, writes in `write.rs`, the status index
//! in `list.rs`.

use std::collections::HashMap;
use std::error::Error as StdError;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use execution_core::audit::AuditEvent;
use execution_core::ids::ExecutionId;
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::{ActivePage, Commit, EventPage, ExecutionStore, StoreError, Touch};

use super::codec::{self, Item, PK, POLLED_TIME, WORKFLOW_RUN, WORKFLOW_SEEN_TIME};
use super::DynamoDbStore;
use crate::errors::classify;

/// Codes that mean a write lost to another writer and wrote nothing: a failed condition, or an
/// item held by a transaction in flight (a re-read shows what that writer did).
const CONFLICT_CODES: &[&str] = &[
    "ConditionalCheckFailedException",
    "TransactionConflictException",
    "ReplicatedWriteConflictException",
];

pub(super) fn store_error<E>(what: &str, err: &SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    match err.as_service_error().and_then(ProvideErrorMetadata::code) {
        Some(code) if CONFLICT_CODES.contains(&code) => StoreError::Conflict,
        _ => StoreError::Service(classify(what, err)),
    }
}

#[async_trait]
impl ExecutionStore for DynamoDbStore {
    /// One strongly consistent Query over the execution's partition (every page): the header
    /// and its waves, which sort after it (`EXECUTION` < `WAVE#0000`). The trail has a partition
    /// of its own and is never read here.
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", codec::s(id.to_string()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| store_error("DynamoDB Query (load)", &e))?;
        codec::decode_execution(id, items)
    }

    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.create_items(execution, events).await
    }

    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.list_page(cursor).await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.commit_items(commit).await
    }

    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.events_page(id, cursor).await
    }

    /// One UpdateItem of the header's poll marks, conditional on the header existing (it never
    /// creates a stray item): `polledTime`, and for a workflow mark `workflowSeenTime`, neither
    /// projected into the status index, and `workflowRun` (projected) only for a new run. So a
    /// poll that changes nothing writes the table alone: 1 write unit for a header up to 1 KB.
    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        match self.touch_header(id, touch, false).await {
            // The mark of the recorded run is conditional on the header naming a run: the header
            // is gone, or (never in practice: nothing removes a run) names none. Then the run is
            // written too, and a missing header is a Conflict again.
            Err(StoreError::Conflict) if touch.workflow.as_ref().is_some_and(|m| !m.new_run) => {
                self.touch_header(id, touch, true).await
            }
            other => other,
        }
    }
}

impl DynamoDbStore {
    /// The touch's UpdateItem; `write_run` writes the mark's run even when it is not a new run.
    async fn touch_header(
        &self,
        id: ExecutionId,
        touch: &Touch,
        write_run: bool,
    ) -> Result<(), StoreError> {
        let number = |t: Timestamp| AttributeValue::N(t.secs().to_string());
        let mut sets = Vec::new();
        let mut condition = "attribute_exists(#pk)".to_owned();
        let mut names = HashMap::from([("#pk".to_owned(), PK.to_owned())]);
        let mut values = HashMap::new();
        if let Some(at) = touch.polled_at {
            sets.push("#polled = :polled");
            names.insert("#polled".into(), POLLED_TIME.into());
            values.insert(":polled".into(), number(at));
        }
        if let Some(mark) = &touch.workflow {
            sets.push("#seen = :seen");
            names.insert("#seen".into(), WORKFLOW_SEEN_TIME.into());
            values.insert(":seen".into(), number(mark.at));
            names.insert("#run".into(), WORKFLOW_RUN.into());
            if mark.new_run || write_run {
                sets.push("#run = :run");
                values.insert(":run".into(), AttributeValue::S(mark.run.clone()));
            } else {
                // Never a time without its run (`ExecutionStore::touch`).
                condition.push_str(" AND attribute_exists(#run)");
            }
        }
        if sets.is_empty() {
            return Ok(());
        }
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::header_key(id)))
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| store_error("DynamoDB UpdateItem (touch)", &e))?;
        tracing::debug!(execution_id = %id, write_units = ?out.consumed_capacity.and_then(|c| c.capacity_units), "touched");
        Ok(())
    }
}
