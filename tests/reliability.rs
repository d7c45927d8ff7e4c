//! Nothing lost in silence: bad imports named line by line, files removed or replaced
//! under the vault, damaged vaults, backups and restores, a full disk. Every case checks
//! what the user sees and that acknowledged writes survive. docs/reliability.md.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::Openv;
use common::faults::{kill9, values};

const CANARY: &str = "CANARY-rel-9d1f7a";

/// `openv import` of `text` fails with exactly `want` (after "error: cannot import
/// FILE: "), names no value, and creates nothing.
#[track_caller]
fn import_fails(o: &Openv, text: &[u8], want: &str) {
    let file = o.dir.path().join("bad.env");
    std::fs::write(&file, text).unwrap();
    let err = o.err(&["import", "-e", "imp", file.to_str().unwrap()]);
    assert_eq!(
        err.trim_end(),
        format!(
            "error: cannot import {}: {want}; fix it and import again",
            file.display()
        )
    );
    assert!(!err.contains(CANARY), "{err}");
    assert!(!o.ok(&["env", "list"]).contains("imp"), "nothing created");
}

#[test]
fn every_malformed_import_is_named_with_its_line_and_reason() {
    let o = Openv::new();
    let c = CANARY;
    let mut latin1 = format!("A={c}\nB=").into_bytes();
    latin1.extend([0xe9, b'\n']);
    import_fails(
        &o,
        &latin1,
        "line 2: not valid UTF-8 text: save the file as UTF-8",
    );
    import_fails(
        &o,
        format!("A=1\nC=has space {c}\n").as_bytes(),
        "line 2: the value holds a space outside quotes: quote the whole value, e.g. NAME='a b'",
    );
    import_fails(
        &o,
        format!("A=1\n\nQ='{c}\nB=2\n").as_bytes(),
        "line 3: the single quote opened on this line is never closed",
    );
    import_fails(
        &o,
        format!("Q=\"{c}\n").as_bytes(),
        "line 1: the double quote opened on this line is never closed",
    );
    import_fails(
        &o,
        format!("1BAD={c}\n").as_bytes(),
        "line 1: the name starts with a digit: names are letters, digits and _, and do not start with a digit",
    );
    import_fails(
        &o,
        format!("A-B={c}\n").as_bytes(),
        "line 1: the name holds a character other than letters, digits and _ (or is longer than 128)",
    );
    import_fails(
        &o,
        format!("just text {c}\n").as_bytes(),
        "line 1: no `=`: each line is NAME=value, a # comment or blank",
    );
    import_fails(
        &o,
        format!("A='{c}' tail\n").as_bytes(),
        "line 1: text after the closing quote: remove it, or start a comment with ` #`",
    );
}

#[test]
fn bom_crlf_export_and_duplicates_import_with_a_warning() {
    let o = Openv::new();
    let file = o.dir.path().join("win.env");
    std::fs::write(
        &file,
        format!("\u{feff}export A=one\r\nB='two words'\r\nA={CANARY}\r\n"),
    )
    .unwrap();
    let out = o.run(&["import", "-e", "imp", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: A is set on lines 1, 3: the value of line 3 was kept"),
        "{stderr}"
    );
    assert!(!stderr.contains(CANARY) && !String::from_utf8_lossy(&out.stdout).contains(CANARY));
    let got = values(&o, "imp");
    assert_eq!(
        got,
        [
            ("A".into(), CANARY.into()),
            ("B".into(), "two words".into())
        ]
    );
}

/// Sets `n` values `K{start+i}` and returns them as acknowledged.
fn set_many(o: &Openv, start: usize, n: usize) -> Vec<(String, String)> {
    (start..start + n)
        .map(|i| {
            let (k, v) = (format!("K{i}"), format!("v{i}-{CANARY}"));
            o.set("dev", &k, &v);
            (k, v)
        })
        .collect()
}

#[test]
fn a_removed_wal_or_shm_refuses_writes_and_loses_nothing_acknowledged() {
    for file in ["vault.db-wal", "vault.db-shm"] {
        let o = Openv::new();
        o.ok(&["env", "create", "dev"]);
        let acked = set_many(&o, 0, 20);
        std::fs::remove_file(o.home.join(file)).unwrap();
        for i in 0..5 {
            let err = o.err_stdin(&["var", "set", "-e", "dev", &format!("R{i}")], b"x");
            assert!(
                err.contains(&format!("{file} was removed while the agent ran"))
                    && err.contains("writes are refused so that none is lost")
                    && err.contains("openv agent restart"),
                "{err}"
            );
        }
        let err = o.err(&["status"]);
        assert!(
            err.contains("vault damaged:") && err.contains(file),
            "{err}"
        );
        let err = o.err(&["verify"]);
        assert!(err.contains(file), "{err}");
        // The crash that lost every such write before.
        kill9(&o);
        o.ok(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
        assert_eq!(values(&o, "dev"), sorted(acked), "{file}");
        assert!(o.ok(&["verify"]).contains("vault intact: 20 values"));
        o.set("dev", "AFTER", "ok");
    }
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

#[test]
fn a_replaced_vault_file_is_saved_and_reported_with_the_remedy() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let acked = set_many(&o, 0, 5);
    // Someone copies an old file over the live vault.
    let old = o.dir.path().join("old.db");
    std::fs::copy(o.vault(), &old).unwrap();
    std::fs::rename(&old, o.vault()).unwrap();
    let err = o.err_stdin(&["var", "set", "-e", "dev", "LATE"], b"x");
    assert!(
        err.contains("vault.db was replaced while the agent ran")
            && err.contains("the vault as the agent last saw it was saved to")
            && err.contains("openv restore FILE"),
        "{err}"
    );
    let rescued = std::fs::read_dir(o.home.join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("vault-rescued-"))
        .expect("a rescued copy");
    assert!(err.contains(rescued.to_str().unwrap()), "{err}");
    assert_eq!(mode(&rescued), 0o600);
    // The rescued copy holds every acknowledged write.
    o.ok(&["agent", "restart"]);
    o.ok(&[
        "restore",
        rescued.to_str().unwrap(),
        "--keyfile",
        o.keyfile.to_str().unwrap(),
    ]);
    assert_eq!(values(&o, "dev"), sorted(acked));
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_damaged_vault_is_reported_by_status_verify_and_unlock_with_the_remedy() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    set_many(&o, 0, 30);
    let backup = o.dir.path().join("good.db");
    o.ok(&["backup", backup.to_str().unwrap()]);
    o.ok(&["agent", "stop"]);
    // Flip the start of page 2 (a table's root), not the file header.
    let mut bytes = std::fs::read(o.vault()).unwrap();
    assert!(bytes.len() > 3 * 4096, "{}", bytes.len());
    for b in &mut bytes[4096..4096 + 600] {
        *b ^= 0x5a;
    }
    std::fs::write(o.vault(), &bytes).unwrap();
    let err = o.err(&["status"]);
    assert!(
        err.contains("vault damaged:") && err.contains("openv restore FILE"),
        "{err}"
    );
    let err = o.err(&["unlock", "--keyfile", o.keyfile.to_str().unwrap()]);
    assert!(err.contains("openv restore FILE"), "{err}");
    o.ok(&[
        "restore",
        backup.to_str().unwrap(),
        "--keyfile",
        o.keyfile.to_str().unwrap(),
    ]);
    assert!(o.ok(&["verify"]).contains("vault intact: 30 values"));
    o.ok(&["status"]);

    // A truncated file: the same report.
    o.ok(&["agent", "stop"]);
    let len = std::fs::metadata(o.vault()).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(o.vault())
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let err = o.err(&["status"]);
    assert!(
        err.contains("vault damaged:") && err.contains("openv restore"),
        "{err}"
    );
}

#[test]
fn backup_and_restore_round_trip_and_refuse_what_they_must() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let acked = set_many(&o, 0, 3);
    let copy = o.dir.path().join("copy.db");
    let out = o.ok(&["backup", copy.to_str().unwrap()]);
    assert!(out.contains("vault copied to"), "{out}");
    assert_eq!(mode(&copy), 0o600);
    assert!(
        !std::fs::read(&copy)
            .unwrap()
            .windows(CANARY.len())
            .any(|w| w == CANARY.as_bytes()),
        "values stay sealed"
    );
    let err = o.err(&["backup", copy.to_str().unwrap()]);
    assert!(err.contains("exists: choose a new file name"), "{err}");

    o.set("dev", "K0", "changed");
    // Not a vault; another vault's key: refused, nothing changed.
    let junk = o.dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all, just text").unwrap();
    let err = o.err(&[
        "restore",
        junk.to_str().unwrap(),
        "--keyfile",
        o.keyfile.to_str().unwrap(),
    ]);
    assert!(
        err.contains("is not an openv vault") && err.contains("nothing was changed"),
        "{err}"
    );
    let other = Openv::new();
    let err = o.err(&[
        "restore",
        copy.to_str().unwrap(),
        "--keyfile",
        other.keyfile.to_str().unwrap(),
    ]);
    assert!(
        err.contains("this key file does not unlock this vault"),
        "{err}"
    );
    assert_eq!(values(&o, "dev")[0].1, "changed");

    o.ok(&[
        "restore",
        copy.to_str().unwrap(),
        "--keyfile",
        o.keyfile.to_str().unwrap(),
    ]);
    assert_eq!(values(&o, "dev"), sorted(acked));
    // The vault as it was before the restore was kept.
    let kept: Vec<_> = std::fs::read_dir(o.home.join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        kept.iter().any(|n| n.ends_with("-before-restore.db")),
        "{kept:?}"
    );
    assert_eq!(mode(&o.home.join("backups")), 0o700);
}

#[test]
fn scheduled_backups_rotate() {
    let o = Openv::empty();
    std::fs::create_dir_all(&o.home).unwrap();
    std::fs::set_permissions(&o.home, std::fs::Permissions::from_mode(0o700)).unwrap();
    o.write_config("backup_every = \"1s\"\nbackup_keep = 2\n");
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    let dir = o.home.join("backups");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Three copies were taken once the first has been rotated out.
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 3 {
        assert!(std::time::Instant::now() < deadline, "{seen:?}");
        let now: Vec<String> = std::fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    // A copy being written is a hidden temporary file.
                    .filter(|n| n.starts_with("vault-"))
                    .collect()
            })
            .unwrap_or_default();
        assert!(now.len() <= 2, "{now:?}");
        seen.extend(now);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Root only: a small tmpfs as OPENV_HOME fills up.
#[test]
fn a_full_disk_refuses_the_write_clearly_and_the_vault_stays_intact() {
    if !common::require(nix::unistd::geteuid().is_root(), "root (to mount a tmpfs)") {
        return;
    }
    let o = Openv::empty();
    std::fs::create_dir_all(&o.home).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs"])
        .arg(&o.home)
        .status()
        .unwrap();
    assert!(mounted.success());
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(self.0)
                .status();
        }
    }
    let _guard = Unmount(&o.home);
    o.ok(&["init", "--keyfile", o.keyfile.to_str().unwrap()]);
    o.ok(&["env", "create", "dev"]);
    let acked = set_many(&o, 0, 5);
    let filler = o.home.join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=64k"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    // What is left after the filler (free pages of the database, room in the WAL) may
    // take a value or two: write until the disk says no, keeping what was acknowledged.
    let big = "x".repeat(60_000);
    let mut acked = acked;
    let mut refusal = None;
    for i in 0..20 {
        let name = format!("BIG{i}");
        let out = o.run_stdin(&["var", "set", "-e", "dev", &name], big.as_bytes());
        if out.status.success() {
            acked.push((name, big.clone()));
        } else {
            refusal = Some(String::from_utf8_lossy(&out.stderr).into_owned());
            break;
        }
    }
    let err = refusal.expect("the full disk never refused a write");
    assert!(
        err.contains("the disk holding the vault is full: this change was not written"),
        "{err}"
    );
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(values(&o, "dev"), sorted(acked));
    o.ok(&["verify"]);
    o.ok(&["status"]);
    o.set("dev", "BIG", &big);
    o.ok(&["agent", "stop"]);
}
