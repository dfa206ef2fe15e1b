//! drs-bench: runs one benchmark (or all), prints its table and writes
//! `bench-results/<name>.json` at the repository root.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bench::report::{repo_root, Report};
use bench::{calls, coldstart, core_cost, fanout, gap, latency, start, writes};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "drs-bench",
    about = "Benchmarks of the DRS execution engine (issue 6)."
)]
struct Args {
    /// Where the JSON results go [default: <repo>/bench-results].
    #[arg(long, global = true)]
    out: Option<PathBuf>,
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Debug, Clone, Copy, Subcommand)]
enum Bench {
    /// 1. AWS calls per poll, by API.
    Calls,
    /// 2. Bytes and DynamoDB write units per poll, beside the single-item design.
    Writes,
    /// 3. Poll wall time with a fixed latency per call, against 4·L.
    Latency {
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// 4. find's wall time against ceil(N/C)·P.
    Fanout,
    /// 5. Lambda init time and artefact sizes (needs the builds `make bench` does first).
    Coldstart {
        #[arg(long, default_value_t = 9)]
        runs: usize,
    },
    /// 6. Criterion figures of the core and the 20 × 100 drill's wall time and peak RSS.
    Core {
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// 7. A start's pre-flight and holds: its calls, and its wall time against the serial bound.
    Start {
        #[arg(long, default_value_t = 20)]
        latency_ms: u64,
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// 8. The wave-boundary gap, last server launched → next wave's StartRecovery, ± DRS events.
    Gap {
        #[arg(long, default_value_t = gap::SEEDS, value_parser = clap::value_parser!(u64).range(1..))]
        seeds: u64,
    },
    /// Every benchmark above, with its defaults.
    All,
}

async fn one(bench: Bench) -> Result<Report, String> {
    match bench {
        Bench::Calls => calls::run().await,
        Bench::Writes => writes::run().await,
        Bench::Latency { latency_ms, runs } => {
            latency::run(Duration::from_millis(latency_ms), runs.max(1)).await
        }
        Bench::Fanout => fanout::run(&fanout::CASES).await,
        Bench::Coldstart { runs } => coldstart::run(runs.max(1)),
        Bench::Core { runs } => core_cost::run(runs.max(1)),
        Bench::Start { latency_ms, runs } => {
            start::run(Duration::from_millis(latency_ms), runs.max(1)).await
        }
        Bench::Gap { seeds } => gap::run(seeds).await,
        Bench::All => Err("`all` is not one benchmark".into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let out = args
        .out
        .unwrap_or_else(|| repo_root().join("bench-results"));
    let benches = match args.bench {
        Bench::All => vec![
            Bench::Calls,
            Bench::Writes,
            Bench::Latency {
                latency_ms: 20,
                runs: 5,
            },
            Bench::Fanout,
            Bench::Coldstart { runs: 9 },
            Bench::Core { runs: 3 },
            Bench::Start {
                latency_ms: 20,
                runs: 5,
            },
            Bench::Gap { seeds: gap::SEEDS },
        ],
        one => vec![one],
    };
    let mut failed = false;
    // One failing benchmark (a missing build) does not stop the others.
    for bench in benches {
        match one(bench).await {
            Ok(report) => {
                // A closed stdout (`| head`) must not stop the JSON from being written.
                let _ = writeln!(std::io::stdout(), "{}", report.table());
                match report.save(&out) {
                    Ok(path) => {
                        let _ = writeln!(std::io::stdout(), "(written to {})\n", path.display());
                    }
                    Err(e) => {
                        eprintln!("drs-bench: cannot write {}: {e}", out.display());
                        failed = true;
                    }
                }
            }
            Err(e) => {
                eprintln!("drs-bench: {bench:?}: {e}\n");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
