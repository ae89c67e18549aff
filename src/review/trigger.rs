//! When a session is worth reviewing: thresholds since the last review, explicit signals, and
//! backoff after empty reviews. Settings come from `[review]` ([`ReviewConfig`]).
//!
//! A review is due when the delta since the last review has at least one user message and
//! either crosses any threshold (user messages, readable characters, tool calls) or contains an
//! explicit remember/correction signal ([`signals::detect`], CJK-aware). Readable characters
//! count user and agent text only; injected text never reaches the delta. After
//! `backoff_after_empty` consecutive reviews that proposed nothing, every threshold is multiplied
//! by 2, 4, … up to `backoff_max_factor`; a signal still triggers at once. `min_interval_seconds`
//! holds every review back, signals included.

use serde::Serialize;

use super::input::{MessageRole, ReviewMessage};
use super::signals::{self, Signal};
use crate::store::config::ReviewConfig;

/// What the delta since the last review contains.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delta {
    /// User messages.
    pub user_turns: u32,
    /// Characters of user and agent text.
    pub readable_chars: u64,
    /// Tool calls.
    pub tool_calls: u32,
    /// The strongest signal in a user message.
    #[serde(skip)]
    pub signal: Option<Signal>,
}

impl Delta {
    /// Counts a delta of review messages.
    pub fn from_messages(messages: &[ReviewMessage]) -> Delta {
        let mut delta = Delta::default();
        for m in messages {
            match m.role {
                MessageRole::User => {
                    delta.user_turns += 1;
                    delta.readable_chars += m.text.chars().count() as u64;
                    let found = signals::detect(&m.text);
                    delta.signal = strongest(delta.signal, found);
                }
                MessageRole::Agent => delta.readable_chars += m.text.chars().count() as u64,
                MessageRole::ToolCall => delta.tool_calls += 1,
                MessageRole::ToolOutput => {}
            }
        }
        delta
    }
}

fn rank(s: Signal) -> u8 {
    match s {
        Signal::Remember => 3,
        Signal::Correction => 2,
        Signal::Preference => 1,
    }
}

fn strongest(a: Option<Signal>, b: Option<Signal>) -> Option<Signal> {
    match (a, b) {
        (Some(x), Some(y)) => Some(if rank(y) > rank(x) { y } else { x }),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The session's review history.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Reviews in a row that proposed no operation.
    pub consecutive_empty: u32,
    /// Seconds since the last review of this session; `None` when it was never reviewed.
    pub seconds_since_last_review: Option<u64>,
}

/// Whether to review now, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", content = "reason", rename_all = "snake_case")]
pub enum Decision {
    /// Review now.
    Review(String),
    /// Not yet.
    Wait(String),
}

impl Decision {
    /// Whether the decision is to review.
    pub fn is_review(&self) -> bool {
        matches!(self, Decision::Review(_))
    }
}

/// The factor thresholds are multiplied by after `consecutive_empty` empty reviews.
pub fn backoff_factor(config: &ReviewConfig, consecutive_empty: u32) -> u32 {
    if config.backoff_after_empty == 0 || consecutive_empty < config.backoff_after_empty {
        return 1;
    }
    let steps = consecutive_empty - config.backoff_after_empty + 1;
    2u32.saturating_pow(steps.min(16))
        .min(config.backoff_max_factor.max(1))
}

/// Decides whether the delta is worth reviewing now.
pub fn decide(config: &ReviewConfig, delta: &Delta, history: &History) -> Decision {
    if delta.user_turns == 0 {
        return Decision::Wait("no new user message since the last review".to_owned());
    }
    if let Some(elapsed) = history.seconds_since_last_review
        && elapsed < config.min_interval_seconds
    {
        return Decision::Wait(format!(
            "last review {elapsed} s ago, min_interval_seconds is {}",
            config.min_interval_seconds
        ));
    }
    if config.review_on_signal
        && let Some(signal) = delta.signal
    {
        let what = match signal {
            Signal::Remember => "an explicit remember request",
            Signal::Correction => "a correction of the agent",
            Signal::Preference => "a stated preference",
        };
        return Decision::Review(format!("{what} in a user message"));
    }
    let factor = backoff_factor(config, history.consecutive_empty);
    let user = u64::from(config.min_new_user_messages) * u64::from(factor);
    let chars = config.min_new_chars.saturating_mul(u64::from(factor));
    let tools = u64::from(config.min_new_tool_calls) * u64::from(factor);
    let crossed = [
        (config.min_new_user_messages > 0 && u64::from(delta.user_turns) >= user)
            .then(|| format!("{} user messages (threshold {user})", delta.user_turns)),
        (config.min_new_chars > 0 && delta.readable_chars >= chars).then(|| {
            format!(
                "{} readable characters (threshold {chars})",
                delta.readable_chars
            )
        }),
        (config.min_new_tool_calls > 0 && u64::from(delta.tool_calls) >= tools)
            .then(|| format!("{} tool calls (threshold {tools})", delta.tool_calls)),
    ];
    match crossed.into_iter().flatten().next() {
        Some(reason) => Decision::Review(reason),
        None => Decision::Wait(format!(
            "below every threshold ({} user messages, {} characters, {} tool calls; backoff ×{factor})",
            delta.user_turns, delta.readable_chars, delta.tool_calls
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(text: &str) -> ReviewMessage {
        ReviewMessage::new(1, MessageRole::User, text)
    }

    #[test]
    fn a_delta_without_user_messages_is_never_reviewed() {
        let d =
            Delta::from_messages(&[ReviewMessage::new(1, MessageRole::Agent, "x".repeat(9000))]);
        assert!(!decide(&ReviewConfig::default(), &d, &History::default()).is_review());
    }

    #[test]
    fn thresholds_trigger_on_any_of_turns_chars_or_tool_calls() {
        let cfg = ReviewConfig::default();
        let few = Delta::from_messages(&[user("fix the bug"), user("thanks")]);
        assert!(!decide(&cfg, &few, &History::default()).is_review());
        let turns = Delta::from_messages(&[user("a b"), user("c d"), user("e f")]);
        assert!(decide(&cfg, &turns, &History::default()).is_review());
        let chars = Delta::from_messages(&[user(&"long ".repeat(900))]);
        assert!(decide(&cfg, &chars, &History::default()).is_review());
        let mut messages = vec![user("go")];
        messages.extend((0..10).map(|i| ReviewMessage::new(i, MessageRole::ToolCall, "ls")));
        let tools = Delta::from_messages(&messages);
        assert!(decide(&cfg, &tools, &History::default()).is_review());
    }

    #[test]
    fn signals_review_at_once_in_english_and_chinese() {
        let cfg = ReviewConfig::default();
        for text in [
            "Remember that we ship on Fridays",
            "记住：用 pnpm",
            "不对，应该用 UTC",
            "No, we use pytest",
        ] {
            let d = Delta::from_messages(&[user(text)]);
            assert!(decide(&cfg, &d, &History::default()).is_review(), "{text}");
        }
        let off = ReviewConfig {
            review_on_signal: false,
            ..ReviewConfig::default()
        };
        assert!(
            !decide(
                &off,
                &Delta::from_messages(&[user("记住：用 pnpm")]),
                &History::default()
            )
            .is_review()
        );
    }

    #[test]
    fn empty_reviews_back_off_the_thresholds_up_to_the_cap() {
        let cfg = ReviewConfig::default();
        assert_eq!(backoff_factor(&cfg, 2), 1);
        assert_eq!(backoff_factor(&cfg, 3), 2);
        assert_eq!(backoff_factor(&cfg, 4), 4);
        assert_eq!(backoff_factor(&cfg, 40), 8);
        let turns = Delta::from_messages(&[user("a"), user("b"), user("c")]);
        let backed_off = History {
            consecutive_empty: 3,
            seconds_since_last_review: Some(600),
        };
        assert!(!decide(&cfg, &turns, &backed_off).is_review());
        let signal = Delta::from_messages(&[user("remember: deploys need a tag")]);
        assert!(decide(&cfg, &signal, &backed_off).is_review());
        let no_backoff = ReviewConfig {
            backoff_after_empty: 0,
            ..ReviewConfig::default()
        };
        assert!(decide(&no_backoff, &turns, &backed_off).is_review());
    }

    #[test]
    fn the_minimum_interval_holds_back_even_signals() {
        let cfg = ReviewConfig {
            min_interval_seconds: 300,
            ..ReviewConfig::default()
        };
        let d = Delta::from_messages(&[user("Remember to tag releases")]);
        let recent = History {
            consecutive_empty: 0,
            seconds_since_last_review: Some(10),
        };
        assert!(!decide(&cfg, &d, &recent).is_review());
    }
}
