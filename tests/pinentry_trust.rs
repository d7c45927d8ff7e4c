//! Which pinentry the agent runs, and that a timed-out one leaves nothing behind: a
//! configured program the user can replace is refused with one line, and a pinentry that
//! never answers is killed together with the processes it started.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::Openv;
use openv::prompt::pinentry::{self, Program};
use openv::prompt::{Answer, Question, Surface};

/// Speaks just enough Assuan to reach the question, starts a helper in the background,
/// then never answers.
const HANGING_PINENTRY: &str = r#"#!/bin/sh
sleep 600 &
echo $! > "$(dirname "$0")/helper.pid"
echo OK
while read -r line; do
    case "$line" in
        CONFIRM*|GETPIN*) sleep 600 ;;
        *) echo OK ;;
    esac
done
"#;

#[test]
fn a_timed_out_pinentry_is_killed_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pinentry-hangs");
    std::fs::write(&path, HANGING_PINENTRY).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = Program {
        path,
        surface: Surface::Terminal {
            tty: "/dev/null".into(),
        },
    };
    let q = Question {
        title: "openv: read environment \"dev\"?".into(),
        description: "Process cat (pid 1) wants to read .env".into(),
        allow_label: "Allow once".into(),
        deny_label: "Deny".into(),
        alt_label: None,
        timeout: Duration::from_secs(1),
    };
    let started = Instant::now();
    let answer = pinentry::confirm(&program, &q);
    assert!(
        !matches!(answer, Ok(Answer::Allow | Answer::AllowAlt)),
        "{answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let helper: i32 = std::fs::read_to_string(dir.path().join("helper.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while common::pid_alive(helper) {
        assert!(
            Instant::now() < until,
            "the pinentry's helper (pid {helper}) survived"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_configured_pinentry_the_user_can_replace_is_refused() {
    let o = Openv::empty();
    std::fs::create_dir(&o.home).unwrap();
    std::fs::set_permissions(&o.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let fake = o.dir.path().join("pinentry");
    std::fs::write(&fake, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o777)).unwrap();
    o.write_config(&format!("pinentry = \"{}\"\n", fake.display()));
    let e = o.err(&["status"]);
    assert!(e.contains("config.toml") && e.contains("is refused"), "{e}");
    assert!(e.contains("writable by group or others"), "{e}");
    // A program root installed is fine.
    o.write_config("pinentry = \"/bin/sh\"\n");
    o.ok(&["status"]);
}
