//! BatchGetItem of at most 100 keys, asking again for what DynamoDB leaves unprocessed: the holds'
//! reads (strongly consistent) and `list_active`'s read of the listed headers' poll marks
//! (eventually consistent, projected).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::KeysAndAttributes;
use execution_core::ports::{ServiceError, StoreError};

use super::codec::Item;
use super::store::store_error;
use super::DynamoDbStore;
use crate::errors::build_error;

/// BatchGetItem reads at most 100 keys per call.
pub(super) const MAX_BATCH_GET_KEYS: usize = 100;
/// UnprocessedKeys are asked for again at most this many times per batch, after a backoff that
/// doubles from [`FIRST_BACKOFF`] to [`MAX_BACKOFF`] (about 3.6 s in all): then the read is
/// `Throttled`.
pub(super) const MAX_UNPROCESSED_RETRIES: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How one batch reads: consistently or not, and which attributes.
#[derive(Debug, Clone, Default)]
pub(super) struct BatchRead {
    pub(super) consistent: bool,
    /// A ProjectionExpression and its attribute names; `None` reads whole items.
    pub(super) projection: Option<(String, HashMap<String, String>)>,
}

impl DynamoDbStore {
    /// One BatchGetItem of at most [`MAX_BATCH_GET_KEYS`] distinct keys of the table; the items
    /// found, in no particular order (a key without an item is absent). Keys DynamoDB leaves in
    /// `UnprocessedKeys` are asked for again, read the same way, at most
    /// [`MAX_UNPROCESSED_RETRIES`] times; then `Throttled`.
    pub(super) async fn batch_get(
        &self,
        what: &str,
        keys: Vec<Item>,
        read: &BatchRead,
    ) -> Result<Vec<Item>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if keys.len() > MAX_BATCH_GET_KEYS {
            return Err(StoreError::Service(ServiceError::Rejected(format!(
                "{what}: {} keys in one BatchGetItem (at most {MAX_BATCH_GET_KEYS})",
                keys.len()
            ))));
        }
        // Every request is built here, the retries of unprocessed keys too (whatever DynamoDB's
        // UnprocessedKeys echo says of consistency and projection).
        let request = |keys: Vec<Item>| {
            let (expression, names) = match &read.projection {
                Some((expression, names)) => (Some(expression.clone()), Some(names.clone())),
                None => (None, None),
            };
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(read.consistent)
                .set_projection_expression(expression)
                .set_expression_attribute_names(names)
                .build()
                .map_err(|e| StoreError::Service(build_error(what, e)))
        };
        let mut found = Vec::with_capacity(keys.len());
        let mut pending = Some(request(keys)?);
        let mut backoff = FIRST_BACKOFF;
        let mut retries = 0;
        while let Some(asked) = pending.take() {
            let mut out = self
                .client
                .batch_get_item()
                .request_items(&self.table, asked)
                .send()
                .await
                .map_err(|e| store_error(what, &e))?;
            if let Some(items) = out.responses.as_mut().and_then(|r| r.remove(&self.table)) {
                found.extend(items);
            }
            pending = out
                .unprocessed_keys
                .as_mut()
                .and_then(|u| u.remove(&self.table))
                .map(|k| k.keys)
                .filter(|keys| !keys.is_empty())
                .map(request)
                .transpose()?;
            if let Some(left) = &pending {
                if retries == MAX_UNPROCESSED_RETRIES {
                    return Err(StoreError::Service(ServiceError::Throttled {
                        retry_after: None,
                        message: format!(
                            "{what}: {} keys still unprocessed after {retries} retries",
                            left.keys.len()
                        ),
                    }));
                }
                retries += 1;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
        Ok(found)
    }
}
