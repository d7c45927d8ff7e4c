//! Which dialect an open gets: an explicit `render = "..."` on the mount always wins;
//! otherwise the reader's executable decides, and for node, which hosts several loaders,
//! its command line and then the project's `package.json` dependencies.

use std::path::Path;

use super::dialect::Dialect;

/// The file name of `exe` without a version suffix (`python3.11` -> `python`) or `.exe`
/// (npm's bun is `bun.exe`).
fn program(exe: &Path) -> &str {
    let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let name = name.strip_suffix(".exe").unwrap_or(name);
    name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
}

/// Whether choosing for `exe` looks at the command line (which costs a /proc read).
pub fn needs_cmdline(exe: &Path) -> bool {
    matches!(program(exe), "node" | "nodejs")
}

/// The dialect for an open by `exe` running `cmdline`. `package` answers what the mount's
/// project `package.json` implies; it is asked only for node, and only when its command
/// line does not say.
pub fn choose_dialect(
    exe: &Path,
    cmdline: &[String],
    explicit: Option<Dialect>,
    package: impl FnOnce() -> Option<Dialect>,
) -> Dialect {
    if let Some(d) = explicit {
        return d;
    }
    match program(exe) {
        "python" | "pypy" => Dialect::PythonDotenv,
        "uv" => Dialect::Dotenvy,
        "node" | "nodejs" => node(cmdline, package),
        "bun" => Dialect::Bun,
        "deno" => Dialect::Deno,
        "dotenvx" => Dialect::Dotenvx,
        "ruby" => Dialect::RubyDotenv,
        "php" | "php-cli" | "php-fpm" => Dialect::Phpdotenv,
        "direnv" => Dialect::Direnv,
        "sh" | "bash" | "dash" | "zsh" | "ksh" | "mksh" | "busybox" => Dialect::Posix,
        "docker-compose" | "docker" => Dialect::Compose,
        _ => Dialect::Common,
    }
}

/// node runs node's own loader (`--env-file`), dotenvx, Vite, Next.js or plain dotenv.
fn node(cmdline: &[String], package: impl FnOnce() -> Option<Dialect>) -> Dialect {
    let args = cmdline.iter().skip(1);
    for arg in args.clone() {
        if arg.starts_with("--env-file") {
            return Dialect::Node;
        }
    }
    for arg in args {
        let base = Path::new(arg)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        if arg.contains("dotenvx") {
            return Dialect::Dotenvx;
        }
        if matches!(base, "vite" | "vite.js" | "next") || arg.contains("/vite/") {
            return Dialect::DotenvExpand;
        }
    }
    package().unwrap_or(Dialect::Node)
}

/// The loader the `package.json` in `dir` depends on, if it names one that changes the
/// dialect. Vite and Next.js load `.env` themselves; dotenvx runs by hand. Read once per
/// change of the file (`mount_table::hints`), never per open.
pub fn package_dialect(dir: &Path) -> Option<Dialect> {
    // A package.json larger than this is not a project manifest worth parsing.
    const MAX: u64 = 1024 * 1024;
    let path = dir.join("package.json");
    if std::fs::metadata(&path).ok()?.len() > MAX {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let has = |dep: &str| {
        ["dependencies", "devDependencies"]
            .iter()
            .any(|k| doc.get(k).and_then(|d| d.get(dep)).is_some())
    };
    if has("vite") || has("next") || has("dotenv-expand") || has("@next/env") {
        Some(Dialect::DotenvExpand)
    } else if has("@dotenvx/dotenvx") {
        Some(Dialect::Dotenvx)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(exe: &str, cmd: &[&str], dir: Option<&Path>) -> Dialect {
        let cmd: Vec<String> = cmd.iter().map(|s| (*s).to_owned()).collect();
        choose_dialect(Path::new(exe), &cmd, None, || dir.and_then(package_dialect))
    }

    #[test]
    fn the_executable_decides() {
        assert_eq!(
            pick("/usr/bin/python3.11", &[], None),
            Dialect::PythonDotenv
        );
        assert_eq!(pick("/usr/bin/python3", &[], None), Dialect::PythonDotenv);
        assert_eq!(pick("/x/uv", &[], None), Dialect::Dotenvy);
        assert_eq!(pick("/x/bun", &[], None), Dialect::Bun);
        assert_eq!(
            pick("/p/node_modules/bun/bin/bun.exe", &[], None),
            Dialect::Bun
        );
        assert_eq!(pick("/x/deno", &[], None), Dialect::Deno);
        assert_eq!(pick("/usr/bin/ruby3.1", &[], None), Dialect::RubyDotenv);
        assert_eq!(pick("/usr/bin/php8.2", &[], None), Dialect::Phpdotenv);
        assert_eq!(pick("/usr/bin/direnv", &[], None), Dialect::Direnv);
        assert_eq!(pick("/usr/bin/bash", &[], None), Dialect::Posix);
        assert_eq!(pick("/usr/bin/dash", &[], None), Dialect::Posix);
        assert_eq!(pick("/tmp/myapp", &[], None), Dialect::Common);
        assert_eq!(pick("/usr/bin/cat", &[], None), Dialect::Common);
    }

    #[test]
    fn node_looks_at_its_command_line_then_the_project() {
        let n = "/usr/bin/node";
        assert_eq!(pick(n, &["node", "app.js"], None), Dialect::Node);
        assert_eq!(
            pick(n, &["node", "--env-file=.env", "app.js"], None),
            Dialect::Node
        );
        assert_eq!(
            pick(n, &["node", "/p/node_modules/.bin/dotenvx", "run"], None),
            Dialect::Dotenvx
        );
        assert_eq!(
            pick(n, &["node", "/p/node_modules/vite/bin/vite.js"], None),
            Dialect::DotenvExpand
        );
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"devDependencies": {"vite": "^8"}}"#,
        )
        .expect("write");
        assert_eq!(
            pick(n, &["node", "app.js"], Some(dir.path())),
            Dialect::DotenvExpand
        );
        std::fs::write(
            dir.path().join("package.json"),
            r#"{"dependencies": {"@dotenvx/dotenvx": "^2"}}"#,
        )
        .expect("write");
        assert_eq!(
            pick(n, &["node", "app.js"], Some(dir.path())),
            Dialect::Dotenvx
        );
        std::fs::write(dir.path().join("package.json"), "not json").expect("write");
        assert_eq!(
            pick(n, &["node", "app.js"], Some(dir.path())),
            Dialect::Node
        );
    }

    #[test]
    fn an_explicit_render_always_wins() {
        let cmd = vec!["python3".to_owned()];
        assert_eq!(
            choose_dialect(
                Path::new("/usr/bin/python3"),
                &cmd,
                Some(Dialect::Posix),
                || None
            ),
            Dialect::Posix
        );
    }
}
