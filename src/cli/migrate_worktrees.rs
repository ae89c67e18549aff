//! `csep migrate-worktrees [--apply] [--from DIR]`: the reference implementation's per-worktree
//! buckets (`<home>/projects/<mangled cwd>`, reference spec §2.2, §13) mapped onto csep projects.
//!
//! Each bucket's cwd is its `.canonical_cwd` file, else the unmangled bucket name (`-` → `/`,
//! lossy as in the reference); csep's [`RepoIdentity`] of that path (worktrees and
//! subdirectories fold into their repository) names the project the bucket belongs to. The plan
//! lists every bucket with its project and the buckets that fold into the same project.
//! `--apply` registers those projects (`store::project::upsert`). It never moves, renames or
//! deletes reference files: importing their contents is `csep import reference`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::args::MigrateWorktreesArgs;
use crate::cli::{Ctx, output};
use crate::store::db::{OpenOptions, Store};
use crate::store::identity::RepoIdentity;
use crate::store::{project, time};

/// One bucket mapped onto a project.
#[derive(Debug, Clone, Serialize)]
pub struct BucketPlan {
    /// Bucket directory name.
    pub bucket: String,
    /// Bucket directory.
    pub bucket_path: String,
    /// The cwd the bucket was keyed by.
    pub cwd: String,
    /// Where that cwd came from: `.canonical_cwd` or `unmangled name`.
    pub cwd_source: &'static str,
    /// csep's project id for it.
    pub project_id: String,
    /// The project's canonical path.
    pub canonical_path: String,
    /// Identity kind (`worktree`, `linked-worktree`, ...).
    pub kind: &'static str,
    /// The bucket's cwd is the project root itself (nothing folds).
    pub canonical: bool,
    /// Whether csep already has this project.
    pub registered: bool,
    /// Entries in the bucket's `memory/memory.json` (user + global; corrupt counts 0).
    pub memory_entries: usize,
    /// Files in `suggestions/pending/`.
    pub pending_suggestions: usize,
}

/// A bucket left out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    /// Bucket directory name.
    pub bucket: String,
    /// Why.
    pub reason: String,
}

/// Buckets that fold into one project.
#[derive(Debug, Clone, Serialize)]
pub struct ProjectFold {
    /// Project id.
    pub project_id: String,
    /// Canonical path.
    pub canonical_path: String,
    /// The buckets, sorted.
    pub buckets: Vec<String>,
}

/// The whole result (`--json`).
#[derive(Debug, Serialize)]
pub struct MigrationReport {
    /// The reference home read.
    pub home: String,
    /// Every bucket mapped onto a project.
    pub plans: Vec<BucketPlan>,
    /// Projects with their buckets; more than one bucket means they fold together.
    pub projects: Vec<ProjectFold>,
    /// Buckets left out.
    pub skipped: Vec<Skipped>,
    /// `buckets`, `projects`, `folded` (buckets that join another's project), `skipped`,
    /// `to_register`.
    pub counts: BTreeMap<&'static str, usize>,
    /// Whether `--apply` registered the projects.
    pub applied: bool,
    /// Projects registered by `--apply` (id → `registered` | `already registered`).
    pub apply_results: BTreeMap<String, &'static str>,
}

/// The reference's lossy unmangling of a bucket name (`-Users-a-repo` → `/Users/a/repo`).
pub fn unmangle(name: &str) -> PathBuf {
    PathBuf::from(name.replace('-', "/"))
}

/// Whether a bucket name is archived (`….archived` or `….archived.<stamp>`).
pub fn is_archived(name: &str) -> bool {
    name.ends_with(".archived") || name.contains(".archived.")
}

/// Whether a directory name is one of csep's own project directories (`p_` + 16 hex).
fn is_csep_project_dir(name: &str) -> bool {
    name.len() == 18 && name.starts_with("p_") && name[2..].chars().all(|c| c.is_ascii_hexdigit())
}

fn count_memory(bucket: &Path) -> usize {
    let Ok(text) = std::fs::read_to_string(bucket.join("memory/memory.json")) else {
        return 0;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
        return 0;
    };
    ["user", "global"]
        .iter()
        .filter_map(|k| value.get(*k).and_then(|v| v.as_array()))
        .map(|a| a.iter().filter(|e| e.is_object()).count())
        .sum()
}

fn count_pending(bucket: &Path) -> usize {
    std::fs::read_dir(bucket.join("suggestions/pending"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
                .count()
        })
        .unwrap_or(0)
}

/// Plans the migration of the buckets under `<reference_home>/projects`; `registered` says
/// whether csep already knows a project id.
pub fn plan(
    reference_home: &Path,
    registered: &dyn Fn(&str) -> bool,
) -> (Vec<BucketPlan>, Vec<Skipped>, Vec<RepoIdentity>) {
    let mut plans = Vec::new();
    let mut skipped = Vec::new();
    let mut identities: Vec<RepoIdentity> = Vec::new();
    let mut names: Vec<(String, PathBuf)> = std::fs::read_dir(reference_home.join("projects"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    for (name, path) in names {
        let skip = |reason: &str| Skipped {
            bucket: name.clone(),
            reason: reason.to_owned(),
        };
        if is_archived(&name) {
            skipped.push(skip("already archived"));
            continue;
        }
        if is_csep_project_dir(&name) {
            skipped.push(skip("csep's own project directory"));
            continue;
        }
        let marker = std::fs::read_to_string(path.join(".canonical_cwd"))
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        let (cwd, cwd_source) = match marker {
            Some(m) => (PathBuf::from(m), ".canonical_cwd"),
            None => (unmangle(&name), "unmangled name"),
        };
        if !cwd.exists() {
            skipped.push(skip("original cwd no longer exists on disk"));
            continue;
        }
        let identity = match RepoIdentity::resolve(&cwd) {
            Ok(identity) => identity,
            Err(e) => {
                skipped.push(skip(&format!("cannot resolve its project: {e}")));
                continue;
            }
        };
        let id = identity.project_id();
        let canonical = cwd
            .canonicalize()
            .is_ok_and(|c| c == identity.canonical_path);
        plans.push(BucketPlan {
            bucket: name.clone(),
            bucket_path: path.display().to_string(),
            cwd: cwd.display().to_string(),
            cwd_source,
            project_id: id.clone(),
            canonical_path: identity.canonical_path.display().to_string(),
            kind: identity.kind.as_str(),
            canonical,
            registered: registered(&id),
            memory_entries: count_memory(&path),
            pending_suggestions: count_pending(&path),
        });
        if !identities.iter().any(|i| i.project_id() == id) {
            identities.push(identity);
        }
    }
    (plans, skipped, identities)
}

/// Runs `csep migrate-worktrees`.
pub fn run(ctx: &Ctx, args: &MigrateWorktreesArgs) -> anyhow::Result<u8> {
    let home = match &args.from {
        Some(dir) => ctx.project_dir(Some(dir))?,
        None => ctx.paths.home.clone(),
    };
    let known: Vec<String> = Store::open_with(
        &ctx.paths.db(),
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .ok()
    .and_then(|s| project::list(&s).ok())
    .map(|ps| ps.into_iter().map(|p| p.id).collect())
    .unwrap_or_default();
    let (plans, skipped, identities) = plan(&home, &|id| known.iter().any(|k| k == id));
    let mut folds: BTreeMap<String, ProjectFold> = BTreeMap::new();
    for p in &plans {
        folds
            .entry(p.project_id.clone())
            .or_insert_with(|| ProjectFold {
                project_id: p.project_id.clone(),
                canonical_path: p.canonical_path.clone(),
                buckets: Vec::new(),
            })
            .buckets
            .push(p.bucket.clone());
    }
    let to_register = identities
        .iter()
        .filter(|i| !known.contains(&i.project_id()))
        .count();
    let mut apply_results = BTreeMap::new();
    let applied = args.apply && !identities.is_empty();
    if applied {
        ctx.paths.ensure_home()?;
        let store = Store::open(&ctx.paths.db()).context("cannot open csep's database")?;
        let now = time::now();
        for identity in &identities {
            let id = identity.project_id();
            project::upsert(&store, identity, &now).with_context(|| {
                format!("cannot register {}", identity.canonical_path.display())
            })?;
            apply_results.insert(
                id.clone(),
                if known.contains(&id) {
                    "already registered"
                } else {
                    "registered"
                },
            );
        }
    }
    let counts = BTreeMap::from([
        ("buckets", plans.len()),
        ("projects", folds.len()),
        ("folded", plans.len() - folds.len()),
        ("skipped", skipped.len()),
        ("to_register", to_register),
    ]);
    let report = MigrationReport {
        home: home.display().to_string(),
        plans,
        projects: folds.into_values().collect(),
        skipped,
        counts,
        applied,
        apply_results,
    };
    if ctx.json {
        output::print_json(&report)?;
    } else {
        print!("{}", render(&report, args.apply));
    }
    Ok(0)
}

/// Human rendering.
pub fn render(report: &MigrationReport, apply: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "reference buckets in {}/projects", report.home);
    for fold in &report.projects {
        let _ = writeln!(
            s,
            "\n{}  {}{}",
            fold.project_id,
            fold.canonical_path,
            if fold.buckets.len() > 1 {
                format!("  ({} buckets fold into this project)", fold.buckets.len())
            } else {
                String::new()
            }
        );
        for p in report
            .plans
            .iter()
            .filter(|p| p.project_id == fold.project_id)
        {
            let _ = writeln!(
                s,
                "  {}  cwd {} ({}), {} memory entries, {} pending{}",
                p.bucket,
                p.cwd,
                p.kind,
                p.memory_entries,
                p.pending_suggestions,
                if p.registered { ", known to csep" } else { "" }
            );
        }
    }
    for skip in &report.skipped {
        let _ = writeln!(s, "skipped {}: {}", skip.bucket, skip.reason);
    }
    let _ = writeln!(
        s,
        "\n{} bucket(s) → {} project(s), {} to register{}",
        report.counts["buckets"],
        report.counts["projects"],
        report.counts["to_register"],
        if report.applied {
            "; registered. Import their contents with `csep import reference`."
        } else if apply {
            "; nothing to apply."
        } else {
            "; dry run: rerun with --apply to register them."
        }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_unmangle_and_archives_are_recognised() {
        assert_eq!(
            unmangle("-Users-alice-code-repo"),
            PathBuf::from("/Users/alice/code/repo")
        );
        assert!(is_archived("-tmp-old.archived.20260422T100000"));
        assert!(is_archived("-tmp-old.archived"));
        assert!(!is_archived("-tmp-archived-stuff"));
        assert!(is_csep_project_dir("p_0123456789abcdef"));
        assert!(!is_csep_project_dir("-p_0123456789abcdef"));
    }
}
