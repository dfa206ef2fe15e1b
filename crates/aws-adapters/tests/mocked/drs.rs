use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_adapters::DrsService;
use aws_sdk_drs::operation::describe_jobs::{DescribeJobsError, DescribeJobsOutput};
use aws_sdk_drs::operation::describe_recovery_instances::{
    DescribeRecoveryInstancesError, DescribeRecoveryInstancesOutput,
};
use aws_sdk_drs::operation::start_recovery::{StartRecoveryError, StartRecoveryOutput};
use aws_sdk_drs::types::error::{
    AccessDeniedException, ConflictException, InternalServerException,
    ServiceQuotaExceededException, ThrottlingException, UninitializedAccountException,
};
use aws_sdk_drs::types::{self as drs, JobStatus as SdkJobStatus, LaunchStatus as SdkLaunchStatus};
use aws_sdk_drs::Client;
use aws_smithy_mocks::{mock, RuleMode};
use execution_core::fixtures::{self, execution_id, instance, job, server};
use execution_core::ids::SourceServerId;
use execution_core::model::Timestamp;
use execution_core::ports::{
    Drs, DrsJob, JobTag, ParticipatingServer, RecoveryRequest, ServiceError,
};
use execution_core::status::{JobStatus, LaunchStatus};

use crate::common::meta;

fn sdk_job(
    id: &str,
    status: SdkJobStatus,
    servers: &[(String, SdkLaunchStatus, Option<String>)],
) -> drs::Job {
    let mut b = drs::Job::builder()
        .job_id(id)
        .status(status)
        .creation_date_time("2024-05-01T10:00:00Z");
    for (s, l, ri) in servers {
        b = b.participating_servers(
            drs::ParticipatingServer::builder()
                .source_server_id(s.clone())
                .launch_status(l.clone())
                .set_recovery_instance_id(ri.clone())
                .build(),
        );
    }
    b.build().unwrap()
}

/// A job tagged as `tags` say (key, value), created at `created`.
fn tagged(mut j: drs::Job, created: &str, tags: &[(&str, &str)]) -> drs::Job {
    j.creation_date_time = Some(created.to_owned());
    j.tags = Some(
        tags.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    j
}

fn request(
    wave_number: u32,
    attempt: u32,
    part: u32,
    is_drill: bool,
    source_servers: Vec<SourceServerId>,
) -> RecoveryRequest {
    RecoveryRequest {
        execution_id: execution_id(),
        wave_number,
        attempt,
        part,
        is_drill,
        source_servers,
    }
}

fn tag(wave_number: u32, attempt: u32, part: u32) -> JobTag {
    JobTag {
        execution_id: execution_id(),
        wave_number,
        attempt,
        part,
    }
}

fn started_job() -> StartRecoveryOutput {
    StartRecoveryOutput::builder()
        .job(sdk_job(job(9).as_str(), SdkJobStatus::Pending, &[]))
        .build()
}

#[tokio::test]
async fn describe_jobs_follows_next_token_and_maps_every_field() {
    let first = mock!(Client::describe_jobs)
        .match_requests(|r| r.next_token().is_none())
        .then_output(|| {
            let servers = [
                (
                    server(0).to_string(),
                    SdkLaunchStatus::Launched,
                    Some(instance(0).to_string()),
                ),
                (server(1).to_string(), SdkLaunchStatus::InProgress, None),
            ];
            DescribeJobsOutput::builder()
                .items(sdk_job(job(1).as_str(), SdkJobStatus::Started, &servers))
                .next_token("page-2")
                .build()
        });
    let second = mock!(Client::describe_jobs)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(|| {
            DescribeJobsOutput::builder()
                .items(sdk_job(job(2).as_str(), SdkJobStatus::Completed, &[]))
                .build()
        });
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&first, &second]
    ));

    let jobs = drs.describe_jobs(&[job(1), job(2)]).await.unwrap();
    assert_eq!(
        jobs,
        vec![
            DrsJob {
                job_id: job(1),
                status: JobStatus::Started,
                participating_servers: vec![
                    ParticipatingServer {
                        source_server_id: server(0),
                        launch_status: LaunchStatus::Launched,
                        recovery_instance_id: Some(instance(0))
                    },
                    ParticipatingServer {
                        source_server_id: server(1),
                        launch_status: LaunchStatus::InProgress,
                        recovery_instance_id: None
                    },
                ],
                created_time: Some(Timestamp(1_714_557_600)),
                ended_time: None,
                tag: None,
            },
            DrsJob {
                job_id: job(2),
                status: JobStatus::Completed,
                participating_servers: vec![],
                created_time: Some(Timestamp(1_714_557_600)),
                ended_time: None,
                tag: None,
            },
        ]
    );
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn statuses_drs_adds_later_are_kept_as_they_are_and_never_fail_the_answer() {
    let rule = mock!(Client::describe_jobs).then_output(|| {
        let servers = [
            (
                server(0).to_string(),
                SdkLaunchStatus::from("RECOVERY_PAUSED"),
                None,
            ),
            (server(1).to_string(), SdkLaunchStatus::Launched, None),
            // An empty status is no status: PENDING, never an empty "other" value.
            (server(2).to_string(), SdkLaunchStatus::from(""), None),
        ];
        let mut no_status = sdk_job(job(2).as_str(), SdkJobStatus::Pending, &[]);
        no_status.status = None;
        DescribeJobsOutput::builder()
            .items(sdk_job(
                job(1).as_str(),
                SdkJobStatus::from("PAUSED"),
                &servers,
            ))
            .items(no_status)
            .build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let jobs = drs.describe_jobs(&[job(1), job(2)]).await.unwrap();
    assert_eq!(jobs[0].status, JobStatus::Other("PAUSED".into()));
    let statuses: Vec<_> = jobs[0]
        .participating_servers
        .iter()
        .map(|p| p.launch_status.clone())
        .collect();
    assert_eq!(
        statuses,
        [
            LaunchStatus::Other("RECOVERY_PAUSED".into()),
            LaunchStatus::Launched,
            LaunchStatus::Pending
        ]
    );
    assert!(!statuses[0].is_settled());
    assert_eq!(jobs[1].status, JobStatus::Pending);
}

#[tokio::test]
async fn describe_jobs_batches_ids_by_200() {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&batches);
    let rule = mock!(Client::describe_jobs).then_compute_output(move |r| {
        let ids = r
            .filters()
            .map(|f| f.job_ids().to_vec())
            .unwrap_or_default();
        seen.lock().unwrap().push(ids.len());
        let items = ids
            .iter()
            .map(|id| sdk_job(id, SdkJobStatus::Pending, &[]))
            .collect();
        DescribeJobsOutput::builder().set_items(Some(items)).build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let ids: Vec<_> = (0..450).map(job).collect();
    let jobs = drs.describe_jobs(&ids).await.unwrap();
    assert_eq!(
        jobs.iter().map(|j| j.job_id.clone()).collect::<Vec<_>>(),
        ids
    );
    assert_eq!(*batches.lock().unwrap(), [200, 200, 50]);
}

#[tokio::test]
async fn describe_recovery_instances_batches_by_200_and_pages() {
    let batches = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&batches);
    let rule = mock!(Client::describe_recovery_instances).then_compute_output(move |r| {
        let servers = r
            .filters()
            .map(|f| f.source_server_ids().to_vec())
            .unwrap_or_default();
        seen.lock()
            .unwrap()
            .push((servers.len(), r.next_token().map(str::to_owned)));
        // The first page of each batch holds one instance and points at a second page.
        let (n, next) = if r.next_token().is_none() {
            (0, Some("more"))
        } else {
            (1, None)
        };
        let ri = drs::RecoveryInstance::builder()
            .recovery_instance_id(instance(n).to_string())
            .ec2_instance_id(instance(n).to_string())
            .source_server_id(servers[n].clone())
            .job_id(job(7).to_string())
            .is_drill(true)
            .build();
        DescribeRecoveryInstancesOutput::builder()
            .items(ri)
            .set_next_token(next.map(str::to_owned))
            .build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let servers: Vec<_> = (0..250).map(server).collect();
    let found = drs.describe_recovery_instances(&servers).await.unwrap();
    assert_eq!(
        found.len(),
        4,
        "two batches of two pages, one instance each"
    );
    assert_eq!(found[0].source_server_id, server(0));
    assert_eq!(found[0].ec2_instance_id, Some(instance(0)));
    assert_eq!(found[0].job_id, Some(job(7)));
    assert_eq!(found[0].is_drill, Some(true), "DRS's isDrill is read");
    assert_eq!(found[2].source_server_id, server(200));
    let calls = batches.lock().unwrap().clone();
    assert_eq!(
        calls,
        [
            (200, None),
            (200, Some("more".into())),
            (50, None),
            (50, Some("more".into()))
        ]
    );
}

#[tokio::test]
async fn start_recovery_sends_drill_flag_servers_and_the_four_tags() {
    let exec = execution_id().to_string();
    let rule = mock!(Client::start_recovery)
        .match_requests(move |r| {
            let tags = r.tags().cloned().unwrap_or_default();
            let servers: Vec<&str> = r
                .source_servers()
                .iter()
                .map(|s| s.source_server_id())
                .collect();
            r.is_drill() == Some(true)
                && tags.get("executionId") == Some(&exec)
                && tags.get("waveNumber").map(String::as_str) == Some("3")
                && tags.get("attempt").map(String::as_str) == Some("2")
                && tags.get("part").map(String::as_str) == Some("1")
                && tags.len() == 4
                && servers == [server(0).as_str(), server(1).as_str()]
        })
        .then_output(|| {
            let servers = [
                (server(0).to_string(), SdkLaunchStatus::Pending, None),
                (server(1).to_string(), SdkLaunchStatus::Pending, None),
            ];
            StartRecoveryOutput::builder()
                .job(sdk_job(job(9).as_str(), SdkJobStatus::Pending, &servers))
                .build()
        });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let started = drs
        .start_recovery(&request(3, 2, 1, true, vec![server(0), server(1)]))
        .await
        .unwrap();
    assert_eq!(started.job_id, job(9));
    assert_eq!(started.participating_servers.len(), 2);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_real_recovery_is_not_a_drill() {
    let rule = mock!(Client::start_recovery)
        .match_requests(|r| r.is_drill() == Some(false))
        .then_output(started_job);
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let job_id = drs
        .start_recovery(&request(0, 1, 0, false, vec![server(0)]))
        .await
        .unwrap()
        .job_id;
    assert_eq!(job_id, job(9));
}

/// With the retry policy every production client has (`sdk_config()`): StartRecovery, which has no
/// idempotency token, goes out once whatever comes back; the describes are retried.
#[tokio::test]
async fn with_production_retries_start_recovery_goes_out_once_and_describes_are_retried() {
    // Were StartRecovery retried, its second attempt would start a (second) job and succeed.
    let start = mock!(Client::start_recovery)
        .sequence()
        .http_status(500, None)
        .output(started_job)
        .build();
    let describe = mock!(Client::describe_jobs)
        .sequence()
        .http_status(500, None)
        .output(|| {
            DescribeJobsOutput::builder()
                .items(sdk_job(job(1).as_str(), SdkJobStatus::Started, &[]))
                .build()
        })
        .build();
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&start, &describe],
        aws_adapters::retry_config(),
        aws_adapters::timeout_config()
    ));
    assert!(aws_adapters::retry_config().max_attempts() > 1);

    let r = drs
        .start_recovery(&request(0, 1, 0, true, vec![server(0)]))
        .await;
    assert!(
        matches!(&r, Err(ServiceError::Unavailable { message: m, .. }) if m.contains("500")),
        "{r:?}"
    );
    assert_eq!(
        start.num_calls(),
        1,
        "StartRecovery was sent more than once"
    );

    let jobs = drs.describe_jobs(&[job(1)]).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(describe.num_calls(), 2, "DescribeJobs was retried once");

    // A throttled StartRecovery is not retried by the SDK either: the core backs off.
    let throttled = mock!(Client::start_recovery)
        .sequence()
        .http_status(
            429,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .output(started_job)
        .build();
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&throttled],
        aws_adapters::retry_config(),
        aws_adapters::timeout_config()
    ));
    let r = drs
        .start_recovery(&request(0, 1, 0, true, vec![server(0)]))
        .await;
    assert!(matches!(&r, Err(ServiceError::Throttled { .. })), "{r:?}");
    assert_eq!(throttled.num_calls(), 1);
}

/// The four tags of a job of this version.
fn tags4<'a>(
    exec: &'a str,
    wave: &'a str,
    attempt: &'a str,
    part: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("executionId", exec),
        ("waveNumber", wave),
        ("attempt", attempt),
        ("part", part),
    ]
}

#[tokio::test]
async fn find_tagged_job_matches_execution_wave_attempt_and_part() {
    const AT: &str = "2024-05-01T10:00:00Z";
    let exec = execution_id().to_string();
    let other = fixtures::plan_id().to_string();
    let j = |n: usize, tags: &[(&str, &str)]| {
        tagged(
            sdk_job(job(n).as_str(), SdkJobStatus::Started, &[]),
            AT,
            tags,
        )
    };
    let page1_items = vec![
        // Another execution's job of wave 1.
        j(1, &tags4(&other, "1", "1", "0")),
        j(2, &tags4(&exec, "1", "2", "0")),
        j(3, &tags4(&exec, "1", "1", "1")),
        // Untagged.
        sdk_job(job(4).as_str(), SdkJobStatus::Started, &[]),
        j(5, &tags4(&exec, "2", "1", "0")),
    ];
    let page2_items = vec![
        j(6, &tags4(&exec, "1", "1", "0")),
        // A job of version 1 (no attempt, no part tag): attempt 1, part 0 of its wave.
        j(7, &[("executionId", &exec), ("waveNumber", "4")]),
        // A tag that is not a number matches nothing.
        j(8, &tags4(&exec, "5", "one", "0")),
    ];
    let (drs, _) = job_listing(page1_items, page2_items);
    // 2024-05-01T10:00:00Z; the listing starts five minutes earlier for clock skew.
    let since = Timestamp(1_714_557_600);
    let cases = [
        (tag(1, 1, 0), Some(job(6))),
        (tag(1, 2, 0), Some(job(2))),
        (tag(1, 1, 1), Some(job(3))),
        (tag(2, 1, 0), Some(job(5))),
        (tag(4, 1, 0), Some(job(7))),
        (tag(4, 2, 0), None),
        (tag(4, 1, 1), None),
        (tag(5, 1, 0), None),
        (tag(9, 1, 0), None),
    ];
    for (t, expected) in cases {
        let found = drs.find_tagged_job(&t, since).await.unwrap();
        assert_eq!(found.map(|j| j.job_id), expected, "{t:?}");
    }
}

#[tokio::test]
async fn find_tagged_job_returns_the_first_created_by_time_not_by_text() {
    let exec = execution_id().to_string();
    let rule = mock!(Client::describe_jobs).then_output(move || {
        let tags = tags4(&exec, "0", "1", "0");
        let j = |n: usize, at: &str| {
            tagged(
                sdk_job(job(n).as_str(), SdkJobStatus::Started, &[]),
                at,
                &tags,
            )
        };
        DescribeJobsOutput::builder()
            // Unreadable dates sort after every readable one.
            .items(j(1, "yesterday"))
            // As text these come first; as times they are later than job 4.
            .items(j(2, "2024-05-01T09:00:00.5Z"))
            .items(j(3, "2024-05-01T09:00:00Z"))
            // 08:00 UTC: the first created.
            .items(j(4, "2024-05-01T10:00:00+02:00"))
            .build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let found = drs
        .find_tagged_job(&tag(0, 1, 0), Timestamp(1_714_557_600))
        .await
        .unwrap();
    assert_eq!(found.map(|j| j.job_id), Some(job(4)));
}

#[tokio::test]
async fn find_tagged_job_keeps_a_job_whose_date_does_not_parse() {
    let exec = execution_id().to_string();
    let rule = mock!(Client::describe_jobs).then_output(move || {
        let mut j = tagged(
            sdk_job(job(1).as_str(), SdkJobStatus::Started, &[]),
            "",
            &tags4(&exec, "0", "1", "0"),
        );
        j.creation_date_time = None;
        DescribeJobsOutput::builder().items(j).build()
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let found = drs
        .find_tagged_job(&tag(0, 1, 0), Timestamp(1_714_557_600))
        .await
        .unwrap();
    assert_eq!(found.map(|j| j.job_id), Some(job(1)));
}

#[tokio::test]
async fn throttling_carries_retry_after() {
    let rule = mock!(Client::describe_jobs).then_error(|| {
        DescribeJobsError::ThrottlingException(
            ThrottlingException::builder()
                .message("Rate exceeded")
                .retry_after_seconds("7")
                .meta(meta("ThrottlingException", "Rate exceeded"))
                .build()
                .unwrap(),
        )
    });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    match drs.describe_jobs(&[job(1)]).await {
        Err(ServiceError::Throttled {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(7)));
            assert!(message.contains("Rate exceeded"), "{message}");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
}

/// SPEC §8: throttling, quota and conflict refusals clear on their own and nothing was started:
/// `Throttled` (with DRS's retryAfterSeconds when it sends one). A 5xx may have started a job:
/// `Unavailable`. Validation, access, an uninitialized account: `Rejected`.
#[tokio::test]
async fn start_recovery_refusals_are_told_apart() {
    let throttling = mock!(Client::start_recovery).then_error(|| {
        StartRecoveryError::ThrottlingException(
            ThrottlingException::builder()
                .message("Rate exceeded")
                .retry_after_seconds("12")
                .meta(meta("ThrottlingException", "Rate exceeded"))
                .build()
                .unwrap(),
        )
    });
    let quota = mock!(Client::start_recovery).then_error(|| {
        StartRecoveryError::ServiceQuotaExceededException(
            ServiceQuotaExceededException::builder()
                .message("Too many concurrent jobs")
                .quota_code("L-CONCURRENT-JOBS")
                .service_code("drs")
                .meta(meta(
                    "ServiceQuotaExceededException",
                    "Too many concurrent jobs",
                ))
                .build(),
        )
    });
    let conflict = mock!(Client::start_recovery).then_error(|| {
        StartRecoveryError::ConflictException(
            ConflictException::builder()
                .message("Source server is in another job")
                .resource_id("s-00000000000000000")
                .resource_type("SOURCE_SERVER")
                .meta(meta("ConflictException", "Source server is in another job"))
                .build(),
        )
    });
    // The same two refusals as they come over the wire (restJson1: HTTP 402 and 409).
    let quota_wire = mock!(Client::start_recovery)
        .sequence()
        .http_status(
            402,
            Some(
                r#"{"__type":"ServiceQuotaExceededException","message":"Servers in all jobs","quotaCode":"L-SERVERS"}"#
                    .into(),
            ),
        )
        .build();
    let conflict_wire = mock!(Client::start_recovery)
        .sequence()
        .http_status(
            409,
            Some(r#"{"__type":"ConflictException","message":"busy","resourceId":"s-1"}"#.into()),
        )
        .build();
    let internal = mock!(Client::start_recovery).then_error(|| {
        StartRecoveryError::InternalServerException(
            InternalServerException::builder()
                .message("oops")
                .retry_after_seconds(30)
                .meta(meta("InternalServerException", "oops"))
                .build()
                .unwrap(),
        )
    });
    let validation = mock!(Client::start_recovery)
        .then_error(|| StartRecoveryError::generic(meta("ValidationException", "bad server")));
    let denied = mock!(Client::start_recovery)
        .then_error(|| StartRecoveryError::generic(meta("AccessDeniedException", "no")));
    let uninitialized = mock!(Client::start_recovery).then_error(|| {
        StartRecoveryError::UninitializedAccountException(
            UninitializedAccountException::builder()
                .message("initialize DRS first")
                .meta(meta(
                    "UninitializedAccountException",
                    "initialize DRS first",
                ))
                .build(),
        )
    });
    let not_found = mock!(Client::start_recovery)
        .sequence()
        .http_status(
            404,
            Some(r#"{"__type":"ResourceNotFoundException","message":"no such server"}"#.into()),
        )
        .build();

    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::Sequential,
        [
            &throttling,
            &quota,
            &conflict,
            &quota_wire,
            &conflict_wire,
            &internal,
            &validation,
            &denied,
            &uninitialized,
            &not_found
        ]
    ));
    let req = request(0, 1, 0, true, vec![server(0)]);
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(drs.start_recovery(&req).await);
    }
    let throttled = |r: &Result<DrsJob, ServiceError>, after: Option<u64>, words: &[&str]| match r {
        Err(ServiceError::Throttled {
            retry_after,
            message,
        }) => {
            assert_eq!(*retry_after, after.map(Duration::from_secs), "{message}");
            for w in words {
                assert!(message.contains(w), "{message} lacks {w}");
            }
        }
        other => panic!("expected Throttled, got {other:?}"),
    };
    throttled(
        &answers[0],
        Some(12),
        &["ThrottlingException", "Rate exceeded"],
    );
    throttled(
        &answers[1],
        None,
        &[
            "ServiceQuotaExceededException",
            "Too many concurrent jobs",
            "L-CONCURRENT-JOBS",
        ],
    );
    throttled(
        &answers[2],
        None,
        &["ConflictException", "another job", "s-00000000000000000"],
    );
    throttled(
        &answers[3],
        None,
        &[
            "ServiceQuotaExceededException",
            "Servers in all jobs",
            "L-SERVERS",
            "HTTP 402",
        ],
    );
    throttled(
        &answers[4],
        None,
        &["ConflictException", "busy", "s-1", "HTTP 409"],
    );
    // DRS's InternalServerException names when to come back (retryAfterSeconds): kept.
    assert!(
        matches!(&answers[5], Err(ServiceError::Unavailable { message: m, retry_after }) if m.contains("oops") && *retry_after == Some(Duration::from_secs(30))),
        "{:?}",
        answers[5]
    );
    for (i, words) in [
        (6, "bad server"),
        (7, "AccessDeniedException"),
        (8, "initialize DRS first"),
        (9, "no such server"),
    ] {
        assert!(
            matches!(&answers[i], Err(ServiceError::Rejected(m)) if m.contains(words)),
            "{i}: {:?}",
            answers[i]
        );
    }
}

#[tokio::test]
async fn server_errors_are_unavailable_and_refusals_rejected() {
    let http_500 = mock!(Client::describe_jobs)
        .sequence()
        .http_status(500, None)
        .build();
    let internal = mock!(Client::describe_recovery_instances).then_error(|| {
        DescribeRecoveryInstancesError::InternalServerException(
            InternalServerException::builder()
                .message("oops")
                .retry_after_seconds(1)
                .build()
                .unwrap(),
        )
    });
    let validation = mock!(Client::start_recovery)
        .then_error(|| StartRecoveryError::generic(meta("ValidationException", "bad server")));
    let denied = mock!(Client::describe_recovery_instances).then_error(|| {
        DescribeRecoveryInstancesError::AccessDeniedException(
            AccessDeniedException::builder()
                .message("no")
                .meta(meta("AccessDeniedException", "no"))
                .build(),
        )
    });

    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::Sequential,
        [&http_500, &internal, &validation, &denied]
    ));
    assert!(matches!(
        drs.describe_jobs(&[job(1)]).await,
        Err(ServiceError::Unavailable { .. })
    ));
    assert!(matches!(
        drs.describe_recovery_instances(&[server(1)]).await,
        Err(ServiceError::Unavailable { retry_after, .. }) if retry_after == Some(Duration::from_secs(1))
    ));
    assert!(
        matches!(drs.start_recovery(&request(0, 1, 0, true, vec![server(0)])).await, Err(ServiceError::Rejected(m)) if m.contains("bad server"))
    );
    assert!(matches!(
        drs.describe_recovery_instances(&[server(1)]).await,
        Err(ServiceError::Rejected(_))
    ));
}

#[tokio::test]
async fn an_unreadable_answer_is_an_error_not_a_panic() {
    let rule = mock!(Client::describe_jobs).then_output(|| {
        DescribeJobsOutput::builder()
            .items(sdk_job("job-1", SdkJobStatus::Started, &[]))
            .build()
    });
    let bad_server = mock!(Client::describe_jobs).then_output(|| {
        DescribeJobsOutput::builder()
            .items(sdk_job(
                job(1).as_str(),
                SdkJobStatus::Started,
                &[("s-1".into(), SdkLaunchStatus::Launched, None)],
            ))
            .build()
    });
    let no_job =
        mock!(Client::start_recovery).then_output(|| StartRecoveryOutput::builder().build());
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::Sequential,
        [&rule, &bad_server, &no_job]
    ));
    assert!(
        matches!(drs.describe_jobs(&[job(1)]).await, Err(ServiceError::Unavailable { message: m, .. }) if m.contains("unreadable"))
    );
    assert!(
        matches!(drs.describe_jobs(&[job(1)]).await, Err(ServiceError::Unavailable { message: m, .. }) if m.contains("sourceServerId"))
    );
    // Unavailable, not Rejected: a job may have started, so launch must not mark the wave failed.
    assert!(matches!(
        drs.start_recovery(&request(0, 1, 0, true, vec![server(0)]))
            .await,
        Err(ServiceError::Unavailable { .. })
    ));
}

/// DRS's InternalServerException as it comes over the wire: HTTP 500 with `retryAfterSeconds` in
/// the `Retry-After` header. The hint reaches launch's backoff; without the header (the SDK reads
/// 0) there is no hint, not "retry at once".
#[tokio::test]
async fn an_internal_error_keeps_drs_retry_after() {
    let body = r#"{"__type":"InternalServerException","message":"try later"}"#;
    let with_hint = mock!(Client::start_recovery)
        .sequence()
        .http_response(move || {
            let mut r = aws_sdk_drs::config::http::HttpResponse::new(
                500.try_into().unwrap(),
                aws_smithy_types::body::SdkBody::from(body),
            );
            r.headers_mut().insert("Retry-After", "45");
            r
        })
        .build();
    let without = mock!(Client::start_recovery)
        .sequence()
        .http_status(500, Some(body.into()))
        .build();
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::Sequential,
        [&with_hint, &without]
    ));
    let req = request(0, 1, 0, true, vec![server(0)]);
    match drs.start_recovery(&req).await {
        Err(ServiceError::Unavailable {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(45)), "{message}");
            assert!(message.contains("try later"), "{message}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(matches!(
        drs.start_recovery(&req).await,
        Err(ServiceError::Unavailable {
            retry_after: None,
            ..
        })
    ));
}

/// DRS answering a listing of jobs (DescribeJobs by `fromDate`, no ids) from 2024-05-01T09:55:00Z,
/// five minutes of clock skew before 10:00, in two pages; and the pages' rules (they count calls).
pub(crate) fn job_listing(
    page1: Vec<drs::Job>,
    page2: Vec<drs::Job>,
) -> (DrsService, [aws_smithy_mocks::Rule; 2]) {
    let first = mock!(Client::describe_jobs)
        .match_requests(|r| {
            r.next_token().is_none()
                && r.filters().and_then(|f| f.from_date()) == Some("2024-05-01T09:55:00Z")
                && r.filters().is_some_and(|f| f.job_ids().is_empty())
        })
        .then_output(move || {
            DescribeJobsOutput::builder()
                .set_items(Some(page1.clone()))
                .next_token("p2")
                .build()
        });
    let second = mock!(Client::describe_jobs)
        .match_requests(|r| r.next_token() == Some("p2"))
        .then_output(move || {
            DescribeJobsOutput::builder()
                .set_items(Some(page2.clone()))
                .build()
        });
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&first, &second]
    ));
    (drs, [first, second])
}
