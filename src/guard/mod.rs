//! `openv guard -- AGENT`: the command runs in a Landlock domain with `NoNewPrivs` set.
//! [`Plan::new`] decides which paths it may read and write, [`abi::probe`] what the
//! kernel offers, [`restrict::enforce`] applies it to this process before the exec.
//! docs/guard.md says what this protects and what it does not.

pub mod abi;
mod defaults;
mod error;
mod expand;
pub mod profile;
pub mod restrict;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

pub use error::GuardError;
pub use profile::Profile;

use expand::{canonical, grant_except};

/// What the guard asks of the kernel, and what its paths are.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Granted reading and executing (everything but the forbidden paths).
    pub read: Vec<PathBuf>,
    /// Granted every file access (the project, temporary directories, devices, caches).
    pub write: Vec<PathBuf>,
}

/// Where the guard takes its paths from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// `OPENV_HOME`: vault, key slots, config, audit, mount records.
    pub openv_home: &'a Path,
    /// Key files: `OPENV_KEYFILE`, and any a profile forbids.
    pub keyfiles: Vec<PathBuf>,
    /// The user's `$HOME`.
    pub home: &'a Path,
    /// The project: writable, with what lies beneath it (its PATH entries too).
    pub project: &'a Path,
    /// `PATH`: its directories outside the project are never writable.
    pub path_var: Option<&'a OsStr>,
    pub profile: &'a Profile,
    /// Writable temporary directories: [`TEMP_DIRS`] (tests pass their own).
    pub temp_dirs: &'a [&'a str],
}

/// `/tmp`, `/var/tmp`, `/dev/shm`.
pub const TEMP_DIRS: &[&str] = defaults::TEMP;

impl Plan {
    pub fn new(i: &Inputs<'_>) -> Self {
        let project = canonical(i.project);
        let readable: Vec<PathBuf> = i.profile.readable.iter().map(|p| canonical(p)).collect();
        let writable: Vec<PathBuf> = i.profile.writable.iter().map(|p| canonical(p)).collect();
        // A proven profile's loosening: a default left out when a loosened path holds it.
        let loosened = |p: &PathBuf, by: &[PathBuf]| by.iter().any(|l| p.starts_with(l));
        // OPENV_HOME and key files: never loosened (`Profile::check_protected`).
        let mut forbidden: Vec<PathBuf> = vec![canonical(i.openv_home)];
        forbidden.extend(i.keyfiles.iter().map(|k| canonical(k)));
        forbidden.extend(
            defaults::CREDENTIALS
                .iter()
                .map(|p| canonical(&i.home.join(p)))
                .filter(|p| !loosened(p, &readable) && !loosened(p, &writable)),
        );
        forbidden.extend(i.profile.forbid.iter().map(|p| canonical(p)));

        let mut read_only = forbidden.clone();
        read_only.extend(
            defaults::HUMAN_CODE
                .iter()
                .map(|p| canonical(&i.home.join(p)))
                .filter(|p| !loosened(p, &writable)),
        );
        read_only.extend(i.profile.read_only.iter().map(|p| canonical(p)));
        read_only.extend(
            i.path_var
                .into_iter()
                .flat_map(std::env::split_paths)
                .filter(|d| d.is_absolute())
                .map(|d| canonical(&d))
                .filter(|d| !d.starts_with(&project) && !loosened(d, &writable)),
        );

        let mut plan = Self::default();
        grant_except(Path::new("/"), &forbidden, &mut plan.read);

        let mut roots: Vec<PathBuf> = vec![project];
        roots.extend(i.temp_dirs.iter().map(PathBuf::from));
        roots.extend(defaults::DEVICES.iter().map(PathBuf::from));
        if i.profile.caches {
            roots.extend(defaults::CACHES.iter().map(|p| i.home.join(p)));
        }
        roots.extend(writable);
        for root in roots {
            // Only what exists now: Landlock grants inodes, not names.
            if root.symlink_metadata().is_ok() {
                grant_except(&canonical(&root), &read_only, &mut plan.write);
            }
        }
        plan.write.sort();
        plan.write.dedup();
        plan
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_plan_splits_home_and_keeps_human_code_read_only() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().canonicalize().unwrap();
        let home = root.join("home");
        for d in [
            ".ssh",
            ".local/bin",
            ".local/share/openv",
            ".cache",
            "proj/bin",
            "src",
        ] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(home.join(".bashrc"), b"").unwrap();
        let path = std::env::join_paths([home.join(".local/bin"), home.join("proj/bin")]).unwrap();
        let strict = Profile::load("strict", &home, &home).unwrap();
        let plan_with = |profile: &Profile| {
            Plan::new(&Inputs {
                openv_home: &home.join(".local/share/openv"),
                keyfiles: vec![],
                home: &home,
                project: &home.join("proj"),
                path_var: Some(&path),
                profile,
                temp_dirs: &[],
            })
        };
        let plan = plan_with(&Profile::none());
        let reads = |p: &Path| plan.read.iter().any(|g| p.starts_with(g));
        let writes = |p: &Path| plan.write.iter().any(|g| p.starts_with(g));
        assert!(!reads(&home.join(".ssh/id_ed25519")));
        assert!(!reads(&home.join(".local/share/openv/vault.db")));
        assert!(reads(&home.join(".bashrc")));
        assert!(reads(&home.join("src")));
        assert!(!writes(&home.join(".bashrc")));
        assert!(!writes(&home.join(".local/bin/openv")));
        assert!(
            writes(&home.join("proj/bin/tool")),
            "a PATH dir inside the project"
        );
        assert!(writes(&home.join(".cache/pip")));
        assert!(!writes(&home.join("src/x")));
        let strict = plan_with(&strict);
        assert!(
            !strict
                .write
                .iter()
                .any(|g| g.starts_with(home.join(".cache")))
        );
        assert!(
            !strict
                .read
                .iter()
                .any(|g| home.join(".config/x").starts_with(g))
        );
    }
}
