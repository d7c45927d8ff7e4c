//! The command line against its documentation: shell completions load, the man pages are
//! written, and docs/cli.md lists exactly the commands `--help` shows.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_openv");

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "openv {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The commands a `--help` text lists (the "Commands:" section), `help` left out.
fn commands_in(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| l.chars().nth(2).is_some_and(|c| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

/// Every command path `--help` knows: `mount`, `var set`, ...
fn help_commands() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for top in commands_in(&help(&[])) {
        for sub in commands_in(&help(&[&top])) {
            all.insert(format!("{top} {sub}"));
        }
        all.insert(top);
    }
    all
}

/// The command paths docs/cli.md names in code spans: `openv var set ...`. A command with
/// subcommands counts as documented through them.
fn documented(doc: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in doc.lines() {
        // A bare subcommand continues the previous span only in a table's first column:
        // "`openv mcp-servers enable NAME` / `disable NAME`".
        let first_cell = line
            .starts_with("| `")
            .then(|| line.split(" | ").next().unwrap_or(""));
        // "`openv mcp-servers enable NAME` / `disable NAME`": the second span is a
        // subcommand of the first's command.
        let mut parent: Option<String> = None;
        for span in line.split('`').skip(1).step_by(2) {
            let in_first_cell = first_cell.is_some_and(|c| c.contains(&format!("`{span}`")));
            let words: Vec<&str> = span.split_whitespace().collect();
            let path: Vec<String> = match words.first() {
                Some(&"openv") => words[1..]
                    .iter()
                    .take_while(|w| {
                        w.starts_with(|c: char| c.is_ascii_lowercase())
                            && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    })
                    .take(2)
                    .map(|w| (*w).to_owned())
                    .collect(),
                Some(w) if in_first_cell && w.chars().all(|c| c.is_ascii_lowercase()) => {
                    match &parent {
                        Some(p) => vec![p.clone(), (*w).to_owned()],
                        None => continue,
                    }
                }
                _ => continue,
            };
            let Some(top) = path.first().cloned() else {
                continue;
            };
            parent = Some(top.clone());
            // A second word is a subcommand only where the command has them.
            let two = path.join(" ");
            if path.len() == 2 && known.iter().any(|k| k.starts_with(&format!("{top} "))) {
                found.insert(two);
            }
            found.insert(top);
        }
    }
    found
}

#[test]
fn docs_cli_md_lists_exactly_the_commands_of_help() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md")).unwrap();
    let known = help_commands();
    let documented = documented(&doc, &known);
    let undocumented: Vec<_> = known.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "in --help, not in docs/cli.md: {undocumented:?}"
    );
    let unknown: Vec<_> = documented.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "in docs/cli.md, not in --help: {unknown:?}"
    );
}

#[test]
fn the_bash_completion_loads_and_completes_commands() {
    let script = format!(
        "source <({BIN} completions bash) && complete -p openv && \
         COMP_WORDS=(openv mou) COMP_CWORD=1 COMP_LINE='openv mou' COMP_POINT=9 && \
         _openv openv mou openv && printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("complete ") && l.ends_with("-F _openv openv")),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l == "mount"), "{stdout}");
    for shell in ["zsh", "fish"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
}

#[test]
fn man_writes_one_page_per_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("man")
        .arg(dir.path())
        .env("OPENV_HOME", dir.path().join("unused"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "openv.1",
        "openv-mount.1",
        "openv-var-set.1",
        "openv-completions.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
    // Nothing else was created: no agent, no OPENV_HOME.
    assert!(!dir.path().join("unused").exists());
}
