//! Publishing the trail: every stored audit event, as its notices ([`AuditEvent::notices`]), at
//! least once and in the trail's order. Events are published from what the store holds (the
//! table's stream on AWS), never beside the write that stores them, so nothing committed goes
//! unpublished: a publisher that fails says where it stopped, and whoever feeds it starts again
//! from there.

use crate::audit::AuditEvent;
use crate::ports::{Notifier, ServiceError};

/// Where a publication stopped: events before `index` are published; the one at `index` is not
/// known to be (some of its notices may have gone out), nor any after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit event {index} of the batch is not known to be published: {error}")]
pub struct Unpublished {
    pub index: usize,
    pub error: ServiceError,
}

/// Publishes the notices of `events`, one event per [`Notifier::publish`], in order, stopping at
/// the first failure: a later event is never published before an earlier one is. Re-publishing
/// from [`Unpublished::index`] sends every notice again with its `notificationId` unchanged, so
/// consumers that de-duplicate on it see each notice once.
pub async fn publish(notifier: &dyn Notifier, events: &[AuditEvent]) -> Result<(), Unpublished> {
    for (index, event) in events.iter().enumerate() {
        notifier
            .publish(&event.notices())
            .await
            .map_err(|error| Unpublished { index, error })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::Value;

    use super::*;
    use crate::audit::{self, Actor, Author, Decision, Notice, NoticeKind};
    use crate::fixtures;
    use crate::ports::mocks::MockNotifier;

    fn events(n: usize) -> Vec<AuditEvent> {
        let execution = fixtures::execution(&[2, 1]);
        (0..n)
            .map(|i| {
                let by = Author {
                    actor: Actor::Workflow,
                    operation: "poll".into(),
                    at_millis: 1_700_000_000_000 + i as i64,
                };
                let mut event = audit::created(&execution, &by);
                event.event_id = audit::event_id(10 + i as u64, "h1");
                if i % 2 == 1 {
                    event.decision = Some(Decision::PlannedPause);
                    event.paused_before_wave = Some(1);
                }
                event
            })
            .collect()
    }

    fn ids(notices: &[Notice]) -> Vec<String> {
        notices
            .iter()
            .map(|n| n.detail["notificationId"].as_str().unwrap().to_owned())
            .collect()
    }

    /// A notifier that records every call and answers `fail` on the calls whose number (from 1)
    /// is listed.
    fn recording(fail: &'static [usize]) -> (MockNotifier, Arc<Mutex<Vec<Vec<String>>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&calls);
        let mut notifier = MockNotifier::new();
        notifier.expect_publish().returning(move |notices| {
            let mut calls = seen.lock().unwrap();
            calls.push(ids(notices));
            if fail.contains(&calls.len()) {
                Err(ServiceError::unavailable("EventBridge is down"))
            } else {
                Ok(())
            }
        });
        (notifier, calls)
    }

    #[tokio::test]
    async fn every_event_is_published_as_its_notices_in_order() {
        let events = events(4);
        let (notifier, calls) = recording(&[]);
        publish(&notifier, &events).await.unwrap();
        let want: Vec<Vec<String>> = events.iter().map(|e| ids(&e.notices())).collect();
        assert_eq!(*calls.lock().unwrap(), want);
        // A paging event publishes its decision and its status change, a quiet one its status;
        // one notice of a paging event pages (one e-mail per event), none of a quiet one.
        assert_eq!(want[0].len(), 1);
        assert_eq!(want[1].len(), 2);
        let paging = |e: &AuditEvent| {
            e.notices()
                .iter()
                .filter(|n| n.detail["pages"] == Value::Bool(true))
                .map(|n| n.kind)
                .collect::<Vec<_>>()
        };
        assert_eq!(paging(&events[0]), []);
        assert_eq!(paging(&events[1]), [NoticeKind::NeedsDecision]);
    }

    #[tokio::test]
    async fn a_failure_stops_at_its_event_and_names_it() {
        let events = events(5);
        let (notifier, calls) = recording(&[3]);
        let stopped = publish(&notifier, &events).await.unwrap_err();
        assert_eq!(
            stopped.index, 2,
            "the third event is the first not published"
        );
        assert!(matches!(stopped.error, ServiceError::Unavailable { .. }));
        assert_eq!(
            calls.lock().unwrap().len(),
            3,
            "nothing after the failed event is published before it"
        );

        // Published again from there: the same notices, the same ids.
        let (notifier, again) = recording(&[]);
        publish(&notifier, &events[stopped.index..]).await.unwrap();
        let first = calls.lock().unwrap().clone();
        let again = again.lock().unwrap().clone();
        assert_eq!(
            again[0], first[2],
            "the failed event's notices keep their ids"
        );
        let mut published: Vec<String> =
            first[..2].iter().chain(&again).flatten().cloned().collect();
        let mut want: Vec<String> = events.iter().flat_map(|e| ids(&e.notices())).collect();
        published.sort();
        want.sort();
        assert_eq!(published, want, "every notice at least once");
    }

    #[tokio::test]
    async fn no_events_publish_nothing() {
        let mut notifier = MockNotifier::new();
        notifier.expect_publish().never();
        assert_eq!(publish(&notifier, &[]).await, Ok(()));
    }
}
