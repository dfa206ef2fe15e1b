//! The table's stream as Lambda delivers it: each record's `dynamodb` part holds `Keys` and
//! `NewImage` in DynamoDB JSON (`{"S": "..."}`, `{"N": "1"}`, `{"M": {...}}`, ...). Converted to
//! attribute values, an image is an item like any other, and a trail item decodes with
//! [`decode_event_item`], as the store's own reads do; one that does not is read by its keys
//! ([`read_stream_record`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::base64;
use execution_core::audit::AuditEvent;
use execution_core::ops::TrailRecord;
use execution_core::ports::StoreError;
use serde_json::{Map, Value};

use super::codec::{Item, PK, SK};
use super::events::{decode_event_item, event_item, TRAIL_PREFIX};

/// The item a stream image (`NewImage`, `OldImage` or `Keys`) describes.
pub fn item_from_stream_image(image: &Value) -> Result<Item, String> {
    let fields = image
        .as_object()
        .ok_or_else(|| format!("an image is a map of attributes, not {}", kind(image)))?;
    fields
        .iter()
        .map(|(name, v)| {
            Ok((
                name.clone(),
                attribute(v).map_err(|e| format!("{name}: {e}"))?,
            ))
        })
        .collect()
}

/// `item` in DynamoDB JSON, as a stream record carries it.
pub fn stream_image(item: &Item) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, v)| (name.clone(), typed(v)))
            .collect(),
    )
}

/// The item of `event` as the store writes it to the trail (for tests and fixtures that build
/// stream records of trail items).
pub fn trail_item(event: &AuditEvent) -> Result<Item, StoreError> {
    event_item(event)
}

/// The audit event a stream record's `dynamodb` part holds: `None` when its key is not a trail's
/// (a header or a wave); an error when it is one but its `NewImage` is missing (a stream that
/// does not carry new images) or does not decode.
pub fn decode_stream_record(record: &Value) -> Option<Result<AuditEvent, StoreError>> {
    let pk = record["Keys"][PK]["S"].as_str()?;
    if !pk.starts_with(TRAIL_PREFIX) {
        return None;
    }
    let corrupt = |why: String| StoreError::Corrupt(format!("stream record of {pk}: {why}"));
    let Some(image) = record.get("NewImage") else {
        return Some(Err(corrupt(
            "no NewImage (the stream must carry new images)".to_owned(),
        )));
    };
    let item = match item_from_stream_image(image) {
        Ok(item) => item,
        Err(e) => return Some(Err(corrupt(e))),
    };
    Some(
        decode_event_item(&item)
            .unwrap_or_else(|| Err(corrupt("its image is not a trail item".to_owned()))),
    )
}

/// A stream record's `dynamodb` part as the publisher reads it: `None` when its key is not a
/// trail's; the event; or, when it does not decode, the record's keys (`executionId` from the
/// `EVENTS#<id>` partition key, `eventId` from `sk`) and why, for the fallback notice the core
/// publishes in its place.
pub fn read_stream_record(record: &Value) -> Option<TrailRecord> {
    Some(match decode_stream_record(record)? {
        Ok(event) => TrailRecord::Event(event),
        Err(e) => {
            let key = |name: &str| record["Keys"][name]["S"].as_str().unwrap_or_default();
            TrailRecord::Unreadable {
                execution_id: key(PK).trim_start_matches(TRAIL_PREFIX).to_owned(),
                event_id: key(SK).to_owned(),
                why: e.to_string(),
            }
        }
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// One `{"<type>": value}` of DynamoDB JSON.
fn attribute(v: &Value) -> Result<AttributeValue, String> {
    let (tag, inner) = match v.as_object() {
        Some(m) if m.len() == 1 => m.iter().next().expect("one entry"),
        _ => return Err(format!("an attribute value is a map of one type, not {v}")),
    };
    let text = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{tag} holds a string, not {}", kind(v)))
    };
    let texts = |v: &Value| {
        v.as_array()
            .ok_or_else(|| format!("{tag} holds a list, not {}", kind(v)))?
            .iter()
            .map(text)
            .collect::<Result<Vec<_>, _>>()
    };
    let blob = |s: String| {
        base64::decode(&s)
            .map(Blob::new)
            .map_err(|e| format!("{tag}: not base64: {e}"))
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(text(inner)?),
        "B" => AttributeValue::B(blob(text(inner)?)?),
        "BOOL" => AttributeValue::Bool(
            inner
                .as_bool()
                .ok_or_else(|| format!("BOOL holds a boolean, not {}", kind(inner)))?,
        ),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(texts(inner)?),
        "NS" => AttributeValue::Ns(texts(inner)?),
        "BS" => AttributeValue::Bs(
            texts(inner)?
                .into_iter()
                .map(blob)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(|| format!("L holds a list, not {}", kind(inner)))?
                .iter()
                .enumerate()
                .map(|(i, v)| attribute(v).map_err(|e| format!("[{i}]: {e}")))
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(
            item_from_stream_image(inner)?
                .into_iter()
                .collect::<HashMap<_, _>>(),
        ),
        other => return Err(format!("unknown attribute type {other:?}")),
    })
}

fn typed(v: &AttributeValue) -> Value {
    let one = |tag: &str, value: Value| Value::Object(Map::from_iter([(tag.to_owned(), value)]));
    let strings = |xs: &[String]| Value::Array(xs.iter().cloned().map(Value::String).collect());
    match v {
        AttributeValue::S(s) => one("S", Value::String(s.clone())),
        AttributeValue::N(n) => one("N", Value::String(n.clone())),
        AttributeValue::B(b) => one("B", Value::String(base64::encode(b.as_ref()))),
        AttributeValue::Bool(b) => one("BOOL", Value::Bool(*b)),
        AttributeValue::Ss(xs) => one("SS", strings(xs)),
        AttributeValue::Ns(xs) => one("NS", strings(xs)),
        AttributeValue::Bs(xs) => one(
            "BS",
            Value::Array(
                xs.iter()
                    .map(|b| Value::String(base64::encode(b.as_ref())))
                    .collect(),
            ),
        ),
        AttributeValue::L(xs) => one("L", Value::Array(xs.iter().map(typed).collect())),
        AttributeValue::M(m) => one("M", stream_image(m)),
        // NULL, and any type a newer SDK adds: DynamoDB has no other.
        _ => one("NULL", Value::Bool(true)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_attribute_type_converts_both_ways() {
        let image = json!({
            "executionId": {"S": "EVENTS#x"},
            "n": {"N": "12.5"},
            "b": {"B": "aGVsbG8="},
            "ok": {"BOOL": true},
            "nothing": {"NULL": true},
            "ss": {"SS": ["a", "b"]},
            "ns": {"NS": ["1", "2"]},
            "bs": {"BS": ["aGk="]},
            "l": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"k": {"BOOL": false}}}]},
            "m": {"M": {"inner": {"L": []}}}
        });
        let item = item_from_stream_image(&image).unwrap();
        assert_eq!(item["b"], AttributeValue::B(Blob::new("hello")));
        assert_eq!(item["n"], AttributeValue::N("12.5".into()));
        assert_eq!(stream_image(&item), image);
    }

    #[test]
    fn a_trail_record_that_does_not_decode_is_read_by_its_keys() {
        use execution_core::audit::{self, Actor, Author};
        use execution_core::fixtures;

        let by = Author {
            actor: Actor::Workflow,
            operation: "poll".into(),
            at_millis: 1_767_225_600_000,
        };
        let event = audit::created(&fixtures::execution(&[1]), &by);
        let image = stream_image(&trail_item(&event).unwrap());
        let record = |image: Value| json!({"Keys": {"executionId": image["executionId"], "sk": image["sk"]}, "NewImage": image});
        assert_eq!(
            read_stream_record(&record(image.clone())),
            Some(TrailRecord::Event(event.clone()))
        );

        // A status a newer version wrote (a rolling deploy): its keys and why.
        let mut newer = image.clone();
        newer["event"]["M"]["execution"]["M"]["to"] = json!({"S": "QUARANTINED"});
        let Some(TrailRecord::Unreadable {
            execution_id,
            event_id,
            why,
        }) = read_stream_record(&record(newer))
        else {
            panic!("unreadable")
        };
        assert_eq!(execution_id, fixtures::EXECUTION_ID);
        assert_eq!(event_id, event.event_id);
        assert!(why.contains("QUARANTINED"), "{why}");

        // Keys only (a stream without new images): likewise.
        let keys_only = json!({"Keys": record(image)["Keys"].clone()});
        assert!(matches!(
            read_stream_record(&keys_only),
            Some(TrailRecord::Unreadable { why, .. }) if why.contains("no NewImage")
        ));

        // Not a trail's: not read at all.
        let header =
            json!({"executionId": {"S": fixtures::EXECUTION_ID}, "sk": {"S": "EXECUTION"}});
        assert_eq!(read_stream_record(&record(header)), None);
    }

    #[test]
    fn malformed_images_say_where() {
        for (image, says) in [
            (json!([]), "not a list"),
            (json!({"a": {"S": 1}}), "a: S holds a string"),
            (
                json!({"a": {"S": "x", "N": "1"}}),
                "a: an attribute value is a map of one type",
            ),
            (
                json!({"a": {"L": [{"X": 1}]}}),
                "a: [0]: unknown attribute type \"X\"",
            ),
            (json!({"a": {"B": "%%"}}), "a: B: not base64"),
        ] {
            let err = item_from_stream_image(&image).unwrap_err();
            assert!(err.contains(says), "{image}: {err}");
        }
    }
}
