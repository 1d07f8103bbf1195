//! The Internet protocol family (sys/netinet).

pub mod ip;
