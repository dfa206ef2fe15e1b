//! start: `POST /executions` with a plan document as the body checks the plan's servers in DRS
//! (pre-flight), takes a hold on each (one active execution per server), creates a PENDING
//! execution and starts the state machine run that conducts it (named after the execution);
//! answers the executionId. A run that cannot start leaves the execution CANCELLED, nothing
//! launched, its holds binding no one.

use aws_adapters::{
    sdk_config, ConfigError, DrsService, DynamoDbStore, Settings, StepFunctionsWorkflow,
    SystemClock,
};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let machine = settings
        .state_machine_arn
        .clone()
        .ok_or(ConfigError::Missing("STATE_MACHINE_ARN"))?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let drs = DrsService::new(aws_sdk_drs::Client::new(&sdk));
    let workflow =
        StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&sdk)).with_state_machine(machine);
    // The holds are items of the executions table: the store keeps them.
    let ports = Ports::new(&store, &SystemClock, settings.policy())
        .with_drs(&drs)
        .with_locks(&store)
        .with_workflow(&workflow);
    serve_function(Operation::Start, &ports).await
}
