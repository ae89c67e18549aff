//! The skills table and every state change of a skill: record a reviewer candidate, approve,
//! reject, retire (by hand or when unused), restore, uninstall, gc.
//!
//! States (`skills.state`):
//!
//! ```text
//! candidate ──gates pass──▶ staged ──policy auto / approve──▶ published ──unused N days / retire──▶ retired
//!     │  ▲                    │                                   │                                   │
//!     │  └─ evidence short ───┘                                   └────────── restore ◀───────────────┘
//!     └──gates fail──▶ rejected (reason recorded; re-evaluated next run unless the user rejected it)
//! ```
//!
//! Invariants: `body` holds the full SKILL.md of synthesized skills (a reviewer candidate's body
//! holds its numbered steps instead, and never starts with `---`); `published` is the JSON
//! manifest of host files ([`ManifestEntry`]); a skill the user rejected keeps a reason starting
//! with [`USER_REJECTED`] and is never proposed again; every text stored is redacted.

use std::path::Path;

use jiff::{Timestamp, ToSpan};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::gates::{self, Gate, GateInput, InventoryEntry};
use super::publish::{self, LeftAlone, ManifestEntry, Orphan, Roots};
use super::{NAMESPACE_PREFIX, SkillError};
use crate::archive::redact::redact;
use crate::store::db::Store;
use crate::store::time;

/// Reason prefix of a skill the user rejected; synthesis never proposes it again.
pub const USER_REJECTED: &str = "rejected by the user";

/// A skill's lifecycle state, stored by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkillState {
    /// Proposed; waiting for evidence (or a reviewer candidate not yet synthesized).
    Candidate,
    /// Passed the gates; in the staging area.
    Staged,
    /// Written to the hosts' skill directories.
    Published,
    /// Failed a gate or rejected by the user.
    Rejected,
    /// Unpublished and archived.
    Retired,
}

impl SkillState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SkillState::Candidate => "candidate",
            SkillState::Staged => "staged",
            SkillState::Published => "published",
            SkillState::Rejected => "rejected",
            SkillState::Retired => "retired",
        }
    }

    fn parse(s: &str) -> SkillState {
        match s {
            "staged" => SkillState::Staged,
            "published" => SkillState::Published,
            "rejected" => SkillState::Rejected,
            "retired" => SkillState::Retired,
            _ => SkillState::Candidate,
        }
    }
}

/// One row of the skills table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkillRecord {
    /// `csep-…`.
    pub name: String,
    /// The project it was learned in.
    pub project_id: Option<String>,
    /// Lifecycle state.
    pub state: SkillState,
    /// The description.
    pub description: String,
    /// SKILL.md text (or a candidate's steps).
    pub body: String,
    /// SHA-256 of `body`.
    pub content_hash: String,
    /// Evidence ids.
    pub evidence: Vec<String>,
    /// Host files csep wrote.
    pub published: Vec<ManifestEntry>,
    /// Why it is in its state (gate failures, user rejection, retirement).
    pub reason: Option<String>,
    /// First recorded.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
    /// Last published.
    pub published_at: Option<String>,
    /// Last detected use.
    pub last_used_at: Option<String>,
    /// Detected uses.
    pub use_count: i64,
}

impl SkillRecord {
    /// Whether the user rejected it.
    pub fn is_user_rejected(&self) -> bool {
        self.state == SkillState::Rejected
            && self
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with(USER_REJECTED))
    }

    /// Whether `body` is a rendered SKILL.md (not a reviewer candidate's steps).
    pub fn has_skill_md(&self) -> bool {
        self.body.starts_with("---")
    }
}

const COLUMNS: &str = "name, project_id, state, description, body, content_hash, evidence, \
                       published, reason, created_at, updated_at, published_at, last_used_at, \
                       use_count";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(SkillRecord, String, String)> {
    Ok((
        SkillRecord {
            name: r.get(0)?,
            project_id: r.get(1)?,
            state: SkillState::parse(&r.get::<_, String>(2)?),
            description: r.get(3)?,
            body: r.get(4)?,
            content_hash: r.get(5)?,
            evidence: Vec::new(),
            published: Vec::new(),
            reason: r.get(8)?,
            created_at: r.get(9)?,
            updated_at: r.get(10)?,
            published_at: r.get(11)?,
            last_used_at: r.get(12)?,
            use_count: r.get(13)?,
        },
        r.get(6)?,
        r.get(7)?,
    ))
}

fn finish(row: (SkillRecord, String, String)) -> Result<SkillRecord, SkillError> {
    let (mut record, evidence, published) = row;
    record.evidence = serde_json::from_str(&evidence).map_err(|source| SkillError::Json {
        name: record.name.clone(),
        column: "evidence",
        source,
    })?;
    record.published = serde_json::from_str(&published).map_err(|source| SkillError::Json {
        name: record.name.clone(),
        column: "published",
        source,
    })?;
    Ok(record)
}

/// The skill named `name`.
pub fn get(store: &Store, name: &str) -> Result<Option<SkillRecord>, SkillError> {
    let row = store
        .conn()
        .query_row(
            &format!("SELECT {COLUMNS} FROM skills WHERE name = ?1"),
            [name],
            from_row,
        )
        .optional()
        .map_err(SkillError::sql("reading a skill"))?;
    row.map(finish).transpose()
}

/// Like [`get`], but a missing skill is an error.
pub fn require(store: &Store, name: &str) -> Result<SkillRecord, SkillError> {
    get(store, name)?.ok_or_else(|| SkillError::NotFound {
        name: name.to_owned(),
    })
}

/// Every skill, by name.
pub fn list(store: &Store) -> Result<Vec<SkillRecord>, SkillError> {
    let mut stmt = store
        .conn()
        .prepare_cached(&format!("SELECT {COLUMNS} FROM skills ORDER BY name"))
        .map_err(SkillError::sql("listing skills"))?;
    let rows = stmt
        .query_map([], from_row)
        .map_err(SkillError::sql("listing skills"))?;
    let mut out = Vec::new();
    for row in rows {
        out.push(finish(row.map_err(SkillError::sql("listing skills"))?)?);
    }
    Ok(out)
}

/// Inserts or replaces a skill row (text columns redacted on the way in).
pub fn save(store: &Store, record: &SkillRecord) -> Result<(), SkillError> {
    let evidence = serde_json::to_string(&record.evidence).unwrap_or_else(|_| "[]".into());
    let published = serde_json::to_string(&record.published).unwrap_or_else(|_| "[]".into());
    store
        .conn()
        .prepare_cached(
            "INSERT INTO skills (name, project_id, state, description, body, content_hash, \
             evidence, published, reason, created_at, updated_at, published_at, last_used_at, \
             use_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             ON CONFLICT (name) DO UPDATE SET project_id = excluded.project_id, \
             state = excluded.state, description = excluded.description, body = excluded.body, \
             content_hash = excluded.content_hash, evidence = excluded.evidence, \
             published = excluded.published, reason = excluded.reason, \
             updated_at = excluded.updated_at, published_at = excluded.published_at, \
             last_used_at = excluded.last_used_at, use_count = excluded.use_count",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                record.name,
                record.project_id,
                record.state.as_str(),
                redact(&record.description),
                redact(&record.body),
                record.content_hash,
                redact(&evidence),
                published,
                record.reason.as_deref().map(redact),
                record.created_at,
                record.updated_at,
                record.published_at,
                record.last_used_at,
                record.use_count
            ])
        })
        .map_err(SkillError::sql("saving a skill"))?;
    Ok(())
}

/// Records a reviewer's `skill_candidate` operation (the compiler calls this): a `candidate`
/// row whose body is the numbered steps. A name already known in another state is left alone
/// (a candidate never overrides a staged, published, retired or rejected skill). Returns the
/// stored name (`csep-` added when missing).
pub fn record_candidate(
    store: &Store,
    project_id: Option<&str>,
    name: &str,
    description: &str,
    steps: &[String],
    evidence: &[String],
    now: &str,
) -> Result<String, SkillError> {
    let name = super::synth::skill_name(name.trim_start_matches(NAMESPACE_PREFIX));
    if let Some(existing) = get(store, &name)?
        && existing.state != SkillState::Candidate
    {
        return Ok(name);
    }
    let body: String = steps
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{}. {}\n", i + 1, s.trim()))
        .collect();
    let record = SkillRecord {
        name: name.clone(),
        project_id: project_id.map(str::to_owned),
        state: SkillState::Candidate,
        description: description.trim().to_owned(),
        content_hash: publish::content_hash(body.as_bytes()),
        body,
        evidence: evidence.to_vec(),
        published: Vec::new(),
        reason: Some("reviewer candidate".into()),
        created_at: now.to_owned(),
        updated_at: now.to_owned(),
        published_at: None,
        last_used_at: None,
        use_count: 0,
    };
    save(store, &record)?;
    Ok(name)
}

/// The steps of a reviewer candidate's body (`1. step` lines).
pub fn candidate_steps(body: &str) -> Vec<String> {
    body.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(". ") {
            Some((n, rest)) if n.bytes().all(|b| b.is_ascii_digit()) => rest.to_owned(),
            _ => l.to_owned(),
        })
        .collect()
}

/// Skills csep knows (staged or published, with their SKILL.md) plus the hosts' skills: what a
/// new skill must not duplicate.
pub fn inventory(store: &Store, roots: &Roots) -> Result<Vec<InventoryEntry>, SkillError> {
    let mut out: Vec<InventoryEntry> = list(store)?
        .into_iter()
        .filter(|r| matches!(r.state, SkillState::Staged | SkillState::Published))
        .map(|r| InventoryEntry {
            body: super::render::parse(&r.body)
                .map(|p| p.body.to_owned())
                .unwrap_or_default(),
            name: r.name,
            description: r.description,
            location: format!("csep:{}", r.state.as_str()),
        })
        .collect();
    out.extend(publish::read_inventory(roots));
    Ok(out)
}

/// What a lifecycle command did to one skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionReport {
    /// The skill.
    pub name: String,
    /// Its state afterwards.
    pub state: SkillState,
    /// Files written.
    pub written: Vec<String>,
    /// Files removed.
    pub removed: Vec<String>,
    /// Files left alone, and why.
    pub left_alone: Vec<LeftAlone>,
}

impl ActionReport {
    fn new(name: &str, state: SkillState) -> ActionReport {
        ActionReport {
            name: name.to_owned(),
            state,
            written: Vec::new(),
            removed: Vec::new(),
            left_alone: Vec::new(),
        }
    }
}

/// Publishes `record` (its SKILL.md body) to every host root and records the manifest.
pub fn publish_record(
    store: &Store,
    roots: &Roots,
    record: &mut SkillRecord,
    now: &str,
) -> Result<ActionReport, SkillError> {
    let report = publish::publish(roots, &record.name, &record.body, &record.published)?;
    publish::stage(roots, &record.name, &record.body)?;
    record.published = report.manifest;
    record.state = SkillState::Published;
    record.published_at = Some(now.to_owned());
    record.updated_at = now.to_owned();
    record.reason = None;
    save(store, record)?;
    let mut action = ActionReport::new(&record.name, SkillState::Published);
    action.written = report.written;
    action.left_alone = report.left_alone;
    Ok(action)
}

/// `csep skills approve NAME`: re-checks the gates (the evidence gate is waived: the user
/// vouches for it) and publishes a staged or candidate skill.
pub fn approve(
    store: &Store,
    roots: &Roots,
    name: &str,
    now: &str,
) -> Result<ActionReport, SkillError> {
    let mut record = require(store, name)?;
    match record.state {
        SkillState::Staged | SkillState::Candidate | SkillState::Published => {}
        SkillState::Rejected if !record.is_user_rejected() && record.has_skill_md() => {}
        SkillState::Rejected | SkillState::Retired => {
            return Err(SkillError::WrongState {
                name: name.to_owned(),
                state: record.state.as_str().to_owned(),
                hint: "run `csep skills restore NAME` for a retired skill; a rejected one is \
                       proposed again by the next synthesis when its evidence holds",
            });
        }
    }
    if !record.has_skill_md() {
        return Err(SkillError::WrongState {
            name: name.to_owned(),
            state: "a reviewer candidate without a SKILL.md".into(),
            hint: "run `csep skills synthesize` first to turn it into a skill",
        });
    }
    let inventory = inventory(store, roots)?;
    let failures: Vec<_> = gates::check(&GateInput {
        dir_name: &record.name,
        text: &record.body,
        evidence_sessions: 0,
        explicit_request: true,
        min_evidence_sessions: 0,
        inventory: &inventory,
    })
    .into_iter()
    .filter(|f| f.gate != Gate::Evidence)
    .collect();
    if !failures.is_empty() {
        return Err(SkillError::GatesFailed {
            name: name.to_owned(),
            reasons: gates::describe(&failures),
        });
    }
    // An explicit approval puts back host files the user had deleted.
    record
        .published
        .retain(|e| !e.released || Path::new(&e.path).exists());
    publish_record(store, roots, &mut record, now)
}

/// `csep skills reject NAME`: unpublishes if needed and marks the skill rejected by the user, so
/// synthesis never proposes it again.
pub fn reject(
    store: &Store,
    roots: &Roots,
    name: &str,
    why: Option<&str>,
    now: &str,
) -> Result<ActionReport, SkillError> {
    let mut record = require(store, name)?;
    let mut action = ActionReport::new(name, SkillState::Rejected);
    let unpublished = publish::unpublish(name, &record.published)?;
    action.removed = unpublished.removed;
    action.left_alone = unpublished.left_alone;
    record.published = unpublished.remaining;
    publish::unstage(roots, name)?;
    record.state = SkillState::Rejected;
    record.reason = Some(match why {
        Some(w) if !w.trim().is_empty() => format!("{USER_REJECTED}: {}", w.trim()),
        _ => USER_REJECTED.to_owned(),
    });
    record.updated_at = now.to_owned();
    save(store, &record)?;
    Ok(action)
}

/// `csep skills retire NAME`: unpublishes (files the user edited stay), moves the SKILL.md to
/// the archive, and marks it retired.
pub fn retire(
    store: &Store,
    roots: &Roots,
    name: &str,
    why: &str,
    now: &str,
) -> Result<ActionReport, SkillError> {
    let mut record = require(store, name)?;
    if record.state == SkillState::Retired {
        return Ok(ActionReport::new(name, SkillState::Retired));
    }
    let mut action = ActionReport::new(name, SkillState::Retired);
    let unpublished = publish::unpublish(name, &record.published)?;
    action.removed = unpublished.removed;
    action.left_alone = unpublished.left_alone;
    record.published = unpublished.remaining;
    if record.has_skill_md() {
        let archived = publish::archive(roots, name, &record.body)?;
        action.written.push(archived.to_string_lossy().into_owned());
    }
    publish::unstage(roots, name)?;
    record.state = SkillState::Retired;
    record.reason = Some(why.to_owned());
    record.updated_at = now.to_owned();
    save(store, &record)?;
    Ok(action)
}

/// `csep skills restore NAME`: a retired skill is published again (gates re-checked) and its
/// last-used time restarts now, so it is not retired again at once.
pub fn restore(
    store: &Store,
    roots: &Roots,
    name: &str,
    now: &str,
) -> Result<ActionReport, SkillError> {
    let mut record = require(store, name)?;
    if record.state != SkillState::Retired {
        return Err(SkillError::WrongState {
            name: name.to_owned(),
            state: record.state.as_str().to_owned(),
            hint: "only retired skills can be restored; see `csep skills list`",
        });
    }
    record.state = SkillState::Staged;
    record.last_used_at = Some(now.to_owned());
    save(store, &record)?;
    let action = approve(store, roots, name, now);
    if action.is_err() {
        // Put it back as it was: a failed restore leaves the skill retired.
        record.state = SkillState::Retired;
        save(store, &record)?;
    }
    let action = action?;
    publish::unarchive(roots, name)?;
    Ok(action)
}

/// Retires published skills with no detected use for `days` days (counted from the last use,
/// else from publication). `days == 0` disables retirement.
pub fn retire_unused(
    store: &Store,
    roots: &Roots,
    days: u32,
    now: Timestamp,
) -> Result<Vec<ActionReport>, SkillError> {
    if days == 0 {
        return Ok(Vec::new());
    }
    let cutoff = now
        .checked_sub(i64::from(days).saturating_mul(24).hours())
        .unwrap_or(now);
    let cutoff = time::format_ts(cutoff);
    let now = time::format_ts(now);
    let mut out = Vec::new();
    for record in list(store)? {
        if record.state != SkillState::Published {
            continue;
        }
        let since = record
            .last_used_at
            .as_deref()
            .or(record.published_at.as_deref())
            .unwrap_or(record.updated_at.as_str());
        if since < cutoff.as_str() {
            let why = format!("unused for {days} days (since {since})");
            out.push(retire(store, roots, &record.name, &why, &now)?);
        }
    }
    Ok(out)
}

/// Checks every published skill's files; records the ones the user edited (released from
/// management). Returns `(skill, path)` pairs newly found edited.
pub fn refresh_user_edits(store: &Store) -> Result<Vec<(String, String)>, SkillError> {
    let mut found = Vec::new();
    for mut record in list(store)? {
        if record.published.is_empty() {
            continue;
        }
        let (manifest, edited) = publish::detect_user_edits(&record.published);
        if !edited.is_empty() {
            record.published = manifest;
            save(store, &record)?;
            found.extend(edited.into_iter().map(|p| (record.name.clone(), p)));
        }
    }
    Ok(found)
}

/// What `csep skills uninstall` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UninstallReport {
    /// Per skill that had host files.
    pub skills: Vec<ActionReport>,
}

/// Removes every host file csep still owns (edited ones stay and are reported); the skills go
/// back to `staged` so `approve` can publish them again.
pub fn uninstall(store: &Store, now: &str) -> Result<UninstallReport, SkillError> {
    let mut report = UninstallReport::default();
    for mut record in list(store)? {
        if record.published.is_empty() {
            continue;
        }
        let unpublished = publish::unpublish(&record.name, &record.published)?;
        let mut action = ActionReport::new(&record.name, record.state);
        action.removed = unpublished.removed;
        action.left_alone = unpublished.left_alone;
        record.published = unpublished.remaining;
        if record.state == SkillState::Published {
            record.state = SkillState::Staged;
            record.reason = Some("uninstalled from the hosts".into());
            action.state = SkillState::Staged;
        }
        record.updated_at = now.to_owned();
        save(store, &record)?;
        report.skills.push(action);
    }
    Ok(report)
}

/// What `csep skills gc` found (and removed with `apply`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Orphans found.
    pub orphans: Vec<Orphan>,
    /// Whether they were removed.
    pub removed: bool,
}

/// Finds orphans of csep's namespace; removes them when `apply`.
pub fn gc(store: &Store, roots: &Roots, apply: bool) -> Result<GcReport, SkillError> {
    let records = list(store)?;
    let managed: Vec<String> = records
        .iter()
        .flat_map(|r| r.published.iter().map(|e| e.path.clone()))
        .collect();
    let staged: Vec<String> = records
        .iter()
        .filter(|r| matches!(r.state, SkillState::Staged | SkillState::Published))
        .map(|r| r.name.clone())
        .collect();
    let archived: Vec<String> = records
        .iter()
        .filter(|r| r.state == SkillState::Retired)
        .map(|r| r.name.clone())
        .collect();
    let orphans = publish::find_orphans(roots, &managed, &staged, &archived);
    if apply {
        for orphan in &orphans {
            publish::remove_orphan(roots, orphan)?;
        }
    }
    Ok(GcReport {
        removed: apply && !orphans.is_empty(),
        orphans,
    })
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
