//! Checks before a path becomes a mount: what is there now, and git.

use std::fs;
use std::io::Write;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// What occupies the mount path.
#[derive(Debug, PartialEq, Eq)]
pub enum Existing {
    Missing,
    EmptyFile,
    /// A regular file with content: a plaintext .env to import first.
    Plaintext,
    Fifo,
    /// Anything else (directory, symlink, socket...).
    Other(&'static str),
}

pub fn inspect(path: &Path) -> Existing {
    match fs::symlink_metadata(path) {
        Err(_) => Existing::Missing,
        Ok(m) if m.file_type().is_symlink() => Existing::Other("a symlink"),
        Ok(m) if m.is_dir() => Existing::Other("a directory"),
        Ok(m) if m.file_type().is_fifo() => Existing::Fifo,
        // The not-serving placeholder of a mount that was not stopped for good holds
        // nothing to import.
        Ok(m) if m.is_file() && (m.len() == 0 || openv_mount::is_placeholder(path)) => {
            Existing::EmptyFile
        }
        Ok(m) if m.is_file() => Existing::Plaintext,
        Ok(_) => Existing::Other("a special file"),
    }
}

/// Overwrites a plaintext file with zeros, syncs, then removes it.
pub fn shred(path: &Path) -> std::io::Result<()> {
    let len = fs::metadata(path)?.len();
    {
        let mut f = fs::OpenOptions::new().write(true).open(path)?;
        let zeros = vec![0u8; 64 * 1024];
        let mut left = len;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_all()?;
    }
    fs::remove_file(path)
}

fn git(dir: &Path, args: &[&str]) -> Option<bool> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()
        .map(|s| s.success())
}

/// Refuses a path tracked by git; makes sure it is git-ignored, and with it the names editors
/// save copies under (vim's swap file, backup `~` files, emacs' lock and backups), which hold
/// the plaintext of a mounted file. Returns a note for the user when `.gitignore` was
/// changed. Outside a work tree (or without git) does nothing.
pub fn check_git(path: &Path) -> Result<Option<String>, String> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Ok(None);
    };
    if git(dir, &["rev-parse", "--is-inside-work-tree"]) != Some(true) {
        return Ok(None);
    }
    if git(dir, &["ls-files", "--error-unmatch", "--", name]) == Some(true) {
        return Err(format!(
            "{} is tracked by git: run `git -C {} rm --cached {name}` and commit, then mount again",
            path.display(),
            dir.display()
        ));
    }
    // vim names the swap file of `.env` `.env.swp` and of `app.env` `.app.env.swp`.
    let swap = if name.starts_with('.') {
        name.to_owned()
    } else {
        format!(".{name}")
    };
    // (pattern, a file name it must cover)
    let wanted = [
        (name.to_owned(), name.to_owned()),
        (format!("{swap}.sw?"), format!("{swap}.swp")),
        (format!("{name}.*.swp"), format!("{name}.local.swp")),
        (format!("{name}~"), format!("{name}~")),
        (format!(".#{name}"), format!(".#{name}")),
    ];
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(_, example)| {
            git(dir, &["check-ignore", "-q", "--no-index", "--", example]) != Some(true)
        })
        .map(|(pattern, _)| pattern.as_str())
        .collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let ignore = dir.join(".gitignore");
    let mut text = fs::read_to_string(&ignore).unwrap_or_default();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    for pattern in &missing {
        text.push_str(pattern);
        text.push('\n');
    }
    let new = !ignore.exists();
    fs::write(&ignore, text).map_err(|e| format!("cannot update {}: {e}", ignore.display()))?;
    if new {
        // The agent's umask is 077; a .gitignore is an ordinary project file.
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(&ignore, fs::Permissions::from_mode(0o644));
    }
    Ok(Some(format!(
        "added {} to {}",
        missing.join(" "),
        ignore.display()
    )))
}

/// Removes the not-serving placeholder a mount that is not served any more left behind
/// (or empties it where the user's empty file was). Only the placeholder: an empty file
/// there now is the user's, put back by the unmount.
pub fn remove_placeholder(path: &Path) {
    openv_mount::clear_placeholder(path);
}
