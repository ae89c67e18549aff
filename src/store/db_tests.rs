use std::collections::BTreeMap;
use std::path::Path;

use pretty_assertions::assert_eq;
use rusqlite::Connection;

use super::*;

/// Every table, index, trigger and view with its SQL, for comparing schemas.
fn schema_of(conn: &Connection) -> BTreeMap<String, String> {
    let mut stmt = conn
        .prepare("SELECT type || ':' || name, coalesce(sql, '') FROM sqlite_master ORDER BY 1")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A database at `path` migrated to `version` only.
fn store_at(path: &Path, version: u32) -> Store {
    let mut store = Store {
        conn: Connection::open(path).unwrap(),
        path: path.to_path_buf(),
    };
    store.migrate_to(version).unwrap();
    store
}

#[test]
fn migrations_are_numbered_in_order_and_end_at_schema_version() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(m.version as usize, i + 1, "{}", m.name);
        assert!(m.name.starts_with(&format!("{:04}_", m.version)));
    }
    assert_eq!(MIGRATIONS.last().unwrap().version, SCHEMA_VERSION);
}

#[test]
fn fresh_database_is_at_latest_version_with_wal_and_private_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("home/csep.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .conn()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    #[cfg(unix)]
    assert_eq!(fsutil::mode_of(&path), Some(0o600));
    assert_eq!(store.integrity_check().unwrap(), Ok(()));
}

#[test]
fn every_table_the_loop_needs_exists() {
    let store = Store::open_in_memory().unwrap();
    let schema = schema_of(store.conn());
    for table in [
        "projects",
        "sessions",
        "messages",
        "messages_fts",
        "ingest_checkpoints",
        "stop_events",
        "suggestions",
        "suggestion_transitions",
        "memory_entries",
        "memory_history",
        "memory_fts",
        "recall_entries",
        "recall_fts",
        "skills",
        "receipts",
        "budget_ledger",
    ] {
        assert!(
            schema.contains_key(&format!("table:{table}")),
            "missing table {table}"
        );
    }
}

#[test]
fn upgrading_from_every_earlier_version_equals_a_fresh_database() {
    let fresh = Store::open_in_memory().unwrap();
    let expected = schema_of(fresh.conn());
    for start in 0..SCHEMA_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("csep.db");
        let old = store_at(&path, start);
        assert_eq!(old.schema_version().unwrap(), start);
        if start >= 1 {
            // A row written by the old schema survives the upgrade.
            old.conn()
                .execute(
                    "INSERT INTO projects VALUES ('p_1', x'2f72', '/r', 'r', 'worktree', 't', 't')",
                    [],
                )
                .unwrap();
        }
        drop(old);
        let upgraded = Store::open(&path).unwrap();
        assert_eq!(upgraded.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            schema_of(upgraded.conn()),
            expected,
            "upgrade from v{start}"
        );
        if start >= 1 {
            let n: i64 = upgraded
                .conn()
                .query_row("SELECT count(*) FROM projects", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 1);
        }
    }
}

#[test]
fn a_newer_database_is_refused_with_an_upgrade_hint_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    drop(Store::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let before = std::fs::read(&path).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade csep"), "{err}");
    let err = Store::open_with(
        &path,
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }));
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn a_corrupt_file_gives_an_actionable_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    std::fs::write(&path, vec![0x42u8; 8192]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("move it aside"), "{err}");
}

#[test]
fn read_only_open_of_a_missing_database_does_not_create_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    let err = Store::open_with(
        &path,
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, StoreError::Missing { .. }));
    assert!(!path.exists());
}

#[test]
fn reopening_is_idempotent_and_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    drop(Store::open(&path).unwrap());
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.migrate().unwrap(), Vec::<u32>::new());
}

#[test]
fn fts_tables_accept_analyzed_terms() {
    let store = Store::open_in_memory().unwrap();
    store
        .conn()
        .execute(
            "INSERT INTO messages_fts (rowid, terms) VALUES (7, 'order timeout retri 订单 超时')",
            [],
        )
        .unwrap();
    let hit: i64 = store
        .conn()
        .query_row(
            "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1",
            ["超时"],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hit, 7);
}

#[test]
fn sessions_get_their_message_ranges_on_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    let old = store_at(&path, 7);
    let conn = old.conn();
    for (id, session) in [(1, "a"), (2, "b"), (3, "empty")] {
        conn.execute(
            "INSERT INTO sessions (id, host, session_id, created_at, updated_at) \
             VALUES (?1, 'codex', ?2, 't', 't')",
            rusqlite::params![id, session],
        )
        .unwrap();
    }
    // Two sessions archived side by side: their ranges interleave.
    for (rowid, session_ref) in [(10, 1), (11, 2), (12, 1), (13, 2), (14, 1)] {
        conn.execute(
            "INSERT INTO messages (id, session_ref, byte_offset, seq, role, origin, text) \
             VALUES (?1, ?2, ?1, 0, 'user', 'user', 'x')",
            [rowid, session_ref],
        )
        .unwrap();
    }
    drop(old);
    let upgraded = Store::open(&path).unwrap();
    let ranges = |store: &Store| -> Vec<(Option<i64>, Option<i64>)> {
        let mut stmt = store
            .conn()
            .prepare("SELECT first_message_id, last_message_id FROM sessions ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(
        ranges(&upgraded),
        [(Some(10), Some(14)), (Some(11), Some(13)), (None, None)]
    );
}
