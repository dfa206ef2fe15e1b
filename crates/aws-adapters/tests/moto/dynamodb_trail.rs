//! The audit trail on the table: its items, where they live, and that they go in the same
//! transaction as the change they record (the store contract shows the rest on every store).

use std::collections::BTreeSet;

use aws_adapters::dynamodb::{decode_event_item, item_size, trail_key};
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::audit::{self, Actor, AuditEvent, Author};
use execution_core::ids::ExecutionId;
use execution_core::model::Execution;
use execution_core::ports::{Commit, ExecutionStore, StoreError};
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};

use crate::dynamodb::{execution, wave_write, Item, Table};

fn author() -> Author {
    Author {
        actor: Actor::Cli("moto".into()),
        operation: "start".into(),
        at_millis: 1_000_000,
    }
}

/// Every item of `id`'s trail partition, in sort key order, as stored.
async fn raw_trail(table: &Table, id: ExecutionId) -> Vec<Item> {
    table
        .client
        .query()
        .table_name(&table.name)
        .key_condition_expression("executionId = :id")
        .expression_attribute_values(":id", AttributeValue::S(trail_key(id)))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

/// The whole trail through the store, every page.
async fn trail(store: &dyn ExecutionStore, id: ExecutionId) -> Vec<AuditEvent> {
    let (mut events, mut cursor) = (vec![], None);
    loop {
        let page = store.events(id, cursor).await.unwrap();
        events.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return events,
        }
    }
}

/// Header + creation event + 99 waves is 101 items: more than one transaction, so create chunks
/// (98 waves and a check that the header is absent, then the last wave, the header and the event).
#[tokio::test]
async fn a_99_wave_execution_creates_with_its_event_and_loads_whole() {
    let table = Table::new().await;
    let store = table.store();
    let exec = execution(&[2; 99]);
    let created = audit::created(&exec, &author());
    store
        .create(&exec, std::slice::from_ref(&created))
        .await
        .unwrap();
    assert_eq!(store.load(exec.id()).await.unwrap().as_ref(), Some(&exec));
    assert_eq!(
        trail(&store, exec.id()).await,
        std::slice::from_ref(&created)
    );
    assert_eq!(table.raw(exec.id()).await.len(), 100, "header and 99 waves");
    assert_eq!(raw_trail(&table, exec.id()).await.len(), 1, "one event");

    // Another create of the id is refused by the first transaction's check: nothing changes.
    let mut other = execution(&[1; 99]);
    other.header.execution_id = exec.id();
    let again = audit::created(&other, &author());
    assert_eq!(
        store.create(&other, &[again]).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(store.load(exec.id()).await.unwrap(), Some(exec.clone()));
    assert_eq!(trail(&store, exec.id()).await, [created]);
}

#[tokio::test]
async fn a_trail_item_holds_its_keys_and_the_event_only_and_stays_out_of_the_status_index() {
    let table = Table::new().await;
    let store = table.store().with_page_size(1);
    let exec = execution(&[2, 1]);
    let created = audit::created(&exec, &author());
    store
        .create(&exec, std::slice::from_ref(&created))
        .await
        .unwrap();

    let items = raw_trail(&table, exec.id()).await;
    assert_eq!(items.len(), 1, "{items:?}");
    let item = &items[0];
    let keys: BTreeSet<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["executionId", "sk", "event"]));
    assert_eq!(item["executionId"].as_s().ok(), Some(&trail_key(exec.id())));
    assert_eq!(item["sk"].as_s().ok(), Some(&created.event_id));
    assert!(
        !item.contains_key("status") && !item.contains_key("createdTime"),
        "a trail item must never enter the status index: {item:?}"
    );
    assert!(matches!(item["event"], AttributeValue::M(_)), "{item:?}");
    assert_eq!(decode_event_item(item), Some(Ok(created)));

    // The index holds the header alone, and list_active lists the execution once.
    let index = table
        .client
        .scan()
        .table_name(&table.name)
        .index_name(crate::dynamodb::INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(index.count, 1, "{:?}", index.items);
    let (mut listed, mut cursor) = (vec![], None);
    loop {
        let page = store.list_active(cursor).await.unwrap();
        listed.extend(page.executions.into_iter().map(|a| a.execution_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(listed, [exec.id()]);
}

/// A change that wrote one wave is now two items, the wave and its event, in one transaction: an
/// event that cannot be written (its id is taken) takes the wave down with it.
#[tokio::test]
async fn a_wave_change_and_its_event_land_as_one_transaction() {
    let table = Table::new().await;
    let store = table.store();
    let mut exec: Execution = execution(&[2, 1]);
    exec.header.status = ExecutionStatus::Polling;
    let created = audit::created(&exec, &author());
    store
        .create(&exec, std::slice::from_ref(&created))
        .await
        .unwrap();
    let before = table.raw(exec.id()).await;

    let mut launched = exec.waves[0].clone();
    launched.status = WaveStatus::Started;
    launched.attempt = 1;
    for s in &mut launched.server_statuses {
        s.launch_status = LaunchStatus::Launched;
    }
    let mut commit = Commit::new(exec.id(), None, vec![wave_write(&exec.waves[0], launched)]);
    let event = audit::change(&exec, &commit, &author()).unwrap();

    let mut taken = event.clone();
    taken.event_id = created.event_id.clone();
    commit.events = vec![taken];
    assert_eq!(store.commit(&commit).await, Err(StoreError::Conflict));
    assert_eq!(
        table.raw(exec.id()).await,
        before,
        "the wave was not written"
    );
    assert_eq!(raw_trail(&table, exec.id()).await.len(), 1);

    commit.events = vec![event.clone()];
    store.commit(&commit).await.unwrap();
    let after = table.raw(exec.id()).await;
    assert_ne!(
        after["WAVE#0000"], before["WAVE#0000"],
        "the wave was written"
    );
    assert_eq!(after["WAVE#0001"], before["WAVE#0001"]);
    assert_eq!(after["EXECUTION"], before["EXECUTION"]);
    let trail_items = raw_trail(&table, exec.id()).await;
    assert_eq!(trail_items.len(), 2, "and its event");
    for item in &trail_items {
        assert!(
            item_size(item) < 1024,
            "an event of a few moves is small: {item:?}"
        );
    }
    assert_eq!(
        store
            .load(exec.id())
            .await
            .unwrap()
            .map(|e| e.waves[0].clone()),
        Some(commit.waves[0].wave.clone())
    );
    assert_eq!(trail(&store, exec.id()).await, [created, event]);
}

/// What an event adds to a change's write: the event of 200 servers launching names each one once
/// (the moves are grouped), so it stays about the size of the compressed wave item it records.
#[tokio::test]
async fn the_event_of_a_200_server_launch_names_every_server_in_under_6_kb() {
    let table = Table::new().await;
    let store = table.store();
    let exec = execution(&[200]);
    store
        .create(&exec, &[audit::created(&exec, &author())])
        .await
        .unwrap();
    let mut launched = exec.waves[0].clone();
    launched.status = WaveStatus::Started;
    launched.attempt = 1;
    launched.server_statuses = launched
        .server_statuses
        .into_iter()
        .enumerate()
        .map(|(n, s)| crate::dynamodb::launched(s, n))
        .collect();
    let mut commit = Commit::new(exec.id(), None, vec![wave_write(&exec.waves[0], launched)]);
    let event = audit::change(&exec, &commit, &author()).unwrap();
    let moves = &event.waves[0].servers;
    assert_eq!(moves.len(), 1, "one move: PENDING → LAUNCHED");
    assert_eq!(moves[0].source_server_ids.len(), 200);
    commit.events = vec![event.clone()];
    store.commit(&commit).await.unwrap();
    let wave = item_size(&table.raw(exec.id()).await["WAVE#0000"]);
    let trail_items = raw_trail(&table, exec.id()).await;
    let item = trail_items
        .iter()
        .find(|i| i["sk"].as_s().ok() == Some(&event.event_id))
        .unwrap();
    let event_bytes = item_size(item);
    assert!(
        event_bytes < 6 * 1024,
        "the event item is {event_bytes} bytes (its wave item {wave})"
    );
}
