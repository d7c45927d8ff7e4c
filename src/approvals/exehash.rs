//! Content hashes of executables, cached by file identity so a covered read stays cheap.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Identity {
    fn of(m: &std::fs::Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }
}

#[derive(Debug, Default)]
pub struct ExeHashes {
    cache: HashMap<PathBuf, (Identity, String)>,
}

impl ExeHashes {
    /// Hex SHA-256 of the file's content; `None` if it cannot be read.
    pub fn hash(&mut self, path: &Path) -> Option<String> {
        let id = Identity::of(&std::fs::metadata(path).ok()?);
        if let Some((_, h)) = self.cache.get(path).filter(|(cached, _)| *cached == id) {
            return Some(h.clone());
        }
        // The identity cached is the one of the file hashed (fstat of the open file), so a
        // binary swapped in between is never cached under the hash of another.
        let mut f = std::fs::File::open(path).ok()?;
        let id = Identity::of(&f.metadata().ok()?);
        let mut hasher = Sha256::new();
        std::io::copy(&mut f, &mut hasher).ok()?;
        let h = hex::encode(hasher.finalize());
        self.cache.insert(path.to_owned(), (id, h.clone()));
        Some(h)
    }
}
