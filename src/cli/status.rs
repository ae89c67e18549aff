//! `csep status`: a read-only snapshot of csep's state — version, home, database and schema,
//! config, provider keys (names only), hooks per host, the worker (running or last run), spend
//! today against the `[budget]` caps, projects with counts and memory size against the
//! `[memory]` budgets, skills by state, queues and the latest receipts. It never creates or
//! migrates anything, so it is safe on a broken home.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rusqlite::OptionalExtension as _;
use serde::Serialize;

use crate::cli::Ctx;
use crate::cli::args::StatusArgs;
use crate::cli::output;
use crate::host::Host;
use crate::memory::start_index::Coverage;
use crate::store::db::{self, OpenOptions, Store, StoreError};
use crate::store::env::EnvProviderFile;
use crate::store::project;

/// Provider key variables csep knows by name; only their presence is ever reported.
pub const WELL_KNOWN_KEYS: &[&str] = &[
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "MINIMAX_API_KEY",
    "KIMI_API_KEY",
    "ZHIPU_API_KEY",
];

/// The whole snapshot (`--json` prints it as is).
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// csep version.
    pub version: &'static str,
    /// Home directory.
    pub home: String,
    /// Whether the home exists.
    pub home_exists: bool,
    /// Database state.
    pub database: DatabaseStatus,
    /// config.toml state.
    pub config: ConfigStatus,
    /// Provider keys present (names only).
    pub provider_keys: ProviderKeysStatus,
    /// Hooks per host.
    pub hooks: BTreeMap<Host, HookStatus>,
    /// Registered projects with counts.
    pub projects: Vec<ProjectStatus>,
    /// Active user-scope memory entries.
    pub user_memory_entries: u64,
    /// Queue sizes by state.
    pub queue: QueueStatus,
    /// Latest background receipts, newest first.
    pub recent_receipts: Vec<ReceiptStatus>,
    /// The log file.
    pub log_file: String,
    /// The background worker: running now, or its last run.
    pub worker: WorkerStatus,
    /// LLM tokens spent today (UTC) by purpose, against the daily caps.
    pub spend_today: SpendStatus,
    /// Characters of active user-scope memory (summary + content).
    pub user_memory_chars: u64,
    /// `[memory] user_budget_chars`.
    pub user_memory_budget_chars: u64,
    /// Skills by state (`candidate`, `staged`, `published`, `rejected`, `retired`).
    pub skills: BTreeMap<String, u64>,
    /// Which scopes a session start answers from the start index.
    pub start_index: Coverage,
    /// The session archive as a whole, sessions without a project included.
    pub archive: ArchiveStatus,
}

/// The session archive's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ArchiveStatus {
    /// Archived sessions that hold a message recall can find.
    pub sessions: u64,
    /// Their messages, injected ones not counted (like every counter).
    pub messages: u64,
    /// Of those sessions, the ones with no project (their working directory is gone or was
    /// never a project): recall finds them with `--all-projects` or `--scope global`.
    pub sessions_without_project: u64,
    /// Transcripts archived with nothing recall can find (a header, injected context only):
    /// not counted in `sessions`.
    pub empty_sessions: u64,
}

/// The worker's state.
#[derive(Debug, Serialize, Default)]
pub struct WorkerStatus {
    /// A worker holds `<home>/worker.lock` now.
    pub running: bool,
    /// Who holds it and since when (`worker-<pid> <time>`), when running.
    pub holder: Option<String>,
    /// The latest `worker` receipt.
    pub last_run: Option<ReceiptStatus>,
    /// Why the last worker run failed before writing any receipt (the database locked past its
    /// wait), when it did; the next run that gets through clears it.
    pub last_failure: Option<crate::worker::WorkerFailure>,
    /// Stop events waiting in `<home>/spool` (the database was busy when they arrived); the
    /// next worker moves them into the database.
    pub spooled_stop_events: usize,
    /// SessionStart notes in the hook journal (`<home>/spool/start-*.json`), not yet moved into
    /// the database by a worker or a UserPromptSubmit.
    pub journal_notes: usize,
}

/// Today's spend.
#[derive(Debug, Serialize, Default)]
pub struct SpendStatus {
    /// The UTC day.
    pub day: String,
    /// Tokens (input + output) by purpose (`review`, `compile`, `skills`, `other`).
    pub by_purpose: BTreeMap<String, u64>,
    /// All purposes together.
    pub total_tokens: u64,
    /// Caps from `[budget]` (0 = unlimited): `daily`, `review`, `compile`, `skills`.
    pub caps: BTreeMap<String, u64>,
    /// Caps reached today (spending for them stops).
    pub capped: Vec<String>,
}

/// Database part of the snapshot.
#[derive(Debug, Serialize)]
pub struct DatabaseStatus {
    /// File path.
    pub path: String,
    /// Whether it exists.
    pub exists: bool,
    /// `ok`, `missing`, `needs_migration` or `error`.
    pub state: &'static str,
    /// Schema version in the file.
    pub schema_version: Option<u32>,
    /// Schema version this binary writes.
    pub supported_schema_version: u32,
    /// What went wrong, with the fix.
    pub error: Option<String>,
}

/// Config part of the snapshot.
#[derive(Debug, Serialize)]
pub struct ConfigStatus {
    /// File path.
    pub path: String,
    /// Whether the file exists (defaults apply otherwise).
    pub exists: bool,
    /// Active provider profile.
    pub active_profile: Option<String>,
    /// Non-fatal findings.
    pub warnings: Vec<String>,
    /// Why the file could not be loaded.
    pub error: Option<String>,
}

/// Provider keys (names only, never values).
#[derive(Debug, Serialize)]
pub struct ProviderKeysStatus {
    /// `.env.provider` path.
    pub env_provider_path: String,
    /// Whether it exists.
    pub env_provider_exists: bool,
    /// Well-known key names set in the environment or `.env.provider`.
    pub present: Vec<String>,
    /// Well-known key names not set anywhere.
    pub missing: Vec<String>,
    /// Findings about `.env.provider` (bad lines, wide permissions).
    pub warnings: Vec<String>,
    /// The active profile's provider and whether it can be used (a missing key means the
    /// offline reviewer runs instead).
    pub reviewer: ReviewerStatus,
}

/// The reviewer the worker will use.
#[derive(Debug, Serialize)]
pub struct ReviewerStatus {
    /// Active profile name.
    pub profile: String,
    /// Its provider kind (`offline`, `openai-compatible`, ...).
    pub provider: String,
    /// Whether the provider can be built (key present, command found when it checks).
    pub available: bool,
    /// Why not, naming the variable to set (never its value).
    pub reason: Option<String>,
}

/// One host's hooks.
#[derive(Debug, Serialize)]
pub struct HookStatus {
    /// Whether csep's hooks are in the host's configuration.
    pub installed: bool,
    /// Codex only: whether every csep hook has a current trust entry (untrusted hooks are
    /// skipped silently by Codex).
    pub trusted: Option<bool>,
    /// Last hook run recorded for this host: `<event> <outcome> at <time>`.
    pub last_fired: Option<String>,
    /// Whether csep's MCP server is registered with the host (`None`: never registered by
    /// `csep install … --mcp`; `Some(false)`: registered, but its entry is gone from the host's
    /// configuration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mcp: Option<bool>,
    /// What to do, when something is off.
    pub note: Option<String>,
}

/// One project's line.
#[derive(Debug, Serialize)]
pub struct ProjectStatus {
    /// Opaque id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Canonical path.
    pub path: String,
    /// Archived sessions that hold a message recall can find.
    pub sessions: u64,
    /// Archived messages.
    pub messages: u64,
    /// Active project-scope memory entries.
    pub memory_entries: u64,
    /// Suggestions waiting to be compiled.
    pub pending_suggestions: u64,
    /// Characters of active project memory (summary + content).
    pub memory_chars: u64,
    /// `[memory] project_budget_chars`.
    pub memory_budget_chars: u64,
    /// Last activity.
    pub last_seen_at: String,
}

/// Queue sizes.
#[derive(Debug, Serialize, Default)]
pub struct QueueStatus {
    /// Suggestions by state.
    pub suggestions: BTreeMap<String, u64>,
    /// Stop events by status.
    pub stop_events: BTreeMap<String, u64>,
}

/// One receipt.
#[derive(Debug, Serialize)]
pub struct ReceiptStatus {
    /// Stage (`review`, `compile`, ...).
    pub kind: String,
    /// `ok`, `degraded`, `failed`, `skipped`, `skipped_budget`.
    pub status: String,
    /// Why, when not ok.
    pub reason: Option<String>,
    /// Project.
    pub project_id: Option<String>,
    /// When it finished.
    pub finished_at: String,
    /// Duration.
    pub duration_ms: i64,
}

/// Runs `csep status`.
pub fn run(ctx: &Ctx, args: &StatusArgs) -> anyhow::Result<u8> {
    let report = collect(ctx, args.receipts);
    if ctx.json {
        output::print_json(&report)?;
    } else {
        print!("{}", render(&report));
    }
    Ok(0)
}

/// Builds the snapshot; every probe isolates its own failure into the report.
pub fn collect(ctx: &Ctx, receipts: usize) -> StatusReport {
    let paths = &ctx.paths;
    let db_path = paths.db();
    let mut database = DatabaseStatus {
        path: db_path.display().to_string(),
        exists: db_path.exists(),
        state: "missing",
        schema_version: None,
        supported_schema_version: db::SCHEMA_VERSION,
        error: None,
    };
    let mut projects = Vec::new();
    let mut queue = QueueStatus::default();
    let mut recent_receipts = Vec::new();
    let mut user_memory_entries = 0;
    let loaded = ctx.load_config();
    let cfg = loaded
        .as_ref()
        .map(|l| l.config.clone())
        .unwrap_or_default();
    let mut extra = Extra::default();
    let opened = Store::open_with(
        &db_path,
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    );
    match &opened {
        Ok(store) => {
            // A read error here is reported as such, never mistaken for an old schema.
            let version = match store.schema_version() {
                Ok(version) => version,
                Err(e) => {
                    database.state = "error";
                    database.error = Some(e.to_string());
                    db::SCHEMA_VERSION + 1
                }
            };
            if database.state == "error" {
                // Leave the snapshot's database part as the error says.
            } else if version < db::SCHEMA_VERSION {
                database.schema_version = Some(version);
                database.state = "needs_migration";
                database.error = Some(format!(
                    "schema v{version} will be upgraded to v{} by the next command that writes",
                    db::SCHEMA_VERSION
                ));
            } else {
                database.schema_version = Some(version);
                database.state = "ok";
                match read_tables(store, receipts).and_then(|t| read_extra(store).map(|e| (t, e))) {
                    Ok((tables, more)) => {
                        (projects, queue, recent_receipts, user_memory_entries) = tables;
                        extra = more;
                        for p in &mut projects {
                            p.memory_chars = extra.project_chars.get(&p.id).copied().unwrap_or(0);
                            p.memory_budget_chars = u64::from(cfg.memory.project_budget_chars);
                        }
                    }
                    Err(e) => {
                        database.state = "error";
                        database.error = Some(e.to_string());
                    }
                }
            }
        }
        Err(StoreError::Missing { .. }) => {
            database.error = Some("created by the first hook or command that writes".into());
        }
        Err(e) => {
            database.state = "error";
            database.error = Some(e.to_string());
        }
    }

    let reviewer = match &loaded {
        Ok(loaded) => {
            let name = loaded.config.active_profile.clone();
            match loaded.config.active_profile() {
                Some(profile) => {
                    let built = crate::llm::Provider::from_profile(&name, profile, &ctx.env);
                    ReviewerStatus {
                        profile: name,
                        provider: profile.provider.to_string(),
                        available: built.is_ok(),
                        reason: built
                            .err()
                            .map(|e| format!("{e}; the offline reviewer is used")),
                    }
                }
                None => ReviewerStatus {
                    profile: name,
                    provider: "offline".into(),
                    available: true,
                    reason: None,
                },
            }
        }
        Err(_) => ReviewerStatus {
            profile: String::new(),
            provider: "offline".into(),
            available: true,
            reason: Some("config.toml is invalid; the defaults (offline reviewer) apply".into()),
        },
    };
    let config = match loaded {
        Ok(loaded) => ConfigStatus {
            path: loaded.path.display().to_string(),
            exists: loaded.exists,
            active_profile: Some(loaded.config.active_profile.clone()),
            warnings: loaded.warnings.clone(),
            error: None,
        },
        Err(e) => ConfigStatus {
            path: paths.config().display().to_string(),
            exists: paths.config().exists(),
            active_profile: None,
            warnings: Vec::new(),
            error: Some(format!("{e:#}")),
        },
    };

    let env_path = paths.env_provider();
    let mut key_warnings = Vec::new();
    let file_keys = match EnvProviderFile::load(&env_path) {
        Ok(Some(file)) => {
            key_warnings.extend(file.warning_lines());
            file.key_names()
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
        Ok(None) => Vec::new(),
        Err(e) => {
            key_warnings.push(e.to_string());
            Vec::new()
        }
    };
    let (present, missing): (Vec<String>, Vec<String>) = WELL_KNOWN_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .partition(|k| ctx.env.get(k).is_some() || file_keys.iter().any(|f| f == k));

    // Runs still in the hook journal (SessionStart's, and prompts that found the database
    // busy) count for "last fired".
    let journal = crate::hooks::journal::read(paths);
    let last_fired = last_hook_runs(opened.as_ref().ok(), &journal);
    let lock = crate::hooks::stop::worker_lock_path(&paths.home);
    let worker_running = lock.exists() && crate::hooks::stop::is_worker_running(&paths.home);
    let worker_holder = worker_running
        .then(|| std::fs::read_to_string(&lock).ok())
        .flatten()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let hooks = Host::ALL
        .into_iter()
        .map(|host| {
            let manifest = crate::host::install::read_manifest(&paths.home, host);
            let (installed, trusted) =
                crate::cli::install::hook_state(manifest.as_ref(), ctx, host);
            let mcp = manifest
                .and_then(|m| m.mcp)
                .map(|record| crate::host::mcp::check(&record));
            let note = if !installed {
                Some(format!("run `csep install {host}`"))
            } else if trusted == Some(false) {
                Some("hooks are not trusted, Codex skips them: rerun `csep install codex`".into())
            } else if mcp == Some(false) {
                Some(format!(
                    "the MCP server is no longer registered: rerun `csep install {host} --mcp`"
                ))
            } else {
                None
            };
            (
                host,
                HookStatus {
                    installed,
                    trusted,
                    last_fired: last_fired.get(host.as_str()).cloned(),
                    mcp,
                    note,
                },
            )
        })
        .collect();
    let project_ids: Vec<&str> = projects.iter().map(|p| p.id.as_str()).collect();
    let start_index = Coverage::of(paths, &project_ids);

    StatusReport {
        version: crate::VERSION,
        home: paths.home.display().to_string(),
        home_exists: paths.home.is_dir(),
        database,
        config,
        provider_keys: ProviderKeysStatus {
            env_provider_path: env_path.display().to_string(),
            env_provider_exists: env_path.exists(),
            present,
            missing,
            warnings: key_warnings,
            reviewer,
        },
        hooks,
        projects,
        user_memory_entries,
        queue,
        recent_receipts,
        log_file: paths.log_file().display().to_string(),
        worker: WorkerStatus {
            running: worker_running,
            holder: worker_holder,
            last_run: extra.last_worker,
            last_failure: crate::worker::last_failure(paths),
            spooled_stop_events: crate::hooks::stop::spool_files(paths).len(),
            journal_notes: journal.len(),
        },
        spend_today: spend(extra.spend, &cfg.budget, extra.day),
        user_memory_chars: extra.user_chars,
        user_memory_budget_chars: u64::from(cfg.memory.user_budget_chars),
        skills: extra.skills,
        start_index,
        archive: extra.archive,
    }
}

/// What the additions read from the database.
#[derive(Debug, Default)]
struct Extra {
    day: String,
    spend: BTreeMap<String, u64>,
    project_chars: BTreeMap<String, u64>,
    user_chars: u64,
    skills: BTreeMap<String, u64>,
    last_worker: Option<ReceiptStatus>,
    archive: ArchiveStatus,
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn read_extra(store: &Store) -> Result<Extra, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let conn = store.conn();
    let grouped = |sql: &str, param: Option<&str>| -> Result<BTreeMap<String, u64>, StoreError> {
        let mut stmt = conn.prepare(sql).map_err(err)?;
        let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?));
        let rows = match param {
            Some(p) => stmt.query_map([p], map),
            None => stmt.query_map([], map),
        }
        .map_err(err)?;
        rows.map(|r| r.map(|(k, n)| (k, to_u64(n))))
            .collect::<Result<_, _>>()
            .map_err(err)
    };
    let day = crate::store::time::day_of(&crate::store::time::now()).unwrap_or_default();
    let spend = grouped(
        "SELECT purpose, coalesce(sum(input_tokens + output_tokens), 0) FROM budget_ledger \
         WHERE day = ?1 GROUP BY purpose",
        Some(&day),
    )?;
    let project_chars = grouped(
        "SELECT project_id, coalesce(sum(length(summary) + length(content)), 0) \
         FROM memory_entries WHERE scope = 'project' AND status = 'active' GROUP BY project_id",
        None,
    )?;
    let user_chars = conn
        .query_row(
            "SELECT coalesce(sum(length(summary) + length(content)), 0) FROM memory_entries \
             WHERE scope = 'user' AND status = 'active'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?;
    let skills = grouped("SELECT state, count(*) FROM skills GROUP BY state", None)?;
    let archive = conn
        .query_row(
            "SELECT coalesce(sum(message_count > 0), 0), coalesce(sum(message_count), 0), \
             coalesce(sum(message_count > 0 AND project_id IS NULL), 0), \
             coalesce(sum(message_count = 0), 0) FROM sessions",
            [],
            |r| {
                Ok(ArchiveStatus {
                    sessions: to_u64(r.get(0)?),
                    messages: to_u64(r.get(1)?),
                    sessions_without_project: to_u64(r.get(2)?),
                    empty_sessions: to_u64(r.get(3)?),
                })
            },
        )
        .map_err(err)?;
    let last_worker = conn
        .query_row(
            "SELECT kind, status, reason, project_id, finished_at, duration_ms FROM receipts \
             WHERE kind = 'worker' ORDER BY finished_at DESC, id DESC LIMIT 1",
            [],
            |r| {
                Ok(ReceiptStatus {
                    kind: r.get(0)?,
                    status: r.get(1)?,
                    reason: r.get(2)?,
                    project_id: r.get(3)?,
                    finished_at: r.get(4)?,
                    duration_ms: r.get(5)?,
                })
            },
        )
        .optional()
        .map_err(err)?;
    Ok(Extra {
        day,
        spend,
        project_chars,
        user_chars: to_u64(user_chars),
        skills,
        last_worker,
        archive,
    })
}

/// Today's spend against the caps; a purpose is capped when its own cap or the total cap is
/// reached.
fn spend(
    by_purpose: BTreeMap<String, u64>,
    budget: &crate::store::config::BudgetConfig,
    day: String,
) -> SpendStatus {
    let total: u64 = by_purpose.values().sum();
    let caps: BTreeMap<String, u64> = [
        ("daily", budget.daily_tokens),
        ("review", budget.review_daily_tokens),
        ("compile", budget.compile_daily_tokens),
        ("skills", budget.skills_daily_tokens),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let mut capped = Vec::new();
    for (name, cap) in &caps {
        let used = if name == "daily" {
            total
        } else {
            by_purpose.get(name).copied().unwrap_or(0)
        };
        if *cap > 0 && used >= *cap {
            capped.push(name.clone());
        }
    }
    SpendStatus {
        day,
        by_purpose,
        total_tokens: total,
        caps,
        capped,
    }
}

/// The latest hook run per host (`<event> <outcome> at <time>`), from `hook_runs` and the hook
/// journal's notes not yet drained into it.
fn last_hook_runs(
    store: Option<&Store>,
    journal: &[crate::hooks::journal::Entry],
) -> BTreeMap<String, String> {
    // host -> (at, line)
    let mut latest: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut offer = |host: String, event: &str, outcome: &str, at: String| {
        if latest.get(&host).is_none_or(|(seen, _)| *seen < at) {
            let line = format!("{event} {outcome} at {at}");
            latest.insert(host, (at, line));
        }
    };
    if let Some(store) = store
        && let Ok(mut stmt) = store
            .conn()
            .prepare("SELECT host, event, outcome, max(at) FROM hook_runs GROUP BY host")
        && let Ok(rows) = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })
    {
        for (host, event, outcome, at) in rows.flatten() {
            offer(host, &event, &outcome, at);
        }
    }
    for note in journal.iter().filter_map(|e| e.note.as_ref()) {
        let host = note.host.map_or("unknown", Host::as_str).to_owned();
        offer(host, note.event.as_str(), &note.outcome, note.at.clone());
    }
    latest
        .into_iter()
        .map(|(host, (_, line))| (host, line))
        .collect()
}

type Tables = (Vec<ProjectStatus>, QueueStatus, Vec<ReceiptStatus>, u64);

fn read_tables(store: &Store, receipts: usize) -> Result<Tables, StoreError> {
    let err = |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    };
    let conn = store.conn();
    let count = |sql: &str, id: &str| -> Result<u64, StoreError> {
        conn.query_row(sql, [id], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(err)
    };
    let mut projects = Vec::new();
    for p in project::list(store)? {
        projects.push(ProjectStatus {
            sessions: count(
                "SELECT count(*) FROM sessions WHERE project_id = ?1 AND message_count > 0",
                &p.id,
            )?,
            messages: count(
                "SELECT coalesce(sum(message_count), 0) FROM sessions WHERE project_id = ?1",
                &p.id,
            )?,
            memory_entries: count(
                "SELECT count(*) FROM memory_entries WHERE project_id = ?1 AND status = 'active'",
                &p.id,
            )?,
            pending_suggestions: count(
                "SELECT count(*) FROM suggestions WHERE project_id = ?1 AND state = 'pending'",
                &p.id,
            )?,
            memory_chars: 0,
            memory_budget_chars: 0,
            id: p.id,
            name: p.name,
            path: p.display_path,
            last_seen_at: p.last_seen_at,
        });
    }
    let user_memory_entries = conn
        .query_row(
            "SELECT count(*) FROM memory_entries WHERE scope = 'user' AND status = 'active'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(err)?;
    let grouped = |sql: &str| -> Result<BTreeMap<String, u64>, StoreError> {
        let mut stmt = conn.prepare(sql).map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(err)?;
        rows.map(|r| r.map(|(k, n)| (k, u64::try_from(n).unwrap_or(0))))
            .collect::<Result<_, _>>()
            .map_err(err)
    };
    let queue = QueueStatus {
        suggestions: grouped("SELECT state, count(*) FROM suggestions GROUP BY state")?,
        stop_events: grouped("SELECT status, count(*) FROM stop_events GROUP BY status")?,
    };
    let mut stmt = conn
        .prepare(
            "SELECT kind, status, reason, project_id, finished_at, duration_ms FROM receipts \
             ORDER BY finished_at DESC, id DESC LIMIT ?1",
        )
        .map_err(err)?;
    let limit = i64::try_from(receipts).unwrap_or(i64::MAX);
    let recent = stmt
        .query_map([limit], |r| {
            Ok(ReceiptStatus {
                kind: r.get(0)?,
                status: r.get(1)?,
                reason: r.get(2)?,
                project_id: r.get(3)?,
                finished_at: r.get(4)?,
                duration_ms: r.get(5)?,
            })
        })
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    Ok((
        projects,
        queue,
        recent,
        u64::try_from(user_memory_entries).unwrap_or(0),
    ))
}

/// The human rendering of the snapshot.
pub fn render(report: &StatusReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "csep {}", report.version);
    let home_note = if report.home_exists {
        ""
    } else {
        "  (not created yet)"
    };
    let _ = writeln!(s, "home      {}{home_note}", report.home);
    let db = &report.database;
    let version = db
        .schema_version
        .map(|v| format!("schema v{v}"))
        .unwrap_or_default();
    let _ = writeln!(s, "database  {}  [{}] {version}", db.path, db.state);
    if let Some(e) = &db.error {
        let _ = writeln!(s, "          {e}");
    }
    let c = &report.config;
    let cfg_state = match (&c.error, c.exists) {
        (Some(_), _) => "invalid",
        (None, true) => "ok",
        (None, false) => "defaults (no file)",
    };
    let _ = writeln!(s, "config    {}  [{cfg_state}]", c.path);
    if let Some(p) = &c.active_profile {
        let _ = writeln!(s, "profile   {p}");
    }
    if let Some(e) = &c.error {
        let _ = writeln!(s, "          {e}");
    }
    for w in &c.warnings {
        let _ = writeln!(s, "          warning: {w}");
    }
    let k = &report.provider_keys;
    let present = if k.present.is_empty() {
        "none".to_owned()
    } else {
        k.present.join(", ")
    };
    let _ = writeln!(
        s,
        "keys      {present}  (names only; offline reviewer needs none)"
    );
    for w in &k.warnings {
        let _ = writeln!(s, "          warning: {w}");
    }
    let r = &k.reviewer;
    let availability = match (&r.reason, r.available) {
        (Some(reason), _) => format!("unavailable: {reason}"),
        (None, _) => "available".to_owned(),
    };
    let _ = writeln!(
        s,
        "reviewer  {} ({}): {availability}",
        r.profile, r.provider
    );
    for (host, h) in &report.hooks {
        let state = match (h.installed, h.trusted) {
            (false, _) => "not installed",
            (true, Some(false)) => "installed, NOT trusted",
            (true, Some(true)) => "installed, trusted",
            (true, None) => "installed",
        };
        let fired = h
            .last_fired
            .as_deref()
            .map(|f| format!("; last: {f}"))
            .unwrap_or_default();
        let mcp = match h.mcp {
            Some(true) => "; MCP server registered",
            Some(false) => "; MCP server missing",
            None => "",
        };
        let note = h
            .note
            .as_deref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default();
        let _ = writeln!(s, "hooks     {host}: {state}{mcp}{fired}{note}");
    }
    let w = &report.worker;
    let worker = match (w.running, &w.last_run) {
        (true, _) => format!(
            "running ({})",
            w.holder.as_deref().unwrap_or("holder unknown")
        ),
        (false, Some(r)) => format!(
            "idle; last run {} {}{}",
            r.finished_at,
            r.status,
            r.reason
                .as_deref()
                .map(|x| format!(" — {x}"))
                .unwrap_or_default()
        ),
        (false, None) => "idle; never ran".to_owned(),
    };
    let worker = match &w.last_failure {
        Some(f) if !w.running => format!(
            "{worker}; the last run failed at {}: {} (the next Stop starts another, or run \
             `csep worker`)",
            f.at, f.error
        ),
        _ => worker,
    };
    let spooled = match w.spooled_stop_events {
        0 => String::new(),
        n => format!(
            "; {n} stop events spooled while the database was busy (`csep worker` files them)"
        ),
    };
    let journal = match w.journal_notes {
        0 => String::new(),
        n => format!("; {n} session-start notes in the hook journal (the next worker files them)"),
    };
    let _ = writeln!(s, "worker    {worker}{spooled}{journal}");
    let sp = &report.spend_today;
    let cap = |name: &str| match sp.caps.get(name).copied().unwrap_or(0) {
        0 => "unlimited".to_owned(),
        n => n.to_string(),
    };
    let parts: Vec<String> = ["review", "compile", "skills"]
        .iter()
        .map(|p| {
            format!(
                "{p} {}/{}",
                sp.by_purpose.get(*p).copied().unwrap_or(0),
                cap(p)
            )
        })
        .collect();
    let capped = if sp.capped.is_empty() {
        String::new()
    } else {
        format!("  CAPPED: {}", sp.capped.join(", "))
    };
    let _ = writeln!(
        s,
        "spend     {} tokens today ({}) of {}; {}{capped}",
        sp.total_tokens,
        sp.day,
        cap("daily"),
        parts.join(", ")
    );
    if report.database.state == "ok" {
        let _ = writeln!(s, "start     {}", report.start_index.summary());
    }
    let _ = writeln!(
        s,
        "memory    {} user entries, {}/{} chars",
        report.user_memory_entries, report.user_memory_chars, report.user_memory_budget_chars
    );
    let skills = if report.skills.is_empty() {
        "none".to_owned()
    } else {
        report
            .skills
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(s, "skills    {skills}");
    let a = &report.archive;
    let _ = write!(
        s,
        "archive   {} sessions, {} messages",
        a.sessions, a.messages
    );
    if a.sessions_without_project > 0 {
        let _ = write!(
            s,
            " ({} sessions without a project: recall them with --all-projects)",
            a.sessions_without_project
        );
    }
    if a.empty_sessions > 0 {
        let noun = if a.empty_sessions == 1 {
            "transcript"
        } else {
            "transcripts"
        };
        let _ = write!(
            s,
            "; {} {noun} with nothing to recall yet",
            a.empty_sessions
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s);
    if report.projects.is_empty() {
        let _ = writeln!(s, "projects  none yet");
    } else {
        let mut rows = vec![
            [
                "project", "sessions", "messages", "memory", "chars", "pending", "path",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for p in &report.projects {
            rows.push(vec![
                p.name.clone(),
                p.sessions.to_string(),
                p.messages.to_string(),
                p.memory_entries.to_string(),
                format!("{}/{}", p.memory_chars, p.memory_budget_chars),
                p.pending_suggestions.to_string(),
                p.path.clone(),
            ]);
        }
        s.push_str(&output::table(&rows));
    }
    let q = &report.queue;
    let fmt_map = |m: &BTreeMap<String, u64>| {
        if m.is_empty() {
            "empty".to_owned()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(
        s,
        "\nqueue     suggestions: {}; stop events: {}",
        fmt_map(&q.suggestions),
        fmt_map(&q.stop_events)
    );
    if report.recent_receipts.is_empty() {
        let _ = writeln!(s, "receipts  none yet");
    } else {
        let _ = writeln!(s, "receipts");
        for r in &report.recent_receipts {
            let reason = r
                .reason
                .as_deref()
                .map(|x| format!(" — {x}"))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  {}  {:<8} {:<14} {} ms{reason}",
                r.finished_at, r.kind, r.status, r.duration_ms
            );
        }
    }
    let _ = writeln!(s, "log       {}", report.log_file);
    s
}
