//! A fake model server for driving the real Codex CLI and Claude Code offline: real HTTP on
//! 127.0.0.1 (ephemeral port), the OpenAI Responses API (SSE) for Codex and the Anthropic
//! Messages API (SSE or JSON) for Claude. Ported from `shared/protocols/proto/fake_*_server.py`.
//!
//! The "model": when the last user text contains `RUN_TOOL` and no tool output came back yet,
//! it calls the shell tool once (`echo tool-ran`); otherwise it answers "Hi from fake model.".
//! Every request body is kept for assertions. The server stops when dropped or after its
//! lifetime, whichever comes first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// A running fake model server.
pub struct FakeModel {
    /// The port on 127.0.0.1.
    pub port: u16,
    requests: Arc<Mutex<Vec<(String, Value)>>>,
    review_reply: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
}

impl FakeModel {
    /// Starts the server; it stops by itself after `lifetime`.
    pub fn start(lifetime: Duration) -> FakeModel {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let review_reply = Arc::new(Mutex::new(r#"{"operations":[]}"#.to_owned()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stop_flag, reply) = (requests.clone(), stop.clone(), review_reply.clone());
        thread::spawn(move || {
            let deadline = Instant::now() + lifetime;
            let counter = Arc::new(Mutex::new(0u32));
            while !stop_flag.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let (reqs, counter, reply) = (reqs.clone(), counter.clone(), reply.clone());
                        thread::spawn(move || {
                            let _ = handle(stream, &reqs, &counter, &reply);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeModel {
            port,
            requests,
            review_reply,
            stop,
        }
    }

    /// Sets the text every Chat Completions request (`…/chat/completions`, csep's reviewer
    /// through an `openai-compatible` profile) is answered with: a scripted `ReviewOutput`.
    pub fn set_review_reply(&self, text: &str) {
        *self.review_reply.lock().expect("lock") = text.to_owned();
    }

    /// Bodies of the Chat Completions requests (csep's reviewer), in order.
    pub fn review_requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(path, _)| path.ends_with("/chat/completions"))
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Every request body received, raw JSON text, in order (for secret scans).
    pub fn all_bodies(&self) -> Vec<String> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, body)| body.to_string())
            .collect()
    }

    /// Base URL for Codex (`…/v1`).
    pub fn openai_base(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Base URL for Claude (`ANTHROPIC_BASE_URL`).
    pub fn anthropic_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Model request bodies received so far (POSTs to responses/messages), in order.
    pub fn model_requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|(path, _)| path.ends_with("/responses") || path.ends_with("/messages"))
            .map(|(_, body)| body.clone())
            .collect()
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn handle(
    stream: TcpStream,
    requests: &Mutex<Vec<(String, Value)>>,
    counter: &Mutex<u32>,
    review_reply: &Mutex<String>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts
        .next()
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("")
        .to_owned();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            content_length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    requests
        .lock()
        .expect("lock")
        .push((path.clone(), body.clone()));
    let mut out = stream;
    let n = {
        let mut c = counter.lock().expect("lock");
        *c += 1;
        *c
    };
    match (method.as_str(), path.as_str()) {
        ("POST", p) if p.ends_with("/responses") => responses(&mut out, &body, n),
        ("POST", p) if p.ends_with("/chat/completions") => {
            let text = review_reply.lock().expect("lock").clone();
            json_reply(
                &mut out,
                200,
                &json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion",
                    "model": body["model"], "choices": [{"index": 0, "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}),
            )
        }
        ("POST", p) if p.ends_with("/count_tokens") => {
            json_reply(&mut out, 200, &json!({"input_tokens": 100}))
        }
        ("POST", p) if p.ends_with("/messages") => messages(&mut out, &body, n),
        ("GET", p) if p.ends_with("/models") => json_reply(
            &mut out,
            200,
            &json!({"models": [], "data": [], "has_more": false}),
        ),
        ("HEAD", _) => {
            out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        }
        _ => json_reply(
            &mut out,
            404,
            &json!({"error": {"message": format!("not found: {path}")}}),
        ),
    }
}

fn json_reply(out: &mut TcpStream, code: u16, value: &Value) -> std::io::Result<()> {
    let body = value.to_string();
    write!(
        out,
        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn sse_head(out: &mut TcpStream) -> std::io::Result<()> {
    out.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
    )
}

fn sse(out: &mut TcpStream, event: &Value) -> std::io::Result<()> {
    let kind = event["type"].as_str().unwrap_or("message");
    write!(out, "event: {kind}\ndata: {event}\n\n")?;
    out.flush()
}

/// Text of every user message in a request, joined.
fn user_texts(body: &Value, key: &str) -> String {
    let mut text = String::new();
    for item in body[key].as_array().into_iter().flatten() {
        if item["role"] != "user" {
            continue;
        }
        match &item["content"] {
            Value::String(s) => text.push_str(s),
            Value::Array(parts) => {
                for p in parts {
                    if let Some(t) = p["text"].as_str() {
                        text.push_str(t);
                    }
                }
            }
            _ => {}
        }
        text.push('\n');
    }
    text
}

fn last_user_text(body: &Value, key: &str) -> String {
    user_texts(body, key)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_owned()
}

fn answer_text(body: &Value) -> String {
    let all = body.to_string();
    let mut markers: Vec<&str> = all
        .match_indices("CTX-MARKER-")
        .map(|(i, _)| {
            let rest = &all[i..];
            let end = rest
                .char_indices()
                .skip(11)
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                .map_or(rest.len(), |(j, _)| j);
            &rest[..end]
        })
        .collect();
    markers.sort_unstable();
    markers.dedup();
    let mut text = "Hi from fake model.".to_owned();
    if !markers.is_empty() {
        text.push_str(" saw ");
        text.push_str(&markers.join(" "));
    }
    text
}

fn responses(out: &mut TcpStream, body: &Value, n: u32) -> std::io::Result<()> {
    let has_tool_output = body["input"].as_array().into_iter().flatten().any(|i| {
        matches!(
            i["type"].as_str(),
            Some("function_call_output" | "custom_tool_call_output")
        )
    });
    let wants_tool = user_texts(body, "input").contains("RUN_TOOL") && !has_tool_output;
    let model = body["model"].as_str().unwrap_or("fake-model").to_owned();
    let id = format!("resp_{n}");
    sse_head(out)?;
    sse(
        out,
        &json!({"type": "response.created", "response": {"id": id, "object": "response", "model": model, "status": "in_progress"}}),
    )?;
    if wants_tool {
        let names: Vec<&str> = body["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["name"].as_str())
            .collect();
        let (name, args) = if names.contains(&"exec_command") {
            ("exec_command", json!({"cmd": "echo tool-ran"}))
        } else {
            (
                "shell",
                json!({"command": ["bash", "-lc", "echo tool-ran"]}),
            )
        };
        let item = json!({"type": "function_call", "id": format!("fc_{n}"), "call_id": format!("call_{n}"),
            "name": name, "arguments": args.to_string(), "status": "completed"});
        sse(
            out,
            &json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
        )?;
        sse(
            out,
            &json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
        )?;
    } else {
        let text = answer_text(body);
        let mid = format!("msg_{n}");
        sse(
            out,
            &json!({"type": "response.output_item.added", "output_index": 0,
            "item": {"type": "message", "id": mid, "role": "assistant", "status": "in_progress", "content": []}}),
        )?;
        sse(
            out,
            &json!({"type": "response.content_part.added", "item_id": mid, "output_index": 0, "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []}}),
        )?;
        sse(
            out,
            &json!({"type": "response.output_text.delta", "item_id": mid, "output_index": 0, "content_index": 0, "delta": text}),
        )?;
        sse(
            out,
            &json!({"type": "response.output_text.done", "item_id": mid, "output_index": 0, "content_index": 0, "text": text}),
        )?;
        sse(
            out,
            &json!({"type": "response.output_item.done", "output_index": 0,
            "item": {"type": "message", "id": mid, "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}]}}),
        )?;
    }
    sse(
        out,
        &json!({"type": "response.completed", "response": {"id": id, "object": "response", "model": model,
        "status": "completed", "usage": {"input_tokens": 100, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 10, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 110}}}),
    )
}

fn messages(out: &mut TcpStream, body: &Value, n: u32) -> std::io::Result<()> {
    let offers_bash = body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| t["name"] == "Bash");
    let has_tool_result = body["messages"].as_array().into_iter().flatten().any(|m| {
        m["content"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|b| b["type"] == "tool_result")
    });
    let wants_tool =
        offers_bash && last_user_text(body, "messages").contains("RUN_TOOL") && !has_tool_result;
    let model = body["model"].as_str().unwrap_or("claude-fake").to_owned();
    let mid = format!("msg_fake_{n}");
    let (block, stop) = if wants_tool {
        (
            json!({"type": "tool_use", "id": format!("toolu_fake_{n}"), "name": "Bash",
            "input": {"command": "echo tool-ran", "description": "fake tool call"}}),
            "tool_use",
        )
    } else {
        (
            json!({"type": "text", "text": answer_text(body)}),
            "end_turn",
        )
    };
    let usage = json!({"input_tokens": 100, "output_tokens": 10, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0});
    if body["stream"] != true {
        return json_reply(
            out,
            200,
            &json!({"id": mid, "type": "message", "role": "assistant", "model": model,
            "content": [block], "stop_reason": stop, "stop_sequence": null, "usage": usage}),
        );
    }
    sse_head(out)?;
    sse(
        out,
        &json!({"type": "message_start", "message": {"id": mid, "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": usage}}),
    )?;
    if block["type"] == "text" {
        sse(
            out,
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        )?;
        sse(
            out,
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": block["text"]}}),
        )?;
    } else {
        sse(
            out,
            &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use",
            "id": block["id"], "name": "Bash", "input": {}}}),
        )?;
        sse(
            out,
            &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta",
            "partial_json": block["input"].to_string()}}),
        )?;
    }
    sse(out, &json!({"type": "content_block_stop", "index": 0}))?;
    sse(
        out,
        &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 10}}),
    )?;
    sse(out, &json!({"type": "message_stop"}))
}
