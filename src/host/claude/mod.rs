//! Claude Code adapter: hook payloads, hook output and the JSONL transcript parser.
