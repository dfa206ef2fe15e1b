//! Test harness: mockall mocks of the ports wired to a small shared state that honours the port
//! contracts, plus hooks to lose races on purpose.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::fixtures;
use crate::model::{Execution, Timestamp};
use crate::ports::mocks::{FixedClock, MockDrs, MockEc2, MockStore, MockWorkflow};
use crate::ports::{ActiveExecution, ActivePage, Commit, HeaderWrite, StoreError};

/// A racing writer's change, applied to the stored record just before a commit is checked.
pub type RacingWrite = Box<dyn FnOnce(&mut Execution) + Send>;

/// What the fake store holds and what was written to it.
#[derive(Default)]
pub struct StoreState {
    pub record: Option<Execution>,
    pub commits: Vec<Commit>,
    pub touches: Vec<Timestamp>,
    /// Run before each commit is checked: lets a test change the record as a racing writer would.
    pub before_commit: VecDeque<RacingWrite>,
    /// Errors to return from the next commits instead of applying them.
    pub fail_commits: VecDeque<StoreError>,
}

pub type Shared = Arc<Mutex<StoreState>>;

pub fn empty() -> Shared {
    Arc::default()
}

pub fn shared(record: Execution) -> Shared {
    Arc::new(Mutex::new(StoreState {
        record: Some(record),
        ..StoreState::default()
    }))
}

/// Applies `commit` as the port contract says: all or nothing, Conflict on any version mismatch.
pub fn apply(record: &mut Execution, commit: &Commit) -> Result<(), StoreError> {
    match &commit.header {
        Some(HeaderWrite::Check { expected_version })
        | Some(HeaderWrite::Put {
            expected_version, ..
        }) if *expected_version != record.header.version => return Err(StoreError::Conflict),
        _ => {}
    }
    for w in &commit.waves {
        let stored = record
            .wave(w.wave.wave_number)
            .ok_or(StoreError::Conflict)?;
        if stored.version != w.expected_version {
            return Err(StoreError::Conflict);
        }
        assert_eq!(
            w.wave.version,
            w.expected_version + 1,
            "wave writes bump the version by one"
        );
        assert!(
            crate::lifecycle::WAVE_TABLE
                .iter()
                .any(|&(_, from, to)| from == stored.status && to == w.wave.status),
            "wave {} moved {} → {}",
            stored.wave_number,
            stored.status,
            w.wave.status
        );
    }
    if let Some(HeaderWrite::Put {
        expected_version,
        header,
    }) = &commit.header
    {
        assert_eq!(
            header.version,
            expected_version + 1,
            "header writes bump the version by one"
        );
        assert!(
            !record.header.status.is_terminal(),
            "a terminal execution was written"
        );
        let kept = record.header.clone();
        record.header = header.clone();
        // touch owns lastPolledTime, workflowRun and workflowPolledTime
        record.header.last_polled_time = kept.last_polled_time;
        record.header.workflow_run = kept.workflow_run;
        record.header.workflow_polled_time = kept.workflow_polled_time;
    }
    for w in &commit.waves {
        let i = record
            .waves
            .iter()
            .position(|x| x.wave_number == w.wave.wave_number)
            .unwrap_or_else(|| unreachable!());
        record.waves[i] = w.wave.clone();
    }
    Ok(())
}

/// A MockStore whose every method reads and writes `state`.
pub fn store(state: &Shared) -> MockStore {
    let mut m = MockStore::new();
    let s = state.clone();
    m.expect_load().returning(move |id| {
        let st = s.lock().unwrap();
        Ok(st.record.clone().filter(|r| r.id() == id))
    });
    let s = state.clone();
    m.expect_commit().returning(move |commit| {
        let mut st = s.lock().unwrap();
        if let Some(e) = st.fail_commits.pop_front() {
            return Err(e);
        }
        let hook = st.before_commit.pop_front();
        let StoreState {
            record, commits, ..
        } = &mut *st;
        let record = record.as_mut().ok_or(StoreError::Conflict)?;
        if let Some(hook) = hook {
            hook(record);
        }
        apply(record, commit)?;
        commits.push(commit.clone());
        Ok(())
    });
    let s = state.clone();
    m.expect_create().returning(move |e| {
        let mut st = s.lock().unwrap();
        if st.record.as_ref().is_some_and(|r| r.id() == e.id()) {
            return Err(StoreError::Conflict);
        }
        st.record = Some(e.clone());
        Ok(())
    });
    let s = state.clone();
    m.expect_touch().returning(move |id, touch| {
        let mut st = s.lock().unwrap();
        let StoreState {
            record, touches, ..
        } = &mut *st;
        match record.as_mut().filter(|r| r.id() == id) {
            Some(r) => {
                if let Some(at) = touch.polled_at {
                    r.header.last_polled_time = Some(at);
                    touches.push(at);
                }
                if let Some(mark) = &touch.workflow {
                    r.header.workflow_run = Some(mark.run.clone());
                    r.header.workflow_polled_time = Some(mark.at);
                }
                Ok(())
            }
            None => Err(StoreError::Conflict),
        }
    });
    let s = state.clone();
    m.expect_list_active().returning(move |_| {
        let st = s.lock().unwrap();
        let executions = st
            .record
            .iter()
            .filter(|r| crate::status::ExecutionStatus::LISTED.contains(&r.status()))
            .map(|r| ActiveExecution {
                execution_id: r.id(),
                plan_id: r.header.plan_id,
                status: r.status(),
                created_time: r.header.created_time,
                last_polled_time: r.header.last_polled_time,
                workflow_run: r.header.workflow_run.clone(),
                workflow_polled_time: r.header.workflow_polled_time,
            })
            .collect();
        Ok(ActivePage {
            executions,
            next_cursor: None,
        })
    });
    m
}

/// A DRS that must not be called.
pub fn no_drs() -> MockDrs {
    MockDrs::new()
}

/// An EC2 that must not be called.
pub fn no_ec2() -> MockEc2 {
    MockEc2::new()
}

/// A workflow that must not be called.
pub fn no_workflow() -> MockWorkflow {
    MockWorkflow::new()
}

pub fn clock(secs: i64) -> FixedClock {
    FixedClock::at_secs(secs)
}

pub fn target() -> crate::api::Target {
    crate::api::Target {
        execution_id: fixtures::execution_id(),
        plan_id: fixtures::plan_id(),
    }
}

pub fn record(state: &Shared) -> Execution {
    state.lock().unwrap().record.clone().unwrap()
}
