//! `EventBridgeNotifier`: PutEvents' limits (10 entries, under 256 KB a call), the entries' shape,
//! and a call that succeeds while refusing entries (`FailedEntryCount`).

use std::sync::{Arc, Mutex};

use aws_adapters::{EventBridgeNotifier, MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES};
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_eventbridge::Client;
use aws_smithy_mocks::{mock, RuleMode};
use execution_core::audit::{Notice, NoticeKind, SOURCE};
use execution_core::ports::{Notifier, ServiceError};
use serde_json::{json, Value};

const BUS: &str = "drs-notices";

/// `n` notices whose details are about `size` bytes each.
fn notices(n: usize, size: usize) -> Vec<Notice> {
    (0..n)
        .map(|i| Notice {
            kind: NoticeKind::ALL[i % NoticeKind::ALL.len()],
            detail: json!({"notificationId": format!("e/{i:04}/x"), "pad": "p".repeat(size)}),
        })
        .collect()
}

fn ok_output(entries: usize) -> PutEventsOutput {
    PutEventsOutput::builder()
        .failed_entry_count(0)
        .set_entries(Some(
            (0..entries)
                .map(|i| {
                    PutEventsResultEntry::builder()
                        .event_id(format!("id-{i}"))
                        .build()
                })
                .collect(),
        ))
        .build()
}

/// One call as EventBridge received it: (source, detail type, bus, detail) per entry.
type Call = Vec<(String, String, String, Value)>;

fn recording() -> (aws_smithy_mocks::Rule, Arc<Mutex<Vec<Call>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let rule = mock!(Client::put_events).then_compute_output(move |r| {
        let call: Call = r
            .entries()
            .iter()
            .map(|e| {
                (
                    e.source().unwrap_or_default().to_owned(),
                    e.detail_type().unwrap_or_default().to_owned(),
                    e.event_bus_name().unwrap_or_default().to_owned(),
                    serde_json::from_str(e.detail().unwrap_or("null")).unwrap(),
                )
            })
            .collect();
        let n = call.len();
        seen.lock().unwrap().push(call);
        ok_output(n)
    });
    (rule, calls)
}

/// What EventBridge counts of one entry (User Guide, "Calculating PutEvents event entry size").
fn counted((source, detail_type, _, detail): &(String, String, String, Value)) -> usize {
    source.len() + detail_type.len() + detail.to_string().len()
}

#[tokio::test]
async fn notices_go_out_in_order_in_calls_of_at_most_ten_entries() {
    let (rule, calls) = recording();
    let notifier = EventBridgeNotifier::new(
        mocked_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]),
        BUS,
    );
    let sent = notices(25, 10);
    notifier.publish(&sent).await.unwrap();
    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 5],
        "PutEvents takes 1 to {MAX_ENTRIES_PER_CALL} entries"
    );
    let entries: Vec<_> = calls.into_iter().flatten().collect();
    for (entry, notice) in entries.iter().zip(&sent) {
        assert_eq!(entry.0, SOURCE);
        assert_eq!(entry.1, notice.kind.detail_type());
        assert_eq!(entry.2, BUS);
        assert_eq!(entry.3, notice.detail, "Detail is the notice's JSON");
    }
    assert_eq!(entries.len(), sent.len());
}

#[tokio::test]
async fn a_call_holds_less_than_256_kb_of_entries() {
    let (rule, calls) = recording();
    let notifier = EventBridgeNotifier::new(
        mocked_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]),
        BUS,
    );
    // 90 KB each: two fit in a call, three do not.
    notifier.publish(&notices(5, 90 * 1024)).await.unwrap();
    let sent = calls.lock().unwrap().clone();
    assert_eq!(sent.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    for call in &sent {
        let bytes: usize = call.iter().map(counted).sum();
        assert!(bytes < MAX_REQUEST_BYTES, "{bytes} bytes in one call");
    }

    // A notice over the limit alone is refused before anything is sent.
    let err = notifier
        .publish(&notices(1, MAX_REQUEST_BYTES))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ServiceError::Rejected(m) if m.contains("e/0000/x")),
        "{err:?}"
    );
    assert!(notifier.publish(&[]).await.is_ok());
    assert_eq!(
        calls.lock().unwrap().len(),
        3,
        "nothing sent for a refused or an empty publish"
    );
}

fn refusing(codes: &'static [Option<&'static str>]) -> aws_smithy_mocks::Rule {
    mock!(Client::put_events).then_output(move || {
        PutEventsOutput::builder()
            .failed_entry_count(codes.iter().filter(|c| c.is_some()).count() as i32)
            .set_entries(Some(
                codes
                    .iter()
                    .map(|code| match code {
                        None => PutEventsResultEntry::builder().event_id("ok").build(),
                        Some(code) => PutEventsResultEntry::builder()
                            .error_code(*code)
                            .error_message("refused")
                            .build(),
                    })
                    .collect(),
            ))
            .build()
    })
}

#[tokio::test]
async fn refused_entries_are_an_error_that_names_them() {
    let throttled = refusing(&[None, Some("ThrottlingException"), None]);
    let internal = refusing(&[Some("InternalFailure"), None, Some("ThrottlingException")]);
    let malformed = refusing(&[None, None, Some("MalformedDetail")]);
    let notifier = EventBridgeNotifier::new(
        mocked_client!(
            aws_sdk_eventbridge,
            RuleMode::Sequential,
            [&throttled, &internal, &malformed]
        ),
        BUS,
    );
    let three = notices(3, 10);

    let err = notifier.publish(&three).await.unwrap_err();
    let ServiceError::Throttled { message, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("1 of 3 entries failed")
            && message.contains("e/0001/x: ThrottlingException refused")
            && !message.contains("e/0000/x"),
        "{message}"
    );
    let err = notifier.publish(&three).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Unavailable { message, .. } if message.contains("e/0000/x: InternalFailure") && message.contains("e/0002/x: ThrottlingException")),
        "{err:?}"
    );
    let err = notifier.publish(&three).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Rejected(m) if m.contains("e/0002/x: MalformedDetail")),
        "{err:?}"
    );
}

#[tokio::test]
async fn call_errors_are_classified() {
    let throttled = mock!(Client::put_events)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .build();
    let server = mock!(Client::put_events)
        .sequence()
        .http_status(500, None)
        .build();
    let missing_bus = mock!(Client::put_events).then_error(|| {
        PutEventsError::generic(crate::common::meta(
            "ResourceNotFoundException",
            "Event bus drs-notices does not exist.",
        ))
    });
    let notifier = EventBridgeNotifier::new(
        mocked_client!(
            aws_sdk_eventbridge,
            RuleMode::Sequential,
            [&throttled, &server, &missing_bus]
        ),
        BUS,
    );
    let one = notices(1, 10);
    let err = notifier.publish(&one).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Throttled { message, .. } if message.starts_with("EventBridge PutEvents: ThrottlingException")),
        "{err:?}"
    );
    assert!(matches!(
        notifier.publish(&one).await,
        Err(ServiceError::Unavailable { .. })
    ));
    let err = notifier.publish(&one).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Rejected(m) if m.contains("does not exist")),
        "{err:?}"
    );
}
