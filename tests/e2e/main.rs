//! End-to-end tests: the real `csep` and `codex-self-evolution` binaries, run through
//! `assert_cmd` in a fresh temporary home with csep's and the hosts' variables cleared.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support code: a failed setup step should abort the test loudly"
)]

mod cli;
mod compile;
mod config;
mod demo;
mod doctor;
mod fake_model;
mod fuzz;
mod hooks;
mod mcp;
mod memory;
mod migrate_worktrees;
mod ops;
mod plugin;
mod real_clients;
mod recall;
mod reliability;
mod review;
mod scripts;
mod security;
mod sessions;
mod skills;
mod skills_provider;
mod status;
mod status_activity;
mod support;
mod usage;
