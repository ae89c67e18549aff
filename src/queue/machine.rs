//! The queue's SQL: enqueue, claim with leases, finish, reclaim, counts.
//!
//! Every state change goes through [`transition`], which updates the row and appends the
//! `suggestion_transitions` record in the caller's transaction.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{MAX_ATTEMPTS, QueueError, State};
use crate::review::ops::ReviewOutput;
use crate::store::db::Store;
use crate::store::time;

fn sql(context: &'static str) -> impl Fn(rusqlite::Error) -> QueueError {
    move |source| QueueError::Sql { context, source }
}

/// Parses and re-formats a timestamp so stored times compare as text.
fn canonical_time(value: &str) -> Result<jiff::Timestamp, QueueError> {
    time::parse(value).ok_or_else(|| QueueError::InvalidTime {
        value: value.to_owned(),
    })
}

/// A review to queue.
#[derive(Debug, Clone)]
pub struct NewEnvelope {
    /// The project it belongs to.
    pub project_id: Option<String>,
    /// `codex` or `claude` (or `reference` for imports).
    pub host: Option<String>,
    /// The host session reviewed.
    pub session_id: Option<String>,
    /// The turn reviewed.
    pub turn_id: Option<String>,
    /// Which reviewer produced it (provider or `offline`).
    pub provider: String,
    /// The reviewer's output.
    pub payload: ReviewOutput,
    /// Enqueue time (RFC 3339).
    pub now: String,
}

/// What [`enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "id", rename_all = "snake_case")]
pub enum EnqueueOutcome {
    /// A new envelope with this id.
    Inserted(i64),
    /// The same review was already queued under this id.
    Duplicate(i64),
}

impl EnqueueOutcome {
    /// The envelope id either way.
    pub fn id(self) -> i64 {
        match self {
            EnqueueOutcome::Inserted(id) | EnqueueOutcome::Duplicate(id) => id,
        }
    }
}

/// A queued envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    /// Row id.
    pub id: i64,
    /// The project.
    pub project_id: Option<String>,
    /// Host.
    pub host: Option<String>,
    /// Host session.
    pub session_id: Option<String>,
    /// Turn.
    pub turn_id: Option<String>,
    /// Reviewer.
    pub provider: String,
    /// Hash of session, turn and canonical payload.
    pub idempotency_key: String,
    /// The payload as stored (JSON of a [`ReviewOutput`], redacted).
    pub payload: String,
    /// State.
    pub state: State,
    /// Claims so far.
    pub attempts: u32,
    /// Who holds the lease.
    pub lease_owner: Option<String>,
    /// When the lease ends.
    pub lease_expires_at: Option<String>,
    /// The last failure or discard reason.
    pub last_error: Option<String>,
    /// Enqueued.
    pub created_at: String,
    /// Last changed.
    pub updated_at: String,
}

impl Envelope {
    /// Parses the payload (strictly: unknown fields and operations are errors).
    pub fn review_output(&self) -> Result<ReviewOutput, serde_json::Error> {
        serde_json::from_str(&self.payload)
    }
}

const COLUMNS: &str = "id, project_id, host, session_id, turn_id, provider, idempotency_key, \
    payload, state, attempts, lease_owner, lease_expires_at, last_error, created_at, updated_at";

fn row_to_envelope(row: &Row<'_>) -> rusqlite::Result<Envelope> {
    let state: String = row.get(8)?;
    Ok(Envelope {
        id: row.get(0)?,
        project_id: row.get(1)?,
        host: row.get(2)?,
        session_id: row.get(3)?,
        turn_id: row.get(4)?,
        provider: row.get(5)?,
        idempotency_key: row.get(6)?,
        payload: row.get(7)?,
        state: State::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                8,
                rusqlite::types::Type::Text,
                format!("unknown suggestion state `{state}`").into(),
            )
        })?,
        attempts: u32::try_from(row.get::<_, i64>(9)?).unwrap_or(0),
        lease_owner: row.get(10)?,
        lease_expires_at: row.get(11)?,
        last_error: row.get(12)?,
        created_at: row.get(13)?,
        updated_at: row.get(14)?,
    })
}

/// The canonical, redacted JSON of a review output (object keys sorted).
pub fn canonical_payload(payload: &ReviewOutput) -> Result<String, QueueError> {
    let mut value = serde_json::to_value(payload)?;
    crate::archive::redact::redact_json(&mut value);
    Ok(serde_json::to_string(&value)?)
}

/// The idempotency key: 32 hex of SHA-256 over session, turn and canonical payload.
pub fn idempotency_key(session: Option<&str>, turn: Option<&str>, canonical: &str) -> String {
    let digest = Sha256::digest(
        format!(
            "{}\u{0}{}\u{0}{canonical}",
            session.unwrap_or(""),
            turn.unwrap_or("")
        )
        .as_bytes(),
    );
    crate::memory::store::hex(&digest[..16])
}

/// Queues a review unless the same review (session, turn, payload) is already queued, in its
/// own transaction.
pub fn enqueue(store: &Store, envelope: &NewEnvelope) -> Result<EnqueueOutcome, QueueError> {
    let tx = store
        .conn()
        .unchecked_transaction()
        .map_err(sql("begin enqueue"))?;
    let outcome = enqueue_in(&tx, envelope)?;
    tx.commit().map_err(sql("commit enqueue"))?;
    Ok(outcome)
}

/// [`enqueue`] inside the caller's transaction.
pub fn enqueue_in(conn: &Connection, envelope: &NewEnvelope) -> Result<EnqueueOutcome, QueueError> {
    let now = time::format_ts(canonical_time(&envelope.now)?);
    let payload = canonical_payload(&envelope.payload)?;
    let key = idempotency_key(
        envelope.session_id.as_deref(),
        envelope.turn_id.as_deref(),
        &payload,
    );
    let inserted = conn
        .prepare_cached(
            "INSERT INTO suggestions (project_id, host, session_id, turn_id, provider, \
             idempotency_key, payload, state, attempts, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', 0, ?8, ?8) \
             ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .and_then(|mut s| {
            s.execute(params![
                envelope.project_id,
                envelope.host,
                envelope.session_id,
                envelope.turn_id,
                envelope.provider,
                key,
                payload,
                now
            ])
        })
        .map_err(sql("insert suggestion"))?;
    if inserted == 1 {
        let id = conn.last_insert_rowid();
        record_transition(conn, id, None, State::Pending, &envelope.provider, &now)?;
        Ok(EnqueueOutcome::Inserted(id))
    } else {
        let id: i64 = conn
            .query_row(
                "SELECT id FROM suggestions WHERE idempotency_key = ?1",
                [&key],
                |r| r.get(0),
            )
            .map_err(sql("find duplicate suggestion"))?;
        Ok(EnqueueOutcome::Duplicate(id))
    }
}

fn record_transition(
    conn: &Connection,
    id: i64,
    from: Option<State>,
    to: State,
    reason: &str,
    now: &str,
) -> Result<(), QueueError> {
    conn.prepare_cached(
        "INSERT INTO suggestion_transitions (suggestion_id, from_state, to_state, reason, at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            from.map(State::as_str),
            to.as_str(),
            reason,
            now
        ])
    })
    .map_err(sql("record suggestion transition"))?;
    Ok(())
}

/// Moves envelope `id` from `from` to `to` when it is in `from` (and, if given, leased by
/// `owner`); returns whether it moved. The lease is set when entering processing and cleared
/// otherwise.
#[allow(
    clippy::too_many_arguments,
    reason = "one guarded UPDATE with its transition record"
)]
fn transition(
    conn: &Connection,
    id: i64,
    from: State,
    to: State,
    owner: Option<&str>,
    lease: Option<(&str, &str)>,
    reason: &str,
    now: &str,
) -> Result<bool, QueueError> {
    let (lease_owner, lease_expires_at) = match lease {
        Some((o, e)) => (Some(o), Some(e)),
        None => (None, None),
    };
    let bump = i64::from(to == State::Processing);
    let error = matches!(to, State::Failed | State::Discarded).then_some(reason);
    let changed = conn
        .prepare_cached(
            "UPDATE suggestions SET state = ?3, lease_owner = ?4, lease_expires_at = ?5, \
             attempts = attempts + ?6, last_error = CASE WHEN ?3 = 'processing' THEN last_error \
             ELSE ?7 END, updated_at = ?8 \
             WHERE id = ?1 AND state = ?2 AND (?9 IS NULL OR lease_owner = ?9)",
        )
        .and_then(|mut s| {
            s.execute(params![
                id,
                from.as_str(),
                to.as_str(),
                lease_owner,
                lease_expires_at,
                bump,
                error,
                now,
                owner
            ])
        })
        .map_err(sql("update suggestion state"))?;
    if changed == 1 {
        record_transition(conn, id, Some(from), to, reason, now)?;
    }
    Ok(changed == 1)
}

/// Returns expired claims to pending (or to failed when they used every attempt); `None`
/// reclaims in every project. Returns how many were reclaimed.
pub fn reclaim_expired(
    conn: &Connection,
    project_id: Option<&str>,
    now: &str,
) -> Result<usize, QueueError> {
    let now = time::format_ts(canonical_time(now)?);
    let expired: Vec<(i64, u32)> = conn
        .prepare_cached(
            "SELECT id, attempts FROM suggestions WHERE state = 'processing' \
             AND (lease_expires_at IS NULL OR lease_expires_at < ?1) \
             AND (?2 IS NULL OR project_id = ?2) ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map(params![now, project_id], |r| {
                Ok((r.get(0)?, u32::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        })
        .map_err(sql("find expired claims"))?;
    for (id, attempts) in &expired {
        let (to, reason) = if *attempts >= MAX_ATTEMPTS {
            (
                State::Failed,
                format!("lease_expired: gave up after {attempts} attempts"),
            )
        } else {
            (State::Pending, "lease_expired".to_owned())
        };
        transition(conn, *id, State::Processing, to, None, None, &reason, &now)?;
    }
    Ok(expired.len())
}

/// Claims up to `batch` envelopes of `project_id` for `lease_owner` until `now + lease_secs`:
/// expired claims are reclaimed first, then pending envelopes, then failed ones with attempts
/// left, oldest first. Atomic: runs in one `BEGIN IMMEDIATE` transaction.
pub fn claim(
    store: &mut Store,
    project_id: &str,
    batch: usize,
    lease_owner: &str,
    now: &str,
    lease_secs: i64,
) -> Result<Vec<Envelope>, QueueError> {
    let now_ts = canonical_time(now)?;
    let now = time::format_ts(now_ts);
    let expires = time::format_ts(
        now_ts
            .checked_add(jiff::SignedDuration::from_secs(lease_secs.max(1)))
            .unwrap_or(now_ts),
    );
    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("begin claim"))?;
    reclaim_expired(&tx, Some(project_id), &now)?;
    let limit = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
    let candidates: Vec<(i64, String)> = tx
        .prepare_cached(
            "SELECT id, state FROM suggestions WHERE project_id = ?1 AND \
             (state = 'pending' OR (state = 'failed' AND attempts < ?2)) \
             ORDER BY state = 'failed', created_at, id LIMIT ?3",
        )
        .and_then(|mut s| {
            s.query_map(params![project_id, MAX_ATTEMPTS, limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        })
        .map_err(sql("find claimable suggestions"))?;
    let mut claimed = Vec::with_capacity(candidates.len());
    for (id, state) in candidates {
        let from = State::parse(&state).unwrap_or(State::Pending);
        let reason = if from == State::Failed {
            "retry"
        } else {
            "claimed"
        };
        if transition(
            &tx,
            id,
            from,
            State::Processing,
            None,
            Some((lease_owner, &expires)),
            reason,
            &now,
        )? && let Some(envelope) = get(&tx, id)?
        {
            claimed.push(envelope);
        }
    }
    tx.commit().map_err(sql("commit claim"))?;
    Ok(claimed)
}

/// Marks a claimed envelope done; `false` when `lease_owner` no longer holds it.
pub fn complete(
    conn: &Connection,
    id: i64,
    lease_owner: &str,
    now: &str,
) -> Result<bool, QueueError> {
    let now = time::format_ts(canonical_time(now)?);
    transition(
        conn,
        id,
        State::Processing,
        State::Done,
        Some(lease_owner),
        None,
        "compiled",
        &now,
    )
}

/// Marks a claimed envelope failed with `reason` (retried while attempts remain); `false` when
/// `lease_owner` no longer holds it.
pub fn fail(
    conn: &Connection,
    id: i64,
    lease_owner: &str,
    reason: &str,
    now: &str,
) -> Result<bool, QueueError> {
    let now = time::format_ts(canonical_time(now)?);
    transition(
        conn,
        id,
        State::Processing,
        State::Failed,
        Some(lease_owner),
        None,
        reason,
        &now,
    )
}

/// Discards an envelope for good: a claimed one (when `lease_owner` holds it) or a pending
/// one (`lease_owner` = `None`). Returns whether it moved.
pub fn discard(
    conn: &Connection,
    id: i64,
    lease_owner: Option<&str>,
    reason: &str,
    now: &str,
) -> Result<bool, QueueError> {
    let now = time::format_ts(canonical_time(now)?);
    match lease_owner {
        Some(owner) => transition(
            conn,
            id,
            State::Processing,
            State::Discarded,
            Some(owner),
            None,
            reason,
            &now,
        ),
        None => transition(
            conn,
            id,
            State::Pending,
            State::Discarded,
            None,
            None,
            reason,
            &now,
        ),
    }
}

/// One envelope by id.
pub fn get(conn: &Connection, id: i64) -> Result<Option<Envelope>, QueueError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM suggestions WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], row_to_envelope).optional())
        .map_err(sql("read suggestion"))
}

/// One recorded state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transition {
    /// Previous state (`None` when created).
    pub from: Option<String>,
    /// New state.
    pub to: String,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub at: String,
}

/// The transitions of an envelope, oldest first.
pub fn transitions(conn: &Connection, id: i64) -> Result<Vec<Transition>, QueueError> {
    conn.prepare_cached(
        "SELECT from_state, to_state, reason, at FROM suggestion_transitions \
         WHERE suggestion_id = ?1 ORDER BY id",
    )
    .and_then(|mut s| {
        s.query_map([id], |r| {
            Ok(Transition {
                from: r.get(0)?,
                to: r.get(1)?,
                reason: r.get(2)?,
                at: r.get(3)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
    })
    .map_err(sql("read suggestion transitions"))
}

/// Envelope counts of one project.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Waiting.
    pub pending: u64,
    /// Claimed with a live lease.
    pub processing: u64,
    /// Claimed but the lease expired (a crashed compile); reclaimed by the next claim.
    pub expired_processing: u64,
    /// Compiled.
    pub done: u64,
    /// Failed, with attempts left.
    pub retryable_failed: u64,
    /// Failed for good.
    pub failed: u64,
    /// Discarded.
    pub discarded: u64,
}

impl Counts {
    /// Whether a compile would find work.
    pub fn has_work(&self) -> bool {
        self.pending + self.retryable_failed + self.expired_processing > 0
    }
}

/// Counts the envelopes of a project as of `now`.
pub fn counts(conn: &Connection, project_id: &str, now: &str) -> Result<Counts, QueueError> {
    let now = time::format_ts(canonical_time(now)?);
    let mut counts = Counts::default();
    let rows: Vec<(String, u32, bool, i64)> = conn
        .prepare_cached(
            "SELECT state, attempts >= ?3, lease_expires_at IS NULL OR lease_expires_at < ?2, \
             count(*) FROM suggestions WHERE project_id = ?1 GROUP BY 1, 2, 3",
        )
        .and_then(|mut s| {
            s.query_map(params![project_id, now, MAX_ATTEMPTS], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        })
        .map_err(sql("count suggestions"))?;
    for (state, exhausted, expired, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match (State::parse(&state), exhausted != 0, expired) {
            (Some(State::Pending), _, _) => counts.pending += n,
            (Some(State::Processing), _, true) => counts.expired_processing += n,
            (Some(State::Processing), _, false) => counts.processing += n,
            (Some(State::Done), _, _) => counts.done += n,
            (Some(State::Failed), false, _) => counts.retryable_failed += n,
            (Some(State::Failed), true, _) => counts.failed += n,
            (Some(State::Discarded), _, _) => counts.discarded += n,
            (None, _, _) => {}
        }
    }
    Ok(counts)
}

/// Projects that have work for a compile as of `now`, by id.
pub fn projects_with_work(conn: &Connection, now: &str) -> Result<Vec<String>, QueueError> {
    let now = time::format_ts(canonical_time(now)?);
    conn.prepare_cached(
        "SELECT DISTINCT project_id FROM suggestions WHERE project_id IS NOT NULL AND \
         (state = 'pending' OR (state = 'failed' AND attempts < ?2) OR \
          (state = 'processing' AND (lease_expires_at IS NULL OR lease_expires_at < ?1))) \
         ORDER BY project_id",
    )
    .and_then(|mut s| {
        s.query_map(params![now, MAX_ATTEMPTS], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
    })
    .map_err(sql("list projects with pending suggestions"))
}
