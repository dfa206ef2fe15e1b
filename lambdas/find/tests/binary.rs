//! The find binary under a stand-in Lambda Runtime API, against moto's DynamoDB: the wiring of
//! main.rs, and a clear start-up failure when its configuration is incomplete.

use aws_adapters::{create_table, DEFAULT_STATUS_INDEX};
use serde_json::json;
use workspace_tests::runtime_api::{run_function, Reply};

async fn table() -> String {
    let name = format!("find-binary-{}", uuid::Uuid::new_v4().simple());
    create_table(
        &workspace_tests::moto::dynamodb_client(),
        &name,
        DEFAULT_STATUS_INDEX,
    )
    .await
    .expect("a table in moto");
    name
}

#[tokio::test]
async fn find_answers_the_schedule_and_direct_calls() {
    let table = table().await;
    let scheduled = json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    let env = [
        ("EXECUTIONS_TABLE", table.as_str()),
        ("POLL_FUNCTION_NAME", "poll"),
        ("FIND_CONCURRENCY", "4"),
    ];
    let run = run_function(
        env!("CARGO_BIN_EXE_find"),
        &env,
        vec![
            scheduled,
            json!({"operation": "find"}),
            json!({"operation": "poll"}),
        ],
    );
    let empty = json!({"statusCode": 200, "executionsFound": 0, "executionsPolled": 0, "executionsSkipped": 0, "results": []});
    assert_eq!(run.replies.len(), 3, "{}", run.output);
    assert_eq!(run.replies[0], Reply::Response(empty.clone()));
    assert_eq!(run.replies[1], Reply::Response(empty));
    let Reply::Response(refused) = &run.replies[2] else {
        panic!("{:?}", run.replies[2])
    };
    assert_eq!(
        (refused["statusCode"].clone(), refused["error"].clone()),
        (json!(400), json!("INVALID_PARAMETER"))
    );
}

#[tokio::test]
async fn find_refuses_to_start_without_its_configuration() {
    for (env, missing) in [
        (vec![("EXECUTIONS_TABLE", "t")], "POLL_FUNCTION_NAME"),
        (vec![("POLL_FUNCTION_NAME", "poll")], "EXECUTIONS_TABLE"),
        (
            vec![
                ("EXECUTIONS_TABLE", "t"),
                ("POLL_FUNCTION_NAME", "poll"),
                ("FIND_CONCURRENCY", "lots"),
            ],
            "FIND_CONCURRENCY",
        ),
    ] {
        let run = run_function(
            env!("CARGO_BIN_EXE_find"),
            &env,
            vec![json!({"operation": "find"})],
        );
        let status = run.exited.expect("find exits at start-up");
        assert!(!status.success());
        assert!(run.replies.is_empty());
        assert!(
            run.output.contains(missing),
            "the failure names {missing}:\n{}",
            run.output
        );
    }
}
