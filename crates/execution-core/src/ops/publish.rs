//! Publishing the trail: every stored audit event, as its notices ([`AuditEvent::notices`]), and
//! its page when it pages someone ([`AuditEvent::page`]), at least once and in the trail's order.
//! Events are published from what the store holds (the table's stream on AWS), never beside the
//! write that stores them, so nothing committed goes unpublished: a publisher that fails says
//! where it stopped, and whoever feeds it starts again from there.
//!
//! What can never be published as it is does not block what follows it: a record the publisher
//! cannot read, and a notice the bus refuses for what it is (`Rejected`), are replaced by a small
//! fallback notice ([`audit::fallback_notice`]). Anything else (throttling, an outage, a fallback
//! refused too) stops there, to be retried.

use crate::audit::{self, AuditEvent, Notice};
use crate::ports::{Notifier, Pager, ServiceError};

/// One record of the stored trail, as the publisher read it.
#[derive(Debug, Clone, PartialEq)]
pub enum TrailRecord {
    Event(AuditEvent),
    /// A trail record that does not decode: written by a newer version (a value this one does
    /// not know, during a rolling deploy), or damaged. Its keys, and why it does not decode.
    Unreadable {
        execution_id: String,
        event_id: String,
        why: String,
    },
}

impl From<AuditEvent> for TrailRecord {
    fn from(event: AuditEvent) -> Self {
        Self::Event(event)
    }
}

/// Where a publication stopped: records before `index` are published; the one at `index` is not
/// known to be (some of its notices, or all of them and not its page, may have gone out), nor any
/// after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit event {index} of the batch is not known to be published: {error}")]
pub struct Unpublished {
    pub index: usize,
    pub error: ServiceError,
}

/// Publishes `trail` in order, stopping at the first failure: a later record is never published
/// before an earlier one is. For each event: its notices (one [`Notifier::publish`]), then, when
/// it [`pages`](AuditEvent::pages) and there is a `pager`, its page. An unreadable record
/// publishes its fallback notice instead. Re-publishing from [`Unpublished::index`] sends every
/// notice again with its `notificationId` unchanged (consumers that de-duplicate on it see each
/// notice once) and the page again (a page may come twice, never not at all).
pub async fn publish(
    notifier: &dyn Notifier,
    pager: Option<&dyn Pager>,
    trail: &[TrailRecord],
) -> Result<(), Unpublished> {
    for (index, record) in trail.iter().enumerate() {
        publish_record(notifier, pager, record)
            .await
            .map_err(|error| Unpublished { index, error })?;
    }
    Ok(())
}

async fn publish_record(
    notifier: &dyn Notifier,
    pager: Option<&dyn Pager>,
    record: &TrailRecord,
) -> Result<(), ServiceError> {
    let event = match record {
        TrailRecord::Event(event) => event,
        TrailRecord::Unreadable {
            execution_id,
            event_id,
            why,
        } => {
            let fallback = audit::fallback_notice(execution_id, event_id, why);
            return notifier.publish(&[fallback]).await;
        }
    };
    publish_notices(notifier, event).await?;
    match pager {
        Some(pager) if event.pages() => pager.page(&event.page()).await,
        _ => Ok(()),
    }
}

/// The event's notices, all or error. When the bus refuses them for what they are, which one it
/// refused is not known: each is sent again alone, and one refused again is replaced by the
/// event's fallback notice (a refusal of the fallback too is an error: nothing is dropped).
async fn publish_notices(notifier: &dyn Notifier, event: &AuditEvent) -> Result<(), ServiceError> {
    let notices = event.notices();
    match notifier.publish(&notices).await {
        Err(ServiceError::Rejected(_)) => {}
        done => return done,
    }
    for notice in &notices {
        match notifier.publish(std::slice::from_ref(notice)).await {
            Err(ServiceError::Rejected(refusal)) => {
                let fallback = fallback_for(event, notice, &refusal);
                tracing::warn!(
                    execution_id = %event.execution_id,
                    event_id = event.event_id,
                    notification_id = notice.detail["notificationId"].as_str(),
                    error = refusal,
                    "the bus refuses a notice for good; its fallback is published in its place"
                );
                notifier.publish(&[fallback]).await?;
            }
            other => other?,
        }
    }
    Ok(())
}

fn fallback_for(event: &AuditEvent, notice: &Notice, refusal: &str) -> Notice {
    let why = format!(
        "its {} notice was refused: {refusal}",
        notice.kind.detail_type()
    );
    audit::fallback_notice(&event.execution_id.to_string(), &event.event_id, &why)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::Value;

    use super::*;
    use crate::audit::{self, Actor, Author, Decision, Notice, NoticeKind};
    use crate::fixtures;
    use crate::ports::mocks::{MockNotifier, MockPager};

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

    fn records(events: &[AuditEvent]) -> Vec<TrailRecord> {
        events.iter().cloned().map(TrailRecord::from).collect()
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

    /// What went out, in order: each notifier call's notice ids, and each page's subject.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Out {
        Notices(Vec<String>),
        Page(String),
    }

    type Log = Arc<Mutex<Vec<Out>>>;

    /// A notifier and a pager writing to one log; each call answers what `notices` or `page` says
    /// of it (the call's number on its port from 1, and what it was given).
    fn world(
        notices: impl Fn(usize, &[Notice]) -> Result<(), ServiceError> + Send + 'static,
        page: impl Fn(usize, &audit::Page) -> Result<(), ServiceError> + Send + 'static,
    ) -> (MockNotifier, MockPager, Log) {
        let log: Log = Arc::default();
        let (to_notifier, to_pager) = (Arc::clone(&log), Arc::clone(&log));
        let (mut notifier, mut pager) = (MockNotifier::new(), MockPager::new());
        let mut calls = 0;
        notifier.expect_publish().returning(move |given| {
            calls += 1;
            to_notifier.lock().unwrap().push(Out::Notices(ids(given)));
            notices(calls, given)
        });
        let mut pages = 0;
        pager.expect_page().returning(move |given| {
            pages += 1;
            to_pager
                .lock()
                .unwrap()
                .push(Out::Page(given.subject.clone()));
            page(pages, given)
        });
        (notifier, pager, log)
    }

    fn accept<T: ?Sized>(_: usize, _: &T) -> Result<(), ServiceError> {
        Ok(())
    }

    /// What a publication that goes well sends for `events`: each event's notices, then its page.
    fn expected(events: &[AuditEvent]) -> Vec<Out> {
        events
            .iter()
            .flat_map(|e| {
                let page = e.pages().then(|| Out::Page(e.page().subject));
                std::iter::once(Out::Notices(ids(&e.notices()))).chain(page)
            })
            .collect()
    }

    #[tokio::test]
    async fn every_event_is_published_as_its_notices_in_order() {
        let events = events(4);
        let (notifier, calls) = recording(&[]);
        publish(&notifier, None, &records(&events)).await.unwrap();
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
    async fn the_paging_events_are_paged_in_order_each_after_its_notices() {
        let events = events(5);
        let (notifier, pager, log) = world(accept, accept);
        publish(&notifier, Some(&pager), &records(&events))
            .await
            .unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(log, expected(&events));
        let paged: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.pages())
            .map(|(i, _)| i)
            .collect();
        assert_eq!(paged, [1, 3], "the decisions page, the creations do not");
        assert_eq!(
            log.iter().filter(|o| matches!(o, Out::Page(_))).count(),
            2,
            "{log:?}"
        );
    }

    #[tokio::test]
    async fn a_page_is_the_events_subject_and_message() {
        let events = events(2);
        let pages = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&pages);
        let (notifier, pager, _) = world(accept, move |_, page| {
            seen.lock().unwrap().push(page.clone());
            Ok(())
        });
        publish(&notifier, Some(&pager), &records(&events))
            .await
            .unwrap();
        assert_eq!(*pages.lock().unwrap(), [events[1].page()]);
        let page = events[1].page();
        assert_eq!(page.message, events[1].message());
        assert!(
            page.message.contains("\n\ndrctl resume "),
            "{}",
            page.message
        );
    }

    #[tokio::test]
    async fn without_a_pager_no_one_is_paged_and_the_notices_go_out() {
        let events = events(4);
        let (notifier, _, log) = world(accept, accept);
        publish(&notifier, None, &records(&events)).await.unwrap();
        let want: Vec<Out> = expected(&events)
            .into_iter()
            .filter(|o| matches!(o, Out::Notices(_)))
            .collect();
        assert_eq!(*log.lock().unwrap(), want);
    }

    #[tokio::test]
    async fn a_failing_page_stops_at_its_event_after_its_notices() {
        let events = events(5);
        let (notifier, pager, log) = world(accept, |n, _| {
            if n == 2 {
                Err(ServiceError::Throttled {
                    retry_after: None,
                    message: "SNS Publish: Throttling".into(),
                })
            } else {
                Ok(())
            }
        });
        let stopped = publish(&notifier, Some(&pager), &records(&events))
            .await
            .unwrap_err();
        assert_eq!(stopped.index, 3, "the second paging event");
        assert!(matches!(stopped.error, ServiceError::Throttled { .. }));
        assert_eq!(
            *log.lock().unwrap(),
            expected(&events[..4]),
            "its notices went out, its page did not, nothing after it"
        );

        // Published again from there: its notices and its page again, then the rest.
        let (notifier, pager, again) = world(accept, accept);
        publish(&notifier, Some(&pager), &records(&events[stopped.index..]))
            .await
            .unwrap();
        assert_eq!(*again.lock().unwrap(), expected(&events[3..]));
    }

    #[tokio::test]
    async fn a_failure_stops_at_its_event_and_names_it() {
        let events = events(5);
        let (notifier, calls) = recording(&[3]);
        let stopped = publish(&notifier, None, &records(&events))
            .await
            .unwrap_err();
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
        publish(&notifier, None, &records(&events[stopped.index..]))
            .await
            .unwrap();
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
    async fn a_failing_notice_is_not_paged() {
        let events = events(2);
        let (notifier, pager, log) = world(
            |n, _| {
                if n == 2 {
                    Err(ServiceError::unavailable("EventBridge is down"))
                } else {
                    Ok(())
                }
            },
            accept,
        );
        let stopped = publish(&notifier, Some(&pager), &records(&events))
            .await
            .unwrap_err();
        assert_eq!(stopped.index, 1);
        assert_eq!(
            *log.lock().unwrap(),
            [
                Out::Notices(ids(&events[0].notices())),
                Out::Notices(ids(&events[1].notices()))
            ],
            "a page never goes out before its event's notices"
        );
    }

    fn fallback_id(event: &AuditEvent) -> String {
        format!(
            "{}/{}/{}",
            event.execution_id,
            event.event_id,
            audit::FALLBACK_SLUG
        )
    }

    #[tokio::test]
    async fn a_notice_the_bus_refuses_for_good_is_replaced_by_its_fallback() {
        let events = events(3);
        // The decision notice of the paging event is too large: refused whenever it is sent.
        let refused = ids(&events[1].notices())[0].clone();
        let too_large = refused.clone();
        let fallbacks = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&fallbacks);
        let (notifier, pager, log) = world(
            move |_, notices| {
                if ids(notices).contains(&too_large) {
                    return Err(ServiceError::Rejected(format!(
                        "EventBridge PutEvents: notice {too_large} is 300000 bytes"
                    )));
                }
                seen.lock().unwrap().extend(
                    notices
                        .iter()
                        .filter(|n| n.kind == NoticeKind::Progress)
                        .cloned(),
                );
                Ok(())
            },
            accept,
        );
        publish(&notifier, Some(&pager), &records(&events))
            .await
            .unwrap();
        let all = ids(&events[1].notices());
        assert_eq!(
            *log.lock().unwrap(),
            [
                Out::Notices(ids(&events[0].notices())),
                Out::Notices(all.clone()),
                Out::Notices(vec![all[0].clone()]),
                Out::Notices(vec![fallback_id(&events[1])]),
                Out::Notices(vec![all[1].clone()]),
                Out::Page(events[1].page().subject),
                Out::Notices(ids(&events[2].notices())),
            ],
            "sent alone, refused again, replaced; the others go out and the event still pages"
        );
        let fallback = fallbacks
            .lock()
            .unwrap()
            .iter()
            .find(|n| n.detail["notificationId"] == fallback_id(&events[1]).as_str())
            .cloned()
            .expect("the fallback");
        assert_eq!(fallback.kind.detail_type(), "Execution Progress");
        assert_eq!(fallback.detail["eventId"], events[1].event_id.as_str());
        let summary = fallback.detail["summary"].as_str().unwrap();
        assert!(
            summary.contains("Execution Needs Decision notice was refused")
                && summary.contains("300000 bytes")
                && summary.contains(&format!("drctl events {}", events[1].execution_id)),
            "{summary}"
        );
    }

    #[tokio::test]
    async fn a_refusal_of_the_fallback_too_stops_there() {
        // A bus that does not exist refuses everything: nothing is replaced and dropped.
        let events = events(2);
        let (notifier, pager, log) = world(
            |_, _| {
                Err(ServiceError::Rejected(
                    "EventBridge PutEvents: no such bus".into(),
                ))
            },
            accept,
        );
        let stopped = publish(&notifier, Some(&pager), &records(&events))
            .await
            .unwrap_err();
        assert_eq!(stopped.index, 0);
        assert!(matches!(stopped.error, ServiceError::Rejected(_)));
        assert_eq!(
            *log.lock().unwrap(),
            [
                Out::Notices(ids(&events[0].notices())),
                Out::Notices(ids(&events[0].notices())),
                Out::Notices(vec![fallback_id(&events[0])]),
            ]
        );
    }

    #[tokio::test]
    async fn only_a_refusal_for_good_is_replaced() {
        for error in [
            ServiceError::unavailable("EventBridge: InternalFailure"),
            ServiceError::Throttled {
                retry_after: None,
                message: "EventBridge: ThrottlingException".into(),
            },
        ] {
            let events = events(2);
            let refusal = error.clone();
            let (notifier, pager, log) = world(move |_, _| Err(refusal.clone()), accept);
            let stopped = publish(&notifier, Some(&pager), &records(&events))
                .await
                .unwrap_err();
            assert_eq!(stopped, Unpublished { index: 0, error });
            assert_eq!(log.lock().unwrap().len(), 1, "retried later, not replaced");
        }
    }

    #[tokio::test]
    async fn an_unreadable_record_publishes_its_fallback_and_the_trail_goes_on() {
        let events = events(2);
        let unreadable = TrailRecord::Unreadable {
            execution_id: events[0].execution_id.to_string(),
            event_id: audit::event_id(11, "h2"),
            why: "unknown variant `QUARANTINED`".into(),
        };
        let trail = vec![
            events[0].clone().into(),
            unreadable,
            events[1].clone().into(),
        ];
        let sent = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sent);
        let (notifier, pager, log) = world(
            move |_, notices| {
                seen.lock().unwrap().extend_from_slice(notices);
                Ok(())
            },
            accept,
        );
        publish(&notifier, Some(&pager), &trail).await.unwrap();
        let id = format!(
            "{}/{}/{}",
            events[0].execution_id,
            audit::event_id(11, "h2"),
            audit::FALLBACK_SLUG
        );
        let mut want = expected(&events[..1]);
        want.push(Out::Notices(vec![id.clone()]));
        want.extend(expected(&events[1..]));
        assert_eq!(*log.lock().unwrap(), want, "unreadable: no page");
        let fallback = sent
            .lock()
            .unwrap()
            .iter()
            .find(|n| n.detail["notificationId"] == id.as_str())
            .cloned()
            .unwrap();
        assert_eq!(fallback.kind, NoticeKind::Progress);
        let summary = fallback.detail["summary"].as_str().unwrap();
        assert!(
            summary.contains("cannot read") && summary.contains("unknown variant `QUARANTINED`"),
            "{summary}"
        );

        // A fallback that fails is a failure like any other: retried from that record.
        let (notifier, pager, _) = world(
            |n, _| {
                if n == 2 {
                    Err(ServiceError::unavailable("EventBridge is down"))
                } else {
                    Ok(())
                }
            },
            accept,
        );
        let stopped = publish(&notifier, Some(&pager), &trail).await.unwrap_err();
        assert_eq!(stopped.index, 1);
    }

    #[tokio::test]
    async fn no_events_publish_nothing() {
        let mut notifier = MockNotifier::new();
        notifier.expect_publish().never();
        let mut pager = MockPager::new();
        pager.expect_page().never();
        assert_eq!(publish(&notifier, Some(&pager), &[]).await, Ok(()));
    }
}
