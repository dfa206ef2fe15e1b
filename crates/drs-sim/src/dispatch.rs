use async_trait::async_trait;
use execution_core::api::{Operation, PollRequest, Target};
use execution_core::audit::Actor;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::ops;
use execution_core::ports::{DispatchError, PollDispatch};
use execution_core::status::ExecutionStatus;

use crate::calls::Api;
use crate::Sim;

/// find → poll without Lambda: runs `ops::poll` (summary, as find asks for, recorded as find's)
/// against the sim and
/// keeps its typed answer, which is all the port returns.
#[derive(Debug, Clone)]
pub struct SimDispatch(Sim);

impl SimDispatch {
    pub fn new(sim: Sim) -> Self {
        Self(sim)
    }
}

#[async_trait]
impl PollDispatch for SimDispatch {
    async fn poll(
        &self,
        execution_id: ExecutionId,
        plan_id: PlanId,
    ) -> Result<ExecutionStatus, DispatchError> {
        self.0.calls.enter(Api::InvokePoll).await?;
        let sim = &self.0;
        let request = PollRequest {
            target: Target {
                execution_id,
                plan_id,
            },
            summary: true,
            workflow_run: None,
        };
        // As the poll function answers find: its changes recorded as find's.
        let store = ops::Audited::new(
            sim.store.as_ref(),
            sim.clock.as_ref(),
            Actor::Find,
            Operation::Poll.as_str(),
        );
        let answer = ops::poll(
            &store,
            &sim.drs,
            &sim.ec2,
            Some(&sim.automation),
            sim.clock.as_ref(),
            &sim.policy,
            &request,
        )
        .await;
        match answer {
            Ok(answer) => Ok(answer.status),
            Err(e) => Err(DispatchError::PollFailed(format!(
                "{} {}: {e}",
                e.status_code(),
                e.code()
            ))),
        }
    }
}
