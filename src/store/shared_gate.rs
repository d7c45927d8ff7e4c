//! The checks that keep a shared environment's cache honest: plain writes are refused
//! (they go to the server first), and reads are refused when the cache may not be served.

use rusqlite::OptionalExtension;

use super::{StoreError, now};

/// Whether `env_id` is a shared environment.
pub(crate) fn is_linked(conn: &rusqlite::Connection, env_id: &str) -> Result<bool, StoreError> {
    Ok(conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM remote_links WHERE env_id = ?1)",
        [env_id],
        |r| r.get(0),
    )?)
}

/// Refuses reads of a shared environment whose cache may not be served.
pub(crate) fn read_gate(
    conn: &rusqlite::Connection,
    env_id: &str,
    env: &str,
) -> Result<(), StoreError> {
    let row: Option<(Option<String>, Option<i64>)> = conn
        .prepare_cached("SELECT refuse, serve_until FROM remote_links WHERE env_id = ?1")?
        .query_row([env_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match row {
        Some((Some(reason), _)) => Err(StoreError::Remote(format!("{env}: {reason}"))),
        Some((None, Some(until))) if until < now() => Err(StoreError::Remote(format!(
            "{env}: the cached values are older than max_stale and the server could not be reached since: run `openv sync {env}` once it is back"
        ))),
        _ => Ok(()),
    }
}

fn shared_refusal(env: &str) -> StoreError {
    StoreError::Remote(format!(
        "{env} is a shared environment: its changes go to the server through the agent (this path does not support shared environments yet)"
    ))
}

pub(crate) fn refuse_if_linked(
    conn: &rusqlite::Connection,
    env_id: &str,
    env: &str,
) -> Result<(), StoreError> {
    if is_linked(conn, env_id)? {
        return Err(shared_refusal(env));
    }
    Ok(())
}
