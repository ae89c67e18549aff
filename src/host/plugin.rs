//! Installing csep as a plugin through the host's own plugin commands, and reversing exactly
//! that.
//!
//! Codex: `codex plugin marketplace add <bundle>` + `codex plugin add csep@csep-local`, then
//! the plugin's hooks are trusted through `codex app-server` ([`crate::host::codex::app_server`];
//! untrusted plugin hooks never run, `client-protocols.md` §1.3, §1.8). Claude Code:
//! `claude plugin marketplace add <bundle>` + `claude plugin install csep@csep-local` (no trust
//! step, §2.7). The bundle itself comes from [`crate::host::bundle`].
//!
//! Invariant: the host files those commands change (Codex `config.toml`; Claude `settings.json`,
//! `plugins/known_marketplaces.json`, `plugins/installed_plugins.json`, `.claude.json`) are
//! snapshotted before and after, in the install manifest. Uninstall runs the hosts' own removal commands and then, for
//! every file nobody changed since install, writes back the original bytes (or deletes a file
//! that did not exist): a byte-identical round trip even where the host's removal leaves traces
//! (Codex keeps the trust entries; Claude leaves empty objects). A file changed since install
//! gets only csep's entries removed. Directories in csep's marketplace namespace that the install
//! created are removed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::host::Host;
use crate::host::bundle::{self, BundleError, BundleSpec, MARKETPLACE};
use crate::host::codex::app_server::{AppServer, AppServerError};
use crate::host::codex::install::{edit_trust, event_snake, trusted_hash};
use crate::host::install::{
    self, EVENTS, FileEdit, InstallError, InstallManifest, RawTopLevel, read_optional,
};

/// Longest a host plugin command may take (they finish in about a second).
pub const HOST_COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// What a plugin install did, beyond the file snapshots (kept in the install manifest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginRecord {
    /// The host CLI that ran the plugin commands.
    pub host_bin: PathBuf,
    /// Codex's home or Claude's config dir.
    pub host_dir: PathBuf,
    /// `CODEX_HOME` / `CLAUDE_CONFIG_DIR` value passed to the host commands (`None`: not set).
    pub config_env: Option<PathBuf>,
    /// The generated marketplace directory.
    pub marketplace_dir: PathBuf,
    /// `csep@csep-local`.
    pub plugin_id: String,
    /// Host commands run at install (arguments after the binary).
    pub ran: Vec<Vec<String>>,
    /// Host commands uninstall runs, in order.
    pub undo: Vec<Vec<String>>,
    /// Directories the install created (removed at uninstall).
    pub created_dirs: Vec<PathBuf>,
}

/// What the caller decides for a plugin install.
#[derive(Debug, Clone)]
pub struct PluginTarget {
    /// The host.
    pub host: Host,
    /// The host CLI (`codex` / `claude`).
    pub host_bin: PathBuf,
    /// Codex's home or Claude's config dir.
    pub host_dir: PathBuf,
    /// Set `CODEX_HOME` / `CLAUDE_CONFIG_DIR` to this for the host commands.
    pub config_env: Option<PathBuf>,
    /// Where to write the bundle (`<csep home>/plugin`).
    pub bundle_dir: PathBuf,
    /// What the bundle's hooks call.
    pub spec: BundleSpec,
    /// Working directory for Codex's `hooks/list`.
    pub trust_cwd: PathBuf,
}

/// Errors of a plugin install or uninstall.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Writing the bundle failed.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// Reading or writing a host file failed.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// A host command failed; the install was rolled back.
    #[error("`{bin} {args}` failed ({status}): {stderr}")]
    Command {
        /// The host binary.
        bin: String,
        /// Its arguments.
        args: String,
        /// Exit status or spawn error.
        status: String,
        /// The end of its stderr.
        stderr: String,
    },
    /// Trusting the Codex hooks failed; the install was rolled back.
    #[error("{0}; the plugin was not installed (its hooks would never run untrusted)")]
    Trust(#[from] AppServerError),
    /// Codex listed none of csep's plugin hooks after install.
    #[error(
        "Codex lists no hooks of {plugin_id} after installing it; the plugin was not installed"
    )]
    NoHooks {
        /// The plugin.
        plugin_id: String,
    },
}

fn env_var(host: Host) -> &'static str {
    match host {
        Host::Codex => "CODEX_HOME",
        Host::Claude => "CLAUDE_CONFIG_DIR",
    }
}

/// The host files a plugin install changes, relative to the host dir.
fn snapshot_files(host: Host) -> &'static [&'static str] {
    match host {
        Host::Codex => &["config.toml"],
        // `.claude.json` is Claude's user config, which every `claude` command rewrites
        // (first-start time, machine id, migrations); it lives in the config dir when
        // CLAUDE_CONFIG_DIR is set (else in `~`, outside the snapshot, and this entry is inert).
        Host::Claude => &[
            "settings.json",
            "plugins/known_marketplaces.json",
            "plugins/installed_plugins.json",
            ".claude.json",
        ],
    }
}

/// Directories a plugin install may create, deepest first; the marketplace-named ones are csep's
/// alone (removed whole), the shared parents only when left empty.
fn owned_dirs(host: Host) -> Vec<(PathBuf, bool)> {
    let mut dirs = vec![(PathBuf::from("plugins/cache").join(MARKETPLACE), true)];
    if host == Host::Claude {
        dirs.push((
            PathBuf::from("plugins/data").join(format!("{}-{MARKETPLACE}", bundle::PLUGIN)),
            true,
        ));
        dirs.push((PathBuf::from("plugins/data"), false));
    }
    dirs.push((PathBuf::from("plugins/cache"), false));
    dirs.push((PathBuf::from("plugins"), false));
    dirs
}

/// Runs one host command with a timeout (`env` sets one variable); returns its stdout or a
/// [`PluginError::Command`]. Also runs `claude mcp add|remove` for [`crate::host::mcp`].
pub fn run_host(
    bin: &Path,
    args: &[String],
    env: Option<(&str, &Path)>,
) -> Result<String, PluginError> {
    let fail = |status: String, stderr: String| PluginError::Command {
        bin: bin.display().to_string(),
        args: args.join(" "),
        status,
        stderr,
    };
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((var, value)) = env {
        cmd.env(var, value);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| fail(format!("cannot start: {e}"), String::new()))?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > HOST_COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(
                    format!("timed out after {HOST_COMMAND_TIMEOUT:?}"),
                    String::new(),
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(fail(format!("wait failed: {e}"), String::new())),
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail(format!("wait failed: {e}"), String::new()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        Err(fail(out.status.to_string(), tail))
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// The host commands that install the plugin, in order, and the command undoing each of them
/// (`undo[i]` undoes `steps[i]`; uninstall runs them newest first).
pub fn host_commands(host: Host, marketplace_dir: &Path) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let id = bundle::plugin_id();
    let dir = marketplace_dir.display().to_string();
    match host {
        Host::Codex => (
            vec![
                strings(&["plugin", "marketplace", "add", &dir]),
                strings(&["plugin", "add", &id]),
            ],
            vec![
                strings(&["plugin", "marketplace", "remove", MARKETPLACE]),
                strings(&["plugin", "remove", &id]),
            ],
        ),
        Host::Claude => (
            vec![
                strings(&["plugin", "marketplace", "add", &dir]),
                strings(&["plugin", "install", &id]),
            ],
            vec![
                strings(&["plugin", "marketplace", "remove", MARKETPLACE]),
                strings(&["plugin", "uninstall", &id]),
            ],
        ),
    }
}

/// Installs the plugin; on any failure everything done so far is undone before the error is
/// returned.
pub fn install(target: &PluginTarget, now: &str) -> Result<InstallManifest, PluginError> {
    crate::store::fsutil::ensure_private_dir(&target.host_dir).map_err(|source| {
        InstallError::Io {
            action: "create",
            path: target.host_dir.clone(),
            source,
        }
    })?;
    let mut originals = Vec::new();
    for rel in snapshot_files(target.host) {
        let path = target.host_dir.join(rel);
        originals.push((path.clone(), read_optional(&path)?));
    }
    let created_dirs: Vec<PathBuf> = owned_dirs(target.host)
        .into_iter()
        .map(|(rel, _)| target.host_dir.join(rel))
        .filter(|d| !d.exists())
        .collect();
    bundle::write(&target.bundle_dir, &target.spec)?;
    let (steps, undo) = host_commands(target.host, &target.bundle_dir);
    let commands: IndexMap<String, String> = bundle::plugin_hooks(&target.spec)
        .into_iter()
        .map(|(event, command, _)| (event.to_owned(), command))
        .collect();
    let mut record = PluginRecord {
        host_bin: target.host_bin.clone(),
        host_dir: target.host_dir.clone(),
        config_env: target.config_env.clone(),
        marketplace_dir: target.bundle_dir.clone(),
        plugin_id: bundle::plugin_id(),
        ran: Vec::new(),
        undo: Vec::new(),
        created_dirs,
    };
    let env = target
        .config_env
        .as_deref()
        .map(|dir| (env_var(target.host), dir));
    let mut manifest = InstallManifest {
        host: target.host,
        commands,
        edits: Vec::new(),
        trust_keys: Vec::new(),
        installed_at: now.to_owned(),
        plugin: None,
        mcp: None,
    };
    let result = (|| -> Result<(), PluginError> {
        for (i, step) in steps.iter().enumerate() {
            run_host(&target.host_bin, step, env)?;
            record.ran.push(step.clone());
            // Undo the steps done so far, newest first.
            record.undo.insert(0, undo[i].clone());
        }
        if target.host == Host::Codex {
            let mut server = AppServer::start(&target.host_bin, &target.host_dir)?;
            let keys = server.trust_plugin_hooks(&record.plugin_id, &target.trust_cwd)?;
            if keys.is_empty() {
                return Err(PluginError::NoHooks {
                    plugin_id: record.plugin_id.clone(),
                });
            }
            manifest.trust_keys = keys;
        }
        Ok(())
    })();
    // Snapshot what the host commands wrote, whatever happened, so a rollback can restore.
    for (path, original) in originals {
        let written = read_optional(&path)?;
        manifest.edits.push(FileEdit {
            path,
            original,
            written: written.unwrap_or_default(),
            backup: None,
        });
    }
    manifest.plugin = Some(record);
    match result {
        Ok(()) => Ok(manifest),
        Err(e) => {
            let _ = uninstall(&manifest);
            Err(e)
        }
    }
}

/// Reverses a plugin install (see the module doc); returns what happened per path. Host command
/// failures do not stop the file restoration; they are reported as outcomes.
pub fn uninstall(manifest: &InstallManifest) -> Result<Vec<(PathBuf, String)>, PluginError> {
    let mut done = Vec::new();
    let Some(record) = &manifest.plugin else {
        return Ok(done);
    };
    let untouched: Vec<bool> = manifest
        .edits
        .iter()
        .map(|e| {
            read_optional(&e.path)
                .ok()
                .flatten()
                .map_or(e.original.is_none() && e.written.is_empty(), |now| {
                    now == e.written
                })
        })
        .collect();
    let env = record
        .config_env
        .as_deref()
        .map(|dir| (env_var(manifest.host), dir));
    for step in &record.undo {
        let outcome = match run_host(&record.host_bin, step, env) {
            Ok(_) => "ran".to_owned(),
            Err(e) => format!("failed, cleaned up by csep instead: {e}"),
        };
        done.push((PathBuf::from(step.join(" ")), outcome));
    }
    for (edit, untouched) in manifest.edits.iter().zip(untouched) {
        let outcome = if untouched {
            match &edit.original {
                Some(text) => {
                    install::write_preserving_mode(&edit.path, text)?;
                    "restored"
                }
                None => match std::fs::remove_file(&edit.path) {
                    Ok(()) => "removed",
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => "already gone",
                    Err(source) => {
                        return Err(InstallError::Io {
                            action: "remove",
                            path: edit.path.clone(),
                            source,
                        }
                        .into());
                    }
                },
            }
        } else {
            match read_optional(&edit.path)? {
                None => "already gone",
                Some(now) => {
                    let cleaned = clean_entries(manifest, &edit.path, &now)?;
                    if cleaned != now {
                        install::write_preserving_mode(&edit.path, &cleaned)?;
                    }
                    "cleaned (file changed since install)"
                }
            }
        };
        done.push((edit.path.clone(), outcome.to_owned()));
    }
    for (rel, whole) in owned_dirs(manifest.host) {
        let dir = record.host_dir.join(rel);
        if !record.created_dirs.contains(&dir) || !dir.is_dir() {
            continue;
        }
        let removed = if whole {
            std::fs::remove_dir_all(&dir).is_ok()
        } else {
            std::fs::remove_dir(&dir).is_ok()
        };
        if removed {
            done.push((dir, "removed".to_owned()));
        }
    }
    if std::fs::remove_dir_all(&record.marketplace_dir).is_ok() {
        done.push((record.marketplace_dir.clone(), "removed".to_owned()));
    }
    Ok(done)
}

/// Removes csep's plugin entries from a host file changed since install.
fn clean_entries(
    manifest: &InstallManifest,
    path: &Path,
    text: &str,
) -> Result<String, InstallError> {
    let id = bundle::plugin_id();
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    if is_toml {
        let text = edit_trust(path, text, &manifest.trust_keys, &[])?;
        let mut doc: toml_edit::DocumentMut =
            text.parse()
                .map_err(|e: toml_edit::TomlError| InstallError::Malformed {
                    path: path.to_path_buf(),
                    format: "TOML",
                    detail: e.to_string(),
                })?;
        for (table, key) in [("marketplaces", MARKETPLACE), ("plugins", id.as_str())] {
            let empty = match doc.get_mut(table).and_then(|t| t.as_table_like_mut()) {
                Some(t) => {
                    t.remove(key);
                    t.is_empty()
                }
                None => false,
            };
            if empty {
                doc.remove(table);
            }
        }
        return Ok(doc.to_string());
    }
    let mut doc = install::parse_top_level(path, text)?;
    for (key, entry) in [
        ("enabledPlugins", id.as_str()),
        ("extraKnownMarketplaces", MARKETPLACE),
        ("plugins", id.as_str()),
        (MARKETPLACE, ""),
    ] {
        remove_nested(&mut doc, key, entry);
    }
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    out.push('\n');
    Ok(out)
}

/// Removes `doc[key][entry]` (or `doc[key]` when `entry` is empty), dropping `doc[key]` when it
/// is left an empty object; other keys keep their raw text.
fn remove_nested(doc: &mut RawTopLevel, key: &str, entry: &str) {
    if entry.is_empty() {
        doc.shift_remove(key);
        return;
    }
    let Some(mut value) = doc
        .get(key)
        .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
    else {
        return;
    };
    let Some(map) = value.as_object_mut() else {
        return;
    };
    if map.remove(entry).is_none() {
        return;
    }
    if map.is_empty() {
        doc.shift_remove(key);
        return;
    }
    let text = serde_json::to_string_pretty(&value)
        .unwrap_or_default()
        .replace('\n', "\n  ");
    if let Ok(raw) = RawValue::from_string(text) {
        doc.insert(key.to_owned(), raw);
    }
}

/// Whether the plugin is installed (enabled) in the host dir, and for Codex whether each of its
/// hooks has a current `trusted_hash` (given the manifest's hook commands) and a content hash.
pub fn check(host: Host, host_dir: &Path, commands: &IndexMap<String, String>) -> (bool, bool) {
    let id = bundle::plugin_id();
    match host {
        Host::Codex => {
            let Some(doc) = read_optional(&host_dir.join("config.toml"))
                .ok()
                .flatten()
                .and_then(|t| t.parse::<toml_edit::DocumentMut>().ok())
            else {
                return (false, false);
            };
            let installed = doc
                .get("plugins")
                .and_then(|p| p.get(&id))
                .and_then(|p| p.get("enabled"))
                .and_then(|v| v.as_bool())
                == Some(true);
            let trusted = installed
                && EVENTS.iter().all(|(event, _, timeout)| {
                    let key = format!("{id}:hooks/hooks.json:{}:0:0", event_snake(event));
                    let state = doc
                        .get("hooks")
                        .and_then(|h| h.get("state"))
                        .and_then(|s| s.get(&key));
                    let hash = state
                        .and_then(|e| e.get("trusted_hash"))
                        .and_then(|v| v.as_str());
                    let content = state.and_then(|e| e.get("trusted_content_hash"));
                    commands.get(*event).is_some_and(|command| {
                        hash == Some(trusted_hash(event, command, *timeout).as_str())
                    }) && content.is_some()
                });
            (installed, trusted)
        }
        Host::Claude => {
            let path = host_dir.join("settings.json");
            let installed = read_optional(&path)
                .ok()
                .flatten()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v.get("enabledPlugins")?.get(&id)?.as_bool())
                == Some(true);
            (installed, installed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_command_has_its_undo_at_the_same_index() {
        let (codex, codex_undo) = host_commands(Host::Codex, Path::new("/h/plugin"));
        assert_eq!(
            codex[0],
            strings(&["plugin", "marketplace", "add", "/h/plugin"])
        );
        assert_eq!(
            codex_undo[0],
            strings(&["plugin", "marketplace", "remove", "csep-local"])
        );
        assert_eq!(codex[1], strings(&["plugin", "add", "csep@csep-local"]));
        assert_eq!(
            codex_undo[1],
            strings(&["plugin", "remove", "csep@csep-local"])
        );
        let (claude, claude_undo) = host_commands(Host::Claude, Path::new("/h/plugin"));
        assert_eq!(
            claude[1],
            strings(&["plugin", "install", "csep@csep-local"])
        );
        assert_eq!(
            claude_undo[1],
            strings(&["plugin", "uninstall", "csep@csep-local"])
        );
    }

    fn manifest(trust_keys: Vec<String>) -> InstallManifest {
        InstallManifest {
            host: Host::Codex,
            commands: IndexMap::new(),
            edits: vec![],
            trust_keys,
            installed_at: "now".into(),
            plugin: None,
            mcp: None,
        }
    }

    #[test]
    fn a_changed_codex_config_loses_only_csep_plugin_entries() {
        let key = "csep@csep-local:hooks/hooks.json:stop:0:0".to_owned();
        let text = format!(
            "model = \"x\"\n\n[marketplaces.csep-local]\nsource = \"/h\"\n\n[marketplaces.other]\nsource = \"/o\"\n\n\
             [plugins.\"csep@csep-local\"]\nenabled = true\n\n[hooks.state.\"{key}\"]\ntrusted_hash = \"sha256:1\"\n"
        );
        let cleaned = clean_entries(&manifest(vec![key]), Path::new("config.toml"), &text).unwrap();
        assert_eq!(
            cleaned,
            "model = \"x\"\n\n[marketplaces.other]\nsource = \"/o\"\n"
        );
    }

    #[test]
    fn a_changed_claude_settings_file_loses_only_csep_plugin_entries() {
        let text = r#"{"model": "opus", "enabledPlugins": {"csep@csep-local": true, "x@y": true},
            "extraKnownMarketplaces": {"csep-local": {"source": {}}}}"#;
        let cleaned = clean_entries(&manifest(vec![]), Path::new("settings.json"), text).unwrap();
        let v: Value = serde_json::from_str(&cleaned).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model": "opus", "enabledPlugins": {"x@y": true}})
        );
    }

    #[test]
    fn codex_plugin_check_needs_enabled_plugin_and_current_trust() {
        let dir = tempfile::tempdir().unwrap();
        let spec = BundleSpec {
            exe: PathBuf::from("/b/csep"),
            hook_home: None,
            version: "0.1.0".into(),
        };
        let commands: IndexMap<String, String> = bundle::plugin_hooks(&spec)
            .into_iter()
            .map(|(e, c, _)| (e.to_owned(), c))
            .collect();
        let mut text = "[plugins.\"csep@csep-local\"]\nenabled = true\n".to_owned();
        std::fs::write(dir.path().join("config.toml"), &text).unwrap();
        assert_eq!(check(Host::Codex, dir.path(), &commands), (true, false));
        for (event, command, timeout) in bundle::plugin_hooks(&spec) {
            text.push_str(&format!(
                "[hooks.state.\"csep@csep-local:hooks/hooks.json:{}:0:0\"]\ntrusted_hash = \"{}\"\ntrusted_content_hash = \"sha256:c\"\n",
                event_snake(event),
                trusted_hash(event, &command, timeout)
            ));
        }
        std::fs::write(dir.path().join("config.toml"), &text).unwrap();
        assert_eq!(check(Host::Codex, dir.path(), &commands), (true, true));
    }
}
