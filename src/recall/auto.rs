//! Recall decided by csep rather than asked for: the explicit-signal trigger of `recall-trigger`
//! and [`auto_recall`], which the UserPromptSubmit hook calls for every prompt.
//!
//! Invariants: [`auto_recall`] never fails the caller (any error gives `None` and a debug log),
//! skips trivial prompts, injects only hits above a relevance threshold, never returns the
//! asking session or anything the caller says is already in context, stays within the caller's
//! budget, and wraps its text in csep's context marker so the transcript parsers classify it as
//! injected (and the archive never indexes it). It records nothing: the caller records what
//! [`AutoRecall::injected`] lists.

use std::path::Path;

use crate::recall::analyze::{MAX_QUERY_CHARS, has_cjk, query_terms};
use crate::recall::render::{self, RecallResponse, Status};
use crate::recall::search::{self, SearchContext, SearchOptions, SearchScope};
use crate::store::db::Store;

/// Phrases that show the user refers to earlier work, checked case-insensitively as substrings
/// (English) or as-is (Chinese). The reason reported is `marker:<phrase>`.
pub const TRIGGER_MARKERS: &[&str] = &[
    "last time",
    "as before",
    "like before",
    "previously",
    "we did",
    "remember",
    "again",
    "上次",
    "之前",
    "以前",
    "还记得",
    "像上次",
];

/// Whether a prompt asks for recall, and why: `explicit` when the caller says so, then the
/// first [`TRIGGER_MARKERS`] phrase found as `marker:<phrase>`.
pub fn evaluate_trigger(query: &str, explicit: bool) -> (bool, Vec<String>) {
    let mut reasons = Vec::new();
    if explicit {
        reasons.push("explicit".to_owned());
    }
    if let Some((_, marker)) = marker_matches(query).first() {
        reasons.push(format!("marker:{marker}"));
    }
    (!reasons.is_empty(), reasons)
}

/// Where `text` holds [`TRIGGER_MARKERS`] phrases, in the list's order: English ones
/// case-insensitively and as whole words (`again`, not the start of `against`), Chinese ones
/// as they are. The byte ranges are `text`'s own.
fn marker_matches(text: &str) -> Vec<(std::ops::Range<usize>, &'static str)> {
    // ASCII lowercasing keeps every byte offset, so ranges found in `lower` hold in `text`.
    let lower = text.to_ascii_lowercase();
    let is_word_byte = |i: Option<usize>| {
        i.and_then(|i| lower.as_bytes().get(i))
            .is_some_and(u8::is_ascii_alphanumeric)
    };
    let mut found = Vec::new();
    for marker in TRIGGER_MARKERS {
        for (at, _) in lower.match_indices(marker) {
            let end = at + marker.len();
            if !marker.is_ascii() || (!is_word_byte(at.checked_sub(1)) && !is_word_byte(Some(end)))
            {
                found.push((at..end, *marker));
            }
        }
    }
    found
}

/// Fewest distinct query terms a prompt needs before auto-recall searches for it: shorter
/// prompts ("ok", "continue", "继续", "yes do it") carry no topic.
pub const AUTO_RECALL_MIN_TERMS: usize = 2;

/// Least relevance (in `[0, 1]`, see [`search`]) a hit needs to be injected unasked.
pub const AUTO_RECALL_MIN_RELEVANCE: f64 = 0.55;

/// Least share of the prompt's terms a hit must contain to be injected unasked.
pub const AUTO_RECALL_MIN_COVERAGE: f64 = 0.5;

/// Hits injected at most per prompt.
pub const AUTO_RECALL_TOP_K: usize = 3;

/// What auto-recall put into a prompt's context.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoRecall {
    /// The `additionalContext` text: Markdown inside `<csep-context kind="recall">…</csep-context>`.
    pub text: String,
    /// Ids of what it holds, best first: memory and recall entry ids, and the host session ids
    /// of session hits. The caller records them as this session's injections (so no later
    /// prompt repeats them) and the entries' use.
    pub injected: Vec<String>,
}

/// Why auto-recall injected nothing: the hook logs it as the run's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRecall {
    /// A slash command, or a prompt with too few topic words to search for.
    Trivial,
    /// No hit cleared the relevance and coverage thresholds.
    NoMatch,
    /// Hits cleared them, but not even the best one fits the budget.
    OverBudget,
    /// The search failed (the message says why).
    Failed(String),
}

impl NoRecall {
    /// The outcome label the hook logs (`skipped`, `no_match`, `over_budget`, `error`).
    pub fn outcome(&self) -> &'static str {
        match self {
            NoRecall::Trivial => "skipped",
            NoRecall::NoMatch => "no_match",
            NoRecall::OverBudget => "over_budget",
            NoRecall::Failed(_) => "error",
        }
    }

    /// What the log adds to the outcome: a failed search's message.
    pub fn detail(&self) -> Option<String> {
        match self {
            NoRecall::Failed(message) => Some(message.clone()),
            _ => None,
        }
    }
}

/// Recall for a prompt, for injection as `additionalContext` on UserPromptSubmit.
///
/// Injects nothing ([`NoRecall`]) for trivial prompts, when nothing clears the thresholds, when
/// not even the best hit fits, or on an error. The prompt is cut to [`MAX_QUERY_CHARS`]
/// characters and searched as plain words ([`prompt_query`]): a prompt is prose, often with
/// pasted commands, not query syntax. Never returned: `exclude_ids` (entries and sessions already in context:
/// what SessionStart or an earlier prompt injected) and the session `session_id` itself (its
/// turns are in the model's context already). `budget_tokens` is a hard cap on the text
/// ([`crate::llm::estimate_tokens`]): hits are shortened, then dropped from the last, until
/// the text fits. Records nothing: the caller records [`AutoRecall::injected`].
pub fn auto_recall(
    store: &Store,
    project_id: Option<&str>,
    session_id: Option<&str>,
    prompt: &str,
    exclude_ids: &[String],
    budget_tokens: usize,
) -> Result<AutoRecall, NoRecall> {
    if prompt.trim_start().starts_with('/') {
        return Err(NoRecall::Trivial);
    }
    let query = topic_query(prompt);
    if query_terms(&query).len() < AUTO_RECALL_MIN_TERMS {
        return Err(NoRecall::Trivial);
    }
    let ctx = SearchContext {
        project_id,
        cwd: None::<&Path>,
        now: jiff::Timestamp::now(),
    };
    let opts = SearchOptions {
        // Never another project's memory or sessions: unasked, they would carry one
        // repository's rules into another (SessionStart keeps to the project too).
        scope: SearchScope::Project,
        top_k: AUTO_RECALL_TOP_K,
        exclude_ids: exclude_ids.to_vec(),
        exclude_session: session_id.map(str::to_owned),
        window_before: 1,
        window_after: 2,
        ..SearchOptions::default()
    };
    let outcome = match search::search(store, &query, &ctx, &opts) {
        Ok(outcome) => outcome,
        Err(e) => {
            tracing::debug!(error = %e, "auto-recall search failed");
            return Err(NoRecall::Failed(e.to_string()));
        }
    };
    let mut hits: Vec<_> = outcome
        .hits
        .into_iter()
        .filter(|h| {
            h.relevance >= AUTO_RECALL_MIN_RELEVANCE && h.coverage >= AUTO_RECALL_MIN_COVERAGE
        })
        .collect();
    if hits.is_empty() {
        return Err(NoRecall::NoMatch);
    }
    const OPEN: &str = "<csep-context kind=\"recall\">\n";
    const CLOSE: &str = "</csep-context>\n";
    while !hits.is_empty() {
        let response = RecallResponse {
            query: String::new(),
            cwd: String::new(),
            status: Status::Matched,
            hits,
            error: None,
            note: None,
            triggered: true,
            reasons: vec!["auto".to_owned()],
        };
        // Bodies share what the frame leaves; a token is about four characters of English and
        // one of Chinese, so the shares shrink until the text fits.
        let inner = budget_tokens
            .saturating_mul(4)
            .saturating_sub(OPEN.len() + CLOSE.len());
        for share in [inner, inner / 2, inner / 4] {
            let markdown = render::render_markdown_within(&response, share);
            let text = format!("{OPEN}{markdown}{CLOSE}");
            if crate::llm::estimate_tokens(&text) <= budget_tokens as u64 {
                let injected = response.hits.iter().map(|h| h.id.clone()).collect();
                return Ok(AutoRecall { text, injected });
            }
        }
        hits = response.hits;
        hits.pop();
    }
    Err(NoRecall::OverBudget)
}

/// Words of conversation that name no topic: acknowledgements and go-aheads ("ok", "yes, run
/// them", "好的，继续"). A prompt word whose terms are all fillers or stop words is left out of
/// [`topic_query`], so it neither makes a prompt look substantial nor dilutes a hit's coverage.
const FILLER_WORDS: &[&str] = &[
    "ok",
    "okay",
    "k",
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "fine",
    "alright",
    "right",
    "thanks",
    "thank",
    "thx",
    "ty",
    "please",
    "pls",
    "plz",
    "lgtm",
    "great",
    "good",
    "cool",
    "nice",
    "perfect",
    "awesome",
    "hi",
    "hello",
    "hey",
    "hmm",
    "continue",
    "proceed",
    "go",
    "ahead",
    "let",
    "lets",
    "let's",
    "now",
    "next",
    "also",
    "done",
    "好",
    "好的",
    "好吧",
    "行",
    "可以",
    "嗯",
    "是的",
    "对",
    "没问题",
    "谢谢",
    "请",
    "继续",
    "开始",
];

/// The analyzed terms of the ASCII [`FILLER_WORDS`].
static LATIN_FILLER_TERMS: std::sync::LazyLock<std::collections::HashSet<String>> =
    std::sync::LazyLock::new(|| filler_terms(true));

/// The analyzed terms of the other [`FILLER_WORDS`]: built only for a prompt with CJK in it,
/// since each word costs a segmenter (half a MiB to set up), which an English prompt must not
/// pay.
static CJK_FILLER_TERMS: std::sync::LazyLock<std::collections::HashSet<String>> =
    std::sync::LazyLock::new(|| filler_terms(false));

fn filler_terms(ascii: bool) -> std::collections::HashSet<String> {
    FILLER_WORDS
        .iter()
        .filter(|w| w.is_ascii() == ascii)
        .flat_map(|w| query_terms(w))
        .collect()
}

/// Whether an analyzed term is a filler word's.
fn is_filler_term(term: &str) -> bool {
    if has_cjk(term) {
        CJK_FILLER_TERMS.contains(term)
    } else {
        LATIN_FILLER_TERMS.contains(term)
    }
}

/// `text` with each of its [`TRIGGER_MARKERS`] phrases ([`marker_matches`]) made spaces.
fn without_markers(text: &str) -> String {
    let mut cut = vec![false; text.len()];
    for (range, _) in marker_matches(text) {
        cut[range].fill(true);
    }
    text.char_indices()
        .map(|(i, c)| if cut[i] { ' ' } else { c })
        .collect()
}

/// What a prompt is about, as plain query words: the prompt cut to [`MAX_QUERY_CHARS`]
/// characters, without the [`TRIGGER_MARKERS`] phrases ("like last time" says to look back,
/// not what for), read as plain words ([`prompt_query`]), without the words that are only
/// filler words (acknowledgements, go-aheads) or stop words. Auto-recall and `recall-trigger`
/// search this.
pub fn topic_query(prompt: &str) -> String {
    let prompt: String = prompt.chars().take(MAX_QUERY_CHARS).collect();
    prompt_query(&without_markers(&prompt))
        .split(' ')
        .filter(|word| !is_opaque_token(word))
        .filter(|word| query_terms(word).iter().any(|term| !is_filler_term(term)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a prompt word names no topic but one object: a URL, a commit hash or other hex id,
/// a UUID, a random-looking token (a pasted key, an id such as `XyZ123AbC456`) or a redaction
/// marker. Such a word is split into many terms (a hash's digit runs, a URL's host and path
/// words) that no memory holds, so one of them in a prompt pulled every hit's coverage below
/// the auto-recall threshold; [`topic_query`] leaves them out.
pub fn is_opaque_token(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '[' && c != ']');
    if word.contains("://") || word.starts_with("[REDACTED:") {
        return true;
    }
    let has_digit = word.bytes().any(|b| b.is_ascii_digit());
    let has_letter = word.bytes().any(|b| b.is_ascii_alphabetic());
    if !(has_digit && has_letter && word.is_ascii()) {
        return false;
    }
    // Letters and digits switching places: `3f2a9c1`, `XyZ123AbC456`; not `utf8`, `phase2`,
    // `ed25519`, `base64Encode` or `sha256sum`.
    let switches = word
        .as_bytes()
        .windows(2)
        .filter(|w| w[0].is_ascii_digit() != w[1].is_ascii_digit())
        .filter(|w| w.iter().all(u8::is_ascii_alphanumeric))
        .count();
    // A hex id: a commit hash (7 or more), a UUID (its dashes aside).
    let hex = word.replace('-', "");
    let dashes = word.len() - hex.len();
    if hex.len() >= 7
        && (dashes == 0 || dashes == 4)
        && switches >= 2
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return true;
    }
    // Three switches or more in a long run: a random id or a pasted token (`ghp_…`).
    word.len() >= 10 && switches >= 3
}

/// A prompt as plain query words: quotes and leading dashes lose their query meaning (a
/// pasted `cargo test --test it` or a stray `"` must not exclude words or require a phrase).
pub fn prompt_query(prompt: &str) -> String {
    prompt
        .replace('"', " ")
        .split_whitespace()
        .map(|word| word.trim_start_matches('-'))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::explicit("deploy", true, &["explicit"])]
    #[case::last_time("Deploy it like LAST TIME", false, &["marker:last time"])]
    #[case::as_before("run the tests as before", false, &["marker:as before"])]
    #[case::chinese_last_time("上次那个订单超时怎么修的", false, &["marker:上次"])]
    #[case::chinese_before("之前的方案", false, &["marker:之前"])]
    #[case::both("as before", true, &["explicit", "marker:as before"])]
    #[case::none("add a new endpoint", false, &[])]
    #[case::not_inside_a_word("run the tests against staging", false, &[])]
    fn the_trigger_reports_explicit_signals(
        #[case] query: &str,
        #[case] explicit: bool,
        #[case] reasons: &[&str],
    ) {
        let (triggered, got) = evaluate_trigger(query, explicit);
        assert_eq!(got, reasons);
        assert_eq!(triggered, !reasons.is_empty());
    }
}
