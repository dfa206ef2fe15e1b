//! `drctl drill` on the example plans, through the binary.

mod common;

use common::{drctl, drctl_with, example, Run};
use serde_json::Value;

fn drill(extra: &[&str]) -> Run {
    let plan = example("three-tier.json");
    let mut args = vec!["drill", plan.to_str().unwrap(), "--speed", "0"];
    args.extend_from_slice(extra);
    drctl(&args)
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
    ] {
        assert!(out.contains(expected), "missing '{expected}' in:\n{out}");
    }
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
    let run = drctl(&[
        "drill",
        plan.to_str().unwrap(),
        "--speed",
        "0",
        "--json",
        "--fail-server",
        "s-4e5f6a7b8c9d0e1f2",
    ]);
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
            && run.stderr.contains("1 OPTIONAL servers did not launch"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_wave_whose_policy_is_stop_fails_the_drill_without_a_pause() {
    let plan = example("failure-policy.json");
    let run = drctl(&[
        "drill",
        plan.to_str().unwrap(),
        "--speed",
        "0",
        "--json",
        "--fail-server",
        "s-0a1b2c3d4e5f6a7b8",
        "--on-failure",
        "retry",
    ]);
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
    let run = drctl(&["drill", plan.to_str().unwrap(), "--speed", "0", "--json"]);
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
    let run = drctl(&["drill", plan.to_str().unwrap(), "--speed", "0", "--json"]);
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
