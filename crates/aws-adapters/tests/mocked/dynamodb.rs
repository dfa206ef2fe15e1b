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
