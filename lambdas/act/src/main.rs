//! act: the state machine's wave action runner. Takes the action that is due (BEFORE_LAUNCH on
//! the next wave, AFTER_COMPLETE on a completed one), invokes its Lambda function once or starts
//! its SSM Automation runbook (poll follows the runbook), and records the run on the wave.

use aws_adapters::{
    sdk_config, DynamoDbStore, LambdaInvoker, Settings, SsmAutomation, SystemClock,
};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let invoker = LambdaInvoker::new(aws_sdk_lambda::Client::new(&sdk));
    let automation = SsmAutomation::new(aws_sdk_ssm::Client::new(&sdk));
    let ports =
        Ports::new(&store, &SystemClock, settings.policy()).with_actions(&invoker, &automation);
    serve_function(Operation::Act, &ports).await
}
