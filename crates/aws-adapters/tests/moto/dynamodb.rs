//! `DynamoDbStore` against moto: SPEC §5's storage requirements, each shown on a real table.

use std::collections::{BTreeMap, HashMap};

use aws_adapters::dynamodb::item_size;
use aws_adapters::{create_table, DynamoDbStore, TableCreation};
use aws_sdk_dynamodb::types::AttributeValue;
use execution_core::fixtures;
use execution_core::ids::{ExecutionId, InstanceId, TaskToken};
use execution_core::model::{Execution, HeldToken, ServerStatus, Timestamp, Wave, WaveJob};
use execution_core::ports::{
    Commit, ExecutionStore, HeaderWrite, ServiceError, StoreError, Touch, WaveWrite,
};
use execution_core::status::{ExecutionStatus, LaunchStatus, WaveStatus};
pub use execution_core::store_contract::{execution, header_put};

pub type Item = HashMap<String, AttributeValue>;

pub const INDEX: &str = aws_adapters::DEFAULT_STATUS_INDEX;

/// A fresh table of the production layout, named uniquely for this test.
pub struct Table {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
}

impl Table {
    pub async fn new() -> Self {
        let client = moto_client!(aws_sdk_dynamodb);
        let name = format!("executions-{}", uuid::Uuid::new_v4());
        assert_eq!(
            create_table(&client, &name, INDEX).await.unwrap(),
            TableCreation::Created
        );
        Self { client, name }
    }

    pub fn store(&self) -> DynamoDbStore {
        DynamoDbStore::new(self.client.clone(), self.name.clone(), INDEX.to_owned())
    }

    /// Every item of one execution, by sort key, as stored.
    pub async fn raw(&self, id: ExecutionId) -> BTreeMap<String, Item> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("executionId = :id")
            .expression_attribute_values(":id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let sk = item["sk"].as_s().unwrap().clone();
                (sk, item)
            })
            .collect()
    }

    /// The status index's entry of `id` in the `status` partition, as far as the index projects
    /// it (the keys and the projection's NonKeyAttributes, as DescribeTable states them): what
    /// an index write changes. `None` when the partition lists no such entry.
    pub async fn index_entry(&self, status: &str, id: ExecutionId) -> Option<Item> {
        let described = self
            .client
            .describe_table()
            .table_name(&self.name)
            .send()
            .await
            .unwrap();
        let index = described
            .table()
            .unwrap()
            .global_secondary_indexes()
            .iter()
            .find(|g| g.index_name() == Some(INDEX))
            .unwrap()
            .clone();
        let mut projected: Vec<String> = ["executionId", "sk", "status", "createdTime"]
            .map(String::from)
            .to_vec();
        projected.extend(
            index
                .projection()
                .unwrap()
                .non_key_attributes()
                .iter()
                .cloned(),
        );
        let entries: Vec<Item> = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(INDEX)
            .key_condition_expression("#status = :status")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", AttributeValue::S(status.into()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .unwrap();
        entries
            .into_iter()
            .find(|e| e.get("executionId") == Some(&AttributeValue::S(id.to_string())))
            .map(|e| {
                e.into_iter()
                    .filter(|(name, _)| projected.contains(name))
                    .collect()
            })
    }

    pub async fn item_count(&self) -> i32 {
        self.client
            .scan()
            .table_name(&self.name)
            .send()
            .await
            .unwrap()
            .count
    }
}

/// A server as DRS and EC2 describe it once launched, at realistic field lengths.
pub fn launched(mut s: ServerStatus, n: usize) -> ServerStatus {
    let instance = InstanceId::parse(&format!("i-{:017x}", n + 1)).unwrap();
    s.server_name = Some(format!("app-server-{n:05}.corp.example.com"));
    s.launch_status = LaunchStatus::Launched;
    s.recovery_instance_id = Some(instance.clone());
    s.instance_id = Some(instance);
    s.private_ip = Some(format!("10.20.{}.{}", n / 256 % 256, n % 256));
    s.hostname = Some(format!(
        "ip-10-20-{}-{}.us-east-1.compute.internal",
        n / 256 % 256,
        n % 256
    ));
    s.instance_type = Some("m5.2xlarge".into());
    s.instance_state = Some("running".into());
    s.launch_time = Some(Timestamp(1_700_000_000));
    s
}

/// `old` → `new` as the core writes it (version bumped).
pub fn wave_write(old: &Wave, mut new: Wave) -> WaveWrite {
    new.version = old.version + 1;
    WaveWrite {
        expected_version: old.version,
        wave: new,
    }
}

/// Applies a commit to an in-memory copy, as the store should have.
pub fn apply(execution: &mut Execution, commit: &Commit) {
    if let Some(HeaderWrite { header, .. }) = &commit.header {
        let polled = execution.header.last_polled_time;
        execution.header = header.clone();
        execution.header.last_polled_time = polled;
    }
    for w in &commit.waves {
        execution.waves[w.wave.wave_number as usize] = w.wave.clone();
    }
}

/// The store contract every `ExecutionStore` keeps (execution-core's `store_contract`), on a
/// table of its own per case, paging executions and events by two.
#[tokio::test]
async fn the_store_contract_holds() {
    execution_core::store_contract::run_all(|| async {
        Table::new()
            .await
            .store()
            .with_page_size(2)
            .with_events_page_size(2)
    })
    .await;
}

#[tokio::test]
async fn a_50_by_200_execution_creates_loads_commits_and_finalizes() {
    let table = Table::new().await;
    let store = table.store();
    let mut exec = execution(&[200; 50]);
    let id = exec.id();
    store.create(&exec, &[]).await.unwrap();
    assert_eq!(
        store.load(id).await.unwrap().as_ref(),
        Some(&exec),
        "loaded back equal"
    );

    // A poll-style commit: wave 0 started, every server launched and described by EC2.
    let old = exec.waves[0].clone();
    let mut started = old.clone();
    started.status = WaveStatus::Started;
    started.attempt = 1;
    started.launch_time = Some(Timestamp(1100));
    started.attempt_time = Some(Timestamp(1100));
    // A 200-server wave in two parts (100 servers per job).
    started.jobs = (0..2)
        .map(|part| WaveJob {
            job_id: fixtures::job(part as usize + 1),
            attempt: 1,
            part,
            recorded_time: Timestamp(1100),
            created_time: Some(Timestamp(1099)),
            ended_time: None,
        })
        .collect();
    started.server_statuses = old
        .server_statuses
        .iter()
        .cloned()
        .enumerate()
        .map(|(n, mut s)| {
            s.job_id = Some(fixtures::job(n / 100 + 1));
            launched(s, n)
        })
        .collect();
    let commit = Commit {
        execution_id: id,
        header: None,
        waves: vec![wave_write(&old, started)],
        events: vec![],
    };
    store.commit(&commit).await.unwrap();
    apply(&mut exec, &commit);
    assert_eq!(store.load(id).await.unwrap().as_ref(), Some(&exec));

    // The item size budget, measured on the stored item: a full 200-server wave < 100 KB.
    let raw = table.raw(id).await;
    assert_eq!(raw.len(), 51, "one header and 50 wave items");
    let full_wave = item_size(&raw["WAVE#0000"]);
    assert!(
        full_wave < 100 * 1024,
        "a 200-server wave item is {full_wave} bytes"
    );
    assert!(
        item_size(&raw["EXECUTION"]) < 1024,
        "header item {} bytes",
        item_size(&raw["EXECUTION"])
    );

    // A finalize-style commit: the header and the 49 never-run waves, in one transaction.
    let mut finalize = Commit {
        execution_id: id,
        header: Some(header_put(&exec, |h| {
            h.status = ExecutionStatus::Failed;
            h.end_time = Some(Timestamp(2000));
        })),
        waves: vec![],
        events: vec![],
    };
    for w in &exec.waves[1..] {
        let mut cancelled = w.clone();
        cancelled.status = WaveStatus::Cancelled;
        cancelled.end_time = Some(Timestamp(2000));
        finalize.waves.push(wave_write(w, cancelled));
    }
    store.commit(&finalize).await.unwrap();
    apply(&mut exec, &finalize);
    assert_eq!(store.load(id).await.unwrap().as_ref(), Some(&exec));

    // The same finalize again (a second finalizer that read the same record): it writes nothing.
    assert_eq!(store.commit(&finalize).await, Err(StoreError::Conflict));
    assert_eq!(store.load(id).await.unwrap().as_ref(), Some(&exec));
}

#[tokio::test]
async fn a_plan_of_99_waves_creates_in_one_go() {
    let table = Table::new().await;
    let store = table.store();
    let exec = execution(&[2; 99]);
    store.create(&exec, &[]).await.unwrap();
    assert_eq!(store.load(exec.id()).await.unwrap(), Some(exec));
}

#[tokio::test]
async fn touch_sets_last_polled_time_and_never_creates() {
    let table = Table::new().await;
    let store = table.store();
    let missing = ExecutionId::new_random();
    assert_eq!(
        store
            .touch(missing, &Touch::poll(Timestamp(10), None))
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(table.item_count().await, 0, "touch created an item");

    let exec = execution(&[1]);
    store.create(&exec, &[]).await.unwrap();
    let before = table.raw(exec.id()).await;
    store
        .touch(exec.id(), &Touch::poll(Timestamp(1234), None))
        .await
        .unwrap();
    let after = table.raw(exec.id()).await;
    assert_eq!(after["WAVE#0000"], before["WAVE#0000"]);
    let mut header = before["EXECUTION"].clone();
    header.insert("polledTime".into(), AttributeValue::N("1234".into()));
    assert_eq!(after["EXECUTION"], header, "only polledTime changed");

    // The workflow's poll of a new run also names it, in the same UpdateItem.
    let run = "arn:aws:states:us-east-1:123456789012:execution:drs:run-2";
    store
        .touch(exec.id(), &Touch::poll(Timestamp(1300), Some(run)))
        .await
        .unwrap();
    let after = table.raw(exec.id()).await;
    header.insert("polledTime".into(), AttributeValue::N("1300".into()));
    header.insert("workflowRun".into(), AttributeValue::S(run.into()));
    header.insert("workflowSeenTime".into(), AttributeValue::N("1300".into()));
    assert_eq!(
        after["EXECUTION"], header,
        "the run and its poll time, nothing else"
    );
    // The same run's next poll: the two times only.
    store
        .touch(
            exec.id(),
            &Touch::poll_of(Timestamp(1360), Some(run), Some(run)),
        )
        .await
        .unwrap();
    header.insert("polledTime".into(), AttributeValue::N("1360".into()));
    header.insert("workflowSeenTime".into(), AttributeValue::N("1360".into()));
    assert_eq!(table.raw(exec.id()).await["EXECUTION"], header);
    // A touch of nothing writes nothing.
    store.touch(exec.id(), &Touch::default()).await.unwrap();
    assert_eq!(table.raw(exec.id()).await["EXECUTION"], header);
}

#[tokio::test]
async fn a_header_write_keeps_last_polled_time_and_removes_cleared_fields() {
    let table = Table::new().await;
    let store = table.store();
    let mut exec = execution(&[1]);
    exec.header.status = ExecutionStatus::Paused;
    exec.header.paused_before_wave = Some(0);
    exec.header.task_token = Some(HeldToken {
        token: TaskToken::parse("AAAA-secret-token").unwrap(),
        release_pending: false,
    });
    store.create(&exec, &[]).await.unwrap();
    let run = "arn:aws:states:us-east-1:123456789012:execution:drs:run-1";
    store
        .touch(exec.id(), &Touch::poll(Timestamp(4321), Some(run)))
        .await
        .unwrap();

    // A resume that read the record before the touch: clears the pause and the token.
    let resume = Commit {
        execution_id: exec.id(),
        header: Some(header_put(&exec, |h| {
            h.status = ExecutionStatus::Polling;
            h.paused_before_wave = None;
            h.task_token = None;
        })),
        waves: vec![],
        events: vec![],
    };
    store.commit(&resume).await.unwrap();
    let stored = store.load(exec.id()).await.unwrap().unwrap();
    assert_eq!(stored.header.status, ExecutionStatus::Polling);
    assert_eq!(stored.header.version, 1);
    assert_eq!(
        stored.header.last_polled_time,
        Some(Timestamp(4321)),
        "touch's write survives"
    );
    assert_eq!(stored.header.workflow_run.as_deref(), Some(run));
    assert_eq!(stored.header.workflow_polled_time, Some(Timestamp(4321)));
    let raw = table.raw(exec.id()).await;
    assert!(
        !raw["EXECUTION"].contains_key("taskToken")
            && !raw["EXECUTION"].contains_key("pausedBeforeWave"),
        "{:?}",
        raw["EXECUTION"]
    );
}

#[tokio::test]
async fn missing_and_unreadable_records() {
    let table = Table::new().await;
    let store = table.store();
    assert_eq!(store.load(ExecutionId::new_random()).await.unwrap(), None);

    let exec = execution(&[1]);
    store.create(&exec, &[]).await.unwrap();
    table
        .client
        .update_item()
        .table_name(&table.name)
        .key("executionId", AttributeValue::S(exec.id().to_string()))
        .key("sk", AttributeValue::S("EXECUTION".into()))
        .update_expression("SET #s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(":s", AttributeValue::S("RUNNING".into()))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        store.load(exec.id()).await,
        Err(StoreError::Corrupt(_))
    ));
}

#[tokio::test]
async fn an_oversized_wave_is_refused_before_anything_is_written() {
    let table = Table::new().await;
    let store = table.store();
    let mut exec = execution(&[200]);
    // Incompressible names (the stored server list is gzip): 200 × 4000 random characters.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    for s in &mut exec.waves[0].server_statuses {
        let name: String = (0..4000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        [(state % 62) as usize],
                )
            })
            .collect();
        s.server_name = Some(name);
    }
    let err = store.create(&exec, &[]).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Service(ServiceError::Rejected(m)) if m.contains("wave 0")),
        "{err:?}"
    );
    assert_eq!(table.item_count().await, 0);
}

#[tokio::test]
async fn create_table_twice_leaves_the_first() {
    let table = Table::new().await;
    assert_eq!(
        create_table(&table.client, &table.name, INDEX)
            .await
            .unwrap(),
        TableCreation::AlreadyExists
    );
    let description = table
        .client
        .describe_table()
        .table_name(&table.name)
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let index = &description.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(INDEX));
    let keys: Vec<&str> = index
        .key_schema()
        .iter()
        .map(|k| k.attribute_name())
        .collect();
    assert_eq!(keys, ["status", "createdTime"]);
    let backups = table
        .client
        .describe_continuous_backups()
        .table_name(&table.name)
        .send()
        .await
        .unwrap();
    let pitr = backups
        .continuous_backups_description
        .and_then(|d| d.point_in_time_recovery_description)
        .and_then(|p| p.point_in_time_recovery_status);
    assert_eq!(pitr.as_ref().map(|s| s.as_str()), Some("ENABLED"));
}
