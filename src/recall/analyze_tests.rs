use pretty_assertions::assert_eq;
use rstest::rstest;

use super::*;

fn terms(text: &str) -> Vec<String> {
    analyze(text)
}

#[rstest]
#[case::plural_and_gerund("Retries running tests", &["retri", "run", "test"])]
#[case::stop_words_dropped("how do we run the tests", &["run", "test"])]
#[case::unicode_lowercase("ÉCOLE STRASSE Ωmega", &["école", "strass", "ωmega"])]
#[case::question_words_dropped("what is the deploy command", &["deploy", "command"])]
#[case::only_stop_words("the and of to", &[])]
#[case::punctuation_only("?!… ,;", &[])]
fn english_text_is_lowercased_stemmed_and_stripped_of_stop_words(
    #[case] text: &str,
    #[case] expected: &[&str],
) {
    assert_eq!(terms(text), expected);
}

#[rstest]
#[case::snake_case("retry_policy", &["retrypolicy", "retrypolici", "retri", "polici"])]
#[case::camel_case("parseFileFrom", &["parsefilefrom", "pars", "file"])]
#[case::acronym("HTTPServer", &["httpserver", "http", "server"])]
#[case::dotted_file("hooks.json", &["hooksjson", "hook", "json"])]
#[case::path("src/recall/analyze.rs", &["srcrecallanalyzers", "srcrecallanalyz", "src", "recal", "analyz", "rs"])]
#[case::rust_path("std::env::var", &["stdenvvar", "std", "env", "var"])]
#[case::letter_digit("phase2", &["phase2", "phase", "2"])]
#[case::hex_id_keeps_no_lone_letters("f247b7", &["f247b7", "247", "7"])]
#[case::trailing_dot_is_punctuation("done.", &["done"])]
#[case::leading_dash_is_punctuation("--all-projects", &["allprojects", "allproject", "project"])]
fn identifiers_keep_their_whole_form_and_yield_their_parts(
    #[case] text: &str,
    #[case] expected: &[&str],
) {
    assert_eq!(terms(text), expected);
}

#[test]
fn chinese_is_segmented_into_words() {
    assert_eq!(terms("订单超时重试"), ["订单", "超时", "重试"]);
    assert_eq!(terms("订单 超时 重试"), ["订单", "超时", "重试"]);
}

#[test]
fn chinese_function_words_are_dropped_and_glued_latin_is_split_off() {
    let got = terms("这个仓库之前phase2 hooks怎么设计的");
    for expected in ["仓库", "phase2", "hook", "设计"] {
        assert!(
            got.iter().any(|t| t == expected),
            "{expected} missing in {got:?}"
        );
    }
    for dropped in ["的", "这个", "怎么"] {
        assert!(
            !got.iter().any(|t| t == dropped),
            "{dropped} kept in {got:?}"
        );
    }
}

/// A colored tool output is indexed as it is shown: its escapes' letters (`31m`) never join the
/// word after them, and a window title set by an escape is not text.
#[rstest]
#[case::color("\u{1b}[31merror\u{1b}[0m: could not compile", &["error", "compil"])]
#[case::bold_and_color("\u{1b}[1;32mFinished\u{1b}[0m release", &["finish", "releas"])]
#[case::window_title("\u{1b}]0;secret title\u{7}build ok", &["build", "ok"])]
#[case::title_ended_by_st("\u{1b}]0;title\u{1b}\\deploy", &["deploy"])]
#[case::charset_escape("\u{1b}(Bwarning", &["warn"])]
#[case::non_ascii_line("\u{1b}[33m警告\u{1b}[0m deploy", &["警告", "deploy"])]
fn terminal_escapes_are_not_part_of_words(#[case] text: &str, #[case] expected: &[&str]) {
    assert_eq!(terms(text), expected);
}

/// A title escape without its terminator drops only its `ESC ]`: the rest of the text (a
/// tool's log after a cut `printf '\e]0;title'`) is still text.
#[test]
fn an_unterminated_title_escape_keeps_the_text_after_it() {
    let got = terms("\u{1b}]0;title\nbuild log follows");
    for expected in ["titl", "build", "log", "follow"] {
        assert!(
            got.iter().any(|t| t == expected),
            "{expected} missing in {got:?}"
        );
    }
    let long = format!("\u{1b}]0;{} deploy", "x".repeat(600));
    assert!(terms(&long).iter().any(|t| t == "deploy"));
}

#[test]
fn only_a_process_that_is_not_a_hook_builds_the_full_segmenter() {
    assert!(!wants_full_segmenter(SMALL_SEGMENTER_CHARS, false));
    assert!(wants_full_segmenter(SMALL_SEGMENTER_CHARS + 1, false));
    assert!(!wants_full_segmenter(usize::MAX, true));
}

#[test]
fn full_width_ascii_is_folded() {
    assert_eq!(terms("ｐｈａｓｅ２"), ["phase2", "phase", "2"]);
}

#[test]
fn every_term_is_letters_and_digits_only() {
    let text = "a:b \"NEAR(x y)\" *glob* col:val -neg ^start {x} [REDACTED:aws-access-key] \
                订单-超时 e-mail user's O'Brien http://example.com/a?b=c#d 😀 \u{0301}";
    for term in analyze(text) {
        assert!(!term.is_empty());
        assert!(
            term.chars().all(char::is_alphanumeric),
            "term {term:?} has FTS syntax characters"
        );
    }
}

#[test]
fn blobs_do_not_become_terms() {
    let blob = "QmFzZTY0".repeat(20);
    assert_eq!(terms(&blob), Vec::<String>::new());
}

#[test]
fn text_without_cjk_never_needs_the_segmenter() {
    assert!(!has_cjk("plain ascii and Ünïcödé"));
    assert!(has_cjk("mixed 订单"));
    assert!(has_cjk("カタカナ"));
}

#[test]
fn terms_for_index_joins_with_spaces() {
    assert_eq!(
        terms_for_index("Retry the order_timeout"),
        "retri ordertimeout order timeout"
    );
}

#[rstest]
#[case::one_word("retry", Some(r#""retri""#))]
#[case::words_are_ored("order timeout retry", Some(r#""order" OR "timeout" OR "retri""#))]
#[case::duplicates_once("retry retries retrying", Some(r#""retri""#))]
#[case::chinese("订单超时重试", Some(r#""订单" OR "超时" OR "重试""#))]
#[case::phrase_alone(r#""run the tests""#, Some(r#""run test""#))]
#[case::phrase_and_words(
    r#""order timeout" retry"#,
    Some(r#""order timeout" AND ("order timeout" OR "retri")"#)
)]
#[case::exclusion("deploy -staging", Some(r#"("deploy") NOT ("stage")"#))]
#[case::excluded_phrase(
    r#"deploy -"staging cluster""#,
    Some(r#"("deploy") NOT ("stage cluster")"#)
)]
#[case::identifier("hooks.json", Some(r#""hooksjson" OR "hook" OR "json""#))]
#[case::column_filter_is_a_word("title:foo", Some(r#""titlefoo" OR "titl" OR "foo""#))]
#[case::colon_between_letters("a:b", Some(r#""ab""#))]
#[case::near_is_a_word("NEAR(deploy staging)", Some(r#""near" OR "deploy" OR "stage""#))]
#[case::star_is_dropped("deploy*", Some(r#""deploy""#))]
#[case::operators_are_stop_words(
    "deploy AND NOT staging OR prod",
    Some(r#""deploy" OR "stage" OR "prod""#)
)]
#[case::double_dash_option_is_a_word(
    "cargo test --test integration",
    Some(r#""cargo" OR "test" OR "integr""#)
)]
#[case::option_with_value_is_a_word(
    "--test-threads=1",
    Some(r#""testthreads" OR "testthread" OR "test" OR "thread" OR "1""#)
)]
#[case::empty_phrase(r#"deploy """#, Some(r#""deploy""#))]
#[case::lone_star("*", None)]
#[case::lone_dash("-", None)]
#[case::lone_colon(":", None)]
#[case::only_stop_words("how do we do it", None)]
#[case::excluded_stop_word("-the", None)]
fn match_expr_builds_quoted_or_expressions(#[case] query: &str, #[case] expected: Option<&str>) {
    assert_eq!(match_expr(query).unwrap().as_deref(), expected);
}

#[rstest]
#[case::empty("", QueryError::Empty)]
#[case::blank("   \t\n", QueryError::Empty)]
#[case::only_exclusions("-deploy -staging", QueryError::OnlyExclusions)]
#[case::only_a_chinese_exclusion("-\"大学计算机系\"", QueryError::OnlyExclusions)]
#[case::unclosed_quote(r#"retry "order timeout"#, QueryError::UnclosedQuote)]
#[case::lone_quote(r#"""#, QueryError::UnclosedQuote)]
#[case::unclosed_excluded_phrase(r#"deploy -"staging"#, QueryError::UnclosedQuote)]
fn match_expr_rejects_unsearchable_queries_with_a_reason(
    #[case] query: &str,
    #[case] expected: QueryError,
) {
    assert_eq!(match_expr(query).unwrap_err(), expected);
}

#[test]
fn a_ten_kilobyte_query_is_too_long() {
    let query = "retry ".repeat(10 * 1024 / 6);
    assert_eq!(
        match_expr(&query).unwrap_err(),
        QueryError::TooLong {
            chars: query.trim().chars().count(),
            max: MAX_QUERY_CHARS
        }
    );
}

#[test]
fn long_queries_keep_at_most_the_term_cap() {
    let query: String = (0..100).map(|i| format!("word{i} ")).collect();
    let expr = match_expr(&query).unwrap().unwrap();
    assert_eq!(expr.matches(" OR ").count() + 1, MAX_QUERY_TERMS);
}

#[test]
fn every_match_expr_is_accepted_by_fts5() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE t USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO t (terms) VALUES (?1)",
        [terms_for_index("order timeout retry")],
    )
    .unwrap();
    for query in [
        "\"",
        "*",
        "NEAR",
        "NEAR(a b, 3)",
        "-",
        ":",
        "a:b",
        "col:x",
        "^start",
        "x OR",
        "AND",
        "(x",
        "x)",
        "\"unbalanced",
        "a\"b\"c",
        "-\"x\"y",
        "{a b}",
        "+x",
        "订单\"超时",
        "retry -\"\"",
        "' OR 1=1 --",
        "\"order timeout\" -\"dry run\" retry",
        "-\"a b\" c",
    ] {
        let Ok(Some(q)) = match_query(query) else {
            continue;
        };
        assert_eq!(Some(&q.expr), match_expr(query).unwrap().as_ref());
        for expr in [&q.expr, &q.distinct_expr] {
            let result: rusqlite::Result<i64> =
                conn.query_row("SELECT count(*) FROM t WHERE t MATCH ?1", [expr], |r| {
                    r.get(0)
                });
            assert!(result.is_ok(), "query {query:?} gave {expr:?}: {result:?}");
        }
    }
}

#[test]
fn a_segmented_chinese_query_finds_spaced_chinese_text() {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    conn.execute_batch(
        "CREATE VIRTUAL TABLE t USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO t (rowid, terms) VALUES (1, ?1)",
        [terms_for_index("订单 超时 重试 的策略")],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO t (rowid, terms) VALUES (2, ?1)",
        [terms_for_index("无关的内容")],
    )
    .unwrap();
    let expr = match_expr("订单超时重试").unwrap().unwrap();
    let rows: Vec<i64> = conn
        .prepare("SELECT rowid FROM t WHERE t MATCH ?1")
        .unwrap()
        .query_map([&expr], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [1]);
}

#[test]
fn query_terms_skip_exclusions() {
    assert_eq!(
        query_terms("deploy \"order timeout\" -staging"),
        ["deploy", "order", "timeout"]
    );
}

#[rstest]
#[case::lowercase("retry")]
#[case::capitalized("Retry")]
#[case::all_caps("RETRY")]
#[case::camel("parseFile")]
#[case::acronym("HTTPServer")]
#[case::digits("utf8")]
#[case::number("12345")]
#[case::accented("Ünïcödé")]
#[case::greek_final_sigma("Σίσυφος")]
#[case::one_letter("X")]
#[case::stop_word("The")]
fn the_plain_word_shortcut_gives_what_identifier_splitting_gives(#[case] token: &str) {
    let mut cache = WordCache::default();
    let mut fast = Vec::new();
    analyze_latin_token(token, &mut cache, &mut fast);
    let parts = split_identifier(token);
    let mut slow = Vec::new();
    if let [only] = parts.as_slice() {
        push_word(only, &mut cache, &mut slow);
    } else {
        push_whole(&parts.concat(), &mut cache, &mut slow);
        for part in parts.iter().filter(|p| !is_lone_ascii_letter(p)) {
            push_word(part, &mut cache, &mut slow);
        }
    }
    assert_eq!(fast, slow);
}

#[test]
fn memoized_words_equal_the_stemmer_on_first_and_later_calls() {
    let mut cache = WordCache::default();
    for word in [
        "running",
        "retries",
        "connection",
        "running",
        "the",
        "retries",
        "being",
    ] {
        let mut got = Vec::new();
        push_word(word, &mut cache, &mut got);
        let stemmed = STEMMER.stem(word).into_owned();
        let expected: Vec<String> = if is_stop_word(word) || is_stop_word(&stemmed) {
            Vec::new()
        } else {
            vec![stemmed]
        };
        assert_eq!(got, expected, "{word}");
    }
}

/// Texts that exercise every branch of the analyzer: identifiers of every shape, connectors
/// at the edges, blobs over both length caps, stop words, full-width forms, CJK glued to
/// Latin, non-ASCII lines next to ASCII ones.
const ORACLE_TEXTS: &[&str] = &[
    "Retries running tests; how do we run the tests?",
    "retry_policy parseFileFrom HTTPServer hooks.json src/recall/analyze.rs std::env::var",
    "phase2 f247b7 done. --all-projects ABC A1B2 x_pos __init__ a..b ::: -- _",
    "ÉCOLE STRASSE Ωmega naïve_café Straße İstanbul ǅemal",
    "这个仓库之前phase2 hooks怎么设计的 订单-超时 ｐｈａｓｅ２\u{3000}ok",
    "line one\nline two with CamelCase\r\n\ttabbed\n\nend",
    "[REDACTED:aws-access-key] http://example.com/a?b=c#d user's O'Brien 😀 e\u{301}",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa \
     bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\
     bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb_x",
    "the THE The tHe a I i 12345 007 v1.2.3-rc.1 0x1F ffffffffffffffffffffffffffffffffffffffff",
];

#[test]
fn the_fast_analyzer_matches_the_reference_on_hand_picked_texts() {
    for text in ORACLE_TEXTS {
        assert_eq!(analyze(text), reference::analyze(text), "text: {text:?}");
    }
}

/// A deterministic pseudo-random text over an alphabet that mixes every character class.
fn random_text(seed: u64, len: usize) -> String {
    const ALPHABET: &[&str] = &[
        "a", "e", "r", "s", "t", "i", "n", "g", "Q", "Z", "E", "0", "7", "9", "_", ".", "/", "\\",
        "-", ":", " ", " ", " ", "\n", "\t", ",", "\"", "é", "Ω", "ß", "订", "单", "ｐ", "２",
        "😀", "ing", "tion", "the ", "HTTP", "Server", "ies",
    ];
    let mut state = seed;
    let mut out = String::new();
    while out.len() < len {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let pick = usize::try_from(state >> 33).unwrap_or(0) % ALPHABET.len();
        out.push_str(ALPHABET[pick]);
    }
    out
}

#[test]
fn the_fast_analyzer_matches_the_reference_on_random_texts() {
    for seed in 0..300 {
        let text = random_text(seed, 400);
        assert_eq!(analyze(&text), reference::analyze(&text), "text: {text:?}");
        let ascii: String = text.chars().filter(char::is_ascii).collect();
        assert_eq!(
            analyze(&ascii),
            reference::analyze(&ascii),
            "text: {ascii:?}"
        );
    }
}

#[test]
fn terms_of_parts_equal_the_terms_of_the_parts_joined_by_spaces() {
    let parts = [
        "exec_command",
        "{\"cmd\":\"cargo test\"}",
        "retrying 订单 ok",
        "",
        "x",
    ];
    assert_eq!(
        terms_for_index_of(&parts),
        terms_for_index(&parts.join(" "))
    );
    assert_eq!(
        terms_for_index("Retries running parseFileFrom"),
        reference::analyze("Retries running parseFileFrom").join(" ")
    );
}

mod reference {
    // The analyzer as it was before the allocation-free rewrite, kept as the oracle
    // the fast paths are compared against (`the_fast_analyzer_matches_the_reference_*`).

    use rust_stemmers::{Algorithm, Stemmer};

    // The character predicates did not change in the rewrite; they are shared, not copied.
    use super::super::{
        CharClass, MAX_PART_CHARS, MAX_WHOLE_CHARS, classify, composed, is_cjk,
        is_lone_ascii_letter, is_plain_word, is_stop_word, visible,
    };

    /// Analyzes `text` into search terms, in text order, duplicates kept (term frequency matters
    /// to BM25). See the module docs for the steps; every term is non-empty and FTS-safe.
    pub(super) fn analyze(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut latin = String::new();
        let mut cjk = String::new();
        for c in composed(text).chars().filter_map(visible) {
            match classify(c) {
                CharClass::Cjk => {
                    flush_latin(&mut latin, &mut out);
                    cjk.push(c);
                }
                CharClass::Word | CharClass::Connector => {
                    flush_cjk(&mut cjk, &mut out);
                    latin.push(c);
                }
                CharClass::Other => {
                    flush_latin(&mut latin, &mut out);
                    flush_cjk(&mut cjk, &mut out);
                }
            }
        }
        flush_latin(&mut latin, &mut out);
        flush_cjk(&mut cjk, &mut out);
        out
    }

    fn flush_cjk(run: &mut String, out: &mut Vec<String>) {
        if run.is_empty() {
            return;
        }
        for token in super::super::full_jieba().cut_for_search(run, true) {
            let word = token.word.trim();
            if word.is_empty() || !word.chars().all(is_cjk) || is_stop_word(word) {
                continue;
            }
            out.push(word.to_owned());
        }
        run.clear();
    }

    fn flush_latin(raw: &mut String, out: &mut Vec<String>) {
        let token = raw.trim_matches(|c| classify(c) == CharClass::Connector);
        if !token.is_empty() {
            analyze_latin_token(token, out);
        }
        raw.clear();
    }

    /// Analyzes one token of letters, digits and connectors (no leading or trailing connector).
    fn analyze_latin_token(token: &str, out: &mut Vec<String>) {
        if token.chars().count() > MAX_WHOLE_CHARS {
            return;
        }
        if is_plain_word(token) {
            // The common case (`retry`, `The`): one part, no identifier splitting to allocate for.
            if token.is_ascii() {
                push_word(&token.to_ascii_lowercase(), out);
            } else {
                push_word(&token.to_lowercase(), out);
            }
            return;
        }
        let parts = split_identifier(token);
        match parts.as_slice() {
            [] => {}
            [only] => push_word(only, out),
            _ => {
                let whole = parts.concat();
                // The whole form, then its stem when it differs (letters only).
                let stemmed = (whole.chars().count() <= MAX_PART_CHARS
                    && whole.chars().all(char::is_alphabetic)
                    && !is_stop_word(&whole))
                .then(|| stem(&whole))
                .filter(|t| !t.is_empty() && *t != whole && !is_stop_word(t));
                out.push(whole);
                out.extend(stemmed);
                // A lone ASCII letter cut out of an identifier (`f247b7`, `x_pos`) is noise that
                // would match every hex id; the whole identifier still carries it.
                for part in parts.iter().filter(|p| !is_lone_ascii_letter(p)) {
                    push_word(part, out);
                }
            }
        }
    }

    fn stem(word: &str) -> String {
        static STEMMER: std::sync::LazyLock<Stemmer> =
            std::sync::LazyLock::new(|| Stemmer::create(Algorithm::English));
        STEMMER.stem(word).into_owned()
    }

    /// Pushes a lowercase word unless it is a stop word or a blob; alphabetic words are stemmed.
    fn push_word(word: &str, out: &mut Vec<String>) {
        if word.chars().count() > MAX_PART_CHARS || is_stop_word(word) {
            return;
        }
        if word.chars().all(char::is_alphabetic) {
            let stemmed = stem(word);
            if !stemmed.is_empty() && !is_stop_word(&stemmed) {
                out.push(stemmed);
            }
        } else {
            out.push(word.to_owned());
        }
    }

    /// Splits a token into lowercase parts at connectors, camelCase humps (`parseFile`,
    /// `HTTPServer` → `http`, `server`) and letter/digit boundaries (`utf8` → `utf`, `8`).
    fn split_identifier(token: &str) -> Vec<String> {
        let mut parts = Vec::new();
        for piece in token.split(|c| classify(c) == CharClass::Connector) {
            let chars: Vec<char> = piece.chars().collect();
            let mut start = 0;
            for i in 1..chars.len() {
                let (prev, cur) = (chars[i - 1], chars[i]);
                let next = chars.get(i + 1).copied();
                let hump = prev.is_lowercase() && cur.is_uppercase();
                let acronym_end = prev.is_uppercase()
                    && cur.is_uppercase()
                    && next.is_some_and(char::is_lowercase);
                let digit_edge = prev.is_numeric() != cur.is_numeric();
                if hump || acronym_end || digit_edge {
                    parts.push(lower(&chars[start..i]));
                    start = i;
                }
            }
            if start < chars.len() {
                parts.push(lower(&chars[start..]));
            }
        }
        parts
    }

    fn lower(chars: &[char]) -> String {
        chars.iter().flat_map(|c| c.to_lowercase()).collect()
    }
}

#[rstest]
#[case::plain_words("sqlite migration timeout", false)]
#[case::fts_operators_are_words("NEAR sqlite AND retry*", false)]
#[case::a_phrase("\"connection pool\" retry", true)]
#[case::an_exclusion("retry -flaky", true)]
#[case::an_excluded_phrase("retry -\"known issue\"", true)]
fn queries_with_phrases_or_exclusions_need_the_whole_expression(
    #[case] query: &str,
    #[case] required: bool,
) {
    assert_eq!(has_required_or_excluded(query), required);
    // A plain query's expression is exactly the OR of its terms.
    if !required {
        let or: Vec<String> = query_terms(query)
            .iter()
            .map(|t| quote_phrase(std::slice::from_ref(t)))
            .collect();
        assert_eq!(match_expr(query).unwrap().unwrap(), or.join(" OR "));
    }
}

#[test]
fn single_part_agrees_with_identifier_splitting_on_ascii_tokens() {
    for token in [
        "retry",
        "Retry",
        "RETRY",
        "R",
        "r",
        "12345",
        "7",
        "parseFile",
        "HTTPServer",
        "HTTPs",
        "aB",
        "Ab",
        "ABc",
        "AbC",
        "utf8",
        "8utf",
        "a1",
        "1a",
        "x_pos",
        "a.b",
        "hooks-json",
    ] {
        let parts = split_identifier(token);
        let whole = matches!(parts.as_slice(), [only] if *only == token.to_ascii_lowercase());
        assert_eq!(
            single_part(token.as_bytes()).is_some(),
            whole,
            "{token}: {parts:?}"
        );
    }
}

/// `terms` with each term kept once, at its first occurrence (the oracle of the distinct form).
fn first_occurrences(terms: &str) -> String {
    let mut seen = HashSet::new();
    terms
        .split(' ')
        .filter(|t| !t.is_empty() && seen.insert(*t))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn distinct_terms_keep_each_term_once_at_its_first_occurrence() {
    assert_eq!(
        distinct_terms_for_index_of(&["Retry the retries; RETRY", "retry_policy retry"]),
        "retri retrypolicy retrypolici polici"
    );
    for text in ORACLE_TEXTS {
        let parts = [*text, "tool_name", text];
        assert_eq!(
            distinct_terms_for_index_of(&parts),
            first_occurrences(&terms_for_index_of(&parts)),
            "text: {text:?}"
        );
    }
    for seed in 0..200 {
        let text = random_text(seed, 400);
        assert_eq!(
            distinct_terms_for_index_of(&[&text]),
            first_occurrences(&terms_for_index(&text)),
            "seed {seed}"
        );
    }
}

#[test]
fn distinct_terms_are_listed_with_their_ends_as_they_are_written() {
    let mut texts: Vec<String> = ORACLE_TEXTS.iter().map(|t| (*t).to_owned()).collect();
    texts.extend((0..100).map(|seed| random_text(seed, 2_000)));
    texts.push(String::new());
    for text in &texts {
        let list = distinct_message_terms(Some("exec_command"), None, text);
        assert_eq!(
            list.text,
            distinct_terms_for_index_of(&["exec_command", text])
        );
        let listed: Vec<&str> = list.ranges().map(|(a, b)| &list.text[a..b]).collect();
        let split: Vec<&str> = list.text.split(' ').filter(|t| !t.is_empty()).collect();
        assert_eq!(listed, split, "{text:?}");
        assert_eq!(list.count(), crate::archive::index::term_count(&list.text));
        assert_eq!(TermList::split(&list.text), list);
    }
}

#[test]
fn a_word_repeated_across_the_parts_of_one_message_is_listed_once_and_again_in_the_next() {
    // The word cache stamp of a message covers all its parts; the next message has its own.
    let parts = ["Retry retry", "RETRY the retries", "retry"];
    assert_eq!(distinct_terms_for_index_of(&parts), "retri");
    assert_eq!(distinct_terms_for_index_of(&parts), "retri");
    assert_eq!(terms_for_index_of(&parts), "retri retri retri retri retri");
}

#[test]
fn the_distinct_match_expression_asks_phrases_as_words_and_checks_them() {
    let q = match_query("deploy \"order timeout\" -\"dry run\" -staging")
        .unwrap()
        .unwrap();
    assert_eq!(
        q.expr,
        match_expr("deploy \"order timeout\" -\"dry run\" -staging")
            .unwrap()
            .unwrap()
    );
    assert_eq!(
        q.distinct_expr,
        "((\"order\" AND \"timeout\") AND ((\"order\" AND \"timeout\") OR \"deploy\")) NOT (\"stage\")"
    );
    assert!(
        q.check
            .passes(&terms_for_index("deploy the order timeout now"))
    );
    assert!(
        !q.check.passes(&terms_for_index("order new timeout")),
        "words apart"
    );
    assert!(
        !q.check.passes(&terms_for_index("order timeout dry run")),
        "excluded phrase"
    );
    assert!(
        q.check
            .passes(&terms_for_index("order timeout dry clean run"))
    );
    // Plain words and one-word phrases need no check, and keep the exact expression.
    let plain = match_query("deploy \"retry\" -staging").unwrap().unwrap();
    assert!(plain.check.is_empty());
    assert_eq!(plain.distinct_expr, plain.expr);
}

/// One clause of a generated query over a five-word vocabulary.
fn clause_strategy() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    const WORDS: [&str; 5] = ["kafka", "redis", "nginx", "docker", "mysql"];
    let word = proptest::sample::select(&WORDS[..]);
    let phrase = proptest::collection::vec(word.clone(), 2..=3).prop_map(|w| w.join(" "));
    prop_oneof![
        word.clone().prop_map(str::to_owned),
        phrase.clone().prop_map(|p| format!("\"{p}\"")),
        word.prop_map(|w| format!("-{w}")),
        phrase.prop_map(|p| format!("-\"{p}\"")),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// What recall finds in `messages_fts` (each term once per row: the distinct expression,
    /// then the phrase check on the row's full terms) is exactly what FTS5 finds with the full
    /// expression in a table that keeps every term in place.
    #[test]
    fn the_distinct_index_with_the_phrase_check_matches_what_fts5_phrases_match(
        docs in proptest::collection::vec(
            proptest::collection::vec(
                proptest::sample::select(&["kafka", "redis", "nginx", "docker", "mysql"][..]),
                1..9,
            ),
            1..12,
        ),
        clauses in proptest::collection::vec(clause_strategy(), 1..5),
    ) {
        let query = clauses.join(" ");
        // A query of exclusions only is refused with a reason; nothing to compare.
        let Ok(Some(q)) = match_query(&query) else {
            return Ok(());
        };
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE full USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');
             CREATE VIRTUAL TABLE once USING fts5(terms, tokenize = 'unicode61 remove_diacritics 0');",
        )
        .unwrap();
        for (i, words) in docs.iter().enumerate() {
            let text = words.join(" ");
            conn.execute(
                "INSERT INTO full (rowid, terms) VALUES (?1, ?2)",
                rusqlite::params![i as i64, terms_for_index_of(&[&text])],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO once (rowid, terms) VALUES (?1, ?2)",
                rusqlite::params![i as i64, distinct_terms_for_index_of(&[&text])],
            )
            .unwrap();
        }
        let rows = |table: &str, expr: &str| -> Vec<i64> {
            let mut stmt = conn
                .prepare(&format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid"))
                .unwrap();
            stmt.query_map([expr], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        let expected = rows("full", &q.expr);
        let found: Vec<i64> = rows("once", &q.distinct_expr)
            .into_iter()
            .filter(|&i| q.check.passes(&terms_for_index_of(&[&docs[i as usize].join(" ")])))
            .collect();
        proptest::prop_assert_eq!(found, expected, "query {:?}", query);
    }
}

#[rstest]
#[case::words("SQLite migrationTimeout retry retries")]
#[case::phrase_and_words("\"order timeout\" retry order")]
#[case::exclusions("kafka -\"dry run\" -the -consumer")]
#[case::chinese("订单超时 重试 \"支付 回调\"")]
#[case::mixed_scripts("deploy到生产 rollback_plan -测试")]
#[case::stop_word_phrase("\"the of\" build")]
fn a_query_read_once_agrees_with_each_reading_alone(#[case] query: &str) {
    let q = match_query(query).unwrap().unwrap();
    assert_eq!(q.terms, query_terms(query));
    assert_eq!(q.whole, has_required_or_excluded(query));
    // The bare words analyzed clause by clause are the words analyzed together.
    let words: Vec<&str> = parse_clauses(query)
        .unwrap()
        .into_iter()
        .filter_map(|c| match c {
            Clause::Word(w) => Some(w),
            _ => None,
        })
        .collect();
    assert_eq!(
        Analyzed::of(query).unwrap().words,
        analyze(&words.join(" "))
    );
}

#[rstest]
#[case::phrase_with_negation(r#"deploy "do not run migrations""#, &["do", "not"])]
#[case::excluded_stop_word("docker compose -up", &["up"])]
#[case::each_once(r#""not now" -not"#, &["not", "now"])]
#[case::bare_words_are_not_listed("how do we deploy", &[])]
#[case::unreadable_query(r#"deploy "open"#, &[])]
fn ignored_words_are_the_stop_words_of_phrases_and_exclusions(
    #[case] query: &str,
    #[case] expected: &[&str],
) {
    assert_eq!(ignored_words(query), expected);
}

#[test]
fn decomposed_letters_invisible_characters_and_the_dotted_capital_i_read_as_typed() {
    // macOS writes file names decomposed: `e` then a combining acute accent.
    assert_eq!(
        analyze("cafe\u{301} re\u{301}sume\u{301}"),
        analyze("café résumé")
    );
    assert_eq!(analyze("nai\u{308}ve"), analyze("naïve"));
    // Zero-width spaces and joiners, soft hyphens, word joiners and BOMs split nothing.
    for hidden in [
        '\u{200b}', '\u{200c}', '\u{200d}', '\u{ad}', '\u{2060}', '\u{feff}',
    ] {
        assert_eq!(
            analyze(&format!("pay{hidden}ment é")),
            analyze("payment é"),
            "{hidden:?}"
        );
    }
    assert_eq!(analyze("İSTANBUL ılık"), analyze("istanbul ılık"));
    // A query reads the same way.
    assert_eq!(query_terms("cafe\u{301}"), query_terms("café"));
}

/// Case variants that lowercasing keeps apart are folded as SQLite's `unicode61` folds them:
/// a Greek word ending in sigma is one term however it was written, and so is a word with a
/// long s.
#[test]
fn final_sigma_long_s_and_greek_symbol_forms_fold_to_one_term() {
    assert_eq!(terms("ΟΔΟΣ"), terms("οδος"));
    assert_eq!(terms("οδοσ"), terms("οδος"));
    assert_eq!(terms("ΟΔΟΣ"), vec!["οδοσ"]);
    assert_eq!(terms("ſtar"), terms("star"));
    assert_eq!(terms("ϑεος"), terms("θεοσ"));
    // An identifier holding one folds the same way, whole form and parts.
    assert_eq!(terms("ΟΔΟΣ_map"), terms("οδος_map"));
}

/// A quoted Chinese phrase is held where its text is, also when it starts or ends inside a
/// longer word, whose shorter words jieba's search mode lists before it; a phrase whose text is
/// not there, or is split by a word of Latin letters, is not held.
#[rstest]
#[case::starts_inside_a_word("大学计算机系", true)]
#[case::ends_inside_a_word("清华大学计算", true)]
#[case::whole_words("清华大学计算机系", true)]
#[case::across_the_next_word("计算机系讨论", true)]
#[case::not_in_this_order("计算机系清华", false)]
#[case::not_adjacent("清华计算机", false)]
#[case::across_a_latin_word("讨论问题", false)]
fn a_chinese_phrase_is_held_where_its_text_is(#[case] phrase: &str, #[case] held: bool) {
    let row = terms_for_index("我们在清华大学计算机系讨论 rust 问题");
    let seq: Vec<&str> = row.split(' ').collect();
    let terms = analyze(phrase);
    assert!(terms.len() > 1, "{terms:?}");
    assert_eq!(holds_phrase(&seq, &terms), held, "{terms:?} in {row}");
}

#[test]
fn words_are_recovered_from_search_mode_terms() {
    let terms = analyze("清华大学计算机系");
    assert_eq!(cjk_words(&terms), ["清华大学", "计算机系"]);
    // The same word twice is two words, not a part of itself.
    assert_eq!(cjk_words(&["大学", "大学"]), ["大学", "大学"]);
    // A word standing before a longer word that holds it is a word of its own: the longer
    // word's parts are used up.
    let terms = analyze("删除文件，文件夹保留");
    assert_eq!(
        cjk_words(&terms),
        ["删除", "文件", "文件夹", "保留"],
        "{terms:?}"
    );
}

/// A phrase is not held by text that only reads like it once a separate word is taken for a
/// part of the next one (`删除文件，文件夹` does not hold `删除文件夹`).
#[test]
fn a_chinese_phrase_is_not_held_across_a_separate_word() {
    let row = terms_for_index("删除文件，文件夹保留");
    let seq: Vec<&str> = row.split(' ').collect();
    assert!(!holds_phrase(&seq, &analyze("删除文件夹")), "{row}");
    assert!(holds_phrase(&seq, &analyze("文件夹保留")), "{row}");
}
