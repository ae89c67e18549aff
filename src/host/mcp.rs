//! Registering csep's MCP server (`csep mcp`) with a host, and removing exactly that.
//!
//! Codex: a `[mcp_servers.csep]` table (`command`, `args`) in `$CODEX_HOME/config.toml`, written
//! with `toml_edit` so every other line, comment and format stays as it was; it is the table
//! `codex mcp add csep -- <command> <args…>` writes (checked against codex-cli 0.169.0).
//! Claude Code: `claude mcp add --scope user csep -- <command> <args…>`, the host's own command,
//! which writes `mcpServers.csep` into its user config (`$CLAUDE_CONFIG_DIR/.claude.json`, else
//! `~/.claude.json`; checked against Claude Code 2.1.197), a file Claude rewrites on its own all
//! the time; uninstall runs `claude mcp remove --scope user csep`.
//!
//! Invariant: the file a registration changes is snapshotted before and after in an
//! [`McpRecord`] kept in the host's install manifest. Uninstall writes the original bytes back
//! when the file still holds exactly what the registration left (a byte-identical round trip),
//! and otherwise removes only csep's server entry. A registration never takes over a `csep`
//! server entry that runs something other than csep.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::host::install::{self, FileEdit, InstallError, read_optional};
use crate::host::plugin::{self, PluginError};

/// The server's name in the hosts' configuration.
pub const SERVER_NAME: &str = "csep";

/// The command a host runs to start csep's MCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServer {
    /// The csep binary (absolute).
    pub command: PathBuf,
    /// Its arguments: `--home DIR` when the home is not the default, then `mcp`.
    pub args: Vec<String>,
}

impl McpServer {
    /// The server for this csep binary and home (`None`: the default home).
    pub fn new(exe: &Path, csep_home: Option<&Path>) -> McpServer {
        let mut args = Vec::new();
        if let Some(home) = csep_home {
            args.push("--home".to_owned());
            args.push(home.to_string_lossy().into_owned());
        }
        args.push("mcp".to_owned());
        McpServer {
            command: exe.to_path_buf(),
            args,
        }
    }
}

/// A host command run to register the server, and the one that undoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCommand {
    /// The host CLI.
    pub host_bin: PathBuf,
    /// `CLAUDE_CONFIG_DIR` passed to it (`None`: not set).
    pub config_env: Option<PathBuf>,
    /// Arguments run at install.
    pub ran: Vec<String>,
    /// Arguments uninstall runs.
    pub undo: Vec<String>,
}

/// What registering the MCP server did, kept in the host's install manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpRecord {
    /// The server registered.
    pub server: McpServer,
    /// The host file changed, before and after.
    pub edits: Vec<FileEdit>,
    /// The host command that made the change (Claude); `None` when csep edited the file itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_command: Option<HostCommand>,
}

/// Errors registering or unregistering the server.
#[derive(Debug, thiserror::Error)]
pub enum McpInstallError {
    /// Reading or writing a host file failed, or it is malformed.
    #[error(transparent)]
    Install(#[from] InstallError),
    /// The host command failed.
    #[error(transparent)]
    Host(#[from] PluginError),
    /// The host already has a `csep` server that is not csep.
    #[error(
        "{path} already has an MCP server named `csep` running `{command}`; rename or remove it, \
         then rerun `csep install … --mcp`"
    )]
    Taken {
        /// The host file.
        path: PathBuf,
        /// What the existing entry runs.
        command: String,
    },
}

/// Whether a server command is csep's (any install path of either binary name).
fn is_csep(command: &str) -> bool {
    command.contains("csep") || command.contains("codex-self-evolution")
}

fn malformed(path: &Path, detail: String) -> InstallError {
    InstallError::Malformed {
        path: path.to_path_buf(),
        format: "TOML",
        detail,
    }
}

/// Sets (`Some`) or removes (`None`) `[mcp_servers.csep]` in a Codex `config.toml` text, keeping
/// everything else as it is. Removal leaves a `csep` entry that is not csep's alone.
pub fn edit_codex_config(
    path: &Path,
    text: &str,
    server: Option<&McpServer>,
) -> Result<String, McpInstallError> {
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| malformed(path, e.to_string()))?;
    let existing = doc
        .get("mcp_servers")
        .and_then(|s| s.get(SERVER_NAME))
        .map(|e| {
            e.get("command")
                .and_then(|c| c.as_str())
                .unwrap_or_default()
                .to_owned()
        });
    if let Some(command) = &existing
        && !is_csep(command)
    {
        if server.is_none() {
            return Ok(text.to_owned());
        }
        return Err(McpInstallError::Taken {
            path: path.to_path_buf(),
            command: command.clone(),
        });
    }
    match server {
        Some(server) => {
            let had_content = !doc.as_table().is_empty();
            let servers = doc
                .entry("mcp_servers")
                .or_insert(toml_edit::table())
                .as_table_mut()
                .ok_or_else(|| malformed(path, "`mcp_servers` is not a table".into()))?;
            servers.set_implicit(true);
            let mut entry = toml_edit::Table::new();
            entry.insert(
                "command",
                toml_edit::value(server.command.to_string_lossy().as_ref()),
            );
            let args: toml_edit::Array = server.args.iter().map(String::as_str).collect();
            entry.insert("args", toml_edit::value(args));
            if had_content && existing.is_none() {
                entry.decor_mut().set_prefix("\n");
            }
            servers.insert(SERVER_NAME, toml_edit::Item::Table(entry));
        }
        None => {
            let empty = match doc
                .get_mut("mcp_servers")
                .and_then(|s| s.as_table_like_mut())
            {
                Some(servers) => {
                    servers.remove(SERVER_NAME);
                    servers.is_empty()
                }
                None => false,
            };
            if empty {
                doc.remove("mcp_servers");
            }
        }
    }
    Ok(doc.to_string())
}

/// Registers the server in `$CODEX_HOME/config.toml` (created when missing). `stamp` names the
/// backup of an existing file (`config.toml.csep-backup-<stamp>`).
pub fn install_codex(
    codex_home: &Path,
    server: &McpServer,
    stamp: &str,
) -> Result<McpRecord, McpInstallError> {
    crate::store::fsutil::ensure_private_dir(codex_home).map_err(|source| InstallError::Io {
        action: "create",
        path: codex_home.to_path_buf(),
        source,
    })?;
    let home = codex_home
        .canonicalize()
        .map_err(|source| InstallError::Io {
            action: "resolve",
            path: codex_home.to_path_buf(),
            source,
        })?;
    let path = home.join("config.toml");
    let current = read_optional(&path)?;
    let new = edit_codex_config(&path, current.as_deref().unwrap_or(""), Some(server))?;
    let edit = install::write_edit(&path, current.as_deref(), &new, None, stamp)?;
    Ok(McpRecord {
        server: server.clone(),
        edits: vec![edit],
        host_command: None,
    })
}

/// Where Claude Code keeps user-scope MCP servers: `<CLAUDE_CONFIG_DIR>/.claude.json` when the
/// variable is set, else `~/.claude.json`.
pub fn claude_user_config(config_env: Option<&Path>, user_home: &Path) -> PathBuf {
    match config_env {
        Some(dir) => dir.join(".claude.json"),
        None => user_home.join(".claude.json"),
    }
}

/// The `claude` arguments that register the server, and those that remove it.
pub fn claude_commands(server: &McpServer) -> (Vec<String>, Vec<String>) {
    let mut add: Vec<String> = ["mcp", "add", "--scope", "user", SERVER_NAME, "--"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    add.push(server.command.to_string_lossy().into_owned());
    add.extend(server.args.iter().cloned());
    let remove = ["mcp", "remove", "--scope", "user", SERVER_NAME]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    (add, remove)
}

/// Registers the server with Claude Code through `claude mcp add --scope user`, snapshotting
/// `config_file` (see [`claude_user_config`]) around it.
pub fn install_claude(
    host_bin: &Path,
    config_env: Option<&Path>,
    config_file: &Path,
    server: &McpServer,
) -> Result<McpRecord, McpInstallError> {
    let original = read_optional(config_file)?;
    let (add, remove) = claude_commands(server);
    let env = config_env.map(|dir| ("CLAUDE_CONFIG_DIR", dir));
    plugin::run_host(host_bin, &add, env)?;
    let written = read_optional(config_file)?.unwrap_or_default();
    Ok(McpRecord {
        server: server.clone(),
        edits: vec![FileEdit {
            path: config_file.to_path_buf(),
            original,
            written,
            backup: None,
        }],
        host_command: Some(HostCommand {
            host_bin: host_bin.to_path_buf(),
            config_env: config_env.map(Path::to_path_buf),
            ran: add,
            undo: remove,
        }),
    })
}

/// Removes `mcpServers.csep` (when it runs csep) from a Claude user config text; other keys keep
/// their raw text.
fn clean_claude_config(path: &Path, text: &str) -> Result<String, InstallError> {
    let mut doc = install::parse_top_level(path, text)?;
    let Some(mut servers) = doc
        .get("mcpServers")
        .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
    else {
        return Ok(text.to_owned());
    };
    let ours = servers
        .get(SERVER_NAME)
        .and_then(|s| s.get("command"))
        .and_then(Value::as_str)
        .is_some_and(is_csep);
    if !ours {
        return Ok(text.to_owned());
    }
    if let Some(map) = servers.as_object_mut() {
        map.remove(SERVER_NAME);
    }
    let raw = serde_json::to_string_pretty(&servers)
        .unwrap_or_default()
        .replace('\n', "\n  ");
    if let Ok(raw) = serde_json::value::RawValue::from_string(raw) {
        doc.insert("mcpServers".to_owned(), raw);
    }
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_else(|_| "{}".into());
    out.push('\n');
    Ok(out)
}

/// Reverses a registration (see the module doc); returns what happened per file or command.
/// A failed host command does not stop the clean-up; it is reported as an outcome.
pub fn uninstall(record: &McpRecord) -> Result<Vec<(PathBuf, String)>, McpInstallError> {
    let mut done = Vec::new();
    // Decided before any host command runs: the removal command itself changes the file.
    let untouched: Vec<bool> = record
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
    let mut host_removed = false;
    if let Some(host) = &record.host_command {
        let env = host
            .config_env
            .as_deref()
            .map(|dir| ("CLAUDE_CONFIG_DIR", dir));
        let outcome = match plugin::run_host(&host.host_bin, &host.undo, env) {
            Ok(_) => {
                host_removed = true;
                "ran".to_owned()
            }
            Err(e) => format!("failed, cleaned up by csep instead: {e}"),
        };
        done.push((PathBuf::from(host.undo.join(" ")), outcome));
    }
    for (edit, untouched) in record.edits.iter().zip(untouched) {
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
        } else if host_removed {
            "cleaned by the host (file changed since install)"
        } else {
            match read_optional(&edit.path)? {
                None => "already gone",
                Some(now) => {
                    let is_toml = edit.path.extension().is_some_and(|e| e == "toml");
                    let cleaned = if is_toml {
                        edit_codex_config(&edit.path, &now, None)?
                    } else {
                        clean_claude_config(&edit.path, &now)?
                    };
                    if cleaned != now {
                        install::write_preserving_mode(&edit.path, &cleaned)?;
                    }
                    "cleaned (file changed since install)"
                }
            }
        };
        done.push((edit.path.clone(), outcome.to_owned()));
    }
    Ok(done)
}

/// Whether `record`'s server is still registered: its entry is in the host file.
pub fn check(record: &McpRecord) -> bool {
    record.edits.iter().all(|edit| {
        let Ok(Some(text)) = read_optional(&edit.path) else {
            return false;
        };
        let command = record.server.command.to_string_lossy();
        if edit.path.extension().is_some_and(|e| e == "toml") {
            text.parse::<toml_edit::DocumentMut>().is_ok_and(|doc| {
                doc.get("mcp_servers")
                    .and_then(|s| s.get(SERVER_NAME))
                    .and_then(|e| e.get("command"))
                    .and_then(|c| c.as_str())
                    == Some(command.as_ref())
            })
        } else {
            serde_json::from_str::<Value>(&text).is_ok_and(|v| {
                v.get("mcpServers")
                    .and_then(|s| s.get(SERVER_NAME))
                    .and_then(|e| e.get("command"))
                    .and_then(Value::as_str)
                    == Some(command.as_ref())
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    fn server() -> McpServer {
        McpServer::new(Path::new("/opt/bin/csep"), Some(Path::new("/h h")))
    }

    #[test]
    fn the_server_passes_home_only_when_it_is_not_the_default() {
        assert_eq!(server().args, ["--home", "/h h", "mcp"]);
        assert_eq!(McpServer::new(Path::new("/b/csep"), None).args, ["mcp"]);
    }

    #[test]
    fn codex_config_gets_the_table_codex_mcp_add_writes() {
        let out = edit_codex_config(Path::new("config.toml"), "", Some(&server())).unwrap();
        assert_eq!(
            out,
            "[mcp_servers.csep]\ncommand = \"/opt/bin/csep\"\nargs = [\"--home\", \"/h h\", \"mcp\"]\n"
        );
    }

    #[test]
    fn codex_config_round_trips_around_other_content() {
        let before = "# mine\nmodel = \"o3\" # keep\n\n[mcp_servers.other]\ncommand = \"x\"\n";
        let path = Path::new("config.toml");
        let with = edit_codex_config(path, before, Some(&server())).unwrap();
        assert!(with.starts_with(before), "{with}");
        assert!(with.contains("[mcp_servers.csep]"));
        // Installing twice leaves one entry; removing gives the original text back.
        let again = edit_codex_config(path, &with, Some(&server())).unwrap();
        assert_eq!(again, with);
        assert_eq!(edit_codex_config(path, &with, None).unwrap(), before);
        let alone = edit_codex_config(path, "", Some(&server())).unwrap();
        assert_eq!(edit_codex_config(path, &alone, None).unwrap(), "");
    }

    #[test]
    fn a_csep_entry_that_runs_something_else_is_never_taken_or_removed() {
        let text = "[mcp_servers.csep]\ncommand = \"/usr/bin/other-tool\"\n";
        let path = Path::new("config.toml");
        let err = edit_codex_config(path, text, Some(&server())).unwrap_err();
        assert!(err.to_string().contains("other-tool"), "{err}");
        assert_eq!(edit_codex_config(path, text, None).unwrap(), text);
    }

    #[test]
    fn claude_commands_add_at_user_scope_and_remove_the_same_name() {
        let (add, remove) = claude_commands(&server());
        assert_eq!(
            add,
            [
                "mcp",
                "add",
                "--scope",
                "user",
                "csep",
                "--",
                "/opt/bin/csep",
                "--home",
                "/h h",
                "mcp"
            ]
        );
        assert_eq!(remove, ["mcp", "remove", "--scope", "user", "csep"]);
    }

    #[test]
    fn a_changed_claude_config_loses_only_the_csep_server() {
        let text = r#"{"numStartups": 3, "mcpServers": {"csep": {"type": "stdio", "command": "/opt/bin/csep", "args": ["mcp"]}, "other": {"command": "x"}}}"#;
        let out = clean_claude_config(Path::new(".claude.json"), text).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"numStartups": 3, "mcpServers": {"other": {"command": "x"}}})
        );
    }

    #[test]
    fn codex_install_and_uninstall_restore_the_exact_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let before = "model = \"o3\"\n\n[profiles.x]\nmodel = \"y\"   # spaced\n";
        let path = dir.path().join("config.toml");
        std::fs::write(&path, before).unwrap();
        let record = install_codex(dir.path(), &server(), "2026-03-01T00:00:00Z").unwrap();
        assert!(check(&record));
        let done = uninstall(&record).unwrap();
        assert_eq!(done[0].1, "restored");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
        assert!(!check(&record));
    }

    #[test]
    fn codex_uninstall_after_a_user_edit_removes_only_the_server() {
        let dir = tempfile::tempdir().unwrap();
        let record = install_codex(dir.path(), &server(), "2026-03-01T00:00:00Z").unwrap();
        let path = &record.edits[0].path;
        let mut text = std::fs::read_to_string(path).unwrap();
        text.push_str("\n[tui]\ntheme = \"dark\"\n");
        std::fs::write(path, &text).unwrap();
        let done = uninstall(&record).unwrap();
        assert_eq!(done[0].1, "cleaned (file changed since install)");
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            "\n[tui]\ntheme = \"dark\"\n"
        );
    }
}
