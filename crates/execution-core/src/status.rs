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
        CompletedWithErrors => "COMPLETED_WITH_ERRORS",
        Failed => "FAILED",
        Cancelled => "CANCELLED",
    }
);

impl ExecutionStatus {
    /// COMPLETED, COMPLETED_WITH_ERRORS, FAILED and CANCELLED: nothing changes such an execution's
    /// status again.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::CompletedWithErrors | Self::Failed | Self::Cancelled
        )
    }

    /// The statuses `find` polls.
    pub const ACTIVE: [ExecutionStatus; 2] = [Self::Polling, Self::Cancelling];
    /// The statuses the status index lists for find: those it polls ([`Self::ACTIVE`]), then
    /// those whose workflow run it watches without polling (a PAUSED or PENDING execution can
    /// lose its run too). Every status that is not terminal.
    pub const LISTED: [ExecutionStatus; 4] =
        [Self::Polling, Self::Cancelling, Self::Paused, Self::Pending];
}

wire_enum!(
    /// Wave `status`: PENDING → LAUNCHING → STARTED → COMPLETED | FAILED; a FAILED wave may be
    /// retried (→ LAUNCHING) or SKIPPED; CANCELLED if it never ran. The moves allowed are
    /// [`crate::lifecycle::WAVE_TABLE`].
    WaveStatus {
        Pending => "PENDING",
        Launching => "LAUNCHING",
        Started => "STARTED",
        Completed => "COMPLETED",
        Failed => "FAILED",
        Skipped => "SKIPPED",
        Cancelled => "CANCELLED",
    }
);

impl WaveStatus {
    /// A wave that launch has taken on and that has not settled.
    pub const fn is_in_flight(self) -> bool {
        matches!(self, Self::Launching | Self::Started)
    }

    /// COMPLETED, FAILED, SKIPPED or CANCELLED: DRS is done with it (a FAILED wave may still be
    /// retried by an operator).
    pub const fn is_settled(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Failed | Self::Skipped | Self::Cancelled
        )
    }

    /// COMPLETED or SKIPPED: the execution may go past it.
    pub const fn is_passed(self) -> bool {
        matches!(self, Self::Completed | Self::Skipped)
    }
}

/// An enum DRS owns: the values this engine knows, and any value DRS adds later, kept as it is
/// (never a parse failure: a new value must not fail a poll).
macro_rules! open_wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this version does not know, as DRS spelled it.
            Other(String),
        }

        impl $name {
            pub const KNOWN: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(&self) -> &str {
                match self { $($name::$variant => $wire,)+ Self::Other(raw) => raw }
            }

            /// Total: a value this version does not know becomes [`Self::Other`].
            pub fn parse(raw: &str) -> Self {
                match raw { $($wire => $name::$variant,)+ other => Self::Other(other.to_owned()) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::parse(&String::deserialize(d)?))
            }
        }
    };
}

open_wire_enum!(
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
    /// LAUNCHED, FAILED or TERMINATED: DRS will not move it again within this job. A value this
    /// version does not know is not settled.
    pub fn is_settled(&self) -> bool {
        matches!(self, Self::Launched | Self::Failed | Self::Terminated)
    }
}

open_wire_enum!(
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
        assert_eq!(LaunchStatus::parse("IN_PROGRESS"), LaunchStatus::InProgress);
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
                &ExecutionStatus::CompletedWithErrors,
                &ExecutionStatus::Failed,
                &ExecutionStatus::Cancelled
            ]
        );
    }

    #[test]
    fn unknown_drs_values_are_kept_as_they_are() {
        let v: LaunchStatus = serde_json::from_value(serde_json::json!("RECOVERING")).unwrap();
        assert_eq!(v, LaunchStatus::Other("RECOVERING".into()));
        assert!(!v.is_settled());
        assert_eq!(
            serde_json::to_value(&v).unwrap(),
            serde_json::json!("RECOVERING")
        );
        assert_eq!(JobStatus::parse("PAUSED").as_str(), "PAUSED");
        // Whatever parse makes reads back: a stored record never becomes unreadable.
        let empty = LaunchStatus::parse("");
        assert_eq!(
            serde_json::from_value::<LaunchStatus>(serde_json::to_value(&empty).unwrap()).unwrap(),
            empty
        );
        for known in LaunchStatus::KNOWN {
            assert_eq!(&LaunchStatus::parse(known.as_str()), known);
        }
    }
}
