//! `compile`, `compile-preflight` and `scan`: drain the suggestion queue into memory.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::Ctx;
use super::args::{CompileArgs, PreflightArgs, ScanArgs};
use super::output::{print_json, table};
use crate::compile::{self, Backend, CompileOptions, CompileReport, RunStatus};
use crate::memory::apply::Outcome;
use crate::store::db::Store;
use crate::store::identity::RepoIdentity;
use crate::store::{project, time};

/// Opens (creating and migrating) the store of this home.
pub fn open_store(ctx: &Ctx) -> anyhow::Result<Store> {
    ctx.paths.ensure_home()?;
    let path = ctx.paths.db();
    Store::open(&path).with_context(|| format!("cannot open the database {}", path.display()))
}

/// Registers the project of `dir` (default: the current directory) and returns its id.
pub fn project_of(ctx: &Ctx, store: &Store, dir: Option<&Path>) -> anyhow::Result<String> {
    let dir = ctx.project_dir(dir)?;
    let identity = RepoIdentity::resolve(&dir)
        .with_context(|| format!("cannot resolve the project of {}", dir.display()))?;
    Ok(project::upsert(store, &identity, &time::now())?.id)
}

#[derive(Serialize)]
struct CompileOutput<'a> {
    status: &'static str,
    project_id: &'a str,
    backend: &'a str,
    processed_count: usize,
    runs: &'a [CompileReport],
}

/// The CLI name of an agent backend's provider.
fn provider_cli(provider: crate::store::config::Provider) -> &'static str {
    use crate::store::config::Provider as Kind;
    match provider {
        Kind::PiCli => "pi",
        Kind::OpencodeCli => "opencode",
        _ => "codex",
    }
}

/// The model behind the `llm` (active profile) and `agent:*` backends (`codex exec`, `pi`,
/// `opencode` with the user's own login and configuration), or why there is none.
fn consolidation_provider(
    ctx: &Ctx,
    config: &crate::store::config::Config,
    backend: &Backend,
) -> (Option<crate::llm::Provider>, Option<String>) {
    use crate::store::config::{Profile, Provider as Kind};
    let built = match backend {
        Backend::Script => return (None, None),
        Backend::Llm => match config.active_profile() {
            Some(profile) if profile.provider != Kind::Offline => {
                crate::llm::Provider::from_profile(&config.active_profile, profile, &ctx.env)
            }
            _ => {
                return (
                    None,
                    Some(
                        "the llm backend needs a provider profile (`csep config use NAME`)".into(),
                    ),
                );
            }
        },
        Backend::Agent(name) => {
            let provider = match name.as_str() {
                "" | "codex" => Kind::CodexCli,
                "pi" => Kind::PiCli,
                "opencode" => Kind::OpencodeCli,
                other => {
                    return (
                        None,
                        Some(format!(
                            "agent:{other} is not supported by csep; use agent:codex, agent:pi, \
                             agent:opencode or llm"
                        )),
                    );
                }
            };
            // The agent's own configuration picks the model; a profile with this provider
            // and a `model` (used through the `llm` backend) pins one.
            let profile = Profile {
                provider,
                timeout_seconds: if provider == Kind::CodexCli {
                    300.0
                } else {
                    900.0
                },
                ..Profile::default()
            };
            crate::llm::Provider::from_profile(
                &format!("agent:{}", provider_cli(provider)),
                &profile,
                &ctx.env,
            )
        }
    };
    match built {
        Ok(provider) => (Some(provider), None),
        Err(e) => (None, Some(e.to_string())),
    }
}

/// `compile`: one batch with `--once`, else batches until the queue is empty.
pub fn run(ctx: &Ctx, args: &CompileArgs) -> anyhow::Result<u8> {
    let backend: Backend = args.backend.parse()?;
    let config = ctx.load_config()?.config;
    let mut store = open_store(ctx)?;
    let project_id = project_of(ctx, &store, args.repo_root.as_deref())?;
    let (provider, why_not) = consolidation_provider(ctx, &config, &backend);
    let consolidator =
        provider
            .as_ref()
            .map(|provider| compile::consolidate::ProviderConsolidator {
                provider,
                caps: &config.budget,
            });
    let mut runs = Vec::new();
    // Bounded so a pathological queue cannot spin forever; each run claims a whole batch.
    for round in 0..10_000 {
        // After the first run, stop as soon as nothing is left: an empty run would only rebuild
        // the applier and re-render projections the previous run has just written.
        if round > 0 && !crate::queue::counts(store.conn(), &project_id, &time::now())?.has_work() {
            break;
        }
        let mut options = CompileOptions::new(time::now());
        options.backend = backend.clone();
        options.batch = args.batch_size.max(1);
        let mut report = compile::run_with(
            &mut store,
            &ctx.paths,
            &config,
            &project_id,
            &options,
            consolidator
                .as_ref()
                .map(|c| c as &dyn compile::consolidate::Consolidator),
        )?;
        if let (Some(why), None) = (&why_not, &consolidator) {
            report.reason = Some(format!(
                "{}; {why}",
                report.reason.clone().unwrap_or_default()
            ));
        }
        let stop = args.once || report.claimed == 0 || report.status != RunStatus::Ok;
        runs.push(report);
        if stop {
            break;
        }
    }
    let status = overall(&runs);
    if ctx.json {
        print_json(&CompileOutput {
            status: status.as_str(),
            project_id: &project_id,
            backend: &backend.to_string(),
            processed_count: runs.iter().map(|r| r.processed).sum(),
            runs: &runs,
        })?;
    } else {
        for r in &runs {
            print!("{}", render_report(r));
        }
    }
    Ok(match status {
        RunStatus::Ok | RunStatus::Skipped => 0,
        RunStatus::Degraded | RunStatus::Failed => {
            if !ctx.json
                && let Some(reason) = runs.last().and_then(|r| r.reason.as_deref())
            {
                eprintln!("csep: compile {}: {reason}", status.as_str());
            }
            1
        }
    })
}

fn overall(runs: &[CompileReport]) -> RunStatus {
    if runs.iter().any(|r| r.status == RunStatus::Failed) {
        RunStatus::Failed
    } else if runs.iter().any(|r| r.status == RunStatus::Degraded) {
        RunStatus::Degraded
    } else if runs.iter().any(|r| r.status == RunStatus::Ok) {
        RunStatus::Ok
    } else {
        RunStatus::Skipped
    }
}

/// The human rendering of one run.
pub fn render_report(r: &CompileReport) -> String {
    let mut s = String::new();
    let evicted: usize = r.budgets.iter().map(|b| b.evictions.len()).sum();
    let _ = writeln!(
        s,
        "compile {} [{}] {}: {} envelopes, {} applied, {} skipped, {} discarded, {} archived by \
         budget{}",
        r.project_id,
        r.backend,
        r.status.as_str(),
        r.processed,
        r.operations.applied,
        r.operations.skipped,
        r.operations.discarded,
        evicted,
        r.receipt_id
            .map(|id| format!(" (receipt #{id})"))
            .unwrap_or_default()
    );
    if let Some(reason) = &r.reason {
        let _ = writeln!(s, "  reason: {reason}");
    }
    for edit in &r.hand_edits {
        let _ = writeln!(
            s,
            "  imported {} hand edit(s) from {}",
            edit.ops.len(),
            edit.path
        );
    }
    for item in &r.items {
        let line = match &item.outcome {
            Outcome::Applied {
                action, entry_id, ..
            } => format!("{action:?} {entry_id}").to_lowercase(),
            Outcome::Skipped { reason, .. } => format!("skipped: {reason}"),
            Outcome::Discarded { reason, .. } => format!("discarded: {reason}"),
        };
        let _ = writeln!(s, "  {:<16} {}  — {}", item.op, item.summary, line);
    }
    for b in &r.budgets {
        for e in &b.evictions {
            let _ = writeln!(
                s,
                "  archived {} ({} chars, {} over its {} budget): {}",
                e.entry_id, e.chars, b.scope, b.budget_chars, e.summary
            );
        }
    }
    s
}

/// `compile-preflight`.
pub fn preflight(ctx: &Ctx, args: &PreflightArgs) -> anyhow::Result<u8> {
    let store = open_store(ctx)?;
    let project_id = project_of(ctx, &store, args.repo_root.as_deref())?;
    let answer = compile::preflight(&store, &project_id, &time::now())?;
    if ctx.json {
        print_json(&answer)?;
    } else {
        println!(
            "{}: {} ({} pending, {} failed to retry, {} stale claims, {} in progress)",
            answer.project_id,
            answer.status,
            answer.pending,
            answer.retryable_failed,
            answer.stale_processing,
            answer.processing
        );
    }
    Ok(0)
}

/// `scan`: compile every project with pending suggestions.
pub fn scan(ctx: &Ctx, args: &ScanArgs) -> anyhow::Result<u8> {
    let backend: Backend = args.backend.parse()?;
    let config = ctx.load_config()?.config;
    let mut store = open_store(ctx)?;
    let mut options = CompileOptions::new(time::now());
    options.backend = backend;
    options.batch = args.batch_size.max(1);
    let max_runs = usize::try_from(args.max_runs_per_project.max(1)).unwrap_or(1);
    let report = compile::scan(&mut store, &ctx.paths, &config, &options, max_runs)?;
    if ctx.json {
        print_json(&report)?;
    } else if report.results.is_empty() {
        println!("no project has pending suggestions");
    } else {
        let mut rows = vec![vec![
            "project".into(),
            "status".into(),
            "runs".into(),
            "processed".into(),
            "path".into(),
        ]];
        for r in &report.results {
            rows.push(vec![
                r.project_id.clone(),
                r.compile_status.clone(),
                r.runs.to_string(),
                r.processed_count.to_string(),
                r.path.clone(),
            ]);
        }
        print!("{}", table(&rows));
    }
    Ok(u8::from(
        report.counts.get("failed").copied().unwrap_or(0) > 0,
    ))
}
