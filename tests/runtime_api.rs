//! A stand-in for the Lambda Runtime API, so that a function's real binary can be run in a test:
//! it hands out the given events on `/invocation/next` and collects what the function posts to
//! `/invocation/{id}/response` (or `/error`). Plain HTTP/1.1 on a local port, one thread.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// What the function posted for one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Response(Value),
    /// The runtime reported an error instead of an answer (a handler `Err`, a panic).
    Error(String),
}

pub struct FakeRuntime {
    address: String,
    replies: Receiver<Reply>,
}

impl FakeRuntime {
    /// Serves `events`, one per `/next`; after the last, `/next` never answers (as Lambda's does
    /// while no event is waiting).
    pub fn serve(events: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        let address = listener.local_addr().expect("its address").to_string();
        let (tx, replies) = channel();
        let events = Arc::new(Mutex::new(events.into_iter().enumerate()));
        std::thread::spawn(move || {
            // A thread per connection: the runtime's HTTP client may open more than one.
            for stream in listener.incoming().flatten() {
                let (events, tx) = (Arc::clone(&events), tx.clone());
                std::thread::spawn(move || serve_connection(stream, &events, &tx));
            }
        });
        Self { address, replies }
    }

    /// `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The next reply, waiting at most `timeout`.
    pub fn reply(&self, timeout: Duration) -> Option<Reply> {
        self.replies.recv_timeout(timeout).ok()
    }
}

/// Serves the requests of one keep-alive connection, in order.
type Events = Mutex<std::iter::Enumerate<std::vec::IntoIter<Value>>>;

fn serve_connection(
    stream: TcpStream,
    events: &Events,
    replies: &Sender<Reply>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let (method, path, body) = read_request(&mut reader)?;
        if method == "GET" && path.ends_with("/invocation/next") {
            let next = events
                .lock()
                .map_err(|_| std::io::Error::other("poisoned"))?
                .next();
            let Some((n, event)) = next else {
                // No more events: hold the connection until the test ends the process.
                std::thread::sleep(Duration::from_secs(3600));
                return Ok(());
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                + Duration::from_secs(30);
            let headers = format!(
                "lambda-runtime-aws-request-id: request-{n}\r\nlambda-runtime-deadline-ms: {}\r\nlambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:test\r\nlambda-runtime-trace-id: Root=1-00000000-000000000000000000000000\r\n",
                deadline.as_millis()
            );
            respond(&mut writer, 200, &headers, &event.to_string())?;
        } else if path.ends_with("/response") {
            let value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
            let _ = replies.send(Reply::Response(value));
            respond(&mut writer, 202, "", "{}")?;
        } else if path.ends_with("/error") {
            let _ = replies.send(Reply::Error(String::from_utf8_lossy(&body).into_owned()));
            respond(&mut writer, 202, "", "{}")?;
        } else {
            respond(&mut writer, 404, "", "{}")?;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok((method, path, body))
}

fn respond(writer: &mut TcpStream, status: u16, headers: &str, body: &str) -> std::io::Result<()> {
    write!(writer, "HTTP/1.1 {status} OK\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\n\r\n{body}", body.len())?;
    writer.flush()
}

/// What one run of a function binary produced.
#[derive(Debug)]
pub struct Run {
    pub replies: Vec<Reply>,
    /// stdout and stderr: the function's logs.
    pub output: String,
    /// The exit status when the process ended on its own (an init failure), else `None`.
    pub exited: Option<std::process::ExitStatus>,
}

impl Run {
    /// The function's answers, one per event; a reply the runtime got as an error fails the test
    /// (with the function's logs).
    pub fn answers(&self) -> Vec<Value> {
        self.replies
            .iter()
            .map(|r| match r {
                Reply::Response(v) => v.clone(),
                Reply::Error(e) => panic!("the runtime reported an error: {e}\n{}", self.output),
            })
            .collect()
    }
}

/// The JSON body of an API Gateway proxy answer.
pub fn proxy_body(answer: &Value) -> Value {
    let body = answer["body"]
        .as_str()
        .unwrap_or_else(|| panic!("a proxy answer without a body: {answer}"));
    serde_json::from_str(body).unwrap_or_else(|e| panic!("a body that is not JSON ({e}): {body}"))
}

/// Runs the Lambda binary at `binary` on `events` with the Lambda environment plus `env`
/// (moto's endpoint and dummy credentials included), collects one reply per event, then ends it.
pub fn run_function(binary: &str, env: &[(&str, &str)], events: Vec<Value>) -> Run {
    use std::process::{Command, Stdio};
    let expected = events.len();
    let runtime = FakeRuntime::serve(events);
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_ENDPOINT_URL", crate::moto::endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{binary}: {e}"));
    // Drained as the function writes, so that a full pipe never blocks it.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let mut replies = Vec::new();
    let mut exited = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while replies.len() < expected && std::time::Instant::now() < deadline {
        if let Some(reply) = runtime.reply(Duration::from_millis(200)) {
            replies.push(reply);
            continue;
        }
        if let Ok(Some(status)) = child.try_wait() {
            exited = Some(status);
            break;
        }
    }
    if exited.is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
    let output = format!(
        "{}{}",
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default()
    );
    Run {
        replies,
        output,
        exited,
    }
}
