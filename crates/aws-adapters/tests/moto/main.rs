//! The DynamoDB, EC2, EventBridge and SNS adapters against a real protocol endpoint: the moto server
//! started by `make test` (MOTO_PORT). Every test works in its own table (or its own instances,
//! or its own bus or topic), so they run in parallel.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod compat;
mod dynamodb;
mod dynamodb_holds;
mod dynamodb_marks;
mod dynamodb_poll;
mod dynamodb_races;
mod dynamodb_trail;
mod ec2;
mod eventbridge;
mod queues;
mod sns;
