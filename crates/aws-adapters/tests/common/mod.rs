//! Shared by the test binaries: moto clients and SDK clients answered by aws-smithy-mocks.
#![allow(dead_code, unused_macros)]

/// The moto server's endpoint. A moto-backed test without moto fails (it must not pass silently).
pub fn moto_endpoint() -> String {
    match std::env::var("MOTO_PORT") {
        Ok(port) if !port.trim().is_empty() => format!("http://127.0.0.1:{}", port.trim()),
        _ => panic!(
            "MOTO_PORT is not set: this test runs against a moto server. Run `make test` (scripts/test.sh starts moto), \
             or `scripts/moto.sh start` and set MOTO_PORT=$(cat target/moto.port)"
        ),
    }
}

/// An SDK client of `$sdk` against moto, with fixed dummy credentials and region (tests never
/// read the developer's AWS configuration).
macro_rules! moto_client {
    ($sdk:ident) => {{
        let conf = $sdk::config::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .endpoint_url($crate::common::moto_endpoint())
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

/// An SDK client of `$sdk` whose calls are answered by aws-smithy-mocks rules: the SDK's real
/// request and response types and error parsing, no network. Like `aws_smithy_mocks::mock_client!`
/// but without the SDK's `test-util` feature (which would rebuild every SDK crate), and with
/// retries off so each rule answers exactly the calls the adapter makes. The second form takes the
/// retry and timeout policy (`aws_adapters::retry_config()`, `timeout_config()`: production's).
macro_rules! mocked_client {
    ($sdk:ident, $mode:expr, $rules:expr) => {
        mocked_client!(
            $sdk,
            $mode,
            $rules,
            $sdk::config::retry::RetryConfig::disabled(),
            $sdk::config::timeout::TimeoutConfig::disabled()
        )
    };
    ($sdk:ident, $mode:expr, $rules:expr, $retry:expr, $timeouts:expr) => {{
        let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new().rule_mode($mode);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        let conf = $sdk::config::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new("us-east-1"))
            .credentials_provider($sdk::config::Credentials::new(
                "test", "test", None, None, "mock",
            ))
            .retry_config($retry)
            .timeout_config($timeouts)
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(interceptor)
            .build();
        $sdk::Client::from_conf(conf)
    }};
}

/// Error metadata with a code, as a real error response carries it.
pub fn meta(code: &str, message: &str) -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder()
        .code(code)
        .message(message)
        .build()
}
