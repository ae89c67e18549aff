//! Timestamps as csep stores them: RFC 3339 in UTC with millisecond precision
//! (`2026-11-25T22:49:35.123Z`), which sort lexicographically in SQLite; days are `YYYY-MM-DD`
//! in UTC (the budget ledger's unit).
//!
//! Functions that record time take the timestamp as a parameter so tests can pin it; only
//! [`now`] reads the clock.

use jiff::{Timestamp, Unit, tz::TimeZone};

/// The current time, formatted for storage.
pub fn now() -> String {
    format_ts(Timestamp::now())
}

/// Formats `ts` for storage (UTC, milliseconds, `Z`).
pub fn format_ts(ts: Timestamp) -> String {
    let rounded = ts.round(Unit::Millisecond).unwrap_or(ts);
    format!("{rounded:.3}")
}

/// The UTC day (`YYYY-MM-DD`) of a stored timestamp string; `None` when it does not parse.
pub fn day_of(stored: &str) -> Option<String> {
    let ts: Timestamp = stored.parse().ok()?;
    Some(ts.to_zoned(TimeZone::UTC).date().to_string())
}

/// Parses a stored timestamp.
pub fn parse(stored: &str) -> Option<Timestamp> {
    stored.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_timestamps_are_utc_millis_and_sort_as_text() {
        let a: Timestamp = "2026-11-25T22:49:35.1234Z".parse().unwrap();
        assert_eq!(format_ts(a), "2026-11-25T22:49:35.123Z");
        let b: Timestamp = "2026-11-25T22:49:36Z".parse().unwrap();
        assert_eq!(format_ts(b), "2026-11-25T22:49:36.000Z");
        assert!(format_ts(a) < format_ts(b));
        assert_eq!(
            day_of("2026-11-25T23:59:59.999Z").as_deref(),
            Some("2026-11-25")
        );
        assert!(now().ends_with('Z'));
    }
}
