//! The hook edge: decides whether an invocation is a host hook and, if so, guarantees the host
//! protocol whatever happens inside — valid output on stdout and exit code 0.
//!
//! Exit code 2 from a Stop hook *blocks* the agent (Codex and Claude Code both feed stderr back
//! as a prompt; see `client-protocols.md` §1.5, §2.4), so no error may ever escape as a non-zero
//! exit here, and a panic is caught and answered with [`FALLBACK_OUTPUT`]. Nothing is built that
//! the hook does not use: no provider, no analyzer, one TOML read, one SQLite connection.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use crate::cli::args::{Cli, Command, HookEventArg, HostArg};
use crate::hooks::{self, CHILD_SESSION_ENV, HookCtx, HookRequest};
use crate::host::Host;
use crate::store::config::{self, Config, Overrides};
use crate::store::env::Env;
use crate::store::paths::{HOME_ENV, Paths};

/// Largest hook payload read from stdin (8 MiB); hosts send a few KiB. Anything larger is
/// cut there and then fails to parse, answered with the no-op output.
pub const MAX_PAYLOAD_BYTES: u64 = 8 * 1024 * 1024;

/// Output accepted by Codex and Claude Code for every hook event csep registers, used only when
/// the handler itself panicked.
pub const FALLBACK_OUTPUT: &str = "{}";

/// Which hook an invocation is, if it is one.
fn hook_request(cli: &Cli) -> Option<(HookRequest, Option<HostArg>)> {
    let request = |e: HookEventArg| match e {
        HookEventArg::SessionStart => HookRequest::SessionStart,
        HookEventArg::UserPromptSubmit => HookRequest::UserPromptSubmit,
        HookEventArg::Stop => HookRequest::Stop,
    };
    match &cli.command {
        Command::Hook(args) => Some((request(args.event), args.host)),
        Command::SessionStart(args) if args.from_stdin => {
            Some((HookRequest::SessionStart, args.host))
        }
        Command::StopReview(args) if args.from_stdin => Some((HookRequest::Stop, args.host)),
        _ => None,
    }
}

/// Runs the hook if `cli` is a hook invocation and returns its exit code (always success);
/// `None` for every other command.
pub fn dispatch(cli: &Cli) -> Option<ExitCode> {
    let (request, host) = hook_request(cli)?;
    let started = Instant::now();
    ignore_file_size_signal();
    let home = cli.home.clone();
    let profile = cli.profile.clone();
    let stdout = std::panic::catch_unwind(move || {
        let mut payload = Vec::new();
        let _ = io::stdin()
            .lock()
            .take(MAX_PAYLOAD_BYTES)
            .read_to_end(&mut payload);
        run(
            home.as_deref(),
            profile,
            request,
            host.map(Host::from),
            &payload,
            started,
        )
    })
    .unwrap_or_else(|_| FALLBACK_OUTPUT.to_owned());
    let mut out = io::stdout().lock();
    // A host that closed the pipe early must not turn into a failure.
    let _ = out.write_all(stdout.as_bytes());
    if !stdout.is_empty() {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
    Some(ExitCode::SUCCESS)
}

/// Ignores `SIGXFSZ`, so a write past a file-size limit (`ulimit -f`) fails with `EFBIG` and is
/// handled like any other write error, instead of killing the hook with a signal the host would
/// report as a failed hook.
fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler code; it is
    // async-signal-safe and done before any thread is spawned by the hook.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

fn run(
    home: Option<&Path>,
    profile: Option<String>,
    request: HookRequest,
    host: Option<Host>,
    payload: &[u8],
    started: Instant,
) -> String {
    let env = Env::from_process();
    let cwd = std::env::current_dir().ok();
    let user_home = env.get("HOME").map(PathBuf::from);
    let paths = match Paths::resolve(
        home,
        env.get(HOME_ENV),
        user_home.as_deref(),
        cwd.as_deref(),
    ) {
        Ok(paths) => paths,
        // No home at all: still answer the host.
        Err(_) => Paths::at(std::env::temp_dir().join("csep-no-home")),
    };
    let (config, config_error) = match config::load(&paths.home, &env, &Overrides { profile }) {
        Ok(loaded) => (loaded.config, None),
        Err(e) => (Config::default(), Some(e.to_string())),
    };
    let log_ready = paths.ensure_home().is_ok()
        && crate::store::log::init(&paths.log_file(), &crate::cli::log_settings(&config)).is_ok();
    let ctx = HookCtx {
        paths,
        config,
        exe: std::env::current_exe().ok(),
        is_child_session: env.get(CHILD_SESSION_ENV).is_some(),
        no_spawn: env.get("CSEP_NO_SPAWN_WORKER").is_some(),
        store: std::cell::OnceCell::new(),
    };
    let answer = hooks::run(&ctx, request, host, payload);
    hooks::record_run(&ctx, request, &answer, started);
    if log_ready {
        let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let host = answer
            .event
            .as_ref()
            .map(|e| e.host.as_str())
            .unwrap_or("unknown");
        tracing::info!(
            kind = "hook",
            event = request.kind().as_str(),
            host,
            outcome = answer.outcome,
            detail = answer.detail.as_deref().unwrap_or(""),
            config_error = config_error.as_deref().unwrap_or(""),
            exit_code = 0,
            duration_us,
            "hook completed"
        );
    }
    answer.stdout
}
