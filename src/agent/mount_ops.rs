//! The agent's side of mounts: create, remove, restore, keep `st_size` true, and answer
//! every open of a virtual file.

use std::path::{Path, PathBuf};

use openv_mount::{Mode, Mount, OpenRequest, Placement, Reader};
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use super::state::{OpError, State};
use crate::approvals::pending::Outcome;
use crate::approvals::{Check, PromptJob, Verdict, describe};
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Response};
use crate::mounts::prepare::{self, Existing};
use crate::mounts::{mode_name, parse_mode};
use crate::store::{Backend, StoreError};

/// A FUSE file mount needs a file underneath; once unmounted, an empty one is ours.
pub fn remove_placeholder(path: &Path) {
    if prepare::inspect(path) == Existing::EmptyFile {
        let _ = std::fs::remove_file(path);
    }
}

fn mount_err(msg: impl Into<String>) -> OpError {
    OpError::Other(ErrorCode::Mount, msg.into())
}

/// The path a mount is known by: the real directory (symlinks and `..` resolved) plus the
/// file name, so `./.env`, `link/.env` and the real path are one mount whichever client
/// asks. `None` when the directory cannot be resolved (for example it was removed).
fn mount_key(path: &Path) -> Option<PathBuf> {
    let (dir, name) = (path.parent()?, path.file_name()?);
    Some(dir.canonicalize().ok()?.join(name))
}

fn invalid_path(path: &Path, why: &str) -> OpError {
    OpError::Other(
        ErrorCode::InvalidInput,
        format!("mount path {}: {why}", path.display()),
    )
}

impl State {
    pub(super) fn mount(
        &mut self,
        path: PathBuf,
        env: String,
        mode: &str,
        import: bool,
    ) -> Result<Response, OpError> {
        if !path.is_absolute() {
            return Err(invalid_path(&path, "give an absolute path"));
        }
        if path.file_name().is_none() {
            return Err(invalid_path(&path, "names no file"));
        }
        let path = mount_key(&path)
            .ok_or_else(|| invalid_path(&path, "its directory does not exist: create it first"))?;
        let mode = parse_mode(mode).ok_or_else(|| {
            OpError::Other(
                ErrorCode::InvalidInput,
                format!("unknown mode {mode:?}: use auto, fuse or fifo"),
            )
        })?;
        if mode == Mode::Fuse && !openv_mount::fuse_available() {
            return Err(mount_err(
                "FUSE is not usable here (/dev/fuse missing or not permitted): use --mode fifo, or install fuse3",
            ));
        }
        if let Some(e) = self.mounts.env_of(&path) {
            return Err(mount_err(format!(
                "{} is already a mount of environment {e}: run `openv unmount {}` first",
                path.display(),
                path.parent().unwrap_or(&path).display()
            )));
        }
        let mut notes = Vec::new();
        let mut imported = Vec::new();
        // Stale FUSE mount left by a crashed agent: clear it before looking at the path.
        if openv_mount::clean_stale(&path).unwrap_or(false) {
            notes.push(format!("removed a stale mount at {}", path.display()));
        }
        let existing = prepare::inspect(&path);
        match existing {
            Existing::Other(what) => {
                return Err(mount_err(format!(
                    "{} is {what}: move it away or choose another --file",
                    path.display()
                )));
            }
            Existing::Plaintext if !import => {
                return Err(mount_err(format!(
                    "{} is a plaintext file with content: run `openv mount --import -e {env}` to move its variables into {env} (the file is then removed), or move it away",
                    path.display()
                )));
            }
            _ => {}
        }
        if let Some(note) = prepare::check_git(&path).map_err(mount_err)? {
            notes.push(note);
        }
        if existing == Existing::Plaintext {
            let warnings;
            (imported, warnings) = self.import(&env, &path)?;
            notes.extend(warnings);
            prepare::shred(&path).map_err(|e| {
                mount_err(format!(
                    "imported, but cannot remove {}: {e}",
                    path.display()
                ))
            })?;
            notes.push(format!(
                "imported {} variable(s) into {env} and removed the plaintext file",
                imported.len()
            ));
        } else {
            // The environment must exist (an import creates it).
            self.vault()?.env_id(&env)?;
        }
        let placement = self
            .mounts
            .start(&path, &env, mode)
            .map_err(|e| mount_err(e.to_string()))?;
        if let Placement::InHiddenDir(d) = &placement {
            notes.push(format!(
                "{} could not take a file mount: it is a symlink into {}",
                path.display(),
                d.display()
            ));
        }
        let key = path.display().to_string();
        if let Err(e) = self
            .vault()
            .and_then(|v| v.record_mount(&key, &env, mode_name(mode)))
        {
            // Not recorded, not served: a retry must not find a mount already there.
            if let Some(m) = self.mounts.take(&path) {
                self.stop_mount(m, &path);
            }
            return Err(e.into());
        }
        self.refresh_path(&path, &env);
        if let Some(w) = self.watcher.as_mut() {
            w.watch(&path);
        }
        info!(path = %key, env = %env, mode = mode_name(mode), "mounted");
        self.audit(
            Event::new(EventKind::Mount)
                .env(env.clone())
                .detail(format!("{key} ({})", mode_name(mode))),
        );
        Ok(Response::Mounted {
            path: key,
            mode: mode_name(mode).into(),
            notes,
            imported,
        })
    }

    pub(super) fn unmount(&mut self, path: &Path) -> Result<Response, OpError> {
        // A record whose directory is gone is still removable by the path it was made with.
        let path = &mount_key(path).unwrap_or_else(|| path.to_owned());
        let key = path.display().to_string();
        let recorded = self.vault()?.forget_mount(&key)?;
        let live = self.mounts.take(path);
        if live.is_none() && !recorded {
            return Err(OpError::Other(
                ErrorCode::NotFound,
                format!("nothing is mounted at {key}: see `openv mounts`"),
            ));
        }
        if let Some(m) = live {
            m.unmount().map_err(|e| mount_err(e.to_string()))?;
        }
        self.unmounted(path);
        Ok(Response::Done)
    }

    /// Unmounts a mount already taken out of the table (its record gone or going): a
    /// failure is logged, and the path is cleaned and the unmount audited either way.
    pub(super) fn stop_mount(&mut self, m: Mount, path: &Path) {
        if let Err(e) = m.unmount() {
            warn!(path = %path.display(), error = %e, "unmount failed");
        }
        self.unmounted(path);
    }

    fn unmounted(&mut self, path: &Path) {
        remove_placeholder(path);
        let key = path.display().to_string();
        info!(path = %key, "unmounted");
        self.audit(Event::new(EventKind::Unmount).detail(key));
    }

    /// Mounts everything recorded in the vault (after a start or a crash).
    pub fn restore_mounts(&mut self) {
        let records = match self.vault().and_then(|v| v.list_mounts()) {
            Ok(r) => r,
            Err(StoreError::NoVault(_)) => return,
            Err(e) => {
                warn!(error = %e, "cannot read recorded mounts");
                return;
            }
        };
        for r in records {
            let path = PathBuf::from(&r.path);
            let _ = openv_mount::clean_stale(&path);
            let Some(mode) = parse_mode(&r.mode) else {
                continue;
            };
            let started = match prepare::inspect(&path) {
                Existing::Plaintext => Err("a plaintext file is now at this path".to_owned()),
                Existing::Other(what) => Err(format!("the path is now {what}")),
                _ => self
                    .mounts
                    .start(&path, &r.env, mode)
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            match started {
                Ok(()) => {
                    let mtime = self.env_mtime(&r.env);
                    self.mounts.set_content(&path, r.size, mtime);
                    if let Some(w) = self.watcher.as_mut() {
                        w.watch(&path);
                    }
                    info!(path = %r.path, env = %r.env, "mount restored");
                }
                Err(why) => {
                    warn!(path = %r.path, error = %why, "mount not restored");
                    self.mounts.mark_broken(&path, &r.env, &r.mode, why);
                }
            }
        }
    }

    /// A watched path changed: recreate a FIFO that was removed or replaced.
    pub fn repair(&mut self, path: &Path) {
        let Some(env) = self.mounts.env_of(path).map(str::to_owned) else {
            return;
        };
        let is_fifo_mount = self.mounts.mode_of(path) == Some(Mode::Fifo);
        if !is_fifo_mount || prepare::inspect(path) == Existing::Fifo {
            return;
        }
        warn!(path = %path.display(), "the FIFO was removed or replaced: recreating it");
        if let Some(old) = self.mounts.take(path) {
            drop(old);
        }
        match prepare::inspect(path) {
            Existing::Missing => match self.mounts.start(path, &env, Mode::Fifo) {
                Ok(_) => self.refresh_path(path, &env),
                Err(e) => self.mounts.mark_broken(path, &env, "fifo", e.to_string()),
            },
            _ => self.mounts.mark_broken(
                path,
                &env,
                "fifo",
                "something else now occupies the path: run `openv unmount` and mount again".into(),
            ),
        }
    }

    fn env_mtime(&mut self, env: &str) -> i64 {
        self.vault()
            .and_then(|v| v.env_updated(env))
            .unwrap_or_else(|_| crate::store::now())
    }

    /// Recomputes what the mounts of `env` will serve (size, mtime). Called after every
    /// change to `env`, so it also drops the cached rendering.
    pub(super) fn refresh_env(&mut self, env: &str) {
        self.rendered.remove(env);
        let paths = self.mounts.paths_of(env);
        self.refresh_paths(env, &paths);
    }

    pub(super) fn refresh_all(&mut self) {
        for env in self.mounts.envs() {
            self.refresh_env(&env);
        }
    }

    fn refresh_path(&mut self, path: &Path, env: &str) {
        self.refresh_paths(env, &[path.to_path_buf()]);
    }

    /// Sets what `paths` (mounts of `env`) report: the environment is read, decrypted and
    /// measured once for all of them.
    fn refresh_paths(&mut self, env: &str, paths: &[PathBuf]) {
        if paths.is_empty() {
            return;
        }
        let mtime = self.env_mtime(env);
        let size = match self.vault() {
            Ok(v) if v.is_unlocked() => v.read_values(env).ok().and_then(|vals| {
                crate::render::rendered_len(vals.iter().map(|(n, v)| (n.as_str(), v))).ok()
            }),
            _ => None,
        };
        // Locked: keep the sizes last recorded.
        let recorded = match size {
            Some(_) => Vec::new(),
            None => self
                .vault()
                .and_then(|v| v.list_mounts())
                .unwrap_or_default(),
        };
        for path in paths {
            let key = path.display().to_string();
            let size = match size {
                Some(s) => {
                    if let Ok(v) = self.vault() {
                        let _ = v.set_mount_size(&key, s as u64);
                    }
                    s as u64
                }
                None => recorded
                    .iter()
                    .find(|m| m.path == key)
                    .map_or(0, |m| m.size),
            };
            self.mounts.set_content(path, size, mtime);
        }
    }

    /// The rendered file and the names in it (cached while unlocked).
    fn render_env(&mut self, env: &str) -> Result<(Vec<String>, Zeroizing<Vec<u8>>), StoreError> {
        if let Some(r) = self.rendered.get(env) {
            return Ok((r.names.clone(), r.bytes.clone()));
        }
        let values = self.vault()?.read_values(env)?;
        let bytes = crate::render::render(values.iter().map(|(n, v)| (n.as_str(), v))).map_err(
            |reason| StoreError::Unrepresentable {
                name: env.to_owned(),
                reason,
            },
        )?;
        let names: Vec<String> = values.into_iter().map(|(n, _)| n).collect();
        self.rendered.insert(
            env.to_owned(),
            super::state::Rendered {
                names: names.clone(),
                bytes: bytes.clone(),
            },
        );
        Ok((names, bytes))
    }

    /// Answers an open at once when a rule or grant covers it and the environment's
    /// rendering is cached; otherwise hands it back untouched.
    pub fn try_fast_open(&mut self, req: OpenRequest) -> Option<OpenRequest> {
        let Some(env) = self.mounts.env_of(&req.path).map(str::to_owned) else {
            return Some(req);
        };
        if !self.rendered.contains_key(&env) {
            return Some(req);
        }
        let Some(vault) = self.vault.as_ref().filter(|v| v.is_unlocked()) else {
            return Some(req);
        };
        match self.approvals.covered(vault, &env, &req.reader) {
            Ok(Some(v @ Verdict::Allow { .. })) => {
                self.finish_open(req, &env, v);
                None
            }
            _ => Some(req),
        }
    }

    /// First half of an open: decide from rules and grants, or queue it for a person.
    /// Returns the request back when it must wait.
    /// The request's details must be loaded (`OpenRequest::load_details`): a person may be
    /// asked, and sees the command line and the parent chain.
    pub fn begin_open(&mut self, req: OpenRequest) -> Option<(OpenRequest, Wait)> {
        let Some(env) = self.mounts.env_of(&req.path).map(str::to_owned) else {
            req.deny();
            return None;
        };
        let early = match self.vault() {
            Err(e) => Some(e.to_string()),
            Ok(v) if !v.is_unlocked() => Some("vault locked: run `openv unlock`".to_owned()),
            Ok(_) => None,
        };
        let check = match (early, self.vault.as_ref()) {
            (Some(reason), _) => Check::Decided(Verdict::Deny { reason }),
            (None, None) => Check::Decided(Verdict::Deny {
                reason: "no vault".into(),
            }),
            // Field borrows: the vault is read while the approvals change.
            (None, Some(vault)) => self
                .approvals
                .check(vault, &env, &req.reader)
                .unwrap_or_else(|e| {
                    Check::Decided(Verdict::Deny {
                        reason: e.to_string(),
                    })
                }),
        };
        match check {
            Check::Decided(v) => {
                self.finish_open(req, &env, v);
                None
            }
            Check::Ask { id, rx, job } => {
                if job.is_some() {
                    let mut ev = Event::new(EventKind::Prompt)
                        .env(env.clone())
                        .pid(req.reader.pid)
                        .chain(describe::chain(&req.reader))
                        .detail(format!("request {id} waits for approval"));
                    if let Some(e) = &req.reader.exe {
                        ev = ev.exe(e.display().to_string());
                    }
                    self.audit(ev);
                }
                Some((
                    req,
                    Wait {
                        env,
                        id,
                        rx,
                        job,
                        // The mount denies the reader at its request timeout: a person's
                        // later answer must not be recorded as a read.
                        timeout: self
                            .approvals
                            .settings
                            .timeout
                            .min(crate::mounts::REQUEST_TIMEOUT),
                    },
                ))
            }
        }
    }

    /// A waiting open whose prompt timed out: nobody answered.
    pub fn expire_prompt(&mut self, id: u64) {
        if let Some(item) = self.approvals.pending.take(id) {
            item.settle(&Outcome::Deny {
                reason: "nobody answered before the prompt timeout".into(),
            });
        }
    }

    /// Second half: serve or deny, and log it.
    pub fn finish_open(&mut self, mut req: OpenRequest, env: &str, verdict: Verdict) {
        // The vault may have been locked while a person was deciding.
        let verdict = match (&verdict, self.vault()) {
            (Verdict::Allow { .. }, Ok(v)) if !v.is_unlocked() => Verdict::Deny {
                reason: "vault locked: run `openv unlock`".into(),
            },
            _ => verdict,
        };
        let (kind, decision, rule, names) = match verdict {
            Verdict::Allow { because } => match self.render_env(env) {
                Ok((names, bytes)) => {
                    // Answer first: the record's details (command line, parents) are read
                    // afterwards: the open's answer does not wait for them.
                    let cmdline = describe::label_needs_cmdline(req.reader.exe.as_deref());
                    let (reader, path) = req.serve_then_describe(bytes, cmdline);
                    let ev = self.read_event(env, reader, &path, Decision::Allowed, &because);
                    self.audit(ev.names(names));
                    return;
                }
                Err(e) => (EventKind::Read, Decision::Denied, e.to_string(), None),
            },
            Verdict::Deny { reason } => {
                let kind = if reason.starts_with(crate::approvals::RATE_LIMITED) {
                    EventKind::RateLimited
                } else {
                    EventKind::Read
                };
                (kind, Decision::Denied, reason, None::<Vec<String>>)
            }
        };
        req.load_details();
        let reader = req.reader.clone();
        let path = req.path.clone();
        req.deny();
        let mut ev = self.read_event(env, reader, &path, decision, &rule);
        ev.kind = kind;
        if let Some(names) = names {
            ev = ev.names(names);
        }
        self.audit(ev);
    }

    /// The audit record of one answered open.
    fn read_event(
        &self,
        env: &str,
        reader: Reader,
        path: &Path,
        decision: Decision,
        rule: &str,
    ) -> Event {
        let chain = describe::chain(&reader);
        let exe = reader
            .exe
            .as_ref()
            .map_or_else(|| "?".to_owned(), |p| p.display().to_string());
        debug!(path = %path.display(), %env, pid = reader.pid, %exe, chain = %chain.join(" <- "), %rule, ?decision, "read");
        let mut ev = Event::new(EventKind::Read)
            .env(env)
            .pid(reader.pid)
            .exe(exe)
            .chain(chain)
            .decision(decision)
            .rule(rule)
            .detail(path.display().to_string());
        if let Some(c) = &reader.cwd {
            ev = ev.cwd(c.display().to_string());
        }
        ev
    }
}

/// An open waiting for a person.
#[derive(Debug)]
pub struct Wait {
    pub env: String,
    pub id: u64,
    pub rx: tokio::sync::oneshot::Receiver<Outcome>,
    pub job: Option<PromptJob>,
    pub timeout: std::time::Duration,
}
