//! Structured logs that honour Lambda's advanced logging controls and never carry a task token.
//!
//! Like `lambda_runtime::tracing::init_default_subscriber`, with two differences. The level is
//! capped at DEBUG: at TRACE, lambda_runtime logs every raw event and the AWS SDK every outgoing
//! request, and those carry task tokens (pause's event, resume's SendTaskSuccess). And RUST_LOG
//! is not read, so that no directive can lift the cap.

use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;

/// The most verbose level a function logs at, whatever AWS_LAMBDA_LOG_LEVEL says.
pub const MAX_LEVEL: LevelFilter = LevelFilter::DEBUG;

/// Installs the subscriber for the process, configured from AWS_LAMBDA_LOG_FORMAT and
/// AWS_LAMBDA_LOG_LEVEL. Call once, first thing in `main`.
pub fn init() -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").ok();
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").ok();
    tracing::subscriber::set_global_default(subscriber(
        format.as_deref(),
        level.as_deref(),
        std::io::stdout,
    ))
}

/// The subscriber for a log format (`JSON` or text) and level (`INFO`, `DEBUG`, ...; default
/// INFO, capped at [`MAX_LEVEL`]), writing to `writer`.
pub fn subscriber<W>(
    format: Option<&str>,
    level: Option<&str>,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = level
        .and_then(|l| LevelFilter::from_str(l.trim()).ok())
        .unwrap_or(LevelFilter::INFO)
        .min(MAX_LEVEL);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false)
        // CloudWatch stamps every line already.
        .without_time()
        .with_writer(writer);
    if format.is_some_and(|f| f.trim().eq_ignore_ascii_case("json")) {
        Box::new(builder.json().with_current_span(false).finish())
    } else {
        Box::new(builder.finish())
    }
}
