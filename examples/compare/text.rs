//! Deterministic text for the benchmark corpus: a seeded generator, a Zipf-distributed
//! vocabulary and Codex rollout lines.
//!
//! Invariant: the same seed yields byte-identical text on every machine (no clock, no hash
//! map iteration order, no floating-point formatting in the output).

use serde_json::{Value, json};

/// The benchmark's recall query. Its words sit at fixed Zipf ranks of the vocabulary (see
/// [`Vocab::new`]), so they are moderately common: each is in roughly 0.1–1 % of texts.
pub const QUERY: &str = "sqlite migration timeout retry";

/// A small, fast, seeded generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A 32-hex-digit id formatted like a UUID.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        format!(
            "{:08x}-{:04x}-7{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0xfff,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Common words of a developer's sessions: the head of the vocabulary.
const HEAD: &[&str] = &[
    "build",
    "test",
    "run",
    "file",
    "error",
    "change",
    "code",
    "function",
    "value",
    "config",
    "check",
    "update",
    "fix",
    "add",
    "remove",
    "path",
    "command",
    "output",
    "input",
    "module",
    "type",
    "return",
    "call",
    "list",
    "string",
    "result",
    "option",
    "field",
    "struct",
    "method",
    "project",
    "branch",
    "commit",
    "merge",
    "review",
    "issue",
    "feature",
    "release",
    "version",
    "package",
    "install",
    "script",
    "shell",
    "server",
    "client",
    "request",
    "response",
    "header",
    "token",
    "session",
    "user",
    "cache",
    "index",
    "query",
    "table",
    "column",
    "row",
    "schema",
    "database",
    "store",
    "write",
    "read",
    "parse",
    "format",
    "render",
    "template",
    "style",
    "layout",
    "component",
    "state",
    "event",
    "handler",
    "hook",
    "plugin",
    "worker",
    "thread",
    "process",
    "signal",
    "lock",
    "queue",
    "job",
    "task",
    "step",
    "stage",
    "pipeline",
    "deploy",
    "docker",
    "image",
    "container",
    "volume",
    "network",
    "port",
    "host",
    "domain",
    "proxy",
    "route",
    "endpoint",
    "api",
    "json",
    "yaml",
    "toml",
    "markdown",
    "log",
    "debug",
    "trace",
    "warning",
    "panic",
    "crash",
    "memory",
    "disk",
    "cpu",
    "latency",
    "throughput",
    "benchmark",
    "profile",
    "flag",
    "argument",
    "default",
    "environment",
    "variable",
    "secret",
    "key",
    "certificate",
    "auth",
    "login",
    "permission",
    "role",
    "admin",
    "account",
    "email",
    "message",
    "notification",
    "payment",
    "order",
    "invoice",
    "customer",
    "product",
    "price",
    "search",
    "filter",
    "sort",
    "page",
    "limit",
    "offset",
    "cursor",
    "batch",
    "stream",
    "buffer",
    "socket",
    "timer",
    "clock",
    "date",
    "time",
    "zone",
    "locale",
    "unicode",
    "encoding",
    "bytes",
    "hash",
    "digest",
    "sign",
    "verify",
    "encrypt",
    "decrypt",
    "compress",
    "archive",
    "backup",
    "restore",
    "snapshot",
    "rollback",
    "upgrade",
    "downgrade",
    "patch",
    "diff",
    "lint",
    "clippy",
    "rustfmt",
    "cargo",
    "crate",
    "trait",
    "generic",
    "lifetime",
    "borrow",
    "async",
    "await",
    "future",
    "tokio",
    "python",
    "pytest",
    "fixture",
    "mock",
    "stub",
    "assert",
    "coverage",
    "flaky",
    "ci",
    "github",
    "action",
    "workflow",
    "runner",
    "artifact",
    "upload",
    "download",
    "mirror",
    "registry",
    "vendor",
    "dependency",
    "license",
    "readme",
    "docs",
    "example",
    "tutorial",
    "guide",
    "convention",
    "rule",
    "pattern",
    "pitfall",
    "workaround",
    "regression",
    "bisect",
    "revert",
    "hotfix",
    "incident",
    "outage",
    "alert",
    "metric",
    "dashboard",
    "grafana",
    "prometheus",
    "postgres",
    "mysql",
    "redis",
    "kafka",
    "nginx",
    "kubernetes",
    "helm",
    "terraform",
    "ansible",
    "bash",
    "zsh",
    "vim",
    "editor",
    "terminal",
    "prompt",
    "agent",
    "model",
    "context",
    "window",
    "recall",
    "skill",
    "compile",
    "reviewer",
    "provider",
];

/// Words of the query, placed at these Zipf ranks (0-based) so their frequency is known.
const QUERY_RANKS: [usize; 4] = [180, 420, 900, 1600];

/// Vocabulary size: the head plus generated words (syllable compounds and identifiers).
const VOCAB_SIZE: usize = 20_000;

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "sa", "do", "fi", "gu", "ha", "ji", "ko",
    "la", "mu", "no", "pi", "qua", "re", "si", "tu", "ve", "wa", "xe", "yo", "ze", "bri", "cla",
    "dro", "fle", "gri", "plo", "stra", "tri", "vel", "nor", "dex",
];

/// A Zipf-distributed (s = 1) vocabulary of [`VOCAB_SIZE`] words.
pub struct Vocab {
    words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Vocab {
    /// The benchmark vocabulary (deterministic).
    pub fn new() -> Vocab {
        let mut rng = Rng::new(0x0005_EED0_FA11);
        let mut words: Vec<String> = HEAD.iter().map(|w| (*w).to_owned()).collect();
        let mut seen: std::collections::BTreeSet<String> = words.iter().cloned().collect();
        while words.len() < VOCAB_SIZE {
            let parts = 2 + rng.below(3);
            let mut w = String::new();
            for _ in 0..parts {
                w.push_str(SYLLABLES[rng.below(SYLLABLES.len())]);
            }
            if rng.below(8) == 0 {
                // an identifier now and then (snake_case or with a digit)
                w = format!("{w}_{}", SYLLABLES[rng.below(SYLLABLES.len())]);
            } else if rng.below(12) == 0 {
                w = format!("{w}{}", rng.below(10));
            }
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let query: Vec<&str> = QUERY.split(' ').collect();
        for (rank, word) in QUERY_RANKS.iter().zip(query) {
            words.retain(|w| w != word);
            words.insert(*rank, word.to_owned());
        }
        words.truncate(VOCAB_SIZE);
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|r| {
                total += 1.0 / r as f64;
                total
            })
            .collect();
        Vocab { words, cumulative }
    }

    /// One word drawn from the Zipf distribution.
    pub fn word(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.unit() * total;
        let i = self.cumulative.partition_point(|&c| c < target);
        &self.words[i.min(self.words.len() - 1)]
    }

    /// `n` words joined by spaces.
    pub fn sentence(&self, rng: &mut Rng, n: usize) -> String {
        let mut s = String::with_capacity(n * 8);
        for i in 0..n {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(self.word(rng));
        }
        s
    }

    /// A sentence of `min..=max` words, capitalized and ended with a period.
    pub fn prose(&self, rng: &mut Rng, min: usize, max: usize) -> String {
        let n = min + rng.below(max - min + 1);
        let mut s = self.sentence(rng, n);
        if let Some(first) = s.get(..1) {
            let upper = first.to_uppercase();
            s.replace_range(..1, &upper);
        }
        s.push('.');
        s
    }
}

/// Builds the lines of one Codex rollout (the format `csep import codex-sessions` reads).
pub struct Rollout {
    /// Host session id.
    pub id: String,
    cwd: String,
    turn: u64,
    clock: u64,
    call: u64,
    /// The next line's `ordinal`, once [`Rollout::with_ordinals`] asked for them (Codex 0.169
    /// numbers every line of a rollout).
    ordinal: Option<u64>,
}

impl Rollout {
    /// A session `id` in `cwd`, starting at `start_secs` after 2026-05-01T00:00:00Z.
    pub fn new(id: String, cwd: &str, start_secs: u64) -> Rollout {
        Rollout {
            id,
            cwd: cwd.to_owned(),
            turn: 0,
            clock: start_secs,
            call: 0,
            ordinal: None,
        }
    }

    /// Numbers each line from here on (`"ordinal":N` after the timestamp), as 0.169 does.
    pub fn with_ordinals(mut self) -> Rollout {
        self.ordinal = Some(0);
        self
    }

    fn ts(&mut self) -> String {
        self.clock += 1;
        let s = self.clock;
        let (days, rem) = (s / 86_400, s % 86_400);
        // May 2026 has 31 days; the corpus stays inside May–June.
        let (month, day) = if days < 31 {
            (5, days + 1)
        } else {
            (6, (days - 31) % 30 + 1)
        };
        format!(
            "2026-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        )
    }

    /// One line with the envelope keys in the order Codex writes them (`timestamp`, `type`,
    /// `payload`; see the captured rollouts). `json!` would sort them, putting `payload` first,
    /// which no Codex build writes.
    fn line(&mut self, kind: &str, payload: &Value) -> String {
        let ts = self.ts();
        let mut s = format!("{{\"timestamp\":\"{ts}\",");
        if let Some(ordinal) = &mut self.ordinal {
            s.push_str(&format!("\"ordinal\":{ordinal},"));
            *ordinal += 1;
        }
        s.push_str(&format!("\"type\":{},\"payload\":", json!(kind)));
        push_tag_first(&mut s, payload);
        s.push_str("}\n");
        s
    }

    /// The `session_meta` line.
    pub fn meta(&mut self) -> String {
        let ts = self.ts();
        let payload = json!({
            "id": self.id, "timestamp": ts, "cwd": self.cwd, "originator": "codex_cli_rs",
            "cli_version": "0.169.0", "source": "cli", "model_provider": "openai",
        });
        self.line("session_meta", &payload)
    }

    /// Starts a turn: its `turn_context` line.
    pub fn turn_context(&mut self) -> String {
        self.turn += 1;
        let payload = json!({"turn_id": self.turn_id(), "cwd": self.cwd, "model": "gpt-5-codex"});
        self.line("turn_context", &payload)
    }

    fn turn_id(&self) -> String {
        format!("{}-t{}", self.id, self.turn)
    }

    fn message(&mut self, role: &str, kind: &str, text: &str) -> String {
        let payload = json!({
            "type": "message", "role": role,
            "content": [{"type": kind, "text": text}],
            "internal_chat_message_metadata_passthrough": {"turn_id": self.turn_id()},
        });
        self.line("response_item", &payload)
    }

    /// A user prompt.
    pub fn user(&mut self, text: &str) -> String {
        self.message("user", "input_text", text)
    }

    /// An agent answer.
    pub fn assistant(&mut self, text: &str) -> String {
        self.message("assistant", "output_text", text)
    }

    /// A shell tool call and its output (two lines).
    pub fn tool(&mut self, cmd: &str, output: &str) -> String {
        self.call += 1;
        let call_id = format!("call_{}", self.call);
        let args = json!({"cmd": cmd, "workdir": self.cwd}).to_string();
        let mut s = self.line(
            "response_item",
            &json!({"type": "function_call", "name": "exec_command", "arguments": args,
                   "call_id": call_id}),
        );
        s.push_str(&self.line(
            "response_item",
            &json!({"type": "function_call_output", "call_id": call_id, "output": output}),
        ));
        s
    }

    /// A `token_count` event: present in every real rollout, skipped by the parser.
    pub fn token_count(&mut self) -> String {
        let n = self.turn * 1000;
        self.line(
            "event_msg",
            &json!({"type": "token_count", "info": {"total_token_usage": {
                "input_tokens": n, "cached_input_tokens": n / 2, "output_tokens": n / 10,
                "reasoning_output_tokens": 0, "total_tokens": n + n / 10}}}),
        )
    }
}

/// Appends `value` as JSON with an object's `type` key first, as Codex writes its payloads
/// (serde's tagged enums put the tag before the fields); the other keys, and nested objects,
/// stay in `serde_json`'s sorted order.
fn push_tag_first(out: &mut String, value: &Value) {
    let Some((tag, map)) = value
        .as_object()
        .and_then(|map| Some((map.get("type")?, map)))
    else {
        out.push_str(&value.to_string());
        return;
    };
    out.push_str("{\"type\":");
    out.push_str(&tag.to_string());
    for (key, field) in map.iter().filter(|(key, _)| *key != "type") {
        out.push(',');
        out.push_str(&Value::from(key.as_str()).to_string());
        out.push(':');
        out.push_str(&field.to_string());
    }
    out.push('}');
}

/// A tool output of about `bytes` bytes: log-like lines of vocabulary words.
pub fn tool_output(vocab: &Vocab, rng: &mut Rng, bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 80);
    let mut n = 0u32;
    while out.len() < bytes {
        n += 1;
        let words = 4 + rng.below(9);
        out.push_str(&format!(
            "{n:>4} | {} {}\n",
            vocab.word(rng).to_uppercase(),
            vocab.sentence(rng, words)
        ));
    }
    out
}

/// What a generated rollout holds besides the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Conversation items only (and a token count per turn): the densest rollout, nearly all
    /// of its bytes message text.
    Conversation,
    /// The same conversation as Codex 0.169 writes it (see the `impl Rollout` below): about
    /// half of its bytes repeat what is archived once.
    Codex,
}

/// Appends turns to a rollout until it holds at least `target` bytes. Turns are large and
/// realistic: a prompt, two tool calls with multi-KiB outputs, an answer. Both shapes draw
/// the same conversation from `rng`.
pub fn big_rollout(
    vocab: &Vocab,
    rng: &mut Rng,
    id: String,
    cwd: &str,
    target: usize,
    shape: Shape,
) -> String {
    let codex = shape == Shape::Codex;
    let mut r = Rollout::new(id, cwd, 0);
    if codex {
        r = r.with_ordinals();
    }
    let mut out = String::with_capacity(target + 64 * 1024);
    if codex {
        // Codex writes its whole system prompt into `session_meta` (about 20 KB), drawn from
        // a generator of its own so the conversation stays the same.
        let mut own = Rng::new(99);
        let mut instructions = String::new();
        while instructions.len() < 20_000 {
            instructions.push_str(&vocab.prose(&mut own, 12, 40));
            instructions.push_str("\n\n");
        }
        out.push_str(&r.meta_with_instructions(&instructions));
    } else {
        out.push_str(&r.meta());
    }
    while out.len() < target {
        let prompt_start = if codex {
            r.codex_turn_start()
        } else {
            r.turn_context()
        };
        out.push_str(&prompt_start);
        let prompt = vocab.prose(rng, 12, 60);
        out.push_str(&if codex {
            r.codex_user(&prompt)
        } else {
            r.user(&prompt)
        });
        for _ in 0..2 {
            let cmd = format!("cargo test {}", vocab.word(rng));
            let size = 512 + rng.below(16 * 1024);
            let output = tool_output(vocab, rng, size);
            if codex {
                out.push_str(&r.codex_usage());
                out.push_str(&r.codex_tool(&cmd, &output));
            } else {
                out.push_str(&r.tool(&cmd, &output));
            }
        }
        let answer = vocab.prose(rng, 40, 200);
        if codex {
            out.push_str(&r.codex_usage());
            out.push_str(&r.codex_assistant(&answer));
            out.push_str(&r.codex_turn_end(&answer));
        } else {
            out.push_str(&r.assistant(&answer));
            out.push_str(&r.token_count());
        }
    }
    out
}

/// Lines Codex 0.169 writes around the conversation items, modelled on the captured rollout
/// `protocols/proto/samples/codex/rollout-with-tool-call-and-stop-block.jsonl`: every user
/// message, agent message and command output is written twice (the `response_item` and an
/// `event_msg` `item_completed`), the final answer a third time (`task_complete`), and each
/// model response adds a `token_usage_record` and a `token_count`.
impl Rollout {
    /// The `session_meta` line with `base_instructions` of `instructions` (Codex writes its
    /// whole system prompt there, about 20 KB).
    pub fn meta_with_instructions(&mut self, instructions: &str) -> String {
        let ts = self.ts();
        let payload = json!({
            "session_id": self.id, "id": self.id, "timestamp": ts, "cwd": self.cwd,
            "originator": "codex_cli_rs", "cli_version": "0.169.0", "source": "cli",
            "model_provider": "openai", "base_instructions": {"text": instructions},
        });
        self.line("session_meta", &payload)
    }

    fn event(&mut self, payload: &Value) -> String {
        self.line("event_msg", payload)
    }

    fn item_completed(&mut self, item: &Value) -> String {
        let thread = self.id.clone();
        let turn = self.turn_id();
        self.event(&json!({
            "type": "item_completed", "thread_id": thread, "turn_id": turn, "item": item,
            "started_at_ms": 1_795_643_955_451u64, "completed_at_ms": 1_795_643_955_451u64,
        }))
    }

    /// Starts a turn as 0.169 does: `task_started`, `turn_context`, `thread_settings_applied`.
    pub fn codex_turn_start(&mut self) -> String {
        let mut s = self.turn_context();
        let turn = self.turn_id();
        let thread = self.id.clone();
        s.insert_str(
            0,
            &self.event(&json!({"type": "task_started", "turn_id": turn,
                "started_at": 1_795_643_954u64, "model_context_window": 258_400,
                "collaboration_mode_kind": "default"})),
        );
        s.push_str(&self.event(&json!({"type": "thread_settings_applied",
            "thread_id": thread, "settings": {"model": "gpt-5-codex",
            "approval_policy": "on-request", "sandbox_policy": {"type": "workspace-write"},
            "reasoning_effort": "medium", "summary": "auto"}})));
        s
    }

    /// A user prompt and its `item_completed`.
    pub fn codex_user(&mut self, text: &str) -> String {
        let mut s = self.user(text);
        let id = format!("{}-u{}", self.id, self.turn);
        s.push_str(
            &self.item_completed(&json!({"type": "UserMessage", "id": id,
            "content": [{"type": "text", "text": text, "text_elements": []}]})),
        );
        s
    }

    /// The accounting lines after each model response.
    pub fn codex_usage(&mut self) -> String {
        let n = self.turn * 1000;
        let usage = json!({"input_tokens": n, "cached_input_tokens": n / 2,
            "cache_write_input_tokens": 0, "output_tokens": n / 10,
            "reasoning_output_tokens": 0, "total_tokens": n + n / 10});
        let (thread, turn) = (self.id.clone(), self.turn_id());
        let mut s = self.line(
            "token_usage_record",
            &json!({"thread_id": thread, "turn_id": turn, "session_id": thread,
                "root_turn_id": turn, "response_id": format!("resp_{}", self.call),
                "usage": usage, "turn_token_usage": usage, "thread_token_usage": usage}),
        );
        s.push_str(&self.token_count());
        s
    }

    /// A shell call, its `item_completed` (the output again, as `aggregated_output`) and its
    /// output, in 0.169's order.
    pub fn codex_tool(&mut self, cmd: &str, output: &str) -> String {
        let mut s = self.tool(cmd, output);
        let call_id = format!("call_{}", self.call);
        let cwd = format!("file://{}", self.cwd);
        let completed = self.item_completed(&json!({
            "type": "CommandExecution", "id": call_id, "process_id": "84913",
            "command": ["/bin/bash", "-lc", cmd], "cwd": cwd,
            "parsed_cmd": [{"type": "unknown", "cmd": cmd}], "source": "unified_exec_startup",
            "status": "completed", "aggregated_output": output, "exit_code": 0,
            "duration": {"secs": 0, "nanos": 6612}}));
        // The call line, then the completion, then the output line.
        let split = s.find('\n').map_or(s.len(), |i| i + 1);
        s.insert_str(split, &completed);
        s
    }

    /// An agent answer and its `item_completed`.
    pub fn codex_assistant(&mut self, text: &str) -> String {
        let id = format!("msg_{}", self.turn);
        let mut s = self.item_completed(&json!({"type": "AgentMessage", "id": id,
            "content": [{"type": "Text", "text": text}]}));
        s.push_str(&self.assistant(text));
        s
    }

    /// Ends a turn: `task_complete` repeating the last answer.
    pub fn codex_turn_end(&mut self, last: &str) -> String {
        let turn = self.turn_id();
        self.event(&json!({"type": "task_complete", "turn_id": turn,
            "last_agent_message": last, "completed_at": 1_795_643_956u64, "duration_ms": 1250}))
    }
}
