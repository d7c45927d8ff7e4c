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

#[derive(Debug, Default)]
pub struct ExeHashes {
    cache: HashMap<PathBuf, (Identity, String)>,
}

impl ExeHashes {
    /// Hex SHA-256 of the file's content; `None` if it cannot be read.
    pub fn hash(&mut self, path: &Path) -> Option<String> {
        let m = std::fs::metadata(path).ok()?;
        let id = Identity {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        };
        if let Some((_, h)) = self.cache.get(path).filter(|(cached, _)| *cached == id) {
            return Some(h.clone());
        }
        let mut hasher = Sha256::new();
        let mut f = std::fs::File::open(path).ok()?;
        std::io::copy(&mut f, &mut hasher).ok()?;
        let h = hex::encode(hasher.finalize());
        self.cache.insert(path.to_owned(), (id, h.clone()));
        Some(h)
    }
}
