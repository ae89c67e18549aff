//! Host-neutral transcript types shared by the Codex and Claude Code parsers.
