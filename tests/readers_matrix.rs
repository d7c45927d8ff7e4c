//! Every real reader on a real FUSE mount through a real agent: python-dotenv
//! (`dotenv_values`, `load_dotenv`), pydantic-settings, `uv run --env-file`, node's
//! dotenv, `node --env-file`, `process.loadEnvFile`, dotenvx, deno, bun (`--env-file`
//! and automatic), Vite `loadEnv`, Next.js `@next/env`, bash `set -a; .`, godotenv,
//! docker-compose, direnv, Ruby dotenv and phpdotenv. Each prints what it got as JSON
//! (scripts in tests/readers/).
//!
//! The agent renders each open in the dialect of the process that opens it. Each
//! dialect gets its own environment holding every value of the set it can represent,
//! mounted in its own project directory; every reader of that dialect must read all of
//! them back byte-exact. A read of a value its dialect cannot represent must fail (EACCES),
//! never be served changed.
//!
//! Readers are installed by scripts/test.sh. A missing reader skips with a notice, and
//! fails under CI.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Openv, require};
use openv::render::Dialect;

/// The value set: every case the issue lists, and the edges where dialects differ.
const VALUES: &[(&str, &str)] = &[
    ("plain", "abc123"),
    ("spaces", "  two  words  "),
    ("hash", "a #b #c"),
    ("home and path", "$HOME and $PATH"),
    ("single quotes", "it's 'quoted'"),
    ("double quotes", "say \"hi\""),
    ("both quotes", "it's \"x\""),
    ("backslashes", "C:\\Users\\me\\new"),
    ("trailing backslash", "ends\\"),
    ("equals", "a=b==c"),
    ("unicode", "ünïcödé 日本語 🔑"),
    ("empty", ""),
    ("multi-line", "line1\nline2\n# not a comment\nB=injected"),
    ("json", "{\"a\": [1, \"b\"], \"c\": {\"d\": null}}"),
    ("backticks", "`id` $(id)"),
    ("braces", "${HOME}"),
    ("carriage return", "a\r\nb"),
    ("all three quotes", "'\"`"),
];

const DEADLINE: Duration = Duration::from_secs(120);

fn readers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readers")
}

fn js_bin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/js/node_modules/.bin")
        .join(name)
}

/// Runs `cmd` to its end or the deadline (then kills it).
fn run_until(mut cmd: Command, deadline: Instant) -> Result<Output, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return child.wait_with_output().map_err(|e| e.to_string()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("still running at the deadline".into());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The path of the executable `cmd` runs as (what the kernel reports for an open).
fn exe_of(program: &str, args: &[&str]) -> Option<PathBuf> {
    let out = Command::new(program).args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let p = PathBuf::from(s.trim());
    (out.status.success() && p.is_absolute()).then(|| p.canonicalize().unwrap_or(p))
}

fn which(name: &str) -> Option<PathBuf> {
    exe_of("sh", &["-c", &format!("command -v {name}")])
}

/// Builds a reader's command for a mount directory and the names to print.
type MakeCmd = Box<dyn Fn(&Path, &[String]) -> Command + Send + Sync>;

/// One reader: how to run it on a mount, and the executable that opens the file.
struct Reader {
    label: &'static str,
    dialect: Dialect,
    /// Executables to allow (the one that opens `.env`).
    exe: Option<PathBuf>,
    /// What the reader needs to be installed, for the notice.
    needs: &'static str,
    cmd: MakeCmd,
}

fn python(mode: &'static str) -> MakeCmd {
    Box::new(move |dir, names| {
        let mut c = Command::new("python3");
        c.arg(readers_dir().join("python_reader.py"))
            .arg(mode)
            .arg(dir.join(".env"))
            .args(names);
        c
    })
}

fn node(mode: &'static str, target_is_dir: bool) -> MakeCmd {
    Box::new(move |dir, names| {
        let mut c = Command::new("node");
        c.arg(readers_dir().join("node_reader.cjs")).arg(mode);
        if target_is_dir {
            c.arg(dir);
        } else {
            c.arg(dir.join(".env"));
        }
        c.args(names);
        c
    })
}

const PY_EXE: &[&str] = &["-c", "import sys; print(sys.executable)"];
const NODE_EXE: &[&str] = &["-p", "process.execPath"];
/// Prints the named variables of the environment as JSON (after bash sourced .env).
const PRINT_ENV: &str = "import json, os, sys; print(json.dumps({n: os.environ[n] for n in sys.argv[1:] if n in os.environ}))";

fn godotenv_reader() -> Option<PathBuf> {
    // Built once per test run, offline, from Debian's golang-github-joho-godotenv-dev.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("godotenv-reader");
    let status = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(".")
        .current_dir(readers_dir().join("godotenv"))
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env(
            "GOCACHE",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache"),
        )
        .status()
        .ok()?;
    status.success().then_some(out)
}

fn all_readers() -> Vec<Reader> {
    let py = exe_of("python3", PY_EXE);
    let node_exe = exe_of("node", NODE_EXE);
    let deno = js_bin("deno");
    let bun = js_bin("bun");
    let godotenv = godotenv_reader();
    let uv = exe_of("python3", &["-c", "import uv; print(uv.find_uv_bin())"]);
    // docker-compose 1.29 is a python script: its interpreter opens the file.
    let compose_py = which("docker-compose")
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| {
            s.lines()
                .next()
                .map(|l| l.trim_start_matches("#!").trim().to_owned())
        })
        .and_then(|i| Path::new(&i).canonicalize().ok());
    let env_js = readers_dir().join("env_reader.js");
    let mut r = vec![
        Reader {
            label: "python-dotenv dotenv_values",
            dialect: Dialect::PythonDotenv,
            exe: py.clone(),
            needs: "python3 + python-dotenv",
            cmd: python("values"),
        },
        Reader {
            label: "python-dotenv load_dotenv",
            dialect: Dialect::PythonDotenv,
            exe: py.clone(),
            needs: "python3 + python-dotenv",
            cmd: python("load"),
        },
        Reader {
            label: "pydantic-settings",
            dialect: Dialect::PythonDotenv,
            exe: py.clone(),
            needs: "pydantic-settings",
            cmd: python("pydantic"),
        },
        Reader {
            label: "uv run --env-file",
            dialect: Dialect::Dotenvy,
            exe: uv.clone(),
            needs: "uv (pip)",
            cmd: Box::new(move |dir, names| {
                let mut c = Command::new("uv");
                c.args(["run", "--no-project", "--offline", "--env-file"])
                    .arg(dir.join(".env"))
                    .args(["--", "python3", "-c", PRINT_ENV])
                    .args(names);
                c
            }),
        },
        Reader {
            label: "node dotenv",
            dialect: Dialect::Node,
            exe: node_exe.clone(),
            needs: "node + dotenv (npm, tests/js)",
            cmd: node("dotenv", false),
        },
        Reader {
            label: "node --env-file",
            dialect: Dialect::Node,
            exe: node_exe.clone(),
            needs: "node",
            cmd: {
                let env_js = env_js.clone();
                Box::new(move |dir, names| {
                    let mut c = Command::new("node");
                    c.arg(format!("--env-file={}", dir.join(".env").display()))
                        .arg(&env_js)
                        .args(names);
                    c
                })
            },
        },
        Reader {
            label: "process.loadEnvFile",
            dialect: Dialect::Node,
            exe: node_exe.clone(),
            needs: "node",
            cmd: node("loadenvfile", false),
        },
        Reader {
            label: "dotenvx run",
            dialect: Dialect::Dotenvx,
            exe: node_exe.clone(),
            needs: "@dotenvx/dotenvx (npm, tests/js)",
            cmd: {
                let env_js = env_js.clone();
                Box::new(move |dir, names| {
                    let mut c = Command::new(js_bin("dotenvx"));
                    c.args(["run", "-q", "-f"])
                        .arg(dir.join(".env"))
                        .args(["--", "node"])
                        .arg(&env_js)
                        .args(names);
                    c
                })
            },
        },
        Reader {
            label: "Vite loadEnv",
            dialect: Dialect::DotenvExpand,
            exe: node_exe.clone(),
            needs: "vite (npm, tests/js)",
            cmd: Box::new(|dir, names| {
                let mut c = Command::new("node");
                c.arg(readers_dir().join("vite_reader.mjs"))
                    .arg(dir)
                    .args(names);
                c
            }),
        },
        Reader {
            label: "Next.js @next/env",
            dialect: Dialect::DotenvExpand,
            exe: node_exe,
            needs: "@next/env (npm, tests/js)",
            cmd: node("next", true),
        },
        Reader {
            label: "bash set -a; .",
            dialect: Dialect::Posix,
            exe: which("bash"),
            needs: "bash",
            cmd: Box::new(|dir, names| {
                let mut c = Command::new("bash");
                c.args([
                    "-c",
                    "set -a; . ./.env; exec python3 -c \"$0\" \"$@\"",
                    PRINT_ENV,
                ])
                .args(names)
                .current_dir(dir);
                c
            }),
        },
        Reader {
            label: "direnv dotenv",
            dialect: Dialect::Direnv,
            exe: which("direnv"),
            needs: "direnv (apt)",
            cmd: Box::new(|dir, names| {
                let mut c = Command::new("bash");
                c.arg(readers_dir().join("direnv_reader.sh"))
                    .arg(dir.join(".env"))
                    .args(names);
                c
            }),
        },
        Reader {
            label: "Ruby dotenv",
            dialect: Dialect::RubyDotenv,
            exe: exe_of("ruby", &["-e", "print RbConfig.ruby"]),
            needs: "ruby-dotenv (apt)",
            cmd: Box::new(|dir, names| {
                let mut c = Command::new("ruby");
                c.arg(readers_dir().join("ruby_reader.rb"))
                    .arg(dir.join(".env"))
                    .args(names);
                c
            }),
        },
        Reader {
            label: "phpdotenv",
            dialect: Dialect::Phpdotenv,
            exe: exe_of("php", &["-r", "echo PHP_BINARY;"]),
            needs: "php-cli + php-vlucas-phpdotenv (apt)",
            cmd: Box::new(|dir, names| {
                let mut c = Command::new("php");
                c.arg(readers_dir().join("php_reader.php"))
                    .arg(dir)
                    .args(names);
                c
            }),
        },
        Reader {
            label: "docker-compose config",
            dialect: Dialect::PythonDotenv,
            exe: compose_py,
            needs: "docker-compose (apt)",
            cmd: Box::new(|dir, names| {
                let mut c = Command::new("python3");
                c.arg(readers_dir().join("compose_reader.py"))
                    .arg(dir)
                    .args(names);
                c
            }),
        },
        Reader {
            label: "deno --env-file",
            dialect: Dialect::Deno,
            exe: exe_of(
                deno.to_str().unwrap(),
                &["eval", "console.log(Deno.execPath())"],
            ),
            needs: "deno (npm, tests/js)",
            cmd: {
                let env_js = env_js.clone();
                Box::new(move |dir, names| {
                    let mut c = Command::new(js_bin("deno"));
                    c.args(["run", "-q", "--no-prompt", "--allow-env"])
                        .arg(format!("--env-file={}", dir.join(".env").display()))
                        .arg(&env_js)
                        .args(names);
                    c
                })
            },
        },
    ];
    let bun_exe = exe_of(
        bun.to_str().unwrap(),
        &["-e", "console.log(process.execPath)"],
    );
    r.push(Reader {
        label: "bun --env-file",
        dialect: Dialect::Bun,
        exe: bun_exe.clone(),
        needs: "bun (npm, tests/js)",
        cmd: {
            let env_js = env_js.clone();
            Box::new(move |dir, names| {
                let mut c = Command::new(js_bin("bun"));
                c.arg(format!("--env-file={}", dir.join(".env").display()))
                    .arg(&env_js)
                    .args(names);
                c
            })
        },
    });
    r.push(Reader {
        label: "bun (automatic .env)",
        dialect: Dialect::Bun,
        exe: bun_exe,
        needs: "bun (npm, tests/js)",
        cmd: Box::new(move |dir, names| {
            let mut c = Command::new(js_bin("bun"));
            c.arg(&env_js).args(names).current_dir(dir);
            c
        }),
    });
    r.push(Reader {
        label: "godotenv (render = \"godotenv\")",
        dialect: Dialect::Godotenv,
        exe: godotenv.clone(),
        needs: "golang-go + golang-github-joho-godotenv-dev (apt)",
        cmd: Box::new(move |dir, names| {
            let mut c = Command::new(godotenv.clone().unwrap_or_default());
            c.arg(dir.join(".env")).args(names);
            c
        }),
    });
    r
}

fn name_of(i: usize) -> String {
    format!("OPENV_{i:02}")
}

/// The environment, directory and expected values of one dialect's mount.
struct Mount {
    env: String,
    dir: PathBuf,
    want: BTreeMap<String, String>,
}

fn prepare(o: &Openv, dialect: Dialect) -> Mount {
    let env = format!("m-{}", dialect.as_str());
    o.ok(&["env", "create", &env]);
    let dir = o.dir.path().join(dialect.as_str());
    std::fs::create_dir(&dir).unwrap();
    let mut want = BTreeMap::new();
    for (i, &(_, value)) in VALUES.iter().enumerate() {
        if dialect.can_hold(value) {
            o.set(&env, &name_of(i), value);
            want.insert(name_of(i), value.to_owned());
        }
    }
    // Vite and Next.js are known by the project's dependencies; godotenv (a Go binary
    // openv cannot recognise) by an explicit render in openv.toml.
    match dialect {
        Dialect::DotenvExpand => std::fs::write(
            dir.join("package.json"),
            r#"{"dependencies": {"next": "^16"}, "devDependencies": {"vite": "^8"}}"#,
        )
        .unwrap(),
        Dialect::Godotenv => std::fs::write(
            dir.join("openv.toml"),
            format!("[[mount]]\npath = \".env\"\nenv = \"{env}\"\nrender = \"godotenv\"\n"),
        )
        .unwrap(),
        _ => {}
    }
    let out = o.ok(&["mount", dir.to_str().unwrap(), "-e", &env, "--mode", "fuse"]);
    assert!(out.contains("(fuse)"), "{out}");
    Mount { env, dir, want }
}

fn json_of(out: &Output) -> Result<BTreeMap<String, String>, String> {
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "unreadable output ({e}): {:?} {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn label_of(name: &str) -> &'static str {
    let i: usize = name.trim_start_matches("OPENV_").parse().unwrap();
    VALUES[i].0
}

#[test]
fn every_reader_reads_every_value_its_dialect_can_hold_from_fuse() {
    if !require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)") {
        return;
    }
    let readers = all_readers();
    let (present, missing): (Vec<_>, Vec<_>) = readers.into_iter().partition(|r| r.exe.is_some());
    for r in &missing {
        require(false, &format!("{} ({})", r.label, r.needs));
    }
    let o = Openv::new();
    let mut dialects: Vec<Dialect> = present.iter().map(|r| r.dialect).collect();
    dialects.sort();
    dialects.dedup();
    let mounts: BTreeMap<Dialect, Mount> = dialects.iter().map(|&d| (d, prepare(&o, d))).collect();
    for r in &present {
        let m = &mounts[&r.dialect];
        o.ok(&[
            "allow",
            "-e",
            &m.env,
            "--exe",
            r.exe.as_ref().unwrap().to_str().unwrap(),
        ]);
    }
    let names: Vec<String> = (0..VALUES.len()).map(name_of).collect();
    let deadline = Instant::now() + DEADLINE;
    let problems: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = present
            .iter()
            .map(|r| {
                let m = &mounts[&r.dialect];
                let names = &names;
                s.spawn(move || {
                    let out = match run_until((r.cmd)(&m.dir, names), deadline) {
                        Ok(out) => out,
                        Err(e) => return Some(format!("{}: {e}", r.label)),
                    };
                    if !out.status.success() {
                        return Some(format!(
                            "{} failed: {}",
                            r.label,
                            String::from_utf8_lossy(&out.stderr).trim()
                        ));
                    }
                    let got = match json_of(&out) {
                        Ok(g) => g,
                        Err(e) => return Some(format!("{}: {e}", r.label)),
                    };
                    let wrong: Vec<String> = m
                        .want
                        .iter()
                        .filter(|(n, v)| got.get(*n) != Some(v))
                        .map(|(n, v)| format!("{} (want {v:?}, got {:?})", label_of(n), got.get(n)))
                        .collect();
                    (!wrong.is_empty())
                        .then(|| format!("{} read wrongly: {}", r.label, wrong.join("; ")))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A reader whose dialect cannot hold a value is denied the file (EACCES), the reason
/// goes to the audit log, and a reader whose dialect can hold it still reads it.
#[test]
fn a_reader_that_cannot_hold_a_value_is_denied_not_served_it_changed() {
    if !require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)") {
        return;
    }
    let Some(py) = exe_of("python3", PY_EXE) else {
        require(false, "python3");
        return;
    };
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "PLAIN", "abc");
    o.set("dev", "BRACES", "${HOME}");
    let dir = o.dir.path().join("proj");
    std::fs::create_dir(&dir).unwrap();
    o.ok(&[
        "mount",
        dir.to_str().unwrap(),
        "-e",
        "dev",
        "--mode",
        "fuse",
    ]);
    for exe in [py.clone(), which("bash").unwrap()] {
        o.ok(&["allow", "-e", "dev", "--exe", exe.to_str().unwrap()]);
    }
    let deadline = Instant::now() + DEADLINE;
    let mut c = Command::new(&py);
    c.args(["-c", "open('.env').read()"]).current_dir(&dir);
    let out = run_until(c, deadline).unwrap();
    assert!(!out.status.success(), "python read a value it cannot hold");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PermissionError"), "{stderr}");

    let mut c = Command::new("bash");
    c.args(["-c", "set -a; . ./.env; printf %s \"$BRACES\""])
        .current_dir(&dir);
    let out = run_until(c, deadline).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "${HOME}");

    let audit = o.ok(&["audit", "--json"]);
    assert!(
        audit.contains("python-dotenv") && audit.contains("BRACES"),
        "the denial and its reason are in the audit log: {audit}"
    );
    assert!(!audit.contains("${HOME}"), "no value in the audit log");
    let status = o.ok(&["status", "--json"]);
    assert!(
        status.contains("BRACES"),
        "openv status shows the refusal: {status}"
    );
}
