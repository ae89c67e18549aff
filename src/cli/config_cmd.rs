//! `csep config …`: path, init, show, validate, list-profiles, use.

use crate::cli::Ctx;
use crate::cli::args::ConfigCommand;

/// Runs a config subcommand; returns the exit code.
pub fn run(_ctx: &Ctx, _cmd: ConfigCommand) -> anyhow::Result<u8> {
    Err(crate::cli::NotAvailable {
        command: "config",
        what: "pending merge",
    }
    .into())
}
