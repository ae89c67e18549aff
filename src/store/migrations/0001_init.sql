-- 0001_init: the core tables of csep's store.
--
-- Why one database: every stage of the loop (hook, worker, compiler, recall, skills) reads and
-- writes the same records, and SQLite in WAL mode gives them atomic, concurrent access without a
-- daemon. Times are RFC 3339 UTC strings; JSON columns hold redacted JSON only.

-- One row per project (RepoIdentity). `id` is opaque; the canonical path is stored losslessly
-- as bytes, with a lossy UTF-8 rendering for display.
CREATE TABLE projects (
    id             TEXT PRIMARY KEY,
    canonical_path BLOB NOT NULL UNIQUE,
    display_path   TEXT NOT NULL,
    display_name   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL
);

-- One row per host session (a Codex thread, a Claude Code session).
CREATE TABLE sessions (
    id                 INTEGER PRIMARY KEY,
    host               TEXT NOT NULL CHECK (host IN ('codex', 'claude')),
    session_id         TEXT NOT NULL,
    project_id         TEXT REFERENCES projects (id) ON DELETE SET NULL,
    cwd                TEXT,
    transcript_path    TEXT,
    model              TEXT,
    cli_version        TEXT,
    started_at         TEXT,
    last_message_at    TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    -- Counters exclude injected messages (AGENTS.md, environment context, csep's own context).
    message_count      INTEGER NOT NULL DEFAULT 0,
    user_message_count INTEGER NOT NULL DEFAULT 0,
    UNIQUE (host, session_id)
);
CREATE INDEX sessions_project ON sessions (project_id, last_message_at);

-- Archived transcript messages, redacted at ingest. (session_ref, byte_offset, seq) is the
-- natural key that makes re-ingesting the same bytes a no-op.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY,
    session_ref INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    byte_offset INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    turn_id     TEXT,
    ts          TEXT,
    role        TEXT NOT NULL,
    origin      TEXT NOT NULL,
    tool_name   TEXT,
    tool_args   TEXT,
    text        TEXT NOT NULL,
    UNIQUE (session_ref, byte_offset, seq)
);
CREATE INDEX messages_session_ts ON messages (session_ref, ts);

-- Per-transcript ingest position: ingest resumes here and never re-reads older bytes.
-- `head_hash` fingerprints the first bytes so a replaced file restarts from zero.
CREATE TABLE ingest_checkpoints (
    transcript_path TEXT PRIMARY KEY,
    host            TEXT NOT NULL CHECK (host IN ('codex', 'claude')),
    session_ref     INTEGER REFERENCES sessions (id) ON DELETE CASCADE,
    byte_offset     INTEGER NOT NULL DEFAULT 0,
    file_size       INTEGER,
    head_hash       TEXT,
    updated_at      TEXT NOT NULL
);

-- Stop hook events: written by the hook in one INSERT, drained by the detached worker.
CREATE TABLE stop_events (
    id               INTEGER PRIMARY KEY,
    host             TEXT NOT NULL CHECK (host IN ('codex', 'claude')),
    session_id       TEXT,
    turn_id          TEXT,
    project_id       TEXT REFERENCES projects (id) ON DELETE SET NULL,
    cwd              TEXT,
    transcript_path  TEXT,
    payload          TEXT NOT NULL,
    received_at      TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processing', 'done', 'failed', 'skipped')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    processed_at     TEXT,
    error            TEXT
);
CREATE INDEX stop_events_status ON stop_events (status, received_at);

-- Reviewer output waiting to be compiled. The idempotency key (session + turn + content hash)
-- makes the same review enqueue once.
CREATE TABLE suggestions (
    id               INTEGER PRIMARY KEY,
    project_id       TEXT REFERENCES projects (id) ON DELETE CASCADE,
    host             TEXT,
    session_id       TEXT,
    turn_id          TEXT,
    provider         TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL UNIQUE,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'processing', 'done', 'failed', 'discarded')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    lease_owner      TEXT,
    lease_expires_at TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX suggestions_state ON suggestions (project_id, state, created_at);

-- Every state change of a suggestion, for audit and `csep status`.
CREATE TABLE suggestion_transitions (
    id            INTEGER PRIMARY KEY,
    suggestion_id INTEGER NOT NULL REFERENCES suggestions (id) ON DELETE CASCADE,
    from_state    TEXT,
    to_state      TEXT NOT NULL,
    reason        TEXT,
    at            TEXT NOT NULL
);

-- The memory store. User scope is global (no project); project scope belongs to one project.
CREATE TABLE memory_entries (
    id               TEXT PRIMARY KEY,
    scope            TEXT NOT NULL CHECK (scope IN ('user', 'project')),
    project_id       TEXT REFERENCES projects (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL
                     CHECK (kind IN ('preference', 'rule', 'fact', 'gotcha', 'command', 'reference')),
    summary          TEXT NOT NULL,
    content          TEXT NOT NULL,
    -- Normalized text used for exact dedupe (lowercase, collapsed whitespace, no punctuation).
    normalized       TEXT NOT NULL,
    provenance       TEXT NOT NULL DEFAULT '{}',
    confidence       REAL NOT NULL DEFAULT 0.5,
    status           TEXT NOT NULL DEFAULT 'active'
                     CHECK (status IN ('active', 'superseded', 'forgotten')),
    pinned           INTEGER NOT NULL DEFAULT 0,
    supersedes       TEXT REFERENCES memory_entries (id) ON DELETE SET NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    last_injected_at TEXT,
    last_used_at     TEXT,
    use_count        INTEGER NOT NULL DEFAULT 0,
    CHECK ((scope = 'user') = (project_id IS NULL))
);
CREATE INDEX memory_entries_scope ON memory_entries (scope, project_id, status);

-- Every operation on a memory entry with its before/after image, so any change can be undone.
CREATE TABLE memory_history (
    id            INTEGER PRIMARY KEY,
    entry_id      TEXT NOT NULL,
    op            TEXT NOT NULL,
    before        TEXT,
    after         TEXT,
    source        TEXT,
    suggestion_id INTEGER REFERENCES suggestions (id) ON DELETE SET NULL,
    at            TEXT NOT NULL
);
CREATE INDEX memory_history_entry ON memory_history (entry_id, at);

-- Recall entries: longer, situational knowledge surfaced on demand rather than injected.
CREATE TABLE recall_entries (
    id           TEXT PRIMARY KEY,
    scope        TEXT NOT NULL CHECK (scope IN ('user', 'project')),
    project_id   TEXT REFERENCES projects (id) ON DELETE CASCADE,
    summary      TEXT NOT NULL,
    content      TEXT NOT NULL,
    trigger_text TEXT,
    paths        TEXT NOT NULL DEFAULT '[]',
    provenance   TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'forgotten')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    last_used_at TEXT,
    use_count    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX recall_entries_scope ON recall_entries (scope, project_id, status);

-- Synthesized skills and their lifecycle.
CREATE TABLE skills (
    name          TEXT PRIMARY KEY,
    project_id    TEXT REFERENCES projects (id) ON DELETE SET NULL,
    state         TEXT NOT NULL
                  CHECK (state IN ('candidate', 'staged', 'published', 'rejected', 'retired')),
    description   TEXT NOT NULL,
    body          TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    evidence      TEXT NOT NULL DEFAULT '[]',
    published     TEXT NOT NULL DEFAULT '[]',
    reason        TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    published_at  TEXT,
    last_used_at  TEXT,
    use_count     INTEGER NOT NULL DEFAULT 0
);

-- One receipt per background run: what it read, what it changed, what it spent, and how it ended.
CREATE TABLE receipts (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,
    project_id  TEXT REFERENCES projects (id) ON DELETE SET NULL,
    session_id  TEXT,
    status      TEXT NOT NULL
                CHECK (status IN ('ok', 'degraded', 'failed', 'skipped', 'skipped_budget')),
    reason      TEXT,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX receipts_kind ON receipts (kind, finished_at);

-- Every LLM call's token spend; hard daily caps are checked against it before calling.
CREATE TABLE budget_ledger (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    day           TEXT NOT NULL,
    provider      TEXT NOT NULL,
    model         TEXT,
    purpose       TEXT NOT NULL CHECK (purpose IN ('review', 'compile', 'skills', 'other')),
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    is_estimated  INTEGER NOT NULL DEFAULT 0,
    duration_ms   INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL,
    project_id    TEXT REFERENCES projects (id) ON DELETE SET NULL
);
CREATE INDEX budget_ledger_day ON budget_ledger (day, purpose);
