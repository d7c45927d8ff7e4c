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
        None if a.foreground => {
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
