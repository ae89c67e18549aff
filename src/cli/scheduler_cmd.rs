//! `csep install scheduler` / `csep uninstall scheduler`: writes (or removes) the launchd agent
//! or systemd user timer from [`crate::scheduler`], loads it when the service manager is there,
//! and prints cron lines as the fallback. `--unit-dir` writes the files only (nothing is loaded),
//! which is also how the tests run.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::args::InstallArgs;
use crate::cli::{Ctx, output};
use crate::scheduler::{self, CommandOutcome, Platform, SchedulerManifest};
use crate::store::time;

/// What `install scheduler` / `uninstall scheduler` report.
#[derive(Debug, Serialize)]
pub struct SchedulerReport {
    /// `installed`, `would install`, `uninstalled`, `not installed`.
    pub action: String,
    /// `launchd` or `systemd`.
    pub platform: Platform,
    /// Where the unit files are.
    pub unit_dir: PathBuf,
    /// Files and what happened to each.
    pub files: Vec<(PathBuf, String)>,
    /// Service-manager commands run and their outcome.
    pub commands: Vec<CommandOutcome>,
    /// Whether the jobs are scheduled now (`false` when the files were only written).
    pub active: bool,
    /// crontab lines doing the same, for machines without the service manager.
    pub cron_fallback: Vec<String>,
}

fn on_path(ctx: &Ctx, name: &str) -> bool {
    ctx.env
        .get("PATH")
        .is_some_and(|p| std::env::split_paths(p).any(|dir| dir.join(name).is_file()))
}

fn unit_dir(ctx: &Ctx, args: &InstallArgs, platform: Platform) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &args.unit_dir {
        return ctx.project_dir(Some(dir));
    }
    let home = ctx
        .env
        .get("HOME")
        .map(PathBuf::from)
        .context("$HOME is not set; pass --unit-dir DIR")?;
    Ok(scheduler::default_unit_dir(
        platform,
        &home,
        ctx.env.get("XDG_CONFIG_HOME").map(Path::new),
    ))
}

fn jobs(ctx: &Ctx) -> anyhow::Result<Vec<scheduler::Job>> {
    let loaded = ctx
        .load_config()
        .context("config.toml is invalid; run `csep config validate`")?;
    let exe = std::env::current_exe()?;
    let exe = exe.canonicalize().unwrap_or(exe);
    Ok(scheduler::jobs(
        &exe,
        crate::cli::install::hook_home_of(ctx).as_deref(),
        &loaded.config.scheduler,
    ))
}

/// Runs `csep install scheduler`.
pub fn run_install(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<u8> {
    let platform = Platform::current();
    let dir = unit_dir(ctx, args, platform)?;
    let jobs = jobs(ctx)?;
    let files = scheduler::unit_files(platform, &jobs, &ctx.paths.logs_dir());
    let cron_fallback: Vec<String> = jobs.iter().map(scheduler::cron_line).collect();
    if args.dry_run {
        let report = SchedulerReport {
            action: "would install".into(),
            platform,
            unit_dir: dir.clone(),
            files: files
                .iter()
                .map(|(name, _)| (dir.join(name), "would write".to_owned()))
                .collect(),
            commands: Vec::new(),
            active: false,
            cron_fallback,
        };
        return print(ctx, &report, Some(&files));
    }
    ctx.paths.ensure_home()?;
    let previous = scheduler::read_manifest(&ctx.paths.home);
    let edits = scheduler::write_units(&dir, &files, previous.as_ref())?;
    // Only the default location is the service manager's: files written elsewhere are not loaded.
    let manager = match platform {
        Platform::Systemd => "systemctl",
        Platform::Launchd => "launchctl",
    };
    let commands = if args.unit_dir.is_none() && on_path(ctx, manager) {
        scheduler::activate(platform, &dir, &jobs)
    } else {
        Vec::new()
    };
    let active = !commands.is_empty() && commands.iter().all(|c| c.ok);
    let manifest = SchedulerManifest {
        platform,
        unit_dir: dir.clone(),
        files: edits,
        activated: !commands.is_empty(),
        units: scheduler::unit_names(platform, &jobs),
        installed_at: time::now(),
    };
    scheduler::write_manifest(&ctx.paths.home, &manifest)?;
    let report = SchedulerReport {
        action: "installed".into(),
        platform,
        unit_dir: dir,
        files: manifest
            .files
            .iter()
            .map(|e| {
                let what = if e.original.is_some() {
                    "written (replaced)"
                } else {
                    "written"
                };
                (e.path.clone(), what.to_owned())
            })
            .collect(),
        commands,
        active,
        cron_fallback,
    };
    print(ctx, &report, None)
}

/// Runs `csep uninstall scheduler`.
pub fn run_uninstall(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<u8> {
    let Some(manifest) = scheduler::read_manifest(&ctx.paths.home) else {
        let platform = Platform::current();
        let report = SchedulerReport {
            action: "not installed".into(),
            platform,
            unit_dir: unit_dir(ctx, args, platform)?,
            files: Vec::new(),
            commands: Vec::new(),
            active: false,
            cron_fallback: Vec::new(),
        };
        return print(ctx, &report, None);
    };
    if args.dry_run {
        let report = SchedulerReport {
            action: "would uninstall".into(),
            platform: manifest.platform,
            unit_dir: manifest.unit_dir.clone(),
            files: manifest
                .files
                .iter()
                .map(|e| (e.path.clone(), "would remove".to_owned()))
                .collect(),
            commands: Vec::new(),
            active: manifest.activated,
            cron_fallback: Vec::new(),
        };
        return print(ctx, &report, None);
    }
    let mut commands = if manifest.activated {
        scheduler::deactivate(&manifest)
    } else {
        Vec::new()
    };
    let files = scheduler::remove_units(&manifest)?;
    if manifest.activated {
        commands.extend(scheduler::after_removal(manifest.platform));
    }
    let _ = std::fs::remove_file(scheduler::manifest_path(&ctx.paths.home));
    let report = SchedulerReport {
        action: "uninstalled".into(),
        platform: manifest.platform,
        unit_dir: manifest.unit_dir,
        files,
        commands,
        active: false,
        cron_fallback: Vec::new(),
    };
    print(ctx, &report, None)
}

fn print(
    ctx: &Ctx,
    report: &SchedulerReport,
    contents: Option<&[(String, String)]>,
) -> anyhow::Result<u8> {
    if ctx.json {
        output::print_json(report)?;
        return Ok(0);
    }
    println!("scheduler ({:?}): {}", report.platform, report.action);
    for (path, what) in &report.files {
        println!("  {what:<20} {}", path.display());
    }
    if let Some(contents) = contents {
        for (name, text) in contents {
            println!("\n--- {name}\n{text}");
        }
    }
    for c in &report.commands {
        match (&c.ok, &c.detail) {
            (true, _) => println!("  ran                  {}", c.command),
            (false, detail) => println!(
                "  FAILED               {} — {}",
                c.command,
                detail.as_deref().unwrap_or("")
            ),
        }
    }
    let installing = report.action == "installed" || report.action == "would install";
    if installing && !report.active {
        println!(
            "\nThe jobs are not scheduled yet{}. Load the units, or add these lines with `crontab -e`:",
            if report.action == "installed" && report.commands.is_empty() {
                " (files only: no service manager was run)"
            } else {
                ""
            }
        );
        for line in &report.cron_fallback {
            println!("  {line}");
        }
    }
    Ok(0)
}
