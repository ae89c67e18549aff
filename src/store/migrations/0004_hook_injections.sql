-- 0006_hook_injections: what each hook injected into which session.
--
-- SessionStart and UserPromptSubmit record the memory/recall entries they put into a session's
-- context, so auto-recall never repeats what SessionStart already injected and usage counts
-- (`use_count`, `last_injected_at`) rest on real injections. `csep status` reads the latest row
-- per host as "last fired".
CREATE TABLE hook_injections (
    id         INTEGER PRIMARY KEY,
    host       TEXT NOT NULL CHECK (host IN ('codex', 'claude')),
    session_id TEXT NOT NULL,
    event      TEXT NOT NULL,
    entry_id   TEXT NOT NULL,
    at         TEXT NOT NULL,
    UNIQUE (host, session_id, entry_id)
);
CREATE INDEX hook_injections_session ON hook_injections (host, session_id);

-- One row per hook invocation outcome, newest kept small by the worker's pruning: lets
-- `csep status` show per host when each hook last fired and whether it failed.
CREATE TABLE hook_runs (
    id          INTEGER PRIMARY KEY,
    host        TEXT NOT NULL,
    event       TEXT NOT NULL,
    session_id  TEXT,
    outcome     TEXT NOT NULL,
    detail      TEXT,
    duration_us INTEGER NOT NULL,
    at          TEXT NOT NULL
);
CREATE INDEX hook_runs_host ON hook_runs (host, event, at);
