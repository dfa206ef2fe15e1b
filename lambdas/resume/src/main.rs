//! resume: resumes a paused execution and releases the state machine waiting at the pause.
//! From an operator (direct call or API Gateway).

use aws_adapters::{sdk_config, DynamoDbStore, Settings, StepFunctionsWorkflow};
use lambda_shell::{handlers, logging, run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let workflow = StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&sdk));
    let (store, workflow) = (&store, &workflow);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(handlers::resume(store, workflow, &event.payload).await)
    }))
    .await
}
