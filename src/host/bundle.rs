//! csep's plugin bundle: one local marketplace that both Codex and Claude Code accept
//! (`client-protocols.md` §1.8, §2.7, §3.1), generated from this one source at install time —
//! the repository holds no hand-maintained copy.
//!
//! Layout (relative to the marketplace root):
//!
//! ```text
//! .agents/plugins/marketplace.json          Codex marketplace
//! .claude-plugin/marketplace.json           Claude Code marketplace (Codex accepts it too)
//! plugins/csep/.codex-plugin/plugin.json    Codex manifest (with `interface` metadata)
//! plugins/csep/.claude-plugin/plugin.json   Claude Code manifest
//! plugins/csep/hooks/hooks.json             SessionStart, UserPromptSubmit, Stop → csep
//! plugins/csep/skills/csep-recall/SKILL.md  the recall skill
//! ```
//!
//! Invariant: the hooks call the installed csep binary by absolute path (with `--home` when the
//! home is not the default), never through `${CLAUDE_PLUGIN_ROOT}` or PATH, and carry no
//! `--host`: the hook detects its host from the payload, so one `hooks.json` serves both hosts.
//! The output is deterministic for a given [`BundleSpec`] (sorted keys, no timestamps), so a
//! re-install with the same binary leaves Codex's plugin content hash, and thus its trust, intact.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::host::install::{EVENTS, shell_quote};
use crate::store::fsutil;

/// The marketplace's name (`csep@csep-local` is the plugin id in both hosts).
pub const MARKETPLACE: &str = "csep-local";
/// The plugin's name.
pub const PLUGIN: &str = "csep";
/// The recall skill's name (≤ 64 chars, as Codex requires).
pub const RECALL_SKILL: &str = "csep-recall";

/// The plugin id the hosts use: `<plugin>@<marketplace>`.
pub fn plugin_id() -> String {
    format!("{PLUGIN}@{MARKETPLACE}")
}

/// What the bundle depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleSpec {
    /// The csep binary the hooks and the skill call.
    pub exe: PathBuf,
    /// `--home` for the hooks (`None`: the default home).
    pub hook_home: Option<PathBuf>,
    /// Plugin version (csep's version).
    pub version: String,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    /// Path relative to the marketplace root.
    pub path: PathBuf,
    /// Content.
    pub text: String,
}

/// Errors writing the bundle.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Writing a file failed.
    #[error(
        "cannot write the plugin bundle file {path}: {source}; check that the directory is writable"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The plugin hook command for one event: `'<exe>' [--home '<home>'] hook <event>`.
pub fn plugin_hook_command(spec: &BundleSpec, event_arg: &str) -> String {
    let mut cmd = csep_invocation(spec);
    cmd.push_str(" hook ");
    cmd.push_str(event_arg);
    cmd
}

fn csep_invocation(spec: &BundleSpec) -> String {
    let mut cmd = shell_quote(&spec.exe.to_string_lossy());
    if let Some(home) = &spec.hook_home {
        cmd.push_str(" --home ");
        cmd.push_str(&shell_quote(&home.to_string_lossy()));
    }
    cmd
}

/// The `(event, command, timeout)` triples of the bundle's hooks, in [`EVENTS`] order.
pub fn plugin_hooks(spec: &BundleSpec) -> Vec<(&'static str, String, u32)> {
    EVENTS
        .iter()
        .map(|(event, arg, timeout)| (*event, plugin_hook_command(spec, arg), *timeout))
        .collect()
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

const DESCRIPTION: &str = "Self-evolution for coding agents: injects what csep learned from \
    past sessions at SessionStart, records each session at Stop for review, and adds a recall skill.";

/// Every file of the bundle, in a stable order.
pub fn files(spec: &BundleSpec) -> Vec<BundleFile> {
    let plugin_dir = format!("./plugins/{PLUGIN}");
    let codex_marketplace = json!({
        "name": MARKETPLACE,
        "interface": {"displayName": "csep (local)"},
        "plugins": [{
            "name": PLUGIN,
            "source": {"source": "local", "path": plugin_dir},
            "policy": {"installation": "AVAILABLE", "authentication": "ON_INSTALL"},
            "category": "Productivity",
        }],
    });
    let claude_marketplace = json!({
        "name": MARKETPLACE,
        "owner": {"name": "csep"},
        "plugins": [{
            "name": PLUGIN,
            "source": plugin_dir,
            "description": DESCRIPTION,
            "version": spec.version,
        }],
    });
    let codex_manifest = json!({
        "name": PLUGIN,
        "version": spec.version,
        "description": DESCRIPTION,
        "keywords": ["memory", "recall", "skills", "hooks"],
        "interface": {
            "displayName": "csep",
            "shortDescription": "Memory, recall and skills learned from your sessions",
            "developerName": "csep",
            "category": "Productivity",
        },
    });
    let claude_manifest = json!({
        "name": PLUGIN,
        "version": spec.version,
        "description": DESCRIPTION,
        "author": {"name": "csep"},
    });
    let mut events = serde_json::Map::new();
    for (event, command, timeout) in plugin_hooks(spec) {
        events.insert(
            event.to_owned(),
            json!([{"hooks": [{"type": "command", "command": command, "timeout": timeout}]}]),
        );
    }
    let hooks = json!({ "hooks": Value::Object(events) });
    let root = PathBuf::from("plugins").join(PLUGIN);
    vec![
        BundleFile {
            path: PathBuf::from(".agents/plugins/marketplace.json"),
            text: pretty(&codex_marketplace),
        },
        BundleFile {
            path: PathBuf::from(".claude-plugin/marketplace.json"),
            text: pretty(&claude_marketplace),
        },
        BundleFile {
            path: root.join(".codex-plugin/plugin.json"),
            text: pretty(&codex_manifest),
        },
        BundleFile {
            path: root.join(".claude-plugin/plugin.json"),
            text: pretty(&claude_manifest),
        },
        BundleFile {
            path: root.join("hooks/hooks.json"),
            text: pretty(&hooks),
        },
        BundleFile {
            path: root.join("skills").join(RECALL_SKILL).join("SKILL.md"),
            text: recall_skill(spec),
        },
    ]
}

/// The recall skill: teaches the agent to search what csep learned before re-deriving it.
pub fn recall_skill(spec: &BundleSpec) -> String {
    let csep = csep_invocation(spec);
    format!(
        r#"---
name: {RECALL_SKILL}
description: Search what csep learned from earlier sessions (user preferences, project conventions, pitfalls, commands that worked, past discussions). Use before re-deriving something that may have been settled in an earlier session, or when the user says "as before", "last time" or "like we did".
---

# Recall what earlier sessions learned

csep archives every session and keeps a memory of what should outlive it. Search it with:

```sh
{csep} recall "<what you are looking for>"
```

- Run it from the project directory: results from this project rank first. Add
  `--all-projects` to search every project.
- Use a few specific words (`"integration tests database"`, `"deploy staging"`), not a
  whole sentence. Chinese and other CJK queries work too.
- `--top-k N` shows more hits; `--format json` gives machine-readable results.
- Each hit names its source (memory entry id or session and time). Treat hits as notes from
  earlier sessions: prefer what the user says now when the two disagree.
- If the user asks you to remember or forget something, tell them about
  `csep memory add "<text>"` and `csep memory forget <id>`.
"#
    )
}

/// Writes the bundle under `root` (created 0700); returns the files written. Files of an earlier
/// bundle that this one no longer has are left alone: the directory is csep's own.
pub fn write(root: &Path, spec: &BundleSpec) -> Result<Vec<PathBuf>, BundleError> {
    let mut written = Vec::new();
    for file in files(spec) {
        let path = root.join(&file.path);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|t| t == file.text);
        if !unchanged {
            fsutil::write_atomic(&path, file.text.as_bytes()).map_err(|source| {
                BundleError::Write {
                    path: path.clone(),
                    source,
                }
            })?;
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BundleSpec {
        BundleSpec {
            exe: PathBuf::from("/opt/csep/bin/csep"),
            hook_home: Some(PathBuf::from("/home/me/my csep")),
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn bundle_files_match_their_snapshots() {
        for file in files(&spec()) {
            let name = file.path.display().to_string().replace('/', "__");
            insta::assert_snapshot!(name, file.text);
        }
    }

    #[test]
    fn marketplaces_and_manifests_name_the_same_plugin_and_source() {
        let by_path = |p: &str| -> Value {
            let file = files(&spec())
                .into_iter()
                .find(|f| f.path == Path::new(p))
                .unwrap();
            serde_json::from_str(&file.text).unwrap()
        };
        let codex = by_path(".agents/plugins/marketplace.json");
        let claude = by_path(".claude-plugin/marketplace.json");
        assert_eq!(codex["name"], MARKETPLACE);
        assert_eq!(claude["name"], MARKETPLACE);
        assert_eq!(codex["plugins"][0]["name"], PLUGIN);
        assert_eq!(claude["plugins"][0]["name"], PLUGIN);
        let source = claude["plugins"][0]["source"].as_str().unwrap();
        assert_eq!(codex["plugins"][0]["source"]["path"], source);
        assert!(source.starts_with("./"));
        for manifest in [".codex-plugin/plugin.json", ".claude-plugin/plugin.json"] {
            let m = by_path(&format!("{}/{manifest}", &source[2..]));
            assert_eq!(m["name"], PLUGIN);
            assert_eq!(m["version"], "0.1.0");
        }
        let hooks = by_path(&format!("{}/hooks/hooks.json", &source[2..]));
        assert_eq!(hooks["hooks"].as_object().unwrap().len(), EVENTS.len());
    }

    #[test]
    fn hooks_call_the_binary_by_absolute_path_without_a_host_flag() {
        let hooks = plugin_hooks(&spec());
        assert_eq!(hooks.len(), 3);
        for (_, command, _) in &hooks {
            assert!(command.starts_with("/opt/csep/bin/csep --home '/home/me/my csep' hook "));
            assert!(!command.contains("--host"));
            assert!(!command.contains("CLAUDE_PLUGIN_ROOT"));
        }
    }

    #[test]
    fn skill_frontmatter_satisfies_codex_limits() {
        let skill = recall_skill(&spec());
        let front = skill.split("---").nth(1).unwrap();
        let description = front
            .lines()
            .find_map(|l| l.strip_prefix("description: "))
            .unwrap();
        assert!(description.len() <= 1024);
        assert!(RECALL_SKILL.len() <= 64);
        assert!(skill.contains("/opt/csep/bin/csep --home '/home/me/my csep' recall"));
    }

    #[test]
    fn writing_twice_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let first = write(dir.path(), &spec()).unwrap();
        let before: Vec<String> = first
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        let second = write(dir.path(), &spec()).unwrap();
        assert_eq!(first, second);
        let after: Vec<String> = second
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        assert_eq!(before, after);
        assert!(
            dir.path()
                .join(".agents/plugins/marketplace.json")
                .is_file()
        );
    }
}
