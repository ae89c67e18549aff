//! `csep worker`: the detached background worker the Stop hook starts (hidden from help; run it
//! by hand to drain pending events in the foreground).

use crate::cli::args::WorkerArgs;
use crate::cli::{Ctx, output};
use crate::store::db::Store;
use crate::worker::failpoint::{FAILPOINT_ENV, Failpoint};
use crate::worker::stages::{CompileStage, IngestStage, ReviewStage, SkillUsageStage};
use crate::worker::{self, RunOptions, Stage};

/// Runs `csep worker`. A run that fails before it can write a receipt (the database locked past
/// its wait, or unreadable) leaves the reason in [`crate::store::paths::Paths::worker_failure_file`]
/// for `csep status`; one that gets through removes it.
pub fn run(ctx: &Ctx, args: &WorkerArgs) -> anyhow::Result<u8> {
    let result = run_inner(ctx, args);
    match &result {
        Ok(_) => worker::clear_failure(&ctx.paths),
        Err(e) => worker::record_failure(&ctx.paths, &output::error_chain(e.chain())),
    }
    result
}

fn run_inner(ctx: &Ctx, args: &WorkerArgs) -> anyhow::Result<u8> {
    ctx.paths.ensure_home()?;
    let mut store = Store::open(&ctx.paths.db())?;
    let config = ctx
        .load_config()
        .map(|loaded| loaded.config)
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "config.toml is invalid; the worker uses the defaults");
            crate::store::config::Config::default()
        });
    // Test-only crash point, read once here and passed down as a value.
    let failpoint = match ctx.env.get(FAILPOINT_ENV) {
        Some(spec) if !spec.is_empty() => Some(Failpoint::parse(spec)?),
        _ => None,
    };
    let review = ReviewStage {
        config: &config,
        env: &ctx.env,
        failpoint: failpoint.as_ref(),
    };
    let compile = CompileStage {
        paths: &ctx.paths,
        config: &config,
    };
    let stages: [&dyn Stage; 4] = [&IngestStage, &review, &compile, &SkillUsageStage];
    let options = RunOptions {
        max_events: args.max_events,
        failpoint: failpoint.clone(),
        retry_delay: worker::RETRY_DELAY,
    };
    let report = worker::run_with(&ctx.paths, &mut store, &stages, &options)?;
    tracing::info!(
        processed = report.processed,
        failed = report.failed,
        reclaimed = report.reclaimed,
        already_running = report.already_running,
        "worker finished"
    );
    if ctx.json {
        output::print_json(&report)?;
    } else if report.already_running {
        println!("another worker is running; it will process the pending events");
    } else {
        println!(
            "processed {} event(s), {} failed, {} reclaimed",
            report.processed, report.failed, report.reclaimed
        );
    }
    Ok(0)
}
