//! Plan validation: every problem listed, exit 2; warnings do not fail a plan.

mod common;

use common::{drctl, example};
use serde_json::json;

fn server(n: usize) -> serde_json::Value {
    json!({"sourceServerId": format!("s-{n:017}")})
}

/// A plan with an empty wave, a server in two waves and a wave of 1,001 servers.
fn broken_plan(dir: &std::path::Path) -> std::path::PathBuf {
    let plan = json!({
        "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
        "waves": [
            {"servers": [server(1), server(2)]},
            {"servers": []},
            {"servers": (2..1003).map(server).collect::<Vec<_>>()}
        ]
    });
    let path = dir.join("broken.json");
    std::fs::write(&path, plan.to_string()).unwrap();
    path
}

#[test]
fn the_examples_are_valid() {
    for name in ["three-tier.json", "large.json", "failure-policy.json"] {
        let run = drctl(&["validate", example(name).to_str().unwrap()]);
        assert_eq!(run.code, 0, "{name}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.contains("can run"), "{}", run.stdout);
    }
    let run = drctl(&[
        "--json",
        "validate",
        example("large.json").to_str().unwrap(),
    ]);
    assert_eq!(
        run.json(),
        json!({"valid": true, "planId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "waves": 20, "servers": 2000, "problems": [], "warnings": []})
    );
}

#[test]
fn every_problem_is_listed_and_the_exit_is_2() {
    let dir = tempfile::tempdir().unwrap();
    let plan = broken_plan(dir.path());
    let run = drctl(&["validate", plan.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    for expected in [
        "problem: wave 1 has no servers",
        "problem: wave 2 has 1001 servers; a wave holds at most 1000",
        "problem: server s-00000000000000002 is in wave 0 and again in wave 2",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing '{expected}' in:\n{}",
            run.stdout
        );
    }
    let json = drctl(&["validate", "--json", plan.to_str().unwrap()]);
    assert_eq!(json.code, 2);
    let doc = json.json();
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 3);

    // drill refuses the same plan, listing the same problems.
    let drill = drctl(&["drill", plan.to_str().unwrap()]);
    assert_eq!(drill.code, 2);
    assert!(
        drill.stderr.contains("cannot run (3 problems)"),
        "{}",
        drill.stderr
    );
    assert!(drill.stderr.contains("wave 1 has no servers"));
}

#[test]
fn warnings_do_not_fail_a_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.json");
    let plan = json!({
        "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
        "isDrill": false,
        "waves": [{"pauseBeforeWave": true, "timeoutSeconds": 300, "servers": [server(1)]}]
    });
    std::fs::write(&path, plan.to_string()).unwrap();
    let run = drctl(&["validate", "--json", path.to_str().unwrap()]);
    assert_eq!(run.code, 0);
    let warnings = run.json()["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(warnings[0].contains("real RECOVERY"));
    assert!(warnings[1].contains("wave 0 has pauseBeforeWave"));
    assert!(warnings[2].contains("wave 0 times out after 300 s"));
}

#[test]
fn a_file_that_is_not_a_plan_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.json");
    std::fs::write(
        &path,
        r#"{"planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00", "wavez": []}"#,
    )
    .unwrap();
    let run = drctl(&["validate", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown field `wavez`"),
        "{}",
        run.stderr
    );
    std::fs::write(&path, "{").unwrap();
    assert_eq!(drctl(&["validate", path.to_str().unwrap()]).code, 2);
    assert_eq!(
        drctl(&["validate", "--json", "/nonexistent.json"]).json()["exitCode"],
        2
    );
}

#[test]
fn usage_errors_are_exit_2() {
    assert_eq!(drctl(&[]).code, 2);
    assert_eq!(drctl(&["explode"]).code, 2);
    assert_eq!(
        drctl(&[
            "status",
            "not-a-uuid",
            "--plan",
            "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00"
        ])
        .code,
        2
    );
    assert_eq!(drctl(&["--help"]).code, 0);
}

#[test]
fn names_with_control_or_bidi_characters_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.json");
    let plan = json!({
        "planId": "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
        "planName": "drill\u{1b}[31m",
        "waves": [
            {"waveName": "データベース", "servers": [server(1)]},
            {"waveName": "app\nWave 9", "servers": [
                {"sourceServerId": "s-00000000000000002", "serverName": "web\u{202e}10"}
            ]}
        ]
    });
    std::fs::write(&path, plan.to_string()).unwrap();
    let run = drctl(&["validate", "--json", path.to_str().unwrap()]);
    assert_eq!(
        run.code, 0,
        "a warning does not fail the plan: {}",
        run.stderr
    );
    assert_eq!(
        run.json()["warnings"],
        json!([
            "planName contains control or bidi characters (U+001B), which a terminal would act on instead of showing",
            "the name of wave 1 contains control or bidi characters (U+000A), which a terminal would act on instead of showing",
            "the name of server s-00000000000000002 contains control or bidi characters (U+202E), which a terminal would act on instead of showing"
        ])
    );
    let text = drctl(&["validate", path.to_str().unwrap()]);
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains(
            "  warning: the name of server s-00000000000000002 contains control or bidi characters (U+202E)"
        ),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains('\u{1b}') && !text.stdout.contains('\u{202e}'));
}

#[test]
fn a_plan_can_come_from_standard_input() {
    let text = std::fs::read_to_string(example("three-tier.json")).unwrap();
    let run = common::drctl_with(&["validate", "-"], &[], Some(&text));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("(3 waves, 7 servers) can run."),
        "{}",
        run.stdout
    );
}
