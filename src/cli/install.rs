//! `csep install` / `csep uninstall`: hooks for Codex and Claude Code, directly in the hosts'
//! configuration or (`--plugin`) as a plugin installed through the hosts' own plugin commands
//! ([`crate::host::plugin`]); `install scheduler` is handled by [`crate::cli::scheduler_cmd`].
//! `csep plugin bundle` only writes the bundle.
//!
//! The hooks call this very binary by absolute path (and `--home` when the home is not the
//! default), so they keep working whatever the host's PATH is. What was changed is recorded in
//! `<home>/install/<host>.json`; uninstall reverses exactly that.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::args::{InstallArgs, InstallTarget, PluginCommand};
use crate::cli::{Ctx, NotAvailable, output, scheduler_cmd};
use crate::host::bundle::{self, BundleSpec};
use crate::host::claude::install::{self as claude_install, ClaudeTarget};
use crate::host::codex::install::{self as codex_install, CodexTarget};
use crate::host::install::{self, InstallManifest};
use crate::host::{Host, plugin};
use crate::store::paths::{DEFAULT_HOME_DIR_NAME, Paths};
use crate::store::time;

/// Result of installing or uninstalling one host.
#[derive(Debug, Serialize)]
pub struct HostReport {
    /// The host.
    pub host: Host,
    /// `installed`, `already installed`, `uninstalled`, `not installed`, `would install`.
    pub action: String,
    /// Files touched and what happened to each.
    pub files: Vec<(String, String)>,
    /// For Codex: whether the hooks are trusted now.
    pub trusted: Option<bool>,
}

/// Where Codex keeps its state for this invocation.
pub fn codex_home(ctx: &Ctx, flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| ctx.env.get("CODEX_HOME").map(PathBuf::from))
        .or_else(|| ctx.env.get("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// Where Claude Code keeps its settings for this invocation.
pub fn claude_dir(ctx: &Ctx, flag: Option<&Path>) -> Option<PathBuf> {
    flag.map(Path::to_path_buf)
        .or_else(|| ctx.env.get("CLAUDE_CONFIG_DIR").map(PathBuf::from))
        .or_else(|| {
            ctx.env
                .get("HOME")
                .map(|h| PathBuf::from(h).join(".claude"))
        })
}

fn on_path(ctx: &Ctx, name: &str) -> bool {
    ctx.env
        .get("PATH")
        .is_some_and(|p| std::env::split_paths(p).any(|dir| dir.join(name).is_file()))
}

fn hosts_for(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<Vec<Host>> {
    Ok(match args.target {
        Some(InstallTarget::Codex) => vec![Host::Codex],
        Some(InstallTarget::Claude) => vec![Host::Claude],
        Some(InstallTarget::Scheduler) => {
            anyhow::bail!("the scheduler is not a host; run `csep install scheduler`")
        }
        None => {
            let mut hosts = Vec::new();
            let codex = args.codex_home.is_some()
                || on_path(ctx, "codex")
                || codex_home(ctx, None).is_some_and(|d| d.is_dir());
            let claude = args.claude_config_dir.is_some()
                || on_path(ctx, "claude")
                || claude_dir(ctx, None).is_some_and(|d| d.is_dir());
            if codex {
                hosts.push(Host::Codex);
            }
            if claude {
                hosts.push(Host::Claude);
            }
            if hosts.is_empty() {
                anyhow::bail!(
                    "found neither Codex nor Claude Code (no `codex`/`claude` on PATH, no ~/.codex \
                     or ~/.claude); name one: `csep install codex` or `csep install claude`"
                );
            }
            hosts
        }
    })
}

/// The `--home` the hooks and scheduled jobs need: none when the home is the default one.
pub fn hook_home_of(ctx: &Ctx) -> Option<PathBuf> {
    hook_home(ctx)
}

fn hook_home(ctx: &Ctx) -> Option<PathBuf> {
    let default = ctx
        .env
        .get("HOME")
        .map(|h| PathBuf::from(h).join(DEFAULT_HOME_DIR_NAME));
    (default.as_deref() != Some(ctx.paths.home.as_path())).then(|| ctx.paths.home.clone())
}

fn exe() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe.canonicalize().unwrap_or(exe))
}

/// The bundle's inputs for this invocation: this binary, this home.
fn bundle_spec(ctx: &Ctx) -> anyhow::Result<BundleSpec> {
    Ok(BundleSpec {
        exe: exe()?,
        hook_home: hook_home(ctx),
        version: crate::VERSION.to_owned(),
    })
}

/// Where `csep install --plugin` writes the marketplace: `<csep home>/plugin`.
pub fn bundle_dir(paths: &Paths) -> PathBuf {
    paths.home.join("plugin")
}

/// Runs `csep plugin …`.
pub fn run_plugin(ctx: &Ctx, cmd: PluginCommand) -> anyhow::Result<u8> {
    match cmd {
        PluginCommand::Bundle { out } => {
            let out = ctx.project_dir(Some(&out))?;
            let files = bundle::write(&out, &bundle_spec(ctx)?)?;
            if ctx.json {
                output::print_json(&serde_json::json!({
                    "dir": out,
                    "plugin_id": bundle::plugin_id(),
                    "files": files,
                }))?;
            } else {
                println!("wrote the csep plugin bundle into {}", out.display());
                for f in &files {
                    println!("  {}", f.display());
                }
                println!(
                    "install it with `codex plugin marketplace add {0}` and `codex plugin add {1}`, \
                     or `claude plugin marketplace add {0}` and `claude plugin install {1}` \
                     (`csep install codex|claude --plugin` does all of it, with Codex hook trust)",
                    out.display(),
                    bundle::plugin_id()
                );
            }
            Ok(0)
        }
    }
}

/// Finds a host CLI: `--host-bin`, else `name` on PATH.
fn host_bin(ctx: &Ctx, args: &InstallArgs, host: Host) -> anyhow::Result<PathBuf> {
    if let Some(bin) = &args.host_bin {
        return Ok(bin.clone());
    }
    let name = host.as_str();
    ctx.env
        .get("PATH")
        .and_then(|p| {
            std::env::split_paths(p)
                .map(|dir| dir.join(name))
                .find(|c| c.is_file())
        })
        .ok_or_else(|| {
            anyhow::anyhow!(
                "`{name}` is not on PATH; --plugin installs through the host's own plugin \
                 commands: install {name} or pass --host-bin PATH"
            )
        })
}

fn install_plugin(
    ctx: &Ctx,
    args: &InstallArgs,
    host: Host,
    dir: PathBuf,
    previous: Option<&InstallManifest>,
    now: &str,
) -> anyhow::Result<HostReport> {
    let bin = host_bin(ctx, args, host)?;
    let bundle_dir = bundle_dir(&ctx.paths);
    if args.dry_run {
        let (steps, _) = plugin::host_commands(host, &bundle_dir);
        return Ok(HostReport {
            host,
            action: format!(
                "would write the plugin bundle into {} and install it into {}",
                bundle_dir.display(),
                dir.display()
            ),
            files: steps
                .iter()
                .map(|s| (format!("{} {}", bin.display(), s.join(" ")), "run".into()))
                .collect(),
            trusted: None,
        });
    }
    // A reinstall (plugin or direct hooks) starts from the state before the first install.
    if let Some(previous) = previous {
        uninstall_manifest(previous)?;
        let _ = std::fs::remove_file(install::manifest_path(&ctx.paths.home, host));
    }
    let (explicit_flag, var) = match host {
        Host::Codex => (args.codex_home.as_ref(), "CODEX_HOME"),
        Host::Claude => (args.claude_config_dir.as_ref(), "CLAUDE_CONFIG_DIR"),
    };
    // Codex always gets its home spelled out; Claude only when it was chosen explicitly (its
    // default layout differs from an explicit CLAUDE_CONFIG_DIR).
    let config_env = match host {
        Host::Codex => Some(dir.clone()),
        Host::Claude => explicit_flag
            .cloned()
            .or_else(|| ctx.env.get(var).map(PathBuf::from)),
    };
    let target = plugin::PluginTarget {
        host,
        host_bin: bin,
        host_dir: dir.clone(),
        config_env,
        bundle_dir,
        spec: bundle_spec(ctx)?,
        trust_cwd: ctx.cwd.clone().unwrap_or(dir),
    };
    let manifest = plugin::install(&target, now)?;
    install::write_manifest(&ctx.paths.home, &manifest)?;
    Ok(report(&manifest, "installed as a plugin"))
}

/// Undoes one manifest (plugin or direct hooks), whichever way it was installed.
fn uninstall_manifest(manifest: &InstallManifest) -> anyhow::Result<Vec<(String, String)>> {
    let done: Vec<(String, String)> = if manifest.plugin.is_some() {
        plugin::uninstall(manifest)?
            .into_iter()
            .map(|(p, what)| (p.display().to_string(), what))
            .collect()
    } else {
        let done = match manifest.host {
            Host::Codex => codex_install::uninstall(manifest)?,
            Host::Claude => claude_install::uninstall(manifest)?,
        };
        done.into_iter()
            .map(|(p, what)| (p.display().to_string(), what.to_owned()))
            .collect()
    };
    Ok(done)
}

/// Runs `csep install`.
pub fn run_install(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<u8> {
    if args.mcp {
        return Err(NotAvailable {
            command: "install --mcp",
            what: "the MCP server arrives with the operating tools",
        }
        .into());
    }
    if args.target == Some(InstallTarget::Scheduler) {
        return scheduler_cmd::run_install(ctx, args);
    }
    let reports = install_hosts(ctx, args)?;
    print_reports(ctx, &reports)?;
    Ok(0)
}

/// Installs into the hosts `args` select (hooks or plugin) and returns one report per host;
/// prints nothing (also used by `csep doctor --fix` to re-install and re-trust).
pub fn install_hosts(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<Vec<HostReport>> {
    let hosts = hosts_for(ctx, args)?;
    ctx.paths.ensure_home()?;
    let now = time::now();
    let exe = exe()?;
    let mut reports = Vec::new();
    for host in hosts {
        let mut previous = install::read_manifest(&ctx.paths.home, host);
        if args.plugin {
            let dir = match host {
                Host::Codex => codex_home(ctx, args.codex_home.as_deref()),
                Host::Claude => claude_dir(ctx, args.claude_config_dir.as_deref()),
            }
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "cannot locate {host}'s configuration; pass --codex-home or --claude-config-dir"
                )
            })?;
            reports.push(install_plugin(
                ctx,
                args,
                host,
                dir,
                previous.as_ref(),
                &now,
            )?);
            continue;
        }
        // Switching from the plugin to direct hooks removes the plugin first.
        if previous.as_ref().is_some_and(|p| p.plugin.is_some())
            && !args.dry_run
            && let Some(p) = previous.take()
        {
            uninstall_manifest(&p)?;
            let _ = std::fs::remove_file(install::manifest_path(&ctx.paths.home, host));
        }
        let manifest = match host {
            Host::Codex => {
                let dir = codex_home(ctx, args.codex_home.as_deref()).ok_or_else(|| {
                    anyhow::anyhow!("cannot locate Codex's home; pass --codex-home DIR")
                })?;
                if args.dry_run {
                    reports.push(dry_run(host, &dir));
                    continue;
                }
                let target = CodexTarget {
                    codex_home: dir,
                    exe: exe.clone(),
                    hook_home: hook_home(ctx),
                };
                codex_install::install(&target, previous.as_ref(), &now)?
            }
            Host::Claude => {
                let dir = claude_dir(ctx, args.claude_config_dir.as_deref()).ok_or_else(|| {
                    anyhow::anyhow!(
                        "cannot locate Claude's config dir; pass --claude-config-dir DIR"
                    )
                })?;
                if args.dry_run {
                    reports.push(dry_run(host, &dir));
                    continue;
                }
                let target = ClaudeTarget {
                    config_dir: dir,
                    exe: exe.clone(),
                    hook_home: hook_home(ctx),
                };
                claude_install::install(&target, previous.as_ref(), &now)?
            }
        };
        let unchanged = previous.as_ref().is_some_and(|p| {
            p.edits
                .iter()
                .zip(&manifest.edits)
                .all(|(a, b)| a.written == b.written)
                && p.edits.len() == manifest.edits.len()
        });
        install::write_manifest(&ctx.paths.home, &manifest)?;
        reports.push(report(
            &manifest,
            if unchanged {
                "already installed"
            } else {
                "installed"
            },
        ));
    }
    Ok(reports)
}

fn dry_run(host: Host, dir: &Path) -> HostReport {
    HostReport {
        host,
        action: format!("would install into {}", dir.display()),
        files: vec![],
        trusted: None,
    }
}

fn report(manifest: &InstallManifest, action: &str) -> HostReport {
    let trusted = match (manifest.host, &manifest.plugin) {
        (Host::Codex, Some(record)) => {
            Some(plugin::check(Host::Codex, &record.host_dir, &manifest.commands).1)
        }
        (Host::Codex, None) => manifest
            .edits
            .first()
            .and_then(|e| e.path.parent())
            .map(|home| codex_install::check(home).1),
        (Host::Claude, _) => None,
    };
    HostReport {
        host: manifest.host,
        action: action.to_owned(),
        files: manifest
            .edits
            .iter()
            .map(|e| {
                let what = if e.original.is_some() {
                    "edited"
                } else {
                    "created"
                };
                (e.path.display().to_string(), what.to_owned())
            })
            .collect(),
        trusted,
    }
}

/// Runs `csep uninstall`.
pub fn run_uninstall(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<u8> {
    if args.target == Some(InstallTarget::Scheduler) {
        return scheduler_cmd::run_uninstall(ctx, args);
    }
    let hosts = match args.target {
        None => Host::ALL.to_vec(),
        Some(_) => hosts_for(ctx, args)?,
    };
    let mut reports = Vec::new();
    for host in hosts {
        let Some(manifest) = install::read_manifest(&ctx.paths.home, host) else {
            if args.target.is_some() {
                reports.push(HostReport {
                    host,
                    action: "not installed".into(),
                    files: vec![],
                    trusted: None,
                });
            }
            continue;
        };
        if args.dry_run {
            reports.push(report(&manifest, "would uninstall"));
            continue;
        }
        let files = uninstall_manifest(&manifest)?;
        let _ = std::fs::remove_file(install::manifest_path(&ctx.paths.home, host));
        reports.push(HostReport {
            host,
            action: if manifest.plugin.is_some() {
                "uninstalled (plugin)".into()
            } else {
                "uninstalled".into()
            },
            files,
            trusted: None,
        });
    }
    print_reports(ctx, &reports)?;
    Ok(0)
}

fn print_reports(ctx: &Ctx, reports: &[HostReport]) -> anyhow::Result<()> {
    if ctx.json {
        return output::print_json(&reports);
    }
    if reports.is_empty() {
        println!("nothing to do: csep's hooks are not installed");
    }
    for r in reports {
        let trust = match r.trusted {
            Some(true) => " (hooks trusted)",
            Some(false) => " (hooks NOT trusted: run `csep doctor`)",
            None => "",
        };
        println!("{}: {}{trust}", r.host, r.action);
        for (path, what) in &r.files {
            println!("  {what:<10} {path}");
        }
    }
    Ok(())
}

/// Hook state of one host for `csep status`: (installed, trusted) where trust applies.
pub fn hook_state(paths: &Paths, ctx: &Ctx, host: Host) -> (bool, Option<bool>) {
    let manifest = install::read_manifest(&paths.home, host);
    if let Some(m) = &manifest
        && let Some(record) = &m.plugin
    {
        let (installed, trusted) = plugin::check(host, &record.host_dir, &m.commands);
        return (installed, (host == Host::Codex).then_some(trusted));
    }
    match host {
        Host::Codex => {
            let dir = manifest
                .as_ref()
                .and_then(|m| m.edits.first())
                .and_then(|e| e.path.parent().map(Path::to_path_buf))
                .or_else(|| codex_home(ctx, None));
            match dir {
                Some(dir) => {
                    let (installed, trusted) = codex_install::check(&dir);
                    (installed, Some(trusted))
                }
                None => (false, Some(false)),
            }
        }
        Host::Claude => {
            let dir = manifest
                .as_ref()
                .and_then(|m| m.edits.first())
                .and_then(|e| e.path.parent().map(Path::to_path_buf))
                .or_else(|| claude_dir(ctx, None));
            (dir.is_some_and(|d| claude_install::check(&d)), None)
        }
    }
}
