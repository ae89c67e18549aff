use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;
use crate::archive::ingest::widen_message_range;
use crate::host::Host;
use crate::recall::analyze::{
    distinct_message_terms, distinct_terms_for_index_of, has_required_or_excluded, query_terms,
    terms_for_index,
};
use crate::recall::auto::{
    AutoRecall, NoRecall, auto_recall, is_opaque_token, prompt_query, topic_query,
};

const NOW: &str = "2026-03-01T12:00:00Z";

fn now() -> jiff::Timestamp {
    NOW.parse().unwrap()
}

fn store() -> Store {
    let store = Store::open_in_memory().unwrap();
    for (id, path) in [("p_app", "/work/app"), ("p_other", "/work/other")] {
        store
            .conn()
            .execute(
                "INSERT INTO projects (id, canonical_path, display_path, display_name, kind, \
                 created_at, last_seen_at) VALUES (?1, ?2, ?2, ?1, 'worktree', ?3, ?3)",
                params![id, path, NOW],
            )
            .unwrap();
    }
    store
}

/// Writes `terms` as the full-text row `rowid` of `table`.
fn index_row(store: &Store, table: &str, rowid: i64, terms: &str) {
    store
        .conn()
        .execute(
            &format!("INSERT INTO {table} (rowid, terms) VALUES (?1, ?2)"),
            params![rowid, terms],
        )
        .unwrap();
}

fn add_memory(
    store: &Store,
    id: &str,
    project: Option<&str>,
    text: &str,
    updated: &str,
    uses: i64,
) {
    let scope = if project.is_some() { "project" } else { "user" };
    store
        .conn()
        .execute(
            "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, \
             normalized, created_at, updated_at, use_count) \
             VALUES (?1, ?2, ?3, 'fact', ?4, ?4, ?4, ?5, ?5, ?6)",
            params![id, scope, project, text, updated, uses],
        )
        .unwrap();
    let rowid = store.conn().last_insert_rowid();
    index_row(store, "memory_fts", rowid, &terms_for_index(text));
}

/// Adds a session with `texts` as alternating user/agent messages; returns message ids.
fn add_session(
    store: &Store,
    id: &str,
    project: Option<&str>,
    cwd: &str,
    last: &str,
    texts: &[(&str, &str)],
) -> Vec<i64> {
    store
        .conn()
        .execute(
            "INSERT INTO sessions (host, session_id, project_id, cwd, started_at, \
             last_message_at, created_at, updated_at) VALUES ('codex', ?1, ?2, ?3, ?4, ?4, ?4, ?4)",
            params![id, project, cwd, last],
        )
        .unwrap();
    let session_ref = store.conn().last_insert_rowid();
    let mut ids = Vec::new();
    for (i, (origin, text)) in texts.iter().enumerate() {
        let role = match *origin {
            "user" => "user",
            "tool_output" => "tool",
            o if o.starts_with("injected") => "system",
            _ => "assistant",
        };
        store
            .conn()
            .execute(
                "INSERT INTO messages (session_ref, byte_offset, seq, ts, role, origin, text) \
                 VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6)",
                params![session_ref, i as i64 * 100, last, role, origin, text],
            )
            .unwrap();
        let mid = store.conn().last_insert_rowid();
        widen_message_range(store.conn(), session_ref, mid, mid).unwrap();
        if !origin.starts_with("injected") {
            // What ingest writes: each term once.
            index_row(
                store,
                "messages_fts",
                mid,
                &distinct_terms_for_index_of(&[text]),
            );
        }
        ids.push(mid);
    }
    ids
}

#[allow(clippy::needless_pass_by_value, reason = "tests build options inline")]
fn run(
    store: &Store,
    query: &str,
    project: Option<&str>,
    cwd: Option<&str>,
    opts: SearchOptions,
) -> Vec<Hit> {
    let cwd = cwd.map(Path::new);
    let ctx = SearchContext {
        project_id: project,
        cwd,
        now: now(),
    };
    search(store, query, &ctx, &opts).unwrap().hits
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

fn global(top_k: usize) -> SearchOptions {
    SearchOptions {
        scope: SearchScope::Global,
        top_k,
        ..SearchOptions::default()
    }
}

#[test]
fn the_same_project_ranks_above_other_projects_at_equal_relevance() {
    let s = store();
    add_session(
        &s,
        "other",
        Some("p_other"),
        "/work/other",
        NOW,
        &[("user", "order timeout retry")],
    );
    add_session(
        &s,
        "mine",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "order timeout retry")],
    );
    let hits = run(
        &s,
        "order timeout retry",
        Some("p_app"),
        Some("/work/app"),
        global(5),
    );
    assert_eq!(ids(&hits), ["mine", "other"]);
}

#[test]
fn a_related_cwd_ranks_between_the_same_project_and_other_projects() {
    let s = store();
    add_session(
        &s,
        "far",
        Some("p_other"),
        "/work/other",
        NOW,
        &[("user", "flaky login test")],
    );
    add_session(
        &s,
        "below",
        None,
        "/work/app/sub",
        NOW,
        &[("user", "flaky login test")],
    );
    add_session(
        &s,
        "mine",
        Some("p_app"),
        "/elsewhere",
        NOW,
        &[("user", "flaky login test")],
    );
    // Started above every project under /work: no closer to this one than any other.
    add_session(
        &s,
        "above",
        None,
        "/work",
        "2026-02-28T12:00:00Z",
        &[("user", "flaky login test")],
    );
    let hits = run(
        &s,
        "flaky login test",
        Some("p_app"),
        Some("/work/app"),
        global(5),
    );
    assert_eq!(ids(&hits), ["mine", "below", "far", "above"]);
}

#[test]
fn recent_sessions_rank_above_old_ones_at_equal_relevance() {
    let s = store();
    add_session(
        &s,
        "old",
        Some("p_app"),
        "/work/app",
        "2025-01-01T00:00:00Z",
        &[("user", "cache invalidation bug")],
    );
    add_session(
        &s,
        "new",
        Some("p_app"),
        "/work/app",
        "2026-02-28T00:00:00Z",
        &[("user", "cache invalidation bug")],
    );
    let hits = run(&s, "cache invalidation", Some("p_app"), None, global(5));
    assert_eq!(ids(&hits), ["new", "old"]);
}

#[test]
fn used_entries_rank_above_unused_ones_at_equal_relevance() {
    let s = store();
    add_memory(
        &s,
        "m_unused",
        Some("p_app"),
        "Run migrations with make migrate",
        NOW,
        0,
    );
    add_memory(
        &s,
        "m_used",
        Some("p_app"),
        "Run migrations with make migrate",
        NOW,
        9,
    );
    let hits = run(&s, "run migrations", Some("p_app"), None, global(5));
    assert_eq!(ids(&hits), ["m_used", "m_unused"]);
}

#[test]
fn memory_ranks_above_raw_messages_at_equal_relevance() {
    let s = store();
    add_session(
        &s,
        "sess",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "deploy with the blue green script")],
    );
    add_memory(
        &s,
        "m_deploy",
        Some("p_app"),
        "deploy with the blue green script",
        NOW,
        0,
    );
    let hits = run(&s, "blue green deploy", Some("p_app"), None, global(5));
    assert_eq!(ids(&hits), ["m_deploy", "sess"]);
    assert_eq!(hits[0].kind, HitKind::Memory);
}

/// Error text mostly lives in tool output: a tool output holding every query word ranks above
/// an equally recent memory entry holding half of them (with tool output weighted 0.7, the
/// memory entry won).
#[test]
fn a_tool_output_with_every_word_beats_a_memory_entry_with_half() {
    let s = store();
    add_memory(
        &s,
        "m_1",
        None,
        "Always read the CHANGELOG before upgrading a dependency",
        NOW,
        0,
    );
    add_session(
        &s,
        "s_1",
        Some("p_app"),
        "/work/app",
        NOW,
        &[
            ("user", "the payment call hangs"),
            (
                "tool_output",
                "requests.exceptions.ReadTimeout: Read timed out. (read timeout=5)",
            ),
        ],
    );
    let hits = run(&s, "Read timed out", Some("p_app"), None, global(5));
    assert_eq!(ids(&hits), ["s_1", "m_1"]);
}

#[test]
fn better_coverage_beats_boosts_of_a_weaker_match() {
    let s = store();
    add_session(
        &s,
        "weak-mine",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "the timeout was fine")],
    );
    add_session(
        &s,
        "strong-other",
        Some("p_other"),
        "/work/other",
        NOW,
        &[("user", "order timeout retry with exponential backoff")],
    );
    let hits = run(
        &s,
        "order timeout retry backoff",
        Some("p_app"),
        None,
        global(5),
    );
    assert_eq!(ids(&hits)[0], "strong-other");
}

/// A session without a project (its directory is gone) is found by the fallback from a place
/// that has no project either, and from a project; from inside its cwd it is the current one.
#[rstest::rstest]
#[case::no_project_here(None, Some("/elsewhere"))]
#[case::no_cwd_either(None, None)]
#[case::a_project_here(Some("p_app"), Some("/work/app"))]
#[case::inside_its_cwd(None, Some("/gone/app"))]
fn a_session_without_a_project_is_found_from_anywhere(
    #[case] project: Option<&str>,
    #[case] cwd: Option<&str>,
) {
    let s = store();
    add_session(
        &s,
        "orphan",
        None,
        "/gone/app",
        NOW,
        &[("user", "kafka consumer lag")],
    );
    let hits = run(&s, "kafka lag", project, cwd, SearchOptions::default());
    assert_eq!(ids(&hits), ["orphan"]);
}

#[test]
fn the_default_scope_falls_back_to_other_projects_only_when_needed() {
    let s = store();
    add_session(
        &s,
        "other",
        Some("p_other"),
        "/work/other",
        NOW,
        &[("user", "kafka consumer lag")],
    );
    let auto = run(
        &s,
        "kafka lag",
        Some("p_app"),
        None,
        SearchOptions::default(),
    );
    assert_eq!(ids(&auto), ["other"]);
    let project_only = SearchOptions {
        scope: SearchScope::Project,
        ..SearchOptions::default()
    };
    assert!(run(&s, "kafka lag", Some("p_app"), None, project_only).is_empty());
    add_session(
        &s,
        "mine",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "kafka consumer lag")],
    );
    let one = SearchOptions {
        top_k: 1,
        ..SearchOptions::default()
    };
    assert_eq!(
        ids(&run(&s, "kafka lag", Some("p_app"), None, one)),
        ["mine"]
    );
}

#[test]
fn injected_messages_are_never_returned() {
    let s = store();
    add_session(
        &s,
        "s",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("injected:csep", "zebra stripes context")],
    );
    assert!(run(&s, "zebra stripes", Some("p_app"), None, global(5)).is_empty());
}

#[test]
fn a_session_hit_shows_a_window_around_its_best_message() {
    let s = store();
    let ids_ = add_session(
        &s,
        "s",
        Some("p_app"),
        "/work/app",
        NOW,
        &[
            ("user", "set up the project"),
            ("agent", "done"),
            ("injected:environment_context", "cwd stuff"),
            ("user", "why does the payment webhook fail"),
            ("agent", "the signing secret rotated"),
            ("agent", "updated config"),
            ("agent", "tests pass"),
            ("user", "thanks"),
        ],
    );
    let opts = SearchOptions {
        window_before: 2,
        window_after: 2,
        ..global(1)
    };
    let hits = run(&s, "payment webhook", Some("p_app"), None, opts);
    let detail = hits[0].session.as_ref().unwrap();
    let window: Vec<i64> = detail.messages.iter().map(|m| m.id).collect();
    assert_eq!(window, [ids_[0], ids_[1], ids_[3], ids_[4], ids_[5]]);
    assert!(detail.messages[2].is_hit);
    assert_eq!(detail.messages[2].text, "why does the payment webhook fail");
}

#[test]
fn phrases_are_required_and_exclusions_drop_rows() {
    let s = store();
    add_memory(
        &s,
        "m_a",
        Some("p_app"),
        "order timeout on checkout",
        NOW,
        0,
    );
    add_memory(
        &s,
        "m_b",
        Some("p_app"),
        "timeout of the order service",
        NOW,
        0,
    );
    add_memory(&s, "m_c", Some("p_app"), "order timeout in staging", NOW, 0);
    let phrase = run(&s, "\"order timeout\"", Some("p_app"), None, global(5));
    let mut got = ids(&phrase);
    got.sort_unstable();
    assert_eq!(got, ["m_a", "m_c"]);
    let excluded = run(
        &s,
        "\"order timeout\" -staging",
        Some("p_app"),
        None,
        global(5),
    );
    assert_eq!(ids(&excluded), ["m_a"]);
}

/// Rows of `messages_fts` keep each term once, so adjacency is checked on the stored text: a
/// phrase found only at a word's second occurrence is found, words that are adjacent only once
/// repeats are dropped are not, and an excluded phrase drops only rows that hold it.
/// Phrases and excluded phrases on message rows that hold each term once (what ingest writes),
/// and on rows archived before that, which hold every term in place.
#[rstest::rstest]
#[case::each_term_once(false)]
#[case::every_term_archived_before(true)]
fn session_phrases_and_excluded_phrases_are_exact_whatever_the_row_format(#[case] full: bool) {
    let s = store();
    let session = |id: &str, text: &str| {
        let ids = add_session(&s, id, Some("p_app"), "/w", NOW, &[("agent", text)]);
        if full {
            s.conn()
                .execute("DELETE FROM messages_fts WHERE rowid = ?1", params![ids[0]])
                .unwrap();
            index_row(&s, "messages_fts", ids[0], &terms_for_index(text));
        }
    };
    // "order" first occurs away from "timeout"; the phrase is at its second occurrence.
    session("s_second", "order placed; the order timeout fired");
    // Without repeats this reads "retry order timeout": adjacent only in the distinct row.
    session("s_false", "retry order retry timeout");
    session("s_apart", "timeout before any order");
    session("s_plain", "the order timeout again");
    let sorted = |query: &str| {
        let got = run(&s, query, Some("p_app"), None, global(10));
        let mut got: Vec<String> = ids(&got).into_iter().map(str::to_owned).collect();
        got.sort_unstable();
        got
    };
    assert_eq!(sorted("\"order timeout\""), ["s_plain", "s_second"]);
    assert_eq!(sorted("order -\"order timeout\""), ["s_apart", "s_false"]);
    assert_eq!(sorted("retry -\"order timeout\""), ["s_false"]);
}

/// A tool call as ingest stores it: name and arguments apart from the text, all three indexed
/// in one row (each term once).
fn add_tool_call(store: &Store, session: &str, name: &str, args: &str, text: &str) {
    store
        .conn()
        .execute(
            "INSERT INTO sessions (host, session_id, project_id, cwd, started_at, \
             last_message_at, created_at, updated_at) \
             VALUES ('codex', ?1, 'p_app', '/w', ?2, ?2, ?2, ?2)",
            params![session, NOW],
        )
        .unwrap();
    let session_ref = store.conn().last_insert_rowid();
    store
        .conn()
        .execute(
            "INSERT INTO messages (session_ref, byte_offset, seq, ts, role, origin, tool_name, \
             tool_args, text) VALUES (?1, 0, 0, ?2, 'assistant', 'tool_call', ?3, ?4, ?5)",
            params![session_ref, NOW, name, args, text],
        )
        .unwrap();
    let id = store.conn().last_insert_rowid();
    widen_message_range(store.conn(), session_ref, id, id).unwrap();
    index_row(
        store,
        "messages_fts",
        id,
        &distinct_message_terms(Some(name), Some(args), text).text,
    );
}

#[test]
fn a_phrase_across_tool_name_arguments_and_text_is_found_and_excluded_as_one_sequence() {
    let s = store();
    // Indexed as "shell cargo test failed build": the phrase crosses from the arguments into
    // the text.
    add_tool_call(&s, "across", "shell", "cargo test", "failed build");
    // The same words, not adjacent in that sequence.
    add_tool_call(&s, "apart", "shell", "test cargo", "build failed");
    let found = run(&s, "\"test failed\"", Some("p_app"), None, global(5));
    assert_eq!(ids(&found), ["across"]);
    let found = run(&s, "\"shell cargo\"", Some("p_app"), None, global(5));
    assert_eq!(ids(&found), ["across"]);
    let found = run(&s, "cargo -\"test failed\"", Some("p_app"), None, global(5));
    assert_eq!(ids(&found), ["apart"]);
}

#[test]
fn excluded_ids_and_the_asking_session_are_skipped() {
    let s = store();
    add_memory(&s, "m_1", Some("p_app"), "rotate the signing key", NOW, 0);
    // The asking session; its subagent's transcript, part of the same conversation (named as
    // ingest names it, which the SQL filter spells out); another session whose id merely
    // starts the same way, which is not.
    let subagent = crate::archive::ingest::subagent_session_id("current", "a1");
    for id in ["current", subagent.as_str(), "current-2"] {
        add_session(
            &s,
            id,
            Some("p_app"),
            "/work/app",
            NOW,
            &[("user", "rotate the signing key")],
        );
    }
    let opts = SearchOptions {
        exclude_ids: vec!["m_1".into()],
        exclude_session: Some("current".into()),
        ..global(5)
    };
    assert_eq!(
        ids(&run(&s, "signing key", Some("p_app"), None, opts)),
        ["current-2"]
    );
}

#[test]
fn chinese_queries_find_chinese_sessions() {
    let s = store();
    add_session(
        &s,
        "zh",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "订单 超时 之后 要 重试 三次")],
    );
    add_session(
        &s,
        "en",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "unrelated text")],
    );
    assert_eq!(
        ids(&run(&s, "订单超时重试", Some("p_app"), None, global(5))),
        ["zh"]
    );
}

#[test]
fn a_query_of_stop_words_searches_nothing() {
    let s = store();
    add_memory(&s, "m_1", Some("p_app"), "the and of", NOW, 0);
    let ctx = SearchContext {
        project_id: Some("p_app"),
        cwd: None,
        now: now(),
    };
    let outcome = search(&s, "the of and", &ctx, &global(5)).unwrap();
    assert!(outcome.hits.is_empty());
    assert_eq!(outcome.match_expr, None);
    assert!(matches!(
        search(&s, "", &ctx, &global(5)),
        Err(SearchError::Query(QueryError::Empty))
    ));
}

#[test]
fn record_use_counts_each_injection() {
    let s = store();
    add_memory(&s, "m_1", Some("p_app"), "x", NOW, 0);
    assert_eq!(record_use(&s, &["m_1", "missing"], NOW).unwrap(), 1);
    record_use(&s, &["m_1"], NOW).unwrap();
    let (count, last): (i64, String) = s
        .conn()
        .query_row(
            "SELECT use_count, last_used_at FROM memory_entries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, last.as_str()), (2, NOW));
}

/// Auto-recall for `prompt` in project `p_app`, session `asking`, with a budget of `tokens`.
fn auto(s: &Store, prompt: &str, exclude: &[&str], tokens: usize) -> Option<AutoRecall> {
    auto_why(s, prompt, exclude, tokens).ok()
}

/// [`auto`], with the reason when it injects nothing.
fn auto_why(
    s: &Store,
    prompt: &str,
    exclude: &[&str],
    tokens: usize,
) -> Result<AutoRecall, NoRecall> {
    let exclude: Vec<String> = exclude.iter().map(|e| (*e).to_owned()).collect();
    auto_recall(s, Some("p_app"), Some("asking"), prompt, &exclude, tokens)
}

#[test]
fn auto_recall_skips_trivial_prompts_and_injects_marked_relevant_hits() {
    let s = store();
    add_memory(
        &s,
        "m_1",
        Some("p_app"),
        "Payment webhook secret rotates monthly",
        NOW,
        0,
    );
    assert_eq!(auto_why(&s, "ok", &[], 200), Err(NoRecall::Trivial));
    assert_eq!(auto_why(&s, "继续", &[], 200), Err(NoRecall::Trivial));
    assert_eq!(
        auto_why(&s, "/review the payment webhook", &[], 200),
        Err(NoRecall::Trivial)
    );
    assert_eq!(
        auto_why(&s, "unrelated question about fonts", &[], 200),
        Err(NoRecall::NoMatch)
    );
    let got = auto(&s, "why does the payment webhook fail", &[], 200).unwrap();
    assert!(
        crate::host::transcript::is_csep_text(&got.text),
        "{}",
        got.text
    );
    assert!(got.text.contains("m_1"));
    assert!(crate::llm::estimate_tokens(&got.text) <= 200);
    assert_eq!(got.injected, ["m_1"]);
    // Recording is the caller's: nothing was counted.
    let uses: i64 = s
        .conn()
        .query_row("SELECT use_count FROM memory_entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(uses, 0);
    assert_eq!(
        auto(&s, "why does the payment webhook fail", &["m_1"], 200),
        None
    );
}

#[test]
fn auto_recall_never_returns_the_asking_session_or_an_already_shown_one() {
    let s = store();
    add_session(
        &s,
        "asking",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "the payment webhook retries forever")],
    );
    add_session(
        &s,
        "older",
        Some("p_app"),
        "/work/app",
        "2026-01-01T00:00:00Z",
        &[("user", "the payment webhook retries forever")],
    );
    let got = auto(&s, "payment webhook retries", &[], 500).unwrap();
    assert_eq!(got.injected, ["older"], "{}", got.text);
    assert!(!got.text.contains("asking"), "{}", got.text);
    assert_eq!(auto(&s, "payment webhook retries", &["older"], 500), None);
}

#[test]
fn a_prompt_is_searched_as_plain_words_whatever_dashes_and_quotes_it_holds() {
    let s = store();
    add_memory(
        &s,
        "m_1",
        Some("p_app"),
        "cargo test --test integration needs the database container",
        NOW,
        0,
    );
    // As query syntax, `--test` would exclude the entry and the stray quote would require the
    // rest as a phrase.
    for prompt in [
        "why does cargo test --test integration hang",
        "why does \"cargo test integration hang",
        "-cargo -integration test",
    ] {
        let got = auto(&s, prompt, &[], 200);
        assert_eq!(
            got.map(|g| g.injected),
            Some(vec!["m_1".to_owned()]),
            "{prompt}"
        );
    }
    assert_eq!(
        prompt_query("run \"cargo test --test it\" -x"),
        "run cargo test test it x"
    );
    // A quoted dash is no exclusion either.
    assert_eq!(
        prompt_query("why does the \"-timeout\" flag break"),
        "why does the timeout flag break"
    );
    assert!(!has_required_or_excluded(&prompt_query("a\"-b\" c")));
}

#[test]
fn auto_recall_drops_hits_until_its_text_fits_the_budget_and_injects_nothing_when_none_fits() {
    let s = store();
    for (id, text) in [
        ("m_1", "deploy the api with blue green switching"),
        ("m_2", "deploy the api after the database migration"),
        ("m_3", "deploy the api only from the main branch"),
    ] {
        add_memory(&s, id, Some("p_app"), text, NOW, 0);
    }
    let all = auto(&s, "how do we deploy the api", &[], 1000).unwrap();
    assert_eq!(all.injected.len(), 3, "{}", all.text);
    let tokens = |text: &str| usize::try_from(crate::llm::estimate_tokens(text)).unwrap();
    let cap = |budget: usize| {
        auto_recall(
            &s,
            Some("p_app"),
            None,
            "how do we deploy the api",
            &[],
            budget,
        )
    };
    // Room for about one hit.
    let half = tokens(&all.text) / 2;
    let one = cap(half).unwrap();
    assert!(one.injected.len() < 3, "{}", one.text);
    assert!(tokens(&one.text) <= half);
    assert_eq!(one.injected[0], all.injected[0]);
    assert_eq!(cap(10), Err(NoRecall::OverBudget));
    assert_eq!(cap(0), Err(NoRecall::OverBudget));
}

/// 300 sessions of another project that match every query word, then `mine` sessions of the
/// current project that match one word each (older, so they come last in the pool order).
fn crowded_store(mine: usize) -> Store {
    let s = store();
    for i in 0..mine {
        add_session(
            &s,
            &format!("mine{i}"),
            Some("p_app"),
            "/work/app",
            "2026-01-01T00:00:00Z",
            &[("user", "kafka broker restarted")],
        );
    }
    for i in 0..300 {
        add_session(
            &s,
            &format!("other{i}"),
            Some("p_other"),
            "/work/other",
            NOW,
            &[("user", "kafka consumer lag rebalance")],
        );
    }
    s
}

#[test]
fn project_scope_excludes_other_projects_even_when_they_fill_the_candidate_pool() {
    let s = crowded_store(2);
    let project_only = SearchOptions {
        scope: SearchScope::Project,
        top_k: 5,
        ..SearchOptions::default()
    };
    let hits = run(&s, "kafka consumer lag", Some("p_app"), None, project_only);
    let mut got = ids(&hits);
    got.sort_unstable();
    assert_eq!(got, ["mine0", "mine1"]);
}

#[test]
fn the_default_scope_finds_the_project_behind_many_better_matches_of_other_projects() {
    let s = crowded_store(3);
    let hits = run(
        &s,
        "kafka consumer lag",
        Some("p_app"),
        None,
        SearchOptions::default(),
    );
    let mut got = ids(&hits);
    got.sort_unstable();
    assert_eq!(got, ["mine0", "mine1", "mine2"]);
}

#[test]
fn a_pool_smaller_than_the_matches_keeps_the_exhaustive_top_hits() {
    let s = store();
    // 200 sessions: a few cover the whole query, most share only its commonest word.
    for i in 0..200 {
        let text = match i % 40 {
            0 => "sqlite migration timeout retry".to_owned(),
            7 => "sqlite migration retry".to_owned(),
            _ => format!("sqlite note {i}"),
        };
        let day = 1 + i % 28;
        add_session(
            &s,
            &format!("s{i:03}"),
            Some(if i % 3 == 0 { "p_other" } else { "p_app" }),
            if i % 3 == 0 {
                "/work/other"
            } else {
                "/work/app"
            },
            &format!("2026-02-{day:02}T00:00:00Z"),
            &[("user", &text), ("agent", "sqlite")],
        );
    }
    let query = "sqlite migration timeout retry";
    assert!(!has_required_or_excluded(query));
    let terms = query_terms(query);
    let ctx = SearchContext {
        project_id: Some("p_app"),
        cwd: Some(Path::new("/work/app")),
        now: now(),
    };
    let opts = SearchOptions::default();
    let conn = s.conn();
    let matches = TermMatches::load(conn, FtsTable::Messages, None, &terms).unwrap();
    assert!(matches.len() > 300, "the corpus must overflow the pool");
    let top = |limit: usize| {
        let mut hits =
            session_hits(conn, &matches, None, &ctx, &opts, ProjectFilter::All, limit).unwrap();
        rank(&mut hits);
        hits.truncate(5);
        hits.into_iter()
            .map(|h| (h.id, h.score))
            .collect::<Vec<_>>()
    };
    let pooled = top(60);
    let exhaustive = top(usize::MAX / 4);
    assert_eq!(
        pooled.iter().map(|(id, _)| id).collect::<Vec<_>>(),
        exhaustive.iter().map(|(id, _)| id).collect::<Vec<_>>()
    );
}

/// A recall entry of `project` (user scope when `None`).
fn add_recall_entry(store: &Store, id: &str, project: Option<&str>, text: &str) {
    let scope = if project.is_some() { "project" } else { "user" };
    store
        .conn()
        .execute(
            "INSERT INTO recall_entries (id, scope, project_id, summary, content, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?5)",
            params![id, scope, project, text, NOW],
        )
        .unwrap();
    let rowid = store.conn().last_insert_rowid();
    index_row(store, "recall_fts", rowid, &terms_for_index(text));
}

/// Two projects and sessions without one (one under the current cwd), with memory and recall
/// entries of every scope; the other project holds most rows.
fn projects_of_unequal_size() -> Store {
    let s = store();
    let words = [
        "kafka lag",
        "kafka broker restart",
        "broker lag alert",
        "kafka",
    ];
    for i in 0..40 {
        let text = words[i % words.len()];
        add_session(
            &s,
            &format!("other{i}"),
            Some("p_other"),
            "/work/other",
            &format!("2026-02-{:02}T10:00:00Z", i % 28 + 1),
            &[("user", text), ("agent", "restarted the broker")],
        );
        add_recall_entry(&s, &format!("r_other{i}"), Some("p_other"), text);
        add_memory(&s, &format!("m_other{i}"), Some("p_other"), text, NOW, 0);
    }
    add_session(
        &s,
        "mine",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "kafka lag")],
    );
    add_session(
        &s,
        "loose_below",
        None,
        "/work/app/sub",
        NOW,
        &[("user", "broker lag")],
    );
    add_session(
        &s,
        "loose_far",
        None,
        "/elsewhere",
        NOW,
        &[("user", "kafka lag")],
    );
    add_recall_entry(&s, "r_mine", Some("p_app"), "kafka broker");
    add_recall_entry(&s, "r_user", None, "lag alert kafka");
    add_memory(&s, "m_mine", Some("p_app"), "kafka lag budget", NOW, 0);
    add_memory(&s, "m_user", None, "broker restart policy", NOW, 0);
    s
}

/// [`projects_of_unequal_size`] with rows that `--host`, `--since` and the asking session's
/// exclusion tell apart: every third session of the other project (and the loose one elsewhere)
/// is Claude's, every fourth one's messages carry no time of their own (their session's last
/// one stands in), and half of the other project's entries are older.
fn projects_with_hosts_and_times() -> Store {
    let s = projects_of_unequal_size();
    let c = s.conn();
    let set = |sql: &str, id: String| c.execute(sql, [id]).unwrap();
    for i in 0..40 {
        if i % 3 == 0 {
            set(
                "UPDATE sessions SET host = 'claude' WHERE session_id = ?1",
                format!("other{i}"),
            );
        }
        if i % 4 == 1 {
            set(
                "UPDATE messages SET ts = NULL \
                 WHERE session_ref = (SELECT id FROM sessions WHERE session_id = ?1)",
                format!("other{i}"),
            );
        }
        if i % 2 == 0 {
            set(
                "UPDATE recall_entries SET updated_at = '2026-02-01T00:00:00Z' WHERE id = ?1",
                format!("r_other{i}"),
            );
            set(
                "UPDATE memory_entries SET updated_at = '2026-02-01T00:00:00Z' WHERE id = ?1",
                format!("m_other{i}"),
            );
        }
    }
    set(
        "UPDATE sessions SET host = 'claude' WHERE session_id = ?1",
        "loose_far".to_owned(),
    );
    // A message of `mine` archived after everything else: its session's rowid range now spans
    // every other session's rows, which must still be filtered out.
    c.execute(
        "INSERT INTO messages (session_ref, byte_offset, seq, ts, role, origin, text) \
         SELECT id, 9999, 0, ?2, 'assistant', 'agent', ?1 FROM sessions WHERE session_id = 'mine'",
        params!["the kafka broker lag is fixed", NOW],
    )
    .unwrap();
    let late = c.last_insert_rowid();
    let mine: i64 = c
        .query_row(
            "SELECT id FROM sessions WHERE session_id = 'mine'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    widen_message_range(c, mine, late, late).unwrap();
    index_row(
        &s,
        "messages_fts",
        late,
        &distinct_terms_for_index_of(&["the kafka broker lag is fixed"]),
    );
    s
}

#[test]
fn listing_the_admitted_rows_gives_the_same_hits_as_filtering_every_candidate() {
    let ranged = projects_with_hosts_and_times();
    let unranged = projects_with_hosts_and_times();
    as_before_listing_schema(&unranged);
    let (a, b) = (all_filter_variants(&ranged), all_filter_variants(&unranged));
    // Walking only the current project's message ranges changes nothing either.
    assert_eq!(a.len(), b.len());
    for ((case, hits), (_, before)) in a.iter().zip(&b) {
        assert_eq!(hits, before, "{case}");
    }
    // The loose session under the cwd is the project's; the one elsewhere is not.
    let opts = SearchOptions {
        scope: SearchScope::Project,
        top_k: 10,
        ..SearchOptions::default()
    };
    crate::recall::pool::FORCE_LISTING.with(|f| f.set(Some(true)));
    let found = run(&ranged, "lag", Some("p_app"), Some("/work/app"), opts);
    crate::recall::pool::FORCE_LISTING.with(|f| f.set(None));
    let mut found = ids(&found);
    found.sort_unstable();
    // User-scope entries apply everywhere.
    assert_eq!(found, ["loose_below", "m_mine", "mine", "r_user"]);
}

/// Every query × filter variant × scope × size on `s`, listed and filtered (asserted equal,
/// and to honour the filters): `(case, hits)`.
fn all_filter_variants(s: &Store) -> Vec<(String, Vec<Hit>)> {
    // (host, since, asking session)
    let variants = [
        (None, None, None),
        (Some(Host::Codex), None, None),
        (Some(Host::Claude), None, None),
        (None, Some("2026-02-15"), None),
        (None, Some("2027-01-01"), None),
        (Some(Host::Claude), Some("2026-02-10"), None),
        (None, None, Some("mine")),
        (Some(Host::Codex), Some("2026-02-20"), Some("other5")),
    ];
    let scopes = [
        SearchScope::Auto,
        SearchScope::Project,
        SearchScope::Global,
        SearchScope::Sessions,
        SearchScope::Memory,
    ];
    let mut found = 0;
    let mut out = Vec::new();
    for query in [
        "kafka lag",
        "broker",
        "kafka -lag",
        "\"broker lag\"",
        "restart alert",
    ] {
        for (host, since, asking) in variants {
            for scope in scopes {
                for top_k in [1, 3, 8] {
                    let opts = || SearchOptions {
                        scope,
                        top_k,
                        host,
                        since: since.map(str::to_owned),
                        exclude_session: asking.map(str::to_owned),
                        ..SearchOptions::default()
                    };
                    let mut runs = [true, false].map(|force| {
                        crate::recall::pool::FORCE_LISTING.with(|f| f.set(Some(force)));
                        run(s, query, Some("p_app"), Some("/work/app"), opts())
                    });
                    crate::recall::pool::FORCE_LISTING.with(|f| f.set(None));
                    let [listed, filtered] = &mut runs;
                    let case = format!(
                        "{query} ({host:?}, {since:?}, {asking:?}, {scope:?}, top {top_k})"
                    );
                    assert_eq!(listed, filtered, "{case}");
                    // The filters hold.
                    for hit in listed.iter() {
                        found += 1;
                        if let Some(since) = since {
                            assert!(
                                hit.date.as_deref().unwrap_or_default() >= since,
                                "{case}: {hit:?}"
                            );
                        }
                        if let Some(detail) = &hit.session {
                            assert!(
                                host.is_none_or(|h| detail.host == h.as_str()),
                                "{case}: {hit:?}"
                            );
                            assert_ne!(Some(hit.id.as_str()), asking, "{case}");
                        }
                    }
                    out.push((case, std::mem::take(listed)));
                }
            }
        }
    }
    assert!(found > 1000, "the variants must find something: {found}");
    out
}

/// SQLite's query plan of `sql`, one step per line.
fn plan(store: &Store, sql: &str) -> String {
    let mut stmt = store
        .conn()
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    // Parameters stay unbound (NULL): the plan does not depend on their values.
    let mut rows = stmt.raw_query();
    let mut steps = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        steps.push(row.get::<_, String>(3).unwrap());
    }
    steps.join("\n")
}

#[test]
fn fetches_and_listings_read_what_their_indexes_promise() {
    let s = store();
    for source in [&MEMORY_SOURCE, &RECALL_SOURCE] {
        // The candidates' rows by rowid, not a walk of an index led by `status`.
        let fetch = plan(&s, source.sql);
        assert!(fetch.contains("INTEGER PRIMARY KEY"), "{fetch}");
        for (filter, since, index) in [
            (ProjectFilter::Current, None, "scope"),
            (ProjectFilter::Current, Some("2026-01-01"), "scope"),
            (ProjectFilter::Others, Some("2026-01-01"), "recent"),
            (ProjectFilter::All, Some("2026-01-01"), "recent"),
        ] {
            let opts = SearchOptions {
                since: since.map(str::to_owned),
                ..SearchOptions::default()
            };
            let sql = admitted_entries_sql(s.conn(), source, filter, &opts)
                .unwrap()
                .unwrap();
            let listed = plan(&s, &sql);
            let index = format!("COVERING INDEX {}_{index}", source.table.base_table());
            assert!(listed.contains(&index), "{filter:?} {since:?}: {listed}");
        }
        for filter in [ProjectFilter::Others, ProjectFilter::All] {
            let opts = SearchOptions::default();
            assert_eq!(
                admitted_entries_sql(s.conn(), source, filter, &opts),
                Ok(None)
            );
        }
    }
    // Messages: `--since` seeks each admitted session's messages to the time, whatever else
    // restricts the sessions.
    for (filter, host) in [
        (ProjectFilter::Current, Some(Host::Claude)),
        (ProjectFilter::All, None),
    ] {
        let opts = SearchOptions {
            since: Some("2026-01-01".to_owned()),
            host,
            ..SearchOptions::default()
        };
        let listed = plan(&s, &admitted_messages_sql(filter, &opts).unwrap());
        let steps: Vec<&str> = listed.lines().collect();
        let seek = "SEARCH m USING COVERING INDEX messages_session_ts (session_ref=? AND ts>?)";
        let at = steps.iter().position(|l| *l == seek);
        assert!(
            at.is_some_and(|at| steps[at - 1].contains(" s ")),
            "{filter:?}: {listed}"
        );
    }
    assert_eq!(
        admitted_messages_sql(ProjectFilter::All, &SearchOptions::default()),
        None
    );
    // The current project's message ranges come from the index alone.
    let ranges = plan(&s, CURRENT_MESSAGE_RANGES);
    assert!(
        ranges.contains("COVERING INDEX sessions_message_range (project_id=?)")
            && !ranges.contains("SCAN"),
        "{ranges}"
    );
}

#[test]
fn a_store_without_the_recent_indexes_filters_since_row_by_row() {
    // A read-only recall does not migrate: a store from before 0008 lacks the indexes.
    assert_eq!(
        crate::store::db::MIGRATIONS[LISTING_SCHEMA as usize - 1].name,
        "0008_recall_listing.sql"
    );
    let s = projects_with_hosts_and_times();
    s.conn()
        .execute_batch(
            "DROP INDEX memory_entries_recent; DROP INDEX recall_entries_recent; \
             PRAGMA user_version = 7;",
        )
        .unwrap();
    let opts = || SearchOptions {
        scope: SearchScope::Global,
        since: Some("2026-02-15".to_owned()),
        top_k: 8,
        ..SearchOptions::default()
    };
    let runs = [true, false].map(|force| {
        crate::recall::pool::FORCE_LISTING.with(|f| f.set(Some(force)));
        run(&s, "kafka lag", Some("p_app"), Some("/work/app"), opts())
    });
    crate::recall::pool::FORCE_LISTING.with(|f| f.set(None));
    assert_eq!(runs[0], runs[1]);
    assert!(
        runs[0].iter().any(|h| h.kind == HitKind::Recall),
        "{:?}",
        runs[0]
    );
}

#[test]
fn a_host_or_time_no_session_has_reads_one_chunk_of_rows_not_every_match() {
    // 300 matching sessions, all Codex's, none after NOW.
    let s = crowded_store(0);
    for (host, since) in [
        (Some(Host::Claude), None),
        (None, Some("2027-01-01")),
        (Some(Host::Claude), Some("2026-01-01")),
    ] {
        MESSAGE_ROWS_READ.with(|n| n.set(0));
        let hits = run(
            &s,
            "kafka consumer",
            Some("p_other"),
            Some("/work/other"),
            SearchOptions {
                scope: SearchScope::Global,
                top_k: 3,
                host,
                since: since.map(str::to_owned),
                ..SearchOptions::default()
            },
        );
        assert!(hits.is_empty(), "{hits:?}");
        // The first chunk (the pool's 100 rows) shows that few pass, the listing that none can.
        assert_eq!(
            MESSAGE_ROWS_READ.with(std::cell::Cell::get),
            100,
            "{host:?} {since:?}"
        );
    }
    // Entries: 300 of the other project's, none updated after NOW.
    for i in 0..300 {
        add_recall_entry(&s, &format!("r{i}"), Some("p_other"), "kafka consumer lag");
    }
    for scope in [SearchScope::Global, SearchScope::Auto] {
        ENTRY_ROWS_READ.with(|n| n.set(0));
        let hits = run(
            &s,
            "kafka consumer",
            Some("p_app"),
            Some("/work/app"),
            SearchOptions {
                scope,
                top_k: 3,
                since: Some("2027-01-01".to_owned()),
                ..SearchOptions::default()
            },
        );
        assert!(hits.is_empty(), "{hits:?}");
        // One chunk (the pool's 50 rows) per pass: the default scope's two (this project,
        // then the others) read 100, not 600.
        let passes = if scope == SearchScope::Auto { 2 } else { 1 };
        assert_eq!(
            ENTRY_ROWS_READ.with(std::cell::Cell::get),
            50 * passes,
            "{scope:?}"
        );
    }
}

/// Marks `store` as one from before 0008: no message ranges or `--since` listings are used
/// (the columns and indexes stay, unread).
fn as_before_listing_schema(store: &Store) {
    store
        .conn()
        .pragma_update(None, "user_version", LISTING_SCHEMA - 1)
        .unwrap();
}

#[test]
fn a_project_with_no_sessions_reads_no_rows_of_other_projects() {
    let s = crowded_store(0);
    let project_rows_read = |s: &Store| {
        MESSAGE_ROWS_READ.with(|n| n.set(0));
        let hits = run(
            s,
            "kafka consumer",
            Some("p_new"),
            Some("/work/new"),
            SearchOptions {
                scope: SearchScope::Project,
                top_k: 3,
                ..SearchOptions::default()
            },
        );
        assert!(hits.is_empty(), "{hits:?}");
        MESSAGE_ROWS_READ.with(std::cell::Cell::get)
    };
    // 300 matching messages, none inside the (no) sessions of this project.
    assert_eq!(project_rows_read(&s), 0);
    // Without the ranges: the first chunk (the pool's 100 rows) shows that few pass, the
    // listing that none can.
    as_before_listing_schema(&s);
    assert_eq!(project_rows_read(&s), 100);
    // The default scope still falls back to the other projects.
    let hits = run(
        &s,
        "kafka consumer",
        Some("p_new"),
        Some("/work/new"),
        SearchOptions {
            top_k: 3,
            ..SearchOptions::default()
        },
    );
    assert_eq!(hits.len(), 3);
    assert!(
        hits.iter()
            .all(|h| h.project_id.as_deref() == Some("p_other"))
    );
}

#[test]
fn a_small_project_reads_few_rows_of_other_projects() {
    // 300 matching sessions of p_other, 2 of p_app.
    let s = crowded_store(2);
    let project = |project: &str| {
        MESSAGE_ROWS_READ.with(|n| n.set(0));
        let hits = run(
            &s,
            "kafka",
            Some(project),
            None,
            SearchOptions {
                scope: SearchScope::Project,
                top_k: 3,
                ..SearchOptions::default()
            },
        );
        (hits.len(), MESSAGE_ROWS_READ.with(std::cell::Cell::get))
    };
    // p_app's 2 of 302: only the rows inside p_app's sessions are read.
    let (found, read) = project("p_app");
    assert_eq!(found, 2);
    assert_eq!(read, 2);
    // p_other holds nearly every row: the first chunk fills its pool.
    let (found, read) = project("p_other");
    assert_eq!(found, 3);
    assert_eq!(read, 100);
    // Without the ranges, after the first chunk (the pool's 100 rows) only p_app's are read.
    as_before_listing_schema(&s);
    let (found, read) = project("p_app");
    assert_eq!(found, 2);
    assert!(read <= 102, "read {read} message rows");
}

#[test]
fn message_ranges_are_read_up_to_the_session_limit_and_skipped_past_it() {
    let s = store();
    let add = |from: usize, to: usize| {
        let mut insert = s
            .conn()
            .prepare(
                "INSERT INTO sessions (host, session_id, project_id, cwd, created_at, \
                 updated_at, first_message_id, last_message_id) \
                 VALUES ('codex', ?1, 'p_app', '/work/app', ?2, ?2, ?3, ?3)",
            )
            .unwrap();
        for i in from..to {
            let id = i64::try_from(i).unwrap() * 10;
            insert.execute(params![format!("s{i}"), NOW, id]).unwrap();
        }
    };
    let project = Some("p_app".to_owned());
    let cwd = Some("/work/app".to_owned());
    let none: Option<String> = None;
    let params: [(usize, &dyn rusqlite::ToSql); 5] =
        [(3, &project), (4, &cwd), (5, &none), (6, &none), (7, &none)];
    add(0, MAX_RANGED_SESSIONS);
    let ranges = current_message_ranges(s.conn(), &params)
        .unwrap()
        .expect("ranges up to the limit");
    assert!(ranges.contains(0) && ranges.contains(10 * (MAX_RANGED_SESSIONS as i64 - 1)));
    assert!(!ranges.contains(5));
    add(MAX_RANGED_SESSIONS, MAX_RANGED_SESSIONS + 1);
    assert!(
        current_message_ranges(s.conn(), &params).unwrap().is_none(),
        "one session past the limit walks without ranges"
    );
}

#[test]
fn auto_recall_ignores_acknowledgements_and_looks_back_without_searching_the_look_back_words() {
    let s = store();
    add_memory(
        &s,
        "m_run",
        Some("p_app"),
        "run them with the fixtures loaded",
        NOW,
        0,
    );
    add_memory(
        &s,
        "m_add",
        Some("p_app"),
        "add it to the changelog",
        NOW,
        0,
    );
    add_memory(
        &s,
        "m_flaky",
        Some("p_app"),
        "The checkout integration test fails when the db container is down: start it first",
        NOW,
        0,
    );
    // Go-aheads hold one topic word at most once their fillers are gone.
    for prompt in [
        "yes, run them",
        "ok add it",
        "ok update it",
        "好的，继续",
        "thanks, continue",
    ] {
        assert_eq!(auto(&s, prompt, &[], 300), None, "{prompt}");
    }
    assert_eq!(
        topic_query("OK, yes: run the Fixtures please"),
        "run Fixtures"
    );
    // "last time", "again" and "we did" say to look back, not what for.
    assert_eq!(
        topic_query("what did we do LAST TIME the checkout test failed again?"),
        "checkout test failed"
    );
    assert_eq!(topic_query("像上次那样修复订单超时"), "那样修复订单超时");
    assert_eq!(topic_query("Regain the lock AGAIN"), "Regain lock");
    let got = auto(
        &s,
        "the checkout integration test is failing again, what did we do last time to fix it?",
        &[],
        300,
    )
    .expect("the look-back words no longer dilute the hit's coverage");
    assert_eq!(got.injected, ["m_flaky"], "{}", got.text);
}

#[rstest]
#[case::commit_hash("3f2a9c1e7b5d4a6c8e0f1a2b3c4d5e6f7a8b9c0d", true)]
#[case::short_hash("3f2a9c1", true)]
#[case::uuid("01a214b8-5653-74a0-a12e-e527f4a4c79e", true)]
#[case::url("https://example.com/a/b", true)]
#[case::random_id("XyZ123AbC456", true)]
#[case::marker("[REDACTED:github-token]", true)]
#[case::word("postgres", false)]
#[case::version_word("utf8", false)]
#[case::letters_then_digits("phase2", false)]
#[case::identifier("base64Encode", false)]
#[case::command("sha256sum", false)]
#[case::hex_looking_word("deadbeef", false)]
#[case::key_type("ed25519", false)]
#[case::word_and_year("decade2024", false)]
#[case::path("src/db/PostgresPool.java", false)]
fn opaque_tokens_are_told_from_topic_words(#[case] word: &str, #[case] opaque: bool) {
    assert_eq!(is_opaque_token(word), opaque, "{word}");
}

/// One pasted id in a prompt no longer keeps auto-recall from a hit that covers every topic
/// word: the id's many terms (a hash's digit runs, a URL's words) pulled the coverage below the
/// threshold.
#[rstest]
#[case::commit_hash("at commit 3f2a9c1e7b5d4a6c8e0f1a2b3c4d5e6f7a8b9c0d")]
#[case::uuid("for run 01a214b8-5653-74a0-a12e-e527f4a4c79e")]
#[case::random_id("with job XyZ123AbC456")]
#[case::url("see https://example.com/a/b/c/d")]
fn a_pasted_id_does_not_keep_auto_recall_from_a_covering_hit(#[case] tail: &str) {
    let s = store();
    add_memory(
        &s,
        "m_pg",
        Some("p_app"),
        "Integration tests need the postgres container running before cargo test",
        NOW,
        0,
    );
    let plain = "how do I run the integration tests with postgres";
    assert!(auto(&s, plain, &[], 300).is_some());
    let got = auto(&s, &format!("{plain} {tail}"), &[], 300);
    assert_eq!(
        got.map(|g| g.injected),
        Some(vec!["m_pg".to_owned()]),
        "{tail}"
    );
}

/// A session's count of matching messages is exact while every match fits in the candidate
/// pool, and says it is a lower bound once the pool is full (it once read "100 matching
/// messages" for thousands, and a larger `--top-k` changed it).
#[test]
fn a_session_hit_count_is_exact_or_marked_as_a_lower_bound() {
    let s = store();
    let many: Vec<(&str, &str)> = (0..150)
        .map(|_| ("user", "kappa rollout stalls again"))
        .collect();
    add_session(&s, "busy", Some("p_app"), "/work/app", NOW, &many);
    let few = [("user", "lambda rollout stalls"), ("user", "lambda again")];
    add_session(&s, "quiet", Some("p_app"), "/work/app", NOW, &few);
    let detail = |query: &str| {
        let hits = run(
            &s,
            query,
            Some("p_app"),
            Some("/work/app"),
            SearchOptions {
                scope: SearchScope::Sessions,
                top_k: 3,
                ..SearchOptions::default()
            },
        );
        let session = hits[0].session.clone().unwrap();
        (session.hit_count, session.hit_count_exact)
    };
    assert_eq!(detail("lambda"), (2, true));
    let (count, exact) = detail("kappa");
    assert!(!exact);
    assert!(count < 150, "{count}");
    let response = crate::recall::render::RecallResponse {
        query: "kappa".into(),
        cwd: String::new(),
        status: crate::recall::render::Status::Matched,
        hits: run(
            &s,
            "kappa",
            Some("p_app"),
            Some("/work/app"),
            SearchOptions {
                scope: SearchScope::Sessions,
                ..SearchOptions::default()
            },
        ),
        error: None,
        note: None,
        triggered: false,
        reasons: Vec::new(),
    };
    let markdown = crate::recall::render::render_markdown_within(&response, 4000);
    assert!(
        markdown.contains(&format!("at least {count} matching messages")),
        "{markdown}"
    );
}

/// The ids of the session hits of `query` in project `p_app` (scope `sessions`).
fn session_ids(s: &Store, query: &str) -> Vec<String> {
    let hits = run(
        s,
        query,
        Some("p_app"),
        Some("/work/app"),
        SearchOptions {
            scope: SearchScope::Sessions,
            ..SearchOptions::default()
        },
    );
    hits.into_iter().map(|h| h.id).collect()
}

/// An identifier and the same letters written as one word find each other, whatever the
/// case: the index holds an identifier's whole form stemmed too.
#[rstest]
#[case::snake_stored_word_asked("the max_retries setting", "maxretries")]
#[case::camel_stored_word_asked("call fetchUserProfiles first", "fetchuserprofiles")]
#[case::camel_stored_shouted("the retryPolicy knob", "RETRYPOLICY")]
#[case::camel_stored_capitalized("the retryPolicy knob", "Retrypolicy")]
#[case::word_stored_camel_asked("check listeningports output", "listeningPorts")]
#[case::word_stored_snake_asked("set maxretries higher", "max_retries")]
fn an_identifier_and_its_letters_as_one_word_find_each_other(
    #[case] stored: &str,
    #[case] query: &str,
) {
    let s = store();
    add_session(
        &s,
        "ids",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", stored)],
    );
    add_session(
        &s,
        "other",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "nothing related here at all")],
    );
    assert_eq!(session_ids(&s, query), ["ids"], "{query} -> {stored}");
}

/// A quoted file name or identifier finds it inside a longer path or name, and an excluded
/// one excludes it there: a phrase asks for the identifier's parts, adjacent, not its whole
/// form (which stands for the whole path).
#[rstest]
#[case::file_name("\"main.rs\"", &["paths"])]
#[case::whole_path("\"src/app/main.rs\"", &["paths"])]
#[case::file_in_a_deeper_path("\"test_api.py\"", &["paths"])]
#[case::path_tail("\"unit/test_api.py\"", &["paths"])]
#[case::identifier_prefix("\"gateway_client\"", &["paths"])]
#[case::file_name_then_word("\"main.rs now\"", &["paths"])]
#[case::excluded_file_name("cargo -main.rs", &["plain"])]
#[case::excluded_quoted_file("cargo -\"gateway_client.rs\"", &["plain"])]
#[case::one_part_identifier_stays_whole("\"x_pos\"", &["xpos"])]
#[case::identifier_after_the_first_word("\"fails in src/app/main.rs\"", &["paths"])]
#[case::two_identifiers("\"test_api.py and a.b.c\"", &["paths"])]
#[case::excluded_phrase_with_a_later_identifier("cargo -\"fails in src/app/main.rs\"", &["plain"])]
fn a_quoted_or_excluded_file_name_is_matched_inside_a_path(
    #[case] query: &str,
    #[case] expected: &[&str],
) {
    let s = store();
    add_session(
        &s,
        "paths",
        Some("p_app"),
        "/work/app",
        NOW,
        &[(
            "user",
            "cargo fails in src/app/main.rs now, see tests/unit/test_api.py, a.b.c and \
             src/payments/gateway_client.rs",
        )],
    );
    add_session(
        &s,
        "plain",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "cargo builds fine, main is ok, rs pos")],
    );
    add_session(
        &s,
        "xpos",
        Some("p_app"),
        "/work/app",
        NOW,
        &[("user", "set x_pos")],
    );
    assert_eq!(session_ids(&s, query), expected, "{query}");
}

#[test]
fn auto_recall_never_brings_another_projects_memory_or_sessions() {
    let s = store();
    add_memory(
        &s,
        "m_other",
        Some("p_other"),
        "integration tests need docker compose up before they run",
        NOW,
        0,
    );
    add_session(
        &s,
        "other_session",
        Some("p_other"),
        "/work/other",
        NOW,
        &[("user", "the integration tests need docker compose up")],
    );
    add_memory(
        &s,
        "m_user",
        None,
        "integration tests run nightly on the ci box",
        NOW,
        0,
    );
    let got =
        auto(&s, "how do we run the integration tests", &[], 500).expect("user memory still comes");
    assert_eq!(got.injected, ["m_user"], "{}", got.text);
    // Asked explicitly, recall does fall back to other projects.
    let ctx = SearchContext {
        project_id: Some("p_app"),
        cwd: None,
        now: now(),
    };
    let asked = search(
        &s,
        "integration tests docker compose",
        &ctx,
        &SearchOptions::default(),
    )
    .unwrap();
    assert!(asked.hits.iter().any(|h| h.id == "m_other"));
}

#[test]
fn a_memory_entry_outranks_a_session_of_equal_relevance_even_from_the_sessions_own_directory() {
    let s = store();
    let text = "zorblax calibration flux test needs the cold start";
    add_memory(&s, "m_flux", Some("p_app"), text, NOW, 0);
    // The session says it five times, in the very directory the search is made from.
    add_session(
        &s,
        "flux_session",
        Some("p_app"),
        "/work/app/lab",
        NOW,
        &[
            ("user", text),
            ("agent", text),
            ("user", text),
            ("agent", text),
            ("user", text),
        ],
    );
    for cwd in ["/work/app/lab", "/work/app"] {
        let ctx = SearchContext {
            project_id: Some("p_app"),
            cwd: Some(Path::new(cwd)),
            now: now(),
        };
        let hits = search(
            &s,
            "zorblax calibration flux test",
            &ctx,
            &SearchOptions::default(),
        )
        .unwrap()
        .hits;
        let ids: Vec<&str> = hits.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["m_flux", "flux_session"], "from {cwd}: {hits:#?}");
    }
}

#[test]
fn an_exclusion_drops_a_session_whose_shown_window_holds_it_and_every_matching_message_is_marked() {
    let s = store();
    add_session(
        &s,
        "kube",
        Some("p_app"),
        "/work/app",
        NOW,
        &[
            (
                "user",
                "how should we deploy the kubernetes cluster on fridays",
            ),
            (
                "agent",
                "deploy with the helm chart and wait for the rollout",
            ),
            ("agent", "deploy finished"),
        ],
    );
    add_session(
        &s,
        "plain",
        Some("p_app"),
        "/work/app",
        "2026-02-01T00:00:00Z",
        &[("user", "the deploy script needs the staging token")],
    );
    let opts = || SearchOptions {
        window_before: 2,
        window_after: 2,
        ..global(5)
    };
    let ids = |hits: &[Hit]| hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>();
    let all = run(&s, "deploy", Some("p_app"), None, opts());
    assert_eq!(ids(&all), ["kube", "plain"]);
    // All three messages of `kube` hold `deploy`: each is marked, whichever is the best.
    let detail = all[0].session.as_ref().unwrap();
    assert_eq!(detail.messages.len(), 3);
    assert!(detail.messages.iter().all(|m| m.is_hit), "{detail:#?}");
    // Its messages without the excluded word still match, but the window shows the word.
    for query in [
        "deploy -kubernetes",
        "deploy -fridays",
        "deploy -\"kubernetes cluster\"",
    ] {
        assert_eq!(
            ids(&run(&s, query, Some("p_app"), None, opts())),
            ["plain"],
            "{query}"
        );
    }
    // An excluded phrase the window does not hold drops nothing.
    assert_eq!(
        ids(&run(
            &s,
            "deploy -\"cluster kubernetes\"",
            Some("p_app"),
            None,
            opts()
        )),
        ["kube", "plain"]
    );
}

#[test]
fn an_entry_is_near_every_cwd_of_its_project_and_of_no_other() {
    let here = SearchContext {
        project_id: Some("p_app"),
        cwd: Some(Path::new("/work/app/lab")),
        now: now(),
    };
    let nowhere = SearchContext { cwd: None, ..here };
    let in_project = BOOST_SAME_PROJECT + BOOST_CWD_SUBTREE_IN_PROJECT;
    assert_eq!(entry_locality(&here, Some("p_app"), false), in_project);
    assert_eq!(entry_locality(&here, None, true), in_project);
    assert_eq!(
        entry_locality(&nowhere, Some("p_app"), false),
        BOOST_SAME_PROJECT
    );
    // Another project's entry is not in this cwd's subtree just because it has no cwd.
    assert_eq!(entry_locality(&here, Some("p_other"), false), 1.0);
    assert_eq!(entry_locality(&here, None, false), 1.0);
}

/// A quoted Chinese phrase that starts inside a longer word finds the entry whose text holds
/// it, and only that one.
#[test]
fn a_quoted_chinese_phrase_inside_a_longer_word_is_found() {
    let s = store();
    add_memory(
        &s,
        "m_a",
        Some("p_app"),
        "我们在清华大学计算机系讨论",
        NOW,
        0,
    );
    add_memory(&s, "m_b", Some("p_app"), "大学的计算机和系统", NOW, 0);
    let found = run(&s, "\"大学计算机系\"", Some("p_app"), None, global(5));
    assert_eq!(ids(&found), ["m_a"]);
}

/// An excluded Chinese phrase drops the entries whose text holds it, also inside a longer word.
#[test]
fn an_excluded_chinese_phrase_inside_a_longer_word_drops_the_entry() {
    let s = store();
    add_memory(
        &s,
        "m_a",
        Some("p_app"),
        "清华大学计算机系 讨论 部署",
        NOW,
        0,
    );
    add_memory(&s, "m_b", Some("p_app"), "北京 讨论 部署", NOW, 0);
    let found = run(&s, "部署 -\"大学计算机系\"", Some("p_app"), None, global(5));
    assert_eq!(ids(&found), ["m_b"]);
}
