//! `validate --check-aws`: which of a plan's source servers DRS does not know. A direct
//! DescribeSourceServers call: no use case needs it, so it is no port of the core. Without the
//! `aws` feature, `validate --check-aws` answers how to rebuild (exit 2).

#[cfg(feature = "aws")]
use std::collections::HashSet;

#[cfg(feature = "aws")]
use aws_sdk_drs::types::DescribeSourceServersRequestFilters;
use execution_core::ids::SourceServerId;
use execution_core::plan::Plan;
#[cfg(feature = "aws")]
use execution_core::ports::DRS_FILTER_MAX;

use crate::exit::CliError;

#[cfg(feature = "aws")]
pub async fn missing(plan: &Plan) -> Result<Vec<SourceServerId>, CliError> {
    let config = crate::aws::sdk_config().await?;
    missing_in(&aws_sdk_drs::Client::new(&config), plan).await
}

#[cfg(not(feature = "aws"))]
pub async fn missing(_plan: &Plan) -> Result<Vec<SourceServerId>, CliError> {
    Err(crate::exit::aws_left_out("validate --check-aws"))
}

/// The plan's servers absent from DescribeSourceServers (200 ids per filter, every page).
#[cfg(feature = "aws")]
async fn missing_in(
    client: &aws_sdk_drs::Client,
    plan: &Plan,
) -> Result<Vec<SourceServerId>, CliError> {
    let wanted: Vec<&SourceServerId> = plan
        .waves
        .iter()
        .flat_map(|w| &w.servers)
        .map(|s| &s.source_server_id)
        .collect();
    let mut known = HashSet::new();
    for chunk in wanted.chunks(DRS_FILTER_MAX) {
        let filters = DescribeSourceServersRequestFilters::builder()
            .set_source_server_ids(Some(chunk.iter().map(ToString::to_string).collect()))
            .build();
        let mut pages = client
            .describe_source_servers()
            .filters(filters)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                CliError::infrastructure(format!(
                    "DRS DescribeSourceServers: {}",
                    aws_sdk_drs::error::DisplayErrorContext(&e)
                ))
            })?;
            known.extend(
                page.items()
                    .iter()
                    .filter_map(|s| s.source_server_id().map(str::to_owned)),
            );
        }
    }
    Ok(wanted
        .into_iter()
        .filter(|s| !known.contains(s.as_str()))
        .cloned()
        .collect())
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_drs::operation::describe_source_servers::DescribeSourceServersOutput;
    use aws_sdk_drs::types::SourceServer;
    use aws_sdk_drs::Client;
    use aws_smithy_mocks::{mock, MockResponseInterceptor, RuleMode};
    use execution_core::fixtures;

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

    #[tokio::test]
    async fn servers_drs_does_not_list_are_missing_in_batches_of_200_and_every_page() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&calls);
        // DRS knows every even-numbered server and splits each batch's answer over two pages
        // (batches start at multiples of 4, so a server's index in its batch keeps n % 4).
        let rule = mock!(Client::describe_source_servers).then_compute_output(move |r| {
            let ids = r
                .filters()
                .map(|f| f.source_server_ids().to_vec())
                .unwrap_or_default();
            let first_page = r.next_token().is_none();
            seen.lock().unwrap().push((ids.len(), first_page));
            let page_remainder = if first_page { 0 } else { 2 };
            let known = ids
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 4 == page_remainder);
            let items = known
                .map(|(_, id)| SourceServer::builder().source_server_id(id).build())
                .collect();
            DescribeSourceServersOutput::builder()
                .set_items(Some(items))
                .set_next_token(first_page.then(|| "page-2".to_owned()))
                .build()
        });
        let plan = fixtures::plan(&[150, 100]);
        let missing = missing_in(&client(&rule), &plan).await.unwrap();
        let odd: Vec<_> = (0..250)
            .filter(|n| n % 2 == 1)
            .map(fixtures::server)
            .collect();
        assert_eq!(missing, odd);
        assert_eq!(
            *calls.lock().unwrap(),
            [(200, true), (200, false), (50, true), (50, false)]
        );
    }

    #[tokio::test]
    async fn a_refusal_is_an_infrastructure_error() {
        let rule = mock!(Client::describe_source_servers).then_error(|| {
            aws_sdk_drs::operation::describe_source_servers::DescribeSourceServersError::unhandled(
                "AccessDenied",
            )
        });
        let err = missing_in(&client(&rule), &fixtures::plan(&[1]))
            .await
            .unwrap_err();
        assert_eq!(err.exit, crate::exit::Exit::Infrastructure);
        assert!(
            err.message.contains("DescribeSourceServers"),
            "{}",
            err.message
        );
    }
}
