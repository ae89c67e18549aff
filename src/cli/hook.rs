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
use crate::host::transcript::{self, HookKind};
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
    /// Which hook; `None` for an event csep does not handle (`hook pre-tool-use`).
    pub request: Option<HookRequest>,
    /// `--host`, when given.
    pub host: Option<HostArg>,
    /// `--home`, when given.
    pub home: Option<PathBuf>,
    /// `--profile`, when given.
    pub profile: Option<String>,
    /// What is wrong with the command line (an unknown event, flag or host), when something
    /// is: the hook then answers the host's no-op output without running, and logs this.
    pub problem: Option<String>,
}

/// Recognises a hook invocation from the raw arguments (without the program name) without
/// building clap's command tree, which costs a hook process more than everything else it does
/// before touching the database.
///
/// The shapes hosts are configured with are recognised: `hook <event>` (the event in kebab
/// case or as the host spells it, `UserPromptSubmit`), `session-start --from-stdin` and
/// `stop-review --from-stdin`, with `--host`, `--home`, `--profile`, `--json` (ignored by
/// hooks) and, for the reference's entries, `--state-dir` (accepted and unused, as with clap).
///
/// Any other command line under `hook` (or a reference command with `--from-stdin`) — an
/// unknown event such as `pre-tool-use` or `PreCompact`, an unknown flag or host, a second
/// positional, non-UTF-8 — is still a hook invocation, with its [`HookInvocation::problem`]
/// set: clap would exit 2 on it, and both hosts read exit 2 as "block" (a blocked Stop makes
/// the agent go on). Only `--help`/`-h` and command lines that are not hooks return `None` and
/// go to clap, so a valid command line means the same thing on both paths.
pub fn recognize(args: &[OsString]) -> Option<HookInvocation> {
    let mut command: Option<&str> = None;
    let mut event: Option<Result<HookRequest, &str>> = None;
    let mut host = None;
    let mut home = None;
    let mut profile = None;
    let mut from_stdin = false;
    let mut state_dir = false;
    let mut help = false;
    let mut problem: Option<String> = None;
    // After `--` every argument is a positional, as with clap.
    let mut positionals_only = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(arg) = arg.to_str() else {
            problem.get_or_insert_with(|| "a non-UTF-8 argument".to_owned());
            continue;
        };
        if arg == "--" && !positionals_only {
            positionals_only = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            _ if positionals_only => ("", None),
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
        let missing = || format!("`{flag}` needs a value");
        match flag {
            "--json" if inline.is_none() => {}
            "--from-stdin" if inline.is_none() => from_stdin = true,
            "--help" | "-h" if inline.is_none() => help = true,
            "--home" => match value().and_then(non_empty) {
                Some(v) => home = Some(PathBuf::from(v)),
                None => {
                    problem.get_or_insert_with(missing);
                }
            },
            "--profile" => match value() {
                Some(v) => profile = Some(v),
                None => {
                    problem.get_or_insert_with(missing);
                }
            },
            "--state-dir" => {
                if value().and_then(non_empty).is_none() {
                    problem.get_or_insert_with(missing);
                }
                state_dir = true;
            }
            "--host" => match value().as_deref() {
                Some("codex") => host = Some(HostArg::Codex),
                Some("claude") => host = Some(HostArg::Claude),
                Some(other) => {
                    problem.get_or_insert_with(|| {
                        format!("unknown host `{other}` (csep knows codex and claude)")
                    });
                }
                None => {
                    problem.get_or_insert_with(missing);
                }
            },
            _ if arg.starts_with('-') && !positionals_only => {
                problem.get_or_insert_with(|| format!("unknown flag `{arg}`"));
            }
            _ if command.is_none() => command = Some(arg),
            _ if command == Some("hook") && event.is_none() => {
                event = Some(event_named(arg).ok_or(arg));
            }
            _ => {
                problem.get_or_insert_with(|| format!("unexpected argument `{arg}`"));
            }
        }
    }
    let request = match command? {
        _ if help => return None,
        "hook" => {
            if from_stdin || state_dir {
                problem.get_or_insert_with(|| {
                    "`--from-stdin` and `--state-dir` belong to the reference's commands".to_owned()
                });
            }
            match event {
                Some(Ok(request)) => Some(request),
                Some(Err(name)) => {
                    problem.get_or_insert_with(|| format!("csep handles no hook event `{name}`"));
                    None
                }
                None => {
                    problem.get_or_insert_with(|| "no hook event named".to_owned());
                    None
                }
            }
        }
        "session-start" if from_stdin => Some(HookRequest::SessionStart),
        "stop-review" if from_stdin => Some(HookRequest::Stop),
        _ => return None,
    };
    Some(HookInvocation {
        request,
        host,
        home,
        profile,
        problem,
    })
}

/// The hook an event argument names: kebab case (`user-prompt-submit`, as csep installs it) or
/// the host's own spelling (`UserPromptSubmit`, its `hook_event_name`).
fn event_named(name: &str) -> Option<HookRequest> {
    match name {
        "session-start" | "SessionStart" => Some(HookRequest::SessionStart),
        "user-prompt-submit" | "UserPromptSubmit" => Some(HookRequest::UserPromptSubmit),
        "stop" | "Stop" => Some(HookRequest::Stop),
        _ => None,
    }
}

/// clap rejects an empty value for a path option; so does [`recognize`] (by deferring to clap).
fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// The hook invocation `cli` describes, if it is one.
pub fn from_cli(cli: &Cli) -> Option<HookInvocation> {
    let (request, host) = hook_request(cli)?;
    Some(HookInvocation {
        request: Some(request),
        host,
        home: cli.home.clone(),
        profile: cli.profile.clone(),
        problem: None,
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
        problem,
    } = invocation;
    let stdout = std::panic::catch_unwind(move || {
        let mut payload = Vec::new();
        let _ = io::stdin()
            .lock()
            .take(MAX_PAYLOAD_BYTES)
            .read_to_end(&mut payload);
        let host = host.map(Host::from);
        match (request, problem) {
            (Some(request), None) => {
                run(home.as_deref(), profile, request, host, &payload, started)
            }
            (request, problem) => refuse(
                home.as_deref(),
                profile,
                request,
                host,
                &payload,
                problem.as_deref().unwrap_or("no hook event"),
            ),
        }
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

/// What every hook invocation resolves before it acts: the environment, the home, the
/// configuration and the log.
struct Prepared {
    env: Env,
    paths: Paths,
    config: Config,
    /// Why the config file could not be used as written, for the log line.
    config_error: Option<String>,
    log_ready: bool,
}

fn prepare(home: Option<&Path>, profile: Option<String>) -> Prepared {
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
    // Lenient: an error elsewhere in the file must not cost the hook its own settings (the
    // CLI still reports it).
    let (config, config_error) = config::load_for_hook(&paths.home, &env, &Overrides { profile });
    let log_ready = paths.ensure_home().is_ok()
        && crate::store::log::init(&paths.log_file(), &crate::cli::log_settings(&config)).is_ok();
    Prepared {
        env,
        paths,
        config,
        config_error,
        log_ready,
    }
}

/// Answers a hook command line csep cannot act on (see [`recognize`]) with the host's no-op
/// output for the event — empty for an event csep does not handle — and logs `problem`. The
/// host is the one named, else the one the payload looks like, else Codex.
fn refuse(
    home: Option<&Path>,
    profile: Option<String>,
    request: Option<HookRequest>,
    host: Option<Host>,
    payload: &[u8],
    problem: &str,
) -> String {
    let prepared = prepare(home, profile);
    let host = host
        .or_else(|| {
            let text = std::str::from_utf8(payload).ok()?;
            Some(transcript::parse_hook_event(text, None).ok()??.host)
        })
        .unwrap_or(Host::Codex);
    let kind = request.map_or(HookKind::Other(String::new()), HookRequest::kind);
    if prepared.log_ready {
        tracing::warn!(
            kind = "hook",
            event = kind.as_str(),
            host = host.as_str(),
            outcome = "bad_command",
            detail = problem,
            exit_code = 0,
            "hook command line not understood; answered the no-op output"
        );
    }
    transcript::empty_output(host, &kind)
}

fn run(
    home: Option<&Path>,
    profile: Option<String>,
    request: HookRequest,
    host: Option<Host>,
    payload: &[u8],
    started: Instant,
) -> String {
    let Prepared {
        env,
        paths,
        config,
        config_error,
        log_ready,
    } = prepare(home, profile);
    let ctx = HookCtx {
        paths,
        config,
        exe: std::env::current_exe().ok(),
        is_child_session: env.get(CHILD_SESSION_ENV).is_some(),
        no_spawn: env.get("CSEP_NO_SPAWN_WORKER").is_some(),
        store: std::cell::OnceCell::new(),
        writes: crate::hooks::WriteBudget::default(),
    };
    // A hook's time is the agent's: never the full Chinese dictionary (about 200 ms).
    crate::recall::analyze::keep_segmenters_small();
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
    #[case::double_dash(&["hook", "--", "stop"])]
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
    #[case::session_start_without_stdin(&["session-start", "--cwd", "/p"])]
    #[case::stop_review_with_payload_file(&["stop-review", "--hook-payload", "/p.json"])]
    #[case::other_command(&["status"])]
    #[case::other_command_with_unknown_flag(&["status", "--bogus"])]
    fn anything_else_is_left_to_clap(#[case] args: &[&str]) {
        assert_eq!(recognize(&os(args)), None, "{args:?}");
    }

    #[rstest]
    #[case::pascal_case_prompt(&["hook", "UserPromptSubmit"], HookRequest::UserPromptSubmit)]
    #[case::pascal_case_start(&["hook", "SessionStart", "--host", "claude"], HookRequest::SessionStart)]
    #[case::pascal_case_stop(&["hook", "Stop"], HookRequest::Stop)]
    fn the_hosts_own_event_names_are_accepted(#[case] args: &[&str], #[case] want: HookRequest) {
        let fast = recognize(&os(args));
        assert_eq!(
            fast.as_ref().map(|i| (i.request, i.problem.clone())),
            Some((Some(want), None))
        );
        assert_eq!(fast, by_clap(args), "{args:?}");
    }

    /// Exit 2 from clap would block the agent (see the module docs): every one of these is
    /// still a hook, answered with the no-op output.
    #[rstest]
    #[case::unknown_event(&["hook", "post-tool-use"], None)]
    #[case::unknown_pascal_case_event(&["hook", "PreCompact"], None)]
    #[case::missing_event(&["hook"], None)]
    #[case::extra_positional(&["hook", "stop", "extra"], Some(HookRequest::Stop))]
    #[case::unknown_host(&["hook", "stop", "--host", "pi"], Some(HookRequest::Stop))]
    #[case::missing_host_value(&["hook", "stop", "--host"], Some(HookRequest::Stop))]
    #[case::value_looks_like_a_flag(&["--home", "--json", "hook", "stop"], Some(HookRequest::Stop))]
    #[case::empty_home(&["--home", "", "hook", "stop"], Some(HookRequest::Stop))]
    #[case::unknown_flag(&["hook", "stop", "--timeout", "5"], Some(HookRequest::Stop))]
    #[case::from_stdin_on_hook(&["hook", "stop", "--from-stdin"], Some(HookRequest::Stop))]
    #[case::reference_with_unknown_flag(
        &["stop-review", "--from-stdin", "--verbose"],
        Some(HookRequest::Stop)
    )]
    fn a_malformed_hook_command_line_is_still_a_hook_with_its_problem(
        #[case] args: &[&str],
        #[case] request: Option<HookRequest>,
    ) {
        let invocation = recognize(&os(args)).expect("a hook");
        assert_eq!(invocation.request, request, "{args:?}");
        assert!(invocation.problem.is_some(), "{args:?}");
        assert!(by_clap(args).is_none(), "clap refuses {args:?}");
    }

    #[test]
    fn a_refused_hook_answers_the_no_op_output_of_its_event_and_host() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let stop = br#"{"hook_event_name":"Stop","session_id":"s","transcript_path":"/x/.claude/projects/p/s.jsonl"}"#;
        let out = refuse(
            Some(&home),
            None,
            Some(HookRequest::Stop),
            None,
            stop,
            "test",
        );
        assert_eq!(out, transcript::empty_output(Host::Claude, &HookKind::Stop));
        let out = refuse(Some(&home), None, None, Some(Host::Codex), b"", "test");
        assert_eq!(
            out,
            transcript::empty_output(Host::Codex, &HookKind::Other(String::new()))
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_non_utf8_argument_to_a_hook_is_its_problem() {
        use std::os::unix::ffi::OsStringExt;
        let args = vec![
            OsString::from("--home"),
            OsString::from_vec(vec![0xff, 0xfe]),
            OsString::from("hook"),
            OsString::from("stop"),
        ];
        let invocation = recognize(&args).expect("a hook");
        assert!(invocation.problem.is_some());
    }
}
