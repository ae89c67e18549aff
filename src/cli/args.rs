//! Every clap type of the command line. Both binaries (`csep` and `codex-self-evolution`) parse
//! the same [`Cli`]; the reference implementation's command names and flags are kept so its
//! plugin hooks and scripts keep working, and csep's own groups sit beside them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::host::Host;

/// csep — a self-evolution layer for coding agents (Codex, Claude Code).
#[derive(Debug, Parser)]
#[command(
    name = "csep",
    version,
    about = "Self-evolution layer for Codex and Claude Code: memory, recall and skills learned from your sessions",
    long_about = None,
    propagate_version = true,
    after_help = "Examples:\n  csep status\n  csep recall \"how do we run the tests\"\n  csep config init\n\nHome: --home, else $CODEX_SELF_EVOLUTION_HOME, else ~/.codex-self-evolution."
)]
pub struct Cli {
    /// State directory (default: $CODEX_SELF_EVOLUTION_HOME, else ~/.codex-self-evolution).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Use this provider profile from config.toml instead of `active_profile`.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Host selector shared by hook commands (also the `host` argument of the MCP `recall` tool).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HostArg {
    /// OpenAI Codex CLI.
    Codex,
    /// Anthropic Claude Code.
    Claude,
}

impl From<HostArg> for Host {
    fn from(value: HostArg) -> Self {
        match value {
            HostArg::Codex => Host::Codex,
            HostArg::Claude => Host::Claude,
        }
    }
}

/// Output format of recall commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RecallFormat {
    /// Markdown, for models and humans.
    #[default]
    Markdown,
    /// JSON, for tools.
    Json,
}

/// Skill synthesis mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SynthesisMode {
    /// Look back a few hours (`--lookback-hours`).
    Incremental,
    /// Look back days (`--lookback-days`).
    Full,
}

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    // ---- hooks -------------------------------------------------------------------------------
    /// Run a lifecycle hook for a host (reads the hook payload on stdin; always exits 0).
    #[command(
        after_help = "Examples:\n  echo '{}' | csep hook session-start --host codex\n  csep hook stop --host claude < payload.json"
    )]
    Hook(HookArgs),

    /// SessionStart hook (reference-compatible): inject learned memory into a new session.
    #[command(
        after_help = "Examples:\n  codex-self-evolution session-start --from-stdin < payload.json\n  csep session-start --cwd ~/code/app"
    )]
    SessionStart(SessionStartArgs),

    /// Stop hook (reference-compatible): record the session and hand it to the background worker.
    #[command(
        after_help = "Examples:\n  codex-self-evolution stop-review --from-stdin < payload.json\n  csep stop-review --hook-payload /tmp/stop.json"
    )]
    StopReview(StopReviewArgs),

    // ---- pipeline stages ---------------------------------------------------------------------
    /// Review archived sessions and queue suggestions (LLM provider or offline reviewer).
    #[command(
        after_help = "Examples:\n  csep review --cwd ~/code/app\n  csep review --session 0199a1b2 --json"
    )]
    Review(ReviewArgs),

    /// Compile pending suggestions into memory (deterministic operations).
    #[command(
        after_help = "Examples:\n  csep compile --once\n  codex-self-evolution compile --repo-root ~/code/app --backend script"
    )]
    Compile(CompileArgs),

    /// Report whether a project has suggestions waiting to be compiled.
    #[command(after_help = "Examples:\n  csep compile-preflight --repo-root ~/code/app")]
    CompilePreflight(PreflightArgs),

    /// Compile every project that has pending suggestions.
    #[command(after_help = "Examples:\n  csep scan\n  csep scan --max-runs-per-project 1 --json")]
    Scan(ScanArgs),

    /// Run the background worker once: drain recorded Stop events (ingest, review, compile).
    #[command(hide = true)]
    Worker(WorkerArgs),

    // ---- recall ------------------------------------------------------------------------------
    /// Search memory and past sessions.
    #[command(
        after_help = "Examples:\n  csep recall how do we run the integration tests\n  csep recall \"订单超时重试\" --top-k 5 --format json\n  csep recall --scope sessions --since 14d -- deploy -staging\n  codex-self-evolution recall --query \"deploy\" --cwd ~/code/app   # JSON, every match"
    )]
    Recall(RecallArgs),

    /// Decide whether a prompt warrants recall and render it (reference-compatible).
    #[command(
        after_help = "Examples:\n  csep recall-trigger --query \"as we did last time, deploy\" --cwd ."
    )]
    RecallTrigger(RecallTriggerArgs),

    // ---- memory and skills -------------------------------------------------------------------
    /// List, show, add, edit or forget memory entries.
    #[command(
        subcommand,
        after_help = "Examples:\n  csep memory list\n  csep memory add --scope user --kind preference \"Answer in English\"\n  csep memory forget m_3f2a\n  csep memory pin m_3f2a\n  csep memory history m_3f2a\n  csep memory undo 42"
    )]
    Memory(MemoryCommand),

    /// Manage synthesized skills.
    #[command(
        subcommand,
        after_help = "Examples:\n  csep skills list\n  csep skills approve csep-run-tests"
    )]
    Skills(SkillsCommand),

    /// Synthesize skills from recurring procedures (reference-compatible).
    #[command(
        after_help = "Examples:\n  csep skill-synthesize --mode full --lookback-days 30 --dry-run"
    )]
    SkillSynthesize(SkillSynthesizeArgs),

    // ---- operating ---------------------------------------------------------------------------
    /// Show what csep knows and is doing (read-only).
    #[command(after_help = "Examples:\n  csep status\n  csep status --json | jq .projects")]
    Status(StatusArgs),

    /// Check the installation and suggest (or apply) fixes.
    #[command(after_help = "Examples:\n  csep doctor\n  csep doctor --fix")]
    Doctor(DoctorArgs),

    /// Show which project a directory belongs to (worktrees and subdirectories fold into one).
    #[command(
        after_help = "Examples:\n  csep project\n  csep project --cwd ~/code/app/.worktrees/feature --json"
    )]
    Project(ProjectArgs),

    /// Show LLM token spend per day and purpose against the configured caps.
    #[command(after_help = "Examples:\n  csep usage --days 7")]
    Usage(UsageArgs),

    /// Inspect and edit config.toml.
    #[command(
        subcommand,
        after_help = "Examples:\n  csep config init\n  csep config show\n  csep config validate"
    )]
    Config(ConfigCommand),

    /// Install csep's hooks into a host, or the scheduler.
    #[command(
        after_help = "Examples:\n  csep install            # detect installed hosts\n  csep install codex\n  csep install scheduler"
    )]
    Install(InstallArgs),

    /// Remove exactly what `csep install` added.
    #[command(after_help = "Examples:\n  csep uninstall codex\n  csep uninstall scheduler")]
    Uninstall(InstallArgs),

    /// Evaluate recall or the compiler against fixtures.
    #[command(
        subcommand,
        after_help = "Examples:\n  csep eval recall --fixture tests/fixtures/recall_eval\n  csep eval compiler --fixture tests/fixtures/compiler_replay/luna_tp.json"
    )]
    Eval(EvalCommand),

    /// Replay a compiler fixture (reference-compatible).
    #[command(after_help = "Examples:\n  csep eval-compiler --fixture luna_tp.json")]
    EvalCompiler(EvalCompilerArgs),

    /// Run the whole loop offline on bundled sample sessions in a temporary home.
    #[command(after_help = "Examples:\n  csep demo\n  csep demo --keep")]
    Demo(DemoArgs),

    /// Serve recall, remember and forget over MCP (stdio).
    #[command(after_help = "Examples:\n  csep mcp")]
    Mcp,

    /// Import state from another tool.
    #[command(
        subcommand,
        after_help = "Examples:\n  csep import reference --from ~/.codex-self-evolution\n  csep import codex-sessions --since 30d\n  csep import claude-sessions --dir ~/.claude/projects"
    )]
    Import(ImportCommand),

    /// Fold the reference implementation's per-worktree buckets into projects.
    #[command(after_help = "Examples:\n  csep migrate-worktrees\n  csep migrate-worktrees --apply")]
    MigrateWorktrees(MigrateWorktreesArgs),

    /// Print shell completions.
    #[command(
        after_help = "Examples:\n  csep completions bash > ~/.local/share/bash-completion/completions/csep"
    )]
    Completions(CompletionsArgs),

    /// Write man pages generated from this command line (`csep.1` and one per subcommand).
    #[command(hide = true)]
    Man(ManArgs),

    /// Generate csep's plugin bundle (a marketplace both Codex and Claude Code accept).
    #[command(
        subcommand,
        after_help = "Examples:\n  csep plugin bundle --out /tmp/csep-plugin\n  codex plugin marketplace add /tmp/csep-plugin"
    )]
    Plugin(PluginCommand),
}

/// `csep hook <event>`.
#[derive(Debug, Args)]
pub struct HookArgs {
    /// The lifecycle event.
    #[arg(value_enum)]
    pub event: HookEventArg,
    /// The host that runs the hook (default: detected from the payload).
    #[arg(long, value_enum)]
    pub host: Option<HostArg>,
}

/// Lifecycle events csep handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HookEventArg {
    /// A session starts: inject memory.
    #[value(alias = "SessionStart")]
    SessionStart,
    /// The user submitted a prompt: inject relevant recall.
    #[value(alias = "UserPromptSubmit")]
    UserPromptSubmit,
    /// The agent stopped: record the session for the worker.
    #[value(alias = "Stop")]
    Stop,
}

/// `session-start`.
#[derive(Debug, Args)]
pub struct SessionStartArgs {
    /// Project directory (required without --from-stdin).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Accepted for compatibility with the reference; csep keeps project state in its database.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Hook mode: read the host's payload on stdin and print hook JSON (always exits 0).
    #[arg(long)]
    pub from_stdin: bool,
    /// The host (default: detected from the payload; the reference's hooks are Codex's).
    #[arg(long, value_enum)]
    pub host: Option<HostArg>,
}

/// `stop-review`.
#[derive(Debug, Args)]
pub struct StopReviewArgs {
    /// A saved Stop payload to review synchronously.
    #[arg(long, value_name = "PATH")]
    pub hook_payload: Option<PathBuf>,
    /// Accepted for compatibility with the reference.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Hook mode: read the host's Stop payload on stdin, record it and return at once.
    #[arg(long)]
    pub from_stdin: bool,
    /// Delete the --hook-payload file afterwards.
    #[arg(long)]
    pub cleanup_payload: bool,
    /// The host (default: detected from the payload).
    #[arg(long, value_enum)]
    pub host: Option<HostArg>,
}

/// `review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    /// Project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Review this session only.
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,
    /// Use the offline heuristic reviewer whatever the profile says.
    #[arg(long)]
    pub offline: bool,
    /// Show the suggestions without queueing them.
    #[arg(long)]
    pub dry_run: bool,
}

/// `compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Accepted for compatibility with the reference.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub repo_root: Option<PathBuf>,
    /// Compile one batch and exit (the default; kept for compatibility).
    #[arg(long)]
    pub once: bool,
    /// Compile backend: `script` (deterministic, default) or an LLM consolidation backend.
    #[arg(long, value_name = "NAME", default_value = "script")]
    pub backend: String,
    /// Envelopes claimed per batch.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub batch_size: usize,
}

/// `compile-preflight`.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// Accepted for compatibility with the reference.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub repo_root: Option<PathBuf>,
}

/// `scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Compile backend (default: `script`).
    #[arg(long, value_name = "NAME", default_value = "script")]
    pub backend: String,
    /// At most this many compile batches per project (values below 1 count as 1).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_runs_per_project: i64,
    /// Envelopes claimed per batch.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub batch_size: usize,
}

/// `worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Process at most this many stop events, then exit.
    #[arg(long, value_name = "N")]
    pub max_events: Option<u32>,
}

/// `recall`.
#[derive(Debug, Args)]
pub struct RecallArgs {
    /// The query (words are joined with spaces). Quote `"a phrase"` to require it; put
    /// exclusions after `--` or inside --query (`csep recall deploy -- -staging`).
    #[arg(value_name = "QUERY", num_args = 0..)]
    pub words: Vec<String>,
    /// The query, as a flag (reference-compatible); may start with `-` (an exclusion).
    #[arg(
        long,
        value_name = "Q",
        conflicts_with = "words",
        allow_hyphen_values = true
    )]
    pub query: Option<String>,
    /// Project directory (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Accepted for compatibility with the reference.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Number of hits to show (at most 1000; default 3, or every match up to 1000 when run as
    /// `codex-self-evolution`, as the reference's `recall` did).
    #[arg(long, value_name = "N")]
    pub top_k: Option<usize>,
    /// Output format (`--json` is the same as `--format json`; default `markdown`, or `json`
    /// when run as `codex-self-evolution`, as the reference's `recall` did).
    #[arg(long, value_enum)]
    pub format: Option<RecallFormat>,
    /// Search every project, not just the current one.
    #[arg(long)]
    pub all_projects: bool,
    /// What to search: `project` (this project only), `global` (every project ranked
    /// together), `sessions` (archived sessions only), `memory` (memory and recall entries only).
    /// Default: this project first, other projects as a fallback.
    #[arg(long, value_enum)]
    pub scope: Option<RecallScopeArg>,
    /// Only hits from this time on: a date (`2026-03-01`), a date and time (`2026-03-01T09:30`,
    /// UTC unless it has an offset), or an age (`7d`, `12h`, `2w`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// Only sessions of this host.
    #[arg(long, value_enum)]
    pub host: Option<HostArg>,
    /// Character budget of the Markdown output.
    #[arg(long, value_name = "CHARS", default_value_t = 6000)]
    pub budget_chars: usize,
}

/// `csep recall --scope` (also the `scope` argument of the MCP `recall` tool).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RecallScopeArg {
    /// This project only (and the user's global memory).
    Project,
    /// Every project ranked together (this project still boosted).
    Global,
    /// Archived sessions only.
    Sessions,
    /// Memory and recall entries only.
    Memory,
}

/// `recall-trigger`.
#[derive(Debug, Args)]
pub struct RecallTriggerArgs {
    /// The user's prompt.
    #[arg(long, value_name = "Q", allow_hyphen_values = true)]
    pub query: String,
    /// Project directory.
    #[arg(long, value_name = "DIR")]
    pub cwd: PathBuf,
    /// Accepted for compatibility with the reference.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The user asked for recall explicitly.
    #[arg(long)]
    pub explicit: bool,
    /// Number of hits to show (at most 1000).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub top_k: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = RecallFormat::Markdown)]
    pub format: RecallFormat,
}

/// `memory …`.
#[derive(Debug, Subcommand)]
pub enum MemoryCommand {
    /// List memory entries.
    List {
        /// Only this scope.
        #[arg(long, value_enum)]
        scope: Option<ScopeArg>,
        /// Project directory (default: the current directory).
        #[arg(long, value_name = "DIR")]
        cwd: Option<PathBuf>,
        /// Include superseded and forgotten entries.
        #[arg(long)]
        all: bool,
    },
    /// Show one entry with its provenance and history.
    Show {
        /// Entry id.
        id: String,
    },
    /// Add an entry by hand.
    Add {
        /// Scope of the entry.
        #[arg(long, value_enum, default_value_t = ScopeArg::Project)]
        scope: ScopeArg,
        /// Kind of the entry.
        #[arg(long, value_enum, default_value_t = KindArg::Fact)]
        kind: KindArg,
        /// Project directory for project scope (default: the current directory).
        #[arg(long, value_name = "DIR")]
        cwd: Option<PathBuf>,
        /// Pin the entry (always injected first).
        #[arg(long)]
        pin: bool,
        /// The text of the entry.
        text: String,
    },
    /// Replace an entry's text.
    Edit {
        /// Entry id.
        id: String,
        /// The new text.
        text: String,
    },
    /// Forget an entry (kept in history, never injected or recalled again).
    Forget {
        /// Entry id (a memory `m_…` or recall `r_…` id).
        id: String,
    },
    /// Pin an entry: rendered first and never evicted by the budget.
    Pin {
        /// Entry id.
        id: String,
    },
    /// Unpin an entry.
    Unpin {
        /// Entry id.
        id: String,
    },
    /// Show the change history (of one entry, or of all entries).
    History {
        /// Entry id (default: every entry).
        id: Option<String>,
        /// Rows to show.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
    },
    /// Undo a change: restore the before image of a history row (or of an entry's last change).
    Undo {
        /// History row number (from `csep memory history`) or an entry id.
        target: String,
    },
}

/// Memory scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    /// Global, across projects.
    User,
    /// The current project.
    Project,
}

/// Memory kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// How the user likes things done.
    Preference,
    /// A convention to follow.
    Rule,
    /// A fact about the project.
    Fact,
    /// A pitfall and how to avoid it.
    Gotcha,
    /// A command that works.
    Command,
    /// Where something is documented.
    Reference,
}

/// `skills …`.
#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// List skills by state, with use counts and where they are published.
    #[command(
        after_help = "Examples:\n  csep skills list\n  csep skills list --json | jq '.[].name'"
    )]
    List,
    /// Show a skill's SKILL.md, evidence, state and published files.
    #[command(after_help = "Examples:\n  csep skills show csep-cargo-fmt-test")]
    Show {
        /// Skill name (`csep-…`).
        name: String,
    },
    /// Publish a staged skill to the hosts' skill directories (gates re-checked).
    #[command(after_help = "Examples:\n  csep skills approve csep-cargo-fmt-test")]
    Approve {
        /// Skill name.
        name: String,
        /// Where to publish.
        #[command(flatten)]
        roots: SkillRootsArgs,
    },
    /// Reject a skill: unpublish it and never propose it again.
    #[command(
        after_help = "Examples:\n  csep skills reject csep-deploy-app --reason \"one-off migration\""
    )]
    Reject {
        /// Skill name.
        name: String,
        /// Why (recorded).
        #[arg(long)]
        reason: Option<String>,
        /// Where it is published.
        #[command(flatten)]
        roots: SkillRootsArgs,
    },
    /// Retire a published skill (removed from the hosts, kept in the archive).
    #[command(after_help = "Examples:\n  csep skills retire csep-cargo-fmt-test")]
    Retire {
        /// Skill name.
        name: String,
        /// Why (recorded; default "retired by the user").
        #[arg(long)]
        reason: Option<String>,
        /// Where it is published.
        #[command(flatten)]
        roots: SkillRootsArgs,
    },
    /// Publish a retired skill again.
    #[command(after_help = "Examples:\n  csep skills restore csep-cargo-fmt-test")]
    Restore {
        /// Skill name.
        name: String,
        /// Where to publish.
        #[command(flatten)]
        roots: SkillRootsArgs,
    },
    /// List orphaned directories in csep's namespace (the reference's `csep-synth-*` leftovers
    /// included); `--yes` removes them.
    #[command(after_help = "Examples:\n  csep skills gc\n  csep skills gc --yes")]
    Gc {
        /// Remove the orphans (without it, only list them).
        #[arg(long)]
        yes: bool,
        /// Where to look.
        #[command(flatten)]
        roots: SkillRootsArgs,
    },
    /// Remove every skill csep published from the hosts, following its manifest (files you
    /// edited stay); the skills go back to `staged`.
    #[command(after_help = "Examples:\n  csep skills uninstall\n  csep skills uninstall --json")]
    Uninstall,
    /// Synthesize skills from recurring procedures.
    #[command(
        after_help = "Examples:\n  csep skills synthesize --mode full --lookback-days 30\n  csep skills synthesize --dry-run --json"
    )]
    Synthesize(SkillSynthesizeArgs),
}

/// The hosts' skill directories csep publishes to.
#[derive(Debug, Clone, Default, Args)]
pub struct SkillRootsArgs {
    /// Codex's home; skills go to `<dir>/skills` (default: $CODEX_HOME, else ~/.codex).
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's config directory; skills go to `<dir>/skills` (default:
    /// $CLAUDE_CONFIG_DIR, else ~/.claude).
    #[arg(long, value_name = "DIR")]
    pub claude_config_dir: Option<PathBuf>,
}

/// `skill-synthesize` and `skills synthesize`.
#[derive(Debug, Args)]
pub struct SkillSynthesizeArgs {
    /// Look-back mode (default from config).
    #[arg(long, value_enum)]
    pub mode: Option<SynthesisMode>,
    /// Hours to look back in incremental mode.
    #[arg(long, value_name = "N")]
    pub lookback_hours: Option<u32>,
    /// Days to look back in full mode.
    #[arg(long, value_name = "N")]
    pub lookback_days: Option<u32>,
    /// Show what would be staged and published; writes nothing outside a temporary directory.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this project directory.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Where to publish.
    #[command(flatten)]
    pub roots: SkillRootsArgs,
}

/// `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Number of recent receipts to show.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub receipts: usize,
}

/// `project`.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Directory to resolve (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

/// `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Apply the safe fixes.
    #[arg(long)]
    pub fix: bool,
}

/// `usage`.
#[derive(Debug, Args)]
pub struct UsageArgs {
    /// Days to show.
    #[arg(long, value_name = "N", default_value_t = 7)]
    pub days: u32,
}

/// `config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the path of config.toml (it need not exist).
    Path,
    /// Write a commented config.toml with the defaults.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Show the effective configuration and where each value came from.
    Show {
        /// Print the file as it is.
        #[arg(long)]
        raw: bool,
    },
    /// Check config.toml; exit 0 when clean, 1 with warnings, 2 when invalid.
    Validate,
    /// List the provider profiles.
    ListProfiles,
    /// Switch `active_profile` (edits only that line).
    Use {
        /// Profile name (a `[profiles.NAME]` section).
        #[arg(value_name = "PROFILE")]
        name: String,
    },
}

/// `install` / `uninstall`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// What to install (default: every host found on this machine).
    #[arg(value_enum)]
    pub target: Option<InstallTarget>,
    /// Install through the host's plugin system instead of writing hooks directly.
    #[arg(long)]
    pub plugin: bool,
    /// Also register csep's MCP server with the host.
    #[arg(long)]
    pub mcp: bool,
    /// Show what would change without changing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Codex's home (default: $CODEX_HOME, else ~/.codex).
    #[arg(long, value_name = "DIR")]
    pub codex_home: Option<PathBuf>,
    /// Claude Code's config directory (default: $CLAUDE_CONFIG_DIR, else ~/.claude).
    #[arg(long, value_name = "DIR")]
    pub claude_config_dir: Option<PathBuf>,
    /// Scheduler only: where the unit files go (default: ~/Library/LaunchAgents on macOS,
    /// ~/.config/systemd/user on Linux). Nothing is loaded into launchd/systemd when given.
    #[arg(long, value_name = "DIR")]
    pub unit_dir: Option<PathBuf>,
    /// The host CLI to drive for `--plugin` (default: `codex` / `claude` on PATH).
    #[arg(long, value_name = "PATH")]
    pub host_bin: Option<PathBuf>,
}

/// What `install` manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InstallTarget {
    /// OpenAI Codex CLI hooks.
    Codex,
    /// Claude Code hooks.
    Claude,
    /// A launchd agent (macOS) or systemd user timer (Linux) running scan and synthesis.
    Scheduler,
}

/// `eval …`.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Measure recall quality on a labelled query set (hit@k, recall@k, MRR, nDCG@10).
    #[command(after_help = "Fixture format (README, \"Retrieval evaluation\"):\n  \
        {\"name\", \"now\", \"projects\": [{\"id\", \"path\"}],\n   \
        \"memory\": [{\"id\", \"project\", \"kind\", \"summary\", \"content\", \"updated_at\", \"use_count\"}],\n   \
        \"sessions\": [{\"id\", \"host\", \"project\", \"cwd\", \"started_at\",\n                 \
        \"messages\": [{\"id\", \"role\": user|assistant|tool, \"origin\"?: injected, \"tool_name\"?, \"text\"}]}],\n   \
        \"questions\": [{\"id\", \"query\", \"project\", \"cwd\", \"evidence\": [entry or message ids], \"lang\"}]}\n\n\
        Examples:\n  csep eval recall --fixture tests/fixtures/recall_eval\n  \
        csep --json eval recall --fixture tests/fixtures/recall_eval/zh.json")]
    Recall {
        /// Fixture file (JSON: sessions, memory, questions with evidence ids), or a directory
        /// whose `*.json` files are all evaluated.
        #[arg(long, value_name = "PATH")]
        fixture: PathBuf,
    },
    /// Replay a compiler fixture.
    Compiler(EvalCompilerArgs),
}

/// `eval-compiler` and `eval compiler`.
#[derive(Debug, Args)]
pub struct EvalCompilerArgs {
    /// Fixture file (reference format, spec §10).
    #[arg(long, value_name = "PATH")]
    pub fixture: PathBuf,
    /// Compile backend.
    #[arg(long, value_name = "NAME", default_value = "script")]
    pub backend: String,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the temporary home and print its path.
    #[arg(long)]
    pub keep: bool,
}

/// `import …`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import the Python reference implementation's home (memory, recall, pending suggestions).
    Reference {
        /// The reference's home (default: ~/.codex-self-evolution).
        #[arg(long, value_name = "DIR")]
        from: Option<PathBuf>,
        /// Show what would be imported.
        #[arg(long)]
        dry_run: bool,
    },
    /// Archive existing Codex transcripts (`~/.codex/sessions/**/rollout-*.jsonl`).
    CodexSessions(ImportSessionsArgs),
    /// Archive existing Claude Code transcripts (`~/.claude/projects/**/*.jsonl`).
    ClaudeSessions(ImportSessionsArgs),
}

/// `import codex-sessions` / `import claude-sessions`.
#[derive(Debug, Args)]
pub struct ImportSessionsArgs {
    /// Directory to scan (default: `$CODEX_HOME/sessions` or `~/.codex/sessions` for Codex,
    /// `$CLAUDE_CONFIG_DIR/projects` or `~/.claude/projects` for Claude Code).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Only files modified from this time on: a date, a date and time (UTC unless it has an
    /// offset), or an age (`30d`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
}

/// `migrate-worktrees`.
#[derive(Debug, Args)]
pub struct MigrateWorktreesArgs {
    /// Apply the plan (default: dry run).
    #[arg(long)]
    pub apply: bool,
    /// The reference implementation's home holding `projects/<bucket>` (default: the csep home,
    /// which is the reference's default home too).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell.
    #[arg(value_enum)]
    pub shell: ShellArg,
}

/// `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `csep.1` and `csep-<command>.1` into this directory (default: print `csep.1`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `plugin …`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Write the plugin bundle (marketplace, manifests, hooks, recall skill) into a directory.
    Bundle {
        /// Directory to write (created; csep's bundle files in it are replaced).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

/// Shells with completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShellArg {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_has_an_example_in_its_help() {
        let cli = Cli::command();
        for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
            let after = sub
                .get_after_help()
                .map(|s| s.to_string())
                .unwrap_or_default();
            assert!(
                after.contains("Examples:"),
                "`{}` has no example",
                sub.get_name()
            );
            assert!(
                sub.get_about().is_some(),
                "`{}` has no summary",
                sub.get_name()
            );
        }
    }

    #[test]
    fn reference_command_names_and_flags_parse() {
        for argv in [
            &["x", "session-start", "--from-stdin"][..],
            &["x", "session-start", "--cwd", "/tmp", "--state-dir", "/s"],
            &[
                "x",
                "stop-review",
                "--hook-payload",
                "/p",
                "--cleanup-payload",
                "--state-dir",
                "/s",
            ],
            &["x", "stop-review", "--from-stdin"],
            &[
                "x",
                "compile",
                "--once",
                "--backend",
                "script",
                "--repo-root",
                "/r",
            ],
            &[
                "x",
                "compile-preflight",
                "--repo-root",
                "/r",
                "--state-dir",
                "/s",
            ],
            &["x", "status", "--home", "/h"],
            &[
                "x",
                "scan",
                "--backend",
                "script",
                "--max-runs-per-project",
                "2",
            ],
            &[
                "x",
                "skill-synthesize",
                "--mode",
                "full",
                "--lookback-days",
                "3",
                "--dry-run",
            ],
            &[
                "x",
                "skill-synthesize",
                "--mode",
                "incremental",
                "--lookback-hours",
                "6",
            ],
            &["x", "config", "show", "--raw"],
            &["x", "config", "init", "--force"],
            &["x", "config", "use", "kimi"],
            &["x", "migrate-worktrees", "--apply"],
            &[
                "x",
                "recall",
                "--query",
                "q",
                "--cwd",
                "/r",
                "--state-dir",
                "/s",
            ],
            &[
                "x", "recall", "two", "words", "--top-k", "5", "--format", "json",
            ],
            &[
                "x",
                "recall-trigger",
                "--query",
                "q",
                "--cwd",
                "/r",
                "--explicit",
                "--top-k",
                "2",
            ],
            &[
                "x",
                "eval-compiler",
                "--fixture",
                "f.json",
                "--backend",
                "script",
            ],
            &["x", "hook", "user-prompt-submit", "--host", "claude"],
            &["x", "install", "scheduler", "--unit-dir", "/u", "--dry-run"],
            &["x", "install", "codex", "--plugin", "--host-bin", "/c"],
            &["x", "plugin", "bundle", "--out", "/o"],
            &["x", "man", "--out", "/m"],
            &["x", "completions", "zsh"],
        ] {
            Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        }
    }
}
