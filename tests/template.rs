//! The stack's shape: what the issue and SPEC §5 ask of the table, the functions, the schedule,
//! the API and the state machine, read from the template itself.

use std::collections::BTreeSet;

use serde_yaml::Value;
use workspace_tests::cfn::{of_type, properties, render as text, template};
use workspace_tests::repo_root;

#[test]
fn the_table_is_on_demand_with_pitr_ttl_and_the_status_index() {
    let t = template();
    let table = properties(&t, "ExecutionsTable");
    assert_eq!(text(&table["BillingMode"]), "PAY_PER_REQUEST");
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        Value::Bool(true)
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["Enabled"],
        Value::Bool(true)
    );
    assert_eq!(
        text(&table["TimeToLiveSpecification"]["AttributeName"]),
        "expiresAt"
    );
    let keys: Vec<(String, String)> = table["KeySchema"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
        .collect();
    assert_eq!(
        keys,
        [
            ("executionId".into(), "HASH".into()),
            ("sk".into(), "RANGE".into())
        ]
    );
    let index = &table["GlobalSecondaryIndexes"][0];
    assert_eq!(
        text(&index["IndexName"]),
        aws_adapters::DEFAULT_STATUS_INDEX
    );
    assert_eq!(
        text(&index["KeySchema"][0]["AttributeName"]),
        "status",
        "find reads the index by status"
    );
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(text(&globals["STATUS_INDEX_NAME"]), "Ref StatusIndexName");
    // The functions read the new index unless an upgrade says otherwise, and may name only an
    // index the table has.
    let parameter = &t["Parameters"]["StatusIndexName"];
    assert_eq!(
        text(&parameter["Default"]),
        aws_adapters::DEFAULT_STATUS_INDEX
    );
    let declared: Vec<String> = table["GlobalSecondaryIndexes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| text(&i["IndexName"]))
        .collect();
    let allowed: Vec<String> = parameter["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    assert_eq!(allowed, declared);
    assert_eq!(text(&globals["EXECUTIONS_TABLE"]), "Ref ExecutionsTable");
}

#[test]
fn every_function_is_an_arm64_binary_built_by_cargo_lambda() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(text(&globals["Runtime"]), "provided.al2023");
    assert_eq!(
        globals["Architectures"],
        serde_yaml::from_str::<Value>("[arm64]").unwrap()
    );
    let mut binaries = BTreeSet::new();
    for f in of_type(&t, "AWS::Serverless::Function") {
        let p = properties(&t, &f);
        assert!(
            p.get("Runtime").is_none() && p.get("Architectures").is_none(),
            "{f} overrides the globals"
        );
        let code = text(&p["CodeUri"]);
        let bin = code
            .strip_prefix("../target/lambda/")
            .and_then(|b| b.strip_suffix('/'))
            .unwrap_or_else(|| panic!("{f}: CodeUri {code}"));
        // The directory cargo lambda writes is named after the binary: lambdas/<bin> builds it.
        let manifest =
            std::fs::read_to_string(repo_root().join("lambdas").join(bin).join("Cargo.toml"))
                .unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(
            manifest.contains(&format!("name = \"{bin}\"")),
            "lambdas/{bin} builds no binary {bin}"
        );
        binaries.insert(bin.to_owned());
    }
    assert_eq!(
        binaries,
        [
            "act", "cancel", "cleanup", "events", "finalize", "find", "get", "launch", "list",
            "pause", "poll", "publish", "resume", "retry", "skip", "start",
        ]
        .map(String::from)
        .into()
    );
}

#[test]
fn find_runs_every_minute_and_finishes_within_it() {
    let t = template();
    let find = properties(&t, "FindFunction");
    let timeout = find["Timeout"].as_u64().expect("a Timeout");
    assert!(
        timeout < 60,
        "find's timeout {timeout} s must be below its one-minute schedule"
    );
    let events = find["Events"].as_mapping().unwrap();
    assert_eq!(events.len(), 1);
    let schedule = events.values().next().unwrap();
    assert_eq!(text(&schedule["Type"]), "Schedule");
    assert_eq!(text(&schedule["Properties"]["Schedule"]), "rate(1 minute)");
    let input: serde_json::Value =
        serde_json::from_str(&text(&schedule["Properties"]["Input"])).unwrap();
    assert_eq!(input, serde_json::json!({"operation": "find"}));
    assert_eq!(
        text(&find["Environment"]["Variables"]["POLL_FUNCTION_NAME"]),
        "Ref PollFunction"
    );
}

#[test]
fn the_operator_routes_are_behind_an_iam_authorised_api() {
    let t = template();
    let api = properties(&t, "ExecutionsApi");
    assert_eq!(text(&api["Auth"]["DefaultAuthorizer"]), "AWS_IAM");
    let mut routes = BTreeSet::new();
    for f in of_type(&t, "AWS::Serverless::Function") {
        for (_, event) in properties(&t, &f)
            .get("Events")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
        {
            if text(&event["Type"]) == "Api" {
                let p = &event["Properties"];
                assert_eq!(text(&p["RestApiId"]), "Ref ExecutionsApi");
                assert!(
                    p.get("Auth").is_none(),
                    "{f}: a route must not override the IAM authoriser"
                );
                routes.insert((f.clone(), text(&p["Method"]), text(&p["Path"])));
            }
        }
    }
    // Each function serves the route lambda-shell reads its events by, and refuses any other.
    let want: BTreeSet<(String, String, String)> = lambda_shell::event::API_ROUTES
        .iter()
        .map(|route| {
            let op = route.operation.as_str();
            (
                format!("{}{}Function", op[..1].to_uppercase(), &op[1..]),
                route.method.to_lowercase(),
                route.path.to_owned(),
            )
        })
        .collect();
    assert_eq!(routes, want);
}

#[test]
fn the_state_machine_is_standard_and_defined_in_its_own_file() {
    let t = template();
    let machine = properties(&t, "ExecutionStateMachine");
    assert_eq!(
        text(&machine["Type"]),
        "STANDARD",
        "a pause can wait for days"
    );
    assert_eq!(text(&machine["DefinitionUri"]), "statemachine.asl.json");
    assert!(machine.get("Definition").is_none());
    let outputs: BTreeSet<String> = t["Outputs"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(text)
        .collect();
    for o in ["ExecutionsTableName", "ApiUrl", "StateMachineArn"] {
        assert!(outputs.contains(o), "output {o}");
    }
}

#[test]
fn every_function_logs_json_for_the_shell() {
    let t = template();
    for f in of_type(&t, "AWS::Serverless::Function") {
        // LogFormat JSON sets AWS_LAMBDA_LOG_FORMAT, which lambda-shell's subscriber honours.
        assert_eq!(
            text(&properties(&t, &f)["LoggingConfig"]["LogFormat"]),
            "JSON",
            "{f}"
        );
    }
}

/// A deployment limit: the template parameter, and the variable it sets on the one function that
/// reads it. The range the template allows is exactly what the function accepts when it starts.
fn limit_is_passed_to(parameter: &str, variable: &'static str, function: &str, default: u64) {
    let t = template();
    let p = &t["Parameters"][parameter];
    assert_eq!(text(&p["Type"]), "Number", "{parameter}");
    let number = |k: &str| {
        p[k].as_u64()
            .unwrap_or_else(|| panic!("{parameter}: {k} {:?}", p[k]))
    };
    assert_eq!(number("Default"), default, "{parameter}");
    for f in of_type(&t, "AWS::Serverless::Function") {
        let set = properties(&t, &f)
            .get("Environment")
            .and_then(|e| e["Variables"].get(variable))
            .map(text);
        if f == function {
            assert_eq!(set, Some(format!("Ref {parameter}")), "{f}");
        } else {
            assert_eq!(set, None, "{f} sets {variable}");
        }
    }
    assert!(
        t["Globals"]["Function"]["Environment"]["Variables"]
            .get(variable)
            .is_none(),
        "{variable} is {function}'s alone"
    );
    let starts = |value: u64| {
        let value = value.to_string();
        aws_adapters::Settings::from_lookup(|name| {
            Ok(match name {
                "EXECUTIONS_TABLE" => Some("t".to_owned()),
                n if n == variable => Some(value.clone()),
                _ => None,
            })
        })
    };
    let (min, max) = (number("MinValue"), number("MaxValue"));
    for ok in [min, default, max] {
        assert!(starts(ok).is_ok(), "{variable}={ok}: {:?}", starts(ok));
    }
    for bad in [min - 1, max + 1] {
        assert!(starts(bad).is_err(), "{variable}={bad} is refused at start");
    }
}

#[test]
fn launch_sizes_jobs_and_retry_counts_attempts_from_the_parameters() {
    use execution_core::rules::{DEFAULT_MAX_SERVERS_PER_JOB, DEFAULT_MAX_WAVE_ATTEMPTS};
    limit_is_passed_to(
        "MaxServersPerJob",
        "MAX_SERVERS_PER_JOB",
        "LaunchFunction",
        DEFAULT_MAX_SERVERS_PER_JOB.into(),
    );
    limit_is_passed_to(
        "MaxWaveAttempts",
        "MAX_WAVE_ATTEMPTS",
        "RetryFunction",
        DEFAULT_MAX_WAVE_ATTEMPTS.into(),
    );
    assert_eq!(
        template()["Parameters"]["MaxServersPerJob"]["MaxValue"].as_u64(),
        Some(execution_core::rules::MAX_SERVERS_PER_JOB.into()),
        "DRS's per-job quota"
    );
}

/// The template's table and the one `aws_adapters::create_table` makes (tests, the command line)
/// must be the same layout: the adapter's queries are written against it.
#[tokio::test]
async fn the_template_table_matches_the_adapters_layout() {
    let client = workspace_tests::moto::dynamodb_client();
    let name = format!("layout-{}", uuid::Uuid::new_v4().simple());
    aws_adapters::create_table(&client, &name, aws_adapters::DEFAULT_STATUS_INDEX)
        .await
        .expect("create_table in moto");
    let described = client
        .describe_table()
        .table_name(&name)
        .send()
        .await
        .expect("DescribeTable")
        .table
        .expect("a table");

    let t = template();
    let table = properties(&t, "ExecutionsTable");
    let keys = |v: &Value| -> Vec<(String, String)> {
        v.as_sequence()
            .unwrap()
            .iter()
            .map(|k| (text(&k["AttributeName"]), text(&k["KeyType"])))
            .collect()
    };
    let sdk_keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        ks.iter()
            .map(|k| (k.attribute_name.clone(), k.key_type.as_str().to_owned()))
            .collect()
    };
    assert_eq!(keys(&table["KeySchema"]), sdk_keys(described.key_schema()));
    let mut attrs: Vec<(String, String)> = table["AttributeDefinitions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (text(&a["AttributeName"]), text(&a["AttributeType"])))
        .collect();
    let mut sdk_attrs: Vec<(String, String)> = described
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name.clone(),
                a.attribute_type.as_str().to_owned(),
            )
        })
        .collect();
    attrs.sort();
    sdk_attrs.sort();
    assert_eq!(attrs, sdk_attrs);

    let index = &table["GlobalSecondaryIndexes"][0];
    let sdk_index = described
        .global_secondary_indexes()
        .first()
        .expect("the status index");
    assert_eq!(
        text(&index["IndexName"]),
        sdk_index.index_name().unwrap_or_default()
    );
    assert_eq!(keys(&index["KeySchema"]), sdk_keys(sdk_index.key_schema()));
    let projection = sdk_index.projection().expect("a projection");
    assert_eq!(
        text(&index["Projection"]["ProjectionType"]),
        projection
            .projection_type()
            .map(|p| p.as_str())
            .unwrap_or_default()
    );
    let mut non_key: Vec<String> = index["Projection"]["NonKeyAttributes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text)
        .collect();
    let mut sdk_non_key = projection.non_key_attributes().to_vec();
    non_key.sort();
    sdk_non_key.sort();
    assert_eq!(non_key, sdk_non_key);
}

/// SPEC's notifications: the trail is published from the table's stream by publish (at least
/// once: retried from the record that failed, for as long as the stream keeps it, then recorded),
/// and what pages someone is published by publish to an encrypted SNS topic with an optional
/// e-mail subscription.
#[test]
fn the_trail_is_published_from_the_stream_and_pages_are_emailed_through_the_topic() {
    let t = template();
    let table = properties(&t, "ExecutionsTable");
    assert_eq!(
        text(&table["StreamSpecification"]["StreamViewType"]),
        "NEW_IMAGE",
        "the publisher decodes each trail item from its new image"
    );

    let publish = properties(&t, "PublishFunction");
    let events = publish["Events"].as_mapping().expect("Events");
    assert_eq!(events.len(), 1);
    let stream = events.values().next().unwrap();
    assert_eq!(text(&stream["Type"]), "DynamoDB");
    let p = &stream["Properties"];
    assert_eq!(text(&p["Stream"]), "GetAtt ExecutionsTable.StreamArn");
    assert_eq!(text(&p["StartingPosition"]), "TRIM_HORIZON");
    assert_eq!(
        p["FunctionResponseTypes"],
        serde_yaml::from_str::<Value>("[ReportBatchItemFailures]").unwrap(),
        "the answer's batchItemFailures are read"
    );
    assert_eq!(p["BisectBatchOnFunctionError"], Value::Bool(false));
    assert_eq!(
        p["MaximumRetryAttempts"].as_i64(),
        Some(-1),
        "never gives up early"
    );
    let age = p["MaximumRecordAgeInSeconds"]
        .as_u64()
        .expect("a record age");
    assert!(
        age < 24 * 3600,
        "a record is handed to the failure destination before the stream's 24 h drop it: {age}"
    );
    assert_eq!(
        text(&p["DestinationConfig"]["OnFailure"]["Destination"]),
        "GetAtt PublishFailureQueue.Arn"
    );
    assert!(p["BatchSize"]
        .as_u64()
        .is_some_and(|n| (1..=10_000).contains(&n)));
    let filters = p["FilterCriteria"]["Filters"]
        .as_sequence()
        .expect("filters");
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value = serde_json::from_str(&text(&filters[0]["Pattern"])).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({
            "eventName": ["INSERT"],
            "dynamodb": {"Keys": {"executionId": {"S": [{"prefix": aws_adapters::dynamodb::TRAIL_PREFIX}]}}}
        }),
        "only the trail's appends"
    );

    // The pages: publish publishes them to the topic itself (the message as written); no rule
    // sends notices to the topic (an input transformer would escape the message's line breaks
    // and quotes), and no one else may publish to it.
    assert_eq!(
        text(&publish["Environment"]["Variables"]["NOTIFICATION_TOPIC_ARN"]),
        "Ref NotificationsTopic"
    );
    let resources = workspace_tests::cfn::resources(&t);
    assert!(!resources.contains_key("PagingNoticesRule"));
    for (id, r) in resources {
        let id = id.as_str().unwrap_or_default();
        let kind = text(&r["Type"]);
        assert_ne!(
            kind, "AWS::SNS::TopicPolicy",
            "{id}: the topic needs no policy"
        );
        if kind == "AWS::Events::Rule" {
            let targets = serde_yaml::to_string(&r["Properties"]["Targets"]).unwrap();
            assert!(!targets.contains("NotificationsTopic"), "{id}: {targets}");
        }
    }

    // Always encrypted: the stack's key when it names one, else the AWS-managed key, which a role
    // of this account may publish under (EventBridge could not).
    let topic = properties(&t, "NotificationsTopic");
    assert_eq!(
        topic["KmsMasterKeyId"],
        serde_yaml::from_str::<Value>("!If [HasKmsKey, !Ref KmsKeyArn, alias/aws/sns]").unwrap()
    );
    let kms = text(&t["Parameters"]["KmsKeyArn"]["Description"]);
    assert!(
        kms.contains("aws/sns") && !kms.contains("EventBridge"),
        "the key's description says what uses it: {kms}"
    );

    let parameter = &t["Parameters"]["NotificationEmail"];
    assert_eq!(text(&parameter["Default"]), "");
    let subscription = &workspace_tests::cfn::resources(&t)["NotificationEmailSubscription"];
    assert_eq!(text(&subscription["Condition"]), "HasNotificationEmail");
    assert_eq!(text(&subscription["Properties"]["Protocol"]), "email");
    assert_eq!(
        text(&subscription["Properties"]["Endpoint"]),
        "Ref NotificationEmail"
    );
    assert_eq!(
        text(&subscription["Properties"]["TopicArn"]),
        "Ref NotificationsTopic"
    );
    assert_eq!(
        t["Conditions"]["HasNotificationEmail"],
        serde_yaml::from_str::<Value>(r#"!Not [!Equals [!Ref NotificationEmail, ""]]"#).unwrap(),
        "subscribed only when an address is given"
    );

    let outputs = t["Outputs"].as_mapping().unwrap();
    for o in ["EventBusName", "EventBusArn", "NotificationTopicArn"] {
        assert!(outputs.contains_key(o), "output {o}");
    }
}

/// act runs a wave action that is a Lambda function synchronously (SPEC §11): the action answers
/// within 840 s, so act has Lambda's maximum to record the answer; it is the state machine's alone
/// (no API route, no schedule), and reads nothing from its environment but the table's names. The
/// state machine calls it through the definition's placeholder.
#[test]
fn act_is_the_state_machines_function_with_lambdas_longest_timeout() {
    let t = template();
    let act = properties(&t, "ActFunction");
    assert_eq!(act["Timeout"].as_u64(), Some(900), "Lambda's maximum");
    const { assert!(execution_core::actions::MAX_LAMBDA_TIMEOUT_SECONDS + 60 <= 900) };
    assert!(act.get("Events").is_none(), "no route, no schedule");
    assert!(
        act.get("Environment").is_none(),
        "the globals are all act reads"
    );
    assert_eq!(text(&act["CodeUri"]), "../target/lambda/act/");
    assert_eq!(text(&act["LoggingConfig"]["LogGroup"]), "Ref ActLogGroup");
    let machine = properties(&t, "ExecutionStateMachine");
    assert_eq!(
        text(&machine["DefinitionSubstitutions"]["ActFunctionArn"]),
        "GetAtt ActFunction.Arn"
    );
    // The wave-action parameters, each optional.
    for (name, kind) in [
        ("ActionFunctionArns", "CommaDelimitedList"),
        ("ActionAutomationDocuments", "CommaDelimitedList"),
        ("ActionAutomationRoleArn", "String"),
    ] {
        let p = &t["Parameters"][name];
        assert_eq!(text(&p["Type"]), kind, "{name}");
        assert_eq!(text(&p["Default"]), "", "{name}");
    }
}
