use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::store::db::Store;

#[rstest]
#[case::one_byte(&[0x05], 5, 1)]
#[case::two_bytes(&[0x81, 0x00], 128, 2)]
#[case::three_bytes(&[0x82, 0x80, 0x01], 32769, 3)]
fn varints_decode_as_sqlite_writes_them(
    #[case] bytes: &[u8],
    #[case] value: u64,
    #[case] used: usize,
) {
    assert_eq!(read_varint(bytes), Some((value, used)));
}

#[test]
fn a_truncated_varint_is_not_read() {
    assert_eq!(read_varint(&[0x81]), None);
    assert_eq!(read_varint(&[]), None);
}

/// A store whose `messages_fts` holds `docs` (rowid, indexed terms).
fn store_with(docs: &[(i64, &str)]) -> Store {
    let store = Store::open_in_memory().unwrap();
    for (rowid, terms) in docs {
        store
            .conn()
            .execute(
                "INSERT INTO messages_fts (rowid, terms) VALUES (?1, ?2)",
                params![rowid, terms],
            )
            .unwrap();
    }
    store
}

/// Each match's score, by rowid.
fn scores_by_rowid(store: &Store, matches: &TermMatches) -> HashMap<i64, TextScore> {
    let scores = matches.score(store.conn(), &matches.ordered).unwrap();
    assert_eq!(scores.len(), matches.ordered.len());
    matches
        .ordered
        .iter()
        .map(|(r, _)| *r)
        .zip(scores)
        .collect()
}

fn terms(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

fn corpus() -> Vec<(i64, String)> {
    // Rows of different lengths, each query term at most once per row.
    (1..=60)
        .map(|i| {
            let mut words = vec!["filler"; (i % 7) as usize + 1];
            if i % 2 == 0 {
                words.push("sqlite");
            }
            if i % 3 == 0 {
                words.push("timeout");
            }
            if i % 5 == 0 {
                words.push("retri");
            }
            words.push(if i % 4 == 0 { "alpha" } else { "beta" });
            (i, words.join(" "))
        })
        .collect()
}

#[test]
fn bm25_equals_sqlite_bm25_when_each_term_occurs_once() {
    let docs = corpus();
    let refs: Vec<(i64, &str)> = docs.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let store = store_with(&refs);
    let query = terms(&["sqlite", "timeout", "retri"]);
    let expr = "\"sqlite\" OR \"timeout\" OR \"retri\"";
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    let ours = scores_by_rowid(&store, &matches);
    let theirs: Vec<(i64, f64)> = store
        .conn()
        .prepare("SELECT rowid, -bm25(messages_fts) FROM messages_fts WHERE messages_fts MATCH ?1")
        .unwrap()
        .query_map([expr], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ours.len(), theirs.len());
    for (rowid, bm25) in theirs {
        let mine = ours[&rowid].bm25;
        assert!(
            (mine - bm25).abs() < 1e-9,
            "row {rowid}: ours {mine}, sqlite {bm25}"
        );
    }
}

#[test]
fn coverage_counts_the_query_terms_a_row_contains() {
    let store = store_with(&[
        (1, "sqlite timeout retri"),
        (2, "sqlite other"),
        (3, "other"),
    ]);
    let query = terms(&["sqlite", "timeout", "retri"]);
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    assert_eq!(matches.ordered.len(), 2);
    let scores = scores_by_rowid(&store, &matches);
    assert_eq!(scores[&1].coverage, 1.0);
    assert!((scores[&2].coverage - 1.0 / 3.0).abs() < 1e-12);
}

#[test]
fn rows_with_rarer_and_more_terms_come_first_then_newer_rows() {
    let store = store_with(&[
        (1, "common"),
        (2, "common rare"),
        (3, "common"),
        (4, "rare"),
        (5, "common"),
        (6, "common"),
    ]);
    let query = terms(&["common", "rare"]);
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    let order: Vec<i64> = matches.ordered.iter().map(|(r, _)| *r).collect();
    assert_eq!(order, vec![2, 4, 6, 5, 3, 1]);
}

#[test]
fn phrases_and_exclusions_restrict_the_matches_to_the_expression() {
    let store = store_with(&[
        (1, "retri timeout"),
        (2, "timeout retri"),
        (3, "retri"),
        (4, "retri timeout secret"),
    ]);
    let query = terms(&["retri", "timeout"]);
    let expr = "(\"retri timeout\") NOT (\"secret\")";
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, Some(expr), &query).unwrap();
    let order: Vec<i64> = matches.ordered.iter().map(|(r, _)| *r).collect();
    assert_eq!(order, vec![1]);
}

#[test]
fn deleted_rows_never_match() {
    let store = store_with(&[(1, "sqlite"), (2, "sqlite"), (3, "sqlite")]);
    store
        .conn()
        .execute("DELETE FROM messages_fts WHERE rowid = 2", [])
        .unwrap();
    let query = terms(&["sqlite"]);
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    let order: Vec<i64> = matches.ordered.iter().map(|(r, _)| *r).collect();
    assert_eq!(order, vec![3, 1]);
}

#[test]
fn the_pool_reads_only_the_chunks_it_needs_and_skips_filtered_rows() {
    let docs: Vec<(i64, String)> = (1..=1000).map(|i| (i, "sqlite".to_owned())).collect();
    let refs: Vec<(i64, &str)> = docs.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let store = store_with(&refs);
    let query = terms(&["sqlite"]);
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    let mut offered = 0;
    // Only odd rowids pass the filter.
    let pool = matches
        .pool(10, |rowids| {
            offered += rowids.len();
            Ok(rowids
                .iter()
                .filter(|r| *r % 2 == 1)
                .map(|r| (*r, ()))
                .collect())
        })
        .unwrap();
    let got: Vec<i64> = pool.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(got, vec![999, 997, 995, 993, 991, 989, 987, 985, 983, 981]);
    assert!(offered < 100, "offered {offered} rows for a pool of 10");
}

#[test]
fn the_second_filter_fills_the_pool_in_order_and_is_not_asked_past_it() {
    let docs: Vec<(i64, String)> = (1..=1000).map(|i| (i, "sqlite".to_owned())).collect();
    let refs: Vec<(i64, &str)> = docs.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let store = store_with(&refs);
    let query = terms(&["sqlite"]);
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    let mut asked = Vec::new();
    // Every fetched row passes the cheap filter; only multiples of 3 pass `keep`.
    let pool = matches
        .pool_kept(
            5,
            |rowids| Ok(rowids.iter().map(|r| (*r, *r)).collect()),
            |r| {
                asked.push(*r);
                r % 3 == 0
            },
            None,
            None,
        )
        .unwrap();
    let got: Vec<i64> = pool.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(got, vec![999, 996, 993, 990, 987]);
    // Asked in pool order, and never after the fifth kept row.
    assert_eq!(asked, (987..=1000).rev().collect::<Vec<i64>>());
}

#[test]
fn a_pool_larger_than_the_matches_holds_every_passing_match() {
    let store = store_with(&[(1, "a"), (2, "a b"), (3, "b"), (4, "c")]);
    let query = terms(&["a", "b"]);
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    let pool = matches
        .pool(50, |rowids| Ok(rowids.iter().map(|r| (*r, ())).collect()))
        .unwrap();
    let mut got: Vec<i64> = pool.iter().map(|(r, _, _)| *r).collect();
    got.sort_unstable();
    assert_eq!(got, vec![1, 2, 3]);
}

#[test]
fn doclists_merge_into_one_ascending_list_with_term_masks() {
    let merged = merge_doclists(&[vec![1, 4, 9], vec![4, 5], vec![], vec![1, 9, 12]]);
    assert_eq!(
        merged,
        vec![
            (1, 0b1001),
            (4, 0b0011),
            (5, 0b0010),
            (9, 0b1001),
            (12, 0b1000)
        ]
    );
}

proptest::proptest! {
    #[test]
    fn doclists_merge_as_a_map_of_rowid_to_lists_holding_it(
        sets in proptest::collection::vec(
            proptest::collection::btree_set(0i64..300, 0..40),
            0..=crate::recall::analyze::MAX_QUERY_TERMS,
        )
    ) {
        let lists: Vec<Vec<i64>> = sets.iter().map(|s| s.iter().copied().collect()).collect();
        let mut expected: std::collections::BTreeMap<i64, u64> = std::collections::BTreeMap::new();
        for (i, list) in lists.iter().enumerate() {
            for &rowid in list {
                *expected.entry(rowid).or_default() |= 1 << i;
            }
        }
        let expected: Vec<(i64, u64)> = expected.into_iter().collect();
        proptest::prop_assert_eq!(merge_doclists(&lists), expected);
    }
}

#[test]
fn pool_scored_pairs_each_pooled_row_with_its_own_score() {
    let store = store_with(&[(1, "a"), (2, "a b"), (3, "b"), (4, "c")]);
    let query = terms(&["a", "b"]);
    let matches = TermMatches::load(store.conn(), FtsTable::Messages, None, &query).unwrap();
    let scored = matches
        .pool_scored(
            store.conn(),
            50,
            |rowids| Ok(rowids.iter().map(|r| (*r, *r)).collect()),
            |_| true,
            None,
            None,
        )
        .unwrap();
    let by_rowid = scores_by_rowid(&store, &matches);
    assert_eq!(scored.rows.len(), 3);
    for (score, rowid) in &scored.rows {
        assert_eq!(*score, by_rowid[rowid], "row {rowid}");
    }
    let best = by_rowid.values().map(|s| s.bm25).fold(0.0, f64::max);
    assert_eq!(scored.best_bm25, best);
    assert_eq!(scored.rows[0].1, 2, "the row with both terms comes first");
}

/// 1,000 matching rows of which the filter admits `admitted` (multiples of `every`); a pool of
/// 10 with a lister: the rows offered to `fetch`, the caps asked for, and the pool.
fn pool_with_lister(every: i64) -> (usize, Vec<usize>, Vec<i64>) {
    let docs: Vec<(i64, String)> = (1..=1000).map(|i| (i, "sqlite".to_owned())).collect();
    let refs: Vec<(i64, &str)> = docs.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let store = store_with(&refs);
    let matches =
        TermMatches::load(store.conn(), FtsTable::Messages, None, &terms(&["sqlite"])).unwrap();
    let mut offered = 0;
    let mut caps = Vec::new();
    let mut lister = |cap: usize| {
        caps.push(cap);
        let admitted: HashSet<i64> = (1..=1000).filter(|r| r % every == 0).collect();
        Ok((admitted.len() <= cap).then_some(admitted))
    };
    let pool = matches
        .pool_kept(
            10,
            |rowids| {
                offered += rowids.len();
                Ok(rowids
                    .iter()
                    .filter(|r| *r % every == 0)
                    .map(|r| (*r, ()))
                    .collect())
            },
            |_| true,
            Some(&mut lister),
            None,
        )
        .unwrap();
    (offered, caps, pool.iter().map(|(r, _, _)| *r).collect())
}

#[test]
fn a_pool_whose_filter_admits_few_rows_lists_them_after_the_first_chunk() {
    // 5 of 1,000 rows pass: the first chunk (16 rows, newest first) finds one, the walk would
    // read up to 984 more; listing 5 rowids is cheaper, and only the other 4 are read then.
    let (offered, caps, pool) = pool_with_lister(200);
    assert_eq!(pool, vec![1000, 800, 600, 400, 200]);
    assert_eq!(caps.len(), 1, "listed once");
    assert_eq!(offered, 16 + 4);
}

#[test]
fn after_listing_the_walk_reads_only_as_many_listed_rows_as_it_still_needs() {
    // 50 of 1,000 rows pass: the first chunk (16 rows) finds one and the rows are listed; the
    // 9 still missing come from one smallest chunk of listed rows (16), not from a chunk sized
    // by the first chunk's pass rate (which would read all 49).
    let (offered, caps, pool) = pool_with_lister(20);
    assert_eq!(pool, (820..=1000).rev().step_by(20).collect::<Vec<i64>>());
    assert_eq!(caps.len(), 1, "listed once");
    assert_eq!(offered, 16 + MIN_CHUNK);
}

#[test]
fn a_pool_whose_filter_admits_most_rows_never_lists_them() {
    // Every other row passes: the walk reads about 20 rows, fewer than listing 500 would cost.
    let (offered, caps, pool) = pool_with_lister(2);
    assert_eq!(
        pool,
        (981..=1000)
            .rev()
            .filter(|r| r % 2 == 0)
            .collect::<Vec<i64>>()
    );
    assert!(caps.is_empty(), "asked to list: {caps:?}");
    assert!(offered <= 36, "offered {offered}");
}

proptest::proptest! {
    #[test]
    fn rowid_ranges_hold_exactly_the_rows_of_their_ranges(
        ranges in proptest::collection::vec((0i64..200, 0i64..40), 0..12),
        probes in proptest::collection::vec(-5i64..260, 0..64),
    ) {
        let ranges: Vec<(i64, i64)> = ranges.into_iter().map(|(a, n)| (a, a + n)).collect();
        let set = RowidRanges::new(ranges.clone());
        for rowid in probes {
            let expected = ranges.iter().any(|(a, b)| *a <= rowid && rowid <= *b);
            proptest::prop_assert_eq!(set.contains(rowid), expected, "{}", rowid);
        }
    }
}

#[test]
fn a_walk_within_ranges_never_offers_a_row_outside_them() {
    let rows: Vec<(i64, String)> = (1..=300).map(|r| (r, "a".to_owned())).collect();
    let refs: Vec<(i64, &str)> = rows.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let store = store_with(&refs);
    let matches =
        TermMatches::load(store.conn(), FtsTable::Messages, None, &terms(&["a"])).unwrap();
    // Rows 10–19 and 250–259; the filter admits only the even ones among them.
    let within = RowidRanges::new(vec![(250, 259), (10, 14), (12, 19)]);
    let mut offered = Vec::new();
    let pool = matches
        .pool_kept(
            50,
            |rowids| {
                offered.extend_from_slice(rowids);
                Ok(rowids
                    .iter()
                    .filter(|r| *r % 2 == 0)
                    .map(|r| (*r, ()))
                    .collect())
            },
            |()| true,
            None,
            Some(&within),
        )
        .unwrap();
    offered.sort_unstable();
    let expected: Vec<i64> = (10..20).chain(250..260).collect();
    assert_eq!(offered, expected);
    let mut pooled: Vec<i64> = pool.iter().map(|(r, _, ())| *r).collect();
    pooled.sort_unstable();
    let even: Vec<i64> = expected.into_iter().filter(|r| r % 2 == 0).collect();
    assert_eq!(pooled, even);
}

/// A store whose archive holds `docs` (rowid, terms) in the archive's own index, each with its
/// `messages` row (`term_count` set), as ingest writes them since schema 9.
fn store_with_index(docs: &[(i64, &str)]) -> Store {
    let store = Store::open_in_memory().unwrap();
    add_to_index(&store, docs);
    store
}

fn add_to_index(store: &Store, docs: &[(i64, &str)]) {
    let conn = store.conn();
    conn.execute(
        "INSERT OR IGNORE INTO sessions (id, host, session_id, created_at, updated_at) \
         VALUES (1, 'codex', 's', 'x', 'x')",
        [],
    )
    .unwrap();
    let mut builder = crate::archive::index::IndexBuilder::default();
    for (rowid, terms) in docs {
        builder.add_str(*rowid, terms);
        let count = crate::archive::index::term_count(terms);
        conn.execute(
            "INSERT INTO messages (id, session_ref, byte_offset, seq, role, origin, text, \
             term_count) VALUES (?1, 1, ?1, 0, 'user', 'user', 'x', ?2)",
            params![rowid, count],
        )
        .unwrap();
    }
    builder.flush(conn).unwrap();
}

/// [`corpus`] with each row's filler words made distinct: ingest indexes a row's distinct terms,
/// and both indexes then count the same row lengths.
fn distinct_corpus() -> Vec<(i64, String)> {
    corpus()
        .into_iter()
        .map(|(rowid, text)| {
            let mut n = 0;
            let words: Vec<String> = text
                .split(' ')
                .map(|w| {
                    n += 1;
                    if w == "filler" {
                        format!("filler{n}")
                    } else {
                        w.to_owned()
                    }
                })
                .collect();
            (rowid, words.join(" "))
        })
        .collect()
}

/// `(rowid, coverage, bm25)` of every match of `query`, in pool order.
fn messages_found(store: &Store, query: &str) -> Vec<(i64, f64, f64)> {
    let q = crate::recall::analyze::match_query(query).unwrap().unwrap();
    let matches =
        TermMatches::load_messages(store.conn(), q.whole.then_some(&q), &q.terms).unwrap();
    let scores = matches.score(store.conn(), &matches.ordered).unwrap();
    matches
        .ordered
        .iter()
        .zip(scores)
        .map(|((r, _), s)| (*r, s.coverage, s.bm25))
        .collect()
}

fn assert_same_found(a: &[(i64, f64, f64)], b: &[(i64, f64, f64)], query: &str) {
    assert_eq!(
        a.iter().map(|m| m.0).collect::<Vec<_>>(),
        b.iter().map(|m| m.0).collect::<Vec<_>>(),
        "{query}"
    );
    for (x, y) in a.iter().zip(b) {
        assert!((x.1 - y.1).abs() < 1e-12, "{query}: row {} coverage", x.0);
        assert!((x.2 - y.2).abs() < 1e-9, "{query}: row {} bm25", x.0);
    }
}

const ARCHIVE_QUERIES: &[&str] = &[
    "sqlite timeout retry",
    "sqlite",
    "\"sqlite timeout\" retry",
    "\"retry\" alpha",
    "sqlite -timeout",
    "sqlite retry -\"timeout alpha\"",
    "\"timeout\" -beta -alpha",
    "nothing matches this",
];

/// The archive's own index finds, orders and scores rows exactly as `messages_fts` did for
/// the same rows (each term once per row), required phrases and exclusions included.
#[test]
fn the_archive_index_finds_and_scores_as_messages_fts_did() {
    let docs = distinct_corpus();
    let refs: Vec<(i64, &str)> = docs.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let fts = store_with(&refs);
    let index = store_with_index(&refs);
    for query in ARCHIVE_QUERIES {
        let old = messages_found(&fts, query);
        let new = messages_found(&index, query);
        assert_same_found(&old, &new, query);
    }
    // The comparison is not vacuous: queries match, and the rules remove rows.
    assert_eq!(messages_found(&index, "sqlite").len(), 30);
    assert_eq!(messages_found(&index, "sqlite -timeout").len(), 20);
    assert!(messages_found(&index, "\"timeout\" -beta -alpha").is_empty());
}

/// An archive begun before schema 9 keeps its `messages_fts` rows and gains rows in the new
/// index: recall finds both, with statistics over both, as if one index held them all.
#[test]
fn rows_of_both_indexes_are_found_together() {
    let docs = distinct_corpus();
    let refs: Vec<(i64, &str)> = docs.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let all_fts = store_with(&refs);
    let (old, new) = refs.split_at(refs.len() / 2);
    let mixed = store_with(old);
    add_to_index(&mixed, new);
    for query in ARCHIVE_QUERIES {
        assert_same_found(
            &messages_found(&all_fts, query),
            &messages_found(&mixed, query),
            query,
        );
    }
}

/// `messages_fts` folds final sigma (its tokenizer does), and the analyzer now folds it too: a
/// row indexed before (`οδος`, as the analyzer wrote it then) and one indexed now answer a query
/// however its sigma was written.
#[test]
fn final_sigma_matches_in_both_indexes() {
    let now = crate::recall::analyze::terms_for_index("οδος");
    assert_eq!(now, "οδοσ");
    let fts = store_with(&[(1, "οδος")]);
    let index = store_with_index(&[(1, now.as_str())]);
    for query in ["οδος", "ΟΔΟΣ", "οδοσ"] {
        let old = messages_found(&fts, query);
        assert_eq!(old.len(), 1, "{query}");
        assert_same_found(&old, &messages_found(&index, query), query);
    }
}
