//! `vimage packetdrill` (issue 13, docs/PACKETDRILL.md): scripts in the
//! packetdrill language run against a fresh vnet in virtual time. What
//! has landed is the reader: `parse` makes a [`script::Script`] of a
//! script as FreeBSD's tcp-testsuite writes them; the runner is next.

pub mod parse;
pub mod script;
