//! find: every minute (EventBridge), polls every POLLING and CANCELLING execution by invoking the
//! poll function, with bounded concurrency, and stops dispatching before its own deadline. With
//! STATE_MACHINE_ARN it also heals: an execution whose workflow run has ended gets a new run.

use aws_adapters::{
    sdk_config, DynamoDbStore, LambdaPollDispatch, Settings, StepFunctionsWorkflow, SystemClock,
};
use lambda_shell::config::{
    find_concurrency, find_config, FIND_CONCURRENCY_VAR, FIND_POLL_TIMEOUT,
};
use lambda_shell::{handlers, logging, run, service_fn, Error, LambdaEvent, Operation, Ports};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let concurrency = find_concurrency(std::env::var(FIND_CONCURRENCY_VAR).ok().as_deref())?;
    let poll_function = settings.require_poll_function()?.to_owned();
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let dispatch = LambdaPollDispatch::new(aws_sdk_lambda::Client::new(&sdk), poll_function)
        .with_invoke_timeout(FIND_POLL_TIMEOUT);
    let workflow = settings.state_machine_arn.as_deref().map(|arn| {
        StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&sdk)).with_state_machine(arn)
    });
    if workflow.is_none() {
        tracing::warn!("STATE_MACHINE_ARN is not set: find polls but does not heal");
    }
    let ports = Ports::new(&store, &SystemClock, settings.policy());
    let ports = match &workflow {
        Some(workflow) => ports.with_workflow(workflow),
        None => ports,
    };
    let (ports, dispatch) = (&ports, &dispatch);
    // find's deadline is the invocation's: its ports are completed per event.
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        let config = find_config(event.context.deadline, concurrency);
        let ports = ports.with_find(dispatch, &config);
        Ok::<_, Error>(handlers::serve(Operation::Find, &ports, &event.payload).await)
    }))
    .await
}
