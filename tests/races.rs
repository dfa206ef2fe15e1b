//! Races against a real DynamoDB protocol (the moto server), with the simulator as DRS, EC2, Step
//! Functions and the wave actions' Lambda and SSM: seeded random interleavings on one execution of
//! the state machine's next step (poll, launch, act, the pause that parks its task token,
//! finalize), an operator's answer to what the
//! record shows (retry or skip of a failed wave, now and then with a second operator's cancel;
//! resume of a pause), DRS's launch results for the wave in flight (advance, as the event-driven
//! transition runs it), and up to two more racers of any operation, all at once, every one through
//! `ops::run` as its Lambda runs it. Servers fail (for good, or in their first attempt) and most
//! waves' policy is PAUSE, so retries and skips race with everything else; waves are launched as
//! several DRS jobs (`maxServersPerJob` 1 or 2) and `maxWaveAttempts` is 2 or 3. Some waves have
//! actions before their launch or after they complete, Lambda or SSM, some failing in their first
//! run (so a retry runs them again) or running past their timeout.
//!
//! After every step the invariants are checked against the record, DRS's jobs, the answers and a
//! journal of every write the store accepted (the header's and each wave's versions order the
//! writes exactly):
//! - no answer is a 500 (no fault is injected), and every error has the seed's shape;
//! - the execution and each wave move only along the lifecycle's tables (`lifecycle::TABLE`,
//!   `WAVE_TABLE`), one row per write; a wave's attempt moves only by a claim or a retry, never
//!   past `maxWaveAttempts`; a terminal execution is never written again, and never changes;
//! - one part of one attempt of a wave gets at most one DRS job, no server is in two jobs of one
//!   attempt, a retry never launches a server an earlier attempt launched, and every job was
//!   started for a claim the journal shows, which moved the header's version on;
//! - no claim is taken after a cancel's write (so no StartRecovery overtakes a cancel that
//!   answered), and no wave is claimed while the execution is PAUSED before it; a pause that
//!   answered 200 holds until something ends it;
//! - a retry or skip that answered 200 is never lost or reversed, and one failure is never both
//!   retried and skipped; a WAVE_FAILED pause ends only by a decision on that wave (or a cancel);
//! - every attempt of a wave action runs at most once (one invocation, one automation started),
//!   each run the services saw is one the record has, a new run is taken only by a write that
//!   moves the header's version on, never while PAUSED or after a cancel, and only on a wave
//!   where it runs (PENDING before the launch, COMPLETED after it); a run that ended never
//!   changes; no wave launches before its BEFORE_LAUNCH actions are done, nor after a wave whose
//!   AFTER_COMPLETE actions are not;
//! - a task token the record held is released once a resume, retry, skip or cancel marks it, and
//!   leaves the record no other way than that, a new pause's token, or finalize;
//! - the record is the last accepted write of each item, and one the engine can write: it breaks
//!   no rule of `invariants::check` (the rules the use-case and fault tests check too), nor the
//!   few that checker does not have (`check_record`).
//!
//! `the_race_checks_catch_what_they_check` shows each check failing on a history that breaks it.
//! A failure prints its seed; `RACE_SEED=<n>` replays from that seed, `RACE_INTERLEAVINGS=<n>`
//! runs more (or fewer).
//!
//! moto applies concurrent DynamoDB requests without isolation (two conditional transactions can
//! both succeed); `scripts/moto_server.py` serialises them, as DynamoDB's own request atomicity
//! does. Without it this test finds "two DRS jobs for one part": moto's race, not the engine's.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_adapters::{create_table, DynamoDbStore};
use drs_sim::{
    ActionOutcome, ActionScript, ActionScripts, FaultScript, Job, Progression, Sim, SimConfig,
    Spread, Timings, TokenState,
};
use execution_core::actions::{ActionStatus, ActionWhen, PlanAction};
use execution_core::api::{LaunchResult, PauseRequest, PollRequest, Request, Target, WaveTarget};
use execution_core::audit::{Actor, AuditEvent};
use execution_core::ids::{ExecutionId, JobId, PlanId, SourceServerId, TaskToken};
use execution_core::invariants;
use execution_core::lifecycle::{TABLE, WAVE_TABLE};
use execution_core::model::{
    Execution, ExecutionHeader, FailurePolicy, Impact, PauseReason, Timestamp, Wave, WaveFailure,
};
use execution_core::ops::{self, Ports};
use execution_core::plan::{Plan, PlanServer, PlanWave};
use execution_core::ports::now;
use execution_core::ports::EventPage;
use execution_core::ports::{
    ActivePage, Commit, ExecutionStore, HeaderWrite, StoreError, Touch, TAG_ATTEMPT,
    TAG_EXECUTION_ID, TAG_PART, TAG_WAVE_NUMBER,
};
use execution_core::rules::{awaiting_decision, next_action, NextAction, Policy};
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
use futures::stream::{self, StreamExt};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use workspace_tests::moto;

const INDEX: &str = aws_adapters::DEFAULT_STATUS_INDEX;
/// Steps per interleaving; each runs one to four operations at once.
const STEPS: usize = 12;
const DEFAULT_INTERLEAVINGS: u64 = 136;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Op {
    Poll,
    Launch,
    /// An operator's pause.
    Pause,
    /// The workflow parking at `nextAction` PAUSE with a fresh task token.
    PauseWithToken,
    Resume,
    Cancel,
    Finalize,
    Retry,
    Skip,
    /// The workflow's act (a wave action due), or one invoked twice.
    Act,
    /// A DRS launch result about the latest job of a wave (one DRS does not know when the wave
    /// has none), as the advance function gets it: early, late, repeated.
    Advance,
}

/// What the racers of a step draw from: the workflow's steps (a find tick's poll beside the
/// workflow's, a Lambda invoked twice, a stale workflow) and an operator's calls; cancel once, so
/// most runs get far enough to fail a wave and decide on it.
const OPS: [Op; 28] = [
    Op::Poll,
    Op::Poll,
    Op::Poll,
    Op::Poll,
    Op::Launch,
    Op::Launch,
    Op::Launch,
    Op::Launch,
    Op::Finalize,
    Op::Finalize,
    Op::Finalize,
    Op::PauseWithToken,
    Op::PauseWithToken,
    Op::PauseWithToken,
    Op::Pause,
    Op::Pause,
    Op::Resume,
    Op::Resume,
    Op::Retry,
    Op::Retry,
    Op::Retry,
    Op::Skip,
    Op::Skip,
    Op::Cancel,
    Op::Act,
    Op::Act,
    Op::Advance,
    Op::Advance,
];

/// One operation of a step and what it answered.
#[derive(Debug, Clone)]
struct Answer {
    op: Op,
    /// The wave a retry or skip named.
    wave: Option<u32>,
    code: u16,
    body: Value,
}

impl Answer {
    fn ok(&self) -> bool {
        self.code == 200
    }
    fn field(&self, name: &str) -> Option<&str> {
        self.body[name].as_str()
    }
    fn number(&self, name: &str) -> Option<u32> {
        self.body[name].as_u64().and_then(|n| u32::try_from(n).ok())
    }
}

// ---------------------------------------------------------------------------------------------
// The store under test, with a journal of every write it accepted
// ---------------------------------------------------------------------------------------------

/// The store (DynamoDB in moto) behind the ports, recording the execution it created and every commit that
/// landed. Every status write is conditional on a version, so the journal orders them exactly.
struct Journal {
    inner: Arc<dyn ExecutionStore>,
    created: Mutex<Option<Execution>>,
    commits: Mutex<Vec<Commit>>,
}

impl Journal {
    fn new(inner: Arc<dyn ExecutionStore>) -> Self {
        Self {
            inner,
            created: Mutex::default(),
            commits: Mutex::default(),
        }
    }
}

#[async_trait]
impl ExecutionStore for Journal {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        self.inner.load(id).await
    }
    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.inner.create(execution, events).await?;
        *self.created.lock().expect("journal") = Some(execution.clone());
        Ok(())
    }
    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.inner.list_active(cursor).await
    }
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.inner.commit(commit).await?;
        self.commits.lock().expect("journal").push(commit.clone());
        Ok(())
    }
    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.inner.events(id, cursor).await
    }
    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        self.inner.touch(id, touch).await
    }
}

/// The journal laid out by version: every header and every wave as each accepted write left it.
struct History {
    /// Header version → the header, and the commit that wrote it (`None`: created so).
    headers: BTreeMap<u64, (ExecutionHeader, Option<usize>)>,
    /// (wave number, version) → the wave, and the commit that wrote it.
    waves: BTreeMap<(u32, u64), (Wave, Option<usize>)>,
    commits: Vec<Commit>,
}

/// A launcher's claim of one part of one attempt of a wave, as the journal shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    wave: u32,
    attempt: u32,
    part: u32,
    /// The header version the claim's commit wrote.
    header_version: u64,
}

impl History {
    fn of(journal: &Journal) -> Result<Self, String> {
        let created = journal
            .created
            .lock()
            .expect("journal")
            .clone()
            .ok_or("the execution was never created")?;
        let commits = journal.commits.lock().expect("journal").clone();
        let mut headers =
            BTreeMap::from([(created.header.version, (created.header.clone(), None))]);
        let mut waves: BTreeMap<(u32, u64), (Wave, Option<usize>)> = created
            .waves
            .iter()
            .map(|w| ((w.wave_number, w.version), (w.clone(), None)))
            .collect();
        for (i, commit) in commits.iter().enumerate() {
            if let Some(HeaderWrite {
                expected_version,
                header,
            }) = &commit.header
            {
                if header.version != expected_version + 1 {
                    return Err(format!(
                        "a header write expected v{expected_version} and wrote v{}",
                        header.version
                    ));
                }
                if headers
                    .insert(header.version, (header.clone(), Some(i)))
                    .is_some()
                {
                    return Err(format!("two accepted writes of header v{}", header.version));
                }
            }
            for write in &commit.waves {
                let w = &write.wave;
                if w.version != write.expected_version + 1 {
                    return Err(format!(
                        "a write of wave {} expected v{} and wrote v{}",
                        w.wave_number, write.expected_version, w.version
                    ));
                }
                if waves
                    .insert((w.wave_number, w.version), (w.clone(), Some(i)))
                    .is_some()
                {
                    return Err(format!(
                        "two accepted writes of wave {} v{}",
                        w.wave_number, w.version
                    ));
                }
            }
        }
        Ok(Self {
            headers,
            waves,
            commits,
        })
    }

    fn header_write_of(&self, commit: usize) -> Option<&ExecutionHeader> {
        match &self.commits[commit].header {
            Some(HeaderWrite { header, .. }) => Some(header),
            _ => None,
        }
    }

    /// The wave write of `commit` for wave `n`, with the wave as it stood before it.
    fn wave_write_of(&self, commit: usize, n: u32) -> Option<(&Wave, &Wave)> {
        let new = self.commits[commit]
            .waves
            .iter()
            .find(|w| w.wave.wave_number == n)?;
        let old = &self.waves.get(&(n, new.expected_version))?.0;
        Some((old, &new.wave))
    }

    /// Wave `n` as it stood before commit `commit` landed (the last write the journal had then).
    fn wave_at(&self, n: u32, commit: usize) -> Option<&Wave> {
        self.waves
            .range((n, 0)..=(n, u64::MAX))
            .filter(|(_, (_, c))| c.is_none_or(|c| c < commit))
            .map(|(_, (w, _))| w)
            .next_back()
    }

    /// Consecutive versions of the header: (before, after, the commit of after).
    fn header_moves(&self) -> Result<Vec<(&ExecutionHeader, &ExecutionHeader, usize)>, String> {
        let mut moves = Vec::new();
        let mut previous: Option<&ExecutionHeader> = None;
        for (version, (header, commit)) in &self.headers {
            if let Some(old) = previous {
                if *version != old.version + 1 {
                    return Err(format!(
                        "header v{version} was accepted, v{} never was",
                        old.version + 1
                    ));
                }
                moves.push((old, header, commit.ok_or("a created header after a write")?));
            }
            previous = Some(header);
        }
        Ok(moves)
    }

    /// Consecutive versions of each wave: (before, after, the commit of after).
    fn wave_moves(&self) -> Result<Vec<(&Wave, &Wave, usize)>, String> {
        let mut moves = Vec::new();
        let mut previous: Option<&Wave> = None;
        for ((n, version), (wave, commit)) in &self.waves {
            match previous.filter(|p| p.wave_number == *n) {
                Some(old) => {
                    if *version != old.version + 1 {
                        return Err(format!(
                            "wave {n} v{version} was accepted, v{} never was",
                            old.version + 1
                        ));
                    }
                    moves.push((old, wave, commit.ok_or("a created wave after a write")?));
                }
                None if commit.is_some() => {
                    return Err(format!("wave {n} was written but never created"))
                }
                None => {}
            }
            previous = Some(wave);
        }
        Ok(moves)
    }

    /// Every new claim: a wave write that takes a part for a StartRecovery call.
    fn claims(&self) -> Result<Vec<Claim>, String> {
        let mut claims = Vec::new();
        for (old, new, commit) in self.wave_moves()? {
            let Some(c) = new.claim.as_ref().filter(|c| c.held) else {
                continue;
            };
            let same = old
                .claim
                .as_ref()
                .is_some_and(|o| o.held && (o.part, o.claimed_time) == (c.part, c.claimed_time));
            if same {
                continue; // a write that carried a claim it found (poll's refresh)
            }
            let header = self.header_write_of(commit).ok_or(format!(
                "wave {} was claimed (part {}) without moving the header's version on",
                new.wave_number, c.part
            ))?;
            let before = &self
                .headers
                .get(&(header.version - 1))
                .ok_or("a claim's header write follows no header")?
                .0;
            if before.status == ExecutionStatus::Paused && !old.status.is_in_flight() {
                return Err(format!(
                    "wave {} ({}) was claimed while the execution was PAUSED",
                    new.wave_number, old.status
                ));
            }
            claims.push(Claim {
                wave: new.wave_number,
                attempt: new.attempt,
                part: c.part,
                header_version: header.version,
            });
        }
        Ok(claims)
    }
}

// ---------------------------------------------------------------------------------------------
// One interleaving
// ---------------------------------------------------------------------------------------------

/// What the interleavings did, so that a run that stopped exercising retry and skip shows.
#[derive(Debug, Default, Clone)]
struct Tally {
    answers: BTreeMap<(Op, u16), usize>,
    wave_failed_pauses: usize,
    attempts_exhausted: usize,
    retried_attempts: usize,
    decisions_racing_cancel: usize,
    /// Action runs that ended, by status; and runs that failed their wave.
    action_runs: BTreeMap<String, usize>,
    actions_failing_waves: usize,
    /// advance answers that launched a wave.
    advances_launched: usize,
    endings: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        for (k, v) in &other.answers {
            *self.answers.entry(*k).or_default() += v;
        }
        for (k, v) in &other.endings {
            *self.endings.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.action_runs {
            *self.action_runs.entry(k.clone()).or_default() += v;
        }
        self.actions_failing_waves += other.actions_failing_waves;
        self.advances_launched += other.advances_launched;
        self.wave_failed_pauses += other.wave_failed_pauses;
        self.attempts_exhausted += other.attempts_exhausted;
        self.retried_attempts += other.retried_attempts;
        self.decisions_racing_cancel += other.decisions_racing_cancel;
    }
    fn ok(&self, op: Op) -> usize {
        self.answers.get(&(op, 200)).copied().unwrap_or(0)
    }
}

/// The checks that span steps.
#[derive(Default)]
struct Checker {
    previous: Option<Execution>,
    /// The terminal header as first seen (status, version, end time) and its waves' statuses.
    terminal: Option<(ExecutionStatus, u64, Option<Timestamp>, Vec<WaveStatus>)>,
    /// Waves a skip answered 200 for.
    skipped: BTreeSet<u32>,
    /// The highest attempt a retry answered 200 with, by wave.
    retried: BTreeMap<u32, u32>,
    /// A pause answered 200 PAUSED before this wave, and nothing has ended it since.
    pause_holds_before: Option<u32>,
}

struct Run<'a> {
    sim: &'a Sim,
    journal: &'a Journal,
    target: Target,
}

fn plan(rng: &mut ChaCha8Rng) -> Plan {
    let waves = (0..3u32)
        .map(|w| PlanWave {
            target_rto_seconds: None,
            wave_name: None,
            pause_before_wave: w > 0 && rng.random_bool(0.3),
            timeout_seconds: None,
            on_failure: match rng.random_range(0..8) {
                0 | 1 => Some(FailurePolicy::Stop),
                2 => Some(FailurePolicy::Pause),
                _ => None, // the plan's: PAUSE
            },
            actions: actions(w, rng),
            servers: (0..rng.random_range(1..=3u32))
                .map(|s| PlanServer {
                    source_server_id: SourceServerId::parse(&format!("s-{:017}", w * 10 + s))
                        .expect("a server id"),
                    server_name: None,
                    impact: if rng.random_bool(0.2) {
                        Impact::Optional
                    } else {
                        Impact::Critical
                    },
                })
                .collect(),
        })
        .collect();
    Plan {
        target_rto_seconds: None,
        cleanup_after_seconds: None,
        plan_id: PlanId::from_uuid(uuid::Uuid::from_u128(rng.random())),
        plan_name: None,
        is_drill: true,
        wave_timeout_seconds: None,
        on_wave_failure: rng.random_bool(0.5).then_some(FailurePolicy::Pause),
        waves,
    }
}

/// The targets of the plans' actions, and how they behave (`ACTION_SCRIPTS`).
const TARGETS: [(&str, &str); 6] = [
    ("LAMBDA", "fn-ok"),
    ("LAMBDA", "fn-flaky"),
    ("LAMBDA", "fn-slow"),
    ("SSM_AUTOMATION", "doc-ok"),
    ("SSM_AUTOMATION", "doc-flaky"),
    ("SSM_AUTOMATION", "doc-slow"),
];
/// Every action's timeout: a slow target runs past it.
const ACTION_TIMEOUT_SECS: u64 = 120;

/// Flaky targets fail their first run (a retry passes); slow ones outlast the timeout; runbooks
/// and functions otherwise take a step or two of simulated time.
fn action_scripts() -> ActionScripts {
    let flaky = ActionScript::ending(ActionOutcome::Fail, "simulated: flaky").first_runs(1);
    let slow = ActionScript {
        duration_seconds: Some(ACTION_TIMEOUT_SECS * 3),
        ..ActionScript::default()
    };
    ActionScripts {
        function_duration: Spread::new(0, 20),
        automation_start: Spread::new(0, 10),
        automation_duration: Spread::new(10, 90),
        ..ActionScripts::default()
    }
    .with_function("fn-flaky", flaky.clone())
    .with_function("fn-slow", slow.clone())
    .with_document("doc-flaky", flaky)
    .with_document("doc-slow", slow)
}

/// Up to one action before wave `w`'s launch and one after it completes, now and then.
fn actions(w: u32, rng: &mut ChaCha8Rng) -> Vec<PlanAction> {
    let mut actions = Vec::new();
    for when in ["BEFORE_LAUNCH", "AFTER_COMPLETE"] {
        if !rng.random_bool(0.3) {
            continue;
        }
        let (kind, target) = TARGETS[rng.random_range(0..TARGETS.len())];
        actions.push(PlanAction {
            name: format!("{}-{w}", when.to_lowercase()),
            when: when.to_owned(),
            kind: kind.to_owned(),
            target: target.to_owned(),
            parameters: None,
            timeout_seconds: i64::try_from(ACTION_TIMEOUT_SECS).ok(),
            on_failure: Some(
                if rng.random_bool(0.7) {
                    "FAIL"
                } else {
                    "CONTINUE"
                }
                .to_owned(),
            ),
        });
    }
    actions
}

/// Servers that fail in every attempt, and servers that fail in their first attempt (a retry
/// launches them).
fn faults(plan: &Plan, rng: &mut ChaCha8Rng) -> FaultScript {
    let mut faults = FaultScript::default();
    for server in plan.waves.iter().flat_map(|w| &w.servers) {
        let id = server.source_server_id.clone();
        match rng.random_range(0..20) {
            0..=2 => {
                faults.failing_servers.insert(id);
            }
            3..=8 => {
                faults.flaky_servers.insert(id, 1);
            }
            _ => {}
        }
    }
    faults
}

async fn interleaving(store: Arc<DynamoDbStore>, seed: u64) -> Result<Tally, String> {
    one_interleaving(store, seed)
        .await
        .map_err(|e| format!("seed {seed}: {e}"))
}

async fn one_interleaving(store: Arc<DynamoDbStore>, seed: u64) -> Result<Tally, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let plan = plan(&mut rng);
    // Fast jobs: a wave launches within a step or two of simulated time.
    let timings = Timings {
        job_start: Spread::new(0, 20),
        server_start: Spread::new(0, 20),
        server_launch: Spread::new(10, 60),
        job_complete_lag_secs: 5,
    };
    let policy = Policy {
        // One or two servers per job: most waves are launched as several parts.
        max_servers_per_job: [1, 2, 100][rng.random_range(0..3)],
        max_wave_attempts: rng.random_range(2..=3),
        ..Policy::default()
    };
    let sim = Sim::new(SimConfig {
        seed,
        progression: Progression::Timed(timings),
        faults: faults(&plan, &mut rng),
        policy,
        actions: action_scripts(),
        ..SimConfig::default()
    });
    let journal = Journal::new(store);
    let id = ExecutionId::from_uuid(uuid::Uuid::from_u128(rng.random()));
    let created = ops::create_execution(&journal, sim.clock.as_ref(), &plan, id)
        .await
        .map_err(|e| e.to_string())?;
    let run = Run {
        sim: &sim,
        journal: &journal,
        target: Target {
            execution_id: id,
            plan_id: plan.plan_id,
        },
    };
    let ports = Ports::new(&journal, sim.clock.as_ref(), &sim.policy)
        .with_drs(&sim.drs)
        .with_ec2(&sim.ec2)
        .with_workflow(sim.workflow.as_ref())
        .with_actions(&sim.functions, &sim.automation);
    let mut checker = Checker {
        previous: Some(created),
        ..Checker::default()
    };
    let mut tally = Tally::default();
    for step in 0..STEPS {
        let last = checker.previous.as_ref().expect("the record as last read");
        // The state machine's next step and an operator's answer to a pause, as they would come
        // on the record as last read, and up to two more of anything, racing them.
        let mut chosen: Vec<(Op, Option<u32>)> = Vec::new();
        chosen.extend(workflow_step(last, &sim));
        chosen.extend(operator_step(last, &mut rng));
        // DRS reports the servers of a wave in flight as their launches end.
        if let Some(w) = last.in_flight().next() {
            if rng.random_bool(0.5) {
                chosen.push((Op::Advance, Some(w.wave_number)));
            }
        }
        for _ in 0..rng.random_range(0..=2) {
            let op = OPS[rng.random_range(0..OPS.len())];
            let wave = match op {
                Op::Retry | Op::Skip => Some(decision_wave(last, &plan, &mut rng)),
                Op::Advance => {
                    Some(rng.random_range(0..=u32::try_from(plan.waves.len()).unwrap_or(0)))
                }
                _ => None,
            };
            chosen.push((op, wave));
        }
        let chosen: Vec<(Op, Option<u32>, u64)> = chosen
            .into_iter()
            .map(|(op, wave)| (op, wave, rng.random_range(0..4)))
            .collect();
        let answers = futures::future::join_all(chosen.iter().map(|&(op, wave, delay_ms)| {
            let ports = &ports;
            let run = &run;
            async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                run.one(ports, op, wave).await
            }
        }))
        .await;
        tally.advances_launched += answers
            .iter()
            .filter(|a| a.op == Op::Advance && a.field("outcome") == Some("LAUNCHED"))
            .count();
        sim.clock.advance_secs(rng.random_range(10..100));
        let record = journal
            .load(id)
            .await
            .map_err(|e| format!("step {step}: the record does not read back: {e}"))?
            .ok_or(format!("step {step}: the record vanished"))?;
        let summary: Vec<String> = answers
            .iter()
            .map(|a| match a.wave {
                Some(w) => format!("{:?}({w})={}", a.op, a.code),
                None => format!("{:?}={}", a.op, a.code),
            })
            .collect();
        checker
            .after_step(&run, &answers, &record, &mut tally)
            .map_err(|e| format!("step {step} after [{}]: {e}", summary.join(", ")))?;
    }
    let last = checker
        .previous
        .as_ref()
        .map_or("?".into(), |e| e.status().to_string());
    *tally.endings.entry(last).or_default() += 1;
    Ok(tally)
}

/// What the state machine does next on `record` (nothing while it waits at a pause).
fn workflow_step(record: &Execution, sim: &Sim) -> Option<(Op, Option<u32>)> {
    let parked = record.status() == ExecutionStatus::Paused
        && record
            .header
            .task_token
            .as_ref()
            .is_some_and(|t| !t.release_pending);
    if parked {
        return None;
    }
    let op = match next_action(record, now(sim.clock.as_ref()), &sim.policy) {
        NextAction::Launch => Op::Launch,
        NextAction::Wait => Op::Poll,
        NextAction::Pause => Op::PauseWithToken,
        NextAction::Act => Op::Act,
        NextAction::Finalize if record.status().is_terminal() => return None,
        NextAction::Finalize => Op::Finalize,
    };
    Some((op, None))
}

/// An operator who answers what the record shows, often: a failed wave is retried or skipped, a
/// pause resumed; now and then a second operator cancels while the first decides.
fn operator_step(record: &Execution, rng: &mut ChaCha8Rng) -> Vec<(Op, Option<u32>)> {
    if let Some(w) = awaiting_decision(record) {
        let op = if rng.random_bool(0.7) {
            Op::Retry
        } else {
            Op::Skip
        };
        if !rng.random_bool(0.6) {
            return vec![];
        }
        let mut ops = vec![(op, Some(w.wave_number))];
        if rng.random_bool(0.2) {
            // A second operator cancels meanwhile.
            ops.push((Op::Cancel, None));
        }
        return ops;
    }
    if record.status() == ExecutionStatus::Paused && rng.random_bool(0.5) {
        vec![(Op::Resume, None)]
    } else {
        vec![]
    }
}

/// The wave an operator decides on: the failed one the record showed at the last step, mostly;
/// sometimes any wave, or one the plan does not have.
fn decision_wave(last: &Execution, plan: &Plan, rng: &mut ChaCha8Rng) -> u32 {
    let failed = last.waves.iter().find(|w| w.status == WaveStatus::Failed);
    match failed {
        Some(w) if rng.random_bool(0.85) => w.wave_number,
        _ => rng.random_range(0..=u32::try_from(plan.waves.len()).unwrap_or(0)),
    }
}

impl Run<'_> {
    /// DRS's launch result about the latest job of wave `wave` as the record stands, or about a
    /// job DRS does not know when the wave has none.
    async fn launch_result(&self, wave: Option<u32>) -> LaunchResult {
        let record = self
            .journal
            .load(self.target.execution_id)
            .await
            .ok()
            .flatten();
        let job = record
            .as_ref()
            .and_then(|e| e.wave(wave.unwrap_or_default()))
            .and_then(|w| w.jobs.last())
            .map(|j| j.job_id.clone());
        LaunchResult {
            job_id: job
                .unwrap_or_else(|| JobId::parse("drsjob-00000000000000000").expect("a job id")),
            state: Some("RECOVERY_LAUNCH_SUCCEEDED".into()),
            source_server_id: None,
            event_id: None,
        }
    }

    /// One operation, as its Lambda runs it: a parsed request through `ops::run`.
    async fn one(&self, ports: &Ports<'_>, op: Op, wave: Option<u32>) -> Answer {
        let target = self.target;
        let decision = || WaveTarget {
            target,
            wave_number: wave.unwrap_or_default(),
        };
        let request = match op {
            Op::Poll => Request::Poll(PollRequest {
                target,
                summary: true,
                workflow_run: None,
            }),
            Op::Launch => Request::Launch(target),
            Op::Pause => Request::Pause(PauseRequest {
                target,
                task_token: None,
            }),
            Op::PauseWithToken => Request::Pause(PauseRequest {
                target,
                task_token: Some(self.sim.workflow.issue_token()),
            }),
            Op::Resume => Request::Resume(target),
            Op::Cancel => Request::Cancel(target),
            Op::Finalize => Request::Finalize(target),
            Op::Retry => Request::Retry(decision()),
            Op::Skip => Request::Skip(decision()),
            Op::Act => Request::Act(target),
            Op::Advance => Request::Advance(self.launch_result(wave).await),
        };
        let actor = drs_sim::driver::actor(request.operation());
        let body = ops::run(ports, request, actor).await;
        Answer {
            op,
            wave,
            code: execution_core::api::status_code_of(&body),
            body,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The invariants
// ---------------------------------------------------------------------------------------------

impl Checker {
    fn after_step(
        &mut self,
        run: &Run<'_>,
        answers: &[Answer],
        record: &Execution,
        tally: &mut Tally,
    ) -> Result<(), String> {
        for a in answers {
            *tally.answers.entry((a.op, a.code)).or_default() += 1;
            check_answer_shape(a)?;
            if a.op == Op::PauseWithToken && a.ok() && a.field("pauseReason") == Some("WAVE_FAILED")
            {
                tally.wave_failed_pauses += 1;
            }
            if a.field("message")
                .is_some_and(|m| m.contains("maxWaveAttempts"))
            {
                tally.attempts_exhausted += 1;
            }
        }
        if let Some(previous) = &self.previous {
            for (old, new) in previous.waves.iter().zip(&record.waves) {
                for run in new
                    .action_runs
                    .iter()
                    .filter(|r| r.status != ActionStatus::Running)
                {
                    let seen = old.action_runs.iter().any(|r| {
                        (r.name.as_str(), r.attempt, r.status)
                            == (run.name.as_str(), run.attempt, run.status)
                    });
                    if !seen {
                        *tally.action_runs.entry(run.status.to_string()).or_default() += 1;
                    }
                }
                if new.status == WaveStatus::Failed
                    && new.failure_reason == Some(WaveFailure::ActionFailed)
                    && old.status != WaveStatus::Failed
                {
                    tally.actions_failing_waves += 1;
                }
            }
        }
        let cancelled = answers.iter().any(|a| a.op == Op::Cancel && a.ok());
        let decided = answers
            .iter()
            .any(|a| matches!(a.op, Op::Retry | Op::Skip) && a.ok());
        if cancelled && decided {
            tally.decisions_racing_cancel += 1;
        }

        let history = History::of(run.journal)?;
        check_history(&history, run.sim, record)?;
        check_record(record, &run.sim.policy)?;
        check_drs(record, &history, run.sim)?;
        self.check_terminal(record)?;
        self.check_pause_holds(answers, record)?;
        self.check_decisions(answers, record, tally)?;
        check_tokens(&history, run.sim)?;
        check_actions(&history, run.sim, record)?;
        self.previous = Some(record.clone());
        Ok(())
    }

    /// A pause that answered 200 PAUSED holds until a resume, retry, skip or cancel answers 200:
    /// the wave it stands before is not launched meanwhile. (Within one step the order is not
    /// known: an ending that answered beside the pause ends it.)
    fn check_pause_holds(&mut self, answers: &[Answer], record: &Execution) -> Result<(), String> {
        let ended = answers
            .iter()
            .any(|a| a.ok() && matches!(a.op, Op::Resume | Op::Retry | Op::Skip | Op::Cancel));
        if let (Some(n), false) = (self.pause_holds_before, ended) {
            let w = record
                .wave(n)
                .ok_or("paused before a wave that does not exist")?;
            // A wave action taken before the pause may end after it and fail the wave: that is
            // no launch.
            let failed_by_action = w.status == WaveStatus::Failed
                && w.failure_reason == Some(WaveFailure::ActionFailed)
                && w.launch_time.is_none();
            if !matches!(w.status, WaveStatus::Pending | WaveStatus::Cancelled) && !failed_by_action
            {
                return Err(format!(
                    "wave {n} is {} although a pause before it answered 200 and nothing ended it",
                    w.status
                ));
            }
        }
        let paused = answers.iter().find(|a| {
            matches!(a.op, Op::Pause | Op::PauseWithToken)
                && a.ok()
                && a.field("status") == Some("PAUSED")
        });
        self.pause_holds_before = match (ended, paused) {
            (true, _) => None,
            (false, Some(p)) => p.number("pausedBeforeWave").or(self.pause_holds_before),
            (false, None) => self.pause_holds_before,
        };
        Ok(())
    }

    /// A terminal execution never changes: its status, version and end, and its waves' statuses.
    fn check_terminal(&mut self, record: &Execution) -> Result<(), String> {
        let h = &record.header;
        let now = (
            h.status,
            h.version,
            h.end_time,
            record.waves.iter().map(|w| w.status).collect::<Vec<_>>(),
        );
        match &self.terminal {
            Some(then) if *then != now => Err(format!(
                "terminal {} v{} {:?} became {} v{} {:?}",
                then.0, then.1, then.3, now.0, now.1, now.3
            )),
            Some(_) => Ok(()),
            None => {
                if h.status.is_terminal() {
                    self.terminal = Some(now);
                }
                Ok(())
            }
        }
    }

    /// A retry or skip that answered 200 is never lost or reversed: a skipped wave stays SKIPPED,
    /// a retried wave's attempt never falls below the one retry answered with, and one failure is
    /// never both retried and skipped.
    fn check_decisions(
        &mut self,
        answers: &[Answer],
        record: &Execution,
        tally: &mut Tally,
    ) -> Result<(), String> {
        let before = |n: u32| {
            self.previous
                .as_ref()
                .and_then(|e| e.wave(n))
                .map_or(0, |w| w.attempt)
        };
        let mut new_retries = BTreeSet::new();
        for a in answers
            .iter()
            .filter(|a| a.ok() && matches!(a.op, Op::Retry | Op::Skip))
        {
            let Some(n) = a.wave else { continue };
            if a.number("waveNumber") != Some(n) {
                return Err(format!("{:?} of wave {n} answered {}", a.op, a.body));
            }
            match a.op {
                Op::Skip => {
                    if a.field("waveStatus") != Some("SKIPPED") {
                        return Err(format!("skip answered {}", a.body));
                    }
                    self.skipped.insert(n);
                }
                Op::Retry => {
                    let attempt = a.number("attempt").ok_or("retry without its attempt")?;
                    if attempt > before(n) {
                        new_retries.insert(n);
                    }
                    let best = self.retried.entry(n).or_default();
                    *best = (*best).max(attempt);
                }
                _ => {}
            }
        }
        tally.retried_attempts += new_retries.len();
        for n in &new_retries {
            if answers
                .iter()
                .any(|a| a.op == Op::Skip && a.ok() && a.wave == Some(*n))
            {
                return Err(format!(
                    "wave {n} was both retried (a new attempt) and skipped"
                ));
            }
        }
        for n in &self.skipped {
            let w = record.wave(*n).ok_or("a skipped wave vanished")?;
            if w.status != WaveStatus::Skipped {
                return Err(format!(
                    "a skip of wave {n} answered 200, and the wave is {}",
                    w.status
                ));
            }
        }
        for (n, attempt) in &self.retried {
            let w = record.wave(*n).ok_or("a retried wave vanished")?;
            if w.attempt < *attempt {
                return Err(format!(
                    "a retry of wave {n} answered attempt {attempt}, and the wave is at attempt {}",
                    w.attempt
                ));
            }
        }
        Ok(())
    }
}

/// No decision strands the workflow: a token the record held is released (SendTaskSuccess) once
/// a resume, retry, skip or cancel marks it, and a held token leaves the record only that way, for
/// a new pause's token, or by finalize.
fn check_tokens(history: &History, sim: &Sim) -> Result<(), String> {
    {
        let mut marked: HashSet<&str> = HashSet::new();
        for (old, new, _) in history.header_moves()? {
            if let Some(t) = new.task_token.as_ref().filter(|t| t.release_pending) {
                marked.insert(t.token.expose());
            }
            let Some(held) = old.task_token.as_ref().filter(|t| !t.release_pending) else {
                continue;
            };
            let same = |t: &execution_core::model::HeldToken| t.token == held.token;
            let fine = match &new.task_token {
                Some(t) if same(t) => true, // still held, or marked for release
                Some(_) => new.status == ExecutionStatus::Paused, // a pause's new token
                None => new.status.is_terminal(), // finalize: the wait is over
            };
            if !fine {
                return Err(format!(
                    "a held task token left the record unreleased ({} v{} → {} v{})",
                    old.status, old.version, new.status, new.version
                ));
            }
        }
        for token in marked {
            let parsed = TaskToken::parse(token).map_err(|e| e.to_string())?;
            let state = sim.workflow.state(&parsed);
            if state != Some(TokenState::Succeeded) {
                return Err(format!(
                    "a task token marked for release is {state:?}, not released"
                ));
            }
        }
    }
    Ok(())
}

/// The wave actions: every attempt ran at most once and is the record's, a new run is taken only
/// by a write that moves the header's version on (act's), never while PAUSED or CANCELLING and
/// only on a wave where it runs, a run that ended never changes, and no wave launches before its
/// BEFORE_LAUNCH actions are done, or after a COMPLETED wave whose AFTER_COMPLETE actions are not.
fn check_actions(history: &History, sim: &Sim, record: &Execution) -> Result<(), String> {
    let mine = record.id().to_string();
    // (wave, action, attempt) as the call named them → the calls that ran it.
    type RunKey = (Option<u32>, Option<String>, Option<u32>);
    let mut ran: BTreeMap<RunKey, usize> = BTreeMap::new();
    for call in sim
        .calls
        .action_calls()
        .into_iter()
        .filter(|c| c.execution_id.as_deref() == Some(mine.as_str()) && c.effect.ran())
    {
        let key = (call.wave_number, call.action, call.attempt);
        let known = record.wave(key.0.unwrap_or(u32::MAX)).is_some_and(|w| {
            w.action_runs
                .iter()
                .any(|r| Some(&r.name) == key.1.as_ref() && Some(r.attempt) == key.2)
        });
        if !known {
            return Err(format!(
                "{} ran {key:?}, a run the record does not have",
                call.api
            ));
        }
        let n = ran.entry(key.clone()).or_default();
        *n += 1;
        if *n > 1 {
            return Err(format!("action run {key:?} ran {n} times"));
        }
    }
    for (old, new, commit) in history.wave_moves()? {
        let n = new.wave_number;
        for run in &new.action_runs {
            let before = old
                .action_runs
                .iter()
                .find(|r| r.name == run.name && r.attempt == run.attempt);
            match before {
                Some(b) if b.status != ActionStatus::Running && b != run => {
                    return Err(format!(
                        "wave {n}: run {} attempt {} ended {} and was rewritten as {}",
                        run.name, run.attempt, b.status, run.status
                    ));
                }
                Some(_) => {}
                None => {
                    let header = history.header_write_of(commit).ok_or(format!(
                        "wave {n}: run {} attempt {} taken without moving the header's version on",
                        run.name, run.attempt
                    ))?;
                    let was = &history
                        .headers
                        .get(&(header.version - 1))
                        .ok_or("a take's header write follows no header")?
                        .0;
                    if !matches!(
                        was.status,
                        ExecutionStatus::Pending | ExecutionStatus::Polling
                    ) {
                        return Err(format!(
                            "wave {n}: run {} attempt {} taken while the execution was {}",
                            run.name, run.attempt, was.status
                        ));
                    }
                    if old.status != run.when.wave_status() {
                        return Err(format!(
                            "wave {n}: {} run {} taken on a {} wave",
                            run.when.as_str(),
                            run.name,
                            old.status
                        ));
                    }
                }
            }
        }
        for b in &old.action_runs {
            if !new
                .action_runs
                .iter()
                .any(|r| r.name == b.name && r.attempt == b.attempt)
            {
                return Err(format!(
                    "wave {n}: run {} attempt {} vanished",
                    b.name, b.attempt
                ));
            }
        }
        if old.status == WaveStatus::Pending && new.status == WaveStatus::Launching {
            if let Some((_, a, _)) = old.next_action_of(ActionWhen::BeforeLaunch) {
                return Err(format!(
                    "wave {n} launched before its BEFORE_LAUNCH action {} was done",
                    a.name
                ));
            }
            // The wave before, as it stood when this one was claimed.
            if let Some(previous) = n.checked_sub(1).and_then(|p| history.wave_at(p, commit)) {
                if previous.status == WaveStatus::Completed {
                    if let Some((_, a, _)) = previous.next_action_of(ActionWhen::AfterComplete) {
                        return Err(format!(
                            "wave {n} launched before wave {}'s AFTER_COMPLETE action {} was done",
                            previous.wave_number, a.name
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// 200, or the seed's error shape with a code of its status; never a 500 (no fault is injected).
fn check_answer_shape(a: &Answer) -> Result<(), String> {
    if a.ok() {
        return Ok(());
    }
    let error = a.field("error").unwrap_or_default();
    let known = match a.code {
        400 => ["MISSING_PARAMETER", "INVALID_PARAMETER", "INVALID_STATE"].contains(&error),
        404 => error == "NOT_FOUND",
        409 => ["CONFLICT", "TOKEN_REJECTED"].contains(&error),
        _ => false,
    };
    let fields = a.body.as_object().map_or(0, serde_json::Map::len);
    if !known || fields != 3 || a.field("message").is_none_or(str::is_empty) {
        return Err(format!("{:?} answered {}", a.op, a.body));
    }
    Ok(())
}

/// Whether some row of a lifecycle table moves `from` to `to`.
fn header_move_listed(from: ExecutionStatus, to: ExecutionStatus) -> bool {
    TABLE.iter().any(|&(_, f, t)| (f, t) == (from, to))
}

fn wave_move_listed(from: WaveStatus, to: WaveStatus) -> bool {
    WAVE_TABLE.iter().any(|&(_, f, t)| (f, t) == (from, to))
}

/// Every accepted write: the header and each wave move only along the lifecycle's tables (one
/// row per write), a wave's attempt only by a claim or a retry and never past maxWaveAttempts, a
/// WAVE_FAILED pause ends only by a decision on that wave or a cancel, every claim moves the
/// header's version on, and the record is the last write of each.
fn check_history(history: &History, sim: &Sim, record: &Execution) -> Result<(), String> {
    let max = sim.policy.max_wave_attempts;
    for (old, new, commit) in history.header_moves()? {
        let moved = format!(
            "{} v{} → {} v{}",
            old.status, old.version, new.status, new.version
        );
        if old.status.is_terminal() {
            return Err(format!("a terminal execution was written again: {moved}"));
        }
        if !header_move_listed(old.status, new.status) {
            return Err(format!(
                "the execution moved off the lifecycle table: {moved}"
            ));
        }
        if new.status == ExecutionStatus::Paused
            && new.pause_reason == Some(PauseReason::WaveFailed)
            && new.failed_wave.is_none()
        {
            return Err(format!("a WAVE_FAILED pause names no failed wave: {moved}"));
        }
        if old.status == ExecutionStatus::Paused
            && old.pause_reason == Some(PauseReason::WaveFailed)
            && new.status == ExecutionStatus::Polling
        {
            let n = old
                .failed_wave
                .ok_or("a WAVE_FAILED pause without its wave")?;
            // A retry of a failed action goes back to where the action runs.
            let decided = history.wave_write_of(commit, n).is_some_and(|(o, w)| {
                o.status == WaveStatus::Failed
                    && (matches!(w.status, WaveStatus::Launching | WaveStatus::Skipped)
                        || (o.failure_reason == Some(WaveFailure::ActionFailed)
                            && matches!(w.status, WaveStatus::Pending | WaveStatus::Completed)))
            });
            if !decided {
                return Err(format!(
                    "a pause for failed wave {n} ended without a retry or skip of it: {moved}"
                ));
            }
        }
    }
    for (old, new, _) in history.wave_moves()? {
        let n = new.wave_number;
        let moved = format!(
            "wave {n} {} (attempt {}) v{} → {} (attempt {}) v{}",
            old.status, old.attempt, old.version, new.status, new.attempt, new.version
        );
        if !wave_move_listed(old.status, new.status) {
            return Err(format!(
                "a wave moved off the lifecycle's wave table: {moved}"
            ));
        }
        let attempt_ok = new.attempt == old.attempt
            || (old.status, new.status, old.attempt, new.attempt)
                == (WaveStatus::Pending, WaveStatus::Launching, 0, 1)
            || (old.status == WaveStatus::Failed
                && new.status == WaveStatus::Launching
                && new.attempt == old.attempt.max(1) + 1);
        if !attempt_ok {
            return Err(format!(
                "an attempt changed outside a claim or a retry: {moved}"
            ));
        }
        if new.attempt > max {
            return Err(format!("past maxWaveAttempts {max}: {moved}"));
        }
    }
    history.claims()?;
    // The record is the last accepted write of each item: nothing landed that the store did not
    // report, nothing reported that did not land.
    let (last, _) = history.headers.values().next_back().ok_or("no header")?;
    let mut read = record.header.clone();
    read.last_polled_time = last.last_polled_time;
    if &read != last {
        return Err(format!(
            "the stored header v{} is not the last accepted write v{}",
            record.header.version, last.version
        ));
    }
    for w in &record.waves {
        let last = history
            .waves
            .range((w.wave_number, 0)..=(w.wave_number, u64::MAX))
            .next_back()
            .map(|(_, (wave, _))| wave)
            .ok_or(format!("wave {} has no history", w.wave_number))?;
        if w != last {
            return Err(format!(
                "stored wave {} v{} is not its last accepted write v{}",
                w.wave_number, w.version, last.version
            ));
        }
    }
    Ok(())
}

/// The record is one the engine can write: it breaks no rule of `invariants::check` (the rules the
/// use-case, fault and race tests share), and none of those that checker does not have: a PAUSED
/// execution stands before a wave, or for a failed wave whose policy is PAUSE; no wave is past
/// `maxWaveAttempts`; a STARTED wave has a job of its attempt, a FAILED one its end and reason, a
/// CANCELLED one its end.
fn check_record(e: &Execution, policy: &Policy) -> Result<(), String> {
    let broken = invariants::check(e);
    if !broken.is_empty() {
        let rules: Vec<String> = broken.iter().map(ToString::to_string).collect();
        return Err(format!("the record breaks: {}", rules.join("; ")));
    }
    let h = &e.header;
    match e.pause_reason() {
        Some(PauseReason::WaveFailed) => {
            let n = h
                .failed_wave
                .ok_or("PAUSED for a failed wave that it does not name")?;
            let w = e.wave(n).ok_or("PAUSED for a wave that does not exist")?;
            if w.failure_policy() != FailurePolicy::Pause {
                return Err(format!(
                    "PAUSED for failed wave {n}, whose policy is {:?}",
                    w.failure_policy()
                ));
            }
        }
        Some(reason) => {
            h.paused_before_wave
                .ok_or(format!("PAUSED ({reason:?}) before no wave"))?;
        }
        None => {}
    }
    for w in &e.waves {
        let n = w.wave_number;
        if w.attempt > policy.max_wave_attempts {
            return Err(format!("wave {n} is at attempt {}", w.attempt));
        }
        let problem = match w.status {
            WaveStatus::Failed if w.end_time.is_none() || w.failure_reason.is_none() => {
                "lacks its end or its reason"
            }
            WaveStatus::Cancelled if w.end_time.is_none() => "has no end",
            _ => "",
        };
        if !problem.is_empty() {
            return Err(format!("wave {n} is {} and {problem}", w.status));
        }
    }
    Ok(())
}

/// DRS's side: one job per part of an attempt, never two jobs of one attempt for a server, never
/// a server launched again by a later attempt, every job started for a claim the journal shows
/// and none for a claim taken after a cancel, and the jobs a wave records are DRS's.
fn check_drs(e: &Execution, history: &History, sim: &Sim) -> Result<(), String> {
    let mine = e.id().to_string();
    let jobs: Vec<Job> = sim
        .world
        .jobs()
        .into_iter()
        .filter(|j| j.tags.get(TAG_EXECUTION_ID) == Some(&mine))
        .collect();
    let tag = |j: &Job, key: &str| -> Result<u32, String> {
        j.tags
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or(format!("job {} has no {key} tag: {:?}", j.job_id, j.tags))
    };
    let claims = history.claims()?;
    let cancel = history
        .header_moves()?
        .into_iter()
        .find(|(old, new, _)| {
            new.status == ExecutionStatus::Cancelling && old.status != ExecutionStatus::Cancelling
        })
        .map(|(_, new, _)| new.version);
    if let Some(c) = cancel {
        if let Some(late) = claims.iter().find(|cl| cl.header_version > c) {
            return Err(format!(
                "wave {} part {} was claimed (header v{}) after the cancel (v{c})",
                late.wave, late.part, late.header_version
            ));
        }
    }
    let mut parts: BTreeMap<(u32, u32, u32), &Job> = BTreeMap::new();
    let mut taken: BTreeMap<(u32, u32), BTreeMap<&SourceServerId, &Job>> = BTreeMap::new();
    // Servers DRS launched, by wave, with the attempt that launched them.
    let mut launched: HashMap<(u32, &SourceServerId), u32> = HashMap::new();
    for job in &jobs {
        let (w, a, p) = (
            tag(job, TAG_WAVE_NUMBER)?,
            tag(job, TAG_ATTEMPT)?,
            tag(job, TAG_PART)?,
        );
        if let Some(other) = parts.insert((w, a, p), job) {
            return Err(format!(
                "wave {w} attempt {a} part {p} has two DRS jobs: {} and {}",
                other.job_id, job.job_id
            ));
        }
        if !claims
            .iter()
            .any(|c| (c.wave, c.attempt, c.part) == (w, a, p))
        {
            return Err(format!(
                "DRS job {} (wave {w} attempt {a} part {p}) was started for no claim",
                job.job_id
            ));
        }
        let wave = e
            .wave(w)
            .ok_or(format!("a DRS job for wave {w}, which does not exist"))?;
        for s in &job.servers {
            let id = &s.source_server_id;
            if !wave.source_server_ids().any(|x| x == id) {
                return Err(format!(
                    "DRS job {} launches {id}, not of wave {w}",
                    job.job_id
                ));
            }
            if let Some(other) = taken.entry((w, a)).or_default().insert(id, job) {
                return Err(format!(
                    "server {id} is in two DRS jobs of wave {w} attempt {a}: {} and {}",
                    other.job_id, job.job_id
                ));
            }
            if s.launch_status == LaunchStatus::Launched {
                let first = launched.entry((w, id)).or_insert(a);
                *first = (*first).min(a);
            }
        }
    }
    for job in &jobs {
        let (w, a) = (tag(job, TAG_WAVE_NUMBER)?, tag(job, TAG_ATTEMPT)?);
        if let Some(s) = job.servers.iter().find(|s| {
            launched
                .get(&(w, &s.source_server_id))
                .is_some_and(|earlier| *earlier < a)
        }) {
            return Err(format!(
                "attempt {a} of wave {w} launches {} again, which an earlier attempt launched",
                s.source_server_id
            ));
        }
    }
    for w in &e.waves {
        for recorded in &w.jobs {
            let key = (w.wave_number, recorded.attempt, recorded.part);
            let job = parts.get(&key).ok_or(format!(
                "wave {} records job {} (attempt {} part {}), which DRS never started for it",
                w.wave_number, recorded.job_id, recorded.attempt, recorded.part
            ))?;
            if job.job_id != recorded.job_id {
                return Err(format!(
                    "wave {} records job {} for attempt {} part {}; DRS started {}",
                    w.wave_number, recorded.job_id, recorded.attempt, recorded.part, job.job_id
                ));
            }
        }
        for s in &w.server_statuses {
            let Some(id) = &s.job_id else { continue };
            let job = jobs
                .iter()
                .find(|j| &j.job_id == id)
                .ok_or("a server's job is unknown")?;
            if !job
                .servers
                .iter()
                .any(|x| x.source_server_id == s.source_server_id)
            {
                return Err(format!(
                    "server {} names job {id}, which DRS did not start for it",
                    s.source_server_id
                ));
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_interleavings_keep_every_invariant() {
    let client = moto::dynamodb_client();
    let table = format!("races-{}", uuid::Uuid::new_v4());
    create_table(&client, &table, INDEX)
        .await
        .expect("create the table in moto");
    let store = Arc::new(DynamoDbStore::new(
        client.clone(),
        table.clone(),
        INDEX.into(),
    ));
    let base: u64 = std::env::var("RACE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_0000);
    let count: u64 = std::env::var("RACE_INTERLEAVINGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_INTERLEAVINGS);
    let results: Vec<Result<Tally, String>> = stream::iter(base..base + count)
        .map(|seed| interleaving(store.clone(), seed))
        .buffer_unordered(8)
        .collect()
        .await;
    // moto keeps every table in memory.
    let _ = client.delete_table().table_name(&table).send().await;
    let mut tally = Tally::default();
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(t) => tally.add(&t),
            Err(e) => failures.push(e),
        }
    }
    eprintln!("{tally:#?}");
    assert!(
        failures.is_empty(),
        "{} of {count} interleavings broke an invariant:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if count >= 50 {
        // The races this test is for happened, not only the quiet paths.
        for (what, seen) in [
            ("retries answered 200", tally.ok(Op::Retry)),
            ("skips answered 200", tally.ok(Op::Skip)),
            ("new attempts", tally.retried_attempts),
            ("WAVE_FAILED pauses", tally.wave_failed_pauses),
            ("refusals past maxWaveAttempts", tally.attempts_exhausted),
            ("cancels answered 200", tally.ok(Op::Cancel)),
            ("finalizes answered 200", tally.ok(Op::Finalize)),
            ("acts answered 200", tally.ok(Op::Act)),
            (
                "action runs that succeeded",
                tally.action_runs.get("SUCCEEDED").copied().unwrap_or(0),
            ),
            (
                "action runs that timed out",
                tally.action_runs.get("TIMED_OUT").copied().unwrap_or(0),
            ),
            ("waves failed by an action", tally.actions_failing_waves),
            ("waves launched by advance", tally.advances_launched),
        ] {
            assert!(seen > 0, "no {what} in {count} interleavings: {tally:#?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The checks themselves
// ---------------------------------------------------------------------------------------------

/// An execution of `plan` launched (wave 0 STARTED) in the simulator's memory store, behind a
/// journal, and the checker that has seen it.
async fn launched(plan: &Plan) -> (Sim, Journal, Target, Checker) {
    let sim = Sim::new(SimConfig::default());
    let journal = Journal::new(sim.store.clone());
    let created = ops::create_execution(
        &journal,
        sim.clock.as_ref(),
        plan,
        ExecutionId::new_random(),
    )
    .await
    .expect("create");
    let target = Target {
        execution_id: created.id(),
        plan_id: plan.plan_id,
    };
    let ports = Ports::new(&journal, sim.clock.as_ref(), &sim.policy).with_drs(&sim.drs);
    let launched = ops::run(&ports, Request::Launch(target), Actor::Workflow).await;
    assert_eq!(launched["waveStatus"], "STARTED", "{launched}");
    let mut checker = Checker {
        previous: Some(created),
        ..Checker::default()
    };
    let record = sim.store.get(target.execution_id).expect("the record");
    let run = Run {
        sim: &sim,
        journal: &journal,
        target,
    };
    checker
        .after_step(&run, &[], &record, &mut Tally::default())
        .expect("a launched execution passes");
    (sim, journal, target, checker)
}

/// A write the engine would never make, accepted by the store as any conditional write is.
async fn accept(
    journal: &Journal,
    e: &Execution,
    header: Option<ExecutionHeader>,
    waves: Vec<Wave>,
) {
    let commit = Commit {
        execution_id: e.id(),
        header: header.map(|mut h| {
            let expected_version = e.header.version;
            h.version = expected_version + 1;
            HeaderWrite {
                expected_version,
                header: h,
            }
        }),
        waves: waves
            .into_iter()
            .map(|mut w| {
                let expected_version = e.wave(w.wave_number).expect("the wave").version;
                w.version = expected_version + 1;
                execution_core::ports::WaveWrite {
                    expected_version,
                    wave: w,
                }
            })
            .collect(),
        events: vec![],
    };
    journal.commit(&commit).await.expect("the store takes it");
}

/// What the checker says after `change` (given the record as launched) lands.
async fn verdict_after(
    plan: &Plan,
    change: impl AsyncFnOnce(&Sim, &Journal, &Execution),
    answers: &[Answer],
) -> Result<(), String> {
    let (sim, journal, target, mut checker) = launched(plan).await;
    let before = sim.store.get(target.execution_id).expect("the record");
    change(&sim, &journal, &before).await;
    let record = sim.store.get(target.execution_id).expect("the record");
    let run = Run {
        sim: &sim,
        journal: &journal,
        target,
    };
    checker.after_step(&run, answers, &record, &mut Tally::default())
}

fn test_plan() -> Plan {
    let mut plan = execution_core::fixtures::plan(&[2, 2]);
    plan.waves[0].on_failure = Some(FailurePolicy::Pause);
    plan
}

/// Each invariant fails on a history, a DRS or an answer that breaks it.
#[tokio::test]
async fn the_race_checks_catch_what_they_check() {
    let plan = test_plan();
    let failed = |e: &Execution| {
        let mut w = e.waves[0].clone();
        w.status = WaveStatus::Failed;
        w.end_time = Some(Timestamp(1));
        w.failure_reason = Some(execution_core::model::WaveFailure::ServersFailed);
        w
    };
    let mut cases: Vec<(&str, Result<(), String>)> = Vec::new();

    let r = verdict_after(
        &plan,
        async |_, j, e| {
            let mut w = e.waves[0].clone();
            w.status = WaveStatus::Pending;
            accept(j, e, None, vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("a wave moved back off the wave table", r));

    let r = verdict_after(
        &plan,
        async |_, j, e| {
            let mut w = e.waves[0].clone();
            w.attempt = 2;
            accept(j, e, None, vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("an attempt without a retry", r));

    let r = verdict_after(
        &plan,
        async |_, j, e| {
            let mut w = e.waves[1].clone();
            w.status = WaveStatus::Launching;
            w.attempt = 1;
            w.claim = Some(execution_core::model::LaunchClaim {
                part: 0,
                size: 2,
                claimed_time: Timestamp(5),
                first_claimed_time: None,
                held: true,
                uncertain: false,
            });
            accept(j, e, None, vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("a claim that leaves the header's version alone", r));

    let r = verdict_after(
        &plan,
        async |s, _, _| {
            let mut twin = s.world.jobs()[0].clone();
            twin.job_id = execution_core::fixtures::job(77);
            s.world.add_job(twin);
        },
        &[],
    )
    .await;
    cases.push(("two DRS jobs for one part", r));

    let r = verdict_after(
        &plan,
        async |s, _, _| {
            let mut stray = s.world.jobs()[0].clone();
            stray.job_id = execution_core::fixtures::job(78);
            stray.tags.insert(TAG_WAVE_NUMBER.into(), "1".into());
            stray.servers.clear();
            s.world.add_job(stray);
        },
        &[],
    )
    .await;
    cases.push(("a DRS job started for no claim", r));

    let r = verdict_after(
        &plan,
        async |_, j, e| {
            let mut h = e.header.clone();
            h.status = ExecutionStatus::Paused;
            h.pause_reason = Some(PauseReason::WaveFailed);
            h.failed_wave = Some(0);
            accept(j, e, Some(h), vec![failed(e)]).await;
            let paused = j.load(e.id()).await.unwrap().unwrap();
            let mut h = paused.header.clone();
            h.status = ExecutionStatus::Polling;
            h.pause_reason = None;
            h.failed_wave = None;
            accept(j, &paused, Some(h), vec![]).await;
        },
        &[],
    )
    .await;
    cases.push(("a WAVE_FAILED pause left without a decision", r));

    let r = verdict_after(
        &plan,
        async |s, j, e| {
            let mut h = e.header.clone();
            h.status = ExecutionStatus::Paused;
            h.pause_reason = Some(PauseReason::WaveFailed);
            h.failed_wave = Some(0);
            h.task_token = Some(execution_core::model::HeldToken {
                token: s.workflow.issue_token(),
                release_pending: false,
            });
            accept(j, e, Some(h), vec![failed(e)]).await;
            let paused = j.load(e.id()).await.unwrap().unwrap();
            let mut h = paused.header.clone();
            h.status = ExecutionStatus::Cancelling;
            h.pause_reason = None;
            h.failed_wave = None;
            h.task_token = None;
            accept(j, &paused, Some(h), vec![]).await;
        },
        &[],
    )
    .await;
    cases.push(("a held token dropped unreleased", r));

    let claim = |part: u32, at: i64| {
        Some(execution_core::model::LaunchClaim {
            part,
            size: 2,
            claimed_time: Timestamp(at),
            first_claimed_time: None,
            held: true,
            uncertain: false,
        })
    };
    let r = verdict_after(
        &plan,
        async |_, j, e| {
            let mut h = e.header.clone();
            h.status = ExecutionStatus::Paused;
            h.pause_reason = Some(PauseReason::Operator);
            h.paused_before_wave = Some(1);
            accept(j, e, Some(h), vec![]).await;
            let paused = j.load(e.id()).await.unwrap().unwrap();
            let mut w = paused.waves[1].clone();
            w.status = WaveStatus::Launching;
            w.attempt = 1;
            w.claim = claim(0, 5);
            accept(j, &paused, Some(paused.header.clone()), vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("a wave claimed while PAUSED before it", r));

    let r = verdict_after(
        &plan,
        async |s, j, e| {
            // Wave 0's servers launch; the wave is failed anyway, retried, and its second attempt's
            // job launches them again.
            s.clock.advance_secs(3600);
            accept(j, e, None, vec![failed(e)]).await;
            let e = j.load(e.id()).await.unwrap().unwrap();
            let mut w = e.waves[0].clone();
            w.status = WaveStatus::Launching;
            w.attempt = 2;
            accept(j, &e, Some(e.header.clone()), vec![w]).await;
            let e = j.load(e.id()).await.unwrap().unwrap();
            let mut w = e.waves[0].clone();
            w.claim = claim(0, 3600);
            accept(j, &e, Some(e.header.clone()), vec![w]).await;
            let mut again = s.world.jobs()[0].clone();
            again.job_id = execution_core::fixtures::job(79);
            again.tags.insert(TAG_ATTEMPT.into(), "2".into());
            s.world.add_job(again);
        },
        &[],
    )
    .await;
    cases.push(("a retry that launches a launched server again", r));

    let r = verdict_after(
        &plan,
        async |_, j, e| {
            // Cancelled once wave 0 had settled: nothing is in flight.
            let mut h = e.header.clone();
            h.status = ExecutionStatus::Cancelling;
            let mut done = e.waves[0].clone();
            done.status = WaveStatus::Completed;
            done.end_time = Some(Timestamp(9));
            for server in &mut done.server_statuses {
                server.launch_status = LaunchStatus::Launched;
            }
            accept(j, e, Some(h), vec![done]).await;
            let cancelling = j.load(e.id()).await.unwrap().unwrap();
            let mut w = cancelling.waves[1].clone();
            w.status = WaveStatus::Launching;
            w.attempt = 1;
            w.claim = claim(0, 5);
            accept(j, &cancelling, Some(cancelling.header.clone()), vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("a claim after a cancel", r));

    let r = verdict_after(
        &plan,
        async |_, j, e| {
            let mut h = e.header.clone();
            h.status = ExecutionStatus::Failed;
            h.end_time = Some(Timestamp(9));
            accept(j, e, Some(h), vec![]).await;
            let ended = j.load(e.id()).await.unwrap().unwrap();
            let mut h = ended.header.clone();
            h.status_message = Some("rewritten".into());
            accept(j, &ended, Some(h), vec![]).await;
        },
        &[],
    )
    .await;
    cases.push(("a terminal execution written again", r));

    let r = verdict_after(
        &plan,
        async |_, j, e| {
            let mut h = e.header.clone();
            h.end_time = Some(Timestamp(h.created_time.0 + 1));
            accept(j, e, Some(h), vec![]).await;
        },
        &[],
    )
    .await;
    assert!(
        r.as_ref().is_err_and(|e| e.contains("has an endTime")),
        "the shared invariants did not catch it: {r:?}"
    );
    cases.push(("a running execution with an end time", r));

    let retried = Answer {
        op: Op::Retry,
        wave: Some(0),
        code: 200,
        body: serde_json::json!({"statusCode": 200, "waveNumber": 0, "waveStatus": "LAUNCHING", "attempt": 2}),
    };
    let r = verdict_after(&plan, async |_, _, _| {}, &[retried]).await;
    cases.push(("a retry answered 200 and not in the record", r));

    let skipped = Answer {
        op: Op::Skip,
        wave: Some(0),
        code: 200,
        body: serde_json::json!({"statusCode": 200, "waveNumber": 0, "waveStatus": "SKIPPED", "attempt": 1}),
    };
    let r = verdict_after(&plan, async |_, _, _| {}, &[skipped]).await;
    cases.push(("a skip answered 200 and not in the record", r));

    // Wave actions: a plan whose wave 1 checks a function before its launch.
    let with_check = {
        let mut plan = test_plan();
        plan.waves[1].actions = vec![PlanAction {
            name: "check".into(),
            when: "BEFORE_LAUNCH".into(),
            kind: "LAMBDA".into(),
            target: "fn-ok".into(),
            parameters: None,
            timeout_seconds: Some(60),
            on_failure: None,
        }];
        plan
    };
    let run = |status: ActionStatus| execution_core::actions::ActionRun {
        name: "check".into(),
        when: ActionWhen::BeforeLaunch,
        attempt: 1,
        status,
        start_time: Timestamp(1_767_225_600),
        claimed_time: Timestamp(1_767_225_600),
        end_time: (status != ActionStatus::Running).then_some(Timestamp(1_767_225_610)),
        automation_execution_id: None,
        retry_time: None,
        sent_parameters: None,
        refusals: 0,
        summary: None,
        error: None,
    };
    let r = verdict_after(
        &with_check,
        async |_, j, e| {
            let mut w = e.waves[1].clone();
            w.action_runs.push(run(ActionStatus::Running));
            accept(j, e, None, vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("a run taken without moving the header's version on", r));

    let r = verdict_after(
        &with_check,
        async |_, j, e| {
            let mut w = e.waves[1].clone();
            w.action_runs.push(run(ActionStatus::Succeeded));
            accept(j, e, Some(e.header.clone()), vec![w]).await;
            let e = j.load(e.id()).await.unwrap().unwrap();
            let mut w = e.waves[1].clone();
            w.action_runs[0].status = ActionStatus::Failed;
            accept(j, &e, None, vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("a run that ended, rewritten", r));

    let r = verdict_after(
        &with_check,
        async |s, j, e| {
            let mut w = e.waves[1].clone();
            w.action_runs.push(run(ActionStatus::Succeeded));
            accept(j, e, Some(e.header.clone()), vec![w]).await;
            invoke_check(s, e, 2).await;
        },
        &[],
    )
    .await;
    cases.push(("an action's attempt run twice", r));

    let r = verdict_after(
        &with_check,
        async |s, _, e| invoke_check(s, e, 1).await,
        &[],
    )
    .await;
    cases.push(("an action run the record does not have", r));

    let r = verdict_after(
        &with_check,
        async |_, j, e| {
            // Wave 0 completes; wave 1 is claimed with its check never run.
            let mut done = e.waves[0].clone();
            done.status = WaveStatus::Completed;
            done.end_time = Some(Timestamp(1_767_225_700));
            for server in &mut done.server_statuses {
                server.launch_status = LaunchStatus::Launched;
            }
            accept(j, e, None, vec![done]).await;
            let e = j.load(e.id()).await.unwrap().unwrap();
            let mut w = e.waves[1].clone();
            w.status = WaveStatus::Launching;
            w.attempt = 1;
            w.claim = Some(execution_core::model::LaunchClaim {
                part: 0,
                size: 2,
                claimed_time: Timestamp(1_767_225_700),
                first_claimed_time: None,
                held: true,
                uncertain: false,
            });
            accept(j, &e, Some(e.header.clone()), vec![w]).await;
        },
        &[],
    )
    .await;
    cases.push(("a wave launched before its BEFORE_LAUNCH action", r));

    let crashed = Answer {
        op: Op::Poll,
        wave: None,
        code: 500,
        body: serde_json::json!({"statusCode": 500, "error": "INTERNAL_ERROR", "message": "x"}),
    };
    let r = verdict_after(&plan, async |_, _, _| {}, &[crashed]).await;
    cases.push(("a 500 without a fault", r));

    let passed: Vec<&str> = cases
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(w, _)| *w)
        .collect();
    assert!(passed.is_empty(), "these passed the checks: {passed:?}");
    for (what, r) in &cases {
        eprintln!("{what}: {}", r.as_ref().unwrap_err());
    }
}

/// Wave 1's action `check`, attempt 1, invoked `times` times behind the engine's back.
async fn invoke_check(sim: &Sim, e: &Execution, times: usize) {
    let payload = serde_json::json!({
        "executionId": e.id(), "waveNumber": 1,
        "action": {"name": "check", "attempt": 1},
    })
    .to_string();
    for _ in 0..times {
        let invoked = execution_core::ports::FunctionInvoker::invoke(
            &sim.functions,
            "fn-ok",
            payload.as_bytes(),
            Duration::from_secs(60),
        )
        .await;
        assert!(invoked.is_ok());
    }
}
