#!/usr/bin/env bash
# One-time setup for development and tests: the Rust lint components, a debug build, and the
# real coding-agent CLIs the end-to-end tests drive (installed from npm into .cache/npm, never
# globally). Safe to rerun: npm skips what is already installed.
set -euo pipefail
cd "$(dirname "$0")/.."

CODEX_VERSION="0.169.0"
CLAUDE_VERSION="2.1.197"

rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo build --locked

if command -v npm >/dev/null 2>&1; then
    mkdir -p .cache/npm
    bin=.cache/npm/node_modules/.bin
    if [[ ! -x "$bin/codex" || ! -x "$bin/claude" ]] \
        || ! "$bin/codex" --version 2>/dev/null | grep -q "$CODEX_VERSION"; then
        npm install --prefix .cache/npm --no-audit --no-fund --loglevel=error \
            "@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION"
    fi
    echo "codex:  $("$bin/codex" --version)"
    echo "claude: $("$bin/claude" --version)"
else
    echo "npm not found: the end-to-end tests with the real Codex and Claude CLIs will be skipped" >&2
fi
