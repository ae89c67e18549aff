//! Deterministic compile throughput on a 10k-entry store.
//!
//! `CARGO_TARGET_DIR=/work/target-release cargo run --release --example compile_bench`
//!
//! Seeds one project with 10,000 active memory entries (budgets raised so none is evicted,
//! which is the worst case for dedupe), queues 100 envelopes of 50 operations each (new
//! entries, near-duplicates, exact duplicates, noise, replaces by summary, recall entries),
//! then times one compile run that drains them, in a file database in WAL mode.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark aborts loudly"
)]

use std::time::Instant;

use csep::compile::{self, CompileOptions};
use csep::memory::apply::{AddInput, Applier, ApplyPolicy, OpContext};
use csep::memory::{Kind, Scope};
use csep::queue::{self, NewEnvelope};
use csep::review::ops::{Operation, ReviewOutput};
use csep::store::config::Config;
use csep::store::db::Store;
use csep::store::identity::{IdentityKind, RepoIdentity};
use csep::store::paths::Paths;
use csep::store::project;

const NOW: &str = "2026-05-07T10:00:00.000Z";
const ENTRIES: usize = 10_000;
const ENVELOPES: usize = 100;
const OPS_PER_ENVELOPE: usize = 50;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn sentence(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| format!("w{}", self.next() % 5_000))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::at(dir.path().join("home"));
    paths.ensure_home().unwrap();
    let mut store = Store::open(&paths.db()).unwrap();
    let identity = RepoIdentity {
        canonical_path: "/bench/repo".into(),
        kind: IdentityKind::NotGit,
        work_dir: "/bench/repo".into(),
        warning: None,
    };
    let project = project::upsert(&store, &identity, NOW).unwrap().id;
    let mut config = Config::default();
    config.memory.project_budget_chars = u32::MAX;
    config.memory.user_budget_chars = u32::MAX;
    let mut rng = Rng(42);

    let seed_started = Instant::now();
    let mut seeded = Vec::with_capacity(ENTRIES);
    {
        let tx = store.conn_mut().transaction().unwrap();
        let mut applier = Applier::new(config.memory.near_duplicate_threshold).unwrap();
        let ctx = OpContext {
            project_id: Some(&project),
            now: NOW,
            source: "bench",
            suggestion_id: None,
            session_id: None,
        };
        for _ in 0..ENTRIES {
            let summary = rng.sentence(8);
            applier
                .add(
                    &tx,
                    AddInput {
                        scope: Scope::Project,
                        kind: Kind::Fact,
                        summary: summary.clone(),
                        content: rng.sentence(12),
                        evidence: &[],
                        source_paths: &[],
                        confidence: 0.7,
                    },
                    &ctx,
                    ApplyPolicy::HAND,
                )
                .unwrap();
            seeded.push(summary);
        }
        tx.commit().unwrap();
    }
    let seed_secs = seed_started.elapsed().as_secs_f64();

    let mut total_ops = 0;
    for e in 0..ENVELOPES {
        let mut operations = Vec::with_capacity(OPS_PER_ENVELOPE);
        for i in 0..OPS_PER_ENVELOPE {
            let op = match i % 10 {
                // near-duplicate of a seeded entry (summary reworded by one word)
                0 => {
                    let base = &seeded[(rng.next() as usize) % seeded.len()];
                    Operation::Add {
                        scope: Scope::Project,
                        kind: Kind::Fact,
                        summary: format!("{base} w9999"),
                        content: String::new(),
                        evidence: vec![],
                        confidence: Some(0.8),
                    }
                }
                // noise
                1 => Operation::Add {
                    scope: Scope::Project,
                    kind: Kind::Fact,
                    summary: format!("MR !{} merged", rng.next() % 1000),
                    content: String::new(),
                    evidence: vec![],
                    confidence: None,
                },
                // replace by summary
                2 => Operation::Replace {
                    id: seeded[(rng.next() as usize) % seeded.len()].clone(),
                    summary: rng.sentence(8),
                    content: rng.sentence(10),
                    kind: None,
                    evidence: vec![],
                    confidence: None,
                },
                // recall
                3 => Operation::Recall {
                    scope: Scope::Project,
                    summary: rng.sentence(6),
                    content: rng.sentence(20),
                    trigger: "when touching the bench".into(),
                    paths: vec!["src/lib.rs".into()],
                    evidence: vec![],
                },
                // new entries
                _ => Operation::Add {
                    scope: Scope::Project,
                    kind: Kind::Rule,
                    summary: rng.sentence(8),
                    content: rng.sentence(12),
                    evidence: vec!["msg:1".into()],
                    confidence: Some(0.7),
                },
            };
            operations.push(op);
        }
        total_ops += operations.len();
        queue::enqueue(
            &store,
            &NewEnvelope {
                project_id: Some(project.clone()),
                host: Some("codex".into()),
                session_id: Some(format!("s{e}")),
                turn_id: Some("t".into()),
                provider: "bench".into(),
                payload: ReviewOutput { operations },
                now: NOW.into(),
            },
        )
        .unwrap();
    }

    let mut options = CompileOptions::new(NOW);
    options.batch = ENVELOPES;
    let started = Instant::now();
    let report = compile::run(&mut store, &paths, &config, &project, &options).unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(report.processed, ENVELOPES);
    println!(
        "seeded {ENTRIES} entries in {seed_secs:.2}s; compiled {total_ops} suggestions \
         ({} envelopes) in {secs:.3}s = {:.0} suggestions/s (applied {}, skipped {}, discarded {})",
        report.processed,
        total_ops as f64 / secs,
        report.operations.applied,
        report.operations.skipped,
        report.operations.discarded
    );
}
