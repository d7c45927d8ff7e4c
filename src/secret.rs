//! The one type a variable's value travels in.
//!
//! `SecretValue` never prints its contents: `Debug` shows `<redacted>` and there is no
//! `Display`. The bytes are zeroized when dropped (secrecy's `SecretBox`). The only way
//! to read it is `expose()`, which keeps every place that touches plaintext greppable.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroize;

/// A variable's value. Not `Clone` on purpose: copies of plaintext are made explicitly.
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Takes the value, leaving no copy behind: secrecy boxes a `String` with
    /// `into_boxed_str`, which reallocates (and frees unzeroed) when the capacity exceeds the
    /// length, as after trimming a newline. The exact-size copy is made here and the
    /// original zeroized.
    pub fn new(mut value: String) -> Self {
        let exact: Box<str> = Box::from(value.as_str());
        value.zeroize();
        Self(SecretString::from(exact))
    }

    /// The plaintext. Call sites are the places where a value may leave the agent.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }

    /// An explicit copy, for the few places (sealing, rendering) that need one.
    pub fn duplicate(&self) -> Self {
        Self::new(self.expose().to_owned())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Serialized only inside the agent protocol (CLI -> agent for `var set`); the frame
/// buffers that carry it are zeroized by the transport.
impl Serialize for SecretValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

/// Character sets for generated values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// A-Z a-z 0-9
    Alphanumeric,
    /// 0-9 a-f
    Hex,
    /// A-Z a-z 0-9 - _
    Base64url,
}

/// A random value made inside the agent (MCP `generate`): nobody ever sees it.
pub fn generate(length: usize, charset: Charset) -> SecretValue {
    use rand::Rng;
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const HEX: &[u8] = b"0123456789abcdef";
    const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let set = match charset {
        Charset::Alphanumeric => ALNUM,
        Charset::Hex => HEX,
        Charset::Base64url => B64URL,
    };
    let mut rng = rand::rngs::OsRng;
    let s: String = (0..length)
        .map(|_| char::from(set[rng.gen_range(0..set.len())]))
        .collect();
    SecretValue::new(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_values_use_the_charset() {
        let v = generate(64, Charset::Hex);
        assert_eq!(v.len(), 64);
        assert!(v.expose().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(v.expose(), generate(64, Charset::Hex).expose());
    }

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::new("canary-7f3a".into());
        assert_eq!(format!("{v:?}"), "SecretValue(<redacted>)");
        assert_eq!(v.expose(), "canary-7f3a");
    }
}
