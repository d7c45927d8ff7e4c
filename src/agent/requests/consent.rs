//! Requests that may wait for a person: `Resolve` (values for `openv run` / `launch`,
//! decided like a read of a mount by `reads::decide`), `Confirm` (an agent's destructive
//! action) and `AskValues` (an agent asks the human to type values). The state lock is
//! never held while waiting.

use std::path::Path;
use std::time::{Duration, Instant};

use openv_mount::{Ancestor, Reader};

use crate::agent::error::AgentError;
use crate::agent::reads::{decide, wait};
use crate::agent::state::{Shared, State, with_state};
use crate::approvals::pending::ItemKind;
use crate::approvals::{Asked, DenyCause, PromptJob, PromptMode, Ruling, Verdict, describe};
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Response};
use crate::secret::SecretValue;
use crate::store::Backend;

fn peer_reader(peer: Option<i32>) -> Result<Reader, AgentError> {
    let pid = peer.ok_or_else(|| {
        AgentError::new(
            ErrorCode::PeerRefused,
            "cannot tell which process is asking",
        )
    })?;
    openv_mount::identify(pid).map_err(|e| {
        AgentError::new(
            ErrorCode::PeerRefused,
            format!("cannot identify the asking process: {e}"),
        )
    })
}

/// The process a resolve is for: the command `openv run` will exec, as a child of the
/// openv process that asks.
fn subject(peer: &Reader, command: &[String]) -> Result<Reader, AgentError> {
    let Some(prog) = command.first() else {
        return Err(AgentError::invalid("no command to run"));
    };
    if !Path::new(prog).is_absolute() || !Path::new(prog).is_file() {
        return Err(AgentError::invalid(format!(
            "{prog} is not an absolute path to a program"
        )));
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

/// Rules, grants or a person decide whether `reader` may read `env`, exactly as for a
/// mount; a locked vault or an unknown environment is an error here, not a denial.
async fn approve_read(state: &Shared, env: &str, reader: &Reader) -> Result<Verdict, AgentError> {
    let (e, r) = (env.to_owned(), reader.clone());
    let ruling = with_state(state, move |st| {
        let timeout = st.approvals.settings.timeout;
        decide::rule(st, &e, &r, timeout)
    })
    .await??;
    Ok(match ruling {
        Ruling::Decided(v) => v,
        Ruling::Ask(asked) => wait::for_person(state, asked).await,
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

pub async fn resolve(
    state: Shared,
    peer: Option<i32>,
    envs: Vec<String>,
    only: Option<Vec<String>>,
    command: Vec<String>,
    cid: String,
) -> Result<Response, AgentError> {
    if envs.is_empty() {
        return Err(AgentError::invalid("no environment given: use -e ENV"));
    }
    let peer = peer_reader(peer)?;
    crate::agent::peer_check::resolve_peer(&state, &peer, &envs, &cid).await?;
    let who = subject(&peer, &command)?;
    for env in &envs {
        if let Verdict::Deny(denial) = approve_read(&state, env, &who).await? {
            let ev = event_for(EventKind::Run, env, &who)
                .decision(Decision::Denied)
                .rule(denial.reason.clone())
                .cid(cid.clone());
            with_state(&state, move |st| st.audit(ev)).await?;
            return Err(AgentError::denied(format!(
                "not approved to read {env}: {}",
                denial.reason
            )));
        }
    }
    with_state(&state, move |st| {
        values_for(st, &envs, only.as_deref(), &who, cid)
    })
    .await?
}

/// The merged values of `envs` (later environments win), only `only` if given.
fn values_for(
    st: &mut State,
    envs: &[String],
    only: Option<&[String]>,
    who: &Reader,
    cid: String,
) -> Result<Response, AgentError> {
    let mut merged: Vec<(String, SecretValue)> = Vec::new();
    for env in envs {
        for (name, value) in crate::agent::withheld::usable_values(st.vault()?, env)? {
            merged.retain(|(n, _)| *n != name);
            merged.push((name, value));
        }
    }
    if let Some(only) = only {
        let missing: Vec<&str> = only
            .iter()
            .filter(|n| !merged.iter().any(|(m, _)| m == *n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(AgentError::not_found(format!(
                "not set in {}: {}; set them with `openv var set`",
                envs.join(", "),
                missing.join(", ")
            )));
        }
        merged.retain(|(n, _)| only.contains(n));
    }
    let names: Vec<String> = merged.iter().map(|(n, _)| n.clone()).collect();
    let ev = event_for(EventKind::Run, &envs.join(","), who)
        .decision(Decision::Allowed)
        .names(names)
        .cid(cid);
    st.audit(ev);
    Ok(Response::Values { vars: merged })
}

/// Queues a question that is not a read (never coalesced, still rate-limited).
async fn ask_person(
    state: &Shared,
    kind: ItemKind,
    env: &str,
    who: &Reader,
    text: String,
) -> Result<Asked, AgentError> {
    let (e, r) = (env.to_owned(), who.clone());
    with_state(state, move |st| -> Result<Asked, AgentError> {
        if st.approvals.settings.mode == PromptMode::None {
            return Err(AgentError::denied(
                "nobody can be asked: prompts are off (prompt = none)",
            ));
        }
        let ai = st.approvals.agent_mark(&r).map(|m| m.label());
        let (rx, id) = match st
            .approvals
            .pending
            .enqueue_other(kind, &e, &r, ai, text.clone())
        {
            Ok(queued) => queued,
            Err(limited) => {
                let verdict = st.approvals.rate_limited(limited.until);
                return Err(AgentError::new(
                    ErrorCode::RateLimited,
                    format!("{}: try again in a minute", verdict.why()),
                ));
            }
        };
        st.audit(event_for(EventKind::Prompt, &e, &r).detail(format!("request {id}")));
        Ok(Asked {
            env: e.clone(),
            id,
            rx,
            job: Some(PromptJob { id, env: e, text }),
            timeout: st.approvals.settings.timeout,
        })
    })
    .await?
}

pub async fn confirm(
    state: Shared,
    peer: Option<i32>,
    action: String,
    env: Option<String>,
    client: Option<String>,
) -> Result<Response, AgentError> {
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
    let kind = ItemKind::Action {
        action: action.clone(),
    };
    let asked = ask_person(&state, kind, &env, &peer, text).await?;
    match wait::for_person(&state, asked).await {
        Verdict::Allow { .. } => Ok(Response::Done),
        Verdict::Deny(d) => Err(AgentError::denied(format!(
            "not approved: {action}: {}",
            d.reason
        ))),
    }
}

pub async fn ask_values(
    state: Shared,
    peer: Option<i32>,
    env: String,
    names: Vec<String>,
    timeout_secs: Option<u64>,
) -> Result<Response, AgentError> {
    for n in &names {
        crate::names::check_var_name(n).map_err(|e| AgentError::invalid(e.to_string()))?;
    }
    let peer = peer_reader(peer)?;
    let started = crate::store::now();
    {
        let e = env.clone();
        with_state(&state, move |st| {
            st.vault().and_then(|v| v.env_id(&e)).map(|_| ())
        })
        .await??;
    }
    let text = format!(
        "{} asks you to set {} in environment \"{env}\".\nType each with `openv var set -e {env} NAME`, or refuse with `openv deny`.\n\nParents: {}\n",
        describe::chain(&peer).first().cloned().unwrap_or_default(),
        names.join(", "),
        describe::chain(&peer).join(" <- ")
    );
    let kind = ItemKind::Values {
        names: names.clone(),
    };
    let mut asked = ask_person(&state, kind, &env, &peer, text).await?;
    if let Some(job) = asked.job.take() {
        crate::agent::dialogs::spawn(state.clone(), job);
    }
    let timeout = timeout_secs.map_or(asked.timeout, Duration::from_secs);
    let deadline = Instant::now() + timeout;
    let set_now = move |st: &mut State, env: &str, names: &[String]| -> Vec<String> {
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
        let done = with_state(&state, move |st| set_now(st, &e, &n)).await?;
        let denied = matches!(asked.rx.try_recv(), Ok(Verdict::Deny(_)));
        if done.len() == names.len() || denied || Instant::now() >= deadline {
            let id = asked.id;
            with_state(&state, move |st| {
                if let Some(item) = st.approvals.pending.take(id) {
                    item.settle(&Verdict::deny(DenyCause::Person, "value request closed"));
                }
            })
            .await?;
            if denied && done.is_empty() {
                return Err(AgentError::denied("the user declined to set the values"));
            }
            return Ok(Response::Names { names: done });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
