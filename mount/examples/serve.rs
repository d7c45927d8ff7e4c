//! Serves a virtual file that every reader may read, until killed.
//!
//!     cargo run -p openv-mount --example serve -- PATH [--fifo | --in-dir] [CONTENT]
//!
//! Prints `ready` once mounted. The tests kill it with SIGKILL to leave a dead mount behind.

use std::io::Write;
use std::path::PathBuf;
use std::time::SystemTime;

use openv_mount::{Mode, MountOptions, mount};
use zeroize::Zeroizing;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: serve PATH [--fifo | --in-dir] [CONTENT]";
    let path = PathBuf::from(args.next().ok_or(usage)?);
    let mut opts = MountOptions::default();
    let mut content = String::from("OPENV_EXAMPLE=served\n");
    for arg in args {
        match arg.as_str() {
            "--fifo" => opts.mode = Mode::Fifo,
            // FUSE on a hidden directory next to PATH, PATH a symlink into it.
            "--in-dir" => opts.allow_file_mount = false,
            _ => content = arg,
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mount = mount(&path, opts, tx)?;
    mount.set_content_info(content.len() as u64, SystemTime::now());
    println!("ready {:?}", mount.placement());
    std::io::stdout().flush()?;
    while let Some(request) = rx.blocking_recv() {
        eprintln!(
            "serving pid {} ({})",
            request.reader.pid,
            request
                .reader
                .exe
                .as_deref()
                .map_or("?".into(), |e| e.display().to_string())
        );
        request.serve(Zeroizing::new(content.clone().into_bytes()));
    }
    Ok(())
}
