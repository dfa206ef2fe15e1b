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
