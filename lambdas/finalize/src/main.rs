//! finalize: writes an execution's terminal status (COMPLETED, FAILED or CANCELLED), once.
//! Invoked by the state machine.

use aws_adapters::{sdk_config, DynamoDbStore, Settings, SystemClock};
use lambda_shell::{handlers, logging, run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let (store, clock) = (&store, &SystemClock);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(handlers::finalize(store, clock, &event.payload).await)
    }))
    .await
}
