//! Projection rendering, parsing and hand-edit round trips.

use super::*;
use crate::memory::apply::{ApplyPolicy, OpContext};
use crate::memory::store::ListFilter;
use crate::review::ops::Operation;
use crate::store::db::Store;
use crate::store::identity::{IdentityKind, RepoIdentity};
use crate::store::project;

const NOW: &str = "2026-05-07T10:00:00.000Z";

struct Fixture {
    _dir: tempfile::TempDir,
    paths: Paths,
    store: Store,
    target: Target,
    applier: Applier,
}

fn setup() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path().join("home"));
    let store = Store::open_in_memory().unwrap();
    let identity = RepoIdentity {
        canonical_path: "/work/app".into(),
        kind: IdentityKind::NotGit,
        work_dir: "/work/app".into(),
        warning: None,
    };
    let p = project::upsert(&store, &identity, NOW).unwrap();
    Fixture {
        _dir: dir,
        paths,
        store,
        target: Target::Project {
            id: p.id,
            name: p.name,
        },
        applier: Applier::new(0.7).unwrap(),
    }
}

impl Fixture {
    fn add(&mut self, kind: Kind, summary: &str, content: &str) -> String {
        let ctx = OpContext {
            project_id: self.target.project_id(),
            now: NOW,
            source: "test",
            suggestion_id: None,
            session_id: None,
        };
        let op = Operation::Add {
            scope: Scope::Project,
            kind,
            summary: summary.into(),
            content: content.into(),
            evidence: vec![],
            confidence: None,
        };
        match self
            .applier
            .apply(self.store.conn(), &op, &ctx, ApplyPolicy::HAND)
            .unwrap()
            .outcome
        {
            Outcome::Applied { entry_id, .. } => entry_id,
            other => panic!("{other:?}"),
        }
    }

    fn write(&self) -> Written {
        write(self.store.conn(), &self.paths, &self.target, NOW).unwrap()
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.target.path(&self.paths)).unwrap()
    }

    fn import(&mut self) -> Option<EditImport> {
        import_hand_edits(
            self.store.conn(),
            &mut self.applier,
            &self.paths,
            &self.target,
            NOW,
        )
        .unwrap()
    }

    fn active(&self) -> Vec<MemoryEntry> {
        store::list_entries(
            self.store.conn(),
            &ListFilter {
                scope: Some(Scope::Project),
                project_id: self.target.project_id(),
                statuses: None,
            },
        )
        .unwrap()
    }
}

#[test]
fn rendering_shows_ids_and_kinds_pinned_first_then_by_kind() {
    let mut f = setup();
    let fact = f.add(Kind::Fact, "API lives in services/api", "");
    let rule = f.add(
        Kind::Rule,
        "Errors use thiserror",
        "## not a heading\nsecond line",
    );
    let mut pinned = store::get_entry(f.store.conn(), &fact).unwrap().unwrap();
    pinned.pinned = true;
    store::update_entry(f.store.conn(), &pinned).unwrap();
    let text = render(&f.target, &f.active());
    let want = format!(
        "# Project memory: app\n\n{NOTE}\n\n## API lives in services/api\n`{fact}` · fact · pinned\n\n\
         ## Errors use thiserror\n`{rule}` · rule\n\n\\## not a heading\nsecond line\n"
    );
    assert_eq!(text, want);
    let blocks = parse(&text);
    assert_eq!(blocks.len(), 2);
    assert_eq!(blocks[1].content, "## not a heading\nsecond line");
    assert!(blocks[0].pinned);
    assert_eq!(blocks[1].kind, Some(Kind::Rule));
}

#[test]
fn an_empty_store_renders_a_placeholder_and_parses_to_nothing() {
    let f = setup();
    let text = render(&Target::User, &[]);
    assert!(text.starts_with("# User memory\n"));
    assert!(text.ends_with("_No entries yet._\n"));
    assert!(parse(&text).is_empty());
    drop(f);
}

#[test]
fn writing_is_atomic_recorded_and_skipped_when_nothing_changed() {
    let mut f = setup();
    f.add(Kind::Rule, "Errors use thiserror", "");
    let w = f.write();
    assert!(w.changed);
    assert_eq!(w.hash, hash(&f.file()));
    let again = f.write();
    assert!(!again.changed);
    assert!(f.import().is_none(), "an unedited file imports nothing");
}

#[test]
fn hand_edits_become_operations_before_the_next_render() {
    let mut f = setup();
    let keep = f.add(Kind::Rule, "Errors use thiserror", "");
    let edit = f.add(Kind::Fact, "API lives in services/api", "");
    let gone = f.add(Kind::Gotcha, "Flaky test in billing", "");
    f.write();
    let text = f
        .file()
        .replace("API lives in services/api", "API lives in crates/api")
        .replace(
            &format!("`{edit}` · fact"),
            &format!("`{edit}` · reference · pinned"),
        );
    let text = text.replace(
        &format!("## Flaky test in billing\n`{gone}` · gotcha\n"),
        "",
    ) + "\n## Prefer small commits\n`new` · preference\n\nOne concern per commit.\n";
    std::fs::write(f.target.path(&f.paths), &text).unwrap();

    // The file is never overwritten while it holds an unimported edit.
    let err = write(f.store.conn(), &f.paths, &f.target, NOW).unwrap_err();
    assert!(err.to_string().contains("hand edits"), "{err}");

    let imported = f.import().unwrap();
    let ops: Vec<(&str, bool)> = imported
        .ops
        .iter()
        .map(|o| (o.op, o.is_applied()))
        .collect();
    assert_eq!(ops, [("replace", true), ("add", true), ("remove", true)]);
    let edited = store::get_entry(f.store.conn(), &edit).unwrap().unwrap();
    assert_eq!(edited.summary, "API lives in crates/api");
    assert_eq!(edited.kind, Kind::Reference);
    assert!(edited.pinned);
    assert_eq!(
        store::get_entry(f.store.conn(), &gone)
            .unwrap()
            .unwrap()
            .status,
        Status::Forgotten
    );
    let added = f
        .active()
        .into_iter()
        .find(|e| e.summary == "Prefer small commits")
        .unwrap();
    assert_eq!(
        (added.kind, added.content.as_str()),
        (Kind::Preference, "One concern per commit.")
    );
    assert_eq!(
        store::get_entry(f.store.conn(), &keep)
            .unwrap()
            .unwrap()
            .status,
        Status::Active
    );
    let h = store::history(f.store.conn(), Some(&edit), 1).unwrap();
    assert_eq!(
        (h[0].op.as_str(), h[0].source.as_deref()),
        ("edit", Some("hand_edit"))
    );

    // After the import the render includes every change and the next import is a no-op.
    let w = f.write();
    assert!(w.changed);
    let rendered = f.file();
    assert!(rendered.contains("API lives in crates/api"));
    assert!(rendered.contains(&format!("`{}` · preference", added.id)));
    assert!(!rendered.contains("Flaky test"));
    assert!(f.import().is_none());
}

#[test]
fn a_deleted_projection_is_rendered_again_without_forgetting_anything() {
    let mut f = setup();
    f.add(Kind::Rule, "Errors use thiserror", "");
    f.write();
    std::fs::remove_file(f.target.path(&f.paths)).unwrap();
    assert!(f.import().is_none());
    assert_eq!(f.active().len(), 1);
    assert!(f.write().changed);
    assert!(f.file().contains("Errors use thiserror"));
}

#[test]
fn a_secret_typed_into_a_projection_is_not_imported() {
    let mut f = setup();
    let id = f.add(Kind::Rule, "Deploy token", "");
    f.write();
    let text = f.file().replace(
        "## Deploy token",
        "## Deploy token ghp_AbC123dEf456GhI789jKl012MnO345pQr678",
    );
    std::fs::write(f.target.path(&f.paths), text).unwrap();
    let imported = f.import().unwrap();
    assert!(matches!(
        &imported.ops[0].outcome,
        Outcome::Discarded { reason, .. } if reason.starts_with("secret:")
    ));
    assert_eq!(
        store::get_entry(f.store.conn(), &id)
            .unwrap()
            .unwrap()
            .summary,
        "Deploy token"
    );
}

#[test]
fn the_shown_listing_has_the_order_and_text_of_the_full_listing() {
    let mut f = setup();
    let a = f.add(
        Kind::Fact,
        "The API lives in services/api",
        "Started with `make api`.",
    );
    let b = f.add(Kind::Preference, "Answer in English", "");
    let c = f.add(
        Kind::Rule,
        "Run cargo fmt before committing",
        "# not a heading",
    );
    let d = f.add(Kind::Rule, "Prefer small commits", "");
    let gone = f.add(Kind::Gotcha, "Flaky test in ci", "");
    let conn = f.store.conn();
    conn.execute("UPDATE memory_entries SET pinned = 1 WHERE id = ?1", [&a])
        .unwrap();
    conn.execute(
        "UPDATE memory_entries SET use_count = 3 WHERE id = ?1",
        [&d],
    )
    .unwrap();
    conn.execute(
        "UPDATE memory_entries SET created_at = '2020-01-01T00:00:00.000Z' WHERE id = ?1",
        [&c],
    )
    .unwrap();
    conn.execute(
        "UPDATE memory_entries SET status = 'archived' WHERE id = ?1",
        [&gone],
    )
    .unwrap();
    let full = f.active();
    let shown = store::list_shown(conn, Scope::Project, f.target.project_id()).unwrap();
    let want: Vec<Shown> = full.iter().map(Shown::from).collect();
    assert_eq!(shown, want);
    assert_eq!(
        shown.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        [a.as_str(), b.as_str(), d.as_str(), c.as_str()]
    );
    assert_eq!(render_shown(&f.target, &shown), render(&f.target, &full));
    assert!(
        store::list_shown(conn, Scope::User, None)
            .unwrap()
            .is_empty()
    );
}
