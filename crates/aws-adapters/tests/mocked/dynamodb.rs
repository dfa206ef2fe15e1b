use aws_adapters::DynamoDbStore;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::error::{
    TransactionCanceledException, TransactionInProgressException,
};
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, RuleMode};
use execution_core::fixtures;
use execution_core::ports::{
    Commit, ExecutionStore, HeaderWrite, ServiceError, StoreError, WaveWrite,
};

use crate::common::meta;

/// A commit of two items (the header and a wave), which goes out as one transaction.
fn two_item_commit() -> Commit {
    let execution = fixtures::execution(&[1]);
    let wave = execution.waves[0].clone();
    let mut header = execution.header.clone();
    header.version += 1;
    Commit {
        execution_id: execution.id(),
        header: Some(HeaderWrite {
            expected_version: execution.header.version,
            header,
        }),
        waves: vec![WaveWrite {
            expected_version: wave.version,
            wave,
        }],
        events: vec![],
    }
}

fn store(rules: &[&aws_smithy_mocks::Rule]) -> DynamoDbStore {
    DynamoDbStore::new(
        mocked_client!(
            aws_sdk_dynamodb,
            RuleMode::Sequential,
            rules.iter().copied()
        ),
        "executions".into(),
        "status-index".into(),
    )
}

/// `TransactionInProgressException` (HTTP 400) says the same transaction is still being applied:
/// worth retrying, not a refusal (a `Rejected` store error would fail the operation for good).
#[tokio::test]
async fn a_transaction_in_progress_is_worth_retrying() {
    let typed = mock!(Client::transact_write_items).then_error(|| {
        TransactWriteItemsError::TransactionInProgressException(
            TransactionInProgressException::builder()
                .message("transaction in progress")
                .meta(meta(
                    "TransactionInProgressException",
                    "transaction in progress",
                ))
                .build(),
        )
    });
    let wire = mock!(Client::transact_write_items)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionInProgressException","message":"in progress"}"#
                    .into(),
            ),
        )
        .build();
    let s = store(&[&typed, &wire]);
    for _ in 0..2 {
        let r = s.commit(&two_item_commit()).await;
        assert!(
            matches!(
                &r,
                Err(StoreError::Service(ServiceError::Unavailable { message, .. }))
                    if message.contains("TransactionInProgressException")
            ),
            "{r:?}"
        );
    }
}

/// The cancellation reasons still tell a lost race from throttling.
#[tokio::test]
async fn cancellation_reasons_are_told_apart() {
    let cancelled = |code: &'static str| {
        mock!(Client::transact_write_items).then_error(move || {
            TransactWriteItemsError::TransactionCanceledException(
                TransactionCanceledException::builder()
                    .message("Transaction cancelled")
                    .cancellation_reasons(CancellationReason::builder().code("None").build())
                    .cancellation_reasons(CancellationReason::builder().code(code).build())
                    .meta(meta(
                        "TransactionCanceledException",
                        "Transaction cancelled",
                    ))
                    .build(),
            )
        })
    };
    let conflict = cancelled("TransactionConflict");
    let throttled = cancelled("ThrottlingError");
    let s = store(&[&conflict, &throttled]);
    assert_eq!(
        s.commit(&two_item_commit()).await,
        Err(StoreError::Conflict)
    );
    assert!(matches!(
        s.commit(&two_item_commit()).await,
        Err(StoreError::Service(ServiceError::Throttled { .. }))
    ));
}

/// `list_active` pages the status index, then reads the page's poll marks from the headers: one
/// BatchGetItem of their keys, eventually consistent, projected to the keys and the marks (new
/// names and old); keys left unprocessed are asked for again, read the same way; an execution
/// whose header the read did not return keeps its index entry, without poll marks.
#[tokio::test]
async fn list_active_reads_the_marks_from_the_headers_and_keeps_an_entry_whose_header_is_unread() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
    use execution_core::ids::ExecutionId;
    use execution_core::model::Timestamp;

    type Item = HashMap<String, AttributeValue>;
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: i64| AttributeValue::N(v.to_string());
    let (a, b, gone) = (
        ExecutionId::new_random(),
        ExecutionId::new_random(),
        ExecutionId::new_random(),
    );
    let key = move |id: ExecutionId| -> Item {
        HashMap::from([
            ("executionId".to_owned(), s(&id.to_string())),
            ("sk".to_owned(), s("EXECUTION")),
        ])
    };
    let entry = move |id: ExecutionId, created: i64| -> Item {
        let mut item = key(id);
        item.extend([
            ("status".to_owned(), s("POLLING")),
            ("createdTime".to_owned(), n(created)),
            ("planId".to_owned(), s(fixtures::PLAN_ID)),
            ("workflowRun".to_owned(), s("run-index")),
            // The index's frozen copy: never read.
            ("lastPolledTime".to_owned(), n(1)),
        ]);
        item
    };
    let query = mock!(Client::query).then_output(move || {
        QueryOutput::builder()
            .items(entry(a, 10))
            .items(entry(b, 11))
            .items(entry(gone, 12))
            .build()
    });
    /// Each BatchGetItem: the execution ids asked for, whether consistently, the attribute names.
    type Asked = Vec<(Vec<String>, Option<bool>, String)>;
    let asked: Arc<Mutex<Asked>> = Arc::default();
    let batch = |first: bool| {
        let log = Arc::clone(&asked);
        mock!(Client::batch_get_item).then_compute_output(move |r| {
            let k = r.request_items().unwrap()["executions"].clone();
            let ids: Vec<String> = k
                .keys()
                .iter()
                .map(|key| key["executionId"].as_s().unwrap().clone())
                .collect();
            let mut names: Vec<&String> = k
                .expression_attribute_names()
                .map(|m| m.values().collect())
                .unwrap_or_default();
            names.sort();
            let names = names.into_iter().cloned().collect::<Vec<_>>().join(",");
            log.lock()
                .unwrap()
                .push((ids.clone(), k.consistent_read(), names));
            let header = |id: ExecutionId, polled: i64| {
                let mut item = key(id);
                item.remove("sk");
                item.insert("polledTime".into(), n(polled));
                item.insert("lastPolledTime".into(), n(1));
                item.insert("workflowRun".into(), s("run-header"));
                item.insert("workflowSeenTime".into(), n(polled - 5));
                item
            };
            if first {
                // a answered; b and the vanished one left unprocessed.
                let left = KeysAndAttributes::builder()
                    .set_keys(Some(vec![key(b), key(gone)]))
                    .build()
                    .unwrap();
                BatchGetItemOutput::builder()
                    .responses("executions", vec![header(a, 500)])
                    .unprocessed_keys("executions", left)
                    .build()
            } else {
                BatchGetItemOutput::builder()
                    .responses("executions", vec![header(b, 600)])
                    .build()
            }
        })
    };
    let (first, retry) = (batch(true), batch(false));
    let store = store(&[&query, &first, &retry]);
    let page = store.list_active(None).await.unwrap();
    let got: Vec<_> = page
        .executions
        .iter()
        .map(|e| {
            (
                e.execution_id,
                e.created_time,
                e.last_polled_time,
                e.workflow_run.as_deref(),
                e.workflow_polled_time,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                a,
                Timestamp(10),
                Some(Timestamp(500)),
                Some("run-header"),
                Some(Timestamp(495))
            ),
            (
                b,
                Timestamp(11),
                Some(Timestamp(600)),
                Some("run-header"),
                Some(Timestamp(595))
            ),
            (gone, Timestamp(12), None, Some("run-index"), None),
        ],
        "the headers' marks, in the index's order; the unread header's entry as the index has it"
    );
    assert_eq!(page.next_cursor.as_deref(), Some("CANCELLING"));
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 2);
    let mut first = asked[0].0.clone();
    first.sort();
    let mut all = vec![a.to_string(), b.to_string(), gone.to_string()];
    all.sort();
    assert_eq!(first, all);
    let mut retried = asked[1].0.clone();
    retried.sort();
    let mut left = vec![b.to_string(), gone.to_string()];
    left.sort();
    assert_eq!(retried, left);
    for (_, consistent, names) in &asked {
        assert_ne!(*consistent, Some(true), "eventually consistent reads");
        assert_eq!(
            names,
            "executionId,lastPolledTime,polledTime,workflowPolledTime,workflowRun,workflowSeenTime",
            "the keys and the marks only"
        );
    }
}

/// The UpdateItem a touch sends: the recorded run's mark SETs the two times and not the run (the
/// status index projects `workflowRun`: an unchanged value is not written), on the condition that
/// the header names a run; when that condition fails, the run is written after all. A new run's
/// mark SETs the run.
#[tokio::test]
async fn a_touch_sets_the_run_only_when_it_is_new() {
    use std::sync::{Arc, Mutex};

    use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use execution_core::model::Timestamp;
    use execution_core::ports::Touch;

    let run = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-1";
    /// Each UpdateItem: its update expression, its condition, the attributes it SETs.
    type Sent = Vec<(String, String, Vec<String>)>;
    let sent: Arc<Mutex<Sent>> = Arc::default();
    let record = |fail: bool| {
        let log = Arc::clone(&sent);
        let rule = mock!(Client::update_item).match_requests(move |r| {
            let mut names: Vec<String> = r
                .expression_attribute_names()
                .map(|m| {
                    m.iter()
                        .filter(|(placeholder, _)| {
                            r.update_expression()
                                .unwrap_or_default()
                                .contains(*placeholder)
                        })
                        .map(|(_, name)| name.clone())
                        .collect()
                })
                .unwrap_or_default();
            names.sort();
            log.lock().unwrap().push((
                r.update_expression().unwrap_or_default().to_owned(),
                r.condition_expression().unwrap_or_default().to_owned(),
                names,
            ));
            true
        });
        if fail {
            rule.then_error(|| {
                UpdateItemError::ConditionalCheckFailedException(
                    ConditionalCheckFailedException::builder()
                        .message("failed")
                        .meta(meta("ConditionalCheckFailedException", "failed"))
                        .build(),
                )
            })
        } else {
            rule.then_output(|| UpdateItemOutput::builder().build())
        }
    };
    let id = fixtures::execution_id();
    let (same, new, fails, again) = (record(false), record(false), record(true), record(false));
    let s = store(&[&same, &new, &fails, &again]);
    let seen = Touch::poll_of(Timestamp(1200), Some(run), Some(run));
    s.touch(id, &seen).await.unwrap();
    s.touch(
        id,
        &Touch::poll_of(Timestamp(1260), Some(run), Some("run-0")),
    )
    .await
    .unwrap();
    // A header without a run (never in practice): the run is written after all.
    s.touch(id, &seen).await.unwrap();
    let sent = sent.lock().unwrap().clone();
    let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(sent.len(), 4);
    assert_eq!(
        sent[0].2,
        set(&["polledTime", "workflowSeenTime"]),
        "{sent:?}"
    );
    assert!(sent[0].1.contains("attribute_exists(#run)"), "{sent:?}");
    for i in [1, 3] {
        assert_eq!(
            sent[i].2,
            set(&["polledTime", "workflowRun", "workflowSeenTime"]),
            "{sent:?}"
        );
        assert_eq!(sent[i].1, "attribute_exists(#pk)", "{sent:?}");
    }
    assert_eq!(sent[2], sent[0]);
}
