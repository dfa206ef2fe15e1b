//! The `ExecutionStore` contract on the table: reads here, writes in `write.rs`, the status index
//! in `list.rs`.

use std::error::Error as StdError;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use execution_core::ids::ExecutionId;
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::{ActivePage, Commit, ExecutionStore, StoreError};

use super::codec::{self, Item, LAST_POLLED_TIME, PK};
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
    /// and its waves, which sort after it (`EXECUTION` < `WAVE#0000`).
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        let mut items: Vec<Item> = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", codec::s(id.to_string()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("DynamoDB Query (load)", &e))?;
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        codec::decode_execution(id, items)
    }

    async fn create(&self, execution: &Execution) -> Result<(), StoreError> {
        self.create_items(execution).await
    }

    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.list_page(cursor).await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.commit_items(commit).await
    }

    /// One UpdateItem of the header's `lastPolledTime`; conditional on the header existing, so
    /// it never creates a stray item.
    async fn touch(&self, id: ExecutionId, polled_at: Timestamp) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(codec::header_key(id)))
            .update_expression("SET #polled = :polled")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#polled", LAST_POLLED_TIME)
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":polled", AttributeValue::N(polled_at.secs().to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| store_error("DynamoDB UpdateItem (touch)", &e))?;
        tracing::debug!(execution_id = %id, write_units = ?out.consumed_capacity.and_then(|c| c.capacity_units), "touched");
        Ok(())
    }
}
