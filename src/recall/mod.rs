//! Recall: tokenization (Latin and CJK), ranking and rendering with provenance and budgets.

pub mod analyze;
