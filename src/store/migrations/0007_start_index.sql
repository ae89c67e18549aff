-- 0007_start_index: keep SessionStart's start index in step with memory.
--
-- The start index (`memory::start_index`) is one file per scope under `<home>/start-index/`
-- holding that scope's active entries already ranked and rendered, so SessionStart reads a
-- file or two instead of opening this database. A file is valid only while the entries it was
-- built from are unchanged: these triggers call `csep_start_index_stale`, a function every csep
-- connection defines (`store::db`), with the project id of every scope whose entries change
-- (`NULL` for the user's); it removes the scope's file inside the changing statement. So no
-- write path can leave a stale file behind,
-- and a connection without the function (the `sqlite3` shell) cannot change memory at all.
-- Files are rebuilt, under the database's write lock, by every projection write and worker run.

CREATE TRIGGER memory_entries_start_index_insert AFTER INSERT ON memory_entries
BEGIN
    SELECT csep_start_index_stale(NEW.project_id);
END;

CREATE TRIGGER memory_entries_start_index_delete AFTER DELETE ON memory_entries
BEGIN
    SELECT csep_start_index_stale(OLD.project_id);
END;

-- Every column that decides whether an entry is shown, where it ranks or how it renders
-- (`last_injected_at` and `last_used_at` do none of these).
CREATE TRIGGER memory_entries_start_index_update
AFTER UPDATE OF id, scope, project_id, kind, summary, content, provenance, status, pinned,
    use_count, updated_at ON memory_entries
BEGIN
    SELECT csep_start_index_stale(OLD.project_id);
    SELECT csep_start_index_stale(NEW.project_id)
    WHERE NEW.project_id IS NOT OLD.project_id;
END;
