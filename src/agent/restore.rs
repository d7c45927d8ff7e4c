//! At start (or after a crash): mount again everything recorded in the vault.

use std::path::PathBuf;

use tracing::{info, warn};

use super::state::State;
use crate::mount_table::parse_mode;
use crate::mount_table::prepare::{self, Existing};
use crate::store::StoreError;

pub fn restore_mounts(st: &mut State) {
    let records = match st.vault().and_then(|v| v.list_mounts()) {
        Ok(r) => r,
        Err(StoreError::NoVault(_)) => return,
        Err(e) => {
            warn!(error = %e, "cannot read recorded mounts");
            return;
        }
    };
    for r in records {
        let path = PathBuf::from(&r.path);
        let _ = openv_mount::clean_stale(&path);
        let Some(mode) = parse_mode(&r.mode) else {
            continue;
        };
        let started = match prepare::inspect(&path) {
            Existing::Plaintext => Err("a plaintext file is now at this path".to_owned()),
            Existing::Other(what) => Err(format!("the path is now {what}")),
            _ => st
                .mounts
                .start(&path, &r.env, mode)
                .map(|_| ())
                .map_err(|e| e.to_string()),
        };
        match started {
            Ok(()) => {
                super::contents::restored(st, &path, &r.env, r.size);
                info!(path = %r.path, env = %r.env, "mount restored");
            }
            Err(why) => {
                warn!(path = %r.path, error = %why, "mount not restored");
                st.mounts.mark_broken(&path, &r.env, &r.mode, why);
            }
        }
    }
}
