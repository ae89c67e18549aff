//! Ranked search over memory entries, recall entries and archived session messages.
//!
//! Reads `memory_fts`/`memory_entries`, `recall_fts`/`recall_entries`, the archive's message
//! index ([`crate::archive::index`], plus `messages_fts` for messages archived before schema 9)
//! and `messages`/`sessions`; writes nothing except through [`record_use`].
//!
//! How a query is answered:
//! 1. `match_query` reads the query once: FTS5 MATCH strings (OR of analyzed terms, required
//!    phrases, exclusions) for the entry tables, and for the message index, whose rows hold
//!    each term once, the same rule as sets of terms (a phrase asks for its words, one-word
//!    exclusions remove rows); message candidates must then pass its phrase check on their
//!    stored text. Each source takes a **candidate pool** from its index
//!    ([`crate::recall::pool`]): the matches are ordered from the doclists alone (sum of the
//!    IDF of the query terms each contains, which tells which terms it covers), and base rows
//!    are read and filtered (project, status, `--since`, host) in that order only until the pool
//!    is full, so the cost does not grow with the number of matches. Injected messages are not
//!    indexed, so they never match.
//! 2. Each candidate gets a **relevance** in `[0, 1]` that is comparable across sources:
//!    `0.6 × coverage + 0.4 × bm25 / best bm25 of its pool`, where coverage is the share of the
//!    query's distinct terms the candidate contains (from the per-term doclists, so no candidate
//!    text is re-analyzed) and bm25 is FTS5's formula with each term counted once, from the
//!    candidate's real length. Raw BM25 alone is not comparable across tables of very
//!    different sizes, and is near zero for terms in most rows of a small table (lessons §2.5.8).
//! 3. The **score** multiplies relevance by the boosts of issue 4 §4, in this order of strength:
//!    - locality: same project (or user-scope memory, which applies everywhere)
//!      [`BOOST_SAME_PROJECT`], plus [`BOOST_CWD_SUBTREE_IN_PROJECT`] when the session's cwd is
//!      inside or above the current one; a different project (or none) whose cwd is inside the
//!      current one [`BOOST_CWD_SUBTREE`] (not above it: a session started in the home
//!      directory is above every project); other projects 1.0. So same project > same cwd
//!      subtree > others. An entry has no cwd and counts as related to every cwd of its
//!      project.
//!    - recency: `1 + RECENCY_WEIGHT × 0.5^(age / RECENCY_HALF_LIFE_DAYS)`, the age taken from the
//!      session's own `last_message_at` or the entry's `updated_at`;
//!    - usage: `1 + min(USAGE_CAP, USAGE_WEIGHT × ln(1 + use_count))`;
//!    - source: memory [`SOURCE_MEMORY`] > recall entry [`SOURCE_RECALL`] > message 1.0, so
//!      memory wins at equal relevance; messages also carry a role factor (tool output and
//!      reasoning below what the user or the agent said).
//! 4. Message hits are grouped per session (the best hit represents it, each further hit adds
//!    [`SESSION_EXTRA_HIT_BONUS`]) and shown with a window of surrounding non-injected messages.
//! 5. Default scope searches the current project (and the user's global memory); when that
//!    yields fewer than `top_k` hits, other projects fill in after them (global fallback).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rusqlite::{Connection, params};
use serde::Serialize;

use crate::recall::analyze::{
    MatchQuery, PhraseCheck, QueryError, holds_phrase, match_query, message_terms,
};
use crate::recall::pool::{FtsTable, Lister, RowidRanges, Scored, TermMatches};
use crate::store::db::{Store, json_ids};

/// Most hits a search returns, whatever `top_k` asks (its candidate pools are ten times as
/// large).
pub const MAX_TOP_K: usize = 1000;

/// Locality boost of a hit in the current project, or of user-scope memory.
pub const BOOST_SAME_PROJECT: f64 = 1.5;
/// Extra locality boost of a same-project hit whose cwd is inside or above the current cwd.
pub const BOOST_CWD_SUBTREE_IN_PROJECT: f64 = 0.15;
/// Locality boost of a hit from another project whose cwd is inside or above the current cwd.
pub const BOOST_CWD_SUBTREE: f64 = 1.25;
/// Maximum recency boost (a hit from today gets `1 + RECENCY_WEIGHT`).
pub const RECENCY_WEIGHT: f64 = 0.25;
/// Age, in days, at which the recency boost halves.
pub const RECENCY_HALF_LIFE_DAYS: f64 = 30.0;
/// Usage boost per natural-log unit of `use_count`.
pub const USAGE_WEIGHT: f64 = 0.08;
/// Cap of the usage boost.
pub const USAGE_CAP: f64 = 0.25;
/// Source factor of memory entries.
pub const SOURCE_MEMORY: f64 = 1.2;
/// Source factor of recall entries.
pub const SOURCE_RECALL: f64 = 1.1;
/// Score bonus per further matching message of a session (at most four count). Four of them
/// (+8 %) stay below [`SOURCE_RECALL`] and [`SOURCE_MEMORY`], so an entry still outranks a
/// session of equal relevance.
pub const SESSION_EXTRA_HIT_BONUS: f64 = 0.02;
/// Share of relevance that comes from term coverage (the rest from normalized BM25).
const COVERAGE_SHARE: f64 = 0.6;

/// What to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchScope {
    /// Memory, recall entries and sessions of the current project, then other projects as a
    /// fallback when the project has fewer than `top_k` hits.
    #[default]
    Auto,
    /// Memory, recall entries and sessions of the current project only (plus user memory).
    Project,
    /// Everything, every project ranked together (same project still boosted).
    Global,
    /// Archived sessions only.
    Sessions,
    /// Memory and recall entries only.
    Memory,
}

/// Options of one search.
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// What to search.
    pub scope: SearchScope,
    /// Rank every project together (as [`SearchScope::Global`] but keeping the scope's sources).
    pub all_projects: bool,
    /// Only hits at or after this stored timestamp (RFC 3339 UTC).
    pub since: Option<String>,
    /// Only sessions of this host (memory entries are host-independent and stay).
    pub host: Option<crate::host::Host>,
    /// Number of hits returned (1 to [`MAX_TOP_K`]; values outside are clamped).
    pub top_k: usize,
    /// Messages shown before a session's best hit.
    pub window_before: usize,
    /// Messages shown after a session's best hit.
    pub window_after: usize,
    /// Ids never returned: entry ids and host session ids already in the asking session's
    /// context (what SessionStart or an earlier prompt injected).
    pub exclude_ids: Vec<String>,
    /// Host session id never returned (the session asking).
    pub exclude_session: Option<String>,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            scope: SearchScope::Auto,
            all_projects: false,
            since: None,
            host: None,
            top_k: 3,
            window_before: 2,
            window_after: 3,
            exclude_ids: Vec::new(),
            exclude_session: None,
        }
    }
}

impl SearchOptions {
    /// How many hits the search returns: `top_k` within 1 to [`MAX_TOP_K`].
    fn hits_wanted(&self) -> usize {
        self.top_k.clamp(1, MAX_TOP_K)
    }
}

/// Where the search is made from.
#[derive(Debug, Clone, Copy)]
pub struct SearchContext<'a> {
    /// The current project (`RepoIdentity::project_id`), when known.
    pub project_id: Option<&'a str>,
    /// The current working directory, when known.
    pub cwd: Option<&'a Path>,
    /// "Now" for recency.
    pub now: jiff::Timestamp,
}

/// Kind of a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// A memory entry.
    Memory,
    /// A recall entry.
    Recall,
    /// An archived session.
    Session,
}

/// One message of a session window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowMessage {
    /// `messages.id`.
    pub id: i64,
    /// Role (`user`, `assistant`, `tool`, `system`).
    pub role: String,
    /// Origin (`user`, `agent`, `tool_call`, …).
    pub origin: String,
    /// Tool name of tool calls.
    pub tool_name: Option<String>,
    /// Timestamp from the transcript.
    pub ts: Option<String>,
    /// Text (redacted at ingest).
    pub text: String,
    /// Whether this message matched the query.
    pub is_hit: bool,
}

/// A session hit's details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionDetail {
    /// `sessions.id`.
    pub session_ref: i64,
    /// Host (`codex`, `claude`).
    pub host: String,
    /// Turn of the best hit.
    pub turn_id: Option<String>,
    /// Messages of the session that matched, among the candidates pooled (see
    /// [`crate::recall::pool`]).
    pub hit_count: usize,
    /// Whether `hit_count` is every matching message of the session: false when the candidate
    /// pool was full, so the session may hold more (`hit_count` is then a lower bound).
    pub hit_count_exact: bool,
    /// The best hit and its neighbours, in order.
    pub messages: Vec<WindowMessage>,
}

/// One ranked result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    /// What it is.
    pub kind: HitKind,
    /// Entry id, or the host session id for sessions.
    pub id: String,
    /// Final score (relevance × boosts).
    pub score: f64,
    /// Cross-source relevance in `[0, 1]`.
    pub relevance: f64,
    /// Share of the query's terms it contains.
    pub coverage: f64,
    /// Project id, `None` for user-scope memory or sessions without a project.
    pub project_id: Option<String>,
    /// Project display name.
    pub project: Option<String>,
    /// Working directory (sessions).
    pub cwd: Option<String>,
    /// Date shown: entry `updated_at`, or the session's best-hit/last message time.
    pub date: Option<String>,
    /// Memory kind (`preference`, …) or entry scope.
    pub label: Option<String>,
    /// One-line summary.
    pub summary: String,
    /// Entry content, or the best hit's text for sessions.
    pub content: String,
    /// File paths from the entry's provenance.
    pub paths: Vec<String>,
    /// Use count of entries.
    pub use_count: i64,
    /// Session details (sessions only).
    pub session: Option<SessionDetail>,
    /// Where an entry was learned, from its provenance (entries only).
    pub origin: Option<EntryOrigin>,
}

/// The host thread and turn an entry was learned in (its provenance's first session and
/// turn); its working directory is [`Hit::cwd`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryOrigin {
    /// Host session (thread) id.
    pub thread_id: Option<String>,
    /// Host turn id.
    pub turn_id: Option<String>,
}

/// Errors of a search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The query cannot be searched (status `error`).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// The database failed.
    #[error("recall could not read the database: {0}; run `csep status` to check the store")]
    Sqlite(#[from] rusqlite::Error),
}

/// Result of [`search`].
#[derive(Debug, Clone, Default)]
pub struct SearchOutcome {
    /// Ranked hits, at most `top_k`.
    pub hits: Vec<Hit>,
    /// `None` when the query had no searchable word (only stop words or punctuation).
    pub match_expr: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProjectFilter {
    All = 0,
    Current = 1,
    Others = 2,
}

/// Searches the store; see the module docs for the ranking.
pub fn search(
    store: &Store,
    query: &str,
    ctx: &SearchContext<'_>,
    opts: &SearchOptions,
) -> Result<SearchOutcome, SearchError> {
    let Some(parsed) = match_query(query)? else {
        return Ok(SearchOutcome::default());
    };
    let conn = store.conn();
    let top_k = opts.hits_wanted();
    let global = opts.all_projects || opts.scope == SearchScope::Global;
    let mut matches = Matches::new(conn, parsed.whole.then_some(&parsed), &parsed.terms);
    let mut hits = if global {
        gather(&mut matches, ctx, opts, ProjectFilter::All)?
    } else {
        gather(&mut matches, ctx, opts, ProjectFilter::Current)?
    };
    rank(&mut hits);
    let mut hits = shown(conn, hits, &parsed, opts, top_k)?;
    let fallback = !global && opts.scope != SearchScope::Project && hits.len() < top_k;
    if fallback {
        let mut others = gather(&mut matches, ctx, opts, ProjectFilter::Others)?;
        rank(&mut others);
        others.retain(|o| !hits.iter().any(|h| h.kind == o.kind && h.id == o.id));
        let room = top_k - hits.len();
        hits.extend(shown(conn, others, &parsed, opts, room)?);
    }
    Ok(SearchOutcome {
        hits,
        match_expr: Some(parsed.expr),
    })
}

fn rank(hits: &mut [Hit]) {
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| b.date.cmp(&a.date))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// Each FTS table's matches of one query, read at most once per search: the project pass and
/// the fallback pass share them.
struct Matches<'a> {
    conn: &'a Connection,
    /// The whole MATCH expressions, when rows must match more than one of the terms.
    required: Option<&'a MatchQuery>,
    terms: &'a [String],
    memory: Option<TermMatches>,
    recall: Option<TermMatches>,
    messages: Option<TermMatches>,
}

impl<'a> Matches<'a> {
    fn new(conn: &'a Connection, required: Option<&'a MatchQuery>, terms: &'a [String]) -> Self {
        Matches {
            conn,
            required,
            terms,
            memory: None,
            recall: None,
            messages: None,
        }
    }

    fn get(&mut self, table: FtsTable) -> rusqlite::Result<&TermMatches> {
        let slot = match table {
            FtsTable::Memory => &mut self.memory,
            FtsTable::Recall => &mut self.recall,
            FtsTable::Messages => &mut self.messages,
        };
        let found = match slot.take() {
            Some(found) => found,
            None => {
                // The archive keeps each term once per row: its phrases are words there,
                // checked in full by `session_hits`.
                match table {
                    FtsTable::Messages => {
                        TermMatches::load_messages(self.conn, self.required, self.terms)?
                    }
                    FtsTable::Memory | FtsTable::Recall => {
                        let expr = self.required.map(|q| q.expr.as_str());
                        TermMatches::load(self.conn, table, expr, self.terms)?
                    }
                }
            }
        };
        Ok(slot.insert(found))
    }
}

fn gather(
    matches: &mut Matches<'_>,
    ctx: &SearchContext<'_>,
    opts: &SearchOptions,
    filter: ProjectFilter,
) -> Result<Vec<Hit>, SearchError> {
    let candidates = (opts.hits_wanted() * 10).max(50);
    let conn = matches.conn;
    let mut hits = Vec::new();
    let with_entries = opts.scope != SearchScope::Sessions;
    let with_sessions = opts.scope != SearchScope::Memory;
    if with_entries {
        let check = matches
            .required
            .map(|q| &q.entry_check)
            .filter(|c| !c.is_empty());
        for source in [&MEMORY_SOURCE, &RECALL_SOURCE] {
            let found = matches.get(source.table)?;
            hits.extend(entry_hits(
                conn, source, found, check, ctx, opts, filter, candidates,
            )?);
        }
    }
    if with_sessions {
        let check = matches.required.map(|q| &q.check);
        let found = matches.get(FtsTable::Messages)?;
        hits.extend(session_hits(
            conn,
            found,
            check.filter(|c| !c.is_empty()),
            ctx,
            opts,
            filter,
            candidates * 2,
        )?);
    }
    hits.retain(|h| !opts.exclude_ids.contains(&h.id));
    Ok(hits)
}

fn relevance(coverage: f64, bm25: f64, best: f64) -> f64 {
    let normalized = if best > 0.0 { bm25 / best } else { 1.0 };
    COVERAGE_SHARE * coverage + (1.0 - COVERAGE_SHARE) * normalized
}

/// Whether `a` and `b` are the same directory or one contains the other (component-wise).
fn cwd_related(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

fn locality(
    ctx: &SearchContext<'_>,
    project_id: Option<&str>,
    user_scope: bool,
    cwd: Option<&str>,
) -> f64 {
    let same_project = is_same_project(ctx, project_id, user_scope);
    // Within the project, above or below the cwd are both the same corner of it. Outside it,
    // only below: a session started in a directory above (the home directory, a folder of
    // repositories) is above every project there and tells nothing about this one.
    let related = match (ctx.cwd, cwd) {
        (Some(here), Some(there)) if same_project => cwd_related(here, Path::new(there)),
        (Some(here), Some(there)) => Path::new(there).starts_with(here),
        _ => false,
    };
    match (same_project, related) {
        (true, true) => BOOST_SAME_PROJECT + BOOST_CWD_SUBTREE_IN_PROJECT,
        (true, false) => BOOST_SAME_PROJECT,
        (false, true) => BOOST_CWD_SUBTREE,
        (false, false) => 1.0,
    }
}

/// Whether a row belongs to the current project, user-scope memory counting as everywhere.
fn is_same_project(ctx: &SearchContext<'_>, project_id: Option<&str>, user_scope: bool) -> bool {
    user_scope || (project_id.is_some() && project_id == ctx.project_id)
}

/// The locality of a memory or recall entry. An entry has no cwd: what it says holds in its
/// whole project (or everywhere, for user memory), so it counts as related to every cwd there
/// and never ranks below a session of the same project for being in no directory. Another
/// project's entry is in no directory of this one.
fn entry_locality(ctx: &SearchContext<'_>, project_id: Option<&str>, user_scope: bool) -> f64 {
    match (is_same_project(ctx, project_id, user_scope), ctx.cwd) {
        (true, Some(_)) => BOOST_SAME_PROJECT + BOOST_CWD_SUBTREE_IN_PROJECT,
        (true, None) => BOOST_SAME_PROJECT,
        (false, _) => 1.0,
    }
}

fn recency(ctx: &SearchContext<'_>, date: Option<&str>) -> f64 {
    let Some(ts) = date.and_then(crate::store::time::parse) else {
        return 1.0;
    };
    let age_days = (ctx.now.as_second() - ts.as_second()).max(0) as f64 / 86_400.0;
    1.0 + RECENCY_WEIGHT * 0.5f64.powf(age_days / RECENCY_HALF_LIFE_DAYS)
}

fn usage(use_count: i64) -> f64 {
    1.0 + (USAGE_WEIGHT * (1.0 + use_count.max(0) as f64).ln()).min(USAGE_CAP)
}

/// What a message's role says about its weight: what the user or the agent said counts fully;
/// tool calls and outputs a little less (they hold the evidence, error texts above all, so not
/// much less: at 0.7 a memory entry holding half the words of an error outranked the output
/// holding all of them); reasoning least.
fn role_factor(origin: &str) -> f64 {
    match origin {
        "user" | "agent" => 1.0,
        "tool_call" => 0.85,
        "reasoning" => 0.8,
        _ => 0.85,
    }
}

/// Paths listed in an entry's provenance JSON (`paths` or `source_paths`).
fn provenance_paths(provenance: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(provenance) else {
        return Vec::new();
    };
    ["paths", "source_paths"]
        .iter()
        .filter_map(|k| value.get(k).and_then(|v| v.as_array()))
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

struct EntryRow {
    origin: Option<EntryOrigin>,
    cwd: Option<String>,
    id: String,
    scope: String,
    project_id: Option<String>,
    label: Option<String>,
    summary: String,
    content: String,
    paths: Vec<String>,
    updated_at: String,
    use_count: i64,
    project: Option<String>,
}

fn entries_to_hits(kind: HitKind, scored: Scored<EntryRow>, ctx: &SearchContext<'_>) -> Vec<Hit> {
    let best = scored.best_bm25;
    let source = if kind == HitKind::Memory {
        SOURCE_MEMORY
    } else {
        SOURCE_RECALL
    };
    scored
        .rows
        .into_iter()
        .map(|(text, r)| {
            let c = text.coverage;
            let rel = relevance(c, text.bm25, best);
            let score = rel
                * entry_locality(ctx, r.project_id.as_deref(), r.scope == "user")
                * recency(ctx, Some(&r.updated_at))
                * usage(r.use_count)
                * source;
            Hit {
                kind,
                id: r.id,
                score,
                relevance: rel,
                coverage: c,
                project_id: r.project_id,
                project: r.project,
                cwd: r.cwd,
                date: Some(r.updated_at),
                label: r.label,
                summary: r.summary,
                content: r.content,
                paths: r.paths,
                use_count: r.use_count,
                session: None,
                origin: r.origin,
            }
        })
        .collect()
}

/// An entry's origin and cwd, read from its provenance JSON.
fn provenance_origin(provenance: &str) -> (Option<EntryOrigin>, Option<String>) {
    let Ok(p) = serde_json::from_str::<crate::memory::entry::Provenance>(provenance) else {
        return (None, None);
    };
    let first = |v: Vec<String>| v.into_iter().next();
    let (thread_id, turn_id) = (first(p.sessions), first(p.turns));
    let origin =
        (thread_id.is_some() || turn_id.is_some()).then_some(EntryOrigin { thread_id, turn_id });
    (origin, first(p.cwds))
}

/// One of the entry tables recall searches: its candidate query and how its paths column reads.
struct EntrySource {
    kind: HitKind,
    /// Its full-text index.
    table: FtsTable,
    /// Selects `rowid, id, scope, project_id, label, summary, content, paths, updated_at,
    /// use_count, project name, provenance` of the active rows among `?1` (a JSON array of rowids) that pass
    /// the project filter `?2`/`?3` and `--since` `?4`. The table is `NOT INDEXED` so the rows
    /// are read by rowid: SQLite otherwise walks every active entry of an index led by
    /// `status` (`memory_entries_rank`, the `_recent` ones) and filters it by rowid.
    sql: &'static str,
    /// The paths column read as paths.
    paths: fn(&str) -> Vec<String>,
}

/// Which rows pass the project filter (`?2`: 0 all, 1 this project and user scope, 2 other
/// projects' project scope) and `--since` (`?4`), shared by both entry tables.
macro_rules! entry_filter {
    () => {
        concat!(
            "WHERE e.rowid IN (SELECT value FROM json_each(?1)) AND e.status = 'active' \
             AND (?2 = 0 OR (?2 = 1 AND ",
            current_entries!(),
            ") OR (?2 = 2 AND ",
            other_entries!(),
            ")) AND (?4 IS NULL OR ",
            recent_entries!(),
            ")"
        )
    };
}

/// The entries the current-project filter admits (`?3`: the project id): the user's, and the
/// project's own. Written so each half is a seek in the `(scope, project_id, status,
/// updated_at)` indexes; `project_id IS NULL` is implied by the user scope (the tables' CHECK).
macro_rules! current_entries {
    () => {
        "((e.scope = 'user' AND e.project_id IS NULL) OR (e.scope = 'project' AND e.project_id = ?3))"
    };
}

/// The entries the other-projects filter admits (`?3`: the project id).
macro_rules! other_entries {
    () => {
        "(e.scope = 'project' AND e.project_id IS NOT ?3)"
    };
}

/// The entries `--since` admits (`?4`).
macro_rules! recent_entries {
    () => {
        "e.updated_at >= ?4"
    };
}

/// The sessions the current-project filter admits (`?3`: the project id, `?4`: the cwd): the
/// project's own, and sessions without a project whose cwd is the current one or inside it.
macro_rules! current_sessions {
    () => {
        "(s.project_id = ?3 OR (?4 IS NOT NULL AND s.project_id IS NULL \
          AND (s.cwd = ?4 OR substr(s.cwd, 1, length(?4) + 1) = ?4 || '/')))"
    };
}

/// The sessions the other-projects filter admits (`?3`, `?4` as in [`current_sessions`]): those
/// of another project, or of none and outside the cwd. Exactly the sessions
/// [`current_sessions`] does not admit, also when there is no current project (`?3` NULL: a
/// session without a project is then another's, not no one's).
macro_rules! other_sessions {
    () => {
        "((s.project_id = ?3) IS NOT 1 AND NOT (?4 IS NOT NULL AND s.project_id IS NULL \
          AND (s.cwd = ?4 OR substr(s.cwd, 1, length(?4) + 1) = ?4 || '/')))"
    };
}

/// The sessions of the host asked for (`?6`).
macro_rules! host_sessions {
    () => {
        "s.host = ?6"
    };
}

/// Every session but the one asking (`?7`, not NULL) and its subagents' (`<id>/agent-<agent>`,
/// see [`crate::archive::ingest::subagent_session_id`]).
macro_rules! not_asking_session {
    () => {
        "(s.session_id IS NOT ?7 AND substr(s.session_id, 1, length(?7) + 7) IS NOT ?7 || '/agent-')"
    };
}

/// The messages `--since` admits (`?5`): by their own time, else their session's last one.
/// `coalesce` would say the same, but this form lets `messages_session_ts` seek to the time.
macro_rules! recent_messages {
    () => {
        "(m.ts >= ?5 OR (m.ts IS NULL AND s.last_message_at >= ?5))"
    };
}

/// The statement listing the messages a pass admits (parameters as in [`session_hits`]'s
/// fetch, `?8` a limit), or `None` when the pass admits every session. Built from the clauses
/// the fetch checks row by row, keeping only those that restrict something, so SQLite can
/// answer it from `sessions` and `messages_session_ts` alone.
fn admitted_messages_sql(filter: ProjectFilter, opts: &SearchOptions) -> Option<String> {
    let mut clauses = Vec::new();
    match filter {
        ProjectFilter::All => {}
        ProjectFilter::Current => clauses.push(current_sessions!()),
        ProjectFilter::Others => clauses.push(other_sessions!()),
    }
    if opts.host.is_some() {
        clauses.push(host_sessions!());
    }
    if opts.exclude_session.is_some() {
        clauses.push(not_asking_session!());
    }
    if clauses.is_empty() && opts.since.is_none() {
        return None;
    }
    let sessions = if clauses.is_empty() {
        "1".to_owned()
    } else {
        clauses.join(" AND ")
    };
    // Sessions first (`CROSS JOIN` keeps the order): with no session clause SQLite would rather
    // walk every message and look its session up.
    let select = "SELECT m.id FROM sessions s CROSS JOIN messages m ON m.session_ref = s.id WHERE";
    Some(match opts.since {
        None => format!("{select} {sessions} LIMIT ?8"),
        // `recent_messages!` split in two, each half a seek in `messages_session_ts`; as one
        // OR, SQLite reads every message of every session admitted.
        Some(_) => format!(
            "{select} {sessions} AND m.ts >= ?5 \
             UNION ALL {select} {sessions} AND s.last_message_at >= ?5 AND m.ts IS NULL LIMIT ?8"
        ),
    })
}

/// Most sessions whose message ranges are read up front; a project with more is walked
/// without them (the listing after the first chunk still applies).
const MAX_RANGED_SESSIONS: usize = 4096;

/// Selects the message ranges of the sessions the current-project filter admits (`?3`, `?4` as
/// in [`current_sessions`]) with `--host` `?6` and the asking session `?7` left out, `?8` a
/// limit.
const CURRENT_MESSAGE_RANGES: &str = concat!(
    "SELECT s.first_message_id, s.last_message_id \
     FROM sessions s INDEXED BY sessions_message_range WHERE ",
    current_sessions!(),
    " AND (?6 IS NULL OR ",
    host_sessions!(),
    ") AND (?7 IS NULL OR ",
    not_asking_session!(),
    ") AND s.first_message_id IS NOT NULL LIMIT ?8"
);

/// The message rowid ranges of the sessions the current-project filter (with `--host` and the
/// asking session's exclusion) admits: a superset of the messages it admits, read from
/// `sessions_message_range` alone, with `params` bound as for [`session_hits`]'s fetch. `None`
/// when the store predates the ranges or the project has more than [`MAX_RANGED_SESSIONS`]
/// sessions.
fn current_message_ranges(
    conn: &Connection,
    params: &[(usize, &dyn rusqlite::ToSql)],
) -> rusqlite::Result<Option<RowidRanges>> {
    if schema_version(conn)? < LISTING_SCHEMA {
        return Ok(None);
    }
    let mut stmt = bound(
        conn,
        CURRENT_MESSAGE_RANGES,
        params,
        8,
        MAX_RANGED_SESSIONS + 1,
    )?;
    let mut ranges = Vec::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        ranges.push((row.get(0)?, row.get(1)?));
    }
    Ok((ranges.len() <= MAX_RANGED_SESSIONS).then(|| RowidRanges::new(ranges)))
}

/// `sql` prepared (cached) with `params` bound by number and `limit` bound to parameter
/// `limit_index`.
fn bound<'c>(
    conn: &'c Connection,
    sql: &str,
    params: &[(usize, &dyn rusqlite::ToSql)],
    limit_index: usize,
    limit: usize,
) -> rusqlite::Result<rusqlite::CachedStatement<'c>> {
    let mut stmt = conn.prepare_cached(sql)?;
    for (index, value) in params {
        stmt.raw_bind_parameter(*index, value)?;
    }
    stmt.raw_bind_parameter(limit_index, i64::try_from(limit).unwrap_or(i64::MAX))?;
    Ok(stmt)
}

/// The statement listing the entries of `source` a pass admits (`?3` the project id, `?4`
/// `--since`, `?5` a limit), or `None` when listing them would not be an index read: the pass
/// admits every entry, other projects' entries are asked for without `--since`, or the store
/// predates the indexes `--since` needs (a read-only recall does not migrate it).
fn admitted_entries_sql(
    conn: &Connection,
    source: &EntrySource,
    filter: ProjectFilter,
    opts: &SearchOptions,
) -> rusqlite::Result<Option<String>> {
    let since = opts.since.is_some();
    if since && schema_version(conn)? < LISTING_SCHEMA {
        return Ok(None);
    }
    let name = source.table.base_table();
    // Named, so SQLite never walks the other index: without statistics it would rather read
    // every active entry from the covering `_recent` than seek twice in `_scope`.
    let (index, project) = match filter {
        ProjectFilter::Current => ("scope", concat!(" AND ", current_entries!())),
        ProjectFilter::Others if since => ("recent", concat!(" AND ", other_entries!())),
        ProjectFilter::All if since => ("recent", ""),
        ProjectFilter::Others | ProjectFilter::All => return Ok(None),
    };
    let since = if since {
        concat!(" AND ", recent_entries!())
    } else {
        ""
    };
    Ok(Some(format!(
        "SELECT e.rowid FROM {name} e INDEXED BY {name}_{index} \
         WHERE e.status = 'active'{project}{since} LIMIT ?5"
    )))
}

/// The schema version from which sessions record their messages' rowid range and the entry
/// tables have their `_recent` indexes and `updated_at` in their `_scope` ones
/// (`0008_recall_listing.sql`).
const LISTING_SCHEMA: u32 = 8;

/// The store's schema version (`PRAGMA user_version`). A search asks up to six times (the
/// message ranges, and each entry table's listing with `--since`, in each pass): the statement
/// is cached, so only the first asking parses it.
fn schema_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.prepare_cached("PRAGMA user_version")?
        .query_row([], |r| r.get(0))
}

#[cfg(test)]
thread_local! {
    /// Message rows offered to the pool's fetch on this thread.
    static MESSAGE_ROWS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Entry rows (memory and recall) offered to the pool's fetch on this thread.
    static ENTRY_ROWS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The rowids `sql` lists with `params` bound (by number; `limit` is the number of the limit
/// parameter), when there are at most `cap`.
fn list_admitted(
    conn: &Connection,
    sql: &str,
    params: &[(usize, &dyn rusqlite::ToSql)],
    limit: usize,
    cap: usize,
) -> rusqlite::Result<Option<HashSet<i64>>> {
    let mut stmt = bound(conn, sql, params, limit, cap.saturating_add(1))?;
    let mut set = HashSet::new();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        set.insert(row.get::<_, i64>(0)?);
    }
    Ok((set.len() <= cap).then_some(set))
}

const MEMORY_SOURCE: EntrySource = EntrySource {
    kind: HitKind::Memory,
    table: FtsTable::Memory,
    sql: concat!(
        "SELECT e.rowid, e.id, e.scope, e.project_id, e.kind, e.summary, \
         e.content, e.provenance, e.updated_at, e.use_count, p.display_name, e.provenance \
         FROM memory_entries e NOT INDEXED LEFT JOIN projects p ON p.id = e.project_id ",
        entry_filter!()
    ),
    paths: provenance_paths,
};

const RECALL_SOURCE: EntrySource = EntrySource {
    kind: HitKind::Recall,
    table: FtsTable::Recall,
    sql: concat!(
        "SELECT e.rowid, e.id, e.scope, e.project_id, 'recall', e.summary, \
         e.content, e.paths, e.updated_at, e.use_count, p.display_name, e.provenance \
         FROM recall_entries e NOT INDEXED LEFT JOIN projects p ON p.id = e.project_id ",
        entry_filter!()
    ),
    paths: |json| serde_json::from_str(json).unwrap_or_default(),
};

#[allow(
    clippy::too_many_arguments,
    reason = "the search's parts, each passed through from gather"
)]
fn entry_hits(
    conn: &Connection,
    source: &EntrySource,
    matches: &TermMatches,
    check: Option<&PhraseCheck>,
    ctx: &SearchContext<'_>,
    opts: &SearchOptions,
    filter: ProjectFilter,
    limit: usize,
) -> Result<Vec<Hit>, SearchError> {
    if matches.is_empty() {
        return Ok(Vec::new());
    }
    let admitted = admitted_entries_sql(conn, source, filter, opts)?;
    let mut lister = admitted.as_deref().map(|sql| {
        move |cap: usize| {
            list_admitted(conn, sql, &[(3, &ctx.project_id), (4, &opts.since)], 5, cap)
        }
    });
    let list: Option<Lister<'_>> = lister.as_mut().map(|l| l as Lister<'_>);
    let mut stmt = conn.prepare_cached(source.sql)?;
    let scored = matches.pool_scored(
        conn,
        limit,
        |rowids| {
            #[cfg(test)]
            ENTRY_ROWS_READ.with(|n| n.set(n.get() + rowids.len()));
            stmt.query_map(
                params![json_ids(rowids), filter as i64, ctx.project_id, opts.since],
                |r| {
                    let (origin, cwd) = provenance_origin(&r.get::<_, String>(11)?);
                    Ok((
                        r.get(0)?,
                        EntryRow {
                            origin,
                            cwd,
                            id: r.get(1)?,
                            scope: r.get(2)?,
                            project_id: r.get(3)?,
                            label: r.get(4)?,
                            summary: r.get(5)?,
                            content: r.get(6)?,
                            paths: (source.paths)(&r.get::<_, String>(7)?),
                            updated_at: r.get(8)?,
                            use_count: r.get(9)?,
                            project: r.get(10)?,
                        },
                    ))
                },
            )?
            .collect()
        },
        // The Chinese phrases the match string asked for as words ([`MatchQuery::entry_check`]).
        |row: &EntryRow| {
            check.is_none_or(|c| {
                c.passes(&crate::recall::analyze::terms_for_index_of(&[
                    &row.summary,
                    &row.content,
                ]))
            })
        },
        list,
        None,
    )?;
    Ok(entries_to_hits(source.kind, scored, ctx))
}

struct MessageRow {
    id: i64,
    session_ref: i64,
    origin: String,
    ts: Option<String>,
    text: String,
    turn_id: Option<String>,
    session_id: String,
    host: String,
    project_id: Option<String>,
    cwd: Option<String>,
    last_message_at: Option<String>,
    project: Option<String>,
}

fn session_hits(
    conn: &Connection,
    matches: &TermMatches,
    check: Option<&PhraseCheck>,
    ctx: &SearchContext<'_>,
    opts: &SearchOptions,
    filter: ProjectFilter,
    limit: usize,
) -> Result<Vec<Hit>, SearchError> {
    if matches.is_empty() {
        return Ok(Vec::new());
    }
    let cwd = ctx.cwd.map(|p| p.to_string_lossy().into_owned());
    let host = opts.host.map(|h| h.as_str());
    let admitted = admitted_messages_sql(filter, opts);
    let params: [(usize, &dyn rusqlite::ToSql); 5] = [
        (3, &ctx.project_id),
        (4, &cwd),
        (5, &opts.since),
        (6, &host),
        (7, &opts.exclude_session),
    ];
    let mut lister = admitted
        .as_deref()
        .map(|sql| |cap: usize| list_admitted(conn, sql, &params, 8, cap));
    let list: Option<Lister<'_>> = lister.as_mut().map(|l| l as Lister<'_>);
    let within = match filter {
        ProjectFilter::Current => current_message_ranges(conn, &params)?,
        ProjectFilter::All | ProjectFilter::Others => None,
    };
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT m.id, m.session_ref, m.origin, m.ts, m.text, m.turn_id, \
         s.session_id, s.host, s.project_id, s.cwd, s.last_message_at, p.display_name, \
         m.tool_name, m.tool_args \
         FROM messages m JOIN sessions s ON s.id = m.session_ref \
         LEFT JOIN projects p ON p.id = s.project_id \
         WHERE m.id IN (SELECT value FROM json_each(?1)) \
         AND (?2 = 0 OR (?2 = 1 AND ",
        current_sessions!(),
        ") OR (?2 = 2 AND ",
        other_sessions!(),
        ")) AND (?5 IS NULL OR ",
        recent_messages!(),
        ") AND (?6 IS NULL OR ",
        host_sessions!(),
        ") AND (?7 IS NULL OR ",
        not_asking_session!(),
        ")"
    ))?;
    // A row is `(message, tool name, tool arguments)`: the phrase check needs all three.
    let kept = |(row, tool_name, tool_args): &(MessageRow, Option<String>, Option<String>)| {
        check.is_none_or(|check| {
            check.passes(&message_terms(
                tool_name.as_deref(),
                tool_args.as_deref(),
                &row.text,
            ))
        })
    };
    let fetched = |rowids: &[i64]| {
        #[cfg(test)]
        MESSAGE_ROWS_READ.with(|n| n.set(n.get() + rowids.len()));
        stmt.query_map(
            params![
                json_ids(rowids),
                filter as i64,
                ctx.project_id,
                cwd,
                opts.since,
                host,
                opts.exclude_session,
            ],
            |r| {
                Ok((
                    r.get(0)?,
                    (
                        MessageRow {
                            id: r.get(0)?,
                            session_ref: r.get(1)?,
                            origin: r.get(2)?,
                            ts: r.get(3)?,
                            text: r.get(4)?,
                            turn_id: r.get(5)?,
                            session_id: r.get(6)?,
                            host: r.get(7)?,
                            project_id: r.get(8)?,
                            cwd: r.get(9)?,
                            last_message_at: r.get(10)?,
                            project: r.get(11)?,
                        },
                        r.get(12)?,
                        r.get(13)?,
                    ),
                ))
            },
        )?
        .collect()
    };
    let scored = matches.pool_scored(conn, limit, fetched, kept, list, within.as_ref())?;
    // A full pool may have left out further matches of the sessions it holds.
    let counts_exact = scored.rows.len() < limit;
    // Best-scoring message per session, with the session's hit count.
    let mut by_session: HashMap<i64, (Hit, usize)> = HashMap::new();
    for (text, (r, _, _)) in scored.rows {
        let c = text.coverage;
        let rel = relevance(c, text.bm25, scored.best_bm25);
        let date = r.last_message_at.clone().or_else(|| r.ts.clone());
        let score = rel
            * locality(ctx, r.project_id.as_deref(), false, r.cwd.as_deref())
            * recency(ctx, date.as_deref())
            * role_factor(&r.origin);
        let entry = by_session.entry(r.session_ref);
        let slot = entry.or_insert_with(|| (placeholder_hit(), 0));
        slot.1 += 1;
        if slot.1 == 1 || score > slot.0.score {
            let summary = first_line(&r.text, 120);
            slot.0 = Hit {
                kind: HitKind::Session,
                id: r.session_id,
                score,
                relevance: rel,
                coverage: c,
                project_id: r.project_id,
                project: r.project,
                cwd: r.cwd,
                date: r.ts.or(r.last_message_at),
                label: None,
                summary,
                content: r.text,
                paths: Vec::new(),
                use_count: 0,
                session: Some(SessionDetail {
                    session_ref: r.session_ref,
                    host: r.host,
                    turn_id: r.turn_id,
                    hit_count: 0,
                    hit_count_exact: counts_exact,
                    messages: vec![WindowMessage {
                        id: r.id,
                        role: String::new(),
                        origin: r.origin,
                        tool_name: None,
                        ts: None,
                        text: String::new(),
                        is_hit: true,
                    }],
                }),
                origin: None,
            };
        }
    }
    Ok(by_session
        .into_values()
        .map(|(mut hit, count)| {
            let extra = count.saturating_sub(1).min(4) as f64;
            hit.score *= 1.0 + SESSION_EXTRA_HIT_BONUS * extra;
            if let Some(detail) = &mut hit.session {
                detail.hit_count = count;
            }
            hit
        })
        .collect())
}

fn placeholder_hit() -> Hit {
    Hit {
        kind: HitKind::Session,
        id: String::new(),
        score: f64::MIN,
        relevance: 0.0,
        coverage: 0.0,
        project_id: None,
        project: None,
        cwd: None,
        date: None,
        label: None,
        summary: String::new(),
        content: String::new(),
        paths: Vec::new(),
        use_count: 0,
        session: None,
        origin: None,
    }
}

/// The first non-blank line of `text`, cut to `max` characters.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= max {
        line.to_owned()
    } else {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The first `limit` of the ranked `hits` as they are shown: each session hit with its window
/// of messages ([`fill_window`]), every message of it that holds a query term marked as a hit,
/// and its summary. A session whose window holds an excluded word or phrase is left out, as an
/// entry holding one is: the exclusion applies to what is shown, not only to the best message.
fn shown(
    conn: &Connection,
    hits: Vec<Hit>,
    query: &MatchQuery,
    opts: &SearchOptions,
    limit: usize,
) -> rusqlite::Result<Vec<Hit>> {
    let mut kept = Vec::with_capacity(limit.min(hits.len()));
    for mut hit in hits {
        if kept.len() == limit {
            break;
        }
        if let Some(detail) = &mut hit.session {
            fill_window(conn, detail, opts)?;
            // Titled by the best hit, before the other messages holding a term are marked.
            let summary = session_summary(detail, &hit.content);
            let mut excluded = false;
            for m in &mut detail.messages {
                let terms = message_terms(m.tool_name.as_deref(), None, &m.text);
                let seq: Vec<&str> = terms.split(' ').filter(|t| !t.is_empty()).collect();
                excluded |= query.excluded.iter().any(|e| holds_phrase(&seq, e));
                m.is_hit |= query.terms.iter().any(|t| seq.contains(&t.as_str()));
            }
            if excluded {
                continue;
            }
            hit.summary = summary;
        }
        kept.push(hit);
    }
    Ok(kept)
}

/// Replaces a session hit's placeholder window with the best hit and its neighbours.
fn fill_window(
    conn: &Connection,
    detail: &mut SessionDetail,
    opts: &SearchOptions,
) -> rusqlite::Result<()> {
    let Some(best) = detail.messages.first().map(|m| m.id) else {
        return Ok(());
    };
    let (offset, seq): (i64, i64) = conn
        .prepare_cached("SELECT byte_offset, seq FROM messages WHERE id = ?1")?
        .query_row([best], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let columns = "id, role, origin, tool_name, ts, text";
    let map = |r: &rusqlite::Row<'_>| {
        Ok(WindowMessage {
            id: r.get(0)?,
            role: r.get(1)?,
            origin: r.get(2)?,
            tool_name: r.get(3)?,
            ts: r.get(4)?,
            text: r.get(5)?,
            is_hit: false,
        })
    };
    let mut before: Vec<WindowMessage> = conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM messages WHERE session_ref = ?1 \
             AND (byte_offset, seq) < (?2, ?3) AND origin NOT LIKE 'injected:%' \
             ORDER BY byte_offset DESC, seq DESC LIMIT ?4"
        ))?
        .query_map(
            params![detail.session_ref, offset, seq, opts.window_before as i64],
            map,
        )?
        .collect::<Result<_, _>>()?;
    before.reverse();
    let at_and_after: Vec<WindowMessage> = conn
        .prepare_cached(&format!(
            "SELECT {columns} FROM messages WHERE session_ref = ?1 \
             AND (byte_offset, seq) >= (?2, ?3) AND origin NOT LIKE 'injected:%' \
             ORDER BY byte_offset, seq LIMIT ?4"
        ))?
        .query_map(
            params![
                detail.session_ref,
                offset,
                seq,
                opts.window_after as i64 + 1
            ],
            map,
        )?
        .collect::<Result<_, _>>()?;
    detail.messages = before;
    for mut m in at_and_after {
        m.is_hit = m.id == best;
        detail.messages.push(m);
    }
    Ok(())
}

/// A session's one-line summary: its best hit when the user or the agent wrote it, else the
/// user message nearest before it in the window (a tool call's JSON is a poor title).
fn session_summary(detail: &SessionDetail, fallback: &str) -> String {
    let hit = detail.messages.iter().position(|m| m.is_hit);
    let spoken = |m: &&WindowMessage| m.origin == "user" || m.origin == "agent";
    let best = hit
        .and_then(|i| detail.messages.get(i))
        .filter(spoken)
        .or_else(|| {
            let upto = hit.unwrap_or(detail.messages.len());
            detail.messages[..upto]
                .iter()
                .rev()
                .find(|m| m.origin == "user")
        });
    first_line(best.map_or(fallback, |m| m.text.as_str()), 120)
}

/// Records that entries were injected into a session by recall: `use_count + 1` and
/// `last_used_at = now` on each memory or recall entry in `ids` (unknown ids are ignored).
/// Returns how many entries were updated.
pub fn record_use(store: &Store, ids: &[&str], now: &str) -> rusqlite::Result<usize> {
    let conn = store.conn();
    let mut memory = conn.prepare_cached(
        "UPDATE memory_entries SET use_count = use_count + 1, last_used_at = ?2, \
         last_injected_at = ?2 WHERE id = ?1",
    )?;
    let mut recall = conn.prepare_cached(
        "UPDATE recall_entries SET use_count = use_count + 1, last_used_at = ?2 WHERE id = ?1",
    )?;
    let mut updated = 0;
    for id in ids {
        updated += memory.execute(params![id, now])?;
        updated += recall.execute(params![id, now])?;
    }
    Ok(updated)
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
