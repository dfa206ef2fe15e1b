//! `drctl validate`: every problem of a plan, and the warnings worth a second look.

use std::fmt::Write as _;

use execution_core::plan::{Plan, DEFAULT_WAVE_TIMEOUT_SECONDS};
use serde_json::json;

use crate::cli::ValidateArgs;
use crate::exit::{CliError, Exit};
use crate::text::{clean, count};
use crate::{output, plan_file};

/// DRS launches rarely finish in less; a shorter wave timeout fails healthy waves.
const SHORT_TIMEOUT_SECS: u64 = 600;

pub async fn run(args: ValidateArgs, json: bool) -> Result<Exit, CliError> {
    let plan = plan_file::load(&args.plan)?;
    let problems: Vec<String> = plan.problems().iter().map(ToString::to_string).collect();
    let warnings = warnings(&plan);
    let checked = if args.check_aws && problems.is_empty() {
        Some(crate::source_servers::check(&plan).await?)
    } else {
        None
    };
    let servers: usize = plan.waves.iter().map(|w| w.servers.len()).sum();
    let valid = problems.is_empty() && checked.as_ref().is_none_or(|c| c.preflight.passed());
    if json {
        let mut doc = json!({"valid": valid, "planId": plan.plan_id, "waves": plan.waves.len(), "servers": servers, "problems": problems, "warnings": warnings});
        if let Some(checked) = &checked {
            doc["preflight"] = json!(checked.preflight);
            doc["holdsChecked"] = json!(checked.holds_checked);
        }
        if let Err(e) = output::print_json(&doc) {
            return Ok(output::failed(&e));
        }
    } else {
        let verdict = if valid { "can run" } else { "cannot run" };
        let mut text = format!(
            "Plan {} ({}, {}) {verdict}.\n",
            plan.plan_id,
            count(plan.waves.len() as u64, "wave", "waves"),
            count(servers as u64, "server", "servers"),
        );
        for p in &problems {
            let _ = writeln!(text, "  problem: {p}");
        }
        for w in &warnings {
            let _ = writeln!(text, "  warning: {w}");
        }
        if let Some(checked) = &checked {
            for p in &checked.preflight.problems {
                let _ = writeln!(text, "  problem: {}", clean(&p.to_string()));
            }
            for w in &checked.preflight.warnings {
                let _ = writeln!(text, "  warning: {}", clean(&w.to_string()));
            }
            if !checked.holds_checked {
                let _ = writeln!(text, "  note: EXECUTIONS_TABLE is not set, so other executions' holds on these servers were not checked");
            }
        }
        if let Err(e) = output::print(&text) {
            return Ok(output::failed(&e));
        }
    }
    Ok(if valid { Exit::Success } else { Exit::Invalid })
}

/// Things a plan may mean but probably does not.
pub fn warnings(plan: &Plan) -> Vec<String> {
    let mut out = Vec::new();
    if !plan.is_drill {
        out.push("isDrill is false: this plan launches a real RECOVERY, not a drill".to_owned());
    }
    if plan.waves.first().is_some_and(|w| w.pause_before_wave) {
        out.push("wave 0 has pauseBeforeWave: the execution stands PAUSED before launching anything until it is resumed".to_owned());
    }
    let default = plan
        .wave_timeout_seconds
        .unwrap_or(DEFAULT_WAVE_TIMEOUT_SECONDS);
    for (n, w) in plan.waves.iter().enumerate() {
        let timeout = w.timeout_seconds.unwrap_or(default);
        if (1..SHORT_TIMEOUT_SECS).contains(&timeout) {
            out.push(format!("wave {n} times out after {timeout} s; DRS launches usually take 10 minutes or more"));
        }
    }
    out.extend(plan.warnings().iter().map(ToString::to_string));
    out
}
