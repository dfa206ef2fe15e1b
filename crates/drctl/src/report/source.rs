//! Where a report's record and trail come from: `get` and every page of `events`, through
//! whatever answers a request (the core's use case on AWS, the stack's API, or a world file's
//! simulator), exactly as `drctl status` and `drctl events` read them.

use std::path::Path;

use drs_sim::world_file::WorldFile;
use execution_core::api::{self, EventsRequest, Request, Target};
use execution_core::audit::{Actor, AuditEvent};
use execution_core::error::OperationError;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::model::Execution;
use execution_core::ops;
use serde_json::Value;

use crate::exit::{print_json, CliError, Exit};

/// The record and its trail, or an error answer (404, 5xx, ...) to show and exit on.
pub type Loaded = Result<(Execution, Vec<AuditEvent>), Value>;

/// The record as `get` answers it (no task token), then its whole trail. The outer error is a
/// request that had no answer.
pub async fn record_and_trail<F>(answer: F, target: Target) -> Result<Loaded, CliError>
where
    F: AsyncFn(Request) -> Result<Value, CliError>,
{
    let got = answer(Request::Get(target)).await?;
    if api::status_code_of(&got) != 200 {
        return Ok(Err(got));
    }
    let execution: Execution = match serde_json::from_value(got["execution"].clone()) {
        Ok(execution) => execution,
        Err(e) => {
            return Ok(Err(unreadable(&format!(
                "an execution record that cannot be read: {e}"
            ))))
        }
    };
    Ok(whole_trail(answer, target)
        .await?
        .map(|events| (execution, events)))
}

/// Every page of `target`'s trail (`events`), following `nextToken` to the end. An error answer
/// is handed back as it is; the outer error is a request that had no answer.
pub async fn whole_trail<F>(
    answer: F,
    target: Target,
) -> Result<Result<Vec<AuditEvent>, Value>, CliError>
where
    F: AsyncFn(Request) -> Result<Value, CliError>,
{
    let mut events = Vec::new();
    let mut next_token: Option<String> = None;
    let mut tokens = std::collections::HashSet::new();
    loop {
        let request = Request::Events(EventsRequest { target, next_token });
        let page = answer(request).await?;
        if api::status_code_of(&page) != 200 {
            return Ok(Err(page));
        }
        let listed: Vec<AuditEvent> = match serde_json::from_value(page["events"].clone()) {
            Ok(listed) => listed,
            Err(e) => {
                return Ok(Err(unreadable(&format!(
                    "an events page that cannot be read: {e}"
                ))))
            }
        };
        events.extend(listed);
        next_token = match page.get(api::NEXT_TOKEN).and_then(Value::as_str) {
            None => return Ok(Ok(events)),
            // A store that hands out a page it gave before would keep this loop going for ever.
            Some(t) if !tokens.insert(t.to_owned()) => {
                return Ok(Err(unreadable(&format!(
                    "the store gave the page token {t} twice"
                ))))
            }
            Some(t) => Some(t.to_owned()),
        };
    }
}

/// An internal error answer, as the Lambda would give it.
pub fn unreadable(why: &str) -> Value {
    api::answer::<()>(&Err(OperationError::Internal(why.to_owned())))
}

/// An operation's error answer: as it is with `--json`, else one line on stderr; the exit code by
/// its class.
pub fn refused(answer: &Value, json: bool) -> Result<Exit, CliError> {
    if json {
        print_json(answer)?;
    } else {
        eprintln!(
            "drctl: {} {}: {}",
            api::status_code_of(answer),
            answer["error"].as_str().unwrap_or("ERROR"),
            answer["message"].as_str().unwrap_or("")
        );
    }
    Ok(Exit::for_answer(answer))
}

/// The record and trail of `execution_id` in a world file, read with `get` and `events` through
/// `ops::run` (as `drctl invoke` runs them, as `local`). Without `plan_id`, the plan is the one
/// the world's record names.
pub async fn from_world(
    path: &Path,
    execution_id: ExecutionId,
    plan_id: Option<PlanId>,
) -> Result<Loaded, CliError> {
    let invalid = |e: drs_sim::world_file::WorldFileError| {
        CliError::invalid(format!("{}: {e}", path.display()))
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::invalid(format!("cannot read world {}: {e}", path.display())))?;
    let world = WorldFile::parse(&text).map_err(invalid)?;
    let plan_id = match plan_id {
        Some(plan_id) => plan_id,
        None => world
            .executions
            .iter()
            .find(|e| e.id() == execution_id)
            .map(|e| e.header.plan_id)
            .ok_or_else(|| {
                CliError::invalid(format!(
                    "world {} has no execution {execution_id}",
                    path.display()
                ))
            })?,
    };
    let sim = world.to_sim().map_err(invalid)?;
    let ports = sim.ports();
    let actor = Actor::Cli(crate::invoke::LOCAL_ACTOR.to_owned());
    let answer = async |request: Request| -> Result<Value, CliError> {
        Ok(ops::run(&ports, request, actor.clone()).await)
    };
    record_and_trail(
        answer,
        Target {
            execution_id,
            plan_id,
        },
    )
    .await
}
