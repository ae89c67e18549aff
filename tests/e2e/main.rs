//! End-to-end tests: the real `csep` and `codex-self-evolution` binaries, run through
//! `assert_cmd` in a fresh temporary home with csep's and the hosts' variables cleared.

mod cli;
mod hooks;
mod status;
mod support;
