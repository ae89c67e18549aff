//! Project identity: which project a working directory belongs to.
//!
//! Every hook and command starts from a working directory; memory, recall and skills are kept per
//! project, so we first fold that directory into one canonical key. All subdirectories and all
//! linked worktrees of a repository fold into the same key, as in the reference's bucket
//! resolution (`spec.md` §2.2), which ran `git rev-parse --git-common-dir`.
//!
//! We read the on-disk layout git itself reads, without spawning `git` (the hooks have a budget of
//! a few milliseconds):
//! - a `.git` directory, or a `.git` file holding `gitdir: <path>` (relative to the file's
//!   directory), found by walking up from the canonical working directory to the filesystem root;
//! - a directory that is itself a git directory (`HEAD` file, `objects/` and `refs/`): a bare
//!   repository, or the inside of a `.git` directory;
//! - `<gitdir>/commondir`, whose content (relative to the git directory) names the common
//!   directory shared by linked worktrees.
//!
//! Invariant: the key is a canonical path (symlinks resolved) and is never mangled; non-UTF-8
//! paths are kept byte for byte. The reference flattened keys with `replace("/", "-")`, which is
//! not injective (`/a-b` and `/a/b` collide); [`RepoIdentity::project_id`] hashes the raw bytes
//! instead, and the caller stores the canonical path beside it.
//!
//! Not modelled: `GIT_DIR`, `GIT_CEILING_DIRECTORIES` and `GIT_DISCOVERY_ACROSS_FILESYSTEM`
//! (library code never reads the environment), and `core.worktree` overrides.

use std::fmt::{self, Write as _};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[cfg(test)]
#[path = "identity_tests.rs"]
mod tests;

/// Number of hex characters of the SHA-256 digest kept in a [`RepoIdentity::project_id`].
///
/// 16 hex characters are 64 bits: collisions are negligible for the handful of projects one
/// machine holds, and the id stays short enough for directory names and log lines.
pub const PROJECT_ID_HEX_CHARS: usize = 16;

/// Prefix of every [`RepoIdentity::project_id`], so ids are recognisable in logs and paths.
pub const PROJECT_ID_PREFIX: &str = "p_";

/// Why a working directory could not be resolved to a project.
///
/// Only problems with the working directory itself are errors; a broken `.git` above it is
/// recorded in [`RepoIdentity::warning`] instead, so a hook still gets an identity.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The working directory (or a component of it) does not exist.
    #[error(
        "working directory {} does not exist (was it deleted?); cd into an existing directory \
         or pass --cwd",
        .path.display()
    )]
    NotFound {
        /// The working directory as given.
        path: PathBuf,
    },
    /// The working directory exists but is not a directory.
    #[error(
        "working directory {} is not a directory; pass a directory with --cwd",
        .path.display()
    )]
    NotADirectory {
        /// The working directory as given.
        path: PathBuf,
    },
    /// The working directory or one of its parents cannot be searched by this user.
    #[error(
        "permission denied resolving working directory {}; check the permissions of it and its \
         parent directories, or pass --cwd",
        .path.display()
    )]
    PermissionDenied {
        /// The working directory as given.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
    /// Any other I/O error while canonicalizing the working directory.
    #[error(
        "cannot resolve working directory {}: {source}; check that the path is reachable or \
         pass --cwd",
        .path.display()
    )]
    Io {
        /// The working directory as given.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: io::Error,
    },
}

/// How the working directory relates to git.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityKind {
    /// The main worktree of a repository (a `.git` directory), or the inside of that `.git`
    /// directory. The key is the worktree root.
    Worktree,
    /// A worktree added with `git worktree add`. The key is the main worktree root, or the bare
    /// repository when the worktree belongs to one.
    LinkedWorktree,
    /// A bare repository (or a directory inside it). The key is the bare repository directory.
    Bare,
    /// A submodule whose git directory lives in the superproject's `.git/modules/<name>`. The key
    /// is that git directory, distinct from the superproject's key.
    Submodule,
    /// A worktree whose `.git` file or symlink points at a git directory elsewhere
    /// (`git init --separate-git-dir`). The key is that git directory.
    SeparateGitDir,
    /// Not inside any git repository (or inside a broken one). The key is the working directory.
    NotGit,
}

impl IdentityKind {
    /// A stable kebab-case name for logs and `csep status` (`"linked-worktree"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worktree => "worktree",
            Self::LinkedWorktree => "linked-worktree",
            Self::Bare => "bare",
            Self::Submodule => "submodule",
            Self::SeparateGitDir => "separate-git-dir",
            Self::NotGit => "not-git",
        }
    }
}

impl fmt::Display for IdentityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The project a working directory belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoIdentity {
    /// The project key: a canonical path (see [`IdentityKind`] for what it points at per kind).
    pub canonical_path: PathBuf,
    /// How the working directory relates to git.
    pub kind: IdentityKind,
    /// The canonical working directory the identity was resolved from.
    pub work_dir: PathBuf,
    /// Why a `.git` found above the working directory was ignored, if one was; the identity then
    /// has kind [`IdentityKind::NotGit`]. Meant to be logged, not shown as an error.
    pub warning: Option<String>,
}

impl RepoIdentity {
    /// Resolves the project that `cwd` belongs to, reading the filesystem only.
    ///
    /// `cwd` is canonicalized (symlinks resolved) and the search walks up to the filesystem root.
    /// It costs a few `stat` calls per ancestor and never spawns `git`. A `.git` that cannot be
    /// read or parsed stops the search and yields [`IdentityKind::NotGit`] with a
    /// [`warning`](Self::warning).
    ///
    /// # Errors
    /// Fails only when `cwd` itself cannot be used: it does not exist, is not a directory, or
    /// cannot be searched.
    pub fn resolve(cwd: &Path) -> Result<Self, IdentityError> {
        let work_dir = canonicalize_cwd(cwd)?;
        let (canonical_path, kind, warning) = match discover(&work_dir) {
            Ok(Some(found)) => (found.key, found.kind, None),
            Ok(None) => (work_dir.clone(), IdentityKind::NotGit, None),
            Err(warning) => (work_dir.clone(), IdentityKind::NotGit, Some(warning)),
        };
        Ok(Self {
            canonical_path,
            kind,
            work_dir,
            warning,
        })
    }

    /// An opaque, stable identifier for the project: `"p_"` plus the first 16 hex characters of
    /// the SHA-256 of the canonical path's raw bytes.
    ///
    /// It is lossless in input (non-UTF-8 paths hash their exact bytes) and safe as a file name,
    /// but it cannot be reversed: callers store [`canonical_path`](Self::canonical_path) beside
    /// it. Moving or renaming the repository yields a new id.
    pub fn project_id(&self) -> String {
        project_id_for(&self.canonical_path)
    }

    /// A short human-readable name: the last component of the canonical path.
    ///
    /// For display only: non-UTF-8 bytes are replaced with U+FFFD, and two projects may share a
    /// name. The filesystem root is shown as its full path.
    pub fn display_name(&self) -> String {
        match self.canonical_path.file_name() {
            Some(name) => name.to_string_lossy().into_owned(),
            None => self.canonical_path.display().to_string(),
        }
    }
}

/// Computes the [`RepoIdentity::project_id`] of a canonical path.
fn project_id_for(path: &Path) -> String {
    let digest = Sha256::digest(path_bytes(path));
    let mut id = String::with_capacity(PROJECT_ID_PREFIX.len() + PROJECT_ID_HEX_CHARS);
    id.push_str(PROJECT_ID_PREFIX);
    for byte in digest.iter().take(PROJECT_ID_HEX_CHARS / 2) {
        // Writing into a `String` cannot fail.
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// The raw bytes of a path: exact on unix, the platform's encoded form elsewhere.
#[cfg(unix)]
fn path_bytes(path: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

/// The raw bytes of a path: exact on unix, the platform's encoded form elsewhere.
#[cfg(not(unix))]
fn path_bytes(path: &Path) -> &[u8] {
    path.as_os_str().as_encoded_bytes()
}

/// Turns the bytes of a `gitdir:` or `commondir` value into a path without loss.
#[cfg(unix)]
fn path_from_bytes(bytes: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

/// Turns the bytes of a `gitdir:` or `commondir` value into a path; git writes UTF-8 there off
/// unix.
#[cfg(not(unix))]
fn path_from_bytes(bytes: &[u8]) -> Option<PathBuf> {
    std::str::from_utf8(bytes).ok().map(PathBuf::from)
}

/// Canonicalizes the working directory and checks it is a directory.
fn canonicalize_cwd(cwd: &Path) -> Result<PathBuf, IdentityError> {
    let canonical = fs::canonicalize(cwd).map_err(|source| cwd_error(cwd, source))?;
    let meta = fs::metadata(&canonical).map_err(|source| cwd_error(cwd, source))?;
    if meta.is_dir() {
        Ok(canonical)
    } else {
        Err(IdentityError::NotADirectory {
            path: cwd.to_path_buf(),
        })
    }
}

/// Maps an I/O error on the working directory to the matching [`IdentityError`].
fn cwd_error(cwd: &Path, source: io::Error) -> IdentityError {
    let path = cwd.to_path_buf();
    match source.kind() {
        io::ErrorKind::NotFound => IdentityError::NotFound { path },
        io::ErrorKind::NotADirectory => IdentityError::NotADirectory { path },
        io::ErrorKind::PermissionDenied => IdentityError::PermissionDenied { path, source },
        _ => IdentityError::Io { path, source },
    }
}

/// A repository found above the working directory.
#[derive(Debug)]
struct Found {
    key: PathBuf,
    kind: IdentityKind,
}

/// A validated git directory and its common directory, both canonical.
#[derive(Debug)]
struct GitDir {
    git_dir: PathBuf,
    common_dir: PathBuf,
    /// Whether `<git_dir>/commondir` exists, i.e. this is a linked worktree's git directory.
    has_commondir: bool,
}

impl GitDir {
    /// The project key: the main worktree root when the common directory is a `.git` directory,
    /// else the common directory itself (bare repository, submodule, separate git directory).
    fn key(&self) -> PathBuf {
        if self.common_dir.file_name() == Some(".git".as_ref())
            && let Some(parent) = self.common_dir.parent()
        {
            return parent.to_path_buf();
        }
        self.common_dir.clone()
    }
}

/// Walks up from `work_dir` to the first repository.
///
/// Returns `Ok(None)` when there is none, and `Err(warning)` when a `.git` was found but cannot be
/// used. Like git, a `.git` entry in a directory is checked before the directory itself is tried
/// as a git directory.
fn discover(work_dir: &Path) -> Result<Option<Found>, String> {
    for dir in work_dir.ancestors() {
        let dot_git = dir.join(".git");
        match fs::symlink_metadata(&dot_git) {
            Ok(_) => {
                return from_dot_git(dir, &dot_git)
                    .map(Some)
                    .map_err(|reason| ignored_warning(&dot_git, &reason));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(ignored_warning(
                    &dot_git,
                    &format!("cannot inspect it: {e}"),
                ));
            }
        }
        if let Some(found) = from_git_dir_itself(dir) {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The warning recorded when a `.git` entry is ignored.
fn ignored_warning(dot_git: &Path, reason: &str) -> String {
    format!(
        "ignoring {}: {reason}; the working directory is treated as its own project (fix or \
         remove that `.git` to track the repository)",
        dot_git.display()
    )
}

/// Resolves the repository that the `.git` entry in `dir` belongs to.
///
/// The error is the reason the entry cannot be used, without its path.
fn from_dot_git(dir: &Path, dot_git: &Path) -> Result<Found, String> {
    // `metadata` follows a `.git` symlink; a dangling one is reported, not skipped.
    let meta = fs::metadata(dot_git).map_err(|e| format!("cannot read it: {e}"))?;
    if meta.is_dir() {
        let git = open_git_dir(dot_git)?;
        let key = git.key();
        let kind = if git.has_commondir {
            IdentityKind::LinkedWorktree
        } else if key == dir {
            IdentityKind::Worktree
        } else {
            // `.git` is a symlink to a git directory elsewhere.
            IdentityKind::SeparateGitDir
        };
        return Ok(Found { key, kind });
    }
    if !meta.is_file() {
        return Err("it is neither a directory nor a file".to_owned());
    }
    let target = read_gitfile(dot_git)?;
    let git = open_git_dir(&dir.join(target))?;
    let kind = if git.has_commondir {
        IdentityKind::LinkedWorktree
    } else if is_submodule_git_dir(&git.git_dir) {
        IdentityKind::Submodule
    } else {
        IdentityKind::SeparateGitDir
    };
    Ok(Found {
        key: git.key(),
        kind,
    })
}

/// Tries `dir` itself as a git directory: a bare repository, or the inside of a `.git`.
///
/// Anything short of a valid git directory means "keep walking up", so errors are dropped here.
fn from_git_dir_itself(dir: &Path) -> Option<Found> {
    // Cheap first check: most directories have no `HEAD` file.
    if !dir.join("HEAD").is_file() {
        return None;
    }
    let git = open_git_dir(dir).ok()?;
    let key = git.key();
    let kind = if key != git.common_dir {
        // Inside the `.git` directory (or `.git/worktrees/<name>`) of a non-bare repository.
        IdentityKind::Worktree
    } else if is_submodule_git_dir(&git.common_dir) {
        IdentityKind::Submodule
    } else {
        IdentityKind::Bare
    };
    Some(Found { key, kind })
}

/// Reads a `.git` file (`gitdir: <path>`) and returns the path it names, as written.
///
/// Like git's `read_gitfile`, trailing whitespace (the newline, a stray `\r`) is stripped.
fn read_gitfile(dot_git: &Path) -> Result<PathBuf, String> {
    let bytes = fs::read(dot_git).map_err(|e| format!("cannot read it: {e}"))?;
    let value = bytes
        .strip_prefix(b"gitdir: ")
        .map(<[u8]>::trim_ascii_end)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| "it is not a valid gitfile (expected `gitdir: <path>`)".to_owned())?;
    path_from_bytes(value).ok_or_else(|| "it names a git directory that is not UTF-8".to_owned())
}

/// Canonicalizes and validates a git directory: a `HEAD` file, and `objects/` and `refs/` in its
/// common directory (as git's `is_git_directory` checks).
fn open_git_dir(path: &Path) -> Result<GitDir, String> {
    let git_dir = fs::canonicalize(path)
        .map_err(|e| format!("git directory {} cannot be resolved: {e}", path.display()))?;
    if !git_dir.join("HEAD").is_file() {
        return Err(format!(
            "{} is not a git directory (no HEAD file)",
            git_dir.display()
        ));
    }
    let commondir_file = git_dir.join("commondir");
    let (common_dir, has_commondir) = match fs::read(&commondir_file) {
        Ok(bytes) => {
            let value = path_from_bytes(bytes.trim_ascii_end())
                .ok_or_else(|| format!("{} is not UTF-8", commondir_file.display()))?;
            let joined = git_dir.join(value);
            let common = fs::canonicalize(&joined).map_err(|e| {
                format!(
                    "common directory {} named in {} cannot be resolved: {e}",
                    joined.display(),
                    commondir_file.display()
                )
            })?;
            (common, true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (git_dir.clone(), false),
        Err(e) => return Err(format!("cannot read {}: {e}", commondir_file.display())),
    };
    if !common_dir.join("objects").is_dir() || !common_dir.join("refs").is_dir() {
        return Err(format!(
            "{} is not a git directory (no objects/ or refs/)",
            common_dir.display()
        ));
    }
    Ok(GitDir {
        git_dir,
        common_dir,
        has_commondir,
    })
}

/// Whether a git directory lives under a superproject's `modules/` directory
/// (`<super>/.git/modules/<name>`, where `<name>` may contain slashes, and nested submodules
/// under `<super>/.git/modules/<a>/modules/<b>`).
fn is_submodule_git_dir(git_dir: &Path) -> bool {
    git_dir.ancestors().skip(1).any(|ancestor| {
        ancestor.file_name() == Some("modules".as_ref())
            && ancestor
                .parent()
                .is_some_and(|parent| parent.join("HEAD").is_file())
    })
}
