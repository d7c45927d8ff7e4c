//! Messages between thin clients (CLI, MCP server) and the agent.
//!
//! Two serde enums, one request and one response per exchange. Values travel only where
//! they must: into the agent (`Init`/`Unlock` passphrases, `VarSet`, `VarSetMany`) and out
//! of it only as `Response::Values`, the answer to an approved `Resolve` (`openv run`,
//! `openv launch`). The MCP server never sends `Resolve`, so no value reaches it.
//!
//! One job: the wire vocabulary. It is long because every request kind and its answer
//! live here, side by side, so the protocol can be read (and versioned) in one place.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use super::status_info::{SettingInfo, StatusInfo};
use crate::approvals::ClientContext;
use crate::approvals::grants::Scope;
use crate::approvals::pending::PendingView;
use crate::mount_table::MountInfo;
pub use crate::secret::Charset;
use crate::secret::SecretValue;
use crate::store::policy_seal::AgentPolicy;
use crate::store::rules::{Effect, Rule};
use crate::store::{EnvInfo, ValueSource, VarInfo};

/// Bumped on every incompatible change; exchanged in `Hello` at connect.
pub const PROTOCOL_VERSION: u32 = 2;

/// How a vault is created or unlocked. Key files are read by the agent from the path,
/// so key material never crosses the socket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireSecret {
    Passphrase { passphrase: SecretValue },
    Keyfile { path: PathBuf },
}

/// A proof of the human, for a request that widens access: the vault passphrase typed by
/// the human, or the bytes of the vault's key file (whoever can read it is the owner).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    Passphrase {
        passphrase: SecretValue,
    },
    /// The key file's 32 bytes, hex.
    KeyFile {
        key_hex: SecretValue,
    },
}

/// Externally tagged: serde then streams the payload instead of buffering it, which
/// matters for `var list` of 10,000 names.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    Hello {
        protocol: u32,
        version: String,
        /// The client's terminal and display, so prompts appear where the user is.
        #[serde(default)]
        context: ClientContext,
        /// Sent by `openv mcp`: the agent records the server's parent (the MCP client, an
        /// AI agent) so that what it starts counts as agent-started. It can only narrow.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        mcp: bool,
    },
    Status,
    /// A proof of the human for the next request on this connection only, or, with
    /// `keep`, for every request while the connection lives (`openv pending --watch`).
    /// The terminal and display this client greeted with become trusted for prompts.
    Prove {
        proof: Proof,
        #[serde(default)]
        keep: bool,
    },
    /// `create_keyfile`: make a new 32-byte key file at the path first.
    Init {
        secret: WireSecret,
        create_keyfile: bool,
    },
    Unlock {
        secret: WireSecret,
    },
    Lock,
    EnvList,
    EnvCreate {
        name: String,
    },
    EnvRename {
        name: String,
        new_name: String,
    },
    EnvDelete {
        name: String,
    },
    VarList {
        env: String,
    },
    VarDeclare {
        env: String,
        names: Vec<String>,
    },
    VarSet {
        env: String,
        name: String,
        value: SecretValue,
    },
    VarRemove {
        env: String,
        names: Vec<String>,
    },
    /// The agent reads the file itself, so values never pass through the client.
    Import {
        env: String,
        path: PathBuf,
    },
    /// Decrypts every value to prove the vault is intact; answers with counts only.
    Verify,
    /// A consistent copy of the vault file at `path` (absolute, new): sealed as the
    /// vault is, so it opens only with the vault's key slots.
    Backup {
        path: PathBuf,
    },
    /// Replace the vault with the copy at `path`. Human tier: `secret` must open the
    /// copy (see `agent::health::restore`).
    Restore {
        path: PathBuf,
        secret: WireSecret,
    },
    /// Serve `env` as a virtual file at `path` (absolute). `mode`: auto, fuse or fifo.
    /// `import`: move an existing plaintext file's variables into `env` first.
    Mount {
        path: PathBuf,
        env: String,
        mode: String,
        import: bool,
    },
    Unmount {
        path: PathBuf,
    },
    Mounts,
    /// Add a persistent rule: `exe` (absolute, resolved) may (or never may) read `env`.
    PolicyAdd {
        env: String,
        effect: Effect,
        exe: String,
        cwd: Option<String>,
        for_secs: Option<u64>,
        /// Allow an executable a built-in rule denies (git). Human tier: the field a proof
        /// of the human will be bound to.
        #[serde(default)]
        lift_builtin: bool,
        /// The rule also covers readers an AI agent started. Human tier for an allow rule
        /// (as every allow rule is).
        #[serde(default)]
        agents: bool,
    },
    PolicyList,
    PolicyRemove {
        id: i64,
    },
    /// The human accepts the rules as they are now after the policy failed its check
    /// (`openv policy confirm`): human tier.
    PolicyConfirm,
    /// An environment's agent policy: `deny` narrows (agent tier), `ask` widens (human).
    PolicyAgents {
        env: String,
        policy: AgentPolicy,
    },
    /// Requests waiting for a person.
    Pending,
    /// Answer a pending request from the queue.
    Answer {
        id: u64,
        allow: bool,
        scope: Option<Scope>,
        for_secs: Option<u64>,
        cwd: Option<String>,
    },
    /// Set several values at once, all or nothing (MCP `append_variables` with values:
    /// `source` = agent).
    VarSetMany {
        env: String,
        vars: Vec<(String, SecretValue)>,
        source: ValueSource,
    },
    /// Fill names with random values made inside the agent; nobody sees them.
    VarGenerate {
        env: String,
        names: Vec<String>,
        length: u32,
        charset: Charset,
    },
    /// Ask the human for these values (pinentry hidden input, or a pending request that
    /// `openv var set` satisfies). Answers with the names that are set when it returns.
    AskValues {
        env: String,
        names: Vec<String>,
        timeout_secs: Option<u64>,
    },
    /// Ask the human to approve an action (e.g. "delete environment dev") requested by
    /// the connecting process. `Done` when approved, `Denied` error otherwise.
    Confirm {
        action: String,
        env: Option<String>,
        client: Option<String>,
    },
    /// Set a security setting (`openv config set`): sealed in the vault, human tier.
    ConfigSet {
        key: String,
        value: String,
    },
    /// The security settings in force and where each came from.
    ConfigList,
    /// Check the audit log with the key: the chain, every seal, the vault's last seal.
    /// Needs the vault unlocked.
    AuditVerify,
    /// Accept what `AuditVerify` reports and start a new log (`openv audit accept`): the
    /// old files are set aside untouched. Human tier.
    AuditAccept,
    /// `openv guard` with a profile that loosens the defaults (each item as shown to the
    /// human): recorded in the audit log. Human tier.
    GuardLoosen {
        loosens: Vec<String>,
    },
    /// An MCP tool call to record in the audit log.
    McpAudit {
        tool: String,
        env: Option<String>,
        names: Vec<String>,
        client: Option<String>,
        allowed: bool,
        detail: Option<String>,
    },
    /// The values of `envs` (merged in order, later wins), optionally only `only`, for
    /// the connecting process to exec `command`. Approved exactly like a read of a mount,
    /// with `command` as the subject. The only request answered with values.
    Resolve {
        envs: Vec<String>,
        only: Option<Vec<String>>,
        command: Vec<String>,
        /// `openv run --no-masking`: the output will show values, so the human must ask.
        #[serde(default)]
        unmasked: bool,
    },
    /// Record a team server and its credentials (sealed in the vault). Human tier when
    /// the tiers land (part 1 of the human boundary): it decides where values come from.
    RemoteAdd {
        name: String,
        url: String,
        kv_mount: String,
        prefix: String,
        auth: WireAuth,
        ca_pem: Option<String>,
    },
    RemoteList,
    /// Checks the login now and reports the cache of each linked environment.
    RemoteStatus {
        name: Option<String>,
    },
    RemoteRemove {
        name: String,
    },
    /// A new environment stored on `remote` (created there, check-and-set create-only).
    EnvCreateShared {
        name: String,
        remote: String,
    },
    /// An environment that exists on `remote`: linked and fetched.
    EnvLink {
        name: String,
        remote: String,
    },
    /// Stop syncing; the cached values stay as a local environment.
    EnvUnlink {
        name: String,
    },
    /// Refresh one shared environment (or all) now.
    Sync {
        env: Option<String>,
    },
}

/// How a remote logs in. Files are read by the agent, so a token or secret id never
/// crosses the socket; a userpass password does (typed at the CLI's hidden prompt).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WireAuth {
    TokenFile {
        path: PathBuf,
    },
    AppRole {
        role_id: String,
        secret_id_file: PathBuf,
    },
    Userpass {
        user: String,
        password: SecretValue,
    },
}

impl Request {
    /// A short name for logs and the correlation span.
    pub fn op(&self) -> &'static str {
        match self {
            Self::Hello { .. } => "hello",
            Self::Status => "status",
            Self::Prove { .. } => "prove",
            Self::Init { .. } => "init",
            Self::Unlock { .. } => "unlock",
            Self::Lock => "lock",
            Self::EnvList => "env_list",
            Self::EnvCreate { .. } => "env_create",
            Self::EnvRename { .. } => "env_rename",
            Self::EnvDelete { .. } => "env_delete",
            Self::VarList { .. } => "var_list",
            Self::VarDeclare { .. } => "var_declare",
            Self::VarSet { .. } => "var_set",
            Self::VarRemove { .. } => "var_remove",
            Self::Import { .. } => "import",
            Self::Verify => "verify",
            Self::Backup { .. } => "backup",
            Self::Restore { .. } => "restore",
            Self::Mount { .. } => "mount",
            Self::Unmount { .. } => "unmount",
            Self::Mounts => "mounts",
            Self::PolicyAdd { .. } => "policy_add",
            Self::PolicyList => "policy_list",
            Self::PolicyRemove { .. } => "policy_remove",
            Self::PolicyConfirm => "policy_confirm",
            Self::PolicyAgents { .. } => "policy_agents",
            Self::Pending => "pending",
            Self::Answer { .. } => "answer",
            Self::VarSetMany { .. } => "var_set_many",
            Self::VarGenerate { .. } => "var_generate",
            Self::AskValues { .. } => "ask_values",
            Self::Confirm { .. } => "confirm",
            Self::AuditVerify => "audit_verify",
            Self::AuditAccept => "audit_accept",
            Self::GuardLoosen { .. } => "guard_loosen",
            Self::ConfigSet { .. } => "config_set",
            Self::ConfigList => "config_list",
            Self::McpAudit { .. } => "mcp_audit",
            Self::Resolve { .. } => "resolve",
            Self::RemoteAdd { .. } => "remote_add",
            Self::RemoteList => "remote_list",
            Self::RemoteStatus { .. } => "remote_status",
            Self::RemoteRemove { .. } => "remote_remove",
            Self::EnvCreateShared { .. } => "env_create_shared",
            Self::EnvLink { .. } => "env_link",
            Self::EnvUnlink { .. } => "env_unlink",
            Self::Sync { .. } => "sync",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    VersionMismatch,
    PeerRefused,
    NoVault,
    VaultExists,
    Locked,
    WrongSecret,
    NotFound,
    Exists,
    InvalidInput,
    Tampered,
    /// The vault file or its journal was damaged, removed or replaced: writes refused.
    Damaged,
    Mount,
    /// A person (or a rule) said no, or nobody answered in time.
    Denied,
    /// Too many requests from this client.
    RateLimited,
    /// The request widens access: it needs a proof of the human (`Prove` first).
    NeedsHuman,
    /// A shared environment's server refused, failed, or its cache may not be served.
    Remote,
    Internal,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Hello {
        protocol: u32,
        version: String,
        pid: u32,
    },
    Done,
    Status(Box<StatusInfo>),
    /// Answer to `ConfigList` and `ConfigSet`.
    Settings {
        settings: Vec<SettingInfo>,
    },
    /// Answer to `AuditVerify`.
    AuditVerified(Box<crate::audit::SealedReport>),
    /// Answer to `AuditAccept`: what was accepted and where the old files went.
    AuditAccepted {
        problems: Vec<String>,
        set_aside: String,
    },
    Environments {
        environments: Vec<EnvInfo>,
    },
    Variables {
        environment: String,
        variables: Vec<VarInfo>,
        /// Whether each `unreadable_by` was filled: only while the vault is unlocked.
        #[serde(default)]
        readers_checked: bool,
    },
    /// Names declared, imported or removed.
    Names {
        names: Vec<String>,
    },
    /// Answer to `Import`: the names stored, and what the user should know about the
    /// file (a name set twice: which line was kept).
    Imported {
        names: Vec<String>,
        warnings: Vec<String>,
    },
    Deleted {
        variables: u64,
    },
    Verified {
        environments: u64,
        values: u64,
    },
    Mounted {
        path: String,
        mode: String,
        /// Things the user should know: fallbacks taken, .gitignore changed, file imported.
        notes: Vec<String>,
        imported: Vec<String>,
    },
    Mounts {
        mounts: Vec<MountInfo>,
    },
    Rules {
        rules: Vec<Rule>,
        /// What the check against the seal found, with what to do; `None` = intact.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        problem: Option<String>,
        /// Environments whose agent policy is `deny` (every other one is `ask`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        agents_denied: Vec<String>,
    },
    /// `policy_confirm`: what was found before the human confirmed.
    PolicyConfirmed {
        found: Vec<String>,
    },
    RuleAdded {
        id: i64,
    },
    Pending {
        requests: Vec<PendingView>,
    },
    Remotes {
        remotes: Vec<crate::remote::registry::RemoteView>,
    },
    Synced {
        results: Vec<(String, crate::remote::sync::Outcome)>,
    },
    /// Answer to `Resolve` only: the approved values, in merge order.
    Values {
        vars: Vec<(String, SecretValue)>,
    },
    Error {
        code: ErrorCode,
        message: String,
        cid: String,
    },
}
