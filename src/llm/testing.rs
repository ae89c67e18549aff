//! Test support: a fake model server on 127.0.0.1 speaking Chat Completions, the Responses API
//! (JSON and SSE) and Anthropic Messages (JSON and SSE), scripted per test.
//!
//! Compiled for unit tests and behind the `test-support` feature. It is real HTTP over a
//! `std::net::TcpListener` on a random port, one thread per connection, one request per
//! connection (`Connection: close`). Each request is recorded ([`FakeServer::requests`]). The
//! server answers with the next scripted [`Reply`]; once the script is exhausted it answers
//! [`Reply::Auto`] (a well-formed answer in the dialect the path names, with the default text).
//! It stops by itself when dropped or after its lifetime (60 s by default), so a failing test
//! never leaves it running.
//!
//! Ported from `shared/protocols/proto/fake_responses_server.py` and
//! `fake_anthropic_server.py`: the same SSE event sequences that the real Codex and Claude Code
//! clients accept.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The default text the server answers once its script is exhausted.
pub const DEFAULT_TEXT: &str = r#"{"operations":[]}"#;

/// One recorded request.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl RecordedRequest {
    /// The body parsed as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A complete response with a `Content-Length`.
    Raw {
        /// HTTP status.
        status: u16,
        /// Extra headers (`content-type` included here).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// A `text/event-stream` of `event: <type>` / `data: <json>` pairs, then close.
    Sse(Vec<Value>),
    /// Read the request, wait this long without answering, then close the connection.
    Hang(Duration),
    /// A well-formed answer in the dialect of the request's path, with this text.
    Auto(String),
}

impl Reply {
    /// A JSON body with `status`.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply::Raw {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// A body with `status` and a content type.
    pub fn body(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Raw {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    /// Adds a header to a [`Reply::Raw`].
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Raw { headers, .. } = &mut self {
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
        self
    }

    /// An error status with a JSON error body.
    pub fn status(status: u16, message: &str) -> Reply {
        Reply::json(
            status,
            &json!({"error": {"message": message, "type": "fake_error"}}),
        )
    }

    /// An HTML page (a proxy error or a website).
    pub fn html(status: u16) -> Reply {
        Reply::body(
            status,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>Bad Gateway</title></head><body>nginx</body></html>",
        )
    }

    /// A 200 with an empty body.
    pub fn empty() -> Reply {
        Reply::body(200, "application/json", Vec::new())
    }

    /// A 200 JSON-typed body of `bytes` bytes that is not a model answer.
    pub fn huge(bytes: usize) -> Reply {
        let mut body = b"{\"padding\":\"".to_vec();
        body.resize(bytes.saturating_sub(2), b'x');
        body.extend_from_slice(b"\"}");
        Reply::body(200, "application/json", body)
    }

    /// A 200 whose body is not valid JSON.
    pub fn malformed_json() -> Reply {
        Reply::body(200, "application/json", "{\"choices\": [ {\"message\": ")
    }

    /// A Chat Completions answer; `usage` = (prompt, completion) tokens, `None` omits it.
    pub fn chat(text: &str, usage: Option<(u64, u64)>) -> Reply {
        let mut body = json!({
            "id": "chatcmpl-fake", "object": "chat.completion", "model": "fake-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        });
        if let Some((i, o)) = usage {
            body["usage"] =
                json!({"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o});
        }
        Reply::json(200, &body)
    }

    /// A non-streamed Responses API answer.
    pub fn responses(text: &str, usage: Option<(u64, u64)>) -> Reply {
        let mut body = json!({
            "id": "resp_fake", "object": "response", "model": "fake-model", "status": "completed",
            "output": [{"type": "message", "id": "msg_fake", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}],
        });
        if let Some((i, o)) = usage {
            body["usage"] = json!({"input_tokens": i, "output_tokens": o, "total_tokens": i + o});
        }
        Reply::json(200, &body)
    }

    /// A streamed Responses API answer: the event sequence Codex accepts.
    pub fn responses_sse(text: &str, usage: Option<(u64, u64)>) -> Reply {
        let mid = "msg_fake";
        let mut events = vec![
            json!({"type": "response.created", "response": {"id": "resp_fake", "object": "response", "model": "fake-model", "status": "in_progress"}}),
            json!({"type": "response.output_item.added", "output_index": 0,
                   "item": {"type": "message", "id": mid, "role": "assistant", "status": "in_progress", "content": []}}),
            json!({"type": "response.content_part.added", "item_id": mid, "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": "", "annotations": []}}),
        ];
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(16) {
            let delta: String = chunk.iter().collect();
            events.push(json!({"type": "response.output_text.delta", "item_id": mid, "output_index": 0, "content_index": 0, "delta": delta}));
        }
        events.push(json!({"type": "response.output_text.done", "item_id": mid, "output_index": 0, "content_index": 0, "text": text}));
        events.push(
            json!({"type": "response.output_item.done", "output_index": 0,
            "item": {"type": "message", "id": mid, "role": "assistant", "status": "completed",
                     "content": [{"type": "output_text", "text": text, "annotations": []}]}}),
        );
        let mut response = json!({"id": "resp_fake", "object": "response", "model": "fake-model", "status": "completed",
            "output": [{"type": "message", "id": mid, "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}]});
        if let Some((i, o)) = usage {
            response["usage"] = json!({"input_tokens": i, "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": o, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": i + o});
        }
        events.push(json!({"type": "response.completed", "response": response}));
        Reply::Sse(events)
    }

    /// A Messages API answer with one text block.
    pub fn messages_text(text: &str, usage: Option<(u64, u64)>) -> Reply {
        Reply::messages_blocks(&[json!({"type": "text", "text": text})], "end_turn", usage)
    }

    /// A Messages API answer with one forced tool call whose input is `input`.
    pub fn messages_tool(input: &Value, usage: Option<(u64, u64)>) -> Reply {
        Reply::messages_blocks(
            &[
                json!({"type": "tool_use", "id": "toolu_fake", "name": crate::llm::anthropic::SUBMIT_TOOL, "input": input}),
            ],
            "tool_use",
            usage,
        )
    }

    fn messages_blocks(content: &[Value], stop: &str, usage: Option<(u64, u64)>) -> Reply {
        let mut body = json!({"id": "msg_fake", "type": "message", "role": "assistant", "model": "fake-model",
                              "content": content, "stop_reason": stop, "stop_sequence": null});
        if let Some((i, o)) = usage {
            body["usage"] = json!({"input_tokens": i, "output_tokens": o});
        }
        Reply::json(200, &body)
    }

    /// A streamed Messages API answer with one text block: the sequence Claude Code accepts.
    pub fn messages_sse(text: &str) -> Reply {
        let mut events = vec![
            json!({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant",
                   "model": "fake-model", "content": [], "stop_reason": null, "stop_sequence": null,
                   "usage": {"input_tokens": 100, "output_tokens": 1}}}),
            json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            json!({"type": "ping"}),
        ];
        let chars: Vec<char> = text.chars().collect();
        for chunk in chars.chunks(16) {
            let delta: String = chunk.iter().collect();
            events.push(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": delta}}));
        }
        events.push(json!({"type": "content_block_stop", "index": 0}));
        events.push(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": null}, "usage": {"output_tokens": 10}}));
        events.push(json!({"type": "message_stop"}));
        Reply::Sse(events)
    }
}

struct State {
    script: Mutex<VecDeque<Reply>>,
    default_text: String,
    requests: Mutex<Vec<RecordedRequest>>,
    stop: AtomicBool,
    deadline: Instant,
}

impl State {
    fn is_stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || Instant::now() >= self.deadline
    }
}

/// A running fake model server. Stops when dropped.
pub struct FakeServer {
    addr: SocketAddr,
    state: Arc<State>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts a server answering `script` in order, then [`Reply::Auto`] with [`DEFAULT_TEXT`].
    pub fn start(script: Vec<Reply>) -> std::io::Result<FakeServer> {
        FakeServer::start_with(script, DEFAULT_TEXT, Duration::from_secs(60))
    }

    /// Starts a server with a default text and a lifetime after which it stops by itself.
    pub fn start_with(
        script: Vec<Reply>,
        default_text: &str,
        lifetime: Duration,
    ) -> std::io::Result<FakeServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            script: Mutex::new(script.into()),
            default_text: default_text.to_owned(),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            deadline: Instant::now() + lifetime,
        });
        let accept_state = Arc::clone(&state);
        let accept = std::thread::spawn(move || {
            while !accept_state.is_stopped() {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let conn_state = Arc::clone(&accept_state);
                        std::thread::spawn(move || {
                            // A broken connection only fails that request.
                            let _ = handle(stream, &conn_state);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(FakeServer {
            addr,
            state,
            accept: Some(accept),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// The requests whose method is POST.
    pub fn posts(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST")
            .collect()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<RecordedRequest> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader.read_line(&mut size_line)?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            chunk.truncate(size);
            body.extend_from_slice(&chunk);
            if size == 0 {
                break;
            }
        }
    }
    Ok(RecordedRequest {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn handle(mut stream: TcpStream, state: &State) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let request = read_request(&mut stream)?;
    if let Ok(mut requests) = state.requests.lock() {
        requests.push(request.clone());
    }
    let reply = if request.method == "POST" {
        state
            .script
            .lock()
            .ok()
            .and_then(|mut s| s.pop_front())
            .unwrap_or_else(|| Reply::Auto(state.default_text.clone()))
    } else if request.method == "HEAD" {
        Reply::body(200, "text/plain", Vec::new())
    } else {
        Reply::json(200, &json!({"models": [], "data": [], "has_more": false}))
    };
    let reply = match reply {
        Reply::Auto(text) => auto_reply(&request, &text),
        other => other,
    };
    match reply {
        Reply::Raw {
            status,
            headers,
            body,
        } => {
            let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
            for (k, v) in &headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str(&format!(
                "content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            ));
            stream.write_all(head.as_bytes())?;
            stream.write_all(&body)?;
        }
        Reply::Sse(events) => {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
            )?;
            for event in events {
                let kind = event
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message");
                stream.write_all(format!("event: {kind}\ndata: {event}\n\n").as_bytes())?;
                stream.flush()?;
            }
        }
        Reply::Hang(duration) => {
            let until = Instant::now() + duration;
            while Instant::now() < until && !state.is_stopped() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Reply::Auto(_) => {}
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Both);
    Ok(())
}

/// A well-formed answer for the request's dialect, streamed when the request asks for it.
fn auto_reply(request: &RecordedRequest, text: &str) -> Reply {
    let path = request.path.split('?').next().unwrap_or_default();
    let stream = request
        .json()
        .and_then(|b| b.get("stream").and_then(Value::as_bool))
        .unwrap_or(false);
    if path.ends_with("/responses") {
        if stream {
            Reply::responses_sse(text, Some((100, 10)))
        } else {
            Reply::responses(text, Some((100, 10)))
        }
    } else if path.ends_with("/chat/completions") {
        Reply::chat(text, Some((100, 10)))
    } else if path.ends_with("/messages") {
        if stream {
            Reply::messages_sse(text)
        } else {
            Reply::messages_text(text, Some((100, 10)))
        }
    } else {
        Reply::status(404, &format!("not found: {}", request.path))
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        529 => "Overloaded",
        _ => "Status",
    }
}
