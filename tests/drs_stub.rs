//! A stand-in for the DRS API (moto has none), so that a function binary's real DRS client can be
//! run in a test: point it here with `AWS_ENDPOINT_URL_DRS` ([`DrsStub::endpoint`]). Each request
//! (restJson1: `POST /<Operation>` with a JSON body) is recorded and answered as the test's
//! function says. Plain HTTP/1.1 on a local port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// How the stub answers one operation: the HTTP status and the JSON body.
pub type Answer = (u16, Value);

type Answerer = dyn Fn(&str, &Value) -> Answer + Send + Sync;

pub struct DrsStub {
    address: String,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
}

impl DrsStub {
    /// Serves DRS as `answer(operation, request body)` says, until the test ends.
    pub fn serve(answer: impl Fn(&str, &Value) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        let address = listener.local_addr().expect("its address").to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer: Arc<Answerer> = Arc::new(answer);
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (answer, recorded) = (Arc::clone(&answer), Arc::clone(&recorded));
                std::thread::spawn(move || serve_connection(stream, &*answer, &recorded));
            }
        });
        Self { address, requests }
    }

    /// `AWS_ENDPOINT_URL_DRS`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every request so far, in order: (operation, JSON body).
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The requests of one operation.
    pub fn requests_of(&self, operation: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, body)| body)
            .collect()
    }
}

/// The source server ids a Describe* request filters on (`filters.sourceServerIDs`).
pub fn filtered_servers(request: &Value) -> Vec<String> {
    request["filters"]["sourceServerIDs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// DescribeSourceServers' answer: every server asked for, replicating continuously, in no job.
pub fn replicating(request: &Value) -> Answer {
    let items: Vec<Value> = filtered_servers(request)
        .into_iter()
        .map(|id| {
            json!({"sourceServerID": id,
                   "dataReplicationInfo": {"dataReplicationState": "CONTINUOUS"}})
        })
        .collect();
    (200, json!({"items": items}))
}

/// The error DRS answers for an operation the test did not expect.
pub fn unexpected(operation: &str) -> Answer {
    (
        400,
        json!({"message": format!("the DRS stub does not answer {operation}")}),
    )
}

fn serve_connection(
    stream: TcpStream,
    answer: &Answerer,
    recorded: &Mutex<Vec<(String, Value)>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let (path, body) = read_request(&mut reader)?;
        let operation = path
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_matches('/')
            .to_owned();
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if let Ok(mut r) = recorded.lock() {
            r.push((operation.clone(), request.clone()));
        }
        let (status, reply) = answer(&operation, &request);
        let reply = reply.to_string();
        write!(
            writer,
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
            reply.len()
        )?;
        writer.flush()?;
    }
}

/// One request: its path and body (by content-length).
fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<(String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let path = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
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
    Ok((path, body))
}
