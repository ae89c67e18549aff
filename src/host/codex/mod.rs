//! Codex adapter: hook payloads, hook output and the rollout JSONL parser.
