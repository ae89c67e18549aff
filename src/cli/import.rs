//! `csep import codex-sessions` / `csep import claude-sessions`: backfill the archive from the
//! transcripts a host already wrote.
//!
//! Finds `rollout-*.jsonl` under the Codex sessions directory or `*.jsonl` under Claude Code's
//! projects directory (sorted by path, optionally only files modified since `--since`), ingests
//! with [`crate::archive::ingest::ingest_transcripts`] and registers the project of each
//! session from the transcript's own cwd. Resumable: ingest checkpoints make a second run read
//! only what was appended since, so an interrupted import just runs again. One file's failure
//! (or an unreadable subdirectory's) is reported with its cause and skipped, the others are
//! imported, and the exit code is then 1; lines no JSON parser accepts are skipped and counted,
//! lines with text that is not UTF-8 are read with U+FFFD in its place and counted.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use serde::Serialize;

use crate::archive::ingest::{ingest_transcripts, set_session_project};
use crate::cli::args::ImportSessionsArgs;
use crate::cli::recall::parse_since;
use crate::cli::{Ctx, output};
use crate::host::Host;
use crate::store::db::Store;
use crate::store::identity::RepoIdentity;
use crate::store::project;

/// At most this many per-file errors are listed in the output (all are logged).
const MAX_LISTED_ERRORS: usize = 20;

/// What an import did.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    /// Host whose transcripts were read.
    pub host: String,
    /// Directory scanned.
    pub dir: String,
    /// Transcript files found (after `--since`).
    pub files: usize,
    /// Files that had new bytes.
    pub ingested_files: usize,
    /// Files with nothing new since the last import.
    pub unchanged_files: usize,
    /// Messages newly archived (injected ones included).
    pub messages_inserted: u64,
    /// Of those, injected messages (stored, not searchable).
    pub injected_inserted: u64,
    /// Distinct sessions that gained a message recall can find (as `csep status` counts
    /// sessions).
    pub sessions: usize,
    /// Distinct projects those sessions belong to.
    pub projects: usize,
    /// Files that failed, with the reason.
    pub errors: Vec<FileError>,
    /// Number of failed files and unreadable subdirectories (may exceed the listed errors).
    pub error_count: usize,
    /// Lines skipped because they are not JSON records (a transcript's own corruption).
    pub malformed_lines: u64,
    /// Lines read once their invalid text (bytes that are not UTF-8, a lone UTF-16 surrogate
    /// escape) was replaced by U+FFFD.
    pub repaired_lines: u64,
    /// Messages an interrupted earlier ingest had stored but not indexed, indexed (and so made
    /// searchable and counted) by this import. Not in `messages_inserted`.
    pub recovered_messages: u64,
    /// Files with new data in which not one message of this host's format was found (another
    /// host's transcripts, or files holding only metadata).
    pub files_without_messages: usize,
}

impl ImportReport {
    /// Counts one failure, listing it while fewer than [`MAX_LISTED_ERRORS`] are.
    fn fail(&mut self, path: &Path, error: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_LISTED_ERRORS {
            self.errors.push(FileError {
                path: path.to_string_lossy().into_owned(),
                error,
            });
        }
    }
}

/// `error` and each of its causes, joined by `: ` ("could not read transcript X: permission
/// denied").
fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    output::error_chain(std::iter::successors(Some(error), |e| e.source()))
}

/// One file that could not be ingested.
#[derive(Debug, Serialize)]
pub struct FileError {
    /// The transcript.
    pub path: String,
    /// Why.
    pub error: String,
}

/// The host's default transcript directory.
fn default_dir(ctx: &Ctx, host: Host) -> anyhow::Result<PathBuf> {
    let home = ctx.env.get("HOME").map(PathBuf::from);
    let from_home = |rel: &str| {
        home.as_ref()
            .map(|h| h.join(rel))
            .context("HOME is not set; pass --dir with the transcripts directory")
    };
    match host {
        Host::Codex => match ctx.env.get("CODEX_HOME") {
            Some(codex_home) => Ok(PathBuf::from(codex_home).join("sessions")),
            None => from_home(".codex/sessions"),
        },
        Host::Claude => match ctx.env.get("CLAUDE_CONFIG_DIR") {
            Some(dir) => Ok(PathBuf::from(dir).join("projects")),
            None => from_home(".claude/projects"),
        },
    }
}

/// Whether `name` is a transcript file of `host`.
fn is_transcript(host: Host, name: &str) -> bool {
    name.ends_with(".jsonl")
        && match host {
            Host::Codex => name.starts_with("rollout-"),
            Host::Claude => true,
        }
}

/// What a scan of a transcripts directory found.
#[derive(Debug, Default)]
struct Found {
    /// Every transcript, sorted.
    files: Vec<PathBuf>,
    /// Subdirectories that could not be read, with why (reported as failures).
    unreadable: Vec<(PathBuf, std::io::Error)>,
}

/// Every transcript under `dir`. Symbolic links are followed (a linked directory once: a link
/// back up the tree is not a loop); a subdirectory that cannot be read is listed in
/// [`Found::unreadable`]. The top directory must be readable.
fn find_transcripts(host: Host, dir: &Path, since: Option<SystemTime>) -> std::io::Result<Found> {
    let mut found = Found::default();
    let mut visited = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut first = true;
    while let Some(d) = stack.pop() {
        if !visited.insert(std::fs::canonicalize(&d).unwrap_or_else(|_| d.clone())) {
            continue;
        }
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if first => return Err(e),
            Err(e) => {
                found.unreadable.push((d, e));
                continue;
            }
        };
        first = false;
        for entry in entries.flatten() {
            let path = entry.path();
            // `metadata` follows a link; a dangling one is skipped.
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() && is_transcript(host, &entry.file_name().to_string_lossy()) {
                let recent = match since {
                    None => true,
                    Some(since) => meta.modified().is_ok_and(|mtime| mtime >= since),
                };
                if recent {
                    found.files.push(path);
                }
            }
        }
    }
    found.files.sort();
    Ok(found)
}

fn progress_bar(len: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} importing {pos}/{len} transcripts [{bar:30}] {elapsed} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Runs `csep import codex-sessions` or `csep import claude-sessions`.
pub fn run(ctx: &Ctx, host: Host, args: &ImportSessionsArgs) -> anyhow::Result<u8> {
    let dir = match &args.dir {
        Some(dir) => ctx.project_dir(Some(dir))?,
        None => default_dir(ctx, host)?,
    };
    let since = match args.since.as_deref() {
        Some(text) => match parse_since(text, jiff::Timestamp::now()) {
            Ok(ts) => Some(SystemTime::from(ts)),
            Err(e) => {
                eprintln!("csep: error: {e}");
                return Ok(2);
            }
        },
        None => None,
    };
    let found = find_transcripts(host, &dir, since).with_context(|| {
        format!(
            "cannot read transcripts directory {}; pass --dir with the directory that holds \
             the {host} transcripts",
            dir.display()
        )
    })?;
    ctx.paths.ensure_home()?;
    let mut store = Store::open(&ctx.paths.db())?;
    let left_unindexed = |store: &Store| -> u64 {
        store
            .conn()
            .query_row("SELECT count(*) FROM message_pending", [], |r| r.get(0))
            .unwrap_or(0)
    };
    let left_before = left_unindexed(&store);
    let files = found.files;
    let mut report = ImportReport {
        host: host.to_string(),
        dir: dir.to_string_lossy().into_owned(),
        files: files.len(),
        ..ImportReport::default()
    };
    for (path, e) in &found.unreadable {
        tracing::warn!(path = %path.display(), error = %e, "skipping unreadable directory");
        report.fail(path, format!("cannot read directory: {e}"));
    }
    let mut projects_by_cwd: HashMap<PathBuf, Option<String>> = HashMap::new();
    let mut sessions = std::collections::HashSet::new();
    let mut projects = std::collections::HashSet::new();
    let now = crate::store::time::now();
    let bar = progress_bar(files.len());
    ingest_transcripts(&mut store, host, &files, |store, path, ingest| {
        bar.inc(1);
        let ingest = match ingest {
            Ok(ingest) => ingest,
            Err(e) => {
                let error = with_causes(&e);
                tracing::warn!(path = %path.display(), error = %error, "skipping transcript");
                report.fail(path, error);
                return Ok(());
            }
        };
        report.malformed_lines += ingest.malformed_lines;
        report.repaired_lines += ingest.repaired_lines;
        if ingest.next_offset > ingest.from_offset {
            report.ingested_files += 1;
            if ingest.messages_seen == 0 {
                report.files_without_messages += 1;
            }
        } else {
            report.unchanged_files += 1;
        }
        report.messages_inserted += ingest.messages_inserted;
        report.injected_inserted += ingest.injected_inserted;
        let Some(session_ref) = ingest.session_ref else {
            return Ok(());
        };
        let searchable = ingest.messages_inserted > ingest.injected_inserted;
        if searchable {
            sessions.insert(session_ref);
        }
        let Some(cwd) = ingest.cwd else {
            return Ok(());
        };
        let project_id = match projects_by_cwd.get(&cwd) {
            Some(known) => known.clone(),
            None => {
                // A cwd that no longer exists has no project; recall still finds its sessions
                // through their cwd.
                let id = match RepoIdentity::resolve(&cwd) {
                    Ok(identity) => Some(project::upsert(store, &identity, &now)?.id),
                    Err(_) => None,
                };
                projects_by_cwd.insert(cwd, id.clone());
                id
            }
        };
        if let Some(project_id) = project_id {
            set_session_project(store, session_ref, &project_id)
                .with_context(|| format!("recording the project of {}", path.display()))?;
            if searchable {
                projects.insert(project_id);
            }
        }
        anyhow::Ok(())
    })?;
    bar.finish_and_clear();
    report.recovered_messages = left_before.saturating_sub(left_unindexed(&store));
    report.sessions = sessions.len();
    report.projects = projects.len();
    if ctx.json {
        output::print_json(&report)?;
    } else {
        // Written, not `println!`ed: a reader that went away (`| head -1`) is an error `main`
        // ends quietly with exit 0, where `println!` would panic.
        print_summary(&mut std::io::stdout().lock(), &report)?;
    }
    Ok(u8::from(report.error_count > 0))
}

/// Writes the plain-text summary of `report`.
fn print_summary(out: &mut impl std::io::Write, report: &ImportReport) -> std::io::Result<()> {
    writeln!(
        out,
        "Imported {} {} transcripts from {}: {} with new data, {} unchanged, {} failed.",
        report.files,
        report.host,
        report.dir,
        report.ingested_files,
        report.unchanged_files,
        report.error_count
    )?;
    writeln!(
        out,
        "Archived {} new messages ({} injected, not searchable) in {} sessions of {} projects.",
        report.messages_inserted, report.injected_inserted, report.sessions, report.projects
    )?;
    if report.recovered_messages > 0 {
        writeln!(
            out,
            "{} messages an interrupted earlier import had stored are searchable now.",
            report.recovered_messages
        )?;
    }
    if report.files_without_messages > 0 {
        let other = match report.host.as_str() {
            "codex" => "claude",
            _ => "codex",
        };
        writeln!(
            out,
            "{} transcripts with new data held no {} message; if they are another host's, \
             import them with `csep import {other}-sessions`.",
            report.files_without_messages, report.host
        )?;
    }
    if report.repaired_lines > 0 {
        writeln!(
            out,
            "{} lines held text that is not valid UTF-8; it was archived with U+FFFD in its \
             place.",
            report.repaired_lines
        )?;
    }
    if report.malformed_lines > 0 {
        writeln!(
            out,
            "{} lines were not JSON records and were skipped.",
            report.malformed_lines
        )?;
    }
    for e in &report.errors {
        writeln!(out, "  failed: {}: {}", e.path, e.error)?;
    }
    if report.error_count > report.errors.len() {
        writeln!(
            out,
            "  ... and {} more (see the log)",
            report.error_count - report.errors.len()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcripts_are_found_recursively_by_host_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let day = dir.path().join("2026/03/01");
        std::fs::create_dir_all(&day).unwrap();
        for name in ["rollout-a.jsonl", "notes.jsonl", "rollout-b.json"] {
            std::fs::write(day.join(name), "").unwrap();
        }
        let codex = find_transcripts(Host::Codex, dir.path(), None).unwrap();
        assert_eq!(codex.files, [day.join("rollout-a.jsonl")]);
        let claude = find_transcripts(Host::Claude, dir.path(), None).unwrap();
        assert_eq!(
            claude.files,
            [day.join("notes.jsonl"), day.join("rollout-a.jsonl")]
        );
        let future = SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(
            find_transcripts(Host::Codex, dir.path(), Some(future))
                .unwrap()
                .files
                .is_empty()
        );
        assert!(find_transcripts(Host::Codex, &dir.path().join("missing"), None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn linked_transcripts_and_directories_are_found_once_and_a_link_loop_ends() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("rollout-linked.jsonl"), "").unwrap();
        let top = dir.path().join("sessions");
        std::fs::create_dir_all(top.join("day")).unwrap();
        std::fs::write(top.join("day").join("rollout-a.jsonl"), "").unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, top.join(name)).unwrap();
        };
        link(
            &elsewhere.path().join("rollout-linked.jsonl"),
            "rollout-file-link.jsonl",
        );
        link(elsewhere.path(), "dir-link");
        link(&top, "loop");
        link(&top.join("nothing"), "rollout-dangling.jsonl");
        let found = find_transcripts(Host::Codex, &top, None).unwrap();
        assert_eq!(
            found.files,
            [
                top.join("day").join("rollout-a.jsonl"),
                top.join("dir-link").join("rollout-linked.jsonl"),
                top.join("rollout-file-link.jsonl"),
            ]
        );
        assert!(found.unreadable.is_empty());
    }

    /// A reader that is gone.
    struct ClosedPipe;

    impl std::io::Write for ClosedPipe {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stdout_is_an_error_main_ends_quietly_not_a_panic() {
        let err = print_summary(&mut ClosedPipe, &ImportReport::default()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
        let mut out = Vec::new();
        print_summary(&mut out, &ImportReport::default()).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("Imported 0  transcripts")
        );
    }

    #[test]
    fn a_failure_lists_its_causes_once() {
        let io = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let err = crate::host::transcript::TranscriptError::Io {
            path: PathBuf::from("/t/x.jsonl"),
            source: io,
        };
        assert_eq!(
            with_causes(&err),
            "could not read transcript /t/x.jsonl: permission denied"
        );
    }
}
