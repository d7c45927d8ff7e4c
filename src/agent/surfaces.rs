//! Where prompts may appear. A client's greeting names its terminal and display, but a
//! client never chooses a surface: its terminal is kept only when it is a character
//! device that the peer holds as its controlling terminal and as its fd 0, and even then
//! it is only a candidate. A candidate becomes trusted when a proof of the human is made
//! on that connection (`Prove`, or an unlock with the passphrase); locking the vault ends
//! the trust. Click-only dialogs go to a trusted surface only; a dialog that asks for the
//! passphrase may go to a candidate (a stranger cannot answer it).

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::approvals::ClientContext;

/// What of a greeting's context may be used at all.
pub fn candidate(peer: Option<i32>, ctx: ClientContext) -> ClientContext {
    let tty = ctx
        .tty
        .filter(|t| peer.is_some_and(|pid| holds_as_terminal(pid, t)));
    ClientContext { tty, ..ctx }
}

/// `tty` is a terminal device, the controlling terminal of `pid`, and its fd 0.
fn holds_as_terminal(pid: i32, tty: &str) -> bool {
    let Ok(meta) = std::fs::metadata(tty) else {
        return false;
    };
    if !meta.file_type().is_char_device() {
        return false;
    }
    let dev = meta.rdev();
    let (major, minor) = (nix::sys::stat::major(dev), nix::sys::stat::minor(dev));
    let Ok(stat) = procfs::process::Process::new(pid).and_then(|p| p.stat()) else {
        return false;
    };
    // /proc/PID/stat's tty_nr: minor in bits 31-20 and 7-0, major in bits 15-8.
    let nr = stat.tty_nr as u64;
    let ctty = ((nr >> 8) & 0xfff, (nr & 0xff) | ((nr >> 12) & 0xfff00));
    let fd0 = std::fs::metadata(format!("/proc/{pid}/fd/0"))
        .is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == dev);
    ctty == (major, minor) && fd0
}
