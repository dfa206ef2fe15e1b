//! launch: the state machine's wave launcher. Claims the next PENDING wave and starts its DRS
//! recovery job, once, even when retried.

use aws_adapters::{sdk_config, DrsService, DynamoDbStore, Settings, SystemClock};
use execution_core::rules::Policy;
use lambda_shell::{handlers, logging, run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let drs = DrsService::new(aws_sdk_drs::Client::new(&sdk));
    let policy = Policy::default();
    let (store, drs, clock, policy) = (&store, &drs, &SystemClock, &policy);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(handlers::launch(store, drs, clock, policy, &event.payload).await)
    }))
    .await
}
