//! The lifecycle of a multi-wave AWS DRS recovery execution, as SPEC.md states it: statuses, wave
//! rules, `nextAction` and the operations (find, poll, finalize, pause, resume, launch, cancel,
//! create), all over ports. No AWS, no I/O, no clock of its own.
//!
//! Start with [`rules`] (the wave rules and `nextAction`), [`lifecycle`] (the status table) and
//! [`ports`] (what the core asks of the world); the use cases are in [`ops`].

pub mod actions;
pub mod api;
pub mod audit;
pub mod error;
pub mod ids;
pub mod invariants;
pub mod lifecycle;
pub mod model;
pub mod ops;
pub mod plan;
pub mod ports;
pub mod preflight;
pub mod report;
pub mod rules;
pub mod status;
pub mod text;

#[cfg(any(test, feature = "test-support"))]
pub mod fixtures;
#[cfg(any(test, feature = "test-support"))]
pub mod store_contract;

pub use error::OperationError;
