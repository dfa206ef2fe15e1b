//! `drctl invoke`: one operation, offline, against a world file; the answer is exactly the
//! Lambda's (`execution_core::api::answer`).

use std::io::Read;
use std::path::Path;

use drs_sim::world_file::WorldFile;
use drs_sim::Sim;
use execution_core::api;
use execution_core::error::OperationError;
use execution_core::ops::{self, FindConfig};
use serde_json::Value;

use crate::cli::InvokeArgs;
use crate::exit::{print_json, CliError, Exit};

/// find's own deadline in an invoke: the clock stands still, so it only has to be ahead.
const FIND_BUDGET_MILLIS: i64 = 60_000;

pub async fn run(args: InvokeArgs) -> Result<Exit, CliError> {
    let text = std::fs::read_to_string(&args.world).map_err(|e| {
        CliError::invalid(format!("cannot read world {}: {e}", args.world.display()))
    })?;
    let world = WorldFile::parse(&text)
        .map_err(|e| CliError::invalid(format!("{}: {e}", args.world.display())))?;
    let sim = world
        .to_sim()
        .map_err(|e| CliError::invalid(format!("{}: {e}", args.world.display())))?;
    let payload = read_payload(&args.payload)?;

    let answer = match serde_json::from_str::<Value>(&payload) {
        Ok(payload) => answer(&sim, &payload).await,
        Err(e) => api::answer::<()>(&Err(OperationError::invalid(
            "payload",
            format!("not JSON: {e}"),
        ))),
    };
    print_json(&answer);
    if args.write {
        save(&args.world, &world.updated(&sim))?;
    }
    Ok(Exit::for_answer(&answer))
}

/// Parses the payload and runs its operation through `ops::run`, the one route the functions
/// take too.
pub async fn answer(sim: &Sim, payload: &Value) -> Value {
    let request = match api::parse_any_request(payload) {
        Ok(r) => r,
        Err(e) => return api::answer::<()>(&Err(e)),
    };
    let dispatch = sim.dispatch();
    let config = FindConfig {
        concurrency: FindConfig::DEFAULT_CONCURRENCY,
        deadline_millis: sim.clock.now().secs() * 1000 + FIND_BUDGET_MILLIS,
        poll_budget_millis: 0,
    };
    ops::run(&sim.ports().with_find(&dispatch, &config), request).await
}

/// JSON text, `@FILE`, or `-` for standard input.
fn read_payload(raw: &str) -> Result<String, CliError> {
    if raw == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| {
            CliError::invalid(format!("cannot read the payload from standard input: {e}"))
        })?;
        Ok(text)
    } else if let Some(path) = raw.strip_prefix('@') {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::invalid(format!("cannot read payload file {path}: {e}")))
    } else {
        Ok(raw.to_owned())
    }
}

/// Writes the world next to the file and renames it over, so a failed write leaves the old one.
fn save(path: &Path, world: &WorldFile) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::infrastructure(format!("cannot save world {}: {e}", path.display()))
    };
    let mut text = serde_json::to_string_pretty(world)
        .map_err(|e| CliError::infrastructure(format!("cannot encode the world: {e}")))?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}
