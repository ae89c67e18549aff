//! `csep config …` as a user runs it.

use predicates::prelude::*;

use crate::support::{TestHome, stdout_json, success_json};

#[test]
fn init_writes_a_private_valid_file_and_refuses_to_overwrite_without_force() {
    let t = TestHome::new();
    t.csep(&["config", "init"])
        .assert()
        .success()
        .stdout(predicate::str::contains("created"));
    let path = t.home().join("config.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let home_mode = std::fs::metadata(t.home()).unwrap().permissions().mode() & 0o777;
        assert_eq!(home_mode, 0o700);
    }
    t.csep(&["config", "validate"]).assert().code(0);
    t.csep(&["config", "init"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--force"));
    t.csep(&["config", "init", "--force"])
        .assert()
        .success()
        .stdout(predicate::str::contains("overwritten"));
}

#[test]
fn show_labels_where_each_value_came_from() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("config.toml"),
        "schema_version = 3\n\n[recall]\ntop_k = 9\n\n[profiles.fast]\nprovider = \"openai-compatible\"\nmodel = \"m\"\n",
    )
    .unwrap();
    let v = success_json(
        t.csep(&["config", "show", "--json", "--profile", "fast"])
            .env("CODEX_SELF_EVOLUTION_REVIEWER_MODEL", "from-env"),
    );
    assert_eq!(v["sources"]["recall.top_k"], "config.toml:4");
    assert_eq!(v["sources"]["active_profile"], "flag:--profile");
    assert_eq!(
        v["sources"]["profiles.fast.model"],
        "env:CODEX_SELF_EVOLUTION_REVIEWER_MODEL"
    );
    assert_eq!(v["sources"]["hooks.session_start_budget_tokens"], "default");
    assert_eq!(v["resolved"]["profiles"]["fast"]["model"], "from-env");
}

#[test]
fn an_unknown_key_is_reported_with_its_path_and_line_and_exit_two() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("config.toml"),
        "schema_version = 3\n[recall]\ntopk = 3\n",
    )
    .unwrap();
    t.csep(&["config", "validate"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("recall.topk").and(predicate::str::contains(":3")));
    // Other commands name the problem too instead of silently using defaults.
    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert!(
        v["config"]["error"]
            .as_str()
            .unwrap()
            .contains("recall.topk")
    );
}

#[test]
fn a_wrong_type_is_reported_with_its_path_and_line() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("config.toml"),
        "schema_version = 3\n[recall]\ntop_k = \"five\"\n",
    )
    .unwrap();
    t.csep(&["config", "show"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("recall.top_k").and(predicate::str::contains(":3")));
}

#[test]
fn use_switches_only_the_active_profile_line() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    let original = "# mine\nschema_version = 3\nactive_profile = \"offline\"\n\n[profiles.fast]\nprovider = \"dummy\"\n";
    std::fs::write(t.home().join("config.toml"), original).unwrap();
    t.csep(&["config", "use", "fast"]).assert().success();
    let after = std::fs::read_to_string(t.home().join("config.toml")).unwrap();
    assert_eq!(after, original.replace("\"offline\"", "\"fast\""));
    t.csep(&["config", "use", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("available: ").and(predicate::str::contains("fast")));
    let v = stdout_json(
        &t.csep(&["config", "list-profiles", "--json"])
            .output()
            .unwrap(),
    );
    assert_eq!(v["active_profile"], "fast");
}

#[test]
fn env_provider_keys_are_used_but_never_printed() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    let secret = "sk-ant-api03-VERYSECRETVALUE";
    std::fs::write(
        t.home().join(".env.provider"),
        format!("# keys\nexport ANTHROPIC_API_KEY=\"{secret}\" # mine\n"),
    )
    .unwrap();
    let out = t.csep(&["status", "--json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("VERYSECRET"));
    let v = stdout_json(&out);
    let present = v["provider_keys"]["present"].as_array().unwrap();
    assert!(present.iter().any(|k| k == "ANTHROPIC_API_KEY"), "{v}");
    let log = std::fs::read_to_string(t.home().join("logs/csep.log")).unwrap_or_default();
    assert!(!log.contains("VERYSECRET"));
}

#[test]
fn an_unwritable_home_gives_a_one_line_error() {
    let t = TestHome::new();
    let file = t.scratch().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = assert_cmd::Command::cargo_bin("csep")
        .unwrap()
        .arg("--home")
        .arg(file.join("sub"))
        .args(["config", "init"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("file/sub"), "{stderr}");
}
