//! The AWS commands. With the `aws` feature: against moto (DynamoDB and Step Functions) with the
//! real adapters (needs MOTO_PORT; `make test` starts moto), and with no AWS configuration at all.
//! Without it (`cargo nextest run -p drctl --test aws`, as scripts/test.sh runs it): each answers
//! how to rebuild.

mod common;
// moto has no DRS: start's pre-flight asks this stand-in (the workspace tests' own).
#[cfg(feature = "aws")]
#[allow(dead_code)]
#[path = "../../../tests/drs_stub.rs"]
mod drs_stub;

/// The AWS commands, with arguments they accept.
fn aws_commands() -> Vec<Vec<String>> {
    let id = "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00";
    let plan = common::example("three-tier.json").display().to_string();
    let target = |cmd: &str| vec![cmd.to_owned(), id.to_owned(), "--plan".into(), id.into()];
    let wave = |cmd: &str| {
        let mut args = target(cmd);
        args.extend(["--wave".into(), "0".into()]);
        args
    };
    vec![
        vec!["start".into(), plan.clone()],
        target("status"),
        target("events"),
        target("pause"),
        target("resume"),
        target("cancel"),
        wave("retry"),
        wave("skip"),
        target("restart"),
        vec!["validate".into(), "--check-aws".into(), plan],
    ]
}

#[cfg(not(feature = "aws"))]
mod without_the_feature {
    use super::common::{drctl, example};

    /// Built without `aws`, an AWS command is still listed and answers with one line naming the
    /// flag to rebuild with, exit 2; nothing else changes.
    #[test]
    fn an_aws_command_says_how_to_rebuild_with_exit_2() {
        for args in super::aws_commands() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = drctl(&args);
            let name = if args[0] == "validate" {
                "validate --check-aws"
            } else {
                args[0]
            };
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(run.stdout, "", "{args:?}");
            assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
            assert!(
                run.stderr.contains(&format!("`{name}` talks to AWS"))
                    && run.stderr.contains("--features aws"),
                "{args:?}: {}",
                run.stderr
            );
            let mut json = args.clone();
            json.push("--json");
            let doc = drctl(&json).json();
            assert_eq!(
                (&doc["error"], &doc["exitCode"]),
                (&"INVALID_INPUT".into(), &2.into())
            );
        }
    }

    #[test]
    fn help_lists_the_aws_commands_and_the_flag() {
        let help = drctl(&["--help"]);
        assert_eq!(help.code, 0);
        for cmd in ["start", "status", "events", "restart"] {
            assert!(
                help.stdout.contains(&format!("\n  {cmd} ")),
                "{cmd}: {}",
                help.stdout
            );
        }
        assert!(
            help.stdout
                .contains("cargo install --locked --path crates/drctl --features aws"),
            "{}",
            help.stdout
        );
        // What needs no AWS works as before.
        let plan = example("three-tier.json");
        assert_eq!(drctl(&["validate", plan.to_str().unwrap()]).code, 0);
    }
}

/// drctl with nothing of AWS configured: no AWS_* variable but those given, an empty HOME (no
/// ~/.aws), IMDS off.
#[cfg(feature = "aws")]
mod unconfigured {
    use std::process::{Command, Stdio};

    use super::common::Run;

    fn drctl_bare(args: &[&str], env: &[(&str, &str)]) -> Run {
        let home = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_drctl"))
            .args(args)
            .env_clear()
            .env("HOME", home.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("EXECUTIONS_TABLE", "drctl-executions")
            .env(
                "STATE_MACHINE_ARN",
                "arn:aws:states:us-east-1:123456789012:stateMachine:drctl",
            )
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }

    fn assert_one_line(env: &[(&str, &str)], expected: &str) {
        for args in super::aws_commands() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = drctl_bare(&args, env);
            assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
            assert_eq!(run.stderr, format!("drctl: {expected}\n"), "{args:?}");
            assert_eq!(run.stdout, "", "{args:?}");
        }
    }

    #[test]
    fn no_credentials_is_one_line_naming_the_fix_exit_2() {
        let expected = "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`";
        assert_one_line(&[], expected);
        assert_one_line(&[("AWS_REGION", "us-east-1")], expected);
        let json = drctl_bare(
            &[
                "status",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
                "--plan",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
                "--json",
            ],
            &[],
        )
        .json();
        assert_eq!(json["exitCode"], 2);
        assert_eq!(json["message"], expected);
    }

    #[test]
    fn a_profile_without_credentials_is_named() {
        let run = drctl_bare(
            &[
                "status",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
                "--plan",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            ],
            &[("AWS_PROFILE", "ops"), ("AWS_REGION", "us-east-1")],
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("no AWS credentials found for profile `ops`"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn no_region_is_one_line_naming_the_fix_exit_2() {
        assert_one_line(
            &[("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing")],
            "no AWS region set: set AWS_REGION (e.g. AWS_REGION=us-east-1), or give your AWS profile a region",
        );
    }
}

#[cfg(feature = "aws")]
mod on_moto {
    use super::common::{drctl_with, example, Run};
    use serde_json::{json, Value};

    fn moto_endpoint() -> String {
        match std::env::var("MOTO_PORT") {
        Ok(port) if !port.trim().is_empty() => format!("http://127.0.0.1:{}", port.trim()),
        _ => panic!(
            "MOTO_PORT is not set: this test runs drctl against a moto server. Run `make test` (scripts/test.sh starts moto), \
             or `scripts/moto.sh start` and set MOTO_PORT=$(cat target/moto.port)"
        ),
    }
    }

    fn sdk_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
        aws_sdk_dynamodb::config::Builder::new()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .endpoint_url(endpoint)
    }

    /// A fresh table and state machine in moto, and the environment drctl reads them from.
    async fn deployment() -> (Vec<(&'static str, String)>, aws_sdk_sfn::Client) {
        let endpoint = moto_endpoint();
        let suffix = execution_core::ids::ExecutionId::new_random().to_string();
        let table = format!("drctl-{suffix}");
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(sdk_config(&endpoint).build());
        aws_adapters::create_table(&dynamodb, &table, "status-index")
            .await
            .unwrap();
        let sfn_conf = aws_sdk_sfn::config::Builder::new()
            .behavior_version(aws_sdk_sfn::config::BehaviorVersion::latest())
            .region(aws_sdk_sfn::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sfn::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .endpoint_url(&endpoint)
            .build();
        let sfn = aws_sdk_sfn::Client::from_conf(sfn_conf);
        let machine = sfn
            .create_state_machine()
            .name(format!("drctl-{suffix}"))
            .definition(r#"{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}"#)
            .role_arn("arn:aws:iam::123456789012:role/drctl-test")
            .send()
            .await
            .unwrap();
        // Every server DRS is asked about replicates continuously, in no job.
        let drs = super::drs_stub::DrsStub::serve(|operation, request| match operation {
            "DescribeSourceServers" => super::drs_stub::replicating(request),
            other => super::drs_stub::unexpected(other),
        });
        let env = vec![
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ENDPOINT_URL_DRS", drs.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ("EXECUTIONS_TABLE", table),
            ("STATE_MACHINE_ARN", machine.state_machine_arn),
        ];
        (env, sfn)
    }

    fn run(env: &[(&str, String)], args: &[&str]) -> Run {
        drctl_with(args, env, None)
    }

    #[tokio::test]
    async fn an_execution_started_on_aws_can_be_read_and_operated() {
        let (env, sfn) = deployment().await;
        let plan = example("three-tier.json");
        let started = run(
            &env,
            &[
                "start",
                plan.to_str().unwrap(),
                "--poll-interval",
                "15",
                "--json",
            ],
        );
        assert_eq!(started.code, 0, "{}{}", started.stdout, started.stderr);
        let started = started.json();
        let id = started["executionId"].as_str().unwrap().to_owned();
        let plan_id = "4f9c2a1e-7b3d-4c5e-9f60-1a2b3c4d5e6f";
        assert_eq!(started["status"], "PENDING");

        // The state machine run is named after the execution and gets the workflow input.
        let run_arn = started["stateMachineExecutionArn"].as_str().unwrap();
        let described = sfn
            .describe_execution()
            .execution_arn(run_arn)
            .send()
            .await
            .unwrap();
        assert_eq!(described.name(), Some(id.as_str()));
        let input: Value = serde_json::from_str(described.input().unwrap()).unwrap();
        assert_eq!(
            input,
            json!({"executionId": id, "planId": plan_id, "pollIntervalSeconds": 15})
        );

        let status = run(&env, &["status", &id, "--plan", plan_id, "--json"]);
        assert_eq!(status.code, 0, "{}", status.stderr);
        let report = status.json();
        assert_eq!(report["status"], "PENDING");
        assert_eq!(report["waves"].as_array().unwrap().len(), 3);
        assert_eq!(report["waves"][1]["servers"].as_array().unwrap().len(), 3);
        let text = run(&env, &["status", &id, "--plan", plan_id]);
        assert!(
            text.stdout.contains("Wave 1 (app): PENDING"),
            "{}",
            text.stdout
        );

        // PENDING: an operator cannot pause or resume it yet, but can cancel it.
        let pause = run(&env, &["pause", &id, "--plan", plan_id, "--json"]);
        assert_eq!(pause.code, 2);
        assert_eq!(pause.json()["error"], "INVALID_STATE");
        let resume = run(&env, &["resume", &id, "--plan", plan_id]);
        assert_eq!(resume.code, 2);
        assert!(
            resume.stderr.contains("400 INVALID_STATE"),
            "{}",
            resume.stderr
        );
        let cancel = run(&env, &["cancel", &id, "--plan", plan_id, "--json"]);
        assert_eq!(cancel.code, 0, "{}", cancel.stderr);
        assert_eq!(
            cancel.json(),
            json!({"statusCode": 200, "executionId": id, "status": "CANCELLING", "workflowReleased": false})
        );
        let report = run(&env, &["status", &id, "--plan", plan_id, "--json"]).json();
        assert_eq!(report["status"], "CANCELLING");
        assert_eq!(report["events"].as_array().unwrap().len(), 2, "{report}");

        let wrong_plan = run(
            &env,
            &[
                "status",
                &id,
                "--plan",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            ],
        );
        assert_eq!(wrong_plan.code, 2);
        assert!(
            wrong_plan.stderr.contains("404 NOT_FOUND"),
            "{}",
            wrong_plan.stderr
        );
    }

    #[tokio::test]
    async fn missing_configuration_is_a_clear_exit_2() {
        let (mut env, _) = deployment().await;
        env.retain(|(k, _)| *k != "STATE_MACHINE_ARN");
        let plan = example("three-tier.json");
        let started = run(&env, &["start", plan.to_str().unwrap()]);
        assert_eq!(started.code, 2);
        assert!(
            started.stderr.contains("STATE_MACHINE_ARN is not set"),
            "{}",
            started.stderr
        );
        env.push(("EXECUTIONS_TABLE", String::new()));
        let status = run(
            &env,
            &[
                "status",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
                "--plan",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            ],
        );
        assert_eq!(status.code, 2);
        assert!(
            status.stderr.contains("EXECUTIONS_TABLE"),
            "{}",
            status.stderr
        );
    }

    #[tokio::test]
    async fn an_unreachable_aws_is_exit_4() {
        let (mut env, _) = deployment().await;
        env.retain(|(k, _)| *k != "AWS_ENDPOINT_URL");
        env.push(("AWS_ENDPOINT_URL", "http://127.0.0.1:9".to_owned()));
        let status = run(
            &env,
            &[
                "status",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
                "--plan",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
            ],
        );
        assert_eq!(status.code, 4, "{}", status.stderr);
    }

    /// An execution of the three-tier plan whose wave 0 FAILED (one server did not launch) and that
    /// stands PAUSED for a decision, stored in the deployment's table.
    async fn failed_and_paused(env: &[(&str, String)]) -> (String, String) {
        use execution_core::model::{Timestamp, WaveFailure, WaveJob};
        use execution_core::ports::ExecutionStore;
        use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};

        let var = |k: &str| env.iter().find(|(n, _)| *n == k).unwrap().1.clone();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(sdk_config(&moto_endpoint()).build());
        let store = aws_adapters::DynamoDbStore::new(
            dynamodb,
            var("EXECUTIONS_TABLE"),
            "status-index".to_owned(),
        );
        let plan: execution_core::plan::Plan =
            serde_json::from_str(&std::fs::read_to_string(example("three-tier.json")).unwrap())
                .unwrap();
        let id = execution_core::ids::ExecutionId::new_random();
        let mut e = plan.new_execution(id, Timestamp(1_767_225_600)).unwrap();
        e.header.status = ExecutionStatus::Paused;
        e.header.start_time = Some(Timestamp(1_767_225_660));
        e.header.pause_reason = Some(execution_core::model::PauseReason::WaveFailed);
        e.header.failed_wave = Some(0);
        let job = execution_core::ids::JobId::parse("drsjob-0a1b2c3d4e5f6a7b8").unwrap();
        let wave = &mut e.waves[0];
        wave.status = WaveStatus::Failed;
        wave.attempt = 1;
        wave.launch_attempts = 1;
        wave.launch_time = Some(Timestamp(1_767_225_660));
        wave.attempt_time = wave.launch_time;
        wave.end_time = Some(Timestamp(1_767_226_260));
        wave.failure_reason = Some(WaveFailure::ServersFailed);
        wave.status_message =
            Some("1 of 2 critical servers did not launch (1 FAILED, 0 TERMINATED)".into());
        wave.jobs.push(WaveJob {
            created_time: None,
            ended_time: None,
            job_id: job.clone(),
            attempt: 1,
            part: 0,
            recorded_time: Timestamp(1_767_225_660),
        });
        for (s, status) in wave
            .server_statuses
            .iter_mut()
            .zip([LaunchStatus::Failed, LaunchStatus::Launched])
        {
            s.job_id = Some(job.clone());
            s.launch_status = status;
        }
        store.create(&e, &[]).await.unwrap();
        (id.to_string(), plan.plan_id.to_string())
    }

    #[tokio::test]
    async fn a_failed_wave_can_be_retried_or_skipped_from_the_command_line() {
        let (env, _) = deployment().await;

        let (id, plan_id) = failed_and_paused(&env).await;
        let status = run(&env, &["status", &id, "--plan", &plan_id]);
        assert!(
        status.stdout.contains(&format!(
            "Waiting for a decision on failed wave 0: drctl retry|skip {id} --plan {plan_id} --wave 0"
        )),
        "{}",
        status.stdout
    );
        let resume = run(&env, &["resume", &id, "--plan", &plan_id, "--json"]);
        assert_eq!(resume.code, 2);
        assert_eq!(resume.json()["error"], "INVALID_STATE");
        let wrong = run(&env, &["retry", &id, "--plan", &plan_id, "--wave", "1"]);
        assert_eq!(wrong.code, 2);
        assert!(
            wrong.stderr.contains("400 INVALID_STATE"),
            "{}",
            wrong.stderr
        );

        let retried = run(&env, &["retry", &id, "--plan", &plan_id, "--wave", "0"]);
        assert_eq!(retried.code, 0, "{}", retried.stderr);
        assert_eq!(
            retried.stdout.trim(),
            format!("Execution {id}: POLLING (wave 0 LAUNCHING, attempt 2)")
        );
        let report = run(&env, &["status", &id, "--plan", &plan_id, "--json"]).json();
        assert_eq!(report["status"], "POLLING");
        assert_eq!(report["waves"][0]["status"], "LAUNCHING");
        assert_eq!(report["waves"][0]["attempts"], 2);
        assert_eq!(
            report["waves"][0]["servers"][1]["launchStatus"], "LAUNCHED",
            "a launched server keeps its launch"
        );

        let (id, plan_id) = failed_and_paused(&env).await;
        let skipped = run(
            &env,
            &["skip", &id, "--plan", &plan_id, "--wave", "0", "--json"],
        );
        assert_eq!(skipped.code, 0, "{}", skipped.stderr);
        assert_eq!(
            skipped.json(),
            json!({"statusCode": 200, "executionId": id, "status": "POLLING", "waveNumber": 0, "waveStatus": "SKIPPED", "attempt": 1, "workflowReleased": false})
        );
        let report = run(&env, &["status", &id, "--plan", &plan_id, "--json"]).json();
        assert_eq!(report["failures"][0]["status"], "SKIPPED");
    }

    /// moto's caller identity for the test credentials.
    const MOTO_CALLER: &str = "arn:aws:sts::123456789012:user/moto";

    /// The trail of an execution drctl started and cancelled on AWS: both changes are the caller
    /// identity's (STS GetCallerIdentity), and `drctl events` reads every page of it.
    #[tokio::test]
    async fn events_shows_the_trail_with_the_caller_identity_as_actor() {
        let (env, _) = deployment().await;
        let plan = example("three-tier.json");
        let started = run(&env, &["start", plan.to_str().unwrap(), "--json"]);
        assert_eq!(started.code, 0, "{}", started.stderr);
        let started = started.json();
        assert_eq!(started["statusCode"], 200);
        assert_eq!(started["workflowRun"], started["stateMachineExecutionArn"]);
        let id = started["executionId"].as_str().unwrap().to_owned();
        let plan_id = started["planId"].as_str().unwrap().to_owned();
        let cancel = run(&env, &["cancel", &id, "--plan", &plan_id]);
        assert_eq!(cancel.code, 0, "{}", cancel.stderr);

        let events = run(&env, &["events", &id, "--plan", &plan_id, "--json"]);
        assert_eq!(events.code, 0, "{}", events.stderr);
        let doc = events.json();
        assert_eq!(
            (&doc["statusCode"], &doc["executionId"]),
            (&json!(200), &json!(id))
        );
        assert!(doc.get("nextToken").is_none(), "every page was read");
        let trail = doc["events"].as_array().unwrap();
        let me = json!({"type": "cli", "id": MOTO_CALLER});
        let what: Vec<(&Value, &Value, &Value)> = trail
            .iter()
            .map(|e| (&e["operation"], &e["actor"], &e["execution"]))
            .collect();
        assert_eq!(
            what,
            [
                (&json!("start"), &me, &json!({"to": "PENDING"})),
                (
                    &json!("cancel"),
                    &me,
                    &json!({"from": "PENDING", "to": "CANCELLING"})
                ),
            ]
        );

        let text = run(&env, &["events", &id, "--plan", &plan_id]);
        assert_eq!(text.code, 0, "{}", text.stderr);
        let lines: Vec<&str> = text.stdout.lines().collect();
        assert_eq!(
            lines[0],
            format!("Execution {id} of plan {plan_id}: 2 events")
        );
        assert!(
            lines[2].ends_with(&format!(
                " [cancel by drctl as {MOTO_CALLER}] Execution moved from PENDING to CANCELLING (cancel)."
            )),
            "{}",
            text.stdout
        );
        let status = run(&env, &["status", &id, "--plan", &plan_id]);
        assert!(
            status.stdout.contains("Trail (2 events, oldest first):"),
            "{}",
            status.stdout
        );

        let elsewhere = run(
            &env,
            &[
                "events",
                &id,
                "--plan",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
                "--json",
            ],
        );
        assert_eq!(elsewhere.code, 2);
        assert_eq!(elsewhere.json()["error"], "NOT_FOUND");
        let unknown = run(
            &env,
            &[
                "events",
                "6f1c1f0e-8a5b-4c1e-9d4e-2b7a4c9d1e00",
                "--plan",
                &plan_id,
            ],
        );
        assert_eq!(unknown.code, 2);
        assert!(
            unknown.stderr.starts_with("drctl: 404 NOT_FOUND: "),
            "{}",
            unknown.stderr
        );
    }

    /// start goes through the core's start: when the state machine cannot start, the new execution
    /// is cancelled at once and the answer says so (exit 4), nothing left PENDING.
    #[tokio::test]
    async fn a_start_whose_state_machine_cannot_start_cancels_the_execution() {
        let (mut env, _) = deployment().await;
        env.retain(|(k, _)| *k != "STATE_MACHINE_ARN");
        env.push((
            "STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:no-such-machine".to_owned(),
        ));
        let plan = example("three-tier.json");
        let started = run(&env, &["start", plan.to_str().unwrap(), "--json"]);
        assert_eq!(started.code, 4, "{}{}", started.stdout, started.stderr);
        let answer = started.json();
        assert_eq!(answer["statusCode"], 500, "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(
            message.contains("the workflow could not start")
                && message.contains("was cancelled and nothing was launched"),
            "{message}"
        );
        let id = message
            .split("execution ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        let plan_id = "4f9c2a1e-7b3d-4c5e-9f60-1a2b3c4d5e6f";
        let report = run(&env, &["status", id, "--plan", plan_id, "--json"]).json();
        assert_eq!(report["status"], "CANCELLED", "{report}");
        let operations: Vec<&str> = report["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["operation"].as_str().unwrap())
            .collect();
        assert_eq!(operations[0], "start");
        assert_eq!(operations.last(), Some(&"start"), "{operations:?}");

        let text = run(&env, &["start", plan.to_str().unwrap()]);
        assert_eq!(text.code, 4);
        assert_eq!(text.stderr.lines().count(), 1, "{}", text.stderr);
        assert!(text.stderr.starts_with("drctl: 500 "), "{}", text.stderr);
    }

    /// `drctl restart` is not an operation of the API, yet its change is recorded like one: as
    /// the caller identity's `restart`.
    #[tokio::test]
    async fn a_restart_is_in_the_trail_as_the_caller_s() {
        let (env, sfn) = deployment().await;
        let plan = example("three-tier.json");
        let started = run(&env, &["start", plan.to_str().unwrap(), "--json"]).json();
        let id = started["executionId"].as_str().unwrap().to_owned();
        let plan_id = started["planId"].as_str().unwrap().to_owned();
        sfn.stop_execution()
            .execution_arn(started["workflowRun"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        let restarted = run(&env, &["restart", &id, "--plan", &plan_id]);
        assert_eq!(restarted.code, 0, "{}", restarted.stderr);
        let doc = run(&env, &["events", &id, "--plan", &plan_id, "--json"]).json();
        let last = doc["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (&last["operation"], &last["actor"]),
            (
                &json!("restart"),
                &json!({"type": "cli", "id": MOTO_CALLER})
            )
        );
        assert!(
            last["notes"]
                .as_array()
                .unwrap()
                .contains(&json!("workflow restarted")),
            "{last}"
        );
    }
}
