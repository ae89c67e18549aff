//! Reviewer operations: the typed proposals a reviewer emits and the compiler applies.
//!
//! Models propose, code disposes: a reviewer (LLM or offline) returns a [`ReviewOutput`], read
//! strictly (`deny_unknown_fields`), and the deterministic compiler decides what each operation
//! does to the memory store. No operation rewrites a whole store.
//!
//! The JSON Schema of [`ReviewOutput`] is derived from these types (schemars) and committed as
//! `schema/review_output.schema.json`; `review::schema` checks that the file matches.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::memory::{Kind, Scope};

/// Everything one review proposes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewOutput {
    /// Proposed operations, in order.
    #[serde(default)]
    pub operations: Vec<Operation>,
}

/// One proposed change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Add a new memory entry.
    Add {
        /// Who it applies to.
        scope: Scope,
        /// What kind of knowledge it is.
        kind: Kind,
        /// One line, at most ~120 characters: the rule itself.
        summary: String,
        /// Details: why, when, how (may be empty).
        #[serde(default)]
        content: String,
        /// Archive message ids or quotes that support it.
        #[serde(default)]
        evidence: Vec<String>,
        /// 0.0–1.0; how sure the reviewer is.
        #[serde(default)]
        confidence: Option<f64>,
    },
    /// Replace an existing entry (by id) with a corrected or merged version.
    Replace {
        /// Id of the entry replaced.
        id: String,
        /// New one-line summary.
        summary: String,
        /// New details.
        #[serde(default)]
        content: String,
        /// New kind, when it changes.
        #[serde(default)]
        kind: Option<Kind>,
        /// Supporting evidence.
        #[serde(default)]
        evidence: Vec<String>,
        /// 0.0–1.0.
        #[serde(default)]
        confidence: Option<f64>,
    },
    /// Remove an entry that is wrong or obsolete.
    Remove {
        /// Id of the entry removed.
        id: String,
        /// Why (recorded in history).
        reason: String,
    },
    /// Store situational knowledge for on-demand recall rather than injection.
    Recall {
        /// Who it applies to.
        scope: Scope,
        /// One-line summary.
        summary: String,
        /// The knowledge.
        content: String,
        /// When it becomes useful ("when touching the billing webhook").
        trigger: String,
        /// Files or directories it concerns.
        #[serde(default)]
        paths: Vec<String>,
        /// Supporting evidence.
        #[serde(default)]
        evidence: Vec<String>,
    },
    /// A repeatable procedure worth turning into a skill.
    SkillCandidate {
        /// Proposed name (`csep-` prefix is added when missing).
        name: String,
        /// When to use it.
        description: String,
        /// The steps, in order.
        steps: Vec<String>,
        /// Supporting evidence.
        #[serde(default)]
        evidence: Vec<String>,
    },
}

impl Operation {
    /// The operation's tag as serialized (`add`, `replace`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Add { .. } => "add",
            Operation::Replace { .. } => "replace",
            Operation::Remove { .. } => "remove",
            Operation::Recall { .. } => "recall",
            Operation::SkillCandidate { .. } => "skill_candidate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_parse_from_tagged_json() {
        let json = r#"{"operations":[
            {"op":"add","scope":"user","kind":"preference","summary":"Answer in English"},
            {"op":"replace","id":"m_1","summary":"Use cargo nextest"},
            {"op":"remove","id":"m_2","reason":"obsolete"},
            {"op":"recall","scope":"project","summary":"s","content":"c","trigger":"t"},
            {"op":"skill_candidate","name":"run-tests","description":"Use when…","steps":["a"]}
        ]}"#;
        let out: ReviewOutput = serde_json::from_str(json).unwrap();
        let names: Vec<_> = out.operations.iter().map(Operation::name).collect();
        assert_eq!(
            names,
            ["add", "replace", "remove", "recall", "skill_candidate"]
        );
    }

    #[test]
    fn unknown_fields_and_ops_are_rejected() {
        let extra =
            r#"{"operations":[{"op":"add","scope":"user","kind":"fact","summary":"s","x":1}]}"#;
        assert!(serde_json::from_str::<ReviewOutput>(extra).is_err());
        let rewrite = r#"{"operations":[{"op":"rewrite_all","text":"..."}]}"#;
        assert!(serde_json::from_str::<ReviewOutput>(rewrite).is_err());
    }
}
