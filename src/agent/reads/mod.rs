//! The path of one read of a mounted `.env`, start to end:
//!
//! 1. The mount's serving thread hands the open to [`fast_path::FastPath::on_open`]. A
//!    read that a rule or grant already covers, of an environment whose rendering is
//!    cached, is answered there at once ([`decide::try_covered`]).
//! 2. Every other open goes to [`serve::serve`], which decides it on the blocking pool:
//!    a locked vault may first be unlocked from a passphrase prompt ([`unlock`]), then
//!    [`decide::begin`] asks the approvals ([`decide::rule`]: rules, grants, or a person).
//! 3. A read that needs a person waits in [`wait::for_person`] without the state lock,
//!    bounded by the prompt timeout.
//! 4. [`decide::finish`] serves the bytes or denies, and writes the audit record
//!    ([`record`]).
//!
//! `openv run`'s values (`requests::consent::resolve`) are approved by the same
//! [`decide::rule`] and [`wait::for_person`].

pub mod decide;
pub mod fast_path;
mod record;
pub mod serve;
pub mod unlock;
pub mod wait;
