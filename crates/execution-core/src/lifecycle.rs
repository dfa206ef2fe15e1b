//! The execution state machine: which operation moves an execution from which status to which.
//! Every status write in the crate goes through [`check`]; poll has no row because it never
//! changes the execution's status.

use crate::status::ExecutionStatus::{self, *};

/// The operations that write an execution's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// A wave was launched (the first one moves the execution out of PENDING).
    Launch,
    /// An operator asked to pause, or the workflow parked its token at a wave boundary.
    Pause,
    Resume,
    Cancel,
    Finalize,
}

/// The whole table. A `(transition, from, to)` not listed here is refused.
pub const TABLE: &[(Transition, ExecutionStatus, ExecutionStatus)] = &[
    (Transition::Launch, Pending, Polling),
    (Transition::Launch, Polling, Polling),
    // PENDING → PAUSED only for the workflow's token at a pause before wave 0.
    (Transition::Pause, Pending, Paused),
    (Transition::Pause, Polling, Paused),
    // The workflow re-arms a pause with a new token after its wait timed out.
    (Transition::Pause, Paused, Paused),
    (Transition::Resume, Paused, Polling),
    (Transition::Cancel, Pending, Cancelling),
    (Transition::Cancel, Polling, Cancelling),
    (Transition::Cancel, Paused, Cancelling),
    (Transition::Finalize, Polling, Completed),
    (Transition::Finalize, Polling, Failed),
    (Transition::Finalize, Paused, Failed),
    (Transition::Finalize, Cancelling, Completed),
    (Transition::Finalize, Cancelling, Failed),
    (Transition::Finalize, Cancelling, Cancelled),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{transition:?} cannot move an execution from {from} to {to}")]
pub struct InvalidTransition {
    pub transition: Transition,
    pub from: ExecutionStatus,
    pub to: ExecutionStatus,
}

/// Ok when the table allows `transition` to move an execution from `from` to `to`.
pub fn check(
    transition: Transition,
    from: ExecutionStatus,
    to: ExecutionStatus,
) -> Result<(), InvalidTransition> {
    if TABLE
        .iter()
        .any(|&(t, f, n)| t == transition && f == from && n == to)
    {
        Ok(())
    } else {
        Err(InvalidTransition {
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

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_TRANSITIONS: [Transition; 5] = [
        Transition::Launch,
        Transition::Pause,
        Transition::Resume,
        Transition::Cancel,
        Transition::Finalize,
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
    fn table_rows_are_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            assert!(!TABLE[i + 1..].contains(a), "duplicate row {a:?}");
        }
    }

    #[test]
    fn spot_checks() {
        assert!(check(Transition::Resume, Paused, Polling).is_ok());
        assert!(check(Transition::Resume, Polling, Polling).is_err());
        assert!(check(Transition::Pause, Cancelling, Paused).is_err());
        assert!(check(Transition::Launch, Paused, Polling).is_err());
        assert!(check(Transition::Launch, Cancelling, Polling).is_err());
        assert!(check(Transition::Finalize, Pending, Completed).is_err());
        assert!(check(Transition::Cancel, Cancelling, Cancelling).is_err());
    }
}
