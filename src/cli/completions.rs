//! `csep completions <shell>` and the hidden `csep man`: shell completions and man pages,
//! generated from the clap definitions in [`crate::cli::args`] at run time, so they can never
//! drift from the command line they describe (no hand-maintained copies in the repository).

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Ctx;
use crate::cli::args::{Cli, CompletionsArgs, ManArgs, ShellArg};
use crate::cli::output;

/// The completion script for `shell`, for the `csep` binary.
pub fn completion_script(shell: ShellArg) -> Vec<u8> {
    let shell = match shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
    };
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "csep", &mut out);
    out
}

/// Runs `csep completions`.
pub fn run(_ctx: &Ctx, args: &CompletionsArgs) -> anyhow::Result<u8> {
    std::io::stdout()
        .lock()
        .write_all(&completion_script(args.shell))
        .context("cannot write the completion script to stdout")?;
    Ok(0)
}

/// Renders the man page of the top-level command (`csep.1`).
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("cannot render the man page")?;
    Ok(out)
}

/// Writes `csep.1` and `csep-<command>.1` for every visible subcommand (recursively) into `dir`;
/// returns the files written.
pub fn write_man_pages(dir: &Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = Cli::command();
    // Subcommand pages are named after the full path (`csep-memory-list`): build sets those
    // names on every subcommand.
    cmd.build();
    let mut written = Vec::new();
    write_recursive(&cmd, dir, &mut written)?;
    Ok(written)
}

fn write_recursive(
    cmd: &clap::Command,
    dir: &Path,
    written: &mut Vec<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let name = cmd
        .get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned();
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .with_context(|| format!("cannot render the man page of `{name}`"))?;
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_recursive(sub, dir, written)?;
    }
    Ok(())
}

/// Runs `csep man`.
pub fn run_man(ctx: &Ctx, args: &ManArgs) -> anyhow::Result<u8> {
    match &args.out {
        None => {
            std::io::stdout()
                .lock()
                .write_all(&man_page()?)
                .context("cannot write the man page to stdout")?;
        }
        Some(dir) => {
            let files = write_man_pages(dir)?;
            if ctx.json {
                output::print_json(&files)?;
            } else {
                println!("wrote {} man pages into {}", files.len(), dir.display());
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case::bash(ShellArg::Bash, "_csep()")]
    #[case::zsh(ShellArg::Zsh, "#compdef csep")]
    #[case::fish(ShellArg::Fish, "complete -c csep")]
    fn completion_scripts_name_csep_and_its_commands(
        #[case] shell: ShellArg,
        #[case] marker: &str,
    ) {
        let script = String::from_utf8(completion_script(shell)).unwrap();
        assert!(script.contains(marker), "{script}");
        for command in ["recall", "doctor", "install", "migrate-worktrees"] {
            assert!(script.contains(command), "`{command}` missing");
        }
    }

    #[test]
    fn man_page_documents_the_commands_and_global_flags() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.starts_with(".ie"), "{page}");
        assert!(page.contains(".TH csep 1"), "{page}");
        assert!(page.contains("\\-\\-home"));
        assert!(page.contains("doctor"));
    }

    #[test]
    fn man_pages_are_written_per_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_man_pages(dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for expected in ["csep.1", "csep-doctor.1", "csep-memory-list.1"] {
            assert!(names.iter().any(|n| n == expected), "{names:?}");
        }
        assert!(
            !names.iter().any(|n| n == "csep-worker.1"),
            "hidden commands get no page"
        );
    }
}
