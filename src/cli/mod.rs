//! Command-line interface: argument types, dispatch, output formats and exit codes.
