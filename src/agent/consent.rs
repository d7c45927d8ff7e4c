//! Requests that may wait for a person: `Resolve` (values for `openv run` / `launch`),
//! `Confirm` (an agent's destructive action) and `AskValues` (an agent asks the human to
//! type values). The state lock is never held while waiting.

use std::path::Path;
use std::time::{Duration, Instant};

use openv_mount::{Ancestor, Reader};

use super::mount_ops::Wait;
use super::reads::wait_for_person;
use super::server::Shared;
use crate::approvals::pending::ItemKind;
use crate::approvals::{Check, PromptJob, PromptMode, Verdict, describe};
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Request, Response};
use crate::secret::SecretValue;
use crate::store::{Backend, StoreError};

type Failure = (ErrorCode, String);

fn store_err(e: StoreError) -> Failure {
    (super::state::error_code(&e), e.to_string())
}

async fn blocking<T: Send + 'static>(
    state: &Shared,
    f: impl FnOnce(&mut super::state::State) -> T + Send + 'static,
) -> Result<T, Failure> {
    let st = state.clone();
    tokio::task::spawn_blocking(move || f(&mut st.lock().unwrap_or_else(|p| p.into_inner())))
        .await
        .map_err(|_| {
            (
                ErrorCode::Internal,
                "internal error in the agent: see its log".into(),
            )
        })
}

pub async fn handle(req: Request, peer: Option<i32>, state: Shared, cid: &str) -> Response {
    let result = match req {
        Request::Resolve {
            envs,
            only,
            command,
        } => resolve(&state, peer, envs, only, command, cid).await,
        Request::Confirm {
            action,
            env,
            client,
        } => confirm(&state, peer, action, env, client).await,
        Request::AskValues {
            env,
            names,
            timeout_secs,
        } => ask_values(&state, peer, env, names, timeout_secs).await,
        _ => Err((
            ErrorCode::Internal,
            "internal error: not a consent request".into(),
        )),
    };
    result.unwrap_or_else(|(code, message)| Response::Error {
        code,
        message,
        cid: cid.to_owned(),
    })
}

fn peer_reader(peer: Option<i32>) -> Result<Reader, Failure> {
    let pid = peer.ok_or((
        ErrorCode::PeerRefused,
        "cannot tell which process is asking".to_owned(),
    ))?;
    openv_mount::identify(pid).map_err(|e| {
        (
            ErrorCode::PeerRefused,
            format!("cannot identify the asking process: {e}"),
        )
    })
}

/// The process a resolve is for: the command `openv run` will exec, as a child of the
/// openv process that asks.
fn subject(peer: &Reader, command: &[String]) -> Result<Reader, Failure> {
    let Some(prog) = command.first() else {
        return Err((ErrorCode::InvalidInput, "no command to run".into()));
    };
    if !Path::new(prog).is_absolute() || !Path::new(prog).is_file() {
        return Err((
            ErrorCode::InvalidInput,
            format!("{prog} is not an absolute path to a program"),
        ));
    }
    let mut parents = vec![Ancestor {
        pid: peer.pid,
        name: "openv".into(),
        exe: peer.exe.clone(),
        cmdline: peer.cmdline.clone(),
    }];
    parents.extend(peer.parents.iter().cloned());
    Ok(Reader {
        exe: Some(prog.into()),
        cmdline: command.to_vec(),
        parents,
        ppid: peer.pid,
        ..peer.clone()
    })
}

/// Asks (or applies rules and grants) for `reader` reading `env`.
async fn approve_read(state: &Shared, env: &str, reader: &Reader) -> Result<Verdict, Failure> {
    let (e, r) = (env.to_owned(), reader.clone());
    let check = blocking(state, move |st| -> Result<Check, Failure> {
        let v = st.vault().map_err(store_err)?;
        if !v.is_unlocked() {
            return Err(store_err(StoreError::Locked));
        }
        v.env_id(&e).map_err(store_err)?;
        let Some(vault) = st.vault.as_ref() else {
            return Err(store_err(StoreError::Locked));
        };
        st.approvals.check(vault, &e, &r).map_err(store_err)
    })
    .await??;
    Ok(match check {
        Check::Decided(v) => v,
        Check::Ask { id, rx, job } => {
            let timeout = blocking(state, |st| st.approvals.settings.timeout).await?;
            wait_for_person(
                state,
                Wait {
                    env: env.to_owned(),
                    id,
                    rx,
                    job,
                    timeout,
                },
            )
            .await
        }
    })
}

fn event_for(kind: EventKind, env: &str, r: &Reader) -> Event {
    let mut ev = Event::new(kind)
        .env(env)
        .pid(r.pid)
        .chain(describe::chain(r));
    if let Some(e) = &r.exe {
        ev = ev.exe(e.display().to_string());
    }
    if let Some(c) = &r.cwd {
        ev = ev.cwd(c.display().to_string());
    }
    ev
}

async fn resolve(
    state: &Shared,
    peer: Option<i32>,
    envs: Vec<String>,
    only: Option<Vec<String>>,
    command: Vec<String>,
    cid: &str,
) -> Result<Response, Failure> {
    if envs.is_empty() {
        return Err((
            ErrorCode::InvalidInput,
            "no environment given: use -e ENV".into(),
        ));
    }
    let peer = peer_reader(peer)?;
    super::peer_check::resolve_peer(state, &peer, &envs, cid).await?;
    let who = subject(&peer, &command)?;
    for env in &envs {
        let verdict = approve_read(state, env, &who).await?;
        if let Verdict::Deny { reason } = verdict {
            let ev = event_for(EventKind::Run, env, &who)
                .decision(Decision::Denied)
                .rule(reason.clone())
                .cid(cid);
            blocking(state, move |st| st.audit(ev)).await?;
            return Err((
                ErrorCode::Denied,
                format!("not approved to read {env}: {reason}"),
            ));
        }
    }
    let cid = cid.to_owned();
    blocking(state, move |st| -> Result<Response, Failure> {
        let mut merged: Vec<(String, SecretValue)> = Vec::new();
        for env in &envs {
            for (name, value) in st
                .vault()
                .map_err(store_err)?
                .read_values(env)
                .map_err(store_err)?
            {
                // Later environments win.
                merged.retain(|(n, _)| *n != name);
                merged.push((name, value));
            }
        }
        if let Some(only) = &only {
            let missing: Vec<&String> = only
                .iter()
                .filter(|n| !merged.iter().any(|(m, _)| m == *n))
                .collect();
            if !missing.is_empty() {
                let list: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
                return Err((
                    ErrorCode::NotFound,
                    format!(
                        "not set in {}: {}; set them with `openv var set`",
                        envs.join(", "),
                        list.join(", ")
                    ),
                ));
            }
            merged.retain(|(n, _)| only.contains(n));
        }
        let names: Vec<String> = merged.iter().map(|(n, _)| n.clone()).collect();
        let ev = event_for(EventKind::Run, &envs.join(","), &who)
            .decision(Decision::Allowed)
            .names(names)
            .cid(cid);
        st.audit(ev);
        Ok(Response::Values { vars: merged })
    })
    .await?
}

async fn ask_person(
    state: &Shared,
    kind: ItemKind,
    env: &str,
    who: &Reader,
    text: String,
) -> Result<Wait, Failure> {
    let (e, r) = (env.to_owned(), who.clone());
    blocking(state, move |st| -> Result<Wait, Failure> {
        if st.approvals.settings.mode == PromptMode::None {
            return Err((
                ErrorCode::Denied,
                "nobody can be asked: prompts are off (prompt = none)".into(),
            ));
        }
        let ai = describe::ai_agent(&r, &st.approvals.settings.ai_agents);
        let (rx, id) = st
            .approvals
            .pending
            .enqueue_other(kind, &e, &r, ai, text.clone())
            .map_err(|_| {
                (
                    ErrorCode::RateLimited,
                    format!("{}: try again in a minute", crate::approvals::RATE_LIMITED),
                )
            })?;
        st.audit(event_for(EventKind::Prompt, &e, &r).detail(format!("request {id}")));
        Ok(Wait {
            env: e.clone(),
            id,
            rx,
            job: Some(PromptJob { id, env: e, text }),
            timeout: st.approvals.settings.timeout,
        })
    })
    .await?
}

async fn confirm(
    state: &Shared,
    peer: Option<i32>,
    action: String,
    env: Option<String>,
    client: Option<String>,
) -> Result<Response, Failure> {
    let peer = peer_reader(peer)?;
    let env = env.unwrap_or_else(|| "-".into());
    let asker = client.unwrap_or_else(|| describe::chain(&peer).join(" <- "));
    let text = format!(
        "{asker} asks to: {action}\n\nProcess: {} (pid {})\nParents: {}\n",
        peer.exe
            .as_ref()
            .map_or("?".into(), |p| p.display().to_string()),
        peer.pid,
        describe::chain(&peer).join(" <- ")
    );
    let wait = ask_person(
        state,
        ItemKind::Action {
            action: action.clone(),
        },
        &env,
        &peer,
        text,
    )
    .await?;
    match wait_for_person(state, wait).await {
        Verdict::Allow { .. } => Ok(Response::Done),
        Verdict::Deny { reason } => Err((
            ErrorCode::Denied,
            format!("not approved: {action}: {reason}"),
        )),
    }
}

async fn ask_values(
    state: &Shared,
    peer: Option<i32>,
    env: String,
    names: Vec<String>,
    timeout_secs: Option<u64>,
) -> Result<Response, Failure> {
    for n in &names {
        crate::names::check_var_name(n).map_err(|e| (ErrorCode::InvalidInput, e.to_string()))?;
    }
    let peer = peer_reader(peer)?;
    let started = crate::store::now();
    {
        let e = env.clone();
        blocking(state, move |st| {
            st.vault().and_then(|v| v.env_id(&e)).map(|_| ())
        })
        .await?
        .map_err(store_err)?;
    }
    let text = format!(
        "{} asks you to set {} in environment \"{env}\".\nType each with `openv var set -e {env} NAME`, or refuse with `openv deny`.\n\nParents: {}\n",
        describe::chain(&peer).first().cloned().unwrap_or_default(),
        names.join(", "),
        describe::chain(&peer).join(" <- ")
    );
    let mut wait = ask_person(
        state,
        ItemKind::Values {
            names: names.clone(),
        },
        &env,
        &peer,
        text,
    )
    .await?;
    if let Some(job) = wait.job.take() {
        super::prompts::spawn(state.clone(), job);
    }
    let timeout = timeout_secs.map_or(wait.timeout, Duration::from_secs);
    let deadline = Instant::now() + timeout;
    let set_now = move |st: &mut super::state::State, env: &str, names: &[String]| -> Vec<String> {
        st.vault()
            .and_then(|v| v.list_vars(env))
            .map(|vars| {
                vars.into_iter()
                    .filter(|v| v.has_value && v.updated >= started && names.contains(&v.name))
                    .map(|v| v.name)
                    .collect()
            })
            .unwrap_or_default()
    };
    loop {
        let (e, n) = (env.clone(), names.clone());
        let done = blocking(state, move |st| set_now(st, &e, &n)).await?;
        let denied = matches!(
            wait.rx.try_recv(),
            Ok(crate::approvals::pending::Outcome::Deny { .. })
        );
        if done.len() == names.len() || denied || Instant::now() >= deadline {
            let id = wait.id;
            blocking(state, move |st| {
                if let Some(item) = st.approvals.pending.take(id) {
                    item.settle(&crate::approvals::pending::Outcome::Deny {
                        reason: "value request closed".into(),
                    });
                }
            })
            .await?;
            if denied && done.is_empty() {
                return Err((
                    ErrorCode::Denied,
                    "the user declined to set the values".into(),
                ));
            }
            return Ok(Response::Names { names: done });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
