-- 0007_start_index: SessionStart's precomputed view of memory.
--
-- One row per scope (`user`, or `project:<id>`, the keys `projections` uses) holding that
-- scope's active entries already ranked (pinned, then usage, then recency), each already
-- rendered as its context line with its token cost (`memory::start_index` encodes `body`).
-- SessionStart then reads one or two rows instead of ranking and rendering hundreds of entries
-- at every session start.
--
-- A row is valid only while the entries it was built from are unchanged: the triggers below
-- delete the row of every scope whose entries change, inside the changing transaction, so no
-- write path can leave a stale row behind. A missing row sends SessionStart back to reading
-- `memory_entries`; the worker and every projection write rebuild the missing rows. `format`
-- names the body's layout and rendering: rows of another format are ignored and rebuilt.
CREATE TABLE start_index (
    scope_key TEXT PRIMARY KEY,
    format    INTEGER NOT NULL,
    entries   INTEGER NOT NULL,
    body      BLOB NOT NULL,
    built_at  TEXT NOT NULL
);

CREATE TRIGGER memory_entries_start_index_insert AFTER INSERT ON memory_entries
BEGIN
    DELETE FROM start_index WHERE scope_key = coalesce('project:' || NEW.project_id, 'user');
END;

CREATE TRIGGER memory_entries_start_index_delete AFTER DELETE ON memory_entries
BEGIN
    DELETE FROM start_index WHERE scope_key = coalesce('project:' || OLD.project_id, 'user');
END;

-- Every column that decides whether an entry is shown, where it ranks or how it renders
-- (`last_injected_at` and `last_used_at` do none of these).
CREATE TRIGGER memory_entries_start_index_update
AFTER UPDATE OF id, scope, project_id, kind, summary, content, provenance, status, pinned,
    use_count, updated_at ON memory_entries
BEGIN
    DELETE FROM start_index
    WHERE scope_key IN (coalesce('project:' || OLD.project_id, 'user'),
                        coalesce('project:' || NEW.project_id, 'user'));
END;
