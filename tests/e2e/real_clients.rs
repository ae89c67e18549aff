//! The real Codex CLI (0.169.0) and Claude Code, installed from npm, driven against the fake
//! model server on 127.0.0.1 with csep's hooks installed by `csep install`.
//!
//! Binaries: `$CSEP_TEST_CODEX_BIN` / `$CSEP_TEST_CLAUDE_BIN`, else `.cache/npm/node_modules/.bin/`
//! in the repository (`.ci/run` installs them there). When a binary is missing the test is
//! skipped with a message, unless `CI=true` (as in `.ci/run`) or `CSEP_REQUIRE_REAL_CLIS=1`,
//! where a missing client fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::fake_model::FakeModel;
use crate::support::{TestHome, stdout_json};

/// Upper bound of one client run; the fake server answers in milliseconds.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) fn client_bin(name: &str, var: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var) {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".cache/npm/node_modules/.bin")
        .join(name);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CSEP_REQUIRE_REAL_CLIS").as_deref() == Ok("1")
        || std::env::var("CI").as_deref() == Ok("true")
    {
        panic!("{name} is not installed: run .ci/run's npm install step or set {var}");
    }
    eprintln!("skipping: {name} not installed (set {var} or run the npm install step in .ci/run)");
    None
}

/// Runs a client with a clean environment (only what it needs) and a hard timeout.
pub(crate) fn run_client(mut cmd: Command) -> std::process::Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn client");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > CLIENT_TIMEOUT {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "client timed out after {CLIENT_TIMEOUT:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn base_env(cmd: &mut Command, user_home: &Path) {
    cmd.env_clear();
    for var in ["PATH", "LANG", "TERM", "SHELL"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    cmd.env("HOME", user_home);
}

/// Waits until the worker left no stop event pending or processing.
pub(crate) fn wait_for_worker(db: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let busy: i64 = Connection::open(db)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM stop_events WHERE status IN ('pending', 'processing')",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(1);
        if busy == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "worker did not drain the stop events in time"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What every real-Codex test sets up: a fake model server, a `CODEX_HOME` whose
/// `config.toml` points Codex at it ([`fake_codex_config`]) and an empty user home.
pub(crate) struct CodexScene {
    pub server: FakeModel,
    pub codex_home: PathBuf,
    pub user_home: PathBuf,
}

impl CodexScene {
    pub(crate) fn new(t: &TestHome) -> CodexScene {
        let server = FakeModel::start(Duration::from_secs(300));
        let codex_home = t.scratch().join("codex-home");
        let user_home = t.scratch().join("user");
        std::fs::create_dir_all(&codex_home).unwrap();
        std::fs::create_dir_all(&user_home).unwrap();
        std::fs::write(codex_home.join("config.toml"), fake_codex_config(&server)).unwrap();
        CodexScene {
            server,
            codex_home,
            user_home,
        }
    }

    /// Runs the real `codex` with `args` in `work` (its own user home, this scene's
    /// `CODEX_HOME`, plus `env`) and checks it succeeded.
    pub(crate) fn codex(
        &self,
        codex: &Path,
        work: &Path,
        env: &[(&str, &str)],
        args: &[&str],
    ) -> std::process::Output {
        let mut cmd = Command::new(codex);
        base_env(&mut cmd, &self.user_home);
        cmd.env("CODEX_HOME", &self.codex_home)
            .envs(env.iter().copied())
            .current_dir(work)
            .args(args);
        let out = run_client(cmd);
        assert!(
            out.status.success(),
            "codex {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// `config.toml` lines that make Codex use `server` as its model provider, with no retries.
pub(crate) fn fake_codex_config(server: &FakeModel) -> String {
    format!(
        "model = \"fake-model\"\nmodel_provider = \"fake\"\n\n[model_providers.fake]\nname = \"fake\"\n\
         base_url = \"{}\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n",
        server.openai_base()
    )
}

pub(crate) fn git_init(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ok = Command::new("git")
        .args(["init", "-q", "."])
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "git init");
}

/// Inserts a project memory entry through the store, as the compiler would.
fn seed_memory(db: &Path, project_id: &str, summary: &str) {
    let store = csep::store::db::Store::open(db).unwrap();
    store.conn().execute(
        "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, normalized, \
         provenance, created_at, updated_at) VALUES ('m_seed01', 'project', ?1, 'command', ?2, '', \
         ?2, '{\"sessions\":[\"s1\"]}', '2026-11-25T00:00:00.000Z', '2026-11-25T00:00:00.000Z')",
        rusqlite::params![project_id, summary],
    )
    .unwrap();
}

fn archived_origins(db: &Path) -> Vec<(String, Option<String>, String)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT origin, tool_name, text FROM messages ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn codex_sessions_are_archived_and_the_next_session_gets_learned_context() {
    let Some(codex) = client_bin("codex", "CSEP_TEST_CODEX_BIN") else {
        return;
    };
    let t = TestHome::new();
    let scene = CodexScene::new(&t);
    let CodexScene {
        server, codex_home, ..
    } = &scene;
    let work = t.scratch().join("work");
    git_init(&work);
    let out = t
        .csep(&["install", "codex", "--codex-home"])
        .arg(codex_home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let codex_run = |prompt: &str| {
        scene.codex(
            &codex,
            &work,
            &[],
            &["exec", "--skip-git-repo-check", prompt],
        )
    };

    // Session 1: a tool call; no bypass flag, so the hooks only run if csep's trust entries hold.
    let out = codex_run("RUN_TOOL please, and remember to always use cargo nextest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hook: Stop Completed"), "{stderr}");
    wait_for_worker(&t.home().join("csep.db"));
    let archived = archived_origins(&t.home().join("csep.db"));
    assert!(
        archived.iter().any(|(o, tool, text)| o == "tool_call"
            && tool.as_deref() == Some("exec_command")
            && text.contains("echo tool-ran")),
        "tool call not archived: {archived:?}"
    );
    assert!(
        archived
            .iter()
            .any(|(o, _, text)| o == "user" && text.contains("RUN_TOOL please"))
    );
    assert!(
        archived.iter().any(|(o, _, _)| o.starts_with("injected:")),
        "{archived:?}"
    );

    // Session 2: memory learned for this project is injected at SessionStart.
    let project = stdout_json(
        &t.csep(&["project", "--json", "--cwd"])
            .arg(&work)
            .output()
            .unwrap(),
    );
    seed_memory(
        &t.home().join("csep.db"),
        project["id"].as_str().unwrap(),
        "Run the tests with cargo nextest CTX-MARKER-seeded",
    );
    let out = codex_run("hello again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("saw CTX-MARKER-seeded"),
        "context not injected: {stdout}"
    );
    let last = server.model_requests().last().cloned().unwrap();
    assert!(
        last.to_string().contains("<csep-context"),
        "no csep context in the request"
    );

    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["hooks"]["codex"]["installed"], true);
    assert_eq!(status["hooks"]["codex"]["trusted"], true);
    assert!(
        status["projects"][0]["sessions"].as_u64().unwrap() >= 1,
        "{status}"
    );
    wait_for_worker(&t.home().join("csep.db"));

    // Uninstall leaves the Codex home as it was before install.
    t.csep(&["uninstall", "codex"]).assert().success();
    assert!(!codex_home.join("hooks.json").exists());
    let config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    assert!(!config.contains("hooks.state"), "{config}");
}

#[test]
fn claude_sessions_are_archived_and_the_next_session_gets_learned_context() {
    let Some(claude) = client_bin("claude", "CSEP_TEST_CLAUDE_BIN") else {
        return;
    };
    let t = TestHome::new();
    let server = FakeModel::start(Duration::from_secs(300));
    let user_home = t.scratch().join("user");
    let config_dir = user_home.join(".claude");
    let work = t.scratch().join("work");
    let tmp = t.scratch().join("tmp");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    git_init(&work);
    let out = t
        .csep(&["install", "claude", "--claude-config-dir"])
        .arg(&config_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let claude_run = |prompt: &str| {
        let mut cmd = Command::new(&claude);
        base_env(&mut cmd, &user_home);
        cmd.env("CLAUDE_CONFIG_DIR", &config_dir)
            .env("TMPDIR", &tmp)
            .env("ANTHROPIC_BASE_URL", server.anthropic_base())
            .env("ANTHROPIC_API_KEY", "dummy")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .current_dir(&work)
            .args(["-p", prompt]);
        let out = run_client(cmd);
        assert!(
            out.status.success(),
            "claude failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };

    claude_run("RUN_TOOL please");
    wait_for_worker(&t.home().join("csep.db"));
    let archived = archived_origins(&t.home().join("csep.db"));
    assert!(
        archived.iter().any(|(o, tool, text)| o == "tool_call"
            && tool.as_deref() == Some("Bash")
            && text.contains("echo tool-ran")),
        "tool call not archived: {archived:?}"
    );
    assert!(
        archived
            .iter()
            .any(|(o, _, text)| o == "user" && text.contains("RUN_TOOL please"))
    );

    let project = stdout_json(
        &t.csep(&["project", "--json", "--cwd"])
            .arg(&work)
            .output()
            .unwrap(),
    );
    seed_memory(
        &t.home().join("csep.db"),
        project["id"].as_str().unwrap(),
        "Run the tests with cargo nextest CTX-MARKER-claudeseed",
    );
    let out = claude_run("hello again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("saw CTX-MARKER-claudeseed"),
        "context not injected: {stdout}"
    );
    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["hooks"]["claude"]["installed"], true);
    wait_for_worker(&t.home().join("csep.db"));
    t.csep(&["uninstall", "claude"]).assert().success();
    assert!(!config_dir.join("settings.json").exists());
}
