//! The real dotenv readers, each run on one `.env` file: dotenvy (in process),
//! python-dotenv (`dotenv_values`), node's dotenv (`dotenv.parse`, from tests/js) and bash
//! (`set -a; . ./.env`). scripts/test.sh installs them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::tools::{js_dir, require};

/// Names and values as a reader saw them.
pub type Vars = HashMap<String, String>;

/// A reader: what it made of the file at the path.
pub type Read = fn(&Path) -> Outcome;

/// Every reader, by the name failure messages give it.
pub const ALL: [(&str, Read); 4] = [
    ("dotenvy", dotenvy),
    ("python-dotenv", python),
    ("node dotenv", node),
    ("bash", bash),
];

/// What one reader made of the file.
#[derive(Debug)]
pub enum Outcome {
    Read(Vars),
    /// The reader ran and failed, e.g. a parse error or a refused open.
    Broke(String),
    /// The reader is not installed.
    Missing(String),
}

impl Outcome {
    /// What `reader` read; `None` when it is not installed (a failure under CI, see
    /// [`require`]); panics when it failed.
    #[track_caller]
    pub fn vars(self, reader: &str) -> Option<Vars> {
        match self {
            Outcome::Read(vars) => Some(vars),
            Outcome::Broke(why) => panic!("{reader} failed: {why}"),
            Outcome::Missing(why) => {
                require(false, &format!("{reader} ({why})"));
                None
            }
        }
    }
}

pub fn dotenvy(env_file: &Path) -> Outcome {
    match dotenvy::from_path_iter(env_file).and_then(Iterator::collect) {
        Ok(got) => Outcome::Read(got),
        Err(e) => Outcome::Broke(e.to_string()),
    }
}

pub fn python(env_file: &Path) -> Outcome {
    const READ: &str =
        "import json, sys, dotenv; print(json.dumps(dotenv.dotenv_values(sys.argv[1])))";
    run(
        Command::new("python3").args(["-c", READ]).arg(env_file),
        Command::new("python3").args(["-c", "import dotenv"]),
        json,
    )
}

/// `dotenv.parse`, checked against dotenv 18's opt-in fast parser (`DOTENV_FAST`),
/// which older versions ignore.
pub fn node(env_file: &Path) -> Outcome {
    const READ: &str = r#"
        const dotenv = require(require.resolve("dotenv", { paths: [process.argv[1]] }));
        const src = require("fs").readFileSync(process.argv[2]);
        const parsed = dotenv.parse(src), fast = dotenv.parse(src, { fast: true });
        const differ = [...new Set([...Object.keys(parsed), ...Object.keys(fast)])]
            .filter((k) => parsed[k] !== fast[k]);
        if (differ.length) {
            console.error(`the fast parser reads ${differ} differently`);
            process.exit(1);
        }
        process.stdout.write(JSON.stringify(parsed));
    "#;
    const PROBE: &str = r#"require.resolve("dotenv", { paths: [process.argv[1]] })"#;
    let js = js_dir();
    run(
        Command::new("node")
            .args(["-e", READ])
            .arg(&js)
            .arg(env_file),
        Command::new("node").args(["-e", PROBE]).arg(&js),
        json,
    )
}

/// Sources the file with `set -a` and has a child print its environment, so a value
/// counts only if it was exported; NUL-separated, as values may hold newlines. The file
/// must be named `.env`.
pub fn bash(env_file: &Path) -> Outcome {
    let dir = env_file.parent().expect("file in a directory");
    let mut cmd = Command::new("bash");
    cmd.args(["-c", "set -a; . ./.env; exec env -0"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent-home");
    run(&mut cmd, Command::new("bash").args(["-c", "true"]), env0)
}

/// The interpreter that really runs (python3 may be a pyenv shim script): the program a
/// rule must name for the python reader.
pub fn real_python() -> PathBuf {
    let out = Command::new("python3")
        .args([
            "-c",
            "import os,sys; print(os.path.realpath(sys.executable))",
        ])
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Runs a reader whose stdout `parse` understands, after `probe` shows it is installed.
fn run(
    cmd: &mut Command,
    probe: &mut Command,
    parse: fn(Vec<u8>) -> Result<Vars, String>,
) -> Outcome {
    match probe.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr.trim().lines().last().unwrap_or("probe failed");
            return Outcome::Missing(last.to_owned());
        }
        Err(e) => return Outcome::Missing(e.to_string()),
    }
    match cmd.output() {
        Ok(out) if out.status.success() => match parse(out.stdout) {
            Ok(got) => Outcome::Read(got),
            Err(e) => Outcome::Broke(format!("unreadable output: {e}")),
        },
        Ok(out) => Outcome::Broke(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => Outcome::Broke(e.to_string()),
    }
}

fn json(stdout: Vec<u8>) -> Result<Vars, String> {
    serde_json::from_slice(&stdout).map_err(|e| e.to_string())
}

/// `NAME=value` entries separated by NUL, as `env -0` prints them.
fn env0(stdout: Vec<u8>) -> Result<Vars, String> {
    let text = String::from_utf8(stdout).map_err(|e| e.to_string())?;
    Ok(text
        .split_terminator('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}
