//! SKILL.md: rendering a [`SkillDraft`] and parsing a skill file's YAML frontmatter.
//!
//! Format written (what both hosts load; client protocols §1.7 and §2.6):
//!
//! ```text
//! ---
//! name: csep-cargo-fmt-test
//! description: "Use when …"
//! ---
//!
//! # csep-cargo-fmt-test
//!
//! ## When to use
//! ## Steps
//! ## Verification
//! ## If it fails
//! ## Evidence
//! ```
//!
//! Invariants: the frontmatter holds exactly `name` (plain, `[a-z0-9-]`) and `description`
//! (a JSON-quoted string, which is a valid YAML double-quoted scalar, so any character is safe);
//! the whole text is redacted before it is returned; rendering is deterministic (same draft,
//! same bytes, same hash).

use serde::Serialize;
use yaml_rust2::{Yaml, YamlLoader};

use crate::archive::redact::redact;

/// Where a draft came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftOrigin {
    /// The offline synthesizer (recurring procedures, explicit requests).
    Offline,
    /// An LLM provider.
    Provider,
    /// A reviewer's `skill_candidate` operation.
    Reviewer,
}

impl DraftOrigin {
    /// Stable name (`offline`, `provider`, `reviewer`).
    pub fn as_str(self) -> &'static str {
        match self {
            DraftOrigin::Offline => "offline",
            DraftOrigin::Provider => "provider",
            DraftOrigin::Reviewer => "reviewer",
        }
    }
}

/// A proposed skill, before rendering and gates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillDraft {
    /// `csep-<slug>`; also the directory name.
    pub name: String,
    /// "Use when …": when an agent should load it (≤ 1,024 characters).
    pub description: String,
    /// Paragraphs or bullets of the `## When to use` section.
    pub when_to_use: Vec<String>,
    /// The steps, in order (rendered as a numbered list).
    pub steps: Vec<String>,
    /// Bullets of `## Verification`: how to tell it worked.
    pub verification: Vec<String>,
    /// Bullets of `## If it fails`: failure handling, from observed failure → fix pairs.
    pub if_it_fails: Vec<String>,
    /// Evidence ids (`session:<host>:<id>`, `message:<id>`, `memory:<id>`, `candidate:<name>`).
    pub evidence_ids: Vec<String>,
    /// Distinct archived sessions that support it.
    pub evidence_sessions: u32,
    /// A user explicitly asked for this skill ("make this a skill").
    pub explicit_request: bool,
    /// Who proposed it.
    pub origin: DraftOrigin,
    /// The project it was learned in, when all its evidence comes from one project.
    pub project_id: Option<String>,
}

/// Renders `draft` as SKILL.md text (redacted).
pub fn render(draft: &SkillDraft) -> String {
    let mut out = String::new();
    out.push_str("---\n");
    out.push_str(&format!("name: {}\n", draft.name));
    let description =
        serde_json::to_string(&one_line(&draft.description)).unwrap_or_else(|_| "\"\"".to_owned());
    out.push_str(&format!("description: {description}\n"));
    out.push_str("---\n\n");
    out.push_str(&format!("# {}\n\n", draft.name));
    out.push_str("## When to use\n\n");
    for line in &draft.when_to_use {
        out.push_str(line.trim());
        out.push_str("\n\n");
    }
    out.push_str("## Steps\n\n");
    for (i, step) in draft.steps.iter().enumerate() {
        out.push_str(&format!("{}. {}\n", i + 1, step.trim()));
    }
    out.push('\n');
    out.push_str("## Verification\n\n");
    for line in &draft.verification {
        out.push_str(&format!("- {}\n", line.trim()));
    }
    out.push('\n');
    out.push_str("## If it fails\n\n");
    for line in &draft.if_it_fails {
        out.push_str(&format!("- {}\n", line.trim()));
    }
    out.push('\n');
    if !draft.evidence_ids.is_empty() {
        out.push_str("## Evidence\n\n");
        out.push_str(&format!(
            "Learned by csep from {} session(s): {}\n",
            draft.evidence_sessions,
            draft.evidence_ids.join(", ")
        ));
    }
    redact(&out).into_owned()
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The frontmatter fields csep reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontmatter {
    /// `name`, when present and a string.
    pub name: Option<String>,
    /// `description`, when present and a string.
    pub description: Option<String>,
}

/// A parsed SKILL.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSkill<'a> {
    /// The frontmatter.
    pub frontmatter: Frontmatter,
    /// Everything after the closing `---` line.
    pub body: &'a str,
}

/// Why a SKILL.md's frontmatter is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontmatterError {
    /// The text does not start with a `---` line.
    #[error("missing YAML frontmatter delimited by --- (the file must start with a `---` line)")]
    Missing,
    /// No closing `---` line.
    #[error("the YAML frontmatter is not closed by a `---` line")]
    Unclosed,
    /// The YAML does not parse.
    #[error("the YAML frontmatter does not parse: {0}")]
    Yaml(String),
    /// The YAML is not a mapping.
    #[error("the YAML frontmatter is not a mapping of keys to values")]
    NotAMapping,
}

/// Splits `text` into frontmatter and body and parses the frontmatter as YAML (the same shape
/// Codex requires: a `---` line, YAML, a `---` line).
pub fn parse(text: &str) -> Result<ParsedSkill<'_>, FrontmatterError> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or(FrontmatterError::Missing)?;
    let (yaml, body) = split_closing(rest).ok_or(FrontmatterError::Unclosed)?;
    let docs =
        YamlLoader::load_from_str(yaml).map_err(|e| FrontmatterError::Yaml(e.to_string()))?;
    let frontmatter = match docs.first() {
        None => Frontmatter::default(),
        Some(Yaml::Hash(map)) => {
            let get = |key: &str| {
                map.get(&Yaml::String(key.to_owned()))
                    .and_then(Yaml::as_str)
                    .map(str::to_owned)
            };
            Frontmatter {
                name: get("name"),
                description: get("description"),
            }
        }
        Some(_) => return Err(FrontmatterError::NotAMapping),
    };
    Ok(ParsedSkill { frontmatter, body })
}

/// Finds the closing `---` line; returns (yaml, body after it).
fn split_closing(rest: &str) -> Option<(&str, &str)> {
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == "---" {
            return Some((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    None
}

/// The `## ` sections of a body: (title, content) in order.
pub fn sections(body: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            out.push((title.trim().to_owned(), String::new()));
        } else if let Some((_, content)) = out.last_mut() {
            content.push_str(line);
            content.push('\n');
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    pub(crate) fn draft() -> SkillDraft {
        SkillDraft {
            name: "csep-cargo-fmt-test".into(),
            description: "Use when the user asks to \"check the build\": runs `cargo fmt` then \
                          `cargo test`."
                .into(),
            when_to_use: vec!["When the user asks to check the build before a commit.".into()],
            steps: vec!["Run `cargo fmt`.".into(), "Run `cargo test`.".into()],
            verification: vec!["`cargo test` exits with code 0.".into()],
            if_it_fails: vec!["Read the first error and fix it, then re-run.".into()],
            evidence_ids: vec!["session:codex:a".into(), "session:codex:b".into()],
            evidence_sessions: 2,
            explicit_request: false,
            origin: DraftOrigin::Offline,
            project_id: None,
        }
    }

    #[test]
    fn rendered_skill_md_matches_its_snapshot() {
        insta::assert_snapshot!(render(&draft()));
    }

    #[test]
    fn rendered_frontmatter_parses_back_to_the_same_name_and_description() {
        let d = draft();
        let text = render(&d);
        let parsed = parse(&text).unwrap();
        assert_eq!(parsed.frontmatter.name.as_deref(), Some(d.name.as_str()));
        assert_eq!(
            parsed.frontmatter.description.as_deref(),
            Some(d.description.as_str())
        );
        let titles: Vec<_> = sections(parsed.body).into_iter().map(|(t, _)| t).collect();
        assert_eq!(
            titles,
            [
                "When to use",
                "Steps",
                "Verification",
                "If it fails",
                "Evidence"
            ]
        );
    }

    #[test]
    fn secrets_in_a_draft_are_redacted_when_rendered() {
        let mut d = draft();
        d.steps
            .push("Run `curl -H 'Authorization: Bearer abcdefghijklmnopqrstu' x`".into());
        let text = render(&d);
        assert!(!text.contains("abcdefghijklmnopqrstu"), "{text}");
    }

    #[rstest::rstest]
    #[case::no_frontmatter("# title\n", FrontmatterError::Missing)]
    #[case::unclosed("---\nname: x\n", FrontmatterError::Unclosed)]
    #[case::list_not_mapping("---\n- a\n- b\n---\nbody", FrontmatterError::NotAMapping)]
    fn invalid_frontmatter_is_reported(#[case] text: &str, #[case] expected: FrontmatterError) {
        assert_eq!(parse(text).unwrap_err(), expected);
    }

    #[test]
    fn broken_yaml_is_reported_with_the_parser_message() {
        let err = parse("---\nname: [unclosed\n---\n").unwrap_err();
        assert!(matches!(err, FrontmatterError::Yaml(_)), "{err:?}");
    }
}
