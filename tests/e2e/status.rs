//! `csep status` on fresh, healthy and broken homes.

use predicates::prelude::*;
use rusqlite::Connection;

use crate::support::{TestHome, stdout_json};

#[test]
fn status_on_a_fresh_home_reports_nothing_yet_and_creates_no_database() {
    let t = TestHome::new();
    let out = t.csep(&["status", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["database"]["state"], "missing");
    assert_eq!(v["config"]["exists"], false);
    assert_eq!(v["config"]["active_profile"], "offline");
    assert_eq!(v["projects"].as_array().unwrap().len(), 0);
    assert!(v["hooks"]["codex"].is_object() && v["hooks"]["claude"].is_object());
    assert!(
        !t.home().join("csep.db").exists(),
        "status must be read-only"
    );
}

#[test]
fn status_text_names_the_home_and_database() {
    let t = TestHome::new();
    t.csep(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(t.home().display().to_string()))
        .stdout(predicate::str::contains("csep.db"))
        .stdout(predicate::str::contains("projects  none yet"));
}

#[test]
fn status_counts_projects_and_receipts_from_the_database() {
    let t = TestHome::new();
    let repo = t.scratch().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    // Create and migrate the database through the library, then add rows as later stages would.
    let store = csep::store::db::Store::open(&t.home().join("csep.db")).unwrap();
    let identity = csep::store::identity::RepoIdentity::resolve(&repo).unwrap();
    let project = csep::store::project::upsert(&store, &identity, "2026-11-25T00:00:00Z").unwrap();
    store
        .conn()
        .execute(
            "INSERT INTO receipts (kind, project_id, status, reason, started_at, finished_at, \
             duration_ms) VALUES ('review', ?1, 'skipped_budget', 'daily cap reached', 't', \
             '2026-11-25T00:00:01Z', 12)",
            [&project.id],
        )
        .unwrap();
    drop(store);
    let out = t.csep(&["status", "--json"]).output().unwrap();
    let v = stdout_json(&out);
    assert_eq!(v["database"]["state"], "ok");
    assert_eq!(v["projects"][0]["id"], project.id.as_str());
    assert_eq!(v["projects"][0]["name"], "repo");
    assert_eq!(v["recent_receipts"][0]["status"], "skipped_budget");
    assert_eq!(v["recent_receipts"][0]["reason"], "daily cap reached");
}

#[test]
fn status_reports_a_corrupt_database_with_the_fix_and_still_exits_zero() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(t.home().join("csep.db"), vec![7u8; 4096]).unwrap();
    let out = t.csep(&["status", "--json"]).output().unwrap();
    assert!(out.status.success());
    let v = stdout_json(&out);
    assert_eq!(v["database"]["state"], "error");
    assert!(
        v["database"]["error"]
            .as_str()
            .unwrap()
            .contains("move it aside")
    );
}

#[test]
fn status_reports_a_newer_database_and_never_touches_it() {
    let t = TestHome::new();
    drop(csep::store::db::Store::open(&t.home().join("csep.db")).unwrap());
    Connection::open(t.home().join("csep.db"))
        .unwrap()
        .pragma_update(None, "user_version", 42)
        .unwrap();
    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(v["database"]["state"], "error");
    assert!(
        v["database"]["error"]
            .as_str()
            .unwrap()
            .contains("upgrade csep")
    );
    let version: i64 = Connection::open(t.home().join("csep.db"))
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 42);
}

#[test]
fn status_lists_provider_key_names_but_never_values() {
    let t = TestHome::new();
    let out = t
        .csep(&["status", "--json"])
        .env("OPENAI_API_KEY", "sk-test-value-that-must-not-print")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("sk-test-value"), "{text}");
    let v = stdout_json(&out);
    assert!(
        v["provider_keys"]["present"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == "OPENAI_API_KEY")
    );
}

#[test]
fn a_provider_profile_without_its_key_is_reported_unavailable_by_variable_name() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("config.toml"),
        "schema_version = 3\nactive_profile = \"ds\"\n[profiles.ds]\nprovider = \"openai-compatible\"\napi_key_env = \"DEEPSEEK_API_KEY\"\n",
    )
    .unwrap();
    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    let reviewer = &v["provider_keys"]["reviewer"];
    assert_eq!(reviewer["available"], false, "{v}");
    assert!(
        reviewer["reason"]
            .as_str()
            .unwrap()
            .contains("DEEPSEEK_API_KEY"),
        "{reviewer}"
    );
    let with_key = t
        .csep(&["status", "--json"])
        .env("DEEPSEEK_API_KEY", "sk-test-0123456789abcdef")
        .output()
        .unwrap();
    assert_eq!(
        stdout_json(&with_key)["provider_keys"]["reviewer"]["available"],
        true
    );
}

#[test]
fn status_shows_which_scopes_a_session_start_reads_from_the_start_index() {
    let t = TestHome::new();
    let (store, project, _) = t.registered_project("repo");
    let status = || stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    let status_text_has = |line: &str| {
        t.csep(&["status"])
            .assert()
            .success()
            .stdout(predicate::str::contains(line));
    };
    // No file built yet: every session start reads the database.
    let v = status();
    assert_eq!(v["start_index"]["user_current"], false, "{v}");
    assert_eq!(v["start_index"]["projects_current"], 0);
    assert_eq!(v["start_index"]["projects"], 1);
    // What the worker does after filing memory.
    let paths = csep::store::paths::Paths::at(t.home());
    csep::memory::start_index::refresh_now(store.conn(), &paths).unwrap();
    let v = status();
    assert_eq!(v["start_index"]["user_current"], true, "{v}");
    assert_eq!(v["start_index"]["projects_current"], 1);
    status_text_has("start     index of user memory current; 1 of 1 projects current\n");
    // A memory change in the project removes its file until the next worker.
    store
        .conn()
        .execute(
            "INSERT INTO memory_entries (id, scope, project_id, kind, summary, content, \
             normalized, created_at, updated_at) VALUES ('m_1', 'project', ?1, 'fact', 'x', \
             'x', 'x', 't', 't')",
            [&project.id],
        )
        .unwrap();
    let v = status();
    assert_eq!(v["start_index"]["user_current"], true, "{v}");
    assert_eq!(v["start_index"]["projects_current"], 0);
    status_text_has(
        "0 of 1 projects current; session starts read the rest from the database until the next \
         worker run\n",
    );
}

/// The archive's totals count no injected message, and sessions without a project (their cwd
/// is gone) are counted and pointed at rather than invisible.
#[test]
fn status_counts_the_archive_without_injected_messages_and_with_projectless_sessions() {
    let t = TestHome::new();
    let codex = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/codex");
    let import = t
        .csep(&["--json", "import", "codex-sessions", "--dir", codex])
        .output()
        .unwrap();
    let report = stdout_json(&import);
    let searchable = report["messages_inserted"].as_u64().unwrap()
        - report["injected_inserted"].as_u64().unwrap();
    assert!(
        report["injected_inserted"].as_u64().unwrap() > 0,
        "{report}"
    );
    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(v["archive"]["sessions"], 2, "{v}");
    assert_eq!(v["archive"]["messages"], searchable, "{v}");
    // The fixtures' working directories do not exist here.
    assert_eq!(v["archive"]["sessions_without_project"], 2, "{v}");
    t.csep(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "archive   2 sessions, {searchable} messages (2 sessions without a project: recall \
         them with --all-projects)\n"
        )));
}

/// A transcript with nothing recall can find (a header or a marker only, or injected context
/// only) makes no session in the counts: the import's summary and `csep status` agree, and
/// status names such transcripts apart.
#[test]
fn transcripts_with_nothing_to_recall_are_not_counted_as_sessions() {
    let t = TestHome::new();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/codex");
    let dir = t.scratch().join("sessions");
    std::fs::create_dir_all(&dir).unwrap();
    let rollout =
        std::fs::read_to_string(format!("{fixtures}/rollout-auto-compaction.jsonl")).unwrap();
    std::fs::write(dir.join("rollout-auto-compaction.jsonl"), &rollout).unwrap();
    // A rollout whose session never got past its first line; one holding only a marker.
    let header = rollout
        .lines()
        .next()
        .unwrap()
        .replace("01a214be", "0badcafe");
    std::fs::write(
        dir.join("rollout-2026-01-01T00-00-00-0badcafe-0000-0000-0000-000000000001.jsonl"),
        format!("{header}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("rollout-2026-01-01T00-00-00-0badcafe-0000-0000-0000-000000000002.jsonl"),
        "{\"record_type\":\"state\"}\n",
    )
    .unwrap();
    let root = dir.to_string_lossy().into_owned();
    let report = stdout_json(
        &t.csep(&["--json", "import", "codex-sessions", "--dir", &root])
            .output()
            .unwrap(),
    );
    assert_eq!(report["files"], 3, "{report}");
    assert_eq!(report["sessions"], 1, "{report}");
    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert_eq!(v["archive"]["sessions"], report["sessions"], "{v}");
    assert_eq!(v["archive"]["empty_sessions"], 2, "{v}");
    assert_eq!(v["archive"]["sessions_without_project"], 1, "{v}");
    t.csep(&["status"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "; 2 transcripts with nothing to recall yet\n",
        ));
}

/// A worker that fails before it can write a receipt (here: a database it cannot open) leaves
/// the reason for `csep status`; the next run that gets through clears it.
#[test]
fn a_worker_that_failed_before_any_receipt_is_reported_by_status() {
    let t = TestHome::new();
    std::fs::create_dir_all(t.home()).unwrap();
    std::fs::write(
        t.home().join("csep.db"),
        b"this is not a database, not even close",
    )
    .unwrap();
    t.csep(&["worker"]).assert().code(1);
    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    let error = v["worker"]["last_failure"]["error"]
        .as_str()
        .unwrap_or_default();
    assert!(error.contains("not a database"), "{v}");
    let out = t.csep(&["status"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("worker    idle; never ran; the last run failed at ")
            && text.contains("not a database"),
        "{text}"
    );
    std::fs::remove_file(t.home().join("csep.db")).unwrap();
    t.csep(&["worker"]).assert().success();
    let v = stdout_json(&t.csep(&["status", "--json"]).output().unwrap());
    assert!(v["worker"]["last_failure"].is_null(), "{v}");
}
