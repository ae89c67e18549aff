//! Installing csep's hooks into Claude Code: the `hooks` key of `$CLAUDE_CONFIG_DIR/settings.json`
//! (default `~/.claude/settings.json`). Claude runs settings hooks without a trust step
//! (`client-protocols.md` §2.2).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::host::Host;
use crate::host::install::{
    self, EVENTS, InstallError, InstallManifest, hook_command, hooks_of, read_optional,
};

/// What the caller decides: where Claude's config lives, which csep binary and home the hooks
/// call.
#[derive(Debug, Clone)]
pub struct ClaudeTarget {
    /// `$CLAUDE_CONFIG_DIR` (created when missing).
    pub config_dir: PathBuf,
    /// The csep binary the hooks run.
    pub exe: PathBuf,
    /// `--home` passed to the hooks (`None`: the default home).
    pub hook_home: Option<PathBuf>,
}

/// Installs (or refreshes) csep's hooks; returns the new manifest.
pub fn install(
    target: &ClaudeTarget,
    previous: Option<&InstallManifest>,
    now: &str,
) -> Result<InstallManifest, InstallError> {
    crate::store::fsutil::ensure_private_dir(&target.config_dir).map_err(|source| {
        InstallError::Io {
            action: "create",
            path: target.config_dir.clone(),
            source,
        }
    })?;
    let settings = target.config_dir.join("settings.json");
    let commands: IndexMap<String, String> = EVENTS
        .iter()
        .map(|(event, arg, _)| {
            (
                (*event).to_owned(),
                hook_command(&target.exe, target.hook_home.as_deref(), arg, Host::Claude),
            )
        })
        .collect();
    let current = read_optional(&settings)?;
    let doc = install::parse_top_level(&settings, current.as_deref().unwrap_or(""))?;
    let mut hooks = hooks_of(&doc);
    install::add_handlers(&mut hooks, &commands, Host::Claude);
    let new_text = install::with_hooks(doc, hooks);
    let previous_edit = previous.and_then(|m| m.edits.iter().find(|e| e.path == settings));
    let edit = install::write_edit(&settings, current.as_deref(), &new_text, previous_edit, now)?;
    Ok(InstallManifest {
        host: Host::Claude,
        commands,
        edits: vec![edit],
        trust_keys: Vec::new(),
        installed_at: now.to_owned(),
        plugin: None,
        mcp: None,
    })
}

/// Removes exactly what [`install()`] added.
pub fn uninstall(manifest: &InstallManifest) -> Result<Vec<(PathBuf, &'static str)>, InstallError> {
    let mut done = Vec::new();
    for edit in manifest.edits.iter().rev() {
        let outcome = install::undo_edit(edit, |now| {
            let doc = install::parse_top_level(&edit.path, now)?;
            let mut hooks = hooks_of(&doc);
            install::remove_handlers(&mut hooks, Host::Claude);
            Ok(install::with_hooks(doc, hooks))
        })?;
        done.push((edit.path.clone(), outcome));
    }
    Ok(done)
}

/// Whether every csep hook is present in `config_dir/settings.json`.
pub fn check(config_dir: &Path) -> bool {
    let path = config_dir.join("settings.json");
    let Ok(Some(text)) = read_optional(&path) else {
        return false;
    };
    let Ok(doc) = install::parse_top_level(&path, &text) else {
        return false;
    };
    let hooks = hooks_of(&doc);
    EVENTS.iter().all(|(event, _, _)| {
        hooks
            .get(*event)
            .and_then(|g| g.as_array())
            .is_some_and(|groups| {
                groups.iter().any(|g| {
                    g.get("hooks").and_then(|h| h.as_array()).is_some_and(|hs| {
                        hs.iter().any(|h| {
                            h.get("command")
                                .and_then(|c| c.as_str())
                                .is_some_and(|c| install::is_csep_command(c, Host::Claude))
                        })
                    })
                })
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_and_uninstall_round_trip_settings_byte_identical() {
        let dir = tempfile::tempdir().unwrap();
        let target = ClaudeTarget {
            config_dir: dir.path().join("claude"),
            exe: PathBuf::from("/opt/csep"),
            hook_home: None,
        };
        std::fs::create_dir_all(&target.config_dir).unwrap();
        let before =
            "{\n  \"model\": \"opus\",\n  \"permissions\": {\"allow\": [\"Bash(ls)\"]}\n}\n";
        std::fs::write(target.config_dir.join("settings.json"), before).unwrap();
        let manifest = install(&target, None, "now").unwrap();
        assert!(check(&target.config_dir));
        let during = std::fs::read_to_string(target.config_dir.join("settings.json")).unwrap();
        assert!(during.find("\"model\"").unwrap() < during.find("\"hooks\"").unwrap());
        assert!(during.contains("/opt/csep hook session-start --host claude"));
        uninstall(&manifest).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.config_dir.join("settings.json")).unwrap(),
            before
        );
        assert!(!check(&target.config_dir));
    }

    #[test]
    fn install_creates_settings_and_uninstall_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = ClaudeTarget {
            config_dir: dir.path().join("claude"),
            exe: PathBuf::from("/opt/csep"),
            hook_home: Some(dir.path().join("h")),
        };
        let manifest = install(&target, None, "now").unwrap();
        assert!(check(&target.config_dir));
        uninstall(&manifest).unwrap();
        assert!(!target.config_dir.join("settings.json").exists());
    }
}
