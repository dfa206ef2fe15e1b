//! Use-case tests against mockall mocks of the ports.

mod cancel;
mod crash;
mod create;
mod finalize;
mod find;
mod launch;
mod pause_resume;
mod poll;
mod scenario;

use crate::fixtures::{execution, job};
use crate::model::{Execution, Timestamp};
use crate::status::{ExecutionStatus, WaveStatus};

/// An execution of `waves.len()` waves of 2 servers, with these statuses; in-flight and settled
/// waves get a job and a launch time of t = 1000.
pub(super) fn exec(status: ExecutionStatus, waves: &[WaveStatus]) -> Execution {
    let mut e = execution(&vec![2; waves.len()]);
    e.header.status = status;
    for (i, (w, s)) in e.waves.iter_mut().zip(waves).enumerate() {
        w.status = *s;
        if *s != WaveStatus::Pending && *s != WaveStatus::Cancelled {
            w.launch_time = Some(Timestamp(1000));
        }
        if matches!(
            s,
            WaveStatus::Started | WaveStatus::Completed | WaveStatus::Failed
        ) {
            w.job_id = Some(job(i));
        }
    }
    e
}
