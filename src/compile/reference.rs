//! The reference implementation's (codex-self-evolution 0.7.x) suggestion formats and their
//! mapping onto csep's [`Operation`]s.
//!
//! Reference families (spec §3.1–3.2) map as follows:
//! - `memory_updates` → `add`, `replace` (target: `details.old_summary`) or `remove`, by
//!   `details.action` (default `add`). Scope `user` → [`Scope::User`]; `global` or none →
//!   [`Scope::Project`] (the reference's "global" memory was per repository). The kind, which
//!   the reference did not have, is inferred from the wording ([`infer_kind`]).
//! - `recall_candidate` → `recall` with `details.reuse_trigger` as the trigger and
//!   `details.source_paths` as paths; the compiler then applies the reference's reuse rule.
//! - `skill_action` with action `create` → `skill_candidate`; other actions are dropped (skill
//!   synthesis owns existing skills).
//!
//! Content is the first non-blank of `details.content`, `note`, `text`, `body` (the reference's
//! alias order). Unknown families and malformed items are dropped with a reason, never guessed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::memory::{Kind, Scope};
use crate::review::ops::{Operation, ReviewOutput};

/// One reference suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefSuggestion {
    /// `memory_updates`, `recall_candidate` or `skill_action`.
    #[serde(default)]
    pub family: String,
    /// One line.
    #[serde(default)]
    pub summary: String,
    /// Family-specific details.
    #[serde(default)]
    pub details: Map<String, Value>,
    /// 0–1 (default 1).
    #[serde(default)]
    pub confidence: Option<f64>,
}

/// A reference suggestion envelope (`suggestions/<state>/<id>.json`, fixture batches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefEnvelope {
    /// Envelope id.
    #[serde(default)]
    pub suggestion_id: String,
    /// Idempotency key.
    #[serde(default)]
    pub idempotency_key: String,
    /// The Codex thread reviewed.
    #[serde(default)]
    pub thread_id: String,
    /// The repository directory.
    #[serde(default)]
    pub cwd: String,
    /// Repository fingerprint.
    #[serde(default)]
    pub repo_fingerprint: String,
    /// When the reviewer ran.
    #[serde(default)]
    pub reviewer_timestamp: String,
    /// The suggestions.
    #[serde(default)]
    pub suggestions: Vec<RefSuggestion>,
    /// State (pending, …).
    #[serde(default)]
    pub state: String,
}

/// A reference suggestion that could not be mapped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dropped {
    /// Position in the envelope.
    pub index: usize,
    /// Its family.
    pub family: String,
    /// Why.
    pub reason: String,
}

/// A reference memory or recall record (`memory/memory.json`, `recall/index.json`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RefRecord {
    /// One line.
    #[serde(default)]
    pub summary: String,
    /// The text.
    #[serde(default)]
    pub content: String,
    /// 0–1.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// Source files.
    #[serde(default)]
    pub source_paths: Vec<String>,
    /// Recall record id.
    #[serde(default)]
    pub id: Option<String>,
    /// Recall: the working directory it was learned in (any JSON; read as a string).
    #[serde(default)]
    pub cwd: Option<Value>,
    /// Recall: the host thread (session) it was learned in.
    #[serde(default)]
    pub thread_id: Option<Value>,
    /// Recall: the host turn it was learned in.
    #[serde(default)]
    pub turn_id: Option<Value>,
    /// Recall: when its source last changed (RFC 3339), the record's date.
    #[serde(default)]
    pub source_updated_at: Option<Value>,
}

impl RefRecord {
    /// A provenance field as the reference coerces it: a string as is, a number or a boolean
    /// written out, `null`, an empty string or anything else absent.
    pub fn text(field: Option<&Value>) -> Option<String> {
        match field? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// `memory/memory.json`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RefMemoryIndex {
    /// Repository-wide entries.
    #[serde(default)]
    pub global: Vec<Value>,
    /// "User" entries (per repository in the reference).
    #[serde(default)]
    pub user: Vec<Value>,
}

fn text_of(details: &Map<String, Value>, key: &str) -> Option<String> {
    details
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The content of a suggestion: `content`, `note`, `text`, `body`, else empty.
pub fn content_of(details: &Map<String, Value>) -> String {
    ["content", "note", "text", "body"]
        .iter()
        .find_map(|k| text_of(details, k))
        .unwrap_or_default()
}

fn paths_of(details: &Map<String, Value>) -> Vec<String> {
    details
        .get("source_paths")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Guesses the kind of a memory from its wording (the reference had no kinds).
pub fn infer_kind(summary: &str, content: &str) -> Kind {
    let text = format!("{summary}\n{content}").to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if has(&["prefer", "user likes", "user wants", "偏好", "喜欢"]) {
        Kind::Preference
    } else if has(&[
        "pitfall", "gotcha", "avoid", "beware", "careful", "trap", "坑", "避免", "小心",
    ]) {
        Kind::Gotcha
    } else if has(&[
        "run `",
        "command `",
        "`cargo ",
        "`make ",
        "`npm ",
        "`go ",
        "`pnpm ",
        "命令",
    ]) {
        Kind::Command
    } else if has(&["http://", "https://", "documented in", "see docs", "文档"]) {
        Kind::Reference
    } else if has(&[
        "always",
        "never",
        "must",
        "should",
        "keep ",
        "do not",
        "don't",
        "convention",
        "rule",
        "必须",
        "不要",
        "约定",
        "规范",
    ]) {
        Kind::Rule
    } else {
        Kind::Fact
    }
}

/// Maps one envelope's suggestions to csep operations, dropping what cannot be mapped.
pub fn map_suggestions(suggestions: &[RefSuggestion]) -> (ReviewOutput, Vec<Dropped>) {
    let mut operations = Vec::new();
    let mut dropped = Vec::new();
    for (index, s) in suggestions.iter().enumerate() {
        let drop = |reason: String| Dropped {
            index,
            family: s.family.clone(),
            reason,
        };
        let summary = s.summary.trim().to_owned();
        if summary.is_empty() {
            dropped.push(drop("summary must be a non-empty string".into()));
            continue;
        }
        if let Some(c) = s.confidence
            && !(0.0..=1.0).contains(&c)
        {
            dropped.push(drop("confidence must be between 0 and 1".into()));
            continue;
        }
        let confidence = Some(s.confidence.unwrap_or(1.0));
        let content = content_of(&s.details);
        let paths = paths_of(&s.details);
        match s.family.as_str() {
            "memory_updates" => {
                let action = text_of(&s.details, "action")
                    .map(|a| a.to_lowercase())
                    .unwrap_or_else(|| "add".into());
                let scope = match text_of(&s.details, "scope").map(|v| v.to_lowercase()) {
                    Some(v) if v == "user" => Scope::User,
                    Some(v) if v == "global" => Scope::Project,
                    None => Scope::Project,
                    Some(other) => {
                        dropped.push(drop(format!(
                            "details.scope for memory_updates must be one of ['global', 'user'], got {other}"
                        )));
                        continue;
                    }
                };
                let evidence: Vec<String> = paths.iter().map(|p| format!("path:{p}")).collect();
                let old_summary = text_of(&s.details, "old_summary");
                let op = match (action.as_str(), old_summary) {
                    ("add", _) => Operation::Add {
                        scope,
                        kind: infer_kind(&summary, &content),
                        summary,
                        content,
                        evidence,
                        confidence,
                    },
                    ("replace", Some(old)) => Operation::Replace {
                        id: old,
                        summary,
                        content,
                        kind: None,
                        evidence,
                        confidence,
                    },
                    ("remove", Some(old)) => Operation::Remove {
                        id: old,
                        reason: summary,
                    },
                    ("replace" | "remove", None) => {
                        dropped.push(drop(format!(
                            "details.old_summary is required for memory_updates action='{action}'"
                        )));
                        continue;
                    }
                    (other, _) => {
                        dropped.push(drop(format!(
                            "details.action for memory_updates must be one of ['add', 'remove', 'replace'], got {other}"
                        )));
                        continue;
                    }
                };
                operations.push(op);
            }
            "recall_candidate" => operations.push(Operation::Recall {
                scope: Scope::Project,
                summary,
                content,
                trigger: text_of(&s.details, "reuse_trigger").unwrap_or_default(),
                paths,
                evidence: Vec::new(),
            }),
            "skill_action" => {
                let action = text_of(&s.details, "action").unwrap_or_default();
                if action != "create" {
                    dropped.push(drop(format!(
                        "skill_action `{action}` is left to skill synthesis (only `create` becomes a candidate)"
                    )));
                    continue;
                }
                let name = text_of(&s.details, "skill_id")
                    .or_else(|| text_of(&s.details, "title"))
                    .unwrap_or_else(|| summary.clone());
                operations.push(Operation::SkillCandidate {
                    name,
                    description: text_of(&s.details, "description").unwrap_or(summary),
                    steps: if content.is_empty() {
                        Vec::new()
                    } else {
                        vec![content]
                    },
                    evidence: Vec::new(),
                });
            }
            other => dropped.push(drop(format!("unsupported suggestion family: {other}"))),
        }
    }
    (ReviewOutput { operations }, dropped)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn suggestion(value: Value) -> RefSuggestion {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn memory_updates_map_to_add_replace_and_remove_by_old_summary() {
        let (out, dropped) = map_suggestions(&[
            suggestion(
                json!({"family":"memory_updates","summary":"Prefer tabs","details":{"scope":"user"}}),
            ),
            suggestion(
                json!({"family":"memory_updates","summary":"New","details":{"action":"replace","old_summary":"Old","content":"c"},"confidence":0.5}),
            ),
            suggestion(
                json!({"family":"memory_updates","summary":"why","details":{"action":"remove","old_summary":"Gone"}}),
            ),
            suggestion(
                json!({"family":"memory_updates","summary":"x","details":{"action":"replace"}}),
            ),
        ]);
        assert_eq!(out.operations.len(), 3);
        assert!(matches!(
            &out.operations[0],
            Operation::Add {
                scope: Scope::User,
                kind: Kind::Preference,
                ..
            }
        ));
        assert!(
            matches!(&out.operations[1], Operation::Replace { id, confidence: Some(c), .. } if id == "Old" && *c == 0.5)
        );
        assert!(matches!(&out.operations[2], Operation::Remove { id, .. } if id == "Gone"));
        assert_eq!(dropped.len(), 1);
        assert!(dropped[0].reason.contains("old_summary"));
    }

    #[test]
    fn unknown_families_and_non_create_skill_actions_are_dropped_with_a_reason() {
        let (out, dropped) = map_suggestions(&[
            suggestion(json!({"family":"wishlist","summary":"x","details":{}})),
            suggestion(
                json!({"family":"skill_action","summary":"s","details":{"action":"retire"}}),
            ),
            suggestion(
                json!({"family":"skill_action","summary":"Run tests","details":{"action":"create","content":"cargo test"}}),
            ),
            suggestion(
                json!({"family":"recall_candidate","summary":"r","details":{"note":"n","reuse_trigger":"when x"}}),
            ),
        ]);
        assert_eq!(dropped.len(), 2);
        assert!(
            dropped[0]
                .reason
                .contains("unsupported suggestion family: wishlist")
        );
        assert!(
            matches!(&out.operations[0], Operation::SkillCandidate { name, .. } if name == "Run tests")
        );
        assert!(
            matches!(&out.operations[1], Operation::Recall { content, trigger, .. } if content == "n" && trigger == "when x")
        );
    }

    #[test]
    fn kinds_are_inferred_from_wording() {
        assert_eq!(
            infer_kind("Go toolchain and mockey test pitfall", ""),
            Kind::Gotcha
        );
        assert_eq!(
            infer_kind("Run tests", "run `cargo nextest run`"),
            Kind::Command
        );
        assert_eq!(infer_kind("Errors", "always use thiserror"), Kind::Rule);
        assert_eq!(infer_kind("API", "lives in services/api"), Kind::Fact);
    }
}
