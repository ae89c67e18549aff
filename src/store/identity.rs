//! TODO(identity): being written.
