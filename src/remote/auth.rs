//! Logging in and keeping a token alive: a given token, AppRole (role id + secret id),
//! or userpass. `lookup-self` names the identity the cache is keyed by; `renew-self`
//! extends the token before it expires; a token that cannot be renewed is replaced by a
//! new login when the method allows one.

use std::time::{Duration, Instant};

use serde::Deserialize;

use super::error::RemoteError;
use super::http::{Method, Reply, Transport, safe_server_message};
use crate::secret::SecretValue;

/// How this machine proves itself to the server. The secret parts never leave the agent
/// except sealed in the vault.
#[derive(Debug)]
pub enum Credentials {
    Token(SecretValue),
    AppRole {
        role_id: String,
        secret_id: SecretValue,
    },
    Userpass {
        user: String,
        password: SecretValue,
    },
}

impl Credentials {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Token(_) => "token",
            Self::AppRole { .. } => "approle",
            Self::Userpass { .. } => "userpass",
        }
    }

    /// Who logs in, without the secret: the role id or the user name.
    pub fn principal(&self) -> Option<&str> {
        match self {
            Self::Token(_) => None,
            Self::AppRole { role_id, .. } => Some(role_id),
            Self::Userpass { user, .. } => Some(user),
        }
    }

    /// The secret part, for sealing.
    pub fn secret(&self) -> &SecretValue {
        match self {
            Self::Token(t) => t,
            Self::AppRole { secret_id, .. } => secret_id,
            Self::Userpass { password, .. } => password,
        }
    }

    pub fn from_parts(kind: &str, principal: Option<String>, secret: SecretValue) -> Option<Self> {
        Some(match (kind, principal) {
            ("token", _) => Self::Token(secret),
            ("approle", Some(role_id)) => Self::AppRole {
                role_id,
                secret_id: secret,
            },
            ("userpass", Some(user)) => Self::Userpass {
                user,
                password: secret,
            },
            _ => return None,
        })
    }

    /// An explicit copy (the secret part duplicated, as `SecretValue::duplicate`).
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Token(t) => Self::Token(t.duplicate()),
            Self::AppRole { role_id, secret_id } => Self::AppRole {
                role_id: role_id.clone(),
                secret_id: secret_id.duplicate(),
            },
            Self::Userpass { user, password } => Self::Userpass {
                user: user.clone(),
                password: password.duplicate(),
            },
        }
    }

    /// Whether a new login is possible when the token can no longer be renewed.
    pub fn can_login(&self) -> bool {
        !matches!(self, Self::Token(_))
    }
}

/// A token in use.
#[derive(Debug)]
pub struct Session {
    pub token: SecretValue,
    pub accessor: String,
    /// The identity entity; empty for a root token.
    pub entity_id: String,
    pub renewable: bool,
    /// `None`: the token does not expire.
    pub expires: Option<Instant>,
    /// The lease first granted, to renew at two thirds of it.
    pub lease: Duration,
}

impl Session {
    /// A stable name for the identity: the entity when there is one (AppRole and userpass
    /// keep it across logins), else the token's accessor.
    pub fn identity(&self) -> String {
        if self.entity_id.is_empty() {
            format!("accessor:{}", self.accessor)
        } else {
            format!("entity:{}", self.entity_id)
        }
    }

    /// Renew once less than a third of the lease is left.
    pub fn wants_renewal(&self) -> bool {
        match self.expires {
            None => false,
            Some(t) => t.saturating_duration_since(Instant::now()) < self.lease / 3,
        }
    }

    pub fn expired(&self) -> bool {
        self.expires.is_some_and(|t| Instant::now() >= t)
    }
}

#[derive(Deserialize)]
struct AuthReply {
    auth: AuthBlock,
}

#[derive(Deserialize)]
struct AuthBlock {
    client_token: SecretValue,
    #[serde(default)]
    accessor: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
    lease_duration: u64,
    #[serde(default)]
    renewable: bool,
}

#[derive(Deserialize)]
struct LookupReply {
    data: LookupData,
}

#[derive(Deserialize)]
struct LookupData {
    #[serde(default)]
    accessor: String,
    #[serde(default)]
    entity_id: String,
    #[serde(default)]
    ttl: u64,
    #[serde(default)]
    creation_ttl: u64,
    #[serde(default)]
    renewable: bool,
}

/// Turns a non-2xx answer into an error that names the endpoint and never the body.
pub fn status_error(t: &Transport, what: &str, reply: &Reply) -> RemoteError {
    let url = t.url().to_owned();
    let what = what.to_owned();
    match reply.status {
        401 | 403 => RemoteError::Denied {
            url,
            what,
            status: reply.status,
        },
        404 => RemoteError::NotFound { url, what },
        // 429/472/473: standby or performance-standby answers, 503: sealed or no
        // leader (a Raft election in progress). All retried.
        s if super::failover::node_unavailable(s) => RemoteError::Unreachable {
            url,
            reason: format!(
                "HTTP {}{}",
                reply.status,
                safe_server_message(&reply.body)
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
        },
        status => RemoteError::Server {
            url,
            what,
            status,
            message: safe_server_message(&reply.body),
        },
    }
}

fn session_from(block: AuthBlock) -> Session {
    let lease = Duration::from_secs(block.lease_duration);
    Session {
        token: block.client_token,
        accessor: block.accessor,
        entity_id: block.entity_id,
        renewable: block.renewable,
        expires: (block.lease_duration > 0).then(|| Instant::now() + lease),
        lease,
    }
}

/// JSON body with secret fields, in a buffer zeroized on drop and sized so it never
/// reallocates.
pub fn secret_json(fields: &[(&str, &str)]) -> zeroize::Zeroizing<Vec<u8>> {
    let cap = fields
        .iter()
        .map(|(k, v)| 6 * (k.len() + v.len()) + 8)
        .sum::<usize>()
        + 2;
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(cap));
    out.push(b'{');
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        let _ = serde_json::to_writer(&mut *out, v);
    }
    out.push(b'}');
    out
}

/// Logs in (or, for a token, looks it up) and returns the session.
pub fn login(t: &Transport, creds: &Credentials) -> Result<Session, RemoteError> {
    let (path, body) = match creds {
        Credentials::Token(token) => {
            let look = lookup_self(t, token)?;
            let lease = Duration::from_secs(look.creation_ttl.max(look.ttl));
            return Ok(Session {
                token: token.duplicate(),
                accessor: look.accessor,
                entity_id: look.entity_id,
                renewable: look.renewable,
                expires: (look.ttl > 0).then(|| Instant::now() + Duration::from_secs(look.ttl)),
                lease,
            });
        }
        Credentials::AppRole { role_id, secret_id } => (
            "auth/approle/login".to_owned(),
            secret_json(&[("role_id", role_id), ("secret_id", secret_id.expose())]),
        ),
        Credentials::Userpass { user, password } => (
            format!("auth/userpass/login/{user}"),
            secret_json(&[("password", password.expose())]),
        ),
    };
    let what = format!("{} login", creds.kind());
    let reply = t.send(Method::Post, &path, None, Some(("application/json", &body)))?;
    if !(200..300).contains(&reply.status) {
        return Err(status_error(t, &what, &reply));
    }
    let a: AuthReply = reply.json(t.url(), &what)?;
    Ok(session_from(a.auth))
}

fn lookup_self(t: &Transport, token: &SecretValue) -> Result<LookupData, RemoteError> {
    let what = "the token (lookup-self)";
    let reply = t.send(Method::Get, "auth/token/lookup-self", Some(token), None)?;
    if !(200..300).contains(&reply.status) {
        return Err(status_error(t, what, &reply));
    }
    Ok(reply.json::<LookupReply>(t.url(), what)?.data)
}

/// Extends the session's token; its new lease replaces the old one.
pub fn renew_self(t: &Transport, session: &mut Session) -> Result<(), RemoteError> {
    let what = "the token (renew-self)";
    let reply = t.send(
        Method::Post,
        "auth/token/renew-self",
        Some(&session.token),
        Some(("application/json", b"{}")),
    )?;
    if !(200..300).contains(&reply.status) {
        return Err(status_error(t, what, &reply));
    }
    let a: AuthReply = reply.json(t.url(), what)?;
    let s = session_from(a.auth);
    session.expires = s.expires;
    session.lease = s.lease;
    session.renewable = s.renewable;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_escapes_and_never_grows() {
        let body = secret_json(&[("a", "x\"y"), ("b", "\u{1}")]);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(v["a"], "x\"y");
        assert_eq!(v["b"], "\u{1}");
        assert!(body.capacity() >= body.len());
    }

    #[test]
    fn identity_prefers_the_entity() {
        let mut s = Session {
            token: SecretValue::new("t".into()),
            accessor: "acc".into(),
            entity_id: String::new(),
            renewable: true,
            expires: None,
            lease: Duration::ZERO,
        };
        assert_eq!(s.identity(), "accessor:acc");
        s.entity_id = "e1".into();
        assert_eq!(s.identity(), "entity:e1");
        assert!(!s.wants_renewal());
    }
}
