use pretty_assertions::assert_eq;

use super::*;
use crate::store::db::OpenOptions;

struct Scene {
    _dir: tempfile::TempDir,
    paths: Paths,
    work: PathBuf,
    store: Store,
}

fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path().join("home"));
    paths.ensure_home().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let store = Store::open(&paths.db()).unwrap();
    store
        .conn()
        .execute_batch(
            "INSERT INTO memory_entries (id, scope, kind, summary, content, normalized, \
             created_at, updated_at) VALUES \
             ('m_1', 'user', 'rule', 'one', '', 'one', 't', 't'), \
             ('m_2', 'user', 'rule', 'two', '', 'two', 't', 't');",
        )
        .unwrap();
    Scene {
        _dir: dir,
        paths,
        work,
        store,
    }
}

fn note(work: &Path, session: &str, at: &str) -> StartNote {
    StartNote {
        event: NoteEvent::SessionStart,
        host: Some(Host::Codex),
        session_id: Some(session.into()),
        cwd: Some(work.to_path_buf()),
        injected: vec!["m_1".into(), "m_2".into()],
        outcome: "injected".into(),
        detail: Some("2 entries, 0 omitted, ~40 tokens".into()),
        duration_us: 1234,
        at: at.into(),
    }
}

fn notes(paths: &Paths) -> Vec<StartNote> {
    read(paths).into_iter().filter_map(|e| e.note).collect()
}

fn count(store: &Store, sql: &str) -> i64 {
    store.conn().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_note_is_one_private_whole_file_that_reads_back_equal() {
    let s = scene();
    let written = note(&s.work, "s-1", "2026-11-26T10:00:00.000Z");
    let path = write(&s.paths, &written).unwrap();
    assert_eq!(files(&s.paths), std::slice::from_ref(&path));
    assert!(
        path.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("start-20261126100000000-")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // No temporary file is left next to it.
    assert_eq!(std::fs::read_dir(s.paths.spool_dir()).unwrap().count(), 1);
    assert_eq!(notes(&s.paths), [written]);
}

#[test]
fn writing_creates_the_spool_directory() {
    let s = scene();
    assert!(!s.paths.spool_dir().exists());
    write(&s.paths, &note(&s.work, "s-1", "2026-11-26T10:00:00.000Z")).unwrap();
    assert_eq!(files(&s.paths).len(), 1);
}

#[test]
fn draining_files_the_project_the_injections_and_the_run_then_deletes_the_note() {
    let s = scene();
    write(&s.paths, &note(&s.work, "s-1", "2026-11-26T10:00:00.000Z")).unwrap();
    write(&s.paths, &note(&s.work, "s-2", "2026-11-26T11:00:00.000Z")).unwrap();
    let drained = drain(&s.paths, &s.store).unwrap();
    assert_eq!(drained, Drained { moved: 2, bad: 0 });
    assert!(files(&s.paths).is_empty());
    assert_eq!(count(&s.store, "SELECT count(*) FROM hook_injections"), 4);
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM hook_runs WHERE event = 'SessionStart' AND outcome = 'injected' \
             AND duration_us = 1234"
        ),
        2
    );
    let identity = RepoIdentity::resolve(&s.work).unwrap();
    let seen: String = s
        .store
        .conn()
        .query_row(
            "SELECT last_seen_at FROM projects WHERE id = ?1",
            [identity.project_id()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seen, "2026-11-26T11:00:00.000Z");
    let injected: String = s
        .store
        .conn()
        .query_row(
            "SELECT last_injected_at FROM memory_entries WHERE id = 'm_2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(injected, "2026-11-26T11:00:00.000Z");
}

#[test]
fn an_older_note_never_moves_timestamps_back() {
    let s = scene();
    write(&s.paths, &note(&s.work, "s-2", "2026-11-26T11:00:00.000Z")).unwrap();
    drain(&s.paths, &s.store).unwrap();
    // A note from earlier, drained late (its hook's spool write raced the drain).
    write(&s.paths, &note(&s.work, "s-1", "2026-11-26T09:00:00.000Z")).unwrap();
    drain(&s.paths, &s.store).unwrap();
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM memory_entries WHERE last_injected_at = '2026-11-26T11:00:00.000Z'"
        ),
        2
    );
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM projects WHERE last_seen_at = '2026-11-26T11:00:00.000Z'"
        ),
        1
    );
}

#[test]
fn a_drain_repeated_after_its_commit_adds_nothing() {
    let s = scene();
    let path = write(&s.paths, &note(&s.work, "s-1", "2026-11-26T10:00:00.000Z")).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    drain(&s.paths, &s.store).unwrap();
    // The process died between the commit and the deletion: the same file is drained again.
    std::fs::write(&path, bytes).unwrap();
    assert_eq!(drain(&s.paths, &s.store).unwrap().moved, 1);
    assert_eq!(count(&s.store, "SELECT count(*) FROM hook_injections"), 2);
    assert_eq!(count(&s.store, "SELECT count(*) FROM hook_runs"), 1);
    assert_eq!(count(&s.store, "SELECT count(*) FROM projects"), 1);
}

#[test]
fn a_note_without_host_or_session_records_only_its_run() {
    let s = scene();
    let bad_payload = StartNote {
        event: NoteEvent::SessionStart,
        host: None,
        session_id: None,
        cwd: None,
        injected: Vec::new(),
        outcome: "bad_payload".into(),
        detail: Some("hook payload is not valid JSON".into()),
        duration_us: 10,
        at: "2026-11-26T10:00:00.000Z".into(),
    };
    write(&s.paths, &bad_payload).unwrap();
    drain(&s.paths, &s.store).unwrap();
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM hook_runs WHERE host = 'unknown' AND outcome = 'bad_payload'"
        ),
        1
    );
    assert_eq!(count(&s.store, "SELECT count(*) FROM hook_injections"), 0);
    assert_eq!(count(&s.store, "SELECT count(*) FROM projects"), 0);
}

#[test]
fn an_unreadable_note_is_set_aside_and_the_others_still_drain() {
    let s = scene();
    write(&s.paths, &note(&s.work, "s-1", "2026-11-26T10:00:00.000Z")).unwrap();
    let junk = s
        .paths
        .spool_dir()
        .join("start-20261126090000000-1-000000001.json");
    std::fs::write(&junk, b"{ not json").unwrap();
    let drained = drain(&s.paths, &s.store).unwrap();
    assert_eq!(drained, Drained { moved: 1, bad: 1 });
    assert!(junk.with_extension("bad").exists());
    assert!(files(&s.paths).is_empty());
}

#[test]
fn a_note_the_database_refuses_is_set_aside_and_the_others_still_drain() {
    let s = scene();
    // A constraint that refuses one session's run, as a corrupt or future note might be.
    s.store
        .conn()
        .execute_batch(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON hook_runs \
             WHEN NEW.session_id = 's-poison' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    write(&s.paths, &note(&s.work, "s-1", "2026-11-26T10:00:00.000Z")).unwrap();
    write(
        &s.paths,
        &note(&s.work, "s-poison", "2026-11-26T10:00:01.000Z"),
    )
    .unwrap();
    write(&s.paths, &note(&s.work, "s-3", "2026-11-26T10:00:02.000Z")).unwrap();
    let drained = drain(&s.paths, &s.store).unwrap();
    assert_eq!(drained, Drained { moved: 2, bad: 1 });
    assert!(files(&s.paths).is_empty());
    // The refused note left nothing behind, not even its injections.
    assert_eq!(
        count(
            &s.store,
            "SELECT count(*) FROM hook_injections WHERE session_id = 's-poison'"
        ),
        0
    );
    assert_eq!(
        count(&s.store, "SELECT count(DISTINCT session_id) FROM hook_runs"),
        2
    );
    let set_aside: Vec<_> = std::fs::read_dir(s.paths.spool_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bad"))
        .collect();
    assert_eq!(set_aside.len(), 1);
}

#[test]
fn a_locked_database_keeps_every_note_for_the_next_drain() {
    let s = scene();
    write(&s.paths, &note(&s.work, "s-1", "2026-11-26T10:00:00.000Z")).unwrap();
    let locker = rusqlite::Connection::open(s.paths.db()).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let waiting = Store::open_with(
        &s.paths.db(),
        OpenOptions {
            busy_timeout: std::time::Duration::from_millis(20),
            read_only: false,
        },
    );
    // Opening may itself fail on the lock; either way the drain must not lose the note.
    if let Ok(store) = waiting {
        assert!(drain(&s.paths, &store).is_err());
    }
    assert_eq!(files(&s.paths).len(), 1);
    let ids = |host, session| -> Vec<String> {
        injections_into(&read(&s.paths), host, session)
            .into_iter()
            .map(|i| i.entry_id)
            .collect()
    };
    assert_eq!(ids(Host::Codex, "s-1"), ["m_1", "m_2"]);
    assert!(ids(Host::Claude, "s-1").is_empty());
    assert!(ids(Host::Codex, "s-2").is_empty());
    // Each injection carries its note's time.
    assert!(
        injections_into(&read(&s.paths), Host::Codex, "s-1")
            .iter()
            .all(|i| i.at == "2026-11-26T10:00:00.000Z")
    );
    locker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(drain(&s.paths, &s.store).unwrap().moved, 1);
}

#[test]
fn journal_notes_and_spooled_stop_events_share_the_directory_without_mixing() {
    let s = scene();
    write(&s.paths, &note(&s.work, "s-1", "2026-11-26T10:00:00.000Z")).unwrap();
    let stop = s
        .paths
        .spool_dir()
        .join("stop-20261126100000000-1-000000001.json");
    std::fs::write(&stop, b"{}").unwrap();
    assert_eq!(files(&s.paths).len(), 1);
    assert_eq!(crate::hooks::stop::spool_files(&s.paths), [stop]);
}

#[test]
fn a_capped_drain_moves_the_oldest_notes_and_leaves_the_rest() {
    let s = scene();
    for hour in 10..13 {
        let at = format!("2026-11-26T{hour}:00:00.000Z");
        write(&s.paths, &note(&s.work, &format!("s-{hour}"), &at)).unwrap();
    }
    let mut oldest = read(&s.paths);
    oldest.truncate(2);
    assert_eq!(drain_entries(&s.store, oldest).unwrap().moved, 2);
    let left = notes(&s.paths);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].session_id.as_deref(), Some("s-12"));
    assert_eq!(
        count(
            &s.store,
            "SELECT count(DISTINCT session_id) FROM hook_injections"
        ),
        2
    );
}

#[test]
fn a_drain_removes_only_stale_temporary_notes() {
    let s = scene();
    std::fs::create_dir_all(s.paths.spool_dir()).unwrap();
    let stale = s.paths.spool_dir().join(".start-1-1-000000001.tmp");
    let fresh = s.paths.spool_dir().join(".start-2-1-000000002.tmp");
    std::fs::write(&stale, b"{").unwrap();
    std::fs::write(&fresh, b"{").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    drain(&s.paths, &s.store).unwrap();
    assert!(!stale.exists());
    assert!(
        fresh.exists(),
        "a note being written right now is left alone"
    );
}

#[test]
fn a_session_start_that_did_not_look_at_its_project_records_no_project() {
    let s = scene();
    let payload = serde_json::json!({"hook_event_name": "SessionStart", "session_id": "c",
        "cwd": s.work, "source": "startup"})
    .to_string();
    for is_child_session in [true, false] {
        let ctx = crate::hooks::HookCtx {
            is_child_session,
            ..crate::hooks::HookCtx::for_tests(&s.paths.home)
        };
        let started = std::time::Instant::now();
        let request = crate::hooks::HookRequest::SessionStart;
        let answer = crate::hooks::run(&ctx, request, Some(Host::Claude), payload.as_bytes());
        crate::hooks::record_run(&ctx, request, None, &answer, started);
    }
    let notes = notes(&s.paths);
    let outcomes: Vec<(&str, bool)> = notes
        .iter()
        .map(|n| (n.outcome.as_str(), n.cwd.is_some()))
        .collect();
    // A session csep spawned itself is answered without looking at anything: no project.
    assert_eq!(outcomes, [("child_session", false), ("injected", true)]);
}

/// Audit 07: every prompt read the whole journal (5,000 waiting notes cost 0.1–0.18 s). A
/// prompt now opens a bounded number of notes and still finds its own session's, wherever it
/// sits in the backlog, and those of notes named before names carried a session tag.
#[test]
fn a_prompt_reads_a_bounded_part_of_a_backlog_and_still_finds_its_session() {
    let s = scene();
    for i in 0..300 {
        let session = if i == 150 {
            "mine".to_owned()
        } else {
            format!("other-{i}")
        };
        let mut n = note(&s.work, &session, &format!("2026-11-27T02:00:00.{i:06}Z"));
        if i == 150 {
            n.injected = vec!["m_1".into()];
        }
        write(&s.paths, &n).unwrap();
    }
    let mut legacy = note(&s.work, "mine", "2026-11-27T02:00:01.000000Z");
    legacy.injected = vec!["m_2".into()];
    std::fs::write(
        s.paths
            .spool_dir()
            .join("start-20261127020001000000-1-000000000.json"),
        serde_json::to_vec(&legacy).unwrap(),
    )
    .unwrap();
    let read = read_for_prompt(&s.paths, Host::Codex, "mine");
    assert!(
        read.opened <= MAX_NOTES_PER_PROMPT + MAX_SESSION_NOTES_PER_PROMPT,
        "{} notes opened",
        read.opened
    );
    assert_eq!(read.to_drain.len(), MAX_NOTES_PER_PROMPT);
    let mut injected: Vec<String> = read.injected.into_iter().map(|i| i.entry_id).collect();
    injected.sort();
    assert_eq!(injected, ["m_1", "m_2"]);
    assert!(
        read_for_prompt(&s.paths, Host::Claude, "mine")
            .injected
            .is_empty()
    );
}
