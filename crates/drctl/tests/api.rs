//! The AWS commands through the stack's API (`--api URL`, DRS_WAVES_API_URL): against a local
//! HTTP server that records each request and answers what the engine would. The answers are the
//! core's own (`drctl invoke` on examples/world.json goes through `ops::run`, as the direct path
//! does), so what drctl prints from the API is what it prints from the table. No AWS, no moto:
//! fixed credentials, nothing else configured (no table, no state machine).
#![cfg(feature = "aws")]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{drctl_with, example, Run};
use serde_json::{json, Value};

const PAUSED_FAILED: &str = "5f3e2d1c-0b9a-4c8d-9e7f-6a5b4c3d2e1f";
const PAUSED_FAILED_PLAN: &str = "4c3b2a19-8f7e-4d6c-9b5a-3f2e1d0c9b8a";
const POLLING: &str = "0a7e6b1c-3d2f-4e5a-9b8c-7d6e5f4a3b21";
const POLLING_PLAN: &str = "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const PLANNED_PAUSE: &str = "1b8f7c2d-4e3a-4b6c-8d9e-0f1a2b3c4d5e";
const PLANNED_PAUSE_PLAN: &str = "6d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
/// SHA-256 of nothing: the `x-amz-content-sha256` of a GET.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// What the server answers to one request.
struct Canned {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

/// The engine's answer, with its status as the HTTP status (as lambda-shell answers).
fn engine(answer: &Value) -> Canned {
    Canned {
        status: answer["statusCode"].as_u64().unwrap() as u16,
        content_type: "application/json",
        headers: vec![],
        body: answer.to_string(),
    }
}

/// A local API: answers the canned answers in order, one connection each, recording every
/// request before answering it (so all are recorded once drctl has exited).
struct FakeApi {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeApi {
    fn serve(answers: Vec<Canned>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/v1",
            listener.local_addr().unwrap().port()
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for canned in answers {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut parts = line.split_whitespace();
                let (method, target) = (
                    parts.next().unwrap_or_default().to_owned(),
                    parts.next().unwrap_or_default().to_owned(),
                );
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let (name, value) = line.split_once(':').unwrap();
                    headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                }
                let length = headers
                    .iter()
                    .find(|(n, _)| n == "content-length")
                    .map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                recorded.lock().unwrap().push(Recorded {
                    method,
                    target,
                    headers,
                    body,
                });
                let mut response = format!(
                    "HTTP/1.1 {} Whatever\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                    canned.status,
                    canned.content_type,
                    canned.body.len()
                );
                for (name, value) in &canned.headers {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&canned.body);
                let mut stream = stream;
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The one request drctl sent.
    fn only(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        requests[0].clone()
    }
}

const KEY_ID: &str = "AKIDAPITESTEXAMPLE";

/// drctl with fixed credentials and a region, and nothing else of AWS configured: no table, no
/// state machine, no profile, an empty HOME.
fn drctl_api(args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_drctl"))
        .args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", "api-test-secret")
        .env("AWS_REGION", "eu-west-2")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The core's answer to `payload` on (a copy of) `world`, as the direct path gets it from
/// `ops::run`; `--write` keeps the change.
fn core_answer(world: &std::path::Path, payload: Value, write: bool) -> Value {
    let payload = payload.to_string();
    let world = world.to_str().unwrap();
    let mut args = vec!["invoke", "--world", world, payload.as_str()];
    if write {
        args.push("--write");
    }
    drctl_with(&args, &[], None).json()
}

fn world_copy() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("world.json");
    std::fs::copy(example("world.json"), &path).unwrap();
    (dir, path)
}

/// Signed with SigV4 for execute-api in the configuration's region, with the body's hash.
fn assert_signed(request: &Recorded) {
    let authorization = request.header("authorization").unwrap_or_default();
    let scope = format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/");
    assert!(
        authorization.starts_with(&scope)
            && authorization.contains("/eu-west-2/execute-api/aws4_request, SignedHeaders=")
            && authorization.contains("Signature="),
        "{authorization}"
    );
    let signed = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    for header in ["host", "x-amz-content-sha256", "x-amz-date"] {
        assert!(signed.split(';').any(|h| h == header), "{header}: {signed}");
    }
    let date = request.header("x-amz-date").unwrap();
    assert!(date.len() == 16 && date.ends_with('Z'), "{date}");
    let hash = request.header("x-amz-content-sha256").unwrap();
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{hash}"
    );
    if request.body.is_empty() {
        assert_eq!(hash, EMPTY_SHA256);
    } else {
        assert_eq!(request.header("content-type"), Some("application/json"));
    }
    assert_eq!(request.header("x-amz-security-token"), None);
}

/// pause, resume, cancel, retry and skip post their route with `{"planId"}` (and
/// `waveNumber`), signed; `--json` prints the engine's answer as the direct path does, and the
/// text is the direct path's line.
#[test]
fn operator_calls_post_their_route_and_print_as_the_direct_path() {
    let world = example("world.json");
    let cases: [(&str, &str, &str, Option<u32>, &str); 5] = [
        (
            "pause",
            POLLING,
            POLLING_PLAN,
            None,
            "PAUSED (before wave 1)",
        ),
        (
            "resume",
            PLANNED_PAUSE,
            PLANNED_PAUSE_PLAN,
            None,
            "POLLING (before wave 1)",
        ),
        ("cancel", POLLING, POLLING_PLAN, None, "CANCELLING"),
        (
            "retry",
            PAUSED_FAILED,
            PAUSED_FAILED_PLAN,
            Some(1),
            "POLLING (wave 1 LAUNCHING, attempt 2)",
        ),
        (
            "skip",
            PAUSED_FAILED,
            PAUSED_FAILED_PLAN,
            Some(1),
            "POLLING (wave 1 SKIPPED, attempt 1)",
        ),
    ];
    for (op, id, plan, wave, line) in cases {
        let mut payload = json!({"operation": op, "executionId": id, "planId": plan});
        let mut args = vec![op, id, "--plan", plan];
        let wave_arg = wave.map(|w| w.to_string());
        if let Some(w) = &wave_arg {
            payload["waveNumber"] = json!(wave);
            args.extend(["--wave", w.as_str()]);
        }
        let answer = core_answer(&world, payload, false);
        assert_eq!(answer["statusCode"], 200, "{op}: {answer}");

        let api = FakeApi::serve(vec![engine(&answer), engine(&answer)]);
        let mut with_api = vec!["--api", api.url.as_str()];
        with_api.extend(&args);
        let text = drctl_api(&with_api, &[]);
        assert_eq!(text.code, 0, "{op}: {}", text.stderr);
        assert_eq!(text.stdout, format!("Execution {id}: {line}\n"), "{op}");
        with_api.push("--json");
        let json = drctl_api(&with_api, &[]);
        assert_eq!(json.code, 0, "{op}: {}", json.stderr);
        assert_eq!(json.json(), answer, "{op}");

        let requests = api.requests();
        assert_eq!(requests.len(), 2, "{op}");
        for request in &requests {
            assert_eq!(request.method, "POST", "{op}");
            assert_eq!(request.target, format!("/v1/executions/{id}/{op}"), "{op}");
            let mut body = json!({"planId": plan});
            if wave.is_some() {
                body["waveNumber"] = json!(wave);
            }
            assert_eq!(request.json(), body, "{op}");
            assert_signed(request);
        }
    }
}

/// start posts the plan document (query pollIntervalSeconds) and prints what the direct path
/// prints for the same answer.
#[test]
fn start_posts_the_plan_document() {
    let id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    let plan_id = "4f9c2a1e-7b3d-4c5e-9f60-1a2b3c4d5e6f";
    let run = format!("arn:aws:states:eu-west-2:123456789012:execution:drs-waves:{id}");
    let answer = json!({"statusCode": 200, "executionId": id, "planId": plan_id, "status": "PENDING", "workflowRun": run});
    let api = FakeApi::serve(vec![engine(&answer), engine(&answer)]);
    let plan = example("three-tier.json");
    let plan = plan.to_str().unwrap();

    let text = drctl_api(
        &["--api", &api.url, "start", plan, "--poll-interval", "15"],
        &[],
    );
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert_eq!(
        text.stdout,
        format!("Started execution {id} of plan {plan_id} (3 waves): {run}\nFollow it with: drctl status {id} --plan {plan_id} (its trail: drctl events {id} --plan {plan_id})\n")
    );
    let json = drctl_api(&["--api", &api.url, "start", plan, "--json"], &[]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    let mut printed = answer.clone();
    printed["stateMachineExecutionArn"] = json!(run);
    assert_eq!(json.json(), printed);

    let requests = api.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].target, "/v1/executions?pollIntervalSeconds=15");
    assert_eq!(requests[1].target, "/v1/executions");
    let file: execution_core::plan::Plan =
        serde_json::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    for request in &requests {
        let sent: execution_core::plan::Plan = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent, file);
        assert_signed(request);
    }
}

/// An execution of the world with a trail of `n` events or more (its moves written back).
fn with_a_trail(world: &std::path::Path) -> Value {
    let target = json!({"executionId": POLLING, "planId": POLLING_PLAN});
    for op in ["pause", "resume", "pause"] {
        let mut payload = target.clone();
        payload["operation"] = json!(op);
        let answer = core_answer(world, payload, true);
        assert_eq!(answer["statusCode"], 200, "{op}: {answer}");
    }
    let mut payload = target;
    payload["operation"] = json!("events");
    let answer = core_answer(world, payload, false);
    assert!(answer["events"].as_array().unwrap().len() >= 3, "{answer}");
    answer
}

/// The trail in two pages: the first ends with `token`.
fn two_pages(all: &Value, token: &str) -> (Value, Value) {
    let events = all["events"].as_array().unwrap();
    let mut first = all.clone();
    first["events"] = json!(events[..1]);
    first["nextToken"] = json!(token);
    let mut second = all.clone();
    second["events"] = json!(events[1..]);
    (first, second)
}

/// events reads every page (`nextToken` percent-encoded in the query) and prints the whole trail
/// as the direct path does.
#[test]
fn events_follows_every_page() {
    let (_dir, world) = world_copy();
    let all = with_a_trail(&world);
    let token = "page 2/+=";
    let (first, second) = two_pages(&all, token);
    let api = FakeApi::serve(vec![
        engine(&first),
        engine(&second),
        engine(&first),
        engine(&second),
    ]);
    let args = ["--api", &api.url, "events", POLLING, "--plan", POLLING_PLAN];
    let json = drctl_api(&[&args[..], &["--json"]].concat(), &[]);
    assert_eq!(json.code, 0, "{}", json.stderr);
    // The direct path prints the whole trail as one answer: the core's single page.
    assert_eq!(json.json(), all);
    let text = drctl_api(&args, &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let n = all["events"].as_array().unwrap().len();
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!("Execution {POLLING} of plan {POLLING_PLAN}: {n} events")
    );
    assert_eq!(lines.len(), n + 1, "{}", text.stdout);
    assert!(
        lines[2].ends_with(
            "[resume by drctl as local] Execution moved from PAUSED to POLLING (resume)."
        ),
        "{}",
        text.stdout
    );

    let requests = api.requests();
    assert_eq!(requests.len(), 4);
    let path = format!("/v1/executions/{POLLING}/events?planId={POLLING_PLAN}");
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(request.method, "GET");
        let expected = if i % 2 == 0 {
            path.clone()
        } else {
            format!("{path}&nextToken=page%202%2F%2B%3D")
        };
        assert_eq!(request.target, expected);
        assert!(request.body.is_empty());
        assert_signed(request);
    }
}

/// status reads the record (`GET /executions/{id}`) and its whole trail, and reports it.
#[test]
fn status_reads_the_record_and_its_trail() {
    let (_dir, world) = world_copy();
    let all = with_a_trail(&world);
    let get = core_answer(
        &world,
        json!({"operation": "get", "executionId": POLLING, "planId": POLLING_PLAN}),
        false,
    );
    assert_eq!(get["statusCode"], 200, "{get}");
    let (first, second) = two_pages(&all, "2");
    let api = FakeApi::serve(vec![
        engine(&get),
        engine(&first),
        engine(&second),
        engine(&get),
        engine(&all),
    ]);
    let args = ["--api", &api.url, "status", POLLING, "--plan", POLLING_PLAN];
    let report = drctl_api(&[&args[..], &["--json"]].concat(), &[]);
    assert_eq!(report.code, 0, "{}", report.stderr);
    let report = report.json();
    assert_eq!(report["executionId"], POLLING);
    assert_eq!(report["status"], "PAUSED");
    assert_eq!(report["pauseReason"], "OPERATOR", "{report}");
    assert_eq!(report["events"], all["events"]);
    let text = drctl_api(&args, &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let n = all["events"].as_array().unwrap().len();
    assert!(
        text.stdout
            .starts_with(&format!("Execution {POLLING} of plan ")),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains(&format!("Trail ({n} events, oldest first):")),
        "{}",
        text.stdout
    );

    let targets: Vec<String> = api.requests().iter().map(|r| r.target.clone()).collect();
    let record = format!("/v1/executions/{POLLING}?planId={POLLING_PLAN}");
    let trail = format!("/v1/executions/{POLLING}/events?planId={POLLING_PLAN}");
    assert_eq!(
        targets,
        [
            record.clone(),
            trail.clone(),
            format!("{trail}&nextToken=2"),
            record,
            trail
        ]
    );
    for request in api.requests() {
        assert_eq!(request.method, "GET");
        assert_signed(&request);
    }
}

/// Temporary credentials: the session token goes along, signed.
#[test]
fn a_session_token_is_sent_and_signed() {
    let answer = core_answer(
        &example("world.json"),
        json!({"operation": "cancel", "executionId": POLLING, "planId": POLLING_PLAN}),
        false,
    );
    let api = FakeApi::serve(vec![engine(&answer)]);
    let run = drctl_api(
        &["--api", &api.url, "cancel", POLLING, "--plan", POLLING_PLAN],
        &[("AWS_SESSION_TOKEN", "session-token-example")],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let request = api.only();
    assert_eq!(
        request.header("x-amz-security-token"),
        Some("session-token-example")
    );
    let authorization = request.header("authorization").unwrap();
    assert!(
        authorization.contains("x-amz-security-token"),
        "{authorization}"
    );
}

/// The engine's refusals exit as on the direct path (by their class), printed the same way.
#[test]
fn an_error_answer_exits_by_its_class() {
    let refusal = core_answer(
        &example("world.json"),
        json!({"operation": "retry", "executionId": PAUSED_FAILED, "planId": PAUSED_FAILED_PLAN, "waveNumber": 2}),
        false,
    );
    assert_eq!(refusal["statusCode"], 400, "{refusal}");
    let not_found = core_answer(
        &example("world.json"),
        json!({"operation": "retry", "executionId": PAUSED_FAILED, "planId": POLLING_PLAN, "waveNumber": 1}),
        false,
    );
    assert_eq!(not_found["statusCode"], 404, "{not_found}");
    let internal =
        json!({"statusCode": 500, "error": "INTERNAL_ERROR", "message": "the store failed"});
    let conflict =
        json!({"statusCode": 409, "error": "CONFLICT", "message": "the record kept changing"});
    for (answer, exit) in [(refusal, 2), (not_found, 2), (internal, 4), (conflict, 4)] {
        let api = FakeApi::serve(vec![engine(&answer), engine(&answer)]);
        let args = [
            "--api",
            &api.url,
            "retry",
            PAUSED_FAILED,
            "--plan",
            PAUSED_FAILED_PLAN,
            "--wave",
            "2",
        ];
        let text = drctl_api(&args, &[]);
        assert_eq!(text.code, exit, "{answer}: {}", text.stderr);
        assert_eq!(text.stdout, "");
        assert_eq!(
            text.stderr,
            format!(
                "drctl: {} {}: {}\n",
                answer["statusCode"],
                answer["error"].as_str().unwrap(),
                answer["message"].as_str().unwrap()
            )
        );
        let json = drctl_api(&[&args[..], &["--json"]].concat(), &[]);
        assert_eq!(json.code, exit);
        assert_eq!(json.json(), answer);
    }
}

/// What API Gateway (or anything else on the way) answers itself is one line: 4xx exit 2, a
/// gateway that could not reach the function or no answer at all exit 4.
#[test]
fn what_is_not_the_engine_s_answer_is_one_line() {
    let bad_gateway = Canned {
        status: 502,
        content_type: "text/html",
        headers: vec![],
        body: "<html>\n<body>502 Bad Gateway</body>\n</html>\n".to_owned(),
    };
    let denied = Canned {
        status: 403,
        content_type: "application/json",
        headers: vec![("x-amzn-ErrorType", "AccessDeniedException")],
        body: r#"{"Message":"User: arn:aws:iam::123456789012:user/bob is not authorized to perform: execute-api:Invoke"}"#.to_owned(),
    };
    let gateway_timeout = Canned {
        status: 504,
        content_type: "application/json",
        headers: vec![],
        body: r#"{"message": "Endpoint request timed out"}"#.to_owned(),
    };
    for (canned, exit, says) in [
        (bad_gateway, 4, "the API answered 502, not with an answer of the engine: <html> <body>502 Bad Gateway</body> </html> (retrying may help)"),
        (denied, 2, "the API answered 403 AccessDeniedException, not with an answer of the engine: User: arn:aws:iam::123456789012:user/bob is not authorized to perform: execute-api:Invoke (requests are signed with SigV4"),
        (gateway_timeout, 4, "the API answered 504, not with an answer of the engine: Endpoint request timed out (retrying may help)"),
    ] {
        let repeat = Canned {
            status: canned.status,
            content_type: canned.content_type,
            headers: canned.headers.clone(),
            body: canned.body.clone(),
        };
        let api = FakeApi::serve(vec![canned, repeat]);
        let args = ["--api", &api.url, "pause", POLLING, "--plan", POLLING_PLAN];
        let text = drctl_api(&args, &[]);
        assert_eq!(text.code, exit, "{}", text.stderr);
        assert_eq!(text.stdout, "");
        assert_eq!(text.stderr.lines().count(), 1, "{}", text.stderr);
        let call = format!("POST {}/executions/{POLLING}/pause", api.url);
        assert!(
            text.stderr.starts_with(&format!("drctl: {call}: {says}")),
            "{}",
            text.stderr
        );
        let json = drctl_api(&[&args[..], &["--json"]].concat(), &[]).json();
        let error = if exit == 2 { "INVALID_INPUT" } else { "INFRASTRUCTURE_ERROR" };
        assert_eq!((&json["error"], &json["exitCode"]), (&json!(error), &json!(exit)));
    }

    // Nothing listening: no answer at all.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/v1");
    let run = drctl_api(
        &["--api", &url, "status", POLLING, "--plan", POLLING_PLAN],
        &[],
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with(&format!(
            "drctl: GET {url}/executions/{POLLING}: the API could not be reached, retrying may help: "
        )),
        "{}",
        run.stderr
    );
}

/// Plain HTTP goes to this machine only: anything else is refused before a credential is read.
#[test]
fn plain_http_elsewhere_is_refused() {
    for env in [
        vec![],
        vec![("AWS_ACCESS_KEY_ID", ""), ("AWS_SECRET_ACCESS_KEY", "")],
    ] {
        let run = drctl_api(
            &[
                "--api",
                "http://example.com/v1",
                "pause",
                POLLING,
                "--plan",
                POLLING_PLAN,
            ],
            &env,
        );
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert_eq!(
            run.stderr,
            "drctl: --api (DRS_WAVES_API_URL) 'http://example.com/v1' is not HTTPS (plain HTTP goes to 127.0.0.1 or localhost only): give the stack's ApiUrl output, e.g. https://abc123.execute-api.us-east-1.amazonaws.com/v1\n"
        );
    }
    let run = drctl_api(
        &["events", POLLING, "--plan", POLLING_PLAN, "--json"],
        &[("DRS_WAVES_API_URL", "http://example.com")],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.json()["message"]
            .as_str()
            .unwrap()
            .contains("is not HTTPS"),
        "{}",
        run.stdout
    );
}

/// DRS_WAVES_API_URL is `--api`; empty, it is not given (the direct path, which needs the table).
#[test]
fn the_environment_variable_is_the_option() {
    let answer = core_answer(
        &example("world.json"),
        json!({"operation": "resume", "executionId": PLANNED_PAUSE, "planId": PLANNED_PAUSE_PLAN}),
        false,
    );
    let api = FakeApi::serve(vec![engine(&answer)]);
    let run = drctl_api(
        &["resume", PLANNED_PAUSE, "--plan", PLANNED_PAUSE_PLAN],
        &[("DRS_WAVES_API_URL", api.url.as_str())],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        api.only().target,
        format!("/v1/executions/{PLANNED_PAUSE}/resume")
    );

    let direct = drctl_api(
        &["resume", PLANNED_PAUSE, "--plan", PLANNED_PAUSE_PLAN],
        &[("DRS_WAVES_API_URL", "")],
    );
    assert_eq!(direct.code, 2);
    assert!(
        direct.stderr.contains("EXECUTIONS_TABLE"),
        "{}",
        direct.stderr
    );
}

/// restart has no route: with --api it says so (exit 2) and does nothing; the commands that are
/// not AWS ones ignore --api.
#[test]
fn restart_is_refused_and_other_commands_ignore_the_api() {
    let run = drctl_api(
        &[
            "--api",
            "https://abc123.execute-api.eu-west-2.amazonaws.com/v1",
            "restart",
            POLLING,
            "--plan",
            POLLING_PLAN,
        ],
        &[],
    );
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr
            .starts_with("drctl: restart has no route in the API: run it without --api"),
        "{}",
        run.stderr
    );

    let plan = example("three-tier.json");
    let validate = drctl_api(
        &[
            "--api",
            "http://example.com",
            "validate",
            plan.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let invoke = drctl_api(
        &[
            "invoke",
            "--world",
            example("world.json").to_str().unwrap(),
            &json!({"operation": "get", "executionId": POLLING, "planId": POLLING_PLAN})
                .to_string(),
        ],
        &[("DRS_WAVES_API_URL", "http://example.com")],
    );
    assert_eq!(invoke.code, 0, "{}", invoke.stderr);
}
