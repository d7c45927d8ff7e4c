//! An Xvfb desktop for the real pinentry-gtk-2, driven with xdotool the way a person
//! would press keys, with screenshots in `artifacts/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::pinentries::Pinentries;

/// True once `done` holds, false if it still does not after `limit`.
pub fn poll(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    while !done() {
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
    true
}

fn output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run tool");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// An Xvfb on a display number it picks itself (`-displayfd`), killed on drop.
pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        let child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
                // By default an X server resets when its last client leaves, and a client
                // connecting meanwhile fails: a pinentry started right after the previous
                // one closed would find no display.
                "-noreset",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut x = Xvfb {
            child,
            display: String::new(),
        };
        let stdout = x.child.stdout.take().expect("Xvfb stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("Xvfb display");
        assert!(!line.trim().is_empty(), "Xvfb did not start");
        x.display = format!(":{}", line.trim());
        // Xvfb names its display before it serves clients; on a loaded machine a pinentry
        // started in between cannot open it (and fails with ENXIO, finding no tty either).
        let ready = poll(Duration::from_secs(10), || {
            Command::new("xdotool")
                .arg("getdisplaygeometry")
                .env("DISPLAY", &x.display)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        assert!(ready, "Xvfb on {} does not take clients", x.display);
        x
    }

    pub fn run(&self, tool: &str, args: &[&str]) -> String {
        output(Command::new(tool).args(args).env("DISPLAY", &self.display))
    }

    /// The pid owning the visible pinentry window, "" if none.
    pub fn window_pid(&self) -> String {
        let args = [
            "search",
            "--onlyvisible",
            "--class",
            "pinentry",
            "getwindowpid",
        ];
        self.run("xdotool", &args).trim().to_owned()
    }

    /// Waits for a pinentry window of a process other than `previous`, then a moment for
    /// it to grab the keyboard. Returns that process id.
    pub fn wait_window_after(&self, previous: &str) -> String {
        let mut pid = String::new();
        let shown = poll(Duration::from_secs(20), || {
            pid = self.window_pid();
            !pid.is_empty() && pid != previous
        });
        assert!(
            shown,
            "no pinentry window on {}: pinentry processes {:?}, windows of class pinentry {:?}",
            self.display,
            Pinentries::for_display(&self.display).pinentries(),
            self.run("xdotool", &["search", "--class", "pinentry"]),
        );
        thread::sleep(Duration::from_millis(700));
        pid
    }

    pub fn wait_window(&self) -> String {
        self.wait_window_after("")
    }

    /// [`wait_window`](Self::wait_window) for the dialog `asked` shows; if the pinentry
    /// gives up before any window shows, fails with what it answered.
    pub fn wait_dialog<T: std::fmt::Debug>(&self, asked: &mut Option<JoinHandle<T>>) -> String {
        let mut pid = String::new();
        let shown = poll(Duration::from_secs(20), || {
            pid = self.window_pid();
            !pid.is_empty() || asked.as_ref().is_some_and(JoinHandle::is_finished)
        });
        if pid.is_empty() {
            let outcome = asked.take().filter(|_| shown).map(|a| a.join());
            panic!(
                "no pinentry window on {}; the pinentry answered {outcome:?}",
                self.display
            );
        }
        thread::sleep(Duration::from_millis(700));
        pid
    }

    /// Presses `key` until a pinentry window of a process other than `previous` shows.
    /// On a loaded machine a key can arrive before the dialog holds its keyboard grab and
    /// be lost; pressing again is what a person would do.
    pub fn press_until_next(&self, key: &str, previous: &str) -> String {
        for _ in 0..3 {
            self.key(&[key]);
            let mut pid = String::new();
            let shown = poll(Duration::from_secs(5), || {
                pid = self.window_pid();
                !pid.is_empty() && pid != previous
            });
            if shown {
                thread::sleep(Duration::from_millis(700));
                return pid;
            }
        }
        panic!("no new pinentry window after pressing {key} three times");
    }

    /// Keys go through XTEST to the window holding the keyboard grab; gtk2 ignores keys
    /// sent to a window directly (`xdotool key --window`, a synthetic event). The input
    /// focus is set on the dialog first, so a key that arrives before the grab still
    /// reaches it.
    pub fn key(&self, keys: &[&str]) {
        let focus = [
            "search",
            "--onlyvisible",
            "--class",
            "pinentry",
            "windowfocus",
        ];
        self.run("xdotool", &focus);
        for key in keys {
            self.run("xdotool", &["key", key]);
            thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn screenshot(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let path = dir.join(name);
        let target = path.to_str().expect("utf-8 path");
        self.run(
            "import",
            &["-window", "root", "-display", &self.display, target],
        );
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 0, "no screenshot at {target}");
        path
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        Pinentries::for_display(&self.display).kill_all();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
