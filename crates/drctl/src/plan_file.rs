use std::path::Path;

use execution_core::plan::{Plan, PlanProblem};

use crate::exit::CliError;

/// Reads a plan file (the `Plan` JSON of execution-core: camelCase, unknown fields refused).
pub fn load(path: &Path) -> Result<Plan, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("cannot read plan {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| CliError::invalid(format!("plan {} is not a valid plan: {e}", path.display())))
}

/// Every problem of a plan that cannot run, one per line.
pub fn problems_error(path: &Path, problems: &[PlanProblem]) -> CliError {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    CliError::invalid(format!(
        "plan {} cannot run ({} problems):\n{}",
        path.display(),
        problems.len(),
        lines.join("\n")
    ))
}
