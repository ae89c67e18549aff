//! Compile runs end to end on real (temporary) homes: draining, receipts, projections, hand
//! edits, bad envelopes, unavailable backends, crashed claims and concurrent compiles.

use rusqlite::params;

use super::*;
use crate::memory::entry::Status;
use crate::memory::store::{self, ListFilter};
use crate::memory::{Kind, Scope};
use crate::queue::{NewEnvelope, State};
use crate::review::ops::{Operation, ReviewOutput};
use crate::store::identity::{IdentityKind, RepoIdentity};

const T0: &str = "2026-05-07T10:00:00.000Z";

fn at(minutes: i64) -> String {
    let t0: jiff::Timestamp = T0.parse().unwrap();
    crate::store::time::format_ts(t0 + jiff::SignedDuration::from_mins(minutes))
}

struct Home {
    _dir: tempfile::TempDir,
    paths: Paths,
    store: Store,
    project: String,
}

fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path().join("home"));
    paths.ensure_home().unwrap();
    let store = Store::open(&paths.db()).unwrap();
    let identity = RepoIdentity {
        canonical_path: "/work/app".into(),
        kind: IdentityKind::NotGit,
        work_dir: "/work/app".into(),
        warning: None,
    };
    let project = project::upsert(&store, &identity, T0).unwrap().id;
    Home {
        _dir: dir,
        paths,
        store,
        project,
    }
}

fn add(summary: &str) -> Operation {
    Operation::Add {
        scope: Scope::Project,
        kind: Kind::Rule,
        summary: summary.into(),
        content: String::new(),
        evidence: vec![],
        confidence: Some(0.9),
    }
}

fn enqueue(h: &Home, session: &str, ops: Vec<Operation>) -> i64 {
    queue::enqueue(
        &h.store,
        &NewEnvelope {
            project_id: Some(h.project.clone()),
            host: Some("codex".into()),
            session_id: Some(session.into()),
            turn_id: Some("t".into()),
            provider: "offline".into(),
            payload: ReviewOutput { operations: ops },
            now: T0.into(),
        },
    )
    .unwrap()
    .id()
}

fn options(now: &str) -> CompileOptions {
    CompileOptions::new(now)
}

fn active(h: &Home) -> Vec<String> {
    store::list_entries(
        h.store.conn(),
        &ListFilter {
            scope: None,
            project_id: Some(&h.project),
            statuses: None,
        },
    )
    .unwrap()
    .into_iter()
    .map(|e| e.summary)
    .collect()
}

#[test]
fn a_run_applies_each_envelope_completes_it_writes_projections_and_a_receipt() {
    let mut h = home();
    let a = enqueue(
        &h,
        "s1",
        vec![add("Errors use thiserror"), add("MR !14 merged")],
    );
    let b = enqueue(&h, "s2", vec![add("API lives in services/api")]);
    let config = Config::default();
    let report = run(
        &mut h.store,
        &h.paths,
        &config,
        &h.project.clone(),
        &options(T0),
    )
    .unwrap();
    assert_eq!(report.status, RunStatus::Ok);
    assert_eq!((report.claimed, report.processed), (2, 2));
    assert_eq!(
        report.operations,
        Tally {
            applied: 2,
            skipped: 0,
            discarded: 1
        }
    );
    for id in [a, b] {
        assert_eq!(
            queue::get(h.store.conn(), id).unwrap().unwrap().state,
            State::Done
        );
    }
    let memory = std::fs::read_to_string(h.paths.project_memory_md(&h.project)).unwrap();
    assert!(memory.contains("## Errors use thiserror"));
    assert!(!memory.contains("MR !14"));
    assert!(h.paths.user_md().exists());
    let receipt = receipt::get(h.store.conn(), report.receipt_id.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        (receipt.kind.as_str(), receipt.status.as_str()),
        ("compile", "ok")
    );
    let items = receipt.detail["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[1]["reason"], "transient_noise:pr_status");
    // Nothing left: the next run is skipped, and says so in its receipt.
    let next = run(
        &mut h.store,
        &h.paths,
        &config,
        &h.project.clone(),
        &options(&at(1)),
    )
    .unwrap();
    assert_eq!(next.status, RunStatus::Skipped);
    assert!(next.receipt_id.is_some());
}

#[test]
fn a_corrupt_payload_is_discarded_and_does_not_block_the_rest() {
    let mut h = home();
    h.store
        .conn()
        .execute(
            "INSERT INTO suggestions (project_id, provider, idempotency_key, payload, created_at, \
             updated_at) VALUES (?1, 'x', 'k-corrupt', '{\"operations\": [{\"op\": \"rewrite_all\"', ?2, ?2)",
            params![h.project, T0],
        )
        .unwrap();
    enqueue(&h, "s1", vec![add("Errors use thiserror")]);
    let report = run(
        &mut h.store,
        &h.paths,
        &Config::default(),
        &h.project.clone(),
        &options(T0),
    )
    .unwrap();
    assert_eq!(report.status, RunStatus::Ok);
    let states: Vec<&str> = report.envelopes.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(states, ["discarded", "done"]);
    assert!(
        report.envelopes[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("invalid payload")
    );
    assert_eq!(active(&h), ["Errors use thiserror"]);
}

#[test]
fn an_unavailable_backend_writes_a_degraded_receipt_and_leaves_the_queue_alone() {
    let mut h = home();
    let id = enqueue(&h, "s1", vec![add("Errors use thiserror")]);
    let mut o = options(T0);
    o.backend = "llm".parse().unwrap();
    let report = run(
        &mut h.store,
        &h.paths,
        &Config::default(),
        &h.project.clone(),
        &o,
    )
    .unwrap();
    assert_eq!(report.status, RunStatus::Degraded);
    assert!(
        report
            .reason
            .as_deref()
            .unwrap()
            .contains("needs a model to consolidate")
    );
    assert_eq!(
        queue::get(h.store.conn(), id).unwrap().unwrap().state,
        State::Pending
    );
    let r = receipt::get(h.store.conn(), report.receipt_id.unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(r.status, "degraded");
    assert!("agent:nope".parse::<Backend>().is_err());
}

#[test]
fn a_hand_edit_is_imported_before_the_queue_and_survives_the_render() {
    let mut h = home();
    let config = Config::default();
    enqueue(&h, "s1", vec![add("Errors use thiserror")]);
    run(
        &mut h.store,
        &h.paths,
        &config,
        &h.project.clone(),
        &options(T0),
    )
    .unwrap();
    let path = h.paths.project_memory_md(&h.project);
    let edited = std::fs::read_to_string(&path).unwrap().replace(
        "Errors use thiserror",
        "Errors use thiserror, never anyhow in libraries",
    );
    std::fs::write(&path, edited).unwrap();
    enqueue(&h, "s2", vec![add("API lives in services/api")]);
    let report = run(
        &mut h.store,
        &h.paths,
        &config,
        &h.project.clone(),
        &options(&at(1)),
    )
    .unwrap();
    assert_eq!(report.hand_edits.len(), 1);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("never anyhow in libraries"), "{text}");
    assert!(text.contains("API lives in services/api"));
}

#[test]
fn a_crashed_claim_is_reclaimed_after_its_lease_and_applied_once() {
    let mut h = home();
    let id = enqueue(&h, "s1", vec![add("Errors use thiserror")]);
    let project = h.project.clone();
    let claimed = queue::claim(&mut h.store, &project, 5, "killed-compile", T0, 60).unwrap();
    assert_eq!(claimed.len(), 1);
    let config = Config::default();
    let early = run(&mut h.store, &h.paths, &config, &project, &options(T0)).unwrap();
    assert_eq!(early.claimed, 0, "a live lease is not taken over");
    let later = run(&mut h.store, &h.paths, &config, &project, &options(&at(5))).unwrap();
    assert_eq!(later.processed, 1);
    let env = queue::get(h.store.conn(), id).unwrap().unwrap();
    assert_eq!((env.state, env.attempts), (State::Done, 2));
    assert_eq!(active(&h), ["Errors use thiserror"]);
}

#[test]
fn two_compiles_at_once_never_apply_an_envelope_twice() {
    let h = home();
    let mut ids = Vec::new();
    for i in 0..24 {
        ids.push(enqueue(
            &h,
            &format!("s{i}"),
            vec![add(&format!("Rule number {i} is unique"))],
        ));
    }
    let db = h.paths.db();
    let project = h.project.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            let paths = h.paths.clone();
            let project = project.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&db).unwrap();
                let mut config = Config::default();
                config.memory.project_budget_chars = 100_000;
                let mut o = options(T0);
                o.batch = 2;
                o.projections = false;
                let mut processed = 0;
                loop {
                    let r = run(&mut store, &paths, &config, &project, &o).unwrap();
                    processed += r.processed;
                    if r.claimed == 0 {
                        break processed;
                    }
                }
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, 24);
    let adds: i64 = h
        .store
        .conn()
        .query_row(
            "SELECT count(*) FROM memory_history WHERE op = 'add'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(adds, 24, "each envelope applied exactly once");
    let per_suggestion: i64 = h
        .store
        .conn()
        .query_row(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM memory_history GROUP BY suggestion_id)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(per_suggestion, 1);
}

#[test]
fn budgets_archive_entries_at_the_end_of_a_run() {
    let mut h = home();
    let mut config = Config::default();
    config.memory.project_budget_chars = 60;
    enqueue(
        &h,
        "s1",
        vec![
            add("Errors use thiserror in every library module"),
            add("The API server lives in services/api behind the gateway"),
        ],
    );
    let report = run(
        &mut h.store,
        &h.paths,
        &config,
        &h.project.clone(),
        &options(T0),
    )
    .unwrap();
    let project_budget = report
        .budgets
        .iter()
        .find(|b| b.scope == Scope::Project)
        .unwrap();
    assert!(project_budget.used_after <= 60);
    assert_eq!(project_budget.evictions.len(), 1);
    let archived = store::list_entries(
        h.store.conn(),
        &ListFilter {
            scope: Some(Scope::Project),
            project_id: Some(&h.project),
            statuses: Some(&[Status::Archived]),
        },
    )
    .unwrap();
    assert_eq!(archived.len(), 1);
}

#[test]
fn preflight_and_scan_find_projects_with_work_and_drain_them_within_the_run_limit() {
    let mut h = home();
    for i in 0..5 {
        enqueue(
            &h,
            &format!("s{i}"),
            vec![add(&format!("Distinct rule {i} about topic {i}"))],
        );
    }
    let project = h.project.clone();
    let p = preflight(&h.store, &project, T0).unwrap();
    assert_eq!((p.status, p.pending), ("run", 5));
    let mut config = Config::default();
    config.memory.project_budget_chars = 100_000;
    let mut o = options(T0);
    o.batch = 2;
    let limited = scan(&mut h.store, &h.paths, &config, &o, 2).unwrap();
    assert_eq!(limited.total_projects, 1);
    let entry = &limited.results[0];
    assert_eq!((entry.runs, entry.processed_count), (2, 4));
    assert!(entry.drain_limit_reached);
    let rest = scan(&mut h.store, &h.paths, &config, &o, 3).unwrap();
    assert_eq!(rest.results[0].processed_count, 1);
    assert!(!rest.results[0].drain_limit_reached);
    assert_eq!(
        preflight(&h.store, &project, T0).unwrap().status,
        "skip_empty"
    );
    assert_eq!(
        scan(&mut h.store, &h.paths, &config, &o, 3)
            .unwrap()
            .total_projects,
        0
    );
}

#[test]
fn migration_0003_keeps_entry_rowids_so_the_index_still_points_at_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for m in &crate::store::db::MIGRATIONS[..2] {
            conn.execute_batch(m.sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        conn.execute(
            "INSERT INTO memory_entries (rowid, id, scope, kind, summary, content, normalized, \
             created_at, updated_at) VALUES (41, 'm_old', 'user', 'fact', 'Old fact', '', \
             'old fact', 't', 't')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO memory_fts (rowid, terms) VALUES (41, 'old fact')",
            [],
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let (rid, id, status): (i64, String, String) = store
        .conn()
        .query_row(
            "SELECT m.rid, m.id, m.status FROM memory_fts f JOIN memory_entries m ON m.rid = f.rowid \
             WHERE memory_fts MATCH 'fact'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((rid, id.as_str(), status.as_str()), (41, "m_old", "active"));
    let e = store::get_entry(store.conn(), "m_old").unwrap().unwrap();
    assert_eq!(e.status, Status::Active);
}
