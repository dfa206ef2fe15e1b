//! Use-case tests against mockall mocks of the ports.

mod act;
mod advance;
mod cancel;
mod cleanup;
mod compat;
mod crash;
mod create;
mod decide;
mod finalize;
mod find;
mod heal;
mod launch;
mod pause_resume;
mod poll;
mod preflight;
mod scenario;
mod start_read;

use crate::fixtures::{execution, give_job, job};
use crate::model::{Execution, LaunchClaim, Timestamp, Wave};
use crate::status::{ExecutionStatus, LaunchStatus, WaveStatus};

/// An execution of `waves.len()` waves of 2 servers, with these statuses; in-flight and settled
/// waves get a job and a launch time of t = 1000, a completed wave's servers launched, and a
/// finished execution ended then.
pub(super) fn exec(status: ExecutionStatus, waves: &[WaveStatus]) -> Execution {
    let mut e = execution(&vec![2; waves.len()]);
    e.header.status = status;
    if status.is_terminal() {
        e.header.end_time = Some(Timestamp(1000));
    }
    for (i, (w, s)) in e.waves.iter_mut().zip(waves).enumerate() {
        w.status = *s;
        if *s != WaveStatus::Pending && *s != WaveStatus::Cancelled {
            w.launch_time = Some(Timestamp(1000));
            w.attempt_time = Some(Timestamp(1000));
            w.attempt = 1;
        }
        if *s == WaveStatus::Launching {
            // A launcher took it at t = 1000 and has not recorded a job yet.
            w.claim = Some(LaunchClaim {
                part: 0,
                size: 2,
                claimed_time: Timestamp(1000),
                first_claimed_time: None,
                held: true,
                uncertain: false,
            });
        }
        if matches!(
            s,
            WaveStatus::Started | WaveStatus::Completed | WaveStatus::Failed
        ) {
            give_job(w, job(i), Timestamp(1000));
        }
        if *s == WaveStatus::Completed {
            complete(w);
        }
    }
    e
}

/// The wave COMPLETED, every server of it LAUNCHED.
pub(super) fn complete(wave: &mut Wave) {
    wave.status = WaveStatus::Completed;
    for server in &mut wave.server_statuses {
        server.launch_status = LaunchStatus::Launched;
    }
}
