//! The source tree keeps the shape docs/architecture.md promises: no module imports
//! another that imports it back, no long file without one stated job, and the
//! architecture document names only files and functions that exist.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

type Module = Vec<String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/agent/reads/mod.rs` -> `agent::reads`; `src/lib.rs` -> the crate root.
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Source without comments, string and char literals and `#[cfg(test)]` code.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let prev_ident = i > 0 && ident(b[i - 1]);
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'r' && !prev_ident && matches!(b.get(i + 1), Some(b'#' | b'"')) {
            // r"..." or r#"..."#: ends at a quote followed by as many #.
            let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            let body = i + 2 + hashes;
            let end = b[body.min(b.len())..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| body + p + close.len());
            out.push_str("\"\"");
            i = end;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i += 1;
        } else if b[i] == b'\'' {
            // A char literal ('"', '\'', '\u{..}') or a lifetime ('a).
            let len = if b.get(i + 1) == Some(&b'\\') {
                b[i + 2..].iter().position(|c| *c == b'\'').map(|p| p + 3)
            } else if b.get(i + 2) == Some(&b'\'') {
                Some(3)
            } else {
                None
            };
            out.push(' ');
            i += len.unwrap_or(1);
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Every path of a `use` tree: `a::{b, c::{d}}` -> `a::b`, `a::c::d`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let segs = tree
            .split("::")
            .map(|s| s.split(" as ").next().unwrap_or(s).trim().to_owned())
            .filter(|s| !s.is_empty() && s != "*")
            .collect();
        return vec![segs];
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let (mut depth, mut item, mut items) = (0, String::new(), Vec::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            items.push(std::mem::take(&mut item));
        } else {
            item.push(c);
        }
    }
    items.push(item);
    let mut out = Vec::new();
    for it in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
        if it == "self" {
            out.push(prefix.clone());
            continue;
        }
        for sub in expand(it) {
            out.push(prefix.iter().cloned().chain(sub).collect());
        }
    }
    out
}

/// The module file a path names, as seen from `here`.
fn target(modules: &BTreeSet<Module>, here: &Module, segs: &[String]) -> Option<Module> {
    let (mut base, mut rest): (Module, &[String]) = match segs.first()?.as_str() {
        "crate" => (Vec::new(), &segs[1..]),
        "self" => (here.clone(), &segs[1..]),
        "super" => {
            let mut base = here.clone();
            let mut rest = segs;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        first => {
            let mut child = here.clone();
            child.push(first.to_owned());
            if !modules.contains(&child) {
                return None;
            }
            (here.clone(), segs)
        }
    };
    // The longest prefix that is a module file.
    let mut best = None;
    loop {
        if modules.contains(&base) {
            best = Some(base.clone());
        }
        let Some((first, tail)) = rest.split_first() else {
            break;
        };
        base.push(first.clone());
        rest = tail;
    }
    best.filter(|m| !m.is_empty() && m != here)
}

fn imports(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Module> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let here = module_of(src, file);
        let code = code_of(&std::fs::read_to_string(file).expect("read source"));
        let mut paths = Vec::new();
        for stmt in code.split(';') {
            if let Some(i) = stmt.find("use ") {
                let before = &stmt[..i];
                if before
                    .trim_end()
                    .ends_with(|c: char| c.is_alphanumeric() || c == '_')
                {
                    continue;
                }
                paths.extend(expand(&stmt[i + 4..]));
            }
        }
        // Inline paths such as `crate::a::b(..)` or `child::f(..)`.
        let bytes = code.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let starts = (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_')
                && (i == 0
                    || !(bytes[i - 1].is_ascii_alphanumeric() || b":_".contains(&bytes[i - 1])));
            if !starts {
                i += 1;
                continue;
            }
            let mut j = i;
            while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || b"_:".contains(&bytes[j]))
            {
                j += 1;
            }
            let word = &code[i..j];
            // `a::{..}` is a use group, read above.
            if word.contains("::") && !word.ends_with("::") {
                paths.push(
                    word.split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                );
            }
            i = j;
        }
        let set: &mut BTreeSet<Module> = edges.entry(here.clone()).or_default();
        for p in paths {
            if let Some(t) = target(&modules, &here, &p) {
                set.insert(t);
            }
        }
    }
    edges
}

/// A module reachable from itself, with the way round.
fn find_cycle(edges: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((m, way)) = stack.pop() {
            for next in edges.get(&m).into_iter().flatten() {
                if next == start {
                    let mut way = way.clone();
                    way.push(next.clone());
                    return Some(way);
                }
                if seen.insert(next.clone()) {
                    let mut way = way.clone();
                    way.push(next.clone());
                    stack.push((next.clone(), way));
                }
            }
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    for krate in ["src", "mount/src"] {
        let edges = imports(&Path::new(ROOT).join(krate));
        assert!(edges.len() > 5, "{krate}: found too few modules to check");
        if let Some(way) = find_cycle(&edges) {
            let names: Vec<String> = way.iter().map(|m| m.join("::")).collect();
            panic!("{krate}: import circle {}", names.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_a_circle() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("a")).expect("mkdir");
    std::fs::write(dir.path().join("lib.rs"), "mod a; mod b;").expect("lib");
    std::fs::write(dir.path().join("a/mod.rs"), "mod c;\nuse crate::b::X;").expect("a");
    std::fs::write(dir.path().join("a/c.rs"), "").expect("c");
    std::fs::write(dir.path().join("b.rs"), "pub fn f() { crate::a::g() }").expect("b");
    assert!(find_cycle(&imports(dir.path())).is_some());
    std::fs::write(dir.path().join("b.rs"), "pub fn f() {}").expect("b");
    assert!(find_cycle(&imports(dir.path())).is_none());
}

#[test]
fn a_long_source_file_says_its_one_job() {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    rust_files(&Path::new(ROOT).join("mount/src"), &mut files);
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        let lines = text.lines().count();
        let is_tests = f.file_name().is_some_and(|n| n == "tests.rs");
        if lines > 450 && !is_tests {
            let header: String = text.lines().take_while(|l| l.starts_with("//!")).collect();
            assert!(
                header.contains("One job"),
                "{} has {lines} lines: split it, or say in its header which one job it holds",
                f.display()
            );
        }
    }
}

#[test]
fn the_architecture_document_names_what_exists() {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md")).expect("doc");
    let mut sources = String::new();
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    rust_files(&Path::new(ROOT).join("mount/src"), &mut files);
    for f in &files {
        sources.push_str(&std::fs::read_to_string(f).expect("read"));
    }
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let defined = |name: &str| {
        sources.match_indices(name).any(|(i, _)| {
            let before = sources[..i].chars().next_back();
            let after = sources[i + name.len()..].chars().next();
            !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
        })
    };
    let mut checked = 0;
    for (n, token) in doc.split('`').enumerate() {
        if n % 2 == 0 || token.contains(' ') {
            continue;
        }
        if token.starts_with("src/") || token.starts_with("mount/") {
            // `src/store/rules.rs`, `src/agent/reads/`, `src/cli/*.rs`
            for part in token.split(',') {
                let part = part.trim().trim_end_matches("*.rs");
                let path = Path::new(ROOT).join(part);
                assert!(
                    path.exists(),
                    "docs/architecture.md names {part}, which does not exist"
                );
                checked += 1;
            }
        } else if token.contains("::") && token.chars().all(|c| is_ident(c) || c == ':') {
            // `reads::decide::rule`: every segment must be a name in the sources.
            for seg in token.split("::").filter(|s| !s.is_empty()) {
                assert!(
                    defined(seg),
                    "docs/architecture.md names `{token}`, but `{seg}` is nowhere in the sources"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked > 30,
        "only {checked} names checked: did the document change shape?"
    );
}
