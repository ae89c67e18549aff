//! Rendering recall results: budgeted Markdown for models and JSON for tools.
//!
//! Both keep the reference's shapes (spec §7.4 Markdown headings and status lines, §1.2 JSON
//! keys `query, cwd, count, results, focused_recall, triggered, reasons, status`) and add
//! provenance: every result says what it is (memory entry id or session id), its date, its
//! project and its paths, so a model can cite it and a human can check it.
//!
//! Invariants: the Markdown never exceeds its character budget by more than the fixed headings
//! (each result keeps at least its heading and provenance line); statuses `matched`, `no_match`,
//! `not_triggered` and `error` are distinct, and `error` always carries its message.

use serde::Serialize;
use serde_json::{Value, json};

use crate::host::transcript::inert_context_text;
use crate::recall::search::{Hit, HitKind, WindowMessage};

/// Default character budget of `csep recall` Markdown.
pub const DEFAULT_BUDGET_CHARS: usize = 6000;

/// Smallest budget honoured; smaller values are raised to it so results stay readable.
pub const MIN_BUDGET_CHARS: usize = 400;

/// Outcome of a recall, as shown to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// At least one result.
    Matched,
    /// The search ran and found nothing (or the query had no searchable word).
    NoMatch,
    /// `recall-trigger` decided not to search.
    NotTriggered,
    /// The query could not be searched or the store failed; `error` says why.
    Error,
}

impl Status {
    /// The stored/printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Matched => "matched",
            Status::NoMatch => "no_match",
            Status::NotTriggered => "not_triggered",
            Status::Error => "error",
        }
    }
}

/// Everything a recall rendering needs.
#[derive(Debug, Clone)]
pub struct RecallResponse {
    /// The query as given.
    pub query: String,
    /// The resolved working directory.
    pub cwd: String,
    /// Outcome.
    pub status: Status,
    /// Ranked results.
    pub hits: Vec<Hit>,
    /// Error message (status `error`).
    pub error: Option<String>,
    /// Explanation of a `no_match` that is not a plain miss (no searchable words, no archive).
    pub note: Option<String>,
    /// Whether recall was triggered (always true for `csep recall`).
    pub triggered: bool,
    /// Why it was triggered (`self_invoked`, `explicit`, `marker:<m>`).
    pub reasons: Vec<String>,
}

/// The reference's `focused_recall` text: one `- <summary>: <content>` line per result.
pub fn focused_recall(hits: &[Hit]) -> String {
    hits.iter()
        .map(|h| match one_line(&h.content, 300) {
            // A one-line entry is all summary; a session whose best hit is its summary says
            // it once.
            content if content.is_empty() || content == one_line(&h.summary, 300) => {
                format!("- {}", h.summary)
            }
            content => format!("- {}: {content}", h.summary),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn one_line(text: &str, max: usize) -> String {
    let visible = inert_context_text(text);
    let joined = visible.split_whitespace().collect::<Vec<_>>().join(" ");
    cut(&joined, max)
}

/// Cuts `text` to at most `max` characters, marking the cut with `…`.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

fn day(date: Option<&str>) -> Option<&str> {
    date.and_then(|d| d.get(..10))
}

/// The provenance line of a hit.
fn provenance(hit: &Hit) -> String {
    let mut parts = Vec::new();
    match hit.kind {
        HitKind::Memory => parts.push(format!(
            "memory {}{}",
            hit.id,
            hit.label
                .as_deref()
                .map(|l| format!(" ({l})"))
                .unwrap_or_default()
        )),
        HitKind::Recall => parts.push(format!("recall entry {}", hit.id)),
        HitKind::Session => {
            let host = hit.session.as_ref().map_or("", |s| s.host.as_str());
            parts.push(format!("session {} ({host})", hit.id));
        }
    }
    if let Some(d) = day(hit.date.as_deref()) {
        parts.push(d.to_owned());
    }
    match (&hit.project, hit.kind) {
        (Some(p), _) => parts.push(format!("project {p}")),
        (None, HitKind::Memory | HitKind::Recall) if hit.project_id.is_none() => {
            parts.push("user memory".to_owned());
        }
        _ => {}
    }
    if let Some(cwd) = &hit.cwd {
        parts.push(format!("cwd {cwd}"));
    }
    if !hit.paths.is_empty() {
        parts.push(format!("paths {}", hit.paths.join(", ")));
    }
    if let Some(s) = &hit.session
        && s.hit_count > 1
    {
        let at_least = if s.hit_count_exact { "" } else { "at least " };
        parts.push(format!("{at_least}{} matching messages", s.hit_count));
    }
    format!("Provenance: {}", parts.join(" · "))
}

fn title(hit: &Hit, i: usize) -> String {
    match hit.kind {
        HitKind::Memory | HitKind::Recall => {
            let summary = if hit.summary.is_empty() {
                &hit.id
            } else {
                &hit.summary
            };
            format!("### {i}. {}", one_line(summary, 160))
        }
        HitKind::Session => format!(
            "### {i}. Session {} · {}",
            day(hit.date.as_deref()).unwrap_or("undated"),
            one_line(&hit.summary, 120)
        ),
    }
}

/// Fewest characters of a message's text worth a line of a session's window.
const MIN_LINE_CHARS: usize = 12;

/// A hit's body, at most `budget` characters.
fn body(hit: &Hit, budget: usize) -> String {
    match &hit.session {
        None => cut(&inert_context_text(hit.content.trim()), budget),
        Some(detail) => {
            // One line per message, `→ ` marking the ones that hold a query term. The line
            // prefixes and the newlines are paid first; the text left room is shared with a
            // hit weighing twice another message. A message whose share is too short to say
            // anything is left out, so the body never exceeds `budget`.
            let prefixed: Vec<(String, &WindowMessage)> = detail
                .messages
                .iter()
                .map(|m| {
                    let who = match &m.tool_name {
                        Some(tool) => format!("{}:{tool}", m.role),
                        None => m.role.clone(),
                    };
                    let marker = if m.is_hit { "→ " } else { "" };
                    (format!("{marker}[{who}] "), m)
                })
                .collect();
            let weight = |m: &WindowMessage| if m.is_hit { 2 } else { 1 };
            let fixed: usize = prefixed.iter().map(|(p, _)| p.chars().count() + 1).sum();
            let weights: usize = prefixed.iter().map(|(_, m)| weight(m)).sum();
            let room = budget.saturating_sub(fixed);
            prefixed
                .iter()
                .filter_map(|(prefix, m)| {
                    let share = room * weight(m) / weights.max(1);
                    (share >= MIN_LINE_CHARS)
                        .then(|| format!("{prefix}{}", one_line(&m.text, share)))
                })
                .collect::<Vec<_>>()
                .join("\n")
        }
    }
}

/// Renders the Markdown for models (spec §7.4 layout, with provenance and a budget of at least
/// [`MIN_BUDGET_CHARS`]).
pub fn render_markdown(resp: &RecallResponse, budget_chars: usize) -> String {
    render_markdown_within(resp, budget_chars.max(MIN_BUDGET_CHARS))
}

/// [`render_markdown`] with the bodies sharing exactly `budget` characters (headings and
/// provenance lines are never cut, so the text can exceed it: a caller with a hard cap drops
/// hits).
pub fn render_markdown_within(resp: &RecallResponse, budget: usize) -> String {
    let mut out = String::from("## Focused Recall\n\nStatus: ");
    out.push_str(resp.status.as_str());
    out.push('\n');
    if !resp.query.trim().is_empty() {
        out.push_str(&format!("Query: {}\n", one_line(&resp.query, 200)));
    }
    out.push_str(&format!("Results: {}\n", resp.hits.len()));
    if let Some(note) = resp.note.as_deref().filter(|_| !resp.hits.is_empty()) {
        out.push_str(&format!("Note: {note}\n"));
    }
    match resp.status {
        Status::NotTriggered => out.push_str(
            "\nRecall was not triggered by the current policy. Continue with the current repo \
             and conversation context.\n",
        ),
        Status::Error => out.push_str(&format!(
            "\nRecall failed softly: {}\nContinue with the current repo and conversation \
             context. Do not invent prior context.\n",
            resp.error.as_deref().unwrap_or("unknown error")
        )),
        Status::NoMatch | Status::Matched if resp.hits.is_empty() => {
            out.push('\n');
            if let Some(note) = &resp.note {
                out.push_str(note);
                out.push(' ');
            }
            out.push_str(
                "No matching recall was found. Continue with the current repo and conversation \
                 context. Do not invent prior context.\n",
            );
        }
        Status::NoMatch | Status::Matched => {
            let total = resp.hits.len();
            for (i, hit) in resp.hits.iter().enumerate() {
                let head = title(hit, i + 1);
                let prov = provenance(hit);
                // 6: the newlines around the heading, the body and the provenance line.
                let used = out.chars().count() + head.chars().count() + prov.chars().count() + 6;
                let left = budget.saturating_sub(used);
                let share = left / (total - i);
                out.push('\n');
                out.push_str(&head);
                out.push_str("\n\n");
                // A one-line entry is all heading: no empty body between it and its provenance.
                let text = if share >= 20 {
                    body(hit, share)
                } else {
                    String::new()
                };
                if !text.is_empty() {
                    out.push_str(&text);
                    out.push_str("\n\n");
                }
                out.push_str(&prov);
                out.push('\n');
            }
        }
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

fn hit_json(hit: &Hit) -> Value {
    let session = hit.session.as_ref();
    json!({
        "id": hit.id,
        "kind": hit.kind,
        "summary": hit.summary,
        "content": hit.content,
        "source_paths": hit.paths,
        "repo_fingerprint": hit.project_id,
        "project": hit.project,
        "cwd": hit.cwd,
        "thread_id": session
            .map(|_| hit.id.clone())
            .or_else(|| hit.origin.as_ref().and_then(|o| o.thread_id.clone())),
        "turn_id": session
            .and_then(|s| s.turn_id.clone())
            .or_else(|| hit.origin.as_ref().and_then(|o| o.turn_id.clone())),
        "host": session.map(|s| s.host.clone()),
        "date": hit.date,
        "label": hit.label,
        "score": (hit.score * 1000.0).round() / 1000.0,
        "coverage": (hit.coverage * 1000.0).round() / 1000.0,
        "use_count": hit.use_count,
        "hit_count": session.map(|s| s.hit_count),
        "hit_count_exact": session.map(|s| s.hit_count_exact),
        "messages": session.map(|s| &s.messages),
    })
}

/// Renders the JSON for tools, with the reference's keys (spec §1.2 / §7).
pub fn to_json(resp: &RecallResponse) -> Value {
    let mut value = json!({
        "query": resp.query,
        "cwd": resp.cwd,
        "count": resp.hits.len(),
        "results": resp.hits.iter().map(hit_json).collect::<Vec<_>>(),
        "focused_recall": focused_recall(&resp.hits),
        "triggered": resp.triggered,
        "reasons": resp.reasons,
        "status": resp.status.as_str(),
    });
    if let Some(error) = &resp.error {
        value["error"] = json!(error);
    }
    if let Some(note) = &resp.note {
        value["note"] = json!(note);
    }
    value
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::recall::search::{SessionDetail, WindowMessage};

    fn memory_hit() -> Hit {
        Hit {
            kind: HitKind::Memory,
            id: "m_1".into(),
            score: 1.2,
            relevance: 1.0,
            coverage: 1.0,
            project_id: Some("p_1".into()),
            project: Some("app".into()),
            cwd: None,
            date: Some("2026-03-01T10:00:00.000Z".into()),
            label: Some("gotcha".into()),
            summary: "Order retries".into(),
            content: "Retry order timeouts with backoff.".into(),
            paths: vec!["src/orders.rs".into()],
            use_count: 0,
            session: None,
            origin: None,
        }
    }

    fn session_hit() -> Hit {
        Hit {
            kind: HitKind::Session,
            id: "s-1".into(),
            summary: "why does the deploy fail".into(),
            content: "why does the deploy fail".into(),
            label: None,
            paths: vec![],
            cwd: Some("/work/app".into()),
            session: Some(SessionDetail {
                session_ref: 1,
                host: "codex".into(),
                turn_id: Some("t1".into()),
                hit_count: 2,
                hit_count_exact: true,
                messages: vec![
                    WindowMessage {
                        id: 1,
                        role: "user".into(),
                        origin: "user".into(),
                        tool_name: None,
                        ts: None,
                        text: "why does the deploy fail".into(),
                        is_hit: true,
                    },
                    WindowMessage {
                        id: 2,
                        role: "assistant".into(),
                        origin: "agent".into(),
                        tool_name: None,
                        ts: None,
                        text: "The staging token expired.".into(),
                        is_hit: false,
                    },
                ],
            }),
            ..memory_hit()
        }
    }

    fn response(hits: Vec<Hit>) -> RecallResponse {
        RecallResponse {
            query: "order retry".into(),
            cwd: "/work/app".into(),
            status: if hits.is_empty() {
                Status::NoMatch
            } else {
                Status::Matched
            },
            hits,
            error: None,
            note: None,
            triggered: true,
            reasons: vec!["self_invoked".into()],
        }
    }

    #[test]
    fn markdown_shows_each_result_with_its_provenance() {
        let md = render_markdown(&response(vec![memory_hit(), session_hit()]), 4000);
        assert_eq!(
            md,
            "## Focused Recall\n\nStatus: matched\nQuery: order retry\nResults: 2\n\n\
             ### 1. Order retries\n\nRetry order timeouts with backoff.\n\n\
             Provenance: memory m_1 (gotcha) · 2026-03-01 · project app · paths src/orders.rs\n\n\
             ### 2. Session 2026-03-01 · why does the deploy fail\n\n\
             → [user] why does the deploy fail\n[assistant] The staging token expired.\n\n\
             Provenance: session s-1 (codex) · 2026-03-01 · project app · cwd /work/app · \
             2 matching messages\n"
        );
    }

    #[test]
    fn a_session_body_never_exceeds_its_budget_whatever_its_hits() {
        let mut hit = session_hit();
        let detail = hit.session.as_mut().unwrap();
        let long = "deploy failed because the staging token expired again ".repeat(40);
        detail.messages = (0..6)
            .map(|i| WindowMessage {
                id: i,
                role: "tool".into(),
                origin: "tool_output".into(),
                tool_name: Some("exec_command".into()),
                ts: None,
                text: long.clone(),
                is_hit: i % 2 == 0,
            })
            .collect();
        for budget in [0, 20, 60, 100, 300, 1000, 5000] {
            let text = body(&hit, budget);
            assert!(text.chars().count() <= budget, "{budget}: {text}");
        }
        // With room, every message gets a line and the hits the longer ones.
        let text = body(&hit, 3000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].starts_with("→ ") && lines[0].len() > lines[1].len() + 200);
    }

    #[test]
    fn escapes_and_control_characters_never_reach_the_markdown() {
        let mut hit = memory_hit();
        hit.content = "\u{1b}[31merror\u{1b}[0m: build\u{7}\u{0} failed\u{1b}]0;title\u{7}".into();
        let md = render_markdown(&response(vec![hit]), 4000);
        assert!(!md.chars().any(|c| c.is_control() && c != '\n'), "{md:?}");
        assert!(md.contains(" error : build   failed"), "{md}");
        assert!(!md.contains("title"), "{md}");
    }

    #[test]
    fn a_one_line_entry_has_no_empty_body() {
        let mut hit = memory_hit();
        hit.content = String::new();
        let resp = response(vec![hit]);
        let md = render_markdown(&resp, 4000);
        assert!(
            md.ends_with(
                "### 1. Order retries\n\nProvenance: memory m_1 (gotcha) · 2026-03-01 · \
                 project app · paths src/orders.rs\n"
            ),
            "{md}"
        );
        assert_eq!(focused_recall(&resp.hits), "- Order retries");
        let mut same = memory_hit();
        same.content = same.summary.clone();
        assert_eq!(focused_recall(&[same]), "- Order retries");
    }

    #[test]
    fn markdown_stays_within_its_budget() {
        let mut big = memory_hit();
        big.content = "word ".repeat(5000);
        let md = render_markdown(&response(vec![big.clone(), big.clone(), big]), 1000);
        assert!(md.chars().count() <= 1000, "{}", md.chars().count());
        assert_eq!(md.matches("Provenance:").count(), 3);
    }

    #[test]
    fn no_match_and_error_are_distinct() {
        let none = render_markdown(&response(vec![]), 1000);
        assert!(none.contains("Status: no_match"));
        assert!(none.contains("No matching recall was found"));
        let mut failed = response(vec![]);
        failed.status = Status::Error;
        failed.error = Some("the query is empty".into());
        let md = render_markdown(&failed, 1000);
        assert!(md.contains("Status: error"));
        assert!(md.contains("Recall failed softly: the query is empty"));
        let json = to_json(&failed);
        assert_eq!(json["status"], "error");
        assert_eq!(json["error"], "the query is empty");
    }

    #[test]
    fn json_keeps_the_reference_keys() {
        let json = to_json(&response(vec![memory_hit()]));
        for key in [
            "query",
            "cwd",
            "count",
            "results",
            "focused_recall",
            "triggered",
            "reasons",
            "status",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        let result = &json["results"][0];
        for key in [
            "id",
            "summary",
            "content",
            "source_paths",
            "repo_fingerprint",
            "cwd",
            "thread_id",
            "turn_id",
        ] {
            assert!(result.get(key).is_some(), "missing result key {key}");
        }
        assert_eq!(
            json["focused_recall"],
            "- Order retries: Retry order timeouts with backoff."
        );
    }
}
