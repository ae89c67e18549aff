//! Hard budgets: each scope's active entries fit in a character budget; past it, the
//! lowest-value unpinned entries are archived (kept, searchable, not injected), never deleted.
//!
//! Value of an entry = confidence × (1 + ln(1 + uses)) ÷ (1 + days since last use or change
//! ÷ 30). Lowest value goes first; ties go to the least recently changed, then the lowest id,
//! so eviction is deterministic.

use serde::Serialize;

use crate::memory::Scope;
use crate::memory::entry::MemoryEntry;

/// Days over which an unused entry's value halves (roughly: value ∝ 1 / (1 + age / 30)).
pub const RECENCY_DAYS: f64 = 30.0;

/// The value of keeping `entry`, as of `now` (higher is kept longer).
pub fn value(entry: &MemoryEntry, now: &str) -> f64 {
    let last = entry
        .last_used_at
        .as_deref()
        .filter(|used| *used > entry.updated_at.as_str())
        .unwrap_or(&entry.updated_at);
    let age_days = match (
        crate::store::time::parse(now),
        crate::store::time::parse(last),
    ) {
        (Some(now), Some(last)) => {
            let secs = now.as_second() - last.as_second();
            (secs.max(0) as f64) / 86_400.0
        }
        _ => 0.0,
    };
    let confidence = if entry.confidence.is_finite() {
        entry.confidence.clamp(0.0, 1.0)
    } else {
        0.5
    };
    confidence * (1.0 + f64::from(entry.use_count).ln_1p()) / (1.0 + age_days / RECENCY_DAYS)
}

/// Picks which entries to archive so the rest fit in `budget_chars`: lowest value first,
/// pinned entries never. Returns the chosen entries with their value, in eviction order.
pub fn plan_evictions<'a>(
    entries: &'a [MemoryEntry],
    budget_chars: usize,
    now: &str,
) -> Vec<(&'a MemoryEntry, f64)> {
    let mut used: usize = entries.iter().map(MemoryEntry::budget_chars).sum();
    if used <= budget_chars {
        return Vec::new();
    }
    let mut candidates: Vec<(&MemoryEntry, f64)> = entries
        .iter()
        .filter(|e| !e.pinned)
        .map(|e| (e, value(e, now)))
        .collect();
    candidates.sort_by(|(a, va), (b, vb)| {
        va.total_cmp(vb)
            .then(a.updated_at.cmp(&b.updated_at))
            .then(a.id.cmp(&b.id))
    });
    let mut out = Vec::new();
    for (entry, v) in candidates {
        if used <= budget_chars {
            break;
        }
        used -= entry.budget_chars();
        out.push((entry, v));
    }
    out
}

/// One archived entry, for the receipt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eviction {
    /// The entry.
    pub entry_id: String,
    /// Its summary.
    pub summary: String,
    /// Characters it freed.
    pub chars: usize,
    /// Its value when evicted.
    pub value: f64,
}

/// What enforcing one scope's budget did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetReport {
    /// The scope.
    pub scope: Scope,
    /// The project, for project scope.
    pub project_id: Option<String>,
    /// The budget.
    pub budget_chars: usize,
    /// Characters of active entries before.
    pub used_before: usize,
    /// Characters of active entries after.
    pub used_after: usize,
    /// Entries archived.
    pub evictions: Vec<Eviction>,
    /// Pinned entries alone exceed the budget (they are never evicted).
    pub pinned_over_budget: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::Kind;
    use crate::memory::entry::Provenance;
    use crate::memory::store::new_entry;

    fn entry(id: &str, chars: usize, confidence: f64, uses: u32, updated: &str) -> MemoryEntry {
        let mut e = new_entry(
            id.into(),
            Scope::User,
            None,
            Kind::Fact,
            "x".repeat(chars),
            String::new(),
            Provenance::default(),
            confidence,
            updated,
        );
        e.use_count = uses;
        e
    }

    #[test]
    fn used_recent_confident_entries_are_worth_more() {
        let now = "2026-05-07T00:00:00.000Z";
        let fresh = entry("a", 10, 0.8, 0, now);
        let old = entry("b", 10, 0.8, 0, "2026-01-01T00:00:00.000Z");
        let used = entry("c", 10, 0.8, 5, "2026-01-01T00:00:00.000Z");
        let unsure = entry("d", 10, 0.2, 0, now);
        assert!(value(&fresh, now) > value(&old, now));
        assert!(value(&used, now) > value(&old, now));
        assert!(value(&fresh, now) > value(&unsure, now));
    }

    #[test]
    fn eviction_frees_just_enough_and_never_picks_pinned_entries() {
        let now = "2026-05-07T00:00:00.000Z";
        let mut pinned = entry("p", 50, 0.1, 0, "2020-01-01T00:00:00.000Z");
        pinned.pinned = true;
        let entries = vec![
            pinned,
            entry("low", 30, 0.1, 0, "2026-01-01T00:00:00.000Z"),
            entry("mid", 30, 0.5, 0, "2026-04-01T00:00:00.000Z"),
            entry("high", 30, 0.9, 3, now),
        ];
        let plan = plan_evictions(&entries, 120, now);
        let ids: Vec<_> = plan.iter().map(|(e, _)| e.id.as_str()).collect();
        assert_eq!(ids, ["low"]);
        let plan = plan_evictions(&entries, 10, now);
        let ids: Vec<_> = plan.iter().map(|(e, _)| e.id.as_str()).collect();
        assert_eq!(ids, ["low", "mid", "high"]);
        assert!(plan_evictions(&entries, 1000, now).is_empty());
    }
}
