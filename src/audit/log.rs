//! Appending to the log: one writer per directory, rotation by size.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::chain::{GENESIS, SeqOnly, line_hash};
use super::error::AuditError;
use super::event::{Event, Record};
use super::files::{self, CURRENT};
use super::seal::{self, SEAL_EVERY, SEAL_EVERY_EVENTS, SealPoint};
use crate::store::mac_keys::MacKey;

/// The writer of one audit directory.
///
/// Durability: each `append` hands the whole line to the kernel in ONE `write(2)` on a file
/// opened `O_APPEND` (the line is built in a reused buffer first: a buffered writer that
/// is flushed per event, without ever leaving half a line in user space). There is no
/// fsync per event, which keeps an append at a few microseconds: a line survives a crash
/// or `kill -9` of the agent, but an OS crash or power loss can lose the last seconds of
/// lines or leave the last one cut short. `open` copes with a cut line (see
/// [`AuditLog::open`]) and `verify` reports it. Rotation, [`AuditLog::sync`] and drop do
/// fsync, so closed files are complete on disk.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    max_file_bytes: u64,
    /// `None` after a failed write: the next append re-reads the end of the chain from
    /// disk instead of trusting what this struct believes was written.
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    next_seq: u64,
    /// Hash of the last line written: the next line's `prev`.
    prev: String,
    next_rotated: u64,
    line: Vec<u8>,
    /// Lines appended since the last seal (at open: unknown, so one is assumed).
    unsealed: u64,
    last_seal: Instant,
    /// A second writer would fork the chain; held for the life of the log.
    _lock: Flock<File>,
}

impl AuditLog {
    /// Opens (creating, 0700) the audit directory `dir` and continues the chain from the
    /// last line already there. Files are created 0600; an existing directory or current
    /// file that others can access is refused.
    ///
    /// If `audit.jsonl` ends with a cut line (crash while writing), that file is renamed
    /// to the next rotated name untouched, so the evidence stays for `verify` to report,
    /// and the chain continues from the last complete line.
    pub fn open(dir: &Path, max_file_bytes: u64) -> Result<Self, AuditError> {
        crate::paths::ensure_private_dir(dir)?;
        let handle = File::open(dir).map_err(|e| AuditError::io("open", dir, e))?;
        let lock = Flock::lock(handle, FlockArg::LockExclusiveNonblock).map_err(|(_, errno)| {
            if errno == Errno::EWOULDBLOCK {
                AuditError::Busy {
                    path: dir.display().to_string(),
                }
            } else {
                AuditError::io("lock", dir, errno.into())
            }
        })?;
        let mut log = Self {
            dir: dir.to_path_buf(),
            max_file_bytes,
            file: None,
            size: 0,
            next_seq: 1,
            prev: GENESIS.to_string(),
            next_rotated: 1,
            line: Vec::with_capacity(1024),
            unsealed: 0,
            last_seal: Instant::now(),
            _lock: lock,
        };
        log.resume()?;
        log.unsealed = u64::from(log.next_seq > 1);
        Ok(log)
    }

    /// Appends one event and returns the record as written.
    pub fn append(&mut self, event: Event) -> Result<Record, AuditError> {
        let (record, _) = self.write(event)?;
        self.unsealed += 1;
        Ok(record)
    }

    /// Appends a seal line (`why`: what caused it) tagged with the audit key `mac`, and
    /// returns where it is, for the vault to keep.
    pub fn seal(&mut self, mac: &MacKey, why: &str) -> Result<SealPoint, AuditError> {
        let mut event = Event::new(super::event::EventKind::Seal).detail(why);
        event.tag = Some(seal::tag(mac, self.next_seq, &self.prev));
        let (record, offset) = self.write(event)?;
        self.unsealed = 0;
        self.last_seal = Instant::now();
        Ok(SealPoint {
            seq: record.seq,
            head: record.prev,
            file: CURRENT.to_string(),
            offset,
        })
    }

    /// Whether a seal is due: enough lines, or lines waiting long enough.
    pub fn seal_due(&self) -> bool {
        self.unsealed >= SEAL_EVERY_EVENTS
            || (self.unsealed > 0 && self.last_seal.elapsed() >= SEAL_EVERY)
    }

    /// Whether any line was appended since the last seal.
    pub fn has_unsealed(&self) -> bool {
        self.unsealed > 0
    }

    /// The audit directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one line; returns the record and the line's offset in `audit.jsonl`.
    fn write(&mut self, event: Event) -> Result<(Record, u64), AuditError> {
        if self.file.is_none() {
            self.resume()?;
        }
        let record = Record {
            seq: self.next_seq,
            time: SystemTime::now(),
            prev: self.prev.clone(),
            event,
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &record).map_err(AuditError::Encode)?;
        self.line.push(b'\n');
        let len = self.line.len() as u64;
        // A line longer than the limit still goes into a file of its own.
        if self.size > 0 && self.size.saturating_add(len) > self.max_file_bytes {
            self.rotate()?;
        }
        let written = match self.file.as_mut() {
            Some(f) => f.write_all(&self.line),
            None => Err(lost_file()),
        };
        if let Err(e) = written {
            // Part of the line may be on disk: forget our idea of the end.
            self.file = None;
            return Err(AuditError::io("append to", &self.dir.join(CURRENT), e));
        }
        let offset = self.size;
        self.size += len;
        self.next_seq += 1;
        self.prev = line_hash(&self.line);
        Ok((record, offset))
    }

    /// Moves every file of the log, untouched, into a new subdirectory
    /// `set-aside-SECS[-N]` (evidence kept, no longer part of the chain) and starts a new
    /// chain at seq 1. Only for `openv audit accept`, which the human runs after `verify`
    /// reported a problem; returns the subdirectory.
    pub fn start_anew(&mut self) -> Result<PathBuf, AuditError> {
        use std::os::unix::fs::DirBuilderExt;
        self.sync()?;
        self.file = None;
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // A directory of our own, made here (not one found, not through a symlink).
        let mut n = 1;
        let to = loop {
            let name = match n {
                1 => format!("set-aside-{secs}"),
                n => format!("set-aside-{secs}-{n}"),
            };
            let to = self.dir.join(name);
            match fs::DirBuilder::new().mode(0o700).create(&to) {
                Ok(()) => break to,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(AuditError::io("create", &to, e)),
            }
        };
        let listing = files::list(&self.dir)
            .map_err(|e| AuditError::io("list audit directory", &self.dir, e))?;
        for path in &listing.files {
            let name = path.file_name().unwrap_or_default();
            fs::rename(path, to.join(name)).map_err(|e| AuditError::io("set aside", path, e))?;
        }
        files::sync_dir(&self.dir)?;
        // The new chain starts from nothing: never from a file that appeared meanwhile
        // (whoever put it there would have it sealed by the human's accept).
        let current = self.dir.join(CURRENT);
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&current)
            .map_err(|e| AuditError::io("start a new log at", &current, e))?;
        let left = files::list(&self.dir)
            .map_err(|e| AuditError::io("list audit directory", &self.dir, e))?;
        if left.files.len() != 1 {
            return Err(AuditError::io(
                "start a new log in",
                &self.dir,
                std::io::Error::other("log files appeared while the old ones were set aside"),
            ));
        }
        self.file = Some(file);
        self.size = 0;
        self.next_seq = 1;
        self.prev = GENESIS.to_string();
        self.next_rotated = 1;
        self.unsealed = 0;
        Ok(to)
    }

    /// Forces the lines written so far to disk (for example before locking the vault or
    /// at shutdown). Not needed for correctness, only for durability across power loss.
    pub fn sync(&mut self) -> Result<(), AuditError> {
        if let Some(f) = &self.file {
            f.sync_data()
                .map_err(|e| AuditError::io("sync", &self.dir.join(CURRENT), e))?;
        }
        Ok(())
    }

    /// The `seq` the next line will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Hash of the last line written (or [`GENESIS`]): the head of the chain.
    pub fn head(&self) -> &str {
        &self.prev
    }

    /// Finds the end of the chain on disk and opens `audit.jsonl` for appending.
    fn resume(&mut self) -> Result<(), AuditError> {
        self.file = None;
        let listing = files::list(&self.dir)
            .map_err(|e| AuditError::io("list audit directory", &self.dir, e))?;
        self.next_rotated = listing.next_number;
        let current = self.dir.join(CURRENT);
        let mut last = None;
        for path in listing.files.iter().rev() {
            let tail = files::last_line(path).map_err(|e| AuditError::io("read", path, e))?;
            let mut path = path.clone();
            if tail.torn && path == current {
                path = self.move_aside()?;
            }
            if let Some(line) = tail.line {
                last = Some((path, line));
                break;
            }
        }
        (self.next_seq, self.prev) = match last {
            None => (1, GENESIS.to_string()),
            Some((path, line)) => {
                let parsed: SeqOnly =
                    serde_json::from_slice(&line).map_err(|e| AuditError::Damaged {
                        path: path.display().to_string(),
                        reason: e.to_string(),
                    })?;
                (parsed.seq.saturating_add(1), line_hash(&line))
            }
        };
        let file = open_current(&current)?;
        self.size = file
            .metadata()
            .map_err(|e| AuditError::io("read", &current, e))?
            .len();
        self.file = Some(file);
        Ok(())
    }

    /// Starts a new `audit.jsonl`; the old one keeps its bytes under a numbered name.
    fn rotate(&mut self) -> Result<(), AuditError> {
        let current = self.dir.join(CURRENT);
        // Rare, so it can afford an fsync: a closed file is complete on disk.
        if let Some(f) = self.file.take() {
            f.sync_all()
                .map_err(|e| AuditError::io("sync", &current, e))?;
        }
        self.move_aside()?;
        let file = open_current(&current)?;
        files::sync_dir(&self.dir)?;
        self.file = Some(file);
        self.size = 0;
        Ok(())
    }

    /// Renames `audit.jsonl` to the next free `audit-NNNNNN.jsonl`; returns the new path.
    fn move_aside(&mut self) -> Result<PathBuf, AuditError> {
        let current = self.dir.join(CURRENT);
        let mut to = self.dir.join(files::rotated_name(self.next_rotated));
        // Never overwrite: a file with that name (put there by someone else) is skipped.
        while fs::symlink_metadata(&to).is_ok() {
            self.next_rotated += 1;
            to = self.dir.join(files::rotated_name(self.next_rotated));
        }
        fs::rename(&current, &to).map_err(|e| AuditError::io("rotate", &current, e))?;
        self.next_rotated += 1;
        Ok(to)
    }
}

impl Drop for AuditLog {
    fn drop(&mut self) {
        // Best effort: an error here has nowhere to go, and the lines are already in the
        // kernel's hands.
        let _ = self.sync();
    }
}

fn open_current(path: &Path) -> Result<File, AuditError> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuditError::io("open", path, e))?;
    crate::paths::check_private(path, "audit log", "600")?;
    Ok(file)
}

fn lost_file() -> std::io::Error {
    std::io::Error::other("the audit file was not reopened after an earlier error")
}
