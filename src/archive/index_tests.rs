use pretty_assertions::assert_eq;
use proptest::prelude::*;

use super::*;
use crate::store::db::Store;

fn segments(store: &Store) -> Vec<(i64, i64, i64)> {
    store
        .conn()
        .prepare("SELECT level, rows, tokens FROM message_segments ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Flushes one segment holding `docs` (rowid, terms).
fn flush(store: &Store, docs: &[(i64, &str)]) {
    let mut builder = IndexBuilder::default();
    for (rowid, terms) in docs {
        builder.add_str(*rowid, terms);
    }
    builder.flush(store.conn()).unwrap();
    assert!(builder.is_empty());
}

#[test]
fn a_flush_writes_one_segment_that_doclists_and_stats_read() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(stats(store.conn()).unwrap(), (0, 0));
    assert_eq!(doclist(store.conn(), "retri").unwrap(), Vec::<i64>::new());
    flush(
        &store,
        &[
            (3, "order timeout retri"),
            (9, "retri 订单"),
            (400, "timeout"),
        ],
    );
    assert_eq!(segments(&store), vec![(0, 3, 6)]);
    assert_eq!(stats(store.conn()).unwrap(), (3, 6));
    assert_eq!(doclist(store.conn(), "retri").unwrap(), vec![3, 9]);
    assert_eq!(doclist(store.conn(), "timeout").unwrap(), vec![3, 400]);
    assert_eq!(doclist(store.conn(), "订单").unwrap(), vec![9]);
    assert_eq!(doclist(store.conn(), "order").unwrap(), vec![3]);
    // Whole terms only: no prefix matching.
    assert_eq!(doclist(store.conn(), "ord").unwrap(), Vec::<i64>::new());
}

#[test]
fn terms_written_many_to_a_statement_each_keep_their_own_rows() {
    // More terms than fill several multi-row statements, and a remainder written one by one:
    // term k is in the rows that are multiples of k + 1.
    let terms = ROWS_PER_INSERT * 3 + 5;
    let docs: Vec<(i64, String)> = (1..=200i64)
        .map(|row| {
            let listed: Vec<String> = (0..terms)
                .filter(|k| row % (*k as i64 + 1) == 0)
                .map(|k| format!("term{k:03}"))
                .collect();
            (row, listed.join(" "))
        })
        .collect();
    let store = Store::open_in_memory().unwrap();
    let docs: Vec<(i64, &str)> = docs.iter().map(|(row, t)| (*row, t.as_str())).collect();
    flush(&store, &docs);
    let written: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM message_postings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(written, terms as i64);
    for k in 0..terms {
        let expected: Vec<i64> = (1..=200i64)
            .filter(|row| row % (k as i64 + 1) == 0)
            .collect();
        assert_eq!(
            doclist(store.conn(), &format!("term{k:03}")).unwrap(),
            expected,
            "term{k:03}"
        );
    }
}

#[test]
fn a_term_repeated_in_one_row_is_indexed_and_counted_once() {
    let store = Store::open_in_memory().unwrap();
    let mut builder = IndexBuilder::default();
    builder.add_str(5, "a b  a b c");
    builder.add_str(6, "");
    builder.flush(store.conn()).unwrap();
    assert_eq!(doclist(store.conn(), "a").unwrap(), vec![5]);
    assert_eq!(stats(store.conn()).unwrap(), (2, 3));
    assert_eq!(term_count("a b  c"), 3);
    assert_eq!(term_count(""), 0);
}

#[test]
fn an_empty_builder_writes_nothing() {
    let store = Store::open_in_memory().unwrap();
    IndexBuilder::default().flush(store.conn()).unwrap();
    assert_eq!(segments(&store), vec![]);
}

#[test]
fn full_levels_merge_into_one_segment_of_the_next_level_with_the_same_doclists() {
    let store = Store::open_in_memory().unwrap();
    let mut expected_even = Vec::new();
    // Enough flushes to fill level 0 eight times, and so level 1 once.
    let flushes = MERGE_FANIN * MERGE_FANIN + 3;
    for i in 0..flushes {
        let base = (i as i64) * 10;
        flush(&store, &[(base + 1, "all odd"), (base + 2, "all even")]);
        expected_even.push(base + 2);
    }
    let levels: Vec<i64> = segments(&store).iter().map(|s| s.0).collect();
    // One level-2 segment (64 flushes), then 3 at level 0.
    assert_eq!(levels, vec![2, 0, 0, 0]);
    assert_eq!(
        stats(store.conn()).unwrap(),
        (2 * flushes as u64, 4 * flushes as u64)
    );
    assert_eq!(doclist(store.conn(), "even").unwrap(), expected_even);
    assert_eq!(doclist(store.conn(), "all").unwrap().len(), 2 * flushes);
    // The merged segments' postings are gone with them.
    let orphans: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM message_postings \
             WHERE segment NOT IN (SELECT id FROM message_segments)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0);
}

/// A lookup seeks each segment's postings of the term; it never walks the other terms'.
#[test]
fn a_doclist_reads_its_term_only() {
    let store = Store::open_in_memory().unwrap();
    let terms: Vec<String> = (0..3_000).map(|i| format!("t{i}")).collect();
    for rowid in 1..=3 {
        flush(&store, &[(rowid, &terms.join(" "))]);
    }
    let mut stmt = store.conn().prepare(DOCLIST_SQL).unwrap();
    let found: Vec<Vec<u8>> = stmt
        .query_map(["t1500"], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(found.len(), 3);
    let steps = stmt.get_status(rusqlite::StatementStatus::VmStep);
    assert!(
        steps < 100,
        "{steps} steps for 3 rows: the postings were scanned"
    );
}

#[test]
fn doclists_come_back_sorted_whatever_order_segments_hold() {
    let store = Store::open_in_memory().unwrap();
    flush(&store, &[(50, "x"), (7, "x y")]);
    flush(&store, &[(3, "x")]);
    assert_eq!(doclist(store.conn(), "x").unwrap(), vec![3, 7, 50]);
}

#[test]
fn a_merge_joins_each_term_across_segments_in_order_whatever_order_they_hold() {
    let store = Store::open_in_memory().unwrap();
    // Newer segments hold lower ids here; terms appear in some segments only.
    for i in 0..MERGE_FANIN as i64 {
        let id = 100 - i;
        let terms = if i % 2 == 0 { "even all" } else { "odd all" };
        flush(&store, &[(id, terms), (1000 + i, "late")]);
    }
    assert_eq!(segments(&store), vec![(1, 16, 24)]);
    assert_eq!(
        doclist(store.conn(), "all").unwrap(),
        vec![93, 94, 95, 96, 97, 98, 99, 100]
    );
    assert_eq!(
        doclist(store.conn(), "even").unwrap(),
        vec![94, 96, 98, 100]
    );
    assert_eq!(doclist(store.conn(), "odd").unwrap(), vec![93, 95, 97, 99]);
    assert_eq!(
        doclist(store.conn(), "late").unwrap(),
        (1000..1000 + MERGE_FANIN as i64).collect::<Vec<_>>()
    );
    let rows: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM message_postings", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 4, "one row per term in the merged segment");
}

#[test]
fn a_large_segment_starts_at_its_level_and_small_merges_leave_it_alone() {
    let store = Store::open_in_memory().unwrap();
    assert_eq!(level_for(0), 0);
    assert_eq!(level_for(LEVEL0_ROWS * MERGE_FANIN as u64 - 1), 0);
    assert_eq!(level_for(LEVEL0_ROWS * MERGE_FANIN as u64), 1);
    // An import of 3,000 messages: level 1.
    let big: Vec<(i64, &str)> = (1..=3_000).map(|id| (id, "imported")).collect();
    flush(&store, &big);
    assert_eq!(segments(&store), vec![(1, 3_000, 3_000)]);
    // Eight small ingests after it merge among themselves.
    for i in 0..MERGE_FANIN as i64 {
        flush(&store, &[(5_000 + i, "small")]);
    }
    assert_eq!(
        segments(&store),
        vec![
            (1, 3_000, 3_000),
            (1, MERGE_FANIN as i64, MERGE_FANIN as i64)
        ]
    );
    assert_eq!(doclist(store.conn(), "imported").unwrap().len(), 3_000);
    assert_eq!(
        doclist(store.conn(), "small").unwrap(),
        (5_000..5_000 + MERGE_FANIN as i64).collect::<Vec<_>>()
    );
}

#[test]
fn an_inline_term_keeps_its_id_once_ids_no_longer_fit_a_slot() {
    let mut ids = TermIds::default();
    let first = ids.id("abc");
    ids.terms.resize(MAX_INLINE_ID as usize, Box::from(""));
    assert_eq!(ids.id("abc"), first);
    // New short terms past the limit get ids of their own, kept by the map.
    let late = ids.id("xyz");
    assert_eq!(late, MAX_INLINE_ID);
    assert_eq!(ids.id("xyz"), late);
}

#[test]
fn the_builder_says_when_it_holds_enough_to_flush() {
    let mut builder = IndexBuilder::default();
    assert!(!builder.is_full());
    let terms: Vec<String> = (0..1000).map(|i| format!("t{i}")).collect();
    let row = terms.join(" ");
    let mut rowid = 0;
    while !builder.is_full() {
        rowid += 1;
        builder.add_str(rowid, &row);
    }
    // Full from the row that reached the limit on, counting the postings sorted into runs.
    assert!(builder.postings() >= FLUSH_POSTINGS);
    assert!(builder.postings() < FLUSH_POSTINGS + 1000);
    assert!(builder.runs.len() >= FLUSH_POSTINGS / RUN_PAIRS - 1);
    assert!(builder.pairs.len() < RUN_PAIRS);
}

#[test]
fn ids_follow_the_order_terms_are_added_in_rows_longer_and_shorter_than_the_lookahead() {
    let mut builder = IndexBuilder::default();
    let long: Vec<String> = (0..LOOKAHEAD * 3 + 1).map(|i| format!("t{i}")).collect();
    builder.add_str(1, &long.join(" "));
    builder.add_str(2, "t0 short t3 a_term_too_long_to_inline");
    builder.add_str(3, "");
    let mut expected = long.clone();
    expected.extend(["short".to_owned(), "a_term_too_long_to_inline".to_owned()]);
    let got: Vec<&str> = builder.ids.terms.iter().map(|t| &**t).collect();
    assert_eq!(got, expected);
    // One pair per term of each row, in the order of the row.
    let pairs: Vec<(u32, u32)> = builder.pairs.clone();
    let mut want: Vec<(u32, u32)> = (0..long.len() as u32).map(|id| (id, 0)).collect();
    let short = long.len() as u32;
    want.extend([(0, 1), (short, 1), (3, 1), (short + 1, 1)]);
    assert_eq!(pairs, want);
}

#[test]
fn a_key_read_in_place_equals_the_key_of_the_term_alone() {
    let list = "a bc defghijk lmnopqrstuvw xyzxyzxyzxyzx 订单 0123456789 q";
    let buf = list.as_bytes();
    let mut start = 0;
    for term in list.split(' ') {
        let end = start + term.len();
        assert!(Slot::key_in(buf, start, end) == Slot::key(term), "{term}");
        start = end + 1;
    }
    assert!(Slot::key_in(buf, 3, 3).is_none());
    assert!(Slot::key_in(buf, 3, 2).is_none());
}

#[test]
fn a_list_with_its_ends_indexes_like_the_same_list_split_at_its_spaces() {
    let rows = [
        "order timeout retri a_term_too_long_to_inline 订单",
        "x",
        "",
        "retri 订单 0123456789ab 0123456789abc",
    ];
    let by_split = Store::open_in_memory().unwrap();
    let by_ends = Store::open_in_memory().unwrap();
    let (mut a, mut b) = (IndexBuilder::default(), IndexBuilder::default());
    for (rowid, terms) in rows.iter().enumerate() {
        a.add_str(rowid as i64, terms);
        let mut ends = Vec::new();
        let mut at = 0;
        for term in terms.split(' ').filter(|t| !t.is_empty()) {
            at += term.len();
            ends.push(at as u32);
            at += 1;
        }
        b.add(
            rowid as i64,
            &TermList {
                text: (*terms).to_owned(),
                ends,
            },
        );
    }
    a.flush(by_split.conn()).unwrap();
    b.flush(by_ends.conn()).unwrap();
    for term in rows
        .iter()
        .flat_map(|r| r.split(' '))
        .filter(|t| !t.is_empty())
    {
        assert_eq!(
            doclist(by_ends.conn(), term).unwrap(),
            doclist(by_split.conn(), term).unwrap(),
            "{term}"
        );
    }
    assert_eq!(
        stats(by_ends.conn()).unwrap(),
        stats(by_split.conn()).unwrap()
    );
    assert_eq!(doclist(by_ends.conn(), "retri").unwrap(), vec![0, 3]);
}

#[test]
fn a_run_keeps_each_terms_rows_in_the_order_they_were_added() {
    for len in [0usize, 1, 2, 7, 1_001] {
        // Term ids cycle, rows ascend: each term's rows must come back ascending.
        let pairs: Vec<(u32, u32)> = (0..len).map(|i| ((i * 7 % 5) as u32, i as u32)).collect();
        // Ids 5 and 6 were given out but have no pair; 9 was not given out when it was sorted.
        let run = Run::sort(7, &pairs);
        assert_eq!(run.starts.len(), 8);
        assert_eq!(run.rows.len(), len);
        for id in 0..7u32 {
            let want: Vec<u32> = pairs.iter().filter(|p| p.0 == id).map(|p| p.1).collect();
            assert_eq!(run.rows_of(id), &want[..], "{len} {id}");
        }
        assert_eq!(run.rows_of(9), &[] as &[u32]);
    }
}

/// A builder holding `pairs` (term id, row) of rows `rowids`, in one tail (no run).
fn builder_of(terms: &[&str], pairs: &[(u32, u32)], rowids: &[i64]) -> IndexBuilder {
    let mut builder = IndexBuilder::default();
    for term in terms {
        builder.ids.id(term);
    }
    builder.pairs = pairs.to_vec();
    builder.rowids = rowids.to_vec();
    builder
}

#[test]
fn the_encoder_leaves_out_forgotten_rows_and_empty_terms_and_stops_when_the_writer_does() {
    let pairs = [(0, 0), (1, 0), (2, 1), (0, 2), (0, 2)];
    let built = builder_of(&["b", "a", "gone"], &pairs, &[10, FORGOTTEN, 30]);
    let mut batches = Vec::new();
    let postings = encode_segment(&built, |batch| {
        batches.push(batch);
        true
    });
    assert_eq!(postings, 3);
    assert_eq!(batches.len(), 1);
    // In the order of the terms' text; `gone` had only a forgotten row.
    assert_eq!(batches[0].ids, vec![1, 0]);
    let blobs: Vec<Vec<i64>> = batches[0]
        .blobs()
        .map(|b| {
            let mut ids = Vec::new();
            decode_into(b, &mut ids);
            ids
        })
        .collect();
    assert_eq!(blobs, vec![vec![10], vec![10, 30]]);
    // More terms than a batch, and a writer that takes no more: the encoder returns early.
    let many: Vec<String> = (0..Batch::TERMS * 3).map(|i| format!("t{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let pairs: Vec<(u32, u32)> = (0..many.len() as u32).map(|id| (id, 0)).collect();
    let built = builder_of(&many, &pairs, &[1]);
    let mut taken = 0;
    let postings = encode_segment(&built, |_| {
        taken += 1;
        false
    });
    assert_eq!((postings, taken), (Batch::TERMS as u64, 1));
}

#[test]
fn a_segment_large_enough_for_threads_and_runs_reads_back_like_small_ones() {
    // Over RUN_PAIRS postings (so over THREADED_FLUSH_PAIRS): sorted in two runs, encoded on
    // another thread.
    let rows = RUN_PAIRS / 60 + 500;
    let terms = |row: usize| -> String {
        (0..60)
            .map(|t| format!("t{}", (row * 7 + t * 13) % 997))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let big = Store::open_in_memory().unwrap();
    let mut builder = IndexBuilder::default();
    for row in 0..rows {
        builder.add_str(row as i64 + 1, &terms(row));
    }
    assert_eq!(builder.runs.len(), 1);
    assert!(!builder.pairs.is_empty());
    assert!(builder.postings() >= THREADED_FLUSH_PAIRS);
    // A row taken back after its postings were sorted into a run is left out all the same.
    let forgotten: rustc_hash::FxHashSet<i64> = [2, rows as i64 - 1].into_iter().collect();
    builder.forget(&forgotten);
    builder.flush(big.conn()).unwrap();
    // The same rows in small segments, each written by this thread alone.
    let small = Store::open_in_memory().unwrap();
    for chunk in (0..rows).collect::<Vec<_>>().chunks(200) {
        let mut builder = IndexBuilder::default();
        for &row in chunk {
            if !forgotten.contains(&(row as i64 + 1)) {
                builder.add_str(row as i64 + 1, &terms(row));
            }
        }
        assert!(builder.postings() < THREADED_FLUSH_PAIRS);
        builder.flush(small.conn()).unwrap();
    }
    for t in 0..997 {
        let term = format!("t{t}");
        assert_eq!(
            doclist(big.conn(), &term).unwrap(),
            doclist(small.conn(), &term).unwrap(),
            "{term}"
        );
    }
    assert_eq!(stats(big.conn()).unwrap(), stats(small.conn()).unwrap());
}

#[test]
fn terms_keep_their_ids_as_the_table_grows_long_terms_included() {
    let store = Store::open_in_memory().unwrap();
    let mut builder = IndexBuilder::default();
    // Far more terms than the first table holds, some longer than a slot inlines.
    let term = |i: usize| {
        if i.is_multiple_of(10) {
            format!("a_rather_long_term_number_{i}")
        } else {
            format!("w{i}")
        }
    };
    let all: Vec<String> = (0..5_000).map(term).collect();
    builder.add_str(1, &all.join(" "));
    builder.add_str(2, &all[..2_500].join(" "));
    builder.flush(store.conn()).unwrap();
    for (i, t) in all.iter().enumerate() {
        let expected = if i < 2_500 { vec![1, 2] } else { vec![1] };
        assert_eq!(doclist(store.conn(), t).unwrap(), expected, "{t}");
    }
    assert_eq!(stats(store.conn()).unwrap(), (2, 7_500));
}

#[test]
fn a_damaged_blob_decodes_what_it_can_without_panicking() {
    let mut out = Vec::new();
    // 3, then a varint cut short.
    decode_into(&[0x06, 0x80], &mut out);
    assert_eq!(out, vec![3]);
    out.clear();
    decode_into(&[0xff; 20], &mut out);
    assert_eq!(out, Vec::<i64>::new());
}

proptest! {
    #[test]
    fn ids_round_trip_through_the_encoding(ids in proptest::collection::vec(any::<i64>(), 0..64)) {
        let mut bytes = Vec::new();
        encode(&ids, &mut bytes);
        let mut out = Vec::new();
        decode_into(&bytes, &mut out);
        prop_assert_eq!(out, ids);
    }
}
