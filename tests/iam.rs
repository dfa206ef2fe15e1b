//! Every role in the template grants exactly what its function calls, on the narrowest resources
//! IAM allows: the minimal sets below are derived from the use cases (which store writes, which
//! DRS/EC2/Lambda/Step Functions calls each makes) and the adapters' translation to API calls.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;
use workspace_tests::cfn::{of_type, one_or_many, properties, render, template};

const LOGS: [&str; 2] = ["logs:CreateLogStream", "logs:PutLogEvents"];

/// StartRecovery's dependent actions (Service Authorization Reference): DRS launches the recovery
/// instances with the caller's permissions.
const EC2_FOR_START_RECOVERY: [&str; 32] = [
    "ec2:AttachVolume",
    "ec2:AuthorizeSecurityGroupEgress",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateLaunchTemplate",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:CreateSnapshot",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:DeleteLaunchTemplateVersions",
    "ec2:DeleteSnapshot",
    "ec2:DeleteVolume",
    "ec2:DescribeAccountAttributes",
    "ec2:DescribeAvailabilityZones",
    "ec2:DescribeImages",
    "ec2:DescribeInstanceAttribute",
    "ec2:DescribeInstanceStatus",
    "ec2:DescribeInstanceTypes",
    "ec2:DescribeInstances",
    "ec2:DescribeLaunchTemplateVersions",
    "ec2:DescribeLaunchTemplates",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeSnapshots",
    "ec2:DescribeSubnets",
    "ec2:DescribeVolumes",
    "ec2:DetachVolume",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyLaunchTemplate",
    "ec2:RevokeSecurityGroupEgress",
    "ec2:RunInstances",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "ec2:TerminateInstances",
];

/// What cleanup asks DRS: TerminateRecoveryInstances, and what it and its dependent actions read.
const DRS_FOR_CLEANUP: [&str; 4] = [
    "drs:TerminateRecoveryInstances",
    "drs:DescribeRecoveryInstances",
    "drs:DescribeJobs",
    "drs:DescribeSourceServers",
];

/// TerminateRecoveryInstances' EC2 dependent actions (Service Authorization Reference): DRS
/// terminates the instances and deletes their volumes with the caller's permissions.
const EC2_FOR_TERMINATE_RECOVERY_INSTANCES: [&str; 4] = [
    "ec2:DescribeInstances",
    "ec2:DescribeVolumes",
    "ec2:TerminateInstances",
    "ec2:DeleteVolume",
];

/// The actions each function's role must grant, no more, no fewer.
fn expected() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    let with_logs = |actions: &[&'static str]| -> BTreeSet<&'static str> {
        LOGS.iter().chain(actions).copied().collect()
    };
    let mut launch = with_logs(&[
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "drs:StartRecovery",
        "drs:TagResource",
        "drs:DescribeJobs",
        "drs:CreateRecoveryInstanceForDrs",
        "drs:ListTagsForResource",
        "iam:PassRole",
    ]);
    launch.extend(EC2_FOR_START_RECOVERY);
    BTreeMap::from([
        (
            "FindFunction",
            // Healing reads the execution, records the restart (with its audit event) and the new
            // run, asks about runs and starts one.
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "lambda:InvokeFunction",
                "states:DescribeExecution",
                "states:StartExecution",
            ]),
        ),
        // poll reads a failed server's reason from its job's log.
        (
            "PollFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "drs:DescribeJobs",
                "drs:DescribeJobLogItems",
                "drs:DescribeRecoveryInstances",
                "ec2:DescribeInstances",
            ]),
        ),
        (
            "FinalizeFunction",
            with_logs(&["dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
        ),
        // Every header write carries its audit event: a Put beside the Update.
        (
            "PauseFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "states:SendTaskSuccess",
            ]),
        ),
        (
            "ResumeFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "states:SendTaskSuccess",
            ]),
        ),
        ("LaunchFunction", launch),
        // retry and skip write the wave and the header (one transaction), then release the token.
        (
            "RetryFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "states:SendTaskSuccess",
            ]),
        ),
        (
            "SkipFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "states:SendTaskSuccess",
            ]),
        ),
        // cancel writes the header (and its event), then releases the token.
        (
            "CancelFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "states:SendTaskSuccess",
            ]),
        ),
        // start checks the plan's servers in DRS (pre-flight), holds them (read, taken in one
        // transaction, given back when refused), creates the execution (several transactions for
        // a large plan, each checking the header is still absent), records its run, or cancels
        // and finalizes it when the run cannot start; it releases no token (a new execution
        // holds none).
        (
            "StartFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:ConditionCheckItem",
                "dynamodb:BatchGetItem",
                "dynamodb:DeleteItem",
                "drs:DescribeSourceServers",
                "states:StartExecution",
            ]),
        ),
        // cleanup records each server's cleanup (waves and their events), asks DRS which instance
        // is still the server's and for an earlier request's job, and terminates; DRS terminates
        // the instance and deletes its volumes with cleanup's permissions (the dependent actions
        // of TerminateRecoveryInstances).
        ("CleanupFunction", {
            let mut cleanup = with_logs(&[
                "dynamodb:Query",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ]);
            cleanup.extend(DRS_FOR_CLEANUP);
            cleanup.extend(EC2_FOR_TERMINATE_RECOVERY_INSTANCES);
            cleanup
        }),
        // The reads: the status index (list), the execution's partition (get), its trail and,
        // for an empty one, the execution (events).
        ("ListFunction", with_logs(&["dynamodb:Query"])),
        ("GetFunction", with_logs(&["dynamodb:Query"])),
        ("EventsFunction", with_logs(&["dynamodb:Query"])),
        // publish reads the table's stream (its event source mapping does, with the function's
        // role), puts notices on its bus, pages through its topic (with the topic's key when the
        // stack names one), and records what it gave up on in its failure queue.
        (
            "PublishFunction",
            with_logs(&[
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                "events:PutEvents",
                "sns:Publish",
                "kms:GenerateDataKey",
                "kms:Decrypt",
                "sqs:SendMessage",
            ]),
        ),
    ])
}

/// The stream actions an event source mapping needs, on the table's stream only.
const STREAM_READ: [&str; 4] = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
];

/// Actions IAM authorises on `*` only (no resource-level permissions, Service Authorization
/// Reference).
fn resource_star_only(action: &str) -> bool {
    matches!(
        action,
        "drs:DescribeJobs"
            | "drs:DescribeRecoveryInstances"
            | "drs:DescribeSourceServers"
            | "dynamodb:ListStreams"
    ) || action.starts_with("ec2:Describe")
}

/// One Allow statement, rendered.
#[derive(Debug, Clone)]
struct Grant {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Option<Value>,
    /// The template condition a statement is granted under (`!If [Cond, statement, NoValue]`).
    when: Option<String>,
}

/// A statement, or the statement an `!If [Cond, statement, !Ref AWS::NoValue]` grants under
/// `Cond` (never another statement in its place).
fn conditional(st: &Value) -> (Option<String>, &Value) {
    let branches = match st {
        Value::Tagged(t) if t.tag.to_string().trim_start_matches('!') == "If" => {
            t.value.as_sequence()
        }
        Value::Mapping(m) => m.get("Fn::If").and_then(Value::as_sequence),
        _ => None,
    };
    match branches {
        Some(b) => {
            assert_eq!(b.len(), 3, "!If [condition, statement, else]: {st:?}");
            assert_eq!(
                render(&b[2]),
                "Ref AWS::NoValue",
                "a conditional statement grants nothing otherwise: {st:?}"
            );
            (Some(render(&b[0])), &b[1])
        }
        None => (None, st),
    }
}

/// The statements of a role's inline policies; a role with managed policies or a Deny fails.
fn grants(template: &Value, role: &str) -> Vec<Grant> {
    let props = properties(template, role);
    assert!(
        props.get("ManagedPolicyArns").is_none(),
        "{role}: managed policies grant more than the function uses"
    );
    let mut out = Vec::new();
    for policy in props
        .get("Policies")
        .and_then(Value::as_sequence)
        .unwrap_or_else(|| panic!("{role}: no inline policies"))
    {
        for st in policy["PolicyDocument"]["Statement"]
            .as_sequence()
            .expect("a statement list")
        {
            let (when, st) = conditional(st);
            assert_eq!(st["Effect"].as_str(), Some("Allow"), "{role}: {st:?}");
            assert!(
                st.get("NotAction").is_none() && st.get("NotResource").is_none(),
                "{role}: NotAction/NotResource widen a grant"
            );
            out.push(Grant {
                sid: st.get("Sid").map(render).unwrap_or_default(),
                actions: one_or_many(&st["Action"]),
                resources: one_or_many(&st["Resource"]),
                condition: st.get("Condition").cloned(),
                when,
            });
        }
    }
    out
}

/// Function → the logical id of its role (`Role: !GetAtt XRole.Arn`).
fn function_roles(template: &Value) -> BTreeMap<String, String> {
    of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|f| {
            let props = properties(template, &f);
            assert!(
                props.get("Policies").is_none(),
                "{f}: SAM policies would add a generated role"
            );
            let role = render(
                props
                    .get("Role")
                    .unwrap_or_else(|| panic!("{f} has no Role")),
            );
            let id = role
                .strip_prefix("GetAtt ")
                .and_then(|r| r.strip_suffix(".Arn"))
                .unwrap_or_else(|| panic!("{f}: Role {role}"));
            (f, id.to_owned())
        })
        .collect()
}

fn actions_of(grants: &[Grant]) -> BTreeSet<String> {
    grants
        .iter()
        .flat_map(|g| g.actions.iter().cloned())
        .collect()
}

#[test]
fn every_function_has_a_role_of_its_own() {
    let t = template();
    let roles = function_roles(&t);
    assert_eq!(
        roles.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected().keys().copied().collect()
    );
    let distinct: BTreeSet<&String> = roles.values().collect();
    assert_eq!(distinct.len(), roles.len(), "roles are shared: {roles:?}");
    let mut all_roles = of_type(&t, "AWS::IAM::Role");
    assert!(
        all_roles.remove("StateMachineRole") && all_roles.remove("ApiGatewayCloudWatchRole"),
        "{all_roles:?}"
    );
    assert_eq!(
        all_roles,
        roles.values().cloned().collect(),
        "one role per function, plus the state machine's and API Gateway's logging role"
    );
}

#[test]
fn every_role_grants_exactly_the_minimal_actions() {
    let t = template();
    let roles = function_roles(&t);
    for (function, want) in expected() {
        let got = actions_of(&grants(&t, &roles[function]));
        let want: BTreeSet<String> = want.iter().map(|a| (*a).to_owned()).collect();
        assert_eq!(
            got,
            want,
            "{function}: extra {:?}, missing {:?}",
            got.difference(&want).collect::<Vec<_>>(),
            want.difference(&got).collect::<Vec<_>>()
        );
    }
}

#[test]
fn no_action_is_a_wildcard_and_star_resources_are_only_where_iam_requires_them() {
    let t = template();
    for role in of_type(&t, "AWS::IAM::Role") {
        for g in grants(&t, &role) {
            for a in &g.actions {
                assert!(!a.contains('*'), "{role}/{}: wildcard action {a}", g.sid);
                assert!(
                    a.split_once(':')
                        .is_some_and(|(svc, name)| !svc.is_empty() && !name.is_empty()),
                    "{role}: {a}"
                );
            }
            if g.resources.iter().any(|r| r == "*") {
                assert_eq!(g.resources, ["*"], "{role}/{}", g.sid);
                let scoped: Vec<&String> = g
                    .actions
                    .iter()
                    .filter(|a| !resource_star_only(a))
                    .collect();
                assert!(
                    scoped.is_empty(),
                    "{role}/{}: {scoped:?} support resource-level permissions but are granted on *",
                    g.sid
                );
            }
            for r in &g.resources {
                // Every other resource names this stack's resources or this account and region,
                // or the stack's own key, granted only when the stack names one.
                let stack_resource = r
                    .strip_prefix("Ref ")
                    .is_some_and(|id| workspace_tests::cfn::resources(&t).contains_key(id));
                let the_stacks_key = r == "Ref KmsKeyArn" && g.when.as_deref() == Some("HasKmsKey");
                assert!(
                    r == "*"
                        || r.starts_with("GetAtt ")
                        || r.starts_with("Sub ")
                        || stack_resource
                        || the_stacks_key,
                    "{role}/{}: resource {r}",
                    g.sid
                );
                if let Some(arn) = r.strip_prefix("Sub arn:${AWS::Partition}:") {
                    let account_free = arn.starts_with("ec2:${AWS::Region}::image/")
                        || arn.starts_with("ec2:${AWS::Region}::snapshot/");
                    assert!(
                        arn.contains("${AWS::AccountId}") || account_free,
                        "{role}/{}: {r} is not scoped to this account",
                        g.sid
                    );
                }
            }
        }
    }
}

/// Resources granted for one action in one role.
fn resources_for(t: &Value, role: &str, action: &str) -> BTreeSet<String> {
    grants(t, role)
        .into_iter()
        .filter(|g| g.actions.iter().any(|a| a == action))
        .flat_map(|g| g.resources)
        .collect()
}

#[test]
fn find_may_invoke_poll_and_nothing_else() {
    let t = template();
    let roles = function_roles(&t);
    assert_eq!(
        resources_for(&t, &roles["FindFunction"], "lambda:InvokeFunction"),
        BTreeSet::from(["GetAtt PollFunction.Arn".to_owned()])
    );
    assert_eq!(
        resources_for(&t, &roles["FindFunction"], "dynamodb:Query"),
        BTreeSet::from([
            "Sub ${ExecutionsTable.Arn}/index/${StatusIndexName}".to_owned(),
            "GetAtt ExecutionsTable.Arn".to_owned()
        ]),
        "find reads the status index, and the execution it heals"
    );
}

#[test]
fn find_heals_runs_of_this_state_machine_only() {
    let t = template();
    let roles = function_roles(&t);
    let name = render(&properties(&t, "ExecutionStateMachine")["Name"]);
    let name = name
        .strip_prefix("Sub ")
        .expect("a Sub'd state machine name");
    let prefix = "Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}";
    assert_eq!(
        resources_for(&t, &roles["FindFunction"], "states:DescribeExecution"),
        BTreeSet::from([format!("{prefix}:execution:{name}:*")])
    );
    assert_eq!(
        resources_for(&t, &roles["FindFunction"], "states:StartExecution"),
        BTreeSet::from([format!("{prefix}:stateMachine:{name}")])
    );
    let find = properties(&t, "FindFunction");
    assert_eq!(
        render(&find["Environment"]["Variables"]["STATE_MACHINE_ARN"]),
        format!("{prefix}:stateMachine:{name}")
    );
}

#[test]
fn start_starts_runs_of_this_state_machine_only() {
    let t = template();
    let roles = function_roles(&t);
    let name = render(&properties(&t, "ExecutionStateMachine")["Name"]);
    let name = name
        .strip_prefix("Sub ")
        .expect("a Sub'd state machine name");
    let machine = format!(
        "Sub arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{name}"
    );
    assert_eq!(
        resources_for(&t, &roles["StartFunction"], "states:StartExecution"),
        BTreeSet::from([machine.clone()])
    );
    let start = properties(&t, "StartFunction");
    assert_eq!(
        render(&start["Environment"]["Variables"]["STATE_MACHINE_ARN"]),
        machine
    );
    assert_eq!(
        resources_for(&t, &roles["StartFunction"], "dynamodb:PutItem"),
        BTreeSet::from(["GetAtt ExecutionsTable.Arn".to_owned()])
    );
}

#[test]
fn list_reads_the_status_index_and_the_other_reads_the_table() {
    let t = template();
    let roles = function_roles(&t);
    assert_eq!(
        resources_for(&t, &roles["ListFunction"], "dynamodb:Query"),
        BTreeSet::from(["Sub ${ExecutionsTable.Arn}/index/${StatusIndexName}".to_owned()])
    );
    for function in ["GetFunction", "EventsFunction"] {
        assert_eq!(
            resources_for(&t, &roles[function], "dynamodb:Query"),
            BTreeSet::from(["GetAtt ExecutionsTable.Arn".to_owned()]),
            "{function}"
        );
    }
}

#[test]
fn table_access_is_to_the_executions_table_only() {
    let t = template();
    for (function, role) in function_roles(&t) {
        for g in grants(&t, &role)
            .iter()
            .filter(|g| g.actions.iter().any(|a| a.starts_with("dynamodb:")))
        {
            assert!(
                g.actions.iter().all(|a| a.starts_with("dynamodb:")),
                "{function}/{}: mixed grant",
                g.sid
            );
            let streams = g.actions.iter().all(|a| STREAM_READ.contains(&a.as_str()));
            assert!(
                streams || !g.actions.iter().any(|a| STREAM_READ.contains(&a.as_str())),
                "{function}/{}: stream and table actions in one grant",
                g.sid
            );
            for r in &g.resources {
                if streams {
                    // The table's stream; ListStreams, which IAM authorises on * only, alone.
                    assert!(
                        r == "GetAtt ExecutionsTable.StreamArn"
                            || (r == "*" && g.actions == ["dynamodb:ListStreams"]),
                        "{function}: {r}"
                    );
                } else {
                    assert!(
                        r == "GetAtt ExecutionsTable.Arn"
                            || r == "Sub ${ExecutionsTable.Arn}/index/${StatusIndexName}",
                        "{function}: {r}"
                    );
                }
            }
        }
    }
}

#[test]
fn publish_puts_events_on_its_own_bus_pages_through_its_own_topic_and_reads_only_the_tables_stream()
{
    let t = template();
    let roles = function_roles(&t);
    let publish = &roles["PublishFunction"];
    assert_eq!(
        resources_for(&t, publish, "events:PutEvents"),
        BTreeSet::from(["GetAtt NoticesBus.Arn".to_owned()])
    );
    let put = grants(&t, publish)
        .into_iter()
        .find(|g| g.actions == ["events:PutEvents"])
        .expect("a PutEvents grant of its own");
    let condition = serde_yaml::to_string(put.condition.as_ref().expect("a condition")).unwrap();
    assert!(
        condition.contains("events:source") && condition.contains(execution_core::audit::SOURCE),
        "only the engine's source: {condition}"
    );
    assert_eq!(
        render(&properties(&t, "PublishFunction")["Environment"]["Variables"]["EVENT_BUS_NAME"]),
        "Ref NoticesBus",
        "the bus it may put on is the bus it is told to"
    );
    for action in &STREAM_READ[..3] {
        assert_eq!(
            resources_for(&t, publish, action),
            BTreeSet::from(["GetAtt ExecutionsTable.StreamArn".to_owned()]),
            "{action}"
        );
    }
    let list = grants(&t, publish)
        .into_iter()
        .find(|g| g.actions.iter().any(|a| a == "dynamodb:ListStreams"))
        .expect("a ListStreams grant");
    assert_eq!(
        (list.actions, list.resources),
        (
            vec!["dynamodb:ListStreams".to_owned()],
            vec!["*".to_owned()]
        ),
        "ListStreams has no resource-level permissions: alone, on *"
    );

    let page = grants(&t, publish)
        .into_iter()
        .find(|g| g.actions.iter().any(|a| a == "sns:Publish"))
        .expect("an sns:Publish grant");
    assert_eq!(page.actions, ["sns:Publish"], "a grant of its own");
    assert_eq!(page.resources, ["Ref NotificationsTopic"], "its topic only");
    assert!(page.when.is_none() && page.condition.is_none());
    assert_eq!(
        render(
            &properties(&t, "PublishFunction")["Environment"]["Variables"]
                ["NOTIFICATION_TOPIC_ARN"]
        ),
        "Ref NotificationsTopic",
        "the topic it may publish to is the topic it is told to"
    );
    let key = grants(&t, publish)
        .into_iter()
        .filter(|g| g.actions.iter().any(|a| a.starts_with("kms:")))
        .collect::<Vec<_>>();
    assert_eq!(key.len(), 1, "{key:?}");
    assert_eq!(key[0].actions, ["kms:GenerateDataKey", "kms:Decrypt"]);
    assert_eq!(key[0].resources, ["Ref KmsKeyArn"]);
    assert_eq!(
        key[0].when.as_deref(),
        Some("HasKmsKey"),
        "the stack's key, only when it names one"
    );
    assert_eq!(
        resources_for(&t, publish, "sqs:SendMessage"),
        BTreeSet::from(["GetAtt PublishFailureQueue.Arn".to_owned()])
    );
    // Nothing else publishes notices, pages, uses a key or reads the stream.
    for (function, role) in &roles {
        let actions = actions_of(&grants(&t, role));
        let touches = actions.iter().any(|a| {
            ["events:", "sqs:", "sns:", "kms:"]
                .iter()
                .any(|service| a.starts_with(service))
                || STREAM_READ.contains(&a.as_str())
        });
        assert_eq!(
            touches,
            function == "PublishFunction",
            "{function}: {actions:?}"
        );
    }
}

#[test]
fn logs_go_to_each_functions_own_log_group() {
    let t = template();
    for (function, role) in function_roles(&t) {
        let group = render(&properties(&t, &function)["LoggingConfig"]["LogGroup"]);
        let group = group
            .strip_prefix("Ref ")
            .unwrap_or_else(|| panic!("{function}: LogGroup {group}"));
        for action in LOGS {
            assert_eq!(
                resources_for(&t, &role, action),
                BTreeSet::from([format!("GetAtt {group}.Arn")]),
                "{function}"
            );
        }
    }
}

/// The functions that complete the state machine's task tokens: pause (a token that arrived after
/// the decision) and the operators' decisions that release a parked run.
const RELEASERS: [&str; 5] = [
    "PauseFunction",
    "ResumeFunction",
    "RetryFunction",
    "CancelFunction",
    "SkipFunction",
];

#[test]
fn only_the_releasers_complete_tokens_and_only_of_this_state_machine() {
    let t = template();
    let roles = function_roles(&t);
    let name = render(&properties(&t, "ExecutionStateMachine")["Name"]);
    let name = name
        .strip_prefix("Sub ")
        .expect("a Sub'd state machine name");
    for function in RELEASERS {
        let arn = format!("Sub arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{name}");
        assert_eq!(
            resources_for(&t, &roles[function], "states:SendTaskSuccess"),
            BTreeSet::from([arn]),
            "{function}"
        );
    }
    let machine_role = render(&properties(&t, "ExecutionStateMachine")["Role"]);
    for role in of_type(&t, "AWS::IAM::Role") {
        if machine_role == format!("GetAtt {role}.Arn")
            || roles["FindFunction"] == role
            || roles["StartFunction"] == role
        {
            // The state machine's own role (continue as new), find's (healing) and start's start
            // runs: the_state_machine_invokes_exactly_the_functions_its_definition_names,
            // find_heals_runs_of_this_state_machine_only and
            // start_starts_runs_of_this_state_machine_only check them.
            continue;
        }
        let states: Vec<String> = actions_of(&grants(&t, &role))
            .into_iter()
            .filter(|a| a.starts_with("states:"))
            .collect();
        if !RELEASERS.iter().any(|f| roles[*f] == role) {
            assert!(states.is_empty(), "{role} may call {states:?}");
        }
        assert!(
            states.iter().all(|a| a == "states:SendTaskSuccess"),
            "{role} may call {states:?}: releasing a token is all a function does with the workflow"
        );
    }
}

#[test]
fn only_launch_starts_recovery_and_tags_only_the_job_it_creates() {
    let t = template();
    let roles = function_roles(&t);
    for (function, role) in &roles {
        let actions = actions_of(&grants(&t, role));
        let launches = ["drs:StartRecovery", "ec2:RunInstances", "iam:PassRole"]
            .iter()
            .any(|a| actions.contains(*a));
        assert_eq!(launches, function == "LaunchFunction", "{function}");
    }
    let launch = grants(&t, &roles["LaunchFunction"]);
    let tag = launch
        .iter()
        .find(|g| g.actions == ["drs:TagResource"])
        .expect("a TagResource grant of its own");
    let condition = serde_yaml::to_string(tag.condition.as_ref().expect("a condition")).unwrap();
    assert!(
        condition.contains("drs:CreateAction") && condition.contains("StartRecovery"),
        "{condition}"
    );
    let pass = launch
        .iter()
        .find(|g| g.actions == ["iam:PassRole"])
        .expect("a PassRole grant of its own");
    let condition = serde_yaml::to_string(pass.condition.as_ref().expect("a condition")).unwrap();
    assert!(
        condition.contains("iam:PassedToService") && condition.contains("ec2.amazonaws.com"),
        "{condition}"
    );
}

#[test]
fn the_state_machine_invokes_exactly_the_functions_its_definition_names() {
    let t = template();
    let machine = properties(&t, "ExecutionStateMachine");
    let role = render(&machine["Role"]);
    let role = role
        .strip_prefix("GetAtt ")
        .and_then(|r| r.strip_suffix(".Arn"))
        .expect("Role: !GetAtt X.Arn");
    let g = grants(&t, role);
    assert_eq!(
        actions_of(&g),
        BTreeSet::from([
            "lambda:InvokeFunction".to_owned(),
            "states:StartExecution".to_owned()
        ])
    );
    // Continue as new: the run starts a new run of its own state machine, and of no other.
    let name = render(&machine["Name"]);
    let name = name.strip_prefix("Sub ").unwrap_or(&name);
    assert_eq!(
        resources_for(&t, role, "states:StartExecution"),
        BTreeSet::from([format!(
            "Sub arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:{name}"
        )])
    );
    assert!(
        grants(&t, role)
            .iter()
            .all(|g| g.actions.len() == 1 && g.condition.is_none()),
        "one action per statement"
    );
    let granted: BTreeSet<String> = g
        .into_iter()
        .filter(|g| g.actions.iter().all(|a| a == "lambda:InvokeFunction"))
        .flat_map(|g| g.resources)
        .collect();
    let substitutions = machine["DefinitionSubstitutions"]
        .as_mapping()
        .expect("DefinitionSubstitutions");
    let substituted: BTreeSet<String> = substitutions
        .values()
        .map(render)
        .filter(|v| v.starts_with("GetAtt "))
        .collect();
    assert_eq!(granted, substituted);
    let functions: BTreeSet<String> = ["Poll", "Launch", "Pause", "Finalize", "Cleanup"]
        .iter()
        .map(|f| format!("GetAtt {f}Function.Arn"))
        .collect();
    assert_eq!(
        granted, functions,
        "not find, not the operators' resume, retry, skip and cancel; cleanup after a drill"
    );
    // Every placeholder of the definition is substituted, and nothing else is.
    let text = workspace_tests::cfn::definition_text();
    let placeholders: BTreeSet<String> = text
        .split("${")
        .skip(1)
        .filter_map(|s| s.split_once('}'))
        .map(|(name, _)| name.to_owned())
        .collect();
    let keys: BTreeSet<String> = substitutions.keys().map(render).collect();
    assert_eq!(placeholders, keys);
}

/// Only cleanup terminates, and what it may terminate is narrow: DRS recovery instances of this
/// account and region, and the EC2 instances and volumes DRS created (tagged
/// AWSElasticDisasterRecoveryManaged), only when DRS acts for it. No other role may terminate a
/// recovery instance; launch's EC2 grant (what StartRecovery needs) is launch's alone.
#[test]
fn only_cleanup_terminates_and_only_what_drs_manages_through_drs() {
    let t = template();
    let roles = function_roles(&t);
    for (function, role) in &roles {
        let actions = actions_of(&grants(&t, role));
        assert_eq!(
            actions.contains("drs:TerminateRecoveryInstances"),
            function == "CleanupFunction",
            "{function}"
        );
    }
    let cleanup = grants(&t, &roles["CleanupFunction"]);
    let arn = |service_and_type: &str| format!("Sub arn:${{AWS::Partition}}:{service_and_type}");
    assert_eq!(
        resources_for(
            &t,
            &roles["CleanupFunction"],
            "drs:TerminateRecoveryInstances"
        ),
        BTreeSet::from([arn(
            "drs:${AWS::Region}:${AWS::AccountId}:recovery-instance/*"
        )])
    );
    for (action, resource) in [
        ("ec2:TerminateInstances", "instance"),
        ("ec2:DeleteVolume", "volume"),
    ] {
        let grant = cleanup
            .iter()
            .find(|g| g.actions.iter().any(|a| a == action))
            .unwrap_or_else(|| panic!("cleanup may not {action}"));
        assert_eq!(grant.actions, [action], "{action}: a grant of its own");
        assert_eq!(
            grant.resources,
            [arn(&format!(
                "ec2:${{AWS::Region}}:${{AWS::AccountId}}:{resource}/*"
            ))],
            "{action}"
        );
        let condition: serde_json::Value = serde_json::to_value(
            grant
                .condition
                .as_ref()
                .unwrap_or_else(|| panic!("{action}: no condition")),
        )
        .expect("a condition as JSON");
        assert_eq!(
            condition,
            serde_json::json!({
                "Null": {"aws:ResourceTag/AWSElasticDisasterRecoveryManaged": "false"},
                "Bool": {"aws:ViaAWSService": "true"}
            }),
            "{action}: only DRS's own resources, only through DRS"
        );
        assert_eq!(grant.when, None, "{action}");
    }
}

/// start's new grants: the holds on the executions table only, the pre-flight's read of DRS;
/// poll's job logs on DRS jobs only.
#[test]
fn start_holds_servers_in_the_table_and_poll_reads_only_job_logs() {
    let t = template();
    let roles = function_roles(&t);
    for action in [
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
    ] {
        assert_eq!(
            resources_for(&t, &roles["StartFunction"], action),
            BTreeSet::from(["GetAtt ExecutionsTable.Arn".to_owned()]),
            "{action}"
        );
    }
    for (function, role) in &roles {
        let actions = actions_of(&grants(&t, role));
        assert_eq!(
            actions.contains("dynamodb:DeleteItem") || actions.contains("dynamodb:BatchGetItem"),
            function == "StartFunction",
            "{function}: only start holds servers"
        );
    }
    assert_eq!(
        resources_for(&t, &roles["StartFunction"], "drs:DescribeSourceServers"),
        BTreeSet::from(["*".to_owned()])
    );
    assert_eq!(
        resources_for(&t, &roles["PollFunction"], "drs:DescribeJobLogItems"),
        BTreeSet::from([
            "Sub arn:${AWS::Partition}:drs:${AWS::Region}:${AWS::AccountId}:job/*".to_owned()
        ])
    );
}
