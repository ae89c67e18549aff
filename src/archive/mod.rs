//! Session archive: incremental, redacted, origin-tagged transcript ingest and its index.
//!
//! The tables it writes are created by the store migrations; [`redact`] is the single redaction
//! pass used by every write path and provider call; [`ingest`] turns transcript files into
//! `sessions` and `messages` rows, and [`index`] keeps the inverted index recall searches them
//! by.

pub mod index;
pub mod ingest;
pub mod redact;
