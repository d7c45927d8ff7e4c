//! Finding the real pinentry processes a test caused, by the terminal or display they
//! were shown on.

use std::path::PathBuf;
use std::process::Command;

/// The pinentry processes on one tty or display (the test's own, or the agent's), so
/// the guards can kill leftovers (curses outlives a closed terminal until its own timer).
pub struct Pinentries {
    tty: Option<PathBuf>,
    display: Option<String>,
}

impl Pinentries {
    pub fn for_tty(tty: PathBuf) -> Pinentries {
        Pinentries {
            tty: Some(tty),
            display: None,
        }
    }

    pub fn for_display(display: &str) -> Pinentries {
        Pinentries {
            tty: None,
            display: Some(display.to_owned()),
        }
    }

    pub fn pinentries(&self) -> Vec<i32> {
        // Every process, not only the test's children: the agent starts its own dialogs.
        // A tty or display belongs to one test, so nothing of another test matches.
        let procs = std::fs::read_dir("/proc").expect("/proc");
        let pids = procs
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok());
        pids.filter(|&pid| self.owns(pid)).collect()
    }

    fn owns(&self, pid: i32) -> bool {
        let proc = PathBuf::from(format!("/proc/{pid}"));
        let comm = std::fs::read_to_string(proc.join("comm")).unwrap_or_default();
        if !comm.starts_with("pinentry") {
            return false;
        }
        if let Some(tty) = &self.tty {
            let fds = std::fs::read_dir(proc.join("fd"))
                .into_iter()
                .flatten()
                .flatten();
            return fds
                .filter_map(|fd| std::fs::read_link(fd.path()).ok())
                .any(|target| target == *tty);
        }
        let environ = std::fs::read(proc.join("environ")).unwrap_or_default();
        let want = format!("DISPLAY={}", self.display.as_deref().unwrap_or_default());
        environ.split(|b| *b == 0).any(|var| var == want.as_bytes())
    }
}

impl Pinentries {
    pub fn kill_all(&self) {
        for pid in self.pinentries() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}
