//! What a project expects from its environment: variable names from `.env.example` /
//! `.env.sample`, docker-compose `environment:` keys and `${VAR}` interpolations, and
//! `process.env.X`-style references in code. Names only; the scan never opens `.env`
//! itself (a plaintext secret, or a mount whose read would ask the user).
//!
//! Bounded: files, bytes per file, total bytes and depth are capped, and the report says
//! when a cap cut the scan short.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::names::check_var_name;

/// Directories never entered: dependencies, build output, VCS data. Hidden directories
/// (`.git`, `.venv`, `.next`, ...) are skipped as well.
const SKIP_DIRS: &[&str] = &[
    "node_modules",
    "target",
    "vendor",
    "__pycache__",
    "venv",
    "dist",
    "coverage",
];

/// Example files that list a project's variables.
const EXAMPLE_FILES: &[&str] = &[".env.example", ".env.sample", ".env.template", ".env.dist"];

/// Source files searched for references.
const CODE_EXTS: &[&str] = &[
    "js", "mjs", "cjs", "jsx", "ts", "mts", "cts", "tsx", "vue", "svelte", "astro", "py", "rs",
    "go", "rb", "php", "java", "kt", "kts", "scala", "swift", "cs", "ex", "exs", "sh", "bash",
];

/// Names a process gets from the system or its tooling rather than from `.env`: they
/// are reported apart, never as missing.
const AMBIENT: &[&str] = &[
    "PATH", "HOME", "USER", "SHELL", "PWD", "TERM", "LANG", "LC_ALL", "TMPDIR", "TMP", "TEMP",
    "HOSTNAME", "CI", "NODE_ENV",
];

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_files: 20_000,
            max_file_bytes: 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
            max_depth: 24,
        }
    }
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Scanned {
    pub files: usize,
    pub bytes: u64,
    /// Why the scan stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<String>,
}

#[derive(Debug, Default)]
pub struct Scan {
    /// Expected name -> where it was seen ("path:line", relative; first few only).
    pub expected: BTreeMap<String, Vec<String>>,
    pub scanned: Scanned,
}

const MAX_PLACES: usize = 3;

impl Scan {
    fn add(&mut self, name: &str, place: impl FnOnce() -> String) {
        if check_var_name(name).is_err() {
            return;
        }
        let places = self.expected.entry(name.to_owned()).or_default();
        if places.len() < MAX_PLACES {
            places.push(place());
        }
    }
}

pub fn is_ambient(name: &str) -> bool {
    AMBIENT.contains(&name)
}

/// Scans the project under `root`.
pub fn scan(root: &Path, limits: &Limits) -> std::io::Result<Scan> {
    let mut out = Scan::default();
    // Depth-first with an explicit stack; symlinks are not followed.
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if dir == root => return Err(e),
            Err(_) => continue,
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let Ok(ft) = entry.file_type() else { continue };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let path = entry.path();
            if ft.is_dir() {
                if name.starts_with('.') || SKIP_DIRS.contains(&name) {
                    continue;
                }
                if depth + 1 > limits.max_depth {
                    out.scanned.truncated =
                        Some(format!("deeper than {} levels", limits.max_depth));
                    continue;
                }
                stack.push((path, depth + 1));
                continue;
            }
            if !ft.is_file() {
                continue;
            }
            let Some(kind) = classify(name) else { continue };
            if out.scanned.files >= limits.max_files {
                out.scanned.truncated = Some(format!("more than {} files", limits.max_files));
                return Ok(out);
            }
            let Ok(meta) = entry.metadata() else { continue };
            if meta.len() > limits.max_file_bytes {
                continue;
            }
            if out.scanned.bytes + meta.len() > limits.max_total_bytes {
                out.scanned.truncated = Some(format!(
                    "more than {} bytes of files",
                    limits.max_total_bytes
                ));
                return Ok(out);
            }
            let Ok(bytes) = fs::read(&path) else { continue };
            out.scanned.files += 1;
            out.scanned.bytes += bytes.len() as u64;
            let text = String::from_utf8_lossy(&bytes);
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            match kind {
                Kind::Example => scan_example(&text, &rel, &mut out),
                Kind::Compose => scan_compose(&text, &rel, &mut out),
                Kind::Code => scan_code(&text, &rel, &mut out),
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Example,
    Compose,
    Code,
}

fn classify(name: &str) -> Option<Kind> {
    if EXAMPLE_FILES.contains(&name) {
        return Some(Kind::Example);
    }
    // Never `.env`, `.env.local`, `prod.env`...: those hold values.
    if name == ".env" || name.starts_with(".env.") || name.ends_with(".env") {
        return None;
    }
    let yaml = name.ends_with(".yml") || name.ends_with(".yaml");
    if yaml && (name.starts_with("docker-compose") || name.starts_with("compose")) {
        return Some(Kind::Compose);
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e)?;
    CODE_EXTS.contains(&ext).then_some(Kind::Code)
}

/// `NAME=example` lines (with or without `export`); the example values are ignored.
fn scan_example(text: &str, rel: &str, out: &mut Scan) {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let name = line.split_once('=').map_or(line, |(n, _)| n).trim();
        out.add(name, || format!("{rel}:{}", i + 1));
    }
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Keys of `environment:` blocks (map or list form) and `${VAR}` interpolations.
fn scan_compose(text: &str, rel: &str, out: &mut Scan) {
    let mut block: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        let place = || format!("{rel}:{}", i + 1);
        interpolations(line, &mut |n| out.add(n, place));
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if let Some(level) = block {
            if indent(line) > level {
                let item = t.strip_prefix('-').map_or(t, str::trim_start);
                let item = item.trim_matches(|c| c == '"' || c == '\'');
                let name = item
                    .split(['=', ':'])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .trim_matches(|c| c == '"' || c == '\'');
                out.add(name, place);
                continue;
            }
            block = None;
        }
        if t == "environment:" {
            block = Some(indent(line));
        }
    }
}

/// `${NAME}`, `${NAME:-default}`, `${NAME?err}`...
fn interpolations(line: &str, found: &mut impl FnMut(&str)) {
    let mut rest = line;
    while let Some(at) = rest.find("${") {
        rest = &rest[at + 2..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        found(&rest[..end]);
    }
}

/// How a reference names its variable after the matched prefix.
#[derive(Debug, Clone, Copy)]
enum After {
    /// `process.env.NAME`
    Ident,
    /// `os.getenv("NAME")`, `process.env['NAME']`
    Quoted,
}

const PATTERNS: &[(&str, After)] = &[
    ("process.env.", After::Ident),
    ("process.env[", After::Quoted),
    ("import.meta.env.", After::Ident),
    ("Deno.env.get(", After::Quoted),
    ("os.environ[", After::Quoted),
    ("os.environ.get(", After::Quoted),
    ("environ.get(", After::Quoted),
    // os.getenv (Python), getenv (C, PHP), System.getenv (Java)
    ("getenv(", After::Quoted),
    // std::env::var, env::var_os
    ("env::var(", After::Quoted),
    ("env::var_os(", After::Quoted),
    ("os.Getenv(", After::Quoted),
    ("os.LookupEnv(", After::Quoted),
    ("ENV[", After::Quoted),
    ("ENV.fetch(", After::Quoted),
    ("$_ENV[", After::Quoted),
    ("GetEnvironmentVariable(", After::Quoted),
];

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

fn scan_code(text: &str, rel: &str, out: &mut Scan) {
    for (i, line) in text.lines().enumerate() {
        // Cheap pre-filter: every pattern contains "env" in some case.
        let lower_has_env = line.contains("env") || line.contains("ENV") || line.contains("Env");
        if !lower_has_env {
            continue;
        }
        for (prefix, after) in PATTERNS {
            for (at, _) in line.match_indices(prefix) {
                let rest = &line[at + prefix.len()..];
                let name = match after {
                    After::Ident => ident(rest),
                    After::Quoted => {
                        let rest = rest.trim_start();
                        match rest.chars().next() {
                            Some(q @ ('"' | '\'' | '`')) => {
                                let inner = &rest[1..];
                                let name = ident(inner);
                                // The whole argument must be the name: `"A_" + x` is not one.
                                let after = &inner[name.len()..];
                                let closes = after
                                    .strip_prefix(q)
                                    .is_some_and(|a| a.trim_start().starts_with([')', ']', ',']));
                                if closes { name } else { "" }
                            }
                            _ => "",
                        }
                    }
                };
                out.add(name, || format!("{rel}:{}", i + 1));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Scan) -> Vec<&str> {
        s.expected.keys().map(String::as_str).collect()
    }

    #[test]
    fn code_references() {
        let mut s = Scan::default();
        let src = r#"
const a = process.env.API_KEY; const b = process.env["DB_URL"];
key = os.environ["PY_KEY"]; os.environ.get('PY_OPT'); os.getenv("PY_GET")
let v = std::env::var("RUST_VAR"); x := os.Getenv("GO_VAR")
import.meta.env.VITE_X; process.env[name]; os.getenv("PREFIX_" + x)
"#;
        scan_code(src, "a.js", &mut s);
        assert_eq!(
            names(&s),
            [
                "API_KEY", "DB_URL", "GO_VAR", "PY_GET", "PY_KEY", "PY_OPT", "RUST_VAR", "VITE_X"
            ]
        );
        assert_eq!(s.expected["API_KEY"], ["a.js:2"]);
    }

    #[test]
    fn example_and_compose() {
        let mut s = Scan::default();
        scan_example(
            "# comment\nEX_A=1\nexport EX_B=\"x\"\nnot a name=3\n",
            ".env.example",
            &mut s,
        );
        scan_compose(
            "services:\n  web:\n    image: x:${TAG:-latest}\n    environment:\n      - LIST_A=1\n      - \"LIST_B\"\n    ports:\n      - \"80:80\"\n  db:\n    environment:\n      MAP_A: x\n      MAP_B: ${FROM_HOST}\n",
            "compose.yml",
            &mut s,
        );
        assert_eq!(
            names(&s),
            [
                "EX_A",
                "EX_B",
                "FROM_HOST",
                "LIST_A",
                "LIST_B",
                "MAP_A",
                "MAP_B",
                "TAG"
            ]
        );
    }

    #[test]
    fn never_reads_env_files_and_skips_dependencies() {
        let t = tempfile::tempdir().expect("tempdir");
        let r = t.path();
        fs::write(r.join(".env"), "SECRET_FROM_DOTENV=x\n").expect("write");
        fs::write(r.join(".env.local"), "LOCAL=x\n").expect("write");
        fs::write(r.join(".env.example"), "FROM_EXAMPLE=\n").expect("write");
        fs::create_dir_all(r.join("node_modules/x")).expect("mkdir");
        fs::write(r.join("node_modules/x/i.js"), "process.env.DEP").expect("write");
        fs::create_dir_all(r.join("src")).expect("mkdir");
        fs::write(r.join("src/app.py"), "os.getenv('APP')").expect("write");
        let s = scan(r, &Limits::default()).expect("scan");
        assert_eq!(names(&s), ["APP", "FROM_EXAMPLE"]);
        assert_eq!(s.scanned.files, 2);
        assert_eq!(s.expected["APP"], ["src/app.py:1"]);
    }

    #[test]
    fn limits_cut_the_scan() {
        let t = tempfile::tempdir().expect("tempdir");
        for i in 0..5 {
            fs::write(
                t.path().join(format!("f{i}.js")),
                format!("process.env.V{i}"),
            )
            .expect("write");
        }
        let limits = Limits {
            max_files: 3,
            ..Limits::default()
        };
        let s = scan(t.path(), &limits).expect("scan");
        assert_eq!(s.scanned.files, 3);
        assert!(s.scanned.truncated.is_some());
    }
}
