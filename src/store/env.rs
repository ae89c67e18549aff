//! Placeholder until the env module lands (replaced by the `config` branch).

use std::collections::BTreeMap;

/// Snapshot of environment variables.
#[derive(Clone, Default, Debug)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
        }
    }
    /// Builds a snapshot from pairs.
    pub fn from_pairs<I, K, V>(pairs: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
    /// Value of `name`, `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// Placeholder.
#[derive(Debug)]
pub struct EnvProviderFile {
    /// Path.
    pub path: std::path::PathBuf,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Mode warning.
    pub mode_warning: Option<String>,
}
/// Placeholder.
#[derive(Debug, thiserror::Error)]
#[error("env error")]
pub struct EnvError;
impl EnvProviderFile {
    /// Load.
    pub fn load(_path: &std::path::Path) -> Result<Option<Self>, EnvError> {
        Ok(None)
    }
    /// Names.
    pub fn key_names(&self) -> Vec<String> {
        vec![]
    }
}
