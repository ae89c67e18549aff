//! The memory entry record as stored in `memory_entries`, and its JSON image in
//! `memory_history`.
//!
//! Invariant: [`MemoryEntry`] round-trips losslessly through its row and through its JSON image,
//! so a history row's `before` can be written back exactly (undo).

use serde::{Deserialize, Serialize};

use crate::memory::{Kind, Scope};

/// Lifecycle of an entry.
///
/// Stored as its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Injected and searchable.
    Active,
    /// Replaced by a newer entry (kept for history).
    Superseded,
    /// Removed by a user or an operation; kept in history, never injected or recalled.
    Forgotten,
    /// Evicted by the hard budget: kept, searchable by recall, not injected.
    Archived,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Superseded => "superseded",
            Status::Forgotten => "forgotten",
            Status::Archived => "archived",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Active,
            Status::Superseded,
            Status::Forgotten,
            Status::Archived,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// Whether entries in this status belong in the full-text index (recall may surface
    /// archived entries; forgotten and superseded ones never).
    pub fn is_indexed(self) -> bool {
        matches!(self, Status::Active | Status::Archived)
    }
}

/// Where an entry came from. Stored as JSON in `memory_entries.provenance`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Provenance {
    /// Host session ids the entry was learned from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sessions: Vec<String>,
    /// Suggestion (queue) ids that contributed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<i64>,
    /// Evidence quoted by the reviewer (archive message ids or quotes).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// Source files the knowledge concerns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_paths: Vec<String>,
    /// How it entered the store: `review`, `cli`, `hand_edit`, `import:reference`, ...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Host turn ids the entry was learned in (a reference recall record's `turn_id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub turns: Vec<String>,
    /// Working directories the entry was learned in (a reference recall record's `cwd`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cwds: Vec<String>,
}

impl Provenance {
    /// Adds `other`'s items that are not already present (order kept, first seen first).
    pub fn absorb(&mut self, other: &Provenance) {
        fn merge<T: PartialEq + Clone>(into: &mut Vec<T>, from: &[T]) {
            for item in from {
                if !into.contains(item) {
                    into.push(item.clone());
                }
            }
        }
        merge(&mut self.sessions, &other.sessions);
        merge(&mut self.suggestions, &other.suggestions);
        merge(&mut self.evidence, &other.evidence);
        merge(&mut self.source_paths, &other.source_paths);
        merge(&mut self.origins, &other.origins);
        merge(&mut self.turns, &other.turns);
        merge(&mut self.cwds, &other.cwds);
    }
}

/// One memory entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// Stable id (`m_` + 12 hex).
    pub id: String,
    /// User (global) or project.
    pub scope: Scope,
    /// The project for project scope; `None` for user scope.
    pub project_id: Option<String>,
    /// What kind of knowledge it is.
    pub kind: Kind,
    /// One line: the rule or fact itself.
    pub summary: String,
    /// Details (may be empty).
    pub content: String,
    /// Where it came from.
    pub provenance: Provenance,
    /// 0.0–1.0.
    pub confidence: f64,
    /// Lifecycle state.
    pub status: Status,
    /// Pinned entries are rendered first and never evicted.
    pub pinned: bool,
    /// The entry this one replaced, if any.
    pub supersedes: Option<String>,
    /// Created (RFC 3339 UTC).
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Last injected into a session.
    pub last_injected_at: Option<String>,
    /// Last used (cited, recalled).
    pub last_used_at: Option<String>,
    /// Times used.
    pub use_count: u32,
    /// When the budget archived it.
    pub archived_at: Option<String>,
    /// Why it left the active state (eviction, forget reason).
    pub status_reason: Option<String>,
}

impl MemoryEntry {
    /// Characters the entry costs against its scope's budget (summary + content).
    pub fn budget_chars(&self) -> usize {
        self.summary.chars().count() + self.content.chars().count()
    }

    /// The text compared for dedupe and indexed for search: summary, newline, content.
    pub fn text(&self) -> String {
        if self.content.is_empty() {
            self.summary.clone()
        } else {
            format!("{}\n{}", self.summary, self.content)
        }
    }
}
