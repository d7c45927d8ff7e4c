//! One job: pinentry dialogs (the GnuPG family) through the `pinentry` crate, which already
//! percent-encodes `%`, CR, LF and a trailing `\` for Assuan. What this module adds, each
//! for a reason seen with the real programs:
//!
//! * A hard deadline. pinentry's own timeout is not enough: pinentry-curses stops its
//!   timer at the first key press, and a dialog that never shows blocks forever. The dialog
//!   runs on a worker thread; at `timeout + 1 s` the pinentry that thread spawned gets
//!   SIGTERM (curses restores the terminal), then SIGKILL.
//! * The third button asks twice. pinentry-tty answers "not confirmed" (the NOTOK button)
//!   when it cannot open or read its terminal, and Assuan means NOTOK as a "no"; so NOTOK
//!   never grants by itself, it opens a second dialog whose OK does.
//! * Text is cut to fit: the crate panics on an Assuan line over 1000 bytes.
//! * The title leads the description: `ConfirmationDialog` never sends SETTITLE, and
//!   curses / tty show no title anyway.
//! * Distinct accelerators: pinentry-tty answers by letter and defaults to each label's
//!   first letter ("Allow" and "Allow for this process" would both be `a`).
//! * Control and bidi characters are replaced: a hostile command line quoted in the
//!   description must not repaint the terminal or reorder the text.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use pinentry::{ConfirmationDialog, PassphraseInput, unix};
use secrecy::ExposeSecret;

use super::{Answer, PromptError, Question, Surface};
use crate::secret::SecretValue;

/// A pinentry program and where it shows its dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub path: PathBuf,
    pub surface: Surface,
}

const X11: [&str; 3] = ["pinentry-gnome3", "pinentry-gtk-2", "pinentry-qt"];
// pinentry-gtk-2 has no Wayland backend.
const WAYLAND: [&str; 2] = ["pinentry-gnome3", "pinentry-qt"];
const TERMINAL: [&str; 2] = ["pinentry-curses", "pinentry-tty"];
// A daemon started by a service manager may have a short PATH.
const FALLBACK_DIRS: [&str; 3] = ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin"];

/// Time past the question's timeout before the pinentry is terminated. pinentry's own timer
/// (whole seconds, rounded down) normally fires first and ends the dialog cleanly.
const GRACE: Duration = Duration::from_secs(1);
const KILL_WAIT: Duration = Duration::from_millis(500);
/// Longest text sent in one Assuan line, after percent-encoding: 1000 bytes less the
/// command, the newline and the crate's trailing-backslash escape, with a margin.
const MAX_ENCODED: usize = 950;

/// Finds a pinentry for `surface`: desktop prefers pinentry-gnome3, pinentry-gtk-2 (X11
/// only), pinentry-qt; terminal prefers pinentry-curses, then pinentry-tty.
/// `override_program` (config `pinentry = ...`) is a path or a name looked up in `PATH`.
/// `None` when nothing is installed, or for a desktop with neither display set.
pub fn find(surface: Surface, override_program: Option<&Path>) -> Option<Program> {
    let candidates: &[&str] = match &surface {
        Surface::Desktop { display, wayland } => {
            if display.as_deref().is_some_and(|d| !d.is_empty()) {
                &X11
            } else if wayland.as_deref().is_some_and(|w| !w.is_empty()) {
                &WAYLAND
            } else {
                return None;
            }
        }
        Surface::Terminal { .. } => &TERMINAL,
    };
    let path = match override_program {
        Some(program) => resolve(program)?,
        None => candidates
            .iter()
            .find_map(|name| resolve(Path::new(name)))?,
    };
    Some(Program { path, surface })
}

/// Asks `q` and blocks until an answer, at most `q.timeout` + 2 s.
///
/// `Ok(Answer::Deny)`: the deny button, Escape, a closed window, or no answer in time.
/// `Err`: pinentry could not be run or talked to (missing program, no display or tty);
/// the caller may fall back to the headless queue. With `alt_label`, choosing that button
/// shows a second dialog ("Confirm: <alt>", OK = alt, Cancel = deny) within the same time
/// budget, and only its OK yields `AllowAlt`.
pub fn confirm(program: &Program, q: &Question) -> Result<Answer, PromptError> {
    let until = Instant::now() + q.timeout;
    let env = Env::of(&program.surface)?;
    let mut labels = vec![q.allow_label.as_str(), q.deny_label.as_str()];
    labels.extend(q.alt_label.as_deref());
    let labels = with_accelerators(&labels);
    let description = titled(&q.title, &q.description);

    let buttons = Buttons {
        ok: labels[0].clone(),
        cancel: labels[1].clone(),
        not_ok: labels.get(2).cloned(),
    };
    match confirm_once(program, &env, until, fit(&description), buttons)? {
        Choice::Ok => return Ok(Answer::Allow),
        Choice::No => return Ok(Answer::Deny),
        Choice::NotOk => {}
    }
    let alt = labels.get(2).cloned().unwrap_or_default();
    let again = format!("Confirm: {}\n\n{description}", plain(&alt));
    let buttons = Buttons {
        ok: alt,
        cancel: labels[1].clone(),
        not_ok: None,
    };
    let answer = match confirm_once(program, &env, until, fit(&again), buttons)? {
        Choice::Ok => Answer::AllowAlt,
        Choice::No | Choice::NotOk => Answer::Deny,
    };
    Ok(answer)
}

/// Asks for a hidden value (GETPIN). `None` on cancel or timeout; an empty entry is
/// `Some` of an empty value. Blocks at most `timeout` + 2 s. Errors as for [`confirm`].
pub fn ask_secret(
    program: &Program,
    title: &str,
    description: &str,
    prompt: &str,
    timeout: Duration,
) -> Result<Option<SecretValue>, PromptError> {
    let env = Env::of(&program.surface)?;
    let path = program.path.clone();
    let (title, prompt) = (fit(title), fit(prompt));
    let description = fit(&titled(&title, description));
    let secs = whole_seconds(timeout);
    let outcome = bounded(timeout, move || {
        let mut input = PassphraseInput::with_binary(&path).ok_or_else(missing)?;
        input
            .with_title(&title)
            .with_description(&description)
            .with_prompt(&prompt)
            .with_timeout(secs)
            .with_unix_options(env.options());
        let value = input.interact()?;
        Ok(SecretValue::new(value.expose_secret().to_owned()))
    })?;
    match outcome {
        None | Some(Err(pinentry::Error::Cancelled | pinentry::Error::Timeout)) => Ok(None),
        Some(Ok(value)) => Ok(Some(value)),
        Some(Err(e)) => Err(failed(&program.path, e)),
    }
}

#[derive(Debug)]
enum Choice {
    Ok,
    NotOk,
    No,
}

#[derive(Debug)]
struct Buttons {
    ok: String,
    cancel: String,
    not_ok: Option<String>,
}

fn confirm_once(
    program: &Program,
    env: &Env,
    until: Instant,
    description: String,
    buttons: Buttons,
) -> Result<Choice, PromptError> {
    let budget = until.saturating_duration_since(Instant::now());
    if budget.is_zero() {
        return Ok(Choice::No);
    }
    let (path, env, secs) = (program.path.clone(), env.clone(), whole_seconds(budget));
    let has_not_ok = buttons.not_ok.is_some();
    let outcome = bounded(budget, move || {
        let mut dialog = ConfirmationDialog::with_binary(&path).ok_or_else(missing)?;
        dialog
            .with_ok(&buttons.ok)
            .with_cancel(&buttons.cancel)
            .with_timeout(secs)
            .with_unix_options(env.options());
        if let Some(not_ok) = &buttons.not_ok {
            dialog.with_not_ok(not_ok);
        }
        dialog.confirm(&description)
    })?;
    // The crate reports Cancel as Ok(false) without a NOTOK button, as Err(Cancelled) with.
    match outcome {
        Some(Ok(true)) => Ok(Choice::Ok),
        Some(Ok(false)) if has_not_ok => Ok(Choice::NotOk),
        None | Some(Ok(false) | Err(pinentry::Error::Cancelled | pinentry::Error::Timeout)) => {
            Ok(Choice::No)
        }
        Some(Err(e)) => Err(failed(&program.path, e)),
    }
}

/// Runs one pinentry conversation on a worker thread. `None`: no answer by
/// `budget + GRACE`; the pinentry was terminated (Linux) or abandoned to its own timer.
fn bounded<T, F>(budget: Duration, work: F) -> Result<Option<pinentry::Result<T>>, PromptError>
where
    T: Send + 'static,
    F: FnOnce() -> pinentry::Result<T> + Send + 'static,
{
    let (tid_tx, tid_rx) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("openv-pinentry".into())
        .spawn(move || {
            let _ = tid_tx.send(thread_id());
            let _ = tx.send(work());
        })
        .map_err(PromptError::Thread)?;
    let tid = tid_rx.recv().map_err(|_| PromptError::Worker)?;
    match rx.recv_timeout(budget + GRACE) {
        Ok(result) => return Ok(Some(result)),
        Err(RecvTimeoutError::Disconnected) => return Err(PromptError::Worker),
        Err(RecvTimeoutError::Timeout) => {}
    }
    tracing::warn!("pinentry gave no answer by its deadline; terminating it");
    for force in [false, true] {
        signal_children(tid, force);
        if !matches!(rx.recv_timeout(KILL_WAIT), Err(RecvTimeoutError::Timeout)) {
            break;
        }
    }
    Ok(None)
}

#[cfg(target_os = "linux")]
fn thread_id() -> Option<i32> {
    Some(nix::unistd::gettid().as_raw())
}

#[cfg(not(target_os = "linux"))]
fn thread_id() -> Option<i32> {
    None
}

/// Signals the processes spawned by worker thread `tid`. The crate hides its `Child`, but
/// Linux lists each thread's children; they stay listed (unreaped) until the worker's own
/// wait, which cannot run while the worker is blocked on the pinentry's answer.
#[cfg(target_os = "linux")]
fn signal_children(tid: Option<i32>, force: bool) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(tid) = tid else { return };
    let Ok(list) = std::fs::read_to_string(format!("/proc/self/task/{tid}/children")) else {
        tracing::warn!("cannot list the pinentry worker's children; leaving it to its timer");
        return;
    };
    let signal = if force {
        Signal::SIGKILL
    } else {
        Signal::SIGTERM
    };
    for pid in list.split_whitespace().filter_map(|p| p.parse().ok()) {
        let _ = kill(Pid::from_raw(pid), signal);
    }
}

#[cfg(not(target_os = "linux"))]
fn signal_children(_tid: Option<i32>, _force: bool) {}

/// What the pinentry process is told about its surface; "" unsets a variable, so a
/// terminal prompt never pops up on a desktop inherited from the agent's environment.
#[derive(Debug, Clone)]
struct Env {
    tty: Option<String>,
    display: String,
    wayland: String,
}

impl Env {
    fn of(surface: &Surface) -> Result<Self, PromptError> {
        Ok(match surface {
            Surface::Desktop { display, wayland } => Env {
                tty: None,
                display: display.clone().unwrap_or_default(),
                wayland: wayland.clone().unwrap_or_default(),
            },
            Surface::Terminal { tty } => Env {
                tty: Some(
                    tty.to_str()
                        .ok_or_else(|| PromptError::TtyPath(tty.clone()))?
                        .to_owned(),
                ),
                display: String::new(),
                wayland: String::new(),
            },
        })
    }

    fn options(&self) -> unix::Options<'_> {
        let builder = unix::Options::builder()
            .x11_display(&self.display)
            .wayland_display(&self.wayland);
        match &self.tty {
            Some(tty) => builder.tty_name(tty).build(),
            None => builder.build(),
        }
    }
}

fn resolve(program: &Path) -> Option<PathBuf> {
    if program.components().count() > 1 {
        return is_executable(program).then(|| program.to_path_buf());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(FALLBACK_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn missing() -> pinentry::Error {
    pinentry::Error::Io(io::Error::new(
        io::ErrorKind::NotFound,
        "program not found or not executable",
    ))
}

fn failed(program: &Path, e: pinentry::Error) -> PromptError {
    PromptError::Pinentry {
        program: program.to_path_buf(),
        message: e.to_string(),
    }
}

/// pinentry's timer, in whole seconds rounded down so it fires before our deadline; 0
/// would mean "no timeout" to pinentry.
fn whole_seconds(budget: Duration) -> u16 {
    u16::try_from(budget.as_secs()).unwrap_or(u16::MAX).max(1)
}

fn titled(title: &str, description: &str) -> String {
    if title.trim().is_empty() {
        description.to_owned()
    } else {
        format!("{title}\n\n{description}")
    }
}

/// Neutralises characters that could drive a terminal or reorder text, then cuts the text
/// (with "…") so its percent-encoded form stays within `MAX_ENCODED`.
fn fit(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_ENCODED));
    let mut used = 0;
    for c in text.chars() {
        let c = match c {
            '\r' => continue,
            '\n' => '\n',
            '\t' => ' ',
            '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' => '?',
            '\u{feff}' => '?',
            c if c.is_control() => '?',
            c => c,
        };
        let size = if matches!(c, '%' | '\n') {
            3
        } else {
            c.len_utf8()
        };
        if used + size > MAX_ENCODED - '…'.len_utf8() {
            out.push('…');
            break;
        }
        used += size;
        out.push(c);
    }
    out
}

/// Gives each label without a `_` marker a distinct accelerator: the first free
/// word-initial letter or digit, else any free one. Labels with `_` are left as written.
fn with_accelerators(labels: &[&str]) -> Vec<String> {
    let mut taken: Vec<char> = labels.iter().filter_map(|l| marked(l)).collect();
    labels
        .iter()
        .map(|label| {
            let label = fit(label);
            if label.contains('_') {
                return label;
            }
            let chars: Vec<(usize, char)> = label.char_indices().collect();
            let initial = |i: usize| i == 0 || !chars[i - 1].1.is_alphanumeric();
            let free = |c: char| c.is_ascii_alphanumeric() && !taken.contains(&lower(c));
            let pick = (0..chars.len())
                .find(|&i| initial(i) && free(chars[i].1))
                .or_else(|| (0..chars.len()).find(|&i| free(chars[i].1)));
            match pick {
                Some(i) => {
                    let (at, c) = chars[i];
                    taken.push(lower(c));
                    format!("{}_{}", &label[..at], &label[at..])
                }
                None => label,
            }
        })
        .collect()
}

fn lower(c: char) -> char {
    c.to_ascii_lowercase()
}

/// The accelerator a label marks with `_` ("__" is a literal underscore).
fn marked(label: &str) -> Option<char> {
    let mut chars = label.chars();
    while let Some(c) = chars.next() {
        if c == '_' {
            match chars.next() {
                Some('_') => continue,
                next => return next.map(lower),
            }
        }
    }
    None
}

/// A label as displayed: accelerator markers removed.
fn plain(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = label.chars();
    while let Some(c) = chars.next() {
        if c == '_' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerators_are_distinct() {
        let got = with_accelerators(&["Allow", "Deny", "Allow for this process"]);
        assert_eq!(got, ["_Allow", "_Deny", "Allow _for this process"]);
        let got = with_accelerators(&["_Yes", "Yet another", "__x"]);
        assert_eq!(got, ["_Yes", "Yet _another", "__x"]);
        assert_eq!(plain("Allow _for this__one"), "Allow for this_one");
    }

    #[test]
    fn fit_neutralises_and_cuts() {
        assert_eq!(fit("a\tb\r\n\u{1b}[2J\u{202e}c%"), "a b\n?[2J?c%");
        let long = "%".repeat(1000);
        let cut = fit(&long);
        assert!(cut.ends_with('…'));
        assert!(cut.matches('%').count() * 3 + '…'.len_utf8() <= MAX_ENCODED);
    }

    #[test]
    fn timer_never_zero_and_rounds_down() {
        assert_eq!(whole_seconds(Duration::from_millis(300)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(2900)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(1 << 20)), u16::MAX);
    }

    #[test]
    fn desktop_without_display_has_no_program() {
        let surface = Surface::Desktop {
            display: None,
            wayland: Some(String::new()),
        };
        assert_eq!(find(surface, Some(Path::new("/bin/sh"))), None);
    }
}
