//! launch: the state machine's wave launcher. Claims the next PENDING wave (or the next part of
//! the wave in flight) and starts its DRS recovery jobs of at most MAX_SERVERS_PER_JOB servers,
//! once each, even when retried; a refusal that clears on its own is answered with when to try
//! again.

use aws_adapters::{sdk_config, DrsService, DynamoDbStore, Settings, SystemClock};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let drs = DrsService::new(aws_sdk_drs::Client::new(&sdk));
    let ports = Ports::new(&store, &SystemClock, settings.policy()).with_drs(&drs);
    serve_function(Operation::Launch, &ports).await
}
