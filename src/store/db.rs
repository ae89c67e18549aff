//! The SQLite store: opening the database with csep's pragmas and migrating its schema.
//!
//! One database, `<home>/csep.db`, in WAL mode with a busy timeout and foreign keys on. The
//! schema is built by numbered migrations in `src/store/migrations/` (embedded at build time);
//! each runs in one transaction that also advances `PRAGMA user_version`, so a crash leaves the
//! database at a whole version. A shipped migration is never edited, only new ones are added.
//! A database whose version is newer than this binary knows is refused, never written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags};

use crate::store::fsutil;
use crate::store::paths::Paths;

/// One schema migration: its version (the value of `user_version` after it ran) and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Schema version reached after this migration.
    pub version: u32,
    /// File name, for messages.
    pub name: &'static str,
    /// The SQL, run in one transaction.
    pub sql: &'static str,
}

/// Every migration, in order. To change the schema: add a new numbered file and a line here;
/// never edit a shipped one. `migrations_tests` checks that upgrading equals a fresh build.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sql: include_str!("migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_search_index.sql",
        sql: include_str!("migrations/0002_search_index.sql"),
    },
    Migration {
        version: 3,
        name: "0003_memory_store.sql",
        sql: include_str!("migrations/0003_memory_store.sql"),
    },
    Migration {
        version: 4,
        name: "0004_hook_injections.sql",
        sql: include_str!("migrations/0004_hook_injections.sql"),
    },
    Migration {
        version: 5,
        name: "0005_review_state.sql",
        sql: include_str!("migrations/0005_review_state.sql"),
    },
    Migration {
        version: 6,
        name: "0006_memory_rank_index.sql",
        sql: include_str!("migrations/0006_memory_rank_index.sql"),
    },
    Migration {
        version: 7,
        name: "0007_start_index.sql",
        sql: include_str!("migrations/0007_start_index.sql"),
    },
    Migration {
        version: 8,
        name: "0008_recall_listing.sql",
        sql: include_str!("migrations/0008_recall_listing.sql"),
    },
    Migration {
        version: 9,
        name: "0009_message_index.sql",
        sql: include_str!("migrations/0009_message_index.sql"),
    },
    Migration {
        version: 10,
        name: "0010_pending_messages.sql",
        sql: include_str!("migrations/0010_pending_messages.sql"),
    },
];

/// `ids` as a JSON array, for a statement that reads them with `json_each(?)` (one bound
/// parameter, however many ids).
pub fn json_ids(ids: &[i64]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned())
}

/// The schema version this binary creates and understands.
pub const SCHEMA_VERSION: u32 = 10;

/// Default time a connection waits on a locked database before giving up (5 s). Hooks pass a
/// much shorter one.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Errors opening or migrating the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database was written by a newer csep.
    #[error(
        "database {path} has schema version {found}, newer than this csep understands \
         ({supported}); upgrade csep (cargo install --path . --force) or use a different --home"
    )]
    NewerSchema {
        /// Database file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// Latest version this binary knows.
        supported: u32,
    },
    /// The file exists but is not a SQLite database (or is damaged).
    #[error(
        "database {path} is corrupt or not a SQLite database ({detail}); move it aside \
         (mv {path} {path}.bad) and rerun to start a fresh store, or restore a backup"
    )]
    Corrupt {
        /// Database file.
        path: PathBuf,
        /// SQLite's description.
        detail: String,
    },
    /// The database is locked by another process for longer than the busy timeout.
    #[error(
        "database {path} is locked by another csep process; retry in a moment (`csep status` \
         shows running workers)"
    )]
    Locked {
        /// Database file.
        path: PathBuf,
    },
    /// The database cannot be opened or written: read-only filesystem, permissions, full disk.
    #[error(
        "database {path} cannot be opened for writing ({detail}); make the csep home writable \
         (read-only filesystem, permissions or a full disk?) or pass --home with a writable \
         directory"
    )]
    NotWritable {
        /// Database file.
        path: PathBuf,
        /// SQLite's description.
        detail: String,
    },
    /// The database does not exist and the store was opened read-only.
    #[error("no database at {path} yet; it is created by the first hook or command that writes")]
    Missing {
        /// Database file.
        path: PathBuf,
    },
    /// A migration failed; the database stays at the previous version.
    #[error("migration {name} failed on {path}: {source}; the database was left at version {at}")]
    Migration {
        /// Database file.
        path: PathBuf,
        /// Migration file name.
        name: &'static str,
        /// Version the database stayed at.
        at: u32,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Any other SQLite error.
    #[error("database {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database file's directory could not be prepared.
    #[error("cannot prepare database directory for {path}: {source}")]
    Io {
        /// Database file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    fn from_sqlite(path: &Path, source: rusqlite::Error) -> StoreError {
        use rusqlite::ErrorCode;
        let path = path.to_path_buf();
        match source.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) | Some(ErrorCode::DatabaseCorrupt) => {
                StoreError::Corrupt {
                    path,
                    detail: source.to_string(),
                }
            }
            Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            Some(ErrorCode::CannotOpen)
            | Some(ErrorCode::ReadOnly)
            | Some(ErrorCode::DiskFull)
            | Some(ErrorCode::PermissionDenied) => StoreError::NotWritable {
                path,
                detail: source.to_string(),
            },
            _ => StoreError::Sqlite { path, source },
        }
    }
}

/// How to open the store.
#[derive(Debug, Clone, Copy)]
pub struct OpenOptions {
    /// How long to wait on a locked database.
    pub busy_timeout: Duration,
    /// Open read-only: never create, never migrate (for `csep status`).
    pub read_only: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            read_only: false,
        }
    }
}

/// The SQL functions csep's schema calls, defined on every connection [`Store`] opens.
///
/// `csep_start_index_stale(project_id)`: the `memory_entries` triggers (migration
/// `0007_start_index.sql`) call it for every scope whose entries change (`NULL` for the user's);
/// it removes that scope's
/// start index file under `home` (nothing for an in-memory database). Removing a missing file is
/// not an error; failing to remove one fails the change, so no stale file can outlive it. A
/// connection that does not define it (the `sqlite3` shell) cannot change `memory_entries`:
/// that goes through `csep memory …`.
fn register_functions(conn: &Connection, home: Option<Paths>) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "csep_start_index_stale",
        1,
        FunctionFlags::SQLITE_UTF8,
        move |ctx| {
            let project_id = ctx
                .get_raw(0)
                .as_str_or_null()
                .map_err(rusqlite::Error::from)?;
            if let Some(file) = home.as_ref().and_then(|p| p.start_index_file(project_id)) {
                match std::fs::remove_file(&file) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(rusqlite::Error::UserFunctionError(Box::new(e))),
                }
            }
            Ok(rusqlite::types::Null)
        },
    )
}

/// An open connection to csep's database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path` with default options.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, OpenOptions::default())
    }

    /// Opens the database at `path`. Writable opens create the file (mode 0600) and run pending
    /// migrations; read-only opens require an existing file and never write.
    pub fn open_with(path: &Path, options: OpenOptions) -> Result<Store, StoreError> {
        let err = |e| StoreError::from_sqlite(path, e);
        let conn = if options.read_only {
            if !path.exists() {
                return Err(StoreError::Missing {
                    path: path.to_path_buf(),
                });
            }
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(err)?
        } else {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fsutil::ensure_private_dir(parent).map_err(|source| StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            }
            let is_new = !path.exists();
            let conn = Connection::open(path).map_err(err)?;
            if is_new {
                // Secrets-adjacent data: the database is private to its owner.
                fsutil::set_private_file_mode(path).map_err(|source| StoreError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
                // A start index left by a deleted database describes entries this one does not
                // have (its files also name the old database's inode, which a new file can
                // reuse).
                if let Some(home) = path.parent().map(Paths::at) {
                    let dir = home.start_index_dir();
                    match std::fs::remove_dir_all(&dir) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(StoreError::Io {
                                path: dir,
                                source: e,
                            });
                        }
                        _ => {}
                    }
                }
            }
            conn
        };
        conn.busy_timeout(options.busy_timeout).map_err(err)?;
        register_functions(&conn, path.parent().map(Paths::at)).map_err(err)?;
        let mut store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.prepare(options.read_only)?;
        if !options.read_only {
            store.migrate()?;
        } else {
            store.check_not_newer()?;
        }
        Ok(store)
    }

    /// Opens a fresh, fully migrated in-memory database (tests and dry runs).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|e| StoreError::from_sqlite(&path, e))?;
        register_functions(&conn, None).map_err(|e| StoreError::from_sqlite(&path, e))?;
        let mut store = Store { conn, path };
        store.prepare(false)?;
        store.migrate()?;
        Ok(store)
    }

    fn prepare(&self, read_only: bool) -> Result<(), StoreError> {
        let err = |e| StoreError::from_sqlite(&self.path, e);
        // Reading the schema first surfaces "not a database" before any pragma writes.
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .map_err(err)?;
        if !read_only {
            self.conn
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(err)?;
            self.conn
                .pragma_update(None, "synchronous", "NORMAL")
                .map_err(err)?;
        }
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(err)?;
        Ok(())
    }

    /// The schema version stored in the database (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        read_user_version(&self.conn).map_err(|e| StoreError::from_sqlite(&self.path, e))
    }

    fn check_not_newer(&self) -> Result<u32, StoreError> {
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(found)
    }

    /// Runs every migration newer than the database's version, each in its own transaction.
    /// Returns the versions applied.
    pub fn migrate(&mut self) -> Result<Vec<u32>, StoreError> {
        self.migrate_to(SCHEMA_VERSION)
    }

    /// Runs migrations up to and including `target` (tests build old schemas with this).
    pub fn migrate_to(&mut self, target: u32) -> Result<Vec<u32>, StoreError> {
        let current = self.check_not_newer()?;
        let mut applied = Vec::new();
        for migration in MIGRATIONS
            .iter()
            .filter(|m| m.version > current && m.version <= target)
        {
            let at = self.schema_version()?;
            let path = self.path.clone();
            let fail = |source| StoreError::Migration {
                path: path.clone(),
                name: migration.name,
                at,
                source,
            };
            // IMMEDIATE: take the write lock before reading the version. A deferred
            // transaction that reads first cannot upgrade to a write while another process
            // migrates (SQLite answers BUSY at once, without the busy timeout), which lost
            // stop events when many hooks created the store together.
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(|e| StoreError::from_sqlite(&path, e))?;
            // Another process may have migrated while we waited for the write lock.
            let now = read_user_version(&tx).map_err(fail)?;
            if now >= migration.version {
                continue;
            }
            tx.execute_batch(migration.sql).map_err(fail)?;
            tx.pragma_update(None, "user_version", migration.version)
                .map_err(fail)?;
            tx.commit().map_err(fail)?;
            applied.push(migration.version);
        }
        Ok(applied)
    }

    /// The underlying connection, for modules that own their tables' SQL.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Mutable access to the connection (transactions).
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The database file (`:memory:` for in-memory stores).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `PRAGMA integrity_check`; returns `Ok(())` when SQLite answers `ok`, else its report.
    pub fn integrity_check(&self) -> Result<Result<(), String>, StoreError> {
        let report: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(|e| StoreError::from_sqlite(&self.path, e))?;
        Ok(if report == "ok" { Ok(()) } else { Err(report) })
    }
}

fn read_user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        .map(|v| u32::try_from(v).unwrap_or(u32::MAX))
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
