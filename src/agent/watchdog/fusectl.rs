//! The FUSE control filesystem (`/sys/fs/fuse/connections`): per connection, the number of
//! requests waiting for the daemon and a file that aborts the connection. Aborting is what
//! the kernel's own request timeout (Linux 6.14+) does when it fires: every waiting reader
//! gets ENOTCONN at once, and so does every later one until the mount is replaced.

use std::path::{Path, PathBuf};

const DIR: &str = "/sys/fs/fuse/connections";
const SYSCTL: &str = "/proc/sys/fs/fuse/default_request_timeout";

fn is_mounted() -> bool {
    procfs::process::Process::myself()
        .and_then(|p| p.mountinfo())
        .is_ok_and(|infos| {
            infos
                .into_iter()
                .any(|m| m.fs_type == "fusectl" && m.mount_point == Path::new(DIR))
        })
}

/// Makes sure the control filesystem is mounted (systemd does it at boot; root may do it
/// here). `Err` says why readers of a stopped agent would wait, and what to do.
pub fn ensure() -> Result<(), String> {
    if is_mounted() {
        return Ok(());
    }
    let mounted = nix::mount::mount(
        Some("fusectl"),
        DIR,
        Some("fusectl"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    );
    match mounted {
        Ok(()) => {
            tracing::info!("mounted the FUSE control filesystem on {DIR}");
            Ok(())
        }
        Err(e) if kernel_timeout().is_some() => {
            tracing::debug!(error = %e, "no fusectl; the kernel's request timeout applies");
            Ok(())
        }
        Err(e) => Err(format!(
            "the FUSE control filesystem is not mounted on {DIR} and cannot be ({e}): a reader of \
             a stopped agent waits until it continues; mount it as root (`mount -t fusectl none \
             {DIR}`) or set `sysctl fs.fuse.default_request_timeout=10`"
        )),
    }
}

/// The system-wide FUSE request timeout in seconds, when one is set.
fn kernel_timeout() -> Option<u64> {
    let s = std::fs::read_to_string(SYSCTL).ok()?;
    s.trim().parse().ok().filter(|t| *t > 0)
}

fn conn_dir(conn: u64) -> PathBuf {
    Path::new(DIR).join(conn.to_string())
}

/// Requests of connection `conn` the daemon has not answered yet (0 if it is gone).
pub fn waiting(conn: u64) -> u64 {
    std::fs::read_to_string(conn_dir(conn).join("waiting"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Aborts connection `conn`: its waiting and later requests fail with ENOTCONN.
pub fn abort(conn: u64) -> std::io::Result<()> {
    std::fs::write(conn_dir(conn).join("abort"), "1")
}
