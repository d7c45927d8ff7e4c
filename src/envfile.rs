//! Reading a plaintext .env file for `openv import` and `openv mount --import`.

use std::path::Path;

use crate::secret::SecretValue;
use crate::store::StoreError;

/// Parses a .env with dotenvy. Parse errors name the line number, never its text (the
/// text holds the value).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, SecretValue)>, StoreError> {
    let io_err = |source| StoreError::Io {
        what: path.display().to_string(),
        source,
    };
    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(io_err)?);
    let mut out: Vec<(String, SecretValue)> = Vec::new();
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        match item {
            Ok((name, value)) => {
                let value = SecretValue::new(value);
                // A later line wins, as in every dotenv reader.
                if let Some(slot) = out.iter_mut().find(|(n, _)| *n == name) {
                    slot.1 = value;
                } else {
                    out.push((name, value));
                }
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                let line = zeroize::Zeroizing::new(line);
                let at = text
                    .lines()
                    .position(|l| l == line.as_str())
                    .map(|n| format!("line {}", n + 1))
                    .unwrap_or_else(|| "a multi-line value".into());
                return Err(io_err(std::io::Error::other(format!(
                    "cannot parse {at}: fix it and import again"
                ))));
            }
            Err(_) => return Err(io_err(std::io::Error::other("not a readable .env file"))),
        }
    }
    Ok(out)
}
