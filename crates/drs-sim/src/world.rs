//! The simulated DRS and EC2: jobs that progress with the clock, the recovery instances and EC2
//! instances they launch, and the faults a [`FaultScript`] asks for.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use execution_core::ids::{InstanceId, JobId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{
    DrsJob, Ec2Instance, JobTag, ParticipatingServer, RecoveryInstance, RecoveryRequest,
    ServiceError, DRS_FILTER_MAX, EC2_FILTER_MAX,
};
use execution_core::rules::MAX_SERVERS_PER_JOB;
use execution_core::status::{JobStatus, LaunchStatus};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::calls::{Api, Calls};
use crate::config::{FaultScript, Progression, Timings};
use crate::{lock, SimClock};

/// A DRS job as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub job_id: JobId,
    pub status: JobStatus,
    pub tags: BTreeMap<String, String>,
    pub created: Timestamp,
    pub is_drill: bool,
    pub servers: Vec<JobServer>,
    /// When the job starts and completes on its own; `None`: it stays as it is.
    pub(crate) schedule: Option<(i64, i64)>,
    /// DescribeJobs calls that will still not return it.
    pub(crate) hidden_polls: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobServer {
    pub source_server_id: SourceServerId,
    pub launch_status: LaunchStatus,
    pub recovery_instance_id: Option<InstanceId>,
    pub(crate) schedule: Option<ServerSchedule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerSchedule {
    in_progress_at: i64,
    settles_at: i64,
    fails: bool,
}

impl Job {
    /// A job standing still in the given state (a world loaded from a file).
    pub fn fixed(
        job_id: JobId,
        status: JobStatus,
        created: Timestamp,
        servers: Vec<ParticipatingServer>,
        tags: BTreeMap<String, String>,
    ) -> Self {
        let servers = servers
            .into_iter()
            .map(|p| JobServer {
                source_server_id: p.source_server_id,
                launch_status: p.launch_status,
                recovery_instance_id: p.recovery_instance_id,
                schedule: None,
            })
            .collect();
        Self {
            job_id,
            status,
            tags,
            created,
            is_drill: true,
            servers,
            schedule: None,
            hidden_polls: 0,
        }
    }

    /// What DescribeJobs answers for it.
    pub fn described(&self, with_recovery_instance_ids: bool) -> DrsJob {
        DrsJob {
            job_id: self.job_id.clone(),
            status: self.status.clone(),
            participating_servers: self
                .servers
                .iter()
                .map(|s| ParticipatingServer {
                    source_server_id: s.source_server_id.clone(),
                    launch_status: s.launch_status.clone(),
                    recovery_instance_id: s
                        .recovery_instance_id
                        .clone()
                        .filter(|_| with_recovery_instance_ids),
                })
                .collect(),
        }
    }
}

/// An EC2 instance and how many more DescribeInstances calls will not see it.
#[derive(Debug, Clone)]
struct SimInstance {
    instance: Ec2Instance,
    unknown_polls: u32,
}

/// DRS and EC2 as one world (DRS launches what EC2 then describes), shared by [`crate::SimDrs`] and
/// [`crate::SimEc2`].
#[derive(Debug)]
pub struct World {
    clock: Arc<SimClock>,
    calls: Arc<Calls>,
    state: Mutex<State>,
}

#[derive(Debug)]
pub(crate) struct State {
    rng: ChaCha8Rng,
    progression: Progression,
    faults: FaultScript,
    jobs: Vec<Job>,
    recovery_instances: Vec<RecoveryInstance>,
    instances: Vec<SimInstance>,
    instance_index: HashMap<InstanceId, usize>,
    addresses_used: u32,
}

const INSTANCE_TYPES: [&str; 5] = ["t3.medium", "t3.large", "m5.large", "m5.xlarge", "r5.large"];

impl World {
    pub fn new(
        clock: Arc<SimClock>,
        calls: Arc<Calls>,
        seed: u64,
        progression: Progression,
        faults: FaultScript,
    ) -> Self {
        let state = State {
            rng: ChaCha8Rng::seed_from_u64(seed),
            progression,
            faults,
            jobs: Vec::new(),
            recovery_instances: Vec::new(),
            instances: Vec::new(),
            instance_index: HashMap::new(),
            addresses_used: 0,
        };
        Self {
            clock,
            calls,
            state: Mutex::new(state),
        }
    }

    /// Changes the fault script; jobs and instances created from now on follow it.
    pub fn script_faults(&self, change: impl FnOnce(&mut FaultScript)) {
        change(&mut lock(&self.state).faults);
    }

    pub fn add_job(&self, job: Job) {
        lock(&self.state).jobs.push(job);
    }

    pub fn add_recovery_instance(&self, ri: RecoveryInstance) {
        lock(&self.state).recovery_instances.push(ri);
    }

    pub fn add_instance(&self, instance: Ec2Instance) {
        lock(&self.state).add_instance(instance, 0);
    }

    /// Every job, in creation order, as it stands at the clock's time.
    pub fn jobs(&self) -> Vec<Job> {
        let mut s = lock(&self.state);
        s.advance(self.clock.now().secs());
        s.jobs.clone()
    }

    pub fn recovery_instances(&self) -> Vec<RecoveryInstance> {
        let mut s = lock(&self.state);
        s.advance(self.clock.now().secs());
        s.recovery_instances.clone()
    }

    pub fn instances(&self) -> Vec<Ec2Instance> {
        let mut s = lock(&self.state);
        s.advance(self.clock.now().secs());
        s.instances.iter().map(|i| i.instance.clone()).collect()
    }

    /// One service call: counted, faults applied, the world brought up to the clock, then `answer`.
    pub(crate) async fn call<T>(
        &self,
        api: Api,
        answer: impl FnOnce(&mut State, Timestamp) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        self.calls.enter(api).await?;
        let now = self.clock.now();
        let mut s = lock(&self.state);
        s.advance(now.secs());
        answer(&mut s, now)
    }
}

impl State {
    /// Applies every scheduled change up to `now`.
    fn advance(&mut self, now: i64) {
        let mut launched = Vec::new();
        for (j, job) in self
            .jobs
            .iter_mut()
            .enumerate()
            .filter(|(_, j)| j.status != JobStatus::Completed)
        {
            let Some((starts_at, completes_at)) = job.schedule else {
                continue;
            };
            if job.status == JobStatus::Pending && now >= starts_at {
                job.status = JobStatus::Started;
            }
            for (i, server) in job.servers.iter_mut().enumerate() {
                let Some(plan) = server.schedule else {
                    continue;
                };
                if server.launch_status == LaunchStatus::Pending && now >= plan.in_progress_at {
                    server.launch_status = LaunchStatus::InProgress;
                }
                if !server.launch_status.is_settled() && now >= plan.settles_at {
                    server.launch_status = if plan.fails {
                        LaunchStatus::Failed
                    } else {
                        LaunchStatus::Launched
                    };
                    if !plan.fails {
                        launched.push((j, i, plan.settles_at));
                    }
                }
            }
            if now >= completes_at {
                job.status = JobStatus::Completed;
            }
        }
        for (j, i, at) in launched {
            let id = self.launch_instance(j, i, Timestamp(at));
            self.jobs[j].servers[i].recovery_instance_id = Some(id);
        }
    }

    /// The recovery instance (and its EC2 instance) of server `i` of job `j`.
    fn launch_instance(&mut self, j: usize, i: usize, at: Timestamp) -> InstanceId {
        let id = loop {
            let candidate =
                InstanceId::parse(&format!("i-{}", random_chars(&mut self.rng, 17, HEX)))
                    .unwrap_or_else(|e| unreachable!("{e}"));
            if !self.instance_index.contains_key(&candidate) {
                break candidate;
            }
        };
        let n = self.addresses_used;
        self.addresses_used = n.wrapping_add(1);
        let ip = format!("10.0.{}.{}", (n / 250) % 256, n % 250 + 4);
        let instance_type = INSTANCE_TYPES[self.rng.random_range(0..INSTANCE_TYPES.len())];
        self.recovery_instances.push(RecoveryInstance {
            recovery_instance_id: id.clone(),
            ec2_instance_id: Some(id.clone()),
            source_server_id: self.jobs[j].servers[i].source_server_id.clone(),
            job_id: Some(self.jobs[j].job_id.clone()),
            is_drill: Some(self.jobs[j].is_drill),
        });
        let instance = Ec2Instance {
            instance_id: id.clone(),
            private_dns_name: Some(format!("ip-{}.ec2.internal", ip.replace('.', "-"))),
            private_ip: Some(ip),
            instance_type: Some(instance_type.to_owned()),
            state: Some("running".to_owned()),
            launch_time: Some(at),
        };
        let unknown_polls = self.faults.ec2_unknown_polls;
        self.add_instance(instance, unknown_polls);
        id
    }

    fn add_instance(&mut self, instance: Ec2Instance, unknown_polls: u32) {
        match self.instance_index.get(&instance.instance_id) {
            Some(&at) => {
                self.instances[at] = SimInstance {
                    instance,
                    unknown_polls,
                }
            }
            None => {
                self.instance_index
                    .insert(instance.instance_id.clone(), self.instances.len());
                self.instances.push(SimInstance {
                    instance,
                    unknown_polls,
                });
            }
        }
    }

    pub(crate) fn describe_jobs(&mut self, ids: &[JobId]) -> Result<Vec<DrsJob>, ServiceError> {
        check_filter("jobIDs", ids.len(), DRS_FILTER_MAX)?;
        let with_ids = !self.faults.omit_recovery_instance_ids;
        let mut found = Vec::new();
        for job in self.jobs.iter_mut().filter(|j| ids.contains(&j.job_id)) {
            if job.hidden_polls > 0 {
                job.hidden_polls -= 1;
                continue;
            }
            found.push(job.described(with_ids));
        }
        Ok(found)
    }

    pub(crate) fn describe_recovery_instances(
        &self,
        servers: &[SourceServerId],
    ) -> Result<Vec<RecoveryInstance>, ServiceError> {
        check_filter("sourceServerIDs", servers.len(), DRS_FILTER_MAX)?;
        Ok(self
            .recovery_instances
            .iter()
            .filter(|ri| servers.contains(&ri.source_server_id))
            .cloned()
            .collect())
    }

    pub(crate) fn describe_instances(
        &mut self,
        ids: &[InstanceId],
    ) -> Result<Vec<Ec2Instance>, ServiceError> {
        check_filter("instance-id", ids.len(), EC2_FILTER_MAX)?;
        let mut found = Vec::new();
        for id in ids {
            let Some(&at) = self.instance_index.get(id) else {
                continue;
            };
            let sim = &mut self.instances[at];
            if sim.unknown_polls > 0 {
                sim.unknown_polls -= 1;
            } else {
                found.push(sim.instance.clone());
            }
        }
        Ok(found)
    }

    /// StartRecovery as DRS answers it: the request's own limits first (a validation error), then
    /// the account's per-job quota (which asking again does not clear), then the scripted
    /// refusals that clear on their own; otherwise a new job, tagged as the request says, whose
    /// participating servers are the request's less the servers it omits.
    pub(crate) fn start_recovery(
        &mut self,
        request: &RecoveryRequest,
        now: Timestamp,
    ) -> Result<DrsJob, ServiceError> {
        let servers = &request.source_servers;
        let count = servers.len();
        if count == 0 || count > MAX_SERVERS_PER_JOB as usize {
            return Err(ServiceError::Rejected(format!(
                "ValidationException: sourceServers takes 1 to {MAX_SERVERS_PER_JOB} items, got {count}"
            )));
        }
        if let Some(quota) = self.faults.job_server_quota.filter(|q| count > *q as usize) {
            // DRS answers ServiceQuotaExceededException; this quota is not adjustable and the same
            // request never fits it, so the port's answer is a refusal that will not clear.
            return Err(ServiceError::Rejected(format!(
                "ServiceQuotaExceededException: {count} source servers in one job; the quota \
                 'Max source servers in a single Job' (L-B827C881) is {quota}"
            )));
        }
        if let Some(retry_after) = self.faults.quota_refusals.take() {
            return Err(ServiceError::Throttled {
                retry_after,
                message:
                    "ServiceQuotaExceededException: 'Concurrent jobs in progress' (L-D88FAC3A) \
                          reached; try again when a job has finished"
                        .to_owned(),
            });
        }
        if let Some(retry_after) = self.faults.conflict_refusals.take() {
            return Err(ServiceError::Throttled {
                retry_after,
                message: format!(
                    "ConflictException: source server {} is in another job that has not finished",
                    servers[0]
                ),
            });
        }
        let job_id = loop {
            let candidate = JobId::parse(&format!(
                "drsjob-{}",
                random_chars(&mut self.rng, 17, ALNUM)
            ))
            .unwrap_or_else(|e| unreachable!("{e}"));
            if self.jobs.iter().all(|j| j.job_id != candidate) {
                break candidate;
            }
        };
        let mut job = Job {
            job_id,
            status: JobStatus::Pending,
            tags: request
                .tags()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            created: now,
            is_drill: request.is_drill,
            servers: servers
                .iter()
                .filter(|id| !self.faults.omitted_servers.contains(id))
                .map(|id| JobServer {
                    source_server_id: id.clone(),
                    launch_status: LaunchStatus::Pending,
                    recovery_instance_id: None,
                    schedule: None,
                })
                .collect(),
            schedule: None,
            hidden_polls: self.faults.job_missing_polls,
        };
        if let Progression::Timed(t) = self.progression {
            let started = now.secs() + t.job_start.sample(&mut self.rng);
            let mut last = started;
            for server in &mut job.servers {
                let plan =
                    self.schedule_server(&t, &server.source_server_id, request.attempt, started);
                last = last.max(plan.settles_at);
                server.schedule = Some(plan);
            }
            job.schedule = Some((
                started,
                last.saturating_add(i64::try_from(t.job_complete_lag_secs).unwrap_or(i64::MAX)),
            ));
        }
        let described = job.described(true);
        self.jobs.push(job);
        Ok(described)
    }

    fn schedule_server(
        &mut self,
        t: &Timings,
        id: &SourceServerId,
        attempt: u32,
        started: i64,
    ) -> ServerSchedule {
        let in_progress_at = started + t.server_start.sample(&mut self.rng);
        let settles_at = in_progress_at + t.server_launch.sample(&mut self.rng);
        ServerSchedule {
            in_progress_at,
            settles_at,
            fails: self.faults.fails(id, attempt),
        }
    }

    /// The first job created at or after `since` whose tags say it is `tag`'s.
    pub(crate) fn find_tagged_job(&self, tag: &JobTag, since: Timestamp) -> Option<DrsJob> {
        self.jobs
            .iter()
            .filter(|j| j.created >= since && tag.matches(|key| j.tags.get(key).cloned()))
            .min_by_key(|j| j.created)
            .map(|j| j.described(!self.faults.omit_recovery_instance_ids))
    }
}

/// The services refuse a filter with too many values (a validation error, not a partial answer).
fn check_filter(name: &str, len: usize, max: usize) -> Result<(), ServiceError> {
    if len > max {
        Err(ServiceError::Rejected(format!(
            "the {name} filter takes at most {max} values, got {len}"
        )))
    } else {
        Ok(())
    }
}

const ALNUM: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";

fn random_chars(rng: &mut impl Rng, n: usize, alphabet: &[u8]) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

#[cfg(test)]
mod tests;
