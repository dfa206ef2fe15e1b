//! `ServerLocks` on the executions table: one item per held source server,
//! `executionId` = `SERVER#<sourceServerId>`, `sk` = `HOLD`, with `holder` (the execution id) and
//! `since` (epoch seconds). Nothing else: no `status` and no `createdTime`, so a hold never enters
//! the status index, and its key does not start with `EVENTS#`, so the stream's publish filter
//! never passes it on.
//!
//! A hold is a record of who last took a server, not a lease: the core decides whether it still
//! binds from the holder's execution. Reads are strongly consistent BatchGetItems; a claim is one
//! TransactWriteItems (all or nothing); a release is a conditional DeleteItem per server.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::ids::{ExecutionId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{
    HoldClaim, ServerHold, ServerLocks, ServiceError, StoreError, MAX_COMMIT_ITEMS,
};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::batch::{BatchRead, MAX_BATCH_GET_KEYS};
use super::codec::{self, Item, PK, SK};
use super::expression::Expression;
use super::store::store_error;
use super::DynamoDbStore;

/// The partition key of a hold: `SERVER#` + the source server id.
pub const HOLD_PREFIX: &str = "SERVER#";
/// The sort key of every hold.
pub const HOLD_SK: &str = "HOLD";
/// The execution that holds the server (S).
pub const HOLDER: &str = "holder";
/// When the hold was taken (N, epoch seconds).
pub const SINCE: &str = "since";

/// DeleteItems of one release in flight at once.
const RELEASE_CONCURRENCY: usize = 16;
/// BatchGetItem calls of one `holds` at once.
const HOLD_READ_CONCURRENCY: usize = 8;

/// `SERVER#<id>`: the partition of a server's hold.
pub fn hold_pk(server: &SourceServerId) -> String {
    format!("{HOLD_PREFIX}{server}")
}

fn hold_key(server: &SourceServerId) -> Item {
    HashMap::from([
        (PK.to_owned(), codec::s(hold_pk(server))),
        (SK.to_owned(), codec::s(HOLD_SK)),
    ])
}

fn hold_item(hold: &ServerHold) -> Item {
    let mut item = hold_key(&hold.source_server_id);
    item.insert(HOLDER.to_owned(), codec::s(hold.execution_id.to_string()));
    item.insert(
        SINCE.to_owned(),
        AttributeValue::N(hold.since.secs().to_string()),
    );
    item
}

/// The hold an item stores; an item that cannot be one is `Corrupt`, naming its key.
pub fn decode_hold_item(item: &Item) -> Result<ServerHold, StoreError> {
    let pk = match item.get(PK) {
        Some(AttributeValue::S(pk)) => pk.as_str(),
        _ => {
            return Err(StoreError::Corrupt(format!(
                "server hold item without a string '{PK}'"
            )))
        }
    };
    let corrupt = |why: String| StoreError::Corrupt(format!("server hold '{pk}': {why}"));
    let raw = pk
        .strip_prefix(HOLD_PREFIX)
        .ok_or_else(|| corrupt(format!("not a '{HOLD_PREFIX}' key")))?;
    let source_server_id =
        SourceServerId::parse(raw).map_err(|e| corrupt(format!("server id: {e}")))?;
    let execution_id = match item.get(HOLDER) {
        Some(AttributeValue::S(h)) => {
            ExecutionId::parse(h).map_err(|e| corrupt(format!("'{HOLDER}': {e}")))?
        }
        _ => return Err(corrupt(format!("no string '{HOLDER}'"))),
    };
    let since = match item.get(SINCE) {
        Some(AttributeValue::N(n)) => n
            .parse::<i64>()
            .map(Timestamp)
            .map_err(|_| corrupt(format!("'{SINCE}' is '{n}'")))?,
        _ => return Err(corrupt(format!("no number '{SINCE}'"))),
    };
    Ok(ServerHold {
        source_server_id,
        execution_id,
        since,
    })
}

/// Each server once, in order (BatchGetItem refuses a key twice; a transaction, an item twice).
fn distinct(servers: &[SourceServerId]) -> Vec<&SourceServerId> {
    let mut seen = BTreeSet::new();
    servers.iter().filter(|s| seen.insert(s.as_str())).collect()
}

fn rejected(message: String) -> StoreError {
    StoreError::Service(ServiceError::Rejected(message))
}

/// The claim's condition: the server is free, or held by the claimant, or by the hold it replaces.
fn claim_condition(claim: &HoldClaim) -> Expression {
    let mut condition = "attribute_not_exists(#pk) OR #holder = :claimant".to_owned();
    let mut values = HashMap::from([(
        ":claimant".to_owned(),
        codec::s(claim.hold.execution_id.to_string()),
    )]);
    if let Some(replaces) = claim.replaces {
        condition.push_str(" OR #holder = :replaces");
        values.insert(":replaces".to_owned(), codec::s(replaces.to_string()));
    }
    Expression {
        update: None,
        condition,
        names: HashMap::from([
            ("#pk".to_owned(), PK.to_owned()),
            ("#holder".to_owned(), HOLDER.to_owned()),
        ]),
        values,
    }
}

impl DynamoDbStore {
    /// One BatchGetItem of at most 100 keys, strongly consistent (the retries of unprocessed keys
    /// too).
    async fn hold_batch(&self, servers: &[&SourceServerId]) -> Result<Vec<Item>, StoreError> {
        let read = BatchRead {
            consistent: true,
            projection: None,
        };
        let keys = servers.iter().map(|s| hold_key(s)).collect();
        self.batch_get("DynamoDB BatchGetItem (holds)", keys, &read)
            .await
    }

    /// Deletes `execution`'s hold on `server`; a hold of another execution, or none, is left as
    /// it is and is no error.
    async fn release_one(
        &self,
        execution: ExecutionId,
        server: &SourceServerId,
    ) -> Result<(), StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(hold_key(server)))
            .condition_expression("#holder = :me")
            .expression_attribute_names("#holder", HOLDER)
            .expression_attribute_values(":me", codec::s(execution.to_string()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(store_error("DynamoDB DeleteItem (hold)", &e)),
        }
    }
}

#[async_trait]
impl ServerLocks for DynamoDbStore {
    /// Strongly consistent BatchGetItems of at most 100 keys each; a server without a hold is
    /// absent from the answer.
    async fn holds(&self, servers: &[SourceServerId]) -> Result<Vec<ServerHold>, StoreError> {
        let servers = distinct(servers);
        // The batches are independent: a few at once (a 10,000-server plan is 100 of them).
        let calls: Vec<_> = servers
            .chunks(MAX_BATCH_GET_KEYS)
            .map(|chunk| self.hold_batch(chunk))
            .collect();
        let batches: Vec<Vec<_>> = stream::iter(calls)
            .buffered(HOLD_READ_CONCURRENCY)
            .try_collect()
            .await?;
        let mut holds = Vec::with_capacity(servers.len());
        for item in batches.iter().flatten() {
            holds.push(decode_hold_item(item)?);
        }
        Ok(holds)
    }

    /// One TransactWriteItems of a conditional Put per claim: every claim or none.
    async fn hold(&self, claims: &[HoldClaim]) -> Result<(), StoreError> {
        if claims.len() > MAX_COMMIT_ITEMS {
            return Err(rejected(format!(
                "a hold of {} servers exceeds the {MAX_COMMIT_ITEMS} one transaction takes",
                claims.len()
            )));
        }
        // A transaction may not write an item twice: a hold that names a server twice is a
        // caller's mistake, refused unsent (as the simulator's store refuses it).
        let mut servers = BTreeSet::new();
        if let Some(twice) = claims
            .iter()
            .find(|c| !servers.insert(c.hold.source_server_id.as_str()))
        {
            return Err(rejected(format!(
                "a hold that claims source server {} twice",
                twice.hold.source_server_id
            )));
        }
        if claims.is_empty() {
            return Ok(());
        }
        let items = claims
            .iter()
            .map(|c| self.put(hold_item(&c.hold), Some(claim_condition(c))))
            .collect::<Result<Vec<_>, _>>()?;
        self.transact(items).await
    }

    /// A DeleteItem per server, conditional on `holder` being `execution`, a few at a time.
    async fn release(
        &self,
        execution: ExecutionId,
        servers: &[SourceServerId],
    ) -> Result<(), StoreError> {
        let servers: Vec<SourceServerId> = distinct(servers).into_iter().cloned().collect();
        stream::iter(servers)
            .map(|server| async move { self.release_one(execution, &server).await })
            .buffer_unordered(RELEASE_CONCURRENCY)
            .try_collect::<()>()
            .await
    }
}

#[cfg(test)]
#[path = "holds_tests.rs"]
mod tests;
