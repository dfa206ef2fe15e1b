//! finalize: writes an execution's terminal status (COMPLETED, COMPLETED_WITH_ERRORS, FAILED or
//! CANCELLED), once. Invoked by the state machine.

use aws_adapters::{sdk_config, DynamoDbStore, Settings, SystemClock};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let ports = Ports::new(&store, &SystemClock, settings.policy());
    serve_function(Operation::Finalize, &ports).await
}
