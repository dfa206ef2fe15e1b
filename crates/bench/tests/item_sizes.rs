//! The write-unit benchmark sizes items without the AWS SDK (src/sizes.rs). This checks those
//! sizes against the items aws-adapters really stores, read back raw from DynamoDB (moto) and
//! measured with the adapter's own `item_size`.

use std::collections::HashMap;

use aws_adapters::dynamodb::item_size;
use aws_adapters::{create_table, DynamoDbStore};
use aws_sdk_dynamodb::types::AttributeValue;
use bench::shapes::{Fixture, Moment, SHAPES};
use bench::sizes;
use execution_core::model::Timestamp;
use execution_core::ports::{ExecutionStore, Touch};

fn moto_client() -> aws_sdk_dynamodb::Client {
    let port = std::env::var("MOTO_PORT").unwrap_or_default();
    assert!(
        !port.trim().is_empty(),
        "MOTO_PORT is not set: this test runs against a moto server. Run `make test`, or \
         `scripts/moto.sh start` and set MOTO_PORT=$(cat target/moto.port)"
    );
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "moto",
        ))
        .endpoint_url(format!("http://127.0.0.1:{}", port.trim()))
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

#[tokio::test]
async fn benchmark_item_sizes_are_the_stored_items_sizes() {
    // Five waves of 200 just launched and described, one with a quarter of them via
    // DescribeRecoveryInstances: every server field filled, lastPolledTime set.
    let fixture = Fixture::new(SHAPES[2], Moment::LaunchLackingIds)
        .await
        .unwrap();
    fixture.poll().await.unwrap();
    let execution = fixture.stored().unwrap();

    let client = moto_client();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let table = format!("bench-sizes-{}-{nanos}", std::process::id());
    create_table(&client, &table, "status-index").await.unwrap();
    let store = DynamoDbStore::new(client.clone(), table.clone(), "status-index".into());
    store.create(&execution, &[]).await.unwrap();

    let items: Vec<HashMap<String, AttributeValue>> = client
        .query()
        .table_name(&table)
        .key_condition_expression("executionId = :id")
        .expression_attribute_values(":id", AttributeValue::S(execution.id().to_string()))
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items.len(), 1 + execution.waves.len());

    for item in &items {
        let Some(AttributeValue::S(sk)) = item.get("sk") else {
            panic!("an item without sk: {item:?}");
        };
        let expected = if sk == "EXECUTION" {
            sizes::header_item(&execution.header, execution.waves.len())
        } else {
            let n: usize = sk.trim_start_matches("WAVE#").parse().unwrap();
            sizes::wave_item(execution.id(), &execution.waves[n])
        };
        assert_eq!(item_size(item), expected, "item {sk}");
    }
    let total: usize = items.iter().map(item_size).sum();
    assert_eq!(total, sizes::execution_items(&execution));
    // Random-looking ids and addresses keep gzip honest: ~10 KB per described wave of 200.
    assert!(
        total > 5 * 8_000,
        "five described waves of 200: {total} bytes"
    );

    // The header after a run was recorded and polled, as the touch stores it, and its status
    // index entry: the sizes benchmark 2 bills the touch and the index on.
    let run = "arn:aws:states:us-east-1:123456789012:execution:drs-execution:run-1";
    let id = execution.id();
    store
        .touch(id, &Touch::poll(Timestamp(1_800_000_000), Some(run)))
        .await
        .unwrap();
    store
        .touch(
            id,
            &Touch::poll_of(Timestamp(1_800_000_030), Some(run), Some(run)),
        )
        .await
        .unwrap();
    let stored = store.load(id).await.unwrap().unwrap();
    let header = client
        .get_item()
        .table_name(&table)
        .key("executionId", AttributeValue::S(id.to_string()))
        .key("sk", AttributeValue::S("EXECUTION".into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert!(header.contains_key("polledTime") && header.contains_key("workflowSeenTime"));
    assert_eq!(
        item_size(&header),
        sizes::header_item(&stored.header, stored.waves.len()),
        "the touched header"
    );

    let described = client
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let projection = described.table().unwrap().global_secondary_indexes()[0]
        .projection()
        .unwrap()
        .non_key_attributes()
        .to_vec();
    let entries = client
        .query()
        .table_name(&table)
        .index_name("status-index")
        .key_condition_expression("#s = :s")
        .expression_attribute_names("#s", "status")
        .expression_attribute_values(
            ":s",
            AttributeValue::S(stored.header.status.as_str().into()),
        )
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(entries.len(), 1);
    // What the index holds of the header: its keys and the projected attributes it has.
    let entry: HashMap<String, AttributeValue> = entries[0]
        .iter()
        .filter(|(name, _)| {
            ["executionId", "sk", "status", "createdTime"].contains(&name.as_str())
                || projection.contains(name)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let expected = sizes::index_entry(&stored.header);
    let mut names: Vec<&String> = entry.keys().collect();
    names.sort();
    let mut expected_names: Vec<&String> = expected.keys().collect();
    expected_names.sort();
    assert_eq!(names, expected_names, "{entry:?}");
    assert_eq!(item_size(&entry), sizes::index_entry_size(&expected));
}
