//! drctl: run a recovery drill in the simulator, replay an operation offline against a world file,
//! or operate executions on AWS. This file parses arguments and dispatches; each command lives in
//! its own module. The AWS commands need the `aws` feature; without it they answer with how to
//! rebuild (exit 2).

#[cfg(feature = "aws")]
mod api_client;
#[cfg(feature = "aws")]
mod aws;
mod cli;
mod drill;
mod exit;
mod invoke;
mod output;
mod plan_file;
mod progress;
mod report;
mod source_servers;
mod text;
mod validate;

use std::process::ExitCode;

use clap::Parser;

use cli::{Args, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let json = args.json;
    #[cfg(feature = "aws")]
    let api = args.api.as_deref();
    let result = match args.command {
        Command::Drill(a) => drill::run(*a, json).await,
        Command::Invoke(a) => invoke::run(a).await,
        Command::Validate(a) => validate::run(a, json).await,
        #[cfg(feature = "aws")]
        Command::Report(a) => report::run(a, api, json).await,
        #[cfg(not(feature = "aws"))]
        Command::Report(a) => report::run(a, None, json).await,
        #[cfg(feature = "aws")]
        Command::Start(a) => aws::start(a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Status(a) => aws::status(a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Events(a) => aws::events(a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Pause(a) => aws::operate(aws::Op::Pause, a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Resume(a) => aws::operate(aws::Op::Resume, a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Cancel(a) => aws::operate(aws::Op::Cancel, a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Retry(a) => aws::decide(aws::Decision::Retry, a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Skip(a) => aws::decide(aws::Decision::Skip, a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Restart(a) => aws::restart(a, api, json).await,
        #[cfg(feature = "aws")]
        Command::Cleanup(a) => aws::operate(aws::Op::Cleanup, a, api, json).await,
        #[cfg(feature = "aws")]
        Command::BackfillHolds => aws::backfill_holds(api, json).await,
        #[cfg(not(feature = "aws"))]
        Command::Start(_) => Err(exit::aws_left_out("start")),
        #[cfg(not(feature = "aws"))]
        Command::Status(_) => Err(exit::aws_left_out("status")),
        #[cfg(not(feature = "aws"))]
        Command::Events(_) => Err(exit::aws_left_out("events")),
        #[cfg(not(feature = "aws"))]
        Command::Pause(_) => Err(exit::aws_left_out("pause")),
        #[cfg(not(feature = "aws"))]
        Command::Resume(_) => Err(exit::aws_left_out("resume")),
        #[cfg(not(feature = "aws"))]
        Command::Cancel(_) => Err(exit::aws_left_out("cancel")),
        #[cfg(not(feature = "aws"))]
        Command::Retry(_) => Err(exit::aws_left_out("retry")),
        #[cfg(not(feature = "aws"))]
        Command::Skip(_) => Err(exit::aws_left_out("skip")),
        #[cfg(not(feature = "aws"))]
        Command::Restart(_) => Err(exit::aws_left_out("restart")),
        #[cfg(not(feature = "aws"))]
        Command::Cleanup(_) => Err(exit::aws_left_out("cleanup")),
        #[cfg(not(feature = "aws"))]
        Command::BackfillHolds => Err(exit::aws_left_out("backfill-holds")),
    };
    exit::finish(result, json)
}
