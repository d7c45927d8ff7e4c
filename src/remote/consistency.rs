//! Read-your-writes on a cluster whose standbys serve reads from their own, possibly
//! lagging, copy (OpenBao 2.5+ by default). OpenBao 2.7 answers a write with its storage
//! index (`X-Vault-Index`); a request that carries it with `X-Vault-Inconsistent:
//! forward-active-node` is forwarded to the active node by a standby that has not
//! applied it yet, instead of answered from before our write. Servers without these
//! headers ignore them.

use std::sync::Mutex;

/// The index of this client's last successful write, if the server sent one.
#[derive(Debug, Default)]
pub struct WriteIndex(Mutex<Option<String>>);

impl WriteIndex {
    pub fn current(&self) -> Option<String> {
        self.0.lock().ok()?.clone()
    }

    /// Keeps the index a successful write answered with. Only writes: they are applied
    /// by the active node, so their index never goes back; a lagging standby's read
    /// answer would.
    pub fn remember(&self, value: Option<&ureq::http::HeaderValue>) {
        let Some(v) = value.and_then(|v| v.to_str().ok()) else {
            return;
        };
        // An opaque token, echoed back as a header: nothing that could split one.
        if v.is_empty() || v.len() > 4096 || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return;
        }
        if let Ok(mut i) = self.0.lock() {
            *i = Some(v.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_plain_index_is_kept_and_the_latest_wins() {
        let i = WriteIndex::default();
        assert_eq!(i.current(), None);
        i.remember(Some(&ureq::http::HeaderValue::from_static("abc=")));
        i.remember(None);
        i.remember(Some(&ureq::http::HeaderValue::from_static("has space")));
        assert_eq!(i.current().as_deref(), Some("abc="));
        i.remember(Some(&ureq::http::HeaderValue::from_static("def")));
        assert_eq!(i.current().as_deref(), Some("def"));
    }
}
