//! The one place memory and recall text becomes full-text index terms.
//!
//! `memory_fts` and `recall_fts` (migration 0002) store analyzer output joined by spaces. Every
//! writer calls [`terms_for`], which is the recall module's analyzer
//! ([`crate::recall::analyze::terms_for_index`]: stemming, identifier splitting, CJK
//! segmentation), so the index holds exactly the terms [`crate::recall::analyze::match_expr`]
//! searches for: `retrying` is indexed as `retri` and found by `retry`.

use rusqlite::{Connection, params};

/// The index terms of `text`, joined by single spaces (the recall analyzer's output).
pub fn terms_for(text: &str) -> String {
    crate::recall::analyze::terms_for_index(text)
}

/// Sets (or clears, with `None`) the `memory_fts` row of the entry whose rowid is `rid`.
pub fn sync_memory(conn: &Connection, rid: i64, text: Option<&str>) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM memory_fts WHERE rowid = ?1")?
        .execute([rid])?;
    if let Some(text) = text {
        conn.prepare_cached("INSERT INTO memory_fts (rowid, terms) VALUES (?1, ?2)")?
            .execute(params![rid, terms_for(text)])?;
    }
    Ok(())
}

/// Adds the `memory_fts` row of a new entry (no previous row to clear).
pub fn insert_memory(conn: &Connection, rid: i64, text: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO memory_fts (rowid, terms) VALUES (?1, ?2)")?
        .execute(params![rid, terms_for(text)])?;
    Ok(())
}

/// Sets (or clears, with `None`) the `recall_fts` row of the recall entry whose rowid is `rid`.
pub fn sync_recall(conn: &Connection, rid: i64, text: Option<&str>) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM recall_fts WHERE rowid = ?1")?
        .execute([rid])?;
    if let Some(text) = text {
        conn.prepare_cached("INSERT INTO recall_fts (rowid, terms) VALUES (?1, ?2)")?
            .execute(params![rid, terms_for(text)])?;
    }
    Ok(())
}

/// Which full-text table a batched write goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FtsTable {
    /// `memory_fts` (rows of `memory_entries`).
    Memory,
    /// `recall_fts` (rows of `recall_entries`).
    Recall,
}

impl FtsTable {
    fn delete_sql(self) -> &'static str {
        match self {
            FtsTable::Memory => {
                "DELETE FROM memory_fts WHERE rowid IN (SELECT value FROM json_each(?1))"
            }
            FtsTable::Recall => {
                "DELETE FROM recall_fts WHERE rowid IN (SELECT value FROM json_each(?1))"
            }
        }
    }

    fn insert_sql(self) -> &'static str {
        match self {
            FtsTable::Memory => {
                "INSERT INTO memory_fts (rowid, terms) \
                 SELECT value ->> 0, value ->> 1 FROM json_each(?1)"
            }
            FtsTable::Recall => {
                "INSERT INTO recall_fts (rowid, terms) \
                 SELECT value ->> 0, value ->> 1 FROM json_each(?1)"
            }
        }
    }
}

#[derive(Debug)]
struct BatchOp {
    table: FtsTable,
    rid: i64,
    /// The row is new (no previous index row to clear).
    fresh: bool,
    /// The text to index (`None`: no row).
    text: Option<String>,
}

/// Full-text index writes held back and applied together by [`IndexBatch::flush`].
///
/// Why: every write statement inside a transaction with an open savepoint makes FTS5 flush its
/// pending terms to disk (its `xSavepoint` method), so indexing row by row between other
/// writes leaves one tiny segment per row and FTS5 then spends its time merging them. Writing
/// the batch with one `DELETE` and one `INSERT … SELECT` per table keeps the terms in FTS5's
/// in-memory hash until commit.
///
/// Invariant: after [`flush`](IndexBatch::flush) the index holds exactly what the immediate
/// writes ([`sync_memory`], [`insert_memory`], [`sync_recall`]) in the same order would have
/// left. [`mark`](IndexBatch::mark) / [`rollback_to`](IndexBatch::rollback_to) follow SQL
/// savepoints, so a rolled-back write never reaches the index.
#[derive(Debug, Default)]
pub struct IndexBatch {
    ops: Vec<BatchOp>,
}

impl IndexBatch {
    /// An empty batch.
    pub fn new() -> IndexBatch {
        IndexBatch::default()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Queues what [`insert_memory`] does (`fresh`) or [`sync_memory`] does (otherwise) for
    /// `table`.
    pub fn push(&mut self, table: FtsTable, rid: i64, fresh: bool, text: Option<String>) {
        self.ops.push(BatchOp {
            table,
            rid,
            fresh,
            text,
        });
    }

    /// A position to roll back to (taken with an SQL savepoint).
    pub fn mark(&self) -> usize {
        self.ops.len()
    }

    /// Forgets the writes queued since `mark` (their SQL savepoint was rolled back).
    pub fn rollback_to(&mut self, mark: usize) {
        self.ops.truncate(mark);
    }

    /// Applies every queued write and empties the batch.
    pub fn flush(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        // Per row: clear the old row unless the first write created it; index the last text.
        let mut rows: std::collections::HashMap<(FtsTable, i64), (bool, Option<String>)> =
            std::collections::HashMap::with_capacity(self.ops.len());
        let mut order: Vec<(FtsTable, i64)> = Vec::with_capacity(self.ops.len());
        for op in self.ops.drain(..) {
            match rows.entry((op.table, op.rid)) {
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().1 = op.text,
                std::collections::hash_map::Entry::Vacant(e) => {
                    order.push((op.table, op.rid));
                    e.insert((!op.fresh, op.text));
                }
            }
        }
        for table in [FtsTable::Memory, FtsTable::Recall] {
            let mut deletes: Vec<i64> = Vec::new();
            let mut inserts: Vec<serde_json::Value> = Vec::new();
            for key in order.iter().filter(|(t, _)| *t == table) {
                let Some((clear, text)) = rows.get(key) else {
                    continue;
                };
                if *clear {
                    deletes.push(key.1);
                }
                if let Some(text) = text {
                    inserts.push(serde_json::json!([key.1, terms_for(text)]));
                }
            }
            if !deletes.is_empty() {
                let ids = serde_json::Value::from(deletes).to_string();
                conn.prepare_cached(table.delete_sql())?.execute([ids])?;
            }
            if !inserts.is_empty() {
                let rows = serde_json::Value::from(inserts).to_string();
                conn.prepare_cached(table.insert_sql())?.execute([rows])?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_the_recall_analyzer_output_so_queries_in_another_word_form_match() {
        assert_eq!(
            terms_for("Run `cargo-nextest`!"),
            "run cargonextest cargo nextest"
        );
        assert_eq!(terms_for("Retrying flaky tests"), "retri flaki test");
        let expr = crate::recall::analyze::match_expr("retry")
            .unwrap()
            .unwrap();
        assert_eq!(expr, "\"retri\"");
    }

    #[test]
    fn a_memory_entry_is_found_by_a_query_in_another_word_form() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE memory_fts USING fts5 (terms, content = '', \
             contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0');",
        )
        .unwrap();
        sync_memory(&conn, 7, Some("Retrying the flaky sqlite tests fixes CI")).unwrap();
        let expr = crate::recall::analyze::match_expr("retry sqlite test")
            .unwrap()
            .unwrap();
        let hits: Vec<i64> = conn
            .prepare("SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?1")
            .unwrap()
            .query_map([expr], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(hits, vec![7]);
    }

    fn fts(conn: &Connection, table: &str) {
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE {table} USING fts5 (terms, content = '', \
             contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 0');"
        ))
        .unwrap();
    }

    fn hits(conn: &Connection, table: &str, word: &str) -> Vec<i64> {
        conn.prepare(&format!(
            "SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid"
        ))
        .unwrap()
        .query_map([word], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn a_flushed_batch_leaves_the_index_the_immediate_writes_leave() {
        let immediate = Connection::open_in_memory().unwrap();
        let batched = Connection::open_in_memory().unwrap();
        for conn in [&immediate, &batched] {
            fts(conn, "memory_fts");
            fts(conn, "recall_fts");
            // A row indexed before the batch, later rewritten and one later cleared.
            insert_memory(conn, 1, "alpha beta").unwrap();
            insert_memory(conn, 2, "beta gamma").unwrap();
        }
        let steps: Vec<(FtsTable, i64, bool, Option<&str>)> = vec![
            (FtsTable::Memory, 1, false, Some("delta")),
            (FtsTable::Memory, 2, false, None),
            (FtsTable::Memory, 3, true, Some("alpha")),
            (FtsTable::Memory, 3, false, Some("gamma alpha")),
            (FtsTable::Memory, 4, true, Some("beta")),
            (FtsTable::Memory, 4, false, None),
            (FtsTable::Memory, 4, false, Some("epsilon")),
            (FtsTable::Recall, 1, false, Some("alpha recall")),
        ];
        let mut batch = IndexBatch::new();
        for (table, rid, fresh, text) in &steps {
            match (table, fresh) {
                (FtsTable::Memory, true) => insert_memory(&immediate, *rid, text.unwrap()).unwrap(),
                (FtsTable::Memory, false) => sync_memory(&immediate, *rid, *text).unwrap(),
                (FtsTable::Recall, _) => sync_recall(&immediate, *rid, *text).unwrap(),
            }
            batch.push(*table, *rid, *fresh, text.map(str::to_owned));
        }
        batch.flush(&batched).unwrap();
        assert!(batch.is_empty());
        for table in ["memory_fts", "recall_fts"] {
            for word in ["alpha", "beta", "gamma", "delta", "epsilon", "recall"] {
                let want = hits(&immediate, table, word);
                assert_eq!(hits(&batched, table, word), want, "{table} {word}");
            }
        }
        assert_eq!(hits(&batched, "memory_fts", "alpha"), vec![3]);
        assert_eq!(hits(&batched, "memory_fts", "beta"), Vec::<i64>::new());
    }

    #[test]
    fn writes_rolled_back_to_a_mark_never_reach_the_index() {
        let conn = Connection::open_in_memory().unwrap();
        fts(&conn, "memory_fts");
        fts(&conn, "recall_fts");
        let mut batch = IndexBatch::new();
        batch.push(FtsTable::Memory, 1, true, Some("kept".into()));
        let mark = batch.mark();
        batch.push(FtsTable::Memory, 2, true, Some("dropped".into()));
        batch.push(FtsTable::Memory, 1, false, Some("dropped".into()));
        batch.rollback_to(mark);
        batch.flush(&conn).unwrap();
        assert_eq!(hits(&conn, "memory_fts", "kept"), vec![1]);
        assert!(hits(&conn, "memory_fts", "dropped").is_empty());
    }
}
