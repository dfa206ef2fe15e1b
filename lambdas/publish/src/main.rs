//! publish: every audit event the executions table's trail gains is published to EventBridge as
//! its notices, and one that must reach a person is paged through the notifications topic (SNS),
//! at least once and in order. Lambda runs it on batches of the table's stream (INSERTs of trail
//! items); a batch that could not be published whole is answered with the record to deliver again
//! from. Without NOTIFICATION_TOPIC_ARN it publishes the notices and pages no one.

use aws_adapters::dynamodb::read_stream_record;
use aws_adapters::{sdk_config, EventBridgeNotifier, Settings, SnsPager};
use lambda_shell::{logging, stream, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let notifier = EventBridgeNotifier::from_settings(&sdk, &settings)?;
    let pager = SnsPager::from_settings(&sdk, &settings);
    stream::serve(
        &notifier,
        pager.as_ref().map(|p| p as _),
        read_stream_record,
    )
    .await
}
