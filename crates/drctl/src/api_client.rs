//! The AWS commands through the stack's API (`--api URL`, or DRS_WAVES_API_URL: the stack's
//! `ApiUrl` output) instead of the table and Step Functions: each request of `ops::run` goes as
//! its route (docs/operator.md, lambda-shell's `API_ROUTES`), SigV4-signed for `execute-api` with
//! the caller's AWS credentials, over HTTPS. What comes back is the function's answer, the JSON
//! the direct path gets from `ops::run`; anything else (API Gateway's own refusals, a proxy's
//! page, no answer at all) is one line. Built with the `aws` feature only.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use execution_core::api::{PollInterval, Request, Target, NEXT_TOKEN};
use execution_core::ids::{ExecutionId, PlanId};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::{Method, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

use crate::aws::one_line;
use crate::exit::{CliError, Exit};
use crate::text::clean;

/// Time to open the connection (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Time for a whole request: connection, request, answer. The functions answer within their own
/// timeouts, and API Gateway gives up on them after 29 s.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read: API Gateway answers at most 10 MB.
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;
/// The service API Gateway's IAM authorization checks signatures for.
const SERVICE: &str = "execute-api";

/// The API's base URL, checked: HTTPS (plain HTTP only to this machine, for tests), a host, no
/// credentials, query or fragment in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiUrl {
    scheme: &'static str,
    authority: String,
    /// The stage (`/v1`) or a custom domain's base path, without a trailing `/`; may be empty.
    base_path: String,
}

impl ApiUrl {
    pub fn parse(raw: &str) -> Result<Self, CliError> {
        let raw = raw.trim();
        let bad = |why: &str| {
            CliError::invalid(format!(
                "--api (DRS_WAVES_API_URL) '{}' {why}: give the stack's ApiUrl output, e.g. https://abc123.execute-api.us-east-1.amazonaws.com/v1",
                clean(raw)
            ))
        };
        let uri: Uri = raw.parse().map_err(|_| bad("is not a URL"))?;
        let (Some(scheme), Some(authority), Some(host)) =
            (uri.scheme_str(), uri.authority(), uri.host())
        else {
            return Err(bad("is not an absolute URL"));
        };
        if authority.as_str().contains('@') {
            return Err(bad(
                "carries credentials: the requests are signed with your AWS credentials instead",
            ));
        }
        if uri.query().is_some() {
            return Err(bad("has a query string"));
        }
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "https" => "https",
            "http" if is_this_machine(host) => "http",
            "http" => {
                return Err(bad(
                    "is not HTTPS (plain HTTP goes to 127.0.0.1 or localhost only)",
                ))
            }
            _ => return Err(bad("is not an https:// URL")),
        };
        Ok(Self {
            scheme,
            authority: authority.as_str().to_owned(),
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }

    /// The region an `execute-api` host names (`{api}.execute-api.{region}.amazonaws.com`, also
    /// through a VPC endpoint): requests are signed for it whatever region the configuration
    /// names. None for a custom domain.
    pub fn region(&self) -> Option<&str> {
        let host = self.authority.split(':').next().unwrap_or_default();
        let labels: Vec<&str> = host.split('.').collect();
        match labels.as_slice() {
            [_, "execute-api", region, "amazonaws", ..] if !region.is_empty() => Some(region),
            _ => None,
        }
    }

    fn uri(&self, path: &str, query: &[(&str, String)]) -> String {
        let mut uri = format!(
            "{}://{}{}{path}",
            self.scheme, self.authority, self.base_path
        );
        for (i, (key, value)) in query.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(key);
            uri.push('=');
            uri.push_str(&percent_encoded(value));
        }
        uri
    }
}

fn is_this_machine(host: &str) -> bool {
    matches!(
        host.to_ascii_lowercase().as_str(),
        "127.0.0.1" | "localhost" | "[::1]"
    )
}

/// `raw` with everything but RFC 3986's unreserved characters percent-encoded: the form SigV4's
/// canonical query string uses, so the query signed is the query sent.
fn percent_encoded(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An operation's request as its route: method, path below the base URL, query, JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub method: Method,
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

/// The route of `request` (docs/operator.md): start posts the plan document, the reads take
/// `planId` (and `nextToken`) in the query string, the operators' calls post `{"planId"}` (and
/// `waveNumber`) to the execution's path. The operations the API does not serve have none.
pub fn route(request: &Request) -> Result<Routed, CliError> {
    let to = |method: Method, path: String, query: Vec<(&'static str, String)>, body| Routed {
        method,
        path,
        query,
        body,
    };
    let execution = |t: &Target| format!("/executions/{}", t.execution_id);
    let plan = |t: &Target| vec![(PlanId::FIELD, t.plan_id.to_string())];
    let decision = |t: &Target, op: &str| {
        to(
            Method::POST,
            format!("{}/{op}", execution(t)),
            vec![],
            Some(json!({ PlanId::FIELD: t.plan_id })),
        )
    };
    Ok(match request {
        Request::Start(start) => {
            let mut query = Vec::new();
            if let Some(id) = start.execution_id {
                query.push((ExecutionId::FIELD, id.to_string()));
            }
            if let Some(interval) = start.poll_interval_seconds {
                query.push((PollInterval::FIELD, interval.secs().to_string()));
            }
            let plan = serde_json::to_value(&start.plan).map_err(|e| {
                CliError::invalid(format!("the plan cannot be sent to the API: {e}"))
            })?;
            to(Method::POST, "/executions".to_owned(), query, Some(plan))
        }
        Request::Get(t) => to(Method::GET, execution(t), plan(t), None),
        Request::Events(events) => {
            let t = &events.target;
            let mut query = plan(t);
            if let Some(token) = &events.next_token {
                query.push((NEXT_TOKEN, token.clone()));
            }
            to(Method::GET, format!("{}/events", execution(t)), query, None)
        }
        // Only the state machine parks a task token, and it calls pause directly.
        Request::Pause(pause) if pause.task_token.is_none() => decision(&pause.target, "pause"),
        Request::Resume(t) => decision(t, "resume"),
        Request::Cancel(t) => decision(t, "cancel"),
        Request::Retry(w) | Request::Skip(w) => {
            let mut routed = decision(&w.target, &request.operation().to_string());
            routed.body = Some(json!({
                PlanId::FIELD: w.target.plan_id,
                "waveNumber": w.wave_number,
            }));
            routed
        }
        other => {
            return Err(CliError::invalid(format!(
                "the API has no route for {}",
                other.operation()
            )))
        }
    })
}

type Https = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The stack's API, as one caller: its URL, the credentials requests are signed with and the
/// region they are signed for.
pub struct Client {
    url: ApiUrl,
    credentials: Credentials,
    region: String,
    http: Https,
}

impl Client {
    pub fn new(url: ApiUrl, credentials: Credentials, region: String) -> Result<Self, CliError> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        // The scheme is the URL's, checked by `ApiUrl::parse`: plain HTTP reaches this machine only.
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| {
                CliError::invalid(format!(
                    "cannot load this machine's CA certificates to reach the API: {}",
                    one_line(&e)
                ))
            })?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            url,
            credentials,
            region,
            http,
        })
    }

    /// The answer of the function that serves `request`'s route, as `ops::run` gives it on the
    /// direct path: the answer is the same whichever path produced it.
    pub async fn answer(&self, request: &Request) -> Result<Value, CliError> {
        let routed = route(request)?;
        let call = format!(
            "{} {}",
            routed.method,
            self.url.uri(&routed.path, &[]) // the query may hold a page token: not shown
        );
        let body = match &routed.body {
            Some(body) => serde_json::to_vec(body).map_err(|e| {
                CliError::invalid(format!("{call}: the request cannot be written: {e}"))
            })?,
            None => Vec::new(),
        };
        let mut builder = hyper::Request::builder()
            .method(routed.method.clone())
            .uri(self.url.uri(&routed.path, &routed.query))
            .header(ACCEPT, "application/json");
        if routed.body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let mut http_request = builder
            .body(Full::new(Bytes::from(body.clone())))
            .map_err(|e| CliError::invalid(format!("{call}: {}", one_line(&e))))?;
        self.sign(&mut http_request, &body)
            .map_err(|e| CliError::invalid(format!("{call}: cannot sign the request: {e}")))?;

        let exchange = async {
            let response = self
                .http
                .request(http_request)
                .await
                .map_err(|e| one_line(&e))?;
            let (parts, incoming) = response.into_parts();
            let bytes = Limited::new(incoming, MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| one_line(&*e))?
                .to_bytes();
            Ok::<_, String>((parts, bytes))
        };
        let (parts, bytes) = match tokio::time::timeout(ANSWER_TIMEOUT, exchange).await {
            Err(_) => {
                return Err(CliError::infrastructure(format!(
                    "{call}: no answer within {} s, retrying may help",
                    ANSWER_TIMEOUT.as_secs()
                )))
            }
            Ok(Err(why)) => {
                return Err(CliError::infrastructure(format!(
                    "{call}: the API could not be reached, retrying may help: {why}"
                )))
            }
            Ok(Ok(answered)) => answered,
        };
        let error_type = parts
            .headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok());
        read_answer(&call, parts.status.as_u16(), error_type, &bytes)
    }

    /// Signs `request` with SigV4 for `execute-api` (headers: `Authorization`, `x-amz-date`,
    /// `x-amz-content-sha256`, and `x-amz-security-token` for temporary credentials).
    fn sign(&self, request: &mut hyper::Request<Full<Bytes>>, body: &[u8]) -> Result<(), String> {
        let identity = self.credentials.clone().into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SERVICE)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| one_line(&e))?
            .into();
        let uri = request.uri().to_string();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let signable = SignableRequest::new(
            request.method().as_str(),
            uri.as_str(),
            headers,
            SignableBody::Bytes(body),
        )
        .map_err(|e| one_line(&e))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| one_line(&e))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

/// The API's answer to `call`: the function's answer when it is one (a JSON object whose
/// `statusCode` is the HTTP status, docs/operator.md), to be shown and exited on as the direct
/// path's. Anything else is one line: API Gateway's own refusals (a bad or expired signature, a
/// principal not allowed `execute-api:Invoke`, an unknown path) are the caller's to fix (exit 2),
/// except throttling (429); a gateway that could not reach the function (502, 503, 504), a
/// throttle or an unexpected page may pass on a retry (exit 4).
pub fn read_answer(
    call: &str,
    status: u16,
    error_type: Option<&str>,
    body: &[u8],
) -> Result<Value, CliError> {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    if let Some(answer) = parsed
        .as_ref()
        .filter(|a| a.get("statusCode").and_then(Value::as_u64) == Some(u64::from(status)))
    {
        return Ok(answer.clone());
    }
    // API Gateway's refusals are `{"message": ...}` (`{"Message": ...}` for some), named by the
    // x-amzn-ErrorType header.
    let said = parsed
        .as_ref()
        .and_then(|p| p.get("message").or_else(|| p.get("Message")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let said: String = crate::aws::flat(&said).chars().take(300).collect();
    let kind = error_type
        .and_then(|t| t.split(':').next())
        .filter(|t| !t.is_empty())
        .map(|t| format!(" {}", clean(t)))
        .unwrap_or_default();
    let mut message =
        format!("{call}: the API answered {status}{kind}, not with an answer of the engine");
    if !said.is_empty() {
        message.push_str(": ");
        message.push_str(&clean(&said));
    }
    let exit = match status {
        429 => Exit::Infrastructure,
        400..=499 => Exit::Invalid,
        _ => Exit::Infrastructure,
    };
    match (exit, status) {
        (_, 401 | 403) => message.push_str(
            " (requests are signed with SigV4 by your AWS credentials; the principal needs execute-api:Invoke on the route)",
        ),
        (Exit::Infrastructure, _) => message.push_str(" (retrying may help)"),
        _ => {}
    }
    Err(CliError { exit, message })
}

#[cfg(test)]
mod tests {
    use execution_core::api::{EventsRequest, PauseRequest, StartRequest, WaveTarget};

    use super::*;

    const ID: &str = "5f3e2d1c-0b9a-4c8d-9e7f-6a5b4c3d2e1f";
    const PLAN: &str = "4c3b2a19-8f7e-4d6c-9b5a-3f2e1d0c9b8a";

    fn target() -> Target {
        Target {
            execution_id: ExecutionId::parse(ID).unwrap(),
            plan_id: PlanId::parse(PLAN).unwrap(),
        }
    }

    #[test]
    fn an_api_url_is_https_or_this_machine() {
        let url = ApiUrl::parse("https://abc123.execute-api.eu-west-1.amazonaws.com/v1/").unwrap();
        assert_eq!(
            url.uri("/executions", &[("planId", PLAN.to_owned())]),
            format!(
                "https://abc123.execute-api.eu-west-1.amazonaws.com/v1/executions?planId={PLAN}"
            )
        );
        assert_eq!(url.region(), Some("eu-west-1"));
        let custom = ApiUrl::parse("https://dr.example.com").unwrap();
        assert_eq!(
            custom.uri("/executions", &[]),
            "https://dr.example.com/executions"
        );
        assert_eq!(custom.region(), None);
        for local in [
            "http://127.0.0.1:8080/v1",
            "http://localhost:9",
            "http://[::1]:80",
        ] {
            assert!(ApiUrl::parse(local).is_ok(), "{local}");
        }
        for (bad, why) in [
            ("http://example.com/v1", "is not HTTPS"),
            ("ftp://example.com", "is not an https:// URL"),
            (
                "abc123.execute-api.eu-west-1.amazonaws.com",
                "is not an absolute URL",
            ),
            ("https://user:pw@example.com", "carries credentials"),
            ("https://example.com/v1?stage=x", "has a query string"),
            ("https://exa mple.com", "is not a URL"),
        ] {
            let e = ApiUrl::parse(bad).unwrap_err();
            assert_eq!(e.exit, Exit::Invalid, "{bad}");
            assert!(e.message.contains(why), "{bad}: {}", e.message);
        }
    }

    #[test]
    fn a_query_value_is_percent_encoded_as_sigv4_signs_it() {
        assert_eq!(percent_encoded("a/b+c=d e~_.-"), "a%2Fb%2Bc%3Dd%20e~_.-");
        assert_eq!(percent_encoded("é"), "%C3%A9");
    }

    #[test]
    fn each_request_has_its_route() {
        let t = target();
        let at = |r: Request| {
            let routed = route(&r).unwrap();
            (
                routed.method.to_string(),
                routed.path,
                routed.query,
                routed.body,
            )
        };
        let path = format!("/executions/{ID}");
        assert_eq!(
            at(Request::Get(t)),
            (
                "GET".into(),
                path.clone(),
                vec![("planId", PLAN.to_owned())],
                None
            )
        );
        assert_eq!(
            at(Request::Events(EventsRequest {
                target: t,
                next_token: Some("p/2".into())
            })),
            (
                "GET".into(),
                format!("{path}/events"),
                vec![("planId", PLAN.to_owned()), ("nextToken", "p/2".to_owned())],
                None
            )
        );
        let plan_body = Some(json!({"planId": PLAN}));
        for (request, op) in [
            (
                Request::Pause(PauseRequest {
                    target: t,
                    task_token: None,
                }),
                "pause",
            ),
            (Request::Resume(t), "resume"),
            (Request::Cancel(t), "cancel"),
        ] {
            assert_eq!(
                at(request),
                (
                    "POST".into(),
                    format!("{path}/{op}"),
                    vec![],
                    plan_body.clone()
                )
            );
        }
        let on = WaveTarget {
            target: t,
            wave_number: 1,
        };
        for (request, op) in [(Request::Retry(on), "retry"), (Request::Skip(on), "skip")] {
            assert_eq!(
                at(request),
                (
                    "POST".into(),
                    format!("{path}/{op}"),
                    vec![],
                    Some(json!({"planId": PLAN, "waveNumber": 1}))
                )
            );
        }
        assert!(route(&Request::Find).is_err());
        assert!(route(&Request::Launch(t)).is_err());
    }

    /// The body of `POST /executions` is the plan document, as the plan file holds it (read
    /// back, it is the same plan).
    #[test]
    fn start_posts_the_plan_document() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/three-tier.json"),
        )
        .unwrap();
        let plan: execution_core::plan::Plan = serde_json::from_str(&text).unwrap();
        let routed = route(&Request::Start(StartRequest {
            plan: Box::new(plan.clone()),
            execution_id: Some(ExecutionId::parse(ID).unwrap()),
            poll_interval_seconds: Some("15".parse().unwrap()),
        }))
        .unwrap();
        assert_eq!(
            (routed.method, routed.path.as_str()),
            (Method::POST, "/executions")
        );
        assert_eq!(
            routed.query,
            vec![
                ("executionId", ID.to_owned()),
                ("pollIntervalSeconds", "15".to_owned())
            ]
        );
        let sent: execution_core::plan::Plan =
            serde_json::from_value(routed.body.unwrap()).unwrap();
        assert_eq!(sent, plan);
    }

    #[test]
    fn the_engine_s_answer_is_the_answer_whatever_its_status() {
        for (status, body) in [
            (200, json!({"statusCode": 200, "status": "PAUSED"})),
            (
                400,
                json!({"statusCode": 400, "error": "INVALID_STATE", "message": "no"}),
            ),
            (
                500,
                json!({"statusCode": 500, "error": "INTERNAL_ERROR", "message": "later"}),
            ),
        ] {
            let read = read_answer("GET x", status, None, body.to_string().as_bytes());
            assert_eq!(read, Ok(body));
        }
    }

    #[test]
    fn what_is_not_an_answer_is_one_line() {
        let e = read_answer(
            "POST https://api/v1/executions",
            403,
            Some("AccessDeniedException:http://internal.amazon.com/coral/"),
            br#"{"Message":"User: arn:aws:iam::1:user/bob is not authorized\nto perform: execute-api:Invoke"}"#,
        )
        .unwrap_err();
        assert_eq!(e.exit, Exit::Invalid);
        assert!(!e.message.contains('\n'), "{}", e.message);
        assert!(
            e.message.starts_with("POST https://api/v1/executions: the API answered 403 AccessDeniedException, not with an answer of the engine: User: arn:aws:iam::1:user/bob is not authorized to perform: execute-api:Invoke (requests are signed"),
            "{}",
            e.message
        );

        let e = read_answer(
            "GET x",
            502,
            None,
            b"<html>\r\n<h1>502 Bad Gateway</h1></html>",
        )
        .unwrap_err();
        assert_eq!(e.exit, Exit::Infrastructure);
        assert_eq!(
            e.message,
            "GET x: the API answered 502, not with an answer of the engine: <html> <h1>502 Bad Gateway</h1></html> (retrying may help)"
        );
        let e = read_answer("GET x", 429, None, br#"{"message":"Too Many Requests"}"#).unwrap_err();
        assert_eq!(e.exit, Exit::Infrastructure);
        let e = read_answer("GET x", 404, None, b"").unwrap_err();
        assert_eq!(
            e,
            CliError::invalid("GET x: the API answered 404, not with an answer of the engine")
        );
        // A success that is not the engine's answer (a proxy's page), or whose status disagrees.
        let e = read_answer("GET x", 200, None, b"<html>login</html>").unwrap_err();
        assert_eq!(e.exit, Exit::Infrastructure);
        let e = read_answer("GET x", 200, None, br#"{"statusCode": 500}"#).unwrap_err();
        assert_eq!(e.exit, Exit::Infrastructure);
        // Escaped: a page cannot recolour the terminal.
        let e = read_answer("GET x", 500, None, b"\x1b[31mred").unwrap_err();
        assert!(e.message.contains("\\u{1b}[31mred"), "{}", e.message);
    }
}
