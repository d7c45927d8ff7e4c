//! The approval check for a covered read: a rule hit and a grant hit, on a real vault and
//! the real identity of this process. Run with `cargo bench --bench approvals`.

mod common;

use std::time::{Duration, Instant};

use common::stats::{median, us};
use openv::approvals::grants::Scope;
use openv::approvals::{Approvals, PromptMode, Settings};
use openv::store::Backend;
use openv::store::SlotSecret;
use openv::store::keyslot::create_keyfile;
use openv::store::rules::{Effect, NewRule};
use openv::store::sqlite::SqliteVault;

fn time<F: FnMut()>(n: usize, mut f: F) -> Duration {
    // Batches of 100 so the clock's own cost does not dominate.
    let batches: Vec<Duration> = (0..n / 100)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..100 {
                f();
            }
            t.elapsed() / 100
        })
        .collect();
    median(&batches)
}

fn allow(exe: &str) -> NewRule<'_> {
    NewRule {
        env: "dev",
        effect: Effect::Allow,
        exe,
        cwd: None,
        expires: None,
        agents: false,
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("key");
    create_keyfile(&key).expect("keyfile");
    let mut vault =
        SqliteVault::create(&dir.path().join("v.db"), &SlotSecret::Keyfile(key)).expect("vault");
    vault.create_env("dev").expect("env");
    let me = openv_mount::identify(std::process::id() as i32).expect("identify");
    let exe = me.exe.clone().expect("exe").display().to_string();
    // Ten unrelated rules, then the one that matches.
    for i in 0..10 {
        let tool = format!("/usr/bin/tool{i}");
        vault.add_rule(&allow(&tool)).expect("rule");
    }
    vault.add_rule(&allow(&exe)).expect("rule");
    let settings = Settings {
        mode: PromptMode::None,
        timeout: Duration::from_secs(60),
        scope: Scope::Process,
        exe_ttl: Duration::from_secs(3600),
        ai_agents: vec![],
        pinentry: None,
    };
    let mut a = Approvals::new(settings.clone(), 20);
    let rule_hit = time(100_000, || {
        let v = a.covered(&vault, "dev", &me).expect("check");
        assert!(v.is_some());
    });

    // Grants are looked at after rules: use an environment without rules.
    vault.create_env("other").expect("env");
    let mut g = Approvals::new(settings.clone(), 20);
    g.grants
        .add("other", &me, Scope::Process, Duration::from_secs(60), None);
    let process_hit = time(100_000, || {
        let v = g.covered(&vault, "other", &me).expect("check");
        assert!(
            matches!(v, Some(openv::approvals::Verdict::Allow { ref because }) if because.starts_with("process grant"))
        );
    });

    let mut e = Approvals::new(settings, 20);
    e.grants
        .add("other", &me, Scope::Exe, Duration::from_secs(60), None);
    let exe_hit = time(20_000, || {
        let v = e.covered(&vault, "other", &me).expect("check");
        assert!(
            matches!(v, Some(openv::approvals::Verdict::Allow { ref because }) if because.starts_with("exe grant"))
        );
    });

    println!("| approval check for a covered read | median | target |");
    println!("|---|---|---|");
    println!(
        "| allow rule hit (11 rules) | {:.2} µs | < 20 µs |",
        us(rule_hit)
    );
    println!(
        "| process grant hit | {:.2} µs | < 20 µs |",
        us(process_hit)
    );
    println!(
        "| exe grant hit (path + cached content hash, one stat) | {:.2} µs | < 20 µs |",
        us(exe_hit)
    );
}
