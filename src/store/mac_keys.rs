//! Keys that authenticate the trust state kept beside the values: policy rules and agent
//! policies, security settings, the audit chain.
//!
//! Each is derived from the vault key with HKDF-SHA256 under its own purpose (and the
//! vault id), so a tag made for one purpose never verifies for another, and a same-uid
//! process that can edit `vault.db` but not unlock it cannot make a tag at all.

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::crypto::{KEY_LEN, VaultKey};

/// What a key authenticates; one key per purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Each rule, the set of rules and the agent policies of environments.
    Policy,
    /// Security settings the human set with a proof (`openv config set`).
    Settings,
    /// Seals of the audit chain.
    Audit,
}

impl Purpose {
    fn info(self) -> &'static [u8] {
        match self {
            Self::Policy => b"openv/mac/policy/v1",
            Self::Settings => b"openv/mac/settings/v1",
            Self::Audit => b"openv/mac/audit/v1",
        }
    }
}

/// The `sealed_state` key of the security settings the human set (`security_settings`).
pub const SETTINGS_KEY: &str = "settings";

/// An HMAC-SHA256 key for one purpose. Wiped on drop; no Debug of its bytes.
pub struct MacKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey(<redacted>)")
    }
}

/// A tag is 32 bytes.
pub const TAG_LEN: usize = 32;

impl MacKey {
    pub fn derive(vault: &VaultKey, vault_id: &str, purpose: Purpose) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(vault_id.as_bytes()), vault.bytes());
        let mut okm = Zeroizing::new([0u8; KEY_LEN]);
        // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
        let _ = hk.expand(purpose.info(), okm.as_mut());
        Self(okm)
    }

    fn hmac(&self, parts: &[&[u8]]) -> Hmac<Sha256> {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(self.0.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        // Length-prefixed parts: ("ab", "c") and ("a", "bc") get different tags.
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        m
    }

    /// The tag of `parts`.
    pub fn tag(&self, parts: &[&[u8]]) -> [u8; TAG_LEN] {
        self.hmac(parts).finalize().into_bytes().into()
    }

    /// Whether `tag` is the tag of `parts` (constant-time comparison).
    pub fn verify(&self, parts: &[&[u8]], tag: &[u8]) -> bool {
        self.hmac(parts).verify_slice(tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_and_vaults_get_different_keys_and_parts_are_framed() {
        let k = VaultKey::generate();
        let policy = MacKey::derive(&k, "v1", Purpose::Policy);
        let t = policy.tag(&[b"ab", b"c"]);
        assert!(policy.verify(&[b"ab", b"c"], &t));
        assert!(!policy.verify(&[b"a", b"bc"], &t));
        assert!(!MacKey::derive(&k, "v1", Purpose::Audit).verify(&[b"ab", b"c"], &t));
        assert!(!MacKey::derive(&k, "v2", Purpose::Policy).verify(&[b"ab", b"c"], &t));
        assert!(
            !MacKey::derive(&VaultKey::generate(), "v1", Purpose::Policy)
                .verify(&[b"ab", b"c"], &t)
        );
        assert!(format!("{policy:?}").contains("redacted"));
    }
}
