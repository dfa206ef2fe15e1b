//! DynamoDB item sizes and capacity units of the executions table's items, computed from the
//! domain records the way aws-adapters' codec stores them (docs/storage.md: attributes in the
//! API's shape, each wave's `serverStatuses` as gzip-compressed JSON), without the AWS SDK
//! (which would cost a release build of this crate ~12 minutes). `tests/item_sizes.rs` checks
//! these against the adapter's own items in moto, so the two cannot drift apart unnoticed.

use execution_core::ids::ExecutionId;
use execution_core::model::{Execution, ExecutionHeader, Wave};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{Map, Value};

const SERVER_STATUSES: &str = "serverStatuses";

/// DynamoDB's item size limit.
pub const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The header's poll times as the codec stores them: under names the status index does not
/// project (the record's, and earlier versions', names on the right).
const RENAMED: [(&str, &str); 2] = [
    ("polledTime", "lastPolledTime"),
    ("workflowSeenTime", "workflowPolledTime"),
];

/// What the status index projects of a header and this version still writes: its keys (the
/// table's and the index's), `planId` and `workflowRun` (the index also projects
/// `lastPolledTime` and `workflowPolledTime`, which the codec no longer writes).
const INDEXED: [&str; 5] = [
    "executionId",
    "status",
    "createdTime",
    "planId",
    "workflowRun",
];

/// The header's attributes as the codec stores them.
fn header_attributes(header: &ExecutionHeader) -> Map<String, Value> {
    let mut item = object(header);
    for (stored, field) in RENAMED {
        if let Some(value) = item.remove(field) {
            item.insert(stored.into(), value);
        }
    }
    item
}

/// Size of the header item (`sk = EXECUTION`, `waveCount`).
pub fn header_item(header: &ExecutionHeader, wave_count: usize) -> usize {
    let mut item = header_attributes(header);
    item.insert("sk".into(), "EXECUTION".into());
    item.insert("waveCount".into(), wave_count.into());
    item_size(&item)
}

/// The header's status index entry, as far as this version writes it (`sk` included): a write
/// of the header costs an index write only when this changes.
pub fn index_entry(header: &ExecutionHeader) -> Map<String, Value> {
    let mut entry: Map<String, Value> = header_attributes(header)
        .into_iter()
        .filter(|(name, _)| INDEXED.contains(&name.as_str()))
        .collect();
    entry.insert("sk".into(), "EXECUTION".into());
    entry
}

/// Size of an index entry.
pub fn index_entry_size(entry: &Map<String, Value>) -> usize {
    item_size(entry)
}

/// Size of a wave item (`sk = WAVE#0003`, `waveStatus`, `serverStatuses` gzip-compressed).
pub fn wave_item(execution_id: ExecutionId, wave: &Wave) -> usize {
    let (mut item, servers) = wave_attributes(wave);
    item.insert("executionId".into(), execution_id.to_string().into());
    item.insert("sk".into(), format!("WAVE#{:04}", wave.wave_number).into());
    item_size(&item) + SERVER_STATUSES.len() + servers
}

/// Size of the whole execution as ONE item (the single-item design): the header's attributes
/// plus `waves`, a list of maps each holding a wave's attributes as the wave item stores them.
pub fn single_item(execution: &Execution) -> usize {
    let mut item = object(&execution.header);
    item.insert("sk".into(), "EXECUTION".into());
    let waves: usize = execution
        .waves
        .iter()
        .map(|w| {
            let (fields, servers) = wave_attributes(w);
            // A map element: its own 3 bytes, each entry's name, value and 1 byte; then 1 as an
            // element of the list.
            value_size(&Value::Object(fields)) + SERVER_STATUSES.len() + servers + 1 + 1
        })
        .sum();
    item_size(&item) + "waves".len() + 3 + waves
}

/// Every item of the execution, summed (what one strongly consistent Query reads).
pub fn execution_items(execution: &Execution) -> usize {
    header_item(&execution.header, execution.waves.len())
        + execution
            .waves
            .iter()
            .map(|w| wave_item(execution.id(), w))
            .sum::<usize>()
}

/// Write units of writing an item of `bytes`: 1 per KB, rounded up, at least 1.
pub fn write_units(bytes: usize) -> u64 {
    bytes.div_ceil(1024).max(1) as u64
}

/// Read units of a strongly consistent read of `bytes`: 1 per 4 KB, rounded up, at least 1.
pub fn read_units(bytes: usize) -> u64 {
    bytes.div_ceil(4096).max(1) as u64
}

/// Read units of an eventually consistent read of one item of `bytes` (a BatchGetItem bills each
/// item on its own): half of [`read_units`].
pub fn eventual_read_units(bytes: usize) -> f64 {
    read_units(bytes) as f64 / 2.0
}

/// A wave's attributes but `serverStatuses`, and the size of that (binary) attribute's value.
fn wave_attributes(wave: &Wave) -> (Map<String, Value>, usize) {
    let mut item = object(wave);
    let servers = item
        .remove(SERVER_STATUSES)
        .unwrap_or(Value::Array(Vec::new()));
    let status = item.remove("status").unwrap_or(Value::Null);
    item.insert("waveStatus".into(), status);
    (item, gzipped_len(&servers))
}

/// The codec's encoding of a server list: its JSON, gzip-compressed at the default level.
fn gzipped_len(servers: &Value) -> usize {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    // Serialising a JSON value into memory cannot fail.
    serde_json::to_writer(&mut gz, servers).unwrap_or_else(|e| unreachable!("{e}"));
    gz.finish()
        .map_or_else(|e| unreachable!("{e}"), |bytes| bytes.len())
}

fn object<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        // The records are plain structs: they always serialise to objects.
        other => unreachable!("a record serialised to {other:?}"),
    }
}

fn item_size(item: &Map<String, Value>) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// DynamoDB's documented accounting, as the adapter's `item_size` applies it.
fn value_size(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) => 1,
        // One byte per two significant digits, plus one.
        Value::Number(n) => {
            let digits = n.to_string().bytes().filter(u8::is_ascii_digit).count();
            digits.div_ceil(2) + 1
        }
        Value::String(s) => s.len(),
        Value::Array(items) => 3 + items.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        Value::Object(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + value_size(v) + 1)
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_round_up_per_kilobyte_and_per_four() {
        assert_eq!(write_units(0), 1);
        assert_eq!(write_units(1024), 1);
        assert_eq!(write_units(1025), 2);
        assert_eq!(read_units(4096), 1);
        assert_eq!(read_units(4097), 2);
        assert_eq!(eventual_read_units(300), 0.5);
        assert_eq!(eventual_read_units(4097), 1.0);
    }

    #[test]
    fn the_index_entry_moves_with_the_run_and_not_with_the_poll_times() {
        let mut header = crate::shapes::finished(crate::shapes::SHAPES[0])
            .unwrap()
            .header;
        header.workflow_run = Some("run-1".into());
        header.workflow_polled_time = Some(execution_core::model::Timestamp(10));
        let before = index_entry(&header);
        header.last_polled_time = Some(execution_core::model::Timestamp(20));
        header.workflow_polled_time = Some(execution_core::model::Timestamp(20));
        assert_eq!(index_entry(&header), before);
        header.workflow_run = Some("run-2".into());
        assert_ne!(index_entry(&header), before);
        assert!(index_entry_size(&before) < 1024);
    }

    #[test]
    fn values_count_as_dynamodb_counts_them() {
        assert_eq!(value_size(&Value::from(1_767_225_600_i64)), 6); // 10 digits
        assert_eq!(value_size(&Value::from("abc")), 3);
        assert_eq!(value_size(&serde_json::json!(["a", true])), 3 + 2 + 2);
        assert_eq!(value_size(&serde_json::json!({"k": "vv"})), 3 + 1 + 2 + 1);
    }
}
