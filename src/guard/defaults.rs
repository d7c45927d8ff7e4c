//! The default lists, relative to `$HOME`: what a guarded agent may never read, what it
//! may never write, and the tool caches it may write. docs/guard.md shows the same lists.

/// Credential stores: neither read nor written inside the guard.
pub const CREDENTIALS: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".aws",
    ".azure",
    ".config/gcloud",
    ".kube",
    ".docker/config.json",
    ".netrc",
    ".git-credentials",
    ".config/gh/hosts.yml",
    ".config/hub",
    ".password-store",
    ".local/share/keyrings",
    ".pypirc",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".cargo/credentials",
    ".cargo/credentials.toml",
];

/// Code the human runs later: shell start-up files, PATH directories in `$HOME`, and
/// configuration that starts programs. Readable, never writable.
pub const HUMAN_CODE: &[&str] = &[
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".bash_aliases",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".config/fish",
    ".local/bin",
    ".cargo/bin",
    ".cargo/env",
    ".cargo/config.toml",
    ".cargo/config",
    "bin",
    ".gitconfig",
    ".config/git",
    ".config/systemd",
    ".config/autostart",
    ".npmrc",
];

/// Tool caches the agent may write (package downloads): not code the human's shell runs.
pub const CACHES: &[&str] = &[
    ".cargo/registry",
    ".cargo/git",
    ".cargo/.package-cache",
    ".cargo/.package-cache-mutate",
    ".cargo/.global-cache",
    ".npm",
    ".cache",
];

/// Writable outside `$HOME`: temporary directories.
pub const TEMP: &[&str] = &["/tmp", "/var/tmp", "/dev/shm"];

/// Device files every program writes (terminals, sinks, randomness).
pub const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/pts",
];

/// `--profile strict`: no caches, and the rest of `$HOME`'s private state unreadable.
pub const STRICT_FORBID: &[&str] = &[
    ".config",
    ".local/share",
    ".mozilla",
    ".bash_history",
    ".zsh_history",
    ".python_history",
    ".node_repl_history",
    ".lesshst",
    ".viminfo",
];
