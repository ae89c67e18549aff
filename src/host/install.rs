//! Installing csep's hooks into a host's configuration, and removing exactly what was added.
//!
//! Both hosts read the same hooks JSON shape (`{"hooks": {"<Event>": [{"matcher"?, "hooks":
//! [{"type": "command", "command", "timeout"}]}]}}`): Codex in `$CODEX_HOME/hooks.json`, Claude
//! Code under the `hooks` key of `settings.json`. Codex also needs a trust entry per handler in
//! its `config.toml` (`client-protocols.md` §1.3), written by [`crate::host::codex::install`].
//!
//! Every edit is recorded in an install manifest (`<csep home>/install/<host>.json`) with the
//! file's bytes before and after. Uninstall restores the original bytes when the file still
//! holds exactly what csep wrote (a byte-identical round trip), and otherwise removes only csep's
//! entries. Before editing an existing file a backup `<file>.csep-backup-<time>` is kept.
//! Top-level keys of the user's JSON keep their order and raw text; only `hooks` is rewritten.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::host::Host;
use crate::store::fsutil;

/// The events csep registers, with the handler timeout each gets (seconds). The hooks return in
/// milliseconds; the timeouts only cap a pathological case (a database locked for long).
pub const EVENTS: [(&str, &str, u32); 3] = [
    ("SessionStart", "session-start", 10),
    ("UserPromptSubmit", "user-prompt-submit", 10),
    ("Stop", "stop", 30),
];

/// Errors installing or uninstalling.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A host file is not valid JSON/TOML.
    #[error("{path} is not valid {format} ({detail}); fix or move it aside, then rerun")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// `JSON` or `TOML`.
        format: &'static str,
        /// Parser message.
        detail: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// `read`, `write`, `back up`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// One file csep edited, with what it held before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEdit {
    /// The file.
    pub path: PathBuf,
    /// Its content before csep's first edit (`None`: csep created it).
    pub original: Option<String>,
    /// What csep wrote.
    pub written: String,
    /// Backup made before editing (`None` when the file was created).
    pub backup: Option<PathBuf>,
}

/// What `csep install <host>` did, kept in `<csep home>/install/<host>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallManifest {
    /// The host.
    pub host: Host,
    /// The hook commands installed, by event name.
    pub commands: IndexMap<String, String>,
    /// Files edited, in order.
    pub edits: Vec<FileEdit>,
    /// Codex trust keys written to `config.toml` (`hooks.state."<key>"`); empty for Claude.
    #[serde(default)]
    pub trust_keys: Vec<String>,
    /// When (stored timestamp).
    pub installed_at: String,
    /// Set when csep was installed as a plugin through the host's own plugin commands
    /// ([`crate::host::plugin`]); `edits` then hold snapshots of the host files those commands
    /// changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<crate::host::plugin::PluginRecord>,
    /// Set when csep's MCP server was registered too (`csep install … --mcp`); undone before
    /// everything else, since it was done last ([`crate::host::mcp`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<crate::host::mcp::McpRecord>,
}

/// Path of a host's install manifest.
pub fn manifest_path(csep_home: &Path, host: Host) -> PathBuf {
    csep_home.join("install").join(format!("{host}.json"))
}

/// Reads a host's install manifest, if csep installed into it.
pub fn read_manifest(csep_home: &Path, host: Host) -> Option<InstallManifest> {
    let text = std::fs::read_to_string(manifest_path(csep_home, host)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes a host's install manifest (0600).
pub fn write_manifest(csep_home: &Path, manifest: &InstallManifest) -> Result<(), InstallError> {
    let path = manifest_path(csep_home, manifest.host);
    let text = serde_json::to_string_pretty(manifest).unwrap_or_default();
    fsutil::write_atomic(&path, text.as_bytes()).map_err(|source| InstallError::Io {
        action: "write",
        path,
        source,
    })
}

/// Quotes `s` for a POSIX shell when it contains anything but safe characters.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The hook command csep installs for `event` (e.g. `'/usr/bin/csep' hook stop --host codex`),
/// with `--home` when the home is not the default.
pub fn hook_command(exe: &Path, csep_home: Option<&Path>, event_arg: &str, host: Host) -> String {
    let mut cmd = shell_quote(&exe.to_string_lossy());
    if let Some(home) = csep_home {
        cmd.push_str(" --home ");
        cmd.push_str(&shell_quote(&home.to_string_lossy()));
    }
    cmd.push_str(&format!(" hook {event_arg} --host {host}"));
    cmd
}

/// Whether a handler command is one of csep's (also matches installs from another binary path).
pub fn is_csep_command(command: &str, host: Host) -> bool {
    let names_csep = command.contains("csep") || command.contains("codex-self-evolution");
    names_csep && command.contains(" hook ") && command.ends_with(&format!("--host {host}"))
}

/// A JSON document whose top-level keys keep their order and raw text.
pub type RawTopLevel = IndexMap<String, Box<RawValue>>;

/// Parses a JSON object file's text ("" counts as `{}`).
pub fn parse_top_level(path: &Path, text: &str) -> Result<RawTopLevel, InstallError> {
    if text.trim().is_empty() {
        return Ok(RawTopLevel::new());
    }
    serde_json::from_str(text).map_err(|e| InstallError::Malformed {
        path: path.to_path_buf(),
        format: "JSON",
        detail: e.to_string(),
    })
}

/// Reads the `hooks` object of a document (empty when absent or not an object).
pub fn hooks_of(doc: &RawTopLevel) -> serde_json::Map<String, Value> {
    doc.get("hooks")
        .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// Serializes the document with `hooks` replaced (removed when empty).
pub fn with_hooks(mut doc: RawTopLevel, hooks: serde_json::Map<String, Value>) -> String {
    if hooks.is_empty() {
        doc.shift_remove("hooks");
    } else {
        let text = serde_json::to_string_pretty(&Value::Object(hooks)).unwrap_or_default();
        // Nest the pretty text one level deeper so the file reads as one pretty document (JSON
        // strings cannot hold raw newlines, so indenting by line is safe).
        let text = text.replace('\n', "\n  ");
        if let Ok(raw) = RawValue::from_string(text) {
            doc.insert("hooks".to_owned(), raw);
        }
    }
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    out.push('\n');
    out
}

/// Adds csep's handler for each event to `hooks` (removing stale csep handlers first) and
/// returns, per event, the (group index, handler index) of csep's handler.
pub fn add_handlers(
    hooks: &mut serde_json::Map<String, Value>,
    commands: &IndexMap<String, String>,
    host: Host,
) -> IndexMap<String, (usize, usize)> {
    remove_handlers(hooks, host);
    let mut positions = IndexMap::new();
    for (event, _, timeout) in EVENTS {
        let Some(command) = commands.get(event) else {
            continue;
        };
        let groups = hooks.entry(event.to_owned()).or_insert_with(|| json!([]));
        if !groups.is_array() {
            *groups = json!([]);
        }
        if let Some(list) = groups.as_array_mut() {
            list.push(json!({
                "hooks": [{"type": "command", "command": command, "timeout": timeout}]
            }));
            positions.insert(event.to_owned(), (list.len() - 1, 0));
        }
    }
    positions
}

/// Removes every csep handler for `host` from `hooks`, dropping groups and events left empty.
/// Returns how many handlers were removed.
pub fn remove_handlers(hooks: &mut serde_json::Map<String, Value>, host: Host) -> usize {
    let mut removed = 0;
    for groups in hooks.values_mut() {
        let Some(list) = groups.as_array_mut() else {
            continue;
        };
        for group in list.iter_mut() {
            if let Some(handlers) = group.get_mut("hooks").and_then(Value::as_array_mut) {
                let before = handlers.len();
                handlers.retain(|h| {
                    !h.get("command")
                        .and_then(Value::as_str)
                        .is_some_and(|c| is_csep_command(c, host))
                });
                removed += before - handlers.len();
            }
        }
        list.retain(|g| {
            g.get("hooks")
                .and_then(Value::as_array)
                .is_none_or(|h| !h.is_empty())
        });
    }
    hooks.retain(|_, groups| groups.as_array().is_none_or(|l| !l.is_empty()));
    removed
}

/// Reads a file's text; a missing file is `None`.
pub fn read_optional(path: &Path) -> Result<Option<String>, InstallError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(InstallError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Writes `new` over `path` (atomically), keeping a backup of an existing file, and returns the
/// edit record. `previous` is the manifest's earlier record of this file, whose `original` is
/// kept so uninstall returns to the state before the first install.
pub fn write_edit(
    path: &Path,
    current: Option<&str>,
    new: &str,
    previous: Option<&FileEdit>,
    stamp: &str,
) -> Result<FileEdit, InstallError> {
    let mut backup = previous.and_then(|p| p.backup.clone());
    if current.is_some_and(|c| c != new) {
        let mut name = path.as_os_str().to_os_string();
        name.push(format!(".csep-backup-{}", stamp.replace([':', '.'], "-")));
        let backup_path = PathBuf::from(name);
        if let Some(text) = current {
            fsutil::write_atomic(&backup_path, text.as_bytes()).map_err(|source| {
                InstallError::Io {
                    action: "back up",
                    path: path.to_path_buf(),
                    source,
                }
            })?;
        }
        backup = Some(backup_path);
    }
    if current != Some(new) {
        write_preserving_mode(path, new)?;
    }
    let original = match previous {
        Some(p) => p.original.clone(),
        None => current.map(str::to_owned),
    };
    Ok(FileEdit {
        path: path.to_path_buf(),
        original,
        written: new.to_owned(),
        backup,
    })
}

/// Writes `text` atomically, keeping an existing file's permission bits (host config files are
/// the user's, not csep's).
pub fn write_preserving_mode(path: &Path, text: &str) -> Result<(), InstallError> {
    let mode = fsutil::mode_of(path);
    fsutil::write_atomic(path, text.as_bytes()).map_err(|source| InstallError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    })?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    }
    Ok(())
}

/// Undoes one edit: restores the original bytes when the file still holds what csep wrote,
/// deletes a file csep created, or else applies `fallback` (structural removal) to the current
/// text. Returns what happened, for the report.
pub fn undo_edit(
    edit: &FileEdit,
    fallback: impl Fn(&str) -> Result<String, InstallError>,
) -> Result<&'static str, InstallError> {
    let current = read_optional(&edit.path)?;
    match (current.as_deref(), &edit.original) {
        (None, _) => Ok("already gone"),
        (Some(now), original) if now == edit.written => match original {
            Some(text) => {
                write_preserving_mode(&edit.path, text)?;
                Ok("restored")
            }
            None => {
                std::fs::remove_file(&edit.path).map_err(|source| InstallError::Io {
                    action: "remove",
                    path: edit.path.clone(),
                    source,
                })?;
                Ok("removed")
            }
        },
        (Some(now), _) => {
            let cleaned = fallback(now)?;
            if cleaned != now {
                write_preserving_mode(&edit.path, &cleaned)?;
            }
            Ok("cleaned (file changed since install)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_paths_and_quotes_the_rest() {
        assert_eq!(shell_quote("/usr/bin/csep"), "/usr/bin/csep");
        assert_eq!(shell_quote("/home/a b/csep"), "'/home/a b/csep'");
        assert_eq!(shell_quote("/x/it's"), "'/x/it'\\''s'");
        assert_eq!(shell_quote("/домой/csep"), "'/домой/csep'");
    }

    #[test]
    fn csep_commands_are_recognised_per_host() {
        let cmd = hook_command(
            Path::new("/opt/csep"),
            Some(Path::new("/h h")),
            "stop",
            Host::Codex,
        );
        assert_eq!(cmd, "/opt/csep --home '/h h' hook stop --host codex");
        assert!(is_csep_command(&cmd, Host::Codex));
        assert!(!is_csep_command(&cmd, Host::Claude));
        assert!(!is_csep_command("/usr/bin/other-hook stop", Host::Codex));
    }

    #[test]
    fn handlers_are_added_once_and_removed_without_touching_others() {
        let mut hooks: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"Stop":[{"hooks":[{"type":"command","command":"/usr/bin/mine"}]}]}"#,
        )
        .unwrap();
        let commands: IndexMap<String, String> = EVENTS
            .iter()
            .map(|(e, a, _)| {
                (
                    (*e).to_owned(),
                    hook_command(Path::new("/b/csep"), None, a, Host::Codex),
                )
            })
            .collect();
        let positions = add_handlers(&mut hooks, &commands, Host::Codex);
        assert_eq!(positions["Stop"], (1, 0));
        assert_eq!(positions["SessionStart"], (0, 0));
        // Installing again replaces, never duplicates.
        add_handlers(&mut hooks, &commands, Host::Codex);
        assert_eq!(hooks["Stop"].as_array().unwrap().len(), 2);
        assert_eq!(remove_handlers(&mut hooks, Host::Codex), 3);
        assert_eq!(
            Value::Object(hooks),
            json!({"Stop":[{"hooks":[{"type":"command","command":"/usr/bin/mine"}]}]})
        );
    }

    #[test]
    fn top_level_keys_keep_their_order_and_raw_text() {
        let text = "{\n  \"zeta\": {\"b\": 1,   \"a\": 2},\n  \"alpha\": true\n}\n";
        let doc = parse_top_level(Path::new("s.json"), text).unwrap();
        let out = with_hooks(doc, serde_json::Map::new());
        let zeta = out.find("zeta").unwrap();
        assert!(zeta < out.find("alpha").unwrap());
        assert!(out.contains("{\"b\": 1,   \"a\": 2}"));
    }
}
