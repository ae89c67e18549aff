//! Session archive: incremental, redacted, origin-tagged transcript ingest and its index.
//!
//! The tables it writes are created by the store migrations; [`redact`] is the single redaction
//! pass used by every write path and provider call; [`ingest`] turns transcript files into
//! `sessions` and `messages` rows (preparing them on several threads through `deal`), and
//! [`index`] keeps the inverted index recall searches them by.

mod deal;
pub mod index;
pub mod ingest;
pub mod redact;
