//! The HTTP transport: one `ureq` agent per server (keep-alive pool), rustls with either
//! the bundled web roots or exactly the CA the user gave, bounded timeouts, no proxy
//! taken from the environment and no `VAULT_*` variable read.
//!
//! Bodies are read into zeroized buffers: a secret's answer holds values.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use ureq::tls::{PemItem, RootCerts, TlsConfig};
use zeroize::Zeroizing;

use super::error::RemoteError;
use crate::secret::SecretValue;

/// The largest answer read: a KV v2 secret is capped near 1 MiB by Raft.
const MAX_BODY: u64 = 4 * 1024 * 1024;

/// An HTTP method the client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

/// A server's answer: status and the body (zeroized on drop).
pub struct Reply {
    pub status: u16,
    pub body: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl Reply {
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        what: &str,
    ) -> Result<T, RemoteError> {
        // serde_json's errors name a line and column, never the text.
        serde_json::from_slice(&self.body).map_err(|e| RemoteError::BadAnswer {
            url: url.to_owned(),
            what: what.to_owned(),
            reason: e.to_string(),
        })
    }
}

enum Sent {
    Reply(Reply),
    Redirect(String),
}

/// A connection to one server.
pub struct Transport {
    base: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Parses a PEM bundle into root certificates; errors say what to fix.
pub fn parse_ca(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, RemoteError> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => {
                return Err(RemoteError::Config(format!(
                    "the CA file is not valid PEM ({e}): give the CA certificate the server's certificate is signed by"
                )));
            }
        }
    }
    if certs.is_empty() {
        return Err(RemoteError::Config(
            "the CA file holds no certificate: give a PEM file with a `BEGIN CERTIFICATE` block"
                .into(),
        ));
    }
    Ok(certs)
}

impl Transport {
    /// `url` is the server's address (`https://host:8200`); `ca_pem` replaces the web
    /// roots with exactly these CAs.
    pub fn new(url: &str, ca_pem: Option<&[u8]>, timeout: Duration) -> Result<Self, RemoteError> {
        let base = url.trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(RemoteError::Config(format!(
                "{url:?} is not a server address: use https://HOST:PORT (or http:// on loopback)"
            )));
        }
        let roots = match ca_pem {
            Some(pem) => RootCerts::Specific(Arc::new(parse_ca(pem)?)),
            None => RootCerts::WebPki,
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Proxies from the environment are not followed silently: a token must not
            // travel through a proxy the user did not name.
            .proxy(None)
            .max_redirects(0)
            .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
            .timeout_global(Some(timeout))
            .max_idle_connections_per_host(4)
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .user_agent(concat!("openv/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            base,
            agent: config.into(),
        })
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    /// One request. `path` is below `/v1/`. Transport failures become `Unreachable` or
    /// `Tls`; any HTTP status is returned as a `Reply` for the caller to judge.
    pub fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&SecretValue>,
        body: Option<(&str, &[u8])>,
    ) -> Result<Reply, RemoteError> {
        let mut url = format!("{}/v1/{}", self.base, path.trim_start_matches('/'));
        // A standby that cannot forward (after a leader change) answers 307 with the
        // active node's address: follow it, at most twice, and only on the same scheme so
        // a token never leaves TLS.
        for _ in 0..2 {
            let reply = self.send_url(method, &url, token, body)?;
            match reply {
                Sent::Reply(r) => return Ok(r),
                Sent::Redirect(to) if to.split("://").next() == url.split("://").next() => {
                    url = to;
                }
                Sent::Redirect(_) => break,
            }
        }
        Err(RemoteError::Unreachable {
            url: self.base.clone(),
            reason: "redirected to another node and not followed (HTTP 307)".into(),
        })
    }

    fn send_url(
        &self,
        method: Method,
        url: &str,
        token: Option<&SecretValue>,
        body: Option<(&str, &[u8])>,
    ) -> Result<Sent, RemoteError> {
        let url = url.to_owned();
        let result = match method {
            Method::Get | Method::Delete => {
                let mut req = if method == Method::Get {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                if let Some(t) = token {
                    req = req.header("X-Vault-Token", t.expose());
                }
                req.call()
            }
            Method::Post | Method::Put | Method::Patch => {
                let mut req = match method {
                    Method::Post => self.agent.post(&url),
                    Method::Put => self.agent.put(&url),
                    _ => self.agent.patch(&url),
                };
                if let Some(t) = token {
                    req = req.header("X-Vault-Token", t.expose());
                }
                let (ctype, bytes) = body.unwrap_or(("application/json", b"{}"));
                req.header("Content-Type", ctype).send(bytes)
            }
        };
        let mut resp = result.map_err(|e| self.transport_error(e))?;
        let status = resp.status().as_u16();
        if matches!(status, 307 | 308)
            && let Some(to) = resp
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .filter(|l| l.starts_with("http://") || l.starts_with("https://"))
        {
            return Ok(Sent::Redirect(to.to_owned()));
        }
        let len = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(4096)
            .min(MAX_BODY as usize);
        // Sized up front so the buffer holding values is not reallocated (and the old
        // copy freed unzeroed) while reading.
        let mut body = Zeroizing::new(Vec::with_capacity(len + 1));
        resp.body_mut()
            .with_config()
            .limit(MAX_BODY)
            .reader()
            .read_to_end(&mut body)
            .map_err(|e| RemoteError::Unreachable {
                url: self.base.clone(),
                reason: format!("the answer was cut off ({})", e.kind()),
            })?;
        Ok(Sent::Reply(Reply { status, body }))
    }

    fn transport_error(&self, e: ureq::Error) -> RemoteError {
        let url = self.base.clone();
        let text = e.to_string();
        // rustls reports certificate problems through an I/O error; its text names the
        // problem (UnknownIssuer, NotValidForName, expired) and never the payload.
        let tls = matches!(e, ureq::Error::Tls(_) | ureq::Error::Rustls(_))
            || text.contains("certificate")
            || text.contains("InvalidCertificate")
            || text.contains("UnknownIssuer");
        if tls {
            let reason = if text.contains("UnknownIssuer") {
                "the server's certificate is not signed by a trusted CA".to_owned()
            } else if text.contains("NotValidForName") {
                "the server's certificate is not valid for this host name".to_owned()
            } else {
                one_line(&text)
            };
            return RemoteError::Tls { url, reason };
        }
        let reason = match e {
            ureq::Error::Timeout(_) => "timed out".to_owned(),
            ureq::Error::HostNotFound => "host not found".to_owned(),
            ureq::Error::ConnectionFailed => "connection refused".to_owned(),
            ureq::Error::Io(io) => match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::TimedOut => "timed out".to_owned(),
                k => format!("network error ({k})"),
            },
            other => one_line(&other.to_string()),
        };
        RemoteError::Unreachable { url, reason }
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

/// The Vault error texts that are safe to show: fixed phrases that name no input. Any
/// other body is summarised by its status alone, because servers (and plugins) echo
/// request fields in their messages.
pub fn safe_server_message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<String>,
    }
    const SAFE: &[&str] = &[
        "permission denied",
        "missing client token",
        "invalid token",
        "invalid credentials",
        "invalid role or secret ID",
        "invalid role ID",
        "invalid secret id",
        "check-and-set parameter did not match the current version",
        "check-and-set parameter required for this call",
        "Vault is sealed",
        "local node not active but active cluster node not found",
        "no handler for route",
        "upgrade in progress",
        "token not renewable",
        "permission denied on path",
    ];
    let parsed: Errors = serde_json::from_slice(body).ok()?;
    let found: Vec<&str> = parsed
        .errors
        .iter()
        .filter_map(|m| SAFE.iter().find(|s| m.contains(**s)).copied())
        .collect();
    (!found.is_empty()).then(|| found.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_phrases_of_an_error_body_are_kept() {
        let body = br#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#;
        assert_eq!(
            safe_server_message(body).as_deref(),
            Some("permission denied")
        );
        let echo = br#"{"errors":["invalid value canary-123 for field data"]}"#;
        assert_eq!(safe_server_message(echo), None);
        assert_eq!(safe_server_message(b"<html>canary</html>"), None);
    }

    #[test]
    fn a_bad_address_or_ca_is_a_clear_error() {
        let e = Transport::new("bao.example:8200", None, Duration::from_secs(1))
            .expect_err("no scheme");
        assert!(e.to_string().contains("https://"), "{e}");
        let e = parse_ca(b"not pem").expect_err("not pem");
        assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");
    }
}
