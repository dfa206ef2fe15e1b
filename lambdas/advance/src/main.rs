//! advance: the event-driven wave transition. An EventBridge rule hands it DRS's "DRS Source
//! Server Launch Result" events; it finds the execution that owns the job by the job's tags,
//! polls it (DRS and EC2, and the runbooks of its wave actions from SSM, as poll does) and, when
//! `nextAction` is LAUNCH, launches the next wave (launch's StartRecovery). An event that is not
//! this stack's, or that comes late, is answered IGNORED and changes nothing; polling remains the
//! fallback for an event that never comes.

use aws_adapters::{
    sdk_config, DrsService, DynamoDbStore, Ec2Service, Settings, SsmAutomation, SystemClock,
};
use lambda_shell::{logging, serve_function, Error, Operation, Ports};

#[tokio::main]
async fn main() -> Result<(), Error> {
    logging::init()?;
    let settings = Settings::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoDbStore::from_settings(&sdk, &settings);
    let drs = DrsService::new(aws_sdk_drs::Client::new(&sdk));
    let ec2 = Ec2Service::new(aws_sdk_ec2::Client::new(&sdk));
    let automation = SsmAutomation::new(aws_sdk_ssm::Client::new(&sdk));
    let ports = Ports::new(&store, &SystemClock, settings.policy())
        .with_drs(&drs)
        .with_ec2(&ec2)
        .with_automation(&automation);
    serve_function(Operation::Advance, &ports).await
}
