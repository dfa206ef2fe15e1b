//! The simulated DRS and EC2: jobs that progress with the clock, the recovery instances and EC2
//! instances they launch and terminate, the source servers they launch from, and the faults a
//! [`FaultScript`] asks for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use execution_core::ids::{ExecutionId, InstanceId, JobId, SourceServerId};
use execution_core::model::Timestamp;
use execution_core::ports::{
    Clock, DrsJob, Ec2Instance, JobLogEntry, JobTag, LastLaunch, ParticipatingServer,
    RecoveryInstance, RecoveryRequest, ServiceError, SourceServer, DRS_FILTER_MAX, EC2_FILTER_MAX,
};
use execution_core::rules::MAX_SERVERS_PER_JOB;
use execution_core::status::{JobStatus, LaunchStatus};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::calls::{Api, Calls};
use crate::config::{
    ActionScripts, EventConfig, FaultScript, Progression, SourceServers, TerminateTimings, Timings,
};
use crate::{lock, SimClock};

mod actions;
mod events;

pub use actions::{Automation, GARBAGE_PAYLOAD, GARBAGE_STATUS};
pub use events::{LaunchEvent, LAUNCH_FAILED, LAUNCH_SUCCEEDED};

/// What a DRS job does (DescribeJobs' `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobType {
    /// StartRecovery: launches recovery instances (a drill or a recovery).
    Launch,
    /// TerminateRecoveryInstances: terminates recovery instances.
    Terminate,
}

impl JobType {
    /// DRS's own name (`type`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Launch => "LAUNCH",
            Self::Terminate => "TERMINATE",
        }
    }
}

/// A DRS job as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub job_id: JobId,
    pub status: JobStatus,
    pub tags: BTreeMap<String, String>,
    pub created: Timestamp,
    /// `created` to the millisecond: when StartRecovery (or TerminateRecoveryInstances) was
    /// answered on the simulated clock.
    pub created_millis: i64,
    pub is_drill: bool,
    pub servers: Vec<JobServer>,
    /// LAUNCH or TERMINATE.
    pub job_type: JobType,
    /// DRS's `endDateTime`: when the job COMPLETED.
    pub ended: Option<Timestamp>,
    /// What DescribeJobLogItems answers for it, oldest first.
    pub log: Vec<JobLogEntry>,
    /// When the job starts and completes on its own; `None`: it stays as it is.
    pub(crate) schedule: Option<(i64, i64)>,
    /// DescribeJobs calls that will still not return it.
    pub(crate) hidden_polls: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobServer {
    pub source_server_id: SourceServerId,
    pub launch_status: LaunchStatus,
    /// The instance the job launched (LAUNCH) or terminates (TERMINATE).
    pub recovery_instance_id: Option<InstanceId>,
    pub(crate) schedule: Option<ServerSchedule>,
}

impl JobServer {
    /// When DRS ended this server's launch (or termination), once it has: the exact time the
    /// world scheduled, which DRS's own answers round to a poll. `None` for a server that has
    /// not settled, or one of a job that does not move with the clock.
    pub fn ended_at(&self) -> Option<Timestamp> {
        self.schedule
            .as_ref()
            .filter(|_| self.launch_status.is_settled())
            .map(|plan| Timestamp(plan.settles_at))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerSchedule {
    in_progress_at: i64,
    settles_at: i64,
    /// The `rawError` the launch fails with, if it fails.
    failure: Option<String>,
}

impl Job {
    /// A LAUNCH job standing still in the given state (a world loaded from a file).
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
            created_millis: created.secs().saturating_mul(1000),
            is_drill: true,
            servers,
            job_type: JobType::Launch,
            ended: None,
            log: Vec::new(),
            schedule: None,
            hidden_polls: 0,
        }
    }

    /// What DescribeJobs answers for it. A TERMINATE job always names the instances it
    /// terminates (they were the request).
    pub fn described(&self, with_recovery_instance_ids: bool) -> DrsJob {
        let with_ids = with_recovery_instance_ids || self.job_type == JobType::Terminate;
        DrsJob {
            job_id: self.job_id.clone(),
            status: self.status.clone(),
            participating_servers: self
                .servers
                .iter()
                .map(|s| ParticipatingServer {
                    source_server_id: s.source_server_id.clone(),
                    launch_status: s.launch_status.clone(),
                    recovery_instance_id: s.recovery_instance_id.clone().filter(|_| with_ids),
                })
                .collect(),
            created_time: Some(self.created),
            ended_time: self.ended,
            tag: JobTag::read(|key| self.tags.get(key).cloned()),
        }
    }

    /// DRS's `initiatedBy`.
    pub fn initiated_by(&self) -> &'static str {
        match (self.job_type, self.is_drill) {
            (JobType::Terminate, _) => "TERMINATE_RECOVERY_INSTANCES",
            (JobType::Launch, true) => "START_DRILL",
            (JobType::Launch, false) => "START_RECOVERY",
        }
    }
}

/// A wave boundary as DRS saw it ([`World::wave_boundaries`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveBoundary {
    pub wave_number: u32,
    /// The next wave that launched.
    pub next_wave: u32,
    /// When the wave's last server launch ended.
    pub last_launch_ended: Timestamp,
    /// When the next wave's first StartRecovery was answered, in epoch milliseconds.
    pub next_started_millis: i64,
}

impl WaveBoundary {
    /// Milliseconds from the wave's last launch to the next wave's first StartRecovery.
    pub fn gap_millis(&self) -> i64 {
        self.next_started_millis - self.last_launch_ended.secs().saturating_mul(1000)
    }
}

/// An EC2 instance and how many more DescribeInstances calls will not see it.
#[derive(Debug, Clone)]
struct SimInstance {
    instance: Ec2Instance,
    unknown_polls: u32,
}

/// What DRS keeps of a source server besides its replication: its hostname and its last launch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct ServerLife {
    hostname: Option<String>,
    last_launch: Option<LastLaunch>,
    /// A job moved its last launch since the world was built (a saved world writes it back).
    changed: bool,
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
    servers: SourceServers,
    /// `Some`: DRS knows exactly these servers (a world file that lists its source servers);
    /// `None`: every server but [`SourceServers::unknown`].
    known: Option<BTreeSet<SourceServerId>>,
    lives: BTreeMap<SourceServerId, ServerLife>,
    terminate: TerminateTimings,
    jobs: Vec<Job>,
    recovery_instances: Vec<RecoveryInstance>,
    /// Recovery instances by source server (so a launch looks for the one it replaces only when
    /// there is one).
    recovery_counts: HashMap<SourceServerId, u32>,
    instances: Vec<SimInstance>,
    instance_index: HashMap<InstanceId, usize>,
    addresses_used: u32,
    /// The wave actions' Lambda functions and SSM automations.
    actions: actions::ActionState,
    /// The DRS launch results on their way.
    events: events::EventQueue,
    /// The clock, in milliseconds, when the call being answered came in.
    clock_millis: i64,
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
            servers: SourceServers::default(),
            known: None,
            lives: BTreeMap::new(),
            terminate: TerminateTimings::default(),
            jobs: Vec::new(),
            recovery_instances: Vec::new(),
            recovery_counts: HashMap::new(),
            instances: Vec::new(),
            instance_index: HashMap::new(),
            addresses_used: 0,
            actions: actions::ActionState::new(seed),
            events: events::EventQueue::new(seed),
            clock_millis: clock.now_millis(),
        };
        Self {
            clock,
            calls,
            state: Mutex::new(state),
        }
    }

    /// This world with its source servers as `servers` says.
    pub fn with_source_servers(self, servers: SourceServers) -> Self {
        lock(&self.state).servers = servers;
        self
    }

    /// This world with TERMINATE jobs taking `timings` (in a world that moves with the clock).
    pub fn with_terminate_timings(self, timings: TerminateTimings) -> Self {
        lock(&self.state).terminate = timings;
        self
    }

    /// This world with the wave actions' functions and runbooks behaving as `scripts` says.
    pub fn with_actions(self, scripts: ActionScripts) -> Self {
        lock(&self.state).set_action_scripts(scripts);
        self
    }

    /// This world sending DRS launch results as `config` says (for the jobs started from now on).
    pub fn with_events(self, config: EventConfig) -> Self {
        lock(&self.state).events.set_config(config);
        self
    }

    /// When the next DRS launch result is due, in epoch milliseconds (lost or not; `None`: none is
    /// on its way).
    pub fn next_launch_result_due(&self) -> Option<i64> {
        lock(&self.state).events.next_due()
    }

    /// Takes the DRS launch results due at or before `until_millis` (epoch milliseconds) off
    /// their queue, in the order they are delivered: each is delivered once, the lost ones
    /// included (marked: nobody receives them). A launch's result is made when its job starts,
    /// so one due before the clock's time is one that nobody took in time.
    pub fn launch_results_due(&self, until_millis: i64) -> Vec<LaunchEvent> {
        lock(&self.state).events.take_due(until_millis)
    }

    /// Changes the fault script; jobs and instances created from now on follow it.
    pub fn script_faults(&self, change: impl FnOnce(&mut FaultScript)) {
        change(&mut lock(&self.state).faults);
    }

    /// Changes what DRS says of the source servers (replication, unknown); jobs
    /// started from now on follow it.
    pub fn script_source_servers(&self, change: impl FnOnce(&mut SourceServers)) {
        change(&mut lock(&self.state).servers);
    }

    /// `Some`: DRS knows exactly these source servers (less [`SourceServers::unknown`]); `None`
    /// (the default): every server but those.
    pub fn set_known_servers(&self, known: Option<BTreeSet<SourceServerId>>) {
        lock(&self.state).known = known;
    }

    /// What DRS says of `server` besides its replication: its hostname and last launch (a world
    /// file's source server item).
    pub fn set_source_server_facts(
        &self,
        server: SourceServerId,
        hostname: Option<String>,
        last_launch: Option<LastLaunch>,
    ) {
        lock(&self.state).lives.insert(
            server,
            ServerLife {
                hostname,
                last_launch,
                changed: false,
            },
        );
    }

    pub fn add_job(&self, job: Job) {
        lock(&self.state).jobs.push(job);
    }

    pub fn add_recovery_instance(&self, ri: RecoveryInstance) {
        let mut s = lock(&self.state);
        *s.recovery_counts
            .entry(ri.source_server_id.clone())
            .or_default() += 1;
        s.recovery_instances.push(ri);
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

    /// Each wave boundary of `execution` as DRS saw it: from the end of the last server launch
    /// of a wave (the exact time the world scheduled) to the first StartRecovery of the next wave
    /// that launched (its job's creation, to the millisecond). Only waves that both had jobs
    /// count; waves are told apart by the jobs' tags.
    pub fn wave_boundaries(&self, execution: ExecutionId) -> Vec<WaveBoundary> {
        let mut waves: BTreeMap<u32, (Option<Timestamp>, i64)> = BTreeMap::new();
        for job in self.jobs().iter().filter(|j| j.job_type == JobType::Launch) {
            let Some(tag) = JobTag::read(|key| job.tags.get(key).cloned())
                .filter(|t| t.execution_id == execution)
            else {
                continue;
            };
            let ended = job.servers.iter().filter_map(JobServer::ended_at).max();
            let wave = waves
                .entry(tag.wave_number)
                .or_insert((None, job.created_millis));
            wave.0 = wave.0.max(ended);
            wave.1 = wave.1.min(job.created_millis);
        }
        waves
            .iter()
            .zip(waves.iter().skip(1))
            .filter_map(|((&n, &(ended, _)), (&next, &(_, started)))| {
                let ended = ended?;
                Some(WaveBoundary {
                    wave_number: n,
                    next_wave: next,
                    last_launch_ended: ended,
                    next_started_millis: started,
                })
            })
            .collect()
    }

    /// `server` as DescribeSourceServers describes it at the clock's time (not counted as a call);
    /// `None` when DRS does not know it.
    pub fn source_server(&self, server: &SourceServerId) -> Option<SourceServer> {
        let mut s = lock(&self.state);
        s.advance(self.clock.now().secs());
        s.describe_source_server(server)
    }

    /// The servers whose last launch a job has moved since the world was built.
    pub fn changed_source_servers(&self) -> BTreeSet<SourceServerId> {
        let mut s = lock(&self.state);
        s.advance(self.clock.now().secs());
        s.lives
            .iter()
            .filter(|(_, life)| life.changed)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Gives every server that has no last launch of its own the last launch its jobs say (the
    /// latest LAUNCH job that names it, TERMINATED when a later TERMINATE job terminated its
    /// instance): a world file that lists jobs but not what DRS says of their servers.
    pub fn derive_last_launches(&self) {
        lock(&self.state).derive_last_launches();
    }

    /// One service call: counted, faults applied, the world brought up to the clock, then
    /// `answer`; a scripted crash stops the caller there, and a scripted lost answer replaces what
    /// `answer` said once it has acted.
    pub(crate) async fn call<T>(
        &self,
        api: Api,
        answer: impl FnOnce(&mut State, Timestamp) -> Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        self.calls.enter(api).await?;
        let now = self.clock.now();
        let answered = {
            let mut s = lock(&self.state);
            s.clock_millis = self.clock.now_millis();
            s.advance(now.secs());
            answer(&mut s, now)
        };
        self.calls.crash_point(api).await;
        match self.calls.lose_answer(api) {
            Some(lost) => Err(lost),
            None => answered,
        }
    }
}

/// One entry of a job's log.
fn log_entry(
    event: &str,
    server: Option<&SourceServerId>,
    raw_error: Option<&str>,
    at: i64,
) -> JobLogEntry {
    JobLogEntry {
        event: event.to_owned(),
        source_server_id: server.cloned(),
        raw_error: raw_error.map(str::to_owned),
        time: Some(Timestamp(at)),
    }
}

impl State {
    /// Applies every scheduled change up to `now`, and logs it in its job's log.
    fn advance(&mut self, now: i64) {
        self.actions.advance(now);
        let mut launched = Vec::new();
        let mut terminated = Vec::new();
        let State { jobs, lives, .. } = self;
        for (j, job) in jobs
            .iter_mut()
            .enumerate()
            .filter(|(_, j)| j.status != JobStatus::Completed)
        {
            let Some((starts_at, completes_at)) = job.schedule else {
                continue;
            };
            let terminate = job.job_type == JobType::Terminate;
            let mut log = Vec::new();
            if job.status == JobStatus::Pending && now >= starts_at {
                job.status = JobStatus::Started;
                log.push(log_entry("JOB_START", None, None, starts_at));
            }
            for (i, server) in job.servers.iter_mut().enumerate() {
                let Some(plan) = &server.schedule else {
                    continue;
                };
                let id = &server.source_server_id;
                let before = server.launch_status.clone();
                if server.launch_status == LaunchStatus::Pending && now >= plan.in_progress_at {
                    server.launch_status = LaunchStatus::InProgress;
                    let event = if terminate {
                        "CLEANUP_START"
                    } else {
                        "LAUNCH_START"
                    };
                    log.push(log_entry(event, Some(id), None, plan.in_progress_at));
                }
                if !server.launch_status.is_settled() && now >= plan.settles_at {
                    if terminate {
                        server.launch_status = LaunchStatus::Terminated;
                        log.push(log_entry("CLEANUP_END", Some(id), None, plan.settles_at));
                        if let Some(instance) = &server.recovery_instance_id {
                            terminated.push((id.clone(), instance.clone()));
                        }
                    } else if let Some(error) = &plan.failure {
                        server.launch_status = LaunchStatus::Failed;
                        log.push(log_entry(
                            "LAUNCH_FAILED",
                            Some(id),
                            Some(error),
                            plan.settles_at,
                        ));
                    } else {
                        server.launch_status = LaunchStatus::Launched;
                        launched.push((j, i, plan.settles_at));
                    }
                }
                if !terminate && server.launch_status != before {
                    // The server's last launch is this job's, unless a later job took it.
                    if let Some(life) = lives.get_mut(id) {
                        if let Some(last) = life
                            .last_launch
                            .as_mut()
                            .filter(|l| l.job_id.as_ref() == Some(&job.job_id))
                        {
                            last.status = Some(server.launch_status.clone());
                            life.changed = true;
                        }
                    }
                }
            }
            if now >= completes_at {
                job.status = JobStatus::Completed;
                job.ended = Some(Timestamp(completes_at));
                log.push(log_entry("JOB_END", None, None, completes_at));
            }
            // Each entry at its own time: a jump of the clock over several logs them in order.
            log.sort_by_key(|e| e.time);
            job.log.extend(log);
        }
        for (j, i, at) in launched {
            let id = self.launch_instance(j, i, Timestamp(at));
            self.jobs[j].servers[i].recovery_instance_id = Some(id);
        }
        for (server, instance) in terminated {
            let gone =
                self.drop_recovery_instances(&server, |ri| ri.recovery_instance_id == instance);
            // The server's last launch is TERMINATED when it was the launch of the instance that
            // is gone (not a later launch of the server, still running).
            let Some(life) = self.lives.get_mut(&server) else {
                continue;
            };
            for ri in gone {
                if let Some(last) = life.last_launch.as_mut().filter(|l| match &ri.job_id {
                    Some(job) => l.job_id.as_ref() == Some(job),
                    None => l.status == Some(LaunchStatus::Launched),
                }) {
                    last.status = Some(LaunchStatus::Terminated);
                    life.changed = true;
                }
            }
        }
    }

    /// Removes the recovery instances of `server` that `which` picks, and their EC2 instances
    /// (DRS terminates them): the instances removed.
    fn drop_recovery_instances(
        &mut self,
        server: &SourceServerId,
        which: impl Fn(&RecoveryInstance) -> bool,
    ) -> Vec<RecoveryInstance> {
        if self.recovery_counts.get(server).copied().unwrap_or(0) == 0 {
            return Vec::new();
        }
        let mut gone = Vec::new();
        self.recovery_instances.retain(|ri| {
            let drop = &ri.source_server_id == server && which(ri);
            if drop {
                gone.push(ri.clone());
            }
            !drop
        });
        if let Some(count) = self.recovery_counts.get_mut(server) {
            *count = count.saturating_sub(u32::try_from(gone.len()).unwrap_or(u32::MAX));
        }
        for ec2 in gone.iter().filter_map(|ri| ri.ec2_instance_id.as_ref()) {
            self.remove_instance(ec2);
        }
        gone
    }

    /// EC2 forgets the instance (terminated, then gone from DescribeInstances).
    fn remove_instance(&mut self, id: &InstanceId) {
        let Some(at) = self.instance_index.remove(id) else {
            return;
        };
        self.instances.swap_remove(at);
        if let Some(moved) = self.instances.get(at) {
            self.instance_index
                .insert(moved.instance.instance_id.clone(), at);
        }
    }

    /// The recovery instance (and its EC2 instance) of server `i` of job `j`. It replaces the
    /// server's previous recovery instance, as DRS does: a server has at most one.
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
        let server = self.jobs[j].servers[i].source_server_id.clone();
        self.drop_recovery_instances(&server, |_| true);
        *self.recovery_counts.entry(server.clone()).or_default() += 1;
        self.recovery_instances.push(RecoveryInstance {
            recovery_instance_id: id.clone(),
            ec2_instance_id: Some(id.clone()),
            source_server_id: server,
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

    /// Whether DRS knows `server`.
    fn knows(&self, server: &SourceServerId) -> bool {
        !self.servers.unknown.contains(server)
            && self.known.as_ref().is_none_or(|k| k.contains(server))
    }

    /// `server` as DescribeSourceServers describes it, if DRS knows it.
    fn describe_source_server(&self, server: &SourceServerId) -> Option<SourceServer> {
        if !self.knows(server) {
            return None;
        }
        let replication = self.servers.replication_of(server);
        let life = self.lives.get(server);
        let recovery_instance_id = if self.recovery_counts.get(server).copied().unwrap_or(0) > 0 {
            self.recovery_instances
                .iter()
                .find(|ri| &ri.source_server_id == server)
                .map(|ri| ri.recovery_instance_id.clone())
        } else {
            None
        };
        Some(SourceServer {
            source_server_id: server.clone(),
            hostname: life.and_then(|l| l.hostname.clone()),
            replication_state: Some(replication.state),
            replication_error: replication.error,
            last_launch: life.and_then(|l| l.last_launch.clone()),
            recovery_instance_id,
        })
    }

    /// Why DRS cannot launch `server` at all, if it cannot: unknown, or replication that gives no
    /// point in time to launch from (a disconnected server replicates DISCONNECTED).
    fn unlaunchable(&self, server: &SourceServerId) -> Option<String> {
        if !self.knows(server) {
            return Some(format!(
                "Source server {server} was not found: it is not replicating to Elastic Disaster Recovery in this account and Region"
            ));
        }
        let replication = self.servers.replication_of(server);
        (!replication.launchable()).then(|| {
            format!(
                "Failed to take a snapshot of source server {server}: its data replication is {}{}; no consistent point in time is available to launch from",
                replication.state,
                replication
                    .error
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            )
        })
    }

    pub(crate) fn describe_source_servers(
        &self,
        servers: &[SourceServerId],
    ) -> Result<Vec<SourceServer>, ServiceError> {
        check_filter("sourceServerIDs", servers.len(), DRS_FILTER_MAX)?;
        let mut seen = BTreeSet::new();
        Ok(servers
            .iter()
            .filter(|id| seen.insert(*id))
            .filter_map(|id| self.describe_source_server(id))
            .collect())
    }

    pub(crate) fn job_log(&self, job: &JobId) -> Vec<JobLogEntry> {
        self.jobs
            .iter()
            .find(|j| &j.job_id == job)
            .map(|j| j.log.clone())
            .unwrap_or_default()
    }

    pub(crate) fn derive_last_launches(&mut self) {
        let mut order: Vec<usize> = (0..self.jobs.len()).collect();
        order.sort_by_key(|&j| (self.jobs[j].created, j));
        let mut derived: BTreeMap<SourceServerId, (Timestamp, LastLaunch)> = BTreeMap::new();
        for &j in &order {
            let job = &self.jobs[j];
            for server in &job.servers {
                match job.job_type {
                    JobType::Launch => {
                        derived.insert(
                            server.source_server_id.clone(),
                            (
                                job.created,
                                LastLaunch {
                                    job_id: Some(job.job_id.clone()),
                                    kind: Some(launch_kind(job.is_drill).to_owned()),
                                    status: Some(server.launch_status.clone()),
                                },
                            ),
                        );
                    }
                    JobType::Terminate => {
                        if let Some((launched, last)) = derived.get_mut(&server.source_server_id) {
                            if job.created >= *launched
                                && server.launch_status == LaunchStatus::Terminated
                            {
                                last.status = Some(LaunchStatus::Terminated);
                            }
                        }
                    }
                }
            }
        }
        for (server, (_, last)) in derived {
            let life = self.lives.entry(server).or_default();
            if life.last_launch.is_none() {
                life.last_launch = Some(last);
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

    /// A job id no job has.
    fn new_job_id(&mut self) -> JobId {
        loop {
            let candidate = JobId::parse(&format!(
                "drsjob-{}",
                random_chars(&mut self.rng, 17, ALNUM)
            ))
            .unwrap_or_else(|e| unreachable!("{e}"));
            if self.jobs.iter().all(|j| j.job_id != candidate) {
                break candidate;
            }
        }
    }

    /// StartRecovery as DRS answers it: the request's own limits first (a validation error), then
    /// the account's per-job quota (which asking again does not clear), then the scripted
    /// refusals that clear on their own; otherwise a new job, tagged as the request says, whose
    /// participating servers are the request's less the servers it omits. A server DRS cannot
    /// launch (unknown, unhealthy replication) or a scripted failure ends FAILED in it,
    /// its log saying why; every server the job takes has it as its last launch.
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
        let job_id = self.new_job_id();
        let mut job = Job {
            job_id,
            status: JobStatus::Pending,
            tags: request
                .tags()
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            created: now,
            created_millis: self.clock_millis.max(now.secs().saturating_mul(1000)),
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
            job_type: JobType::Launch,
            ended: None,
            log: Vec::new(),
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
                self.events.schedule(
                    &job.job_id,
                    &server.source_server_id,
                    plan.settles_at,
                    plan.failure.is_some(),
                );
                server.schedule = Some(plan);
            }
            job.schedule = Some((
                started,
                last.saturating_add(i64::try_from(t.job_complete_lag_secs).unwrap_or(i64::MAX)),
            ));
        }
        for server in &job.servers {
            if self.knows(&server.source_server_id) {
                let life = self
                    .lives
                    .entry(server.source_server_id.clone())
                    .or_default();
                life.last_launch = Some(LastLaunch {
                    job_id: Some(job.job_id.clone()),
                    kind: Some(launch_kind(job.is_drill).to_owned()),
                    status: Some(LaunchStatus::Pending),
                });
                life.changed = true;
            }
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
            failure: self
                .unlaunchable(id)
                .or_else(|| self.faults.failure(id, attempt, &self.servers)),
        }
    }

    /// TerminateRecoveryInstances as DRS answers it: 1 to 200 ids (else a validation error), each
    /// a recovery instance DRS lists (else a validation error: there is nothing to terminate),
    /// none already in a TERMINATE job that has not finished (else `ConflictException`, which
    /// clears); otherwise a new TERMINATE job whose participating servers are the instances'
    /// servers. When it has run, the instances are gone from DRS and EC2 and their servers' last
    /// launch is TERMINATED.
    pub(crate) fn terminate_recovery_instances(
        &mut self,
        ids: &[InstanceId],
        now: Timestamp,
    ) -> Result<DrsJob, ServiceError> {
        let count = ids.len();
        if count == 0 || count > DRS_FILTER_MAX {
            return Err(ServiceError::Rejected(format!(
                "ValidationException: recoveryInstanceIDs takes 1 to {DRS_FILTER_MAX} items, got {count}"
            )));
        }
        let mut targets: Vec<(SourceServerId, InstanceId)> = Vec::new();
        for id in ids {
            if targets.iter().any(|(_, i)| i == id) {
                continue;
            }
            let Some(ri) = self
                .recovery_instances
                .iter()
                .find(|ri| &ri.recovery_instance_id == id)
            else {
                return Err(ServiceError::Rejected(format!(
                    "ValidationException: recovery instance {id} does not exist (reason: FIELD_VALIDATION_FAILED, field: recoveryInstanceIDs)"
                )));
            };
            let running = self.jobs.iter().find(|j| {
                j.job_type == JobType::Terminate
                    && j.status != JobStatus::Completed
                    && j.servers.iter().any(|s| {
                        s.recovery_instance_id.as_ref() == Some(id) && !s.launch_status.is_settled()
                    })
            });
            if let Some(job) = running {
                return Err(ServiceError::Throttled {
                    retry_after: None,
                    message: format!(
                        "ConflictException: recovery instance {id} is being terminated by job {}, which has not finished",
                        job.job_id
                    ),
                });
            }
            targets.push((ri.source_server_id.clone(), id.clone()));
        }
        let job_id = self.new_job_id();
        let mut job = Job {
            job_id,
            status: JobStatus::Pending,
            tags: BTreeMap::new(),
            created: now,
            created_millis: self.clock_millis.max(now.secs().saturating_mul(1000)),
            is_drill: false,
            servers: targets
                .into_iter()
                .map(|(server, instance)| JobServer {
                    source_server_id: server,
                    launch_status: LaunchStatus::Pending,
                    recovery_instance_id: Some(instance),
                    schedule: None,
                })
                .collect(),
            job_type: JobType::Terminate,
            ended: None,
            log: Vec::new(),
            schedule: None,
            hidden_polls: 0,
        };
        if let Progression::Timed(_) = self.progression {
            let t = self.terminate;
            let started = now.secs() + t.job_start.sample(&mut self.rng);
            let mut last = started;
            for server in &mut job.servers {
                let settles_at = started + t.terminate.sample(&mut self.rng);
                last = last.max(settles_at);
                server.schedule = Some(ServerSchedule {
                    in_progress_at: started,
                    settles_at,
                    failure: None,
                });
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

    /// The first TERMINATE job created at or after `since` that names one of `instances`.
    pub(crate) fn find_terminate_job(
        &self,
        instances: &[InstanceId],
        since: Timestamp,
    ) -> Option<DrsJob> {
        self.jobs
            .iter()
            .filter(|j| {
                j.job_type == JobType::Terminate
                    && j.created >= since
                    && j.servers.iter().any(|s| {
                        s.recovery_instance_id
                            .as_ref()
                            .is_some_and(|i| instances.contains(i))
                    })
            })
            .min_by_key(|j| j.created)
            .map(|j| j.described(true))
    }

    /// The first job created at or after `since` whose tags say it is `tag`'s.
    pub(crate) fn find_tagged_job(&self, tag: &JobTag, since: Timestamp) -> Option<DrsJob> {
        self.jobs
            .iter()
            .filter(|j| {
                j.job_type == JobType::Launch
                    && j.created >= since
                    && tag.matches(|key| j.tags.get(key).cloned())
            })
            .min_by_key(|j| j.created)
            .map(|j| j.described(!self.faults.omit_recovery_instance_ids))
    }
}

/// DRS's `lastLaunch.initiated.type` of a launch.
fn launch_kind(is_drill: bool) -> &'static str {
    if is_drill {
        "DRILL"
    } else {
        "RECOVERY"
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
