//! `openv agent install` / `uninstall`: the systemd user unit ([`crate::agent::unit`]).

use anyhow::Context;

use crate::agent::{pidlock, unit};
use crate::paths::Home;

/// Writes the unit and, when a user manager runs, enables and starts it.
pub fn install(home: &Home) -> anyhow::Result<()> {
    let path = unit::path().context("cannot find your home directory: set HOME")?;
    let exe = std::env::current_exe().context("cannot tell where this openv binary is")?;
    // Only an explicit OPENV_HOME goes into the unit; otherwise the agent finds the default.
    let explicit = std::env::var_os("OPENV_HOME").is_some_and(|h| !h.is_empty());
    let text = unit::text(&exe, explicit.then(|| home.root()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    if let Err(why) = unit::manager() {
        println!(
            "no systemd user manager answers here ({why}); the agent keeps starting on demand. Once one runs: systemctl --user daemon-reload && systemctl --user enable --now {}",
            unit::NAME
        );
        return Ok(());
    }
    unit::systemctl(&["daemon-reload"]).map_err(anyhow::Error::msg)?;
    // An agent started on demand holds the lock: the unit's agent would fail behind it.
    if let Some(pid) =
        pidlock::stop(home, std::time::Duration::from_secs(10)).map_err(anyhow::Error::msg)?
    {
        println!("stopped the agent started on demand (pid {pid})");
    }
    unit::systemctl(&["enable", "--now", unit::NAME])
        .map_err(|e| anyhow::anyhow!("systemctl --user enable --now {} failed: {e}", unit::NAME))?;
    println!(
        "enabled and started {}: it starts at login and restarts after a crash",
        unit::NAME
    );
    Ok(())
}

/// Disables and removes the unit; the agent then starts on demand again.
pub fn uninstall() -> anyhow::Result<()> {
    let path = unit::path().context("cannot find your home directory: set HOME")?;
    let managed = unit::manager().is_ok();
    if managed {
        // Stops the agent too; the next openv command starts one on demand.
        if let Err(e) = unit::systemctl(&["disable", "--now", unit::NAME]) {
            println!("systemctl --user disable --now {} failed: {e}", unit::NAME);
        } else {
            println!("disabled and stopped {}", unit::NAME);
        }
    }
    match std::fs::remove_file(&path) {
        Ok(()) => println!("removed {}", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{} was not installed", path.display());
        }
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    if managed {
        unit::systemctl(&["daemon-reload"]).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}
