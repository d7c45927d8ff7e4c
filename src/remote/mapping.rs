//! How an environment is laid out in one KV v2 secret.
//!
//! Every variable with a value is a top-level key holding its value as a string, so the
//! secret reads naturally in `bao kv get` and the Vault UI. The reserved key `openv.meta`
//! (not a valid variable name, so it never collides) holds an object: the declared names
//! that have no value yet and, per variable, when it changed and who supplied it. It is a
//! nested object rather than a JSON string so that `subkeys` (names without values) shows
//! the declared names too, to a names-only token.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use zeroize::Zeroizing;

use crate::secret::SecretValue;
use crate::store::ValueSource;

pub const META_KEY: &str = "openv.meta";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarMeta {
    #[serde(default)]
    pub updated: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ValueSource>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    #[serde(default)]
    pub v: u32,
    /// Declared names without a value, with the time they were declared.
    #[serde(default)]
    pub declared: BTreeMap<String, i64>,
    #[serde(default)]
    pub vars: BTreeMap<String, VarMeta>,
}

/// An environment as stored on the server: values (name order) and metadata.
#[derive(Debug, Default)]
pub struct EnvData {
    pub values: Vec<(String, SecretValue)>,
    pub meta: Meta,
    /// Keys that are not variable names openv can serve (written by other tools).
    pub skipped: Vec<String>,
}

impl EnvData {
    pub fn value(&self, name: &str) -> Option<&SecretValue> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Every name: set ones and declared ones.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.values.iter().map(|(n, _)| n.clone()).collect();
        names.extend(self.meta.declared.keys().cloned());
        names.sort();
        names.dedup();
        names
    }
}

impl<'de> Deserialize<'de> for EnvData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnvData;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of variable names to string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvData, A::Error> {
                let mut out = EnvData::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == META_KEY {
                        out.meta = map.next_value()?;
                    } else if crate::names::check_var_name(&key).is_err() {
                        // Not servable; its value is skipped unread.
                        map.next_value::<de::IgnoredAny>()?;
                        out.skipped.push(key);
                    } else {
                        // Values go straight into SecretValue (a non-string is an error
                        // naming the key, never the value).
                        let v = map.next_value::<SecretValue>().map_err(|_| {
                            de::Error::custom(format!(
                                "the key {key} does not hold a string: openv stores text values only"
                            ))
                        })?;
                        out.values.push((key, v));
                    }
                }
                out.values.sort_by(|a, b| a.0.cmp(&b.0));
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

/// Writes `{"NAME":"value",...,"openv.meta":{...}}` into `out`. Values are escaped by
/// serde_json; `out` must have been sized with `encoded_capacity` so it never
/// reallocates (a reallocation would free an unzeroed copy).
pub fn write_data(
    out: &mut Zeroizing<Vec<u8>>,
    values: &[(&str, Option<&SecretValue>)],
    meta: &serde_json::Value,
) {
    out.push(b'{');
    for (name, value) in values {
        let _ = serde_json::to_writer(&mut **out, name);
        out.push(b':');
        match value {
            Some(v) => {
                let _ = serde_json::to_writer(&mut **out, v.expose());
            }
            // A merge patch removes a key given as null.
            None => out.extend_from_slice(b"null"),
        }
        out.push(b',');
    }
    let _ = serde_json::to_writer(&mut **out, META_KEY);
    out.push(b':');
    let _ = serde_json::to_writer(&mut **out, meta);
    out.push(b'}');
}

/// An upper bound for `write_data` plus `extra` bytes of envelope: JSON escapes a byte
/// into at most 6.
pub fn encoded_capacity(
    values: &[(&str, Option<&SecretValue>)],
    meta: &serde_json::Value,
    extra: usize,
) -> usize {
    let vals: usize = values
        .iter()
        .map(|(n, v)| 6 * (n.len() + v.map_or(4, |v| v.len())) + 8)
        .sum();
    vals + meta.to_string().len() + META_KEY.len() + 16 + extra
}

/// Names from a `subkeys` answer: the top-level keys and the declared ones.
pub fn names_from_subkeys(subkeys: &serde_json::Value) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(obj) = subkeys.as_object() {
        for (k, v) in obj {
            if k == META_KEY {
                if let Some(decl) = v.get("declared").and_then(|d| d.as_object()) {
                    names.extend(decl.keys().cloned());
                }
            } else if crate::names::check_var_name(k).is_ok() {
                names.push(k.clone());
            }
        }
    }
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_values_declared_names_and_metadata() {
        let a = SecretValue::new("x\"\n$y".into());
        let mut meta = Meta {
            v: 1,
            ..Meta::default()
        };
        meta.declared.insert("B".into(), 5);
        meta.vars.insert(
            "A".into(),
            VarMeta {
                updated: 7,
                source: Some(ValueSource::User),
            },
        );
        let mj = serde_json::to_value(&meta).expect("meta");
        let vals = [("A", Some(&a))];
        let mut buf = Zeroizing::new(Vec::with_capacity(encoded_capacity(&vals, &mj, 0)));
        let cap = buf.capacity();
        write_data(&mut buf, &vals, &mj);
        assert_eq!(buf.capacity(), cap, "no reallocation");
        let back: EnvData = serde_json::from_slice(&buf).expect("decode");
        assert_eq!(back.values.len(), 1);
        assert_eq!(back.values[0].1.expose(), "x\"\n$y");
        assert_eq!(back.meta, meta);
        assert_eq!(back.names(), ["A", "B"]);
    }

    #[test]
    fn foreign_keys_are_skipped_and_non_strings_named() {
        let d: EnvData =
            serde_json::from_str(r#"{"not a name":{"x":1},"OK":"v"}"#).expect("decode");
        assert_eq!(d.skipped, ["not a name"]);
        assert_eq!(d.values[0].0, "OK");
        let e = serde_json::from_str::<EnvData>(r#"{"N":42}"#).expect_err("number");
        assert!(e.to_string().contains("the key N"), "{e}");
        assert!(!e.to_string().contains("42"));
    }

    #[test]
    fn subkeys_give_set_and_declared_names() {
        let s = serde_json::json!({"A": null, "openv.meta": {"declared": {"B": null}, "vars": {"A": {"updated": null}}}});
        assert_eq!(names_from_subkeys(&s), ["A", "B"]);
    }
}
