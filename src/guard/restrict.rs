//! Applies a [`Plan`] to this process: one Landlock ruleset with `NoNewPrivs`, then the
//! caller execs. Irrevocable and inherited by every child.

use landlock::{
    Access, AccessFs, BitFlags, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreated,
    RulesetCreatedAttr, RulesetStatus, Scope,
};

use super::abi::{self, FULL};
use super::{GuardError, Plan};

fn ll(e: impl std::fmt::Display) -> GuardError {
    GuardError::Landlock(e.to_string())
}

/// Restricts this thread (and so the program it execs) to `plan`, with what a kernel
/// offering `level` can enforce. Level 0 (no Landlock) still sets `NoNewPrivs`, so openv
/// knows the command as agent-started.
pub fn enforce(plan: &Plan, level: u8) -> Result<(), GuardError> {
    drop_capabilities()?;
    if level == 0 {
        return nix::sys::prctl::set_no_new_privs().map_err(ll);
    }
    let abi = abi::abi(level);
    let all = AccessFs::from_all(abi);
    let mut ruleset = Ruleset::default().handle_access(all).map_err(ll)?;
    if level >= FULL {
        ruleset = ruleset.scope(Scope::from_all(abi)).map_err(ll)?;
    }
    let mut created = ruleset.create().map_err(ll)?;
    for p in &plan.read {
        created = add(created, p, AccessFs::from_read(abi), abi)?;
    }
    for p in &plan.write {
        created = add(created, p, all, abi)?;
    }
    let status = created.restrict_self().map_err(ll)?;
    if status.ruleset == RulesetStatus::NotEnforced || !status.no_new_privs {
        return Err(GuardError::Landlock(
            "the kernel did not enforce the ruleset".into(),
        ));
    }
    Ok(())
}

/// Empties every capability set, the bounding set first (dropping from it needs
/// CAP_SETPCAP, which goes with the rest). Started as root, the command is then uid 0
/// with no privilege beyond owning root's files: CAP_SYS_PTRACE would pass Landlock's
/// ptrace check (`/proc/PID/environ` of processes outside the guard), CAP_KILL the
/// signal scope, and an empty bounding set keeps an exec from getting them back. A user
/// without capabilities loses nothing.
fn drop_capabilities() -> Result<(), GuardError> {
    use caps::CapSet;
    let cap = |e: caps::errors::CapsError| GuardError::Capabilities(e.to_string());
    if caps::has_cap(None, CapSet::Effective, caps::Capability::CAP_SETPCAP).map_err(cap)? {
        for c in caps::read(None, CapSet::Bounding).map_err(cap)? {
            caps::drop(None, CapSet::Bounding, c).map_err(cap)?;
        }
    }
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(cap)?;
    }
    Ok(())
}

fn add(
    r: RulesetCreated,
    p: &std::path::Path,
    access: BitFlags<AccessFs>,
    abi: landlock::ABI,
) -> Result<RulesetCreated, GuardError> {
    // Gone since the plan was made: nothing to grant.
    let Ok(fd) = PathFd::new(p) else {
        return Ok(r);
    };
    let access = if std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
        access
    } else {
        access & AccessFs::from_file(abi)
    };
    r.add_rule(PathBeneath::new(fd, access)).map_err(ll)
}
