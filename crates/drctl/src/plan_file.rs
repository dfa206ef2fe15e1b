use std::io::Read;
use std::path::Path;

use execution_core::plan::{Plan, PlanProblem};

use crate::exit::CliError;
use crate::text::{clean, count};

/// `-`: the plan is read from standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How messages name the plan: `plan FILE`, or `the plan on standard input`.
fn called(path: &Path) -> String {
    if is_stdin(path) {
        "the plan on standard input".to_owned()
    } else {
        format!("plan {}", clean(&path.display().to_string()))
    }
}

/// Reads a plan file, or standard input for `-` (the `Plan` JSON of execution-core: camelCase,
/// unknown fields refused).
pub fn load(path: &Path) -> Result<Plan, CliError> {
    let text = if is_stdin(path) {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            CliError::invalid(format!("cannot read the plan from standard input: {e}"))
        })?;
        text
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::invalid(format!("cannot read {}: {e}", called(path))))?
    };
    serde_json::from_str(&text).map_err(|e| {
        // serde quotes what it refused (a field's name): from the file, so shown escaped.
        CliError::invalid(format!(
            "{} is not a valid plan: {}",
            called(path),
            clean(&e.to_string())
        ))
    })
}

/// Every problem of a plan that cannot run, one per line.
pub fn problems_error(path: &Path, problems: &[PlanProblem]) -> CliError {
    let lines: Vec<String> = problems.iter().map(|p| format!("  - {p}")).collect();
    CliError::invalid(format!(
        "{} cannot run ({}):\n{}",
        called(path),
        count(problems.len() as u64, "problem", "problems"),
        lines.join("\n")
    ))
}
