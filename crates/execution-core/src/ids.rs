//! Identifiers. Parse, don't validate: a value of one of these types is well-formed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a raw identifier was refused. Carries the field name so the answer can say which input
/// was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} is not a valid {kind}: {reason}")]
pub struct InvalidId {
    pub field: &'static str,
    pub kind: &'static str,
    pub reason: String,
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            pub const FIELD: &'static str = $field;

            /// Parses the canonical hyphenated UUID form (any case).
            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let invalid = |reason| InvalidId { field: $field, kind: "UUID", reason };
                hyphenated_uuid(raw).map_err(invalid)?;
                Uuid::try_parse(raw)
                    .map(Self)
                    .map_err(|e| invalid(e.to_string()))
            }

            pub fn new_random() -> Self {
                Self(Uuid::new_v4())
            }

            pub const fn from_uuid(u: Uuid) -> Self {
                Self(u)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

macro_rules! pattern_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const FIELD: &'static str = $field;

            pub fn parse(raw: &str) -> Result<Self, InvalidId> {
                let check: fn(&str) -> Result<(), String> = $check;
                check(raw).map_err(|reason| InvalidId { field: $field, kind: $kind, reason })?;
                Ok(Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A character as an error message may show it: printable ASCII quoted, anything else (a control
/// character, a bidi override, any non-ASCII) by its code point, so that the message shows what
/// is wrong and a terminal cannot act on it.
fn shown(c: char) -> String {
    if c.is_ascii_graphic() || c == ' ' {
        format!("'{c}'")
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

/// The first character that no id may hold (non-ASCII or control), with its position (from 1).
fn unprintable(raw: &str) -> Result<(), String> {
    match (1..)
        .zip(raw.chars())
        .find(|(_, c)| !c.is_ascii() || c.is_ascii_control())
    {
        Some((at, c)) if c.is_ascii() => Err(format!(
            "contains a control character ({}) at position {at}",
            shown(c)
        )),
        Some((at, c)) => Err(format!(
            "contains a non-ASCII character ({}) at position {at}",
            shown(c)
        )),
        None => Ok(()),
    }
}

/// The 36-character hyphenated form only (ids are compared as strings in storage): hex digits
/// in groups of 8-4-4-4-12. Says what is wrong and where (positions from 1).
fn hyphenated_uuid(raw: &str) -> Result<(), String> {
    unprintable(raw)?;
    // ASCII from here on: a byte is a character.
    if raw.len() != 36 {
        return Err(format!("expected 36 characters, got {}", raw.len()));
    }
    for (at, b) in (1..).zip(raw.bytes()) {
        let c = char::from(b);
        if matches!(at, 9 | 14 | 19 | 24) {
            if c != '-' {
                return Err(format!("expected '-' at position {at}, found {}", shown(c)));
            }
        } else if !c.is_ascii_hexdigit() {
            return Err(format!(
                "expected a hexadecimal digit at position {at}, found {}",
                shown(c)
            ));
        }
    }
    Ok(())
}

/// `prefix` followed by `min..=max` ASCII alphanumerics (`hex_only` narrows to hex digits).
fn prefixed(raw: &str, prefix: &str, min: usize, max: usize, hex_only: bool) -> Result<(), String> {
    unprintable(raw)?;
    let Some(rest) = raw.strip_prefix(prefix) else {
        return Err(format!("must start with '{prefix}'"));
    };
    if rest.len() < min || rest.len() > max {
        return Err(if min == max {
            format!("expected '{prefix}' and {min} characters")
        } else {
            format!("expected '{prefix}' and {min} to {max} characters")
        });
    }
    let ok = if hex_only {
        rest.bytes().all(|b| b.is_ascii_hexdigit())
    } else {
        rest.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "only {} characters may follow '{prefix}'",
            if hex_only {
                "hexadecimal"
            } else {
                "alphanumeric"
            }
        ))
    }
}

uuid_id!(
    /// The id of one run of a recovery plan.
    ExecutionId,
    "executionId"
);
uuid_id!(
    /// The id of the recovery plan an execution runs.
    PlanId,
    "planId"
);

pattern_id!(
    /// A DRS source server (`s-` and 17 alphanumerics, DRS's own pattern).
    SourceServerId,
    "sourceServerId",
    "DRS source server id",
    |raw| prefixed(raw, "s-", 17, 17, false)
);
pattern_id!(
    /// A DRS job (`drsjob-` and 17 alphanumerics).
    JobId,
    "jobId",
    "DRS job id",
    |raw| prefixed(raw, "drsjob-", 17, 17, false)
);
pattern_id!(
    /// An EC2 instance, which is also what DRS calls a recovery instance id (`i-` and 8 to 17 hex digits).
    InstanceId,
    "instanceId",
    "EC2 instance id",
    |raw| prefixed(raw, "i-", 8, 17, true)
);

/// The Step Functions task token of a `waitForTaskToken` state. Its `Debug` and `Display` never
/// print the token: it is a bearer credential for the workflow.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TaskToken(String);

impl TaskToken {
    pub const FIELD: &'static str = "taskToken";
    /// Step Functions task tokens are up to 2,048 characters (SPEC §14; SendTaskSuccess takes
    /// that many), longer than the 1,024 older documentation named.
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, InvalidId> {
        let err = |reason: &str| InvalidId {
            field: Self::FIELD,
            kind: "task token",
            reason: reason.to_owned(),
        };
        if raw.is_empty() {
            return Err(err("must not be empty"));
        }
        if raw.chars().count() > Self::MAX_LEN {
            return Err(err("longer than 2048 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(err("must not contain whitespace or control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret itself, for the one place that hands it back to the workflow.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskToken(<redacted>)")
    }
}

impl Serialize for TaskToken {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaskToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_id_accepts_only_hyphenated_uuids() {
        assert!(ExecutionId::parse("6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00").is_ok());
        assert!(ExecutionId::parse("6F1C1F0E-8A5B-4C1E-9D4E-2B7A4C9D1E00").is_ok());
        for bad in [
            "",
            "uuid",
            "6f1c1f0e8a5b4c1e9d4e2b7a4c9d1e00",
            "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e0z",
        ] {
            let err = ExecutionId::parse(bad).unwrap_err();
            assert_eq!(err.field, "executionId", "{bad}");
        }
    }

    /// A UUID of 36 characters with one non-ASCII among them is 37 bytes: the message names the
    /// character and its place instead of "expected 36 characters, got 36".
    #[test]
    fn a_bad_uuid_is_refused_with_what_is_wrong_and_where() {
        let reason = |raw: &str| ExecutionId::parse(raw).unwrap_err().reason;
        assert_eq!(
            reason("6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1eé0"),
            "contains a non-ASCII character (U+00E9) at position 35"
        );
        assert_eq!(
            reason("6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e0\u{1b}"),
            "contains a control character (U+001B) at position 36"
        );
        assert_eq!(
            reason("\u{202e}6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e0"),
            "contains a non-ASCII character (U+202E) at position 1"
        );
        assert_eq!(reason("6f1c1f0e"), "expected 36 characters, got 8");
        assert_eq!(
            reason("6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e0z"),
            "expected a hexadecimal digit at position 36, found 'z'"
        );
        assert_eq!(
            reason("6f1c1f0e08a5b-4c1e-9d4e-2b7a4c9d1e00"),
            "expected '-' at position 9, found '0'"
        );
        assert_eq!(
            PlanId::parse("6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1eé0")
                .unwrap_err()
                .to_string(),
            "planId is not a valid UUID: contains a non-ASCII character (U+00E9) at position 35"
        );
    }

    #[test]
    fn a_bad_drs_id_says_which_character_is_wrong() {
        let reason = |raw: &str| SourceServerId::parse(raw).unwrap_err().reason;
        assert_eq!(
            reason("s-1234567890abcdeé"),
            "contains a non-ASCII character (U+00E9) at position 18"
        );
        assert_eq!(
            reason("s-1234567890abcde\n"),
            "contains a control character (U+000A) at position 18"
        );
        assert_eq!(reason("s-123"), "expected 's-' and 17 characters");
    }

    #[test]
    fn plan_id_names_its_field() {
        assert_eq!(PlanId::parse("nope").unwrap_err().field, "planId");
    }

    #[test]
    fn drs_ids_follow_drs_patterns() {
        assert!(SourceServerId::parse("s-1234567890abcdef0").is_ok());
        assert!(SourceServerId::parse("s-123").is_err());
        assert!(SourceServerId::parse("x-1234567890abcdef0").is_err());
        assert!(SourceServerId::parse("s-1234567890abcdef!").is_err());
        assert!(JobId::parse("drsjob-1234567890abcdef0").is_ok());
        assert!(JobId::parse("drsjob-12").is_err());
        assert!(InstanceId::parse("i-0abc1234").is_ok());
        assert!(InstanceId::parse("i-0abc123456789def0").is_ok());
        assert!(InstanceId::parse("i-xyz12345").is_err());
        assert!(InstanceId::parse("i-0abc").is_err());
    }

    #[test]
    fn ids_round_trip_through_json_and_refuse_bad_values() {
        let id: SourceServerId = serde_json::from_str("\"s-1234567890abcdef0\"").unwrap();
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"s-1234567890abcdef0\""
        );
        assert!(serde_json::from_str::<SourceServerId>("\"s-1\"").is_err());
        assert!(serde_json::from_str::<ExecutionId>("\"abc\"").is_err());
    }

    #[test]
    fn task_token_never_prints_itself() {
        let t = TaskToken::parse("AAAAKgAAAAIAAAAAsecret").unwrap();
        assert_eq!(format!("{t:?}"), "TaskToken(<redacted>)");
        assert!(!format!("{:?}", Some(&t)).contains("secret"));
        assert_eq!(t.expose(), "AAAAKgAAAAIAAAAAsecret");
    }

    #[test]
    fn task_token_bounds() {
        assert!(TaskToken::parse("").is_err());
        assert!(TaskToken::parse(&"a".repeat(1024)).is_ok());
        // SPEC §14: Step Functions hands out tokens of up to 2,048 characters.
        assert!(TaskToken::parse(&"a".repeat(2048)).is_ok());
        assert!(TaskToken::parse(&"a".repeat(2049)).is_err());
        assert!(TaskToken::parse("has space").is_err());
    }
}
