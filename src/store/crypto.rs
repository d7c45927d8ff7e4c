//! Sealing values with XChaCha20-Poly1305 under the vault key.
//!
//! The associated data binds a ciphertext to its vault, environment and variable name,
//! so a row copied to another place in the database (or another vault) fails to open.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use zeroize::Zeroizing;

pub const KEY_LEN: usize = 32;
pub const NONCE_LEN: usize = 24;

/// The random 256-bit key that seals every value. Wiped on drop; no Debug of its bytes.
pub struct VaultKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VaultKey(<redacted>)")
    }
}

impl VaultKey {
    pub fn generate() -> Self {
        let mut k = Zeroizing::new([0u8; KEY_LEN]);
        OsRng.fill_bytes(k.as_mut());
        Self(k)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Self(Zeroizing::new(arr)))
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Sealed {
        seal_with(self.bytes(), aad, plaintext)
    }

    /// `None` when the ciphertext, nonce or associated data do not match.
    pub fn open(&self, aad: &[u8], sealed: &Sealed) -> Option<Zeroizing<Vec<u8>>> {
        open_with(self.bytes(), aad, sealed)
    }
}

#[derive(Debug, Clone)]
pub struct Sealed {
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

pub(crate) fn seal_with(key: &[u8; KEY_LEN], aad: &[u8], plaintext: &[u8]) -> Sealed {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad,
            },
        )
        // Encryption fails only for plaintexts beyond 256 GiB; values are capped at 64 KiB.
        .unwrap_or_default();
    Sealed {
        nonce: nonce.to_vec(),
        ciphertext,
    }
}

pub(crate) fn open_with(
    key: &[u8; KEY_LEN],
    aad: &[u8],
    sealed: &Sealed,
) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.nonce.len() != NONCE_LEN {
        return None;
    }
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(
            XNonce::from_slice(&sealed.nonce),
            Payload {
                msg: &sealed.ciphertext,
                aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

/// Associated data for a variable's value. A value the human gave (`human`: with a
/// proof) is bound to that too, so no one without the vault key can relabel a value as
/// the human's, nor the human's as someone else's.
pub fn value_aad(vault_id: &str, env_id: &str, name: &str, human: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(40 + vault_id.len() + env_id.len() + name.len());
    let purpose = if human {
        "openv/value/v1/human"
    } else {
        "openv/value/v1"
    };
    for part in [purpose, vault_id, env_id, name] {
        aad.extend_from_slice(part.as_bytes());
        aad.push(0);
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let k = VaultKey::generate();
        let aad = value_aad("v", "e", "NAME", false);
        let s = k.seal(&aad, b"secret");
        assert_eq!(k.open(&aad, &s).expect("open").as_slice(), b"secret");
        assert!(k.open(&value_aad("v", "e", "OTHER", false), &s).is_none());
        assert!(k.open(&value_aad("v2", "e", "NAME", false), &s).is_none());
        assert!(k.open(&value_aad("v", "e", "NAME", true), &s).is_none());
        assert!(VaultKey::generate().open(&aad, &s).is_none());
        assert_eq!(format!("{k:?}"), "VaultKey(<redacted>)");
    }
}
