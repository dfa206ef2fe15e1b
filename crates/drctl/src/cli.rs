//! The command line, as clap parses it (docs/cli.md describes it for people).

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use drs_sim::driver::OnFailure;
use drs_sim::{Api, Refusals};
use execution_core::ids::{ExecutionId, PlanId, SourceServerId};

#[derive(Debug, Parser)]
#[command(
    name = "drctl",
    version,
    about = "Multi-wave AWS DRS recovery: drills in a built-in simulator, offline invokes, and operations on AWS."
)]
#[cfg_attr(
    not(feature = "aws"),
    command(
        after_help = "This build leaves the AWS commands out (start, status, events, pause, resume, cancel, retry, skip, restart, cleanup, backfill-holds, validate --check-aws). Build them in with the aws feature: cargo install --locked --path crates/drctl --features aws"
    )
)]
pub struct Args {
    /// Print JSON on stdout instead of text (progress, if any, goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// AWS commands: send each request to the stack's HTTPS API at URL (its ApiUrl output),
    /// SigV4-signed with your AWS credentials, instead of to the table and Step Functions
    /// directly. Empty: directly. restart has no route (refused); validate --check-aws asks DRS.
    #[arg(long, global = true, value_name = "URL", env = "DRS_WAVES_API_URL")]
    #[cfg_attr(not(feature = "aws"), allow(dead_code))]
    pub api: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a recovery drill of PLAN in the DRS simulator, with time compressed (no AWS needed).
    Drill(Box<DrillArgs>),
    /// Run one operation offline against a world file and print its JSON answer.
    Invoke(InvokeArgs),
    /// Check a plan file; with --check-aws, also that its source servers exist in DRS.
    Validate(ValidateArgs),
    /// The report of an execution, for an auditor: recovery times on DRS's and EC2's clocks
    /// against the plan's targets, pauses, decisions, timeline, failures, instances, cleanup and
    /// trail, as text, JSON, Markdown or one HTML file. From AWS (--plan), or from a world file
    /// (--world).
    Report(ReportArgs),
    /// AWS: create an execution of PLAN and start its state machine.
    Start(StartArgs),
    /// AWS: show an execution as its record stands (waves, servers, instances, times, its trail).
    Status(TargetArgs),
    /// AWS: an execution's audit trail, oldest first: who changed what, when (offline, on a world
    /// file: drctl invoke --world FILE '{"operation":"events",...}').
    Events(TargetArgs),
    /// AWS: pause an execution before its next wave (the wave in flight runs on).
    Pause(TargetArgs),
    /// AWS: resume a paused execution (releases the waiting state machine).
    Resume(TargetArgs),
    /// AWS: cancel an execution (no new wave; the wave in flight settles, then CANCELLED, or FAILED
    /// when a wave failed).
    Cancel(TargetArgs),
    /// AWS: retry the failed wave a paused execution waits on (a new attempt for its servers that
    /// did not launch).
    Retry(WaveArgs),
    /// AWS: skip the failed wave a paused execution waits on; the next wave runs.
    Skip(WaveArgs),
    /// AWS: start a new state machine run for an execution whose run has ended (refused for a
    /// finished execution and while its run still runs); the run carries on from the record.
    Restart(TargetArgs),
    /// AWS: terminate the recovery instances a finished drill launched (DRS
    /// TerminateRecoveryInstances); run it again to confirm they are gone. Refused for a recovery.
    Cleanup(TargetArgs),
    /// AWS: take the server holds of every active execution that has none (executions started
    /// before holds existed); run once after upgrading. Reports servers two executions claim.
    BackfillHolds,
}

// Read by the AWS commands only.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Debug, ClapArgs)]
pub struct WaveArgs {
    /// The execution's id.
    #[arg(value_name = "EXECUTION_ID")]
    pub execution_id: ExecutionId,
    /// The id of the plan the execution runs.
    #[arg(long = "plan", value_name = "PLAN_ID")]
    pub plan_id: PlanId,
    /// The failed wave (0-based, as the record numbers it).
    #[arg(long = "wave", value_name = "N")]
    pub wave_number: u32,
}

/// A drill's simulated operator, when a failed wave waits for a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnFailureArg {
    /// Retry the wave, up to maxWaveAttempts attempts; then cancel.
    Retry,
    /// Skip the wave and go on (the execution ends COMPLETED_WITH_ERRORS at best).
    Skip,
    /// Cancel the execution (it ends FAILED).
    Stop,
}

impl From<OnFailureArg> for OnFailure {
    fn from(a: OnFailureArg) -> Self {
        match a {
            OnFailureArg::Retry => Self::Retry,
            OnFailureArg::Skip => Self::Skip,
            OnFailureArg::Stop => Self::Stop,
        }
    }
}

/// `--fail-server ID[:N]`: the server fails in every attempt of its wave, or in the first N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailServer {
    pub server: SourceServerId,
    pub first_attempts: Option<u32>,
}

/// `--fail-action NAME[:N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailAction {
    pub name: String,
    pub first_runs: Option<u32>,
}

// Read by the AWS commands only.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Debug, ClapArgs)]
pub struct StartArgs {
    /// The plan file (JSON), or - for standard input.
    pub plan: PathBuf,
    /// Seconds the state machine waits between polls, whole, from 5 to 86400 [default: the
    /// state machine's, 30].
    #[arg(long, value_name = "SECS")]
    pub poll_interval: Option<execution_core::api::PollInterval>,
}

// Read by the AWS commands only.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[derive(Debug, ClapArgs)]
pub struct TargetArgs {
    /// The execution's id.
    #[arg(value_name = "EXECUTION_ID")]
    pub execution_id: ExecutionId,
    /// The id of the plan the execution runs.
    #[arg(long = "plan", value_name = "PLAN_ID")]
    pub plan_id: PlanId,
}

#[derive(Debug, ClapArgs)]
pub struct DrillArgs {
    /// The plan file (JSON), or - for standard input.
    pub plan: PathBuf,
    /// Seeds every random choice of the simulator: one seed, one run.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated seconds between polls while a wave is in flight.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval: u64,
    /// Resume a pause (or decide on a failed wave) after this many simulated seconds [default: 120].
    #[arg(long, value_name = "SECS", conflicts_with = "resume_on_key")]
    pub resume_after: Option<u64>,
    /// Resume a pause (or decide on a failed wave) when Enter is pressed (or standard input closes).
    #[arg(long)]
    pub resume_on_key: bool,
    /// What the operator decides when a failed wave pauses the execution (its policy is PAUSE).
    #[arg(long, value_enum, default_value_t = OnFailureArg::Stop)]
    pub on_failure: OnFailureArg,
    /// This source server fails to launch; with :N, only in the first N attempts of its wave
    /// (repeatable).
    #[arg(long = "fail-server", value_name = "ID[:N]", value_parser = parse_fail_server)]
    pub fail_servers: Vec<FailServer>,
    /// This wave action (its name in the plan) fails: its function answers an error, its runbook
    /// ends Failed; with :N, only its first N runs, so a retry passes (repeatable).
    #[arg(long = "fail-action", value_name = "NAME[:N]", value_parser = parse_fail_action)]
    pub fail_actions: Vec<FailAction>,
    /// DRS leaves this source server out of the job it starts for it; the job completes without
    /// it (repeatable).
    #[arg(long = "omit-server", value_name = "ID")]
    pub omit_servers: Vec<SourceServerId>,
    /// The account's DRS quota of source servers in one job: StartRecovery for more is refused.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub job_quota: Option<u32>,
    /// The next N StartRecovery calls are refused with ServiceQuotaExceededException (too many
    /// jobs running), with a retry hint of SECS if given.
    #[arg(long, value_name = "N[:SECS]", value_parser = parse_refusals)]
    pub quota_exceeded: Option<Refusals>,
    /// The next N StartRecovery calls are refused with ConflictException (a server is still in
    /// another job), with a retry hint of SECS if given.
    #[arg(long, value_name = "N[:SECS]", value_parser = parse_refusals)]
    pub conflict: Option<Refusals>,
    /// Servers per DRS job (the deployment's maxServersPerJob, 1 to 200) [default: 100].
    #[arg(long, value_name = "N")]
    pub max_servers_per_job: Option<u64>,
    /// Attempts per wave, the first included (the deployment's maxWaveAttempts) [default: 3].
    #[arg(long, value_name = "N")]
    pub max_wave_attempts: Option<u64>,
    /// Throttle the next N calls of API, e.g. DescribeJobs:3 (repeatable).
    #[arg(long, value_name = "API:N", value_parser = parse_api_count)]
    pub throttle: Vec<(Api, u32)>,
    /// Answer the next N calls of API with a 5xx, e.g. StartRecovery:1 (repeatable).
    #[arg(long = "drs-5xx", value_name = "API:N", value_parser = parse_api_count)]
    pub drs_5xx: Vec<(Api, u32)>,
    /// A new recovery instance stays unknown to EC2 for N DescribeInstances calls.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub ec2_unknown_polls: u32,
    /// A new DRS job is missing from DescribeJobs for N calls.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub job_missing_polls: u32,
    /// DescribeJobs never names recoveryInstanceID (poll must ask DescribeRecoveryInstances).
    #[arg(long)]
    pub no_recovery_instance_ids: bool,
    /// Simulated seconds per wall-clock second; 0 runs as fast as possible.
    #[arg(long, value_name = "X", default_value_t = 600.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Also write the drill's report to FILE, in the format its extension names (.html, .md,
    /// .json, .txt), even when the drill stops early.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// What DRS reports of the server's replication (`dataReplicationState`: STALLED,
    /// DISCONNECTED, INITIAL_SYNC, BACKLOG, ...), as the start's pre-flight reads it; repeatable.
    #[arg(long, value_name = "ID=STATE", value_parser = parse_replication)]
    pub replication: Vec<(SourceServerId, String)>,
    /// Terminate the drill's recovery instances when it ends (cleanup), as a plan's
    /// `cleanupAfterSeconds` does (which, when the plan sets it, says when).
    #[arg(long)]
    pub cleanup: bool,
    /// on: DRS's launch results (EventBridge "DRS Source Server Launch Result", which the stack's
    /// rule hands to advance) start the next wave seconds after the last server of a wave
    /// launched, as on AWS (the stack deploys the rule); off: only the workflow's polls do.
    #[arg(long, value_enum, value_name = "on|off", default_value_t = Switch::On)]
    pub events: Switch,
    /// Seconds from the end of a server's launch to the delivery of its event: SECS, or MIN..MAX
    /// drawn per event from the seed (to the millisecond, 0 to 3600) [default: 1..3].
    #[arg(long, value_name = "SECS|MIN..MAX", value_parser = parse_event_delay)]
    pub event_delay: Option<EventDelay>,
    /// The chance, 0 to 1, that an event is lost on the way (polling then starts the next wave)
    /// [default: 0].
    #[arg(long, value_name = "0..1", value_parser = parse_event_loss)]
    pub event_loss: Option<f64>,
}

/// `--events on|off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `--event-delay`: the bounds of an event's delivery delay, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDelay {
    pub min_millis: u64,
    pub max_millis: u64,
}

impl EventDelay {
    /// The longest delay `--event-delay` takes, in seconds.
    pub const MAX_SECS: u64 = 3600;
}

#[derive(Debug, ClapArgs)]
pub struct ReportArgs {
    /// The execution's id.
    #[arg(value_name = "EXECUTION_ID")]
    pub execution_id: ExecutionId,
    /// The id of the plan the execution runs (on AWS; with --world, the record's by default).
    #[arg(
        long = "plan",
        value_name = "PLAN_ID",
        required_unless_present = "world"
    )]
    pub plan_id: Option<PlanId>,
    /// Read the execution and its trail from this world file (docs/world-file.md) instead of AWS.
    #[arg(long, value_name = "FILE")]
    pub world: Option<PathBuf>,
    /// text, json, markdown or html [default: the --output file's extension, else text; json
    /// with --json].
    #[arg(long, value_enum)]
    pub format: Option<crate::report::Format>,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct InvokeArgs {
    /// The world file (docs/world-file.md).
    #[arg(long, value_name = "FILE")]
    pub world: PathBuf,
    /// The payload: JSON text, @FILE to read it from a file, or - for standard input.
    pub payload: String,
    /// Save the changed world (records, started jobs, completed tokens) back to FILE.
    #[arg(long)]
    pub write: bool,
}

#[derive(Debug, ClapArgs)]
pub struct ValidateArgs {
    /// The plan file (JSON), or - for standard input.
    pub plan: PathBuf,
    /// Also check with DRS (DescribeSourceServers) that every source server exists.
    #[arg(long)]
    pub check_aws: bool,
}

fn parse_api_count(raw: &str) -> Result<(Api, u32), String> {
    let names = || Api::ALL.map(Api::name).join(", ");
    let (api, n) = raw
        .split_once(':')
        .ok_or_else(|| format!("expected API:N, e.g. DescribeJobs:3 (APIs: {})", names()))?;
    let api = Api::parse(api).ok_or_else(|| format!("unknown API '{api}' (APIs: {})", names()))?;
    let n = n
        .parse()
        .map_err(|_| format!("'{n}' is not a number of calls"))?;
    Ok((api, n))
}

fn parse_replication(raw: &str) -> Result<(SourceServerId, String), String> {
    let (id, state) = raw
        .split_once('=')
        .ok_or_else(|| format!("'{raw}' is not ID=STATE (e.g. s-3f1e2d4c5b6a70819=STALLED)"))?;
    let server = SourceServerId::parse(id).map_err(|e| e.to_string())?;
    let valid = !state.is_empty()
        && state.len() <= 64
        && state.chars().all(|c| c.is_ascii_uppercase() || c == '_');
    if !valid {
        return Err(format!(
            "'{state}' is not a replication state (upper-case letters and _, like CONTINUOUS or STALLED)"
        ));
    }
    Ok((server, state.to_owned()))
}

fn parse_fail_server(raw: &str) -> Result<FailServer, String> {
    let (id, n) = match raw.split_once(':') {
        Some((id, n)) => (id, Some(n)),
        None => (raw, None),
    };
    let server = SourceServerId::parse(id).map_err(|e| e.to_string())?;
    let first_attempts = n
        .map(|n| match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("'{n}' is not a number of attempts (1 or more)")),
        })
        .transpose()?;
    Ok(FailServer {
        server,
        first_attempts,
    })
}

fn parse_fail_action(raw: &str) -> Result<FailAction, String> {
    let (name, n) = match raw.rsplit_once(':') {
        Some((name, n)) => (name, Some(n)),
        None => (raw, None),
    };
    if name.is_empty() {
        return Err("an action's name is missing".to_owned());
    }
    let first_runs = n
        .map(|n| match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("'{n}' is not a number of runs (1 or more)")),
        })
        .transpose()?;
    Ok(FailAction {
        name: name.to_owned(),
        first_runs,
    })
}

fn parse_refusals(raw: &str) -> Result<Refusals, String> {
    let (n, secs) = match raw.split_once(':') {
        Some((n, secs)) => (n, Some(secs)),
        None => (raw, None),
    };
    let calls = n
        .parse()
        .map_err(|_| format!("'{n}' is not a number of calls"))?;
    let retry_after_secs = secs
        .map(|s| {
            s.parse()
                .map_err(|_| format!("'{s}' is not a number of seconds"))
        })
        .transpose()?;
    Ok(Refusals::new(calls, retry_after_secs))
}

fn parse_event_delay(raw: &str) -> Result<EventDelay, String> {
    let secs = |part: &str| -> Result<u64, String> {
        let part = part.trim();
        match part.parse::<f64>() {
            Ok(s) if s.is_finite() && (0.0..=EventDelay::MAX_SECS as f64).contains(&s) => {
                // Whole milliseconds: the simulated clock's grain.
                Ok((s * 1000.0).round() as u64)
            }
            _ => Err(format!(
                "'{part}' is not a delay in seconds (0 to {})",
                EventDelay::MAX_SECS
            )),
        }
    };
    let (min_millis, max_millis) = match raw.split_once("..") {
        Some((lo, hi)) => (secs(lo)?, secs(hi)?),
        None => {
            let s = secs(raw)?;
            (s, s)
        }
    };
    if min_millis > max_millis {
        return Err(format!(
            "'{raw}': the shortest delay comes first (MIN..MAX, e.g. 1..3)"
        ));
    }
    Ok(EventDelay {
        min_millis,
        max_millis,
    })
}

fn parse_event_loss(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "'{raw}' is not a chance of loss (0 to 1, e.g. 0.5 for half the events)"
        )),
    }
}

fn parse_speed(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!(
            "'{raw}' is not a speed (simulated seconds per second, 0 or more)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_counts_and_speeds() {
        assert_eq!(
            parse_api_count("describejobs:3"),
            Ok((Api::DescribeJobs, 3))
        );
        assert!(parse_api_count("DescribeJobs")
            .unwrap_err()
            .contains("expected API:N"));
        assert!(parse_api_count("Nope:1")
            .unwrap_err()
            .contains("unknown API 'Nope'"));
        assert!(parse_api_count("StartRecovery:x").is_err());
        assert_eq!(parse_speed("0"), Ok(0.0));
        assert!(
            parse_speed("-1").is_err()
                && parse_speed("inf").is_err()
                && parse_speed("fast").is_err()
        );
    }

    #[test]
    fn fail_servers_and_refusals() {
        let s = parse_fail_server("s-3f1e2d4c5b6a70819").unwrap();
        assert_eq!(
            (s.server.as_str(), s.first_attempts),
            ("s-3f1e2d4c5b6a70819", None)
        );
        assert_eq!(
            parse_fail_server("s-3f1e2d4c5b6a70819:2")
                .unwrap()
                .first_attempts,
            Some(2)
        );
        assert!(parse_fail_server("s-3f1e2d4c5b6a70819:0").is_err());
        assert!(parse_fail_server("server-1").is_err());
        assert_eq!(parse_refusals("3"), Ok(Refusals::new(3, None)));
        assert_eq!(parse_refusals("3:20"), Ok(Refusals::new(3, Some(20))));
        assert!(parse_refusals("x").is_err() && parse_refusals("3:y").is_err());
    }

    #[test]
    fn event_delays_and_losses() {
        let delay = |min_millis, max_millis| {
            Ok(EventDelay {
                min_millis,
                max_millis,
            })
        };
        assert_eq!(parse_event_delay("2"), delay(2_000, 2_000));
        assert_eq!(parse_event_delay("1..3"), delay(1_000, 3_000));
        assert_eq!(parse_event_delay("0.25..1.5"), delay(250, 1_500));
        assert_eq!(parse_event_delay("0"), delay(0, 0));
        assert_eq!(parse_event_delay("3600"), delay(3_600_000, 3_600_000));
        for bad in [
            "", "x", "-1", "1..", "..3", "3..1", "1...3", "inf", "NaN", "3601", "1..3601",
        ] {
            assert!(parse_event_delay(bad).is_err(), "{bad:?}");
        }
        assert!(parse_event_delay("3..1")
            .unwrap_err()
            .contains("the shortest delay comes first"));
        assert!(parse_event_delay("soon")
            .unwrap_err()
            .contains("is not a delay in seconds"));
        assert_eq!(parse_event_loss("0"), Ok(0.0));
        assert_eq!(parse_event_loss("0.5"), Ok(0.5));
        assert_eq!(parse_event_loss("1"), Ok(1.0));
        for bad in ["-0.1", "1.01", "NaN", "inf", "half", ""] {
            assert!(parse_event_loss(bad).is_err(), "{bad:?}");
        }
    }

    /// The drill's event flags as clap parses them: their defaults, and refusals naming the flag.
    #[test]
    fn the_drill_s_event_flags() {
        let drill = |extra: &[&str]| {
            let mut argv = vec!["drctl", "drill", "plan.json"];
            argv.extend_from_slice(extra);
            Args::try_parse_from(argv).map(|a| match a.command {
                Command::Drill(d) => (d.events, d.event_delay, d.event_loss),
                other => panic!("{other:?}"),
            })
        };
        assert_eq!(drill(&[]).unwrap(), (Switch::On, None, None));
        assert_eq!(
            drill(&["--events", "off"]).unwrap(),
            (Switch::Off, None, None)
        );
        assert_eq!(
            drill(&[
                "--events",
                "on",
                "--event-delay",
                "0.5..2",
                "--event-loss",
                "0.5"
            ])
            .unwrap(),
            (
                Switch::On,
                Some(EventDelay {
                    min_millis: 500,
                    max_millis: 2_000
                }),
                Some(0.5)
            )
        );
        for (bad, flag) in [
            (&["--events", "maybe"][..], "--events"),
            (&["--events"][..], "--events"),
            (&["--event-delay", "3..1"][..], "--event-delay"),
            (&["--event-delay=-2"][..], "--event-delay"),
            (&["--event-loss", "2"][..], "--event-loss"),
        ] {
            let error = drill(bad).unwrap_err().to_string();
            assert!(error.contains(flag), "{bad:?}: {error}");
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
