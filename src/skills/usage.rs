//! Skill usage detected in archived transcripts: use counts and last-used times, which drive
//! retirement ([`super::lifecycle::retire_unused`]).
//!
//! What counts as a use (client protocols §1.7, §2.6):
//! - **Claude Code**: a `Skill` tool call whose `skill` argument is the skill's name (a
//!   plugin-namespaced `plugin:name` also matches `name`);
//! - **Codex**: a tool call that reads the skill's file (`…/<name>/SKILL.md` in its arguments;
//!   Codex lists skills with their path and the model opens the file on demand), or a user
//!   prompt that invokes the skill by name (`$<name>`).
//!
//! The skills listing the hosts inject (`<skills_instructions>`, Claude's `skill_listing`) is
//! archived as `injected:*` and is never read here, so merely being listed is not a use.
//!
//! Invariant: idempotent. A use is counted only when it is newer than the skill's recorded
//! `last_used_at`, so running [`detect`] again over the same window changes nothing.

use std::collections::BTreeMap;

use rusqlite::params;
use serde::Serialize;

use super::SkillError;
use super::lifecycle::{self, SkillRecord};
use crate::store::db::Store;

/// How a use was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UseKind {
    /// Claude Code's `Skill` tool.
    SkillTool,
    /// A tool call reading the skill's SKILL.md.
    FileRead,
    /// The user invoked it by name (`$name`).
    Invoked,
}

/// One detected use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageEvent {
    /// The skill.
    pub skill: String,
    /// `codex` or `claude`.
    pub host: String,
    /// Host session id.
    pub session_id: String,
    /// `messages.id`.
    pub message_id: i64,
    /// When (stored timestamp).
    pub at: String,
    /// How it was recognised.
    pub kind: UseKind,
}

/// What [`detect`] found and recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// Every use found in the window (already-counted ones included).
    pub events: Vec<UsageEvent>,
    /// Skills whose counters moved: name → uses newly counted.
    pub counted: BTreeMap<String, i64>,
}

/// The use of `record` in one archived message, if any.
pub fn classify(
    record_name: &str,
    origin: &str,
    tool_name: Option<&str>,
    args: &str,
) -> Option<UseKind> {
    match origin {
        "tool_call" if tool_name == Some("Skill") => {
            let value: serde_json::Value = serde_json::from_str(args).ok()?;
            let skill = value.get("skill").and_then(|s| s.as_str())?;
            let bare = skill
                .rsplit(':')
                .next()
                .unwrap_or(skill)
                .trim_start_matches('/');
            (bare == record_name).then_some(UseKind::SkillTool)
        }
        "tool_call" => {
            let needle = format!("{record_name}/SKILL.md");
            let found = args.match_indices(&needle).any(|(i, _)| {
                // `/csep-x/SKILL.md` or `"csep-x/SKILL.md`, never `csep-xy/…` or `pre-csep-x/…`.
                args[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| matches!(c, '/' | '"' | '\'' | ' ' | '\\'))
            });
            found.then_some(UseKind::FileRead)
        }
        "user" => {
            let needle = format!("${record_name}");
            let found = args.match_indices(&needle).any(|(i, m)| {
                args[i + m.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
            });
            found.then_some(UseKind::Invoked)
        }
        _ => None,
    }
}

/// Scans tool calls and user prompts archived at or after `since` for uses of csep's skills and
/// records new ones (`use_count`, `last_used_at`).
pub fn detect(store: &Store, since: &str) -> Result<UsageReport, SkillError> {
    let skills: Vec<SkillRecord> = lifecycle::list(store)?
        .into_iter()
        .filter(|r| r.has_skill_md())
        .collect();
    let mut report = UsageReport::default();
    if skills.is_empty() {
        return Ok(report);
    }
    {
        let mut stmt = store
            .conn()
            .prepare_cached(
                "SELECT m.id, coalesce(m.ts, s.last_message_at, s.updated_at) AS at, m.origin, \
                 m.tool_name, coalesce(m.tool_args, m.text), s.host, s.session_id \
                 FROM messages m JOIN sessions s ON s.id = m.session_ref \
                 WHERE m.origin IN ('tool_call', 'user') \
                 AND (m.tool_name = 'Skill' OR m.text LIKE '%csep-%' \
                      OR m.tool_args LIKE '%csep-%') \
                 AND coalesce(m.ts, s.last_message_at, s.updated_at) >= ?1 \
                 ORDER BY at, m.id",
            )
            .map_err(SkillError::sql("scanning for skill use"))?;
        let rows = stmt
            .query_map(params![since], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(SkillError::sql("scanning for skill use"))?;
        for row in rows {
            let (id, at, origin, tool, args, host, session_id) =
                row.map_err(SkillError::sql("scanning for skill use"))?;
            for skill in &skills {
                if let Some(kind) = classify(&skill.name, &origin, tool.as_deref(), &args) {
                    report.events.push(UsageEvent {
                        skill: skill.name.clone(),
                        host: host.clone(),
                        session_id: session_id.clone(),
                        message_id: id,
                        at: at.clone(),
                        kind,
                    });
                }
            }
        }
    }
    for mut skill in skills {
        let newer: Vec<&UsageEvent> = report
            .events
            .iter()
            .filter(|e| e.skill == skill.name)
            .filter(|e| {
                skill
                    .last_used_at
                    .as_deref()
                    .is_none_or(|last| e.at.as_str() > last)
            })
            .collect();
        let Some(latest) = newer.iter().map(|e| e.at.clone()).max() else {
            continue;
        };
        let n = i64::try_from(newer.len()).unwrap_or(i64::MAX);
        skill.use_count += n;
        skill.last_used_at = Some(latest);
        lifecycle::save(store, &skill)?;
        report.counted.insert(skill.name.clone(), n);
    }
    Ok(report)
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
