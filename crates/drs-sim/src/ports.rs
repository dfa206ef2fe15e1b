//! The DRS, EC2, Lambda and SSM Automation ports over the simulated [`World`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use execution_core::ids::{InstanceId, JobId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{
    AutomationRequest, AutomationRunner, AutomationState, Drs, DrsJob, Ec2, Ec2Instance,
    FunctionInvoker, InvokeAnswer, JobLogEntry, JobTag, RecoveryInstance, RecoveryRequest,
    ServiceError, SourceServer,
};

use crate::calls::Api;
use crate::world::World;

#[derive(Debug, Clone)]
pub struct SimDrs(pub Arc<World>);

#[derive(Debug, Clone)]
pub struct SimEc2(pub Arc<World>);

/// The wave actions' Lambda functions: each invocation takes its (scripted) time on the simulated
/// clock and answers as its script says (`{"ok": true, ...}` without one).
#[derive(Debug, Clone)]
pub struct SimFunctions(pub Arc<World>);

/// SSM Automation: runbooks that run with the simulated clock (Pending → InProgress → Success, or
/// as scripted), one per client token.
#[derive(Debug, Clone)]
pub struct SimAutomation(pub Arc<World>);

#[async_trait]
impl Drs for SimDrs {
    async fn describe_jobs(&self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError> {
        self.0
            .call(Api::DescribeJobs, |s, _| s.describe_jobs(ids))
            .await
    }

    async fn describe_recovery_instances(
        &self,
        servers: &[SourceServerId],
    ) -> Result<Vec<RecoveryInstance>, ServiceError> {
        self.0
            .call(Api::DescribeRecoveryInstances, |s, _| {
                s.describe_recovery_instances(servers)
            })
            .await
    }

    async fn start_recovery(&self, request: &RecoveryRequest) -> Result<DrsJob, ServiceError> {
        self.0
            .call(Api::StartRecovery, |s, now| s.start_recovery(request, now))
            .await
    }

    async fn find_tagged_job(
        &self,
        tag: &JobTag,
        since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        self.0
            .call(Api::FindTaggedJob, |s, _| Ok(s.find_tagged_job(tag, since)))
            .await
    }

    async fn describe_source_servers(
        &self,
        ids: &[SourceServerId],
    ) -> Result<Vec<SourceServer>, ServiceError> {
        self.0
            .call(Api::DescribeSourceServers, |s, _| {
                s.describe_source_servers(ids)
            })
            .await
    }

    async fn job_log(&self, job: &JobId) -> Result<Vec<JobLogEntry>, ServiceError> {
        self.0
            .call(Api::DescribeJobLogItems, |s, _| Ok(s.job_log(job)))
            .await
    }

    async fn terminate_recovery_instances(
        &self,
        instances: &[InstanceId],
    ) -> Result<DrsJob, ServiceError> {
        self.0
            .call(Api::TerminateRecoveryInstances, |s, now| {
                s.terminate_recovery_instances(instances, now)
            })
            .await
    }

    async fn find_terminate_job(
        &self,
        instances: &[InstanceId],
        since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        self.0
            .call(Api::FindTerminateJob, |s, _| {
                Ok(s.find_terminate_job(instances, since))
            })
            .await
    }
}

#[async_trait]
impl Ec2 for SimEc2 {
    async fn describe_instances(
        &self,
        ids: &[InstanceId],
    ) -> Result<Vec<Ec2Instance>, ServiceError> {
        self.0
            .call(Api::DescribeInstances, |s, _| s.describe_instances(ids))
            .await
    }
}

#[async_trait]
impl FunctionInvoker for SimFunctions {
    async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<InvokeAnswer, ServiceError> {
        self.0.invoke(function, payload, timeout).await
    }
}

#[async_trait]
impl AutomationRunner for SimAutomation {
    async fn start_automation(&self, request: &AutomationRequest) -> Result<String, ServiceError> {
        self.0.start_automation(request).await
    }

    async fn automation(&self, id: &str) -> Result<Option<AutomationState>, ServiceError> {
        self.0
            .call(Api::GetAutomationExecution, |s, _| Ok(s.automation(id)))
            .await
    }

    async fn stop_automation(&self, id: &str) -> Result<(), ServiceError> {
        self.0
            .call(Api::StopAutomationExecution, |s, now| {
                s.stop_automation(id, now)
            })
            .await
    }
}
