//! csep's own inverted index of archived messages: term → ids of the messages holding it.
//!
//! Format (tables of migration `0009_message_index.sql`):
//! - `message_segments (id, level, rows, tokens)`: one row per segment.
//! - `message_postings (segment, term, rowids)`: per segment and term, the message ids holding
//!   the term, each written once, as a sequence of zigzag-encoded varint deltas (the first from
//!   0). Ingest stores ascending ids; a reader sorts a list that is not.
//! - `messages.term_count`: the message's distinct terms, the length BM25 normalises by.
//!
//! Why not FTS5: an FTS5 insert walks a chain of its pending-terms hash per token, a cache miss
//! each, and was most of an ingest's writing thread. Recall reads doclists only
//! ([`crate::recall::pool`]), so a builder keyed by the term's bytes in a flat hash table, and
//! one row per term and segment, is all it needs.
//!
//! Invariants:
//! - **One segment per transaction.** [`IndexBuilder`] collects what a transaction inserts and
//!   [`IndexBuilder::flush`] writes it as one segment before the caller commits (or earlier,
//!   when the builder grows past [`FLUSH_BYTES`]), so a crash never keeps postings of rows that
//!   were rolled back.
//! - **Few segments.** A flush writes a level-0 segment; when [`MERGE_FANIN`] segments share a
//!   level, they are merged into one of the next level, so a lookup reads at most
//!   `MERGE_FANIN - 1` segments per level, and `log_FANIN(flushes)` levels.
//! - **Each id once per term.** A message's terms are its distinct terms; a term repeated in the
//!   input of [`IndexBuilder::add`] is indexed once.

use rusqlite::{Connection, params};
use rustc_hash::FxHashMap;

/// Segments of one level merged into one segment of the next.
pub const MERGE_FANIN: usize = 8;

/// Encoded postings a builder holds before it writes a segment without waiting for the commit
/// (64 MiB, about 40 million postings): bounds the memory of a very large ingest.
pub const FLUSH_BYTES: usize = 64 << 20;

/// The postings of one term being built.
#[derive(Default)]
struct Posting {
    /// Zigzag varint deltas of the ids so far.
    bytes: Vec<u8>,
    /// The last id added (deltas are taken from it).
    last: i64,
}

impl Posting {
    /// Adds `rowid` unless it was the last one added; returns the bytes it took.
    fn add(&mut self, rowid: i64) -> Option<usize> {
        if self.last == rowid && !self.bytes.is_empty() {
            return None;
        }
        let before = self.bytes.len();
        write_varint(&mut self.bytes, zigzag(rowid.wrapping_sub(self.last)));
        self.last = rowid;
        Some(self.bytes.len() - before)
    }
}

/// What a transaction adds to the index, written by [`IndexBuilder::flush`].
#[derive(Default)]
pub struct IndexBuilder {
    terms: FxHashMap<Box<str>, Posting>,
    /// Rows added.
    rows: u64,
    /// Terms of those rows, summed.
    tokens: u64,
    /// Encoded bytes held (postings only).
    bytes: usize,
}

impl IndexBuilder {
    /// Indexes message `rowid` under `terms` (space-separated, each once: ingest's distinct
    /// terms) and returns how many terms it holds. A term repeated in `terms` is indexed once
    /// and counted once.
    pub fn add(&mut self, rowid: i64, terms: &str) -> u32 {
        let mut count = 0u32;
        for term in terms.split(' ').filter(|t| !t.is_empty()) {
            let added = match self.terms.get_mut(term) {
                Some(posting) => posting.add(rowid),
                None => self.terms.entry(term.into()).or_default().add(rowid),
            };
            if let Some(bytes) = added {
                self.bytes += bytes;
                count += 1;
            }
        }
        self.rows += 1;
        self.tokens += u64::from(count);
        count
    }

    /// Whether nothing was added since the last flush.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Whether the builder holds enough to write a segment before the commit ([`FLUSH_BYTES`]).
    pub fn is_full(&self) -> bool {
        self.bytes >= FLUSH_BYTES
    }

    /// Writes what was added as a new segment in `conn`'s open transaction, merges full levels
    /// (see the module docs) and empties the builder. Does nothing when nothing was added.
    pub fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let built = std::mem::take(self);
        let mut terms: Vec<(Box<str>, Posting)> = built.terms.into_iter().collect();
        terms.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let segment = insert_segment(conn, 0, built.rows, built.tokens)?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO message_postings (segment, term, rowids) VALUES (?1, ?2, ?3)",
        )?;
        for (term, posting) in &terms {
            insert.execute(params![segment, &**term, posting.bytes])?;
        }
        drop(terms);
        merge_full_levels(conn)
    }
}

/// Terms in a space-separated list of distinct terms: the `messages.term_count` of a message
/// [`IndexBuilder::add`] indexes under it.
pub fn term_count(terms: &str) -> u32 {
    u32::try_from(terms.split(' ').filter(|t| !t.is_empty()).count()).unwrap_or(u32::MAX)
}

/// Inserts a segment row and returns its id.
fn insert_segment(conn: &Connection, level: i64, rows: u64, tokens: u64) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO message_segments (level, rows, tokens) VALUES (?1, ?2, ?3)")?
        .execute(params![level, to_i64(rows), to_i64(tokens)])?;
    Ok(conn.last_insert_rowid())
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Merges the segments of each level that holds [`MERGE_FANIN`] of them, lowest level first.
fn merge_full_levels(conn: &Connection) -> rusqlite::Result<()> {
    let mut level = 0i64;
    loop {
        let segments: Vec<(i64, i64, i64)> = conn
            .prepare_cached(
                "SELECT id, rows, tokens FROM message_segments WHERE level = ?1 ORDER BY id",
            )?
            .query_map([level], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        if segments.len() < MERGE_FANIN {
            return Ok(());
        }
        merge(conn, level + 1, &segments)?;
        level += 1;
    }
}

/// Replaces `segments` (`(id, rows, tokens)`, oldest first) by one segment of `level`.
fn merge(conn: &Connection, level: i64, segments: &[(i64, i64, i64)]) -> rusqlite::Result<()> {
    let mut lists: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    {
        let mut read =
            conn.prepare_cached("SELECT term, rowids FROM message_postings WHERE segment = ?1")?;
        for &(id, _, _) in segments {
            let mut rows = read.query([id])?;
            while let Some(row) = rows.next()? {
                let term: String = row.get(0)?;
                let bytes = row.get_ref(1)?.as_blob()?;
                decode_into(bytes, lists.entry(term).or_default());
            }
        }
    }
    let rows = segments.iter().map(|s| s.1).sum::<i64>();
    let tokens = segments.iter().map(|s| s.2).sum::<i64>();
    let merged = insert_segment(conn, level, rows as u64, tokens as u64)?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO message_postings (segment, term, rowids) VALUES (?1, ?2, ?3)",
    )?;
    let mut bytes = Vec::new();
    for (term, mut ids) in lists {
        if !ids.is_sorted() {
            ids.sort_unstable();
        }
        ids.dedup();
        bytes.clear();
        encode(&ids, &mut bytes);
        insert.execute(params![merged, term, bytes])?;
    }
    let mut delete_postings =
        conn.prepare_cached("DELETE FROM message_postings WHERE segment = ?1")?;
    let mut delete_segment = conn.prepare_cached("DELETE FROM message_segments WHERE id = ?1")?;
    for &(id, _, _) in segments {
        delete_postings.execute([id])?;
        delete_segment.execute([id])?;
    }
    Ok(())
}

/// Rows indexed and their terms, summed over every segment (`(0, 0)` for an empty index).
pub fn stats(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    conn.prepare_cached(
        "SELECT coalesce(sum(rows), 0), coalesce(sum(tokens), 0) FROM message_segments",
    )?
    .query_row([], |r| {
        Ok((
            r.get::<_, i64>(0)?.max(0) as u64,
            r.get::<_, i64>(1)?.max(0) as u64,
        ))
    })
}

/// Ids of the messages holding `term`, ascending, each once.
pub fn doclist(conn: &Connection, term: &str) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT p.rowids FROM message_segments s \
         JOIN message_postings p ON p.segment = s.id AND p.term = ?1 ORDER BY s.id",
    )?;
    let mut rows = stmt.query([term])?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        decode_into(row.get_ref(0)?.as_blob()?, &mut ids);
    }
    if !ids.is_sorted() {
        ids.sort_unstable();
        ids.dedup();
    }
    Ok(ids)
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// `ids` as zigzag varint deltas (the first from 0), appended to `out`.
pub(crate) fn encode(ids: &[i64], out: &mut Vec<u8>) {
    let mut last = 0i64;
    for &id in ids {
        write_varint(out, zigzag(id.wrapping_sub(last)));
        last = id;
    }
}

/// Decodes a postings blob, appending its ids to `out`. A truncated last varint is dropped
/// (the index is only ever written whole; this keeps a damaged row from panicking recall).
pub(crate) fn decode_into(bytes: &[u8], out: &mut Vec<i64>) {
    let mut last = 0i64;
    let mut value = 0u64;
    let mut shift = 0u32;
    for &b in bytes {
        if shift < 64 {
            value |= u64::from(b & 0x7f) << shift;
        }
        if b & 0x80 == 0 {
            last = last.wrapping_add(unzigzag(value));
            out.push(last);
            value = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
