//! `import reference`: bring a codex-self-evolution 0.7.x home into csep.

use super::Ctx;
use super::compile_cmd::open_store;
use super::output::print_json;
use crate::compile::import;
use crate::store::paths::DEFAULT_HOME_DIR_NAME;
use crate::store::time;

/// Dispatches `import …`.
pub fn run(ctx: &Ctx, from: Option<&std::path::PathBuf>, dry_run: &bool) -> anyhow::Result<u8> {
    let from = match from {
        Some(dir) => ctx.project_dir(Some(dir))?,
        None => ctx
            .env
            .get("HOME")
            .map(|h| std::path::PathBuf::from(h).join(DEFAULT_HOME_DIR_NAME))
            .ok_or_else(|| anyhow::anyhow!("$HOME is not set; pass --from DIR"))?,
    };
    let config = ctx.load_config()?.config;
    let mut store = open_store(ctx)?;
    let report = import::import_reference(
        &mut store,
        &ctx.paths,
        &config,
        &from,
        *dry_run,
        &time::now(),
    )?;
    if ctx.json {
        print_json(&report)?;
        return Ok(0);
    }
    let verb = if report.dry_run {
        "would import"
    } else {
        "imported"
    };
    for b in &report.buckets {
        println!(
            "{} {} → {} ({}): memory {} added, {} skipped, {} discarded; recall {} added, {} \
             skipped; suggestions {} queued, {} already queued",
            verb,
            b.bucket,
            b.project_id,
            b.path,
            b.memory.applied,
            b.memory.skipped,
            b.memory.discarded,
            b.recall.applied,
            b.recall.skipped,
            b.suggestions_queued,
            b.suggestions_duplicate
        );
        for e in &b.errors {
            println!("  warning: {e}");
        }
        for budget in &b.budgets {
            println!(
                "  {} entries archived to fit the {} budget of {} characters",
                budget.evictions.len(),
                budget.scope,
                budget.budget_chars
            );
        }
    }
    if !report.archived_buckets.is_empty() {
        println!(
            "skipped archived buckets: {}",
            report.archived_buckets.join(", ")
        );
    }
    if report.buckets.is_empty() {
        println!("no reference buckets found under {}", report.from);
    }
    Ok(0)
}
