//! DRS launch results delivered by the driver: the next wave starts seconds after DRS ends the
//! last launch of a wave, polling stays the fallback, and nothing happens twice.

use drs_sim::driver::{drive, DriveError, DriverConfig, Event, Observer, Outcome};
use drs_sim::{Api, EventConfig, Sim, SimConfig, WaveBoundary};
use execution_core::api::{AdvanceOutcome, LaunchResult, Request, Target};
use execution_core::audit::Actor;
use execution_core::fixtures;
use execution_core::ids::ExecutionId;
use execution_core::model::Timestamp;
use execution_core::ops;
use execution_core::plan::Plan;
use execution_core::ports::Clock;
use execution_core::rules::NextAction;
use execution_core::status::{ExecutionStatus, WaveStatus};

type Events = Vec<(Timestamp, Event)>;

/// Three waves of 2, 3 and 2 servers, no pause, no action: the boundaries are the engine's alone.
fn plan() -> Plan {
    fixtures::plan(&[2, 3, 2])
}

fn sim(seed: u64, events: EventConfig) -> Sim {
    Sim::new(SimConfig {
        seed,
        events,
        ..SimConfig::default()
    })
}

async fn start(sim: &Sim, seed: u64) -> Target {
    sim.create(&plan(), Sim::execution_id_for_seed(seed))
        .await
        .unwrap()
}

async fn run_with(
    seed: u64,
    events: EventConfig,
    config: DriverConfig,
    observer: &mut dyn Observer,
) -> (Outcome, Sim) {
    let sim = sim(seed, events);
    let target = start(&sim, seed).await;
    let outcome = drive(&sim, target, config, observer).await.unwrap();
    (outcome, sim)
}

async fn run(seed: u64, events: EventConfig) -> (Outcome, Events, Sim) {
    let mut seen = Events::new();
    let (outcome, sim) = run_with(seed, events, DriverConfig::default(), &mut seen).await;
    (outcome, seen, sim)
}

fn boundaries(sim: &Sim, outcome: &Outcome) -> Vec<WaveBoundary> {
    sim.world.wave_boundaries(outcome.execution.id())
}

fn launch_results(events: &Events) -> Vec<&Event> {
    events
        .iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Event::LaunchResult { .. }))
        .collect()
}

fn assert_completed(outcome: &Outcome) {
    assert_eq!(outcome.execution.status(), ExecutionStatus::Completed);
    assert!(outcome
        .execution
        .waves
        .iter()
        .all(|w| w.status == WaveStatus::Completed && w.attempt == 1));
}

#[tokio::test]
async fn with_events_each_wave_starts_within_the_delay_of_its_predecessor_s_last_launch() {
    let mut launches = 0;
    for seed in [1, 2, 3, 42] {
        let (outcome, events, sim) = run(seed, EventConfig::on()).await;
        assert_completed(&outcome);
        let gaps = boundaries(&sim, &outcome);
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        for b in &gaps {
            // At most the delay (1 to 3 s): then one poll and one StartRecovery, which take no
            // simulated time (a poll that came first may have launched it sooner).
            assert!(
                (0..=3_000).contains(&b.gap_millis()),
                "seed {seed}: {b:?}, gap {} ms",
                b.gap_millis()
            );
        }
        assert_eq!(sim.calls.count(Api::StartRecovery), 3);
        // One event per server: the last wave's last ones may still be on their way when the
        // drill ends.
        let undelivered = sim.world.launch_results_due(i64::MAX).len();
        assert_eq!(
            outcome.events_delivered as usize + undelivered,
            7,
            "seed {seed}"
        );
        assert_eq!(outcome.events_lost, 0);
        // Each launch an event caused is told with the wave it closed.
        let launched: Vec<(Option<u32>, Option<u32>)> = launch_results(&events)
            .into_iter()
            .filter_map(|e| match e {
                Event::LaunchResult {
                    outcome: AdvanceOutcome::Launched,
                    wave_number,
                    launched_wave,
                    last_server_at,
                    ..
                } => {
                    assert!(last_server_at.is_some());
                    Some((*wave_number, *launched_wave))
                }
                _ => None,
            })
            .collect();
        assert_eq!(launched.len(), outcome.events_launched as usize);
        assert!(launched
            .iter()
            .all(|(w, next)| w.zip(*next).is_some_and(|(w, next)| next == w + 1)));
        launches += launched.len();
    }
    assert!(
        launches >= 6,
        "events launched most of the 8 waves: {launches}"
    );

    // Without events the same drill waits for its next poll at each boundary.
    let (outcome, events, sim) = run(42, EventConfig::off()).await;
    assert_completed(&outcome);
    assert!(launch_results(&events).is_empty());
    assert_eq!(
        (
            outcome.events_delivered,
            outcome.events_lost,
            outcome.events_launched
        ),
        (0, 0, 0)
    );
    for b in boundaries(&sim, &outcome) {
        assert!(b.gap_millis() > 3_000 && b.gap_millis() <= 30_000, "{b:?}");
    }
}

/// Every event lost: the run is the run without events, write for write (polling is the
/// fallback, and the events' draws never touch the world's own).
#[tokio::test]
async fn with_every_event_lost_the_drill_is_the_drill_without_events() {
    for seed in [5, 42] {
        let (off, off_events, off_sim) = run(seed, EventConfig::off()).await;
        let (lost, lost_events, lost_sim) = run(seed, EventConfig::on().with_loss(1.0)).await;
        assert_eq!(lost.execution, off.execution);
        assert_eq!(
            (lost.polls, lost.simulated_secs),
            (off.polls, off.simulated_secs)
        );
        assert_eq!(lost_events, off_events, "the driver saw the same things");
        assert_eq!(lost_sim.calls.counts(), off_sim.calls.counts());
        assert_eq!(
            lost_sim.store.trail(lost.execution.id()),
            off_sim.store.trail(off.execution.id())
        );
        assert_eq!(
            (
                lost.events_delivered,
                lost.events_lost,
                lost.events_launched
            ),
            (0, 7, 0)
        );
    }
}

/// Half the events lost: a boundary whose last event is lost may wait for the poll, but every
/// wave still launches once, and the run completes.
#[tokio::test]
async fn with_half_the_events_lost_each_boundary_is_an_event_or_a_poll() {
    let (outcome, _, sim) = run(42, EventConfig::on().with_loss(0.5)).await;
    assert_completed(&outcome);
    assert_eq!(sim.calls.count(Api::StartRecovery), 3);
    assert_eq!(outcome.events_delivered + outcome.events_lost, 7);
    for b in boundaries(&sim, &outcome) {
        assert!(b.gap_millis() <= 30_000, "{b:?}");
    }
}

/// EventBridge delivers at least once: every event twice (each copy its own delay) launches
/// each wave once; the copy after the launch changes nothing.
#[tokio::test]
async fn a_duplicate_event_changes_nothing() {
    let twice = EventConfig {
        duplicate: true,
        ..EventConfig::on()
    };
    let (outcome, events, sim) = run(42, twice).await;
    assert_completed(&outcome);
    assert_eq!(sim.calls.count(Api::StartRecovery), 3);
    assert_eq!(outcome.events_lost, 0);
    assert!(outcome.events_delivered >= 10 && outcome.events_launched <= 2);
    // The copy of a launching event that came after it was ignored as late.
    let results = launch_results(&events);
    for (i, e) in results.iter().enumerate() {
        let Event::LaunchResult {
            job_id,
            server,
            outcome: AdvanceOutcome::Launched,
            ..
        } = e
        else {
            continue;
        };
        let copy = results[i + 1..]
            .iter()
            .find_map(|later| match later {
                Event::LaunchResult {
                    job_id: j,
                    server: s,
                    outcome,
                    reason,
                    ..
                } if j == job_id && s == server => Some((*outcome, reason.clone())),
                _ => None,
            })
            .expect("its copy is delivered after it");
        assert_eq!(copy, (AdvanceOutcome::Ignored, Some("LATE_EVENT".into())));
    }
}

/// The launching event handed to advance again, by hand, after the drill: nothing is written,
/// nothing launched.
#[tokio::test]
async fn advance_called_again_with_a_launching_event_writes_nothing() {
    let (outcome, events, sim) = run(42, EventConfig::on()).await;
    let (job_id, server, state) = launch_results(&events)
        .into_iter()
        .find_map(|e| match e {
            Event::LaunchResult {
                job_id,
                server,
                state,
                launched_wave: Some(1),
                ..
            } => Some((job_id.clone(), server.clone(), state.clone())),
            _ => None,
        })
        .expect("an event launched wave 1");
    let trail = sim.store.trail(outcome.execution.id());
    let again = LaunchResult {
        job_id,
        state,
        source_server_id: server,
        event_id: None,
    };
    let answer = ops::run(&sim.ports(), Request::Advance(again), Actor::Event).await;
    assert_eq!(answer["outcome"], "IGNORED", "{answer}");
    assert_eq!(answer["reason"], "EXECUTION_FINISHED", "{answer}");
    assert_eq!(sim.store.trail(outcome.execution.id()), trail);
    assert_eq!(
        sim.store.get(outcome.execution.id()),
        Some(outcome.execution)
    );
    assert_eq!(sim.calls.count(Api::StartRecovery), 3);
}

/// One seed, one run: the same event times and the same answers; another seed, others.
#[tokio::test]
async fn a_seed_reproduces_the_events() {
    let config = EventConfig::on().with_loss(0.3);
    let (a, a_events, a_sim) = run(9, config).await;
    let (b, b_events, b_sim) = run(9, config).await;
    assert_eq!(a_events, b_events);
    assert_eq!(a, b);
    assert_eq!(boundaries(&a_sim, &a), boundaries(&b_sim, &b));
    let (_, c_events, _) = run(10, config).await;
    let times = |events: &Events| -> Vec<Timestamp> {
        events
            .iter()
            .filter(|(_, e)| matches!(e, Event::LaunchResult { .. }))
            .map(|(t, _)| *t)
            .collect()
    };
    assert!(!times(&a_events).is_empty());
    assert_ne!(times(&a_events), times(&c_events));
}

/// At a finite speed the waits are slept slice by slice, and the run is the same run.
#[tokio::test]
async fn a_drill_at_a_speed_is_the_same_drill() {
    let config = DriverConfig {
        speed: Some(1_000_000.0),
        ..DriverConfig::default()
    };
    let mut seen = Events::new();
    let (timed, sim) = run_with(42, EventConfig::on(), config, &mut seen).await;
    let (fast, events, _) = run(42, EventConfig::on()).await;
    assert_eq!(timed, fast);
    assert_eq!(seen, events);
    assert_eq!(timed.events_launched, 2);
    assert_eq!(sim.calls.count(Api::StartRecovery), 3);
}

/// Scripts a 5xx for the first DescribeJobs an event's advance makes: a poll that waits with an
/// event due before the next poll arms it.
struct FailNextAdvance {
    sim: Sim,
    armed: bool,
    seen: Events,
}

impl Observer for FailNextAdvance {
    fn observe(&mut self, at: Timestamp, event: &Event) {
        let next_poll = self.sim.clock.now_millis() + 30_000;
        let due_first = self
            .sim
            .world
            .next_launch_result_due()
            .is_some_and(|due| due < next_poll);
        if !self.armed
            && due_first
            && matches!(
                event,
                Event::Polled {
                    next_action: NextAction::Wait
                }
            )
        {
            self.sim.calls.fail_with_5xx(Api::DescribeJobs, 1);
            self.armed = true;
        }
        self.seen.push((at, event.clone()));
    }
}

/// advance answering 5xx is a warning, not retried; the next event or poll carries on.
#[tokio::test]
async fn an_advance_that_fails_is_a_warning_and_polling_carries_on() {
    let sim = sim(42, EventConfig::on());
    let target = start(&sim, 42).await;
    let mut observer = FailNextAdvance {
        sim: sim.clone(),
        armed: false,
        seen: Events::new(),
    };
    let outcome: Result<Outcome, DriveError> =
        drive(&sim, target, DriverConfig::default(), &mut observer).await;
    let outcome = outcome.unwrap();
    assert!(observer.armed);
    assert_completed(&outcome);
    let warnings: Vec<&String> = observer
        .seen
        .iter()
        .filter_map(|(_, e)| match e {
            Event::Warning { message } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("advance of DRS's launch result for job drsjob-")
            && warnings[0].contains("not retried"),
        "{}",
        warnings[0]
    );
    // The failed event was delivered (and counted) but not told as a launch result.
    assert_eq!(outcome.events_delivered, 7);
    assert_eq!(launch_results(&observer.seen).len(), 6);
    assert_eq!(sim.calls.count(Api::StartRecovery), 3);
}

/// Events are not the world's business once it stands still: a static world sends none.
#[tokio::test]
async fn only_a_world_that_moves_sends_events() {
    let sim = Sim::new(SimConfig {
        progression: drs_sim::Progression::Static,
        events: EventConfig::on(),
        ..SimConfig::default()
    });
    let target = sim
        .create(&plan(), ExecutionId::new_random())
        .await
        .unwrap();
    let _ = ops::run(
        &sim.ports(),
        Request::Launch(target),
        drs_sim::driver::actor(execution_core::api::Operation::Launch),
    )
    .await;
    assert_eq!(sim.calls.count(Api::StartRecovery), 1);
    assert_eq!(sim.world.next_launch_result_due(), None);
}
