//! `memory list|show|add|edit|forget|pin|unpin|history|undo`.
//!
//! Every change first imports hand edits of the affected projections (so they are never
//! overwritten), applies the change with a history row, then re-renders the projections.

use std::path::Path;

use anyhow::{Context as _, bail};
use rusqlite::Connection;

use super::Ctx;
use super::args::{KindArg, MemoryCommand, ScopeArg};
use super::compile_cmd::{open_store, project_of};
use super::output::{print_json, table};
use crate::compile::{import_edits, targets, write_projections};
use crate::memory::apply::{AddInput, Applier, ApplyPolicy, OpContext, Outcome, one_line};
use crate::memory::entry::{MemoryEntry, Status};
use crate::memory::history;
use crate::memory::projection::Target;
use crate::memory::store::{self, ListFilter};
use crate::memory::{Kind, Scope};
use crate::store::db::Store;
use crate::store::time;

impl From<ScopeArg> for Scope {
    fn from(value: ScopeArg) -> Self {
        match value {
            ScopeArg::User => Scope::User,
            ScopeArg::Project => Scope::Project,
        }
    }
}

impl From<KindArg> for Kind {
    fn from(value: KindArg) -> Self {
        match value {
            KindArg::Preference => Kind::Preference,
            KindArg::Rule => Kind::Rule,
            KindArg::Fact => Kind::Fact,
            KindArg::Gotcha => Kind::Gotcha,
            KindArg::Command => Kind::Command,
            KindArg::Reference => Kind::Reference,
        }
    }
}

/// Dispatches `memory …`.
pub fn run(ctx: &Ctx, command: MemoryCommand) -> anyhow::Result<u8> {
    match command {
        MemoryCommand::List { scope, cwd, all } => list(ctx, scope, cwd.as_deref(), all),
        MemoryCommand::Show { id } => show(ctx, &id),
        MemoryCommand::Add {
            scope,
            kind,
            cwd,
            pin,
            text,
        } => add(
            ctx,
            AddRequest {
                scope: scope.into(),
                kind: kind.into(),
                cwd: cwd.as_deref(),
                pin,
                text: &text,
                source: "cli",
            },
        ),
        MemoryCommand::Edit { id, text } => edit(ctx, &id, &text),
        MemoryCommand::Forget { id } => forget(ctx, &id),
        MemoryCommand::Pin { id } => pin(ctx, &id, true),
        MemoryCommand::Unpin { id } => pin(ctx, &id, false),
        MemoryCommand::History { id, limit } => show_history(ctx, id.as_deref(), limit),
        MemoryCommand::Undo { target } => undo(ctx, &target),
    }
}

/// Splits typed text into a one-line summary and the details after the first line.
fn split_text(text: &str) -> (String, String) {
    let text = text.trim();
    match text.split_once('\n') {
        Some((first, rest)) => (one_line(first), rest.trim().to_owned()),
        None => (one_line(text), String::new()),
    }
}

/// Runs `change` between a hand-edit import and a projection refresh of `project_id`'s
/// projections (user only when `None`).
fn mutate<T>(
    ctx: &Ctx,
    store: &mut Store,
    project_id: Option<&str>,
    change: impl FnOnce(&Connection, &mut Applier, &str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let config = ctx.load_config()?.config;
    let now = time::now();
    let mut applier = Applier::new(config.memory.near_duplicate_threshold)?;
    let targets: Vec<Target> = match project_id {
        Some(p) => targets(store, p)?,
        None => vec![Target::User],
    };
    let (_, unreadable) = import_edits(store, &mut applier, &ctx.paths, &targets, &now)?;
    for (_, message) in &unreadable {
        eprintln!("csep: warning: {message}");
    }
    applier.reset();
    let tx = store.conn_mut().transaction()?;
    let value = change(&tx, &mut applier, &now)?;
    tx.commit()?;
    let writable: Vec<Target> = targets
        .into_iter()
        .filter(|t| !unreadable.iter().any(|(u, _)| u == t))
        .collect();
    let (_, problems) = write_projections(store.conn(), &ctx.paths, &writable, &now)?;
    for message in problems {
        eprintln!("csep: warning: {message}");
    }
    Ok(value)
}

fn op_ctx<'a>(project_id: Option<&'a str>, now: &'a str, source: &'a str) -> OpContext<'a> {
    OpContext {
        project_id,
        now,
        source,
        suggestion_id: None,
        session_id: None,
    }
}

/// The entries `csep memory list` shows: active ones (every status with `all`) of the user and of
/// the project of `cwd` (default: the current directory), optionally of one scope only. Shared
/// by the MCP `list_memories` tool.
pub fn list_entries(
    ctx: &Ctx,
    scope: Option<Scope>,
    cwd: Option<&Path>,
    all: bool,
) -> anyhow::Result<Vec<MemoryEntry>> {
    let store = open_store(ctx)?;
    let project_id = project_of(ctx, &store, cwd).ok();
    let statuses = [
        Status::Active,
        Status::Archived,
        Status::Superseded,
        Status::Forgotten,
    ];
    Ok(store::list_entries(
        store.conn(),
        &ListFilter {
            scope,
            project_id: project_id.as_deref(),
            statuses: all.then_some(&statuses[..]),
        },
    )?)
}

fn list(ctx: &Ctx, scope: Option<ScopeArg>, cwd: Option<&Path>, all: bool) -> anyhow::Result<u8> {
    let entries = list_entries(ctx, scope.map(Scope::from), cwd, all)?;
    if ctx.json {
        print_json(&entries)?;
        return Ok(0);
    }
    if entries.is_empty() {
        println!("no memory entries yet");
        return Ok(0);
    }
    let mut rows = vec![vec![
        "id".into(),
        "scope".into(),
        "kind".into(),
        "flags".into(),
        "uses".into(),
        "summary".into(),
    ]];
    for e in &entries {
        let mut flags = Vec::new();
        if e.pinned {
            flags.push("pinned");
        }
        if e.status != Status::Active {
            flags.push(e.status.as_str());
        }
        rows.push(vec![
            e.id.clone(),
            e.scope.to_string(),
            e.kind.to_string(),
            flags.join(","),
            e.use_count.to_string(),
            e.summary.chars().take(80).collect(),
        ]);
    }
    print!("{}", table(&rows));
    Ok(0)
}

fn show(ctx: &Ctx, id: &str) -> anyhow::Result<u8> {
    let store = open_store(ctx)?;
    let entry = store::find_entry(store.conn(), id)?;
    let history = store::history(store.conn(), Some(&entry.id), 50)?;
    if ctx.json {
        print_json(&serde_json::json!({ "entry": entry, "history": history }))?;
        return Ok(0);
    }
    println!(
        "{}  {} · {} · {}",
        entry.id,
        entry.scope,
        entry.kind,
        entry.status.as_str()
    );
    println!("{}", entry.summary);
    if !entry.content.is_empty() {
        println!("\n{}\n", entry.content);
    }
    println!(
        "confidence {:.2}, used {} times, pinned {}, created {}, updated {}",
        entry.confidence, entry.use_count, entry.pinned, entry.created_at, entry.updated_at
    );
    if let Some(reason) = &entry.status_reason {
        println!("status reason: {reason}");
    }
    let p = &entry.provenance;
    if !p.origins.is_empty() {
        println!("origins: {}", p.origins.join(", "));
    }
    if !p.sessions.is_empty() {
        println!("sessions: {}", p.sessions.join(", "));
    }
    if !p.source_paths.is_empty() {
        println!("source paths: {}", p.source_paths.join(", "));
    }
    println!("history:");
    for h in history {
        println!(
            "  #{} {} {} ({})",
            h.id,
            h.at,
            h.op,
            h.source.unwrap_or_default()
        );
    }
    Ok(0)
}

/// A hand-written entry for [`add_entry`].
#[derive(Debug, Clone, Copy)]
pub struct AddRequest<'a> {
    /// Who it applies to.
    pub scope: Scope,
    /// What kind of knowledge it is.
    pub kind: Kind,
    /// Project directory for project scope (default: the current directory).
    pub cwd: Option<&'a Path>,
    /// Pin it (rendered first, never evicted by the budget).
    pub pin: bool,
    /// The text: a one-line summary, optionally followed by details on the next lines.
    pub text: &'a str,
    /// Who asked, recorded in the history row (`cli`, `mcp`).
    pub source: &'a str,
}

/// Adds an entry by hand, through the same rules as the compiler (dedupe, transient-noise and
/// secret filters, budgets) with a history row, and refreshes the projections. Returns the
/// applier's outcome, including `Skipped` and `Discarded` (see [`check_added`]). Shared by
/// `csep memory add` and the MCP `remember` tool.
pub fn add_entry(ctx: &Ctx, req: AddRequest<'_>) -> anyhow::Result<Outcome> {
    let (summary, content) = split_text(req.text);
    if summary.is_empty() {
        bail!("the entry text is empty; give a one-line summary (and optional details)");
    }
    let mut store = open_store(ctx)?;
    let project_id = match req.scope {
        Scope::Project => Some(project_of(ctx, &store, req.cwd)?),
        Scope::User => None,
    };
    mutate(
        ctx,
        &mut store,
        project_id.as_deref(),
        |conn, applier, now| {
            let c = op_ctx(project_id.as_deref(), now, req.source);
            let outcome = applier.add(
                conn,
                AddInput {
                    scope: req.scope,
                    kind: req.kind,
                    summary,
                    content,
                    evidence: &[],
                    source_paths: &[],
                    confidence: 1.0,
                },
                &c,
                ApplyPolicy::HAND,
            )?;
            if req.pin
                && let Outcome::Applied { entry_id, .. } = &outcome
                && let Some(before) = store::get_entry(conn, entry_id)?
            {
                let mut after = before.clone();
                after.pinned = true;
                applier.rewrite(conn, &before, &after, "pin", &c)?;
            }
            Ok(outcome)
        },
    )
}

/// Turns a refused add into an error saying why (a secret never gets stored; other discards
/// name their rule); applied and skipped (already known) adds are fine.
pub fn check_added(outcome: &Outcome) -> anyhow::Result<()> {
    match outcome {
        Outcome::Applied { .. } | Outcome::Skipped { .. } => Ok(()),
        Outcome::Discarded { reason, .. } if reason.starts_with("secret:") => bail!(
            "the text contains a secret ({}); memory never stores secrets: remove it and retry",
            reason.trim_start_matches("secret:")
        ),
        Outcome::Discarded { reason, .. } => bail!("not added: {reason}"),
    }
}

/// One line saying what an accepted add did: `added m_…` or `not added (reason): already known
/// as m_…`.
pub fn describe_added(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Applied { entry_id, .. } => format!("added {entry_id}"),
        Outcome::Skipped { reason, entry_id } => format!(
            "not added ({reason}){}",
            entry_id
                .as_deref()
                .map(|id| format!(": already known as {id}"))
                .unwrap_or_default()
        ),
        Outcome::Discarded { reason, .. } => format!("not added ({reason})"),
    }
}

fn add(ctx: &Ctx, req: AddRequest<'_>) -> anyhow::Result<u8> {
    let outcome = add_entry(ctx, req)?;
    if ctx.json {
        print_json(&outcome)?;
    }
    check_added(&outcome)?;
    if !ctx.json {
        println!("{}", describe_added(&outcome));
    }
    Ok(0)
}

/// Looks an entry up (full id or unique prefix) before a change.
fn lookup(store: &Store, id: &str) -> anyhow::Result<MemoryEntry> {
    Ok(store::find_entry(store.conn(), id)?)
}

fn edit(ctx: &Ctx, id: &str, text: &str) -> anyhow::Result<u8> {
    let (summary, content) = split_text(text);
    if summary.is_empty() {
        bail!("the new text is empty; to remove the entry use `csep memory forget {id}`");
    }
    let mut store = open_store(ctx)?;
    let entry = lookup(&store, id)?;
    let after = mutate(
        ctx,
        &mut store,
        entry.project_id.as_deref(),
        |conn, applier, now| {
            let before = store::get_entry(conn, &entry.id)?
                .with_context(|| format!("entry {} disappeared", entry.id))?;
            if let Some(kind) = applier.secret_kind(text) {
                bail!(
                    "the text contains a secret ({kind}); memory never stores secrets: remove it and retry"
                );
            }
            let mut after = before.clone();
            after.summary = summary;
            after.content = content;
            after.updated_at = now.to_owned();
            after.status = Status::Active;
            after.status_reason = None;
            after.archived_at = None;
            applier.rewrite(
                conn,
                &before,
                &after,
                "edit",
                &op_ctx(after.project_id.as_deref(), now, "cli"),
            )?;
            Ok(after)
        },
    )?;
    if ctx.json {
        print_json(&after)?;
    } else {
        println!("edited {}", after.id);
    }
    Ok(0)
}

/// What [`forget_entry`] forgot.
#[derive(Debug)]
pub enum Forgotten {
    /// A recall entry (`r_…`), by id.
    Recall(String),
    /// A memory entry, as it is now (status `forgotten`; it already was when forgotten before).
    Memory(Box<MemoryEntry>),
}

/// Forgets a memory entry (full id or unique prefix; kept in history, undoable) or a recall
/// entry (`r_…`), refreshing the projections. Shared by `csep memory forget` and the MCP
/// `forget` tool; `source` (`cli`, `mcp`) is recorded in the history row.
pub fn forget_entry(ctx: &Ctx, id: &str, source: &str) -> anyhow::Result<Forgotten> {
    let mut store = open_store(ctx)?;
    if id.starts_with("r_") {
        let now = time::now();
        if !store::forget_recall(store.conn(), id, &now)? {
            bail!("no recall entry `{id}`");
        }
        return Ok(Forgotten::Recall(id.to_owned()));
    }
    let entry = lookup(&store, id)?;
    let after = mutate(
        ctx,
        &mut store,
        entry.project_id.as_deref(),
        |conn, applier, now| {
            let before = store::get_entry(conn, &entry.id)?
                .with_context(|| format!("entry {} disappeared", entry.id))?;
            if before.status == Status::Forgotten {
                return Ok(before);
            }
            Ok(applier.set_status(
                conn,
                &before,
                Status::Forgotten,
                "forgotten by hand",
                "remove",
                &op_ctx(before.project_id.as_deref(), now, source),
            )?)
        },
    )?;
    Ok(Forgotten::Memory(Box::new(after)))
}

fn forget(ctx: &Ctx, id: &str) -> anyhow::Result<u8> {
    match forget_entry(ctx, id, "cli")? {
        Forgotten::Recall(id) => {
            if ctx.json {
                print_json(&serde_json::json!({"forgotten": id}))?;
            } else {
                println!("forgot recall entry {id}");
            }
        }
        Forgotten::Memory(after) => {
            if ctx.json {
                print_json(&after)?;
            } else {
                println!(
                    "forgot {} (undo with `csep memory undo {}`)",
                    after.id, after.id
                );
            }
        }
    }
    Ok(0)
}

fn pin(ctx: &Ctx, id: &str, pinned: bool) -> anyhow::Result<u8> {
    let mut store = open_store(ctx)?;
    let entry = lookup(&store, id)?;
    let after = mutate(
        ctx,
        &mut store,
        entry.project_id.as_deref(),
        |conn, applier, now| {
            let before = store::get_entry(conn, &entry.id)?
                .with_context(|| format!("entry {} disappeared", entry.id))?;
            if before.pinned == pinned {
                return Ok(before);
            }
            let mut after = before.clone();
            after.pinned = pinned;
            after.updated_at = now.to_owned();
            let op = if pinned { "pin" } else { "unpin" };
            applier.rewrite(
                conn,
                &before,
                &after,
                op,
                &op_ctx(after.project_id.as_deref(), now, "cli"),
            )?;
            Ok(after)
        },
    )?;
    if ctx.json {
        print_json(&after)?;
    } else {
        println!(
            "{} {}",
            if pinned { "pinned" } else { "unpinned" },
            after.id
        );
    }
    Ok(0)
}

fn show_history(ctx: &Ctx, id: Option<&str>, limit: usize) -> anyhow::Result<u8> {
    let store = open_store(ctx)?;
    let entry_id = match id {
        Some(id) => Some(lookup(&store, id)?.id),
        None => None,
    };
    let rows = store::history(store.conn(), entry_id.as_deref(), limit)?;
    if ctx.json {
        print_json(&rows)?;
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no history yet");
        return Ok(0);
    }
    let mut table_rows = vec![vec![
        "#".into(),
        "at".into(),
        "op".into(),
        "entry".into(),
        "source".into(),
        "summary".into(),
    ]];
    for h in &rows {
        let summary = h
            .after
            .as_ref()
            .or(h.before.as_ref())
            .map(|e| e.summary.chars().take(60).collect())
            .unwrap_or_default();
        table_rows.push(vec![
            h.id.to_string(),
            h.at.clone(),
            h.op.clone(),
            h.entry_id.clone(),
            h.source.clone().unwrap_or_default(),
            summary,
        ]);
    }
    print!("{}", table(&table_rows));
    Ok(0)
}

fn undo(ctx: &Ctx, target: &str) -> anyhow::Result<u8> {
    let mut store = open_store(ctx)?;
    let target = target.trim_start_matches('#');
    let history_id = match target.parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            let entry = lookup(&store, target)?;
            history::latest_for(store.conn(), &entry.id)?
                .with_context(|| format!("entry {} has no history", entry.id))?
        }
    };
    let row = store::history_row(store.conn(), history_id)?
        .with_context(|| format!("no history row #{history_id}; run `csep memory history`"))?;
    let project_id = row
        .before
        .as_ref()
        .or(row.after.as_ref())
        .and_then(|e| e.project_id.clone());
    let undone = mutate(ctx, &mut store, project_id.as_deref(), |conn, _, now| {
        Ok(history::undo(conn, history_id, now, "cli")?)
    })?;
    if ctx.json {
        print_json(&undone)?;
    } else {
        println!(
            "undid #{} ({} of {}); recorded as #{}",
            undone.undone, row.op, undone.entry.id, undone.history_id
        );
    }
    Ok(0)
}
