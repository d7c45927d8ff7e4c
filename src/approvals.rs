//! The one place that decides whether a process may read an environment.
//!
//! Today the decision is the allow-list (`openv allow -e ENV --exe PATH`): a reader whose
//! executable is on the environment's list is served, everything else is denied. Prompts,
//! grants and policy rules replace this function's body, not its callers.

use openv_mount::Reader;

use crate::store::StoreError;
use crate::store::sqlite::SqliteVault;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Served; names what allowed it.
    Allow { because: String },
    /// Refused; says why (for the log, never for the reader).
    Deny { reason: String },
}

pub fn decide(vault: &SqliteVault, env: &str, reader: &Reader) -> Result<Verdict, StoreError> {
    let me = nix::unistd::geteuid().as_raw();
    if reader.uid != me {
        return Ok(Verdict::Deny {
            reason: format!("reader runs as uid {}, not {me}", reader.uid),
        });
    }
    let Some(exe) = reader.exe.as_ref().and_then(|p| p.to_str()) else {
        return Ok(Verdict::Deny {
            reason: "reader's executable is unknown".into(),
        });
    };
    if vault.is_allowed(env, exe)? {
        Ok(Verdict::Allow {
            because: format!("allow rule for {exe}"),
        })
    } else {
        Ok(Verdict::Deny {
            reason: format!("no rule allows {exe}: run `openv allow -e {env} --exe {exe}`"),
        })
    }
}
