//! Showing a pending request to the user. The queue (`openv pending`) always works; a
//! pinentry dialog is shown in addition where one can reach the user (the display or
//! terminal of the most recent interactive openv command). Whichever answers first
//! decides; a dialog answered after the queue is ignored.

use std::time::Duration;

use super::server::Shared;
use crate::approvals::grants::Scope;
use crate::approvals::pending::ItemKind;
use crate::approvals::{PromptJob, PromptMode};
use crate::prompt::pinentry::{self, Program};
use crate::prompt::{Answer, Question, Surface};
use crate::store::{Backend, ValueSource};

/// Shows `job` with pinentry, if the configuration and the user's whereabouts allow.
pub fn spawn(state: Shared, job: PromptJob) {
    tokio::spawn(async move {
        let st = state.clone();
        let id = job.id;
        let plan = tokio::task::spawn_blocking(move || {
            let st = st.lock().unwrap_or_else(|p| p.into_inner());
            let a = &st.approvals;
            if !matches!(a.settings.mode, PromptMode::Auto | PromptMode::Pinentry) {
                return None;
            }
            let kind = a.pending.kind_of(id)?.clone();
            let program = choose(&a.context, a.settings.pinentry.as_deref())?;
            Some((kind, program, a.settings.scope, a.settings.timeout))
        })
        .await
        .ok()
        .flatten();
        let Some((kind, program, scope, timeout)) = plan else {
            return;
        };
        tracing::info!(id, program = %program.path.display(), "showing a prompt");
        match kind {
            ItemKind::Read | ItemKind::Action { .. } => {
                confirm(&state, &job, &kind, program, scope, timeout).await
            }
            ItemKind::Values { names } => ask_values(&state, &job, names, program, timeout).await,
        }
    });
}

/// What a read that finds the vault locked should do.
pub enum LockedPlan {
    /// Not locked (or no vault): decide as usual.
    Proceed,
    /// Another reader's passphrase prompt is open: wait for it.
    Wait(tokio::sync::watch::Receiver<bool>),
    /// Ask for the passphrase with this program, then tell the waiters.
    Ask(Program, tokio::sync::watch::Sender<bool>, Duration),
}

/// Decides whether a read on a locked vault can trigger the unlock flow: only with a
/// passphrase slot and a pinentry that reaches the user. Without one the read is denied
/// at once by the normal path.
pub fn locked_plan(st: &mut super::state::State) -> LockedPlan {
    let locked = st.vault().is_ok_and(|v| !v.is_unlocked());
    if !locked {
        return LockedPlan::Proceed;
    }
    if let Some(rx) = st.unlocking.clone() {
        return LockedPlan::Wait(rx);
    }
    let a = &st.approvals;
    if !matches!(a.settings.mode, PromptMode::Auto | PromptMode::Pinentry) {
        return LockedPlan::Proceed;
    }
    let has_passphrase = st
        .vault
        .as_ref()
        .and_then(|v| v.slot_kinds().ok())
        .is_some_and(|k| k.contains(&crate::store::keyslot::SlotKind::Passphrase));
    let Some(program) = has_passphrase
        .then(|| choose(&a.context, a.settings.pinentry.as_deref()))
        .flatten()
    else {
        return LockedPlan::Proceed;
    };
    let timeout = a.settings.timeout;
    let (tx, rx) = tokio::sync::watch::channel(false);
    st.unlocking = Some(rx);
    LockedPlan::Ask(program, tx, timeout)
}

/// Runs the unlock flow for a read: passphrase prompt, unlock, wake the waiters.
pub async fn unlock_for_read(state: &Shared, plan: LockedPlan) {
    match plan {
        LockedPlan::Proceed => {}
        LockedPlan::Wait(mut rx) => {
            let _ = tokio::time::timeout(Duration::from_secs(120), rx.changed()).await;
        }
        LockedPlan::Ask(program, tx, timeout) => {
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
            let st = state.clone();
            let _ = tokio::task::spawn_blocking(move || {
                let mut st = st.lock().unwrap_or_else(|p| p.into_inner());
                if let Ok(Ok(Some(pass))) = got {
                    let secret = crate::store::SlotSecret::Passphrase(pass);
                    match st.vault().and_then(|v| v.unlock(&secret)) {
                        Ok(()) => {
                            tracing::info!("vault unlocked from a read's passphrase prompt");
                            st.audit(
                                crate::audit::Event::new(crate::audit::EventKind::Unlock)
                                    .detail("passphrase prompt for a read"),
                            );
                            st.refresh_all();
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

/// Desktop first, then the terminal of the last interactive command.
fn choose(
    ctx: &crate::approvals::ClientContext,
    over: Option<&std::path::Path>,
) -> Option<Program> {
    if ctx.display.is_some() || ctx.wayland.is_some() {
        let desktop = Surface::Desktop {
            display: ctx.display.clone(),
            wayland: ctx.wayland.clone(),
        };
        if let Some(p) = pinentry::find(desktop, over) {
            return Some(p);
        }
    }
    let tty = ctx.tty.as_ref()?;
    pinentry::find(Surface::Terminal { tty: tty.into() }, over)
}

async fn confirm(
    state: &Shared,
    job: &PromptJob,
    kind: &ItemKind,
    program: Program,
    scope: Scope,
    timeout: Duration,
) {
    let (title, allow, alt) = match kind {
        ItemKind::Action { .. } => (
            "openv: approve an action?".to_owned(),
            "Approve".to_owned(),
            None,
        ),
        _ => (
            format!("openv: read environment \"{}\"?", job.env),
            "Allow once".to_owned(),
            match scope {
                Scope::Once => None,
                Scope::Process => Some("Allow for this process".to_owned()),
                Scope::Exe => Some("Allow this program for a while".to_owned()),
            },
        ),
    };
    let q = Question {
        title,
        description: job.text.clone(),
        allow_label: allow,
        deny_label: "Deny".into(),
        alt_label: alt,
        timeout,
    };
    let answer = tokio::task::spawn_blocking(move || pinentry::confirm(&program, &q)).await;
    let (allow, chosen) = match answer {
        Ok(Ok(Answer::Allow)) => (true, Scope::Once),
        Ok(Ok(Answer::AllowAlt)) => (true, scope),
        Ok(Ok(Answer::Deny)) => (false, Scope::Once),
        Ok(Err(e)) => {
            // The queue still works: leave the request pending.
            tracing::warn!(error = %e, "the prompt could not be shown; answer with `openv pending`");
            return;
        }
        Err(_) => return,
    };
    let id = job.id;
    let st = state.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let mut st = st.lock().unwrap_or_else(|p| p.into_inner());
        let via = format!("the dialog ({})", chosen.as_str());
        if let Some((item, outcome)) = st.approvals.answer(id, allow, chosen, None, None, &via) {
            st.audit_answer(&item, &outcome, "pinentry");
            item.settle(&outcome);
        }
    })
    .await;
}

/// Hidden input for each name; each value goes straight into the vault.
async fn ask_values(
    state: &Shared,
    job: &PromptJob,
    names: Vec<String>,
    program: Program,
    timeout: Duration,
) {
    for name in names {
        let (p, desc) = (program.clone(), job.text.clone());
        let title = format!("openv: value for {name}");
        let prompt = format!("{name}:");
        let got = tokio::task::spawn_blocking(move || {
            pinentry::ask_secret(&p, &title, &desc, &prompt, timeout)
        })
        .await;
        let value = match got {
            Ok(Ok(Some(v))) => v,
            Ok(Ok(None)) => {
                // Cancelled: decline the whole request.
                let (st, id) = (state.clone(), job.id);
                let _ = tokio::task::spawn_blocking(move || {
                    let mut st = st.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some((item, outcome)) =
                        st.approvals
                            .answer(id, false, Scope::Once, None, None, "the dialog")
                    {
                        st.audit_answer(&item, &outcome, "pinentry");
                        item.settle(&outcome);
                    }
                })
                .await;
                return;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the value prompt could not be shown; use `openv var set`");
                return;
            }
            Err(_) => return,
        };
        let (st, env) = (state.clone(), job.env.clone());
        let _ = tokio::task::spawn_blocking(move || {
            let mut st = st.lock().unwrap_or_else(|p| p.into_inner());
            let set = st
                .vault()
                .and_then(|v| v.set_vars(&env, &[(name.clone(), value)], ValueSource::User));
            match set {
                Ok(()) => st.refresh_env(&env),
                Err(e) => tracing::warn!(%name, error = %e, "value from the dialog not stored"),
            }
        })
        .await;
    }
}
