//! The DRS launch results the simulated world sends ("DRS Source Server Launch Result" on
//! EventBridge): one per server of a StartRecovery job, due a drawn delay after the server's launch
//! ended, or lost. They are made when the job is started (DRS's schedule of the job already says
//! when each server's launch ends and how), and taken off the queue once due
//! ([`crate::World::launch_results_due`]).

use std::collections::BTreeMap;

use execution_core::api::LaunchResult;
use execution_core::ids::{JobId, SourceServerId};
use execution_core::model::Timestamp;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::EventConfig;

/// `detail.state` of a launch that ended LAUNCHED.
pub const LAUNCH_SUCCEEDED: &str = "RECOVERY_LAUNCH_SUCCEEDED";
/// `detail.state` of a launch that ended FAILED.
pub const LAUNCH_FAILED: &str = "RECOVERY_LAUNCH_FAILED";

/// One launch result on its way: when it is due, what it says, and whether it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchEvent {
    /// When EventBridge delivers it, in epoch milliseconds.
    pub due_millis: i64,
    /// When DRS ended the server's launch (the event's `time`).
    pub ended_at: Timestamp,
    /// What advance is given: the job, the state, the server, the event's id (a duplicate keeps
    /// its original's id).
    pub result: LaunchResult,
    /// Lost on the way: nobody receives it.
    pub lost: bool,
}

impl LaunchEvent {
    /// Whole milliseconds from the launch's end to the delivery.
    pub fn delay_millis(&self) -> i64 {
        self.due_millis - self.ended_at.secs().saturating_mul(1000)
    }
}

/// The events made and not yet due, in delivery order.
#[derive(Debug)]
pub(crate) struct EventQueue {
    config: EventConfig,
    seed: u64,
    /// By (due, order made): two events due at the same millisecond come in the order made.
    pending: BTreeMap<(i64, u64), LaunchEvent>,
    made: u64,
}

impl EventQueue {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            config: EventConfig::off(),
            seed,
            pending: BTreeMap::new(),
            made: 0,
        }
    }

    pub(crate) fn set_config(&mut self, config: EventConfig) {
        self.config = config;
    }

    /// The event (and, when asked, its duplicate) of `server`'s launch in `job`, which ends at
    /// `ended_at` (epoch seconds), FAILED when `failed`. Nothing when events are off.
    pub(crate) fn schedule(
        &mut self,
        job: &JobId,
        server: &SourceServerId,
        ended_at: i64,
        failed: bool,
    ) {
        if !self.config.enabled {
            return;
        }
        let copies = if self.config.duplicate { 2 } else { 1 };
        let (lo, hi) = self.config.delay_range();
        let loss = self.config.loss();
        // One id per launch result: EventBridge's duplicate of an event keeps its id.
        let event_id = event_id(&mut draws(self.seed, job, server, u32::MAX));
        for copy in 0..copies {
            let mut rng = draws(self.seed, job, server, copy);
            // The delay first, so that the same seed gives the same delays whatever the loss.
            let delay = i64::try_from(rng.random_range(lo..=hi)).unwrap_or(i64::MAX);
            let lost = loss > 0.0 && rng.random::<f64>() < loss;
            let due_millis = ended_at.saturating_mul(1000).saturating_add(delay);
            let event = LaunchEvent {
                due_millis,
                ended_at: Timestamp(ended_at),
                result: LaunchResult {
                    job_id: job.clone(),
                    state: Some(
                        if failed {
                            LAUNCH_FAILED
                        } else {
                            LAUNCH_SUCCEEDED
                        }
                        .to_owned(),
                    ),
                    source_server_id: Some(server.clone()),
                    event_id: Some(event_id.clone()),
                },
                lost,
            };
            self.pending.insert((due_millis, self.made), event);
            self.made += 1;
        }
    }

    /// When the next event is due (epoch milliseconds), lost or not.
    pub(crate) fn next_due(&self) -> Option<i64> {
        self.pending.keys().next().map(|(due, _)| *due)
    }

    /// Takes every event due at or before `until` (epoch milliseconds), in delivery order.
    pub(crate) fn take_due(&mut self, until: i64) -> Vec<LaunchEvent> {
        let later = self.pending.split_off(&(until.saturating_add(1), 0));
        std::mem::replace(&mut self.pending, later)
            .into_values()
            .collect()
    }
}

/// The draws of one copy of one server's event in one job: seeded by the world's seed and the
/// job's and server's ids (FNV-1a), never by the world's own random sequence, so that events on or
/// off, lost or not, the world does the same.
fn draws(seed: u64, job: &JobId, server: &SourceServerId, copy: u32) -> ChaCha8Rng {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = seed
        .to_le_bytes()
        .into_iter()
        .chain(job.as_str().bytes())
        .chain([0])
        .chain(server.as_str().bytes())
        .chain(copy.to_le_bytes());
    let hash = bytes.fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME));
    ChaCha8Rng::seed_from_u64(hash)
}

/// An EventBridge event id (a UUID).
fn event_id(rng: &mut ChaCha8Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (JobId, SourceServerId, SourceServerId) {
        (
            JobId::parse("drsjob-0123456789abcdefg").unwrap(),
            SourceServerId::parse("s-00000000000000001").unwrap(),
            SourceServerId::parse("s-00000000000000002").unwrap(),
        )
    }

    #[test]
    fn events_are_due_a_delay_in_range_after_the_launch_in_delivery_order() {
        let (job, a, b) = ids();
        let mut q = EventQueue::new(7);
        q.schedule(&job, &a, 100, false);
        assert_eq!(q.next_due(), None, "off: nothing is made");
        q.set_config(EventConfig::on().with_delay_millis(1_000, 3_000));
        q.schedule(&job, &a, 100, false);
        q.schedule(&job, &b, 90, true);
        let due = q.take_due(i64::MAX);
        assert_eq!(due.len(), 2);
        assert!(due[0].due_millis <= due[1].due_millis);
        for e in &due {
            assert!((1_000..=3_000).contains(&e.delay_millis()), "{e:?}");
            assert!(!e.lost);
        }
        let b_event = due
            .iter()
            .find(|e| e.result.source_server_id.as_ref() == Some(&b))
            .unwrap();
        assert_eq!(b_event.result.state.as_deref(), Some(LAUNCH_FAILED));
        assert_eq!(b_event.ended_at, Timestamp(90));
        assert_eq!(q.next_due(), None);
    }

    #[test]
    fn take_due_leaves_what_is_not_due() {
        let (job, a, b) = ids();
        let mut q = EventQueue::new(7);
        q.set_config(EventConfig::on().with_delay_millis(2_000, 2_000));
        q.schedule(&job, &a, 100, false);
        q.schedule(&job, &b, 200, false);
        assert_eq!(q.next_due(), Some(102_000));
        assert!(q.take_due(101_999).is_empty());
        assert_eq!(
            q.take_due(102_000).len(),
            1,
            "due at the millisecond: taken"
        );
        assert_eq!(q.next_due(), Some(202_000));
    }

    #[test]
    fn the_draws_depend_on_the_seed_job_and_server_only() {
        let (job, a, b) = ids();
        let config = EventConfig::on().with_delay_millis(0, 60_000);
        let made = |seed: u64, order: &[&SourceServerId], config: EventConfig| {
            let mut q = EventQueue::new(seed);
            q.set_config(config);
            for s in order {
                q.schedule(&job, s, 100, false);
            }
            let mut due = q.take_due(i64::MAX);
            due.sort_by(|x, y| x.result.source_server_id.cmp(&y.result.source_server_id));
            due
        };
        let ab = made(7, &[&a, &b], config);
        assert_eq!(ab, made(7, &[&b, &a], config), "not the order of the calls");
        assert_ne!(ab, made(8, &[&a, &b], config), "the seed");
        assert_ne!(ab[0].due_millis, ab[1].due_millis, "each server its own");
        // Loss does not move the delays.
        let lossy = made(7, &[&a, &b], config.with_loss(0.5));
        assert_eq!(
            ab.iter().map(|e| e.due_millis).collect::<Vec<_>>(),
            lossy.iter().map(|e| e.due_millis).collect::<Vec<_>>()
        );
    }

    #[test]
    fn loss_and_duplicates() {
        let (job, a, _) = ids();
        let mut q = EventQueue::new(7);
        q.set_config(EventConfig::on().with_loss(1.0));
        q.schedule(&job, &a, 100, false);
        assert!(q.take_due(i64::MAX).iter().all(|e| e.lost));

        let mut q = EventQueue::new(7);
        q.set_config(EventConfig {
            duplicate: true,
            ..EventConfig::on()
        });
        q.schedule(&job, &a, 100, false);
        let due = q.take_due(i64::MAX);
        assert_eq!(due.len(), 2);
        assert_eq!(
            due[0].result, due[1].result,
            "a duplicate keeps the event's id"
        );
        assert!(due[0].result.event_id.is_some());

        // Out of range: taken at the nearest bound.
        let mut lossy = 0;
        for seed in 0..50 {
            let mut q = EventQueue::new(seed);
            q.set_config(EventConfig::on().with_loss(7.0));
            q.schedule(&job, &a, 100, false);
            lossy += q.take_due(i64::MAX).iter().filter(|e| e.lost).count();
        }
        assert_eq!(lossy, 50);
    }
}
