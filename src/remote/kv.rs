//! KV v2 endpoints: read, write (check-and-set), merge-patch (check-and-set), subkeys
//! (names without values), metadata and delete. Paths are `<mount>/<kind>/<path>`.

use serde::Deserialize;
use zeroize::Zeroizing;

use super::auth::status_error;
use super::error::RemoteError;
use super::http::{Method, Reply, Transport};
use super::mapping::{EnvData, encoded_capacity, names_from_subkeys, write_data};
use crate::secret::SecretValue;

/// One KV v2 secret engine at `mount`.
#[derive(Debug, Clone)]
pub struct Kv {
    pub mount: String,
}

/// A secret as read: its version and its contents.
#[derive(Debug)]
pub struct Secret {
    pub version: u64,
    pub data: EnvData,
}

#[derive(Deserialize)]
struct ReadReply {
    data: ReadData,
}

#[derive(Deserialize)]
struct ReadData {
    data: Option<EnvData>,
    metadata: VersionMeta,
}

#[derive(Deserialize)]
struct VersionMeta {
    version: u64,
    #[serde(default)]
    deletion_time: String,
    #[serde(default)]
    destroyed: bool,
}

#[derive(Deserialize)]
struct WriteReply {
    data: WriteData,
}

#[derive(Deserialize)]
struct WriteData {
    version: u64,
}

#[derive(Deserialize)]
struct SubkeysReply {
    data: SubkeysData,
}

#[derive(Deserialize)]
struct SubkeysData {
    subkeys: serde_json::Value,
    metadata: VersionMeta,
}

#[derive(Deserialize)]
struct MetadataReply {
    data: MetadataData,
}

#[derive(Deserialize)]
struct MetadataData {
    current_version: u64,
}

/// A change to write: names set to a value, or removed (`None`), plus the metadata
/// object to merge.
#[derive(Debug)]
pub struct Patch<'a> {
    pub values: Vec<(&'a str, Option<&'a SecretValue>)>,
    pub meta: serde_json::Value,
}

fn ok(t: &Transport, what: &str, reply: &Reply) -> Result<(), RemoteError> {
    if (200..300).contains(&reply.status) {
        return Ok(());
    }
    // KV v2 answers a stale `cas` with 400 and this fixed text.
    if reply.status == 400
        && super::http::safe_server_message(&reply.body)
            .is_some_and(|m| m.contains("check-and-set parameter did not match"))
    {
        return Err(RemoteError::CasMismatch {
            what: what.to_owned(),
        });
    }
    Err(status_error(t, what, reply))
}

impl Kv {
    pub fn new(mount: &str) -> Self {
        Self {
            mount: mount.trim_matches('/').to_owned(),
        }
    }

    fn what(&self, path: &str) -> String {
        format!("secret {}/{}", self.mount, path)
    }

    /// Every KV request: `endpoint` below the mount (`data/<path>`), the answer judged by
    /// `ok` (a stale `cas` becomes `CasMismatch`).
    fn call(
        &self,
        t: &Transport,
        token: &SecretValue,
        method: Method,
        endpoint: &str,
        what: &str,
        body: Option<(&str, &[u8])>,
    ) -> Result<Reply, RemoteError> {
        let reply = t.send(
            method,
            &format!("{}/{endpoint}", self.mount),
            Some(token),
            body,
        )?;
        ok(t, what, &reply)?;
        Ok(reply)
    }

    /// The latest version; `NotFound` when it never existed or was deleted.
    pub fn read(
        &self,
        t: &Transport,
        token: &SecretValue,
        path: &str,
    ) -> Result<Secret, RemoteError> {
        let what = self.what(path);
        let reply = self.call(t, token, Method::Get, &format!("data/{path}"), &what, None)?;
        let r: ReadReply = reply.json(t.url(), &what)?;
        let deleted = !r.data.metadata.deletion_time.is_empty() || r.data.metadata.destroyed;
        match r.data.data {
            Some(data) if !deleted => Ok(Secret {
                version: r.data.metadata.version,
                data,
            }),
            _ => Err(RemoteError::NotFound {
                url: t.url().to_owned(),
                what,
            }),
        }
    }

    /// Writes the whole secret. `cas`: `Some(0)` creates only; `Some(n)` only over
    /// version n. Returns the new version.
    pub fn write(
        &self,
        t: &Transport,
        token: &SecretValue,
        path: &str,
        patch: &Patch<'_>,
        cas: Option<u64>,
    ) -> Result<u64, RemoteError> {
        self.send_data(t, token, path, patch, cas, Method::Post, "application/json")
    }

    /// Merges `patch` into the latest version (RFC 7386: a null removes a key).
    pub fn patch(
        &self,
        t: &Transport,
        token: &SecretValue,
        path: &str,
        patch: &Patch<'_>,
        cas: Option<u64>,
    ) -> Result<u64, RemoteError> {
        self.send_data(
            t,
            token,
            path,
            patch,
            cas,
            Method::Patch,
            "application/merge-patch+json",
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn send_data(
        &self,
        t: &Transport,
        token: &SecretValue,
        path: &str,
        patch: &Patch<'_>,
        cas: Option<u64>,
        method: Method,
        ctype: &str,
    ) -> Result<u64, RemoteError> {
        let what = self.what(path);
        let head = match cas {
            Some(v) => format!("{{\"options\":{{\"cas\":{v}}},\"data\":"),
            None => "{\"data\":".to_owned(),
        };
        let mut body = Zeroizing::new(Vec::with_capacity(encoded_capacity(
            &patch.values,
            &patch.meta,
            head.len() + 2,
        )));
        body.extend_from_slice(head.as_bytes());
        write_data(&mut body, &patch.values, &patch.meta);
        body.push(b'}');
        let reply = self.call(
            t,
            token,
            method,
            &format!("data/{path}"),
            &what,
            Some((ctype, &body)),
        )?;
        Ok(reply.json::<WriteReply>(t.url(), &what)?.data.version)
    }

    /// Names (set and declared) and the version, without any value: what a names-only
    /// token is allowed.
    pub fn subkeys(
        &self,
        t: &Transport,
        token: &SecretValue,
        path: &str,
    ) -> Result<(u64, Vec<String>), RemoteError> {
        let what = format!("names of {}", self.what(path));
        let reply = self.call(
            t,
            token,
            Method::Get,
            &format!("subkeys/{path}"),
            &what,
            None,
        )?;
        let r: SubkeysReply = reply.json(t.url(), &what)?;
        Ok((r.data.metadata.version, names_from_subkeys(&r.data.subkeys)))
    }

    /// The current version number (0 when the secret has none).
    pub fn current_version(
        &self,
        t: &Transport,
        token: &SecretValue,
        path: &str,
    ) -> Result<u64, RemoteError> {
        let what = format!("metadata of {}", self.what(path));
        let reply = self.call(
            t,
            token,
            Method::Get,
            &format!("metadata/{path}"),
            &what,
            None,
        )?;
        Ok(reply
            .json::<MetadataReply>(t.url(), &what)?
            .data
            .current_version)
    }

    /// Deletes every version and the metadata.
    pub fn delete(
        &self,
        t: &Transport,
        token: &SecretValue,
        path: &str,
    ) -> Result<(), RemoteError> {
        let what = self.what(path);
        self.call(
            t,
            token,
            Method::Delete,
            &format!("metadata/{path}"),
            &what,
            None,
        )
        .map(drop)
    }
}

/// The server's cluster id from `sys/health` (unauthenticated), part of the cache key so a
/// cache made against one cluster is never served for another at the same address.
pub fn cluster_id(t: &Transport) -> Result<String, RemoteError> {
    #[derive(Deserialize)]
    struct Health {
        #[serde(default)]
        cluster_id: String,
        #[serde(default)]
        sealed: bool,
    }
    // Standbys answer 429 and performance standbys 473 by default: ask for 200.
    let reply = t.send(
        Method::Get,
        "sys/health?standbyok=true&perfstandbyok=true",
        None,
        None,
    )?;
    if !(200..300).contains(&reply.status) {
        return Err(status_error(t, "sys/health", &reply));
    }
    let h: Health = reply.json(t.url(), "sys/health")?;
    if h.sealed {
        return Err(RemoteError::Unreachable {
            url: t.url().to_owned(),
            reason: "the server is sealed".into(),
        });
    }
    Ok(h.cluster_id)
}
