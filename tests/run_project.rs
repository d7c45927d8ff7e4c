//! The project file openv.toml: the default environment for every `-e`, errors that
//! point to the line and key, `openv up` / `openv down`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::Openv;

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A project with `env = "proj-dev"` and a subdirectory to run from.
fn project(o: &Openv, toml: &str) -> (PathBuf, PathBuf) {
    let root = o.dir.path().join("proj");
    let sub = root.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(root.join("openv.toml"), toml).unwrap();
    (root, sub)
}

#[test]
fn every_env_flag_defaults_to_the_project_and_precedence_is_flag_env_file() {
    let o = Openv::new();
    for e in ["proj-dev", "from-var", "from-flag"] {
        o.ok(&["env", "create", e]);
    }
    let (_root, sub) = project(&o, "env = \"proj-dev\"\n");
    let r = o.run_in(&sub, &["var", "add", "NAME_A"]);
    assert!(r.status.success(), "{}", err(&r));
    assert!(out(&r).contains("proj-dev"), "{}", out(&r));
    let r = o.run_in(&sub, &["var", "list", "--json"]);
    assert!(out(&r).contains("NAME_A"));
    // OPENV_ENV beats the file, -e beats both.
    let r = o
        .cmd(&["var", "add", "NAME_B"])
        .current_dir(&sub)
        .env("OPENV_ENV", "from-var")
        .output()
        .unwrap();
    assert!(out(&r).contains("from-var"), "{}", out(&r));
    let r = o
        .cmd(&["var", "add", "-e", "from-flag", "NAME_C"])
        .current_dir(&sub)
        .env("OPENV_ENV", "from-var")
        .output()
        .unwrap();
    assert!(out(&r).contains("from-flag"), "{}", out(&r));
    // policy, import and run take the default too.
    let r = o.run_in(&sub, &["policy", "allow", "--exe", "sh"]);
    assert!(out(&r).contains("may now read proj-dev"), "{}", out(&r));
    let env_file = o.dir.path().join("in.env");
    std::fs::write(&env_file, "IMPORTED=x1y2z3w4\n").unwrap();
    let r = o.run_in(&sub, &["import", env_file.to_str().unwrap()]);
    assert!(out(&r).contains("into proj-dev"), "{}", err(&r));
    let r = o.run_in(&sub, &["run", "--", "sh", "-c", "echo ${#IMPORTED}"]);
    assert_eq!(out(&r), "8\n", "{}", err(&r));
}

#[test]
fn a_project_without_env_and_no_project_say_how_to_give_one() {
    let o = Openv::new();
    let (root, _) = project(&o, "[[mount]]\npath = \".env\"\n");
    let r = o.run_in(&root, &["var", "list"]);
    assert_eq!(r.status.code(), Some(1));
    let e = err(&r);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(
        e.contains("pass -e ENV, set OPENV_ENV, or put env = \"NAME\" in")
            && e.contains("proj/openv.toml"),
        "{e}"
    );
}

#[test]
fn errors_in_the_file_point_to_line_and_key_but_never_block_an_explicit_env() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let (root, sub) = project(
        &o,
        "env = \"dev\"\n\n[[mount]]\npath = \".env\"\nmode = \"nfs\"\n",
    );
    let r = o.run_in(&sub, &["var", "list"]);
    let e = err(&r);
    assert_eq!(
        e.trim_end(),
        format!(
            "error: {}, line 5, key `mount.mode`: mode \"nfs\": use auto, fuse or fifo",
            root.canonicalize().unwrap().join("openv.toml").display()
        )
    );
    std::fs::write(root.join("openv.toml"), "env = \"dev\"\nbogus = 1\n").unwrap();
    let e = err(&o.run_in(&sub, &["var", "list"]));
    assert!(e.contains("line 2, key `bogus`: unknown field"), "{e}");
    let r = o.run_in(&sub, &["var", "list", "-e", "dev"]);
    assert!(r.status.success(), "{}", err(&r));
}

#[test]
fn up_and_down_create_and_remove_every_mount() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    o.ok(&["env", "create", "web"]);
    o.set("dev", "A", "1");
    let (root, sub) = project(
        &o,
        "env = \"dev\"\n\n[[mount]]\npath = \".env\"\nmode = \"fifo\"\n\n[[mount]]\npath = \"web/.env.local\"\nenv = \"web\"\nmode = \"fifo\"\n",
    );
    std::fs::create_dir(root.join("web")).unwrap();
    let r = o.run_in(&sub, &["up"]);
    assert!(r.status.success(), "{}", err(&r));
    let s = out(&r);
    assert!(
        s.contains("mounted dev at") && s.contains("mounted web at"),
        "{s}"
    );
    let mounts = o.ok(&["mounts", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&mounts).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{mounts}");
    // Idempotent.
    let r = o.run_in(&root, &["up"]);
    assert!(out(&r).contains("already mounted"), "{}", out(&r));
    let r = o.run_in(&sub, &["down"]);
    assert!(r.status.success(), "{}", err(&r));
    assert_eq!(out(&r).matches("unmounted").count(), 2, "{}", out(&r));
    let v: serde_json::Value = serde_json::from_str(&o.ok(&["mounts", "--json"])).unwrap();
    assert!(v.as_array().unwrap().is_empty());
    assert!(!root.join(".env").exists() && !root.join("web/.env.local").exists());
    let r = o.run_in(&sub, &["down"]);
    assert!(out(&r).contains("not mounted"), "{}", out(&r));
    // Outside any project.
    let r = o.run_in(o.dir.path(), &["up"]);
    assert!(err(&r).contains("no openv.toml"), "{}", err(&r));
}
