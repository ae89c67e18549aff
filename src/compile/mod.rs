//! Compiler: drains the suggestion queue into deterministic memory operations and receipts.
