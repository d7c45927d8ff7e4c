//! The agent's side of a background start. The CLI spawns `openv agent --foreground
//! --daemon` (see `ipc::spawn`), which detaches (setsid) and writes one line on stdout
//! once its socket listens: `ready` or `error: ...`.

use std::fs::File;
use std::io::Write;

/// In the spawned agent: report on the pipe, then point stdout at /dev/null so the
/// closed pipe can never fail a later write.
pub fn report_ready(result: Result<(), String>) {
    let mut out = std::io::stdout().lock();
    let _ = match result {
        Ok(()) => writeln!(out, "ready"),
        Err(e) => writeln!(out, "error: {e}"),
    };
    let _ = out.flush();
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
}

/// Detaches from the terminal's session so Ctrl-C in the shell does not stop it.
pub fn detach() {
    let _ = nix::unistd::setsid();
}
