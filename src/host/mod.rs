//! Host adapters: one per coding-agent client (Codex, Claude Code).
//!
//! Each adapter owns its client's hook payload types, hook output writers, transcript parser and
//! the locations of its skills and plugins. Nothing here knows about memory rules.

pub mod bundle;
pub mod claude;
pub mod codex;
pub mod install;
pub mod mcp;
pub mod plugin;
pub mod transcript;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A coding-agent client that csep integrates with.
///
/// Stored as its kebab-case name (`codex`, `claude`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Host {
    /// OpenAI Codex CLI.
    Codex,
    /// Anthropic Claude Code.
    Claude,
}

impl Host {
    /// Every supported host, in display order.
    pub const ALL: [Host; 2] = [Host::Codex, Host::Claude];

    /// The stable lowercase name used in flags, the database and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Host::Codex => "codex",
            Host::Claude => "claude",
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Deserializes a hook payload field, taking a value of another type (or `null`) for the
/// field's default. Hosts add and retype fields between releases (Claude Code's `effort` was
/// once a string, now `{"level": …}`): a field csep does not recognise must cost that field
/// only, never the whole payload, so that a Stop is still recorded.
pub fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).unwrap_or_default())
}

/// Error returned when a host name is not one csep supports.
#[derive(Debug, thiserror::Error)]
#[error("unknown host `{0}`; supported hosts: codex, claude")]
pub struct UnknownHost(pub String);

impl FromStr for Host {
    type Err = UnknownHost;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "codex" => Ok(Host::Codex),
            "claude" | "claude-code" => Ok(Host::Claude),
            other => Err(UnknownHost(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_round_trip_through_display_and_from_str() {
        for host in Host::ALL {
            assert_eq!(host.to_string().parse::<Host>().unwrap(), host);
        }
        assert_eq!("Claude-Code".parse::<Host>().unwrap(), Host::Claude);
        assert!("cursor".parse::<Host>().is_err());
    }
}
