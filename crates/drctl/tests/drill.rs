//! `drctl drill` on the example plans, through the binary.

mod common;

use common::{drctl, drctl_with, example, Run};
use serde_json::Value;

/// `drctl drill PLAN --speed 0 EXTRA...`.
fn drill_plan(plan: impl AsRef<std::path::Path>, extra: &[&str]) -> Run {
    let plan = plan.as_ref().to_str().unwrap().to_owned();
    let mut args = vec!["drill", plan.as_str(), "--speed", "0"];
    args.extend_from_slice(extra);
    drctl(&args)
}

/// The same on the three-tier example.
fn drill(extra: &[&str]) -> Run {
    drill_plan(example("three-tier.json"), extra)
}

fn servers(wave: &Value) -> &Vec<Value> {
    wave["servers"].as_array().unwrap()
}

fn assert_every_wave_completed_with_instances(report: &Value, waves: usize, servers_total: usize) {
    assert_eq!(report["status"], "COMPLETED");
    assert!(
        report["recoveryTimeSeconds"]
            .as_u64()
            .is_some_and(|t| t > 0),
        "total recovery time"
    );
    assert_eq!(report["failures"].as_array().unwrap().len(), 0);
    let all_waves = report["waves"].as_array().unwrap();
    assert_eq!(all_waves.len(), waves);
    let mut total = 0;
    for wave in all_waves {
        assert_eq!(wave["status"], "COMPLETED", "{wave}");
        assert!(wave["recoveryTimeSeconds"].as_u64().is_some_and(|t| t > 0));
        assert_eq!(wave["attempts"], 1);
        assert!(!wave["jobs"].as_array().unwrap().is_empty());
        for job in wave["jobs"].as_array().unwrap() {
            assert!(job["jobId"].as_str().unwrap().starts_with("drsjob-"));
            assert_eq!(
                (
                    job["attempt"].as_u64(),
                    job["servers"].as_u64().map(|n| n > 0)
                ),
                (Some(1), Some(true))
            );
        }
        assert_eq!(wave["optionalNotLaunched"], serde_json::json!([]));
        for s in servers(wave) {
            assert_eq!(s["launchStatus"], "LAUNCHED");
            assert!(
                s["instanceId"]
                    .as_str()
                    .is_some_and(|i| i.starts_with("i-") && i.len() == 19),
                "{s}"
            );
            assert!(
                s["privateIp"]
                    .as_str()
                    .is_some_and(|ip| ip.starts_with("10.")),
                "{s}"
            );
            assert!(s["hostname"]
                .as_str()
                .is_some_and(|h| h.ends_with(".ec2.internal")));
            assert!(s["instanceType"].as_str().is_some());
            total += 1;
        }
    }
    assert_eq!(total, servers_total);
}

#[test]
fn the_three_tier_drill_pauses_resumes_and_reports_every_instance() {
    let run = drill(&["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_every_wave_completed_with_instances(&report, 3, 7);
    assert_eq!(report["waves"][1]["waveName"], "app");
    assert!(
        run.stderr.contains("PAUSED before wave 1 (app)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("resumed after 2m 00s paused"));
    assert_eq!(report["simulation"]["calls"]["StartRecovery"], 3);
    assert_eq!(
        report["simulation"]["calls"]["SendTaskSuccess"], 1,
        "the resume released the pause's token"
    );
}

#[test]
fn the_text_report_has_a_table_per_wave_and_the_total() {
    let run = drill(&["--resume-after", "300"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    for expected in [
        "PAUSED before wave 1 (app): resuming after 5m 00s (simulated)",
        "resumed after 5m 00s paused",
        "finalized: COMPLETED",
        "Wave 0 (database): COMPLETED  recovery time",
        "Wave 2 (web): COMPLETED",
        "Total recovery time:",
        "SOURCE SERVER",
        "\nWave boundaries (last server launched in DRS to the next wave's first StartRecovery):\n  BOUNDARY",
    ] {
        assert!(out.contains(expected), "missing '{expected}' in:\n{out}");
    }
    // The resume's 5 minutes are in the first boundary's gap, apart from the engine's wait.
    let boundary = out
        .lines()
        .find(|l| l.starts_with("  0 (database) → 1 (app)  "))
        .unwrap_or_else(|| panic!("no boundary 0 → 1 in:\n{out}"));
    let cells: Vec<&str> = boundary
        .split("  ")
        .filter(|c| !c.trim().is_empty())
        .collect();
    assert_eq!(cells.get(2).map(|c| c.trim()), Some("5m 00s"), "{boundary}");
    assert!(
        out.lines().any(|l| l.starts_with("  1 (app) → 2 (web)  ")),
        "{out}"
    );
    for id in [
        "s-3f1e2d4c5b6a70819",
        "s-6c4b5a7f8e9da3b4c",
        "s-9f7e8dacbc2d6e7f8",
    ] {
        let row = out
            .lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id}"));
        assert!(
            row.contains("LAUNCHED") && row.contains(" i-") && row.contains(" 10.0."),
            "{row}"
        );
    }
}

#[test]
fn a_seed_reproduces_a_drill() {
    let a = drill(&["--json", "--seed", "7"]).json();
    let b = drill(&["--json", "--seed", "7"]).json();
    let c = drill(&["--json", "--seed", "8"]).json();
    assert_eq!(a["waves"], b["waves"]);
    assert_eq!(a["executionId"], b["executionId"]);
    assert_ne!(a["waves"], c["waves"]);
}

#[test]
fn a_failing_server_fails_the_drill_with_exit_3_and_says_why() {
    // The plan's waves PAUSE on a failure; the drill's operator cancels by default.
    let run = drill(&["--json", "--fail-server", "s-6c4b5a7f8e9da3b4c"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["waves"][0]["status"], "COMPLETED");
    assert_eq!(report["waves"][1]["status"], "FAILED");
    assert_eq!(report["waves"][2]["status"], "CANCELLED");
    let failure = &report["failures"][0];
    assert_eq!(failure["waveNumber"], 1);
    assert_eq!(failure["status"], "FAILED");
    assert_eq!(failure["reason"], "SERVERS_FAILED");
    assert_eq!(
        failure["message"],
        "1 of 3 critical servers did not launch (1 FAILED, 0 TERMINATED)"
    );
    assert_eq!(
        failure["servers"][0]["sourceServerId"],
        "s-6c4b5a7f8e9da3b4c"
    );
    assert_eq!(failure["servers"].as_array().unwrap().len(), 1);
    assert!(
        run.stderr
            .contains("PAUSED: wave 1 (app) FAILED, waiting for a decision: cancel after 2m 00s"),
        "{}",
        run.stderr
    );
    assert!(run
        .stderr
        .contains("wave 1 (app): cancelled the execution after 2m 00s paused"));
    assert_eq!(
        report["simulation"]["calls"]["SendTaskSuccess"], 2,
        "the cancel released the failure pause's token"
    );

    let text = drill(&["--fail-server", "s-6c4b5a7f8e9da3b4c"]);
    assert_eq!(text.code, 3);
    assert!(
        text.stdout.contains(
            "Failures:\n  wave 1 (app): SERVERS_FAILED 1 of 3 critical servers did not launch"
        ),
        "{}",
        text.stdout
    );
}

#[test]
fn a_retry_that_succeeds_completes_the_drill() {
    let run = drill(&[
        "--json",
        "--fail-server",
        "s-6c4b5a7f8e9da3b4c:1",
        "--on-failure",
        "retry",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "COMPLETED");
    let wave = &report["waves"][1];
    assert_eq!(wave["status"], "COMPLETED");
    assert_eq!(wave["attempts"], 2);
    let jobs = wave["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        (jobs[1]["attempt"].as_u64(), jobs[1]["servers"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(report["failures"], serde_json::json!([]));
    assert!(
        run.stderr
            .contains("wave 1 (app): retried (attempt 2) after 2m 00s paused"),
        "{}",
        run.stderr
    );
    let text = drill(&[
        "--fail-server",
        "s-6c4b5a7f8e9da3b4c:1",
        "--on-failure",
        "retry",
    ]);
    assert!(
        text.stdout
            .contains("Wave 1 (app): COMPLETED  recovery time"),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout.contains("  2 attempts  jobs drsjob-"),
        "{}",
        text.stdout
    );
}

#[test]
fn a_server_that_keeps_failing_is_retried_up_to_max_wave_attempts() {
    let run = drill(&[
        "--json",
        "--fail-server",
        "s-6c4b5a7f8e9da3b4c",
        "--on-failure",
        "retry",
        "--max-wave-attempts",
        "2",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["failures"][0]["attempts"], 2);
    assert!(run.stderr.contains("retried (attempt 2)"), "{}", run.stderr);
    assert!(
        run.stderr.contains("cancelled the execution"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_skipped_wave_ends_completed_with_errors_and_exit_1() {
    let run = drill(&[
        "--json",
        "--fail-server",
        "s-3f1e2d4c5b6a70819",
        "--on-failure",
        "skip",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "COMPLETED_WITH_ERRORS");
    assert_eq!(report["waves"][0]["status"], "SKIPPED");
    assert_eq!(report["waves"][1]["status"], "COMPLETED");
    assert_eq!(report["waves"][2]["status"], "COMPLETED");
    let failure = &report["failures"][0];
    assert_eq!(
        (
            failure["waveNumber"].as_u64(),
            failure["status"].as_str(),
            failure["reason"].as_str()
        ),
        (Some(0), Some("SKIPPED"), Some("SERVERS_FAILED"))
    );
    let text = drill(&[
        "--fail-server",
        "s-3f1e2d4c5b6a70819",
        "--on-failure",
        "skip",
    ]);
    assert_eq!(text.code, 1);
    for expected in [
        "wave 0 (database): skipped after 2m 00s paused",
        "finalized: COMPLETED_WITH_ERRORS",
        "Wave 0 (database): SKIPPED",
        "  wave 0 (database) (SKIPPED): SERVERS_FAILED",
    ] {
        assert!(
            text.stdout.contains(expected),
            "missing '{expected}' in:\n{}",
            text.stdout
        );
    }
}

#[test]
fn an_optional_server_that_fails_ends_completed_with_errors() {
    let plan = example("failure-policy.json");
    let run = drill_plan(&plan, &["--json", "--fail-server", "s-4e5f6a7b8c9d0e1f2"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "COMPLETED_WITH_ERRORS");
    assert!(report["waves"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["status"] == "COMPLETED"));
    let skipped = &report["waves"][1]["optionalNotLaunched"];
    assert_eq!(skipped.as_array().unwrap().len(), 1);
    assert_eq!(skipped[0]["sourceServerId"], "s-4e5f6a7b8c9d0e1f2");
    assert_eq!(skipped[0]["impact"], "OPTIONAL");
    assert_eq!(report["failures"], serde_json::json!([]));
    assert!(
        run.stderr.contains("COMPLETED, recovery time")
            && run.stderr.contains("1 OPTIONAL server did not launch"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_wave_whose_policy_is_stop_fails_the_drill_without_a_pause() {
    let plan = example("failure-policy.json");
    let run = drill_plan(
        &plan,
        &[
            "--json",
            "--fail-server",
            "s-0a1b2c3d4e5f6a7b8",
            "--on-failure",
            "retry",
        ],
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "FAILED");
    assert_eq!(
        report["waves"][0]["attempts"], 1,
        "STOP: no decision, no retry"
    );
    assert!(!run.stderr.contains("PAUSED"), "{}", run.stderr);
}

#[test]
fn a_server_its_job_leaves_out_fails_the_wave() {
    let run = drill(&["--json", "--omit-server", "s-8e6d7c9bab1c5d6e7"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let failure = &run.json()["failures"][0];
    assert_eq!(failure["waveNumber"], 2);
    assert_eq!(failure["reason"], "JOB_INCOMPLETE");
    assert_eq!(
        failure["servers"][0]["sourceServerId"],
        "s-8e6d7c9bab1c5d6e7"
    );
    assert!(failure["servers"][0]["statusMessage"]
        .as_str()
        .unwrap()
        .starts_with("not in the DRS job drsjob-"));
}

#[test]
fn quota_and_conflict_refusals_clear_and_are_counted() {
    let run = drill(&["--json", "--quota-exceeded", "2", "--conflict", "1:15"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_every_wave_completed_with_instances(&report, 3, 7);
    assert_eq!(report["simulation"]["launchRefusals"], 3);
    assert_eq!(report["simulation"]["launchWaitSeconds"], 10 + 20 + 15);
    assert_eq!(report["waves"][0]["launchAttempts"], 4);
    assert!(report["waves"][0]["lastLaunchError"]
        .as_str()
        .unwrap()
        .contains("ConflictException"));
    assert!(
        run.stderr.contains("ServiceQuotaExceededException")
            && run.stderr.contains("launching again in 10s"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_job_over_the_account_quota_is_rejected_and_a_smaller_max_servers_per_job_fits_it() {
    let run = drill(&["--json", "--job-quota", "2"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let failure = &run.json()["failures"][0];
    assert_eq!(failure["waveNumber"], 1, "wave 1 has 3 servers");
    assert_eq!(failure["reason"], "LAUNCH_REJECTED");
    assert!(failure["message"].as_str().unwrap().contains("L-B827C881"));

    let run = drill(&["--json", "--job-quota", "2", "--max-servers-per-job", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_every_wave_completed_with_instances(&report, 3, 7);
    assert_eq!(report["waves"][1]["jobs"].as_array().unwrap().len(), 2);
}

#[test]
fn a_wave_of_250_servers_is_launched_as_three_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("wide.json");
    let servers: Vec<serde_json::Value> = (0..250)
        .map(|n| serde_json::json!({"sourceServerId": format!("s-{n:017}")}))
        .collect();
    std::fs::write(
        &plan,
        serde_json::json!({"planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00", "waves": [{"servers": servers}]})
            .to_string(),
    )
    .unwrap();
    let run = drill_plan(&plan, &["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_every_wave_completed_with_instances(&report, 1, 250);
    let jobs: Vec<(u64, u64)> = report["waves"][0]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["part"].as_u64().unwrap(), j["servers"].as_u64().unwrap()))
        .collect();
    assert_eq!(jobs, [(0, 100), (1, 100), (2, 50)]);
    assert_eq!(report["simulation"]["calls"]["StartRecovery"], 3);
    assert!(
        run.stderr
            .contains("launched (StartRecovery, 3 jobs: drsjob-"),
        "{}",
        run.stderr
    );
}

#[test]
fn scripted_faults_are_ridden_out() {
    let run = drill(&[
        "--json",
        "--throttle",
        "DescribeJobs:3",
        "--throttle",
        "StartRecovery:1",
        "--drs-5xx",
        "DescribeInstances:2",
        "--job-missing-polls",
        "3",
        "--no-recovery-instance-ids",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_every_wave_completed_with_instances(&report, 3, 7);
    assert!(
        report["simulation"]["calls"]["DescribeRecoveryInstances"]
            .as_u64()
            .unwrap()
            >= 3
    );
    assert!(run.stderr.contains("retry 1 in 2s"), "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: EC2 DescribeInstances failed"),
        "a 5xx from EC2 only warns"
    );
}

#[test]
fn a_pause_can_wait_for_enter() {
    let plan = example("three-tier.json");
    let run = drctl_with(
        &[
            "drill",
            plan.to_str().unwrap(),
            "--speed",
            "0",
            "--resume-on-key",
        ],
        &[],
        Some("\n"),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stdout
        .contains("PAUSED before wave 1 (app): press Enter to resume"));
    assert!(run.stdout.contains("finalized: COMPLETED"));
}

#[test]
fn the_large_plan_runs_twenty_waves_of_a_hundred() {
    let plan = example("large.json");
    let run = drill_plan(&plan, &["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_every_wave_completed_with_instances(&run.json(), 20, 2000);
}

#[test]
fn bad_drill_input_is_exit_2() {
    let run = drill(&["--fail-server", "s-00000000000000000"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("no wave of the plan has this server"),
        "{}",
        run.stderr
    );
    let run = drill(&["--omit-server", "s-00000000000000000"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--omit-server s-00000000000000000"),
        "{}",
        run.stderr
    );
    assert_eq!(drill(&["--on-failure", "later"]).code, 2);
    assert_eq!(drill(&["--fail-server", "s-3f1e2d4c5b6a70819:0"]).code, 2);
    let run = drill(&["--max-servers-per-job", "201"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("maxServersPerJob must be 1 to 200"),
        "{}",
        run.stderr
    );
    let run = drill(&["--throttle", "Nope:1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown API 'Nope'"), "{}", run.stderr);
    assert_eq!(drill(&["--resume-after", "5", "--resume-on-key"]).code, 2);
    assert_eq!(drill(&["--poll-interval", "0"]).code, 2);
    // The state machine's interval is whole seconds from 5: refused before anything is created.
    let plan = example("three-tier.json");
    for bad in ["1.5", "0", "4"] {
        let run = drctl(&["start", plan.to_str().unwrap(), "--poll-interval", bad]);
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(run.stderr.contains("pollIntervalSeconds"), "{}", run.stderr);
    }
    assert_eq!(drctl(&["drill", "/nonexistent/plan.json"]).code, 2);
    let run = drill(&["--json", "--fail-server", "s-00000000000000000"]);
    assert_eq!(run.json()["error"], "INVALID_INPUT");
}

// Issue 12.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

fn no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("failed printing"),
        "{stderr}"
    );
}

/// Runs a drill whose stdout is a pipe that this test closes after reading `keep` bytes, as
/// `| head -c N` does; stderr goes to a file (a pipe nobody reads would fill up).
fn drill_into_a_closed_pipe(args: &[&str], keep: usize) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let err_path = dir.path().join("stderr");
    let mut child = Command::new(env!("CARGO_BIN_EXE_drctl"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = vec![0u8; keep];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let status = child.wait().unwrap();
    (status.code(), std::fs::read_to_string(&err_path).unwrap())
}

/// `drctl drill examples/large.json --speed 0 | head -1` (and the same with --json): the drill
/// stops at the closed pipe, quietly, with the status a shell gives a tool SIGPIPE ended.
#[test]
fn a_closed_stdout_ends_the_drill_quietly() {
    let plan = example("large.json");
    let plan = plan.to_str().unwrap();
    // Thousands of lines (the report alone is far bigger than a pipe's buffer): the drill
    // writes into the closed pipe whatever the pace of this test.
    for args in [
        vec!["drill", plan, "--speed", "0"],
        vec!["--json", "drill", plan, "--speed", "0"],
    ] {
        let (code, stderr) = drill_into_a_closed_pipe(&args, 10);
        no_panic(&stderr);
        assert_eq!(code, Some(141), "{args:?}: {stderr}");
        assert!(
            !stderr.contains("drctl:"),
            "a closed pipe is not an error to tell: {stderr}"
        );
    }
}

/// `drctl drill ... >/dev/full`: one line saying so, exit 4.
#[cfg(target_os = "linux")]
#[test]
fn a_full_stdout_is_one_clear_line_and_exit_4() {
    let plan = example("three-tier.json");
    let plan = plan.to_str().unwrap();
    for args in [
        vec!["drill", plan, "--speed", "0"],
        vec!["--json", "drill", plan, "--speed", "0"],
        vec!["validate", plan],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_drctl"))
            .args(&args)
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        no_panic(&stderr);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("drctl:")).collect();
        assert_eq!(
            errors,
            ["drctl: cannot write to standard output: No space left on device (os error 28)"],
            "{args:?}"
        );
    }
}

fn write_plan(dir: &std::path::Path, plan: &Value) -> String {
    let path = dir.join("plan.json");
    std::fs::write(&path, plan.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// A plan whose names would recolour the terminal, forge a report line and reverse text.
fn hostile_plan() -> Value {
    serde_json::json!({
        "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
        "planName": "drill\u{1b}[31m",
        "waves": [{
            "waveName": "db\nWave 7 (forged): COMPLETED",
            "servers": [
                {"sourceServerId": "s-00000000000000001", "serverName": "primary\u{202e}yranoitcid"},
                {"sourceServerId": "s-00000000000000002", "serverName": "replica\r\u{9b}2J"}
            ]
        }]
    })
}

#[test]
fn control_and_bidi_characters_in_names_are_shown_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(dir.path(), &hostile_plan());
    let run = drill_plan(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    for raw in ['\u{1b}', '\u{202e}', '\r', '\u{9b}'] {
        assert!(!out.contains(raw), "{raw:?} reached the output:\n{out}");
    }
    assert!(
        !out.lines().any(|l| l.starts_with("Wave 7")),
        "a name forged a line:\n{out}"
    );
    for expected in [
        "Drill of plan 'drill\\u{1b}[31m': 1 wave, 2 servers",
        "Execution 1c1e23ad-bbd7-4654-ab31-aed51aae0828 of plan 'drill\\u{1b}[31m' (drill)",
        "Wave 0 (db\\nWave 7 (forged): COMPLETED): COMPLETED",
        "wave 0 (db\\nWave 7 (forged): COMPLETED): launched",
        "s-00000000000000001 (primary\\u{202e}yranoitcid) LAUNCHED",
        "replica\\r\\u{9b}2J",
    ] {
        assert!(out.contains(expected), "missing '{expected}' in:\n{out}");
    }
    // Progress on stderr beside --json is escaped too; the JSON keeps the names as they are.
    let run = drctl(&["--json", "drill", &plan, "--speed", "0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{202e}'));
    assert!(run.stderr.contains("(primary\\u{202e}yranoitcid) LAUNCHED"));
    let report = run.json();
    assert_eq!(report["planName"], "drill\u{1b}[31m");
    assert_eq!(
        report["waves"][0]["servers"][1]["serverName"],
        "replica\r\u{9b}2J"
    );
}

#[test]
fn the_server_table_has_hostnames() {
    let run = drill(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let header = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("SOURCE SERVER"))
        .unwrap();
    assert!(header.contains("  HOSTNAME  "), "{header}");
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("s-") && l.contains("LAUNCHED"))
        .collect();
    assert_eq!(rows.len(), 7);
    for row in rows {
        assert!(row.contains(".ec2.internal"), "{row}");
    }
}

/// Where a column starts, in display columns (a CJK character takes two).
fn column_of(line: &str, cell: &str) -> usize {
    let at = line
        .find(cell)
        .unwrap_or_else(|| panic!("no '{cell}' in {line}"));
    unicode_width::UnicodeWidthStr::width(&line[..at])
}

#[test]
fn columns_line_up_by_display_width() {
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        &serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "waves": [{"servers": [
                {"sourceServerId": "s-00000000000000001", "serverName": "データベース"},
                {"sourceServerId": "s-00000000000000002", "serverName": "web-01"},
                {"sourceServerId": "s-00000000000000003", "serverName": "数据库-主"}
            ]}]
        }),
    );
    let run = drill_plan(&plan, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let table: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  SOURCE SERVER") || l.starts_with("  s-0000"))
        .collect();
    assert_eq!(table.len(), 4, "{}", run.stdout);
    let status = column_of(table[0], "STATUS");
    for row in &table[1..] {
        assert_eq!(column_of(row, "LAUNCHED"), status, "\n{}", table.join("\n"));
    }
}

#[test]
fn the_total_recovery_time_says_what_it_includes_and_the_time_paused() {
    let run = drill(&["--resume-after", "300"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let total = run
        .stdout
        .lines()
        .find(|l| l.starts_with("Total recovery time: "))
        .unwrap();
    assert!(
        total.ends_with("(first launch to last wave settled, time paused included)"),
        "{total}"
    );
    assert!(
        run.stdout
            .contains("Time paused: 5m 00s; recovery time without pauses "),
        "{}",
        run.stdout
    );
    let report = drill(&["--json", "--resume-after", "300"]).json();
    assert_eq!(report["pausedSeconds"], 300);
    let paused_120 = drill(&["--json"]).json();
    assert_eq!(paused_120["pausedSeconds"], 120);
    assert_eq!(
        report["recoveryTimeSeconds"].as_u64().unwrap() - 300,
        paused_120["recoveryTimeSeconds"].as_u64().unwrap() - 120,
        "the same drill, paused longer"
    );

    // A pause before wave 0 comes before the first launch: not in the recovery time.
    let dir = tempfile::tempdir().unwrap();
    let plan = write_plan(
        dir.path(),
        &serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "waves": [{"pauseBeforeWave": true, "servers": [{"sourceServerId": "s-00000000000000001"}]}]
        }),
    );
    let run = drctl(&["--json", "drill", &plan, "--speed", "0"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["pausedSeconds"], 0);
}

#[test]
fn servers_without_ec2_details_are_named() {
    let run = drill(&["--json", "--ec2-unknown-polls", "50"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "COMPLETED");
    let without: Vec<&Value> = report["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(servers)
        .filter(|s| s["privateIp"].is_null())
        .map(|s| &s["sourceServerId"])
        .collect();
    assert!(!without.is_empty(), "the fault leaves some servers without");
    let named: Vec<&Value> = report["serversWithoutEc2Details"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(named, without);

    let text = drill(&["--ec2-unknown-polls", "50"]);
    let note = text
        .stdout
        .lines()
        .find(|l| l.contains("no EC2 details"))
        .unwrap_or_else(|| panic!("no note in:\n{}", text.stdout));
    assert!(
        note.starts_with(&format!(
            "Note: {} servers launched but have no EC2 details",
            without.len()
        )),
        "{note}"
    );
    for id in &without {
        assert!(note.contains(id.as_str().unwrap()), "{note}");
    }
    let names: Vec<&str> = report["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(servers)
        .filter(|s| s["privateIp"].is_null())
        .filter_map(|s| s["serverName"].as_str())
        .collect();
    assert!(!names.is_empty(), "the example names its servers");
    for name in names {
        assert!(note.contains(&format!("({name})")), "names too: {note}");
    }

    let healthy = drill(&["--json"]).json();
    assert_eq!(healthy["serversWithoutEc2Details"], serde_json::json!([]));
}

#[test]
fn a_drill_that_cannot_finish_prints_a_partial_report() {
    // DescribeJobs answers 5xx more times in a row than the driver retries: exit 4, after
    // wave 0 was launched.
    let run = drill(&["--drs-5xx", "DescribeJobs:20"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains("PARTIAL REPORT (the drill could not finish: poll failed "),
        "{out}"
    );
    assert!(
        out.contains("Wave 0 (database): STARTED  job drsjob-"),
        "{out}"
    );
    assert!(out.contains("Simulated "), "{out}");
    assert!(
        run.stderr
            .contains("drctl: the drill could not finish: poll failed"),
        "{}",
        run.stderr
    );

    let run = drill(&["--json", "--drs-5xx", "DescribeJobs:20"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["partial"], true);
    assert_eq!(report["error"], "INFRASTRUCTURE_ERROR");
    assert_eq!(report["exitCode"], 4);
    assert!(report["message"]
        .as_str()
        .unwrap()
        .starts_with("the drill could not finish"));
    assert_eq!(report["status"], "POLLING");
    assert_eq!(report["waves"][0]["status"], "STARTED");
    assert!(report["waves"][0]["jobs"][0]["jobId"]
        .as_str()
        .unwrap()
        .starts_with("drsjob-"));
    assert!(report["simulation"]["polls"].as_u64().is_some());
    // A finished drill's report is whole.
    assert!(drill(&["--json"]).json().get("partial").is_none());
}

/// Runs the three-tier drill until it waits for Enter before wave 1, then sends SIGINT.
#[cfg(unix)]
fn interrupted_at_the_pause(json: bool) -> Run {
    let plan = example("three-tier.json");
    let mut args = vec![
        "drill",
        plan.to_str().unwrap(),
        "--speed",
        "0",
        "--resume-on-key",
    ];
    if json {
        args.insert(0, "--json");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_drctl"))
        .args(&args)
        .stdin(Stdio::piped()) // open and silent: the pause waits
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (progress, mut other): (Box<dyn Read + Send>, Box<dyn Read + Send>) = if json {
        (
            Box::new(child.stderr.take().unwrap()),
            Box::new(child.stdout.take().unwrap()),
        )
    } else {
        (
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        )
    };
    let other = std::thread::spawn(move || {
        let mut text = String::new();
        other.read_to_string(&mut text).unwrap();
        text
    });
    let mut progress = BufReader::new(progress);
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            progress.read_line(&mut line).unwrap() > 0,
            "ended before the pause:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains("PAUSED before wave 1 (app): press Enter to resume") {
            break;
        }
    }
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    progress.read_to_string(&mut seen).unwrap();
    let other = other.join().unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    let (stdout, stderr) = if json { (other, seen) } else { (seen, other) };
    Run {
        code,
        stdout,
        stderr,
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_prints_the_report_so_far_with_the_instances_already_launched() {
    let run = interrupted_at_the_pause(false);
    assert_eq!(run.code, 130, "{}\n{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(
        out.contains("PARTIAL REPORT (interrupted by Ctrl-C): the execution as it stood when the drill stopped"),
        "{out}"
    );
    assert!(out.contains("): PAUSED"), "{out}");
    for id in ["s-3f1e2d4c5b6a70819", "s-4a2f3e5d6c7b8192a"] {
        let row = out
            .lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_else(|| panic!("no row for {id} in:\n{out}"));
        assert!(row.contains("LAUNCHED") && row.contains(" i-"), "{row}");
    }
    assert!(
        run.stderr.contains("drctl: interrupted by Ctrl-C"),
        "{}",
        run.stderr
    );

    let run = interrupted_at_the_pause(true);
    assert_eq!(run.code, 130, "{}", run.stderr);
    let report = run.json();
    assert_eq!(
        (
            report["partial"].as_bool(),
            report["error"].as_str(),
            report["exitCode"].as_u64()
        ),
        (Some(true), Some("INTERRUPTED"), Some(130))
    );
    assert_eq!(report["status"], "PAUSED");
    assert_eq!(report["waves"][0]["status"], "COMPLETED");
    assert!(servers(&report["waves"][0])
        .iter()
        .all(|s| s["instanceId"].as_str().is_some()));
    // The trail so far, up to the planned pause the drill stopped at.
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.last().unwrap()["decision"], "PLANNED_PAUSE");
    assert_eq!(
        trail_lines(&run.stderr).len(),
        events.len(),
        "{}",
        run.stderr
    );
}

#[test]
fn a_plan_can_come_from_standard_input() {
    let text = std::fs::read_to_string(example("three-tier.json")).unwrap();
    let run = drctl_with(&["--json", "drill", "-", "--speed", "0"], &[], Some(&text));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_every_wave_completed_with_instances(&run.json(), 3, 7);

    let run = drctl_with(&["drill", "-", "--speed", "0"], &[], Some("{"));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("drctl: the plan on standard input is not a valid plan"),
        "{}",
        run.stderr
    );
    // Enter could not be read from where the plan was.
    let run = drctl_with(
        &["drill", "-", "--speed", "0", "--resume-on-key"],
        &[],
        Some(&text),
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--resume-on-key"), "{}", run.stderr);
}

#[test]
fn counts_read_in_the_singular_and_the_plural() {
    let dir = tempfile::tempdir().unwrap();
    let one = write_plan(
        dir.path(),
        &serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "waves": [{"servers": [{"sourceServerId": "s-00000000000000001"}]}, {"servers": []}]
        }),
    );
    let run = drctl(&["drill", &one]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("cannot run (1 problem):"),
        "{}",
        run.stderr
    );

    let run = drctl(&["validate", &one]);
    assert!(
        run.stdout.contains("(2 waves, 1 server) cannot run."),
        "{}",
        run.stdout
    );

    std::fs::write(
        &one,
        serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "waves": [{"servers": [{"sourceServerId": "s-00000000000000001"}]}]
        })
        .to_string(),
    )
    .unwrap();
    let run = drill_plan(&one, &["--conflict", "1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for expected in [
        ": 1 wave, 1 server (execution ",
        "DRS refused StartRecovery 1 time for now",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing '{expected}' in:\n{}",
            run.stdout
        );
    }
    let two = write_plan(
        dir.path(),
        &serde_json::json!({
            "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            "waves": [{"servers": [
                {"sourceServerId": "s-00000000000000001"},
                {"sourceServerId": "s-00000000000000002"}
            ]}]
        }),
    );
    // Two servers over a quota of one: refused for good at the first call.
    let run = drill_plan(&two, &["--job-quota", "1"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("\n  1 StartRecovery call; last refusal: "),
        "{}",
        run.stdout
    );
    let optional = drill_plan(
        example("failure-policy.json"),
        &["--fail-server", "s-4e5f6a7b8c9d0e1f2"],
    );
    assert!(
        optional.stdout.contains("1 OPTIONAL server did not launch")
            && optional
                .stdout
                .contains("  1 OPTIONAL server not launched: "),
        "{}",
        optional.stdout
    );
}

/// The trail's lines a drill showed as it ran (`[T+00:10:30] [pause by the workflow] ...`), as
/// (time, operation, actor, summary).
fn trail_lines(progress: &str) -> Vec<(String, String, String, String)> {
    progress
        .lines()
        .filter_map(|l| {
            let (time, rest) = l.strip_prefix("[T+")?.split_once("] [")?;
            let (what, summary) = rest.split_once("] ")?;
            let (operation, actor) = what.split_once(" by ")?;
            Some((
                time.to_owned(),
                operation.to_owned(),
                actor.to_owned(),
                summary.to_owned(),
            ))
        })
        .collect()
}

/// `hh:mm:ss` in seconds.
fn secs(time: &str) -> u64 {
    time.split(':')
        .map(|n| n.parse::<u64>().unwrap())
        .fold(0, |total, n| total * 60 + n)
}

/// Each event of the trail is shown as it is recorded, with the drill's time, who made the change
/// and with which operation: the plan's pause is the workflow's, the resume two minutes later the
/// simulated operator's.
#[test]
fn the_drill_shows_the_pause_and_the_operator_s_resume_as_they_happen() {
    let run = drill(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let at = |what: &str| {
        lines
            .iter()
            .position(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no line with {what:?} in:\n{}", run.stdout))
    };
    let pause = at("[pause by the workflow] Execution is paused before wave 1 as the plan asks");
    let paused = at("PAUSED before wave 1 (app): resuming after 2m 00s (simulated)");
    let resume = at(
        "[resume by drctl as simulated operator] Execution moved from PAUSED to POLLING (resume).",
    );
    let resumed = at("resumed after 2m 00s paused");
    assert!(
        pause < paused && paused < resume && resume < resumed,
        "{}",
        run.stdout
    );
    let time = |i: usize| secs(&lines[i][3..11]);
    assert_eq!(
        time(resume),
        time(pause) + 120,
        "{}\n{}",
        lines[pause],
        lines[resume]
    );

    let shown = trail_lines(&run.stdout);
    assert_eq!(
        (
            shown[0].1.as_str(),
            shown[0].2.as_str(),
            shown[0].3.as_str()
        ),
        (
            "start",
            "drctl as simulated operator",
            "Execution was created (PENDING) by drctl as simulated operator."
        )
    );
    // finalize ends it; the plan's cleanupAfterSeconds then cleans it up, and that is the last.
    let finalized = shown
        .iter()
        .position(|l| l.1 == "finalize")
        .expect("finalize in the trail");
    assert_eq!(
        shown[finalized].3.as_str(),
        "Execution moved from POLLING to COMPLETED (finalize)."
    );
    assert!(
        !shown[finalized + 1..].is_empty()
            && shown[finalized + 1..].iter().all(|l| l.1 == "cleanup"),
        "{shown:?}"
    );
    // The report ends with the trail, every event once, with its time.
    let report = &run.stdout[run.stdout.find("\nExecution ").unwrap()..];
    let heading = format!("Trail ({} events, oldest first):", shown.len());
    let trail = &report[report
        .find(&heading)
        .unwrap_or_else(|| panic!("{heading}: {report}"))..];
    let listed: Vec<&str> = trail
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(listed.len(), shown.len(), "{trail}");
    assert!(
        listed.iter().any(|l| l.starts_with("  2026-01-01T00:")
            && l.contains(
                "[resume by drctl as simulated operator] Execution moved from PAUSED to POLLING"
            )),
        "{trail}"
    );
}

/// With `--json`, the report carries the trail (`events`, the store's, in its order) and the live
/// lines on stderr show the same events, one each, in the same order.
#[test]
fn with_json_the_report_carries_the_trail_the_drill_showed() {
    let run = drill(&["--json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let events = report["events"].as_array().unwrap();
    let id = &report["executionId"];
    assert!(events
        .iter()
        .all(|e| &e["executionId"] == id && e["planId"] == report["planId"]));
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let cli = serde_json::json!({"type": "cli", "id": "simulated operator"});
    let workflow = serde_json::json!({"type": "workflow"});
    assert_eq!(
        (
            &events[0]["operation"],
            &events[0]["actor"],
            &events[0]["execution"]
        ),
        (&"start".into(), &cli, &serde_json::json!({"to": "PENDING"}))
    );
    let pause = events
        .iter()
        .position(|e| e["decision"] == "PLANNED_PAUSE")
        .unwrap();
    assert_eq!(
        (
            &events[pause]["operation"],
            &events[pause]["actor"],
            &events[pause]["pausedBeforeWave"]
        ),
        (&"pause".into(), &workflow, &1.into())
    );
    let resume = &events[pause + 1];
    assert_eq!(
        (&resume["operation"], &resume["actor"], &resume["execution"]),
        (
            &"resume".into(),
            &cli,
            &serde_json::json!({"from": "PAUSED", "to": "POLLING"})
        )
    );
    assert_eq!(
        resume["time"].as_i64().unwrap() - events[pause]["time"].as_i64().unwrap(),
        120
    );
    let last = events
        .iter()
        .rev()
        .find(|e| e["operation"] != "cleanup")
        .unwrap();
    assert_eq!(
        (&last["operation"], &last["execution"]["to"]),
        (&"finalize".into(), &"COMPLETED".into())
    );
    assert_eq!(
        events.last().unwrap()["operation"],
        "cleanup",
        "the plan's cleanupAfterSeconds: cleaned up after it ended"
    );

    let shown = trail_lines(&run.stderr);
    assert_eq!(shown.len(), events.len(), "{}", run.stderr);
    for ((_, operation, actor, _), event) in shown.iter().zip(events) {
        assert_eq!(operation, event["operation"].as_str().unwrap());
        let expected = if event["actor"] == cli {
            "drctl as simulated operator"
        } else if event["actor"] == serde_json::json!({"type": "event"}) {
            assert_eq!(event["operation"], "advance", "{event}");
            "a DRS event"
        } else {
            "the workflow"
        };
        assert_eq!(actor, expected, "{event}");
    }
    // DRS's launch results (on by default) completed waves and launched one.
    assert!(
        events.iter().any(|e| e["operation"] == "advance"),
        "no change by a DRS event: {events:?}"
    );
}

/// A failed wave's pause waits for a decision (the workflow's event says so); the simulated
/// operator's skip is its own event.
#[test]
fn the_decision_on_a_failed_wave_is_in_the_trail_with_who_took_it() {
    let run = drill(&[
        "--json",
        "--fail-server",
        "s-3f1e2d4c5b6a70819",
        "--on-failure",
        "skip",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let events = run.json()["events"].as_array().unwrap().clone();
    let waiting = events
        .iter()
        .position(|e| e["decision"] == "WAVE_FAILED")
        .unwrap();
    assert_eq!(
        (
            &events[waiting]["failedWave"],
            &events[waiting]["actor"]["type"]
        ),
        (&0.into(), &"workflow".into())
    );
    let skip = &events[waiting + 1];
    assert_eq!(
        (
            &skip["operation"],
            &skip["actor"]["id"],
            &skip["waves"][0]["status"]
        ),
        (
            &"skip".into(),
            &"simulated operator".into(),
            &serde_json::json!({"from": "FAILED", "to": "SKIPPED"})
        )
    );
    assert!(
        run.stderr
            .contains("] [skip by drctl as simulated operator] Execution"),
        "{}",
        run.stderr
    );
}

/// The index of the first progress line that contains every one of `parts`.
fn line_with(stdout: &str, parts: &[&str]) -> usize {
    stdout
        .lines()
        .position(|l| parts.iter().all(|p| l.contains(p)))
        .unwrap_or_else(|| panic!("no line with {parts:?} in:\n{stdout}"))
}

#[test]
fn the_drill_shows_each_action_s_start_and_end_in_order() {
    let run = drill(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    let check = line_with(
        out,
        &[
            "wave 1 (app): action db-health-check (BEFORE_LAUNCH, LAMBDA) SUCCEEDED in ",
            r#": {"ok":true,"servers":3}"#,
        ],
    );
    let app_launched = line_with(out, &["wave 1 (app): launched (StartRecovery"]);
    let web_completed = line_with(out, &["wave 2 (web): COMPLETED"]);
    let dns_started = line_with(
        out,
        &[
            "wave 2 (web): action dns-switch (AFTER_COMPLETE, SSM_AUTOMATION) started automation ",
            "(dns-switch-to-recovery)",
        ],
    );
    let dns_done = line_with(
        out,
        &[
            "wave 2 (web): action dns-switch (AFTER_COMPLETE, SSM_AUTOMATION) SUCCEEDED in ",
            ": Success",
        ],
    );
    let ticket = line_with(
        out,
        &["wave 2 (web): action update-incident-ticket (AFTER_COMPLETE, LAMBDA) SUCCEEDED"],
    );
    let finalized = line_with(out, &["finalized: COMPLETED"]);
    assert!(check < app_launched, "the check runs before the launch");
    assert!(
        web_completed < dns_started
            && dns_started < dns_done
            && dns_done < ticket
            && ticket < finalized,
        "after the web tier, in order:\n{out}"
    );
    assert!(
        out.contains("Invoke 2, StartAutomationExecution 1"),
        "{out}"
    );
}

#[test]
fn a_failed_action_is_shown_with_its_error_and_the_retry_runs_it_again() {
    let run = drill(&[
        "--fail-action",
        "db-health-check:1",
        "--on-failure",
        "retry",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    let failed = line_with(
        out,
        &[
            "wave 1 (app): action db-health-check (BEFORE_LAUNCH, LAMBDA) FAILED after ",
            "function error (Unhandled): simulated failure of action db-health-check",
        ],
    );
    let wave_failed = line_with(out, &["wave 1 (app): FAILED: BEFORE_LAUNCH action"]);
    let retried = line_with(
        out,
        &["wave 1 (app): retried: action db-health-check runs again (attempt 2)"],
    );
    let passed = line_with(
        out,
        &["action db-health-check (BEFORE_LAUNCH, LAMBDA, attempt 2) SUCCEEDED"],
    );
    let launched = line_with(out, &["wave 1 (app): launched (StartRecovery"]);
    assert!(failed < wave_failed && wave_failed < retried && retried < passed && passed < launched);

    // Without a retry the failed check stops the drill before the app tier launches.
    let stopped = drill(&["--fail-action", "db-health-check"]);
    assert_eq!(stopped.code, 3, "{}", stopped.stderr);
    assert!(
        !stopped.stdout.contains("wave 1 (app): launched"),
        "{}",
        stopped.stdout
    );

    // A CONTINUE action's failure is recorded and the drill goes on.
    let goes_on = drill(&["--fail-action", "update-incident-ticket"]);
    assert_eq!(goes_on.code, 0, "{}", goes_on.stderr);
    line_with(
        &goes_on.stdout,
        &[
            "action update-incident-ticket",
            "FAILED after",
            "(onFailure CONTINUE: the execution goes on)",
        ],
    );

    let unknown = drill(&["--fail-action", "no-such-action"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("--fail-action no-such-action: no wave of the plan has this action"),
        "{}",
        unknown.stderr
    );
}
