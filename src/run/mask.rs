//! Output masking for `openv run`: every occurrence of a resolved value in the child's
//! output becomes `<concealed by openv>`, also when a value is split across writes.
//!
//! A streaming matcher: bytes that could be the start of a value still being written are
//! held back (at most the longest value's length minus one) until the next write shows
//! whether they are; everything else goes out at once, so ordinary output is not delayed.
//! Values shorter than `MIN_LEN` bytes are not masked: they would garble unrelated output.

use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};
use zeroize::Zeroizing;

pub const MASK: &[u8] = b"<concealed by openv>";

/// Shorter values are not masked.
pub const MIN_LEN: usize = 4;

/// The values to look for, shared by the stdout and stderr streams.
pub struct Patterns {
    ac: AhoCorasick,
    values: Vec<Zeroizing<Vec<u8>>>,
    max_len: usize,
    /// First bytes of the values: most positions are rejected with one lookup.
    first: [bool; 256],
}

impl std::fmt::Debug for Patterns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Patterns({} values, <redacted>)", self.values.len())
    }
}

impl Patterns {
    /// `None` when no value is long enough to mask.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Arc<Self>> {
        let mut vals: Vec<Zeroizing<Vec<u8>>> = Vec::new();
        for v in values {
            if v.len() >= MIN_LEN && !vals.iter().any(|x| x.as_slice() == v.as_bytes()) {
                vals.push(Zeroizing::new(v.as_bytes().to_vec()));
            }
        }
        if vals.is_empty() {
            return None;
        }
        // Leftmost-longest: of two values where one contains the other, the longer wins.
        // A DFA over long values (a 60 KB certificate) takes seconds to build and megabytes
        // to hold; past a few KB the contiguous NFA is the better trade for output masking.
        let total: usize = vals.iter().map(|v| v.len()).sum();
        let kind = (total > 4096).then_some(AhoCorasickKind::ContiguousNFA);
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(kind)
            .build(vals.iter().map(|v| v.as_slice()))
            .ok()?;
        let mut first = [false; 256];
        for v in &vals {
            first[usize::from(v[0])] = true;
        }
        let max_len = vals.iter().map(|v| v.len()).max().unwrap_or(0);
        Some(Arc::new(Self {
            ac,
            values: vals,
            max_len,
            first,
        }))
    }

    /// Could `s` grow into a value with more output? (It is a proper prefix of one.)
    fn could_grow(&self, s: &[u8]) -> bool {
        !s.is_empty()
            && s.len() < self.max_len
            && self.first[usize::from(s[0])]
            && self
                .values
                .iter()
                .any(|v| v.len() > s.len() && v.starts_with(s))
    }
}

/// The masking state of one output stream.
#[derive(Debug)]
pub struct StreamMasker {
    p: Arc<Patterns>,
    carry: Zeroizing<Vec<u8>>,
}

impl StreamMasker {
    pub fn new(p: Arc<Patterns>) -> Self {
        Self {
            p,
            carry: Zeroizing::new(Vec::new()),
        }
    }

    /// Masks `input` (the next bytes of the stream) into `out`, holding back what may be
    /// the beginning of a value.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut buf = Zeroizing::new(std::mem::take(&mut *self.carry));
        buf.extend_from_slice(input);
        let len = buf.len();
        // Only the last max_len-1 bytes can begin a value that is not complete yet.
        let tail = len.saturating_sub(self.p.max_len - 1);
        let mut cur = 0;
        loop {
            let m = self.p.ac.find(Input::new(buf.as_slice()).span(cur..len));
            let plain_end = m.map_or(len, |m| m.start());
            if let Some(q) = (tail.max(cur)..plain_end).find(|&q| self.p.could_grow(&buf[q..])) {
                out.extend_from_slice(&buf[cur..q]);
                self.carry.extend_from_slice(&buf[q..]);
                return;
            }
            out.extend_from_slice(&buf[cur..plain_end]);
            let Some(m) = m else { return };
            // A complete value that a longer value may still extend: wait and see.
            if self.p.could_grow(&buf[m.start()..]) {
                self.carry.extend_from_slice(&buf[m.start()..]);
                return;
            }
            out.extend_from_slice(MASK);
            cur = m.end();
        }
    }

    /// End of stream: what was held back goes out, masked.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let buf = Zeroizing::new(std::mem::take(&mut *self.carry));
        let mut cur = 0;
        for m in self.p.ac.find_iter(buf.as_slice()) {
            out.extend_from_slice(&buf[cur..m.start()]);
            out.extend_from_slice(MASK);
            cur = m.end();
        }
        out.extend_from_slice(&buf[cur..]);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn mask_chunks(values: &[&str], chunks: &[&[u8]]) -> Vec<u8> {
        let mut m = StreamMasker::new(Patterns::new(values.iter().copied()).unwrap());
        let mut out = Vec::new();
        for c in chunks {
            m.push(c, &mut out);
        }
        m.finish(&mut out);
        out
    }

    fn masked(s: &str) -> String {
        s.replace("MASK", std::str::from_utf8(MASK).unwrap())
    }

    #[test]
    fn whole_and_split_values() {
        let out = mask_chunks(&["s3cr3t-token"], &[b"a s3cr3t-token b\n"]);
        assert_eq!(out, masked("a MASK b\n").as_bytes());
        let out = mask_chunks(&["s3cr3t-token"], &[b"a s3cr", b"3t-to", b"ken b\n"]);
        assert_eq!(out, masked("a MASK b\n").as_bytes());
        // A prefix that never completes comes out unchanged at the end.
        let out = mask_chunks(&["s3cr3t-token"], &[b"a s3cr", b"3t-x\n"]);
        assert_eq!(out, b"a s3cr3t-x\n");
        let out = mask_chunks(&["s3cr3t-token"], &[b"tail s3cr3t"]);
        assert_eq!(out, b"tail s3cr3t");
    }

    #[test]
    fn longer_value_wins_and_short_values_are_skipped() {
        assert!(Patterns::new(["abc", ""]).is_none());
        let out = mask_chunks(&["abcd", "abcdefgh"], &[b"x abcd", b"efgh y abcd z"]);
        assert_eq!(out, masked("x MASK y MASK z").as_bytes());
        let out = mask_chunks(&["abcd", "abc"], &[b"abc abcd"]);
        assert_eq!(out, masked("abc MASK").as_bytes());
    }

    #[test]
    fn plain_output_is_not_held_back() {
        let mut m = StreamMasker::new(Patterns::new(["s3cr3t-token"]).unwrap());
        let mut out = Vec::new();
        m.push(b"listening on :8080\n", &mut out);
        assert_eq!(out, b"listening on :8080\n");
        out.clear();
        m.push(b"token: s3c", &mut out);
        assert_eq!(out, b"token: ");
    }

    proptest! {
        #[test]
        fn any_split_masks_every_value(
            pre in "[a-z ]{0,20}",
            mid in "[a-z ]{0,20}",
            cuts in proptest::collection::vec(0usize..80, 0..8),
        ) {
            let vals = ["tok3n-value", "p@ss word\n2", "tok3n"];
            let text = format!("{pre}tok3n-value{mid}p@ss word\n2{pre}tok3n{mid}");
            let mut cuts = cuts;
            cuts.retain(|c| *c <= text.len());
            cuts.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut last = 0;
            for c in cuts {
                chunks.push(&text.as_bytes()[last..c]);
                last = c;
            }
            chunks.push(&text.as_bytes()[last..]);
            let out = String::from_utf8(mask_chunks(&vals, &chunks)).unwrap();
            let whole = String::from_utf8(mask_chunks(&vals, &[text.as_bytes()])).unwrap();
            prop_assert_eq!(&out, &whole);
            prop_assert!(!out.contains("tok3n") && !out.contains("p@ss"), "{}", out);
        }
    }
}
