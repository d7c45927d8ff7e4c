//! Process hardening for the only process that holds decrypted values.

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::stat::{Mode, umask};

/// No core dumps, no ptrace attach by same-uid processes (PR_SET_DUMPABLE 0 makes
/// /proc/<pid>/mem and ptrace root-only), and files created private by default.
pub fn harden() {
    umask(Mode::from_bits_truncate(0o077));
    if let Err(e) = setrlimit(Resource::RLIMIT_CORE, 0, 0) {
        tracing::warn!(error = %e, "could not disable core dumps");
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(error = %e, "could not mark the agent non-dumpable");
    }
}
