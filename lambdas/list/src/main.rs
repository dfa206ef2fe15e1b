//! list: `GET /executions` answers one page of the active executions (POLLING, CANCELLING, PAUSED,
//! PENDING) from the status index, and the `nextToken` of the next page. Reads only.

use aws_adapters::{sdk_config, DynamoDbStore, Settings, SystemClock};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let ports = Ports::new(&store, &SystemClock, settings.policy());
    serve_function(Operation::List, &ports).await
}
