//! `csep demo`: runs [`crate::demo`] in a temporary directory and prints what happened.

use std::fmt::Write as _;

use crate::cli::args::DemoArgs;
use crate::cli::{Ctx, output};
use crate::demo::{self, DemoReport};

/// Runs `csep demo`.
pub fn run(ctx: &Ctx, args: &DemoArgs) -> anyhow::Result<u8> {
    let dir = tempfile::Builder::new().prefix("csep-demo-").tempdir()?;
    let report = demo::run(dir.path())?;
    if ctx.json {
        output::print_json(&report)?;
    } else {
        print!("{}", render(&report, args.keep));
    }
    if args.keep {
        let kept = dir.keep();
        eprintln!(
            "kept: {} (try `csep --home {} status`)",
            kept.display(),
            kept.join("home").display()
        );
    }
    Ok(0)
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// The human rendering of a demo run.
pub fn render(r: &DemoReport, keep: bool) -> String {
    let mut s = String::new();
    let codex = r
        .sessions
        .iter()
        .filter(|(h, _)| *h == crate::host::Host::Codex)
        .count();
    let _ = writeln!(
        s,
        "csep demo: the whole loop, offline and without an API key, on {} sample sessions \
         ({codex} Codex, {} Claude Code)",
        r.sessions.len(),
        r.sessions.len() - codex
    );
    let note = if keep {
        "kept after the run"
    } else {
        "removed after the run; --keep keeps it"
    };
    let _ = writeln!(s, "home: {} ({note})\n", r.home.display());

    let _ = writeln!(s, "1. Stop hook and background worker");
    let _ = writeln!(
        s,
        "   {} stop events recorded; the worker processed {} ({} failed): ingest -> offline review -> compile",
        r.sessions.len(),
        r.worker.processed,
        r.worker.failed
    );
    let _ = writeln!(
        s,
        "   {} messages archived (secrets redacted, injected text tagged)\n",
        r.archived_messages
    );

    let _ = writeln!(
        s,
        "2. What csep learned ({} memory entries)",
        r.learned.len()
    );
    for l in &r.learned {
        let from = l
            .sessions
            .first()
            .map(|id| format!("  (from session {})", &id[..id.len().min(13)]))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "   [{}] {:<7} {:<10} {}{from}",
            l.id, l.scope, l.kind, l.summary
        );
    }
    let _ = writeln!(
        s,
        "\n3. SessionStart context the next session in this project gets"
    );
    s.push_str(&indent(&r.session_start_context, "   | "));
    let _ = writeln!(s, "\n4. csep recall \"{}\"", r.recall_query);
    s.push_str(&indent(r.recall_markdown.trim_end(), "   | "));
    let _ = writeln!(
        s,
        "\n5. Skill synthesis (dry run: nothing is written to your Codex or Claude skills)"
    );
    let _ = writeln!(
        s,
        "   evidence: {} recurring procedures; {} candidate draft(s)",
        r.skills.evidence.procedures, r.skills.candidates
    );
    for d in &r.skills.drafts {
        let failures: Vec<String> = d.failures.iter().map(|f| f.reason.clone()).collect();
        let why = if failures.is_empty() {
            String::new()
        } else {
            format!(" — {}", failures.join("; "))
        };
        let outcome = match d.outcome {
            crate::skills::run::Outcome::Published => "would be published to both hosts".to_owned(),
            other => format!("{other:?}").to_lowercase(),
        };
        let _ = writeln!(
            s,
            "   {}: {outcome}, seen in {} sessions{why}",
            d.name, d.evidence_sessions
        );
        if let Some(text) = d
            .file
            .as_deref()
            .and_then(|f| std::fs::read_to_string(f).ok())
        {
            let head: String = text
                .lines()
                .take(14)
                .map(|l| format!("   | {l}\n"))
                .collect();
            s.push_str(&head);
            let _ = writeln!(s, "   | …");
        }
    }
    let _ = writeln!(
        s,
        "\nNext: `csep install codex` or `csep install claude` to run this on your own sessions."
    );
    s
}
