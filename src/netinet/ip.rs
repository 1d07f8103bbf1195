//! IPv4 (RFC 791): per-vnet state and its knobs.

use crate::vnet::module::{SI_ORDER_ANY, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, VnetKey};

/// Per-vnet IPv4 state (`V_ipforwarding`, `V_ip_defttl`, ...).
#[derive(Debug, Clone)]
pub struct Ip {
    /// `net.inet.ip.forwarding`: act as a router (off by default, RFC 1122).
    pub forwarding: bool,
    /// `net.inet.ip.ttl`: TTL of packets this vnet originates.
    pub defttl: i32,
}

impl Default for Ip {
    fn default() -> Self {
        Ip {
            forwarding: false,
            defttl: 64,
        }
    }
}

/// The IPv4 module's slot.
pub const IP: VnetKey<Ip> = VnetKey::fixed(0);

pub(crate) fn module() -> Module<Ip> {
    Module::new("ip", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_ANY), |_, _| Ip::default())
        .sysctl(
            "net.inet.ip.forwarding",
            "Enable IP forwarding between interfaces",
            |s| &mut s.forwarding,
        )
        .sysctl_range(
            "net.inet.ip.ttl",
            "Maximum TTL on IP packets",
            |s| &mut s.defttl,
            1,
            255,
        )
        .builtin()
}
