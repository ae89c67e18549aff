//! Every operation and rule of deterministic application, on an in-memory store.

use super::*;
use crate::memory::history;
use crate::store::db::Store;
use crate::store::identity::{IdentityKind, RepoIdentity};
use crate::store::project;

const NOW: &str = "2026-05-07T10:00:00.000Z";

struct Fixture {
    store: Store,
    project: String,
    applier: Applier,
}

fn setup() -> Fixture {
    let store = Store::open_in_memory().unwrap();
    let identity = RepoIdentity {
        canonical_path: "/repo".into(),
        kind: IdentityKind::NotGit,
        work_dir: "/repo".into(),
        warning: None,
    };
    let project = project::upsert(&store, &identity, NOW).unwrap().id;
    Fixture {
        store,
        project,
        applier: Applier::new(0.7).unwrap(),
    }
}

impl Fixture {
    fn apply(&mut self, op: Operation) -> OpReport {
        self.apply_with(op, ApplyPolicy::REVIEW)
    }

    #[allow(
        clippy::needless_pass_by_value,
        reason = "tests build operations inline; taking them by value reads better"
    )]
    fn apply_with(&mut self, op: Operation, policy: ApplyPolicy) -> OpReport {
        let op = &op;
        let ctx = OpContext {
            project_id: Some(&self.project),
            now: NOW,
            source: "review",
            suggestion_id: None,
            session_id: Some("sess-1"),
        };
        self.applier
            .apply(self.store.conn(), op, &ctx, policy)
            .unwrap()
    }

    fn active(&self) -> Vec<MemoryEntry> {
        store::list_entries(
            self.store.conn(),
            &ListFilter {
                scope: None,
                project_id: Some(&self.project),
                statuses: None,
            },
        )
        .unwrap()
    }

    fn fts_hits(&self, term: &str) -> i64 {
        self.store
            .conn()
            .query_row(
                "SELECT count(*) FROM memory_fts WHERE memory_fts MATCH ?1",
                [term],
                |r| r.get(0),
            )
            .unwrap()
    }
}

fn add(summary: &str, content: &str) -> Operation {
    Operation::Add {
        scope: Scope::Project,
        kind: Kind::Rule,
        summary: summary.into(),
        content: content.into(),
        evidence: vec!["msg:1".into()],
        confidence: Some(0.8),
    }
}

fn entry_id(report: &OpReport) -> String {
    match &report.outcome {
        Outcome::Applied { entry_id, .. }
        | Outcome::Skipped {
            entry_id: Some(entry_id),
            ..
        } => entry_id.clone(),
        other => panic!("no entry id in {other:?}"),
    }
}

fn reason(report: &OpReport) -> &str {
    match &report.outcome {
        Outcome::Skipped { reason, .. } | Outcome::Discarded { reason, .. } => reason,
        Outcome::Applied { .. } => panic!("applied: {report:?}"),
    }
}

#[test]
fn add_creates_an_indexed_entry_with_provenance_and_history() {
    let mut f = setup();
    let r = f.apply(add("Use cargo nextest for tests", "It is faster."));
    assert!(matches!(
        r.outcome,
        Outcome::Applied {
            action: Action::Added,
            ..
        }
    ));
    let entries = f.active();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e.project_id.as_deref(), Some(f.project.as_str()));
    assert_eq!(e.provenance.sessions, ["sess-1"]);
    assert_eq!(e.provenance.origins, ["review"]);
    assert_eq!(f.fts_hits("nextest"), 1);
    let h = store::history(f.store.conn(), Some(&e.id), 10).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].op, "add");
    assert!(h[0].before.is_none());
    assert_eq!(h[0].after.as_ref(), Some(e));
}

#[test]
fn an_exact_duplicate_is_skipped_even_with_different_case_and_punctuation() {
    let mut f = setup();
    let first = f.apply(add("Use cargo nextest", "It is faster."));
    let again = f.apply(add("use cargo NEXTEST!", "it is faster"));
    assert_eq!(reason(&again), "exact_duplicate");
    assert_eq!(entry_id(&again), entry_id(&first));
    assert_eq!(f.active().len(), 1);
}

#[test]
fn a_near_duplicate_merges_into_the_existing_entry_keeping_the_longer_text() {
    let mut f = setup();
    let first = f.apply(add("Always run cargo fmt before committing changes", ""));
    let merged = f.apply(add(
        "Always run cargo fmt before committing any changes",
        "",
    ));
    match &merged.outcome {
        Outcome::Applied {
            action: Action::Merged,
            entry_id,
            similarity: Some(s),
        } => {
            assert_eq!(*entry_id, entry_id_of(&first));
            assert!(*s >= 0.7);
        }
        other => panic!("{other:?}"),
    }
    let entries = f.active();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].summary,
        "Always run cargo fmt before committing any changes"
    );
    let h = store::history(f.store.conn(), Some(&entries[0].id), 10).unwrap();
    assert_eq!(h[0].op, "merge");
    // The same text again changes nothing.
    let again = f.apply(add(
        "Always run cargo fmt before committing any changes",
        "",
    ));
    assert_eq!(reason(&again), "exact_duplicate");
}

fn entry_id_of(r: &OpReport) -> String {
    entry_id(r)
}

#[test]
fn chinese_near_duplicates_merge_through_character_shingles() {
    let mut f = setup();
    f.apply(add("提交代码前先运行格式化检查", ""));
    let r = f.apply(add("提交代码之前先运行格式化检查", ""));
    assert!(
        matches!(
            r.outcome,
            Outcome::Applied {
                action: Action::Merged,
                ..
            }
        ),
        "{r:?}"
    );
    assert_eq!(f.active().len(), 1);
}

#[test]
fn unrelated_entries_are_not_merged() {
    let mut f = setup();
    f.apply(add("Always run cargo fmt before committing", ""));
    let r = f.apply(add("The API server lives in services/api", ""));
    assert!(matches!(
        r.outcome,
        Outcome::Applied {
            action: Action::Added,
            ..
        }
    ));
    assert_eq!(f.active().len(), 2);
}

#[test]
fn transient_noise_is_discarded_with_its_category() {
    let mut f = setup();
    let r = f.apply(add("MR !14 merged", "round 2 pending"));
    assert_eq!(reason(&r), "transient_noise:pr_status");
    let r = f.apply(add("本轮 plan 已落地", ""));
    assert!(reason(&r).starts_with("transient_noise:"), "{r:?}");
    assert!(f.active().is_empty());
    // A person's explicit words are not filtered.
    let r = f.apply_with(add("Release train leaves today", ""), ApplyPolicy::HAND);
    assert!(r.is_applied());
}

#[test]
fn secrets_are_discarded_and_never_stored() {
    let mut f = setup();
    let key = "ghp_AbC123dEf456GhI789jKl012MnO345pQr678";
    let r = f.apply(add("GitHub token", &format!("use {key}")));
    assert!(reason(&r).starts_with("secret:"), "{r:?}");
    assert!(f.active().is_empty());
    let stored: i64 = f
        .store
        .conn()
        .query_row(
            "SELECT count(*) FROM memory_history WHERE after LIKE ?1",
            [format!("%{key}%")],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 0);
}

#[test]
fn replace_by_id_or_unique_summary_rewrites_the_entry_in_place() {
    let mut f = setup();
    let id = entry_id(&f.apply(add("Use cargo test", "")));
    let r = f.apply(Operation::Replace {
        id: id.clone(),
        summary: "Use cargo nextest".into(),
        content: "faster".into(),
        kind: Some(Kind::Command),
        evidence: vec![],
        confidence: Some(0.9),
    });
    assert_eq!(entry_id(&r), id);
    let e = store::get_entry(f.store.conn(), &id).unwrap().unwrap();
    assert_eq!(
        (e.summary.as_str(), e.kind),
        ("Use cargo nextest", Kind::Command)
    );
    assert_eq!(f.fts_hits("faster"), 1);
    // By summary (case and punctuation ignored, substring allowed when unique).
    let r = f.apply(Operation::Replace {
        id: "cargo NEXTEST".into(),
        summary: "Use cargo nextest run".into(),
        content: String::new(),
        kind: None,
        evidence: vec![],
        confidence: None,
    });
    assert_eq!(entry_id(&r), id);
    let e = store::get_entry(f.store.conn(), &id).unwrap().unwrap();
    assert_eq!(
        e.content, "faster",
        "an empty replacement keeps the old details"
    );
}

#[test]
fn ambiguous_or_missing_targets_are_skipped_never_guessed() {
    let mut f = setup();
    f.apply(add("Use cargo fmt on save", ""));
    f.apply(add("Use cargo clippy before pushing", ""));
    let r = f.apply(Operation::Remove {
        id: "Use cargo".into(),
        reason: "x".into(),
    });
    assert!(reason(&r).starts_with("ambiguous_target:"), "{r:?}");
    let r = f.apply(Operation::Replace {
        id: "m_doesnotexist".into(),
        summary: "s".into(),
        content: String::new(),
        kind: None,
        evidence: vec![],
        confidence: None,
    });
    assert!(reason(&r).starts_with("target_not_found:"));
    assert_eq!(f.active().len(), 2);
}

#[test]
fn remove_forgets_the_entry_keeps_it_in_history_and_drops_it_from_search() {
    let mut f = setup();
    let id = entry_id(&f.apply(add("Deploy with make ship", "")));
    assert_eq!(f.fts_hits("ship"), 1);
    let r = f.apply(Operation::Remove {
        id: id.clone(),
        reason: "obsolete".into(),
    });
    assert!(matches!(
        r.outcome,
        Outcome::Applied {
            action: Action::Removed,
            ..
        }
    ));
    let e = store::get_entry(f.store.conn(), &id).unwrap().unwrap();
    assert_eq!(e.status, Status::Forgotten);
    assert_eq!(e.status_reason.as_deref(), Some("obsolete"));
    assert_eq!(f.fts_hits("ship"), 0);
    // The reviewer proposing it again does not bring it back.
    let r = f.apply(add("Deploy with make ship", ""));
    assert_eq!(reason(&r), "forgotten_duplicate");
    // A replace of a forgotten entry is skipped.
    let r = f.apply(Operation::Remove {
        id,
        reason: "again".into(),
    });
    assert!(reason(&r).starts_with("target_not_active:"));
}

#[test]
fn pinned_entries_are_protected_from_reviewer_changes() {
    let mut f = setup();
    let id = entry_id(&f.apply(add("Answer in English", "")));
    let before = store::get_entry(f.store.conn(), &id).unwrap().unwrap();
    let mut after = before.clone();
    after.pinned = true;
    let ctx = OpContext {
        project_id: Some(&f.project),
        now: NOW,
        source: "cli",
        suggestion_id: None,
        session_id: None,
    };
    f.applier
        .rewrite(f.store.conn(), &before, &after, "pin", &ctx)
        .unwrap();
    let r = f.apply(Operation::Remove {
        id: id.clone(),
        reason: "x".into(),
    });
    assert_eq!(reason(&r), "pinned");
    let r = f.apply_with(
        Operation::Remove {
            id,
            reason: "the user asked".into(),
        },
        ApplyPolicy::HAND,
    );
    assert!(r.is_applied());
}

#[test]
fn recall_needs_a_reuse_signal_and_is_stored_once() {
    let mut f = setup();
    let recall = |summary: &str, content: &str, trigger: &str, paths: &[&str]| Operation::Recall {
        scope: Scope::Project,
        summary: summary.into(),
        content: content.into(),
        trigger: trigger.into(),
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        evidence: vec![],
    };
    let r = f.apply(recall("Process", "comments were addressed", "", &["a.go"]));
    assert_eq!(reason(&r), "missing_reuse_trigger");
    let r = f.apply(recall("Layering", "When touching X again, keep Y", "", &[]));
    assert_eq!(
        reason(&r),
        "missing_reuse_trigger",
        "paths are required with a marker"
    );
    let r = f.apply(recall(
        "Layering",
        "When touching X again, keep Y",
        "",
        &["x.go"],
    ));
    assert!(matches!(
        r.outcome,
        Outcome::Applied {
            action: Action::Recalled,
            ..
        }
    ));
    let r = f.apply(recall(
        "Webhook",
        "Retries are idempotent",
        "touching billing",
        &[],
    ));
    assert!(r.is_applied());
    let r = f.apply(recall(
        "Layering 2",
        "When touching X again, keep Y",
        "",
        &["x.go"],
    ));
    assert_eq!(reason(&r), "duplicate_recall");
    assert_eq!(
        store::list_recall(f.store.conn(), Some(&f.project))
            .unwrap()
            .len(),
        2
    );
    // Indexed with the recall analyzer, so the query goes through it too (`idempot`).
    let expr = crate::recall::analyze::match_expr("idempotent")
        .unwrap()
        .unwrap();
    let hits: i64 = f
        .store
        .conn()
        .query_row(
            "SELECT count(*) FROM recall_fts WHERE recall_fts MATCH ?1",
            [expr],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(hits, 1);
}

#[test]
fn skill_candidates_are_recorded_once_for_skill_synthesis() {
    let mut f = setup();
    let op = Operation::SkillCandidate {
        name: "Run the E2E suite".into(),
        description: "Use when changing the API".into(),
        steps: vec!["make e2e".into(), "read report".into()],
        evidence: vec![],
    };
    let r = f.apply(op.clone());
    assert_eq!(entry_id(&r), "csep-run-the-e2e-suite");
    assert_eq!(reason(&f.apply(op)), "skill_exists");
    let (state, body): (String, String) = f
        .store
        .conn()
        .query_row("SELECT state, body FROM skills", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(state, "candidate");
    assert_eq!(body, "1. make e2e\n2. read report\n");
}

#[test]
fn budget_eviction_archives_low_value_entries_and_never_deletes() {
    let mut f = setup();
    let mut ids = Vec::new();
    for (i, topic) in ["alpha", "bravo", "charlie", "delta"].iter().enumerate() {
        let op = Operation::Add {
            scope: Scope::Project,
            kind: Kind::Fact,
            summary: format!("{topic} service listens on port {}", 8000 + i),
            content: "x".repeat(40),
            evidence: vec![],
            confidence: Some(0.2 + 0.2 * i as f64),
        };
        ids.push(entry_id(&f.apply(op)));
    }
    let total_before: usize = f.active().iter().map(MemoryEntry::budget_chars).sum();
    let report = f
        .applier
        .enforce_budget(
            f.store.conn(),
            Scope::Project,
            Some(&f.project.clone()),
            150,
            NOW,
        )
        .unwrap();
    assert_eq!(report.used_before, total_before);
    assert!(report.used_after <= 150);
    assert_eq!(
        report.evictions[0].entry_id, ids[0],
        "lowest confidence goes first"
    );
    let rows: i64 = f
        .store
        .conn()
        .query_row("SELECT count(*) FROM memory_entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 4, "nothing is deleted");
    let archived = store::get_entry(f.store.conn(), &ids[0]).unwrap().unwrap();
    assert_eq!(archived.status, Status::Archived);
    assert!(archived.archived_at.is_some());
    assert_eq!(f.fts_hits("alpha"), 1, "archived entries stay searchable");
    let h = store::history(f.store.conn(), Some(&ids[0]), 1).unwrap();
    assert_eq!(
        (h[0].op.as_str(), h[0].source.as_deref()),
        ("archive", Some("budget"))
    );
}

#[test]
fn undo_restores_the_before_image_exactly() {
    let mut f = setup();
    let id = entry_id(&f.apply(add("Use cargo test", "slow")));
    let original = store::get_entry(f.store.conn(), &id).unwrap().unwrap();
    f.apply(Operation::Replace {
        id: id.clone(),
        summary: "Use cargo nextest".into(),
        content: "fast".into(),
        kind: None,
        evidence: vec![],
        confidence: None,
    });
    let replace_row = store::history(f.store.conn(), Some(&id), 1).unwrap()[0].id;
    let undone = history::undo(f.store.conn(), replace_row, NOW, "test").unwrap();
    assert_eq!(undone.entry, original);
    assert_eq!(
        store::get_entry(f.store.conn(), &id).unwrap().unwrap(),
        original
    );
    assert_eq!(f.fts_hits("slow"), 1);
    assert_eq!(f.fts_hits("fast"), 0);
    // Undoing the undo redoes the change.
    history::undo(f.store.conn(), undone.history_id, NOW, "test").unwrap();
    let e = store::get_entry(f.store.conn(), &id).unwrap().unwrap();
    assert_eq!(e.summary, "Use cargo nextest");
    // Undoing an add forgets the entry instead of deleting it.
    let add_row = store::history(f.store.conn(), Some(&id), 10)
        .unwrap()
        .into_iter()
        .find(|h| h.op == "add")
        .unwrap()
        .id;
    history::undo(f.store.conn(), add_row, NOW, "test").unwrap();
    let e = store::get_entry(f.store.conn(), &id).unwrap().unwrap();
    assert_eq!(e.status, Status::Forgotten);
}

#[test]
fn project_scope_without_a_project_is_skipped_and_user_scope_is_shared() {
    let mut f = setup();
    let ctx = OpContext {
        project_id: None,
        now: NOW,
        source: "review",
        suggestion_id: None,
        session_id: None,
    };
    let r = f
        .applier
        .apply(f.store.conn(), &add("x y z", ""), &ctx, ApplyPolicy::REVIEW)
        .unwrap();
    assert_eq!(reason(&r), "no_project_for_project_scope");
    let user = Operation::Add {
        scope: Scope::User,
        kind: Kind::Preference,
        summary: "Answer in English".into(),
        content: String::new(),
        evidence: vec![],
        confidence: None,
    };
    let r = f
        .applier
        .apply(f.store.conn(), &user, &ctx, ApplyPolicy::REVIEW)
        .unwrap();
    let e = store::get_entry(f.store.conn(), &entry_id(&r))
        .unwrap()
        .unwrap();
    assert_eq!((e.scope, e.project_id), (Scope::User, None));
}

#[test]
fn summary_substring_search_agrees_with_a_scan_through_inserts_and_removals() {
    let words = [
        "run", "cargo", "fmt", "test", "api", "deploy", "订单", "超时", "a", "ab",
    ];
    let mut seed: u64 = 7;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from(seed >> 33).unwrap() % n
    };
    let mut arena = SummaryArena::default();
    let mut model: std::collections::BTreeMap<String, String> = Default::default();
    for step in 0..600 {
        let id = format!("m_{:03}", next(80));
        if next(4) == 0 {
            assert_eq!(arena.remove(&id), model.remove(&id), "step {step}");
        } else {
            let len = 1 + next(5);
            let text = (0..len)
                .map(|_| words[next(words.len())])
                .collect::<Vec<_>>()
                .join(" ");
            let normalized = normalize(&text);
            arena.insert(&id, &normalized);
            model.insert(id, normalized);
        }
        if step % 10 == 0 {
            for needle in [
                "run",
                "cargo fmt",
                "t",
                "fmt test",
                "订单超",
                "ab",
                "b run",
                "zzz",
            ] {
                let want: Vec<String> = model
                    .iter()
                    .filter(|(_, s)| s.contains(needle))
                    .map(|(id, _)| id.clone())
                    .collect();
                assert_eq!(
                    arena.containing(needle),
                    want,
                    "step {step} needle {needle:?}"
                );
            }
        }
    }
}
