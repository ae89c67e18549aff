use std::path::Path;

use pretty_assertions::assert_eq;
use rusqlite::params;

use super::*;
use crate::host::transcript::HookKind;

const PROMPT: &str = "why does the payment webhook fail";

fn ctx(home: &Path) -> HookCtx {
    HookCtx::for_tests(home)
}

/// A home whose database holds one user-scope entry that [`PROMPT`] recalls.
fn home_with_entry() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let ctx = ctx(home.path());
    let store = ctx.open_store().unwrap();
    let text = "Payment webhook secret rotates monthly";
    store
        .conn()
        .execute(
            "INSERT INTO memory_entries (id, scope, kind, summary, content, normalized, \
             created_at, updated_at) VALUES ('m_1', 'user', 'fact', ?1, ?1, ?1, 't', 't')",
            params![text],
        )
        .unwrap();
    let rowid = store.conn().last_insert_rowid();
    store
        .conn()
        .execute(
            "INSERT INTO memory_fts (rowid, terms) VALUES (?1, ?2)",
            params![rowid, crate::recall::analyze::terms_for_index(text)],
        )
        .unwrap();
    home
}

fn prompt(session: Option<&str>) -> HookEvent {
    HookEvent {
        host: Host::Claude,
        kind: HookKind::UserPromptSubmit,
        session_id: session.map(str::to_owned),
        cwd: None,
        transcript_path: None,
        prompt: Some(PROMPT.to_owned()),
        turn_id: None,
        source: None,
        stop_hook_active: false,
        last_assistant_message: None,
        model: None,
    }
}

fn use_count(ctx: &HookCtx) -> i64 {
    ctx.open_store()
        .unwrap()
        .conn()
        .query_row(
            "SELECT use_count FROM memory_entries WHERE id = 'm_1'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn an_entry_is_injected_and_counted_once_per_session() {
    let home = home_with_entry();
    let ctx = ctx(home.path());
    let first = run(&ctx, &prompt(Some("s-1"))).unwrap();
    assert_eq!(first.outcome, "injected", "{first:?}");
    assert!(first.stdout.contains("m_1"), "{}", first.stdout);
    let again = run(&ctx, &prompt(Some("s-1"))).unwrap();
    assert_eq!(again.outcome, "no_match");
    assert_eq!(use_count(&ctx), 1);
}

#[test]
fn the_log_says_why_nothing_was_injected() {
    let home = home_with_entry();
    // A budget too small for even the best hit: the hit was found, it did not fit.
    let mut tiny = ctx(home.path());
    tiny.config.hooks.user_prompt_budget_tokens = 5;
    let answer = run(&tiny, &prompt(Some("s-1"))).unwrap();
    assert_eq!((answer.outcome, answer.detail), ("over_budget", None));
    let ctx = ctx(home.path());
    let mut trivial = prompt(Some("s-1"));
    trivial.prompt = Some("ok, go ahead".to_owned());
    assert_eq!(run(&ctx, &trivial).unwrap().outcome, "skipped");
    let mut unrelated = prompt(Some("s-1"));
    unrelated.prompt = Some("which fonts render the settings dialog".to_owned());
    assert_eq!(run(&ctx, &unrelated).unwrap().outcome, "no_match");
    // Nothing of the above counted as a use; the real budget then injects.
    assert_eq!(use_count(&ctx), 0);
    assert_eq!(run(&ctx, &prompt(Some("s-1"))).unwrap().outcome, "injected");
    // A search that fails says so, with its message.
    ctx.open_store()
        .unwrap()
        .conn()
        .execute_batch("DROP TABLE memory_fts")
        .unwrap();
    let failed = run(&ctx, &prompt(Some("s-2"))).unwrap();
    assert_eq!(failed.outcome, "error");
    assert!(
        failed
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("memory_fts")),
        "{failed:?}"
    );
}

/// Audit 08: with an unusable session id (`"a/b"` is dropped as unsafe when the payload is
/// parsed) every prompt re-injected the same hits and counted each as a use again.
#[test]
fn a_prompt_without_a_session_gets_nothing_and_counts_nothing() {
    let home = home_with_entry();
    let ctx = ctx(home.path());
    for _ in 0..3 {
        let answer = run(&ctx, &prompt(None)).unwrap();
        assert_eq!(answer.outcome, "no_session");
        assert_eq!(
            answer.stdout,
            empty_output(Host::Claude, &HookKind::UserPromptSubmit)
        );
    }
    assert_eq!(use_count(&ctx), 0);
}

/// Audit 05: with the database locked by another writer, a prompt's three writes (journal
/// drain, injection, `hook_runs`) each waited the whole busy timeout and none was recorded.
/// Now only the first write waits; the injection and the run wait in the hook journal, the
/// next prompt of the session does not repeat the injection, and a drain files both.
#[test]
fn a_locked_database_costs_one_busy_wait_and_the_injection_waits_in_the_journal() {
    let home = home_with_entry();
    let first = ctx(home.path());
    // A SessionStart note waits in the journal, as after every session start.
    let start = journal::StartNote {
        event: journal::NoteEvent::SessionStart,
        host: Some(Host::Claude),
        session_id: Some("s-0".into()),
        cwd: None,
        injected: Vec::new(),
        outcome: "empty".into(),
        detail: None,
        duration_us: 1,
        at: "2026-11-27T02:00:00.000Z".into(),
    };
    journal::write(&first.paths, &start).unwrap();
    let locker = rusqlite::Connection::open(first.paths.db()).unwrap();
    locker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let payload = serde_json::json!({
        "hook_event_name": "UserPromptSubmit",
        "session_id": "s-1",
        "prompt": PROMPT,
    })
    .to_string();
    let started = std::time::Instant::now();
    let request = crate::hooks::HookRequest::UserPromptSubmit;
    let answer = crate::hooks::run(&first, request, Some(Host::Claude), payload.as_bytes());
    assert_eq!(answer.outcome, "injected", "{answer:?}");
    assert_eq!(answer.injected, ["m_1"], "not recorded yet");
    crate::hooks::record_run(&first, request, Some(Host::Claude), &answer, started);
    assert_eq!(first.writes.busy_count(), 1, "only the first write waited");

    let next = ctx(home.path());
    let again = crate::hooks::run(&next, request, Some(Host::Claude), payload.as_bytes());
    assert_eq!(
        again.outcome, "no_match",
        "the journal says m_1 is in the session"
    );

    locker.execute_batch("ROLLBACK").unwrap();
    let store = next.open_store().unwrap();
    journal::drain(&next.paths, store).unwrap();
    let count = |sql: &str| -> i64 { store.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(
        count(
            "SELECT count(*) FROM hook_injections WHERE session_id = 's-1' \
             AND event = 'UserPromptSubmit' AND entry_id = 'm_1'"
        ),
        1
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM hook_runs WHERE event = 'UserPromptSubmit' AND outcome = 'injected'"
        ),
        1
    );
    assert_eq!(use_count(&next), 1);
}
