//! Key slots: the vault key wrapped by a passphrase (argon2id) or a key file.
//!
//! A slot stores its KDF parameters and salt so they can be raised later without
//! breaking existing vaults.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::crypto::{KEY_LEN, Sealed, VaultKey, open_with, seal_with};
use super::error::StoreError;
use crate::paths::check_private;
use crate::secret::SecretValue;

/// What unlocks (or creates) a slot.
#[derive(Debug)]
pub enum SlotSecret {
    Passphrase(SecretValue),
    /// Path to a file of exactly 32 random bytes, mode 0600.
    Keyfile(std::path::PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotKind {
    Passphrase,
    Keyfile,
}

impl SlotKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Passphrase => "passphrase",
            Self::Keyfile => "keyfile",
        }
    }
}

/// KDF parameters, stored as JSON with the slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SlotParams {
    pub kdf: String,
    #[serde(default)]
    pub m_cost_kib: u32,
    #[serde(default)]
    pub t_cost: u32,
    #[serde(default)]
    pub p_cost: u32,
    #[serde(default, with = "hex::serde")]
    pub salt: Vec<u8>,
}

impl SlotParams {
    /// argon2id at 64 MiB, 3 passes: about 0.2 s on a laptop core.
    fn new_argon2id() -> Self {
        let mut salt = vec![0u8; 16];
        OsRng.fill_bytes(&mut salt);
        Self {
            kdf: "argon2id".into(),
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
            salt,
        }
    }

    fn keyfile() -> Self {
        Self {
            kdf: "none".into(),
            m_cost_kib: 0,
            t_cost: 0,
            p_cost: 0,
            salt: Vec::new(),
        }
    }
}

/// A stored slot.
#[derive(Debug, Clone)]
pub struct KeySlot {
    pub kind: SlotKind,
    pub params: SlotParams,
    pub wrapped: Sealed,
}

fn slot_aad(vault_id: &str, kind: SlotKind) -> Vec<u8> {
    format!("openv/keyslot/v1\0{vault_id}\0{}\0", kind.as_str()).into_bytes()
}

fn derive_kek(
    secret: &SlotSecret,
    params: &SlotParams,
) -> Result<Zeroizing<[u8; KEY_LEN]>, StoreError> {
    let mut kek = Zeroizing::new([0u8; KEY_LEN]);
    match secret {
        SlotSecret::Passphrase(p) => {
            if params.kdf != "argon2id" {
                return Err(StoreError::WrongSecret(
                    "this key slot needs a key file, not a passphrase: use --keyfile",
                ));
            }
            let a = Params::new(
                params.m_cost_kib,
                params.t_cost,
                params.p_cost,
                Some(KEY_LEN),
            )
            .map_err(|e| StoreError::Corrupt(format!("key slot parameters: {e}")))?;
            Argon2::new(Algorithm::Argon2id, Version::V0x13, a)
                .hash_password_into(p.expose().as_bytes(), &params.salt, kek.as_mut())
                .map_err(|e| StoreError::Corrupt(format!("key derivation: {e}")))?;
        }
        SlotSecret::Keyfile(path) => {
            if params.kdf != "none" {
                return Err(StoreError::WrongSecret(
                    "this key slot needs a passphrase, not a key file",
                ));
            }
            let bytes = read_keyfile(path)?;
            kek.copy_from_slice(&bytes[..]);
        }
    }
    Ok(kek)
}

impl KeySlot {
    pub fn create(vault_id: &str, secret: &SlotSecret, key: &VaultKey) -> Result<Self, StoreError> {
        let (kind, params) = match secret {
            SlotSecret::Passphrase(_) => (SlotKind::Passphrase, SlotParams::new_argon2id()),
            SlotSecret::Keyfile(_) => (SlotKind::Keyfile, SlotParams::keyfile()),
        };
        let kek = derive_kek(secret, &params)?;
        let wrapped = seal_with(&kek, &slot_aad(vault_id, kind), key.bytes());
        Ok(Self {
            kind,
            params,
            wrapped,
        })
    }

    /// `Ok(None)` when the secret is not the one this slot was made with.
    pub fn unwrap_key(
        &self,
        vault_id: &str,
        secret: &SlotSecret,
    ) -> Result<Option<VaultKey>, StoreError> {
        let kek = derive_kek(secret, &self.params)?;
        Ok(
            open_with(&kek, &slot_aad(vault_id, self.kind), &self.wrapped)
                .and_then(|k| VaultKey::from_bytes(&k)),
        )
    }
}

/// Reads a key file, refusing one that others can read or that has the wrong size.
pub fn read_keyfile(path: &Path) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    check_private(path, "key file", "600")?;
    let bytes = Zeroizing::new(fs::read(path).map_err(|e| StoreError::Io {
        what: format!("key file {}", path.display()),
        source: e,
    })?);
    if bytes.len() != KEY_LEN {
        return Err(StoreError::BadKeyfile(format!(
            "key file {} has {} bytes, expected {KEY_LEN}: it is not an openv key file",
            path.display(),
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// Creates a new key file of 32 random bytes, mode 0600. Never overwrites.
pub fn create_keyfile(path: &Path) -> Result<(), StoreError> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    OsRng.fill_bytes(bytes.as_mut());
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::Io {
            what: format!("key file {}", path.display()),
            source: e,
        })?;
    f.write_all(bytes.as_ref())
        .and_then(|()| f.sync_all())
        .map_err(|e| StoreError::Io {
            what: format!("key file {}", path.display()),
            source: e,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyfile_slot_round_trip() {
        let t = tempfile::tempdir().expect("tempdir");
        let kf = t.path().join("k");
        create_keyfile(&kf).expect("create");
        let key = VaultKey::generate();
        let slot = KeySlot::create("vid", &SlotSecret::Keyfile(kf.clone()), &key).expect("slot");
        let back = slot
            .unwrap_key("vid", &SlotSecret::Keyfile(kf.clone()))
            .expect("unwrap")
            .expect("right key");
        assert_eq!(back.bytes(), key.bytes());
        assert!(
            slot.unwrap_key("other", &SlotSecret::Keyfile(kf))
                .expect("unwrap")
                .is_none()
        );
    }

    #[test]
    fn passphrase_slot_rejects_wrong_passphrase() {
        let key = VaultKey::generate();
        let pass = |s: &str| SlotSecret::Passphrase(SecretValue::new(s.into()));
        let slot = KeySlot::create("vid", &pass("correct horse"), &key).expect("slot");
        assert!(
            slot.unwrap_key("vid", &pass("correct horse"))
                .expect("ok")
                .is_some()
        );
        assert!(
            slot.unwrap_key("vid", &pass("wrong"))
                .expect("ok")
                .is_none()
        );
    }
}
