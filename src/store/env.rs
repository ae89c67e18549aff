//! TODO(env): being written.
