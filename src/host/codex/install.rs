//! Installing csep's hooks into Codex: `$CODEX_HOME/hooks.json` plus the hook-trust entries
//! Codex requires in `$CODEX_HOME/config.toml`.
//!
//! Codex skips untrusted hooks silently (`client-protocols.md` §1.3). A handler is trusted when
//! `config.toml` holds `[hooks.state."<hooks.json path>:<event_snake>:<group>:<handler>"]` with
//! `trusted_hash = "sha256:" + sha256(<identity JSON>)`, where the identity is the sorted-key,
//! compact JSON `{"event_name", "hooks": [{"async": false, "command", "timeout", "type":
//! "command"}]}` of that one handler (verified against codex-cli 0.169.0 by the prototype
//! `codex_trust_hash.py`, and by the end-to-end test that runs real Codex without the bypass
//! flag).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::host::Host;
use crate::host::install::{
    self, EVENTS, FileEdit, InstallError, InstallManifest, hook_command, hooks_of, read_optional,
};

/// What the caller decides: where Codex lives, which csep binary and home the hooks call.
#[derive(Debug, Clone)]
pub struct CodexTarget {
    /// `$CODEX_HOME` (created when missing).
    pub codex_home: PathBuf,
    /// The csep binary the hooks run.
    pub exe: PathBuf,
    /// `--home` passed to the hooks (`None`: the default home).
    pub hook_home: Option<PathBuf>,
}

/// The snake_case event name Codex uses in trust keys.
pub fn event_snake(event: &str) -> String {
    let mut out = String::new();
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `trusted_hash` of one command handler without a matcher.
pub fn trusted_hash(event: &str, command: &str, timeout: u32) -> String {
    // serde_json's default map is a BTreeMap: keys serialize sorted, as Codex's fingerprint does.
    let identity = json!({
        "event_name": event_snake(event),
        "hooks": [{"type": "command", "command": command, "timeout": timeout, "async": false}],
    });
    let digest = Sha256::digest(identity.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The trust key of a handler in a hooks file.
pub fn trust_key(hooks_json: &Path, event: &str, group: usize, handler: usize) -> String {
    format!(
        "{}:{}:{group}:{handler}",
        hooks_json.display(),
        event_snake(event)
    )
}

fn canonical_home(codex_home: &Path) -> Result<PathBuf, InstallError> {
    crate::store::fsutil::ensure_private_dir(codex_home).map_err(|source| InstallError::Io {
        action: "create",
        path: codex_home.to_path_buf(),
        source,
    })?;
    codex_home
        .canonicalize()
        .map_err(|source| InstallError::Io {
            action: "resolve",
            path: codex_home.to_path_buf(),
            source,
        })
}

/// Installs (or refreshes) csep's hooks and their trust entries; returns the new manifest.
pub fn install(
    target: &CodexTarget,
    previous: Option<&InstallManifest>,
    now: &str,
) -> Result<InstallManifest, InstallError> {
    let home = canonical_home(&target.codex_home)?;
    let hooks_path = home.join("hooks.json");
    let config_path = home.join("config.toml");
    let commands: IndexMap<String, String> = EVENTS
        .iter()
        .map(|(event, arg, _)| {
            (
                (*event).to_owned(),
                hook_command(&target.exe, target.hook_home.as_deref(), arg, Host::Codex),
            )
        })
        .collect();

    let current = read_optional(&hooks_path)?;
    let doc = install::parse_top_level(&hooks_path, current.as_deref().unwrap_or(""))?;
    let mut hooks = hooks_of(&doc);
    let positions = install::add_handlers(&mut hooks, &commands, Host::Codex);
    let new_hooks = install::with_hooks(doc, hooks);
    let prev_edit = |p: &Path| previous.and_then(|m| m.edits.iter().find(|e| e.path == p));
    let hooks_edit = install::write_edit(
        &hooks_path,
        current.as_deref(),
        &new_hooks,
        prev_edit(&hooks_path),
        now,
    )?;

    let mut trust_keys = Vec::new();
    let mut trust = Vec::new();
    for (event, _, timeout) in EVENTS {
        if let (Some(&(group, handler)), Some(command)) =
            (positions.get(event), commands.get(event))
        {
            let key = trust_key(&hooks_path, event, group, handler);
            trust.push((key.clone(), trusted_hash(event, command, timeout)));
            trust_keys.push(key);
        }
    }
    let current_cfg = read_optional(&config_path)?;
    let stale: Vec<String> = previous.map(|m| m.trust_keys.clone()).unwrap_or_default();
    let new_cfg = edit_trust(
        &config_path,
        current_cfg.as_deref().unwrap_or(""),
        &stale,
        &trust,
    )?;
    let config_edit = install::write_edit(
        &config_path,
        current_cfg.as_deref(),
        &new_cfg,
        prev_edit(&config_path),
        now,
    )?;

    Ok(InstallManifest {
        host: Host::Codex,
        commands,
        edits: vec![hooks_edit, config_edit],
        trust_keys,
        installed_at: now.to_owned(),
        plugin: None,
        mcp: None,
    })
}

/// Removes `stale` trust keys and upserts `trust` (key → hash) in a config.toml text, keeping
/// every other line, comment and format as it is.
pub fn edit_trust(
    path: &Path,
    text: &str,
    stale: &[String],
    trust: &[(String, String)],
) -> Result<String, InstallError> {
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| InstallError::Malformed {
                path: path.to_path_buf(),
                format: "TOML",
                detail: e.to_string(),
            })?;
    let unexpected = |what: &str| InstallError::Malformed {
        path: path.to_path_buf(),
        format: "TOML",
        detail: format!("`{what}` is not a table"),
    };
    let hooks = doc
        .entry("hooks")
        .or_insert(toml_edit::table())
        .as_table_mut()
        .ok_or_else(|| unexpected("hooks"))?;
    hooks.set_implicit(true);
    let state = hooks
        .entry("state")
        .or_insert(toml_edit::table())
        .as_table_mut()
        .ok_or_else(|| unexpected("hooks.state"))?;
    state.set_implicit(true);
    for key in stale {
        state.remove(key);
    }
    for (key, hash) in trust {
        let mut entry = toml_edit::Table::new();
        entry.insert("trusted_hash", toml_edit::value(hash.as_str()));
        state.insert(key, toml_edit::Item::Table(entry));
    }
    prune_empty(&mut doc);
    Ok(doc.to_string())
}

/// Drops `[hooks.state]` / `[hooks]` when csep's removal left them empty.
fn prune_empty(doc: &mut toml_edit::DocumentMut) {
    let empty_state = doc
        .get("hooks")
        .and_then(|h| h.get("state"))
        .and_then(|s| s.as_table_like())
        .is_some_and(|s| s.is_empty());
    if empty_state && let Some(h) = doc.get_mut("hooks").and_then(|h| h.as_table_like_mut()) {
        h.remove("state");
    }
    let empty_hooks = doc
        .get("hooks")
        .and_then(|h| h.as_table_like())
        .is_some_and(|h| h.is_empty());
    if empty_hooks {
        doc.remove("hooks");
    }
}

/// Removes exactly what [`install()`] added (see [`install::undo_edit`]).
pub fn uninstall(manifest: &InstallManifest) -> Result<Vec<(PathBuf, &'static str)>, InstallError> {
    let mut done = Vec::new();
    for edit in manifest.edits.iter().rev() {
        let outcome = undo_one(edit, manifest)?;
        done.push((edit.path.clone(), outcome));
    }
    Ok(done)
}

fn undo_one(edit: &FileEdit, manifest: &InstallManifest) -> Result<&'static str, InstallError> {
    let is_toml = edit.path.extension().is_some_and(|e| e == "toml");
    install::undo_edit(edit, |now| {
        if is_toml {
            edit_trust(&edit.path, now, &manifest.trust_keys, &[])
        } else {
            let doc = install::parse_top_level(&edit.path, now)?;
            let mut hooks = hooks_of(&doc);
            install::remove_handlers(&mut hooks, Host::Codex);
            Ok(install::with_hooks(doc, hooks))
        }
    })
}

/// Whether csep's hooks are installed in `codex_home` and trusted with current hashes.
pub fn check(codex_home: &Path) -> (bool, bool) {
    let Ok(home) = codex_home.canonicalize() else {
        return (false, false);
    };
    let hooks_path = home.join("hooks.json");
    let Ok(Some(text)) = read_optional(&hooks_path) else {
        return (false, false);
    };
    let Ok(doc) = install::parse_top_level(&hooks_path, &text) else {
        return (false, false);
    };
    let hooks = hooks_of(&doc);
    let config: toml_edit::DocumentMut = read_optional(&home.join("config.toml"))
        .ok()
        .flatten()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let mut installed = true;
    let mut trusted = true;
    for (event, _, _) in EVENTS {
        let found = hooks
            .get(event)
            .and_then(|g| g.as_array())
            .and_then(|groups| {
                groups.iter().enumerate().find_map(|(gi, group)| {
                    let handlers = group.get("hooks")?.as_array()?;
                    handlers.iter().enumerate().find_map(|(hi, h)| {
                        let command = h.get("command")?.as_str()?;
                        install::is_csep_command(command, Host::Codex).then(|| {
                            let timeout = h.get("timeout").and_then(|t| t.as_u64()).unwrap_or(600);
                            (
                                gi,
                                hi,
                                command.to_owned(),
                                u32::try_from(timeout).unwrap_or(600),
                            )
                        })
                    })
                })
            });
        let Some((gi, hi, command, timeout)) = found else {
            installed = false;
            trusted = false;
            continue;
        };
        let key = trust_key(&hooks_path, event, gi, hi);
        let stored = config
            .get("hooks")
            .and_then(|h| h.get("state"))
            .and_then(|s| s.get(&key))
            .and_then(|e| e.get("trusted_hash"))
            .and_then(|v| v.as_str());
        if stored != Some(trusted_hash(event, &command, timeout).as_str()) {
            trusted = false;
        }
    }
    (installed, trusted)
}

#[cfg(test)]
#[path = "install_tests.rs"]
mod tests;
