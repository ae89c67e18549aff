//! The memory store: entries, operations, dedupe, noise filter, budgets and projections.
//!
//! This file holds the vocabulary every stage shares ([`Scope`], [`Kind`]); the store itself
//! lives in submodules:
//! - [`entry`]: the record and its provenance;
//! - [`store`]: SQL access, history images, recall entries;
//! - [`apply`]: deterministic application of reviewer operations;
//! - [`dedupe`], [`noise`], [`budget`]: the rules `apply` enforces;
//! - [`projection`]: `USER.md` / `MEMORY.md` rendering and hand-edit import;
//! - [`start_index`]: what SessionStart injects, ranked and rendered ahead of time;
//! - [`history`]: undo of any change;
//! - [`index`]: the one function that turns text into full-text index terms.

pub mod apply;
pub mod budget;
pub mod dedupe;
pub mod entry;
pub mod history;
pub mod index;
pub mod noise;
pub mod poison;
pub mod projection;
pub mod start_index;
pub mod store;

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Who a memory entry applies to.
///
/// Stored as its snake_case name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The user, across every project (rendered into `USER.md`).
    User,
    /// One project (rendered into `projects/<id>/MEMORY.md`).
    Project,
}

/// What kind of knowledge an entry holds.
///
/// Stored as its snake_case name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// How the user likes things done ("answer in English", "prefer small commits").
    Preference,
    /// A convention to follow ("errors use thiserror", "never push to main").
    Rule,
    /// A durable fact about the project ("the API lives in services/api").
    Fact,
    /// A pitfall and how to avoid it.
    Gotcha,
    /// A command that works ("cargo test --workspace", "make e2e").
    Command,
    /// Where something is documented or found.
    Reference,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 2] = [Scope::User, Scope::Project];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::User => "user",
            Scope::Project => "project",
        }
    }
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 6] = [
        Kind::Preference,
        Kind::Rule,
        Kind::Fact,
        Kind::Gotcha,
        Kind::Command,
        Kind::Reference,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Preference => "preference",
            Kind::Rule => "rule",
            Kind::Fact => "fact",
            Kind::Gotcha => "gotcha",
            Kind::Command => "command",
            Kind::Reference => "reference",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unknown scope or kind name.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} `{value}`; expected one of: {expected}")]
pub struct UnknownName {
    /// `scope` or `kind`.
    pub what: &'static str,
    /// What was given.
    pub value: String,
    /// The valid names.
    pub expected: &'static str,
}

impl FromStr for Scope {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "scope",
                value: s.to_owned(),
                expected: "user, project",
            })
    }
}

impl FromStr for Kind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownName {
                what: "kind",
                value: s.to_owned(),
                expected: "preference, rule, fact, gotcha, command, reference",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_schema_checks() {
        for s in Scope::ALL {
            assert_eq!(s.as_str().parse::<Scope>().unwrap(), s);
        }
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert!("global".parse::<Scope>().is_err());
    }
}
