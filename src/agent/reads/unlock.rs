//! A read that finds the vault locked: with a passphrase slot and a pinentry that reaches
//! the user, the first such reader asks for the passphrase and later ones wait for that
//! prompt; otherwise the read is denied at once by the normal path.

use std::time::Duration;

use crate::agent::state::{Shared, State, with_state};
use crate::approvals::PromptMode;
use crate::prompt::pinentry::{self, Program};
use crate::store::Backend;

/// What a read that finds the vault locked should do.
pub enum Plan {
    /// Not locked (or no vault, or nobody to ask): decide as usual.
    Proceed,
    /// Another reader's passphrase prompt is open: wait for it.
    Wait(tokio::sync::watch::Receiver<bool>),
    /// Ask for the passphrase with this program, then tell the waiters.
    Ask(Program, tokio::sync::watch::Sender<bool>, Duration),
}

pub fn plan(st: &mut State) -> Plan {
    let locked = st.vault().is_ok_and(|v| !v.is_unlocked());
    if !locked {
        return Plan::Proceed;
    }
    if let Some(rx) = st.unlocking.clone() {
        return Plan::Wait(rx);
    }
    let a = &st.approvals;
    if !matches!(a.settings.mode, PromptMode::Auto | PromptMode::Pinentry) {
        return Plan::Proceed;
    }
    let has_passphrase = st
        .vault
        .as_ref()
        .and_then(|v| v.slot_kinds().ok())
        .is_some_and(|k| k.contains(&crate::store::keyslot::SlotKind::Passphrase));
    let Some(program) = has_passphrase
        .then(|| crate::agent::dialogs::choose(&a.context, a.settings.pinentry.as_deref()))
        .flatten()
    else {
        return Plan::Proceed;
    };
    let timeout = a.settings.timeout;
    let (tx, rx) = tokio::sync::watch::channel(false);
    st.unlocking = Some(rx);
    Plan::Ask(program, tx, timeout)
}

/// Runs the unlock flow for a read: passphrase prompt, unlock, wake the waiters.
pub async fn for_read(state: &Shared, plan: Plan) {
    match plan {
        Plan::Proceed => {}
        Plan::Wait(mut rx) => {
            let _ = tokio::time::timeout(Duration::from_secs(120), rx.changed()).await;
        }
        Plan::Ask(program, tx, timeout) => {
            let got = tokio::task::spawn_blocking(move || {
                pinentry::ask_secret(
                    &program,
                    "openv: unlock the vault",
                    "A process wants to read a mounted .env and the openv vault is locked.\nType the vault passphrase to unlock it, or cancel to deny.",
                    "Passphrase:",
                    timeout,
                )
            })
            .await;
            let _ = with_state(state, move |st| {
                if let Ok(Ok(Some(pass))) = got {
                    let secret = crate::store::SlotSecret::Passphrase(pass);
                    match st.vault().and_then(|v| v.unlock(&secret)) {
                        Ok(()) => {
                            tracing::info!("vault unlocked from a read's passphrase prompt");
                            st.audit(
                                crate::audit::Event::new(crate::audit::EventKind::Unlock)
                                    .detail("passphrase prompt for a read"),
                            );
                            crate::agent::contents::refresh_all(st);
                        }
                        Err(e) => tracing::warn!(error = %e, "unlock from the prompt failed"),
                    }
                }
                st.unlocking = None;
            })
            .await;
            let _ = tx.send(true);
        }
    }
}
