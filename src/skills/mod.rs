//! Skill synthesis and lifecycle: evidence, synthesis, quality gates, staging, publishing to the
//! Codex and Claude Code skill directories, usage tracking, retirement and garbage collection.
//!
//! The flow of one synthesis run ([`run::run_synthesis`]):
//!
//! ```text
//! archive + memory + recorded candidates ─▶ evidence::collect ─▶ EvidenceBundle
//!   ─▶ SkillSynthesizer (offline: synth::OfflineSynthesizer; an LLM one plugs in later)
//!   ─▶ SkillDraft ─▶ render::render (SKILL.md, redacted) ─▶ gates::check
//!   ─▶ rejected / candidate (reason recorded) | staged ─▶ publish (policy auto) ─▶ receipt
//! ```
//!
//! Invariants this module keeps:
//! - **Namespace.** csep writes only inside `csep-*` directories of the hosts' skill roots and
//!   inside `<csep home>/skills/` ([`publish::check_namespace`] guards every write and removal).
//! - **Ownership by hash.** Every published file is recorded in the skills table's `published`
//!   manifest with its SHA-256. A file whose hash no longer matches was edited by the user: csep
//!   stops managing it (never rewrites or removes it) and says so.
//! - **Redacted.** Everything written (SKILL.md, database rows) went through
//!   [`crate::archive::redact`] again, even though the archive is already redacted.
//! - **Dry runs** write nothing outside a temporary directory: no database row, no staging file,
//!   no host file.

pub mod evidence;
pub mod gates;
pub mod lifecycle;
pub mod provider_synth;
pub mod publish;
pub mod render;
pub mod run;
pub mod synth;
pub mod usage;

#[cfg(test)]
pub(crate) mod test_support;

use std::path::PathBuf;

/// Prefix of every skill csep owns, in its staging area and in the hosts' skill roots.
pub const NAMESPACE_PREFIX: &str = "csep-";

/// Prefixes the Python reference wrote into `~/.codex/skills` (`csep-synth-*` from its global
/// synthesizer, `csep-reflect-*` from 0.7.11's reflection child, `csep-managed` from the legacy
/// compiler publisher; reference lessons §3.3). csep never produces names with these prefixes;
/// `csep skills gc` removes what is left of them.
pub const REFERENCE_PREFIXES: [&str; 3] = ["csep-synth-", "csep-reflect-", "csep-managed"];

/// Maximum length of a skill name, in characters (Codex skips longer names; client protocols
/// §1.7).
pub const MAX_NAME_CHARS: usize = 64;

/// Maximum length of a description, in characters (Codex truncates longer ones; §1.7).
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

/// Errors of the skills module. Each message says what failed, where, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SkillError {
    /// The database failed.
    #[error("skills database operation failed ({context}): {source}; check `csep status`")]
    Sqlite {
        /// What was being done.
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file operation failed.
    #[error("{action} {path} failed: {source}; check that the directory is writable")]
    Io {
        /// What was being done (`writing`, `removing`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A name outside csep's namespace was about to be written or removed.
    #[error(
        "refusing to touch `{name}`: csep only writes skills named `csep-[a-z0-9-]+` \
         (at most 64 characters)"
    )]
    OutsideNamespace {
        /// The offending name.
        name: String,
    },
    /// No skill has this name.
    #[error("no skill named `{name}`; run `csep skills list` to see the known skills")]
    NotFound {
        /// The name asked for.
        name: String,
    },
    /// The command does not apply to the skill's current state.
    #[error("skill `{name}` is {state}; {hint}")]
    WrongState {
        /// The skill.
        name: String,
        /// Its current state.
        state: String,
        /// What the user can do instead.
        hint: &'static str,
    },
    /// The skill's SKILL.md fails quality gates and cannot be published.
    #[error("skill `{name}` fails its quality gates: {reasons}; fix the evidence or reject it")]
    GatesFailed {
        /// The skill.
        name: String,
        /// The failures, `gate: reason; …`.
        reasons: String,
    },
    /// A synthesizer (provider) failed.
    #[error("skill synthesizer `{synthesizer}` failed: {message}")]
    Synthesizer {
        /// Which synthesizer.
        synthesizer: String,
        /// What went wrong.
        message: String,
    },
    /// A stored JSON column could not be read.
    #[error("the skills table holds invalid JSON in `{column}` of `{name}`: {source}")]
    Json {
        /// The skill.
        name: String,
        /// The column.
        column: &'static str,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}

impl SkillError {
    /// Wraps a SQLite error with what was being done.
    pub(crate) fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> SkillError {
        move |source| SkillError::Sqlite { context, source }
    }

    /// Wraps an I/O error with the action and path.
    pub(crate) fn io<'a>(
        action: &'static str,
        path: &'a std::path::Path,
    ) -> impl Fn(std::io::Error) -> SkillError + 'a {
        move |source| SkillError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
