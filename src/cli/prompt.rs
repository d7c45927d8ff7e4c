//! Reading secrets: a hidden prompt on a terminal, stdin otherwise. Never argv.

use std::io::{IsTerminal, Read};

use anyhow::{Context, bail};

use crate::secret::SecretValue;

pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// Reads a passphrase: hidden prompt on a TTY (twice if `confirm`), else one line
/// of stdin.
pub fn passphrase(prompt: &str, confirm: bool) -> anyhow::Result<SecretValue> {
    if stdin_is_tty() {
        let first =
            SecretValue::new(rpassword::prompt_password(prompt).context("reading passphrase")?);
        if first.is_empty() {
            bail!("empty passphrase: type one, or use a key file with --keyfile PATH");
        }
        if confirm {
            let again = SecretValue::new(
                rpassword::prompt_password("Repeat passphrase: ").context("reading passphrase")?,
            );
            if again.expose() != first.expose() {
                bail!("the two passphrases differ: nothing was changed, run the command again");
            }
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading passphrase from stdin")?;
        let v = SecretValue::new(line.trim_end_matches(['\n', '\r']).to_owned());
        zeroize::Zeroize::zeroize(&mut line);
        if v.is_empty() {
            bail!("empty passphrase on stdin: pipe the passphrase in, or use --keyfile PATH");
        }
        Ok(v)
    }
}

/// Reads a variable's value: hidden prompt on a TTY, else all of stdin without one
/// trailing newline.
pub fn value(name: &str) -> anyhow::Result<SecretValue> {
    if stdin_is_tty() {
        Ok(SecretValue::new(
            rpassword::prompt_password(format!("Value for {name} (hidden): "))
                .context("reading value")?,
        ))
    } else {
        // Sized so that a value under 64 KiB is never moved by a reallocation, which would
        // leave an unzeroed copy behind; the buffer is zeroized when dropped.
        let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(64 * 1024));
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the value from stdin")?;
        let text = std::str::from_utf8(&buf).context("the value on stdin must be UTF-8 text")?;
        let trimmed = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        Ok(SecretValue::new(trimmed.to_owned()))
    }
}

/// Asks y/N on the terminal.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "YES"))
}
