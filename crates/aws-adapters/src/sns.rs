//! `Pager` on SNS Publish: each page one message to the stack's notifications topic, `Subject` the
//! page's subject and `Message` its text, as they are (the core keeps the subject within SNS's
//! limits: [`execution_core::audit::MAX_SUBJECT_CHARS`] printable ASCII characters). Subscribers
//! get the text with its line breaks: an e-mail subscription shows it as written.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use execution_core::audit::Page;
use execution_core::ports::{Pager, ServiceError};

use crate::errors::classify;

const WHAT: &str = "SNS Publish";

#[derive(Debug, Clone)]
pub struct SnsPager {
    client: Client,
    topic_arn: String,
}

impl SnsPager {
    /// Pages through the topic `topic_arn`.
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    /// The pager of a deployed stack: a client from `sdk` and the topic `NOTIFICATION_TOPIC_ARN`
    /// names; `None` when it names none (then no one is paged).
    pub fn from_settings(sdk: &aws_config::SdkConfig, settings: &crate::Settings) -> Option<Self> {
        settings
            .notification_topic_arn
            .as_deref()
            .map(|arn| Self::new(Client::new(sdk), arn))
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }
}

#[async_trait]
impl Pager for SnsPager {
    async fn page(&self, page: &Page) -> Result<(), ServiceError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&page.subject)
            .message(&page.message)
            .send()
            .await
            .map_err(|e| classify(WHAT, &e))?;
        Ok(())
    }
}
