//! Where csep keeps its state: the home directory and the files inside it.
//!
//! Home resolution: `--home`, else `$CODEX_SELF_EVOLUTION_HOME`, else `~/.codex-self-evolution`
//! (the reference implementation's home, so its users keep one place). The caller passes the
//! flag and the environment values in; nothing here reads the process environment.

use std::path::{Path, PathBuf};

use crate::store::fsutil;

/// Name of the home directory under the user's home when nothing else is given.
pub const DEFAULT_HOME_DIR_NAME: &str = ".codex-self-evolution";
/// Environment variable that overrides the home directory.
pub const HOME_ENV: &str = "CODEX_SELF_EVOLUTION_HOME";

/// Errors resolving or preparing the home directory.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    /// No `--home`, no `$CODEX_SELF_EVOLUTION_HOME` and no user home directory.
    #[error("cannot locate a home for csep: $HOME is not set; pass --home DIR or set {HOME_ENV}")]
    NoHome,
    /// The home could not be created or is not writable.
    #[error(
        "cannot create csep home {path}: {source}; choose a writable directory with --home DIR \
         or set {HOME_ENV}"
    )]
    Create {
        /// The home directory.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The home path exists but is a file.
    #[error("csep home {path} exists but is not a directory; remove it or pass --home DIR")]
    NotADirectory {
        /// The home path.
        path: PathBuf,
    },
}

/// Resolved locations of csep's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The home directory (absolute).
    pub home: PathBuf,
}

impl Paths {
    /// Resolves the home from the `--home` flag, then `$CODEX_SELF_EVOLUTION_HOME`, then
    /// `<user home>/.codex-self-evolution`. Relative paths are made absolute against `cwd`;
    /// a leading `~/` is expanded with `user_home`.
    pub fn resolve(
        flag: Option<&Path>,
        env_home: Option<&str>,
        user_home: Option<&Path>,
        cwd: Option<&Path>,
    ) -> Result<Paths, PathsError> {
        let chosen: PathBuf = if let Some(flag) = flag.filter(|p| !p.as_os_str().is_empty()) {
            expand_tilde(flag, user_home)
        } else if let Some(env) = env_home.filter(|v| !v.trim().is_empty()) {
            expand_tilde(Path::new(env), user_home)
        } else {
            user_home
                .ok_or(PathsError::NoHome)?
                .join(DEFAULT_HOME_DIR_NAME)
        };
        let home = if chosen.is_absolute() {
            chosen
        } else {
            match cwd {
                Some(cwd) => cwd.join(chosen),
                None => chosen,
            }
        };
        Ok(Paths { home })
    }

    /// Paths rooted at `home` as given (tests and `--home` callers that already resolved it).
    pub fn at(home: impl Into<PathBuf>) -> Paths {
        Paths { home: home.into() }
    }

    /// Creates the home (0700) if it is missing and checks it is a directory.
    pub fn ensure_home(&self) -> Result<(), PathsError> {
        if self.home.exists() && !self.home.is_dir() {
            return Err(PathsError::NotADirectory {
                path: self.home.clone(),
            });
        }
        fsutil::ensure_private_dir(&self.home).map_err(|source| PathsError::Create {
            path: self.home.clone(),
            source,
        })
    }

    /// The SQLite database: `<home>/csep.db`.
    pub fn db(&self) -> PathBuf {
        self.home.join("csep.db")
    }

    /// SessionStart's start index: `<home>/start-index/` (see `memory::start_index`).
    pub fn start_index_dir(&self) -> PathBuf {
        self.home.join("start-index")
    }

    /// The start index file of the project's scope, or the user's with `None`: `user.idx` or
    /// `project-<id>.idx` in [`Paths::start_index_dir`]; `None` for a project id that is not a
    /// plain file name (such a scope is never cached).
    pub fn start_index_file(&self, project_id: Option<&str>) -> Option<PathBuf> {
        let name = match project_id {
            None => "user.idx".to_owned(),
            Some(id)
                if !id.is_empty()
                    && id.len() <= 128
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                format!("project-{id}.idx")
            }
            Some(_) => return None,
        };
        Some(self.start_index_dir().join(name))
    }

    /// The configuration file: `<home>/config.toml`.
    pub fn config(&self) -> PathBuf {
        self.home.join("config.toml")
    }

    /// Provider keys: `<home>/.env.provider` (mode 0600, never echoed).
    pub fn env_provider(&self) -> PathBuf {
        self.home.join(".env.provider")
    }

    /// Stop events the hook could not write to a busy database, waiting for the worker:
    /// `<home>/spool`.
    pub fn spool_dir(&self) -> PathBuf {
        self.home.join("spool")
    }

    /// Why the last worker run failed before it could write a receipt (the database locked or
    /// unreadable), when it did: `<home>/worker-failure.json`. A run that gets through removes
    /// it.
    pub fn worker_failure_file(&self) -> PathBuf {
        self.home.join("worker-failure.json")
    }

    /// The log directory: `<home>/logs`.
    pub fn logs_dir(&self) -> PathBuf {
        self.home.join("logs")
    }

    /// The current log file: `<home>/logs/csep.log` (JSON lines).
    pub fn log_file(&self) -> PathBuf {
        self.logs_dir().join("csep.log")
    }

    /// The user-scope memory projection: `<home>/USER.md`.
    pub fn user_md(&self) -> PathBuf {
        self.home.join("USER.md")
    }

    /// The directory of one project's projections: `<home>/projects/<project id>`. Ids are
    /// csep's own hashes (`p_…`), but one read back from a tampered database could hold `..`,
    /// `/` or NUL: every byte outside `[A-Za-z0-9_-]` becomes `_`, so the directory is always a
    /// direct child of `<home>/projects`.
    pub fn project_dir(&self, project_id: &str) -> PathBuf {
        let safe: String = project_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let safe = if safe.is_empty() {
            "_".to_owned()
        } else {
            safe
        };
        self.home.join("projects").join(safe)
    }

    /// A project's memory projection: `<home>/projects/<id>/MEMORY.md`.
    pub fn project_memory_md(&self, project_id: &str) -> PathBuf {
        self.project_dir(project_id).join("MEMORY.md")
    }
}

fn expand_tilde(path: &Path, user_home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), user_home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_beats_env_beats_default() {
        let user = Path::new("/home/u");
        let p = Paths::resolve(Some(Path::new("/f")), Some("/e"), Some(user), None).unwrap();
        assert_eq!(p.home, PathBuf::from("/f"));
        let p = Paths::resolve(None, Some("/e"), Some(user), None).unwrap();
        assert_eq!(p.home, PathBuf::from("/e"));
        let p = Paths::resolve(None, Some("  "), Some(user), None).unwrap();
        assert_eq!(p.home, PathBuf::from("/home/u/.codex-self-evolution"));
    }

    #[test]
    fn start_index_files_stay_in_their_directory() {
        let p = Paths::resolve(Some(Path::new("/h")), None, None, None).unwrap();
        let dir = p.start_index_dir();
        assert_eq!(p.start_index_file(None), Some(dir.join("user.idx")));
        assert_eq!(
            p.start_index_file(Some("p_ab-12")),
            Some(dir.join("project-p_ab-12.idx"))
        );
        let long = "a".repeat(129);
        for bad in ["", "../x", "a/b", "a.b", "x\\y", long.as_str()] {
            assert_eq!(p.start_index_file(Some(bad)), None, "{bad:?}");
        }
        assert!(p.start_index_file(Some(&"a".repeat(128))).is_some());
    }

    #[test]
    fn tilde_and_relative_homes_become_absolute() {
        let user = Path::new("/home/u");
        let p = Paths::resolve(None, Some("~/state"), Some(user), None).unwrap();
        assert_eq!(p.home, PathBuf::from("/home/u/state"));
        let p = Paths::resolve(
            Some(Path::new("rel")),
            None,
            Some(user),
            Some(Path::new("/w")),
        )
        .unwrap();
        assert_eq!(p.home, PathBuf::from("/w/rel"));
    }

    #[test]
    fn missing_user_home_is_an_actionable_error() {
        let err = Paths::resolve(None, None, None, None).unwrap_err();
        assert!(err.to_string().contains("--home"));
    }

    #[test]
    fn a_file_in_place_of_the_home_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("home");
        std::fs::write(&file, "x").unwrap();
        let err = Paths::at(&file).ensure_home().unwrap_err();
        assert!(matches!(err, PathsError::NotADirectory { .. }));
    }
}
