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
            "act", "advance", "cancel", "cleanup", "events", "finalize", "find", "get", "launch",
            "list", "pause", "poll", "publish", "resume", "retry", "skip", "start",
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

/// A deployment limit: the template parameter, and the variable it sets on the functions that
/// read it. The range the template allows is exactly what the functions accept when they start.
fn limit_is_passed_to(parameter: &str, variable: &'static str, functions: &[&str], default: u64) {
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
        if functions.contains(&f.as_str()) {
            assert_eq!(set, Some(format!("Ref {parameter}")), "{f}");
        } else {
            assert_eq!(set, None, "{f} sets {variable}");
        }
    }
    assert!(
        t["Globals"]["Function"]["Environment"]["Variables"]
            .get(variable)
            .is_none(),
        "{variable} is {functions:?}'s alone"
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
    // advance launches as launch does: jobs of the same size.
    limit_is_passed_to(
        "MaxServersPerJob",
        "MAX_SERVERS_PER_JOB",
        &["LaunchFunction", "AdvanceFunction"],
        DEFAULT_MAX_SERVERS_PER_JOB.into(),
    );
    limit_is_passed_to(
        "MaxWaveAttempts",
        "MAX_WAVE_ATTEMPTS",
        &["RetryFunction"],
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

// ---- advance: DRS's launch results, on the default bus ------------------------------------------

/// DRS's own sample event (EventBridge, "Sample events for Elastic Disaster Recovery").
const DRS_LAUNCH_RESULT: &str = r#"{"version":"0","id":"9da9af57-9253-4406-87cb-7cc400e43465","detail-type":"DRS Source Server Launch Result","source":"aws.drs","account":"111122223333","time":"2016-08-22T20:12:19Z","region":"us-west-2","resources":["arn:aws:drs:us-west-2:111122223333:source-server/s-12345678901234567"],"detail":{"state":"RECOVERY_LAUNCH_SUCCEEDED","job-id":"drsjob-04ca7d0d3fb6afa3e","is-drill":"FALSE"}}"#;

fn launch_result() -> serde_json::Value {
    serde_json::from_str(DRS_LAUNCH_RESULT).expect("DRS's sample event is JSON")
}

/// Another event DRS puts on the same bus, from the same source.
fn replication_stalled() -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "0d4c7e4a-5f0b-4b9e-9d3c-7a1b2c3d4e5f",
        "detail-type": "DRS Source Server Data Replication Stalled Change", "source": "aws.drs",
        "account": "111122223333", "time": "2016-08-22T20:12:19Z", "region": "us-west-2",
        "resources": ["arn:aws:drs:us-west-2:111122223333:source-server/s-12345678901234567"],
        "detail": {"state": "STALLED", "last-seen-time": "2016-08-22T20:10:00Z"}
    })
}

/// find's minute on the default bus.
fn scheduled() -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "111122223333", "time": "2016-08-22T20:12:19Z",
        "region": "us-west-2", "resources": ["arn:aws:events:us-west-2:111122223333:rule/find"],
        "detail": {}
    })
}

/// A YAML value of the template as JSON (patterns are JSON to EventBridge).
fn json_of(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).expect("plain YAML")
}

/// The EventBridge rules that invoke `function` (SAM's `EventBridgeRule` events), by name.
fn eventbridge_rules<'t>(t: &'t Value, function: &str) -> Vec<(String, &'t Value)> {
    properties(t, function)
        .get("Events")
        .and_then(Value::as_mapping)
        .into_iter()
        .flatten()
        .filter(|(_, e)| text(&e["Type"]) == "EventBridgeRule")
        .map(|(name, e)| (text(name), &e["Properties"]))
        .collect()
}

/// advance's one rule's pattern.
fn drs_pattern(t: &Value) -> serde_json::Value {
    let rules = eventbridge_rules(t, "AdvanceFunction");
    assert_eq!(rules.len(), 1, "{rules:?}");
    json_of(&rules[0].1["Pattern"])
}

/// EventBridge's matching, for the patterns of exact values this template writes: every field the
/// pattern names is in the event, with one of the listed values (an array in the event matches
/// when one of its elements does); a nested object is matched field by field. Anything else in a
/// pattern (prefix, anything-but, ...) is not this template's and fails the test.
fn matches(pattern: &serde_json::Value, event: &serde_json::Value) -> bool {
    let pattern = pattern.as_object().expect("a pattern is an object");
    pattern.iter().all(|(key, want)| {
        let Some(got) = event.get(key) else {
            return false;
        };
        match want {
            serde_json::Value::Object(_) => matches(want, got),
            serde_json::Value::Array(values) => {
                assert!(
                    values.iter().all(|v| !v.is_object() && !v.is_array()),
                    "only exact values: {want}"
                );
                let candidates: Vec<&serde_json::Value> = match got {
                    serde_json::Value::Array(items) => items.iter().collect(),
                    one => vec![one],
                };
                candidates.iter().any(|c| values.contains(c))
            }
            other => panic!("{key}: a pattern's leaves are arrays, not {other}"),
        }
    })
}

/// SAM's EventBridgeRule is a rule on the default bus (where DRS puts its events) targeting the
/// function, with a permission for that rule alone. advance is the event's function only: no
/// route, no schedule, not the state machine's. Lambda never retries an event (a retry comes 1 to
/// 2 minutes later, after the state machine's next poll has read the same news), nor keeps one a
/// minute old; its timeout holds a poll and a launch.
#[test]
fn advance_runs_on_drs_launch_results_and_is_never_retried() {
    use execution_core::api::{DRS_EVENT_SOURCE, LAUNCH_RESULT_DETAIL_TYPE};
    let t = template();
    let advance = properties(&t, "AdvanceFunction");
    let events = advance["Events"].as_mapping().expect("Events");
    assert_eq!(events.len(), 1, "the DRS rule only: {events:?}");
    let rules = eventbridge_rules(&t, "AdvanceFunction");
    let (_, rule) = &rules[0];
    assert!(
        rule.get("EventBusName")
            .is_none_or(|b| text(b) == "default"),
        "DRS puts its events on the default bus"
    );
    for field in ["Input", "InputPath", "InputTransformer"] {
        assert!(
            rule.get(field).is_none(),
            "the event itself is the input: {field}"
        );
    }
    assert_eq!(
        drs_pattern(&t),
        serde_json::json!({"source": [DRS_EVENT_SOURCE], "detail-type": [LAUNCH_RESULT_DETAIL_TYPE]})
    );
    // No other function is handed DRS's events, and nothing else runs advance.
    for f in of_type(&t, "AWS::Serverless::Function") {
        if f != "AdvanceFunction" {
            assert!(eventbridge_rules(&t, &f).is_empty(), "{f}");
        }
    }
    assert!(
        of_type(&t, "AWS::Events::Rule").is_empty(),
        "SAM's events only"
    );
    let machine = serde_yaml::to_string(&properties(&t, "ExecutionStateMachine")).unwrap();
    assert!(
        !machine.contains("AdvanceFunction"),
        "not the state machine's"
    );

    let invoke = &advance["EventInvokeConfig"];
    assert_eq!(invoke["MaximumRetryAttempts"].as_u64(), Some(0));
    assert_eq!(
        invoke["MaximumEventAgeInSeconds"].as_u64(),
        Some(60),
        "Lambda's shortest"
    );

    let seconds = |f: &str, key: &str| {
        properties(&t, f)
            .get(key)
            .or_else(|| t["Globals"]["Function"].get(key))
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{f}: {key}"))
    };
    // A launcher's claim is taken for dead `launch_claim_grace_secs` after it was taken: every
    // function that claims dies (its timeout) at least a minute before that.
    let grace = execution_core::rules::Policy::default().launch_claim_grace_secs;
    for launcher in ["LaunchFunction", "AdvanceFunction"] {
        assert!(
            seconds(launcher, "Timeout") + 60 <= grace,
            "{launcher} may outlive its launch claim's grace ({grace} s) less a minute"
        );
    }
    assert!(seconds("AdvanceFunction", "MemorySize") >= seconds("PollFunction", "MemorySize"));
    assert!(
        advance["ReservedConcurrentExecutions"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "capped: DRS's events must not take the API rate poll and launch need"
    );
    assert_eq!(text(&advance["CodeUri"]), "../target/lambda/advance/");
    assert_eq!(
        text(&advance["LoggingConfig"]["LogGroup"]),
        "Ref AdvanceLogGroup"
    );
    let group = properties(&t, "AdvanceLogGroup");
    assert_eq!(
        text(&group["RetentionInDays"]),
        text(&properties(&t, "PollLogGroup")["RetentionInDays"])
    );
    assert_eq!(
        text(&group["LogGroupName"]),
        "Sub /aws/lambda/${AWS::StackName}-advance"
    );
}

/// The rule's pattern against DRS's own sample event, DRS's other events and find's schedule.
#[test]
fn the_drs_rule_matches_launch_results_and_nothing_else() {
    let pattern = drs_pattern(&template());
    let mut failed = launch_result();
    failed["detail"]["state"] = serde_json::json!("RECOVERY_LAUNCH_FAILED");
    for event in [launch_result(), failed] {
        assert!(matches(&pattern, &event), "{event}");
        // What the rule hands advance, advance reads.
        let decoded = lambda_shell::event::decode(execution_core::api::Operation::Advance, &event);
        assert!(
            matches!(
                decoded.request,
                Ok(execution_core::api::Request::Advance(_))
            ),
            "{:?}",
            decoded.request
        );
    }
    let mut forged = launch_result();
    forged["source"] = serde_json::json!("my.app");
    for event in [replication_stalled(), scheduled(), forged] {
        assert!(!matches(&pattern, &event), "{event}");
    }
}

/// The same on EventBridge itself (moto's, which has no TestEventPattern: a rule with the
/// template's pattern on a bus of its own, an SQS queue its target): of DRS's launch result, DRS's
/// replication event and a schedule's tick, only the launch result is delivered, and what is
/// delivered reads as advance's request. (EventBridge refuses `aws.*` sources from PutEvents;
/// moto does not, which is what lets this test send DRS's event.)
#[tokio::test]
async fn eventbridge_delivers_drs_launch_results_only() {
    let t = template();
    let pattern = drs_pattern(&t).to_string();
    let events = workspace_tests::moto_client!(aws_sdk_eventbridge);
    let sqs = workspace_tests::moto_client!(aws_sdk_sqs);
    let name = format!("advance-rule-{}", uuid::Uuid::new_v4().simple());
    events
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("CreateEventBus");
    let queue = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url
        .expect("a queue URL");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .expect("the queue's ARN");
    events
        .put_rule()
        .name(&name)
        .event_bus_name(&name)
        .event_pattern(&pattern)
        .send()
        .await
        .expect("PutRule with the template's pattern");
    events
        .put_targets()
        .rule(&name)
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("advance")
                .arn(&queue_arn)
                .build()
                .expect("a target"),
        )
        .send()
        .await
        .expect("PutTargets");

    let entry = |event: &serde_json::Value| {
        let text = |k: &str| event[k].as_str().unwrap_or_default().to_owned();
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name(&name)
            .source(text("source"))
            .detail_type(text("detail-type"))
            .detail(event["detail"].to_string())
            .set_resources(Some(
                event["resources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect(),
            ))
            .build()
    };
    let put = events
        .put_events()
        .entries(entry(&launch_result()))
        .entries(entry(&replication_stalled()))
        .entries(entry(&scheduled()))
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(put.failed_entry_count, 0, "{put:?}");

    let mut delivered = Vec::new();
    for _ in 0..3 {
        let received = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("ReceiveMessage");
        let batch = received.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        delivered.extend(batch.into_iter().filter_map(|m| m.body));
    }
    assert_eq!(delivered.len(), 1, "the launch result only: {delivered:?}");
    let event: serde_json::Value = serde_json::from_str(&delivered[0]).expect("a JSON event");
    assert_eq!(event["detail-type"], "DRS Source Server Launch Result");
    let decoded = lambda_shell::event::decode(execution_core::api::Operation::Advance, &event);
    let Ok(execution_core::api::Request::Advance(result)) = decoded.request else {
        panic!("{:?} from {event}", decoded.request)
    };
    assert_eq!(result.job_id.as_str(), "drsjob-04ca7d0d3fb6afa3e");
    assert_eq!(
        result.source_server_id.map(|s| s.to_string()).as_deref(),
        Some("s-12345678901234567")
    );
}
