//! `EventBridgeNotifier` against moto: PutEvents on a bus of its own whose rules deliver to SQS
//! queues, read back as a consumer would. (The e-mail is not sent through the bus: the publisher
//! pages the topic itself, `moto/sns.rs`.)

use std::collections::BTreeSet;

use aws_adapters::EventBridgeNotifier;
use execution_core::audit::{self, Actor, AuditEvent, Author, Decision, SOURCE};
use execution_core::fixtures;
use execution_core::ops;
use execution_core::ports::{Notifier, ServiceError};
use serde_json::{json, Value};

use crate::queues::{drain, queue, unique};

/// A queue and a rule on `bus` that sends it what `pattern` matches; the queue's URL.
async fn rule_to_queue(
    events: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    bus: &str,
    pattern: Value,
) -> String {
    let name = unique("notices");
    let (url, arn) = queue(sqs, &name).await;
    events
        .put_rule()
        .name(&name)
        .event_bus_name(bus)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&name)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    url
}

/// A creation (one quiet notice) and a wave failure that waits (three notices, one that pages).
fn trail() -> Vec<AuditEvent> {
    let execution = fixtures::execution(&[1, 1]);
    let by = Author {
        actor: Actor::Workflow,
        operation: "poll".into(),
        at_millis: 1_767_225_600_000,
    };
    let created = audit::created(&execution, &by);
    let mut failed: AuditEvent = serde_json::from_value(json!({
        "eventId": audit::event_id(9, "h3"),
        "executionId": fixtures::EXECUTION_ID,
        "planId": fixtures::PLAN_ID,
        "time": 1_767_225_900,
        "actor": {"type": "workflow"},
        "operation": "poll",
        "execution": {"from": "POLLING", "to": "PAUSED"},
        "failedWave": 1,
        "waves": [{"waveNumber": 1, "status": {"from": "STARTED", "to": "FAILED"}, "attempt": 1}]
    }))
    .unwrap();
    failed.decision = Some(Decision::WaveFailed);
    vec![created, failed]
}

fn ids(notices: impl IntoIterator<Item = audit::Notice>) -> BTreeSet<String> {
    notices
        .into_iter()
        .map(|n| n.detail["notificationId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn notices_reach_the_rules_of_the_bus_as_consumers_read_them() {
    let events = moto_client!(aws_sdk_eventbridge);
    let sqs = moto_client!(aws_sdk_sqs);
    let bus = unique("drs-notices");
    events.create_event_bus().name(&bus).send().await.unwrap();
    let everything = rule_to_queue(&events, &sqs, &bus, json!({"source": [SOURCE]})).await;
    // A consumer's rule on what pages someone.
    let paging = rule_to_queue(
        &events,
        &sqs,
        &bus,
        json!({"source": [SOURCE], "detail": {"pages": [true]}}),
    )
    .await;

    let trail = trail();
    let notifier = EventBridgeNotifier::new(events.clone(), bus.clone());
    let records: Vec<ops::TrailRecord> = trail.iter().cloned().map(Into::into).collect();
    ops::publish(&notifier, None, &records).await.unwrap();

    let received = drain(&sqs, &everything).await;
    let notices: Vec<audit::Notice> = trail.iter().flat_map(AuditEvent::notices).collect();
    assert_eq!(received.len(), notices.len(), "{received:#?}");
    for (body, notice) in received.iter().zip(&notices) {
        assert_eq!(body["source"], SOURCE);
        assert_eq!(body["detail-type"], notice.kind.detail_type());
        assert_eq!(body["detail"], notice.detail);
    }
    let got: BTreeSet<String> = received
        .iter()
        .map(|b| b["detail"]["notificationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids(notices.clone()));

    let paged = drain(&sqs, &paging).await;
    let got: BTreeSet<String> = paged
        .iter()
        .map(|b| b["detail"]["notificationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        got,
        ids(trail[1].notices().into_iter().take(1)),
        "the failed wave pages, once: its decision"
    );
    for body in &paged {
        let message = body["detail"]["message"].as_str().unwrap();
        assert!(
            message.contains("FAILED and waits for a decision")
                && message.contains("drctl retry")
                && message.contains("drctl cancel"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_bus_that_does_not_exist_refuses_the_notices() {
    let notifier =
        EventBridgeNotifier::new(moto_client!(aws_sdk_eventbridge), unique("no-such-bus"));
    let err = notifier.publish(&trail()[0].notices()).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Rejected(m) if m.contains("EventBridge PutEvents")),
        "{err:?}"
    );
}
