//! The audit trail: one event for every change an operation makes to an execution, stored in the
//! same atomic write as the change (a [`Commit`](crate::ports::Commit) carries its events, and
//! `create` takes the creation's), and the notices published from it.
//!
//! Events are derived here, from the record before the change and the commit that makes it
//! ([`change`]), never by the operations: what a change *means* (a status moved, a pause waits for
//! a decision, a job was recorded) is decided once. A commit that changes nothing but versions
//! records nothing, so a poll that sees no change leaves no trace and a trail grows with what
//! happened, not with how often someone looked.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::actions::{ActionStatus, ActionWhen};
use crate::ids::{ExecutionId, JobId, PlanId, SourceServerId};
use crate::model::{
    CleanupState, Execution, ExecutionHeader, PauseReason, ServerCleanup, Timestamp, Wave,
    WaveFailure,
};
use crate::ports::Commit;
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum Actor {
    /// The IAM principal that called the API (API Gateway's request context).
    Iam(String),
    /// The command-line tool: the caller identity it acted as (or `local` on a world file).
    Cli(String),
    /// An API request that carried no IAM identity (an API deployed without IAM authorization).
    Anonymous,
    /// The state machine that conducts the execution.
    Workflow,
    /// find's one-minute sweep (its polls and its healing).
    Find,
    /// A DRS event (the event-driven transition).
    Event,
    /// A direct invocation of a function that did not say who it is: its invoker is not known to
    /// the function, only that it could invoke it.
    Invoker,
}

impl Actor {
    /// The direct-payload field by which the engine's own callers name themselves
    /// (`workflow`, `find`, `event`). Refused through the API, whose caller is its IAM principal.
    pub const FIELD: &'static str = "invokedBy";

    /// The actor a direct payload's `invokedBy` names; anything else is an [`Actor::Invoker`].
    pub fn invoked_by(raw: Option<&str>) -> Self {
        match raw {
            Some("workflow") => Self::Workflow,
            Some("find") => Self::Find,
            Some("event") => Self::Event,
            _ => Self::Invoker,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Iam(arn) => write!(f, "{arn}"),
            Self::Cli(who) => write!(f, "drctl as {who}"),
            Self::Anonymous => f.write_str("an API caller without IAM identity"),
            Self::Workflow => f.write_str("the workflow"),
            Self::Find => f.write_str("find"),
            Self::Event => f.write_str("a DRS event"),
            Self::Invoker => f.write_str("a direct invocation"),
        }
    }
}

/// A status before and after a change; `from` is absent when the change created the execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange<S> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<S>,
    pub to: S,
}

/// Why an execution waits for a person: the notices that page someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// The plan's pause before a wave: resume launches it.
    PlannedPause,
    /// An operator paused: resume goes on.
    OperatorPause,
    /// A wave failed and its policy waits: retry, skip or cancel.
    WaveFailed,
    /// The workflow ended and find may restart it no more: `drctl restart` or cancel.
    NotHealed,
}

/// The servers whose DRS launch status made the same move. Grouped, so that a trail stays small:
/// a 1,000-server wave that launches costs its ids once, not a record per server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerChange {
    pub from: LaunchStatus,
    pub to: LaunchStatus,
    pub source_server_ids: Vec<SourceServerId>,
}

/// The servers whose recovery instance cleanup moved to the same state (with the same DRS job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupChange {
    pub state: CleanupState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobId>,
    pub source_server_ids: Vec<SourceServerId>,
}

/// What one change did to one run of a wave action: taken (RUNNING), started as an automation,
/// refused for now, or ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionChange {
    pub name: String,
    pub when: ActionWhen,
    pub attempt: u32,
    pub status: ActionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automation_execution_id: Option<String>,
    /// The answer's summary (an ended run that succeeded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Why it failed, or the refusal that clears on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What one change did to one wave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveChange {
    pub wave_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusChange<WaveStatus>>,
    /// The wave's attempt after the change.
    #[serde(default)]
    pub attempt: u32,
    /// DRS jobs recorded by this change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub job_ids: Vec<JobId>,
    /// Servers whose launch status moved, by move (in the order first seen).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerChange>,
    /// Servers whose recovery instance cleanup moved on, by state and job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cleanup: Vec<CleanupChange>,
    /// Wave actions' runs that this change took, started or ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<WaveFailure>,
    /// The wave's message or DRS's refusal, when the change set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Anything else the change did to the wave, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One entry of an execution's trail. Never holds a task token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// Unique within the execution and in the order of the changes (see [`event_id`]):
    /// `executionId` + `eventId` identify an event everywhere, and a re-published notice carries
    /// the same.
    pub event_id: String,
    pub execution_id: ExecutionId,
    pub plan_id: PlanId,
    pub time: Timestamp,
    pub actor: Actor,
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<StatusChange<ExecutionStatus>>,
    /// Set when the change leaves the execution waiting for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_before_wave: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_wave: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<WaveChange>,
    /// The execution's message, when the change set it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Anything else the change did to the execution, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// An event's id: `{record version:012}-{stamp}`. The record version is the sum of the versions
/// of the header and every wave once the change has landed; every commit moves at least one of
/// them on, and a commit is conditional on the versions it read, so two changes to the same item
/// are always in order (clocks are not: two Lambdas disagree, and one millisecond holds several
/// changes). The stamp names the item version the change wrote (`h4`: header version 4;
/// `w2v7`: wave 2's version 7), which no other change can write: two changes to different items
/// that landed side by side on the same record version still get ids of their own.
pub fn event_id(record_version: u64, stamp: &str) -> String {
    format!("{record_version:012}-{stamp}")
}

/// The sum of the versions of the header and every wave.
pub fn record_version(execution: &Execution) -> u64 {
    execution.header.version + execution.waves.iter().map(|w| w.version).sum::<u64>()
}

/// Who made a change, with which operation, and when (the clock's milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    pub actor: Actor,
    pub operation: String,
    pub at_millis: i64,
}

impl Author {
    fn event(&self, header: &ExecutionHeader, id: String) -> AuditEvent {
        AuditEvent {
            event_id: id,
            execution_id: header.execution_id,
            plan_id: header.plan_id,
            time: Timestamp(self.at_millis.div_euclid(1000)),
            actor: self.actor.clone(),
            operation: self.operation.clone(),
            execution: None,
            decision: None,
            paused_before_wave: None,
            failed_wave: None,
            waves: vec![],
            reason: None,
            notes: vec![],
        }
    }
}

/// The event of creating `execution`.
pub fn created(execution: &Execution, by: &Author) -> AuditEvent {
    let servers: usize = execution
        .waves
        .iter()
        .map(|w| w.server_statuses.len())
        .sum();
    let id = event_id(
        record_version(execution),
        &format!("h{}", execution.header.version),
    );
    let mut event = by.event(&execution.header, id);
    event.execution = Some(StatusChange {
        from: None,
        to: execution.status(),
    });
    event.notes.push(format!(
        "{} of {} wave{}, {servers} server{}",
        if execution.header.is_drill {
            "drill"
        } else {
            "recovery"
        },
        execution.waves.len(),
        plural(execution.waves.len()),
        plural(servers),
    ));
    event
}

/// The event of `commit` applied to `before`, or `None` when it changes nothing but versions.
pub fn change(before: &Execution, commit: &Commit, by: &Author) -> Option<AuditEvent> {
    let stamp = match (&commit.header, commit.waves.first()) {
        (Some(h), _) => format!("h{}", h.header.version),
        (None, Some(w)) => format!("w{}v{}", w.wave.wave_number, w.wave.version),
        (None, None) => return None,
    };
    let moved: u64 = commit
        .header
        .iter()
        .map(|h| h.header.version.saturating_sub(h.expected_version))
        .chain(
            commit
                .waves
                .iter()
                .map(|w| w.wave.version.saturating_sub(w.expected_version)),
        )
        .sum();
    let mut event = by.event(
        &before.header,
        event_id(record_version(before) + moved, &stamp),
    );
    if let Some(write) = &commit.header {
        header_change(&before.header, &write.header, &mut event);
    }
    for write in &commit.waves {
        if let Some(was) = before.wave(write.wave.wave_number) {
            if let Some(wave) = wave_change(was, &write.wave) {
                if wave.status.as_ref().map(|s| s.to) == Some(WaveStatus::Failed)
                    && event.decision.is_none()
                {
                    event.failed_wave.get_or_insert(wave.wave_number);
                }
                event.waves.push(wave);
            }
        }
    }
    let nothing = event.execution.is_none()
        && event.decision.is_none()
        && event.waves.is_empty()
        && event.reason.is_none()
        && event.notes.is_empty();
    (!nothing).then_some(event)
}

fn header_change(was: &ExecutionHeader, now: &ExecutionHeader, event: &mut AuditEvent) {
    if was.status != now.status {
        event.execution = Some(StatusChange {
            from: Some(was.status),
            to: now.status,
        });
    }
    if now.status == ExecutionStatus::Paused {
        let newly = was.status != ExecutionStatus::Paused
            || was.pause_reason != now.pause_reason
            || was.paused_before_wave != now.paused_before_wave
            || was.failed_wave != now.failed_wave;
        if newly {
            event.decision = now.pause_reason.map(|r| match r {
                PauseReason::Planned => Decision::PlannedPause,
                PauseReason::Operator => Decision::OperatorPause,
                PauseReason::WaveFailed => Decision::WaveFailed,
            });
            event.paused_before_wave = now.paused_before_wave;
            event.failed_wave = now.failed_wave;
        }
    }
    if was.status_message != now.status_message {
        event.reason = now.status_message.clone();
        let gave_up = now
            .status_message
            .as_deref()
            .is_some_and(crate::ops::heal::says_operator_needed);
        if gave_up && event.decision.is_none() {
            event.decision = Some(Decision::NotHealed);
        }
    }
    let newest = |h: &ExecutionHeader| h.restarts.last().copied();
    if newest(now) > newest(was) {
        event.notes.push("workflow restarted".to_owned());
    }
    match (&was.task_token, &now.task_token) {
        (None, Some(_)) => event
            .notes
            .push("the workflow waits at the pause (its task token is held)".to_owned()),
        (Some(a), Some(b)) if !a.release_pending && b.release_pending => event
            .notes
            .push("the workflow's release is decided".to_owned()),
        (Some(_), None) => event.notes.push("the workflow was released".to_owned()),
        _ => {}
    }
    if was.paused_before_wave.is_some() && now.paused_before_wave.is_none() {
        event.notes.push(format!(
            "no longer paused before wave {}",
            was.paused_before_wave.unwrap_or_default()
        ));
    }
    if was.start_time.is_none() && now.start_time.is_some() {
        event.notes.push("first wave launched".to_owned());
    }
    let captured = event.execution.is_some()
        || event.decision.is_some()
        || event.reason.is_some()
        || !event.notes.is_empty();
    let unversioned = |h: &ExecutionHeader| ExecutionHeader {
        version: 0,
        ..h.clone()
    };
    if !captured && unversioned(was) != unversioned(now) {
        event.notes.push("execution details updated".to_owned());
    }
}

fn wave_change(was: &Wave, now: &Wave) -> Option<WaveChange> {
    let mut change = WaveChange {
        wave_number: now.wave_number,
        wave_name: now.wave_name.clone(),
        status: (was.status != now.status).then_some(StatusChange {
            from: Some(was.status),
            to: now.status,
        }),
        attempt: now.attempt,
        job_ids: now
            .jobs
            .iter()
            .filter(|j| !was.jobs.iter().any(|k| k.job_id == j.job_id))
            .map(|j| j.job_id.clone())
            .collect(),
        servers: server_moves(was, now),
        cleanup: cleanup_moves(was, now),
        actions: action_moves(was, now),
        failure_reason: (was.failure_reason != now.failure_reason)
            .then_some(now.failure_reason)
            .flatten(),
        reason: None,
        notes: vec![],
    };
    if was.status_message != now.status_message {
        change.reason = now.status_message.clone();
    }
    if now.last_launch_error.is_some()
        && (was.last_launch_error != now.last_launch_error
            || was.launch_attempts != now.launch_attempts)
    {
        change.notes.push(format!(
            "DRS refused the launch: {}{}",
            now.last_launch_error.as_deref().unwrap_or_default(),
            now.next_launch_time
                .map(|t| format!("; next try not before {}", t.0))
                .unwrap_or_default()
        ));
    }
    if now.attempt > was.attempt && was.attempt > 0 {
        change.notes.push(format!("attempt {} begins", now.attempt));
    }
    if !was.pause_approved && now.pause_approved {
        change
            .notes
            .push(format!("pause before wave {} approved", now.wave_number));
    }
    let described = |w: &Wave| {
        w.server_statuses
            .iter()
            .filter(|s| s.instance_id.is_some() || s.recovery_instance_id.is_some())
            .count()
    };
    let newly_described = described(now).saturating_sub(described(was));
    if newly_described > 0 {
        change.notes.push(format!(
            "recovery instance{} known for {newly_described} more server{}",
            plural(newly_described),
            plural(newly_described)
        ));
    }
    let reasons = |w: &Wave| {
        w.server_statuses
            .iter()
            .filter(|s| s.drs_reason.is_some())
            .count()
    };
    let newly_explained = reasons(now).saturating_sub(reasons(was));
    if newly_explained > 0 {
        change.notes.push(format!(
            "DRS's reason read from the job log for {newly_explained} failed server{}",
            plural(newly_explained)
        ));
    }
    let specific = change.status.is_some()
        || !change.job_ids.is_empty()
        || !change.servers.is_empty()
        || !change.cleanup.is_empty()
        || !change.actions.is_empty()
        || change.failure_reason.is_some()
        || change.reason.is_some()
        || !change.notes.is_empty();
    if specific {
        return Some(change);
    }
    // Nothing named above moved: record that the wave changed at all, unless only its version did.
    let unversioned = |w: &Wave| Wave {
        version: 0,
        ..w.clone()
    };
    if unversioned(was) == unversioned(now) {
        return None;
    }
    change.notes.push(if was.claim != now.claim {
        match &now.claim {
            Some(c) if c.held => format!("part {} claimed for launch", c.part),
            Some(c) => format!("part {} released without a job", c.part),
            None => "launch claim cleared".to_owned(),
        }
    } else {
        "server details updated".to_owned()
    });
    Some(change)
}

/// Why a trail cannot be the record's: what [`check_trail`] finds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailProblem {
    #[error("event {event} belongs to execution {execution} of plan {plan}")]
    Foreign {
        event: String,
        execution: ExecutionId,
        plan: PlanId,
    },
    #[error("event {event} does not come after {previous} (event ids increase)")]
    OutOfOrder { event: String, previous: String },
    #[error("event {event} moves the execution from {from:?}, but the trail had it {was:?}")]
    ExecutionBroken {
        event: String,
        from: Option<ExecutionStatus>,
        was: Option<ExecutionStatus>,
    },
    #[error("event {event} moves wave {wave} from {from:?}, but the trail had it {was}")]
    WaveBroken {
        event: String,
        wave: u32,
        from: Option<WaveStatus>,
        was: WaveStatus,
    },
    #[error("the trail leaves the execution {trail}, the record says {record}")]
    ExecutionEnds {
        trail: ExecutionStatus,
        record: ExecutionStatus,
    },
    #[error("the trail leaves wave {wave} {trail}, the record says {record}")]
    WaveEnds {
        wave: u32,
        trail: WaveStatus,
        record: WaveStatus,
    },
}

/// Whether `trail` (oldest first) can be the trail of `record`: every event is the execution's,
/// ids increase, and the status moves it records chain, from its first event to the record as it
/// stands, for the execution and every wave. A trail may begin after the execution did (a record
/// written before trails existed): it is checked from its first event on.
pub fn check_trail(record: &Execution, trail: &[AuditEvent]) -> Vec<TrailProblem> {
    let mut found = vec![];
    let mut status: Option<ExecutionStatus> = None;
    let mut waves: std::collections::HashMap<u32, WaveStatus> = Default::default();
    let mut previous: Option<&str> = None;
    for e in trail {
        if e.execution_id != record.id() || e.plan_id != record.header.plan_id {
            found.push(TrailProblem::Foreign {
                event: e.event_id.clone(),
                execution: e.execution_id,
                plan: e.plan_id,
            });
            continue;
        }
        if let Some(p) = previous.filter(|p| *p >= e.event_id.as_str()) {
            found.push(TrailProblem::OutOfOrder {
                event: e.event_id.clone(),
                previous: p.to_owned(),
            });
        }
        previous = Some(&e.event_id);
        if let Some(c) = &e.execution {
            if c.from.is_none() {
                // The creation: every wave starts PENDING.
                for w in &record.waves {
                    waves.insert(w.wave_number, WaveStatus::Pending);
                }
            } else if status.is_some() && status != c.from {
                found.push(TrailProblem::ExecutionBroken {
                    event: e.event_id.clone(),
                    from: c.from,
                    was: status,
                });
            }
            status = Some(c.to);
        }
        for w in &e.waves {
            let Some(c) = &w.status else { continue };
            if let Some(was) = waves.get(&w.wave_number) {
                if Some(*was) != c.from {
                    found.push(TrailProblem::WaveBroken {
                        event: e.event_id.clone(),
                        wave: w.wave_number,
                        from: c.from,
                        was: *was,
                    });
                }
            }
            waves.insert(w.wave_number, c.to);
        }
    }
    if let Some(trail) = status.filter(|s| *s != record.status()) {
        found.push(TrailProblem::ExecutionEnds {
            trail,
            record: record.status(),
        });
    }
    for w in &record.waves {
        if let Some(trail) = waves.get(&w.wave_number).filter(|s| **s != w.status) {
            found.push(TrailProblem::WaveEnds {
                wave: w.wave_number,
                trail: *trail,
                record: w.status,
            });
        }
    }
    found
}

/// The launch status moves from `was` to `now`, grouped by move. Servers are matched by id (a
/// wave's servers never change, but an id missing from `was` is simply not a move).
fn server_moves(was: &Wave, now: &Wave) -> Vec<ServerChange> {
    let before: std::collections::HashMap<&SourceServerId, &LaunchStatus> = was
        .server_statuses
        .iter()
        .map(|s| (&s.source_server_id, &s.launch_status))
        .collect();
    let mut moves: Vec<ServerChange> = vec![];
    for s in &now.server_statuses {
        let Some(from) = before.get(&s.source_server_id) else {
            continue;
        };
        if **from == s.launch_status {
            continue;
        }
        match moves
            .iter_mut()
            .find(|m| m.from == **from && m.to == s.launch_status)
        {
            Some(m) => m.source_server_ids.push(s.source_server_id.clone()),
            None => moves.push(ServerChange {
                from: (*from).clone(),
                to: s.launch_status.clone(),
                source_server_ids: vec![s.source_server_id.clone()],
            }),
        }
    }
    moves
}

/// The cleanup moves from `was` to `now`, grouped by new state and job.
fn cleanup_moves(was: &Wave, now: &Wave) -> Vec<CleanupChange> {
    let before: std::collections::HashMap<&SourceServerId, &ServerCleanup> = was
        .server_statuses
        .iter()
        .filter_map(|s| s.cleanup.as_ref().map(|c| (&s.source_server_id, c)))
        .collect();
    let mut moves: Vec<CleanupChange> = vec![];
    for s in &now.server_statuses {
        let Some(cleanup) = &s.cleanup else {
            continue;
        };
        if before
            .get(&s.source_server_id)
            .is_some_and(|b| b.state == cleanup.state && b.job_id == cleanup.job_id)
        {
            continue;
        }
        match moves
            .iter_mut()
            .find(|m| m.state == cleanup.state && m.job_id == cleanup.job_id)
        {
            Some(m) => m.source_server_ids.push(s.source_server_id.clone()),
            None => moves.push(CleanupChange {
                state: cleanup.state,
                job_id: cleanup.job_id.clone(),
                source_server_ids: vec![s.source_server_id.clone()],
            }),
        }
    }
    moves
}

/// The runs `now` holds that `was` did not hold as they are: taken, started, refused, ended.
fn action_moves(was: &Wave, now: &Wave) -> Vec<ActionChange> {
    now.action_runs
        .iter()
        .filter(|run| {
            let before = was
                .action_runs
                .iter()
                .find(|r| r.name == run.name && r.attempt == run.attempt);
            before.is_none_or(|b| {
                b.status != run.status
                    || b.automation_execution_id != run.automation_execution_id
                    || (b.retry_time != run.retry_time && run.retry_time.is_some())
            })
        })
        .map(|run| ActionChange {
            name: run.name.clone(),
            when: run.when,
            attempt: run.attempt,
            status: run.status,
            automation_execution_id: run.automation_execution_id.clone(),
            summary: run.summary.clone(),
            error: run.error.clone(),
        })
        .collect()
}

impl ActionChange {
    /// "action dns-switch (AFTER_COMPLETE, attempt 1) SUCCEEDED", and what came with it.
    pub fn describe(&self) -> String {
        let mut line = format!(
            "action {} ({}, attempt {}) {}",
            crate::text::clip(&self.name, 64),
            self.when.as_str(),
            self.attempt,
            match self.status {
                ActionStatus::Running if self.automation_execution_id.is_some() => "started",
                ActionStatus::Running if self.error.is_some() => "refused for now",
                ActionStatus::Running => "taken",
                other => other.as_str(),
            }
        );
        if let Some(id) = &self.automation_execution_id {
            line.push_str(&format!(" as automation {id}"));
        }
        if let Some(e) = &self.error {
            line.push_str(&format!(": {}", crate::text::clip(e, 200)));
        }
        line
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

// -------------------------------------------------------------------------------------------
// Notices: what is published from the trail
// -------------------------------------------------------------------------------------------

/// The EventBridge `source` of every notice.
pub const SOURCE: &str = "drs-waves";

/// The kinds of notice, by EventBridge `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    /// The execution waits for a person (see [`Decision`]).
    NeedsDecision,
    ExecutionStatus,
    WaveStatus,
    /// A wave action was taken, started or ended.
    ActionStatus,
    /// A change that moved no status: jobs recorded, servers launched, a refusal, the token.
    Progress,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 5] = [
        Self::NeedsDecision,
        Self::ExecutionStatus,
        Self::WaveStatus,
        Self::ActionStatus,
        Self::Progress,
    ];

    pub const fn detail_type(self) -> &'static str {
        match self {
            Self::NeedsDecision => "Execution Needs Decision",
            Self::ExecutionStatus => "Execution Status Change",
            Self::WaveStatus => "Wave Status Change",
            Self::ActionStatus => "Wave Action Status Change",
            Self::Progress => "Execution Progress",
        }
    }

    const fn slug(self) -> &'static str {
        match self {
            Self::NeedsDecision => "decision",
            Self::ExecutionStatus => "execution",
            Self::WaveStatus => "waves",
            Self::ActionStatus => "actions",
            Self::Progress => "progress",
        }
    }
}

/// One EventBridge entry: `source` [`SOURCE`], `detail-type` `kind.detail_type()`, `detail`.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub detail: Value,
}

impl AuditEvent {
    /// Whether the event pages someone (the SNS topic's subscription): the execution needs a
    /// decision, a wave failed, a wave action failed (even one whose policy goes on: a DNS switch
    /// that did not happen needs a person), or the execution finished.
    pub fn pages(&self) -> bool {
        self.decision.is_some()
            || self.execution.as_ref().is_some_and(|c| c.to.is_terminal())
            || self.waves.iter().any(|w| {
                w.status.as_ref().map(|s| s.to) == Some(WaveStatus::Failed)
                    || w.actions.iter().any(|a| a.status.is_failure())
            })
    }

    /// The kinds of notice this event publishes: each that applies, or progress alone.
    pub fn notice_kinds(&self) -> Vec<NoticeKind> {
        let mut kinds = vec![];
        if self.decision.is_some() {
            kinds.push(NoticeKind::NeedsDecision);
        }
        if self.execution.is_some() {
            kinds.push(NoticeKind::ExecutionStatus);
        }
        if self.waves.iter().any(|w| w.status.is_some()) {
            kinds.push(NoticeKind::WaveStatus);
        }
        if self.waves.iter().any(|w| !w.actions.is_empty()) {
            kinds.push(NoticeKind::ActionStatus);
        }
        if kinds.is_empty() {
            kinds.push(NoticeKind::Progress);
        }
        kinds
    }

    /// One sentence: what happened.
    pub fn summary(&self) -> String {
        self.summary_of(&format!(
            "Execution {} (plan {})",
            self.execution_id, self.plan_id
        ))
    }

    /// The summary, with `who` naming the execution.
    fn summary_of(&self, who: &str) -> String {
        let wave = |n: u32| {
            let name = self
                .waves
                .iter()
                .find(|w| w.wave_number == n)
                .and_then(|w| w.wave_name.as_deref())
                .map(|name| format!(" ({})", crate::text::clip(name, 60)))
                .unwrap_or_default();
            format!("wave {n}{name}")
        };
        match self.decision {
            Some(Decision::PlannedPause) => {
                let n = self.paused_before_wave.unwrap_or_default();
                return format!("{who} is paused before {} as the plan asks; resume it to launch the wave, or cancel it.", wave(n));
            }
            Some(Decision::OperatorPause) => {
                let n = self.paused_before_wave.unwrap_or_default();
                return format!(
                    "{who} was paused by {} before {}; resume it to go on, or cancel it.",
                    self.actor,
                    wave(n)
                );
            }
            Some(Decision::WaveFailed) => {
                let n = self.failed_wave.unwrap_or_default();
                let why = self
                    .waves
                    .iter()
                    .find(|w| w.wave_number == n)
                    .and_then(|w| w.reason.clone())
                    .map(|r| format!(" ({})", crate::text::clip(&r, 200)))
                    .unwrap_or_default();
                return format!("{who}: {} FAILED{why} and waits for a decision: retry the wave, skip it, or cancel the execution.", wave(n));
            }
            Some(Decision::NotHealed) => {
                return format!("{who}: its workflow ended and find may restart it no more; an operator is needed: restart the workflow or cancel the execution.");
            }
            None => {}
        }
        if let Some(c) = &self.execution {
            return match c.from {
                None => format!("{who} was created ({}) by {}.", c.to, self.actor),
                Some(from) => {
                    let why = self
                        .reason
                        .as_deref()
                        .map(|r| format!(": {}", crate::text::clip(r, 200)))
                        .unwrap_or_default();
                    format!(
                        "{who} moved from {from} to {} ({}){why}.",
                        c.to, self.operation
                    )
                }
            };
        }
        let moved: Vec<String> = self
            .waves
            .iter()
            .filter_map(|w| {
                w.status.as_ref().map(|s| {
                    let by = w
                        .actions
                        .iter()
                        .find(|a| a.status.is_failure())
                        .map(|a| format!(" ({})", a.describe()))
                        .unwrap_or_default();
                    format!("{} {}{by}", wave(w.wave_number), s.to)
                })
            })
            .collect();
        if !moved.is_empty() {
            return format!("{who}: {}.", moved.join(", "));
        }
        // Progress: what moved, wave by wave (servers by move, jobs recorded, anything else).
        let mut parts: Vec<String> = self.notes.clone();
        for w in &self.waves {
            let mut said: Vec<String> = w
                .servers
                .iter()
                .map(|m| {
                    let n = m.source_server_ids.len();
                    format!("{n} server{} {} → {}", plural(n), m.from, m.to)
                })
                .collect();
            for c in &w.cleanup {
                let n = c.source_server_ids.len();
                let what = match c.state {
                    CleanupState::Requesting => "to be terminated",
                    CleanupState::Requested => "termination asked of DRS",
                    CleanupState::Terminated => "recovery instance terminated",
                    CleanupState::Gone => {
                        "recovery instance no longer this execution's, left alone"
                    }
                };
                let job = c
                    .job_id
                    .as_ref()
                    .map(|j| format!(" (job {j})"))
                    .unwrap_or_default();
                said.push(format!("{n} server{}: {what}{job}", plural(n)));
            }
            said.extend(w.actions.iter().map(ActionChange::describe));
            if !w.job_ids.is_empty() {
                let jobs: Vec<&str> = w.job_ids.iter().map(|j| j.as_str()).collect();
                said.push(format!(
                    "job{} {} recorded",
                    plural(jobs.len()),
                    jobs.join(", ")
                ));
            }
            said.extend(w.notes.iter().cloned());
            if !said.is_empty() {
                parts.push(format!("{}: {}", wave(w.wave_number), said.join(", ")));
            }
        }
        if parts.is_empty() {
            parts.push(format!("changed by {}", self.operation));
        }
        format!("{who}: {}.", parts.join("; "))
    }

    /// The commands that act on the event: `drctl` lines and API routes, for a person who must
    /// decide. Empty when nothing waits.
    pub fn commands(&self) -> Vec<String> {
        let (id, plan) = (self.execution_id, self.plan_id);
        let cli = |verb: &str, extra: &str| format!("drctl {verb} {id} --plan {plan}{extra}");
        let api =
            |verb: &str, body: String| format!("POST /executions/{id}/{verb} with body {body}");
        let target = json!({"planId": plan}).to_string();
        let mut lines = vec![];
        match self.decision {
            Some(Decision::PlannedPause | Decision::OperatorPause) => {
                lines.push(cli("resume", ""));
                lines.push(api("resume", target.clone()));
            }
            Some(Decision::WaveFailed) => {
                let n = self.failed_wave.unwrap_or_default();
                let wave_body = json!({"planId": plan, "waveNumber": n}).to_string();
                lines.push(cli("retry", &format!(" --wave {n}")));
                lines.push(api("retry", wave_body.clone()));
                lines.push(cli("skip", &format!(" --wave {n}")));
                lines.push(api("skip", wave_body));
            }
            Some(Decision::NotHealed) => lines.push(cli("restart", "")),
            None => return lines,
        }
        lines.push(cli("cancel", ""));
        lines.push(api("cancel", target));
        lines
    }

    /// The event as notices carry it: every field but the per-server lists, which become counts
    /// (a 1,000-server wave's changes stay in the trail; a notice stays small), plus `summary`,
    /// `commands`, `pages` and `notificationId`. `pages` is set on one notice of an event that
    /// pages, its first kind (the decision, else the execution's status, else the waves'), so
    /// that a subscription on it sends one message per event.
    fn notice_detail(&self, kind: NoticeKind) -> Value {
        let mut detail = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(waves) = detail.get_mut("waves").and_then(Value::as_array_mut) {
            for (wave, change) in waves.iter_mut().zip(&self.waves) {
                if let Some(w) = wave.as_object_mut() {
                    if w.remove("servers").is_some() {
                        let mut counts = serde_json::Map::new();
                        for m in &change.servers {
                            let n = counts
                                .entry(m.to.as_str().to_owned())
                                .or_insert(Value::from(0u64));
                            *n = Value::from(
                                n.as_u64().unwrap_or(0) + m.source_server_ids.len() as u64,
                            );
                        }
                        w.insert("serversNowIn".to_owned(), Value::Object(counts));
                    }
                }
            }
        }
        if let Some(d) = detail.as_object_mut() {
            d.insert(
                "notificationId".to_owned(),
                Value::String(format!(
                    "{}/{}/{}",
                    self.execution_id,
                    self.event_id,
                    kind.slug()
                )),
            );
            d.insert("summary".to_owned(), Value::String(self.summary()));
            d.insert("commands".to_owned(), json!(self.commands()));
            let first = self.notice_kinds().first() == Some(&kind);
            d.insert("pages".to_owned(), Value::Bool(self.pages() && first));
            d.insert("message".to_owned(), Value::String(self.message()));
        }
        detail
    }

    /// The summary and the commands, one per line: what the SNS e-mail says.
    pub fn message(&self) -> String {
        let commands = self.commands();
        if commands.is_empty() {
            return self.summary();
        }
        format!("{}\n\n{}", self.summary(), commands.join("\n"))
    }

    /// What pages a person about this event (when it [`pages`](Self::pages)): the subject
    /// `drs-waves: Execution <id>` and what happened, in printable ASCII and clipped to
    /// [`MAX_SUBJECT_CHARS`], and the [`message`](Self::message).
    pub fn page(&self) -> Page {
        Page {
            subject: subject(&self.summary_of(&format!("Execution {}", self.execution_id))),
            message: self.message(),
        }
    }

    /// The notices to publish for this event, one per kind that applies.
    pub fn notices(&self) -> Vec<Notice> {
        self.notice_kinds()
            .into_iter()
            .map(|kind| Notice {
                kind,
                detail: self.notice_detail(kind),
            })
            .collect()
    }
}

/// The last part of a fallback notice's `notificationId`.
pub const FALLBACK_SLUG: &str = "unreadable";

/// The notice published in place of what cannot be published as it is: a trail record the
/// publisher cannot read (written by a newer version during a rolling deploy, or damaged), or a
/// notice EventBridge refuses for good (over its size limit). Built from the record's keys alone,
/// so it is small and can always be built: an `Execution Progress` notice whose detail holds
/// `notificationId` (`{executionId}/{eventId}/unreadable`), `executionId`, `eventId` and a
/// `summary` that says why and where to read the event. `why` is clipped.
pub fn fallback_notice(execution_id: &str, event_id: &str, why: &str) -> Notice {
    let summary = format!(
        "Execution {execution_id}: the trail holds event {event_id}, which this publisher cannot \
         read or publish as it is ({}); read it with drctl events {execution_id} --plan <planId> \
         (a drctl as new as the stack).",
        crate::text::clip(why, 300)
    );
    Notice {
        kind: NoticeKind::Progress,
        detail: json!({
            "notificationId": format!("{execution_id}/{event_id}/{FALLBACK_SLUG}"),
            "executionId": execution_id,
            "eventId": event_id,
            "summary": summary,
        }),
    }
}

/// SNS's limit on a subject: less than 100 characters, without line breaks or control characters
/// (SNS API Reference, Publish); a page's subject also keeps to printable ASCII, which every
/// statement of that limit accepts and every mail client shows.
pub const MAX_SUBJECT_CHARS: usize = 99;

/// What pages a person about one event: an e-mail's subject and text (SNS Publish's `Subject` and
/// `Message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// `drs-waves: ` and what happened, in at most [`MAX_SUBJECT_CHARS`] printable ASCII
    /// characters.
    pub subject: String,
    /// [`AuditEvent::message`]: the summary, a blank line, one command per line.
    pub message: String,
}

/// `drs-waves: {text}` as a subject: printable ASCII only (`…` becomes `...`, any other
/// whitespace or control character a space, anything else `?`), clipped to
/// [`MAX_SUBJECT_CHARS`] with `...` marking the cut.
fn subject(text: &str) -> String {
    let mut out = format!("{SOURCE}: ");
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c),
            '…' => out.push_str("..."),
            c if c.is_whitespace() || c.is_control() => out.push(' '),
            _ => out.push('?'),
        }
    }
    if out.len() > MAX_SUBJECT_CHARS {
        // ASCII: one byte per character.
        out.truncate(MAX_SUBJECT_CHARS - 3);
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests;
