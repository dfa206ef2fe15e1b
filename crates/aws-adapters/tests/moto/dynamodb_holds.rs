//! Server holds on a real table (moto): racing claims are all or nothing and leave every server
//! with one holder; a hold item is its keys, `holder` and `since`, outside the status index and
//! outside the stream's publish filter. (The store contract's `hold` cases run in `dynamodb.rs`.)

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aws_adapters::dynamodb::{decode_event_item, hold_pk, HOLD_SK, TRAIL_PREFIX};
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::fixtures::server;
use execution_core::ids::{ExecutionId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{ExecutionStore, HoldClaim, ServerHold, ServerLocks, StoreError};
use tokio::sync::Barrier;

use crate::dynamodb::{Table, INDEX};

const RACERS: usize = 8;
const ROUNDS: usize = 6;

/// Racer `r`'s servers in round `round`: five of a ring of twelve, starting at `r` (or, in odd
/// rounds, at `3r`), so that every set overlaps several others.
fn claimed(round: usize, r: usize) -> Vec<usize> {
    let start = if round.is_multiple_of(2) { r } else { 3 * r };
    (0..5).map(|k| round * 100 + (start + k) % 12).collect()
}

/// Eight executions race to hold overlapping sets of servers, all at once, round after round: at
/// the end of each round every claimed server has one holder, each winner holds its whole set,
/// each loser (`Conflict`) holds nothing, and the winners' sets are disjoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_claims_leave_each_server_one_holder_and_every_claim_whole_or_absent() {
    let table = Table::new().await;
    let store = Arc::new(table.store());
    for round in 0..ROUNDS {
        let executions: Vec<ExecutionId> = (0..RACERS).map(|_| ExecutionId::new_random()).collect();
        let barrier = Arc::new(Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for (r, &e) in executions.iter().enumerate() {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let claims: Vec<HoldClaim> = claimed(round, r)
                .into_iter()
                .map(|n| HoldClaim {
                    hold: ServerHold {
                        source_server_id: server(n),
                        execution_id: e,
                        since: Timestamp(1000 + r as i64),
                    },
                    replaces: None,
                })
                .collect();
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.hold(&claims).await
            }));
        }
        let mut winners = Vec::new();
        for (r, task) in tasks.into_iter().enumerate() {
            match task.await.expect("racer panicked") {
                Ok(()) => winners.push(r),
                Err(StoreError::Conflict) => {}
                Err(other) => panic!("round {round}, racer {r}: {other}"),
            }
        }
        assert!(!winners.is_empty(), "round {round}: someone wins");

        let ring: BTreeSet<usize> = (0..RACERS).flat_map(|r| claimed(round, r)).collect();
        let ring: Vec<SourceServerId> = ring.into_iter().map(server).collect();
        let holds = store.holds(&ring).await.unwrap();
        let by_server: BTreeMap<SourceServerId, ServerHold> = holds
            .iter()
            .map(|h| (h.source_server_id.clone(), h.clone()))
            .collect();
        assert_eq!(
            by_server.len(),
            holds.len(),
            "round {round}: one hold per server"
        );
        for (r, &e) in executions.iter().enumerate() {
            let held: Vec<bool> = claimed(round, r)
                .into_iter()
                .map(|n| {
                    by_server
                        .get(&server(n))
                        .is_some_and(|h| h.execution_id == e)
                })
                .collect();
            if winners.contains(&r) {
                assert!(
                    held.iter().all(|h| *h),
                    "round {round}: winner {r} holds only {held:?} of its claim"
                );
            } else {
                assert!(
                    held.iter().all(|h| !h),
                    "round {round}: loser {r} holds {held:?} of its claim"
                );
            }
        }
        for h in &holds {
            let r = executions
                .iter()
                .position(|e| *e == h.execution_id)
                .unwrap_or_else(|| panic!("round {round}: a hold of no racer: {h:?}"));
            assert!(winners.contains(&r), "round {round}: {h:?} of a loser");
            assert_eq!(h.since, Timestamp(1000 + r as i64), "round {round}: {h:?}");
        }
        let mut taken = BTreeSet::new();
        for &r in &winners {
            for n in claimed(round, r) {
                assert!(taken.insert(n), "round {round}: server {n} won twice");
            }
        }
        assert_eq!(
            holds.len(),
            taken.len(),
            "round {round}: exactly the winners' servers are held"
        );
    }
}

/// A hold item is `executionId` = `SERVER#<id>`, `sk` = `HOLD`, `holder`, `since` and nothing else;
/// no hold enters the status index (nor `list_active`), and its key is not a trail's, so the
/// stream's publish filter (`EVENTS#` prefix) and publish's decoder pass it by.
#[tokio::test]
async fn a_hold_item_is_its_keys_holder_and_since_and_stays_out_of_the_index_and_the_trail() {
    let table = Table::new().await;
    let store = table.store();
    let e = ExecutionId::new_random();
    store
        .hold(&[HoldClaim {
            hold: ServerHold {
                source_server_id: server(5),
                execution_id: e,
                since: Timestamp(1_714_557_600),
            },
            replaces: None,
        }])
        .await
        .unwrap();
    let out = table
        .client
        .get_item()
        .table_name(&table.name)
        .key("executionId", AttributeValue::S(hold_pk(&server(5))))
        .key("sk", AttributeValue::S(HOLD_SK.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    let item = out.item.expect("the hold item");
    assert_eq!(
        item,
        HashMap::from([
            (
                "executionId".to_owned(),
                AttributeValue::S(format!("SERVER#{}", server(5)))
            ),
            ("sk".to_owned(), AttributeValue::S("HOLD".into())),
            ("holder".to_owned(), AttributeValue::S(e.to_string())),
            ("since".to_owned(), AttributeValue::N("1714557600".into())),
        ])
    );
    assert!(!hold_pk(&server(5)).starts_with(TRAIL_PREFIX));
    assert!(
        decode_event_item(&item).is_none(),
        "publish passes a hold by"
    );

    let index = table
        .client
        .scan()
        .table_name(&table.name)
        .index_name(INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(index.count, 0, "the status index holds no hold");
    let page = store.list_active(None).await.unwrap();
    assert!(page.executions.is_empty(), "{page:?}");
    // Nor does a hold look like an execution to load.
    assert_eq!(store.load(e).await.unwrap(), None);
}

/// A hand-edited hold that does not decode is `Corrupt`, naming its key, not a panic nor a skip.
#[tokio::test]
async fn an_unreadable_hold_on_the_table_is_corrupt() {
    let table = Table::new().await;
    table
        .client
        .put_item()
        .table_name(&table.name)
        .item("executionId", AttributeValue::S(hold_pk(&server(2))))
        .item("sk", AttributeValue::S(HOLD_SK.into()))
        .item(
            "holder",
            AttributeValue::S(ExecutionId::new_random().to_string()),
        )
        .item("since", AttributeValue::S("yesterday".into()))
        .send()
        .await
        .unwrap();
    match table.store().holds(&[server(1), server(2)]).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains(&hold_pk(&server(2))), "{m}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
