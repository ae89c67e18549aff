//! `eval-compiler` and `eval compiler`: replay a reference compiler fixture in memory.

use super::Ctx;
use super::args::EvalCompilerArgs;
use super::output::print_json;
use crate::compile::eval;

/// Replays the fixture; exit 0 for pass and fail (as the reference), 1 when it cannot be read.
pub fn compiler(ctx: &Ctx, args: &EvalCompilerArgs) -> anyhow::Result<u8> {
    let config = ctx.load_config()?.config;
    let path = ctx.project_dir(Some(&args.fixture))?;
    let result = eval::eval_fixture(&path, &args.backend, &config)?;
    if ctx.json {
        print_json(&result)?;
        return Ok(0);
    }
    let m = &result.metrics;
    println!(
        "{} {} [{}]: {} memory, {} recall, {} discarded, {} skill candidates",
        result.status.to_uppercase(),
        result.name,
        result.backend,
        m.memory_records,
        m.recall_records,
        m.discarded_items,
        m.compiled_skills
    );
    for (reason, n) in &m.discard_reasons {
        println!("  discarded {n}× {reason}");
    }
    if let Some(e) = &result.error {
        println!("  error: {e}");
    }
    for f in &result.failures {
        println!("  failure: {f}");
    }
    Ok(0)
}
