//! The Internet protocol family (sys/netinet).

pub mod arp;
pub mod cc;
pub mod icmp;
pub mod in_;
pub mod in_jail;
pub mod in_mcast;
pub mod in_pcb;
pub mod ip;
pub mod ip_input;
pub mod ip_output;
pub mod ip_reass;
pub mod protosw;
pub mod raw_ip;
pub mod tcp_hostcache;
pub mod tcp_input;
pub mod tcp_output;
pub mod tcp_subr;
pub mod tcp_syncache;
pub mod tcp_timer;
pub mod tcp_usrreq;
pub mod tcp_var;
pub mod udp;
