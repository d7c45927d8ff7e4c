//! Where the mounts hand their opens. A read that a rule or grant already covers, of an
//! environment whose rendering is cached, is answered right on the mount's thread; every
//! other open goes to the agent's channel to be decided (and perhaps prompted for) there.

use std::sync::{Arc, Mutex, OnceLock, Weak};

use openv_mount::{OpenHandler, OpenRequest};
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
