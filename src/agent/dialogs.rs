//! Showing a pending request to the user in a pinentry dialog. The queue (`openv
//! pending`) always works; a dialog is shown in addition where one can reach the user (the
//! display or terminal of the most recent interactive openv command). Whichever answers
//! first decides; a dialog answered after the queue is ignored.

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
                .and_then(|v| v.set_vars(&env, &[(name.clone(), value)], ValueSource::User));
            match set {
                Ok(()) => crate::agent::contents::refresh_env(st, &env),
                Err(e) => tracing::warn!(%name, error = %e, "value from the dialog not stored"),
            }
        })
        .await;
    }
}
