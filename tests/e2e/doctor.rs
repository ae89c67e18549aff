//! `csep doctor` on a healthy home and on a broken one, with and without `--fix`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use rusqlite::Connection;
use serde_json::Value;

use crate::support::{TestHome, stdout_json};

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

fn doctor(t: &TestHome, args: &[&str]) -> (i32, Value) {
    let out = t
        .csep(&[&["doctor", "--json"], args].concat())
        .output()
        .unwrap();
    (out.status.code().unwrap(), stdout_json(&out))
}

fn healthy_home(t: &TestHome, codex_home: &Path) {
    t.csep(&["config", "init"]).assert().success();
    t.csep(&["worker"]).assert().success();
    t.csep(&["install", "codex", "--codex-home"])
        .arg(codex_home)
        .assert()
        .success();
}

#[test]
fn a_healthy_home_passes_every_check_and_exits_zero() {
    let t = TestHome::new();
    let codex_home = t.scratch().join("codex-home");
    healthy_home(&t, &codex_home);
    let (code, report) = doctor(&t, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["healthy"], true);
    for name in [
        "hook_binary",
        "codex_trust",
        "config",
        "permissions",
        "database",
        "leases",
        "orphaned_skills",
        "start_index",
        "worker",
        "log_dir",
    ] {
        assert_eq!(check(&report, name)["status"], "ok", "{name}: {report}");
    }
    let text = t.csep(&["doctor"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("healthy"));
}

#[test]
fn a_fresh_home_is_healthy_with_nothing_installed() {
    let t = TestHome::new();
    let (code, report) = doctor(&t, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(check(&report, "codex_trust")["status"], "info");
    assert_eq!(check(&report, "codex_trust")["fix"], "csep install codex");
}

#[test]
fn a_missing_start_index_is_information_and_fix_builds_it() {
    let t = TestHome::new();
    drop(t.registered_project("repo"));
    // No worker ran: session starts read the database. Not a fault.
    let (code, report) = doctor(&t, &[]);
    assert_eq!(code, 0, "{report}");
    let start = check(&report, "start_index");
    assert_eq!(start["status"], "info", "{report}");
    assert_eq!(
        start["detail"],
        "start index of user memory missing; 0 of 1 projects current; session starts read the \
         rest from the database until the next worker run"
    );
    assert_eq!(start["auto_fixable"], true);
    let (code, report) = doctor(&t, &["--fix"]);
    assert_eq!(code, 0, "{report}");
    assert!(
        report["fixes_applied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f == "built 2 start index file(s)"),
        "{report}"
    );
    let start = check(&report, "start_index");
    assert_eq!(start["status"], "ok", "{report}");
    assert_eq!(
        start["detail"],
        "start index of user memory current; 1 of 1 projects current"
    );
    // What SessionStart reads now exists.
    let status = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(status["start_index"]["user_current"], true, "{status}");
    assert_eq!(status["start_index"]["projects_current"], 1, "{status}");
}

#[test]
fn a_broken_home_is_reported_with_fixes_and_fix_repairs_the_safe_ones() {
    let t = TestHome::new();
    let codex_home = t.scratch().join("codex-home");
    healthy_home(&t, &codex_home);
    let home = t.home();
    // Wide permissions.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        home.join("config.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    // A stale trust hash: Codex would skip the hook silently.
    let config = std::fs::read_to_string(codex_home.join("config.toml")).unwrap();
    let stale = config.replacen("trusted_hash = \"sha256:", "trusted_hash = \"sha256:00", 1);
    std::fs::write(codex_home.join("config.toml"), stale).unwrap();
    // A crashed worker's lease.
    let db = Connection::open(home.join("csep.db")).unwrap();
    db.execute(
        "INSERT INTO stop_events (host, payload, received_at, status, attempts, lease_owner, \
         lease_expires_at) VALUES ('codex', '{}', '2020-01-01T00:00:00.000Z', 'processing', 1, \
         'worker-1', '2020-01-01T00:10:00.000Z')",
        [],
    )
    .unwrap();
    // A skill directory in csep's namespace that the manifest does not know.
    std::fs::create_dir_all(codex_home.join("skills/csep-orphan")).unwrap();
    // A worker stuck for two hours: this test holds the lock.
    let lock_path = home.join("worker.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(&lock_path, "worker-999999 2020-01-01T00:00:00.000Z\n").unwrap();
    lock.set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();

    let (code, report) = doctor(&t, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["healthy"], false);
    let permissions = check(&report, "permissions");
    assert_eq!(permissions["status"], "fail");
    assert!(
        permissions["fix"].as_str().unwrap().contains("chmod 700"),
        "{permissions}"
    );
    assert_eq!(check(&report, "codex_trust")["status"], "fail");
    assert_eq!(check(&report, "codex_trust")["fix"], "csep install codex");
    assert_eq!(check(&report, "leases")["status"], "fail");
    assert_eq!(check(&report, "orphaned_skills")["status"], "warn");
    let worker = check(&report, "worker");
    assert_eq!(worker["status"], "fail", "{worker}");
    assert!(
        worker["fix"]
            .as_str()
            .unwrap()
            .starts_with("kill 999999 && rm ")
    );
    // Without --fix nothing changed.
    assert_eq!(
        std::fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o755
    );

    let (code, report) = doctor(&t, &["--fix"]);
    assert_eq!(
        code, 1,
        "the orphaned skill is left for `csep skills gc`: {report}"
    );
    assert!(!report["fixes_applied"].as_array().unwrap().is_empty());
    for name in ["permissions", "codex_trust", "leases", "worker"] {
        assert_eq!(check(&report, name)["status"], "ok", "{name}: {report}");
    }
    assert_eq!(check(&report, "orphaned_skills")["status"], "warn");
    assert_eq!(
        std::fs::metadata(&home).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let state: String = db
        .query_row("SELECT status FROM stop_events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(state, "pending");
    assert!(!lock_path.exists());
    drop(lock);

    // Once the orphan is gone, the home is healthy again.
    std::fs::remove_dir(codex_home.join("skills/csep-orphan")).unwrap();
    let (code, report) = doctor(&t, &[]);
    assert_eq!(code, 0, "{report}");
}

#[test]
fn hooks_pointing_at_a_missing_binary_are_reinstalled_by_fix() {
    let t = TestHome::new();
    let codex_home = t.scratch().join("codex-home");
    healthy_home(&t, &codex_home);
    let manifest_path = t.home().join("install/codex.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    for command in manifest["commands"].as_object_mut().unwrap().values_mut() {
        *command = Value::String("/nonexistent/csep hook stop --host codex".into());
    }
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let (code, report) = doctor(&t, &[]);
    assert_eq!(code, 1);
    let binary = check(&report, "hook_binary");
    assert_eq!(binary["status"], "fail");
    assert!(
        binary["detail"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/csep")
    );
    let (code, report) = doctor(&t, &["--fix"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(check(&report, "hook_binary")["status"], "ok");
}
