//! `csep skills list|show|approve|reject|retire|restore|gc|uninstall|synthesize` and the
//! reference-compatible `skill-synthesize`: argument handling and output only; the work is in
//! [`crate::skills`].
//!
//! Host skill roots come from `--codex-home` / `--claude-config-dir`, else `$CODEX_HOME` /
//! `$CLAUDE_CONFIG_DIR`, else `~/.codex` / `~/.claude` (read from the environment snapshot).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::cli::args::{SkillRootsArgs, SkillSynthesizeArgs, SkillsCommand, SynthesisMode};
use crate::cli::{Ctx, install, output};
use crate::skills::lifecycle::{self, ActionReport, SkillRecord, SkillState};
use crate::skills::publish::Roots;
use crate::skills::run::{self, Outcome, Progress, SynthesisOptions, SynthesisReceipt};
use crate::skills::synth::OfflineSynthesizer;
use crate::store::config::SkillsMode;
use crate::store::db::{OpenOptions, Store, StoreError};
use crate::store::identity::RepoIdentity;
use crate::store::time;

/// Resolves the skill roots for this invocation.
pub fn roots(ctx: &Ctx, args: &SkillRootsArgs) -> Roots {
    Roots::new(
        &ctx.paths.home,
        install::codex_home(ctx, args.codex_home.as_deref()).as_deref(),
        install::claude_dir(ctx, args.claude_config_dir.as_deref()).as_deref(),
    )
}

fn open_store(ctx: &Ctx) -> anyhow::Result<Store> {
    ctx.paths.ensure_home()?;
    Store::open(&ctx.paths.db())
        .with_context(|| format!("opening the database {}", ctx.paths.db().display()))
}

/// Runs `csep skills …`.
pub fn run(ctx: &Ctx, command: SkillsCommand) -> anyhow::Result<u8> {
    let now = time::now();
    match command {
        SkillsCommand::List => list(ctx),
        SkillsCommand::Show { name } => show(ctx, &name),
        SkillsCommand::Approve { name, roots: r } => {
            let store = open_store(ctx)?;
            let report = lifecycle::approve(&store, &roots(ctx, &r), &name, &now)?;
            print_action(ctx, "published", &report)
        }
        SkillsCommand::Reject {
            name,
            reason,
            roots: r,
        } => {
            let store = open_store(ctx)?;
            let report =
                lifecycle::reject(&store, &roots(ctx, &r), &name, reason.as_deref(), &now)?;
            print_action(ctx, "rejected", &report)
        }
        SkillsCommand::Retire {
            name,
            reason,
            roots: r,
        } => {
            let store = open_store(ctx)?;
            let why = reason.unwrap_or_else(|| "retired by the user".into());
            let report = lifecycle::retire(&store, &roots(ctx, &r), &name, &why, &now)?;
            print_action(ctx, "retired", &report)
        }
        SkillsCommand::Restore { name, roots: r } => {
            let store = open_store(ctx)?;
            let report = lifecycle::restore(&store, &roots(ctx, &r), &name, &now)?;
            print_action(ctx, "restored", &report)
        }
        SkillsCommand::Gc { yes, roots: r } => gc(ctx, yes, &roots(ctx, &r)),
        SkillsCommand::Uninstall => {
            let store = open_store(ctx)?;
            let report = lifecycle::uninstall(&store, &now)?;
            if ctx.json {
                output::print_json(&report)?;
            } else if report.skills.is_empty() {
                println!("no skill of csep's is published");
            } else {
                for action in &report.skills {
                    print_action_lines("uninstalled", action);
                }
            }
            Ok(0)
        }
        SkillsCommand::Synthesize(args) => synthesize(ctx, &args),
    }
}

/// Runs `skill-synthesize` (the reference's name for `skills synthesize`).
pub fn run_skill_synthesize(ctx: &Ctx, args: &SkillSynthesizeArgs) -> anyhow::Result<u8> {
    synthesize(ctx, args)
}

#[derive(Serialize)]
struct ListRow<'a> {
    name: &'a str,
    state: SkillState,
    description: &'a str,
    use_count: i64,
    last_used_at: Option<&'a str>,
    published: Vec<String>,
    user_edited: Vec<String>,
    reason: Option<&'a str>,
    project_id: Option<&'a str>,
    updated_at: &'a str,
}

fn list_row(r: &SkillRecord) -> ListRow<'_> {
    ListRow {
        name: &r.name,
        state: r.state,
        description: &r.description,
        use_count: r.use_count,
        last_used_at: r.last_used_at.as_deref(),
        published: r
            .published
            .iter()
            .filter(|e| !e.released)
            .map(|e| e.host.clone())
            .collect(),
        user_edited: r
            .published
            .iter()
            .filter(|e| e.released)
            .map(|e| e.path.clone())
            .collect(),
        reason: r.reason.as_deref(),
        project_id: r.project_id.as_deref(),
        updated_at: &r.updated_at,
    }
}

fn read_store(ctx: &Ctx) -> anyhow::Result<Option<Store>> {
    match Store::open_with(
        &ctx.paths.db(),
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    ) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Missing { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn list(ctx: &Ctx) -> anyhow::Result<u8> {
    let records = match read_store(ctx)? {
        Some(store) => lifecycle::list(&store)?,
        None => Vec::new(),
    };
    let rows: Vec<ListRow<'_>> = records.iter().map(list_row).collect();
    if ctx.json {
        output::print_json(&rows)?;
        return Ok(0);
    }
    if rows.is_empty() {
        println!("no skills yet; run `csep skills synthesize` once sessions are archived");
        return Ok(0);
    }
    let mut table = vec![vec![
        "name".to_owned(),
        "state".to_owned(),
        "uses".to_owned(),
        "last used".to_owned(),
        "hosts".to_owned(),
        "note".to_owned(),
    ]];
    for r in &rows {
        let mut note = r.reason.unwrap_or("").to_owned();
        if !r.user_edited.is_empty() {
            note = format!(
                "edited by you, no longer managed: {}",
                r.user_edited.join(", ")
            );
        }
        table.push(vec![
            r.name.to_owned(),
            r.state.as_str().to_owned(),
            r.use_count.to_string(),
            r.last_used_at.unwrap_or("never").to_owned(),
            if r.published.is_empty() {
                "-".to_owned()
            } else {
                r.published.join(",")
            },
            note.chars().take(90).collect(),
        ]);
    }
    print!("{}", output::table(&table));
    Ok(0)
}

fn show(ctx: &Ctx, name: &str) -> anyhow::Result<u8> {
    let store = read_store(ctx)?.ok_or_else(|| crate::skills::SkillError::NotFound {
        name: name.to_owned(),
    })?;
    let record = lifecycle::require(&store, name)?;
    if ctx.json {
        output::print_json(&record)?;
        return Ok(0);
    }
    println!("name        {}", record.name);
    println!("state       {}", record.state.as_str());
    if let Some(reason) = &record.reason {
        println!("reason      {reason}");
    }
    println!(
        "uses        {} (last {})",
        record.use_count,
        record.last_used_at.as_deref().unwrap_or("never")
    );
    for entry in &record.published {
        let note = if entry.released {
            " (edited by you; csep no longer manages it)"
        } else {
            ""
        };
        println!("published   {} {}{note}", entry.host, entry.path);
    }
    println!("evidence    {}", record.evidence.join(", "));
    println!();
    print!("{}", record.body);
    Ok(0)
}

fn print_action_lines(verb: &str, report: &ActionReport) {
    println!("{verb} {} (now {})", report.name, report.state.as_str());
    for path in &report.written {
        println!("  wrote    {path}");
    }
    for path in &report.removed {
        println!("  removed  {path}");
    }
    for left in &report.left_alone {
        println!("  left     {} ({})", left.path, left.why);
    }
}

fn print_action(ctx: &Ctx, verb: &str, report: &ActionReport) -> anyhow::Result<u8> {
    if ctx.json {
        output::print_json(report)?;
    } else {
        print_action_lines(verb, report);
    }
    Ok(0)
}

fn gc(ctx: &Ctx, yes: bool, roots: &Roots) -> anyhow::Result<u8> {
    let report = match (yes, read_store(ctx)?) {
        (true, _) => lifecycle::gc(&open_store(ctx)?, roots, true)?,
        (false, Some(store)) => lifecycle::gc(&store, roots, false)?,
        (false, None) => lifecycle::gc(&Store::open_in_memory()?, roots, false)?,
    };
    if ctx.json {
        output::print_json(&report)?;
        return Ok(0);
    }
    if report.orphans.is_empty() {
        println!("no orphans in csep's namespace");
        return Ok(0);
    }
    let verb = if report.removed { "removed" } else { "orphan" };
    for orphan in &report.orphans {
        let kind = serde_json::to_value(orphan.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        println!("{verb}  {}  ({}, {kind})", orphan.path, orphan.location);
    }
    if !report.removed {
        println!(
            "{} orphan(s); run `csep skills gc --yes` to remove them",
            report.orphans.len()
        );
    }
    Ok(0)
}

/// A progress bar on stderr, only when stderr is a terminal.
struct Bar(Option<ProgressBar>);

impl Bar {
    fn new() -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar(None);
        }
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} sessions")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        Bar(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(name.to_owned());
            bar.tick();
        }
    }

    fn sessions(&self, done: u64, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_length(total);
            bar.set_position(done);
        }
    }
}

fn dry_run_dir(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let tmp = ctx
        .env
        .get("TMPDIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    let stamp = jiff::Timestamp::now().as_nanosecond();
    let dir = tmp.join(format!(
        "csep-skills-dry-run-{}-{stamp}",
        std::process::id()
    ));
    crate::store::fsutil::ensure_private_dir(&dir)
        .with_context(|| format!("creating the dry-run directory {}", dir.display()))?;
    Ok(dir)
}

fn synthesize(ctx: &Ctx, args: &SkillSynthesizeArgs) -> anyhow::Result<u8> {
    let loaded = ctx.load_config()?;
    let config = &loaded.config.skills;
    let now = jiff::Timestamp::now();
    let mut opts = SynthesisOptions::from_config(config, now);
    if let Some(mode) = args.mode {
        opts.mode = match mode {
            SynthesisMode::Incremental => SkillsMode::Incremental,
            SynthesisMode::Full => SkillsMode::Full,
        };
    }
    if let Some(h) = args.lookback_hours {
        opts.lookback_hours = h;
    }
    if let Some(d) = args.lookback_days {
        opts.lookback_days = d;
    }
    if let Some(dir) = &args.project {
        let dir = ctx.project_dir(Some(dir))?;
        opts.project_id = Some(RepoIdentity::resolve(&dir)?.project_id());
    }
    let roots = roots(ctx, &args.roots);
    let receipt = if args.dry_run {
        opts.dry_run = true;
        opts.dry_run_dir = Some(dry_run_dir(ctx)?);
        // A dry run never writes the database: read-only, or an empty one in memory.
        let store = match read_store(ctx)? {
            Some(store) => store,
            None => Store::open_in_memory()?,
        };
        synthesize_with(ctx, &store, &roots, &opts, &loaded.config)?
    } else {
        let store = open_store(ctx)?;
        synthesize_with(ctx, &store, &roots, &opts, &loaded.config)?
    };
    if ctx.json {
        output::print_json(&receipt)?;
    } else {
        print_receipt(&receipt, opts.dry_run_dir.as_deref());
    }
    Ok(0)
}

/// Synthesizes with the active profile's provider when it is usable and the run may write (its
/// calls go to the spend ledger); otherwise, and for dry runs, with the offline synthesizer.
fn synthesize_with(
    ctx: &Ctx,
    store: &Store,
    roots: &Roots,
    opts: &SynthesisOptions,
    config: &crate::store::config::Config,
) -> anyhow::Result<SynthesisReceipt> {
    if !config.skills.enabled {
        return Ok(run::skipped_receipt(
            store,
            opts,
            "skills.enabled is false in config.toml",
        )?);
    }
    let provider = config
        .active_profile()
        .and_then(|p| crate::llm::Provider::from_profile(&config.active_profile, p, &ctx.env).ok())
        .filter(|p| !p.is_offline() && !opts.dry_run);
    let bar = Bar::new();
    let receipt = match &provider {
        Some(provider) => {
            let synth = crate::skills::provider_synth::ProviderSynthesizer {
                provider,
                store,
                caps: &config.budget,
                project_id: opts.project_id.clone(),
            };
            run::run_synthesis(store, roots, &synth, opts, &bar)
        }
        None => run::run_synthesis(store, roots, &OfflineSynthesizer, opts, &bar),
    };
    bar.finish();
    Ok(receipt?)
}

fn print_receipt(receipt: &SynthesisReceipt, dry_dir: Option<&std::path::Path>) {
    if receipt.status == "skipped" {
        println!(
            "skill synthesis skipped: {}",
            receipt.reason.as_deref().unwrap_or("")
        );
        return;
    }
    let e = &receipt.evidence;
    println!(
        "{}skill synthesis ({}, since {}): {} sessions, {} messages, {} steps → {} procedures, \
         {} failure→fix pairs, {} corrections, {} requests, {} candidates recorded",
        if receipt.dry_run { "dry run: " } else { "" },
        receipt.mode,
        receipt.since,
        e.sessions,
        e.messages,
        e.steps,
        e.procedures,
        e.failure_fixes,
        e.corrections,
        e.requests,
        e.candidates
    );
    for draft in &receipt.drafts {
        let outcome = match (draft.outcome, receipt.dry_run) {
            (Outcome::Published, true) => "would publish",
            (Outcome::Published, false) => "published",
            (Outcome::Staged, true) => "would stage",
            (Outcome::Staged, false) => "staged (approve with `csep skills approve`)",
            (Outcome::Candidate, _) => "candidate",
            (Outcome::Rejected, _) => "rejected",
            (Outcome::Unchanged, _) => "unchanged",
            (Outcome::SkippedUserRejected, _) => "skipped (you rejected it)",
            (Outcome::SkippedRetired, _) => "skipped (retired; `csep skills restore` it)",
        };
        println!(
            "  {:<40} {outcome} ({} session(s))",
            draft.name, draft.evidence_sessions
        );
        for f in &draft.failures {
            println!("      {}: {}", f.gate.as_str(), f.reason);
        }
        for path in &draft.written {
            println!("      wrote {path}");
        }
        for left in &draft.left_alone {
            println!("      left {} ({})", left.path, left.why);
        }
    }
    for path in &receipt.user_edited {
        println!("  edited by you, no longer managed: {path}");
    }
    for (name, n) in &receipt.usage {
        println!("  {name}: {n} new use(s)");
    }
    for retired in &receipt.retired {
        println!("  retired {} (unused)", retired.name);
    }
    if let Some(dir) = dry_dir {
        println!("dry run: would-be SKILL.md files are in {}", dir.display());
    }
    if let Some(id) = receipt.receipt_id {
        println!("receipt #{id}");
    }
}
