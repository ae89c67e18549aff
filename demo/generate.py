#!/usr/bin/env python3
"""Writes the sample sessions `csep demo` learns from (deterministic; rerun after editing).

Three Codex rollouts and one Claude Code transcript of work on a small Rust service, in the
hosts' real JSONL formats (see tests/fixtures/{codex,claude}/ for captured originals). In them
the user states preferences, corrects the agent, names a prerequisite, and the agent runs the
project's checks (`cargo nextest run`, `cargo clippy`) in every session, successfully.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CWD = "/home/dev/shopfront"


def ts(day, sec):
    return f"2026-11-{day:02d}T09:{sec // 60:02d}:{sec % 60:02d}.000Z"


def codex_session(name, day, sid, turns):
    """turns: list of (kind, payload) with kind in user|agent|tool."""
    lines = []
    n = 0

    def rec(kind, payload, sec):
        nonlocal n
        lines.append({"timestamp": ts(day, sec), "ordinal": n, "type": kind, "payload": payload})
        n += 1

    rec("session_meta", {"id": sid, "session_id": sid, "timestamp": ts(day, 0), "cwd": CWD,
                         "originator": "codex_exec", "cli_version": "0.169.0", "source": "exec",
                         "model_provider": "openai"}, 0)
    rec("response_item", {"type": "message", "role": "developer", "content": [
        {"type": "input_text", "text": "<permissions instructions>\nFilesystem sandboxing defines which files can be read or written.\n</permissions instructions>"}]}, 1)
    rec("response_item", {"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": f"<environment_context>\n  <cwd>{CWD}</cwd>\n  <shell>bash</shell>\n</environment_context>"}]}, 1)
    turn_id = f"{sid[:8]}-turn"
    rec("turn_context", {"turn_id": turn_id, "cwd": CWD, "approval_policy": "on-request", "model": "gpt-5-codex"}, 2)
    sec = 3
    call = 0
    for kind, payload in turns:
        sec += 7
        if kind == "user":
            rec("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": payload}]}, sec)
        elif kind == "agent":
            rec("response_item", {"type": "message", "role": "assistant", "status": "completed", "content": [
                {"type": "output_text", "text": payload, "annotations": []}]}, sec)
        elif kind == "tool":
            cmd, code, output = payload
            call += 1
            cid = f"call_{sid[:4]}_{call}"
            rec("response_item", {"type": "function_call", "status": "completed", "id": f"fc_{call}",
                                  "name": "exec_command", "arguments": json.dumps({"cmd": cmd}), "call_id": cid}, sec)
            rec("response_item", {"type": "function_call_output", "call_id": cid, "output":
                f"Chunk ID: {call:06x}\nWall time: 1.2000 seconds\nProcess exited with code {code}\n"
                f"Original token count: 40\nOutput:\n{output}"}, sec + 2)
    rec("event_msg", {"type": "task_complete", "turn_id": turn_id, "last_agent_message": "done"}, sec + 5)
    path = os.path.join(HERE, "sessions", f"rollout-2026-11-{day:02d}T09-00-00-{sid}.jsonl")
    with open(path, "w") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


def claude_session(day, sid, turns):
    lines = []
    parent = None
    prompt_id = f"{sid[:8]}-prompt"
    sec = 0
    for i, (kind, payload) in enumerate(turns):
        sec += 9
        uid = f"{sid[:8]}-{i:04d}"
        base = {"parentUuid": parent, "isSidechain": False, "uuid": uid, "timestamp": ts(day, sec),
                "sessionId": sid, "cwd": CWD, "version": "2.1.197", "userType": "external"}
        if kind == "user":
            lines.append(dict(base, type="user", promptId=prompt_id, message={"role": "user", "content": payload}))
        elif kind == "agent":
            lines.append(dict(base, type="assistant", message={"id": f"msg_{uid}", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": payload}], "stop_reason": "end_turn"}))
        elif kind == "tool":
            cmd, code, output = payload
            tid = f"toolu_{uid}"
            lines.append(dict(base, type="assistant", message={"id": f"msg_{uid}", "type": "message", "role": "assistant",
                "model": "claude-sonnet-4-5", "content": [{"type": "tool_use", "id": tid, "name": "Bash",
                "input": {"command": cmd, "description": "run the checks"}}], "stop_reason": "tool_use"}))
            parent = uid
            uid2 = uid + "r"
            lines.append(dict(base, uuid=uid2, parentUuid=parent, type="user", promptId=prompt_id,
                timestamp=ts(day, sec + 3), message={"role": "user", "content": [
                    {"tool_use_id": tid, "type": "tool_result", "content": output, "is_error": code != 0}]},
                toolUseResult={"stdout": output, "stderr": "", "interrupted": False}))
            uid = uid2
        parent = uid
    path = os.path.join(HERE, "sessions", f"{sid}.jsonl")
    with open(path, "w") as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")


NEXTEST_OK = "    Starting 48 tests across 6 binaries\n        PASS [   0.412s] shopfront orders::sync::retries_on_timeout\n     Summary [   3.101s] 48 tests run: 48 passed, 0 skipped"
CLIPPY_OK = "    Checking shopfront v0.4.2 (/home/dev/shopfront)\n    Finished `dev` profile [unoptimized + debuginfo] target(s) in 6.02s"

os.makedirs(os.path.join(HERE, "sessions"), exist_ok=True)

codex_session("s1", 20, "0199a000-0000-7000-8000-000000000001", [
    ("user", "Add a retry with backoff to the order sync job. In this repo always run the tests with `cargo nextest run`, never plain cargo test."),
    ("agent", "I'll add the retry in src/orders/sync.rs and run the tests."),
    ("tool", ("cargo nextest run", 0, NEXTEST_OK)),
    ("agent", "Added `retry_with_backoff` using `.unwrap()` on the config lookup; all 48 tests pass."),
    ("user", "No, don't use unwrap in library code. Use our thiserror error types instead."),
    ("agent", "Replaced the unwrap with `SyncError::MissingConfig` and re-ran the checks."),
    ("tool", ("cargo clippy --all-targets -- -D warnings", 0, CLIPPY_OK)),
    ("tool", ("cargo nextest run", 0, NEXTEST_OK)),
    ("agent", "Clippy is clean and the tests pass."),
])

codex_session("s2", 21, "0199a000-0000-7000-8000-000000000002", [
    ("user", "The checkout integration test is flaky. Remember: the integration tests need `docker compose up -d db` before they run."),
    ("tool", ("docker compose up -d db", 0, " Container shopfront-db-1  Started")),
    ("tool", ("cargo nextest run --test checkout", 1, "        FAIL [   2.004s] shopfront::checkout applies_coupon_once\n     Summary 1 failed")),
    ("agent", "The test races on the coupon cache; I made the cache key include the cart id."),
    ("tool", ("cargo clippy --all-targets -- -D warnings", 0, CLIPPY_OK)),
    ("tool", ("cargo nextest run", 0, NEXTEST_OK)),
    ("agent", "Fixed: the coupon cache is keyed per cart, and the suite passes."),
])

codex_session("s3", 23, "0199a000-0000-7000-8000-000000000003", [
    ("user", "Bump the version to 0.4.3 and run the usual checks. I prefer small commits with imperative messages."),
    ("tool", ("cargo fmt --check", 0, "")),
    ("tool", ("cargo clippy --all-targets -- -D warnings", 0, CLIPPY_OK)),
    ("tool", ("cargo nextest run", 0, NEXTEST_OK)),
    ("agent", "Version bumped to 0.4.3 in Cargo.toml; fmt, clippy and tests are green."),
])

claude_session(24, "6a1f0e2c-0000-4000-8000-000000000004", [
    ("user", "以后请用中文回答。Update the README section about running the service."),
    ("agent", "好的。我会更新 README 中关于运行服务的部分。"),
    ("tool", ("cargo clippy --all-targets -- -D warnings", 0, CLIPPY_OK)),
    ("tool", ("cargo nextest run", 0, NEXTEST_OK)),
    ("agent", "README 已更新，并且我也更新了 CHANGELOG.md。"),
    ("user", "不要修改 CHANGELOG.md，它是发布脚本自动生成的。"),
    ("agent", "明白了，我已撤销对 CHANGELOG.md 的修改。"),
])
print("wrote", sorted(os.listdir(os.path.join(HERE, "sessions"))))
