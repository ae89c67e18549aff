use pretty_assertions::assert_eq;

use super::*;

fn ctx(home: &Path) -> HookCtx {
    HookCtx::for_tests(home)
}

fn event(session: &str) -> HookEvent {
    HookEvent {
        host: Host::Claude,
        kind: HookKind::Stop,
        session_id: Some(session.into()),
        cwd: None,
        transcript_path: Some(PathBuf::from("/tmp/tx.jsonl")),
        prompt: None,
        turn_id: Some(format!("{session}-t1")),
        source: None,
        stop_hook_active: false,
        last_assistant_message: Some("the token is sk-live-secret".into()),
        model: Some("opus".into()),
    }
}

fn events(store: &Store) -> Vec<(String, String, String)> {
    let mut stmt = store
        .conn()
        .prepare("SELECT session_id, turn_id, status FROM stop_events ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_stop_on_a_free_database_is_recorded_directly() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    let answer = run(&ctx, &event("s1")).unwrap();
    assert_eq!(answer.outcome, "recorded");
    assert!(spool_files(&ctx.paths).is_empty());
    let store = Store::open(&ctx.paths.db()).unwrap();
    assert_eq!(
        events(&store),
        [("s1".into(), "s1-t1".into(), "pending".into())]
    );
}

#[test]
fn a_stop_on_a_locked_database_is_spooled_then_moved_by_the_drain_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    drop(Store::open(&ctx.paths.db()).unwrap());
    let locker = rusqlite::Connection::open(ctx.paths.db()).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let answer = run(&ctx, &event("s1")).unwrap();
    assert_eq!(answer.outcome, "spooled", "{:?}", answer.detail);
    assert_eq!(answer.stdout, "{}");
    assert!(
        ctx.store_for_write().is_none(),
        "the run's record does not wait on the locked database again"
    );
    let files = spool_files(&ctx.paths);
    assert_eq!(files.len(), 1);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        !text.contains("sk-live"),
        "no message text in the spool: {text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "spool files are private");
    }

    locker.execute_batch("ROLLBACK").unwrap();
    let store = Store::open(&ctx.paths.db()).unwrap();
    assert_eq!(
        drain_spool(&ctx.paths, &store).unwrap(),
        SpoolDrain {
            moved: 1,
            ..SpoolDrain::default()
        }
    );
    assert!(spool_files(&ctx.paths).is_empty());
    assert_eq!(
        drain_spool(&ctx.paths, &store).unwrap(),
        SpoolDrain::default()
    );
    assert_eq!(
        events(&store),
        [("s1".into(), "s1-t1".into(), "pending".into())]
    );
}

#[test]
fn a_spool_file_already_in_the_database_is_not_inserted_twice() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path());
    let store = Store::open(&paths.db()).unwrap();
    let record = StopRecord::new(&event("s2"), None, time::now());
    spool(&paths, &record).unwrap();
    insert(&store, &record).unwrap();
    let drain = drain_spool(&paths, &store).unwrap();
    assert_eq!(drain.duplicates, 1);
    assert_eq!(drain.moved, 0);
    assert_eq!(events(&store).len(), 1);
    assert!(spool_files(&paths).is_empty());
}

#[test]
fn a_skipped_stop_keeps_its_reason_through_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path());
    let store = Store::open(&paths.db()).unwrap();
    let record = StopRecord::new(&event("s3"), Some("session spawned by csep"), time::now());
    spool(&paths, &record).unwrap();
    assert_eq!(drain_spool(&paths, &store).unwrap().moved, 1);
    let (status, error): (String, String) = store
        .conn()
        .query_row("SELECT status, error FROM stop_events", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(
        (status.as_str(), error.as_str()),
        ("skipped", "session spawned by csep")
    );
}

#[test]
fn an_unreadable_spool_file_is_set_aside_and_the_rest_still_drains() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path());
    let store = Store::open(&paths.db()).unwrap();
    std::fs::create_dir_all(paths.spool_dir()).unwrap();
    std::fs::write(
        paths.spool_dir().join("stop-0-torn.json"),
        b"{\"host\": \"cla",
    )
    .unwrap();
    spool(&paths, &StopRecord::new(&event("s4"), None, time::now())).unwrap();
    let drain = drain_spool(&paths, &store).unwrap();
    assert_eq!((drain.moved, drain.bad), (1, 1));
    assert!(paths.spool_dir().join("stop-0-torn.bad").exists());
    assert!(spool_files(&paths).is_empty());
}

/// A Stop that finds the database locked files its run in the hook journal, next to its
/// spooled event: once drained, `hook_runs` holds it (so `csep status` shows the Stop) and
/// `stop_events` the event, each once.
#[test]
fn a_busy_stop_s_run_waits_in_the_journal_and_reaches_hook_runs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = ctx(dir.path());
    drop(Store::open(&ctx.paths.db()).unwrap());
    let locker = rusqlite::Connection::open(ctx.paths.db()).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let payload = serde_json::json!({
        "hook_event_name": "Stop",
        "session_id": "s1",
        "transcript_path": "/tmp/tx.jsonl",
        "stop_hook_active": false,
    })
    .to_string();
    let started = std::time::Instant::now();
    let request = crate::hooks::HookRequest::Stop;
    let answer = crate::hooks::run(&ctx, request, Some(Host::Claude), payload.as_bytes());
    assert_eq!(answer.outcome, "spooled", "{answer:?}");
    crate::hooks::record_run(&ctx, request, Some(Host::Claude), &answer, started);
    assert_eq!(spool_files(&ctx.paths).len(), 1);
    assert_eq!(crate::hooks::journal::files(&ctx.paths).len(), 1);

    locker.execute_batch("ROLLBACK").unwrap();
    let store = Store::open(&ctx.paths.db()).unwrap();
    for _ in 0..2 {
        crate::hooks::journal::drain(&ctx.paths, &store).unwrap();
        drain_spool(&ctx.paths, &store).unwrap();
    }
    let runs: Vec<(String, String, String)> = store
        .conn()
        .prepare("SELECT host, event, outcome FROM hook_runs")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(runs, [("claude".into(), "Stop".into(), "spooled".into())]);
    let stored: i64 = store
        .conn()
        .query_row(
            "SELECT count(*) FROM stop_events WHERE session_id = 's1'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 1);
}
