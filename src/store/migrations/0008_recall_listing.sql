-- 0008_recall_listing: let recall skip the rows its filters reject without reading them.
--
-- Recall fills its candidate pool in relevance order and reads each candidate's row to apply
-- its filters (`recall::search`). Reading the rows of other projects, hosts or times only to
-- drop them cost most of a recall at a million archived messages, so:
--
-- * Each session records the lowest and highest rowid of its messages (`NULL`: none yet),
--   widened by ingest with every batch it stores (`archive::ingest`; a trigger would do it
--   per row, but a statement with a trigger opens a savepoint, and FTS5 flushes its pending
--   index at every savepoint: a segment per message). A search for the current project reads
--   only candidates inside its sessions' ranges: a superset of its messages (ranges of
--   sessions archived at the same time can interleave), exact when sessions were archived one
--   after the other. Deleting messages only leaves a range wider than needed.
-- * The index over sessions carries what the project filter and the ranges need, so the
--   ranges are read from the index alone.
-- * The entry tables' `_scope` indexes gain `updated_at`, and `_recent` indexes answer
--   `--since` over every project, so the entries a filter admits can be listed from an index.

ALTER TABLE sessions ADD COLUMN first_message_id INTEGER;
ALTER TABLE sessions ADD COLUMN last_message_id INTEGER;

-- One pass over each session's messages (0.25 s at a million messages, once).
UPDATE sessions SET (first_message_id, last_message_id) =
    (SELECT min(id), max(id) FROM messages WHERE session_ref = sessions.id);

CREATE INDEX sessions_message_range
    ON sessions (project_id, cwd, host, session_id, first_message_id, last_message_id);

DROP INDEX memory_entries_scope;
CREATE INDEX memory_entries_scope ON memory_entries (scope, project_id, status, updated_at);
CREATE INDEX memory_entries_recent ON memory_entries (status, updated_at, scope, project_id);

DROP INDEX recall_entries_scope;
CREATE INDEX recall_entries_scope ON recall_entries (scope, project_id, status, updated_at);
CREATE INDEX recall_entries_recent ON recall_entries (status, updated_at, scope, project_id);
