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
//! ([`crate::recall::pool`]). Here a token costs a probe of a small table of term ids and an
//! append to a flat list; the sorting and encoding happen once per segment.
//!
//! Invariants:
//! - **One segment per transaction.** [`IndexBuilder`] collects what a transaction inserts and
//!   [`IndexBuilder::flush`] writes it as one segment before the caller commits (or earlier,
//!   when the builder holds [`FLUSH_POSTINGS`]), so a crash never keeps postings of rows that
//!   were rolled back.
//! - **Few segments, merged by size.** A segment's level follows its rows ([`level_for`]: under
//!   [`LEVEL0_ROWS`] × [`MERGE_FANIN`] rows level 0, each level [`MERGE_FANIN`] times more);
//!   when [`MERGE_FANIN`] segments share a level, they are merged into one of the next level
//!   (or higher, by its size). A lookup reads at most `MERGE_FANIN - 1` segments per level, and
//!   a small ingest after a large import merges small segments only, never rewriting the
//!   import's within its transaction.
//! - **Each id once per term.** A message's terms are its distinct terms; a term repeated in the
//!   input of [`IndexBuilder::add`] is indexed once.

use rusqlite::{Connection, params};
use rustc_hash::FxHashMap;

use crate::recall::analyze::TermList;
use crate::store::db::json_ids;

/// Segments of one level merged into one segment of the next.
pub const MERGE_FANIN: usize = 8;

/// Postings a builder holds before it writes a segment without waiting for the commit (4
/// million: 16 MiB of sorted rows): bounds the memory of a large ingest (a 100 MB rollout as
/// Codex writes it holds about 3.3 million, one of conversation text only about 7 million).
pub const FLUSH_POSTINGS: usize = 4 << 20;

/// Postings a builder collects before it sorts them into a [`Run`] (256 Ki pairs, 2 MiB):
/// a large ingest's postings are sorted a run at a time while its messages are still being
/// written, so that at the end only the last run is left to sort. A run this size sorts
/// within the CPU's cache; the whole segment at once did not, and held up the last commit.
const RUN_PAIRS: usize = 1 << 18;

/// Terms of a builder and their ids: short terms (at most [`INLINE_TERM_BYTES`], nearly all
/// of them) live inline in an open-addressing table of 16-byte slots, so finding a term's id
/// costs one probe of a table a quarter the size of the analyzer's word cache and no pointer
/// to follow; longer ones go to a hash map.
struct TermIds {
    slots: Vec<Slot>,
    /// Slots in use.
    used: usize,
    long: FxHashMap<Box<str>, u32>,
    /// Each id's term.
    terms: Vec<Box<str>>,
}

/// Longest term kept inline in a [`TermIds`] slot.
const INLINE_TERM_BYTES: usize = 12;

/// Ids a slot can hold (24 bits; the slot's top byte is the term's length).
const MAX_INLINE_ID: u32 = (1 << 24) - 1;

/// One inline term: its bytes zero-padded, then its length (top byte; 0: empty slot) and id.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(16))]
struct Slot {
    head: u64,
    tail: u32,
    len_id: u32,
}

impl Slot {
    /// The slot `term` would have with id 0 ([`Slot::key_in`]).
    #[cfg(test)]
    fn key(term: &str) -> Option<Slot> {
        Slot::key_in(term.as_bytes(), 0, term.len())
    }

    /// The slot the term at `buf[start..end]` would have with id 0, or `None` if it is empty or
    /// too long to inline. Read with two word loads when `buf` holds 12 bytes from `start` (the
    /// bytes past the term are masked off).
    fn key_in(buf: &[u8], start: usize, end: usize) -> Option<Slot> {
        let len = end.checked_sub(start)?;
        if len == 0 || len > INLINE_TERM_BYTES {
            return None;
        }
        let [head, tail] = crate::hot::padded_words(buf, start, len, 0)?;
        Some(Slot {
            head,
            tail: tail as u32,
            len_id: (len as u32) << 24,
        })
    }

    fn is_empty(self) -> bool {
        self.len_id >> 24 == 0
    }

    /// Whether it holds the term of `key` (a [`Slot::key_in`]).
    fn holds(self, key: Slot) -> bool {
        self.head == key.head && self.tail == key.tail && self.len_id >> 24 == key.len_id >> 24
    }

    fn hash(self) -> u64 {
        crate::hot::hash_words(
            self.head,
            u64::from(self.tail) | u64::from(self.len_id >> 24) << 32,
        )
    }
}

/// Slots a builder starts with (grows by doubling at three quarters full).
const INITIAL_SLOTS: usize = 1 << 10;

impl Default for TermIds {
    fn default() -> Self {
        TermIds {
            slots: vec![Slot::default(); INITIAL_SLOTS],
            used: 0,
            long: FxHashMap::default(),
            terms: Vec::new(),
        }
    }
}

/// How many terms ahead [`IndexBuilder::add`] prefetches.
const LOOKAHEAD: usize = 8;

impl TermIds {
    /// Prefetches the slot where [`TermIds::id_keyed`] will look for the term of `key` first.
    fn prefetch(&self, key: Option<Slot>) {
        if let Some(key) = key {
            let mask = self.slots.len() - 1;
            crate::hot::prefetch(&self.slots[(key.hash() >> 32) as usize & mask]);
        }
    }

    fn find(&self, key: Slot) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (key.hash() >> 32) as usize & mask;
        loop {
            let slot = self.slots[i];
            if slot.is_empty() || slot.holds(key) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The id of `term`, given one if it has none yet.
    #[cfg(test)]
    fn id(&mut self, term: &str) -> u32 {
        self.id_keyed(term, Slot::key(term))
    }

    /// The id of `term` (whose [`Slot::key_in`] is `key`), given one if it has none yet. Once ids
    /// no longer fit a slot, new short terms go to the hash map too; the ones already inline
    /// keep their ids.
    fn id_keyed(&mut self, term: &str, key: Option<Slot>) -> u32 {
        if let Some(key) = key {
            let i = self.find(key);
            let slot = self.slots[i];
            if !slot.is_empty() {
                return slot.len_id & MAX_INLINE_ID;
            }
            if self.terms.len() < MAX_INLINE_ID as usize {
                let id = self.next_id(term);
                self.slots[i] = Slot {
                    len_id: key.len_id | id,
                    ..key
                };
                self.used += 1;
                if self.used * 4 > self.slots.len() * 3 {
                    self.grow();
                }
                return id;
            }
        }
        if let Some(&id) = self.long.get(term) {
            return id;
        }
        let id = self.next_id(term);
        self.long.insert(term.into(), id);
        id
    }

    fn next_id(&mut self, term: &str) -> u32 {
        let id = u32::try_from(self.terms.len()).unwrap_or(u32::MAX);
        self.terms.push(term.into());
        id
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![Slot::default(); old.len() * 2];
        for slot in old.into_iter().filter(|s| !s.is_empty()) {
            let i = self.find(slot);
            self.slots[i] = slot;
        }
    }
}

/// The rowid a forgotten row's postings are left with ([`IndexBuilder::forget`]); SQLite never
/// gives it to a row.
const FORGOTTEN: i64 = i64::MIN;

/// What a transaction adds to the index, written by [`IndexBuilder::flush`].
///
/// Adding a row appends one `(term id, row)` pair per term to a flat list, in row order, so
/// the hot path touches one slot of the term table and the end of that list. Every
/// 256 Ki pairs the list is sorted by term into a *run* and emptied; the flush sorts
/// what is left into a last run and encodes each term's rows from all runs, in order.
#[derive(Default)]
pub struct IndexBuilder {
    ids: TermIds,
    /// `(term id, index into rowids)` per posting not in a run yet, in the order added.
    pairs: Vec<(u32, u32)>,
    /// The postings sorted so far, oldest first: each holds later rows than the one before.
    runs: Vec<Run>,
    /// Postings in `runs`.
    in_runs: usize,
    /// The ids of the rows added, in order.
    rowids: Vec<i64>,
}

/// Consecutive postings of a builder sorted by term, each term's rows ascending (a stable
/// counting sort of pairs added in row order).
struct Run {
    /// Where each term's rows start in `rows`, for the ids given out when the run was sorted
    /// (one more entry than those; an id given out later has no row in the run).
    starts: Vec<u32>,
    /// Indexes into the builder's `rowids`.
    rows: Vec<u32>,
}

impl Run {
    /// Sorts `pairs` (term id, row; ids below `terms`) by term, keeping the order of each
    /// term's rows.
    fn sort(terms: usize, pairs: &[(u32, u32)]) -> Run {
        let mut starts = vec![0u32; terms + 1];
        for &(id, _) in pairs {
            starts[id as usize + 1] += 1;
        }
        for id in 0..terms {
            starts[id + 1] += starts[id];
        }
        let mut next = starts[..terms].to_vec();
        let mut rows = vec![0u32; pairs.len()];
        for &(id, row) in pairs {
            let slot = &mut next[id as usize];
            rows[*slot as usize] = row;
            *slot += 1;
        }
        Run { starts, rows }
    }

    /// One run of all of `runs` (each holding later rows than the one before, and terms below
    /// `terms`): each term's rows from the first run, then from the second, and so on. Reads
    /// every run front to back, so that the encoder, which goes through the terms in the order
    /// of their text, finds each term's rows in one place.
    fn join(terms: usize, runs: &[&Run]) -> Run {
        let mut starts = Vec::with_capacity(terms + 1);
        let mut rows = Vec::with_capacity(runs.iter().map(|run| run.rows.len()).sum());
        for id in 0..terms as u32 {
            starts.push(rows.len() as u32);
            for run in runs {
                rows.extend_from_slice(run.rows_of(id));
            }
        }
        starts.push(rows.len() as u32);
        Run { starts, rows }
    }

    /// The rows of term `id`, ascending.
    fn rows_of(&self, id: u32) -> &[u32] {
        let id = id as usize;
        match (self.starts.get(id), self.starts.get(id + 1)) {
            (Some(&start), Some(&end)) => &self.rows[start as usize..end as usize],
            _ => &[],
        }
    }
}

impl IndexBuilder {
    /// Indexes message `rowid` under `terms` (ingest's `distinct_message_terms`: distinct). A
    /// term repeated anyway is indexed once; a segment's token count ([`stats`]) counts it
    /// once, but the list's own count would count it twice.
    pub fn add(&mut self, rowid: i64, terms: &TermList) {
        let buf = terms.text.as_bytes();
        let terms = terms.ranges().filter_map(|(from, to)| {
            let term = terms.text.get(from..to).filter(|t| !t.is_empty())?;
            Some((term, Slot::key_in(buf, from, to)))
        });
        let row = u32::try_from(self.rowids.len()).unwrap_or(u32::MAX);
        self.rowids.push(rowid);
        // Most probes of the term table miss the cache (the vocabulary outgrows it): the slot
        // of the term `LOOKAHEAD` places ahead is prefetched, so those misses overlap instead
        // of following one another. Terms are still taken in order (their ids are too).
        let mut ring = [("", None); LOOKAHEAD];
        let mut read = 0;
        for (term, key) in terms {
            self.ids.prefetch(key);
            let at = read % LOOKAHEAD;
            if read >= LOOKAHEAD {
                let (term, key) = ring[at];
                let id = self.ids.id_keyed(term, key);
                self.pairs.push((id, row));
            }
            ring[at] = (term, key);
            read += 1;
        }
        for i in read.saturating_sub(LOOKAHEAD)..read {
            let (term, key) = ring[i % LOOKAHEAD];
            let id = self.ids.id_keyed(term, key);
            self.pairs.push((id, row));
        }
        // Between rows, so that a row's postings are never split between two runs.
        if self.pairs.len() >= RUN_PAIRS {
            self.seal_run();
        }
    }

    /// Sorts the pairs not in a run yet into a new run.
    fn seal_run(&mut self) {
        if self.pairs.is_empty() {
            return;
        }
        self.runs.push(Run::sort(self.ids.terms.len(), &self.pairs));
        self.in_runs += self.pairs.len();
        self.pairs.clear();
    }

    /// Postings added since the last flush (a term repeated in a row counted twice).
    pub fn postings(&self) -> usize {
        self.in_runs + self.pairs.len()
    }

    /// [`IndexBuilder::add`] for terms separated by spaces.
    #[cfg(test)]
    pub fn add_str(&mut self, rowid: i64, terms: &str) {
        self.add(rowid, &TermList::split(terms));
    }

    /// Takes back the rows of `rowids` added since the last flush: the flush writes no posting
    /// for them and does not count them. For rows that turned out to be indexed by another
    /// ingest in the meantime (see `archive::ingest`'s pending messages).
    pub fn forget(&mut self, rowids: &rustc_hash::FxHashSet<i64>) {
        for rowid in &mut self.rowids {
            if rowids.contains(rowid) {
                *rowid = FORGOTTEN;
            }
        }
    }

    /// Whether nothing was added since the last flush.
    pub fn is_empty(&self) -> bool {
        self.rowids.is_empty()
    }

    /// Whether the builder holds enough to write a segment before the commit
    /// ([`FLUSH_POSTINGS`]).
    pub fn is_full(&self) -> bool {
        self.postings() >= FLUSH_POSTINGS || self.rowids.len() >= u32::MAX as usize - 1
    }

    /// Writes what was added as a new segment in `conn`'s open transaction, merges full levels
    /// (see the module docs) and empties the builder. Does nothing when nothing was added.
    pub fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let built = std::mem::take(self);
        let row_count = built.rowids.iter().filter(|&&id| id != FORGOTTEN).count() as u64;
        if row_count == 0 {
            return Ok(());
        }
        let segment = insert_segment(conn, level_for(row_count), row_count, 0)?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO message_postings (segment, term, rowids) VALUES (?1, ?2, ?3)",
        )?;
        let mut insert_many = conn.prepare_cached(&insert_rows_sql(ROWS_PER_INSERT))?;
        let terms = &built.ids.terms;
        let mut write = |batch: &Batch| -> rusqlite::Result<()> {
            let mut rows = batch.ids.iter().zip(batch.blobs());
            let whole = batch.ids.len() / ROWS_PER_INSERT;
            for _ in 0..whole {
                insert_many.raw_bind_parameter(1, segment)?;
                for (n, (&id, blob)) in rows.by_ref().take(ROWS_PER_INSERT).enumerate() {
                    insert_many.raw_bind_parameter(2 * n + 2, &*terms[id as usize])?;
                    insert_many.raw_bind_parameter(2 * n + 3, blob)?;
                }
                insert_many.raw_execute()?;
            }
            for (&id, blob) in rows {
                insert.execute(params![segment, &*terms[id as usize], blob])?;
            }
            Ok(())
        };
        let threaded = built.postings() >= THREADED_FLUSH_PAIRS;
        let postings = if threaded {
            // Sorting the last run and encoding run on a second thread while this one inserts
            // what it has encoded so far: at the end of a large ingest this flush is all that
            // is left to do, and the inserts alone take as long as the rest.
            std::thread::scope(|scope| -> rusqlite::Result<u64> {
                let (send, batches) = std::sync::mpsc::sync_channel(4);
                let built = &built;
                // The encoder owns the sender: the channel closes, and the loop below ends,
                // when it returns.
                let encoder =
                    scope.spawn(move || encode_segment(built, |batch| send.send(batch).is_ok()));
                for batch in batches {
                    write(&batch)?;
                }
                Ok(joined(encoder.join()))
            })?
        } else {
            // A small segment (a Stop's ingest) is written by this thread alone.
            let mut failed = None;
            let postings = encode_segment(&built, |batch| {
                write(&batch).map_err(|e| failed = Some(e)).is_ok()
            });
            if let Some(e) = failed {
                return Err(e);
            }
            postings
        };
        conn.prepare_cached("UPDATE message_segments SET tokens = ?1 WHERE id = ?2")?
            .execute(params![to_i64(postings), segment])?;
        merge_full_levels(conn)
    }
}

/// Postings rows a segment's flush writes per `INSERT` statement: the statement's own cost
/// (reset, step) is paid once for them all.
const ROWS_PER_INSERT: usize = 32;

/// `INSERT INTO message_postings` of `rows` rows of one segment (`?1`), each row's term and
/// rowids in the next two parameters.
fn insert_rows_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|n| format!("(?1, ?{}, ?{})", 2 * n + 2, 2 * n + 3))
        .collect();
    format!(
        "INSERT INTO message_postings (segment, term, rowids) VALUES {}",
        values.join(", ")
    )
}

/// A thread's result, or its panic carried on.
fn joined<T>(result: std::thread::Result<T>) -> T {
    result.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Encoded postings of consecutive terms, as [`encode_segment`] sends them.
#[derive(Default)]
struct Batch {
    /// The terms' ids.
    ids: Vec<u32>,
    /// Where each term's blob ends in `bytes`.
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl Batch {
    /// Terms a batch holds.
    const TERMS: usize = 512;

    fn blobs(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let blob = &self.bytes[start..end];
            start = end;
            blob
        })
    }
}

/// Fewest postings a flush sorts and encodes on another thread ([`IndexBuilder::flush`]); a
/// smaller one (a Stop's ingest of a few messages) starts no thread.
const THREADED_FLUSH_PAIRS: usize = 1 << 16;

/// Sorts `built`'s pairs not in a run yet into a last run, then encodes each term's rowids
/// from all runs ([`encode`]), in the order of the terms' text, and hands them to `out` in
/// [`Batch`]es; returns how many postings it encoded. Rows whose rowid is [`FORGOTTEN`] are
/// left out, and so are terms left with no row. Stops early when `out` returns `false`.
fn encode_segment(built: &IndexBuilder, mut out: impl FnMut(Batch) -> bool) -> u64 {
    let terms = &built.ids.terms;
    let last = Run::sort(terms.len(), &built.pairs);
    let joined;
    let all = if built.runs.is_empty() {
        &last
    } else {
        let runs: Vec<&Run> = built.runs.iter().chain([&last]).collect();
        joined = Run::join(terms.len(), &runs);
        &joined
    };
    let mut order: Vec<u32> = (0..terms.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| terms[a as usize].cmp(&terms[b as usize]));
    let mut postings = 0u64;
    let mut batch = Batch::default();
    let mut ids = Vec::new();
    for id in order {
        ids.clear();
        ids.extend(
            all.rows_of(id)
                .iter()
                .map(|&row| built.rowids[row as usize])
                .filter(|&id| id != FORGOTTEN),
        );
        // A term repeated in one row's list sits twice in a row among its rows: keep one.
        ids.dedup();
        if ids.is_empty() {
            continue;
        }
        postings += ids.len() as u64;
        encode(&ids, &mut batch.bytes);
        batch.ends.push(batch.bytes.len());
        batch.ids.push(id);
        if batch.ids.len() == Batch::TERMS && !out(std::mem::take(&mut batch)) {
            return postings;
        }
    }
    if !batch.ids.is_empty() {
        out(batch);
    }
    postings
}

/// Terms in a space-separated list of terms.
#[cfg(test)]
pub fn term_count(terms: &str) -> u32 {
    u32::try_from(terms.split(' ').filter(|t| !t.is_empty()).count()).unwrap_or(u32::MAX)
}

/// Inserts a segment row and returns its id.
fn insert_segment(conn: &Connection, level: i64, rows: u64, tokens: u64) -> rusqlite::Result<i64> {
    conn.prepare_cached("INSERT INTO message_segments (level, rows, tokens) VALUES (?1, ?2, ?3)")?
        .execute(params![level, to_i64(rows), to_i64(tokens)])?;
    Ok(conn.last_insert_rowid())
}

/// `n` as SQLite's integer, saturating (counts and offsets never come near it).
pub(crate) fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Rows a level-0 segment holds at most, divided by [`MERGE_FANIN`] (256: level 0 is under
/// 2,048 rows, a Stop's ingest of a turn or a session).
pub const LEVEL0_ROWS: u64 = 256;

/// The level of a segment of `rows` rows (see the module docs).
pub fn level_for(rows: u64) -> i64 {
    let fanin = MERGE_FANIN as u64;
    let mut level = 0;
    let mut cap = LEVEL0_ROWS * fanin;
    while rows >= cap {
        level += 1;
        cap = cap.saturating_mul(fanin);
    }
    level
}

/// Merges the segments of each level that holds [`MERGE_FANIN`] of them, lowest level first.
fn merge_full_levels(conn: &Connection) -> rusqlite::Result<()> {
    let mut level = 0i64;
    loop {
        let top: Option<i64> = conn
            .prepare_cached("SELECT max(level) FROM message_segments")?
            .query_row([], |r| r.get(0))?;
        if top.is_none_or(|top| level > top) {
            return Ok(());
        }
        let segments: Vec<(i64, i64, i64)> = conn
            .prepare_cached(
                "SELECT id, rows, tokens FROM message_segments WHERE level = ?1 ORDER BY id",
            )?
            .query_map([level], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        if segments.len() >= MERGE_FANIN {
            let rows = segments.iter().map(|s| s.1.max(0) as u64).sum::<u64>();
            merge(conn, (level + 1).max(level_for(rows)), &segments)?;
        }
        level += 1;
    }
}

/// Replaces `segments` (`(id, rows, tokens)`, oldest first) by one segment of `level`.
fn merge(conn: &Connection, level: i64, segments: &[(i64, i64, i64)]) -> rusqlite::Result<()> {
    let rows = segments.iter().map(|s| s.1).sum::<i64>();
    let tokens = segments.iter().map(|s| s.2).sum::<i64>();
    let merged = insert_segment(conn, level, rows as u64, tokens as u64)?;
    let ids: Vec<i64> = segments.iter().map(|s| s.0).collect();
    // One term at a time, in term order: SQLite's sorter (which spills to disk) holds the
    // segments' postings, and this function one term's ids, however large the segments are.
    // The new segment is not among those read, so writing it while reading is safe.
    let mut read = conn.prepare_cached(
        "SELECT term, rowids FROM message_postings \
         WHERE segment IN (SELECT value FROM json_each(?1)) ORDER BY term, segment",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO message_postings (segment, term, rowids) VALUES (?1, ?2, ?3)",
    )?;
    let mut term: Option<String> = None;
    let mut list: Vec<i64> = Vec::new();
    let mut bytes = Vec::new();
    let mut write = |term: &str, list: &mut Vec<i64>| -> rusqlite::Result<()> {
        if !list.is_sorted() {
            list.sort_unstable();
        }
        list.dedup();
        bytes.clear();
        encode(list, &mut bytes);
        list.clear();
        insert.execute(params![merged, term, bytes]).map(|_| ())
    };
    let mut found = read.query([json_ids(&ids)])?;
    while let Some(row) = found.next()? {
        let next = row.get_ref(0)?.as_str()?;
        if term.as_deref() != Some(next) {
            if let Some(done) = term.take() {
                write(&done, &mut list)?;
            }
            term = Some(next.to_owned());
        }
        decode_into(row.get_ref(1)?.as_blob()?, &mut list);
    }
    if let Some(done) = term {
        write(&done, &mut list)?;
    }
    let mut delete_postings =
        conn.prepare_cached("DELETE FROM message_postings WHERE segment = ?1")?;
    let mut delete_segment = conn.prepare_cached("DELETE FROM message_segments WHERE id = ?1")?;
    for id in ids {
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

/// The postings of term `?1`, oldest segment first. CROSS JOIN keeps the segments outside: one
/// seek of the key `(segment, term)` each. Left to itself the planner may scan every posting
/// instead (SQLite has no statistics here): 20 ms per term at a million messages.
const DOCLIST_SQL: &str = "SELECT p.rowids FROM message_segments s \
     CROSS JOIN message_postings p ON p.segment = s.id AND p.term = ?1 ORDER BY s.id";

/// Ids of the messages holding `term`, ascending, each once.
pub fn doclist(conn: &Connection, term: &str) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(DOCLIST_SQL)?;
    let mut rows = stmt.query([term])?;
    let mut ids = Vec::new();
    while let Some(row) = rows.next()? {
        decode_into(row.get_ref(0)?.as_blob()?, &mut ids);
    }
    if !ids.is_sorted() {
        ids.sort_unstable();
    }
    ids.dedup();
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
