//! Recall: tokenization (Latin and CJK), ranking and rendering with provenance and budgets.
//!
//! [`analyze`] is the one analyzer shared by every FTS writer and every query; [`search`] ranks
//! memory entries, recall entries and archived sessions; [`render`] turns results into
//! Markdown for models or JSON for tools; [`auto`] decides recall without being asked (the
//! `recall-trigger` detector and the UserPromptSubmit auto-recall); [`eval`] measures retrieval
//! quality on labelled fixtures.

pub mod analyze;
pub mod auto;
pub mod eval;
mod jieba_dict;
pub mod pool;
pub mod render;
pub mod search;
mod seen_terms;
mod word_cache;

pub use auto::{NoRecall, auto_recall};
pub use search::record_use;
