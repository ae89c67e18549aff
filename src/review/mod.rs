//! The reviewer: input from the archive, prompt, schema, parse and repair, offline heuristics,
//! trigger policy.
//!
//! [`ops`] is the contract between the reviewer and the compiler: the only things a model (or
//! the offline reviewer) may propose.

pub mod input;
pub mod offline;
pub mod ops;
pub mod parse;
pub mod runner;
pub mod schema;
pub mod signals;
pub mod trigger;

pub use runner::{ReviewResult, ReviewStatus, record_receipt, run};
