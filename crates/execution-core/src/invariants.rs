//! What an execution record may be: the rules that hold of every record the operations write,
//! checked on one record (header and waves) at a time.
//!
//! [`check`] lists every rule a record breaks. Only rules that always hold are here: each one
//! follows from the lifecycle tables ([`crate::lifecycle`]), the wave rules ([`crate::rules`]) and
//! the way the operations write, and holds of records of version 1 as [`crate::model`] reads them.
//! Times are compared as one clock wrote them (the simulator's, a world file's `now`); the engine
//! never moves a time back.
//!
//! The store adapters do not call this: a stored record must keep loading whatever it holds. World
//! files, the simulator's store and the tests do.

use std::collections::{HashMap, HashSet};

use crate::actions::{ActionRun, ActionStatus, ActionWhen};
use crate::ids::{JobId, SourceServerId};
use crate::model::{
    Execution, ExecutionHeader, Impact, LaunchClaim, PauseReason, ServerCleanup, ServerStatus,
    Timestamp, Wave, WaveFailure, WaveJob,
};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// 1970-01-01T00:00:00Z: no record time is earlier.
pub const EARLIEST: Timestamp = Timestamp(0);
/// 9999-12-31T23:59:59Z: no record time is later (RFC 3339 has four-digit years, and a time in
/// milliseconds stays far inside `i64`).
pub const LATEST: Timestamp = Timestamp(253_402_300_799);

/// Whether `t` lies in [`EARLIEST`]..=[`LATEST`].
pub fn in_range(t: Timestamp) -> bool {
    (EARLIEST..=LATEST).contains(&t)
}

/// One rule a record breaks; its Display says which and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("the execution has no waves")]
    NoWaves,
    #[error("waves[{index}] is wave {wave_number}: waves are numbered 0, 1, 2, ... in order")]
    WaveOutOfOrder { index: usize, wave_number: u32 },
    #[error("server {server} is in wave {first} and again in wave {again}")]
    ServerInTwoWaves {
        server: SourceServerId,
        first: u32,
        again: u32,
    },
    #[error(
        "{field} is {value}, outside {}..={} (epoch seconds of 1970 to 9999)",
        EARLIEST.0,
        LATEST.0
    )]
    TimeOutOfRange { field: String, value: i64 },
    #[error("{later} ({later_at}) is before {earlier} ({earlier_at})")]
    TimesOutOfOrder {
        earlier: String,
        earlier_at: i64,
        later: String,
        later_at: i64,
    },
    #[error("the execution is {status} but has no endTime")]
    FinishedWithoutEndTime { status: ExecutionStatus },
    #[error("the execution is {status} but has an endTime (only finalize writes one)")]
    EndTimeWhileRunning { status: ExecutionStatus },
    #[error("the execution is {status} but wave {wave} is still {wave_status}")]
    UnsettledWaveAfterEnd {
        status: ExecutionStatus,
        wave: u32,
        wave_status: WaveStatus,
    },
    #[error("the execution is {status} but its waves say {waves_say}")]
    OutcomeDisagrees {
        status: ExecutionStatus,
        waves_say: ExecutionStatus,
    },
    #[error("the execution is {status} but has a recoveryTimeSeconds (only a completed one has)")]
    RecoveryTimeWithoutCompletion { status: ExecutionStatus },
    #[error("the execution is PENDING but wave {wave} is {wave_status}")]
    PendingExecutionWaveRan { wave: u32, wave_status: WaveStatus },
    #[error("the execution is {status} but wave {wave} is CANCELLED (only a cancel or finalize cancels a wave)")]
    CancelledWaveWhileRunning { status: ExecutionStatus, wave: u32 },
    #[error("wave {wave} is {status} but wave {earlier} before it is {earlier_status}: a wave runs only after every wave before it passed")]
    RanOutOfTurn {
        wave: u32,
        status: WaveStatus,
        earlier: u32,
        earlier_status: WaveStatus,
    },
    #[error("{field} is set on a {status} execution (only a PAUSED one has it)")]
    PauseFieldWhileNotPaused {
        field: &'static str,
        status: ExecutionStatus,
    },
    #[error("{field} is wave {wave}, which the execution does not have")]
    NoSuchWave { field: &'static str, wave: u32 },
    #[error(
        "pausedBeforeWave is wave {wave}, which is {status}: a pause stands before a PENDING wave"
    )]
    PausedBeforeLaunchedWave { wave: u32, status: WaveStatus },
    #[error("failedWave is wave {wave}, which is {status}, not FAILED")]
    FailedWaveNotFailed { wave: u32, status: WaveStatus },
    #[error("pauseReason is WAVE_FAILED but failedWave is not set")]
    WaveFailedPauseWithoutWave,
    #[error("failedWave is set but pauseReason is not WAVE_FAILED")]
    FailedWaveWithoutWaveFailedPause,
    #[error("a {status} execution holds a task token that is not being released (only a PAUSED one waits with a token)")]
    TokenHeldWhileNotPaused { status: ExecutionStatus },
    #[error("wave {wave} is PENDING (never launched) but has {field}")]
    PendingWaveHas { wave: u32, field: &'static str },
    #[error("wave {wave} is PENDING (never launched) but its server {server} is {launch_status}{}", if *.has_job { " with a job" } else { "" })]
    PendingWaveServerStarted {
        wave: u32,
        server: SourceServerId,
        launch_status: LaunchStatus,
        has_job: bool,
    },
    #[error("wave {wave} is {status} but its attempt is 0")]
    LaunchedWaveWithoutAttempt { wave: u32, status: WaveStatus },
    #[error(
        "wave {wave}: job {job} is of attempt {attempt}, but the wave is at attempt {current}"
    )]
    JobOfUnknownAttempt {
        wave: u32,
        job: JobId,
        attempt: u32,
        current: u32,
    },
    #[error("wave {wave}: job {job} is listed twice")]
    JobTwice { wave: u32, job: JobId },
    #[error("wave {wave}: part {part} of attempt {attempt} has two jobs")]
    PartTwice { wave: u32, attempt: u32, part: u32 },
    #[error("wave {wave}: server {server} names job {job}, which is not one of the wave's jobs")]
    ServerJobNotInWave {
        wave: u32,
        server: SourceServerId,
        job: JobId,
    },
    #[error("wave {wave} is {status} but has a launch claim (only a LAUNCHING wave is claimed)")]
    ClaimOnWave { wave: u32, status: WaveStatus },
    #[error("wave {wave} is {status} (in flight) but has an endTime")]
    InFlightWithEndTime { wave: u32, status: WaveStatus },
    #[error("wave {wave} is {status} but has a failureReason (only a FAILED or SKIPPED wave has)")]
    FailureReasonOnWave { wave: u32, status: WaveStatus },
    #[error("wave {wave} is LAUNCHING but every server has its job (it would be STARTED)")]
    LaunchingWithEveryJob { wave: u32 },
    #[error("wave {wave} is STARTED without {what}")]
    StartedWithout { wave: u32, what: &'static str },
    #[error("wave {wave}: server {server} has EC2 details but no instanceId")]
    Ec2DetailsWithoutInstance { wave: u32, server: SourceServerId },
    #[error("workflowRun and workflowPolledTime come together (one names the run, the other when it last polled); this record has only one")]
    HalfAWorkflowMark,
    #[error("the restarts are not in the order they happened")]
    RestartsOutOfOrder,
    #[error("wave {wave} is COMPLETED but its critical server {server} is {launch_status}")]
    CompletedWithoutCriticalServer {
        wave: u32,
        server: SourceServerId,
        launch_status: LaunchStatus,
    },
    #[error("wave {wave} is COMPLETED with optionalNotLaunched {recorded}, but {actual} of its optional servers did not launch")]
    OptionalCountDisagrees {
        wave: u32,
        recorded: u32,
        actual: u32,
    },
    #[error(
        "wave {wave} records a run of action {action}, which the wave does not have (at that time)"
    )]
    RunOfUnknownAction { wave: u32, action: String },
    #[error("wave {wave}: run {attempt} of action {action} does not follow the one before it")]
    RunAttemptsOutOfOrder {
        wave: u32,
        action: String,
        attempt: u32,
    },
    #[error("wave {wave} is {status} while its action {action} is RUNNING (actions run on PENDING and COMPLETED waves)")]
    RunningActionOnWave {
        wave: u32,
        action: String,
        status: WaveStatus,
    },
    #[error("wave {wave}: a run of action {action} ended without an endTime")]
    EndedRunWithoutEndTime { wave: u32, action: String },
    #[error("wave {wave} has two actions RUNNING (actions run one at a time)")]
    TwoActionsRunning { wave: u32 },
    #[error("wave {wave} failed by an action (ACTION_FAILED) but no run of an action with onFailure FAIL failed")]
    ActionFailureWithoutRun { wave: u32 },
    #[error("the execution is {status} but wave {wave}'s action {action} is RUNNING")]
    ActionRunningAfterEnd {
        status: ExecutionStatus,
        wave: u32,
        action: String,
    },
}

/// A time of a record: the field it is in (a path in the record's JSON, e.g.
/// `waves[1].launchTime`) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTime {
    pub field: String,
    pub at: Timestamp,
    /// A time the engine waits for (`nextLaunchTime`), which may lie ahead of the clock; every
    /// other time was the clock's when it was written.
    pub scheduled: bool,
}

/// Every time of `execution`, wherever it is in the record.
pub fn times(execution: &Execution) -> Vec<RecordTime> {
    let mut out = Vec::new();
    let mut put = |field: String, at: Option<Timestamp>, scheduled: bool| {
        if let Some(at) = at {
            out.push(RecordTime {
                field,
                at,
                scheduled,
            });
        }
    };
    // Destructured in full, so that a new field of the record is a compile error here until it is
    // placed (a time or not).
    let ExecutionHeader {
        execution_id: _,
        plan_id: _,
        plan_name: _,
        is_drill: _,
        status: _,
        created_time,
        start_time,
        end_time,
        last_polled_time,
        workflow_run: _,
        workflow_polled_time,
        restarts,
        paused_before_wave: _,
        pause_reason: _,
        failed_wave: _,
        task_token: _,
        status_message: _,
        recovery_time_seconds: _,
        target_rto_seconds: _,
        cleanup_after_seconds: _,
        version: _,
    } = &execution.header;
    put("createdTime".into(), Some(*created_time), false);
    put("startTime".into(), *start_time, false);
    put("endTime".into(), *end_time, false);
    put("lastPolledTime".into(), *last_polled_time, false);
    put("workflowPolledTime".into(), *workflow_polled_time, false);
    for (i, t) in restarts.iter().enumerate() {
        put(format!("restarts[{i}]"), Some(*t), false);
    }
    for (w, wave) in execution.waves.iter().enumerate() {
        let Wave {
            wave_number: _,
            wave_name: _,
            status: _,
            pause_before_wave: _,
            pause_approved: _,
            timeout_seconds: _,
            on_failure: _,
            attempt: _,
            jobs,
            claim,
            launch_attempts: _,
            last_launch_error: _,
            next_launch_time,
            launch_time,
            attempt_time,
            end_time,
            recovery_time_seconds: _,
            target_rto_seconds: _,
            optional_not_launched: _,
            failure_reason: _,
            status_message: _,
            actions: _,
            action_runs,
            version: _,
            server_statuses,
        } = wave;
        let at = |field: &str| format!("waves[{w}].{field}");
        for (r, run) in action_runs.iter().enumerate() {
            let ActionRun {
                name: _,
                when: _,
                attempt: _,
                status: _,
                start_time,
                claimed_time,
                end_time,
                automation_execution_id: _,
                retry_time,
                sent_parameters: _,
                refusals: _,
                summary: _,
                error: _,
            } = run;
            put(
                at(&format!("actionRuns[{r}].startTime")),
                Some(*start_time),
                false,
            );
            put(
                at(&format!("actionRuns[{r}].claimedTime")),
                Some(*claimed_time),
                false,
            );
            put(at(&format!("actionRuns[{r}].endTime")), *end_time, false);
            put(at(&format!("actionRuns[{r}].retryTime")), *retry_time, true);
        }
        put(at("nextLaunchTime"), *next_launch_time, true);
        put(at("launchTime"), *launch_time, false);
        put(at("attemptTime"), *attempt_time, false);
        put(at("endTime"), *end_time, false);
        for (j, job) in jobs.iter().enumerate() {
            let WaveJob {
                job_id: _,
                attempt: _,
                part: _,
                recorded_time,
                // DRS's clock, not ours: a skew between them is no fault of the record.
                created_time: _,
                ended_time: _,
            } = job;
            put(
                at(&format!("jobs[{j}].recordedTime")),
                Some(*recorded_time),
                false,
            );
        }
        if let Some(LaunchClaim {
            part: _,
            size: _,
            claimed_time,
            first_claimed_time,
            held: _,
            uncertain: _,
        }) = claim
        {
            put(at("claim.claimedTime"), Some(*claimed_time), false);
            put(at("claim.firstClaimedTime"), *first_claimed_time, false);
        }
        for (s, server) in server_statuses.iter().enumerate() {
            let ServerStatus {
                source_server_id: _,
                server_name: _,
                impact: _,
                launch_status: _,
                job_id: _,
                status_message: _,
                recovery_instance_id: _,
                instance_id: _,
                private_ip: _,
                hostname: _,
                instance_type: _,
                instance_state: _,
                launch_time,
                drs_reason: _,
                cleanup,
            } = server;
            put(
                at(&format!("serverStatuses[{s}].launchTime")),
                *launch_time,
                false,
            );
            if let Some(ServerCleanup {
                state: _,
                recovery_instance_id: _,
                job_id: _,
                requested_time,
                terminated_time,
            }) = cleanup
            {
                put(
                    at(&format!("serverStatuses[{s}].cleanup.requestedTime")),
                    Some(*requested_time),
                    false,
                );
                put(
                    at(&format!("serverStatuses[{s}].cleanup.terminatedTime")),
                    *terminated_time,
                    false,
                );
            }
        }
    }
    out
}

/// Every rule `execution` breaks; empty when it is a record the engine could have written.
pub fn check(execution: &Execution) -> Vec<Violation> {
    let mut found = Vec::new();
    shape(execution, &mut found);
    time_rules(execution, &mut found);
    header_rules(execution, &mut found);
    for wave in &execution.waves {
        wave_rules(wave, &mut found);
    }
    found
}

/// At least one wave, numbered in order; no server twice.
fn shape(execution: &Execution, found: &mut Vec<Violation>) {
    if execution.waves.is_empty() {
        found.push(Violation::NoWaves);
    }
    for (index, wave) in execution.waves.iter().enumerate() {
        if usize::try_from(wave.wave_number).ok() != Some(index) {
            found.push(Violation::WaveOutOfOrder {
                index,
                wave_number: wave.wave_number,
            });
        }
    }
    let mut seen: HashMap<&SourceServerId, u32> = HashMap::new();
    for wave in &execution.waves {
        for server in &wave.server_statuses {
            if let Some(first) = seen.insert(&server.source_server_id, wave.wave_number) {
                found.push(Violation::ServerInTwoWaves {
                    server: server.source_server_id.clone(),
                    first,
                    again: wave.wave_number,
                });
            }
        }
    }
}

/// Every time in range; created ≤ started ≤ ended; created ≤ each wave's launch ≤ its attempt ≤
/// its end ≤ the execution's end; jobs recorded after the wave's launch; polls after the
/// creation. (Not started ≤ a wave's launch: a claim of version 1 launched a wave and left the
/// execution PENDING without a start, which the job's record writes later.)
fn time_rules(execution: &Execution, found: &mut Vec<Violation>) {
    for t in times(execution) {
        if !in_range(t.at) {
            found.push(Violation::TimeOutOfRange {
                field: t.field,
                value: t.at.0,
            });
        }
    }
    let h = &execution.header;
    let created = ("createdTime".to_owned(), Some(h.created_time));
    let started = ("startTime".to_owned(), h.start_time);
    let ended = ("endTime".to_owned(), h.end_time);
    let mut pairs = vec![
        (created.clone(), started.clone()),
        (created.clone(), ended.clone()),
        (
            created.clone(),
            ("lastPolledTime".to_owned(), h.last_polled_time),
        ),
        (
            created.clone(),
            ("workflowPolledTime".to_owned(), h.workflow_polled_time),
        ),
        (started.clone(), ended.clone()),
    ];
    for (w, wave) in execution.waves.iter().enumerate() {
        let launch = (format!("waves[{w}].launchTime"), wave.launch_time);
        let attempt = (format!("waves[{w}].attemptTime"), wave.attempt_time);
        let end = (format!("waves[{w}].endTime"), wave.end_time);
        pairs.push((created.clone(), launch.clone()));
        pairs.push((created.clone(), end.clone()));
        pairs.push((launch.clone(), attempt.clone()));
        pairs.push((launch.clone(), end.clone()));
        pairs.push((attempt, end.clone()));
        pairs.push((end, ended.clone()));
        for (j, job) in wave.jobs.iter().enumerate() {
            let recorded = (
                format!("waves[{w}].jobs[{j}].recordedTime"),
                Some(job.recorded_time),
            );
            pairs.push((launch.clone(), recorded));
        }
    }
    for ((earlier, e), (later, l)) in pairs {
        if let (Some(e), Some(l)) = (e, l) {
            if l < e {
                found.push(Violation::TimesOutOfOrder {
                    earlier,
                    earlier_at: e.0,
                    later,
                    later_at: l.0,
                });
            }
        }
    }
}

/// What the waves say a finished execution ended as (what finalize writes): every wave passed →
/// COMPLETED, or COMPLETED_WITH_ERRORS when one was skipped or an optional server did not
/// launch; else a FAILED wave → FAILED; else (a cancel) CANCELLED.
fn outcome_of_waves(waves: &[Wave]) -> ExecutionStatus {
    let actions_left = waves.iter().any(|w| {
        w.status == WaveStatus::Completed && w.next_action_of(ActionWhen::AfterComplete).is_some()
    });
    if !waves.is_empty() && waves.iter().all(|w| w.status.is_passed()) && actions_left {
        // Cancelled before the AFTER_COMPLETE actions ran.
        ExecutionStatus::Cancelled
    } else if !waves.is_empty() && waves.iter().all(|w| w.status.is_passed()) {
        if waves
            .iter()
            .any(|w| w.status == WaveStatus::Skipped || w.optional_not_launched > 0)
        {
            ExecutionStatus::CompletedWithErrors
        } else {
            ExecutionStatus::Completed
        }
    } else if waves.iter().any(|w| w.status == WaveStatus::Failed) {
        ExecutionStatus::Failed
    } else {
        ExecutionStatus::Cancelled
    }
}

fn header_rules(execution: &Execution, found: &mut Vec<Violation>) {
    let h = &execution.header;
    let status = h.status;
    let waves = &execution.waves;

    if h.workflow_run.is_some() != h.workflow_polled_time.is_some() {
        found.push(Violation::HalfAWorkflowMark);
    }
    if h.restarts.windows(2).any(|pair| pair[0] > pair[1]) {
        found.push(Violation::RestartsOutOfOrder);
    }

    if status.is_terminal() {
        if h.end_time.is_none() {
            found.push(Violation::FinishedWithoutEndTime { status });
        }
        for w in waves {
            if !w.status.is_settled() {
                found.push(Violation::UnsettledWaveAfterEnd {
                    status,
                    wave: w.wave_number,
                    wave_status: w.status,
                });
            }
        }
        for w in waves {
            if let Some(run) = w.running_action() {
                found.push(Violation::ActionRunningAfterEnd {
                    status,
                    wave: w.wave_number,
                    action: run.name.clone(),
                });
            }
        }
        let waves_say = outcome_of_waves(waves);
        if !waves.is_empty() && waves_say != status {
            found.push(Violation::OutcomeDisagrees { status, waves_say });
        }
    } else if h.end_time.is_some() {
        found.push(Violation::EndTimeWhileRunning { status });
    }
    if h.recovery_time_seconds.is_some()
        && !matches!(
            status,
            ExecutionStatus::Completed | ExecutionStatus::CompletedWithErrors
        )
    {
        found.push(Violation::RecoveryTimeWithoutCompletion { status });
    }
    if status == ExecutionStatus::Pending {
        for w in waves {
            // A claim of version 1 left its execution PENDING with the wave LAUNCHING.
            if !matches!(w.status, WaveStatus::Pending | WaveStatus::Launching) {
                found.push(Violation::PendingExecutionWaveRan {
                    wave: w.wave_number,
                    wave_status: w.status,
                });
            }
        }
    }
    if !status.is_terminal() && status != ExecutionStatus::Cancelling {
        for w in waves.iter().filter(|w| w.status == WaveStatus::Cancelled) {
            found.push(Violation::CancelledWaveWhileRunning {
                status,
                wave: w.wave_number,
            });
        }
    }
    // Waves run in order, one at a time: a wave launch took on comes after passed waves only.
    for (i, w) in waves.iter().enumerate() {
        if matches!(w.status, WaveStatus::Pending | WaveStatus::Cancelled) {
            continue;
        }
        if let Some(earlier) = waves[..i].iter().find(|e| !e.status.is_passed()) {
            found.push(Violation::RanOutOfTurn {
                wave: w.wave_number,
                status: w.status,
                earlier: earlier.wave_number,
                earlier_status: earlier.status,
            });
        }
    }

    // The pause: its fields exist only while PAUSED, and point at waves as they stand.
    if status != ExecutionStatus::Paused {
        let fields = [
            ("pausedBeforeWave", h.paused_before_wave.is_some()),
            ("pauseReason", h.pause_reason.is_some()),
            ("failedWave", h.failed_wave.is_some()),
        ];
        for (field, set) in fields {
            if set {
                found.push(Violation::PauseFieldWhileNotPaused { field, status });
            }
        }
    }
    if let Some(n) = h.paused_before_wave {
        match execution.wave(n) {
            None => found.push(Violation::NoSuchWave {
                field: "pausedBeforeWave",
                wave: n,
            }),
            // A BEFORE_LAUNCH action that ran may fail the wave an operator paused before; the
            // failed wave's decision takes the pause over at the workflow's next park.
            Some(w) if w.status != WaveStatus::Pending && !failed_before_launch(w) => {
                found.push(Violation::PausedBeforeLaunchedWave {
                    wave: n,
                    status: w.status,
                });
            }
            Some(_) => {}
        }
    }
    if let Some(n) = h.failed_wave {
        match execution.wave(n) {
            None => found.push(Violation::NoSuchWave {
                field: "failedWave",
                wave: n,
            }),
            Some(w) if w.status != WaveStatus::Failed => {
                found.push(Violation::FailedWaveNotFailed {
                    wave: n,
                    status: w.status,
                });
            }
            Some(_) => {}
        }
    }
    match (h.pause_reason, h.failed_wave) {
        (Some(PauseReason::WaveFailed), None) => found.push(Violation::WaveFailedPauseWithoutWave),
        (Some(PauseReason::Planned | PauseReason::Operator) | None, Some(_)) => {
            found.push(Violation::FailedWaveWithoutWaveFailedPause);
        }
        _ => {}
    }
    if h.task_token.as_ref().is_some_and(|t| !t.release_pending)
        && status != ExecutionStatus::Paused
    {
        found.push(Violation::TokenHeldWhileNotPaused { status });
    }
}

fn wave_rules(wave: &Wave, found: &mut Vec<Violation>) {
    let n = wave.wave_number;
    let status = wave.status;
    if status == WaveStatus::Pending {
        let fields = [
            ("an attempt", wave.attempt != 0),
            ("jobs", !wave.jobs.is_empty()),
            ("a launch claim", wave.claim.is_some()),
            ("StartRecovery calls", wave.launch_attempts != 0),
            ("a launchTime", wave.launch_time.is_some()),
            ("an attemptTime", wave.attempt_time.is_some()),
            ("an endTime", wave.end_time.is_some()),
        ];
        for (field, set) in fields {
            if set {
                found.push(Violation::PendingWaveHas { wave: n, field });
            }
        }
        for s in &wave.server_statuses {
            if s.launch_status != LaunchStatus::Pending || s.job_id.is_some() {
                found.push(Violation::PendingWaveServerStarted {
                    wave: n,
                    server: s.source_server_id.clone(),
                    launch_status: s.launch_status.clone(),
                    has_job: s.job_id.is_some(),
                });
            }
        }
    } else if status != WaveStatus::Cancelled && wave.attempt == 0 && !failed_before_launch(wave) {
        found.push(Violation::LaunchedWaveWithoutAttempt { wave: n, status });
    }
    action_rules(wave, found);
    if status == WaveStatus::Launching && wave.servers_without_job().next().is_none() {
        found.push(Violation::LaunchingWithEveryJob { wave: n });
    }
    if status == WaveStatus::Started {
        if wave.current_jobs().next().is_none() {
            found.push(Violation::StartedWithout {
                wave: n,
                what: "a job of its current attempt",
            });
        }
        if wave.launch_time.is_none() {
            found.push(Violation::StartedWithout {
                wave: n,
                what: "a launchTime",
            });
        }
    }
    for s in &wave.server_statuses {
        if s.instance_id.is_none() && (s.private_ip.is_some() || s.recovery_instance_id.is_some()) {
            found.push(Violation::Ec2DetailsWithoutInstance {
                wave: n,
                server: s.source_server_id.clone(),
            });
        }
    }

    let mut ids: HashSet<&JobId> = HashSet::new();
    let mut parts: HashSet<(u32, u32)> = HashSet::new();
    for job in &wave.jobs {
        if job.attempt == 0 || job.attempt > wave.attempt {
            found.push(Violation::JobOfUnknownAttempt {
                wave: n,
                job: job.job_id.clone(),
                attempt: job.attempt,
                current: wave.attempt,
            });
        }
        if !ids.insert(&job.job_id) {
            found.push(Violation::JobTwice {
                wave: n,
                job: job.job_id.clone(),
            });
        }
        if !parts.insert((job.attempt, job.part)) {
            found.push(Violation::PartTwice {
                wave: n,
                attempt: job.attempt,
                part: job.part,
            });
        }
    }
    for s in &wave.server_statuses {
        if let Some(job) = s.job_id.as_ref().filter(|j| !ids.contains(j)) {
            found.push(Violation::ServerJobNotInWave {
                wave: n,
                server: s.source_server_id.clone(),
                job: job.clone(),
            });
        }
    }

    if wave.claim.is_some() && status != WaveStatus::Launching {
        found.push(Violation::ClaimOnWave { wave: n, status });
    }
    if status.is_in_flight() && wave.end_time.is_some() {
        found.push(Violation::InFlightWithEndTime { wave: n, status });
    }
    if wave.failure_reason.is_some() && !matches!(status, WaveStatus::Failed | WaveStatus::Skipped)
    {
        found.push(Violation::FailureReasonOnWave { wave: n, status });
    }
    // A version-1 wave (no failure policy) was judged on the servers its job listed: one the job
    // left out stayed as it was in a COMPLETED wave.
    if status == WaveStatus::Completed && wave.on_failure.is_some() {
        let mut optional_not_launched: u32 = 0;
        for s in &wave.server_statuses {
            if s.launch_status == LaunchStatus::Launched {
                continue;
            }
            match s.impact {
                Impact::Critical => found.push(Violation::CompletedWithoutCriticalServer {
                    wave: n,
                    server: s.source_server_id.clone(),
                    launch_status: s.launch_status.clone(),
                }),
                Impact::Optional => optional_not_launched = optional_not_launched.saturating_add(1),
            }
        }
        if optional_not_launched != wave.optional_not_launched {
            found.push(Violation::OptionalCountDisagrees {
                wave: n,
                recorded: wave.optional_not_launched,
                actual: optional_not_launched,
            });
        }
    }
}

/// A wave a BEFORE_LAUNCH action failed before it was ever launched (then FAILED, or SKIPPED).
fn failed_before_launch(wave: &Wave) -> bool {
    matches!(wave.status, WaveStatus::Failed | WaveStatus::Skipped)
        && wave.jobs.is_empty()
        && wave
            .action_runs
            .iter()
            .any(|r| r.when == ActionWhen::BeforeLaunch && r.status.is_failure())
}

/// Runs name the wave's actions and run when those do, numbered 1, 2, ... per action; a RUNNING run
/// is the only one of its wave and stands on a wave where actions run; a wave failed by an action
/// has the failed run.
fn action_rules(wave: &Wave, found: &mut Vec<Violation>) {
    let n = wave.wave_number;
    let mut runs_of: HashMap<&str, u32> = HashMap::new();
    for run in &wave.action_runs {
        match wave.actions.iter().find(|a| a.name == run.name) {
            None => found.push(Violation::RunOfUnknownAction {
                wave: n,
                action: run.name.clone(),
            }),
            Some(a) if a.when != run.when => found.push(Violation::RunOfUnknownAction {
                wave: n,
                action: run.name.clone(),
            }),
            Some(_) => {}
        }
        let last = runs_of.entry(run.name.as_str()).or_insert(0);
        if run.attempt != *last + 1 {
            found.push(Violation::RunAttemptsOutOfOrder {
                wave: n,
                action: run.name.clone(),
                attempt: run.attempt,
            });
        }
        *last = run.attempt;
        if run.status == ActionStatus::Running {
            if run.when.wave_status() != wave.status {
                found.push(Violation::RunningActionOnWave {
                    wave: n,
                    action: run.name.clone(),
                    status: wave.status,
                });
            }
        } else if run.end_time.is_none() {
            found.push(Violation::EndedRunWithoutEndTime {
                wave: n,
                action: run.name.clone(),
            });
        }
    }
    if wave
        .action_runs
        .iter()
        .filter(|r| r.status == ActionStatus::Running)
        .count()
        > 1
    {
        found.push(Violation::TwoActionsRunning { wave: n });
    }
    if wave.status == WaveStatus::Failed
        && wave.failure_reason == Some(WaveFailure::ActionFailed)
        && wave.failed_action().is_none()
    {
        found.push(Violation::ActionFailureWithoutRun { wave: n });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::model::{FailurePolicy, HeldToken, WaveFailure};

    /// A fresh PENDING execution of three waves (1, 2 and 1 servers), created at t = 1000.
    fn fresh() -> Execution {
        fixtures::execution(&[1, 2, 1])
    }

    /// `fresh()` run to the end as the operations would have left it: every wave launched at
    /// 1100 + 100·n, completed 50 s later, finalized at 2000.
    fn completed() -> Execution {
        let mut e = fresh();
        e.header.status = ExecutionStatus::Completed;
        e.header.start_time = Some(Timestamp(1100));
        e.header.end_time = Some(Timestamp(2000));
        e.header.recovery_time_seconds = Some(900);
        for (n, wave) in e.waves.iter_mut().enumerate() {
            let at = Timestamp(1100 + 100 * n as i64);
            fixtures::give_job(wave, fixtures::job(n), at);
            wave.status = WaveStatus::Completed;
            wave.end_time = Some(Timestamp(at.0 + 50));
            for s in &mut wave.server_statuses {
                s.launch_status = LaunchStatus::Launched;
            }
        }
        e
    }

    fn has(e: &Execution, pred: impl Fn(&Violation) -> bool) -> bool {
        let found = check(e);
        assert!(!found.is_empty(), "no violation found in {e:#?}");
        found.iter().any(pred)
    }

    #[test]
    fn records_the_operations_write_pass() {
        assert_eq!(check(&fresh()), []);
        assert_eq!(check(&completed()), []);

        // Running, paused before wave 2 with the workflow's token.
        let mut paused = completed();
        paused.header.status = ExecutionStatus::Paused;
        paused.header.end_time = None;
        paused.header.recovery_time_seconds = None;
        paused.header.pause_reason = Some(PauseReason::Planned);
        paused.header.paused_before_wave = Some(2);
        paused.header.task_token = Some(HeldToken {
            token: crate::ids::TaskToken::parse("token").unwrap(),
            release_pending: false,
        });
        paused.waves[2] = fresh().waves[2].clone();
        assert_eq!(check(&paused), []);

        // Waiting on a decision about a failed wave 1; wave 2 never launched.
        let mut failed = paused.clone();
        failed.header.pause_reason = Some(PauseReason::WaveFailed);
        failed.header.paused_before_wave = None;
        failed.header.failed_wave = Some(1);
        failed.waves[1].status = WaveStatus::Failed;
        failed.waves[1].failure_reason = Some(WaveFailure::ServersFailed);
        failed.waves[1].server_statuses[1].launch_status = LaunchStatus::Failed;
        failed.waves[1].on_failure = Some(FailurePolicy::Pause);
        assert_eq!(check(&failed), []);

        // Cancelled and finalized: the failure stands, the wave that never ran is CANCELLED.
        let mut ended = failed.clone();
        ended.header.status = ExecutionStatus::Failed;
        ended.header.end_time = Some(Timestamp(2000));
        ended.header.pause_reason = None;
        ended.header.failed_wave = None;
        ended.header.task_token = None;
        ended.waves[2].status = WaveStatus::Cancelled;
        ended.waves[2].end_time = Some(Timestamp(2000));
        assert_eq!(check(&ended), []);
    }

    /// A record of version 1 (waves with one `jobId`, no `attempt`, no `impact`), as the model
    /// reads it.
    #[test]
    fn records_of_version_1_pass() {
        let v1 = serde_json::json!({
            "executionId": fixtures::EXECUTION_ID, "planId": fixtures::PLAN_ID, "isDrill": true,
            "status": "POLLING", "createdTime": 1000, "startTime": 1100, "version": 2,
            "waves": [
                {"waveNumber": 0, "status": "COMPLETED", "timeoutSeconds": 3600,
                 "jobId": "drsjob-00000000000000001", "launchTime": 1100, "endTime": 1200,
                 "serverStatuses": [{"sourceServerId": "s-00000000000000000", "launchStatus": "LAUNCHED"}]},
                {"waveNumber": 1, "status": "LAUNCHING", "timeoutSeconds": 3600, "launchTime": 1300,
                 "serverStatuses": [{"sourceServerId": "s-00000000000000001", "launchStatus": "PENDING"}]},
                {"waveNumber": 2, "status": "PENDING", "timeoutSeconds": 3600, "pauseBeforeWave": true,
                 "serverStatuses": [{"sourceServerId": "s-00000000000000002", "launchStatus": "PENDING"}]}
            ]
        });
        let e: Execution = serde_json::from_value(v1).unwrap();
        assert_eq!(check(&e), []);
    }

    #[test]
    fn the_shape_of_the_waves() {
        let mut e = fresh();
        e.waves.clear();
        assert_eq!(check(&e), [Violation::NoWaves]);

        let mut e = fresh();
        e.waves.swap(0, 1);
        assert!(has(&e, |v| matches!(
            v,
            Violation::WaveOutOfOrder {
                index: 0,
                wave_number: 1
            }
        )));

        let mut e = fresh();
        let twice = e.waves[0].server_statuses[0].clone();
        e.waves[2].server_statuses.push(twice);
        assert!(has(&e, |v| matches!(
            v,
            Violation::ServerInTwoWaves {
                first: 0,
                again: 2,
                ..
            }
        )));
    }

    #[test]
    fn times_are_in_range_and_in_order() {
        let mut e = completed();
        e.waves[1].server_statuses[0].launch_time = Some(Timestamp(-1));
        assert!(has(&e, |v| matches!(
            v,
            Violation::TimeOutOfRange { field, value: -1 } if field == "waves[1].serverStatuses[0].launchTime"
        )));
        let mut e = fresh();
        e.header.created_time = Timestamp(LATEST.0 + 1);
        assert!(has(
            &e,
            |v| matches!(v, Violation::TimeOutOfRange { field, .. } if field == "createdTime")
        ));

        let mut e = completed();
        e.header.end_time = Some(Timestamp(1200)); // before wave 2 ended
        assert!(has(&e, |v| matches!(
            v,
            Violation::TimesOutOfOrder { earlier, later, .. } if earlier == "waves[2].endTime" && later == "endTime"
        )));
        let mut e = completed();
        e.waves[0].launch_time = Some(Timestamp(900)); // before the execution was created
        assert!(has(&e, |v| matches!(
            v,
            Violation::TimesOutOfOrder { earlier, later, .. } if earlier == "createdTime" && later == "waves[0].launchTime"
        )));
        let mut e = completed();
        e.waves[1].end_time = Some(Timestamp(1150)); // before its own launch
        assert!(has(&e, |v| matches!(
            v,
            Violation::TimesOutOfOrder { earlier, later, .. } if earlier == "waves[1].launchTime" && later == "waves[1].endTime"
        )));
    }

    #[test]
    fn every_time_of_the_record_is_listed() {
        let mut e = completed();
        e.header.restarts = vec![Timestamp(1500)];
        e.waves[0].next_launch_time = Some(Timestamp(9000));
        let fields: Vec<(String, bool)> = times(&e)
            .into_iter()
            .map(|t| (t.field, t.scheduled))
            .collect();
        assert!(fields.contains(&("restarts[0]".into(), false)));
        assert!(fields.contains(&("waves[0].nextLaunchTime".into(), true)));
        assert!(fields.contains(&("waves[2].jobs[0].recordedTime".into(), false)));
        assert_eq!(fields.iter().filter(|(_, s)| *s).count(), 1);
    }

    #[test]
    fn a_finished_execution_agrees_with_its_waves() {
        let mut e = completed();
        e.waves[2] = fresh().waves[2].clone();
        assert!(has(&e, |v| matches!(
            v,
            Violation::UnsettledWaveAfterEnd {
                wave: 2,
                wave_status: WaveStatus::Pending,
                ..
            }
        )));
        let mut e = completed();
        e.header.end_time = None;
        assert!(has(&e, |v| matches!(
            v,
            Violation::FinishedWithoutEndTime { .. }
        )));
        let mut e = completed();
        e.header.status = ExecutionStatus::Cancelled;
        e.header.recovery_time_seconds = None;
        assert_eq!(
            check(&e),
            [Violation::OutcomeDisagrees {
                status: ExecutionStatus::Cancelled,
                waves_say: ExecutionStatus::Completed
            }]
        );
        let mut e = completed();
        e.waves[1].status = WaveStatus::Skipped;
        assert!(has(&e, |v| matches!(
            v,
            Violation::OutcomeDisagrees {
                waves_say: ExecutionStatus::CompletedWithErrors,
                ..
            }
        )));
        let mut half = completed();
        half.header.workflow_run = Some("arn:aws:states:us-east-1:1:execution:m:r".into());
        assert!(has(&half, |v| matches!(v, Violation::HalfAWorkflowMark)));
        let mut restarts = completed();
        restarts.header.restarts = vec![Timestamp(1500), Timestamp(1400)];
        assert!(has(&restarts, |v| matches!(
            v,
            Violation::RestartsOutOfOrder
        )));
        // Version 1 judged a wave on the servers its job listed: one left out stays PENDING.
        let mut v1 = completed();
        v1.waves[1].on_failure = None;
        v1.waves[1].server_statuses[1].launch_status = LaunchStatus::Pending;
        assert_eq!(check(&v1), vec![], "a version-1 record the engine wrote");
        let mut e = completed();
        e.header.status = ExecutionStatus::Polling;
        e.header.recovery_time_seconds = None;
        assert_eq!(
            check(&e),
            [Violation::EndTimeWhileRunning {
                status: ExecutionStatus::Polling
            }]
        );
    }

    #[test]
    fn waves_run_in_order_one_at_a_time() {
        let mut e = completed();
        e.header.status = ExecutionStatus::Polling;
        e.header.end_time = None;
        e.header.recovery_time_seconds = None;
        e.waves[0].status = WaveStatus::Started;
        e.waves[0].end_time = None;
        e.waves[1].status = WaveStatus::Started;
        e.waves[1].end_time = None;
        e.waves[2] = fresh().waves[2].clone();
        assert_eq!(
            check(&e),
            [Violation::RanOutOfTurn {
                wave: 1,
                status: WaveStatus::Started,
                earlier: 0,
                earlier_status: WaveStatus::Started
            }]
        );

        let mut e = fresh();
        e.waves[0].status = WaveStatus::Completed;
        assert!(has(&e, |v| matches!(
            v,
            Violation::PendingExecutionWaveRan { wave: 0, .. }
        )));
        let mut e = fresh();
        e.header.status = ExecutionStatus::Polling;
        e.waves[2].status = WaveStatus::Cancelled;
        assert!(has(&e, |v| matches!(
            v,
            Violation::CancelledWaveWhileRunning { wave: 2, .. }
        )));
    }

    #[test]
    fn the_pause_fields_point_at_waves_as_they_stand() {
        let mut e = fresh();
        e.header.paused_before_wave = Some(1);
        assert!(has(&e, |v| matches!(
            v,
            Violation::PauseFieldWhileNotPaused {
                field: "pausedBeforeWave",
                status: ExecutionStatus::Pending
            }
        )));
        let mut e = fresh();
        e.header.status = ExecutionStatus::Paused;
        e.header.pause_reason = Some(PauseReason::Operator);
        e.header.paused_before_wave = Some(7);
        assert_eq!(
            check(&e),
            [Violation::NoSuchWave {
                field: "pausedBeforeWave",
                wave: 7
            }]
        );
        let mut e = completed();
        e.header.status = ExecutionStatus::Paused;
        e.header.end_time = None;
        e.header.recovery_time_seconds = None;
        e.header.pause_reason = Some(PauseReason::WaveFailed);
        e.header.failed_wave = Some(1);
        assert!(has(&e, |v| matches!(
            v,
            Violation::FailedWaveNotFailed {
                wave: 1,
                status: WaveStatus::Completed
            }
        )));
        e.header.failed_wave = None;
        assert!(has(&e, |v| matches!(
            v,
            Violation::WaveFailedPauseWithoutWave
        )));
        let mut e = fresh();
        e.header.status = ExecutionStatus::Polling;
        e.header.task_token = Some(HeldToken {
            token: crate::ids::TaskToken::parse("token").unwrap(),
            release_pending: false,
        });
        assert!(has(&e, |v| matches!(
            v,
            Violation::TokenHeldWhileNotPaused { .. }
        )));
        // Being released, it is no violation.
        if let Some(t) = e.header.task_token.as_mut() {
            t.release_pending = true;
        }
        assert_eq!(check(&e), []);
    }

    #[test]
    fn a_wave_agrees_with_its_jobs_and_servers() {
        let mut e = fresh();
        e.waves[1].attempt = 1;
        e.waves[1].server_statuses[0].launch_status = LaunchStatus::Launched;
        assert!(has(&e, |v| matches!(
            v,
            Violation::PendingWaveHas {
                wave: 1,
                field: "an attempt"
            }
        )));
        assert!(has(&e, |v| matches!(
            v,
            Violation::PendingWaveServerStarted { wave: 1, .. }
        )));

        let mut e = completed();
        e.waves[0].attempt = 0;
        assert!(has(&e, |v| matches!(
            v,
            Violation::LaunchedWaveWithoutAttempt { wave: 0, .. }
        )));
        let mut e = completed();
        let job = e.waves[0].jobs[0].clone();
        e.waves[0].jobs.push(job);
        assert!(has(&e, |v| matches!(
            v,
            Violation::JobTwice { wave: 0, .. }
        )));
        assert!(has(&e, |v| matches!(
            v,
            Violation::PartTwice {
                wave: 0,
                attempt: 1,
                part: 0
            }
        )));
        let mut e = completed();
        e.waves[1].server_statuses[0].job_id = Some(fixtures::job(99));
        assert!(has(&e, |v| matches!(
            v,
            Violation::ServerJobNotInWave { wave: 1, .. }
        )));
        let mut e = completed();
        e.waves[1].jobs[0].attempt = 2;
        assert!(has(&e, |v| matches!(
            v,
            Violation::JobOfUnknownAttempt {
                wave: 1,
                attempt: 2,
                current: 1,
                ..
            }
        )));
        let mut e = completed();
        e.waves[1].failure_reason = Some(WaveFailure::TimedOut);
        assert!(has(&e, |v| matches!(
            v,
            Violation::FailureReasonOnWave { wave: 1, .. }
        )));
        let mut e = completed();
        e.waves[1].server_statuses[1].launch_status = LaunchStatus::Failed;
        assert!(has(&e, |v| matches!(
            v,
            Violation::CompletedWithoutCriticalServer { wave: 1, .. }
        )));
        e.waves[1].server_statuses[1].impact = Impact::Optional;
        assert!(has(&e, |v| matches!(
            v,
            Violation::OptionalCountDisagrees {
                wave: 1,
                recorded: 0,
                actual: 1
            }
        )));
        let mut e = completed();
        e.header.status = ExecutionStatus::Polling;
        e.header.end_time = None;
        e.header.recovery_time_seconds = None;
        e.waves[2].status = WaveStatus::Started;
        assert!(has(&e, |v| matches!(
            v,
            Violation::InFlightWithEndTime { wave: 2, .. }
        )));
        e.waves[2].claim = Some(LaunchClaim {
            part: 1,
            size: 1,
            claimed_time: Timestamp(1300),
            first_claimed_time: None,
            held: true,
            uncertain: false,
        });
        assert!(has(&e, |v| matches!(
            v,
            Violation::ClaimOnWave {
                wave: 2,
                status: WaveStatus::Started
            }
        )));
    }

    fn with_run(e: &mut Execution, wave: usize, when: ActionWhen, status: ActionStatus) {
        let name = format!("step-{}", e.waves[wave].actions.len());
        e.waves[wave].actions.push(crate::actions::WaveAction {
            name: name.clone(),
            when,
            kind: crate::actions::ActionKind::Lambda,
            target: "fn".into(),
            parameters: None,
            timeout_seconds: 60,
            on_failure: crate::actions::ActionOnFailure::Fail,
        });
        e.waves[wave].action_runs.push(ActionRun {
            name,
            when,
            attempt: 1,
            status,
            start_time: Timestamp(1050),
            claimed_time: Timestamp(1050),
            end_time: (status != ActionStatus::Running).then_some(Timestamp(1060)),
            automation_execution_id: None,
            retry_time: None,
            sent_parameters: None,
            refusals: 0,
            summary: None,
            error: None,
        });
    }

    #[test]
    fn action_runs_agree_with_their_actions_and_waves() {
        // The operations' records pass: a before-launch run on a PENDING wave of a running
        // execution, after-complete runs on completed waves.
        let mut running = fresh();
        running.header.status = ExecutionStatus::Polling;
        with_run(
            &mut running,
            0,
            ActionWhen::BeforeLaunch,
            ActionStatus::Running,
        );
        assert_eq!(check(&running), []);
        let mut done = completed();
        with_run(
            &mut done,
            1,
            ActionWhen::AfterComplete,
            ActionStatus::Succeeded,
        );
        assert_eq!(check(&done), []);
        // A wave a before-launch action failed was never launched: no attempt is right.
        let mut failed = fresh();
        failed.header.status = ExecutionStatus::Polling;
        with_run(
            &mut failed,
            0,
            ActionWhen::BeforeLaunch,
            ActionStatus::Failed,
        );
        failed.waves[0].status = WaveStatus::Failed;
        failed.waves[0].failure_reason = Some(WaveFailure::ActionFailed);
        failed.waves[0].end_time = Some(Timestamp(1060));
        assert_eq!(check(&failed), []);

        let mut e = done.clone();
        e.waves[1].action_runs[0].status = ActionStatus::Running;
        e.waves[1].action_runs[0].end_time = None;
        assert!(has(&e, |v| matches!(
            v,
            Violation::ActionRunningAfterEnd { wave: 1, .. }
        )));
        let mut e = running.clone();
        e.waves[0].action_runs[0].when = ActionWhen::AfterComplete;
        assert!(has(&e, |v| matches!(
            v,
            Violation::RunOfUnknownAction { wave: 0, .. }
        )));
        assert!(has(&e, |v| matches!(
            v,
            Violation::RunningActionOnWave {
                wave: 0,
                status: WaveStatus::Pending,
                ..
            }
        )));
        let mut e = running.clone();
        e.waves[0].action_runs[0].attempt = 2;
        assert!(has(&e, |v| matches!(
            v,
            Violation::RunAttemptsOutOfOrder { attempt: 2, .. }
        )));
        let mut e = running.clone();
        with_run(&mut e, 0, ActionWhen::BeforeLaunch, ActionStatus::Running);
        assert!(has(&e, |v| matches!(
            v,
            Violation::TwoActionsRunning { wave: 0 }
        )));
        let mut e = done.clone();
        e.waves[1].action_runs[0].end_time = None;
        assert!(has(&e, |v| matches!(
            v,
            Violation::EndedRunWithoutEndTime { wave: 1, .. }
        )));
        let mut e = failed.clone();
        e.waves[0].action_runs[0].status = ActionStatus::Succeeded;
        assert!(has(&e, |v| matches!(
            v,
            Violation::ActionFailureWithoutRun { wave: 0 }
        )));
        assert!(has(&e, |v| matches!(
            v,
            Violation::LaunchedWaveWithoutAttempt { wave: 0, .. }
        )));
        // Every run's times are listed; a retry time is scheduled.
        let mut e = running.clone();
        e.waves[0].action_runs[0].retry_time = Some(Timestamp(9999));
        let fields: Vec<(String, bool)> = times(&e)
            .into_iter()
            .map(|t| (t.field, t.scheduled))
            .collect();
        assert!(fields.contains(&("waves[0].actionRuns[0].startTime".into(), false)));
        assert!(fields.contains(&("waves[0].actionRuns[0].retryTime".into(), true)));
    }

    #[test]
    fn every_violation_says_what_is_wrong() {
        let mut e = fresh();
        e.waves[0].server_statuses[0].launch_status = LaunchStatus::Launched;
        let found = check(&e);
        assert_eq!(
            found.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [format!(
                "wave 0 is PENDING (never launched) but its server {} is LAUNCHED",
                fixtures::server(0)
            )]
        );
    }
}
