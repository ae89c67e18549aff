//! Candidate pools: the first stage of recall's ranking, computed from doclists alone (FTS5's
//! for memory and recall entries, the archive's own index for messages,
//! `TermMatches::load_messages`).
//!
//! Ranking every FTS match with SQLite's `bm25()` and joining it to its base row costs one random
//! b-tree read per match (the document length in `<table>_docsize`, then the base row), which at
//! a million archived messages is tens of thousands of reads per query. Instead:
//! 1. [`TermMatches::load`] reads the rowids of each query term's doclist (`MATCH '"term"'`, no
//!    auxiliary function, no join) and records which terms every matching row contains. The
//!    match set is the union of those doclists, intersected with the full MATCH expression only
//!    when the query has required phrases or exclusions
//!    (the query read once knows which: `MatchQuery::whole`).
//! 2. Matches are ordered by their *pool score*, the sum of the IDF of the terms they contain,
//!    which is exactly FTS5's BM25 for a row of average length where each term occurs once;
//!    ties go to more terms, then to the newest row (highest rowid).
//! 3. `TermMatches::pool_scored` walks that order in chunks, asking the caller to fetch and
//!    filter each chunk's base rows (project, status, time, host), until `limit` rows passed:
//!    only the rows that can enter the pool are ever read. Rows outside the caller's
//!    `RowidRanges` (the current project's sessions' message ranges) are skipped unread from
//!    the start. When few of the first chunk's rows passed, the caller may list the rows its
//!    filter admits (a `--host` or `--since` few rows meet, a project with few archived rows
//!    among many), and the rest of the walk reads only those.
//! 4. It then gives each pooled row its coverage and a BM25 computed with FTS5's formula
//!    (k1 = 1.2, b = 0.75, FTS5's IDF) from its real length, reading `<table>_docsize` for the
//!    pooled rows only; term frequency counts as one.
//!
//! Invariant: when every filtered match fits in the pool, the pool is exactly the filtered match
//! set (the same candidates an exhaustive ranking sees); the pool never holds a row that fails
//! the caller's filter or the MATCH expression.

use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, params};

use crate::archive::index;
use crate::recall::analyze::{MatchQuery, quote_phrase};
use crate::store::db::json_ids;

/// BM25 `k1` (FTS5's value).
const BM25_K1: f64 = 1.2;
/// BM25 `b` (FTS5's value).
const BM25_B: f64 = 0.75;
/// Smallest chunk of rowids fetched at once while filling a pool.
const MIN_CHUNK: usize = 16;
/// Largest chunk of rowids fetched at once while filling a pool.
const MAX_CHUNK: usize = 4096;
// Each row's query terms are a bitmask: a query never has more terms than it holds.
const _: () = assert!(crate::recall::analyze::MAX_QUERY_TERMS <= u64::BITS as usize);

/// The FTS tables recall searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtsTable {
    /// `messages_fts` (rowid = `messages.id`).
    Messages,
    /// `memory_fts` (rowid = `memory_entries.rid`).
    Memory,
    /// `recall_fts` (rowid = `recall_entries.rowid`).
    Recall,
}

impl FtsTable {
    /// The table's name.
    pub fn name(self) -> &'static str {
        match self {
            FtsTable::Messages => "messages_fts",
            FtsTable::Memory => "memory_fts",
            FtsTable::Recall => "recall_fts",
        }
    }

    /// The table whose rows it indexes (its rowids are that table's).
    pub fn base_table(self) -> &'static str {
        match self {
            FtsTable::Messages => "messages",
            FtsTable::Memory => "memory_entries",
            FtsTable::Recall => "recall_entries",
        }
    }
}

/// Coverage and text score of one pooled row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextScore {
    /// Share of the query's terms the row contains.
    pub coverage: f64,
    /// BM25 of the row (positive, higher is better).
    pub bm25: f64,
}

/// Every match of one query in one FTS table, ordered for pooling; see the module docs.
#[derive(Debug)]
pub struct TermMatches {
    table: FtsTable,
    /// `(rowid, term bitmask)`, best pool score first.
    ordered: Vec<(i64, u64)>,
    /// FTS5 IDF of each query term (none: coverage counts as complete).
    idf: Vec<f64>,
    /// Average row length in tokens, when the table's statistics could be read.
    avgdl: Option<f64>,
    /// Rows in the table, when its statistics could be read.
    rows: Option<u64>,
    /// Whether the lengths of rows are read from the FTS table's `_docsize` (every table but
    /// the archive's own index, and the messages `messages_fts` indexed before schema 9).
    fts_lengths: bool,
}

/// Decodes one SQLite varint (the encoding of FTS5's records) at the start of `bytes`.
fn read_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in bytes.iter().enumerate().take(9) {
        if i == 8 {
            return Some(((value << 8) | u64::from(byte), 9));
        }
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// FTS5's IDF of a term found in `hits` of `rows` rows.
fn fts5_idf(rows: f64, hits: f64) -> f64 {
    let idf = ((rows - hits + 0.5) / (hits + 0.5)).ln();
    if idf <= 0.0 { 1e-6 } else { idf }
}

/// Pooled rows with their text scores, best pool score first.
#[derive(Debug)]
pub struct Scored<T> {
    /// Each pooled row with its coverage and BM25.
    pub rows: Vec<(TextScore, T)>,
    /// The highest BM25 among them (0 when none).
    pub best_bm25: f64,
}

impl TermMatches {
    /// Reads the rows of `table` matching any of `terms` (the query's distinct terms), with
    /// which of them each contains; with `required`, the query's whole MATCH expression (it has
    /// required phrases or exclusions), only the rows that also match it.
    pub fn load(
        conn: &Connection,
        table: FtsTable,
        required: Option<&str>,
        terms: &[String],
    ) -> rusqlite::Result<TermMatches> {
        let name = table.name();
        let (rows, total_tokens) = table_stats(conn, name)?;
        let found = FtsMatches::read(conn, name, terms, required)?;
        let idf = found
            .lists
            .iter()
            .map(|list| {
                let hits = list.len() as u64;
                fts5_idf(rows.unwrap_or(0).max(hits) as f64, hits as f64)
            })
            .collect();
        let merged = found.merged();
        let avgdl = match (rows, total_tokens) {
            (Some(r), Some(t)) if r > 0 && t > 0 => Some(t as f64 / r as f64),
            _ => None,
        };
        Ok(TermMatches::ordered(table, merged, idf, avgdl, rows, true))
    }

    /// [`TermMatches::load`] for archived messages: the rows of the archive's own index
    /// ([`crate::archive::index`]) and those `messages_fts` indexed before schema 9, with
    /// statistics over both. With `required` (a query with required phrases or exclusions), a
    /// row of the index must hold every word of the required phrases and no one-word exclusion
    /// (its [`MatchQuery::distinct_required`] and `distinct_excluded`), and a row of
    /// `messages_fts` must match [`MatchQuery::distinct_expr`]: the same rule.
    pub(crate) fn load_messages(
        conn: &Connection,
        required: Option<&MatchQuery>,
        terms: &[String],
    ) -> rusqlite::Result<TermMatches> {
        let (fts_rows, fts_tokens) = table_stats(conn, FtsTable::Messages.name())?;
        let (index_rows, index_tokens) = index::stats(conn)?;
        // An archive begun on schema 9 or later never wrote `messages_fts`: nothing to read.
        let legacy = match fts_rows {
            Some(r) if r > 0 => Some(FtsMatches::read(
                conn,
                FtsTable::Messages.name(),
                terms,
                required.map(|q| q.distinct_expr.as_str()),
            )?),
            _ => None,
        };
        let rows = fts_rows.unwrap_or(0) + index_rows;
        let tokens = fts_tokens.unwrap_or(0) + index_tokens;
        let lists: Vec<Vec<i64>> = terms
            .iter()
            .map(|term| index::doclist(conn, term))
            .collect::<Result<_, _>>()?;
        let idf = lists
            .iter()
            .enumerate()
            .map(|(i, list)| {
                let old = legacy
                    .as_ref()
                    .and_then(|l| l.lists.get(i))
                    .map_or(0, Vec::len);
                let hits = (list.len() + old) as u64;
                fts5_idf(rows.max(hits) as f64, hits as f64)
            })
            .collect();
        let mut merged = merge_doclists(&lists);
        drop(lists);
        if let Some(q) = required {
            let holds_all: Vec<Vec<i64>> = q
                .distinct_required
                .iter()
                .map(|t| index::doclist(conn, t))
                .collect::<Result<_, _>>()?;
            let holds_any: Vec<Vec<i64>> = q
                .distinct_excluded
                .iter()
                .map(|t| index::doclist(conn, t))
                .collect::<Result<_, _>>()?;
            let holds = |list: &Vec<i64>, rowid: &i64| list.binary_search(rowid).is_ok();
            merged.retain(|(r, _)| {
                holds_all.iter().all(|l| holds(l, r)) && !holds_any.iter().any(|l| holds(l, r))
            });
        }
        let fts_lengths = legacy.is_some();
        if let Some(old) = legacy {
            merged = merge_two(&merged, &old.merged());
        }
        let avgdl = (rows > 0 && tokens > 0).then(|| tokens as f64 / rows as f64);
        let rows = (fts_rows.is_some() || index_rows > 0).then_some(rows);
        Ok(TermMatches::ordered(
            FtsTable::Messages,
            merged,
            idf,
            avgdl,
            rows,
            fts_lengths,
        ))
    }

    /// Orders `merged` (`(rowid, term bitmask)`, ascending rowids) for pooling.
    fn ordered(
        table: FtsTable,
        merged: Vec<(i64, u64)>,
        idf: Vec<f64>,
        avgdl: Option<f64>,
        rows: Option<u64>,
        fts_lengths: bool,
    ) -> TermMatches {
        // Rows sharing a term set share a pool score: bucket them (newest first), then order the
        // buckets, instead of sorting every match.
        let mut buckets: HashMap<u64, Vec<i64>, MaskHash> = HashMap::default();
        for &(rowid, mask) in merged.iter().rev() {
            buckets.entry(mask).or_default().push(rowid);
        }
        drop(merged);
        let pool_score = |mask: u64| -> f64 {
            idf.iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, v)| v)
                .sum()
        };
        let mut keys: Vec<(f64, u32, u64)> = buckets
            .keys()
            .map(|&mask| (pool_score(mask), mask.count_ones(), mask))
            .collect();
        keys.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| b.1.cmp(&a.1))
                .then_with(|| a.2.cmp(&b.2))
        });
        let mut ordered = Vec::with_capacity(buckets.values().map(Vec::len).sum());
        for (_, _, mask) in keys {
            if let Some(rowids) = buckets.remove(&mask) {
                ordered.extend(rowids.into_iter().map(|r| (r, mask)));
            }
        }
        TermMatches {
            table,
            ordered,
            idf,
            avgdl,
            rows,
            fts_lengths,
        }
    }

    /// Number of matching rows.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ordered.len()
    }

    /// Whether nothing matched.
    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }

    /// The best `limit` matches that pass the caller's filter ([`TermMatches::pool_scored`]
    /// without a second filter or scores; tests).
    #[cfg(test)]
    pub(crate) fn pool<T>(
        &self,
        limit: usize,
        fetch: impl FnMut(&[i64]) -> rusqlite::Result<Vec<(i64, T)>>,
    ) -> rusqlite::Result<Vec<(i64, u64, T)>> {
        self.pool_kept(limit, fetch, |_| true, None, None)
    }

    /// The best `limit` matches that pass the caller's filters, best first, as `(rowid, term
    /// bitmask, row)`. `fetch` gets a chunk of rowids and returns the rows of that chunk that
    /// pass (in any order, keyed by rowid); chunks grow until `limit` rows passed or every match
    /// was offered. The second, costlier filter `keep` is asked in pool order and only until the
    /// pool is full (rows fetched past that point are never checked).
    ///
    /// When few of the first chunk's rows passed and `list` can name every row the filter
    /// admits for less than the rows still to read would cost ([`ROW_READS_PER_LISTED_ROWID`]),
    /// the rest of the walk skips the rows not named: a project with few archived rows among
    /// many, or none yet, would otherwise read most matches' rows to fill its pool. The pool is
    /// the same, since the rows skipped fail the filter.
    ///
    /// `within`, when given, holds every row the filter admits (and maybe more): the walk skips
    /// the rows outside it from the start.
    fn pool_kept<T>(
        &self,
        limit: usize,
        mut fetch: impl FnMut(&[i64]) -> rusqlite::Result<Vec<(i64, T)>>,
        mut keep: impl FnMut(&T) -> bool,
        mut list: Option<Lister<'_>>,
        within: Option<&RowidRanges>,
    ) -> rusqlite::Result<Vec<(i64, u64, T)>> {
        let mut out: Vec<(i64, u64, T)> = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let mut order = match within {
            Some(ranges) => std::borrow::Cow::Owned(
                self.ordered
                    .iter()
                    .filter(|(rowid, _)| ranges.contains(*rowid))
                    .copied()
                    .collect(),
            ),
            None => std::borrow::Cow::Borrowed(self.ordered.as_slice()),
        };
        let mut start = 0;
        // The rows kept before the walk was narrowed to the listed rows (their share of the
        // first chunk says nothing about the listed rows').
        let mut kept_before = 0;
        // The first chunk assumes every row passes; later ones are sized from the share of
        // offered rows that passed so far, without a margin: a chunk that falls short costs one
        // more statement, a chunk too long costs the base rows read in vain (a page read
        // each, at a million archived messages), and a statement is the cheaper.
        let mut chunk = limit.max(MIN_CHUNK);
        while start < order.len() && out.len() < limit {
            // Decided once, after the first chunk.
            if (start > 0 || forced_listing())
                && let Some(lister) = list.take()
                && let Some(cap) = self.listing_cap(
                    limit - out.len(),
                    pass_rate(out.len(), start),
                    order.len() - start,
                )
                && let Some(admitted) = lister(cap)?
            {
                order = std::borrow::Cow::Owned(only(&order[start..], &admitted));
                start = 0;
                kept_before = out.len();
                chunk = (limit - out.len()).max(MIN_CHUNK);
                continue;
            }
            let end = (start + chunk).min(order.len());
            let slice = &order[start..end];
            let rowids: Vec<i64> = slice.iter().map(|(r, _)| *r).collect();
            let mut passed: HashMap<i64, T> = fetch(&rowids)?.into_iter().collect();
            for &(rowid, mask) in slice {
                if out.len() == limit {
                    break;
                }
                if let Some(row) = passed.remove(&rowid)
                    && keep(&row)
                {
                    out.push((rowid, mask, row));
                }
            }
            start = end;
            let missing = (limit - out.len()) as f64;
            let rate = pass_rate(out.len() - kept_before, start);
            chunk = ((missing / rate).ceil() as usize).clamp(MIN_CHUNK, MAX_CHUNK);
        }
        Ok(out)
    }

    /// The most rows worth listing to skip the rest of a walk that still needs `missing` rows,
    /// when a share `rate` of the rows offered so far passed and `remaining` matches are left;
    /// `None` when listing would not pay: every row passed, or the rows the filter admits
    /// (estimated from `rate`) cost more to list than the rows still to read.
    fn listing_cap(&self, missing: usize, rate: f64, remaining: usize) -> Option<usize> {
        #[cfg(test)]
        match FORCE_LISTING.with(std::cell::Cell::get) {
            Some(true) => return Some(usize::MAX),
            Some(false) => return None,
            None => {}
        }
        let to_read = ((missing as f64 / rate).ceil() as usize).min(remaining);
        let cap = to_read.saturating_mul(ROW_READS_PER_LISTED_ROWID);
        let admitted = rate * self.rows.map_or(remaining as f64, |r| r as f64);
        (rate < 1.0 && admitted <= cap as f64).then_some(cap)
    }

    /// The best `limit` matches that pass the caller's filters, best first: `fetch` gets a chunk
    /// of rowids and returns the rows of that chunk that pass (in any order, keyed by rowid);
    /// chunks grow until `limit` rows passed or every match was offered. The second, costlier
    /// filter `keep` is asked in pool order and only until the pool is full. Each pooled row
    /// comes with its coverage and BM25.
    pub(crate) fn pool_scored<T>(
        &self,
        conn: &Connection,
        limit: usize,
        fetch: impl FnMut(&[i64]) -> rusqlite::Result<Vec<(i64, T)>>,
        keep: impl FnMut(&T) -> bool,
        list: Option<Lister<'_>>,
        within: Option<&RowidRanges>,
    ) -> rusqlite::Result<Scored<T>> {
        let pooled = self.pool_kept(limit, fetch, keep, list, within)?;
        let keys: Vec<(i64, u64)> = pooled.iter().map(|(r, m, _)| (*r, *m)).collect();
        let scores = self.score(conn, &keys)?;
        let best_bm25 = scores.iter().map(|s| s.bm25).fold(0.0, f64::max);
        Ok(Scored {
            rows: scores
                .into_iter()
                .zip(pooled.into_iter().map(|(_, _, row)| row))
                .collect(),
            best_bm25,
        })
    }

    /// Coverage and BM25 of pooled rows, given as `(rowid, term bitmask)`, in their order.
    pub(crate) fn score(
        &self,
        conn: &Connection,
        pooled: &[(i64, u64)],
    ) -> rusqlite::Result<Vec<TextScore>> {
        let lengths = match self.avgdl {
            Some(_) => {
                let rowids: Vec<i64> = pooled.iter().map(|(r, _)| *r).collect();
                let mut lengths = if self.fts_lengths {
                    doc_lengths(conn, self.table.name(), &rowids)?
                } else {
                    HashMap::new()
                };
                if self.table == FtsTable::Messages {
                    lengths.extend(message_lengths(conn, &rowids)?);
                }
                lengths
            }
            None => HashMap::new(),
        };
        Ok(pooled
            .iter()
            .map(|&(rowid, mask)| {
                let coverage = if self.idf.is_empty() {
                    1.0
                } else {
                    f64::from(mask.count_ones()) / self.idf.len() as f64
                };
                // Length normalization of a term occurring once; 1 at average length.
                let norm = match (self.avgdl, lengths.get(&rowid)) {
                    (Some(avg), Some(&len)) => {
                        (BM25_K1 + 1.0) / (1.0 + BM25_K1 * (1.0 - BM25_B + BM25_B * len / avg))
                    }
                    _ => 1.0,
                };
                let bm25 = self
                    .idf
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, idf)| idf * norm)
                    .sum();
                TextScore { coverage, bm25 }
            })
            .collect())
    }
}

/// The share of `offered` rows that passed, counting at least one (`offered` > 0).
fn pass_rate(kept: usize, offered: usize) -> f64 {
    kept.max(1) as f64 / offered.max(1) as f64
}

/// Whether tests force pools to list their admitted rows before the first chunk.
fn forced_listing() -> bool {
    #[cfg(test)]
    return FORCE_LISTING.with(std::cell::Cell::get) == Some(true);
    #[cfg(not(test))]
    false
}

/// `order` without the rows not in `admitted`.
fn only(order: &[(i64, u64)], admitted: &HashSet<i64>) -> Vec<(i64, u64)> {
    order
        .iter()
        .filter(|(rowid, _)| admitted.contains(rowid))
        .copied()
        .collect()
}

/// Rowid ranges, sorted and disjoint: a superset of the rows a pool's filter admits, known
/// before the walk (the message ranges of the current project's sessions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowidRanges(Vec<(i64, i64)>);

impl RowidRanges {
    /// The union of inclusive `(first, last)` ranges, in any order, overlapping or not.
    pub(crate) fn new(mut ranges: Vec<(i64, i64)>) -> RowidRanges {
        ranges.retain(|(first, last)| first <= last);
        ranges.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
        for (first, last) in ranges {
            match merged.last_mut() {
                Some(prev) if first <= prev.1.saturating_add(1) => prev.1 = prev.1.max(last),
                _ => merged.push((first, last)),
            }
        }
        RowidRanges(merged)
    }

    /// Whether `rowid` lies in one of the ranges.
    pub(crate) fn contains(&self, rowid: i64) -> bool {
        let after = self.0.partition_point(|(first, _)| *first <= rowid);
        after > 0 && rowid <= self.0[after - 1].1
    }
}

/// Names every row a pool's filter admits when there are at most `cap` of them (`Ok(None)`
/// when there are more); a row it does not name must fail the filter.
pub(crate) type Lister<'a> = &'a mut dyn FnMut(usize) -> rusqlite::Result<Option<HashSet<i64>>>;

/// A base row read while filling a pool costs about as much as this many rowids listed in
/// order from an index (a random page per row against a covering index read in sequence).
pub(crate) const ROW_READS_PER_LISTED_ROWID: usize = 30;

#[cfg(test)]
thread_local! {
    /// Overrides when pools list their admitted rows: `Some(true)` before the first chunk, with
    /// no cap; `Some(false)` never.
    pub(crate) static FORCE_LISTING: std::cell::Cell<Option<bool>> =
        const { std::cell::Cell::new(None) };
}

/// Merges ascending rowid lists into ascending `(rowid, bitmask of the lists holding it)`,
/// two runs at a time, so each round halves the number of runs (a binary heap over the list
/// heads cost about as much as reading the lists).
fn merge_doclists(lists: &[Vec<i64>]) -> Vec<(i64, u64)> {
    let mut runs: Vec<Vec<(i64, u64)>> = lists
        .iter()
        .enumerate()
        .map(|(i, list)| list.iter().map(|&rowid| (rowid, 1 << i)).collect())
        .collect();
    while runs.len() > 1 {
        let mut merged = Vec::with_capacity(runs.len().div_ceil(2));
        let mut pairs = runs.into_iter();
        while let Some(a) = pairs.next() {
            merged.push(match pairs.next() {
                Some(b) => merge_two(&a, &b),
                None => a,
            });
        }
        runs = merged;
    }
    runs.pop().unwrap_or_default()
}

/// Merges two ascending runs of `(rowid, bitmask)`; a rowid in both gets both masks.
fn merge_two(a: &[(i64, u64)], b: &[(i64, u64)]) -> Vec<(i64, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(&(ra, ma)), Some(&(rb, mb))) = (a.get(i), b.get(j)) {
        match ra.cmp(&rb) {
            std::cmp::Ordering::Less => {
                out.push((ra, ma));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push((rb, mb));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((ra, ma | mb));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Hashes the term bitmasks that key the pool's buckets: one multiplication (Fibonacci
/// hashing) instead of SipHash, which the bucketing of every match paid for. The keys are
/// term sets of the user's own query, not adversarial input.
#[derive(Default, Clone, Copy)]
struct MaskHash;

impl std::hash::BuildHasher for MaskHash {
    type Hasher = MaskHasher;

    fn build_hasher(&self) -> MaskHasher {
        MaskHasher(0)
    }
}

/// The [`MaskHash`] hasher.
struct MaskHasher(u64);

impl std::hash::Hasher for MaskHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = (self.0 ^ value).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What an FTS5 table holds for a query: each term's doclist, and the rows matching its whole
/// MATCH expression when it must be matched whole.
struct FtsMatches {
    /// Per term, the rowids holding it, ascending.
    lists: Vec<Vec<i64>>,
    /// With a required expression, the rows matching it.
    matching: Option<HashSet<i64>>,
}

impl FtsMatches {
    /// Reads `terms`' doclists from FTS5 table `name` (`MATCH '"term"'`, no auxiliary function,
    /// no join) and, with `required`, the rows matching that expression.
    fn read(
        conn: &Connection,
        name: &str,
        terms: &[String],
        required: Option<&str>,
    ) -> rusqlite::Result<FtsMatches> {
        let mut stmt =
            conn.prepare_cached(&format!("SELECT rowid FROM {name} WHERE {name} MATCH ?1"))?;
        let mut lists = Vec::with_capacity(terms.len());
        for term in terms {
            let mut list: Vec<i64> = stmt
                .query_map([quote_phrase(std::slice::from_ref(term))], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            if !list.is_sorted() {
                list.sort_unstable();
            }
            lists.push(list);
        }
        let matching = match required {
            Some(expr) => Some(
                stmt.query_map([expr], |r| r.get(0))?
                    .collect::<Result<_, _>>()?,
            ),
            None => None,
        };
        Ok(FtsMatches { lists, matching })
    }

    /// The union of the doclists (see [`merge_doclists`]), less the rows the required
    /// expression does not match.
    fn merged(&self) -> Vec<(i64, u64)> {
        let mut merged = merge_doclists(&self.lists);
        if let Some(matching) = &self.matching {
            merged.retain(|(r, _)| matching.contains(r));
        }
        merged
    }
}

/// Row count and total token count of an FTS5 table, from its averages record (`_data` id 1:
/// a varint row count, then one varint token total per column). `None` when unreadable.
fn table_stats(conn: &Connection, name: &str) -> rusqlite::Result<(Option<u64>, Option<u64>)> {
    let block: Option<Vec<u8>> = conn
        .prepare_cached(&format!("SELECT block FROM {name}_data WHERE id = 1"))?
        .query_map([], |r| r.get(0))?
        .next()
        .transpose()?;
    let Some(block) = block else {
        return Ok((None, None));
    };
    let Some((rows, used)) = read_varint(&block) else {
        return Ok((None, None));
    };
    let tokens = block.get(used..).and_then(read_varint).map(|(t, _)| t);
    Ok((Some(rows), tokens))
}

/// `messages.term_count` of each row of `rowids` the archive's own index holds.
fn message_lengths(conn: &Connection, rowids: &[i64]) -> rusqlite::Result<HashMap<i64, f64>> {
    if rowids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, term_count FROM messages \
         WHERE id IN (SELECT value FROM json_each(?1)) AND term_count IS NOT NULL",
    )?;
    stmt.query_map(params![json_ids(rowids)], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as f64))
    })?
    .collect()
}

/// Token length of each row of `rowids` that `<name>_docsize` knows.
fn doc_lengths(
    conn: &Connection,
    name: &str,
    rowids: &[i64],
) -> rusqlite::Result<HashMap<i64, f64>> {
    if rowids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = json_ids(rowids);
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, sz FROM {name}_docsize WHERE id IN (SELECT value FROM json_each(?1))"
    ))?;
    let rows = stmt.query_map(params![ids], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
    })?;
    let mut out = HashMap::new();
    for row in rows {
        let (id, sz) = row?;
        if let Some((len, _)) = sz.as_deref().and_then(read_varint) {
            out.insert(id, len as f64);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "pool_tests.rs"]
mod tests;
