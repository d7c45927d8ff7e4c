//! Version-manager shims (pyenv, rbenv, asdf, mise, volta): `python3` on PATH is then a
//! script or a link to the manager, and the process that opens `.env` is the interpreter it
//! picks for the directory. A rule must name that interpreter, so ask it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long the shim (and the interpreter behind it) may take to answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// A shim found on PATH and the interpreter it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub manager: &'static str,
    pub shim: PathBuf,
    pub exe: PathBuf,
    /// How it was found, for the user: `python3 -c 'import sys; print(sys.executable)'`.
    pub asked: String,
}

/// The executable a rule for `cmd` (as typed, found on PATH as `canonical`) must name: the
/// interpreter behind it when it is a shim, asked in `dir` (the rule's `--cwd`, else here),
/// where the manager picks the version. Says on stderr what was resolved.
///
/// # Errors
/// A shim that cannot be resolved.
pub fn rule_exe(cmd: &Path, canonical: PathBuf, dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir().context("current directory")?;
    let found = if cmd.as_os_str().as_encoded_bytes().contains(&b'/') {
        here.join(cmd)
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        match std::env::split_paths(&path)
            .map(|d| here.join(d).join(cmd))
            .find(|c| c.canonicalize().ok().as_ref() == Some(&canonical))
        {
            Some(found) => found,
            None => return Ok(canonical),
        }
    };
    let Some(r) = resolve(&found, &canonical, dir.unwrap_or(&here))? else {
        return Ok(canonical);
    };
    eprintln!(
        "{} is a {} shim: the rule names {}, the interpreter it runs here ({})",
        r.shim.display(),
        r.manager,
        r.exe.display(),
        r.asked
    );
    Ok(r.exe)
}

/// The manager whose shim `found` (as found on PATH, before resolving symlinks) is.
#[must_use]
pub fn manager_of(found: &Path, canonical: &Path) -> Option<&'static str> {
    let target = canonical.file_name().and_then(|n| n.to_str()).unwrap_or("");
    // volta's and mise's shims are links to their own binary.
    match target {
        "volta-shim" => return Some("volta"),
        "mise" | "rtx" if found.file_name() != canonical.file_name() => return Some("mise"),
        _ => {}
    }
    let dir = found.parent()?;
    if dir.file_name()? != "shims" {
        return None;
    }
    let root = dir.parent()?.to_string_lossy().into_owned();
    let script = std::fs::read(found).unwrap_or_default();
    let script = String::from_utf8_lossy(&script[..script.len().min(4096)]);
    ["pyenv", "rbenv", "asdf", "mise", "nodenv", "goenv"]
        .into_iter()
        .find(|m| root.contains(m) || script.contains(m))
        .or(Some("a version manager"))
}

/// The question that makes an interpreter print its own executable.
fn question(name: &str) -> Option<(&'static [&'static str], &'static str)> {
    let q: (&[&str], &str) = if name.starts_with("python") || name.starts_with("pypy") {
        (
            &["-c", "import sys; print(sys.executable)"],
            "sys.executable",
        )
    } else if name == "node" || name.starts_with("node") {
        (&["-p", "process.execPath"], "process.execPath")
    } else if name.starts_with("ruby") {
        (&["-e", "print RbConfig.ruby"], "RbConfig.ruby")
    } else {
        return None;
    };
    Some(q)
}

/// If `found` (the command's path on PATH; `canonical` with symlinks resolved) is a shim,
/// the interpreter it runs in `dir`. `None` when it is no shim.
///
/// # Errors
/// When it is a shim that cannot be resolved: says to name the interpreter's path instead.
pub fn resolve(found: &Path, canonical: &Path, dir: &Path) -> anyhow::Result<Option<Resolved>> {
    let Some(manager) = manager_of(found, canonical) else {
        return Ok(None);
    };
    let name = found
        .file_name()
        .and_then(|n| n.to_str())
        .context("the command's name is not UTF-8")?;
    let (mut cmd, asked) = match question(name) {
        Some((args, what)) => {
            let mut c = Command::new(found);
            c.args(args);
            (c, format!("asked {name} for {what}"))
        }
        // Any other program: the manager's own `which`.
        None => {
            let tool = match manager {
                "pyenv" | "rbenv" | "asdf" | "mise" | "nodenv" | "goenv" | "volta" => manager,
                _ => bail!(
                    "{} is a shim of an unknown version manager: name the real program with --exe /path/to/{name}",
                    found.display()
                ),
            };
            let mut c = Command::new(tool);
            c.args(["which", name]);
            (c, format!("asked `{tool} which {name}`"))
        }
    };
    cmd.current_dir(dir);
    let printed = run_bounded(cmd).with_context(|| {
        format!(
            "{} is a {manager} shim and could not be resolved ({asked}): name the interpreter with --exe /path/to/{name}",
            found.display()
        )
    })?;
    let exe = PathBuf::from(
        printed
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim(),
    );
    if !exe.is_absolute() {
        bail!(
            "{} is a {manager} shim, and {asked} gave no path: name the interpreter with --exe /path/to/{name}",
            found.display()
        );
    }
    // The kernel reports the file itself, with every symlink resolved.
    let exe = exe
        .canonicalize()
        .with_context(|| format!("{} (from the {manager} shim)", exe.display()))?;
    Ok(Some(Resolved {
        manager,
        shim: found.to_path_buf(),
        exe,
        asked,
    }))
}

/// Runs `cmd` with no input and returns its standard output, killing it after ASK_TIMEOUT.
fn run_bounded(mut cmd: Command) -> anyhow::Result<String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start it")?;
    let deadline = Instant::now() + ASK_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("it exited with {status}");
            }
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("no answer in {} s", ASK_TIMEOUT.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        use std::io::Read;
        stdout.read_to_string(&mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shims_are_told_from_programs() {
        let p = |s: &str| PathBuf::from(s);
        assert_eq!(
            manager_of(&p("/usr/bin/python3"), &p("/usr/bin/python3.11")),
            None
        );
        assert_eq!(
            manager_of(
                &p("/home/u/.volta/bin/node"),
                &p("/home/u/.volta/bin/volta-shim")
            ),
            Some("volta")
        );
        assert_eq!(
            manager_of(
                &p("/home/u/.local/share/mise/shims/node"),
                &p("/usr/local/bin/mise")
            ),
            Some("mise")
        );
        // A shims directory whose script does not exist still counts, by its root's name.
        assert_eq!(
            manager_of(
                &p("/home/u/.rbenv/shims/ruby"),
                &p("/home/u/.rbenv/shims/ruby")
            ),
            Some("rbenv")
        );
        assert_eq!(question("python3.12").map(|q| q.1), Some("sys.executable"));
        assert_eq!(question("node").map(|q| q.1), Some("process.execPath"));
        assert_eq!(question("ruby").map(|q| q.1), Some("RbConfig.ruby"));
        assert_eq!(question("bundle"), None);
    }
}
