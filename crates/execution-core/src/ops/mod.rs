//! The operations as use cases over ports. Each takes only the ports it uses, so a Lambda builds
//! only the clients its operation needs, and returns the seed's answer or an [`OperationError`].
//!
//! Every write is conditional; a use case that loses a race re-reads and decides again (at most
//! [`MAX_ATTEMPTS`] times), so its decision is always made on the record as it stands.

mod act;
mod advance;
mod audited;
mod cancel;
mod cleanup;
mod create;
mod dispatch;
mod finalize;
mod find;
pub mod heal;
mod launch;
mod pause;
mod poll;
mod preflight;
mod publish;
mod read;
mod resume;
mod retry;
mod start;
mod token;

use std::future::Future;

pub use act::{act, ActionPorts};
pub use advance::{advance, AdvancePorts, Ignored};
pub use audited::Audited;
pub use cancel::cancel;
pub use cleanup::cleanup;
pub use create::create_execution;
pub use dispatch::{run, Ports};
pub use finalize::finalize;
pub use find::{find, find_and_heal, FindConfig};
pub use launch::launch;
pub use pause::pause;
pub use poll::poll;
pub use preflight::{backfill_holds, preflight, release_holds, take_holds, Backfilled, Holds};
pub use publish::{publish, TrailRecord, Unpublished};
pub use read::{events, get, list};
pub use resume::resume;
pub use retry::{retry, skip};
pub use start::{start, StartPorts};

use crate::api::Target;
use crate::error::OperationError;
use crate::model::Execution;
use crate::ports::{Commit, ExecutionStore, HeaderWrite, StoreError};

/// How many times a use case re-reads and retries after losing a race.
pub const MAX_ATTEMPTS: usize = 4;

/// Why one attempt of a use case ended without an answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// A conditional write lost a race: re-read and decide again.
    Lost,
    Op(OperationError),
}

impl From<OperationError> for Failure {
    fn from(e: OperationError) -> Self {
        Self::Op(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => Self::Lost,
            other => Self::Op(other.into()),
        }
    }
}

impl From<crate::ports::ServiceError> for Failure {
    fn from(e: crate::ports::ServiceError) -> Self {
        Self::Op(e.into())
    }
}

impl From<crate::lifecycle::InvalidTransition> for Failure {
    fn from(e: crate::lifecycle::InvalidTransition) -> Self {
        Self::Op(e.into())
    }
}

impl From<crate::error::Refusal> for Failure {
    fn from(r: crate::error::Refusal) -> Self {
        Self::Op(r.into())
    }
}

/// Runs `attempt` until it answers, re-running it after each lost race.
pub(crate) async fn with_retries<T, F, Fut>(
    operation: &str,
    mut attempt: F,
) -> Result<T, OperationError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    for _ in 0..MAX_ATTEMPTS {
        match attempt().await {
            Ok(answer) => return Ok(answer),
            Err(Failure::Op(e)) => return Err(e),
            Err(Failure::Lost) => {
                tracing::info!(operation, "lost a race on a conditional write; re-reading")
            }
        }
    }
    Err(OperationError::Conflict(format!(
        "{operation}: the execution kept changing under this call ({MAX_ATTEMPTS} attempts); retry"
    )))
}

/// The execution named by `target`: 404 when there is none, or when it belongs to another plan.
pub(crate) async fn load_target(
    store: &dyn ExecutionStore,
    target: &Target,
) -> Result<Execution, Failure> {
    let execution = store.load(target.execution_id).await?;
    match execution {
        Some(e) if e.header.plan_id == target.plan_id => Ok(e),
        Some(_) => Err(OperationError::NotFound(format!(
            "execution {} not found in plan {}",
            target.execution_id, target.plan_id
        ))
        .into()),
        None => Err(OperationError::NotFound(format!(
            "execution {} not found",
            target.execution_id
        ))
        .into()),
    }
}

/// `execution` as it stands once `write` has landed.
pub(crate) fn after_write(execution: &Execution, write: &HeaderWrite) -> Execution {
    let mut written = execution.clone();
    written.header = write.header.clone();
    written
}

/// Commits a header write alone.
pub(crate) async fn commit_header(
    store: &dyn ExecutionStore,
    execution: &Execution,
    write: HeaderWrite,
) -> Result<(), Failure> {
    store
        .commit(&Commit::new(execution.id(), Some(write), vec![]))
        .await?;
    Ok(())
}

/// "waves 1 (STARTED), 2 (PENDING)": for messages that name waves.
pub(crate) fn describe_waves(execution: &Execution, numbers: &[u32]) -> String {
    numbers
        .iter()
        .filter_map(|n| execution.wave(*n))
        .map(|w| format!("{} ({})", w.wave_number, w.status))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
