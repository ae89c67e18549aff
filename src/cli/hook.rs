//! The hook edge: decides whether an invocation is a host hook and, if so, guarantees the host
//! protocol whatever happens inside — valid output on stdout and exit code 0.
//!
//! Exit code 2 from a Stop hook *blocks* the agent (Codex and Claude Code both feed stderr back
//! as a prompt; see `client-protocols.md` §1.5, §2.4), so no error may ever escape as a non-zero
//! exit here. `{"continue":true}` is accepted by both hosts for every event we register (the
//! universal output fields), so it is the fallback output.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use crate::cli::args::{Cli, Command, HookEventArg};

/// Largest hook payload read from stdin (8 MiB); hosts send a few KiB. Anything larger is
/// treated as malformed rather than buffered without bound.
pub const MAX_PAYLOAD_BYTES: u64 = 8 * 1024 * 1024;

/// Output accepted by Codex and Claude Code for every hook event csep registers.
pub const FALLBACK_OUTPUT: &str = r#"{"continue":true}"#;

/// Which hook an invocation is, if it is one.
fn hook_event(cli: &Cli) -> Option<HookEventArg> {
    match &cli.command {
        Command::Hook(args) => Some(args.event),
        Command::SessionStart(args) if args.from_stdin => Some(HookEventArg::SessionStart),
        Command::StopReview(args) if args.from_stdin => Some(HookEventArg::Stop),
        _ => None,
    }
}

/// Runs the hook if `cli` is a hook invocation and returns its exit code (always success);
/// `None` for every other command.
pub fn dispatch(cli: &Cli) -> Option<ExitCode> {
    let event = hook_event(cli)?;
    let output = std::panic::catch_unwind(|| run(event)).unwrap_or_else(|_| FALLBACK_OUTPUT.into());
    let mut stdout = io::stdout().lock();
    // A host that closed the pipe early must not turn into a failure.
    let _ = stdout.write_all(output.as_bytes());
    let _ = stdout.write_all(b"\n");
    let _ = stdout.flush();
    Some(ExitCode::SUCCESS)
}

/// Reads the payload and answers. The foundation release has no memory to inject and no worker
/// to hand a Stop to yet, so every event answers with the universal no-op output.
fn run(_event: HookEventArg) -> String {
    let mut payload = Vec::new();
    let _ = io::stdin()
        .lock()
        .take(MAX_PAYLOAD_BYTES)
        .read_to_end(&mut payload);
    FALLBACK_OUTPUT.to_owned()
}
