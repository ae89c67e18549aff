//! Placeholder until the config module lands (replaced by the `config` branch).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::store::env::Env;

/// Log section.
#[derive(Debug, Clone, Serialize)]
pub struct LogConfig {
    /// Level.
    pub level: String,
    /// Max bytes.
    pub max_bytes: u64,
    /// Keep files.
    pub keep_files: u32,
}
/// Config.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Active profile.
    pub active_profile: String,
    /// Log.
    pub log: LogConfig,
}
/// Source.
#[derive(Debug, Clone)]
pub enum Source {
    /// Default.
    Default,
}
/// Overrides.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    /// Profile.
    pub profile: Option<String>,
}
/// Loaded.
#[derive(Debug)]
pub struct LoadedConfig {
    /// Config.
    pub config: Config,
    /// Sources.
    pub sources: BTreeMap<String, Source>,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Path.
    pub path: PathBuf,
    /// Exists.
    pub exists: bool,
}
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("config error")]
pub struct ConfigError;
/// Load.
pub fn load(home: &Path, _env: &Env, _o: &Overrides) -> Result<LoadedConfig, ConfigError> {
    Ok(LoadedConfig {
        config: Config {
            active_profile: "offline".into(),
            log: LogConfig {
                level: "info".into(),
                max_bytes: 5 << 20,
                keep_files: 5,
            },
        },
        sources: BTreeMap::new(),
        warnings: vec![],
        path: home.join("config.toml"),
        exists: false,
    })
}
