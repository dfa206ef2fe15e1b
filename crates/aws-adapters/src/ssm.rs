//! `AutomationRunner` on SSM Automation: StartAutomationExecution, GetAutomationExecution,
//! StopAutomationExecution.
//!
//! The start carries the caller's client token, so the client's retries are kept: SSM answers a
//! repeated start with the automation the first one started. A status this version does not know
//! is passed on as SSM spelled it.

use async_trait::async_trait;
use aws_sdk_ssm::operation::get_automation_execution::GetAutomationExecutionError;
use aws_sdk_ssm::operation::start_automation_execution::StartAutomationExecutionError;
use aws_sdk_ssm::operation::stop_automation_execution::StopAutomationExecutionError;
use aws_sdk_ssm::types::{StopType, Tag};
use aws_sdk_ssm::Client;
use execution_core::ports::{AutomationRequest, AutomationRunner, AutomationState, ServiceError};

use crate::errors::{build_error, classify, http_status, throttled, unreadable};

#[derive(Debug, Clone)]
pub struct SsmAutomation {
    client: Client,
}

impl SsmAutomation {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl AutomationRunner for SsmAutomation {
    async fn start_automation(&self, request: &AutomationRequest) -> Result<String, ServiceError> {
        let what = "SSM StartAutomationExecution";
        let tags = request
            .tags
            .iter()
            .map(|(key, value)| {
                Tag::builder()
                    .key(key)
                    .value(value)
                    .build()
                    .map_err(|e| build_error(what, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let parameters = (!request.parameters.is_empty()).then(|| {
            request
                .parameters
                .iter()
                .map(|(name, values)| (name.clone(), values.clone()))
                .collect()
        });
        let out = self
            .client
            .start_automation_execution()
            .document_name(&request.document)
            .set_parameters(parameters)
            .client_token(&request.client_token)
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(|e| match e.as_service_error() {
                // SSM's quota of running automations: nothing started; clears as they end.
                Some(StartAutomationExecutionError::AutomationExecutionLimitExceededException(
                    l,
                )) => throttled(
                    what,
                    "AutomationExecutionLimitExceededException",
                    l.message(),
                    None,
                    http_status(&e).unwrap_or(400),
                ),
                _ => classify(what, &e),
            })?;
        out.automation_execution_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| unreadable(what, "no AutomationExecutionId in the answer"))
    }

    async fn automation(&self, id: &str) -> Result<Option<AutomationState>, ServiceError> {
        let what = "SSM GetAutomationExecution";
        let out = match self
            .client
            .get_automation_execution()
            .automation_execution_id(id)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return match e.as_service_error() {
                    Some(GetAutomationExecutionError::AutomationExecutionNotFoundException(_)) => {
                        Ok(None)
                    }
                    _ => Err(classify(what, &e)),
                }
            }
        };
        let execution = out
            .automation_execution
            .ok_or_else(|| unreadable(what, "no AutomationExecution in the answer"))?;
        let status = execution
            .automation_execution_status
            .as_ref()
            .map(|s| s.as_str().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unreadable(what, "no AutomationExecutionStatus in the answer"))?;
        Ok(Some(AutomationState {
            status,
            failure_message: execution.failure_message.filter(|m| !m.is_empty()),
        }))
    }

    async fn stop_automation(&self, id: &str) -> Result<(), ServiceError> {
        let what = "SSM StopAutomationExecution";
        match self
            .client
            .stop_automation_execution()
            .automation_execution_id(id)
            .r#type(StopType::Cancel)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // SSM's answer for an automation that has already ended.
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(StopAutomationExecutionError::InvalidAutomationStatusUpdateException(_))
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(classify(what, &e)),
        }
    }
}
