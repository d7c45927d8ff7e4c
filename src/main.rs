//! The `openv` binary: parses the command line and runs it on a small runtime.

use std::process::ExitCode;

use clap::Parser;
use openv::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The agent sets up its own logging; so does `openv mcp`, which caps the MCP SDK's
    // debug events (they echo tool arguments).
    if !matches!(cli.command, Command::Agent(_) | Command::Mcp(_)) {
        openv::logging::to_stderr("warn");
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(openv::cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost message already says what to do.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
