//! `csep install` / `csep uninstall`: hooks for Codex and Claude Code, directly in the hosts'
//! configuration or (`--plugin`) as a plugin installed through the hosts' own plugin commands
//! ([`crate::host::plugin`]); `install scheduler` is handled by [`crate::cli::scheduler_cmd`].
//! `csep plugin bundle` only writes the bundle. `--mcp` also registers csep's MCP server
//! (`csep mcp`) with the host ([`crate::host::mcp`]); once registered it is kept by later
//! installs and removed by `csep uninstall <host>` (or alone by `csep uninstall <host> --mcp`).
//!
//! The hooks call this very binary by absolute path (and `--home` when the home is not the
//! default), so they keep working whatever the host's PATH is. What was changed is recorded in
//! `<home>/install/<host>.json`; uninstall reverses exactly that.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::args::{InstallArgs, InstallTarget, PluginCommand};
use crate::cli::{Ctx, output, scheduler_cmd};
use crate::host::bundle::{self, BundleSpec};
use crate::host::claude::install::{self as claude_install, ClaudeTarget};
use crate::host::codex::install::{self as codex_install, CodexTarget};
use crate::host::install::{self, InstallManifest};
use crate::host::mcp::{self, McpRecord, McpServer};
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
                "`{name}` is not on PATH; --plugin (and --mcp for Claude) installs through the \
                 host's own commands: install {name} or pass --host-bin PATH"
            )
        })
}

/// Installs the plugin; returns the new manifest (not yet written), or the dry-run report.
fn install_plugin(
    ctx: &Ctx,
    args: &InstallArgs,
    host: Host,
    dir: PathBuf,
    previous: Option<&InstallManifest>,
    now: &str,
) -> anyhow::Result<Result<InstallManifest, HostReport>> {
    let bin = host_bin(ctx, args, host)?;
    let bundle_dir = bundle_dir(&ctx.paths);
    if args.dry_run {
        let (steps, _) = plugin::host_commands(host, &bundle_dir);
        return Ok(Err(HostReport {
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
        }));
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
    Ok(Ok(plugin::install(&target, now)?))
}

/// Undoes one manifest (plugin or direct hooks, and the MCP server first: it was done last),
/// whichever way it was installed.
fn uninstall_manifest(manifest: &InstallManifest) -> anyhow::Result<Vec<(String, String)>> {
    let mut done = match &manifest.mcp {
        Some(record) => mcp_outcomes(mcp::uninstall(record)?),
        None => Vec::new(),
    };
    let rest: Vec<(String, String)> = if manifest.plugin.is_some() {
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
    done.extend(rest);
    Ok(done)
}

/// Report lines for a registered MCP server.
fn mcp_files(record: &McpRecord) -> Vec<(String, String)> {
    match &record.host_command {
        Some(cmd) => vec![(
            format!("{} {}", cmd.host_bin.display(), cmd.ran.join(" ")),
            "mcp: ran".to_owned(),
        )],
        None => record
            .edits
            .iter()
            .map(|e| {
                (
                    format!("{} [mcp_servers.csep]", e.path.display()),
                    "mcp: added".to_owned(),
                )
            })
            .collect(),
    }
}

fn mcp_outcomes(done: Vec<(PathBuf, String)>) -> Vec<(String, String)> {
    done.into_iter()
        .map(|(p, what)| (p.display().to_string(), format!("mcp: {what}")))
        .collect()
}

/// The `HOME` Claude's default user config lives in.
fn user_home(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    ctx.env.get("HOME").map(PathBuf::from).ok_or_else(|| {
        anyhow::anyhow!("HOME is not set; pass --claude-config-dir DIR to say where Claude lives")
    })
}

/// Where and how the MCP server gets registered with `host`: a fresh registration follows the
/// flags; one kept from an earlier install (`previous`, no `--mcp`) goes back where it was.
enum McpPlan {
    Codex(PathBuf),
    Claude {
        bin: PathBuf,
        config_env: Option<PathBuf>,
        file: PathBuf,
    },
}

fn mcp_plan(
    ctx: &Ctx,
    args: &InstallArgs,
    host: Host,
    previous: Option<&McpRecord>,
) -> anyhow::Result<McpPlan> {
    let kept = previous.filter(|_| !args.mcp);
    if let Some(record) = kept {
        match (&record.host_command, record.edits.first()) {
            (None, Some(edit)) if host == Host::Codex => {
                if let Some(dir) = edit.path.parent() {
                    return Ok(McpPlan::Codex(dir.to_path_buf()));
                }
            }
            (Some(cmd), Some(edit)) if host == Host::Claude => {
                return Ok(McpPlan::Claude {
                    bin: cmd.host_bin.clone(),
                    config_env: cmd.config_env.clone(),
                    file: edit.path.clone(),
                });
            }
            _ => {}
        }
    }
    Ok(match host {
        Host::Codex => {
            McpPlan::Codex(codex_home(ctx, args.codex_home.as_deref()).ok_or_else(|| {
                anyhow::anyhow!("cannot locate Codex's home; pass --codex-home DIR")
            })?)
        }
        Host::Claude => {
            let config_env = args
                .claude_config_dir
                .clone()
                .or_else(|| ctx.env.get("CLAUDE_CONFIG_DIR").map(PathBuf::from));
            let file = match &config_env {
                Some(dir) => mcp::claude_user_config(Some(dir), Path::new("")),
                None => mcp::claude_user_config(None, &user_home(ctx)?),
            };
            McpPlan::Claude {
                bin: host_bin(ctx, args, host)?,
                config_env,
                file,
            }
        }
    })
}

/// What a dry run would do for the MCP server.
fn mcp_dry_run(plan: &McpPlan, server: &McpServer) -> (String, String) {
    match plan {
        McpPlan::Codex(dir) => (
            format!(
                "[mcp_servers.csep] in {}",
                dir.join("config.toml").display()
            ),
            "would add".into(),
        ),
        McpPlan::Claude { bin, .. } => (
            format!(
                "{} {}",
                bin.display(),
                mcp::claude_commands(server).0.join(" ")
            ),
            "would run".into(),
        ),
    }
}

/// Registers the MCP server as planned.
fn register_mcp(plan: &McpPlan, server: &McpServer, now: &str) -> anyhow::Result<McpRecord> {
    Ok(match plan {
        // Its own backup stamp: the hooks' edit of the same file keeps its backup.
        McpPlan::Codex(dir) => mcp::install_codex(dir, server, &format!("{now}-mcp"))?,
        McpPlan::Claude {
            bin,
            config_env,
            file,
        } => mcp::install_claude(bin, config_env.as_deref(), file, server)?,
    })
}

/// Runs `csep install`.
pub fn run_install(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<u8> {
    if args.target == Some(InstallTarget::Scheduler) {
        if args.mcp {
            anyhow::bail!(
                "--mcp registers the MCP server with a host: `csep install codex --mcp` or \
                 `csep install claude --mcp`"
            );
        }
        return scheduler_cmd::run_install(ctx, args);
    }
    let reports = install_hosts(ctx, args)?;
    print_reports(ctx, &reports)?;
    Ok(0)
}

/// Installs into the hosts `args` select (hooks or plugin, plus the MCP server with `--mcp` or
/// when an earlier install registered it) and returns one report per host; prints nothing (also
/// used by `csep doctor --fix` to re-install and re-trust).
pub fn install_hosts(ctx: &Ctx, args: &InstallArgs) -> anyhow::Result<Vec<HostReport>> {
    let hosts = hosts_for(ctx, args)?;
    ctx.paths.ensure_home()?;
    let now = time::now();
    let exe = exe()?;
    let server = McpServer::new(&exe, hook_home(ctx).as_deref());
    let mut reports = Vec::new();
    for host in hosts {
        let mut previous = install::read_manifest(&ctx.paths.home, host);
        let had_mcp = previous.as_ref().and_then(|p| p.mcp.clone());
        // Resolved before anything changes, so a missing `claude` fails the install up front.
        let mcp_plan = if args.mcp || had_mcp.is_some() {
            Some(mcp_plan(ctx, args, host, had_mcp.as_ref())?)
        } else {
            None
        };
        let outcome = if args.dry_run {
            Err(dry_run_report(ctx, args, host, previous.as_ref())?)
        } else {
            // The MCP server was registered last, so it is undone first; the hooks or plugin
            // then refresh from the state before their own first install.
            if let Some(record) = previous.as_mut().and_then(|p| p.mcp.take()) {
                mcp::uninstall(&record)?;
                if let Some(p) = &previous {
                    install::write_manifest(&ctx.paths.home, p)?;
                }
            }
            install_one(ctx, args, host, previous, &exe, &now)?
        };
        let (mut manifest, action) = match outcome {
            Ok(done) => done,
            Err(mut report) => {
                if let Some(plan) = &mcp_plan {
                    report.files.push(mcp_dry_run(plan, &server));
                }
                reports.push(report);
                continue;
            }
        };
        if let Some(plan) = &mcp_plan {
            match register_mcp(plan, &server, &now) {
                Ok(record) => manifest.mcp = Some(record),
                Err(e) => {
                    // The hooks are in place: record them so `csep uninstall` can undo them.
                    install::write_manifest(&ctx.paths.home, &manifest)?;
                    return Err(e.context(format!(
                        "{host}'s hooks are installed, but registering csep's MCP server failed"
                    )));
                }
            }
        }
        install::write_manifest(&ctx.paths.home, &manifest)?;
        let written = |r: Option<&McpRecord>| {
            r.map(|r| {
                r.edits
                    .iter()
                    .map(|e| e.written.clone())
                    .collect::<Vec<_>>()
            })
        };
        let same_mcp = written(had_mcp.as_ref()) == written(manifest.mcp.as_ref());
        let action = if action == "already installed" && !same_mcp {
            "installed"
        } else {
            action
        };
        reports.push(report(&manifest, action));
    }
    Ok(reports)
}

/// What a dry run reports for one host.
fn dry_run_report(
    ctx: &Ctx,
    args: &InstallArgs,
    host: Host,
    previous: Option<&InstallManifest>,
) -> anyhow::Result<HostReport> {
    let dir = match host {
        Host::Codex => codex_home(ctx, args.codex_home.as_deref()),
        Host::Claude => claude_dir(ctx, args.claude_config_dir.as_deref()),
    }
    .ok_or_else(|| {
        anyhow::anyhow!(
            "cannot locate {host}'s configuration; pass --codex-home or --claude-config-dir"
        )
    })?;
    if args.plugin {
        match install_plugin(ctx, args, host, dir, previous, "")? {
            Err(report) => Ok(report),
            Ok(manifest) => Ok(report(&manifest, "installed as a plugin")),
        }
    } else {
        Ok(dry_run(host, &dir))
    }
}

/// Installs one host's hooks or plugin (not the MCP server); returns the manifest and the
/// report's action.
fn install_one(
    ctx: &Ctx,
    args: &InstallArgs,
    host: Host,
    mut previous: Option<InstallManifest>,
    exe: &Path,
    now: &str,
) -> anyhow::Result<Result<(InstallManifest, &'static str), HostReport>> {
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
        return Ok(
            install_plugin(ctx, args, host, dir, previous.as_ref(), now)?
                .map(|m| (m, "installed as a plugin")),
        );
    }
    // Switching from the plugin to direct hooks removes the plugin first.
    if previous.as_ref().is_some_and(|p| p.plugin.is_some())
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
            let target = CodexTarget {
                codex_home: dir,
                exe: exe.to_path_buf(),
                hook_home: hook_home(ctx),
            };
            codex_install::install(&target, previous.as_ref(), now)?
        }
        Host::Claude => {
            let dir = claude_dir(ctx, args.claude_config_dir.as_deref()).ok_or_else(|| {
                anyhow::anyhow!("cannot locate Claude's config dir; pass --claude-config-dir DIR")
            })?;
            let target = ClaudeTarget {
                config_dir: dir,
                exe: exe.to_path_buf(),
                hook_home: hook_home(ctx),
            };
            claude_install::install(&target, previous.as_ref(), now)?
        }
    };
    let unchanged = previous.as_ref().is_some_and(|p| {
        p.edits
            .iter()
            .zip(&manifest.edits)
            .all(|(a, b)| a.written == b.written)
            && p.edits.len() == manifest.edits.len()
    });
    Ok(Ok((
        manifest,
        if unchanged {
            "already installed"
        } else {
            "installed"
        },
    )))
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
    let mut files: Vec<(String, String)> = manifest
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
        .collect();
    if let Some(record) = &manifest.mcp {
        files.extend(mcp_files(record));
    }
    HostReport {
        host: manifest.host,
        action: action.to_owned(),
        files,
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
    if args.mcp {
        let reports = uninstall_mcp_only(ctx, args, &hosts)?;
        print_reports(ctx, &reports)?;
        return Ok(0);
    }
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

/// `csep uninstall [host] --mcp`: removes only the MCP server, keeping hooks or plugin.
fn uninstall_mcp_only(
    ctx: &Ctx,
    args: &InstallArgs,
    hosts: &[Host],
) -> anyhow::Result<Vec<HostReport>> {
    let mut reports = Vec::new();
    for &host in hosts {
        let manifest = install::read_manifest(&ctx.paths.home, host);
        let Some(mut manifest) = manifest.filter(|m| m.mcp.is_some()) else {
            if args.target.is_some() {
                reports.push(HostReport {
                    host,
                    action: "MCP server not registered".into(),
                    files: vec![],
                    trusted: None,
                });
            }
            continue;
        };
        let Some(record) = manifest.mcp.take() else {
            continue;
        };
        if args.dry_run {
            reports.push(HostReport {
                host,
                action: "would remove the MCP server".into(),
                files: mcp_files(&record),
                trusted: None,
            });
            continue;
        }
        let files = mcp_outcomes(mcp::uninstall(&record)?);
        install::write_manifest(&ctx.paths.home, &manifest)?;
        reports.push(HostReport {
            host,
            action: "MCP server removed".into(),
            files,
            trusted: None,
        });
    }
    Ok(reports)
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

/// Hook state of one host for `csep status` and `csep doctor`: (installed, trusted) where trust
/// applies. `manifest` is the host's install manifest, when there is one
/// ([`install::read_manifest`]).
pub fn hook_state(
    manifest: Option<&InstallManifest>,
    ctx: &Ctx,
    host: Host,
) -> (bool, Option<bool>) {
    if let Some(m) = manifest
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
