//! `ExecutionStore` on one DynamoDB table: a header item and one item per wave for each
//! execution, and a sparse status index over the headers; `ServerLocks` on the same table (one
//! hold item per held source server). `docs/storage.md` is the layout.

mod batch;
mod codec;
mod create;
mod events;
mod expression;
mod holds;
mod list;
mod store;
mod stream;
mod table;
mod write;

use aws_sdk_dynamodb::Client;

pub use events::{decode_event_item, trail_key, EVENTS_PAGE_SIZE, TRAIL_PREFIX};
pub use holds::{decode_hold_item, hold_pk, HOLDER, HOLD_PREFIX, HOLD_SK, SINCE};
pub use stream::{
    decode_stream_record, item_from_stream_image, read_stream_record, stream_image, trail_item,
};
pub use table::{create_table, TableCreation};

/// DynamoDB's accounting of an item's size in bytes (what write units and the 400 KB limit count).
pub fn item_size(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> usize {
    codec::item_size(item)
}

/// Status index entries per `list_active` page unless told otherwise. Index entries are small
/// (~150 bytes), so this stays far below DynamoDB's 1 MB page.
pub const DEFAULT_PAGE_SIZE: i32 = 500;

/// The execution store on DynamoDB. Holds a client (built once per process) and names read once
/// from configuration.
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    index: String,
    page_size: i32,
    events_page_size: i32,
}

impl DynamoDbStore {
    pub fn new(client: Client, table: String, index: String) -> Self {
        Self {
            client,
            table,
            index,
            page_size: DEFAULT_PAGE_SIZE,
            events_page_size: EVENTS_PAGE_SIZE,
        }
    }

    /// The store of a deployed stack: a client from `sdk`, the table and index `settings` name.
    pub fn from_settings(sdk: &aws_config::SdkConfig, settings: &crate::Settings) -> Self {
        Self::new(
            Client::new(sdk),
            settings.table_name.clone(),
            settings.status_index.clone(),
        )
    }

    /// At most `n` (≥ 1) executions per `list_active` page.
    #[must_use]
    pub fn with_page_size(mut self, n: u16) -> Self {
        self.page_size = i32::from(n.max(1));
        self
    }

    /// At most `n` (≥ 1) events per `events` page.
    #[must_use]
    pub fn with_events_page_size(mut self, n: u16) -> Self {
        self.events_page_size = i32::from(n.max(1));
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn index(&self) -> &str {
        &self.index
    }
}

/// DynamoDB's cap on one TransactWriteItems: 100 actions.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// DynamoDB's cap on the items of one transaction, 4 MB, less a margin for the estimate.
pub const MAX_TRANSACTION_BYTES: usize = 4 * 1024 * 1024 - 64 * 1024;
