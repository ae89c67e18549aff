//! The memory store: entries, operations, dedupe, noise filter, budgets and projections.
