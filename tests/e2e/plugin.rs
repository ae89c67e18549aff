//! The plugin bundle against the real Codex CLI and Claude Code: `csep plugin bundle` output is
//! accepted by `codex plugin marketplace add` / `claude plugin marketplace add`, and
//! `csep install <host> --plugin` installs through the hosts' own commands (Codex hooks trusted
//! through `codex app-server`), the hooks fire in a real session, and `csep uninstall` leaves the
//! host configuration byte-identical. Skipped like `real_clients` when a CLI is missing.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rusqlite::Connection;

use crate::fake_model::FakeModel;
use crate::real_clients::{
    CodexScene, base_env, client_bin, fake_codex_config, git_init, run_client, wait_for_worker,
};
use crate::support::{TestHome, stdout_json, success_json};

fn stop_events(db: &Path) -> i64 {
    Connection::open(db)
        .and_then(|c| c.query_row("SELECT count(*) FROM stop_events", [], |r| r.get(0)))
        .unwrap_or(0)
}

fn host_cmd(bin: &Path, user_home: &Path, var: &str, dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(bin);
    base_env(&mut cmd, user_home);
    cmd.env(var, dir).args(args);
    let out = run_client(cmd);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn both_hosts_accept_the_generated_bundle_as_a_marketplace() {
    let codex = client_bin("codex", "CSEP_TEST_CODEX_BIN");
    let claude = client_bin("claude", "CSEP_TEST_CLAUDE_BIN");
    let t = TestHome::new();
    let bundle = t.scratch().join("bundle");
    let out = t
        .csep(&["plugin", "bundle", "--json", "--out"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = stdout_json(&out);
    assert_eq!(report["plugin_id"], "csep@csep-local");
    let user_home = t.scratch().join("user");
    std::fs::create_dir_all(&user_home).unwrap();
    if let Some(codex) = codex {
        let codex_home = t.scratch().join("codex-home");
        std::fs::create_dir_all(&codex_home).unwrap();
        let bundle_arg = bundle.to_string_lossy().into_owned();
        host_cmd(
            &codex,
            &user_home,
            "CODEX_HOME",
            &codex_home,
            &["plugin", "marketplace", "add", &bundle_arg],
        );
        host_cmd(
            &codex,
            &user_home,
            "CODEX_HOME",
            &codex_home,
            &["plugin", "add", "csep@csep-local"],
        );
        let cached = codex_home.join("plugins/cache/csep-local/csep");
        let version = std::fs::read_dir(&cached).unwrap().next().unwrap().unwrap();
        assert!(version.path().join("skills/csep-recall/SKILL.md").is_file());
        assert!(version.path().join("hooks/hooks.json").is_file());
    }
    if let Some(claude) = claude {
        let config = user_home.join(".claude");
        std::fs::create_dir_all(&config).unwrap();
        let bundle_arg = bundle.to_string_lossy().into_owned();
        host_cmd(
            &claude,
            &user_home,
            "CLAUDE_CONFIG_DIR",
            &config,
            &["plugin", "validate", &bundle_arg],
        );
        host_cmd(
            &claude,
            &user_home,
            "CLAUDE_CONFIG_DIR",
            &config,
            &["plugin", "marketplace", "add", &bundle_arg],
        );
        host_cmd(
            &claude,
            &user_home,
            "CLAUDE_CONFIG_DIR",
            &config,
            &["plugin", "install", "csep@csep-local"],
        );
        let settings = std::fs::read_to_string(config.join("settings.json")).unwrap();
        assert!(settings.contains("\"csep@csep-local\": true"), "{settings}");
    }
}

#[test]
fn codex_plugin_install_is_trusted_fires_and_uninstalls_byte_identical() {
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
    // A comment of the user's own: uninstall must give these bytes back.
    let config_before = format!("# my settings\n{}", fake_codex_config(server));
    std::fs::write(codex_home.join("config.toml"), &config_before).unwrap();
    let report = success_json(
        t.csep(&["install", "codex", "--plugin", "--json", "--codex-home"])
            .arg(codex_home)
            .arg("--host-bin")
            .arg(&codex),
    );
    assert_eq!(report[0]["trusted"], true, "{report}");
    assert!(!codex_home.join("hooks.json").exists(), "no direct hooks");
    let config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    assert!(config.contains("[plugins.\"csep@csep-local\"]"), "{config}");
    assert!(config.contains("trusted_content_hash"), "{config}");

    // A real session without the bypass flag: the plugin hooks only run if they are trusted.
    let out = scene.codex(
        &codex,
        &work,
        &[],
        &[
            "exec",
            "--skip-git-repo-check",
            "hello from the plugin test",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hook: Stop Completed"), "{stderr}");
    let db = t.home().join("csep.db");
    assert!(stop_events(&db) >= 1, "the Stop hook recorded nothing");
    wait_for_worker(&db);

    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["hooks"]["codex"]["installed"], true, "{status}");
    assert_eq!(status["hooks"]["codex"]["trusted"], true, "{status}");

    let out = t.csep(&["uninstall", "codex", "--json"]).output().unwrap();
    assert!(out.status.success());
    let undone = stdout_json(&out);
    let files = undone[0]["files"].as_array().unwrap();
    assert_eq!(
        files[0],
        serde_json::json!(["plugin remove csep@csep-local", "ran"]),
        "{undone}"
    );
    assert_eq!(
        files[1],
        serde_json::json!(["plugin marketplace remove csep-local", "ran"])
    );
    assert_eq!(
        std::fs::read_to_string(codex_home.join("config.toml")).unwrap(),
        config_before
    );
    assert!(!codex_home.join("plugins/cache/csep-local").exists());
    assert!(!t.home().join("plugin").exists());
    assert!(!t.home().join("install/codex.json").exists());
}

#[test]
fn claude_plugin_install_fires_and_uninstalls_byte_identical() {
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
    let settings_before =
        "{\n  \"model\": \"opus\",\n  \"permissions\": {\"allow\": [\"Bash(ls)\"]}\n}\n";
    std::fs::write(config_dir.join("settings.json"), settings_before).unwrap();
    let out = t
        .csep(&["install", "claude", "--plugin", "--claude-config-dir"])
        .arg(&config_dir)
        .arg("--host-bin")
        .arg(&claude)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

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
        .args(["-p", "hello from the plugin test"]);
    let out = run_client(cmd);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = t.home().join("csep.db");
    assert!(
        stop_events(&db) >= 1,
        "the plugin's Stop hook recorded nothing"
    );
    wait_for_worker(&db);
    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["hooks"]["claude"]["installed"], true, "{status}");

    t.csep(&["uninstall", "claude"]).assert().success();
    assert_eq!(
        std::fs::read_to_string(config_dir.join("settings.json")).unwrap(),
        settings_before
    );
    for gone in [
        "plugins/known_marketplaces.json",
        "plugins/installed_plugins.json",
        "plugins/cache/csep-local",
    ] {
        assert!(!config_dir.join(gone).exists(), "{gone} left behind");
    }
}
