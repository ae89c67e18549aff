//! The offline heuristic reviewer: deterministic rules, no network, no key. It is the default
//! reviewer, so csep learns with zero setup.
//!
//! Precision comes first: a rule fires only on a clear, durable statement, and anything that
//! looks transient ("for now", "this time", a question, a long paste) is skipped. The labelled
//! set in `tests/fixtures/offline_reviewer/` measures it (precision ≥ 0.9 is a test; recall is
//! printed and reported in README.md). English and Chinese are handled by every text rule.
//!
//! The rules, each with an example that fires:
//! 1. **Explicit remember** — "Remember that this repo uses pnpm, not npm." / "记住：提交前先跑
//!    cargo fmt" → add what follows the trigger.
//! 2. **Preference or prohibition** — "Always run clippy before pushing." / "Use thiserror
//!    instead of anyhow in library code." / "I prefer small commits." / "以后不要用 unwrap" /
//!    "优先使用 rg 而不是 grep" → add the sentence. A bare "don't …" without a generalizer
//!    ("ever", "anymore", "in this repo", "以后", "永远") is task-local and skipped.
//! 3. **Correction of the agent** — "No, we use pytest here, not unittest." / "不对，这个项目用的是
//!    pnpm" → add the corrected statement, when it states a rule (use/instead/always/should/
//!    我们用/应该/而不是 …), not when it only redirects the current task.
//! 4. **Project command that succeeded** — a shell call `cargo test --workspace` whose output
//!    reports exit code 0 → add `Run tests with \`cargo test --workspace\``. Only build, test,
//!    lint, format and check invocations of known tools; filtered runs (`cargo test foo`,
//!    `pytest -k x`, `::`) are skipped.
//! 5. **Failure followed by its fix** — `cargo clippy` exits 1 ("no such command: clippy"),
//!    `rustup component add clippy` succeeds, `cargo clippy` then exits 0 → add the gotcha
//!    "Run `rustup component add clippy` before `cargo clippy`" with the error line. Only a fix
//!    that is a setup command (install, add, sync, submodule update, …) counts.
//!
//! Every operation carries the ids of the messages it came from as evidence; duplicates within a
//! review and summaries already in memory are skipped.

use std::collections::BTreeSet;

use super::input::{MessageRole, ReviewInput, ReviewMessage};
use super::ops::{Operation, ReviewOutput};
use super::signals::{has_word, starts_with_word};
use crate::memory::{Kind, Scope};

/// Longest user message the text rules read; longer ones are pastes, not instructions.
pub const MAX_USER_MESSAGE_CHARS: usize = 1500;
/// Longest sentence a text rule turns into a memory entry.
pub const MAX_SENTENCE_CHARS: usize = 240;

/// Reviews `input` with the deterministic rules.
pub fn review(input: &ReviewInput) -> ReviewOutput {
    let mut out = Collector::new(input);
    for m in &input.messages {
        if m.role == MessageRole::User {
            review_user_message(m, &mut out);
        }
    }
    review_commands(&input.messages, &mut out);
    let max = usize::try_from(input.budgets.max_operations).unwrap_or(usize::MAX);
    let mut operations = out.operations;
    if max > 0 {
        operations.truncate(max);
    }
    ReviewOutput { operations }
}

/// Collects operations, skipping duplicates and what memory already holds.
struct Collector {
    operations: Vec<Operation>,
    seen: BTreeSet<String>,
    existing: Vec<String>,
}

impl Collector {
    fn new(input: &ReviewInput) -> Self {
        Self {
            operations: Vec::new(),
            seen: BTreeSet::new(),
            existing: input.memory.iter().map(|m| normalize(&m.summary)).collect(),
        }
    }

    fn add(
        &mut self,
        scope: Scope,
        kind: Kind,
        summary: String,
        content: String,
        evidence: Vec<i64>,
        confidence: f64,
    ) {
        let key = normalize(&summary);
        if key.chars().count() < 4 || self.seen.contains(&key) {
            return;
        }
        if self.existing.iter().any(|e| {
            *e == key
                || (e.chars().count() > 12 && key.contains(e.as_str()))
                || (key.chars().count() > 12 && e.contains(key.as_str()))
        }) {
            return;
        }
        self.seen.insert(key);
        self.operations.push(Operation::Add {
            scope,
            kind,
            summary,
            content,
            evidence: evidence.into_iter().map(|id| id.to_string()).collect(),
            confidence: Some(confidence),
        });
    }
}

/// Lowercase, alphanumerics (any script) only, single spaces.
fn normalize(text: &str) -> String {
    let mut out = String::new();
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ffef}')
}

fn has_cjk(text: &str) -> bool {
    text.chars().any(is_cjk)
}

/// Splits a message into sentences: on newlines, CJK terminators and `.!?;` followed by a space.
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        match c {
            '\n' | '。' | '！' | '？' | '；' => {
                if c != '\n' {
                    current.push(c);
                }
                out.push(std::mem::take(&mut current));
            }
            '.' | '!' | '?' | ';' if next.is_none_or(char::is_whitespace) => {
                current.push(c);
                out.push(std::mem::take(&mut current));
            }
            _ => current.push(c),
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Words that make a sentence about the current task only.
const TRANSIENT_EN: [&str; 10] = [
    "for now",
    "right now",
    "this time",
    "today",
    "at the moment",
    "for this task",
    "in this pr",
    "this commit",
    "temporarily",
    "never mind",
];
const TRANSIENT_ZH: [&str; 10] = [
    "暂时",
    "先别",
    "先不要",
    "这次",
    "今天",
    "目前",
    "现在先",
    "这一步",
    "再说",
    "等会",
];

fn is_transient(lower: &str) -> bool {
    TRANSIENT_EN.iter().any(|w| has_word(lower, w))
        || TRANSIENT_ZH.iter().any(|w| lower.contains(w))
}

fn is_question(sentence: &str) -> bool {
    let t = sentence.trim_end();
    let lower = t.to_lowercase();
    t.ends_with('?')
        || t.ends_with('？')
        || lower.ends_with('吗')
        || lower.contains("吗？")
        || [
            "can you",
            "could you",
            "would you",
            "what ",
            "why ",
            "how ",
            "is it",
            "do you",
            "是否",
            "为什么",
            "怎么",
        ]
        .iter()
        .any(|q| lower.starts_with(q))
}

/// Project-specific hints: file paths, code, repository words, build tools.
fn is_project_specific(text: &str) -> bool {
    let lower = text.to_lowercase();
    let project_words = [
        "this repo",
        "the repo",
        "our repo",
        "this repository",
        "this project",
        "the project",
        "this codebase",
        "the codebase",
        "in here",
        "here we",
        "we use",
        "the api",
        "the tests",
        "test suite",
        "the build",
        "migration",
        "ci",
        "cargo",
        "npm",
        "pnpm",
        "yarn",
        "pytest",
        "makefile",
        "make",
        "docker",
        "clippy",
        "rustfmt",
        "eslint",
        "prettier",
        "ruff",
        "poetry",
        "gradle",
        "maven",
        "crate",
        "module",
        "endpoint",
        "schema",
        "database",
        "we",
        "code",
        "file",
        "files",
        "deploy",
        "release",
        "lint",
        "build",
        "test",
        "tests",
        "commit",
        "our",
    ];
    let zh_words = [
        "这个项目",
        "本项目",
        "项目里",
        "项目中",
        "仓库",
        "代码",
        "这个repo",
        "我们用",
        "我们的",
        "接口",
        "数据库",
        "测试",
        "提交前",
        "部署",
        "编译",
    ];
    text.contains('`')
        || project_words.iter().any(|w| has_word(&lower, w))
        || zh_words.iter().any(|w| lower.contains(w))
        // Split on non-ASCII too: "CHANGELOG.md，它是…" names a file.
        || text.split(|c: char| c.is_whitespace() || !c.is_ascii()).any(|w| {
            let w =
                w.trim_matches(|c: char| !c.is_alphanumeric() && c != '/' && c != '.' && c != '_');
            (w.contains('/') && w.len() > 2 && !w.starts_with("http"))
                || (w.starts_with('.')
                    && w.len() > 2
                    && w[1..].chars().all(|c| c.is_ascii_alphanumeric()))
                || [
                    ".rs", ".py", ".ts", ".js", ".toml", ".json", ".yaml", ".yml", ".md", ".go",
                    ".sql",
                ]
                .iter()
                .any(|ext| w.ends_with(ext) && w.len() > ext.len())
        })
}

/// Whether a statement is about the speaker ("I work in …", "my …", "我…" but not "我们…").
fn is_personal(text: &str) -> bool {
    let lower = text.trim().to_lowercase();
    ["i ", "i'm ", "i'd ", "i've ", "my ", "me "]
        .iter()
        .any(|p| lower.starts_with(p))
        || (lower.starts_with('我') && !lower.starts_with("我们"))
}

/// The scope of a statement: personal statements are user scope (unless they quote code),
/// project-specific ones project scope, else `default`.
fn scope_of(text: &str, default: Scope) -> Scope {
    if is_personal(text) && !text.contains('`') {
        Scope::User
    } else if is_project_specific(text) {
        Scope::Project
    } else {
        default
    }
}

fn kind_of(text: &str, scope: Scope) -> Kind {
    let lower = text.to_lowercase();
    if [
        "prefer", "i like", "i'd like", "i want", "喜欢", "偏好", "倾向",
    ]
    .iter()
    .any(|w| lower.contains(w))
    {
        return Kind::Preference;
    }
    let rule_words = [
        "always",
        "never",
        "don't",
        "do not",
        "must",
        "should",
        "instead of",
        "rather than",
        "before",
        "avoid",
        "only",
        "not ",
    ];
    let rule_zh = [
        "不要",
        "别",
        "必须",
        "总是",
        "始终",
        "禁止",
        "每次",
        "一律",
        "而不是",
        "应该",
        "不能",
        "之前",
        "只用",
        "统一",
    ];
    if rule_words
        .iter()
        .any(|w| has_word(&lower, w.trim_end()) || lower.contains(w))
        || rule_zh.iter().any(|w| lower.contains(w))
    {
        return if scope == Scope::User {
            Kind::Preference
        } else {
            Kind::Rule
        };
    }
    if text.contains('`') {
        return Kind::Command;
    }
    if scope == Scope::User {
        Kind::Preference
    } else {
        Kind::Fact
    }
}

/// Turns the captured text into a one-line summary: trimmed, capitalised, without trailing
/// punctuation, at most [`MAX_SENTENCE_CHARS`].
fn summary_of(text: &str) -> String {
    let t = text
        .trim()
        .trim_start_matches([':', '：', ',', '，', '-', ' '])
        .trim_end_matches(['.', '。', '!', '！', ';', '；', ',', '，'])
        .trim();
    let mut chars = t.chars();
    let mut s = match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    };
    if s.chars().count() > MAX_SENTENCE_CHARS {
        s = s.chars().take(MAX_SENTENCE_CHARS - 1).collect::<String>() + "…";
    }
    s
}

fn long_enough(text: &str) -> bool {
    if has_cjk(text) {
        text.chars().filter(|c| c.is_alphanumeric()).count() >= 4
    } else {
        text.split_whitespace().count() >= 3
    }
}

/// Strips a polite lead-in (`please`, `and`, `also`, `请`, `另外`).
fn strip_lead(sentence: &str) -> &str {
    let mut s = sentence.trim();
    loop {
        let lower = s.to_lowercase();
        let mut changed = false;
        for lead in [
            "please", "pls", "and", "also", "oh and", "btw", "ok", "okay",
        ] {
            if starts_with_word(&lower, lead) {
                s = s[lead.len()..].trim_start_matches([',', ' ', ':']);
                changed = true;
            }
        }
        for lead in ["请", "另外", "还有", "好的", "嗯"] {
            if let Some(rest) = s.strip_prefix(lead) {
                s = rest.trim_start_matches(['，', ',', '：', ':', ' ']);
                changed = true;
            }
        }
        if !changed {
            return s;
        }
    }
}

fn review_user_message(m: &ReviewMessage, out: &mut Collector) {
    if m.text.chars().count() > MAX_USER_MESSAGE_CHARS || m.text.contains("```") {
        return;
    }
    for raw in &sentences(&m.text) {
        let sentence = strip_lead(raw);
        if sentence.chars().count() > MAX_SENTENCE_CHARS || is_question(sentence) {
            continue;
        }
        let lower = sentence.to_lowercase();
        if let Some(rest) = explicit_remember(sentence, &lower) {
            // Rule 1.
            if long_enough(rest) && !is_transient(&rest.to_lowercase()) {
                let scope = scope_of(rest, Scope::User);
                let kind = kind_of(rest, scope);
                out.add(scope, kind, summary_of(rest), raw.clone(), vec![m.id], 0.8);
            }
            continue;
        }
        if is_transient(&lower) {
            continue;
        }
        if let Some(rest) = correction(sentence, &lower) {
            // Rule 3.
            if long_enough(rest) && states_rule(rest) {
                // A correction of the agent's work is about the project unless it is personal.
                let scope = scope_of(rest, Scope::Project);
                let kind = kind_of(rest, scope);
                out.add(scope, kind, summary_of(rest), raw.clone(), vec![m.id], 0.6);
            }
            continue;
        }
        if is_preference(&lower) && long_enough(sentence) {
            // Rule 2.
            let scope = scope_of(sentence, Scope::User);
            let kind = kind_of(sentence, scope);
            out.add(
                scope,
                kind,
                summary_of(sentence),
                raw.clone(),
                vec![m.id],
                0.7,
            );
        }
    }
}

/// Rule 1: the text after an explicit "remember" trigger at the start of the sentence.
fn explicit_remember<'a>(sentence: &'a str, lower: &str) -> Option<&'a str> {
    for trigger in [
        "remember that",
        "remember to",
        "remember:",
        "remember,",
        "remember",
        "don't forget that",
        "don't forget to",
        "do not forget to",
        "keep in mind that",
        "keep in mind",
        "for future reference,",
        "for future reference:",
        "note for the future:",
        "from now on,",
        "from now on",
        "going forward,",
        "going forward",
        "in the future,",
    ] {
        if lower.starts_with(trigger)
            && (trigger.ends_with([',', ':']) || starts_with_word(lower, trigger))
        {
            let rest = &sentence[trigger.len()..];
            let keep_verb = trigger.ends_with(" to");
            return Some(if keep_verb {
                rest.trim()
            } else {
                rest.trim_start_matches([',', ':', ' '])
            });
        }
    }
    for trigger in [
        "记住",
        "记一下",
        "记下来",
        "从现在开始",
        "从今以后",
        "今后",
        "以后都",
        "以后",
        "下次记得",
    ] {
        if let Some(rest) = sentence.strip_prefix(trigger) {
            let rest = rest.trim_start_matches(['，', ',', '：', ':', ' ', '了']);
            // "以后再说" means "later", not "from now on".
            if trigger.starts_with("以后") && (rest.starts_with('再') || rest.starts_with("有空"))
            {
                return None;
            }
            let keep_trigger = matches!(
                trigger,
                "以后都" | "以后" | "今后" | "从现在开始" | "从今以后"
            );
            return Some(if keep_trigger { sentence } else { rest });
        }
    }
    None
}

/// Rule 3: the corrected statement after "no, …" / "不对，…" at the start of a sentence.
fn correction<'a>(sentence: &'a str, lower: &str) -> Option<&'a str> {
    for lead in [
        "no,",
        "no.",
        "nope,",
        "that's wrong,",
        "that's wrong.",
        "that is wrong,",
        "that's not right,",
        "that's not right.",
        "that's incorrect,",
        "wrong,",
        "actually,",
    ] {
        if lower.starts_with(lead) {
            return Some(sentence[lead.len()..].trim());
        }
    }
    for lead in ["不对", "错了", "不是这样的", "不是这样", "你错了", "搞错了"] {
        if let Some(rest) = sentence.strip_prefix(lead) {
            return Some(rest.trim_start_matches(['，', ',', '。', '！', ' ', '：']));
        }
    }
    None
}

/// Whether a corrected statement states a durable rule rather than redirecting the task.
fn states_rule(text: &str) -> bool {
    let lower = text.to_lowercase();
    [
        "instead",
        "we use",
        "we always",
        "we never",
        "this repo",
        "this project",
        "here we",
        "always",
        "never",
        "should always",
        "must",
        "rather than",
        "not ",
        "only use",
        "don't ",
        "do not ",
        "avoid ",
    ]
    .iter()
    .any(|w| lower.contains(w))
        || [
            "应该用",
            "要用",
            "而不是",
            "用的是",
            "我们用",
            "这个项目",
            "本项目",
            "一律",
            "总是",
            "必须",
            "不是",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// Rule 2: a stated preference or a general prohibition.
fn is_preference(lower: &str) -> bool {
    let en_start = [
        "always ",
        "never ",
        "we always ",
        "we never ",
        "i always ",
        "i never ",
        "you should always ",
        "you should never ",
        "i prefer ",
        "i'd prefer ",
        "we prefer ",
        "prefer ",
        "use ",
        "don't ever ",
        "do not ever ",
    ];
    let starts = en_start.iter().any(|p| lower.starts_with(p));
    // "In this repo always run the tests with X": a scoped always/never rule.
    let scoped_rule = [
        "in this repo",
        "in this project",
        "in this codebase",
        "here we ",
        "for this repo",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
        && ["always", "never", "must"]
            .iter()
            .any(|w| has_word(lower, w));
    // "Use X instead." closing a correction.
    let use_instead = lower.starts_with("use ")
        && lower
            .trim_end_matches(['.', '!', ' '])
            .ends_with(" instead");
    let en_ok = scoped_rule
        || use_instead
        || starts
            && (!lower.starts_with("use ")
                || lower.contains(" instead of ")
                || lower.contains(", not ")
                || lower.contains(" rather than "))
            && (!lower.starts_with("prefer ")
                || lower.contains(" over ")
                || lower.contains(" to "));
    let dont_general = (lower.starts_with("don't ") || lower.starts_with("do not "))
        && [
            "ever",
            "anymore",
            "again",
            "in this repo",
            "in this project",
            "in this codebase",
            "in general",
        ]
        .iter()
        .any(|w| has_word(lower, w));
    let zh_generalizers = [
        "以后",
        "永远",
        "总是",
        "始终",
        "一律",
        "任何时候",
        "每次",
        "再也",
        "统一",
    ];
    let zh_prohibition = ["不要", "别", "禁止", "不许", "不准"];
    // "不要修改 CHANGELOG.md，…": a prohibition naming a file or identifier is a project rule.
    let names_artifact = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || "._/-".contains(c)))
        .any(|w| {
            w.len() > 2
                && (w.contains('.') || w.contains('/'))
                && w.chars().any(|c| c.is_ascii_alphabetic())
        });
    let zh_file_rule = zh_prohibition.iter().any(|p| lower.starts_with(p)) && names_artifact;
    let zh_rule = zh_generalizers.iter().any(|g| lower.contains(g))
        && (zh_prohibition.iter().any(|p| lower.contains(p))
            || ["用", "要", "先", "都"].iter().any(|v| lower.contains(v)));
    let zh_pref = [
        "我更喜欢",
        "我喜欢用",
        "我偏好",
        "优先使用",
        "优先用",
        "优先考虑",
    ]
    .iter()
    .any(|w| lower.contains(w))
        || (lower.contains("而不是") && lower.contains('用'))
        || (lower.contains("代替") && lower.starts_with('用'));
    en_ok || dont_general || zh_rule || zh_pref || zh_file_rule
}

/// What a shell command is for, when it is a whole-project build/test/lint/format/check run of a
/// known tool.
pub fn command_purpose(cmd: &str) -> Option<&'static str> {
    let core = core_command(cmd);
    let words: Vec<&str> = core.split_whitespace().collect();
    let (first, rest) = words.split_first()?;
    let sub = rest.first().copied().unwrap_or("");
    let has_filter = core.contains("::") || words.contains(&"-k") || core.contains("--grep");
    if has_filter {
        return None;
    }
    let purpose_of = |name: &str| -> Option<&'static str> {
        match name {
            "build" | "compile" | "all" | "package" => Some("build"),
            "test" | "tests" | "nextest" | "e2e" | "check-all" | "verify" | "unit" => Some("test"),
            "lint" | "clippy" | "vet" => Some("lint"),
            "fmt" | "format" | "prettier" => Some("format"),
            "check" | "typecheck" | "type-check" | "ci" => Some("check"),
            _ => None,
        }
    };
    match *first {
        "cargo" => {
            let p = purpose_of(sub)?;
            if sub == "test" {
                // `cargo test some_filter` runs a subset.
                let positional = rest[1..]
                    .iter()
                    .take_while(|a| **a != "--")
                    .any(|a| !a.starts_with('-'));
                if positional && !rest[1..].iter().any(|a| a.starts_with("--")) {
                    return None;
                }
            }
            Some(p)
        }
        "npm" | "pnpm" | "yarn" | "bun" => {
            let script = if sub == "run" {
                rest.get(1).copied().unwrap_or("")
            } else {
                sub
            };
            let base = script.split(':').next().unwrap_or(script);
            purpose_of(base)
        }
        "make" | "just" | "task" => {
            if sub.is_empty() {
                Some("build")
            } else {
                purpose_of(sub)
            }
        }
        "pytest" | "tox" | "nox" | "ctest" => Some("test"),
        "python" | "python3" if rest.starts_with(&["-m", "pytest"]) => Some("test"),
        "uv" | "poetry" if rest.starts_with(&["run", "pytest"]) => Some("test"),
        "go" => match sub {
            "build" => Some("build"),
            "test" => Some("test"),
            "vet" => Some("lint"),
            _ => None,
        },
        "gofmt" | "black" | "prettier" | "rustfmt" => Some("format"),
        "ruff" => Some(if sub == "format" { "format" } else { "lint" }),
        "eslint" | "flake8" | "golangci-lint" | "mypy" | "pylint" | "biome" => Some("lint"),
        "tsc" => Some("check"),
        "mvn" | "./mvnw" | "gradle" | "./gradlew" | "dotnet" | "bazel" => purpose_of(sub),
        _ => None,
    }
}

/// The command a shell invocation really runs: without `cd … &&`, env assignments, `time`,
/// redirections of stderr and a trailing `| tail`/`| head`/`| grep` filter.
pub fn core_command(cmd: &str) -> String {
    let mut s = cmd.trim();
    while let Some(i) = s.find("&&") {
        let (head, tail) = s.split_at(i);
        if head.trim_start().starts_with("cd ") {
            s = tail[2..].trim();
        } else {
            break;
        }
    }
    let s = s.split(" | ").next().unwrap_or(s);
    let mut words: Vec<&str> = s
        .split_whitespace()
        .filter(|w| !matches!(*w, "2>&1" | "2>/dev/null" | "&>/dev/null"))
        .collect();
    while let Some(first) = words.first() {
        if *first == "time" || (first.contains('=') && !first.starts_with('-')) {
            words.remove(0);
        } else {
            break;
        }
    }
    words.join(" ")
}

/// Setup commands that count as the fix in rule 5.
fn is_setup_command(cmd: &str) -> bool {
    let core = core_command(cmd);
    let words: Vec<&str> = core.split_whitespace().collect();
    match words.as_slice() {
        ["npm" | "pnpm" | "yarn" | "bun", sub, ..] => {
            matches!(*sub, "install" | "i" | "add" | "ci")
        }
        ["npm" | "pnpm" | "yarn" | "bun"] => true,
        ["pip" | "pip3", "install", ..] => true,
        ["uv", sub, ..] => matches!(*sub, "sync" | "add" | "pip"),
        ["poetry", "install", ..] | ["bundle", "install", ..] => true,
        ["cargo", sub, ..] => matches!(*sub, "add" | "install" | "fetch" | "update"),
        ["rustup", sub, ..] => matches!(*sub, "component" | "target" | "toolchain"),
        ["apt" | "apt-get" | "brew" | "dnf" | "apk", sub, ..] => matches!(*sub, "install" | "add"),
        ["sudo", rest @ ..] => is_setup_command(&rest.join(" ")),
        ["go", "mod", ..] | ["go", "get", ..] => true,
        ["git", "submodule", "update", ..] | ["git", "lfs", "pull", ..] => true,
        ["make", target, ..] => matches!(*target, "setup" | "deps" | "bootstrap" | "install"),
        ["cp", from, _] => {
            from.contains(".example") || from.contains(".sample") || from.contains(".template")
        }
        _ => false,
    }
}

/// A shell call paired with its output.
struct ShellRun<'a> {
    call: &'a ReviewMessage,
    output: Option<&'a ReviewMessage>,
}

impl ShellRun<'_> {
    fn exit_code(&self) -> Option<i32> {
        self.output.and_then(|o| o.exit_code)
    }
}

fn shell_runs(messages: &[ReviewMessage]) -> Vec<ShellRun<'_>> {
    let mut runs: Vec<ShellRun<'_>> = Vec::new();
    for m in messages {
        match m.role {
            MessageRole::ToolCall => {
                let is_shell = m
                    .tool_name
                    .as_deref()
                    .is_none_or(super::input::is_shell_tool);
                if is_shell {
                    runs.push(ShellRun {
                        call: m,
                        output: None,
                    });
                }
            }
            MessageRole::ToolOutput => {
                if let Some(last) = runs.last_mut()
                    && last.output.is_none()
                {
                    last.output = Some(m);
                }
            }
            MessageRole::User | MessageRole::Agent => {}
        }
    }
    runs
}

fn verb_of(purpose: &str) -> &'static str {
    match purpose {
        "build" => "Build with",
        "test" => "Run tests with",
        "lint" => "Lint with",
        "format" => "Format with",
        _ => "Check with",
    }
}

/// The first line of an output that names an error, shortened.
fn error_line(output: &str) -> Option<String> {
    output
        .lines()
        .map(str::trim)
        .find(|l| {
            let lower = l.to_lowercase();
            (lower.contains("error")
                || lower.contains("not found")
                || lower.contains("no such")
                || lower.contains("cannot find"))
                && !lower.starts_with("process exited")
        })
        .map(|l| l.chars().take(160).collect())
}

/// Rules 4 and 5.
fn review_commands(messages: &[ReviewMessage], out: &mut Collector) {
    let runs = shell_runs(messages);
    let mut last_success: Vec<(&'static str, String, Vec<i64>)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        let cmd = run.call.text.trim();
        let Some(purpose) = command_purpose(cmd) else {
            continue;
        };
        let core = core_command(cmd);
        if run.exit_code() != Some(0) {
            continue;
        }
        let evidence = vec![run.call.id, run.output.map_or(run.call.id, |o| o.id)];
        last_success.retain(|(p, _, _)| *p != purpose);
        last_success.push((purpose, core.clone(), evidence));
        // Rule 5: an earlier failure of the same program with a setup command between.
        let program = core
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        let failed = runs[..i].iter().rposition(|r| {
            r.exit_code().is_some_and(|c| c != 0)
                && core_command(&r.call.text)
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ")
                    == program
        });
        if let Some(f) = failed {
            let fix = runs[f + 1..i]
                .iter()
                .find(|r| r.exit_code() == Some(0) && is_setup_command(&r.call.text));
            if let Some(fix) = fix {
                let fix_cmd = core_command(&fix.call.text);
                let error = runs[f].output.and_then(|o| error_line(&o.text));
                let content = match &error {
                    Some(e) => format!("Without it `{core}` fails: {e}"),
                    None => format!("Without it `{core}` fails."),
                };
                out.add(
                    Scope::Project,
                    Kind::Gotcha,
                    format!("Run `{fix_cmd}` before `{core}`"),
                    content,
                    vec![runs[f].call.id, fix.call.id, run.call.id],
                    0.6,
                );
            }
        }
    }
    for (purpose, core, evidence) in last_success {
        out.add(
            Scope::Project,
            Kind::Command,
            format!("{} `{core}`", verb_of(purpose)),
            format!("`{core}` succeeded (exit code 0) in a session of this project."),
            evidence,
            0.7,
        );
    }
}

#[cfg(test)]
#[path = "offline_tests.rs"]
mod tests;
