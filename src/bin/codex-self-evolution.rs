//! The `codex-self-evolution` binary: the reference implementation's command name, so hooks and
//! scripts written for it keep working. Same commands as `csep`.

fn main() -> std::process::ExitCode {
    csep::cli::main()
}
