//! IPv4 (RFC 791): the header, per-vnet state, statistics and knobs.

use crate::netinet::ip_reass::Reass;
use crate::vnet::module::{SI_ORDER_THIRD, SI_SUB_PROTO_DOMAIN};
use crate::vnet::{Module, Prio, VnetKey};

pub use crate::wire::ipv4::{
    INADDR_ANY, INADDR_BROADCAST, INADDR_LOOPBACK, IP_DF, IP_HDR_LEN, IP_MAXPACKET, IP_MF, IP_OFFMASK, IPPROTO_ICMP,
    IPPROTO_TCP, IPPROTO_UDP, IPVERSION, IpErr, Ipv4Hdr,
};

crate::stats! {
    /// IP statistics (`struct ipstat`), as netstat -s -p ip names them.
    #[derive(Copy)]
    pub struct IpStat {
        total,
        badsum,
        tooshort,
        toosmall,
        badhlen,
        badlen,
        fragments,
        fragdropped,
        fragtimeout,
        forward,
        fastforward,
        cantforward,
        redirectsent,
        noproto,
        delivered,
        localout,
        odropped,
        reassembled,
        fragmented,
        ofragments,
        cantfrag,
        badoptions,
        noroute,
        badvers,
        rawout,
        toolong,
        notmember,
        nogif,
        badaddr,
    }
}

/// Per-vnet IPv4 state (`V_ipforwarding`, `V_ip_defttl`, ...).
#[derive(Debug)]
pub struct Ip {
    /// `net.inet.ip.forwarding`: act as a router (off by default, RFC 1122).
    pub forwarding: bool,
    /// `net.inet.ip.ttl`: TTL of packets this vnet originates.
    pub defttl: i32,
    /// `net.inet.ip.redirect`: send ICMP redirects when forwarding.
    pub redirect: bool,
    /// `net.inet.ip.sourceroute`: forward source-routed packets.
    pub sourceroute: bool,
    /// `net.inet.ip.maxfragpackets`: datagrams awaiting reassembly.
    pub maxfragpackets: i32,
    /// `net.inet.ip.maxfragsperpacket`: fragments per datagram.
    pub maxfragsperpacket: i32,
    /// `net.inet.ip.portrange.first`, `.last`: ephemeral ports.
    pub portrange_first: i32,
    pub portrange_last: i32,
    pub stats: crate::kern::counter::Counters<IpStat>,
    /// The next IP identification (`ip_id`).
    pub id: u16,
    pub reass: Reass,
    /// The vnet's IPv4 addresses, on every interface (`V_in_ifaddrhead`).
    pub ifaddrs: Vec<crate::netinet::in_::InIfaddr>,
}

impl Default for Ip {
    fn default() -> Self {
        Ip {
            forwarding: false,
            defttl: 64,
            redirect: true,
            sourceroute: false,
            maxfragpackets: 1024,
            maxfragsperpacket: 16,
            portrange_first: 10000,
            portrange_last: 65535,
            stats: Default::default(),
            id: 0,
            reass: Reass::default(),
            ifaddrs: Vec::new(),
        }
    }
}

impl Ip {
    /// The next identification.
    pub fn next_id(&mut self) -> u16 {
        self.id = self.id.wrapping_add(1);
        self.id
    }
}

/// The IPv4 module's slot.
pub const IP: VnetKey<Ip> = VnetKey::fixed(3);

pub(crate) fn module() -> Module<Ip> {
    Module::new("ip", Prio::new(SI_SUB_PROTO_DOMAIN, SI_ORDER_THIRD), |_, v| {
        // lo0's address: every vnet's loopback works from the start.
        Ip {
            id: (v.random() & 0xffff) as u16,
            ifaddrs: crate::netinet::in_::in_loopback_init(v)
                .into_iter()
                .collect::<Vec<_>>()
                .into_boxed_slice()
                .into_vec(),
            ..Ip::default()
        }
    })
    .destructor(|k, _, ip| ip.reass.drain(k))
    .netisr(crate::net::ethernet::ETHERTYPE_IP, crate::netinet::ip_input::ip_input)
    .ifdetach(crate::netinet::in_::in_ifdetach)
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
    .sysctl("net.inet.ip.redirect", "Enable sending IP redirects", |s| {
        &mut s.redirect
    })
    .sysctl(
        "net.inet.ip.sourceroute",
        "Enable forwarding source routed IP packets",
        |s| &mut s.sourceroute,
    )
    .sysctl_range(
        "net.inet.ip.maxfragpackets",
        "Maximum number of IPv4 fragment reassembly queue entries",
        |s| &mut s.maxfragpackets,
        0,
        1 << 20,
    )
    .sysctl_range(
        "net.inet.ip.maxfragsperpacket",
        "Maximum number of IPv4 fragments allowed per packet",
        |s| &mut s.maxfragsperpacket,
        0,
        8192,
    )
    .sysctl_range(
        "net.inet.ip.portrange.first",
        "First of the ephemeral port range",
        |s| &mut s.portrange_first,
        1,
        65535,
    )
    .sysctl_range(
        "net.inet.ip.portrange.last",
        "Last of the ephemeral port range",
        |s| &mut s.portrange_last,
        1,
        65535,
    )
    .oid(|k| {
        crate::kern::sysctl::Oid::vnet_stats(k, "net.inet.ip.stats", "IP statistics (struct ipstat)", |s| {
            s.stats.fields()
        })
    })
    .builtin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counter_is_shown() {
        // notmember was counted and never shown, when the list was kept
        // by hand.
        let st = IpStat {
            notmember: 7,
            ..Default::default()
        };
        assert!(st.fields().contains(&("notmember", 7)));
        assert_eq!(st.fields().len(), 29);
    }
}
