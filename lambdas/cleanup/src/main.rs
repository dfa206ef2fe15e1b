//! cleanup: a drill that has ended terminates the recovery instances it launched (DRS
//! TerminateRecoveryInstances), never a recovery's. From the state machine, `cleanupAfterSeconds`
//! after finalize when the plan sets it, and from operators (direct call or API Gateway).

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
    serve_function(Operation::Cleanup, &ports).await
}
