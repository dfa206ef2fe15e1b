//! `Drs` on AWS Elastic Disaster Recovery: DescribeJobs, DescribeRecoveryInstances, StartRecovery,
//! DescribeSourceServers, DescribeJobLogItems, TerminateRecoveryInstances.
//!
//! Everything DRS answers is parsed into the core's validated ids; an answer that does not parse
//! is `Unavailable` (see `errors::unreadable`), never a panic and never `Rejected`. A job or launch
//! status, a replication state or a log event this version does not know is kept as DRS spelled
//! it, never an error. StartRecovery and TerminateRecoveryInstances go out at most once per call
//! (no SDK retry: neither has an idempotency token).

use std::error::Error as StdError;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_drs::config::http::HttpResponse;
use aws_sdk_drs::config::retry::RetryConfig;
use aws_sdk_drs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_drs::operation::describe_job_log_items::DescribeJobLogItemsError;
use aws_sdk_drs::operation::describe_jobs::DescribeJobsError;
use aws_sdk_drs::operation::describe_recovery_instances::DescribeRecoveryInstancesError;
use aws_sdk_drs::operation::describe_source_servers::DescribeSourceServersError;
use aws_sdk_drs::operation::start_recovery::StartRecoveryError;
use aws_sdk_drs::operation::terminate_recovery_instances::TerminateRecoveryInstancesError;
use aws_sdk_drs::types::error::{
    ConflictException, InternalServerException, ServiceQuotaExceededException, ThrottlingException,
};
use aws_sdk_drs::types::{
    self as drs, DescribeJobsRequestFilters, DescribeRecoveryInstancesRequestFilters,
    DescribeSourceServersRequestFilters, JobType, StartRecoveryRequestSourceServer,
};
use aws_sdk_drs::Client;
use aws_smithy_types::date_time::{DateTime, Format};
use execution_core::ids::{InstanceId, JobId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{
    Drs, DrsJob, JobLogEntry, JobTag, LastLaunch, ParticipatingServer, RecoveryInstance,
    RecoveryRequest, ServiceError, SourceServer, DRS_FILTER_MAX,
};
use execution_core::status::{JobStatus, LaunchStatus};

use crate::errors::{build_error, classify, http_status, throttled, unreadable};

/// `find_tagged_job` and `find_terminate_job` list jobs from this long before `since`: the
/// caller's clock and DRS's may disagree. Within that window the tags (or the recovery instances)
/// identify the job.
pub const CLOCK_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone)]
pub struct DrsService {
    client: Client,
}

impl DrsService {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Every page of DescribeJobs for one filter.
    async fn jobs(
        &self,
        what: &str,
        filters: DescribeJobsRequestFilters,
    ) -> Result<Vec<drs::Job>, ServiceError> {
        self.client
            .describe_jobs()
            .filters(filters)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                drs_error(what, &e, |e| match e {
                    DescribeJobsError::ThrottlingException(t) => Failure::Throttling(t),
                    DescribeJobsError::InternalServerException(i) => Failure::Internal(i),
                    _ => Failure::Other,
                })
            })
    }

    /// Every job DRS lists as created from `since` less [`CLOCK_SKEW_SECS`] (DescribeJobs'
    /// `fromDate`, every page), as DRS lists them.
    async fn jobs_since(
        &self,
        what: &str,
        since: Timestamp,
    ) -> Result<Vec<drs::Job>, ServiceError> {
        let from = DateTime::from_secs(listed_from(since))
            .fmt(Format::DateTime)
            .map_err(|e| build_error(what, e))?;
        let filters = DescribeJobsRequestFilters::builder()
            .from_date(from)
            .build();
        self.jobs(what, filters).await
    }
}

#[async_trait]
impl Drs for DrsService {
    async fn describe_jobs(&self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError> {
        let what = "DRS DescribeJobs";
        let mut found = Vec::new();
        for chunk in ids.chunks(DRS_FILTER_MAX) {
            let filters = DescribeJobsRequestFilters::builder()
                .set_job_ids(Some(chunk.iter().map(ToString::to_string).collect()))
                .build();
            for job in self.jobs(what, filters).await? {
                found.push(to_job(what, &job)?);
            }
        }
        Ok(found)
    }

    async fn describe_recovery_instances(
        &self,
        servers: &[SourceServerId],
    ) -> Result<Vec<RecoveryInstance>, ServiceError> {
        let what = "DRS DescribeRecoveryInstances";
        let mut found = Vec::new();
        for chunk in servers.chunks(DRS_FILTER_MAX) {
            let filters = DescribeRecoveryInstancesRequestFilters::builder()
                .set_source_server_ids(Some(chunk.iter().map(ToString::to_string).collect()))
                .build();
            let items = self
                .client
                .describe_recovery_instances()
                .filters(filters)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    drs_error(what, &e, |e| match e {
                        DescribeRecoveryInstancesError::ThrottlingException(t) => {
                            Failure::Throttling(t)
                        }
                        DescribeRecoveryInstancesError::InternalServerException(i) => {
                            Failure::Internal(i)
                        }
                        _ => Failure::Other,
                    })
                })?;
            for ri in &items {
                found.push(to_recovery_instance(what, ri)?);
            }
        }
        Ok(found)
    }

    async fn start_recovery(&self, request: &RecoveryRequest) -> Result<DrsJob, ServiceError> {
        let what = "DRS StartRecovery";
        let servers = request
            .source_servers
            .iter()
            .map(|s| {
                StartRecoveryRequestSourceServer::builder()
                    .source_server_id(s.as_str())
                    .build()
                    .map_err(|e| build_error(what, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut call = self
            .client
            .start_recovery()
            .set_source_servers(Some(servers))
            .is_drill(request.is_drill);
        for (k, v) in request.tags() {
            call = call.tags(k, v);
        }
        // StartRecovery has no idempotency token: an SDK retry after a 5xx or a timed-out attempt
        // could start a second job for the same servers. It goes out once; the caller settles a
        // lost answer with `find_tagged_job`. (The describes keep the client's retries.)
        let out = call
            .customize()
            .config_override(
                aws_sdk_drs::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| {
                drs_error(what, &e, |e| match e {
                    StartRecoveryError::ThrottlingException(t) => Failure::Throttling(t),
                    StartRecoveryError::ServiceQuotaExceededException(q) => Failure::Quota(q),
                    StartRecoveryError::ConflictException(c) => Failure::Conflict(c),
                    StartRecoveryError::InternalServerException(i) => Failure::Internal(i),
                    _ => Failure::Other,
                })
            })?;
        let job = out
            .job
            .ok_or_else(|| unreadable(what, "no job in the answer"))?;
        to_job(what, &job)
    }

    async fn find_tagged_job(
        &self,
        tag: &JobTag,
        since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        let what = "DRS DescribeJobs (tagged)";
        let matching = self.jobs_since(what, since).await?.into_iter().filter(|j| {
            j.tags
                .as_ref()
                .is_some_and(|tags| tag.matches(|key| tags.get(key).cloned()))
        });
        // One launch starts one job per part; should there be more, the first one created is the
        // part's.
        first_created(matching)
            .map(|j| to_job(what, &j))
            .transpose()
    }

    async fn describe_source_servers(
        &self,
        ids: &[SourceServerId],
    ) -> Result<Vec<SourceServer>, ServiceError> {
        let what = "DRS DescribeSourceServers";
        let mut found = Vec::new();
        // The caller sends at most DRS_FILTER_MAX; more are asked for in several calls rather
        // than refused by DRS.
        for chunk in ids.chunks(DRS_FILTER_MAX) {
            let filters = DescribeSourceServersRequestFilters::builder()
                .set_source_server_ids(Some(chunk.iter().map(ToString::to_string).collect()))
                .build();
            let items = self
                .client
                .describe_source_servers()
                .filters(filters)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(|e| {
                    drs_error(what, &e, |e| match e {
                        DescribeSourceServersError::ThrottlingException(t) => {
                            Failure::Throttling(t)
                        }
                        DescribeSourceServersError::InternalServerException(i) => {
                            Failure::Internal(i)
                        }
                        _ => Failure::Other,
                    })
                })?;
            for server in &items {
                found.push(to_source_server(what, server)?);
            }
        }
        Ok(found)
    }

    async fn job_log(&self, job: &JobId) -> Result<Vec<JobLogEntry>, ServiceError> {
        let what = "DRS DescribeJobLogItems";
        let items = self
            .client
            .describe_job_log_items()
            .job_id(job.as_str())
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                drs_error(what, &e, |e| match e {
                    DescribeJobLogItemsError::ThrottlingException(t) => Failure::Throttling(t),
                    DescribeJobLogItemsError::InternalServerException(i) => Failure::Internal(i),
                    _ => Failure::Other,
                })
            })?;
        let mut entries = items
            .iter()
            .map(|item| {
                Ok((
                    parse_time(item.log_date_time.as_deref()),
                    to_log_entry(what, item)?,
                ))
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        // Oldest first, by time (not by text); entries of the same time keep DRS's order, and
        // one without a readable time goes last.
        entries.sort_by(|(a, _), (b, _)| by_time(a.as_ref(), b.as_ref()));
        Ok(entries.into_iter().map(|(_, e)| e).collect())
    }

    async fn terminate_recovery_instances(
        &self,
        instances: &[InstanceId],
    ) -> Result<DrsJob, ServiceError> {
        let what = "DRS TerminateRecoveryInstances";
        if instances.is_empty() || instances.len() > DRS_FILTER_MAX {
            return Err(build_error(
                what,
                format!(
                    "{} recovery instances; one call takes 1 to {DRS_FILTER_MAX}",
                    instances.len()
                ),
            ));
        }
        // No idempotency token either: an SDK retry of an attempt whose answer was lost would
        // start a second TERMINATE job. It goes out once; the caller settles a lost answer with
        // `find_terminate_job`.
        let out = self
            .client
            .terminate_recovery_instances()
            .set_recovery_instance_ids(Some(instances.iter().map(ToString::to_string).collect()))
            .customize()
            .config_override(
                aws_sdk_drs::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| {
                drs_error(what, &e, |e| match e {
                    TerminateRecoveryInstancesError::ThrottlingException(t) => {
                        Failure::Throttling(t)
                    }
                    TerminateRecoveryInstancesError::ServiceQuotaExceededException(q) => {
                        Failure::Quota(q)
                    }
                    TerminateRecoveryInstancesError::ConflictException(c) => Failure::Conflict(c),
                    TerminateRecoveryInstancesError::InternalServerException(i) => {
                        Failure::Internal(i)
                    }
                    _ => Failure::Other,
                })
            })?;
        let job = out
            .job
            .ok_or_else(|| unreadable(what, "no job in the answer"))?;
        to_job(what, &job)
    }

    async fn find_terminate_job(
        &self,
        instances: &[InstanceId],
        since: Timestamp,
    ) -> Result<Option<DrsJob>, ServiceError> {
        let what = "DRS DescribeJobs (terminate)";
        if instances.is_empty() {
            return Ok(None);
        }
        let from = listed_from(since);
        let matching = self.jobs_since(what, since).await?.into_iter().filter(|j| {
            // Only the recovery instances and the date tell this call's job from an earlier
            // TERMINATE of the same instances, so a job known to be older is never it, whatever
            // DRS's filter let through. (One whose date does not parse is kept, and comes last.)
            j.r#type.as_ref() == Some(&JobType::Terminate)
                && created(j).is_none_or(|at| at.secs() >= from)
                && j.participating_servers.iter().flatten().any(|p| {
                    p.recovery_instance_id
                        .as_deref()
                        .is_some_and(|ri| instances.iter().any(|i| i.as_str() == ri))
                })
        });
        first_created(matching)
            .map(|j| to_job(what, &j))
            .transpose()
    }
}

/// The earliest creation time (epoch seconds) a job `since` may show: `since` less the clock skew.
fn listed_from(since: Timestamp) -> i64 {
    since.secs().saturating_sub(CLOCK_SKEW_SECS)
}

/// The first job created, by time (DRS may write offsets or fractions, so never by text); a job
/// whose date does not parse comes after every job whose date does.
fn first_created(jobs: impl Iterator<Item = drs::Job>) -> Option<drs::Job> {
    let mut dated: Vec<(Option<DateTime>, drs::Job)> = jobs.map(|j| (created(&j), j)).collect();
    // Stable: jobs of the same time (or none) keep DRS's order.
    dated.sort_by(|(a, _), (b, _)| by_time(a.as_ref(), b.as_ref()));
    dated.into_iter().next().map(|(_, j)| j)
}

/// A job's `creationDateTime` as a time (RFC 3339, with `Z` or an offset).
fn created(job: &drs::Job) -> Option<DateTime> {
    parse_time(job.creation_date_time.as_deref())
}

/// Earlier first; a time that is not known comes after every known one.
fn by_time(a: Option<&DateTime>, b: Option<&DateTime>) -> std::cmp::Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (a, b) => b.is_some().cmp(&a.is_some()),
    }
}

/// One of DRS's date-time strings (RFC 3339, with `Z` or an offset) as a time; absent, empty or
/// unreadable is `None` (a date is information, never a reason to fail an answer).
fn parse_time(raw: Option<&str>) -> Option<DateTime> {
    raw.and_then(|raw| DateTime::from_str(raw.trim(), Format::DateTimeWithOffset).ok())
}

/// The same, in whole seconds as records keep time.
fn timestamp(raw: Option<&str>) -> Option<Timestamp> {
    parse_time(raw).map(|t| Timestamp(t.secs()))
}

/// The DRS errors that carry more than their code says.
enum Failure<'a> {
    /// `retryAfterSeconds` travels with it.
    Throttling(&'a ThrottlingException),
    /// StartRecovery over a DRS quota (concurrent jobs, servers in all jobs): clears as jobs end.
    Quota(&'a ServiceQuotaExceededException),
    /// StartRecovery for a server that is in another job: clears when that job ends.
    Conflict(&'a ConflictException),
    /// DRS's 5xx, also when the code is missing from the metadata; `retryAfterSeconds` (the
    /// `Retry-After` header) travels with it.
    Internal(&'a InternalServerException),
    Other,
}

fn drs_error<E>(
    what: &str,
    err: &SdkError<E, HttpResponse>,
    kind: fn(&E) -> Failure<'_>,
) -> ServiceError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let status = http_status(err);
    match err.as_service_error().map(kind) {
        Some(Failure::Throttling(t)) => throttled(
            what,
            "ThrottlingException",
            Some(t.message()),
            t.retry_after_seconds(),
            status.unwrap_or(429),
        ),
        // Neither names a time of its own (the SDK's types carry no retryAfterSeconds for them).
        Some(Failure::Quota(q)) => {
            let detail = [("quota", q.quota_code()), ("service", q.service_code())];
            throttled(
                what,
                "ServiceQuotaExceededException",
                Some(&with_detail(q.message(), &detail)),
                None,
                status.unwrap_or(402),
            )
        }
        Some(Failure::Conflict(c)) => {
            let detail = [("resource", c.resource_id()), ("type", c.resource_type())];
            throttled(
                what,
                "ConflictException",
                Some(&with_detail(c.message(), &detail)),
                None,
                status.unwrap_or(409),
            )
        }
        Some(Failure::Internal(i)) => {
            let message = match classify(what, err) {
                ServiceError::Rejected(m)
                | ServiceError::Throttled { message: m, .. }
                | ServiceError::Unavailable { message: m, .. } => m,
            };
            // The SDK reads a missing header as 0: no hint, not "retry at once".
            let retry_after = u64::try_from(i.retry_after_seconds())
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs);
            ServiceError::Unavailable {
                retry_after,
                message,
            }
        }
        _ => classify(what, err),
    }
}

/// DRS's message and the fields that say what it refers to (`…; resource s-…; type SOURCE_SERVER`).
fn with_detail(message: Option<&str>, detail: &[(&str, Option<&str>)]) -> String {
    let mut text = message.unwrap_or_default().to_owned();
    for (name, value) in detail {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&format!("{name} {v}"));
        }
    }
    text
}

fn to_job(what: &str, job: &drs::Job) -> Result<DrsJob, ServiceError> {
    let job_id = JobId::parse(&job.job_id).map_err(|e| unreadable(what, e))?;
    // DRS always names the status; a job without one has not started anything yet. A value this
    // version does not know is kept as DRS spelled it (the SDK's `Unknown` holds it).
    let status = match job.status.as_ref().map(|s| s.as_str()) {
        None | Some("") => JobStatus::Pending,
        Some(raw) => JobStatus::parse(raw),
    };
    let participating_servers = job
        .participating_servers
        .iter()
        .flatten()
        .map(|p| to_participant(what, p))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DrsJob {
        job_id,
        status,
        participating_servers,
        created_time: timestamp(job.creation_date_time.as_deref()),
        ended_time: timestamp(job.end_date_time.as_deref()),
        tag: job
            .tags
            .as_ref()
            .and_then(|tags| JobTag::read(|key| tags.get(key).cloned())),
    })
}

fn to_source_server(what: &str, s: &drs::SourceServer) -> Result<SourceServer, ServiceError> {
    let raw = s
        .source_server_id
        .as_deref()
        .ok_or_else(|| unreadable(what, "a source server without sourceServerID"))?;
    let source_server_id = SourceServerId::parse(raw).map_err(|e| unreadable(what, e))?;
    let hostname = s
        .source_properties
        .as_ref()
        .and_then(|p| p.identification_hints.as_ref())
        .and_then(|h| h.hostname.clone())
        .filter(|h| !h.is_empty());
    let replication = s.data_replication_info.as_ref();
    // As DRS spells it: a state this version does not know is the SDK's `Unknown`, whose
    // `as_str` is DRS's own word.
    let replication_state = replication
        .and_then(|r| r.data_replication_state.as_ref())
        .map(|state| state.as_str().to_owned())
        .filter(|state| !state.is_empty());
    let replication_error = replication
        .and_then(|r| r.data_replication_error.as_ref())
        .and_then(|e| {
            let code = e
                .error
                .as_ref()
                .map(|c| c.as_str())
                .filter(|c| !c.is_empty());
            let raw = e
                .raw_error
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty());
            match (code, raw) {
                (Some(code), Some(raw)) => Some(format!("{code}: {raw}")),
                (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
                (None, None) => None,
            }
        });
    let last_launch = s
        .life_cycle
        .as_ref()
        .and_then(|l| l.last_launch.as_ref())
        .map(|l| to_last_launch(what, l))
        .transpose()?;
    Ok(SourceServer {
        source_server_id,
        hostname,
        replication_state,
        replication_error,
        last_launch,
        recovery_instance_id: optional_instance(what, s.recovery_instance_id.as_deref())?,
    })
}

fn to_last_launch(what: &str, l: &drs::LifeCycleLastLaunch) -> Result<LastLaunch, ServiceError> {
    let initiated = l.initiated.as_ref();
    Ok(LastLaunch {
        job_id: initiated
            .and_then(|i| i.job_id.as_deref())
            .filter(|j| !j.is_empty())
            .map(JobId::parse)
            .transpose()
            .map_err(|e| unreadable(what, e))?,
        kind: initiated
            .and_then(|i| i.r#type.as_ref())
            .map(|t| t.as_str().to_owned())
            .filter(|t| !t.is_empty()),
        status: l
            .status
            .as_ref()
            .map(|s| s.as_str())
            .filter(|s| !s.is_empty())
            .map(LaunchStatus::parse),
    })
}

fn to_log_entry(what: &str, item: &drs::JobLog) -> Result<JobLogEntry, ServiceError> {
    let data = item.event_data.as_ref();
    Ok(JobLogEntry {
        event: item
            .event
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default(),
        source_server_id: data
            .and_then(|d| d.source_server_id.as_deref())
            .filter(|s| !s.is_empty())
            .map(SourceServerId::parse)
            .transpose()
            .map_err(|e| unreadable(what, e))?,
        raw_error: data
            .and_then(|d| d.raw_error.clone())
            .filter(|r| !r.trim().is_empty()),
        time: timestamp(item.log_date_time.as_deref()),
    })
}

fn to_participant(
    what: &str,
    p: &drs::ParticipatingServer,
) -> Result<ParticipatingServer, ServiceError> {
    let raw = p
        .source_server_id
        .as_deref()
        .ok_or_else(|| unreadable(what, "a participating server without sourceServerID"))?;
    let source_server_id = SourceServerId::parse(raw).map_err(|e| unreadable(what, e))?;
    // A server DRS has not reported on yet is where every server starts: PENDING. A value this
    // version does not know is kept as DRS spelled it, and counts as not settled.
    let launch_status = match p.launch_status.as_ref().map(|s| s.as_str()) {
        None | Some("") => LaunchStatus::Pending,
        Some(raw) => LaunchStatus::parse(raw),
    };
    let recovery_instance_id = optional_instance(what, p.recovery_instance_id.as_deref())?;
    Ok(ParticipatingServer {
        source_server_id,
        launch_status,
        recovery_instance_id,
    })
}

fn to_recovery_instance(
    what: &str,
    ri: &drs::RecoveryInstance,
) -> Result<RecoveryInstance, ServiceError> {
    let id = optional_instance(what, ri.recovery_instance_id.as_deref())?
        .ok_or_else(|| unreadable(what, "a recovery instance without an id"))?;
    let source = ri.source_server_id.as_deref().ok_or_else(|| {
        unreadable(
            what,
            format!("recovery instance {id} without sourceServerID"),
        )
    })?;
    Ok(RecoveryInstance {
        source_server_id: SourceServerId::parse(source).map_err(|e| unreadable(what, e))?,
        ec2_instance_id: optional_instance(what, ri.ec2_instance_id.as_deref())?,
        job_id: ri
            .job_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(JobId::parse)
            .transpose()
            .map_err(|e| unreadable(what, e))?,
        is_drill: ri.is_drill,
        recovery_instance_id: id,
    })
}

/// Empty strings count as absent (DRS sends them for fields not filled in yet).
fn optional_instance(what: &str, raw: Option<&str>) -> Result<Option<InstanceId>, ServiceError> {
    raw.filter(|s| !s.is_empty())
        .map(InstanceId::parse)
        .transpose()
        .map_err(|e| unreadable(what, e))
}
