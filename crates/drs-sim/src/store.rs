//! The execution store in memory, honouring the [`ExecutionStore`] contract to the letter, and the
//! source servers' holds ([`ServerLocks`]) beside it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use execution_core::audit::AuditEvent;
use execution_core::ids::{ExecutionId, SourceServerId};
use execution_core::invariants::{self, Violation};
use execution_core::model::Execution;
use execution_core::ports::{
    ActiveExecution, ActivePage, Commit, EventPage, ExecutionStore, HeaderWrite, HoldClaim,
    ServerHold, ServerLocks, ServiceError, StoreError, Touch, MAX_COMMIT_ITEMS,
};
use execution_core::status::ExecutionStatus;
use serde::Serialize;

use crate::lock;

/// Executions in insertion order (so a saved world keeps its order) with an index by id, each
/// execution's audit trail, oldest first, and the source servers' holds.
#[derive(Debug, Default)]
struct Table {
    order: Vec<ExecutionId>,
    by_id: HashMap<ExecutionId, Execution>,
    trails: HashMap<ExecutionId, Vec<AuditEvent>>,
    holds: BTreeMap<SourceServerId, ServerHold>,
}

#[derive(Debug)]
pub struct MemoryStore {
    table: Mutex<Table>,
    page_size: usize,
    counts: Counters,
    /// Every call waits this long first (real time), for benchmarks; `None` by default.
    latency: Mutex<Option<Duration>>,
    /// Whether every written record is checked ([`MemoryStore::check_invariants`]).
    checking: AtomicBool,
    violations: Mutex<Vec<(ExecutionId, Violation)>>,
}

/// Reads and writes by kind, for benchmarks and for tests that assert what a use case wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreCounts {
    pub loads: u64,
    pub creates: u64,
    pub list_active_pages: u64,
    pub commits: u64,
    /// Commits refused with `Conflict` (nothing written).
    pub conflicts: u64,
    pub header_writes: u64,
    pub wave_writes: u64,
    pub touches: u64,
    /// `holds` calls.
    pub hold_reads: u64,
    /// `hold` and `release` calls (refused ones too).
    pub hold_writes: u64,
}

#[derive(Debug, Default)]
struct Counters([AtomicU64; 10]);

#[derive(Clone, Copy)]
enum Count {
    Load,
    Create,
    ListActive,
    Commit,
    Conflict,
    HeaderWrite,
    WaveWrite,
    Touch,
    HoldRead,
    HoldWrite,
}

impl Counters {
    fn add(&self, what: Count, n: u64) {
        self.0[what as usize].fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self, what: Count) -> u64 {
        self.0[what as usize].load(Ordering::Relaxed)
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_page_size(Self::DEFAULT_PAGE_SIZE)
    }
}

impl MemoryStore {
    /// What one DynamoDB Query page of small index items holds, roughly.
    pub const DEFAULT_PAGE_SIZE: usize = 100;

    /// `page_size` executions per `list_active` page (at least 1).
    pub fn with_page_size(page_size: usize) -> Self {
        Self {
            table: Mutex::default(),
            page_size: page_size.max(1),
            counts: Counters::default(),
            latency: Mutex::default(),
            checking: AtomicBool::new(false),
            violations: Mutex::default(),
        }
    }

    /// From now on, every record a create, commit or touch leaves is checked against
    /// [`execution_core::invariants`]; what it breaks is kept for [`MemoryStore::violations`].
    /// Off by default (the check reads the whole record on every write).
    pub fn check_invariants(&self) {
        self.checking.store(true, Ordering::SeqCst);
    }

    /// What the records written since [`MemoryStore::check_invariants`] broke, in the order the
    /// writes happened; empty when every write left a record the engine could have written.
    pub fn violations(&self) -> Vec<(ExecutionId, Violation)> {
        lock(&self.violations).clone()
    }

    /// Checks `record` as written, when checking is on.
    fn audit(&self, record: &Execution) {
        if self.checking.load(Ordering::SeqCst) {
            let found = invariants::check(record);
            if !found.is_empty() {
                lock(&self.violations).extend(found.into_iter().map(|v| (record.id(), v)));
            }
        }
    }

    /// A store holding `executions`; an id given twice is refused with that id.
    pub fn with_executions(executions: Vec<Execution>) -> Result<Self, ExecutionId> {
        let store = Self::default();
        {
            let mut t = lock(&store.table);
            for e in executions {
                let id = e.id();
                if t.by_id.insert(id, e).is_some() {
                    return Err(id);
                }
                t.order.push(id);
            }
        }
        Ok(store)
    }

    /// Sets the trail of `id` (a world file's), replacing any.
    pub fn set_trail(&self, id: ExecutionId, events: Vec<AuditEvent>) {
        lock(&self.table).trails.insert(id, events);
    }

    /// The audit trail of `id`, oldest first (empty when it has none).
    pub fn trail(&self, id: ExecutionId) -> Vec<AuditEvent> {
        lock(&self.table)
            .trails
            .get(&id)
            .cloned()
            .unwrap_or_default()
    }

    /// Every execution as stored, in the order they were created.
    pub fn executions(&self) -> Vec<Execution> {
        let t = lock(&self.table);
        t.order
            .iter()
            .filter_map(|id| t.by_id.get(id).cloned())
            .collect()
    }

    /// Every hold, by source server (a world file's).
    pub fn all_holds(&self) -> Vec<ServerHold> {
        lock(&self.table).holds.values().cloned().collect()
    }

    /// Sets the holds (a world file's), replacing any; a server given twice keeps its last hold.
    pub fn set_holds(&self, holds: Vec<ServerHold>) {
        lock(&self.table).holds = holds
            .into_iter()
            .map(|h| (h.source_server_id.clone(), h))
            .collect();
    }

    pub fn get(&self, id: ExecutionId) -> Option<Execution> {
        lock(&self.table).by_id.get(&id).cloned()
    }

    pub fn set_latency(&self, latency: Option<Duration>) {
        *lock(&self.latency) = latency;
    }

    /// Counts one call of `what` and waits the configured latency.
    async fn enter(&self, what: Count) {
        self.counts.add(what, 1);
        let latency = *lock(&self.latency);
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
    }

    pub fn counts(&self) -> StoreCounts {
        let c = &self.counts;
        StoreCounts {
            loads: c.get(Count::Load),
            creates: c.get(Count::Create),
            list_active_pages: c.get(Count::ListActive),
            commits: c.get(Count::Commit),
            conflicts: c.get(Count::Conflict),
            header_writes: c.get(Count::HeaderWrite),
            wave_writes: c.get(Count::WaveWrite),
            touches: c.get(Count::Touch),
            hold_reads: c.get(Count::HoldRead),
            hold_writes: c.get(Count::HoldWrite),
        }
    }
}

/// Opaque to callers; here the last execution id of the previous page.
const CURSOR_PREFIX: &str = "after:";

#[async_trait]
impl ExecutionStore for MemoryStore {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        self.enter(Count::Load).await;
        Ok(self.get(id))
    }

    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.enter(Count::Create).await;
        let mut t = lock(&self.table);
        let id = execution.id();
        if t.by_id.contains_key(&id) {
            return Err(StoreError::Conflict);
        }
        t.by_id.insert(id, execution.clone());
        t.order.push(id);
        let mut trail = events.to_vec();
        trail.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        trail.dedup_by(|a, b| a.event_id == b.event_id);
        t.trails.insert(id, trail);
        self.audit(execution);
        Ok(())
    }

    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.enter(Count::ListActive).await;
        let after = match cursor {
            None => None,
            Some(c) => Some(
                c.strip_prefix(CURSOR_PREFIX)
                    .and_then(|id| ExecutionId::parse(id).ok())
                    .ok_or_else(|| {
                        StoreError::Service(ServiceError::Rejected(format!(
                            "invalid list_active cursor '{c}'"
                        )))
                    })?,
            ),
        };
        let t = lock(&self.table);
        // Index order: by id, like a sort key; a page resumes strictly after the cursor's id.
        let mut active: Vec<&Execution> = t
            .by_id
            .values()
            .filter(|e| ExecutionStatus::LISTED.contains(&e.status()))
            .filter(|e| after.is_none_or(|a| e.id() > a))
            .collect();
        active.sort_by_key(|e| e.id());
        let more = active.len() > self.page_size;
        active.truncate(self.page_size);
        let next_cursor = more
            .then(|| active.last().map(|e| format!("{CURSOR_PREFIX}{}", e.id())))
            .flatten();
        let executions = active
            .into_iter()
            .map(|e| ActiveExecution {
                execution_id: e.id(),
                plan_id: e.header.plan_id,
                status: e.status(),
                created_time: e.header.created_time,
                last_polled_time: e.header.last_polled_time,
                workflow_run: e.header.workflow_run.clone(),
                workflow_polled_time: e.header.workflow_polled_time,
            })
            .collect();
        Ok(ActivePage {
            executions,
            next_cursor,
        })
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.enter(Count::Commit).await;
        if commit.header.is_none() && commit.waves.is_empty() && !commit.events.is_empty() {
            // As DynamoDB's: an event records a change, never stands alone.
            return Err(StoreError::Service(ServiceError::Rejected(
                "a commit of events and no change".into(),
            )));
        }
        if commit.items() > MAX_COMMIT_ITEMS {
            return Err(StoreError::Service(ServiceError::Rejected(format!(
                "a commit of {} items (at most {MAX_COMMIT_ITEMS})",
                commit.items()
            ))));
        }
        let mut t = lock(&self.table);
        let Table { by_id, trails, .. } = &mut *t;
        let Some(stored) = by_id.get_mut(&commit.execution_id) else {
            self.counts.add(Count::Conflict, 1);
            return Err(StoreError::Conflict);
        };
        let trail = trails.entry(commit.execution_id).or_default();
        let known = |e: &AuditEvent| trail.iter().any(|t| t.event_id == e.event_id);
        let twice = commit
            .events
            .iter()
            .enumerate()
            .any(|(i, e)| commit.events[..i].iter().any(|f| f.event_id == e.event_id));
        if !conditions_hold(stored, commit) || commit.events.iter().any(known) || twice {
            self.counts.add(Count::Conflict, 1);
            return Err(StoreError::Conflict);
        }
        trail.extend(commit.events.iter().cloned());
        trail.sort_by(|a, b| a.event_id.cmp(&b.event_id));
        if let Some(HeaderWrite { header, .. }) = &commit.header {
            // lastPolledTime is written by touch outside the version scheme: never move it back.
            // workflowRun and workflowPolledTime belong to touch as well: kept as stored.
            let polled = stored.header.last_polled_time.max(header.last_polled_time);
            let run = stored.header.workflow_run.take();
            let run_polled = stored.header.workflow_polled_time;
            stored.header = header.clone();
            stored.header.last_polled_time = polled;
            stored.header.workflow_run = run;
            stored.header.workflow_polled_time = run_polled;
            self.counts.add(Count::HeaderWrite, 1);
        }
        for write in &commit.waves {
            if let Some(w) = stored
                .waves
                .iter_mut()
                .find(|w| w.wave_number == write.wave.wave_number)
            {
                *w = write.wave.clone();
            }
        }
        self.counts.add(Count::WaveWrite, commit.waves.len() as u64);
        self.audit(stored);
        Ok(())
    }

    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.enter(Count::Load).await;
        let after = match cursor {
            None => None,
            Some(c) => Some(
                c.strip_prefix(CURSOR_PREFIX)
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        StoreError::Service(ServiceError::Rejected(format!(
                            "invalid events cursor '{c}'"
                        )))
                    })?,
            ),
        };
        let t = lock(&self.table);
        let trail = t.trails.get(&id).map(Vec::as_slice).unwrap_or_default();
        if let Some(a) = &after {
            // A cursor is the id of the last event of a page this store gave.
            if !trail.iter().any(|e| &e.event_id == a) {
                return Err(StoreError::Service(ServiceError::Rejected(format!(
                    "invalid events cursor '{CURSOR_PREFIX}{a}'"
                ))));
            }
        }
        let rest: Vec<&AuditEvent> = trail
            .iter()
            .filter(|e| after.as_ref().is_none_or(|a| e.event_id > *a))
            .collect();
        let more = rest.len() > self.page_size;
        let events: Vec<AuditEvent> = rest.into_iter().take(self.page_size).cloned().collect();
        let next_cursor = more
            .then(|| {
                events
                    .last()
                    .map(|e| format!("{CURSOR_PREFIX}{}", e.event_id))
            })
            .flatten();
        Ok(EventPage {
            events,
            next_cursor,
        })
    }

    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        self.enter(Count::Touch).await;
        let mut t = lock(&self.table);
        let stored = t.by_id.get_mut(&id).ok_or(StoreError::Conflict)?;
        if let Some(at) = touch.polled_at {
            stored.header.last_polled_time = Some(at);
        }
        if let Some(mark) = &touch.workflow {
            // As on DynamoDB: the run's name is written only for a new run (or a record without
            // one); the mark of the recorded run moves only when it was seen.
            if mark.new_run || stored.header.workflow_run.is_none() {
                stored.header.workflow_run = Some(mark.run.clone());
            }
            stored.header.workflow_polled_time = Some(mark.at);
        }
        self.audit(stored);
        Ok(())
    }
}

/// Holds as the executions table keeps them on AWS: one item per source server, taken all or
/// nothing in one transaction, each on the condition that it is free, the claimant's already, or
/// the one the claim replaces.
#[async_trait]
impl ServerLocks for MemoryStore {
    async fn holds(&self, servers: &[SourceServerId]) -> Result<Vec<ServerHold>, StoreError> {
        self.enter(Count::HoldRead).await;
        let t = lock(&self.table);
        let mut seen = BTreeSet::new();
        Ok(servers
            .iter()
            .filter(|s| seen.insert(*s))
            .filter_map(|s| t.holds.get(s).cloned())
            .collect())
    }

    async fn hold(&self, claims: &[HoldClaim]) -> Result<(), StoreError> {
        self.enter(Count::HoldWrite).await;
        if claims.len() > MAX_COMMIT_ITEMS {
            return Err(StoreError::Service(ServiceError::Rejected(format!(
                "a hold of {} servers (at most {MAX_COMMIT_ITEMS} in one write)",
                claims.len()
            ))));
        }
        let mut servers = BTreeSet::new();
        if let Some(twice) = claims
            .iter()
            .find(|c| !servers.insert(&c.hold.source_server_id))
        {
            // As DynamoDB's: one transaction cannot write an item twice.
            return Err(StoreError::Service(ServiceError::Rejected(format!(
                "a hold that claims source server {} twice",
                twice.hold.source_server_id
            ))));
        }
        let mut t = lock(&self.table);
        let free = |claim: &HoldClaim| {
            t.holds
                .get(&claim.hold.source_server_id)
                .is_none_or(|held| {
                    held.execution_id == claim.hold.execution_id
                        || Some(held.execution_id) == claim.replaces
                })
        };
        if !claims.iter().all(free) {
            return Err(StoreError::Conflict);
        }
        for claim in claims {
            t.holds
                .insert(claim.hold.source_server_id.clone(), claim.hold.clone());
        }
        Ok(())
    }

    async fn release(
        &self,
        execution: ExecutionId,
        servers: &[SourceServerId],
    ) -> Result<(), StoreError> {
        self.enter(Count::HoldWrite).await;
        let mut t = lock(&self.table);
        for server in servers {
            if t.holds
                .get(server)
                .is_some_and(|h| h.execution_id == execution)
            {
                t.holds.remove(server);
            }
        }
        Ok(())
    }
}

/// Every expected version of `commit` matches what is stored (and every wave it writes exists).
fn conditions_hold(stored: &Execution, commit: &Commit) -> bool {
    let header_ok = match &commit.header {
        None => true,
        Some(write) => stored.header.version == write.expected_version,
    };
    header_ok
        && commit.waves.iter().all(|write| {
            stored.waves.iter().any(|w| {
                w.wave_number == write.wave.wave_number && w.version == write.expected_version
            })
        })
}

#[cfg(test)]
mod tests;
