//! `csep project`: which project a directory belongs to, and whether csep has seen it.
//!
//! Read-only: resolving an identity never registers it (hooks and the worker do).

use serde::Serialize;

use crate::cli::args::ProjectArgs;
use crate::cli::{Ctx, output};
use crate::store::db::{OpenOptions, Store, StoreError};
use crate::store::identity::RepoIdentity;
use crate::store::project;

/// What `csep project` reports.
#[derive(Debug, Serialize)]
pub struct ProjectReport {
    /// Opaque project id.
    pub id: String,
    /// The canonical path all worktrees and subdirectories fold into.
    pub canonical_path: String,
    /// How it was found (`worktree`, `linked-worktree`, `bare`, `submodule`, ...).
    pub kind: &'static str,
    /// The directory asked about, canonicalized.
    pub work_dir: String,
    /// Whether csep has recorded this project.
    pub registered: bool,
    /// A finding about the repository (e.g. a broken `.git`).
    pub warning: Option<String>,
}

/// Runs `csep project`.
pub fn run(ctx: &Ctx, args: &ProjectArgs) -> anyhow::Result<u8> {
    let dir = ctx.project_dir(args.cwd.as_deref())?;
    let identity = RepoIdentity::resolve(&dir)?;
    let id = identity.project_id();
    let registered = match Store::open_with(
        &ctx.paths.db(),
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    ) {
        Ok(store) => project::get(&store, &id)?.is_some(),
        Err(StoreError::Missing { .. }) => false,
        Err(e) => return Err(e.into()),
    };
    let report = ProjectReport {
        id,
        canonical_path: identity.canonical_path.display().to_string(),
        kind: identity.kind.as_str(),
        work_dir: identity.work_dir.display().to_string(),
        registered,
        warning: identity.warning.clone(),
    };
    if ctx.json {
        output::print_json(&report)?;
    } else {
        println!("project   {}", report.id);
        println!("path      {}", report.canonical_path);
        println!("kind      {}", report.kind);
        println!(
            "recorded  {}",
            if report.registered { "yes" } else { "not yet" }
        );
        if let Some(w) = &report.warning {
            println!("warning   {w}");
        }
    }
    Ok(0)
}
