//! `csep worker`: the detached background worker the Stop hook starts (hidden from help; run it
//! by hand to drain pending events in the foreground).

use std::path::Path;

use serde_json::json;

use crate::archive::ingest::ingest_transcript;
use crate::cli::args::WorkerArgs;
use crate::cli::{Ctx, output};
use crate::host::Host;
use crate::store::db::Store;
use crate::worker::{self, Stage, StopEvent};

/// Ingests the transcript delta of the stopped session into the archive.
#[derive(Debug)]
pub struct IngestStage;

impl Stage for IngestStage {
    fn name(&self) -> &'static str {
        "ingest"
    }

    fn run(&self, store: &mut Store, event: &StopEvent) -> Result<serde_json::Value, String> {
        let Some(path) = event.transcript_path.as_deref() else {
            return Ok(json!({"skipped": "the Stop payload named no transcript"}));
        };
        let host: Host = event
            .host
            .parse()
            .map_err(|e: crate::host::UnknownHost| e.to_string())?;
        let report = ingest_transcript(
            store,
            host,
            Path::new(path),
            event.project_id.as_deref(),
            event.session_id.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        Ok(json!({
            "session_ref": report.session_ref,
            "from_offset": report.from_offset,
            "next_offset": report.next_offset,
            "messages_inserted": report.messages_inserted,
            "injected_inserted": report.injected_inserted,
            "malformed_lines": report.malformed_lines,
        }))
    }
}

/// Runs `csep worker`.
pub fn run(ctx: &Ctx, args: &WorkerArgs) -> anyhow::Result<u8> {
    ctx.paths.ensure_home()?;
    let mut store = Store::open(&ctx.paths.db())?;
    let stages: [&dyn Stage; 1] = [&IngestStage];
    let report = worker::run(&ctx.paths, &mut store, &stages, args.max_events)?;
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
