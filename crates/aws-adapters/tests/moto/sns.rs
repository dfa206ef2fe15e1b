//! `SnsPager` against moto: Publish to a topic of its own whose SQS subscription receives the
//! page as a subscriber does. The subscription is not raw, so each message arrives in SNS's
//! envelope (`Type`, `TopicArn`, `Subject`, `Message`, ...), which carries the subject too; the
//! text must arrive exactly as the core wrote it (lines, quotes, JSON bodies).

use aws_adapters::SnsPager;
use execution_core::audit::{self, Actor, Author, Decision, Page};
use execution_core::fixtures;
use execution_core::ops::{self, TrailRecord};
use execution_core::ports::{Notifier, Pager, ServiceError};

use crate::queues::{drain, queue, unique};

/// A topic whose one subscription is a queue: (topic ARN, queue URL).
async fn topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
) -> (String, String) {
    let name = unique("drs-pages");
    let topic = sns
        .create_topic()
        .name(&name)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let (url, arn) = queue(sqs, &name).await;
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(arn)
        .send()
        .await
        .unwrap();
    (topic, url)
}

/// A wave that failed and waits: the page a person gets, with commands and JSON bodies.
fn failed_wave() -> audit::AuditEvent {
    let by = Author {
        actor: Actor::Workflow,
        operation: "poll".into(),
        at_millis: 1_767_225_600_000,
    };
    let mut event = audit::created(&fixtures::execution(&[1, 1]), &by);
    event.event_id = audit::event_id(9, "h3");
    event.execution = None;
    event.notes.clear();
    event.decision = Some(Decision::WaveFailed);
    event.failed_wave = Some(1);
    event
}

#[tokio::test]
async fn a_page_reaches_the_topics_subscribers_as_written() {
    let (sns, sqs) = (moto_client!(aws_sdk_sns), moto_client!(aws_sdk_sqs));
    let (topic, queue) = topic_with_queue(&sns, &sqs).await;
    let page = failed_wave().page();
    assert!(
        page.message.contains("\n\ndrctl retry ") && page.message.contains(r#""waveNumber":1"#),
        "{}",
        page.message
    );
    let pager = SnsPager::new(sns, topic.clone());
    pager.page(&page).await.unwrap();

    let got = drain(&sqs, &queue).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_eq!(got[0]["Type"], "Notification");
    assert_eq!(got[0]["TopicArn"], topic.as_str());
    assert_eq!(got[0]["Subject"], page.subject.as_str());
    assert_eq!(
        got[0]["Message"].as_str(),
        Some(page.message.as_str()),
        "the text as the core wrote it: its lines and quotes, not escaped"
    );
}

#[tokio::test]
async fn the_publisher_pages_each_paging_event_once_after_its_notices() {
    let (sns, sqs) = (moto_client!(aws_sdk_sns), moto_client!(aws_sdk_sqs));
    let (topic, queue) = topic_with_queue(&sns, &sqs).await;
    let by = Author {
        actor: Actor::Cli("local".into()),
        operation: "create".into(),
        at_millis: 1_767_225_600_000,
    };
    let created = audit::created(&fixtures::execution(&[1, 1]), &by);
    let trail: Vec<TrailRecord> = vec![created.into(), failed_wave().into()];

    let mut notifier = execution_core::ports::mocks::MockNotifier::new();
    notifier.expect_publish().times(2).returning(|_| Ok(()));
    let pager = SnsPager::new(sns, topic);
    ops::publish(&notifier as &dyn Notifier, Some(&pager), &trail)
        .await
        .unwrap();
    let got = drain(&sqs, &queue).await;
    let subjects: Vec<&str> = got.iter().map(|e| e["Subject"].as_str().unwrap()).collect();
    assert_eq!(
        subjects,
        [failed_wave().page().subject],
        "the creation does not page"
    );
}

#[tokio::test]
async fn a_topic_that_does_not_exist_refuses_the_page() {
    let pager = SnsPager::new(
        moto_client!(aws_sdk_sns),
        format!(
            "arn:aws:sns:us-east-1:123456789012:{}",
            unique("no-such-topic")
        ),
    );
    let page = Page {
        subject: "drs-waves: test".into(),
        message: "line one\nline two".into(),
    };
    let err = pager.page(&page).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::Rejected(m) if m.contains("SNS Publish")),
        "{err:?}"
    );
}
