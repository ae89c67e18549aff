//! Logging: JSON lines in `<home>/logs/csep.log`, through `tracing`, rotated by size.
//!
//! The subscriber installed here is the one piece of global state in csep (as `tracing`
//! requires); it is installed once by the binary's entry point. Rotation happens when a process
//! starts and finds the file larger than `max_bytes`: `csep.log` becomes `csep.log.1`, older
//! files shift up, and files beyond `keep_files` are deleted. In hooks stdout belongs to the
//! host, so nothing is ever logged to stdout; message bodies and secrets are never logged.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::filter::LevelFilter;

use crate::store::fsutil;

/// Default size past which the log rotates (5 MiB).
pub const DEFAULT_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Default number of rotated files kept besides the current one.
pub const DEFAULT_KEEP_FILES: u32 = 5;

/// Logging settings (from `[log]` in config.toml).
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// Most verbose level written.
    pub level: LevelFilter,
    /// Rotate when the current file is larger than this.
    pub max_bytes: u64,
    /// Rotated files to keep.
    pub keep_files: u32,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            level: LevelFilter::INFO,
            max_bytes: DEFAULT_MAX_BYTES,
            keep_files: DEFAULT_KEEP_FILES,
        }
    }
}

/// Parses a level name (`error`, `warn`, `info`, `debug`, `trace`, `off`).
pub fn parse_level(name: &str) -> Option<LevelFilter> {
    name.trim().parse().ok()
}

/// Rotates `file` if it is larger than `max_bytes`, keeping `keep` older files
/// (`file.1` is the newest).
pub fn rotate_if_needed(file: &Path, max_bytes: u64, keep: u32) -> io::Result<bool> {
    let size = match fs::metadata(file) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if size <= max_bytes {
        return Ok(false);
    }
    let numbered = |n: u32| -> PathBuf {
        let mut name = file.as_os_str().to_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    };
    if keep == 0 {
        fs::remove_file(file)?;
        return Ok(true);
    }
    let _ = fs::remove_file(numbered(keep));
    for n in (1..keep).rev() {
        let from = numbered(n);
        if from.exists() {
            fs::rename(&from, numbered(n + 1))?;
        }
    }
    fs::rename(file, numbered(1))?;
    Ok(true)
}

/// Installs the JSON-lines subscriber writing to `log_file`. Returns an error (and installs
/// nothing) when the log directory cannot be created or the file cannot be opened: the caller
/// carries on without a log rather than failing the command or hook.
pub fn init(log_file: &Path, settings: &LogSettings) -> io::Result<()> {
    if let Some(dir) = log_file.parent() {
        fsutil::ensure_private_dir(dir)?;
    }
    // Two processes may rotate at once; losing that race only means one rotation is skipped.
    let _ = rotate_if_needed(log_file, settings.max_bytes, settings.keep_files);
    let mut opts = fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(fsutil::PRIVATE_FILE_MODE);
    }
    let file = opts.open(log_file)?;
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(settings.level)
        .with_writer(Mutex::new(file))
        // A log that cannot be written (a full disk) is lost quietly: a hook's stderr is the
        // host's to show, and the log is never a reason to speak up.
        .log_internal_errors(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber).map_err(|e| io::Error::other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_shifts_files_and_drops_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("csep.log");
        for round in 0..4 {
            fs::write(&log, format!("round {round} {}", "x".repeat(100))).unwrap();
            assert!(rotate_if_needed(&log, 10, 2).unwrap());
        }
        assert!(!log.exists());
        assert!(
            fs::read_to_string(dir.path().join("csep.log.1"))
                .unwrap()
                .starts_with("round 3")
        );
        assert!(
            fs::read_to_string(dir.path().join("csep.log.2"))
                .unwrap()
                .starts_with("round 2")
        );
        assert!(!dir.path().join("csep.log.3").exists());
    }

    #[test]
    fn small_or_missing_files_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("csep.log");
        assert!(!rotate_if_needed(&log, 10, 2).unwrap());
        fs::write(&log, "tiny").unwrap();
        assert!(!rotate_if_needed(&log, 10, 2).unwrap());
        assert!(log.exists());
    }

    #[test]
    fn level_names_parse() {
        assert_eq!(parse_level("debug"), Some(LevelFilter::DEBUG));
        assert_eq!(parse_level("loud"), None);
    }
}
