//! TODO(fsutil): being written.
