//! Session archive: incremental, redacted, origin-tagged transcript ingest and its FTS5 index.
//!
//! The tables it writes are created by the store migrations; [`redact`] is the single redaction
//! pass used by every write path and provider call; [`ingest`] turns transcript files into
//! `sessions`, `messages` and `messages_fts` rows.

pub mod ingest;
pub mod redact;
