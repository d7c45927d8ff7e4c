//! Starting the agent on demand, as ssh-agent and gpg-agent clients do: spawn
//! `openv agent --foreground --daemon` and wait for the one line it writes once its socket
//! listens (`ready` or `error: ...`).

use std::time::Duration;

use tokio::io::AsyncBufReadExt;

use crate::paths::Home;

/// Why the agent could not be started (the text says what to look at).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(String);

impl StartError {
    pub fn new(why: String) -> Self {
        Self(why)
    }
}

/// Spawns the agent in the background and waits for its ready line.
pub async fn spawn_background(home: &Home) -> Result<(), StartError> {
    let exe = std::env::current_exe().map_err(|e| StartError(e.to_string()))?;
    let mut child = tokio::process::Command::new(exe)
        .args(["agent", "--foreground", "--daemon"])
        .env("OPENV_HOME", home.root())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| StartError(e.to_string()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| StartError("no pipe to the agent".into()))?;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stdout);
    let read = tokio::time::timeout(Duration::from_secs(15), reader.read_line(&mut line)).await;
    match read {
        Err(_) => Err(StartError(format!(
            "the agent did not report ready within 15 s: see {}",
            home.log_file().display()
        ))),
        Ok(Err(e)) => Err(StartError(e.to_string())),
        Ok(Ok(_)) => {
            let line = line.trim();
            if line == "ready" || line.starts_with("error: an openv agent is already running") {
                Ok(())
            } else if let Some(msg) = line.strip_prefix("error: ") {
                Err(StartError(msg.to_owned()))
            } else {
                Err(StartError(format!(
                    "the agent exited before it was ready: see {}",
                    home.log_file().display()
                )))
            }
        }
    }
}
