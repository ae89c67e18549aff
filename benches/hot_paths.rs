//! In-process benchmarks of csep's hot paths (criterion): session-start rendering and the whole
//! hook in process, recall search over 10k entries, the analyzer, redaction and Codex
//! transcript parsing. `cargo bench --bench hot_paths` (add `-- NAME` to run one).
//!
//! The corpus text comes from the same seeded generator as the whole-process comparison
//! (`examples/compare/text.rs`), so the figures here explain the ones in `bench/compare.sh`.
//! Benchmarks, not tests: nothing here asserts a timing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "a benchmark aborts loudly; criterion's macros generate undocumented items"
)]

#[path = "../examples/compare/text.rs"]
#[allow(dead_code, reason = "the benchmarks use part of the generator")]
mod text;

use std::hint::black_box;
use std::path::Path;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use csep::hooks::session_start::{InjectedEntry, render};
use csep::hooks::{HookCtx, HookRequest};
use csep::host::Host;
use csep::memory::entry::Provenance;
use csep::memory::store::{
    RecallEntry, insert_entry, insert_recall, new_entry, new_entry_id, recall_id,
};
use csep::memory::{Kind, Scope};
use csep::recall::analyze::{analyze, match_expr};
use csep::recall::search::{self, SearchContext, SearchOptions};
use csep::store::config::Config;
use csep::store::db::Store;
use csep::store::identity::RepoIdentity;
use csep::store::paths::Paths;
use csep::store::project;

use text::{QUERY, Rng, Shape, Vocab, big_rollout};

const NOW: &str = "2026-05-20T10:00:00.000Z";

fn entries(vocab: &Vocab, n: usize) -> Vec<InjectedEntry> {
    let mut rng = Rng::new(1);
    (0..n)
        .map(|i| InjectedEntry {
            id: format!("m_{i:012x}"),
            scope: if i < n / 4 { "user" } else { "project" }.into(),
            kind: "rule".into(),
            summary: vocab.prose(&mut rng, 6, 12),
            content: vocab.prose(&mut rng, 15, 40),
            sessions: i % 3,
            last_session: Some(format!("0199a000-{i:04}")),
            updated_at: NOW.into(),
        })
        .collect()
}

/// A home with 50 user and 150 project memory entries for `repo`.
fn start_home(vocab: &Vocab, home: &Path, repo: &Path) -> Paths {
    let paths = Paths::at(home);
    paths.ensure_home().unwrap();
    let store = Store::open(&paths.db()).unwrap();
    let identity = RepoIdentity::resolve(repo).unwrap();
    let project = project::upsert(&store, &identity, NOW).unwrap().id;
    let mut rng = Rng::new(1);
    for i in 0..200 {
        let (scope, pid) = if i < 50 {
            (Scope::User, None)
        } else {
            (Scope::Project, Some(project.clone()))
        };
        let summary = vocab.prose(&mut rng, 6, 12);
        let content = vocab.prose(&mut rng, 15, 40);
        let id = new_entry_id(
            store.conn(),
            scope,
            pid.as_deref(),
            &format!("{summary}\n{content}"),
        )
        .unwrap();
        let entry = new_entry(
            id,
            scope,
            pid,
            Kind::Rule,
            summary,
            content,
            Provenance::default(),
            0.8,
            NOW,
        );
        insert_entry(store.conn(), &entry).unwrap();
    }
    paths
}

fn bench_session_start(c: &mut Criterion) {
    let vocab = Vocab::new();
    let list = entries(&vocab, 200);
    c.bench_function("session_start/render_200_entries", |b| {
        b.iter(|| render(black_box(&list), Some("repo"), true, 2000));
    });

    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let paths = start_home(&vocab, &dir.path().join("home"), &repo);
    let ctx = || HookCtx {
        paths: paths.clone(),
        config: Config::default(),
        exe: None,
        is_child_session: false,
        no_spawn: true,
        store: std::cell::OnceCell::new(),
        writes: csep::hooks::WriteBudget::default(),
    };
    let payload = serde_json::json!({
        "session_id": "0199a000-0000-7000-8000-000000000001",
        "transcript_path": dir.path().join("rollout.jsonl"),
        "cwd": repo,
        "hook_event_name": "SessionStart",
        "model": "gpt-5-codex",
        "source": "startup",
    })
    .to_string();
    // A fresh context per run: the database open is part of the hook (its close is not timed).
    c.bench_function("session_start/hook_in_process_200_entries", |b| {
        b.iter_batched(
            ctx,
            |ctx| {
                let answer = csep::hooks::run(
                    &ctx,
                    HookRequest::SessionStart,
                    Some(Host::Codex),
                    black_box(payload.as_bytes()),
                );
                (ctx, answer)
            },
            BatchSize::SmallInput,
        );
    });
}

fn bench_recall(c: &mut Criterion) {
    let vocab = Vocab::new();
    let mut rng = Rng::new(3);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("csep.db")).unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let identity = RepoIdentity::resolve(&repo).unwrap();
    let project = project::upsert(&store, &identity, NOW).unwrap().id;
    store.conn().execute_batch("BEGIN").unwrap();
    for _ in 0..10_000 {
        let content = vocab.prose(&mut rng, 20, 45);
        let entry = RecallEntry {
            id: recall_id(Scope::Project, Some(&project), &content),
            scope: Scope::Project,
            project_id: Some(project.clone()),
            summary: vocab.prose(&mut rng, 6, 12),
            content,
            trigger_text: None,
            paths: vec![],
            provenance: Provenance::default(),
            status: "active".into(),
            created_at: NOW.into(),
        };
        insert_recall(store.conn(), &entry, NOW).unwrap();
    }
    store.conn().execute_batch("COMMIT").unwrap();
    let ctx = SearchContext {
        project_id: Some(&project),
        cwd: Some(&repo),
        now: NOW.parse().unwrap(),
    };
    let opts = SearchOptions::default();
    c.bench_function("recall/search_10k_entries", |b| {
        b.iter(|| search::search(&store, black_box(QUERY), &ctx, &opts).unwrap());
    });
}

fn bench_analyzer(c: &mut Criterion) {
    let vocab = Vocab::new();
    let mut rng = Rng::new(7);
    let english = vocab.prose(&mut rng, 200, 200);
    let chinese = "订单服务在高峰期超时，重试三次以后仍然失败。我们检查了数据库连接池的配置，\
                   发现最大连接数太小，调大以后问题消失。下次遇到类似问题先看连接池。"
        .repeat(4);
    let code = "fn parse_file_from(path: &Path) -> Result<TranscriptChunk> { \
                let hooksJson = read_to_string(\"~/.codex/hooks.json\")?; HTTPServer::new(utf8) }"
        .repeat(4);
    let _ = analyze(&chinese); // loads the jieba dictionary once, outside the timing
    let mut group = c.benchmark_group("analyzer");
    for (name, text) in [
        ("english", &english),
        ("chinese", &chinese),
        ("code", &code),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| b.iter(|| analyze(black_box(text))));
    }
    group.finish();
    c.bench_function("analyzer/match_expr", |b| {
        b.iter(|| match_expr(black_box("\"connection pool\" retry timeout -flaky sqlite")));
    });
}

fn bench_redaction(c: &mut Criterion) {
    let vocab = Vocab::new();
    let mut rng = Rng::new(8);
    let clean = text::tool_output(&vocab, &mut rng, 4096);
    let secrets = format!(
        "{clean}\nexport OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd\n\
         Authorization: Bearer ghp_0123456789abcdefghijABCDEFGHIJ012345\n\
         postgres://admin:hunter2secret@db.internal:5432/app\n"
    );
    let _ = csep::archive::redact::redact("warm up"); // compiles the patterns once
    let mut group = c.benchmark_group("redaction");
    // Worst cases of the command-line rules: one 20 KB line of commands whose values are all
    // rejected, and many short command lines (each command word is tried once, anchored, to
    // the end of its line); many short lines before an END line (the key-tail rule walks them
    // once).
    let commands =
        "mysql -uroot -p$X; curl -u x:$Y; docker login -p $Z; redis-cli -a a.; ".repeat(300);
    let key_tail = format!("{}-----END PRIVATE KEY-----", "abc\n".repeat(5000));
    let command_lines =
        "mysql -h db -e 'select 1'\nredis-cli GET k\ncurl -s https://example.com/api\n".repeat(300);
    // One command of 16 KB whose password flags are all rejected (later flags are looked at).
    let rejected_flags = format!("keytool -list {}", "-storepass $P -keypass -v ".repeat(640));
    for (name, text) in [
        ("clean_4k", &clean),
        ("rejected_flags_16k", &rejected_flags),
        ("with_secrets_4k", &secrets),
        ("rejected_commands_20k", &commands),
        ("short_lines_before_an_end_line_20k", &key_tail),
        ("short_command_lines_20k", &command_lines),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| csep::archive::redact::redact(black_box(text)));
        });
    }
    group.finish();
}

fn bench_transcript(c: &mut Criterion) {
    let vocab = Vocab::new();
    let mut rng = Rng::new(9);
    let rollout = big_rollout(
        &vocab,
        &mut rng,
        "0199a000-0000-7000-8000-000000000009".into(),
        "/bench/repo",
        1024 * 1024,
        Shape::Conversation,
    );
    let mut group = c.benchmark_group("transcript");
    group.throughput(Throughput::Bytes(rollout.len() as u64));
    group.bench_function("parse_codex_rollout_1mib", |b| {
        b.iter(|| {
            csep::host::transcript::parse_chunk(Host::Codex, black_box(rollout.as_bytes()), 0)
        });
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_session_start,
    bench_recall,
    bench_analyzer,
    bench_redaction,
    bench_transcript
);
criterion_main!(benches);
