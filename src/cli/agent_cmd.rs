use std::time::Duration;

use clap::Subcommand;

use crate::agent::{self, Launch, pidlock};
use crate::ipc::client::Client;
use crate::paths::Home;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stay in the foreground and log to stderr (for systemd and debugging).
    #[arg(long)]
    foreground: bool,
    /// Spawned by a client: detach and report readiness on stdout.
    #[arg(long, hide = true, requires = "foreground")]
    daemon: bool,
    #[command(subcommand)]
    command: Option<AgentCommand>,
}

#[derive(Debug, Subcommand)]
enum AgentCommand {
    /// Stop the running agent (the vault key is wiped).
    Stop,
    /// Stop the agent and start a new one (e.g. after an upgrade).
    Restart,
    /// Write and enable a systemd user unit that runs the agent (started at login,
    /// restarted after a crash).
    Install,
    /// Disable and remove the systemd user unit.
    Uninstall,
    /// Started by the agent: ends the waits of FUSE readers while the agent is stopped.
    #[command(hide = true)]
    Watchdog {
        /// The agent's pid (the watchdog's parent).
        #[arg(long)]
        pid: i32,
        /// How long the agent must have been stopped, in milliseconds.
        #[arg(long)]
        after_ms: u64,
    },
}

pub async fn run(home: Home, a: Args) -> anyhow::Result<()> {
    match a.command {
        Some(AgentCommand::Stop) => {
            match pidlock::stop(&home, Duration::from_secs(10)).map_err(anyhow::Error::msg)? {
                Some(pid) => println!("openv agent stopped (pid {pid})"),
                None => println!("no openv agent was running"),
            }
            Ok(())
        }
        Some(AgentCommand::Restart) => {
            pidlock::stop(&home, Duration::from_secs(10)).map_err(anyhow::Error::msg)?;
            let c = Client::connect_or_start(&home).await?;
            println!("openv agent restarted (pid {})", c.agent.pid);
            Ok(())
        }
        Some(AgentCommand::Install) => super::agent_install::install(&home),
        Some(AgentCommand::Uninstall) => super::agent_install::uninstall(),
        Some(AgentCommand::Watchdog { pid, after_ms }) => {
            crate::logging::to_stderr("info");
            agent::watchdog::run(pid, Duration::from_millis(after_ms))
        }
        None if a.foreground => {
            crate::clean_env::ensure(home.root())?;
            let launch = if a.daemon {
                Launch::Daemon
            } else {
                Launch::Foreground
            };
            agent::run(home, launch).await
        }
        None => {
            if let Some(pid) = pidlock::running_pid(&home) {
                println!("openv agent already running (pid {pid})");
                return Ok(());
            }
            let c = Client::connect_or_start(&home).await?;
            println!("openv agent started (pid {})", c.agent.pid);
            Ok(())
        }
    }
}
