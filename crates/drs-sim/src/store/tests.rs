use execution_core::fixtures;
use execution_core::ids::ExecutionId;
use execution_core::model::{Execution, Timestamp};
use execution_core::ports::{Commit, ExecutionStore, HeaderWrite, StoreError, Touch, WaveWrite};
use execution_core::status::{ExecutionStatus, WaveStatus};

use super::*;

fn execution_with(status: ExecutionStatus) -> Execution {
    let mut e = fixtures::plan(&[1, 2])
        .new_execution(ExecutionId::new_random(), Timestamp(1000))
        .unwrap();
    e.header.status = status;
    e
}

fn wave_write(e: &Execution, n: usize, expected_version: u64, status: WaveStatus) -> WaveWrite {
    let mut wave = e.waves[n].clone();
    wave.status = status;
    wave.version = expected_version + 1;
    WaveWrite {
        expected_version,
        wave,
    }
}

#[tokio::test]
async fn create_refuses_an_existing_id_and_writes_nothing() {
    let store = MemoryStore::default();
    let e = execution_with(ExecutionStatus::Pending);
    store.create(&e).await.unwrap();
    let mut other = e.clone();
    other.header.plan_name = Some("other".into());
    assert_eq!(store.create(&other).await, Err(StoreError::Conflict));
    assert_eq!(store.load(e.id()).await.unwrap(), Some(e));
    assert_eq!(store.load(ExecutionId::new_random()).await.unwrap(), None);
}

#[tokio::test]
async fn commit_is_all_or_nothing_on_versions() {
    let store = MemoryStore::default();
    let e = execution_with(ExecutionStatus::Polling);
    store.create(&e).await.unwrap();

    // Wave 1's expected version is wrong: neither the header nor wave 0 may be written.
    let mut header = e.header.clone();
    header.status = ExecutionStatus::Paused;
    header.version = 1;
    let bad = Commit {
        execution_id: e.id(),
        header: Some(HeaderWrite::Put {
            expected_version: 0,
            header: header.clone(),
        }),
        waves: vec![
            wave_write(&e, 0, 0, WaveStatus::Launching),
            wave_write(&e, 1, 7, WaveStatus::Launching),
        ],
    };
    assert_eq!(store.commit(&bad).await, Err(StoreError::Conflict));
    assert_eq!(store.get(e.id()).unwrap(), e);

    // A stale header check refuses the wave write too.
    let stale = Commit {
        execution_id: e.id(),
        header: Some(HeaderWrite::Check {
            expected_version: 3,
        }),
        waves: vec![wave_write(&e, 0, 0, WaveStatus::Launching)],
    };
    assert_eq!(store.commit(&stale).await, Err(StoreError::Conflict));
    assert_eq!(store.get(e.id()).unwrap(), e);

    let good = Commit {
        execution_id: e.id(),
        header: Some(HeaderWrite::Put {
            expected_version: 0,
            header,
        }),
        waves: vec![wave_write(&e, 0, 0, WaveStatus::Launching)],
    };
    store.commit(&good).await.unwrap();
    let stored = store.get(e.id()).unwrap();
    assert_eq!(
        (stored.status(), stored.header.version),
        (ExecutionStatus::Paused, 1)
    );
    assert_eq!(
        (stored.waves[0].status, stored.waves[0].version),
        (WaveStatus::Launching, 1)
    );
    assert_eq!(stored.waves[1], e.waves[1]);
    // The same commit again no longer matches.
    assert_eq!(store.commit(&good).await, Err(StoreError::Conflict));

    let counts = store.counts();
    assert_eq!(
        (
            counts.commits,
            counts.conflicts,
            counts.header_writes,
            counts.wave_writes
        ),
        (4, 3, 1, 1)
    );
}

#[tokio::test]
async fn commit_to_a_missing_execution_or_wave_conflicts() {
    let store = MemoryStore::default();
    let e = execution_with(ExecutionStatus::Polling);
    let commit = Commit {
        execution_id: e.id(),
        header: Some(HeaderWrite::Check {
            expected_version: 0,
        }),
        waves: vec![],
    };
    assert_eq!(store.commit(&commit).await, Err(StoreError::Conflict));
    store.create(&e).await.unwrap();
    let mut ghost = wave_write(&e, 0, 0, WaveStatus::Launching);
    ghost.wave.wave_number = 9;
    let commit = Commit {
        execution_id: e.id(),
        header: None,
        waves: vec![ghost],
    };
    assert_eq!(store.commit(&commit).await, Err(StoreError::Conflict));
}

#[tokio::test]
async fn touch_never_creates_and_is_never_reversed_by_a_header_put() {
    let store = MemoryStore::default();
    let e = execution_with(ExecutionStatus::Polling);
    assert_eq!(
        store.touch(e.id(), &Touch::poll(Timestamp(5), None)).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(store.load(e.id()).await.unwrap(), None);

    store.create(&e).await.unwrap();
    store
        .touch(e.id(), &Touch::poll(Timestamp(2000), None))
        .await
        .unwrap();
    let stored = store.get(e.id()).unwrap();
    assert_eq!(stored.header.last_polled_time, Some(Timestamp(2000)));
    assert_eq!(stored.header.version, 0, "touch does not bump the version");

    // A header read before the touch is written back: lastPolledTime stays.
    let mut header = e.header.clone();
    header.status = ExecutionStatus::Paused;
    header.version = 1;
    store
        .commit(&Commit {
            execution_id: e.id(),
            header: Some(HeaderWrite::Put {
                expected_version: 0,
                header,
            }),
            waves: vec![],
        })
        .await
        .unwrap();
    assert_eq!(
        store.get(e.id()).unwrap().header.last_polled_time,
        Some(Timestamp(2000))
    );
}

#[tokio::test]
async fn list_active_pages_over_the_unfinished_executions_only() {
    let store = MemoryStore::with_page_size(2);
    let mut active = Vec::new();
    for status in ExecutionStatus::ALL
        .iter()
        .chain([ExecutionStatus::Polling, ExecutionStatus::Polling].iter())
    {
        let e = execution_with(*status);
        if ExecutionStatus::LISTED.contains(status) {
            active.push(e.id());
        }
        store.create(&e).await.unwrap();
    }
    assert_eq!(active.len(), 6);

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.list_active(cursor).await.unwrap();
        pages += 1;
        assert!(page.executions.len() <= 2);
        assert!(page
            .executions
            .iter()
            .all(|e| ExecutionStatus::LISTED.contains(&e.status)));
        seen.extend(page.executions.iter().map(|e| e.execution_id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    active.sort();
    seen.sort();
    assert_eq!(seen, active, "every unfinished execution exactly once");
    assert_eq!(store.counts().list_active_pages, 3);
}

#[tokio::test]
async fn list_active_refuses_a_forged_cursor() {
    let store = MemoryStore::default();
    let err = store.list_active(Some("page-2".into())).await.unwrap_err();
    assert!(matches!(err, StoreError::Service(_)), "{err:?}");
}

#[test]
fn with_executions_refuses_duplicates_and_keeps_order() {
    let a = execution_with(ExecutionStatus::Polling);
    let b = execution_with(ExecutionStatus::Paused);
    let store = MemoryStore::with_executions(vec![b.clone(), a.clone()]).unwrap();
    assert_eq!(store.executions(), vec![b.clone(), a]);
    assert_eq!(
        MemoryStore::with_executions(vec![b.clone(), b.clone()]).unwrap_err(),
        b.id()
    );
}

#[tokio::test]
async fn calls_can_be_given_a_fixed_latency() {
    let store = MemoryStore::default();
    store.set_latency(Some(std::time::Duration::from_millis(20)));
    let wall = std::time::Instant::now();
    store.load(ExecutionId::new_random()).await.unwrap();
    assert!(wall.elapsed() >= std::time::Duration::from_millis(20));
    store.set_latency(None);
    assert_eq!(store.counts().loads, 1);
}
