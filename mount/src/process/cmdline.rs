//! A process's command line from /proc.

use std::io::Read;

use procfs::process::Process;

/// Read as bytes, split like procfs's `cmdline()` (empty arguments dropped) but decoded
/// lossily: procfs fails on invalid UTF-8, and a process must not be able to blank its
/// command line in the prompt with one invalid byte.
pub(super) fn cmdline(process: &Process) -> Vec<String> {
    let mut raw = Vec::new();
    let read = process
        .open_relative("cmdline")
        .is_ok_and(|mut f| f.read_to_end(&mut raw).is_ok());
    if !read {
        return Vec::new();
    }
    raw.split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}
