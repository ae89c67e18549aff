-- 0008_recent_entries_index: let recall name the entries `--since` admits without reading them.
--
-- Recall fills its candidate pool in relevance order and reads each candidate's row to apply
-- its filters. When few candidates pass, it lists the rowids the filters admit from an index
-- instead and reads only those (`recall::search`). These indexes carry every column of the
-- entry filters, so such a list is read from the index alone: by project (scope, project id,
-- status, then the update time for `--since`), or by update time for `--since` over every
-- project.

DROP INDEX memory_entries_scope;
CREATE INDEX memory_entries_scope ON memory_entries (scope, project_id, status, updated_at);
CREATE INDEX memory_entries_recent ON memory_entries (status, updated_at, scope, project_id);

DROP INDEX recall_entries_scope;
CREATE INDEX recall_entries_scope ON recall_entries (scope, project_id, status, updated_at);
CREATE INDEX recall_entries_recent ON recall_entries (status, updated_at, scope, project_id);
