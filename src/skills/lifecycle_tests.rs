use super::*;
use crate::skills::render::{render, tests::draft};
use pretty_assertions::assert_eq;

struct Env {
    _dir: tempfile::TempDir,
    store: Store,
    roots: Roots,
    codex: std::path::PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let codex = dir.path().join("codex");
    let roots = Roots::new(
        &dir.path().join("csep"),
        Some(&codex),
        Some(&dir.path().join("claude")),
    );
    Env {
        store: Store::open_in_memory().unwrap(),
        roots,
        codex: codex.join("skills"),
        _dir: dir,
    }
}

const T0: &str = "2026-01-01T00:00:00.000Z";

fn staged(e: &Env) -> SkillRecord {
    let record = unsaved();
    save(&e.store, &record).unwrap();
    record
}

fn unsaved() -> SkillRecord {
    let d = draft();
    let body = render(&d);
    SkillRecord {
        name: d.name,
        project_id: None,
        state: SkillState::Staged,
        description: d.description,
        content_hash: publish::content_hash(body.as_bytes()),
        body,
        evidence: d.evidence_ids,
        published: Vec::new(),
        reason: None,
        created_at: T0.into(),
        updated_at: T0.into(),
        published_at: None,
        last_used_at: None,
        use_count: 0,
    }
}

#[test]
fn records_round_trip_through_the_table() {
    let e = env();
    let record = staged(&e);
    assert_eq!(get(&e.store, &record.name).unwrap(), Some(record.clone()));
    assert_eq!(list(&e.store).unwrap(), vec![record]);
    assert!(get(&e.store, "csep-none").unwrap().is_none());
    assert!(matches!(
        require(&e.store, "csep-none"),
        Err(SkillError::NotFound { .. })
    ));
}

#[test]
fn approving_a_staged_skill_publishes_it_and_records_the_manifest() {
    let e = env();
    let record = staged(&e);
    let report = approve(&e.store, &e.roots, &record.name, "2026-01-02T00:00:00.000Z").unwrap();
    assert_eq!(report.state, SkillState::Published);
    assert_eq!(report.written.len(), 2);
    let after = require(&e.store, &record.name).unwrap();
    assert_eq!(after.state, SkillState::Published);
    assert_eq!(after.published.len(), 2);
    assert_eq!(
        after.published_at.as_deref(),
        Some("2026-01-02T00:00:00.000Z")
    );
    assert!(e.roots.staged_file(&record.name).exists());
    assert_eq!(
        std::fs::read_to_string(e.codex.join(&record.name).join("SKILL.md")).unwrap(),
        record.body
    );
}

#[test]
fn approving_a_skill_that_fails_a_gate_is_refused_with_the_reasons() {
    let e = env();
    let mut record = staged(&e);
    record.body = record.body.replace("## Verification", "## Notes");
    save(&e.store, &record).unwrap();
    let err = approve(&e.store, &e.roots, &record.name, T0).unwrap_err();
    assert!(
        err.to_string().contains("missing `## Verification`"),
        "{err}"
    );
    assert!(!e.codex.join(&record.name).exists());
}

#[test]
fn rejecting_a_published_skill_unpublishes_it_and_remembers_the_user_said_no() {
    let e = env();
    let record = staged(&e);
    approve(&e.store, &e.roots, &record.name, T0).unwrap();
    let report = reject(&e.store, &e.roots, &record.name, Some("too specific"), T0).unwrap();
    assert_eq!(report.removed.len(), 2);
    assert!(!e.codex.join(&record.name).exists());
    let after = require(&e.store, &record.name).unwrap();
    assert!(after.is_user_rejected());
    assert_eq!(
        after.reason.as_deref(),
        Some("rejected by the user: too specific")
    );
    assert!(matches!(
        approve(&e.store, &e.roots, &record.name, T0),
        Err(SkillError::WrongState { .. })
    ));
}

#[test]
fn retiring_moves_the_skill_to_the_archive_and_restore_brings_it_back() {
    let e = env();
    let record = staged(&e);
    approve(&e.store, &e.roots, &record.name, T0).unwrap();
    let retired = retire(&e.store, &e.roots, &record.name, "not needed", T0).unwrap();
    assert_eq!(retired.state, SkillState::Retired);
    assert!(!e.codex.join(&record.name).exists());
    assert!(e.roots.archived_file(&record.name).exists());
    assert!(!e.roots.staged_file(&record.name).exists());
    let after = require(&e.store, &record.name).unwrap();
    assert_eq!(after.state, SkillState::Retired);
    assert!(after.published.is_empty());

    let restored = restore(&e.store, &e.roots, &record.name, "2026-02-01T00:00:00.000Z").unwrap();
    assert_eq!(restored.state, SkillState::Published);
    assert!(e.codex.join(&record.name).join("SKILL.md").exists());
    assert!(!e.roots.archived_file(&record.name).exists());
    let after = require(&e.store, &record.name).unwrap();
    assert_eq!(
        after.last_used_at.as_deref(),
        Some("2026-02-01T00:00:00.000Z")
    );
    assert!(matches!(
        restore(&e.store, &e.roots, &record.name, T0),
        Err(SkillError::WrongState { .. })
    ));
}

#[test]
fn skills_unused_past_the_limit_are_retired_and_used_ones_stay() {
    let e = env();
    let record = staged(&e);
    approve(&e.store, &e.roots, &record.name, "2026-01-01T00:00:00.000Z").unwrap();
    let mut other = unsaved();
    other.name = "csep-other-skill".into();
    other.state = SkillState::Published;
    other.published_at = Some("2026-01-01T00:00:00.000Z".into());
    other.last_used_at = Some("2026-03-01T00:00:00.000Z".into());
    save(&e.store, &other).unwrap();

    let now: Timestamp = "2026-03-15T00:00:00Z".parse().unwrap();
    let retired = retire_unused(&e.store, &e.roots, 60, now).unwrap();
    let names: Vec<_> = retired.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["csep-cargo-fmt-test"]);
    assert_eq!(
        require(&e.store, &other.name).unwrap().state,
        SkillState::Published
    );
    let reason = require(&e.store, &record.name).unwrap().reason.unwrap();
    assert!(reason.starts_with("unused for 60 days"), "{reason}");
    assert_eq!(retire_unused(&e.store, &e.roots, 0, now).unwrap(), vec![]);
}

#[test]
fn uninstall_removes_owned_files_keeps_edited_ones_and_restages() {
    let e = env();
    let record = staged(&e);
    approve(&e.store, &e.roots, &record.name, T0).unwrap();
    let codex_file = e.codex.join(&record.name).join("SKILL.md");
    std::fs::write(&codex_file, "my edit").unwrap();
    let report = uninstall(&e.store, T0).unwrap();
    assert_eq!(report.skills.len(), 1);
    assert_eq!(report.skills[0].removed.len(), 1);
    assert_eq!(report.skills[0].left_alone.len(), 1);
    assert_eq!(std::fs::read_to_string(&codex_file).unwrap(), "my edit");
    let after = require(&e.store, &record.name).unwrap();
    assert_eq!(after.state, SkillState::Staged);
    assert_eq!(after.published.len(), 1);
    assert!(after.published[0].released);
}

#[test]
fn refresh_records_user_edits_once() {
    let e = env();
    let record = staged(&e);
    approve(&e.store, &e.roots, &record.name, T0).unwrap();
    std::fs::write(e.codex.join(&record.name).join("SKILL.md"), "mine").unwrap();
    let found = refresh_user_edits(&e.store).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(refresh_user_edits(&e.store).unwrap(), vec![]);
}

#[test]
fn gc_lists_without_yes_and_removes_with_it() {
    let e = env();
    let record = staged(&e);
    approve(&e.store, &e.roots, &record.name, T0).unwrap();
    std::fs::create_dir_all(e.codex.join("csep-synth-git-cleanup")).unwrap();
    std::fs::write(e.codex.join("csep-synth-git-cleanup/SKILL.md"), "x").unwrap();
    std::fs::write(
        e.codex.join("csep-synth-git-cleanup/CSEP_INVALID.json"),
        "{}",
    )
    .unwrap();
    let listed = gc(&e.store, &e.roots, false).unwrap();
    assert_eq!(listed.orphans.len(), 1);
    assert!(!listed.removed);
    assert!(e.codex.join("csep-synth-git-cleanup").exists());
    let removed = gc(&e.store, &e.roots, true).unwrap();
    assert!(removed.removed);
    assert!(!e.codex.join("csep-synth-git-cleanup").exists());
    assert!(e.codex.join(&record.name).join("SKILL.md").exists());
}

#[test]
fn a_reviewer_candidate_never_overrides_a_known_skill() {
    let e = env();
    let record = staged(&e);
    let name = record_candidate(
        &e.store,
        None,
        "cargo fmt test",
        "Use when x.",
        &["a".into(), "b".into()],
        &[],
        T0,
    )
    .unwrap();
    assert_eq!(name, record.name);
    assert_eq!(require(&e.store, &name).unwrap().state, SkillState::Staged);
    assert_eq!(candidate_steps("1. a\n2. b\n"), ["a", "b"]);
}
