//! The SAM template as YAML values. CloudFormation's short-form intrinsics (`!Ref`, `!GetAtt`,
//! `!Sub`) come out of serde_yaml as tagged values; [`render`] writes them back as text so that a
//! test can compare a resource reference with what it expects.

use std::collections::BTreeSet;

use serde_yaml::{Mapping, Value};

use crate::repo_root;

pub const TEMPLATE: &str = "infra/template.yaml";
pub const DEFINITION: &str = "infra/statemachine.asl.json";

pub fn template() -> Value {
    let path = repo_root().join(TEMPLATE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{TEMPLATE} is not YAML: {e}"))
}

pub fn definition_text() -> String {
    let path = repo_root().join(DEFINITION);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `Resources`, by logical id.
pub fn resources(template: &Value) -> &Mapping {
    template
        .get("Resources")
        .and_then(Value::as_mapping)
        .expect("a Resources section")
}

/// The logical ids of the resources of one type.
pub fn of_type(template: &Value, kind: &str) -> BTreeSet<String> {
    resources(template)
        .iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
        .map(|(id, _)| id.as_str().expect("string logical ids").to_owned())
        .collect()
}

pub fn properties<'a>(template: &'a Value, logical_id: &str) -> &'a Value {
    resources(template)
        .get(logical_id)
        .and_then(|r| r.get("Properties"))
        .unwrap_or_else(|| panic!("{logical_id} has no Properties"))
}

/// A value as text: a plain string as itself, `!GetAtt X.Arn` as `GetAtt X.Arn`, a
/// `{"Fn::GetAtt": [X, Arn]}` likewise, anything else as compact YAML.
pub fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Tagged(t) => format!(
            "{} {}",
            t.tag.to_string().trim_start_matches('!'),
            render(&t.value)
        ),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one entry");
            let name = k.as_str().unwrap_or_default().trim_start_matches("Fn::");
            match v {
                Value::Sequence(parts) if name == "GetAtt" => format!(
                    "GetAtt {}",
                    parts.iter().map(render).collect::<Vec<_>>().join(".")
                ),
                _ => format!("{name} {}", render(v)),
            }
        }
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// A string or a list of them (IAM's `Action` and `Resource`), rendered.
pub fn one_or_many(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(render).collect(),
        other => vec![render(other)],
    }
}
