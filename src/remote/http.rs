//! The HTTP transport: one `ureq` agent per server (keep-alive pool, one per node of a
//! cluster), rustls with either the bundled web roots or exactly the CA the user gave,
//! bounded timeouts, no proxy taken from the environment and no `VAULT_*` variable read.
//! One request to one node is here; choosing the node is `failover.rs`.
//!
//! Bodies are read into zeroized buffers: a secret's answer holds values.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use ureq::tls::{PemItem, RootCerts, TlsConfig};
use zeroize::Zeroizing;

use super::consistency::WriteIndex;
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

/// One request, as the failover loop hands it to a node.
#[derive(Clone, Copy)]
pub struct Req<'a> {
    pub method: Method,
    /// Below `/v1/`.
    pub path: &'a str,
    pub token: Option<&'a SecretValue>,
    pub body: Option<(&'a str, &'a [u8])>,
}

impl std::fmt::Debug for Req<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token or the body (it may hold values).
        f.debug_struct("Req")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A connection to one server: one address, or the nodes of a cluster (`failover.rs`
/// picks among them).
pub struct Transport {
    /// The configured addresses, without a trailing `/`.
    pub(super) nodes: Vec<String>,
    /// What errors and `openv remote list` call the server: the addresses, comma-joined.
    label: String,
    /// The node the last request succeeded on (the active node, once known).
    pub(super) preferred: AtomicUsize,
    /// A request's whole budget, failover included.
    pub(super) timeout: Duration,
    /// Read-your-writes on a cluster whose standbys serve reads (`consistency.rs`).
    index: WriteIndex,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("nodes", &self.nodes)
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

/// The addresses of a remote's `url`: one, or a comma list of a cluster's nodes.
pub fn split_addresses(url: &str) -> Result<Vec<String>, RemoteError> {
    let mut nodes: Vec<String> = Vec::new();
    for a in url.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let base = a.trim_end_matches('/').to_owned();
        let scheme_ok = base.starts_with("https://") || base.starts_with("http://");
        let host = base.split_once("://").map(|(_, h)| h).unwrap_or_default();
        if !scheme_ok || host.is_empty() || host.contains('/') {
            return Err(RemoteError::Config(format!(
                "{a:?} is not a server address: use https://HOST:PORT (or http:// on loopback); give a cluster's nodes as --url A --url B or --url A,B"
            )));
        }
        if !nodes.contains(&base) {
            nodes.push(base);
        }
    }
    if nodes.is_empty() {
        return Err(RemoteError::Config(
            "no server address: give --url https://HOST:PORT".into(),
        ));
    }
    Ok(nodes)
}

/// `scheme://host:port` of a URL.
pub(super) fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    match url[after..].find('/') {
        Some(i) => &url[..after + i],
        None => url,
    }
}

impl Transport {
    /// `url` is the server's address (`https://host:8200`) or a comma list of a cluster's
    /// nodes; `ca_pem` replaces the web roots with exactly these CAs; `timeout` bounds a
    /// request, failover included.
    pub fn new(url: &str, ca_pem: Option<&[u8]>, timeout: Duration) -> Result<Self, RemoteError> {
        let nodes = split_addresses(url)?;
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
            label: nodes.join(","),
            nodes,
            preferred: AtomicUsize::new(0),
            timeout,
            index: WriteIndex::default(),
            agent: config.into(),
        })
    }

    /// The server as errors name it: its address, or its nodes' comma-joined.
    pub fn url(&self) -> &str {
        &self.label
    }

    /// The configured node a URL points at, if any.
    pub(super) fn node_of(&self, url: &str) -> Option<usize> {
        let o = origin(url).trim_end_matches('/');
        self.nodes.iter().position(|n| n == o)
    }

    /// One request to node `i`, each hop bounded by `limit` (and the deadline). A 307
    /// (a standby that cannot forward) is followed, at most twice and only on the same
    /// scheme so a token never leaves TLS; a target that does not answer is a failure of
    /// this attempt (the caller tries the next node), never the end of the request.
    /// Returns the reply and the configured node that gave it, if it is one.
    pub(super) fn send_node(
        &self,
        i: usize,
        req: &Req<'_>,
        limit: impl Fn() -> Result<Duration, RemoteError>,
    ) -> Result<(Reply, Option<usize>), RemoteError> {
        let mut url = format!("{}/v1/{}", self.nodes[i], req.path.trim_start_matches('/'));
        let mut at = Some(i);
        for _ in 0..3 {
            match self.send_url(req, &url, limit()?)? {
                Sent::Reply(r) => return Ok((r, at)),
                Sent::Redirect(to) if to.split("://").next() == url.split("://").next() => {
                    at = self.node_of(&to);
                    url = to;
                }
                Sent::Redirect(_) => break,
            }
        }
        Err(RemoteError::Unreachable {
            url: origin(&url).to_owned(),
            reason: "redirected to another node and not followed (HTTP 307)".into(),
        })
    }

    fn send_url(&self, req: &Req<'_>, url: &str, limit: Duration) -> Result<Sent, RemoteError> {
        let node = origin(url).to_owned();
        let result = match req.method {
            Method::Get => self.prepare(self.agent.get(url), req, limit).call(),
            Method::Delete => self.prepare(self.agent.delete(url), req, limit).call(),
            Method::Post | Method::Put | Method::Patch => {
                let r = match req.method {
                    Method::Post => self.agent.post(url),
                    Method::Put => self.agent.put(url),
                    _ => self.agent.patch(url),
                };
                let (ctype, bytes) = req.body.unwrap_or(("application/json", b"{}"));
                self.prepare(r, req, limit)
                    .header("Content-Type", ctype)
                    .send(bytes)
            }
        };
        let mut resp = result.map_err(|e| transport_error(&node, e))?;
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
        if req.method != Method::Get && (200..300).contains(&status) {
            self.index.remember(resp.headers().get("x-vault-index"));
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
                url: node.clone(),
                reason: format!("the answer was cut off ({})", e.kind()),
            })?;
        Ok(Sent::Reply(Reply { status, body }))
    }
}

impl Transport {
    /// What every request carries: its time limits, the token, and the index of this
    /// client's last write (`consistency.rs`).
    fn prepare<B>(
        &self,
        r: ureq::RequestBuilder<B>,
        req: &Req<'_>,
        limit: Duration,
    ) -> ureq::RequestBuilder<B> {
        let mut r = r
            .config()
            .timeout_global(Some(limit))
            .timeout_connect(Some(limit.min(Duration::from_secs(5))))
            .build();
        if let Some(t) = req.token {
            r = r.header("X-Vault-Token", t.expose());
        }
        if let Some(index) = self.index.current() {
            r = r
                .header("X-Vault-Index", index)
                .header("X-Vault-Inconsistent", "forward-active-node");
        }
        r
    }
}

fn transport_error(node: &str, e: ureq::Error) -> RemoteError {
    let url = node.to_owned();
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
        "invalid username or password",
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
        let e = Transport::new("http://a:1,,ftp://b", None, Duration::from_secs(1))
            .expect_err("a bad node in a list");
        assert!(e.to_string().contains("\"ftp://b\""), "{e}");
        let t = Transport::new(
            " http://a:1/ , http://b:2,http://a:1",
            None,
            Duration::from_secs(1),
        )
        .expect("a list");
        assert_eq!(t.nodes, ["http://a:1", "http://b:2"]);
        assert_eq!(t.url(), "http://a:1,http://b:2");
        assert_eq!(t.node_of("http://b:2/v1/sys/leader"), Some(1));
        assert_eq!(origin("https://h:8200/v1/x"), "https://h:8200");
        let e = parse_ca(b"not pem").expect_err("not pem");
        assert!(e.to_string().contains("BEGIN CERTIFICATE"), "{e}");
    }
}
