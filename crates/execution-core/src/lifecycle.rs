//! The gate: which operation moves an execution, or a wave, from which status to which. Every
//! header and wave write in the crate is built by [`header_write`] or [`wave_write`], which set the
//! status themselves and refuse a move their table does not list; poll has no execution row
//! because it never changes the execution's status.

use crate::model::{ExecutionHeader, Wave};
use crate::ports::{HeaderWrite, WaveWrite};
use crate::status::ExecutionStatus::{self, *};
use crate::status::WaveStatus;

/// The operations that write an execution's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// launch claims a wave or a part of one (the first claim moves the execution out of PENDING;
    /// every claim moves the header's version on, so a status change decided before it wins).
    Launch,
    /// act takes a wave action (the first moves the execution out of PENDING; like a launch claim
    /// it moves the header's version on, so a pause or cancel decided before it wins), sends a run
    /// again, or gives one up under a cancel.
    Act,
    /// An operator asked to pause, or the workflow parked its token at a wave boundary.
    Pause,
    Resume,
    /// An operator retries the failed wave the execution waits on.
    Retry,
    /// An operator skips the failed wave the execution waits on.
    Skip,
    Cancel,
    Finalize,
    /// A change that is not a status change (a token released, a note for the operator).
    Annotate,
}

/// The execution table. A `(transition, from, to)` not listed here is refused.
pub const TABLE: &[(Transition, ExecutionStatus, ExecutionStatus)] = &[
    (Transition::Launch, Pending, Polling),
    (Transition::Launch, Polling, Polling),
    // The parts of a wave already in flight go on launching while an operator's pause stands.
    (Transition::Launch, Paused, Paused),
    (Transition::Act, Pending, Polling),
    (Transition::Act, Polling, Polling),
    // A cancel gives up a run that waits to be sent again (an operator's pause holds it).
    (Transition::Act, Cancelling, Cancelling),
    // PENDING → PAUSED only for the workflow's token at a pause before wave 0.
    (Transition::Pause, Pending, Paused),
    (Transition::Pause, Polling, Paused),
    // The workflow re-arms a pause with a new token after its wait timed out, or a failed wave
    // takes over an operator's pause.
    (Transition::Pause, Paused, Paused),
    (Transition::Resume, Paused, Polling),
    // Retry and skip also answer a failed wave before the workflow has parked its token.
    (Transition::Retry, Paused, Polling),
    (Transition::Retry, Polling, Polling),
    (Transition::Skip, Paused, Polling),
    (Transition::Skip, Polling, Polling),
    (Transition::Cancel, Pending, Cancelling),
    (Transition::Cancel, Polling, Cancelling),
    (Transition::Cancel, Paused, Cancelling),
    (Transition::Finalize, Polling, Completed),
    (Transition::Finalize, Polling, CompletedWithErrors),
    (Transition::Finalize, Polling, Failed),
    // An operator's pause stood before the next wave when a wave with policy STOP failed.
    (Transition::Finalize, Paused, Failed),
    (Transition::Finalize, Cancelling, Completed),
    (Transition::Finalize, Cancelling, CompletedWithErrors),
    (Transition::Finalize, Cancelling, Failed),
    (Transition::Finalize, Cancelling, Cancelled),
    (Transition::Annotate, Pending, Pending),
    (Transition::Annotate, Polling, Polling),
    (Transition::Annotate, Paused, Paused),
    (Transition::Annotate, Cancelling, Cancelling),
];

/// The operations that write a wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaveTransition {
    /// launch takes a wave (or its next part) for a StartRecovery call.
    Claim,
    /// launch records a job DRS started (STARTED once every part has one).
    Record,
    /// DRS refused StartRecovery: back off (stays LAUNCHING) or, for good, FAILED.
    Refuse,
    /// poll applies the wave rules, or refreshes what DRS and EC2 say of a settled wave.
    Judge,
    /// act records a wave action's run (taken, sent, ended), or poll its end: the wave stays as it
    /// is, or fails when an action whose policy is FAIL failed.
    Act,
    /// resume approves the planned pause before a wave.
    Approve,
    Retry,
    Skip,
    /// A cancelled execution's wave: never ran (CANCELLED), or its launch stops where it stands.
    Cancel,
    /// A finished wave records what cleanup did with its servers' recovery instances; its status
    /// never moves.
    CleanUp,
}

use WaveStatus as W;

/// The wave table. A `(transition, from, to)` not listed here is refused.
pub const WAVE_TABLE: &[(WaveTransition, WaveStatus, WaveStatus)] = &[
    (WaveTransition::Claim, W::Pending, W::Launching),
    (WaveTransition::Claim, W::Launching, W::Launching),
    (WaveTransition::Record, W::Launching, W::Launching),
    (WaveTransition::Record, W::Launching, W::Started),
    (WaveTransition::Refuse, W::Launching, W::Launching),
    (WaveTransition::Refuse, W::Launching, W::Failed),
    (WaveTransition::Judge, W::Launching, W::Launching),
    (WaveTransition::Judge, W::Launching, W::Completed),
    (WaveTransition::Judge, W::Launching, W::Failed),
    (WaveTransition::Judge, W::Started, W::Started),
    (WaveTransition::Judge, W::Started, W::Completed),
    (WaveTransition::Judge, W::Started, W::Failed),
    (WaveTransition::Judge, W::Completed, W::Completed),
    (WaveTransition::Judge, W::Failed, W::Failed),
    (WaveTransition::Act, W::Pending, W::Pending),
    (WaveTransition::Act, W::Pending, W::Failed),
    (WaveTransition::Act, W::Completed, W::Completed),
    (WaveTransition::Act, W::Completed, W::Failed),
    (WaveTransition::Approve, W::Pending, W::Pending),
    (WaveTransition::Retry, W::Failed, W::Launching),
    // A retry of a failed action goes back to where it failed: before the launch, or after the
    // wave completed (its servers keep their instances).
    (WaveTransition::Retry, W::Failed, W::Pending),
    (WaveTransition::Retry, W::Failed, W::Completed),
    (WaveTransition::Skip, W::Failed, W::Skipped),
    (WaveTransition::Cancel, W::Pending, W::Cancelled),
    (WaveTransition::Cancel, W::Launching, W::Cancelled),
    // A retry cancelled before it reached DRS: the wave stays the failure it was.
    (WaveTransition::Cancel, W::Launching, W::Failed),
    // Some parts reached DRS: they run on, the rest never will.
    (WaveTransition::Cancel, W::Launching, W::Started),
    (WaveTransition::CleanUp, W::Completed, W::Completed),
    (WaveTransition::CleanUp, W::Failed, W::Failed),
    (WaveTransition::CleanUp, W::Skipped, W::Skipped),
    (WaveTransition::CleanUp, W::Cancelled, W::Cancelled),
];

/// A move a table does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTransition {
    #[error("{transition:?} cannot move an execution from {from} to {to}")]
    Execution {
        transition: Transition,
        from: ExecutionStatus,
        to: ExecutionStatus,
    },
    #[error("{transition:?} cannot move wave {wave} from {from} to {to}")]
    Wave {
        transition: WaveTransition,
        wave: u32,
        from: WaveStatus,
        to: WaveStatus,
    },
}

/// Ok when the table allows `transition` to move an execution from `from` to `to`.
pub fn check(
    transition: Transition,
    from: ExecutionStatus,
    to: ExecutionStatus,
) -> Result<(), InvalidTransition> {
    if TABLE.contains(&(transition, from, to)) {
        Ok(())
    } else {
        Err(InvalidTransition::Execution {
            transition,
            from,
            to,
        })
    }
}

/// Whether `transition` may start from `from` at all (to some status).
pub fn allowed_from(transition: Transition, from: ExecutionStatus) -> bool {
    TABLE.iter().any(|&(t, f, _)| t == transition && f == from)
}

/// Whether the wave table lets `transition` move a wave from `from` to `to`.
pub fn wave_may(transition: WaveTransition, from: WaveStatus, to: WaveStatus) -> bool {
    WAVE_TABLE.contains(&(transition, from, to))
}

/// The write that replaces `old` with `old` as `edit` leaves it, at status `to`: the one way a
/// header write is made. The status is set here, after `edit`, and only if the table allows it;
/// the version moves on by one.
pub fn header_write(
    old: &ExecutionHeader,
    transition: Transition,
    to: ExecutionStatus,
    edit: impl FnOnce(&mut ExecutionHeader),
) -> Result<HeaderWrite, InvalidTransition> {
    check(transition, old.status, to)?;
    let mut header = old.clone();
    edit(&mut header);
    header.status = to;
    header.version = old.version + 1;
    Ok(HeaderWrite {
        expected_version: old.version,
        header,
    })
}

/// A header write that keeps the status ([`Transition::Annotate`]).
pub fn annotate(
    old: &ExecutionHeader,
    edit: impl FnOnce(&mut ExecutionHeader),
) -> Result<HeaderWrite, InvalidTransition> {
    header_write(old, Transition::Annotate, old.status, edit)
}

/// The write that replaces wave `old` with `old` as `edit` leaves it, at status `to`: the one way a
/// wave write is made. As [`header_write`], for the wave table.
pub fn wave_write(
    old: &Wave,
    transition: WaveTransition,
    to: WaveStatus,
    edit: impl FnOnce(&mut Wave),
) -> Result<WaveWrite, InvalidTransition> {
    if !wave_may(transition, old.status, to) {
        return Err(InvalidTransition::Wave {
            transition,
            wave: old.wave_number,
            from: old.status,
            to,
        });
    }
    let mut wave = old.clone();
    edit(&mut wave);
    wave.wave_number = old.wave_number;
    wave.status = to;
    wave.version = old.version + 1;
    Ok(WaveWrite {
        expected_version: old.version,
        wave,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_TRANSITIONS: [Transition; 9] = [
        Transition::Launch,
        Transition::Act,
        Transition::Pause,
        Transition::Resume,
        Transition::Retry,
        Transition::Skip,
        Transition::Cancel,
        Transition::Finalize,
        Transition::Annotate,
    ];

    #[test]
    fn terminal_statuses_never_change() {
        for t in ALL_TRANSITIONS {
            for from in ExecutionStatus::ALL.iter().filter(|s| s.is_terminal()) {
                assert!(!allowed_from(t, *from), "{t:?} from {from}");
            }
        }
    }

    #[test]
    fn only_finalize_writes_a_terminal_status() {
        for &(t, _, to) in TABLE {
            assert_eq!(to.is_terminal(), t == Transition::Finalize, "{t:?} → {to}");
        }
    }

    #[test]
    fn rows_are_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            assert!(!TABLE[i + 1..].contains(a), "duplicate row {a:?}");
        }
        for (i, a) in WAVE_TABLE.iter().enumerate() {
            assert!(!WAVE_TABLE[i + 1..].contains(a), "duplicate row {a:?}");
        }
    }

    #[test]
    fn settled_waves_move_only_by_an_operator_or_a_failed_action() {
        for &(t, from, to) in WAVE_TABLE {
            if from.is_settled() && from != to {
                if t == WaveTransition::Act {
                    // An AFTER_COMPLETE action with policy FAIL fails its completed wave.
                    assert_eq!((from, to), (W::Completed, W::Failed));
                    continue;
                }
                assert!(
                    matches!(t, WaveTransition::Retry | WaveTransition::Skip),
                    "{t:?}: {from} → {to}"
                );
                assert_eq!(from, W::Failed, "only a failed wave is retried or skipped");
            }
        }
        for to in WaveStatus::ALL {
            for from in [W::Completed, W::Skipped, W::Cancelled] {
                if from != *to && !(from == W::Completed && *to == W::Failed) {
                    assert!(
                        !WAVE_TABLE.iter().any(|&(_, f, n)| f == from && n == *to),
                        "{from} → {to}"
                    );
                }
            }
        }
        assert!(!wave_may(WaveTransition::Judge, W::Started, W::Pending));
        assert!(!wave_may(WaveTransition::Skip, W::Completed, W::Skipped));
    }

    #[test]
    fn spot_checks() {
        assert!(check(Transition::Resume, Paused, Polling).is_ok());
        assert!(check(Transition::Resume, Polling, Polling).is_err());
        assert!(check(Transition::Pause, Cancelling, Paused).is_err());
        assert!(check(Transition::Launch, Cancelling, Cancelling).is_err());
        assert!(check(Transition::Finalize, Pending, Completed).is_err());
        assert!(check(Transition::Finalize, Paused, Completed).is_err());
        assert!(check(Transition::Cancel, Cancelling, Cancelling).is_err());
        assert!(check(Transition::Retry, Cancelling, Polling).is_err());
    }

    #[test]
    fn the_helpers_set_the_status_and_refuse_what_the_table_does_not_list() {
        let e = crate::fixtures::execution(&[1]);
        let w = header_write(&e.header, Transition::Cancel, Cancelling, |h| {
            // An edit that tries to assign a status by hand does not get its way.
            h.status = Completed;
        })
        .unwrap();
        let HeaderWrite {
            expected_version,
            header,
        } = w;
        assert_eq!((expected_version, header.version), (0, 1));
        assert_eq!(header.status, Cancelling);
        assert!(header_write(&e.header, Transition::Finalize, Completed, |_| {}).is_err());

        let wave = &e.waves[0];
        let err = wave_write(wave, WaveTransition::Judge, W::Completed, |_| {}).unwrap_err();
        assert!(
            matches!(err, InvalidTransition::Wave { wave: 0, .. }),
            "{err}"
        );
        let ok = wave_write(wave, WaveTransition::Claim, W::Launching, |w| {
            w.status = W::Completed;
        })
        .unwrap();
        assert_eq!(ok.wave.status, W::Launching);
        assert_eq!((ok.expected_version, ok.wave.version), (0, 1));
    }
}
