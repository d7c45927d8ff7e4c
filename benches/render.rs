//! Rendering cost per dialect: 1,000 variables (a mix of bare, quoted, multi-line and
//! `$`-holding values of 8 to 200 bytes) rendered into one `.env`, median and p95 of
//! 200 runs, plus the render-per-dialect work of `max_rendered_len` (the size a mount
//! reports). Run with `cargo bench --bench render`. Prints a markdown table.

use std::time::{Duration, Instant};

use openv::render::{Dialect, max_rendered_len, render_for};
use openv::secret::SecretValue;

const VARS: usize = 1_000;
const RUNS: usize = 200;

fn value(i: usize) -> String {
    match i % 5 {
        0 => format!("token-{i:08x}"),
        1 => format!("postgres://user:p@ss word@db-{i}.example:5432/app?x=1"),
        2 => format!("line one {i}\nline two\n# not a comment"),
        3 => format!("it's $HOME and {}", "x".repeat(i % 200)),
        _ => format!("{{\"id\": {i}, \"tags\": [\"a\", \"b\"]}}"),
    }
}

fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn time(mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    t.sort();
    (pct(&t, 50), pct(&t, 95))
}

fn main() {
    let vars: Vec<(String, SecretValue)> = (0..VARS)
        .map(|i| (format!("VAR_{i:04}"), SecretValue::new(value(i))))
        .collect();
    let iter = || vars.iter().map(|(n, v)| (n.as_str(), v));
    println!("| dialect | bytes | median | p95 |");
    println!("|---|---:|---:|---:|");
    for d in Dialect::ALL {
        // A dialect that cannot hold one of the values refuses the whole file: say so
        // rather than time the refusal.
        let Ok(bytes) = render_for(d, iter()).map(|b| b.len()) else {
            println!(
                "| {} | refused (a value it cannot hold) | - | - |",
                d.as_str()
            );
            continue;
        };
        let (p50, p95) = time(|| {
            std::hint::black_box(render_for(d, iter()).ok());
        });
        println!(
            "| {} | {bytes} | {} µs | {} µs |",
            d.as_str(),
            p50.as_micros(),
            p95.as_micros()
        );
    }
    let (p50, p95) = time(|| {
        std::hint::black_box(max_rendered_len(iter()));
    });
    println!(
        "| max_rendered_len (all {}) | - | {} µs | {} µs |",
        Dialect::ALL.len(),
        p50.as_micros(),
        p95.as_micros()
    );
}
