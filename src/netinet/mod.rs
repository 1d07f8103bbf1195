//! The Internet protocol family (sys/netinet).

pub mod arp;
pub mod icmp;
pub mod in_;
pub mod in_cksum;
pub mod ip;
pub mod ip_input;
pub mod ip_output;
pub mod ip_reass;
pub mod raw_ip;
pub mod udp;
