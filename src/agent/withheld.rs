//! Values that never reach a program: a stored value for a name that can become code
//! (`code_names`) is used by `openv run` and the mounts only when the human gave it
//! (source `human`, which is sealed with the value: `store::crypto::value_aad`). Values
//! stored before that rule, or set another way, are left out and named in `openv status`.

use crate::code_names::is_code_name;
use crate::secret::SecretValue;
use crate::store::sqlite::SqliteVault;
use crate::store::{Backend, StoreError, ValueSource};

/// The names of `env` whose value is held back.
pub fn names(v: &SqliteVault, env: &str) -> Result<Vec<String>, StoreError> {
    Ok(v.list_vars(env)?
        .into_iter()
        .filter(|i| i.has_value && is_code_name(&i.name) && i.source != Some(ValueSource::Human))
        .map(|i| i.name)
        .collect())
}

/// The values of `env` a program may get: all but the held-back ones.
pub fn usable_values(v: &SqliteVault, env: &str) -> Result<Vec<(String, SecretValue)>, StoreError> {
    let held = names(v, env)?;
    let mut values = v.read_values(env)?;
    values.retain(|(n, _)| !held.contains(n));
    Ok(values)
}

/// For `openv status`: `ENV: NAME, ...` for each environment with a mount or a value
/// held back, and what to do.
pub fn report(v: &SqliteVault) -> Vec<String> {
    let envs = v.list_envs().unwrap_or_default();
    envs.iter()
        .filter_map(|e| {
            let held = names(v, &e.name).ok().filter(|h| !h.is_empty())?;
            Some(format!(
                "{}: {} left out of `openv run` and mounts (it can change what code runs and the human did not set it): set it again with `openv var set -e {} NAME` in your own terminal",
                e.name,
                held.join(", "),
                e.name
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SlotSecret;
    use crate::store::keyslot::create_keyfile;

    fn val(s: &str) -> SecretValue {
        SecretValue::new(s.into())
    }

    #[test]
    fn only_the_humans_values_of_code_names_are_used() {
        let t = tempfile::tempdir().expect("tempdir");
        let kf = t.path().join("key");
        create_keyfile(&kf).expect("keyfile");
        let mut v =
            SqliteVault::create(&t.path().join("v.db"), &SlotSecret::Keyfile(kf)).expect("create");
        v.create_env("dev").expect("env");
        // As stored before sources were told apart, or by any path but the human's.
        v.set_vars(
            "dev",
            &[("NODE_OPTIONS".into(), val("--require x"))],
            ValueSource::User,
        )
        .expect("set");
        v.set_vars(
            "dev",
            &[("LD_PRELOAD".into(), val("/tmp/x.so"))],
            ValueSource::Agent,
        )
        .expect("set");
        v.set_vars(
            "dev",
            &[("PATH".into(), val("/opt/bin"))],
            ValueSource::Human,
        )
        .expect("set");
        v.set_vars("dev", &[("PLAIN".into(), val("x"))], ValueSource::Agent)
            .expect("set");
        assert_eq!(
            names(&v, "dev").expect("names"),
            ["LD_PRELOAD", "NODE_OPTIONS"]
        );
        let usable: Vec<String> = usable_values(&v, "dev")
            .expect("values")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(usable, ["PATH", "PLAIN"]);
        let report = report(&v);
        assert_eq!(report.len(), 1);
        assert!(
            report[0].starts_with("dev: LD_PRELOAD, NODE_OPTIONS left out"),
            "{report:?}"
        );
    }
}
