//! OpenAI wire formats: Chat Completions (`POST …/chat/completions`, used by most
//! OpenAI-compatible vendors) and the Responses API (`POST …/responses`, JSON or SSE).
//!
//! Structured output is requested with a JSON Schema (`response_format.json_schema` for chat,
//! `text.format` for responses, `strict: false` so optional fields stay optional). Endpoints
//! differ in what they accept, so a 400 that names a parameter degrades the request one step and
//! tries again: `json_schema` → `json_object` → no format; `max_tokens` →
//! `max_completion_tokens`; `temperature` dropped. At most [`MAX_ADAPTATIONS`] such steps.

use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{HttpClient, HttpResponse};
use super::{Completion, LlmRequest, ProviderError, Usage};

/// Most request downgrades tried after 400s naming a parameter.
pub const MAX_ADAPTATIONS: usize = 4;

/// How the chat request asks for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonMode {
    Schema,
    Object,
    None,
}

/// An OpenAI-compatible Chat Completions endpoint.
#[derive(Debug)]
pub struct ChatEndpoint {
    /// HTTP client (timeouts, retries).
    pub client: HttpClient,
    /// Full POST URL.
    pub url: String,
    /// API key, sent as `Authorization: Bearer`.
    pub key: String,
    /// Default cap on generated tokens.
    pub max_tokens: u32,
}

/// Request knobs that a 400 can turn off.
#[derive(Debug, Clone, Copy)]
struct ChatShape {
    json: JsonMode,
    completion_tokens_name: bool,
    temperature: bool,
}

impl ChatEndpoint {
    fn body(&self, request: &LlmRequest, model: &str, shape: ChatShape) -> Value {
        let mut body = json!({
            "model": model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
        });
        let max = request.max_tokens.unwrap_or(self.max_tokens);
        let key = if shape.completion_tokens_name {
            "max_completion_tokens"
        } else {
            "max_tokens"
        };
        body[key] = json!(max);
        if shape.temperature {
            body["temperature"] = json!(0);
        }
        match (shape.json, &request.schema) {
            (JsonMode::Schema, Some(spec)) => {
                body["response_format"] = json!({
                    "type": "json_schema",
                    "json_schema": {"name": spec.name, "schema": spec.schema, "strict": false},
                });
            }
            (JsonMode::Schema | JsonMode::Object, _) => {
                body["response_format"] = json!({"type": "json_object"});
            }
            (JsonMode::None, _) => {}
        }
        body
    }

    /// Sends the request, degrading unsupported parameters on 400s.
    pub fn complete(&self, request: &LlmRequest, model: &str) -> Result<Completion, ProviderError> {
        let mut shape = ChatShape {
            json: JsonMode::Schema,
            completion_tokens_name: false,
            temperature: true,
        };
        let headers = [("authorization", format!("Bearer {}", self.key))];
        let mut adaptations = 0;
        loop {
            let body = self.body(request, model, shape);
            match self.client.post_json(&self.url, &headers, &body) {
                Ok(response) => {
                    return parse_chat(&self.client.label, &self.url, &response, request, model);
                }
                Err(ProviderError::Http {
                    status: 400,
                    ref body,
                    ..
                }) if adaptations < MAX_ADAPTATIONS => {
                    let lower = body.to_ascii_lowercase();
                    let before = (shape.json, shape.completion_tokens_name, shape.temperature);
                    if lower.contains("max_tokens") && !shape.completion_tokens_name {
                        shape.completion_tokens_name = true;
                    } else if lower.contains("temperature") && shape.temperature {
                        shape.temperature = false;
                    } else if lower.contains("response_format")
                        || lower.contains("json_schema")
                        || lower.contains("json_object")
                    {
                        shape.json = match shape.json {
                            JsonMode::Schema => JsonMode::Object,
                            JsonMode::Object | JsonMode::None => JsonMode::None,
                        };
                    }
                    if before == (shape.json, shape.completion_tokens_name, shape.temperature) {
                        return Err(ProviderError::Http {
                            provider: self.client.label.clone(),
                            url: self.url.clone(),
                            status: 400,
                            body: body.clone(),
                        });
                    }
                    tracing::info!(provider = %self.client.label, "request parameter not supported; retrying with a simpler request");
                    adaptations += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[derive(Deserialize)]
struct ChatResponseWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<ChatChoiceWire>,
    #[serde(default)]
    usage: Option<ChatUsageWire>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize)]
struct ChatChoiceWire {
    #[serde(default)]
    message: Option<ChatMessageWire>,
}

#[derive(Deserialize)]
struct ChatMessageWire {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct ChatUsageWire {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

fn malformed(label: &str, url: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::MalformedResponse {
        provider: label.to_owned(),
        url: url.to_owned(),
        message: message.into(),
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(
    label: &str,
    url: &str,
    body: &str,
) -> Result<T, ProviderError> {
    serde_json::from_str(body).map_err(|e| {
        malformed(
            label,
            url,
            format!(
                "the body is not the JSON this API defines ({e}); starts with: {}",
                super::http::excerpt(body)
            ),
        )
    })
}

fn api_error(label: &str, url: &str, error: &Value) -> ProviderError {
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .map_or_else(|| error.to_string(), str::to_owned);
    malformed(
        label,
        url,
        format!(
            "the API returned an error: {}",
            super::http::excerpt(&message)
        ),
    )
}

/// Text of a chat `content`: a string, or an array of `{type: "text", text}` parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn parse_chat(
    label: &str,
    url: &str,
    response: &HttpResponse,
    request: &LlmRequest,
    model: &str,
) -> Result<Completion, ProviderError> {
    let wire: ChatResponseWire = parse_json(label, url, &response.body)?;
    if let Some(error) = &wire.error {
        return Err(api_error(label, url, error));
    }
    let message = wire
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message)
        .ok_or_else(|| malformed(label, url, "no choices[0].message in the answer"))?;
    let text = message
        .content
        .as_ref()
        .map(content_text)
        .unwrap_or_default();
    if text.trim().is_empty() {
        let why = message.refusal.map_or_else(
            || "the model returned no content".to_owned(),
            |r| format!("the model refused: {r}"),
        );
        return Err(malformed(label, url, why));
    }
    let usage = wire
        .usage
        .and_then(|u| Usage::reported(u.prompt_tokens, u.completion_tokens))
        .unwrap_or_else(|| Usage::estimate(request, &text));
    Ok(Completion {
        text,
        usage,
        model: wire.model.unwrap_or_else(|| model.to_owned()),
        attempts: response.attempts,
    })
}

/// An OpenAI Responses API endpoint.
#[derive(Debug)]
pub struct ResponsesEndpoint {
    /// HTTP client (timeouts, retries).
    pub client: HttpClient,
    /// Full POST URL.
    pub url: String,
    /// API key, sent as `Authorization: Bearer`.
    pub key: String,
    /// Default cap on generated tokens.
    pub max_tokens: u32,
}

impl ResponsesEndpoint {
    fn body(&self, request: &LlmRequest, model: &str, with_format: bool) -> Value {
        let mut body = json!({
            "model": model,
            "instructions": request.system,
            "input": [{"role": "user", "content": request.user}],
            "max_output_tokens": request.max_tokens.unwrap_or(self.max_tokens),
            "store": false,
        });
        if let (true, Some(spec)) = (with_format, &request.schema) {
            body["text"] = json!({"format": {
                "type": "json_schema", "name": spec.name, "schema": spec.schema, "strict": false,
            }});
        }
        body
    }

    /// Sends the request; a 400 naming the output format retries once without it.
    pub fn complete(&self, request: &LlmRequest, model: &str) -> Result<Completion, ProviderError> {
        let headers = [("authorization", format!("Bearer {}", self.key))];
        let first = self
            .client
            .post_json(&self.url, &headers, &self.body(request, model, true));
        let response = match first {
            Err(ProviderError::Http {
                status: 400,
                ref body,
                ..
            }) if request.schema.is_some()
                && ["text.format", "json_schema", "format"]
                    .iter()
                    .any(|k| body.contains(k)) =>
            {
                self.client
                    .post_json(&self.url, &headers, &self.body(request, model, false))?
            }
            other => other?,
        };
        parse_responses(&self.client.label, &self.url, &response, request, model)
    }
}

#[derive(Deserialize, Default)]
struct ResponsesWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    output: Vec<Value>,
    #[serde(default)]
    output_text: Option<String>,
    #[serde(default)]
    usage: Option<ResponsesUsageWire>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize, Clone, Copy)]
struct ResponsesUsageWire {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

/// Joins the `output_text` parts of every `message` item.
fn responses_output_text(output: &[Value]) -> String {
    let mut text = String::new();
    for item in output {
        if item.get("type").and_then(Value::as_str) != Some("message") {
            continue;
        }
        for part in item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if part.get("type").and_then(Value::as_str) == Some("output_text")
                && let Some(t) = part.get("text").and_then(Value::as_str)
            {
                text.push_str(t);
            }
        }
    }
    text
}

/// Parses a Server-Sent Events body into `(event, data)` pairs.
pub fn parse_sse(body: &str) -> Vec<(String, String)> {
    let mut events = Vec::new();
    let mut event = String::new();
    let mut data = String::new();
    for line in body.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !data.is_empty() || !event.is_empty() {
                events.push((std::mem::take(&mut event), std::mem::take(&mut data)));
            }
        } else if let Some(v) = line.strip_prefix("event:") {
            v.trim().clone_into(&mut event);
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    events
}

/// Reduces a Responses SSE stream to the final response object (deltas joined when the
/// stream ends before `response.completed`).
fn responses_from_sse(label: &str, url: &str, body: &str) -> Result<ResponsesWire, ProviderError> {
    let mut deltas = String::new();
    let mut done_text: Option<String> = None;
    let mut last: Option<ResponsesWire> = None;
    for (_, data) in parse_sse(body) {
        if data.trim() == "[DONE]" {
            continue;
        }
        let Ok(event) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        match event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "response.output_text.delta" => {
                if let Some(d) = event.get("delta").and_then(Value::as_str) {
                    deltas.push_str(d);
                }
            }
            "response.output_text.done" => {
                done_text = event.get("text").and_then(Value::as_str).map(str::to_owned);
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if let Some(r) = event.get("response") {
                    last = serde_json::from_value(r.clone()).ok();
                }
            }
            "error" => return Err(api_error(label, url, &event)),
            _ => {}
        }
    }
    let mut wire = last.unwrap_or_default();
    if let Some(error) = &wire.error
        && !error.is_null()
    {
        return Err(api_error(label, url, error));
    }
    if responses_output_text(&wire.output).is_empty() {
        wire.output_text = done_text.or((!deltas.is_empty()).then_some(deltas));
    }
    Ok(wire)
}

fn parse_responses(
    label: &str,
    url: &str,
    response: &HttpResponse,
    request: &LlmRequest,
    model: &str,
) -> Result<Completion, ProviderError> {
    let is_sse = response.content_type.contains("text/event-stream")
        || response.body.trim_start().starts_with("event:")
        || response.body.trim_start().starts_with("data:");
    let wire = if is_sse {
        responses_from_sse(label, url, &response.body)?
    } else {
        parse_json::<ResponsesWire>(label, url, &response.body)?
    };
    if let Some(error) = &wire.error
        && !error.is_null()
    {
        return Err(api_error(label, url, error));
    }
    let mut text = responses_output_text(&wire.output);
    if text.is_empty() {
        text = wire.output_text.clone().unwrap_or_default();
    }
    if text.trim().is_empty() {
        return Err(malformed(label, url, "the response has no output_text"));
    }
    let usage = wire
        .usage
        .and_then(|u| Usage::reported(u.input_tokens, u.output_tokens))
        .unwrap_or_else(|| Usage::estimate(request, &text));
    Ok(Completion {
        text,
        usage,
        model: wire.model.unwrap_or_else(|| model.to_owned()),
        attempts: response.attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_is_split_into_events_with_multiline_data() {
        let body = "event: a\ndata: {\"x\":1}\n\nevent: b\ndata: line1\ndata: line2\n\n: comment\n";
        assert_eq!(
            parse_sse(body),
            vec![
                ("a".to_owned(), "{\"x\":1}".to_owned()),
                ("b".to_owned(), "line1\nline2".to_owned())
            ]
        );
    }

    #[test]
    fn chat_content_may_be_a_string_or_parts() {
        assert_eq!(content_text(&json!("hi")), "hi");
        assert_eq!(
            content_text(&json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])),
            "ab"
        );
        assert_eq!(content_text(&Value::Null), "");
    }
}
