//! `openv allow --exe python3` where `python3` is a version manager's shim: the rule names
//! the interpreter the shim runs, found by asking it.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Openv, require};

/// Adds an allow rule for `python3` with `path_front` first on PATH; (stderr, rule's exe).
fn allow_python3(o: &Openv, path_front: &Path, extra: &[(&str, &str)]) -> (String, String) {
    let path = format!(
        "{}:{}",
        path_front.display(),
        std::env::var("PATH").unwrap()
    );
    let mut cmd = o.cmd(&["allow", "-e", "dev", "--exe", "python3"]);
    cmd.env("PATH", path);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let rules: serde_json::Value =
        serde_json::from_str(&o.ok(&["policy", "list", "--json"])).unwrap();
    let exe = rules.as_array().unwrap().last().unwrap()["exe"]
        .as_str()
        .unwrap()
        .to_owned();
    (stderr, exe)
}

fn system_python3() -> PathBuf {
    PathBuf::from("/usr/bin/python3").canonicalize().unwrap()
}

#[test]
fn a_fake_pyenv_shim_is_resolved_to_the_interpreter_it_runs() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let root = o.dir.path().join(".pyenv");
    let shims = root.join("shims");
    let bin = root.join("versions/9.9.9/bin");
    std::fs::create_dir_all(&shims).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    // A copy, not a link, so that sys.executable names a file of its own.
    let interpreter = bin.join("python3");
    std::fs::copy(system_python3(), &interpreter).unwrap();
    let shim = shims.join("python3");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n# pyenv-like shim\nexec {} \"$@\"\n",
            interpreter.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();

    let (stderr, exe) = allow_python3(&o, &shims, &[]);
    assert_eq!(Path::new(&exe), interpreter.canonicalize().unwrap());
    assert!(
        stderr.contains("pyenv shim") && stderr.contains(&exe) && stderr.contains("sys.executable"),
        "{stderr}"
    );
}

#[test]
fn a_real_pyenv_shim_is_resolved_to_the_version_it_selects() {
    let root = std::env::var("PYENV_ROOT").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".pyenv"),
        PathBuf::from,
    );
    let shims = root.join("shims");
    let versions: Vec<String> = std::fs::read_dir(root.join("versions"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().join("bin/python3").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    if !require(
        shims.join("python3").exists() && !versions.is_empty(),
        "pyenv with an installed Python",
    ) {
        return;
    }
    let version = versions.iter().max().unwrap();
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let root_s = root.to_str().unwrap();
    let (stderr, exe) = allow_python3(
        &o,
        &shims,
        &[("PYENV_ROOT", root_s), ("PYENV_VERSION", version)],
    );
    let want = root
        .join("versions")
        .join(version)
        .join("bin/python3")
        .canonicalize()
        .unwrap();
    assert_eq!(Path::new(&exe), want, "{stderr}");
    assert!(stderr.contains("pyenv shim"), "{stderr}");
}

#[test]
fn a_plain_interpreter_is_named_as_it_is() {
    let o = Openv::new();
    o.ok(&["env", "create", "dev"]);
    let (stderr, exe) = allow_python3(&o, Path::new("/usr/bin"), &[]);
    assert_eq!(Path::new(&exe), system_python3());
    assert!(!stderr.contains("shim"), "{stderr}");
}
