//! `validate --check-aws`: the pre-flight a start runs (the core's `ops::preflight`), from here:
//! what DRS says of every server of the plan (exists, replicating healthily, in no running job)
//! and, when EXECUTIONS_TABLE names the deployment's table, which servers other active
//! executions hold. Without the `aws` feature, `validate --check-aws` answers how to rebuild
//! (exit 2).

use execution_core::plan::Plan;
use execution_core::preflight::Preflight;

use crate::exit::CliError;

/// The verdict, and whether the holds were read (EXECUTIONS_TABLE set).
pub struct Checked {
    pub preflight: Preflight,
    pub holds_checked: bool,
}

#[cfg(feature = "aws")]
pub async fn check(plan: &Plan) -> Result<Checked, CliError> {
    use aws_adapters::{DrsService, DynamoDbStore, Settings, SystemClock};
    use execution_core::ports::{ExecutionStore, ServerLocks};
    use execution_core::rules::Policy;

    let config = crate::aws::sdk_config().await?;
    let drs = DrsService::new(aws_sdk_drs::Client::new(&config));
    // The holds live in the deployment's table: read them when it is named.
    let settings = std::env::var_os("EXECUTIONS_TABLE")
        .map(|_| Settings::from_env().map_err(|e| CliError::invalid(format!("configuration: {e}"))))
        .transpose()?;
    let policy = settings
        .as_ref()
        .map_or_else(Policy::default, |s| s.policy().clone());
    let store = settings
        .as_ref()
        .map(|s| DynamoDbStore::from_settings(&config, s));
    let holds = store
        .as_ref()
        .map(|s| (s as &dyn ExecutionStore, s as &dyn ServerLocks));
    let preflight = check_with(&drs, holds, &policy, plan, &SystemClock).await?;
    Ok(Checked {
        preflight,
        holds_checked: store.is_some(),
    })
}

#[cfg(not(feature = "aws"))]
pub async fn check(_plan: &Plan) -> Result<Checked, CliError> {
    Err(crate::exit::aws_left_out("validate --check-aws"))
}

/// The core's pre-flight against these ports; a DRS or table failure is an infrastructure error.
#[cfg(feature = "aws")]
async fn check_with(
    drs: &dyn execution_core::ports::Drs,
    holds: Option<execution_core::ops::Holds<'_>>,
    policy: &execution_core::rules::Policy,
    plan: &Plan,
    clock: &dyn execution_core::ports::Clock,
) -> Result<Preflight, CliError> {
    execution_core::ops::preflight(holds, Some(drs), clock, policy, plan, None)
        .await
        .map_err(|e| CliError::infrastructure(e.to_string()))
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_adapters::{DrsService, SystemClock};
    use aws_sdk_drs::operation::describe_source_servers::DescribeSourceServersOutput;
    use aws_sdk_drs::types::{
        DataReplicationInfo, DataReplicationState, LastLaunchType, LaunchStatus, LifeCycle,
        LifeCycleLastLaunch, LifeCycleLastLaunchInitiated, SourceServer,
    };
    use aws_sdk_drs::Client;
    use aws_smithy_mocks::{mock, MockResponseInterceptor, RuleMode};
    use execution_core::fixtures;
    use execution_core::preflight::{PreflightProblem, PreflightWarning};
    use execution_core::rules::Policy;

    use super::*;

    fn client(rule: &aws_smithy_mocks::Rule) -> Client {
        let conf = aws_sdk_drs::Config::builder()
            .behavior_version(aws_sdk_drs::config::BehaviorVersion::latest())
            .region(aws_sdk_drs::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_drs::config::Credentials::new(
                "test", "test", None, None, "mock",
            ))
            .retry_config(aws_sdk_drs::config::retry::RetryConfig::disabled())
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(
                MockResponseInterceptor::new()
                    .rule_mode(RuleMode::MatchAny)
                    .with_rule(rule),
            )
            .build();
        Client::from_conf(conf)
    }

    /// Server n's replication state, as DRS documents them, then one DRS may add later.
    const STATES: [&str; 11] = [
        "CONTINUOUS",
        "STOPPED",
        "INITIATING",
        "INITIAL_SYNC",
        "BACKLOG",
        "CREATING_SNAPSHOT",
        "PAUSED",
        "RESCAN",
        "STALLED",
        "DISCONNECTED",
        "SOMETHING_NEW",
    ];

    /// DRS as DescribeSourceServers answers it: servers 0..11 in the states above, server 11
    /// CONTINUOUS but in a running drill job, server 12 unknown to DRS; two pages per call.
    fn drs(calls: Arc<Mutex<Vec<usize>>>) -> aws_smithy_mocks::Rule {
        mock!(Client::describe_source_servers).then_compute_output(move |r| {
            let ids = r
                .filters()
                .map(|f| f.source_server_ids().to_vec())
                .unwrap_or_default();
            calls.lock().unwrap().push(ids.len());
            let first_page = r.next_token().is_none();
            let items = ids
                .iter()
                .enumerate()
                .filter(|(i, _)| (i % 2 == 0) == first_page)
                .filter_map(|(_, id)| {
                    let n: usize = id[2..].parse().ok()?;
                    let state = match n {
                        0..=10 => STATES[n],
                        11 => "CONTINUOUS",
                        _ => return None,
                    };
                    let mut server = SourceServer::builder()
                        .source_server_id(id)
                        .data_replication_info(
                            DataReplicationInfo::builder()
                                .data_replication_state(DataReplicationState::from(state))
                                .build(),
                        );
                    if n == 11 {
                        server = server.life_cycle(
                            LifeCycle::builder()
                                .last_launch(
                                    LifeCycleLastLaunch::builder()
                                        .initiated(
                                            LifeCycleLastLaunchInitiated::builder()
                                                .job_id("drsjob-11111111111111111")
                                                .r#type(LastLaunchType::Drill)
                                                .build(),
                                        )
                                        .status(LaunchStatus::InProgress)
                                        .build(),
                                )
                                .build(),
                        );
                    }
                    Some(server.build())
                })
                .collect();
            DescribeSourceServersOutput::builder()
                .set_items(Some(items))
                .set_next_token(first_page.then(|| "page-2".to_owned()))
                .build()
        })
    }

    #[tokio::test]
    async fn every_replication_state_drs_answers_is_judged_through_the_real_sdk() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let rule = drs(calls.clone());
        let service = DrsService::new(client(&rule));
        let plan = fixtures::plan(&[7, 6]);
        let found = check_with(&service, None, &Policy::default(), &plan, &SystemClock)
            .await
            .unwrap();
        let unhealthy: Vec<String> = found
            .problems
            .iter()
            .filter_map(|p| match p {
                PreflightProblem::ReplicationUnhealthy { state, .. } => Some(state.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            unhealthy,
            [
                "STOPPED",
                "INITIATING",
                "INITIAL_SYNC",
                "PAUSED",
                "STALLED",
                "DISCONNECTED"
            ]
        );
        assert!(found.problems.iter().any(|p| matches!(p, PreflightProblem::InRunningJob { source_server_id, job_id: Some(_) } if *source_server_id == fixtures::server(11))));
        assert!(found.problems.iter().any(|p| matches!(p, PreflightProblem::NotInDrs { source_server_id } if *source_server_id == fixtures::server(12))));
        assert_eq!(found.problems.len(), 8, "{:?}", found.problems);
        let behind: Vec<String> = found
            .warnings
            .iter()
            .filter_map(|w| match w {
                PreflightWarning::ReplicationBehind { state, .. } => Some(state.clone()),
                PreflightWarning::ReplicationUnknown { state, .. } => state.clone(),
                _ => None,
            })
            .collect();
        assert_eq!(
            behind,
            ["BACKLOG", "CREATING_SNAPSHOT", "RESCAN", "SOMETHING_NEW"]
        );
        assert_eq!(*calls.lock().unwrap(), [13, 13], "one call, two pages");
    }

    #[tokio::test]
    async fn a_refusal_is_an_infrastructure_error() {
        let rule = mock!(Client::describe_source_servers).then_error(|| {
            aws_sdk_drs::operation::describe_source_servers::DescribeSourceServersError::unhandled(
                "AccessDenied",
            )
        });
        let service = DrsService::new(client(&rule));
        let err = check_with(
            &service,
            None,
            &Policy::default(),
            &fixtures::plan(&[1]),
            &SystemClock,
        )
        .await
        .err()
        .unwrap();
        assert_eq!(err.exit, crate::exit::Exit::Infrastructure);
        assert!(
            err.message.contains("DescribeSourceServers"),
            "{}",
            err.message
        );
    }
}
