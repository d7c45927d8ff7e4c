//! One configured server: its transport, credentials, the token in use, and the circuit
//! breaker. Shared (`Arc`) so the background refresh uses it without the state lock.

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::auth::{self, Credentials, Session};
use super::breaker::{Breaker, BreakerState, RetryPolicy};
use super::error::RemoteError;
use super::http::Transport;
use super::kv::{self, Kv, Patch, Secret};
use crate::secret::SecretValue;

/// A remote as the user defined it (`openv remote add`). No secret here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSpec {
    pub name: String,
    pub url: String,
    pub kv_mount: String,
    pub prefix: String,
    /// token, approle or userpass.
    pub auth: String,
    /// The AppRole role id or the userpass user.
    pub principal: Option<String>,
    /// PEM of the CA that signs the server's certificate, when not a public one.
    pub ca_pem: Option<String>,
}

impl RemoteSpec {
    /// `<prefix>/<env>` below the KV mount.
    pub fn path_of(&self, env: &str) -> String {
        let p = self.prefix.trim_matches('/');
        if p.is_empty() {
            env.to_owned()
        } else {
            format!("{p}/{env}")
        }
    }
}

/// What a fetch found.
#[derive(Debug)]
pub enum Fetched {
    Full(Secret),
    /// The token may list names (`subkeys`) but not read values.
    NamesOnly {
        version: u64,
        names: Vec<String>,
    },
}

#[derive(Debug)]
pub struct Remote {
    pub spec: RemoteSpec,
    transport: Transport,
    creds: Credentials,
    session: Mutex<Option<Session>>,
    pub breaker: Breaker,
    kv: Kv,
    /// Asked once per client: it only changes with a new cluster at the address.
    cluster: Mutex<Option<String>>,
}

/// Connection defaults: a request never waits longer than this.
pub const TIMEOUT: Duration = Duration::from_secs(10);

impl Remote {
    pub fn new(spec: RemoteSpec, creds: Credentials) -> Result<Self, RemoteError> {
        let transport = Transport::new(
            &spec.url,
            spec.ca_pem.as_deref().map(str::as_bytes),
            TIMEOUT,
        )?;
        let kv = Kv::new(&spec.kv_mount);
        Ok(Self {
            spec,
            transport,
            creds,
            session: Mutex::new(None),
            breaker: Breaker::new(5, Duration::from_secs(15), RetryPolicy::default()),
            kv,
            cluster: Mutex::new(None),
        })
    }

    pub fn url(&self) -> &str {
        self.transport.url()
    }

    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// Runs `op` with a live token: logs in when there is none, renews one that is near
    /// its end, logs in again when renewal fails and the method allows it. A 403 with a
    /// login method is retried once after a fresh login (the token may have been revoked).
    fn with_token<T>(
        &self,
        mut op: impl FnMut(&Transport, &SecretValue) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let url = self.transport.url().to_owned();
        self.breaker.call(&url, || {
            let mut guard = self.session.lock().unwrap_or_else(|p| p.into_inner());
            self.ensure_session(&mut guard)?;
            let token = guard.as_ref().map(|s| s.token.duplicate());
            drop(guard);
            let Some(token) = token else {
                return Err(RemoteError::Config("no token".into()));
            };
            match op(&self.transport, &token) {
                Err(RemoteError::Denied { .. }) if self.creds.can_login() => {
                    let fresh = auth::login(&self.transport, &self.creds)?;
                    let token = fresh.token.duplicate();
                    *self.session.lock().unwrap_or_else(|p| p.into_inner()) = Some(fresh);
                    op(&self.transport, &token)
                }
                r => r,
            }
        })
    }

    fn ensure_session(&self, slot: &mut Option<Session>) -> Result<(), RemoteError> {
        match slot {
            Some(s) if s.expired() => *slot = None,
            Some(s) if s.wants_renewal() && s.renewable => {
                if let Err(e) = auth::renew_self(&self.transport, s) {
                    if e.is_transient() {
                        return Err(e);
                    }
                    tracing::info!(remote = %self.spec.name, error = %e, "token renewal failed; logging in again");
                    *slot = None;
                }
            }
            _ => {}
        }
        if slot.is_none() {
            *slot = Some(auth::login(&self.transport, &self.creds)?);
        }
        Ok(())
    }

    /// Logs in (or checks the token) now; returns the identity.
    pub fn check(&self) -> Result<String, RemoteError> {
        self.with_token(|_, _| Ok(()))?;
        Ok(self.identity().unwrap_or_default())
    }

    /// The identity of the token in use (after a successful call).
    pub fn identity(&self) -> Option<String> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(Session::identity)
    }

    /// Seconds until the token expires; `None` when it does not or there is none yet.
    pub fn token_ttl(&self) -> Option<u64> {
        self.session
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(|s| s.expires)
            .map(|t| {
                t.saturating_duration_since(std::time::Instant::now())
                    .as_secs()
            })
    }

    /// Renews the token now (tests and `openv remote status`).
    pub fn renew(&self) -> Result<(), RemoteError> {
        let url = self.transport.url().to_owned();
        self.breaker.call(&url, || {
            let mut guard = self.session.lock().unwrap_or_else(|p| p.into_inner());
            self.ensure_session(&mut guard)?;
            match guard.as_mut() {
                Some(s) => auth::renew_self(&self.transport, s),
                None => Ok(()),
            }
        })
    }

    pub fn cluster_id(&self) -> Result<String, RemoteError> {
        if let Some(id) = self
            .cluster
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Ok(id);
        }
        let url = self.transport.url().to_owned();
        let id = self
            .breaker
            .call(&url, || kv::cluster_id(&self.transport))?;
        *self.cluster.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        Ok(id)
    }

    /// Reads the environment at `path` in one request; on 403 falls back to its names.
    pub fn fetch_path(&self, path: &str) -> Result<Fetched, RemoteError> {
        match self.with_token(|t, tok| self.kv.read(t, tok, path)) {
            Ok(s) => Ok(Fetched::Full(s)),
            Err(e @ RemoteError::Denied { .. }) => {
                match self.with_token(|t, tok| self.kv.subkeys(t, tok, path)) {
                    Ok((version, names)) => Ok(Fetched::NamesOnly { version, names }),
                    Err(_) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub fn write_path(
        &self,
        path: &str,
        patch: &Patch<'_>,
        cas: Option<u64>,
    ) -> Result<u64, RemoteError> {
        self.with_token(|t, tok| self.kv.write(t, tok, path, patch, cas))
    }

    pub fn patch_path(&self, path: &str, patch: &Patch<'_>, cas: u64) -> Result<u64, RemoteError> {
        self.with_token(|t, tok| self.kv.patch(t, tok, path, patch, Some(cas)))
    }

    pub fn delete_path(&self, path: &str) -> Result<(), RemoteError> {
        self.with_token(|t, tok| self.kv.delete(t, tok, path))
    }

    pub fn current_version(&self, path: &str) -> Result<u64, RemoteError> {
        self.with_token(|t, tok| self.kv.current_version(t, tok, path))
    }
}
