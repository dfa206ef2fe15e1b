//! Runs an execution exactly as the state machine does: poll, then by `nextAction` launch, wait,
//! pause (holding a task token until a resume, or for a failed wave an operator's retry, skip or
//! cancel, releases it) or finalize; after finalize, when its answer has `cleanupAfterSeconds` (a
//! drill whose plan asks for it), wait that long and clean up (terminate the drill's recovery
//! instances), again until cleanup says it is complete. Every answer is decided on by `AnswerClass`, as the state
//! machine's Choice states decide: a retry-later answer (5xx, 409 CONFLICT) is retried a bounded
//! number of times in a row, a poll-again answer (400 INVALID_STATE) goes back to polling.
//! Every operation goes through [`execution_core::ops::run`] and is read back from its JSON
//! answer, as the state machine reads the Lambda's. Simulated time moves only here, and while a
//! wave action's Lambda function runs (act waits for it). An operation whose Lambda the
//! simulator crashes ([`crate::Calls::crash_after`]) ends there, as a 502 the driver retries.
//!
//! When the world sends DRS launch results ([`crate::EventConfig`]), the driver plays the stack's
//! EventBridge rule too: while it waits (between polls, on a launch's retry-after, at a pause, a
//! backoff), each result that comes due moves the clock to its time and is handed to advance
//! (`Actor::Event`), once, as the rule invokes the advance function; then the wait goes on to its
//! end, as the state machine's Wait state does. What advance did is in the record, which the next
//! poll reads. A result due while an operation runs is delivered at the next wait.

use std::time::{Duration, Instant};

use execution_core::actions::{ActionKind, ActionRun, ActionStatus, ActionWhen, WaveAction};
use execution_core::api::{
    status_code_of, AdvanceOutcome, AnswerClass, Operation, PauseRequest, PollRequest, Request,
    Target, WaveTarget,
};
use execution_core::audit::Actor;
use execution_core::ids::{ExecutionId, JobId, SourceServerId};
use execution_core::model::{Execution, PauseReason, ServerStatus, Timestamp, Wave};
use execution_core::ops;
use execution_core::ports::Clock;
use execution_core::rules::NextAction;
use execution_core::status::{ExecutionStatus, WaveStatus};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::{LaunchEvent, Sim, TokenState};

/// When a pause ends: a planned or operator pause is resumed, a failed wave's pause decided.
#[derive(Debug)]
pub enum Resume {
    /// After this many simulated seconds.
    After(u64),
    /// When the channel yields (or closes); simulated time runs at the driver's speed meanwhile.
    OnSignal(UnboundedReceiver<()>),
}

/// What the simulated operator decides when a failed wave pauses the execution (policy PAUSE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// retry the wave (a new attempt for its servers that did not launch); once the wave has had
    /// `maxWaveAttempts` attempts, cancel.
    Retry,
    /// skip the wave: the execution goes on and ends COMPLETED_WITH_ERRORS at best.
    Skip,
    /// cancel: the execution finalizes FAILED.
    #[default]
    Stop,
}

/// How the driver plays the state machine and the operator. The DRS launch results it delivers are
/// the world's: on when the simulator was built with [`crate::SimConfig::events`] on, which is
/// then the one switch (a driver never leaves a due event undelivered).
#[derive(Debug)]
pub struct DriverConfig {
    /// The state machine's Wait between polls, in simulated seconds.
    pub poll_interval_secs: u64,
    /// Simulated seconds per wall-clock second; `None` runs as fast as it can.
    pub speed: Option<f64>,
    pub resume: Resume,
    /// The decision on a failed wave that waits for one (taken when `resume` says).
    pub on_failure: OnFailure,
    /// Retry-later answers (5xx, 409 CONFLICT) of one call in a row tolerated before giving up;
    /// the backoffs between them pass on the simulated clock.
    pub max_transient_failures: u32,
    /// Simulated seconds before the first retry, doubled for each next one (up to a minute).
    pub retry_backoff_secs: u64,
    /// cleanup calls (the poll interval apart) until it is complete: past them the drive ends
    /// as the state machine's run does (after 21: one and 20 confirming rounds), with cleanup's
    /// last answer not complete in [`Outcome::cleanup`] (what DRS was asked is recorded).
    pub max_cleanup_rounds: u32,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            poll_interval_secs: 30,
            speed: None,
            resume: Resume::After(120),
            on_failure: OnFailure::default(),
            max_transient_failures: 6,
            retry_backoff_secs: 2,
            max_cleanup_rounds: 21,
        }
    }
}

/// An operation's error answer, `{statusCode, error, message}`, as the driver read it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, thiserror::Error)]
#[serde(rename_all = "camelCase")]
#[error("{status_code} {error}: {message}")]
pub struct ErrorAnswer {
    pub status_code: u16,
    pub error: String,
    pub message: String,
}

impl ErrorAnswer {
    fn of(answer: &Value) -> Self {
        serde_json::from_value(answer.clone()).unwrap_or_else(|_| Self {
            status_code: status_code_of(answer),
            error: "UNREADABLE_ANSWER".to_owned(),
            message: answer.to_string(),
        })
    }
}

/// What the driver saw happen, for a display.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The execution as the driver first read it.
    Started {
        execution: Execution,
    },
    /// launch recorded DRS jobs for the wave (started, or found by their tags).
    WaveLaunched {
        wave_number: u32,
        /// LAUNCHING while parts of the wave are still to start, else STARTED.
        wave_status: WaveStatus,
        job_ids: Vec<JobId>,
        recovered: bool,
    },
    /// DRS refused StartRecovery for now (or its answer was lost): launch is due again after
    /// `retry_after_secs`, which the driver waits.
    LaunchDeferred {
        wave_number: u32,
        retry_after_secs: u64,
        error: Option<String>,
    },
    /// A wave's status changed (the wave as the record now has it).
    WaveChanged {
        wave: Wave,
        previous: WaveStatus,
    },
    /// Anything DRS or EC2 told about a server changed.
    ServerChanged {
        wave_number: u32,
        server: Box<ServerStatus>,
        previous: Box<ServerStatus>,
    },
    Polled {
        next_action: NextAction,
    },
    /// act ran a wave action (invoked a function, started or re-sent a runbook), or recorded its
    /// refusal for now.
    Acted(ActAnswer),
    /// A run of a wave action appeared or changed in the record: taken, started, refused for now,
    /// ended (by act, or by a poll that followed it).
    ActionChanged {
        wave_number: u32,
        /// The action as the plan has it.
        action: Box<WaveAction>,
        run: Box<ActionRun>,
        /// The run as the driver last saw it; `None` for a run it had not seen.
        previous: Option<Box<ActionRun>>,
    },
    Warning {
        message: String,
    },
    Paused {
        reason: PauseReason,
        before_wave: Option<u32>,
        /// The failed wave a `WAVE_FAILED` pause waits on.
        failed_wave: Option<u32>,
    },
    Resumed {
        before_wave: Option<u32>,
        paused_secs: u64,
    },
    /// The operator's decision on a failed wave: retry, skip or cancel.
    Decided {
        wave_number: u32,
        decision: Operation,
        /// The wave's attempt after the decision.
        attempt: Option<u32>,
        paused_secs: u64,
    },
    Retrying {
        operation: Operation,
        failures: u32,
        error: ErrorAnswer,
        backoff_secs: u64,
    },
    Finalized {
        status: ExecutionStatus,
        recovery_time_seconds: Option<u64>,
    },
    /// cleanup answered (after the plan's `cleanupAfterSeconds`, then until it is complete).
    CleanedUp(Cleanup),
    /// A DRS launch result ("DRS Source Server Launch Result") arrived while the driver waited,
    /// and advance handled it. One per event delivered; a lost event is seen by no one.
    LaunchResult {
        job_id: JobId,
        /// The server whose launch ended (the event's `resources`).
        server: Option<SourceServerId>,
        /// DRS's `detail.state`: `RECOVERY_LAUNCH_SUCCEEDED` or `RECOVERY_LAUNCH_FAILED`.
        state: Option<String>,
        /// When DRS ended the server's launch (the event's `time`).
        ended_at: Timestamp,
        outcome: AdvanceOutcome,
        /// Why an IGNORED event changed nothing: advance's reason (`LATE_EVENT`,
        /// `JOB_STILL_LAUNCHING`, ...).
        reason: Option<String>,
        /// advance's message.
        message: String,
        /// The wave of the event's job, when advance found it.
        wave_number: Option<u32>,
        /// The wave advance launched (DRS jobs started): the event closed a wave boundary.
        launched_wave: Option<u32>,
        /// With `launched_wave`: when the last server of the event's wave launched, as the record
        /// has it (EC2's launch times).
        last_server_at: Option<Timestamp>,
    },
}

/// What cleanup answered: the drill's recovery instances, where their termination stands.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cleanup {
    /// Servers whose instance DRS was asked to terminate (not yet confirmed gone).
    #[serde(default)]
    pub requested: Vec<SourceServerId>,
    /// Servers whose instance is gone after the request.
    #[serde(default)]
    pub terminated: Vec<SourceServerId>,
    /// Servers whose instance was no longer the drill's: nothing was terminated.
    #[serde(default)]
    pub gone: Vec<SourceServerId>,
    #[serde(default)]
    pub job_ids: Vec<JobId>,
    pub complete: bool,
    #[serde(default)]
    pub message: String,
}

pub trait Observer {
    fn observe(&mut self, at: Timestamp, event: &Event);
}

/// Discards every event.
impl Observer for () {
    fn observe(&mut self, _: Timestamp, _: &Event) {}
}

/// Collects every event (for tests).
impl Observer for Vec<(Timestamp, Event)> {
    fn observe(&mut self, at: Timestamp, event: &Event) {
        self.push((at, event.clone()));
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The execution as finalize left it.
    pub execution: Execution,
    pub polls: u64,
    pub simulated_secs: u64,
    /// launch answers that said DRS refused for now (or did not answer), and the simulated
    /// seconds the driver waited on them.
    pub launch_refusals: u32,
    pub launch_wait_secs: u64,
    /// cleanup's last answer, when the plan asked for one (`cleanupAfterSeconds`).
    pub cleanup: Option<Cleanup>,
    /// DRS launch results handed to advance (duplicates included), those lost on the way (that
    /// came due during the drive), and those on which advance launched a wave.
    pub events_delivered: u32,
    pub events_lost: u32,
    pub events_launched: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriveError {
    #[error("execution {0} not found in its plan")]
    NotFound(ExecutionId),
    #[error("{operation} refused: {error}")]
    Refused {
        operation: Operation,
        error: ErrorAnswer,
    },
    #[error("{operation} failed {failures} times in a row; last: {error}")]
    GaveUp {
        operation: Operation,
        failures: u32,
        error: ErrorAnswer,
    },
    #[error(
        "{operation} answered 200 with a document the driver cannot read ({reason}): {answer}"
    )]
    Unreadable {
        operation: Operation,
        reason: String,
        answer: String,
    },
    #[error("the execution did not finish within {0} simulated seconds of running time")]
    Stalled(u64),
    #[error("{0} answered, but the workflow's task token was not released ({1:?})")]
    NotReleased(Operation, Option<TokenState>),
}

/// Drives the execution `target` to its end.
pub async fn drive(
    sim: &Sim,
    target: Target,
    config: DriverConfig,
    observer: &mut dyn Observer,
) -> Result<Outcome, DriveError> {
    let execution = sim
        .store
        .get(target.execution_id)
        .filter(|e| e.header.plan_id == target.plan_id)
        .ok_or(DriveError::NotFound(target.execution_id))?;
    // Every attempt of every wave times out, and so does every run of every action, so a run
    // that outlives all of them (and a day) is stuck.
    let limit = execution
        .waves
        .iter()
        .map(|w| {
            let actions: u64 = w.actions.iter().map(|a| a.timeout_seconds).sum();
            w.timeout_seconds + actions
        })
        .sum::<u64>()
        .saturating_mul(u64::from(sim.policy.max_wave_attempts.max(1)))
        .saturating_add(86_400);
    observer.observe(
        sim.clock.now(),
        &Event::Started {
            execution: execution.clone(),
        },
    );
    let started = sim.clock.now();
    let mut d = Driver {
        sim,
        target,
        config,
        observer,
        known: execution.waves,
        polls: 0,
        paused_secs: 0,
        launch_refusals: 0,
        launch_wait_secs: 0,
        cleanup: None,
        events_delivered: 0,
        events_lost: 0,
        events_launched: 0,
    };
    d.run(limit).await?;
    let execution = sim
        .store
        .get(target.execution_id)
        .ok_or(DriveError::NotFound(target.execution_id))?;
    Ok(Outcome {
        execution,
        polls: d.polls,
        simulated_secs: sim.clock.now().secs_since(started),
        launch_refusals: d.launch_refusals,
        launch_wait_secs: d.launch_wait_secs,
        cleanup: d.cleanup,
        events_delivered: d.events_delivered,
        events_lost: d.events_lost,
        events_launched: d.events_launched,
    })
}

// The answers the driver reads, as the state machine reads them.

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PollAnswer {
    next_action: String,
    #[serde(default)]
    warnings: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LaunchAnswer {
    wave_number: u32,
    wave_status: WaveStatus,
    #[serde(default)]
    job_ids: Vec<JobId>,
    #[serde(default)]
    recovered: bool,
    retry_after_seconds: Option<u64>,
    last_launch_error: Option<String>,
}

/// act's answer: the wave action it ran, and where its run stands.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActAnswer {
    pub wave_number: u32,
    pub wave_status: WaveStatus,
    pub action: String,
    pub when: ActionWhen,
    #[serde(rename = "type")]
    pub kind: ActionKind,
    pub attempt: u32,
    pub action_status: ActionStatus,
    #[serde(default)]
    pub automation_execution_id: Option<String>,
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
}

/// advance's answer: what it did with a DRS launch result.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AdvanceAnswer {
    outcome: AdvanceOutcome,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: String,
    wave_number: Option<u32>,
    launch: Option<LaunchAnswer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PauseAnswer {
    status: ExecutionStatus,
    paused_before_wave: Option<u32>,
    pause_reason: Option<PauseReason>,
    failed_wave: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResumeAnswer {
    resumed_before_wave: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DecisionAnswer {
    attempt: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FinalizeAnswer {
    status: ExecutionStatus,
    recovery_time_seconds: Option<u64>,
    cleanup_after_seconds: Option<u64>,
}

fn next_action(raw: &str) -> Option<NextAction> {
    [
        NextAction::Launch,
        NextAction::Act,
        NextAction::Wait,
        NextAction::Pause,
        NextAction::Finalize,
    ]
    .into_iter()
    .find(|a| a.as_str() == raw)
}

struct Driver<'a> {
    sim: &'a Sim,
    target: Target,
    config: DriverConfig,
    observer: &'a mut dyn Observer,
    /// The waves as the driver last saw them.
    known: Vec<Wave>,
    polls: u64,
    paused_secs: u64,
    launch_refusals: u32,
    launch_wait_secs: u64,
    cleanup: Option<Cleanup>,
    events_delivered: u32,
    events_lost: u32,
    events_launched: u32,
}

impl Driver<'_> {
    async fn run(&mut self, limit: u64) -> Result<(), DriveError> {
        let (sim, target) = (self.sim, self.target);
        let started = sim.clock.now();
        loop {
            if sim
                .clock
                .now()
                .secs_since(started)
                .saturating_sub(self.paused_secs)
                > limit
            {
                return Err(DriveError::Stalled(limit));
            }
            // The state machine's poll: per-wave counts, not every server, naming the run that
            // conducts the execution (the driver plays its first run).
            let poll = Request::Poll(PollRequest {
                target,
                summary: true,
                workflow_run: Some(crate::workflow::sim_run_id(
                    &target.execution_id.to_string(),
                )),
            });
            let Some(answer) = self.call::<PollAnswer>(poll).await? else {
                continue;
            };
            self.polls += 1;
            for message in answer.warnings {
                self.emit(Event::Warning { message });
            }
            self.observe_record();
            let action =
                next_action(&answer.next_action).ok_or_else(|| DriveError::Unreadable {
                    operation: Operation::Poll,
                    reason: "unknown nextAction".to_owned(),
                    answer: answer.next_action.clone(),
                })?;
            self.emit(Event::Polled {
                next_action: action,
            });
            match action {
                NextAction::Launch => self.launch().await?,
                NextAction::Act => self.act().await?,
                NextAction::Wait => self.wait(self.config.poll_interval_secs).await,
                NextAction::Pause => self.pause().await?,
                NextAction::Finalize => {
                    let finalize = Request::Finalize(target);
                    if let Some(r) = self.call::<FinalizeAnswer>(finalize).await? {
                        self.observe_record();
                        self.emit(Event::Finalized {
                            status: r.status,
                            recovery_time_seconds: r.recovery_time_seconds,
                        });
                        if let Some(after) = r.cleanup_after_seconds {
                            self.clean_up(after).await?;
                        }
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The state machine's launch: then wait the poll interval, or as long as the answer says when
    /// DRS refused for now.
    async fn launch(&mut self) -> Result<(), DriveError> {
        let Some(r) = self
            .call::<LaunchAnswer>(Request::Launch(self.target))
            .await?
        else {
            return Ok(());
        };
        if !r.job_ids.is_empty() {
            self.emit(Event::WaveLaunched {
                wave_number: r.wave_number,
                wave_status: r.wave_status,
                job_ids: r.job_ids,
                recovered: r.recovered,
            });
        }
        match r.retry_after_seconds {
            Some(secs) => {
                let secs = secs.max(1);
                self.launch_refusals += 1;
                self.launch_wait_secs += secs;
                self.emit(Event::LaunchDeferred {
                    wave_number: r.wave_number,
                    retry_after_secs: secs,
                    error: r.last_launch_error,
                });
                self.wait(secs).await;
            }
            None => self.wait(self.config.poll_interval_secs).await,
        }
        Ok(())
    }

    /// The state machine's act: run the wave action that is due, then poll again (at once: an
    /// action that ended lets the execution go on; one that runs is followed by polls).
    async fn act(&mut self) -> Result<(), DriveError> {
        let Some(r) = self.call::<ActAnswer>(Request::Act(self.target)).await? else {
            return Ok(());
        };
        self.observe_record();
        // As the state machine: poll at once; poll's WAIT does the waiting (for a runbook that
        // runs, a start refused for now).
        self.emit(Event::Acted(r));
        Ok(())
    }

    /// The state machine's cleanup of a drill: wait `after_secs`, then clean up, again the poll
    /// interval apart until cleanup says it is complete (DRS terminates the instances it asked
    /// for a little later), at most `max_cleanup_rounds` times.
    async fn clean_up(&mut self, after_secs: u64) -> Result<(), DriveError> {
        self.wait(after_secs).await;
        let mut rounds = 0;
        loop {
            rounds += 1;
            // A poll-again answer has waited the poll interval already.
            let answer = self.call::<Cleanup>(Request::Cleanup(self.target)).await?;
            if let Some(answer) = &answer {
                self.observe_record();
                self.emit(Event::CleanedUp(answer.clone()));
                self.cleanup = Some(answer.clone());
                if answer.complete {
                    return Ok(());
                }
            }
            if rounds >= self.config.max_cleanup_rounds {
                // As the state machine: the outcome stands; cleanup can be confirmed by hand.
                return Ok(());
            }
            if answer.is_some() {
                self.wait(self.config.poll_interval_secs).await;
            }
        }
    }

    /// The state machine's pause: park a fresh task token, wait for the operator, check that the
    /// operator's call (resume, or retry, skip or cancel for a failed wave) released the token.
    async fn pause(&mut self) -> Result<(), DriveError> {
        let (sim, target) = (self.sim, self.target);
        let token = sim.workflow.issue_token();
        let request = Request::Pause(PauseRequest {
            target,
            task_token: Some(token.clone()),
        });
        let Some(paused) = self.call::<PauseAnswer>(request).await? else {
            return Ok(());
        };
        if paused.status != ExecutionStatus::Paused {
            return Ok(()); // moot (already resumed or cancelled): the token was completed at once
        }
        let reason = paused.pause_reason.unwrap_or(PauseReason::Planned);
        self.emit(Event::Paused {
            reason,
            before_wave: paused.paused_before_wave,
            failed_wave: paused.failed_wave,
        });
        let since = sim.clock.now();
        self.wait_for_resume().await;
        // A poll-again answer to the operator's call: the record moved on while the run was
        // parked (say, a cancel came first); the driver polls and decides again, as the state
        // machine does when the pause's heartbeat runs out.
        let (operation, event) = if reason == PauseReason::WaveFailed {
            match self.decide(paused.failed_wave).await? {
                Some(decided) => decided,
                None => return Ok(()),
            }
        } else {
            let Some(resumed) = self.call::<ResumeAnswer>(Request::Resume(target)).await? else {
                return Ok(());
            };
            let before_wave = resumed.resumed_before_wave;
            (
                Operation::Resume,
                Event::Resumed {
                    before_wave,
                    paused_secs: 0,
                },
            )
        };
        let paused_secs = sim.clock.now().secs_since(since);
        self.paused_secs += paused_secs;
        match sim.workflow.state(&token) {
            Some(TokenState::Succeeded) => {}
            other => return Err(DriveError::NotReleased(operation, other)),
        }
        self.emit(match event {
            Event::Resumed { before_wave, .. } => Event::Resumed {
                before_wave,
                paused_secs,
            },
            Event::Decided {
                wave_number,
                decision,
                attempt,
                ..
            } => Event::Decided {
                wave_number,
                decision,
                attempt,
                paused_secs,
            },
            other => other,
        });
        Ok(())
    }

    /// The operator's decision on the failed wave: as configured, except that a wave with no
    /// attempt left is cancelled rather than retried.
    async fn decide(
        &mut self,
        failed_wave: Option<u32>,
    ) -> Result<Option<(Operation, Event)>, DriveError> {
        let target = self.target;
        let record = self.sim.store.get(target.execution_id);
        let wave = failed_wave
            .and_then(|n| record.as_ref().and_then(|e| e.wave(n)))
            .or_else(|| {
                record
                    .as_ref()
                    .and_then(|e| e.waves.iter().find(|w| w.status == WaveStatus::Failed))
            });
        let wave_number = wave.map_or(0, |w| w.wave_number);
        // Retry while the core would take it (a wave failed by an action runs the action again).
        let attempts_left =
            wave.is_some_and(|w| execution_core::rules::retry_left(w, &self.sim.policy));
        let on = WaveTarget {
            target,
            wave_number,
        };
        let request = match self.config.on_failure {
            OnFailure::Retry if attempts_left => Request::Retry(on),
            OnFailure::Skip => Request::Skip(on),
            OnFailure::Retry | OnFailure::Stop => Request::Cancel(target),
        };
        let operation = request.operation();
        let Some(decided) = self.call::<DecisionAnswer>(request).await? else {
            return Ok(None);
        };
        Ok(Some((
            operation,
            Event::Decided {
                wave_number,
                decision: operation,
                attempt: decided.attempt,
                paused_secs: 0,
            },
        )))
    }

    async fn wait_for_resume(&mut self) {
        match &mut self.config.resume {
            Resume::After(secs) => {
                let secs = *secs;
                self.wait(secs).await;
            }
            Resume::OnSignal(signal) => {
                let wall = Instant::now();
                let _ = signal.recv().await; // closed counts as a signal: nobody can send one any more
                if let Some(speed) = self.config.speed {
                    // The wall-clock time waited has passed already: no sleeping it again.
                    let waited = Duration::try_from_secs_f64(wall.elapsed().as_secs_f64() * speed)
                        .unwrap_or(Duration::MAX);
                    self.pass(waited, false).await;
                }
            }
        }
    }

    /// Runs one operation through `ops::run` (as [`actor`] says who calls it) and decides on its answer as the state machine does,
    /// by `AnswerClass` (a Lambda that died is a 502): done → the answer; retry later → count, wait a backoff and call the same
    /// operation again, at most `max_transient_failures` times in a row (a success starts the
    /// count over); poll again → `Ok(None)` after the poll interval, so the caller decides on a
    /// fresh poll; final → `Refused`. Every wait passes on the simulated clock, so it counts in
    /// the recovery time.
    async fn call<T: DeserializeOwned>(
        &mut self,
        request: Request,
    ) -> Result<Option<T>, DriveError> {
        let operation = request.operation();
        let mut failures: u32 = 0;
        loop {
            let answer = self.answer(request.clone()).await;
            match AnswerClass::of_answer(&answer) {
                AnswerClass::Done => {
                    return serde_json::from_value(answer.clone())
                        .map(Some)
                        .map_err(|e| DriveError::Unreadable {
                            operation,
                            reason: e.to_string(),
                            answer: answer.to_string(),
                        });
                }
                AnswerClass::PollAgain => {
                    self.wait(self.config.poll_interval_secs).await;
                    return Ok(None);
                }
                AnswerClass::Final => {
                    return Err(DriveError::Refused {
                        operation,
                        error: ErrorAnswer::of(&answer),
                    })
                }
                AnswerClass::RetryLater => {}
            }
            let error = ErrorAnswer::of(&answer);
            failures += 1;
            if failures > self.config.max_transient_failures {
                return Err(DriveError::GaveUp {
                    operation,
                    failures,
                    error,
                });
            }
            let backoff_secs = (self.config.retry_backoff_secs << (failures - 1).min(5)).min(60);
            self.emit(Event::Retrying {
                operation,
                failures,
                error,
                backoff_secs,
            });
            self.wait(backoff_secs).await;
        }
    }

    /// One call of `request` through `ops::run`, by the actor [`actor`] names, answered as its
    /// Lambda would answer (a Lambda the simulator crashes answers 502).
    async fn answer(&self, request: Request) -> Value {
        let operation = request.operation();
        let ports = self.sim.ports();
        tokio::select! {
            biased;
            answer = ops::run(&ports, request, actor(operation)) => answer,
            // The operation's Lambda died mid-call: what it wrote stands, nothing more.
            () = self.sim.calls.crashed() => json!({
                "statusCode": 502,
                "error": "LAMBDA_DIED",
                "message": format!("the {operation} function died before it answered (simulated crash)"),
            }),
        }
    }

    /// Simulated time passes (and, at a finite speed, the matching wall-clock time), with the DRS
    /// launch results that come due meanwhile delivered at their time.
    async fn wait(&mut self, secs: u64) {
        self.pass(Duration::from_secs(secs), true).await;
    }

    /// `span` of simulated time passes, slice by slice: up to the next DRS launch result due
    /// within it (or due already: one that came due while an operation ran), which is then
    /// delivered, and so on to the span's end. With `sleep`, each slice also takes its share of
    /// wall-clock time at the driver's speed. Without events this is one slice: the clock moves
    /// by `span`.
    async fn pass(&mut self, span: Duration, sleep: bool) {
        let sim = self.sim;
        let span_millis = i64::try_from(span.as_millis()).unwrap_or(i64::MAX);
        let end = sim.clock.now_millis().saturating_add(span_millis);
        loop {
            let now = sim.clock.now_millis();
            let due = sim.world.next_launch_result_due().filter(|d| *d <= end);
            let until = due.map_or(end, |d| d.max(now));
            let slice = Duration::from_millis(u64::try_from(until - now).unwrap_or(0));
            if sleep {
                self.sleep(slice).await;
            }
            sim.clock.advance(slice);
            if due.is_none() {
                return;
            }
            for event in sim.world.launch_results_due(until) {
                self.deliver(event).await;
            }
        }
    }

    /// The wall-clock time `simulated` takes at the driver's speed (none when it runs as fast as
    /// it can).
    async fn sleep(&self, simulated: Duration) {
        if let Some(speed) = self.config.speed.filter(|s| s.is_finite() && *s > 0.0) {
            let wall = Duration::try_from_secs_f64(simulated.as_secs_f64() / speed)
                .unwrap_or(Duration::MAX);
            tokio::time::sleep(wall).await;
        }
    }

    /// A DRS launch result reaches the stack's rule, which invokes advance once: its answer is
    /// told ([`Event::LaunchResult`]), with what advance changed in the record. An error answer
    /// is a warning and is not retried (EventBridge does not send the event again); polling
    /// carries on without it. A lost event is only counted.
    async fn deliver(&mut self, event: LaunchEvent) {
        if event.lost {
            self.events_lost += 1;
            return;
        }
        self.events_delivered += 1;
        let LaunchEvent {
            ended_at, result, ..
        } = event;
        let (job_id, server, state) = (
            result.job_id.clone(),
            result.source_server_id.clone(),
            result.state.clone(),
        );
        let answer = self.answer(Request::Advance(result)).await;
        let read = match AnswerClass::of_answer(&answer) {
            AnswerClass::Done => serde_json::from_value::<AdvanceAnswer>(answer.clone())
                .map_err(|e| format!("answered 200 with a document the driver cannot read ({e})")),
            _ => Err(format!("failed: {}", ErrorAnswer::of(&answer))),
        };
        let r = match read {
            Ok(r) => r,
            Err(why) => {
                self.emit(Event::Warning {
                    message: format!(
                        "advance of DRS's launch result for job {job_id} {why}; not retried: polling carries on"
                    ),
                });
                return;
            }
        };
        self.observe_record();
        let launched_wave = r
            .launch
            .as_ref()
            .filter(|l| !l.job_ids.is_empty())
            .map(|l| l.wave_number);
        let last_server_at = if launched_wave.is_some() {
            self.events_launched += 1;
            r.wave_number.and_then(|n| self.last_launch_of(n))
        } else {
            None
        };
        self.emit(Event::LaunchResult {
            job_id,
            server,
            state,
            ended_at,
            outcome: r.outcome,
            reason: r.reason,
            message: r.message,
            wave_number: r.wave_number,
            launched_wave,
            last_server_at,
        });
    }

    /// When the last server of wave `wave_number` launched, as the record has it (EC2's launch
    /// times).
    fn last_launch_of(&self, wave_number: u32) -> Option<Timestamp> {
        let execution = self.sim.store.get(self.target.execution_id)?;
        execution
            .wave(wave_number)?
            .server_statuses
            .iter()
            .filter_map(|s| s.launch_time)
            .max()
    }

    /// Tells what changed in the record since the driver last looked (what a UI reading the
    /// record would see).
    fn observe_record(&mut self) {
        let Some(execution) = self.sim.store.get(self.target.execution_id) else {
            return;
        };
        let known = std::mem::take(&mut self.known);
        for (old, new) in known.iter().zip(&execution.waves) {
            for (before, now) in old.server_statuses.iter().zip(&new.server_statuses) {
                if before != now {
                    self.emit(Event::ServerChanged {
                        wave_number: new.wave_number,
                        server: Box::new(now.clone()),
                        previous: Box::new(before.clone()),
                    });
                }
            }
            for run in &new.action_runs {
                let before = old
                    .action_runs
                    .iter()
                    .find(|r| r.name == run.name && r.attempt == run.attempt);
                if before == Some(run) {
                    continue;
                }
                let Some(action) = new.actions.iter().find(|a| a.name == run.name) else {
                    continue;
                };
                self.emit(Event::ActionChanged {
                    wave_number: new.wave_number,
                    action: Box::new(action.clone()),
                    run: Box::new(run.clone()),
                    previous: before.map(|r| Box::new(r.clone())),
                });
            }
            if old.status != new.status {
                self.emit(Event::WaveChanged {
                    wave: new.clone(),
                    previous: old.status,
                });
            }
        }
        self.known = execution.waves;
    }

    fn emit(&mut self, event: Event) {
        self.observer.observe(self.sim.clock.now(), &event);
    }
}

/// Who calls `operation` in a drill: the simulated operator decides (resume, retry, skip, cancel);
/// a DRS event advances; everything else is the workflow's.
pub fn actor(operation: Operation) -> Actor {
    match operation {
        Operation::Resume | Operation::Retry | Operation::Skip | Operation::Cancel => {
            Actor::Cli(SIMULATED_OPERATOR.to_owned())
        }
        // The stack's EventBridge rule, on a DRS launch result.
        Operation::Advance => Actor::Event,
        _ => Actor::Workflow,
    }
}

/// The drill's operator, as the trail names it.
pub const SIMULATED_OPERATOR: &str = "simulated operator";
