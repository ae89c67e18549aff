//! The hook edge: decides whether an invocation is a host hook and, if so, guarantees the host
//! protocol whatever happens inside — valid output on stdout and exit code 0.
//!
//! Exit code 2 from a Stop hook *blocks* the agent (Codex and Claude Code both feed stderr back
//! as a prompt; see `client-protocols.md` §1.5, §2.4), so no error may ever escape as a non-zero
//! exit here, and a panic is caught and answered with [`FALLBACK_OUTPUT`]. Nothing is built that
//! the hook does not use: no provider, no analyzer, one TOML read, one SQLite connection.

use std::ffi::OsString;
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

/// A hook invocation, recognised either by clap or by [`recognize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookInvocation {
    /// Which hook.
    pub request: HookRequest,
    /// `--host`, when given.
    pub host: Option<HostArg>,
    /// `--home`, when given.
    pub home: Option<PathBuf>,
    /// `--profile`, when given.
    pub profile: Option<String>,
}

/// Recognises a hook invocation from the raw arguments (without the program name) without
/// building clap's command tree, which costs a hook process more than everything else it does
/// before touching the database.
///
/// Only the exact shapes hosts are configured with are recognised: `hook <event>`,
/// `session-start --from-stdin` and `stop-review --from-stdin`, with `--host`, `--home`,
/// `--profile`, `--json` (ignored by hooks) and, for the reference's entries, `--state-dir`
/// (accepted and unused, as with clap). Anything else — an unknown flag or value, `--help`, a
/// second positional, non-UTF-8 — returns `None` and the caller parses with clap, so a
/// command line means the same thing on both paths.
pub fn recognize(args: &[OsString]) -> Option<HookInvocation> {
    let mut command: Option<&str> = None;
    let mut event: Option<HookRequest> = None;
    let mut host = None;
    let mut home = None;
    let mut profile = None;
    let mut from_stdin = false;
    let mut state_dir = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let arg = arg.to_str()?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, None),
        };
        let mut value = || -> Option<String> {
            match inline {
                Some(v) => Some(v.to_owned()),
                // clap reads `--home -x` as a missing value, not as the value `-x`.
                None => iter
                    .next()?
                    .to_str()
                    .filter(|v| !v.starts_with('-'))
                    .map(str::to_owned),
            }
        };
        match flag {
            "--json" if inline.is_none() => {}
            "--from-stdin" if inline.is_none() => from_stdin = true,
            "--home" => home = Some(PathBuf::from(non_empty(value()?)?)),
            "--profile" => profile = Some(value()?),
            "--state-dir" => {
                non_empty(value()?)?;
                state_dir = true;
            }
            "--host" => {
                host = Some(match value()?.as_str() {
                    "codex" => HostArg::Codex,
                    "claude" => HostArg::Claude,
                    _ => return None,
                });
            }
            _ if arg.starts_with('-') => return None,
            _ if command.is_none() => command = Some(arg),
            _ if command == Some("hook") && event.is_none() => {
                event = Some(match arg {
                    "session-start" => HookRequest::SessionStart,
                    "user-prompt-submit" => HookRequest::UserPromptSubmit,
                    "stop" => HookRequest::Stop,
                    _ => return None,
                });
            }
            _ => return None,
        }
    }
    let request = match command? {
        "hook" if !from_stdin && !state_dir => event?,
        "session-start" if from_stdin => HookRequest::SessionStart,
        "stop-review" if from_stdin => HookRequest::Stop,
        _ => return None,
    };
    Some(HookInvocation {
        request,
        host,
        home,
        profile,
    })
}

/// clap rejects an empty value for a path option; so does [`recognize`] (by deferring to clap).
fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// The hook invocation `cli` describes, if it is one.
pub fn from_cli(cli: &Cli) -> Option<HookInvocation> {
    let (request, host) = hook_request(cli)?;
    Some(HookInvocation {
        request,
        host,
        home: cli.home.clone(),
        profile: cli.profile.clone(),
    })
}

/// Runs a hook and returns its exit code (always success): valid output for the host on
/// stdout whatever happens, a panic included.
pub fn dispatch(invocation: HookInvocation) -> ExitCode {
    let started = Instant::now();
    ignore_file_size_signal();
    let HookInvocation {
        request,
        host,
        home,
        profile,
    } = invocation;
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
    ExitCode::SUCCESS
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
    hooks::record_run(&ctx, request, host, &answer, started);
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
    // The process ends once the answer is printed: leave the connection (SQLite's parsed schema
    // and page cache) to the OS instead of freeing it one allocation at a time. Nothing is lost:
    // commits are already in the WAL and a hook's connection never checkpoints on close.
    std::mem::forget(ctx);
    answer.stdout
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use rstest::rstest;

    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    /// What clap makes of the same command line, as a hook invocation (`None`: not a hook, or
    /// a usage error).
    fn by_clap(args: &[&str]) -> Option<HookInvocation> {
        let argv = std::iter::once("csep").chain(args.iter().copied());
        Cli::try_parse_from(argv).ok().as_ref().and_then(from_cli)
    }

    #[rstest]
    #[case::hook_session_start(&["hook", "session-start"])]
    #[case::hook_with_host(&["hook", "stop", "--host", "claude"])]
    #[case::host_inline(&["hook", "user-prompt-submit", "--host=codex"])]
    #[case::plugin_command_line(&["--home", "/home/me/my csep", "hook", "stop"])]
    #[case::home_inline_and_json(&["--json", "hook", "--home=/h", "session-start"])]
    #[case::profile(&["--profile", "work", "hook", "stop"])]
    #[case::reference_session_start(&["session-start", "--from-stdin"])]
    #[case::reference_with_state_dir(&["session-start", "--state-dir", "/s", "--from-stdin"])]
    #[case::reference_stop(&["stop-review", "--from-stdin", "--host", "codex"])]
    fn a_recognised_hook_means_what_clap_makes_of_it(#[case] args: &[&str]) {
        let fast = recognize(&os(args));
        assert!(fast.is_some(), "{args:?} should take the fast path");
        assert_eq!(fast, by_clap(args), "{args:?}");
    }

    #[rstest]
    #[case::no_command(&[])]
    #[case::help(&["hook", "stop", "--help"])]
    #[case::short_flag(&["hook", "stop", "-h"])]
    #[case::version(&["--version"])]
    #[case::unknown_event(&["hook", "post-tool-use"])]
    #[case::missing_event(&["hook"])]
    #[case::extra_positional(&["hook", "stop", "extra"])]
    #[case::unknown_host(&["hook", "stop", "--host", "pi"])]
    #[case::missing_host_value(&["hook", "stop", "--host"])]
    #[case::value_looks_like_a_flag(&["--home", "--json", "hook", "stop"])]
    #[case::empty_home(&["--home", "", "hook", "stop"])]
    #[case::unknown_flag(&["hook", "stop", "--verbose"])]
    #[case::session_start_without_stdin(&["session-start", "--cwd", "/p"])]
    #[case::stop_review_with_payload_file(&["stop-review", "--hook-payload", "/p.json"])]
    #[case::from_stdin_on_hook(&["hook", "stop", "--from-stdin"])]
    #[case::other_command(&["status"])]
    #[case::double_dash(&["hook", "--", "stop"])]
    fn anything_else_is_left_to_clap(#[case] args: &[&str]) {
        assert_eq!(recognize(&os(args)), None, "{args:?}");
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_argument_is_left_to_clap() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![
            OsString::from("--home"),
            OsString::from_vec(vec![0xff, 0xfe]),
            OsString::from("hook"),
            OsString::from("stop"),
        ];
        assert_eq!(recognize(&args), None);
    }
}
