//! LLM providers (OpenAI-compatible chat, OpenAI Responses, Anthropic Messages, MiniMax,
//! `codex exec`, `claude -p`, a generic command, a scripted dummy, offline), retries, timeouts,
//! token accounting and the spend ledger.
//!
//! A [`Provider`] is built from a `[profiles.<name>]` section ([`Profile`]) and the environment
//! snapshot ([`Env`], which already holds `.env.provider` keys). It answers one [`LlmRequest`]
//! (a system prompt, a user payload and an optional JSON Schema) with a [`Completion`] (the
//! model's text plus token usage). It does not parse domain JSON: the reviewer does.
//!
//! Invariants:
//! - **Nothing unredacted leaves the machine.** [`Provider::complete`] passes the system prompt
//!   and the user payload through [`crate::archive::redact`] before any byte is sent or piped.
//! - **Bounded.** Every HTTP attempt has a timeout, every response body a size cap
//!   ([`http::MAX_RESPONSE_BYTES`]), every child process a deadline; retries follow
//!   [`http::RetryPolicy`] (exponential backoff with jitter, `Retry-After` honoured).
//! - **Never a panic on bad input.** HTML pages, empty bodies, huge bodies and malformed JSON are
//!   [`ProviderError`]s that say what happened and what to check.
//! - **Child sessions are marked.** `codex exec` and `claude -p` children run with
//!   [`CHILD_SESSION_ENV`]`=1`, so csep's own hooks inside them return at once instead of
//!   reviewing csep's review.
//! - **Every call is accounted.** [`call`] checks the daily caps first ([`budget::check`]) and
//!   records one ledger row per call ([`budget::record`]).

pub mod anthropic;
pub mod budget;
pub mod dummy;
pub mod http;
pub mod openai;
pub mod subprocess;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::archive::redact::redact;
use crate::store::config::{Profile, Provider as ProviderKind, Region};
use crate::store::env::Env;

pub use budget::{BudgetExceeded, LedgerCtx};

/// Environment variable set to `1` in every child session csep starts (`codex exec`,
/// `claude -p`, a `command` provider).
///
/// csep's hooks check it first and exit at once with a no-op answer when it is set, so the
/// child's own Stop hook never enqueues a review of csep's review (an infinite loop otherwise).
pub const CHILD_SESSION_ENV: &str = "CSEP_CHILD_SESSION";

/// Whether `env` belongs to a child session csep started (see [`CHILD_SESSION_ENV`]).
pub fn is_child_session(env: &Env) -> bool {
    env.get(CHILD_SESSION_ENV).is_some_and(|v| v != "0")
}

/// Why a call is made; the ledger and the daily caps are kept per purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Reviewing a session.
    Review,
    /// LLM-assisted memory compilation.
    Compile,
    /// Skill synthesis.
    Skills,
    /// Anything else (smoke tests, `csep doctor`).
    Other,
}

impl Purpose {
    /// Every purpose, in display order.
    pub const ALL: [Purpose; 4] = [
        Purpose::Review,
        Purpose::Compile,
        Purpose::Skills,
        Purpose::Other,
    ];

    /// The stored name (`review`, `compile`, `skills`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Review => "review",
            Purpose::Compile => "compile",
            Purpose::Skills => "skills",
            Purpose::Other => "other",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A JSON Schema the answer must follow, sent as structured-output instructions where the
/// provider supports them.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonSchemaSpec {
    /// Short identifier (`[a-zA-Z0-9_-]`), e.g. `csep_review_output`.
    pub name: String,
    /// The schema, already in the strict subset providers accept (see
    /// `review::schema::provider_schema`).
    pub schema: serde_json::Value,
}

/// One request to a model: a system prompt and a user payload.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmRequest {
    /// Instructions (the reviewer's prompt).
    pub system: String,
    /// The material to work on (the session delta, as JSON text).
    pub user: String,
    /// Structured-output schema, when the answer must be JSON of a known shape.
    pub schema: Option<JsonSchemaSpec>,
    /// Cap on generated tokens; `None` uses the profile's `max_tokens`.
    pub max_tokens: Option<u32>,
}

impl LlmRequest {
    /// The same request with both texts passed through [`redact`].
    pub fn redacted(&self) -> LlmRequest {
        LlmRequest {
            system: redact(&self.system).into_owned(),
            user: redact(&self.user).into_owned(),
            schema: self.schema.clone(),
            max_tokens: self.max_tokens,
        }
    }

    /// Rough input size in tokens (characters / 4), used for budget checks and when a provider
    /// reports no usage.
    pub fn estimated_input_tokens(&self) -> u64 {
        estimate_tokens(&self.system) + estimate_tokens(&self.user)
    }
}

/// Estimates tokens as characters / 4, rounded up (CJK text counts one char as one token).
pub fn estimate_tokens(text: &str) -> u64 {
    let mut latin = 0u64;
    let mut wide = 0u64;
    for c in text.chars() {
        if c.is_ascii() {
            latin += 1;
        } else {
            wide += 1;
        }
    }
    latin.div_ceil(4) + wide
}

/// Tokens a call consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Whether the numbers were estimated (the provider reported no usage).
    pub is_estimated: bool,
}

impl Usage {
    /// Adds another call's usage; the sum is estimated if either part is.
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.output_tokens += other.output_tokens;
        self.is_estimated |= other.is_estimated;
    }

    /// Input plus output.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }

    /// Usage a provider reported, when it reported both counts.
    pub fn reported(input_tokens: Option<u64>, output_tokens: Option<u64>) -> Option<Usage> {
        Some(Usage {
            input_tokens: input_tokens?,
            output_tokens: output_tokens?,
            is_estimated: false,
        })
    }

    /// Usage estimated from the request and the answer text.
    pub fn estimate(request: &LlmRequest, answer: &str) -> Usage {
        Usage {
            input_tokens: request.estimated_input_tokens(),
            output_tokens: estimate_tokens(answer),
            is_estimated: true,
        }
    }
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The answer text (for structured output: the JSON text).
    pub text: String,
    /// Tokens spent, from the provider's usage fields or estimated.
    pub usage: Usage,
    /// The model that answered (as reported, else as requested).
    pub model: String,
    /// HTTP or process attempts made, retries included.
    pub attempts: u32,
}

/// Errors from building or calling a provider. Messages say what failed and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The profile's API key variable is not set in the environment or `.env.provider`.
    #[error(
        "profile `{profile}` needs the API key variable {var}, which is not set; add \
         `{var}=...` to .env.provider in the csep home (chmod 600) or export it, or switch \
         profiles with `csep config use offline`"
    )]
    MissingKey {
        /// The variable name.
        var: String,
        /// The profile that needs it.
        profile: String,
    },
    /// The profile is the offline reviewer: there is no model to call.
    #[error(
        "profile `{profile}` uses the offline reviewer, which calls no model; use the offline \
         reviewer directly"
    )]
    Offline {
        /// The profile.
        profile: String,
    },
    /// The profile cannot be used as configured.
    #[error("profile `{profile}`: {message}")]
    InvalidProfile {
        /// The profile.
        profile: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The server answered with an error status (after retries, when it was retryable).
    #[error("{provider}: HTTP {status} from {url}: {body}")]
    Http {
        /// Provider label (`profile/kind`).
        provider: String,
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the body (redacted, ≤ 500 chars).
        body: String,
    },
    /// The server answered an HTML page instead of JSON.
    #[error(
        "{provider}: {url} answered an HTML page (HTTP {status}) instead of JSON; base_url \
         probably points at a website, a proxy or a login page; check base_url in the profile"
    )]
    HtmlBody {
        /// Provider label.
        provider: String,
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// The server answered with an empty body.
    #[error("{provider}: {url} answered HTTP {status} with an empty body; check base_url")]
    EmptyBody {
        /// Provider label.
        provider: String,
        /// The endpoint.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// The body exceeded the size cap.
    #[error(
        "{provider}: the answer from {url} is larger than {limit} bytes and was not read; the \
         endpoint is not a chat model API or max_tokens is far too high"
    )]
    BodyTooLarge {
        /// Provider label.
        provider: String,
        /// The endpoint.
        url: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The body was not the JSON the API defines.
    #[error("{provider}: unexpected answer from {url}: {message}")]
    MalformedResponse {
        /// Provider label.
        provider: String,
        /// The endpoint (or program).
        url: String,
        /// What was wrong.
        message: String,
    },
    /// The request timed out (after retries).
    #[error(
        "{provider}: no complete answer from {url} within {seconds:.0} s (attempt {attempts}); \
         raise timeout_seconds in the profile or check the endpoint"
    )]
    Timeout {
        /// Provider label.
        provider: String,
        /// The endpoint (or program).
        url: String,
        /// The per-attempt timeout.
        seconds: f64,
        /// Attempts made.
        attempts: u32,
    },
    /// The connection failed (after retries).
    #[error("{provider}: cannot reach {url}: {message}; check base_url and the network")]
    Transport {
        /// Provider label.
        provider: String,
        /// The endpoint.
        url: String,
        /// The transport error.
        message: String,
    },
    /// The program of a CLI provider is not installed.
    #[error(
        "{provider}: `{program}` was not found on PATH; install it, or set `command = \
         [\"/path/to/{program}\"]` in the profile, or switch profiles"
    )]
    ProgramNotFound {
        /// Provider label.
        provider: String,
        /// The program name.
        program: String,
    },
    /// Starting or talking to the child process failed.
    #[error("{provider}: cannot run {program}: {source}")]
    Spawn {
        /// Provider label.
        provider: String,
        /// The program path.
        program: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The child process exited with an error.
    #[error("{provider}: {program} exited with {status}: {stderr}")]
    ChildFailed {
        /// Provider label.
        provider: String,
        /// The program path.
        program: PathBuf,
        /// Exit status as text (`code 1`, `signal 9`).
        status: String,
        /// The end of its stderr (redacted, ≤ 500 chars).
        stderr: String,
    },
    /// A scripted dummy provider ran out of answers, or was scripted to fail.
    #[error("dummy provider: {0}")]
    Dummy(String),
}

impl ProviderError {
    /// Whether the failure may have spent tokens (the request reached a model and then timed
    /// out), so the ledger records the estimated input.
    pub fn may_have_spent(&self) -> bool {
        matches!(self, ProviderError::Timeout { .. })
    }

    /// A short stable name for the ledger and receipts (`http_429`, `timeout`, ...).
    pub fn code(&self) -> String {
        match self {
            ProviderError::MissingKey { .. } => "missing_key".into(),
            ProviderError::Offline { .. } => "offline".into(),
            ProviderError::InvalidProfile { .. } => "invalid_profile".into(),
            ProviderError::Http { status, .. } => format!("http_{status}"),
            ProviderError::HtmlBody { .. } => "html_body".into(),
            ProviderError::EmptyBody { .. } => "empty_body".into(),
            ProviderError::BodyTooLarge { .. } => "body_too_large".into(),
            ProviderError::MalformedResponse { .. } => "malformed_response".into(),
            ProviderError::Timeout { .. } => "timeout".into(),
            ProviderError::Transport { .. } => "transport".into(),
            ProviderError::ProgramNotFound { .. } => "program_not_found".into(),
            ProviderError::Spawn { .. } => "spawn".into(),
            ProviderError::ChildFailed { .. } => "child_failed".into(),
            ProviderError::Dummy(_) => "dummy".into(),
        }
    }
}

/// The transport behind a [`Provider`].
#[derive(Debug)]
enum Backend {
    Offline,
    Chat(openai::ChatEndpoint),
    Responses(openai::ResponsesEndpoint),
    Messages(anthropic::MessagesEndpoint),
    Cli(subprocess::CliProvider),
    Dummy(dummy::Dummy),
}

/// A ready-to-call model backend built from one profile.
#[derive(Debug)]
pub struct Provider {
    profile: String,
    kind: ProviderKind,
    model: String,
    backend: Backend,
}

/// Default model per provider kind, used when the profile's `model` is empty.
pub fn default_model(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::OpenaiCompatible => "gpt-4.1-mini",
        ProviderKind::OpenaiResponses => "gpt-5-mini",
        ProviderKind::Anthropic => "claude-haiku-4-5",
        ProviderKind::Minimax => "MiniMax-M2.7",
        ProviderKind::Offline
        | ProviderKind::CodexCli
        | ProviderKind::ClaudeCli
        | ProviderKind::PiCli
        | ProviderKind::OpencodeCli
        | ProviderKind::Command
        | ProviderKind::Dummy => "",
    }
}

/// Default API key variable per provider kind, used when `api_key_env` is empty.
pub fn default_key_env(kind: ProviderKind) -> Option<&'static str> {
    match kind {
        ProviderKind::OpenaiCompatible | ProviderKind::OpenaiResponses => Some("OPENAI_API_KEY"),
        ProviderKind::Anthropic => Some("ANTHROPIC_API_KEY"),
        ProviderKind::Minimax => Some("MINIMAX_API_KEY"),
        ProviderKind::Offline
        | ProviderKind::CodexCli
        | ProviderKind::ClaudeCli
        | ProviderKind::PiCli
        | ProviderKind::OpencodeCli
        | ProviderKind::Command
        | ProviderKind::Dummy => None,
    }
}

/// MiniMax host for a region: `global` → `api.minimax.io`, `cn` → `api.minimaxi.com`.
///
/// An unset region reads `MINIMAX_REGION` (`cn`, case-insensitive) from `env`, as the reference
/// implementation did, and defaults to global.
pub fn minimax_endpoint(region: Region, env: &Env) -> &'static str {
    let is_cn = match region {
        Region::Cn => true,
        Region::Global => false,
        Region::Unset => env
            .get("MINIMAX_REGION")
            .is_some_and(|r| r.trim().eq_ignore_ascii_case("cn")),
    };
    if is_cn {
        "https://api.minimaxi.com/anthropic/v1/messages"
    } else {
        "https://api.minimax.io/anthropic/v1/messages"
    }
}

/// Joins a profile `base_url` with an API path, unless it already ends with it.
///
/// `https://api.deepseek.com/v1` + `/chat/completions` → `…/v1/chat/completions`; a base that
/// already ends in `/chat/completions` is used verbatim (the reference's convention).
pub fn endpoint_url(base_url: &str, path: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    if base.ends_with(path) {
        return base.to_owned();
    }
    // Anthropic-style bases are often given without `/v1` (`http://127.0.0.1:8080`).
    if path == "/v1/messages" && base.ends_with("/v1") {
        return format!("{base}/messages");
    }
    format!("{base}{path}")
}

impl Provider {
    /// Builds the provider of profile `name`.
    ///
    /// Keys come from `env` (the process environment plus `.env.provider`): the profile's
    /// `api_key_env`, else the provider's default variable. A missing key is
    /// [`ProviderError::MissingKey`]; a CLI provider whose program is not on `PATH` is
    /// [`ProviderError::ProgramNotFound`]. The `offline` provider builds fine and
    /// [`Provider::is_offline`] tells the caller to use the heuristic reviewer.
    pub fn from_profile(
        name: &str,
        profile: &Profile,
        env: &Env,
    ) -> Result<Provider, ProviderError> {
        let kind = profile.provider;
        let model = if profile.model.trim().is_empty() {
            default_model(kind).to_owned()
        } else {
            profile.model.trim().to_owned()
        };
        let label = format!("{name}/{kind}");
        let timeout = Duration::from_secs_f64(
            if profile.timeout_seconds.is_finite() && profile.timeout_seconds > 0.0 {
                profile.timeout_seconds
            } else {
                60.0
            },
        );
        let retry = http::RetryPolicy {
            max_retries: profile.max_retries,
            ..http::RetryPolicy::default()
        };
        let key = || -> Result<String, ProviderError> {
            let var = if profile.api_key_env.trim().is_empty() {
                default_key_env(kind).unwrap_or_default().to_owned()
            } else {
                profile.api_key_env.trim().to_owned()
            };
            env.get(&var)
                .map(str::to_owned)
                .ok_or(ProviderError::MissingKey {
                    var,
                    profile: name.to_owned(),
                })
        };
        let client = || http::HttpClient::new(label.clone(), timeout, retry.clone());
        let base = profile.base_url.trim();
        let backend = match kind {
            ProviderKind::Offline => Backend::Offline,
            ProviderKind::Dummy => Backend::Dummy(dummy::Dummy::default()),
            ProviderKind::OpenaiCompatible => Backend::Chat(openai::ChatEndpoint {
                client: client(),
                url: endpoint_url(
                    if base.is_empty() {
                        "https://api.openai.com/v1"
                    } else {
                        base
                    },
                    "/chat/completions",
                ),
                key: key()?,
                max_tokens: profile.max_tokens,
            }),
            ProviderKind::OpenaiResponses => Backend::Responses(openai::ResponsesEndpoint {
                client: client(),
                url: endpoint_url(
                    if base.is_empty() {
                        "https://api.openai.com/v1"
                    } else {
                        base
                    },
                    "/responses",
                ),
                key: key()?,
                max_tokens: profile.max_tokens,
            }),
            ProviderKind::Anthropic | ProviderKind::Minimax => {
                let url = if !base.is_empty() {
                    endpoint_url(base, "/v1/messages")
                } else if kind == ProviderKind::Minimax {
                    minimax_endpoint(profile.region, env).to_owned()
                } else {
                    "https://api.anthropic.com/v1/messages".to_owned()
                };
                Backend::Messages(anthropic::MessagesEndpoint {
                    client: client(),
                    url,
                    key: key()?,
                    max_tokens: profile.max_tokens,
                    bearer_auth: kind == ProviderKind::Minimax,
                })
            }
            ProviderKind::CodexCli
            | ProviderKind::ClaudeCli
            | ProviderKind::PiCli
            | ProviderKind::OpencodeCli
            | ProviderKind::Command => Backend::Cli(subprocess::CliProvider::new(
                &label, kind, profile, &model, env, timeout, retry,
            )?),
        };
        Ok(Provider {
            profile: name.to_owned(),
            kind,
            model,
            backend,
        })
    }

    /// Builds the provider of profile `name`, or the offline reviewer when it cannot be built.
    ///
    /// The second value says why the offline reviewer replaced the profile (missing key,
    /// program not installed, ...), for the receipt and `csep status`.
    pub fn from_profile_or_offline(
        name: &str,
        profile: &Profile,
        env: &Env,
    ) -> (Provider, Option<ProviderError>) {
        match Provider::from_profile(name, profile, env) {
            Ok(provider) => (provider, None),
            Err(e) => (Provider::offline(name), Some(e)),
        }
    }

    /// The offline heuristic reviewer, labelled with `profile`.
    pub fn offline(profile: &str) -> Provider {
        Provider {
            profile: profile.to_owned(),
            kind: ProviderKind::Offline,
            model: String::new(),
            backend: Backend::Offline,
        }
    }

    /// A dummy provider answering from `script`, in order (see [`dummy::Dummy`]).
    pub fn dummy(script: Vec<dummy::Scripted>) -> Provider {
        Provider {
            profile: "dummy".to_owned(),
            kind: ProviderKind::Dummy,
            model: "dummy".to_owned(),
            backend: Backend::Dummy(dummy::Dummy::new(script)),
        }
    }

    /// Replaces the retry policy (tests use millisecond backoffs).
    pub fn with_retry_policy(mut self, policy: http::RetryPolicy) -> Provider {
        match &mut self.backend {
            Backend::Chat(e) => e.client.retry = policy,
            Backend::Responses(e) => e.client.retry = policy,
            Backend::Messages(e) => e.client.retry = policy,
            Backend::Cli(c) => c.retry = policy,
            Backend::Offline | Backend::Dummy(_) => {}
        }
        self
    }

    /// The requests a dummy provider received (redacted), in order; empty for other providers.
    pub fn dummy_requests(&self) -> Vec<LlmRequest> {
        match &self.backend {
            Backend::Dummy(d) => d.requests(),
            _ => Vec::new(),
        }
    }

    /// Whether this is the offline heuristic reviewer (no model to call).
    pub fn is_offline(&self) -> bool {
        matches!(self.backend, Backend::Offline)
    }

    /// The profile name.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// The provider kind.
    pub fn kind(&self) -> ProviderKind {
        self.kind
    }

    /// The model requested (empty for CLI providers that use their own default).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// `profile/kind`, as used in messages and the ledger.
    pub fn label(&self) -> String {
        format!("{}/{}", self.profile, self.kind)
    }

    /// Sends `request` (redacted first) and returns the model's answer.
    ///
    /// Retries transient failures per the profile's retry policy. Does not check budgets or
    /// record anything: use [`call`] for that.
    pub fn complete(&self, request: &LlmRequest) -> Result<Completion, ProviderError> {
        let request = request.redacted();
        match &self.backend {
            Backend::Offline => Err(ProviderError::Offline {
                profile: self.profile.clone(),
            }),
            Backend::Chat(e) => e.complete(&request, &self.model),
            Backend::Responses(e) => e.complete(&request, &self.model),
            Backend::Messages(e) => e.complete(&request, &self.model),
            Backend::Cli(c) => c.complete(&request),
            Backend::Dummy(d) => d.complete(&request),
        }
    }
}

/// Errors from [`call`].
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// A daily cap would be crossed; nothing was called.
    #[error(transparent)]
    Budget(#[from] BudgetExceeded),
    /// The provider failed (the failure is in the ledger).
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The ledger could not be read or written.
    #[error("budget ledger: {0}")]
    Store(#[from] crate::store::db::StoreError),
}

/// Checks the budget, calls `provider`, and records the call in the ledger.
///
/// The check uses the request's estimated input tokens ([`budget::check`]); when a cap would be
/// crossed, nothing is called and [`CallError::Budget`] is returned so the caller records a
/// `skipped_budget` receipt. Successful calls record the provider's usage (or an estimate,
/// flagged); failed calls record zero tokens, except timeouts, which record the estimated input.
pub fn call(
    provider: &Provider,
    request: &LlmRequest,
    ledger: &LedgerCtx<'_>,
) -> Result<Completion, CallError> {
    let day = ledger.day();
    match budget::check(
        ledger.store,
        ledger.caps,
        ledger.purpose,
        &day,
        request.estimated_input_tokens(),
    ) {
        Ok(()) => {}
        Err(budget::BudgetError::Exceeded(e)) => return Err(CallError::Budget(e)),
        Err(budget::BudgetError::Store(e)) => return Err(CallError::Store(e)),
    }
    let started = Instant::now();
    let result = provider.complete(request);
    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (usage, status, model) = match &result {
        Ok(c) => (c.usage, "ok".to_owned(), c.model.clone()),
        Err(e) => {
            let usage = if e.may_have_spent() {
                Usage {
                    input_tokens: request.estimated_input_tokens(),
                    output_tokens: 0,
                    is_estimated: true,
                }
            } else {
                Usage::default()
            };
            (
                usage,
                format!("error:{}", e.code()),
                provider.model().to_owned(),
            )
        }
    };
    budget::record(
        ledger.store,
        &budget::LedgerRecord {
            at: ledger.now.clone().unwrap_or_else(crate::store::time::now),
            provider: provider.label(),
            model: (!model.is_empty()).then_some(model),
            purpose: ledger.purpose,
            usage,
            duration_ms,
            status,
            project_id: ledger.project_id.map(str::to_owned),
        },
    )?;
    Ok(result?)
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
