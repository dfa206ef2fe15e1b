//! Helpers shared by the workspace-level tests.
//!
//! - [`cfn`]: the SAM template and the state machine definition, read from `infra/`.
//! - [`moto`]: the moto server the test command starts (`MOTO_PORT`), and its canned Lambda replies.
//! - [`runtime_api`]: a stand-in Lambda Runtime API, to run a function's real binary in a test.
//! - [`drs_stub`]: a stand-in DRS API (moto has none), for the binaries whose DRS client a test
//!   runs.

pub mod cfn;
pub mod drs_stub;
pub mod moto;
pub mod runtime_api;

use std::path::PathBuf;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}
