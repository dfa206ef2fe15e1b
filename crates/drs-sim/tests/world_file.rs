//! The world file: examples/world.json loads, round-trips, and records what an operation changed.

use drs_sim::world_file::WorldFile;
use drs_sim::TokenState;
use execution_core::api::Target;
use execution_core::ids::{ExecutionId, PlanId};
use execution_core::ops;
use execution_core::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};

fn example() -> WorldFile {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/world.json"
    ))
    .unwrap();
    WorldFile::parse(&text).unwrap()
}

#[test]
fn the_example_loads_into_a_sim() {
    let file = example();
    let sim = file.to_sim().unwrap();
    assert_eq!(sim.clock.now().secs(), file.now);
    assert_eq!(sim.store.executions().len(), 5);
    assert_eq!(sim.world.jobs().len(), 3);
    assert_eq!(sim.world.recovery_instances().len(), 2);
    assert_eq!(sim.world.instances().len(), 2);
    assert_eq!(
        sim.workflow.tokens().values().copied().collect::<Vec<_>>(),
        [TokenState::Waiting; 2]
    );
    assert_eq!(
        sim.world.jobs()[0].created.secs(),
        1_767_228_600,
        "creationDateTime is read"
    );
}

#[test]
fn an_unchanged_world_round_trips_with_fields_it_does_not_use() {
    let file = example();
    let sim = file.to_sim().unwrap();
    let saved = file.updated(&sim);
    assert_eq!(saved, file);
    let json = serde_json::to_value(&saved).unwrap();
    assert_eq!(json["drs"]["jobs"][0]["initiatedBy"], "START_DRILL");
    assert_eq!(WorldFile::parse(&json.to_string()).unwrap(), file);
    assert!(
        json["executions"][1]["taskToken"]["token"].is_string(),
        "a held token is part of the record"
    );
}

#[tokio::test]
async fn a_launch_appends_its_job_and_the_saved_world_shows_it() {
    let file = example();
    let sim = file.to_sim().unwrap();
    let target = Target {
        execution_id: ExecutionId::parse("3d0b9e4f-6a5c-4d8e-8f1a-2b3c4d5e6f70").unwrap(),
        plan_id: PlanId::parse("8f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c").unwrap(),
    };
    let answer = ops::launch(
        sim.store.as_ref(),
        &sim.drs,
        sim.clock.as_ref(),
        &sim.policy,
        &target,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, ExecutionStatus::Polling);
    let saved = file.updated(&sim);
    assert_eq!(saved.drs.jobs.len(), 4);
    let job = &saved.drs.jobs[3];
    assert_eq!(answer.job_ids, std::slice::from_ref(&job.job_id));
    assert_eq!(
        job.status,
        JobStatus::Pending,
        "an invoke world does not move on its own"
    );
    assert!(job
        .participating_servers
        .iter()
        .all(|p| p.launch_status == LaunchStatus::Pending));
    assert_eq!(job.tags["executionId"], target.execution_id.to_string());
    assert_eq!(
        (job.tags["attempt"].as_str(), job.tags["part"].as_str()),
        ("1", "0")
    );
    assert_eq!(
        job.creation_date_time.as_deref(),
        Some("2026-01-01T01:00:00Z")
    );
    let record = saved
        .executions
        .iter()
        .find(|e| e.id() == target.execution_id)
        .unwrap();
    assert_eq!(record.waves[0].status, WaveStatus::Started);
    // And the saved world loads again, with the new job found by its tags.
    let again = WorldFile::parse(&serde_json::to_string(&saved).unwrap())
        .unwrap()
        .to_sim()
        .unwrap();
    assert_eq!(again.world.jobs()[3].tags["waveNumber"], "0");
}

#[test]
fn bad_world_files_say_what_is_wrong() {
    let err = |text: &str| {
        WorldFile::parse(text)
            .and_then(|f| f.to_sim().map(|_| ()))
            .unwrap_err()
            .to_string()
    };
    assert!(err(r#"{"now": 1, "executons": []}"#).contains("unknown field `executons`"));
    assert!(err(r#"{"executions": []}"#).contains("missing field `now`"));
    let mut file = example();
    file.drs.jobs[0].creation_date_time = Some("yesterday".into());
    assert!(file
        .to_sim()
        .unwrap_err()
        .to_string()
        .contains("drs.jobs[0].creationDateTime"));
    let mut file = example();
    file.executions.push(file.executions[0].clone());
    assert!(file
        .to_sim()
        .unwrap_err()
        .to_string()
        .contains("appears more than once"));
    let mut file = example();
    file.drs.jobs.push(file.drs.jobs[1].clone());
    assert!(file
        .to_sim()
        .unwrap_err()
        .to_string()
        .contains("drs.jobs[3]"));
    assert!(
        err(r#"{"now": 1, "drs": {"jobs": [{"jobID": "job-1", "status": "STARTED"}]}}"#)
            .contains("jobId")
    );
}

/// The example of docs/world-file.md loads and does what the page says it does.
#[tokio::test]
async fn the_documented_example_behaves_as_documented() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/world-file.md"
    ))
    .unwrap();
    let example = doc.split("## Example").nth(1).unwrap();
    let json = example
        .split("```json")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    let file = WorldFile::parse(json).unwrap();
    let sim = file.to_sim().unwrap();
    let (store, clock) = (sim.store.as_ref(), sim.clock.as_ref());
    let first = Target {
        execution_id: ExecutionId::parse("0a7e6b1c-3d2f-4e5a-9b8c-7d6e5f4a3b21").unwrap(),
        plan_id: PlanId::parse("5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f").unwrap(),
    };
    let second = Target {
        execution_id: ExecutionId::parse("1b8f7c2d-4e3a-4b6c-8d9e-0f1a2b3c4d5e").unwrap(),
        plan_id: PlanId::parse("6d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a").unwrap(),
    };

    let refused = ops::finalize(store, clock, &first).await.unwrap_err();
    assert!(refused.to_string().contains("0 (STARTED)"), "{refused}");
    for target in [first, second] {
        let on = execution_core::api::WaveTarget {
            target,
            wave_number: 0,
        };
        let refused = ops::retry(store, sim.workflow.as_ref(), clock, &sim.policy, &on)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "INVALID_STATE", "{refused}");
        assert!(
            refused.to_string().contains("no wave waits on a decision"),
            "{refused}"
        );
    }

    let request = execution_core::api::PollRequest {
        target: first,
        summary: false,
        workflow_run: None,
    };
    let polled = ops::poll(
        store,
        &sim.drs,
        &sim.ec2,
        None,
        clock,
        &sim.policy,
        &request,
    )
    .await
    .unwrap();
    assert_eq!(polled.next_action, execution_core::rules::NextAction::Pause);
    let record = sim.store.get(first.execution_id).unwrap();
    assert_eq!(record.waves[0].status, WaveStatus::Completed);
    for s in &record.waves[0].server_statuses {
        assert!(
            s.instance_id.is_some()
                && s.private_ip.is_some()
                && s.hostname.is_some()
                && s.instance_type.is_some(),
            "{s:?}"
        );
    }

    let resumed = ops::resume(store, sim.workflow.as_ref(), &second)
        .await
        .unwrap();
    assert!(resumed.workflow_released);
    assert_eq!(
        file.updated(&sim).sfn.tokens["AAAAKgAAAAIAAAAAAAAAAexample-pause-token"],
        TokenState::Succeeded
    );
    let launched = ops::launch(store, &sim.drs, clock, &sim.policy, &second)
        .await
        .unwrap();
    assert_eq!(
        (launched.wave_number, launched.wave_status),
        (1, WaveStatus::Started)
    );
    assert_eq!(file.updated(&sim).drs.jobs.len(), 2);
}

/// A world whose Lambda check fails (taking 7 s) and whose runbook is refused once, with one
/// execution per action, each due to act before its only wave.
async fn world_with_actions() -> (WorldFile, Target, Target) {
    let file = WorldFile::parse(
        &serde_json::json!({
            "now": 1_767_225_600,
            "lambda": {"functions": {"db-health-check": {
                "outcome": "FAIL", "message": "db down", "durationSeconds": 7, "firstRuns": 1
            }}},
            "ssm": {"documents": {"dns-switch-to-recovery": {"throttledCalls": 1}}}
        })
        .to_string(),
    )
    .unwrap();
    let sim = file.to_sim().unwrap();
    let action = |name: &str, kind: &str, target: &str| execution_core::actions::PlanAction {
        name: name.to_owned(),
        when: "BEFORE_LAUNCH".to_owned(),
        kind: kind.to_owned(),
        target: target.to_owned(),
        parameters: None,
        timeout_seconds: Some(120),
        on_failure: None,
    };
    let mut check = execution_core::fixtures::plan(&[1]);
    check.waves[0].actions = vec![action("check", "LAMBDA", "db-health-check")];
    let mut dns = execution_core::fixtures::plan(&[1]);
    dns.plan_id = PlanId::parse("8f4a5b6c-7d8e-4f9a-8b1c-2d3e4f5a6b7c").unwrap();
    dns.waves[0].servers[0].source_server_id =
        execution_core::ids::SourceServerId::parse("s-00000000000000099").unwrap();
    dns.waves[0].actions = vec![action("dns", "SSM_AUTOMATION", "dns-switch-to-recovery")];
    let a = sim.create(&check, ExecutionId::new_random()).await.unwrap();
    let b = sim.create(&dns, ExecutionId::new_random()).await.unwrap();
    let saved = file.updated(&sim);
    // Round trip through the text: the scripts and records read back as written.
    let text = serde_json::to_string(&saved).unwrap();
    assert_eq!(WorldFile::parse(&text).unwrap(), saved);
    (saved, a, b)
}

async fn act(file: &WorldFile, target: Target) -> (drs_sim::Sim, serde_json::Value) {
    let sim = file.to_sim().unwrap();
    let answer = ops::run(
        &sim.ports(),
        execution_core::api::Request::Act(target),
        execution_core::audit::Actor::Cli("local".into()),
    )
    .await;
    (sim, answer)
}

#[tokio::test]
async fn a_scripted_function_runs_for_its_time_and_the_saved_world_moves_now_on() {
    let (file, check, _) = world_with_actions().await;
    let (sim, answer) = act(&file, check).await;
    assert_eq!(answer["actionStatus"], "FAILED", "{answer}");
    assert_eq!(answer["error"], "function error (Unhandled): db down");
    assert_eq!(sim.calls.count(drs_sim::Api::Invoke), 1);
    let saved = file.updated(&sim);
    assert_eq!(saved.now, file.now + 7);
    saved.check().unwrap();
    let run = &saved.executions[0].waves[0].action_runs[0];
    assert_eq!(run.end_time.map(|t| t.secs()), Some(saved.now));
    // The script's one failing run is used up: the next world's check passes.
    assert_eq!(
        saved.lambda.functions["db-health-check"].first_runs,
        Some(0)
    );
}

#[tokio::test]
async fn a_runbook_refused_once_then_started_stands_pending_and_is_saved_with_its_token() {
    let (file, _, dns) = world_with_actions().await;
    let (sim, answer) = act(&file, dns).await;
    assert_eq!(answer["actionStatus"], "RUNNING", "{answer}");
    assert!(answer["retryAfterSeconds"].as_u64().is_some(), "{answer}");
    assert!(sim.world.automations().is_empty());
    let mut refused = file.updated(&sim);
    assert_eq!(
        refused.ssm.documents["dns-switch-to-recovery"].throttled_calls,
        0
    );
    // An operator plays time: the refusal's backoff has passed.
    refused.now += 60;
    let (sim, answer) = act(&refused, dns).await;
    let id = answer["automationExecutionId"].as_str().unwrap().to_owned();
    let saved = refused.updated(&sim);
    let item = &saved.ssm.automation_executions[0];
    assert_eq!(
        (
            item.automation_execution_id.as_str(),
            item.automation_execution_status.as_str(),
            item.document_name.as_str()
        ),
        (id.as_str(), "Pending", "dns-switch-to-recovery")
    );
    assert!(item.client_token.is_some());
    // Loaded again, the automation is SSM's: poll reads it, and it stays Pending.
    let again = WorldFile::parse(&serde_json::to_string(&saved).unwrap()).unwrap();
    let sim = again.to_sim().unwrap();
    let polled = ops::run(
        &sim.ports(),
        execution_core::api::Request::Poll(execution_core::api::PollRequest {
            target: dns,
            summary: true,
            workflow_run: None,
        }),
        execution_core::audit::Actor::Cli("local".into()),
    )
    .await;
    assert_eq!(polled["nextAction"], "WAIT", "{polled}");
    assert_eq!(sim.calls.count(drs_sim::Api::GetAutomationExecution), 1);
    // Played as done: the next poll settles the run.
    let mut done = again.clone();
    done.ssm.automation_executions[0].automation_execution_status = "Success".into();
    let sim = done.to_sim().unwrap();
    let polled = ops::run(
        &sim.ports(),
        execution_core::api::Request::Poll(execution_core::api::PollRequest {
            target: dns,
            summary: true,
            workflow_run: None,
        }),
        execution_core::audit::Actor::Cli("local".into()),
    )
    .await;
    assert_eq!(polled["nextAction"], "LAUNCH", "{polled}");
}

#[test]
fn an_automation_listed_twice_or_after_now_is_refused() {
    let item = serde_json::json!({
        "AutomationExecutionId": "a-1", "DocumentName": "d", "AutomationExecutionStatus": "Success"
    });
    let twice =
        serde_json::json!({"now": 1_767_225_600, "ssm": {"automationExecutions": [item, item]}});
    let err = WorldFile::parse(&twice.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("ssm.automationExecutions[1]"), "{err}");
    let mut late = item.clone();
    late["ExecutionStartTime"] = "2030-01-01T00:00:00Z".into();
    let after = serde_json::json!({"now": 1_767_225_600, "ssm": {"automationExecutions": [late]}});
    let err = WorldFile::parse(&after.to_string())
        .unwrap_err()
        .to_string();
    assert!(err.contains("ExecutionStartTime"), "{err}");
    let typo = serde_json::json!({"now": 1_767_225_600, "lambda": {"functions": {"f": {"outcom": "FAIL"}}}});
    assert!(WorldFile::parse(&typo.to_string()).is_err());
}
