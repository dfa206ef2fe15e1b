use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_adapters::DrsService;
use aws_sdk_drs::operation::describe_jobs::{DescribeJobsError, DescribeJobsOutput};
use aws_sdk_drs::operation::describe_recovery_instances::{
    DescribeRecoveryInstancesError, DescribeRecoveryInstancesOutput,
};
use aws_sdk_drs::operation::start_recovery::{StartRecoveryError, StartRecoveryOutput};
use aws_sdk_drs::types::error::{
    AccessDeniedException, InternalServerException, ThrottlingException,
};
use aws_sdk_drs::types::{self as drs, JobStatus as SdkJobStatus, LaunchStatus as SdkLaunchStatus};
use aws_sdk_drs::Client;
use aws_smithy_mocks::{mock, RuleMode};
use execution_core::fixtures::{self, execution_id, instance, job, server};
use execution_core::model::Timestamp;
use execution_core::ports::{Drs, DrsJob, ParticipatingServer, RecoveryRequest, ServiceError};
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

fn tagged(mut j: drs::Job, execution: &str, wave: &str) -> drs::Job {
    j.tags = Some(
        [
            ("executionId".to_owned(), execution.to_owned()),
            ("waveNumber".to_owned(), wave.to_owned()),
        ]
        .into(),
    );
    j
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
            },
            DrsJob {
                job_id: job(2),
                status: JobStatus::Completed,
                participating_servers: vec![]
            },
        ]
    );
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
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
async fn start_recovery_sends_drill_flag_servers_and_tags() {
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
                && tags.len() == 2
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
    let request = RecoveryRequest {
        execution_id: execution_id(),
        wave_number: 3,
        is_drill: true,
        source_servers: vec![server(0), server(1)],
    };
    let started = drs.start_recovery(&request).await.unwrap();
    assert_eq!(started.job_id, job(9));
    assert_eq!(started.participating_servers.len(), 2);
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_real_recovery_is_not_a_drill() {
    let rule = mock!(Client::start_recovery)
        .match_requests(|r| r.is_drill() == Some(false))
        .then_output(|| {
            StartRecoveryOutput::builder()
                .job(sdk_job(job(9).as_str(), SdkJobStatus::Pending, &[]))
                .build()
        });
    let drs = DrsService::new(mocked_client!(aws_sdk_drs, RuleMode::MatchAny, [&rule]));
    let request = RecoveryRequest {
        execution_id: execution_id(),
        wave_number: 0,
        is_drill: false,
        source_servers: vec![server(0)],
    };
    assert_eq!(drs.start_recovery(&request).await.unwrap().job_id, job(9));
}

#[tokio::test]
async fn find_tagged_job_matches_execution_and_wave_tags_only() {
    let exec = execution_id().to_string();
    let other = fixtures::plan_id().to_string();
    let (e1, e2, e3) = (exec.clone(), exec.clone(), other.clone());
    let page1 = mock!(Client::describe_jobs)
        .match_requests(|r| {
            r.next_token().is_none()
                && r.filters().and_then(|f| f.from_date()) == Some("2024-05-01T09:55:00Z")
        })
        .then_output(move || {
            DescribeJobsOutput::builder()
                .items(tagged(
                    sdk_job(job(1).as_str(), SdkJobStatus::Started, &[]),
                    &e3,
                    "1",
                ))
                .items(tagged(
                    sdk_job(job(2).as_str(), SdkJobStatus::Started, &[]),
                    &e1,
                    "2",
                ))
                .items(sdk_job(job(3).as_str(), SdkJobStatus::Started, &[]))
                .next_token("p2")
                .build()
        });
    let page2 = mock!(Client::describe_jobs)
        .match_requests(|r| r.next_token() == Some("p2"))
        .then_output(move || {
            DescribeJobsOutput::builder()
                .items(tagged(
                    sdk_job(job(4).as_str(), SdkJobStatus::Started, &[]),
                    &e2,
                    "1",
                ))
                .build()
        });
    let drs = DrsService::new(mocked_client!(
        aws_sdk_drs,
        RuleMode::MatchAny,
        [&page1, &page2]
    ));
    // 2024-05-01T10:00:00Z; the listing starts five minutes earlier for clock skew.
    let since = Timestamp(1_714_557_600);
    let found = drs.find_tagged_job(execution_id(), 1, since).await.unwrap();
    assert_eq!(found.map(|j| j.job_id), Some(job(4)));
    assert_eq!(
        drs.find_tagged_job(execution_id(), 5, since).await.unwrap(),
        None
    );
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
        Err(ServiceError::Unavailable(_))
    ));
    assert!(matches!(
        drs.describe_recovery_instances(&[server(1)]).await,
        Err(ServiceError::Unavailable(_))
    ));
    let request = RecoveryRequest {
        execution_id: execution_id(),
        wave_number: 0,
        is_drill: true,
        source_servers: vec![server(0)],
    };
    assert!(
        matches!(drs.start_recovery(&request).await, Err(ServiceError::Rejected(m)) if m.contains("bad server"))
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
        matches!(drs.describe_jobs(&[job(1)]).await, Err(ServiceError::Unavailable(m)) if m.contains("unreadable"))
    );
    assert!(
        matches!(drs.describe_jobs(&[job(1)]).await, Err(ServiceError::Unavailable(m)) if m.contains("sourceServerId"))
    );
    let request = RecoveryRequest {
        execution_id: execution_id(),
        wave_number: 0,
        is_drill: true,
        source_servers: vec![server(0)],
    };
    // Unavailable, not Rejected: a job may have started, so launch must not mark the wave failed.
    assert!(matches!(
        drs.start_recovery(&request).await,
        Err(ServiceError::Unavailable(_))
    ));
}
