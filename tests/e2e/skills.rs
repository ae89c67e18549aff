//! `csep skills …` and `skill-synthesize` end to end: synthesis from archived sessions, publishing
//! into temporary Codex and Claude Code homes, dry runs that leave the roots untouched, the
//! lifecycle commands, gc of the reference's leftovers, and the real Codex CLI (and Claude Code)
//! listing a published skill in its model request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use predicates::prelude::*;
use rusqlite::params;
use serde_json::json;

use crate::fake_model::FakeModel;
use crate::real_clients::{base_env, client_bin, fake_codex_config, run_client};
use crate::support::{TestHome, stdout_json, success_json};

const NAME: &str = "csep-cargo-fmt-clippy-test";

/// Archives `n` sessions that ran fmt → clippy → test to success, through the store.
fn seed_sessions(home: &Path, n: usize) {
    std::fs::create_dir_all(home).unwrap();
    let store = csep::store::db::Store::open(&home.join("csep.db")).unwrap();
    let conn = store.conn();
    let now = jiff::Timestamp::now();
    for i in 0..n {
        let at = csep::store::time::format_ts(
            now.checked_sub(jiff::SignedDuration::from_hours(24 * (i as i64 + 1)))
                .unwrap(),
        );
        let host = if i % 2 == 0 { "codex" } else { "claude" };
        conn.execute(
            "INSERT INTO sessions (host, session_id, started_at, last_message_at, created_at, \
             updated_at) VALUES (?1, ?2, ?3, ?3, ?3, ?3)",
            params![host, format!("sess-{i}"), at],
        )
        .unwrap();
        let session = conn.last_insert_rowid();
        let (tool, ok_output) = match host {
            "codex" => ("exec_command", "Process exited with code 0\nOutput:\nok\n"),
            _ => ("Bash", "ok"),
        };
        let arg = |cmd: &str| match host {
            "codex" => json!({"cmd": cmd}).to_string(),
            _ => json!({"command": cmd}).to_string(),
        };
        let mut rows: Vec<(&str, &str, Option<&str>, String)> = vec![(
            "user",
            "user",
            None,
            "please check the build before I commit".into(),
        )];
        for cmd in [
            "cargo fmt --all",
            "cargo clippy --all-targets -- -D warnings",
            "cargo test",
        ] {
            rows.push(("assistant", "tool_call", Some(tool), arg(cmd)));
            rows.push(("tool", "tool_output", None, ok_output.to_owned()));
        }
        for (offset, (role, origin, tool_name, text)) in rows.into_iter().enumerate() {
            conn.execute(
                "INSERT INTO messages (session_ref, byte_offset, seq, ts, role, origin, \
                 tool_name, text) VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7)",
                params![session, offset as i64, at, role, origin, tool_name, text],
            )
            .unwrap();
        }
    }
}

/// Hashes of every file under `root` (missing root → empty), for before/after comparisons.
fn hash_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    walk(root, root, &mut out);
    out
}

struct Hosts {
    codex_home: PathBuf,
    claude_dir: PathBuf,
}

impl Hosts {
    fn new(t: &TestHome) -> Hosts {
        Hosts {
            codex_home: t.scratch().join("codex-home"),
            claude_dir: t.scratch().join("claude-config"),
        }
    }

    fn flags(&self) -> Vec<String> {
        vec![
            "--codex-home".into(),
            self.codex_home.display().to_string(),
            "--claude-config-dir".into(),
            self.claude_dir.display().to_string(),
        ]
    }

    fn codex_skill(&self, name: &str) -> PathBuf {
        self.codex_home.join("skills").join(name).join("SKILL.md")
    }

    fn claude_skill(&self, name: &str) -> PathBuf {
        self.claude_dir.join("skills").join(name).join("SKILL.md")
    }
}

fn csep(t: &TestHome, args: &[&str], extra: &[String]) -> std::process::Output {
    let out = t.csep(args).args(extra).output().unwrap();
    assert!(
        out.status.success(),
        "csep {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn synthesize_publishes_a_recurring_procedure_to_both_hosts_and_lists_it() {
    let t = TestHome::new();
    let hosts = Hosts::new(&t);
    seed_sessions(&t.home(), 3);
    let out = csep(
        &t,
        &[
            "skills",
            "synthesize",
            "--mode",
            "full",
            "--lookback-days",
            "30",
            "--json",
        ],
        &hosts.flags(),
    );
    let receipt = stdout_json(&out);
    assert_eq!(receipt["published"], json!([NAME]), "{receipt:#}");
    assert_eq!(receipt["evidence"]["sessions"], 3);
    assert_eq!(receipt["evidence"]["procedures"], 1);
    let codex = std::fs::read_to_string(hosts.codex_skill(NAME)).unwrap();
    let claude = std::fs::read_to_string(hosts.claude_skill(NAME)).unwrap();
    assert_eq!(codex, claude);
    assert!(codex.starts_with(&format!("---\nname: {NAME}\ndescription: \"Use when")));
    assert!(receipt["receipt_id"].is_i64());

    let list = stdout_json(&csep(&t, &["skills", "list", "--json"], &[]));
    assert_eq!(list[0]["name"], NAME);
    assert_eq!(list[0]["state"], "published");
    assert_eq!(list[0]["published"], json!(["codex", "claude"]));

    t.csep(&["skills", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains(NAME).and(predicate::str::contains("codex,claude")));
    t.csep(&["skills", "show", NAME])
        .assert()
        .success()
        .stdout(predicate::str::contains("## If it fails"));
    // The receipt is in the database for `csep status`.
    let store = csep::store::db::Store::open(&t.home().join("csep.db")).unwrap();
    let kind: String = store
        .conn()
        .query_row(
            "SELECT kind FROM receipts ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kind, "skills");
}

#[test]
fn dry_run_writes_nothing_to_the_real_skill_roots_or_the_database() {
    let t = TestHome::new();
    let hosts = Hosts::new(&t);
    seed_sessions(&t.home(), 3);
    std::fs::create_dir_all(hosts.codex_home.join("skills/my-skill")).unwrap();
    std::fs::write(
        hosts.codex_home.join("skills/my-skill/SKILL.md"),
        "---\nname: my-skill\ndescription: Use when mine.\n---\n",
    )
    .unwrap();
    let tmp = t.scratch().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let before = (
        hash_tree(&hosts.codex_home),
        hash_tree(&hosts.claude_dir),
        hash_tree(&t.home().join("skills")),
        std::fs::read(t.home().join("csep.db")).unwrap(),
    );
    // Hosts from the environment this time, as a user would have them.
    let receipt = success_json(
        t.csep(&["skill-synthesize", "--mode", "full", "--dry-run", "--json"])
            .env("CODEX_HOME", &hosts.codex_home)
            .env("CLAUDE_CONFIG_DIR", &hosts.claude_dir)
            .env("TMPDIR", &tmp),
    );
    assert_eq!(receipt["dry_run"], true);
    assert_eq!(receipt["published"], json!([NAME]));
    assert_eq!(receipt["receipt_id"], serde_json::Value::Null);
    let after = (
        hash_tree(&hosts.codex_home),
        hash_tree(&hosts.claude_dir),
        hash_tree(&t.home().join("skills")),
        std::fs::read(t.home().join("csep.db")).unwrap(),
    );
    assert!(
        before == after,
        "a dry run changed the skill roots or the database"
    );
    // The would-be skill went to the temporary directory only.
    let written = receipt["drafts"][0]["file"].as_str().unwrap();
    assert!(Path::new(written).starts_with(&tmp), "{written}");
    assert!(Path::new(written).exists());
}

#[test]
fn the_lifecycle_commands_retire_restore_reject_and_uninstall() {
    let t = TestHome::new();
    let hosts = Hosts::new(&t);
    seed_sessions(&t.home(), 3);
    let flags = hosts.flags();
    csep(&t, &["skills", "synthesize", "--mode", "full"], &flags);
    assert!(hosts.codex_skill(NAME).exists());

    let retired = stdout_json(&csep(&t, &["skills", "retire", NAME, "--json"], &flags));
    assert_eq!(retired["state"], "retired");
    assert!(!hosts.codex_skill(NAME).exists());
    assert!(
        t.home()
            .join("skills/archive")
            .join(NAME)
            .join("SKILL.md")
            .exists()
    );

    t.csep(&["skills", "restore", NAME])
        .args(&flags)
        .assert()
        .success()
        .stdout(predicate::str::contains("restored"));
    assert!(hosts.claude_skill(NAME).exists());

    // The user edits Codex's copy: uninstall keeps it and says so.
    std::fs::write(hosts.codex_skill(NAME), "my own version").unwrap();
    t.csep(&["skills", "uninstall"])
        .assert()
        .success()
        .stdout(predicate::str::contains("left").and(predicate::str::contains("edited")));
    assert_eq!(
        std::fs::read_to_string(hosts.codex_skill(NAME)).unwrap(),
        "my own version"
    );
    assert!(!hosts.claude_skill(NAME).exists());

    t.csep(&["skills", "reject", NAME, "--reason", "not useful"])
        .args(&flags)
        .assert()
        .success();
    let again = stdout_json(&csep(
        &t,
        &["skills", "synthesize", "--mode", "full", "--json"],
        &flags,
    ));
    assert_eq!(again["drafts"][0]["outcome"], "skipped_user_rejected");
    assert!(!hosts.claude_skill(NAME).exists());

    t.csep(&["skills", "approve", "csep-nope"])
        .args(&flags)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no skill named `csep-nope`"));
}

#[test]
fn gc_lists_the_reference_leftovers_and_removes_them_only_with_yes() {
    let t = TestHome::new();
    let hosts = Hosts::new(&t);
    let skills = hosts.codex_home.join("skills");
    for dir in ["csep-synth-git-cleanup", "csep-reflect-notes", "user-skill"] {
        std::fs::create_dir_all(skills.join(dir)).unwrap();
        std::fs::write(skills.join(dir).join("SKILL.md"), "x").unwrap();
    }
    t.csep(&["skills", "gc"])
        .args(hosts.flags())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("csep-synth-git-cleanup")
                .and(predicate::str::contains("reference_leftover"))
                .and(predicate::str::contains("--yes"))
                .and(predicate::str::contains("user-skill").not()),
        );
    assert!(skills.join("csep-synth-git-cleanup").exists());
    let report = stdout_json(&csep(
        &t,
        &["skills", "gc", "--yes", "--json"],
        &hosts.flags(),
    ));
    assert_eq!(report["removed"], true);
    assert_eq!(report["orphans"].as_array().unwrap().len(), 2);
    assert!(!skills.join("csep-synth-git-cleanup").exists());
    assert!(!skills.join("csep-reflect-notes").exists());
    assert!(skills.join("user-skill/SKILL.md").exists());
}

#[test]
fn approve_policy_stages_until_approved() {
    let t = TestHome::new();
    let hosts = Hosts::new(&t);
    seed_sessions(&t.home(), 3);
    std::fs::write(
        t.home().join("config.toml"),
        "schema_version = 3\n[skills]\npublish_policy = \"approve\"\n",
    )
    .unwrap();
    let receipt = stdout_json(&csep(
        &t,
        &["skills", "synthesize", "--mode", "full", "--json"],
        &hosts.flags(),
    ));
    assert_eq!(receipt["staged"], json!([NAME]), "{receipt:#}");
    assert!(!hosts.codex_skill(NAME).exists());
    assert!(
        t.home()
            .join("skills/staging")
            .join(NAME)
            .join("SKILL.md")
            .exists()
    );
    csep(&t, &["skills", "approve", NAME], &hosts.flags());
    assert!(hosts.codex_skill(NAME).exists());
    assert!(hosts.claude_skill(NAME).exists());
}

/// Publishes the synthesized skill into `codex_home` / `claude_dir` through the CLI.
fn publish_skill(t: &TestHome, hosts: &Hosts) {
    seed_sessions(&t.home(), 3);
    let receipt = stdout_json(&csep(
        t,
        &["skills", "synthesize", "--mode", "full", "--json"],
        &hosts.flags(),
    ));
    assert_eq!(receipt["published"], json!([NAME]), "{receipt:#}");
}

#[test]
fn a_published_skill_is_listed_in_the_real_codex_model_request() {
    let Some(codex) = client_bin("codex", "CSEP_TEST_CODEX_BIN") else {
        return;
    };
    let t = TestHome::new();
    let hosts = Hosts::new(&t);
    let server = FakeModel::start(Duration::from_secs(300));
    let work = t.scratch().join("work");
    let user_home = t.scratch().join("user");
    std::fs::create_dir_all(&hosts.codex_home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&user_home).unwrap();
    std::fs::write(
        hosts.codex_home.join("config.toml"),
        fake_codex_config(&server),
    )
    .unwrap();
    publish_skill(&t, &hosts);

    let mut cmd = Command::new(&codex);
    base_env(&mut cmd, &user_home);
    cmd.env("CODEX_HOME", &hosts.codex_home)
        .current_dir(&work)
        .args(["exec", "--skip-git-repo-check", "hello"]);
    let out = run_client(cmd);
    assert!(
        out.status.success(),
        "codex failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("failed to load skill"), "{stderr}");
    let requests = server.model_requests();
    let first = requests
        .first()
        .expect("codex sent a model request")
        .to_string();
    let start = first
        .find("<skills_instructions>")
        .expect("the request lists skills");
    let end = first[start..]
        .find("</skills_instructions>")
        .map_or(first.len(), |e| start + e);
    let listing = &first[start..end];
    assert!(
        listing.contains(&format!("- {NAME}: Use when")),
        "skill not listed: {listing}"
    );
    assert!(listing.contains(&format!("{NAME}/SKILL.md")), "{listing}");
}

#[test]
fn a_published_skill_is_listed_in_the_real_claude_code_request() {
    let Some(claude) = client_bin("claude", "CSEP_TEST_CLAUDE_BIN") else {
        return;
    };
    let t = TestHome::new();
    let hosts = Hosts::new(&t);
    let server = FakeModel::start(Duration::from_secs(300));
    let user_home = t.scratch().join("user");
    let work = t.scratch().join("work");
    let tmp = t.scratch().join("tmp");
    for dir in [&user_home, &work, &tmp, &hosts.claude_dir] {
        std::fs::create_dir_all(dir).unwrap();
    }
    publish_skill(&t, &hosts);

    let mut cmd = Command::new(&claude);
    base_env(&mut cmd, &user_home);
    cmd.env("CLAUDE_CONFIG_DIR", &hosts.claude_dir)
        .env("TMPDIR", &tmp)
        .env("ANTHROPIC_BASE_URL", server.anthropic_base())
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .current_dir(&work)
        .args(["-p", "hello"]);
    let out = run_client(cmd);
    assert!(
        out.status.success(),
        "claude failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let requests = server.model_requests();
    assert!(
        requests
            .iter()
            .any(|r| r.to_string().contains(&format!("- {NAME}: Use when"))),
        "skill not listed in any Claude request"
    );
}
