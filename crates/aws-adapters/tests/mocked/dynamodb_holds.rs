//! `ServerLocks` on DynamoDB through the real client answered by aws-smithy-mocks: request shapes
//! (consistent reads, 100 keys a call, one transaction, the conditions), UnprocessedKeys, and how
//! failures map. The behaviour itself is shown against moto (the store contract, the race).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_adapters::DynamoDbStore;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::{
    ConditionalCheckFailedException, TransactionCanceledException,
};
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, RuleMode};
use execution_core::fixtures::server;
use execution_core::ids::{ExecutionId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{HoldClaim, ServerHold, ServerLocks, ServiceError, StoreError};

use crate::common::meta;

const TABLE: &str = "executions";

type Item = HashMap<String, AttributeValue>;

fn store(mode: RuleMode, rules: &[&aws_smithy_mocks::Rule]) -> DynamoDbStore {
    DynamoDbStore::new(
        mocked_client!(aws_sdk_dynamodb, mode, rules.iter().copied()),
        TABLE.into(),
        "status-index".into(),
    )
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn hold_item(server: &str, holder: ExecutionId, since: i64) -> Item {
    HashMap::from([
        ("executionId".to_owned(), s(format!("SERVER#{server}"))),
        ("sk".to_owned(), s("HOLD")),
        ("holder".to_owned(), s(holder.to_string())),
        ("since".to_owned(), AttributeValue::N(since.to_string())),
    ])
}

/// The servers a BatchGetItem asks for, and whether it reads consistently.
fn asked(
    r: &aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemInput,
) -> (Vec<String>, bool) {
    let Some(k) = r.request_items().and_then(|m| m.get(TABLE)) else {
        return (vec![], false);
    };
    let servers = k
        .keys()
        .iter()
        .map(|key| {
            assert_eq!(key.get("sk"), Some(&s("HOLD")), "{key:?}");
            match key.get("executionId") {
                Some(AttributeValue::S(pk)) => pk.trim_start_matches("SERVER#").to_owned(),
                other => panic!("key {other:?}"),
            }
        })
        .collect();
    (servers, k.consistent_read() == Some(true))
}

/// 250 servers (and one named twice) are read in consistent BatchGetItems of at most 100 keys,
/// each key once; what DynamoDB leaves unprocessed is asked for again, consistently too.
#[tokio::test]
async fn holds_reads_consistently_100_keys_at_a_time_and_retries_unprocessed_keys() {
    let holder = ExecutionId::new_random();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&calls);
    let rule = mock!(Client::batch_get_item).then_compute_output(move |r| {
        let (servers, consistent) = asked(r);
        seen.lock().unwrap().push((servers.len(), consistent));
        // Every server is held; the first call of each batch leaves its last 10 keys
        // unprocessed.
        let (done, left) = if servers.len() > 10 {
            servers.split_at(servers.len() - 10)
        } else {
            (&servers[..], &[][..])
        };
        let items: Vec<Item> = done.iter().map(|sv| hold_item(sv, holder, 7)).collect();
        let mut out = BatchGetItemOutput::builder().responses(TABLE, items);
        if !left.is_empty() {
            let keys = left
                .iter()
                .map(|sv| {
                    HashMap::from([
                        ("executionId".to_owned(), s(format!("SERVER#{sv}"))),
                        ("sk".to_owned(), s("HOLD")),
                    ])
                })
                .collect();
            out = out.unprocessed_keys(
                TABLE,
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .unwrap(),
            );
        }
        out.build()
    });
    let st = store(RuleMode::MatchAny, &[&rule]);
    let mut servers: Vec<SourceServerId> = (0..250).map(server).collect();
    servers.push(server(3));
    let holds = st.holds(&servers).await.unwrap();
    assert_eq!(holds.len(), 250, "each held server once");
    assert!(holds
        .iter()
        .all(|h| h.execution_id == holder && h.since == Timestamp(7)));
    let mut got: Vec<_> = holds.iter().map(|h| h.source_server_id.clone()).collect();
    got.sort();
    assert_eq!(got, servers[..250]);
    // The batches go out a few at once: each of 100, 100 and 50 keys, and each one's retry of
    // its 10 unprocessed keys, in whatever order they interleave.
    let mut seen = calls.lock().unwrap().clone();
    seen.sort();
    assert_eq!(
        seen,
        [
            (10, true),
            (10, true),
            (10, true),
            (50, true),
            (100, true),
            (100, true)
        ]
    );
}

#[tokio::test]
async fn keys_left_unprocessed_for_good_are_throttled_not_a_loop() {
    let rule = mock!(Client::batch_get_item).then_compute_output(|r| {
        let k = r
            .request_items()
            .and_then(|m| m.get(TABLE))
            .cloned()
            .unwrap();
        BatchGetItemOutput::builder()
            .unprocessed_keys(TABLE, k)
            .build()
    });
    let st = store(RuleMode::MatchAny, &[&rule]);
    let r = st.holds(&[server(1)]).await;
    assert!(
        matches!(&r, Err(StoreError::Service(ServiceError::Throttled { message, .. })) if message.contains("unprocessed")),
        "{r:?}"
    );
    assert_eq!(rule.num_calls(), 9, "the first call and 8 retries");
}

#[tokio::test]
async fn an_unreadable_hold_is_corrupt_and_names_its_key() {
    let rule = mock!(Client::batch_get_item).then_output(|| {
        let mut item = hold_item(server(4).as_str(), ExecutionId::new_random(), 1);
        item.insert("holder".into(), s("someone"));
        BatchGetItemOutput::builder()
            .responses(TABLE, vec![item])
            .build()
    });
    let st = store(RuleMode::MatchAny, &[&rule]);
    match st.holds(&[server(4)]).await {
        Err(StoreError::Corrupt(m)) => {
            assert!(m.contains(&format!("SERVER#{}", server(4))), "{m}")
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn claim(e: ExecutionId, n: usize, replaces: Option<ExecutionId>) -> HoldClaim {
    HoldClaim {
        hold: ServerHold {
            source_server_id: server(n),
            execution_id: e,
            since: Timestamp(1000 + n as i64),
        },
        replaces,
    }
}

/// One TransactWriteItems of conditional Puts: the item, and the condition with the `replaces`
/// arm only when the claim has one.
#[tokio::test]
async fn hold_is_one_transaction_of_conditional_puts() {
    let (e, old) = (ExecutionId::new_random(), ExecutionId::new_random());
    let sent = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&sent);
    let rule = mock!(Client::transact_write_items).then_compute_output(move |r| {
        assert!(r.client_request_token().is_some_and(|t| !t.is_empty()));
        for action in r.transact_items() {
            let put = action.put().expect("a Put");
            seen.lock().unwrap().push((
                put.table_name().to_owned(),
                put.item().clone(),
                put.condition_expression().map(str::to_owned),
                put.expression_attribute_values()
                    .cloned()
                    .unwrap_or_default(),
            ));
        }
        TransactWriteItemsOutput::builder().build()
    });
    let st = store(RuleMode::MatchAny, &[&rule]);
    st.hold(&[claim(e, 0, None), claim(e, 1, Some(old))])
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 1);
    let sent = sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "one Put per claim");
    assert_eq!(sent[0].0, TABLE);
    assert_eq!(sent[0].1, hold_item(server(0).as_str(), e, 1000));
    assert_eq!(sent[1].1, hold_item(server(1).as_str(), e, 1001));
    assert_eq!(
        sent[0].2.as_deref(),
        Some("attribute_not_exists(#pk) OR #holder = :claimant")
    );
    assert_eq!(
        sent[0].3,
        HashMap::from([(":claimant".to_owned(), s(e.to_string()))])
    );
    assert_eq!(
        sent[1].2.as_deref(),
        Some("attribute_not_exists(#pk) OR #holder = :claimant OR #holder = :replaces")
    );
    assert_eq!(sent[1].3.get(":replaces"), Some(&s(old.to_string())));
}

#[tokio::test]
async fn a_refused_hold_is_conflict_and_other_failures_map_as_the_store_does() {
    let cancelled = |codes: &'static [&'static str]| {
        mock!(Client::transact_write_items).then_error(move || {
            let mut b = TransactionCanceledException::builder()
                .message("Transaction cancelled")
                .meta(meta(
                    "TransactionCanceledException",
                    "Transaction cancelled",
                ));
            for code in codes {
                b = b.cancellation_reasons(CancellationReason::builder().code(*code).build());
            }
            TransactWriteItemsError::TransactionCanceledException(b.build())
        })
    };
    let condition = cancelled(&["None", "ConditionalCheckFailed"]);
    let locked = cancelled(&["TransactionConflict", "None"]);
    let throttled = cancelled(&["ThrottlingError"]);
    let validation = cancelled(&["ValidationError"]);
    let http_500 = mock!(Client::transact_write_items)
        .sequence()
        .http_status(500, None)
        .build();
    let st = store(
        RuleMode::Sequential,
        &[&condition, &locked, &throttled, &validation, &http_500],
    );
    let e = ExecutionId::new_random();
    let claims = [claim(e, 0, None), claim(e, 1, None)];
    assert_eq!(st.hold(&claims).await, Err(StoreError::Conflict));
    assert_eq!(st.hold(&claims).await, Err(StoreError::Conflict));
    let r = st.hold(&claims).await;
    assert!(
        matches!(&r, Err(StoreError::Service(ServiceError::Throttled { .. }))),
        "{r:?}"
    );
    let r = st.hold(&claims).await;
    assert!(
        matches!(&r, Err(StoreError::Service(ServiceError::Rejected(_)))),
        "{r:?}"
    );
    let r = st.hold(&claims).await;
    assert!(
        matches!(
            &r,
            Err(StoreError::Service(ServiceError::Unavailable { .. }))
        ),
        "{r:?}"
    );
}

/// Refused before anything is sent: more than 100 claims, a server claimed twice (a transaction
/// cannot write an item twice).
/// No claim is nothing to do.
#[tokio::test]
async fn a_hold_that_cannot_be_one_transaction_is_rejected_unsent() {
    let rule = mock!(Client::transact_write_items)
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let st = store(RuleMode::MatchAny, &[&rule]);
    let e = ExecutionId::new_random();
    let many: Vec<_> = (0..101).map(|n| claim(e, n, None)).collect();
    let twice = [claim(e, 0, None), claim(e, 1, None), claim(e, 0, None)];
    let two_ways = [claim(e, 0, None), claim(ExecutionId::new_random(), 0, None)];
    for claims in [&many[..], &twice[..], &two_ways[..]] {
        let r = st.hold(claims).await;
        assert!(
            matches!(&r, Err(StoreError::Service(ServiceError::Rejected(_)))),
            "{r:?}"
        );
    }
    st.hold(&[]).await.unwrap();
    assert_eq!(rule.num_calls(), 0);
}

/// A DeleteItem per server, each conditional on the releaser holding it; a failed condition (held
/// by another, or by no one) is no error; any other failure is.
#[tokio::test]
async fn release_deletes_each_server_on_condition_and_a_failed_condition_is_fine() {
    let me = ExecutionId::new_random();
    let deleted = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&deleted);
    let wanted = me.to_string();
    let rule = mock!(Client::delete_item).then_compute_response(move |r| {
        assert_eq!(r.condition_expression(), Some("#holder = :me"));
        assert_eq!(
            r.expression_attribute_names()
                .and_then(|n| n.get("#holder")),
            Some(&"holder".to_owned())
        );
        assert_eq!(
            r.expression_attribute_values().and_then(|v| v.get(":me")),
            Some(&s(wanted.clone()))
        );
        let key = r.key().cloned().unwrap_or_default();
        assert_eq!(key.get("sk"), Some(&s("HOLD")));
        let pk = key
            .get("executionId")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap();
        seen.lock().unwrap().push(pk.clone());
        if pk.ends_with('1') {
            aws_smithy_mocks::MockResponse::Error(DeleteItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("The conditional request failed")
                    .meta(meta("ConditionalCheckFailedException", "failed"))
                    .build(),
            ))
        } else {
            aws_smithy_mocks::MockResponse::Output(DeleteItemOutput::builder().build())
        }
    });
    let st = store(RuleMode::MatchAny, &[&rule]);
    st.release(me, &[server(0), server(1), server(2), server(0)])
        .await
        .unwrap();
    let mut got = deleted.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        (0..3)
            .map(|n| format!("SERVER#{}", server(n)))
            .collect::<Vec<_>>(),
        "each server once"
    );

    let failing = mock!(Client::delete_item)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#
                    .into(),
            ),
        )
        .build();
    let st = store(RuleMode::MatchAny, &[&failing]);
    let r = st.release(me, &[server(0)]).await;
    assert!(
        matches!(&r, Err(StoreError::Service(ServiceError::Throttled { .. }))),
        "{r:?}"
    );
}
