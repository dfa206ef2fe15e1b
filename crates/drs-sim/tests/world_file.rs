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
