//! The publish handler in-process: a real stream event's shape, a publisher that fails half-way,
//! a record that does not decode, an event that is not a stream batch.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_adapters::dynamodb::{decode_stream_record, stream_image, trail_item};
use execution_core::audit::{self, Actor, Author, Decision, Notice, NoticeKind};
use execution_core::fixtures;
use execution_core::ports::ServiceError;
use serde_json::json;

use super::*;

/// A stream batch as Lambda delivers it (the shape AWS documents for DynamoDB Streams events,
/// with a `NEW_IMAGE` stream): a trail INSERT, a header MODIFY and a wave INSERT.
const STREAM_EVENT: &str = include_str!("stream-event.json");

/// Delivers what it is given, and on the call numbered `fail_on` (from 1) delivers the first half
/// of the notices and then fails, as a PutEvents split over two calls whose second fails does.
#[derive(Default)]
struct Bus {
    fail_on: Option<usize>,
    calls: Mutex<usize>,
    delivered: Mutex<Vec<Notice>>,
}

impl Bus {
    fn failing_on(call: usize) -> Self {
        Self {
            fail_on: Some(call),
            ..Self::default()
        }
    }

    fn ids(&self) -> Vec<String> {
        self.delivered.lock().unwrap().iter().map(id).collect()
    }
}

#[async_trait]
impl Notifier for Bus {
    async fn publish(&self, notices: &[Notice]) -> Result<(), ServiceError> {
        let call = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        let mut delivered = self.delivered.lock().unwrap();
        if self.fail_on == Some(call) {
            delivered.extend_from_slice(&notices[..notices.len() / 2]);
            return Err(ServiceError::unavailable("PutEvents: InternalFailure"));
        }
        delivered.extend_from_slice(notices);
        Ok(())
    }
}

fn id(notice: &Notice) -> String {
    notice.detail["notificationId"]
        .as_str()
        .expect("a notificationId")
        .to_owned()
}

/// Trail events that each publish two notices (a decision and a status change).
fn trail_events(n: usize) -> Vec<AuditEvent> {
    let execution = fixtures::execution(&[1, 1]);
    (0..n)
        .map(|i| {
            let by = Author {
                actor: Actor::Workflow,
                operation: "poll".into(),
                at_millis: 1_767_225_600_000 + i as i64,
            };
            let mut event = audit::created(&execution, &by);
            event.event_id = audit::event_id(10 + i as u64, "h1");
            event.decision = Some(Decision::PlannedPause);
            event.paused_before_wave = Some(1);
            event
        })
        .collect()
}

fn sequence_number(i: usize) -> String {
    format!("{}", 4_421_584_500_000_000_017_450_439_000u128 + i as u128)
}

/// A stream record of `item`, as Lambda delivers it.
fn record(i: usize, event_name: &str, image: Value) -> Value {
    let keys = json!({"executionId": image["executionId"], "sk": image["sk"]});
    json!({
        "eventID": format!("event-{i}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_767_225_600,
            "Keys": keys,
            "NewImage": image,
            "SequenceNumber": sequence_number(i),
            "SizeBytes": 512,
            "StreamViewType": "NEW_IMAGE"
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
    })
}

fn trail_records(events: &[AuditEvent]) -> Vec<Value> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| record(i, "INSERT", stream_image(&trail_item(e).unwrap())))
        .collect()
}

async fn publish(bus: &Bus, records: &[Value]) -> Value {
    publish_batch(bus, decode_stream_record, &json!({"Records": records}))
        .await
        .expect("a stream batch")
}

fn retry_from(answer: &Value) -> Option<String> {
    let failures = answer["batchItemFailures"].as_array().expect("a list");
    assert!(failures.len() <= 1, "{answer}");
    failures
        .first()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn only_the_trail_insert_of_a_real_stream_event_is_published() {
    let event: Value = serde_json::from_str(STREAM_EVENT).unwrap();
    let bus = Bus::default();
    let answer = publish_batch(&bus, decode_stream_record, &event)
        .await
        .unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));

    let delivered = bus.delivered.lock().unwrap().clone();
    let kinds: Vec<&str> = delivered.iter().map(|n| n.kind.detail_type()).collect();
    assert_eq!(
        kinds,
        [
            "Execution Needs Decision",
            "Execution Status Change",
            "Wave Status Change"
        ]
    );
    let execution = fixtures::EXECUTION_ID;
    for notice in &delivered {
        let d = &notice.detail;
        assert_eq!(d["executionId"], execution);
        assert_eq!(d["eventId"], "000000000007-h5");
        assert_eq!(
            d["pages"],
            notice.kind == NoticeKind::NeedsDecision,
            "a failed wave waits for a decision: its first notice pages"
        );
        assert!(
            id(notice).starts_with(&format!("{execution}/000000000007-h5/")),
            "{}",
            id(notice)
        );
        let message = d["message"].as_str().unwrap();
        assert!(
            message.contains("wave 1 (app tier) FAILED")
                && message.contains(&format!("drctl retry {execution}")),
            "{message}"
        );
        assert_eq!(
            d["waves"][0]["serversNowIn"],
            json!({"FAILED": 1}),
            "a notice counts servers, the trail lists them"
        );
    }
}

#[tokio::test]
async fn a_publisher_that_fails_half_way_is_retried_from_the_record_it_stopped_at() {
    let (n, k) = (6, 4);
    let events = trail_events(n);
    let records = trail_records(&events);
    let bus = Bus::failing_on(k);

    let answer = publish(&bus, &records).await;
    assert_eq!(
        retry_from(&answer),
        Some(sequence_number(k - 1)),
        "record {k} is the first not known to be published: {answer}"
    );
    let first_time = bus.ids();
    assert_eq!(
        first_time.len(),
        2 * (k - 1) + 1,
        "records before k, and half of record k"
    );

    // Lambda delivers record k and every later one again.
    let again: Vec<Value> = records
        .iter()
        .skip_while(|r| r["dynamodb"]["SequenceNumber"] != json!(sequence_number(k - 1)))
        .cloned()
        .collect();
    assert_eq!(again.len(), n - k + 1);
    let retried = Bus::default();
    assert_eq!(retry_from(&publish(&retried, &again).await), None);

    let mut times: BTreeMap<String, usize> = BTreeMap::new();
    for id in first_time.iter().chain(&retried.ids()) {
        *times.entry(id.clone()).or_default() += 1;
    }
    for (i, event) in events.iter().enumerate() {
        for notice in event.notices() {
            let seen = times.get(&id(&notice)).copied().unwrap_or(0);
            match i + 1 {
                r if r < k => assert_eq!(seen, 1, "record {r}: published once"),
                r => assert!(seen >= 1, "record {r}: {} never published", id(&notice)),
            }
        }
    }
    // The half that went out before the failure went out again under the same ids.
    let half = &first_time[2 * (k - 1)..];
    assert!(half.iter().all(|id| times[id] == 2), "{half:?}");
    assert_eq!(
        retried.ids()[..2],
        events[k - 1].notices().iter().map(id).collect::<Vec<_>>()[..],
        "record k's notices, the same ids the second time"
    );
    assert_eq!(times.len(), 2 * n, "nothing but the trail's notices");
}

#[tokio::test]
async fn a_trail_record_that_does_not_decode_is_reported_not_dropped() {
    let events = trail_events(3);
    let mut records = trail_records(&events);
    records[1]["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("event");
    let bus = Bus::default();
    let answer = publish(&bus, &records).await;
    assert_eq!(retry_from(&answer), Some(sequence_number(1)));
    assert_eq!(
        bus.ids(),
        events[0].notices().iter().map(id).collect::<Vec<_>>(),
        "the records before it are published, none after it"
    );

    // A trail record without its new image (a stream that carries keys only) likewise.
    let mut records = trail_records(&events[..1]);
    records[0]["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("NewImage");
    assert_eq!(
        retry_from(&publish(&Bus::default(), &records).await),
        Some(sequence_number(0))
    );
}

#[tokio::test]
async fn changes_that_are_not_trail_inserts_are_skipped() {
    let events = trail_events(2);
    let mut records = trail_records(&events);
    records[0]["eventName"] = json!("MODIFY");
    records[1]["eventName"] = json!("REMOVE");
    let header = fixtures::execution(&[1]).header;
    records.push(record(
        2,
        "INSERT",
        json!({"executionId": {"S": header.execution_id.to_string()}, "sk": {"S": "EXECUTION"}}),
    ));
    let mut notifier = execution_core::ports::mocks::MockNotifier::new();
    notifier.expect_publish().never();
    let answer = publish_batch(
        &notifier,
        decode_stream_record,
        &json!({"Records": records}),
    )
    .await
    .unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let answer = publish_batch(&notifier, decode_stream_record, &json!({"Records": []}))
        .await
        .unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn an_event_that_is_not_a_stream_batch_fails_whole() {
    let bus = Bus::default();
    for event in [
        json!({"operation": "find"}),
        json!({"Records": [{"eventID": "1", "eventName": "INSERT", "dynamodb": {}}]}),
    ] {
        let err = publish_batch(&bus, decode_stream_record, &event)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("not a DynamoDB stream event"),
            "{err}"
        );
    }
    assert!(bus.ids().is_empty());
}
