//! Asking the human. `pinentry` drives the GnuPG dialog programs (desktop or terminal);
//! the headless queue (`openv pending / approve / deny`) is the other prompter.
//!
//! The caller builds the text; this module only shows it and reports the choice. Anything
//! but [`Answer::Allow`] / [`Answer::AllowAlt`] (including every `Err`) is a denial.

pub mod pinentry;
pub mod system_program;

use std::path::PathBuf;
use std::time::Duration;

/// Where a prompt is shown. The agent is a daemon with neither a terminal nor a display of
/// its own, so the surface always comes from the user's side (their last openv command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Surface {
    /// A graphical session: X11 `DISPLAY` and/or `WAYLAND_DISPLAY`. With neither, no
    /// desktop dialog can be shown.
    Desktop {
        display: Option<String>,
        wayland: Option<String>,
    },
    /// A terminal device such as `/dev/pts/3`.
    Terminal { tty: PathBuf },
}

/// One "may this process read environment X?" question.
#[derive(Debug, Clone)]
pub struct Question {
    /// Shown as the first line of the description (terminals have no title bar).
    pub title: String,
    /// Multi-line, shown as-is (control characters are neutralised, very long text is cut
    /// at about 950 bytes).
    pub description: String,
    /// Labels may mark their keyboard accelerator with `_` ("_Allow"); labels without one
    /// get a distinct one assigned.
    pub allow_label: String,
    pub deny_label: String,
    /// A third button, e.g. "Allow for this process". Choosing it asks once more (see
    /// [`pinentry::confirm`]).
    pub alt_label: Option<String>,
    /// Whole budget for the question; an unanswered prompt is a denial.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Allow,
    AllowAlt,
    Deny,
}

/// The prompt could not be shown or talked to. Callers treat it as a denial and may fall
/// back to the headless queue.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    #[error("pinentry {program} failed: {message}")]
    Pinentry { program: PathBuf, message: String },
    #[error("terminal path {0} is not valid UTF-8")]
    TtyPath(PathBuf),
    #[error("could not start the prompt thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("the prompt thread ended without an answer")]
    Worker,
}
