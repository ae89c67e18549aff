//! The project registry: one row per [`RepoIdentity`], keyed by an opaque id, with the canonical
//! path stored losslessly (raw bytes on unix) beside a display rendering.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::store::db::{Store, StoreError};
use crate::store::identity::RepoIdentity;

/// A registered project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    /// Opaque id (`p_` + 16 hex).
    pub id: String,
    /// The canonical path, rendered for display (lossy only for non-UTF-8 paths).
    pub display_path: String,
    /// Last path component.
    pub name: String,
    /// How the identity was found (`worktree`, `bare`, `not-git`, ...).
    pub kind: String,
    /// First seen (RFC 3339).
    pub created_at: String,
    /// Last seen (RFC 3339).
    pub last_seen_at: String,
}

/// The raw bytes of a path, lossless on unix.
pub fn path_bytes(path: &std::path::Path) -> Vec<u8> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        path.as_os_str().as_bytes().to_vec()
    }
    #[cfg(not(unix))]
    {
        path.to_string_lossy().into_owned().into_bytes()
    }
}

/// Registers `identity` (or refreshes its `last_seen_at`) and returns the project.
pub fn upsert(store: &Store, identity: &RepoIdentity, now: &str) -> Result<Project, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let id = upsert_row(store.conn(), identity, now).map_err(err)?;
    get(store, &id)?.ok_or_else(|| err(rusqlite::Error::QueryReturnedNoRows))
}

/// The row [`upsert`] writes, on a bare connection (for callers inside their own transaction):
/// created, or its `last_seen_at` moved forward (never back) and its kind updated. Returns the
/// project id.
pub fn upsert_row(
    conn: &rusqlite::Connection,
    identity: &RepoIdentity,
    now: &str,
) -> rusqlite::Result<String> {
    let id = identity.project_id();
    conn.prepare_cached(
        "INSERT INTO projects (id, canonical_path, display_path, display_name, kind, \
         created_at, last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
         ON CONFLICT (id) DO UPDATE SET \
         last_seen_at = max(last_seen_at, excluded.last_seen_at), kind = excluded.kind",
    )?
    .execute(params![
        id,
        path_bytes(&identity.canonical_path),
        identity.canonical_path.to_string_lossy(),
        identity.display_name(),
        identity.kind.as_str(),
        now
    ])?;
    Ok(id)
}

/// Looks a project up by id.
pub fn get(store: &Store, id: &str) -> Result<Option<Project>, StoreError> {
    store
        .conn()
        .query_row(
            "SELECT id, display_path, display_name, kind, created_at, last_seen_at \
             FROM projects WHERE id = ?1",
            [id],
            row_to_project,
        )
        .optional()
        .map_err(|source| StoreError::Sqlite {
            path: store.path().to_path_buf(),
            source,
        })
}

/// Every project, most recently seen first.
pub fn list(store: &Store) -> Result<Vec<Project>, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let mut stmt = store
        .conn()
        .prepare(
            "SELECT id, display_path, display_name, kind, created_at, last_seen_at \
             FROM projects ORDER BY last_seen_at DESC, id",
        )
        .map_err(err)?;
    let rows = stmt.query_map([], row_to_project).map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

fn row_to_project(row: &rusqlite::Row<'_>) -> rusqlite::Result<Project> {
    Ok(Project {
        id: row.get(0)?,
        display_path: row.get(1)?,
        name: row.get(2)?,
        kind: row.get(3)?,
        created_at: row.get(4)?,
        last_seen_at: row.get(5)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::identity::IdentityKind;

    #[test]
    fn upsert_registers_once_and_refreshes_last_seen() {
        let dir = tempfile::tempdir().unwrap();
        let identity = RepoIdentity::resolve(dir.path()).unwrap();
        let store = Store::open_in_memory().unwrap();
        let first = upsert(&store, &identity, "2026-01-01T00:00:00Z").unwrap();
        let second = upsert(&store, &identity, "2026-02-01T00:00:00Z").unwrap();
        assert_eq!(first.id, identity.project_id());
        assert_eq!(second.created_at, "2026-01-01T00:00:00Z");
        assert_eq!(second.last_seen_at, "2026-02-01T00:00:00Z");
        assert_eq!(list(&store).unwrap().len(), 1);
        let stored: Vec<u8> = store
            .conn()
            .query_row("SELECT canonical_path FROM projects", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, path_bytes(&identity.canonical_path));
    }

    #[test]
    fn an_older_sighting_never_moves_last_seen_back_and_the_kind_follows_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let mut identity = RepoIdentity::resolve(dir.path()).unwrap();
        let store = Store::open_in_memory().unwrap();
        upsert(&store, &identity, "2026-02-01T00:00:00Z").unwrap();
        // The directory became a repository's linked worktree (same key for the test).
        identity.kind = IdentityKind::LinkedWorktree;
        let again = upsert(&store, &identity, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(again.last_seen_at, "2026-02-01T00:00:00Z");
        assert_eq!(again.created_at, "2026-02-01T00:00:00Z");
        assert_eq!(again.kind, IdentityKind::LinkedWorktree.as_str());
    }
}
