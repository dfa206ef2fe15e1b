//! The [`ExecutionStore`] contract, as cases every store's tests run: the DynamoDB adapter against
//! moto, and the simulator's in-memory store. A store that passes them behaves as the use cases
//! assume; a case names the rule it checks in its panic message.
//!
//! [`run_all`] takes a factory of fresh, empty stores whose `list_active` pages hold at most two
//! executions and whose `events` pages hold at most two events (so that paging is exercised).
//! Every store also keeps the servers' holds ([`ServerLocks`]): the `hold` cases check them.

use std::collections::BTreeMap;
use std::future::Future;

use crate::audit::{self, Actor, AuditEvent, Author};
use crate::fixtures;
use crate::ids::{ExecutionId, SourceServerId, TaskToken};
use crate::model::{Execution, ExecutionHeader, HeldToken, Timestamp, Wave};
use crate::ports::{
    ActiveExecution, Commit, EventPage, ExecutionStore, HeaderWrite, HoldClaim, ServerHold,
    ServerLocks, ServiceError, StoreError, Touch, WaveWrite, WorkflowMark, MAX_COMMIT_ITEMS,
};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// Runs every case, each on a store of its own from `fresh`.
pub async fn run_all<S, F, Fut>(fresh: F)
where
    S: ExecutionStore + ServerLocks,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    a_created_execution_loads_as_it_was(&fresh().await).await;
    create_refuses_an_existing_id_and_keeps_the_first(&fresh().await).await;
    a_commit_is_all_or_nothing_on_versions(&fresh().await).await;
    a_commit_to_a_missing_execution_or_wave_conflicts_and_creates_nothing(&fresh().await).await;
    touch_never_creates_and_a_header_write_never_undoes_it(&fresh().await).await;
    a_header_write_removes_the_optional_fields_it_clears(&fresh().await).await;
    list_active_pages_over_the_unfinished_executions_only(&fresh().await).await;
    list_active_refuses_a_cursor_it_did_not_give(&fresh().await).await;
    create_stores_its_events_and_events_answers_them_oldest_first(&fresh().await).await;
    a_commit_appends_its_events_atomically_with_its_writes(&fresh().await).await;
    a_conflicting_commit_writes_neither_its_writes_nor_its_events(&fresh().await).await;
    a_commit_carrying_an_event_already_in_the_trail_conflicts_and_writes_nothing(&fresh().await)
        .await;
    load_never_returns_trail_items(&fresh().await).await;
    events_pages_over_the_whole_trail_in_order(&fresh().await).await;
    events_refuses_a_cursor_it_did_not_give(&fresh().await).await;
    an_execution_without_a_trail_answers_an_empty_page(&fresh().await).await;
    hold_of_unheld_servers_is_empty(&fresh().await).await;
    a_hold_reads_back(&fresh().await).await;
    hold_on_a_server_another_execution_holds_conflicts_and_takes_nothing(&fresh().await).await;
    hold_again_by_the_same_execution_is_fine(&fresh().await).await;
    hold_replacing_an_ended_holder_takes_its_servers_over(&fresh().await).await;
    release_drops_only_the_releasing_executions_holds(&fresh().await).await;
    hold_of_more_than_a_transaction_is_rejected_and_takes_nothing(&fresh().await).await;
}

/// A new PENDING execution of waves of these sizes, with a random id.
pub fn execution(sizes: &[usize]) -> Execution {
    fixtures::plan(sizes)
        .new_execution(ExecutionId::new_random(), Timestamp(1000))
        .unwrap_or_else(|problems| panic!("fixture plan: {problems:?}"))
}

/// `old` → the header `change` makes, as the core writes it (version bumped).
pub fn header_put(old: &Execution, change: impl FnOnce(&mut ExecutionHeader)) -> HeaderWrite {
    let mut header = old.header.clone();
    change(&mut header);
    header.version = old.header.version + 1;
    HeaderWrite {
        expected_version: old.header.version,
        header,
    }
}

/// `old` → the wave `change` makes, as the core writes it (version bumped).
fn wave_put(old: &Wave, change: impl FnOnce(&mut Wave)) -> WaveWrite {
    let mut wave = old.clone();
    change(&mut wave);
    wave.version = old.version + 1;
    WaveWrite {
        expected_version: old.version,
        wave,
    }
}

/// `commit`'s writes applied to `e`, as the store applies them.
fn apply(e: &mut Execution, commit: &Commit) {
    if let Some(write) = &commit.header {
        e.header = write.header.clone();
    }
    for write in &commit.waves {
        if let Some(w) = e
            .waves
            .iter_mut()
            .find(|w| w.wave_number == write.wave.wave_number)
        {
            *w = write.wave.clone();
        }
    }
}

async fn load(store: &dyn ExecutionStore, id: ExecutionId, case: &str) -> Option<Execution> {
    store
        .load(id)
        .await
        .unwrap_or_else(|e| panic!("{case}: load: {e}"))
}

/// Who the contract's events say made the changes.
fn author() -> Author {
    Author {
        actor: Actor::Cli("store-contract".into()),
        operation: "contract".into(),
        at_millis: 1_000_000,
    }
}

/// `event` under the id `n`: the contract's ids sort as their numbers do, whatever scheme the
/// audit names events by (a store orders a trail by event id).
fn numbered(mut event: AuditEvent, n: u64) -> AuditEvent {
    event.event_id = format!("{n:012}-contract");
    event
}

/// The event of creating `e`, numbered `n`.
fn created(e: &Execution, n: u64) -> AuditEvent {
    numbered(audit::created(e, &author()), n)
}

/// `commit` carrying the event the audit derives for it from `before`, numbered `n`.
fn with_event(before: &Execution, mut commit: Commit, n: u64) -> Commit {
    let event = audit::change(before, &commit, &author())
        .unwrap_or_else(|| panic!("a contract commit changes something: {commit:?}"));
    commit.events.push(numbered(event, n));
    commit
}

/// The whole trail of `id`, following every page.
/// `e` is stored as it was, and its trail is its creation's event alone: a refused commit wrote
/// neither its writes nor its events.
async fn unchanged(store: &dyn ExecutionStore, e: &Execution, creation: &AuditEvent, what: &str) {
    assert_eq!(
        load(store, e.id(), what).await.as_ref(),
        Some(e),
        "{what}: no write"
    );
    assert_eq!(
        trail(store, e.id(), what).await,
        std::slice::from_ref(creation),
        "{what}: no event"
    );
}

async fn trail(store: &dyn ExecutionStore, id: ExecutionId, case: &str) -> Vec<AuditEvent> {
    let (mut events, mut cursor, mut pages) = (vec![], None, 0);
    loop {
        let page = store
            .events(id, cursor)
            .await
            .unwrap_or_else(|err| panic!("{case}: events page {pages}: {err}"));
        pages += 1;
        events.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return events,
        }
        assert!(pages < 100, "{case}: events does not end");
    }
}

pub async fn a_created_execution_loads_as_it_was(store: &dyn ExecutionStore) {
    const CASE: &str = "a created execution loads as it was";
    let mut e = execution(&[2, 1, 3]);
    e.header.plan_name = Some("Tier 1 — 東京".into());
    e.waves[1].wave_name = Some("app".into());
    store
        .create(&e, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    assert_eq!(load(store, e.id(), CASE).await, Some(e), "{CASE}");
    assert_eq!(
        load(store, ExecutionId::new_random(), CASE).await,
        None,
        "{CASE}: an id never created loads as nothing"
    );
}

pub async fn create_refuses_an_existing_id_and_keeps_the_first(store: &dyn ExecutionStore) {
    const CASE: &str = "create refuses an existing id and keeps the first";
    let first = execution(&[2, 2]);
    let creation = created(&first, 1);
    store
        .create(&first, std::slice::from_ref(&creation))
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    let mut second = execution(&[3]);
    second.header.execution_id = first.id();
    second.header.plan_name = Some("another".into());
    let again = created(&second, 2);
    assert_eq!(
        store.create(&second, &[again]).await,
        Err(StoreError::Conflict),
        "{CASE}"
    );
    assert_eq!(load(store, first.id(), CASE).await, Some(first), "{CASE}");
    assert_eq!(
        trail(store, creation.execution_id, CASE).await,
        [creation],
        "{CASE}: the trail keeps the first's events only"
    );
}

pub async fn a_commit_is_all_or_nothing_on_versions(store: &dyn ExecutionStore) {
    const CASE: &str = "a commit is all or nothing on versions";
    let e = execution(&[1, 1]);
    store
        .create(&e, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    let header = header_put(&e, |h| h.status = ExecutionStatus::Polling);
    let wave_0 = wave_put(&e.waves[0], |w| w.status = WaveStatus::Launching);
    let mut stale_wave = wave_put(&e.waves[1], |w| w.status = WaveStatus::Cancelled);
    stale_wave.expected_version = 5; // the store holds version 0
    stale_wave.wave.version = 6;
    let mut stale_header = e.header.clone();
    stale_header.version = 4;
    let stale_header = HeaderWrite {
        expected_version: 3,
        header: stale_header,
    };
    for (what, header, waves) in [
        (
            "a stale wave beside a good header and wave",
            header.clone(),
            vec![wave_0.clone(), stale_wave],
        ),
        (
            "a stale header beside a good wave",
            stale_header,
            vec![wave_0.clone()],
        ),
    ] {
        let commit = Commit {
            execution_id: e.id(),
            header: Some(header),
            waves,
            events: vec![],
        };
        assert_eq!(
            store.commit(&commit).await,
            Err(StoreError::Conflict),
            "{CASE}: {what}"
        );
        assert_eq!(
            load(store, e.id(), CASE).await.as_ref(),
            Some(&e),
            "{CASE}: {what}: nothing of it was written"
        );
    }
    // The same writes at the right versions land together.
    let good = Commit {
        execution_id: e.id(),
        header: Some(header.clone()),
        waves: vec![wave_0.clone()],
        events: vec![],
    };
    store
        .commit(&good)
        .await
        .unwrap_or_else(|err| panic!("{CASE}: the good commit: {err}"));
    let mut expected = e.clone();
    expected.header.status = ExecutionStatus::Polling;
    expected.header.version += 1;
    expected.waves[0] = wave_0.wave;
    assert_eq!(load(store, e.id(), CASE).await, Some(expected), "{CASE}");
    // Repeated, it is stale.
    assert_eq!(
        store.commit(&good).await,
        Err(StoreError::Conflict),
        "{CASE}: the same commit twice"
    );
}

pub async fn a_commit_to_a_missing_execution_or_wave_conflicts_and_creates_nothing(
    store: &dyn ExecutionStore,
) {
    const CASE: &str = "a commit to a missing execution or wave conflicts and creates nothing";
    let ghost = execution(&[1, 1]);
    let w = |n: usize| wave_put(&ghost.waves[n], |w| w.status = WaveStatus::Cancelled);
    for commit in [
        Commit {
            execution_id: ghost.id(),
            header: None,
            waves: vec![],
            events: vec![],
        },
        Commit {
            execution_id: ghost.id(),
            header: None,
            waves: vec![w(0)],
            events: vec![],
        },
        Commit {
            execution_id: ghost.id(),
            header: Some(header_put(&ghost, |_| {})),
            waves: vec![],
            events: vec![],
        },
        Commit {
            execution_id: ghost.id(),
            header: Some(header_put(&ghost, |_| {})),
            waves: vec![w(0), w(1)],
            events: vec![],
        },
    ] {
        assert_eq!(
            store.commit(&commit).await,
            Err(StoreError::Conflict),
            "{CASE}: {commit:?}"
        );
    }
    assert_eq!(load(store, ghost.id(), CASE).await, None, "{CASE}");

    // A wave the execution does not have.
    let e = execution(&[1]);
    store
        .create(&e, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    let mut extra = wave_put(&e.waves[0], |_| {});
    extra.wave.wave_number = 1;
    let commit = Commit {
        execution_id: e.id(),
        header: None,
        waves: vec![extra],
        events: vec![],
    };
    assert_eq!(
        store.commit(&commit).await,
        Err(StoreError::Conflict),
        "{CASE}: wave 1 of a one-wave execution"
    );
    assert_eq!(load(store, e.id(), CASE).await, Some(e), "{CASE}");
}

pub async fn touch_never_creates_and_a_header_write_never_undoes_it(store: &dyn ExecutionStore) {
    const CASE: &str = "touch never creates, and a header write never undoes it";
    let run = "arn:aws:states:us-east-1:123456789012:execution:drs:run-1";
    let missing = ExecutionId::new_random();
    assert_eq!(
        store
            .touch(missing, &Touch::poll(Timestamp(10), None))
            .await,
        Err(StoreError::Conflict),
        "{CASE}: touching a missing execution"
    );
    assert_eq!(load(store, missing, CASE).await, None, "{CASE}");

    let e = execution(&[1]);
    store
        .create(&e, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    // Anyone's poll moves lastPolledTime only; the workflow's also names its run.
    let id = e.id();
    let touch = |t: Touch| async move {
        store
            .touch(id, &t)
            .await
            .unwrap_or_else(|err| panic!("{CASE}: touch: {err}"));
    };
    touch(Touch::poll(Timestamp(1200), None)).await;
    let mut expected = e.clone();
    expected.header.last_polled_time = Some(Timestamp(1200));
    assert_eq!(load(store, e.id(), CASE).await.as_ref(), Some(&expected));
    touch(Touch::poll(Timestamp(1300), Some(run))).await;
    expected.header.last_polled_time = Some(Timestamp(1300));
    expected.header.workflow_run = Some(run.into());
    expected.header.workflow_polled_time = Some(Timestamp(1300));
    assert_eq!(load(store, e.id(), CASE).await.as_ref(), Some(&expected));
    // The recorded run polls again: both times move, the run stands.
    touch(Touch::poll_of(Timestamp(1360), Some(run), Some(run))).await;
    expected.header.last_polled_time = Some(Timestamp(1360));
    expected.header.workflow_polled_time = Some(Timestamp(1360));
    assert_eq!(
        load(store, e.id(), CASE).await.as_ref(),
        Some(&expected),
        "{CASE}: the recorded run's poll"
    );
    // A mark that is not a new run never writes the run's name, even one that differs from the
    // stored name (a run the record had when the mark was decided, replaced since): only the time.
    let replaced = "arn:aws:states:us-east-1:123456789012:execution:drs:run-0";
    touch(Touch::poll_of(
        Timestamp(1370),
        Some(replaced),
        Some(replaced),
    ))
    .await;
    expected.header.last_polled_time = Some(Timestamp(1370));
    expected.header.workflow_polled_time = Some(Timestamp(1370));
    assert_eq!(
        load(store, e.id(), CASE).await.as_ref(),
        Some(&expected),
        "{CASE}: a mark of the recorded run leaves the stored run alone"
    );
    // A new run (continued as new, or restarted) is written with its time.
    let next = "arn:aws:states:us-east-1:123456789012:execution:drs:run-1-c1";
    touch(Touch::poll_of(Timestamp(1400), Some(next), Some(run))).await;
    expected.header.last_polled_time = Some(Timestamp(1400));
    expected.header.workflow_run = Some(next.into());
    expected.header.workflow_polled_time = Some(Timestamp(1400));
    assert_eq!(
        load(store, e.id(), CASE).await.as_ref(),
        Some(&expected),
        "{CASE}: a new run's first poll"
    );
    // A start's or a restart's run: the run and its time, not the poll time.
    touch(Touch {
        polled_at: None,
        workflow: Some(WorkflowMark::started(run.into(), Timestamp(1450))),
    })
    .await;
    expected.header.workflow_run = Some(run.into());
    expected.header.workflow_polled_time = Some(Timestamp(1450));
    assert_eq!(
        load(store, e.id(), CASE).await.as_ref(),
        Some(&expected),
        "{CASE}: a started run"
    );
    touch(Touch::default()).await;
    assert_eq!(
        load(store, e.id(), CASE).await.as_ref(),
        Some(&expected),
        "{CASE}: a touch of nothing writes nothing"
    );

    // A header write decided on the record as read before the touches keeps what they wrote.
    let write = header_put(&e, |h| h.status = ExecutionStatus::Polling);
    store
        .commit(&Commit {
            execution_id: e.id(),
            header: Some(write),
            waves: vec![],
            events: vec![],
        })
        .await
        .unwrap_or_else(|err| panic!("{CASE}: header write: {err}"));
    let stored = load(store, e.id(), CASE).await;
    let header = stored.as_ref().map(|s| &s.header);
    assert_eq!(
        header.map(|h| (
            h.status,
            h.version,
            h.last_polled_time,
            h.workflow_run.as_deref(),
            h.workflow_polled_time
        )),
        Some((
            ExecutionStatus::Polling,
            1,
            Some(Timestamp(1400)),
            Some(run),
            Some(Timestamp(1450))
        )),
        "{CASE}"
    );

    // A record without a run gets the mark's run, whatever the mark believed: never a time
    // without its run.
    let bare = execution(&[1]);
    store
        .create(&bare, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    store
        .touch(
            bare.id(),
            &Touch::poll_of(Timestamp(1500), Some(run), Some(run)),
        )
        .await
        .unwrap_or_else(|err| panic!("{CASE}: touch: {err}"));
    let header = load(store, bare.id(), CASE).await.map(|s| s.header);
    assert_eq!(
        header
            .as_ref()
            .map(|h| (h.workflow_run.as_deref(), h.workflow_polled_time)),
        Some((Some(run), Some(Timestamp(1500)))),
        "{CASE}: a mark on a record without a run"
    );
}

pub async fn a_header_write_removes_the_optional_fields_it_clears(store: &dyn ExecutionStore) {
    const CASE: &str = "a header write removes the optional fields it clears";
    let mut e = execution(&[1]);
    e.header.status = ExecutionStatus::Paused;
    e.header.paused_before_wave = Some(0);
    e.header.status_message = Some("paused before wave 0".into());
    e.header.task_token = Some(HeldToken {
        token: TaskToken::parse("AAAA-secret-token").unwrap_or_else(|err| panic!("{err}")),
        release_pending: false,
    });
    store
        .create(&e, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    let mut cleared = e.header.clone();
    cleared.status = ExecutionStatus::Polling;
    cleared.paused_before_wave = None;
    cleared.status_message = None;
    cleared.task_token = None;
    cleared.version += 1;
    store
        .commit(&Commit {
            execution_id: e.id(),
            header: Some(HeaderWrite {
                expected_version: e.header.version,
                header: cleared.clone(),
            }),
            waves: vec![],
            events: vec![],
        })
        .await
        .unwrap_or_else(|err| panic!("{CASE}: commit: {err}"));
    assert_eq!(
        load(store, e.id(), CASE).await.map(|s| s.header),
        Some(cleared),
        "{CASE}"
    );
}

pub async fn list_active_pages_over_the_unfinished_executions_only(store: &dyn ExecutionStore) {
    const CASE: &str = "list_active pages over the unfinished executions only";
    let run = "arn:aws:states:us-east-1:123456789012:execution:drs:run-3";
    let mut expected = BTreeMap::new();
    let statuses = [
        (ExecutionStatus::Polling, 3),
        (ExecutionStatus::Cancelling, 2),
        (ExecutionStatus::Paused, 2),
        (ExecutionStatus::Completed, 2),
        (ExecutionStatus::Failed, 1),
        (ExecutionStatus::Pending, 1),
    ];
    let mut n = 0;
    for (status, count) in statuses {
        for _ in 0..count {
            n += 1;
            let mut e = execution(&[1]);
            e.header.status = status;
            e.header.created_time = Timestamp(1000 + n);
            store
                .create(&e, &[])
                .await
                .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
            // Several touches each: what is listed is the last of them (find polls the least
            // recently polled first, healing asks about the runs silent the longest).
            let id = e.id();
            let touch = |t: Touch| async move {
                store
                    .touch(id, &t)
                    .await
                    .unwrap_or_else(|err| panic!("{CASE}: touch: {err}"));
            };
            if n % 2 == 0 {
                touch(Touch::poll(Timestamp(5000 + n), Some(run))).await;
                touch(Touch::poll_of(Timestamp(6000 - n), Some(run), Some(run))).await;
                e.header.last_polled_time = Some(Timestamp(6000 - n));
                e.header.workflow_run = Some(run.into());
                e.header.workflow_polled_time = Some(Timestamp(6000 - n));
            }
            if n % 3 == 0 {
                // find's poll: the poll time only.
                touch(Touch::poll(Timestamp(7000 - n), None)).await;
                e.header.last_polled_time = Some(Timestamp(7000 - n));
            }
            if ExecutionStatus::LISTED.contains(&status) {
                expected.insert(
                    e.id(),
                    ActiveExecution {
                        execution_id: e.id(),
                        plan_id: e.header.plan_id,
                        status,
                        created_time: e.header.created_time,
                        last_polled_time: e.header.last_polled_time,
                        workflow_run: e.header.workflow_run.clone(),
                        workflow_polled_time: e.header.workflow_polled_time,
                    },
                );
            }
        }
    }
    let mut listed = BTreeMap::new();
    let (mut cursor, mut pages) = (None, 0);
    loop {
        let page = store
            .list_active(cursor)
            .await
            .unwrap_or_else(|err| panic!("{CASE}: page {pages}: {err}"));
        pages += 1;
        assert!(
            page.executions.len() <= 2,
            "{CASE}: the store under test pages by at most 2, got {}",
            page.executions.len()
        );
        for e in page.executions {
            assert!(
                listed.insert(e.execution_id, e).is_none(),
                "{CASE}: listed twice"
            );
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 50, "{CASE}: list_active does not end");
    }
    assert_eq!(
        listed, expected,
        "{CASE}: every POLLING, CANCELLING, PAUSED and PENDING execution, as it stands"
    );
    assert!(
        pages >= 4,
        "{CASE}: 8 executions in pages of 2 take 4 pages at least, got {pages}"
    );
}

pub async fn list_active_refuses_a_cursor_it_did_not_give(store: &dyn ExecutionStore) {
    const CASE: &str = "list_active refuses a cursor it did not give";
    for forged in ["COMPLETED", "not a cursor", "POLLING|x|y"] {
        let answer = store.list_active(Some(forged.into())).await;
        assert!(
            matches!(answer, Err(StoreError::Service(ServiceError::Rejected(_)))),
            "{CASE}: {forged:?} gave {answer:?}"
        );
    }
}

pub async fn create_stores_its_events_and_events_answers_them_oldest_first(
    store: &dyn ExecutionStore,
) {
    const CASE: &str = "create stores its events, and events answers them oldest first";
    let mut e = execution(&[2, 1]);
    e.waves[1].wave_name = Some("app — 東京".into());
    let creation = created(&e, 1);
    let mut imported = created(&e, 2);
    imported.operation = "import".into();
    imported.reason = Some("brought over from the old runbook — «as is»".into());
    store
        .create(&e, &[creation.clone(), imported.clone()])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    // Another execution's trail is its own.
    let other = execution(&[1]);
    let other_created = created(&other, 1);
    store
        .create(&other, std::slice::from_ref(&other_created))
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create the other: {err}"));

    assert_eq!(
        trail(store, e.id(), CASE).await,
        [creation, imported],
        "{CASE}"
    );
    assert_eq!(
        trail(store, other.id(), CASE).await,
        [other_created],
        "{CASE}: the other execution's"
    );
    assert_eq!(load(store, e.id(), CASE).await, Some(e), "{CASE}: load");
}

pub async fn a_commit_appends_its_events_atomically_with_its_writes(store: &dyn ExecutionStore) {
    const CASE: &str = "a commit appends its events atomically with its writes";
    let e = execution(&[2, 1]);
    let creation = created(&e, 1);
    store
        .create(&e, std::slice::from_ref(&creation))
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));

    // One wave and its event.
    let launching = wave_put(&e.waves[0], |w| {
        w.status = WaveStatus::Launching;
        w.attempt = 1;
    });
    let first = with_event(&e, Commit::new(e.id(), None, vec![launching]), 3);
    store
        .commit(&first)
        .await
        .unwrap_or_else(|err| panic!("{CASE}: a wave and its event: {err}"));
    let mut expected = e.clone();
    apply(&mut expected, &first);
    assert_eq!(load(store, e.id(), CASE).await.as_ref(), Some(&expected));
    assert_eq!(
        trail(store, e.id(), CASE).await,
        [creation.clone(), first.events[0].clone()],
        "{CASE}: a wave and its event"
    );

    // The header, a wave and its event.
    let header = header_put(&expected, |h| {
        h.status = ExecutionStatus::Polling;
        h.start_time = Some(Timestamp(1001));
    });
    let started = wave_put(&expected.waves[0], |w| {
        w.status = WaveStatus::Started;
        w.status_message = Some("launched — 2 of 2".into());
        for s in &mut w.server_statuses {
            s.launch_status = LaunchStatus::Launched;
        }
    });
    let second = with_event(
        &expected,
        Commit::new(e.id(), Some(header), vec![started]),
        4,
    );
    store
        .commit(&second)
        .await
        .unwrap_or_else(|err| panic!("{CASE}: the header, a wave and its event: {err}"));
    apply(&mut expected, &second);
    assert_eq!(load(store, e.id(), CASE).await, Some(expected), "{CASE}");
    assert_eq!(
        trail(store, e.id(), CASE).await,
        [creation, first.events[0].clone(), second.events[0].clone()],
        "{CASE}: appended after the first, oldest first"
    );
}

pub async fn a_conflicting_commit_writes_neither_its_writes_nor_its_events(
    store: &dyn ExecutionStore,
) {
    const CASE: &str = "a conflicting commit writes neither its writes nor its events";
    let e = execution(&[1, 1]);
    let creation = created(&e, 1);
    store
        .create(&e, std::slice::from_ref(&creation))
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    let header = header_put(&e, |h| h.status = ExecutionStatus::Polling);
    let wave_0 = wave_put(&e.waves[0], |w| w.status = WaveStatus::Launching);
    let mut stale_wave = wave_put(&e.waves[1], |w| w.status = WaveStatus::Cancelled);
    stale_wave.expected_version = 5; // the store holds version 0
    stale_wave.wave.version = 6;
    let mut stale_header = header.clone();
    stale_header.expected_version = 3;
    stale_header.header.version = 4;
    for (what, header, waves) in [
        ("a stale wave alone", None, vec![stale_wave.clone()]),
        (
            "a stale wave beside a good header and wave",
            Some(header.clone()),
            vec![wave_0.clone(), stale_wave],
        ),
        ("a stale header alone", Some(stale_header.clone()), vec![]),
        (
            "a stale header beside a good wave",
            Some(stale_header),
            vec![wave_0.clone()],
        ),
    ] {
        let commit = with_event(&e, Commit::new(e.id(), header, waves), 3);
        assert_eq!(
            store.commit(&commit).await,
            Err(StoreError::Conflict),
            "{CASE}: {what}"
        );
        unchanged(store, &e, &creation, &format!("{CASE}: {what}")).await;
    }

    // A missing execution gets neither a record nor a trail.
    let ghost = execution(&[1]);
    let commit = with_event(
        &ghost,
        Commit::new(
            ghost.id(),
            Some(header_put(&ghost, |h| h.status = ExecutionStatus::Polling)),
            vec![wave_put(&ghost.waves[0], |w| {
                w.status = WaveStatus::Launching;
            })],
        ),
        3,
    );
    assert_eq!(
        store.commit(&commit).await,
        Err(StoreError::Conflict),
        "{CASE}: a missing execution"
    );
    assert_eq!(load(store, ghost.id(), CASE).await, None, "{CASE}");
    assert_eq!(
        trail(store, ghost.id(), CASE).await,
        [],
        "{CASE}: a missing execution's trail"
    );
}

pub async fn a_commit_carrying_an_event_already_in_the_trail_conflicts_and_writes_nothing(
    store: &dyn ExecutionStore,
) {
    const CASE: &str =
        "a commit carrying an event already in the trail conflicts and writes nothing";
    let e = execution(&[1, 1]);
    let creation = created(&e, 1);
    store
        .create(&e, std::slice::from_ref(&creation))
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    let launching = wave_put(&e.waves[0], |w| w.status = WaveStatus::Launching);
    let good = with_event(&e, Commit::new(e.id(), None, vec![launching]), 3);

    // The writes are good; only the event's id is taken (by the creation's event).
    let mut taken = good.clone();
    taken.events[0].event_id = creation.event_id.clone();
    // A new event beside a taken one: neither is appended.
    let mut beside = good.clone();
    let mut new = good.events[0].clone();
    new.event_id = numbered(new.clone(), 5).event_id;
    beside.events = vec![new, creation.clone()];
    for (what, commit) in [
        ("the creation's event id", &taken),
        ("a new event beside the creation's", &beside),
    ] {
        assert_eq!(
            store.commit(commit).await,
            Err(StoreError::Conflict),
            "{CASE}: {what}"
        );
        unchanged(store, &e, &creation, &format!("{CASE}: {what}")).await;
    }

    // The same writes with a fresh event land; a later change that reuses that event's id does not.
    store
        .commit(&good)
        .await
        .unwrap_or_else(|err| panic!("{CASE}: the good commit: {err}"));
    let mut expected = e.clone();
    apply(&mut expected, &good);
    let mut reused = with_event(
        &expected,
        Commit::new(
            e.id(),
            None,
            vec![wave_put(&expected.waves[1], |w| {
                w.status = WaveStatus::Cancelled;
            })],
        ),
        4,
    );
    reused.events[0].event_id = good.events[0].event_id.clone();
    assert_eq!(
        store.commit(&reused).await,
        Err(StoreError::Conflict),
        "{CASE}: a commit's event id"
    );
    assert_eq!(load(store, e.id(), CASE).await, Some(expected), "{CASE}");
    assert_eq!(
        trail(store, e.id(), CASE).await,
        [creation, good.events[0].clone()],
        "{CASE}: the trail of the good commit"
    );
}

pub async fn load_never_returns_trail_items(store: &dyn ExecutionStore) {
    const CASE: &str = "load never returns trail items";
    let e = execution(&[1, 2]);
    let events: Vec<AuditEvent> = (0..3).map(|n| created(&e, 1 + n)).collect();
    store
        .create(&e, &events)
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    assert_eq!(
        load(store, e.id(), CASE).await.as_ref(),
        Some(&e),
        "{CASE}: after create"
    );
    let commit = with_event(
        &e,
        Commit::new(
            e.id(),
            Some(header_put(&e, |h| h.status = ExecutionStatus::Polling)),
            vec![wave_put(&e.waves[1], |w| w.status = WaveStatus::Launching)],
        ),
        4,
    );
    store
        .commit(&commit)
        .await
        .unwrap_or_else(|err| panic!("{CASE}: commit: {err}"));
    let mut expected = e.clone();
    apply(&mut expected, &commit);
    assert_eq!(
        load(store, e.id(), CASE).await.as_ref(),
        Some(&expected),
        "{CASE}: after a commit"
    );
    assert_eq!(
        trail(store, e.id(), CASE).await.len(),
        4,
        "{CASE}: the trail"
    );

    // Nor does list_active: the execution is listed once, and nothing else.
    let (mut listed, mut cursor, mut pages) = (vec![], None, 0);
    loop {
        let page = store
            .list_active(cursor)
            .await
            .unwrap_or_else(|err| panic!("{CASE}: list_active: {err}"));
        listed.extend(
            page.executions
                .into_iter()
                .map(|a| (a.execution_id, a.status)),
        );
        pages += 1;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "{CASE}: list_active does not end");
    }
    assert_eq!(
        listed,
        [(e.id(), ExecutionStatus::Polling)],
        "{CASE}: list_active"
    );
}

pub async fn events_pages_over_the_whole_trail_in_order(store: &dyn ExecutionStore) {
    const CASE: &str = "events pages over the whole trail in order";
    let mut e = execution(&[1]);
    let mut expected = vec![created(&e, 1)];
    store
        .create(&e, &expected)
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    // A neighbour with a trail of its own, created in between: never in this one's pages.
    let other = execution(&[1]);
    store
        .create(&other, &[created(&other, 1)])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create the other: {err}"));
    for n in 1..=6 {
        let write = wave_put(&e.waves[0], |w| {
            w.status_message = Some(format!("step {n}"))
        });
        let commit = with_event(&e, Commit::new(e.id(), None, vec![write]), 1 + n);
        store
            .commit(&commit)
            .await
            .unwrap_or_else(|err| panic!("{CASE}: commit {n}: {err}"));
        apply(&mut e, &commit);
        expected.extend(commit.events);
    }

    let (mut events, mut cursor, mut pages) = (vec![], None, 0);
    loop {
        let page = store
            .events(e.id(), cursor)
            .await
            .unwrap_or_else(|err| panic!("{CASE}: page {pages}: {err}"));
        pages += 1;
        assert!(
            page.events.len() <= 2,
            "{CASE}: the store under test pages by at most 2, got {}",
            page.events.len()
        );
        events.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 50, "{CASE}: events does not end");
    }
    assert_eq!(events, expected, "{CASE}: every event once, oldest first");
    assert!(
        pages >= 4,
        "{CASE}: 7 events in pages of 2 take 4 pages at least, got {pages}"
    );
}

pub async fn events_refuses_a_cursor_it_did_not_give(store: &dyn ExecutionStore) {
    const CASE: &str = "events refuses a cursor it did not give";
    let e = execution(&[1]);
    store
        .create(&e, &[created(&e, 1)])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    let long = "9".repeat(1000);
    for forged in ["", "not a cursor", "EXECUTION|WAVE#0000", long.as_str()] {
        let answer = store.events(e.id(), Some(forged.into())).await;
        assert!(
            matches!(answer, Err(StoreError::Service(ServiceError::Rejected(_)))),
            "{CASE}: {forged:?} gave {answer:?}"
        );
    }
}

pub async fn an_execution_without_a_trail_answers_an_empty_page(store: &dyn ExecutionStore) {
    const CASE: &str = "an execution without a trail answers an empty page";
    let e = execution(&[1]);
    store
        .create(&e, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: create: {err}"));
    for (what, id) in [
        ("created without events", e.id()),
        ("never created", ExecutionId::new_random()),
    ] {
        let page = store
            .events(id, None)
            .await
            .unwrap_or_else(|err| panic!("{CASE}: {what}: {err}"));
        assert_eq!(page, EventPage::default(), "{CASE}: {what}");
    }
}

// ---------------------------------------------------------------------------------------------
// Server holds
// ---------------------------------------------------------------------------------------------

/// `execution`'s claim on server `n`, taken at `since`.
fn claim(execution: ExecutionId, n: usize, since: i64) -> HoldClaim {
    HoldClaim {
        hold: ServerHold {
            source_server_id: fixtures::server(n),
            execution_id: execution,
            since: Timestamp(since),
        },
        replaces: None,
    }
}

fn servers(numbers: impl IntoIterator<Item = usize>) -> Vec<SourceServerId> {
    numbers.into_iter().map(fixtures::server).collect()
}

/// The holds on `numbers`, by server (a store answers in any order).
async fn holds_on(
    locks: &dyn ServerLocks,
    numbers: impl IntoIterator<Item = usize>,
    case: &str,
) -> Vec<ServerHold> {
    let mut holds = locks
        .holds(&servers(numbers))
        .await
        .unwrap_or_else(|err| panic!("{case}: holds: {err}"));
    holds.sort_by(|a, b| a.source_server_id.cmp(&b.source_server_id));
    holds
}

/// Who holds each of `numbers`, by server; `None` for a server without a hold.
async fn holders(
    locks: &dyn ServerLocks,
    numbers: &[usize],
    case: &str,
) -> Vec<Option<ExecutionId>> {
    let holds = holds_on(locks, numbers.iter().copied(), case).await;
    numbers
        .iter()
        .map(|&n| {
            holds
                .iter()
                .find(|h| h.source_server_id == fixtures::server(n))
                .map(|h| h.execution_id)
        })
        .collect()
}

async fn take(locks: &dyn ServerLocks, claims: &[HoldClaim], case: &str) {
    locks
        .hold(claims)
        .await
        .unwrap_or_else(|err| panic!("{case}: hold {claims:?}: {err}"));
}

pub async fn hold_of_unheld_servers_is_empty(locks: &dyn ServerLocks) {
    const CASE: &str = "the holds of servers no one holds are none";
    assert_eq!(holds_on(locks, 0..3, CASE).await, [], "{CASE}");
    assert_eq!(holds_on(locks, [], CASE).await, [], "{CASE}: no servers");
}

pub async fn a_hold_reads_back(locks: &dyn ServerLocks) {
    const CASE: &str = "a hold reads back as it was taken";
    let e = ExecutionId::new_random();
    let claims = [claim(e, 0, 1000), claim(e, 1, 1000)];
    take(locks, &claims, CASE).await;
    assert_eq!(
        holds_on(locks, [2, 1, 0, 1], CASE).await,
        [claims[0].hold.clone(), claims[1].hold.clone()],
        "{CASE}: each held server once, an unheld one absent"
    );
}

pub async fn hold_on_a_server_another_execution_holds_conflicts_and_takes_nothing(
    locks: &dyn ServerLocks,
) {
    const CASE: &str = "a claim on a server another execution holds conflicts and takes nothing";
    let (first, second, third) = (
        ExecutionId::new_random(),
        ExecutionId::new_random(),
        ExecutionId::new_random(),
    );
    take(locks, &[claim(first, 0, 1000)], CASE).await;
    // Server 1 is free, server 0 is not: all or nothing.
    assert_eq!(
        locks
            .hold(&[claim(second, 1, 2000), claim(second, 0, 2000)])
            .await,
        Err(StoreError::Conflict),
        "{CASE}"
    );
    // Replacing an execution that does not hold it is no right to it either.
    let mut stale = claim(second, 0, 2000);
    stale.replaces = Some(third);
    assert_eq!(
        locks.hold(&[claim(second, 2, 2000), stale]).await,
        Err(StoreError::Conflict),
        "{CASE}: replacing an execution that is not the holder"
    );
    assert_eq!(
        holds_on(locks, 0..3, CASE).await,
        [claim(first, 0, 1000).hold],
        "{CASE}: the holder keeps its hold and the free servers stay free"
    );
}

pub async fn hold_again_by_the_same_execution_is_fine(locks: &dyn ServerLocks) {
    const CASE: &str = "the same execution claiming again is fine (a retried start)";
    let e = ExecutionId::new_random();
    take(locks, &[claim(e, 0, 1000), claim(e, 1, 1000)], CASE).await;
    take(
        locks,
        &[claim(e, 0, 1000), claim(e, 1, 1060), claim(e, 2, 1060)],
        CASE,
    )
    .await;
    assert_eq!(
        holders(locks, &[0, 1, 2], CASE).await,
        [Some(e), Some(e), Some(e)],
        "{CASE}"
    );
}

pub async fn hold_replacing_an_ended_holder_takes_its_servers_over(locks: &dyn ServerLocks) {
    const CASE: &str = "a claim that replaces the holder takes its hold over";
    let (old, new, late) = (
        ExecutionId::new_random(),
        ExecutionId::new_random(),
        ExecutionId::new_random(),
    );
    take(locks, &[claim(old, 0, 1000), claim(old, 1, 1000)], CASE).await;
    let mut over = claim(new, 0, 5000);
    over.replaces = Some(old);
    // A free server may be claimed with a `replaces` too.
    let mut free = claim(new, 2, 5000);
    free.replaces = Some(old);
    take(locks, &[over.clone(), free.clone()], CASE).await;
    assert_eq!(
        holds_on(locks, 0..3, CASE).await,
        [over.hold, claim(old, 1, 1000).hold, free.hold],
        "{CASE}: server 0 is the new execution's, server 1 still the old one's"
    );
    // The old holder has lost it, and one replacing the old holder now is too late.
    let mut again = claim(late, 0, 6000);
    again.replaces = Some(old);
    for (what, claims) in [
        ("the old holder", vec![claim(old, 0, 6000)]),
        ("a second replacer of the old holder", vec![again]),
    ] {
        assert_eq!(
            locks.hold(&claims).await,
            Err(StoreError::Conflict),
            "{CASE}: {what}"
        );
    }
    assert_eq!(
        holders(locks, &[0, 1, 2], CASE).await,
        [Some(new), Some(old), Some(new)],
        "{CASE}: the refused claims took nothing"
    );
}

pub async fn release_drops_only_the_releasing_executions_holds(locks: &dyn ServerLocks) {
    const CASE: &str = "release drops the releasing execution's holds and no other";
    let (mine, theirs) = (ExecutionId::new_random(), ExecutionId::new_random());
    take(locks, &[claim(mine, 0, 1000), claim(mine, 1, 1000)], CASE).await;
    take(locks, &[claim(theirs, 2, 1000)], CASE).await;
    // Server 2 is another's, server 3 no one's: neither is an error.
    locks
        .release(mine, &servers([0, 2, 3]))
        .await
        .unwrap_or_else(|err| panic!("{CASE}: release: {err}"));
    assert_eq!(
        holders(locks, &[0, 1, 2, 3], CASE).await,
        [None, Some(mine), Some(theirs), None],
        "{CASE}"
    );
    locks
        .release(mine, &[])
        .await
        .unwrap_or_else(|err| panic!("{CASE}: release of nothing: {err}"));
    // A released server is free for anyone.
    take(locks, &[claim(theirs, 0, 2000)], CASE).await;
    assert_eq!(
        holders(locks, &[0], CASE).await,
        [Some(theirs)],
        "{CASE}: a released server is free"
    );
}

pub async fn hold_of_more_than_a_transaction_is_rejected_and_takes_nothing(
    locks: &dyn ServerLocks,
) {
    const CASE: &str = "a hold of more claims than one transaction takes is rejected";
    let e = ExecutionId::new_random();
    let too_many: Vec<HoldClaim> = (0..=MAX_COMMIT_ITEMS).map(|n| claim(e, n, 1000)).collect();
    let answer = locks.hold(&too_many).await;
    assert!(
        matches!(answer, Err(StoreError::Service(ServiceError::Rejected(_)))),
        "{CASE}: {} claims gave {answer:?}",
        too_many.len()
    );
    assert_eq!(
        holds_on(locks, 0..=MAX_COMMIT_ITEMS, CASE).await,
        [],
        "{CASE}: nothing taken"
    );
    // The most one hold may take.
    take(locks, &too_many[..MAX_COMMIT_ITEMS], CASE).await;
    assert_eq!(
        holds_on(locks, 0..=MAX_COMMIT_ITEMS, CASE).await.len(),
        MAX_COMMIT_ITEMS,
        "{CASE}: {MAX_COMMIT_ITEMS} claims are one hold"
    );
}
