//! The team remotes in the local vault: address, mount, prefix, how to log in, and the
//! credential (token, secret id or password) sealed under the vault key, bound to the
//! vault and the remote's name.

use rusqlite::{OptionalExtension, params};

use super::crypto::Sealed;
use super::sqlite::SqliteVault;
use super::{StoreError, now};
use crate::remote::auth::Credentials;
use crate::remote::client::RemoteSpec;
use crate::secret::SecretValue;

fn remote_aad(vault_id: &str, name: &str) -> Vec<u8> {
    let mut aad = Vec::new();
    for part in ["openv/remote-credential/v1", vault_id, name] {
        aad.extend_from_slice(part.as_bytes());
        aad.push(0);
    }
    aad
}

impl SqliteVault {
    pub fn add_remote(&mut self, spec: &RemoteSpec, creds: &Credentials) -> Result<(), StoreError> {
        crate::names::check_env_name(&spec.name)?;
        let sealed = self.sealing_key()?.seal(
            &remote_aad(self.vault_id(), &spec.name),
            creds.secret().expose().as_bytes(),
        );
        let exists: bool = self.conn().query_row(
            "SELECT EXISTS(SELECT 1 FROM remotes WHERE name = ?1)",
            [&spec.name],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::Remote(format!(
                "a remote named {} already exists: remove it first with `openv remote rm {}`",
                spec.name, spec.name
            )));
        }
        self.conn().execute(
            "INSERT INTO remotes(name, url, kv_mount, prefix, auth, principal, ca_pem, nonce, sealed, created)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                spec.name,
                spec.url,
                spec.kv_mount,
                spec.prefix,
                spec.auth,
                spec.principal,
                spec.ca_pem,
                sealed.nonce,
                sealed.ciphertext,
                now()
            ],
        )?;
        Ok(())
    }

    /// Removes a remote that no environment is linked to.
    pub fn remove_remote(&mut self, name: &str) -> Result<(), StoreError> {
        let linked: Vec<String> = self
            .links()?
            .into_iter()
            .filter(|l| l.remote == name)
            .map(|l| l.env)
            .collect();
        if !linked.is_empty() {
            return Err(StoreError::Remote(format!(
                "remote {name} is used by {}: unlink them first with `openv env unlink ENV`",
                linked.join(", ")
            )));
        }
        if self
            .conn()
            .execute("DELETE FROM remotes WHERE name = ?1", [name])?
            == 0
        {
            return Err(no_remote(name));
        }
        Ok(())
    }

    pub fn list_remotes(&self) -> Result<Vec<RemoteSpec>, StoreError> {
        let mut stmt = self.conn().prepare_cached(
            "SELECT name, url, kv_mount, prefix, auth, principal, ca_pem FROM remotes ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(RemoteSpec {
                name: r.get(0)?,
                url: r.get(1)?,
                kv_mount: r.get(2)?,
                prefix: r.get(3)?,
                auth: r.get(4)?,
                principal: r.get(5)?,
                ca_pem: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn remote_spec(&self, name: &str) -> Result<RemoteSpec, StoreError> {
        self.list_remotes()?
            .into_iter()
            .find(|r| r.name == name)
            .ok_or_else(|| no_remote(name))
    }

    /// The remote's credentials, unsealed (needs the unlocked vault).
    pub fn remote_credentials(&self, name: &str) -> Result<Credentials, StoreError> {
        let (auth, principal, nonce, ciphertext): (String, Option<String>, Vec<u8>, Vec<u8>) = self
            .conn()
            .query_row(
                "SELECT auth, principal, nonce, sealed FROM remotes WHERE name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?
            .ok_or_else(|| no_remote(name))?;
        let tampered = || {
            StoreError::Corrupt(format!(
                "the credentials of remote {name} do not open: remove it and add it again"
            ))
        };
        let plain = self
            .sealing_key()?
            .open(
                &remote_aad(self.vault_id(), name),
                &Sealed { nonce, ciphertext },
            )
            .ok_or_else(tampered)?;
        let text = std::str::from_utf8(&plain)
            .map_err(|_| tampered())?
            .to_owned();
        Credentials::from_parts(&auth, principal, SecretValue::new(text)).ok_or_else(tampered)
    }
}

pub(super) fn no_remote(name: &str) -> StoreError {
    StoreError::Remote(format!(
        "no remote named {name}: see `openv remote list` or add it with `openv remote add {name} --url URL ...`"
    ))
}
