//! Benchmark 6: the core's own cost. Reads the criterion estimates that
//! `cargo bench -p execution-core --bench rules` left in target/criterion, and runs the CLI's
//! drill of examples/large.json (20 × 100) at full speed under GNU time for wall time and peak RSS.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::report::{median, repo_root, verdict, Report};

/// The criterion benchmarks of crates/execution-core/benches/rules.rs, and their targets (ns).
const CRITERION: [(&str, Option<f64>); 3] = [
    (
        "poll decision 50x200 (every wave judged + nextAction + outcome)",
        Some(2e6),
    ),
    ("nextAction 50x200", None),
    ("judge_wave 200 servers", None),
];
const DRILL_WALL_TARGET: Duration = Duration::from_secs(5);
const DRILL_RSS_TARGET_KB: u64 = 64 * 1024;

/// Criterion's mean estimate for `name`, in nanoseconds.
fn criterion_mean_ns(name: &str) -> Option<f64> {
    let path = repo_root()
        .join("target/criterion")
        .join(name)
        .join("new/estimates.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

/// The drctl binary to time: the release build when one exists, else the debug one.
fn drctl() -> Option<(&'static str, PathBuf)> {
    ["release", "debug"].into_iter().find_map(|profile| {
        let path = repo_root().join("target").join(profile).join("drctl");
        path.exists().then_some((profile, path))
    })
}

#[derive(Debug, Clone, Copy)]
struct DrillRun {
    wall: Duration,
    peak_rss_kb: u64,
}

/// One `drctl drill examples/large.json --speed 0` under `/usr/bin/time -v`.
fn drill(drctl: &Path) -> Result<DrillRun, String> {
    let stats = std::env::temp_dir().join(format!("drs-bench-time-{}.txt", std::process::id()));
    let status = Command::new("/usr/bin/time")
        .arg("-v")
        .arg("-o")
        .arg(&stats)
        .arg(drctl)
        .args(["drill", "examples/large.json", "--speed", "0", "--json"])
        .current_dir(repo_root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("/usr/bin/time (GNU time) is needed: {e}"))?;
    let text = std::fs::read_to_string(&stats).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&stats);
    if !status.success() {
        return Err(format!("the drill failed ({status}): {text}"));
    }
    parse_time(&text).ok_or_else(|| format!("unexpected GNU time output: {text}"))
}

/// GNU time's "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:01.23" and
/// "Maximum resident set size (kbytes): 12345".
fn parse_time(text: &str) -> Option<DrillRun> {
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .map(|v| v.trim_start_matches(':').trim().to_owned())
    };
    let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")?;
    let secs = wall.split(':').try_fold(0.0, |acc, part| {
        part.parse::<f64>().ok().map(|v| acc * 60.0 + v)
    })?;
    Some(DrillRun {
        wall: Duration::from_secs_f64(secs),
        peak_rss_kb: field("Maximum resident set size (kbytes)")?.parse().ok()?,
    })
}

pub fn run(runs: usize) -> Result<Report, String> {
    let mut report = Report::new(
        "core",
        "6. Core cost",
        &["what", "figure", "target", "verdict"],
    );
    let mut criterion = Vec::new();
    for (name, target) in CRITERION {
        let mean = criterion_mean_ns(name);
        let figure = mean.map_or_else(
            || "not measured: run `cargo bench -p execution-core --bench rules`".into(),
            |ns| format!("{:.2} µs", ns / 1000.0),
        );
        let (target_text, met) = match target {
            Some(t) => (format!("< {} ms", t / 1e6), mean.is_some_and(|m| m < t)),
            None => ("-".into(), true),
        };
        let judged = if target.is_some() {
            verdict(met)
        } else {
            "-".into()
        };
        report.row(vec![name.into(), figure, target_text, judged]);
        criterion.push(json!({"name": name, "meanNs": mean, "targetNs": target, "met": met}));
    }

    let (profile, binary) = drctl().ok_or("no drctl binary: run `cargo build -p drctl`")?;
    let samples = (0..runs)
        .map(|_| drill(&binary))
        .collect::<Result<Vec<_>, _>>()?;
    let wall = median(samples.iter().map(|r| r.wall).collect());
    let rss = samples.iter().map(|r| r.peak_rss_kb).max().unwrap_or(0);
    report.row(vec![
        format!("drill of examples/large.json (20 × 100), --speed 0, {profile} build: wall"),
        format!("{:.2} s (median of {runs})", wall.as_secs_f64()),
        "< 5 s".into(),
        verdict(wall < DRILL_WALL_TARGET),
    ]);
    report.row(vec![
        "same drill: peak RSS".into(),
        format!("{:.1} MB (max of {runs})", rss as f64 / 1024.0),
        "< 64 MB".into(),
        verdict(rss < DRILL_RSS_TARGET_KB),
    ]);
    report.note(format!(
        "Criterion means from target/criterion (`cargo bench -p execution-core --bench rules`). The drill \
         runs `{}` under `/usr/bin/time -v`.",
        binary.display()
    ));
    report.data = json!({
        "criterion": criterion,
        "drill": {"profile": profile, "runs": runs, "wallSecondsMedian": wall.as_secs_f64(),
                  "peakRssKb": rss, "met": wall < DRILL_WALL_TARGET && rss < DRILL_RSS_TARGET_KB},
    });
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wall_time_and_peak_rss_from_gnu_time() {
        let text = "\tCommand being timed: \"drctl\"\n\tElapsed (wall clock) time (h:mm:ss or m:ss): 1:02.50\n\tMaximum resident set size (kbytes): 20480\n";
        let run = parse_time(text).unwrap();
        assert_eq!(run.wall, Duration::from_millis(62_500));
        assert_eq!(run.peak_rss_kb, 20480);
        assert!(parse_time("nothing here").is_none());
    }
}
