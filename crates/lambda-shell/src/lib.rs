//! What the six Lambda functions share, so that each `main.rs` is wiring only.
//!
//! - [`event`]: turns whatever invoked the function (a direct payload, the EventBridge schedule,
//!   an API Gateway proxy event) into the core's [`Request`](execution_core::api::Request), and
//!   the core's answer back into what that caller expects. A malformed event is a 400 answer.
//! - [`handlers`]: one handler per function, over the core's ports (`&dyn ExecutionStore`, ...),
//!   so tests run them in-process with mocks.
//! - [`logging`]: the tracing subscriber (AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL), built so
//!   that no task token reaches a log.
//! - [`config`]: find's deadline and concurrency from the Lambda context and environment.

mod apigw;
pub mod config;
pub mod event;
pub mod handlers;
pub mod logging;

pub use lambda_runtime::{run, service_fn, Error, LambdaEvent};
