//! Benchmark 5: each Lambda binary's init time (process start → its first request for work on a
//! local Lambda Runtime API, with aws-config and every client built) and its artefact sizes.
//!
//! Measures what `make bench` built: host binaries of the `lambda` profile in
//! `target/x86_64-unknown-linux-gnu/lambda/` and cargo-lambda's zips in `target/bench-lambda/`.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::report::{median, ms, repo_root, verdict, Report};

pub const FUNCTIONS: [&str; 8] = [
    "find", "poll", "finalize", "pause", "resume", "launch", "retry", "skip",
];
const INIT_TARGET: Duration = Duration::from_millis(20);
/// 4 MB read as 4 MiB; the zip column also gives bytes, so the 4,000,000 reading can be checked.
const ZIP_TARGET: u64 = 4 * 1024 * 1024;
/// An init that has not asked for work by then has failed.
const GIVE_UP: Duration = Duration::from_secs(10);

fn host_binary(name: &str) -> PathBuf {
    repo_root()
        .join("target/x86_64-unknown-linux-gnu/lambda")
        .join(name)
}

/// cargo-lambda's zip of `name` and which architecture it holds, the arm64 one first.
fn zip(name: &str) -> Option<(&'static str, PathBuf)> {
    ["arm64", "x86_64"].into_iter().find_map(|arch| {
        let path = repo_root()
            .join("target/bench-lambda")
            .join(arch)
            .join(name)
            .join("bootstrap.zip");
        path.exists().then_some((arch, path))
    })
}

fn arm64_binary(name: &str) -> PathBuf {
    repo_root()
        .join("target/aarch64-unknown-linux-gnu/lambda")
        .join(name)
}

/// One cold start of `binary`: from spawn to its first `GET .../runtime/invocation/next`.
pub fn init_time(binary: &Path, function: &str) -> Result<Duration, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener
        .local_addr()
        .map_err(|e| e.to_string())?
        .to_string();
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &address)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCHMARK")
        .env("AWS_SECRET_ACCESS_KEY", "benchmark")
        .env("AWS_SESSION_TOKEN", "benchmark")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("EXECUTIONS_TABLE", "drs-executions")
        .env("STATUS_INDEX_NAME", "status-index")
        .env("POLL_FUNCTION_NAME", "drs-poll")
        .env(
            "STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:drs",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let result = wait_for_next(&listener, &mut child, start);
    let _ = child.kill();
    let _ = child.wait();
    result.map_err(|e| {
        let mut logs = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut logs);
        }
        format!("{function}: {e}; its output: {}", logs.trim())
    })
}

fn wait_for_next(
    listener: &TcpListener,
    child: &mut Child,
    start: Instant,
) -> Result<Duration, String> {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                stream
                    .set_read_timeout(Some(GIVE_UP))
                    .map_err(|e| e.to_string())?;
                let mut line = String::new();
                BufReader::new(stream)
                    .read_line(&mut line)
                    .map_err(|e| e.to_string())?;
                if line.starts_with("GET ") && line.contains("/runtime/invocation/next") {
                    return Ok(start.elapsed());
                }
                return Err(format!(
                    "its first request was not for work: {}",
                    line.trim()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e.to_string()),
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited ({status}) before asking for work"));
        }
        if start.elapsed() > GIVE_UP {
            return Err(format!("did not ask for work within {GIVE_UP:?}"));
        }
        std::thread::sleep(Duration::from_micros(100));
    }
}

fn size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "not built".into(),
        |b| format!("{:.2} MiB", b as f64 / 1_048_576.0),
    )
}

pub fn run(runs: usize) -> Result<Report, String> {
    let mut report = Report::new(
        "coldstart",
        format!("5. Cold start and size (median of {runs} starts after one warm-up)"),
        &[
            "function",
            "init ms (median)",
            "init ms (min)",
            "init ≤ 20 ms",
            "host binary",
            "arm64 binary",
            "zip",
            "zip ≤ 4 MB",
        ],
    );
    let mut data = Vec::new();
    for name in FUNCTIONS {
        let binary = host_binary(name);
        if !binary.exists() {
            return Err(format!(
                "{} is not built: run `make bench` (cargo build --profile lambda --target x86_64-unknown-linux-gnu -p lambda-{name})",
                binary.display()
            ));
        }
        init_time(&binary, name)?; // warm-up: the page cache, as a re-used Lambda host has it
        let samples = (0..runs)
            .map(|_| init_time(&binary, name))
            .collect::<Result<Vec<_>, _>>()?;
        let min = samples.iter().min().copied().unwrap_or_default();
        let init = median(samples);
        let zip = zip(name);
        let zip_bytes = zip.as_ref().and_then(|(_, p)| size(p));
        let init_met = init <= INIT_TARGET;
        let zip_met = zip_bytes.is_some_and(|b| b <= ZIP_TARGET);
        report.row(vec![
            name.into(),
            ms(init),
            ms(min),
            verdict(init_met),
            mb(size(&binary)),
            mb(size(&arm64_binary(name))),
            zip.as_ref().map_or_else(
                || "not built".into(),
                |(arch, _)| format!("{} = {} B ({arch})", mb(zip_bytes), zip_bytes.unwrap_or(0)),
            ),
            verdict(zip_met),
        ]);
        data.push(json!({
            "function": name, "initMsMedian": init.as_secs_f64() * 1000.0,
            "initMsMin": min.as_secs_f64() * 1000.0, "runs": runs,
            "hostBinaryBytes": size(&binary), "arm64BinaryBytes": size(&arm64_binary(name)),
            "zipArch": zip.as_ref().map(|(a, _)| *a), "zipBytes": zip_bytes,
            "initMet": init_met, "zipMet": zip_met,
        }));
    }
    report.note(
        "Host (x86_64) binaries of the `lambda` profile (LTO, one codegen unit, opt-level s, strip, \
         panic = abort), started with the Lambda environment, dummy credentials, AWS_REGION and \
         every table/function variable, against a local Runtime API that times the first \
         `GET /2018-06-01/runtime/invocation/next`. Binaries are in the page cache (a warm-up \
         start first), so this is the process's own init, not Lambda's sandbox and code download.",
    );
    report.data = json!(data);
    Ok(report)
}
