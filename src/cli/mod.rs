//! The `openv` command line: a thin client of the agent. One file per subcommand.

mod agent_client;
mod agent_cmd;
mod agent_install;
mod audit;
mod backup;
mod check;
mod config;
mod env;
mod guard;
mod hook;
mod human;
mod import;
mod init;
mod launch;
mod lock;
mod manuals;
mod mcp;
mod mcp_servers;
mod mount;
pub mod output;
mod pending;
mod policy;
mod prompt;
mod remote;
mod run;
mod shims;
mod status;
mod sync;
mod up;
mod var;
mod verify;

use clap::{Parser, Subcommand};

use crate::paths::Home;

/// openv keeps your project's secrets in an encrypted local vault. AI agents manage
/// variable names; only processes you approve ever see the values.
#[derive(Debug, Parser)]
#[command(
    name = "openv",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the vault (passphrase, asked twice, or a key file).
    Init(init::Args),
    /// Unlock the vault with its passphrase or key file.
    Unlock(lock::UnlockArgs),
    /// Lock the vault: the key is wiped from the agent's memory.
    Lock,
    /// Show the agent and vault state.
    Status(status::Args),
    /// Manage environments.
    #[command(subcommand)]
    Env(env::EnvCommand),
    /// Manage the variables of an environment (names are shown, values never).
    #[command(subcommand)]
    Var(var::VarCommand),
    /// List the variables some .env readers cannot read exactly, and which (exit 1 if any).
    Check(check::Args),
    /// Import a plaintext .env file into an environment (prints names only).
    Import(import::Args),
    /// Decrypt every value to check that the vault is intact (prints counts only).
    Verify,
    /// Copy the vault to a new file (consistent while the agent runs; values stay sealed).
    Backup(backup::BackupArgs),
    /// Replace the vault with a copy (needs the copy's passphrase or key file).
    Restore(backup::RestoreArgs),
    /// Serve an environment as a virtual .env in a directory (FUSE file or FIFO).
    Mount(mount::MountArgs),
    /// Stop serving a virtual .env; nothing is left behind.
    Unmount(mount::UnmountArgs),
    /// List mounts with reads served and denied.
    Mounts(mount::MountsArgs),
    /// Shorthand for `openv policy allow`.
    Allow(policy::RuleArgs),
    /// Persistent rules: which executables may or may never read an environment.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// List requests waiting for approval (or answer them live with --watch).
    Pending(pending::PendingArgs),
    /// Approve a pending request.
    Approve(pending::ApproveArgs),
    /// Deny a pending request.
    Deny(pending::DenyArgs),
    /// Run an AI agent (or any command) in a Landlock sandbox: no access to openv's
    /// state, key files or credential stores; no writes to shell start-up files or PATH.
    Guard(guard::Args),
    /// Run a command with an environment's variables (approved like a read of the mount);
    /// values in captured output are masked.
    Run(run::Args),
    /// Create every mount listed in the project's openv.toml.
    Up(up::UpArgs),
    /// Remove every mount listed in the project's openv.toml.
    Down,
    /// Start an MCP server from the registry with its secrets injected (what MCP
    /// clients run).
    Launch(launch::Args),
    /// MCP servers of this project: list, enable, disable, export to a client.
    #[command(subcommand)]
    McpServers(mcp_servers::McpServersCommand),
    /// Serve openv's tools to an AI agent over MCP (stdio): names, never values.
    Mcp(mcp::Args),
    /// Checks for AI agents' hooks (e.g. `openv hook check-env`).
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Read the audit log (`openv audit verify` checks its chain and seals).
    Audit(audit::Args),
    /// Security settings: what is in force and where it came from; `set` needs you.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Run, stop or restart the background agent.
    Agent(agent_cmd::Args),
    /// Print a shell completion script (bash, zsh, fish): see docs/cli.md to install it.
    Completions(manuals::CompletionsArgs),
    /// Print the man page, or write one per command into DIR.
    Man(manuals::ManArgs),
    /// Team servers (OpenBao or Vault) that hold shared environments.
    #[command(subcommand)]
    Remote(remote::RemoteCommand),
    /// Refresh shared environments from their server now.
    Sync(sync::Args),
}

/// Runs one command; the error is printed by `main` as one line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Neither needs the agent nor OPENV_HOME.
    match &cli.command {
        Command::Completions(a) => {
            return manuals::completions(a, <Cli as clap::CommandFactory>::command());
        }
        Command::Man(a) => return manuals::man(a, <Cli as clap::CommandFactory>::command()),
        _ => {}
    }
    let home = Home::from_env()?;
    match cli.command {
        Command::Init(a) => init::run(&home, a).await,
        Command::Unlock(a) => lock::unlock(&home, a).await,
        Command::Lock => lock::lock(&home).await,
        Command::Status(a) => status::run(&home, a).await,
        Command::Env(c) => env::run(&home, c).await,
        Command::Var(c) => var::run(&home, c).await,
        Command::Check(a) => check::run(&home, a).await,
        Command::Import(a) => import::run(&home, a).await,
        Command::Verify => verify::run(&home).await,
        Command::Backup(a) => backup::backup(&home, a).await,
        Command::Restore(a) => backup::restore(&home, a).await,
        Command::Mount(a) => mount::mount(&home, a).await,
        Command::Unmount(a) => mount::unmount(&home, a).await,
        Command::Mounts(a) => mount::list(&home, a).await,
        Command::Allow(a) => policy::add(&home, crate::store::rules::Effect::Allow, a).await,
        Command::Policy(c) => policy::run(&home, c).await,
        Command::Pending(a) => pending::pending(&home, a).await,
        Command::Approve(a) => pending::approve(&home, a).await,
        Command::Deny(a) => pending::deny(&home, a).await,
        Command::Run(a) => run::run(&home, a).await,
        Command::Guard(a) => guard::run(&home, a).await,
        Command::Up(a) => up::up(&home, a).await,
        Command::Down => up::down(&home).await,
        Command::Launch(a) => launch::run(&home, a).await,
        Command::McpServers(c) => mcp_servers::run(&home, c).await,
        Command::Mcp(a) => mcp::run(home, a).await,
        Command::Hook(c) => hook::run(&home, c).await,
        Command::Audit(a) => audit::run(&home, a).await,
        Command::Config(c) => config::run(&home, c).await,
        Command::Agent(a) => agent_cmd::run(home, a).await,
        Command::Completions(_) | Command::Man(_) => Ok(()),
        Command::Remote(c) => remote::run(&home, c).await,
        Command::Sync(a) => sync::run(&home, a).await,
    }
}
