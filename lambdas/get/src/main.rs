//! get: `GET /executions/{executionId}?planId=` answers the execution's record, every wave and
//! server included, without its task token (`workflowWaiting` says whether one is held). Reads
//! only.

use aws_adapters::{sdk_config, DynamoDbStore, Settings, SystemClock};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let ports = Ports::new(&store, &SystemClock, settings.policy());
    serve_function(Operation::Get, &ports).await
}
