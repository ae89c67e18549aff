//! The `csep` binary: dispatch only; everything lives in the library.

fn main() -> std::process::ExitCode {
    csep::cli::main()
}
