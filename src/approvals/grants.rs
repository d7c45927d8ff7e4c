//! Session grants given at a prompt. They live in the agent's memory only and all end
//! when the vault is locked.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use openv_mount::Reader;
use serde::{Deserialize, Serialize};

use super::exehash::ExeHashes;

/// How far an approval reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// This open only.
    Once,
    /// This process (pid + start time) until it exits.
    Process,
    /// This executable (path + content hash), optionally under a directory, for a time.
    Exe,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Process => "process",
            Self::Exe => "exe",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "once" => Some(Self::Once),
            "process" => Some(Self::Process),
            "exe" => Some(Self::Exe),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Process {
        pid: i32,
        start_time: u64,
    },
    Exe {
        path: PathBuf,
        hash: String,
        cwd: Option<PathBuf>,
        until: Instant,
    },
}

#[derive(Debug, Clone)]
struct Grant {
    id: u64,
    env: String,
    kind: Kind,
}

#[derive(Debug, Default)]
pub struct Grants {
    grants: Vec<Grant>,
    next: u64,
    hashes: ExeHashes,
}

impl Grants {
    pub fn clear(&mut self) {
        self.grants.clear();
    }

    /// Ends every grant for `env`.
    pub fn forget_env(&mut self, env: &str) {
        self.grants.retain(|g| g.env != env);
    }

    pub fn len(&self) -> usize {
        self.grants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Records a grant for `reader` reading `env`; `Once` records nothing.
    pub fn add(
        &mut self,
        env: &str,
        reader: &Reader,
        scope: Scope,
        ttl: Duration,
        cwd: Option<PathBuf>,
    ) {
        let kind = match scope {
            Scope::Once => return,
            Scope::Process => Kind::Process {
                pid: reader.pid,
                start_time: reader.start_time,
            },
            Scope::Exe => {
                let Some(path) = reader.exe.clone() else {
                    return;
                };
                let Some(hash) = self.hashes.hash(&path) else {
                    return;
                };
                Kind::Exe {
                    path,
                    hash,
                    cwd,
                    until: Instant::now() + ttl,
                }
            }
        };
        self.next += 1;
        self.grants.push(Grant {
            id: self.next,
            env: env.to_owned(),
            kind,
        });
    }

    /// The grant covering `reader`, described for the log. A reader an AI agent started
    /// (`agent_started`) is covered only by a grant for that very process.
    pub fn covering(&mut self, env: &str, reader: &Reader, agent_started: bool) -> Option<String> {
        let now = Instant::now();
        self.grants.retain(|g| match &g.kind {
            Kind::Exe { until, .. } => *until > now,
            Kind::Process { .. } => true,
        });
        let hashes = &mut self.hashes;
        self.grants.iter().find_map(|g| {
            if g.env != env {
                return None;
            }
            match &g.kind {
                Kind::Process { pid, start_time } => (reader.pid == *pid
                    && reader.start_time == *start_time)
                    .then(|| format!("process grant #{} (pid {pid})", g.id)),
                Kind::Exe { .. } if agent_started => None,
                Kind::Exe {
                    path,
                    hash,
                    cwd,
                    until,
                } => {
                    let same_exe = reader.exe.as_deref() == Some(path.as_path());
                    let in_dir = match (cwd, &reader.cwd) {
                        (None, _) => true,
                        (Some(d), Some(c)) => c.starts_with(d),
                        (Some(_), None) => false,
                    };
                    // The content hash catches a binary replaced at the same path.
                    (same_exe && in_dir && hashes.hash(path).as_ref() == Some(hash)).then(|| {
                        format!(
                            "exe grant #{} ({}, {} s left)",
                            g.id,
                            path.display(),
                            until.saturating_duration_since(now).as_secs()
                        )
                    })
                }
            }
        })
    }

    /// Drops process grants whose process is gone or was replaced.
    pub fn prune_exited(&mut self) {
        self.grants.retain(|g| match g.kind {
            Kind::Process { pid, start_time } => {
                super::describe::start_time(pid) == Some(start_time)
            }
            Kind::Exe { .. } => true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(pid: i32, start_time: u64) -> Reader {
        Reader {
            pid,
            tid: pid,
            uid: 0,
            exe: Some(PathBuf::from("/usr/bin/cat")),
            cmdline: vec![],
            cwd: None,
            start_time,
            ppid: 1,
            parents: vec![],
            no_new_privs: false,
        }
    }

    #[test]
    fn a_process_grant_does_not_cover_a_recycled_pid() {
        let mut g = Grants::default();
        g.add(
            "dev",
            &reader(4242, 100),
            Scope::Process,
            Duration::from_secs(60),
            None,
        );
        assert!(g.covering("dev", &reader(4242, 100), false).is_some());
        // Same pid, later start time: another process that got the number back.
        assert!(g.covering("dev", &reader(4242, 101), false).is_none());
        assert!(g.covering("prod", &reader(4242, 100), false).is_none());
        g.clear();
        assert!(g.covering("dev", &reader(4242, 100), false).is_none());
    }

    #[test]
    fn once_grants_nothing() {
        let mut g = Grants::default();
        g.add(
            "dev",
            &reader(1, 1),
            Scope::Once,
            Duration::from_secs(60),
            None,
        );
        assert!(g.is_empty());
    }
}
