//! `csep doctor [--fix]`: checks the installation and the home, prints each check with its state
//! and the command that fixes it, and with `--fix` applies the safe fixes (permissions, expired
//! leases, re-installing hooks to re-trust them or to point them at this binary, a stuck worker's
//! lock), then checks again.
//!
//! Invariants: without `--fix` nothing is written (the database is opened read-only); a check
//! that cannot run reports why instead of failing the command. Exit 0 when every check is `ok` or
//! `info`, 1 when any is `warn` or `fail` (after the fixes, with `--fix`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::params;
use serde::Serialize;

use crate::cli::args::{DoctorArgs, InstallArgs, InstallTarget};
use crate::cli::{Ctx, install as install_cmd, output};
use crate::host::Host;
use crate::host::install::{self, InstallManifest};
use crate::memory::start_index::Coverage;
use crate::store::db::{OpenOptions, Store, StoreError};
use crate::store::{fsutil, time};

/// A worker holding its lock longer than this is reported as stuck (a run normally takes
/// seconds; a slow provider review minutes).
pub const STUCK_WORKER_AFTER: Duration = Duration::from_secs(3600);

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Healthy.
    Ok,
    /// Nothing to check (e.g. hooks not installed); not a problem.
    Info,
    /// Works, but should be looked at.
    Warn,
    /// Broken.
    Fail,
}

/// A safe fix `--fix` can apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Set a path's permission bits.
    Chmod(PathBuf, u32),
    /// Return expired `processing` leases to the queue.
    ReclaimLeases,
    /// Re-run `csep install` for a host the way it was installed.
    Reinstall(Host),
    /// Remove a stuck worker's lock file.
    RemoveLock(PathBuf),
    /// Build the start index files that are missing or out of date.
    RebuildStartIndex,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name (`permissions`, `codex_trust`, ...).
    pub name: &'static str,
    /// Outcome.
    pub status: CheckStatus,
    /// What was found.
    pub detail: String,
    /// The command that fixes it, when something is off.
    pub fix: Option<String>,
    /// Whether `--fix` can apply the fix itself.
    pub auto_fixable: bool,
    #[serde(skip)]
    action: Vec<Fix>,
}

impl Check {
    fn new(name: &'static str, status: CheckStatus, detail: impl Into<String>) -> Check {
        Check {
            name,
            status,
            detail: detail.into(),
            fix: None,
            auto_fixable: false,
            action: Vec::new(),
        }
    }

    fn fix(mut self, command: impl Into<String>) -> Check {
        self.fix = Some(command.into());
        self
    }

    fn action(mut self, fix: Fix) -> Check {
        self.action.push(fix);
        self.auto_fixable = true;
        self
    }
}

/// What `csep doctor` prints with `--json`.
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    /// No check is `warn` or `fail`.
    pub healthy: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Fixes applied by `--fix`, with their outcome.
    pub fixes_applied: Vec<String>,
}

/// Runs `csep doctor`.
pub fn run(ctx: &Ctx, args: &DoctorArgs) -> anyhow::Result<u8> {
    let mut checks = run_checks(ctx);
    let mut fixes_applied = Vec::new();
    if args.fix {
        let actions: Vec<Fix> = checks
            .iter()
            // An `info` check's action is routine upkeep (the start index), safe to apply.
            .filter(|c| c.status != CheckStatus::Ok)
            .flat_map(|c| c.action.clone())
            .collect();
        if !actions.is_empty() {
            for fix in &actions {
                fixes_applied.push(apply(ctx, fix));
            }
            checks = run_checks(ctx);
        }
    }
    let healthy = checks
        .iter()
        .all(|c| matches!(c.status, CheckStatus::Ok | CheckStatus::Info));
    let report = DoctorReport {
        healthy,
        checks,
        fixes_applied,
    };
    if ctx.json {
        output::print_json(&report)?;
    } else {
        print!("{}", render(&report, args.fix));
    }
    Ok(if healthy { 0 } else { 1 })
}

/// Human rendering.
pub fn render(report: &DoctorReport, fixing: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for fix in &report.fixes_applied {
        let _ = writeln!(s, "fixed     {fix}");
    }
    if !report.fixes_applied.is_empty() {
        s.push('\n');
    }
    for c in &report.checks {
        let tag = match c.status {
            CheckStatus::Ok => "ok  ",
            CheckStatus::Info => "info",
            CheckStatus::Warn => "WARN",
            CheckStatus::Fail => "FAIL",
        };
        let _ = writeln!(s, "[{tag}] {:<18} {}", c.name, c.detail);
        if let Some(fix) = &c.fix
            && matches!(c.status, CheckStatus::Warn | CheckStatus::Fail)
        {
            let auto = if c.auto_fixable && !fixing {
                "  (or `csep doctor --fix`)"
            } else {
                ""
            };
            let _ = writeln!(s, "       {:<18} fix: {fix}{auto}", "");
        }
    }
    let _ = writeln!(
        s,
        "\n{}",
        if report.healthy {
            "healthy"
        } else {
            "something needs attention (see the fixes above)"
        }
    );
    s
}

/// Runs every check (read-only).
pub fn run_checks(ctx: &Ctx) -> Vec<Check> {
    let mut checks = Vec::new();
    let manifests: Vec<(Host, InstallManifest)> = Host::ALL
        .into_iter()
        .filter_map(|h| install::read_manifest(&ctx.paths.home, h).map(|m| (h, m)))
        .collect();
    checks.push(check_hook_binary(&manifests));
    checks.push(check_codex_trust(ctx, &manifests));
    checks.push(check_config(ctx));
    checks.push(check_permissions(ctx));
    let store = Store::open_with(
        &ctx.paths.db(),
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    );
    match store {
        Ok(store) => {
            checks.push(check_integrity(&store));
            checks.push(check_leases(&store));
            checks.push(check_start_index(ctx, &store));
            checks.push(check_orphaned_skills(ctx, &manifests, Some(&store)));
        }
        Err(StoreError::Missing { .. }) => {
            checks.push(Check::new(
                "database",
                CheckStatus::Info,
                "no database yet (created by the first hook or command that writes)",
            ));
            checks.push(check_orphaned_skills(ctx, &manifests, None));
        }
        Err(e) => checks.push(
            Check::new("database", CheckStatus::Fail, format!("cannot open: {e}"))
                .fix("move csep.db aside and rerun any command to start a fresh database"),
        ),
    }
    checks.push(check_worker(ctx));
    checks.push(check_log_dir(ctx));
    checks
}

/// The first word of a POSIX shell command (undoing [`install::shell_quote`]).
pub fn first_word(command: &str) -> String {
    let mut out = String::new();
    let mut chars = command.trim_start().chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => quoted = !quoted,
            '\\' if !quoted => {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            }
            c if c.is_whitespace() && !quoted => break,
            c => out.push(c),
        }
    }
    out
}

fn is_executable(path: &Path) -> bool {
    path.is_file() && fsutil::mode_of(path).is_none_or(|m| m & 0o111 != 0)
}

fn install_command(host: Host, manifest: &InstallManifest) -> String {
    if manifest.plugin.is_some() {
        format!("csep install {host} --plugin")
    } else {
        format!("csep install {host}")
    }
}

fn check_hook_binary(manifests: &[(Host, InstallManifest)]) -> Check {
    if manifests.is_empty() {
        return Check::new(
            "hook_binary",
            CheckStatus::Info,
            "hooks not installed in any host",
        )
        .fix("csep install");
    }
    let mut broken = Vec::new();
    let mut found = Vec::new();
    for (host, m) in manifests {
        for command in m.commands.values() {
            let exe = PathBuf::from(first_word(command));
            if !is_executable(&exe) {
                broken.push((*host, exe.display().to_string()));
            } else if !found.contains(&exe) {
                found.push(exe);
            }
        }
    }
    broken.dedup();
    if broken.is_empty() {
        let list: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        return Check::new(
            "hook_binary",
            CheckStatus::Ok,
            format!("hooks call {}", list.join(", ")),
        );
    }
    let mut check = Check::new(
        "hook_binary",
        CheckStatus::Fail,
        format!(
            "hooks call a csep binary that is missing or not executable: {}",
            broken
                .iter()
                .map(|(h, p)| format!("{h}: {p}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let mut hosts: Vec<Host> = broken.iter().map(|(h, _)| *h).collect();
    hosts.dedup();
    let fixes: Vec<String> = hosts
        .iter()
        .filter_map(|h| {
            manifests
                .iter()
                .find(|(mh, _)| mh == h)
                .map(|(_, m)| install_command(*h, m))
        })
        .collect();
    check = check.fix(fixes.join(" && "));
    for h in hosts {
        check = check.action(Fix::Reinstall(h));
    }
    check
}

fn check_codex_trust(ctx: &Ctx, manifests: &[(Host, InstallManifest)]) -> Check {
    let Some((_, manifest)) = manifests.iter().find(|(h, _)| *h == Host::Codex) else {
        return Check::new(
            "codex_trust",
            CheckStatus::Info,
            "csep is not installed into Codex",
        )
        .fix("csep install codex");
    };
    let (installed, trusted) = install_cmd::hook_state(Some(manifest), ctx, Host::Codex);
    let fix = install_command(Host::Codex, manifest);
    match (installed, trusted) {
        (false, _) => Check::new(
            "codex_trust",
            CheckStatus::Fail,
            "csep's hooks were removed from Codex's configuration since install",
        )
        .fix(fix)
        .action(Fix::Reinstall(Host::Codex)),
        (true, Some(false)) => Check::new(
            "codex_trust",
            CheckStatus::Fail,
            "csep's Codex hooks are not trusted with their current hashes: Codex skips them silently",
        )
        .fix(fix)
        .action(Fix::Reinstall(Host::Codex)),
        (true, _) => Check::new(
            "codex_trust",
            CheckStatus::Ok,
            "Codex hooks installed and trusted",
        ),
    }
}

fn check_config(ctx: &Ctx) -> Check {
    match ctx.load_config() {
        Ok(loaded) if loaded.warnings.is_empty() => Check::new(
            "config",
            CheckStatus::Ok,
            if loaded.exists {
                format!("{} is valid", loaded.path.display())
            } else {
                "no config.toml; defaults apply".to_owned()
            },
        ),
        Ok(loaded) => Check::new(
            "config",
            CheckStatus::Warn,
            format!("{}: {}", loaded.path.display(), loaded.warnings.join("; ")),
        )
        .fix("csep config validate"),
        Err(e) => Check::new("config", CheckStatus::Fail, format!("{e:#}"))
            .fix("csep config validate, then edit config.toml"),
    }
}

fn check_permissions(ctx: &Ctx) -> Check {
    let home = &ctx.paths.home;
    if !home.is_dir() {
        return Check::new(
            "permissions",
            CheckStatus::Info,
            format!("{} does not exist yet", home.display()),
        );
    }
    let mut wrong = Vec::new();
    if fsutil::mode_of(home).is_some_and(|m| m & 0o077 != 0) {
        wrong.push((home.clone(), fsutil::PRIVATE_DIR_MODE));
    }
    let db = ctx.paths.db();
    let mut files = vec![db.clone(), ctx.paths.config(), ctx.paths.env_provider()];
    for suffix in ["-wal", "-shm"] {
        let mut name = db.as_os_str().to_os_string();
        name.push(suffix);
        files.push(PathBuf::from(name));
    }
    for file in files {
        if fsutil::mode_of(&file).is_some_and(|m| m & 0o077 != 0) {
            wrong.push((file, fsutil::PRIVATE_FILE_MODE));
        }
    }
    if wrong.is_empty() {
        return Check::new(
            "permissions",
            CheckStatus::Ok,
            "home is 0700; database, config and .env.provider are 0600",
        );
    }
    let detail = wrong
        .iter()
        .map(|(p, want)| {
            format!(
                "{} is {:o} (want {want:o})",
                p.display(),
                fsutil::mode_of(p).unwrap_or(0)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let fix = wrong
        .iter()
        .map(|(p, want)| {
            format!(
                "chmod {want:o} {}",
                install::shell_quote(&p.to_string_lossy())
            )
        })
        .collect::<Vec<_>>()
        .join(" && ");
    let mut check = Check::new("permissions", CheckStatus::Fail, detail).fix(fix);
    for (p, want) in wrong {
        check = check.action(Fix::Chmod(p, want));
    }
    check
}

fn check_integrity(store: &Store) -> Check {
    match store.integrity_check() {
        Ok(Ok(())) => Check::new(
            "database",
            CheckStatus::Ok,
            format!(
                "integrity check ok (schema v{})",
                store.schema_version().unwrap_or(0)
            ),
        ),
        Ok(Err(report)) => Check::new(
            "database",
            CheckStatus::Fail,
            format!(
                "integrity check failed: {}",
                report.chars().take(300).collect::<String>()
            ),
        )
        .fix(format!(
            "sqlite3 {0} '.recover' | sqlite3 {0}.recovered, then move the recovered file into place",
            install::shell_quote(&store.path().to_string_lossy())
        )),
        Err(e) => Check::new(
            "database",
            CheckStatus::Fail,
            format!("integrity check could not run: {e}"),
        )
        .fix("move csep.db aside and rerun any command to start a fresh database"),
    }
}

/// Expired `processing` leases: (stop events, suggestions).
fn expired_leases(store: &Store, now: &str) -> Result<(i64, i64), rusqlite::Error> {
    let count = |table: &str, state: &str| -> Result<i64, rusqlite::Error> {
        store.conn().query_row(
            &format!(
                "SELECT count(*) FROM {table} WHERE {state} = 'processing' \
                 AND lease_expires_at IS NOT NULL AND lease_expires_at < ?1"
            ),
            [now],
            |r| r.get(0),
        )
    };
    Ok((
        count("stop_events", "status")?,
        count("suggestions", "state")?,
    ))
}

fn check_leases(store: &Store) -> Check {
    match expired_leases(store, &time::now()) {
        Ok((0, 0)) => Check::new("leases", CheckStatus::Ok, "no expired leases"),
        Ok((events, suggestions)) => Check::new(
            "leases",
            CheckStatus::Fail,
            format!(
                "{events} stop event(s) and {suggestions} suggestion(s) are stuck in `processing` \
                 past their lease (a worker crashed or was killed)"
            ),
        )
        .fix("csep doctor --fix (returns them to the queue)")
        .action(Fix::ReclaimLeases),
        Err(e) => Check::new(
            "leases",
            CheckStatus::Warn,
            format!("cannot read the queues: {e}"),
        ),
    }
}

/// Whether session starts answer from the start index or read the database. Missing files are
/// not a fault (SessionStart reads the database instead, and the next worker run rebuilds
/// them), so the check is `info` then, with the rebuild as its fix.
fn check_start_index(ctx: &Ctx, store: &Store) -> Check {
    let projects = match crate::store::project::list(store) {
        Ok(projects) => projects,
        Err(e) => {
            return Check::new(
                "start_index",
                CheckStatus::Warn,
                format!("cannot list the projects: {e}"),
            );
        }
    };
    let ids: Vec<&str> = projects.iter().map(|p| p.id.as_str()).collect();
    let coverage = Coverage::of(&ctx.paths, &ids);
    let detail = format!("start {}", coverage.summary());
    if coverage.is_complete() {
        return Check::new("start_index", CheckStatus::Ok, detail);
    }
    Check::new("start_index", CheckStatus::Info, detail)
        .fix("csep doctor --fix (builds it now)")
        .action(Fix::RebuildStartIndex)
}

/// Skill roots where csep publishes (`csep-*` directories), for the hosts csep knows about.
fn skill_roots(ctx: &Ctx, manifests: &[(Host, InstallManifest)]) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let host_dir = |host: Host| -> Option<PathBuf> {
        manifests
            .iter()
            .find(|(h, _)| *h == host)
            .and_then(|(_, m)| {
                m.plugin.as_ref().map(|p| p.host_dir.clone()).or_else(|| {
                    m.edits
                        .first()
                        .and_then(|e| e.path.parent().map(Path::to_path_buf))
                })
            })
    };
    if let Some(dir) = host_dir(Host::Codex).or_else(|| install_cmd::codex_home(ctx, None)) {
        roots.push(dir.join("skills"));
    }
    if let Some(home) = ctx.env.get("HOME") {
        roots.push(PathBuf::from(home).join(".agents/skills"));
    }
    if let Some(dir) = host_dir(Host::Claude).or_else(|| install_cmd::claude_dir(ctx, None)) {
        roots.push(dir.join("skills"));
    }
    roots.dedup();
    roots
}

fn check_orphaned_skills(
    ctx: &Ctx,
    manifests: &[(Host, InstallManifest)],
    store: Option<&Store>,
) -> Check {
    let published: Vec<String> = store
        .and_then(|s| {
            let mut stmt = s
                .conn()
                .prepare("SELECT name FROM skills WHERE state = 'published'")
                .ok()?;
            let names = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .ok()?
                .filter_map(Result::ok)
                .collect();
            Some(names)
        })
        .unwrap_or_default();
    let mut orphans = Vec::new();
    for root in skill_roots(ctx, manifests) {
        let Ok(entries) = std::fs::read_dir(&root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("csep-") && entry.path().is_dir() && !published.contains(&name) {
                orphans.push(entry.path());
            }
        }
    }
    orphans.sort();
    if orphans.is_empty() {
        return Check::new(
            "orphaned_skills",
            CheckStatus::Ok,
            format!(
                "no csep-* skill directory without a manifest record ({} published)",
                published.len()
            ),
        );
    }
    Check::new(
        "orphaned_skills",
        CheckStatus::Warn,
        format!(
            "csep-* skill directories that csep's skills manifest does not know: {}",
            orphans
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .fix("csep skills gc --dry-run, then csep skills gc")
}

fn check_worker(ctx: &Ctx) -> Check {
    let lock = crate::hooks::stop::worker_lock_path(&ctx.paths.home);
    if !lock.exists() {
        return Check::new("worker", CheckStatus::Ok, "not running (never ran)");
    }
    if !crate::hooks::stop::is_worker_running(&ctx.paths.home) {
        return Check::new("worker", CheckStatus::Ok, "not running");
    }
    let holder = std::fs::read_to_string(&lock)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "unknown holder".into());
    let held_for = std::fs::metadata(&lock)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    if held_for <= STUCK_WORKER_AFTER {
        return Check::new(
            "worker",
            CheckStatus::Ok,
            format!("running ({holder}, {} s)", held_for.as_secs()),
        );
    }
    let pid = holder
        .split_whitespace()
        .next()
        .and_then(|w| w.strip_prefix("worker-"))
        .map(str::to_owned);
    let kill = pid
        .as_deref()
        .map(|p| format!("kill {p} && "))
        .unwrap_or_default();
    Check::new(
        "worker",
        CheckStatus::Fail,
        format!(
            "the worker lock has been held for {} min ({holder}): the worker looks stuck",
            held_for.as_secs() / 60
        ),
    )
    .fix(format!(
        "{kill}rm {}",
        install::shell_quote(&lock.to_string_lossy())
    ))
    .action(Fix::RemoveLock(lock))
}

fn check_log_dir(ctx: &Ctx) -> Check {
    let dir = ctx.paths.logs_dir();
    if !dir.exists() {
        return if ctx.paths.home.is_dir() {
            Check::new(
                "log_dir",
                CheckStatus::Info,
                format!("{} does not exist yet", dir.display()),
            )
        } else {
            Check::new("log_dir", CheckStatus::Info, "home does not exist yet")
        };
    }
    let probe = dir.join(format!(".doctor-probe-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            Check::new(
                "log_dir",
                CheckStatus::Ok,
                format!("{} is writable", dir.display()),
            )
        }
        Err(e) => Check::new(
            "log_dir",
            CheckStatus::Fail,
            format!("{} is not writable: {e}", dir.display()),
        )
        .fix(format!(
            "chmod u+rwx {}",
            install::shell_quote(&dir.to_string_lossy())
        )),
    }
}

/// Applies one fix; returns a line saying what happened.
fn apply(ctx: &Ctx, fix: &Fix) -> String {
    match fix {
        Fix::Chmod(path, mode) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                match std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode)) {
                    Ok(()) => format!("chmod {mode:o} {}", path.display()),
                    Err(e) => format!("chmod {mode:o} {} failed: {e}", path.display()),
                }
            }
            #[cfg(not(unix))]
            {
                format!("chmod {mode:o} {} skipped (not unix)", path.display())
            }
        }
        Fix::ReclaimLeases => match reclaim_leases(ctx) {
            Ok((events, suggestions)) => format!(
                "returned {events} stop event(s) and {suggestions} suggestion(s) with expired leases to the queue"
            ),
            Err(e) => format!("reclaiming leases failed: {e}"),
        },
        Fix::RemoveLock(path) => match std::fs::remove_file(path) {
            Ok(()) => format!(
                "removed the stuck worker's lock {} (the next Stop starts a fresh worker)",
                path.display()
            ),
            Err(e) => format!("removing {} failed: {e}", path.display()),
        },
        Fix::RebuildStartIndex => {
            let built = Store::open(&ctx.paths.db())
                .map_err(anyhow::Error::from)
                .and_then(|store| {
                    crate::memory::start_index::refresh_now(store.conn(), &ctx.paths)
                        .map_err(anyhow::Error::from)
                });
            match built {
                Ok(n) => format!("built {n} start index file(s)"),
                Err(e) => format!("building the start index failed: {e:#}"),
            }
        }
        Fix::Reinstall(host) => {
            let Some(manifest) = install::read_manifest(&ctx.paths.home, *host) else {
                return format!("re-install {host}: no install record");
            };
            let host_dir = manifest
                .plugin
                .as_ref()
                .map(|p| p.host_dir.clone())
                .or_else(|| {
                    manifest
                        .edits
                        .first()
                        .and_then(|e| e.path.parent().map(Path::to_path_buf))
                });
            let args = InstallArgs {
                target: Some(match host {
                    Host::Codex => InstallTarget::Codex,
                    Host::Claude => InstallTarget::Claude,
                }),
                plugin: manifest.plugin.is_some(),
                mcp: false,
                dry_run: false,
                codex_home: (*host == Host::Codex).then(|| host_dir.clone()).flatten(),
                claude_config_dir: (*host == Host::Claude).then_some(host_dir).flatten(),
                unit_dir: None,
                host_bin: manifest.plugin.as_ref().map(|p| p.host_bin.clone()),
            };
            match install_cmd::install_hosts(ctx, &args) {
                Ok(reports) => reports
                    .iter()
                    .map(|r| format!("re-installed {}: {}", r.host, r.action))
                    .collect::<Vec<_>>()
                    .join("; "),
                Err(e) => format!("re-installing {host} failed: {e:#}"),
            }
        }
    }
}

/// Returns expired `processing` stop events and suggestions to `pending` (or `failed` when out of
/// attempts), recording suggestion transitions.
fn reclaim_leases(ctx: &Ctx) -> anyhow::Result<(u32, usize)> {
    let mut store = Store::open(&ctx.paths.db())?;
    let now = time::now();
    let events = crate::worker::reclaim_expired(&store, &now)?;
    let tx = store.conn_mut().transaction()?;
    let ids: Vec<i64> = {
        let mut stmt = tx.prepare(
            "SELECT id FROM suggestions WHERE state = 'processing' \
             AND lease_expires_at IS NOT NULL AND lease_expires_at < ?1",
        )?;
        stmt.query_map([&now], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    for id in &ids {
        tx.execute(
            "UPDATE suggestions SET state = 'pending', lease_owner = NULL, \
             lease_expires_at = NULL, updated_at = ?2 WHERE id = ?1",
            params![id, now],
        )?;
        tx.execute(
            "INSERT INTO suggestion_transitions (suggestion_id, from_state, to_state, reason, at) \
             VALUES (?1, 'processing', 'pending', 'lease expired; reclaimed by csep doctor --fix', ?2)",
            params![id, now],
        )?;
    }
    tx.commit()?;
    Ok((events, ids.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::plain("/usr/bin/csep hook stop --host codex", "/usr/bin/csep")]
    #[case::quoted("'/home/a b/csep' --home '/h' hook stop", "/home/a b/csep")]
    #[case::embedded_quote("'/x/it'\\''s/csep' hook stop", "/x/it's/csep")]
    fn first_word_undoes_shell_quoting(#[case] command: &str, #[case] word: &str) {
        assert_eq!(first_word(command), word);
        let requoted = install::shell_quote(word);
        assert!(command.starts_with(&requoted), "{requoted}");
    }
}
