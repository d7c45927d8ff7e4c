//! `openv config`: the security settings in force, and the human setting one (sealed).

use crate::agent::error::AgentError;
use crate::agent::state::State;
use crate::audit::{Decision, Event, EventKind};
use crate::ipc::protocol::{ErrorCode, Response, SettingInfo};
use crate::security_settings::{self, HumanSettings, KEYS, RECORD_KEY, Source};
use crate::store::mac_keys::Purpose;
use crate::store::sealed_state::Record;

pub fn list(st: &State) -> Response {
    let settings = KEYS
        .iter()
        .map(|k| SettingInfo {
            key: (*k).to_string(),
            value: security_settings::show(&st.config, k),
            source: st
                .config
                .sources
                .get(*k)
                .copied()
                .unwrap_or(Source::Default)
                .as_str()
                .to_string(),
        })
        .collect();
    Response::Settings { settings }
}

/// Human tier (the router checks the proof). Checks the value and its cap first: bad
/// input changes nothing.
pub fn set(st: &mut State, key: String, value: String) -> Result<Response, AgentError> {
    security_settings::set(&mut st.config.clone(), &key, &value).map_err(AgentError::invalid)?;
    let Some(v) = st.unlocked_vault() else {
        return Err(AgentError::new(
            ErrorCode::Locked,
            "the vault is locked: run `openv unlock` first (settings are sealed with the vault key)",
        ));
    };
    // A record that does not verify is replaced: the human's proof is what counts now.
    let mut human = match v.sealed_get(Purpose::Settings, RECORD_KEY)? {
        Record::Valid(json) => serde_json::from_str::<HumanSettings>(&json).unwrap_or_default(),
        Record::Forged | Record::Missing => HumanSettings::new(),
    };
    human.insert(key.clone(), value);
    let json = serde_json::to_string(&human).map_err(|_| AgentError::internal())?;
    v.sealed_put(Purpose::Settings, RECORD_KEY, &json)?;
    st.audit(
        Event::new(EventKind::RuleChange)
            .decision(Decision::Allowed)
            .rule(format!("setting {key}"))
            .detail("set by the human with a proof"),
    );
    st.apply_settings();
    Ok(list(st))
}
