//! Where a read is decided: from rules and grants at once, or by a person, then served
//! or denied and recorded.

use std::time::Duration;

use openv_mount::{OpenRequest, Reader};

use super::record::read_event;
use crate::agent::state::State;
use crate::approvals::{Asked, DenyCause, Ruling, Verdict, describe};
use crate::audit::{Decision, Event, EventKind};
use crate::mount_table::REQUEST_TIMEOUT;
use crate::store::{Backend, StoreError};

/// The decision for `reader` reading `env`: rules, grants, then a person (asked for at
/// most `timeout`). A missing or locked vault or an unknown environment is an error:
/// a mount read turns it into a denial, `openv run` into an error message.
pub fn rule(
    st: &mut State,
    env: &str,
    reader: &Reader,
    timeout: Duration,
) -> Result<Ruling, StoreError> {
    let v = st.vault()?;
    if !v.is_unlocked() {
        return Err(StoreError::Locked);
    }
    v.env_id(env)?;
    // Field borrows: the vault is read while the approvals change.
    let vault = st.vault.as_ref().ok_or(StoreError::Locked)?;
    st.approvals.check(vault, env, reader, timeout)
}

/// Answers an open at once when a rule or grant covers it and the environment's
/// rendering is cached; otherwise hands it back untouched. Runs on the mount's thread.
pub fn try_covered(st: &mut State, mut req: OpenRequest) -> Option<OpenRequest> {
    let Some(env) = st.mounts.env_of(&req.path).map(str::to_owned) else {
        return Some(req);
    };
    if !st.rendered.contains_key(&env) {
        return Some(req);
    }
    let Some(vault) = st.vault.as_ref().filter(|v| v.is_unlocked()) else {
        return Some(req);
    };
    // Who started the reader decides which rules may cover it.
    req.load_ancestry();
    match st.approvals.covered(vault, &env, &req.reader) {
        Ok(Some(v @ Verdict::Allow { .. })) => {
            finish(st, req, &env, v);
            None
        }
        _ => Some(req),
    }
}

/// First half of an open: decide from rules and grants, or queue it for a person.
/// Returns the request back when it must wait.
/// The request's details must be loaded (`OpenRequest::load_details`): a person may be
/// asked, and sees the command line and the parent chain.
pub fn begin(st: &mut State, req: OpenRequest) -> Option<(OpenRequest, Asked)> {
    let Some(env) = st.mounts.env_of(&req.path).map(str::to_owned) else {
        req.deny();
        return None;
    };
    // The mount denies the reader at its request timeout: a person's later answer must
    // not be recorded as a read.
    let timeout = st.approvals.settings.timeout.min(REQUEST_TIMEOUT);
    let ruling = rule(st, &env, &req.reader, timeout)
        .unwrap_or_else(|e| Ruling::Decided(Verdict::deny(DenyCause::Unavailable, e.to_string())));
    match ruling {
        Ruling::Decided(v) => {
            finish(st, req, &env, v);
            None
        }
        Ruling::Ask(asked) => {
            if asked.job.is_some() {
                let mut ev = Event::new(EventKind::Prompt)
                    .env(env.clone())
                    .pid(req.reader.pid)
                    .chain(describe::chain(&req.reader))
                    .detail(format!("request {} waits for approval", asked.id));
                if let Some(e) = &req.reader.exe {
                    ev = ev.exe(e.display().to_string());
                }
                st.audit(ev);
            }
            Some((req, asked))
        }
    }
}

/// Second half: serve or deny, and record it.
pub fn finish(st: &mut State, mut req: OpenRequest, env: &str, verdict: Verdict) {
    // The vault may have been locked while a person was deciding.
    let verdict = match verdict {
        Verdict::Allow { .. } if st.unlocked_vault().is_none() => {
            Verdict::deny(DenyCause::Unavailable, StoreError::Locked.to_string())
        }
        v => v,
    };
    let denial = match verdict {
        Verdict::Allow { because } => {
            let dialect = super::dialect::of_reader(st, &mut req);
            match crate::agent::contents::render_env(st, env, dialect) {
                Ok((names, bytes)) => {
                    // Answer first: the record's details (command line, parents) are read
                    // afterwards: the open's answer does not wait for them.
                    let cmdline = describe::label_needs_cmdline(req.reader.exe.as_deref());
                    let (reader, path) = req.serve_then_describe(bytes, cmdline);
                    let ev = read_event(env, reader, &path, Decision::Allowed, &because);
                    st.audit(ev.names(names));
                    return;
                }
                Err(e) => {
                    if let crate::agent::contents::Unservable::Refused(r) = &e {
                        super::dialect::note_refused(st, &req, r);
                    }
                    crate::approvals::Denial {
                        cause: DenyCause::Unavailable,
                        reason: e.to_string(),
                    }
                }
            }
        }
        Verdict::Deny(d) => d,
    };
    req.load_details();
    let reader = req.reader.clone();
    let path = req.path.clone();
    req.deny();
    let mut ev = read_event(env, reader, &path, Decision::Denied, &denial.reason);
    if denial.cause == DenyCause::RateLimited {
        ev.kind = EventKind::RateLimited;
    }
    st.audit(ev);
}
