//! `commit`: one conditional write for one item, one transaction for several.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnConsumedCapacity, TransactWriteItem, Update,
};
use execution_core::ids::ExecutionId;
use execution_core::model::ExecutionHeader;
use execution_core::ports::{Commit, HeaderWrite, ServiceError, StoreError};

use super::codec::{self, Item, MAX_ITEM_BYTES, VERSION};
use super::events::event_item;
use super::expression::Expression;
use super::store::store_error;
use super::{DynamoDbStore, MAX_TRANSACTION_BYTES, MAX_TRANSACTION_ITEMS};
use crate::errors::build_error;

/// One conditional write of a commit.
enum Action {
    /// Update the header (all but its keys and the touch-owned attributes) if its version is
    /// `expected`. Boxed: a header is many times the size of the other actions.
    Update {
        expected: u64,
        header: Box<ExecutionHeader>,
    },
    /// Replace a wave item if its version is `expected`.
    Put { expected: u64, item: Item },
    /// Append an event to the trail, if no event has its key.
    Event(Item),
}

impl DynamoDbStore {
    pub(super) async fn commit_items(&self, commit: &Commit) -> Result<(), StoreError> {
        let id = commit.execution_id;
        let mut actions = Vec::with_capacity(commit.waves.len() + 1);
        if let Some(HeaderWrite {
            expected_version,
            header,
        }) = &commit.header
        {
            if header.execution_id != id {
                return Err(rejected(format!(
                    "a commit to {id} carries the header of {}",
                    header.execution_id
                )));
            }
            actions.push(Action::Update {
                expected: *expected_version,
                header: Box::new(header.clone()),
            });
        }
        for w in &commit.waves {
            let item = sized(
                codec::wave_item(id, &w.wave)?,
                &format!("wave {}", w.wave.wave_number),
            )?;
            actions.push(Action::Put {
                expected: w.expected_version,
                item,
            });
        }
        for e in &commit.events {
            if e.execution_id != id {
                return Err(rejected(format!(
                    "a commit to {id} carries an event of {}",
                    e.execution_id
                )));
            }
            actions.push(Action::Event(event_item(e)?));
        }
        match actions.len() {
            // Nothing to write; the contract still says a missing execution is a Conflict.
            0 => self.check_exists(id).await,
            1 => self.write_one(id, actions.remove(0)).await,
            n if n > MAX_TRANSACTION_ITEMS => Err(rejected(format!(
                "a commit of {n} items exceeds DynamoDB's {MAX_TRANSACTION_ITEMS}-item transaction"
            ))),
            _ => {
                let bytes: usize = actions
                    .iter()
                    .map(|a| match a {
                        Action::Put { item, .. } | Action::Event(item) => codec::item_size(item),
                        Action::Update { .. } => 0,
                    })
                    .sum();
                if bytes > MAX_TRANSACTION_BYTES {
                    return Err(rejected(format!(
                        "a commit of {bytes} bytes exceeds DynamoDB's 4 MB transaction"
                    )));
                }
                let items = actions
                    .into_iter()
                    .map(|a| self.transact_item(id, a))
                    .collect::<Result<Vec<_>, _>>()?;
                self.transact(items).await
            }
        }
    }

    /// A single item needs no transaction (half the write units): a conditional Put or Update.
    async fn write_one(&self, id: ExecutionId, action: Action) -> Result<(), StoreError> {
        let (what, result) = match action {
            Action::Update { expected, header } => {
                let e = Expression::header_update(expected, &header)?;
                let out = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(codec::header_key(id)))
                    .set_update_expression(e.update)
                    .condition_expression(e.condition)
                    .set_expression_attribute_names(Some(e.names))
                    .set_expression_attribute_values(Some(e.values))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                (
                    "UpdateItem",
                    out.map(|o| o.consumed_capacity)
                        .map_err(|e| store_error("DynamoDB UpdateItem (header)", &e)),
                )
            }
            Action::Put { expected, item } => {
                let e = Expression::version_is(expected);
                let out = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression(e.condition)
                    .set_expression_attribute_names(Some(e.names))
                    .set_expression_attribute_values(Some(e.values))
                    .return_consumed_capacity(ReturnConsumedCapacity::Total)
                    .send()
                    .await;
                (
                    "PutItem",
                    out.map(|o| o.consumed_capacity)
                        .map_err(|e| store_error("DynamoDB PutItem (wave)", &e)),
                )
            }
            // An event is never committed alone: it records a change in the same transaction.
            Action::Event(_) => {
                return Err(rejected(format!(
                    "a commit to {id} holds an event and no change"
                )))
            }
        };
        let capacity = result?;
        tracing::debug!(execution_id = %id, what, write_units = ?capacity.and_then(|c| c.capacity_units), "committed");
        Ok(())
    }

    /// An empty commit still answers whether the execution exists: a strongly consistent read of
    /// the header's version only.
    async fn check_exists(&self, id: ExecutionId) -> Result<(), StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(codec::header_key(id)))
            .consistent_read(true)
            .projection_expression("#version")
            .expression_attribute_names("#version", VERSION)
            .send()
            .await
            .map_err(|e| store_error("DynamoDB GetItem (version)", &e))?;
        let Some(item) = out.item else {
            return Err(StoreError::Conflict);
        };
        match item.get(VERSION) {
            Some(AttributeValue::N(n)) if n.parse::<u64>().is_ok() => Ok(()),
            Some(AttributeValue::N(n)) => Err(StoreError::Corrupt(format!(
                "execution {id}: version '{n}'"
            ))),
            _ => Err(StoreError::Corrupt(format!(
                "execution {id}: header without a version"
            ))),
        }
    }

    fn transact_item(
        &self,
        id: ExecutionId,
        action: Action,
    ) -> Result<TransactWriteItem, StoreError> {
        match action {
            Action::Put { expected, item } => {
                self.put(item, Some(Expression::version_is(expected)))
            }
            Action::Event(item) => self.put(item, Some(Expression::absent())),
            Action::Update { expected, header } => {
                let e = Expression::header_update(expected, &header)?;
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(codec::header_key(id)))
                    .set_update_expression(e.update)
                    .condition_expression(e.condition)
                    .set_expression_attribute_names(Some(e.names))
                    .set_expression_attribute_values(Some(e.values).filter(|v| !v.is_empty()))
                    .build()
                    .map_err(|e| StoreError::Service(build_error("DynamoDB Update", e)))?;
                Ok(TransactWriteItem::builder().update(update).build())
            }
        }
    }

    pub(super) fn put(
        &self,
        item: Item,
        condition: Option<Expression>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(e) = condition {
            put = put
                .condition_expression(e.condition)
                .set_expression_attribute_names(Some(e.names))
                .set_expression_attribute_values(Some(e.values).filter(|v| !v.is_empty()));
        }
        let put = put
            .build()
            .map_err(|e| StoreError::Service(build_error("DynamoDB Put", e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn condition_check(
        &self,
        id: ExecutionId,
        e: Expression,
    ) -> Result<TransactWriteItem, StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(codec::header_key(id)))
            .condition_expression(e.condition)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values).filter(|v| !v.is_empty()))
            .build()
            .map_err(|e| StoreError::Service(build_error("DynamoDB ConditionCheck", e)))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    /// TransactWriteItems with a fresh idempotency token, so that the SDK's own retry of a
    /// transaction that did commit (response lost) succeeds instead of failing its conditions.
    pub(super) async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let n = items.len();
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(uuid::Uuid::new_v4().to_string())
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(c)) => cancelled(c),
                _ => store_error("DynamoDB TransactWriteItems", &e),
            })?;
        let units: f64 = out
            .consumed_capacity
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.capacity_units)
            .sum();
        tracing::debug!(items = n, write_units = units, "transaction committed");
        Ok(())
    }
}

/// Why a transaction was cancelled, from its per-item reasons.
fn cancelled(e: &TransactionCanceledException) -> StoreError {
    let codes: Vec<&str> = e
        .cancellation_reasons()
        .iter()
        .filter_map(|r| r.code())
        .filter(|c| *c != "None")
        .collect();
    let message = e.message().unwrap_or_default();
    let any = |wanted: &[&str]| codes.iter().any(|c| wanted.contains(c));
    if any(&["ConditionalCheckFailed", "TransactionConflict"])
        || (codes.is_empty() && message.contains("ConditionalCheckFailed"))
    {
        StoreError::Conflict
    } else if any(&[
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    ]) {
        StoreError::Service(ServiceError::Throttled {
            retry_after: None,
            message: format!("DynamoDB transaction throttled: {codes:?}"),
        })
    } else {
        rejected(format!(
            "DynamoDB transaction cancelled: {codes:?} {message}"
        ))
    }
}

fn rejected(message: String) -> StoreError {
    StoreError::Service(ServiceError::Rejected(message))
}

/// An item over DynamoDB's 400 KB limit is refused here, with a message that says which one.
pub(super) fn sized(item: Item, what: &str) -> Result<Item, StoreError> {
    let size = codec::item_size(&item);
    if size > MAX_ITEM_BYTES {
        return Err(rejected(format!(
            "the {what} item would be {size} bytes; DynamoDB items hold at most {MAX_ITEM_BYTES}"
        )));
    }
    Ok(item)
}
