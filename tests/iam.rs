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

/// What poll calls: the execution's waves (and their audit events), DRS's jobs and recovery
/// instances, a failed server's reason from its job's log, EC2's instances, and the runbooks act
/// started (followed, and stopped at their timeout).
const POLL_ACTIONS: [&str; 9] = [
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "drs:DescribeJobs",
    "drs:DescribeJobLogItems",
    "drs:DescribeRecoveryInstances",
    "ec2:DescribeInstances",
    "ssm:GetAutomationExecution",
    "ssm:StopAutomationExecution",
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
    // advance polls, then launches: poll's actions and launch's, no more.
    let mut advance = launch.clone();
    advance.extend(POLL_ACTIONS);
    BTreeMap::from([
        (
            "FindFunction",
            // Lists the status index and reads the listed executions' poll marks from their
            // headers (BatchGetItem). Healing reads the execution, records the restart (with its
            // audit event) and the new run, asks about runs and starts one.
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:BatchGetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "lambda:InvokeFunction",
                "states:DescribeExecution",
                "states:StartExecution",
            ]),
        ),
        // poll reads a failed server's reason from its job's log, follows the runbooks act
        // started and stops one that outlived its timeout.
        ("PollFunction", with_logs(&POLL_ACTIONS)),
        ("AdvanceFunction", advance),
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
        // The reads: the status index and the listed executions' poll marks (list), the
        // execution's partition (get), its trail and, for an empty one, the execution (events).
        (
            "ListFunction",
            with_logs(&["dynamodb:Query", "dynamodb:BatchGetItem"]),
        ),
        ("GetFunction", with_logs(&["dynamodb:Query"])),
        ("EventsFunction", with_logs(&["dynamodb:Query"])),
        // act takes a wave action's run and records it (header, wave and audit event), invokes
        // the plan's Lambda function or starts its runbook (tagged as it starts), passing the
        // runbooks' role. It neither reads nor stops automations: poll follows them.
        (
            "ActFunction",
            with_logs(&[
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "lambda:InvokeFunction",
                "ssm:StartAutomationExecution",
                "ssm:AddTagsToResource",
                "iam:PassRole",
            ]),
        ),
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
                // or the stack's own key, granted only when the stack names one, or what the
                // wave-action parameters list, granted only when they list something (resolved
                // and checked by act_runs_only_what_the_parameters_name).
                let stack_resource = r
                    .strip_prefix("Ref ")
                    .is_some_and(|id| workspace_tests::cfn::resources(&t).contains_key(id));
                let the_stacks_key = r == "Ref KmsKeyArn" && g.when.as_deref() == Some("HasKmsKey");
                let listed = (r.starts_with("Split ")
                    && matches!(
                        g.when.as_deref(),
                        Some("HasActionFunctions" | "HasActionAutomationDocuments")
                    ))
                    || (r == "Ref ActionAutomationRoleArn"
                        && g.when.as_deref() == Some("HasActionAutomationRole"));
                assert!(
                    r == "*"
                        || r.starts_with("GetAtt ")
                        || r.starts_with("Sub ")
                        || stack_resource
                        || the_stacks_key
                        || listed,
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
    assert_eq!(
        resources_for(&t, &roles["FindFunction"], "dynamodb:BatchGetItem"),
        BTreeSet::from(["GetAtt ExecutionsTable.Arn".to_owned()]),
        "find reads the listed executions' poll marks from the table"
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
    assert_eq!(
        resources_for(&t, &roles["ListFunction"], "dynamodb:BatchGetItem"),
        BTreeSet::from(["GetAtt ExecutionsTable.Arn".to_owned()]),
        "list reads the listed executions' poll marks from the table"
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

/// The functions that start DRS recoveries: launch, and advance, which runs launch on DRS's event.
const LAUNCHERS: [&str; 2] = ["LaunchFunction", "AdvanceFunction"];

#[test]
fn only_the_launchers_start_recovery_and_tag_only_the_job_they_create() {
    let t = template();
    let roles = function_roles(&t);
    for (function, role) in &roles {
        let actions = actions_of(&grants(&t, role));
        let launches = ["drs:StartRecovery", "ec2:RunInstances"]
            .iter()
            .any(|a| actions.contains(*a));
        assert_eq!(
            launches,
            LAUNCHERS.contains(&function.as_str()),
            "{function}"
        );
        // Passing a role: the launchers the recovery instances' (to EC2), act the runbooks' (to
        // SSM).
        assert_eq!(
            actions.contains("iam:PassRole"),
            LAUNCHERS.contains(&function.as_str()) || function == "ActFunction",
            "{function}"
        );
    }
    for function in LAUNCHERS {
        let launch = grants(&t, &roles[function]);
        let tag = launch
            .iter()
            .find(|g| g.actions == ["drs:TagResource"])
            .unwrap_or_else(|| panic!("{function}: a TagResource grant of its own"));
        let condition =
            serde_yaml::to_string(tag.condition.as_ref().expect("a condition")).unwrap();
        assert!(
            condition.contains("drs:CreateAction") && condition.contains("StartRecovery"),
            "{function}: {condition}"
        );
        let pass = launch
            .iter()
            .find(|g| g.actions == ["iam:PassRole"])
            .unwrap_or_else(|| panic!("{function}: a PassRole grant of its own"));
        let condition =
            serde_yaml::to_string(pass.condition.as_ref().expect("a condition")).unwrap();
        assert!(
            condition.contains("iam:PassedToService") && condition.contains("ec2.amazonaws.com"),
            "{function}: {condition}"
        );
    }
}

/// One grant, action by action: the action, a resource, its condition and the template condition
/// it is granted under, rendered. The log group is each function's own
/// (logs_go_to_each_functions_own_log_group): left out.
fn grant_set(t: &Value, role: &str) -> BTreeSet<(String, String, String, String)> {
    grants(t, role)
        .into_iter()
        .flat_map(|g| {
            let condition = g
                .condition
                .as_ref()
                .map(|c| serde_json::to_string(&serde_json::to_value(c).unwrap()).unwrap())
                .unwrap_or_default();
            let when = g.when.clone().unwrap_or_default();
            g.actions
                .iter()
                .filter(|a| !LOGS.contains(&a.as_str()))
                .flat_map(|a| {
                    g.resources
                        .iter()
                        .map(|r| (a.clone(), r.clone(), condition.clone(), when.clone()))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// advance runs poll and launch, and may do exactly what they may together: each action on the
/// same resources, under the same conditions (the tag on creation, the role passed to EC2 only,
/// the runbooks only when the stack lists some), nothing wider.
#[test]
fn advance_may_do_exactly_what_poll_and_launch_may() {
    let t = template();
    let roles = function_roles(&t);
    let advance = grant_set(&t, &roles["AdvanceFunction"]);
    let mut both = grant_set(&t, &roles["PollFunction"]);
    both.extend(grant_set(&t, &roles["LaunchFunction"]));
    assert_eq!(
        advance,
        both,
        "extra {:?}, missing {:?}",
        advance.difference(&both).collect::<Vec<_>>(),
        both.difference(&advance).collect::<Vec<_>>()
    );
    // And so, deployed with runbooks listed, it follows and stops the automations as poll does.
    let deployed = listing(&t);
    for action in ["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"] {
        let of = |function: &str| {
            resources_of(
                &deployed
                    .grants(&roles[function])
                    .iter()
                    .filter(|g| g.actions.iter().any(|a| a == action))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(of("AdvanceFunction"), of("PollFunction"), "{action}");
    }
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
    let functions: BTreeSet<String> = ["Poll", "Launch", "Pause", "Finalize", "Cleanup", "Act"]
        .iter()
        .map(|f| format!("GetAtt {f}Function.Arn"))
        .collect();
    assert_eq!(
        granted, functions,
        "not find, not the operators' resume, retry, skip and cancel; cleanup after a drill; act \
         for wave actions"
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
/// recovery instance; launch's EC2 grant (what StartRecovery needs) is the launchers' alone.
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
            actions.contains("dynamodb:DeleteItem"),
            function == "StartFunction",
            "{function}: only start holds servers"
        );
        // BatchGetItem: start reads the holds; find and list the listed executions' poll marks.
        assert_eq!(
            actions.contains("dynamodb:BatchGetItem"),
            ["StartFunction", "FindFunction", "ListFunction"].contains(&function.as_str()),
            "{function}: BatchGetItem"
        );
    }
    assert_eq!(
        resources_for(&t, &roles["StartFunction"], "drs:DescribeSourceServers"),
        BTreeSet::from(["*".to_owned()])
    );
    for function in ["PollFunction", "AdvanceFunction"] {
        assert_eq!(
            resources_for(&t, &roles[function], "drs:DescribeJobLogItems"),
            BTreeSet::from([
                "Sub arn:${AWS::Partition}:drs:${AWS::Region}:${AWS::AccountId}:job/*".to_owned()
            ]),
            "{function}"
        );
    }
}

// ---- the wave-action parameters, resolved ------------------------------------------------------

/// What act may run comes from the template's parameters (a list of function ARNs, a list of
/// runbook names, a role): the grants are built from them with intrinsic functions and left out
/// when they list nothing. These tests resolve the template as CloudFormation would, for a given
/// set of parameter values, and check what the roles then grant.
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Text(String),
    List(Vec<String>),
    /// `!Ref AWS::NoValue`: the property, or the list item, is left out.
    Nothing,
}

const PARTITION: &str = "aws";
const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";

/// The name and argument of an intrinsic function, short form (`!Join`) or long (`Fn::Join`).
fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            &t.value,
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k == "Condition" || k.starts_with("Fn::"))
                .then(|| (k.trim_start_matches("Fn::").to_owned(), v))
        }
        _ => None,
    }
}

fn args(v: &Value) -> &[Value] {
    v.as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("a list of arguments: {v:?}"))
}

/// One deployment of the template: each parameter's value (its default unless given).
struct Deployment<'t> {
    template: &'t Value,
    parameters: BTreeMap<String, Resolved>,
}

/// One statement of a role as deployed: its condition resolved to JSON.
#[derive(Debug, Clone)]
struct Deployed {
    sid: String,
    actions: Vec<String>,
    resources: Vec<String>,
    condition: Option<serde_json::Value>,
}

impl<'t> Deployment<'t> {
    fn new(template: &'t Value, given: &[(&str, &str)]) -> Self {
        let mut parameters = BTreeMap::new();
        for (name, p) in template["Parameters"].as_mapping().expect("Parameters") {
            let name = name.as_str().expect("a parameter name").to_owned();
            let raw = given
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
                .unwrap_or_else(|| p.get("Default").map(render).unwrap_or_default());
            // CloudFormation trims each member of a CommaDelimitedList.
            let value = if p["Type"].as_str() == Some("CommaDelimitedList") {
                Resolved::List(raw.split(',').map(|s| s.trim().to_owned()).collect())
            } else {
                Resolved::Text(raw)
            };
            parameters.insert(name, value);
        }
        for (name, _) in given {
            assert!(parameters.contains_key(*name), "no parameter {name}");
        }
        Self {
            template,
            parameters,
        }
    }

    fn reference(&self, name: &str) -> Resolved {
        match name {
            "AWS::Partition" => Resolved::Text(PARTITION.into()),
            "AWS::Region" => Resolved::Text(REGION.into()),
            "AWS::AccountId" => Resolved::Text(ACCOUNT.into()),
            "AWS::StackName" => Resolved::Text("drs".into()),
            "AWS::URLSuffix" => Resolved::Text("amazonaws.com".into()),
            "AWS::NoValue" => Resolved::Nothing,
            n if self.parameters.contains_key(n) => self.parameters[n].clone(),
            n => {
                assert!(
                    workspace_tests::cfn::resources(self.template).contains_key(n),
                    "Ref {n}: no such parameter or resource"
                );
                Resolved::Text(format!("Ref {n}"))
            }
        }
    }

    fn resolve(&self, v: &Value) -> Resolved {
        let Some((f, arg)) = intrinsic(v) else {
            return match v {
                Value::String(s) => Resolved::Text(s.clone()),
                Value::Number(n) => Resolved::Text(n.to_string()),
                Value::Bool(b) => Resolved::Text(b.to_string()),
                Value::Sequence(items) => {
                    Resolved::List(items.iter().flat_map(|i| self.strings(i)).collect())
                }
                other => panic!("not a value: {other:?}"),
            };
        };
        match f.as_str() {
            "Ref" => self.reference(arg.as_str().expect("Ref names something")),
            "GetAtt" => Resolved::Text(match arg {
                Value::Sequence(_) => format!(
                    "GetAtt {}",
                    args(arg).iter().map(render).collect::<Vec<_>>().join(".")
                ),
                other => format!("GetAtt {}", render(other)),
            }),
            "Sub" => Resolved::Text(self.sub(arg)),
            "Join" => {
                let a = args(arg);
                Resolved::Text(
                    self.strings(&a[1])
                        .join(a[0].as_str().expect("a delimiter")),
                )
            }
            "Split" => {
                let a = args(arg);
                Resolved::List(
                    self.text(&a[1])
                        .split(a[0].as_str().expect("a delimiter"))
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "Select" => {
                let a = args(arg);
                let i: usize = self.text(&a[0]).parse().expect("an index");
                Resolved::Text(self.strings(&a[1])[i].clone())
            }
            "If" => {
                let a = args(arg);
                if self.condition(a[0].as_str().expect("a condition's name")) {
                    self.resolve(&a[1])
                } else {
                    self.resolve(&a[2])
                }
            }
            other => panic!("{other} is not resolved here; add it"),
        }
    }

    fn strings(&self, v: &Value) -> Vec<String> {
        match self.resolve(v) {
            Resolved::Text(s) => vec![s],
            Resolved::List(l) => l,
            Resolved::Nothing => vec![],
        }
    }

    fn text(&self, v: &Value) -> String {
        match self.resolve(v) {
            Resolved::Text(s) => s,
            other => panic!("not a string: {other:?} from {v:?}"),
        }
    }

    /// `Fn::Sub`: `${Var}` from its map, a parameter or pseudo parameter, `${X.Attr}` an
    /// attribute, `${!Literal}` the text `${Literal}`.
    fn sub(&self, arg: &Value) -> String {
        let (template, vars) = match arg {
            Value::String(s) => (s.as_str(), None),
            Value::Sequence(a) => (
                a[0].as_str().expect("a template"),
                Some(a[1].as_mapping().expect("variables")),
            ),
            other => panic!("Sub of {other:?}"),
        };
        let mut out = String::new();
        let mut rest = template;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let after = &rest[at + 2..];
            let end = after.find('}').expect("a closed ${...}");
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str(&format!("${{{literal}}}"));
            } else if let Some(v) = vars.and_then(|m| m.get(name)) {
                out.push_str(&self.text(v));
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&format!("GetAtt {resource}.{attribute}"));
            } else {
                match self.reference(name) {
                    Resolved::Text(s) => out.push_str(&s),
                    other => panic!("Sub ${{{name}}}: {other:?}"),
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn condition(&self, name: &str) -> bool {
        let c = self.template["Conditions"]
            .get(name)
            .unwrap_or_else(|| panic!("no condition {name}"));
        self.truth(c)
    }

    fn truth(&self, v: &Value) -> bool {
        let (f, arg) = intrinsic(v).unwrap_or_else(|| panic!("not a condition: {v:?}"));
        match f.as_str() {
            "Not" => !self.truth(&args(arg)[0]),
            "And" => args(arg).iter().all(|c| self.truth(c)),
            "Or" => args(arg).iter().any(|c| self.truth(c)),
            "Equals" => self.resolve(&args(arg)[0]) == self.resolve(&args(arg)[1]),
            "Condition" => self.condition(arg.as_str().expect("a condition's name")),
            other => panic!("{other} is not a condition function"),
        }
    }

    /// A statement's `Condition` block, its values resolved.
    fn json(&self, v: &Value) -> serde_json::Value {
        if intrinsic(v).is_some() {
            return match self.resolve(v) {
                Resolved::Text(s) => serde_json::Value::String(s),
                Resolved::List(l) => serde_json::json!(l),
                Resolved::Nothing => serde_json::Value::Null,
            };
        }
        match v {
            Value::Mapping(m) => serde_json::Value::Object(
                m.iter().map(|(k, v)| (render(k), self.json(v))).collect(),
            ),
            Value::Sequence(items) => {
                serde_json::Value::Array(items.iter().map(|i| self.json(i)).collect())
            }
            other => serde_json::Value::String(render(other)),
        }
    }

    /// The statements `role` grants in this deployment (a conditional one only if its condition
    /// holds).
    fn grants(&self, role: &str) -> Vec<Deployed> {
        let mut out = Vec::new();
        for policy in properties(self.template, role)["Policies"]
            .as_sequence()
            .expect("inline policies")
        {
            for st in policy["PolicyDocument"]["Statement"]
                .as_sequence()
                .expect("a statement list")
            {
                let (when, st) = conditional(st);
                if when.is_some_and(|c| !self.condition(&c)) {
                    continue;
                }
                out.push(Deployed {
                    sid: st.get("Sid").map(render).unwrap_or_default(),
                    actions: one_or_many(&st["Action"]),
                    resources: self.strings(&st["Resource"]),
                    condition: st.get("Condition").map(|c| self.json(c)),
                });
            }
        }
        out
    }
}

/// The statements of `grants` that grant `action`; each must grant it alone.
fn granting<'g>(grants: &'g [Deployed], action: &str) -> Vec<&'g Deployed> {
    let found: Vec<&Deployed> = grants
        .iter()
        .filter(|g| g.actions.iter().any(|a| a == action))
        .collect();
    for g in &found {
        assert_eq!(
            g.actions,
            [action],
            "{}: {action} in a grant of its own",
            g.sid
        );
    }
    found
}

fn resources_of(grants: &[&Deployed]) -> BTreeSet<String> {
    grants.iter().flat_map(|g| g.resources.clone()).collect()
}

const ACTION_FUNCTIONS: [&str; 2] = [
    "arn:aws:lambda:eu-west-1:111122223333:function:dns-switch",
    "arn:aws:lambda:eu-west-1:444455556666:function:warm-caches",
];
/// One of this account's runbooks, one AWS-owned.
const ACTION_DOCUMENTS: [&str; 2] = ["DrsWarmUp", "AWS-RestartEC2Instance"];
const RUNBOOK_ROLE: &str = "arn:aws:iam::111122223333:role/drs-runbooks";

/// A stack that lists wave-action targets (the documents with a space after the comma, as an
/// operator may type them: CloudFormation trims it).
fn listing(t: &Value) -> Deployment<'_> {
    let functions = ACTION_FUNCTIONS.join(",");
    let documents = ACTION_DOCUMENTS.join(", ");
    Deployment::new(
        t,
        &[
            ("ActionFunctionArns", functions.as_str()),
            ("ActionAutomationDocuments", documents.as_str()),
            ("ActionAutomationRoleArn", RUNBOOK_ROLE),
        ],
    )
}

/// Wave actions run only what the stack's parameters name: act invokes the listed functions
/// (their versions and aliases too) and no other, starts the listed runbooks of this account (and
/// the AWS-owned ones of those names, whose ARNs name no account) in this Region and no other,
/// tags only the automations it starts with the engine's own tag keys, and passes only the
/// runbooks' role, only to SSM. poll follows and stops this account's automations.
#[test]
fn act_runs_only_what_the_parameters_name() {
    let t = template();
    let roles = function_roles(&t);
    let deployed = listing(&t);
    let act = deployed.grants(&roles["ActFunction"]);

    let invoke = granting(&act, "lambda:InvokeFunction");
    let want: BTreeSet<String> = ACTION_FUNCTIONS
        .iter()
        .flat_map(|f| [(*f).to_owned(), format!("{f}:*")])
        .collect();
    assert_eq!(resources_of(&invoke), want);
    assert!(invoke.iter().all(|g| g.condition.is_none()));

    let start = granting(&act, "ssm:StartAutomationExecution");
    let runbook =
        |account: &str, name: &str| format!("arn:*:ssm:*:{account}:automation-definition/{name}:*");
    let want: BTreeSet<String> = ACTION_DOCUMENTS
        .iter()
        .flat_map(|d| [runbook("${aws:PrincipalAccount}", d), runbook("", d)])
        .collect();
    assert_eq!(resources_of(&start), want);
    for g in &start {
        assert_eq!(
            g.condition,
            Some(serde_json::json!({"StringEquals": {"aws:RequestedRegion": REGION}})),
            "{}: this Region's runbooks only",
            g.sid
        );
    }

    let tag = granting(&act, "ssm:AddTagsToResource");
    assert_eq!(
        resources_of(&tag),
        BTreeSet::from([format!(
            "arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:automation-execution/*"
        )])
    );
    let keys = serde_json::json!({"ForAllValues:StringLike": {"aws:TagKeys": "drs-waves:*"}});
    assert!(tag.iter().all(|g| g.condition.as_ref() == Some(&keys)));
    // The tags act puts on an automation are all of that prefix.
    let execution = execution_core::fixtures::execution(&[1]);
    for (key, _) in execution_core::actions::automation_tags(&execution, 0, "warm-up", 1) {
        assert!(key.starts_with("drs-waves:"), "{key}");
    }

    let pass = granting(&act, "iam:PassRole");
    assert_eq!(
        resources_of(&pass),
        BTreeSet::from([RUNBOOK_ROLE.to_owned()])
    );
    assert!(pass.iter().all(|g| g.condition
        == Some(
            serde_json::json!({"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}})
        )));

    // act neither reads nor stops automations (poll does).
    for action in ["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"] {
        assert!(granting(&act, action).is_empty(), "act may {action}");
    }
    let poll = deployed.grants(&roles["PollFunction"]);
    for action in ["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"] {
        let found: Vec<&Deployed> = poll
            .iter()
            .filter(|g| g.actions.iter().any(|a| a == action))
            .collect();
        assert_eq!(
            resources_of(&found),
            BTreeSet::from([format!(
                "arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:automation-execution/*"
            )]),
            "{action}"
        );
        assert!(found.iter().all(|g| g.actions
            == [
                "ssm:GetAutomationExecution".to_owned(),
                "ssm:StopAutomationExecution".to_owned()
            ]));
    }
    // No one else invokes functions beyond its own stack's, runs runbooks or passes their role.
    for (function, role) in &roles {
        let granted: BTreeSet<String> = deployed
            .grants(role)
            .iter()
            .flat_map(|g| g.actions.clone())
            .collect();
        if function != "ActFunction" {
            assert!(
                !granted.contains("ssm:StartAutomationExecution")
                    && !granted.contains("ssm:AddTagsToResource"),
                "{function}"
            );
        }
        if !["ActFunction", "PollFunction", "AdvanceFunction"].contains(&function.as_str()) {
            assert!(!granted.iter().any(|a| a.starts_with("ssm:")), "{function}");
        }
    }
}

/// Deployed, no grant for these actions names `*`, or a wildcard anywhere but a function's
/// qualifier, a runbook's version and the partition and Region the condition pins; and with
/// every parameter set, still no role is granted `*` where IAM allows a narrower resource.
#[test]
fn listed_targets_resolve_to_no_wildcard() {
    let t = template();
    let roles = function_roles(&t);
    let deployed = listing(&t);
    let act = deployed.grants(&roles["ActFunction"]);
    for g in &act {
        for r in &g.resources {
            assert_ne!(r, "*", "{}", g.sid);
            let stars = r.matches('*').count();
            let allowed = match g.actions[0].as_str() {
                "lambda:InvokeFunction" => usize::from(r.ends_with(":*")),
                "ssm:StartAutomationExecution" => 3,
                "ssm:AddTagsToResource" => 1,
                _ => 0,
            };
            assert!(
                stars <= allowed && !r.contains("**"),
                "{}: {r} has a wildcard too many",
                g.sid
            );
        }
    }
    for role in of_type(&t, "AWS::IAM::Role") {
        for g in deployed.grants(&role) {
            if g.resources.iter().any(|r| r == "*") {
                assert!(
                    g.actions.iter().all(|a| resource_star_only(a)),
                    "{role}/{}: {:?} on *",
                    g.sid,
                    g.actions
                );
            }
        }
    }
}

/// With the parameters empty (their defaults), no grant of a wave-action target is left in any
/// role: no function to invoke, no runbook to start, follow or tag, no role to pass. Each list
/// brings in its own grants only; the role, only with documents to run.
#[test]
fn empty_parameters_grant_no_action_targets() {
    let t = template();
    let roles = function_roles(&t);
    for p in [
        "ActionFunctionArns",
        "ActionAutomationDocuments",
        "ActionAutomationRoleArn",
    ] {
        assert_eq!(render(&t["Parameters"][p]["Default"]), "", "{p}");
        let pattern = render(&t["Parameters"][p]["AllowedPattern"]);
        assert!(pattern.starts_with("^$|^"), "{p}: empty allowed: {pattern}");
        assert!(
            !pattern.contains(".*") && !pattern.contains("\\*"),
            "{p}: no wildcard"
        );
    }
    assert_eq!(
        render(&t["Parameters"]["ActionFunctionArns"]["Type"]),
        "CommaDelimitedList"
    );
    assert_eq!(
        render(&t["Parameters"]["ActionAutomationDocuments"]["Type"]),
        "CommaDelimitedList"
    );
    assert_eq!(
        render(&t["Parameters"]["ActionAutomationRoleArn"]["Type"]),
        "String"
    );

    let granted = |deployed: &Deployment, function: &str| -> BTreeSet<String> {
        deployed
            .grants(&roles[function])
            .iter()
            .flat_map(|g| g.actions.clone())
            .collect()
    };
    let targets = |actions: &BTreeSet<String>| -> BTreeSet<String> {
        actions
            .iter()
            .filter(|a| {
                a.starts_with("ssm:") || *a == "lambda:InvokeFunction" || *a == "iam:PassRole"
            })
            .cloned()
            .collect()
    };
    let set = |actions: &[&str]| -> BTreeSet<String> {
        actions.iter().map(|a| (*a).to_owned()).collect()
    };

    let empty = Deployment::new(&t, &[]);
    assert_eq!(targets(&granted(&empty, "ActFunction")), set(&[]));
    assert_eq!(targets(&granted(&empty, "PollFunction")), set(&[]));
    assert_eq!(
        targets(&granted(&empty, "AdvanceFunction")),
        set(&["iam:PassRole"]),
        "the recovery instances' role only (launch's), no runbook"
    );
    assert_eq!(
        granted(&empty, "ActFunction"),
        set(&[
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "dynamodb:Query",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem"
        ]),
        "act still takes and records runs (a plan's action then fails as AccessDenied)"
    );

    let functions = ACTION_FUNCTIONS.join(",");
    let only_functions = Deployment::new(
        &t,
        &[
            ("ActionFunctionArns", functions.as_str()),
            ("ActionAutomationRoleArn", RUNBOOK_ROLE),
        ],
    );
    assert_eq!(
        targets(&granted(&only_functions, "ActFunction")),
        set(&["lambda:InvokeFunction"]),
        "no runbooks: no SSM, and the role is not passed"
    );
    assert_eq!(targets(&granted(&only_functions, "PollFunction")), set(&[]));

    let documents = ACTION_DOCUMENTS.join(",");
    let only_documents = Deployment::new(&t, &[("ActionAutomationDocuments", documents.as_str())]);
    assert_eq!(
        targets(&granted(&only_documents, "ActFunction")),
        set(&["ssm:StartAutomationExecution", "ssm:AddTagsToResource"]),
        "no role named: none passed"
    );
    assert_eq!(
        targets(&granted(&only_documents, "PollFunction")),
        set(&["ssm:GetAutomationExecution", "ssm:StopAutomationExecution"])
    );
    assert_eq!(
        targets(&granted(&only_documents, "AdvanceFunction")),
        set(&[
            "ssm:GetAutomationExecution",
            "ssm:StopAutomationExecution",
            "iam:PassRole"
        ])
    );

    let everything = listing(&t);
    assert_eq!(
        targets(&granted(&everything, "ActFunction")),
        set(&[
            "lambda:InvokeFunction",
            "ssm:StartAutomationExecution",
            "ssm:AddTagsToResource",
            "iam:PassRole"
        ])
    );
}

/// The resolver itself, on what the template already grants: launch's PassRole and cleanup's
/// termination resolve as written.
#[test]
fn the_resolver_reads_the_template_as_cloudformation_does() {
    let t = template();
    let roles = function_roles(&t);
    let deployed = Deployment::new(&t, &[]);
    let launch = deployed.grants(&roles["LaunchFunction"]);
    assert_eq!(
        resources_of(&granting(&launch, "iam:PassRole")),
        BTreeSet::from([format!(
            "arn:{PARTITION}:iam::{ACCOUNT}:role/service-role/AWSElasticDisasterRecoveryRecoveryInstance*"
        )])
    );
    let machine = deployed.grants("StateMachineRole");
    assert!(resources_of(&machine.iter().collect::<Vec<_>>()).contains("GetAtt ActFunction.Arn"));
    // The KMS grant follows its condition.
    let publish = |d: &Deployment| {
        d.grants(&roles["PublishFunction"])
            .iter()
            .any(|g| g.actions.iter().any(|a| a.starts_with("kms:")))
    };
    assert!(!publish(&deployed));
    let keyed = Deployment::new(
        &t,
        &[(
            "KmsKeyArn",
            "arn:aws:kms:eu-west-1:111122223333:key/0b7f5c0e-1111-2222-3333-444455556666",
        )],
    );
    assert!(publish(&keyed));
}
