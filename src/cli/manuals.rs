//! `openv completions SHELL` and `openv man [DIR]`: generated from the command definitions,
//! so they can never disagree with `--help`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write openv.1 and one page per command (openv-mount.1, ...) here; without it, print
    /// openv.1 to standard output.
    pub dir: Option<PathBuf>,
}

/// Prints the completion script for `shell` to standard output; `cmd` is the whole
/// command line's definition.
pub fn completions(a: &CompletionsArgs, mut cmd: clap::Command) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(a.shell, &mut cmd, "openv", &mut out);
    out.flush().context("standard output")?;
    Ok(())
}

/// Writes the man pages of `cmd`, the whole command line's definition.
pub fn man(a: &ManArgs, cmd: clap::Command) -> anyhow::Result<()> {
    let Some(dir) = &a.dir else {
        let mut out = std::io::stdout().lock();
        clap_mangen::Man::new(cmd).render(&mut out)?;
        return Ok(out.flush()?);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let written = write_pages(cmd, "openv", dir)?;
    println!("wrote {written} man pages to {}", dir.display());
    Ok(())
}

/// `cmd`'s page and those of its subcommands, named `openv-mount.1`, `openv-var-set.1`.
fn write_pages(cmd: clap::Command, name: &str, dir: &Path) -> anyhow::Result<usize> {
    let cmd = cmd.name(name.to_owned());
    let file = dir.join(format!("{name}.1"));
    let mut bytes = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut bytes)?;
    std::fs::write(&file, bytes).with_context(|| format!("cannot write {}", file.display()))?;
    let mut written = 1;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let sub_name = format!("{name}-{}", sub.get_name());
        written += write_pages(sub.clone(), &sub_name, dir)?;
    }
    Ok(written)
}
