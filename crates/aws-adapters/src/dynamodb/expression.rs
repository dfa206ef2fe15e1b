//! Condition and update expressions, with their attribute placeholders.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::model::ExecutionHeader;
use execution_core::ports::StoreError;

use super::codec::{self, HEADER_OPTIONAL, PK, VERSION};

/// A condition, an update expression, and their placeholders.
pub(super) struct Expression {
    pub(super) update: Option<String>,
    pub(super) condition: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

impl Expression {
    pub(super) fn version_is(expected: u64) -> Self {
        Self {
            update: None,
            condition: "#version = :expected".into(),
            names: HashMap::from([("#version".to_owned(), VERSION.to_owned())]),
            values: HashMap::from([(
                ":expected".to_owned(),
                AttributeValue::N(expected.to_string()),
            )]),
        }
    }

    pub(super) fn absent() -> Self {
        Self {
            update: None,
            condition: "attribute_not_exists(#pk)".into(),
            names: HashMap::from([("#pk".to_owned(), PK.to_owned())]),
            values: HashMap::new(),
        }
    }

    /// SET every attribute of `header` (placeholders named after the attributes, which are
    /// camelCase identifiers) and REMOVE the optional ones it lacks; conditional on the version.
    pub(super) fn header_update(
        expected: u64,
        header: &ExecutionHeader,
    ) -> Result<Self, StoreError> {
        let attrs = codec::header_update_attributes(header)?;
        let mut e = Self::version_is(expected);
        let mut names: Vec<&String> = attrs.keys().collect();
        names.sort();
        let sets: Vec<String> = names.iter().map(|n| format!("#{n} = :{n}")).collect();
        let removes: Vec<String> = HEADER_OPTIONAL
            .iter()
            .filter(|n| !attrs.contains_key(**n))
            .map(|n| format!("#{n}"))
            .collect();
        let mut update = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            update.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        for name in HEADER_OPTIONAL
            .iter()
            .copied()
            .chain(attrs.keys().map(String::as_str))
        {
            e.names.insert(format!("#{name}"), name.to_owned());
        }
        e.values
            .extend(attrs.into_iter().map(|(n, v)| (format!(":{n}"), v)));
        e.update = Some(update);
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_update_sets_present_fields_and_removes_absent_ones() {
        let mut header = execution_core::fixtures::execution(&[1]).header;
        header.status_message = Some("m".into());
        header.version = 3;
        let e = Expression::header_update(2, &header).unwrap();
        let update = e.update.unwrap();
        assert!(update.starts_with("SET "), "{update}");
        assert!(
            update.contains("#status = :status") && update.contains("#version = :version"),
            "{update}"
        );
        let removed = update.split(" REMOVE ").nth(1).unwrap_or_default();
        assert!(
            removed.contains("#taskToken") && removed.contains("#startTime"),
            "{update}"
        );
        assert!(!removed.contains("#statusMessage"), "{update}");
        for touch_owned in [
            "polledTime",
            "lastPolledTime",
            "workflowRun",
            "workflowSeenTime",
            "workflowPolledTime",
        ] {
            assert!(!update.contains(touch_owned), "{touch_owned}: {update}");
        }
        assert_eq!(e.condition, "#version = :expected");
        assert_eq!(
            e.values.get(":expected"),
            Some(&AttributeValue::N("2".into()))
        );
        assert_eq!(
            e.values.get(":version"),
            Some(&AttributeValue::N("3".into()))
        );
        // Every placeholder used is defined and every one defined is used (DynamoDB rejects either).
        let text = format!("{update} {}", e.condition);
        for name in e.names.keys() {
            assert!(text.contains(name.as_str()), "unused {name}");
        }
    }
}
