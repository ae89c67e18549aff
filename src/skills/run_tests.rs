use super::*;
use crate::host::Host;
use crate::skills::synth::{OfflineSynthesizer, Synthesis};
use crate::skills::test_support::{
    Turn, check_procedure, claude_transcript, codex_rollout, hash_tree, ingest,
};
use pretty_assertions::assert_eq;

struct Env {
    dir: tempfile::TempDir,
    store: Store,
    roots: Roots,
    codex: PathBuf,
    claude: PathBuf,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let codex = dir.path().join("codex");
    let claude = dir.path().join("claude");
    let roots = Roots::new(&dir.path().join("csep"), Some(&codex), Some(&claude));
    Env {
        store: Store::open_in_memory().unwrap(),
        roots,
        codex: codex.join("skills"),
        claude: claude.join("skills"),
        dir,
    }
}

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

fn opts() -> SynthesisOptions {
    let mut o = SynthesisOptions::from_config(&SkillsConfig::default(), now());
    o.mode = SkillsMode::Full;
    o
}

/// Archives `sessions` recurrences of the check procedure, alternating hosts.
fn archive_procedure(e: &mut Env, sessions: usize) {
    let prompts = [
        "check the build before I commit",
        "please check the build",
        "run the checks again",
        "check everything",
    ];
    for i in 0..sessions {
        let id = format!("s{i}");
        let start = format!("2026-11-2{i}T10:00:00Z");
        let turns = check_procedure(prompts[i % prompts.len()]);
        if i % 2 == 0 {
            let p = codex_rollout(e.dir.path(), &id, &start, &turns);
            ingest(&mut e.store, Host::Codex, &p);
        } else {
            let p = claude_transcript(e.dir.path(), &id, &start, &turns);
            ingest(&mut e.store, Host::Claude, &p);
        }
    }
}

const NAME: &str = "csep-cargo-fmt-clippy-test";

#[test]
fn a_procedure_seen_in_three_sessions_is_synthesized_gated_and_published_to_both_hosts() {
    let mut e = env();
    archive_procedure(&mut e, 3);
    let receipt = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(receipt.status, "ok");
    assert_eq!(receipt.evidence.sessions, 3);
    assert_eq!(receipt.evidence.procedures, 1);
    assert_eq!(receipt.published, [NAME]);
    assert_eq!(receipt.gate_failures, BTreeMap::new());
    let codex_text = std::fs::read_to_string(e.codex.join(NAME).join("SKILL.md")).unwrap();
    let claude_text = std::fs::read_to_string(e.claude.join(NAME).join("SKILL.md")).unwrap();
    assert_eq!(codex_text, claude_text);
    insta::assert_snapshot!(codex_text);
    let record = lifecycle::require(&e.store, NAME).unwrap();
    assert_eq!(record.state, SkillState::Published);
    assert_eq!(record.published.len(), 2);
    assert_eq!(
        record.published[0].hash,
        publish::content_hash(codex_text.as_bytes())
    );
    assert!(e.roots.staged_file(NAME).exists());
    // The receipt row.
    let (kind, status, detail): (String, String, String) = e
        .store
        .conn()
        .query_row("SELECT kind, status, detail FROM receipts", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((kind.as_str(), status.as_str()), ("skills", "ok"));
    let detail: serde_json::Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["published"], serde_json::json!([NAME]));
    assert_eq!(detail["evidence"]["sessions"], 3);
    assert_eq!(detail["tokens"]["input"], 0);
    assert_eq!(receipt.receipt_id, Some(1));

    // A second run finds the same skill unchanged and writes nothing new.
    let again = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(again.drafts[0].outcome, Outcome::Unchanged);
    assert_eq!(again.published, Vec::<String>::new());
}

#[test]
fn two_sessions_make_a_candidate_with_the_evidence_reason_and_nothing_published() {
    let mut e = env();
    archive_procedure(&mut e, 2);
    let receipt = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(receipt.drafts[0].outcome, Outcome::Candidate);
    assert_eq!(receipt.gate_failures.get("evidence"), Some(&1));
    let record = lifecycle::require(&e.store, NAME).unwrap();
    assert_eq!(record.state, SkillState::Candidate);
    assert!(
        record
            .reason
            .unwrap()
            .contains("seen in 2 session(s), needs 3")
    );
    assert!(!e.codex.exists());
    // A third session arrives: the next run publishes it.
    let p = codex_rollout(
        e.dir.path(),
        "s9",
        "2026-11-24T10:00:00Z",
        &check_procedure("check it"),
    );
    ingest(&mut e.store, Host::Codex, &p);
    let receipt = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(receipt.published, [NAME]);
}

#[test]
fn with_the_approve_policy_a_skill_waits_in_staging_until_approved() {
    let mut e = env();
    archive_procedure(&mut e, 3);
    let mut o = opts();
    o.publish_policy = PublishPolicy::Approve;
    let receipt = run_synthesis(&e.store, &e.roots, &OfflineSynthesizer, &o, &NoProgress).unwrap();
    assert_eq!(receipt.staged, [NAME]);
    assert!(e.roots.staged_file(NAME).exists());
    assert!(!e.codex.join(NAME).exists());
    assert_eq!(
        lifecycle::require(&e.store, NAME).unwrap().state,
        SkillState::Staged
    );
    lifecycle::approve(&e.store, &e.roots, NAME, "2026-11-25T13:00:00.000Z").unwrap();
    assert!(e.codex.join(NAME).join("SKILL.md").exists());
    assert!(e.claude.join(NAME).join("SKILL.md").exists());
}

#[test]
fn a_user_edited_published_skill_is_left_alone_by_the_next_run() {
    let mut e = env();
    archive_procedure(&mut e, 3);
    run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    let codex_file = e.codex.join(NAME).join("SKILL.md");
    let edited = std::fs::read_to_string(&codex_file).unwrap() + "\nMy own extra step.\n";
    std::fs::write(&codex_file, &edited).unwrap();
    // New evidence changes the synthesized text (a fourth session with another intent).
    let p = codex_rollout(
        e.dir.path(),
        "s8",
        "2026-11-24T10:00:00Z",
        &check_procedure("tidy"),
    );
    ingest(&mut e.store, Host::Codex, &p);
    let receipt = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(
        receipt.user_edited,
        [codex_file.to_string_lossy().into_owned()]
    );
    assert_eq!(std::fs::read_to_string(&codex_file).unwrap(), edited);
    let record = lifecycle::require(&e.store, NAME).unwrap();
    let codex_entry = record.published.iter().find(|m| m.host == "codex").unwrap();
    assert!(codex_entry.released);
    // Claude's copy, still csep's, got the new version.
    let claude_text = std::fs::read_to_string(e.claude.join(NAME).join("SKILL.md")).unwrap();
    assert_eq!(claude_text, record.body);
    assert!(claude_text.contains("4 separate sessions"), "{claude_text}");
}

#[test]
fn a_dry_run_leaves_the_skill_roots_and_the_database_untouched() {
    let mut e = env();
    archive_procedure(&mut e, 3);
    // A user skill and a leftover already in the roots.
    std::fs::create_dir_all(e.codex.join("my-skill")).unwrap();
    std::fs::write(
        e.codex.join("my-skill/SKILL.md"),
        "---\nname: my-skill\ndescription: Use when mine.\n---\n",
    )
    .unwrap();
    std::fs::create_dir_all(e.claude.join("csep-synth-old")).unwrap();
    let roots_before = (
        hash_tree(&e.codex),
        hash_tree(&e.claude),
        hash_tree(&e.roots.staging),
    );
    let tmp = e.dir.path().join("dry");
    let mut o = opts();
    o.dry_run = true;
    o.dry_run_dir = Some(tmp.clone());
    let receipt = run_synthesis(&e.store, &e.roots, &OfflineSynthesizer, &o, &NoProgress).unwrap();
    assert!(receipt.dry_run);
    assert_eq!(receipt.published, [NAME], "reports what it would publish");
    assert_eq!(receipt.receipt_id, None);
    let roots_after = (
        hash_tree(&e.codex),
        hash_tree(&e.claude),
        hash_tree(&e.roots.staging),
    );
    assert_eq!(roots_before, roots_after);
    assert!(!e.roots.staging.exists());
    let rows: i64 = e
        .store
        .conn()
        .query_row(
            "SELECT (SELECT count(*) FROM skills) + (SELECT count(*) FROM receipts)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(rows, 0);
    assert!(tmp.join(NAME).join("SKILL.md").exists());
}

#[test]
fn a_skill_the_user_rejected_is_never_proposed_again() {
    let mut e = env();
    archive_procedure(&mut e, 3);
    run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    lifecycle::reject(&e.store, &e.roots, NAME, None, "2026-11-25T13:00:00.000Z").unwrap();
    let receipt = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(receipt.drafts[0].outcome, Outcome::SkippedUserRejected);
    assert!(!e.codex.join(NAME).exists());
}

#[test]
fn a_near_duplicate_of_a_users_skill_is_rejected_with_its_reason() {
    let mut e = env();
    archive_procedure(&mut e, 3);
    std::fs::create_dir_all(e.claude.join("rust-checks")).unwrap();
    std::fs::write(
        e.claude.join("rust-checks/SKILL.md"),
        "---\nname: rust-checks\ndescription: Use when the user asks to check the build: runs cargo fmt, cargo clippy and cargo test.\n---\n## Steps\n1. cargo fmt\n2. cargo clippy\n3. cargo test\n",
    )
    .unwrap();
    let receipt = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(receipt.drafts[0].outcome, Outcome::Rejected);
    assert_eq!(receipt.gate_failures.get("duplicate"), Some(&1));
    let record = lifecycle::require(&e.store, NAME).unwrap();
    assert_eq!(record.state, SkillState::Rejected);
    assert!(
        record
            .reason
            .unwrap()
            .contains("near-duplicate of `rust-checks`")
    );
    assert!(!e.codex.join(NAME).exists());
}

#[test]
fn an_explicit_request_in_one_session_is_enough_evidence() {
    let mut e = env();
    let p = claude_transcript(
        e.dir.path(),
        "req",
        "2026-11-24T10:00:00Z",
        &[
            Turn::User("release the crate"),
            Turn::Run("cargo package", 0),
            Turn::Run("cargo publish", 0),
            Turn::User("make this a skill"),
        ],
    );
    ingest(&mut e.store, Host::Claude, &p);
    let receipt = run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(receipt.published, ["csep-cargo-package-publish"]);
}

#[test]
fn unused_published_skills_are_retired_by_a_later_run() {
    let mut e = env();
    archive_procedure(&mut e, 3);
    run_synthesis(
        &e.store,
        &e.roots,
        &OfflineSynthesizer,
        &opts(),
        &NoProgress,
    )
    .unwrap();
    let mut later = opts();
    later.now = "2027-03-01T00:00:00Z".parse().unwrap();
    let receipt =
        run_synthesis(&e.store, &e.roots, &OfflineSynthesizer, &later, &NoProgress).unwrap();
    assert_eq!(receipt.retired.len(), 1);
    assert!(!e.codex.join(NAME).exists());
    assert!(e.roots.archived_file(NAME).exists());
    assert_eq!(
        lifecycle::require(&e.store, NAME).unwrap().state,
        SkillState::Retired
    );
}

struct Failing;

impl SkillSynthesizer for Failing {
    fn name(&self) -> String {
        "failing".into()
    }
    fn synthesize(&self, _: &evidence::EvidenceBundle) -> Result<Synthesis, SkillError> {
        Err(SkillError::Synthesizer {
            synthesizer: "failing".into(),
            message: "provider timed out".into(),
        })
    }
}

#[test]
fn a_failing_synthesizer_gives_a_degraded_receipt() {
    let e = env();
    let receipt = run_synthesis(&e.store, &e.roots, &Failing, &opts(), &NoProgress).unwrap();
    assert_eq!(receipt.status, "degraded");
    assert!(receipt.reason.unwrap().contains("provider timed out"));
    let status: String = e
        .store
        .conn()
        .query_row(
            "SELECT status FROM receipts WHERE kind = 'skills'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(status, "degraded");
}

#[test]
fn windows_follow_the_mode() {
    let mut o = opts();
    o.mode = SkillsMode::Incremental;
    o.lookback_hours = 6;
    assert_eq!(time::format_ts(o.since()), "2026-11-25T06:00:00.000Z");
    o.mode = SkillsMode::Full;
    o.lookback_days = 2;
    assert_eq!(time::format_ts(o.since()), "2026-11-23T12:00:00.000Z");
}
