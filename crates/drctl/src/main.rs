//! drctl: run a recovery drill in the simulator, replay an operation offline against a world file,
//! or operate executions on AWS. This file parses arguments and dispatches; each command lives in
//! its own module.

mod aws;
mod cli;
mod drill;
mod exit;
mod invoke;
mod plan_file;
mod progress;
mod report;
mod source_servers;
mod validate;

use std::process::ExitCode;

use clap::Parser;

use cli::{Args, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    let result = match args.command {
        Command::Drill(a) => drill::run(*a, json).await,
        Command::Invoke(a) => invoke::run(a).await,
        Command::Validate(a) => validate::run(a, json).await,
        Command::Start(a) => aws::start(a, json).await,
        Command::Status(a) => aws::status(a, json).await,
        Command::Pause(a) => aws::operate(aws::Op::Pause, a, json).await,
        Command::Resume(a) => aws::operate(aws::Op::Resume, a, json).await,
        Command::Cancel(a) => aws::operate(aws::Op::Cancel, a, json).await,
        Command::Retry(a) => aws::decide(aws::Decision::Retry, a, json).await,
        Command::Skip(a) => aws::decide(aws::Decision::Skip, a, json).await,
        Command::Restart(a) => aws::restart(a, json).await,
    };
    exit::finish(result, json)
}
