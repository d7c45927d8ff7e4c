//! One environment's values and its renderings per dialect, made on first use and kept
//! while the vault is unlocked (the agent drops the whole cache on any change), so a hot
//! read skips SQLite, the decryption of every value and the rendering.

use std::collections::HashMap;

use zeroize::Zeroizing;

use super::{Dialect, Refusal, render_for};
use crate::secret::SecretValue;

pub struct Renderings {
    values: Vec<(String, SecretValue)>,
    by_dialect: HashMap<Dialect, Result<Zeroizing<Vec<u8>>, Refusal>>,
}

impl Renderings {
    pub fn new(values: Vec<(String, SecretValue)>) -> Self {
        Self {
            values,
            by_dialect: HashMap::new(),
        }
    }

    pub fn names(&self) -> Vec<String> {
        self.values.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The file in `dialect`, or why that dialect cannot have it.
    pub fn get(&mut self, dialect: Dialect) -> Result<Zeroizing<Vec<u8>>, Refusal> {
        let values = &self.values;
        self.by_dialect
            .entry(dialect)
            .or_insert_with(|| render_for(dialect, values.iter().map(|(n, v)| (n.as_str(), v))))
            .clone()
    }
}

impl std::fmt::Debug for Renderings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderings")
            .field("names", &self.names())
            .field("dialects", &self.by_dialect.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}
