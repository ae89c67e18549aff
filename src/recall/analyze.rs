//! The analyzer: the one function that turns text into search terms, for the index and for
//! queries alike, plus [`match_expr`], the one function that turns a user's query into an FTS5
//! MATCH string.
//!
//! Invariants:
//! - **Index and query share the analyzer.** [`terms_for_index`] (what every FTS row's `terms`
//!   column holds) and [`match_expr`] both call [`analyze`], so a word is found whatever form
//!   the index saw it in.
//! - **Every term is FTS-safe.** A term contains only letters and numbers (never a space, quote,
//!   `*`, `:`, `-` or other FTS5 syntax). The FTS tables use `unicode61` (migration 0002), which
//!   splits on anything else, so our tokenization is the one that counts, and a term can be
//!   quoted in a MATCH string without escaping.
//! - **No user text reaches FTS5 unquoted.** [`match_expr`] quotes every term and phrase; the
//!   operators in its output (`OR`, `AND`, `NOT`, parentheses) are only ever its own.
//!
//! What [`analyze`] does, in order:
//! 1. Full-width ASCII (`ｐｈａｓｅ２`, common in Chinese text) is folded to ASCII.
//! 2. Runs of CJK ideographs and kana are segmented into words with jieba (search mode, which
//!    also offers the sub-words of long compounds). The dictionary costs tens of milliseconds to
//!    load, so it is loaded once per process, lazily, and only when a text has CJK in it.
//! 3. Other text is split into tokens of letters, digits and the identifier connectors
//!    `_ . / \ - :`. A token with connectors, a camelCase hump or a letter/digit boundary is an
//!    identifier: it yields its whole form (its lowercase parts concatenated, so `hooks.json`
//!    gives `hooksjson` and `parseFileFrom` gives `parsefilefrom`) and then each part.
//! 4. Words are lowercased (Unicode-aware), English stop words and Chinese function words are
//!    dropped, and alphabetic words are stemmed with the English Snowball stemmer
//!    (`retries` → `retri`, `running` → `run`). Whole identifiers are not stemmed.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};

use rust_stemmers::{Algorithm, Stemmer};

use crate::recall::jieba_dict;
use crate::recall::seen_terms::SeenTerms;
use crate::recall::word_cache::{Cached, Key, PackedTerm, Stamped, WordCache};

/// Longest query [`match_expr`] accepts, in characters. A recall query is a handful of
/// distinctive words; a pasted document is a mistake the user should hear about, and the hooks
/// cut prompts to this length before searching.
pub const MAX_QUERY_CHARS: usize = 2000;

/// Most distinct terms one MATCH string ORs together; the rest of a long query is ignored, so a
/// wordy prompt cannot turn into an expression that touches every row.
pub const MAX_QUERY_TERMS: usize = 32;

/// Longest part of an identifier kept as a term, in characters; longer runs are blobs (base64,
/// minified code), not words anyone types.
const MAX_PART_CHARS: usize = 64;

/// Longest token analyzed at all, in characters: a longer run of letters, digits and
/// connectors is a blob (base64 payload, minified line) whose pieces would only add noise.
const MAX_WHOLE_CHARS: usize = 128;

/// The jieba segmenter with the whole dictionary, shared by every call in the process once a
/// process has cut enough Chinese to need it ([`cut_cjk`]).
///
/// A process-wide static is acceptable here (unlike configuration, STYLE §6): it is immutable
/// data whose load takes about 200 ms and 40 MiB, so it is built at most once, and only by a
/// process that segments more than [`SMALL_SEGMENTER_CHARS`] of CJK text (an ingest, not a
/// query), and never by a hook process ([`keep_segmenters_small`]).
static JIEBA: OnceLock<jieba_rs::Jieba> = OnceLock::new();

/// CJK characters a process cuts with segmenters loaded for one run each
/// ([`jieba_dict::segmenter_for`], a few binary searches per character) before it builds the
/// full one. Either cuts a run the same way; this only decides which is cheaper.
const SMALL_SEGMENTER_CHARS: usize = 4096;

/// CJK characters cut so far by per-run segmenters in this process.
static SMALL_CUT_CHARS: AtomicUsize = AtomicUsize::new(0);

/// Set by a hook process ([`keep_segmenters_small`]): it never builds the full segmenter.
static SMALL_SEGMENTERS_ONLY: AtomicBool = AtomicBool::new(false);

/// Keeps this process on segmenters loaded per run, however much Chinese it cuts: for hooks,
/// whose time is the agent's. A long Chinese prompt is analyzed more than once by
/// UserPromptSubmit (its topic, its terms, the search), which passed
/// the per-process threshold (4,096 characters) and spent about 200 ms building the full segmenter.
pub fn keep_segmenters_small() {
    SMALL_SEGMENTERS_ONLY.store(true, Ordering::Relaxed);
}

/// Whether a process that has cut `total` CJK characters with per-run segmenters should build
/// the full one.
fn wants_full_segmenter(total: usize, small_only: bool) -> bool {
    !small_only && total > SMALL_SEGMENTER_CHARS
}

/// The full segmenter, built on first use.
fn full_jieba() -> &'static jieba_rs::Jieba {
    JIEBA.get_or_init(jieba_dict::full_segmenter)
}

/// Cuts a run of CJK text in jieba's search mode and hands each token to `each`: with the full
/// segmenter once it exists or the process has cut more than [`SMALL_SEGMENTER_CHARS`], else
/// with one loaded for this run alone (identical tokens, see [`jieba_dict`]).
fn cut_cjk(run: &str, mut each: impl FnMut(&str)) {
    let full = JIEBA.get().or_else(|| {
        let chars = run.chars().count();
        let total = SMALL_CUT_CHARS.fetch_add(chars, Ordering::Relaxed) + chars;
        let small_only = SMALL_SEGMENTERS_ONLY.load(Ordering::Relaxed);
        wants_full_segmenter(total, small_only).then(full_jieba)
    });
    let small;
    let jieba = match full {
        Some(jieba) => jieba,
        None => {
            small = jieba_dict::segmenter_for(run);
            &small
        }
    };
    for token in jieba.cut_for_search(run, true) {
        each(token.word);
    }
}

/// The English Snowball stemmer (stateless; shared, like [`JIEBA`]).
static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// English stop words: the usual function words plus question words, which carry nothing a
/// search could use ("how do we run the tests" searches for `run` and `test`).
const ENGLISH_STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "am",
    "an",
    "and",
    "any",
    "are",
    "aren",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "couldn",
    "d",
    "did",
    "didn",
    "do",
    "does",
    "doesn",
    "doing",
    "don",
    "down",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "hadn",
    "has",
    "hasn",
    "have",
    "haven",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "isn",
    "it",
    "its",
    "itself",
    "just",
    "ll",
    "m",
    "me",
    "might",
    "more",
    "most",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "o",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "re",
    "s",
    "same",
    "shall",
    "she",
    "should",
    "shouldn",
    "so",
    "some",
    "such",
    "t",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "ve",
    "very",
    "was",
    "wasn",
    "we",
    "were",
    "weren",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "won",
    "would",
    "wouldn",
    "y",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
];

/// Chinese function words and question words (the analogue of the English list): particles,
/// pronouns and "how/what/which" forms that jieba emits as words of their own.
const CHINESE_STOP_WORDS: &[&str] = &[
    "的",
    "了",
    "是",
    "在",
    "我",
    "你",
    "他",
    "她",
    "它",
    "们",
    "我们",
    "你们",
    "他们",
    "这",
    "那",
    "这个",
    "那个",
    "这些",
    "那些",
    "和",
    "与",
    "及",
    "或",
    "就",
    "都",
    "也",
    "还",
    "又",
    "吗",
    "呢",
    "吧",
    "啊",
    "呀",
    "嘛",
    "着",
    "过",
    "把",
    "被",
    "给",
    "对",
    "从",
    "到",
    "向",
    "让",
    "用",
    "为",
    "为了",
    "因为",
    "所以",
    "如果",
    "但是",
    "而",
    "并",
    "之",
    "其",
    "有",
    "没有",
    "不",
    "没",
    "很",
    "太",
    "更",
    "最",
    "怎么",
    "怎样",
    "怎么样",
    "如何",
    "什么",
    "哪",
    "哪个",
    "哪些",
    "哪里",
    "为什么",
    "多少",
    "几",
    "是不是",
    "能",
    "能不能",
    "可以",
    "要",
    "会",
    "应该",
    "一下",
    "一个",
    "个",
    "下",
    "地",
    "得",
    "所",
    "以",
    "等",
    "请",
];

/// Whether `word` (already lowercase) is a stop word in English or Chinese.
pub(crate) fn is_stop_word(word: &str) -> bool {
    static SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
        ENGLISH_STOP_WORDS
            .iter()
            .chain(CHINESE_STOP_WORDS)
            .copied()
            .collect()
    });
    SET.contains(word)
}

/// How the analyzer treats one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CharClass {
    /// A CJK ideograph or kana: segmented with jieba.
    Cjk,
    /// A letter or digit of any other script.
    Word,
    /// Joins the parts of an identifier: `_ . / \ - :`.
    Connector,
    /// Whitespace, punctuation, symbols: ends a token.
    Other,
}

fn classify(c: char) -> CharClass {
    if is_cjk(c) {
        CharClass::Cjk
    } else if c.is_alphanumeric() {
        CharClass::Word
    } else if matches!(c, '_' | '.' | '/' | '\\' | '-' | ':') {
        CharClass::Connector
    } else {
        CharClass::Other
    }
}

/// CJK ideographs (unified, extension A–F, compatibility) and Japanese kana. Hangul is written
/// with spaces between words, so it goes through the Latin path.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // hiragana, katakana
        | 0x31F0..=0x31FF    // katakana phonetic extensions
        | 0x3400..=0x4DBF    // extension A
        | 0x4E00..=0x9FFF    // unified ideographs
        | 0xF900..=0xFAFF    // compatibility ideographs
        | 0x20000..=0x2FA1F) // extensions B–F and compatibility supplement
}

/// Folds full-width ASCII (U+FF01–U+FF5E) and the ideographic space to ASCII.
/// `text` in Unicode's composed form (NFC): a decomposed `café` (`e` and a combining accent,
/// as macOS writes file names) reads as the precomposed one a query types.
fn composed(text: &str) -> Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    match is_nfc_quick(text.chars()) {
        IsNormalized::Yes => Cow::Borrowed(text),
        _ => Cow::Owned(text.nfc().collect()),
    }
}

/// What the analyzer reads of a character of a non-ASCII line: full-width forms folded
/// ([`fold_width`]), the Turkish dotted capital `İ` as `I` (its lowercase would carry a
/// combining dot), and no invisible format character (zero-width spaces and joiners, soft
/// hyphens, word joiners, byte-order marks), which would otherwise split the word it hides in.
fn visible(c: char) -> Option<char> {
    match c {
        '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => None,
        '\u{130}' => Some('I'),
        c => Some(fold_width(c)),
    }
}

/// The lowercase letters whose case folding is another letter (Unicode's simple case folding,
/// which SQLite's `unicode61` tokenizer applies): final sigma, long s and the Greek symbol
/// forms. Lowercasing alone leaves `ΟΔΟΣ` as `οδος` or `οδοσ` depending on how it was
/// lowered, and `ſtar` apart from `star`.
fn fold_case_variant(c: char) -> Option<char> {
    match c {
        'ς' => Some('σ'),
        'ſ' => Some('s'),
        'ϐ' => Some('β'),
        'ϑ' => Some('θ'),
        'ϕ' => Some('φ'),
        'ϖ' => Some('π'),
        'ϰ' => Some('κ'),
        'ϱ' => Some('ρ'),
        'ϵ' => Some('ε'),
        'ẛ' => Some('ṡ'),
        '\u{345}' | '\u{1fbe}' => Some('ι'),
        _ => None,
    }
}

fn fold_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Whether `text` contains a character that would be segmented with jieba.
pub fn has_cjk(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// Where [`analyze_into`] puts the terms it produces, in text order.
trait TermSink {
    /// Takes one term (non-empty, FTS-safe).
    fn term(&mut self, term: &str);

    /// [`TermSink::term`] for a term the word cache gives packed.
    fn packed_term(&mut self, term: &PackedTerm) {
        self.term(term.as_str());
    }

    /// For a sink that keeps each term once: the word cache stamp of its text
    /// ([`WordCache::get_stamped`]), so that a word repeated in it is skipped at its probe.
    /// `None` (the default): every term is wanted, repeats too.
    fn stamp(&mut self, _cache: &mut WordCache) -> Option<u32> {
        None
    }

    /// Whether an identifier of two or more parts gives its whole form ([`push_whole`]) before
    /// its parts: yes for what is indexed and searched; no for a quoted phrase or an
    /// exclusion ([`PhraseTerms`]).
    fn wants_wholes(&self) -> bool {
        true
    }
}

impl TermSink for Vec<String> {
    fn term(&mut self, term: &str) {
        self.push(term.to_owned());
    }
}

/// The terms of a quoted phrase or an exclusion: an identifier of two or more parts that
/// opens it gives its parts only. Its whole form stands for the whole identifier, so
/// `"main.rs"` (`mainrs`) would miss the `main.rs` at the end of `src/app/main.rs`
/// (`srcappmainrs`); its parts are adjacent in any text that holds it. A later identifier
/// keeps its whole form: the text holds it between the word before and the parts
/// (`"fails in src/app/main.rs"`).
struct PhraseTerms(Vec<String>);

impl TermSink for PhraseTerms {
    fn term(&mut self, term: &str) {
        self.0.push(term.to_owned());
    }

    fn wants_wholes(&self) -> bool {
        !self.0.is_empty()
    }
}

/// [`analyze`] for the text of a quoted phrase or an exclusion ([`PhraseTerms`]).
pub(crate) fn phrase_terms(text: &str) -> Vec<String> {
    let mut out = PhraseTerms(Vec::new());
    analyze_into(text, &mut out);
    out.0
}

/// The `terms` column format: terms separated by single spaces, built without a `Vec`.
struct Joined<'a>(&'a mut String);

impl TermSink for Joined<'_> {
    fn term(&mut self, term: &str) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        self.0.push_str(term);
    }
}

/// Analyzes `text` into search terms, in text order, duplicates kept (term frequency matters
/// to BM25). See the module docs for the steps; every term is non-empty and FTS-safe.
pub fn analyze(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    analyze_into(text, &mut out);
    out
}

/// The `terms` value of an FTS row for `text`: [`analyze`]'s output joined by single spaces.
///
/// This is the canonical indexing function: every writer of `messages_fts`, `memory_fts` and
/// `recall_fts` calls it so that the index and [`match_expr`] agree.
pub fn terms_for_index(text: &str) -> String {
    terms_for_index_of(&[text])
}

/// The `terms` value for the texts of `parts` joined by spaces, without building the joined
/// text: equal to `terms_for_index(&parts.join(" "))`, since a space always ends a term.
pub fn terms_for_index_of(parts: &[&str]) -> String {
    let mut out = String::new();
    let mut sink = Joined(&mut out);
    for part in parts {
        analyze_into(part, &mut sink);
    }
    out
}

/// [`distinct_terms_listed`]'s text.
#[cfg(test)]
pub(crate) fn distinct_terms_for_index_of(parts: &[&str]) -> String {
    distinct_terms_listed(parts).text
}

/// A list of distinct terms in the `terms` format, with the end of each term noted as it was
/// written: its length is `messages.term_count`, and the index takes the terms by their ends
/// (splitting the list again cost an ingest about 8 % of its CPU time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermList {
    /// The terms, separated by single spaces.
    pub(crate) text: String,
    /// The end of each term in `text`, ascending.
    pub(crate) ends: Vec<u32>,
}

impl TermList {
    /// The list of the terms of `text` (the `terms` format: separated by spaces).
    #[cfg(test)]
    pub(crate) fn split(text: &str) -> TermList {
        let mut list = TermList::default();
        for term in text.split(' ').filter(|t| !t.is_empty()) {
            list.push(term);
        }
        list
    }

    fn push(&mut self, term: &str) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.text.push_str(term);
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
    }

    /// How many terms it holds.
    pub(crate) fn count(&self) -> u32 {
        u32::try_from(self.ends.len()).unwrap_or(u32::MAX)
    }

    /// Each term's byte range in `text`, in order.
    pub(crate) fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let range = (start, end as usize);
            start = end as usize + 1;
            range
        })
    }
}

/// [`terms_for_index_of`] with each term kept once, at its first occurrence: the terms an
/// archived message is indexed under. Ranking counts a term once per row anyway (term
/// frequency is one, see [`crate::recall::pool`]), so the repeats only cost index time and
/// space; what they carried, the positions of phrases, is checked against
/// [`terms_for_index_of`] instead ([`PhraseCheck`]).
fn distinct_terms_listed(parts: &[&str]) -> TermList {
    thread_local! {
        /// The set of terms seen, kept from one call to the next on the same thread: each
        /// text takes a new stamp instead of a new or emptied table.
        static SEEN: std::cell::RefCell<SeenTerms> = std::cell::RefCell::default();
    }
    // Sized for what a text of code or prose usually gives, so that a long text's list is not
    // grown (and copied) a dozen times.
    let bytes: usize = parts.iter().map(|p| p.len()).sum();
    let mut list = TermList {
        text: String::with_capacity(bytes / 4),
        ends: Vec::with_capacity(bytes / 32),
    };
    SEEN.with(|seen| {
        // Only this function borrows it, and it never calls itself.
        let mut seen = seen.borrow_mut();
        seen.start_text();
        let mut sink = Distinct {
            list: &mut list,
            seen: &mut seen,
            stamp: None,
        };
        for part in parts {
            analyze_into(part, &mut sink);
        }
    });
    list
}

/// The stored fields of an archived message that its `messages_fts` row indexes, in order:
/// the tool name, the tool arguments (when stored apart from the text), the text.
fn message_parts<'a>(
    tool_name: Option<&'a str>,
    tool_args: Option<&'a str>,
    text: &'a str,
) -> Vec<&'a str> {
    match (tool_name, tool_args) {
        (Some(name), Some(args)) => vec![name, args, text],
        (Some(name), None) => vec![name, text],
        _ => vec![text],
    }
}

/// The terms an archived message is indexed under: its fields' distinct terms
/// ([`distinct_terms_listed`]).
pub(crate) fn distinct_message_terms(
    tool_name: Option<&str>,
    tool_args: Option<&str>,
    text: &str,
) -> TermList {
    distinct_terms_listed(&message_parts(tool_name, tool_args, text))
}

/// An archived message's full term sequence, repeats and order kept: what its `messages_fts`
/// row holds each term of once, for checking phrases ([`PhraseCheck`]).
pub(crate) fn message_terms(
    tool_name: Option<&str>,
    tool_args: Option<&str>,
    text: &str,
) -> String {
    terms_for_index_of(&message_parts(tool_name, tool_args, text))
}

/// The `terms` format with repeats dropped: `seen` holds the terms listed so far.
struct Distinct<'a> {
    list: &'a mut TermList,
    seen: &'a mut SeenTerms,
    /// This text's word cache stamp, once taken.
    stamp: Option<u32>,
}

impl TermSink for Distinct<'_> {
    fn stamp(&mut self, cache: &mut WordCache) -> Option<u32> {
        Some(*self.stamp.get_or_insert_with(|| cache.next_stamp()))
    }

    fn term(&mut self, term: &str) {
        let start = self.list.text.len() + usize::from(!self.list.text.is_empty());
        if self.seen.insert(term, &self.list.text, start) {
            self.list.push(term);
        }
    }

    fn packed_term(&mut self, term: &PackedTerm) {
        if self.seen.insert_packed(term) {
            self.list.push(term.as_str());
        }
    }
}

/// The analyzer proper. A newline always ends a token and a CJK run, so the text is taken a
/// line at a time: an ASCII line (nearly every line of code, logs and English prose) goes
/// through a byte loop that slices tokens out of the text; any other line through the
/// character loop, which folds full-width forms and segments CJK.
fn analyze_into(text: &str, sink: &mut impl TermSink) {
    // A colored tool output's `ESC [ 31 m` would otherwise glue `31m` to the word after it.
    let text = &*crate::host::transcript::without_escapes(text);
    thread_local! {
        /// The thread's word cache, and the token list of its last ASCII line (kept, emptied,
        /// so that each text does not grow a new one).
        static CACHE: std::cell::RefCell<(WordCache, Vec<LineToken>)> =
            std::cell::RefCell::default();
    }
    CACHE.with(|cache| {
        // The analyzer never calls itself, so this is the only borrow.
        let mut cache = cache.borrow_mut();
        let (cache, tokens) = &mut *cache;
        let stamp = sink.stamp(cache);
        let mut scratch = Scratch {
            stamp,
            cache,
            lower: String::new(),
            latin: String::new(),
            cjk: String::new(),
            joined: String::new(),
            parts: Vec::new(),
            tokens: std::mem::take(tokens),
        };
        let mut start = 0;
        let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
        for end in ends {
            let line = &text[start..end];
            start = end + 1;
            if line.is_ascii() {
                analyze_ascii_line(line, &mut scratch, sink);
            } else {
                analyze_unicode_line(line, &mut scratch, sink);
            }
        }
        // A list grown by one huge line is not kept at that size.
        if scratch.tokens.capacity() <= 1 << 14 {
            *tokens = scratch.tokens;
        }
    });
}

/// Buffers reused across the tokens of one text, and the thread's word cache.
struct Scratch<'c> {
    /// Word → term decisions of this thread ([`push_word`]).
    cache: &'c mut WordCache,
    /// The sink's word cache stamp ([`TermSink::stamp`]).
    stamp: Option<u32>,
    /// A one-part ASCII token, lowercased.
    lower: String,
    /// Folded Latin token (Unicode path).
    latin: String,
    /// CJK run (Unicode path).
    cjk: String,
    /// Lowercased identifier parts, concatenated.
    joined: String,
    /// Byte ranges of the parts in `joined`.
    parts: Vec<(usize, usize)>,
    /// The tokens of the ASCII line being analyzed.
    tokens: Vec<LineToken>,
}

const fn is_ascii_connector(b: u8) -> bool {
    matches!(b, b'_' | b'.' | b'/' | b'\\' | b'-' | b':')
}

/// [`ASCII_CLASS`] bit: a lowercase letter.
const LOWER: u8 = 1;
/// [`ASCII_CLASS`] bit: an uppercase letter.
const UPPER: u8 = 2;
/// [`ASCII_CLASS`] bit: a digit.
const DIGIT: u8 = 4;
/// [`ASCII_CLASS`] bit: an identifier connector ([`is_ascii_connector`]).
const CONNECTOR: u8 = 8;

/// What each byte is to the ASCII tokenizer (0: it ends a token).
static ASCII_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_lowercase() {
            LOWER
        } else if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_digit() {
            DIGIT
        } else if is_ascii_connector(c) {
            CONNECTOR
        } else {
            0
        };
        b += 1;
    }
    table
};

/// How many tokens ahead [`analyze_ascii_line`] prefetches word cache slots.
const LOOKAHEAD: usize = 8;

/// A token of an ASCII line, cut by [`analyze_ascii_line`].
#[derive(Clone, Copy)]
struct LineToken {
    start: usize,
    end: usize,
    /// For a one-part word of letters (nearly every token of prose and logs): its word cache
    /// key, lowercased.
    key: Option<Key>,
}

/// Cuts an ASCII line into tokens, then analyzes them in order.
///
/// The word cache outgrows the CPU's cache, so most lookups of a rarer word miss it; cutting
/// the line first lets the slot of the word [`LOOKAHEAD`] tokens ahead be prefetched while
/// this one is analyzed. A word the cache knows costs one probe; any other token takes
/// [`analyze_ascii_token`].
fn analyze_ascii_line(text: &str, scratch: &mut Scratch, sink: &mut impl TermSink) {
    let mut tokens = std::mem::take(&mut scratch.tokens);
    tokens.clear();
    cut_ascii_line(text.as_bytes(), &mut tokens);
    for key in tokens.iter().take(LOOKAHEAD).filter_map(|t| t.key) {
        scratch.cache.prefetch(key);
    }
    for (i, token) in tokens.iter().enumerate() {
        if let Some(key) = tokens.get(i + LOOKAHEAD).and_then(|t| t.key) {
            scratch.cache.prefetch(key);
        }
        let word = &text[token.start..token.end];
        let known = match (token.key, scratch.stamp) {
            (Some(key), Some(stamp)) => match scratch.cache.get_stamped(key, stamp) {
                Stamped::Term(term) => {
                    sink.packed_term(term);
                    true
                }
                Stamped::Stop | Stamped::Repeat => true,
                Stamped::Miss => false,
            },
            (Some(key), None) => match scratch.cache.get_key(key) {
                Cached::Term(term) => {
                    sink.term(term);
                    true
                }
                Cached::Stop => true,
                Cached::Miss => false,
            },
            (None, _) => false,
        };
        if !known {
            analyze_ascii_token(word, scratch, sink);
        }
    }
    scratch.tokens = tokens;
}

/// The tokens of an ASCII line, connectors trimmed from both ends.
fn cut_ascii_line(line: &[u8], tokens: &mut Vec<LineToken>) {
    let mut i = 0;
    while i < line.len() {
        if ASCII_CLASS[usize::from(line[i])] == 0 {
            i += 1;
            continue;
        }
        let start = i;
        // The classes of the token's first byte and of the rest, gathered on the way: a token
        // with no connector (nearly all of them) needs no trimming and no second pass.
        let first_class = ASCII_CLASS[usize::from(line[i])];
        let mut rest = 0;
        i += 1;
        while let Some(&b) = line.get(i) {
            let class = ASCII_CLASS[usize::from(b)];
            if class == 0 {
                break;
            }
            rest |= class;
            i += 1;
        }
        if (first_class | rest) & CONNECTOR == 0 {
            tokens.push(LineToken::new(
                line,
                start,
                i,
                case_of_classes(first_class, rest),
            ));
            continue;
        }
        let (mut first, mut last) = (start, i);
        while first < last && is_ascii_connector(line[first]) {
            first += 1;
        }
        while first < last && is_ascii_connector(line[last - 1]) {
            last -= 1;
        }
        if first < last {
            let case = single_part(&line[first..last]);
            tokens.push(LineToken::new(line, first, last, case));
        }
    }
}

impl LineToken {
    /// The token `line[start..end]`, whose [`single_part`] is `case`.
    fn new(line: &[u8], start: usize, end: usize, case: Option<Case>) -> LineToken {
        let letter_first = line[start].is_ascii_alphabetic();
        let key = match case {
            Some(_) if letter_first => WordCache::letters_key(line, start, end),
            _ => None,
        };
        LineToken { start, end, key }
    }
}

/// [`analyze_latin_token`] for an ASCII token: the same parts, computed on bytes.
///
/// A token that is one part (a lowercase, uppercase or capitalized word, or a number: nearly
/// every token of prose and logs) goes straight to [`push_word`], lowercased on the stack;
/// only identifiers build their parts.
fn analyze_ascii_token(word: &str, scratch: &mut Scratch, sink: &mut impl TermSink) {
    let token = word.as_bytes();
    if token.len() > MAX_WHOLE_CHARS {
        return;
    }
    match single_part(token) {
        Some(Case::Lower) => return push_word(word, scratch.cache, sink),
        Some(Case::Upper) => {
            scratch.lower.clear();
            scratch.lower.push_str(word);
            scratch.lower.make_ascii_lowercase();
            return push_word(&scratch.lower, scratch.cache, sink);
        }
        None => {}
    }
    let Scratch {
        cache,
        joined,
        parts,
        ..
    } = scratch;
    joined.clear();
    parts.clear();
    for piece in token.split(|&b| is_ascii_connector(b)) {
        let mut start = 0;
        for i in 1..piece.len() {
            let (prev, cur) = (piece[i - 1], piece[i]);
            let next = piece.get(i + 1).copied();
            let hump = prev.is_ascii_lowercase() && cur.is_ascii_uppercase();
            let acronym_end = prev.is_ascii_uppercase()
                && cur.is_ascii_uppercase()
                && next.is_some_and(|b| b.is_ascii_lowercase());
            let digit_edge = prev.is_ascii_digit() != cur.is_ascii_digit();
            if hump || acronym_end || digit_edge {
                push_lower_part(joined, parts, &piece[start..i]);
                start = i;
            }
        }
        if start < piece.len() {
            push_lower_part(joined, parts, &piece[start..]);
        }
    }
    match parts.as_slice() {
        [] => {}
        [_] => push_word(joined, cache, sink),
        _ => {
            let kept = || {
                parts
                    .iter()
                    .filter(|&&(start, end)| !is_lone_ascii_letter(&joined[start..end]))
                    .count()
            };
            if sink.wants_wholes() || kept() < 2 {
                push_whole(joined, cache, sink);
            }
            for &(start, end) in parts.iter() {
                let part = &joined[start..end];
                // A lone ASCII letter cut out of an identifier (`f247b7`, `x_pos`) is noise
                // that would match every hex id; the whole identifier still carries it.
                if !is_lone_ascii_letter(part) {
                    push_word(part, cache, sink);
                }
            }
        }
    }
}

/// Whether a one-part token has uppercase letters to fold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    /// Already lowercase (or digits).
    Lower,
    /// Has uppercase letters.
    Upper,
}

/// Whether the identifier split would give `token` whole as its only part (all digits, or
/// letters that are all lowercase, all uppercase, or one uppercase then lowercase: no
/// connector, no letter/digit boundary, no camelCase hump, no acronym end), and its case.
fn single_part(token: &[u8]) -> Option<Case> {
    let (&first, rest) = token.split_first()?;
    let first_class = ASCII_CLASS[usize::from(first)];
    let mut rest_classes = 0;
    for &b in rest {
        rest_classes |= ASCII_CLASS[usize::from(b)];
    }
    case_of_classes(first_class, rest_classes)
}

/// [`single_part`] of a token whose first byte has class `first` and whose other bytes have,
/// together, the classes `rest`.
fn case_of_classes(first: u8, rest: u8) -> Option<Case> {
    match (first, rest) {
        (DIGIT, DIGIT | 0) | (LOWER, LOWER | 0) => Some(Case::Lower),
        (UPPER, LOWER | UPPER | 0) => Some(Case::Upper),
        _ => None,
    }
}

fn push_lower_part(joined: &mut String, parts: &mut Vec<(usize, usize)>, part: &[u8]) {
    let start = joined.len();
    joined.extend(part.iter().map(|b| char::from(b.to_ascii_lowercase())));
    parts.push((start, joined.len()));
}

fn analyze_unicode_line(line: &str, scratch: &mut Scratch, sink: &mut impl TermSink) {
    let line = composed(line);
    for c in line.chars().filter_map(visible) {
        match classify(c) {
            CharClass::Cjk => {
                flush_latin(scratch, sink);
                scratch.cjk.push(c);
            }
            CharClass::Word | CharClass::Connector => {
                flush_cjk(&mut scratch.cjk, sink);
                scratch.latin.push(c);
            }
            CharClass::Other => {
                flush_latin(scratch, sink);
                flush_cjk(&mut scratch.cjk, sink);
            }
        }
    }
    flush_latin(scratch, sink);
    flush_cjk(&mut scratch.cjk, sink);
}

fn flush_cjk(run: &mut String, sink: &mut impl TermSink) {
    if run.is_empty() {
        return;
    }
    cut_cjk(run, |word| {
        let word = word.trim();
        if !word.is_empty() && word.chars().all(is_cjk) && !is_stop_word(word) {
            sink.term(word);
        }
    });
    run.clear();
}

fn flush_latin(scratch: &mut Scratch, sink: &mut impl TermSink) {
    let raw = std::mem::take(&mut scratch.latin);
    let token = raw.trim_matches(|c| classify(c) == CharClass::Connector);
    if !token.is_empty() {
        if token.is_ascii() {
            analyze_ascii_token(token, scratch, sink);
        } else {
            analyze_latin_token(token, scratch.cache, sink);
        }
    }
    scratch.latin = raw;
    scratch.latin.clear();
}

/// Analyzes one token of letters, digits and connectors (no leading or trailing connector).
fn analyze_latin_token(token: &str, cache: &mut WordCache, sink: &mut impl TermSink) {
    if token.chars().count() > MAX_WHOLE_CHARS {
        return;
    }
    if is_plain_word(token) {
        // The common case (`retry`, `The`): one part, no identifier splitting to allocate for.
        push_word(&token.to_lowercase(), cache, sink);
        return;
    }
    let parts = split_identifier(token);
    match parts.as_slice() {
        [] => {}
        [only] => push_word(only, cache, sink),
        _ => {
            if sink.wants_wholes() || parts.iter().filter(|p| !is_lone_ascii_letter(p)).count() < 2
            {
                push_whole(&parts.concat(), cache, sink);
            }
            // A lone ASCII letter cut out of an identifier (`f247b7`, `x_pos`) is noise that
            // would match every hex id; the whole identifier still carries it.
            for part in parts.iter().filter(|p| !is_lone_ascii_letter(p)) {
                push_word(part, cache, sink);
            }
        }
    }
}

fn is_lone_ascii_letter(part: &str) -> bool {
    part.len() == 1 && part.as_bytes()[0].is_ascii_alphabetic()
}

/// Whether [`split_identifier`] would return `token` as its only part: no connector, no
/// camelCase hump or acronym end, no letter/digit boundary. Allocates nothing.
fn is_plain_word(token: &str) -> bool {
    let mut chars = token.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let digits = first.is_numeric();
    // After the first character, an uppercase letter always starts a new part (a hump after a
    // lowercase letter, or the end of an acronym before a lowercase one) unless the whole
    // token is uppercase, which the slow path handles.
    chars.all(|c| {
        classify(c) != CharClass::Connector && c.is_numeric() == digits && !c.is_uppercase()
    })
}

/// An identifier's whole form (its parts joined, lowercase: `fetchuserprofiles`), then, for
/// one of letters only, its stem when that differs (`fetchuserprofil`): the stem is what the
/// same letters written as one word give (`fetchuserprofiles`, `FETCHUSERPROFILES`), so the
/// identifier and the word find each other, and a camelCase query finds the one word.
fn push_whole(joined: &str, cache: &mut WordCache, sink: &mut impl TermSink) {
    sink.term(joined);
    let letters = joined.chars().all(char::is_alphabetic);
    if !letters || joined.chars().count() > MAX_PART_CHARS {
        return;
    }
    match cache.get(joined) {
        Cached::Term(term) if term != joined => sink.term(term),
        Cached::Term(_) | Cached::Stop => {}
        Cached::Miss => {
            let term = word_term(joined);
            if let Some(term) = term.as_deref().filter(|t| *t != joined) {
                sink.term(term);
            }
            cache.insert(joined, term.as_deref());
        }
    }
}

/// Pushes a lowercase word unless it is a stop word or a blob; alphabetic words are stemmed.
///
/// The decision for an alphabetic word is remembered per thread ([`WordCache`]): most words of
/// a transcript were seen moments ago, and one probe replaces the stop-word lookups and the
/// stemmer (which allocates). Words with digits are never stop words (those are all letters)
/// and are pushed as they are, uncached.
fn push_word(word: &str, cache: &mut WordCache, sink: &mut impl TermSink) {
    let folded: String;
    let word = if !word.is_ascii() && word.chars().any(|c| fold_case_variant(c).is_some()) {
        folded = word
            .chars()
            .map(|c| fold_case_variant(c).unwrap_or(c))
            .collect();
        folded.as_str()
    } else {
        word
    };
    let ascii = word.is_ascii();
    let long = if ascii {
        word.len() > MAX_PART_CHARS
    } else {
        word.chars().count() > MAX_PART_CHARS
    };
    if long {
        return;
    }
    let alphabetic = if ascii {
        word.bytes().all(|b| b.is_ascii_alphabetic())
    } else {
        word.chars().all(char::is_alphabetic)
    };
    if !alphabetic {
        sink.term(word);
        return;
    }
    match cache.get(word) {
        Cached::Term(term) => sink.term(term),
        Cached::Stop => {}
        Cached::Miss => {
            let term = word_term(word);
            if let Some(term) = &term {
                sink.term(term);
            }
            cache.insert(word, term.as_deref());
        }
    }
}

/// The term of an alphabetic lowercase word: its Snowball stem, or `None` for a stop word.
fn word_term(word: &str) -> Option<Box<str>> {
    if is_stop_word(word) {
        return None;
    }
    let stemmed = STEMMER.stem(word);
    (!stemmed.is_empty() && !is_stop_word(&stemmed)).then(|| stemmed.into())
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
            let acronym_end =
                prev.is_uppercase() && cur.is_uppercase() && next.is_some_and(char::is_lowercase);
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

/// `chars` lowercased and case-folded ([`fold_case_variant`]).
fn lower(chars: &[char]) -> String {
    chars
        .iter()
        .flat_map(|c| c.to_lowercase())
        .map(|c| fold_case_variant(c).unwrap_or(c))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Query syntax
// ---------------------------------------------------------------------------------------------

/// Why a query cannot be searched. Displayed to the user as recall status `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Nothing but whitespace was given.
    #[error("the query is empty; pass a few distinctive words, e.g. csep recall \"retry timeout\"")]
    Empty,
    /// The query is longer than [`MAX_QUERY_CHARS`].
    #[error(
        "the query is {chars} characters long, more than the {max} allowed; search with a few \
         distinctive words instead of a whole text"
    )]
    TooLong {
        /// Length of the query, in characters.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// A `"` opens a phrase that no `"` closes.
    #[error(
        "the query has an unclosed quote (\"): close the phrase (\"order timeout\") or drop \
         the quote"
    )]
    UnclosedQuote,
    /// Every clause is an exclusion (`-word`), so there is nothing to search for.
    #[error(
        "the query only excludes words (-word); add at least one word to search for, \
         e.g. \"deploy -staging\""
    )]
    OnlyExclusions,
}

/// One clause of a query, as the user wrote it.
#[derive(Debug, PartialEq, Eq)]
enum Clause<'a> {
    /// A bare word: optional (OR).
    Word(&'a str),
    /// `"…"`: required, its words adjacent and in order.
    Phrase(&'a str),
    /// `-word` or `-"…"`: rows containing it are dropped.
    Exclude(&'a str),
}

/// Splits a query into clauses. A `-` that is not followed by a clause is ignored, and one
/// followed by another `-` starts a word (a command-line option such as `--test`, which is
/// searched for, not excluded). An unclosed `"` is an error: a phrase that silently ran to the
/// end of the query made a search fail with no word of why.
fn parse_clauses(query: &str) -> Result<Vec<Clause<'_>>, QueryError> {
    let mut clauses = Vec::new();
    let mut rest = query;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        let negated = rest.starts_with('-') && !rest.starts_with("--");
        if negated {
            rest = &rest[1..];
            if rest.is_empty() || rest.starts_with(char::is_whitespace) {
                continue;
            }
        }
        let (text, phrase) = if let Some(inner) = rest.strip_prefix('"') {
            let end = inner.find('"').ok_or(QueryError::UnclosedQuote)?;
            let text = &inner[..end];
            rest = &inner[end + 1..];
            (text, true)
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"')
                .unwrap_or(rest.len());
            let text = &rest[..end];
            rest = &rest[end..];
            (text, false)
        };
        clauses.push(match (negated, phrase) {
            (true, _) => Clause::Exclude(text),
            (false, true) => Clause::Phrase(text),
            (false, false) => Clause::Word(text),
        });
    }
    Ok(clauses)
}

/// `terms` as one FTS5 phrase (`"a b"`), quotes doubled.
pub(crate) fn quote_phrase(terms: &[String]) -> String {
    format!("\"{}\"", terms.join(" ").replace('"', "\"\""))
}

/// Builds the FTS5 MATCH string for a user query.
///
/// Semantics: bare words are ORed (a row needs one of them; BM25 ranks rows with more of them
/// higher); a `"quoted phrase"` is required, its words adjacent and in order; `-word` or
/// `-"phrase"` drops rows that contain it. Words go through [`analyze`], so stemming, identifier
/// splitting and CJK segmentation apply to queries exactly as to the index, and FTS5 operators
/// typed by the user (`NEAR`, `AND`, `*`, `col:`) are plain words or nothing.
///
/// Returns `Ok(None)` when the query has no searchable word (only stop words or punctuation):
/// a clear "nothing to search", not an error. At most [`MAX_QUERY_TERMS`] distinct optional
/// terms are kept. The string must be bound as a parameter, never spliced into SQL.
pub fn match_expr(query: &str) -> Result<Option<String>, QueryError> {
    Ok(match_query(query)?.map(|q| q.expr))
}

/// A query's clauses, each analyzed once: what [`match_query`], [`query_terms`] and
/// [`has_required_or_excluded`] are built from.
struct Analyzed {
    /// The terms of the bare words, in order, repeats kept.
    words: Vec<String>,
    /// Each quoted phrase's terms (none for a phrase of stop words).
    phrases: Vec<Vec<String>>,
    /// Each exclusion's terms (none for one of stop words).
    exclusions: Vec<Vec<String>>,
    /// The distinct terms of the bare words and phrases, in query order, at most
    /// [`MAX_QUERY_TERMS`] ([`query_terms`]).
    terms: Vec<String>,
}

impl Analyzed {
    fn of(query: &str) -> Result<Analyzed, QueryError> {
        let mut analyzed = Analyzed {
            words: Vec::new(),
            phrases: Vec::new(),
            exclusions: Vec::new(),
            terms: Vec::new(),
        };
        let mut seen = HashSet::new();
        for clause in parse_clauses(query)? {
            let (Clause::Word(text) | Clause::Phrase(text) | Clause::Exclude(text)) = clause;
            // A clause never holds whitespace, so its terms are those it contributes to the
            // analysis of the whole query; a phrase's and an exclusion's identifiers give their
            // parts only ([`phrase_terms`]).
            let terms = match clause {
                Clause::Word(_) => analyze(text),
                Clause::Phrase(_) | Clause::Exclude(_) => phrase_terms(text),
            };
            if !matches!(clause, Clause::Exclude(_)) {
                for term in &terms {
                    if seen.insert(term.clone()) {
                        analyzed.terms.push(term.clone());
                    }
                }
            }
            match clause {
                Clause::Word(_) => analyzed.words.extend(terms),
                Clause::Phrase(_) => analyzed.phrases.push(terms),
                Clause::Exclude(_) => analyzed.exclusions.push(terms),
            }
        }
        analyzed.terms.truncate(MAX_QUERY_TERMS);
        Ok(analyzed)
    }
}

/// A query's clauses as pieces of a MATCH string, for rows with positions or (`distinct`) for
/// rows that hold each term once ([`MatchQuery::distinct_expr`]).
struct Pieces {
    /// Required phrases (ANDed), quoted; for the distinct index a multi-word phrase is its
    /// words ANDed.
    required: Vec<String>,
    /// The distinct bare-word terms (ORed), quoted, at most [`MAX_QUERY_TERMS`].
    optional: Vec<String>,
    /// Excluded phrases, quoted; for the distinct index only one-word ones.
    excluded: Vec<String>,
    /// The multi-word phrases the distinct index leaves to a check.
    check: PhraseCheck,
}

impl Pieces {
    fn of(analyzed: &Analyzed, distinct: bool) -> Pieces {
        let mut pieces = Pieces {
            required: Vec::new(),
            optional: Vec::new(),
            excluded: Vec::new(),
            check: PhraseCheck::default(),
        };
        for terms in &analyzed.phrases {
            // FTS5 matches a phrase as adjacent terms; a Chinese phrase is held where its
            // text is ([`holds_phrase`]), which jieba's terms do not always make adjacent: its
            // words are asked for and the phrase is checked.
            if terms.len() > 1 && (distinct || is_cjk_phrase(terms)) {
                let all: Vec<String> = terms
                    .iter()
                    .map(|t| quote_phrase(std::slice::from_ref(t)))
                    .collect();
                pieces.required.push(format!("({})", all.join(" AND ")));
                pieces.check.required.push(terms.clone());
            } else if !terms.is_empty() {
                pieces.required.push(quote_phrase(terms));
            }
        }
        for terms in &analyzed.exclusions {
            if terms.len() > 1 && (distinct || is_cjk_phrase(terms)) {
                pieces.check.excluded.push(terms.clone());
            } else if !terms.is_empty() {
                pieces.excluded.push(quote_phrase(terms));
            }
        }
        let mut seen = HashSet::new();
        pieces.optional = analyzed
            .words
            .iter()
            .filter(|t| seen.insert(t.as_str()))
            .take(MAX_QUERY_TERMS)
            .map(|t| quote_phrase(std::slice::from_ref(t)))
            .collect();
        pieces.required.dedup();
        pieces.check.required.dedup();
        pieces
    }

    /// The MATCH string (the caller checked that there is a required or optional piece).
    fn assemble(&self) -> String {
        let (required, optional) = (&self.required, &self.optional);
        let positive = if required.is_empty() {
            optional.join(" OR ")
        } else if optional.is_empty() && required.len() == 1 {
            required[0].clone()
        } else {
            // The phrases are required (ANDed); ORing them again with the optional words makes
            // BM25 score the optional words too without making any of them required.
            let any: Vec<&str> = required
                .iter()
                .chain(optional)
                .map(String::as_str)
                .collect();
            format!("{} AND ({})", required.join(" AND "), any.join(" OR "))
        };
        if self.excluded.is_empty() {
            positive
        } else {
            format!("({positive}) NOT ({})", self.excluded.join(" OR "))
        }
    }
}

/// A query read once: its MATCH strings for both kinds of FTS rows, the phrase check the
/// second needs, and the terms ranking counts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MatchQuery {
    /// For rows that keep every term in place (`memory_fts`, `recall_fts`): [`match_expr`].
    pub(crate) expr: String,
    /// For rows that keep each term once (`messages_fts`,
    /// [`distinct_terms_listed`]), where adjacency cannot be matched: a required
    /// phrase asks for all its words, a multi-word exclusion is left to [`PhraseCheck`].
    pub(crate) distinct_expr: String,
    /// What rows matched by `distinct_expr` must still pass.
    pub(crate) check: PhraseCheck,
    /// What rows matched by `expr` must still pass: its Chinese phrases, which `expr` asks for
    /// as words, and its excluded Chinese phrases, which it leaves out ([`holds_phrase`]).
    pub(crate) entry_check: PhraseCheck,
    /// `distinct_expr` as sets, for the archive's own index (`crate::archive::index`): a
    /// matching row holds every one of these terms (the words of the required phrases)...
    pub(crate) distinct_required: Vec<String>,
    /// ...and none of these (the one-word exclusions).
    pub(crate) distinct_excluded: Vec<String>,
    /// The query's distinct terms ([`query_terms`]).
    pub(crate) terms: Vec<String>,
    /// Whether it has a required phrase or an exclusion ([`has_required_or_excluded`]): then a
    /// row must match the whole expression, not just one of the terms.
    pub(crate) whole: bool,
    /// Each exclusion's terms, one word or a phrase (none of only stop words): what a
    /// session's shown window must not hold either.
    pub(crate) excluded: Vec<Vec<String>>,
}

/// Whether the term sequence `seq` holds `phrase`, its terms adjacent and in order.
///
/// A phrase of Chinese (or Japanese) words is held where its text is: jieba's search mode lists
/// a word's shorter words before it (`清华大学` gives `清华 华大 大学 清华大学`), so a phrase
/// that starts or ends inside a longer word (`"大学计算机系"` in `清华大学计算机系`) is not a
/// run of the longer text's terms. The words are recovered from each side's terms
/// ([`cjk_words`]) and the phrase's must be found, as one string, in a run of the row's. (A
/// search still asks for every term of the phrase first: one that starts with a fragment jieba
/// keeps as a term of its own, such as `学` of `"学计算机系"`, finds only rows that hold it.
/// Words the analyzer drops, such as `的`, leave no gap: `大学的计算机系` holds
/// `"大学计算机系"`.)
pub(crate) fn holds_phrase(seq: &[&str], phrase: &[String]) -> bool {
    if phrase.is_empty() {
        return false;
    }
    let adjacent = seq
        .windows(phrase.len())
        .any(|w| w.iter().zip(phrase).all(|(a, b)| *a == b.as_str()));
    if adjacent || !is_cjk_phrase(phrase) {
        return adjacent;
    }
    let wanted: String = cjk_words(phrase).concat();
    seq.split(|term| !has_cjk(term))
        .any(|run| cjk_words(run).concat().contains(&wanted))
}

/// Whether every term of `phrase` is Chinese or Japanese: a phrase [`holds_phrase`] finds
/// where its text is.
fn is_cjk_phrase(phrase: &[String]) -> bool {
    phrase.iter().all(|term| has_cjk(term))
}

/// The words of a run of CJK terms as jieba's search mode lists them: before each word of
/// more than two characters, those of its two-character parts that are words themselves, from
/// the first, then (for a word of more than three) its three-character ones ([`search_parts`]).
/// Read from the end, a term is a part of the word after it when it is one of the parts that
/// word has left, in that order; any other term is a word of its own (`文件 文件 件夹 文件夹`
/// is the words `文件 文件夹`).
fn cjk_words<T: AsRef<str>>(terms: &[T]) -> Vec<&str> {
    let mut words: Vec<&str> = Vec::new();
    // The parts the last word read may still list before it, the latest first.
    let mut parts: Vec<&str> = Vec::new();
    for term in terms.iter().rev().map(AsRef::as_ref) {
        if let Some(at) = parts.iter().position(|part| *part == term) {
            parts.drain(..=at);
            continue;
        }
        words.push(term);
        parts = search_parts(term);
    }
    words.reverse();
    words
}

/// The parts jieba's search mode may list before `word`, in the reverse of its order: the
/// three-character ones from the last (a word of more than three characters), then the
/// two-character ones from the last (a word of more than two).
fn search_parts(word: &str) -> Vec<&str> {
    let bounds: Vec<usize> = word
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(word.len()))
        .collect();
    let chars = bounds.len() - 1;
    let gram = |i: usize, n: usize| &word[bounds[i]..bounds[i + n]];
    let mut parts = Vec::new();
    if chars > 3 {
        parts.extend((0..chars - 2).rev().map(|i| gram(i, 3)));
    }
    if chars > 2 {
        parts.extend((0..chars - 1).rev().map(|i| gram(i, 2)));
    }
    parts
}

/// The multi-word phrases of a query, checked against a row's full term sequence
/// ([`terms_for_index_of`]): rows of the distinct index that hold the words of a required
/// phrase but not the phrase, or that hold an excluded phrase, are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PhraseCheck {
    required: Vec<Vec<String>>,
    excluded: Vec<Vec<String>>,
}

impl PhraseCheck {
    /// Whether there is nothing to check (no phrase of two words or more).
    pub(crate) fn is_empty(&self) -> bool {
        self.required.is_empty() && self.excluded.is_empty()
    }

    /// Whether a row whose full `terms` (space-separated) are these passes: every required
    /// phrase occurs in it, words adjacent and in order, and no excluded one does.
    pub(crate) fn passes(&self, terms: &str) -> bool {
        if self.is_empty() {
            return true;
        }
        let seq: Vec<&str> = terms.split(' ').filter(|t| !t.is_empty()).collect();
        let holds = |phrase: &Vec<String>| holds_phrase(&seq, phrase);
        self.required.iter().all(holds) && !self.excluded.iter().any(holds)
    }
}

/// Reads a query once ([`MatchQuery`]); the errors and `Ok(None)` are [`match_expr`]'s.
pub(crate) fn match_query(query: &str) -> Result<Option<MatchQuery>, QueryError> {
    let query = query.trim();
    if query.is_empty() {
        return Err(QueryError::Empty);
    }
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong {
            chars,
            max: MAX_QUERY_CHARS,
        });
    }
    let analyzed = Analyzed::of(query)?;
    let full = Pieces::of(&analyzed, false);
    if full.optional.is_empty() && full.required.is_empty() {
        // An excluded Chinese phrase is left to the check, not to `full.excluded`.
        return if full.excluded.is_empty() && full.check.excluded.is_empty() {
            Ok(None)
        } else {
            Err(QueryError::OnlyExclusions)
        };
    }
    let distinct = Pieces::of(&analyzed, true);
    let mut distinct_required: Vec<String> = Vec::new();
    for term in analyzed.phrases.iter().flatten() {
        if !distinct_required.contains(term) {
            distinct_required.push(term.clone());
        }
    }
    let mut distinct_excluded: Vec<String> = Vec::new();
    for exclusion in &analyzed.exclusions {
        if let [term] = exclusion.as_slice()
            && !distinct_excluded.contains(term)
        {
            distinct_excluded.push(term.clone());
        }
    }
    Ok(Some(MatchQuery {
        distinct_required,
        distinct_excluded,
        expr: full.assemble(),
        distinct_expr: distinct.assemble(),
        check: distinct.check,
        entry_check: full.check,
        whole: !analyzed.phrases.is_empty() || !analyzed.exclusions.is_empty(),
        terms: analyzed.terms,
        excluded: analyzed
            .exclusions
            .into_iter()
            .filter(|e| !e.is_empty())
            .collect(),
    }))
}

/// Whether the query has a `"quoted phrase"` or an exclusion: then its [`match_expr`] is more
/// than the OR of its [`query_terms`], and a row must match the whole expression (false for a
/// query that cannot be read).
pub fn has_required_or_excluded(query: &str) -> bool {
    parse_clauses(query).is_ok_and(|clauses| clauses.iter().any(|c| !matches!(c, Clause::Word(_))))
}

/// The common words (stop words) of a query's quoted phrases and exclusions, lowercase, in
/// order, each once: the index keeps none, so `"do not deploy"` is searched as `"deploy"` and
/// `-not` excludes nothing. Recall says so rather than letting the user believe otherwise.
pub fn ignored_words(query: &str) -> Vec<String> {
    let Ok(clauses) = parse_clauses(query) else {
        return Vec::new();
    };
    let mut words: Vec<String> = Vec::new();
    for clause in clauses {
        let (Clause::Phrase(text) | Clause::Exclude(text)) = clause else {
            continue;
        };
        for word in text.split(|c: char| !c.is_alphanumeric() && c != '\'') {
            let word = word.to_lowercase();
            if !word.is_empty() && is_stop_word(&word) && !words.contains(&word) {
                words.push(word);
            }
        }
    }
    words
}

/// The distinct terms of a query's bare words and phrases (not its exclusions), in order: what
/// ranking counts as "query terms" when it measures how much of a query a hit covers (none for
/// a query that cannot be read).
pub fn query_terms(query: &str) -> Vec<String> {
    Analyzed::of(query).map(|a| a.terms).unwrap_or_default()
}

#[cfg(test)]
#[path = "analyze_tests.rs"]
mod tests;
