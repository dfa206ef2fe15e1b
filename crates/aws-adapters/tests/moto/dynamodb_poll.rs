//! What a poll writes, through the core's own `ops::poll` on the real store: nothing but its poll
//! time (`polledTime`, and the workflow's `workflowSeenTime`, outside the status index) when
//! nothing changed, and only the changed wave when one did.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;
use aws_adapters::DynamoDbStore;
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::api::{PollRequest, Target};
use execution_core::audit::AuditEvent;
use execution_core::fixtures;
use execution_core::ids::ExecutionId;
use execution_core::model::{Execution, Timestamp, WaveJob};
use execution_core::ports::mocks::{FixedClock, MockDrs, MockEc2};
use execution_core::ports::EventPage;
use execution_core::ports::{ActivePage, Commit, ExecutionStore, StoreError, Touch};
use execution_core::rules::Policy;
use execution_core::status::{ExecutionStatus, JobStatus, LaunchStatus, WaveStatus};

use crate::dynamodb::{execution, Table};

/// The real store, with a record of the writes the core asked of it.
struct Recording {
    inner: DynamoDbStore,
    commits: Mutex<Vec<Commit>>,
    touches: AtomicUsize,
}

#[async_trait]
impl ExecutionStore for Recording {
    async fn load(&self, id: ExecutionId) -> Result<Option<Execution>, StoreError> {
        self.inner.load(id).await
    }
    async fn create(&self, execution: &Execution, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.inner.create(execution, events).await
    }
    async fn events(
        &self,
        id: ExecutionId,
        cursor: Option<String>,
    ) -> Result<EventPage, StoreError> {
        self.inner.events(id, cursor).await
    }
    async fn list_active(&self, cursor: Option<String>) -> Result<ActivePage, StoreError> {
        self.inner.list_active(cursor).await
    }
    async fn commit(&self, commit: &Commit) -> Result<(), StoreError> {
        self.commits.lock().unwrap().push(commit.clone());
        self.inner.commit(commit).await
    }
    async fn touch(&self, id: ExecutionId, touch: &Touch) -> Result<(), StoreError> {
        self.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(id, touch).await
    }
}

fn drs_reporting(exec: &Execution, statuses: [LaunchStatus; 3]) -> MockDrs {
    let servers: Vec<_> = exec.waves[0]
        .source_server_ids()
        .cloned()
        .zip(statuses)
        .collect();
    let job = fixtures::drs_job(1, JobStatus::Started, &servers);
    let mut drs = MockDrs::new();
    drs.expect_describe_jobs()
        .returning(move |_| Ok(vec![job.clone()]));
    drs.expect_describe_recovery_instances()
        .returning(|_| Ok(vec![]));
    drs
}

#[tokio::test]
async fn a_poll_that_sees_no_change_writes_only_its_poll_time() {
    let table = Table::new().await;
    let store = Recording {
        inner: table.store(),
        commits: Mutex::new(vec![]),
        touches: AtomicUsize::new(0),
    };
    let exec = in_flight(&[3, 2]);
    store.create(&exec, &[]).await.unwrap();
    let id = exec.id();
    let request = PollRequest {
        target: Target {
            execution_id: id,
            plan_id: exec.header.plan_id,
        },
        summary: true,
        workflow_run: None,
    };
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().never();
    let before = table.raw(id).await;

    // DRS reports what the record already says.
    let clock = FixedClock::at_secs(1200);
    let drs = drs_reporting(&exec, std::array::from_fn(|_| LaunchStatus::InProgress));
    let answer = execution_core::ops::poll(
        &store,
        &drs,
        &ec2,
        None,
        &clock,
        &Policy::default(),
        &request,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, ExecutionStatus::Polling);
    assert!(
        store.commits.lock().unwrap().is_empty(),
        "no wave changed, so nothing is committed"
    );
    assert_eq!(store.touches.load(Ordering::SeqCst), 1);
    let after = table.raw(id).await;
    assert_eq!(after["WAVE#0000"], before["WAVE#0000"]);
    assert_eq!(after["WAVE#0001"], before["WAVE#0001"]);
    let mut header = before["EXECUTION"].clone();
    header.insert("polledTime".into(), AttributeValue::N("1200".into()));
    assert_eq!(
        after["EXECUTION"], header,
        "the header changed in polledTime only (version too is unchanged)"
    );
    assert!(
        aws_adapters::dynamodb::item_size(&after["EXECUTION"]) < 1024,
        "the one item written is small"
    );

    // One server launched: only wave 0 is written, and the header still only gets polledTime.
    clock.set_secs(1260);
    let drs = drs_reporting(
        &exec,
        [
            LaunchStatus::Launched,
            LaunchStatus::InProgress,
            LaunchStatus::InProgress,
        ],
    );
    execution_core::ops::poll(
        &store,
        &drs,
        &ec2,
        None,
        &clock,
        &Policy::default(),
        &request,
    )
    .await
    .unwrap();
    let commits = store.commits.lock().unwrap().clone();
    assert_eq!(commits.len(), 1);
    assert!(commits[0].header.is_none());
    assert_eq!(
        commits[0]
            .waves
            .iter()
            .map(|w| w.wave.wave_number)
            .collect::<Vec<_>>(),
        [0]
    );
    let latest = table.raw(id).await;
    assert_eq!(
        latest["WAVE#0001"], before["WAVE#0001"],
        "an unchanged wave is not rewritten"
    );
    assert_eq!(
        latest["WAVE#0000"]["version"],
        AttributeValue::N("1".into())
    );
    header.insert("polledTime".into(), AttributeValue::N("1260".into()));
    assert_eq!(latest["EXECUTION"], header);
    let stored = table.store().load(id).await.unwrap().unwrap();
    assert_eq!(
        stored.waves[0].server_statuses[0].launch_status,
        LaunchStatus::Launched
    );
}

/// The state machine's polls through the core: the poll of the run the record names writes the
/// header's two times and leaves the status index entry as it was; the first poll of a new run
/// (one that continued as new) writes the run, which the index then shows.
#[tokio::test]
async fn the_workflows_poll_writes_the_status_index_only_when_its_run_is_new() {
    let table = Table::new().await;
    let store = Recording {
        inner: table.store(),
        commits: Mutex::new(vec![]),
        touches: AtomicUsize::new(0),
    };
    let run = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-1";
    let mut exec = in_flight(&[3]);
    exec.header.workflow_run = Some(run.into());
    exec.header.workflow_polled_time = Some(Timestamp(1100));
    store.create(&exec, &[]).await.unwrap();
    let id = exec.id();
    let request = |run: &str| PollRequest {
        target: Target {
            execution_id: id,
            plan_id: exec.header.plan_id,
        },
        summary: true,
        workflow_run: Some(run.to_owned()),
    };
    let mut ec2 = MockEc2::new();
    ec2.expect_describe_instances().never();
    let drs = drs_reporting(&exec, std::array::from_fn(|_| LaunchStatus::InProgress));
    let clock = FixedClock::at_secs(1200);
    let poll = |run: &'static str| {
        let (store, drs, ec2, clock, request) = (&store, &drs, &ec2, &clock, request(run));
        async move {
            execution_core::ops::poll(store, drs, ec2, None, clock, &Policy::default(), &request)
                .await
                .unwrap()
        }
    };
    let index_before = table.index_entry("POLLING", id).await.unwrap();
    let header_before = table.raw(id).await["EXECUTION"].clone();

    poll(run).await;
    assert_eq!(
        table.index_entry("POLLING", id).await.unwrap(),
        index_before,
        "the recorded run's poll writes nothing the index projects"
    );
    let mut header = header_before;
    header.insert("polledTime".into(), AttributeValue::N("1200".into()));
    header.insert("workflowSeenTime".into(), AttributeValue::N("1200".into()));
    assert_eq!(table.raw(id).await["EXECUTION"], header);

    let next = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-1-c1";
    clock.set_secs(1260);
    poll(next).await;
    let mut index = index_before;
    index.insert("workflowRun".into(), AttributeValue::S(next.into()));
    assert_eq!(
        table.index_entry("POLLING", id).await.unwrap(),
        index,
        "a new run's first poll writes the run"
    );
    header.insert("polledTime".into(), AttributeValue::N("1260".into()));
    header.insert("workflowSeenTime".into(), AttributeValue::N("1260".into()));
    header.insert("workflowRun".into(), AttributeValue::S(next.into()));
    assert_eq!(table.raw(id).await["EXECUTION"], header);
    assert!(store.commits.lock().unwrap().is_empty(), "no wave changed");
    assert_eq!(store.touches.load(Ordering::SeqCst), 2);
}

/// A POLLING execution of waves of these sizes whose wave 0 is STARTED since t = 1100: DRS job 1,
/// every server of it IN_PROGRESS.
fn in_flight(sizes: &[usize]) -> Execution {
    let mut exec = execution(sizes);
    exec.header.status = ExecutionStatus::Polling;
    exec.header.start_time = Some(Timestamp(1100));
    let wave = &mut exec.waves[0];
    wave.status = WaveStatus::Started;
    wave.attempt = 1;
    wave.jobs = vec![WaveJob {
        job_id: fixtures::job(1),
        attempt: 1,
        part: 0,
        recorded_time: Timestamp(1100),
        created_time: None,
        ended_time: None,
    }];
    wave.launch_time = Some(Timestamp(1100));
    wave.attempt_time = Some(Timestamp(1100));
    for s in &mut wave.server_statuses {
        s.launch_status = LaunchStatus::InProgress;
        s.job_id = Some(fixtures::job(1));
    }
    exec
}
