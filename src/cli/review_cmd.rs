//! `csep review`: review archived sessions now, in the foreground, whatever the trigger policy
//! says (the worker reviews only when a session crossed its thresholds).

use rusqlite::params;

use crate::cli::args::ReviewArgs;
use crate::cli::{Ctx, output};
use crate::store::db::Store;
use crate::store::identity::RepoIdentity;
use crate::worker::StopEvent;
use crate::worker::stages::{ReviewMode, review_session};

/// Runs `csep review`.
pub fn run(ctx: &Ctx, args: &ReviewArgs) -> anyhow::Result<u8> {
    let db = ctx.paths.db();
    if !db.exists() {
        anyhow::bail!(
            "nothing archived yet in {}; install the hooks (`csep install`) or backfill with \
             `csep import codex-sessions`",
            ctx.paths.home.display()
        );
    }
    let mut store = Store::open(&db)?;
    let config = ctx.load_config()?.config;
    let sessions: Vec<StopEvent> = match &args.session {
        Some(session) => sessions_where(&store, "session_id = ?1", session)?,
        None => {
            let dir = ctx.project_dir(args.cwd.as_deref())?;
            let project = RepoIdentity::resolve(&dir)?.project_id();
            sessions_where(&store, "project_id = ?1", &project)?
        }
    };
    if sessions.is_empty() {
        anyhow::bail!(
            "no archived session matches; `csep status` lists projects and their sessions"
        );
    }
    let mode = ReviewMode {
        force: true,
        offline: args.offline,
        dry_run: args.dry_run,
    };
    let mut results = Vec::new();
    for session in &sessions {
        let detail =
            review_session(&mut store, &config, &ctx.env, session, mode, None).map_err(|e| {
                anyhow::anyhow!("review of session {:?} failed: {e}", session.session_id)
            })?;
        results.push(serde_json::json!({
            "host": session.host,
            "session_id": session.session_id,
            "result": detail,
        }));
    }
    if ctx.json {
        output::print_json(&results)?;
        return Ok(0);
    }
    for r in &results {
        let result = &r["result"];
        let what = if let Some(skip) = result["skipped"].as_str() {
            skip.to_owned()
        } else if let Some(ops) = result["proposed"].as_array() {
            format!(
                "{} operation(s) proposed (dry run, nothing queued)",
                ops.len()
            )
        } else if result["operations"].is_u64() {
            format!(
                "{} operation(s) queued by {} ({})",
                result["operations"],
                result["reviewer"].as_str().unwrap_or("?"),
                result["status"].as_str().unwrap_or("?")
            )
        } else {
            "no new messages since the last review".to_owned()
        };
        println!(
            "{} {}: {what}",
            r["host"].as_str().unwrap_or("?"),
            r["session_id"].as_str().unwrap_or("?")
        );
        if let Some(ops) = result["proposed"].as_array() {
            for op in ops {
                println!("  {op}");
            }
        }
    }
    if !args.dry_run {
        println!("run `csep compile` to apply queued operations to memory");
    }
    Ok(0)
}

fn sessions_where(store: &Store, filter: &str, value: &str) -> anyhow::Result<Vec<StopEvent>> {
    let mut stmt = store.conn().prepare(&format!(
        "SELECT id, host, session_id, project_id, cwd, transcript_path FROM sessions \
         WHERE {filter} ORDER BY coalesce(last_message_at, created_at)"
    ))?;
    let rows = stmt.query_map(params![value], |r| {
        Ok(StopEvent {
            id: r.get(0)?,
            host: r.get(1)?,
            session_id: r.get(2)?,
            turn_id: None,
            project_id: r.get(3)?,
            cwd: r.get(4)?,
            transcript_path: r.get(5)?,
            attempts: 0,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}
