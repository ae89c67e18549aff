//! TODO(paths): being written.
