//! `csep demo`: the whole loop, offline, on sample sessions shipped in the binary.
//!
//! In a temporary home and a temporary project directory, four sample sessions (three Codex
//! rollouts and a Claude Code transcript, `demo/sessions/`, in the hosts' real JSONL formats)
//! go through the same code a real install runs: each is recorded by the Stop hook's foreground
//! ([`crate::hooks::stop::record`]), the worker drains the events (ingest → offline review →
//! queue → deterministic compile → skill usage), then SessionStart renders the next session's
//! context, `csep recall` answers a question, and skill synthesis runs as a dry run. Nothing is
//! canned: every line printed comes from the store the pipeline wrote.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::hooks::session_start;
use crate::host::Host;
use crate::host::transcript::{HookEvent, HookKind};
use crate::memory::store::{ListFilter, list_entries};
use crate::recall::render::{self, RecallResponse, Status};
use crate::recall::search::{self, SearchContext, SearchOptions};
use crate::skills::publish::Roots;
use crate::skills::run::{NoProgress, SynthesisOptions, SynthesisReceipt, run_synthesis};
use crate::skills::synth::OfflineSynthesizer;
use crate::store::config::Config;
use crate::store::db::Store;
use crate::store::env::Env;
use crate::store::identity::RepoIdentity;
use crate::store::paths::Paths;
use crate::worker::stages::{CompileStage, IngestStage, ReviewStage, SkillUsageStage};
use crate::worker::{self, Stage, WorkerReport};

/// The project directory the samples were recorded in; replaced by the demo's own directory.
const SAMPLE_CWD: &str = "/home/dev/shopfront";

/// One sample session: host, session id, file name and contents.
const SAMPLES: [(Host, &str, &str, &str); 4] = [
    (
        Host::Codex,
        "0199a000-0000-7000-8000-000000000001",
        "rollout-2026-11-20T09-00-00-0199a000-0000-7000-8000-000000000001.jsonl",
        include_str!(
            "../demo/sessions/rollout-2026-11-20T09-00-00-0199a000-0000-7000-8000-000000000001.jsonl"
        ),
    ),
    (
        Host::Codex,
        "0199a000-0000-7000-8000-000000000002",
        "rollout-2026-11-21T09-00-00-0199a000-0000-7000-8000-000000000002.jsonl",
        include_str!(
            "../demo/sessions/rollout-2026-11-21T09-00-00-0199a000-0000-7000-8000-000000000002.jsonl"
        ),
    ),
    (
        Host::Codex,
        "0199a000-0000-7000-8000-000000000003",
        "rollout-2026-11-23T09-00-00-0199a000-0000-7000-8000-000000000003.jsonl",
        include_str!(
            "../demo/sessions/rollout-2026-11-23T09-00-00-0199a000-0000-7000-8000-000000000003.jsonl"
        ),
    ),
    (
        Host::Claude,
        "6a1f0e2c-0000-4000-8000-000000000004",
        "6a1f0e2c-0000-4000-8000-000000000004.jsonl",
        include_str!("../demo/sessions/6a1f0e2c-0000-4000-8000-000000000004.jsonl"),
    ),
];

/// The question the demo asks recall.
pub const DEMO_QUERY: &str = "how do we run the tests";

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Preparing the temporary files failed.
    #[error("cannot prepare the demo in {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A pipeline stage failed.
    #[error("demo step `{step}` failed: {message}")]
    Step {
        /// Which step.
        step: &'static str,
        /// What went wrong.
        message: String,
    },
}

fn step<E: std::fmt::Display>(step: &'static str) -> impl Fn(E) -> DemoError {
    move |e| DemoError::Step {
        step,
        message: e.to_string(),
    }
}

/// One learned memory entry, as shown.
#[derive(Debug, Clone, Serialize)]
pub struct Learned {
    /// Entry id.
    pub id: String,
    /// `user` or `project`.
    pub scope: String,
    /// Kind.
    pub kind: String,
    /// Summary.
    pub summary: String,
    /// Sessions it came from.
    pub sessions: Vec<String>,
}

/// Everything the demo did and found.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    /// The temporary home.
    pub home: PathBuf,
    /// The temporary project directory.
    pub project_dir: PathBuf,
    /// Sessions fed in: (host, session id).
    pub sessions: Vec<(Host, String)>,
    /// What the worker did.
    pub worker: WorkerReport,
    /// Messages archived.
    pub archived_messages: i64,
    /// Memory learned, user scope first.
    pub learned: Vec<Learned>,
    /// The SessionStart context the next session in this project would get.
    pub session_start_context: String,
    /// The recall question.
    pub recall_query: String,
    /// The recall answer (Markdown, as the agent sees it).
    pub recall_markdown: String,
    /// The skill synthesis dry run.
    pub skills: SynthesisReceipt,
}

/// Runs the demo with its home in `root/home` and its project in `root/shopfront`.
pub fn run(root: &Path) -> Result<DemoReport, DemoError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DemoError::Io {
            path: path.clone(),
            source,
        }
    };
    let paths = Paths::at(root.join("home"));
    paths.ensure_home().map_err(step("prepare home"))?;
    let project_dir = root.join("shopfront");
    std::fs::create_dir_all(&project_dir).map_err(io(&project_dir))?;
    let transcripts = root.join("transcripts");
    std::fs::create_dir_all(&transcripts).map_err(io(&transcripts))?;
    let project_json = serde_json::to_string(&project_dir.to_string_lossy())
        .map_err(step("prepare transcripts"))?;
    let project_json = project_json.trim_matches('"');

    let mut store = Store::open(&paths.db()).map_err(step("open store"))?;
    let mut sessions = Vec::new();
    for (host, session_id, name, text) in SAMPLES {
        let path = transcripts.join(name);
        std::fs::write(&path, text.replace(SAMPLE_CWD, project_json)).map_err(io(&path))?;
        let event = HookEvent {
            host,
            kind: HookKind::Stop,
            session_id: Some(session_id.to_owned()),
            cwd: Some(project_dir.clone()),
            transcript_path: Some(path),
            prompt: None,
            turn_id: None,
            source: None,
            stop_hook_active: false,
            last_assistant_message: None,
            model: None,
        };
        crate::hooks::stop::record(&store, &event, None).map_err(step("stop hook"))?;
        sessions.push((host, session_id.to_owned()));
    }

    // The worker, with the configuration a fresh install has: offline reviewer, script compile.
    let config = Config::default();
    let env = Env::from_pairs(Vec::<(String, String)>::new());
    let review = ReviewStage {
        config: &config,
        env: &env,
        failpoint: None,
    };
    let compile = CompileStage {
        paths: &paths,
        config: &config,
    };
    let stages: [&dyn Stage; 4] = [&IngestStage, &review, &compile, &SkillUsageStage];
    let worker = worker::run(&paths, &mut store, &stages, None).map_err(step("worker"))?;

    let archived_messages: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .map_err(step("count messages"))?;
    let identity = RepoIdentity::resolve(&project_dir).map_err(step("project identity"))?;
    let project_id = identity.project_id();
    let entries = list_entries(
        store.conn(),
        &ListFilter {
            scope: None,
            project_id: Some(&project_id),
            statuses: None,
        },
    )
    .map_err(step("list memory"))?;
    let mut learned: Vec<Learned> = entries
        .iter()
        .map(|e| Learned {
            id: e.id.clone(),
            scope: e.scope.to_string(),
            kind: e.kind.to_string(),
            summary: e.summary.clone(),
            sessions: e.provenance.sessions.clone(),
        })
        .collect();
    learned.sort_by(|a, b| b.scope.cmp(&a.scope).then(a.kind.cmp(&b.kind)));

    let injected =
        session_start::load_entries(&store, Some(&project_id)).map_err(step("session start"))?;
    let budget = usize::try_from(config.hooks.session_start_budget_tokens).unwrap_or(2000);
    let context =
        session_start::render(&injected, Some(&identity.display_name()), true, budget).context;

    let search_ctx = SearchContext {
        project_id: Some(&project_id),
        cwd: Some(&project_dir),
        now: jiff::Timestamp::now(),
    };
    let opts = SearchOptions {
        top_k: 3,
        ..SearchOptions::default()
    };
    let outcome = search::search(&store, DEMO_QUERY, &search_ctx, &opts).map_err(step("recall"))?;
    let response = RecallResponse {
        query: DEMO_QUERY.to_owned(),
        cwd: project_dir.to_string_lossy().into_owned(),
        status: if outcome.hits.is_empty() {
            Status::NoMatch
        } else {
            Status::Matched
        },
        hits: outcome.hits,
        error: None,
        note: None,
        triggered: true,
        reasons: vec!["demo".to_owned()],
    };
    let recall_markdown = render::render_markdown(&response, 2500);

    let roots = Roots::new(
        &paths.home,
        Some(&root.join("codex-home")),
        Some(&root.join("claude-config")),
    );
    let mut opts = SynthesisOptions::from_config(&config.skills, jiff::Timestamp::now());
    opts.mode = crate::store::config::SkillsMode::Full;
    opts.lookback_days = 3650;
    opts.dry_run = true;
    opts.dry_run_dir = Some(root.join("skills-dry-run"));
    let skills = run_synthesis(&store, &roots, &OfflineSynthesizer, &opts, &NoProgress)
        .map_err(step("skill synthesis"))?;

    Ok(DemoReport {
        home: paths.home.clone(),
        project_dir,
        sessions,
        worker,
        archived_messages,
        learned,
        session_start_context: context,
        recall_query: DEMO_QUERY.to_owned(),
        recall_markdown,
        skills,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_learns_from_the_samples_through_the_real_pipeline() {
        let dir = tempfile::tempdir().unwrap();
        let report = run(dir.path()).unwrap();
        assert_eq!(report.worker.processed, 4);
        assert!(report.archived_messages > 30);
        let summaries: Vec<&str> = report.learned.iter().map(|l| l.summary.as_str()).collect();
        assert!(
            summaries.iter().any(|s| s.contains("cargo nextest run")),
            "{summaries:?}"
        );
        assert!(
            summaries.iter().any(|s| s.contains("中文")),
            "{summaries:?}"
        );
        assert!(
            summaries
                .iter()
                .any(|s| s.contains("docker compose up -d db")),
            "{summaries:?}"
        );
        assert!(
            report.learned.iter().all(|l| !l.sessions.is_empty()),
            "provenance missing"
        );
        assert!(report.session_start_context.contains("cargo nextest run"));
        assert!(
            report.recall_markdown.contains("Status: matched"),
            "{}",
            report.recall_markdown
        );
        // Dry run: nothing published into the (temporary) host roots.
        assert!(!dir.path().join("codex-home/skills").exists());
    }
}
