//! The spend ledger (`budget_ledger` table) and the hard daily token caps of `[budget]`.
//!
//! Every model call writes one row: when, provider (`profile/kind`), model, purpose, input and
//! output tokens (from the provider's usage fields, or estimated at ~4 characters per token and
//! flagged `is_estimated`), duration and status (`ok` or `error:<code>`). Days are UTC
//! (`YYYY-MM-DD`).
//!
//! Caps are per UTC day: one over all purposes (`daily_tokens`) and one per purpose
//! (`review_daily_tokens`, `compile_daily_tokens`, `skills_daily_tokens`); 0 means unlimited.
//! [`check`] refuses a call when the tokens already spent today plus the call's estimated input
//! would cross a cap, so no call starts that is known to overspend. The caller then records a
//! `skipped_budget` receipt and calls nothing.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Purpose, Usage};
use crate::store::config::BudgetConfig;
use crate::store::db::{Store, StoreError};

/// What a call is charged to, and where the ledger lives.
#[derive(Debug, Clone)]
pub struct LedgerCtx<'a> {
    /// The store holding the ledger.
    pub store: &'a Store,
    /// The caps from `[budget]`.
    pub caps: &'a BudgetConfig,
    /// Why the call is made.
    pub purpose: Purpose,
    /// The project the call is for, when there is one.
    pub project_id: Option<&'a str>,
    /// The time to record (storage format); `None` reads the clock. Tests pin it.
    pub now: Option<String>,
}

impl<'a> LedgerCtx<'a> {
    /// A context for `purpose` that reads the clock.
    pub fn new(store: &'a Store, caps: &'a BudgetConfig, purpose: Purpose) -> Self {
        Self {
            store,
            caps,
            purpose,
            project_id: None,
            now: None,
        }
    }

    /// The UTC day calls are charged to.
    pub fn day(&self) -> String {
        let now = self.now.clone().unwrap_or_else(crate::store::time::now);
        crate::store::time::day_of(&now).unwrap_or_else(|| now.chars().take(10).collect())
    }
}

/// A cap that a call would cross. Nothing was called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error(
    "daily token cap for {scope} reached on {day}: {used} spent + {planned} planned > {cap}; \
     raise [budget].{key} in config.toml (0 = unlimited) or wait for the next UTC day"
)]
pub struct BudgetExceeded {
    /// The UTC day.
    pub day: String,
    /// `all purposes` or the purpose name.
    pub scope: String,
    /// The config key of the cap.
    pub key: &'static str,
    /// Tokens already spent today in that scope.
    pub used: u64,
    /// Estimated tokens of the refused call.
    pub planned: u64,
    /// The cap.
    pub cap: u64,
}

/// Errors from [`check`].
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// A cap would be crossed.
    #[error(transparent)]
    Exceeded(#[from] BudgetExceeded),
    /// The ledger could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The cap of one purpose and its config key; `Other` has none of its own.
pub fn purpose_cap(caps: &BudgetConfig, purpose: Purpose) -> Option<(u64, &'static str)> {
    match purpose {
        Purpose::Review => Some((caps.review_daily_tokens, "review_daily_tokens")),
        Purpose::Compile => Some((caps.compile_daily_tokens, "compile_daily_tokens")),
        Purpose::Skills => Some((caps.skills_daily_tokens, "skills_daily_tokens")),
        Purpose::Other => None,
    }
}

fn sql_err(store: &Store) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: store.path().to_path_buf(),
        source,
    }
}

/// Tokens (input + output) spent on `day`, for one purpose or all.
pub fn spent(store: &Store, day: &str, purpose: Option<Purpose>) -> Result<u64, StoreError> {
    let total: Option<i64> = match purpose {
        Some(p) => store
            .conn()
            .query_row(
                "SELECT SUM(input_tokens + output_tokens) FROM budget_ledger \
                 WHERE day = ?1 AND purpose = ?2",
                params![day, p.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(store))?
            .flatten(),
        None => store
            .conn()
            .query_row(
                "SELECT SUM(input_tokens + output_tokens) FROM budget_ledger WHERE day = ?1",
                params![day],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err(store))?
            .flatten(),
    };
    Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0))
}

/// Refuses a call of `planned` tokens for `purpose` on `day` when it would cross a cap.
///
/// The overall cap is checked first, then the purpose's; a cap of 0 is unlimited.
pub fn check(
    store: &Store,
    caps: &BudgetConfig,
    purpose: Purpose,
    day: &str,
    planned: u64,
) -> Result<(), BudgetError> {
    let mut limits = vec![(caps.daily_tokens, "daily_tokens", None)];
    if let Some((cap, key)) = purpose_cap(caps, purpose) {
        limits.push((cap, key, Some(purpose)));
    }
    for (cap, key, scope) in limits {
        if cap == 0 {
            continue;
        }
        let used = spent(store, day, scope)?;
        if used.saturating_add(planned) > cap {
            return Err(BudgetExceeded {
                day: day.to_owned(),
                scope: scope.map_or_else(|| "all purposes".to_owned(), |p| p.as_str().to_owned()),
                key,
                used,
                planned,
                cap,
            }
            .into());
        }
    }
    Ok(())
}

/// One ledger row.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerRecord {
    /// When the call finished (storage format).
    pub at: String,
    /// `profile/kind`.
    pub provider: String,
    /// The model, when known.
    pub model: Option<String>,
    /// Why the call was made.
    pub purpose: Purpose,
    /// Tokens spent.
    pub usage: Usage,
    /// Wall time of the call, retries included.
    pub duration_ms: u64,
    /// `ok` or `error:<code>`.
    pub status: String,
    /// The project, when there is one.
    pub project_id: Option<String>,
}

/// Appends a row to the ledger; returns its id.
pub fn record(store: &Store, row: &LedgerRecord) -> Result<i64, StoreError> {
    let day =
        crate::store::time::day_of(&row.at).unwrap_or_else(|| row.at.chars().take(10).collect());
    store
        .conn()
        .prepare_cached(
            "INSERT INTO budget_ledger (at, day, provider, model, purpose, input_tokens, \
             output_tokens, is_estimated, duration_ms, status, project_id) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                row.at,
                day,
                row.provider,
                row.model,
                row.purpose.as_str(),
                i64::try_from(row.usage.input_tokens).unwrap_or(i64::MAX),
                i64::try_from(row.usage.output_tokens).unwrap_or(i64::MAX),
                row.usage.is_estimated,
                i64::try_from(row.duration_ms).unwrap_or(i64::MAX),
                row.status,
                row.project_id,
            ])
        })
        .map_err(sql_err(store))?;
    Ok(store.conn().last_insert_rowid())
}

/// Spend of one purpose on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// UTC day.
    pub day: String,
    /// Purpose name.
    pub purpose: String,
    /// Calls recorded.
    pub calls: u64,
    /// Calls that failed.
    pub failed_calls: u64,
    /// Calls whose tokens were estimated.
    pub estimated_calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
}

/// Spend per day and purpose from `first_day` on, oldest first.
pub fn summary(store: &Store, first_day: &str) -> Result<Vec<UsageRow>, StoreError> {
    let mut stmt = store
        .conn()
        .prepare_cached(
            "SELECT day, purpose, COUNT(*), SUM(status <> 'ok'), SUM(is_estimated), \
             SUM(input_tokens), SUM(output_tokens) FROM budget_ledger WHERE day >= ?1 \
             GROUP BY day, purpose ORDER BY day, purpose",
        )
        .map_err(sql_err(store))?;
    let as_u64 = |v: i64| u64::try_from(v).unwrap_or(0);
    let rows = stmt
        .query_map(params![first_day], |r| {
            Ok(UsageRow {
                day: r.get(0)?,
                purpose: r.get(1)?,
                calls: as_u64(r.get(2)?),
                failed_calls: as_u64(r.get(3)?),
                estimated_calls: as_u64(r.get(4)?),
                input_tokens: as_u64(r.get(5)?),
                output_tokens: as_u64(r.get(6)?),
            })
        })
        .map_err(sql_err(store))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sql_err(store))?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at: &str, purpose: Purpose, input: u64, output: u64) -> LedgerRecord {
        LedgerRecord {
            at: at.to_owned(),
            provider: "p/openai-compatible".to_owned(),
            model: Some("m".to_owned()),
            purpose,
            usage: Usage {
                input_tokens: input,
                output_tokens: output,
                is_estimated: false,
            },
            duration_ms: 5,
            status: "ok".to_owned(),
            project_id: None,
        }
    }

    #[test]
    fn check_refuses_a_call_that_would_cross_the_purpose_cap() {
        let store = Store::open_in_memory().unwrap();
        let caps = BudgetConfig {
            daily_tokens: 0,
            review_daily_tokens: 1000,
            compile_daily_tokens: 0,
            skills_daily_tokens: 0,
        };
        record(
            &store,
            &row("2026-01-02T10:00:00.000Z", Purpose::Review, 700, 200),
        )
        .unwrap();
        check(&store, &caps, Purpose::Review, "2026-01-02", 100).unwrap();
        let err = check(&store, &caps, Purpose::Review, "2026-01-02", 101).unwrap_err();
        let BudgetError::Exceeded(e) = err else {
            panic!("expected a cap error")
        };
        assert_eq!((e.used, e.cap, e.key), (900, 1000, "review_daily_tokens"));
        assert!(e.to_string().contains("raise [budget].review_daily_tokens"));
        // Another day and an uncapped purpose are unaffected.
        check(&store, &caps, Purpose::Review, "2026-01-03", 999).unwrap();
        check(&store, &caps, Purpose::Compile, "2026-01-02", 1_000_000).unwrap();
    }

    #[test]
    fn the_overall_cap_counts_every_purpose() {
        let store = Store::open_in_memory().unwrap();
        let caps = BudgetConfig {
            daily_tokens: 500,
            review_daily_tokens: 0,
            compile_daily_tokens: 0,
            skills_daily_tokens: 0,
        };
        record(
            &store,
            &row("2026-01-02T10:00:00.000Z", Purpose::Compile, 300, 0),
        )
        .unwrap();
        record(
            &store,
            &row("2026-01-02T11:00:00.000Z", Purpose::Skills, 150, 0),
        )
        .unwrap();
        let Err(BudgetError::Exceeded(e)) = check(&store, &caps, Purpose::Other, "2026-01-02", 51)
        else {
            panic!("expected a cap error")
        };
        assert_eq!((e.scope.as_str(), e.used), ("all purposes", 450));
    }

    #[test]
    fn summary_groups_by_day_and_purpose() {
        let store = Store::open_in_memory().unwrap();
        record(
            &store,
            &row("2026-01-01T23:59:59.000Z", Purpose::Review, 10, 1),
        )
        .unwrap();
        record(
            &store,
            &row("2026-01-02T00:00:01.000Z", Purpose::Review, 20, 2),
        )
        .unwrap();
        let mut failed = row("2026-01-02T00:00:02.000Z", Purpose::Review, 0, 0);
        failed.status = "error:http_500".to_owned();
        failed.usage.is_estimated = true;
        record(&store, &failed).unwrap();
        let rows = summary(&store, "2026-01-02").unwrap();
        assert_eq!(
            rows,
            vec![UsageRow {
                day: "2026-01-02".into(),
                purpose: "review".into(),
                calls: 2,
                failed_calls: 1,
                estimated_calls: 1,
                input_tokens: 20,
                output_tokens: 2,
            }]
        );
    }
}
