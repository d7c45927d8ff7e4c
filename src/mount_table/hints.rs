//! What a mount's project says about the dialect its readers get: `render = "..."` on the
//! mount in the directory's `openv.toml`, and the loaders its `package.json` depends on.
//! Read when the mount starts and again when the watcher reports that one of those files
//! changed, so an open (on the mount's serving thread, under the agent's lock) reads
//! neither. A directory the watcher could not watch falls back to one stat per file and
//! open, re-reading only a file whose stamp moved.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::render::Dialect;

/// The project files whose change refreshes the hints of the mounts next to them.
pub const FILES: [&str; 2] = [crate::project::FILE_NAME, "package.json"];

/// Identity and version of a file: a rewrite (in place or by rename) moves one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
    Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: ns(m.mtime(), m.mtime_nsec()),
        ctime_ns: ns(m.ctime(), m.ctime_nsec()),
    })
}

/// One mount's cached answers.
#[derive(Debug)]
pub struct ProjectHints {
    mount: PathBuf,
    /// Whether the watcher reports changes to the mount's directory; if not, opens
    /// compare stamps.
    watched: bool,
    /// `render` of this mount's `[[mount]]`, and the stamp of openv.toml when read.
    render: Option<Dialect>,
    render_stamp: Option<Stamp>,
    /// What package.json says, once a node reader needed it (`None`: not read yet).
    package: Option<(Option<Dialect>, Option<Stamp>)>,
}

impl ProjectHints {
    /// Reads `render` for the mount at `mount` from its directory's openv.toml.
    pub fn resolve(mount: &Path, watched: bool) -> Self {
        let mut h = Self {
            mount: mount.to_owned(),
            watched,
            render: None,
            render_stamp: None,
            package: None,
        };
        h.reread_render();
        h
    }

    fn dir(&self) -> Option<&Path> {
        self.mount.parent()
    }

    /// A file of the project next to this mount changed: read openv.toml again now (off
    /// the open path), and package.json when a node reader next needs it.
    pub fn changed(&mut self, file: &str) {
        if file == crate::project::FILE_NAME {
            self.reread_render();
        } else {
            self.package = None;
        }
    }

    /// The explicit dialect for every open of this mount, if openv.toml names one.
    pub fn render(&mut self) -> Option<Dialect> {
        if !self.watched && self.file_stamp(crate::project::FILE_NAME) != self.render_stamp {
            self.reread_render();
        }
        self.render
    }

    /// The dialect the project's package.json dependencies imply for node, if any.
    pub fn package(&mut self) -> Option<Dialect> {
        let current = match self.package {
            Some((d, s)) if self.watched || self.file_stamp("package.json") == s => return d,
            _ => self.file_stamp("package.json"),
        };
        let d = self.dir().and_then(crate::render::package_dialect);
        self.package = Some((d, current));
        d
    }

    fn file_stamp(&self, name: &str) -> Option<Stamp> {
        stamp(&self.dir()?.join(name))
    }

    /// Reads `render` again. A file that is gone clears it; one that cannot be read or
    /// parsed (half written by an editor, say) keeps the last good answer: `openv up`
    /// reports its errors.
    fn reread_render(&mut self) {
        let Some(dir) = self.dir() else {
            return;
        };
        let file = dir.join(crate::project::FILE_NAME);
        let now = stamp(&file);
        let render = match now {
            None => Some(None),
            Some(_) => crate::project::Project::load(&file).ok().map(|p| {
                p.mounts
                    .iter()
                    .find(|m| {
                        m.path == self.mount
                            || m.path.canonicalize().ok().as_deref() == Some(&self.mount)
                    })
                    .and_then(|m| m.render)
            }),
        };
        if let Some(render) = render {
            if render != self.render {
                tracing::info!(
                    mount = %self.mount.display(),
                    render = render.map_or("(by reader)", Dialect::as_str),
                    "read the mount's render setting from openv.toml"
                );
            }
            self.render = render;
        }
        self.render_stamp = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(dir: &Path, render: &str) {
        std::fs::write(
            dir.join("openv.toml"),
            format!("[[mount]]\npath = \".env\"\nenv = \"dev\"\nrender = \"{render}\"\n"),
        )
        .expect("write openv.toml");
    }

    #[test]
    fn a_watched_mount_reads_openv_toml_only_when_told() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        project(&root, "posix");
        let mut h = ProjectHints::resolve(&root.join(".env"), true);
        assert_eq!(h.render(), Some(Dialect::Posix));
        project(&root, "bun");
        assert_eq!(h.render(), Some(Dialect::Posix), "not re-read per open");
        h.changed("openv.toml");
        assert_eq!(h.render(), Some(Dialect::Bun));
        std::fs::write(root.join("openv.toml"), "[[mount").expect("write");
        h.changed("openv.toml");
        assert_eq!(
            h.render(),
            Some(Dialect::Bun),
            "a broken file keeps the last"
        );
        std::fs::remove_file(root.join("openv.toml")).expect("rm");
        h.changed("openv.toml");
        assert_eq!(h.render(), None);
    }

    #[test]
    fn an_unwatched_mount_compares_stamps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        let mut h = ProjectHints::resolve(&root.join(".env"), false);
        assert_eq!(h.render(), None);
        assert_eq!(h.package(), None);
        project(&root, "godotenv");
        assert_eq!(h.render(), Some(Dialect::Godotenv));
        std::fs::write(
            root.join("package.json"),
            r#"{"dependencies": {"vite": "8"}}"#,
        )
        .expect("write");
        assert_eq!(h.package(), Some(Dialect::DotenvExpand));
    }

    #[test]
    fn package_json_is_read_once_until_it_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical");
        let pkg = root.join("package.json");
        std::fs::write(&pkg, r#"{"devDependencies": {"next": "16"}}"#).expect("write");
        let mut h = ProjectHints::resolve(&root.join(".env"), true);
        assert_eq!(h.package(), Some(Dialect::DotenvExpand));
        std::fs::write(&pkg, "{}").expect("write");
        assert_eq!(h.package(), Some(Dialect::DotenvExpand), "cached");
        h.changed("package.json");
        assert_eq!(h.package(), None);
    }
}
