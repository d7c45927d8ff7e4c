//! Profiles: a TOML file (or the built-in `strict`) that adds restrictions to the
//! defaults. A profile has no key that loosens them: that would need a proof of the human,
//! which a guarded terminal cannot give.
//!
//! ```toml
//! forbid = ["~/work/other-client", "/srv/keys/deploy.key"]  # neither read nor written
//! read_only = ["./.git/hooks"]                             # readable, never written
//! caches = false                                           # tool caches not writable
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
}

/// The restrictions a profile adds, its paths absolute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    pub forbid: Vec<PathBuf>,
    pub read_only: Vec<PathBuf>,
    /// Tool caches stay writable (the default).
    pub caches: bool,
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
                read_only: Vec::new(),
                caches: false,
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
        Ok(Self {
            forbid: f.forbid.iter().map(resolve).collect::<Result<_, _>>()?,
            read_only: f.read_only.iter().map(resolve).collect::<Result<_, _>>()?,
            // Only `false` changes anything: the default is already `true`.
            caches: f.caches.unwrap_or(true),
        })
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
}
