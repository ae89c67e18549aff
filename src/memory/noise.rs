//! The transient-noise filter: text that will be stale within two weeks does not belong in
//! memory.
//!
//! The reference's memory filled up with "MR !14 merged", "round 2 pending", "本轮 plan 已落地"
//! (lessons §3.1); its only defence was a SKIP list in the reviewer prompt. Here the compiler
//! enforces the list deterministically, in English and Chinese: PR/MR status, build/CI status,
//! commit hashes, branch names, review rounds, TODO state, dates of this week and task
//! progress. A hit discards the operation with the category as its reason.
//!
//! Status-like categories (build, TODO, task progress, PR/MR state words) are not noise inside a
//! conditional ("when the build fails, …", "如果测试失败…"): that is a durable rule about a
//! situation, not a report of one. Identifiers (PR numbers, hashes, branches, rounds, dates)
//! are noise everywhere.

use std::fmt;

use jiff::civil::Date;
use regex::{Captures, Regex, RegexSet};
use serde::Serialize;

/// Why a text is transient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseCategory {
    /// Pull/merge request numbers or their state ("MR !14 merged", "PR 已合并").
    PrStatus,
    /// Build, CI or test results ("build is green", "测试已通过").
    BuildStatus,
    /// A commit hash.
    CommitHash,
    /// A topic branch name or branch activity ("feature/login", "pushed the branch").
    BranchName,
    /// Review rounds ("round 2", "第二轮").
    ReviewRound,
    /// TODO list state (`TODO: 3 left`, `- [x] done`, `待办已清`).
    TodoState,
    /// A date of this week ("today", "yesterday", "本周", an ISO date within 7 days).
    ThisWeekDate,
    /// Task progress ("step 2 done", "is now merged", "已落地").
    TaskProgress,
}

impl NoiseCategory {
    /// The snake_case name used in discard reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            NoiseCategory::PrStatus => "pr_status",
            NoiseCategory::BuildStatus => "build_status",
            NoiseCategory::CommitHash => "commit_hash",
            NoiseCategory::BranchName => "branch_name",
            NoiseCategory::ReviewRound => "review_round",
            NoiseCategory::TodoState => "todo_state",
            NoiseCategory::ThisWeekDate => "this_week_date",
            NoiseCategory::TaskProgress => "task_progress",
        }
    }
}

impl fmt::Display for NoiseCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A noise finding: the category and the text that triggered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoiseHit {
    /// The category.
    pub category: NoiseCategory,
    /// The matched text (for the receipt).
    pub matched: String,
}

/// Extra check on a match; returns whether the match really is noise.
type Accept = fn(&Captures<'_>) -> bool;

struct Rule {
    category: NoiseCategory,
    regex: Regex,
    /// A conditional marker in the text suppresses this rule.
    conditional_exempt: bool,
    accept: Option<Accept>,
}

/// (category, pattern, exempt inside conditionals, extra check)
type RuleSpec = (NoiseCategory, &'static str, bool, Option<Accept>);

const RULES: &[RuleSpec] = &[
    // ---- PR / MR -----------------------------------------------------------------------------
    (
        NoiseCategory::PrStatus,
        r"(?i)\b(?:pr|mr)s?\s*[#!]\s*\d+",
        false,
        None,
    ),
    (
        NoiseCategory::PrStatus,
        r"(?i)\b(?:pull|merge)\s+requests?\s*[#!]?\s*\d+",
        false,
        None,
    ),
    (
        NoiseCategory::PrStatus,
        r"(?i)\b(?:pr|mr|pull request|merge request)s?\b[^.\n]{0,40}?\b(?:merged|approved|opened|closed|rejected|reverted|awaiting review|under review)\b",
        true,
        None,
    ),
    (
        NoiseCategory::PrStatus,
        r"(?i)(?:pr|mr|合并请求)[^。\n]{0,10}(?:已经?|被)(?:合并|合入|关闭|通过|批准|提交|打回)",
        false,
        None,
    ),
    // ---- build / CI / tests ------------------------------------------------------------------
    (
        NoiseCategory::BuildStatus,
        r"(?i)\b(?:build|builds|ci|pipeline|tests?|checks?|lint)\s+(?:(?:is|are|was|were|now|all|has|have|been|finally|still)\s+)*(?:passed|passing|failed|failing|green|red|broken)\b",
        true,
        None,
    ),
    (
        NoiseCategory::BuildStatus,
        r"(?i)\ball\s+(?:tests|checks)\s+(?:now\s+)?pass(?:ed)?\b",
        true,
        None,
    ),
    (
        NoiseCategory::BuildStatus,
        r"(?i)(?:构建|编译|ci|流水线|测试|单测|用例)(?:已经|已|都|均|全部)*(?:通过|失败|挂了|跑通|全绿|变绿|变红)",
        true,
        None,
    ),
    // ---- commit hashes -----------------------------------------------------------------------
    (
        NoiseCategory::CommitHash,
        r"(?i)\bcommit(?:ted)?\s+(?:as\s+|in\s+)?`?[0-9a-f]{7,40}\b",
        false,
        None,
    ),
    (
        NoiseCategory::CommitHash,
        r"(?:^|[^0-9A-Za-z_])([0-9a-f]{7,40})(?:[^0-9A-Za-z_]|$)",
        false,
        Some(is_hash_like),
    ),
    // ---- branches ----------------------------------------------------------------------------
    (
        NoiseCategory::BranchName,
        r"(?i)(?:^|[^/\w])(?:feature|feat|bugfix|hotfix|fix|wip|topic)/[\w.-]+",
        false,
        None,
    ),
    (
        NoiseCategory::BranchName,
        r"(?i)\b(?:pushed|checked out|switched|rebased|created|deleted)\b[^.\n]{0,30}\bbranch\b",
        false,
        None,
    ),
    (
        NoiseCategory::BranchName,
        r"(?i)\bbranch\b[^.\n]{0,30}\b(?:was|were|is|got|has been)\s+(?:pushed|merged|deleted|rebased|created)\b",
        false,
        None,
    ),
    (
        NoiseCategory::BranchName,
        r"(?:推送|推到|切换到|切到|创建了|合并了|删除了)[^。\n]{0,10}分支|分支[^。\n]{0,10}(?:已经?)(?:推送|合并|删除|创建)",
        false,
        None,
    ),
    // ---- review rounds -----------------------------------------------------------------------
    (
        NoiseCategory::ReviewRound,
        r"(?i)\bround\s*[#-]?\s*\d+\b",
        false,
        None,
    ),
    (
        NoiseCategory::ReviewRound,
        r"(?i)\b(?:first|second|third|fourth|fifth|next|last|this|previous|another)\s+(?:review\s+)?round\b",
        false,
        None,
    ),
    (
        NoiseCategory::ReviewRound,
        r"(?i)\breview\s+round\b",
        false,
        None,
    ),
    (
        NoiseCategory::ReviewRound,
        r"第\s*[一二三四五六七八九十两\d]+\s*轮",
        false,
        None,
    ),
    (
        NoiseCategory::ReviewRound,
        r"(?:本|这一?|上一?|下一?)轮(?:[^询]|$)",
        false,
        None,
    ),
    // ---- TODO state --------------------------------------------------------------------------
    (
        NoiseCategory::TodoState,
        r"(?i)\b(?:todo|todos|fixme)\b\s*[:：]?\s*(?:items?\s+)?(?:\d+\s+)?(?:done|remaining|left|pending|open|closed|completed)\b",
        true,
        None,
    ),
    (
        NoiseCategory::TodoState,
        r"(?i)\bto-?do\s+list\b",
        true,
        None,
    ),
    (
        NoiseCategory::TodoState,
        r"(?m)^\s*[-*]\s*\[[ xX]\]",
        false,
        None,
    ),
    (
        NoiseCategory::TodoState,
        r"(?i)\b\d+\s+(?:todos?|items?|tasks?)\s+(?:left|remaining|done|pending|to go)\b",
        true,
        None,
    ),
    (
        NoiseCategory::TodoState,
        r"待办(?:事项)?[^。\n]{0,6}(?:已|还剩|剩余|清单|完成)|还剩\s*\d+\s*(?:个|项)",
        true,
        None,
    ),
    // ---- dates of this week ------------------------------------------------------------------
    (
        NoiseCategory::ThisWeekDate,
        r"(?i)\b(?:today|yesterday|tomorrow|tonight|this\s+(?:morning|afternoon|evening|week)|last\s+(?:night|week)|next\s+week|earlier\s+today|just\s+now)\b",
        false,
        None,
    ),
    (
        NoiseCategory::ThisWeekDate,
        r"今天|昨天|明天|今晚|今早|本周|这周|上周|下周|刚才|刚刚",
        false,
        None,
    ),
    // ---- task progress -----------------------------------------------------------------------
    (
        NoiseCategory::TaskProgress,
        r"(?i)\b(?:is|are|was|were|now|has been|have been)\s+(?:now\s+|finally\s+|all\s+)?(?:done|finished|complete|completed|in progress|wip|blocked|merged|deployed|landed|shipped)\b(?:\s+(\w+))?",
        true,
        Some(not_followed_by_a_manner_word),
    ),
    (
        NoiseCategory::TaskProgress,
        r"(?i)\b(?:implemented|finished|completed|fixed|resolved|addressed|wrapped up|closed)\s+(?:the\s+|all\s+|both\s+)?(?:\w+\s+)?(?:task|step|phase|ticket|issue|comments?|feedback|milestone)s?\b",
        true,
        None,
    ),
    (
        NoiseCategory::TaskProgress,
        r"(?i)\b(?:step|phase|task|milestone|stage)\s*\d+\s*(?:is\s+|was\s+)?(?:done|complete|completed|finished|pending)\b",
        true,
        None,
    ),
    (
        NoiseCategory::TaskProgress,
        r"(?i)\b\d+\s*/\s*\d+\s+(?:tasks?|steps?|items?|tests?)\b",
        true,
        None,
    ),
    (
        NoiseCategory::TaskProgress,
        r"(?i)\bsession\s+(?:outcome|summary|progress)\b",
        false,
        None,
    ),
    (
        NoiseCategory::TaskProgress,
        r"(?:已经?|均已|都已|全部)(?:落地|完成|修复|修好|解决|合并|合入|上线|部署|提交)|已修|进行中",
        true,
        None,
    ),
];

/// Markers of a conditional rule ("when X happens, do Y").
const CONDITIONAL: &str = r"(?i)\b(?:when|whenever|if|unless|before|every\s+time|each\s+time)\b|如果|每当|每次|一旦|若|当[^。\n]{0,12}时";

/// Words after "is done" that make it a description of how, not a progress report
/// ("deployment is done via make deploy").
const MANNER_WORDS: &[&str] = &[
    "via",
    "by",
    "with",
    "through",
    "using",
    "in",
    "on",
    "at",
    "when",
    "if",
    "before",
    "after",
    "automatically",
    "manually",
    "per",
    "from",
    "inside",
    "outside",
];

fn not_followed_by_a_manner_word(caps: &Captures<'_>) -> bool {
    caps.get(1)
        .is_none_or(|w| !MANNER_WORDS.contains(&w.as_str().to_lowercase().as_str()))
}

/// A 7–40 character lowercase hex run that mixes digits and letters (a git hash), not a number
/// or an English word such as `deadbeef`.
fn is_hash_like(caps: &Captures<'_>) -> bool {
    caps.get(1).is_some_and(|m| {
        let s = m.as_str();
        s.bytes().any(|b| b.is_ascii_digit()) && s.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

/// The compiled filter; build once per run.
pub struct NoiseFilter {
    rules: Vec<Rule>,
    /// Every rule's pattern in one set: one pass over the text tells which rules can fire.
    set: RegexSet,
    conditional: Regex,
    iso_date: Regex,
    zh_date: Regex,
}

impl fmt::Debug for NoiseFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoiseFilter")
            .field("rules", &self.rules.len())
            .finish()
    }
}

/// A shipped noise pattern failed to compile (a csep bug; the unit tests compile them all).
#[derive(Debug, thiserror::Error)]
#[error("noise-filter pattern `{pattern}` does not compile; this is a csep bug, please report it")]
pub struct NoisePatternError {
    /// The pattern.
    pub pattern: &'static str,
    /// The regex error.
    #[source]
    pub source: regex::Error,
}

/// How far from today, in days, a written date still counts as "this week".
pub const THIS_WEEK_DAYS: i32 = 7;

impl NoiseFilter {
    /// Compiles the shipped rules.
    pub fn new() -> Result<NoiseFilter, NoisePatternError> {
        let compile = |pattern: &'static str| {
            Regex::new(pattern).map_err(|source| NoisePatternError { pattern, source })
        };
        let rules = RULES
            .iter()
            .map(|&(category, pattern, conditional_exempt, accept)| {
                Ok(Rule {
                    category,
                    regex: compile(pattern)?,
                    conditional_exempt,
                    accept,
                })
            })
            .collect::<Result<Vec<_>, NoisePatternError>>()?;
        let set = RegexSet::new(RULES.iter().map(|r| r.1)).map_err(|source| NoisePatternError {
            pattern: "the combined rule set",
            source,
        })?;
        Ok(NoiseFilter {
            rules,
            set,
            conditional: compile(CONDITIONAL)?,
            iso_date: compile(r"\b(20\d{2})[-/.](\d{1,2})[-/.](\d{1,2})\b")?,
            zh_date: compile(r"(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")?,
        })
    }

    /// The first noise finding in `text`, if any; `today` anchors "dates of this week".
    pub fn check(&self, text: &str, today: Date) -> Option<NoiseHit> {
        let candidates = self.set.matches(text);
        let conditional = candidates.matched_any() && self.conditional.is_match(text);
        for rule in candidates.iter().filter_map(|i| self.rules.get(i)) {
            if conditional && rule.conditional_exempt {
                continue;
            }
            for caps in rule.regex.captures_iter(text) {
                if rule.accept.is_none_or(|accept| accept(&caps)) {
                    let matched = caps.get(0).map_or("", |m| m.as_str()).trim();
                    return Some(NoiseHit {
                        category: rule.category,
                        matched: matched.to_owned(),
                    });
                }
            }
        }
        for regex in [&self.iso_date, &self.zh_date] {
            for caps in regex.captures_iter(text) {
                let num = |i| caps.get(i).and_then(|m| m.as_str().parse::<i16>().ok());
                let (Some(y), Some(m), Some(d)) = (num(1), num(2), num(3)) else {
                    continue;
                };
                let Ok(m) = i8::try_from(m) else { continue };
                let Ok(d) = i8::try_from(d) else { continue };
                let Ok(date) = Date::new(y, m, d) else {
                    continue;
                };
                // `until` between dates reports whole days by default.
                let Ok(span) = today.until(date) else {
                    continue;
                };
                if span.get_days().abs() <= THIS_WEEK_DAYS {
                    return Some(NoiseHit {
                        category: NoiseCategory::ThisWeekDate,
                        matched: caps.get(0).map_or("", |m| m.as_str()).to_owned(),
                    });
                }
            }
        }
        None
    }
}

#[cfg(test)]
#[path = "noise_tests.rs"]
mod tests;
