//! Load: find over 5,000 active executions in moto's DynamoDB (many status-index pages), across
//! ticks whose deadline lets each poll only part of them; and a 50 waves × 200 servers execution
//! driven to COMPLETED while DRS and EC2 throttle.
//!
//! Bigger runs: `LOAD_EXECUTIONS=20000 cargo nextest run -p workspace-tests --test load`.
//! The 50 × 200 run against moto's DynamoDB is slow and ignored by default:
//! `cargo nextest run -p workspace-tests --test load --run-ignored all` (needs MOTO_PORT).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_adapters::{create_table, DynamoDbStore};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use drs_sim::driver::{drive, DriverConfig, Event, Resume};
use drs_sim::{Api, Progression, Sim, SimConfig, Spread, Timings};
use execution_core::api::{PollRequest, Target};
use execution_core::audit::AuditEvent;
use execution_core::fixtures;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::model::{Execution, Timestamp};
use execution_core::ops::{self, FindConfig};
use execution_core::plan::Plan;
use execution_core::ports::mocks::FixedClock;
use execution_core::ports::EventPage;
use execution_core::ports::{
    now, ActivePage, Clock, Commit, DispatchError, ExecutionStore, PollDispatch, StoreError, Touch,
};
use execution_core::rules::NextAction;
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use futures::stream::{self, StreamExt};
use workspace_tests::moto;

const INDEX: &str = aws_adapters::DEFAULT_STATUS_INDEX;
const START_SECS: i64 = 1_800_000_000;

/// The store under test, counting the status-index pages it reads.
struct Counted {
    inner: DynamoDbStore,
    pages: AtomicUsize,
}

#[async_trait]
impl ExecutionStore for Counted {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        self.inner.load(id).await
    }
    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.inner.create(execution, events).await
    }
    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.inner.events(id, cursor).await
    }
    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.pages.fetch_add(1, Ordering::SeqCst);
        self.inner.list_active(cursor).await
    }
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.inner.commit(commit).await
    }
    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        self.inner.touch(id, touch).await
    }
}

/// find's poll, as a test double: records the dispatch under the current tick, moves the fake
/// clock on by one poll's worth, and touches the execution as a real poll would.
struct Recorder<'a> {
    store: &'a Counted,
    clock: &'a FixedClock,
    tick: AtomicU32,
    polls: Mutex<Vec<(u32, ExecutionId)>>,
}

const SECS_PER_POLL: i64 = 1;

#[async_trait]
impl PollDispatch for Recorder<'_> {
    async fn poll(
        &self,
        execution_id: ExecutionId,
        _plan_id: PlanId,
    ) -> Result<ExecutionStatus, DispatchError> {
        // Before any await: the next dispatch's deadline check sees the clock moved.
        self.clock.advance_secs(SECS_PER_POLL);
        let tick = self.tick.load(Ordering::SeqCst);
        self.polls
            .lock()
            .expect("poll record")
            .push((tick, execution_id));
        self.store
            .touch(execution_id, &Touch::poll(now(self.clock), None))
            .await
            .map_err(|e| DispatchError::PollFailed(e.to_string()))?;
        Ok(ExecutionStatus::Polling)
    }
}

/// A POLLING execution of one wave of one server, its job started: number `n` after `base`,
/// created `n` seconds after the start (distinct index sort keys, as real creations have); the
/// rest is the same for every `n`, so that copies of one execution's items are these executions.
fn active_execution(base: u128, n: u128) -> Execution {
    let mut plan = fixtures::plan(&[1]);
    plan.plan_id = PlanId::from_uuid(uuid::Uuid::from_u128(base ^ 0xA5A5));
    let mut e = plan
        .new_execution(
            ExecutionId::from_uuid(uuid::Uuid::from_u128(base + n)),
            Timestamp(START_SECS + i64::try_from(n).expect("few executions")),
        )
        .expect("a valid plan");
    e.header.status = ExecutionStatus::Polling;
    e.header.start_time = Some(Timestamp(START_SECS));
    e.waves[0].status = WaveStatus::Started;
    fixtures::give_job(&mut e.waves[0], fixtures::job(7), Timestamp(START_SECS));
    e
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn find_polls_every_one_of_5000_executions_across_ticks_and_none_twice_in_a_tick() {
    let total = env_number("LOAD_EXECUTIONS", 5_000);
    let per_tick = total.div_ceil(4);
    // At least ten pages of the status index whatever the total (400 for 5,000).
    let page_size = u16::try_from((total / 12).max(1)).unwrap_or(u16::MAX);
    let client = moto::dynamodb_client();
    let table = format!("load-{}", uuid::Uuid::new_v4());
    create_table(&client, &table, INDEX)
        .await
        .expect("create the table in moto");
    let store = Counted {
        inner: DynamoDbStore::new(client.clone(), table.clone(), INDEX.into())
            .with_page_size(page_size),
        pages: AtomicUsize::new(0),
    };

    let seeding = Instant::now();
    let ids = seed(&client, &store.inner, total).await;
    eprintln!("seeded {total} executions in {:?}", seeding.elapsed());

    let clock = FixedClock::at_secs(START_SECS + total as i64 + 60);
    let dispatch = Recorder {
        store: &store,
        clock: &clock,
        tick: AtomicU32::new(0),
        polls: Mutex::default(),
    };
    let ticks_to_cover = total.div_ceil(per_tick);
    // One tick more than a round, so the first polled are polled again within the bound.
    let ticks = u32::try_from(ticks_to_cover + 1).expect("few ticks");
    for tick in 0..ticks {
        dispatch.tick.store(tick, Ordering::SeqCst);
        let pages_before = store.pages.load(Ordering::SeqCst);
        let started = clock.now_millis();
        let config = FindConfig {
            concurrency: FindConfig::DEFAULT_CONCURRENCY,
            // Room for exactly `per_tick` polls of one simulated second each.
            deadline_millis: started + (per_tick as i64 - 1) * SECS_PER_POLL * 1000,
            poll_budget_millis: 0,
        };
        let timer = Instant::now();
        let answer = ops::find(&store, &dispatch, &clock, &config)
            .await
            .expect("find answers");
        let pages = store.pages.load(Ordering::SeqCst) - pages_before;
        eprintln!(
            "tick {tick}: {} polled, {} skipped, {pages} pages, {:?}",
            answer.executions_polled,
            answer.executions_skipped,
            timer.elapsed()
        );
        assert_eq!(answer.executions_found, total, "tick {tick}");
        assert_eq!(answer.executions_polled, per_tick.min(total), "tick {tick}");
        assert_eq!(
            answer.executions_skipped,
            total - per_tick.min(total),
            "tick {tick}"
        );
        assert!(
            pages >= 10,
            "tick {tick} read {pages} pages of the status index"
        );
        // The next minute's tick.
        clock.set_secs(started / 1000 + 60 + per_tick as i64 * SECS_PER_POLL);
    }

    let polls = dispatch.polls.into_inner().expect("poll record");
    // moto keeps every table in memory: give this one back before asserting.
    let _ = client.delete_table().table_name(&table).send().await;
    check_fair(&ids, &polls, ticks, ticks_to_cover).unwrap_or_else(|e| panic!("{e}"));
}

/// `total` POLLING executions in the table. moto's TransactWriteItems deep-copies the whole table
/// first (its rollback), so 5,000 creates through the store would take O(n²); instead the first
/// execution is created through the store and its items (docs/storage.md's layout) are copied
/// under new ids with BatchWriteItem. A sample of the copies is read back through the store.
async fn seed(client: &Client, store: &DynamoDbStore, total: usize) -> Vec<ExecutionId> {
    let base = uuid::Uuid::new_v4().as_u128() & !0xFFFF_FFFF;
    let template = active_execution(base, 0);
    store
        .create(&template, &[])
        .await
        .expect("create the template");
    let items = client
        .query()
        .table_name(store.table())
        .key_condition_expression("executionId = :id")
        .expression_attribute_values(":id", AttributeValue::S(template.id().to_string()))
        .consistent_read(true)
        .send()
        .await
        .expect("read the template's items")
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 2, "a header and one wave: {items:?}");
    let copies: Vec<Execution> = (1..total as u128)
        .map(|n| active_execution(base, n))
        .collect();
    let requests: Vec<WriteRequest> = copies
        .iter()
        .flat_map(|e| {
            items.iter().map(|item| {
                let mut item = item.clone();
                item.insert("executionId".into(), AttributeValue::S(e.id().to_string()));
                if item.contains_key("createdTime") {
                    let created = e.header.created_time.secs().to_string();
                    item.insert("createdTime".into(), AttributeValue::N(created));
                }
                let put = PutRequest::builder().set_item(Some(item)).build();
                WriteRequest::builder()
                    .put_request(put.expect("a put request"))
                    .build()
            })
        })
        .collect();
    stream::iter(requests.chunks(25))
        .for_each_concurrent(4, |chunk| {
            batch_write(client, store.table(), chunk.to_vec())
        })
        .await;
    for sample in copies.iter().step_by(997) {
        let stored = store.load(sample.id()).await.expect("load a copy");
        assert_eq!(
            stored.as_ref(),
            Some(sample),
            "a copied execution reads back as itself"
        );
    }
    std::iter::once(&template)
        .chain(&copies)
        .map(Execution::id)
        .collect()
}

async fn batch_write(client: &Client, table: &str, mut requests: Vec<WriteRequest>) {
    for _ in 0..20 {
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .expect("BatchWriteItem");
        requests = out
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default();
        if requests.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("BatchWriteItem kept leaving items unprocessed");
}

/// Every execution polled, none twice in one tick, none waiting more than `bound` ticks for its
/// next poll.
fn check_fair(
    ids: &[ExecutionId],
    polls: &[(u32, ExecutionId)],
    ticks: u32,
    bound: usize,
) -> Result<(), String> {
    let mut by_id: HashMap<ExecutionId, Vec<u32>> = HashMap::new();
    let mut per_tick: BTreeMap<u32, HashSet<ExecutionId>> = BTreeMap::new();
    for (tick, id) in polls {
        if !per_tick.entry(*tick).or_default().insert(*id) {
            return Err(format!("{id} polled twice in tick {tick}"));
        }
        by_id.entry(*id).or_default().push(*tick);
    }
    if let Some(stranger) = by_id.keys().find(|id| !ids.contains(id)) {
        return Err(format!("{stranger} polled but never created"));
    }
    let bound = u32::try_from(bound).map_err(|e| e.to_string())?;
    for id in ids {
        let ticks_polled = by_id.get(id).map(Vec::as_slice).unwrap_or_default();
        // Gaps: from the start to the first poll, between polls, from the last poll to the end.
        let mut last: i64 = -1;
        for t in ticks_polled
            .iter()
            .map(|t| i64::from(*t))
            .chain([i64::from(ticks)])
        {
            if t - last > i64::from(bound) {
                return Err(format!(
                    "{id} went unpolled for {} ticks (bound {bound}); polled in ticks {ticks_polled:?}",
                    t - last - 1
                ));
            }
            last = t;
        }
    }
    Ok(())
}

#[test]
fn the_fairness_check_catches_a_starved_or_doubly_polled_execution() {
    let ids: Vec<ExecutionId> = (1..=4u128)
        .map(|n| ExecutionId::from_uuid(uuid::Uuid::from_u128(n)))
        .collect();
    let fair: Vec<(u32, ExecutionId)> = [
        (0, 0),
        (0, 1),
        (1, 2),
        (1, 3),
        (2, 0),
        (2, 1),
        (3, 2),
        (3, 3),
    ]
    .into_iter()
    .map(|(t, i)| (t, ids[i]))
    .collect();
    assert_eq!(check_fair(&ids, &fair, 4, 2), Ok(()));
    // ids[3] never polled.
    let starved: Vec<_> = fair
        .iter()
        .copied()
        .filter(|(_, id)| *id != ids[3])
        .collect();
    assert!(check_fair(&ids, &starved, 4, 2).is_err());
    // ids[0] polled twice in tick 0.
    let mut twice = fair.clone();
    twice.push((0, ids[0]));
    assert!(check_fair(&ids, &twice, 4, 2)
        .unwrap_err()
        .contains("twice"));
    // ids[0] waits three ticks.
    let late: Vec<_> = fair.iter().copied().filter(|p| *p != (2, ids[0])).collect();
    assert!(check_fair(&ids, &late, 4, 2).is_err());
}

// ---------------------------------------------------------------------------------------------
// 50 waves × 200 servers under throttling
// ---------------------------------------------------------------------------------------------

/// DRS of small servers, quicker than the default so the run stays short in simulated polls.
fn quick_timings() -> Timings {
    Timings {
        job_start: Spread::new(10, 30),
        server_start: Spread::new(10, 60),
        server_launch: Spread::new(60, 240),
        job_complete_lag_secs: 10,
    }
}

fn big_plan() -> Plan {
    fixtures::plan(&[200; 50])
}

fn assert_every_server_described(e: &Execution) {
    assert_eq!(
        e.status(),
        ExecutionStatus::Completed,
        "{:?}",
        e.header.status_message
    );
    assert_eq!(e.waves.len(), 50);
    for w in &e.waves {
        assert_eq!(w.status, WaveStatus::Completed, "wave {}", w.wave_number);
        assert_eq!(w.server_statuses.len(), 200);
        for s in &w.server_statuses {
            assert_eq!(s.launch_status, LaunchStatus::Launched, "{s:?}");
            assert!(
                s.recovery_instance_id.is_some()
                    && s.instance_id.is_some()
                    && s.private_ip.is_some()
                    && s.hostname.is_some()
                    && s.instance_type.is_some()
                    && s.instance_state.is_some()
                    && s.launch_time.is_some(),
                "wave {}: {s:?}",
                w.wave_number
            );
        }
    }
}

#[tokio::test]
async fn an_execution_of_50_waves_of_200_servers_completes_under_throttling() {
    let sim = Sim::new(SimConfig {
        progression: Progression::Timed(quick_timings()),
        ..SimConfig::default()
    });
    let plan = big_plan();
    let execution = ops::create_execution(
        sim.store.as_ref(),
        sim.clock.as_ref(),
        &plan,
        ExecutionId::new_random(),
    )
    .await
    .expect("create the execution");
    let throttled = Some(Duration::from_secs(5));
    sim.calls.throttle(Api::DescribeJobs, 3, throttled);
    sim.calls.throttle(Api::DescribeInstances, 3, throttled);
    sim.calls.throttle(Api::StartRecovery, 2, throttled);

    let timer = Instant::now();
    let mut events: Vec<(Timestamp, Event)> = Vec::new();
    let target = Target {
        execution_id: execution.id(),
        plan_id: plan.plan_id,
    };
    let config = DriverConfig {
        resume: Resume::After(0),
        ..DriverConfig::default()
    };
    let outcome = drive(&sim, target, config, &mut events)
        .await
        .expect("the drill runs to its end");
    eprintln!(
        "50 × 200: {} polls, {} simulated s, {:?}",
        outcome.polls,
        outcome.simulated_secs,
        timer.elapsed()
    );
    assert_every_server_described(&outcome.execution);
    // maxServersPerJob is 100 (the default): each wave of 200 is two jobs.
    let per_wave = 200 / sim.policy.max_servers_per_job as usize;
    assert_eq!(per_wave, 2);
    assert_eq!(
        sim.calls.count(Api::StartRecovery),
        50 * per_wave as u64 + 2,
        "two throttled, then one call per job"
    );
    assert_eq!(
        sim.world.jobs().len(),
        50 * per_wave,
        "one DRS job per part of each wave"
    );
    for w in &outcome.execution.waves {
        assert_eq!(
            w.jobs.len(),
            per_wave,
            "wave {}: {:?}",
            w.wave_number,
            w.jobs
        );
        assert_eq!(w.attempt, 1, "no wave needed a retry");
    }
    let retried = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Retrying { .. }))
        .count();
    let deferred = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::LaunchDeferred { .. }))
        .count();
    let warned = events
        .iter()
        .filter(|(_, e)| matches!(e, Event::Warning { message } if message.contains("DescribeInstances")))
        .count();
    assert!(
        retried >= 3,
        "throttled DescribeJobs failed polls that were retried ({retried})"
    );
    assert_eq!(
        (deferred, outcome.launch_refusals),
        (2, 2),
        "a throttled StartRecovery defers the launch (it never fails it)"
    );
    assert_eq!(
        warned, 3,
        "each throttled DescribeInstances was a warning, not a failure"
    );
}

/// The same drill with the record in moto's DynamoDB, polled by hand as the state machine would.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "about 6 minutes against moto: cargo nextest run -p workspace-tests --test load --run-ignored all"]
async fn an_execution_of_50_waves_of_200_servers_completes_in_moto_under_throttling() {
    let client = moto::dynamodb_client();
    let table = format!("load-big-{}", uuid::Uuid::new_v4());
    create_table(&client, &table, INDEX)
        .await
        .expect("create the table in moto");
    let store = DynamoDbStore::new(client, table, INDEX.into());
    let sim = Sim::new(SimConfig {
        progression: Progression::Timed(quick_timings()),
        ..SimConfig::default()
    });
    let clock = sim.clock.as_ref();
    let plan = big_plan();
    let execution = ops::create_execution(&store, clock, &plan, ExecutionId::new_random())
        .await
        .expect("create the execution");
    let target = Target {
        execution_id: execution.id(),
        plan_id: plan.plan_id,
    };
    let throttled = Some(Duration::from_secs(5));
    sim.calls.throttle(Api::DescribeJobs, 3, throttled);
    sim.calls.throttle(Api::DescribeInstances, 3, throttled);
    let request = PollRequest {
        target,
        summary: true,
        workflow_run: None,
    };
    for _ in 0..5_000 {
        let polled = ops::poll(
            &store,
            &sim.drs,
            &sim.ec2,
            None,
            clock,
            &sim.policy,
            &request,
        )
        .await;
        let action = match polled {
            Ok(answer) => answer.next_action,
            Err(e) if e.status_code() == 500 => NextAction::Wait,
            Err(e) => panic!("poll refused: {e}"),
        };
        match action {
            NextAction::Wait => sim.clock.advance_secs(30),
            NextAction::Launch => {
                ops::launch(&store, &sim.drs, clock, &sim.policy, &target)
                    .await
                    .expect("launch");
            }
            NextAction::Pause => panic!("the plan has no pause"),
            NextAction::Act => panic!("the plan has no wave actions"),
            NextAction::Finalize => {
                let done = ops::finalize(&store, clock, &target)
                    .await
                    .expect("finalize");
                assert_eq!(done.status, ExecutionStatus::Completed);
                let record = store
                    .load(target.execution_id)
                    .await
                    .expect("load")
                    .expect("record");
                assert_every_server_described(&record);
                return;
            }
        }
    }
    panic!("the execution did not finish in 5,000 polls");
}
