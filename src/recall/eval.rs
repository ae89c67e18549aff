//! Retrieval evaluation: hit@k, recall@k, MRR and nDCG@10 of csep's recall against two
//! baselines, over labelled fixtures.
//!
//! # Fixture format (JSON, LongMemEval-like)
//!
//! ```json
//! {
//!   "name": "english-ops",
//!   "now": "2026-03-01T12:00:00Z",
//!   "projects": [{"id": "shop", "path": "/work/shop"}],
//!   "memory": [{"id": "m_retry", "project": "shop", "kind": "gotcha",
//!               "summary": "…", "content": "…", "updated_at": "2026-02-01T00:00:00Z",
//!               "use_count": 0}],
//!   "sessions": [{"id": "s1", "host": "codex", "project": "shop", "cwd": "/work/shop",
//!                 "started_at": "2026-02-01T09:00:00Z",
//!                 "messages": [{"id": "s1.1", "role": "user", "text": "…"},
//!                              {"id": "s1.2", "role": "assistant", "text": "…"},
//!                              {"id": "s1.3", "role": "tool", "tool_name": "exec_command",
//!                               "text": "…"},
//!                              {"id": "s1.4", "origin": "injected", "role": "user",
//!                               "text": "<environment_context>…"}]}],
//!   "questions": [{"id": "q1", "query": "…", "project": "shop", "cwd": "/work/shop",
//!                  "evidence": ["s1.2"], "lang": "en"}]
//! }
//! ```
//!
//! `project` is a fixture-local name (or `null` for user-scope memory); `role` is `user`,
//! `assistant` or `tool`; `origin` is optional (`injected` marks host-injected text, stored but
//! not searchable); message times default to the session start plus one minute per message.
//! `evidence` lists the memory entry ids and message ids that answer the question.
//!
//! # Metrics
//!
//! Each system returns a ranked list of results (memory entries, or sessions with a window of
//! messages: two before and three after the best hit, as `csep recall` shows them). A result
//! *covers* an evidence id when it is that memory entry or the message is in its window.
//! - hit@k: some evidence is covered by the top k results;
//! - recall@k: share of the evidence ids covered by the top k;
//! - MRR: 1 / rank of the first covering result (0 if none in the top 10);
//! - nDCG@10: binary gain for each result that covers evidence no earlier result covered,
//!   normalized by the ideal ranking (one result per distinct evidence unit: entry or session).
//!
//! # Systems
//! - `csep`: [`crate::recall::search::search`] as `csep recall` runs it from the question's cwd.
//! - `plain-bm25`: one FTS5 table with SQLite's default `unicode61` tokenizer over the raw
//!   texts, the query's whitespace-separated words ORed, ranked by `bm25()` alone, messages
//!   grouped per session like csep's (no stemming, no identifier splitting, no CJK segmentation,
//!   no boosts).
//! - `reference-0.7.7`: the reference's scorer (spec §7.1): lowercase whitespace tokens counted
//!   as substrings, plus 10 for the same repository and 5 for a related cwd.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use rusqlite::params;
use serde::{Deserialize, Serialize};

use crate::archive::ingest::{SessionUpsert, insert_messages, upsert_session};
use crate::host::Host;
use crate::host::transcript::{InjectedKind, Origin, Role, SessionMeta, TranscriptMessage};
use crate::recall::analyze::terms_for_index;
use crate::recall::search::{self, HitKind, SearchContext, SearchOptions, SearchScope};
use crate::store::db::Store;

/// Messages before a session's best hit in a result window.
const WINDOW_BEFORE: usize = 2;
/// Messages after a session's best hit in a result window.
const WINDOW_AFTER: usize = 3;
/// Results ranked per question.
const TOP_N: usize = 10;

/// A fixture file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// Name shown in reports.
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: String,
    /// "Now" for recency (RFC 3339).
    pub now: String,
    /// Projects: local name → path.
    #[serde(default)]
    pub projects: Vec<FixtureProject>,
    /// Memory entries.
    #[serde(default)]
    pub memory: Vec<FixtureMemory>,
    /// Archived sessions.
    #[serde(default)]
    pub sessions: Vec<FixtureSession>,
    /// Questions with their evidence.
    pub questions: Vec<FixtureQuestion>,
}

/// A project of a fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureProject {
    /// Local name.
    pub id: String,
    /// Canonical path.
    pub path: String,
}

/// A memory entry of a fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureMemory {
    /// Entry id (evidence ids refer to it).
    pub id: String,
    /// Project local name; `null` for user scope.
    #[serde(default)]
    pub project: Option<String>,
    /// Memory kind.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Summary.
    pub summary: String,
    /// Content.
    pub content: String,
    /// Last update.
    pub updated_at: String,
    /// Times injected and used.
    #[serde(default)]
    pub use_count: i64,
}

fn default_kind() -> String {
    "fact".to_owned()
}

/// A session of a fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureSession {
    /// Host session id.
    pub id: String,
    /// `codex` or `claude`.
    #[serde(default = "default_host")]
    pub host: String,
    /// Project local name.
    #[serde(default)]
    pub project: Option<String>,
    /// Working directory.
    pub cwd: String,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// Messages in order.
    pub messages: Vec<FixtureMessage>,
}

fn default_host() -> String {
    "codex".to_owned()
}

/// A message of a fixture session.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureMessage {
    /// Message id (evidence ids refer to it).
    pub id: String,
    /// `user`, `assistant` or `tool`.
    pub role: String,
    /// `injected` for host-injected text; otherwise derived from the role.
    #[serde(default)]
    pub origin: Option<String>,
    /// Tool name of tool messages.
    #[serde(default)]
    pub tool_name: Option<String>,
    /// Text.
    pub text: String,
}

/// A question of a fixture.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureQuestion {
    /// Question id.
    pub id: String,
    /// What the user would type to `csep recall`.
    pub query: String,
    /// Project local name the question is asked from.
    #[serde(default)]
    pub project: Option<String>,
    /// Working directory the question is asked from.
    pub cwd: String,
    /// Memory entry ids and message ids that answer it.
    pub evidence: Vec<String>,
    /// Language tag (`en`, `zh`, `code`).
    #[serde(default)]
    pub lang: String,
}

/// Errors of an evaluation.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The fixture could not be read.
    #[error("cannot read recall fixture {path}: {source}")]
    Read {
        /// Fixture file.
        path: PathBuf,
        /// I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The fixture is not valid.
    #[error("recall fixture {path} is invalid at {at}: {message}; see `csep eval recall --help`")]
    Invalid {
        /// Fixture file.
        path: PathBuf,
        /// JSON path of the problem.
        at: String,
        /// What is wrong.
        message: String,
    },
    /// Building or querying the evaluation store failed.
    #[error("recall evaluation failed: {0}")]
    Store(String),
}

impl From<rusqlite::Error> for EvalError {
    fn from(e: rusqlite::Error) -> Self {
        EvalError::Store(e.to_string())
    }
}

impl From<crate::store::db::StoreError> for EvalError {
    fn from(e: crate::store::db::StoreError) -> Self {
        EvalError::Store(e.to_string())
    }
}

/// Metrics of one system over a set of questions.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// System name.
    pub system: String,
    /// Questions evaluated.
    pub questions: usize,
    /// Share of questions with evidence in the first result.
    pub hit_at_1: f64,
    /// Share of questions with evidence in the top 5.
    pub hit_at_5: f64,
    /// Mean share of evidence covered by the top 5.
    pub recall_at_5: f64,
    /// Mean share of evidence covered by the top 10.
    pub recall_at_10: f64,
    /// Mean reciprocal rank of the first covering result.
    pub mrr: f64,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
}

/// Report of one fixture.
#[derive(Debug, Clone, Serialize)]
pub struct FixtureReport {
    /// Fixture name.
    pub name: String,
    /// One row per system.
    pub systems: Vec<Metrics>,
    /// csep's metrics per language tag.
    pub csep_by_lang: Vec<(String, Metrics)>,
}

/// Reads and validates a fixture file.
pub fn load(path: &Path) -> Result<Fixture, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Read {
        path: path.to_owned(),
        source,
    })?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    let fixture: Fixture =
        serde_path_to_error::deserialize(de).map_err(|e| EvalError::Invalid {
            path: path.to_owned(),
            at: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    let invalid = |at: String, message: String| EvalError::Invalid {
        path: path.to_owned(),
        at,
        message,
    };
    let time = |at: String, text: &str| {
        ts(text).map(|_| ()).ok_or_else(|| {
            invalid(
                at,
                format!("`{text}` is not an RFC 3339 time such as 2026-03-01T12:00:00Z"),
            )
        })
    };
    time("now".into(), &fixture.now)?;
    if fixture.questions.is_empty() {
        return Err(invalid(
            "questions".into(),
            "no questions to evaluate".into(),
        ));
    }
    let mut projects = HashSet::new();
    for p in &fixture.projects {
        if !projects.insert(p.id.as_str()) {
            return Err(invalid(format!("projects.{}", p.id), "duplicate id".into()));
        }
    }
    let known_project = |at: String, project: Option<&String>| match project {
        Some(name) if !projects.contains(name.as_str()) => Err(invalid(
            at,
            format!("unknown project `{name}` (not in `projects`)"),
        )),
        _ => Ok(()),
    };
    let mut ids = HashSet::new();
    let mut injected = HashSet::new();
    for m in &fixture.memory {
        if !ids.insert(m.id.as_str()) {
            return Err(invalid(format!("memory.{}", m.id), "duplicate id".into()));
        }
        known_project(format!("memory.{}.project", m.id), m.project.as_ref())?;
        time(format!("memory.{}.updated_at", m.id), &m.updated_at)?;
    }
    let mut sessions = HashSet::new();
    for s in &fixture.sessions {
        if !sessions.insert(s.id.as_str()) {
            return Err(invalid(format!("sessions.{}", s.id), "duplicate id".into()));
        }
        known_project(format!("sessions.{}.project", s.id), s.project.as_ref())?;
        for m in &s.messages {
            let at = format!("sessions.{}.{}", s.id, m.id);
            if !ids.insert(m.id.as_str()) {
                return Err(invalid(at, "duplicate id".into()));
            }
            if !matches!(m.role.as_str(), "user" | "assistant" | "tool") {
                return Err(invalid(
                    format!("{at}.role"),
                    format!("unknown role `{}` (user, assistant or tool)", m.role),
                ));
            }
            match m.origin.as_deref() {
                None => {}
                Some("injected") => {
                    injected.insert(m.id.as_str());
                }
                Some(other) => {
                    return Err(invalid(
                        format!("{at}.origin"),
                        format!("unknown origin `{other}` (only `injected` is one)"),
                    ));
                }
            }
        }
    }
    let mut questions = HashSet::new();
    for q in &fixture.questions {
        if !questions.insert(q.id.as_str()) {
            return Err(invalid(
                format!("questions.{}", q.id),
                "duplicate id".into(),
            ));
        }
        known_project(format!("questions.{}.project", q.id), q.project.as_ref())?;
        if q.evidence.is_empty() {
            return Err(invalid(format!("questions.{}", q.id), "no evidence".into()));
        }
        if let Some(e) = q.evidence.iter().find(|e| !ids.contains(e.as_str())) {
            return Err(invalid(
                format!("questions.{}.evidence", q.id),
                format!("unknown evidence id `{e}`"),
            ));
        }
        if let Some(e) = q.evidence.iter().find(|e| injected.contains(e.as_str())) {
            return Err(invalid(
                format!("questions.{}.evidence", q.id),
                format!("`{e}` is injected text, which recall never returns"),
            ));
        }
    }
    Ok(fixture)
}

/// One ranked result: the evidence ids it covers and the unit it is (entry or session).
#[derive(Debug, Clone)]
struct Ranked {
    unit: String,
    covers: HashSet<String>,
}

/// The evaluation store and the maps between fixture ids and rows.
struct Built {
    store: Store,
    project_ids: HashMap<String, String>,
    /// messages.id → fixture message id.
    message_ids: HashMap<i64, String>,
    /// Fixture message id → (session id, index among non-injected messages of its session).
    message_pos: HashMap<String, (String, usize)>,
    /// Session id → fixture ids of its non-injected messages, in order.
    session_messages: HashMap<String, Vec<String>>,
}

fn ts(text: &str) -> Option<jiff::Timestamp> {
    text.parse().ok()
}

fn build(fixture: &Fixture) -> Result<Built, EvalError> {
    let mut store = Store::open_in_memory()?;
    let mut project_ids = HashMap::new();
    for p in &fixture.projects {
        let id = format!("p_{}", p.id);
        store.conn().execute(
            "INSERT INTO projects (id, canonical_path, display_path, display_name, kind, \
             created_at, last_seen_at) VALUES (?1, ?2, ?2, ?3, 'worktree', ?4, ?4)",
            params![id, p.path, p.id, fixture.now],
        )?;
        project_ids.insert(p.id.clone(), id);
    }
    for m in &fixture.memory {
        let project = m.project.as_ref().and_then(|p| project_ids.get(p));
        let scope = if project.is_some() { "project" } else { "user" };
        store.conn().execute(
            "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, \
             normalized, created_at, updated_at, use_count) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?7, ?8)",
            params![
                m.id,
                scope,
                project,
                m.kind,
                m.summary,
                m.content,
                m.updated_at,
                m.use_count
            ],
        )?;
        let rowid = store.conn().last_insert_rowid();
        store.conn().execute(
            "INSERT INTO memory_fts (rowid, terms) VALUES (?1, ?2)",
            params![
                rowid,
                terms_for_index(&format!("{} {}", m.summary, m.content))
            ],
        )?;
    }
    let mut message_ids = HashMap::new();
    let mut message_pos = HashMap::new();
    let mut session_messages: HashMap<String, Vec<String>> = HashMap::new();
    let now = crate::store::time::now();
    for s in &fixture.sessions {
        let host: Host = s.host.parse().map_err(|e: crate::host::UnknownHost| {
            EvalError::Store(format!("session {}: {e}", s.id))
        })?;
        let start = ts(&s.started_at)
            .ok_or_else(|| EvalError::Store(format!("session {}: bad started_at", s.id)))?;
        let meta = SessionMeta {
            id: Some(s.id.clone()),
            cwd: Some(PathBuf::from(&s.cwd)),
            model: None,
            cli_version: None,
            started_at: Some(start),
        };
        let messages: Vec<TranscriptMessage> = s
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let injected = m.origin.as_deref() == Some("injected");
                let (role, origin) = match (m.role.as_str(), injected) {
                    (_, true) => (Role::User, Origin::Injected(InjectedKind::Other)),
                    ("user", _) => (Role::User, Origin::User),
                    ("tool", _) => (Role::Tool, Origin::ToolOutput),
                    _ => (Role::Assistant, Origin::Agent),
                };
                TranscriptMessage {
                    role,
                    origin,
                    text: m.text.clone(),
                    tool_name: m.tool_name.clone(),
                    tool_args: None,
                    tool_call_id: None,
                    timestamp: Some(start + jiff::SignedDuration::from_secs(60 * i as i64)),
                    turn_id: None,
                    byte_offset: i as u64,
                    seq: 0,
                }
            })
            .collect();
        let tx = store.conn_mut().transaction()?;
        let upsert = SessionUpsert {
            host,
            session_id: &s.id,
            project_id: s
                .project
                .as_ref()
                .and_then(|p| project_ids.get(p))
                .map(String::as_str),
            transcript_path: None,
            meta: &meta,
        };
        let session_ref = upsert_session(&tx, &upsert, &now)?;
        insert_messages(&tx, session_ref, &messages)?;
        let last = messages.iter().filter_map(|m| m.timestamp).max();
        tx.execute(
            "UPDATE sessions SET last_message_at = ?2 WHERE id = ?1",
            params![session_ref, last.map(crate::store::time::format_ts)],
        )?;
        tx.commit()?;
        let mut visible = Vec::new();
        for (i, m) in s.messages.iter().enumerate() {
            let id: i64 = store.conn().query_row(
                "SELECT id FROM messages WHERE session_ref = ?1 AND byte_offset = ?2",
                params![session_ref, i as i64],
                |r| r.get(0),
            )?;
            message_ids.insert(id, m.id.clone());
            if m.origin.as_deref() != Some("injected") {
                message_pos.insert(m.id.clone(), (s.id.clone(), visible.len()));
                visible.push(m.id.clone());
            }
        }
        session_messages.insert(s.id.clone(), visible);
    }
    Ok(Built {
        store,
        project_ids,
        message_ids,
        message_pos,
        session_messages,
    })
}

fn question_cwd(q: &FixtureQuestion) -> PathBuf {
    PathBuf::from(&q.cwd)
}

fn run_csep(
    built: &Built,
    fixture: &Fixture,
    q: &FixtureQuestion,
) -> Result<Vec<Ranked>, EvalError> {
    let project = q.project.as_ref().and_then(|p| built.project_ids.get(p));
    let cwd = question_cwd(q);
    let ctx = SearchContext {
        project_id: project.map(String::as_str),
        cwd: Some(&cwd),
        // Checked by `load`.
        now: ts(&fixture.now).unwrap_or_else(jiff::Timestamp::now),
    };
    let opts = SearchOptions {
        scope: SearchScope::Auto,
        top_k: TOP_N,
        window_before: WINDOW_BEFORE,
        window_after: WINDOW_AFTER,
        ..SearchOptions::default()
    };
    let outcome = match search::search(&built.store, &q.query, &ctx, &opts) {
        Ok(outcome) => outcome,
        Err(search::SearchError::Query(_)) => return Ok(Vec::new()),
        Err(e) => return Err(EvalError::Store(e.to_string())),
    };
    Ok(outcome
        .hits
        .into_iter()
        .map(|h| match (&h.kind, &h.session) {
            (HitKind::Session, Some(detail)) => Ranked {
                unit: format!("session:{}", h.id),
                covers: detail
                    .messages
                    .iter()
                    .filter_map(|m| built.message_ids.get(&m.id).cloned())
                    .collect(),
            },
            _ => Ranked {
                unit: format!("entry:{}", h.id),
                covers: HashSet::from([h.id]),
            },
        })
        .collect())
}

/// A session result around message `best` (a fixture id), with the same window as csep's.
fn session_window(built: &Built, best: &str) -> Option<Ranked> {
    let (session, pos) = built.message_pos.get(best)?;
    let list = built.session_messages.get(session)?;
    let from = pos.saturating_sub(WINDOW_BEFORE);
    let to = (pos + WINDOW_AFTER + 1).min(list.len());
    Some(Ranked {
        unit: format!("session:{session}"),
        covers: list[from..to].iter().cloned().collect(),
    })
}

/// Keeps the first result per unit, up to [`TOP_N`].
fn dedupe_units(ranked: Vec<Ranked>) -> Vec<Ranked> {
    let mut seen = HashSet::new();
    ranked
        .into_iter()
        .filter(|r| seen.insert(r.unit.clone()))
        .take(TOP_N)
        .collect()
}

/// Builds the plain-BM25 baseline table: raw texts, default tokenizer.
fn build_plain(built: &Built, fixture: &Fixture) -> Result<(), EvalError> {
    let conn = built.store.conn();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE temp.plain_fts USING fts5(unit UNINDEXED, ref UNINDEXED, text);",
    )?;
    let mut insert =
        conn.prepare("INSERT INTO temp.plain_fts (unit, ref, text) VALUES (?1, ?2, ?3)")?;
    for m in &fixture.memory {
        insert.execute(params![
            "entry",
            m.id,
            format!("{} {}", m.summary, m.content)
        ])?;
    }
    for s in &fixture.sessions {
        for m in s
            .messages
            .iter()
            .filter(|m| m.origin.as_deref() != Some("injected"))
        {
            insert.execute(params!["message", m.id, m.text])?;
        }
    }
    Ok(())
}

fn run_plain(built: &Built, q: &FixtureQuestion) -> Result<Vec<Ranked>, EvalError> {
    let words: Vec<String> = q
        .query
        .split_whitespace()
        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
        .collect();
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let expr = words.join(" OR ");
    let mut stmt = built.store.conn().prepare_cached(
        "SELECT unit, ref FROM temp.plain_fts WHERE plain_fts MATCH ?1 \
         ORDER BY bm25(plain_fts) LIMIT 200",
    )?;
    let rows: Vec<(String, String)> = match stmt
        .query_map([&expr], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect::<Result<_, _>>())
    {
        Ok(rows) => rows,
        // A query the default tokenizer turns into an FTS syntax error finds nothing.
        Err(_) => return Ok(Vec::new()),
    };
    let ranked = rows
        .into_iter()
        .filter_map(|(unit, id)| {
            if unit == "entry" {
                Some(Ranked {
                    unit: format!("entry:{id}"),
                    covers: HashSet::from([id]),
                })
            } else {
                session_window(built, &id)
            }
        })
        .collect();
    Ok(dedupe_units(ranked))
}

fn run_reference(built: &Built, fixture: &Fixture, q: &FixtureQuestion) -> Vec<Ranked> {
    let tokens: HashSet<String> = q.query.split_whitespace().map(str::to_lowercase).collect();
    let here = question_cwd(q);
    let related = |cwd: &str| {
        let cwd = cwd.to_owned();
        let here = here.to_string_lossy().into_owned();
        cwd.starts_with(&here) || here.starts_with(&cwd)
    };
    let score = |text: &str, project: Option<&String>, cwd: Option<&str>| {
        let lower = text.to_lowercase();
        let hits = tokens.iter().filter(|t| lower.contains(t.as_str())).count() as i64;
        let same_repo = i64::from(project.is_some() && project == q.project.as_ref());
        let same_cwd = i64::from(cwd.is_some_and(related));
        (same_repo * 10 + same_cwd * 5 + hits, same_repo, hits)
    };
    let mut scored: Vec<((i64, i64, i64), Ranked)> = Vec::new();
    for m in &fixture.memory {
        let s = score(
            &format!("{} {}", m.summary, m.content),
            m.project.as_ref(),
            None,
        );
        scored.push((
            s,
            Ranked {
                unit: format!("entry:{}", m.id),
                covers: HashSet::from([m.id.clone()]),
            },
        ));
    }
    for s in &fixture.sessions {
        for m in s
            .messages
            .iter()
            .filter(|m| m.origin.as_deref() != Some("injected"))
        {
            let key = score(&m.text, s.project.as_ref(), Some(&s.cwd));
            if let Some(r) = session_window(built, &m.id) {
                scored.push((key, r));
            }
        }
    }
    if !tokens.is_empty() {
        scored.retain(|(key, _)| key.0 > 0);
    }
    // Stable sort, descending, as the reference's `sorted(..., reverse=True)`.
    scored.sort_by_key(|s| std::cmp::Reverse(s.0));
    dedupe_units(scored.into_iter().map(|(_, r)| r).collect())
}

/// Per-question metric values: hit@1, hit@5, recall@5, recall@10, reciprocal rank, nDCG@10.
fn score_question(ranked: &[Ranked], evidence: &[String], built: &Built) -> [f64; 6] {
    let evidence: HashSet<&str> = evidence.iter().map(String::as_str).collect();
    let covered_by = |k: usize| -> HashSet<&str> {
        ranked
            .iter()
            .take(k)
            .flat_map(|r| r.covers.iter().map(String::as_str))
            .filter(|e| evidence.contains(e))
            .collect()
    };
    let n = evidence.len() as f64;
    let hit = |k: usize| f64::from(u8::from(!covered_by(k).is_empty()));
    let first = ranked
        .iter()
        .position(|r| r.covers.iter().any(|e| evidence.contains(e.as_str())));
    let rr = first.map_or(0.0, |i| 1.0 / (i as f64 + 1.0));
    let mut seen: HashSet<&str> = HashSet::new();
    let mut dcg = 0.0;
    for (i, r) in ranked.iter().take(TOP_N).enumerate() {
        let new = r
            .covers
            .iter()
            .map(String::as_str)
            .filter(|e| evidence.contains(e) && !seen.contains(e))
            .collect::<Vec<_>>();
        if !new.is_empty() {
            dcg += 1.0 / (i as f64 + 2.0).log2();
            seen.extend(new);
        }
    }
    let units: HashSet<&str> = evidence
        .iter()
        .map(|e| {
            built
                .message_pos
                .get(*e)
                .map_or(*e, |(session, _)| session.as_str())
        })
        .collect();
    let idcg: f64 = (0..units.len().min(TOP_N))
        .map(|i| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    [
        hit(1),
        hit(5),
        covered_by(5).len() as f64 / n,
        covered_by(10).len() as f64 / n,
        rr,
        if idcg > 0.0 { dcg / idcg } else { 0.0 },
    ]
}

fn average(system: &str, rows: &[[f64; 6]]) -> Metrics {
    let n = rows.len().max(1) as f64;
    let mean = |i: usize| rows.iter().map(|r| r[i]).sum::<f64>() / n;
    Metrics {
        system: system.to_owned(),
        questions: rows.len(),
        hit_at_1: mean(0),
        hit_at_5: mean(1),
        recall_at_5: mean(2),
        recall_at_10: mean(3),
        mrr: mean(4),
        ndcg_at_10: mean(5),
    }
}

/// Evaluates every system on one fixture.
pub fn evaluate(fixture: &Fixture) -> Result<FixtureReport, EvalError> {
    let built = build(fixture)?;
    build_plain(&built, fixture)?;
    let mut csep_rows = Vec::new();
    let mut plain_rows = Vec::new();
    let mut reference_rows = Vec::new();
    let mut by_lang: HashMap<String, Vec<[f64; 6]>> = HashMap::new();
    for q in &fixture.questions {
        let csep = score_question(&run_csep(&built, fixture, q)?, &q.evidence, &built);
        csep_rows.push(csep);
        by_lang.entry(q.lang.clone()).or_default().push(csep);
        plain_rows.push(score_question(&run_plain(&built, q)?, &q.evidence, &built));
        reference_rows.push(score_question(
            &run_reference(&built, fixture, q),
            &q.evidence,
            &built,
        ));
    }
    let mut csep_by_lang: Vec<(String, Metrics)> = by_lang
        .into_iter()
        .map(|(lang, rows)| (lang, average("csep", &rows)))
        .collect();
    csep_by_lang.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(FixtureReport {
        name: fixture.name.clone(),
        systems: vec![
            average("csep", &csep_rows),
            average("plain-bm25", &plain_rows),
            average("reference-0.7.7", &reference_rows),
        ],
        csep_by_lang,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{
      "name": "tiny",
      "now": "2026-03-01T12:00:00Z",
      "projects": [{"id": "shop", "path": "/work/shop"}],
      "memory": [{"id": "m_retry", "project": "shop", "kind": "gotcha",
                  "summary": "Payment retries", "content": "Retry the payment gateway three times with backoff.",
                  "updated_at": "2026-02-01T00:00:00Z"}],
      "sessions": [{"id": "s1", "project": "shop", "cwd": "/work/shop",
                    "started_at": "2026-02-01T09:00:00Z",
                    "messages": [
                      {"id": "s1.0", "role": "user", "origin": "injected", "text": "<environment_context>"},
                      {"id": "s1.1", "role": "user", "text": "订单超时以后怎么处理"},
                      {"id": "s1.2", "role": "assistant", "text": "订单 超时 后 自动 重试 三次"}]}],
      "questions": [
        {"id": "q1", "query": "payment retries", "project": "shop", "cwd": "/work/shop",
         "evidence": ["m_retry"], "lang": "en"},
        {"id": "q2", "query": "订单超时重试", "project": "shop", "cwd": "/work/shop",
         "evidence": ["s1.2"], "lang": "zh"}
      ]
    }"#;

    #[test]
    fn csep_finds_both_questions_and_plain_bm25_misses_the_chinese_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.json");
        std::fs::write(&path, FIXTURE).unwrap();
        let fixture = load(&path).unwrap();
        let report = evaluate(&fixture).unwrap();
        let csep = &report.systems[0];
        assert_eq!(csep.system, "csep");
        assert_eq!((csep.questions, csep.hit_at_1, csep.mrr), (2, 1.0, 1.0));
        let plain = &report.systems[1];
        assert_eq!(plain.hit_at_5, 0.5, "{plain:?}");
        assert_eq!(report.csep_by_lang.len(), 2);
    }

    #[test]
    fn unknown_evidence_ids_are_reported_with_their_question() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, FIXTURE.replace("\"s1.2\"]", "\"nope\"]")).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("questions.q2.evidence") && err.contains("nope"),
            "{err}"
        );
    }

    /// Every fixture mistake the loader can see is an error naming where it is, not a result
    /// silently computed from a fixture that does not say what its author meant.
    #[rstest::rstest]
    #[case::bad_now("\"now\": \"2026-03-01T12:00:00Z\"", "\"now\": \"soon\"", "now")]
    #[case::bad_updated_at(
        "\"updated_at\": \"2026-02-01T00:00:00Z\"",
        "\"updated_at\": \"yesterday\"",
        "memory.m_retry.updated_at"
    )]
    #[case::bad_role(
        "\"role\": \"assistant\"",
        "\"role\": \"robot\"",
        "sessions.s1.s1.2.role"
    )]
    #[case::bad_origin(
        "\"origin\": \"injected\"",
        "\"origin\": \"typed\"",
        "sessions.s1.s1.0.origin"
    )]
    #[case::unknown_memory_project(
        "\"memory\": [{\"id\": \"m_retry\", \"project\": \"shop\"",
        "\"memory\": [{\"id\": \"m_retry\", \"project\": \"shoq\"",
        "memory.m_retry.project"
    )]
    #[case::unknown_question_project(
        "{\"id\": \"q1\", \"query\": \"payment retries\", \"project\": \"shop\"",
        "{\"id\": \"q1\", \"query\": \"payment retries\", \"project\": \"shoq\"",
        "questions.q1.project"
    )]
    #[case::duplicate_question("\"id\": \"q2\"", "\"id\": \"q1\"", "questions.q1")]
    #[case::injected_evidence("\"s1.2\"]", "\"s1.0\"]", "questions.q2.evidence")]
    fn a_fixture_mistake_is_an_error_naming_where_it_is(
        #[case] from: &str,
        #[case] to: &str,
        #[case] at: &str,
    ) {
        assert!(FIXTURE.contains(from), "{from}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.json");
        std::fs::write(&path, FIXTURE.replacen(from, to, 1)).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("invalid at {at}:")), "{err}");
    }

    #[test]
    fn a_fixture_without_questions_is_an_error() {
        let mut value: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        value["questions"] = serde_json::json!([]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.json");
        std::fs::write(&path, value.to_string()).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains("invalid at questions: no questions"), "{err}");
    }

    #[test]
    fn metrics_follow_their_definitions() {
        let built = build(&serde_json::from_str::<Fixture>(FIXTURE).unwrap()).unwrap();
        let r = |unit: &str, covers: &[&str]| Ranked {
            unit: unit.into(),
            covers: covers.iter().map(|s| (*s).to_owned()).collect(),
        };
        let ranked = vec![r("entry:x", &["x"]), r("entry:m_retry", &["m_retry"])];
        let got = score_question(&ranked, &["m_retry".to_owned()], &built);
        assert_eq!(got[..5], [0.0, 1.0, 1.0, 1.0, 0.5]);
        assert!((got[5] - 1.0 / 3f64.log2()).abs() < 1e-9);
    }
}
