//! The commands that operate executions on AWS, through the same route the Lambdas take
//! (`ops::run`), as the caller identity the AWS credentials stand for (STS GetCallerIdentity's
//! ARN: the actor of every event they record). Configuration: the standard AWS environment, plus
//! EXECUTIONS_TABLE (and STATUS_INDEX_NAME, STATE_MACHINE_ARN for `start`; MAX_WAVE_ATTEMPTS and
//! MAX_SERVERS_PER_JOB when the deployment changed them). With `--api URL` they send the same
//! requests to the stack's API instead (`api_client.rs`); either way [`Backend::answer`] yields
//! the operation's answer and one function per command prints it. Built with the `aws` feature
//! only.

use aws_adapters::{DrsService, DynamoDbStore, Settings, StepFunctionsWorkflow, SystemClock};
use aws_config::SdkConfig;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::Credentials;
use aws_sdk_sfn::config::ProvideCredentials;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityError;
use drs_sim::time_fmt::format_utc;
use execution_core::api::{
    self, AnswerClass, PauseRequest, Request, StartRequest, Target, WaveTarget,
};
use execution_core::audit::{Actor, AuditEvent};
use execution_core::error::OperationError;
use execution_core::ops::{self, Ports};
use execution_core::report::Report;
use execution_core::rules::Policy;
use serde_json::{json, Value};

use crate::api_client::{self, ApiUrl};
use crate::cli::{StartArgs, TargetArgs, WaveArgs};
use crate::exit::{print, print_json, CliError, Exit};
use crate::plan_file;
use crate::report::{
    record_and_trail, trail_line, whole_trail as trail_pages, Document, Format, Loaded,
};

/// The clients a command needs on the direct path, built once.
struct Aws {
    settings: Settings,
    store: DynamoDbStore,
    drs: DrsService,
    workflow: StepFunctionsWorkflow,
    policy: Policy,
    actor: Actor,
}

/// Where a command's requests go: the core's use case against the table and Step Functions
/// (`ops::run`, as the functions run it, as the caller identity), or the stack's API (`--api`,
/// where the actor is the IAM principal API Gateway authenticated). The answer has the same shape
/// either way.
enum Backend {
    Direct(Box<Aws>),
    Api(Box<api_client::Client>),
}

/// `--api` (or DRS_WAVES_API_URL), when given and not empty.
fn api_given(api: Option<&str>) -> Option<&str> {
    api.map(str::trim).filter(|a| !a.is_empty())
}

/// The backend `--api` asks for: checks the URL first (nothing is read before), then the
/// credentials and region (and for the direct path the table's configuration and the caller).
async fn connect(api: Option<&str>) -> Result<Backend, CliError> {
    let Some(raw) = api_given(api) else {
        return Ok(Backend::Direct(Box::new(connect_direct().await?)));
    };
    let url = ApiUrl::parse(raw)?;
    let config = aws_adapters::sdk_config().await;
    let credentials = credentials(&config).await?;
    // An execute-api host names its region: a request signed for another is refused.
    let region = match url.region() {
        Some(region) => region.to_owned(),
        None => config
            .region()
            .map(|r| r.as_ref().to_owned())
            .ok_or_else(|| CliError::invalid(NO_REGION))?,
    };
    let client = api_client::Client::new(url, credentials, region)?;
    Ok(Backend::Api(Box::new(client)))
}

impl Backend {
    /// `request`'s answer, as the function that serves it gives it: the success document or
    /// `{"statusCode", "error", "message"}`. An error is what stopped the request before it had
    /// an answer (configuration, the API unreachable or answering something else).
    async fn answer(&self, request: Request) -> Result<Value, CliError> {
        match self {
            Self::Direct(aws) => {
                let workflow = match &request {
                    Request::Start(_) => {
                        let arn = aws.settings.state_machine_arn.clone().ok_or_else(|| {
                            CliError::invalid(
                                "configuration: environment variable STATE_MACHINE_ARN is not set",
                            )
                        })?;
                        aws.workflow.clone().with_state_machine(arn)
                    }
                    _ => aws.workflow.clone(),
                };
                let ports = Ports::new(&aws.store, &SystemClock, &aws.policy)
                    .with_workflow(&workflow)
                    .with_drs(&aws.drs)
                    .with_locks(&aws.store);
                Ok(ops::run(&ports, request, aws.actor.clone()).await)
            }
            Self::Api(client) => client.answer(&request).await,
        }
    }
}

async fn connect_direct() -> Result<Aws, CliError> {
    let settings =
        Settings::from_env().map_err(|e| CliError::invalid(format!("configuration: {e}")))?;
    // The deployment's limits, as its functions have them: retry counts attempts as they do.
    let policy = settings.policy().clone();
    let config = sdk_config().await?;
    let actor = caller(&aws_sdk_sts::Client::new(&config)).await?;
    let store = DynamoDbStore::from_settings(&config, &settings);
    let workflow = StepFunctionsWorkflow::new(aws_sdk_sfn::Client::new(&config));
    let drs = DrsService::new(aws_sdk_drs::Client::new(&config));
    Ok(Aws {
        settings,
        store,
        drs,
        workflow,
        policy,
        actor,
    })
}

/// Who the command acts as: the ARN STS GetCallerIdentity answers for the credentials (one call
/// a command), recorded as the actor of every change the command makes.
async fn caller(sts: &aws_sdk_sts::Client) -> Result<Actor, CliError> {
    let identity = sts
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| caller_error(&e))?;
    match identity.arn().map(str::trim).filter(|a| !a.is_empty()) {
        Some(arn) => Ok(Actor::Cli(arn.to_owned())),
        None => Err(CliError::infrastructure(
            "cannot tell who the AWS credentials are: STS GetCallerIdentity answered without an ARN",
        )),
    }
}

/// One line, exit as the credentials errors: STS refusing the credentials (invalid, expired,
/// denied) is the caller's to fix (exit 2); a throttle, a 5xx, a timeout or no connection may pass
/// on a retry (exit 4).
fn caller_error<R>(e: &SdkError<GetCallerIdentityError, R>) -> CliError
where
    R: std::fmt::Debug,
{
    const WHAT: &str = "cannot tell who the AWS credentials are (STS GetCallerIdentity)";
    match e {
        SdkError::ServiceError(ctx) => {
            let err = ctx.err();
            let code = err.code().unwrap_or("error");
            let detail = match err.message() {
                Some(m) if !m.is_empty() => format!("{code}: {m}"),
                _ => code.to_owned(),
            };
            let transient = code.contains("Throttl")
                || matches!(
                    code,
                    "RequestLimitExceeded"
                        | "InternalFailure"
                        | "InternalError"
                        | "ServiceUnavailable"
                        | "RequestTimeout"
                );
            if transient {
                CliError::infrastructure(format!("{WHAT}, retrying may help: {}", flat(&detail)))
            } else {
                CliError::invalid(format!("{WHAT}: AWS refused them: {}", flat(&detail)))
            }
        }
        _ => CliError::infrastructure(format!(
            "{WHAT}, retrying may help: {}",
            flat(&DisplayErrorContext(e).to_string())
        )),
    }
}

/// `text` on one line.
pub(crate) fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

const NO_CREDENTIALS: &str = "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run `aws sso login`";
const NO_REGION: &str =
    "no AWS region set: set AWS_REGION (e.g. AWS_REGION=us-east-1), or give your AWS profile a region";

/// The SDK configuration from the standard AWS environment, once it is known to have credentials
/// and a region: without them, the first call would fail with a page of the SDK's dispatch error
/// (and exit 4) instead of one line saying what to set (exit 2).
pub async fn sdk_config() -> Result<SdkConfig, CliError> {
    let config = aws_adapters::sdk_config().await;
    ready(&config).await?;
    Ok(config)
}

/// Asks the credentials provider once (the clients ask it again: nothing is cached in between),
/// then checks the region.
async fn ready(config: &SdkConfig) -> Result<(), CliError> {
    credentials(config).await?;
    if config.region().is_none() {
        return Err(CliError::invalid(NO_REGION));
    }
    Ok(())
}

/// The credentials the configuration gives, or one line saying what to fix.
async fn credentials(config: &SdkConfig) -> Result<Credentials, CliError> {
    let provider = config
        .credentials_provider()
        .ok_or_else(|| CliError::invalid(NO_CREDENTIALS))?;
    provider.provide_credentials().await.map_err(|e| {
        let profile = std::env::var("AWS_PROFILE").ok();
        credentials_error(&e, profile.as_deref().filter(|p| !p.trim().is_empty()))
    })
}

/// Nothing configured, or configured wrong (an expired SSO token is a provider error), is the
/// caller's to fix (exit 2); a provider that timed out or failed unexpectedly may do better on a
/// retry (exit 4). One line either way. `profile`: AWS_PROFILE, when set.
fn credentials_error(e: &CredentialsError, profile: Option<&str>) -> CliError {
    let detail = || one_line(e);
    match e {
        CredentialsError::CredentialsNotLoaded(_) => match profile {
            Some(profile) => CliError::invalid(format!(
                "no AWS credentials found for profile `{profile}` (AWS_PROFILE): define it in ~/.aws/config or run `aws sso login --profile {profile}`, or unset AWS_PROFILE and set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )),
            None => CliError::invalid(NO_CREDENTIALS),
        },
        CredentialsError::InvalidConfiguration(_) | CredentialsError::ProviderError(_) => {
            CliError::invalid(format!("AWS credentials could not be loaded: {}", detail()))
        }
        _ => CliError::infrastructure(format!(
            "AWS credentials could not be loaded (retrying may help): {}",
            detail()
        )),
    }
}

/// An error and its sources, `: `-separated, on one line.
pub(crate) fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    flat(&text)
}

/// As `AnswerClass` says: a refusal is the caller's to fix (exit 2); an internal error or a
/// conflict may pass on a retry (exit 4).
fn op_error(e: OperationError) -> CliError {
    let message = format!("{} {}: {e}", e.status_code(), e.code());
    CliError {
        exit: Exit::for_class(AnswerClass::of(e.status_code(), Some(e.code()))),
        message,
    }
}

/// The core's start (`ops::run`, as the API's `POST /executions`): the execution is created
/// PENDING and its state machine run started, named after it; when the run cannot start, the
/// core cancels the new execution and says so (or how to clear it).
pub async fn start(args: StartArgs, api: Option<&str>, json: bool) -> Result<Exit, CliError> {
    let plan = plan_file::load(&args.plan)?;
    let problems = plan.problems();
    if !problems.is_empty() {
        return Err(plan_file::problems_error(&args.plan, &problems));
    }
    let backend = connect(api).await?;
    let (plan_id, waves) = (plan.plan_id, plan.waves.len());
    let request = Request::Start(StartRequest {
        plan: Box::new(plan),
        execution_id: None,
        poll_interval_seconds: args.poll_interval,
    });
    let mut answer = backend.answer(request).await?;
    if api::status_code_of(&answer) != 200 {
        return refused(&answer, json);
    }
    let id = answer["executionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let run = answer["workflowRun"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if json {
        // The API's answer, and the run's ARN under the name drctl gave it before.
        answer["stateMachineExecutionArn"] = Value::String(run);
        print_json(&answer)?;
    } else {
        print(&format!(
            "Started execution {id} of plan {plan_id} ({waves} waves): {run}\n{}Follow it with: drctl status {id} --plan {plan_id} (its trail: drctl events {id} --plan {plan_id})\n",
            preflight_lines(&answer)
        ))?;
    }
    Ok(Exit::Success)
}

/// The record as `get` answers it (no task token), and its whole trail: the same report as a
/// drill's end and `drctl report` (text or JSON).
pub async fn status(args: TargetArgs, api: Option<&str>, json: bool) -> Result<Exit, CliError> {
    let target = Target {
        execution_id: args.execution_id,
        plan_id: args.plan_id,
    };
    let (execution, events) = match fetch(target, api).await? {
        Ok(found) => found,
        Err(answer) => return refused(&answer, json),
    };
    let report = Document::of(Report::build(&execution, &events));
    print(&report.render(if json { Format::Json } else { Format::Text }))?;
    Ok(Exit::Success)
}

/// The record as `get` answers it and its whole trail (`events`, every page), through the table
/// or, with `--api`, the stack's API: what `status` and `drctl report` show. An error answer is
/// handed back as it is, to be shown and exited on.
pub async fn fetch(target: Target, api: Option<&str>) -> Result<Loaded, CliError> {
    let backend = connect(api).await?;
    record_and_trail(async |request| backend.answer(request).await, target).await
}

/// The execution's trail, oldest first, every page (`events` through `ops::run` or the API).
pub async fn events(args: TargetArgs, api: Option<&str>, json: bool) -> Result<Exit, CliError> {
    let backend = connect(api).await?;
    let target = Target {
        execution_id: args.execution_id,
        plan_id: args.plan_id,
    };
    let events = match whole_trail(&backend, target).await? {
        Ok(events) => events,
        Err(answer) => return refused(&answer, json),
    };
    if json {
        print_json(&json!({
            "statusCode": 200,
            "executionId": target.execution_id,
            "events": events,
        }))?;
    } else {
        let mut text = format!(
            "Execution {} of plan {}: {}\n",
            target.execution_id,
            target.plan_id,
            crate::text::count(events.len() as u64, "event", "events")
        );
        for e in &events {
            text.push_str(&trail_line(&format_utc(e.time.secs()), e));
            text.push('\n');
        }
        print(&text)?;
    }
    Ok(Exit::Success)
}

/// Every page of `target`'s trail: `events` (through `ops::run` or the API), following
/// `nextToken` to the end. An error answer (404, 5xx, ...) is handed back as it is, to be shown
/// and exited on; the outer error is a request that had no answer.
async fn whole_trail(
    backend: &Backend,
    target: Target,
) -> Result<Result<Vec<AuditEvent>, Value>, CliError> {
    trail_pages(async |request| backend.answer(request).await, target).await
}

/// An operation's error answer: as it is with `--json`, else one line on stderr; the exit code by
/// its class.
fn refused(answer: &Value, json: bool) -> Result<Exit, CliError> {
    if json {
        print_json(answer)?;
    } else {
        let listed = answer["problems"].as_array().is_some_and(|p| !p.is_empty());
        let message = if listed {
            // The message lists them too, on one line: here they get a line each.
            "pre-flight refused the start; nothing was created or launched".to_owned()
        } else {
            crate::text::clean(answer["message"].as_str().unwrap_or("")).into_owned()
        };
        eprintln!(
            "drctl: {} {}: {message}",
            api::status_code_of(answer),
            answer["error"].as_str().unwrap_or("ERROR"),
        );
        eprint!("{}", preflight_lines(answer));
    }
    Ok(Exit::for_answer(answer))
}

/// A pre-flight's problems and warnings, one line each (a refused or warned start).
fn preflight_lines(answer: &Value) -> String {
    let mut out = String::new();
    for (field, label) in [("problems", "problem"), ("warnings", "warning")] {
        for item in answer[field].as_array().into_iter().flatten() {
            let message = item["message"].as_str().unwrap_or_default();
            out.push_str(&format!("  {label}: {}\n", crate::text::clean(message)));
        }
    }
    out
}

#[derive(Debug, Clone, Copy)]
pub enum Op {
    Pause,
    Resume,
    Cancel,
    Cleanup,
}

/// pause, resume, cancel or cleanup, answered exactly as the Lambda (or API) would answer.
pub async fn operate(
    op: Op,
    args: TargetArgs,
    api: Option<&str>,
    json: bool,
) -> Result<Exit, CliError> {
    let target = Target {
        execution_id: args.execution_id,
        plan_id: args.plan_id,
    };
    let request = match op {
        Op::Pause => Request::Pause(PauseRequest {
            target,
            task_token: None,
        }),
        Op::Resume => Request::Resume(target),
        Op::Cancel => Request::Cancel(target),
        Op::Cleanup => Request::Cleanup(target),
    };
    run(request, api, json).await
}

#[derive(Debug, Clone, Copy)]
pub enum Decision {
    Retry,
    Skip,
}

/// retry or skip of a failed wave, answered exactly as the Lambda (or API) would answer.
pub async fn decide(
    decision: Decision,
    args: WaveArgs,
    api: Option<&str>,
    json: bool,
) -> Result<Exit, CliError> {
    let on = WaveTarget {
        target: Target {
            execution_id: args.execution_id,
            plan_id: args.plan_id,
        },
        wave_number: args.wave_number,
    };
    let request = match decision {
        Decision::Retry => Request::Retry(on),
        Decision::Skip => Request::Skip(on),
    };
    run(request, api, json).await
}

/// A new workflow run for an execution whose run has ended, as find's healing starts one (but not
/// limited to three an hour: the operator decides), recorded in the trail as the caller's
/// `restart`. The API has no route for it: with `--api` it is refused rather than sent around
/// the API with other permissions than the caller meant to use.
pub async fn restart(args: TargetArgs, api: Option<&str>, json: bool) -> Result<Exit, CliError> {
    if api_given(api).is_some() {
        return Err(CliError::invalid(NO_RESTART_ROUTE));
    }
    let aws = connect_direct().await?;
    let arn = aws.settings.state_machine_arn.clone().ok_or_else(|| {
        CliError::invalid("configuration: environment variable STATE_MACHINE_ARN is not set")
    })?;
    let workflow = aws.workflow.clone().with_state_machine(arn);
    let target = Target {
        execution_id: args.execution_id,
        plan_id: args.plan_id,
    };
    // Not an operation of `ops::run`: its change is recorded through the same audited store.
    let store = ops::Audited::new(&aws.store, &SystemClock, aws.actor.clone(), "restart");
    let done = ops::heal::restart(
        &store,
        &workflow,
        &SystemClock,
        &target,
        ops::heal::RestartBy::Operator,
    )
    .await
    .map_err(op_error)?;
    let (run, name) = match done {
        ops::heal::Restarted::Run { run, name } => (run, name),
        ops::heal::Restarted::OperatorNeeded => {
            return Err(CliError::invalid("restart refused: an operator is needed"))
        }
    };
    if json {
        print_json(&serde_json::json!({
            "statusCode": 200,
            "executionId": target.execution_id,
            "workflowRun": run,
            "name": name,
        }))?;
    } else {
        print(&format!(
            "Execution {}: restarted as {name} ({run})\n",
            target.execution_id
        ))?;
    }
    Ok(Exit::Success)
}

/// Takes the holds of every active execution that lacks them (`ops::backfill_holds`): the step
/// after upgrading from a version without holds. Like restart, not a route of the API.
pub async fn backfill_holds(api: Option<&str>, json: bool) -> Result<Exit, CliError> {
    if api_given(api).is_some() {
        return Err(CliError::invalid(
            "backfill-holds has no route in the API: run it without --api, with credentials allowed the executions table",
        ));
    }
    let aws = connect_direct().await?;
    let done = ops::backfill_holds(&aws.store, &aws.store, &SystemClock)
        .await
        .map_err(op_error)?;
    let contested = done.iter().any(|d| !d.held_by_others.is_empty() || d.raced);
    if json {
        print_json(&json!({"statusCode": 200, "executions": done}))?;
    } else {
        let mut text = String::new();
        for d in &done {
            text.push_str(&format!(
                "Execution {}: {} holds taken, {} held already\n",
                d.execution_id, d.taken, d.held
            ));
            for (server, other) in &d.held_by_others {
                text.push_str(&format!(
                    "  server {server} is held by execution {other} as well: cancel one of them\n"
                ));
            }
            if d.raced {
                text.push_str("  another writer raced this call: run it again\n");
            }
        }
        if done.is_empty() {
            text.push_str("No active execution.\n");
        }
        print(&text)?;
    }
    Ok(if contested {
        Exit::Invalid
    } else {
        Exit::Success
    })
}

/// What `restart` answers with `--api`.
const NO_RESTART_ROUTE: &str = "restart has no route in the API: run it without --api (and with DRS_WAVES_API_URL unset or empty), with credentials allowed the executions table and the state machine";

/// Runs one operator operation (through `ops::run` or the API) and prints its answer.
async fn run(request: Request, api: Option<&str>, json: bool) -> Result<Exit, CliError> {
    let execution_id = request.execution_id();
    let backend = connect(api).await?;
    let answer: Value = backend.answer(request).await?;
    if api::status_code_of(&answer) != 200 {
        return refused(&answer, json);
    }
    if json {
        print_json(&answer)?;
    } else {
        print(&format!(
            "Execution {}: {}\n",
            execution_id.map(|e| e.to_string()).unwrap_or_default(),
            summary(&answer)
        ))?;
    }
    Ok(Exit::for_answer(&answer))
}

/// One line for a success: `PAUSED (before wave 1)`, `POLLING (wave 1 LAUNCHING, attempt 2)`.
fn summary(answer: &Value) -> String {
    let status = answer["status"].as_str().unwrap_or("?");
    let number = |field: &str| answer.get(field).and_then(Value::as_u64);
    let detail = if let Some(n) = number("pausedBeforeWave").or_else(|| number("resumedBeforeWave"))
    {
        format!(" (before wave {n})")
    } else if let Some(n) = number("failedWave") {
        format!(" (wave {n} FAILED: decide with retry, skip or cancel)")
    } else if let (Some(n), Some(wave_status)) =
        (number("waveNumber"), answer["waveStatus"].as_str())
    {
        let attempt = number("attempt")
            .map(|a| format!(", attempt {a}"))
            .unwrap_or_default();
        format!(" (wave {n} {wave_status}{attempt})")
    } else if let Some(message) = answer["message"].as_str() {
        // cleanup says in a sentence what it did and what is left.
        format!(": {}", crate::text::clean(message))
    } else {
        String::new()
    };
    format!("{status}{detail}")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_config::Region;
    use aws_credential_types::credential_fn::provide_credentials_fn;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;

    use super::*;

    fn config(credentials: Result<(), CredentialsError>, region: bool) -> SdkConfig {
        let answer = std::sync::Mutex::new(Some(credentials));
        let provider = provide_credentials_fn(move || {
            let answer = answer.lock().unwrap().take().unwrap();
            async move { answer.map(|()| Credentials::new("id", "secret", None, None, "test")) }
        });
        SdkConfig::builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .region(region.then(|| Region::new("eu-west-1")))
            .build()
    }

    fn sts(rule: &aws_smithy_mocks::Rule) -> aws_sdk_sts::Client {
        let conf = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sts::config::Credentials::new(
                "test", "test", None, None, "mock",
            ))
            .retry_config(aws_sdk_sts::config::retry::RetryConfig::disabled())
            .http_client(aws_smithy_mocks::create_mock_http_client())
            .interceptor(
                aws_smithy_mocks::MockResponseInterceptor::new()
                    .rule_mode(aws_smithy_mocks::RuleMode::MatchAny)
                    .with_rule(rule),
            )
            .build();
        aws_sdk_sts::Client::from_conf(conf)
    }

    /// STS's own error document, with `status`.
    fn sts_error(status: u16, code: &'static str, message: &'static str) -> aws_smithy_mocks::Rule {
        let body = format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
        );
        aws_smithy_mocks::mock!(aws_sdk_sts::Client::get_caller_identity)
            .sequence()
            .http_status(status, Some(body))
            .build()
    }

    #[tokio::test]
    async fn the_actor_is_the_caller_identity_s_arn() {
        use aws_sdk_sts::operation::get_caller_identity::GetCallerIdentityOutput;
        let rule =
            aws_smithy_mocks::mock!(aws_sdk_sts::Client::get_caller_identity).then_output(|| {
                GetCallerIdentityOutput::builder()
                    .arn("arn:aws:sts::123456789012:assumed-role/dr-operator/alice")
                    .account("123456789012")
                    .user_id("AROAEXAMPLE:alice")
                    .build()
            });
        let client = sts(&rule);
        assert_eq!(
            caller(&client).await,
            Ok(Actor::Cli(
                "arn:aws:sts::123456789012:assumed-role/dr-operator/alice".to_owned()
            ))
        );
        assert_eq!(rule.num_calls(), 1, "one call a command");

        let no_arn = aws_smithy_mocks::mock!(aws_sdk_sts::Client::get_caller_identity)
            .then_output(|| GetCallerIdentityOutput::builder().build());
        let e = caller(&sts(&no_arn)).await.unwrap_err();
        assert_eq!(e.exit, Exit::Infrastructure);
        assert!(e.message.contains("without an ARN"), "{}", e.message);
    }

    #[tokio::test]
    async fn credentials_sts_refuses_are_one_line_exit_2() {
        let rule = sts_error(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is\ninvalid.",
        );
        let e = caller(&sts(&rule)).await.unwrap_err();
        assert_eq!(
            e,
            CliError::invalid(
                "cannot tell who the AWS credentials are (STS GetCallerIdentity): AWS refused them: InvalidClientTokenId: The security token included in the request is invalid."
            )
        );
        let rule = sts_error(
            400,
            "ExpiredToken",
            "The security token included in the request is expired",
        );
        let e = caller(&sts(&rule)).await.unwrap_err();
        assert_eq!(e.exit, Exit::Invalid);
        assert!(e.message.contains("ExpiredToken"), "{}", e.message);
    }

    #[tokio::test]
    async fn an_sts_that_fails_for_now_is_one_line_exit_4() {
        for rule in [
            sts_error(400, "Throttling", "Rate exceeded"),
            sts_error(503, "ServiceUnavailable", "try again"),
        ] {
            let e = caller(&sts(&rule)).await.unwrap_err();
            assert_eq!(e.exit, Exit::Infrastructure, "{}", e.message);
            assert!(
                e.message.contains("retrying may help") && !e.message.contains('\n'),
                "{}",
                e.message
            );
        }
    }

    #[tokio::test]
    async fn credentials_and_a_region_are_ready() {
        assert_eq!(ready(&config(Ok(()), true)).await, Ok(()));
    }

    #[tokio::test]
    async fn no_credentials_or_no_region_is_one_line_exit_2() {
        let e = ready(&config(Err(CredentialsError::not_loaded_no_source()), true))
            .await
            .unwrap_err();
        assert_eq!(e, CliError::invalid(NO_CREDENTIALS));
        // Both missing: the credentials are named first.
        let e = ready(&config(
            Err(CredentialsError::not_loaded_no_source()),
            false,
        ))
        .await
        .unwrap_err();
        assert_eq!(e, CliError::invalid(NO_CREDENTIALS));
        let e = ready(&config(Ok(()), false)).await.unwrap_err();
        assert_eq!(e, CliError::invalid(NO_REGION));
        let no_provider = SdkConfig::builder()
            .region(Region::new("eu-west-1"))
            .build();
        assert_eq!(
            ready(&no_provider).await.unwrap_err(),
            CliError::invalid(NO_CREDENTIALS)
        );
    }

    #[test]
    fn a_credentials_error_says_what_to_fix_on_one_line() {
        let e = credentials_error(&CredentialsError::not_loaded("chain\nof providers"), None);
        assert_eq!(e, CliError::invalid(NO_CREDENTIALS));
        let e = credentials_error(&CredentialsError::not_loaded_no_source(), Some("ops"));
        assert_eq!(e.exit, Exit::Invalid);
        assert!(
            e.message
                .starts_with("no AWS credentials found for profile `ops` (AWS_PROFILE)")
                && e.message.contains("aws sso login --profile ops"),
            "{}",
            e.message
        );

        let e = credentials_error(
            &CredentialsError::provider_error("the SSO token has\nexpired"),
            None,
        );
        assert_eq!(
            e,
            CliError::invalid(
                "AWS credentials could not be loaded: an error occurred while loading credentials: the SSO token has expired"
            )
        );
        let e = credentials_error(
            &CredentialsError::invalid_configuration("bad profile"),
            None,
        );
        assert_eq!(e.exit, Exit::Invalid);
        assert!(e.message.ends_with(": bad profile"), "{}", e.message);

        let e = credentials_error(
            &CredentialsError::provider_timed_out(Duration::from_secs(5)),
            None,
        );
        assert_eq!(e.exit, Exit::Infrastructure);
        assert!(
            e.message.contains("timed out after 5 seconds"),
            "{}",
            e.message
        );
        let e = credentials_error(&CredentialsError::unhandled("no secret key"), None);
        assert_eq!(e.exit, Exit::Infrastructure);
        assert!(e.message.ends_with(": no secret key"), "{}", e.message);
    }
}
