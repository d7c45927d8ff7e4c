//! Landlock only allows: to forbid a path inside a granted tree, grant its siblings
//! instead, one level at a time down to it. Entries created later in a directory so split
//! are not granted (they are unreachable inside the guard).

use std::path::{Path, PathBuf};

/// The paths to grant so that everything under `root` is covered except `forbidden` paths
/// and what lies beneath them. Symbolic links are never granted: a path through one
/// resolves to its target, which its own place in the tree decides.
pub fn grant_except(root: &Path, forbidden: &[PathBuf], out: &mut Vec<PathBuf>) {
    if forbidden.iter().any(|f| root.starts_with(f)) {
        return;
    }
    if !forbidden.iter().any(|f| f.starts_with(root)) {
        out.push(root.to_owned());
        return;
    }
    // Unreadable: nothing under it is granted.
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| !t.is_symlink()) {
            grant_except(&e.path(), forbidden, out);
        }
    }
}

/// `p` with its longest existing prefix made canonical, so a forbidden path written
/// through a symlink (or not yet created) still names the place the kernel checks.
pub fn canonical(p: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(c) = cur.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(c, |acc, part: &std::ffi::OsString| acc.join(part));
        }
        match (cur.file_name().map(ToOwned::to_owned), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                cur = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn siblings_are_granted_down_to_the_forbidden_path() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        for d in ["a/x", "a/secret/inner", "b"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("a/file"), b"").unwrap();
        std::os::unix::fs::symlink(root.join("a/secret"), root.join("link")).unwrap();
        let mut out = Vec::new();
        grant_except(&root, &[root.join("a/secret")], &mut out);
        out.sort();
        assert_eq!(
            out,
            vec![root.join("a/file"), root.join("a/x"), root.join("b")]
        );
    }

    #[test]
    fn a_missing_forbidden_path_still_splits_its_parent() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("home/work")).unwrap();
        let f = canonical(&root.join("home/.aws"));
        assert_eq!(f, root.join("home/.aws"));
        let mut out = Vec::new();
        grant_except(&root, &[f], &mut out);
        assert_eq!(out, vec![root.join("home/work")]);
    }

    #[test]
    fn a_root_inside_a_forbidden_path_gets_nothing() {
        let mut out = Vec::new();
        grant_except(Path::new("/a/b"), &[PathBuf::from("/a")], &mut out);
        assert!(out.is_empty());
    }
}
