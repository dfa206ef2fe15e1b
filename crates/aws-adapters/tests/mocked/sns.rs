//! `SnsPager`: the Publish request's shape (topic, subject, text as given) and its error mapping.

use std::sync::{Arc, Mutex};

use aws_adapters::SnsPager;
use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
use aws_sdk_sns::Client;
use aws_smithy_mocks::{mock, RuleMode};
use execution_core::audit::Page;
use execution_core::ports::{Pager, ServiceError};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:drs-executions-notifications";

fn page() -> Page {
    Page {
        subject: "drs-waves: Execution x: wave 1 FAILED...".into(),
        message: "Execution x: wave 1 FAILED.\n\ndrctl retry x --plan p --wave 1\nPOST /executions/x/retry with body {\"planId\":\"p\",\"waveNumber\":1}".into(),
    }
}

#[tokio::test]
async fn a_page_is_one_publish_to_the_topic_with_its_subject_and_text() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::clone(&seen);
    let rule = mock!(Client::publish).then_compute_output(move |r| {
        calls.lock().unwrap().push((
            r.topic_arn().unwrap_or_default().to_owned(),
            r.subject().unwrap_or_default().to_owned(),
            r.message().unwrap_or_default().to_owned(),
        ));
        PublishOutput::builder().message_id("m-1").build()
    });
    let pager = SnsPager::new(
        mocked_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule]),
        TOPIC,
    );
    pager.page(&page()).await.unwrap();
    let page = page();
    assert_eq!(
        *seen.lock().unwrap(),
        [(TOPIC.to_owned(), page.subject, page.message)]
    );
}

#[tokio::test]
async fn refusals_map_to_the_cores_errors() {
    let code = |code: &'static str| {
        mock!(Client::publish)
            .then_error(move || PublishError::generic(crate::common::meta(code, "refused")))
    };
    let (throttled, kms_throttled, missing, denied) = (
        code("Throttling"),
        code("KMSThrottling"),
        code("NotFound"),
        code("AuthorizationError"),
    );
    let server = mock!(Client::publish)
        .sequence()
        .http_status(500, None)
        .build();
    let pager = SnsPager::new(
        mocked_client!(
            aws_sdk_sns,
            RuleMode::Sequential,
            [&throttled, &kms_throttled, &server, &missing, &denied]
        ),
        TOPIC,
    );
    for _ in 0..2 {
        let err = pager.page(&page()).await.unwrap_err();
        assert!(
            matches!(&err, ServiceError::Throttled { message, .. } if message.starts_with("SNS Publish: ")),
            "{err:?}"
        );
    }
    assert!(matches!(
        pager.page(&page()).await,
        Err(ServiceError::Unavailable { .. })
    ));
    for _ in 0..2 {
        let err = pager.page(&page()).await.unwrap_err();
        assert!(matches!(&err, ServiceError::Rejected(_)), "{err:?}");
    }
}
