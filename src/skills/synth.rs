//! Synthesis: evidence in, skill drafts out. [`SkillSynthesizer`] is the seam an LLM-backed
//! synthesizer plugs into; [`OfflineSynthesizer`] needs no provider.
//!
//! Offline rules:
//! - a recurring procedure seen in ≥ 2 sessions becomes a draft (the evidence gate then demands
//!   `skills.min_evidence_sessions`; below it the draft is kept as a `candidate`);
//! - an explicit "make this a skill" request turns that session's successful steps into a draft;
//! - a recorded reviewer candidate becomes a draft from its own steps;
//! - failure → fix pairs of a step fill `## If it fails`; corrections and memory notes that
//!   mention a step's program become notes under `## Steps`.
//!
//! Names are `csep-<slug of the commands>`, never a reference prefix; descriptions start
//! "Use when" and quote the user's intent. Drafts are deterministic for the same evidence.
//!
//! An LLM-backed synthesizer asks its provider for `{"skills": [ProviderDraftWire…]}` and turns
//! the answer into drafts with [`drafts_from_provider`], which counts only evidence the bundle
//! really holds.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::evidence::{EvidenceBundle, FailureFix, Procedure, RecordedCandidate, SkillRequest};
use super::render::{DraftOrigin, SkillDraft};
use super::{MAX_NAME_CHARS, NAMESPACE_PREFIX, REFERENCE_PREFIXES, SkillError};

/// Tokens one synthesis spent (0 for the offline synthesizer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub input: u64,
    /// Completion tokens.
    pub output: u64,
}

/// What a synthesizer returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Synthesis {
    /// The drafts, in the synthesizer's order of confidence.
    pub drafts: Vec<SkillDraft>,
    /// Tokens spent.
    pub tokens: TokenUsage,
}

/// Turns evidence into skill drafts. Implementations only propose: gates, staging and
/// publishing are deterministic code in [`super::run`].
pub trait SkillSynthesizer {
    /// Stable name for receipts (`offline`, `openai:gpt-5-mini`, …).
    fn name(&self) -> String;

    /// Proposes drafts from `evidence` (already redacted).
    fn synthesize(&self, evidence: &EvidenceBundle) -> Result<Synthesis, SkillError>;
}

/// The provider-free synthesizer (module docs list its rules).
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineSynthesizer;

impl SkillSynthesizer for OfflineSynthesizer {
    fn name(&self) -> String {
        "offline".to_owned()
    }

    fn synthesize(&self, evidence: &EvidenceBundle) -> Result<Synthesis, SkillError> {
        let mut drafts: Vec<SkillDraft> = Vec::new();
        let mut push = |draft: SkillDraft| {
            if !drafts.iter().any(|d| d.name == draft.name) {
                drafts.push(draft);
            }
        };
        for procedure in &evidence.procedures {
            push(from_procedure(procedure, evidence));
        }
        for request in &evidence.requests {
            if let Some(draft) = from_request(request, evidence) {
                push(draft);
            }
        }
        for candidate in &evidence.candidates {
            if let Some(draft) = from_candidate(candidate, evidence) {
                push(draft);
            }
        }
        Ok(Synthesis {
            drafts,
            tokens: TokenUsage::default(),
        })
    }
}

/// One skill as an LLM provider returns it (read strictly: unknown fields are errors).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderDraftWire {
    /// Proposed name (`csep-` is added when missing; slugged).
    pub name: String,
    /// "Use when …".
    pub description: String,
    /// `## When to use` paragraphs.
    #[serde(default)]
    pub when_to_use: Vec<String>,
    /// The steps.
    pub steps: Vec<String>,
    /// `## Verification` bullets.
    #[serde(default)]
    pub verification: Vec<String>,
    /// `## If it fails` bullets.
    #[serde(default)]
    pub if_it_fails: Vec<String>,
    /// Evidence ids from the bundle (`session:<host>:<id>`, `message:<id>`, …).
    #[serde(default)]
    pub evidence_ids: Vec<String>,
}

/// A provider's whole answer: `{"skills": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderAnswerWire {
    /// Proposed skills (may be empty: "nothing worth a skill").
    pub skills: Vec<ProviderDraftWire>,
}

/// Turns a provider's JSON answer into drafts. Evidence is verified, not trusted: only session
/// ids that occur in `evidence` count towards the evidence gate, so a model cannot inflate its
/// support; an explicit request counts only when the bundle holds one for a cited session.
pub fn drafts_from_provider(
    synthesizer: &str,
    json: &str,
    evidence: &EvidenceBundle,
) -> Result<Vec<SkillDraft>, SkillError> {
    let answer: ProviderAnswerWire =
        serde_json::from_str(json).map_err(|e| SkillError::Synthesizer {
            synthesizer: synthesizer.to_owned(),
            message: format!("the answer is not the expected {{\"skills\": [...]}} JSON: {e}"),
        })?;
    let known_sessions: BTreeSet<String> = evidence
        .procedures
        .iter()
        .flat_map(|p| {
            p.occurrences
                .iter()
                .map(|o| format!("session:{}", o.session))
        })
        .chain(
            evidence
                .requests
                .iter()
                .map(|r| format!("session:{}", r.session)),
        )
        .collect();
    let requested: BTreeSet<String> = evidence
        .requests
        .iter()
        .map(|r| format!("session:{}", r.session))
        .collect();
    Ok(answer
        .skills
        .into_iter()
        .map(|w| {
            let cited: BTreeSet<&String> = w
                .evidence_ids
                .iter()
                .filter(|id| known_sessions.contains(*id))
                .collect();
            SkillDraft {
                name: skill_name(w.name.trim_start_matches(NAMESPACE_PREFIX)),
                evidence_sessions: u32::try_from(cited.len()).unwrap_or(u32::MAX),
                explicit_request: cited.iter().any(|id| requested.contains(*id)),
                description: w.description,
                when_to_use: w.when_to_use,
                steps: w.steps,
                verification: w.verification,
                if_it_fails: w.if_it_fails,
                evidence_ids: w.evidence_ids,
                origin: DraftOrigin::Provider,
                project_id: None,
            }
        })
        .collect())
}

/// `csep-<slug>` from free text: lowercase ASCII words joined by `-`, cut on a word boundary so
/// the name stays ≤ 64 characters; never a reference prefix.
pub fn skill_name(text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if words.last().map(String::as_str) != Some(word) && word != "csep" {
            words.push(word.to_owned());
        }
    }
    let mut slug = String::new();
    for word in words {
        let extra = if slug.is_empty() { 0 } else { 1 };
        if NAMESPACE_PREFIX.len() + slug.len() + extra + word.len() > MAX_NAME_CHARS {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(&word);
    }
    if slug.is_empty() {
        slug.push_str("procedure");
    }
    let mut name = format!("{NAMESPACE_PREFIX}{slug}");
    if REFERENCE_PREFIXES
        .iter()
        .any(|p| name.starts_with(p) || format!("{name}-").starts_with(p))
    {
        name = format!("{NAMESPACE_PREFIX}run-{slug}");
        name.truncate(MAX_NAME_CHARS);
        name = name.trim_end_matches('-').to_owned();
    }
    name
}

/// Name of a procedure: its programs and subcommands, each word once (`cargo fmt`, `cargo test`
/// → `csep-cargo-fmt-test`).
fn procedure_name(keys: &[String]) -> String {
    let mut seen = BTreeSet::new();
    let mut words = Vec::new();
    for key in keys {
        for word in key.split_whitespace() {
            if seen.insert(word.to_owned()) {
                words.push(word.to_owned());
            }
        }
    }
    skill_name(&words.join(" "))
}

fn command_list(keys: &[String]) -> String {
    let quoted: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The user's intent, one line, without trailing punctuation.
fn intent_phrase(intents: &[&str]) -> Option<String> {
    // The shortest non-trivial intent is usually the clearest statement of the task.
    // Sentences that state a preference or ask to remember something are not the task.
    intents
        .iter()
        .filter_map(|t| {
            // A period ends a sentence only before a space ("0.4.3" and "a.rs" stay whole).
            let t = t.replace(". ", ".\n");
            let sentences: Vec<String> = t
                .split_inclusive(['\n', '!', '?', '。', '！', '？'])
                .map(|s| s.trim().trim_end_matches(['。', '！', '？']).to_owned())
                .collect();
            // A message that opens by correcting the agent is feedback, not a task.
            let opens_with_correction = sentences.first().is_some_and(|s| {
                crate::review::signals::detect(s)
                    == Some(crate::review::signals::Signal::Correction)
            });
            if opens_with_correction {
                return None;
            }
            sentences
                .into_iter()
                .find(|s| s.chars().count() >= 8 && crate::review::signals::detect(s).is_none())
        })
        .min_by_key(|t| t.chars().count())
        .map(|t| {
            let t: String = t.chars().take(160).collect();
            t.trim_end_matches(['.', '!', '?', '…', ' ']).to_owned()
        })
}

fn description(intent: Option<&str>, keys: &[String], project: bool) -> String {
    let place = if project { "in this project" } else { "" };
    let commands = command_list(keys);
    match intent {
        Some(intent) => format!(
            "Use when the user asks to \"{intent}\" {place}: runs {commands} in order and \
             checks the result."
        ),
        None => {
            format!("Use when you need to run {commands} {place} in order and check the result.")
        }
    }
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ")
    .replace(" :", ":")
}

fn program_of(key: &str) -> &str {
    key.split_whitespace().next().unwrap_or(key)
}

/// Failure handling for `keys` from observed failure → fix pairs, most frequent first.
fn failure_section(keys: &[String], fixes: &[FailureFix]) -> (Vec<String>, Vec<String>) {
    let mut lines = Vec::new();
    let mut evidence = Vec::new();
    for key in keys {
        let mut seen: Vec<(Vec<String>, u32)> = Vec::new();
        for fix in fixes.iter().filter(|f| &f.key == key) {
            match seen.iter_mut().find(|(f, _)| *f == fix.fix) {
                Some((_, n)) => *n += 1,
                None => seen.push((fix.fix.clone(), 1)),
            }
            evidence.push(format!("message:{}", fix.message_ids[0]));
        }
        seen.sort_by_key(|s| std::cmp::Reverse(s.1));
        if let Some((fix, n)) = seen.first() {
            let what = if fix.is_empty() {
                "re-running it after reading the error".to_owned()
            } else {
                format!("{} and then re-running it", command_list(fix))
            };
            lines.push(format!(
                "If `{key}` fails: {what} fixed it before (seen {n} time(s))."
            ));
        }
    }
    lines.push(
        "Stop at the first failing step, read its output, fix the cause, then re-run from that \
         step; do not skip ahead."
            .to_owned(),
    );
    lines.push(
        "If the same step keeps failing, report the error output to the user instead of \
         guessing."
            .to_owned(),
    );
    (lines, evidence)
}

/// Corrections and memory notes that mention one of the programs.
fn notes(keys: &[String], evidence: &EvidenceBundle) -> (Vec<String>, Vec<String>) {
    let programs: BTreeSet<&str> = keys.iter().map(|k| program_of(k)).collect();
    let mentions = |text: &str| {
        let lower = text.to_lowercase();
        programs.iter().any(|p| {
            lower
                .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
                .any(|w| w == *p)
        })
    };
    let mut lines = Vec::new();
    let mut ids = Vec::new();
    for note in evidence.memory.iter().filter(|m| mentions(&m.summary)) {
        lines.push(format!("Note ({}): {}", note.kind, note.summary.trim()));
        ids.push(format!("memory:{}", note.id));
    }
    for quote in evidence.corrections.iter().filter(|q| mentions(&q.text)) {
        lines.push(format!(
            "Note (the user corrected this before): \"{}\"",
            quote.text.trim()
        ));
        ids.push(format!("message:{}", quote.message_id));
    }
    lines.truncate(5);
    ids.truncate(5);
    (lines, ids)
}

fn steps_of(keys: &[String], examples: &[String]) -> Vec<String> {
    keys.iter()
        .enumerate()
        .map(|(i, key)| match examples.get(i).filter(|e| *e != key) {
            Some(example) => format!(
                "Run `{key}` (as run before: `{}`).",
                example.replace('`', "'")
            ),
            None => format!("Run `{key}`."),
        })
        .collect()
}

fn single_project(projects: impl Iterator<Item = Option<String>>) -> Option<String> {
    let set: BTreeSet<Option<String>> = projects.collect();
    match set.into_iter().collect::<Vec<_>>().as_slice() {
        [Some(one)] => Some(one.clone()),
        _ => None,
    }
}

fn from_procedure(procedure: &Procedure, evidence: &EvidenceBundle) -> SkillDraft {
    let keys = &procedure.keys;
    let intents: Vec<&str> = procedure
        .occurrences
        .iter()
        .filter_map(|o| o.intent.as_deref())
        .collect();
    let intent = intent_phrase(&intents);
    let project_id = single_project(procedure.occurrences.iter().map(|o| o.project_id.clone()));
    let examples = procedure
        .occurrences
        .first()
        .map(|o| o.raw.clone())
        .unwrap_or_default();
    let mut steps = steps_of(keys, &examples);
    let (notes, mut ids) = notes(keys, evidence);
    steps.extend(notes);
    let (if_it_fails, fix_ids) = failure_section(keys, &evidence.failure_fixes);
    let mut evidence_ids: Vec<String> = procedure
        .occurrences
        .iter()
        .map(|o| format!("session:{}", o.session))
        .collect();
    evidence_ids.append(&mut ids);
    evidence_ids.extend(fix_ids.into_iter().take(5));
    let mut when = Vec::new();
    match &intent {
        Some(i) => when.push(format!(
            "When the user asks for something like \"{i}\". This procedure was run to success in \
             {} separate sessions.",
            procedure.sessions()
        )),
        None => when.push(format!(
            "When you need to run {} together. This procedure was run to success in {} separate \
             sessions.",
            command_list(keys),
            procedure.sessions()
        )),
    }
    let last = keys.last().cloned().unwrap_or_default();
    SkillDraft {
        name: procedure_name(keys),
        description: description(intent.as_deref(), keys, project_id.is_some()),
        when_to_use: when,
        steps,
        verification: vec![
            format!("`{last}` exits with code 0 and reports no errors."),
            "Every earlier step completed without errors before the next one started.".to_owned(),
        ],
        if_it_fails,
        evidence_ids,
        evidence_sessions: u32::try_from(procedure.sessions()).unwrap_or(u32::MAX),
        explicit_request: false,
        origin: DraftOrigin::Offline,
        project_id,
    }
}

fn from_request(request: &SkillRequest, evidence: &EvidenceBundle) -> Option<SkillDraft> {
    let keys: Vec<String> = request.steps.iter().map(|s| s.key.clone()).collect();
    let distinct: BTreeSet<&String> = keys.iter().collect();
    if distinct.len() < 2 {
        return None;
    }
    let raw: Vec<String> = request.steps.iter().map(|s| s.raw.clone()).collect();
    let intent = intent_phrase(&request.intent.as_deref().into_iter().collect::<Vec<_>>());
    let mut steps = steps_of(&keys, &raw);
    let (notes, ids) = notes(&keys, evidence);
    steps.extend(notes);
    let (if_it_fails, fix_ids) = failure_section(&keys, &evidence.failure_fixes);
    let mut evidence_ids = vec![
        format!("session:{}", request.session),
        format!("message:{}", request.quote.message_id),
    ];
    evidence_ids.extend(ids);
    evidence_ids.extend(fix_ids.into_iter().take(5));
    let last = keys.last().cloned().unwrap_or_default();
    Some(SkillDraft {
        name: procedure_name(&keys),
        description: description(intent.as_deref(), &keys, request.project_id.is_some()),
        when_to_use: vec![format!(
            "The user asked for this procedure to become a skill: \"{}\".",
            request.quote.text.trim()
        )],
        steps,
        verification: vec![format!("`{last}` exits with code 0 and reports no errors.")],
        if_it_fails,
        evidence_ids,
        evidence_sessions: 1,
        explicit_request: true,
        origin: DraftOrigin::Offline,
        project_id: request.project_id.clone(),
    })
}

fn from_candidate(candidate: &RecordedCandidate, evidence: &EvidenceBundle) -> Option<SkillDraft> {
    if candidate.steps.is_empty() {
        return None;
    }
    let name = if candidate.name.starts_with(NAMESPACE_PREFIX) {
        skill_name(candidate.name.trim_start_matches(NAMESPACE_PREFIX))
    } else {
        skill_name(&candidate.name)
    };
    let description = {
        let d = candidate.description.trim();
        if d.to_lowercase().starts_with("use when") {
            d.to_owned()
        } else {
            let mut chars = d.chars();
            let first = chars.next().map(|c| c.to_lowercase().to_string());
            format!("Use when {}{}", first.unwrap_or_default(), chars.as_str())
        }
    };
    // Programs named in the steps (`cargo test` inside backticks or at the start).
    let keys: Vec<String> = candidate
        .steps
        .iter()
        .filter_map(|s| {
            let inner = s.split('`').nth(1).unwrap_or(s);
            super::evidence::normalize_command(inner)
        })
        .collect();
    let (if_it_fails, _) = failure_section(&keys, &evidence.failure_fixes);
    let sessions = candidate
        .evidence
        .iter()
        .filter(|e| e.starts_with("session:"))
        .collect::<BTreeSet<_>>()
        .len()
        .max(1);
    let mut evidence_ids = vec![format!("candidate:{}", candidate.name)];
    evidence_ids.extend(candidate.evidence.iter().take(10).cloned());
    Some(SkillDraft {
        name,
        when_to_use: vec![description.clone()],
        description,
        steps: candidate.steps.clone(),
        verification: vec![
            "Every step completed without errors and the result is what the user asked for."
                .to_owned(),
        ],
        if_it_fails,
        evidence_ids,
        evidence_sessions: u32::try_from(sessions).unwrap_or(u32::MAX),
        explicit_request: false,
        origin: DraftOrigin::Reviewer,
        project_id: candidate.project_id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use rstest::rstest;

    #[rstest]
    #[case::commands("cargo fmt, cargo test", "csep-cargo-fmt-cargo-test")]
    #[case::punctuation("Deploy: the App!", "csep-deploy-the-app")]
    #[case::already_prefixed("csep run tests", "csep-run-tests")]
    #[case::empty("!!!", "csep-procedure")]
    #[case::reference_prefix("synth deploy", "csep-run-synth-deploy")]
    #[case::reflect_prefix("reflect notes", "csep-run-reflect-notes")]
    fn skill_names_are_slugs_in_csep_namespace(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(skill_name(text), expected);
    }

    #[test]
    fn long_names_are_cut_on_a_word_boundary_within_64_chars() {
        let name = skill_name(&"verylongword ".repeat(10));
        assert!(name.len() <= MAX_NAME_CHARS, "{name}");
        assert!(!name.ends_with('-'));
        assert!(crate::skills::gates::name_problem(&name, &name).is_none());
    }

    #[test]
    fn provider_drafts_count_only_evidence_the_bundle_holds() {
        use crate::skills::evidence::{Occurrence, Procedure};
        let bundle = EvidenceBundle {
            procedures: vec![Procedure {
                keys: vec!["make build".into(), "make test".into()],
                occurrences: ["codex:a", "codex:b"]
                    .iter()
                    .map(|s| Occurrence {
                        session_ref: 1,
                        session: (*s).into(),
                        project_id: None,
                        message_ids: vec![],
                        raw: vec![],
                        intent: None,
                    })
                    .collect(),
            }],
            ..EvidenceBundle::default()
        };
        let json = r#"{"skills":[{"name":"build and test","description":"Use when building.",
            "steps":["make build","make test"],
            "evidence_ids":["session:codex:a","session:codex:b","session:codex:invented"]}]}"#;
        let drafts = drafts_from_provider("test", json, &bundle).unwrap();
        assert_eq!(drafts[0].name, "csep-build-and-test");
        assert_eq!(drafts[0].evidence_sessions, 2);
        assert!(!drafts[0].explicit_request);
        assert_eq!(drafts[0].origin, DraftOrigin::Provider);
        let extra = r#"{"skills":[],"rewrite_all":true}"#;
        assert!(drafts_from_provider("test", extra, &bundle).is_err());
    }

    #[test]
    fn procedure_names_use_each_word_once() {
        let keys = vec!["cargo fmt".to_owned(), "cargo test".to_owned()];
        assert_eq!(procedure_name(&keys), "csep-cargo-fmt-test");
    }
}
