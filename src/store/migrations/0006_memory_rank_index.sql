-- SessionStart reads the active entries of one scope (user, or one project) in injection order:
-- pinned, then usage, then recency. This index serves that order directly, so the hook walks
-- the index and never sorts the entries (with their text) in a temporary b-tree.
CREATE INDEX memory_entries_rank
    ON memory_entries (status, scope, project_id, pinned DESC, use_count DESC, updated_at DESC, id);
