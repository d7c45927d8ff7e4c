//! `openv guard -- true` over `true`, and over `openv --version` (the binary's own
//! start), so the Landlock set-up (probe, ruleset, rules for $HOME's siblings) shows on
//! its own. Run with `cargo bench --bench guard`; target: under 5 ms over `true`.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::home::bin;
use common::stats::{median, ms, p95, verdict};

const N: usize = 300;

fn main() {
    let openv = bin();
    let cases: [(&str, Vec<&std::ffi::OsStr>); 3] = [
        ("true", vec!["true".as_ref()]),
        (
            "openv --version",
            vec![openv.as_os_str(), "--version".as_ref()],
        ),
        (
            "openv guard -- true",
            vec![
                openv.as_os_str(),
                "guard".as_ref(),
                "--".as_ref(),
                "true".as_ref(),
            ],
        ),
    ];
    // Round-robin, so load from elsewhere hits every case alike; 5 warm-up rounds.
    let mut all = vec![Vec::with_capacity(N); cases.len()];
    for round in 0..N + 5 {
        for (i, (_, argv)) in cases.iter().enumerate() {
            let t = Instant::now();
            let st = Command::new(argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .expect("spawn");
            let d = t.elapsed();
            assert!(st.success(), "{} failed", cases[i].0);
            if round >= 5 {
                all[i].push(d);
            }
        }
    }
    let base = median(&all[0]);
    println!("| command | median | p95 | over `true` | target |");
    println!("|---|---|---|---|---|");
    for (i, (name, _)) in cases.iter().enumerate() {
        let m = median(&all[i]);
        let over = m.saturating_sub(base);
        let target = if i == 2 {
            verdict(over < Duration::from_millis(5))
        } else {
            ""
        };
        println!(
            "| `{name}` | {} | {} | {} | {target} |",
            ms(m),
            ms(p95(&all[i])),
            ms(over)
        );
    }
}
