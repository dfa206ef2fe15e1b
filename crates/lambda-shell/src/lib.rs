//! What the Lambda functions share, so that each `main.rs` is wiring only: build the clients its
//! operation needs into [`Ports`], then [`serve_function`].
//!
//! - [`event`]: turns whatever invoked the function (a direct payload, the EventBridge schedule,
//!   a DRS launch result on EventBridge (advance's), an API Gateway proxy event on one of the
//!   API's routes, [`event::API_ROUTES`]) into the core's
//!   [`Request`](execution_core::api::Request), and the core's answer back into what that caller
//!   expects. A malformed event is a 400 answer.
//! - [`handlers`]: the one handler, [`handlers::serve`]: decode, run the core's
//!   [`ops::run`](execution_core::ops::run) over the ports given, encode, log one line. Tests run
//!   it in-process with mocks.
//! - [`logging`]: the tracing subscriber (AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL), built so
//!   that no task token reaches a log.
//! - [`config`]: find's deadline and concurrency from the Lambda context and environment.
//! - [`stream`]: the publish function's handler: the table's stream in, the trail's notices and
//!   pages out (at least once, in order; Lambda's partial batch response says where to start
//!   again).

mod apigw;
pub mod config;
pub mod event;
pub mod handlers;
pub mod logging;
pub mod stream;

pub use execution_core::api::Operation;
pub use execution_core::ops::Ports;
pub use execution_core::rules::Policy;
pub use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

/// Runs the function that serves `serves` over `ports` until Lambda stops it: every event is
/// answered by [`handlers::serve`]. (find builds its ports per event, from the invocation's
/// deadline, and calls [`handlers::serve`] itself.)
pub async fn serve_function(serves: Operation, ports: &Ports<'_>) -> Result<(), Error> {
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Error>(handlers::serve(serves, ports, &event.payload).await)
    }))
    .await
}
