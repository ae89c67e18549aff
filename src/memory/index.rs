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
}
