//! DescribeSourceServers, DescribeJobLogItems, TerminateRecoveryInstances and the TERMINATE job's
//! search, through the real DRS client answered by aws-smithy-mocks rules.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_adapters::DrsService;
use aws_sdk_drs::config::http::HttpResponse;
use aws_sdk_drs::operation::describe_job_log_items::{
    DescribeJobLogItemsError, DescribeJobLogItemsOutput,
};
use aws_sdk_drs::operation::describe_jobs::DescribeJobsOutput;
use aws_sdk_drs::operation::describe_source_servers::{
    DescribeSourceServersError, DescribeSourceServersOutput,
};
use aws_sdk_drs::operation::terminate_recovery_instances::{
    TerminateRecoveryInstancesError, TerminateRecoveryInstancesOutput,
};
use aws_sdk_drs::types::error::{
    ConflictException, InternalServerException, ServiceQuotaExceededException, ThrottlingException,
    UninitializedAccountException,
};
use aws_sdk_drs::types::{
    self as drs, JobLogEvent, JobStatus as SdkJobStatus, JobType, LaunchStatus as SdkLaunchStatus,
};
use aws_sdk_drs::Client;
use aws_smithy_mocks::{mock, RuleMode};
use execution_core::fixtures::{instance, job, server};
use execution_core::ids::InstanceId;
use execution_core::model::Timestamp;
use execution_core::ports::{
    Drs, DrsJob, JobLogEntry, LastLaunch, ParticipatingServer, ServiceError, SourceServer,
};
use execution_core::status::{JobStatus, LaunchStatus};

use crate::common::meta;

/// 2024-05-01T10:00:00Z.
const T10: i64 = 1_714_557_600;

/// Every `dataReplicationState` DRS documents.
const STATES: [&str; 10] = [
    "STOPPED",
    "INITIATING",
    "INITIAL_SYNC",
    "BACKLOG",
    "CREATING_SNAPSHOT",
    "CONTINUOUS",
    "PAUSED",
    "RESCAN",
    "STALLED",
    "DISCONNECTED",
];

/// A 200 answer with this JSON body, as DRS sends it (restJson1).
fn json(body: String) -> HttpResponse {
    HttpResponse::new(
        200.try_into().unwrap(),
        aws_smithy_types::body::SdkBody::from(body),
    )
}

/// A source server as DescribeSourceServers lists it on the wire, replicating in `state`.
fn wire_server(n: usize, state: &str) -> String {
    format!(
        r#"{{"sourceServerID":"{}","dataReplicationInfo":{{"dataReplicationState":"{state}"}}}}"#,
        server(n)
    )
}

/// Every documented replication state, and one DRS adds later, arrive as DRS spelled them; the
/// other fields (hostname, replication error, last launch, recovery instance) are mapped; a
/// second page is followed.
#[tokio::test]
async fn describe_source_servers_maps_every_field_and_keeps_every_replication_state() {
    let full = format!(
        r#"{{"sourceServerID":"{s}","recoveryInstanceId":"{ri}",
            "sourceProperties":{{"identificationHints":{{"hostname":"db-01","fqdn":"db-01.corp"}}}},
            "dataReplicationInfo":{{"dataReplicationState":"STALLED",
                "dataReplicationError":{{"error":"AGENT_NOT_SEEN","rawError":"no heartbeat for 3600 s"}}}},
            "lifeCycle":{{"lastLaunch":{{"initiated":{{"jobID":"{j}","type":"DRILL","apiCallDateTime":"2024-05-01T09:00:00Z"}},
                "status":"IN_PROGRESS"}}}},
            "lastLaunchResult":"PENDING","replicationDirection":"FAILOVER"}}"#,
        s = server(20),
        ri = instance(20),
        j = job(3),
    );
    let mut page1: Vec<String> = STATES
        .iter()
        .enumerate()
        .map(|(n, state)| wire_server(n, state))
        .collect();
    page1.push(wire_server(10, "REPLICATING_TO_MARS"));
    let page1 = format!(r#"{{"items":[{}],"nextToken":"page-2"}}"#, page1.join(","));
    // Page 2: the full server, one DRS knows nothing about yet, and one whose error has no code
    // and whose last launch names a status DRS adds later.
    let page2 = format!(
        r#"{{"items":[{full},{{"sourceServerID":"{bare}"}},
            {{"sourceServerID":"{odd}","dataReplicationInfo":{{"dataReplicationError":{{"rawError":"disk gone"}}}},
              "lifeCycle":{{"lastLaunch":{{"status":"RECOVERY_PAUSED"}}}}}}]}}"#,
        bare = server(21),
        odd = server(22),
    );
    let requested = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requested);
    let first = mock!(Client::describe_source_servers)
        .match_requests(move |r| {
            seen.lock().unwrap().push(
                r.filters()
                    .map(|f| f.source_server_ids().to_vec())
                    .unwrap_or_default(),
            );
            r.next_token().is_none()
        })
        .then_http_response(move || json(page1.clone()));
    let second = mock!(Client::describe_source_servers)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_http_response(move || json(page2.clone()));
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&first, &second]
    ));
    let ids: Vec<_> = (0..23).map(server).collect();
    let found = drs.describe_source_servers(&ids).await.unwrap();

    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    let asked = requested.lock().unwrap().clone();
    assert_eq!(
        asked.first().cloned().unwrap_or_default(),
        ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "filters.sourceServerIDs names every server"
    );
    assert_eq!(found.len(), 14);
    let states: Vec<Option<&str>> = found[..11]
        .iter()
        .map(|s| s.replication_state.as_deref())
        .collect();
    let mut expected: Vec<Option<&str>> = STATES.iter().copied().map(Some).collect();
    expected.push(Some("REPLICATING_TO_MARS"));
    assert_eq!(states, expected);
    assert_eq!(found[3].source_server_id, server(3));
    assert_eq!(
        found[11],
        SourceServer {
            source_server_id: server(20),
            hostname: Some("db-01".into()),
            replication_state: Some("STALLED".into()),
            replication_error: Some("AGENT_NOT_SEEN: no heartbeat for 3600 s".into()),
            last_launch: Some(LastLaunch {
                job_id: Some(job(3)),
                kind: Some("DRILL".into()),
                status: Some(LaunchStatus::InProgress),
            }),
            recovery_instance_id: Some(instance(20)),
        }
    );
    assert_eq!(
        found[12],
        SourceServer {
            source_server_id: server(21),
            hostname: None,
            replication_state: None,
            replication_error: None,
            last_launch: None,
            recovery_instance_id: None,
        }
    );
    assert_eq!(found[13].replication_error.as_deref(), Some("disk gone"));
    assert_eq!(
        found[13].last_launch,
        Some(LastLaunch {
            job_id: None,
            kind: None,
            status: Some(LaunchStatus::Other("RECOVERY_PAUSED".into())),
        })
    );
}

#[tokio::test]
async fn describe_source_servers_asks_for_200_at_a_time() {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&batches);
    let rule = mock!(Client::describe_source_servers).then_compute_output(move |r| {
        let ids = r
            .filters()
            .map(|f| f.source_server_ids().to_vec())
            .unwrap_or_default();
        seen.lock().unwrap().push(ids.len());
        let items = ids
            .iter()
            .map(|id| drs::SourceServer::builder().source_server_id(id).build())
            .collect();
        DescribeSourceServersOutput::builder()
            .set_items(Some(items))
            .build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let ids: Vec<_> = (0..250).map(server).collect();
    let found = drs.describe_source_servers(&ids).await.unwrap();
    assert_eq!(
        found
            .iter()
            .map(|s| s.source_server_id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(*batches.lock().unwrap(), [200, 50]);
}

#[tokio::test]
async fn describe_source_servers_errors_are_classified_and_bad_answers_unavailable() {
    let throttled = mock!(Client::describe_source_servers).then_error(|| {
        DescribeSourceServersError::ThrottlingException(
            ThrottlingException::builder()
                .message("Rate exceeded")
                .retry_after_seconds("4")
                .meta(meta("ThrottlingException", "Rate exceeded"))
                .build()
                .unwrap(),
        )
    });
    let denied = mock!(Client::describe_source_servers)
        .then_error(|| DescribeSourceServersError::generic(meta("AccessDeniedException", "no")));
    let bad_id = mock!(Client::describe_source_servers).then_output(|| {
        DescribeSourceServersOutput::builder()
            .items(drs::SourceServer::builder().source_server_id("s-1").build())
            .build()
    });
    let bad_job = mock!(Client::describe_source_servers).then_output(|| {
        let launch = drs::LifeCycleLastLaunch::builder()
            .initiated(
                drs::LifeCycleLastLaunchInitiated::builder()
                    .job_id("job-1")
                    .build(),
            )
            .build();
        DescribeSourceServersOutput::builder()
            .items(
                drs::SourceServer::builder()
                    .source_server_id(server(1).to_string())
                    .life_cycle(drs::LifeCycle::builder().last_launch(launch).build())
                    .build(),
            )
            .build()
    });
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::Sequential,
        [&throttled, &denied, &bad_id, &bad_job]
    ));
    let r = drs.describe_source_servers(&[server(1)]).await;
    assert!(
        matches!(&r, Err(ServiceError::Throttled { retry_after, .. }) if *retry_after == Some(Duration::from_secs(4))),
        "{r:?}"
    );
    let r = drs.describe_source_servers(&[server(1)]).await;
    assert!(
        matches!(&r, Err(ServiceError::Rejected(m)) if m.contains("AccessDenied")),
        "{r:?}"
    );
    for what in ["server id", "job id"] {
        let r = drs.describe_source_servers(&[server(1)]).await;
        assert!(
            matches!(&r, Err(ServiceError::Unavailable { message, .. }) if message.contains("unreadable")),
            "{what}: {r:?}"
        );
    }
}

fn log_item(event: &str, server: Option<String>, raw_error: Option<&str>, at: &str) -> drs::JobLog {
    let mut data = drs::JobLogEventData::builder();
    if let Some(s) = server {
        data = data.source_server_id(s);
    }
    if let Some(e) = raw_error {
        data = data.raw_error(e);
    }
    drs::JobLog::builder()
        .event(JobLogEvent::from(event))
        .event_data(data.build())
        .log_date_time(at)
        .build()
}

/// Every page of the job's log, for that job; events DRS adds later kept as spelled; oldest first
/// by time even when DRS lists them otherwise.
#[tokio::test]
async fn job_log_follows_every_page_and_maps_each_entry() {
    let wanted = job(4).to_string();
    let page1 = mock!(Client::describe_job_log_items)
        .match_requests(move |r| r.job_id() == Some(wanted.as_str()) && r.next_token().is_none())
        .then_output(|| {
            DescribeJobLogItemsOutput::builder()
                .items(log_item("JOB_START", None, None, "2024-05-01T10:00:00Z"))
                .items(log_item(
                    "LAUNCH_START",
                    Some(server(1).to_string()),
                    None,
                    "2024-05-01T10:00:05.5Z",
                ))
                .next_token("more")
                .build()
        });
    let page2 = mock!(Client::describe_job_log_items)
        .match_requests(|r| r.next_token() == Some("more"))
        .then_output(|| {
            DescribeJobLogItemsOutput::builder()
                .items(log_item(
                    "LAUNCH_FAILED",
                    Some(server(1).to_string()),
                    Some("InsufficientInstanceCapacity: no m5.large in us-east-1a"),
                    "2024-05-01T10:03:00Z",
                ))
                // Listed last, logged before the failure (an offset, and as text it sorts after).
                .items(log_item(
                    "SOMETHING_NEW",
                    Some(server(2).to_string()),
                    None,
                    "2024-05-01T12:01:00+02:00",
                ))
                .items(drs::JobLog::builder().event(JobLogEvent::JobEnd).build())
                .build()
        });
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&page1, &page2]
    ));
    let log = drs.job_log(&job(4)).await.unwrap();
    assert_eq!((page1.num_calls(), page2.num_calls()), (1, 1));
    let entry = |event: &str, s: Option<usize>, raw: Option<&str>, time: Option<i64>| JobLogEntry {
        event: event.into(),
        source_server_id: s.map(server),
        raw_error: raw.map(Into::into),
        time: time.map(Timestamp),
    };
    assert_eq!(
        log,
        [
            entry("JOB_START", None, None, Some(T10)),
            entry("LAUNCH_START", Some(1), None, Some(T10 + 5)),
            entry("SOMETHING_NEW", Some(2), None, Some(T10 + 60)),
            entry(
                "LAUNCH_FAILED",
                Some(1),
                Some("InsufficientInstanceCapacity: no m5.large in us-east-1a"),
                Some(T10 + 180)
            ),
            // No time: after every entry that has one.
            entry("JOB_END", None, None, None),
        ]
    );
}

#[tokio::test]
async fn job_log_errors_are_classified() {
    let internal = mock!(Client::describe_job_log_items).then_error(|| {
        DescribeJobLogItemsError::InternalServerException(
            InternalServerException::builder()
                .message("oops")
                .retry_after_seconds(9)
                .meta(meta("InternalServerException", "oops"))
                .build()
                .unwrap(),
        )
    });
    let throttled = mock!(Client::describe_job_log_items)
        .sequence()
        .http_status(
            429,
            Some(r#"{"__type":"ThrottlingException","message":"slow down"}"#.into()),
        )
        .build();
    let bad_server = mock!(Client::describe_job_log_items).then_output(|| {
        DescribeJobLogItemsOutput::builder()
            .items(log_item(
                "LAUNCH_START",
                Some("s-x".into()),
                None,
                "2024-05-01T10:00:00Z",
            ))
            .build()
    });
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::Sequential,
        [&internal, &throttled, &bad_server]
    ));
    let r = drs.job_log(&job(1)).await;
    assert!(
        matches!(&r, Err(ServiceError::Unavailable { retry_after, .. }) if *retry_after == Some(Duration::from_secs(9))),
        "{r:?}"
    );
    let r = drs.job_log(&job(1)).await;
    assert!(matches!(&r, Err(ServiceError::Throttled { .. })), "{r:?}");
    let r = drs.job_log(&job(1)).await;
    assert!(
        matches!(&r, Err(ServiceError::Unavailable { message, .. }) if message.contains("unreadable")),
        "{r:?}"
    );
}

/// A job of `kind` created at `created`, whose participants are these recovery instances.
fn sdk_job(n: usize, kind: JobType, created: &str, instances: &[InstanceId]) -> drs::Job {
    let mut b = drs::Job::builder()
        .job_id(job(n).to_string())
        .r#type(kind)
        .status(SdkJobStatus::Started)
        .creation_date_time(created);
    for (i, ri) in instances.iter().enumerate() {
        b = b.participating_servers(
            drs::ParticipatingServer::builder()
                .source_server_id(server(i).to_string())
                .launch_status(SdkLaunchStatus::Launched)
                .recovery_instance_id(ri.to_string())
                .build(),
        );
    }
    b.build().unwrap()
}

fn terminate_output() -> TerminateRecoveryInstancesOutput {
    let mut j = sdk_job(
        9,
        JobType::Terminate,
        "2024-05-01T10:00:00Z",
        &[instance(0), instance(1)],
    );
    j.status = Some(SdkJobStatus::Pending);
    j.participating_servers = j.participating_servers.map(|servers| {
        servers
            .into_iter()
            .map(|mut p| {
                p.launch_status = Some(SdkLaunchStatus::Pending);
                p
            })
            .collect()
    });
    TerminateRecoveryInstancesOutput::builder().job(j).build()
}

#[tokio::test]
async fn terminate_recovery_instances_names_the_instances_and_returns_the_job() {
    let rule = mock!(Client::terminate_recovery_instances)
        .match_requests(|r| {
            r.recovery_instance_ids() == [instance(0).to_string(), instance(1).to_string()]
        })
        .then_output(terminate_output);
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let started = drs
        .terminate_recovery_instances(&[instance(0), instance(1)])
        .await
        .unwrap();
    assert_eq!(
        started,
        DrsJob {
            job_id: job(9),
            status: JobStatus::Pending,
            participating_servers: (0..2)
                .map(|n| ParticipatingServer {
                    source_server_id: server(n),
                    launch_status: LaunchStatus::Pending,
                    recovery_instance_id: Some(instance(n)),
                })
                .collect(),
            created_time: Some(Timestamp(T10)),
            ended_time: None,
            tag: None,
        }
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn terminate_of_no_instance_or_more_than_200_is_refused_without_a_call() {
    let rule = mock!(Client::terminate_recovery_instances).then_output(terminate_output);
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let many: Vec<_> = (0..201).map(instance).collect();
    for ids in [&[][..], &many[..]] {
        let r = drs.terminate_recovery_instances(ids).await;
        assert!(matches!(&r, Err(ServiceError::Rejected(_))), "{r:?}");
    }
    assert_eq!(rule.num_calls(), 0);
    assert!(drs.terminate_recovery_instances(&many[..200]).await.is_ok());
    assert_eq!(rule.num_calls(), 1);
}

/// With production's retry policy: TerminateRecoveryInstances goes out once whatever comes back
/// (a 5xx, a timeout-like failure, throttling): the core settles a lost answer itself.
#[tokio::test]
async fn with_production_retries_terminate_goes_out_once() {
    let failing = mock!(Client::terminate_recovery_instances)
        .sequence()
        .http_status(500, None)
        .output(terminate_output)
        .build();
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&failing],
        aws_adapters::retry_config(),
        aws_adapters::timeout_config()
    ));
    assert!(aws_adapters::retry_config().max_attempts() > 1);
    let r = drs.terminate_recovery_instances(&[instance(0)]).await;
    assert!(
        matches!(&r, Err(ServiceError::Unavailable { message, .. }) if message.contains("500")),
        "{r:?}"
    );
    assert_eq!(
        failing.num_calls(),
        1,
        "TerminateRecoveryInstances was retried"
    );

    let throttled = mock!(Client::terminate_recovery_instances)
        .sequence()
        .http_status(
            429,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .output(terminate_output)
        .build();
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&throttled],
        aws_adapters::retry_config(),
        aws_adapters::timeout_config()
    ));
    let r = drs.terminate_recovery_instances(&[instance(0)]).await;
    assert!(matches!(&r, Err(ServiceError::Throttled { .. })), "{r:?}");
    assert_eq!(
        throttled.num_calls(),
        1,
        "a throttled terminate was retried"
    );
}

/// Throttling, quota and conflict refusals clear on their own: `Throttled`. A 5xx may have started
/// the job: `Unavailable`. Validation, access, an uninitialized account, a missing instance:
/// `Rejected`.
#[tokio::test]
async fn terminate_refusals_are_told_apart() {
    let throttling = mock!(Client::terminate_recovery_instances).then_error(|| {
        TerminateRecoveryInstancesError::ThrottlingException(
            ThrottlingException::builder()
                .message("Rate exceeded")
                .retry_after_seconds("12")
                .meta(meta("ThrottlingException", "Rate exceeded"))
                .build()
                .unwrap(),
        )
    });
    let quota = mock!(Client::terminate_recovery_instances).then_error(|| {
        TerminateRecoveryInstancesError::ServiceQuotaExceededException(
            ServiceQuotaExceededException::builder()
                .message("Too many concurrent jobs")
                .quota_code("L-CONCURRENT-JOBS")
                .meta(meta(
                    "ServiceQuotaExceededException",
                    "Too many concurrent jobs",
                ))
                .build(),
        )
    });
    let conflict = mock!(Client::terminate_recovery_instances).then_error(|| {
        TerminateRecoveryInstancesError::ConflictException(
            ConflictException::builder()
                .message("Recovery instance is in another job")
                .resource_id("i-00000000000000001")
                .meta(meta(
                    "ConflictException",
                    "Recovery instance is in another job",
                ))
                .build(),
        )
    });
    let conflict_wire = mock!(Client::terminate_recovery_instances)
        .sequence()
        .http_status(
            409,
            Some(r#"{"__type":"ConflictException","message":"busy"}"#.into()),
        )
        .build();
    let internal = mock!(Client::terminate_recovery_instances).then_error(|| {
        TerminateRecoveryInstancesError::InternalServerException(
            InternalServerException::builder()
                .message("oops")
                .retry_after_seconds(30)
                .meta(meta("InternalServerException", "oops"))
                .build()
                .unwrap(),
        )
    });
    let validation = mock!(Client::terminate_recovery_instances).then_error(|| {
        TerminateRecoveryInstancesError::generic(meta("ValidationException", "bad instance"))
    });
    let denied = mock!(Client::terminate_recovery_instances).then_error(|| {
        TerminateRecoveryInstancesError::generic(meta("AccessDeniedException", "no"))
    });
    let uninitialized = mock!(Client::terminate_recovery_instances).then_error(|| {
        TerminateRecoveryInstancesError::UninitializedAccountException(
            UninitializedAccountException::builder()
                .message("initialize DRS first")
                .meta(meta(
                    "UninitializedAccountException",
                    "initialize DRS first",
                ))
                .build(),
        )
    });
    let not_found = mock!(Client::terminate_recovery_instances)
        .sequence()
        .http_status(
            404,
            Some(r#"{"__type":"ResourceNotFoundException","message":"no such instance"}"#.into()),
        )
        .build();
    let no_job = mock!(Client::terminate_recovery_instances)
        .then_output(|| TerminateRecoveryInstancesOutput::builder().build());
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::Sequential,
        [
            &throttling,
            &quota,
            &conflict,
            &conflict_wire,
            &internal,
            &validation,
            &denied,
            &uninitialized,
            &not_found,
            &no_job
        ]
    ));
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(drs.terminate_recovery_instances(&[instance(1)]).await);
    }
    let throttled = |i: usize, after: Option<u64>, words: &[&str]| match &answers[i] {
        Err(ServiceError::Throttled {
            retry_after,
            message,
        }) => {
            assert_eq!(*retry_after, after.map(Duration::from_secs), "{message}");
            for w in words {
                assert!(message.contains(w), "{i}: {message} lacks {w}");
            }
        }
        other => panic!("{i}: expected Throttled, got {other:?}"),
    };
    throttled(0, Some(12), &["ThrottlingException", "Rate exceeded"]);
    throttled(
        1,
        None,
        &["ServiceQuotaExceededException", "L-CONCURRENT-JOBS"],
    );
    throttled(2, None, &["ConflictException", "i-00000000000000001"]);
    throttled(3, None, &["ConflictException", "busy", "HTTP 409"]);
    assert!(
        matches!(&answers[4], Err(ServiceError::Unavailable { message, retry_after }) if message.contains("oops") && *retry_after == Some(Duration::from_secs(30))),
        "{:?}",
        answers[4]
    );
    for (i, words) in [
        (5, "bad instance"),
        (6, "AccessDeniedException"),
        (7, "initialize DRS first"),
        (8, "no such instance"),
    ] {
        assert!(
            matches!(&answers[i], Err(ServiceError::Rejected(m)) if m.contains(words)),
            "{i}: {:?}",
            answers[i]
        );
    }
    // An answer without its job: the job may have started, so never Rejected.
    assert!(
        matches!(&answers[9], Err(ServiceError::Unavailable { message, .. }) if message.contains("unreadable")),
        "{:?}",
        answers[9]
    );
}

/// The first TERMINATE job created since `since` (less five minutes of clock skew) that names one
/// of the instances, across pages; LAUNCH jobs, TERMINATE jobs of other instances and jobs older
/// than the window are never it.
#[tokio::test]
async fn find_terminate_job_finds_the_first_terminate_of_these_instances_since_then() {
    let page1_items = vec![
        // A launch that brought the instance up: not a terminate.
        sdk_job(1, JobType::Launch, "2024-05-01T09:59:00Z", &[instance(0)]),
        // A terminate of other instances.
        sdk_job(
            2,
            JobType::Terminate,
            "2024-05-01T09:58:00Z",
            &[instance(7)],
        ),
        // A terminate of this instance from before the window (DRS's filter let it through).
        sdk_job(
            3,
            JobType::Terminate,
            "2024-05-01T09:54:59Z",
            &[instance(0)],
        ),
        // The one: within the clock-skew allowance, names instance 1 among others.
        sdk_job(
            4,
            JobType::Terminate,
            "2024-05-01T09:57:00Z",
            &[instance(8), instance(1)],
        ),
    ];
    let page2_items = vec![
        // Later ones of the same instances.
        sdk_job(
            5,
            JobType::Terminate,
            "2024-05-01T10:02:00Z",
            &[instance(0)],
        ),
        // As text it sorts first; as a time it is 10:01 UTC.
        sdk_job(
            6,
            JobType::Terminate,
            "2024-05-01T12:01:00+02:00",
            &[instance(1)],
        ),
        sdk_job(7, JobType::Launch, "2024-05-01T09:56:00Z", &[instance(1)]),
    ];
    let (drs, [page1, page2]) = crate::drs::job_listing(page1_items, page2_items);
    let since = Timestamp(T10);
    let cases: [(&[InstanceId], Option<_>); 5] = [
        (&[instance(0), instance(1)], Some(job(4))),
        (&[instance(1)], Some(job(4))),
        // Job 3 is too old, job 1 a launch: job 5 is the first.
        (&[instance(0)], Some(job(5))),
        (&[instance(7)], Some(job(2))),
        (&[instance(9)], None),
    ];
    for (instances, expected) in cases {
        let found = drs.find_terminate_job(instances, since).await.unwrap();
        assert_eq!(
            found.as_ref().map(|j| j.job_id.clone()),
            expected,
            "{instances:?}"
        );
    }
    assert_eq!(page1.num_calls(), 5);
    assert_eq!(page2.num_calls(), 5);
    let found = drs
        .find_terminate_job(&[instance(1)], since)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.created_time, Some(Timestamp(T10 - 180)));
    assert_eq!(found.participating_servers.len(), 2);
}

#[tokio::test]
async fn find_terminate_job_ignores_launch_jobs_whatever_they_name() {
    let rule = mock!(Client::describe_jobs).then_output(|| {
        DescribeJobsOutput::builder()
            .items(sdk_job(
                1,
                JobType::Launch,
                "2024-05-01T10:00:00Z",
                &[instance(0)],
            ))
            .items({
                // A job without a type is not known to be a terminate.
                let mut j = sdk_job(
                    2,
                    JobType::Terminate,
                    "2024-05-01T10:00:00Z",
                    &[instance(0)],
                );
                j.r#type = None;
                j
            })
            .build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let found = drs
        .find_terminate_job(&[instance(0)], Timestamp(T10))
        .await
        .unwrap();
    assert_eq!(found, None);
    assert_eq!(rule.num_calls(), 1);
}

/// A job's `creationDateTime` and `endDateTime` reach `DrsJob` wherever one is built.
#[tokio::test]
async fn describe_jobs_carries_the_creation_and_end_times() {
    let rule = mock!(Client::describe_jobs).then_output(|| {
        let mut ended = sdk_job(1, JobType::Launch, "2024-05-01T10:00:00.750Z", &[]);
        ended.status = Some(SdkJobStatus::Completed);
        ended.end_date_time = Some("2024-05-01T10:30:00Z".into());
        let mut undated = sdk_job(2, JobType::Launch, "", &[]);
        undated.creation_date_time = None;
        undated.end_date_time = Some("not a date".into());
        DescribeJobsOutput::builder()
            .items(ended)
            .items(undated)
            .build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let jobs = drs.describe_jobs(&[job(1), job(2)]).await.unwrap();
    assert_eq!(
        jobs.iter()
            .map(|j| (j.created_time, j.ended_time))
            .collect::<Vec<_>>(),
        [
            (Some(Timestamp(T10)), Some(Timestamp(T10 + 1800))),
            (None, None)
        ]
    );
}
