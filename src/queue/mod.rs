//! Suggestion envelopes and their state machine with leases and attempts.
//!
//! An envelope is one review's output ([`ReviewOutput`](crate::review::ops::ReviewOutput) JSON, redacted) queued for one project.
//! States and transitions (every one recorded in `suggestion_transitions`):
//!
//! ```text
//! (new) ──enqueue──▶ pending ──claim──▶ processing ──complete──▶ done
//!                       ▲                  │  │ ──fail──▶ failed ──claim (attempts < 3)──▶ processing
//!                       └─lease expired────┘  └──discard──▶ discarded
//!          processing with an expired lease and 3 attempts ──▶ failed (terminal)
//! ```
//!
//! Invariants:
//! - **Enqueue once.** The idempotency key is a hash of session, turn and the canonical payload,
//!   unique in the table, so the same review never enqueues twice.
//! - **Claim once.** [`claim`] runs in a `BEGIN IMMEDIATE` transaction: two compiles never claim
//!   the same envelope, and a claim holds a lease (owner + expiry). Finishing an envelope
//!   ([`complete`], [`fail`], [`discard`]) checks the lease owner, so a compile whose lease was
//!   reclaimed cannot finish someone else's claim. Callers apply an envelope's operations and
//!   complete it in one transaction, so it is applied exactly once.
//! - **Crashes heal.** A claim whose lease expired (a killed compile) is reclaimed at the next
//!   claim: back to pending, or failed once it used its [`MAX_ATTEMPTS`].
//! - **Projects are isolated.** Claims and counts are per project.

mod machine;

pub use machine::*;

use serde::Serialize;

/// Claims an envelope may use before it fails for good.
pub const MAX_ATTEMPTS: u32 = 3;

/// Default lease of a claim, in seconds. The reference treated processing files older than
/// 30 minutes as stale; a deterministic compile of one batch takes milliseconds, and an LLM
/// backend must finish well within this.
pub const DEFAULT_LEASE_SECS: i64 = 1800;

/// The state of an envelope. Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting to be compiled.
    Pending,
    /// Claimed by a compile (leased).
    Processing,
    /// Compiled.
    Done,
    /// The compile failed; retried while attempts remain.
    Failed,
    /// Not compilable (corrupt payload, discarded by hand); never retried.
    Discarded,
}

impl State {
    /// Every state.
    pub const ALL: [State; 5] = [
        State::Pending,
        State::Processing,
        State::Done,
        State::Failed,
        State::Discarded,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Processing => "processing",
            State::Done => "done",
            State::Failed => "failed",
            State::Discarded => "discarded",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// A SQL statement failed.
    #[error("suggestion queue: {context}: {source}")]
    Sql {
        /// What was being done.
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A timestamp given to the queue does not parse.
    #[error("suggestion queue: `{value}` is not an RFC 3339 timestamp")]
    InvalidTime {
        /// The value.
        value: String,
    },
    /// The payload could not be serialized.
    #[error("suggestion queue: cannot serialize the review output: {0}")]
    Payload(#[from] serde_json::Error),
}

#[cfg(test)]
#[path = "queue_tests.rs"]
mod tests;
