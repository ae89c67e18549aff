//! Undo: writing a history row's before image back over its entry.
//!
//! Every change to an entry has a `memory_history` row with full before and after images
//! (see [`crate::memory::store::record_history`]). Undoing row `#n` restores its before image
//! exactly; undoing an `add` (no before image) forgets the entry instead of deleting it. The
//! undo is itself recorded, so undoing it again redoes the change.

use rusqlite::Connection;
use serde::Serialize;

use crate::memory::entry::{MemoryEntry, Status};
use crate::memory::store::{self, MemoryError};

/// What [`undo`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Undone {
    /// The history row undone.
    pub undone: i64,
    /// The history row recording the undo.
    pub history_id: i64,
    /// The entry as it is now.
    pub entry: MemoryEntry,
}

/// Restores the before image of history row `history_id` (see the module docs).
pub fn undo(
    conn: &Connection,
    history_id: i64,
    now: &str,
    source: &str,
) -> Result<Undone, MemoryError> {
    let Some(row) = store::history_row(conn, history_id)? else {
        return Err(MemoryError::Undo {
            history_id,
            reason: "no such history row; run `csep memory history` to list them".into(),
        });
    };
    let current = store::get_entry(conn, &row.entry_id)?;
    let restored = match (&row.before, &current) {
        (Some(before), _) => before.clone(),
        (None, Some(current)) => {
            let mut gone = current.clone();
            gone.status = Status::Forgotten;
            gone.status_reason = Some(format!("undo of history #{history_id} (an add)"));
            gone.updated_at = now.to_owned();
            gone
        }
        (None, None) => {
            return Err(MemoryError::Undo {
                history_id,
                reason: format!("entry {} no longer exists", row.entry_id),
            });
        }
    };
    if current.is_some() {
        store::update_entry(conn, &restored)?;
    } else {
        store::insert_entry(conn, &restored)?;
    }
    let id = store::record_history(
        conn,
        "undo",
        current.as_ref(),
        Some(&restored),
        &format!("{source}:undo#{history_id}"),
        None,
        now,
    )?;
    Ok(Undone {
        undone: history_id,
        history_id: id,
        entry: restored,
    })
}

/// The newest history row of an entry (what `csep memory undo <entry id>` undoes).
pub fn latest_for(conn: &Connection, entry_id: &str) -> Result<Option<i64>, MemoryError> {
    Ok(store::history(conn, Some(entry_id), 1)?
        .first()
        .map(|row| row.id))
}
