use pretty_assertions::assert_eq;

use super::*;

fn target(dir: &Path) -> CodexTarget {
    CodexTarget {
        codex_home: dir.join("codex-home"),
        exe: PathBuf::from("/opt/bin/csep"),
        hook_home: Some(dir.join("csep home")),
    }
}

#[test]
fn trusted_hash_matches_the_codex_fingerprint_of_the_prototype() {
    // Value computed by the verified prototype `codex_trust_hash.py` for this handler:
    // python3 -c 'import json,hashlib;print(hashlib.sha256(json.dumps({"event_name":"stop",
    //   "hooks":[{"type":"command","command":"/abs/hook stop","timeout":60,"async":False}]},
    //   sort_keys=True,separators=(",",":")).encode()).hexdigest())'
    assert_eq!(
        trusted_hash("Stop", "/abs/hook stop", 60),
        format!("sha256:{}", {
            let identity = r#"{"event_name":"stop","hooks":[{"async":false,"command":"/abs/hook stop","timeout":60,"type":"command"}]}"#;
            Sha256::digest(identity.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        })
    );
    assert_eq!(event_snake("UserPromptSubmit"), "user_prompt_submit");
    assert_eq!(event_snake("SessionStart"), "session_start");
}

#[test]
fn install_on_a_fresh_codex_home_writes_hooks_and_trust() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path());
    let manifest = install(&t, None, "2026-11-25T00:00:00.000Z").unwrap();
    let home = t.codex_home.canonicalize().unwrap();
    let hooks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("hooks.json")).unwrap()).unwrap();
    let stop = hooks["hooks"]["Stop"][0]["hooks"][0]["command"]
        .as_str()
        .unwrap();
    assert!(stop.starts_with("/opt/bin/csep --home '"), "{stop}");
    assert!(stop.ends_with("hook stop --host codex"));
    assert_eq!(manifest.trust_keys.len(), 3);
    assert_eq!(check(&t.codex_home), (true, true));
    let config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(config.contains(":stop:0:0\"]"), "{config}");
}

#[test]
fn install_then_uninstall_leaves_existing_files_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path());
    std::fs::create_dir_all(&t.codex_home).unwrap();
    let hooks_before = "{\n  \"hooks\": {\"Stop\": [{\"hooks\": [{\"type\": \"command\", \"command\": \"/usr/bin/mine\"}]}]},\n  \"x\": 1\n}\n";
    let config_before = "# my config\nmodel = \"gpt\"\n\n[features]\nhooks = true\n";
    std::fs::write(t.codex_home.join("hooks.json"), hooks_before).unwrap();
    std::fs::write(t.codex_home.join("config.toml"), config_before).unwrap();
    let m1 = install(&t, None, "2026-11-25T00:00:00.000Z").unwrap();
    // A second install is idempotent and keeps the original for uninstall.
    let m2 = install(&t, Some(&m1), "2026-11-25T00:01:00.000Z").unwrap();
    assert_eq!(m1.edits[0].written, m2.edits[0].written);
    assert_eq!(m2.edits[0].original.as_deref(), Some(hooks_before));
    assert!(m2.edits[0].backup.as_ref().unwrap().exists());
    assert_eq!(check(&t.codex_home), (true, true));
    // The user's own hook is still there, after ours in no particular order.
    let hooks = std::fs::read_to_string(t.codex_home.join("hooks.json")).unwrap();
    assert!(hooks.contains("/usr/bin/mine"));
    uninstall(&m2).unwrap();
    assert_eq!(
        std::fs::read_to_string(t.codex_home.join("hooks.json")).unwrap(),
        hooks_before
    );
    assert_eq!(
        std::fs::read_to_string(t.codex_home.join("config.toml")).unwrap(),
        config_before
    );
    assert_eq!(check(&t.codex_home), (false, false));
}

#[test]
fn uninstall_after_the_user_edited_the_files_removes_only_csep_entries() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path());
    let manifest = install(&t, None, "2026-11-25T00:00:00.000Z").unwrap();
    let home = t.codex_home.canonicalize().unwrap();
    let mut config = std::fs::read_to_string(home.join("config.toml")).unwrap();
    config.push_str("\n[tui]\ntheme = \"dark\"\n");
    std::fs::write(home.join("config.toml"), &config).unwrap();
    uninstall(&manifest).unwrap();
    let after = std::fs::read_to_string(home.join("config.toml")).unwrap();
    assert!(after.contains("theme = \"dark\""));
    assert!(!after.contains("trusted_hash"), "{after}");
    // hooks.json was created by csep and untouched since: it is removed.
    assert!(!home.join("hooks.json").exists());
}

#[test]
fn a_modified_command_is_no_longer_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path());
    install(&t, None, "2026-11-25T00:00:00.000Z").unwrap();
    let path = t.codex_home.join("hooks.json");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"timeout\": 30", "\"timeout\": 31");
    std::fs::write(&path, text).unwrap();
    assert_eq!(check(&t.codex_home), (true, false));
}

#[test]
fn a_malformed_hooks_file_is_an_actionable_error_and_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path());
    std::fs::create_dir_all(&t.codex_home).unwrap();
    std::fs::write(t.codex_home.join("hooks.json"), "{not json").unwrap();
    let err = install(&t, None, "now").unwrap_err();
    assert!(err.to_string().contains("is not valid JSON"), "{err}");
    assert_eq!(
        std::fs::read_to_string(t.codex_home.join("hooks.json")).unwrap(),
        "{not json"
    );
}
