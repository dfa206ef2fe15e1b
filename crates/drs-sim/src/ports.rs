//! The DRS and EC2 ports over the simulated [`World`].

use std::sync::Arc;

use async_trait::async_trait;
use execution_core::ids::{InstanceId, JobId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{
    Drs, DrsJob, Ec2, Ec2Instance, JobLogEntry, JobTag, RecoveryInstance, RecoveryRequest,
    ServiceError, SourceServer,
};

use crate::calls::Api;
use crate::world::World;

#[derive(Debug, Clone)]
pub struct SimDrs(pub Arc<World>);

#[derive(Debug, Clone)]
pub struct SimEc2(pub Arc<World>);

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
