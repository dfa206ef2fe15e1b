//! The one route from a parsed request to its use case, shared by the Lambda shell, `drctl`, the
//! drill driver and the tests: adding an operation touches this match and nothing else that
//! routes.

use serde_json::Value;

use super::{Audited, FindConfig};
use crate::api::{answer, Request};
use crate::audit::Actor;
use crate::error::OperationError;
use crate::ports::{
    AutomationRunner, Clock, Drs, Ec2, ExecutionStore, FunctionInvoker, PollDispatch, ServerLocks,
    Workflow,
};
use crate::rules::Policy;

/// What the operations run against. A Lambda function builds only the clients its operation
/// uses; an operation whose port is missing answers 500 (a wiring mistake, never a panic).
#[derive(Clone, Copy)]
pub struct Ports<'a> {
    pub store: &'a dyn ExecutionStore,
    pub clock: &'a dyn Clock,
    pub policy: &'a Policy,
    pub drs: Option<&'a dyn Drs>,
    pub ec2: Option<&'a dyn Ec2>,
    pub workflow: Option<&'a dyn Workflow>,
    pub polls: Option<&'a dyn PollDispatch>,
    pub find: Option<&'a FindConfig>,
    /// The servers' holds (start takes them; usually the store itself).
    pub locks: Option<&'a dyn ServerLocks>,
    /// Wave actions: Lambda functions (act invokes them) and SSM Automation (act starts runbooks,
    /// poll follows them).
    pub invoker: Option<&'a dyn FunctionInvoker>,
    pub automation: Option<&'a dyn AutomationRunner>,
}

impl<'a> Ports<'a> {
    /// The store, clock and policy; add the rest with the `with_*` methods.
    pub fn new(store: &'a dyn ExecutionStore, clock: &'a dyn Clock, policy: &'a Policy) -> Self {
        Self {
            store,
            clock,
            policy,
            drs: None,
            ec2: None,
            workflow: None,
            polls: None,
            find: None,
            locks: None,
            invoker: None,
            automation: None,
        }
    }

    /// The clients of wave actions: Lambda (invoke) and SSM (Automation).
    pub fn with_actions(
        self,
        invoker: &'a dyn FunctionInvoker,
        automation: &'a dyn AutomationRunner,
    ) -> Self {
        Self {
            invoker: Some(invoker),
            automation: Some(automation),
            ..self
        }
    }

    /// SSM Automation only: what poll needs to follow the runbooks act started.
    pub fn with_automation(self, automation: &'a dyn AutomationRunner) -> Self {
        Self {
            automation: Some(automation),
            ..self
        }
    }

    pub fn with_locks(self, locks: &'a dyn ServerLocks) -> Self {
        Self {
            locks: Some(locks),
            ..self
        }
    }

    pub fn with_drs(self, drs: &'a dyn Drs) -> Self {
        Self {
            drs: Some(drs),
            ..self
        }
    }

    pub fn with_ec2(self, ec2: &'a dyn Ec2) -> Self {
        Self {
            ec2: Some(ec2),
            ..self
        }
    }

    pub fn with_workflow(self, workflow: &'a dyn Workflow) -> Self {
        Self {
            workflow: Some(workflow),
            ..self
        }
    }

    pub fn with_find(self, polls: &'a dyn PollDispatch, config: &'a FindConfig) -> Self {
        Self {
            polls: Some(polls),
            find: Some(config),
            ..self
        }
    }
}

fn missing(port: &str) -> OperationError {
    OperationError::Internal(format!(
        "this function was deployed without a {port} client"
    ))
}

/// Runs `request` for `actor` and answers with the operation's JSON (the seed's shapes, errors
/// included). Every change it makes is recorded in the execution's trail, as `actor`'s, in the
/// same write (the store is wrapped in [`Audited`]).
pub async fn run(ports: &Ports<'_>, request: Request, actor: Actor) -> Value {
    let Ports { clock, policy, .. } = *ports;
    let audited = Audited::new(ports.store, clock, actor, request.operation().as_str());
    let store: &dyn ExecutionStore = &audited;
    let drs = ports.drs.ok_or_else(|| missing("DRS"));
    let ec2 = ports.ec2.ok_or_else(|| missing("EC2"));
    let workflow = ports.workflow.ok_or_else(|| missing("Step Functions"));
    match request {
        Request::Find => match (ports.polls, ports.find) {
            (Some(polls), Some(config)) => {
                answer(&super::find_and_heal(store, polls, ports.workflow, clock, config).await)
            }
            _ => answer::<()>(&Err(missing("poll dispatch"))),
        },
        Request::Poll(r) => match (drs, ec2) {
            (Ok(drs), Ok(ec2)) => {
                answer(&super::poll(store, drs, ec2, ports.automation, clock, policy, &r).await)
            }
            (Err(e), _) | (_, Err(e)) => answer::<()>(&Err(e)),
        },
        Request::Finalize(t) => answer(&super::finalize(store, clock, &t).await),
        Request::Launch(t) => match drs {
            Ok(drs) => answer(&super::launch(store, drs, clock, policy, &t).await),
            Err(e) => answer::<()>(&Err(e)),
        },
        Request::Pause(r) => match workflow {
            Ok(wf) => answer(&super::pause(store, wf, &r).await),
            Err(e) => answer::<()>(&Err(e)),
        },
        Request::Resume(t) => match workflow {
            Ok(wf) => answer(&super::resume(store, wf, &t).await),
            Err(e) => answer::<()>(&Err(e)),
        },
        Request::Cancel(t) => match workflow {
            Ok(wf) => answer(&super::cancel(store, wf, &t).await),
            Err(e) => answer::<()>(&Err(e)),
        },
        Request::Retry(w) => match workflow {
            Ok(wf) => answer(&super::retry(store, wf, clock, policy, &w).await),
            Err(e) => answer::<()>(&Err(e)),
        },
        Request::Skip(w) => match workflow {
            Ok(wf) => answer(&super::skip(store, wf, &w).await),
            Err(e) => answer::<()>(&Err(e)),
        },
        Request::Start(r) => match (
            workflow,
            drs,
            ports.locks.ok_or_else(|| missing("server holds")),
        ) {
            (Ok(workflow), Ok(drs), Ok(locks)) => {
                let ports = super::StartPorts {
                    store,
                    locks,
                    drs,
                    workflow,
                    clock,
                    policy,
                };
                answer(&super::start(ports, &r).await)
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => answer::<()>(&Err(e)),
        },
        Request::List(page) => answer(&super::list(store, &page).await),
        Request::Get(t) => answer(&super::get(store, &t).await),
        Request::Events(r) => answer(&super::events(store, &r).await),
        Request::Cleanup(t) => match drs {
            Ok(drs) => answer(&super::cleanup(store, drs, clock, &t).await),
            Err(e) => answer::<()>(&Err(e)),
        },
        Request::Act(t) => {
            let actions = super::ActionPorts {
                invoker: ports.invoker,
                automation: ports.automation,
            };
            answer(&super::act(store, actions, clock, policy, &t).await)
        }
        Request::Advance(event) => match (drs, ec2) {
            (Ok(drs), Ok(ec2)) => {
                let ports = super::AdvancePorts {
                    store,
                    drs,
                    ec2,
                    automation: ports.automation,
                    clock,
                    policy,
                };
                answer(&super::advance(ports, &event).await)
            }
            (Err(e), _) | (_, Err(e)) => answer::<()>(&Err(e)),
        },
    }
}
