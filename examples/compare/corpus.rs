//! Generates the benchmark corpus once, in both formats: csep homes written through csep's own
//! insert paths (`memory::store::insert_entry`, `memory::store::insert_recall`,
//! `archive::ingest::ingest_transcript`, `queue::enqueue`), and reference homes laid out as the
//! Python plugin 0.7.7 reads them (`projects/<bucket>/memory/*`, `recall/index.json`,
//! `suggestions/pending/*.json`; spec §2.3, §3.2, §3.4, §3.5).
//!
//! Invariant: one seed, one corpus — the same summaries and contents land in both formats, and
//! a `stamp` file records the parameters so a rerun with the same ones reuses the corpus.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

use csep::archive::ingest::ingest_transcript;
use csep::host::Host;
use csep::memory::apply::join_text;
use csep::memory::entry::Provenance;
use csep::memory::store::{
    RecallEntry, insert_entry, insert_recall, new_entry, new_entry_id, recall_id,
};
use csep::memory::{Kind, Scope};
use csep::queue::{self, NewEnvelope};
use csep::review::ops::{Operation, ReviewOutput};
use csep::store::db::{OpenOptions, SCHEMA_VERSION, Store};
use csep::store::identity::{IdentityKind, RepoIdentity};
use csep::store::paths::Paths;
use csep::store::project;

use crate::text::{Rng, Rollout, Shape, Vocab, big_rollout};

/// "Now" of every generated row.
pub const NOW: &str = "2026-05-20T10:00:00.000Z";
/// The reference's second-precision form of [`NOW`].
const NOW_REF: &str = "2026-05-20T10:00:00Z";
/// Memory entries of the session-start case: user scope, then project scope.
pub const START_ENTRIES: (usize, usize) = (50, 150);
/// Recall corpus sizes.
pub const RECALL_SIZES: [usize; 3] = [1_000, 10_000, 100_000];
/// Stop-hook transcript size.
pub const STOP_TRANSCRIPT_BYTES: usize = 50 * 1024 * 1024;
/// Ingest rollout size.
pub const INGEST_BYTES: usize = 100 * 1024 * 1024;
/// Rollouts of the many-files import (a backfill of a heavy user's sessions directory).
pub const INGEST_MANY_FILES: usize = 200;
/// Size of each of them.
pub const INGEST_MANY_BYTES: usize = 512 * 1024;
/// Memory entries already in the store when compiling.
pub const COMPILE_ENTRIES: usize = 10_000;
/// Envelopes queued for the compile (the reference claims 5 per run, so 5 make one run).
pub const COMPILE_ENVELOPES: usize = 5;
/// Suggestions per envelope.
pub const COMPILE_OPS_PER_ENVELOPE: usize = 2_000;
/// Messages per archived session.
const MESSAGES_PER_SESSION: usize = 1_000;
/// Other projects the recall entries and sessions are spread over.
const OTHER_PROJECTS: usize = 50;
/// Bump when the generator or the archive it writes changes, so an old corpus is regenerated
/// (3: messages indexed by the archive's own index, schema 9).
const CORPUS_VERSION: u32 = 3;

/// Part of the ingest cases' markers: rollouts generated before their payloads were written
/// with `type` first, as Codex writes them, are generated again.
const PAYLOAD_ORDER: &str = "payload=tag-first";

/// The corpus sizes, divided by `quick` (1 for the real benchmark; a smoke test uses 100).
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Divisor of every size.
    pub quick: usize,
    /// Archived messages in the largest recall store.
    pub archive_messages: usize,
}

impl Sizes {
    /// Recall corpus sizes.
    pub fn recall(&self) -> [usize; 3] {
        RECALL_SIZES.map(|n| n / self.quick)
    }

    /// The largest recall size (the one with the archive).
    pub fn recall_max(&self) -> usize {
        RECALL_SIZES[2] / self.quick
    }

    fn stop_bytes(&self) -> usize {
        STOP_TRANSCRIPT_BYTES / self.quick
    }

    /// Size of the single ingest rollout.
    pub fn ingest_bytes(&self) -> usize {
        INGEST_BYTES / self.quick
    }

    /// Rollouts of the many-files import.
    pub fn ingest_many_files(&self) -> usize {
        (INGEST_MANY_FILES / self.quick).max(2)
    }

    fn compile_entries(&self) -> usize {
        COMPILE_ENTRIES / self.quick
    }

    /// Suggestions per envelope.
    pub fn ops_per_envelope(&self) -> usize {
        COMPILE_OPS_PER_ENVELOPE / self.quick
    }
}

/// Where each part of the corpus lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Root of the corpus.
    pub dir: PathBuf,
    /// The project directory every hook and query runs from (not a git repository).
    pub repo: PathBuf,
}

impl Layout {
    /// The layout under `dir`.
    pub fn new(dir: &Path) -> Layout {
        Layout {
            dir: dir.to_path_buf(),
            repo: dir.join("repo"),
        }
    }

    /// A case's directory.
    pub fn case(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// csep's home of a case.
    pub fn csep_home(&self, name: &str) -> PathBuf {
        self.case(name).join("csep-home")
    }

    /// The reference's home of a case.
    pub fn ref_home(&self, name: &str) -> PathBuf {
        self.case(name).join("ref-home")
    }

    /// Name of the recall case of `n` entries.
    pub fn recall_case(n: usize) -> String {
        format!("recall-{n}")
    }
}

fn sha1_hex(text: &str) -> String {
    Sha1::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The reference's bucket directory of `repo` (spec §2.2: a non-git directory is its own key,
/// mangled by replacing `/` with `-`).
fn ref_bucket(ref_home: &Path, repo: &Path) -> PathBuf {
    let key = repo.to_string_lossy().replace('/', "-");
    ref_home.join("projects").join(key)
}

/// Brings every csep store of a reused corpus to this build's schema, so the bench measures
/// the indexes a user's store has. Recall opens its store read-only and never migrates it:
/// without this, a corpus generated by an older build is timed on its older schema.
fn migrate_stores(layout: &Layout) -> Result<()> {
    for entry in fs::read_dir(&layout.dir)? {
        let db = Paths::at(entry?.path().join("csep-home")).db();
        if !db.exists() {
            continue;
        }
        let before = Store::open_with(
            &db,
            OpenOptions {
                read_only: true,
                ..OpenOptions::default()
            },
        )?
        .schema_version()?;
        if before == SCHEMA_VERSION {
            continue;
        }
        let store = Store::open(&db)?;
        store
            .conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
        eprintln!(
            "corpus: {} migrated from schema {before} to {SCHEMA_VERSION}",
            db.display()
        );
    }
    Ok(())
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

fn open_store(home: &Path) -> Result<(Paths, Store)> {
    let paths = Paths::at(home);
    paths.ensure_home()?;
    let store = Store::open(&paths.db())?;
    Ok((paths, store))
}

fn repo_project(store: &Store, repo: &Path) -> Result<String> {
    let identity = RepoIdentity::resolve(repo)?;
    Ok(project::upsert(store, &identity, NOW)?.id)
}

fn other_dir(i: usize) -> String {
    format!("/bench/other-{i}")
}

fn other_project(store: &Store, i: usize) -> Result<String> {
    let identity = RepoIdentity {
        canonical_path: other_dir(i).into(),
        kind: IdentityKind::NotGit,
        work_dir: other_dir(i).into(),
        warning: None,
    };
    Ok(project::upsert(store, &identity, NOW)?.id)
}

/// One memory entry of the generated corpus.
struct GenEntry {
    user: bool,
    kind: Kind,
    summary: String,
    content: String,
}

fn gen_entries(vocab: &Vocab, rng: &mut Rng, user: usize, project: usize) -> Vec<GenEntry> {
    let kinds = [
        Kind::Rule,
        Kind::Fact,
        Kind::Gotcha,
        Kind::Command,
        Kind::Preference,
    ];
    (0..user + project)
        .map(|i| GenEntry {
            user: i < user,
            kind: kinds[rng.below(kinds.len())],
            summary: vocab.prose(rng, 6, 12),
            content: vocab.prose(rng, 15, 40),
        })
        .collect()
}

fn insert_entries(store: &Store, project: &str, entries: &[GenEntry]) -> Result<()> {
    let conn = store.conn();
    conn.execute_batch("BEGIN")?;
    for e in entries {
        let (scope, pid) = if e.user {
            (Scope::User, None)
        } else {
            (Scope::Project, Some(project.to_owned()))
        };
        let text = join_text(&e.summary, &e.content);
        let id = new_entry_id(conn, scope, pid.as_deref(), &text)?;
        let entry = new_entry(
            id,
            scope,
            pid,
            e.kind,
            e.summary.clone(),
            e.content.clone(),
            Provenance::default(),
            0.8,
            NOW,
        );
        insert_entry(conn, &entry)?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(())
}

/// The reference's memory files for `entries` (spec §3.4): `memory.json`, `USER.md`,
/// `MEMORY.md`; project-scope entries become its `global` scope.
fn write_ref_memory(bucket: &Path, entries: &[GenEntry]) -> Result<()> {
    let dir = bucket.join("memory");
    fs::create_dir_all(&dir)?;
    let record = |e: &GenEntry| {
        json!({"confidence": 0.8, "content": e.content, "provenance": [],
               "scope": if e.user { "user" } else { "global" }, "source_paths": [],
               "summary": e.summary})
    };
    let user: Vec<&GenEntry> = entries.iter().filter(|e| e.user).collect();
    let global: Vec<&GenEntry> = entries.iter().filter(|e| !e.user).collect();
    write_json(
        &dir.join("memory.json"),
        &json!({"global": global.iter().map(|e| record(e)).collect::<Vec<_>>(),
                "user": user.iter().map(|e| record(e)).collect::<Vec<_>>()}),
    )?;
    let render = |title: &str, list: &[&GenEntry]| {
        let mut lines = vec![format!("# {title}"), String::new()];
        for e in list {
            lines.push(format!("## {}", e.summary));
            lines.push(String::new());
            lines.push(e.content.clone());
            lines.push(String::new());
        }
        format!("{}\n", lines.join("\n").trim_end())
    };
    fs::write(dir.join("USER.md"), render("USER", &user))?;
    fs::write(dir.join("MEMORY.md"), render("MEMORY", &global))?;
    Ok(())
}

fn start_payload(layout: &Layout, event: &str, session: &str, transcript: &Path) -> Value {
    json!({
        "session_id": session,
        "transcript_path": transcript,
        "cwd": layout.repo,
        "hook_event_name": event,
        "model": "gpt-5-codex",
        "permission_mode": "default",
        "source": "startup",
    })
}

fn gen_start(layout: &Layout, vocab: &Vocab) -> Result<()> {
    let case = layout.case("start");
    let mut rng = Rng::new(1);
    let entries = gen_entries(vocab, &mut rng, START_ENTRIES.0, START_ENTRIES.1);
    let (_, store) = open_store(&layout.csep_home("start"))?;
    let project = repo_project(&store, &layout.repo)?;
    insert_entries(&store, &project, &entries)?;
    write_ref_memory(
        &ref_bucket(&layout.ref_home("start"), &layout.repo),
        &entries,
    )?;
    let transcript = case.join("rollout-start.jsonl");
    fs::write(&transcript, "")?;
    let session = rng.uuid();
    write_json(
        &case.join("payload.json"),
        &start_payload(layout, "SessionStart", &session, &transcript),
    )
}

fn gen_stop(layout: &Layout, vocab: &Vocab, sizes: Sizes) -> Result<()> {
    let case = layout.case("stop");
    fs::create_dir_all(&case)?;
    let mut rng = Rng::new(2);
    let repo = layout.repo.to_string_lossy().into_owned();
    for (name, bytes) in [("big", sizes.stop_bytes()), ("small", 0)] {
        let id = rng.uuid();
        let text = big_rollout(
            vocab,
            &mut rng,
            id.clone(),
            &repo,
            bytes,
            Shape::Conversation,
        );
        let transcript = case.join(format!("rollout-{name}.jsonl"));
        fs::write(&transcript, text)?;
        let mut payload = start_payload(layout, "Stop", &id, &transcript);
        payload["turn_id"] = json!(format!("{id}-t1"));
        payload["stop_hook_active"] = json!(false);
        payload["last_assistant_message"] = json!("Done: the tests pass.");
        if let Some(map) = payload.as_object_mut() {
            map.remove("source");
        }
        write_json(&case.join(format!("payload-{name}.json")), &payload)?;
    }
    // Both homes exist before the first run (csep's database created and migrated).
    let (_, store) = open_store(&layout.csep_home("stop"))?;
    repo_project(&store, &layout.repo)?;
    fs::create_dir_all(layout.ref_home("stop"))?;
    Ok(())
}

/// One generated recall entry (both formats).
struct GenRecall {
    other: Option<usize>,
    summary: String,
    content: String,
    trigger: String,
    path: String,
    thread: String,
}

fn gen_recall(layout: &Layout, vocab: &Vocab, n: usize, archive_messages: usize) -> Result<()> {
    let name = Layout::recall_case(n);
    let mut rng = Rng::new(3);
    let records: Vec<GenRecall> = (0..n)
        .map(|_| GenRecall {
            other: (rng.below(2) == 0).then(|| rng.below(OTHER_PROJECTS)),
            summary: vocab.prose(&mut rng, 6, 12),
            content: vocab.prose(&mut rng, 20, 45),
            trigger: format!("when touching {}", vocab.word(&mut rng)),
            path: format!("src/{}.rs", vocab.word(&mut rng)),
            thread: rng.uuid(),
        })
        .collect();

    let (_, mut store) = open_store(&layout.csep_home(&name))?;
    let project = repo_project(&store, &layout.repo)?;
    let others: Vec<String> = (0..OTHER_PROJECTS)
        .map(|i| other_project(&store, i))
        .collect::<Result<_>>()?;
    {
        let conn = store.conn();
        conn.execute_batch("BEGIN")?;
        for r in &records {
            let pid = match r.other {
                Some(i) => others[i].clone(),
                None => project.clone(),
            };
            let entry = RecallEntry {
                id: recall_id(Scope::Project, Some(&pid), &r.content),
                scope: Scope::Project,
                project_id: Some(pid),
                summary: r.summary.clone(),
                content: r.content.clone(),
                trigger_text: Some(r.trigger.clone()),
                paths: vec![r.path.clone()],
                provenance: Provenance {
                    sessions: vec![r.thread.clone()],
                    ..Provenance::default()
                },
                status: "active".into(),
                created_at: NOW.into(),
            };
            insert_recall(conn, &entry, NOW)?;
        }
        conn.execute_batch("COMMIT")?;
    }
    if archive_messages > 0 {
        gen_archive(
            layout,
            vocab,
            &mut store,
            &project,
            &others,
            archive_messages,
        )?;
    }
    drop(store);

    let repo = layout.repo.to_string_lossy().into_owned();
    let fingerprint = sha1_hex(&repo);
    let json_records: Vec<Value> = records
        .iter()
        .map(|r| {
            let (cwd, fp) = match r.other {
                Some(i) => (other_dir(i), sha1_hex(&other_dir(i))),
                None => (repo.clone(), fingerprint.clone()),
            };
            json!({"content": r.content, "cwd": cwd, "id": &sha1_hex(&r.content)[..12],
                   "repo_fingerprint": fp, "source_paths": [r.path],
                   "source_updated_at": NOW_REF, "summary": r.summary,
                   "thread_id": r.thread, "turn_id": ""})
        })
        .collect();
    let bucket = ref_bucket(&layout.ref_home(&name), &layout.repo);
    write_json(
        &bucket.join("recall").join("index.json"),
        &json!({"records": json_records}),
    )
}

/// Archives `messages` messages in sessions of [`MESSAGES_PER_SESSION`], each written as a Codex
/// rollout and ingested with `archive::ingest::ingest_transcript` (then the file is deleted).
/// 30 % of sessions belong to the benchmark project, the rest to the other projects.
fn gen_archive(
    layout: &Layout,
    vocab: &Vocab,
    store: &mut Store,
    project: &str,
    others: &[String],
    messages: usize,
) -> Result<()> {
    let started = Instant::now();
    let mut rng = Rng::new(4);
    let tmp = layout.dir.join("archive-tmp");
    fs::create_dir_all(&tmp)?;
    let repo = layout.repo.to_string_lossy().into_owned();
    let sessions = messages.div_ceil(MESSAGES_PER_SESSION);
    let mut inserted = 0u64;
    for s in 0..sessions {
        let (cwd, pid) = if s % 10 < 3 {
            (repo.clone(), project.to_owned())
        } else {
            let i = rng.below(others.len());
            (other_dir(i), others[i].clone())
        };
        let mut r = Rollout::new(rng.uuid(), &cwd, (s as u64) * 3_600);
        let mut text = r.meta();
        let turns = MESSAGES_PER_SESSION.min(messages - s * MESSAGES_PER_SESSION) / 4;
        for _ in 0..turns {
            text.push_str(&r.turn_context());
            text.push_str(&r.user(&vocab.prose(&mut rng, 8, 30)));
            let cmd = format!("rg {} src", vocab.word(&mut rng));
            text.push_str(&r.tool(&cmd, &vocab.prose(&mut rng, 10, 40)));
            text.push_str(&r.assistant(&vocab.prose(&mut rng, 15, 60)));
        }
        let path = tmp.join(format!("rollout-{s:05}-{}.jsonl", r.id));
        fs::write(&path, text)?;
        let report = ingest_transcript(store, Host::Codex, &path, Some(&pid), None)?;
        inserted += report.messages_inserted;
        fs::remove_file(&path)?;
        if s % 100 == 99 {
            eprintln!(
                "  archive: {} sessions, {inserted} messages, {:.0}s",
                s + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    fs::remove_dir_all(&tmp)?;
    eprintln!(
        "  archive: {inserted} messages in {sessions} sessions, {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One generated reviewer suggestion (both formats).
enum GenOp {
    Add {
        user: bool,
        summary: String,
        content: String,
    },
    Replace {
        old: String,
        summary: String,
        content: String,
    },
    Remove {
        old: String,
    },
    Recall {
        summary: String,
        content: String,
        trigger: String,
        path: String,
    },
}

fn gen_ops(vocab: &Vocab, rng: &mut Rng, seeded: &[GenEntry], n: usize) -> Vec<GenOp> {
    (0..n)
        .map(|i| match i % 20 {
            // exact duplicate of a stored entry
            0 | 1 => {
                let e = &seeded[rng.below(seeded.len())];
                GenOp::Add {
                    user: false,
                    summary: e.summary.clone(),
                    content: e.content.clone(),
                }
            }
            2 | 3 => GenOp::Replace {
                old: seeded[rng.below(seeded.len())].summary.clone(),
                summary: vocab.prose(rng, 6, 12),
                content: vocab.prose(rng, 15, 40),
            },
            4 => GenOp::Remove {
                old: seeded[rng.below(seeded.len())].summary.clone(),
            },
            5..=7 => GenOp::Recall {
                summary: vocab.prose(rng, 6, 12),
                content: vocab.prose(rng, 20, 45),
                trigger: format!("when touching {}", vocab.word(rng)),
                path: format!("src/{}.rs", vocab.word(rng)),
            },
            8 => GenOp::Add {
                user: false,
                summary: format!("MR !{} merged and pushed today", rng.below(1000)),
                content: String::new(),
            },
            _ => GenOp::Add {
                user: i % 20 == 9,
                summary: vocab.prose(rng, 6, 12),
                content: vocab.prose(rng, 15, 40),
            },
        })
        .collect()
}

fn to_operation(op: &GenOp) -> Operation {
    match op {
        GenOp::Add {
            user,
            summary,
            content,
        } => Operation::Add {
            scope: if *user { Scope::User } else { Scope::Project },
            kind: Kind::Rule,
            summary: summary.clone(),
            content: content.clone(),
            evidence: vec![],
            confidence: Some(0.8),
        },
        GenOp::Replace {
            old,
            summary,
            content,
        } => Operation::Replace {
            id: old.clone(),
            summary: summary.clone(),
            content: content.clone(),
            kind: None,
            evidence: vec![],
            confidence: Some(0.8),
        },
        GenOp::Remove { old } => Operation::Remove {
            id: old.clone(),
            reason: "outdated".into(),
        },
        GenOp::Recall {
            summary,
            content,
            trigger,
            path,
        } => Operation::Recall {
            scope: Scope::Project,
            summary: summary.clone(),
            content: content.clone(),
            trigger: trigger.clone(),
            paths: vec![path.clone()],
            evidence: vec![],
        },
    }
}

fn to_ref_suggestion(op: &GenOp) -> Value {
    match op {
        GenOp::Add {
            user,
            summary,
            content,
        } => json!({"family": "memory_updates", "summary": summary, "confidence": 0.8,
                    "details": {"action": "add", "content": content,
                                "scope": if *user { "user" } else { "global" }}}),
        GenOp::Replace {
            old,
            summary,
            content,
        } => json!({"family": "memory_updates", "summary": summary, "confidence": 0.8,
                    "details": {"action": "replace", "old_summary": old, "content": content,
                                "scope": "global"}}),
        GenOp::Remove { old } => json!({"family": "memory_updates", "summary": "outdated",
                    "confidence": 0.8,
                    "details": {"action": "remove", "old_summary": old, "scope": "global"}}),
        GenOp::Recall {
            summary,
            content,
            trigger,
            path,
        } => json!({"family": "recall_candidate", "summary": summary, "confidence": 0.8,
                    "details": {"content": content, "reuse_trigger": trigger,
                                "source_paths": [path]}}),
    }
}

fn gen_compile(layout: &Layout, vocab: &Vocab, sizes: Sizes) -> Result<()> {
    let mut rng = Rng::new(5);
    let seeded = gen_entries(vocab, &mut rng, 0, sizes.compile_entries());
    let envelopes: Vec<Vec<GenOp>> = (0..COMPILE_ENVELOPES)
        .map(|_| gen_ops(vocab, &mut rng, &seeded, sizes.ops_per_envelope()))
        .collect();

    let home = layout.csep_home("compile");
    let (paths, store) = open_store(&home)?;
    // A 10k-entry store: budgets raised so the compile keeps every entry (and dedupes against
    // all of them, the worst case), as the reference, which has no budgets, does.
    fs::write(
        paths.config(),
        "[memory]\nuser_budget_chars = 100000000\nproject_budget_chars = 100000000\n",
    )?;
    let project = repo_project(&store, &layout.repo)?;
    insert_entries(&store, &project, &seeded)?;
    for (e, ops) in envelopes.iter().enumerate() {
        queue::enqueue(
            &store,
            &NewEnvelope {
                project_id: Some(project.clone()),
                host: Some("codex".into()),
                session_id: Some(format!("bench-session-{e}")),
                turn_id: Some("t1".into()),
                provider: "bench".into(),
                payload: ReviewOutput {
                    operations: ops.iter().map(to_operation).collect(),
                },
                now: NOW.into(),
            },
        )?;
    }
    drop(store);

    let bucket = ref_bucket(&layout.ref_home("compile"), &layout.repo);
    write_ref_memory(&bucket, &seeded)?;
    let repo = layout.repo.to_string_lossy().into_owned();
    for (e, ops) in envelopes.iter().enumerate() {
        let key = &sha1_hex(&format!("bench-session-{e}"))[..16];
        let id = &sha1_hex(&format!("{key}-{NOW_REF}"))[..16];
        let envelope = json!({
            "schema_version": 1, "suggestion_id": id, "idempotency_key": key,
            "thread_id": format!("bench-session-{e}"), "cwd": repo,
            "repo_fingerprint": sha1_hex(&repo), "reviewer_timestamp": NOW_REF,
            "suggestions": ops.iter().map(to_ref_suggestion).collect::<Vec<_>>(),
            "source_authority": ["transcript"], "state": "pending", "attempt_count": 0,
            "review_snapshot_path": null, "failure_reason": null,
            "transition_log": [{"at": NOW_REF, "from": "", "to": "pending", "reason": "bench"}],
        });
        write_json(
            &bucket
                .join("suggestions")
                .join("pending")
                .join(format!("{id}.json")),
            &envelope,
        )?;
    }
    Ok(())
}

/// The conversation-only ingest case: one rollout of [`Sizes::ingest_bytes`] of conversation
/// items ([`Shape::Conversation`]), the densest a rollout gets.
fn ensure_ingest(layout: &Layout, vocab: &Vocab, sizes: Sizes) -> Result<()> {
    let wanted = format!("bytes={} {PAYLOAD_ORDER}\n", sizes.ingest_bytes());
    ensure_case(
        layout,
        "ingest",
        &wanted,
        "conversation-only ingest rollout",
        |dir| write_ingest_rollout(layout, vocab, sizes, dir, Shape::Conversation),
    )
}

/// The single rollout of an ingest case, in `dir`: [`Sizes::ingest_bytes`] of `shape`.
fn write_ingest_rollout(
    layout: &Layout,
    vocab: &Vocab,
    sizes: Sizes,
    dir: &Path,
    shape: Shape,
) -> Result<()> {
    let mut rng = Rng::new(6);
    let id = rng.uuid();
    let repo = layout.repo.to_string_lossy().into_owned();
    let text = big_rollout(
        vocab,
        &mut rng,
        id.clone(),
        &repo,
        sizes.ingest_bytes(),
        shape,
    );
    fs::write(
        dir.join(format!("rollout-2026-05-01T00-00-00-{id}.jsonl")),
        text,
    )?;
    Ok(())
}

/// Generates an ingest case on its own, into `<case>/sessions`, unless its marker file says it
/// is complete with the same parameters (`wanted`); so a corpus stamped before the case existed
/// gains it without being regenerated.
fn ensure_case(
    layout: &Layout,
    name: &str,
    wanted: &str,
    label: &str,
    generate: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let case = layout.case(name);
    let marker = case.join("complete");
    if fs::read_to_string(&marker).ok().as_deref() == Some(wanted) {
        return Ok(());
    }
    let t = Instant::now();
    if case.exists() {
        fs::remove_dir_all(&case)?;
    }
    let dir = case.join("sessions");
    fs::create_dir_all(&dir)?;
    generate(&dir)?;
    fs::write(&marker, wanted)?;
    eprintln!("corpus: {label} in {:.1}s", t.elapsed().as_secs_f64());
    Ok(())
}

/// The Codex-format ingest case: a rollout of [`Sizes::ingest_bytes`] holding the conversation
/// of the single-rollout case written as Codex 0.169 writes it ([`Shape::Codex`]).
fn ensure_ingest_codex(layout: &Layout, vocab: &Vocab, sizes: Sizes) -> Result<()> {
    let wanted = format!(
        "bytes={} format=codex-0.169 v3 {PAYLOAD_ORDER}\n",
        sizes.ingest_bytes()
    );
    ensure_case(
        layout,
        "ingest-codex",
        &wanted,
        "Codex-format ingest rollout",
        |dir| write_ingest_rollout(layout, vocab, sizes, dir, Shape::Codex),
    )
}

/// The many-files import case: [`INGEST_MANY_FILES`] rollouts of [`INGEST_MANY_BYTES`] in one
/// directory, as a sessions directory holds them.
fn ensure_ingest_many(layout: &Layout, vocab: &Vocab, sizes: Sizes) -> Result<()> {
    let wanted = format!(
        "files={} bytes={} {PAYLOAD_ORDER}\n",
        sizes.ingest_many_files(),
        INGEST_MANY_BYTES
    );
    let label = format!("many-files import ({} rollouts)", sizes.ingest_many_files());
    ensure_case(layout, "ingest-many", &wanted, &label, |dir| {
        let mut rng = Rng::new(7);
        let repo = layout.repo.to_string_lossy().into_owned();
        for i in 0..sizes.ingest_many_files() {
            let id = rng.uuid();
            let text = big_rollout(
                vocab,
                &mut rng,
                id.clone(),
                &repo,
                INGEST_MANY_BYTES,
                Shape::Conversation,
            );
            fs::write(
                dir.join(format!(
                    "rollout-2026-05-01T00-{:02}-{:02}-{id}.jsonl",
                    i / 60,
                    i % 60
                )),
                text,
            )?;
        }
        Ok(())
    })
}

/// Generates the corpus under `layout.dir` unless a corpus with the same parameters is there.
pub fn ensure(layout: &Layout, sizes: Sizes) -> Result<()> {
    let stamp = format!(
        "version={CORPUS_VERSION} quick={} archive_messages={} dir={}\n",
        sizes.quick,
        sizes.archive_messages,
        layout.dir.display()
    );
    let stamp_path = layout.dir.join("stamp");
    if fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        eprintln!("corpus: reusing {}", layout.dir.display());
        let vocab = Vocab::new();
        ensure_ingest(layout, &vocab, sizes)?;
        ensure_ingest_many(layout, &vocab, sizes)?;
        ensure_ingest_codex(layout, &vocab, sizes)?;
        return migrate_stores(layout);
    }
    if layout.dir.exists() {
        fs::remove_dir_all(&layout.dir)
            .with_context(|| format!("clearing {}", layout.dir.display()))?;
    }
    fs::create_dir_all(&layout.repo)?;
    let started = Instant::now();
    let vocab = Vocab::new();
    let step = |name: &str, f: &dyn Fn() -> Result<()>| -> Result<()> {
        let t = Instant::now();
        f().with_context(|| format!("generating {name}"))?;
        eprintln!("corpus: {name} in {:.1}s", t.elapsed().as_secs_f64());
        Ok(())
    };
    step("session-start (200 memory entries)", &|| {
        gen_start(layout, &vocab)
    })?;
    step("stop transcripts", &|| gen_stop(layout, &vocab, sizes))?;
    for n in sizes.recall() {
        let archive = if n == sizes.recall_max() {
            sizes.archive_messages
        } else {
            0
        };
        step(&format!("recall {n} entries + {archive} messages"), &|| {
            gen_recall(layout, &vocab, n, archive)
        })?;
    }
    step("compile store and queue", &|| {
        gen_compile(layout, &vocab, sizes)
    })?;
    ensure_ingest(layout, &vocab, sizes)?;
    ensure_ingest_many(layout, &vocab, sizes)?;
    ensure_ingest_codex(layout, &vocab, sizes)?;
    fs::write(&stamp_path, stamp)?;
    eprintln!(
        "corpus: generated in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
