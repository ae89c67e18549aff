//! Filesystem helpers with the permissions csep promises: private directories (0700), private
//! files (0600) and atomic writes (temp file in the same directory, then rename).
//!
//! Every file csep writes into its home goes through [`write_atomic`] so a crash never leaves a
//! half-written file behind.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Mode of directories csep creates in its home: owner only.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of files csep creates in its home (database, config, secrets): owner read/write only.
pub const PRIVATE_FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents; directories created here get mode 0700.
///
/// An existing directory keeps its mode: csep never silently changes permissions the user set
/// (`csep doctor` reports them instead).
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(PRIVATE_DIR_MODE);
    }
    builder.create(dir)
}

/// Sets `path` to mode 0600 (no-op on non-unix platforms).
pub fn set_private_file_mode(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(PRIVATE_FILE_MODE))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Returns the permission bits of `path` (unix only; `None` elsewhere or when unreadable).
pub fn mode_of(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Writes `bytes` to `path` atomically with mode 0600: a temp file in the same directory is
/// written, flushed to disk and renamed over the target. The parent directory is created (0700)
/// when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    ensure_private_dir(parent)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let tmp = parent.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(PRIVATE_FILE_MODE);
        }
        let mut file = opts.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// The first path below `root` (the root itself excluded, `path` included) that is a symbolic
/// link or a `..`/absolute component, or `path` itself when it is not under `root`. `None` means
/// writing `path` cannot land outside `root` through a link planted inside it.
pub fn escape_below(root: &Path, path: &Path) -> Option<PathBuf> {
    let Ok(rel) = path.strip_prefix(root) else {
        return Some(path.to_path_buf());
    };
    let mut current = root.to_path_buf();
    for component in rel.components() {
        match component {
            std::path::Component::Normal(name) => current.push(name),
            std::path::Component::CurDir => continue,
            _ => return Some(current),
        }
        if fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink()) {
            return Some(current);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_creates_private_file_and_parents() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b/file.txt");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"two");
        #[cfg(unix)]
        {
            assert_eq!(mode_of(&target), Some(0o600));
            assert_eq!(mode_of(&dir.path().join("a/b")), Some(0o700));
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("a/b")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp file may remain");
    }

    #[cfg(unix)]
    #[test]
    fn escape_below_finds_planted_symlinks_and_dot_dot() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        fs::create_dir_all(root.join("ok")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("link")).unwrap();
        assert_eq!(escape_below(&root, &root.join("ok/file")), None);
        assert_eq!(
            escape_below(&root, &root.join("link/file")),
            Some(root.join("link"))
        );
        assert!(escape_below(&root, &root.join("ok/../../x")).is_some());
        assert!(escape_below(&root, Path::new("/etc/passwd")).is_some());
    }
}
