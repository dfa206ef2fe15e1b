//! Runs an execution exactly as the state machine does: poll, then by `nextAction` launch, wait,
//! pause (holding a task token until a resume releases it) or finalize, retrying transient (500)
//! answers a bounded number of times. Simulated time moves only here.

use std::future::Future;
use std::time::{Duration, Instant};

use execution_core::api::{Operation, PauseRequest, PollRequest, PollWaves, Target};
use execution_core::error::OperationError;
use execution_core::ids::{ExecutionId, JobId};
use execution_core::model::{Execution, ServerStatus, Timestamp, Wave};
use execution_core::ops;
use execution_core::rules::NextAction;
use execution_core::status::{ExecutionStatus, WaveStatus};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::{Sim, TokenState};

/// When a planned pause ends.
#[derive(Debug)]
pub enum Resume {
    /// After this many simulated seconds.
    After(u64),
    /// When the channel yields (or closes); simulated time runs at the driver's speed meanwhile.
    OnSignal(UnboundedReceiver<()>),
}

#[derive(Debug)]
pub struct DriverConfig {
    /// The state machine's Wait between polls, in simulated seconds.
    pub poll_interval_secs: u64,
    /// Simulated seconds per wall-clock second; `None` runs as fast as it can.
    pub speed: Option<f64>,
    pub resume: Resume,
    /// Transient failures in a row tolerated before giving up.
    pub max_transient_failures: u32,
    /// Simulated seconds before the first retry, doubled for each next one (up to a minute).
    pub retry_backoff_secs: u64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            poll_interval_secs: 30,
            speed: None,
            resume: Resume::After(120),
            max_transient_failures: 6,
            retry_backoff_secs: 2,
        }
    }
}

/// What the driver saw happen, for a display.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The execution as the driver first read it.
    Started {
        execution: Execution,
    },
    WaveLaunched {
        wave_number: u32,
        job_id: Option<JobId>,
        recovered: bool,
    },
    /// A wave's status changed (the wave as poll now describes it).
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
    Warning {
        message: String,
    },
    Paused {
        before_wave: Option<u32>,
    },
    Resumed {
        before_wave: Option<u32>,
        paused_secs: u64,
    },
    Retrying {
        operation: Operation,
        failures: u32,
        error: OperationError,
        backoff_secs: u64,
    },
    Finalized {
        status: ExecutionStatus,
        recovery_time_seconds: Option<u64>,
    },
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
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriveError {
    #[error("execution {0} not found in its plan")]
    NotFound(ExecutionId),
    #[error("{operation} refused: {error}")]
    Refused {
        operation: Operation,
        error: OperationError,
    },
    #[error("{operation} failed {failures} times in a row; last: {error}")]
    GaveUp {
        operation: Operation,
        failures: u32,
        error: OperationError,
    },
    #[error("the execution did not finish within {0} simulated seconds of running time")]
    Stalled(u64),
    #[error("resume answered, but the workflow's task token was not released ({0:?})")]
    NotReleased(Option<TokenState>),
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
    // Every wave times out, so a run that outlives all of them (and a day) is stuck.
    let limit = execution
        .waves
        .iter()
        .map(|w| w.timeout_seconds)
        .sum::<u64>()
        + 86_400;
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
        transient: 0,
        polls: 0,
        paused_secs: 0,
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
    })
}

struct Driver<'a> {
    sim: &'a Sim,
    target: Target,
    config: DriverConfig,
    observer: &'a mut dyn Observer,
    /// The waves as the last poll described them.
    known: Vec<Wave>,
    transient: u32,
    polls: u64,
    paused_secs: u64,
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
            let request = PollRequest {
                target,
                summary: false,
            };
            let poll = ops::poll(
                sim.store.as_ref(),
                &sim.drs,
                &sim.ec2,
                sim.clock.as_ref(),
                &sim.policy,
                &request,
            );
            let Some(answer) = self.attempt(Operation::Poll, poll).await? else {
                continue;
            };
            self.polls += 1;
            for message in answer.warnings {
                self.emit(Event::Warning { message });
            }
            if let PollWaves::Full(waves) = answer.waves {
                self.observe_waves(waves);
            }
            self.emit(Event::Polled {
                next_action: answer.next_action,
            });
            match answer.next_action {
                NextAction::Launch => {
                    let launch = ops::launch(
                        sim.store.as_ref(),
                        &sim.drs,
                        sim.clock.as_ref(),
                        &sim.policy,
                        &target,
                    );
                    if let Some(r) = self.attempt(Operation::Launch, launch).await? {
                        self.emit(Event::WaveLaunched {
                            wave_number: r.wave_number,
                            job_id: r.job_id,
                            recovered: r.recovered,
                        });
                        self.wait(self.config.poll_interval_secs).await;
                    }
                }
                NextAction::Wait => self.wait(self.config.poll_interval_secs).await,
                NextAction::Pause => self.pause().await?,
                NextAction::Finalize => {
                    let finalize = ops::finalize(sim.store.as_ref(), sim.clock.as_ref(), &target);
                    if let Some(r) = self.attempt(Operation::Finalize, finalize).await? {
                        self.emit(Event::Finalized {
                            status: r.status,
                            recovery_time_seconds: r.recovery_time_seconds,
                        });
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The state machine's pause: park a fresh task token, wait for the resume, check that the
    /// resume released the token.
    async fn pause(&mut self) -> Result<(), DriveError> {
        let (sim, target) = (self.sim, self.target);
        let token = sim.workflow.issue_token();
        let request = PauseRequest {
            target,
            task_token: Some(token.clone()),
        };
        let pause = ops::pause(
            sim.store.as_ref(),
            sim.workflow.as_ref(),
            sim.clock.as_ref(),
            &sim.policy,
            &request,
        );
        let Some(paused) = self.attempt(Operation::Pause, pause).await? else {
            return Ok(());
        };
        if paused.status != ExecutionStatus::Paused {
            return Ok(()); // moot (already resumed or cancelled): the token was completed at once
        }
        self.emit(Event::Paused {
            before_wave: paused.paused_before_wave,
        });
        let since = sim.clock.now();
        self.wait_for_resume().await;
        let resumed = loop {
            let resume = ops::resume(sim.store.as_ref(), sim.workflow.as_ref(), &target);
            if let Some(r) = self.attempt(Operation::Resume, resume).await? {
                break r;
            }
        };
        let paused_secs = sim.clock.now().secs_since(since);
        self.paused_secs += paused_secs;
        match sim.workflow.state(&token) {
            Some(TokenState::Succeeded) => {}
            other => return Err(DriveError::NotReleased(other)),
        }
        self.emit(Event::Resumed {
            before_wave: resumed.resumed_before_wave,
            paused_secs,
        });
        Ok(())
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
                    self.sim.clock.advance(Duration::from_secs_f64(
                        wall.elapsed().as_secs_f64() * speed,
                    ));
                }
            }
        }
    }

    /// Runs one operation; `Ok(None)` after a transient failure (already waited out), so the
    /// caller goes round again and decides on a fresh poll.
    async fn attempt<T>(
        &mut self,
        operation: Operation,
        call: impl Future<Output = Result<T, OperationError>>,
    ) -> Result<Option<T>, DriveError> {
        match call.await {
            Ok(answer) => {
                self.transient = 0;
                Ok(Some(answer))
            }
            Err(error) if error.status_code() >= 500 => {
                self.transient += 1;
                if self.transient > self.config.max_transient_failures {
                    return Err(DriveError::GaveUp {
                        operation,
                        failures: self.transient,
                        error,
                    });
                }
                let backoff_secs =
                    (self.config.retry_backoff_secs << (self.transient - 1).min(5)).min(60);
                self.emit(Event::Retrying {
                    operation,
                    failures: self.transient,
                    error,
                    backoff_secs,
                });
                self.wait(backoff_secs).await;
                Ok(None)
            }
            Err(error) => Err(DriveError::Refused { operation, error }),
        }
    }

    /// Simulated time passes (and, at a finite speed, the matching wall-clock time).
    async fn wait(&self, secs: u64) {
        if let Some(speed) = self.config.speed.filter(|s| s.is_finite() && *s > 0.0) {
            tokio::time::sleep(Duration::from_secs_f64(secs as f64 / speed)).await;
        }
        self.sim.clock.advance_secs(secs);
    }

    fn observe_waves(&mut self, waves: Vec<Wave>) {
        let known = std::mem::take(&mut self.known);
        for (old, new) in known.iter().zip(&waves) {
            for (before, now) in old.server_statuses.iter().zip(&new.server_statuses) {
                if before != now {
                    self.emit(Event::ServerChanged {
                        wave_number: new.wave_number,
                        server: Box::new(now.clone()),
                        previous: Box::new(before.clone()),
                    });
                }
            }
            if old.status != new.status {
                self.emit(Event::WaveChanged {
                    wave: new.clone(),
                    previous: old.status,
                });
            }
        }
        self.known = waves;
    }

    fn emit(&mut self, event: Event) {
        self.observer.observe(self.sim.clock.now(), &event);
    }
}
