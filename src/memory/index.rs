//! The one place memory and recall text becomes full-text index terms.
//!
//! `memory_fts` and `recall_fts` (migration 0002) store analyzer output joined by spaces. Every
//! writer calls [`terms_for`], so swapping the analyzer (the recall module's Latin + CJK
//! analyzer) is a one-line change here. Until then the analyzer is a simple one: lowercase,
//! split on anything that is not a letter or digit, and split CJK runs into single characters
//! and adjacent pairs so Chinese text is still findable.

use rusqlite::{Connection, params};

use crate::memory::dedupe::is_cjk;

/// The index terms of `text`, joined by single spaces.
pub fn terms_for(text: &str) -> String {
    let mut terms: Vec<String> = Vec::new();
    let lowered = text.to_lowercase();
    let mut word = String::new();
    let mut cjk: Vec<char> = Vec::new();
    let flush_cjk = |cjk: &mut Vec<char>, terms: &mut Vec<String>| {
        for (i, c) in cjk.iter().enumerate() {
            terms.push(c.to_string());
            if let Some(next) = cjk.get(i + 1) {
                terms.push(format!("{c}{next}"));
            }
        }
        cjk.clear();
    };
    for c in lowered.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                terms.push(std::mem::take(&mut word));
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            flush_cjk(&mut cjk, &mut terms);
            word.push(c);
        } else {
            flush_cjk(&mut cjk, &mut terms);
            if !word.is_empty() {
                terms.push(std::mem::take(&mut word));
            }
        }
    }
    flush_cjk(&mut cjk, &mut terms);
    if !word.is_empty() {
        terms.push(word);
    }
    terms.join(" ")
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
    fn terms_are_lowercase_words_and_cjk_characters_and_pairs() {
        assert_eq!(terms_for("Run `cargo-nextest`!"), "run cargo nextest");
        assert_eq!(
            terms_for("订单超时 retry"),
            "订 订单 单 单超 超 超时 时 retry"
        );
    }
}
