//! Keyword detection shared by the trigger policy and the offline reviewer, English and Chinese.
//!
//! Latin keywords match on ASCII word boundaries, so `remember` does not match `remembered` and
//! `no,` does not match `piano,`. CJK has no spaces, so Chinese keywords match as substrings;
//! a plain `\bword\b` regex would never see them (the reference's trigger missed every Chinese
//! "记住" for that reason). Matching is on a lowercased copy of the text.

/// A signal that a user message holds something worth remembering now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// "remember …", "from now on …", "记住…", "以后…".
    Remember,
    /// "no, …", "that's wrong …", "不对…", "错了…".
    Correction,
    /// "always …", "never …", "I prefer …", "总是…", "不要再…".
    Preference,
}

/// Whether `word` occurs in `lower` with non-alphanumeric ASCII (or the text edge) on both sides.
/// `word` must be lowercase; non-ASCII words match as substrings.
pub fn has_word(lower: &str, word: &str) -> bool {
    if !word.is_ascii() {
        return lower.contains(word);
    }
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(word) {
        let start = from + pos;
        let end = start + word.len();
        let before = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
        let after = end >= bytes.len() || !bytes[end].is_ascii_alphanumeric();
        if before && after {
            return true;
        }
        from = start + 1;
        while !lower.is_char_boundary(from) {
            from += 1;
        }
    }
    false
}

/// Whether `lower` starts with `prefix` followed by a word boundary.
pub fn starts_with_word(lower: &str, prefix: &str) -> bool {
    lower.starts_with(prefix)
        && lower[prefix.len()..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_ascii_alphanumeric())
}

const REMEMBER_EN: [&str; 9] = [
    "remember",
    "don't forget",
    "do not forget",
    "keep in mind",
    "for future reference",
    "from now on",
    "going forward",
    "note for the future",
    "in the future",
];
const REMEMBER_ZH: [&str; 10] = [
    "以后请",
    "以后不要",
    "记住",
    "记一下",
    "记下来",
    "以后都",
    "今后",
    "从现在开始",
    "从今以后",
    "下次记得",
];
const CORRECTION_EN: [&str; 7] = [
    "no,",
    "nope,",
    "that's wrong",
    "that is wrong",
    "that's not right",
    "that's incorrect",
    "wrong,",
];
const CORRECTION_ZH: [&str; 5] = ["不对", "错了", "不是这样", "你错了", "搞错了"];
const PREFERENCE_EN: [&str; 6] = [
    "always",
    "never",
    "i prefer",
    "we prefer",
    "instead of",
    "don't ever",
];
const PREFERENCE_ZH: [&str; 7] = [
    "总是",
    "始终",
    "永远不要",
    "一律",
    "优先使用",
    "我更喜欢",
    "不要再",
];

/// Chinese prohibitions that state a rule when they open a sentence ("不要修改 CHANGELOG.md").
const PROHIBITION_ZH: [&str; 4] = ["不要", "别再", "禁止", "不许"];

/// The strongest signal in a user message, if any (remember > correction > preference).
///
/// Corrections count only at the start of the message or of a line, where they answer the agent.
pub fn detect(text: &str) -> Option<Signal> {
    let lower = text.to_lowercase();
    // Sentence starts as well as line starts: "The test is flaky. Remember: …" remembers.
    let line_starts: Vec<&str> = lower
        .split(['\n', '.', '!', '?', '。', '！', '？', '；', ';'])
        .map(str::trim_start)
        .filter(|s| !s.is_empty())
        .collect();
    if REMEMBER_EN.iter().any(|w| {
        line_starts
            .iter()
            .any(|l| l.starts_with(w) || l.starts_with(&format!("please {w}")))
    }) || REMEMBER_ZH.iter().any(|w| lower.contains(w))
    {
        return Some(Signal::Remember);
    }
    if line_starts.iter().any(|l| {
        CORRECTION_EN.iter().any(|w| l.starts_with(w))
            || CORRECTION_ZH.iter().any(|w| l.starts_with(w))
    }) {
        return Some(Signal::Correction);
    }
    if PREFERENCE_EN.iter().any(|w| has_word(&lower, w))
        || PREFERENCE_ZH.iter().any(|w| lower.contains(w))
        || line_starts
            .iter()
            .any(|l| PROHIBITION_ZH.iter().any(|w| l.starts_with(w)))
    {
        return Some(Signal::Preference);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::en_remember("Remember that we deploy on Fridays.", Some(Signal::Remember))]
    #[case::en_please_remember("please remember: tabs, not spaces", Some(Signal::Remember))]
    #[case::zh_remember("记住，这个项目用 pnpm。", Some(Signal::Remember))]
    #[case::zh_from_now_on("从现在开始回复用中文", Some(Signal::Remember))]
    #[case::en_correction("No, the config lives in etc/", Some(Signal::Correction))]
    #[case::zh_correction("不对，应该用 cargo nextest", Some(Signal::Correction))]
    #[case::en_preference("We never commit generated files", Some(Signal::Preference))]
    #[case::zh_preference("测试总是要跑全量", Some(Signal::Preference))]
    #[case::remembered_is_not_remember("I remembered the password later", None)]
    #[case::piano_is_not_no("I play the piano, mostly", None)]
    #[case::plain("Please fix the failing test in parser.rs", None)]
    #[case::remember_mid_message(
        "The test is flaky. Remember: it needs the db.",
        Some(Signal::Remember)
    )]
    #[case::zh_from_now_on_please("以后请用中文回答。", Some(Signal::Remember))]
    #[case::zh_prohibition("不要修改 CHANGELOG.md，它是自动生成的。", Some(Signal::Preference))]
    #[case::correction_second_sentence("Looks fine. No, wait: use tabs.", Some(Signal::Correction))]
    fn signals_are_detected_in_english_and_chinese(
        #[case] text: &str,
        #[case] want: Option<Signal>,
    ) {
        assert_eq!(detect(text), want);
    }

    #[test]
    fn word_boundaries_are_ascii_aware() {
        assert!(has_word("we always do", "always"));
        assert!(!has_word("hallways", "always"));
        assert!(has_word("总是用", "总是"));
        assert!(starts_with_word("no, use x", "no"));
        assert!(!starts_with_word("nothing", "no"));
    }
}
