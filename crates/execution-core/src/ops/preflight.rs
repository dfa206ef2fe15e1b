//! Pre-flight and holds: the facts [`crate::preflight::check`] judges, gathered from DRS and the
//! holds, and the holds a start takes so that two active executions never launch one server.

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt, TryStreamExt};

use super::MAX_ATTEMPTS;
use crate::error::OperationError;
use crate::ids::{ExecutionId, SourceServerId};
use crate::model::Wave;
use crate::plan::Plan;
use crate::ports::{
    now, Clock, Drs, ExecutionStore, HoldClaim, ServerHold, ServerLocks, SourceServer, StoreError,
    DRS_FILTER_MAX, MAX_COMMIT_ITEMS,
};
use crate::preflight::{check, HeldServer, Holder, Preflight};
use crate::rules::Policy;

/// Every source server of the plan, in plan order.
fn plan_servers(plan: &Plan) -> Vec<SourceServerId> {
    plan.waves
        .iter()
        .flat_map(|w| &w.servers)
        .map(|s| s.source_server_id.clone())
        .collect()
}

/// DescribeSourceServers calls of one pre-flight at once (a 10,000-server plan makes 50).
const DESCRIBE_CONCURRENCY: usize = 4;

/// What DRS says of the plan's servers (200 per call, a few calls at once).
async fn describe(
    drs: &dyn Drs,
    servers: &[SourceServerId],
) -> Result<Vec<SourceServer>, OperationError> {
    let calls: Vec<_> = servers
        .chunks(DRS_FILTER_MAX)
        .map(|chunk| drs.describe_source_servers(chunk))
        .collect();
    let answers: Vec<Vec<SourceServer>> = stream::iter(calls)
        .buffered(DESCRIBE_CONCURRENCY)
        .try_collect()
        .await
        .map_err(|e| {
            OperationError::Internal(format!("pre-flight: DRS DescribeSourceServers: {e}"))
        })?;
    Ok(answers.into_iter().flatten().collect())
}

/// The holds on `servers` by executions other than `me`, with where each holder stands.
async fn held_by_others(
    store: &dyn ExecutionStore,
    locks: &dyn ServerLocks,
    clock: &dyn Clock,
    servers: &[SourceServerId],
    me: Option<ExecutionId>,
) -> Result<Vec<(ServerHold, Holder)>, OperationError> {
    let holds = locks.holds(servers).await?;
    let at = now(clock);
    let mut holders: HashMap<ExecutionId, Option<crate::status::ExecutionStatus>> = HashMap::new();
    let mut out = Vec::new();
    for hold in holds {
        if Some(hold.execution_id) == me {
            continue;
        }
        let status = match holders.get(&hold.execution_id) {
            Some(status) => *status,
            None => {
                let status = store.load(hold.execution_id).await?.map(|e| e.status());
                holders.insert(hold.execution_id, status);
                status
            }
        };
        let holder = match status {
            Some(s) if s.is_terminal() => Holder::Ended,
            Some(s) => Holder::Active(s),
            None => Holder::Missing {
                age_secs: at.secs_since(hold.since),
            },
        };
        out.push((hold, holder));
    }
    Ok(out)
}

fn as_held(holds: &[(ServerHold, Holder)]) -> Vec<HeldServer> {
    holds
        .iter()
        .map(|(h, holder)| HeldServer {
            source_server_id: h.source_server_id.clone(),
            execution_id: h.execution_id,
            holder: *holder,
        })
        .collect()
}

/// Where the holds are read: the executions store and its holds.
pub type Holds<'a> = (&'a dyn ExecutionStore, &'a dyn ServerLocks);

/// The holds of other executions on a plan's servers, as a pre-flight read them.
pub(crate) type HeldByOthers = Vec<(ServerHold, Holder)>;

/// The pre-flight verdict on `plan`: DRS's view of every server (when `drs` is given), the holds
/// of other executions (when `holds` is given), the job sizes. Reads only.
pub async fn preflight(
    holds: Option<Holds<'_>>,
    drs: Option<&dyn Drs>,
    clock: &dyn Clock,
    policy: &Policy,
    plan: &Plan,
    me: Option<ExecutionId>,
) -> Result<Preflight, OperationError> {
    Ok(gather(holds, drs, clock, policy, plan, me).await?.0)
}

/// The verdict and the holds it read (DRS and the holds are asked at once).
pub(crate) async fn gather(
    holds: Option<Holds<'_>>,
    drs: Option<&dyn Drs>,
    clock: &dyn Clock,
    policy: &Policy,
    plan: &Plan,
    me: Option<ExecutionId>,
) -> Result<(Preflight, HeldByOthers), OperationError> {
    let servers = plan_servers(plan);
    let (described, held) = futures::join!(
        async {
            match drs {
                Some(drs) => describe(drs, &servers).await.map(Some),
                None => Ok(None),
            }
        },
        async {
            match holds {
                Some((store, locks)) => held_by_others(store, locks, clock, &servers, me).await,
                None => Ok(Vec::new()),
            }
        }
    );
    let (described, held) = (described?, held?);
    let verdict = check(
        plan,
        policy.max_servers_per_job,
        described.as_deref(),
        &as_held(&held),
    );
    Ok((verdict, held))
}

/// Takes `execution_id`'s hold on every server of `plan`, all or nothing: a server held by an
/// active execution refuses the start (naming them); a hold whose execution has ended (or never
/// came to exist) is taken over. Claims go out in server order, in transactions of at most
/// [`MAX_COMMIT_ITEMS`]; a claim that loses a race re-reads and decides again, and whatever was
/// taken is given back before a refusal.
pub async fn take_holds(
    store: &dyn ExecutionStore,
    locks: &dyn ServerLocks,
    clock: &dyn Clock,
    policy: &Policy,
    plan: &Plan,
    execution_id: ExecutionId,
) -> Result<(), OperationError> {
    take(store, locks, clock, policy, plan, execution_id, None).await
}

/// [`take_holds`], deciding its first attempt on `first` (the holds the pre-flight has just read)
/// when given, rather than reading them again.
pub(crate) async fn take(
    store: &dyn ExecutionStore,
    locks: &dyn ServerLocks,
    clock: &dyn Clock,
    policy: &Policy,
    plan: &Plan,
    execution_id: ExecutionId,
    mut first: Option<HeldByOthers>,
) -> Result<(), OperationError> {
    let mut servers = plan_servers(plan);
    servers.sort();
    let mut taken: Vec<SourceServerId> = Vec::new();
    let mut taken_set: HashSet<SourceServerId> = HashSet::new();
    let outcome = async {
        for _ in 0..MAX_ATTEMPTS {
            let held = match first.take() {
                Some(held) => held,
                None => held_by_others(store, locks, clock, &servers, Some(execution_id)).await?,
            };
            let verdict = check(plan, policy.max_servers_per_job, None, &as_held(&held));
            if !verdict.passed() {
                return Err(OperationError::Preflight(verdict));
            }
            let claims = claims_for(
                execution_id,
                now(clock),
                servers.iter().filter(|s| !taken_set.contains(*s)),
                &held,
            );
            // One transaction after another, in server order: of two starts that race for the
            // same servers, the one whose first contested transaction lands wins them all.
            let mut lost = false;
            for chunk in claims.chunks(MAX_COMMIT_ITEMS) {
                match locks.hold(chunk).await {
                    Ok(()) => {
                        for c in chunk {
                            taken.push(c.hold.source_server_id.clone());
                            taken_set.insert(c.hold.source_server_id.clone());
                        }
                    }
                    Err(StoreError::Conflict) => {
                        lost = true;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if !lost {
                return Ok(());
            }
            tracing::info!(%execution_id, "lost a race for a server hold; re-reading");
        }
        Err(OperationError::Conflict(format!(
            "start: the holds on this plan's servers kept changing under this call ({MAX_ATTEMPTS} attempts); retry"
        )))
    }
    .await;
    if outcome.is_err() && !taken.is_empty() {
        if let Err(e) = locks.release(execution_id, &taken).await {
            // Harmless: a hold of an execution that never came to exist binds no one after the
            // grace period.
            tracing::warn!(%execution_id, error = %e, "could not give back the holds of a refused start");
        }
    }
    outcome
}

/// `execution_id`'s claims on `servers` at `since`, each replacing the hold another execution
/// has on it (`held`: holds that bind no one, or the claim fails as it should).
fn claims_for<'a>(
    execution_id: ExecutionId,
    since: crate::model::Timestamp,
    servers: impl Iterator<Item = &'a SourceServerId>,
    held: &HeldByOthers,
) -> Vec<HoldClaim> {
    let replaces: HashMap<&SourceServerId, ExecutionId> = held
        .iter()
        .map(|(h, _)| (&h.source_server_id, h.execution_id))
        .collect();
    servers
        .map(|s| HoldClaim {
            hold: ServerHold {
                source_server_id: s.clone(),
                execution_id,
                since,
            },
            replaces: replaces.get(s).copied(),
        })
        .collect()
}

/// Gives back `execution_id`'s holds on the plan's servers (a start that did not create its
/// execution).
pub async fn release_holds(locks: &dyn ServerLocks, plan: &Plan, execution_id: ExecutionId) {
    if let Err(e) = locks.release(execution_id, &plan_servers(plan)).await {
        tracing::warn!(%execution_id, error = %e, "could not give back the holds of a failed start");
    }
}

/// What [`backfill_holds`] did for one active execution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Backfilled {
    pub execution_id: ExecutionId,
    /// Holds taken now.
    pub taken: usize,
    /// Servers it held already.
    pub held: usize,
    /// Servers another active execution holds: both executions may launch them; an operator
    /// must decide (cancel one).
    pub held_by_others: Vec<(SourceServerId, ExecutionId)>,
    /// The holds could not be taken because another writer raced this call: run it again.
    pub raced: bool,
}

/// Takes the holds of every active execution on its servers, where it has none: executions
/// started by a version of the engine without holds hold nothing, and a start could otherwise
/// launch their servers. Run once after upgrading (`drctl backfill-holds`); running it again
/// changes nothing. A server another active execution holds is reported, never taken.
pub async fn backfill_holds(
    store: &dyn ExecutionStore,
    locks: &dyn ServerLocks,
    clock: &dyn Clock,
) -> Result<Vec<Backfilled>, OperationError> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_active(cursor).await?;
        for active in &page.executions {
            let Some(execution) = store.load(active.execution_id).await? else {
                continue;
            };
            if execution.status().is_terminal() {
                continue;
            }
            let id = execution.id();
            let mut servers: Vec<SourceServerId> = execution
                .waves
                .iter()
                .flat_map(Wave::source_server_ids)
                .cloned()
                .collect();
            servers.sort();
            let mine: HashSet<SourceServerId> = locks
                .holds(&servers)
                .await?
                .into_iter()
                .filter(|h| h.execution_id == id)
                .map(|h| h.source_server_id)
                .collect();
            let others = held_by_others(store, locks, clock, &servers, Some(id)).await?;
            let mut report = Backfilled {
                execution_id: id,
                taken: 0,
                held: mine.len(),
                held_by_others: others
                    .iter()
                    .filter(|(_, holder)| holder.binds())
                    .map(|(h, _)| (h.source_server_id.clone(), h.execution_id))
                    .collect(),
                raced: false,
            };
            let bound: HashSet<&SourceServerId> =
                report.held_by_others.iter().map(|(s, _)| s).collect();
            let claims = claims_for(
                id,
                now(clock),
                servers
                    .iter()
                    .filter(|s| !mine.contains(*s) && !bound.contains(s)),
                &others,
            );
            for chunk in claims.chunks(MAX_COMMIT_ITEMS) {
                match locks.hold(chunk).await {
                    Ok(()) => report.taken += chunk.len(),
                    Err(StoreError::Conflict) => {
                        report.raced = true;
                        break;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            out.push(report);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}
