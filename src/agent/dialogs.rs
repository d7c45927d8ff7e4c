//! Showing a pending request to the user in a pinentry dialog. The queue (`openv
//! pending`) always works; a dialog is shown in addition where one can reach the user (the
//! display or terminal of the most recent interactive openv command). Whichever answers
//! first decides; a dialog answered after the queue is ignored.
//!
//! A click-only dialog (Allow / Deny) appears only on a trusted surface: one where a proof
//! of the human was made during this unlock (`agent::surfaces`). Elsewhere the dialog asks
//! for the vault passphrase instead, which a stranger driving that surface cannot answer.

use std::time::Duration;

use super::requests::pending::record_answer;
use super::state::{Shared, lock, with_state};
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
            let st = lock(&st);
            let a = &st.approvals;
            if !matches!(a.settings.mode, PromptMode::Auto | PromptMode::Pinentry) {
                return None;
            }
            let kind = a.pending.kind_of(id)?.clone();
            let over = a.settings.pinentry.as_deref();
            let trusted = a.trusted.as_ref().and_then(|t| choose(t, over));
            let surface = match (trusted, &kind) {
                (Some(p), _) => Place::Trusted(p),
                // Typed values go only where the human proved to be.
                (None, ItemKind::Values { .. }) => return None,
                (None, _) => {
                    Place::PassphraseOnly(choose(&a.candidate, over)?, a.candidate.clone())
                }
            };
            Some((kind, surface, a.settings.scope, a.settings.timeout))
        })
        .await
        .ok()
        .flatten();
        let Some((kind, surface, scope, timeout)) = plan else {
            return;
        };
        match (kind, surface) {
            (ItemKind::Values { names }, Place::Trusted(program)) => {
                tracing::info!(id, program = %program.path.display(), "asking for values");
                ask_values(&state, &job, names, program, timeout).await
            }
            (kind, Place::Trusted(program)) => {
                tracing::info!(id, program = %program.path.display(), "showing a prompt");
                confirm(&state, &job, &kind, program, scope, timeout).await
            }
            (_, Place::PassphraseOnly(program, ctx)) => {
                tracing::info!(id, program = %program.path.display(), "asking for the passphrase to approve");
                confirm_by_passphrase(&state, &job, program, ctx, timeout).await
            }
        }
    });
}

/// Where a dialog goes, and what it may ask.
enum Place {
    /// A surface where the human proved to be: Allow / Deny buttons.
    Trusted(Program),
    /// Any other: only the passphrase approves (and makes the surface trusted).
    PassphraseOnly(Program, crate::approvals::ClientContext),
}

/// The passphrase typed into the dialog approves this once: it proves the human, on a
/// surface that a same-user process may be driving.
async fn confirm_by_passphrase(
    state: &Shared,
    job: &PromptJob,
    program: Program,
    ctx: crate::approvals::ClientContext,
    timeout: Duration,
) {
    let title = format!("openv: approve a request on \"{}\"?", job.env);
    let desc = format!(
        "{}\nType the vault passphrase to approve this once, or cancel to leave it to `openv pending`.",
        job.text
    );
    // A wrong passphrase asks again, a few times; cancel leaves it to the queue.
    for _ in 0..3 {
        let (p, t, d) = (program.clone(), title.clone(), desc.clone());
        let got = tokio::task::spawn_blocking(move || {
            pinentry::ask_secret(&p, &t, &d, "Passphrase:", timeout)
        })
        .await;
        let Ok(Ok(Some(pass))) = got else {
            return;
        };
        let (id, ctx) = (job.id, ctx.clone());
        let done = with_state(state, move |st| approve_by_passphrase(st, id, pass, ctx))
            .await
            .unwrap_or(true);
        if done {
            return;
        }
    }
}

/// Approves request `id` once if `pass` is the vault passphrase; false when it is not.
fn approve_by_passphrase(
    st: &mut crate::agent::state::State,
    id: u64,
    pass: crate::secret::SecretValue,
    ctx: crate::approvals::ClientContext,
) -> bool {
    let secret = crate::store::SlotSecret::Passphrase(pass);
    let proved = st.vault().and_then(|v| v.prove(&secret));
    st.audit(
        crate::audit::Event::new(crate::audit::EventKind::Proof)
            .decision(if proved.is_ok() {
                crate::audit::Decision::Allowed
            } else {
                crate::audit::Decision::Denied
            })
            .detail(format!("passphrase dialog for request {id}")),
    );
    if proved.is_err() {
        tracing::warn!(
            id,
            "a wrong passphrase in the approval dialog: asking again"
        );
        return false;
    }
    st.approvals.trusted = Some(ctx);
    if let Some((item, verdict)) =
        st.approvals
            .answer(id, true, Scope::Once, None, None, "the passphrase dialog")
    {
        record_answer(st, &item, &verdict, "pinentry");
        item.settle(&verdict);
    }
    true
}

/// Desktop first, then the terminal of the last interactive command.
pub fn choose(
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
    let _ = with_state(state, move |st| {
        let via = format!("the dialog ({})", chosen.as_str());
        if let Some((item, verdict)) = st.approvals.answer(id, allow, chosen, None, None, &via) {
            record_answer(st, &item, &verdict, "pinentry");
            item.settle(&verdict);
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
                let id = job.id;
                let _ = with_state(state, move |st| {
                    if let Some((item, verdict)) =
                        st.approvals
                            .answer(id, false, Scope::Once, None, None, "the dialog")
                    {
                        record_answer(st, &item, &verdict, "pinentry");
                        item.settle(&verdict);
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
        let env = job.env.clone();
        let _ = with_state(state, move |st| {
            let set = st
                .vault()
                .and_then(|v| v.set_vars(&env, &[(name.clone(), value)], ValueSource::Human));
            match set {
                Ok(()) => crate::agent::contents::refresh_env(st, &env),
                Err(e) => tracing::warn!(%name, error = %e, "value from the dialog not stored"),
            }
        })
        .await;
    }
}
