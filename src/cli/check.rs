//! `openv check`: per variable of an environment, the reader dialects that cannot read
//! its value exactly (and so are denied the file). Names only: the agent computes the
//! answer for `var list` (`unreadable_by`), this prints it and sets the exit status.

use std::collections::BTreeSet;
use std::io::Write;

use super::agent_client::client;
use super::output;
use crate::ipc::protocol::{Request, Response};
use crate::paths::Home;
use crate::render::Dialect;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Environment (default: $OPENV_ENV, then `env` in openv.toml).
    #[arg(short, long = "env", env = "OPENV_ENV")]
    env: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(home: &Home, a: Args) -> anyhow::Result<()> {
    let env = crate::project::env_or_default(a.env)?;
    let Response::Variables {
        variables,
        readers_checked,
        ..
    } = client(home)
        .call(&Request::VarList { env: env.clone() })
        .await?
    else {
        return Err(super::agent_client::unexpected());
    };
    if !readers_checked {
        anyhow::bail!(
            "cannot read the values of {env} to check them: run `openv unlock` (a shared environment refused as stale needs `openv sync`), then `openv check -e {env}` again"
        );
    }
    let unreadable: Vec<(&str, &[String])> = variables
        .iter()
        .filter(|v| !v.unreadable_by.is_empty())
        .map(|v| (v.name.as_str(), v.unreadable_by.as_slice()))
        .collect();
    let set = variables.iter().filter(|v| v.has_value).count();
    if a.json {
        let map: serde_json::Map<String, serde_json::Value> = unreadable
            .iter()
            .map(|(n, d)| ((*n).to_owned(), serde_json::json!(d)))
            .collect();
        output::json(&serde_json::json!({
            "environment": env,
            "variables": variables.len(),
            "set": set,
            "unreadable_by": map,
        }))?;
    } else {
        print_table(&unreadable)?;
    }
    if unreadable.is_empty() {
        if !a.json {
            println!("every value of {env} ({set} set) is readable by every reader");
        }
        return Ok(());
    }
    anyhow::bail!(
        "{} of {set} value(s) of {env} cannot be read exactly by some readers, which are denied the file: change those values, or pick a dialect for the mount with `render = \"...\"` in openv.toml (docs/cli.md, \"Dialects\")",
        unreadable.len()
    )
}

/// `NAME  UNREADABLE BY` rows, then what each dialect named stands for.
fn print_table(rows: &[(&str, &[String])]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let w = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(4).max(4);
    writeln!(out, "{:w$}  UNREADABLE BY", "NAME")?;
    let mut named = BTreeSet::new();
    for (name, dialects) in rows {
        writeln!(out, "{name:w$}  {}", dialects.join(","))?;
        named.extend(dialects.iter().map(String::as_str));
    }
    writeln!(out)?;
    for d in named {
        let readers = Dialect::parse(d).map_or("", Dialect::readers);
        writeln!(out, "{d}: {readers}")?;
    }
    out.flush()?;
    Ok(())
}
