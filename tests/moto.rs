//! The moto server that `make test` starts, and moto's Docker-free Lambda backend: every Invoke
//! (also Step Functions' `lambda:invoke` tasks) answers with the next queued reply of its region,
//! or echoes its payload when none is queued.

use std::io::{Read, Write};
use std::net::TcpStream;

use aws_sdk_lambda::primitives::Blob;
use serde_json::{json, Value};

/// moto's port. A test that needs moto and does not have it fails, never passes silently.
pub fn port() -> u16 {
    let raw = std::env::var("MOTO_PORT").unwrap_or_default();
    raw.parse().unwrap_or_else(|_| {
        panic!("MOTO_PORT is not set (got {raw:?}): run these tests with `make test`, which starts moto (scripts/test.sh)")
    })
}

pub fn endpoint() -> String {
    format!("http://127.0.0.1:{}", port())
}

/// Credentials and region for moto; never real AWS.
pub fn credentials() -> aws_sdk_sfn::config::Credentials {
    aws_sdk_sfn::config::Credentials::new("testing", "testing", None, None, "moto")
}

/// A client of the SDK crate `$sdk` on moto, in `$region` (us-east-1 when not given).
#[macro_export]
macro_rules! moto_client {
    ($sdk:ident) => {
        $crate::moto_client!($sdk, "us-east-1")
    };
    ($sdk:ident, $region:expr) => {
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new(String::from($region)))
                .endpoint_url($crate::moto::endpoint())
                .credentials_provider($crate::moto::credentials())
                .build(),
        )
    };
}

pub fn sfn_client(region: &str) -> aws_sdk_sfn::Client {
    crate::moto_client!(aws_sdk_sfn, region)
}

fn lambda_client(region: &str) -> aws_sdk_lambda::Client {
    crate::moto_client!(aws_sdk_lambda, region)
}

/// Queues `replies` for the next Lambda invocations in `region`, in order, after emptying the
/// region's queue (a failed earlier run may have left replies in it).
pub async fn queue_lambda_replies(region: &str, replies: &[Value]) {
    drain_lambda_replies(region).await;
    let results: Vec<String> = replies.iter().map(Value::to_string).collect();
    let body = json!({"results": results, "region": region}).to_string();
    let status = post(port(), "/moto-api/static/lambda-simple/response", &body);
    assert_eq!(status, 201, "moto refused the canned Lambda replies");
}

/// Invokes until moto echoes the payload, which it does only when no reply is queued.
async fn drain_lambda_replies(region: &str) {
    let client = lambda_client(region);
    let marker = json!({"drain": uuid::Uuid::new_v4().to_string()}).to_string();
    for _ in 0..1000 {
        let out = client
            .invoke()
            .function_name("drain-canned-replies")
            .payload(Blob::new(marker.clone()))
            .send()
            .await
            .expect("moto's Lambda Invoke");
        if out.payload.as_ref().map(|b| b.as_ref()) == Some(marker.as_bytes()) {
            return;
        }
    }
    panic!("moto's lambda-simple queue in {region} did not empty");
}

/// A minimal HTTP/1.1 POST to moto's own API (no SDK covers it); returns the status code.
fn post(port: u16, path: &str, body: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("moto on port {port}: {e}"));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("write to moto");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read from moto");
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {response:.200}"))
}

/// A DynamoDB client on moto (us-east-1).
pub fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    crate::moto_client!(aws_sdk_dynamodb)
}

/// A fresh executions table in moto (named `{prefix}-…`) holding `execution`, and the store on it.
pub async fn store_holding(
    prefix: &str,
    execution: &execution_core::model::Execution,
) -> (String, aws_adapters::DynamoDbStore) {
    use execution_core::ports::ExecutionStore;
    let table = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
    let client = dynamodb_client();
    aws_adapters::create_table(&client, &table, aws_adapters::DEFAULT_STATUS_INDEX)
        .await
        .expect("a table in moto");
    let store = aws_adapters::DynamoDbStore::new(
        client,
        table.clone(),
        aws_adapters::DEFAULT_STATUS_INDEX.to_owned(),
    );
    store.create(execution, &[]).await.expect("the execution");
    (table, store)
}
