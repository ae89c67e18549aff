//! The `codex-self-evolution` binary: the reference implementation's command name, so hooks and
//! scripts written for it keep working. Same commands as `csep`; `recall` prints JSON with
//! every match by default, as the reference's did.

fn main() -> std::process::ExitCode {
    csep::cli::main_as(csep::cli::Binary::Reference)
}
