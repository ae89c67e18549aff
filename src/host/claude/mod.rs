//! Claude Code adapter: hook payloads, hook output and the JSONL transcript parser.
//!
//! - [`wire`]: serde types for hook stdin/stdout and transcript records, as Claude Code 2.1.197
//!   writes them (samples in `tests/fixtures/claude/`).
//! - [`hook`]: stdin → [`crate::host::transcript::HookEvent`], and stdout renderers.
//! - [`transcript`]: transcript records → [`crate::host::transcript::TranscriptMessage`]s.

pub mod hook;
pub mod install;
pub mod transcript;
pub mod wire;
