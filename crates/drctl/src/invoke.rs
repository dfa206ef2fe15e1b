//! `drctl invoke`: one operation, offline, against a world file; the answer is exactly the
//! Lambda's (`execution_core::api::answer`).

use std::fs::{File, OpenOptions, Permissions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use drs_sim::world_file::WorldFile;
use drs_sim::Sim;
use execution_core::api;
use execution_core::audit::Actor;
use execution_core::error::OperationError;
use execution_core::ops::{self, FindConfig};
use serde_json::Value;

use crate::cli::InvokeArgs;
use crate::exit::{print_json, CliError, Exit};

/// find's own deadline in an invoke: the clock stands still, so it only has to be ahead.
const FIND_BUDGET_MILLIS: i64 = 60_000;

/// Without `--write`: read the world, answer, change nothing. With it: hold the world file's lock
/// from reading it to renaming the new one into place, so concurrent invokes apply one after the
/// other and none loses another's update; the file is replaced only when the operation changed
/// the world.
pub async fn run(args: InvokeArgs) -> Result<Exit, CliError> {
    // Before the lock: standard input may take its time.
    let payload = read_payload(&args.payload)?;
    if !args.write {
        let text = std::fs::read_to_string(&args.world).map_err(|e| {
            CliError::invalid(format!("cannot read world {}: {e}", args.world.display()))
        })?;
        let (_, _, answer) = run_on(&args.world, &text, &payload).await?;
        print_json(&answer)?;
        return Ok(Exit::for_answer(&answer));
    }
    let mut locked = LockedWorld::open(&args.world)?;
    let text = locked.read()?;
    let (before, sim, answer) = run_on(&args.world, &text, &payload).await?;
    let after = before.updated(&sim);
    if after != before {
        // A world the next invoke would refuse is not saved: the operation broke a rule.
        after.check().map_err(|e| {
            CliError::infrastructure(format!(
                "the operation left a world that cannot be, so {} is left as it was: {e}",
                args.world.display()
            ))
        })?;
        locked.replace(&after)?;
    }
    // The answer once the world holds what it says (a save that failed answers instead), and
    // after the save: a closed pipe must not cost what the operation did (a launched job).
    print_json(&answer)?;
    Ok(Exit::for_answer(&answer))
}

/// Reads the world from `text` and answers `payload` against it: the world read, the simulator
/// after the operation, and its answer.
async fn run_on(
    path: &Path,
    text: &str,
    payload: &str,
) -> Result<(WorldFile, Sim, Value), CliError> {
    let invalid = |e: drs_sim::world_file::WorldFileError| {
        CliError::invalid(format!("{}: {e}", path.display()))
    };
    let world = WorldFile::parse(text).map_err(invalid)?;
    let sim = world.to_sim().map_err(invalid)?;
    let answer = match serde_json::from_str::<Value>(payload) {
        Ok(payload) => answer(&sim, &payload).await,
        Err(e) => api::answer::<()>(&Err(OperationError::invalid(
            "payload",
            format!("not JSON: {e}"),
        ))),
    };
    Ok((world, sim, answer))
}

/// Who a change made offline was made by, as the world file's trail records it.
pub const LOCAL_ACTOR: &str = "local";

/// Parses the payload and runs its operation through `ops::run`, the one route the functions
/// take too, as [`LOCAL_ACTOR`]'s: every change it makes joins the execution's trail (saved with
/// the world by `--write`), and `events` answers that trail.
pub async fn answer(sim: &Sim, payload: &Value) -> Value {
    let request = match api::parse_any_request(payload) {
        Ok(r) => r,
        Err(e) => return api::answer::<()>(&Err(e)),
    };
    let dispatch = sim.dispatch();
    let config = FindConfig {
        concurrency: FindConfig::DEFAULT_CONCURRENCY,
        deadline_millis: sim
            .clock
            .now()
            .secs()
            .saturating_mul(1000)
            .saturating_add(FIND_BUDGET_MILLIS),
        poll_budget_millis: 0,
    };
    ops::run(
        &sim.ports().with_find(&dispatch, &config),
        request,
        Actor::Cli(LOCAL_ACTOR.to_owned()),
    )
    .await
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

/// The world file of a `--write` invoke, locked (an exclusive `flock` on the file itself) until
/// dropped. The new world is written to a temporary file of this process's own next to the file and
/// renamed over it, so a reader sees the old world or the new one, never a part; a lock waiter
/// that wakes on the replaced file sees so and locks the new one.
struct LockedWorld {
    /// As given, for messages.
    path: PathBuf,
    /// The file itself: a symbolic link is written through, and stays a link.
    target: PathBuf,
    file: File,
    permissions: Permissions,
}

impl LockedWorld {
    fn open(path: &Path) -> Result<Self, CliError> {
        let shown = path.display();
        let target = std::fs::canonicalize(path)
            .map_err(|e| CliError::invalid(format!("cannot read world {shown}: {e}")))?;
        loop {
            let meta = std::fs::metadata(&target)
                .map_err(|e| CliError::invalid(format!("cannot read world {shown}: {e}")))?;
            if meta.permissions().readonly() {
                return Err(CliError::invalid(format!(
                    "world {shown} is read-only: --write would replace it with a writable file; make it \
                     writable (chmod u+w) or leave out --write"
                )));
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&target)
                .map_err(|e| {
                    CliError::invalid(format!("cannot open world {shown} for writing: {e}"))
                })?;
            file.lock()
                .map_err(|e| CliError::infrastructure(format!("cannot lock world {shown}: {e}")))?;
            let locked = file
                .metadata()
                .map_err(|e| CliError::infrastructure(format!("cannot read world {shown}: {e}")))?;
            let current = std::fs::metadata(&target)
                .map_err(|e| CliError::invalid(format!("cannot read world {shown}: {e}")))?;
            // Another invoke may have renamed its world over the file while this one waited for
            // the lock: then the lock is on a file that is no longer the world. Lock the new one.
            if same_file(&locked, &current) {
                return Ok(Self {
                    path: path.to_owned(),
                    target,
                    file,
                    permissions: locked.permissions(),
                });
            }
        }
    }

    fn read(&mut self) -> Result<String, CliError> {
        let mut text = String::new();
        self.file.read_to_string(&mut text).map_err(|e| {
            CliError::invalid(format!("cannot read world {}: {e}", self.path.display()))
        })?;
        Ok(text)
    }

    /// Writes `world` to a temporary file of its own in the same directory (with the world's
    /// mode), then renames it over the world: a failure leaves the old world as it was.
    fn replace(&self, world: &WorldFile) -> Result<(), CliError> {
        let fail = |e: std::io::Error| {
            CliError::infrastructure(format!("cannot save world {}: {e}", self.path.display()))
        };
        let mut text = serde_json::to_string_pretty(world)
            .map_err(|e| CliError::infrastructure(format!("cannot encode the world: {e}")))?;
        text.push('\n');
        let (tmp, mut file) = self.temporary().map_err(fail)?;
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.set_permissions(self.permissions.clone()))
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&tmp, &self.target));
        if let Err(e) = written {
            // Best effort: the error that matters is the one reported.
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(e));
        }
        Ok(())
    }

    /// A new file `.NAME.PID.N.tmp` next to the world (created, never opened if it exists).
    fn temporary(&self) -> std::io::Result<(PathBuf, File)> {
        let dir = self.target.parent().unwrap_or(Path::new("."));
        let name = self
            .target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let pid = std::process::id();
        let mut n: u32 = 0;
        loop {
            let tmp = dir.join(format!(".{name}.{pid}.{n}.tmp"));
            match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(file) => return Ok((tmp, file)),
                // Left by a process that had this id before and died: take the next name.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

/// Without inode numbers (std has them on unix only) the check is skipped: there, an invoke that
/// waited for the lock while another renamed its world over the file may read the replaced one.
#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}
