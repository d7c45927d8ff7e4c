use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::chain::line_hash;
use super::*;

fn read_event(env: &str, decision: Decision) -> Event {
    Event::new(EventKind::Read)
        .env(env)
        .names(["API_KEY", "DB_URL"])
        .pid(4242)
        .exe("/usr/bin/node")
        .chain(["bash", "codex"])
        .cwd("/home/u/app")
        .decision(decision)
        .rule("allow /usr/bin/node")
        .cid("c-1")
}

fn lines_of(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut s = lines.join("\n");
    s.push('\n');
    fs::write(path, s).expect("write");
}

fn rotated(dir: &Path, n: u64) -> PathBuf {
    dir.join(files::rotated_name(n))
}

/// A log of `n` events in files of about 5 lines each.
fn build(n: u64) -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("audit");
    let mut log = AuditLog::open(&dir, 1500).expect("open");
    for i in 0..n {
        let d = if i.is_multiple_of(2) {
            Decision::Allowed
        } else {
            Decision::Denied
        };
        log.append(read_event("dev", d)).expect("append");
    }
    (t, dir)
}

fn broken(dir: &Path) -> VerifyError {
    verify(dir).expect_err("tampering must be detected")
}

fn at(file: &str, line: u64, seq: u64) -> Location {
    Location {
        file: file.to_string(),
        line,
        seq: Some(seq),
    }
}

#[test]
fn line_format_is_flat_json_with_chain_fields_first() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("audit");
    let mut log = AuditLog::open(&dir, 1 << 20).expect("open");
    let rec = log
        .append(read_event("dev", Decision::Allowed))
        .expect("append");
    log.append(Event::new(EventKind::Lock)).expect("append");
    let lines = lines_of(&dir.join("audit.jsonl"));
    assert_eq!(rec.seq, 1);
    assert_eq!(rec.prev, GENESIS);
    assert!(
        lines[0].starts_with(&format!(
            "{{\"seq\":1,\"time\":\"{}\",\"prev\":\"{GENESIS}\",\"kind\":\"read\",\"env\":\"dev\",\"names\":[\"API_KEY\",\"DB_URL\"],\"pid\":4242,",
            event::rfc3339::format(rec.time)
        )),
        "{}",
        lines[0]
    );
    // Empty fields are left out; time has microseconds and is UTC.
    assert!(lines[1].ends_with(",\"kind\":\"lock\"}"), "{}", lines[1]);
    let v: serde_json::Value = serde_json::from_str(&lines[1]).expect("json");
    let time = v["time"].as_str().expect("time");
    assert_eq!(time.len(), "2025-01-02T03:04:05.123456Z".len(), "{time}");
    assert!(time.ends_with('Z'));
    // prev covers the previous line's bytes including its newline, as `sed -n 1p | sha256sum`.
    assert_eq!(v["prev"], line_hash(format!("{}\n", lines[0]).as_bytes()));
    assert_eq!(log.head(), line_hash(format!("{}\n", lines[1]).as_bytes()));
}

#[test]
fn files_are_private_and_open_dirs_refused() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("a/audit");
    let mut log = AuditLog::open(&dir, 1 << 20).expect("open");
    log.append(Event::new(EventKind::Unlock)).expect("append");
    let mode = |p: &Path| fs::metadata(p).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("audit.jsonl")), 0o600);
    drop(log);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    let err = AuditLog::open(&dir, 1 << 20).expect_err("refused");
    assert!(err.to_string().contains("chmod 700"), "{err}");
}

#[test]
fn one_writer_per_directory() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("audit");
    let _log = AuditLog::open(&dir, 1 << 20).expect("open");
    let err = AuditLog::open(&dir, 1 << 20).expect_err("second writer refused");
    assert!(matches!(err, AuditError::Busy { .. }), "{err}");
}

#[test]
fn chain_continues_across_reopen() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("audit");
    let mut log = AuditLog::open(&dir, 1 << 20).expect("open");
    for _ in 0..3 {
        log.append(Event::new(EventKind::Mount).env("dev"))
            .expect("append");
    }
    let head = log.head().to_string();
    drop(log);
    let mut log = AuditLog::open(&dir, 1 << 20).expect("reopen");
    assert_eq!(log.next_seq(), 4);
    assert_eq!(log.head(), head);
    let rec = log.append(Event::new(EventKind::Unmount)).expect("append");
    assert_eq!((rec.seq, rec.prev.as_str()), (4, head.as_str()));
    drop(log);
    let report = verify(&dir).expect("valid");
    assert_eq!(
        (report.files, report.lines, report.last_seq),
        (1, 4, Some(4))
    );
}

#[test]
fn chain_continues_across_rotation_and_reopen() {
    let (_t, dir) = build(23);
    let report = verify(&dir).expect("valid");
    assert_eq!(report.lines, 23);
    assert!(report.files >= 4, "{report:?}");
    let last_rotated = rotated(&dir, report.files as u64 - 1);
    for n in 1..report.files as u64 {
        let len = fs::metadata(rotated(&dir, n)).expect("stat").len();
        assert!(len <= 1500, "file {n} is {len} bytes");
    }
    let before = fs::read(&last_rotated).expect("read");
    let tail = lines_of(&last_rotated).pop().expect("line");
    let first: Record =
        serde_json::from_str(&lines_of(&dir.join("audit.jsonl"))[0]).expect("record");
    assert_eq!(first.prev, line_hash(format!("{tail}\n").as_bytes()));

    // Reopening continues numbering of both seq and files; nothing is overwritten.
    let mut log = AuditLog::open(&dir, 1500).expect("reopen");
    for _ in 0..10 {
        log.append(read_event("dev", Decision::Allowed))
            .expect("append");
    }
    drop(log);
    assert_eq!(fs::read(&last_rotated).expect("read"), before);
    let report = verify(&dir).expect("valid");
    assert_eq!((report.lines, report.last_seq), (33, Some(33)));
    let seqs: Vec<u64> = query(&dir, &Filter::default())
        .expect("query")
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, (1..=33).collect::<Vec<_>>());
}

#[test]
fn edited_line_is_reported_at_that_line() {
    let (_t, dir) = build(23);
    let f = rotated(&dir, 2);
    let mut lines = lines_of(&f);
    let seq: Record = serde_json::from_str(&lines[1]).expect("record");
    // A denial rewritten as an approval, say; here the reader's path.
    lines[1] = lines[1].replace("/usr/bin/node", "/usr/bin/evil");
    write_lines(&f, &lines);
    match broken(&dir) {
        VerifyError::Edited { at: loc, .. } => {
            assert_eq!(loc, at("audit-000002.jsonl", 2, seq.seq))
        }
        e => panic!("{e}"),
    }
}

#[test]
fn edit_of_a_files_last_line_is_caught_by_the_next_file() {
    let (_t, dir) = build(23);
    let f = rotated(&dir, 1);
    let mut lines = lines_of(&f);
    let n = lines.len();
    lines[n - 1] = lines[n - 1].replace("\"dev\"", "\"prod\"");
    write_lines(&f, &lines);
    let err = broken(&dir);
    assert_eq!(
        err.location(),
        Some(&at("audit-000001.jsonl", n as u64, n as u64))
    );
    assert!(
        err.to_string().contains("audit-000002.jsonl line 1"),
        "{err}"
    );
}

#[test]
fn removed_line_is_reported_where_it_was() {
    let (_t, dir) = build(23);
    let f = rotated(&dir, 2);
    let mut lines = lines_of(&f);
    let gone: Record = serde_json::from_str(&lines[2]).expect("record");
    lines.remove(2);
    write_lines(&f, &lines);
    match broken(&dir) {
        VerifyError::Removed {
            at: loc,
            expected,
            missing,
        } => {
            assert_eq!(loc, at("audit-000002.jsonl", 3, gone.seq + 1));
            assert_eq!((expected, missing), (gone.seq, 1));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn removed_oldest_file_says_the_log_does_not_start_at_one() {
    let (_t, dir) = build(23);
    let n = lines_of(&rotated(&dir, 1)).len() as u64;
    fs::remove_file(rotated(&dir, 1)).expect("rm");
    let err = broken(&dir);
    assert!(
        matches!(&err, VerifyError::Removed { expected: 1, missing, .. } if *missing == n),
        "{err}"
    );
    assert!(err.to_string().contains("deleted old audit files"), "{err}");
}

#[test]
fn swapped_lines_are_reported_as_reordered() {
    let (_t, dir) = build(23);
    let f = dir.join("audit.jsonl");
    let mut lines = lines_of(&f);
    assert!(lines.len() >= 2);
    let first: Record = serde_json::from_str(&lines[0]).expect("record");
    lines.swap(0, 1);
    write_lines(&f, &lines);
    match broken(&dir) {
        VerifyError::Reordered {
            at: loc,
            expected,
            found,
        } => {
            assert_eq!(loc, at("audit.jsonl", 1, first.seq + 1));
            assert_eq!(expected, first.seq);
            assert_eq!(found, at("audit.jsonl", 2, first.seq));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn line_moved_across_files_is_reordered_and_copy_is_duplicated() {
    let (_t, dir) = build(23);
    let f1 = rotated(&dir, 1);
    let mut lines = lines_of(&f1);
    let moved = lines.remove(1);
    write_lines(&f1, &lines);
    let f2 = rotated(&dir, 2);
    let mut lines2 = lines_of(&f2);
    lines2.insert(0, moved);
    write_lines(&f2, &lines2);
    let err = broken(&dir);
    match &err {
        VerifyError::Reordered { at: loc, found, .. } => {
            assert_eq!(loc, &at("audit-000001.jsonl", 2, 3));
            assert_eq!(found, &at("audit-000002.jsonl", 1, 2));
        }
        e => panic!("{e}"),
    }

    let (_t, dir) = build(8);
    let f = dir.join("audit.jsonl");
    let mut lines = lines_of(&f);
    let copy = lines[0].clone();
    lines.push(copy);
    write_lines(&f, &lines);
    assert!(
        matches!(broken(&dir), VerifyError::Duplicated { expected: 9, .. }),
        "copy of a line at the end"
    );
}

#[test]
fn changed_seq_is_an_edit() {
    let (_t, dir) = build(8);
    let f = dir.join("audit.jsonl");
    let mut lines = lines_of(&f);
    let r: Record = serde_json::from_str(&lines[1]).expect("record");
    lines[1] = lines[1].replacen(&format!("\"seq\":{}", r.seq), "\"seq\":99", 1);
    write_lines(&f, &lines);
    match broken(&dir) {
        VerifyError::Edited { at: loc, how } => {
            assert_eq!(loc, at("audit.jsonl", 2, 99));
            assert!(how.contains("seq"), "{how}");
        }
        e => panic!("{e}"),
    }
}

#[test]
fn truncation_mid_line_is_reported_at_that_line() {
    let (_t, dir) = build(23);
    let f = rotated(&dir, 3);
    let bytes = fs::read(&f).expect("read");
    let lines = lines_of(&f);
    // Cut in the middle of the third line.
    let cut = lines[0].len() + 1 + lines[1].len() + 1 + 30;
    fs::write(&f, &bytes[..cut]).expect("truncate");
    let r: Record = serde_json::from_str(&lines[2]).expect("record");
    match broken(&dir) {
        VerifyError::Truncated { at: loc } => assert_eq!(loc, at("audit-000003.jsonl", 3, r.seq)),
        e => panic!("{e}"),
    }
}

#[test]
fn garbage_line_is_not_json() {
    let (_t, dir) = build(8);
    let f = dir.join("audit.jsonl");
    let mut lines = lines_of(&f);
    lines[3] = "hello".to_string();
    write_lines(&f, &lines);
    match broken(&dir) {
        VerifyError::NotJson { at: loc, .. } => assert_eq!(
            loc,
            Location {
                file: "audit.jsonl".into(),
                line: 4,
                seq: None
            }
        ),
        e => panic!("{e}"),
    }
}

#[test]
fn open_after_a_torn_write_keeps_the_evidence_and_continues() {
    let (_t, dir) = build(3);
    let f = dir.join("audit.jsonl");
    let bytes = fs::read(&f).expect("read");
    fs::write(&f, &bytes[..bytes.len() - 10]).expect("cut");
    let mut log = AuditLog::open(&dir, 1 << 20).expect("open continues");
    // The cut file was moved aside untouched; the chain goes on from line 2 (seq 2).
    assert_eq!(log.next_seq(), 3);
    let rec = log.append(Event::new(EventKind::Unlock)).expect("append");
    assert_eq!(rec.seq, 3);
    drop(log);
    let aside = dir.join("audit-000001.jsonl");
    assert_eq!(fs::read(&aside).expect("read"), &bytes[..bytes.len() - 10]);
    match broken(&dir) {
        VerifyError::Truncated { at: loc } => assert_eq!(loc, at("audit-000001.jsonl", 3, 3)),
        e => panic!("{e}"),
    }
    let all = query(&dir, &Filter::default()).expect("query");
    assert_eq!(all.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn empty_or_missing_log() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("audit");
    assert!(query(&dir, &Filter::default()).expect("query").is_empty());
    assert!(matches!(verify(&dir), Err(VerifyError::Io { .. })));
    drop(AuditLog::open(&dir, 100).expect("open"));
    let report = verify(&dir).expect("empty log is valid");
    assert_eq!(
        (
            report.files,
            report.lines,
            report.last_seq,
            report.head.as_str()
        ),
        (1, 0, None, GENESIS)
    );
}

#[test]
fn query_filters() {
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("audit");
    let mut log = AuditLog::open(&dir, 1000).expect("open");
    log.append(read_event("dev", Decision::Allowed)).expect("1");
    log.append(read_event("prod", Decision::Denied)).expect("2");
    log.append(
        Event::new(EventKind::McpCall)
            .client("codex")
            .detail("list_variables"),
    )
    .expect("3");
    std::thread::sleep(Duration::from_millis(20));
    let mid = SystemTime::now();
    std::thread::sleep(Duration::from_millis(20));
    log.append(read_event("prod", Decision::Allowed))
        .expect("4");
    log.append(
        Event::new(EventKind::Approve)
            .env("prod")
            .decision(Decision::Allowed),
    )
    .expect("5");
    log.append(read_event("dev", Decision::Denied)).expect("6");
    drop(log);

    let seqs = |f: Filter| -> Vec<u64> {
        query(&dir, &f)
            .expect("query")
            .iter()
            .map(|r| r.seq)
            .collect()
    };
    assert_eq!(seqs(Filter::default()), [1, 2, 3, 4, 5, 6]);
    let env = |e: &str| Some(e.to_string());
    assert_eq!(
        seqs(Filter {
            env: env("prod"),
            ..Filter::default()
        }),
        [2, 4, 5]
    );
    assert_eq!(
        seqs(Filter {
            since: Some(mid),
            ..Filter::default()
        }),
        [4, 5, 6]
    );
    assert_eq!(
        seqs(Filter {
            decision: Some(Decision::Denied),
            ..Filter::default()
        }),
        [2, 6]
    );
    assert_eq!(
        seqs(Filter {
            event: Some(EventKind::Read),
            ..Filter::default()
        }),
        [1, 2, 4, 6]
    );
    assert_eq!(
        seqs(Filter {
            event: Some(EventKind::McpCall),
            ..Filter::default()
        }),
        [3]
    );
    assert_eq!(
        seqs(Filter {
            limit: Some(2),
            ..Filter::default()
        }),
        [5, 6]
    );
    assert_eq!(
        seqs(Filter {
            limit: Some(0),
            ..Filter::default()
        }),
        Vec::<u64>::new()
    );
    assert_eq!(
        seqs(Filter {
            env: env("prod"),
            decision: Some(Decision::Allowed),
            event: Some(EventKind::Read),
            since: Some(mid),
            limit: Some(5),
        }),
        [4]
    );
    assert_eq!(
        seqs(Filter {
            env: env("nope"),
            ..Filter::default()
        }),
        Vec::<u64>::new()
    );
    let rec = &query(
        &dir,
        &Filter {
            limit: Some(1),
            ..Filter::default()
        },
    )
    .expect("q")[0];
    assert_eq!(rec.event, read_event("dev", Decision::Denied));
}

#[test]
fn query_limit_reaches_across_rotated_files() {
    let (_t, dir) = build(23);
    let last = query(
        &dir,
        &Filter {
            limit: Some(9),
            decision: Some(Decision::Allowed),
            ..Filter::default()
        },
    )
    .expect("query");
    // Allowed are the odd seqs (events 0, 2, 4, ... are allowed).
    let seqs: Vec<u64> = last.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [7, 9, 11, 13, 15, 17, 19, 21, 23]);
}

mod sealing {
    use super::*;
    use crate::store::crypto::VaultKey;
    use crate::store::mac_keys::{MacKey, Purpose};

    fn key() -> MacKey {
        MacKey::derive(&VaultKey::generate(), "v", Purpose::Audit)
    }

    #[test]
    fn a_seal_vouches_for_the_lines_before_it_and_not_with_another_key() {
        let t = tempfile::tempdir().expect("tempdir");
        let dir = t.path().join("a");
        let mac = key();
        let mut log = AuditLog::open(&dir, 1 << 20).expect("open");
        for _ in 0..3 {
            log.append(Event::new(EventKind::Read)).expect("append");
        }
        let point = log.seal(&mac, "test").expect("seal");
        assert_eq!(point.seq, 4);
        log.append(Event::new(EventKind::Read)).expect("append");
        assert!(seal::holds(&dir, &point).expect("holds"));
        let head = VaultHead::Sealed(point.clone());
        let r = verify_sealed(&dir, &mac, &head).expect("verify");
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!((r.sealed_to, r.unsealed, r.seals), (Some(4), 1, 1));

        // Another vault's key: the seal does not verify; the first event is seq 1.
        let r = verify_sealed(&dir, &key(), &head).expect("verify");
        assert!(r.problems[0].contains("rewritten"), "{:?}", r.problems);
        assert_eq!(r.first_unvouched, Some(1));

        // The genesis point holds for any log; a point at a seq the log lacks does not.
        assert!(seal::holds(&dir, &seal::SealPoint::genesis()).expect("holds"));
        let later = seal::SealPoint { seq: 9, ..point };
        assert!(!seal::holds(&dir, &later).expect("holds"));
        let r = verify_sealed(&dir, &mac, &VaultHead::Sealed(later)).expect("verify");
        assert!(r.problems[0].contains("shortened"), "{:?}", r.problems);
    }
}

#[test]
fn a_log_started_anew_begins_at_seq_1_and_keeps_the_old_files_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit");
    let mut log = AuditLog::open(&audit, 300).expect("open");
    for _ in 0..5 {
        log.append(read_event("dev", Decision::Allowed))
            .expect("append");
    }
    let before = fs::read_to_string(audit.join("audit.jsonl")).expect("read");
    let aside = log.start_anew().expect("start anew");
    assert!(aside.starts_with(&audit) && aside.is_dir());
    assert!(aside.join("audit.jsonl").exists() && aside.join("audit-000001.jsonl").exists());
    assert_eq!(
        fs::read_to_string(aside.join("audit.jsonl")).expect("read"),
        before
    );
    let rec = log.append(Event::new(EventKind::Approve)).expect("append");
    assert_eq!((rec.seq, rec.prev.as_str()), (1, super::chain::GENESIS));
    assert_eq!(verify(&audit).expect("verify").lines, 1);
    // A second one the same second gets a directory of its own.
    let again = log.start_anew().expect("again");
    assert_ne!(again, aside);
}
