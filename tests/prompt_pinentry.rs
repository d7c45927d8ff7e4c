//! The real pinentry programs answering openv's questions: pinentry-curses and
//! pinentry-tty in tmux, pinentry-gtk-2 under Xvfb, answered with keys the way a person
//! would press them. A missing tool skips the test, or fails it when `CI` is set.

mod common;

use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::pinentries::Pinentries;
use common::tmux::Tmux;
use common::tools::require_tools as have;
use common::xvfb::{Xvfb, poll};
use openv::prompt::pinentry::{self, Program};
use openv::prompt::{Answer, PromptError, Question, Surface};

const TITLE: &str = "openv: read environment \"prod\"?";
const CHAIN: &str = "chain: cat <- bash <- node /usr/lib/codex/bin/codex.js";
const WARNING: &str = "WARNING: an AI agent (codex) started this process.";
const ALT: &str = "Allow for this process";

fn question(timeout: Duration) -> Question {
    Question {
        title: TITLE.into(),
        description: format!(
            "Process cat (pid 4242) wants to read .env in /home/dev/shop\n\
             exe: /usr/bin/cat   uid: 1000\n{CHAIN}\n{WARNING}"
        ),
        allow_label: "Allow once".into(),
        deny_label: "Deny".into(),
        alt_label: Some(ALT.into()),
        timeout,
    }
}

// ---------------------------------------------------------------------------------
// Terminal: tmux

#[test]
fn curses_shows_the_question_and_enter_allows() {
    let Some((tmux, program)) = terminal("pinentry-curses") else {
        return;
    };
    let asked = ask(&program, question(Duration::from_secs(30)));
    // The buttons are drawn last: once they show, the whole dialog is on screen.
    let screen = tmux.wait_for("<Deny>");
    println!(
        "--- pinentry-curses on {} ---\n{screen}",
        tmux.tty().display()
    );
    for line in [
        TITLE,
        "exe: /usr/bin/cat",
        CHAIN,
        WARNING,
        "<Allow once>",
        ALT,
        "<Deny>",
    ] {
        assert!(screen.contains(line), "{line:?} not on screen:\n{screen}");
    }
    tmux.keys(&["Enter"]); // curses starts with the focus on OK
    assert_eq!(answer(asked), Answer::Allow);
}

#[test]
fn curses_deny_and_the_alt_button() {
    let Some((tmux, program)) = terminal("pinentry-curses") else {
        return;
    };
    // Buttons: <Allow once> <Allow for this process> <Deny>.
    let asked = ask(&program, question(Duration::from_secs(30)));
    tmux.wait_for("WARNING");
    tmux.keys(&["Right", "Right", "Enter"]);
    assert_eq!(answer(asked), Answer::Deny);

    let asked = ask(&program, question(Duration::from_secs(30)));
    tmux.wait_for("WARNING");
    tmux.keys(&["Right", "Enter"]);
    let screen = tmux.wait_for("Confirm: Allow for this process");
    assert!(screen.contains(CHAIN), "{screen}");
    tmux.keys(&["Enter"]);
    assert_eq!(answer(asked), Answer::AllowAlt);

    // The second step can still be refused.
    let asked = ask(&program, question(Duration::from_secs(30)));
    tmux.wait_for("WARNING");
    tmux.keys(&["Right", "Enter"]);
    tmux.wait_for("Confirm:");
    tmux.keys(&["Right", "Enter"]);
    assert_eq!(answer(asked), Answer::Deny);
}

#[test]
fn curses_unanswered_is_denied_in_time() {
    let Some((tmux, program)) = terminal("pinentry-curses") else {
        return;
    };
    let asked = ask(&program, question(Duration::from_secs(2)));
    tmux.wait_for("WARNING");
    let (result, took) = finish(asked);
    assert_eq!(result.expect("no error on timeout"), Answer::Deny);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    assert!(!tmux.screen().contains("WARNING"), "terminal not restored");
}

#[test]
fn curses_is_stopped_at_the_deadline_even_after_a_key_press() {
    let Some((tmux, program)) = terminal("pinentry-curses") else {
        return;
    };
    let reaper = Pinentries::for_tty(tmux.tty());
    let asked = ask(&program, question(Duration::from_secs(2)));
    tmux.wait_for("WARNING");
    assert_eq!(reaper.pinentries().len(), 1, "the pinentry is seen");
    tmux.keys(&["x"]); // any key stops pinentry-curses' own timer
    let (result, took) = finish(asked);
    assert_eq!(result.expect("a deadline is a denial"), Answer::Deny);
    assert!(took < Duration::from_secs(4), "took {took:?}");
    wait_until("pinentry-curses terminated", || {
        reaper.pinentries().is_empty()
    });
}

#[test]
fn curses_hidden_input() {
    let Some((tmux, program)) = terminal("pinentry-curses") else {
        return;
    };
    let secret = "s3cr%et v@lue\\_42";
    let asked = thread::spawn(move || {
        pinentry::ask_secret(&program, TITLE, "Value of STRIPE_KEY", "Value:", secs(30))
    });
    tmux.wait_for("STRIPE_KEY");
    tmux.type_text(secret);
    assert!(!tmux.screen().contains("v@lue"), "input is echoed");
    tmux.keys(&["Enter"]);
    let value = asked
        .join()
        .expect("thread")
        .expect("asked")
        .expect("a value");
    assert_eq!(value.expose(), secret);
}

#[test]
fn tty_answers_by_letter() {
    let Some((tmux, program)) = terminal("pinentry-tty") else {
        return;
    };
    // Accelerators assigned by openv: Allow once = a, Deny = d, Allow for this process = f.
    for (keys, want) in [("a", Answer::Allow), ("d", Answer::Deny)] {
        let asked = ask(&program, question(Duration::from_secs(30)));
        let screen = tmux.wait_for("[adf]");
        assert!(
            screen.contains(CHAIN) && screen.contains(WARNING),
            "{screen}"
        );
        tmux.keys(&[keys]);
        assert_eq!(answer(asked), want);
        tmux.clear();
    }
    let asked = ask(&program, question(Duration::from_secs(30)));
    tmux.wait_for("[adf]");
    tmux.keys(&["f"]);
    tmux.wait_for("Confirm: Allow for this process");
    tmux.wait_for("[fd]");
    tmux.keys(&["f"]);
    assert_eq!(answer(asked), Answer::AllowAlt);
}

#[test]
fn tty_unanswered_is_denied_in_time() {
    let Some((tmux, program)) = terminal("pinentry-tty") else {
        return;
    };
    let asked = ask(&program, question(Duration::from_secs(2)));
    tmux.wait_for("[adf]");
    let (result, took) = finish(asked);
    assert_eq!(result.expect("no error on timeout"), Answer::Deny);
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

/// pinentry-tty answers NOTOK when it cannot use its terminal; that must not grant.
#[test]
fn an_unusable_terminal_never_allows() {
    if !have(&["pinentry-tty", "pinentry-curses"]) {
        return;
    }
    for name in ["pinentry-tty", "pinentry-curses"] {
        let surface = Surface::Terminal {
            tty: "/dev/pts/nonexistent".into(),
        };
        let program = pinentry::find(surface, Some(Path::new(name))).expect(name);
        let (result, took) = finish(ask(&program, question(Duration::from_secs(5))));
        assert!(
            !matches!(result, Ok(Answer::Allow | Answer::AllowAlt)),
            "{name}: {result:?}"
        );
        assert!(took < Duration::from_secs(7), "{name} took {took:?}");
    }
}

#[test]
fn find_picks_by_surface() {
    if !have(&["pinentry-curses", "pinentry-tty"]) {
        return;
    }
    let tty = Surface::Terminal {
        tty: "/dev/pts/0".into(),
    };
    let found = pinentry::find(tty.clone(), None).expect("a terminal pinentry");
    assert_eq!(found.path.file_name(), Some("pinentry-curses".as_ref()));
    let tty_program = pinentry::find(tty.clone(), Some(Path::new("pinentry-tty")));
    assert!(tty_program.expect("by name").path.is_absolute());
    assert!(pinentry::find(tty, Some(Path::new("/nonexistent/pinentry"))).is_none());
    let headless = Surface::Desktop {
        display: None,
        wayland: None,
    };
    assert!(pinentry::find(headless, None).is_none());
}

// ---------------------------------------------------------------------------------
// Desktop: Xvfb

#[test]
fn gtk2_dialog_buttons() {
    let Some((x, program)) = desktop() else {
        return;
    };

    let mut asked = Some(ask(&program, question(Duration::from_secs(30))));
    x.wait_dialog(&mut asked);
    let asked = asked.expect("asked");
    let shot = x.screenshot("pinentry-gtk2-dialog.png");
    println!("screenshot: {}", shot.display());
    x.key(&["Tab", "Tab", "Return"]); // Deny (focused) -> Allow for this process -> Allow once
    assert_eq!(answer(asked), Answer::Allow);

    let asked = ask(&program, question(Duration::from_secs(30)));
    x.wait_window();
    x.key(&["Return"]); // gtk2 starts with the focus on Cancel, i.e. Deny
    assert_eq!(answer(asked), Answer::Deny);

    let asked = ask(&program, question(Duration::from_secs(30)));
    x.wait_window();
    x.key(&["Escape"]);
    assert_eq!(answer(asked), Answer::Deny);

    let asked = ask(&program, question(Duration::from_secs(30)));
    let first = x.wait_window();
    x.press_until_next("alt+f", &first);
    x.screenshot("pinentry-gtk2-confirm-alt.png");
    x.key(&["alt+f"]);
    assert_eq!(answer(asked), Answer::AllowAlt);
}

#[test]
fn gtk2_hidden_input() {
    let Some((x, program)) = desktop() else {
        return;
    };
    let secret = "s3cr%et v@lue\\_ü 42";

    let p = program.clone();
    let asked = thread::spawn(move || {
        pinentry::ask_secret(&p, TITLE, "Value of STRIPE_KEY", "Value:", secs(30))
    });
    x.wait_window();
    x.run("xdotool", &["type", "--delay", "30", secret]);
    x.screenshot("pinentry-gtk2-secret.png");
    x.key(&["Return"]);
    let value = asked
        .join()
        .expect("thread")
        .expect("asked")
        .expect("a value");
    assert_eq!(value.expose(), secret);

    let asked = thread::spawn(move || {
        pinentry::ask_secret(&program, TITLE, "Value of STRIPE_KEY", "Value:", secs(30))
    });
    x.wait_window();
    x.key(&["Escape"]);
    assert!(asked.join().expect("thread").expect("asked").is_none());
}

// ---------------------------------------------------------------------------------
// Helpers

type Asked = JoinHandle<(Result<Answer, PromptError>, Duration)>;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ask(program: &Program, q: Question) -> Asked {
    let program = program.clone();
    thread::spawn(move || {
        let started = Instant::now();
        (pinentry::confirm(&program, &q), started.elapsed())
    })
}

fn finish(asked: Asked) -> (Result<Answer, PromptError>, Duration) {
    asked.join().expect("confirm thread panicked")
}

fn answer(asked: Asked) -> Answer {
    finish(asked).0.expect("confirm")
}

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    assert!(
        poll(Duration::from_secs(20), done),
        "timed out waiting: {what}"
    );
}

fn terminal(name: &str) -> Option<(Terminal, Program)> {
    if !have(&["tmux", name]) {
        return None;
    }
    // The pane runs something that never reads the terminal, so pinentry gets every key.
    let tmux = Terminal(Tmux::start(100, 32, "sleep 100000"));
    let surface = Surface::Terminal { tty: tmux.tty() };
    let program = pinentry::find(surface, Some(Path::new(name))).expect("found");
    Some((tmux, program))
}

/// A tmux pane that kills the pinentries left on its terminal before tmux goes.
struct Terminal(Tmux);

impl std::ops::Deref for Terminal {
    type Target = Tmux;
    fn deref(&self) -> &Tmux {
        &self.0
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        Pinentries::for_tty(self.tty()).kill_all();
    }
}

fn desktop() -> Option<(Xvfb, Program)> {
    if !have(&["Xvfb", "xdotool", "import", "pinentry-gtk-2"]) {
        return None;
    }
    let x = Xvfb::start();
    let surface = Surface::Desktop {
        display: Some(x.display.clone()),
        wayland: None,
    };
    let program = pinentry::find(surface, Some(Path::new("pinentry-gtk-2"))).expect("found");
    Some((x, program))
}
