//! The command line, as clap parses it (docs/cli.md describes it for people).

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};
use drs_sim::Api;
use execution_core::ids::{ExecutionId, PlanId, SourceServerId};

#[derive(Debug, Parser)]
#[command(
    name = "drctl",
    version,
    about = "Multi-wave AWS DRS recovery: drills in a built-in simulator, offline invokes, and operations on AWS."
)]
pub struct Args {
    /// Print JSON on stdout instead of text (progress, if any, goes to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a recovery drill of PLAN in the DRS simulator, with time compressed (no AWS needed).
    Drill(DrillArgs),
    /// Run one operation offline against a world file and print its JSON answer.
    Invoke(InvokeArgs),
    /// Check a plan file; with --check-aws, also that its source servers exist in DRS.
    Validate(ValidateArgs),
    /// AWS: create an execution of PLAN and start its state machine.
    Start(StartArgs),
    /// AWS: show an execution as its record stands (waves, servers, instances, times).
    Status(TargetArgs),
    /// AWS: pause an execution before its next wave (the wave in flight runs on).
    Pause(TargetArgs),
    /// AWS: resume a paused execution (releases the waiting state machine).
    Resume(TargetArgs),
    /// AWS: cancel an execution (no new wave; the wave in flight settles, then CANCELLED).
    Cancel(TargetArgs),
}

#[derive(Debug, ClapArgs)]
pub struct StartArgs {
    /// The plan file (JSON).
    pub plan: PathBuf,
    /// Seconds the state machine waits between polls [default: the state machine's, 30].
    #[arg(long, value_name = "SECS")]
    pub poll_interval: Option<u64>,
}

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
    /// The plan file (JSON).
    pub plan: PathBuf,
    /// Seeds every random choice of the simulator: one seed, one run.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Simulated seconds between polls while a wave is in flight.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub poll_interval: u64,
    /// Resume a planned pause after this many simulated seconds [default: 120].
    #[arg(long, value_name = "SECS", conflicts_with = "resume_on_key")]
    pub resume_after: Option<u64>,
    /// Resume a planned pause when Enter is pressed (or standard input closes).
    #[arg(long)]
    pub resume_on_key: bool,
    /// This source server fails to launch (repeatable).
    #[arg(long = "fail-server", value_name = "ID")]
    pub fail_servers: Vec<SourceServerId>,
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
    /// The plan file (JSON).
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
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
