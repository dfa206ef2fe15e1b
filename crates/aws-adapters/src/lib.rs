//! execution-core's ports on the AWS SDK for Rust. Adapters translate between the SDK's types and
//! the core's; they never decide. Every constructor takes an SDK client: a process builds its
//! clients once (from [`sdk_config`]) and hands them in.
//!
//! - [`DynamoDbStore`]: `ExecutionStore` on one DynamoDB table (layout in `docs/storage.md`).
//! - [`DrsService`], [`Ec2Service`]: what poll and launch ask of DRS and EC2.
//! - [`LambdaPollDispatch`]: find → poll over Lambda `Invoke`.
//! - [`LambdaInvoker`], [`SsmAutomation`]: wave actions (a function invoked once, synchronously;
//!   an SSM Automation runbook started, read and stopped).
//! - [`StepFunctionsWorkflow`]: task tokens, and starting one state machine run per execution.
//! - [`EventBridgeNotifier`]: the trail's notices, published on the stack's bus.
//! - [`SnsPager`]: the pages (what must reach a person), published to the stack's topic.
//! - [`SystemClock`]: the wall clock.

mod clock;
mod config;
mod drs;
pub mod dynamodb;
mod ec2;
mod errors;
mod eventbridge;
mod lambda;
mod sfn;
mod sns;
mod ssm;

pub use clock::SystemClock;
pub use config::{
    retry_config, sdk_config, timeout_config, ConfigError, Settings, DEFAULT_STATUS_INDEX,
};
pub use drs::DrsService;
pub use dynamodb::{create_table, DynamoDbStore, TableCreation};
pub use ec2::Ec2Service;
pub use eventbridge::{EventBridgeNotifier, MAX_ENTRIES_PER_CALL, MAX_REQUEST_BYTES};
pub use lambda::{LambdaInvoker, LambdaPollDispatch};
pub use sfn::StepFunctionsWorkflow;
pub use sns::SnsPager;
pub use ssm::SsmAutomation;
