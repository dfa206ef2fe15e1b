//! The statuses of SPEC §2, as DRS and the seed spell them (SCREAMING_SNAKE_CASE on the wire).

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// Execution `status`.
    ExecutionStatus {
        Pending => "PENDING",
        Polling => "POLLING",
        Paused => "PAUSED",
        Cancelling => "CANCELLING",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
    }
);

impl ExecutionStatus {
    /// COMPLETED, FAILED and CANCELLED: nothing changes such an execution again.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// The statuses `find` polls.
    pub const ACTIVE: [ExecutionStatus; 2] = [Self::Polling, Self::Cancelling];
}

wire_enum!(
    /// Wave `status`: PENDING → LAUNCHING → STARTED → COMPLETED | FAILED; CANCELLED if it never ran.
    WaveStatus {
        Pending => "PENDING",
        Launching => "LAUNCHING",
        Started => "STARTED",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
    }
);

impl WaveStatus {
    /// A wave that has been claimed by launch and has not settled.
    pub const fn is_in_flight(self) -> bool {
        matches!(self, Self::Launching | Self::Started)
    }

    pub const fn is_settled(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Position in the one forward order waves move along; a write never lowers it.
    pub const fn rank(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Launching => 1,
            Self::Started => 2,
            Self::Completed | Self::Failed | Self::Cancelled => 3,
        }
    }

    /// Whether `self → next` is a move the lifecycle allows (staying put included).
    pub fn may_become(self, next: WaveStatus) -> bool {
        use WaveStatus::*;
        self == next
            || matches!(
                (self, next),
                (Pending, Launching)
                    | (Pending, Cancelled)
                    | (Launching, Started)
                    | (Launching, Failed)
                    | (Launching, Cancelled)
                    | (Started, Completed)
                    | (Started, Failed)
            )
    }
}

wire_enum!(
    /// A server's `launchStatus`, DRS's own values.
    LaunchStatus {
        Pending => "PENDING",
        InProgress => "IN_PROGRESS",
        Launched => "LAUNCHED",
        Failed => "FAILED",
        Terminated => "TERMINATED",
    }
);

impl LaunchStatus {
    /// LAUNCHED, FAILED or TERMINATED: DRS will not move it again within this job.
    pub const fn is_settled(self) -> bool {
        matches!(self, Self::Launched | Self::Failed | Self::Terminated)
    }
}

wire_enum!(
    /// A DRS job's `status`.
    JobStatus {
        Pending => "PENDING",
        Started => "STARTED",
        Completed => "COMPLETED",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(*s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        assert_eq!(
            LaunchStatus::parse("IN_PROGRESS"),
            Some(LaunchStatus::InProgress)
        );
        assert_eq!(ExecutionStatus::parse("polling"), None);
    }

    #[test]
    fn terminal_statuses() {
        let terminal: Vec<_> = ExecutionStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                &ExecutionStatus::Completed,
                &ExecutionStatus::Failed,
                &ExecutionStatus::Cancelled
            ]
        );
    }

    #[test]
    fn waves_only_move_forward() {
        for from in WaveStatus::ALL {
            for to in WaveStatus::ALL {
                if from.may_become(*to) && from != to {
                    assert!(from.rank() < to.rank(), "{from} -> {to}");
                }
            }
            for to in WaveStatus::ALL {
                if from.is_settled() && from != to {
                    assert!(!from.may_become(*to), "settled {from} moved to {to}");
                }
            }
        }
        assert!(!WaveStatus::Started.may_become(WaveStatus::Pending));
        assert!(!WaveStatus::Started.may_become(WaveStatus::Cancelled));
    }
}
