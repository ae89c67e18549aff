-- 0003_memory_store: what the compiler and the memory store need beyond 0001.
--
-- 1. `memory_entries` is rebuilt because two things cannot be added by ALTER TABLE:
--    * an explicit `rid INTEGER PRIMARY KEY`. `memory_fts` rows are keyed by the base row's
--      rowid, and SQLite's VACUUM may renumber the implicit rowid of a table without an
--      INTEGER PRIMARY KEY, which would silently point index rows at the wrong entries.
--      Existing rows keep their current rowid as `rid`, so existing index rows stay valid.
--    * the `archived` status: hard budgets evict low-value entries into an archive (never a
--      silent delete); `archived_at` and `status_reason` say when and why.
--    The new table is created under a temporary name whose self-reference (`supersedes`) names
--    the temporary table; the RENAME rewrites it, and no other table references memory_entries,
--    so dropping the old table cascades nowhere.
-- 2. `projections` records what csep last wrote to each USER.md / MEMORY.md (hash and body), so
--    a hand edit is detected at the next compile and imported as operations instead of being
--    overwritten.

CREATE TABLE memory_entries_v3 (
    rid              INTEGER PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    scope            TEXT NOT NULL CHECK (scope IN ('user', 'project')),
    project_id       TEXT REFERENCES projects (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL
                     CHECK (kind IN ('preference', 'rule', 'fact', 'gotcha', 'command', 'reference')),
    summary          TEXT NOT NULL,
    content          TEXT NOT NULL,
    -- Normalized summary + content used for exact dedupe (lowercase, punctuation removed,
    -- whitespace collapsed).
    normalized       TEXT NOT NULL,
    provenance       TEXT NOT NULL DEFAULT '{}',
    confidence       REAL NOT NULL DEFAULT 0.5,
    status           TEXT NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'superseded', 'forgotten', 'archived')),
    pinned           INTEGER NOT NULL DEFAULT 0,
    supersedes       TEXT REFERENCES memory_entries_v3 (id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    last_injected_at TEXT,
    last_used_at     TEXT,
    use_count        INTEGER NOT NULL DEFAULT 0,
    archived_at      TEXT,
    status_reason    TEXT,
    CHECK ((scope = 'user') = (project_id IS NULL))
);

INSERT INTO memory_entries_v3 (rid, id, scope, project_id, kind, summary, content, normalized,
    provenance, confidence, status, pinned, supersedes, created_at, updated_at,
    last_injected_at, last_used_at, use_count)
SELECT rowid, id, scope, project_id, kind, summary, content, normalized, provenance,
    confidence, status, pinned, supersedes, created_at, updated_at, last_injected_at,
    last_used_at, use_count
FROM memory_entries;

DROP TABLE memory_entries;
ALTER TABLE memory_entries_v3 RENAME TO memory_entries;

CREATE INDEX memory_entries_scope ON memory_entries (scope, project_id, status);
CREATE INDEX memory_entries_normalized ON memory_entries (scope, project_id, normalized);

-- What csep last rendered into one projection file. `target` is `user` or `project:<id>`.
CREATE TABLE projections (
    target       TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body         TEXT NOT NULL,
    written_at   TEXT NOT NULL
);

-- The compiler looks suggestions up by lease expiry when reclaiming crashed claims.
CREATE INDEX suggestions_lease ON suggestions (state, lease_expires_at);
