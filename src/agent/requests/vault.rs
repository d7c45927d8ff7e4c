//! The vault itself: status, create, unlock, lock, verify.

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::Decision;
use crate::audit::{Event, EventKind};
use crate::ipc::protocol::{ErrorCode, PROTOCOL_VERSION, Proof, Response, StatusInfo, WireSecret};
use crate::store::keyslot::create_keyfile;
use crate::store::sqlite::SqliteVault;
use crate::store::{Backend, SlotSecret, StoreError};

pub(crate) fn slot_secret(s: WireSecret) -> SlotSecret {
    match s {
        WireSecret::Passphrase { passphrase } => SlotSecret::Passphrase(passphrase),
        WireSecret::Keyfile { path } => SlotSecret::Keyfile(path),
    }
}

pub fn status(st: &mut State) -> Response {
    let damage = crate::agent::health::damage(st);
    let vault_path = st.home.vault();
    let vault_exists = vault_path.exists();
    let (locked, (environments, variables)) = match st.vault() {
        Ok(v) => (!v.is_unlocked(), v.counts().unwrap_or((0, 0))),
        Err(_) => (true, (0, 0)),
    };
    // The cached policy (checked against its seal when it was loaded).
    let policy = match st.vault.as_ref().filter(|v| v.is_unlocked()) {
        Some(v) => match st.approvals.policy(v) {
            Ok(p) => p.summary(),
            Err(e) => Some(format!("the policy cannot be checked: {e}")),
        },
        None => None,
    };
    let a = &st.approvals;
    Response::Status(Box::new(StatusInfo {
        pid: std::process::id(),
        version: env!("CARGO_PKG_VERSION").into(),
        protocol: PROTOCOL_VERSION,
        uptime_secs: st.started.elapsed().as_secs(),
        vault: vault_path.display().to_string(),
        vault_exists,
        locked,
        environments,
        variables,
        idle_lock_secs: st.config.idle_lock.as_secs(),
        socket: st.home.socket().display().to_string(),
        log_file: st.home.log_file().display().to_string(),
        prompt: a.settings.mode.as_str().into(),
        pending: a.pending.len() as u64,
        grants: a.grants.len() as u64,
        rate_limited_until: a
            .rate_limited_until
            .filter(|t| *t > std::time::SystemTime::now())
            .map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        mounts: st.mounts.len() as u64,
        refused_reads: st.refused_reads.iter().cloned().collect(),
        damage,
        team_warnings: super::team::team_warnings(st),
        withheld: st
            .vault()
            .map(|v| crate::agent::withheld::report(v))
            .unwrap_or_default(),
        policy,
        mount_warning: st.mount_warning.clone(),
        audit_seal: st.audit_seal_problem.clone(),
        settings_warnings: st
            .file_config
            .ignored
            .iter()
            .cloned()
            .chain(st.settings_problem.clone())
            .collect(),
    }))
}

/// Creates the vault; a key file made for it is removed again if the vault is not.
pub fn init(st: &mut State, secret: WireSecret, create: bool) -> Result<Response, AgentError> {
    let secret = slot_secret(secret);
    let path = st.home.vault();
    if path.exists() {
        return Err(StoreError::VaultExists(path.display().to_string()).into());
    }
    let made_keyfile = match (&secret, create) {
        (SlotSecret::Keyfile(kf), true) if !kf.exists() => {
            create_keyfile(kf)?;
            Some(kf.clone())
        }
        _ => None,
    };
    match SqliteVault::create(&path, &secret) {
        Ok(v) => {
            st.vault = Some(v);
            tracing::info!(vault = %path.display(), "vault created");
            Ok(Response::Done)
        }
        Err(e) => {
            if let Some(kf) = made_keyfile {
                let _ = std::fs::remove_file(kf);
            }
            Err(e.into())
        }
    }
}

pub fn unlock(st: &mut State, secret: WireSecret) -> Result<Response, AgentError> {
    st.vault()?.unlock(&slot_secret(secret))?;
    tracing::info!("vault unlocked");
    st.audit(Event::new(EventKind::Unlock));
    crate::agent::contents::refresh_all(st);
    Ok(Response::Done)
}

pub fn lock(st: &mut State) -> Response {
    // Written before the key goes, so the seal at lock covers it.
    st.audit(Event::new(EventKind::Lock));
    st.lock_vault();
    tracing::info!("vault locked");
    Response::Done
}

/// Decrypts every value to prove the vault is intact; answers with counts only.
pub fn verify(st: &mut State) -> Result<Response, AgentError> {
    crate::agent::health::vault_health(st)?;
    let v = st.vault()?;
    let envs = v.list_envs()?;
    let mut values = 0;
    for e in &envs {
        values += v.read_values(&e.name)?.len() as u64;
    }
    Ok(Response::Verified {
        environments: envs.len() as u64,
        values,
    })
}

/// Checks a proof of the human against the key slots (argon2id for a passphrase). The
/// secret never leaves this function; a wrong one changes nothing.
pub fn prove(st: &mut State, proof: Proof) -> Result<Response, AgentError> {
    let secret = match proof {
        Proof::Passphrase { passphrase } => SlotSecret::Passphrase(passphrase),
        Proof::KeyFile { key_hex } => SlotSecret::KeyBytes(zeroize::Zeroizing::new(
            hex::decode(key_hex.expose().trim()).map_err(|_| {
                AgentError::invalid("the key file proof is not hex: send the key file's bytes")
            })?,
        )),
    };
    let kind = secret.kind().as_str();
    let checked = st.vault()?.prove(&secret);
    let decision = if checked.is_ok() {
        Decision::Allowed
    } else {
        Decision::Denied
    };
    st.audit(Event::new(EventKind::Proof).decision(decision).detail(kind));
    match checked {
        // The vault is open here: "stays locked" (the unlock's wording) would mislead.
        Err(StoreError::WrongSecret(m)) if m.starts_with("wrong passphrase") => {
            Err(AgentError::new(
                ErrorCode::WrongSecret,
                "wrong passphrase: nothing was changed; run the command again and type the vault passphrase",
            ))
        }
        Err(StoreError::WrongSecret(m)) if m.starts_with("this key file") => Err(AgentError::new(
            ErrorCode::WrongSecret,
            "this key file does not unlock this vault: nothing was changed; give the vault's key file with --keyfile PATH",
        )),
        other => other.map(|()| Response::Done).map_err(Into::into),
    }
}
