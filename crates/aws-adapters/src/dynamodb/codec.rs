//! Domain records ↔ DynamoDB items (layout: `docs/storage.md`).
//!
//! Both item kinds are the domain type's own serde shape (camelCase, times as epoch-second
//! numbers) mapped attribute by attribute, so the table reads like the API. Two deliberate
//! departures: a wave's `status` is stored as `waveStatus` (only execution headers may carry the
//! status index's key attributes), and a wave's `serverStatuses` is one gzip-compressed JSON binary attribute.

use std::collections::HashMap;
use std::io::Read;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::ids::ExecutionId;
use execution_core::model::{Execution, ExecutionHeader, Wave};
use execution_core::ports::StoreError;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{Map, Number, Value};

pub(crate) type Item = HashMap<String, AttributeValue>;

/// Table partition key: every item of one execution shares it.
pub(crate) const PK: &str = "executionId";
/// Table sort key: [`HEADER_SK`] or [`wave_sk`].
pub(crate) const SK: &str = "sk";
pub(crate) const HEADER_SK: &str = "EXECUTION";
const WAVE_SK_PREFIX: &str = "WAVE#";
/// Status index partition key (headers only).
pub(crate) const STATUS: &str = "status";
/// Status index sort key (headers only).
pub(crate) const CREATED_TIME: &str = "createdTime";
pub(crate) const PLAN_ID: &str = "planId";
pub(crate) const VERSION: &str = "version";
/// The header's poll marks, written only by `touch` (and `create`); a header update leaves them
/// alone. When the execution was last polled (the record's `lastPolledTime`), stored under a name
/// the status index does not project, so that a poll's touch writes the table alone.
pub(crate) const POLLED_TIME: &str = "polledTime";
/// The workflow run that conducts the execution: projected into the status index (find reads it
/// there), so `touch` writes it only when the run changes.
pub(crate) const WORKFLOW_RUN: &str = "workflowRun";
/// When the workflow run last polled or was started (the record's `workflowPolledTime`), under a
/// name the status index does not project.
pub(crate) const WORKFLOW_SEEN_TIME: &str = "workflowSeenTime";
/// Where earlier versions stored the two times (projected into the status index, so every poll
/// wrote the index too). Read still, the later of the two names winning; never written again, and
/// left on the items that have them. They are also the record's own (serde) names of the fields.
pub(crate) const OLD_POLLED_TIME: &str = "lastPolledTime";
pub(crate) const OLD_WORKFLOW_SEEN_TIME: &str = "workflowPolledTime";
/// The stored name of each renamed time, with its earlier (and the record's) name.
const RENAMED: [(&str, &str); 2] = [
    (POLLED_TIME, OLD_POLLED_TIME),
    (WORKFLOW_SEEN_TIME, OLD_WORKFLOW_SEEN_TIME),
];
/// The attributes only `touch` writes once the execution exists.
pub(crate) const TOUCH_OWNED: [&str; 3] = [POLLED_TIME, WORKFLOW_RUN, WORKFLOW_SEEN_TIME];
/// Every name a poll mark is or was stored under: what `list_active` reads from the table.
pub(crate) const MARK_ATTRIBUTES: [&str; 5] = [
    POLLED_TIME,
    OLD_POLLED_TIME,
    WORKFLOW_RUN,
    WORKFLOW_SEEN_TIME,
    OLD_WORKFLOW_SEEN_TIME,
];
/// Header: how many wave items the execution has; `load` checks it.
const WAVE_COUNT: &str = "waveCount";
/// A wave's own status (not `status`, which would put the wave into the status index).
const WAVE_STATUS: &str = "waveStatus";
const SERVER_STATUSES: &str = "serverStatuses";

/// The header's optional attributes: a header update REMOVEs those its new value lacks.
/// (`polledTime`, `workflowRun` and `workflowSeenTime` are optional too, but belong to `touch`.)
pub(crate) const HEADER_OPTIONAL: &[&str] = &[
    "planName",
    "startTime",
    "endTime",
    "pausedBeforeWave",
    "pauseReason",
    "failedWave",
    "taskToken",
    "statusMessage",
    "recoveryTimeSeconds",
    "restarts",
];

/// DynamoDB's item size limit.
pub(crate) const MAX_ITEM_BYTES: usize = 400 * 1024;

/// `WAVE#0003`: zero-padded so that items sort in wave order.
pub(crate) fn wave_sk(wave_number: u32) -> String {
    format!("{WAVE_SK_PREFIX}{wave_number:04}")
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn key(id: ExecutionId, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(id.to_string())), (SK.to_owned(), s(sk))])
}

pub(crate) fn header_key(id: ExecutionId) -> Item {
    key(id, HEADER_SK)
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn object<T: serde::Serialize>(value: &T, what: &str) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(corrupt(format!("{what} does not serialise to an object"))),
        Err(e) => Err(corrupt(format!("{what} does not serialise: {e}"))),
    }
}

/// The header's attributes under their stored names (the poll times renamed, [`RENAMED`]).
fn header_attributes(header: &ExecutionHeader) -> Result<Item, StoreError> {
    let mut item: Item = object(header, "execution header")?
        .iter()
        .map(|(k, v)| (k.clone(), to_attr(v)))
        .collect();
    for (stored, field) in RENAMED {
        if let Some(value) = item.remove(field) {
            item.insert(stored.to_owned(), value);
        }
    }
    Ok(item)
}

/// The header item: every header attribute, the keys, and `waveCount`.
pub(crate) fn header_item(header: &ExecutionHeader, wave_count: usize) -> Result<Item, StoreError> {
    let mut item = header_attributes(header)?;
    item.insert(SK.to_owned(), s(HEADER_SK));
    item.insert(
        WAVE_COUNT.to_owned(),
        AttributeValue::N(wave_count.to_string()),
    );
    Ok(item)
}

/// The attributes a header update SETs (all but the keys and the touch-owned attributes).
pub(crate) fn header_update_attributes(header: &ExecutionHeader) -> Result<Item, StoreError> {
    let mut item = header_attributes(header)?;
    for owned_elsewhere in [PK, SK].into_iter().chain(TOUCH_OWNED) {
        item.remove(owned_elsewhere);
    }
    Ok(item)
}

pub(crate) fn wave_item(id: ExecutionId, wave: &Wave) -> Result<Item, StoreError> {
    let mut fields = object(wave, "wave")?;
    let servers = fields
        .remove(SERVER_STATUSES)
        .unwrap_or(Value::Array(Vec::new()));
    let status = fields.remove(STATUS).unwrap_or(Value::Null);
    let mut item: Item = fields
        .iter()
        .map(|(k, v)| (k.clone(), to_attr(v)))
        .collect();
    item.insert(WAVE_STATUS.to_owned(), to_attr(&status));
    item.insert(SERVER_STATUSES.to_owned(), encode_servers(&servers)?);
    item.extend(key(id, wave_sk(wave.wave_number)));
    Ok(item)
}

/// Every item of one execution (any order) → the execution; `None` without a header item (wave
/// items without a header are leftovers of an interrupted create, and are not an execution).
pub(crate) fn decode_execution(
    id: ExecutionId,
    items: Vec<Item>,
) -> Result<Option<Execution>, StoreError> {
    let mut header = None;
    let mut waves = Vec::new();
    for item in items {
        match item.get(SK) {
            Some(AttributeValue::S(sk)) if sk == HEADER_SK => header = Some(decode_header(&item)?),
            Some(AttributeValue::S(sk)) if sk.starts_with(WAVE_SK_PREFIX) => {
                waves.push(decode_wave(&item)?)
            }
            // Other sort keys are not part of this layout; they are ignored, not fatal.
            _ => {}
        }
    }
    let Some((header, wave_count)) = header else {
        return Ok(None);
    };
    if header.execution_id != id {
        return Err(corrupt(format!(
            "the header stored under {id} names execution {}",
            header.execution_id
        )));
    }
    waves.sort_by_key(|w| w.wave_number);
    if let Some(expected) = wave_count {
        if waves.len() != expected {
            return Err(corrupt(format!(
                "execution {id} has {} wave items, its header says {expected}",
                waves.len()
            )));
        }
    }
    if let Some((i, w)) = (0u32..).zip(&waves).find(|(i, w)| w.wave_number != *i) {
        return Err(corrupt(format!(
            "execution {id}: wave {} stored where wave {i} belongs",
            w.wave_number
        )));
    }
    Ok(Some(Execution { header, waves }))
}

/// A header's poll marks as stored: each time under its name or its earlier one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct PollMarks {
    pub(crate) polled: Option<i64>,
    pub(crate) run: Option<String>,
    pub(crate) seen: Option<i64>,
}

/// The poll marks of a header item (or of the part of it a read projected). A time stored under
/// both names (a record of an earlier version polled since, or touched by an earlier version's
/// function during an upgrade) is the later of the two: marks only move forward.
pub(crate) fn poll_marks(item: &Item) -> Result<PollMarks, StoreError> {
    let time = |name: &str| match item.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse::<i64>()
            .map(Some)
            .map_err(|_| corrupt(format!("execution header: {name} '{n}' is not a time"))),
        Some(other) => Err(corrupt(format!(
            "execution header: {name} is not a number: {other:?}"
        ))),
    };
    let later = |stored: &str, old: &str| -> Result<Option<i64>, StoreError> {
        Ok(time(stored)?.max(time(old)?))
    };
    let run = match item.get(WORKFLOW_RUN) {
        None => None,
        Some(AttributeValue::S(run)) => Some(run.clone()),
        Some(other) => {
            return Err(corrupt(format!(
                "execution header: {WORKFLOW_RUN} is not a string: {other:?}"
            )))
        }
    };
    Ok(PollMarks {
        polled: later(POLLED_TIME, OLD_POLLED_TIME)?,
        run,
        seen: later(WORKFLOW_SEEN_TIME, OLD_WORKFLOW_SEEN_TIME)?,
    })
}

fn decode_header(item: &Item) -> Result<(ExecutionHeader, Option<usize>), StoreError> {
    let marks = poll_marks(item)?;
    let mut fields = to_fields(item, "execution header")?;
    fields.remove(SK);
    for (stored, field) in RENAMED {
        fields.remove(stored);
        fields.remove(field);
    }
    for (field, time) in [
        (OLD_POLLED_TIME, marks.polled),
        (OLD_WORKFLOW_SEEN_TIME, marks.seen),
    ] {
        if let Some(time) = time {
            fields.insert(field.to_owned(), Value::from(time));
        }
    }
    let wave_count = match fields.remove(WAVE_COUNT) {
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| corrupt("waveCount is not a count"))?,
        ),
        Some(other) => return Err(corrupt(format!("waveCount is not a number: {other}"))),
        None => None,
    };
    let header = serde_json::from_value(Value::Object(fields))
        .map_err(|e| corrupt(format!("execution header: {e}")))?;
    Ok((header, wave_count))
}

fn decode_wave(item: &Item) -> Result<Wave, StoreError> {
    let rest: Item = item
        .iter()
        .filter(|(k, _)| k.as_str() != SERVER_STATUSES)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut fields = to_fields(&rest, "wave")?;
    let sk = fields.remove(SK);
    fields.remove(PK);
    let status = fields
        .remove(WAVE_STATUS)
        .ok_or_else(|| corrupt(format!("wave item {sk:?} has no {WAVE_STATUS}")))?;
    fields.insert(STATUS.to_owned(), status);
    let servers = decode_servers(item.get(SERVER_STATUSES))
        .map_err(|e| corrupt(format!("wave item {sk:?}: serverStatuses: {e}")))?;
    fields.insert(SERVER_STATUSES.to_owned(), servers);
    let wave: Wave = serde_json::from_value(Value::Object(fields))
        .map_err(|e| corrupt(format!("wave item {sk:?}: {e}")))?;
    if sk.as_ref().and_then(Value::as_str) != Some(wave_sk(wave.wave_number).as_str()) {
        return Err(corrupt(format!(
            "wave item {sk:?} holds wave {}",
            wave.wave_number
        )));
    }
    Ok(wave)
}

/// A wave's `serverStatuses`, as gzip-compressed JSON in a binary attribute. The JSON of 200
/// servers with their EC2 details compresses about 8×: a 50 × 200 execution then loads in one
/// 1 MB Query page, and writing a 200-server wave costs about a tenth of the write units.
fn encode_servers(servers: &Value) -> Result<AttributeValue, StoreError> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    serde_json::to_writer(&mut gz, servers).map_err(|e| corrupt(format!("serverStatuses: {e}")))?;
    let bytes = gz
        .finish()
        .map_err(|e| corrupt(format!("serverStatuses: {e}")))?;
    Ok(AttributeValue::B(Blob::new(bytes)))
}

/// Reads the compressed form, and the plain JSON string form earlier versions wrote.
fn decode_servers(attr: Option<&AttributeValue>) -> Result<Value, String> {
    match attr {
        Some(AttributeValue::B(blob)) => {
            // A stored wave's JSON is well under this; the cap keeps a corrupt blob from
            // inflating without bound.
            let json = GzDecoder::new(blob.as_ref()).take(MAX_SERVER_STATUSES_JSON);
            serde_json::from_reader(json).map_err(|e| e.to_string())
        }
        Some(AttributeValue::S(json)) => serde_json::from_str(json).map_err(|e| e.to_string()),
        _ => Err("missing, or neither binary nor string".into()),
    }
}

const MAX_SERVER_STATUSES_JSON: u64 = 16 * 1024 * 1024;

fn to_fields(item: &Item, what: &str) -> Result<Map<String, Value>, StoreError> {
    item.iter()
        .map(|(k, v)| {
            from_attr(v)
                .map(|v| (k.clone(), v))
                .map_err(|e| corrupt(format!("{what}: attribute {k}: {e}")))
        })
        .collect()
}

pub(crate) fn to_attr(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(text) => AttributeValue::S(text.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_attr).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_attr(v))).collect())
        }
    }
}

pub(crate) fn from_attr(attr: &AttributeValue) -> Result<Value, String> {
    Ok(match attr {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::N(n) => Value::Number(parse_number(n)?),
        AttributeValue::L(items) => {
            Value::Array(items.iter().map(from_attr).collect::<Result<_, _>>()?)
        }
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(k, v)| from_attr(v).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("unsupported attribute type {other:?}")),
    })
}

fn parse_number(n: &str) -> Result<Number, String> {
    if let Ok(i) = n.parse::<i64>() {
        return Ok(i.into());
    }
    if let Ok(u) = n.parse::<u64>() {
        return Ok(u.into());
    }
    n.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .ok_or_else(|| format!("'{n}' is not a number"))
}

/// DynamoDB's own accounting of an item's size (names + values), as documented, rounded up.
pub(crate) fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + attr_size(value))
        .sum()
}

fn attr_size(attr: &AttributeValue) -> usize {
    match attr {
        AttributeValue::S(text) => text.len(),
        // One byte per two significant digits, plus one.
        AttributeValue::N(n) => n.bytes().filter(u8::is_ascii_digit).count().div_ceil(2) + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        // Three bytes of overhead, one per element.
        AttributeValue::L(items) => 3 + items.iter().map(|v| attr_size(v) + 1).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| k.len() + attr_size(v) + 1)
                .sum::<usize>()
        }
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        // Unknown future types: count generously rather than under-count.
        _ => 1024,
    }
}

#[cfg(test)]
#[path = "codec_tests.rs"]
mod tests;
