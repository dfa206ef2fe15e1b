use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use execution_core::fixtures;
use execution_core::ids::{ExecutionId, InstanceId, JobId};
use execution_core::model::Timestamp;
use execution_core::ports::{Drs, Ec2, JobTag, RecoveryRequest, ServiceError};
use execution_core::status::{JobStatus, LaunchStatus};

use crate::config::{FaultScript, Progression, Refusals, Spread, Timings};
use crate::{Api, Calls, SimClock, SimDrs, SimEc2, World};

const T0: i64 = 1_000_000;

/// Job starts at +10, servers go IN_PROGRESS at +30 and settle at +130, the job completes at +135.
fn fixed_timings() -> Timings {
    Timings {
        job_start: Spread::fixed(10),
        server_start: Spread::fixed(20),
        server_launch: Spread::fixed(100),
        job_complete_lag_secs: 5,
    }
}

struct Fixture {
    clock: Arc<SimClock>,
    calls: Arc<Calls>,
    world: Arc<World>,
    drs: SimDrs,
    ec2: SimEc2,
}

fn world(seed: u64, progression: Progression, faults: FaultScript) -> Fixture {
    let clock = Arc::new(SimClock::at_secs(T0));
    let calls = Arc::new(Calls::default());
    let world = Arc::new(World::new(
        clock.clone(),
        calls.clone(),
        seed,
        progression,
        faults,
    ));
    Fixture {
        drs: SimDrs(world.clone()),
        ec2: SimEc2(world.clone()),
        clock,
        calls,
        world,
    }
}

fn request(servers: std::ops::Range<usize>) -> RecoveryRequest {
    RecoveryRequest {
        execution_id: fixtures::execution_id(),
        wave_number: 0,
        attempt: 1,
        part: 0,
        is_drill: true,
        source_servers: servers.map(fixtures::server).collect(),
    }
}

async fn job(f: &Fixture, id: &JobId) -> execution_core::ports::DrsJob {
    let mut jobs = f.drs.describe_jobs(std::slice::from_ref(id)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    jobs.remove(0)
}

fn statuses(job: &execution_core::ports::DrsJob) -> Vec<LaunchStatus> {
    job.participating_servers
        .iter()
        .map(|p| p.launch_status.clone())
        .collect()
}

#[tokio::test]
async fn a_job_moves_through_its_stages_with_the_clock() {
    let f = world(
        1,
        Progression::Timed(fixed_timings()),
        FaultScript::default(),
    );
    let started = f.drs.start_recovery(&request(0..2)).await.unwrap();
    let id = started.job_id.clone();
    assert!(id.as_str().len() == "drsjob-".len() + 17 && id.as_str().starts_with("drsjob-"));
    assert_eq!(started.status, JobStatus::Pending);
    assert_eq!(statuses(&started), vec![LaunchStatus::Pending; 2]);

    f.clock.advance_secs(10);
    assert_eq!(job(&f, &id).await.status, JobStatus::Started);
    f.clock.advance_secs(20);
    assert_eq!(
        statuses(&job(&f, &id).await),
        vec![LaunchStatus::InProgress; 2]
    );
    f.clock.advance_secs(99);
    let j = job(&f, &id).await;
    assert_eq!(statuses(&j), vec![LaunchStatus::InProgress; 2]);
    assert!(j
        .participating_servers
        .iter()
        .all(|p| p.recovery_instance_id.is_none()));
    assert!(
        f.ec2
            .describe_instances(&[fixtures::instance(1)])
            .await
            .unwrap()
            .is_empty(),
        "unknown ids are absent"
    );

    f.clock.advance_secs(1);
    let j = job(&f, &id).await;
    assert_eq!(
        (j.status.clone(), statuses(&j)),
        (JobStatus::Started, vec![LaunchStatus::Launched; 2])
    );
    let ids: Vec<InstanceId> = j
        .participating_servers
        .iter()
        .map(|p| p.recovery_instance_id.clone().unwrap())
        .collect();
    assert!(ids
        .iter()
        .all(|i| i.as_str().len() == 19 && i.as_str()[2..].bytes().all(|b| b.is_ascii_hexdigit())));
    let instances = f.ec2.describe_instances(&ids).await.unwrap();
    assert_eq!(instances.len(), 2);
    for i in &instances {
        let ip = i.private_ip.as_deref().unwrap();
        assert!(ip.starts_with("10.0."), "{ip}");
        assert_eq!(
            i.private_dns_name.as_deref(),
            Some(format!("ip-{}.ec2.internal", ip.replace('.', "-")).as_str())
        );
        assert!(i.instance_type.is_some());
        assert_eq!(i.state.as_deref(), Some("running"));
        assert_eq!(i.launch_time, Some(Timestamp(T0 + 130)));
    }
    assert_ne!(instances[0].private_ip, instances[1].private_ip);
    let ris = f
        .drs
        .describe_recovery_instances(&[
            fixtures::server(0),
            fixtures::server(1),
            fixtures::server(9),
        ])
        .await
        .unwrap();
    assert_eq!(ris.len(), 2);
    assert!(ris.iter().all(|r| r.job_id.as_ref() == Some(&id)
        && r.ec2_instance_id.as_ref() == Some(&r.recovery_instance_id)));

    f.clock.advance_secs(5);
    assert_eq!(job(&f, &id).await.status, JobStatus::Completed);
    assert_eq!(f.calls.count(Api::DescribeJobs), 5);
    assert_eq!(f.calls.count(Api::StartRecovery), 1);
}

#[tokio::test]
async fn a_seed_decides_every_random_choice() {
    async fn run(seed: u64) -> (JobId, Vec<LaunchStatus>, Vec<String>) {
        let f = world(
            seed,
            Progression::Timed(Timings::default()),
            FaultScript::default(),
        );
        let id = f.drs.start_recovery(&request(0..20)).await.unwrap().job_id;
        f.clock.advance_secs(45 + 90 + 450);
        let j = job(&f, &id).await;
        (
            id,
            statuses(&j),
            f.world
                .instances()
                .into_iter()
                .map(|i| format!("{:?}", i))
                .collect(),
        )
    }
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert_ne!(a.0, run(8).await.0);
    assert!(
        a.1.contains(&LaunchStatus::Launched) && a.1.contains(&LaunchStatus::InProgress),
        "the spread staggers servers: {:?}",
        a.1
    );
}

#[tokio::test]
async fn a_failing_server_ends_failed_without_an_instance() {
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(1)]),
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    let id = f.drs.start_recovery(&request(0..3)).await.unwrap().job_id;
    f.clock.advance_secs(200);
    let j = job(&f, &id).await;
    assert_eq!(j.status, JobStatus::Completed);
    assert_eq!(
        statuses(&j),
        [
            LaunchStatus::Launched,
            LaunchStatus::Failed,
            LaunchStatus::Launched
        ]
    );
    assert!(j.participating_servers[1].recovery_instance_id.is_none());
    assert_eq!(f.world.instances().len(), 2);
}

#[tokio::test]
async fn filters_over_the_service_limits_are_refused() {
    let f = world(
        1,
        Progression::Timed(fixed_timings()),
        FaultScript::default(),
    );
    let jobs: Vec<JobId> = (0..201).map(fixtures::job).collect();
    assert!(matches!(
        f.drs.describe_jobs(&jobs).await,
        Err(ServiceError::Rejected(_))
    ));
    assert_eq!(
        f.drs.describe_jobs(&jobs[..200]).await.unwrap(),
        vec![],
        "unknown jobs are absent"
    );
    let servers: Vec<_> = (0..201).map(fixtures::server).collect();
    assert!(matches!(
        f.drs.describe_recovery_instances(&servers).await,
        Err(ServiceError::Rejected(_))
    ));
    let instances: Vec<_> = (0..201).map(fixtures::instance).collect();
    assert!(matches!(
        f.ec2.describe_instances(&instances).await,
        Err(ServiceError::Rejected(_))
    ));
    assert!(f
        .ec2
        .describe_instances(&instances[..200])
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        f.drs.start_recovery(&request(0..201)).await,
        Err(ServiceError::Rejected(_))
    ));
    assert!(matches!(
        f.drs.start_recovery(&request(0..0)).await,
        Err(ServiceError::Rejected(_))
    ));
    assert!(
        f.world.jobs().is_empty(),
        "a refused StartRecovery starts nothing"
    );
}

#[tokio::test]
async fn a_new_job_can_be_missing_from_describe_jobs_for_n_calls() {
    let faults = FaultScript {
        job_missing_polls: 2,
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    let id = f.drs.start_recovery(&request(0..1)).await.unwrap().job_id;
    assert!(f
        .drs
        .describe_jobs(std::slice::from_ref(&id))
        .await
        .unwrap()
        .is_empty());
    assert!(f
        .drs
        .describe_jobs(std::slice::from_ref(&id))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        f.drs
            .describe_jobs(std::slice::from_ref(&id))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_new_instance_can_be_unknown_to_ec2_for_n_calls_and_job_entries_can_lack_instance_ids() {
    let faults = FaultScript {
        ec2_unknown_polls: 2,
        omit_recovery_instance_ids: true,
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    let id = f.drs.start_recovery(&request(0..1)).await.unwrap().job_id;
    f.clock.advance_secs(200);
    let j = job(&f, &id).await;
    assert_eq!(statuses(&j), [LaunchStatus::Launched]);
    assert_eq!(j.participating_servers[0].recovery_instance_id, None);
    let ri = f
        .drs
        .describe_recovery_instances(&[fixtures::server(0)])
        .await
        .unwrap();
    let instance = ri[0].recovery_instance_id.clone();
    assert!(f
        .ec2
        .describe_instances(std::slice::from_ref(&instance))
        .await
        .unwrap()
        .is_empty());
    assert!(f
        .ec2
        .describe_instances(std::slice::from_ref(&instance))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        f.ec2.describe_instances(&[instance]).await.unwrap().len(),
        1
    );
}

fn tag(wave_number: u32, attempt: u32, part: u32) -> JobTag {
    JobTag {
        execution_id: fixtures::execution_id(),
        wave_number,
        attempt,
        part,
    }
}

#[tokio::test]
async fn tagged_jobs_are_found_by_execution_wave_attempt_part_and_time() {
    let f = world(
        1,
        Progression::Timed(fixed_timings()),
        FaultScript::default(),
    );
    let mut part1 = request(0..1);
    part1.wave_number = 1;
    part1.part = 1;
    let id = f.drs.start_recovery(&part1).await.unwrap().job_id;
    let found = |t: JobTag, since: i64| {
        let drs = f.drs.clone();
        async move {
            drs.find_tagged_job(&t, Timestamp(since))
                .await
                .unwrap()
                .map(|j| j.job_id)
        }
    };
    assert_eq!(found(tag(1, 1, 1), T0).await, Some(id.clone()));
    assert_eq!(found(tag(0, 1, 1), T0).await, None, "another wave");
    assert_eq!(found(tag(1, 2, 1), T0).await, None, "another attempt");
    assert_eq!(found(tag(1, 1, 0), T0).await, None, "another part");
    assert_eq!(
        found(tag(1, 1, 1), T0 + 1).await,
        None,
        "created before `since`"
    );
    let stranger = JobTag {
        execution_id: ExecutionId::new_random(),
        ..tag(1, 1, 1)
    };
    assert_eq!(found(stranger, T0).await, None);
    let tags = &f.world.jobs()[0].tags;
    assert_eq!(tags["executionId"], fixtures::execution_id().to_string());
    assert_eq!(
        (
            tags["waveNumber"].as_str(),
            tags["attempt"].as_str(),
            tags["part"].as_str()
        ),
        ("1", "1", "1")
    );

    // The first of two jobs with the same tags is the one found.
    f.clock.advance_secs(5);
    f.drs.start_recovery(&part1).await.unwrap();
    assert_eq!(found(tag(1, 1, 1), T0).await, Some(id));
}

#[tokio::test]
async fn a_job_of_version_1_is_attempt_1_part_0() {
    let f = world(1, Progression::Static, FaultScript::default());
    let v1 = std::collections::BTreeMap::from([
        (
            "executionId".to_owned(),
            fixtures::execution_id().to_string(),
        ),
        ("waveNumber".to_owned(), "2".to_owned()),
    ]);
    f.world.add_job(crate::Job::fixed(
        fixtures::job(7),
        JobStatus::Started,
        Timestamp(T0),
        vec![],
        v1,
    ));
    let found = f
        .drs
        .find_tagged_job(&tag(2, 1, 0), Timestamp(T0))
        .await
        .unwrap();
    assert_eq!(found.map(|j| j.job_id), Some(fixtures::job(7)));
    assert_eq!(
        f.drs
            .find_tagged_job(&tag(2, 2, 0), Timestamp(T0))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_static_world_never_moves_on_its_own() {
    let f = world(1, Progression::Static, FaultScript::default());
    let id = f.drs.start_recovery(&request(0..2)).await.unwrap().job_id;
    f.clock.advance_secs(100_000);
    let j = job(&f, &id).await;
    assert_eq!(
        (j.status.clone(), statuses(&j)),
        (JobStatus::Pending, vec![LaunchStatus::Pending; 2])
    );
}

#[tokio::test]
async fn calls_can_be_given_a_fixed_latency() {
    let f = world(1, Progression::Static, FaultScript::default());
    f.calls.set_latency(Some(Duration::from_millis(30)));
    let wall = Instant::now();
    f.drs.describe_jobs(&[]).await.unwrap();
    assert!(wall.elapsed() >= Duration::from_millis(30));
}

#[tokio::test]
async fn per_call_faults_reach_the_ports() {
    let f = world(
        1,
        Progression::Timed(fixed_timings()),
        FaultScript::default(),
    );
    f.calls
        .throttle(Api::StartRecovery, 1, Some(Duration::from_secs(5)));
    f.calls.fail_with_5xx(Api::DescribeInstances, 1);
    assert!(
        matches!(f.drs.start_recovery(&request(0..1)).await, Err(ServiceError::Throttled { retry_after: Some(d), .. }) if d == Duration::from_secs(5))
    );
    assert!(
        f.world.jobs().is_empty(),
        "a throttled StartRecovery starts nothing"
    );
    assert!(f.drs.start_recovery(&request(0..1)).await.is_ok());
    assert!(matches!(
        f.ec2.describe_instances(&[]).await,
        Err(ServiceError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn a_flaky_server_fails_in_its_first_attempts_only() {
    let faults = FaultScript {
        flaky_servers: HashMap::from([(fixtures::server(0), 1)]),
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    let first = f.drs.start_recovery(&request(0..2)).await.unwrap().job_id;
    let mut retry = request(0..1);
    retry.attempt = 2;
    let second = f.drs.start_recovery(&retry).await.unwrap().job_id;
    f.clock.advance_secs(200);
    assert_eq!(
        statuses(&job(&f, &first).await),
        [LaunchStatus::Failed, LaunchStatus::Launched]
    );
    assert_eq!(statuses(&job(&f, &second).await), [LaunchStatus::Launched]);
}

#[tokio::test]
async fn an_omitted_server_is_not_in_its_job_which_completes_without_it() {
    let faults = FaultScript {
        omitted_servers: HashSet::from([fixtures::server(1)]),
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    let started = f.drs.start_recovery(&request(0..3)).await.unwrap();
    let listed = |j: &execution_core::ports::DrsJob| {
        j.participating_servers
            .iter()
            .map(|p| p.source_server_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(&started), [fixtures::server(0), fixtures::server(2)]);
    f.clock.advance_secs(200);
    let j = job(&f, &started.job_id).await;
    assert_eq!(j.status, JobStatus::Completed);
    assert_eq!(listed(&j), [fixtures::server(0), fixtures::server(2)]);
    assert_eq!(statuses(&j), vec![LaunchStatus::Launched; 2]);

    // A job of omitted servers only has none, and completes all the same.
    let faults = FaultScript {
        omitted_servers: HashSet::from([fixtures::server(0)]),
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    let id = f.drs.start_recovery(&request(0..1)).await.unwrap().job_id;
    f.clock.advance_secs(60);
    let j = job(&f, &id).await;
    assert!(j.participating_servers.is_empty());
    assert_eq!(j.status, JobStatus::Completed);
}

#[tokio::test]
async fn a_job_over_the_per_job_quota_is_refused_for_good() {
    let faults = FaultScript {
        job_server_quota: Some(2),
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    for _ in 0..2 {
        let refused = f.drs.start_recovery(&request(0..3)).await.unwrap_err();
        assert!(
            matches!(&refused, ServiceError::Rejected(m) if m.contains("ServiceQuotaExceededException") && m.contains("L-B827C881")),
            "{refused:?}"
        );
    }
    assert!(f.world.jobs().is_empty());
    assert!(f.drs.start_recovery(&request(0..2)).await.is_ok());
    assert!(
        matches!(f.drs.start_recovery(&request(0..201)).await, Err(ServiceError::Rejected(m)) if m.starts_with("ValidationException")),
        "past the API's own limit, DRS does not even look at the quota"
    );
}

#[tokio::test]
async fn quota_and_conflict_refusals_clear_after_n_calls() {
    let faults = FaultScript {
        quota_refusals: Refusals::new(2, None),
        conflict_refusals: Refusals::new(1, Some(15)),
        ..FaultScript::default()
    };
    let f = world(1, Progression::Timed(fixed_timings()), faults);
    let mut refusals = Vec::new();
    for _ in 0..3 {
        match f.drs.start_recovery(&request(0..2)).await {
            Err(ServiceError::Throttled {
                retry_after,
                message,
            }) => refusals.push((retry_after, message)),
            other => panic!("{other:?}"),
        }
    }
    assert!(refusals[0].1.starts_with("ServiceQuotaExceededException"));
    assert!(refusals[1].1.starts_with("ServiceQuotaExceededException"));
    assert_eq!(refusals[0].0, None, "DRS names no retry time for a quota");
    assert!(refusals[2].1.starts_with("ConflictException"));
    assert!(refusals[2].1.contains(fixtures::server(0).as_str()));
    assert_eq!(refusals[2].0, Some(Duration::from_secs(15)));
    assert!(f.world.jobs().is_empty(), "a refusal starts nothing");
    assert!(f.drs.start_recovery(&request(0..2)).await.is_ok());
    assert_eq!(f.calls.count(Api::StartRecovery), 4);
}

// ---------------------------------------------------------------------------------------------
// Source servers, job logs, replaced instances, TerminateRecoveryInstances
// ---------------------------------------------------------------------------------------------

use execution_core::ports::{JobLogEntry, LastLaunch, SourceServer};

use crate::config::{SourceServers, TerminateTimings};

/// A TERMINATE job starts at +5 and its instances are gone at +65; it completes at +70.
fn fixed_terminate() -> TerminateTimings {
    TerminateTimings {
        job_start: Spread::fixed(5),
        terminate: Spread::fixed(60),
        job_complete_lag_secs: 5,
    }
}

fn world_with(faults: FaultScript, servers: SourceServers) -> Fixture {
    let clock = Arc::new(SimClock::at_secs(T0));
    let calls = Arc::new(Calls::default());
    let world = Arc::new(
        World::new(
            clock.clone(),
            calls.clone(),
            1,
            Progression::Timed(fixed_timings()),
            faults,
        )
        .with_source_servers(servers)
        .with_terminate_timings(fixed_terminate()),
    );
    Fixture {
        drs: SimDrs(world.clone()),
        ec2: SimEc2(world.clone()),
        clock,
        calls,
        world,
    }
}

async fn described(f: &Fixture, n: usize) -> Option<SourceServer> {
    let mut found = f
        .drs
        .describe_source_servers(&[fixtures::server(n)])
        .await
        .unwrap();
    assert!(found.len() <= 1);
    found.pop()
}

/// The job's log as (event, server number, rawError, seconds after T0).
async fn log_of(f: &Fixture, id: &JobId) -> Vec<(String, Option<usize>, Option<String>, i64)> {
    let number = |s: &execution_core::ids::SourceServerId| {
        (0..100).find(|n| &fixtures::server(*n) == s).unwrap()
    };
    f.drs
        .job_log(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e: JobLogEntry| {
            (
                e.event,
                e.source_server_id.as_ref().map(number),
                e.raw_error,
                e.time.unwrap().secs() - T0,
            )
        })
        .collect()
}

#[tokio::test]
async fn source_servers_are_described_with_their_replication_and_absence() {
    let servers = SourceServers::default()
        .replicating(
            fixtures::server(1),
            "STALLED",
            Some("FAILED_TO_CONNECT_AGENT_TO_REPLICATION_SERVER"),
        )
        .replicating(fixtures::server(2), "DISCONNECTED", Some("AGENT_NOT_SEEN"))
        .replicating(fixtures::server(4), "BACKLOG", None);
    let servers = SourceServers {
        unknown: [fixtures::server(3)].into(),
        ..servers
    };
    let f = world_with(FaultScript::default(), servers);
    let ids: Vec<_> = [0, 1, 2, 3, 4, 0]
        .into_iter()
        .map(fixtures::server)
        .collect();
    let found = f.drs.describe_source_servers(&ids).await.unwrap();
    let summary: Vec<_> = found
        .iter()
        .map(|s| {
            (
                s.source_server_id.clone(),
                s.replication_state.clone(),
                s.replication_error.clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (fixtures::server(0), Some("CONTINUOUS".into()), None),
            (
                fixtures::server(1),
                Some("STALLED".into()),
                Some("FAILED_TO_CONNECT_AGENT_TO_REPLICATION_SERVER".into()),
            ),
            (
                fixtures::server(2),
                Some("DISCONNECTED".into()),
                Some("AGENT_NOT_SEEN".into()),
            ),
            (fixtures::server(4), Some("BACKLOG".into()), None),
        ],
        "an unknown server is absent, a server asked twice is described once"
    );
    assert!(found
        .iter()
        .all(|s| s.last_launch.is_none() && s.recovery_instance_id.is_none()));
    let too_many: Vec<_> = (0..201).map(fixtures::server).collect();
    assert!(matches!(
        f.drs.describe_source_servers(&too_many).await,
        Err(ServiceError::Rejected(_))
    ));
    assert_eq!(f.calls.count(Api::DescribeSourceServers), 2);

    // The script can change while the world runs.
    f.world.script_source_servers(|s| {
        s.replication
            .insert(fixtures::server(0), crate::Replication::new("PAUSED", None));
    });
    assert_eq!(
        described(&f, 0).await.unwrap().replication_state.as_deref(),
        Some("PAUSED")
    );
}

#[tokio::test]
async fn a_server_s_last_launch_follows_its_job_and_names_its_recovery_instance() {
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(1)]),
        ..FaultScript::default()
    };
    let f = world_with(faults, SourceServers::default());
    let id = f.drs.start_recovery(&request(0..2)).await.unwrap().job_id;
    let last = |status: LaunchStatus| LastLaunch {
        job_id: Some(id.clone()),
        kind: Some("DRILL".into()),
        status: Some(status),
    };
    for n in 0..2 {
        assert_eq!(
            described(&f, n).await.unwrap().last_launch,
            Some(last(LaunchStatus::Pending)),
            "in a job that has not started"
        );
    }
    f.clock.advance_secs(30);
    assert_eq!(
        described(&f, 0).await.unwrap().last_launch,
        Some(last(LaunchStatus::InProgress))
    );
    f.clock.advance_secs(100);
    let launched = described(&f, 0).await.unwrap();
    assert_eq!(launched.last_launch, Some(last(LaunchStatus::Launched)));
    let j = job(&f, &id).await;
    assert_eq!(
        launched.recovery_instance_id,
        j.participating_servers[0].recovery_instance_id
    );
    assert!(launched.recovery_instance_id.is_some());
    let failed = described(&f, 1).await.unwrap();
    assert_eq!(failed.last_launch, Some(last(LaunchStatus::Failed)));
    assert_eq!(failed.recovery_instance_id, None);

    // A recovery is a RECOVERY launch.
    let mut recovery = request(2..3);
    recovery.is_drill = false;
    let r = f.drs.start_recovery(&recovery).await.unwrap().job_id;
    assert_eq!(
        described(&f, 2).await.unwrap().last_launch,
        Some(LastLaunch {
            job_id: Some(r),
            kind: Some("RECOVERY".into()),
            status: Some(LaunchStatus::Pending),
        })
    );
}

#[tokio::test]
async fn a_server_drs_cannot_launch_fails_in_its_job_and_its_log_says_why() {
    let mut servers = SourceServers {
        unknown: [fixtures::server(9)].into(),
        ..SourceServers::default()
    };
    for (n, state) in crate::UNHEALTHY_REPLICATION.iter().enumerate() {
        servers = servers.replicating(fixtures::server(n + 1), state, None);
    }
    // A disconnected server, with the error DRS reports.
    servers = servers.replicating(fixtures::server(8), "DISCONNECTED", Some("AGENT_NOT_SEEN"));
    // Replication that is only behind still launches.
    servers = servers
        .replicating(fixtures::server(10), "BACKLOG", None)
        .replicating(fixtures::server(11), "RESCAN", None)
        .replicating(fixtures::server(12), "CREATING_SNAPSHOT", None);
    let f = world_with(FaultScript::default(), servers);
    let id = f.drs.start_recovery(&request(0..13)).await.unwrap().job_id;
    f.clock.advance_secs(200);
    let j = job(&f, &id).await;
    let failed: Vec<usize> = (0..13)
        .filter(|&n| j.participating_servers[n].launch_status == LaunchStatus::Failed)
        .collect();
    assert_eq!(failed, [1, 2, 3, 4, 5, 6, 8, 9]);
    let log = log_of(&f, &id).await;
    let reason = |n: usize| {
        log.iter()
            .find(|(event, server, ..)| event == "LAUNCH_FAILED" && *server == Some(n))
            .and_then(|(_, _, raw, _)| raw.clone())
            .unwrap_or_default()
    };
    for (n, state) in crate::UNHEALTHY_REPLICATION.iter().enumerate() {
        let why = reason(n + 1);
        assert!(
            why.contains(&format!("data replication is {state}"))
                && why.contains(fixtures::server(n + 1).as_str()),
            "{why}"
        );
    }
    assert!(
        reason(8).contains("data replication is DISCONNECTED (AGENT_NOT_SEEN)"),
        "{}",
        reason(8)
    );
    assert!(reason(9).contains("not found"), "{}", reason(9));
    assert_eq!(
        log.iter().filter(|(e, ..)| e == "LAUNCH_FAILED").count(),
        8,
        "only the servers that failed"
    );
    assert_eq!(described(&f, 9).await, None, "still unknown after the job");
    assert_eq!(
        described(&f, 3).await.unwrap().last_launch.unwrap().status,
        Some(LaunchStatus::Failed)
    );
}

#[tokio::test]
async fn a_job_logs_its_start_each_launch_a_failure_s_reason_and_its_end() {
    let faults = FaultScript {
        failing_servers: HashSet::from([fixtures::server(1)]),
        flaky_servers: HashMap::from([(fixtures::server(2), 1), (fixtures::server(3), 1)]),
        ..FaultScript::default()
    };
    let servers = SourceServers {
        launch_errors: [(
            fixtures::server(3),
            "CONVERSION_FAIL: the boot volume has no supported operating system".to_owned(),
        )]
        .into(),
        ..SourceServers::default()
    };
    let f = world_with(faults, servers);
    let id = f.drs.start_recovery(&request(0..4)).await.unwrap().job_id;
    assert_eq!(
        log_of(&f, &id).await,
        [],
        "a job that has not started logs nothing"
    );
    f.clock.advance_secs(10);
    assert_eq!(
        log_of(&f, &id).await,
        [("JOB_START".to_owned(), None, None, 10)]
    );
    // One jump of the clock over every other entry: they are logged in the order they happened.
    f.clock.advance_secs(500);
    let s = |x: &str| Some(x.to_owned());
    let mut expected = vec![("JOB_START".to_owned(), None, None, 10)];
    expected.extend((0..4).map(|n| ("LAUNCH_START".to_owned(), Some(n), None, 30)));
    expected.extend([
        (
            "LAUNCH_FAILED".to_owned(),
            Some(1),
            s(crate::DEFAULT_LAUNCH_ERROR),
            130,
        ),
        (
            "LAUNCH_FAILED".to_owned(),
            Some(2),
            s(crate::DEFAULT_TRANSIENT_LAUNCH_ERROR),
            130,
        ),
        (
            "LAUNCH_FAILED".to_owned(),
            Some(3),
            s("CONVERSION_FAIL: the boot volume has no supported operating system"),
            130,
        ),
        ("JOB_END".to_owned(), None, None, 135),
    ]);
    assert_eq!(log_of(&f, &id).await, expected);
    assert_eq!(
        f.drs.job_log(&fixtures::job(99)).await.unwrap(),
        [],
        "a job DRS does not list has no log"
    );
    assert_eq!(f.calls.count(Api::DescribeJobLogItems), 4);

    // The flaky server's retry launches, and says nothing of a failure.
    let mut retry = request(2..3);
    retry.attempt = 2;
    let again = f.drs.start_recovery(&retry).await.unwrap().job_id;
    f.clock.advance_secs(200);
    assert!(log_of(&f, &again)
        .await
        .iter()
        .all(|(event, ..)| event != "LAUNCH_FAILED"));
}

#[tokio::test]
async fn jobs_carry_their_creation_and_end_times() {
    let f = world_with(FaultScript::default(), SourceServers::default());
    let started = f.drs.start_recovery(&request(0..1)).await.unwrap();
    assert_eq!(started.created_time, Some(Timestamp(T0)));
    assert_eq!(started.ended_time, None);
    f.clock.advance_secs(134);
    assert_eq!(job(&f, &started.job_id).await.ended_time, None);
    f.clock.advance_secs(100);
    let j = job(&f, &started.job_id).await;
    assert_eq!(
        (j.status.clone(), j.created_time, j.ended_time),
        (
            JobStatus::Completed,
            Some(Timestamp(T0)),
            Some(Timestamp(T0 + 135))
        ),
        "the end is when the job completed, not when it was asked about"
    );
}

#[tokio::test]
async fn a_new_launch_of_a_server_replaces_its_recovery_instance() {
    let f = world_with(FaultScript::default(), SourceServers::default());
    let first = f.drs.start_recovery(&request(0..2)).await.unwrap().job_id;
    f.clock.advance_secs(200);
    let old = job(&f, &first).await.participating_servers[0]
        .recovery_instance_id
        .clone()
        .unwrap();
    let second = f.drs.start_recovery(&request(0..1)).await.unwrap().job_id;
    f.clock.advance_secs(129);
    let ris = f
        .drs
        .describe_recovery_instances(&[fixtures::server(0)])
        .await
        .unwrap();
    assert_eq!(
        ris.iter()
            .map(|r| r.recovery_instance_id.clone())
            .collect::<Vec<_>>(),
        std::slice::from_ref(&old),
        "the old instance runs until the new one launches"
    );
    f.clock.advance_secs(1);
    let new = job(&f, &second).await.participating_servers[0]
        .recovery_instance_id
        .clone()
        .unwrap();
    assert_ne!(new, old);
    let ris = f
        .drs
        .describe_recovery_instances(&[fixtures::server(0), fixtures::server(1)])
        .await
        .unwrap();
    let of_0: Vec<_> = ris
        .iter()
        .filter(|r| r.source_server_id == fixtures::server(0))
        .collect();
    assert_eq!(of_0.len(), 1, "{ris:?}");
    assert_eq!(of_0[0].recovery_instance_id, new);
    assert_eq!(of_0[0].job_id.as_ref(), Some(&second));
    assert_eq!(ris.len(), 2, "server 1 keeps its own");
    assert_eq!(
        f.ec2
            .describe_instances(&[old.clone(), new.clone()])
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.instance_id)
            .collect::<Vec<_>>(),
        std::slice::from_ref(&new),
        "DRS terminated the old EC2 instance"
    );
    assert_eq!(f.world.instances().len(), 2);
    let server = described(&f, 0).await.unwrap();
    assert_eq!(server.recovery_instance_id, Some(new));
    assert_eq!(server.last_launch.unwrap().job_id, Some(second));
}

/// Launches servers 0..n and lets them settle: their recovery instances.
async fn launched(f: &Fixture, n: usize) -> Vec<InstanceId> {
    let id = f.drs.start_recovery(&request(0..n)).await.unwrap().job_id;
    f.clock.advance_secs(200);
    job(f, &id)
        .await
        .participating_servers
        .into_iter()
        .map(|p| p.recovery_instance_id.unwrap())
        .collect()
}

#[tokio::test]
async fn terminated_instances_are_gone_from_drs_and_ec2_after_the_delay() {
    let f = world_with(FaultScript::default(), SourceServers::default());
    let instances = launched(&f, 3).await;
    let at = f.clock.now().secs() - T0;
    let asked = &instances[..2];
    let job_id = {
        let started = f.drs.terminate_recovery_instances(asked).await.unwrap();
        assert_eq!(started.status, JobStatus::Pending);
        assert_eq!(started.created_time, Some(f.clock.now()));
        assert_eq!(
            started
                .participating_servers
                .iter()
                .map(|p| (
                    p.source_server_id.clone(),
                    p.recovery_instance_id.clone(),
                    p.launch_status.clone()
                ))
                .collect::<Vec<_>>(),
            [0, 1]
                .map(|n| (
                    fixtures::server(n),
                    Some(instances[n].clone()),
                    LaunchStatus::Pending
                ))
                .to_vec()
        );
        started.job_id
    };
    let kept = f.world.jobs().into_iter().last().unwrap();
    assert_eq!(
        (kept.job_type, kept.initiated_by(), kept.tags.len()),
        (crate::JobType::Terminate, "TERMINATE_RECOVERY_INSTANCES", 0)
    );
    let servers: Vec<_> = (0..3).map(fixtures::server).collect();
    f.clock.advance_secs(64);
    assert_eq!(
        f.drs
            .describe_recovery_instances(&servers)
            .await
            .unwrap()
            .len(),
        3,
        "not yet"
    );
    assert_eq!(job(&f, &job_id).await.status, JobStatus::Started);
    f.clock.advance_secs(1);
    let left = f.drs.describe_recovery_instances(&servers).await.unwrap();
    assert_eq!(
        left.iter()
            .map(|r| r.recovery_instance_id.clone())
            .collect::<Vec<_>>(),
        [instances[2].clone()]
    );
    assert_eq!(
        f.ec2
            .describe_instances(&instances)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.instance_id)
            .collect::<Vec<_>>(),
        [instances[2].clone()]
    );
    for n in 0..2 {
        let server = described(&f, n).await.unwrap();
        assert_eq!(server.recovery_instance_id, None);
        assert_eq!(
            server.last_launch.unwrap().status,
            Some(LaunchStatus::Terminated)
        );
    }
    assert_eq!(
        described(&f, 2).await.unwrap().last_launch.unwrap().status,
        Some(LaunchStatus::Launched)
    );
    f.clock.advance_secs(5);
    let j = job(&f, &job_id).await;
    assert_eq!(j.status, JobStatus::Completed);
    assert_eq!(j.ended_time, Some(Timestamp(T0 + at + 70)));
    assert_eq!(statuses(&j), vec![LaunchStatus::Terminated; 2]);
    assert!(j
        .participating_servers
        .iter()
        .all(|p| p.recovery_instance_id.is_some()));
    let mut expected = vec![("JOB_START".to_owned(), None, None, at + 5)];
    expected.extend((0..2).map(|n| ("CLEANUP_START".to_owned(), Some(n), None, at + 5)));
    expected.extend((0..2).map(|n| ("CLEANUP_END".to_owned(), Some(n), None, at + 65)));
    expected.push(("JOB_END".to_owned(), None, None, at + 70));
    assert_eq!(log_of(&f, &job_id).await, expected);
}

#[tokio::test]
async fn terminate_refuses_what_drs_refuses() {
    let f = world_with(FaultScript::default(), SourceServers::default());
    let instances = launched(&f, 2).await;
    for count in [0, 201] {
        let ids: Vec<_> = (0..count).map(fixtures::instance).collect();
        let refused = f.drs.terminate_recovery_instances(&ids).await.unwrap_err();
        assert!(
            matches!(&refused, ServiceError::Rejected(m) if m.starts_with("ValidationException")),
            "{refused:?}"
        );
    }
    let stranger = fixtures::instance(7);
    let refused = f
        .drs
        .terminate_recovery_instances(&[instances[0].clone(), stranger.clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ServiceError::Rejected(m) if m.starts_with("ValidationException") && m.contains(stranger.as_str())),
        "{refused:?}"
    );
    assert_eq!(f.world.jobs().len(), 1, "a refusal starts no job");
    assert_eq!(f.world.recovery_instances().len(), 2);

    // The same instance twice in one request is one participant.
    let first = f
        .drs
        .terminate_recovery_instances(&[instances[0].clone(), instances[0].clone()])
        .await
        .unwrap();
    assert_eq!(first.participating_servers.len(), 1);
    // While its TERMINATE job runs, asking again is a conflict, which clears.
    let conflict = f
        .drs
        .terminate_recovery_instances(&instances[..1])
        .await
        .unwrap_err();
    assert!(
        matches!(&conflict, ServiceError::Throttled { message, .. } if message.starts_with("ConflictException") && message.contains(first.job_id.as_str())),
        "{conflict:?}"
    );
    f.clock.advance_secs(100);
    let gone = f
        .drs
        .terminate_recovery_instances(&instances[..1])
        .await
        .unwrap_err();
    assert!(
        matches!(&gone, ServiceError::Rejected(m) if m.starts_with("ValidationException")),
        "a terminated instance is no recovery instance any more: {gone:?}"
    );
    assert!(f
        .drs
        .terminate_recovery_instances(&instances[1..])
        .await
        .is_ok());
}

#[tokio::test]
async fn find_terminate_job_finds_the_first_terminate_job_naming_an_instance() {
    let f = world_with(FaultScript::default(), SourceServers::default());
    let instances = launched(&f, 3).await;
    let found = |ids: Vec<InstanceId>, since: i64| {
        let drs = f.drs.clone();
        async move {
            drs.find_terminate_job(&ids, Timestamp(since))
                .await
                .unwrap()
                .map(|j| j.job_id)
        }
    };
    let (a, b, c) = (
        instances[0].clone(),
        instances[1].clone(),
        instances[2].clone(),
    );
    assert_eq!(found(vec![a.clone()], T0).await, None);
    let at = f.clock.now().secs();
    let first = f
        .drs
        .terminate_recovery_instances(std::slice::from_ref(&a))
        .await
        .unwrap()
        .job_id;
    f.clock.advance_secs(10);
    let second = f
        .drs
        .terminate_recovery_instances(std::slice::from_ref(&b))
        .await
        .unwrap()
        .job_id;
    assert_eq!(found(vec![a.clone()], T0).await, Some(first.clone()));
    assert_eq!(found(vec![b.clone()], T0).await, Some(second.clone()));
    assert_eq!(
        found(vec![c.clone(), b.clone(), a.clone()], T0).await,
        Some(first.clone()),
        "the first created"
    );
    assert_eq!(found(vec![c], T0).await, None, "not asked for");
    assert_eq!(
        found(vec![a.clone(), b.clone()], at + 1).await,
        Some(second),
        "created before `since`"
    );
    // Still found once the job has run and the instance is gone.
    f.clock.advance_secs(200);
    assert_eq!(found(vec![a], at).await, Some(first));
    // A TERMINATE job has no tags: it is never a launch's tagged job.
    assert_eq!(
        f.drs
            .find_tagged_job(&tag(0, 1, 0), Timestamp(T0))
            .await
            .unwrap()
            .map(|j| j.participating_servers.len()),
        Some(3)
    );
    assert_eq!(f.calls.count(Api::FindTerminateJob), 7);
}

#[tokio::test]
async fn terminate_can_be_throttled_fail_before_acting_or_lose_its_answer_after() {
    let f = world_with(FaultScript::default(), SourceServers::default());
    let instances = launched(&f, 1).await;
    let jobs = |f: &Fixture| {
        f.world
            .jobs()
            .into_iter()
            .filter(|j| j.job_type == crate::JobType::Terminate)
            .count()
    };
    f.calls.throttle(
        Api::TerminateRecoveryInstances,
        1,
        Some(Duration::from_secs(3)),
    );
    assert!(matches!(
        f.drs.terminate_recovery_instances(&instances).await,
        Err(ServiceError::Throttled { retry_after: Some(d), .. }) if d == Duration::from_secs(3)
    ));
    f.calls.fail_with_5xx(Api::TerminateRecoveryInstances, 1);
    assert!(matches!(
        f.drs.terminate_recovery_instances(&instances).await,
        Err(ServiceError::Unavailable { .. })
    ));
    assert_eq!(jobs(&f), 0, "neither acted");

    f.calls.lose_answers(Api::TerminateRecoveryInstances, 1);
    let lost = f
        .drs
        .terminate_recovery_instances(&instances)
        .await
        .unwrap_err();
    assert!(
        matches!(&lost, ServiceError::Unavailable { message, .. } if message.contains("lost")),
        "{lost:?}"
    );
    assert_eq!(jobs(&f), 1, "it acted before its answer was lost");
    let found = f
        .drs
        .find_terminate_job(&instances, Timestamp(T0))
        .await
        .unwrap();
    assert!(found.is_some(), "the lost answer's job is found");
    f.clock.advance_secs(100);
    assert!(f.world.recovery_instances().is_empty());
    assert_eq!(f.calls.count(Api::TerminateRecoveryInstances), 3);

    // StartRecovery can lose its answer after acting too.
    f.calls.lose_answers(Api::StartRecovery, 1);
    assert!(matches!(
        f.drs.start_recovery(&request(5..6)).await,
        Err(ServiceError::Unavailable { .. })
    ));
    assert!(f
        .drs
        .find_tagged_job(&tag(0, 1, 0), Timestamp(f.clock.now().secs()))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn a_static_world_s_terminate_job_stays_as_it_was_asked() {
    let f = world(1, Progression::Static, FaultScript::default());
    f.world
        .add_recovery_instance(execution_core::ports::RecoveryInstance {
            recovery_instance_id: fixtures::instance(1),
            ec2_instance_id: Some(fixtures::instance(1)),
            source_server_id: fixtures::server(0),
            job_id: None,
            is_drill: Some(true),
        });
    let id = f
        .drs
        .terminate_recovery_instances(&[fixtures::instance(1)])
        .await
        .unwrap()
        .job_id;
    f.clock.advance_secs(100_000);
    let j = job(&f, &id).await;
    assert_eq!(
        (j.status.clone(), statuses(&j), j.ended_time),
        (JobStatus::Pending, vec![LaunchStatus::Pending], None)
    );
    assert_eq!(f.world.recovery_instances().len(), 1);
    assert_eq!(
        described(&f, 0).await.unwrap().recovery_instance_id,
        Some(fixtures::instance(1))
    );
}

#[tokio::test]
async fn a_seed_decides_launches_terminations_and_logs() {
    async fn run(seed: u64) -> Vec<crate::Job> {
        let f = world(
            seed,
            Progression::Timed(Timings::default()),
            FaultScript {
                failing_servers: HashSet::from([fixtures::server(3)]),
                ..FaultScript::default()
            },
        );
        f.drs.start_recovery(&request(0..10)).await.unwrap();
        f.clock.advance_secs(800);
        let ids: Vec<_> = f
            .world
            .recovery_instances()
            .into_iter()
            .map(|r| r.recovery_instance_id)
            .collect();
        f.drs.terminate_recovery_instances(&ids).await.unwrap();
        f.clock.advance_secs(60);
        f.world.jobs()
    }
    let a = run(3).await;
    assert_eq!(a, run(3).await);
    assert_ne!(a, run(4).await);
    assert!(a.iter().all(|j| !j.log.is_empty()));
}

#[tokio::test]
async fn a_termination_leaves_a_later_launch_of_the_server_as_its_last() {
    let f = world_with(FaultScript::default(), SourceServers::default());
    let instances = launched(&f, 1).await;
    f.drs
        .terminate_recovery_instances(&instances)
        .await
        .unwrap();
    f.clock.advance_secs(1);
    let relaunch = f.drs.start_recovery(&request(0..1)).await.unwrap().job_id;
    f.clock.advance_secs(64);
    let server = described(&f, 0).await.unwrap();
    assert_eq!(
        server.recovery_instance_id, None,
        "the old instance is gone"
    );
    assert_eq!(
        server.last_launch,
        Some(LastLaunch {
            job_id: Some(relaunch.clone()),
            kind: Some("DRILL".into()),
            status: Some(LaunchStatus::InProgress),
        }),
        "the running launch is the server's last, not the terminated one"
    );
    f.clock.advance_secs(100);
    let server = described(&f, 0).await.unwrap();
    assert_eq!(
        server.last_launch.and_then(|l| l.status),
        Some(LaunchStatus::Launched)
    );
    assert!(server.recovery_instance_id.is_some());
}
