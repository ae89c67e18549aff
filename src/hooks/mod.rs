//! Hook handlers (session-start, user-prompt-submit, stop): guards, budgets, spawning the worker.
//!
//! A hook never calls a model and never waits on the network; it always exits 0 with valid output
//! for its host.
