//! pause: pauses an execution before its next wave. From an operator (direct call or API Gateway)
//! or from the state machine, with the task token it waits on, at a wave boundary or on a failed
//! wave that waits for a decision.

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
    serve_function(Operation::Pause, &ports).await
}
