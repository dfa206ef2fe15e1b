use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::ids::{ExecutionId, PlanId};
use crate::model::Timestamp;
use crate::ops::{find, FindConfig};
use crate::ports::mocks::{FixedClock, MockStore};
use crate::ports::{
    ActiveExecution, ActivePage, DispatchError, PollDispatch, ServiceError, StoreError,
};
use crate::status::ExecutionStatus;

fn active(n: usize, polled: Option<i64>) -> ActiveExecution {
    ActiveExecution {
        execution_id: ExecutionId::from_uuid(uuid::Uuid::from_u128(n as u128 + 1)),
        plan_id: crate::fixtures::plan_id(),
        status: ExecutionStatus::Polling,
        created_time: Timestamp(0),
        last_polled_time: polled.map(Timestamp),
        workflow_run: None,
        workflow_polled_time: None,
    }
}

/// A store whose status index is `pages`, page by page.
fn paged_store(pages: Vec<Vec<ActiveExecution>>) -> MockStore {
    let mut store = MockStore::new();
    let n = pages.len();
    store
        .expect_list_active()
        .times(n)
        .returning(move |cursor| {
            let i: usize = cursor.map(|c| c.parse().unwrap()).unwrap_or(0);
            Ok(ActivePage {
                executions: pages[i].clone(),
                next_cursor: (i + 1 < n).then(|| (i + 1).to_string()),
            })
        });
    store
}

/// A dispatch that yields while "polling", records concurrency, fails the ids it is told to,
/// and advances the clock by `cost_ms` per poll.
struct FakeDispatch {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    order: Mutex<Vec<ExecutionId>>,
    fail: Vec<ExecutionId>,
    clock: Arc<FixedClock>,
    cost_ms: i64,
}

impl FakeDispatch {
    fn new(clock: Arc<FixedClock>, cost_ms: i64, fail: Vec<ExecutionId>) -> Self {
        Self {
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            order: Mutex::default(),
            fail,
            clock,
            cost_ms,
        }
    }
}

#[async_trait]
impl PollDispatch for FakeDispatch {
    async fn poll(&self, id: ExecutionId, _plan: PlanId) -> Result<ExecutionStatus, DispatchError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        self.order.lock().unwrap().push(id);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.clock.0.fetch_add(self.cost_ms, Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.fail.contains(&id) {
            return Err(DispatchError::PollFailed(
                "INTERNAL_ERROR: DRS throttled".into(),
            ));
        }
        Ok(ExecutionStatus::Polling)
    }
}

/// One poll that takes long, the others quick; records the order polls finish in.
struct OneSlowPoll {
    slow: ExecutionId,
    finished: Mutex<Vec<ExecutionId>>,
}

#[async_trait]
impl PollDispatch for OneSlowPoll {
    async fn poll(&self, id: ExecutionId, _plan: PlanId) -> Result<ExecutionStatus, DispatchError> {
        let turns = if id == self.slow { 500 } else { 3 };
        for _ in 0..turns {
            tokio::task::yield_now().await;
        }
        self.finished.lock().unwrap().push(id);
        Ok(ExecutionStatus::Polling)
    }
}

#[tokio::test]
async fn a_slow_poll_does_not_hold_up_the_others() {
    let list: Vec<_> = (0..10).map(|i| active(i, None)).collect();
    let slow = list[0].execution_id;
    let dispatch = OneSlowPoll {
        slow,
        finished: Mutex::default(),
    };
    let clock = FixedClock::at_secs(0);
    let answer = find(
        &paged_store(vec![list.clone()]),
        &dispatch,
        &clock,
        &config(2),
    )
    .await
    .unwrap();
    let finished = dispatch.finished.lock().unwrap().clone();
    assert_eq!(
        finished.last(),
        Some(&slow),
        "the nine quick polls ran beside the slow one: {finished:?}"
    );
    // The answer keeps the dispatch order all the same.
    let order: Vec<_> = answer.results.iter().map(|r| r.execution_id).collect();
    assert_eq!(
        order,
        list.iter().map(|e| e.execution_id).collect::<Vec<_>>()
    );
}

fn config(concurrency: usize) -> FindConfig {
    FindConfig {
        concurrency,
        deadline_millis: i64::MAX,
        poll_budget_millis: 0,
    }
}

#[tokio::test]
async fn polls_every_execution_on_every_page_once() {
    let pages = vec![
        (0..3).map(|i| active(i, None)).collect(),
        vec![],
        (3..5).map(|i| active(i, None)).collect(),
        vec![active(4, None)],
    ];
    let clock = Arc::new(FixedClock::at_secs(0));
    let dispatch = FakeDispatch::new(clock.clone(), 0, vec![]);
    let answer = find(&paged_store(pages), &dispatch, clock.as_ref(), &config(16))
        .await
        .unwrap();
    assert_eq!(
        (
            answer.executions_found,
            answer.executions_polled,
            answer.executions_skipped
        ),
        (5, 5, 0)
    );
    let mut polled = dispatch.order.lock().unwrap().clone();
    polled.sort();
    polled.dedup();
    assert_eq!(polled.len(), 5, "each once, even when listed on two pages");
    assert!(answer
        .results
        .iter()
        .all(|r| r.success && r.status == Some(ExecutionStatus::Polling)));
}

#[tokio::test]
async fn one_failing_poll_never_stops_the_others() {
    let list: Vec<_> = (0..6).map(|i| active(i, None)).collect();
    let bad = list[2].execution_id;
    let clock = Arc::new(FixedClock::at_secs(0));
    let dispatch = FakeDispatch::new(clock.clone(), 0, vec![bad]);
    let answer = find(
        &paged_store(vec![list]),
        &dispatch,
        clock.as_ref(),
        &config(2),
    )
    .await
    .unwrap();
    assert_eq!((answer.executions_found, answer.executions_polled), (6, 5));
    let failed: Vec<_> = answer.results.iter().filter(|r| !r.success).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].execution_id, bad);
    assert!(failed[0]
        .error
        .as_deref()
        .unwrap()
        .contains("DRS throttled"));
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(
        json["results"][2],
        serde_json::json!({"executionId": bad.to_string(), "success": false, "error": failed[0].error})
    );
    assert_eq!(json["results"][0]["status"], "POLLING");
}

#[tokio::test]
async fn concurrency_is_bounded_and_used() {
    for c in [1, 4, 16] {
        let list: Vec<_> = (0..40).map(|i| active(i, None)).collect();
        let clock = Arc::new(FixedClock::at_secs(0));
        let dispatch = FakeDispatch::new(clock.clone(), 0, vec![]);
        find(
            &paged_store(vec![list]),
            &dispatch,
            clock.as_ref(),
            &config(c),
        )
        .await
        .unwrap();
        assert_eq!(
            dispatch.max_in_flight.load(Ordering::SeqCst),
            c,
            "concurrency {c}"
        );
    }
}

#[tokio::test]
async fn the_least_recently_polled_go_first_and_the_deadline_skips_the_rest() {
    // Polled at t=50, never, t=10, t=30: order is never, 10, 30, 50.
    let list = vec![
        active(0, Some(50)),
        active(1, None),
        active(2, Some(10)),
        active(3, Some(30)),
    ];
    let ids: Vec<_> = list.iter().map(|e| e.execution_id).collect();
    let clock = Arc::new(FixedClock::at_secs(0));
    // Each poll costs 10 s; the deadline leaves room for two polls of budget 10 s.
    let dispatch = FakeDispatch::new(clock.clone(), 10_000, vec![]);
    let cfg = FindConfig {
        concurrency: 1,
        deadline_millis: 30_000,
        poll_budget_millis: 10_000,
    };
    let answer = find(&paged_store(vec![list]), &dispatch, clock.as_ref(), &cfg)
        .await
        .unwrap();
    assert_eq!(
        *dispatch.order.lock().unwrap(),
        vec![ids[1], ids[2], ids[3]]
    );
    assert_eq!(
        (
            answer.executions_found,
            answer.executions_polled,
            answer.executions_skipped
        ),
        (4, 3, 1)
    );
    let skipped = answer
        .results
        .iter()
        .find(|r| r.execution_id == ids[0])
        .unwrap();
    assert!(!skipped.success && skipped.error.as_deref().unwrap().contains("deadline"));
}

#[tokio::test]
async fn a_listing_failure_is_a_500() {
    let mut store = MockStore::new();
    store
        .expect_list_active()
        .returning(|_| Err(StoreError::Service(ServiceError::unavailable("503"))));
    let clock = Arc::new(FixedClock::at_secs(0));
    let dispatch = FakeDispatch::new(clock.clone(), 0, vec![]);
    let err = find(&store, &dispatch, clock.as_ref(), &config(4))
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 500);
    assert!(dispatch.order.lock().unwrap().is_empty());
}

#[tokio::test]
async fn nothing_active_is_an_empty_answer() {
    let clock = Arc::new(FixedClock::at_secs(0));
    let dispatch = FakeDispatch::new(clock.clone(), 0, vec![]);
    let answer = find(
        &paged_store(vec![vec![]]),
        &dispatch,
        clock.as_ref(),
        &config(4),
    )
    .await
    .unwrap();
    let json = serde_json::to_value(&answer).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"statusCode": 200, "executionsFound": 0, "executionsPolled": 0, "executionsSkipped": 0, "results": []})
    );
}
