//! The store: home paths, project identity, the SQLite database and its migrations,
//! configuration, `.env.provider` and logging.
//!
//! Library code takes paths and an [`env::Env`] snapshot; only the binary's entry point reads the
//! process environment.

pub mod config;
pub mod db;
pub mod env;
pub mod fsutil;
pub mod identity;
pub mod log;
pub mod paths;
pub mod project;
pub mod time;
