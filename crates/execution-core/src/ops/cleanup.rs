//! cleanup: a drill that has ended terminates the recovery instances it launched.
//!
//! Which instances: DRS may list several recovery instances for one source server, so every
//! instance it lists for a server of the execution is weighed. One is the execution's when it is
//! the instance the record names and DRS does not say otherwise (not `isDrill: false`, and when
//! DRS names the job that launched it, a job of this execution), or when a job of this execution
//! launched it as a drill: an instance the record never learned (a wave that timed out while DRS
//! still launched, an execution that ended before poll described the server) is found by its job,
//! recorded in the server's cleanup and terminated like the others. One instance per server: the
//! recorded one first.
//!
//! Crash-safe and race-safe in two writes around each DRS call, as launch is: a server is marked
//! REQUESTING (with the time of the mark) before `TerminateRecoveryInstances` goes out, and
//! REQUESTED with the job after it answered. Each mark is a conditional write of the server's
//! wave, one commit per wave (so an event names at most one wave's servers), so of two cleanups
//! that race only one's mark lands; the other re-reads and finds the mark. A REQUESTING mark is a
//! lease: younger than [`LEASE_SECS`] its cleanup may still be about to call DRS, and it is left
//! alone; older, its cleanup has certainly ended, and the TERMINATE job is looked for (from the
//! mark's time) before the instance is asked for again under a fresh mark, so an instance is never
//! asked for twice. A REQUESTED instance that DRS still lists once its TERMINATE job has ended was
//! not terminated: it is marked and asked for again.
//!
//! Bounded: one call works on at most [`MAX_SERVERS_PER_CALL`] servers (in batches of
//! [`DRS_FILTER_MAX`] per DRS call) and answers `complete: false` while any is left, so any plan's
//! cleanup fits the cleanup function's timeout; its callers call again until it is complete. The
//! servers whose instance the record does not know are looked up (one DescribeRecoveryInstances
//! per 200) in every call until cleanup is complete, because nothing records that one was looked
//! up and found nothing: they are few (the servers of the wave in flight when the execution
//! ended, and those whose launch failed). Once every instance is terminated or gone, cleanup asks
//! DRS nothing and writes nothing.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{load_target, with_retries, Failure};
use crate::api::{CleanupResponse, Target, OK};
use crate::error::{OperationError, Refusal};
use crate::ids::{InstanceId, JobId, SourceServerId};
use crate::lifecycle::{wave_write, WaveTransition};
use crate::model::{CleanupState, Execution, ServerCleanup, ServerStatus, Timestamp, Wave};
use crate::ports::{
    now, Clock, Commit, Drs, DrsJob, ExecutionStore, RecoveryInstance, ServiceError, WaveWrite,
    DRS_FILTER_MAX,
};
use crate::status::{JobStatus, LaunchStatus};

/// How long a REQUESTING mark holds. The cleanup that wrote it may still be about to call
/// `TerminateRecoveryInstances` (its caller gave up waiting: API Gateway answers after 29 s while
/// the 60 s function runs on; or the workflow's cleanup and an operator's `drctl cleanup`
/// overlap), so until then another cleanup leaves the server alone. Three times the cleanup
/// function's 60 s timeout: room for the clock skew between hosts and for a slow DRS, and past
/// it the cleanup that marked has certainly ended.
pub const LEASE_SECS: i64 = 180;

/// The most servers one cleanup works on (looks up, marks, asks for, confirms): five DRS calls of
/// each kind (200 ids a call), so one call of any plan's cleanup fits the cleanup function's 60 s.
/// A cleanup that leaves servers for later answers `complete: false`, and its caller calls again
/// (the workflow loops until complete; `drctl cleanup` tells the operator to run it again).
pub const MAX_SERVERS_PER_CALL: usize = 1_000;

/// A TERMINATE job that ended without terminating its instance is asked for again once the job
/// is this old (from its creation, or its end when DRS gave no creation time): longer than the
/// clock skew [`Drs::find_terminate_job`] allows (300 s on AWS), so that the look-up settling the
/// new request after a crash cannot take the failed job for it.
pub const RETRY_FAILED_AFTER_SECS: i64 = 600;

/// What cleanup decided for one server.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// Mark the server REQUESTING now and ask DRS to terminate `instance`; `retried` is the
    /// TERMINATE job that ended without terminating it, when this is a second request.
    Ask {
        instance: InstanceId,
        retried: Option<JobId>,
    },
    /// The TERMINATE job of a request was found (or DRS answered with it): record it.
    Requested(JobId),
    /// The instance left DRS after this execution's request: terminated.
    Terminated,
    /// The instance is not this execution's (any more) and was never asked for: nothing to do.
    Gone(InstanceId),
}

/// What DRS said in this call, for the servers it works on.
#[derive(Default)]
struct Facts {
    /// The servers this call works on (within [`MAX_SERVERS_PER_CALL`]).
    selected: HashSet<SourceServerId>,
    /// Every recovery instance DRS lists for each server looked at.
    listed: HashMap<SourceServerId, Vec<RecoveryInstance>>,
    /// For each stale REQUESTING server: the mark's time looked from, and the TERMINATE job found.
    found: HashMap<SourceServerId, (Timestamp, Option<JobId>)>,
    /// The TERMINATE jobs of REQUESTED servers whose instance DRS still lists.
    jobs: HashMap<JobId, DrsJob>,
    /// Servers with work left beyond this call's budget.
    left: usize,
}

/// How this call went, for the answer.
#[derive(Default)]
struct Notes {
    left: usize,
    /// The TERMINATE jobs that ended without terminating their instances, asked for again.
    retried: Vec<JobId>,
    retried_servers: usize,
    /// Servers this call marked and asked for.
    mine: HashMap<SourceServerId, InstanceId>,
}

pub async fn cleanup(
    store: &dyn ExecutionStore,
    drs: &dyn Drs,
    clock: &dyn Clock,
    target: &Target,
) -> Result<CleanupResponse, OperationError> {
    let execution = with_retries("cleanup", || async {
        let execution = load_target(store, target).await?;
        refuse(&execution)?;
        Ok(execution)
    })
    .await?;
    let at = now(clock);
    let jobs = launch_jobs(&execution);
    let facts = look(&execution, drs, &jobs, at).await?;
    let mut notes = Notes {
        left: facts.left,
        ..Notes::default()
    };
    let mut record = execution;
    let mut failure: Option<OperationError> = None;

    // First writes, one wave at a time: every decision, and REQUESTING for the servers about to
    // be asked for.
    let waves: Vec<u32> = record
        .waves
        .iter()
        .filter(|w| w.source_server_ids().any(|s| facts.selected.contains(s)))
        .map(|w| w.wave_number)
        .collect();
    for number in waves {
        let decide = |wave: &Wave| -> HashMap<SourceServerId, Step> {
            wave.server_statuses
                .iter()
                .filter_map(|s| {
                    decide(s, &facts, &jobs, at, &notes.mine)
                        .map(|step| (s.source_server_id.clone(), step))
                })
                .collect()
        };
        match commit_wave(store, target, &mut record, number, at, decide).await {
            Ok(steps) => {
                for (server, step) in steps {
                    if let Step::Ask { instance, retried } = step {
                        if let Some(job) = retried {
                            notes.retried_servers += 1;
                            if !notes.retried.contains(&job) {
                                notes.retried.push(job);
                            }
                        }
                        notes.mine.insert(server, instance);
                    }
                }
            }
            Err(e) => {
                // The waves marked so far are asked for; the others wait for the next cleanup.
                failure = Some(e);
                break;
            }
        }
    }

    // The DRS calls: the servers this call marked, in batches.
    let asked: Vec<(SourceServerId, InstanceId)> = record
        .waves
        .iter()
        .flat_map(|w| &w.server_statuses)
        .filter_map(|s| {
            notes
                .mine
                .get(&s.source_server_id)
                .map(|i| (s.source_server_id.clone(), i.clone()))
        })
        .collect();
    let mut answered: HashMap<SourceServerId, JobId> = HashMap::new();
    let mut refused: Option<OperationError> = None;
    for batch in asked.chunks(DRS_FILTER_MAX) {
        if refused.is_some() {
            break;
        }
        let instances: Vec<InstanceId> = batch.iter().map(|(_, i)| i.clone()).collect();
        match drs.terminate_recovery_instances(&instances).await {
            Ok(job) => {
                for (server, _) in batch {
                    answered.insert(server.clone(), job.job_id.clone());
                }
            }
            Err(e) => {
                // The servers stay REQUESTING: once the mark is stale, a cleanup looks for the
                // job, then asks.
                tracing::warn!(execution_id = %target.execution_id, error = %e, "TerminateRecoveryInstances failed");
                refused = Some(OperationError::Internal(format!(
                    "cleanup could not ask DRS to terminate every instance ({e}); what was asked is recorded: run cleanup again"
                )));
            }
        }
    }
    let failure = failure.or(refused);

    // Second writes, one wave at a time: the jobs DRS answered with.
    let waves: Vec<u32> = record
        .waves
        .iter()
        .filter(|w| w.source_server_ids().any(|s| answered.contains_key(s)))
        .map(|w| w.wave_number)
        .collect();
    for number in waves {
        let decide = |wave: &Wave| -> HashMap<SourceServerId, Step> {
            wave.server_statuses
                .iter()
                .filter_map(|s| {
                    let job = answered.get(&s.source_server_id)?;
                    let mark = s.cleanup.as_ref()?;
                    // Still this call's mark (a mark holds for the lease: no one else moved it).
                    (mark.state == CleanupState::Requesting
                        && mark.requested_time == at
                        && notes.mine.get(&s.source_server_id) == Some(&mark.recovery_instance_id))
                    .then(|| (s.source_server_id.clone(), Step::Requested(job.clone())))
                })
                .collect()
        };
        if let Err(e) = commit_wave(store, target, &mut record, number, at, decide).await {
            return Err(failure.unwrap_or(e));
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(answer(&record, &notes, at))
}

fn refuse(execution: &Execution) -> Result<(), Failure> {
    if !execution.header.is_drill {
        return Err(Refusal::CleanupOfRecovery.into());
    }
    if !execution.status().is_terminal() {
        return Err(Refusal::CleanupBeforeEnd {
            status: execution.status(),
        }
        .into());
    }
    Ok(())
}

/// Every DRS job this execution launched servers in.
fn launch_jobs(execution: &Execution) -> HashSet<JobId> {
    execution
        .waves
        .iter()
        .flat_map(|w| {
            w.jobs
                .iter()
                .map(|j| &j.job_id)
                .chain(w.server_statuses.iter().filter_map(|s| s.job_id.as_ref()))
        })
        .cloned()
        .collect()
}

/// Whether a REQUESTING mark may still belong to a cleanup that is about to call DRS.
fn in_flight(mark: &ServerCleanup, at: Timestamp) -> bool {
    mark.state == CleanupState::Requesting
        && at.secs().saturating_sub(mark.requested_time.secs()) < LEASE_SECS
}

/// Whether DRS's `instance` may be this execution's: not a recovery's, and not launched by
/// another execution's job.
fn may_be_ours(instance: &RecoveryInstance, jobs: &HashSet<JobId>) -> bool {
    instance.is_drill != Some(false) && instance.job_id.as_ref().is_none_or(|j| jobs.contains(j))
}

/// Whether DRS still lists `id` as this execution's instance.
fn still_ours(listed: &[RecoveryInstance], id: &InstanceId, jobs: &HashSet<JobId>) -> bool {
    listed
        .iter()
        .any(|ri| &ri.recovery_instance_id == id && may_be_ours(ri, jobs))
}

/// The instance of those DRS lists for a server that is this execution's: the recorded one, or
/// else one a job of this execution launched as a drill.
fn pick(
    listed: &[RecoveryInstance],
    recorded: Option<&InstanceId>,
    jobs: &HashSet<JobId>,
) -> Option<InstanceId> {
    recorded
        .filter(|r| still_ours(listed, r, jobs))
        .cloned()
        .or_else(|| {
            listed
                .iter()
                .find(|ri| {
                    ri.job_id.as_ref().is_some_and(|j| jobs.contains(j))
                        && ri.is_drill != Some(false)
                })
                .map(|ri| ri.recovery_instance_id.clone())
        })
}

/// Whether `job` (a TERMINATE job of `instance`) ended without terminating it, long enough ago to
/// ask again ([`RETRY_FAILED_AFTER_SECS`]).
fn failed(job: &DrsJob, instance: &InstanceId, at: Timestamp) -> bool {
    let ended = job.status == JobStatus::Completed || job.ended_time.is_some();
    let terminated = job.participating_servers.iter().any(|p| {
        p.recovery_instance_id.as_ref() == Some(instance)
            && p.launch_status == LaunchStatus::Terminated
    });
    let since = job.created_time.or(job.ended_time);
    ended
        && !terminated
        && since.is_none_or(|t| at.secs().saturating_sub(t.secs()) >= RETRY_FAILED_AFTER_SECS)
}

/// Asks DRS what this call needs to know: which servers it works on, the recovery instances of
/// those servers, the TERMINATE jobs of stale marks, and those of REQUESTED instances still there.
async fn look(
    execution: &Execution,
    drs: &dyn Drs,
    jobs: &HashSet<JobId>,
    at: Timestamp,
) -> Result<Facts, ServiceError> {
    let mut any_record = false;
    let mut open = false;
    let mut unknown: Vec<&SourceServerId> = vec![];
    let mut candidates: Vec<&ServerStatus> = vec![];
    for server in execution.waves.iter().flat_map(|w| &w.server_statuses) {
        match &server.cleanup {
            Some(c) => {
                any_record = true;
                if c.state.is_done() {
                    continue;
                }
                open = true;
                if !in_flight(c, at) {
                    candidates.push(server);
                }
            }
            None if server.recovery_instance_id.is_some() => {
                open = true;
                candidates.push(server);
            }
            // Launched by this execution, instance never learned: DRS is asked whether a job of
            // this execution launched one.
            None if server.job_id.is_some() => unknown.push(&server.source_server_id),
            None => {}
        }
    }
    let mut facts = Facts::default();
    // Instances the record never learned are looked for while cleanup has work left, and by the
    // first cleanup: once every instance known is terminated or gone, the last cleanup that had
    // work looked for them.
    if open || !any_record {
        describe(drs, &unknown, &mut facts.listed).await?;
    }
    let found: Vec<&SourceServerId> = unknown
        .into_iter()
        .filter(|s| {
            facts
                .listed
                .get(*s)
                .is_some_and(|l| pick(l, None, jobs).is_some())
        })
        .collect();
    // The budget: instances found by their job first (only the record of one keeps them in view),
    // then the record's, in wave order.
    let total = found.len() + candidates.len();
    let chosen: Vec<&ServerStatus> = candidates
        .into_iter()
        .take(MAX_SERVERS_PER_CALL.saturating_sub(found.len()))
        .collect();
    facts.selected = found
        .into_iter()
        .take(MAX_SERVERS_PER_CALL)
        .cloned()
        .chain(chosen.iter().map(|s| s.source_server_id.clone()))
        .collect();
    facts.left = total - facts.selected.len();
    let ids: Vec<&SourceServerId> = chosen.iter().map(|s| &s.source_server_id).collect();
    describe(drs, &ids, &mut facts.listed).await?;

    // Stale marks: one look-up per mark time for all its instances; each job found names the
    // instances it terminates, and the look-up goes on for those it did not name.
    let mut stale: BTreeMap<Timestamp, Vec<(&SourceServerId, &InstanceId)>> = BTreeMap::new();
    for server in &chosen {
        if let Some(c) = server
            .cleanup
            .as_ref()
            .filter(|c| c.state == CleanupState::Requesting)
        {
            stale
                .entry(c.requested_time)
                .or_default()
                .push((&server.source_server_id, &c.recovery_instance_id));
            facts
                .found
                .insert(server.source_server_id.clone(), (c.requested_time, None));
        }
    }
    for (since, marks) in stale {
        let server_of: HashMap<&InstanceId, &SourceServerId> =
            marks.iter().map(|(s, i)| (*i, *s)).collect();
        let mut remaining: Vec<InstanceId> = marks.iter().map(|(_, i)| (*i).clone()).collect();
        while !remaining.is_empty() {
            let chunk: Vec<InstanceId> = remaining.iter().take(DRS_FILTER_MAX).cloned().collect();
            let named: Vec<InstanceId> = match drs.find_terminate_job(&chunk, since).await? {
                Some(job) => {
                    let named: Vec<InstanceId> = job
                        .participating_servers
                        .iter()
                        .filter_map(|p| p.recovery_instance_id.clone())
                        .filter(|i| chunk.contains(i))
                        .collect();
                    for instance in &named {
                        if let Some(server) = server_of.get(instance) {
                            facts
                                .found
                                .insert((*server).clone(), (since, Some(job.job_id.clone())));
                        }
                    }
                    named
                }
                None => vec![],
            };
            // No job (or one that names none of them, against the port's word): none of the
            // chunk has one.
            let settled = if named.is_empty() { chunk } else { named };
            remaining.retain(|i| !settled.contains(i));
        }
    }

    // REQUESTED instances DRS still lists: whether their TERMINATE job has ended.
    let mut requested: Vec<JobId> = vec![];
    for server in &chosen {
        let Some(c) = server.cleanup.as_ref() else {
            continue;
        };
        let listed = facts
            .listed
            .get(&server.source_server_id)
            .map_or(&[][..], Vec::as_slice);
        if c.state == CleanupState::Requested && still_ours(listed, &c.recovery_instance_id, jobs) {
            if let Some(job) = &c.job_id {
                if !requested.contains(job) {
                    requested.push(job.clone());
                }
            }
        }
    }
    for chunk in requested.chunks(DRS_FILTER_MAX) {
        for job in drs.describe_jobs(chunk).await? {
            facts.jobs.insert(job.job_id.clone(), job);
        }
    }
    Ok(facts)
}

/// The recovery instances DRS lists for `servers`, by server, in batches.
async fn describe(
    drs: &dyn Drs,
    servers: &[&SourceServerId],
    listed: &mut HashMap<SourceServerId, Vec<RecoveryInstance>>,
) -> Result<(), ServiceError> {
    for chunk in servers.chunks(DRS_FILTER_MAX) {
        let ids: Vec<SourceServerId> = chunk.iter().map(|s| (*s).clone()).collect();
        for id in &ids {
            listed.entry(id.clone()).or_default();
        }
        for instance in drs.describe_recovery_instances(&ids).await? {
            listed
                .entry(instance.source_server_id.clone())
                .or_default()
                .push(instance);
        }
    }
    Ok(())
}

/// What to do for `server`, from the record as it stands and what DRS said in this call.
fn decide(
    server: &ServerStatus,
    facts: &Facts,
    jobs: &HashSet<JobId>,
    at: Timestamp,
    mine: &HashMap<SourceServerId, InstanceId>,
) -> Option<Step> {
    let id = &server.source_server_id;
    if !facts.selected.contains(id) || mine.contains_key(id) {
        return None;
    }
    let listed = facts.listed.get(id).map_or(&[][..], Vec::as_slice);
    let Some(mark) = &server.cleanup else {
        return match pick(listed, server.recovery_instance_id.as_ref(), jobs) {
            Some(instance) => Some(Step::Ask {
                instance,
                retried: None,
            }),
            None => server.recovery_instance_id.clone().map(Step::Gone),
        };
    };
    let instance = &mark.recovery_instance_id;
    match mark.state {
        CleanupState::Terminated | CleanupState::Gone => None,
        // Another cleanup's mark, still in its lease: it may be about to call DRS.
        CleanupState::Requesting if in_flight(mark, at) => None,
        CleanupState::Requesting => match facts.found.get(id) {
            // Looked up from this very mark (a mark moved since was not looked up).
            Some((since, found)) if *since == mark.requested_time => match found {
                Some(job) => Some(Step::Requested(job.clone())),
                None if still_ours(listed, instance, jobs) => Some(Step::Ask {
                    instance: instance.clone(),
                    retried: None,
                }),
                None => Some(Step::Gone(instance.clone())),
            },
            _ => None,
        },
        CleanupState::Requested => {
            if !still_ours(listed, instance, jobs) {
                return Some(Step::Terminated);
            }
            let job = facts.jobs.get(mark.job_id.as_ref()?)?;
            failed(job, instance, at).then(|| Step::Ask {
                instance: instance.clone(),
                retried: mark.job_id.clone(),
            })
        }
    }
}

/// Writes wave `number`'s decisions in one conditional commit (none when nothing changes), and
/// `record` with it; after a lost race, re-reads the record and decides again. The steps written.
async fn commit_wave(
    store: &dyn ExecutionStore,
    target: &Target,
    record: &mut Execution,
    number: u32,
    at: Timestamp,
    decide: impl Fn(&Wave) -> HashMap<SourceServerId, Step>,
) -> Result<HashMap<SourceServerId, Step>, OperationError> {
    let mut first = true;
    let written = {
        let record = &*record;
        let decide = &decide;
        with_retries("cleanup", || {
            let reread = !std::mem::take(&mut first);
            async move {
                let reloaded = if reread {
                    Some(load_target(store, target).await?)
                } else {
                    None
                };
                let current = reloaded.as_ref().unwrap_or(record);
                let Some(wave) = current.wave(number) else {
                    return Ok((reloaded, None, HashMap::new()));
                };
                let steps = decide(wave);
                let write = write_wave(wave, &steps, at)?;
                if let Some(write) = &write {
                    let commit = Commit::new(current.id(), None, vec![write.clone()]);
                    store.commit(&commit).await?;
                }
                Ok((reloaded, write, steps))
            }
        })
        .await?
    };
    let (reloaded, write, steps) = written;
    if let Some(fresh) = reloaded {
        *record = fresh;
    }
    let Some(write) = write else {
        return Ok(HashMap::new());
    };
    if let Some(slot) = record.waves.iter_mut().find(|w| w.wave_number == number) {
        *slot = write.wave;
    }
    Ok(steps)
}

/// The write that records `steps` in `wave`: none when it would change nothing but the version.
fn write_wave(
    wave: &Wave,
    steps: &HashMap<SourceServerId, Step>,
    at: Timestamp,
) -> Result<Option<WaveWrite>, Failure> {
    if steps.is_empty() {
        return Ok(None);
    }
    let mut changed = false;
    let write = wave_write(wave, WaveTransition::CleanUp, wave.status, |w| {
        for server in &mut w.server_statuses {
            let Some(step) = steps.get(&server.source_server_id) else {
                continue;
            };
            let Some(cleanup) = apply(server.cleanup.as_ref(), step, at) else {
                continue;
            };
            if server.cleanup.as_ref() != Some(&cleanup) {
                changed = true;
                server.cleanup = Some(cleanup);
            }
        }
    })?;
    Ok(changed.then_some(write))
}

/// A server's cleanup after `step`.
fn apply(old: Option<&ServerCleanup>, step: &Step, at: Timestamp) -> Option<ServerCleanup> {
    Some(match step {
        Step::Ask { instance, .. } => ServerCleanup {
            state: CleanupState::Requesting,
            recovery_instance_id: instance.clone(),
            job_id: None,
            requested_time: at,
            terminated_time: None,
        },
        Step::Requested(job) => ServerCleanup {
            state: CleanupState::Requested,
            job_id: Some(job.clone()),
            terminated_time: None,
            ..old?.clone()
        },
        Step::Terminated => ServerCleanup {
            state: CleanupState::Terminated,
            terminated_time: Some(at),
            ..old?.clone()
        },
        Step::Gone(instance) => ServerCleanup {
            state: CleanupState::Gone,
            recovery_instance_id: instance.clone(),
            job_id: None,
            requested_time: old.map_or(at, |c| c.requested_time),
            terminated_time: None,
        },
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn answer(execution: &Execution, notes: &Notes, at: Timestamp) -> CleanupResponse {
    let mut requested = vec![];
    let mut terminated = vec![];
    let mut gone = vec![];
    let mut job_ids: Vec<JobId> = vec![];
    let mut with_instance = 0usize;
    let mut others = 0usize;
    for server in execution.waves.iter().flat_map(|w| &w.server_statuses) {
        if server.recovery_instance_id.is_some() || server.cleanup.is_some() {
            with_instance += 1;
        }
        let Some(cleanup) = &server.cleanup else {
            continue;
        };
        let id = server.source_server_id.clone();
        match cleanup.state {
            CleanupState::Requesting | CleanupState::Requested => {
                if in_flight(cleanup, at) && !notes.mine.contains_key(&id) {
                    others += 1;
                }
                requested.push(id);
            }
            CleanupState::Terminated => terminated.push(id),
            CleanupState::Gone => gone.push(id),
        }
        if let Some(job) = &cleanup.job_id {
            if !job_ids.contains(job) {
                job_ids.push(job.clone());
            }
        }
    }
    let done = terminated.len() + gone.len();
    let complete = done == with_instance && notes.left == 0;
    let message = if complete && with_instance == 0 {
        "the drill launched no recovery instance: nothing to clean up".to_owned()
    } else if complete && terminated.is_empty() {
        format!(
            "none of the drill's {with_instance} recovery instances is this execution's any more (terminated or replaced elsewhere): nothing was terminated"
        )
    } else if complete {
        format!(
            "cleanup is complete: {} terminated, {} already gone",
            terminated.len(),
            gone.len()
        )
    } else {
        let mut said = vec![];
        if !requested.is_empty() {
            said.push(format!(
                "DRS is terminating {} recovery instance{}{}",
                requested.len(),
                plural(requested.len()),
                if job_ids.is_empty() {
                    String::new()
                } else {
                    format!(
                        " (jobs {})",
                        job_ids
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            ));
        }
        if notes.retried_servers > 0 {
            said.push(format!(
                "{} asked for again because TERMINATE job{} {} ended without terminating {}",
                notes.retried_servers,
                plural(notes.retried.len()),
                notes
                    .retried
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                if notes.retried_servers == 1 {
                    "it"
                } else {
                    "them"
                }
            ));
        }
        if others > 0 {
            said.push(format!(
                "{others} marked by a cleanup less than {LEASE_SECS} s ago, which may still be asking DRS: left alone until then"
            ));
        }
        said.push(format!(
            "{} terminated, {} already gone",
            terminated.len(),
            gone.len()
        ));
        if notes.left > 0 {
            said.push(format!(
                "{} server{} left for the next cleanup (at most {MAX_SERVERS_PER_CALL} a call)",
                notes.left,
                plural(notes.left)
            ));
        }
        let confirm = if notes.left == 0 && others == 0 {
            " to confirm"
        } else {
            ""
        };
        format!("{}; run cleanup again{confirm}", said.join("; "))
    };
    CleanupResponse {
        status_code: OK,
        execution_id: execution.id(),
        status: execution.status(),
        requested,
        terminated,
        gone,
        job_ids,
        complete,
        message,
    }
}
