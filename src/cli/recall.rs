//! `csep recall` and `recall-trigger`: search memory and past sessions from the command line.
//!
//! Reference-compatible: `QUERY...` or `--query`, `--cwd`, `--top-k`, `--format markdown|json`
//! (`--json` is the same as `--format json`), the reference's JSON keys and Markdown layout.
//! Like the reference's `csep recall`, both commands exit 0 whatever the search found or failed
//! on (status `error` in the output says what went wrong); only a usage error exits 2. Read-only:
//! the database is opened read-only and a missing one is a `no_match` with a note.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::cli::args::{RecallArgs, RecallFormat, RecallScopeArg, RecallTriggerArgs};
use crate::cli::output;
use crate::cli::{Binary, Ctx};
use crate::recall::auto::{evaluate_trigger, topic_query};
use crate::recall::render::{self, RecallResponse, Status};
use crate::recall::search::{
    self, MAX_TOP_K, SearchContext, SearchError, SearchOptions, SearchScope,
};
use crate::store::db::{OpenOptions, Store, StoreError};
use crate::store::identity::RepoIdentity;

/// The `policy` text `recall-trigger` reports.
pub const TRIGGER_POLICY: &str = "csep recalls when the prompt asks for it (--explicit) or refers \
    to earlier work (\"last time\", \"as before\", \"previously\", \"remember\", \"上次\", \
    \"之前\"); otherwise continue with the current context.";

/// Parses a `--since` value: a date (`2026-03-01`, midnight UTC), a date and time (RFC 3339 with
/// an offset, or without one and then UTC: `2026-03-01T09:30`, `2026-03-01 09:30`), or an age
/// (`30d`, `12h`, `2w`, `45m`) counted back from `now`. An age or time out of range is an error,
/// like any other value it cannot read.
pub fn parse_since(text: &str, now: jiff::Timestamp) -> anyhow::Result<jiff::Timestamp> {
    let text = text.trim();
    let unreadable = || {
        anyhow::anyhow!(
            "cannot read --since `{text}`; use a date (2026-03-01), a date and time \
             (2026-03-01T09:30, UTC unless it has an offset), or an age such as 30d, 12h or 2w"
        )
    };
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    // A time in a named zone (`2026-03-01T09:30[Europe/Paris]`); a zone this system cannot
    // resolve is an error, never the same clock time in UTC.
    if let Ok(zoned) = text.parse::<jiff::Zoned>() {
        return Ok(zoned.timestamp());
    }
    if text.contains('[') {
        return Err(unreadable());
    }
    // Before the date: a date parser accepts a date and time and drops the time.
    if let Ok(datetime) = text.parse::<jiff::civil::DateTime>()
        && text.len() > "2026-03-01".len()
    {
        return Ok(datetime.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp());
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (n, unit) = text.split_at(split);
    let seconds_per: i64 = match unit {
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(unreadable()),
    };
    let n: i64 = n.parse().map_err(|_| unreadable())?;
    n.checked_mul(seconds_per)
        .and_then(|secs| now.checked_sub(jiff::SignedDuration::from_secs(secs)).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "--since `{text}` reaches back before the year -9999; give a smaller age or a date"
            )
        })
}

/// A `--since` value (or the MCP tool's `since`) as the stored timestamp a search filters on.
pub fn since_filter(text: Option<&str>) -> anyhow::Result<Option<String>> {
    text.map(|s| parse_since(s, jiff::Timestamp::now()).map(crate::store::time::format_ts))
        .transpose()
}

impl From<RecallScopeArg> for SearchScope {
    fn from(value: RecallScopeArg) -> Self {
        match value {
            RecallScopeArg::Project => SearchScope::Project,
            RecallScopeArg::Global => SearchScope::Global,
            RecallScopeArg::Sessions => SearchScope::Sessions,
            RecallScopeArg::Memory => SearchScope::Memory,
        }
    }
}

/// Resolves `--cwd` (or the process cwd) as the reference does: a leading `~` is the home
/// directory (a quoted `'~/app'` reaches csep unexpanded), then made absolute and canonical
/// when it exists.
pub fn resolve_cwd(ctx: &Ctx, given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let expanded = given.map(|path| expand_home(path, ctx.env.get("HOME").map(Path::new)));
    let dir = ctx.project_dir(expanded.as_deref())?;
    Ok(std::fs::canonicalize(&dir).unwrap_or(dir))
}

/// `path` with a leading `~` component replaced by `home` (unchanged without a home).
fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

/// Pages of SQLite's page cache on the connection of one search (64, about 270 KiB; SQLite's
/// default is 2 MiB). One search reads most pages once, so a larger cache mostly holds pages
/// that are never read again, and each of its slots is fresh memory the kernel zeroes on first
/// touch: at 100k entries + 1M messages a search read 677 pages into 904 page faults with the
/// default, 695 pages into 570 faults with 64 (a fault costs about 2.2 µs, a re-read page
/// 1.4 µs): about 1 ms less per search (README, Performance).
const SEARCH_CACHE_PAGES: i64 = 64;

/// Opens the database at `db` read-only for one search; `Ok(None)` when nothing was archived
/// yet.
fn open_read_only(db: &Path) -> Result<Option<Store>, StoreError> {
    let store = match Store::open_with(
        db,
        OpenOptions {
            read_only: true,
            ..OpenOptions::default()
        },
    ) {
        Ok(store) => store,
        Err(StoreError::Missing { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    store
        .conn()
        .pragma_update(None, "cache_size", SEARCH_CACHE_PAGES)
        .map_err(|source| StoreError::Sqlite {
            path: db.to_path_buf(),
            source,
        })?;
    Ok(Some(store))
}

/// Runs one search and turns every outcome into a response (never an `Err`): a missing database
/// is a `no_match` with a note, a bad query or an unreadable database a status `error`. The
/// glue `csep recall`, `recall-trigger` and the MCP `recall` tool share.
pub fn respond(
    ctx: &Ctx,
    query: &str,
    cwd: &Path,
    opts: &SearchOptions,
    reasons: Vec<String>,
) -> RecallResponse {
    let mut response = RecallResponse {
        query: query.to_owned(),
        cwd: cwd.to_string_lossy().into_owned(),
        status: Status::NoMatch,
        hits: Vec::new(),
        error: None,
        note: None,
        triggered: true,
        reasons,
    };
    let store = match open_read_only(&ctx.paths.db()) {
        Ok(Some(store)) => store,
        Ok(None) => {
            // Still validate the query, so a syntax problem is reported as one.
            if let Err(e) = crate::recall::analyze::match_expr(query) {
                response.status = Status::Error;
                response.error = Some(e.to_string());
            } else {
                response.note = Some("Nothing has been archived in this csep home yet.".into());
            }
            return response;
        }
        Err(e) => {
            response.status = Status::Error;
            response.error = Some(e.to_string());
            return response;
        }
    };
    let project_id = RepoIdentity::resolve(cwd).ok().map(|i| i.project_id());
    if !cwd.exists() {
        response.note = Some(format!(
            "{} does not exist, so there is no current project: every project ranked alike.",
            cwd.display()
        ));
    }
    let search_ctx = SearchContext {
        project_id: project_id.as_deref(),
        cwd: Some(cwd),
        now: jiff::Timestamp::now(),
    };
    match search::search(&store, query, &search_ctx, opts) {
        Ok(outcome) => {
            let ignored = crate::recall::analyze::ignored_words(query);
            if outcome.match_expr.is_none() {
                response.note = Some(
                    "The query has no searchable words (only stop words or punctuation).".into(),
                );
            } else if !ignored.is_empty() {
                response.note = Some(format!(
                    "Common words are not indexed, so phrases and exclusions were searched \
                     without {}.",
                    ignored
                        .iter()
                        .map(|w| format!("`{w}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            response.status = if outcome.hits.is_empty() {
                Status::NoMatch
            } else {
                Status::Matched
            };
            response.hits = outcome.hits;
        }
        Err(SearchError::Query(e)) => {
            response.status = Status::Error;
            response.error = Some(e.to_string());
        }
        Err(e) => {
            response.status = Status::Error;
            response.error = Some(e.to_string());
        }
    }
    response
}

/// Logs one recall (never the query text, only a short hash of it).
pub fn log_recall(kind: &str, query: &str, cwd: &Path, response: &RecallResponse, format: &str) {
    // The query text is never logged, only a short hash of it (as the reference does).
    let digest = Sha256::digest(query.as_bytes());
    let query_hash: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    tracing::info!(
        kind,
        cwd = %cwd.display(),
        query_hash,
        count = response.hits.len(),
        status = response.status.as_str(),
        output_format = format,
        "recall completed"
    );
}

/// Runs `csep recall`.
pub fn run(ctx: &Ctx, args: &RecallArgs) -> anyhow::Result<u8> {
    let query = match (&args.query, args.words.is_empty()) {
        (Some(q), _) => q.trim().to_owned(),
        (None, false) => args.words.join(" ").trim().to_owned(),
        (None, true) => {
            eprintln!(
                "csep: error: recall needs a query: csep recall WORDS... or --query \"WORDS\""
            );
            return Ok(2);
        }
    };
    if args.all_projects && args.scope == Some(RecallScopeArg::Project) {
        eprintln!(
            "csep: error: --all-projects and --scope project contradict each other; use \
             --scope global to rank every project together, or drop --all-projects"
        );
        return Ok(2);
    }
    let since = match since_filter(args.since.as_deref()) {
        Ok(since) => since,
        Err(e) => {
            eprintln!("csep: error: {e}");
            return Ok(2);
        }
    };
    let cwd = resolve_cwd(ctx, args.cwd.as_deref())?;
    let opts = SearchOptions {
        scope: args.scope.map_or(SearchScope::Auto, SearchScope::from),
        all_projects: args.all_projects,
        since,
        host: args.host.map(Into::into),
        top_k: args.top_k.unwrap_or(match ctx.binary {
            Binary::Csep => 3,
            Binary::Reference => MAX_TOP_K,
        }),
        ..SearchOptions::default()
    };
    let response = respond(ctx, &query, &cwd, &opts, vec!["self_invoked".to_owned()]);
    let default_format = match ctx.binary {
        Binary::Csep => RecallFormat::Markdown,
        Binary::Reference => RecallFormat::Json,
    };
    let json = ctx.json || args.format.unwrap_or(default_format) == RecallFormat::Json;
    log_recall(
        "csep-recall",
        &query,
        &cwd,
        &response,
        if json { "json" } else { "markdown" },
    );
    if json {
        output::print_json(&render::to_json(&response))?;
    } else {
        print!("{}", render::render_markdown(&response, args.budget_chars));
    }
    Ok(0)
}

/// Runs `recall-trigger`: decide from explicit signals, then recall when triggered.
pub fn run_trigger(ctx: &Ctx, args: &RecallTriggerArgs) -> anyhow::Result<u8> {
    let cwd = resolve_cwd(ctx, Some(&args.cwd))?;
    let (triggered, reasons) = evaluate_trigger(&args.query, args.explicit);
    let response = if triggered {
        let opts = SearchOptions {
            top_k: args.top_k.max(1),
            ..SearchOptions::default()
        };
        // The query is a user's prompt: searched for what it is about, as plain words.
        let topic = topic_query(&args.query);
        let mut response = if topic.is_empty() {
            RecallResponse {
                query: String::new(),
                cwd: cwd.to_string_lossy().into_owned(),
                status: Status::NoMatch,
                hits: Vec::new(),
                error: None,
                note: Some("The prompt asks to look back but names nothing to look for.".into()),
                triggered: true,
                reasons,
            }
        } else {
            respond(ctx, &topic, &cwd, &opts, reasons)
        };
        response.query.clone_from(&args.query);
        response
    } else {
        RecallResponse {
            query: args.query.clone(),
            cwd: cwd.to_string_lossy().into_owned(),
            status: Status::NotTriggered,
            hits: Vec::new(),
            error: None,
            note: None,
            triggered: false,
            reasons,
        }
    };
    let json = ctx.json || args.format == RecallFormat::Json;
    log_recall(
        "recall-trigger",
        &args.query,
        &cwd,
        &response,
        if json { "json" } else { "markdown" },
    );
    if json {
        let mut value = render::to_json(&response);
        value["policy"] = serde_json::json!(TRIGGER_POLICY);
        value["skill_id"] = serde_json::json!("");
        value["skill_content"] = serde_json::json!("");
        output::print_json(&value)?;
    } else {
        print!(
            "{}",
            render::render_markdown(&response, render::DEFAULT_BUDGET_CHARS)
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::date("2026-03-01", "2026-03-01T00:00:00Z")]
    #[case::rfc3339("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z")]
    #[case::days("2d", "2026-03-08T12:00:00Z")]
    #[case::hours("12h", "2026-03-10T00:00:00Z")]
    #[case::weeks("1w", "2026-03-03T12:00:00Z")]
    #[case::minutes("90m", "2026-03-10T10:30:00Z")]
    #[case::date_and_time_is_utc("2026-03-01T09:30", "2026-03-01T09:30:00Z")]
    #[case::date_space_time("2026-03-01 23:00", "2026-03-01T23:00:00Z")]
    #[case::offset("2026-03-01T09:30:00+02:00", "2026-03-01T07:30:00Z")]
    fn since_accepts_dates_times_and_ages(#[case] text: &str, #[case] expected: &str) {
        let now: jiff::Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_since(text, now).unwrap(),
            expected.parse::<jiff::Timestamp>().unwrap()
        );
    }

    #[rstest]
    #[case::tilde_slash("~/code/app", "/home/u/code/app")]
    #[case::tilde_alone("~", "/home/u")]
    #[case::tilde_user_is_kept("~bob/app", "~bob/app")]
    #[case::absolute("/srv/app", "/srv/app")]
    #[case::tilde_inside("a/~/b", "a/~/b")]
    fn a_leading_tilde_is_the_home_directory(#[case] given: &str, #[case] expected: &str) {
        assert_eq!(
            expand_home(Path::new(given), Some(Path::new("/home/u"))),
            Path::new(expected)
        );
        assert_eq!(expand_home(Path::new(given), None), Path::new(given));
    }

    #[test]
    fn a_time_in_a_named_zone_is_that_zone_s_or_an_error() {
        let got = parse_since("2026-03-01T09:30[Europe/Paris]", jiff::Timestamp::now());
        if jiff::tz::TimeZone::get("Europe/Paris").is_ok() {
            assert_eq!(
                got.unwrap(),
                "2026-03-01T08:30:00Z".parse::<jiff::Timestamp>().unwrap()
            );
        } else {
            assert!(got.is_err(), "{got:?}");
        }
        assert!(parse_since("2026-03-01T09:30[Nowhere/Atlantis]", jiff::Timestamp::now()).is_err());
    }

    #[test]
    fn a_search_reads_through_a_small_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("csep.db");
        assert!(open_read_only(&db).unwrap().is_none(), "no store yet");
        drop(Store::open(&db).unwrap());
        let store = open_read_only(&db).unwrap().unwrap();
        let pages: i64 = store
            .conn()
            .pragma_query_value(None, "cache_size", |r| r.get(0))
            .unwrap();
        assert_eq!(pages, SEARCH_CACHE_PAGES);
    }

    #[rstest]
    #[case::word("yesterday")]
    #[case::unit_only("d")]
    #[case::unknown_unit("3y")]
    #[case::digits_overflow_i64("99999999999999999999d")]
    fn since_rejects_what_it_cannot_read(#[case] text: &str) {
        let err = parse_since(text, jiff::Timestamp::now()).unwrap_err();
        assert!(err.to_string().contains("30d"), "{err}");
    }

    #[rstest]
    #[case::days_before_the_calendar("99999999999d")]
    #[case::seconds_overflow("20000000000000000w")]
    fn an_age_out_of_range_is_an_error_not_a_panic(#[case] text: &str) {
        let err = parse_since(text, jiff::Timestamp::now()).unwrap_err();
        assert!(err.to_string().contains("smaller age"), "{err}");
    }
}
