//! The table itself, for tests, the command line and local runs (the SAM template declares the
//! same layout for AWS).

use std::time::Duration;

use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::operation::update_continuous_backups::UpdateContinuousBackupsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType, TableStatus,
};
use aws_sdk_dynamodb::Client;
use execution_core::ports::ServiceError;

use super::codec::{
    CREATED_TIME, OLD_POLLED_TIME, OLD_WORKFLOW_SEEN_TIME, PK, PLAN_ID, SK, STATUS, WORKFLOW_RUN,
};
use crate::errors::{build_error, classify};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableCreation {
    Created,
    /// A table of that name was there already; it was left as it is.
    AlreadyExists,
}

/// How long to wait for a new table to become ACTIVE (seconds on AWS, at once locally).
const ACTIVE_WAIT: Duration = Duration::from_secs(120);
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Creates the executions table: on demand, keys `executionId` + `sk`, the status index
/// (`status` + `createdTime`, projecting `planId` and `workflowRun`, which find reads there, and
/// `lastPolledTime` and `workflowPolledTime`, which this version no longer writes: the poll marks
/// moved to `polledTime` and `workflowSeenTime`, read from the table, and an index's projection
/// cannot change in place), point-in-time recovery on. Waits until the table is ACTIVE.
pub async fn create_table(
    client: &Client,
    table: &str,
    index: &str,
) -> Result<TableCreation, ServiceError> {
    let what = "DynamoDB CreateTable";
    let attr = |name: &str, t: ScalarAttributeType| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(t)
            .build()
            .map_err(|e| build_error(what, e))
    };
    let key = |name: &str, t: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(t)
            .build()
            .map_err(|e| build_error(what, e))
    };
    let status_index = GlobalSecondaryIndex::builder()
        .index_name(index)
        .key_schema(key(STATUS, KeyType::Hash)?)
        .key_schema(key(CREATED_TIME, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes(PLAN_ID)
                .non_key_attributes(OLD_POLLED_TIME)
                .non_key_attributes(WORKFLOW_RUN)
                .non_key_attributes(OLD_WORKFLOW_SEEN_TIME)
                .build(),
        )
        .build()
        .map_err(|e| build_error(what, e))?;
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(PK, ScalarAttributeType::S)?)
        .attribute_definitions(attr(SK, ScalarAttributeType::S)?)
        .attribute_definitions(attr(STATUS, ScalarAttributeType::S)?)
        .attribute_definitions(attr(CREATED_TIME, ScalarAttributeType::N)?)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .global_secondary_indexes(status_index)
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) =>
        {
            return Ok(TableCreation::AlreadyExists)
        }
        Err(e) => return Err(classify(what, &e)),
    }
    wait_until_active(client, table).await?;
    enable_point_in_time_recovery(client, table).await?;
    Ok(TableCreation::Created)
}

async fn wait_until_active(client: &Client, table: &str) -> Result<(), ServiceError> {
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
    loop {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| classify("DynamoDB DescribeTable", &e))?;
        if out.table.and_then(|t| t.table_status) == Some(TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ServiceError::unavailable(format!(
                "table {table} not ACTIVE after {} s",
                ACTIVE_WAIT.as_secs()
            )));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// PITR can be briefly unavailable on a table just created: retried for a while.
async fn enable_point_in_time_recovery(client: &Client, table: &str) -> Result<(), ServiceError> {
    let what = "DynamoDB UpdateContinuousBackups";
    let spec = PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .map_err(|e| build_error(what, e))?;
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT;
    loop {
        match client
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(spec.clone())
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(UpdateContinuousBackupsError::ContinuousBackupsUnavailableException(_))
                ) && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(POLL_EVERY).await;
            }
            Err(e) => return Err(classify(what, &e)),
        }
    }
}
