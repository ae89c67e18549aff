//! Command-line interface: argument types ([`args`]), dispatch, output formats and exit codes.
//!
//! Exit codes: 0 success; 1 a command failed (one actionable line on stderr); 2 bad usage or a
//! capability not available in this build. Hook commands always exit 0 with valid output for
//! their host, whatever happens (see [`hook`]).
//!
//! Order of work for a command: parse arguments; hooks branch off first (cheap path); otherwise
//! resolve the home, install the log, dispatch, and write one summary log line with the
//! duration and exit code.

pub mod args;
pub mod compile_cmd;
pub mod completions;
pub mod config_cmd;
pub mod demo_cmd;
pub mod doctor;
pub mod eval;
pub mod eval_cmd;
pub mod hook;
pub mod import;
pub mod import_cmd;
pub mod install;
pub mod mcp;
pub mod memory_cmd;
pub mod migrate_worktrees;
pub mod output;
pub mod project_cmd;
pub mod recall;
pub mod review_cmd;
pub mod scheduler_cmd;
pub mod skills;
pub mod status;
pub mod usage;
pub mod worker_cmd;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser;
use tracing_subscriber::filter::LevelFilter;

use crate::store::config::{self, LoadedConfig, Overrides};
use crate::store::env::{Env, EnvProviderFile};
use crate::store::paths::{HOME_ENV, Paths};
use args::{Cli, Command, EvalCommand, ImportCommand};

/// What every command gets: resolved paths, the environment snapshot and global flags.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Where csep's state lives.
    pub paths: Paths,
    /// The process environment (plus `.env.provider` once hydrated).
    pub env: Env,
    /// `--json` was given.
    pub json: bool,
    /// Global flags that override config values.
    pub overrides: Overrides,
    /// The working directory, `None` when it no longer exists.
    pub cwd: Option<PathBuf>,
    /// Which executable runs (a few defaults follow the reference's under its name).
    pub binary: Binary,
}

/// The executable the command line was given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// `csep`.
    Csep,
    /// `codex-self-evolution`, the reference's command name: `recall` prints JSON with every
    /// match by default, as the reference's did, so scripts written for it keep working.
    Reference,
}

impl Ctx {
    /// Loads config.toml for this home with env and flag overrides.
    pub fn load_config(&self) -> Result<LoadedConfig, config::ConfigError> {
        config::load(&self.paths.home, &self.env, &self.overrides)
    }

    /// The directory a command acts on: `given`, else the process cwd.
    pub fn project_dir(&self, given: Option<&Path>) -> anyhow::Result<PathBuf> {
        match given {
            Some(dir) => Ok(match &self.cwd {
                Some(cwd) if dir.is_relative() => cwd.join(dir),
                _ => dir.to_path_buf(),
            }),
            None => self.cwd.clone().context(
                "the current directory no longer exists; cd into an existing directory or pass --cwd",
            ),
        }
    }
}

/// A command whose capability is not built yet; exits 2 with this message.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` is not available yet in csep {version}: {what}", version = crate::VERSION)]
pub struct NotAvailable {
    /// The command as typed.
    pub command: &'static str,
    /// What it will do.
    pub what: &'static str,
}

/// How much glibc's heap grows by past each request (its default is 128 KiB).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const HEAP_TOP_PAD: libc::c_int = 8 << 20;

/// Lets the heap grow in large steps. A recall over a large archive reads about a thousand
/// database pages, each into freshly allocated memory; grown 128 KiB at a time, the heap took
/// about 170 more page faults and 1 ms more per recall at 100k entries + 1M messages
/// (alternating runs, README). Only address space is reserved: pages count towards RSS when
/// touched, as before. Other allocators (macOS, musl) are left alone. Returns whether the
/// setting was taken.
fn pad_heap_growth() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a glibc malloc parameter and has no memory-safety
    // preconditions.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, HEAP_TOP_PAD) == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// A hint for a usage error clap cannot know the cause of: `csep recall deploy -staging` reads
/// `-s` as an unknown option, when the user meant to exclude a word.
fn usage_hint(error: &clap::Error, args: &[std::ffi::OsString]) -> Option<&'static str> {
    let recall = args.iter().any(|a| a == "recall");
    (recall && error.kind() == clap::error::ErrorKind::UnknownArgument).then_some(
        "hint: to exclude a word, put it after `--` (csep recall deploy -- -staging) or inside \
         --query (csep recall --query \"deploy -staging\")",
    )
}

/// Entry point of the `csep` binary.
pub fn main() -> ExitCode {
    main_as(Binary::Csep)
}

/// Entry point shared by the `csep` and `codex-self-evolution` binaries.
pub fn main_as(binary: Binary) -> ExitCode {
    let started = Instant::now();
    // Hooks never fail the host and run on every turn: the host's exact command lines are
    // recognised before clap builds its command tree.
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if let Some(invocation) = hook::recognize(&args) {
        return hook::dispatch(invocation);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and exit 0; usage errors exit 2.
            let _ = e.print();
            if let Some(hint) = usage_hint(&e, &args) {
                eprintln!("{hint}");
            }
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    // Hooks never fail the host: they take their own path, before anything else is built.
    if let Some(invocation) = hook::from_cli(&cli) {
        return hook::dispatch(invocation);
    }
    // Not for hooks: a session start, which reads two small files, took 0.1 ms longer with it
    // (alternating runs).
    let _ = pad_heap_growth();
    let env = Env::from_process();
    let cwd = std::env::current_dir().ok();
    let user_home = env.get("HOME").map(PathBuf::from);
    let paths = match Paths::resolve(
        cli.home.as_deref(),
        env.get(HOME_ENV),
        user_home.as_deref(),
        cwd.as_deref(),
    ) {
        Ok(paths) => paths,
        Err(e) => {
            eprintln!("csep: error: {e}");
            return ExitCode::from(1);
        }
    };
    // Provider keys from `.env.provider` fill in variables that are not already set; values are
    // never printed or logged (only the file's findings are, after the log is up).
    let (env, env_findings) = match EnvProviderFile::load(&paths.env_provider()) {
        Ok(Some(file)) => {
            let findings = file.warning_lines();
            (env.with_provider_file(&file).0, findings)
        }
        Ok(None) => (env, Vec::new()),
        Err(e) => (env, vec![e.to_string()]),
    };
    let ctx = Ctx {
        paths,
        env,
        json: cli.json,
        overrides: Overrides {
            profile: cli.profile.clone(),
        },
        cwd,
        binary,
    };
    let log_ready = init_logging(&ctx);
    if log_ready {
        for finding in &env_findings {
            tracing::warn!(finding = %finding, ".env.provider");
        }
    }
    let kind = command_name(&cli.command);
    let result = run(&ctx, cli.command);
    let code: u8 = match &result {
        Ok(code) => *code,
        Err(e) if e.downcast_ref::<NotAvailable>().is_some() => {
            eprintln!("csep: {e}");
            2
        }
        // The reader went away (`csep … | head`): what it read is all it wanted.
        Err(e)
            if e.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            0
        }
        Err(e) => {
            eprintln!("csep: error: {}", output::error_chain(e.chain()));
            1
        }
    };
    if log_ready {
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Err(e) if code == 1 => tracing::error!(
                kind,
                exit_code = code,
                duration_ms,
                error = %format!("{e:#}").chars().take(400).collect::<String>(),
                "cli command completed"
            ),
            _ => tracing::info!(kind, exit_code = code, duration_ms, "cli command completed"),
        }
    }
    ExitCode::from(code)
}

/// Installs the log when the home is writable; returns whether logging is on. Commands still run
/// without a log (a read-only home must not stop `csep status`).
fn init_logging(ctx: &Ctx) -> bool {
    let settings = ctx
        .load_config()
        .map(|loaded| log_settings(&loaded.config))
        .unwrap_or_default();
    // The home is csep's own directory: creating it (0700) to hold the log is harmless, and a
    // home that cannot be created just means no log for this run.
    if ctx.paths.ensure_home().is_err() {
        return false;
    }
    crate::store::log::init(&ctx.paths.log_file(), &settings).is_ok()
}

/// Turns `[log]` from config.toml into logger settings (unknown level names fall back to info).
pub fn log_settings(config: &config::Config) -> crate::store::log::LogSettings {
    crate::store::log::LogSettings {
        level: match config.log.level {
            config::LogLevel::Error => LevelFilter::ERROR,
            config::LogLevel::Warn => LevelFilter::WARN,
            config::LogLevel::Info => LevelFilter::INFO,
            config::LogLevel::Debug => LevelFilter::DEBUG,
            config::LogLevel::Trace => LevelFilter::TRACE,
        },
        max_bytes: config.log.max_bytes,
        keep_files: config.log.keep_files,
    }
}

fn run(ctx: &Ctx, command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Status(args) => status::run(ctx, &args),
        Command::Config(cmd) => config_cmd::run(ctx, cmd),
        Command::Project(args) => project_cmd::run(ctx, &args),
        Command::Hook(_) | Command::SessionStart(_) | Command::StopReview(_) => {
            // Reached only for the non-hook forms (`--cwd`, `--hook-payload`).
            Err(NotAvailable {
                command: "session-start --cwd / stop-review --hook-payload",
                what: "synchronous session-start and review arrive with the hooks and reviewer",
            }
            .into())
        }
        Command::Review(args) => review_cmd::run(ctx, &args),
        Command::Compile(args) => compile_cmd::run(ctx, &args),
        Command::CompilePreflight(args) => compile_cmd::preflight(ctx, &args),
        Command::Scan(args) => compile_cmd::scan(ctx, &args),
        Command::Worker(args) => worker_cmd::run(ctx, &args),
        Command::Recall(args) => recall::run(ctx, &args),
        Command::RecallTrigger(args) => recall::run_trigger(ctx, &args),
        Command::Memory(cmd) => memory_cmd::run(ctx, cmd),
        Command::Skills(cmd) => skills::run(ctx, cmd),
        Command::SkillSynthesize(args) => skills::run_skill_synthesize(ctx, &args),
        Command::Doctor(args) => doctor::run(ctx, &args),
        Command::Usage(args) => usage::run(ctx, &args),
        Command::Install(args) => install::run_install(ctx, &args),
        Command::Uninstall(args) => install::run_uninstall(ctx, &args),
        Command::Eval(EvalCommand::Recall { fixture }) => eval::run_recall(ctx, &fixture),
        Command::Eval(EvalCommand::Compiler(args)) | Command::EvalCompiler(args) => {
            eval_cmd::compiler(ctx, &args)
        }
        Command::Demo(args) => demo_cmd::run(ctx, &args),
        Command::Mcp => mcp::run(ctx),
        Command::Import(ImportCommand::CodexSessions(args)) => {
            import::run(ctx, crate::host::Host::Codex, &args)
        }
        Command::Import(ImportCommand::ClaudeSessions(args)) => {
            import::run(ctx, crate::host::Host::Claude, &args)
        }
        Command::Import(ImportCommand::Reference { from, dry_run }) => {
            import_cmd::run(ctx, from.as_ref(), &dry_run)
        }
        Command::MigrateWorktrees(args) => migrate_worktrees::run(ctx, &args),
        Command::Completions(args) => completions::run(ctx, &args),
        Command::Man(args) => completions::run_man(ctx, &args),
        Command::Plugin(cmd) => install::run_plugin(ctx, cmd),
    }
}

/// The command's name as logged in `kind`.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Hook(_) => "hook",
        Command::SessionStart(_) => "session-start",
        Command::StopReview(_) => "stop-review",
        Command::Review(_) => "review",
        Command::Compile(_) => "compile",
        Command::CompilePreflight(_) => "compile-preflight",
        Command::Scan(_) => "scan",
        Command::Worker(_) => "worker",
        Command::Recall(_) => "recall",
        Command::RecallTrigger(_) => "recall-trigger",
        Command::Memory(_) => "memory",
        Command::Skills(_) => "skills",
        Command::SkillSynthesize(_) => "skill-synthesize",
        Command::Status(_) => "status",
        Command::Doctor(_) => "doctor",
        Command::Project(_) => "project",
        Command::Usage(_) => "usage",
        Command::Config(_) => "config",
        Command::Install(_) => "install",
        Command::Uninstall(_) => "uninstall",
        Command::Eval(_) => "eval",
        Command::EvalCompiler(_) => "eval-compiler",
        Command::Demo(_) => "demo",
        Command::Mcp => "mcp",
        Command::Import(_) => "import",
        Command::MigrateWorktrees(_) => "migrate-worktrees",
        Command::Completions(_) => "completions",
        Command::Man(_) => "man",
        Command::Plugin(_) => "plugin",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn glibc_takes_the_heap_padding() {
        assert!(super::pad_heap_growth());
    }
}
