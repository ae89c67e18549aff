//! `csep usage [--days N]`: LLM token spend per UTC day and purpose, against the `[budget]` caps.
//!
//! Read-only: the database is opened read-only and a missing database means no spend yet.

use anyhow::Context as _;
use serde::Serialize;

use crate::cli::args::UsageArgs;
use crate::cli::{Ctx, output};
use crate::llm::Purpose;
use crate::llm::budget::{self, UsageRow, purpose_cap};
use crate::store::config::BudgetConfig;
use crate::store::db::{OpenOptions, Store, StoreError};

/// Spend of one purpose today against its cap.
#[derive(Debug, Serialize)]
pub struct PurposeToday {
    /// Purpose name.
    pub purpose: &'static str,
    /// Tokens spent today.
    pub spent: u64,
    /// The cap (0 = unlimited; `None` when the purpose has no own cap).
    pub cap: Option<u64>,
}

/// What `csep usage --json` prints.
#[derive(Debug, Serialize)]
pub struct UsageReport {
    /// First day shown (UTC).
    pub from: String,
    /// Last day shown: today (UTC).
    pub to: String,
    /// One row per day and purpose with calls, oldest first.
    pub rows: Vec<UsageRow>,
    /// Sum over the rows.
    pub totals: Totals,
    /// Today's spend against the caps.
    pub today: Today,
    /// The `[budget]` caps (0 = unlimited).
    pub caps: BudgetConfig,
}

/// Sum over the rows.
#[derive(Debug, Default, Serialize)]
pub struct Totals {
    /// Calls.
    pub calls: u64,
    /// Failed calls.
    pub failed_calls: u64,
    /// Input tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
}

/// Today's spend.
#[derive(Debug, Serialize)]
pub struct Today {
    /// Tokens spent today over all purposes.
    pub spent: u64,
    /// The overall cap (0 = unlimited).
    pub cap: u64,
    /// Per purpose.
    pub purposes: Vec<PurposeToday>,
}

/// Runs `csep usage`.
pub fn run(ctx: &Ctx, args: &UsageArgs) -> anyhow::Result<u8> {
    let loaded = ctx
        .load_config()
        .context("cannot read config.toml for the budget caps")?;
    let caps = loaded.config.budget;
    let now = crate::store::time::now();
    let today = crate::store::time::day_of(&now).unwrap_or_default();
    let days = args.days.max(1);
    let from = first_day(&today, days).unwrap_or_else(|| today.clone());
    let rows = match Store::open_with(
        &ctx.paths.db(),
        OpenOptions {
            read_only: true,
            ..Default::default()
        },
    ) {
        Ok(store) => budget::summary(&store, &from).context("cannot read the budget ledger")?,
        Err(StoreError::Missing { .. }) => Vec::new(),
        Err(e) => return Err(e).context("cannot open the database"),
    };
    let report = build(rows, &from, &today, caps);
    if ctx.json {
        output::print_json(&report)?;
    } else {
        print!("{}", render(&report, days));
    }
    Ok(0)
}

fn first_day(today: &str, days: u32) -> Option<String> {
    let date: jiff::civil::Date = today.parse().ok()?;
    let back = jiff::Span::new().days(i64::from(days) - 1);
    Some(date.checked_sub(back).ok()?.to_string())
}

/// Builds the report from ledger rows.
pub fn build(rows: Vec<UsageRow>, from: &str, today: &str, caps: BudgetConfig) -> UsageReport {
    let mut totals = Totals::default();
    for r in &rows {
        totals.calls += r.calls;
        totals.failed_calls += r.failed_calls;
        totals.input_tokens += r.input_tokens;
        totals.output_tokens += r.output_tokens;
    }
    let spent_on = |purpose: Option<&str>| -> u64 {
        rows.iter()
            .filter(|r| r.day == today && purpose.is_none_or(|p| r.purpose == p))
            .map(|r| r.input_tokens + r.output_tokens)
            .sum()
    };
    let purposes = Purpose::ALL
        .iter()
        .map(|p| PurposeToday {
            purpose: p.as_str(),
            spent: spent_on(Some(p.as_str())),
            cap: purpose_cap(&caps, *p).map(|(cap, _)| cap),
        })
        .collect();
    UsageReport {
        from: from.to_owned(),
        to: today.to_owned(),
        today: Today {
            spent: spent_on(None),
            cap: caps.daily_tokens,
            purposes,
        },
        rows,
        totals,
        caps,
    }
}

fn cap_text(cap: u64) -> String {
    if cap == 0 {
        "unlimited".to_owned()
    } else {
        cap.to_string()
    }
}

/// Human rendering: a table per day and purpose, then today against the caps.
pub fn render(report: &UsageReport, days: u32) -> String {
    let mut out = String::new();
    if report.rows.is_empty() {
        out.push_str(&format!(
            "no LLM calls recorded in the last {days} day(s) ({} to {}); the offline reviewer spends nothing\n",
            report.from, report.to
        ));
    } else {
        let mut table = vec![vec![
            "day".to_owned(),
            "purpose".to_owned(),
            "calls".to_owned(),
            "failed".to_owned(),
            "input".to_owned(),
            "output".to_owned(),
            "estimated".to_owned(),
        ]];
        for r in &report.rows {
            table.push(vec![
                r.day.clone(),
                r.purpose.clone(),
                r.calls.to_string(),
                r.failed_calls.to_string(),
                r.input_tokens.to_string(),
                r.output_tokens.to_string(),
                r.estimated_calls.to_string(),
            ]);
        }
        table.push(vec![
            "total".to_owned(),
            String::new(),
            report.totals.calls.to_string(),
            report.totals.failed_calls.to_string(),
            report.totals.input_tokens.to_string(),
            report.totals.output_tokens.to_string(),
            String::new(),
        ]);
        out.push_str(&output::table(&table));
    }
    out.push_str(&format!(
        "today {}: {} of {} tokens",
        report.to,
        report.today.spent,
        cap_text(report.today.cap)
    ));
    for p in &report.today.purposes {
        if let Some(cap) = p.cap {
            out.push_str(&format!("; {} {}/{}", p.purpose, p.spent, cap_text(cap)));
        }
    }
    out.push_str("\ncaps are per UTC day, set in [budget] of config.toml (0 = unlimited)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_day_counts_back_inclusively() {
        assert_eq!(first_day("2026-03-01", 1).as_deref(), Some("2026-03-01"));
        assert_eq!(first_day("2026-03-01", 7).as_deref(), Some("2026-02-23"));
    }

    #[test]
    fn render_shows_rows_totals_and_today_against_caps() {
        let rows = vec![UsageRow {
            day: "2026-03-01".into(),
            purpose: "review".into(),
            calls: 2,
            failed_calls: 1,
            estimated_calls: 0,
            input_tokens: 1000,
            output_tokens: 200,
        }];
        let report = build(rows, "2026-02-23", "2026-03-01", BudgetConfig::default());
        let text = render(&report, 7);
        assert!(
            text.contains("2026-03-01  review   2      1       1000   200"),
            "{text}"
        );
        assert!(
            text.contains("today 2026-03-01: 1200 of 200000 tokens; review 1200/150000"),
            "{text}"
        );
        let empty = build(
            Vec::new(),
            "2026-02-23",
            "2026-03-01",
            BudgetConfig::default(),
        );
        assert!(render(&empty, 7).starts_with("no LLM calls recorded in the last 7 day(s)"));
    }
}
