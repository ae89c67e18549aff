//! csep — a self-evolution layer for AI coding agents.
//!
//! csep plugs into the lifecycle hooks of OpenAI Codex and Claude Code, archives each session
//! (redacted), reviews it for what should outlive it, compiles the reviewer's typed suggestions
//! into a structured memory store, and hands that memory back to the next session as injected
//! context, on-demand recall and native skills.
//!
//! The modules mirror the pipeline (see `ARCHITECTURE.md` §3); data flows one way:
//! [`host`] → [`hooks`] → [`archive`] / [`queue`] → [`review`] → [`compile`] → [`memory`];
//! [`recall`] and [`skills`] read the store. [`store`] owns the SQLite database, paths,
//! project identity, configuration and logging. [`cli`] only parses arguments and renders output.

pub mod archive;
pub mod cli;
pub mod compile;
pub mod demo;
pub mod hooks;
pub mod host;
mod hot;
pub mod llm;
pub mod memory;
pub mod queue;
pub mod recall;
pub mod review;
pub mod scheduler;
pub mod skills;
pub mod store;
pub mod worker;

/// The version of this build, as reported by `csep --version` and `csep status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
