//! Secrets go only to genuine openv: the CLI checks the process behind the socket before
//! it sends a value, and the agent gives values only to a clean, genuine `openv run`.

#![allow(clippy::unwrap_used)]

mod common;
#[path = "common/hostile.rs"]
mod hostile;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Openv, require};
use hostile::{as_user, open_dir, preload_lib};

/// Listens on the agent's socket path, answers every greeting and request, and appends
/// every frame it receives to a log.
const FAKE_AGENT: &str = r#"
import json, os, socket, struct, sys
path, log = sys.argv[1], sys.argv[2]
os.makedirs(os.path.dirname(os.path.dirname(path)), mode=0o700, exist_ok=True)
os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(8)
with open(log + ".ready.tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(log + ".ready.tmp", log + ".ready")
def exact(c, n):
    b = b""
    while len(b) < n:
        got = c.recv(n - len(b))
        if not got:
            raise EOFError
        b += got
    return b
def send(c, msg):
    data = json.dumps(msg).encode()
    c.sendall(struct.pack(">I", len(data)) + data)
while True:
    c, _ = s.accept()
    try:
        while True:
            frame = exact(c, struct.unpack(">I", exact(c, 4))[0])
            with open(log, "ab") as f:
                f.write(frame + b"\n")
            if frame.startswith(b'{"hello"'):
                send(c, {"hello": {"protocol": 1, "version": "0.1.0", "pid": 1}})
            else:
                send(c, "done")
    except EOFError:
        c.close()
"#;

/// Speaks the protocol as a client: a greeting, then one request; prints each answer.
const CLIENT: &str = r#"
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
def exact(n):
    b = b""
    while len(b) < n:
        got = s.recv(n - len(b))
        if not got:
            raise EOFError
        b += got
    return b
for msg in [{"hello": {"protocol": 2, "version": "0.1.0", "context": {}}}, json.loads(sys.argv[2])]:
    data = json.dumps(msg).encode()
    s.sendall(struct.pack(">I", len(data)) + data)
    print(exact(struct.unpack(">I", exact(4))[0]).decode())
"#;

/// The fake agent's launcher and the pid of the Python process itself.
fn fake_agent(socket: &Path, log: &Path, user: bool) -> (Child, i32) {
    let script = log.with_extension("py");
    std::fs::write(&script, FAKE_AGENT).unwrap();
    let mut cmd = if user {
        let mut c = as_user(Path::new("/usr/bin/python3"), &[]);
        c.arg(&script);
        c
    } else {
        let mut c = Command::new("python3");
        c.arg(&script);
        c
    };
    let child = cmd
        .arg(socket)
        .arg(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let ready = std::path::PathBuf::from(format!("{}.ready", log.display()));
    let until = Instant::now() + Duration::from_secs(10);
    while !ready.exists() {
        assert!(Instant::now() < until, "the fake agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = std::fs::read_to_string(&ready)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (child, pid)
}

fn stop_fake((mut child, pid): (Child, i32)) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
}

const CANARY: &str = "canary-3f9a1c-never-leaves";

#[test]
fn the_cli_sends_no_value_to_a_fake_agent() {
    let o = Openv::empty();
    let log = o.dir.path().join("fake.log");
    let fake = fake_agent(&o.socket(), &log, false);
    let e = o.err_stdin(&["var", "set", "-e", "dev", "KEY"], CANARY.as_bytes());
    assert!(
        e.contains("refused to send a secret") && e.contains("is not openv"),
        "{e}"
    );
    assert!(e.contains("openv agent restart"), "says what to do: {e}");
    let e = o.err_stdin(&["unlock"], b"pass phrase\n");
    assert!(e.contains("refused to send a secret"), "{e}");
    let got = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !got.contains(CANARY) && !got.contains("pass phrase"),
        "{got}"
    );
    // Requests without a secret are not refused: the fake answered `lock`.
    o.ok(&["lock"]);
    stop_fake(fake);
}

/// For an unprivileged user the kernel hides the agent's executable (it is non-dumpable):
/// the genuine agent is still recognised, a fake still refused.
#[test]
fn as_a_non_root_user_the_genuine_agent_gets_values_and_a_fake_does_not() {
    if !require(
        hostile::can_switch_user(),
        "root and the openv-test user (scripts/test.sh creates it)",
    ) {
        return;
    }
    let dir = tempfile::Builder::new().prefix("ov").tempdir().unwrap();
    let base = open_dir(dir.path());
    let home = base.join("h");
    let key = base.join("key");
    let vars = [
        ("OPENV_HOME", home.to_str().unwrap()),
        ("OPENV_PROMPT", "none"),
    ];
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = as_user(Path::new(BIN), &vars);
        c.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            let _ = input.write_all(s.as_bytes());
        }
        drop(input);
        child.wait_with_output().unwrap()
    };
    let ok = |args: &[&str], stdin: Option<&str>| {
        let out = run(args, stdin);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(&["init", "--keyfile", key.to_str().unwrap()], None);
    ok(&["env", "create", "dev"], None);
    ok(&["var", "set", "-e", "dev", "KEY"], Some("v1"));
    ok(&["agent", "stop"], None);

    let log = base.join("fake.log");
    let fake = fake_agent(&home.join("run/agent.sock"), &log, true);
    let out = run(&["var", "set", "-e", "dev", "KEY"], Some(CANARY));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("refused to send a secret"),
        "{e}"
    );
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains(CANARY)
    );
    stop_fake(fake);
}

fn audit_text(o: &Openv) -> String {
    o.ok(&["audit", "--json"])
}

/// The agent answers `Resolve` only to genuine `openv run`: a Python client naming an
/// allowed program is refused, and so is `openv run` started with a preload library.
#[test]
fn resolve_is_refused_to_anything_but_a_clean_openv_run() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "KEY", CANARY);
    o.ok(&["policy", "allow", "-e", "dev", "--exe", "/usr/bin/printenv"]);
    // The genuine path works.
    o.ok(&["run", "-e", "dev", "--", "/usr/bin/printenv", "KEY"]);

    let script = o.dir.path().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let req =
        r#"{"resolve": {"envs": ["dev"], "only": null, "command": ["/usr/bin/printenv", "KEY"]}}"#;
    let out = Command::new("python3")
        .arg(&script)
        .arg(o.socket())
        .arg(req)
        .output()
        .unwrap();
    let answers = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!answers.contains(CANARY), "{answers}");
    assert!(
        answers.contains("\"denied\"") && answers.contains("is not openv"),
        "{answers}"
    );
    let audit = audit_text(&o);
    assert!(
        audit.contains("refused: the asking process") && audit.contains("python3"),
        "{audit}"
    );

    let markers = o.dir.path().join("m");
    std::fs::create_dir(&markers).unwrap();
    let hook = preload_lib(o.dir.path(), &markers.join("preload"));
    let out = o
        .cmd(&["run", "-e", "dev", "--", "/usr/bin/printenv", "KEY"])
        .env("LD_PRELOAD", &hook)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && e.contains("started with LD_PRELOAD set"),
        "{e}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(CANARY));
    assert!(audit_text(&o).contains("started with LD_PRELOAD set"));
    assert!(!audit_text(&o).contains(CANARY));
}
