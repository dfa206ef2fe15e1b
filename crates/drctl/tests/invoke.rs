//! `drctl invoke` against examples/world.json: every operation and its error paths, answered
//! exactly as the Lambda would answer.

mod common;

use std::path::{Path, PathBuf};

use common::{drctl, drctl_with, example, Run};
use serde_json::{json, Value};

/// In examples/world.json: A is POLLING with wave 0 STARTED (its DRS job has launched both
/// servers), B is PAUSED before wave 1 holding a WAITING token, C is POLLING with every wave
/// COMPLETED, D is PENDING, E is PAUSED because its wave 1 FAILED (policy PAUSE), holding a
/// WAITING token until a retry, skip or cancel.
const A: (&str, &str) = (
    "0a7e6b1c-3d2f-4e5a-9b8c-7d6e5f4a3b21",
    "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
);
const B: (&str, &str) = (
    "1b8f7c2d-4e3a-4b6c-8d9e-0f1a2b3c4d5e",
    "6d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a",
);
const C: (&str, &str) = (
    "2c9a8d3e-5f4b-4c7d-9e0f-1a2b3c4d5e6f",
    "7e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5a6b",
);
const D: (&str, &str) = (
    "3d0b9e4f-6a5c-4d8e-8f1a-2b3c4d5e6f70",
    "8f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c",
);
const E: (&str, &str) = (
    "5f3e2d1c-0b9a-4c8d-9e7f-6a5b4c3d2e1f",
    "4c3b2a19-8f7e-4d6c-9b5a-3f2e1d0c9b8a",
);
const TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAexample-pause-token";
const FAILURE_TOKEN: &str = "AAAAKgAAAAIAAAAAAAAAAexample-failure-token";

/// A private copy of the example world.
fn world() -> (tempfile::TempDir, PathBuf) {
    copy_of(&example("world.json"))
}

fn copy_of(file: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    std::fs::copy(file, &path).unwrap();
    (dir, path)
}

fn payload(op: &str, (e, p): (&str, &str)) -> String {
    json!({"operation": op, "executionId": e, "planId": p}).to_string()
}

fn on_wave(op: &str, (e, p): (&str, &str), wave: u32) -> String {
    json!({"operation": op, "executionId": e, "planId": p, "waveNumber": wave}).to_string()
}

fn invoke(world: &Path, payload: &str, write: bool) -> Run {
    let mut args = vec!["invoke", "--world", world.to_str().unwrap(), payload];
    if write {
        args.push("--write");
    }
    drctl(&args)
}

fn ok(world: &Path, payload: &str, write: bool) -> Value {
    let run = invoke(world, payload, write);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let answer = run.json();
    assert_eq!(answer["statusCode"], 200, "{answer}");
    answer
}

fn error(world: &Path, payload: &str) -> (i32, Value) {
    let run = invoke(world, payload, false);
    let answer = run.json();
    assert_eq!(
        answer.as_object().unwrap().len(),
        3,
        "the error shape is statusCode, error, message: {answer}"
    );
    assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    (run.code, answer)
}

fn saved(world: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(world).unwrap()).unwrap()
}

fn record<'a>(world: &'a Value, id: &str) -> &'a Value {
    world["executions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["executionId"] == id)
        .unwrap()
}

#[test]
fn poll_completes_the_wave_from_drs_and_ec2() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("poll", A), false);
    assert_eq!(
        answer["status"], "POLLING",
        "poll never changes the execution's status"
    );
    assert_eq!(answer["allWavesComplete"], false);
    assert_eq!(answer["nextAction"], "PAUSE");
    let wave = &answer["waves"][0];
    assert_eq!(wave["status"], "COMPLETED");
    assert_eq!(wave["recoveryTimeSeconds"], 600);
    let servers = wave["serverStatuses"].as_array().unwrap();
    assert_eq!(servers[0]["recoveryInstanceId"], "i-0123456789abcdef0");
    assert_eq!(servers[0]["privateIp"], "10.0.1.10");
    // The job named no recovery instance for the replica: DescribeRecoveryInstances did.
    assert_eq!(servers[1]["recoveryInstanceId"], "i-0fedcba9876543210");
    assert_eq!(servers[1]["instanceId"], "i-0fedcba9876543210");
    assert_eq!(servers[1]["hostname"], "ip-10-0-1-11.ec2.internal");
    assert_eq!(servers[1]["instanceType"], "r5.xlarge");
    assert_eq!(servers[1]["instanceState"], "running");

    let summary = ok(
        &w,
        &json!({"operation": "poll", "executionId": A.0, "planId": A.1, "summary": true})
            .to_string(),
        false,
    );
    assert_eq!(
        summary["waves"][0],
        json!({"waveNumber": 0, "status": "COMPLETED", "jobIds": ["drsjob-0a1b2c3d4e5f6a7b8"], "attempt": 1, "serversTotal": 2, "serversLaunched": 2, "serversFailed": 0})
    );
}

#[test]
fn without_write_the_world_file_is_left_alone() {
    let (_dir, w) = world();
    let before = std::fs::read(&w).unwrap();
    ok(&w, &payload("poll", A), false);
    ok(&w, &payload("cancel", A), false);
    assert_eq!(std::fs::read(&w).unwrap(), before);
}

#[test]
fn find_polls_every_polling_execution() {
    let (_dir, w) = world();
    let answer = ok(&w, r#"{"operation": "find"}"#, true);
    assert_eq!(
        (
            answer["executionsFound"].as_u64(),
            answer["executionsPolled"].as_u64()
        ),
        (Some(2), Some(2))
    );
    let mut polled: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["executionId"].as_str().unwrap())
        .collect();
    polled.sort_unstable();
    assert_eq!(polled, [A.0, C.0]);
    assert!(answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["success"] == true && r["status"] == "POLLING"));
    let saved = saved(&w);
    assert_eq!(
        record(&saved, A.0)["waves"][0]["status"],
        "COMPLETED",
        "find's polls were written"
    );
    assert_eq!(record(&saved, A.0)["lastPolledTime"], 1_767_229_200);
}

#[test]
fn finalize_writes_the_terminal_status_once() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("finalize", C), true);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": C.0, "status": "COMPLETED", "totalWaves": 1, "alreadyFinalized": false, "recoveryTimeSeconds": 660})
    );
    assert_eq!(record(&saved(&w), C.0)["endTime"], 1_767_229_200);
    let again = ok(&w, &payload("finalize", C), true);
    assert_eq!(again["alreadyFinalized"], true);
    assert_eq!(again["status"], "COMPLETED");
}

#[test]
fn an_operator_pause_stands_before_the_next_wave() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("pause", A), true);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": A.0, "status": "PAUSED", "pausedBeforeWave": 1, "pauseReason": "OPERATOR"})
    );
    assert_eq!(record(&saved(&w), A.0)["status"], "PAUSED");
}

#[test]
fn a_workflow_pause_holds_its_token() {
    let (_dir, w) = world();
    ok(&w, &payload("poll", A), true);
    let p = json!({"operation": "pause", "executionId": A.0, "planId": A.1, "taskToken": "token-from-the-state-machine"}).to_string();
    let answer = ok(&w, &p, true);
    assert_eq!(answer["status"], "PAUSED");
    assert_eq!(
        record(&saved(&w), A.0)["taskToken"]["token"],
        "token-from-the-state-machine"
    );
}

#[test]
fn resume_releases_the_waiting_workflow_and_launch_starts_the_next_wave() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("resume", B), true);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": B.0, "status": "POLLING", "resumedBeforeWave": 1, "workflowReleased": true})
    );
    let after_resume = saved(&w);
    assert_eq!(after_resume["sfn"]["tokens"][TOKEN], "SUCCEEDED");
    let b = record(&after_resume, B.0);
    assert_eq!(b["status"], "POLLING");
    assert!(
        b.get("taskToken").is_none(),
        "the released token is no longer held"
    );
    assert_eq!(b["waves"][1]["pauseApproved"], true);

    let launched = ok(&w, &payload("launch", B), true);
    assert_eq!(
        (
            launched["waveNumber"].as_u64(),
            launched["waveStatus"].as_str()
        ),
        (Some(1), Some("STARTED"))
    );
    let job_id = launched["jobIds"][0].as_str().unwrap();
    let after_launch = saved(&w);
    let jobs = after_launch["drs"]["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4);
    assert_eq!(jobs[3]["jobID"], job_id);
    assert_eq!(jobs[3]["status"], "PENDING");
    assert_eq!(
        jobs[3]["tags"],
        json!({"executionId": B.0, "waveNumber": "1", "attempt": "1", "part": "0"})
    );
    assert_eq!(
        jobs[3]["participatingServers"][0]["sourceServerID"],
        "s-6f7a8b9c0d1e2f3a4"
    );
    let wave = &record(&after_launch, B.0)["waves"][1];
    assert_eq!(wave["jobs"][0]["jobId"], job_id);
    assert_eq!(wave["serverStatuses"][0]["jobId"], job_id);
}

#[test]
fn launch_takes_a_pending_execution_to_polling() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("launch", D), true);
    assert_eq!(answer["status"], "POLLING");
    assert_eq!(answer["recovered"], false);
    let d = record(&saved(&w), D.0).clone();
    assert_eq!(d["status"], "POLLING");
    assert_eq!(d["startTime"], 1_767_229_200);
    // The static world does not progress: the wave waits for its job.
    let polled = ok(&w, &payload("poll", D), false);
    assert_eq!(polled["nextAction"], "WAIT");
    assert_eq!(
        polled["waves"][0]["serverStatuses"][0]["launchStatus"],
        "PENDING"
    );
}

#[test]
fn cancel_moves_to_cancelling_and_releases_a_held_token() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("cancel", A), true);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": A.0, "status": "CANCELLING", "workflowReleased": false})
    );
    let answer = ok(&w, &payload("cancel", B), true);
    assert_eq!(answer["workflowReleased"], true);
    assert_eq!(saved(&w)["sfn"]["tokens"][TOKEN], "SUCCEEDED");
}

#[test]
fn a_token_the_workflow_no_longer_accepts_still_resumes_and_the_record_says_so() {
    let (_dir, w) = world();
    let mut doc = saved(&w);
    doc["sfn"]["tokens"][TOKEN] = json!("FAILED");
    std::fs::write(&w, doc.to_string()).unwrap();
    let run = invoke(&w, &payload("resume", B), true);
    assert_eq!(run.code, 0);
    let answer = run.json();
    assert_eq!(
        (
            answer["statusCode"].as_u64(),
            answer["workflowReleased"].as_bool()
        ),
        (Some(200), Some(false))
    );
    let b = record(&saved(&w), B.0).clone();
    assert_eq!(b["status"], "POLLING");
    assert!(b["statusMessage"]
        .as_str()
        .unwrap()
        .contains("no longer accepted its task token"));
}

#[test]
fn every_error_path_answers_with_the_error_shape() {
    let (_dir, w) = world();
    let cases = [
        (
            json!({"operation": "poll", "planId": A.1}).to_string(),
            400,
            "MISSING_PARAMETER",
        ),
        (
            json!({"executionId": A.0, "planId": A.1}).to_string(),
            400,
            "MISSING_PARAMETER",
        ),
        (
            json!({"operation": "poll", "executionId": "uuid", "planId": A.1}).to_string(),
            400,
            "INVALID_PARAMETER",
        ),
        (
            json!({"operation": "explode"}).to_string(),
            400,
            "INVALID_PARAMETER",
        ),
        ("not json".to_owned(), 400, "INVALID_PARAMETER"),
        ("[1, 2]".to_owned(), 400, "INVALID_PARAMETER"),
        (
            payload("poll", ("6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00", A.1)),
            404,
            "NOT_FOUND",
        ),
        (payload("poll", (A.0, B.1)), 404, "NOT_FOUND"),
        (payload("resume", A), 400, "INVALID_STATE"),
        (payload("finalize", A), 400, "INVALID_STATE"),
        (payload("launch", A), 400, "INVALID_STATE"),
        (payload("pause", D), 400, "INVALID_STATE"),
        (payload("resume", E), 400, "INVALID_STATE"),
        (on_wave("retry", A, 0), 400, "INVALID_STATE"),
        (on_wave("skip", E, 0), 400, "INVALID_STATE"),
        (on_wave("retry", E, 7), 400, "INVALID_STATE"),
        (payload("retry", E), 400, "MISSING_PARAMETER"),
        (on_wave("skip", E, 100), 400, "INVALID_PARAMETER"),
    ];
    for (p, status, code) in cases {
        let (exit, answer) = error(&w, &p);
        assert_eq!(
            (answer["statusCode"].as_u64(), answer["error"].as_str()),
            (Some(status), Some(code)),
            "{p}: {answer}"
        );
        assert_eq!(exit, 2, "{p}");
    }
    let (_, answer) = error(&w, &payload("finalize", A));
    assert!(
        answer["message"].as_str().unwrap().contains("0 (STARTED)"),
        "names the unfinished wave: {answer}"
    );
}

#[test]
fn the_payload_can_come_from_a_file_or_stdin() {
    let (dir, w) = world();
    let file = dir.path().join("payload.json");
    std::fs::write(&file, payload("poll", A)).unwrap();
    let at_file = format!("@{}", file.display());
    assert_eq!(ok(&w, &at_file, false)["nextAction"], "PAUSE");
    let run = drctl_with(
        &["invoke", "--world", w.to_str().unwrap(), "-"],
        &[],
        Some(&payload("poll", C)),
    );
    assert_eq!(run.code, 0);
    assert_eq!(run.json()["nextAction"], "FINALIZE");
}

#[test]
fn a_broken_world_is_exit_2_with_the_reason() {
    let (dir, w) = world();
    std::fs::write(&w, r#"{"now": 1, "executons": []}"#).unwrap();
    let run = invoke(&w, r#"{"operation": "find"}"#, false);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown field `executons`"),
        "{}",
        run.stderr
    );
    let missing = dir.path().join("nope.json");
    assert_eq!(invoke(&missing, r#"{"operation": "find"}"#, false).code, 2);
}

#[test]
fn retry_starts_a_new_attempt_of_the_failed_wave_for_the_servers_that_did_not_launch() {
    let (_dir, w) = world();
    let answer = ok(&w, &on_wave("retry", E, 1), true);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": E.0, "status": "POLLING", "waveNumber": 1, "waveStatus": "LAUNCHING", "attempt": 2, "workflowReleased": true})
    );
    let after = saved(&w);
    assert_eq!(after["sfn"]["tokens"][FAILURE_TOKEN], "SUCCEEDED");
    let e = record(&after, E.0);
    assert!(e.get("pauseReason").is_none() && e.get("failedWave").is_none());

    // poll asks for the launch, which starts attempt 2 for the two servers that did not launch.
    assert_eq!(ok(&w, &payload("poll", E), false)["nextAction"], "LAUNCH");
    let launched = ok(&w, &payload("launch", E), true);
    assert_eq!(
        (
            launched["waveNumber"].as_u64(),
            launched["waveStatus"].as_str()
        ),
        (Some(1), Some("STARTED"))
    );
    let after = saved(&w);
    let job = &after["drs"]["jobs"].as_array().unwrap()[3];
    assert_eq!(
        job["tags"],
        json!({"executionId": E.0, "waveNumber": "1", "attempt": "2", "part": "0"})
    );
    let relaunched: Vec<&str> = job["participatingServers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sourceServerID"].as_str().unwrap())
        .collect();
    assert_eq!(relaunched, ["s-cc3d4e5f6a7b8192a", "s-dd4e5f6a7b8c92a3b"]);
    let wave = &record(&after, E.0)["waves"][1];
    assert_eq!(wave["attempt"], 2);
    assert_eq!(wave["jobs"].as_array().unwrap().len(), 2);
    let api = &wave["serverStatuses"][0];
    assert_eq!(
        (api["launchStatus"].as_str(), api["instanceId"].as_str()),
        (Some("LAUNCHED"), Some("i-0f2a3b4c5d6e70859")),
        "a server that launched keeps its instance"
    );
    // The same retry again (a double click) stands as it is: same attempt, no new job.
    let again = ok(&w, &on_wave("retry", E, 1), true);
    assert_eq!(
        (again["attempt"].as_u64(), again["waveStatus"].as_str()),
        (Some(2), Some("STARTED"))
    );
    assert_eq!(saved(&w)["drs"]["jobs"].as_array().unwrap().len(), 4);
    // A skip of it now is refused: the wave no longer waits on a decision.
    let (code, answer) = error(&w, &on_wave("skip", E, 1));
    assert_eq!((code, answer["error"].as_str()), (2, Some("INVALID_STATE")));
}

#[test]
fn skip_passes_the_failed_wave_and_the_next_one_launches() {
    let (_dir, w) = world();
    let answer = ok(&w, &on_wave("skip", E, 1), true);
    assert_eq!(
        (
            answer["status"].as_str(),
            answer["waveStatus"].as_str(),
            answer["workflowReleased"].as_bool()
        ),
        (Some("POLLING"), Some("SKIPPED"), Some(true))
    );
    let polled = ok(&w, &payload("poll", E), false);
    assert_eq!(polled["nextAction"], "LAUNCH");
    let launched = ok(&w, &payload("launch", E), true);
    assert_eq!(launched["waveNumber"], 2);
}

#[test]
fn cancel_of_a_failed_wave_s_pause_finalizes_failed() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("cancel", E), true);
    assert_eq!(answer["workflowReleased"], true);
    assert_eq!(ok(&w, &payload("poll", E), false)["nextAction"], "FINALIZE");
    let done = ok(&w, &payload("finalize", E), true);
    assert_eq!(done["status"], "FAILED");
    assert_eq!(record(&saved(&w), E.0)["waves"][2]["status"], "CANCELLED");
}

/// A world written by version 1 (waves with one `jobId`, no `impact`, no `onFailure`, jobs tagged
/// without attempt and part) loads and runs as its executions were created: every server
/// CRITICAL, one job per wave, and a failed wave STOPs the execution.
#[test]
fn a_world_of_version_1_keeps_loading_and_running() {
    let v1 = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/world-v1.json");
    let (_dir, w) = copy_of(&v1);

    // poll: wave 0 completes from its one job, as in version 1.
    let polled = ok(&w, &payload("poll", A), true);
    assert_eq!(polled["waves"][0]["status"], "COMPLETED");
    assert_eq!(polled["nextAction"], "PAUSE");
    let a = record(&saved(&w), A.0).clone();
    assert_eq!(
        a["waves"][0]["jobs"][0]["jobId"],
        "drsjob-0a1b2c3d4e5f6a7b8"
    );
    assert_eq!(a["waves"][0]["attempt"], 1);
    assert!(a["waves"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|w| w["serverStatuses"].as_array().unwrap())
        .all(|s| s["impact"] == "CRITICAL"));

    // launch: a PENDING execution of version 1 starts as this version does.
    let launched = ok(&w, &payload("launch", D), true);
    assert_eq!(launched["waveStatus"], "STARTED");

    // finalize: a finished execution of version 1.
    assert_eq!(ok(&w, &payload("finalize", C), true)["status"], "COMPLETED");

    // resume: a paused execution of version 1 (no pauseReason) resumes.
    assert_eq!(ok(&w, &payload("resume", B), true)["status"], "POLLING");

    // A failed wave of version 1 STOPs: no pause for a decision, finalize writes FAILED.
    const F: (&str, &str) = (
        "4e1c0f5a-7b6d-4e9f-9a2b-3c4d5e6f7a81",
        "9a5b6c7d-8e9f-4a0b-9c2d-3e4f5a6b7c8d",
    );
    let polled = ok(&w, &payload("poll", F), true);
    assert_eq!(polled["waves"][0]["status"], "FAILED");
    assert_eq!(polled["waves"][0]["failureReason"], "SERVERS_FAILED");
    assert_eq!(polled["nextAction"], "FINALIZE");
    let (code, refused) = error(&w, &on_wave("retry", F, 0));
    assert_eq!(
        (code, refused["error"].as_str()),
        (2, Some("INVALID_STATE"))
    );
    let done = ok(&w, &payload("finalize", F), true);
    assert_eq!(done["status"], "FAILED");
    assert_eq!(record(&saved(&w), F.0)["waves"][1]["status"], "CANCELLED");
}

/// The world file's bytes and, on unix, which file it is (a rewrite makes a new one).
fn fingerprint(world: &Path) -> (Vec<u8>, u64) {
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(world).unwrap().ino()
    };
    #[cfg(not(unix))]
    let inode = 0;
    (std::fs::read(world).unwrap(), inode)
}

/// A private copy of the example world, with `edit` applied, written compactly (so that any
/// rewrite, which is pretty-printed, shows).
fn edited(edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, PathBuf) {
    let (dir, w) = world();
    let mut doc = saved(&w);
    edit(&mut doc);
    std::fs::write(&w, doc.to_string()).unwrap();
    (dir, w)
}

/// Issue 12: twenty `--write` invokes at once, one launch per execution of the same world, each
/// answered 200 while most launches were lost from the file. Every one must be in it.
#[test]
fn concurrent_writers_lose_no_update() {
    const N: usize = 20;
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("world.json");
    let plan = "7c1e2d3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
    let id = |i: usize| format!("00000000-0000-4000-8000-{i:012}");
    let executions: Vec<Value> = (0..N)
        .map(|i| {
            json!({
                "executionId": id(i), "planId": plan, "isDrill": true, "status": "PENDING",
                "createdTime": 1_767_229_000,
                "waves": [{"waveNumber": 0, "status": "PENDING", "timeoutSeconds": 3600,
                           "serverStatuses": [{"sourceServerId": format!("s-{i:017}"), "launchStatus": "PENDING"}]}]
            })
        })
        .collect();
    std::fs::write(
        &w,
        json!({"now": 1_767_229_200, "executions": executions}).to_string(),
    )
    .unwrap();

    let children: Vec<std::process::Child> = (0..N)
        .map(|i| {
            std::process::Command::new(env!("CARGO_BIN_EXE_drctl"))
                .args([
                    "invoke",
                    "--world",
                    w.to_str().unwrap(),
                    &payload("launch", (&id(i), plan)),
                    "--write",
                ])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let failed: Vec<String> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .filter(|out| !out.status.success())
        .map(|out| format!("{:?}: {}", out.status, String::from_utf8_lossy(&out.stderr)))
        .collect();
    assert_eq!(failed, Vec::<String>::new(), "every invoke exits 0");

    let after = saved(&w);
    for i in 0..N {
        let e = record(&after, &id(i));
        assert_eq!(
            (e["status"].as_str(), e["waves"][0]["status"].as_str()),
            (Some("POLLING"), Some("STARTED")),
            "execution {i}'s launch is in the file"
        );
    }
    let mut launched: Vec<&str> = after["drs"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["tags"]["executionId"].as_str().unwrap())
        .collect();
    launched.sort_unstable();
    assert_eq!(
        launched,
        (0..N).map(id).collect::<Vec<_>>(),
        "one job per launch"
    );
    let left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["world.json"], "no temporary file is left behind");
}

/// Issue 12: `"pauseBeforWave": true` was ignored (the planned pause skipped) and `--write`
/// deleted it.
#[test]
fn a_typo_in_an_execution_record_is_refused_and_the_file_kept() {
    let (_dir, w) = edited(|doc| doc["executions"][0]["waves"][1]["pauseBeforWave"] = json!(true));
    let before = fingerprint(&w);
    let run = invoke(&w, &payload("poll", A), true);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{}", run.stderr);
    assert_eq!(fingerprint(&w), before);
}

/// Issue 12: records that cannot be were run, and saved.
#[test]
fn an_impossible_world_is_refused_and_the_file_kept() {
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 5] = [
        ("no waves", |d| d["executions"][0]["waves"] = json!([])),
        ("a server in two waves", |d| {
            let s = d["executions"][0]["waves"][0]["serverStatuses"][0].clone();
            d["executions"][0]["waves"][1]["serverStatuses"] = json!([s]);
        }),
        ("waves out of order", |d| {
            d["executions"][0]["waves"]
                .as_array_mut()
                .unwrap()
                .swap(0, 1)
        }),
        ("now before the records were created", |d| {
            d["now"] = json!(1_767_222_000)
        }),
        ("now out of range", |d| d["now"] = json!(i64::MAX)),
    ];
    for (what, edit) in edits {
        let (_dir, w) = edited(edit);
        let before = fingerprint(&w);
        let run = invoke(&w, &payload("poll", A), true);
        assert_eq!(
            (run.code, run.stdout.as_str()),
            (2, ""),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(fingerprint(&w), before, "{what}");
    }
}

/// Issue 12: a refused request rewrote the file. Only a change is written.
#[test]
fn write_saves_only_what_changed() {
    let (_dir, w) = edited(|_| {});
    let before = fingerprint(&w);
    let (code, answer) = {
        let run = invoke(&w, &payload("resume", A), true);
        (run.code, run.json())
    };
    assert_eq!((code, answer["error"].as_str()), (2, Some("INVALID_STATE")));
    assert_eq!(fingerprint(&w), before, "a refusal that changed nothing");

    ok(&w, &payload("finalize", C), true);
    let finalized = fingerprint(&w);
    assert_ne!(finalized, before, "a change is written");
    assert_eq!(
        ok(&w, &payload("finalize", C), true)["alreadyFinalized"],
        true
    );
    assert_eq!(fingerprint(&w), finalized, "an answer that changed nothing");
}

/// Issue 12: `--write` replaced a symbolic link with a regular file.
#[cfg(unix)]
#[test]
fn write_goes_through_a_symlink_and_keeps_it() {
    let (dir, w) = world();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink("world.json", &link).unwrap();
    ok(&link, &payload("launch", D), true);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_link(&link).unwrap(),
        PathBuf::from("world.json")
    );
    assert_eq!(record(&saved(&w), D.0)["status"], "POLLING");
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Issue 12: `--write` turned the file's mode into the umask's.
#[cfg(unix)]
#[test]
fn write_keeps_the_file_mode() {
    let (_dir, w) = world();
    // A mode no usual umask gives a new file.
    set_mode(&w, 0o604);
    ok(&w, &payload("launch", D), true);
    assert_eq!(record(&saved(&w), D.0)["status"], "POLLING");
    assert_eq!(mode(&w), 0o604);
}

/// Issue 12: `--write` made a read-only world writable. It is refused (exit 2) and nothing runs.
#[cfg(unix)]
#[test]
fn write_refuses_a_read_only_world() {
    let (_dir, w) = world();
    set_mode(&w, 0o444);
    let before = fingerprint(&w);
    let run = invoke(&w, &payload("launch", D), true);
    assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{}", run.stderr);
    assert_eq!(fingerprint(&w), before);
    assert_eq!(mode(&w), 0o444);
    // Without --write it is read as ever.
    ok(&w, &payload("launch", D), false);
}

/// The answer cannot be printed (a full disk here; a closed pipe takes the same path): the
/// operation's change is saved all the same, and the exit code says the output failed.
#[test]
fn a_launch_whose_answer_cannot_be_printed_is_still_saved() {
    let (_dir, w) = world();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_drctl"))
        .args([
            "invoke",
            "--world",
            w.to_str().unwrap(),
            &payload("launch", D),
            "--write",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot write to standard output") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert_eq!(
        record(&saved(&w), D.0)["status"],
        "POLLING",
        "the launch is saved"
    );
}

/// The trail of `id` in the saved world (empty when the record has none).
fn trail(world: &Path, id: &str) -> Vec<Value> {
    record(&saved(world), id)
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// An invoke's change is recorded in the execution's trail as drctl's, offline (`local`), and
/// saved with the world: a resume appends exactly its one event, and `events` answers the trail.
#[test]
fn a_resume_appends_exactly_one_event_to_the_saved_trail() {
    let (_dir, w) = world();
    assert!(trail(&w, A.0).is_empty(), "the example has no trails");
    // An operator pause (no workflow waits at it: no task token to release on resume).
    ok(&w, &payload("pause", A), true);
    let paused = trail(&w, A.0);
    assert_eq!(paused.len(), 1, "{paused:?}");
    assert_eq!(paused[0]["decision"], "OPERATOR_PAUSE");

    ok(&w, &payload("resume", A), true);
    let events = trail(&w, A.0);
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], paused[0], "appended, the trail before it kept");
    let resumed = &events[1];
    assert_eq!(resumed["actor"], json!({"type": "cli", "id": "local"}));
    assert_eq!(resumed["operation"], "resume");
    assert_eq!(
        resumed["execution"],
        json!({"from": "PAUSED", "to": "POLLING"})
    );
    assert_eq!(resumed["executionId"], A.0);
    assert_eq!(resumed["time"], 1_767_229_200, "the world's clock");
    for other in [B, C, D, E] {
        assert!(
            trail(&w, other.0).is_empty(),
            "only A's trail grew: {}",
            other.0
        );
    }

    let answer = ok(&w, &payload("events", A), false);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": A.0, "events": events})
    );

    // A refusal that changed nothing appends nothing.
    let run = invoke(&w, &payload("resume", A), true);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert_eq!(trail(&w, A.0), events);
}

/// A resume that releases the waiting workflow makes two changes, so two events: the decision
/// (PAUSED → POLLING, the release decided), then the release (the token cleared).
#[test]
fn a_resume_that_releases_the_workflow_records_the_decision_and_the_release() {
    let (_dir, w) = world();
    ok(&w, &payload("resume", B), true);
    let events = trail(&w, B.0);
    let what: Vec<(&Value, &Value)> = events
        .iter()
        .map(|e| (&e["operation"], &e["execution"]))
        .collect();
    assert_eq!(
        what,
        [
            (
                &json!("resume"),
                &json!({"from": "PAUSED", "to": "POLLING"})
            ),
            (&json!("resume"), &Value::Null)
        ]
    );
    assert_eq!(events[1]["notes"], json!(["the workflow was released"]));
    assert!(
        !Value::Array(events.clone()).to_string().contains(TOKEN),
        "a trail never holds a task token"
    );
    ok(&w, &payload("launch", B), true);
    let after = trail(&w, B.0);
    assert_eq!(after[..2], events[..]);
    assert!(
        after[2..].iter().all(|e| e["operation"] == "launch"),
        "{after:?}"
    );
}

#[test]
fn a_poll_that_changes_nothing_appends_no_event() {
    let (_dir, w) = world();
    ok(&w, &payload("poll", A), true);
    let events = trail(&w, A.0);
    assert_eq!(
        events.len(),
        1,
        "the poll that completed wave 0: {events:?}"
    );
    assert_eq!(events[0]["actor"], json!({"type": "cli", "id": "local"}));
    assert_eq!(events[0]["operation"], "poll");
    assert_eq!(events[0]["waves"][0]["status"]["to"], "COMPLETED");
    let before = fingerprint(&w);
    ok(&w, &payload("poll", A), true);
    assert_eq!(trail(&w, A.0), events);
    assert_eq!(fingerprint(&w), before, "nothing changed, nothing saved");
    ok(&w, &payload("poll", C), true);
    assert!(trail(&w, C.0).is_empty());
}

#[test]
fn events_answers_an_empty_trail_and_refuses_another_plan() {
    let (_dir, w) = world();
    let answer = ok(&w, &payload("events", C), false);
    assert_eq!(
        answer,
        json!({"statusCode": 200, "executionId": C.0, "events": []})
    );
    let (code, answer) = error(&w, &payload("events", (C.0, A.1)));
    assert_eq!((code, answer["statusCode"].as_u64()), (2, Some(404)));
}

/// A trail that is not the record's own, or not in event-id order, is refused like any other
/// world that cannot be: exit 2, the path named, the file kept.
#[test]
fn a_trail_that_cannot_be_is_refused_and_the_file_kept() {
    let (_dir, w) = world();
    ok(&w, &payload("resume", B), true);
    ok(&w, &payload("launch", B), true);
    let events = trail(&w, B.0);
    type Edit = Box<dyn Fn(&mut Value)>;
    let b_index = 1;
    let cases: [(&str, &str, Edit); 3] = [
        (
            "another execution's events",
            "executions[0].events[0]",
            Box::new(move |d: &mut Value| d["executions"][0]["events"] = json!(events.clone())),
        ),
        (
            "ids out of order",
            "executions[1].events[1]",
            Box::new(move |d: &mut Value| {
                d["executions"][b_index]["events"]
                    .as_array_mut()
                    .unwrap()
                    .swap(0, 1)
            }),
        ),
        (
            "a typo in an event",
            "executions[1].events[0].operaton",
            Box::new(move |d: &mut Value| {
                d["executions"][b_index]["events"][0]["operaton"] = json!("resume")
            }),
        ),
    ];
    for (what, path, edit) in cases {
        let mut doc = saved(&w);
        edit(&mut doc);
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("world.json");
        std::fs::write(&copy, doc.to_string()).unwrap();
        let before = fingerprint(&copy);
        let run = invoke(&copy, &payload("poll", A), true);
        assert_eq!((run.code, run.stdout.as_str()), (2, ""), "{what}");
        assert!(
            run.stderr.contains(&format!("world file: {path}"))
                && run.stderr.contains("world.json"),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(fingerprint(&copy), before, "{what}");
    }
}
