//! TODO(db): being written.
