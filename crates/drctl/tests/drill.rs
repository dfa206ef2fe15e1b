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
        assert!(wave["jobId"].as_str().unwrap().starts_with("drsjob-"));
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
    let run = drill(&["--json", "--fail-server", "s-6c4b5a7f8e9da3b4c"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["waves"][0]["status"], "COMPLETED");
    assert_eq!(report["waves"][1]["status"], "FAILED");
    assert_eq!(report["waves"][2]["status"], "CANCELLED");
    let failure = &report["failures"][0];
    assert_eq!(failure["waveNumber"], 1);
    assert_eq!(failure["reason"], "SERVERS_FAILED");
    assert_eq!(
        failure["message"],
        "1 of 3 servers did not launch (1 FAILED, 0 TERMINATED)"
    );
    assert_eq!(
        failure["servers"][0]["sourceServerId"],
        "s-6c4b5a7f8e9da3b4c"
    );
    assert_eq!(failure["servers"].as_array().unwrap().len(), 1);

    let text = drill(&["--fail-server", "s-6c4b5a7f8e9da3b4c"]);
    assert_eq!(text.code, 3);
    assert!(
        text.stdout
            .contains("Failures:\n  wave 1 (app): SERVERS_FAILED 1 of 3 servers did not launch"),
        "{}",
        text.stdout
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
    let run = drill(&["--throttle", "Nope:1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown API 'Nope'"), "{}", run.stderr);
    assert_eq!(drill(&["--resume-after", "5", "--resume-on-key"]).code, 2);
    assert_eq!(drill(&["--poll-interval", "0"]).code, 2);
    assert_eq!(drctl(&["drill", "/nonexistent/plan.json"]).code, 2);
    let run = drill(&["--json", "--fail-server", "s-00000000000000000"]);
    assert_eq!(run.json()["error"], "INVALID_INPUT");
}
