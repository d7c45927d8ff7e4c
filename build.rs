//! Links the `openv` binary with packed relative relocations (DT_RELR) where the
//! toolchain supports them: every CLI command is a fresh process, and applying ~20,000
//! plain relative relocations is most of its start-up time in the dynamic loader.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.contains("linux-gnu") {
        return;
    }
    // Ask the C compiler driver (the linker rustc uses) whether it accepts the flag.
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()));
    let src = out.join("relr_probe.c");
    if std::fs::write(&src, "int main(void) { return 0; }\n").is_err() {
        return;
    }
    let ok = Command::new("cc")
        .arg(&src)
        .arg("-o")
        .arg(out.join("relr_probe"))
        .arg("-Wl,-z,pack-relative-relocs")
        .output()
        .is_ok_and(|o| o.status.success() && o.stderr.is_empty());
    if ok {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
