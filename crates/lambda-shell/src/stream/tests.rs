//! The publish handler in-process: a real stream event's shape, a publisher or a pager that fails
//! half-way, a record that does not decode, a notice the bus refuses for good, an event that is
//! not a stream batch.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_adapters::dynamodb::{read_stream_record, stream_image, trail_item};
use execution_core::audit::{self, Actor, AuditEvent, Author, Decision, Notice, NoticeKind, Page};
use execution_core::fixtures;
use execution_core::ports::ServiceError;
use serde_json::json;

use super::*;

/// A stream batch as Lambda delivers it (the shape AWS documents for DynamoDB Streams events,
/// with a `NEW_IMAGE` stream): a trail INSERT, a header MODIFY and a wave INSERT.
const STREAM_EVENT: &str = include_str!("stream-event.json");

/// The bus and the topic. The bus delivers what it is given, and on the call numbered `fail_on`
/// (from 1) delivers the first half of the notices and then fails, as a PutEvents split over two
/// calls whose second fails does; it refuses for good any call holding the notice `refuses`. The
/// topic delivers each page, and fails the page numbered `page_fails_on`.
#[derive(Default)]
struct Bus {
    fail_on: Option<usize>,
    refuses: Option<String>,
    page_fails_on: Option<usize>,
    calls: Mutex<usize>,
    delivered: Mutex<Vec<Notice>>,
    page_calls: Mutex<usize>,
    pages: Mutex<Vec<Page>>,
}

impl Bus {
    fn failing_on(call: usize) -> Self {
        Self {
            fail_on: Some(call),
            ..Self::default()
        }
    }

    fn paging_fails_on(page: usize) -> Self {
        Self {
            page_fails_on: Some(page),
            ..Self::default()
        }
    }

    fn refusing(notification_id: String) -> Self {
        Self {
            refuses: Some(notification_id),
            ..Self::default()
        }
    }

    fn ids(&self) -> Vec<String> {
        self.delivered.lock().unwrap().iter().map(id).collect()
    }

    fn pages(&self) -> Vec<Page> {
        self.pages.lock().unwrap().clone()
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
        if let Some(refused) = &self.refuses {
            if notices.iter().any(|n| id(n) == *refused) {
                return Err(ServiceError::Rejected(format!(
                    "EventBridge PutEvents: could not build the request: notice {refused} is \
                     300000 bytes; an entry must be under 262144"
                )));
            }
        }
        let mut delivered = self.delivered.lock().unwrap();
        if self.fail_on == Some(call) {
            delivered.extend_from_slice(&notices[..notices.len() / 2]);
            return Err(ServiceError::unavailable("PutEvents: InternalFailure"));
        }
        delivered.extend_from_slice(notices);
        Ok(())
    }
}

#[async_trait]
impl Pager for Bus {
    async fn page(&self, page: &Page) -> Result<(), ServiceError> {
        let call = {
            let mut calls = self.page_calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        if self.page_fails_on == Some(call) {
            return Err(ServiceError::unavailable("SNS Publish: InternalError"));
        }
        self.pages.lock().unwrap().push(page.clone());
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
    publish_batch(
        bus,
        Some(bus),
        read_stream_record,
        &json!({"Records": records}),
    )
    .await
    .expect("a stream batch")
}

/// The records from the one named `sequence_number(from)` on: what Lambda delivers again.
fn from(records: &[Value], from: usize) -> Vec<Value> {
    records
        .iter()
        .skip_while(|r| r["dynamodb"]["SequenceNumber"] != json!(sequence_number(from)))
        .cloned()
        .collect()
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
    let answer = publish_batch(&bus, Some(&bus), read_stream_record, &event)
        .await
        .unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let pages = bus.pages();
    assert_eq!(pages.len(), 1, "the failed wave pages once: {pages:?}");
    assert!(
        pages[0].message.contains("\n\ndrctl retry ")
            && pages[0].subject.starts_with("drs-waves: Execution "),
        "{pages:?}"
    );

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

    assert_eq!(
        bus.pages(),
        events[..k - 1]
            .iter()
            .map(AuditEvent::page)
            .collect::<Vec<_>>(),
        "the records before k paged, record k not: its notices did not all go out"
    );

    // Lambda delivers record k and every later one again.
    let again = from(&records, k - 1);
    assert_eq!(again.len(), n - k + 1);
    let retried = Bus::default();
    assert_eq!(retry_from(&publish(&retried, &again).await), None);
    assert_eq!(
        retried.pages(),
        events[k - 1..]
            .iter()
            .map(AuditEvent::page)
            .collect::<Vec<_>>(),
        "every event paged once in all, in order"
    );

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
async fn a_pager_that_fails_half_way_is_retried_from_the_record_it_stopped_at() {
    let (n, k) = (5, 3);
    let events = trail_events(n);
    let records = trail_records(&events);
    let bus = Bus::paging_fails_on(k);

    let answer = publish(&bus, &records).await;
    assert_eq!(
        retry_from(&answer),
        Some(sequence_number(k - 1)),
        "record {k}'s page failed: {answer}"
    );
    let notices_of = |events: &[AuditEvent]| -> Vec<String> {
        events
            .iter()
            .flat_map(|e| e.notices())
            .map(|n| id(&n))
            .collect()
    };
    assert_eq!(bus.ids(), notices_of(&events[..k]), "its notices went out");
    assert_eq!(bus.pages().len(), k - 1);

    let retried = Bus::default();
    assert_eq!(
        retry_from(&publish(&retried, &from(&records, k - 1)).await),
        None
    );
    assert_eq!(
        retried.ids(),
        notices_of(&events[k - 1..]),
        "record k's notices again, same ids"
    );
    let pages: Vec<Page> = bus.pages().into_iter().chain(retried.pages()).collect();
    assert_eq!(
        pages,
        events.iter().map(AuditEvent::page).collect::<Vec<_>>(),
        "every page once, in order: the failed one is sent when its record is delivered again"
    );
}

/// The fallback notice's id of a trail record.
fn fallback_id(execution_id: &str, event_id: &str) -> String {
    format!("{execution_id}/{event_id}/{}", audit::FALLBACK_SLUG)
}

#[tokio::test]
async fn a_trail_record_that_does_not_decode_is_replaced_by_a_fallback_not_retried() {
    let events = trail_events(3);
    let mut records = trail_records(&events);
    // A status a newer version wrote, during a rolling deploy.
    records[1]["dynamodb"]["NewImage"]["event"]["M"]["execution"]["M"]["to"] =
        json!({"S": "QUARANTINED"});
    let bus = Bus::default();
    let answer = publish(&bus, &records).await;
    assert_eq!(retry_from(&answer), None, "it does not hold the shard up");
    let unreadable = fallback_id(fixtures::EXECUTION_ID, &events[1].event_id);
    let want: Vec<String> = events[0]
        .notices()
        .iter()
        .map(id)
        .chain([unreadable.clone()])
        .chain(events[2].notices().iter().map(id))
        .collect();
    assert_eq!(bus.ids(), want, "in the trail's order");
    let delivered = bus.delivered.lock().unwrap().clone();
    let fallback = delivered.iter().find(|n| id(n) == unreadable).unwrap();
    assert_eq!(fallback.kind, NoticeKind::Progress);
    assert_eq!(fallback.detail["executionId"], fixtures::EXECUTION_ID);
    assert_eq!(fallback.detail["eventId"], events[1].event_id.as_str());
    let summary = fallback.detail["summary"].as_str().unwrap();
    assert!(
        summary.contains("QUARANTINED") && summary.contains("drctl events"),
        "{summary}"
    );
    assert_eq!(
        bus.pages(),
        [events[0].page(), events[2].page()],
        "the readable events page"
    );

    // A record without its event, or without its new image (a stream of keys only), likewise.
    let mut records = trail_records(&events[..2]);
    records[0]["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("event");
    records[1]["dynamodb"]
        .as_object_mut()
        .unwrap()
        .remove("NewImage");
    let bus = Bus::default();
    assert_eq!(retry_from(&publish(&bus, &records).await), None);
    assert_eq!(
        bus.ids(),
        events[..2]
            .iter()
            .map(|e| fallback_id(fixtures::EXECUTION_ID, &e.event_id))
            .collect::<Vec<_>>()
    );

    // A fallback that fails is a failure as any other: delivered again from that record.
    let mut records = trail_records(&events);
    records[1]["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("event");
    let bus = Bus::failing_on(2);
    assert_eq!(
        retry_from(&publish(&bus, &records).await),
        Some(sequence_number(1))
    );
}

#[tokio::test]
async fn a_notice_the_bus_refuses_for_good_is_replaced_by_a_fallback_not_retried() {
    let events = trail_events(3);
    let records = trail_records(&events);
    let refused = id(&events[1].notices()[1]);
    let bus = Bus::refusing(refused.clone());
    let answer = publish(&bus, &records).await;
    assert_eq!(retry_from(&answer), None, "it does not hold the shard up");
    let ids = bus.ids();
    assert!(!ids.contains(&refused), "{ids:?}");
    let fallback = fallback_id(fixtures::EXECUTION_ID, &events[1].event_id);
    let want: Vec<String> = events[0]
        .notices()
        .iter()
        .map(id)
        .chain([id(&events[1].notices()[0]), fallback])
        .chain(events[2].notices().iter().map(id))
        .collect();
    assert_eq!(ids, want, "the others of its event go out, alone");
    assert_eq!(
        bus.pages(),
        events.iter().map(AuditEvent::page).collect::<Vec<_>>(),
        "its event still pages"
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
    let mut pager = execution_core::ports::mocks::MockPager::new();
    pager.expect_page().never();
    let answer = publish_batch(
        &notifier,
        Some(&pager),
        read_stream_record,
        &json!({"Records": records}),
    )
    .await
    .unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));
    let answer = publish_batch(
        &notifier,
        Some(&pager),
        read_stream_record,
        &json!({"Records": []}),
    )
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
        let err = publish_batch(&bus, Some(&bus), read_stream_record, &event)
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("not a DynamoDB stream event"),
            "{err}"
        );
    }
    assert!(bus.ids().is_empty());
}
