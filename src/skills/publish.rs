//! Files: the staging area, the archive of retired skills, and the hosts' skill roots
//! (`<codex home>/skills/<name>/SKILL.md`, `<claude config dir>/skills/<name>/SKILL.md`; client
//! protocols §1.7 and §2.6), with the manifest that records what csep wrote there.
//!
//! Invariants:
//! - every write or removal goes through [`check_namespace`]: only `csep-[a-z0-9-]+` directories,
//!   directly under a root, never through a symlink;
//! - writes are atomic (temp file + rename, [`crate::store::fsutil::write_atomic`]);
//! - a host file is overwritten or removed only when its SHA-256 equals the hash csep recorded
//!   when it wrote it ([`ManifestEntry`]); otherwise the user edited it and it is left alone and
//!   reported ([`LeftAlone`]).

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::gates::InventoryEntry;
use super::{MAX_NAME_CHARS, NAMESPACE_PREFIX, REFERENCE_PREFIXES, SkillError, render};
use crate::host::Host;
use crate::store::fsutil::write_atomic;

/// The file name both hosts load.
pub const SKILL_FILE: &str = "SKILL.md";

/// Where skills live for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// `<csep home>/skills/staging`: drafts that passed the gates.
    pub staging: PathBuf,
    /// `<csep home>/skills/archive`: retired skills.
    pub archive: PathBuf,
    /// The hosts' skill roots csep publishes to.
    pub hosts: Vec<(Host, PathBuf)>,
}

impl Roots {
    /// Roots under `csep_home`, publishing to `<codex_home>/skills` and
    /// `<claude_config_dir>/skills` (a host whose directory is unknown is skipped).
    pub fn new(
        csep_home: &Path,
        codex_home: Option<&Path>,
        claude_config_dir: Option<&Path>,
    ) -> Roots {
        let mut hosts = Vec::new();
        if let Some(dir) = codex_home {
            hosts.push((Host::Codex, dir.join("skills")));
        }
        if let Some(dir) = claude_config_dir {
            hosts.push((Host::Claude, dir.join("skills")));
        }
        Roots {
            staging: csep_home.join("skills").join("staging"),
            archive: csep_home.join("skills").join("archive"),
            hosts,
        }
    }

    /// `staging/<name>/SKILL.md`.
    pub fn staged_file(&self, name: &str) -> PathBuf {
        self.staging.join(name).join(SKILL_FILE)
    }

    /// `archive/<name>/SKILL.md`.
    pub fn archived_file(&self, name: &str) -> PathBuf {
        self.archive.join(name).join(SKILL_FILE)
    }
}

/// One file csep published, as recorded in the skills table's `published` column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// `codex` or `claude`.
    pub host: String,
    /// Absolute path of the SKILL.md.
    pub path: String,
    /// SHA-256 (hex) of the bytes csep wrote.
    pub hash: String,
    /// The user edited the file: csep no longer manages it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub released: bool,
}

/// A file csep did not touch, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LeftAlone {
    /// The file.
    pub path: String,
    /// Why.
    pub why: String,
}

/// SHA-256 hex of `bytes`.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refuses names outside csep's namespace (and anything that could escape a root).
pub fn check_namespace(name: &str) -> Result<(), SkillError> {
    let valid = name.starts_with(NAMESPACE_PREFIX)
        && name.len() > NAMESPACE_PREFIX.len()
        && name.chars().count() <= MAX_NAME_CHARS
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(SkillError::OutsideNamespace {
            name: name.to_owned(),
        })
    }
}

/// Writes `text` as `<root>/<name>/SKILL.md` atomically; refuses a symlinked skill directory.
fn write_skill(root: &Path, name: &str, text: &str) -> Result<PathBuf, SkillError> {
    check_namespace(name)?;
    let dir = root.join(name);
    if fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(SkillError::OutsideNamespace {
            name: format!("{} (a symlink)", dir.display()),
        });
    }
    let path = dir.join(SKILL_FILE);
    write_atomic(&path, text.as_bytes()).map_err(SkillError::io("writing", &path))?;
    Ok(path)
}

/// Removes `<root>/<name>/SKILL.md` and the directory when it is then empty.
fn remove_skill_file(path: &Path) -> Result<(), SkillError> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(SkillError::io("removing", path)(e)),
    }
    if let Some(dir) = path.parent() {
        // Only an empty directory goes; anything the user added stays.
        let _ = fs::remove_dir(dir);
    }
    Ok(())
}

/// Writes the staged copy of a skill.
pub fn stage(roots: &Roots, name: &str, text: &str) -> Result<PathBuf, SkillError> {
    write_skill(&roots.staging, name, text)
}

/// Removes the staged copy of a skill (no error when absent).
pub fn unstage(roots: &Roots, name: &str) -> Result<(), SkillError> {
    check_namespace(name)?;
    remove_skill_file(&roots.staged_file(name))
}

/// Writes the archived copy of a retired skill.
pub fn archive(roots: &Roots, name: &str, text: &str) -> Result<PathBuf, SkillError> {
    write_skill(&roots.archive, name, text)
}

/// Removes the archived copy (on restore).
pub fn unarchive(roots: &Roots, name: &str) -> Result<(), SkillError> {
    check_namespace(name)?;
    remove_skill_file(&roots.archived_file(name))
}

/// What publishing did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    /// The manifest after publishing (one entry per host file csep knows about).
    pub manifest: Vec<ManifestEntry>,
    /// Files written.
    pub written: Vec<String>,
    /// Files already up to date.
    pub unchanged: Vec<String>,
    /// Files left alone (user-edited, or not csep's).
    pub left_alone: Vec<LeftAlone>,
}

/// Publishes `text` as `name` into every host root. `previous` is the skill's manifest so far.
pub fn publish(
    roots: &Roots,
    name: &str,
    text: &str,
    previous: &[ManifestEntry],
) -> Result<PublishReport, SkillError> {
    check_namespace(name)?;
    let hash = content_hash(text.as_bytes());
    let mut report = PublishReport::default();
    for (host, root) in &roots.hosts {
        let path = root.join(name).join(SKILL_FILE);
        let path_str = path.to_string_lossy().into_owned();
        let known = previous
            .iter()
            .find(|e| e.host == host.as_str() && e.path == path_str);
        let on_disk = fs::read(&path).ok().map(|b| content_hash(&b));
        let entry = |released| ManifestEntry {
            host: host.as_str().to_owned(),
            path: path_str.clone(),
            hash: hash.clone(),
            released,
        };
        match (known, on_disk) {
            (Some(k), _) if k.released => {
                report.left_alone.push(LeftAlone {
                    path: path_str.clone(),
                    why: "edited by the user; csep no longer manages it".into(),
                });
                report.manifest.push(k.clone());
            }
            (Some(k), Some(disk)) if disk != k.hash && disk != hash => {
                report.left_alone.push(LeftAlone {
                    path: path_str.clone(),
                    why: "edited by the user since csep published it; csep stops managing it"
                        .into(),
                });
                let mut released = k.clone();
                released.released = true;
                released.hash = disk;
                report.manifest.push(released);
            }
            (Some(k), None) => {
                // Deleting a published skill is an edit too: csep does not put it back.
                report.left_alone.push(LeftAlone {
                    path: path_str.clone(),
                    why: "removed by the user; csep will not put it back (run `csep skills \
                          approve` to publish it again)"
                        .into(),
                });
                let mut released = k.clone();
                released.released = true;
                report.manifest.push(released);
            }
            (None, Some(disk)) if disk != hash => {
                report.left_alone.push(LeftAlone {
                    path: path_str.clone(),
                    why: "a different SKILL.md that csep did not write is already there; \
                          remove it or run `csep skills gc`"
                        .into(),
                });
            }
            (_, Some(disk)) if disk == hash => {
                report.unchanged.push(path_str.clone());
                report.manifest.push(entry(false));
            }
            _ => {
                write_skill(root, name, text)?;
                report.written.push(path_str.clone());
                report.manifest.push(entry(false));
            }
        }
    }
    // Entries for hosts no longer configured stay recorded so they can still be cleaned up.
    for old in previous {
        if !report.manifest.iter().any(|e| e.path == old.path) {
            report.manifest.push(old.clone());
        }
    }
    Ok(report)
}

/// What unpublishing did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UnpublishReport {
    /// Files removed.
    pub removed: Vec<String>,
    /// Files left alone because the user edited them.
    pub left_alone: Vec<LeftAlone>,
    /// Manifest entries that remain (released ones).
    pub remaining: Vec<ManifestEntry>,
}

/// Removes every host file of `manifest` that csep still owns (hash unchanged).
pub fn unpublish(name: &str, manifest: &[ManifestEntry]) -> Result<UnpublishReport, SkillError> {
    check_namespace(name)?;
    let mut report = UnpublishReport::default();
    for entry in manifest {
        let path = PathBuf::from(&entry.path);
        if path.parent().and_then(Path::file_name) != Some(std::ffi::OsStr::new(name)) {
            // A manifest entry that does not point into the skill's own directory is never
            // followed.
            report.left_alone.push(LeftAlone {
                path: entry.path.clone(),
                why: "not inside the skill's own directory".into(),
            });
            continue;
        }
        let on_disk = fs::read(&path).ok().map(|b| content_hash(&b));
        match on_disk {
            None => report.removed.push(entry.path.clone()),
            Some(disk) if disk == entry.hash && !entry.released => {
                remove_skill_file(&path)?;
                report.removed.push(entry.path.clone());
            }
            Some(_) => {
                report.left_alone.push(LeftAlone {
                    path: entry.path.clone(),
                    why: "edited by the user; csep no longer manages it".into(),
                });
                let mut kept = entry.clone();
                kept.released = true;
                report.remaining.push(kept);
            }
        }
    }
    Ok(report)
}

/// Marks manifest entries whose file changed on disk as released; returns the updated manifest
/// and the paths newly found edited.
pub fn detect_user_edits(manifest: &[ManifestEntry]) -> (Vec<ManifestEntry>, Vec<String>) {
    let mut out = Vec::with_capacity(manifest.len());
    let mut edited = Vec::new();
    for entry in manifest {
        let mut e = entry.clone();
        if !e.released
            && let Ok(bytes) = fs::read(&e.path)
        {
            let disk = content_hash(&bytes);
            if disk != e.hash {
                e.released = true;
                e.hash = disk;
                edited.push(e.path.clone());
            }
        }
        out.push(e);
    }
    (out, edited)
}

/// Every skill found in the hosts' roots (`<root>/<dir>/SKILL.md`, and one level deeper for
/// grouping directories such as `.system`), for the duplicate gate.
pub fn read_inventory(roots: &Roots) -> Vec<InventoryEntry> {
    let mut out = Vec::new();
    for (host, root) in &roots.hosts {
        collect_inventory(*host, root, 0, &mut out);
    }
    out
}

fn collect_inventory(host: Host, dir: &Path, depth: usize, out: &mut Vec<InventoryEntry>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for sub in dirs {
        let file = sub.join(SKILL_FILE);
        match fs::read_to_string(&file) {
            Ok(text) => {
                let dir_name = sub
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let (name, description, body) = match render::parse(&text) {
                    Ok(p) => (
                        p.frontmatter.name.unwrap_or_else(|| dir_name.clone()),
                        p.frontmatter.description.unwrap_or_default(),
                        p.body.to_owned(),
                    ),
                    Err(_) => (dir_name, String::new(), text.clone()),
                };
                out.push(InventoryEntry {
                    name,
                    description,
                    body,
                    location: format!("{host}:{}", file.display()),
                });
            }
            Err(_) if depth < 2 => collect_inventory(host, &sub, depth + 1, out),
            Err(_) => {}
        }
    }
}

/// Why a directory in csep's namespace is an orphan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrphanKind {
    /// Left by the Python reference (`csep-synth-*`, `csep-reflect-*`, `csep-managed`).
    ReferenceLeftover,
    /// A `csep-*` directory in a host root that no manifest entry accounts for.
    Unmanaged,
    /// A staging or archive directory with no skills row in the matching state.
    StaleCopy,
}

/// A directory `csep skills gc` would remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    /// The directory.
    pub path: String,
    /// `codex`, `claude`, `staging` or `archive`.
    pub location: String,
    /// Why.
    pub kind: OrphanKind,
}

/// Finds orphans: `csep-*` directories in the host roots not in `managed_paths` (SKILL.md paths
/// of every manifest entry, released ones included), and staging/archive directories whose
/// name is not in `staged` / `archived`.
pub fn find_orphans(
    roots: &Roots,
    managed_paths: &[String],
    staged: &[String],
    archived: &[String],
) -> Vec<Orphan> {
    let mut out = Vec::new();
    for (host, root) in &roots.hosts {
        for (dir, name) in namespace_dirs(root) {
            let file = dir.join(SKILL_FILE).to_string_lossy().into_owned();
            if managed_paths.contains(&file) {
                continue;
            }
            let kind = if REFERENCE_PREFIXES.iter().any(|p| name.starts_with(p)) {
                OrphanKind::ReferenceLeftover
            } else {
                OrphanKind::Unmanaged
            };
            out.push(Orphan {
                path: dir.to_string_lossy().into_owned(),
                location: host.as_str().to_owned(),
                kind,
            });
        }
    }
    for (root, keep, location) in [
        (&roots.staging, staged, "staging"),
        (&roots.archive, archived, "archive"),
    ] {
        for (dir, name) in namespace_dirs(root) {
            if !keep.contains(&name) {
                out.push(Orphan {
                    path: dir.to_string_lossy().into_owned(),
                    location: location.to_owned(),
                    kind: OrphanKind::StaleCopy,
                });
            }
        }
    }
    out
}

/// `csep-*` entries directly under `root` (directories or symlinks), sorted.
fn namespace_dirs(root: &Path) -> Vec<(PathBuf, String)> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let is_dir_or_link = e.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink());
            (name.starts_with(NAMESPACE_PREFIX) && is_dir_or_link).then(|| (e.path(), name))
        })
        .collect();
    out.sort();
    out
}

/// Removes an orphan directory (a symlink is unlinked, never followed). Refuses anything not
/// named `csep-*` directly under one of `roots`.
pub fn remove_orphan(roots: &Roots, orphan: &Orphan) -> Result<(), SkillError> {
    let path = PathBuf::from(&orphan.path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let inside = roots.hosts.iter().any(|(_, r)| *r == parent)
        || parent == roots.staging
        || parent == roots.archive;
    if !inside || !name.starts_with(NAMESPACE_PREFIX) || name.contains("..") {
        return Err(SkillError::OutsideNamespace {
            name: orphan.path.clone(),
        });
    }
    let meta = fs::symlink_metadata(&path).map_err(SkillError::io("inspecting", &path))?;
    if meta.file_type().is_symlink() {
        fs::remove_file(&path).map_err(SkillError::io("removing", &path))
    } else {
        fs::remove_dir_all(&path).map_err(SkillError::io("removing", &path))
    }
}

#[cfg(test)]
#[path = "publish_tests.rs"]
mod tests;
