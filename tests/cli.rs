//! The command line: validation, one-line errors, JSON output, import, and no value
//! ever printed or logged.

mod common;

use common::Openv;

const CANARY: &str = "CANARY-3c9f1e-SECRET";

#[test]
fn environments_crud() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let err = o.err(&["env", "create", "dev"]);
    assert!(err.contains("already exists"), "{err}");
    o.ok(&["env", "rename", "dev", "staging"]);
    let list: serde_json::Value = serde_json::from_str(&o.ok(&["env", "list", "--json"])).unwrap();
    assert_eq!(list[0]["name"], "staging");
    let err = o.err(&["env", "rm", "staging"]);
    assert!(err.contains("--yes"), "{err}");
    assert!(o.ok(&["env", "rm", "staging", "--yes"]).contains("deleted"));
    assert!(o.ok(&["env", "list"]).contains("no environments"));
    let err = o.err(&["env", "rm", "nope", "--yes"]);
    assert!(err.contains("no environment named \"nope\""), "{err}");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let o = Openv::new();
    for bad in ["a b", "x/y", "", &"e".repeat(65)] {
        let err = o.err(&["env", "create", bad]);
        assert!(err.contains("invalid environment name"), "{err}");
    }
    o.ok(&["env", "create", "dev"]);
    let err = o.err(&["var", "add", "-e", "dev", "GOOD", "1BAD"]);
    assert!(err.contains("invalid variable name \"1BAD\""), "{err}");
    let err = o.err_stdin(&["var", "set", "-e", "dev", "A-B"], b"x");
    assert!(err.contains("invalid variable name"), "{err}");
    let big = vec![b'x'; 64 * 1024 + 1];
    let err = o.err_stdin(&["var", "set", "-e", "dev", "BIG"], &big);
    assert!(err.contains("64 KiB"), "{err}");
    let err = o.err_stdin(&["var", "set", "-e", "nope", "A"], b"x");
    assert!(err.contains("openv env create nope"), "{err}");
    let err = o.err(&["var", "rm", "-e", "dev", "MISSING"]);
    assert!(err.contains("no variable MISSING"), "{err}");
    assert!(o.ok(&["var", "list", "-e", "dev"]).contains("no variables"));
    assert_eq!(o.status()["environments"], 1);
}

#[test]
fn unrepresentable_value_is_refused_without_echoing_it() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    // No dialect can hold a NUL: refused.
    let value = format!("{CANARY}\0x");
    let err = o.err_stdin(&["var", "set", "-e", "dev", "NASTY"], value.as_bytes());
    assert!(err.contains("NASTY"), "{err}");
    assert!(!err.contains(CANARY), "value echoed: {err}");
    assert!(o.ok(&["var", "list", "-e", "dev"]).contains("no variables"));
    // Some dialects cannot hold this one: stored, with a warning naming the readers.
    let value = format!("{CANARY}'\"`$mix");
    let out = o.run_stdin(&["var", "set", "-e", "dev", "MIXED"], value.as_bytes());
    assert!(out.status.success());
    let warning = String::from_utf8_lossy(&out.stderr);
    assert!(
        warning.contains("MIXED") && warning.contains("node"),
        "{warning}"
    );
    assert!(!warning.contains(CANARY), "value echoed: {warning}");
    let list = o.ok(&["var", "list", "-e", "dev"]);
    assert!(list.contains("MIXED") && list.contains("node"), "{list}");
}

#[test]
fn check_names_the_readers_that_cannot_read_a_value_and_sets_the_exit_status() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "PLAIN", &format!("{CANARY} plain"));
    o.ok(&["var", "add", "-e", "dev", "PLACEHOLDER"]);
    let out = o.ok(&["check", "-e", "dev"]);
    assert_eq!(
        out.trim(),
        "every value of dev (1 set) is readable by every reader",
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&o.ok(&["check", "-e", "dev", "--json"])).unwrap();
    assert_eq!(json["unreadable_by"], serde_json::json!({}), "{json}");
    assert_eq!(
        (json["variables"].as_u64(), json["set"].as_u64()),
        (Some(2), Some(1))
    );

    // A multi-line value with `$`: direnv cannot read it; CR: node cannot.
    o.set("dev", "MULTI", &format!("{CANARY}\\n$HOME\nsecond line"));
    o.set("dev", "WITH_CR", &format!("{CANARY}\rx"));
    let out = o.run(&["check", "-e", "dev"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
    };
    assert!(
        row("MULTI").is_some_and(|d| d.split(',').any(|d| d == "direnv")),
        "{stdout}"
    );
    assert!(
        row("WITH_CR").is_some_and(|d| d.split(',').any(|d| d == "node")),
        "{stdout}"
    );
    assert_eq!(row("PLAIN"), None, "readable by all: not listed: {stdout}");
    assert!(
        stdout.contains("direnv: direnv"),
        "what a dialect stands for: {stdout}"
    );
    assert!(
        stderr.starts_with("error: 2 of 3 value(s) of dev cannot"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let json = o.run(&["check", "-e", "dev", "--json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let multi: Vec<&str> = v["unreadable_by"]["MULTI"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(multi.contains(&"direnv"), "{v}");
    assert_eq!(v["unreadable_by"].as_object().unwrap().len(), 2, "{v}");
    for text in [
        &stdout,
        &stderr,
        &String::from_utf8_lossy(&json.stdout).into_owned(),
    ] {
        assert!(!text.contains(CANARY), "value in output: {text}");
    }

    // Locked: it cannot know, so it says so instead of reporting every value readable.
    o.ok(&["lock"]);
    let err = o.err(&["check", "-e", "dev"]);
    assert!(err.contains("openv unlock"), "{err}");
    let err = o.err(&["check", "-e", "nope"]);
    assert!(err.contains("nope"), "{err}");
    assert!(!o.log().contains(CANARY));
}

#[test]
fn var_lifecycle_and_listing() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    assert!(
        o.ok(&["var", "add", "-e", "dev", "A", "B"])
            .contains("2 new")
    );
    assert!(
        o.ok(&["var", "add", "-e", "dev", "B", "C"])
            .contains("1 already there")
    );
    o.set("dev", "A", "with trailing newline\n");
    let list: serde_json::Value =
        serde_json::from_str(&o.ok(&["var", "list", "-e", "dev", "--json"])).unwrap();
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["name"], "A");
    assert_eq!(rows[0]["has_value"], true);
    assert_eq!(rows[0]["source"], "cli", "the CLI without a proof");
    assert_eq!(rows[1]["has_value"], false);
    let human = o.ok(&["var", "list", "-e", "dev"]);
    let value_column = |name: &str| {
        human
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
    };
    assert_eq!(value_column("A").as_deref(), Some("set"), "{human}");
    assert_eq!(value_column("B").as_deref(), Some("unset"), "{human}");
    o.ok(&["var", "rm", "-e", "dev", "B", "C"]);
    assert_eq!(o.status()["variables"], 1);
    // OPENV_ENV supplies -e.
    let out = o
        .cmd(&["var", "list"])
        .env("OPENV_ENV", "dev")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn import_stores_values_and_prints_names_only() {
    let o = Openv::new();
    let file = o.dir.path().join("app.env");
    std::fs::write(
        &file,
        format!(
            "# comment\nAPI_KEY={CANARY}\nexport DB_URL=\"postgres://u:{CANARY}@h/db\"\nEMPTY=\n"
        ),
    )
    .unwrap();
    let out = o.run(&["import", "-e", "newenv", file.to_str().unwrap()]);
    common::run::assert_success("openv import", &out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("API_KEY") && stdout.contains("DB_URL") && stdout.contains("EMPTY"));
    assert!(!stdout.contains(CANARY) && !stderr.contains(CANARY));
    assert!(stderr.contains("still there"));
    assert!(o.ok(&["verify"]).contains("3 values"));

    let bad = o.dir.path().join("bad.env");
    std::fs::write(&bad, format!("OK=1\nNOT A LINE {CANARY}\n")).unwrap();
    let err = o.err(&["import", "-e", "other", bad.to_str().unwrap()]);
    assert!(err.contains("line 2") && !err.contains(CANARY), "{err}");
    let envs = o.ok(&["env", "list"]);
    assert!(
        !envs.contains("other"),
        "failed import created nothing: {envs}"
    );
}

#[test]
fn values_never_reach_output_or_logs() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.set("dev", "SECRET", CANARY);
    let mut seen = String::new();
    for args in [
        vec!["status"],
        vec!["status", "--json"],
        vec!["env", "list", "--json"],
        vec!["var", "list", "-e", "dev", "--json"],
        vec!["var", "list", "-e", "dev"],
        vec!["verify"],
    ] {
        let out = o.run(&args);
        seen.push_str(&String::from_utf8_lossy(&out.stdout));
        seen.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    o.ok(&["agent", "stop"]);
    seen.push_str(&o.log());
    assert!(!seen.contains(CANARY), "canary leaked");
    // The vault file holds ciphertext only.
    let raw = std::fs::read(o.vault()).unwrap();
    assert!(!raw.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()));
}

#[test]
fn json_logs_carry_correlation_ids() {
    let o = Openv::empty();
    let out = o
        .cmd(&["init", "--keyfile", o.keyfile.to_str().unwrap()])
        .env("OPENV_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(out.status.success());
    o.ok(&["env", "create", "dev"]);
    o.ok(&["agent", "stop"]);
    let log = o.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect();
    assert!(lines.iter().any(|l| l["span"]["cid"].is_string()), "{log}");
}

#[test]
fn help_exists_for_every_command() {
    let o = Openv::empty();
    for args in [
        vec!["--help"],
        vec!["init", "--help"],
        vec!["env", "create", "--help"],
        vec!["var", "set", "--help"],
        vec!["import", "--help"],
        vec!["agent", "--help"],
        vec!["status", "--help"],
    ] {
        let out = o.run(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(!out.stdout.is_empty());
    }
}
