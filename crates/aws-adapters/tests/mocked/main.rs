//! The DRS, EC2, Lambda, SSM, Step Functions, EventBridge and SNS adapters through the real SDK clients, answered by
//! aws-smithy-mocks rules (the services have no local endpoint worth the name): request shapes,
//! batching, pagination and every error mapping.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod drs;
mod drs_servers;
mod dynamodb;
mod dynamodb_holds;
mod ec2;
mod eventbridge;
mod invoke;
mod lambda;
mod sfn;
mod sns;
mod ssm;
