//! LLM providers (OpenAI-compatible, Anthropic, MiniMax, `codex exec`, `claude -p`, command,
//! offline), retries, timeouts and the token ledger.
