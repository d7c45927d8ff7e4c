//! Running a command and judging its output: one success check for every test.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// Asserts that `out` is a success (showing its stderr otherwise); returns its stdout.
#[track_caller]
pub fn assert_success(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// Runs `cmd` to the end and asserts success; returns its stdout.
#[track_caller]
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_success(&format!("{:?}", cmd.get_program()), &out)
}

/// (success, stdout, stderr) of a finished command, as text.
pub fn outcome(out: Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `cmd` with `stdin` as its input, capturing stdout and stderr.
pub fn with_stdin(cmd: &mut Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command may rightly exit before reading its input (bad arguments).
    match child.stdin.take().unwrap().write_all(stdin) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    child.wait_with_output().unwrap()
}

/// `cat .env` in `dir`, in the background, output captured: a reader of a mount.
pub fn spawn_cat(dir: &Path) -> Child {
    Command::new("cat")
        .arg(".env")
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}
