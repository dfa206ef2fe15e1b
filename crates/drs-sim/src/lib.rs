//! A simulated AWS for local runs of the execution engine: execution-core's ports implemented in
//! memory, over a world whose clock moves only when told to.
//!
//! - [`MemoryStore`]: the execution store (the DynamoDB table's contract, in a `HashMap`) and the
//!   source servers' holds (`ServerLocks`).
//! - [`World`] with [`SimDrs`] and [`SimEc2`]: DRS jobs that progress with simulated time and log
//!   what they do, the recovery instances and EC2 instances they launch (one per source server)
//!   and terminate, the source servers and their replication ([`SourceServers`]), and scriptable
//!   faults ([`FaultScript`], [`Calls`]); in the same world, the wave actions' Lambda functions
//!   ([`SimFunctions`]) and SSM automations ([`SimAutomation`]), as [`ActionScripts`] says; and
//!   the DRS launch results EventBridge delivers ([`EventConfig`], [`LaunchEvent`]).
//! - [`SimWorkflow`] (Step Functions task tokens) and [`SimDispatch`] (find → poll in-process).
//! - [`Sim`]: all of the above wired together; [`driver`] runs an execution through it exactly as
//!   the state machine would; [`world_file`] loads and saves a world as JSON.

mod calls;
mod clock;
mod config;
mod dispatch;
pub mod driver;
mod ports;
mod sim;
mod store;
pub mod time_fmt;
mod workflow;
mod world;
pub mod world_file;

pub use calls::{ActionCall, Api, CallEffect, Calls};
pub use clock::SimClock;
pub use config::{
    ActionOutcome, ActionScript, ActionScripts, EventConfig, FaultScript, Progression, Refusals,
    Replication, SourceServers, Spread, TerminateTimings, Timings, DEFAULT_LAUNCH_ERROR,
    DEFAULT_TRANSIENT_LAUNCH_ERROR, UNHEALTHY_REPLICATION,
};
pub use dispatch::SimDispatch;
pub use ports::{SimAutomation, SimDrs, SimEc2, SimFunctions};
pub use sim::{Sim, SimConfig};
pub use store::{MemoryStore, StoreCounts};
pub use workflow::{sim_run_id, SimWorkflow, TokenState};
pub use world::{
    Automation, Job, JobServer, JobType, LaunchEvent, WaveBoundary, World, GARBAGE_PAYLOAD,
    GARBAGE_STATUS, LAUNCH_FAILED, LAUNCH_SUCCEEDED,
};

/// Locks a mutex, carrying on after a panic elsewhere: the simulator's state stays usable (every
/// update under these locks is a plain field write that cannot be left half done).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
