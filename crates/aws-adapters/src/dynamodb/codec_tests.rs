use execution_core::fixtures;
use execution_core::ids::{ExecutionId, InstanceId, JobId, TaskToken};
use execution_core::model::{
    CleanupState, FailurePolicy, HeldToken, Impact, LaunchClaim, PauseReason, ServerCleanup,
    ServerStatus, Timestamp, WaveFailure, WaveJob,
};
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};

use super::*;

/// A header with every optional field set.
fn full_header() -> ExecutionHeader {
    let mut h = fixtures::execution(&[1]).header;
    h.plan_name = Some("plan".into());
    h.status = ExecutionStatus::Paused;
    h.start_time = Some(Timestamp(1100));
    h.end_time = Some(Timestamp(1200));
    h.last_polled_time = Some(Timestamp(1150));
    h.workflow_run = Some("arn:aws:states:us-east-1:123456789012:execution:m:run".into());
    h.workflow_polled_time = Some(Timestamp(1140));
    h.restarts = vec![Timestamp(1120), Timestamp(1130)];
    h.paused_before_wave = Some(1);
    h.pause_reason = Some(PauseReason::WaveFailed);
    h.failed_wave = Some(0);
    h.task_token = Some(HeldToken {
        token: TaskToken::parse("AAAA-token").unwrap(),
        release_pending: true,
    });
    h.status_message = Some("why".into());
    h.recovery_time_seconds = Some(42);
    h.version = 7;
    h
}

/// A server entry with every field DRS and EC2 fill in, at realistic lengths.
pub(crate) fn launched_server(n: usize) -> ServerStatus {
    ServerStatus {
        source_server_id: fixtures::server(n),
        server_name: Some(format!("app-server-{n:05}.corp.example.com")),
        impact: if n.is_multiple_of(2) {
            Impact::Critical
        } else {
            Impact::Optional
        },
        launch_status: LaunchStatus::Launched,
        job_id: Some(fixtures::job(n / 100)),
        status_message: None,
        recovery_instance_id: Some(fixtures::instance(n)),
        instance_id: Some(InstanceId::parse(&format!("i-{n:017x}")).unwrap()),
        private_ip: Some(format!(
            "10.{}.{}.{}",
            n / 65536 % 256,
            n / 256 % 256,
            n % 256
        )),
        hostname: Some(format!(
            "ip-10-0-{}-{}.us-east-1.compute.internal",
            n / 256 % 256,
            n % 256
        )),
        instance_type: Some("m5.2xlarge".into()),
        instance_state: Some("running".into()),
        launch_time: Some(Timestamp(1_700_000_000 + n as i64)),
        drs_reason: None,
        // After a drill's cleanup: its TERMINATE job and both times.
        cleanup: Some(ServerCleanup {
            state: CleanupState::Terminated,
            recovery_instance_id: fixtures::instance(n),
            job_id: Some(fixtures::job(90_000 + n / 200)),
            requested_time: Timestamp(1_700_003_600),
            terminated_time: Some(Timestamp(1_700_003_700 + n as i64)),
        }),
    }
}

fn full_wave(servers: usize) -> Wave {
    let mut w = fixtures::execution(&[servers]).waves.remove(0);
    w.wave_number = 3;
    w.wave_name = Some("databases".into());
    w.status = WaveStatus::Failed;
    w.pause_before_wave = true;
    w.pause_approved = true;
    w.on_failure = Some(FailurePolicy::Pause);
    w.attempt = 2;
    w.jobs = vec![
        WaveJob {
            job_id: JobId::parse("drsjob-1234567890abcdef0").unwrap(),
            attempt: 1,
            part: 0,
            recorded_time: Timestamp(1301),
            created_time: Some(Timestamp(1300)),
            ended_time: Some(Timestamp(1340)),
        },
        WaveJob {
            job_id: fixtures::job(1),
            attempt: 2,
            part: 1,
            recorded_time: Timestamp(1351),
            created_time: Some(Timestamp(1350)),
            ended_time: None,
        },
    ];
    w.claim = Some(LaunchClaim {
        part: 2,
        size: 100,
        claimed_time: Timestamp(1352),
        first_claimed_time: None,
        held: true,
        uncertain: true,
    });
    w.launch_attempts = 4;
    w.last_launch_error = Some("DRS StartRecovery: ConflictException: busy (HTTP 409)".into());
    w.next_launch_time = Some(Timestamp(1360));
    w.attempt_time = Some(Timestamp(1350));
    w.optional_not_launched = 1;
    w.launch_time = Some(Timestamp(1300));
    w.end_time = Some(Timestamp(1400));
    w.recovery_time_seconds = Some(100);
    w.failure_reason = Some(WaveFailure::ServersFailed);
    w.status_message = Some("1 of 200 servers failed".into());
    w.version = 4;
    w.server_statuses = (0..servers).map(launched_server).collect();
    if let Some(s) = w.server_statuses.get_mut(1) {
        // A value DRS added after this version, and a server its job did not list.
        s.launch_status = LaunchStatus::Other("RECOVERY_PAUSED".into());
        s.status_message = Some("not in the DRS job".into());
    }
    // Failed servers with DRS's reason, as long as the record keeps one.
    for s in w.server_statuses.iter_mut().skip(2).step_by(10) {
        s.launch_status = LaunchStatus::Failed;
        s.drs_reason = Some(execution_core::text::clip(
            &format!(
                "LAUNCH_FAILED: Failed to launch recovery instance for {}: An error occurred (InsufficientInstanceCapacity) when calling the RunInstances operation: We currently do not have sufficient m5.2xlarge capacity in the Availability Zone you requested (us-east-1a).",
                s.source_server_id
            ),
            execution_core::rules::REASON_MAX_CHARS,
        ));
    }
    w
}

#[test]
fn header_round_trips_with_every_field() {
    let header = full_header();
    let item = header_item(&header, 0).unwrap();
    assert_eq!(item.get(SK), Some(&s(HEADER_SK)));
    assert_eq!(item.get(STATUS), Some(&s("PAUSED")));
    assert_eq!(
        item.get(CREATED_TIME),
        Some(&AttributeValue::N("1000".into()))
    );
    // The poll times under names the status index does not project; the earlier names unused.
    assert_eq!(
        item.get(POLLED_TIME),
        Some(&AttributeValue::N("1150".into()))
    );
    assert_eq!(
        item.get(WORKFLOW_SEEN_TIME),
        Some(&AttributeValue::N("1140".into()))
    );
    assert!(!item.contains_key(OLD_POLLED_TIME) && !item.contains_key(OLD_WORKFLOW_SEEN_TIME));
    assert!(
        matches!(item.get("taskToken"), Some(AttributeValue::M(m)) if m.get("releasePending") == Some(&AttributeValue::Bool(true)))
    );
    let back = decode_execution(header.execution_id, vec![item])
        .unwrap()
        .unwrap();
    assert_eq!(back.header, header);
    assert!(back.waves.is_empty());
}

#[test]
fn header_optional_list_names_every_optional_field() {
    let full: Vec<String> = header_item(&full_header(), 0)
        .unwrap()
        .into_keys()
        .collect();
    let mut minimal = fixtures::execution(&[1]).header;
    minimal.plan_name = None;
    let minimal: Vec<String> = header_item(&minimal, 0).unwrap().into_keys().collect();
    let mut optional: Vec<&str> = full
        .iter()
        .filter(|k| !minimal.contains(k))
        .map(String::as_str)
        .collect();
    optional.sort_unstable();
    let mut expected: Vec<&str> = HEADER_OPTIONAL.iter().copied().chain(TOUCH_OWNED).collect();
    expected.sort_unstable();
    assert_eq!(
        optional, expected,
        "a new optional header field must be added to HEADER_OPTIONAL"
    );
}

#[test]
fn header_update_leaves_keys_and_last_polled_time_alone() {
    let attrs = header_update_attributes(&full_header()).unwrap();
    for absent in [
        PK,
        SK,
        POLLED_TIME,
        WORKFLOW_RUN,
        WORKFLOW_SEEN_TIME,
        OLD_POLLED_TIME,
        OLD_WORKFLOW_SEEN_TIME,
        WAVE_COUNT,
    ] {
        assert!(!attrs.contains_key(absent), "{absent}");
    }
    assert_eq!(attrs.get(VERSION), Some(&AttributeValue::N("7".into())));
}

/// A header an earlier version stored: its poll times under the names the status index
/// projects. They load as they were; once touched under the new names, the later time wins.
#[test]
fn a_header_of_an_earlier_version_loads_with_its_poll_marks() {
    let header = full_header();
    let mut item = header_item(&header, 0).unwrap();
    for (stored, old) in RENAMED {
        let value = item.remove(stored).unwrap();
        item.insert(old.to_owned(), value);
    }
    let load = |item: &Item| {
        decode_execution(header.execution_id, vec![item.clone()]).map(|e| e.unwrap().header)
    };
    assert_eq!(load(&item).unwrap(), header);

    // Polled since (the new names), the earlier copies left behind: the new times.
    item.insert(POLLED_TIME.into(), AttributeValue::N("1300".into()));
    item.insert(WORKFLOW_SEEN_TIME.into(), AttributeValue::N("1290".into()));
    let back = load(&item).unwrap();
    assert_eq!(
        (back.last_polled_time, back.workflow_polled_time),
        (Some(Timestamp(1300)), Some(Timestamp(1290)))
    );
    // An earlier version's function touched it last (during an upgrade): its later times.
    item.insert(OLD_POLLED_TIME.into(), AttributeValue::N("1400".into()));
    let back = load(&item).unwrap();
    assert_eq!(
        (back.last_polled_time, back.workflow_polled_time),
        (Some(Timestamp(1400)), Some(Timestamp(1290)))
    );
    // Everything else as it was.
    let mut rest = back.clone();
    rest.last_polled_time = header.last_polled_time;
    rest.workflow_polled_time = header.workflow_polled_time;
    assert_eq!(rest, header);

    for (name, bad) in [
        (POLLED_TIME, AttributeValue::S("soon".into())),
        (OLD_WORKFLOW_SEEN_TIME, AttributeValue::N("1.5e".into())),
        (WORKFLOW_RUN, AttributeValue::N("1".into())),
    ] {
        let mut broken = item.clone();
        broken.insert(name.into(), bad);
        assert!(
            matches!(load(&broken), Err(StoreError::Corrupt(ref m)) if m.contains(name)),
            "{name}: {:?}",
            load(&broken)
        );
    }
}

#[test]
fn wave_round_trips_and_stays_out_of_the_status_index() {
    let wave = full_wave(3);
    let id = fixtures::execution_id();
    let item = wave_item(id, &wave).unwrap();
    assert_eq!(item.get(SK), Some(&s("WAVE#0003")));
    assert_eq!(item.get(WAVE_STATUS), Some(&s("FAILED")));
    assert!(
        !item.contains_key(STATUS) && !item.contains_key(CREATED_TIME),
        "index keys on a wave item"
    );
    assert!(
        matches!(item.get(SERVER_STATUSES), Some(AttributeValue::B(gz)) if gz.as_ref().starts_with(&[0x1f, 0x8b])),
        "serverStatuses is gzip in a binary attribute"
    );
    let mut header = fixtures::execution(&[1]).header;
    header.execution_id = id;
    let mut waves: Vec<Wave> = (0..4)
        .map(|n| Wave {
            wave_number: n,
            ..wave.clone()
        })
        .collect();
    let items = std::iter::once(header_item(&header, 4).unwrap())
        .chain(waves.iter().rev().map(|w| wave_item(id, w).unwrap()))
        .collect();
    let back = decode_execution(id, items).unwrap().unwrap();
    waves.sort_by_key(|w| w.wave_number);
    assert_eq!(back.waves, waves);
}

#[test]
fn a_wave_that_never_ran_round_trips_as_it_was_written() {
    // finalize ends the waves that never ran CANCELLED, with no attempt (0).
    let id = fixtures::execution_id();
    let mut execution = fixtures::execution(&[1, 1]);
    execution.header.execution_id = id;
    for wave in &mut execution.waves {
        wave.status = WaveStatus::Cancelled;
        wave.end_time = Some(Timestamp(2000));
    }
    let items = std::iter::once(header_item(&execution.header, 2).unwrap())
        .chain(execution.waves.iter().map(|w| wave_item(id, w).unwrap()))
        .collect();
    let back = decode_execution(id, items).unwrap().unwrap();
    assert_eq!(
        back.waves.iter().map(|w| w.attempt).collect::<Vec<_>>(),
        [0, 0],
        "a stored attempt of 0 is read back as 0"
    );
    assert_eq!(back, execution);
}

/// xorshift64: the entropy of real instance ids and addresses, without a dependency.
fn noise(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_waves_jobs_and_claim_are_stored_as_lists_and_maps() {
    let wave = full_wave(3);
    let item = wave_item(fixtures::execution_id(), &wave).unwrap();
    assert!(
        !item.contains_key("jobId"),
        "a wave has no single job any more"
    );
    let Some(AttributeValue::L(jobs)) = item.get("jobs") else {
        panic!("jobs is a list: {:?}", item.get("jobs"));
    };
    assert_eq!(jobs.len(), 2);
    let AttributeValue::M(second) = &jobs[1] else {
        panic!("a job is a map: {:?}", jobs[1]);
    };
    assert_eq!(second.get("jobId"), Some(&s(fixtures::job(1).as_str())));
    assert_eq!(second.get("attempt"), Some(&AttributeValue::N("2".into())));
    assert_eq!(second.get("part"), Some(&AttributeValue::N("1".into())));
    assert_eq!(
        second.get("recordedTime"),
        Some(&AttributeValue::N("1351".into()))
    );
    let Some(AttributeValue::M(claim)) = item.get("claim") else {
        panic!("claim is a map: {:?}", item.get("claim"));
    };
    assert_eq!(claim.get("held"), Some(&AttributeValue::Bool(true)));
    assert_eq!(claim.get("uncertain"), Some(&AttributeValue::Bool(true)));
    assert_eq!(claim.get("size"), Some(&AttributeValue::N("100".into())));
    for (name, value) in [
        ("onFailure", s("PAUSE")),
        ("attempt", AttributeValue::N("2".into())),
        ("launchAttempts", AttributeValue::N("4".into())),
        ("nextLaunchTime", AttributeValue::N("1360".into())),
        ("attemptTime", AttributeValue::N("1350".into())),
        ("optionalNotLaunched", AttributeValue::N("1".into())),
    ] {
        assert_eq!(item.get(name), Some(&value), "{name}");
    }
    assert!(matches!(
        item.get("lastLaunchError"),
        Some(AttributeValue::S(_))
    ));

    // A wave with neither stores neither (no empty list, no null).
    let mut bare = wave.clone();
    bare.jobs.clear();
    bare.claim = None;
    let item = wave_item(fixtures::execution_id(), &bare).unwrap();
    assert!(!item.contains_key("jobs") && !item.contains_key("claim"));
    assert!(
        item.values().all(|v| !matches!(v, AttributeValue::Null(_))),
        "{item:?}"
    );
}

#[test]
fn server_entries_keep_impact_job_status_message_and_unknown_statuses() {
    let id = fixtures::execution_id();
    let mut wave = full_wave(3);
    wave.wave_number = 0;
    let mut header = fixtures::execution(&[1]).header;
    header.execution_id = id;
    let items = vec![
        header_item(&header, 1).unwrap(),
        wave_item(id, &wave).unwrap(),
    ];
    let back = decode_execution(id, items).unwrap().unwrap();
    let servers = &back.waves[0].server_statuses;
    assert_eq!(servers, &wave.server_statuses);
    assert_eq!(servers[1].impact, Impact::Optional);
    assert_eq!(
        servers[1].launch_status,
        LaunchStatus::Other("RECOVERY_PAUSED".into())
    );
    assert_eq!(servers[0].job_id, Some(fixtures::job(0)));
}

/// A wave item as version 1 wrote it: one `jobId`, no `attempt`, `jobs`, `onFailure`, and servers
/// without `impact` or `jobId`.
fn version_1_wave_item(id: ExecutionId, status: &str, job: Option<&str>) -> Item {
    let servers = serde_json::json!([
        {"sourceServerId": fixtures::server(0).as_str(), "serverName": "db-1", "launchStatus": "LAUNCHED",
         "recoveryInstanceId": fixtures::instance(0).to_string()},
        {"sourceServerId": fixtures::server(1).as_str(), "launchStatus": "IN_PROGRESS"},
    ]);
    let mut item = HashMap::from([
        ("waveNumber".to_owned(), AttributeValue::N("0".into())),
        ("waveStatus".to_owned(), s(status)),
        ("pauseBeforeWave".to_owned(), AttributeValue::Bool(false)),
        ("pauseApproved".to_owned(), AttributeValue::Bool(false)),
        (
            "timeoutSeconds".to_owned(),
            AttributeValue::N("3600".into()),
        ),
        ("launchTime".to_owned(), AttributeValue::N("1100".into())),
        ("version".to_owned(), AttributeValue::N("2".into())),
        (
            SERVER_STATUSES.to_owned(),
            encode_servers(&servers).unwrap(),
        ),
    ]);
    if let Some(job) = job {
        item.insert("jobId".to_owned(), s(job));
    }
    item.extend(key(id, wave_sk(0)));
    item
}

#[test]
fn a_version_1_wave_reads_as_one_job_of_critical_servers_that_stops() {
    let id = fixtures::execution_id();
    let mut header = fixtures::execution(&[2]).header;
    header.execution_id = id;
    let job = fixtures::job(3);
    let items = vec![
        header_item(&header, 1).unwrap(),
        version_1_wave_item(id, "STARTED", Some(job.as_str())),
    ];
    let wave = decode_execution(id, items)
        .unwrap()
        .unwrap()
        .waves
        .remove(0);
    assert_eq!(wave.attempt, 1);
    assert_eq!(
        wave.jobs,
        [WaveJob {
            job_id: job.clone(),
            attempt: 1,
            part: 0,
            recorded_time: Timestamp(1100),
            created_time: None,
            ended_time: None,
        }]
    );
    assert_eq!(wave.failure_policy(), FailurePolicy::Stop);
    assert!(wave
        .server_statuses
        .iter()
        .all(|s| s.impact == Impact::Critical && s.job_id.as_ref() == Some(&job)));

    // Written back by this version, it is a wave of this version: no `jobId`, and it reads the same.
    let item = wave_item(id, &wave).unwrap();
    assert!(!item.contains_key("jobId") && item.contains_key("jobs"));
    let again = decode_execution(id, vec![header_item(&header, 1).unwrap(), item])
        .unwrap()
        .unwrap();
    assert_eq!(again.waves[0], wave);

    // A version-1 wave claimed but without its job: its launcher may have started it.
    let items = vec![
        header_item(&header, 1).unwrap(),
        version_1_wave_item(id, "LAUNCHING", None),
    ];
    let wave = decode_execution(id, items)
        .unwrap()
        .unwrap()
        .waves
        .remove(0);
    let claim = wave.claim.expect("a version-1 claim");
    assert!(claim.uncertain && claim.held && claim.part == 0 && claim.size == 2);
}

#[test]
fn a_full_200_server_wave_compresses_far_below_the_item_limit() {
    // Random instance ids and addresses, as DRS and EC2 hand them out: no flattering repetition.
    let mut seed = 0x9E37_79B9_7F4A_7C15;
    let mut wave = full_wave(200);
    for s in &mut wave.server_statuses {
        let id = InstanceId::parse(&format!("i-{:017x}", noise(&mut seed) >> 4)).unwrap();
        s.recovery_instance_id = Some(id.clone());
        s.instance_id = Some(id);
        let ip = noise(&mut seed);
        s.private_ip = Some(format!(
            "10.{}.{}.{}",
            ip % 256,
            (ip >> 8) % 256,
            (ip >> 16) % 256
        ));
        s.hostname = Some(format!(
            "ip-10-{}-{}-{}.us-east-1.compute.internal",
            ip % 256,
            (ip >> 8) % 256,
            (ip >> 16) % 256
        ));
    }
    let size = item_size(&wave_item(fixtures::execution_id(), &wave).unwrap());
    let plain = serde_json::to_string(&wave.server_statuses).unwrap().len();
    assert!(
        size < 24 * 1024,
        "a full wave item is {size} bytes; the budget is 24 KB"
    );
    assert!(
        size * 3 < plain,
        "{size} bytes stored for {plain} bytes of JSON"
    );
}

#[test]
fn server_statuses_written_as_a_json_string_still_read() {
    let id = fixtures::execution_id();
    let wave = full_wave(3);
    let mut item = wave_item(id, &wave).unwrap();
    let json = serde_json::to_string(&wave.server_statuses).unwrap();
    item.insert(SERVER_STATUSES.to_owned(), s(json));
    let mut header = fixtures::execution(&[1]).header;
    header.execution_id = id;
    let mut only = wave.clone();
    only.wave_number = 0;
    let mut item0 = item.clone();
    item0.extend(key(id, wave_sk(0)));
    item0.insert("waveNumber".to_owned(), AttributeValue::N("0".into()));
    let back = decode_execution(id, vec![header_item(&header, 1).unwrap(), item0])
        .unwrap()
        .unwrap();
    assert_eq!(back.waves[0].server_statuses, wave.server_statuses);
}

#[test]
fn a_corrupt_compressed_server_list_is_corrupt_not_a_panic() {
    let id = fixtures::execution_id();
    let execution = fixtures::execution(&[1]);
    let mut wave = wave_item(id, &execution.waves[0]).unwrap();
    wave.insert(
        SERVER_STATUSES.to_owned(),
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![
            0x1f, 0x8b, 1, 2, 3,
        ])),
    );
    let items = vec![header_item(&execution.header, 1).unwrap(), wave];
    assert!(matches!(
        decode_execution(id, items),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn unreadable_records_are_corrupt_not_panics() {
    let id = fixtures::execution_id();
    let execution = fixtures::execution(&[1, 1]);
    let header = header_item(&execution.header, 2).unwrap();
    let wave0 = wave_item(id, &execution.waves[0]).unwrap();
    let wave1 = wave_item(id, &execution.waves[1]).unwrap();

    // No header: not an execution.
    assert_eq!(decode_execution(id, vec![wave0.clone()]).unwrap(), None);
    // A wave missing.
    assert!(matches!(
        decode_execution(id, vec![header.clone(), wave1.clone()]),
        Err(StoreError::Corrupt(_))
    ));
    // A bad status.
    let mut bad = header.clone();
    bad.insert(STATUS.into(), s("RUNNING"));
    assert!(matches!(
        decode_execution(id, vec![bad, wave0.clone(), wave1.clone()]),
        Err(StoreError::Corrupt(_))
    ));
    // Server statuses that are not JSON.
    let mut bad = wave1.clone();
    bad.insert(SERVER_STATUSES.into(), s("{not json"));
    assert!(matches!(
        decode_execution(id, vec![header.clone(), wave0.clone(), bad]),
        Err(StoreError::Corrupt(_))
    ));
    // A wave under another wave's key.
    let mut bad = wave1;
    bad.insert(SK.into(), s(wave_sk(7)));
    assert!(matches!(
        decode_execution(id, vec![header, wave0, bad]),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn numbers_and_sizes() {
    assert_eq!(
        from_attr(&AttributeValue::N("-5".into())).unwrap(),
        serde_json::json!(-5)
    );
    assert_eq!(
        from_attr(&AttributeValue::N("18446744073709551615".into())).unwrap(),
        serde_json::json!(u64::MAX)
    );
    assert_eq!(
        from_attr(&AttributeValue::N("1.5".into())).unwrap(),
        serde_json::json!(1.5)
    );
    assert!(from_attr(&AttributeValue::N("x".into())).is_err());
    assert!(from_attr(&AttributeValue::Ss(vec!["a".into()])).is_err());
    let item: Item = HashMap::from([
        ("ab".to_owned(), s("xyz")),
        ("n".to_owned(), AttributeValue::N("1234".into())),
    ]);
    assert_eq!(item_size(&item), 2 + 3 + 1 + 3);
}
