//! poll: refreshes one execution's waves from DRS and EC2, writes what changed and answers with
//! `nextAction`. Invoked by find and by the state machine.

use aws_adapters::{sdk_config, DrsService, DynamoDbStore, Ec2Service, Settings, SystemClock};
use execution_core::rules::Policy;
use lambda_shell::{handlers, logging, run, service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let drs = DrsService::new(aws_sdk_drs::Client::new(&sdk));
    let ec2 = Ec2Service::new(aws_sdk_ec2::Client::new(&sdk));
    let policy = Policy::default();
    let (store, drs, ec2, clock, policy) = (&store, &drs, &ec2, &SystemClock, &policy);
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(handlers::poll(store, drs, ec2, clock, policy, &event.payload).await)
    }))
    .await
}
