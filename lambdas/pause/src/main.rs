//! pause: pauses an execution before its next wave. From an operator (direct call or API Gateway)
//! or from the state machine at a wave boundary, with the task token it waits on.

use aws_adapters::{sdk_config, DynamoDbStore, Settings, StepFunctionsWorkflow, SystemClock};
use execution_core::rules::Policy;
use lambda_shell::{handlers, logging, run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let workflow = StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&sdk));
    let policy = Policy::default();
    let (store, workflow, clock, policy) = (&store, &workflow, &SystemClock, &policy);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(handlers::pause(store, workflow, clock, policy, &event.payload).await)
    }))
    .await
}
