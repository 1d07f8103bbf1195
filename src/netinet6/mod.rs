//! The IPv6 protocols (FreeBSD's `sys/netinet6`): the layer itself, its
//! addresses, neighbour discovery, ICMPv6 and reassembly. They plug into
//! the same tables IPv4 does (netisr, `ip_protox`, the interface hooks),
//! and TCP and UDP run over them unchanged.

pub mod frag6;
pub mod icmp6;
pub mod in6;
pub mod ip6;
pub mod ip6_input;
pub mod ip6_output;
pub mod mld6;
pub mod nd6;
pub mod nd6_dad;
pub mod nd6_redirect;
pub mod nd6_rtr;
