//! `<home>/config.toml`: csep's behaviour settings, resolved with their sources.
//!
//! The file is TOML with `schema_version = 3`. csep owns this format, so it is read strictly:
//! every struct uses `deny_unknown_fields`, and an unknown key, a wrong type or a TOML syntax
//! error is an error naming the dotted key path and its line. Every key has a default, so a
//! missing file (or section) means built-in defaults, with the `offline` profile active.
//!
//! The Python reference implementation (`codex-self-evolution`) writes `schema_version` 1 or 2
//! into the same home. Such a file is lifted leniently: its reviewer profiles become csep
//! profiles and every other key becomes a warning. It is never an error unless it is not TOML.
//!
//! Precedence, highest first: command-line flags ([`Overrides`]), environment variables (read
//! from an [`Env`] snapshot, never from the process), the file, defaults. [`LoadedConfig::sources`]
//! records, for every leaf of the resolved tree, which of these supplied it.
//!
//! Secrets never live here: API keys belong in `.env.provider`, named by `api_key_env`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::de::{DeTable, DeValue};

use super::env::Env;

/// The `config.toml` schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 3;

/// The file name of the config inside the csep home.
pub const CONFIG_FILE_NAME: &str = "config.toml";

/// The built-in profile that is active when nothing else is chosen: no network, no key.
pub const DEFAULT_PROFILE: &str = "offline";

/// Environment variable selecting the active profile (beaten by `--profile`).
pub const ENV_PROFILE: &str = "CSEP_PROFILE";
/// Environment variable overriding the active profile's provider.
pub const ENV_PROVIDER: &str = "CODEX_SELF_EVOLUTION_REVIEWER_PROVIDER";
/// Environment variable overriding the active profile's model.
pub const ENV_MODEL: &str = "CODEX_SELF_EVOLUTION_REVIEWER_MODEL";
/// Environment variable overriding the active profile's base URL.
pub const ENV_BASE_URL: &str = "CODEX_SELF_EVOLUTION_REVIEWER_BASE_URL";
/// Environment variable overriding the active profile's timeout, in seconds.
pub const ENV_TIMEOUT: &str = "CODEX_SELF_EVOLUTION_REVIEWER_TIMEOUT";

/// Errors loading, validating or writing `config.toml`. Each names the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but could not be read.
    #[error("cannot read {path}: {source}; check its permissions")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("{path} is not UTF-8 text; rewrite it, or run `csep config init --force`")]
    NotUtf8 {
        /// The config file.
        path: PathBuf,
    },
    /// The file is not valid TOML.
    #[error("{path}:{line}:{column}: TOML syntax error: {message}")]
    Syntax {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// What the TOML parser expected.
        message: String,
    },
    /// A key that the csep schema does not have (usually a typo).
    #[error(
        "{path}:{line}: unknown key `{key}`; valid keys here: {valid}{hint}; \
         run `csep config validate`"
    )]
    UnknownKey {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// Full dotted path of the key.
        key: String,
        /// Comma-separated keys valid at that level.
        valid: String,
        /// Extra advice, such as where secrets belong; empty or starting with `; `.
        hint: String,
    },
    /// A value of the wrong TOML type.
    #[error("{path}:{line}: `{key}` must be {expected}, found {found}; run `csep config validate`")]
    WrongType {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// Full dotted path of the key.
        key: String,
        /// The type the schema wants, e.g. "a non-negative integer".
        expected: String,
        /// The type the file has, e.g. "a string".
        found: String,
    },
    /// A value of the right type that is not allowed (unknown provider, negative number, ...).
    #[error("{path}:{line}: invalid value for `{key}`: {message}")]
    InvalidValue {
        /// The config file.
        path: PathBuf,
        /// 1-based line of the key.
        line: usize,
        /// Full dotted path of the key.
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// `schema_version` is from a newer csep.
    #[error(
        "{} schema_version {found} is newer than this csep understands ({SCHEMA_VERSION}); \
         upgrade csep",
        path.display()
    )]
    NewerSchema {
        /// The config file.
        path: PathBuf,
        /// The version the file declares.
        found: i64,
    },
    /// The active profile names no `[profiles.*]` section.
    #[error(
        "active profile `{name}` (from {source_label}) does not exist; available profiles: \
         {available}; add a [profiles.{name}] section to {path} or pick another with --profile"
    )]
    UnknownProfile {
        /// The config file.
        path: PathBuf,
        /// The requested profile.
        name: String,
        /// Where the request came from, e.g. `flag:--profile`.
        source_label: String,
        /// Comma-separated profile names that do exist.
        available: String,
    },
    /// `config init` would overwrite an existing file.
    #[error("{path} already exists; use --force to overwrite it")]
    Exists {
        /// The existing config file.
        path: PathBuf,
    },
    /// Writing the file (or creating its directory) failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or directory being written.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The kind of reviewer/LLM backend a profile talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// The deterministic built-in reviewer: no network, no key.
    #[default]
    Offline,
    /// An OpenAI-compatible chat-completions endpoint.
    OpenaiCompatible,
    /// The OpenAI Responses API.
    OpenaiResponses,
    /// The Anthropic Messages API (or a compatible endpoint).
    Anthropic,
    /// MiniMax (global or China region).
    Minimax,
    /// The `codex exec` CLI, using the user's Codex login.
    CodexCli,
    /// The `claude -p` CLI, using the user's Claude Code login.
    ClaudeCli,
    /// The `pi` coding agent CLI (`pi -p --mode json`), using the user's pi configuration.
    PiCli,
    /// The `opencode run --format json` CLI, using the user's opencode configuration.
    OpencodeCli,
    /// An arbitrary command (`command` argv) speaking csep's JSON protocol on stdin/stdout.
    Command,
    /// A canned reviewer for tests.
    Dummy,
}

impl Provider {
    /// Every provider, in documentation order.
    pub const ALL: [Provider; 11] = [
        Provider::Offline,
        Provider::OpenaiCompatible,
        Provider::OpenaiResponses,
        Provider::Anthropic,
        Provider::Minimax,
        Provider::CodexCli,
        Provider::ClaudeCli,
        Provider::PiCli,
        Provider::OpencodeCli,
        Provider::Command,
        Provider::Dummy,
    ];

    /// The name used in `config.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Offline => "offline",
            Provider::OpenaiCompatible => "openai-compatible",
            Provider::OpenaiResponses => "openai-responses",
            Provider::Anthropic => "anthropic",
            Provider::Minimax => "minimax",
            Provider::CodexCli => "codex-cli",
            Provider::ClaudeCli => "claude-cli",
            Provider::PiCli => "pi-cli",
            Provider::OpencodeCli => "opencode-cli",
            Provider::Command => "command",
            Provider::Dummy => "dummy",
        }
    }

    /// Maps a provider name of the Python reference (`anthropic-style`, ...) to a csep provider;
    /// `None` for names csep has no equivalent of.
    pub fn from_reference_name(name: &str) -> Option<Provider> {
        match name {
            "anthropic-style" | "anthropic" => Some(Provider::Anthropic),
            "codex-cli" => Some(Provider::CodexCli),
            "opencode-cli" => Some(Provider::OpencodeCli),
            "openai-compatible" => Some(Provider::OpenaiCompatible),
            "minimax" => Some(Provider::Minimax),
            "dummy" => Some(Provider::Dummy),
            _ => None,
        }
    }

    fn names() -> String {
        Provider::ALL.map(Provider::as_str).join(", ")
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Provider {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown provider `{s}`; valid providers: {}",
                    Provider::names()
                )
            })
    }
}

/// The MiniMax API region of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// Not set (`""`): the provider default, which for MiniMax is `global`.
    #[default]
    #[serde(rename = "")]
    Unset,
    /// `api.minimax.io`.
    Global,
    /// `api.minimaxi.com` (mainland China).
    Cn,
}

/// How skill synthesis picks its evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkillsMode {
    /// Only sessions newer than `lookback_hours`.
    #[default]
    Incremental,
    /// Everything within `lookback_days`.
    Full,
}

/// What happens to a skill that passes every quality gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PublishPolicy {
    /// Publish to the hosts' skill directories as soon as the gates pass (the evidence gate
    /// already demands `min_evidence_sessions` sessions).
    #[default]
    Auto,
    /// Keep it staged until `csep skills approve NAME`.
    Approve,
}

/// The minimum severity written to the log file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Warnings and errors.
    Warn,
    /// The default: one line per command plus warnings.
    #[default]
    Info,
    /// Verbose diagnostics.
    Debug,
    /// Everything.
    Trace,
}

/// One reviewer/LLM provider profile, `[profiles.<name>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    /// Which backend to talk to.
    pub provider: Provider,
    /// Model name; empty means the provider default.
    pub model: String,
    /// Endpoint URL, used verbatim; empty means the provider default.
    pub base_url: String,
    /// Name of the environment variable holding the API key; empty means the provider default.
    pub api_key_env: String,
    /// MiniMax only: `global` or `cn`.
    pub region: Region,
    /// Per-request timeout in seconds; must be positive.
    pub timeout_seconds: f64,
    /// Cap on generated tokens per request.
    pub max_tokens: u32,
    /// Retries after a failed request (0 = try once).
    pub max_retries: u32,
    /// argv for `provider = "command"`; must be non-empty for that provider.
    pub command: Vec<String>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            provider: Provider::Offline,
            model: String::new(),
            base_url: String::new(),
            api_key_env: String::new(),
            region: Region::Unset,
            timeout_seconds: 60.0,
            max_tokens: 4096,
            max_retries: 2,
            command: Vec::new(),
        }
    }
}

/// `[hooks]`: what the agent hooks inject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HooksConfig {
    /// Hard cap, in tokens, of the context injected at SessionStart.
    pub session_start_budget_tokens: u32,
    /// Whether UserPromptSubmit injects recalled memory.
    pub user_prompt_recall: bool,
    /// Hard cap, in tokens, of the context injected per prompt.
    pub user_prompt_budget_tokens: u32,
}

impl Default for HooksConfig {
    fn default() -> Self {
        Self {
            session_start_budget_tokens: 2000,
            user_prompt_recall: true,
            user_prompt_budget_tokens: 600,
        }
    }
}

/// `[review]`: when a session is worth reviewing (see `review::trigger`).
///
/// A session is reviewed when, since its last review, it has at least one new user message and
/// crossed any one threshold (user messages, readable characters, tool calls), or when a user
/// message carries an explicit remember/correction signal. After `backoff_after_empty`
/// consecutive reviews that proposed nothing, the thresholds double for each further empty
/// review, up to `backoff_max_factor` times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewConfig {
    /// New user messages that make a session worth reviewing.
    pub min_new_user_messages: u32,
    /// New readable characters (user + agent text, injected text excluded) that make a session
    /// worth reviewing.
    pub min_new_chars: u64,
    /// New tool calls that make a session worth reviewing.
    pub min_new_tool_calls: u32,
    /// Minimum seconds between two reviews of the same session (signals included).
    pub min_interval_seconds: u64,
    /// Whether an explicit "remember …" / correction in a user message triggers a review at once.
    pub review_on_signal: bool,
    /// Consecutive empty reviews after which the thresholds start to grow; 0 disables backoff.
    pub backoff_after_empty: u32,
    /// Largest factor the thresholds are multiplied by while backing off.
    pub backoff_max_factor: u32,
}

impl Default for ReviewConfig {
    fn default() -> Self {
        Self {
            min_new_user_messages: 3,
            min_new_chars: 4000,
            min_new_tool_calls: 10,
            min_interval_seconds: 0,
            review_on_signal: true,
            backoff_after_empty: 3,
            backoff_max_factor: 8,
        }
    }
}

/// `[budget]`: hard token caps per UTC day; 0 means unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// All LLM calls together.
    pub daily_tokens: u64,
    /// Session reviews.
    pub review_daily_tokens: u64,
    /// Memory compilation.
    pub compile_daily_tokens: u64,
    /// Skill synthesis.
    pub skills_daily_tokens: u64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            daily_tokens: 200_000,
            review_daily_tokens: 150_000,
            compile_daily_tokens: 50_000,
            skills_daily_tokens: 50_000,
        }
    }
}

/// `[memory]`: hard budgets of the memory store and the near-duplicate rule.
///
/// The budgets are enforced by the compiler: when a scope's active entries exceed their budget,
/// the lowest-value unpinned entries are archived (never deleted). The defaults are the
/// reference implementation's soft budgets (about 1,375 characters for USER.md and 2,200 for
/// MEMORY.md), which its memory files exceeded 5-20 times because nothing enforced them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryConfig {
    /// Hard cap, in characters (summary + content), of active user-scope entries.
    pub user_budget_chars: u32,
    /// Hard cap, in characters (summary + content), of one project's active entries.
    pub project_budget_chars: u32,
    /// Jaccard similarity (0 < t <= 1) of word and CJK-character shingles above which an added
    /// entry is merged into an existing one instead of stored beside it.
    pub near_duplicate_threshold: f64,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            user_budget_chars: 1375,
            project_budget_chars: 2200,
            near_duplicate_threshold: 0.7,
        }
    }
}

/// `[recall]`: on-demand recall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecallConfig {
    /// Results returned per query.
    pub top_k: u32,
}

impl Default for RecallConfig {
    fn default() -> Self {
        Self { top_k: 5 }
    }
}

/// `[skills]`: skill synthesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SkillsConfig {
    /// Whether skills are synthesised at all.
    pub enabled: bool,
    /// Evidence window used when no mode is given.
    pub default_mode: SkillsMode,
    /// Window of the incremental mode, in hours.
    pub lookback_hours: u32,
    /// Window of the full mode, in days.
    pub lookback_days: u32,
    /// Distinct sessions that must support a skill before it is written.
    pub min_evidence_sessions: u32,
    /// Whether skills that pass the gates are published at once or wait for approval.
    pub publish_policy: PublishPolicy,
    /// Days without detected use after which a published skill is retired (0 = never).
    pub retire_after_days: u32,
}

impl Default for SkillsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default_mode: SkillsMode::Incremental,
            lookback_hours: 24,
            lookback_days: 30,
            min_evidence_sessions: 3,
            publish_policy: PublishPolicy::Auto,
            retire_after_days: 60,
        }
    }
}

/// `[scheduler]`: the background worker's cadence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// Seconds between scans of the queue.
    pub scan_interval_seconds: u64,
    /// Seconds between skill-synthesis runs.
    pub synthesis_interval_seconds: u64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            scan_interval_seconds: 300,
            synthesis_interval_seconds: 14_400,
        }
    }
}

/// `[log]`: the log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Minimum level written.
    pub level: LogLevel,
    /// Rotate the log once it grows past this many bytes.
    pub max_bytes: u64,
    /// Rotated files kept.
    pub keep_files: u32,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            max_bytes: 5 * 1024 * 1024,
            keep_files: 5,
        }
    }
}

/// The whole `config.toml` tree. `Default` is the built-in configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Schema version of this tree; always [`SCHEMA_VERSION`] once loaded.
    pub schema_version: u32,
    /// Name of the `[profiles.*]` section used for LLM calls.
    pub active_profile: String,
    /// Provider profiles by name; the built-in `offline` profile is always present.
    pub profiles: BTreeMap<String, Profile>,
    /// Hook injection settings.
    pub hooks: HooksConfig,
    /// Review triggering.
    pub review: ReviewConfig,
    /// Daily token caps.
    pub budget: BudgetConfig,
    /// Memory size caps.
    pub memory: MemoryConfig,
    /// Recall settings.
    pub recall: RecallConfig,
    /// Skill synthesis settings.
    pub skills: SkillsConfig,
    /// Background worker cadence.
    pub scheduler: SchedulerConfig,
    /// Log file settings.
    pub log: LogConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            active_profile: DEFAULT_PROFILE.to_owned(),
            profiles: builtin_profiles(),
            hooks: HooksConfig::default(),
            review: ReviewConfig::default(),
            budget: BudgetConfig::default(),
            memory: MemoryConfig::default(),
            recall: RecallConfig::default(),
            skills: SkillsConfig::default(),
            scheduler: SchedulerConfig::default(),
            log: LogConfig::default(),
        }
    }
}

impl Config {
    /// The profile named by `active_profile`, if it exists (it always does after [`load`]).
    pub fn active_profile(&self) -> Option<&Profile> {
        self.profiles.get(&self.active_profile)
    }
}

/// Profiles that exist without any file; a file may redefine them.
fn builtin_profiles() -> BTreeMap<String, Profile> {
    BTreeMap::from([(DEFAULT_PROFILE.to_owned(), Profile::default())])
}

/// Where a resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in default.
    Default,
    /// `config.toml`, at this 1-based line.
    File {
        /// 1-based line of the key.
        line: usize,
    },
    /// This environment variable.
    Env(String),
    /// This command-line flag.
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { line } => write!(f, "{CONFIG_FILE_NAME}:{line}"),
            Source::Env(name) => write!(f, "env:{name}"),
            Source::Flag(name) => write!(f, "flag:{name}"),
        }
    }
}

/// Settings given on the command line, which beat the environment and the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--profile NAME`.
    pub profile: Option<String>,
}

/// A resolved configuration with the origin of every value.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    /// The resolved tree.
    pub config: Config,
    /// Keys set by the environment or a flag, with their source.
    set_by: BTreeMap<String, Source>,
    /// Keys set in the file, with their line.
    lines: BTreeMap<String, usize>,
    /// Non-fatal findings, one sentence each.
    pub warnings: Vec<String>,
    /// The config file path (whether or not it exists).
    pub path: PathBuf,
    /// Whether the file exists.
    pub exists: bool,
    /// The `schema_version` the file declared (1 or 2 for a reference file; 3 when absent).
    pub file_schema_version: u32,
}

impl LoadedConfig {
    /// Dotted path of every leaf of [`config`](Self::config) → where its value came from
    /// (computed on demand: only `csep config show` needs it, and hooks load the config too).
    pub fn sources(&self) -> BTreeMap<String, Source> {
        let tree = serde_json::to_value(&self.config).unwrap_or(serde_json::Value::Null);
        let mut leaves = Vec::new();
        flatten(&tree, "", &mut leaves);
        leaves
            .into_iter()
            .map(|(key, _)| {
                let source = match (self.set_by.get(&key), self.lines.get(&key)) {
                    (Some(source), _) => source.clone(),
                    (None, Some(&line)) => Source::File { line },
                    (None, None) => Source::Default,
                };
                (key, source)
            })
            .collect()
    }
}

/// What [`init`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitOutcome {
    /// There was no file; the template was written.
    Created,
    /// A file existed and `force` replaced it.
    Overwritten,
}

/// The path of `config.toml` inside `home`.
pub fn config_path(home: &Path) -> PathBuf {
    home.join(CONFIG_FILE_NAME)
}

/// Loads `<home>/config.toml` (defaults when it is missing), then applies `env` and `overrides`.
pub fn load(home: &Path, env: &Env, overrides: &Overrides) -> Result<LoadedConfig, ConfigError> {
    let path = config_path(home);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let doc = FileDoc {
                config: Config::default(),
                lines: BTreeMap::new(),
                warnings: Vec::new(),
                schema_version: SCHEMA_VERSION,
            };
            return resolve(doc, path, false, env, overrides);
        }
        Err(source) => return Err(ConfigError::Read { path, source }),
    };
    let text = String::from_utf8(bytes).map_err(|_| ConfigError::NotUtf8 { path: path.clone() })?;
    parse_str(&text, &path, env, overrides)
}

/// Loads config text as if read from `path` (which is only used in messages).
pub fn parse_str(
    text: &str,
    path: &Path,
    env: &Env,
    overrides: &Overrides,
) -> Result<LoadedConfig, ConfigError> {
    let doc = parse_file(text, path)?;
    resolve(doc, path.to_path_buf(), true, env, overrides)
}

/// The configuration a hook runs with, and why the file could not be used as written.
///
/// A hook must not lose the settings it reads (`[hooks]`, `[log]`) to an unrelated mistake
/// elsewhere in the file (a typo in `[review]` turned auto-recall back on), and it reports
/// nothing to the user. So when the strict [`load`] fails, the file is read leniently: each
/// section on its own, and within a section that does not deserialize, key by key, dropping
/// the keys that are unknown or invalid. Profiles are left at the built-in ones (hooks call no
/// model). Where a setting the hooks need cannot be read, the conservative value is used:
/// auto-recall is off when `hooks.user_prompt_recall` is not a valid boolean while `[hooks]`
/// has an error, or when the file cannot be read or parsed at all. The returned message names
/// the error and what was dropped, for the log; `csep config validate` and `csep doctor` still
/// report the error through [`load`].
pub fn load_for_hook(home: &Path, env: &Env, overrides: &Overrides) -> (Config, Option<String>) {
    let error = match load(home, env, overrides) {
        Ok(loaded) => return (loaded.config, None),
        Err(e) => e,
    };
    let table = std::fs::read(config_path(home))
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<toml::Table>().ok());
    let Some(table) = table else {
        let mut config = Config::default();
        config.hooks.user_prompt_recall = false;
        return (
            config,
            Some(format!(
                "{error}; hooks use the defaults with auto-recall off"
            )),
        );
    };
    let mut dropped = Vec::new();
    let mut config = Config {
        hooks: lenient_section(&table, "hooks", &mut dropped),
        review: lenient_section(&table, "review", &mut dropped),
        budget: lenient_section(&table, "budget", &mut dropped),
        memory: lenient_section(&table, "memory", &mut dropped),
        recall: lenient_section(&table, "recall", &mut dropped),
        skills: lenient_section(&table, "skills", &mut dropped),
        scheduler: lenient_section(&table, "scheduler", &mut dropped),
        log: lenient_section(&table, "log", &mut dropped),
        ..Config::default()
    };
    let recall_switch = table
        .get("hooks")
        .and_then(|hooks| hooks.get("user_prompt_recall"))
        .and_then(toml::Value::as_bool);
    // Unknown top-level keys and tables are dropped too; one that looks meant for the hooks
    // (`[hook]`, `[Hooks]`, a top-level `user_prompt_recall`) may hold the switch.
    let known: Vec<String> = match toml::Value::try_from(Config::default()) {
        Ok(toml::Value::Table(defaults)) => defaults.keys().cloned().collect(),
        _ => Vec::new(),
    };
    let mut misplaced_hooks = false;
    for key in table.keys().filter(|key| !known.contains(key)) {
        let lower = key.to_ascii_lowercase();
        misplaced_hooks |= lower.contains("hook") || lower.contains("recall");
        dropped.push(key.clone());
    }
    let hooks_damaged = misplaced_hooks
        || dropped
            .iter()
            .any(|key| key == "hooks" || key.starts_with("hooks."));
    let mut message = format!("{error}; hooks ignore ");
    message.push_str(&if dropped.is_empty() {
        "the profiles".to_owned()
    } else {
        dropped.join(", ")
    });
    if hooks_damaged && recall_switch.is_none() {
        config.hooks.user_prompt_recall = false;
        message.push_str("; auto-recall off until [hooks] is fixed");
    }
    (config, Some(message))
}

/// Section `name` of `table`, read leniently for [`load_for_hook`]: the whole section when it
/// deserializes, else the defaults with each of its keys that deserializes on its own; the
/// keys (or the section) left out are pushed on `dropped`.
fn lenient_section<T>(table: &toml::Table, name: &str, dropped: &mut Vec<String>) -> T
where
    T: Default + Serialize + serde::de::DeserializeOwned,
{
    let Some(value) = table.get(name) else {
        return T::default();
    };
    if let Ok(section) = value.clone().try_into::<T>() {
        return section;
    }
    let (Some(given), Ok(toml::Value::Table(mut kept))) =
        (value.as_table(), toml::Value::try_from(T::default()))
    else {
        dropped.push(name.to_owned());
        return T::default();
    };
    for (key, value) in given {
        let mut candidate = kept.clone();
        candidate.insert(key.clone(), value.clone());
        if toml::Value::Table(candidate.clone())
            .try_into::<T>()
            .is_ok()
        {
            kept = candidate;
        } else {
            dropped.push(join(name, key));
        }
    }
    toml::Value::Table(kept).try_into().unwrap_or_default()
}

/// Validates like `csep config validate`: the load must succeed; the warnings are the findings.
pub fn validate(home: &Path, env: &Env, overrides: &Overrides) -> Result<Vec<String>, ConfigError> {
    load(home, env, overrides).map(|loaded| loaded.warnings)
}

/// What the file alone says, before env and flags.
struct FileDoc {
    config: Config,
    /// Dotted leaf path in `config` → line in the file that supplied it.
    lines: BTreeMap<String, usize>,
    warnings: Vec<String>,
    schema_version: u32,
}

fn parse_file(text: &str, path: &Path) -> Result<FileDoc, ConfigError> {
    let root = DeTable::parse(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let (line, column) = line_col(text, offset);
        ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_owned(),
        }
    })?;
    let mut lines = BTreeMap::new();
    collect_lines(root.get_ref(), "", text, &mut lines);
    let mut warnings = Vec::new();
    let version = match find(root.get_ref(), "schema_version") {
        None if is_reference_shaped(root.get_ref()) => {
            warnings.push(format!(
                "{CONFIG_FILE_NAME} has no schema_version but uses reference-only sections; \
                 reading it as a reference schema_version 2 file"
            ));
            2
        }
        None => {
            warnings.push(format!(
                "{CONFIG_FILE_NAME} has no schema_version; assuming {SCHEMA_VERSION} \
                 (add `schema_version = {SCHEMA_VERSION}` at the top)"
            ));
            i64::from(SCHEMA_VERSION)
        }
        Some((key, value)) => {
            let line = line_col(text, key.span().start).0;
            let Some(found) = value
                .get_ref()
                .as_integer()
                .and_then(|i| i64::from_str_radix(i.as_str(), i.radix()).ok())
            else {
                return Err(ConfigError::WrongType {
                    path: path.to_path_buf(),
                    line,
                    key: "schema_version".to_owned(),
                    expected: "an integer".to_owned(),
                    found: kind_of(value.get_ref()).to_owned(),
                });
            };
            if found > i64::from(SCHEMA_VERSION) {
                return Err(ConfigError::NewerSchema {
                    path: path.to_path_buf(),
                    found,
                });
            }
            if found < 1 {
                return Err(ConfigError::InvalidValue {
                    path: path.to_path_buf(),
                    line,
                    key: "schema_version".to_owned(),
                    message: format!(
                        "{found} is not a schema version; csep writes {SCHEMA_VERSION}"
                    ),
                });
            }
            found
        }
    };
    if version < i64::from(SCHEMA_VERSION) {
        let mut lift = ReferenceLift {
            text,
            warnings,
            lines: BTreeMap::new(),
        };
        let config = lift.run(root.get_ref(), version);
        return Ok(FileDoc {
            config,
            lines: lift.lines,
            warnings: lift.warnings,
            schema_version: u32::try_from(version).unwrap_or(1),
        });
    }
    let config = deserialize_strict(root, text, path, &lines)?;
    Ok(FileDoc {
        config,
        lines,
        warnings,
        schema_version: SCHEMA_VERSION,
    })
}

fn deserialize_strict(
    root: toml::Spanned<DeTable<'_>>,
    text: &str,
    path: &Path,
    lines: &BTreeMap<String, usize>,
) -> Result<Config, ConfigError> {
    let table_for_errors = root.get_ref().clone();
    let result: Result<Config, _> =
        serde_path_to_error::deserialize(toml::de::Deserializer::from(root));
    let err = match result {
        Ok(mut config) => {
            for (name, profile) in builtin_profiles() {
                config.profiles.entry(name).or_insert(profile);
            }
            check_values(&config, path, lines)?;
            return Ok(config);
        }
        Err(err) => err,
    };
    let segments: Vec<String> = err
        .path()
        .iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(key.clone()),
            serde_path_to_error::Segment::Seq { index } => Some(index.to_string()),
            _ => None,
        })
        .collect();
    let key = segments.iter().fold(String::new(), |acc, s| join(&acc, s));
    let inner = err.into_inner();
    let line = lines
        .get(&key)
        .copied()
        .or_else(|| inner.span().map(|s| line_col(text, s.start).0))
        .unwrap_or(1);
    let message = inner.message();
    let path = path.to_path_buf();
    if message.starts_with("unknown field") {
        let (parent, last) = segments.split_at(segments.len().saturating_sub(1));
        let valid = match default_subtree(parent) {
            Some(serde_json::Value::Object(map)) => map.keys().cloned().collect::<Vec<_>>(),
            _ => Vec::new(),
        };
        let hint = if last.first().is_some_and(|k| looks_like_secret(k)) {
            "; it looks like a secret: put the key in .env.provider and name its variable \
             with `api_key_env`"
                .to_owned()
        } else {
            String::new()
        };
        return Err(ConfigError::UnknownKey {
            path,
            line,
            key,
            valid: valid.join(", "),
            hint,
        });
    }
    if message.starts_with("invalid type") {
        let found = lookup(&table_for_errors, &segments).map_or("another type", kind_of);
        return Err(ConfigError::WrongType {
            path,
            line,
            key,
            expected: expected_kind(&segments),
            found: found.to_owned(),
        });
    }
    let message = message
        .replace(
            "expected u32",
            "expected a non-negative integer that fits in 32 bits",
        )
        .replace("expected u64", "expected a non-negative integer")
        .replace("expected f64", "expected a number");
    Err(ConfigError::InvalidValue {
        path,
        line,
        key,
        message,
    })
}

/// Checks that types alone cannot express.
fn check_values(
    config: &Config,
    path: &Path,
    lines: &BTreeMap<String, usize>,
) -> Result<(), ConfigError> {
    for (name, profile) in &config.profiles {
        let base = join("profiles", name);
        let invalid = |field: &str, message: String| {
            let key = join(&base, field);
            ConfigError::InvalidValue {
                path: path.to_path_buf(),
                line: lines
                    .get(&key)
                    .or_else(|| lines.get(&base))
                    .copied()
                    .unwrap_or(1),
                key,
                message,
            }
        };
        if !(profile.timeout_seconds.is_finite() && profile.timeout_seconds > 0.0) {
            return Err(invalid(
                "timeout_seconds",
                format!(
                    "must be a positive number of seconds, found {}",
                    profile.timeout_seconds
                ),
            ));
        }
        if profile.provider == Provider::Command && profile.command.is_empty() {
            return Err(invalid(
                "command",
                "provider = \"command\" needs a non-empty argv, e.g. command = [\"my-reviewer\", \
                 \"--json\"]"
                    .to_owned(),
            ));
        }
    }
    let threshold = config.memory.near_duplicate_threshold;
    if !(threshold.is_finite() && threshold > 0.0 && threshold <= 1.0) {
        let key = "memory.near_duplicate_threshold".to_owned();
        return Err(ConfigError::InvalidValue {
            path: path.to_path_buf(),
            line: lines
                .get(&key)
                .or_else(|| lines.get("memory"))
                .copied()
                .unwrap_or(1),
            key,
            message: format!(
                "must be a similarity between 0 (exclusive) and 1, found {threshold}; 0.7 is the \
                 default"
            ),
        });
    }
    Ok(())
}

/// Reads a reference (`codex-self-evolution`) schema 1/2 file leniently.
struct ReferenceLift<'t> {
    text: &'t str,
    warnings: Vec<String>,
    lines: BTreeMap<String, usize>,
}

impl ReferenceLift<'_> {
    fn run(&mut self, root: &DeTable<'_>, version: i64) -> Config {
        self.warnings.push(format!(
            "{CONFIG_FILE_NAME} is a codex-self-evolution schema_version {version} file; csep reads \
             only its reviewer profiles; run `csep config init --force` to write a csep config"
        ));
        let mut config = Config::default();
        let mut active: Option<(String, usize)> = None;
        let mut legacy: Option<Profile> = None;
        for (key, value) in root.iter() {
            let name = key.get_ref().as_ref();
            let line = self.line(key.span().start);
            match (name, value.get_ref()) {
                ("schema_version", _) => {}
                ("active_profile", DeValue::String(s)) => active = Some((s.to_string(), line)),
                ("active_profile", other) => self.warnings.push(format!(
                    "{CONFIG_FILE_NAME}:{line}: active_profile must be a string, found {}; \
                     ignored",
                    kind_of(other)
                )),
                ("profiles", DeValue::Table(profiles)) => {
                    for (pkey, pvalue) in profiles.iter() {
                        let pname = pkey.get_ref().to_string();
                        let base = join("profiles", &pname);
                        let pline = self.line(pkey.span().start);
                        if let DeValue::Table(body) = pvalue.get_ref() {
                            let profile = self.lift_profile(body, &base, &base, pline);
                            config.profiles.insert(pname, profile);
                        } else {
                            self.warnings.push(format!(
                                "{CONFIG_FILE_NAME}:{pline}: `{base}` must be a table, found {}; \
                                 ignored",
                                kind_of(pvalue.get_ref())
                            ));
                        }
                    }
                }
                ("reviewer", DeValue::Table(body)) => {
                    self.warnings.push(format!(
                        "{CONFIG_FILE_NAME}:{line}: legacy [reviewer] block read as profile \
                         `default`"
                    ));
                    legacy = Some(self.lift_profile(body, "reviewer", "profiles.default", line));
                }
                _ => self.reference_only(name, value.get_ref(), line),
            }
        }
        if let Some(profile) = legacy {
            if config.profiles.contains_key("default") {
                self.warnings.push(
                    "legacy [reviewer] block ignored because [profiles.default] exists".to_owned(),
                );
                self.lines
                    .retain(|k, _| !k.starts_with("profiles.default."));
            } else {
                config.profiles.insert("default".to_owned(), profile);
            }
        }
        let declared: Vec<&String> = config
            .profiles
            .keys()
            .filter(|k| k.as_str() != DEFAULT_PROFILE)
            .collect();
        config.active_profile = match active {
            Some((name, line)) if !name.is_empty() => {
                if config.profiles.contains_key(&name) {
                    self.lines.insert("active_profile".to_owned(), line);
                    name
                } else {
                    self.warnings.push(format!(
                        "{CONFIG_FILE_NAME}:{line}: active_profile `{name}` matches no \
                         [profiles.*] section; using `{DEFAULT_PROFILE}`"
                    ));
                    DEFAULT_PROFILE.to_owned()
                }
            }
            // The reference's rule: a lone profile, else `default`, else built-in defaults.
            _ => match declared.as_slice() {
                [only] => (*only).clone(),
                _ if config.profiles.contains_key("default") => "default".to_owned(),
                _ => DEFAULT_PROFILE.to_owned(),
            },
        };
        config
    }

    /// Lifts a reference reviewer table found at `from` into a csep profile at `to`.
    fn lift_profile(&mut self, body: &DeTable<'_>, from: &str, to: &str, line: usize) -> Profile {
        // The reference's default provider is minimax; a file written for it meant that.
        let mut profile = Profile {
            provider: Provider::Minimax,
            ..Profile::default()
        };
        self.lines.insert(join(to, "provider"), line);
        for (key, value) in body.iter() {
            let field = key.get_ref().as_ref();
            let line = self.line(key.span().start);
            let source = join(from, field);
            let value = value.get_ref();
            let ok = match (field, value) {
                ("provider", DeValue::String(s)) => {
                    if let Some(p) = Provider::from_reference_name(s) {
                        profile.provider = p;
                    } else {
                        self.warnings.push(format!(
                            "{CONFIG_FILE_NAME}:{line}: reference provider `{s}` in `{source}` \
                             has no csep equivalent; using `{}`",
                            profile.provider
                        ));
                    }
                    true
                }
                ("model", DeValue::String(s)) => {
                    profile.model = s.to_string();
                    true
                }
                ("base_url", DeValue::String(s)) => {
                    profile.base_url = s.to_string();
                    true
                }
                ("api_key_env", DeValue::String(s)) => {
                    profile.api_key_env = s.to_string();
                    true
                }
                ("timeout_seconds", v) => match number(v) {
                    Some(n) if n.is_finite() && n > 0.0 => {
                        profile.timeout_seconds = n;
                        true
                    }
                    _ => false,
                },
                ("max_tokens", v) => set_u32(v, &mut profile.max_tokens),
                ("max_retries", v) => set_u32(v, &mut profile.max_retries),
                ("model" | "base_url" | "api_key_env", _) => false,
                _ => {
                    self.reference_only(&source, value, line);
                    continue;
                }
            };
            if ok {
                self.lines.insert(join(to, field), line);
            } else {
                self.warnings.push(format!(
                    "{CONFIG_FILE_NAME}:{line}: `{source}` must be {}, found {}; using the default",
                    match field {
                        "timeout_seconds" => "a positive number",
                        "max_tokens" | "max_retries" => "a non-negative integer",
                        _ => "a string",
                    },
                    kind_of(value)
                ));
            }
        }
        profile
    }

    /// Warns once per leaf under a key csep does not read.
    fn reference_only(&mut self, key: &str, value: &DeValue<'_>, line: usize) {
        if let DeValue::Table(table) = value {
            for (k, v) in table.iter() {
                let line = self.line(k.span().start);
                self.reference_only(&join(key, k.get_ref()), v.get_ref(), line);
            }
            return;
        }
        let secret = if key.rsplit('.').next().is_some_and(looks_like_secret) {
            " (it looks like a secret: keys belong in .env.provider, not config.toml)"
        } else {
            ""
        };
        self.warnings.push(format!(
            "{CONFIG_FILE_NAME}:{line}: reference-only key `{key}` ignored{secret}; run \
             `csep config init --force` to write a csep config"
        ));
    }

    fn line(&self, offset: usize) -> usize {
        line_col(self.text, offset).0
    }
}

fn number(value: &DeValue<'_>) -> Option<f64> {
    match value {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .ok()
            .map(|n| n as f64),
        DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
        _ => None,
    }
}

fn set_u32(value: &DeValue<'_>, slot: &mut u32) -> bool {
    let parsed = value
        .as_integer()
        .and_then(|i| u32::from_str_radix(i.as_str(), i.radix()).ok());
    if let Some(n) = parsed {
        *slot = n;
    }
    parsed.is_some()
}

/// Applies the profile selection, env overrides and lints, then records every leaf's source.
fn resolve(
    doc: FileDoc,
    path: PathBuf,
    exists: bool,
    env: &Env,
    overrides: &Overrides,
) -> Result<LoadedConfig, ConfigError> {
    let FileDoc {
        mut config,
        lines,
        mut warnings,
        schema_version,
    } = doc;
    config.schema_version = SCHEMA_VERSION;
    let mut set_by: BTreeMap<String, Source> = BTreeMap::new();

    let selected = if let Some(name) = overrides.profile.as_deref().filter(|n| !n.is_empty()) {
        Some((name.to_owned(), Source::Flag("--profile".to_owned())))
    } else {
        env.get(ENV_PROFILE)
            .map(|name| (name.to_owned(), Source::Env(ENV_PROFILE.to_owned())))
    };
    let (name, source) = match selected {
        Some(selected) => selected,
        None => {
            let source = lines
                .get("active_profile")
                .map_or(Source::Default, |&line| Source::File { line });
            (config.active_profile.clone(), source)
        }
    };
    if !config.profiles.contains_key(&name) {
        return Err(ConfigError::UnknownProfile {
            path,
            name,
            source_label: source.to_string(),
            available: config
                .profiles
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if !matches!(source, Source::Default | Source::File { .. }) {
        set_by.insert("active_profile".to_owned(), source);
    }
    config.active_profile.clone_from(&name);

    apply_env(&mut config, &name, env, &mut set_by, &mut warnings);

    for (pname, profile) in &config.profiles {
        if !profile.api_key_env.is_empty() && !is_env_name(&profile.api_key_env) {
            warnings.push(format!(
                "`profiles.{pname}.api_key_env` should be the NAME of an environment variable \
                 (such as OPENAI_API_KEY), not the key itself; put the key in .env.provider"
            ));
        }
    }

    Ok(LoadedConfig {
        config,
        set_by,
        lines,
        warnings,
        path,
        exists,
        file_schema_version: schema_version,
    })
}

/// Applies the reviewer env overrides to the active profile.
fn apply_env(
    config: &mut Config,
    active: &str,
    env: &Env,
    set_by: &mut BTreeMap<String, Source>,
    warnings: &mut Vec<String>,
) {
    let Some(profile) = config.profiles.get_mut(active) else {
        return;
    };
    let base = join("profiles", active);
    let mut mark = |field: &str, var: &str| {
        set_by.insert(join(&base, field), Source::Env(var.to_owned()));
    };
    if let Some(value) = env.get(ENV_PROVIDER) {
        let parsed = value
            .parse::<Provider>()
            .ok()
            .or_else(|| Provider::from_reference_name(value));
        match parsed {
            Some(provider) => {
                profile.provider = provider;
                mark("provider", ENV_PROVIDER);
            }
            None => warnings.push(format!(
                "{ENV_PROVIDER}=`{value}` is not a provider csep knows ({}); ignored",
                Provider::names()
            )),
        }
    }
    if let Some(value) = env.get(ENV_MODEL) {
        profile.model = value.to_owned();
        mark("model", ENV_MODEL);
    }
    if let Some(value) = env.get(ENV_BASE_URL) {
        profile.base_url = value.to_owned();
        mark("base_url", ENV_BASE_URL);
    }
    if let Some(value) = env.get(ENV_TIMEOUT) {
        match value.trim().parse::<f64>() {
            Ok(n) if n.is_finite() && n > 0.0 => {
                profile.timeout_seconds = n;
                mark("timeout_seconds", ENV_TIMEOUT);
            }
            _ => warnings.push(format!(
                "{ENV_TIMEOUT}=`{value}` is not a positive number of seconds; ignored"
            )),
        }
    }
}

/// `{config_path, config_exists, schema_version, resolved, sources, warnings}` for
/// `csep config show --json`.
pub fn resolved_json(loaded: &LoadedConfig) -> serde_json::Value {
    let sources: serde_json::Map<String, serde_json::Value> = loaded
        .sources()
        .iter()
        .map(|(k, s)| (k.clone(), serde_json::Value::String(s.to_string())))
        .collect();
    serde_json::json!({
        "config_path": loaded.path.display().to_string(),
        "config_exists": loaded.exists,
        "schema_version": loaded.file_schema_version,
        "resolved": serde_json::to_value(&loaded.config).unwrap_or(serde_json::Value::Null),
        "sources": sources,
        "warnings": loaded.warnings,
    })
}

/// Human rendering for `csep config show`: one `key = value    (source)` line per leaf.
pub fn render_show(loaded: &LoadedConfig) -> String {
    let tree = serde_json::to_value(&loaded.config).unwrap_or(serde_json::Value::Null);
    let mut leaves = Vec::new();
    flatten(&tree, "", &mut leaves);
    let sources = loaded.sources();
    let rows: Vec<(String, String)> = leaves
        .into_iter()
        .map(|(key, value)| {
            let source = sources.get(&key).unwrap_or(&Source::Default);
            (format!("{key} = {value}"), source.to_string())
        })
        .collect();
    let width = rows
        .iter()
        .map(|(kv, _)| kv.chars().count())
        .max()
        .unwrap_or(0)
        .min(60);
    let state = if loaded.exists {
        ""
    } else {
        " (not found; built-in defaults)"
    };
    let mut out = format!("# {}{state}\n", loaded.path.display());
    for (kv, source) in rows {
        out.push_str(&format!("{kv:<width$}    ({source})\n"));
    }
    for warning in &loaded.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    out
}

/// The commented `csep config init` template. It loads to exactly [`Config::default`].
pub fn template() -> &'static str {
    TEMPLATE
}

const TEMPLATE: &str = r#"# csep configuration (schema 3).
#
# Behaviour only: API keys never go here. Put them in .env.provider next to this file
# (one KEY=value per line, `chmod 600`) and name the variable with `api_key_env`.
# Every value below is the default; delete a line to keep the default.
# `csep config show` prints the resolved values and where each came from;
# `csep config validate` checks this file. Unknown keys are errors.

schema_version = 3

# The profile used for LLM calls; override per run with --profile NAME or CSEP_PROFILE.
# Env overrides for the active profile: CODEX_SELF_EVOLUTION_REVIEWER_PROVIDER, _MODEL,
# _BASE_URL, _TIMEOUT.
active_profile = "offline"

# One [profiles.NAME] section per reviewer/LLM provider.
# provider: offline | openai-compatible | openai-responses | anthropic | minimax |
#           codex-cli | claude-cli | command | dummy
# Empty model, base_url and api_key_env mean the provider's default.
[profiles.offline]
provider = "offline"          # built-in deterministic reviewer: no network, no key
model = ""
base_url = ""
api_key_env = ""
region = ""                   # minimax only: "global" or "cn"
timeout_seconds = 60.0
max_tokens = 4096
max_retries = 2
command = []                  # argv, for provider = "command"

# [profiles.openai]
# provider = "openai-responses"
# model = "gpt-5-mini"
# api_key_env = "OPENAI_API_KEY"

# [profiles.anthropic]
# provider = "anthropic"
# model = "claude-sonnet-4-5"
# api_key_env = "ANTHROPIC_API_KEY"

# [profiles.minimax]
# provider = "minimax"
# model = "MiniMax-M2.7"
# api_key_env = "MINIMAX_API_KEY"
# region = "global"

# [profiles.codex]
# provider = "codex-cli"      # runs `codex exec` with your Codex login

# [profiles.claude]
# provider = "claude-cli"     # runs `claude -p` with your Claude Code login

[hooks]
session_start_budget_tokens = 2000   # hard cap of context injected at SessionStart
user_prompt_recall = true            # recall memory for each prompt
user_prompt_budget_tokens = 600      # hard cap of context injected per prompt

[review]                      # a session is reviewed when ANY threshold is crossed since its last review
min_new_user_messages = 3     # new user messages
min_new_chars = 4000          # new readable characters (user + agent text, injected text excluded)
min_new_tool_calls = 10       # new tool calls
min_interval_seconds = 0      # minimum seconds between reviews of one session
review_on_signal = true       # "remember …", "不对，…" and other explicit signals review at once
backoff_after_empty = 3       # after N empty reviews in a row, thresholds double per further empty one
backoff_max_factor = 8        # ... up to this factor; 0 in backoff_after_empty disables backoff

[budget]                      # hard token caps per UTC day; 0 = unlimited
daily_tokens = 200000
review_daily_tokens = 150000
compile_daily_tokens = 50000
skills_daily_tokens = 50000

[memory]                      # hard budgets: low-value entries past them are archived
user_budget_chars = 1375      # characters of user memory (USER.md)
project_budget_chars = 2200   # characters of one project's memory (MEMORY.md)
near_duplicate_threshold = 0.7  # shingle similarity above which an added entry is merged

[recall]
top_k = 5

[skills]
enabled = true
default_mode = "incremental"  # incremental | full
lookback_hours = 24           # window of incremental mode
lookback_days = 30            # window of full mode
min_evidence_sessions = 3     # sessions that must support a skill
publish_policy = "auto"       # auto: publish when the gates pass | approve: wait for `csep skills approve`
retire_after_days = 60        # retire published skills unused this long (0 = never)

[scheduler]
scan_interval_seconds = 300
synthesis_interval_seconds = 14400

[log]
level = "info"                # error | warn | info | debug | trace
max_bytes = 5242880           # rotate past this size
keep_files = 5
"#;

/// Writes [`template`] to `<home>/config.toml`, creating `home` if needed.
///
/// Refuses to replace an existing file unless `force`. The file is written to a temporary file in
/// the same directory and renamed into place, with mode 0600 on unix.
pub fn init(home: &Path, force: bool) -> Result<InitOutcome, ConfigError> {
    std::fs::create_dir_all(home).map_err(|source| ConfigError::Write {
        path: home.to_path_buf(),
        source,
    })?;
    let path = config_path(home);
    let existed = path.exists();
    if existed && !force {
        return Err(ConfigError::Exists { path });
    }
    write_atomic(&path, TEMPLATE.as_bytes()).map_err(|source| ConfigError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(if existed {
        InitOutcome::Overwritten
    } else {
        InitOutcome::Created
    })
}

fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let tmp = dir.join(format!(".{CONFIG_FILE_NAME}.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            // A stale temp file keeps its old mode across `open`; tighten it explicitly.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        // Best effort: the error that matters is the one being returned.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Whether a key name looks like it holds a credential (`api_key`, `token`, `secret`, ...).
pub fn looks_like_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "api_key", "api-key", "apikey", "token", "secret", "password", "bearer",
    ]
    .iter()
    .any(|s| {
        key.strip_suffix(s)
            .is_some_and(|rest| rest.is_empty() || rest.ends_with('_') || rest.ends_with('-'))
    })
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Appends `key` to a dotted path, quoting it when it is not a bare TOML key.
fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let key = if bare {
        key.to_owned()
    } else {
        serde_json::Value::String(key.to_owned()).to_string()
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// 1-based (line, column) of a byte offset; the column counts characters.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

fn collect_lines(table: &DeTable<'_>, prefix: &str, text: &str, out: &mut BTreeMap<String, usize>) {
    for (key, value) in table.iter() {
        let path = join(prefix, key.get_ref());
        out.insert(path.clone(), line_col(text, key.span().start).0);
        if let DeValue::Table(inner) = value.get_ref() {
            collect_lines(inner, &path, text, out);
        }
    }
}

type Entry<'a, 'i> = (
    &'a toml::Spanned<toml::de::DeString<'i>>,
    &'a toml::Spanned<DeValue<'i>>,
);

fn find<'a, 'i>(table: &'a DeTable<'i>, name: &str) -> Option<Entry<'a, 'i>> {
    table.iter().find(|(k, _)| k.get_ref() == name)
}

fn lookup<'a, 'i>(table: &'a DeTable<'i>, segments: &[String]) -> Option<&'a DeValue<'i>> {
    let (first, rest) = segments.split_first()?;
    let (_, value) = find(table, first)?;
    match (rest.is_empty(), value.get_ref()) {
        (true, v) => Some(v),
        (false, DeValue::Table(inner)) => lookup(inner, rest),
        (false, _) => None,
    }
}

/// Whether a file without `schema_version` is really a reference file.
fn is_reference_shaped(root: &DeTable<'_>) -> bool {
    ["reviewer", "compile", "skill_synthesis"]
        .iter()
        .any(|k| find(root, k).is_some())
}

fn kind_of(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The default value at `segments`, using a default profile for any `profiles.<name>`.
fn default_subtree(segments: &[String]) -> Option<serde_json::Value> {
    let mut node = serde_json::to_value(Config::default()).ok()?;
    let mut iter = segments.iter().peekable();
    while let Some(segment) = iter.next() {
        if segment == "profiles" {
            match iter.next() {
                None => return node.get("profiles").cloned(),
                Some(_) => node = serde_json::to_value(Profile::default()).ok()?,
            }
            continue;
        }
        node = node.get(segment)?.clone();
    }
    Some(node)
}

fn expected_kind(segments: &[String]) -> String {
    let enum_values = |names: &[&str]| format!("a string, one of {}", names.join(", "));
    match segments.last().map(String::as_str) {
        Some("provider") => return enum_values(&Provider::ALL.map(Provider::as_str)),
        Some("region") => return enum_values(&["\"\"", "global", "cn"]),
        Some("default_mode") => return enum_values(&["incremental", "full"]),
        Some("level") => return enum_values(&["error", "warn", "info", "debug", "trace"]),
        _ => {}
    }
    match default_subtree(segments) {
        Some(serde_json::Value::Bool(_)) => "a boolean",
        Some(serde_json::Value::Number(n)) if n.is_f64() => "a number",
        Some(serde_json::Value::Number(_)) => "a non-negative integer",
        Some(serde_json::Value::Array(_)) => "an array of strings",
        Some(serde_json::Value::Object(_)) => "a table",
        Some(serde_json::Value::String(_)) | None => "a string",
        Some(serde_json::Value::Null) => "a value",
    }
    .to_owned()
}

/// Every leaf (non-object value) of a JSON tree as `(dotted path, JSON text)`.
fn flatten(value: &serde_json::Value, prefix: &str, out: &mut Vec<(String, String)>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                flatten(inner, &join(prefix, key), out);
            }
        }
        leaf => out.push((prefix.to_owned(), leaf.to_string())),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
