//! The poll marks against moto: a touch writes them on the header under names the status index
//! does not project (`polledTime`, `workflowSeenTime`), and the projected `workflowRun` only when
//! the run changes, so a poll that changes nothing leaves the index entry as it was;
//! `list_active` reads them back from the headers (one BatchGetItem per 100 listed executions),
//! and a record written with the earlier names (`lastPolledTime`, `workflowPolledTime`) loads
//! and lists with its marks.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::model::{Execution, Timestamp};
use execution_core::ops::heal::stale;
use execution_core::ops::{self, FindConfig};
use execution_core::ports::mocks::FixedClock;
use execution_core::ports::{
    ActiveExecution, DispatchError, ExecutionStore, PollDispatch, Touch, WorkflowMark,
};
use execution_core::status::ExecutionStatus;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::dynamodb::{execution, Item, Table};

const RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-1";
const NEXT_RUN: &str = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-1-c1";

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A POLLING execution of one wave, created at `created`.
async fn polling(table: &Table, created: i64) -> Execution {
    let mut e = execution(&[1]);
    e.header.status = ExecutionStatus::Polling;
    e.header.created_time = Timestamp(created);
    table.store().create(&e, &[]).await.unwrap();
    e
}

async fn touch(table: &Table, id: ExecutionId, touch: Touch) {
    table.store().touch(id, &touch).await.unwrap();
}

/// Every execution `list_active` lists, page after page, by id.
async fn listed(table: &Table) -> BTreeMap<ExecutionId, ActiveExecution> {
    let store = table.store();
    let mut all = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = store.list_active(cursor).await.unwrap();
        for e in page.executions {
            assert!(all.insert(e.execution_id, e).is_none(), "listed twice");
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

/// (a) The workflow's poll of the run the record names, and find's poll: the header's marks move,
/// its status index entry (every attribute the index projects) stays exactly as it was, so the
/// touch writes the table alone.
#[tokio::test]
async fn a_poll_of_the_recorded_run_moves_the_headers_marks_and_leaves_its_index_entry_alone() {
    let table = Table::new().await;
    let e = polling(&table, 1000).await;
    let id = e.id();
    // The run a start recorded.
    touch(
        &table,
        id,
        Touch {
            polled_at: None,
            workflow: Some(WorkflowMark::started(RUN.into(), Timestamp(1010))),
        },
    )
    .await;
    let index_before = table.index_entry("POLLING", id).await.unwrap();
    assert_eq!(
        index_before.get("workflowRun"),
        Some(&AttributeValue::S(RUN.into()))
    );
    let header_before = table.raw(id).await["EXECUTION"].clone();

    // The run polls twice, find polls once.
    touch(
        &table,
        id,
        Touch::poll_of(Timestamp(1040), Some(RUN), Some(RUN)),
    )
    .await;
    touch(&table, id, Touch::poll(Timestamp(1055), None)).await;
    touch(
        &table,
        id,
        Touch::poll_of(Timestamp(1070), Some(RUN), Some(RUN)),
    )
    .await;

    assert_eq!(
        table.index_entry("POLLING", id).await.unwrap(),
        index_before,
        "the index entry is untouched: no projected attribute was written"
    );
    let mut header = header_before.clone();
    header.insert("polledTime".into(), n(1070));
    header.insert("workflowSeenTime".into(), n(1070));
    let raw = table.raw(id).await;
    assert_eq!(raw["EXECUTION"], header, "the header's marks, nothing else");
    for old in ["lastPolledTime", "workflowPolledTime"] {
        assert!(
            !raw["EXECUTION"].contains_key(old),
            "{old} is never written"
        );
    }
    let stored = table.store().load(id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.header.last_polled_time,
            stored.header.workflow_run.as_deref(),
            stored.header.workflow_polled_time
        ),
        (Some(Timestamp(1070)), Some(RUN), Some(Timestamp(1070)))
    );
}

/// (b) A new run (continued as new, or restarted) is written, and the index shows it; nothing
/// else of the entry moves.
#[tokio::test]
async fn a_new_run_is_written_to_the_status_index() {
    let table = Table::new().await;
    let e = polling(&table, 1000).await;
    let id = e.id();
    touch(&table, id, Touch::poll(Timestamp(1010), Some(RUN))).await;
    let before = table.index_entry("POLLING", id).await.unwrap();
    assert_eq!(
        before.get("workflowRun"),
        Some(&AttributeValue::S(RUN.into()))
    );

    // The first poll of the run that continued as new.
    touch(
        &table,
        id,
        Touch::poll_of(Timestamp(1100), Some(NEXT_RUN), Some(RUN)),
    )
    .await;
    let mut expected = before.clone();
    expected.insert("workflowRun".into(), AttributeValue::S(NEXT_RUN.into()));
    assert_eq!(table.index_entry("POLLING", id).await.unwrap(), expected);
    let stored = table.store().load(id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.header.workflow_run.as_deref(),
            stored.header.workflow_polled_time
        ),
        (Some(NEXT_RUN), Some(Timestamp(1100)))
    );

    // A restart's run.
    let restarted = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:h1200";
    touch(
        &table,
        id,
        Touch {
            polled_at: None,
            workflow: Some(WorkflowMark::started(restarted.into(), Timestamp(1200))),
        },
    )
    .await;
    expected.insert("workflowRun".into(), AttributeValue::S(restarted.into()));
    assert_eq!(table.index_entry("POLLING", id).await.unwrap(), expected);
}

/// The order find dispatches its polls in.
#[derive(Default)]
struct Dispatched(Mutex<Vec<ExecutionId>>);

#[async_trait]
impl PollDispatch for Dispatched {
    async fn poll(
        &self,
        execution_id: ExecutionId,
        _plan_id: PlanId,
    ) -> Result<ExecutionStatus, DispatchError> {
        self.0.lock().unwrap().push(execution_id);
        Ok(ExecutionStatus::Polling)
    }
}

/// (c) After several touches, `list_active` answers each execution's latest marks (not the
/// index's copies), find polls the least recently polled first, and healing finds the runs that
/// fell silent by them.
#[tokio::test]
async fn list_active_answers_the_fresh_marks_and_find_and_healing_go_by_them() {
    let table = Table::new().await;
    // Created in the order a, b, c; polled last in the order c, a, b.
    let a = polling(&table, 1000).await.id();
    let b = polling(&table, 1001).await.id();
    let c = polling(&table, 1002).await.id();
    for (id, run) in [(a, RUN), (b, NEXT_RUN), (c, RUN)] {
        touch(&table, id, Touch::poll(Timestamp(1500), Some(run))).await;
    }
    // b's run keeps polling; a's and c's fell silent at 1600 and 1650; find polled c at 1700
    // and a at 1800, b last at 1900 (its own run).
    touch(
        &table,
        a,
        Touch::poll_of(Timestamp(1600), Some(RUN), Some(RUN)),
    )
    .await;
    touch(
        &table,
        c,
        Touch::poll_of(Timestamp(1650), Some(RUN), Some(RUN)),
    )
    .await;
    touch(&table, c, Touch::poll(Timestamp(1700), None)).await;
    touch(&table, a, Touch::poll(Timestamp(1800), None)).await;
    for at in [1850, 1900] {
        touch(
            &table,
            b,
            Touch::poll_of(Timestamp(at), Some(NEXT_RUN), Some(NEXT_RUN)),
        )
        .await;
    }

    let all = listed(&table).await;
    let marks = |id: ExecutionId| {
        let e = &all[&id];
        (
            e.last_polled_time,
            e.workflow_run.as_deref(),
            e.workflow_polled_time,
        )
    };
    assert_eq!(
        marks(a),
        (Some(Timestamp(1800)), Some(RUN), Some(Timestamp(1600)))
    );
    assert_eq!(
        marks(b),
        (Some(Timestamp(1900)), Some(NEXT_RUN), Some(Timestamp(1900)))
    );
    assert_eq!(
        marks(c),
        (Some(Timestamp(1700)), Some(RUN), Some(Timestamp(1650)))
    );

    // find: one poll at a time, least recently polled first.
    let store = table.store();
    let dispatch = Dispatched::default();
    let clock = FixedClock::at_secs(1910);
    let config = FindConfig {
        concurrency: 1,
        deadline_millis: i64::MAX,
        poll_budget_millis: 0,
    };
    let found = ops::find(&store, &dispatch, &clock, &config).await.unwrap();
    assert_eq!(found.executions_polled, 3);
    assert_eq!(*dispatch.0.lock().unwrap(), [c, a, b]);

    // Healing asks about a run two minutes after it was last seen: a's (1600) from 1720, c's
    // (1650) from 1770; b's (1900) not before 2020. find's own polls of a and c do not count.
    let silent = |at: i64| {
        let mut ids: Vec<ExecutionId> = all
            .values()
            .filter(|e| stale(e, Timestamp(at)))
            .map(|e| e.execution_id)
            .collect();
        ids.sort();
        ids
    };
    let sorted = |mut ids: Vec<ExecutionId>| {
        ids.sort();
        ids
    };
    assert_eq!(silent(1719), Vec::<ExecutionId>::new());
    assert_eq!(silent(1720), [a]);
    assert_eq!(silent(1769), [a]);
    assert_eq!(silent(1770), sorted(vec![a, c]));
    assert_eq!(silent(2019), sorted(vec![a, c]));
    assert_eq!(silent(2020), sorted(vec![a, b, c]));
}

/// The header item as the earlier version stored it: the poll times under `lastPolledTime` and
/// `workflowPolledTime` (the names the status index projects).
fn in_the_earlier_shape(mut header: Item) -> Item {
    for (new, old) in [
        ("polledTime", "lastPolledTime"),
        ("workflowSeenTime", "workflowPolledTime"),
    ] {
        if let Some(value) = header.remove(new) {
            header.insert(old.to_owned(), value);
        }
    }
    header
}

/// (d) A record written by the earlier version (its header put by hand, with the earlier names)
/// loads and lists with its marks; polled since, it loads and lists with the new ones, though the
/// index still holds the old copies.
#[tokio::test]
async fn a_record_with_the_earlier_attribute_names_loads_and_lists_with_its_marks() {
    let table = Table::new().await;
    let mut e = execution(&[1]);
    e.header.status = ExecutionStatus::Polling;
    e.header.last_polled_time = Some(Timestamp(1150));
    e.header.workflow_run = Some(RUN.into());
    e.header.workflow_polled_time = Some(Timestamp(1140));
    let store = table.store();
    store.create(&e, &[]).await.unwrap();
    let id = e.id();
    let earlier = in_the_earlier_shape(table.raw(id).await["EXECUTION"].clone());
    assert_eq!(earlier.get("lastPolledTime"), Some(&n(1150)));
    assert!(!earlier.contains_key("polledTime") && !earlier.contains_key("workflowSeenTime"));
    table
        .client
        .put_item()
        .table_name(&table.name)
        .set_item(Some(earlier.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(table.raw(id).await["EXECUTION"], earlier);

    assert_eq!(store.load(id).await.unwrap().as_ref(), Some(&e));
    let entry = &listed(&table).await[&id];
    assert_eq!(
        (
            entry.last_polled_time,
            entry.workflow_run.as_deref(),
            entry.workflow_polled_time
        ),
        (Some(Timestamp(1150)), Some(RUN), Some(Timestamp(1140)))
    );

    // The run polls: the new names; the earlier ones, and the index's copies, stay behind.
    touch(
        &table,
        id,
        Touch::poll_of(Timestamp(1300), Some(RUN), Some(RUN)),
    )
    .await;
    let raw = table.raw(id).await;
    assert_eq!(raw["EXECUTION"].get("polledTime"), Some(&n(1300)));
    assert_eq!(raw["EXECUTION"].get("lastPolledTime"), Some(&n(1150)));
    let index = table.index_entry("POLLING", id).await.unwrap();
    assert_eq!(index.get("lastPolledTime"), Some(&n(1150)));
    assert_eq!(index.get("workflowPolledTime"), Some(&n(1140)));

    let stored = store.load(id).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.header.last_polled_time,
            stored.header.workflow_polled_time
        ),
        (Some(Timestamp(1300)), Some(Timestamp(1300)))
    );
    let entry = &listed(&table).await[&id];
    assert_eq!(
        (entry.last_polled_time, entry.workflow_polled_time),
        (Some(Timestamp(1300)), Some(Timestamp(1300))),
        "the header's marks, not the index's"
    );
}

/// (e) One status index page of 230 executions: their marks are read in BatchGetItems of at most
/// 100 keys (three of them), and every execution gets its own.
#[tokio::test]
async fn list_active_reads_the_marks_of_a_page_of_more_than_100_executions() {
    const COUNT: i64 = 230;
    let table = Table::new().await;
    let store = table.store().with_page_size(250);
    let created: Vec<ExecutionId> = stream::iter(0..COUNT)
        .map(|i| {
            let table = &table;
            async move {
                let id = polling(table, 1000 + i).await.id();
                let run = format!("{RUN}-{i}");
                let mark = Touch::poll(Timestamp(5000 + i), Some(&run));
                table.store().touch(id, &mark).await?;
                if i % 3 == 0 {
                    // find polled it since.
                    table
                        .store()
                        .touch(id, &Touch::poll(Timestamp(9000 - i), None))
                        .await?;
                }
                Ok::<_, execution_core::ports::StoreError>(id)
            }
        })
        .buffered(8)
        .try_collect()
        .await
        .unwrap();

    let page = store.list_active(None).await.unwrap();
    assert_eq!(page.executions.len(), COUNT as usize, "one page");
    assert_eq!(page.next_cursor.as_deref(), Some("CANCELLING"));
    let by_id: BTreeMap<ExecutionId, &ActiveExecution> = page
        .executions
        .iter()
        .map(|e| (e.execution_id, e))
        .collect();
    for (i, id) in (0..COUNT).zip(&created) {
        let e = by_id[id];
        let polled = if i % 3 == 0 { 9000 - i } else { 5000 + i };
        assert_eq!(
            (
                e.created_time,
                e.last_polled_time,
                e.workflow_run.clone(),
                e.workflow_polled_time
            ),
            (
                Timestamp(1000 + i),
                Some(Timestamp(polled)),
                Some(format!("{RUN}-{i}")),
                Some(Timestamp(5000 + i))
            ),
            "execution {i}"
        );
    }
}
