//! Where the mounts hand their opens. A read that a rule or grant already covers, of an
//! environment whose rendering is cached, is answered right on the mount's thread; every
//! other open goes to the agent's channel to be decided (and perhaps prompted for) there.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use openv_mount::{OpenHandler, OpenRequest, Refusal};
use tokio::sync::mpsc::UnboundedSender;

use crate::agent::state::State;

#[derive(Debug, Clone)]
pub struct FastPath {
    tx: UnboundedSender<OpenRequest>,
    /// Set once the agent's state exists; weak so state -> mounts -> handler is no cycle.
    state: Arc<OnceLock<Weak<Mutex<State>>>>,
}

impl FastPath {
    pub fn new(tx: UnboundedSender<OpenRequest>) -> Self {
        Self {
            tx,
            state: Arc::new(OnceLock::new()),
        }
    }

    pub fn attach(&self, state: &Arc<Mutex<State>>) {
        let _ = self.state.set(Arc::downgrade(state));
    }

    fn forward(&self, req: OpenRequest) {
        // A closed channel hands the request back; dropping it denies.
        if let Err(closed) = self.tx.send(req) {
            drop(closed.0);
        }
    }
}

impl OpenHandler for FastPath {
    /// A refusal the agent did not decide (a FIFO shared or stalled, a reader that could
    /// not be identified): into the audit log, from a thread of its own (this is the
    /// mount's serving thread). `openv mounts` shows it from the mount's stats.
    fn on_refused(&self, refusal: Refusal) {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            return;
        };
        let _ = std::thread::Builder::new()
            .name("openv-refusal".into())
            .spawn(move || {
                let mut st = state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                st.audit_refusal(&refusal);
            });
    }

    fn on_open(&self, req: OpenRequest) {
        let Some(state) = self.state.get().and_then(Weak::upgrade) else {
            return self.forward(req);
        };
        // Never wait here: this is the mount's serving thread.
        let left = match state.try_lock() {
            Ok(mut st) => super::decide::try_covered(&mut st, req),
            Err(_) => Some(req),
        };
        if let Some(req) = left {
            self.forward(req);
        }
    }
}
