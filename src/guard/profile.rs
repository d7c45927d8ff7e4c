//! Profiles: a TOML file (or the built-in `strict`) that adds restrictions to the
//! defaults, or loosens them. Loosening keys (`readable`, `writable`)
//! take effect only with a proof of the human at start (`cli::guard`), since a profile
//! in the project is a file the agent can edit; `OPENV_HOME` and key files are never
//! loosened.
//!
//! ```toml
//! forbid = ["~/work/other-client", "/srv/keys/deploy.key"]  # neither read nor written
//! read_only = ["./.git/hooks"]                             # readable, never written
//! caches = false                                           # tool caches not writable
//! readable = ["~/.aws"]            # loosens: a default credential store made readable
//! writable = ["~/.codex"]          # loosens: writable outside the project
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::defaults;
use super::error::GuardError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    forbid: Vec<String>,
    #[serde(default)]
    read_only: Vec<String>,
    caches: Option<bool>,
    #[serde(default)]
    readable: Vec<String>,
    #[serde(default)]
    writable: Vec<String>,
}

/// The restrictions a profile adds, its paths absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub forbid: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    /// Tool caches stay writable (the default).
    pub caches: bool,
    /// Loosens: default-forbidden paths (credential stores) made readable.
    pub readable: Vec<PathBuf>,
    /// Loosens: paths made writable (outside the project, or read-only by default).
    pub writable: Vec<PathBuf>,
}

impl Profile {
    pub fn none() -> Self {
        Self {
            caches: true,
            ..Self::default()
        }
    }

    /// `strict`, or the TOML file at `spec`; `~/` is `home`, `./` the project.
    pub fn load(spec: &str, home: &Path, project: &Path) -> Result<Self, GuardError> {
        if spec == "strict" {
            return Ok(Self {
                forbid: defaults::STRICT_FORBID
                    .iter()
                    .map(|p| home.join(p))
                    .collect(),
                caches: false,
                ..Self::default()
            });
        }
        let text = std::fs::read_to_string(spec).map_err(|source| GuardError::ProfileRead {
            path: spec.to_owned(),
            source,
        })?;
        Self::parse(spec, &text, home, project)
    }

    fn parse(spec: &str, text: &str, home: &Path, project: &Path) -> Result<Self, GuardError> {
        let f: File = toml::from_str(text).map_err(|e| GuardError::Profile {
            path: spec.to_owned(),
            // The first line names the key; the rest repeats the file.
            message: e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_owned(),
        })?;
        let resolve = |raw: &String| -> Result<PathBuf, GuardError> {
            let p = if let Some(rest) = raw.strip_prefix("~/") {
                home.join(rest)
            } else {
                project.join(raw)
            };
            if p.symlink_metadata().is_err() {
                return Err(GuardError::NoSuchPath {
                    profile: spec.to_owned(),
                    path: raw.clone(),
                });
            }
            Ok(p)
        };
        // A loosened path is resolved once, here: what the human is shown is what is
        // granted, never a symlink in the project that points at `~/.ssh`.
        let loosened = |raw: &String| -> Result<PathBuf, GuardError> {
            let p = resolve(raw)?;
            p.canonicalize().map_err(|_| GuardError::NoSuchPath {
                profile: spec.to_owned(),
                path: raw.clone(),
            })
        };
        Ok(Self {
            forbid: f.forbid.iter().map(resolve).collect::<Result<_, _>>()?,
            read_only: f.read_only.iter().map(resolve).collect::<Result<_, _>>()?,
            // Only `false` changes anything: the default is already `true`.
            caches: f.caches.unwrap_or(true),
            readable: f.readable.iter().map(loosened).collect::<Result<_, _>>()?,
            writable: f.writable.iter().map(loosened).collect::<Result<_, _>>()?,
        })
    }

    /// What this profile loosens, one phrase each (empty: it only restricts), with the
    /// defaults under each path that it opens (`home`: the user's `$HOME`).
    pub fn loosens(&self, home: &Path) -> Vec<String> {
        let under = |l: &Path, lists: &[&[&str]]| -> Vec<String> {
            lists
                .iter()
                .flat_map(|list| list.iter())
                .map(|d| super::expand::canonical(&home.join(d)))
                .filter(|d| d.starts_with(l) && d != l)
                .map(|d| d.display().to_string())
                .collect()
        };
        let phrase = |what: &str, l: &Path, opened: Vec<String>| {
            if opened.is_empty() {
                format!("{what} {}", l.display())
            } else {
                format!("{what} {} (opening {})", l.display(), opened.join(", "))
            }
        };
        let readable = self
            .readable
            .iter()
            .map(|l| phrase("readable", l, under(l, &[defaults::CREDENTIALS])));
        let writable = self.writable.iter().map(|l| {
            phrase(
                "writable",
                l,
                under(l, &[defaults::CREDENTIALS, defaults::HUMAN_CODE]),
            )
        });
        readable.chain(writable).collect()
    }

    /// Whether the loosened paths still resolve to themselves (no symlink put in their
    /// way since they were read, for example while the human was typing the proof).
    pub fn loosened_unchanged(&self) -> bool {
        self.readable
            .iter()
            .chain(&self.writable)
            .all(|p| p.canonicalize().is_ok_and(|c| &c == p))
    }

    /// Refuses a loosening that reaches `protected` (OPENV_HOME, key files): no profile
    /// opens openv's own files.
    pub fn check_protected(&self, protected: &[PathBuf]) -> Result<(), GuardError> {
        for p in self.readable.iter().chain(&self.writable) {
            let p = super::expand::canonical(p);
            if let Some(hit) = protected
                .iter()
                .map(|q| super::expand::canonical(q))
                .find(|q| q.starts_with(&p) || p.starts_with(q))
            {
                return Err(GuardError::Protected {
                    path: p.display().to_string(),
                    protected: hit.display().to_string(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_profile_adds_paths_and_drops_caches() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("keys")).unwrap();
        let p = Profile::parse(
            "p.toml",
            "forbid = [\"~/keys\"]\nread_only = [\"keys\"]\ncaches = false\n",
            t.path(),
            t.path(),
        )
        .unwrap();
        assert_eq!(p.forbid, vec![t.path().join("keys")]);
        assert_eq!(p.read_only, vec![t.path().join("keys")]);
        assert!(!p.caches);
    }

    #[test]
    fn an_unknown_key_or_missing_path_is_one_clear_line() {
        let t = tempfile::tempdir().unwrap();
        let e = Profile::parse("p.toml", "allow = [\"~/.ssh\"]\n", t.path(), t.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `allow`"), "{e}");
        assert!(!e.contains('\n'), "{e}");
        let e = Profile::parse("p.toml", "forbid = [\"~/nope\"]\n", t.path(), t.path())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "profile p.toml: ~/nope does not exist: fix the path or remove it from the profile"
        );
    }

    #[test]
    fn loosening_keys_are_listed_and_never_reach_openv_home() {
        let t = tempfile::tempdir().unwrap();
        for d in [".codex", ".aws", "ovh/keys"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        let p = Profile::parse(
            "p.toml",
            "writable = [\"~/.codex\"]\nreadable = [\"~/.aws\"]\n",
            t.path(),
            t.path(),
        )
        .unwrap();
        let l = p.loosens(t.path());
        assert_eq!(l.len(), 2, "{l:?}");
        assert!(l[0].starts_with("readable ") && l[1].starts_with("writable "));
        assert!(l[0].contains(".aws") && !l[0].contains("(opening"), "{l:?}");
        assert!(p.loosened_unchanged());
        // Through a symlink in the project: the target is what is shown and granted.
        std::os::unix::fs::symlink(t.path().join(".aws"), t.path().join("docs")).unwrap();
        let p = Profile::parse("p.toml", "readable = [\"docs\"]\n", t.path(), t.path()).unwrap();
        let l = p.loosens(t.path());
        assert!(l[0].contains("/.aws") && !l[0].contains("docs"), "{l:?}");
        let all = Profile::parse("p.toml", "writable = [\"~/\"]\n", t.path(), t.path()).unwrap();
        let l = all.loosens(t.path());
        assert!(
            l[0].contains("(opening") && l[0].contains(".bashrc") && l[0].contains(".ssh"),
            "{l:?}"
        );
        assert!(p.check_protected(&[t.path().join("ovh")]).is_ok());
        assert!(Profile::none().loosens(t.path()).is_empty());
        for bad in ["~/ovh", "~/ovh/keys", "~/"] {
            let p = Profile::parse(
                "p.toml",
                &format!("readable = [\"{bad}\"]\n"),
                t.path(),
                t.path(),
            )
            .unwrap();
            let e = p
                .check_protected(&[t.path().join("ovh")])
                .unwrap_err()
                .to_string();
            assert!(e.contains("openv's own files"), "{bad}: {e}");
        }
    }
}
