//! Codex adapter: hook payloads, hook output and the rollout JSONL parser.
//!
//! - [`wire`]: serde types for hook stdin/stdout and rollout lines, as codex-cli 0.169 writes
//!   them (samples in `tests/fixtures/codex/`).
//! - [`hook`]: stdin → [`crate::host::transcript::HookEvent`], and stdout renderers.
//! - [`app_server`]: a JSON-RPC client for `codex app-server` (plugin hook trust).
//! - [`transcript`]: rollout lines → [`crate::host::transcript::TranscriptMessage`]s.

pub mod app_server;
pub mod hook;
pub mod install;
pub mod transcript;
pub mod wire;
