use std::sync::{Arc, Mutex};

use crate::fixtures::{execution_id, plan};
use crate::model::Execution;
use crate::ops::create_execution;
use crate::ops::testing::clock;
use crate::ports::mocks::MockStore;
use crate::ports::StoreError;
use crate::status::{ExecutionStatus, WaveStatus};

#[tokio::test]
async fn creates_a_pending_execution() {
    let stored: Arc<Mutex<Option<Execution>>> = Arc::default();
    let s = stored.clone();
    let mut store = MockStore::new();
    store.expect_create().times(1).returning(move |e, _| {
        *s.lock().unwrap() = Some(e.clone());
        Ok(())
    });
    let e = create_execution(&store, &clock(77), &plan(&[2, 3]), execution_id())
        .await
        .unwrap();
    assert_eq!(e.status(), ExecutionStatus::Pending);
    assert!(e.waves.iter().all(|w| w.status == WaveStatus::Pending));
    assert_eq!(e.header.created_time.secs(), 77);
    assert_eq!(stored.lock().unwrap().as_ref(), Some(&e));
}

#[tokio::test]
async fn a_bad_plan_is_a_400_listing_every_problem_and_stores_nothing() {
    let mut store = MockStore::new();
    store.expect_create().never();
    let mut p = plan(&[1, 0, 1001]);
    p.waves[2].servers[0] = p.waves[0].servers[0].clone();
    let err = create_execution(&store, &clock(1), &p, execution_id())
        .await
        .unwrap_err();
    assert_eq!((err.status_code(), err.code()), (400, "INVALID_PARAMETER"));
    let msg = err.to_string();
    assert!(msg.contains("wave 1 has no servers"), "{msg}");
    assert!(msg.contains("wave 2 has 1001 servers"), "{msg}");
    assert!(msg.contains("in wave 0 and again in wave 2"), "{msg}");
}

#[tokio::test]
async fn an_id_already_taken_is_a_409() {
    let mut store = MockStore::new();
    store
        .expect_create()
        .returning(|_, _| Err(StoreError::Conflict));
    let err = create_execution(&store, &clock(1), &plan(&[1]), execution_id())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "CONFLICT");
}
