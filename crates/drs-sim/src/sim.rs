use std::collections::BTreeMap;
use std::sync::Arc;

use execution_core::ids::ExecutionId;
use execution_core::ops::Ports;
use execution_core::rules::Policy;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{
    ActionScripts, EventConfig, FaultScript, Progression, SourceServers, TerminateTimings, Timings,
};
use crate::{
    Calls, MemoryStore, SimAutomation, SimClock, SimDispatch, SimDrs, SimEc2, SimFunctions,
    SimWorkflow, World,
};

/// How to build a [`Sim`].
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The simulated clock's start, in epoch seconds.
    pub start_secs: i64,
    /// Seeds every random choice (durations, ids, addresses): one seed, one run.
    pub seed: u64,
    pub progression: Progression,
    pub faults: FaultScript,
    /// What DRS says of the source servers: replication, unknown, launch errors.
    pub source_servers: SourceServers,
    /// How long TerminateRecoveryInstances' jobs take (with a timed progression).
    pub terminate_timings: TerminateTimings,
    /// How the wave actions' Lambda functions and SSM runbooks behave.
    pub actions: ActionScripts,
    /// The DRS launch results the world sends (off by default); the driver delivers them to
    /// advance while it waits.
    pub events: EventConfig,
    pub store_page_size: usize,
    pub policy: Policy,
}

impl SimConfig {
    /// 2026-01-01T00:00:00Z: a fixed start so that a seed reproduces a run exactly.
    pub const DEFAULT_START_SECS: i64 = 1_767_225_600;
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            start_secs: Self::DEFAULT_START_SECS,
            seed: 42,
            progression: Progression::Timed(Timings::default()),
            faults: FaultScript::default(),
            source_servers: SourceServers::default(),
            terminate_timings: TerminateTimings::default(),
            actions: ActionScripts::default(),
            events: EventConfig::off(),
            store_page_size: MemoryStore::DEFAULT_PAGE_SIZE,
            policy: Policy::default(),
        }
    }
}

/// Every simulated port, sharing one clock and one call counter (DRS, EC2, the wave actions'
/// Lambda and SSM share one world).
#[derive(Debug, Clone)]
pub struct Sim {
    pub clock: Arc<SimClock>,
    pub calls: Arc<Calls>,
    pub store: Arc<MemoryStore>,
    pub world: Arc<World>,
    pub drs: SimDrs,
    pub ec2: SimEc2,
    pub functions: SimFunctions,
    pub automation: SimAutomation,
    pub workflow: Arc<SimWorkflow>,
    pub policy: Policy,
}

impl Sim {
    pub fn new(config: SimConfig) -> Self {
        let clock = Arc::new(SimClock::at_secs(config.start_secs));
        let calls = Arc::new(Calls::default());
        let world = World::new(
            clock.clone(),
            calls.clone(),
            config.seed,
            config.progression,
            config.faults,
        )
        .with_source_servers(config.source_servers)
        .with_terminate_timings(config.terminate_timings)
        .with_actions(config.actions)
        .with_events(config.events);
        let store = MemoryStore::with_page_size(config.store_page_size);
        Self::assemble(clock, calls, store, world, BTreeMap::new(), config.policy)
    }

    /// A sim from parts already filled (a world loaded from a file).
    pub fn assemble(
        clock: Arc<SimClock>,
        calls: Arc<Calls>,
        store: MemoryStore,
        world: World,
        tokens: BTreeMap<String, crate::TokenState>,
        policy: Policy,
    ) -> Self {
        let world = Arc::new(world);
        Self {
            workflow: Arc::new(SimWorkflow::new(calls.clone(), tokens)),
            drs: SimDrs(world.clone()),
            ec2: SimEc2(world.clone()),
            functions: SimFunctions(world.clone()),
            automation: SimAutomation(world.clone()),
            store: Arc::new(store),
            world,
            clock,
            calls,
            policy,
        }
    }

    /// Every simulated call (services and store) takes `latency` of real time; `None` turns it off.
    pub fn set_latency(&self, latency: Option<std::time::Duration>) {
        self.calls.set_latency(latency);
        self.store.set_latency(latency);
    }

    /// The execution id a run with `seed` uses, so that one seed reproduces a whole run.
    pub fn execution_id_for_seed(seed: u64) -> ExecutionId {
        let mut bytes = [0u8; 16];
        ChaCha8Rng::seed_from_u64(seed ^ 0x6578_6563_7574_696f).fill_bytes(&mut bytes);
        ExecutionId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// The store as the simulated operator's start writes through it (its changes recorded as
    /// theirs).
    fn operators_start(&self) -> execution_core::ops::Audited<'_> {
        execution_core::ops::Audited::new(
            self.store.as_ref(),
            self.clock.as_ref(),
            execution_core::audit::Actor::Cli(crate::driver::SIMULATED_OPERATOR.to_owned()),
            execution_core::api::Operation::Start.as_str(),
        )
    }

    /// Creates a PENDING execution of `plan` in this world's store, at its clock's time, as the
    /// simulated operator's start (its trail begins with that), without a pre-flight or holds
    /// (see [`Sim::start`] for those).
    pub async fn create(
        &self,
        plan: &execution_core::plan::Plan,
        id: ExecutionId,
    ) -> Result<execution_core::api::Target, execution_core::OperationError> {
        let store = self.operators_start();
        let e =
            execution_core::ops::create_execution(&store, self.clock.as_ref(), plan, id).await?;
        Ok(execution_core::api::Target {
            execution_id: e.id(),
            plan_id: plan.plan_id,
        })
    }

    /// Starts `plan` as the simulated operator would through the API (`start`): the pre-flight
    /// against this world's DRS (every server known, replicating healthily, in no running job,
    /// held by no other active execution), the holds on its servers, the PENDING execution and
    /// its first workflow run. [`Sim::create`] skips all but the execution.
    pub async fn start(
        &self,
        plan: &execution_core::plan::Plan,
        id: ExecutionId,
    ) -> Result<execution_core::api::Target, execution_core::OperationError> {
        let store = self.operators_start();
        let ports = execution_core::ops::StartPorts {
            store: &store,
            locks: self.store.as_ref(),
            drs: &self.drs,
            workflow: self.workflow.as_ref(),
            clock: self.clock.as_ref(),
            policy: &self.policy,
        };
        let request = execution_core::api::StartRequest {
            plan: Box::new(plan.clone()),
            execution_id: Some(id),
            poll_interval_seconds: None,
        };
        let started = execution_core::ops::start(ports, &request).await?;
        Ok(execution_core::api::Target {
            execution_id: started.execution_id,
            plan_id: started.plan_id,
        })
    }

    /// The ports every operation but find runs against ([`execution_core::ops::run`]): the store
    /// (which also holds the source servers' holds), DRS, EC2, the workflow, and the wave
    /// actions' Lambda and SSM; find also needs [`Ports::with_find`] with [`Sim::dispatch`].
    pub fn ports(&self) -> Ports<'_> {
        Ports::new(self.store.as_ref(), self.clock.as_ref(), &self.policy)
            .with_drs(&self.drs)
            .with_ec2(&self.ec2)
            .with_workflow(self.workflow.as_ref())
            .with_locks(self.store.as_ref())
            .with_actions(&self.functions, &self.automation)
    }

    /// find's poll dispatch, answered by an in-process poll against this sim.
    pub fn dispatch(&self) -> SimDispatch {
        SimDispatch::new(self.clone())
    }
}
