//! Whether a peer runs inside `openv guard` (or another sandbox): `NoNewPrivs: 1` in its
//! `/proc/PID/status`. The kernel never clears the flag and every child inherits it, so
//! no process under the guard can drop the mark, however it forks or calls `setsid`.

/// `NoNewPrivs: 1` for `pid`. An unreadable status (the peer is gone) counts as guarded:
/// a peer that cannot be checked gets the agent tier only.
pub fn is_guarded(pid: i32) -> bool {
    openv_mount::no_new_privs_of(pid).unwrap_or(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_test_process_is_not_guarded() {
        assert!(!super::is_guarded(std::process::id() as i32));
    }
}
