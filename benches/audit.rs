//! Audit log figures (targets in the audit issue): median append latency over 10,000
//! appends (< 50 µs) and the time to verify those 10,000 events (< 1 s).
//! Run with `cargo bench --bench audit`. Prints a markdown table.

mod common;

use std::time::{Duration, Instant};

use common::stats::{pct, us, verdict};
use openv::audit::seal::SEAL_EVERY_EVENTS;
use openv::audit::{
    AuditLog, Decision, Event, EventKind, Filter, VaultHead, query, verify, verify_sealed,
};
use openv::store::crypto::VaultKey;
use openv::store::mac_keys::{MacKey, Purpose};

const EVENTS: usize = 10_000;
// Small enough that the run rotates a few times, so rotation is part of the figures.
const MAX_FILE_BYTES: u64 = 1 << 20;

fn event(i: usize) -> Event {
    Event::new(EventKind::Read)
        .env("dev")
        .names(["API_KEY", "DATABASE_URL", "STRIPE_SECRET"])
        .pid(40_000 + i32::try_from(i % 1000).unwrap_or(0))
        .exe("/usr/bin/node")
        .chain(["npm", "bash", "codex"])
        .cwd("/home/user/projects/app")
        .decision(if i.is_multiple_of(10) {
            Decision::Denied
        } else {
            Decision::Allowed
        })
        .rule("allow /usr/bin/node in /home/user/projects/app")
        .cid(format!("{i:016x}"))
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("audit");
    let mut log = AuditLog::open(&dir, MAX_FILE_BYTES).expect("open audit log");

    let mut times = Vec::with_capacity(EVENTS);
    let total = Instant::now();
    for i in 0..EVENTS {
        let e = event(i);
        let t = Instant::now();
        log.append(e).expect("append");
        times.push(t.elapsed());
    }
    let total = total.elapsed();
    drop(log);
    times.sort();
    let median = pct(&times, 50);

    let t = Instant::now();
    let report = verify(&dir).expect("verify");
    let verify_time = t.elapsed();
    assert_eq!(report.lines, EVENTS as u64);

    let t = Instant::now();
    let last = query(
        &dir,
        &Filter {
            decision: Some(Decision::Denied),
            limit: Some(50),
            ..Filter::default()
        },
    )
    .expect("query");
    let query_time = t.elapsed();
    assert_eq!(last.len(), 50);

    println!(
        "| audit log ({EVENTS} events, {} files) | figure | target |",
        report.files
    );
    println!("|---|---|---|");
    println!(
        "| append, median | {:.1} µs | < 50 µs {} |",
        us(median),
        verdict(median < Duration::from_micros(50))
    );
    println!(
        "| append, p99 / max | {:.1} µs / {:.1} µs (max includes rotation fsync) | |",
        us(pct(&times, 99)),
        us(times[times.len() - 1])
    );
    println!(
        "| {EVENTS} appends, total | {:.1} ms | |",
        total.as_secs_f64() * 1e3
    );
    println!(
        "| verify {EVENTS} events | {:.1} ms | < 1 s {} |",
        verify_time.as_secs_f64() * 1e3,
        verdict(verify_time < Duration::from_secs(1))
    );
    println!(
        "| query: last 50 denials | {:.1} ms | |",
        query_time.as_secs_f64() * 1e3
    );
    sealed(&times);
}

/// The same appends with a seal every `SEAL_EVERY_EVENTS`, then the keyed verify; the
/// unsealed run above, in the same process, is the baseline.
fn sealed(baseline: &[Duration]) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("audit");
    let mac = MacKey::derive(&VaultKey::generate(), "bench", Purpose::Audit);
    let mut log = AuditLog::open(&dir, MAX_FILE_BYTES).expect("open audit log");
    let mut times = Vec::with_capacity(EVENTS);
    let mut seals = Vec::new();
    let mut last = None;
    for i in 0..EVENTS {
        let e = event(i);
        let t = Instant::now();
        log.append(e).expect("append");
        times.push(t.elapsed());
        if (i as u64 + 1).is_multiple_of(SEAL_EVERY_EVENTS) {
            let t = Instant::now();
            last = Some(log.seal(&mac, "interval").expect("seal"));
            seals.push(t.elapsed());
        }
    }
    drop(log);
    times.sort();
    seals.sort();
    let head = VaultHead::Sealed(last.expect("a seal"));
    let t = Instant::now();
    let report = verify_sealed(&dir, &mac, &head).expect("verify");
    let verify_time = t.elapsed();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    println!();
    println!(
        "| sealed audit log ({EVENTS} events + {} seals, {} files) | figure | baseline (unsealed, same run) | target |",
        seals.len(),
        report.files
    );
    println!("|---|---|---|---|");
    let median = pct(&times, 50);
    println!(
        "| append, median | {:.1} µs | {:.1} µs | < 50 µs {} |",
        us(median),
        us(pct(baseline, 50)),
        verdict(median < Duration::from_micros(50))
    );
    println!(
        "| seal line (HMAC + append; the vault write is apart), median | {:.1} µs | | |",
        us(pct(&seals, 50))
    );
    println!(
        "| keyed verify (chain + every seal + the vault's last seal) | {:.1} ms | | < 1 s {} |",
        verify_time.as_secs_f64() * 1e3,
        verdict(verify_time < Duration::from_secs(1))
    );
}
