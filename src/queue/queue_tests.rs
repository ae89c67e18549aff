//! The queue's state machine: idempotent enqueue, claims with leases, expiry, attempts,
//! project isolation and concurrent claims from two connections.

use super::*;
use crate::memory::{Kind, Scope};
use crate::review::ops::{Operation, ReviewOutput};
use crate::store::db::Store;
use crate::store::identity::{IdentityKind, RepoIdentity};
use crate::store::project;

const T0: &str = "2026-05-07T10:00:00.000Z";

fn project(store: &Store, path: &str) -> String {
    let identity = RepoIdentity {
        canonical_path: path.into(),
        kind: IdentityKind::NotGit,
        work_dir: path.into(),
        warning: None,
    };
    project::upsert(store, &identity, T0).unwrap().id
}

fn review(summary: &str) -> ReviewOutput {
    ReviewOutput {
        operations: vec![Operation::Add {
            scope: Scope::Project,
            kind: Kind::Rule,
            summary: summary.into(),
            content: String::new(),
            evidence: vec![],
            confidence: Some(0.9),
        }],
    }
}

fn envelope(project_id: &str, session: &str, summary: &str, now: &str) -> NewEnvelope {
    NewEnvelope {
        project_id: Some(project_id.into()),
        host: Some("codex".into()),
        session_id: Some(session.into()),
        turn_id: Some("t1".into()),
        provider: "offline".into(),
        payload: review(summary),
        now: now.into(),
    }
}

fn at(minutes: i64) -> String {
    let t0: jiff::Timestamp = T0.parse().unwrap();
    crate::store::time::format_ts(t0 + jiff::SignedDuration::from_mins(minutes))
}

#[test]
fn the_same_review_enqueues_once_and_a_different_one_gets_its_own_row() {
    let store = Store::open_in_memory().unwrap();
    let p = project(&store, "/r");
    let first = enqueue(&store, &envelope(&p, "s1", "Use cargo nextest", T0)).unwrap();
    let again = enqueue(&store, &envelope(&p, "s1", "Use cargo nextest", &at(5))).unwrap();
    assert!(matches!(first, EnqueueOutcome::Inserted(_)));
    assert_eq!(again, EnqueueOutcome::Duplicate(first.id()));
    let other_session = enqueue(&store, &envelope(&p, "s2", "Use cargo nextest", T0)).unwrap();
    let other_payload = enqueue(&store, &envelope(&p, "s1", "Prefer small commits", T0)).unwrap();
    assert!(matches!(other_session, EnqueueOutcome::Inserted(_)));
    assert!(matches!(other_payload, EnqueueOutcome::Inserted(_)));
    let env = get(store.conn(), first.id()).unwrap().unwrap();
    assert_eq!(env.state, State::Pending);
    assert_eq!(env.review_output().unwrap(), review("Use cargo nextest"));
    let log = transitions(store.conn(), first.id()).unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].from.as_deref(), log[0].to.as_str()),
        (None, "pending")
    );
}

#[test]
fn secrets_in_a_payload_are_redacted_before_they_are_stored() {
    let store = Store::open_in_memory().unwrap();
    let p = project(&store, "/r");
    let key = "sk-proj-AbC123dEf456GhI789jKl012MnO345pQr678";
    let id = enqueue(
        &store,
        &envelope(&p, "s1", &format!("the key is {key}"), T0),
    )
    .unwrap()
    .id();
    let env = get(store.conn(), id).unwrap().unwrap();
    assert!(!env.payload.contains(key), "{}", env.payload);
    assert!(env.payload.contains("[REDACTED"));
}

#[test]
fn a_claim_leases_envelopes_and_completion_moves_them_to_done() {
    let mut store = Store::open_in_memory().unwrap();
    let p = project(&store, "/r");
    let a = enqueue(&store, &envelope(&p, "s1", "a", T0)).unwrap().id();
    let b = enqueue(&store, &envelope(&p, "s2", "b", &at(1)))
        .unwrap()
        .id();
    let claimed = claim(&mut store, &p, 1, "w1", &at(2), 60).unwrap();
    assert_eq!(
        claimed.iter().map(|e| e.id).collect::<Vec<_>>(),
        [a],
        "oldest first"
    );
    assert_eq!(claimed[0].state, State::Processing);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].lease_owner.as_deref(), Some("w1"));
    assert_eq!(claimed[0].lease_expires_at.as_deref(), Some(at(3).as_str()));
    assert!(!complete(store.conn(), a, "someone-else", &at(2)).unwrap());
    assert!(complete(store.conn(), a, "w1", &at(2)).unwrap());
    let c = counts(store.conn(), &p, &at(2)).unwrap();
    assert_eq!((c.pending, c.processing, c.done), (1, 0, 1));
    assert!(c.has_work());
    let rest = claim(&mut store, &p, 10, "w1", &at(3), 60).unwrap();
    assert_eq!(rest.iter().map(|e| e.id).collect::<Vec<_>>(), [b]);
    assert!(
        claim(&mut store, &p, 10, "w2", &at(3), 60)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_expired_lease_is_reclaimed_and_the_old_owner_cannot_finish_it() {
    let mut store = Store::open_in_memory().unwrap();
    let p = project(&store, "/r");
    let a = enqueue(&store, &envelope(&p, "s1", "a", T0)).unwrap().id();
    claim(&mut store, &p, 5, "crashed", T0, 60).unwrap();
    // Before expiry nobody else gets it.
    assert!(
        claim(&mut store, &p, 5, "w2", &at(0), 60)
            .unwrap()
            .is_empty()
    );
    let c = counts(store.conn(), &p, &at(2)).unwrap();
    assert_eq!((c.processing, c.expired_processing), (0, 1));
    assert!(c.has_work());
    let again = claim(&mut store, &p, 5, "w2", &at(2), 60).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].lease_owner.as_deref(), Some("w2"));
    assert!(!complete(store.conn(), a, "crashed", &at(2)).unwrap());
    assert!(complete(store.conn(), a, "w2", &at(2)).unwrap());
    let reasons: Vec<_> = transitions(store.conn(), a)
        .unwrap()
        .into_iter()
        .map(|t| {
            format!(
                "{}>{}:{}",
                t.from.unwrap_or_default(),
                t.to,
                t.reason.unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ">pending:offline",
            "pending>processing:claimed",
            "processing>pending:lease_expired",
            "pending>processing:claimed",
            "processing>done:compiled",
        ]
    );
}

#[test]
fn failures_are_retried_until_three_attempts_then_stay_failed() {
    let mut store = Store::open_in_memory().unwrap();
    let p = project(&store, "/r");
    let a = enqueue(&store, &envelope(&p, "s1", "a", T0)).unwrap().id();
    for attempt in 1..=MAX_ATTEMPTS {
        let claimed = claim(&mut store, &p, 5, "w", &at(i64::from(attempt)), 60).unwrap();
        assert_eq!(claimed.len(), 1, "attempt {attempt}");
        assert_eq!(claimed[0].attempts, attempt);
        assert!(
            fail(
                store.conn(),
                a,
                "w",
                "backend error",
                &at(i64::from(attempt))
            )
            .unwrap()
        );
    }
    assert!(
        claim(&mut store, &p, 5, "w", &at(10), 60)
            .unwrap()
            .is_empty()
    );
    let c = counts(store.conn(), &p, &at(10)).unwrap();
    assert_eq!((c.failed, c.retryable_failed), (1, 0));
    assert!(!c.has_work());
    let env = get(store.conn(), a).unwrap().unwrap();
    assert_eq!(env.last_error.as_deref(), Some("backend error"));
}

#[test]
fn a_crash_on_the_last_attempt_ends_in_failed_not_pending() {
    let mut store = Store::open_in_memory().unwrap();
    let p = project(&store, "/r");
    let a = enqueue(&store, &envelope(&p, "s1", "a", T0)).unwrap().id();
    for attempt in 0..3 {
        let claimed = claim(&mut store, &p, 5, "crash", &at(attempt * 10), 60).unwrap();
        assert_eq!(claimed.len(), 1);
    }
    assert_eq!(reclaim_expired(store.conn(), None, &at(100)).unwrap(), 1);
    let env = get(store.conn(), a).unwrap().unwrap();
    assert_eq!(env.state, State::Failed);
    assert!(env.last_error.unwrap().contains("3 attempts"));
}

#[test]
fn claims_and_counts_are_isolated_per_project() {
    let mut store = Store::open_in_memory().unwrap();
    let p1 = project(&store, "/one");
    let p2 = project(&store, "/two");
    enqueue(&store, &envelope(&p1, "s1", "a", T0)).unwrap();
    enqueue(&store, &envelope(&p2, "s2", "b", T0)).unwrap();
    let claimed = claim(&mut store, &p1, 10, "w", T0, 60).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].project_id.as_deref(), Some(p1.as_str()));
    assert_eq!(counts(store.conn(), &p2, T0).unwrap().pending, 1);
    assert_eq!(projects_with_work(store.conn(), T0).unwrap(), vec![p2]);
}

#[test]
fn pending_envelopes_can_be_discarded_and_are_never_claimed() {
    let mut store = Store::open_in_memory().unwrap();
    let p = project(&store, "/r");
    let a = enqueue(&store, &envelope(&p, "s1", "a", T0)).unwrap().id();
    assert!(discard(store.conn(), a, None, "corrupt payload", T0).unwrap());
    assert!(claim(&mut store, &p, 5, "w", T0, 60).unwrap().is_empty());
    assert_eq!(counts(store.conn(), &p, T0).unwrap().discarded, 1);
}

#[test]
fn two_connections_claiming_at_once_never_get_the_same_envelope() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("csep.db");
    let store = Store::open(&path).unwrap();
    let p = project(&store, "/r");
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            enqueue(&store, &envelope(&p, &format!("s{i}"), "a", T0))
                .unwrap()
                .id(),
        );
    }
    drop(store);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = ["w1", "w2"]
        .into_iter()
        .map(|owner| {
            let path = path.clone();
            let p = p.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut store = Store::open(&path).unwrap();
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let batch = claim(&mut store, &p, 3, owner, T0, 600).unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    for e in batch {
                        assert!(complete(store.conn(), e.id, owner, T0).unwrap());
                        mine.push(e.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, ids, "every envelope claimed exactly once");
}
