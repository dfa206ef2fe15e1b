//! The store every use case writes through: it adds the audit events of each change to the write
//! that makes it, so no operation can change an execution without recording who did what.
//!
//! It remembers the record each `load` answered (and what each of its own commits made of it), and
//! derives a commit's events from that record and the commit ([`audit::change`]). A commit whose
//! expected versions match the remembered record changes exactly what the diff says; one that does
//! not match conflicts and writes nothing, events included.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::audit::{self, Actor, AuditEvent, Author};
use crate::ids::ExecutionId;
use crate::model::Execution;
use crate::ports::{
    ActivePage, Clock, Commit, EventPage, ExecutionStore, ServiceError, StoreError, Touch,
    MAX_COMMIT_ITEMS,
};

pub struct Audited<'a> {
    store: &'a dyn ExecutionStore,
    clock: &'a dyn Clock,
    actor: Actor,
    operation: String,
    seen: Mutex<HashMap<ExecutionId, Execution>>,
}

impl<'a> Audited<'a> {
    /// `store` as written to by `actor` through `operation`; event times from `clock`.
    pub fn new(
        store: &'a dyn ExecutionStore,
        clock: &'a dyn Clock,
        actor: Actor,
        operation: impl Into<String>,
    ) -> Self {
        Self {
            store,
            clock,
            actor,
            operation: operation.into(),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Who the changes are recorded as.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    fn author(&self) -> Author {
        Author {
            actor: self.actor.clone(),
            operation: self.operation.clone(),
            at_millis: self.clock.now_millis(),
        }
    }

    fn remember(&self, execution: &Execution) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(execution.id(), execution.clone());
        }
    }

    fn remembered(&self, id: ExecutionId) -> Option<Execution> {
        self.seen
            .lock()
            .ok()
            .and_then(|seen| seen.get(&id).cloned())
    }
}

/// `before` with `commit`'s writes applied.
fn applied(mut before: Execution, commit: &Commit) -> Execution {
    if let Some(h) = &commit.header {
        before.header = h.header.clone();
    }
    for w in &commit.waves {
        if let Some(slot) = before
            .waves
            .iter_mut()
            .find(|x| x.wave_number == w.wave.wave_number)
        {
            *slot = w.wave.clone();
        }
    }
    before
}

#[async_trait]
impl ExecutionStore for Audited<'_> {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        let loaded = self.store.load(id).await?;
        if let Some(e) = &loaded {
            self.remember(e);
        }
        Ok(loaded)
    }

    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut all = vec![audit::created(execution, &self.author())];
        all.extend_from_slice(events);
        self.store.create(execution, &all).await?;
        self.remember(execution);
        Ok(())
    }

    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.store.list_active(cursor).await
    }

    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        let before = match self.remembered(commit.execution_id) {
            Some(e) => e,
            // A use case commits what it read; should one not have, read it now: a commit whose
            // versions do not match this read conflicts anyway.
            None => self
                .store
                .load(commit.execution_id)
                .await?
                .ok_or(StoreError::Conflict)?,
        };
        let mut audited = commit.clone();
        audited
            .events
            .extend(audit::change(&before, commit, &self.author()));
        if audited.items() > MAX_COMMIT_ITEMS {
            return Err(StoreError::Service(ServiceError::Rejected(format!(
                "a commit of {} items is more than one transaction holds ({MAX_COMMIT_ITEMS})",
                audited.items()
            ))));
        }
        self.store.commit(&audited).await?;
        self.remember(&applied(before, commit));
        Ok(())
    }

    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.store.events(id, cursor).await
    }

    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        self.store.touch(id, touch).await
    }
}
