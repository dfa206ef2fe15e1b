//! The AWS SDK configuration and the settings a function reads from its environment, once, at start.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use execution_core::rules::{Policy, PolicyProblem};

/// Attempts per SDK call (the first one included). Standard mode retries throttling, 5xx and
/// transient network errors with jittered exponential backoff; three attempts ride out a blip
/// without letting a Lambda spend its whole budget on one call. The core's own re-reads (lost
/// races) come on top and are bounded separately.
pub const MAX_ATTEMPTS: u32 = 3;
/// TCP/TLS connect: an endpoint that does not answer in this time is not going to.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);
/// One attempt of one call. Every call these adapters make (a DynamoDB page, a DRS or EC2
/// describe, a task token) answers in well under a second; Lambda `Invoke` sets its own, longer
/// limit per call (see `LambdaPollDispatch::with_invoke_timeout`).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(20);
/// One call, every attempt and backoff included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(60);

/// The retry policy of every client [`sdk_config`] builds: standard mode, [`MAX_ATTEMPTS`].
/// A call that must not be repeated (DRS StartRecovery) turns it off for itself.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS)
}

/// The time limits of every client [`sdk_config`] builds.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The standard AWS environment (region, credentials, `AWS_ENDPOINT_URL*`, profile) with the retry
/// and timeout policy above. Build it once per process and derive every client from it.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

pub const DEFAULT_STATUS_INDEX: &str = "status-index-v2";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set (or empty)")]
    Missing(&'static str),
    #[error("environment variable {0} is not valid UTF-8")]
    NotUnicode(&'static str),
    /// Set, but not a value the deployment may have.
    #[error("environment variable {name}: {problem}")]
    Invalid { name: &'static str, problem: String },
}

/// What a function needs to know about its deployment, from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `EXECUTIONS_TABLE` (required).
    pub table_name: String,
    /// `STATUS_INDEX_NAME`, default `status-index-v2`.
    pub status_index: String,
    /// `POLL_FUNCTION_NAME`; empty for functions that do not dispatch polls.
    pub poll_function: String,
    /// `STATE_MACHINE_ARN`, for whoever starts workflow runs.
    pub state_machine_arn: Option<String>,
    /// `EVENT_BUS_NAME`: the bus the trail's notices are published on (the publish function).
    pub event_bus_name: Option<String>,
    /// `NOTIFICATION_TOPIC_ARN`: the topic the publish function pages through; unset, no one is
    /// paged.
    pub notification_topic_arn: Option<String>,
    /// The core's policy with the deployment's limits: `MAX_SERVERS_PER_JOB` (1–200, default
    /// 100) and `MAX_WAVE_ATTEMPTS` (1–100, default 3), each optional.
    pub policy: Policy,
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| match std::env::var(name) {
            Ok(v) => Ok(Some(v)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(ConfigError::NotUnicode(name)),
        })
    }

    /// `from_env` over any source of variables (tests do not touch the process environment).
    pub fn from_lookup<F>(lookup: F) -> Result<Self, ConfigError>
    where
        F: Fn(&'static str) -> Result<Option<String>, ConfigError>,
    {
        // Empty counts as unset: a template that renders `""` is as wrong as a missing variable.
        let get =
            |name| lookup(name).map(|v| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()));
        Ok(Self {
            table_name: get("EXECUTIONS_TABLE")?.ok_or(ConfigError::Missing("EXECUTIONS_TABLE"))?,
            status_index: get("STATUS_INDEX_NAME")?
                .unwrap_or_else(|| DEFAULT_STATUS_INDEX.to_owned()),
            poll_function: get("POLL_FUNCTION_NAME")?.unwrap_or_default(),
            state_machine_arn: get("STATE_MACHINE_ARN")?,
            event_bus_name: get("EVENT_BUS_NAME")?,
            notification_topic_arn: get("NOTIFICATION_TOPIC_ARN")?,
            policy: Policy::with_limits(
                whole_number("MAX_SERVERS_PER_JOB", get("MAX_SERVERS_PER_JOB")?)?,
                whole_number("MAX_WAVE_ATTEMPTS", get("MAX_WAVE_ATTEMPTS")?)?,
            )
            .map_err(|problem| ConfigError::Invalid {
                name: match problem {
                    PolicyProblem::MaxServersPerJob(_) => "MAX_SERVERS_PER_JOB",
                    PolicyProblem::MaxWaveAttempts(_) => "MAX_WAVE_ATTEMPTS",
                },
                problem: problem.to_string(),
            })?,
        })
    }

    /// The core's policy for this deployment.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The poll function's name, for the functions that dispatch polls (find).
    pub fn require_poll_function(&self) -> Result<&str, ConfigError> {
        if self.poll_function.is_empty() {
            Err(ConfigError::Missing("POLL_FUNCTION_NAME"))
        } else {
            Ok(&self.poll_function)
        }
    }

    /// The notices' bus, for the function that publishes them.
    pub fn require_event_bus(&self) -> Result<&str, ConfigError> {
        self.event_bus_name
            .as_deref()
            .ok_or(ConfigError::Missing("EVENT_BUS_NAME"))
    }
}

/// An optional setting that must be a whole number (the range is the core's to check).
fn whole_number(name: &'static str, value: Option<String>) -> Result<Option<u64>, ConfigError> {
    value
        .map(|v| {
            v.parse::<u64>().map_err(|_| ConfigError::Invalid {
                name,
                problem: format!("must be a whole number, got {v:?}"),
            })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&'static str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<&str, String> = vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        Settings::from_lookup(|name| Ok(vars.get(name).cloned()))
    }

    #[test]
    fn table_is_required_and_index_has_a_default() {
        assert_eq!(settings(&[]), Err(ConfigError::Missing("EXECUTIONS_TABLE")));
        assert_eq!(
            settings(&[("EXECUTIONS_TABLE", " ")]),
            Err(ConfigError::Missing("EXECUTIONS_TABLE"))
        );
        let s = settings(&[("EXECUTIONS_TABLE", "executions")]).unwrap();
        assert_eq!(s.table_name, "executions");
        assert_eq!(s.status_index, "status-index-v2");
        assert_eq!(s.state_machine_arn, None);
        assert_eq!(s.notification_topic_arn, None, "no topic: no pages");
        assert_eq!(
            s.require_event_bus(),
            Err(ConfigError::Missing("EVENT_BUS_NAME"))
        );
        assert_eq!(
            s.require_poll_function(),
            Err(ConfigError::Missing("POLL_FUNCTION_NAME"))
        );
    }

    #[test]
    fn every_variable_is_read() {
        let s = settings(&[
            ("EXECUTIONS_TABLE", "t"),
            ("STATUS_INDEX_NAME", "by-status"),
            ("POLL_FUNCTION_NAME", "poll-fn"),
            (
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:x",
            ),
        ])
        .unwrap();
        assert_eq!(s.status_index, "by-status");
        assert_eq!(
            settings(&[("EXECUTIONS_TABLE", "t"), ("EVENT_BUS_NAME", "drs-notices")])
                .unwrap()
                .require_event_bus(),
            Ok("drs-notices")
        );
        assert_eq!(s.require_poll_function(), Ok("poll-fn"));
        assert_eq!(
            settings(&[
                ("EXECUTIONS_TABLE", "t"),
                (
                    "NOTIFICATION_TOPIC_ARN",
                    " arn:aws:sns:us-east-1:123456789012:n "
                )
            ])
            .unwrap()
            .notification_topic_arn
            .as_deref(),
            Some("arn:aws:sns:us-east-1:123456789012:n")
        );
        assert_eq!(
            settings(&[("EXECUTIONS_TABLE", "t"), ("NOTIFICATION_TOPIC_ARN", "")])
                .unwrap()
                .notification_topic_arn,
            None,
            "empty counts as unset"
        );
        assert_eq!(
            s.state_machine_arn.as_deref(),
            Some("arn:aws:states:us-east-1:123456789012:stateMachine:x")
        );
    }

    #[test]
    fn the_policy_takes_the_deployment_limits() {
        let s = settings(&[("EXECUTIONS_TABLE", "t")]).unwrap();
        assert_eq!(s.policy, Policy::default());
        assert_eq!(s.policy().max_servers_per_job, 100);
        assert_eq!(s.policy().max_wave_attempts, 3);

        let s = settings(&[
            ("EXECUTIONS_TABLE", "t"),
            ("MAX_SERVERS_PER_JOB", " 200 "),
            ("MAX_WAVE_ATTEMPTS", "5"),
        ])
        .unwrap();
        assert_eq!(
            s.policy,
            Policy::with_limits(Some(200), Some(5)).unwrap(),
            "both limits are read, and nothing else of the policy changes"
        );
        assert_eq!(
            settings(&[("EXECUTIONS_TABLE", "t"), ("MAX_SERVERS_PER_JOB", "")])
                .unwrap()
                .policy,
            Policy::default(),
            "empty counts as unset"
        );
    }

    #[test]
    fn limits_out_of_range_or_not_numbers_are_refused_with_a_clear_message() {
        let refused = |name: &'static str, value: &str| {
            let err = settings(&[("EXECUTIONS_TABLE", "t"), (name, value)]).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name),
                "{err:?}"
            );
            err.to_string()
        };
        for bad in ["0", "201", "100000000000"] {
            let message = refused("MAX_SERVERS_PER_JOB", bad);
            assert!(
                message.starts_with("environment variable MAX_SERVERS_PER_JOB: ")
                    && message.contains("1 to 200")
                    && message.contains(bad),
                "{message}"
            );
        }
        for bad in ["0", "101"] {
            let message = refused("MAX_WAVE_ATTEMPTS", bad);
            assert!(
                message.contains("MAX_WAVE_ATTEMPTS") && message.contains(bad),
                "{message}"
            );
        }
        for bad in ["ten", "-1", "1.5", "100 servers"] {
            for name in ["MAX_SERVERS_PER_JOB", "MAX_WAVE_ATTEMPTS"] {
                let message = refused(name, bad);
                assert_eq!(
                    message,
                    format!("environment variable {name}: must be a whole number, got {bad:?}")
                );
            }
        }
    }

    #[test]
    fn a_lookup_error_is_reported() {
        let r = Settings::from_lookup(|name| {
            if name == "EXECUTIONS_TABLE" {
                Err(ConfigError::NotUnicode(name))
            } else {
                Ok(None)
            }
        });
        assert_eq!(r, Err(ConfigError::NotUnicode("EXECUTIONS_TABLE")));
    }

    #[tokio::test]
    async fn sdk_config_bounds_attempts_and_time() {
        let config = sdk_config().await;
        let retry = config.retry_config().unwrap();
        assert_eq!(retry, &retry_config());
        assert_eq!(retry.max_attempts(), MAX_ATTEMPTS);
        assert_eq!(retry.mode(), aws_config::retry::RetryMode::Standard);
        let timeouts = config.timeout_config().unwrap();
        assert_eq!(timeouts.connect_timeout(), Some(CONNECT_TIMEOUT));
        assert_eq!(timeouts.operation_attempt_timeout(), Some(ATTEMPT_TIMEOUT));
        assert_eq!(timeouts.operation_timeout(), Some(OPERATION_TIMEOUT));
    }
}
