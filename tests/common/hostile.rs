//! What a hostile caller brings: a preload library built here with `cc`, a fake program
//! that leaves a marker when run, and a way to run as the non-root test user.
#![allow(dead_code, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The non-root user scripts/test.sh creates.
pub const TEST_USER: &str = "openv-test";

/// A directory every user can enter and write (the test user's files go there).
pub fn open_dir(path: &Path) -> PathBuf {
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    path.to_owned()
}

/// Builds `dir/hook.so`, whose constructor appends the pid of every process it is loaded
/// into to `marker`.
pub fn preload_lib(dir: &Path, marker: &Path) -> PathBuf {
    let src = dir.join("hook.c");
    let lib = dir.join("hook.so");
    std::fs::write(
        &src,
        format!(
            "#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void hook(void) {{ FILE *f = fopen(\"{}\", \"a\"); if (f) {{ fprintf(f, \"%d\\n\", (int)getpid()); fclose(f); }} }}\n",
            marker.display()
        ),
    )
    .unwrap();
    let ok = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("cc (scripts/test.sh installs gcc)")
        .success();
    assert!(ok, "cc failed");
    std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    lib
}

/// `dir/name`: a script that writes `marker` and exits.
pub fn marker_program(dir: &Path, name: &str, marker: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!("#!/bin/sh\necho ran >> '{}'\nexit 1\n", marker.display()),
    )
    .unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

/// True when the tests run as root and can switch to [`TEST_USER`].
pub fn can_switch_user() -> bool {
    nix::unistd::geteuid().is_root()
        && Command::new("id")
            .arg(TEST_USER)
            .output()
            .is_ok_and(|o| o.status.success())
}

/// `program` as [`TEST_USER`] when the tests run as root, else as ourselves; with an
/// environment of only `vars` (plus what `runuser` sets).
pub fn as_user(program: &Path, vars: &[(&str, &str)]) -> Command {
    let mut c = if can_switch_user() {
        let mut c = Command::new("runuser");
        c.args(["-u", TEST_USER, "--", "env", "-i"]);
        c
    } else {
        let mut c = Command::new("env");
        c.arg("-i");
        c
    };
    for (k, v) in vars {
        c.arg(format!("{k}={v}"));
    }
    c.arg(program);
    c.stdin(std::process::Stdio::null());
    c
}

/// The lines of `/proc/PID/maps` naming `lib`.
pub fn maps_with(pid: i32, lib: &Path) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .lines()
        .filter(|l| l.contains(&*lib.to_string_lossy()))
        .map(str::to_owned)
        .collect()
}

/// `/proc/PID/environ` as `NAME=value` strings.
pub fn environ(pid: i32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|kv| !kv.is_empty())
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .collect()
}
