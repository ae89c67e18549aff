//! Quality gates every skill passes before it is staged or published (issue 7 §3).
//!
//! Gates, each reported separately with its reason (all gates run; none short-circuits):
//!
//! | gate | passes when |
//! |---|---|
//! | `frontmatter` | the file starts with `---` YAML `---` holding a string `name` and `description` |
//! | `name` | `name` equals the directory name, is `[a-z0-9-]`, ≤ 64 chars, starts `csep-`, and does not use a reference prefix (`csep-synth-`, …) |
//! | `description` | ≤ 1,024 chars and states when to use the skill (starts "Use when") |
//! | `sections` | `## When to use`, `## Steps` (≥ 2 items), `## Verification`, `## If it fails` exist and are not empty |
//! | `secrets` | nothing in the text matches a secret pattern ([`crate::archive::redact`]) |
//! | `dangerous` | no pipe-to-shell download, no recursive `rm` of a broad path, no credential exfiltration, no disk wipes or fork bombs |
//! | `duplicate` | not a near-duplicate of any other skill, the user's own included |
//! | `evidence` | supported by ≥ `min_evidence_sessions` sessions, or explicitly requested by the user |
//!
//! Reference lessons §3.3: empty shells, missing frontmatter and near-duplicates were what made
//! the reference's skills useless; these gates exist so that never happens again.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use super::render;
use super::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, NAMESPACE_PREFIX, REFERENCE_PREFIXES};
use crate::archive::redact;

/// One quality gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gate {
    /// YAML frontmatter valid with `name` and `description`.
    Frontmatter,
    /// Name rules.
    Name,
    /// Description rules.
    Description,
    /// Required body sections.
    Sections,
    /// No secrets.
    Secrets,
    /// No dangerous commands.
    Dangerous,
    /// Not a near-duplicate.
    Duplicate,
    /// Enough evidence.
    Evidence,
}

impl Gate {
    /// Stable snake_case name, as in receipts and reasons.
    pub fn as_str(self) -> &'static str {
        match self {
            Gate::Frontmatter => "frontmatter",
            Gate::Name => "name",
            Gate::Description => "description",
            Gate::Sections => "sections",
            Gate::Secrets => "secrets",
            Gate::Dangerous => "dangerous",
            Gate::Duplicate => "duplicate",
            Gate::Evidence => "evidence",
        }
    }
}

/// A failed gate and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateFailure {
    /// Which gate.
    pub gate: Gate,
    /// Why, in words a user can act on.
    pub reason: String,
}

/// Joins failures as `gate: reason; gate: reason` (the skills table's `reason` column).
pub fn describe(failures: &[GateFailure]) -> String {
    failures
        .iter()
        .map(|f| format!("{}: {}", f.gate.as_str(), f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A skill that already exists somewhere, for the duplicate gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InventoryEntry {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its body (may be empty when unreadable).
    #[serde(skip)]
    pub body: String,
    /// Where it lives (`codex:/path/SKILL.md`, `claude:…`, `csep:staged`, …).
    pub location: String,
}

/// What the gates check.
#[derive(Debug, Clone, Copy)]
pub struct GateInput<'a> {
    /// The directory the file is (or will be) in.
    pub dir_name: &'a str,
    /// The full SKILL.md text.
    pub text: &'a str,
    /// Distinct sessions supporting it.
    pub evidence_sessions: u32,
    /// The user asked for it explicitly.
    pub explicit_request: bool,
    /// `skills.min_evidence_sessions`.
    pub min_evidence_sessions: u32,
    /// Every other skill known (entries with the same name are ignored: that is an update).
    pub inventory: &'a [InventoryEntry],
}

/// Prefix of every redaction marker [`crate::archive::redact`] writes.
pub const REDACTION_MARKER: &str = "[REDACTED:";

/// Jaccard similarity of significant words at or above which two skills are near-duplicates.
pub const DUPLICATE_SIMILARITY: f64 = 0.6;

/// Runs every gate; an empty result means the skill passes.
pub fn check(input: &GateInput<'_>) -> Vec<GateFailure> {
    let mut failures = Vec::new();
    let mut fail = |gate, reason: String| failures.push(GateFailure { gate, reason });
    let parsed = render::parse(input.text);
    let (name, description, body) = match &parsed {
        Ok(p) => {
            let mut missing = Vec::new();
            if p.frontmatter.name.as_deref().is_none_or(str::is_empty) {
                missing.push("name");
            }
            if p.frontmatter
                .description
                .as_deref()
                .is_none_or(str::is_empty)
            {
                missing.push("description");
            }
            if !missing.is_empty() {
                fail(
                    Gate::Frontmatter,
                    format!("frontmatter lacks {}", missing.join(" and ")),
                );
            }
            (
                p.frontmatter.name.clone().unwrap_or_default(),
                p.frontmatter.description.clone().unwrap_or_default(),
                p.body,
            )
        }
        Err(e) => {
            fail(Gate::Frontmatter, e.to_string());
            // Check the rest of the text anyway so every problem is reported at once.
            (String::new(), String::new(), input.text)
        }
    };
    if let Some(reason) = name_problem(&name, input.dir_name) {
        fail(Gate::Name, reason);
    }
    if let Some(reason) = description_problem(&description) {
        fail(Gate::Description, reason);
    }
    if let Some(reason) = sections_problem(body) {
        fail(Gate::Sections, reason);
    }
    if !redact::is_clean(input.text) {
        fail(
            Gate::Secrets,
            "the text contains something that looks like a secret (token, key or password)".into(),
        );
    } else if input.text.contains(REDACTION_MARKER) {
        // The archive already redacted a secret out of these steps: a skill built on them
        // would tell the agent to use a placeholder, or to go looking for the secret.
        fail(
            Gate::Secrets,
            "the steps contain a redacted secret (`[REDACTED:…]`); a skill must not depend on \
             one"
            .into(),
        );
    }
    if let Some(reason) = dangerous_command(input.text) {
        fail(Gate::Dangerous, reason);
    }
    if let Some(other) = near_duplicate(&name, &description, body, input.inventory) {
        fail(Gate::Duplicate, other);
    }
    if input.evidence_sessions < input.min_evidence_sessions && !input.explicit_request {
        fail(
            Gate::Evidence,
            format!(
                "seen in {} session(s), needs {} (skills.min_evidence_sessions) or an explicit \
                 request",
                input.evidence_sessions, input.min_evidence_sessions
            ),
        );
    }
    failures
}

/// Checks a name against the directory name and csep's namespace rules.
pub fn name_problem(name: &str, dir_name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("no name".into());
    }
    if name != dir_name {
        return Some(format!(
            "name `{name}` differs from its directory `{dir_name}`"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some(format!("name `{name}` has characters outside [a-z0-9-]"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!(
            "name `{name}` is longer than {MAX_NAME_CHARS} characters"
        ));
    }
    if !name.starts_with(NAMESPACE_PREFIX) || name.len() == NAMESPACE_PREFIX.len() {
        return Some(format!("name `{name}` is not in csep's `csep-` namespace"));
    }
    if let Some(prefix) = REFERENCE_PREFIXES.iter().find(|p| name.starts_with(*p)) {
        return Some(format!(
            "name `{name}` uses the reference's `{prefix}` namespace, which `csep skills gc` \
             cleans up"
        ));
    }
    None
}

fn description_problem(description: &str) -> Option<String> {
    let chars = description.chars().count();
    if chars == 0 {
        return Some("no description".into());
    }
    if chars > MAX_DESCRIPTION_CHARS {
        return Some(format!(
            "description has {chars} characters, more than {MAX_DESCRIPTION_CHARS}"
        ));
    }
    if !description
        .trim_start()
        .to_lowercase()
        .starts_with("use when")
    {
        return Some("description does not say when to use the skill (\"Use when …\")".into());
    }
    None
}

/// The required sections and the titles accepted for each.
const REQUIRED_SECTIONS: [(&str, &[&str]); 4] = [
    ("When to use", &["when to use"]),
    ("Steps", &["steps", "workflow"]),
    ("Verification", &["verification"]),
    ("If it fails", &["if it fails", "failure handling"]),
];

fn sections_problem(body: &str) -> Option<String> {
    let found = render::sections(body);
    let mut problems = Vec::new();
    for (label, titles) in REQUIRED_SECTIONS {
        let section = found
            .iter()
            .find(|(title, _)| titles.contains(&title.to_lowercase().as_str()));
        match section {
            None => problems.push(format!("missing `## {label}`")),
            Some((_, content)) if content.trim().is_empty() => {
                problems.push(format!("`## {label}` is empty"));
            }
            Some((_, content)) if label == "Steps" => {
                let items = content
                    .lines()
                    .filter(|l| is_list_item(l.trim_start()))
                    .count();
                if items < 2 {
                    problems.push(format!(
                        "`## Steps` has {items} step(s); a skill needs at least 2"
                    ));
                }
            }
            Some(_) => {}
        }
    }
    (!problems.is_empty()).then(|| problems.join(", "))
}

fn is_list_item(line: &str) -> bool {
    line.starts_with("- ")
        || line.starts_with("* ")
        || line
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

static PIPE_TO_SHELL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(curl|wget|fetch|iwr|invoke-webrequest)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|da|k|fi)?sh\b|\b(curl|wget)\b[^|\n]*\|\s*(sudo\s+)?(python3?|perl|ruby|node|iex)\b|(ba|z)?sh\s+(-c\s+)?[<\x22']*\s*[<$]\(\s*(curl|wget)\b",
    )
    .ok()
});

static EXFILTRATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(curl|wget|nc|ncat|netcat|scp|rsync|socat)\b.*(\.ssh/|id_rsa|id_ed25519|\.aws/credentials|\.netrc|\.npmrc|\.pypirc|\.docker/config\.json|\.config/gcloud|\.kube/config|\.env\.provider|auth\.json|/etc/shadow|\$\{?[a-z_]*(token|secret|password|api_key)|printenv|\benv\b)|\b(printenv|env|cat\s+\S*(\.ssh/|\.aws/credentials|\.netrc|auth\.json|\.env))\b[^\n]*\|\s*(curl|wget|nc|ncat|netcat|socat)\b",
    )
    .ok()
});

static DESTRUCTIVE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\bmkfs(\.\w+)?\b|\bdd\b[^\n]*\bof=/dev/(sd|nvme|hd|disk)|:\(\)\s*\{\s*:\|:&\s*\};:|\bchmod\s+-R\s+777\s+/(\s|$)")
        .ok()
});

/// Paths a recursive `rm` must never be pointed at.
const BROAD_PATHS: [&str; 24] = [
    "/", "/*", "~", "~/", "~/*", "$HOME", "${HOME}", "$HOME/", "$HOME/*", "${HOME}/", "*", ".",
    "./", "./*", "..", "../", "../*", "/home", "/usr", "/etc", "/var", "/bin", "/opt", "/root",
];

/// The first dangerous command in `text`, described; `None` when there is none.
pub fn dangerous_command(text: &str) -> Option<String> {
    let matches = |re: &LazyLock<Option<Regex>>| match &**re {
        Some(re) => re.find(text).map(|m| m.as_str().trim().to_owned()),
        // A pattern that failed to compile fails closed.
        None => Some("(dangerous-command patterns unavailable)".to_owned()),
    };
    if let Some(m) = matches(&PIPE_TO_SHELL) {
        return Some(format!("pipes a download into a shell: `{}`", clip(&m)));
    }
    if let Some(m) = matches(&EXFILTRATION) {
        return Some(format!(
            "may send credentials off the machine: `{}`",
            clip(&m)
        ));
    }
    if let Some(m) = matches(&DESTRUCTIVE) {
        return Some(format!("destroys data or the system: `{}`", clip(&m)));
    }
    broad_rm(text).map(|m| format!("removes a broad path recursively: `{}`", clip(&m)))
}

fn clip(text: &str) -> String {
    let mut out: String = text.chars().take(80).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// Finds `rm` with a recursive flag whose target is a broad path (or no target at all).
fn broad_rm(text: &str) -> Option<String> {
    for segment in text.split(['\n', ';', '&', '|', '`']) {
        let tokens: Vec<&str> = segment
            .split_whitespace()
            .map(|t| t.trim_matches(['"', '\'']))
            .collect();
        let Some(start) = tokens.iter().position(|t| *t == "rm") else {
            continue;
        };
        let args = &tokens[start + 1..];
        let recursive = args.iter().any(|a| {
            *a == "--recursive"
                || (a.starts_with('-') && !a.starts_with("--") && a.contains(['r', 'R']))
        });
        if !recursive {
            continue;
        }
        let targets: Vec<&&str> = args.iter().filter(|a| !a.starts_with('-')).collect();
        if targets.is_empty() || targets.iter().any(|t| BROAD_PATHS.contains(t)) {
            return Some(segment.trim().to_owned());
        }
    }
    None
}

/// Words that say nothing about what a skill does.
const STOP_WORDS: [&str; 24] = [
    "use", "when", "the", "and", "for", "with", "this", "that", "then", "from", "into", "csep",
    "run", "runs", "skill", "user", "asks", "you", "your", "are", "was", "its", "need", "needs",
];

/// Significant lowercase words (≥ 3 chars, not stop words).
pub fn significant_words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOP_WORDS.contains(&w.as_str()))
        .collect()
}

/// Jaccard similarity of two word sets (0 when both are empty).
pub fn jaccard(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// The normalized commands of a Steps section: the first backticked span of each list item
/// (or the item itself), as [`crate::skills::evidence::normalize_command`] reads it.
fn step_commands(steps: &str) -> BTreeSet<String> {
    steps
        .lines()
        .map(str::trim_start)
        .filter(|l| is_list_item(l))
        .filter_map(|l| {
            let item = l.split_once(' ').map_or(l, |(_, rest)| rest);
            let command = item.split('`').nth(1).unwrap_or(item);
            crate::skills::evidence::normalize_command(command)
        })
        .collect()
}

fn near_duplicate(
    name: &str,
    description: &str,
    body: &str,
    inventory: &[InventoryEntry],
) -> Option<String> {
    let steps = section_text(body, &["steps", "workflow"]);
    let commands = step_commands(&steps);
    // Same commands (one set containing the other, at least two) means the same procedure,
    // whatever the wording.
    if commands.len() >= 2
        && let Some(e) = inventory.iter().filter(|e| e.name != name).find(|e| {
            let theirs = step_commands(&section_text(&e.body, &["steps", "workflow"]));
            theirs.len() >= 2 && (commands.is_subset(&theirs) || theirs.is_subset(&commands))
        })
    {
        return Some(format!(
            "near-duplicate of `{}` at {} (runs the same commands)",
            e.name, e.location
        ));
    }
    let mine = significant_words(&format!("{name} {description} {steps}"));
    let mine_description = significant_words(description);
    inventory
        .iter()
        .filter(|e| e.name != name)
        .map(|e| {
            let theirs_steps = section_text(&e.body, &["steps", "workflow"]);
            let theirs = significant_words(&format!("{} {} {theirs_steps}", e.name, e.description));
            let whole = jaccard(&mine, &theirs);
            let by_description = jaccard(&mine_description, &significant_words(&e.description));
            (e, whole.max(by_description))
        })
        .filter(|(_, score)| *score >= DUPLICATE_SIMILARITY)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(e, score)| {
            format!(
                "near-duplicate of `{}` at {} ({:.0}% of significant words shared)",
                e.name,
                e.location,
                score * 100.0
            )
        })
}

fn section_text(body: &str, titles: &[&str]) -> String {
    render::sections(body)
        .into_iter()
        .filter(|(t, _)| titles.contains(&t.to_lowercase().as_str()))
        .map(|(_, c)| c)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
#[path = "gates_tests.rs"]
mod tests;
