//! The publish binary under a stand-in Lambda Runtime API, against moto's EventBridge (a bus whose
//! rule delivers to an SQS queue) and SNS (a topic with an SQS subscription): the wiring of
//! main.rs, Lambda's partial batch answer, and the records of a real table's stream (moto's
//! DynamoDB Streams, read as its API answers them).

use aws_adapters::dynamodb::{stream_image, trail_item};
use execution_core::audit::{self, Actor, AuditEvent, Author, Decision, SOURCE};
use execution_core::fixtures;
use serde_json::{json, Value};
use workspace_tests::runtime_api::{run_function, Reply};

fn events_client() -> aws_sdk_eventbridge::Client {
    workspace_tests::moto_client!(aws_sdk_eventbridge)
}

fn sqs_client() -> aws_sdk_sqs::Client {
    workspace_tests::moto_client!(aws_sdk_sqs)
}

fn sns_client() -> aws_sdk_sns::Client {
    workspace_tests::moto_client!(aws_sdk_sns)
}

/// A topic whose one subscription is a queue (SNS's envelope, not raw): (topic ARN, queue URL).
async fn topic_with_queue() -> (String, String) {
    let name = format!("publish-pages-{}", uuid::Uuid::new_v4().simple());
    let sns = sns_client();
    let topic = sns
        .create_topic()
        .name(&name)
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let url = sqs_client()
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
        .send()
        .await
        .unwrap();
    (topic, url)
}

/// A bus whose one rule sends every notice to a queue: (bus, queue URL).
async fn bus_with_queue() -> (String, String) {
    let name = format!("publish-binary-{}", uuid::Uuid::new_v4().simple());
    let (events, sqs) = (events_client(), sqs_client());
    events.create_event_bus().name(&name).send().await.unwrap();
    let url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    events
        .put_rule()
        .name(&name)
        .event_bus_name(&name)
        .event_pattern(json!({"source": [SOURCE]}).to_string())
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule(&name)
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(format!("arn:aws:sqs:us-east-1:123456789012:{name}"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    (name, url)
}

async fn received(url: &str) -> Vec<Value> {
    let out = sqs_client()
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    out.messages
        .unwrap_or_default()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect()
}

fn created() -> AuditEvent {
    let by = Author {
        actor: Actor::Cli("local".into()),
        operation: "create".into(),
        at_millis: 1_767_225_600_000,
    };
    audit::created(&fixtures::execution(&[1, 1]), &by)
}

/// A stream batch: a header MODIFY and a trail INSERT, as Lambda delivers them.
fn batch(event: &AuditEvent) -> Value {
    let trail = stream_image(&trail_item(event).unwrap());
    let header = json!({
        "executionId": {"S": fixtures::EXECUTION_ID}, "sk": {"S": "EXECUTION"},
        "status": {"S": "PENDING"}, "version": {"N": "1"}
    });
    let record = |n: u32, name: &str, image: Value| {
        json!({
            "eventID": format!("e{n}"), "eventName": name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": {"executionId": image["executionId"], "sk": image["sk"]},
                "NewImage": image, "SequenceNumber": format!("10000000000000000000{n}"),
                "SizeBytes": 300, "StreamViewType": "NEW_IMAGE"
            },
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
        })
    };
    json!({"Records": [record(1, "MODIFY", header), record(2, "INSERT", trail)]})
}

#[tokio::test]
async fn publish_puts_the_trails_notices_on_its_bus() {
    let (bus, queue) = bus_with_queue().await;
    let event = created();
    let env = [
        ("EXECUTIONS_TABLE", "unused"),
        ("EVENT_BUS_NAME", bus.as_str()),
    ];
    let run = run_function(
        env!("CARGO_BIN_EXE_publish"),
        &env,
        vec![batch(&event), json!({"operation": "find"})],
    );
    assert_eq!(run.replies.len(), 2, "{}", run.output);
    assert_eq!(
        run.replies[0],
        Reply::Response(json!({"batchItemFailures": []})),
        "{}",
        run.output
    );
    assert!(
        matches!(&run.replies[1], Reply::Error(e) if e.contains("not a DynamoDB stream event")),
        "an event that is not a stream batch fails whole: {:?}",
        run.replies[1]
    );
    let got = received(&queue).await;
    let want = event.notices();
    assert_eq!(got.len(), want.len(), "{got:#?}");
    for (body, notice) in got.iter().zip(&want) {
        assert_eq!(body["source"], SOURCE);
        assert_eq!(body["detail-type"], notice.kind.detail_type());
        assert_eq!(
            body["detail"]["notificationId"],
            notice.detail["notificationId"]
        );
    }
}

#[tokio::test]
async fn publish_pages_what_must_reach_a_person_through_its_topic() {
    let (bus, notices) = bus_with_queue().await;
    let (topic, pages) = topic_with_queue().await;
    let mut waiting = created();
    waiting.event_id = audit::event_id(5, "h2");
    waiting.decision = Some(Decision::PlannedPause);
    waiting.paused_before_wave = Some(1);
    let env = [
        ("EXECUTIONS_TABLE", "unused"),
        ("EVENT_BUS_NAME", bus.as_str()),
        ("NOTIFICATION_TOPIC_ARN", topic.as_str()),
    ];
    let run = run_function(
        env!("CARGO_BIN_EXE_publish"),
        &env,
        vec![batch(&created()), batch(&waiting)],
    );
    assert_eq!(
        run.answers(),
        [
            json!({"batchItemFailures": []}),
            json!({"batchItemFailures": []})
        ],
        "{}",
        run.output
    );
    let got = received(&notices).await;
    assert_eq!(
        got.len(),
        created().notices().len() + waiting.notices().len()
    );
    let envelopes = received(&pages).await;
    assert_eq!(
        envelopes.len(),
        1,
        "the creation does not page: {envelopes:#?}"
    );
    let page = waiting.page();
    assert_eq!(envelopes[0]["TopicArn"], topic.as_str());
    assert_eq!(envelopes[0]["Subject"], page.subject.as_str());
    assert_eq!(
        envelopes[0]["Message"].as_str(),
        Some(page.message.as_str()),
        "the message, lines and JSON bodies as written"
    );
    assert!(
        page.message.contains("\n\ndrctl resume "),
        "{}",
        page.message
    );

    // A topic that does not exist: the record is delivered again (after its notices went out).
    let env = [
        ("EXECUTIONS_TABLE", "unused"),
        ("EVENT_BUS_NAME", bus.as_str()),
        (
            "NOTIFICATION_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:no-such-topic",
        ),
    ];
    let run = run_function(env!("CARGO_BIN_EXE_publish"), &env, vec![batch(&waiting)]);
    assert_eq!(
        run.answers(),
        [json!({"batchItemFailures": [{"itemIdentifier": "100000000000000000002"}]})],
        "{}",
        run.output
    );
}

#[tokio::test]
async fn a_bus_that_refuses_is_answered_with_the_record_to_deliver_again() {
    let env = [
        ("EXECUTIONS_TABLE", "unused"),
        ("EVENT_BUS_NAME", "no-such-bus"),
    ];
    let run = run_function(env!("CARGO_BIN_EXE_publish"), &env, vec![batch(&created())]);
    assert_eq!(
        run.answers(),
        [json!({"batchItemFailures": [{"itemIdentifier": "100000000000000000002"}]})],
        "{}",
        run.output
    );

    // Without its bus the function does not start.
    let run = run_function(
        env!("CARGO_BIN_EXE_publish"),
        &[("EXECUTIONS_TABLE", "t")],
        vec![batch(&created())],
    );
    assert!(
        run.exited.is_some_and(|s| !s.success()) && run.output.contains("EVENT_BUS_NAME"),
        "{:?}: {}",
        run.exited,
        run.output
    );
}

/// One DynamoDB Streams call to moto, as the JSON its API answers (the SDK would parse the records
/// into types; the function gets them as JSON, and this is that JSON).
fn streams_call(action: &str, body: &Value) -> Value {
    use std::io::{Read, Write};
    let port = workspace_tests::moto::port();
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("moto");
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDBStreams_20120810.{action}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, payload) = response.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{action}: {response}");
    serde_json::from_str(payload).unwrap_or_else(|e| panic!("{action}: {e}: {payload}"))
}

#[tokio::test]
async fn the_records_of_the_tables_own_stream_are_published() {
    use aws_sdk_dynamodb::types::{StreamSpecification, StreamViewType};
    use execution_core::ports::ExecutionStore;

    // A table whose stream carries new images, as the template's, and an execution created in
    // it with its audit event, by the store itself.
    let client = workspace_tests::moto::dynamodb_client();
    let table = format!("publish-stream-{}", uuid::Uuid::new_v4().simple());
    aws_adapters::create_table(&client, &table, aws_adapters::DEFAULT_STATUS_INDEX)
        .await
        .unwrap();
    let stream_arn = client
        .update_table()
        .table_name(&table)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .table_description
        .and_then(|t| t.latest_stream_arn)
        .expect("a stream");
    let store = aws_adapters::DynamoDbStore::new(
        client,
        table,
        aws_adapters::DEFAULT_STATUS_INDEX.to_owned(),
    );
    let event = created();
    store
        .create(&fixtures::execution(&[1, 1]), std::slice::from_ref(&event))
        .await
        .unwrap();

    let shard = streams_call("DescribeStream", &json!({"StreamArn": stream_arn}))
        ["StreamDescription"]["Shards"][0]["ShardId"]
        .clone();
    let iterator = streams_call(
        "GetShardIterator",
        &json!({"StreamArn": stream_arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )["ShardIterator"]
        .clone();
    let records =
        streams_call("GetRecords", &json!({"ShardIterator": iterator}))["Records"].clone();
    let inserts = records.as_array().expect("records");
    assert_eq!(
        inserts.len(),
        4,
        "the header, two waves and the event: {records:#}"
    );

    // Unfiltered (the mapping's filter would pass the trail's record alone): the header's and
    // the waves' records are skipped, the trail's is published.
    let (bus, queue) = bus_with_queue().await;
    let env = [
        ("EXECUTIONS_TABLE", "unused"),
        ("EVENT_BUS_NAME", bus.as_str()),
    ];
    let run = run_function(
        env!("CARGO_BIN_EXE_publish"),
        &env,
        vec![json!({"Records": records})],
    );
    assert_eq!(
        run.answers(),
        [json!({"batchItemFailures": []})],
        "{}",
        run.output
    );
    let got: Vec<Value> = received(&queue)
        .await
        .into_iter()
        .map(|body| body["detail"]["notificationId"].clone())
        .collect();
    let want: Vec<Value> = event
        .notices()
        .iter()
        .map(|n| n.detail["notificationId"].clone())
        .collect();
    assert_eq!(got, want);
}
