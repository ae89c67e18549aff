//! The `dummy` provider: scripted answers for tests, no network.
//!
//! A dummy built from a profile (`provider = "dummy"`) answers `{"operations":[]}` to every
//! request. One built with [`Dummy::new`] pops its script in order and fails with
//! [`ProviderError::Dummy`] once the script is exhausted. Every request it receives is kept, so a
//! test can assert what would have been sent (already redacted).

use std::collections::VecDeque;
use std::sync::Mutex;

use super::{Completion, LlmRequest, ProviderError, Usage};

/// The answer a dummy gives with no script.
pub const EMPTY_ANSWER: &str = r#"{"operations":[]}"#;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Scripted {
    /// Answer this text, with usage estimated.
    Text(String),
    /// Answer this text with the given (input, output) usage.
    TextWithUsage(String, u64, u64),
    /// Fail with this message.
    Fail(String),
}

/// A scripted provider.
#[derive(Debug, Default)]
pub struct Dummy {
    script: Option<Mutex<VecDeque<Scripted>>>,
    requests: Mutex<Vec<LlmRequest>>,
}

impl Dummy {
    /// A dummy that answers from `script`, in order.
    pub fn new(script: Vec<Scripted>) -> Self {
        Self {
            script: Some(Mutex::new(script.into())),
            requests: Mutex::new(Vec::new()),
        }
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<LlmRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Answers one request.
    pub fn complete(&self, request: &LlmRequest) -> Result<Completion, ProviderError> {
        if let Ok(mut requests) = self.requests.lock() {
            requests.push(request.clone());
        }
        let next = match &self.script {
            None => Scripted::Text(EMPTY_ANSWER.to_owned()),
            Some(script) => script
                .lock()
                .map_err(|_| ProviderError::Dummy("script lock poisoned".into()))?
                .pop_front()
                .ok_or_else(|| ProviderError::Dummy("the script has no more answers".into()))?,
        };
        let (text, usage) = match next {
            Scripted::Fail(message) => return Err(ProviderError::Dummy(message)),
            Scripted::Text(text) => {
                let usage = Usage::estimate(request, &text);
                (text, usage)
            }
            Scripted::TextWithUsage(text, input_tokens, output_tokens) => (
                text,
                Usage {
                    input_tokens,
                    output_tokens,
                    is_estimated: false,
                },
            ),
        };
        Ok(Completion {
            text,
            usage,
            model: "dummy".to_owned(),
            attempts: 1,
        })
    }
}
