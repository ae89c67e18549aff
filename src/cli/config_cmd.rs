//! `csep config …`: path, init, show, validate, list-profiles, use.
//!
//! Exit codes follow the reference: `validate` exits 0 when clean, 1 with warnings and 2 when the
//! file is invalid; `show` and `list-profiles` exit 2 on an invalid file; `init` exits 1 when the
//! file exists and `--force` was not given.

use serde_json::json;

use crate::cli::args::ConfigCommand;
use crate::cli::{Ctx, output};
use crate::store::config::{self, ConfigError, InitOutcome};
use crate::store::fsutil;

/// Runs a config subcommand; returns the exit code.
pub fn run(ctx: &Ctx, cmd: ConfigCommand) -> anyhow::Result<u8> {
    let home = &ctx.paths.home;
    let path = config::config_path(home);
    match cmd {
        ConfigCommand::Path => {
            if ctx.json {
                output::print_json(&json!({ "config_path": path }))?;
            } else {
                println!("{}", path.display());
            }
            Ok(0)
        }
        ConfigCommand::Init { force } => match config::init(home, force) {
            Ok(outcome) => {
                let status = match outcome {
                    InitOutcome::Created => "created",
                    InitOutcome::Overwritten => "overwritten",
                };
                if ctx.json {
                    output::print_json(&json!({ "status": status, "config_path": path }))?;
                } else {
                    println!("{status} {}", path.display());
                    println!("edit it, then check it with `csep config validate`");
                }
                Ok(0)
            }
            Err(e @ ConfigError::Exists { .. }) => {
                if ctx.json {
                    output::print_json(&json!({
                        "status": "exists", "config_path": path, "error": e.to_string()
                    }))?;
                } else {
                    eprintln!("csep: error: {e}");
                }
                Ok(1)
            }
            Err(e) => Err(e.into()),
        },
        ConfigCommand::Show { raw } => {
            if raw {
                let text = match std::fs::read_to_string(&path) {
                    Ok(text) => Some(text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
                };
                if ctx.json {
                    output::print_json(&json!({
                        "config_path": path,
                        "config_exists": text.is_some(),
                        "raw": text.clone().unwrap_or_default(),
                    }))?;
                } else {
                    match text {
                        Some(text) => print!("{text}"),
                        None => eprintln!("{} does not exist; defaults apply", path.display()),
                    }
                }
                return Ok(0);
            }
            match ctx.load_config() {
                Ok(loaded) => {
                    if ctx.json {
                        output::print_json(&config::resolved_json(&loaded))?;
                    } else {
                        print!("{}", config::render_show(&loaded));
                    }
                    Ok(0)
                }
                Err(e) => invalid(ctx, &path, &e),
            }
        }
        ConfigCommand::Validate => match ctx.load_config() {
            Ok(loaded) => {
                let status = if loaded.warnings.is_empty() {
                    "ok"
                } else {
                    "warnings"
                };
                if ctx.json {
                    output::print_json(&json!({
                        "status": status,
                        "config_path": path,
                        "config_exists": loaded.exists,
                        "warnings": loaded.warnings,
                    }))?;
                } else if loaded.warnings.is_empty() {
                    let note = if loaded.exists {
                        "is valid"
                    } else {
                        "does not exist; defaults apply"
                    };
                    println!("{} {note}", path.display());
                } else {
                    for w in &loaded.warnings {
                        println!("warning: {w}");
                    }
                }
                Ok(if loaded.warnings.is_empty() { 0 } else { 1 })
            }
            Err(e) => invalid(ctx, &path, &e),
        },
        ConfigCommand::ListProfiles => match ctx.load_config() {
            Ok(loaded) => {
                let names: Vec<&String> = loaded.config.profiles.keys().collect();
                if ctx.json {
                    output::print_json(&json!({
                        "active_profile": loaded.config.active_profile,
                        "profiles": names,
                        "config_path": path,
                        "config_exists": loaded.exists,
                    }))?;
                } else {
                    for (name, profile) in &loaded.config.profiles {
                        let mark = if *name == loaded.config.active_profile {
                            "*"
                        } else {
                            " "
                        };
                        println!("{mark} {name:<16} {}", profile.provider);
                    }
                }
                Ok(0)
            }
            Err(e) => invalid(ctx, &path, &e),
        },
        ConfigCommand::Use { name: profile } => {
            let loaded = match ctx.load_config() {
                Ok(loaded) => loaded,
                Err(e) => return invalid(ctx, &path, &e),
            };
            if !loaded.exists {
                anyhow::bail!(
                    "{} does not exist; run `csep config init` first, then `csep config use {profile}`",
                    path.display()
                );
            }
            if !loaded.config.profiles.contains_key(&profile) {
                let available: Vec<&str> =
                    loaded.config.profiles.keys().map(String::as_str).collect();
                anyhow::bail!(
                    "no profile `{profile}` in {}; available: {}; add a [profiles.{profile}] section first",
                    path.display(),
                    available.join(", ")
                );
            }
            let text = std::fs::read_to_string(&path)?;
            let updated = set_active_profile(&text, &profile);
            fsutil::write_atomic(&path, updated.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            if ctx.json {
                output::print_json(&json!({
                    "status": "switched", "active_profile": profile, "config_path": path
                }))?;
            } else {
                println!("active profile: {profile}");
            }
            Ok(0)
        }
    }
}

/// Reports an invalid config file and returns exit code 2.
fn invalid(ctx: &Ctx, path: &std::path::Path, e: &ConfigError) -> anyhow::Result<u8> {
    if ctx.json {
        output::print_json(&json!({
            "status": "invalid", "config_path": path, "error": e.to_string()
        }))?;
    } else {
        eprintln!("csep: error: {e}");
    }
    Ok(2)
}

/// Rewrites only the `active_profile` line (comments and everything else are kept). Adds the
/// line after `schema_version` when missing, or at the top when that is missing too.
pub fn set_active_profile(text: &str, profile: &str) -> String {
    let line = format!("active_profile = {}", toml_string(profile));
    let mut out = Vec::new();
    let mut replaced = false;
    let mut in_table = false;
    for l in text.lines() {
        let trimmed = l.trim_start();
        if trimmed.starts_with('[') {
            in_table = true;
        }
        let is_key = !in_table
            && trimmed
                .strip_prefix("active_profile")
                .is_some_and(|rest| rest.trim_start().starts_with('='));
        if is_key {
            if !replaced {
                out.push(line.clone());
                replaced = true;
            }
        } else {
            out.push(l.to_owned());
        }
    }
    if !replaced {
        let at = out
            .iter()
            .position(|l| l.trim_start().starts_with("schema_version"))
            .map(|i| i + 1)
            .unwrap_or(0);
        out.insert(at, line);
    }
    let mut joined = out.join("\n");
    if text.ends_with('\n') || text.is_empty() {
        joined.push('\n');
    }
    joined
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_active_profile_replaces_only_the_top_level_line() {
        let text = "# c\nschema_version = 3\nactive_profile = \"offline\"  \n\n[profiles.x]\nactive_profile_note = 1\n";
        assert_eq!(
            set_active_profile(text, "x"),
            "# c\nschema_version = 3\nactive_profile = \"x\"\n\n[profiles.x]\nactive_profile_note = 1\n"
        );
    }

    #[test]
    fn set_active_profile_inserts_after_schema_version_or_at_the_top() {
        assert_eq!(
            set_active_profile("schema_version = 3\n[log]\n", "a"),
            "schema_version = 3\nactive_profile = \"a\"\n[log]\n"
        );
        assert_eq!(
            set_active_profile("[log]\n", "a"),
            "active_profile = \"a\"\n[log]\n"
        );
    }
}
