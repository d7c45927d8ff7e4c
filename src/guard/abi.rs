//! Which Landlock protections the running kernel offers, and which the guard would lack.

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetError, Scope,
};

/// The ABI that has every protection the guard uses (ABI 7 adds only audit logging).
pub const FULL: u8 = 6;

/// The best ABI, up to [`FULL`], the kernel offers: probed by creating (never enforcing)
/// a ruleset that must be met in full. 0: no Landlock.
pub fn probe() -> u8 {
    const ABIS: [(u8, ABI); 6] = [
        (6, ABI::V6),
        (5, ABI::V5),
        (4, ABI::V4),
        (3, ABI::V3),
        (2, ABI::V2),
        (1, ABI::V1),
    ];
    ABIS.iter()
        .find(|(_, abi)| supported(*abi).is_ok())
        .map_or(0, |(n, _)| *n)
}

fn supported(abi: ABI) -> Result<(), RulesetError> {
    let mut r = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))?;
    if abi >= ABI::V6 {
        r = r.scope(Scope::from_all(abi))?;
    }
    r.create().map(drop)
}

/// The landlock crate's ABI for a probed level.
pub fn abi(level: u8) -> ABI {
    ABI::from(i32::from(level.min(FULL)))
}

/// The protections a kernel offering `level` lacks, in words a user can weigh. Empty at
/// [`FULL`] and above.
pub fn missing(level: u8) -> Vec<&'static str> {
    let table: [(u8, &'static str); 6] = [
        (
            1,
            "file restrictions (OPENV_HOME, key files and credential stores stay readable; shell start-up files and PATH directories stay writable)",
        ),
        (
            1,
            "ptrace scoping (/proc/PID/environ and /proc/PID/mem of your other processes stay readable)",
        ),
        (
            3,
            "truncation control (files the guard makes read-only can still be truncated)",
        ),
        (
            5,
            "device ioctl control (ioctl on device files opened inside the guard)",
        ),
        (
            6,
            "signal scoping (the openv agent and your other processes can be stopped or killed)",
        ),
        (
            6,
            "abstract unix socket scoping (sockets of processes outside the guard can be reached)",
        ),
    ];
    table
        .iter()
        .filter(|(needs, _)| level < *needs)
        .map(|(_, what)| *what)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_abi_lacks_nothing() {
        assert!(missing(6).is_empty());
        assert!(missing(7).is_empty());
    }

    #[test]
    fn each_older_abi_names_what_it_lacks() {
        let no_landlock = missing(0);
        assert_eq!(no_landlock.len(), 6);
        assert!(no_landlock[0].starts_with("file restrictions"));
        assert!(no_landlock[1].starts_with("ptrace scoping"));
        let v1 = missing(1);
        assert_eq!(v1.len(), 4);
        assert!(v1[0].starts_with("truncation"));
        let v3 = missing(3);
        assert_eq!(v3.len(), 3);
        assert!(v3[0].starts_with("device ioctl"));
        let v5 = missing(5);
        assert_eq!(v5.len(), 2);
        assert!(v5[0].starts_with("signal scoping"));
        assert!(v5[1].starts_with("abstract unix socket"));
    }

    #[test]
    fn this_kernel_offers_every_protection() {
        // The test machines run ABI 7: a lower answer is a probe bug, not a skip.
        assert_eq!(probe(), FULL);
    }
}
