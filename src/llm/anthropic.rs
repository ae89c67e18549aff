//! The Anthropic Messages API (`POST …/v1/messages`), also spoken by MiniMax's
//! Anthropic-compatible endpoint (`https://api.minimax.io/anthropic/v1/messages`, or
//! `api.minimaxi.com` in the `cn` region).
//!
//! JSON output is obtained with a forced tool call: the request offers one tool,
//! [`SUBMIT_TOOL`], whose `input_schema` is the answer's schema, and sets `tool_choice` to it;
//! the answer is that tool call's `input`. An endpoint that rejects tools (a 400 naming `tool`)
//! is asked again without them and must then answer JSON as text, as the prompt requires; an
//! answer without a tool call falls back to its text blocks. Thinking blocks are ignored.

use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{HttpClient, HttpResponse, excerpt};
use super::openai::parse_sse;
use super::{Completion, LlmRequest, ProviderError, Usage};

/// Name of the tool the model is forced to call with its answer.
pub const SUBMIT_TOOL: &str = "submit_answer";

/// The `anthropic-version` header value.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// An Anthropic-style Messages endpoint.
#[derive(Debug)]
pub struct MessagesEndpoint {
    /// HTTP client (timeouts, retries).
    pub client: HttpClient,
    /// Full POST URL.
    pub url: String,
    /// API key, sent as `x-api-key` (and as a bearer token when `bearer_auth`).
    pub key: String,
    /// Default cap on generated tokens.
    pub max_tokens: u32,
    /// Also send `Authorization: Bearer <key>` (MiniMax accepts either; some proxies need it).
    pub bearer_auth: bool,
}

impl MessagesEndpoint {
    fn body(&self, request: &LlmRequest, model: &str, with_tool: bool) -> Value {
        let mut body = json!({
            "model": model,
            "system": request.system,
            "messages": [{"role": "user", "content": request.user}],
            "max_tokens": request.max_tokens.unwrap_or(self.max_tokens),
            "temperature": 0,
        });
        if let (true, Some(spec)) = (with_tool, &request.schema) {
            body["tools"] = json!([{
                "name": SUBMIT_TOOL,
                "description": format!("Submit the answer ({}) as structured JSON.", spec.name),
                "input_schema": spec.schema,
            }]);
            body["tool_choice"] = json!({"type": "tool", "name": SUBMIT_TOOL});
        }
        body
    }

    /// Sends the request; a 400 naming tools retries once without the forced tool call.
    pub fn complete(&self, request: &LlmRequest, model: &str) -> Result<Completion, ProviderError> {
        let mut headers = vec![
            ("x-api-key", self.key.clone()),
            ("anthropic-version", ANTHROPIC_VERSION.to_owned()),
        ];
        if self.bearer_auth {
            headers.push(("authorization", format!("Bearer {}", self.key)));
        }
        let first = self
            .client
            .post_json(&self.url, &headers, &self.body(request, model, true));
        let response = match first {
            Err(ProviderError::Http {
                status: 400,
                ref body,
                ..
            }) if request.schema.is_some() && body.to_ascii_lowercase().contains("tool") => self
                .client
                .post_json(&self.url, &headers, &self.body(request, model, false))?,
            other => other?,
        };
        parse_messages(&self.client.label, &self.url, &response, request, model)
    }
}

#[derive(Deserialize, Default)]
struct MessageWire {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    content: Vec<Value>,
    #[serde(default)]
    usage: Option<UsageWire>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct UsageWire {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

fn malformed(label: &str, url: &str, message: impl Into<String>) -> ProviderError {
    ProviderError::MalformedResponse {
        provider: label.to_owned(),
        url: url.to_owned(),
        message: message.into(),
    }
}

/// Rebuilds a message from a streamed answer (`message_start`, `content_block_*`,
/// `message_delta`).
fn message_from_sse(body: &str) -> MessageWire {
    let mut message = MessageWire::default();
    let mut blocks: Vec<(Value, String)> = Vec::new();
    for (_, data) in parse_sse(body) {
        let Ok(event) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        match event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "message_start" => {
                if let Some(m) = event.get("message") {
                    message.model = m.get("model").and_then(Value::as_str).map(str::to_owned);
                    message.usage = m
                        .get("usage")
                        .and_then(|u| serde_json::from_value(u.clone()).ok());
                }
            }
            "content_block_start" => {
                let block = event.get("content_block").cloned().unwrap_or(Value::Null);
                blocks.push((block, String::new()));
            }
            "content_block_delta" => {
                if let (Some(delta), Some((_, buf))) = (event.get("delta"), blocks.last_mut()) {
                    for key in ["text", "partial_json"] {
                        if let Some(s) = delta.get(key).and_then(Value::as_str) {
                            buf.push_str(s);
                        }
                    }
                }
            }
            "message_delta" => {
                if let Some(out) = event
                    .pointer("/usage/output_tokens")
                    .and_then(Value::as_u64)
                {
                    let usage = message.usage.get_or_insert_with(UsageWire::default);
                    usage.output_tokens = Some(out);
                }
            }
            "error" => message.error = event.get("error").cloned(),
            _ => {}
        }
    }
    for (mut block, buf) in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => block["text"] = Value::String(buf),
            Some("tool_use") => {
                block["input"] = serde_json::from_str(&buf).unwrap_or(Value::String(buf));
            }
            _ => {}
        }
        message.content.push(block);
    }
    message
}

fn parse_messages(
    label: &str,
    url: &str,
    response: &HttpResponse,
    request: &LlmRequest,
    model: &str,
) -> Result<Completion, ProviderError> {
    let is_sse = response.content_type.contains("text/event-stream")
        || response.body.trim_start().starts_with("event:");
    let wire: MessageWire = if is_sse {
        message_from_sse(&response.body)
    } else {
        serde_json::from_str(&response.body).map_err(|e| {
            malformed(
                label,
                url,
                format!(
                    "the body is not a Messages API answer ({e}); starts with: {}",
                    excerpt(&response.body)
                ),
            )
        })?
    };
    if let Some(error) = wire.error.as_ref().filter(|e| !e.is_null()) {
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(malformed(
            label,
            url,
            format!("the API returned an error: {}", excerpt(message)),
        ));
    }
    if wire.kind.as_deref() == Some("error") {
        return Err(malformed(label, url, "the API returned an error object"));
    }
    let tool_input = wire.content.iter().find_map(|b| {
        (b.get("type").and_then(Value::as_str) == Some("tool_use"))
            .then(|| b.get("input").cloned())?
    });
    let text = match tool_input {
        Some(Value::String(s)) => s,
        Some(input) => input.to_string(),
        None => wire
            .content
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_owned(),
    };
    if text.trim().is_empty() {
        return Err(malformed(
            label,
            url,
            "the answer has no text and no tool call",
        ));
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
    fn a_streamed_tool_call_is_rebuilt_into_its_input() {
        let body = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"m\",\"usage\":{\"input_tokens\":7,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"submit_answer\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"operations\\\":\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"[]}\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":5}}\n\n",
        );
        let m = message_from_sse(body);
        assert_eq!(m.content[0]["input"], json!({"operations": []}));
        let usage = m.usage.unwrap();
        assert_eq!(
            (usage.input_tokens, usage.output_tokens),
            (Some(7), Some(5))
        );
    }
}
