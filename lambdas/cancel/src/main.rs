//! cancel: an operator stops an execution: it becomes CANCELLING, no wave is launched any more,
//! the wave in flight settles, and finalize ends it CANCELLED; a state machine waiting at a pause
//! is released. From an operator (direct call or API Gateway).

use aws_adapters::{sdk_config, DynamoDbStore, Settings, StepFunctionsWorkflow, SystemClock};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let workflow = StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&sdk));
    let ports = Ports::new(&store, &SystemClock, settings.policy()).with_workflow(&workflow);
    serve_function(Operation::Cancel, &ports).await
}
