//! The one type a variable's value travels in.
//!
//! `SecretValue` never prints its contents: `Debug` shows `<redacted>` and there is no
//! `Display`. The bytes are zeroized when dropped (secrecy's `SecretBox`). The only way
//! to read it is `expose()`, which keeps every place that touches plaintext greppable.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A variable's value. Not `Clone` on purpose: copies of plaintext are made explicitly.
pub struct SecretValue(SecretString);

impl SecretValue {
    pub fn new(value: String) -> Self {
        Self(SecretString::from(value))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let v = SecretValue::new("canary-7f3a".into());
        assert_eq!(format!("{v:?}"), "SecretValue(<redacted>)");
        assert_eq!(v.expose(), "canary-7f3a");
    }
}
