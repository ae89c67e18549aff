//! Test-only crash points for the worker: `CSEP_FAILPOINT=<stage>:<point>` makes the worker
//! abort (as `kill -9` would: no destructor, no flush, no rollback) when it reaches that point.
//!
//! The variable is read once, by the worker's entry point (`cli/worker_cmd.rs`), and the parsed
//! [`Failpoint`] is passed down as a value: library code never reads the environment. Points are
//! `before` and `after` each stage (`ingest`, `review`, `compile`, `skill_usage`), plus
//! `review:after_enqueue` (inside the review stage's transaction, after the operations were
//! queued and before the session's review cursor moved). A spec that names no known point is an
//! error, so a typo in a test cannot silently test nothing.

use std::fmt;

/// Environment variable holding the failpoint spec (read by `csep worker` only).
pub const FAILPOINT_ENV: &str = "CSEP_FAILPOINT";

/// Every `<stage>:<point>` a spec may name.
pub const POINTS: [&str; 9] = [
    "ingest:before",
    "ingest:after",
    "review:before",
    "review:after_enqueue",
    "review:after",
    "compile:before",
    "compile:after",
    "skill_usage:before",
    "skill_usage:after",
];

/// A parsed failpoint: the worker aborts when it reaches `stage:point`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failpoint {
    spec: String,
}

/// A spec that names no known point.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown failpoint `{spec}` in {FAILPOINT_ENV}; use one of: {}",
    POINTS.join(", ")
)]
pub struct FailpointError {
    /// The rejected spec.
    pub spec: String,
}

impl Failpoint {
    /// Parses `<stage>:<point>`; only the names in [`POINTS`] are accepted.
    pub fn parse(spec: &str) -> Result<Failpoint, FailpointError> {
        let spec = spec.trim();
        if POINTS.contains(&spec) {
            Ok(Failpoint {
                spec: spec.to_owned(),
            })
        } else {
            Err(FailpointError {
                spec: spec.to_owned(),
            })
        }
    }

    /// Whether this failpoint is `stage:point`.
    pub fn is(&self, stage: &str, point: &str) -> bool {
        self.spec
            .split_once(':')
            .is_some_and(|(s, p)| s == stage && p == point)
    }
}

impl fmt::Display for Failpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spec)
    }
}

/// Aborts the process when `failpoint` is `stage:point`; does nothing otherwise (and always
/// nothing in production, where there is no failpoint).
pub fn hit(failpoint: Option<&Failpoint>, stage: &str, point: &str) {
    if failpoint.is_some_and(|f| f.is(stage, point)) {
        tracing::warn!(stage, point, "failpoint reached: aborting the worker");
        std::process::abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_point_parses_and_matches_only_itself() {
        for spec in POINTS {
            let fp = Failpoint::parse(spec).unwrap();
            let (stage, point) = spec.split_once(':').unwrap();
            assert!(fp.is(stage, point));
            assert!(!fp.is(stage, "elsewhere"));
            // A non-matching point never aborts.
            hit(Some(&fp), "nowhere", point);
        }
    }

    #[test]
    fn an_unknown_spec_is_rejected_with_the_list_of_points() {
        let err = Failpoint::parse("ingest:middle").unwrap_err();
        assert!(err.to_string().contains("ingest:before"), "{err}");
    }
}
